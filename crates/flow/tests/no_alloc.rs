//! The per-packet path of established flows allocates nothing: a counting global allocator
//! watches 10 000 packets over live sessions (plain forwarding, NAPT, NAT64, DS-Lite), one by one and
//! in batches of 64.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::*;
use mspic_flow::{Frame, IfIndex, ShardConfig, Verdict, BATCH};

struct Counting;

thread_local! {
    /// Allocations made by this thread (tests run in parallel threads).
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

fn allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn established_path_allocates_nothing(cfg: &str) {
    established_path_allocates_nothing_with(cfg, &|p| {
        udp("10.0.0.2", 2000 + p, "198.51.100.7", 53, b"query")
    });
}

/// As above with the outbound frames of `out` (one per flow).
fn established_path_allocates_nothing_with(cfg: &str, out: &dyn Fn(u16) -> Vec<u8>) {
    let mut h = Harness::with(
        cfg,
        ShardConfig {
            lookahead_min_sessions: 0,
            ..ShardConfig::default()
        },
    );
    let mut frames = Vec::new();
    for p in 0..100u16 {
        let out = out(p);
        let (v, translated) = h.send(&out);
        assert!(matches!(v, Verdict::Forward { .. }));
        frames.push((IfIndex(0), out));
        frames.push((IfIndex(1), mirror(&translated)));
    }
    let mut buf = vec![0u8; 4096];
    let before = allocs();
    for i in 0..10_000 {
        let (ingress, f) = &frames[i % frames.len()];
        buf[..f.len()].copy_from_slice(f);
        let mut frame = Frame::new(&mut buf, f.len());
        let v = h.shard.process(h.now, *ingress, &mut frame);
        assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
    }
    let after = allocs();
    assert_eq!(
        after - before,
        0,
        "allocations on the established-flow path"
    );

    let mut bufs = vec![vec![0u8; 2048]; BATCH];
    let mut batch: Vec<(IfIndex, Frame)> = bufs
        .iter_mut()
        .map(|b| (IfIndex(0), Frame::new(b, 0)))
        .collect();
    let mut verdicts = vec![Verdict::Local; BATCH];
    let before = allocs();
    for round in 0..10_000 / BATCH {
        for (j, (ingress, frame)) in batch.iter_mut().enumerate() {
            let (i, f) = &frames[(round * BATCH + j) % frames.len()];
            frame.buf[..f.len()].copy_from_slice(f);
            frame.len = f.len();
            *ingress = *i;
        }
        h.shard.process_batch(h.now, &mut batch, &mut verdicts);
        for v in &verdicts {
            assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
        }
    }
    let after = allocs();
    assert_eq!(
        after - before,
        0,
        "allocations on the batched established-flow path"
    );
}

#[test]
fn plain_forwarding() {
    established_path_allocates_nothing(&config(ACCEPT_INSIDE, ""));
}

#[test]
fn napt() {
    let cfg = config(ACCEPT_INSIDE, "").replace(
        "    service-set ss {\n        stateful-firewall-rules r;",
        "    nat { pool p { address 203.0.113.128/25; port { automatic; } }\n          rule n { match-direction input; term t { from { source-address { 10.0.0.0/24; } } then { translated { source-pool p; translation-type { napt-44; } } } } } }\n    service-set ss {\n        stateful-firewall-rules r;\n        nat-rules n;",
    );
    assert!(cfg.contains("nat-rules n;"));
    established_path_allocates_nothing(&cfg);
}

/// NAT64 translates both ways through a buffer allocated with the shard.
#[test]
fn stateful_nat64() {
    established_path_allocates_nothing_with(&nat64_config(""), &|p| {
        let mut out = Vec::new();
        etherparse::PacketBuilder::ethernet2(CLIENT_MAC, ROUTER_MAC)
            .ipv6(
                "2001:db8:10::2"
                    .parse::<std::net::Ipv6Addr>()
                    .unwrap()
                    .octets(),
                "64:ff9b::c633:6407"
                    .parse::<std::net::Ipv6Addr>()
                    .unwrap()
                    .octets(),
                64,
            )
            .udp(2000 + p, 53)
            .write(&mut out, b"query")
            .unwrap();
        out
    });
}

/// DS-Lite decapsulates and encapsulates in the frame buffer.
#[test]
fn ds_lite() {
    let cfg = nat64_config("").replace(
        "    nat {\n        pool",
        "    softwire {\n        softwire-concentrator { ds-lite aftr { softwire-address 2001:db8:aaaa::1; } }\n        rule sw { match-direction input; term t { then { ds-lite aftr; } } }\n    }\n    nat {\n        pool",
    );
    let cfg = cfg
        .replace(
            "from { source-address { 2001:db8:10::/64; } destination-address { 64:ff9b::/96; } }",
            "from { source-address { 192.0.0.0/29; } }",
        )
        .replace(
            "translation-type stateful-nat64;",
            "translation-type napt-44;",
        )
        .replace("nat-rules r64;", "softwire-rules sw; nat-rules r64;");
    assert!(
        cfg.contains("softwire-rules sw;") && cfg.contains("ds-lite aftr {"),
        "{cfg}"
    );
    established_path_allocates_nothing_with(&cfg, &|p| {
        let mut inner = Vec::new();
        etherparse::PacketBuilder::ipv4([192, 0, 0, 2], [198, 51, 100, 7], 64)
            .udp(2000 + p, 53)
            .write(&mut inner, b"query")
            .unwrap();
        let mut out = Vec::new();
        etherparse::PacketBuilder::ethernet2(CLIENT_MAC, ROUTER_MAC)
            .ipv6(
                "2001:db8:10::2"
                    .parse::<std::net::Ipv6Addr>()
                    .unwrap()
                    .octets(),
                "2001:db8:aaaa::1"
                    .parse::<std::net::Ipv6Addr>()
                    .unwrap()
                    .octets(),
                64,
            )
            .write(&mut out, etherparse::IpNumber::IPV4, &inner)
            .unwrap();
        out
    });
}

/// Allocations made while `n` first packets (new UDP sessions, then their timeouts) go
/// through a warm shard of configuration `cfg`.
fn first_packet_allocs(cfg: &str, n: u16) -> u64 {
    let mut h = Harness::new(cfg);
    // Warm-up: the session slab and the timer wheel reach their size.
    for p in 0..n {
        h.send(&udp("10.0.0.2", 10_000 + p, "198.51.100.7", 53, b"q"));
    }
    h.advance_ms(120_000);
    let _ = h.shard.drain_logs().count();
    let before = allocs();
    for p in 0..n {
        h.send(&udp("10.0.0.2", 20_000 + p, "198.51.100.7", 53, b"q"));
    }
    h.advance_ms(120_000);
    let after = allocs();
    assert_eq!(h.shard.drain_logs().count() > 0, cfg.contains("syslog {"));
    after - before
}

/// Logging (a rule match, a session open and close per session) adds no allocation to
/// first packets and timeouts: events go into a buffer allocated with the policy.
#[test]
fn logging_allocates_nothing() {
    let plain = config(
        "term t1 { from { source-address { 10.0.0.0/24; } } then { accept; syslog; } }",
        "",
    );
    let logged = plain.replace(
        "    service-set ss {\n",
        "    service-set ss {\n        syslog { host 192.0.2.9 { services any; } }\n",
    );
    assert!(logged.contains("syslog {"));
    assert_eq!(
        first_packet_allocs(&logged, 200),
        first_packet_allocs(&plain, 200)
    );
}

/// A NAT64 answer cut into IPv6 fragments (RFC 7915 §4) allocates nothing either: the
/// fragments after the first go into room the shard preallocated.
#[test]
fn fragments_allocate_nothing() {
    let mut h = Harness::with(
        &nat64_config(""),
        ShardConfig {
            lookahead_min_sessions: 0,
            ..ShardConfig::default()
        },
    );
    let mut query = Vec::new();
    etherparse::PacketBuilder::ethernet2(CLIENT_MAC, ROUTER_MAC)
        .ipv6(
            "2001:db8:10::2"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
            "64:ff9b::c633:6407"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
            64,
        )
        .udp(2000, 53)
        .write(&mut query, b"query")
        .unwrap();
    let (v, sent) = h.send(&query);
    assert!(matches!(v, Verdict::Forward { .. }));
    let p = mspic_wire::parse_frame(&sent).unwrap();
    let std::net::IpAddr::V4(pool) = p.key.src else {
        panic!("not IPv4")
    };
    let mut hdr = etherparse::Ipv4Header::new(
        0,
        50,
        etherparse::IpNumber::UDP,
        [198, 51, 100, 7],
        pool.octets(),
    )
    .unwrap();
    hdr.dont_fragment = false;
    let mut answer = Vec::new();
    etherparse::PacketBuilder::ethernet2(ROUTER_MAC, CLIENT_MAC)
        .ip(etherparse::IpHeaders::Ipv4(hdr, Default::default()))
        .udp(53, p.key.src_port)
        .write(&mut answer, &[7u8; 1472])
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let before = allocs();
    for _ in 0..1000 {
        buf[..answer.len()].copy_from_slice(&answer);
        let mut frame = Frame::new(&mut buf, answer.len());
        let v = h.shard.process(h.now, IfIndex(1), &mut frame);
        assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
        assert_eq!(h.shard.drain_generated().count(), 1);
    }
    assert_eq!(allocs() - before, 0, "allocations cutting NAT64 answers");
}
