use super::*;
use etherparse::{icmpv6::NeighborAdvertisementHeader, Icmpv6Type, PacketBuilder};
use proptest::prelude::*;

const HOST: Mac = [0x0a, 0, 0, 0, 0, 0x02];
const OURS: Mac = [0x02, 0, 0, 0, 0, 0x01];

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// An ND frame built by etherparse (its own ICMPv6 checksum): `body` follows the first
/// 8 bytes of the ICMPv6 header (target address and options).
fn reference(
    eth: (Mac, Mac),
    src: Ipv6Addr,
    dst: Ipv6Addr,
    ty: Icmpv6Type,
    target: Ipv6Addr,
    opt: Option<(u8, Mac)>,
) -> Vec<u8> {
    let mut body = target.octets().to_vec();
    if let Some((kind, mac)) = opt {
        body.extend_from_slice(&[kind, 1]);
        body.extend_from_slice(&mac);
    }
    let b = PacketBuilder::ethernet2(eth.0, eth.1)
        .ipv6(src.octets(), dst.octets(), 255)
        .icmpv6(ty);
    let mut out = Vec::new();
    b.write(&mut out, &body).unwrap();
    out
}

#[test]
fn addresses_derived_from_others() {
    // (address, solicited-node group, its MAC) — RFC 4291 §2.7.1, RFC 2464 §7.
    let table = [
        (
            "2001:db8:10::1",
            "ff02::1:ff00:1",
            [0x33, 0x33, 0xff, 0, 0, 1],
        ),
        (
            "fe80::a:ff:fe00:2",
            "ff02::1:ff00:2",
            [0x33, 0x33, 0xff, 0, 0, 2],
        ),
        (
            "2001:db8::12:3456:789a",
            "ff02::1:ff56:789a",
            [0x33, 0x33, 0xff, 0x56, 0x78, 0x9a],
        ),
    ];
    for (addr, group, mac) in table {
        assert_eq!(solicited_node(a(addr)), a(group), "{addr}");
        assert_eq!(multicast_mac(a(group)), mac, "{addr}");
    }
    // RFC 4291 appendix A: 02:00:00:00:00:01 → fe80::ff:fe00:1 (the U/L bit flipped).
    assert_eq!(link_local(OURS), a("fe80::ff:fe00:1"));
    assert_eq!(
        link_local([0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde]),
        a("fe80::3656:78ff:fe9a:bcde")
    );
    assert!(is_link_local(a("fe80::1")) && is_link_local(a("febf::1")));
    assert!(!is_link_local(a("fec0::1")) && !is_link_local(a("2001:db8::1")));
}

#[test]
fn parses_frames_built_by_etherparse() {
    let ns_src = a("2001:db8:10::2");
    let target = a("2001:db8:10::1");
    let group = solicited_node(target);
    let na_flags = NeighborAdvertisementHeader {
        router: true,
        solicited: true,
        r#override: true,
    };
    // (name, frame, expected)
    let table = [
        (
            "NS with source link-layer option",
            reference(
                (HOST, multicast_mac(group)),
                ns_src,
                group,
                Icmpv6Type::NeighborSolicitation,
                target,
                Some((OPT_SOURCE_LL, HOST)),
            ),
            Nd {
                op: NdOp::Solicitation,
                src: ns_src,
                dst: group,
                target,
                lladdr: Some(HOST),
            },
        ),
        (
            "DAD probe",
            reference(
                (HOST, multicast_mac(group)),
                Ipv6Addr::UNSPECIFIED,
                group,
                Icmpv6Type::NeighborSolicitation,
                target,
                None,
            ),
            Nd {
                op: NdOp::Solicitation,
                src: Ipv6Addr::UNSPECIFIED,
                dst: group,
                target,
                lladdr: None,
            },
        ),
        (
            "solicited NA",
            reference(
                (HOST, OURS),
                target,
                ns_src,
                Icmpv6Type::NeighborAdvertisement(na_flags),
                target,
                Some((OPT_TARGET_LL, HOST)),
            ),
            Nd {
                op: NdOp::Advertisement {
                    router: true,
                    solicited: true,
                    override_: true,
                },
                src: target,
                dst: ns_src,
                target,
                lladdr: Some(HOST),
            },
        ),
    ];
    for (name, frame, want) in table {
        assert_eq!(Nd::parse(&frame), Ok(want), "{name}");
        // Our builder makes the same bytes.
        let mut b = [0u8; MAX_FRAME_LEN];
        let n = want
            .write(
                [frame[6], frame[7], frame[8], frame[9], frame[10], frame[11]],
                {
                    let d = &frame[0..6];
                    [d[0], d[1], d[2], d[3], d[4], d[5]]
                },
                &mut b,
            )
            .unwrap();
        assert_eq!(&b[..n], &frame[..], "{name}");
    }
}

