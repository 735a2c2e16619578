//! Hostile input: truncated, overlong, mutated or random packets and short output
//! buffers give an error, never a panic; and the IPv6 → IPv4 → IPv6 round trip.

use super::*;

use proptest::prelude::*;

/// Valid packets of every kind the tables above cover, for the hostile-input checks.
fn corpus() -> Vec<(bool, Vec<u8>)> {
    let (q6, q4) = outbound_pair();
    let (i4, i6) = inbound_pair();
    vec![
        (true, q6.clone()),
        (false, q4.clone()),
        (false, i4.clone()),
        (true, i6),
        (
            true,
            build(
                ip6(ROUTER6, server6(), 0, 64, Default::default()),
                T::Icmp(2, 0, [0, 0, 5, 0]),
                &q6,
            ),
        ),
        (
            false,
            build(
                ip4(ROUTER4, POOL, 0, 64, 1, 0),
                T::Icmp(3, 4, [0, 0, 5, 0]),
                &q4,
            ),
        ),
        (
            true,
            build(
                ip6(CLIENT6, server6(), 0, 64, frag6(9, 0, true)),
                T::Udp(40000, 53),
                DATA,
            ),
        ),
        (
            false,
            build(ip4(SERVER4, POOL, 0, 64, 9, 0x2000), T::Udp(53, 1024), DATA),
        ),
    ]
}

fn translate(v6: bool, input: &[u8], out: &mut [u8]) -> Result<usize, XlatError> {
    if v6 {
        ipv6_to_ipv4(
            input,
            out,
            &Rewrite {
                inner: out_rw().outer.into(),
                ..out_rw()
            },
            &PARAMS,
        )
    } else {
        ipv4_to_ipv6(
            input,
            out,
            &Rewrite {
                inner: in_rw().outer.into(),
                ..in_rw()
            },
            &PARAMS,
        )
    }
}

#[test]
fn hostile_truncated_or_overlong_input_is_an_error() {
    let mut out = [0u8; 2048];
    for (v6, pkt) in corpus() {
        assert!(translate(v6, &pkt, &mut out).is_ok(), "{pkt:02x?}");
        for k in 0..pkt.len() {
            assert!(
                matches!(
                    translate(v6, &pkt[..k], &mut out),
                    Err(XlatError::Malformed(_))
                ),
                "truncated to {k}: {pkt:02x?}"
            );
        }
        // A length field claiming more than the slice holds.
        let mut long = pkt.clone();
        let at = if v6 { 4 } else { 2 };
        long[at] = long[at].wrapping_add(1);
        assert!(translate(v6, &long, &mut out).is_err());
    }
}

#[test]
fn hostile_output_buffer_too_small_is_an_error() {
    let mut out = [0u8; 2048];
    for (v6, pkt) in corpus() {
        let n = translate(v6, &pkt, &mut out).unwrap();
        for k in 0..n {
            match translate(v6, &pkt, &mut out[..k]) {
                Err(XlatError::Malformed(WireError::BufferTooSmall { needed })) => {
                    assert!(needed > k, "{needed} > {k}");
                }
                other => panic!("{k} of {n}: {other:?}"),
            }
        }
    }
}

/// What was translated from IPv6 (`from_v6`) is a whole IPv4 packet whose header
/// checksum verifies, and the other way round a whole IPv6 packet.
fn assert_whole(from_v6: bool, out: &[u8]) {
    if from_v6 {
        let p = crate::ipv4::Ipv4Packet::new_checked(out).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(usize::from(p.total_len()), out.len());
    } else {
        let p = crate::ipv6::Ipv6Packet::new_checked(out).unwrap();
        assert_eq!(usize::from(p.payload_len()) + 40, out.len());
    }
}

proptest! {
    /// Any bytes, any output size: an answer, never a panic.
    #[test]
    fn hostile_any_bytes(data in proptest::collection::vec(any::<u8>(), 0..200), v6: bool, n in 0usize..400) {
        let mut input = data;
        if let Some(b) = input.first_mut() {
            *b = (*b & 0x0f) | if v6 { 0x60 } else { 0x40 };
        }
        let mut out = vec![0u8; n];
        if let Ok(n) = translate(v6, &input, &mut out) {
            assert_whole(v6, &out[..n]);
        }
    }

    /// Valid packets with one byte changed: an answer, never a panic.
    #[test]
    fn hostile_mutated(i in 0usize..8, at in any::<prop::sample::Index>(), x: u8) {
        let (v6, mut pkt) = corpus().swap_remove(i);
        let at = at.index(pkt.len());
        pkt[at] ^= x;
        let mut out = [0u8; 2048];
        if let Ok(n) = translate(v6, &pkt, &mut out) {
            assert_whole(v6, &out[..n]);
        }
    }

    /// IPv6 → IPv4 → IPv6 with the inverse rewrite restores the packet: the fields RFC
    /// 7915 keeps (flow label zero, no extension headers but a fragment header whose id
    /// fits 16 bits) come back byte for byte, checksums included.
    #[test]
    fn round_trip_6to4to6(
        tc: u8,
        hop: u8,
        kind in 0u8..4,
        sport: u16,
        dport: u16,
        mapped: u16,
        ident: u16,
        frag in proptest::option::of(any::<u16>()),
        payload in proptest::collection::vec(any::<u8>(), 0..1400),
    ) {
        let t = match kind {
            0 => T::Tcp(sport, dport),
            1 => T::Udp(sport, dport),
            2 => T::Echo(true, sport, dport),
            _ => T::Echo(false, sport, dport),
        };
        let frag = frag.filter(|_| kind < 2);
        // A first fragment (an unfragmented one with a fragment header, RFC 6946 atomic
        // fragment, does not survive: IPv4 has no way to say so).
        let exts = frag.map_or_else(Default::default, |id| frag6(u32::from(id), 0, true));
        let input = build(ip6(CLIENT6, server6(), tc, hop, exts), t, &payload);
        let there = Rewrite {
            outer: Endpoints { src_port: Some(mapped), icmp_id: Some(mapped), ..Endpoints::addrs(POOL, SERVER4) },
            inner: None,
        };
        let back = Rewrite {
            outer: Endpoints { src_port: Some(sport), icmp_id: Some(sport), ..Endpoints::addrs(CLIENT6, server6()) },
            inner: None,
        };
        let params = Params { ipv4_ident: ident, ..PARAMS };
        let mut v4 = [0u8; 2048];
        let n = ipv6_to_ipv4(&input, &mut v4, &there, &params).unwrap();
        let mut v6 = [0u8; 2048];
        let m = ipv4_to_ipv6(&v4[..n], &mut v6, &back, &params).unwrap();
        prop_assert_eq!(&v6[..m], &input[..]);
    }
}
