//! Time to parse and validate large configurations, in `set` lines: 100,000 static routes
//! (6.5 MB) and 10 MB of lines touching every stanza (applications, prefix lists, firewall
//! and NAT rules, pools, service sets, routes).
//!
//! Run: `cargo bench -p mspic-config --bench parse` (criterion prints the time per parse
//! and the throughput in bytes per second).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[path = "../tests/gen/mod.rs"]
mod gen;

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for (name, text) in [
        ("100k static routes", gen::routes(100_000)),
        ("10 MB mixed set lines", gen::mixed(10_000_000)),
    ] {
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| mspic_config::parse(black_box(&text), "bench.conf").expect("valid"))
        });
    }
    g.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