/// Recomputes the ICMPv6 checksum of an untagged ND frame after an edit.
fn fix_checksum(f: &mut [u8]) {
    let (src, dst) = (addr_at(f, ETH_LEN + 8), addr_at(f, ETH_LEN + 24));
    f[ICMP_OFF + 2..ICMP_OFF + 4].fill(0);
    let len = f.len() - ICMP_OFF;
    let pseudo = checksum::pseudo_header_v6(&src, &dst, proto::ICMPV6, len as u32);
    let c = checksum::finish(checksum::sum(&f[ICMP_OFF..], pseudo));
    f[ICMP_OFF + 2..ICMP_OFF + 4].copy_from_slice(&c.to_be_bytes());
}

#[test]
fn refuses_invalid_nd() {
    let target = a("2001:db8:10::1");
    let good = reference(
        (HOST, OURS),
        a("2001:db8:10::2"),
        solicited_node(target),
        Icmpv6Type::NeighborSolicitation,
        target,
        Some((OPT_SOURCE_LL, HOST)),
    );
    assert!(Nd::parse(&good).is_ok());
    let hop = |f: &mut Vec<u8>| f[ETH_LEN + 7] = 64;
    let code = |f: &mut Vec<u8>| {
        f[ICMP_OFF + 1] = 1;
        fix_checksum(f);
    };
    let csum = |f: &mut Vec<u8>| f[ICMP_OFF + 2] ^= 1;
    let short = |f: &mut Vec<u8>| f.truncate(f.len() - 1);
    type Edit<'a> = &'a dyn Fn(&mut Vec<u8>);
    let table: [(&str, Edit, NdError); 4] = [
        ("hop limit 64", &hop, NdError::HopLimit),
        ("code 1", &code, NdError::Code),
        ("bad checksum", &csum, NdError::Checksum),
        ("truncated", &short, NdError::Truncated),
    ];
    for (name, edit, want) in table {
        let mut f = good.clone();
        edit(&mut f);
        assert_eq!(Nd::parse(&f), Err(want), "{name}");
    }
    // A DAD probe with a source link-layer option (RFC 4861 §7.1.1).
    let dad = reference(
        (HOST, OURS),
        Ipv6Addr::UNSPECIFIED,
        solicited_node(target),
        Icmpv6Type::NeighborSolicitation,
        target,
        Some((OPT_SOURCE_LL, HOST)),
    );
    assert_eq!(Nd::parse(&dad), Err(NdError::Addressing));
    // A zero-length option with a right checksum.
    let mut z = Nd {
        op: NdOp::Solicitation,
        src: a("2001:db8:10::2"),
        dst: solicited_node(target),
        target,
        lladdr: Some(HOST),
    };
    let mut b = [0u8; MAX_FRAME_LEN];
    let n = z.write(HOST, OURS, &mut b).unwrap();
    b[ICMP_OFF + 25] = 0;
    fix_checksum(&mut b[..n]);
    assert_eq!(Nd::parse(&b[..n]), Err(NdError::Option));
    // A multicast target.
    z.target = a("ff02::1");
    let n = z.write(HOST, OURS, &mut b).unwrap();
    assert_eq!(Nd::parse(&b[..n]), Err(NdError::Target));
    // An echo request is not ND.
    let echo = PacketBuilder::ethernet2(HOST, OURS)
        .ipv6(z.src.octets(), target.octets(), 255)
        .icmpv6_echo_request(1, 1);
    let mut e = Vec::new();
    echo.write(&mut e, &[]).unwrap();
    assert_eq!(Nd::parse(&e), Err(NdError::NotNd));
}

#[test]
fn answer_to_a_solicitation() {
    let ns = Nd {
        op: NdOp::Solicitation,
        src: a("2001:db8:10::2"),
        dst: a("ff02::1:ff00:1"),
        target: a("2001:db8:10::1"),
        lladdr: Some(HOST),
    };
    let na = ns.answer(ns.target, OURS);
    assert_eq!(
        na,
        Nd {
            op: NdOp::Advertisement {
                router: true,
                solicited: true,
                override_: true
            },
            src: ns.target,
            dst: ns.src,
            target: ns.target,
            lladdr: Some(OURS),
        }
    );
    let dad = Nd {
        src: Ipv6Addr::UNSPECIFIED,
        lladdr: None,
        ..ns
    };
    let na = dad.answer(ns.target, OURS);
    assert_eq!(na.dst, ALL_NODES);
    assert!(matches!(
        na.op,
        NdOp::Advertisement {
            solicited: false,
            ..
        }
    ));
}

