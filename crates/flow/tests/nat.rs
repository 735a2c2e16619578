//! NAT: table tests of every translation type in both directions (the expected packets are
//! built from scratch by etherparse and compared byte for byte), pool edges, exhaustion,
//! ICMP errors, EIM/EIF, paired pooling, and shard-ownership properties.

mod common;

use common::*;
use mspic_flow::{DropReason, Verdict};
use proptest::prelude::*;

/// The testbed with NAT: `pools` and `nat_terms` go into `services nat`, `extra_ifaces`
/// into `interfaces`, `extra_services` into `services`.
fn nat_config(pools: &str, nat_terms: &str, extra: &str) -> String {
    format!(
        r#"
interfaces {{
    ge-0/0/0 {{ unit 0 {{ family inet {{ service {{ input {{ service-set ss; }} output {{ service-set ss; }} }} address 10.0.0.1/24; }} }} }}
    ge-0/0/1 {{ unit 0 {{ family inet {{ address 203.0.113.1/24; }} }} }}
    ms-1/1/0 {{ services-options {{ inactivity-timeout 30; }} unit 0 {{ family inet; }} }}
}}
routing-options {{ static {{ route 198.51.100.0/24 next-hop 203.0.113.2; }} }}
services {{
    stateful-firewall {{
        rule allow-out {{
            match-direction input;
            term t1 {{ from {{ source-address {{ 10.0.0.0/24; }} }} then {{ accept; }} }}
        }}
    }}
    nat {{
        {pools}
        rule snat {{
            match-direction input;
            {nat_terms}
        }}
    }}
    service-set ss {{
        stateful-firewall-rules allow-out;
        nat-rules snat;
        interface-service {{ service-interface ms-1/1/0; }}
    }}
    {extra}
}}
"#
    )
}

const NAPT_POOL: &str = "pool public { address 203.0.113.128/25; port { automatic; } }";

fn term(ttype: &str, then_extra: &str) -> String {
    format!(
        "term t1 {{ from {{ source-address {{ 10.0.0.0/24; }} }} then {{ translated {{ source-pool public; translation-type {{ {ttype}; }} {then_extra} }} }} }}"
    )
}

fn napt() -> String {
    nat_config(NAPT_POOL, &term("napt-44", ""), "")
}

/// One row of a translation table: a packet in and the exact packet expected out.
struct Row {
    name: &'static str,
    input: Vec<u8>,
    expected: Vec<u8>,
}

fn run_table(cfg: &str, rows: Vec<Row>) {
    let mut h = Harness::new(cfg);
    for r in rows {
        let (v, out) = h.send(&r.input);
        assert!(matches!(v, Verdict::Forward { .. }), "{}: {v:?}", r.name);
        let expected = with_macs(r.expected, &r.input);
        assert_eq!(out, expected, "{}: translated frame differs", r.name);
        assert!(checksums_ok(&out), "{}: checksums", r.name);
    }
}

#[test]
fn napt44_table() {
    run_table(
        &napt(),
        vec![
            Row {
                name: "tcp syn out",
                input: tcp("10.0.0.2", 40000, "198.51.100.7", 80, "S", 1, 0, b""),
                expected: tcp_ttl(
                    "203.0.113.128",
                    1024,
                    "198.51.100.7",
                    80,
                    "S",
                    1,
                    0,
                    b"",
                    63,
                ),
            },
            Row {
                name: "tcp syn-ack back",
                input: tcp("198.51.100.7", 80, "203.0.113.128", 1024, "SA", 9, 2, b""),
                expected: tcp_ttl("198.51.100.7", 80, "10.0.0.2", 40000, "SA", 9, 2, b"", 63),
            },
            Row {
                name: "tcp data out",
                input: tcp(
                    "10.0.0.2",
                    40000,
                    "198.51.100.7",
                    80,
                    "PA",
                    2,
                    10,
                    b"GET / HTTP/1.0\r\n\r\n",
                ),
                expected: tcp_ttl(
                    "203.0.113.128",
                    1024,
                    "198.51.100.7",
                    80,
                    "PA",
                    2,
                    10,
                    b"GET / HTTP/1.0\r\n\r\n",
                    63,
                ),
            },
            Row {
                name: "udp out (ports are per protocol)",
                input: udp("10.0.0.2", 5353, "198.51.100.7", 53, b"query"),
                expected: udp_ttl("203.0.113.128", 1024, "198.51.100.7", 53, b"query", 63),
            },
            Row {
                name: "udp back",
                input: udp("198.51.100.7", 53, "203.0.113.128", 1024, b"answer!"),
                expected: udp_ttl("198.51.100.7", 53, "10.0.0.2", 5353, b"answer!", 63),
            },
            Row {
                name: "udp checksum 0 stays 0",
                input: zero_udp_checksum(udp("10.0.0.3", 7000, "198.51.100.7", 53, b"q")),
                expected: zero_udp_checksum(udp_ttl(
                    "203.0.113.128",
                    1025,
                    "198.51.100.7",
                    53,
                    b"q",
                    63,
                )),
            },
            Row {
                name: "icmp echo id translated",
                input: ping("10.0.0.2", "198.51.100.7", 77, 1, false),
                expected: ping_ttl("203.0.113.128", "198.51.100.7", 1024, 1, false, 63),
            },
            Row {
                name: "icmp echo reply id restored",
                input: ping("198.51.100.7", "203.0.113.128", 1024, 1, true),
                expected: ping_ttl("198.51.100.7", "10.0.0.2", 77, 1, true, 63),
            },
        ],
    );
}

