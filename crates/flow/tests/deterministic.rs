//! Deterministic NAPT44 (Junos: "Deterministic NAT"): each subscriber's sessions take
//! ports of the block its address maps to, on every shard count; a full block refuses
//! (counted), and the block's ports come back when sessions end.

mod common;

use common::*;
use mspic_flow::{DropReason, Verdict};

/// napt-44 … deterministic-napt44 from 10.0.0.0/24 onto `pool`.
fn det_config(pool: &str) -> String {
    format!(
        r#"
interfaces {{
    ge-0/0/0 {{ unit 0 {{ family inet {{ service {{ input {{ service-set ss; }} output {{ service-set ss; }} }} address 10.0.0.1/24; }} }} }}
    ge-0/0/1 {{ unit 0 {{ family inet {{ address 203.0.113.1/24; }} }} }}
    ms-1/1/0 {{ services-options {{ inactivity-timeout 30; }} unit 0 {{ family inet; }} }}
}}
routing-options {{ static {{ route 198.51.100.0/24 next-hop 203.0.113.2; }} }}
services {{
    nat {{
        {pool}
        rule snat {{
            match-direction input;
            term t1 {{ from {{ source-address {{ 10.0.0.0/24; }} }} then {{ translated {{ source-pool det; translation-type {{ deterministic-napt44; }} }} }} }}
        }}
    }}
    service-set ss {{ nat-rules snat; interface-service {{ service-interface ms-1/1/0; }} }}
}}
"#
    )
}

/// 2 addresses × 2 blocks of 4 ports (2000–2007) for the 4 subscribers of 10.0.0.4/30
/// (its boundary addresses included).
fn small() -> String {
    det_config(
        "pool det { address 203.0.113.128/31; port { range low 2000 high 2007; deterministic-port-block-allocation block-size 4 include-boundary-addresses; } }",
    )
    .replace("10.0.0.0/24; } } then", "10.0.0.4/30; } } then")
}

#[test]
fn subscribers_get_their_computed_blocks() {
    let mut h = Harness::new(&small());
    let at = |a: &str, p: u16| Ok((a.to_string(), p));
    // Offsets 0..3 of 10.0.0.4/30 → (address, block).
    let rows = [
        ("10.0.0.6", 1, at("203.0.113.129", 2000)), // offset 2: address 1, block 0
        ("10.0.0.4", 1, at("203.0.113.128", 2000)),
        ("10.0.0.5", 1, at("203.0.113.128", 2004)),
        ("10.0.0.7", 1, at("203.0.113.129", 2004)),
        ("10.0.0.5", 2, at("203.0.113.128", 2005)),
        ("10.0.0.5", 3, at("203.0.113.128", 2006)),
        ("10.0.0.5", 4, at("203.0.113.128", 2007)),
        ("10.0.0.5", 5, Err(DropReason::NatExhausted)), // its block is full
        ("10.0.0.6", 2, at("203.0.113.129", 2001)),
    ];
    for (host, sport, want) in rows {
        assert_eq!(udp_source(&mut h, host, sport), want, "{host}:{sport}");
    }
    let st = h.shard.nat_state().pool_stats(0).unwrap().clone();
    assert_eq!(st.detnat_subscriber_exceeded_port_limits, 1);
    assert_eq!(
        (st.pool_users, st.port_blocks_in_use, st.ports_in_use),
        (4, 4, 8)
    );
    // Replies are restored.
    let (v, out) = h.send(&udp("198.51.100.7", 53, "203.0.113.128", 2006, b"a"));
    assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
    assert_eq!(
        out,
        with_macs(udp_ttl("198.51.100.7", 53, "10.0.0.5", 3, b"a", 63), &out)
    );
    // When the sessions end the block's ports come back.
    h.advance_ms(31_000);
    assert_eq!(udp_source(&mut h, "10.0.0.5", 9), at("203.0.113.128", 2004));
    let st = h.shard.nat_state().pool_stats(0).unwrap().clone();
    assert_eq!((st.pool_users, st.ports_in_use, st.addrs_in_use), (1, 1, 1));
}

/// The same subscriber maps to the same block whatever the shard count, and its session
/// is on the shard owning that block.
#[test]
fn same_block_on_every_shard_count() {
    let cfg = det_config(
        "pool det { address 203.0.113.128/28; port { automatic; deterministic-port-block-allocation block-size 1008; } }",
    );
    let mut seen = None;
    for n in 1..=8u32 {
        let mut cl = Cluster::new(&cfg, n);
        let f = udp("10.0.0.77", 5000, "198.51.100.9", 53, b"x");
        let (o, v, out) = cl.send(&f);
        assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
        let p = mspic_wire::parse_frame(&out).unwrap();
        // 10.0.0.77 is offset 76: 64 blocks of 1008 per address → address 1, block 12.
        let block_first = 1024 + 12 * 1008;
        assert_eq!(p.key.src.to_string(), "203.0.113.129");
        assert!((block_first..block_first + 1008).contains(&p.key.src_port));
        assert_eq!(o as u32, 12 % n);
        let (o2, v, _) = cl.send(&mirror(&out));
        assert!(matches!(v, Verdict::Forward { .. }));
        assert_eq!(o, o2);
        let first = (p.key.src, p.key.src_port);
        assert_eq!(*seen.get_or_insert(first), first);
    }
}

/// A subscriber's untranslated flow (a no-translation term first) comes back to the
/// shard holding it: the reply addressed to the subscriber goes to its block's owner too.
#[test]
fn untranslated_flows_of_subscribers_meet() {
    let cfg = det_config(
        "pool det { address 203.0.113.128/28; port { automatic; deterministic-port-block-allocation block-size 1008; } }",
    )
    .replace(
        "term t1 {",
        "term exempt { from { destination-address { 198.51.100.99/32; } } then { no-translation; } } term t1 {",
    );
    for n in 1..=8u32 {
        let mut cl = Cluster::new(&cfg, n);
        for host in ["10.0.0.7", "10.0.0.77", "10.0.0.177"] {
            let (o, v, out) = cl.send(&udp(host, 5000, "198.51.100.99", 53, b"x"));
            assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
            let p = mspic_wire::parse_frame(&out).unwrap();
            assert_eq!(p.key.src.to_string(), host, "not translated");
            let (o2, v, _) = cl.send(&mirror(&out));
            assert!(matches!(v, Verdict::Forward { .. }), "{host} n={n}: {v:?}");
            assert_eq!(o, o2, "{host} n={n}");
        }
    }
}
