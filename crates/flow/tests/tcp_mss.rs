//! `tcp-mss` of a service set (Junos "Configuring Service Set Limitations"): a SYN or
//! SYN-ACK announcing a larger MSS leaves with the set's value, smaller ones pass
//! untouched, and `show services service-sets statistics tcp-mss` counts both. Expected
//! frames are built by etherparse with the MSS already lowered.

mod common;

use common::*;
use etherparse::{PacketBuilder, TcpOptionElement as Opt};
use mspic_flow::Verdict;

/// A SYN (or SYN-ACK) with window scale and MSS options.
fn syn(src: &str, sport: u16, dst: &str, dport: u16, ack: bool, mss: u16, ttl: u8) -> Vec<u8> {
    let (s, d) = (v4(src), v4(dst));
    let (sm, dm) = if s.octets()[0] == 10 {
        (CLIENT_MAC, ROUTER_MAC)
    } else {
        ([2, 0, 0, 0, 0, 0x22], [2, 0, 0, 0, 1, 1])
    };
    let mut b = PacketBuilder::ethernet2(sm, dm)
        .ipv4(s.octets(), d.octets(), ttl)
        .tcp(sport, dport, 1000, 64240)
        .syn();
    if ack {
        b = b.ack(5000);
    }
    let b = b
        .options(&[Opt::WindowScale(7), Opt::MaximumSegmentSize(mss), Opt::Noop])
        .unwrap();
    let mut out = Vec::new();
    b.write(&mut out, b"").unwrap();
    out
}

fn cfg() -> String {
    config(ACCEPT_INSIDE, "").replace(
        "stateful-firewall-rules r;",
        "stateful-firewall-rules r; tcp-mss 1400;",
    )
}

#[test]
fn syn_and_syn_ack_mss_lowered_and_counted() {
    let mut h = Harness::new(&cfg());
    let rows = [
        (
            syn("10.0.0.2", 40000, "198.51.100.7", 443, false, 1460, 64),
            1400,
        ),
        (
            syn("198.51.100.7", 443, "10.0.0.2", 40000, true, 9000, 64),
            1400,
        ),
        (
            syn("10.0.0.3", 40001, "198.51.100.7", 443, false, 1300, 64),
            1300,
        ),
        (
            syn("10.0.0.3", 40002, "198.51.100.7", 443, false, 1400, 64),
            1400,
        ),
    ];
    for (i, (input, mss)) in rows.into_iter().enumerate() {
        let (v, out) = h.send(&input);
        assert!(matches!(v, Verdict::Forward { .. }), "row {i}: {v:?}");
        let p = mspic_wire::parse_frame(&input).unwrap();
        let (s, d) = (p.key.src.to_string(), p.key.dst.to_string());
        let ack = matches!(p.l4, mspic_wire::parse::L4::Tcp { flags, .. } if flags & 0x10 != 0);
        let want = syn(&s, p.key.src_port, &d, p.key.dst_port, ack, mss, 63);
        assert_eq!(out, with_macs(want, &input), "row {i}");
        assert!(checksums_ok(&out), "row {i}");
    }
    let st = &h.shard.tcp_mss_statistics()[0];
    assert_eq!((st.syn_received, st.syn_modified), (4, 2));
}

#[test]
fn without_tcp_mss_syns_pass_untouched() {
    let mut h = Harness::new(&config(ACCEPT_INSIDE, ""));
    let input = syn("10.0.0.2", 40000, "198.51.100.7", 443, false, 9000, 64);
    let (_, out) = h.send(&input);
    let want = syn("10.0.0.2", 40000, "198.51.100.7", 443, false, 9000, 63);
    assert_eq!(out, with_macs(want, &input));
    assert_eq!(h.shard.tcp_mss_statistics()[0].syn_received, 0);
}
