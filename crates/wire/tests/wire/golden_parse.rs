//! Golden frames → expected `Parsed`, and the error cases.

use std::net::IpAddr;

use mspic_wire::parse::{l4_checksum_ok, parse_frame};
use mspic_wire::{ErrorClass, FlowKey, Fragment, InnerPacket, IpVersion, Parsed, WireError, L4};

use super::frames::*;
use super::naive;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn key(src: &str, dst: &str, sp: u16, dp: u16, proto: u8) -> FlowKey {
    FlowKey {
        src: ip(src),
        dst: ip(dst),
        src_port: sp,
        dst_port: dp,
        proto,
    }
}

/// The defaults of an untagged, unfragmented packet; tests override what differs.
fn base(version: IpVersion, key: FlowKey, l4: L4) -> Parsed {
    Parsed {
        vlan: None,
        ethertype: if version == IpVersion::V4 {
            0x0800
        } else {
            0x86dd
        },
        l3_offset: 14,
        l4_offset: if version == IpVersion::V4 { 34 } else { 54 },
        payload_offset: 0,
        payload_len: 0,
        ip_len: 0,
        version,
        ttl: 64,
        has_ip_options: false,
        fragment: Fragment::None,
        key,
        l4,
    }
}

fn check(name: &str, frame: &[u8], want: Parsed) {
    naive::verify_frame(frame).unwrap_or_else(|e| panic!("{name}: golden frame itself bad: {e}"));
    let got = parse_frame(frame).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(got, want, "{name}");
    assert!(l4_checksum_ok(frame, &got), "{name}: l4 checksum");
}

#[test]
fn tcp_syn_v4() {
    let want = Parsed {
        payload_offset: 58,
        ip_len: 44,
        ..base(
            IpVersion::V4,
            key("10.0.0.2", "203.0.113.2", 40000, 80, 6),
            L4::Tcp {
                flags: 0x02,
                seq: 0x1122_3344,
                ack: 0,
                window: 64240,
            },
        )
    };
    check("TCP_SYN_V4", &TCP_SYN_V4, want);
}

#[test]
fn ipv4_options_udp_padded() {
    let want = Parsed {
        l4_offset: 38,
        payload_offset: 46,
        payload_len: 4,
        ip_len: 36,
        ttl: 1,
        has_ip_options: true,
        ..base(
            IpVersion::V4,
            key("10.0.0.2", "10.0.0.1", 5353, 53, 17),
            L4::Udp,
        )
    };
    assert_eq!(UDP_OPTS_V4.len(), 60, "padding beyond the IP packet");
    check("UDP_OPTS_V4", &UDP_OPTS_V4, want);
}

#[test]
fn vlan_udp_v4() {
    let want = Parsed {
        vlan: Some(100),
        l3_offset: 18,
        l4_offset: 38,
        payload_offset: 46,
        payload_len: 8,
        ip_len: 36,
        ..base(
            IpVersion::V4,
            key("192.0.2.10", "198.51.100.20", 1024, 4500, 17),
            L4::Udp,
        )
    };
    check("VLAN_UDP_V4", &VLAN_UDP_V4, want);
}

#[test]
fn ipv6_hop_by_hop_fragment_udp() {
    let want = Parsed {
        l4_offset: 70,
        payload_offset: 78,
        payload_len: 16,
        ip_len: 80,
        fragment: Fragment::First { id: 0x1234_5678 },
        ..base(
            IpVersion::V6,
            key("2001:db8::1", "2001:db8::2", 5000, 6000, 17),
            L4::Udp,
        )
    };
    check("V6_HBH_FRAG_UDP", &V6_HBH_FRAG_UDP, want);
}

#[test]
fn tcp_v6() {
    let want = Parsed {
        payload_offset: 74,
        payload_len: 5,
        ip_len: 65,
        ttl: 63,
        ..base(
            IpVersion::V6,
            key("2001:db8:1::10", "2001:db8:2::20", 443, 51000, 6),
            L4::Tcp {
                flags: 0x18,
                seq: 1000,
                ack: 2000,
                window: 512,
            },
        )
    };
    check("TCP_V6", &TCP_V6, want);
}

