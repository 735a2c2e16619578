//! The forwarder under test in the PIC namespace: mspicd with the example configuration,
//! or the Linux kernel configured to do the same job (forwarding + source NAT with
//! conntrack, nftables).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use mspic_tests::testbed::{Role, Spawned, Testbed, SERVER_ADDR};

use crate::util::{display, on_path};

/// Which forwarder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forwarder {
    Mspic,
    Linux,
}

impl Forwarder {
    pub fn name(self) -> &'static str {
        match self {
            Forwarder::Mspic => "mspic",
            Forwarder::Linux => "linux",
        }
    }
}

/// The nftables ruleset of the Linux baseline: source NAT of the client network to the
/// addresses of the mspic pool (203.0.113.128/25) out of `pout`, which puts conntrack on
/// the path of every packet.
pub const LINUX_NFT: &str = "table ip mspic_bench {
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname \"pout\" ip saddr 10.0.0.0/24 snat to 203.0.113.128-203.0.113.255
    }
}
";

/// The network of the remote server (198.51.100.7), routed via the server (the static
/// route of docs/examples/testbed.conf).
pub const REMOTE_NET: &str = "198.51.100.0/24";

/// A running forwarder; mspicd is ended (by PID) when this is dropped.
pub struct Pic {
    daemon: Option<Spawned>,
    mspic: PathBuf,
    socket: PathBuf,
    log: PathBuf,
}

