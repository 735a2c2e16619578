//! DCE RPC endpoint mapper through a shard: an `ept_map` response on a bound endpoint
//! mapper context opens the towers' endpoints, a server behind destination NAT has its
//! tower address rewritten, other interfaces and hostile PDUs are handled.

mod common;

use common::*;
use mspic_config::AppProtocol;
use mspic_flow::{DropReason, Verdict, FLAG_ALG_CHILD, FLAG_NAT, FLAG_RPC_PARENT};

const C: &str = "10.0.0.2";
const S: &str = "198.51.100.7";
const P: &str = "203.0.113.128";

/// A UUID in NDR little-endian order.
fn uuid(s: &str) -> Vec<u8> {
    let h: Vec<u8> = (0..16)
        .map(|i| {
            let hex: String = s
                .chars()
                .filter(|c| *c != '-')
                .skip(2 * i)
                .take(2)
                .collect();
            u8::from_str_radix(&hex, 16).unwrap()
        })
        .collect();
    let mut v = Vec::new();
    v.extend(h[0..4].iter().rev());
    v.extend(h[4..6].iter().rev());
    v.extend(h[6..8].iter().rev());
    v.extend(&h[8..]);
    v
}

const EPM: &str = "e1af8308-5d1f-11c9-91a4-08002b14a0fa";
const NDR: &str = "8a885d04-1ceb-11c9-9fe8-08002b104860";
const OXID: &str = "99fcfec4-5260-101b-bbcb-00aa0021347a";
const SAMR: &str = "12345778-1234-abcd-ef00-0123456789ac";
/// The Exchange database interface (`junos-ms-rpc-msexchange-database`).
const EXCHANGE_DB: &str = "1a190310-bb9c-11cd-90f8-00aa00466520";

/// A PDU: common header (little-endian data representation) and body.
fn pdu(ptype: u8, call_id: u32, body: &[u8]) -> Vec<u8> {
    let mut v = vec![5, 0, ptype, 3, 0x10, 0, 0, 0];
    v.extend_from_slice(&((16 + body.len()) as u16).to_le_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&call_id.to_le_bytes());
    v.extend_from_slice(body);
    v
}

fn bind(ctx_id: u16, iface: &str) -> Vec<u8> {
    let mut b = vec![0xd0, 0x16, 0xd0, 0x16, 0, 0, 0, 0, 1, 0, 0, 0];
    b.extend_from_slice(&ctx_id.to_le_bytes());
    b.extend_from_slice(&[1, 0]);
    b.extend(uuid(iface));
    b.extend_from_slice(&[3, 0, 0, 0]);
    b.extend(uuid(NDR));
    b.extend_from_slice(&2u32.to_le_bytes());
    pdu(11, 1, &b)
}

fn request(call_id: u32, ctx_id: u16, opnum: u16) -> Vec<u8> {
    let mut b = 64u32.to_le_bytes().to_vec();
    b.extend_from_slice(&ctx_id.to_le_bytes());
    b.extend_from_slice(&opnum.to_le_bytes());
    b.extend_from_slice(&[0u8; 64]);
    pdu(0, call_id, &b)
}

/// A TCP tower for `port` at `ip` (C706 Appendix L: five floors).
fn tower(proto_id: u8, port: u16, ip: [u8; 4]) -> Vec<u8> {
    tower_for(SAMR, proto_id, port, ip)
}

/// [`tower`] for interface `iface`.
fn tower_for(iface: &str, proto_id: u8, port: u16, ip: [u8; 4]) -> Vec<u8> {
    let mut t = 5u16.to_le_bytes().to_vec();
    let mut floor = |lhs: &[u8], rhs: &[u8]| {
        t.extend_from_slice(&(lhs.len() as u16).to_le_bytes());
        t.extend_from_slice(lhs);
        t.extend_from_slice(&(rhs.len() as u16).to_le_bytes());
        t.extend_from_slice(rhs);
    };
    floor(
        &[[0x0d].as_slice(), &uuid(iface), &[1, 0]].concat(),
        &[0, 0],
    );
    floor(&[[0x0d].as_slice(), &uuid(NDR), &[2, 0]].concat(), &[0, 0]);
    floor(&[0x0b], &[0, 0]);
    floor(&[proto_id], &port.to_be_bytes());
    floor(&[0x09], &ip);
    t
}

