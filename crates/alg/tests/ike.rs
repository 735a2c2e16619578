//! IKE with ESP through a shard: the answered IKE_AUTH (IKEv2) or Quick Mode (IKEv1)
//! admits ESP both ways without port translation; under NAPT the ESP of two inside hosts
//! talking to one gateway is paired by SPI; hostile messages refused.

mod common;

use common::*;
use etherparse::{IpNumber, PacketBuilder};
use mspic_config::AppProtocol;
use mspic_flow::{DropReason, Verdict, FLAG_ALG_CHILD, FLAG_ALG_PARENT, FLAG_NAT};

const C: &str = "10.0.0.2";
const S: &str = "198.51.100.7";

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

/// The public endpoint a frame left from.
fn source_of(frame: &[u8]) -> (String, u16) {
    let p = mspic_wire::parse_frame(frame).unwrap();
    (p.key.src.to_string(), p.key.src_port)
}

/// `host` negotiates with the gateway through the cluster up to the answered IKE_AUTH;
/// returns its public endpoint.
fn negotiate(c: &mut Cluster, host: &str, ispi: u64) -> (String, u16) {
    let m = ike(ispi, 0, 2, 34, 0x08, b"sa ke nonce");
    let out = c.pass(&udp((host, 500), (S, 500), &m));
    let public = source_of(&out);
    let to = (public.0.as_str(), public.1);
    c.pass(&udp(
        (S, 500),
        to,
        &ike(ispi, 9, 2, 34, 0x20, b"sa ke nonce"),
    ));
    c.pass(&udp(
        (host, 500),
        (S, 500),
        &ike(ispi, 9, 2, 35, 0x08, b"sk"),
    ));
    c.pass(&udp((S, 500), to, &ike(ispi, 9, 2, 35, 0x20, b"sk")));
    public
}

/// Two inside hosts behind one NAPT address negotiate with one gateway in turn: each
/// one's ESP leaves from the public address with its SPI untouched, and the gateway's ESP
/// to the public address reaches the right host by its SPI, whichever side sent first,
/// with 1 to 4 shards.
#[test]
fn under_napt_esp_of_two_hosts_is_paired_by_spi() {
    const B: &str = "10.0.0.3";
    for n in 1..=4u32 {
        let mut c = Cluster::new(&napt(), n);
        let (pa, _) = negotiate(&mut c, C, 7);
        // A sends first; the gateway's first ESP with an unknown SPI is A's, the one
        // host negotiating.
        let f = esp(C, S, 0xa0a0, 64);
        assert_eq!(c.pass(&f), with_macs(esp(&pa, S, 0xa0a0, 63), &f));
        let f = esp(S, &pa, 0x1111, 64);
        assert_eq!(c.pass(&f), with_macs(esp(S, C, 0x1111, 63), &f));
        // B negotiates; the gateway sends first this time.
        let (pb, _) = negotiate(&mut c, B, 8);
        assert_eq!(pa, pb, "{n} shards: one public address");
        let f = esp(S, &pb, 0x2222, 64);
        assert_eq!(c.pass(&f), with_macs(esp(S, B, 0x2222, 63), &f));
        let f = esp(B, S, 0xb0b0, 64);
        assert_eq!(c.pass(&f), with_macs(esp(&pb, S, 0xb0b0, 63), &f));
        for _ in 0..3 {
            for (host, spi_in, spi_out) in [(C, 0x1111, 0xa0a0), (B, 0x2222, 0xb0b0)] {
                let f = esp(S, &pa, spi_in, 64);
                assert_eq!(c.pass(&f), with_macs(esp(S, host, spi_in, 63), &f), "{n}");
                let f = esp(host, S, spi_out, 64);
                assert_eq!(c.pass(&f), with_macs(esp(&pa, S, spi_out, 63), &f), "{n}");
            }
        }
        // An SPI nobody negotiated for: no session, no pending negotiation.
        let (v, _) = c.send(&esp(S, &pa, 0x3333, 64));
        assert!(matches!(v, Verdict::Drop(_)), "{n} shards: {v:?}");
        let s = c.sessions();
        let children: Vec<_> = s.iter().filter(|s| s.flags & FLAG_ALG_CHILD != 0).collect();
        assert_eq!(children.len(), 2, "{n} shards: {s:#?}");
        for ch in children {
            assert_eq!(ch.flags, FLAG_ALG_CHILD | FLAG_NAT);
            assert_eq!(ch.alg, Some(AppProtocol::IkeEspNat));
            assert_eq!(ch.flows.iter().map(|f| f.frames).sum::<u64>(), 8, "{n}");
        }
    }
}

/// While two inside hosts both negotiate with the gateway, an ESP with an unknown SPI
/// from it could be either's: it is not paired.
#[test]
fn under_napt_an_spi_two_hosts_could_own_is_not_paired() {
    let mut c = Cluster::new(&napt(), 2);
    let (pa, _) = negotiate(&mut c, C, 7);
    negotiate(&mut c, "10.0.0.3", 8);
    let (v, _) = c.send(&esp(S, &pa, 0x1111, 64));
    assert!(matches!(v, Verdict::Drop(_)), "{v:?}");
    // Each host's own ESP still leaves.
    let f = esp(C, S, 0xa0a0, 64);
    assert_eq!(c.pass(&f), with_macs(esp(&pa, S, 0xa0a0, 63), &f));
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

/// A rekeyed child SA (IKEv2 CREATE_CHILD_SA) under NAPT: the gateway's ESP with the new
/// SPI reaches the host again (the old SPI is retired with it).
#[test]
fn under_napt_a_rekeyed_sa_is_paired_again() {
    for n in [1, 3] {
        let mut c = Cluster::new(&napt(), n);
        let (pa, port) = negotiate(&mut c, C, 7);
        let f = esp(S, &pa, 0x1111, 64);
        assert_eq!(c.pass(&f), with_macs(esp(S, C, 0x1111, 63), &f));
        // No exchange answered: a new SPI is not paired.
        let (v, _) = c.send(&esp(S, &pa, 0x1112, 64));
        assert!(matches!(v, Verdict::Drop(_)), "{v:?}");
        c.pass(&udp((C, 500), (S, 500), &ike(7, 9, 2, 36, 0x08, b"sk")));
        c.pass(&udp((S, 500), (&pa, port), &ike(7, 9, 2, 36, 0x20, b"sk")));
        let f = esp(S, &pa, 0x1112, 64);
        assert_eq!(c.pass(&f), with_macs(esp(S, C, 0x1112, 63), &f), "{n}");
        let f = esp(C, S, 0xa0a1, 64);
        assert_eq!(c.pass(&f), with_macs(esp(&pa, S, 0xa0a1, 63), &f));
        let children = c
            .sessions()
            .iter()
            .filter(|s| s.flags & FLAG_ALG_CHILD != 0)
            .count();
        assert_eq!(children, 1, "{n} shards");
    }
}