#[test]
fn dynamic_nat44_table() {
    let cfg = nat_config(
        "pool public { address 203.0.113.200/30; }",
        &term("dynamic-nat44", ""),
        "",
    );
    run_table(
        &cfg,
        vec![
            Row {
                name: "address only, port kept",
                input: udp("10.0.0.2", 40000, "198.51.100.7", 53, b"q"),
                expected: udp_ttl("203.0.113.200", 40000, "198.51.100.7", 53, b"q", 63),
            },
            Row {
                name: "same host, same address",
                input: tcp("10.0.0.2", 40001, "198.51.100.7", 80, "S", 5, 0, b""),
                expected: tcp_ttl(
                    "203.0.113.200",
                    40001,
                    "198.51.100.7",
                    80,
                    "S",
                    5,
                    0,
                    b"",
                    63,
                ),
            },
            Row {
                name: "next host, next address",
                input: udp("10.0.0.3", 40000, "198.51.100.7", 53, b"q"),
                expected: udp_ttl("203.0.113.201", 40000, "198.51.100.7", 53, b"q", 63),
            },
            Row {
                name: "reply",
                input: udp("198.51.100.7", 53, "203.0.113.201", 40000, b"a"),
                expected: udp_ttl("198.51.100.7", 53, "10.0.0.3", 40000, b"a", 63),
            },
        ],
    );
}

#[test]
fn basic_nat44_table() {
    let cfg = nat_config(
        "pool public { address 198.18.0.0/24; }",
        &term("basic-nat44", ""),
        "",
    )
    .replace(
        "routing-options {",
        "routing-options { static { route 198.18.0.0/24 discard; } ",
    );
    run_table(
        &cfg,
        vec![
            Row {
                name: "static 1:1 by offset",
                input: udp("10.0.0.5", 1234, "198.51.100.7", 53, b"q"),
                expected: udp_ttl("198.18.0.5", 1234, "198.51.100.7", 53, b"q", 63),
            },
            Row {
                name: "reply to the static address",
                input: udp("198.51.100.7", 53, "198.18.0.5", 1234, b"a"),
                expected: udp_ttl("198.51.100.7", 53, "10.0.0.5", 1234, b"a", 63),
            },
        ],
    );
}

/// Destination NAT on traffic entering from the outside: a service set on ge-0/0/1 input.
fn dnat_config(ttype: &str, src_pool: bool) -> String {
    let src = if src_pool { "source-pool public;" } else { "" };
    format!(
        r#"
interfaces {{
    ge-0/0/0 {{ unit 0 {{ family inet {{ address 10.0.0.1/24; }} }} }}
    ge-0/0/1 {{ unit 0 {{ family inet {{ service {{ input {{ service-set pub; }} output {{ service-set pub; }} }} address 203.0.113.1/24; }} }} }}
    ms-1/1/0 {{ unit 0 {{ family inet; }} }}
}}
routing-options {{ static {{ route 198.51.100.0/24 next-hop 203.0.113.2; }} }}
services {{
    nat {{
        pool web {{ address 10.0.0.10/32; }}
        pool public {{ address 203.0.113.128/25; {ports} }}
        rule dnat {{
            match-direction input;
            term t1 {{
                from {{ destination-address {{ 203.0.113.10/32; }} }}
                then {{ translated {{ destination-pool web; {src} translation-type {{ {ttype}; }} }} }}
            }}
        }}
    }}
    service-set pub {{ nat-rules dnat; interface-service {{ service-interface ms-1/1/0; }} }}
}}
"#,
        ports = if ttype == "twice-napt-44" {
            "port { automatic; }"
        } else {
            ""
        }
    )
}

