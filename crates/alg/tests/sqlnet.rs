//! SQLNet through a shard: a TNS REDIRECT opens the pinhole for the address it names; a
//! listener behind destination NAT has the address rewritten with the TNS lengths and the
//! sequence numbers corrected; after ACCEPT nothing is inspected; hostile packets refused.

mod common;

use common::*;
use mspic_config::AppProtocol;
use mspic_flow::{DropReason, Verdict, FLAG_ALG_CHILD, FLAG_ALG_PARENT, FLAG_NAT};

const C: &str = "10.0.0.2";
const S: &str = "198.51.100.7";
const P: &str = "203.0.113.128";

/// A TNS packet of type `ty` with `body`.
fn tns(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut v = ((8 + body.len()) as u16).to_be_bytes().to_vec();
    v.extend_from_slice(&[0, 0, ty, 0, 0, 0]);
    v.extend_from_slice(body);
    v
}

fn redirect(descriptor: &str) -> Vec<u8> {
    let mut b = (descriptor.len() as u16).to_be_bytes().to_vec();
    b.extend_from_slice(descriptor.as_bytes());
    tns(5, &b)
}

fn address(host: &str, port: u16) -> String {
    format!("(ADDRESS=(PROTOCOL=TCP)(HOST={host})(PORT={port}))")
}

#[test]
fn redirect_opens_the_named_port_under_napt() {
    let mut c = Cluster::one(&napt());
    c.pass(&tcp((C, 40000), (S, 1521), "S", 100, 0, b""));
    c.pass(&tcp((S, 1521), (P, 1024), "SA", 500, 101, b""));
    let conn = tns(
        1,
        b"\x01\x3a\x01\x2c(DESCRIPTION=(CONNECT_DATA=(SERVICE_NAME=orcl)))",
    );
    c.pass(&tcp((C, 40000), (S, 1521), "PA", 101, 501, &conn));
    let r = redirect(&address(S, 1530));
    let f = tcp((S, 1521), (P, 1024), "PA", 501, 101 + conn.len() as u32, &r);
    assert_eq!(
        c.pass(&f),
        tcp_out(
            (S, 1521),
            (C, 40000),
            "PA",
            501,
            101 + conn.len() as u32,
            &r,
            &f
        )
    );
    let syn = tcp((C, 40001), (S, 1530), "S", 1, 0, b"");
    assert_eq!(
        c.pass(&syn),
        tcp_out((P, 1025), (S, 1530), "S", 1, 0, b"", &syn)
    );
    let s = c.sessions();
    assert_eq!(s[0].flags, FLAG_ALG_PARENT | FLAG_NAT);
    assert_eq!(s[1].flags, FLAG_ALG_CHILD | FLAG_NAT);
    assert_eq!(
        (s[1].alg, s[1].parent),
        (Some(AppProtocol::Sqlnet), Some(s[0].id))
    );
}

#[test]
fn redirect_to_a_listener_behind_destination_nat_is_rewritten_with_its_lengths() {
    let (x, pubv, srv) = ("198.51.100.7", "203.0.113.10", "10.0.0.10");
    let mut c = Cluster::one(&dnat_config("junos-sqlnet-v2"));
    c.pass(&tcp((x, 6000), (pubv, 1521), "S", 100, 0, b""));
    c.pass(&tcp((srv, 1521), (x, 6000), "SA", 500, 101, b""));
    let r = redirect(&format!(
        "(DESCRIPTION=(ADDRESS_LIST={}{}))",
        address(srv, 1530),
        address("db.example", 1531)
    ));
    let want = redirect(&format!(
        "(DESCRIPTION=(ADDRESS_LIST={}{}))",
        address(pubv, 1530),
        address("db.example", 1531)
    ));
    let f = tcp((srv, 1521), (x, 6000), "PA", 501, 101, &r);
    assert_eq!(
        c.pass(&f),
        tcp_out((pubv, 1521), (x, 6000), "PA", 501, 101, &want, &f)
    );
    // The client acks the longer packet; the server sees its own numbering.
    let ack = tcp(
        (x, 6000),
        (pubv, 1521),
        "A",
        101,
        501 + want.len() as u32,
        b"",
    );
    let (_, _, a, _) = tcp_parts(&c.pass(&ack));
    assert_eq!(a, 501 + r.len() as u32);
    let syn = tcp((x, 6001), (pubv, 1530), "S", 1, 0, b"");
    assert_eq!(
        c.pass(&syn),
        tcp_out((x, 6001), (srv, 1530), "S", 1, 0, b"", &syn)
    );
    // A retransmission gets the same bytes.
    let (p, _, _, _) = tcp_parts(&c.pass(&f));
    assert_eq!(p, want);
}

