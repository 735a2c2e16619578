//! Cutting an IPv6 packet the engine made into fragments (RFC 8200 §4.5): a translated
//! NAT64 packet too big for the IPv6 link (RFC 7915 §4, §4.1) or a DS-Lite tunnel
//! packet over the tunnel MTU (RFC 6333 §5.3, RFC 2473 §7).
//!
//! The packet is the fixed IPv6 header followed either by the fragmentable part or by a
//! fragment header and the fragmentable part (a packet that is itself a fragment, e.g.
//! the translation of an IPv4 fragment, RFC 7915 §4.1): no other extension header. A
//! fragment of a fragment keeps its identification, its offsets are shifted by its own
//! offset, and only its last piece keeps its M flag. Nothing allocates: one fragment is
//! written at a time into the caller's buffer.

use crate::bytes;
use crate::error::WireError;
use crate::ipv6::HEADER_LEN;
use crate::proto;

/// Length of the fragment header.
pub const FRAGMENT_HEADER_LEN: usize = 8;

/// Fragmentable bytes per fragment at `mtu`: what is left after the fixed and fragment
/// headers, a multiple of 8 (RFC 8200 §4.5). `None` for an MTU with no room for 8.
pub fn ipv6_fragment_room(mtu: usize) -> Option<usize> {
    let room = mtu.checked_sub(HEADER_LEN + FRAGMENT_HEADER_LEN)? & !7;
    (room >= 8).then_some(room)
}

/// What fragmenting needs of a packet.
struct Parts<'a> {
    /// Next header of the fragmentable part.
    next: u8,
    /// Its offset in bytes in the original packet (0 unless already a fragment).
    base: u16,
    /// The M flag of a packet already a fragment.
    more: bool,
    /// The identification of a packet already a fragment.
    id: Option<u32>,
    /// The fragmentable part.
    body: &'a [u8],
}

fn split(pkt: &[u8]) -> Result<Parts<'_>, WireError> {
    if pkt.len() < HEADER_LEN || pkt[0] >> 4 != 6 {
        return Err(WireError::IpTruncated);
    }
    let payload = usize::from(bytes::get16(pkt, 4).ok_or(WireError::IpTruncated)?);
    let end = HEADER_LEN + payload;
    if end > pkt.len() {
        return Err(WireError::IpTotalLength);
    }
    if pkt[6] != proto::IPV6_FRAG {
        return Ok(Parts {
            next: pkt[6],
            base: 0,
            more: false,
            id: None,
            body: &pkt[HEADER_LEN..end],
        });
    }
    let fh = pkt
        .get(HEADER_LEN..HEADER_LEN + FRAGMENT_HEADER_LEN)
        .filter(|_| end >= HEADER_LEN + FRAGMENT_HEADER_LEN)
        .ok_or(WireError::Ipv6ExtensionHeader)?;
    let word = u16::from_be_bytes([fh[2], fh[3]]);
    Ok(Parts {
        next: fh[0],
        base: word & !7,
        more: word & 1 != 0,
        id: Some(u32::from_be_bytes([fh[4], fh[5], fh[6], fh[7]])),
        body: &pkt[HEADER_LEN + FRAGMENT_HEADER_LEN..end],
    })
}

/// How many fragments [`ipv6_fragment`] makes of `pkt` at `mtu` (0 when it fits as it is
/// or cannot be cut).
pub fn ipv6_fragment_count(pkt: &[u8], mtu: usize) -> usize {
    let (Ok(parts), Some(room)) = (split(pkt), ipv6_fragment_room(mtu)) else {
        return 0;
    };
    if pkt.len() <= mtu {
        return 0;
    }
    parts.body.len().div_ceil(room)
}