#[test]
fn dnat44_table() {
    run_table(
        &dnat_config("dnat-44", false),
        vec![
            Row {
                name: "inbound to the public address",
                input: tcp("198.51.100.7", 5555, "203.0.113.10", 80, "S", 1, 0, b""),
                expected: tcp_ttl("198.51.100.7", 5555, "10.0.0.10", 80, "S", 1, 0, b"", 63),
            },
            Row {
                name: "server reply leaves from the public address",
                input: tcp("10.0.0.10", 80, "198.51.100.7", 5555, "SA", 3, 2, b""),
                expected: tcp_ttl(
                    "203.0.113.10",
                    80,
                    "198.51.100.7",
                    5555,
                    "SA",
                    3,
                    2,
                    b"",
                    63,
                ),
            },
        ],
    );
}

#[test]
fn twice_napt44_table() {
    run_table(
        &dnat_config("twice-napt-44", true),
        vec![
            Row {
                name: "both translated",
                input: udp("198.51.100.7", 5555, "203.0.113.10", 53, b"q"),
                expected: udp_ttl("203.0.113.128", 1024, "10.0.0.10", 53, b"q", 63),
            },
            Row {
                name: "both restored",
                input: udp("10.0.0.10", 53, "203.0.113.128", 1024, b"a"),
                expected: udp_ttl("203.0.113.10", 53, "198.51.100.7", 5555, b"a", 63),
            },
        ],
    );
}

#[test]
fn twice_dynamic_and_basic_tables() {
    let dynamic = dnat_config("twice-dynamic-nat-44", true);
    run_table(
        &dynamic,
        vec![
            Row {
                name: "twice dynamic: address-only source, static destination",
                input: udp("198.51.100.7", 5555, "203.0.113.10", 53, b"q"),
                expected: udp_ttl("203.0.113.128", 5555, "10.0.0.10", 53, b"q", 63),
            },
            Row {
                name: "twice dynamic reply",
                input: udp("10.0.0.10", 53, "203.0.113.128", 5555, b"a"),
                expected: udp_ttl("203.0.113.10", 53, "198.51.100.7", 5555, b"a", 63),
            },
        ],
    );
    let basic = dnat_config("twice-basic-nat-44", true).replace(
        "destination-address { 203.0.113.10/32; } }",
        "destination-address { 203.0.113.10/32; } source-address { 198.51.100.0/25; } }",
    );
    run_table(
        &basic,
        vec![
            Row {
                name: "twice basic: static both ways",
                input: udp("198.51.100.7", 5555, "203.0.113.10", 53, b"q"),
                expected: udp_ttl("203.0.113.135", 5555, "10.0.0.10", 53, b"q", 63),
            },
            Row {
                name: "twice basic reply",
                input: udp("10.0.0.10", 53, "203.0.113.135", 5555, b"a"),
                expected: udp_ttl("203.0.113.10", 53, "198.51.100.7", 5555, b"a", 63),
            },
        ],
    );
}

#[test]
fn no_translation_term_wins_when_first() {
    let cfg = nat_config(
        NAPT_POOL,
        &format!(
            "term keep {{ from {{ source-address {{ 10.0.0.3/32; }} }} then {{ no-translation; }} }} {}",
            term("napt-44", "")
        ),
        "",
    );
    run_table(
        &cfg,
        vec![
            Row {
                name: "excluded host untouched",
                input: udp("10.0.0.3", 1, "198.51.100.7", 53, b"q"),
                expected: udp_ttl("10.0.0.3", 1, "198.51.100.7", 53, b"q", 63),
            },
            Row {
                name: "others translated",
                input: udp("10.0.0.2", 1, "198.51.100.7", 53, b"q"),
                expected: udp_ttl("203.0.113.128", 1024, "198.51.100.7", 53, b"q", 63),
            },
        ],
    );
}

