//! `clamp_tcp_mss`: SYNs built by etherparse with their MSS option at even and odd offsets
//! of the TCP header, clamped in place, compared with the same SYN built with the lower
//! MSS; non-SYNs, smaller MSS values and option lists without MSS stay untouched.

use etherparse::{PacketBuilder, TcpOptionElement as Opt};
use mspic_wire::parse_frame;
use mspic_wire::rewrite::clamp_tcp_mss;

use super::gen::{MAC_A, MAC_B};
use super::naive::{assert_frames_eq, verify_frame};

fn segment(opts: &[Opt], syn: bool, ack: bool) -> Vec<u8> {
    let mut t = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4([10, 0, 0, 2], [198, 51, 100, 7], 64)
        .tcp(40000, 443, 7, 64240);
    if syn {
        t = t.syn();
    }
    if ack {
        t = t.ack(99);
    }
    let t = t.options(opts).unwrap();
    let mut v = Vec::new();
    t.write(&mut v, b"").unwrap();
    v
}

/// Option lists whose MSS value lands at an even or an odd offset of the TCP header.
fn layouts(mss: u16) -> Vec<(&'static str, Vec<Opt>)> {
    vec![
        (
            "mss first",
            vec![
                Opt::MaximumSegmentSize(mss),
                Opt::SelectiveAcknowledgementPermitted,
            ],
        ),
        (
            "after a nop (odd offset)",
            vec![
                Opt::Noop,
                Opt::MaximumSegmentSize(mss),
                Opt::Noop,
                Opt::Noop,
                Opt::Noop,
            ],
        ),
        (
            "after window scale (odd offset)",
            vec![Opt::WindowScale(7), Opt::MaximumSegmentSize(mss), Opt::Noop],
        ),
        (
            "after timestamps",
            vec![
                Opt::Noop,
                Opt::Noop,
                Opt::Timestamp(1, 2),
                Opt::MaximumSegmentSize(mss),
            ],
        ),
    ]
}

#[test]
fn syn_and_syn_ack_mss_lowered_with_valid_checksums() {
    for ack in [false, true] {
        for ((name, opts), (_, want_opts)) in layouts(1460).into_iter().zip(layouts(1400)) {
            let mut f = segment(&opts, true, ack);
            let p = parse_frame(&f).unwrap();
            assert_eq!(
                clamp_tcp_mss(&mut f, &p, 1400).unwrap(),
                Some(1460),
                "{name}"
            );
            let want = segment(&want_opts, true, ack);
            assert_frames_eq(name, &f, &want);
            verify_frame(&f).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

#[test]
fn left_alone_when_not_needed() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "mss already lower",
            segment(&[Opt::MaximumSegmentSize(1200)], true, false),
        ),
        (
            "mss equal",
            segment(&[Opt::MaximumSegmentSize(1400)], true, false),
        ),
        ("not a syn", segment(&[Opt::Timestamp(1, 2)], false, true)),
        (
            "no mss option",
            segment(
                &[Opt::WindowScale(7), Opt::Noop, Opt::Noop, Opt::Noop],
                true,
                false,
            ),
        ),
        ("no options", segment(&[], true, false)),
    ];
    for (name, f) in cases {
        let mut g = f.clone();
        let p = parse_frame(&g).unwrap();
        assert_eq!(clamp_tcp_mss(&mut g, &p, 1400).unwrap(), None, "{name}");
        assert_eq!(g, f, "{name}: changed");
    }
}

#[test]
fn malformed_option_lists_are_left_alone() {
    // A SYN whose option length byte points past the header: kind 8 with length 40.
    let mut f = segment(&[Opt::Noop, Opt::Noop, Opt::Noop, Opt::Noop], true, false);
    let p = parse_frame(&f).unwrap();
    let opts = p.l4_offset + 20;
    f[opts] = 8;
    f[opts + 1] = 40;
    let before = f.clone();
    let p = parse_frame(&f).unwrap();
    assert_eq!(clamp_tcp_mss(&mut f, &p, 536).unwrap(), None);
    assert_eq!(f, before);
}

proptest::proptest! {
    /// Wherever the option sits and whatever the values, the result asks for
    /// `min(mss, max)` and every checksum holds.
    #[test]
    fn clamped_mss_is_the_minimum_and_checksums_hold(
        nops in 0usize..4,
        ws in proptest::option::of(0u8..15),
        mss in 1u16..,
        max in 536u16..,
        ack in proptest::bool::ANY,
    ) {
        let mut opts = vec![Opt::Noop; nops];
        if let Some(w) = ws {
            opts.push(Opt::WindowScale(w));
        }
        opts.push(Opt::MaximumSegmentSize(mss));
        let mut f = segment(&opts, true, ack);
        let p = parse_frame(&f).unwrap();
        let r = clamp_tcp_mss(&mut f, &p, max).unwrap();
        proptest::prop_assert_eq!(r, (mss > max).then_some(mss));
        let mut want = opts.clone();
        *want.last_mut().unwrap() = Opt::MaximumSegmentSize(mss.min(max));
        proptest::prop_assert_eq!(&f, &segment(&want, true, ack));
        proptest::prop_assert!(verify_frame(&f).is_ok());
    }
}