fn run_ok(mut cmd: Command) -> Result<String> {
    let line = display(&cmd);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run `{line}`"))?;
    if !out.status.success() {
        bail!(
            "`{line}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The MAC address of `dev` in the namespace of `role`.
pub fn mac(tb: &Testbed, role: Role, dev: &str) -> Result<[u8; 6]> {
    let mut c = Command::new("ip");
    c.args(["-n", &tb.ns(role), "-o", "link", "show", "dev", dev]);
    let out = run_ok(c)?;
    out.split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .and_then(super::traffic::parse_mac)
        .with_context(|| format!("no MAC address for {dev} in `{}`", out.trim()))
}

impl Pic {
    /// Starts `forwarder` in the PIC namespace of `tb` (`bin` holds the release `mspicd`
    /// and `mspic`, `work` takes the control socket and the log).
    pub fn start(
        forwarder: Forwarder,
        tb: &Testbed,
        root: &Path,
        bin: &Path,
        work: &Path,
    ) -> Result<Pic> {
        let mut pic = Pic {
            daemon: None,
            mspic: bin.join("mspic"),
            socket: work.join("mspicd.sock"),
            log: work.join("mspicd.log"),
        };
        match forwarder {
            Forwarder::Mspic => pic.start_mspicd(tb, root, bin)?,
            Forwarder::Linux => linux(tb, work)?,
        }
        Ok(pic)
    }

    fn start_mspicd(&mut self, tb: &Testbed, root: &Path, bin: &Path) -> Result<()> {
        let mspicd = bin.join("mspicd");
        let mut cmd = tb.exec(Role::Pic, &mspicd.to_string_lossy());
        cmd.arg("--config")
            .arg(root.join("docs/examples/testbed.conf"))
            .arg("--socket")
            .arg(&self.socket)
            .arg("--queues")
            .arg(tb.queues.to_string())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&self.log)?);
        self.daemon = Some(Spawned::new("mspicd", cmd)?);
        let start = Instant::now();
        loop {
            let ok = self
                .mspic(&["ping"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return Ok(());
            }
            if let Some(d) = self.daemon.as_mut() {
                if let Ok(Some(status)) = d.child.try_wait() {
                    bail!("mspicd exited ({status}):\n{}", self.log_text());
                }
            }
            if start.elapsed() > Duration::from_secs(20) {
                bail!("mspicd did not answer in 20 s:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn mspic(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.mspic);
        c.arg("--socket").arg(&self.socket).args(args);
        c.stdin(Stdio::null());
        c
    }

    /// The end of mspicd's log (empty for Linux).
    pub fn log_text(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// mspicd's frame counters from `mspic ping` (`received`, `sent`, `forwarded`,
    /// `dropped`, …); `None` for Linux or when it does not answer.
    pub fn frames(&self) -> Option<Frames> {
        self.daemon.as_ref()?;
        let out = self.mspic(&["ping"]).output().ok()?;
        if !out.status.success() {
            return None;
        }
        parse_frames(&String::from_utf8_lossy(&out.stdout))
    }
}

/// mspicd's frame counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Frames {
    pub received: u64,
    pub forwarded: u64,
    pub dropped: u64,
    /// Frames the XDP program saw (the `balance: N frames seen = …` line).
    pub seen: u64,
    /// Of those, dropped by the kernel before a worker took them (no frame lent, rx ring
    /// full).
    pub kernel: u64,
    /// Of those, the PIC's own: replies, to its addresses, ARP, IPv6 kept, passed to the
    /// kernel.
    pub own: u64,
    /// The balance's difference (0 when every frame seen is accounted for).
    pub difference: i64,
}

impl std::ops::Sub for Frames {
    type Output = Frames;
    fn sub(self, o: Frames) -> Frames {
        Frames {
            received: self.received.saturating_sub(o.received),
            forwarded: self.forwarded.saturating_sub(o.forwarded),
            dropped: self.dropped.saturating_sub(o.dropped),
            seen: self.seen.saturating_sub(o.seen),
            kernel: self.kernel.saturating_sub(o.kernel),
            own: self.own.saturating_sub(o.own),
            difference: self.difference - o.difference,
        }
    }
}

/// Reads the line `frames: N received, N sent, N forwarded, N replies, N dropped, …` of
/// `mspic ping`.
fn parse_frames(text: &str) -> Option<Frames> {
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("frames:"))?;
    let mut f = Frames::default();
    for part in line.split(',') {
        let (n, what) = part.trim().split_once(' ')?;
        let n: u64 = n.parse().ok()?;
        match what {
            "received" => f.received = n,
            "forwarded" => f.forwarded = n,
            w if w.starts_with("dropped") => f.dropped = n,
            _ => {}
        }
    }
    // `balance: N frames seen = … + N dropped by the kernel before a worker + …`
    if let Some(b) = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("balance:"))
        .filter(|b| b.contains(" frames seen = "))
    {
        let number_before = |label: &str| -> Option<u64> {
            let at = b.find(label)?;
            b[..at].split_whitespace().last()?.parse().ok()
        };
        f.seen = number_before(" frames seen").unwrap_or(0);
        f.kernel = number_before(" dropped by the kernel before a worker").unwrap_or(0);
        f.own = [
            " replies",
            " to the PIC's addresses",
            " ARP",
            " IPv6 kept",
            " passed to the kernel",
        ]
        .iter()
        .filter_map(|l| number_before(l))
        .sum();
        f.difference = b
            .rsplit_once("difference ")
            .and_then(|(_, n)| n.trim().parse().ok())
            .unwrap_or(0);
    }
    Some(f)
}

/// The kernel as the PIC: addresses on pin/pout, forwarding, the static route to the
/// remote server network, and source NAT (nftables, conntrack).
fn linux(tb: &Testbed, work: &Path) -> Result<()> {
    if !on_path("nft") {
        bail!("the Linux baseline needs nftables (`nft`): run `cargo xtask deps`");
    }
    let ns = tb.ns(Role::Pic);
    let ip = |args: &[&str]| {
        let mut c = Command::new("ip");
        c.args(["-n", &ns]).args(args);
        run_ok(c)
    };
    ip(&["addr", "add", "10.0.0.1/24", "dev", "pin"])?;
    ip(&["addr", "add", "203.0.113.1/24", "dev", "pout"])?;
    ip(&["route", "add", REMOTE_NET, "via", SERVER_ADDR])?;
    let mut c = tb.exec(Role::Pic, "sysctl");
    c.args(["-qw", "net.ipv4.ip_forward=1"]);
    run_ok(c)?;
    let rules = work.join("linux-nat.nft");
    fs::write(&rules, LINUX_NFT)?;
    let mut c = tb.exec(Role::Pic, "nft");
    c.arg("-f").arg(&rules);
    run_ok(c)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_frame_counters_parse() {
        let text = "mspicd 0.1.0, control protocol 1\n\
            frames: 1200 received, 1100 sent, 1000 forwarded, 3 replies, 197 dropped (190 by the engine, 7 at handoff, 0 waiting for a next hop), 0 handed to another worker\n\
            sessions: 64\n\
            balance: 1502 frames seen = 1000 forwarded + 3 replies + 0 to the PIC's addresses + 2 ARP + 0 IPv6 kept + 0 passed to the kernel + 300 dropped by the kernel before a worker + 7 dropped at handoff + 190 dropped by the engine; difference -1\n";
        assert_eq!(
            parse_frames(text),
            Some(Frames {
                received: 1200,
                forwarded: 1000,
                dropped: 197,
                seen: 1502,
                kernel: 300,
                own: 5,
                difference: -1,
            })
        );
        assert_eq!(parse_frames("sessions: 1\n"), None);
    }
}