#[test]
fn icmp_echo_v4_request_and_reply() {
    let req = Parsed {
        payload_offset: 42,
        payload_len: 8,
        ip_len: 36,
        ..base(
            IpVersion::V4,
            key("10.0.0.2", "203.0.113.2", 0x1234, 0, 1),
            L4::IcmpQuery {
                icmp_type: 8,
                code: 0,
                id: 0x1234,
            },
        )
    };
    check("ECHO_REQ_V4", &ECHO_REQ_V4, req);
    let rep = Parsed {
        key: key("203.0.113.2", "10.0.0.2", 0, 0x1234, 1),
        l4: L4::IcmpQuery {
            icmp_type: 0,
            code: 0,
            id: 0x1234,
        },
        ..req
    };
    check("ECHO_REPLY_V4", &ECHO_REPLY_V4, rep);
    assert_eq!(req.key.reversed(), rep.key);
}

#[test]
fn icmpv6_echo() {
    let want = Parsed {
        payload_offset: 62,
        payload_len: 4,
        ip_len: 52,
        ..base(
            IpVersion::V6,
            key("2001:db8::1", "2001:db8::2", 0xbeef, 0, 58),
            L4::IcmpQuery {
                icmp_type: 128,
                code: 0,
                id: 0xbeef,
            },
        )
    };
    check("ECHO_REQ_V6", &ECHO_REQ_V6, want);
}

#[test]
fn icmp_unreachable_quoting_udp() {
    let inner = InnerPacket {
        key: key("203.0.113.130", "198.51.100.1", 1025, 53, 17),
        l3_offset: 42,
        l4_offset: 62,
        fragment: Fragment::None,
    };
    let want = Parsed {
        payload_offset: 42,
        payload_len: 33,
        ip_len: 61,
        ..base(
            IpVersion::V4,
            key("198.51.100.1", "203.0.113.130", 0, 0, 1),
            L4::IcmpError {
                icmp_type: 3,
                code: 3,
                inner,
            },
        )
    };
    check("UNREACH_UDP_V4", &UNREACH_UDP_V4, want);
}

#[test]
fn icmp_time_exceeded_quoting_8_bytes_of_tcp() {
    let inner = InnerPacket {
        key: key("203.0.113.130", "198.51.100.7", 1026, 443, 6),
        l3_offset: 42,
        l4_offset: 62,
        fragment: Fragment::None,
    };
    let want = Parsed {
        payload_offset: 42,
        payload_len: 28,
        ip_len: 56,
        ..base(
            IpVersion::V4,
            key("192.0.2.1", "203.0.113.130", 0, 0, 1),
            L4::IcmpError {
                icmp_type: 11,
                code: 0,
                inner,
            },
        )
    };
    check("TIMEX_TCP8_V4", &TIMEX_TCP8_V4, want);
}

#[test]
fn icmp_time_exceeded_quoting_echo() {
    let inner = InnerPacket {
        key: key("203.0.113.130", "198.51.100.9", 0x0400, 0, 1),
        l3_offset: 42,
        l4_offset: 62,
        fragment: Fragment::None,
    };
    let want = Parsed {
        payload_offset: 42,
        payload_len: 36,
        ip_len: 64,
        ..base(
            IpVersion::V4,
            key("192.0.2.1", "203.0.113.130", 0, 0, 1),
            L4::IcmpError {
                icmp_type: 11,
                code: 0,
                inner,
            },
        )
    };
    check("TIMEX_ECHO_V4", &TIMEX_ECHO_V4, want);
}

#[test]
fn icmpv6_admin_prohibited_quoting_tcp() {
    let inner = InnerPacket {
        key: key("2001:db8:ffff::1", "2001:db8:9::9", 3000, 22, 6),
        l3_offset: 62,
        l4_offset: 102,
        fragment: Fragment::None,
    };
    let want = Parsed {
        payload_offset: 62,
        payload_len: 60,
        ip_len: 108,
        ..base(
            IpVersion::V6,
            key("2001:db8:9::1", "2001:db8:ffff::1", 0, 0, 58),
            L4::IcmpError {
                icmp_type: 1,
                code: 1,
                inner,
            },
        )
    };
    check("UNREACH6_TCP", &UNREACH6_TCP, want);
}

