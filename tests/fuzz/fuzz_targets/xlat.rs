//! Any IP packet through the RFC 7915 translator, the way its version says, into a buffer
//! of any size: an answer, never a panic. What it translates is a whole packet of the
//! other family (an IPv4 header checksum that verifies), and translating that back does
//! not panic either.
//!
//! The IPv6 side also goes through fragmentation and reassembly (`wire::fragment`,
//! `wire::reassembly`): any bytes into the reassembler are an answer, never a panic, and
//! a translated packet cut into fragments comes back whole and the same, in order or
//! not.
#![no_main]
use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use mspic_wire::fragment::ipv6_fragment;
use mspic_wire::ipv4::Ipv4Packet;
use mspic_wire::ipv6::Ipv6Packet;
use mspic_wire::reassembly::Ipv6Reassembler;
use mspic_wire::xlat::{self, Endpoints, Params, Rewrite, WELL_KNOWN_PREFIX};

const POOL: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 130);
const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

fuzz_target!(|data: &[u8]| {
    let client6 = "2001:db8::2".parse().unwrap();
    let server6 = WELL_KNOWN_PREFIX.embed(SERVER);
    let rw4 = Rewrite {
        outer: Endpoints {
            src_port: Some(1024),
            icmp_id: Some(1024),
            ..Endpoints::addrs(POOL, SERVER)
        },
        inner: Some(Endpoints {
            dst_port: Some(1024),
            ..Endpoints::addrs(SERVER, POOL)
        }),
    };
    let rw6 = Rewrite {
        outer: Endpoints {
            dst_port: Some(40000),
            icmp_id: Some(40000),
            ..Endpoints::addrs(server6, client6)
        },
        inner: Some(Endpoints {
            src_port: Some(40000),
            ..Endpoints::addrs(client6, server6)
        }),
    };
    let params = Params::default();
    let mut out = [0u8; 2048];
    let mut back = [0u8; 2048];
    let short = (data.len() / 2).min(out.len());
    match data.first().map(|b| b >> 4) {
        Some(6) => {
            let mut r = Ipv6Reassembler::new();
            let _ = r.add(0, data, &mut out[..short]);
            let _ = r.add(1, data, &mut out);
            let _ = xlat::ipv6_to_ipv4(data, &mut out[..short], &rw4, &params);
            if let Ok(n) = xlat::ipv6_to_ipv4(data, &mut out, &rw4, &params) {
                let p = Ipv4Packet::new_checked(&out[..n]).expect("a whole IPv4 packet");
                assert!(p.verify_checksum(), "IPv4 header checksum");
                let _ = xlat::ipv4_to_ipv6(&out[..n], &mut back, &rw6, &params);
            }
        }
        Some(4) => {
            let _ = xlat::ipv4_to_ipv6(data, &mut out[..short], &rw6, &params);
            if let Ok(n) = xlat::ipv4_to_ipv6(data, &mut out, &rw6, &params) {
                Ipv6Packet::new_checked(&out[..n]).expect("a whole IPv6 packet");
                let _ = xlat::ipv6_to_ipv4(&out[..n], &mut back, &rw4, &params);
                round_trip(&out[..n], 256 + usize::from(data[data.len() - 1]));
            }
        }
        _ => {}
    }
});

/// `packet` (a translator's output) cut for `mtu` and reassembled, last fragment first:
/// the same packet, unless it was already a fragment or has too many pieces.
fn round_trip(packet: &[u8], mtu: usize) {
    let mut pieces = Vec::new();
    let mut buf = [0u8; 2048];
    for k in 0.. {
        match ipv6_fragment(packet, mtu, 7, k, &mut buf) {
            Ok(Some(n)) => pieces.push(buf[..n].to_vec()),
            Ok(None) => break,
            Err(_) => return,
        }
    }
    if packet[6] == 44 || pieces.len() > mspic_wire::reassembly::MAX_PIECES {
        return;
    }
    let mut r = Ipv6Reassembler::new();
    let mut whole = [0u8; 4096];
    let mut done = None;
    for p in pieces.iter().rev() {
        assert!(p.len() <= mtu, "fragment over the MTU");
        done = r.add(0, p, &mut whole).expect("own fragments are taken");
    }
    let n = done.expect("all fragments make the packet");
    assert_eq!(&whole[..n], packet, "reassembled as cut");
}
