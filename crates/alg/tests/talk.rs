//! talk/ntalk: the CTL_MSG's `addr` and `ctl_addr` are rewritten under NAPT and the
//! invitation's TCP connection from the callee is admitted as a child.

mod common;

use common::*;
use mspic_flow::{DropReason, Verdict, FLAG_ALG_CHILD, FLAG_NAT};

const C: &str = "10.0.0.2";
const S: &str = "198.51.100.7";
const P: &str = "203.0.113.128";

fn sockaddr(ip: &str, port: u16) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..2].copy_from_slice(&2u16.to_be_bytes());
    b[2..4].copy_from_slice(&port.to_be_bytes());
    b[4..8].copy_from_slice(&v4(ip).octets());
    b
}

/// An ntalk (version 1) CTL_MSG of type `kind`.
fn ntalk(kind: u8, addr: [u8; 16], ctl: [u8; 16]) -> Vec<u8> {
    let mut m = vec![1, kind, 0, 0, 0, 0, 0, 42];
    m.extend_from_slice(&addr);
    m.extend_from_slice(&ctl);
    m.extend_from_slice(&1234u32.to_be_bytes());
    m.extend_from_slice(b"alice\0\0\0\0\0\0\0bob\0\0\0\0\0\0\0\0\0pts/1\0\0\0\0\0\0\0\0\0\0\0");
    assert_eq!(m.len(), 84);
    m
}

/// An old talk CTL_MSG.
fn otalk(kind: u8, addr: [u8; 16], ctl: [u8; 16]) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend_from_slice(b"alice\0\0\0\0bob\0\0\0\0\0\0\0");
    m.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 9]);
    m.extend_from_slice(b"pts/1\0\0\0\0\0\0\0\0\0\0\0");
    m.extend_from_slice(&addr);
    m.extend_from_slice(&ctl);
    assert_eq!(m.len(), 76);
    m
}

#[test]
fn ntalk_invitation_rewritten_and_connection_admitted() {
    let mut c = Cluster::one(&napt());
    let announce = udp(
        (C, 2000),
        (S, 518),
        &ntalk(3, sockaddr(C, 3000), sockaddr(C, 2000)),
    );
    let want = ntalk(3, sockaddr(P, 1024), sockaddr(P, 1024));
    assert_eq!(
        c.pass(&announce),
        udp_out((P, 1024), (S, 518), &want, &announce)
    );
    // The callee connects to the caller's announced TCP endpoint.
    let syn = tcp((S, 40000), (P, 1024), "S", 1, 0, b"");
    assert_eq!(
        c.pass(&syn),
        tcp_out((S, 40000), (C, 3000), "S", 1, 0, b"", &syn)
    );
    let s = c.sessions();
    assert_eq!(s[1].flags, FLAG_ALG_CHILD | FLAG_NAT);
}

#[test]
fn old_talk_layout_and_lookups() {
    let mut c = Cluster::one(&napt());
    let invite = udp(
        (C, 2001),
        (S, 517),
        &otalk(0, sockaddr(C, 3001), sockaddr(C, 2001)),
    );
    let out = c.pass(&invite);
    let want = otalk(0, sockaddr(P, 1024), sockaddr(P, 1024));
    assert_eq!(out, udp_out((P, 1024), (S, 517), &want, &invite));
    // A lookup carries no invitation: only the control address is rewritten.
    let mut c = Cluster::one(&napt());
    let lookup = udp(
        (C, 2002),
        (S, 518),
        &ntalk(1, sockaddr("0.0.0.0", 0), sockaddr(C, 2002)),
    );
    let want = ntalk(1, sockaddr("0.0.0.0", 0), sockaddr(P, 1024));
    assert_eq!(
        c.pass(&lookup),
        udp_out((P, 1024), (S, 518), &want, &lookup)
    );
    assert_eq!(c.stats().alg.pinholes_created, 0);
}

#[test]
fn short_messages_and_third_hosts_are_refused() {
    let mut c = Cluster::one(&napt());
    let (v, _) = c.send(&udp((C, 2003), (S, 518), &[1, 3, 0, 0]));
    assert_eq!(v, Verdict::Drop(DropReason::Alg));
    let third = ntalk(3, sockaddr("10.0.0.9", 3000), sockaddr(C, 2004));
    let (v, _) = c.send(&udp((C, 2004), (S, 518), &third));
    assert_eq!(v, Verdict::Drop(DropReason::Alg));
    let st = c.stats();
    assert_eq!((st.alg.malformed, st.alg.third_host), (1, 1));
}
