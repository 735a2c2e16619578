//! The network-namespace testbed:
//!
//! ```text
//!  ns <p>-cl                    ns <p>-pic                  ns <p>-sv
//!  cl0 10.0.0.2/24      ══veth══ pin  [mspicd]  pout ══veth══ sv0 203.0.113.2/24
//!      2001:db8:10::2/64         ge-0/0/0      ge-0/0/1           2001:db8:ff::2/64
//!  gw 10.0.0.1, 2001:db8:10::1                           gw 203.0.113.1, 2001:db8:ff::1
//!                                                        lo 198.51.100.7/32 (remote servers)
//! ```
//!
//! Every address lives inside the namespaces made here; nothing is sent outside them.
//! `pin`/`pout` carry no kernel addresses (IPv6 is off in the PIC namespace): mspicd owns
//! their L2/L3, neighbor discovery included. The hosts' IPv6 addresses skip duplicate
//! address detection (`nodad`, `accept_dad=0`), so they are usable at once; their router
//! solicitations and MLD reports reach mspicd, which keeps them to itself. The host ends get
//! `ethtool -K … tx off`, because veth hands AF_XDP frames with partial checksums otherwise.
//!
//! A [`Testbed`] removes its namespaces when dropped (also on panic), unless it was made
//! with `keep` (what `cargo xtask testbed up` does; `… down` removes it).

use std::io;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The three hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Client,
    Pic,
    Server,
}

impl Role {
    fn suffix(self) -> &'static str {
        match self {
            Role::Client => "cl",
            Role::Pic => "pic",
            Role::Server => "sv",
        }
    }
}

/// Addresses of the testbed.
pub const CLIENT_ADDR: &str = "10.0.0.2";
pub const CLIENT_GW: &str = "10.0.0.1";
pub const SERVER_ADDR: &str = "203.0.113.2";
pub const SERVER_GW: &str = "203.0.113.1";
/// A "remote" server address, behind the static route 198.51.100.0/24 → 203.0.113.2.
pub const REMOTE_SERVER: &str = "198.51.100.7";
/// IPv6 addresses of the testbed (the PIC's are in docs/examples/testbed-dual-stack.conf).
pub const CLIENT_ADDR6: &str = "2001:db8:10::2";
pub const CLIENT_GW6: &str = "2001:db8:10::1";
pub const SERVER_ADDR6: &str = "2001:db8:ff::2";
pub const SERVER_GW6: &str = "2001:db8:ff::1";

pub struct Testbed {
    prefix: String,
    pub queues: u32,
    keep: bool,
}

fn run(cmd: &mut Command) -> io::Result<Output> {
    let out = cmd.stdin(Stdio::null()).output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{:?} failed: {}",
            cmd,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out)
}

fn ip(args: &[&str]) -> io::Result<Output> {
    run(Command::new("ip").args(args))
}

/// A name prefix unique to this process and call (`mspic<pid>x<n>`), for tests and demos.
pub fn unique_prefix() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "mspic{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Is this a CI run (`CI=true`)? There a test whose prerequisites are missing fails.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// What a test does when this machine cannot run it: under `CI=true` it fails with the
/// reason; elsewhere it prints `SKIPPED: reason` and the caller returns.
#[track_caller]
pub fn skip_or_fail(why: &str) {
    if in_ci() {
        panic!("prerequisite missing under CI=true (tests may not skip there): {why}");
    }
    eprintln!("SKIPPED: {why}");
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes; returns whether it held.
/// For waiting on an observable event (a counter, a log line, a table entry).
pub fn wait_for(timeout: std::time::Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Why a testbed cannot be made here, if the kernel or tools lack something essential
/// (`None`: go ahead). Tests skip with this message, and only then.
pub fn unavailable() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not root: the testbed needs CAP_NET_ADMIN and CAP_SYS_ADMIN".into());
    }
    if Command::new("ip").arg("-V").output().is_err() {
        return Some("iproute2 (`ip`) is not installed; run `cargo xtask deps`".into());
    }
    let probe = format!("{}probe", unique_prefix());
    if let Err(e) = ip(&["netns", "add", &probe]) {
        return Some(format!("network namespaces are not available: {e}"));
    }
    let _ = ip(&["netns", "del", &probe]);
    None
}

impl Testbed {
    /// Builds the topology with namespaces `<prefix>-cl`, `<prefix>-pic`, `<prefix>-sv`.
    /// Fails (after removing what it made) if any step fails.
    pub fn up(prefix: &str, queues: u32, keep: bool) -> io::Result<Testbed> {
        let mut tb = Testbed {
            prefix: prefix.to_string(),
            queues: queues.max(1),
            keep: false,
        };
        // On failure `tb` is dropped here and removes what was made.
        tb.build()?;
        tb.keep = keep;
        Ok(tb)
    }

