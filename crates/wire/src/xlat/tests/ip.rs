//! RFC 7915 §4.1 and §5.1: headers, transport checksums, fragments, echo.

use super::*;

#[test]
fn rfc7915_5_1_tcp_udp_headers_ports_and_checksums_6to4() {
    for (t_in, t_out) in [
        (T::Tcp(40000, 80), T::Tcp(1024, 80)),
        (T::Udp(40000, 53), T::Udp(1024, 53)),
    ] {
        let input = build(
            ip6(CLIENT6, server6(), 0xb8, 63, Default::default()),
            t_in,
            DATA,
        );
        let want = build(ip4(POOL, SERVER4, 0xb8, 63, 0x4242, 0), t_out, DATA);
        assert_eq!(to4(&input, &out_rw()).unwrap(), want, "{t_in:?}");
    }
}

#[test]
fn rfc7915_4_1_tcp_udp_headers_ports_and_checksums_4to6() {
    for (t_in, t_out) in [
        (T::Tcp(80, 1024), T::Tcp(80, 40000)),
        (T::Udp(53, 1024), T::Udp(53, 40000)),
    ] {
        // Options are dropped (§4.1): a router alert on the IPv4 side.
        let mut ip = ip4(SERVER4, POOL, 0x2e, 50, 7, 0x4000);
        if let IpHeaders::Ipv4(h, _) = &mut ip {
            h.options = [148u8, 4, 0, 0].into();
        }
        let input = build(ip, t_in, DATA);
        let want = build(
            ip6(server6(), CLIENT6, 0x2e, 50, Default::default()),
            t_out,
            DATA,
        );
        assert_eq!(to6(&input, &in_rw()).unwrap(), want, "{t_in:?}");
    }
}

#[test]
fn rfc7915_4_5_udp_without_checksum_gets_one() {
    let mut input = build(ip4(SERVER4, POOL, 0, 50, 7, 0), T::Udp(53, 1024), DATA);
    input[26..28].copy_from_slice(&[0, 0]);
    let want = build(
        ip6(server6(), CLIENT6, 0, 50, Default::default()),
        T::Udp(53, 40000),
        DATA,
    );
    assert_eq!(to6(&input, &in_rw()).unwrap(), want);
    // A first fragment cannot have it computed: dropped.
    let mut frag = build(ip4(SERVER4, POOL, 0, 50, 7, 0x2000), T::Udp(53, 1024), DATA);
    frag[26..28].copy_from_slice(&[0, 0]);
    assert_eq!(
        to6(&frag, &in_rw()),
        Err(Untranslatable::UdpZeroChecksumFragment.into())
    );
}

#[test]
fn rfc7915_5_2_echo_6to4_and_4_2_echo_4to6() {
    let input = build(
        ip6(CLIENT6, server6(), 0, 64, Default::default()),
        T::Echo(true, 7, 1),
        DATA,
    );
    let want = build(
        ip4(POOL, SERVER4, 0, 64, 0x4242, 0),
        T::Echo(true, 1024, 1),
        DATA,
    );
    assert_eq!(to4(&input, &out_rw()).unwrap(), want);
    let reply = build(
        ip4(SERVER4, POOL, 0, 60, 9, 0),
        T::Echo(false, 1024, 1),
        DATA,
    );
    let want = build(
        ip6(server6(), CLIENT6, 0, 60, Default::default()),
        T::Echo(false, 40000, 1),
        DATA,
    );
    assert_eq!(to6(&reply, &in_rw()).unwrap(), want);
}

#[test]
fn rfc7915_4_2_and_5_2_informational_types_dropped() {
    for t in [133u8, 135, 130] {
        let input = build(
            ip6(CLIENT6, server6(), 0, 255, Default::default()),
            T::Icmp(t, 0, [0; 4]),
            &[],
        );
        assert_eq!(
            to4(&input, &out_rw()),
            Err(Untranslatable::IcmpType.into()),
            "{t}"
        );
    }
    for t in [13u8, 17, 9, 4, 5] {
        let input = build(
            ip4(SERVER4, POOL, 0, 64, 1, 0),
            T::Icmp(t, 0, [0; 4]),
            &[0; 12],
        );
        assert_eq!(
            to6(&input, &in_rw()),
            Err(Untranslatable::IcmpType.into()),
            "{t}"
        );
    }
}

