//! Per-packet cost of a shard: the established-flow fast path and session setup, with 1 000
//! and 1 000 000 live sessions, for plain stateful firewall and for NAPT-44.
//!
//! Run: `cargo bench -p mspic-flow --bench shard` (criterion prints time per packet and
//! packets per second). Frames are built once; each iteration copies one 60-byte frame into
//! the work buffer (as a worker would find it in its UMEM frame) and processes it. L4
//! checksums are not verified except in `napt44+checksum` (the engine's default verifies
//! them; the cost grows with the payload).
//!
//! `batch` copies 64 frames at a time into 64 work buffers (a worker's receive batch) and
//! runs them through `Shard::process` one by one (`…/process`) or through
//! `Shard::process_batch` (`…/process_batch`); times are per packet.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{fresh_flow, setup};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mspic_flow::{Frame, IfIndex, SessionFilter, Verdict, BATCH};

fn fast_path(c: &mut Criterion) {
    let mut g = c.benchmark_group("established");
    g.throughput(Throughput::Elements(1));
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(4));
    for (napt, verify) in [(false, false), (true, false), (true, true)] {
        for sessions in [1_000u32, 1_000_000] {
            let mut s = setup(sessions, napt, verify);
            let mut buf = vec![0u8; 2048];
            let mut i = 0usize;
            let name = match (napt, verify) {
                (false, _) => "sfw",
                (true, false) => "napt44",
                (true, true) => "napt44+checksum",
            };
            g.bench_with_input(BenchmarkId::new(name, sessions), &sessions, |b, _| {
                b.iter(|| {
                    let (ingress, f) = &s.frames[i % s.frames.len()];
                    i += 1;
                    buf[..f.len()].copy_from_slice(f);
                    let mut fr = Frame::new(&mut buf, f.len());
                    black_box(s.shard.process(s.now, *ingress, &mut fr))
                })
            });
        }
    }
    g.finish();
}

fn session_setup(c: &mut Criterion) {
    let mut g = c.benchmark_group("setup");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(4));
    for napt in [false, true] {
        for sessions in [1_000u32, 1_000_000] {
            let mut s = setup(sessions, napt, false);
            let mut buf = vec![0u8; 2048];
            // New flows come from 10.0.250.0/24, which the live sessions never use.
            let fresh = SessionFilter {
                source_prefix: Some("10.0.250.0/24".parse().unwrap()),
                ..SessionFilter::default()
            };
            let mut n = 0u32;
            let name = if napt { "napt44" } else { "sfw" };
            g.bench_with_input(BenchmarkId::new(name, sessions), &sessions, |b, _| {
                b.iter_custom(|iters| {
                    let frames: Vec<Vec<u8>> = (0..iters)
                        .map(|_| {
                            n = n.wrapping_add(1);
                            fresh_flow(n)
                        })
                        .collect();
                    let start = Instant::now();
                    for f in &frames {
                        buf[..f.len()].copy_from_slice(f);
                        let mut fr = Frame::new(&mut buf, f.len());
                        black_box(s.shard.process(s.now, IfIndex(0), &mut fr));
                    }
                    let t = start.elapsed();
                    s.shard.clear(&fresh, s.now);
                    t
                })
            });
        }
    }
    g.finish();
}

fn batch(c: &mut Criterion) {
    let mut g = c.benchmark_group("batch");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(4));
    for napt in [false, true] {
        for sessions in [1_000u32, 1_000_000] {
            let mut s = setup(sessions, napt, false);
            let mut bufs = vec![vec![0u8; 2048]; BATCH];
            let mut verdicts = [Verdict::Local; BATCH];
            let mut i = 0usize;
            let name = if napt { "napt44" } else { "sfw" };
            for batched in [false, true] {
                let id = if batched { "process_batch" } else { "process" };
                g.bench_with_input(
                    BenchmarkId::new(format!("{name}/{id}"), sessions),
                    &sessions,
                    |b, _| {
                        b.iter(|| {
                            let mut frames: [(IfIndex, Frame); BATCH] = {
                                let mut it = bufs.iter_mut();
                                std::array::from_fn(|_| {
                                    let (ingress, f) = &s.frames[i % s.frames.len()];
                                    i += 1;
                                    let buf = it.next().unwrap();
                                    buf[..f.len()].copy_from_slice(f);
                                    (*ingress, Frame::new(buf, f.len()))
                                })
                            };
                            if batched {
                                s.shard.process_batch(s.now, &mut frames, &mut verdicts);
                            } else {
                                for ((ingress, f), v) in frames.iter_mut().zip(&mut verdicts) {
                                    *v = s.shard.process(s.now, *ingress, f);
                                }
                            }
                            black_box(&verdicts);
                        })
                    },
                );
            }
        }
    }
    g.finish();
}

criterion_group!(benches, fast_path, session_setup, batch);
criterion_main!(benches);
