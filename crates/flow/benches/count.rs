//! The shard benches' routines run a fixed number of times, for an instruction count
//! (`cargo xtask bench instructions`, which runs this under `valgrind --tool=callgrind`):
//! repeatable on a shared, noisy machine where timings are not, and blind to what the
//! counts miss (cache misses, branch prediction), so timings still decide.
//!
//! `count ID N M`: sets up the benchmark `ID` (`established/sfw/1000`, …, the names of
//! `shard.rs`, 1 000 sessions only), builds the frames for `M` iterations, then runs the
//! first `N`. Two runs with the same `M` differ only by the `N`s: their difference in
//! instructions over the difference in `N` is the cost of one packet.

mod common;

use std::hint::black_box;

use common::{fresh_flow, setup, Setup};
use mspic_flow::{Frame, IfIndex};

/// The benchmarks this runs: `group/name/sessions`.
const IDS: &[&str] = &[
    "established/sfw/1000",
    "established/napt44/1000",
    "established/napt44+checksum/1000",
    "setup/sfw/1000",
    "setup/napt44/1000",
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.as_slice() {
        [id, n, m] => n
            .parse::<usize>()
            .ok()
            .zip(m.parse::<usize>().ok())
            .map(|nm| (id, nm)),
        _ => None,
    };
    let Some((id, (n, m))) = parsed.filter(|(_, (n, m))| n <= m) else {
        if args.first().is_some_and(|a| a == "--list") {
            IDS.iter().for_each(|id| println!("{id}"));
            return;
        }
        eprintln!("usage: count ID N M (N <= M) | count --list");
        std::process::exit(2);
    };
    let run = match id.as_str() {
        "established/sfw/1000" => established(false, false),
        "established/napt44/1000" => established(true, false),
        "established/napt44+checksum/1000" => established(true, true),
        "setup/sfw/1000" => new_sessions(false),
        "setup/napt44/1000" => new_sessions(true),
        _ => {
            eprintln!("unknown benchmark {id}; `count --list` names them");
            std::process::exit(2);
        }
    };
    run(n, m);
}

type Run = Box<dyn FnOnce(usize, usize)>;

/// Packets of established flows, both directions, in the bench's random order.
fn established(napt: bool, verify: bool) -> Run {
    Box::new(move |n, m| {
        let Setup {
            mut shard,
            frames,
            now,
        } = setup(1_000, napt, verify);
        let order: Vec<&(IfIndex, Vec<u8>)> = frames.iter().cycle().take(m).collect();
        let mut buf = vec![0u8; 2048];
        for (ingress, f) in order.into_iter().take(n) {
            buf[..f.len()].copy_from_slice(f);
            let mut fr = Frame::new(&mut buf, f.len());
            black_box(shard.process(now, *ingress, &mut fr));
        }
    })
}

/// First packets of new flows next to 1 000 live sessions.
fn new_sessions(napt: bool) -> Run {
    Box::new(move |n, m| {
        let Setup { mut shard, now, .. } = setup(1_000, napt, false);
        let frames: Vec<Vec<u8>> = (1..=m as u32).map(fresh_flow).collect();
        let mut buf = vec![0u8; 2048];
        for f in frames.iter().take(n) {
            buf[..f.len()].copy_from_slice(f);
            let mut fr = Frame::new(&mut buf, f.len());
            black_box(shard.process(now, IfIndex(0), &mut fr));
        }
    })
}