#[test]
fn rfc7915_5_1_1_fragment_header_to_ipv4_fields() {
    // First fragment: id's low 16 bits, MF copied, DF clear, the transport rewritten.
    let input = build(
        ip6(CLIENT6, server6(), 0, 64, frag6(0x0001_beef, 0, true)),
        T::Udp(40000, 53),
        DATA,
    );
    let want = build(
        ip4(POOL, SERVER4, 0, 64, 0xbeef, 0x2000),
        T::Udp(1024, 53),
        DATA,
    );
    assert_eq!(to4(&input, &out_rw()).unwrap(), want);
    // A real first fragment: the UDP length and checksum count the fragments to come.
    let input = build(
        ip6(CLIENT6, server6(), 0, 64, frag6(0xbeef, 0, true)),
        T::Raw(17),
        &input[48..60],
    );
    let want = build(
        ip4(POOL, SERVER4, 0, 64, 0xbeef, 0x2000),
        T::Raw(17),
        &want[20..32],
    );
    assert_eq!(to4(&input, &out_rw()).unwrap(), want);
    // A later fragment: offset copied, no transport header to touch.
    let input = build(
        ip6(CLIENT6, server6(), 0, 64, frag6(0xbeef, 1480, false)),
        T::Raw(17),
        DATA,
    );
    let want = build(
        ip4(POOL, SERVER4, 0, 64, 0xbeef, 1480 / 8),
        T::Raw(17),
        DATA,
    );
    assert_eq!(to4(&input, &out_rw()).unwrap(), want);
}

#[test]
fn rfc7915_4_1_1_ipv4_fragment_gets_fragment_header() {
    let input = build(
        ip4(SERVER4, POOL, 0, 50, 0x1234, 0x2000),
        T::Tcp(80, 1024),
        DATA,
    );
    let want = build(
        ip6(server6(), CLIENT6, 0, 50, frag6(0x1234, 0, true)),
        T::Tcp(80, 40000),
        DATA,
    );
    assert_eq!(to6(&input, &in_rw()).unwrap(), want);
    let input = build(ip4(SERVER4, POOL, 0, 50, 0x1234, 185), T::Raw(6), DATA);
    let want = build(
        ip6(server6(), CLIENT6, 0, 50, frag6(0x1234, 185 * 8, false)),
        T::Raw(6),
        DATA,
    );
    assert_eq!(to6(&input, &in_rw()).unwrap(), want);
}

#[test]
fn rfc7915_5_1_df_set_above_1260_bytes() {
    for (len, flags) in [(1260 - 28, 0), (1261 - 28, 0x4000)] {
        let data = vec![0x5a; len];
        let input = build(
            ip6(CLIENT6, server6(), 0, 64, Default::default()),
            T::Udp(40000, 53),
            &data,
        );
        let want = build(
            ip4(POOL, SERVER4, 0, 64, 0x4242, flags),
            T::Udp(1024, 53),
            &data,
        );
        assert_eq!(to4(&input, &out_rw()).unwrap(), want, "{len}");
    }
}

fn dest_opts() -> Ipv6RawExtHeader {
    Ipv6RawExtHeader::new_raw(IpNumber::TCP, &[1, 4, 0, 0, 0, 0]).unwrap()
}

