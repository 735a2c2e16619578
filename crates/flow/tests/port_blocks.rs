//! Secured port block allocation (Junos: "secured-port-block-allocation (Services NAT)"):
//! table tests of the ports subscribers get (blocks, exhaustion, the block limit, release
//! after the active-block-timeout), and properties over random subscribers and 1–8 shards
//! (every port a shard hands out is in a block it owns, no port twice, no subscriber over
//! its limit).

mod common;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use common::*;
use mspic_flow::nat::{NatAction, NatState};
use mspic_flow::owner::block_owner;
use mspic_flow::{DropReason, Verdict};
use mspic_wire::{proto, FlowKey};
use proptest::prelude::*;

/// The testbed with napt-44 from 10.0.0.0/24 to pool `public`, whose `port` statement is
/// `port`.
fn pba_config(addresses: &str, port: &str) -> String {
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
        pool public {{ {addresses} port {{ {port} }} }}
        rule snat {{
            match-direction input;
            term t1 {{ from {{ source-address {{ 10.0.0.0/24; }} }} then {{ translated {{ source-pool public; translation-type {{ napt-44; }} }} }} }}
        }}
    }}
    service-set ss {{ nat-rules snat; interface-service {{ service-interface ms-1/1/0; }} }}
}}
"#
    )
}

/// Two addresses, ports 2000–2009 in blocks of 4 (two blocks per address, 2008–2009
/// unused), at most 2 blocks per subscriber, blocks active for 120 s.
fn small() -> String {
    pba_config(
        "address 203.0.113.128/31;",
        "range low 2000 high 2009; secured-port-block-allocation block-size 4 max-blocks-per-address 2 active-block-timeout 120;",
    )
}

/// A translated source (address, port), or why the session was dropped.
type Opened = Result<(String, u16), DropReason>;

#[test]
fn subscribers_take_ports_block_by_block() {
    let mut h = Harness::new(&small());
    let a = |p: u16| Ok(("203.0.113.128".to_string(), p));
    let b = |p: u16| Ok(("203.0.113.129".to_string(), p));
    // (subscriber, source port) → expected translation, in order.
    let rows: Vec<(&str, u16, Opened)> = vec![
        ("10.0.0.2", 100, a(2000)), // first block of the first address
        ("10.0.0.2", 101, a(2001)),
        ("10.0.0.3", 100, a(2004)), // another subscriber: the next block
        ("10.0.0.2", 102, a(2002)),
        ("10.0.0.2", 103, a(2003)), // block full
        ("10.0.0.2", 104, b(2000)), // second block of 10.0.0.2
        ("10.0.0.2", 105, b(2001)),
        ("10.0.0.2", 106, b(2002)),
        ("10.0.0.2", 107, b(2003)),
        ("10.0.0.2", 108, Err(DropReason::NatExhausted)), // 2 blocks, both full
        ("10.0.0.4", 100, b(2004)),                       // the last block
        ("10.0.0.5", 100, Err(DropReason::NatExhausted)), // no block left
    ];
    for (host, sport, want) in rows {
        assert_eq!(udp_source(&mut h, host, sport), want, "{host}:{sport}");
    }
    let st = h.shard.nat_state().pool_stats(0).unwrap().clone();
    assert_eq!(st.port_blocks_in_use, 4);
    assert_eq!(st.max_port_blocks_used, 4);
    assert_eq!(st.pool_users, 3);
    assert_eq!(st.port_blocks_limit_exceeded_errors, 1);
    assert_eq!(st.port_block_allocation_errors, 1);
    assert_eq!(st.out_of_port_errors, 2);
    assert_eq!(st.ports_in_use, 10);
    assert_eq!(st.addrs_in_use, 2);
    // Replies come back to the subscriber.
    let (v, out) = h.send(&udp("198.51.100.7", 53, "203.0.113.129", 2001, b"a"));
    assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
    assert_eq!(
        out,
        with_macs(udp_ttl("198.51.100.7", 53, "10.0.0.2", 105, b"a", 63), &out)
    );
}

#[test]
fn blocks_go_back_after_the_active_block_timeout() {
    let mut h = Harness::new(&small());
    let host: IpAddr = ip("10.0.0.2");
    assert_eq!(
        udp_source(&mut h, "10.0.0.2", 100),
        Ok(("203.0.113.128".into(), 2000))
    );
    // The session lives on (a packet every 20 s); its block stays active for 120 s.
    for _ in 0..6 {
        h.advance_ms(20_000);
        assert_eq!(
            udp_source(&mut h, "10.0.0.2", 100),
            Ok(("203.0.113.128".into(), 2000))
        );
    }
    h.advance_ms(1_000);
    assert_eq!(
        h.shard.nat_state().port_blocks(0, host),
        [(0, 2000, 1, false)]
    );
    // Past 120 s a new block becomes active although the first has ports left.
    assert_eq!(
        udp_source(&mut h, "10.0.0.2", 101),
        Ok(("203.0.113.128".into(), 2004))
    );
    assert_eq!(
        h.shard.nat_state().port_blocks(0, host),
        [(0, 2000, 1, false), (0, 2004, 1, true)]
    );
    // Both sessions end: the inactive block goes back to the pool, the active one stays.
    h.advance_ms(31_000);
    assert!(h.sessions().is_empty());
    assert_eq!(
        h.shard.nat_state().port_blocks(0, host),
        [(0, 2004, 0, true)]
    );
    let st = h.shard.nat_state().pool_stats(0).unwrap().clone();
    assert_eq!(
        (
            st.port_blocks_in_use,
            st.pool_users,
            st.max_port_blocks_used
        ),
        (1, 1, 2)
    );
    // 120 s after it became active, the empty active block goes back too.
    h.advance_ms(90_000);
    assert!(h.shard.nat_state().port_blocks(0, host).is_empty());
    let st = h.shard.nat_state().pool_stats(0).unwrap().clone();
    assert_eq!(
        (st.port_blocks_in_use, st.pool_users, st.addrs_in_use),
        (0, 0, 0)
    );
}

