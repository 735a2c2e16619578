//! TCP RST and ICMP error builders: outputs parse back, checksums verify from scratch,
//! fields as the RFCs say.

use std::net::IpAddr;

use mspic_wire::build::{icmp_error, tcp_rst, IcmpErrorKind};
use mspic_wire::parse::{l4_checksum_ok, parse_frame};
use mspic_wire::{tcp, Fragment, IpVersion, NoReplyReason, Parsed, WireError, L4};

use super::frames::*;
use super::gen::{self, Spec};
use super::naive;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Builds with `f` into a roomy buffer, then parses and verifies the reply.
fn reply(
    frame: &[u8],
    f: impl FnOnce(&[u8], &Parsed, &mut [u8]) -> Result<usize, WireError>,
) -> (Vec<u8>, Parsed) {
    let p = parse_frame(frame).unwrap();
    let mut out = [0xeeu8; 2048];
    let n = f(frame, &p, &mut out).unwrap();
    let r = out[..n].to_vec();
    naive::verify_frame(&r).unwrap_or_else(|e| panic!("reply checksums: {e}"));
    let rp = parse_frame(&r).unwrap();
    assert!(l4_checksum_ok(&r, &rp));
    // MACs swapped.
    assert_eq!(&r[0..6], &frame[6..12]);
    assert_eq!(&r[6..12], &frame[0..6]);
    assert_eq!(rp.vlan, p.vlan);
    assert_eq!(rp.ttl, 64);
    // Padding (if any) is zero.
    assert!(r[rp.ip_end()..].iter().all(|&b| b == 0));
    (r, rp)
}

fn rst(frame: &[u8]) -> (Vec<u8>, Parsed) {
    reply(frame, tcp_rst)
}

#[test]
fn rst_for_syn_acks_seq_plus_one() {
    let (r, p) = rst(&TCP_SYN_V4);
    assert_eq!(r.len(), 60, "54 bytes padded to the Ethernet minimum");
    assert_eq!(p.ip_len, 40);
    assert_eq!(p.key, parse_frame(&TCP_SYN_V4).unwrap().key.reversed());
    assert_eq!(
        p.l4,
        L4::Tcp {
            flags: tcp::RST | tcp::ACK,
            seq: 0,
            ack: 0x1122_3345,
            window: 0
        }
    );
    assert_eq!(p.payload_len, 0);
}

#[test]
fn rst_for_ack_takes_seq_from_ack() {
    let (_, p) = rst(&TCP_V6);
    assert_eq!(p.version, IpVersion::V6);
    assert_eq!(p.key, parse_frame(&TCP_V6).unwrap().key.reversed());
    assert_eq!(
        p.l4,
        L4::Tcp {
            flags: tcp::RST,
            seq: 2000,
            ack: 0,
            window: 0
        }
    );
}

#[test]
fn rst_counts_payload_and_fin_keeps_vlan() {
    let f = gen::frame(
        Some(100),
        ip("192.0.2.1"),
        ip("192.0.2.2"),
        Spec::Tcp {
            sp: 1234,
            dp: 80,
            seq: 0xffff_fff0,
            ack: None,
            flags: tcp::FIN,
        },
        &[7u8; 30],
    );
    let (r, p) = rst(&f);
    assert_eq!(p.vlan, Some(100));
    assert_eq!(&r[12..16], &f[12..16], "same 802.1Q tag");
    // 0xfffffff0 + 30 + FIN wraps.
    assert_eq!(
        p.l4,
        L4::Tcp {
            flags: tcp::RST | tcp::ACK,
            seq: 0,
            ack: 15,
            window: 0
        }
    );
}