#[test]
fn gre_v0_with_checksum_and_key() {
    let want = Parsed {
        payload_offset: 46,
        payload_len: 4,
        ip_len: 36,
        ..base(
            IpVersion::V4,
            key("10.0.0.2", "203.0.113.2", 0, 0, 47),
            L4::Gre {
                version: 0,
                protocol: 0x0800,
                key: Some(0xabcd),
            },
        )
    };
    check("GRE0_CK", &GRE0_CK, want);
}

#[test]
fn gre_v1_pptp() {
    let want = Parsed {
        payload_offset: 50,
        payload_len: 4,
        ip_len: 40,
        ..base(
            IpVersion::V4,
            key("10.0.0.2", "203.0.113.2", 0, 0, 47),
            L4::Gre {
                version: 1,
                protocol: 0x880b,
                key: Some(0x0004_4000),
            },
        )
    };
    check("GRE1_PPTP", &GRE1_PPTP, want);
    // The call key: the 3-tuple with the call id (the key's low half) as destination port.
    let p = parse_frame(&GRE1_PPTP).unwrap();
    assert_eq!(
        p.call_key(),
        Some(key("10.0.0.2", "203.0.113.2", 1, 0x4000, 47))
    );
    // GRE version 0 has none, even with a key.
    assert_eq!(parse_frame(&GRE0_CK).unwrap().call_key(), None);
}

#[test]
fn later_fragment_has_no_l4() {
    let want = Parsed {
        payload_offset: 34,
        payload_len: 16,
        ip_len: 36,
        fragment: Fragment::Later { id: 0x0abc },
        ..base(
            IpVersion::V4,
            key("10.0.0.2", "203.0.113.2", 0, 0, 17),
            L4::Other,
        )
    };
    check("LATER_FRAG_V4", &LATER_FRAG_V4, want);
}

#[test]
fn udp_without_checksum() {
    let want = Parsed {
        payload_offset: 42,
        payload_len: 6,
        ip_len: 34,
        ..base(
            IpVersion::V4,
            key("10.0.0.2", "203.0.113.2", 1111, 2222, 17),
            L4::Udp,
        )
    };
    check("UDP0_V4", &UDP0_V4, want);
}

/// Recomputes the IPv4 header checksum after a test mutated the header.
fn refill_ipv4(f: &mut [u8], l3: usize) {
    let hl = usize::from(f[l3] & 15) * 4;
    f[l3 + 10] = 0;
    f[l3 + 11] = 0;
    let c = naive::checksum(&[&f[l3..l3 + hl]]);
    f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
}

fn err(frame: &[u8]) -> WireError {
    parse_frame(frame).unwrap_err()
}

