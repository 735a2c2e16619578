//! `max-session-setup-rate` of a service set (Junos "service set limits"): within one
//! second at most that many sessions are set up; the rest are dropped and counted at the
//! session limit, existing sessions keep flowing, and the next second admits again. With
//! several shards each admits its share (rate / shards, rounded up).

mod common;

use common::*;
use mspic_flow::{DropReason, Verdict};

fn cfg(rate: &str) -> String {
    config(ACCEPT_INSIDE, "").replace(
        "stateful-firewall-rules r;",
        &format!("stateful-firewall-rules r; max-session-setup-rate {rate};"),
    )
}

fn new_flow(i: u16) -> Vec<u8> {
    udp("10.0.0.2", 40_000 + i, "198.51.100.7", 53, b"q")
}

#[test]
fn new_sessions_past_the_rate_are_dropped_until_the_next_second() {
    let mut h = Harness::new(&cfg("3"));
    let verdicts: Vec<bool> = (0..5)
        .map(|i| matches!(h.send(&new_flow(i)).0, Verdict::Forward { .. }))
        .collect();
    assert_eq!(verdicts, [true, true, true, false, false]);
    assert_eq!(h.stats().drop_session_limit, 2);
    assert!(matches!(
        h.send(&new_flow(4)).0,
        Verdict::Drop(DropReason::SessionLimit)
    ));
    // Established sessions are not setups.
    assert!(matches!(h.send(&new_flow(0)).0, Verdict::Forward { .. }));
    h.advance_ms(1000);
    assert!(matches!(h.send(&new_flow(5)).0, Verdict::Forward { .. }));
    assert_eq!(h.sessions().len(), 4);
}

#[test]
fn each_shard_admits_its_share() {
    let mut cl = Cluster::new(&cfg("4"), 2);
    let mut admitted = [0u32; 2];
    for i in 0..40 {
        let (o, v, _) = cl.send(&new_flow(i));
        if matches!(v, Verdict::Forward { .. }) {
            admitted[o] += 1;
        }
    }
    assert_eq!(admitted, [2, 2]);
}

#[test]
fn thousands_suffix() {
    let c = mspic_config::parse(&cfg("2k"), "t.conf").unwrap();
    assert_eq!(c.service_sets[0].max_session_setup_rate, Some(2000));
}