/// An `ept_map` response carrying `towers`.
fn map_response(call_id: u32, towers: &[Vec<u8>]) -> Vec<u8> {
    let mut s = vec![0u8; 20];
    s.extend_from_slice(&(towers.len() as u32).to_le_bytes());
    for w in [4u32, 0, towers.len() as u32] {
        s.extend_from_slice(&w.to_le_bytes());
    }
    for i in 0..towers.len() {
        s.extend_from_slice(&(3 + i as u32).to_le_bytes());
    }
    for t in towers {
        s.extend_from_slice(&(t.len() as u32).to_le_bytes());
        s.extend_from_slice(&(t.len() as u32).to_le_bytes());
        s.extend_from_slice(t);
        s.resize(s.len().div_ceil(4) * 4, 0);
    }
    s.extend_from_slice(&0u32.to_le_bytes());
    let mut b = (s.len() as u32).to_le_bytes().to_vec();
    b.extend_from_slice(&[0, 0, 0, 0]);
    b.extend(s);
    pdu(2, call_id, &b)
}

/// A connection C:40000 → S:135 under NAPT with the endpoint mapper bound as context 0.
fn bound() -> (Cluster, u32, u32) {
    bound_in(&napt())
}

/// [`bound`] under configuration `config`.
fn bound_in(config: &str) -> (Cluster, u32, u32) {
    let mut c = Cluster::one(config);
    c.pass(&tcp((C, 40000), (S, 135), "S", 100, 0, b""));
    c.pass(&tcp((S, 135), (P, 1024), "SA", 500, 101, b""));
    let b = bind(0, EPM);
    c.pass(&tcp((C, 40000), (S, 135), "PA", 101, 501, &b));
    (c, 101 + b.len() as u32, 501)
}

#[test]
fn ept_map_response_opens_the_towers_endpoints() {
    let (mut c, cs, ss) = bound();
    let q = request(2, 0, 3);
    c.pass(&tcp((C, 40000), (S, 135), "PA", cs, ss, &q));
    let r = map_response(
        2,
        &[
            tower(0x07, 49667, [198, 51, 100, 7]),
            tower(0x08, 49668, [198, 51, 100, 7]),
        ],
    );
    let f = tcp((S, 135), (P, 1024), "PA", ss, cs + q.len() as u32, &r);
    assert_eq!(
        c.pass(&f),
        tcp_out((S, 135), (C, 40000), "PA", ss, cs + q.len() as u32, &r, &f)
    );
    let syn = tcp((C, 40001), (S, 49667), "S", 1, 0, b"");
    assert_eq!(
        c.pass(&syn),
        tcp_out((P, 1025), (S, 49667), "S", 1, 0, b"", &syn)
    );
    c.pass(&udp((C, 40002), (S, 49668), b"dg"));
    let s = c.sessions();
    assert_eq!(s[0].flags, FLAG_RPC_PARENT | FLAG_NAT);
    for ch in &s[1..] {
        assert_eq!(ch.flags, FLAG_ALG_CHILD | FLAG_NAT);
        assert_eq!(
            (ch.alg, ch.parent),
            (Some(AppProtocol::DceRpcPortmap), Some(s[0].id))
        );
    }
}