#[test]
fn without_timeout_the_active_block_stays_while_it_has_ports() {
    let cfg = pba_config(
        "address 203.0.113.128/32;",
        "range low 2000 high 2099; secured-port-block-allocation block-size 10 max-blocks-per-address 3;",
    );
    let mut h = Harness::new(&cfg);
    let host: IpAddr = ip("10.0.0.2");
    assert_eq!(
        udp_source(&mut h, "10.0.0.2", 100),
        Ok(("203.0.113.128".into(), 2000))
    );
    h.advance_ms(3_600_000);
    assert!(h.sessions().is_empty());
    assert_eq!(
        h.shard.nat_state().port_blocks(0, host),
        [(0, 2000, 0, true)]
    );
    // The released port comes back after the fresh ones of the block.
    assert_eq!(
        udp_source(&mut h, "10.0.0.2", 101),
        Ok(("203.0.113.128".into(), 2001))
    );
}

/// The `Translate` of the first term of the first rule of `h`.
fn translate_of(p: &mspic_flow::Policy) -> mspic_flow::nat::Translate {
    match &p.nat.rules[0][0].terms[0].action {
        NatAction::Translate(t) => t.clone(),
        NatAction::NoTranslation => panic!("no translation"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Every port a shard hands out lies in a block that shard owns, no (address, port,
    /// protocol) is out twice, no subscriber holds more than its limit of blocks, and once
    /// every session ends and the blocks time out the pool is whole again.
    #[test]
    fn ports_come_from_owned_blocks(
        n in 1u32..=8,
        block in prop::sample::select(vec![1u16, 3, 7, 16, 50]),
        max_blocks in 1u16..4,
        random in any::<bool>(),
        flows in prop::collection::vec((2u8..12, 1024u16..65535, 0u8..3, any::<bool>()), 1..120),
    ) {
        let cfg = pba_config(
            "address 203.0.113.128/30;",
            &format!("range low 1500 high 1899{}; secured-port-block-allocation block-size {block} max-blocks-per-address {max_blocks} active-block-timeout 120;", if random { " random-allocation" } else { "" }),
        );
        let c = mspic_config::parse(&cfg, "t.conf").unwrap();
        let policy = mspic_flow::Policy::compile(&c).unwrap();
        let t = translate_of(&policy);
        for shard in 0..n {
            let mut st = NatState::new(&policy.nat, shard, n);
            let mut live = Vec::new();
            let mut out = HashSet::new();
            let mut now = 1_000_000_000u64;
            for &(host, sport, p, close) in &flows {
                let protocol = [proto::UDP, proto::TCP, proto::ICMP][usize::from(p)];
                let k = FlowKey::new(ip(&format!("10.0.0.{host}")), ip("198.51.100.7"), sport, 53, protocol);
                now += 1_000_000_000;
                let Ok(nat) = st.translate(&policy.nat, 0, &t, &k, now) else { continue };
                let a = nat.alloc.unwrap();
                let port = a.port.unwrap();
                prop_assert!((1500..=1899).contains(&port));
                prop_assert_eq!(block_owner(port, 1500, block, n), shard, "port {} block {}", port, block);
                prop_assert!(out.insert((a.addr, port, protocol)), "port out twice");
                if close {
                    st.release(&policy.nat, &nat, now);
                    out.remove(&(a.addr, port, protocol));
                } else {
                    live.push(nat);
                }
                let mut per_host: HashMap<IpAddr, usize> = HashMap::new();
                for h in 2u8..12 {
                    let h = ip(&format!("10.0.0.{h}"));
                    per_host.insert(h, st.port_blocks(0, h).len());
                }
                prop_assert!(per_host.values().all(|&b| b <= usize::from(max_blocks)));
            }
            for nat in live {
                st.release(&policy.nat, &nat, now);
            }
            st.expire_blocks(now + 121_000_000_000);
            let s = st.pool_stats(0).unwrap();
            prop_assert_eq!((s.ports_in_use, s.port_blocks_in_use, s.pool_users, s.addrs_in_use), (0, 0, 0, 0));
        }
    }
}