    /// A testbed with a unique name that is removed on drop.
    pub fn unique(queues: u32) -> io::Result<Testbed> {
        Self::up(&unique_prefix(), queues, false)
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn ns(&self, role: Role) -> String {
        format!("{}-{}", self.prefix, role.suffix())
    }

    /// `ip netns exec <ns> <program> <args>`.
    pub fn exec(&self, role: Role, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(role), program]);
        c
    }

    fn build(&self) -> io::Result<()> {
        let (cl, pic, sv) = (
            self.ns(Role::Client),
            self.ns(Role::Pic),
            self.ns(Role::Server),
        );
        for ns in [&cl, &pic, &sv] {
            ip(&["netns", "add", ns])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            // The PIC's netdevs carry no kernel addresses, IPv6 link-local ones included;
            // the hosts skip duplicate address detection.
            let sysctls: &[&str] = if ns == &pic {
                &[
                    "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1",
                ]
            } else {
                &[
                    "net.ipv6.conf.all.accept_dad=0",
                    "net.ipv6.conf.default.accept_dad=0",
                ]
            };
            run(Command::new("ip")
                .args(["netns", "exec", ns, "sysctl", "-qw"])
                .args(sysctls))?;
        }
        let q = self.queues.to_string();
        for (host_ns, host_dev, pic_dev) in [(&cl, "cl0", "pin"), (&sv, "sv0", "pout")] {
            ip(&[
                "link",
                "add",
                host_dev,
                "netns",
                host_ns,
                "numrxqueues",
                &q,
                "numtxqueues",
                &q,
                "type",
                "veth",
                "peer",
                "name",
                pic_dev,
                "netns",
                &pic,
                "numrxqueues",
                &q,
                "numtxqueues",
                &q,
            ])?;
            ip(&["-n", host_ns, "link", "set", host_dev, "up"])?;
            ip(&["-n", &pic, "link", "set", pic_dev, "up"])?;
            // Full checksums from the hosts, as real NICs deliver them.
            run(self
                .exec(
                    if host_ns == &cl {
                        Role::Client
                    } else {
                        Role::Server
                    },
                    "ethtool",
                )
                .args(["-K", host_dev, "tx", "off"]))?;
        }
        ip(&["-n", &cl, "addr", "add", "10.0.0.2/24", "dev", "cl0"])?;
        ip(&["-n", &cl, "route", "add", "default", "via", CLIENT_GW])?;
        ip(&["-n", &sv, "addr", "add", "203.0.113.2/24", "dev", "sv0"])?;
        ip(&["-n", &sv, "addr", "add", "198.51.100.7/32", "dev", "lo"])?;
        ip(&["-n", &sv, "route", "add", "default", "via", SERVER_GW])?;
        for (ns, dev, addr, gw) in [
            (&cl, "cl0", CLIENT_ADDR6, CLIENT_GW6),
            (&sv, "sv0", SERVER_ADDR6, SERVER_GW6),
        ] {
            let cidr = format!("{addr}/64");
            ip(&["-n", ns, "addr", "add", &cidr, "dev", dev, "nodad"])?;
            ip(&["-n", ns, "-6", "route", "add", "default", "via", gw])?;
        }
        Ok(())
    }

    /// Waits, at most `timeout`, until something listens on `proto` ("tcp" or "udp") port
    /// `port` in the namespace of `role`.
    pub fn wait_listening(
        &self,
        role: Role,
        proto: &str,
        port: u16,
        timeout: std::time::Duration,
    ) -> io::Result<()> {
        let start = std::time::Instant::now();
        let flag = if proto == "tcp" { "-ltnH" } else { "-lunH" };
        loop {
            let out = self.exec(role, "ss").arg(flag).output()?;
            if String::from_utf8_lossy(&out.stdout).contains(&format!(":{port} ")) {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(io::Error::other(format!(
                    "nothing listens on {proto} port {port} in {}",
                    self.ns(role)
                )));
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Removes the namespaces (their veths go with them). Idempotent.
    pub fn down(&self) {
        remove(&self.prefix);
    }
}

/// Removes the namespaces of a testbed named `prefix` (what `cargo xtask testbed down`
/// does); missing ones are fine.
pub fn remove(prefix: &str) {
    for role in [Role::Client, Role::Pic, Role::Server] {
        let ns = format!("{prefix}-{}", role.suffix());
        let _ = Command::new("ip")
            .args(["netns", "del", &ns])
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        if !self.keep {
            self.down();
        }
    }
}

/// A child process (server, daemon) that is ended — by its PID, SIGTERM then SIGKILL — and
/// reaped when dropped.
pub struct Spawned {
    pub child: std::process::Child,
    pub name: String,
}

impl Spawned {
    pub fn new(name: &str, mut cmd: Command) -> io::Result<Spawned> {
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| io::Error::other(format!("cannot start {name}: {e}")))?;
        Ok(Spawned {
            child,
            name: name.to_string(),
        })
    }

    /// Sends `signal` (e.g. `TERM`, `HUP`) to the process.
    pub fn signal(&self, signal: &str) -> io::Result<()> {
        run(Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string()))
        .map(|_| ())
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub fn wait_timeout(
        &mut self,
        timeout: std::time::Duration,
    ) -> io::Result<Option<std::process::ExitStatus>> {
        let start = std::time::Instant::now();
        loop {
            if let Some(s) = self.child.try_wait()? {
                return Ok(Some(s));
            }
            if start.elapsed() > timeout {
                return Ok(None);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.signal("TERM");
            if !matches!(
                self.wait_timeout(std::time::Duration::from_secs(3)),
                Ok(Some(_))
            ) {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

/// Path of a binary of this workspace built alongside the running test (`mspicd`, `mspic`):
/// the test executable lives in `target/<profile>/deps/`, the binaries one level up.
pub fn workspace_bin(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("current executable");
    for dir in exe.ancestors().skip(1).take(3) {
        let p = dir.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "{name} not found next to {}; build it first: cargo build -p mspic-cli",
        exe.display()
    );
}
