//! IKE with ESP through a shard: the answered IKE_AUTH (IKEv2) or Quick Mode (IKEv1)
//! admits ESP both ways without port translation; under NAPT IKE passes but no ESP
//! pinhole opens (no SPI keying); hostile messages refused.

mod common;

use common::*;
use etherparse::{IpNumber, PacketBuilder};
use mspic_config::AppProtocol;
use mspic_flow::{DropReason, Verdict, FLAG_ALG_CHILD, FLAG_ALG_PARENT};

const C: &str = "10.0.0.2";
const S: &str = "198.51.100.7";
const P: &str = "203.0.113.128";

/// An IKE message: header (RFC 7296 §3.1) and `body` bytes of payloads.
fn ike(ispi: u64, rspi: u64, major: u8, exchange: u8, flags: u8, body: &[u8]) -> Vec<u8> {
    let mut v = ispi.to_be_bytes().to_vec();
    v.extend_from_slice(&rspi.to_be_bytes());
    v.extend_from_slice(&[46, major << 4, exchange, flags, 0, 0, 0, 1]);
    v.extend_from_slice(&((28 + body.len()) as u32).to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn esp(src: &str, dst: &str, spi: u32, ttl: u8) -> Vec<u8> {
    let mut p = spi.to_be_bytes().to_vec();
    p.extend_from_slice(&1u32.to_be_bytes());
    p.extend_from_slice(b"encrypted");
    let (s, d) = (v4(src), v4(dst));
    let macs = if s.octets()[0] == 10 {
        ([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 1, 0])
    } else {
        ([2, 0, 0, 0, 0, 0x22], [2, 0, 0, 0, 1, 1])
    };
    let mut out = Vec::new();
    PacketBuilder::ethernet2(macs.0, macs.1)
        .ipv4(s.octets(), d.octets(), ttl)
        .write(&mut out, IpNumber(50), &p)
        .unwrap();
    out
}

#[test]
fn an_answered_ike_auth_admits_esp_both_ways() {
    let mut c = Cluster::one(&config("", ""));
    c.pass(&udp(
        (C, 500),
        (S, 500),
        &ike(7, 0, 2, 34, 0x08, b"sa ke nonce"),
    ));
    c.pass(&udp(
        (S, 500),
        (C, 500),
        &ike(7, 9, 2, 34, 0x20, b"sa ke nonce"),
    ));
    c.pass(&udp((C, 500), (S, 500), &ike(7, 9, 2, 35, 0x08, b"sk")));
    // No ESP before the answer.
    assert_eq!(c.stats().alg.pinholes_created, 0);
    c.pass(&udp((S, 500), (C, 500), &ike(7, 9, 2, 35, 0x20, b"sk")));
    let f = esp(S, C, 0xc0ffee, 64);
    assert_eq!(c.pass(&f), with_macs(esp(S, C, 0xc0ffee, 63), &f));
    let f = esp(C, S, 0xbeef, 64);
    assert_eq!(c.pass(&f), with_macs(esp(C, S, 0xbeef, 63), &f));
    let s = c.sessions();
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].flags, FLAG_ALG_PARENT);
    assert_eq!(
        (s[1].flags, s[1].alg, s[1].parent),
        (FLAG_ALG_CHILD, Some(AppProtocol::IkeEspNat), Some(s[0].id))
    );
}

#[test]
fn ikev1_quick_mode_answer_admits_esp() {
    let mut c = Cluster::one(&config("", ""));
    c.pass(&udp((C, 500), (S, 500), &ike(7, 0, 1, 2, 0, b"sa")));
    c.pass(&udp(
        (S, 500),
        (C, 500),
        &ike(7, 9, 1, 32, 1, b"hash sa nonce"),
    ));
    c.pass(&esp(S, C, 1, 64));
    assert_eq!(c.sessions()[1].flags, FLAG_ALG_CHILD);
}

#[test]
fn under_napt_ike_passes_without_esp_pinholes() {
    let mut c = Cluster::one(&napt());
    let m = ike(7, 0, 2, 34, 0x08, b"x");
    let f = udp((C, 500), (S, 500), &m);
    assert_eq!(c.pass(&f), udp_out((P, 1024), (S, 500), &m, &f));
    c.pass(&udp((S, 500), (P, 1024), &ike(7, 9, 2, 35, 0x20, b"sk")));
    assert_eq!(c.stats().alg.pinholes_created, 0);
}

#[test]
fn hostile_messages_are_refused_and_counted() {
    let mut c = Cluster::one(&config("", ""));
    let mut wrong_len = ike(7, 0, 2, 34, 8, b"abc");
    wrong_len[27] = 99;
    let bad = [
        b"short".to_vec(),
        wrong_len,
        ike(7, 0, 3, 34, 8, b""),
        ike(0, 0, 2, 34, 8, b""),
        vec![0xff; 10_000],
    ];
    for (i, m) in bad.iter().enumerate() {
        let (v, _) = c.send(&udp((C, 500), (S, 500), m));
        assert_eq!(v, Verdict::Drop(DropReason::Alg), "message {i}");
    }
    assert_eq!(c.stats().alg.malformed, bad.len() as u64);
}
