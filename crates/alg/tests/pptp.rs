//! PPTP through a shard: a call set up on the control connection admits its enhanced GRE
//! data both ways as children (without port translation); under NAPT the control
//! connection passes but no GRE pinhole is opened (no Call ID translation); hostile
//! control messages are refused.

mod common;

use common::*;
use etherparse::{IpNumber, PacketBuilder};
use mspic_config::AppProtocol;
use mspic_flow::{DropReason, Verdict, FLAG_ALG_CHILD, FLAG_ALG_PARENT, FLAG_NAT};

const C: &str = "10.0.0.2";
const S: &str = "198.51.100.7";
const P: &str = "203.0.113.128";

/// A control message of type `t` (its fixed length `len`) with the fields after the
/// header.
fn ctrl(t: u16, len: usize, fields: &[u8]) -> Vec<u8> {
    let mut v = (len as u16).to_be_bytes().to_vec();
    v.extend_from_slice(&[0, 1, 0x1a, 0x2b, 0x3c, 0x4d]);
    v.extend_from_slice(&t.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(fields);
    v.resize(len, 0);
    v
}

fn ocrq(call_id: u16) -> Vec<u8> {
    ctrl(7, 168, &call_id.to_be_bytes())
}

fn ocrp(call_id: u16, peer: u16, result: u8) -> Vec<u8> {
    ctrl(
        8,
        32,
        &[call_id.to_be_bytes(), peer.to_be_bytes()]
            .concat()
            .into_iter()
            .chain([result])
            .collect::<Vec<_>>(),
    )
}

/// An enhanced GRE packet (RFC 2637 §4.1: K and S bits, version 1, PPP) to Call ID `cid`.
fn gre(src: &str, dst: &str, cid: u16, ttl: u8) -> Vec<u8> {
    let payload = b"\xff\x03ppp";
    let mut g = vec![0x30, 0x01, 0x88, 0x0b];
    g.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    g.extend_from_slice(&cid.to_be_bytes());
    g.extend_from_slice(&1u32.to_be_bytes());
    g.extend_from_slice(payload);
    let (s, d) = (v4(src), v4(dst));
    let macs = if s.octets()[0] == 10 {
        ([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 1, 0])
    } else {
        ([2, 0, 0, 0, 0, 0x22], [2, 0, 0, 0, 1, 1])
    };
    let mut out = Vec::new();
    PacketBuilder::ethernet2(macs.0, macs.1)
        .ipv4(s.octets(), d.octets(), ttl)
        .write(&mut out, IpNumber(47), &g)
        .unwrap();
    out
}

fn control(cfg: &str, to: (&str, u16)) -> (Cluster, u32, u32) {
    let mut c = Cluster::one(cfg);
    c.pass(&tcp((C, 40000), (S, 1723), "S", 100, 0, b""));
    c.pass(&tcp((S, 1723), to, "SA", 500, 101, b""));
    (c, 101, 501)
}

#[test]
fn an_outgoing_call_admits_its_gre_both_ways() {
    let (mut c, cs, ss) = control(&config("", ""), (C, 40000));
    let q = ocrq(0x4001);
    c.pass(&tcp((C, 40000), (S, 1723), "PA", cs, ss, &q));
    let r = ocrp(0x0777, 0x4001, 1);
    let f = tcp((S, 1723), (C, 40000), "PA", ss, cs + q.len() as u32, &r);
    assert_eq!(
        c.pass(&f),
        tcp_out((S, 1723), (C, 40000), "PA", ss, cs + q.len() as u32, &r, &f)
    );
    // GRE from the PAC to the PNS's Call ID, then the PNS's to the PAC's.
    let g = gre(S, C, 0x4001, 64);
    assert_eq!(c.pass(&g), with_macs(gre(S, C, 0x4001, 63), &g));
    let g = gre(C, S, 0x0777, 64);
    assert_eq!(c.pass(&g), with_macs(gre(C, S, 0x0777, 63), &g));
    let s = c.sessions();
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].flags, FLAG_ALG_PARENT);
    assert_eq!(
        (s[1].flags, s[1].alg, s[1].parent),
        (FLAG_ALG_CHILD, Some(AppProtocol::Pptp), Some(s[0].id))
    );
}

#[test]
fn a_refused_call_opens_nothing_and_napt_opens_no_gre_pinhole() {
    let (mut c, cs, ss) = control(&config("", ""), (C, 40000));
    let q = ocrq(1);
    c.pass(&tcp((C, 40000), (S, 1723), "PA", cs, ss, &q));
    c.pass(&tcp(
        (S, 1723),
        (C, 40000),
        "PA",
        ss,
        cs + q.len() as u32,
        &ocrp(2, 1, 3),
    ));
    assert_eq!(c.stats().alg.pinholes_created, 0);
    let (mut c, cs, ss) = control(&napt(), (P, 1024));
    let q = ocrq(1);
    c.pass(&tcp((C, 40000), (S, 1723), "PA", cs, ss, &q));
    c.pass(&tcp(
        (S, 1723),
        (P, 1024),
        "PA",
        ss,
        cs + q.len() as u32,
        &ocrp(2, 1, 1),
    ));
    assert_eq!(c.stats().alg.pinholes_created, 0);
    assert_eq!(c.sessions()[0].flags, FLAG_ALG_PARENT | FLAG_NAT);
}

#[test]
fn hostile_control_messages_are_refused_and_counted() {
    let (mut c, cs, ss) = control(&config("", ""), (C, 40000));
    let mut bad_len = ocrq(1);
    bad_len[1] = 100;
    let mut bad_magic = ocrq(1);
    bad_magic[7] = 0;
    let bad: Vec<Vec<u8>> = vec![
        bad_len,
        bad_magic,
        b"garbage garbage".to_vec(),
        ctrl(99, 16, &[]),
    ];
    for (i, m) in bad.iter().enumerate() {
        let (v, _) = c.send(&tcp((C, 40000), (S, 1723), "PA", cs, ss, m));
        assert_eq!(v, Verdict::Drop(DropReason::Alg), "message {i}");
    }
    assert_eq!(c.stats().alg.malformed, bad.len() as u64);
    let (v, _) = c.send(&tcp((C, 40000), (S, 1723), "PA", cs, ss, &ocrq(1)[..50]));
    assert_eq!(v, Verdict::Drop(DropReason::Alg));
    assert_eq!(c.stats().alg.partial_lines, 1);
}
