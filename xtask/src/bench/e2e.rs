//! The measurement itself (needs the `e2e` feature: the AF_XDP generator and receiver link
//! the live dataplane).

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use mspic_tests::testbed::{self, Role, Testbed, CLIENT_ADDR, REMOTE_SERVER, SERVER_ADDR};

use super::pic::{self, Forwarder, Pic};
use super::{gen, recv, search, traffic, E2eArgs};
use crate::util::{target_dir, workspace_root};

/// How long the warm-up may take.
pub const WARM_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the measured burst may take to send.
pub const BLAST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the receiver is waited for after the generator ends, at most.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// The receiver is done once nothing arrived for this long.
pub const DRAIN_QUIET: Duration = Duration::from_millis(250);
/// The result of one forwarder in one run.
#[derive(Debug, Clone)]
struct Outcome {
    forwarder: Forwarder,
    run: u32,
    sent: u64,
    received: u64,
    /// First frame handed to the kernel → last frame received.
    elapsed: Duration,
    /// First frame handed to the kernel → last frame completed.
    tx_elapsed: Duration,
    recv: recv::Received,
    notes: Vec<String>,
}

impl Outcome {
    fn loss(&self) -> f64 {
        if self.sent == 0 {
            return 0.0;
        }
        self.sent.saturating_sub(self.received) as f64 / self.sent as f64
    }

    fn pps(&self) -> f64 {
        rate(self.received, self.elapsed)
    }

    fn offered(&self) -> f64 {
        rate(self.sent, self.tx_elapsed)
    }
}

fn rate(n: u64, d: Duration) -> f64 {
    if d.is_zero() {
        0.0
    } else {
        n as f64 / d.as_secs_f64()
    }
}

