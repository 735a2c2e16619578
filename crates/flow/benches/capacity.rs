//! Session table capacity of one shard (after RFC 9693 §4.7, at the engine): fills a shard
//! with N live UDP sessions (stateful firewall, or napt-44 from a /22 pool), then reports
//!
//! - the memory they took: the process's resident set before and after, per session
//!   (slab, index, timers and NAT state as the allocator really laid them out), beside the
//!   engine's own estimate (`Shard::bytes_per_session`, what `memory-usage` shows);
//! - the mean setup time per session while the table filled;
//! - `show services sessions count` at that size: unfiltered (from the live counters) and
//!   with a filter (`protocol 17`, a walk of every slot, counting without snapshots);
//! - the longest and median time of one chunk of a full `show services sessions` listing
//!   (`sessions_chunk`, 1 024 slots, what a worker does between two receive polls while a
//!   listing runs) and of one chunk of a filtered count.
//!
//! Run: `cargo bench -p mspic-flow --bench capacity -- [--sessions N] [--napt]`
//! (default 10 000 000, firewall only). Needs about 1 GB per million sessions beside the
//! table itself while it fills (the frames are built one at a time, not kept).

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mspic_flow::{Frame, IfIndex, Policy, SessionFilter, Shard, ShardConfig, Time, Verdict};

/// Slots per chunk of a listing (the dataplane's default `chunk`).
const CHUNK: usize = 1024;

fn main() {
    let mut sessions: u32 = 10_000_000;
    let mut napt = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--sessions" => {
                sessions = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n| (1..=16_000_000).contains(&n))
                    .unwrap_or_else(|| usage())
            }
            "--napt" => napt = true,
            // What `cargo bench` passes to every bench binary.
            "--bench" => {}
            _ => usage(),
        }
    }
    run(sessions, napt);
}

fn usage() -> ! {
    eprintln!("usage: capacity [--sessions N (1..=16000000)] [--napt]");
    std::process::exit(2)
}

fn run(n: u32, napt: bool) {
    let text = common::config_with_pool(napt, "198.18.0.0/22");
    let c = mspic_config::parse(&text, "capacity.conf").expect("bench config");
    let policy = Arc::new(Policy::compile(&c).expect("bench policy"));
    let before = resident_bytes();
    let mut shard = Shard::new(
        ShardConfig {
            capacity: n as usize,
            prealloc: n as usize,
            verify_checksums: false,
            ..ShardConfig::default()
        },
        policy,
    );
    let now = Time::from_secs(10);
    let mut buf = vec![0u8; 2048];
    let start = Instant::now();
    for i in 0..n {
        let f = common::flow(i);
        buf[..f.len()].copy_from_slice(&f);
        let mut fr = Frame::new(&mut buf, f.len());
        let v = shard.process(now, IfIndex(0), &mut fr);
        assert!(matches!(v, Verdict::Forward { .. }), "session {i}: {v:?}");
    }
    let fill = start.elapsed();
    let after = resident_bytes();
    assert_eq!(shard.session_count(), n as usize);
    let kind = if napt { "napt-44" } else { "stateful firewall" };
    println!("sessions: {n} ({kind}, one shard)");
    let per = (after.saturating_sub(before)) as f64 / f64::from(n);
    println!(
        "memory: {:.0} MB resident for the table, {per:.0} bytes per session (engine's estimate {})",
        (after.saturating_sub(before)) as f64 / 1e6,
        Shard::bytes_per_session()
    );
    println!(
        "setup while filling: {:.0} ns per session",
        fill.as_nanos() as f64 / f64::from(n)
    );

    let all = SessionFilter::default();
    let udp = SessionFilter {
        protocol: Some(17),
        ..SessionFilter::default()
    };
    let (t, c) = timed(|| shard.session_counts(&all));
    println!("count, unfiltered: {} sessions in {}", total(&c), ms(t));
    let (t, c) = timed(|| shard.session_counts(&udp));
    println!("count, protocol 17: {} sessions in {}", total(&c), ms(t));

    let listing = chunk_times(&shard, |s, at| {
        let mut out = Vec::with_capacity(CHUNK);
        let next = s.sessions_chunk(&all, at, CHUNK, &mut out);
        black_box(out);
        next
    });
    report("listing chunk", &listing);
    let counting = chunk_times(&shard, |s, at| {
        let mut per_set = Vec::new();
        s.session_counts_chunk(&udp, at, CHUNK, &mut per_set)
    });
    report("filtered count chunk", &counting);
}

fn total(c: &[mspic_flow::SessionCount]) -> u64 {
    c.iter().map(|c| c.sessions).sum()
}

fn timed<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let t = Instant::now();
    let v = black_box(f());
    (t.elapsed(), v)
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// The time of every chunk of a walk over the whole table.
fn chunk_times(shard: &Shard, step: impl Fn(&Shard, usize) -> Option<usize>) -> Vec<Duration> {
    let mut times = Vec::new();
    let mut at = 0;
    loop {
        let t = Instant::now();
        let next = step(shard, at);
        times.push(t.elapsed());
        match next {
            Some(n) => at = n,
            None => return times,
        }
    }
}

fn report(what: &str, times: &[Duration]) {
    let mut sorted = times.to_vec();
    sorted.sort();
    let median = sorted[sorted.len() / 2];
    let p999 = sorted[(sorted.len() * 999 / 1000).min(sorted.len() - 1)];
    let max = sorted[sorted.len() - 1];
    println!(
        "{what} ({CHUNK} slots): {} chunks, median {}, 99.9th percentile {}, longest {}",
        times.len(),
        ms(median),
        ms(p999),
        ms(max)
    );
}

/// The process's resident set (`VmRSS` of /proc/self/status), in bytes.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
