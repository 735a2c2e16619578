//! Throughput as RFC 9693 (benchmarking stateful NATxy gateways, §4.4 on RFC 2544 §26.1)
//! asks for it: after the preliminary phase that creates every connection (the rig's
//! warm-up), the highest offered rate at which no frame is lost (NDR) and the highest at
//! which at most 0.5 % is lost (PDR, as FD.io CSIT reports it), each found by a binary
//! search over trials of the paced generator. The rate reported is the one the generator
//! really achieved in the best passing trial (frames completed over the time they took),
//! not the one asked for.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::e2e::{thousands, Rig};
use super::pic::Forwarder;
use super::{gen, traffic, E2eArgs};

/// PDR's loss bound.
pub const PDR_LOSS: f64 = 0.005;
/// Most trials of one search (a bound whatever the resolution).
const MAX_TRIALS: u32 = 14;

/// One trial at one rate.
#[derive(Debug, Clone, Copy)]
pub struct Trial {
    pub asked: f64,
    pub sent: u64,
    pub received: u64,
    /// Frames completed over the time from the first to the last.
    pub achieved: f64,
}

impl Trial {
    pub fn loss(&self) -> f64 {
        if self.sent == 0 {
            return 1.0;
        }
        self.sent.saturating_sub(self.received) as f64 / self.sent as f64
    }
}

/// What one forwarder achieved in one run.
#[derive(Debug, Clone)]
pub struct Found {
    pub forwarder: Forwarder,
    /// The generator's unpaced rate through this forwarder (the top of the searches).
    pub ceiling: f64,
    pub ndr: Option<Trial>,
    pub pdr: Option<Trial>,
    pub trials: u32,
}

/// Sends `packets` measured frames at `rate` (unpaced when `None`) and counts what came
/// through.
fn trial(rig: &Rig, rate: Option<f64>, packets: u64) -> Result<Trial> {
    let base = rig.received();
    let sent = rig
        .generator
        .blast(packets, rate, deadline(rate, packets))?;
    Ok(counted(rig, base, rate, sent))
}

/// Sends the first frame of `n` new connections at `rate` through a fresh rig (an empty
/// connection table, RFC 9693 §4.5) and counts what came through.
fn connection_trial(start: &dyn Fn() -> Result<Rig>, rate: Option<f64>, n: u64) -> Result<Trial> {
    let rig = start()?;
    let base = rig.received();
    // Connection indexes of host 10.0.0.3 on: the warm-up's flows are 10.0.0.2's.
    let first = traffic::MAX_FLOWS as u64;
    let sent = rig
        .generator
        .connections(first, n, rate, deadline(rate, n))?;
    Ok(counted(&rig, base, rate, sent))
}

fn deadline(rate: Option<f64>, packets: u64) -> Instant {
    let secs = rate.map_or(10.0, |r| packets as f64 / r);
    Instant::now() + Duration::from_secs_f64(secs * 3.0 + 5.0)
}

fn counted(rig: &Rig, base: u64, rate: Option<f64>, sent: gen::Sent) -> Trial {
    let received = rig.drain(base, sent.frames);
    let took = sent
        .last
        .saturating_duration_since(sent.first)
        .as_secs_f64();
    Trial {
        asked: rate.unwrap_or(f64::INFINITY),
        sent: sent.frames,
        received,
        achieved: if took > 0.0 {
            sent.frames as f64 / took
        } else {
            0.0
        },
    }
}

/// The highest rate in (`lo`, `hi`] whose trial (`run`) loses at most `loss` of its
/// frames, to within `resolution` percent of `hi`; `None` when not even the lowest tried
/// passes.
fn search(
    (mut lo, mut hi): (f64, f64),
    loss: f64,
    resolution: f64,
    run: &mut dyn FnMut(f64) -> Result<Trial>,
    log: &mut dyn FnMut(&str, &Trial),
    trials: &mut u32,
) -> Result<Option<Trial>> {
    let mut best = None;
    let mut rate = hi;
    for _ in 0..MAX_TRIALS {
        let t = run(rate)?;
        *trials += 1;
        let pass = t.loss() <= loss;
        log(if pass { "pass" } else { "fail" }, &t);
        if pass {
            lo = rate;
            best = Some(t);
        } else {
            hi = rate;
        }
        if hi - lo <= hi * resolution / 100.0 {
            break;
        }
        rate = (lo + hi) / 2.0;
    }
    Ok(best)
}