#[test]
fn errors_and_their_classes() {
    // ARP.
    let mut arp = [0u8; 42];
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    let e = err(&arp);
    assert_eq!(e, WireError::NotIp { ethertype: 0x0806 });
    assert_eq!((e.class(), e.reason()), (ErrorClass::NonIp, "non-IP"));

    // Runt.
    assert_eq!(err(&TCP_SYN_V4[..13]), WireError::EthernetTruncated);

    // Bad IPv4 header checksum.
    let mut f = TCP_SYN_V4;
    f[24] ^= 0x01;
    let e = err(&f);
    assert_eq!(
        (e, e.class(), e.reason()),
        (WireError::IpChecksum, ErrorClass::Ip, "IP header checksum")
    );

    // Version mismatch with the ethertype.
    let mut f = TCP_SYN_V4;
    f[14] = 0x65;
    assert_eq!(err(&f), WireError::IpVersion { version: 6 });
    assert_eq!(err(&f).reason(), "IP version");

    // Frame shorter than the IP total length.
    let e = err(&TCP_SYN_V4[..57]);
    assert_eq!(
        (e, e.reason()),
        (WireError::IpTotalLength, "IP total length")
    );

    // Truncated IP header.
    assert_eq!(err(&TCP_SYN_V4[..30]), WireError::IpTruncated);
    assert_eq!(err(&TCP_V6[..50]), WireError::IpTruncated);

    // TCP data offset beyond the segment.
    let mut f = TCP_SYN_V4;
    f[46] = 0x70;
    let e = err(&f);
    assert_eq!(
        (e, e.class(), e.reason()),
        (
            WireError::TcpHeaderLength,
            ErrorClass::Tcp,
            "TCP header length check failed"
        )
    );

    // TCP port zero (IP header unchanged, so its checksum still verifies).
    let mut f = TCP_SYN_V4;
    f[34] = 0;
    f[35] = 0;
    let e = err(&f);
    assert_eq!(
        (e, e.reason()),
        (
            WireError::TcpPortZero,
            "TCP source or destination port zero"
        )
    );

    // UDP port zero.
    let mut f = UDP0_V4;
    f[36] = 0;
    f[37] = 0;
    let e = err(&f);
    assert_eq!(
        (e, e.class(), e.reason()),
        (WireError::UdpPortZero, ErrorClass::Udp, "UDP port zero")
    );

    // UDP length beyond the IP payload.
    let mut f = UDP0_V4;
    f[39] += 1;
    assert_eq!(err(&f), WireError::UdpHeaderLength);

    // IPv4 total length too short for a TCP header.
    let mut f = TCP_SYN_V4;
    f[17] = 30;
    refill_ipv4(&mut f, 14);
    assert_eq!(err(&f), WireError::TcpHeaderLength);

    // ICMP header cut short by the IP length.
    let mut f = ECHO_REQ_V4;
    f[17] = 24;
    refill_ipv4(&mut f, 14);
    let e = err(&f);
    assert_eq!((e, e.class()), (WireError::IcmpTruncated, ErrorClass::Icmp));

    // ICMP error whose quote is too short for the ports.
    let mut f = TIMEX_TCP8_V4;
    f[17] = 55;
    refill_ipv4(&mut f, 14);
    assert_eq!(err(&f), WireError::IcmpQuote);

    // IPv6 payload length beyond the frame.
    let mut f = TCP_V6;
    f[19] += 1;
    assert_eq!(err(&f), WireError::IpTotalLength);

    // IPv6 hop-by-hop in second position.
    let mut f = V6_HBH_FRAG_UDP;
    f[20] = 60; // fixed header -> destination options
    f[54] = 0; // destination options -> hop-by-hop
    let e = err(&f);
    assert_eq!(
        (e, e.class()),
        (WireError::Ipv6ExtensionHeader, ErrorClass::Ip)
    );

    // GRE version 2.
    let mut f = GRE1_PPTP;
    f[35] = 0x82;
    assert_eq!(err(&f), WireError::GreVersion { version: 2 });
}

#[test]
fn checksum_helper_detects_corruption() {
    let mut f = TCP_V6;
    let p = parse_frame(&f).unwrap();
    assert!(l4_checksum_ok(&f, &p));
    f[74] ^= 0x20; // payload
    assert!(!l4_checksum_ok(&f, &p));

    // UDP checksum 0: fine over IPv4.
    let p = parse_frame(&UDP0_V4).unwrap();
    assert!(l4_checksum_ok(&UDP0_V4, &p));

    // Fragments are not verifiable: true.
    let p = parse_frame(&V6_HBH_FRAG_UDP).unwrap();
    assert!(l4_checksum_ok(&V6_HBH_FRAG_UDP, &p));

    // ICMPv4 (no pseudo header) and GRE with C.
    let mut f = ECHO_REQ_V4;
    let p = parse_frame(&f).unwrap();
    f[45] ^= 1;
    assert!(!l4_checksum_ok(&f, &p));
    let mut f = GRE0_CK;
    let p = parse_frame(&f).unwrap();
    f[49] ^= 1;
    assert!(!l4_checksum_ok(&f, &p));
}

/// Ethernet + IPv4 (10.0.0.2 -> 10.0.0.1) around `payload`, with a valid header checksum.
fn raw_v4(proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    let total = (20 + payload.len()) as u16;
    f.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0,
        0,
        64,
        proto,
        0,
        0,
    ]);
    f.extend_from_slice(&[10, 0, 0, 2, 10, 0, 0, 1]);
    f.extend_from_slice(payload);
    refill_ipv4(&mut f, 14);
    f
}

