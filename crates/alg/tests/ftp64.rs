//! FTP across stateful NAT64 (RFC 6146 with the FTP ALG, as RFC 6384 describes): an
//! IPv6-only client's `EPRT |2|…|` reaches the IPv4 server as `EPRT |1|pool address|pool
//! port|` and the server's active connection comes back to the client in IPv6; the `229`
//! reply needs no rewrite and the passive connection is a NAT64 child of the control
//! session. Through 1 and 2 shards.

mod common;

use std::net::{IpAddr, Ipv6Addr};

use common::*;
use etherparse::PacketBuilder;
use mspic_flow::{FlowDirection, FLAG_ALG_CHILD, FLAG_ALG_PARENT, FLAG_NAT64};

const CONFIG: &str = r#"
interfaces {
    ge-0/0/0 { unit 0 { family inet6 { service { input { service-set ss; } output { service-set ss; } } address 2001:db8:10::1/64; } } }
    ge-0/0/1 { unit 0 { family inet { address 203.0.113.1/24; } } }
    ms-1/1/0 { unit 0 { family inet; family inet6; } }
}
routing-options { static { route 198.51.100.0/24 next-hop 203.0.113.2; } }
services {
    stateful-firewall {
        rule r {
            match-direction input;
            term ftp { from { source-address { 2001:db8:10::/64; } applications junos-ftp; } then { accept; } }
            term rest { from { source-address { 2001:db8:10::/64; } } then { accept; } }
        }
    }
    nat {
        pool p4 { address 203.0.113.128/32; port { automatic; } }
        rule r64 {
            match-direction input;
            term t { from { destination-address { 64:ff9b::/96; } } then { translated { source-pool p4; translation-type stateful-nat64; } } }
        }
    }
    service-set ss { stateful-firewall-rules r; nat-rules r64; interface-service { service-interface ms-1/1/0; } }
}
"#;

const C: &str = "2001:db8:10::2";
const S6: &str = "64:ff9b::c633:6407";
const S4: &str = "198.51.100.7";
const POOL: &str = "203.0.113.128";

fn tcp6(
    src: (&str, u16),
    dst: (&str, u16),
    flags: &str,
    seq: u32,
    ack: u32,
    data: &[u8],
) -> Vec<u8> {
    let (s, d): (Ipv6Addr, Ipv6Addr) = (src.0.parse().unwrap(), dst.0.parse().unwrap());
    let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 1, 0])
        .ipv6(s.octets(), d.octets(), 64)
        .tcp(src.1, dst.1, seq, 64240);
    for f in flags.chars() {
        b = match f {
            'S' => b.syn(),
            'A' => b.ack(ack),
            'P' => b.psh(),
            _ => panic!("flag {f}"),
        };
    }
    let mut out = Vec::new();
    b.write(&mut out, data).unwrap();
    out
}