/// Prints one trial.
fn logger(name: &'static str) -> impl FnMut(&str, &Trial) {
    move |what: &str, t: &Trial| {
        println!(
            "  {name:<5} {what:<7} asked {:>11} pps, achieved {:>11} pps, sent {:>10}, lost {:>9} ({:.3} %)",
            if t.asked.is_finite() { thousands(t.asked) } else { "unpaced".into() },
            thousands(t.achieved),
            t.sent,
            t.sent.saturating_sub(t.received),
            t.loss() * 100.0
        );
    }
}

/// NDR and PDR of `run`'s trials, from the ceiling `top` (an unpaced trial) down.
fn ndr_pdr(
    forwarder: Forwarder,
    a: &E2eArgs,
    top: Trial,
    run: &mut dyn FnMut(f64) -> Result<Trial>,
) -> Result<Found> {
    let mut log = logger(forwarder.name());
    log("ceiling", &top);
    let mut trials = 1;
    let ceiling = top.achieved;
    let ndr = search(
        (0.0, ceiling),
        0.0,
        a.resolution,
        run,
        &mut log,
        &mut trials,
    )?;
    let from = ndr.map_or(0.0, |t| t.asked);
    let pdr = search(
        (from, ceiling),
        PDR_LOSS,
        a.resolution,
        run,
        &mut log,
        &mut trials,
    )?;
    Ok(Found {
        forwarder,
        ceiling,
        ndr,
        pdr: pdr.or(ndr),
        trials,
    })
}

/// The maximum connection establishment rate (RFC 9693 §4.5) of one forwarder: NDR and
/// PDR of trials that each open `--connections` new connections (one frame each) at the
/// trial's rate through a fresh forwarder.
pub fn measure_connections(
    forwarder: Forwarder,
    a: &E2eArgs,
    root: &Path,
    bin: &Path,
    dir: &Path,
) -> Result<Found> {
    let start = || Rig::start(forwarder, a, root, bin, dir);
    let n = a.connections;
    let top = connection_trial(&start, None, n)?;
    ndr_pdr(forwarder, a, top, &mut |rate| {
        connection_trial(&start, Some(rate), n)
    })
}

/// Throughput (RFC 9693 §4.4): NDR and PDR of paced trials of `--trial-secs` each over
/// the connections the warm-up made, on one fresh rig.
pub fn measure(
    forwarder: Forwarder,
    a: &E2eArgs,
    root: &Path,
    bin: &Path,
    dir: &Path,
) -> Result<Found> {
    let rig = Rig::start(forwarder, a, root, bin, dir)?;
    // The top of the search: what the generator offers unpaced through this forwarder.
    let top = trial(&rig, None, (4_000_000.0 * a.trial_secs) as u64)?;
    ndr_pdr(forwarder, a, top, &mut |rate| {
        trial(
            &rig,
            Some(rate),
            ((rate * a.trial_secs).ceil() as u64).max(1),
        )
    })
}

/// The summary table and the ratios mspic/linux (medians over runs).
pub fn report(what: &str, all: &[Found]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n{what}\n{:<6} {:>16} {:>16} {:>16} {:>7}",
        "path", "ceiling pps", "NDR pps", "PDR pps", "trials"
    );
    let rate = |t: Option<Trial>| t.map_or(0.0, |t| t.achieved);
    for f in all {
        let _ = writeln!(
            s,
            "{:<6} {:>16} {:>16} {:>16} {:>7}",
            f.forwarder.name(),
            thousands(f.ceiling),
            thousands(rate(f.ndr)),
            thousands(rate(f.pdr)),
            f.trials
        );
    }
    let med = |fw: Forwarder, g: &dyn Fn(&Found) -> f64| {
        super::e2e::median(all.iter().filter(|f| f.forwarder == fw).map(g).collect())
    };
    let ratio = |g: &dyn Fn(&Found) -> f64| {
        let (m, l) = (med(Forwarder::Mspic, g), med(Forwarder::Linux, g));
        if l > 0.0 {
            format!("{:.2}", m / l)
        } else {
            "n/a".into()
        }
    };
    let _ = writeln!(
        s,
        "\nratio mspic/linux (medians): NDR {}, PDR {}",
        ratio(&|f| rate(f.ndr)),
        ratio(&|f| rate(f.pdr))
    );
    let _ = writeln!(
        s,
        "NDR: no frame lost; PDR: at most {} % lost; rates are those the generator achieved \
         in the best passing trial; ceiling: its unpaced rate through that forwarder",
        PDR_LOSS * 100.0
    );
    s
}
