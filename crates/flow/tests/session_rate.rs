//! `session-limit rate` of a services interface (Junos "session-limit (Interfaces)":
//! `rate new-sessions-per-second`): a token bucket in virtual time admits that many new
//! sessions per second, with one second's worth of burst; the rest are dropped and counted
//! under "Session limit exceeded". Each shard polices its share (rate / shards, rounded up).

mod common;

use common::*;
use mspic_flow::{DropReason, Verdict};

fn cfg(rate: u32) -> String {
    config(ACCEPT_INSIDE, &format!("session-limit {{ rate {rate}; }}"))
}

fn new_flow(i: u16) -> Vec<u8> {
    udp("10.0.0.2", 40_000 + i, "198.51.100.7", 53, b"q")
}

/// (milliseconds since the previous step, new flows sent, how many are admitted) at
/// 4 sessions per second.
const STEPS: &[(u64, u16, usize)] = &[
    (0, 6, 4),    // the bucket starts full: a burst of 4
    (100, 1, 0),  // 0.4 of a token
    (150, 2, 1),  // 1.0: one more
    (500, 3, 2),  // 2.0
    (3000, 6, 4), // refilled, but never past one second's worth
];

#[test]
fn new_sessions_are_admitted_at_the_rate_in_virtual_time() {
    let mut h = Harness::new(&cfg(4));
    let (mut next, mut refused) = (0u16, 0u64);
    for &(ms, sent, admitted) in STEPS {
        h.advance_ms(ms);
        let ok = (0..sent)
            .filter(|_| {
                next += 1;
                matches!(h.send(&new_flow(next)).0, Verdict::Forward { .. })
            })
            .count();
        assert_eq!(ok, admitted, "after {ms} ms");
        refused += u64::from(sent) - admitted as u64;
        assert_eq!(h.stats().drop_session_limit, refused);
    }
    // A refused first packet is a drop at the session limit; established flows still pass.
    assert!(matches!(
        h.send(&new_flow(next + 1)).0,
        Verdict::Drop(DropReason::SessionLimit)
    ));
    assert!(matches!(h.send(&new_flow(1)).0, Verdict::Forward { .. }));
    assert_eq!(h.sessions().len(), 11);
}

#[test]
fn rate_zero_admits_no_session() {
    let mut h = Harness::new(&cfg(0));
    assert!(matches!(
        h.send(&new_flow(1)).0,
        Verdict::Drop(DropReason::SessionLimit)
    ));
    h.advance_ms(5000);
    assert!(matches!(
        h.send(&new_flow(2)).0,
        Verdict::Drop(DropReason::SessionLimit)
    ));
}

#[test]
fn each_shard_admits_its_share() {
    let mut cl = Cluster::new(&cfg(5), 2);
    let mut admitted = [0u32; 2];
    for i in 0..60 {
        let (o, v, _) = cl.send(&new_flow(i));
        if matches!(v, Verdict::Forward { .. }) {
            admitted[o] += 1;
        }
    }
    assert_eq!(admitted, [3, 3]);
}