#[test]
fn after_accept_nothing_is_inspected() {
    let mut c = Cluster::one(&napt());
    c.pass(&tcp((C, 40000), (S, 1521), "S", 100, 0, b""));
    c.pass(&tcp((S, 1521), (P, 1024), "SA", 500, 101, b""));
    let acc = tns(2, &[1, 0x3a, 0, 0]);
    c.pass(&tcp((S, 1521), (P, 1024), "PA", 501, 101, &acc));
    // Data that looks like a redirect (or like nothing) passes untouched.
    let r = redirect(&address(S, 1530));
    let seq = 501 + acc.len() as u32;
    let f = tcp((S, 1521), (P, 1024), "PA", seq, 101, &r);
    assert_eq!(
        c.pass(&f),
        tcp_out((S, 1521), (C, 40000), "PA", seq, 101, &r, &f)
    );
    let f = tcp(
        (S, 1521),
        (P, 1024),
        "PA",
        seq + r.len() as u32,
        101,
        b"\x00\x00\x00\x00garbage",
    );
    c.pass(&f);
    assert_eq!(c.stats().alg.pinholes_created, 0);
}

#[test]
fn hostile_packets_are_refused_and_counted() {
    let mut c = Cluster::one(&napt());
    c.pass(&tcp((C, 40000), (S, 1521), "S", 100, 0, b""));
    c.pass(&tcp((S, 1521), (P, 1024), "SA", 500, 101, b""));
    let mut lying = redirect(&address(S, 1530));
    lying[8..10].copy_from_slice(&9999u16.to_be_bytes());
    let long = format!(
        "(ADDRESS=(PROTOCOL=TCP)(HOST={S})(PORT={}))",
        "9".repeat(10_000)
    );
    let bad: Vec<Vec<u8>> = vec![
        vec![0, 3, 0, 0, 5, 0, 0, 0],
        lying,
        redirect(&address(S, 0)),
        redirect(&long[..long.len().min(60_000)]),
        redirect(&address(S, 1530).repeat(10)),
    ];
    for (i, m) in bad.iter().enumerate() {
        let (v, _) = c.send(&tcp((S, 1521), (P, 1024), "PA", 501, 101, m));
        assert_eq!(v, Verdict::Drop(DropReason::Alg), "packet {i}");
    }
    assert_eq!(c.stats().alg.malformed, bad.len() as u64);
    let r = redirect(&address(S, 1530));
    let (v, _) = c.send(&tcp((S, 1521), (P, 1024), "PA", 501, 101, &r[..20]));
    assert_eq!(v, Verdict::Drop(DropReason::Alg));
    assert_eq!(c.stats().alg.partial_lines, 1);
}

/// Found by the `alg_sqlnet` fuzz target: a `(PROTOCOL=` whose value is a tab up to the
/// next `(` gave a reversed range (start past end) and a panic. A blank value is empty.
#[test]
fn a_blank_value_is_empty_not_a_panic() {
    let d = b"(DESCRIPTION=(ADDRESS=(PROTOCOL=\t(DEETC";
    assert_eq!(mspic_alg::sqlnet::addresses(d).map(|(_, n)| n), Ok(0));
    let d = b"(ADDRESS=(PROTOCOL= TCP )(HOST=\t)(PORT=1521))";
    assert_eq!(
        mspic_alg::sqlnet::addresses(d),
        Err(mspic_flow::alg::AlgError::Malformed("sqlnet"))
    );
}