#[test]
fn rfc7915_5_1_extension_headers_skipped_routing_answered() {
    let exts = Ipv6Extensions {
        hop_by_hop_options: Some(dest_opts()),
        destination_options: Some(dest_opts()),
        ..Default::default()
    };
    let input = build(
        ip6(CLIENT6, server6(), 0, 64, exts),
        T::Tcp(40000, 80),
        DATA,
    );
    let want = build(ip4(POOL, SERVER4, 0, 64, 0x4242, 0), T::Tcp(1024, 80), DATA);
    assert_eq!(to4(&input, &out_rw()).unwrap(), want);
    // Type 4 routing header: routing type, segments left, then data.
    let routing = |left: u8| Ipv6Extensions {
        destination_options: Some(dest_opts()),
        routing: Some(Ipv6RoutingExtensions {
            routing: Ipv6RawExtHeader::new_raw(IpNumber::TCP, &[4, left, 0, 0, 0, 0]).unwrap(),
            final_destination_options: None,
        }),
        ..Default::default()
    };
    let input = build(
        ip6(CLIENT6, server6(), 0, 64, routing(1)),
        T::Tcp(40000, 80),
        DATA,
    );
    // Segments Left: fixed header, destination options, then the routing header's 4th octet.
    assert_eq!(
        to4(&input, &out_rw()),
        Err(XlatError::Answer(Answer::ParameterProblem {
            pointer: 40 + 8 + 3
        }))
    );
    let input = build(
        ip6(CLIENT6, server6(), 0, 64, routing(0)),
        T::Tcp(40000, 80),
        DATA,
    );
    assert_eq!(to4(&input, &out_rw()).unwrap(), want);
}

#[test]
fn rfc7915_4_1_unexpired_source_route_answered() {
    let lsrr = |ptr: u8| {
        let mut ip = ip4(SERVER4, POOL, 0, 64, 1, 0);
        if let IpHeaders::Ipv4(h, _) = &mut ip {
            h.options = [131u8, 7, ptr, 192, 0, 2, 1, 0].into();
        }
        build(ip, T::Tcp(80, 1024), DATA)
    };
    assert_eq!(
        to6(&lsrr(4), &in_rw()),
        Err(XlatError::Answer(Answer::SourceRouteFailed))
    );
    // Pointer past the route: expired, the option is ignored.
    assert!(to6(&lsrr(8), &in_rw()).is_ok());
}

#[test]
fn rfc7915_cross_family_icmp_and_bad_ipv4_checksum() {
    let input = build(
        ip6(CLIENT6, server6(), 0, 64, Default::default()),
        T::Raw(1),
        &[8, 0, 0, 0, 0, 0, 0, 0],
    );
    assert_eq!(
        to4(&input, &out_rw()),
        Err(Untranslatable::CrossFamilyIcmp.into())
    );
    let input = build(
        ip4(SERVER4, POOL, 0, 64, 1, 0),
        T::Raw(58),
        &[128, 0, 0, 0, 0, 0, 0, 0],
    );
    assert_eq!(
        to6(&input, &in_rw()),
        Err(Untranslatable::CrossFamilyIcmp.into())
    );
    let mut input = build(ip4(SERVER4, POOL, 0, 64, 1, 0), T::Tcp(80, 1024), DATA);
    input[10] ^= 1;
    assert_eq!(to6(&input, &in_rw()), Err(WireError::IpChecksum.into()));
    let frag = build(
        ip4(SERVER4, POOL, 0, 64, 1, 0x2000),
        T::Echo(false, 1, 1),
        DATA,
    );
    assert_eq!(
        to6(&frag, &in_rw()),
        Err(Untranslatable::FragmentedIcmp.into())
    );
}

#[test]
fn rfc7915_transport_header_must_be_whole() {
    let cases: [(u8, WireError); 3] = [
        (6, WireError::TcpHeaderLength),
        (17, WireError::UdpHeaderLength),
        (58, WireError::IcmpTruncated),
    ];
    for (p, e) in cases {
        let input = build(
            ip6(CLIENT6, server6(), 0, 64, Default::default()),
            T::Raw(p),
            &[0; 7],
        );
        assert_eq!(to4(&input, &out_rw()), Err(e.into()), "{p}");
        let p4 = if p == 58 { 1 } else { p };
        let input = build(ip4(SERVER4, POOL, 0, 64, 1, 0), T::Raw(p4), &[0; 7]);
        assert_eq!(to6(&input, &in_rw()), Err(e.into()), "{p}");
    }
}
