//! `max-sessions-per-subscriber` of an interface-style service set: a subscriber (a host
//! behind an interface applying the set as input) holds at most that many live sessions;
//! more are dropped and counted at the session limit, other subscribers are not affected,
//! a session that ends frees its place, and with several shards the limit is exact because
//! a subscriber's sessions all live on one shard.

mod common;

use common::*;
use mspic_flow::{DropReason, Verdict};

fn cfg() -> String {
    config(ACCEPT_INSIDE, "inactivity-timeout 10;").replace(
        "stateful-firewall-rules r;",
        "stateful-firewall-rules r; max-sessions-per-subscriber 2;",
    )
}

fn flow(host: &str, i: u16) -> Vec<u8> {
    udp(host, 40_000 + i, "198.51.100.7", 53, b"q")
}

#[test]
fn a_subscriber_past_its_limit_is_refused_until_a_session_ends() {
    let mut h = Harness::new(&cfg());
    let a: Vec<bool> = (0..3)
        .map(|i| matches!(h.send(&flow("10.0.0.2", i)).0, Verdict::Forward { .. }))
        .collect();
    assert_eq!(a, [true, true, false]);
    assert!(matches!(
        h.send(&flow("10.0.0.2", 3)).0,
        Verdict::Drop(DropReason::SessionLimit)
    ));
    assert_eq!(h.stats().drop_session_limit, 2);
    // Another subscriber has its own count; the first one's sessions still flow.
    assert!(matches!(
        h.send(&flow("10.0.0.3", 0)).0,
        Verdict::Forward { .. }
    ));
    assert!(matches!(
        h.send(&flow("10.0.0.2", 0)).0,
        Verdict::Forward { .. }
    ));
    // Replies are part of the subscriber's sessions, not new ones.
    let reply = udp("198.51.100.7", 53, "10.0.0.2", 40_001, b"a");
    assert!(matches!(h.send(&reply).0, Verdict::Forward { .. }));
    h.advance_ms(11_000);
    assert!(h.sessions().is_empty());
    assert!(matches!(
        h.send(&flow("10.0.0.2", 7)).0,
        Verdict::Forward { .. }
    ));
}

#[test]
fn the_limit_is_exact_across_shards() {
    for n in [2, 3, 5] {
        let mut cl = Cluster::new(&cfg(), n);
        for host in ["10.0.0.2", "10.0.0.9", "10.0.0.77"] {
            let mut owners = Vec::new();
            let mut admitted = 0;
            for i in 0..12 {
                let (o, v, _) = cl.send(&flow(host, i));
                owners.push(o);
                admitted += u32::from(matches!(v, Verdict::Forward { .. }));
            }
            owners.dedup();
            assert_eq!(
                owners.len(),
                1,
                "{n} shards, {host}: one shard holds a subscriber"
            );
            assert_eq!(admitted, 2, "{n} shards, {host}");
        }
    }
}