#[test]
fn rst_refusals() {
    let mut out = [0u8; 2048];
    let rst_seg = gen::frame(
        None,
        ip("192.0.2.1"),
        ip("192.0.2.2"),
        Spec::Tcp {
            sp: 1,
            dp: 2,
            seq: 1,
            ack: Some(1),
            flags: tcp::RST,
        },
        &[],
    );
    let p = parse_frame(&rst_seg).unwrap();
    assert_eq!(
        tcp_rst(&rst_seg, &p, &mut out),
        Err(WireError::NoReply {
            reason: NoReplyReason::Rst
        })
    );
    let p = parse_frame(&UDP0_V4).unwrap();
    assert_eq!(tcp_rst(&UDP0_V4, &p, &mut out), Err(WireError::NotTcp));
    let mcast = gen::frame(
        None,
        ip("192.0.2.1"),
        ip("224.0.0.9"),
        Spec::Tcp {
            sp: 1,
            dp: 2,
            seq: 1,
            ack: None,
            flags: tcp::SYN,
        },
        &[],
    );
    let p = parse_frame(&mcast).unwrap();
    assert_eq!(
        tcp_rst(&mcast, &p, &mut out),
        Err(WireError::NoReply {
            reason: NoReplyReason::MulticastDestination
        })
    );
    let p = parse_frame(&TCP_SYN_V4).unwrap();
    assert_eq!(
        tcp_rst(&TCP_SYN_V4, &p, &mut out[..59]),
        Err(WireError::BufferTooSmall { needed: 60 })
    );
}

fn icmp(frame: &[u8], kind: IcmpErrorKind, src: &str) -> (Vec<u8>, Parsed) {
    let src = ip(src);
    reply(frame, |f, p, o| icmp_error(f, p, kind, src, o))
}

/// Checks the reply is an ICMP error of (type, code) from `src` to the original source
/// quoting `quote_len` bytes of the original IP packet.
fn check_error(frame: &[u8], r: &[u8], rp: &Parsed, ty: u8, code: u8, src: &str, quote_len: usize) {
    let p = parse_frame(frame).unwrap();
    let L4::IcmpError {
        icmp_type,
        code: c,
        inner,
    } = rp.l4
    else {
        panic!("not an ICMP error: {:?}", rp.l4);
    };
    assert_eq!((icmp_type, c), (ty, code));
    assert_eq!(rp.key.src, ip(src));
    assert_eq!(rp.key.dst, p.key.src);
    assert_eq!(
        inner.key, p.key,
        "quoted packet's key is the offending packet's"
    );
    assert_eq!(
        &r[rp.payload_offset..rp.ip_end()],
        &frame[p.l3_offset..p.l3_offset + quote_len]
    );
    assert_eq!(
        &r[rp.l4_offset + 4..rp.l4_offset + 8],
        &[0, 0, 0, 0],
        "unused"
    );
}

#[test]
fn time_exceeded_v4_quotes_whole_small_packet() {
    let (r, rp) = icmp(&UDP_OPTS_V4, IcmpErrorKind::TimeExceeded, "10.0.0.1");
    check_error(&UDP_OPTS_V4, &r, &rp, 11, 0, "10.0.0.1", 36);
    assert_eq!(rp.ip_len, 20 + 8 + 36);
    assert_eq!(r[15], 0xc0, "TOS internetwork control");
    let v = naive::verify_frame(&r).unwrap();
    assert!(v.contains(&"quoted udp"), "{v:?}");
}

#[test]
fn admin_prohibited_v4_and_v6() {
    let (r, rp) = icmp(&TCP_SYN_V4, IcmpErrorKind::AdminProhibited, "192.0.2.254");
    check_error(&TCP_SYN_V4, &r, &rp, 3, 13, "192.0.2.254", 44);
    let (r, rp) = icmp(&TCP_V6, IcmpErrorKind::AdminProhibited, "2001:db8::fe");
    check_error(&TCP_V6, &r, &rp, 1, 1, "2001:db8::fe", 65);
    let (r, rp) = icmp(&TCP_V6, IcmpErrorKind::TimeExceeded, "2001:db8::fe");
    check_error(&TCP_V6, &r, &rp, 3, 0, "2001:db8::fe", 65);
    let (r, rp) = icmp(
        &VLAN_UDP_V4,
        IcmpErrorKind::DestUnreachable { code: 3 },
        "198.51.100.20",
    );
    check_error(&VLAN_UDP_V4, &r, &rp, 3, 3, "198.51.100.20", 36);
    assert_eq!(rp.vlan, Some(100));
    assert_eq!(&r[12..16], &VLAN_UDP_V4[12..16]);
}

#[test]
fn icmp_error_about_first_fragment_and_echo() {
    let (r, rp) = icmp(
        &V6_HBH_FRAG_UDP,
        IcmpErrorKind::TimeExceeded,
        "2001:db8::fe",
    );
    check_error(&V6_HBH_FRAG_UDP, &r, &rp, 3, 0, "2001:db8::fe", 80);
    let L4::IcmpError { inner, .. } = rp.l4 else {
        unreachable!()
    };
    assert_eq!(inner.fragment, Fragment::First { id: 0x1234_5678 });
    let (r, rp) = icmp(
        &ECHO_REQ_V4,
        IcmpErrorKind::DestUnreachable { code: 1 },
        "192.0.2.254",
    );
    check_error(&ECHO_REQ_V4, &r, &rp, 3, 1, "192.0.2.254", 36);
}

