//! Sun RPC portmapper through a shard: GETPORT and GETADDR replies open the pinhole for
//! the returned port (UDP and TCP with record marking), a server behind destination NAT
//! has its universal address rewritten, hostile messages are refused.

mod common;

use common::*;
use mspic_config::AppProtocol;
use mspic_flow::{DropReason, Verdict, FLAG_ALG_CHILD, FLAG_NAT, FLAG_RPC_PARENT};

const C: &str = "10.0.0.2";
const S: &str = "198.51.100.7";
const P: &str = "203.0.113.128";

fn words(w: &[u32]) -> Vec<u8> {
    w.iter().flat_map(|x| x.to_be_bytes()).collect()
}

/// An XDR string (length, bytes, zero padding to 4).
fn xdr_string(s: &str) -> Vec<u8> {
    let mut v = (s.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(s.as_bytes());
    v.resize(4 + s.len().div_ceil(4) * 4, 0);
    v
}

/// A portmapper call (AUTH_NONE) of version `v`, procedure 3, with `args`.
fn call(xid: u32, v: u32, args: &[u8]) -> Vec<u8> {
    [
        words(&[xid, 0, 2, 100_000, v, 3, 0, 0, 0, 0]),
        args.to_vec(),
    ]
    .concat()
}

/// A successful reply with `results`.
fn reply(xid: u32, results: &[u8]) -> Vec<u8> {
    [words(&[xid, 1, 0, 0, 0, 0]), results.to_vec()].concat()
}

/// A TCP record (RFC 5531 §11), last fragment.
fn record(m: &[u8]) -> Vec<u8> {
    [
        (0x8000_0000u32 | m.len() as u32).to_be_bytes().to_vec(),
        m.to_vec(),
    ]
    .concat()
}

#[test]
fn udp_getport_opens_the_program_port_under_napt() {
    let mut c = Cluster::one(&napt());
    // NFS (100003) version 3 over UDP.
    let q = call(0x1234, 2, &words(&[100_003, 3, 17, 0]));
    let f = udp((C, 800), (S, 111), &q);
    assert_eq!(c.pass(&f), udp_out((P, 1024), (S, 111), &q, &f));
    let r = reply(0x1234, &words(&[2049]));
    let f = udp((S, 111), (P, 1024), &r);
    assert_eq!(c.pass(&f), udp_out((S, 111), (C, 800), &r, &f));
    // The client reaches the program from any port, translated.
    let nfs = udp((C, 900), (S, 2049), b"nfs call");
    assert_eq!(
        c.pass(&nfs),
        udp_out((P, 1025), (S, 2049), b"nfs call", &nfs)
    );
    let s = c.sessions();
    assert_eq!(s[0].flags, FLAG_RPC_PARENT | FLAG_NAT);
    assert_eq!(s[1].flags, FLAG_ALG_CHILD | FLAG_NAT);
    assert_eq!(
        (s[1].alg, s[1].parent),
        (Some(AppProtocol::RpcPortmap), Some(s[0].id))
    );
    // A TCP connection to that port was not announced (the call asked for UDP).
    c.pass(&tcp((C, 901), (S, 2049), "S", 1, 0, b""));
    assert_eq!(c.sessions()[2].flags & FLAG_ALG_CHILD, 0);
}

#[test]
fn tcp_getport_with_record_marking() {
    let mut c = Cluster::one(&napt());
    c.pass(&tcp((C, 700), (S, 111), "S", 100, 0, b""));
    c.pass(&tcp((S, 111), (P, 1024), "SA", 500, 101, b""));
    // mountd (100005) version 3 over TCP; the reply in two records with another call's.
    let q = record(&call(7, 2, &words(&[100_005, 3, 6, 0])));
    c.pass(&tcp((C, 700), (S, 111), "PA", 101, 501, &q));
    let r = [
        record(&reply(99, &words(&[5]))),
        record(&reply(7, &words(&[20048]))),
    ]
    .concat();
    let f = tcp((S, 111), (P, 1024), "PA", 501, 101 + q.len() as u32, &r);
    assert_eq!(
        c.pass(&f),
        tcp_out((S, 111), (C, 700), "PA", 501, 101 + q.len() as u32, &r, &f)
    );
    c.pass(&tcp((C, 710), (S, 20048), "S", 1, 0, b""));
    assert_eq!(c.sessions()[1].flags, FLAG_ALG_CHILD | FLAG_NAT);
    // A record cut by the segment's end waits for its retransmission.
    let q2 = record(&call(8, 2, &words(&[100_005, 3, 6, 0])));
    let (v, _) = c.send(&tcp(
        (C, 700),
        (S, 111),
        "PA",
        101 + q.len() as u32,
        501,
        &q2[..20],
    ));
    assert_eq!(v, Verdict::Drop(DropReason::Alg));
    assert_eq!(c.stats().alg.partial_lines, 1);
}

#[test]
fn unanswered_unregistered_and_failed_lookups_open_nothing() {
    let mut c = Cluster::one(&napt());
    c.pass(&udp(
        (C, 800),
        (S, 111),
        &call(1, 2, &words(&[100_003, 3, 17, 0])),
    ));
    // Not registered (port 0); a reply to no call; a denied reply.
    c.pass(&udp((S, 111), (P, 1024), &reply(1, &words(&[0]))));
    c.pass(&udp((S, 111), (P, 1024), &reply(77, &words(&[2049]))));
    c.pass(&udp((S, 111), (P, 1024), &words(&[1, 1, 1, 0, 0])));
    assert_eq!(c.stats().alg.pinholes_created, 0);
}

#[test]
fn getaddr_universal_address_of_a_server_behind_destination_nat_is_rewritten() {
    let (x, pubv, srv) = ("198.51.100.7", "203.0.113.10", "10.0.0.10");
    let mut c = Cluster::one(&dnat_config("junos-rpc-portmap"));
    c.pass(&tcp((x, 700), (pubv, 111), "S", 100, 0, b""));
    c.pass(&tcp((srv, 111), (x, 700), "SA", 500, 101, b""));
    // rpcbind version 4 GETADDR (prog, vers, netid, addr, owner).
    let args = [
        words(&[100_003, 3]),
        xdr_string("tcp"),
        xdr_string(""),
        xdr_string(""),
    ]
    .concat();
    let q = record(&call(5, 4, &args));
    c.pass(&tcp((x, 700), (pubv, 111), "PA", 101, 501, &q));
    let r = record(&reply(5, &xdr_string("10.0.0.10.156.64")));
    let f = tcp((srv, 111), (x, 700), "PA", 501, 101 + q.len() as u32, &r);
    let want = record(&reply(5, &xdr_string("203.0.113.10.156.64")));
    assert_eq!(
        c.pass(&f),
        tcp_out(
            (pubv, 111),
            (x, 700),
            "PA",
            501,
            101 + q.len() as u32,
            &want,
            &f
        )
    );
    // The client connects to the public address; the server acks the longer reply in
    // its own numbering.
    let syn = tcp((x, 710), (pubv, 40000), "S", 1, 0, b"");
    assert_eq!(
        c.pass(&syn),
        tcp_out((x, 710), (srv, 40000), "S", 1, 0, b"", &syn)
    );
    let ack = tcp(
        (x, 700),
        (pubv, 111),
        "A",
        101 + q.len() as u32,
        501 + want.len() as u32,
        b"",
    );
    let (_, _, a, _) = tcp_parts(&c.pass(&ack));
    assert_eq!(a, 501 + r.len() as u32);
}

#[test]
fn hostile_messages_are_refused_and_counted() {
    let mut c = Cluster::one(&napt());
    let bad: Vec<Vec<u8>> = vec![
        b"garbage".to_vec(),
        words(&[1, 0, 3, 100_000, 2, 3, 0, 0, 0, 0]),
        words(&[1, 0, 2, 100_000, 2, 3, 1, 100_000]),
        words(&[1, 7]),
        call(1, 2, &words(&[100_003])),
        call(1, 3, &[0xff; 8]),
    ];
    for (i, m) in bad.iter().enumerate() {
        let (v, _) = c.send(&udp((C, 800), (S, 111), m));
        assert_eq!(v, Verdict::Drop(DropReason::Alg), "message {i}");
    }
    assert_eq!(c.stats().alg.malformed, bad.len() as u64);
    // An oversized port in a reply.
    c.pass(&udp(
        (C, 801),
        (S, 111),
        &call(2, 2, &words(&[100_003, 3, 17, 0])),
    ));
    let (v, _) = c.send(&udp((S, 111), (P, 1025), &reply(2, &words(&[70_000]))));
    assert_eq!(v, Verdict::Drop(DropReason::Alg));
}

/// `napt()` with the portmapper term naming `apps` instead of `junos-rpc-portmap`, and the
/// applications `defs` defined.
fn napt_with(apps: &str, defs: &str) -> String {
    let c = napt().replacen("junos-rpc-portmap", apps, 1).replacen(
        "applications {\n",
        &format!("applications {{\n    {defs}\n"),
        1,
    );
    assert!(c.contains(defs));
    c
}

/// `rpc-program-number` (user and predefined applications): a GETPORT for a program the
/// session's application admits opens its port; another one's reply passes, opens nothing
/// and is counted as not admitted.
#[test]
fn program_numbers_limit_the_getport_pinholes() {
    let defs = "application nfs-only { application-protocol rpc-portmap; protocol udp; \
                destination-port 111; rpc-program-number 100003; }";
    // (application of the portmapper session, program asked for, pinhole opened)
    let cases = [
        ("nfs-only", 100_003, true),
        ("nfs-only", 100_005, false),
        ("junos-sun-rpc-mountd", 100_005, true),
        ("junos-sun-rpc-mountd", 100_003, false),
        ("junos-sun-rpc-nfs", 100_227, true),
        ("junos-sun-rpc-nfs", 100_021, false),
        ("junos-rpc-portmap", 100_021, true),
    ];
    for (app, prog, opens) in cases {
        let mut c = Cluster::one(&napt_with(app, defs));
        c.pass(&udp(
            (C, 800),
            (S, 111),
            &call(9, 2, &words(&[prog, 3, 17, 0])),
        ));
        let r = reply(9, &words(&[2049]));
        let f = udp((S, 111), (P, 1024), &r);
        assert_eq!(
            c.pass(&f),
            udp_out((S, 111), (C, 800), &r, &f),
            "{app} {prog}"
        );
        c.pass(&udp((C, 900), (S, 2049), b"call"));
        let child = c.sessions().iter().any(|s| s.flags & FLAG_ALG_CHILD != 0);
        assert_eq!(child, opens, "{app} {prog}");
        let a = c.stats().alg;
        assert_eq!(
            (a.pinholes_created, a.not_admitted),
            (u64::from(opens), u64::from(!opens)),
            "{app} {prog}"
        );
    }
}
