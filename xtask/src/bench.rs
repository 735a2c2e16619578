//! `cargo xtask bench e2e`: UDP from the client namespace through the PIC to the server
//! namespace, once through mspicd and once through the Linux kernel (forwarding + source
//! NAT with conntrack), side by side in one invocation, each on a fresh testbed.
//!
//! The traffic comes from an AF_XDP generator on `cl0` ([`gen`]) and is counted by an
//! AF_XDP receiver on `sv0` ([`recv`]); the frames are in [`traffic`], the forwarders in
//! [`pic`]. The run goes: testbed up, forwarder up, receiver and generator up, warm-up
//! (one frame per flow, repeated until every flow has come through once, at most
//! [`e2e::WARM_TIMEOUT`]), then the measured burst of `--packets` frames, timed from the first
//! frame handed to the kernel to the last one received (the receiver is given at most
//! [`e2e::DRAIN_TIMEOUT`] after the generator ends, and stops waiting once nothing arrived for
//! [`e2e::DRAIN_QUIET`]). Everything it makes is removed when it ends, also on failure.
//!
//! `cargo xtask bench compare --base REV`: the flow shard's criterion bench at REV and at
//! the working tree, run alternately ([`compare`]); `cargo xtask bench instructions --base
//! REV`: their instructions per packet, counted by callgrind ([`instructions`]).

mod compare;
#[cfg(feature = "e2e")]
mod e2e;
#[cfg(feature = "e2e")]
mod gen;
mod instructions;
#[cfg(feature = "e2e")]
mod netns;
#[cfg(feature = "e2e")]
mod pic;
#[cfg(feature = "e2e")]
mod recv;
#[cfg(feature = "e2e")]
mod search;
// Only its size limits are used without the feature (for the argument ranges).
#[cfg_attr(not(feature = "e2e"), allow(dead_code))]
mod traffic;

use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

use crate::util::{cargo, display, run, target_dir, workspace_root};

/// Set in the environment of the release build this command runs itself as.
const RELEASE_ENV: &str = "MSPIC_BENCH_RELEASE";

#[derive(Args)]
pub struct BenchCmd {
    #[command(subcommand)]
    what: BenchWhat,
}

#[derive(Subcommand)]
enum BenchWhat {
    /// UDP through mspicd and through Linux (forwarding + nftables source NAT), side by
    /// side on fresh testbeds: AF_XDP generator on the client, AF_XDP receiver on the
    /// server; prints packets sent, received, loss, elapsed time, packets/s and the
    /// ratio mspic/linux. Needs root.
    E2e(E2eArgs),
    /// The flow shard's criterion bench of commit `--base` and of the working tree, run
    /// alternately; prints per benchmark base ns, head ns, head/base and the rounds' spread.
    Compare(compare::CompareArgs),
    /// Instructions per packet of the shard benches at commit `--base` and at the working
    /// tree, counted by valgrind's callgrind (repeatable on a noisy machine; timings still
    /// decide).
    Instructions(instructions::InstructionsArgs),
}

#[derive(Args, Debug, Clone)]
pub struct E2eArgs {
    /// Frames in each measured burst.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    packets: u64,
    /// UDP flows (source ports 10000, 10001, … of 10.0.0.2 to 198.51.100.7:9000), sent
    /// round robin.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=traffic::MAX_FLOWS as i64))]
    flows: u32,
    /// Ethernet frame size in bytes, FCS included as RFC 2544 counts it (veth carries
    /// no FCS: 4 bytes fewer go over it).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(traffic::MIN_SIZE as i64..=traffic::MAX_SIZE as i64))]
    size: u32,
    /// Queues per veth: the testbed's queue count, mspicd's workers, and the generator's
    /// and receiver's sockets (flow f is sent on queue f % queues).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=8))]
    queues: u32,
    /// Repetitions (each runs both forwarders); the summary gives the medians.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
    runs: u32,
    /// Throughput by RFC 9693 / RFC 2544: binary search over trials of the paced generator
    /// for the highest rate without loss (NDR) and with at most 0.5 % loss (PDR), instead
    /// of one unpaced burst (`--packets` is then unused).
    #[arg(long)]
    search: bool,
    /// The maximum connection establishment rate by RFC 9693 §4.5: binary search over
    /// trials that each open this many new connections (one frame each, through a fresh
    /// forwarder); 0: not measured.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=traffic::MAX_CONNECTIONS - traffic::MAX_FLOWS as u64))]
    connections: u64,
    /// Seconds of traffic in each trial of `--search` (0.1 – 60).
    #[arg(long, default_value_t = 1.0, value_parser = secs_in_range)]
    trial_secs: f64,
    /// `--search` stops when the bounds are within this many percent (0.1 – 50).
    #[arg(long, default_value_t = 2.0, value_parser = percent_in_range)]
    resolution: f64,
}

fn float_in(s: &str, lo: f64, hi: f64) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is outside {lo} – {hi}"))
    }
}

fn secs_in_range(s: &str) -> Result<f64, String> {
    float_in(s, 0.1, 60.0)
}

fn percent_in_range(s: &str) -> Result<f64, String> {
    float_in(s, 0.1, 50.0)
}

/// Runs the benchmark. The measuring code links the live dataplane, which this xtask (built
/// before `deps` installed the C headers) leaves out: it builds the release binaries and
/// an xtask with the `e2e` feature, and runs that one.
pub fn run_bench(cmd: &BenchCmd) -> Result<()> {
    let a = match &cmd.what {
        BenchWhat::E2e(a) => a,
        BenchWhat::Compare(a) => return compare::compare(a),
        BenchWhat::Instructions(a) => return instructions::instructions(a),
    };
    #[cfg(feature = "e2e")]
    if std::env::var_os(RELEASE_ENV).is_some() || !cfg!(debug_assertions) {
        return e2e::e2e(a);
    }
    if let Some(why) = mspic_tests::testbed::unavailable() {
        println!("bench e2e skipped: {why}");
        return Ok(());
    }
    let _ = a;
    let root = workspace_root();
    println!("==> building the release binaries (mspicd, mspic, and this benchmark)");
    run(cargo()
        .args(["build", "--release", "-p", "mspic-cli", "-p", "xtask"])
        .args(["--features", "xtask/e2e", "--quiet"])
        .current_dir(&root))
    .context("building the release binaries failed")?;
    let mut cmd = Command::new(target_dir(&root).join("release").join("xtask"));
    cmd.args(std::env::args_os().skip(1)).env(RELEASE_ENV, "1");
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {}", display(&cmd)))?;
    if !status.success() {
        bail!("the benchmark failed ({status})");
    }
    Ok(())
}
