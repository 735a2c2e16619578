//! RFC 7915 §4.2-4.3 and §5.2-5.3: ICMP errors and the packets they quote.

use super::*;

#[test]
fn rfc7915_5_2_and_5_3_icmpv6_errors_to_icmpv4() {
    let rows: &[ErrorRow] = &[
        ((1, 0, [0; 4]), Ok((3, 1, [0; 4]))),
        ((1, 1, [0; 4]), Ok((3, 10, [0; 4]))),
        ((1, 2, [0; 4]), Ok((3, 1, [0; 4]))),
        ((1, 3, [0; 4]), Ok((3, 1, [0; 4]))),
        ((1, 4, [0; 4]), Ok((3, 3, [0; 4]))),
        ((1, 5, [0; 4]), Err(Untranslatable::IcmpCode)),
        // Packet Too Big: min(MTU - 20, IPv4 MTU, IPv6 MTU - 20).
        (
            (2, 0, 1400u32.to_be_bytes()),
            Ok((3, 4, [0, 0, 0x05, 0x64])),
        ),
        (
            (2, 0, 9000u32.to_be_bytes()),
            Ok((3, 4, [0, 0, 0x05, 0xc8])),
        ),
        ((3, 0, [0; 4]), Ok((11, 0, [0; 4]))),
        ((3, 1, [0; 4]), Ok((11, 1, [0; 4]))),
        // Parameter problem, Figure 6 pointers.
        ((4, 0, [0, 0, 0, 6]), Ok((12, 0, [9, 0, 0, 0]))),
        ((4, 0, [0, 0, 0, 7]), Ok((12, 0, [8, 0, 0, 0]))),
        ((4, 0, [0, 0, 0, 4]), Ok((12, 0, [2, 0, 0, 0]))),
        ((4, 0, [0, 0, 0, 30]), Ok((12, 0, [16, 0, 0, 0]))),
        ((4, 0, [0, 0, 0, 2]), Err(Untranslatable::ParameterPointer)),
        ((4, 0, [0, 0, 0, 40]), Err(Untranslatable::ParameterPointer)),
        ((4, 1, [0, 0, 0, 6]), Ok((3, 2, [0; 4]))),
        ((4, 2, [0; 4]), Err(Untranslatable::IcmpCode)),
        ((137, 0, [0; 4]), Err(Untranslatable::IcmpType)),
    ];
    let (quote4, quote6) = inbound_pair();
    for &((ty, code, rest), want) in rows {
        let input = build(
            ip6(ROUTER6, server6(), 0, 64, Default::default()),
            T::Icmp(ty, code, rest),
            &quote6,
        );
        let got = to4(&input, &error_rw_6to4());
        let want = want.map(|(t, c, r)| {
            build(
                ip4(POOL, SERVER4, 0, 64, 0x4242, 0),
                T::Icmp(t, c, r),
                &quote4,
            )
        });
        assert_eq!(got, want.map_err(XlatError::from), "{ty}/{code}");
    }
}

