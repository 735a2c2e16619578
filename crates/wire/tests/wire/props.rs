//! Property tests: no panics on any input, generated frames parse to the right key,
//! rewrites keep every checksum valid by full recomputation, the hash is symmetric.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use mspic_wire::build::{icmp_error, tcp_rst, IcmpErrorKind};
use mspic_wire::parse::{l4_checksum_ok, parse_frame};
use mspic_wire::rewrite::*;
use mspic_wire::{FlowKey, IpVersion, Parsed, L4};
use proptest::prelude::*;

use super::frames::*;
use super::gen::{self, Spec};
use super::naive;

/// Calls everything that takes a parsed frame; none of it may panic.
fn exercise(frame: &[u8], p: &Parsed) {
    let _ = l4_checksum_ok(frame, p);
    let mut out = [0u8; 1600];
    let _ = tcp_rst(frame, p, &mut out);
    for kind in [IcmpErrorKind::TimeExceeded, IcmpErrorKind::AdminProhibited] {
        let _ = icmp_error(
            frame,
            p,
            kind,
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            &mut out,
        );
        let _ = icmp_error(frame, p, kind, IpAddr::V6(Ipv6Addr::LOCALHOST), &mut out);
    }
    let a4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let a6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    let mut f = frame.to_vec();
    for a in [a4, a6] {
        let _ = set_src_addr(&mut f, p, a);
        let _ = set_dst_addr(&mut f, p, a);
        let _ = set_inner_src_addr(&mut f, p, a);
        let _ = set_inner_dst_addr(&mut f, p, a);
    }
    let _ = set_src_port(&mut f, p, 7);
    let _ = set_dst_port(&mut f, p, 7);
    let _ = set_icmp_query_id(&mut f, p, 7);
    let _ = set_inner_src_port(&mut f, p, 7);
    let _ = set_inner_dst_port(&mut f, p, 7);
    let _ = set_inner_icmp_id(&mut f, p, 7);
    let _ = set_gre_key(&mut f, p, 7);
    let _ = set_gre_call_id(&mut f, p, 7);
    let _ = decrement_ttl(&mut f, p);
    let _ = set_macs(&mut f, [1; 6], [2; 6]);
    // The same Parsed against a shorter frame must not panic either.
    for cut in [0, 13, 20, 40, 60] {
        let mut g = frame.get(..cut.min(frame.len())).unwrap_or(&[]).to_vec();
        let _ = l4_checksum_ok(&g, p);
        let _ = set_src_addr(&mut g, p, a4);
        let _ = set_inner_src_port(&mut g, p, 7);
        let _ = decrement_ttl(&mut g, p);
        let _ = tcp_rst(&g, p, &mut out);
        let _ = icmp_error(&g, p, IcmpErrorKind::TimeExceeded, a4, &mut out);
    }
}

const GOLDEN: &[&[u8]] = &[
    &TCP_SYN_V4,
    &UDP_OPTS_V4,
    &VLAN_UDP_V4,
    &V6_HBH_FRAG_UDP,
    &TCP_V6,
    &ECHO_REQ_V4,
    &ECHO_REQ_V6,
    &UNREACH_UDP_V4,
    &TIMEX_TCP8_V4,
    &TIMEX_ECHO_V4,
    &UNREACH6_TCP,
    &GRE0_CK,
    &GRE1_PPTP,
    &LATER_FRAG_V4,
    &UDP0_V4,
];

fn fix_ipv4_checksum(f: &mut [u8]) {
    let l3 = if f.get(12..14) == Some(&[0x81, 0x00]) {
        18
    } else {
        14
    };
    let Some(&b0) = f.get(l3) else { return };
    let hl = usize::from(b0 & 15) * 4;
    if b0 >> 4 != 4 || hl < 20 || f.len() < l3 + hl {
        return;
    }
    f[l3 + 10] = 0;
    f[l3 + 11] = 0;
    let c = naive::checksum(&[&f[l3..l3 + hl]]);
    f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
}

fn v4() -> impl Strategy<Value = IpAddr> {
    any::<[u8; 4]>().prop_map(|a| IpAddr::V4(a.into()))
}

fn v6() -> impl Strategy<Value = IpAddr> {
    any::<[u8; 16]>().prop_map(|a| IpAddr::V6(a.into()))
}