/// Writes fragment `k` (from 0) of the IPv6 packet `pkt`, cut for `mtu`, into `out`;
/// returns its length, or `None` past the last fragment. `id` is the identification of a
/// packet that is not already a fragment (a fragment keeps its own). The fixed header is
/// copied (hop limit and traffic class included) with its payload length and next header
/// changed.
pub fn ipv6_fragment(
    pkt: &[u8],
    mtu: usize,
    id: u32,
    k: usize,
    out: &mut [u8],
) -> Result<Option<usize>, WireError> {
    let Parts {
        next,
        base,
        more,
        id: own_id,
        body,
    } = split(pkt)?;
    let room = ipv6_fragment_room(mtu).ok_or(WireError::BufferTooSmall {
        needed: HEADER_LEN + FRAGMENT_HEADER_LEN + 8,
    })?;
    let start = k.saturating_mul(room);
    if start >= body.len() {
        return Ok(None);
    }
    let end = (start + room).min(body.len());
    let offset = usize::from(base) + start;
    // The offset field holds 13 bits of 8-byte units.
    let offset = u16::try_from(offset)
        .ok()
        .filter(|o| *o <= 0xfff8)
        .ok_or(WireError::IpTotalLength)?;
    let n = HEADER_LEN + FRAGMENT_HEADER_LEN + (end - start);
    let o = out
        .get_mut(..n)
        .ok_or(WireError::BufferTooSmall { needed: n })?;
    o[..HEADER_LEN].copy_from_slice(&pkt[..HEADER_LEN]);
    let payload = (FRAGMENT_HEADER_LEN + end - start) as u16;
    bytes::set_be16(o, 4, payload);
    o[6] = proto::IPV6_FRAG;
    let m = end < body.len() || more;
    let f = &mut o[HEADER_LEN..HEADER_LEN + FRAGMENT_HEADER_LEN];
    f[0] = next;
    f[1] = 0;
    f[2..4].copy_from_slice(&(offset | u16::from(m)).to_be_bytes());
    f[4..8].copy_from_slice(&own_id.unwrap_or(id).to_be_bytes());
    o[HEADER_LEN + FRAGMENT_HEADER_LEN..].copy_from_slice(&body[start..end]);
    Ok(Some(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(next: u8, body_len: usize) -> Vec<u8> {
        let mut p = vec![0u8; HEADER_LEN];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&(body_len as u16).to_be_bytes());
        p[6] = next;
        p[7] = 63;
        p.extend((0..body_len).map(|i| i as u8));
        p
    }

    #[test]
    fn cuts_in_multiples_of_eight_and_marks_the_last() {
        let p = packet(17, 3000);
        assert_eq!(ipv6_fragment_count(&p, 1500), 3);
        let mut out = [0u8; 1500];
        let mut got = Vec::new();
        let mut k = 0;
        while let Some(n) = ipv6_fragment(&p, 1500, 0x1234, k, &mut out).unwrap() {
            assert!(n <= 1500);
            let word = u16::from_be_bytes([out[42], out[43]]);
            got.push((n, word & !7, word & 1, out[40], out[6], out[7]));
            k += 1;
        }
        assert_eq!(
            got,
            [
                (1496, 0, 1, 17, 44, 63),
                (1496, 1448, 1, 17, 44, 63),
                (48 + 104, 2896, 0, 17, 44, 63)
            ]
        );
    }

    #[test]
    fn a_fragment_keeps_its_id_offset_and_flag() {
        let mut p = packet(44, 8 + 2000);
        p[40] = 6;
        p[42..44].copy_from_slice(&(800u16 | 1).to_be_bytes());
        p[44..48].copy_from_slice(&7u32.to_be_bytes());
        let mut out = [0u8; 1500];
        let n = ipv6_fragment(&p, 1500, 99, 1, &mut out).unwrap().unwrap();
        assert_eq!(n, 48 + 2000 - 1448);
        assert_eq!(u16::from_be_bytes([out[42], out[43]]), (800 + 1448) | 1);
        assert_eq!(u32::from_be_bytes([out[44], out[45], out[46], out[47]]), 7);
        assert_eq!(out[40], 6);
        assert_eq!(ipv6_fragment(&p, 1500, 99, 2, &mut out).unwrap(), None);
    }

    #[test]
    fn bad_input_is_an_error() {
        let mut out = [0u8; 1500];
        assert!(ipv6_fragment(&[0x60; 20], 1500, 0, 0, &mut out).is_err());
        let mut p = packet(17, 100);
        p[4] = 9;
        assert!(ipv6_fragment(&p, 1500, 0, 0, &mut out).is_err());
        assert!(ipv6_fragment(&packet(17, 100), 40, 0, 0, &mut out).is_err());
        assert!(ipv6_fragment(&packet(44, 4), 1500, 0, 0, &mut out).is_err());
    }
}
