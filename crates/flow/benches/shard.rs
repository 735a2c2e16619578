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

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use etherparse::PacketBuilder;
use mspic_flow::{Frame, IfIndex, Policy, SessionFilter, Shard, ShardConfig, Time, Verdict, BATCH};

const FIREWALL: &str = r#"
interfaces {
    ge-0/0/0 { unit 0 { family inet { service { input { service-set ss; } output { service-set ss; } } address 10.0.0.1/16; } } }
    ge-0/0/1 { unit 0 { family inet { address 203.0.113.1/24; } } }
    ms-1/1/0 { services-options { inactivity-timeout 3600; } unit 0 { family inet; } }
}
routing-options { static { route 198.51.100.0/24 next-hop 203.0.113.2; } }
services {
    stateful-firewall {
        rule r { match-direction input; term t { from { source-address { 10.0.0.0/16; } } then { accept; } } }
    }
    NAT
    service-set ss { stateful-firewall-rules r; NATRULES interface-service { service-interface ms-1/1/0; } }
}
"#;

fn config(napt: bool) -> String {
    let (nat, rules) = if napt {
        (
            "nat { pool p { address 203.0.113.0/25; port { automatic; } } rule n { match-direction input; term t { from { source-address { 10.0.0.0/16; } } then { translated { source-pool p; translation-type { napt-44; } } } } } }",
            "nat-rules n;",
        )
    } else {
        ("", "")
    };
    FIREWALL
        .replace("NATRULES", rules)
        .replace("NAT\n", &format!("{nat}\n"))
}

fn udp(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 1, 0])
        .ipv4(src.octets(), dst.octets(), 64)
        .udp(sport, dport);
    let mut v = Vec::new();
    b.write(&mut v, b"0123456789abcdef").unwrap();
    v
}

/// The i-th client flow: 10.0.x.y:port → 198.51.100.7:53, unique for i < 16M.
fn flow(i: u32) -> Vec<u8> {
    let host = 2 + (i % 60_000);
    let port = 1024 + (i / 60_000) as u16;
    let src = Ipv4Addr::new(10, 0, (host >> 8) as u8, host as u8);
    udp(src, port, Ipv4Addr::new(198, 51, 100, 7), 53)
}

struct Setup {
    shard: Shard,
    /// Established frames in both directions, in a random order.
    frames: Vec<(IfIndex, Vec<u8>)>,
    now: Time,
}

fn setup(sessions: u32, napt: bool, verify: bool) -> Setup {
    let c = mspic_config::parse(&config(napt), "bench.conf").unwrap();
    let policy = Arc::new(Policy::compile(&c).unwrap());
    let mut shard = Shard::new(
        ShardConfig {
            capacity: sessions as usize + 200_000,
            prealloc: sessions as usize + 100_000,
            verify_checksums: verify,
            ..ShardConfig::default()
        },
        policy,
    );
    let now = Time::from_secs(10);
    let mut buf = vec![0u8; 2048];
    let mut frames = Vec::new();
    for i in 0..sessions {
        let f = flow(i);
        buf[..f.len()].copy_from_slice(&f);
        let mut fr = Frame::new(&mut buf, f.len());
        let v = shard.process(now, IfIndex(0), &mut fr);
        assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
        if frames.len() < 1 << 16 {
            // A reply to the translated packet, as it comes back from the server.
            let out = fr.bytes().to_vec();
            frames.push((IfIndex(0), f));
            frames.push((IfIndex(1), reply_to(&out)));
        }
    }
    // Uniformly random order (xorshift; fixed seed).
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for i in (1..frames.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        frames.swap(i, (x % (i as u64 + 1)) as usize);
    }
    Setup { shard, frames, now }
}

fn reply_to(out: &[u8]) -> Vec<u8> {
    let ip = &out[14..];
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    let sport = u16::from_be_bytes([ip[20], ip[21]]);
    let dport = u16::from_be_bytes([ip[22], ip[23]]);
    udp(dst, dport, src, sport)
}

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
                            let src = Ipv4Addr::new(10, 0, 250, 2 + (n % 250) as u8);
                            udp(
                                src,
                                1024 + (n / 250 % 60_000) as u16,
                                Ipv4Addr::new(198, 51, 100, 8),
                                53,
                            )
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