#[test]
fn session_shows_nat_flag_and_pool_tuple() {
    let mut h = Harness::new(&napt());
    h.send(&tcp("10.0.0.2", 40000, "198.51.100.7", 80, "S", 1, 0, b""));
    let s = &h.sessions()[0];
    assert_eq!(s.flags & mspic_flow::FLAG_NAT, mspic_flow::FLAG_NAT);
    let nat = s.nat.as_ref().unwrap();
    assert_eq!(nat.translation_type, mspic_config::TranslationType::Napt44);
    let src = nat.source.unwrap();
    assert_eq!(
        (src.original.addr, src.original.port),
        (ip("10.0.0.2"), Some(40000))
    );
    assert_eq!(
        (src.translated.addr, src.translated.port),
        (ip("203.0.113.128"), Some(1024))
    );
    let o = &s.flows[1];
    assert_eq!(
        (o.src.addr, o.dst.addr, o.dst.port),
        (ip("198.51.100.7"), ip("203.0.113.128"), Some(1024))
    );
}

#[test]
fn pool_exhaustion_refuses_new_sessions_and_reuses_released_ports() {
    let cfg = nat_config(
        "pool public { address 203.0.113.128/32; port { range low 2000 high 2001; } }",
        &term("napt-44", ""),
        "",
    );
    let mut h = Harness::new(&cfg);
    assert!(matches!(
        h.send(&udp("10.0.0.2", 1, "198.51.100.7", 53, b"q")).0,
        Verdict::Forward { .. }
    ));
    h.advance_ms(10_000);
    assert!(matches!(
        h.send(&udp("10.0.0.2", 2, "198.51.100.7", 53, b"q")).0,
        Verdict::Forward { .. }
    ));
    let (v, _) = h.send(&udp("10.0.0.2", 3, "198.51.100.7", 53, b"q"));
    assert_eq!(v, Verdict::Drop(DropReason::NatExhausted));
    assert_eq!(h.stats().drop_nat_ports_exhausted, 1);
    assert_eq!(
        h.shard
            .nat_state()
            .pool_stats(0)
            .unwrap()
            .out_of_port_errors,
        1
    );
    // Existing sessions keep working.
    let (v, out) = h.send(&udp("198.51.100.7", 53, "203.0.113.128", 2001, b"a"));
    assert!(matches!(v, Verdict::Forward { .. }));
    assert_eq!(
        out,
        with_macs(udp_ttl("198.51.100.7", 53, "10.0.0.2", 2, b"a", 63), &out)
    );
    // The first session (port 2000) times out at 30 s; its port is handed out again.
    h.advance_ms(20_500);
    assert_eq!(h.sessions().len(), 1);
    let (_, out) = h.send(&udp("10.0.0.2", 3, "198.51.100.7", 53, b"q"));
    assert_eq!(
        out,
        with_macs(
            udp_ttl("203.0.113.128", 2000, "198.51.100.7", 53, b"q", 63),
            &out
        )
    );
    let st = h.shard.nat_state().pool_stats(0).unwrap();
    assert_eq!((st.ports_in_use, st.max_ports_in_use), (2, 2));
}

#[test]
fn address_only_pool_exhaustion() {
    let cfg = nat_config(
        "pool public { address 203.0.113.200/32; }",
        &term("dynamic-nat44", ""),
        "",
    );
    let mut h = Harness::new(&cfg);
    assert!(matches!(
        h.send(&udp("10.0.0.2", 1, "198.51.100.7", 53, b"q")).0,
        Verdict::Forward { .. }
    ));
    assert_eq!(
        h.send(&udp("10.0.0.3", 1, "198.51.100.7", 53, b"q")).0,
        Verdict::Drop(DropReason::NatExhausted)
    );
    assert_eq!(
        h.shard
            .nat_state()
            .pool_stats(0)
            .unwrap()
            .out_of_address_errors,
        1
    );
}