pub fn e2e(a: &E2eArgs) -> Result<()> {
    if let Some(why) = testbed::unavailable() {
        println!("bench e2e skipped: {why}");
        return Ok(());
    }
    if let Some(why) = mspic_dataplane::xdp::kernel_lacks_feature() {
        println!("bench e2e skipped: {why}");
        return Ok(());
    }
    let root = workspace_root();
    let target = target_dir(&root);
    let release = target.join("release");
    for b in ["mspicd", "mspic"] {
        if !release.join(b).is_file() {
            bail!(
                "{} is missing: cargo build --release -p mspic-cli",
                release.join(b).display()
            );
        }
    }
    let work = target
        .join("bench")
        .join(format!("e2e-{}", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let _cleanup = RemoveDir(work.clone());

    let burst = if a.search {
        String::new()
    } else {
        format!("{} ", a.packets)
    };
    println!(
        "\n==> {burst}UDP frames of {} bytes in {} flows, {} queue(s), {} run(s); \
         {CLIENT_ADDR} -> {REMOTE_SERVER} through mspic (napt-44) and through Linux (nftables snat)",
        a.size, a.flows, a.queues, a.runs
    );
    if a.search || a.connections > 0 {
        return searches(a, &root, &release, &work);
    }
    let mut outcomes = Vec::new();
    for r in 1..=a.runs {
        for f in order(r) {
            print!("run {r}/{}: {:<5} ... ", a.runs, f.name());
            let _ = std::io::Write::flush(&mut std::io::stdout());
            let o = one(f, r, a, &root, &release, &work)
                .with_context(|| format!("run {r} through {}", f.name()))?;
            println!("{} of {} received, {:.0} pps", o.received, o.sent, o.pps());
            outcomes.push(o);
        }
    }
    print!("{}", report(a, &outcomes));
    Ok(())
}

/// `--search` and `--connections`: NDR and PDR of both forwarders ([`search`]),
/// alternating which goes first.
fn searches(a: &E2eArgs, root: &Path, bin: &Path, work: &Path) -> Result<()> {
    println!(
        "binary search to {} %: NDR (no loss) and PDR (at most {} % lost)",
        a.resolution,
        search::PDR_LOSS * 100.0
    );
    type Measure = fn(Forwarder, &E2eArgs, &Path, &Path, &Path) -> Result<search::Found>;
    let mut kinds: Vec<(String, Measure)> = Vec::new();
    if a.search {
        let what = format!("throughput ({} s trials, RFC 9693 §4.4):", a.trial_secs);
        kinds.push((what, search::measure));
    }
    if a.connections > 0 {
        let what = format!(
            "connection establishment rate ({} new connections per trial, each through a \
             fresh forwarder, RFC 9693 §4.5):",
            a.connections
        );
        kinds.push((what, search::measure_connections));
    }
    let mut reports = String::new();
    for (what, measure) in kinds {
        println!("\n{what}");
        let mut found = Vec::new();
        for r in 1..=a.runs {
            for f in order(r) {
                println!("run {r}/{}: {}", a.runs, f.name());
                let dir = work.join(format!("{}-{r}", f.name()));
                let one = measure(f, a, root, bin, &dir)
                    .with_context(|| format!("run {r} through {}", f.name()))?;
                found.push(one);
            }
        }
        reports.push_str(&search::report(&what, &found));
    }
    print!("{reports}");
    Ok(())
}

/// A forwarder on a fresh testbed with the generator and receiver attached; removed when
/// dropped.
pub struct Rig {
    pub forwarder: Forwarder,
    pub pic: Pic,
    pub receiver: recv::Receiver,
    pub generator: gen::Generator,
    pub shared: std::sync::Arc<recv::Shared>,
    pub flows: usize,
    pub notes: Vec<String>,
    // Dropped last: the namespaces go after everything in them.
    _tb: Testbed,
}

impl Rig {
    /// Testbed, forwarder, receiver and generator up, then the warm-up (RFC 9693 §4.4's
    /// preliminary phase): every flow through once, so that its connection exists and the
    /// next hop is resolved before anything is measured.
    pub fn start(
        forwarder: Forwarder,
        a: &E2eArgs,
        root: &Path,
        bin: &Path,
        dir: &Path,
    ) -> Result<Rig> {
        let tb = Testbed::unique(a.queues).context("building the testbed")?;
        std::fs::create_dir_all(dir)?;
        let pic = Pic::start(forwarder, &tb, root, bin, dir)?;
        let client_ip: Ipv4Addr = CLIENT_ADDR.parse()?;
        let server_ip: Ipv4Addr = SERVER_ADDR.parse()?;
        let ep = traffic::Endpoints {
            src_mac: pic::mac(&tb, Role::Client, "cl0")?,
            dst_mac: pic::mac(&tb, Role::Pic, "pin")?,
            src_ip: client_ip,
            dst_ip: REMOTE_SERVER.parse()?,
        };
        let nonce = nonce();
        let flows = a.flows as usize;
        let templates = traffic::templates(&ep, a.size as usize, nonce, flows)?;
        let receiver = recv::Receiver::start(recv::RecvConfig {
            ns: tb.ns(Role::Server),
            dev: "sv0".into(),
            queues: a.queues,
            nonce,
            flows,
            client_ip,
            my_ip: server_ip,
            my_mac: pic::mac(&tb, Role::Server, "sv0")?,
        })
        .context("starting the AF_XDP receiver on sv0")?;
        let generator = gen::Generator::start(&tb.ns(Role::Client), "cl0", a.queues, templates)
            .context("starting the AF_XDP generator on cl0")?;
        let shared = receiver.shared.clone();
        let mut rig = Rig {
            forwarder,
            pic,
            receiver,
            generator,
            shared,
            flows,
            notes: Vec::new(),
            _tb: tb,
        };
        rig.warm()?;
        Ok(rig)
    }

    fn warm(&mut self) -> Result<()> {
        let start = Instant::now();
        loop {
            self.generator.warm()?;
            let round = Instant::now();
            while round.elapsed() < Duration::from_millis(100) && self.warm_flows() < self.flows {
                std::thread::sleep(Duration::from_millis(5));
            }
            let seen = self.warm_flows();
            if seen >= self.flows {
                return Ok(());
            }
            if start.elapsed() > WARM_TIMEOUT {
                if seen == 0 {
                    bail!(
                        "no warm-up frame came through {} in {WARM_TIMEOUT:?}{}",
                        self.forwarder.name(),
                        match self.forwarder {
                            Forwarder::Mspic => format!("; mspicd log:\n{}", self.pic.log_text()),
                            Forwarder::Linux => String::new(),
                        }
                    );
                }
                self.notes.push(format!(
                    "only {seen} of {} flows came through in the warm-up",
                    self.flows
                ));
                return Ok(());
            }
        }
    }

    fn warm_flows(&self) -> usize {
        self.shared
            .warm_flows
            .load(std::sync::atomic::Ordering::Relaxed) as usize
    }

    /// Measured frames the receiver has counted so far.
    pub fn received(&self) -> u64 {
        self.shared.blast.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits until `expected` more measured frames than `base` arrived, or nothing arrived
    /// for [`DRAIN_QUIET`], at most [`DRAIN_TIMEOUT`]; returns the frames that arrived.
    pub fn drain(&self, base: u64, expected: u64) -> u64 {
        let end = Instant::now();
        let mut last = self.received();
        let mut last_change = end;
        while last - base < expected && end.elapsed() < DRAIN_TIMEOUT {
            std::thread::sleep(Duration::from_millis(10));
            let now = self.received();
            if now != last {
                last = now;
                last_change = Instant::now();
            } else if last_change.elapsed() >= DRAIN_QUIET {
                break;
            }
        }
        last - base
    }
}

/// One forwarder, one measurement, on a fresh testbed.
fn one(
    forwarder: Forwarder,
    run: u32,
    a: &E2eArgs,
    root: &Path,
    bin: &Path,
    work: &Path,
) -> Result<Outcome> {
    let dir = work.join(format!("{}-{run}", forwarder.name()));
    let mut rig = Rig::start(forwarder, a, root, bin, &dir)?;

    // The measurement.
    let before = rig.pic.frames();
    let sent = rig
        .generator
        .blast(a.packets, None, Instant::now() + BLAST_TIMEOUT)?;
    if sent.timed_out {
        rig.notes.push(format!(
            "the generator stopped at the {BLAST_TIMEOUT:?} limit after {} frames",
            sent.frames
        ));
    }
    rig.drain(0, sent.frames);
    let Rig {
        pic,
        mut receiver,
        generator,
        mut notes,
        ..
    } = rig;
    drop(generator);
    let got = receiver.stop()?;
    if let (Some(b), Some(a)) = (before, pic.frames()) {
        let d = a - b;
        notes.push(format!(
            "mspicd's XDP program saw {} of the {} frames sent ({} never reached pin: \
             dropped by the generator's veth, its tx dropped); the kernel dropped {} of \
             those before a worker took them (no frame lent, AF_XDP rx ring full); mspicd \
             took {}, forwarded {}, counted {} as dropped, {} were the PIC's own (ARP, \
             replies, …); balance difference {}{}",
            d.seen,
            sent.frames,
            sent.frames.saturating_sub(d.seen),
            d.kernel,
            d.received,
            d.forwarded,
            d.dropped,
            d.own,
            d.difference,
            if d.difference != 0 {
                " (frames in flight when read, or neither forwarded nor counted)"
            } else {
                ""
            }
        ));
    }
    if got.bad_checksum > 0 {
        notes.push(format!("{} frames with a bad checksum", got.bad_checksum));
    }
    if got.untranslated > 0 {
        notes.push(format!(
            "{} frames arrived untranslated (source {CLIENT_ADDR})",
            got.untranslated
        ));
    }
    if got.priority != "SCHED_FIFO" {
        notes.push(format!(
            "the receiver runs at {} (SCHED_FIFO was refused)",
            got.priority
        ));
    }
    if got.socket_drops > 0 {
        notes.push(format!(
            "the receiver's sockets dropped {} frames (rx ring full)",
            got.socket_drops
        ));
    }
    let end = got.last_blast.unwrap_or(sent.last);
    Ok(Outcome {
        forwarder,
        run,
        sent: sent.frames,
        received: got.blast,
        elapsed: end.saturating_duration_since(sent.first),
        tx_elapsed: sent.last.saturating_duration_since(sent.first),
        recv: got,
        notes,
    })
}

/// The forwarders of run `r` in the order they go: alternating, so that neither always
/// runs on a warmer machine.
fn order(r: u32) -> [Forwarder; 2] {
    if r % 2 == 1 {
        [Forwarder::Mspic, Forwarder::Linux]
    } else {
        [Forwarder::Linux, Forwarder::Mspic]
    }
}

/// A number that tells this run's frames from any earlier run's.
fn nonce() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (t.as_nanos() as u32) ^ std::process::id().rotate_left(16)
}

pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub fn thousands(x: f64) -> String {
    let s = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn report(a: &E2eArgs, all: &[Outcome]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n{:<6} {:<6} {:>11} {:>11} {:>7} {:>9} {:>11} {:>11}",
        "run", "path", "sent", "received", "loss", "elapsed", "pps", "offered"
    );
    for o in all {
        let _ = writeln!(
            s,
            "{:<6} {:<6} {:>11} {:>11} {:>6.2}% {:>7.3} s {:>11} {:>11}",
            o.run,
            o.forwarder.name(),
            o.sent,
            o.received,
            o.loss() * 100.0,
            o.elapsed.as_secs_f64(),
            thousands(o.pps()),
            thousands(o.offered()),
        );
    }
    let mut med = [0.0f64; 2];
    for (i, f) in [Forwarder::Mspic, Forwarder::Linux].into_iter().enumerate() {
        let mine: Vec<&Outcome> = all.iter().filter(|o| o.forwarder == f).collect();
        let m = |g: &dyn Fn(&Outcome) -> f64| median(mine.iter().map(|o| g(o)).collect());
        med[i] = m(&|o| o.pps());
        if a.runs > 1 {
            let _ = writeln!(
                s,
                "{:<6} {:<6} {:>11.0} {:>11.0} {:>6.2}% {:>7.3} s {:>11} {:>11}",
                "median",
                f.name(),
                m(&|o| o.sent as f64),
                m(&|o| o.received as f64),
                m(&|o| o.loss()) * 100.0,
                m(&|o| o.elapsed.as_secs_f64()),
                thousands(med[i]),
                thousands(m(&|o| o.offered())),
            );
        }
    }
    let _ = writeln!(
        s,
        "\nratio mspic/linux (delivered pps{}): {}",
        if a.runs > 1 { ", medians" } else { "" },
        if med[1] > 0.0 {
            format!("{:.2}", med[0] / med[1])
        } else {
            "n/a (nothing came through Linux)".into()
        }
    );
    let _ = writeln!(
        s,
        "pps = received / (first frame sent -> last frame received); offered = sent / \
         (first frame sent -> last frame completed by the generator's socket)"
    );
    for o in all {
        for n in &o.notes {
            let _ = writeln!(s, "note: run {} {}: {n}", o.run, o.forwarder.name());
        }
        if o.recv.other > 0 {
            let _ = writeln!(
                s,
                "note: run {} {}: the receiver also saw {} other frames",
                o.run,
                o.forwarder.name(),
                o.recv.other
            );
        }
    }
    s
}

/// Removes a directory when dropped.
struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_thousands() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(vec![]), 0.0);
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1000.0), "1,000");
    }

    #[test]
    fn the_report_has_a_row_per_run_and_the_ratio() {
        let o = |f, pps: u64| Outcome {
            forwarder: f,
            run: 1,
            sent: 1000,
            received: pps,
            elapsed: Duration::from_secs(1),
            tx_elapsed: Duration::from_millis(500),
            recv: recv::Received::default(),
            notes: vec![],
        };
        let a = E2eArgs {
            packets: 1000,
            flows: 4,
            size: 64,
            queues: 1,
            runs: 1,
            search: false,
            connections: 0,
            trial_secs: 1.0,
            resolution: 2.0,
        };
        let r = report(&a, &[o(Forwarder::Mspic, 500), o(Forwarder::Linux, 1000)]);
        assert!(r.contains("mspic         1000         500  50.00%"), "{r}");
        assert!(r.contains("ratio mspic/linux (delivered pps): 0.50"), "{r}");
        assert!(r.contains("2,000"), "{r}");
        assert!(!r.contains("median"), "{r}");
    }
}