#[test]
fn icmp_error_size_limits() {
    // IPv4: the reply datagram is at most 576 bytes (RFC 1812 §4.3.2.3).
    let big = gen::frame(
        None,
        ip("10.0.0.2"),
        ip("203.0.113.2"),
        Spec::Udp { sp: 9, dp: 9 },
        &[0x5a; 1400],
    );
    let (r, rp) = icmp(&big, IcmpErrorKind::DestUnreachable { code: 3 }, "10.0.0.1");
    assert_eq!(rp.ip_len, 576);
    assert_eq!(r.len(), 14 + 576);
    check_error(&big, &r, &rp, 3, 3, "10.0.0.1", 576 - 28);
    // IPv6: at most 1280 (RFC 4443 §2.4(c)).
    let big = gen::frame(
        Some(7),
        ip("2001:db8::2"),
        ip("2001:db8::3"),
        Spec::Tcp {
            sp: 5,
            dp: 6,
            seq: 1,
            ack: Some(2),
            flags: 0,
        },
        &[0xa5; 1440],
    );
    let (r, rp) = icmp(
        &big,
        IcmpErrorKind::DestUnreachable { code: 4 },
        "2001:db8::1",
    );
    assert_eq!(rp.ip_len, 1280);
    assert_eq!(r.len(), 18 + 1280);
    check_error(&big, &r, &rp, 1, 4, "2001:db8::1", 1280 - 48);
}

#[test]
fn icmp_error_refusals() {
    let mut out = [0u8; 2048];
    let no = |reason| Err(WireError::NoReply { reason });
    let kind = IcmpErrorKind::TimeExceeded;
    let mut try_build = |frame: &[u8], src: &str| {
        let p = parse_frame(frame).unwrap();
        icmp_error(frame, &p, kind, ip(src), &mut out)
    };
    assert_eq!(
        try_build(&UNREACH_UDP_V4, "10.0.0.1"),
        no(NoReplyReason::IcmpError)
    );
    assert_eq!(
        try_build(&UNREACH6_TCP, "2001:db8::1"),
        no(NoReplyReason::IcmpError)
    );
    assert_eq!(
        try_build(&LATER_FRAG_V4, "10.0.0.1"),
        no(NoReplyReason::NonFirstFragment)
    );
    assert_eq!(
        try_build(&TCP_SYN_V4, "2001:db8::1"),
        Err(WireError::FamilyMismatch)
    );

    let udp = Spec::Udp { sp: 1, dp: 2 };
    let f = gen::frame(None, ip("10.0.0.2"), ip("224.0.0.251"), udp, b"x");
    assert_eq!(
        try_build(&f, "10.0.0.1"),
        no(NoReplyReason::MulticastDestination)
    );
    let f = gen::frame(None, ip("10.0.0.2"), ip("255.255.255.255"), udp, b"x");
    assert_eq!(
        try_build(&f, "10.0.0.1"),
        no(NoReplyReason::BroadcastDestination)
    );
    let f = gen::frame(None, ip("0.0.0.0"), ip("10.0.0.1"), udp, b"x");
    assert_eq!(try_build(&f, "10.0.0.1"), no(NoReplyReason::InvalidSource));
    let f = gen::frame(None, ip("fe80::1"), ip("ff02::1"), udp, b"x");
    assert_eq!(
        try_build(&f, "fe80::2"),
        no(NoReplyReason::MulticastDestination)
    );

    // Unicast IP in a link-layer broadcast / multicast frame.
    let mut f = TCP_SYN_V4;
    f[..6].copy_from_slice(&[0xff; 6]);
    assert_eq!(
        try_build(&f, "10.0.0.1"),
        no(NoReplyReason::BroadcastDestination)
    );
    f[..6].copy_from_slice(&[0x01, 0x00, 0x5e, 0, 0, 1]);
    assert_eq!(
        try_build(&f, "10.0.0.1"),
        no(NoReplyReason::MulticastDestination)
    );

    // Unknown ICMPv6 error type (< 128) counts as an error.
    let mut f = ECHO_REQ_V6;
    f[54] = 100;
    let p = parse_frame(&f).unwrap();
    assert!(matches!(p.l4, L4::IcmpOther { icmp_type: 100, .. }));
    assert_eq!(try_build(&f, "2001:db8::2"), no(NoReplyReason::IcmpError));

    let p = parse_frame(&TCP_SYN_V4).unwrap();
    assert_eq!(
        icmp_error(&TCP_SYN_V4, &p, kind, ip("10.0.0.1"), &mut out[..85]),
        Err(WireError::BufferTooSmall {
            needed: 14 + 20 + 8 + 44
        })
    );
}