#[test]
fn preserve_parity_and_range() {
    let cfg = nat_config(
        "pool public { address 203.0.113.128/32; port { automatic; preserve-parity; preserve-range; } }",
        &term("napt-44", ""),
        "",
    );
    let mut h = Harness::new(&cfg);
    let (_, odd) = h.send(&udp("10.0.0.2", 40001, "198.51.100.7", 53, b"q"));
    let (_, even) = h.send(&udp("10.0.0.2", 40002, "198.51.100.7", 53, b"q"));
    let (_, low) = h.send(&udp("10.0.0.2", 800, "198.51.100.7", 53, b"q"));
    let port = |f: &[u8]| u16::from_be_bytes([f[34], f[35]]);
    assert_eq!(port(&odd) % 2, 1);
    assert_eq!(port(&even) % 2, 0);
    assert!(port(&odd) >= 1024 && port(&even) >= 1024);
    assert!(
        port(&low) < 1024,
        "privileged source keeps a privileged port"
    );
    // More privileged sources than one: each gets its own low port (not all 1023).
    let mut lows = std::collections::HashSet::new();
    for sport in 700..720 {
        let (v, f) = h.send(&udp("10.0.0.3", sport, "198.51.100.7", 53, b"q"));
        assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
        assert!((1..1024).contains(&port(&f)), "{}", port(&f));
        lows.insert(port(&f));
    }
    assert_eq!(lows.len(), 20, "{lows:?}");
}

#[test]
fn traffic_to_pool_without_session_is_dropped() {
    let mut h = Harness::new(&napt());
    let (v, _) = h.send(&udp("198.51.100.7", 53, "203.0.113.130", 5000, b"x"));
    assert_eq!(v, Verdict::Drop(DropReason::NatNoSession));
    assert_eq!(h.shard.nat_state().stats.pool_no_session_drops, 1);
}

#[test]
fn icmp_error_embedded_header_translated() {
    let mut h = Harness::new(&napt());
    let (_, out) = h.send(&udp("10.0.0.2", 40000, "198.51.100.7", 53, b"query"));
    // A router on the path (203.0.113.2) reports the translated packet unreachable.
    let err = port_unreachable("203.0.113.2", "203.0.113.128", &out);
    let (v, got) = h.send(&err);
    assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
    // Expected: outer to the inside host, quoted packet restored to what it sent.
    let mut quoted = udp_ttl("10.0.0.2", 40000, "198.51.100.7", 53, b"query", 63);
    quoted[..12].copy_from_slice(&out[..12]);
    let expected = with_macs(
        port_unreachable_ttl("203.0.113.2", "10.0.0.2", &quoted, 63),
        &err,
    );
    assert_eq!(got, expected);
    assert!(checksums_ok(&got) && inner_ip_checksum_ok(&got));
    assert_eq!(h.shard.nat_state().stats.icmp_error_translations, 1);
}

