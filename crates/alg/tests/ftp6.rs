//! FTP over IPv6 (RFC 2428): `EPRT |2|…|` and `229` open the data connection's pinhole;
//! nothing is translated (NAT is IPv4 only).

mod common;

use std::net::Ipv6Addr;

use common::*;
use etherparse::PacketBuilder;
use mspic_flow::{FlowDirection, FLAG_ALG_CHILD};

const CONFIG: &str = r#"
interfaces {
    ge-0/0/0 { unit 0 { family inet6 { service { input { service-set ss; } output { service-set ss; } } address 2001:db8:1::1/64; } } }
    ge-0/0/1 { unit 0 { family inet6 { address 2001:db8:2::1/64; } } }
    ms-1/1/0 { unit 0 { family inet6; } }
}
routing-options { rib inet6.0 { static { route 2001:db8:99::/48 next-hop 2001:db8:2::2; } } }
services {
    stateful-firewall {
        rule r { match-direction input; term ftp { from { source-address { 2001:db8:1::/64; } applications junos-ftp; } then { accept; } } }
    }
    service-set ss { stateful-firewall-rules r; interface-service { service-interface ms-1/1/0; } }
}
"#;

const C: &str = "2001:db8:1::2";
const S: &str = "2001:db8:99::7";

fn tcp6(
    src: (&str, u16),
    dst: (&str, u16),
    flags: &str,
    seq: u32,
    ack: u32,
    payload: &[u8],
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
    b.write(&mut out, payload).unwrap();
    out
}

#[test]
fn eprt_and_epsv_open_the_data_connection() {
    let mut c = Cluster::one(CONFIG);
    c.pass(&tcp6((C, 40000), (S, 21), "S", 100, 0, b""));
    c.pass(&tcp6((S, 21), (C, 40000), "SA", 500, 101, b""));
    let eprt = b"EPRT |2|2001:db8:1::2|40001|\r\n";
    let out = c.pass(&tcp6((C, 40000), (S, 21), "PA", 101, 501, eprt));
    assert_eq!(tcp_parts(&out).0, eprt);
    c.pass(&tcp6((S, 20), (C, 40001), "S", 1, 0, b""));
    c.pass(&tcp6(
        (S, 21),
        (C, 40000),
        "PA",
        501,
        131,
        b"229 Entering Extended Passive Mode (|||50000|)\r\n",
    ));
    c.pass(&tcp6((C, 40002), (S, 50000), "S", 1, 0, b""));
    let s = c.sessions();
    let children: Vec<_> = s.iter().filter(|x| x.flags & FLAG_ALG_CHILD != 0).collect();
    assert_eq!(children.len(), 2);
    assert_eq!(
        children[0].flows[0].direction,
        FlowDirection::O,
        "active: from the server"
    );
    assert_eq!(
        children[1].flows[0].direction,
        FlowDirection::I,
        "passive: from the client"
    );
    // An EPRT naming another host is refused.
    let (v, _) = c.send(&tcp6(
        (C, 40000),
        (S, 21),
        "PA",
        131,
        551,
        b"EPRT |2|2001:db8:1::9|4000|\r\n",
    ));
    assert_eq!(v, mspic_flow::Verdict::Drop(mspic_flow::DropReason::Alg));
}