/// Addresses and ports of a frame, and its TCP payload; checks an IPv6 frame's TCP
/// checksum from scratch (IPv4 ones are checked by `Cluster::pass`).
fn tuple(frame: &[u8]) -> (IpAddr, u16, IpAddr, u16, Vec<u8>) {
    let p = etherparse::SlicedPacket::from_ethernet(frame).unwrap();
    let (src, dst) = match &p.net {
        Some(etherparse::NetSlice::Ipv4(ip)) => (
            IpAddr::V4(ip.header().source_addr()),
            IpAddr::V4(ip.header().destination_addr()),
        ),
        Some(etherparse::NetSlice::Ipv6(ip)) => {
            let h = ip.header();
            let Some(etherparse::TransportSlice::Tcp(t)) = &p.transport else {
                panic!("not TCP")
            };
            let want = t
                .to_header()
                .calc_checksum_ipv6(&h.to_header(), t.payload())
                .unwrap();
            assert_eq!(t.checksum(), want, "IPv6 TCP checksum");
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
            )
        }
        _ => panic!("not IP"),
    };
    let Some(etherparse::TransportSlice::Tcp(t)) = p.transport else {
        panic!("not TCP")
    };
    (
        src,
        t.source_port(),
        dst,
        t.destination_port(),
        t.payload().to_vec(),
    )
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn eprt_and_epsv_across_nat64() {
    for shards in [1, 2] {
        let mut c = Cluster::new(CONFIG, shards);
        // Control connection: out in IPv4 from the pool, back in IPv6.
        let out = c.pass(&tcp6((C, 40000), (S6, 21), "S", 100, 0, b""));
        let (src, cport, dst, _, _) = tuple(&out);
        assert_eq!((src, dst), (ip(POOL), ip(S4)));
        let back = c.pass(&tcp((S4, 21), (POOL, cport), "SA", 500, 101, b""));
        assert_eq!(tuple(&back).2, ip(C));
        // EPRT |2|client|: the server is told the pool address and a reserved pool port.
        let eprt = b"EPRT |2|2001:db8:10::2|40001|\r\n";
        let out = c.pass(&tcp6((C, 40000), (S6, 21), "PA", 101, 501, eprt));
        let text = String::from_utf8(tuple(&out).4).unwrap();
        let rest = text
            .strip_prefix("EPRT |1|203.0.113.128|")
            .unwrap_or_else(|| panic!("{text:?}"));
        let data_port: u16 = rest.strip_suffix("|\r\n").unwrap().parse().unwrap();
        // The server connects from port 20 to it: the client sees the server's IPv6
        // address, on the port it announced.
        let active = c.pass(&tcp((S4, 20), (POOL, data_port), "S", 1, 0, b""));
        let (a_src, a_sport, a_dst, a_dport, _) = tuple(&active);
        assert_eq!((a_src, a_sport, a_dst, a_dport), (ip(S6), 20, ip(C), 40001));
        let answer = c.pass(&tcp6((C, 40001), (S6, 20), "SA", 9, 2, b""));
        let (r_src, r_sport, r_dst, r_dport, _) = tuple(&answer);
        assert_eq!(
            (r_src, r_sport, r_dst, r_dport),
            (ip(POOL), data_port, ip(S4), 20)
        );
        // 229: no address to rewrite; the client's connection to the server's IPv6 address
        // becomes a child, translated like its parent.
        let epsv = b"229 Entering Extended Passive Mode (|||50000|)\r\n";
        let back = c.pass(&tcp((S4, 21), (POOL, cport), "PA", 501, 131, epsv));
        let (_, _, to, to_port, text) = tuple(&back);
        assert_eq!((to, to_port, text.as_slice()), (ip(C), 40000, &epsv[..]));
        let passive = c.pass(&tcp6((C, 40002), (S6, 50000), "S", 1, 0, b""));
        let (p_src, p_sport, p_dst, p_dport, _) = tuple(&passive);
        assert_eq!((p_src, p_dst, p_dport), (ip(POOL), ip(S4), 50000));
        let answer = c.pass(&tcp((S4, 50000), (POOL, p_sport), "SA", 7, 2, b""));
        let (q_src, q_sport, q_dst, q_dport, _) = tuple(&answer);
        assert_eq!(
            (q_src, q_sport, q_dst, q_dport),
            (ip(S6), 50000, ip(C), 40002)
        );
        let s = c.sessions();
        assert_eq!(s.len(), 3, "{shards} shards: {s:#?}");
        let children: Vec<_> = s.iter().filter(|x| x.flags & FLAG_ALG_CHILD != 0).collect();
        assert_eq!(children.len(), 2);
        let parent = s.iter().find(|x| x.flags & FLAG_ALG_PARENT != 0).unwrap();
        assert_eq!(parent.flags, FLAG_ALG_PARENT | FLAG_NAT64);
        for ch in &children {
            let nat = ch.nat.as_ref().expect("translated");
            assert_eq!(nat.translation_type.show_name(), "STATEFUL NAT64");
            assert_eq!(ch.flags, FLAG_ALG_CHILD | FLAG_NAT64);
            assert!(ch.flows.iter().all(|f| f.frames == 1), "{ch:?}");
        }
        let active = children
            .iter()
            .find(|x| x.flows[0].direction == FlowDirection::O)
            .expect("the active child, started by the server");
        assert_eq!(active.flows[0].src.addr, ip(S4));
    }
}
