//! Any bytes: parse, verify checksums, and try every rewrite and reply builder; parse
//! neighbor discovery and rebuild what parses.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mspic_wire::{build, nd, parse, rewrite, IcmpErrorKind};

fuzz_target!(|data: &[u8]| {
    let _ = nd::classify_local(data);
    if let Ok(m) = nd::Nd::parse(data) {
        let mut b = [0u8; nd::MAX_FRAME_LEN];
        let n = m.write([2; 6], [3; 6], &mut b).expect("fits");
        assert_eq!(nd::Nd::parse(&b[..n]), Ok(m), "parse(build(x)) == x");
        let _ = m.answer(m.target, [2; 6]).write([2; 6], [3; 6], &mut b);
    }
    let Ok(p) = parse::parse_frame(data) else { return };
    let _ = parse::l4_checksum_ok(data, &p);
    let mut f = data.to_vec();
    let a = p.key.dst;
    let _ = rewrite::set_src_addr(&mut f, &p, a);
    let _ = rewrite::set_src_port(&mut f, &p, 1234);
    let _ = rewrite::set_icmp_query_id(&mut f, &p, 7);
    let _ = rewrite::set_inner_src_addr(&mut f, &p, a);
    let _ = rewrite::set_inner_dst_port(&mut f, &p, 9);
    let _ = rewrite::decrement_ttl(&mut f, &p);
    let _ = rewrite::clamp_tcp_mss(&mut f, &p, 536);
    let mut out = [0u8; 2048];
    let _ = build::tcp_rst(data, &p, &mut out);
    let _ = build::icmp_error(data, &p, IcmpErrorKind::AdminProhibited, p.key.dst, &mut out);
});
