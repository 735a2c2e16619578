//! Fragments across the translation: the IPv6 fragment header ↔ the IPv4 fragment
//! fields, one fragment at a time (no reassembly).

use crate::bytes;
use crate::ipv4::{Ipv4Packet, FLAG_DF, FLAG_MF};
use crate::ipv6::FragmentHeader;
use crate::proto;

/// Length of the IPv6 fragment header (RFC 8200 §4.5).
pub(super) const HEADER_LEN: usize = 8;

/// Largest IPv4 packet sent without DF: it still fits the IPv6 minimum MTU once
/// translated back (RFC 7915 §5.1, "Flags").
const DF_THRESHOLD: usize = 1260;

/// Identification and flags/offset word of the IPv4 header made from an IPv6 packet:
/// from its fragment header (§5.1.1: low 16 bits of the id, MF copied, DF clear), or for
/// an unfragmented packet the translator's `ident` and DF set above 1260 bytes (§5.1).
pub(super) fn ipv4_fields(
    frag: Option<FragmentHeader>,
    total_len: usize,
    ident: u16,
) -> (u16, u16) {
    match frag {
        Some(f) => {
            let mf = if f.more { FLAG_MF } else { 0 };
            (f.id as u16, (f.offset >> 3) | mf)
        }
        None => {
            let df = if total_len > DF_THRESHOLD { FLAG_DF } else { 0 };
            (ident, df)
        }
    }
}

/// The fragment header an IPv4 fragment gets (§4.1.1): `next` is the translated
/// protocol, offset and M copied, the identification's low 16 bits from IPv4 and high
/// 16 bits zero. `None` for a packet that is not a fragment (§4.1: no header is added).
pub(super) fn ipv6_header(p: &Ipv4Packet<&[u8]>, next: u8) -> Option<[u8; HEADER_LEN]> {
    if !p.is_fragment() {
        return None;
    }
    let mut h = [0u8; HEADER_LEN];
    h[0] = next;
    bytes::set_be16(&mut h, 2, p.frag_offset() | u16::from(p.more_frags()));
    bytes::set_be32(&mut h, 4, u32::from(p.ident()));
    Some(h)
}

/// The next header of a translated IPv4 packet: the fragment header if it gets one.
pub(super) fn ipv6_next(fh: Option<&[u8; HEADER_LEN]>, upper: u8) -> u8 {
    fh.map_or(upper, |_| proto::IPV6_FRAG)
}