#[test]
fn classifies_what_a_router_consumes() {
    let ours = a("2001:db8:10::1");
    let host = a("2001:db8:10::2");
    let icmp = |src: Ipv6Addr, dst: Ipv6Addr, ty: Icmpv6Type| {
        let mut v = Vec::new();
        PacketBuilder::ethernet2(HOST, OURS)
            .ipv6(src.octets(), dst.octets(), 255)
            .icmpv6(ty)
            .write(&mut v, &[0; 16])
            .unwrap();
        v
    };
    let udp = |src: Ipv6Addr, dst: Ipv6Addr| {
        let mut v = Vec::new();
        PacketBuilder::ethernet2(HOST, OURS)
            .ipv6(src.octets(), dst.octets(), 64)
            .udp(1000, 2000)
            .write(&mut v, &[1, 2, 3])
            .unwrap();
        v
    };
    let unknown = |t: u8| Icmpv6Type::Unknown {
        type_u8: t,
        code_u8: 0,
        bytes5to8: [0; 4],
    };
    let table = [
        (
            "NS",
            icmp(host, ours, Icmpv6Type::NeighborSolicitation),
            Some(Ipv6Local::Neighbor),
        ),
        (
            "RS",
            icmp(host, a("ff02::2"), Icmpv6Type::RouterSolicitation),
            Some(Ipv6Local::Router),
        ),
        (
            "MLDv2 report",
            icmp(host, a("ff02::16"), unknown(143)),
            Some(Ipv6Local::Mld),
        ),
        (
            "MLD query",
            icmp(host, a("ff02::1"), unknown(130)),
            Some(Ipv6Local::Mld),
        ),
        (
            "UDP to a group",
            udp(host, a("ff02::fb")),
            Some(Ipv6Local::LinkScope),
        ),
        (
            "UDP to link-local",
            udp(host, a("fe80::1")),
            Some(Ipv6Local::LinkScope),
        ),
        (
            "UDP from link-local",
            udp(a("fe80::2"), a("2001:db8:ff::2")),
            Some(Ipv6Local::LinkScope),
        ),
        ("UDP forwarded", udp(host, a("2001:db8:ff::2")), None),
        (
            "echo forwarded",
            icmp(
                host,
                a("2001:db8:ff::2"),
                Icmpv6Type::EchoRequest(etherparse::IcmpEchoHeader { id: 1, seq: 1 }),
            ),
            None,
        ),
    ];
    for (name, f, want) in table {
        assert_eq!(classify_local(&f), want, "{name}");
    }
    // IPv4 and short frames are not ours to judge.
    assert_eq!(classify_local(&[0u8; 10]), None);
    let mut v4 = Vec::new();
    PacketBuilder::ethernet2(HOST, OURS)
        .ipv4([10, 0, 0, 2], [224, 0, 0, 1], 1)
        .udp(1, 2)
        .write(&mut v4, &[])
        .unwrap();
    assert_eq!(classify_local(&v4), None);
}

/// Found by the wire_parse fuzz target: an IPv6 header that ends the frame, no ICMPv6
/// byte after it.
#[test]
fn frame_ending_after_the_ipv6_header() {
    let f: [u8; 54] = [
        51, 51, 255, 0, 0, 1, 2, 0, 0, 0, 0, 2, 134, 221, 96, 0, 0, 0, 0, 32, 58, 255, 145, 145,
        145, 145, 145, 145, 145, 145, 145, 145, 145, 96, 0, 0, 0, 0, 32, 186, 255, 145, 4, 0, 0, 1,
        1, 1, 2, 0, 0, 0, 0, 2,
    ];
    assert_eq!(Nd::parse(&f), Err(NdError::NotNd));
    assert_eq!(classify_local(&f), None, "global addresses, no ICMPv6 type");
    for n in 0..f.len() {
        let _ = Nd::parse(&f[..n]);
        let _ = classify_local(&f[..n]);
    }
}

fn arb_addr() -> impl Strategy<Value = Ipv6Addr> {
    any::<[u8; 16]>().prop_map(Ipv6Addr::from)
}

fn arb_nd() -> impl Strategy<Value = Nd> {
    (
        any::<Option<(bool, bool, bool)>>(),
        arb_addr(),
        arb_addr(),
        arb_addr(),
        any::<Option<Mac>>(),
    )
        .prop_map(|(op, src, dst, target, lladdr)| {
            let op = match op {
                None => NdOp::Solicitation,
                Some((router, solicited, override_)) => NdOp::Advertisement {
                    router,
                    solicited,
                    override_,
                },
            };
            Nd {
                op,
                src,
                dst,
                target,
                lladdr,
            }
        })
}

proptest! {
    /// parse(build(x)) == x for every message the validity rules accept, and a clear
    /// error (never a panic) for the rest.
    #[test]
    fn parse_inverts_write(nd in arb_nd()) {
        let mut b = [0u8; MAX_FRAME_LEN];
        let n = nd.write(HOST, OURS, &mut b).unwrap();
        let dad_ok = !nd.src.is_unspecified()
            || (nd.lladdr.is_none() && nd.dst == solicited_node(nd.target));
        let valid = !nd.target.is_multicast()
            && match nd.op {
                NdOp::Solicitation => dad_ok,
                NdOp::Advertisement { solicited, .. } => !(solicited && nd.dst.is_multicast()),
            };
        if valid {
            prop_assert_eq!(Nd::parse(&b[..n]), Ok(nd));
        } else {
            prop_assert!(Nd::parse(&b[..n]).is_err());
        }
    }

    /// Any bytes: no panic.
    #[test]
    fn parse_any_bytes(v in proptest::collection::vec(any::<u8>(), 0..120)) {
        let _ = Nd::parse(&v);
        let _ = classify_local(&v);
    }
}