#[test]
fn rfc7915_4_2_and_4_3_icmpv4_errors_to_icmpv6() {
    let mtu6 = |m: u32| m.to_be_bytes();
    let rows: &[ErrorRow] = &[
        ((3, 0, [0; 4]), Ok((1, 0, [0; 4]))),
        ((3, 1, [0; 4]), Ok((1, 0, [0; 4]))),
        ((3, 2, [0; 4]), Ok((4, 1, [0, 0, 0, 6]))),
        ((3, 3, [0; 4]), Ok((1, 4, [0; 4]))),
        // Fragmentation needed: min(MTU + 20, IPv6 MTU, IPv4 MTU + 20), at least 1280.
        ((3, 4, [0, 0, 0x05, 0x78]), Ok((2, 0, mtu6(1420)))),
        ((3, 4, [0, 0, 0x03, 0xe8]), Ok((2, 0, mtu6(1280)))),
        ((3, 4, [0, 0, 0x23, 0x28]), Ok((2, 0, mtu6(1500)))),
        ((3, 5, [0; 4]), Ok((1, 0, [0; 4]))),
        ((3, 9, [0; 4]), Ok((1, 1, [0; 4]))),
        ((3, 10, [0; 4]), Ok((1, 1, [0; 4]))),
        ((3, 13, [0; 4]), Ok((1, 1, [0; 4]))),
        ((3, 14, [0; 4]), Err(Untranslatable::IcmpCode)),
        ((3, 15, [0; 4]), Ok((1, 1, [0; 4]))),
        ((11, 0, [0; 4]), Ok((3, 0, [0; 4]))),
        ((11, 1, [0; 4]), Ok((3, 1, [0; 4]))),
        // Parameter problem, Figure 3 pointers; bad length as pointer too.
        ((12, 0, [8, 0, 0, 0]), Ok((4, 0, [0, 0, 0, 7]))),
        ((12, 0, [9, 0, 0, 0]), Ok((4, 0, [0, 0, 0, 6]))),
        ((12, 0, [17, 0, 0, 0]), Ok((4, 0, [0, 0, 0, 24]))),
        ((12, 2, [2, 0, 0, 0]), Ok((4, 0, [0, 0, 0, 4]))),
        ((12, 0, [4, 0, 0, 0]), Err(Untranslatable::ParameterPointer)),
        (
            (12, 0, [10, 0, 0, 0]),
            Err(Untranslatable::ParameterPointer),
        ),
        ((12, 1, [0; 4]), Err(Untranslatable::IcmpCode)),
        ((4, 0, [0; 4]), Err(Untranslatable::IcmpType)),
        ((5, 1, [0; 4]), Err(Untranslatable::IcmpType)),
    ];
    let (quote6, quote4) = outbound_pair();
    for &((ty, code, rest), want) in rows {
        let input = build(
            ip4(ROUTER4, POOL, 0, 250, 3, 0),
            T::Icmp(ty, code, rest),
            &quote4,
        );
        let got = to6(&input, &error_rw_4to6());
        let want = want.map(|(t, c, r)| {
            build(
                ip6(router4_as_6(), CLIENT6, 0, 250, Default::default()),
                T::Icmp(t, c, r),
                &quote6,
            )
        });
        assert_eq!(got, want.map_err(XlatError::from), "{ty}/{code}");
    }
}

#[test]
fn rfc7915_4_2_fragmentation_needed_without_mtu_uses_plateaus() {
    // A 1500-byte datagram quoted by its first 28 bytes: the plateau below 1500 is 1492.
    let big = build(
        ip4(POOL, SERVER4, 0, 63, 0x4242, 0x4000),
        T::Udp(1024, 53),
        &[0; 1472],
    );
    let big6 = build(
        ip6(CLIENT6, server6(), 0, 63, Default::default()),
        T::Udp(40000, 53),
        &[0; 1472],
    );
    let input = build(
        ip4(ROUTER4, POOL, 0, 250, 3, 0),
        T::Icmp(3, 4, [0; 4]),
        &big[..28],
    );
    let got = to6(&input, &error_rw_4to6()).unwrap();
    assert_eq!(
        got[40..48],
        [2, 0, got[42], got[43], 0, 0, 0x05, 0xdc],
        "1492 + 20 capped at 1500"
    );
    // The quote keeps its declared length and its ports; its checksum followed the ports.
    assert_eq!(got[48..48 + 40 + 8], big6[..48]);
}

#[test]
fn rfc4443_2_4_c_icmpv6_error_cut_to_1280() {
    let data = vec![0x11; 1400];
    let big = build(
        ip4(POOL, SERVER4, 0, 63, 0x4242, 0),
        T::Udp(1024, 53),
        &data,
    );
    let input = build(
        ip4(ROUTER4, POOL, 0, 250, 3, 0),
        T::Icmp(11, 0, [0; 4]),
        &big,
    );
    let got = to6(&input, &error_rw_4to6()).unwrap();
    assert_eq!(got.len(), 1280);
    let big6 = build(
        ip6(CLIENT6, server6(), 0, 63, Default::default()),
        T::Udp(40000, 53),
        &data,
    );
    let want = build(
        ip6(router4_as_6(), CLIENT6, 0, 250, Default::default()),
        T::Icmp(3, 0, [0; 4]),
        &big6[..1280 - 48],
    );
    assert_eq!(got, want);
}