fn port_unreachable_ttl(src: &str, dst: &str, quoted: &[u8], ttl: u8) -> Vec<u8> {
    let mut f = port_unreachable(src, dst, quoted);
    // Rebuild with the given TTL: set it and recompute the IPv4 header checksum by hand.
    f[14 + 8] = ttl;
    f[14 + 10] = 0;
    f[14 + 11] = 0;
    let mut s: u32 = 0;
    for i in (0..20).step_by(2) {
        s += u32::from(u16::from_be_bytes([f[14 + i], f[15 + i]]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    let c = !(s as u16);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    f
}

#[test]
fn endpoint_independent_mapping_and_filtering() {
    let cfg = nat_config(
        NAPT_POOL,
        &term(
            "napt-44",
            "mapping-type endpoint-independent; filtering-type endpoint-independent;",
        ),
        "",
    );
    let mut h = Harness::new(&cfg);
    let (_, a) = h.send(&udp("10.0.0.2", 4000, "198.51.100.7", 3478, b"q"));
    let (_, b) = h.send(&udp("10.0.0.2", 4000, "198.51.100.8", 3478, b"q"));
    let port = |f: &[u8]| u16::from_be_bytes([f[34], f[35]]);
    assert_eq!(
        port(&a),
        port(&b),
        "same internal endpoint, same mapping (EIM)"
    );
    // Any external host may now reach the mapping (EIF).
    let (v, got) = h.send(&udp("198.51.100.9", 777, "203.0.113.128", port(&a), b"hi"));
    assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
    assert_eq!(
        got,
        with_macs(
            udp_ttl("198.51.100.9", 777, "10.0.0.2", 4000, b"hi", 63),
            &got
        )
    );
    assert_eq!(h.shard.nat_state().eim_mappings().count(), 1);
    // The mapping outlives its sessions by the mapping timeout, then the port is free.
    h.advance_ms(31_000);
    assert!(h.sessions().is_empty());
    assert_eq!(h.shard.nat_state().eim_mappings().count(), 1);
    h.advance_ms(300_000);
    assert_eq!(h.shard.nat_state().eim_mappings().count(), 0);
    assert_eq!(h.shard.nat_state().pool_stats(0).unwrap().ports_in_use, 0);
}

#[test]
fn paired_pooling_keeps_one_address_per_host() {
    let cfg = nat_config(
        "pool public { address 203.0.113.128/30; port { automatic; } address-allocation round-robin; }",
        &term("napt-44", "address-pooling paired;"),
        "",
    );
    let mut h = Harness::new(&cfg);
    let addr = |f: &[u8]| [f[26], f[27], f[28], f[29]];
    let mut seen = std::collections::HashMap::new();
    for i in 0..12u16 {
        let host = format!("10.0.0.{}", 2 + i % 3);
        let (_, out) = h.send(&udp(&host, 1000 + i, "198.51.100.7", 53, b"q"));
        let a = addr(&out);
        assert_eq!(*seen.entry(host).or_insert(a), a, "paired address changed");
    }
    let distinct: std::collections::HashSet<_> = seen.values().collect();
    assert_eq!(
        distinct.len(),
        3,
        "round-robin spreads hosts over addresses"
    );
}

#[test]
fn invalid_pool_members_rejected() {
    for (pool, word) in [
        ("address 127.0.0.1/32;", "loopback"),
        ("address 224.0.0.1/32;", "multicast"),
        ("address 0.0.0.0/32;", "0.0.0.0"),
        ("address 255.255.255.255/32;", "broadcast"),
        ("address 240.0.0.1/32;", "class E"),
    ] {
        let cfg = nat_config(
            &format!("pool public {{ {pool} port {{ automatic; }} }}"),
            &term("napt-44", ""),
            "",
        );
        let err = match mspic_config::parse(&cfg, "t") {
            Err(e) => e.to_string(),
            Ok(c) => mspic_flow::Policy::compile(&c).unwrap_err().to_string(),
        };
        assert!(err.contains(word), "{pool}: {err}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Translate, then send the mirror reply back: it is restored to the mirror of the
    /// original packet, for every translation type.
    #[test]
    fn reply_restores_original(host in 2u8..250, sport in 1024u16..65535, server in 2u8..250,
                               dport in 1u16..65535, kind in 0usize..4, icmp in any::<bool>()) {
        let cfgs = [
            napt(),
            nat_config("pool public { address 203.0.113.128/25; }", &term("dynamic-nat44", ""), ""),
            nat_config("pool public { address 198.18.0.0/24; }", &term("basic-nat44", ""), "")
                .replace("routing-options {", "routing-options { static { route 198.18.0.0/24 discard; } "),
            nat_config(NAPT_POOL, &term("napt-44", "mapping-type endpoint-independent; filtering-type endpoint-independent; address-pooling paired;"), ""),
        ];
        let mut h = Harness::new(&cfgs[kind]);
        let (c, s) = (format!("10.0.0.{host}"), format!("198.51.100.{server}"));
        let orig = if icmp && kind != 1 && kind != 2 { ping(&c, &s, sport, 1, false) } else { udp(&c, sport, &s, dport, b"payload") };
        let (v, out) = h.send(&orig);
        prop_assert!(matches!(v, Verdict::Forward { .. }), "{:?}", v);
        prop_assert!(checksums_ok(&out));
        let (v, back) = h.send(&mirror(&out));
        prop_assert!(matches!(v, Verdict::Forward { .. }), "{:?}", v);
        let mut want = mirror(&orig);
        want[14 + 8] = 63;
        let want = fix_ip_checksum(want);
        prop_assert_eq!(back, want);
    }

    /// With N shards, both directions of every session (before and after NAT) have the same
    /// owner, and no two live NAPT sessions share an external (address, port, protocol).
    #[test]
    fn owners_agree_and_external_endpoints_unique(
        n in 1u32..=8,
        flows in prop::collection::vec((2u8..60, 1024u16..65535, 2u8..250, 1u16..1000, 0u8..3), 1..40),
        kind in 0usize..5,
    ) {
        let cfgs = [
            napt(),
            nat_config("pool public { address 203.0.113.128/25; }", &term("dynamic-nat44", ""), ""),
            nat_config(NAPT_POOL, &term("napt-44", "mapping-type endpoint-independent; address-pooling paired;"), ""),
            nat_config(
                "pool public { address 203.0.113.128/25; port { automatic; secured-port-block-allocation block-size 64 max-blocks-per-address 2; } }",
                &term("napt-44", ""),
                "",
            ),
            nat_config(
                "pool public { address 203.0.113.128/28; port { automatic; deterministic-port-block-allocation block-size 1008; } }",
                &term("deterministic-napt44", ""),
                "",
            ),
        ];
        let mut cl = Cluster::new(&cfgs[kind], n);
        for (host, sport, server, dport, proto) in flows {
            let (c, s) = (format!("10.0.0.{host}"), format!("198.51.100.{server}"));
            let f = match proto {
                0 => udp(&c, sport, &s, dport, b"x"),
                1 => tcp(&c, sport, &s, dport, "S", 1, 0, b""),
                _ => ping(&c, &s, sport, 1, false),
            };
            let (o1, v, out) = cl.send(&f);
            if !matches!(v, Verdict::Forward { .. }) {
                continue; // e.g. a repeated tuple, or the pool is exhausted in this shard
            }
            let reply = mirror(&out);
            let o2 = cl.owner(&reply);
            prop_assert_eq!(o1, o2, "reply to {:?} lands on another shard", &out[26..38]);
            let (_, v, _) = cl.send(&reply);
            prop_assert!(matches!(v, Verdict::Forward { .. }), "{:?}", v);
        }
        let mut seen = std::collections::HashSet::new();
        for s in cl.sessions() {
            if let Some(src) = s.nat.as_ref().and_then(|n| n.source) {
                if let Some(port) = src.translated.port {
                    prop_assert!(seen.insert((src.translated.addr, port, s.flows[0].protocol)),
                        "external endpoint used twice");
                }
            }
        }
    }
}

fn fix_ip_checksum(mut f: Vec<u8>) -> Vec<u8> {
    f[24] = 0;
    f[25] = 0;
    let mut s: u32 = 0;
    for i in (14..34).step_by(2) {
        s += u32::from(u16::from_be_bytes([f[i], f[i + 1]]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    let c = !(s as u16);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    f
}

#[test]
fn parity_with_an_even_number_of_shards() {
    let cfg = nat_config(
        "pool public { address 203.0.113.128/31; port { automatic; preserve-parity; } }",
        &term("napt-44", ""),
        "",
    );
    let mut cl = Cluster::new(&cfg, 2);
    let mut kept = 0;
    let mut broken = 0;
    for p in 0..60u16 {
        let (_, v, out) = cl.send(&udp("10.0.0.2", 3000 + p, "198.51.100.7", 53, b"q"));
        assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
        let port = u16::from_be_bytes([out[34], out[35]]);
        if port % 2 == (3000 + p) % 2 {
            kept += 1;
        } else {
            broken += 1;
        }
    }
    let errors: u64 = cl
        .shards
        .iter()
        .map(|s| s.nat_state().pool_stats(0).unwrap().parity_port_errors)
        .sum();
    assert_eq!(errors, broken, "every broken parity is counted");
    assert!(kept > 0 && broken > 0);
}

/// [`dnat_config`] whose term also names `port-forwarding-mappings pf` (8080 → 80, 2222 →
/// 22), as the Junos "Port Forwarding" page configures it.
fn port_forwarding_config(ttype: &str, src_pool: bool) -> String {
    dnat_config(ttype, src_pool)
        .replace(
            "pool web {",
            "port-forwarding pf { destined-port 8080 translated-port 80; destined-port 2222 translated-port 22; }\n        pool web {",
        )
        .replace("then { translated {", "then { port-forwarding-mappings pf; translated {")
}

#[test]
fn port_forwarding_table() {
    run_table(
        &port_forwarding_config("dnat-44", false),
        vec![
            Row {
                name: "destined port forwarded",
                input: tcp("198.51.100.7", 5555, "203.0.113.10", 8080, "S", 1, 0, b""),
                expected: tcp_ttl("198.51.100.7", 5555, "10.0.0.10", 80, "S", 1, 0, b"", 63),
            },
            Row {
                name: "reply restored to the destined port",
                input: tcp("10.0.0.10", 80, "198.51.100.7", 5555, "SA", 3, 2, b""),
                expected: tcp_ttl(
                    "203.0.113.10",
                    8080,
                    "198.51.100.7",
                    5555,
                    "SA",
                    3,
                    2,
                    b"",
                    63,
                ),
            },
            Row {
                name: "second mapping, UDP",
                input: udp("198.51.100.8", 6000, "203.0.113.10", 2222, b"x"),
                expected: udp_ttl("198.51.100.8", 6000, "10.0.0.10", 22, b"x", 63),
            },
            Row {
                name: "unmapped port keeps its number",
                input: tcp("198.51.100.7", 5556, "203.0.113.10", 443, "S", 1, 0, b""),
                expected: tcp_ttl("198.51.100.7", 5556, "10.0.0.10", 443, "S", 1, 0, b"", 63),
            },
        ],
    );
    run_table(
        &port_forwarding_config("twice-napt-44", true),
        vec![
            Row {
                name: "twice-napt-44: source from the pool, destination forwarded",
                input: udp("198.51.100.7", 5555, "203.0.113.10", 8080, b"q"),
                expected: udp_ttl("203.0.113.128", 1024, "10.0.0.10", 80, b"q", 63),
            },
            Row {
                name: "twice-napt-44: both restored",
                input: udp("10.0.0.10", 80, "203.0.113.128", 1024, b"a"),
                expected: udp_ttl("203.0.113.10", 8080, "198.51.100.7", 5555, b"a", 63),
            },
        ],
    );
}

/// With 1–6 shards, the forwarded first packet and the server's reply (whose ports differ
/// from the first packet's) are owned by the same shard, which holds the session.
#[test]
fn port_forwarding_replies_meet_their_session_on_every_shard_count() {
    for n in 1..=6 {
        let mut cl = Cluster::new(&port_forwarding_config("dnat-44", false), n);
        for client_port in 5000..5040u16 {
            let first = tcp(
                "198.51.100.7",
                client_port,
                "203.0.113.10",
                8080,
                "S",
                1,
                0,
                b"",
            );
            let (o1, v, out) = cl.send(&first);
            assert!(matches!(v, Verdict::Forward { .. }), "{n} shards: {v:?}");
            let p = mspic_wire::parse_frame(&out).unwrap();
            assert_eq!(p.key.dst_port, 80);
            let reply = tcp(
                "10.0.0.10",
                80,
                "198.51.100.7",
                client_port,
                "SA",
                3,
                2,
                b"",
            );
            let (o2, v, out) = cl.send(&reply);
            assert_eq!(o1, o2, "{n} shards, client port {client_port}");
            assert!(matches!(v, Verdict::Forward { .. }), "{n} shards: {v:?}");
            assert_eq!(mspic_wire::parse_frame(&out).unwrap().key.src_port, 8080);
        }
        assert_eq!(cl.sessions().len(), 40, "{n} shards");
    }
}

/// A translated reply whose TTL runs out here is answered time exceeded (RFC 1812 §5.3.1)
/// quoting the packet as the server sent it, to the pool address: the inside address
/// appears nowhere in the error.
#[test]
fn ttl_exceeded_on_a_translated_reply_quotes_the_untranslated_packet() {
    let mut h = Harness::new(&napt());
    let (v, out) = h.send(&udp("10.0.0.2", 5000, "198.51.100.7", 53, b"q"));
    assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
    let p = mspic_wire::parse_frame(&out).unwrap();
    let (pool, port) = (p.key.src, p.key.src_port);
    let reply = udp_ttl("198.51.100.7", 53, &pool.to_string(), port, b"a", 1);
    let (v, err) = h.send(&reply);
    assert!(matches!(v, Verdict::Reply { .. }), "{v:?}");
    let e = mspic_wire::parse_frame(&err).unwrap();
    assert_eq!(e.key.dst, ip("198.51.100.7"));
    let mspic_wire::L4::IcmpError {
        inner, icmp_type, ..
    } = e.l4
    else {
        panic!("{:?}", e.l4)
    };
    assert_eq!(icmp_type, 11, "time exceeded");
    assert_eq!((inner.key.dst, inner.key.dst_port), (pool, port));
    let inside = [10u8, 0, 0, 2];
    assert!(
        !err.windows(4).any(|w| w == inside),
        "the inside address leaked: {err:02x?}"
    );
    let counted = h.stats().drop_ttl_exceeded + h.shard.unattributed_statistics().drop_ttl_exceeded;
    assert_eq!(counted, 1);
}