/// Ethernet + IPv6 (2001:db8::1 -> 2001:db8::2) with next header `nh` around `payload`.
fn raw_v6(nh: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd];
    let len = payload.len() as u16;
    f.extend_from_slice(&[0x60, 0, 0, 0, (len >> 8) as u8, len as u8, nh, 64]);
    f.extend_from_slice(
        &"2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    f.extend_from_slice(
        &"2001:db8::2"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    f.extend_from_slice(payload);
    f
}

#[test]
fn sctp_ports_in_key() {
    let sctp = [
        0x0b, 0x59, 0x0b, 0x5a, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef, 1, 0, 0, 4,
    ];
    let p = parse_frame(&raw_v4(132, &sctp)).unwrap();
    assert_eq!(p.key, key("10.0.0.2", "10.0.0.1", 2905, 2906, 132));
    assert_eq!((p.l4, p.payload_offset, p.payload_len), (L4::Other, 46, 4));
    assert_eq!(
        parse_frame(&raw_v4(132, &sctp[..11])).unwrap_err(),
        WireError::SctpTruncated
    );
    // Neither TCP nor UDP: port rewrites refuse (CRC32c cannot be updated incrementally).
    let mut f = raw_v4(132, &sctp);
    let p = parse_frame(&f).unwrap();
    assert_eq!(
        mspic_wire::rewrite::set_src_port(&mut f, &p, 1),
        Err(WireError::NoPorts)
    );
}

#[test]
fn esp_and_other_protocols_are_three_tuples() {
    let p = parse_frame(&raw_v4(50, &[0, 0, 1, 0, 0, 0, 0, 1])).unwrap();
    assert_eq!(
        (p.key.src_port, p.key.dst_port, p.key.proto, p.l4),
        (0, 0, 50, L4::Other)
    );
    // IPv6: destination options, then ESP stops the walk.
    let mut pl = vec![50, 0, 1, 4, 0, 0, 0, 0];
    pl.extend_from_slice(&[0, 0, 1, 0, 0, 0, 0, 1]);
    let p = parse_frame(&raw_v6(60, &pl)).unwrap();
    assert_eq!((p.key.proto, p.l4_offset, p.l4), (50, 62, L4::Other));
    // IPv6 no next header.
    let p = parse_frame(&raw_v6(59, &[])).unwrap();
    assert_eq!((p.key.proto, p.l4_offset, p.payload_len), (59, 54, 0));
    // AH (length in 4-byte units, RFC 4302) then UDP.
    let mut pl = vec![
        17, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    pl.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0]);
    let p = parse_frame(&raw_v6(51, &pl)).unwrap();
    assert_eq!(
        (p.key.proto, p.key.src_port, p.key.dst_port, p.l4_offset),
        (17, 12345, 53, 78)
    );
}

#[test]
fn ipv6_fragments() {
    // Non-first fragment: the walk stops after the fragment header.
    let mut pl = vec![6, 0, 0x05, 0xa8, 0, 0, 0, 9]; // offset 181*8, no M, id 9
    pl.extend_from_slice(&[1; 16]);
    let p = parse_frame(&raw_v6(44, &pl)).unwrap();
    assert_eq!(p.fragment, Fragment::Later { id: 9 });
    assert_eq!(
        (
            p.key.proto,
            p.key.src_port,
            p.l4,
            p.l4_offset,
            p.payload_len
        ),
        (6, 0, L4::Other, 62, 16)
    );
    // Atomic fragment (offset 0, no M; RFC 6946): not a fragment, L4 parsed.
    let mut pl = vec![17, 0, 0, 0, 0, 0, 0, 10];
    pl.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0]);
    let p = parse_frame(&raw_v6(44, &pl)).unwrap();
    assert_eq!(p.fragment, Fragment::None);
    assert_eq!((p.key.src_port, p.key.dst_port, p.l4), (12345, 53, L4::Udp));
    // IPv4 first fragment of a UDP datagram: UDP length beyond this fragment is fine.
    let mut f = raw_v4(17, &[0x30, 0x39, 0x00, 0x35, 0x05, 0xdc, 0, 0, 1, 2, 3, 4]);
    f[20] = 0x20; // MF
    refill_ipv4(&mut f, 14);
    let p = parse_frame(&f).unwrap();
    assert_eq!(p.fragment, Fragment::First { id: 1 });
    assert_eq!((p.key.src_port, p.payload_len), (12345, 4));
}
