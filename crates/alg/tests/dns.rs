//! DNS: a UDP session closes once the responses to its queries are through; without
//! response it closes on its timeout; TCP DNS passes without ALG state. ICMP echo sessions
//! are named `icmp` and forwarded.

mod common;

use common::*;
use mspic_config::AppProtocol;
use mspic_flow::{DropReason, FlowState, Verdict, FLAG_NAT};

const C: &str = "10.0.0.2";
const S: &str = "198.51.100.53";
const P: &str = "203.0.113.128";

fn msg(id: u16, response: bool) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[
        if response { 0x81 } else { 0x01 },
        0,
        0,
        1,
        0,
        0,
        0,
        0,
        0,
        0,
    ]);
    m.extend_from_slice(b"\x07example\x03com\0\0\x01\0\x01");
    m
}

#[test]
fn session_closes_after_the_response() {
    let mut c = Cluster::one(&napt());
    c.pass(&udp((C, 5353), (S, 53), &msg(0x1234, false)));
    let s = c.sessions();
    // An ALG that only inspects: no parent flag.
    assert_eq!((s[0].alg, s[0].flags), (Some(AppProtocol::Dns), FLAG_NAT));
    assert_eq!(s[0].flows[0].state, FlowState::Watch);
    let resp = udp((S, 53), (P, 1024), &msg(0x1234, true));
    assert_eq!(
        c.pass(&resp),
        udp_out((S, 53), (C, 5353), &msg(0x1234, true), &resp)
    );
    assert!(c.sessions().is_empty());
    assert_eq!(c.stats().alg.closed_by_response, 1);
    // The mapping went with it.
    let (v, _) = c.send(&resp);
    assert_eq!(v, Verdict::Drop(DropReason::NatNoSession));
}

#[test]
fn parallel_queries_close_with_the_last_answer() {
    let mut c = Cluster::one(&napt());
    c.pass(&udp((C, 5353), (S, 53), &msg(1, false)));
    c.pass(&udp((C, 5353), (S, 53), &msg(2, false)));
    c.pass(&udp((S, 53), (P, 1024), &msg(7, true))); // no such query: passes, stays
    c.pass(&udp((S, 53), (P, 1024), &msg(1, true)));
    assert_eq!(c.sessions().len(), 1);
    c.pass(&udp((S, 53), (P, 1024), &msg(2, true)));
    assert!(c.sessions().is_empty());
}

#[test]
fn without_response_the_timeout_closes() {
    let mut c = Cluster::one(&napt());
    c.pass(&udp((C, 5353), (S, 53), &msg(9, false)));
    c.advance_secs(29);
    assert_eq!(c.sessions().len(), 1);
    c.advance_secs(2);
    assert!(c.sessions().is_empty());
    assert_eq!(c.stats().alg.closed_by_response, 0);
}

#[test]
fn tcp_dns_passes_and_short_messages_are_refused() {
    let mut c = Cluster::one(&napt());
    c.pass(&tcp((C, 40000), (S, 53), "S", 1, 0, b""));
    let s = c.sessions();
    assert_eq!((s[0].alg, s[0].flags), (Some(AppProtocol::Dns), FLAG_NAT));
    assert_eq!(s[0].flows[0].state, FlowState::Forward);
    let (v, _) = c.send(&udp((C, 5354), (S, 53), b"\x12\x34\x01"));
    assert_eq!(v, Verdict::Drop(DropReason::Alg));
    assert_eq!(c.stats().alg.malformed, 1);
}

#[test]
fn icmp_echo_is_named_watched_and_forwarded() {
    let mut c = Cluster::one(&config("", ""));
    c.pass(&ping(C, S, 7, 1));
    let s = c.sessions();
    assert_eq!((s[0].alg, s[0].flags), (Some(AppProtocol::Icmp), 0));
    assert_eq!(
        (s[0].flows[0].state, s[0].flows[1].state),
        (FlowState::Watch, FlowState::Watch)
    );
    c.pass(&pong(S, C, 7, 1));
    assert_eq!(c.sessions()[0].flows[1].frames, 1);
}

#[test]
fn icmp_echo_under_napt_translates_the_id() {
    let mut c = Cluster::one(&napt());
    let out = c.pass(&ping(C, S, 7, 1));
    let id = u16::from_be_bytes([out[38], out[39]]);
    let back = c.pass(&pong(S, P, id, 1));
    assert_eq!(u16::from_be_bytes([back[38], back[39]]), 7);
    assert_eq!(&back[30..34], &v4(C).octets());
}

#[test]
fn a_term_without_applications_attaches_no_alg() {
    let cfg = config("", "").replace(
        "applications [ junos-ftp junos-tftp junos-dns-udp junos-dns-tcp my-rsh my-exec junos-talk junos-ntalk junos-icmp-ping ];",
        "",
    );
    let mut c = Cluster::one(&cfg);
    c.pass(&tcp((C, 40000), ("198.51.100.7", 21), "S", 1, 0, b""));
    let s = c.sessions();
    assert_eq!((s[0].alg, s[0].flags), (None, 0));
    assert_eq!(s[0].flows[0].state, FlowState::Forward);
}