/// Same-family address pair.
fn addr_pair() -> impl Strategy<Value = (IpAddr, IpAddr)> {
    prop_oneof![(v4(), v4()), (v6(), v6())]
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        (
            1u16..,
            1u16..,
            any::<u32>(),
            proptest::option::of(any::<u32>()),
            0u8..16
        )
            .prop_map(|(sp, dp, seq, ack, flags)| Spec::Tcp {
                sp,
                dp,
                seq,
                ack,
                flags
            }),
        (1u16.., 1u16..).prop_map(|(sp, dp)| Spec::Udp { sp, dp }),
        (any::<bool>(), any::<u16>(), any::<u16>()).prop_map(|(request, id, seq)| Spec::Echo {
            request,
            id,
            seq
        }),
    ]
}

fn expected_key(src: IpAddr, dst: IpAddr, spec: Spec) -> FlowKey {
    let icmp = if src.is_ipv4() { 1 } else { 58 };
    let (src_port, dst_port, proto) = match spec {
        Spec::Tcp { sp, dp, .. } => (sp, dp, 6),
        Spec::Udp { sp, dp } => (sp, dp, 17),
        Spec::Echo {
            request: true, id, ..
        } => (id, 0, icmp),
        Spec::Echo {
            request: false, id, ..
        } => (0, id, icmp),
    };
    FlowKey {
        src,
        dst,
        src_port,
        dst_port,
        proto,
    }
}