#[test]
fn echo_reply_in_place() {
    // Ethernet + IPv4 (ttl 63) + ICMP echo request id 0x1234 seq 1, 4 bytes of data.
    let mut f = vec![
        0x02, 0, 0, 0, 0, 1, 0x0a, 0, 0, 0, 0, 2, 0x08, 0x00, // eth
        0x45, 0, 0, 32, 0, 1, 0x40, 0, 63, 1, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1, // ip
        8, 0, 0, 0, 0x12, 0x34, 0, 1, b'a', b'b', b'c', b'd', // icmp
    ];
    let c = mspic_wire::checksum::compute(&f[14..34]);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    let c = mspic_wire::checksum::compute(&f[34..]);
    f[36..38].copy_from_slice(&c.to_be_bytes());
    let len = f.len();
    assert_eq!(
        mspic_wire::build::icmp_echo_reply(&mut f, len),
        Some(std::net::Ipv4Addr::new(10, 0, 0, 2))
    );
    assert_eq!(&f[26..30], &[10, 0, 0, 1]);
    assert_eq!(&f[30..34], &[10, 0, 0, 2]);
    assert_eq!(f[34], 0);
    assert_eq!(mspic_wire::checksum::compute(&f[14..34]), 0);
    assert_eq!(mspic_wire::checksum::compute(&f[34..]), 0);
    // Not a request (now a reply): left alone.
    assert_eq!(mspic_wire::build::icmp_echo_reply(&mut f, len), None);
}

#[test]
fn keepalives_carry_one_below_the_next_sequence_number() {
    use mspic_wire::build::{tcp_keepalive, KeepAlive};
    for (src, dst, len) in [
        ("192.0.2.1", "198.51.100.7", 60),
        ("2001:db8::1", "2001:db8:1::7", 74),
    ] {
        let k = KeepAlive {
            src: (ip(src), 80),
            dst: (ip(dst), 40000),
            snd_nxt: 0, // wraps to u32::MAX
            ack: 0x1234_5678,
            window: 501,
        };
        let mut out = [0xeeu8; 128];
        let n = tcp_keepalive(&k, &mut out).unwrap();
        assert_eq!(n, len, "{src}");
        let r = &out[..n];
        naive::verify_frame(r).unwrap_or_else(|e| panic!("{src}: checksums: {e}"));
        assert_eq!(&r[..12], &[0; 12], "MACs left to the link layer");
        let p = parse_frame(r).unwrap();
        assert!(l4_checksum_ok(r, &p));
        assert_eq!(p.key.src, ip(src));
        assert_eq!(p.key.dst, ip(dst));
        assert_eq!((p.key.src_port, p.key.dst_port), (80, 40000));
        assert_eq!(p.ttl, 64);
        assert_eq!(p.payload_len, 0);
        assert_eq!(
            p.l4,
            L4::Tcp {
                flags: tcp::ACK,
                seq: u32::MAX,
                ack: 0x1234_5678,
                window: 501
            }
        );
        if p.version == IpVersion::V4 {
            assert_eq!(r[14 + 6] & 0x40, 0x40, "DF");
            assert!(r[54..].iter().all(|&b| b == 0), "zero padding");
        }
    }
    let mixed = KeepAlive {
        src: (ip("192.0.2.1"), 1),
        dst: (ip("2001:db8::1"), 2),
        snd_nxt: 1,
        ack: 1,
        window: 1,
    };
    assert_eq!(
        tcp_keepalive(&mixed, &mut [0u8; 128]),
        Err(WireError::FamilyMismatch)
    );
    assert!(matches!(
        tcp_keepalive(&mixed, &mut [0u8; 10]),
        Err(WireError::FamilyMismatch | WireError::BufferTooSmall { .. })
    ));
}