#[test]
fn towers_of_other_hosts_and_other_interfaces_open_nothing() {
    let (mut c, cs, ss) = bound();
    // A tower naming another host; a response to a call on another interface (the same
    // opnum means something else there: its body is not a tower list).
    let q = request(2, 0, 3);
    c.pass(&tcp((C, 40000), (S, 135), "PA", cs, ss, &q));
    let cs = cs + q.len() as u32;
    let r = map_response(2, &[tower(0x07, 49667, [192, 0, 2, 1])]);
    c.pass(&tcp((S, 135), (P, 1024), "PA", ss, cs, &r));
    let ss = ss + r.len() as u32;
    let b = bind(1, OXID);
    c.pass(&tcp((C, 40000), (S, 135), "PA", cs, ss, &b));
    let cs = cs + b.len() as u32;
    let q = request(3, 1, 3);
    c.pass(&tcp((C, 40000), (S, 135), "PA", cs, ss, &q));
    let status = pdu(2, 3, &[4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    c.pass(&tcp(
        (S, 135),
        (P, 1024),
        "PA",
        ss,
        cs + q.len() as u32,
        &status,
    ));
    assert_eq!(c.stats().alg.pinholes_created, 0);
}

#[test]
fn tower_address_of_a_server_behind_destination_nat_is_rewritten() {
    let (x, pubv, srv) = ("198.51.100.7", "203.0.113.10", "10.0.0.10");
    let mut c = Cluster::one(&dnat_config("junos-dce-rpc-portmap"));
    c.pass(&tcp((x, 6000), (pubv, 135), "S", 100, 0, b""));
    c.pass(&tcp((srv, 135), (x, 6000), "SA", 500, 101, b""));
    let b = bind(0, EPM);
    let q = request(2, 0, 3);
    let seg = [b.clone(), q].concat();
    c.pass(&tcp((x, 6000), (pubv, 135), "PA", 101, 501, &seg));
    let r = map_response(2, &[tower(0x07, 49667, [10, 0, 0, 10])]);
    let f = tcp((srv, 135), (x, 6000), "PA", 501, 101 + seg.len() as u32, &r);
    let want = map_response(2, &[tower(0x07, 49667, [203, 0, 113, 10])]);
    assert_eq!(
        c.pass(&f),
        tcp_out(
            (pubv, 135),
            (x, 6000),
            "PA",
            501,
            101 + seg.len() as u32,
            &want,
            &f
        )
    );
    let syn = tcp((x, 6001), (pubv, 49667), "S", 1, 0, b"");
    assert_eq!(
        c.pass(&syn),
        tcp_out((x, 6001), (srv, 49667), "S", 1, 0, b"", &syn)
    );
}

#[test]
fn hostile_pdus_are_refused_and_counted() {
    let (mut c, cs, ss) = bound();
    let q = request(2, 0, 3);
    c.pass(&tcp((C, 40000), (S, 135), "PA", cs, ss, &q));
    let cs = cs + q.len() as u32;
    let mut bad_version = map_response(2, &[]);
    bad_version[0] = 4;
    let mut short_frag = map_response(2, &[]);
    short_frag[8] = 8;
    let mut huge_count = map_response(2, &[tower(0x07, 1, [198, 51, 100, 7])]);
    huge_count[16 + 8 + 24 + 8..16 + 8 + 24 + 12].copy_from_slice(&1000u32.to_le_bytes());
    let mut floors = tower(0x07, 1, [198, 51, 100, 7]);
    floors[0] = 200;
    let bad: Vec<Vec<u8>> = vec![
        b"garbage garbage garbage".to_vec(),
        bad_version,
        short_frag,
        huge_count,
        map_response(2, &[floors]),
        map_response(2, &[tower(0x07, 1, [198, 51, 100, 7])[..20].to_vec()]),
    ];
    for (i, m) in bad.iter().enumerate() {
        let (v, _) = c.send(&tcp((S, 135), (P, 1024), "PA", ss, cs, m));
        assert_eq!(v, Verdict::Drop(DropReason::Alg), "pdu {i}");
    }
    assert_eq!(c.stats().alg.malformed, bad.len() as u64);
    // A PDU cut by the segment's end waits for its retransmission.
    let r = map_response(2, &[tower(0x07, 49667, [198, 51, 100, 7])]);
    let (v, _) = c.send(&tcp((S, 135), (P, 1024), "PA", ss, cs, &r[..40]));
    assert_eq!(v, Verdict::Drop(DropReason::Alg));
    assert_eq!(c.stats().alg.partial_lines, 1);
}

/// `uuid` (user and predefined applications): an `ept_map` tower of an interface the
/// session's application admits opens its port; another one's passes, opens nothing and
/// is counted as not admitted.
#[test]
fn uuids_limit_the_tower_pinholes() {
    let defs = "application exchange-db { application-protocol dce-rpc-portmap; protocol tcp; \
                destination-port 135; uuid 1A190310-BB9C-11CD-90F8-00AA00466520; }";
    // (application of the endpoint mapper session, interface of the tower, pinhole opened)
    let cases = [
        ("exchange-db", EXCHANGE_DB, true),
        ("exchange-db", SAMR, false),
        (
            "junos-ms-rpc-msexchange-directory",
            "f5cc5a7c-4264-101a-8c59-08002b2f8426",
            true,
        ),
        ("junos-ms-rpc-msexchange-directory", EXCHANGE_DB, false),
        ("junos-ms-rpc-msexchange", EXCHANGE_DB, true),
        ("junos-dce-rpc-portmap", SAMR, true),
    ];
    for (app, iface, opens) in cases {
        let config = napt().replacen("junos-dce-rpc-portmap", app, 1).replacen(
            "applications {\n",
            &format!("applications {{\n    {defs}\n"),
            1,
        );
        let (mut c, cs, ss) = bound_in(&config);
        let q = request(2, 0, 3);
        c.pass(&tcp((C, 40000), (S, 135), "PA", cs, ss, &q));
        let r = map_response(2, &[tower_for(iface, 0x07, 49667, [198, 51, 100, 7])]);
        let f = tcp((S, 135), (P, 1024), "PA", ss, cs + q.len() as u32, &r);
        assert_eq!(
            c.pass(&f),
            tcp_out((S, 135), (C, 40000), "PA", ss, cs + q.len() as u32, &r, &f),
            "{app} {iface}"
        );
        c.pass(&tcp((C, 40001), (S, 49667), "S", 1, 0, b""));
        let child = c.sessions().iter().any(|s| s.flags & FLAG_ALG_CHILD != 0);
        assert_eq!(child, opens, "{app} {iface}");
        let a = c.stats().alg;
        assert_eq!(
            (a.pinholes_created, a.not_admitted),
            (u64::from(opens), u64::from(!opens)),
            "{app} {iface}"
        );
    }
}
