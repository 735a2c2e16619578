//! Properties over arbitrary input: no panic on any byte sequence, and the session table
//! stays consistent under random traffic and time.

mod common;

use common::*;
use mspic_flow::IfIndex;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any byte sequence on any interface: a verdict, never a panic.
    #[test]
    fn arbitrary_frames_never_panic(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..20),
        ingress in 0u16..3,
    ) {
        let mut h = Harness::new(&config(ACCEPT_INSIDE, ""));
        for f in frames {
            h.send_on(IfIndex(ingress), &f);
        }
    }

    /// Valid headers with random bytes after them (mutations of real frames).
    #[test]
    fn mutated_frames_never_panic(
        flips in prop::collection::vec((0usize..120, any::<u8>()), 1..8),
        kind in 0u8..4,
    ) {
        let mut h = Harness::new(&config(ACCEPT_INSIDE, ""));
        let mut f = match kind {
            0 => tcp("10.0.0.2", 1000, "198.51.100.7", 80, "S", 1, 0, b"hello"),
            1 => udp("10.0.0.2", 1000, "198.51.100.7", 53, b"hello"),
            2 => ping("10.0.0.2", "198.51.100.7", 5, 1, false),
            _ => port_unreachable("198.51.100.7", "10.0.0.2", &udp("10.0.0.2", 1000, "198.51.100.7", 53, b"q")),
        };
        for (i, b) in flips {
            if i < f.len() { f[i] = b; }
        }
        h.send_on(IfIndex(0), &f);
        h.send_on(IfIndex(1), &f);
    }

    /// NAT64: mutations of the client's IPv6 packets, and of the server's IPv4 answers to
    /// the pool port of a live session (they reach the translator), never panic; the table
    /// stays consistent.
    #[test]
    fn mutated_nat64_frames_never_panic(
        flips in prop::collection::vec((14usize..140, any::<u8>()), 1..8),
        kind in 0u8..4,
        inbound in any::<bool>(),
    ) {
        let mut h = Harness::new(&nat64_config(""));
        let (c, s6) = ("2001:db8:10::2", "64:ff9b::c633:6407");
        let mut f = match kind {
            0 => tcp6(c, 1000, s6, 80, b"hello"),
            1 => udp6(c, 1000, s6, 53, b"hello"),
            2 => echo6(c, s6, 5),
            _ => udp6(c, 1000, s6, 53, &[0u8; 100]),
        };
        let (_, out) = h.send_on(IfIndex(0), &f);
        if inbound && out.len() > 34 && out[12..14] == [8, 0] {
            f = mirror(&out);
        }
        for (i, b) in flips {
            if i < f.len() { f[i] = b; }
        }
        h.send_on(IfIndex(u16::from(inbound)), &f);
        h.shard.check_consistency().unwrap();
    }

    /// Random conversations over a few endpoints with random time steps: the index, slab,
    /// timers and counts stay consistent and no packet is counted twice.
    #[test]
    fn table_stays_consistent(
        steps in prop::collection::vec((0u8..6, 0u16..4, 0u16..4, 0u64..20_000), 1..120),
    ) {
        let mut h = Harness::new(&config(ACCEPT_INSIDE, "inactivity-timeout 10; open-timeout 4; close-timeout 4;"));
        let n = steps.len() as u64;
        for (kind, a, b, dt) in steps {
            let sport = 1000 + a;
            let host = format!("10.0.0.{}", 2 + b);
            let f = match kind {
                0 => udp(&host, sport, "198.51.100.7", 53, b"q"),
                1 => udp("198.51.100.7", 53, &host, sport, b"a"),
                2 => tcp(&host, sport, "198.51.100.7", 80, "S", 1, 0, b""),
                3 => tcp("198.51.100.7", 80, &host, sport, "SA", 1, 2, b""),
                4 => tcp(&host, sport, "198.51.100.7", 80, "FA", 2, 2, b""),
                _ => ping(&host, "198.51.100.7", sport, 1, false),
            };
            h.send(&f);
            h.advance_ms(dt);
        }
        h.shard.check_consistency().unwrap();
        counts_agree_with_snapshots(&h);
        let total: u64 = h.sessions().iter().flat_map(|s| s.flows.iter()).map(|f| f.frames).sum();
        // Every packet is counted on at most one flow.
        prop_assert!(total <= n, "{total} frames counted for {n} packets");
    }
}

fn v6b(src: &str, dst: &str) -> etherparse::PacketBuilderStep<etherparse::IpHeaders> {
    let a = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap().octets();
    etherparse::PacketBuilder::ethernet2(CLIENT_MAC, ROUTER_MAC).ipv6(a(src), a(dst), 64)
}

fn tcp6(src: &str, sport: u16, dst: &str, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    v6b(src, dst)
        .tcp(sport, dport, 1, 1000)
        .syn()
        .write(&mut out, data)
        .unwrap();
    out
}

fn udp6(src: &str, sport: u16, dst: &str, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    v6b(src, dst)
        .udp(sport, dport)
        .write(&mut out, data)
        .unwrap();
    out
}

fn echo6(src: &str, dst: &str, id: u16) -> Vec<u8> {
    let mut out = Vec::new();
    v6b(src, dst)
        .icmpv6_echo_request(id, 1)
        .write(&mut out, b"ping")
        .unwrap();
    out
}

/// `session_counts` (whole and chunked) gives, for a few filters, what counting the
/// snapshots gives.
fn counts_agree_with_snapshots(h: &Harness) {
    use mspic_flow::SessionFilter;
    let filters = [
        SessionFilter::default(),
        SessionFilter {
            limit: Some(1),
            ..SessionFilter::default()
        },
        SessionFilter {
            protocol: Some(6),
            ..SessionFilter::default()
        },
        SessionFilter {
            source_port: Some(1001),
            ..SessionFilter::default()
        },
        SessionFilter {
            destination_prefix: Some("10.0.0.3/32".parse().unwrap()),
            ..SessionFilter::default()
        },
    ];
    for f in &filters {
        let snaps: Vec<_> = h.sessions().into_iter().filter(|s| f.matches(s)).collect();
        let want = (
            snaps.len() as u64,
            snaps.iter().map(|s| s.flows.len() as u64).sum::<u64>(),
        );
        let whole = h.shard.session_counts(f);
        let got = whole
            .iter()
            .fold((0, 0), |a, c| (a.0 + c.sessions, a.1 + c.flows));
        assert_eq!(got, want, "{f:?}");
        assert!(whole
            .iter()
            .all(|c| c.interface == "ms-1/1/0" && c.sessions > 0));
        let mut per_set = Vec::new();
        let mut cursor = 0;
        while let Some(next) = h.shard.session_counts_chunk(f, cursor, 3, &mut per_set) {
            cursor = next;
        }
        assert_eq!(h.shard.named_counts(&per_set), whole, "{f:?} in chunks");
    }
}