#[test]
fn rfc7915_4_3_and_5_3_one_level_only() {
    let (quote6, quote4) = outbound_pair();
    let inner6 = build(
        ip6(CLIENT6, server6(), 0, 64, Default::default()),
        T::Icmp(1, 4, [0; 4]),
        &quote6,
    );
    let input = build(
        ip6(ROUTER6, server6(), 0, 64, Default::default()),
        T::Icmp(3, 0, [0; 4]),
        &inner6,
    );
    assert_eq!(
        to4(&input, &error_rw_6to4()),
        Err(Untranslatable::NestedIcmpError.into())
    );
    let inner4 = build(
        ip4(POOL, SERVER4, 0, 64, 1, 0),
        T::Icmp(3, 3, [0; 4]),
        &quote4,
    );
    let input = build(
        ip4(ROUTER4, POOL, 0, 64, 1, 0),
        T::Icmp(11, 0, [0; 4]),
        &inner4,
    );
    assert_eq!(
        to6(&input, &error_rw_4to6()),
        Err(Untranslatable::NestedIcmpError.into())
    );
    // An echo quoted in an error is translated (type, identifier, checksum).
    let echo6 = build(
        ip6(CLIENT6, server6(), 0, 64, Default::default()),
        T::Echo(true, 40000, 3),
        DATA,
    );
    let echo4 = build(
        ip4(POOL, SERVER4, 0, 64, 0x4242, 0),
        T::Echo(true, 1024, 3),
        DATA,
    );
    let input = build(
        ip4(ROUTER4, POOL, 0, 64, 1, 0),
        T::Icmp(11, 0, [0; 4]),
        &echo4,
    );
    let want = build(
        ip6(router4_as_6(), CLIENT6, 0, 64, Default::default()),
        T::Icmp(3, 0, [0; 4]),
        &echo6,
    );
    assert_eq!(to6(&input, &error_rw_4to6()).unwrap(), want);
}

#[test]
fn icmp_error_needs_quote_rewrite_and_valid_checksum() {
    let (quote6, quote4) = outbound_pair();
    let input = build(
        ip4(ROUTER4, POOL, 0, 64, 1, 0),
        T::Icmp(11, 0, [0; 4]),
        &quote4,
    );
    let rw = Rewrite {
        inner: None,
        ..error_rw_4to6()
    };
    assert_eq!(to6(&input, &rw), Err(Untranslatable::NoQuoteRewrite.into()));
    let mut bad = input.clone();
    *bad.last_mut().unwrap() ^= 0x80;
    assert_eq!(
        to6(&bad, &error_rw_4to6()),
        Err(Untranslatable::IcmpChecksum.into())
    );
    let mut bad = build(
        ip6(ROUTER6, server6(), 0, 64, Default::default()),
        T::Icmp(3, 0, [0; 4]),
        &quote6,
    );
    *bad.last_mut().unwrap() ^= 0x80;
    assert_eq!(
        to4(&bad, &error_rw_6to4()),
        Err(Untranslatable::IcmpChecksum.into())
    );
}

#[test]
fn untranslatable_reasons_are_distinct() {
    use Untranslatable::*;
    let all = [
        IcmpType,
        IcmpCode,
        ParameterPointer,
        NestedIcmpError,
        FragmentedIcmp,
        IcmpChecksum,
        UdpZeroChecksumFragment,
        CrossFamilyIcmp,
        NoQuoteRewrite,
    ];
    let reasons: std::collections::HashSet<_> = all.iter().map(|u| u.reason()).collect();
    assert_eq!(reasons.len(), all.len());
    assert_eq!(
        XlatError::from(NestedIcmpError).to_string(),
        "not translated: ICMP error quotes an ICMP error"
    );
}