/// The key of the frame as it is now.
fn key_now(f: &[u8]) -> FlowKey {
    parse_frame(f).unwrap().key
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(p) = parse_frame(&bytes) {
            exercise(&bytes, &p);
        }
        // Also behind a valid Ethernet header, for IPv4 and IPv6.
        for et in [[0x08, 0x00], [0x86, 0xdd]] {
            let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, et[0], et[1]];
            f.extend_from_slice(&bytes);
            if let Ok(p) = parse_frame(&f) {
                exercise(&f, &p);
            }
        }
    }

    /// IPv4 options (RFC 791 §3.1): any bytes end the walk in at most one step per byte,
    /// an error is last, and well-formed options' lengths never pass the end.
    #[test]
    fn ipv4_options_walk_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        let items: Vec<_> = mspic_wire::ipv4::options(&bytes).collect();
        prop_assert!(items.len() <= bytes.len());
        if let Some(i) = items.iter().position(|r| r.is_err()) {
            prop_assert_eq!(i, items.len() - 1);
        }
        for t in items.iter().filter_map(|r| r.as_ref().ok()) {
            prop_assert!(*t > 1, "padding is not yielded");
        }
    }

    #[test]
    fn mutated_golden_frames_never_panic(
        which in 0..GOLDEN.len(),
        muts in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
        refix in any::<bool>(),
    ) {
        let mut f = GOLDEN[which].to_vec();
        for (i, b) in muts {
            let n = f.len();
            f[i % n] = b;
        }
        f.truncate(cut % (f.len() + 8));
        if refix {
            // Keep the IPv4 header checksum valid so the parser goes deeper.
            fix_ipv4_checksum(&mut f);
        }
        if let Ok(p) = parse_frame(&f) {
            exercise(&f, &p);
        }
    }

    #[test]
    fn generated_frames_parse_to_their_key(
        (src, dst) in addr_pair(),
        spec in spec(),
        vlan in proptest::option::of(0u16..4095),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let f = gen::frame(vlan, src, dst, spec, &payload);
        let p = parse_frame(&f).unwrap();
        prop_assert_eq!(p.key, expected_key(src, dst, spec));
        prop_assert_eq!(p.vlan, vlan);
        prop_assert_eq!(p.payload_len, payload.len());
        prop_assert_eq!(&f[p.payload_offset..p.payload_offset + p.payload_len], &payload[..]);
        prop_assert_eq!(p.version, if src.is_ipv4() { IpVersion::V4 } else { IpVersion::V6 });
        prop_assert!(l4_checksum_ok(&f, &p));
        if let (Spec::Tcp { seq, flags, .. }, L4::Tcp { seq: s, flags: fl, .. }) = (spec, p.l4) {
            prop_assert_eq!(seq, s);
            prop_assert_eq!(flags & 0x0f, fl & 0x0f);
        }
    }

    #[test]
    fn rewrites_keep_checksums_valid(
        (src, dst) in addr_pair(),
        spec in spec(),
        (new_src, new_dst) in addr_pair(),
        (new_sp, new_dp) in (1u16.., 1u16..),
        zero_udp_checksum in any::<bool>(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        prop_assume!(src.is_ipv4() == new_src.is_ipv4());
        let mut f = gen::frame(None, src, dst, spec, &payload);
        let p = parse_frame(&f).unwrap();
        let zeroed = zero_udp_checksum && p.l4 == L4::Udp && src.is_ipv4();
        if zeroed {
            f[p.l4_offset + 6] = 0;
            f[p.l4_offset + 7] = 0;
        }
        set_src_addr(&mut f, &p, new_src).unwrap();
        set_dst_addr(&mut f, &p, new_dst).unwrap();
        let mut want = FlowKey { src: new_src, dst: new_dst, ..p.key };
        match spec {
            Spec::Tcp { .. } | Spec::Udp { .. } => {
                set_src_port(&mut f, &p, new_sp).unwrap();
                set_dst_port(&mut f, &p, new_dp).unwrap();
                want.src_port = new_sp;
                want.dst_port = new_dp;
            }
            Spec::Echo { request, .. } => {
                set_icmp_query_id(&mut f, &p, new_sp).unwrap();
                if request { want.src_port = new_sp } else { want.dst_port = new_sp }
            }
        }
        let ttl = decrement_ttl(&mut f, &p).unwrap();
        prop_assert_eq!(ttl, 63);
        naive::verify_frame(&f).map_err(TestCaseError::fail)?;
        if zeroed {
            prop_assert_eq!(&f[p.l4_offset + 6..p.l4_offset + 8], &[0, 0]);
        }
        prop_assert_eq!(key_now(&f), want);
    }

    #[test]
    fn icmp_error_inner_rewrites_keep_checksums_valid(
        (src, dst) in addr_pair(),
        spec in spec(),
        (inner_src, outer_dst) in addr_pair(),
        new_port in 1u16..,
        big in any::<bool>(),
        payload_byte in any::<u8>(),
    ) {
        prop_assume!(src.is_ipv4() == inner_src.is_ipv4());
        // The offending packet goes src -> dst; a router sends the error back to src.
        let payload = vec![payload_byte; if big { 1500 } else { 12 }];
        let offending = gen::frame(None, src, dst, spec, &payload);
        let op = parse_frame(&offending).unwrap();
        let router = if src.is_ipv4() {
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 254))
        } else {
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xfe))
        };
        let mut out = [0u8; 1600];
        let Ok(n) = icmp_error(&offending, &op, IcmpErrorKind::TimeExceeded, router, &mut out) else {
            // Multicast destination, unspecified source, …: refused, nothing to test.
            return Ok(());
        };
        let mut f = out[..n].to_vec();
        naive::verify_frame(&f).map_err(TestCaseError::fail)?;
        let p = parse_frame(&f).unwrap();
        let inner = *p.inner().unwrap();
        prop_assert_eq!(inner.key, op.key);

        // Translate as a NAT does for the return direction (RFC 5508 §4.2).
        set_dst_addr(&mut f, &p, outer_dst).unwrap();
        set_inner_src_addr(&mut f, &p, inner_src).unwrap();
        let mut want = FlowKey { src: inner_src, ..op.key };
        match spec {
            Spec::Tcp { .. } | Spec::Udp { .. } => {
                set_inner_src_port(&mut f, &p, new_port).unwrap();
                want.src_port = new_port;
            }
            Spec::Echo { request, .. } => {
                set_inner_icmp_id(&mut f, &p, new_port).unwrap();
                if request { want.src_port = new_port } else { want.dst_port = new_port }
            }
        }
        let verified = naive::verify_frame(&f).map_err(TestCaseError::fail)?;
        prop_assert!(verified.iter().any(|v| v.starts_with("quoted")) || !src.is_ipv4());
        let p2 = parse_frame(&f).unwrap();
        prop_assert_eq!(p2.inner().unwrap().key, want);
        prop_assert_eq!(p2.key.dst, outer_dst);
    }

    #[test]
    fn mismatched_parsed_never_panics(
        which in 0..GOLDEN.len(),
        other in 0..GOLDEN.len(),
        offs in proptest::collection::vec(
            prop_oneof![0usize..200, any::<usize>(), Just(usize::MAX)], 6),
    ) {
        // A Parsed from one frame used on another, with offsets scrambled.
        let mut p = parse_frame(GOLDEN[which]).unwrap();
        p.l3_offset = offs[0];
        p.l4_offset = offs[1];
        p.payload_offset = offs[2];
        p.ip_len = offs[3];
        if let L4::IcmpError { inner, .. } = &mut p.l4 {
            inner.l3_offset = offs[4];
            inner.l4_offset = offs[5];
        }
        exercise(GOLDEN[other], &p);
    }

    #[test]
    fn symmetric_hash_is_symmetric(
        (src, dst) in prop_oneof![addr_pair(), (v4(), v6())],
        sp in any::<u16>(),
        dp in any::<u16>(),
        proto in any::<u8>(),
    ) {
        let k = FlowKey { src, dst, src_port: sp, dst_port: dp, proto };
        prop_assert_eq!(k.symmetric_hash(), k.reversed().symmetric_hash());
    }
}
