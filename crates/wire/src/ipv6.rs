//! IPv6 header view (RFC 8200 §3) and extension-header walk (RFC 8200 §4).

use std::net::Ipv6Addr;

use crate::bytes;
use crate::error::WireError;
use crate::proto;

/// Fixed header length.
pub const HEADER_LEN: usize = 40;

/// Walks give up after this many extension headers: no sane packet has more, and a
/// bound keeps the per-packet cost bounded.
pub const MAX_EXT_HEADERS: usize = 16;

/// Field offsets (RFC 8200 §3).
pub mod field {
    use std::ops::Range;
    /// Version (4 bits), traffic class (8), flow label (20).
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    /// Payload length (everything after the fixed header).
    pub const LENGTH: Range<usize> = 4..6;
    /// Next header.
    pub const NXT_HDR: usize = 6;
    /// Hop limit.
    pub const HOP_LIMIT: usize = 7;
    /// Source address.
    pub const SRC: Range<usize> = 8..24;
    /// Destination address.
    pub const DST: Range<usize> = 24..40;
}

/// A view of an IPv6 packet.
///
/// Both constructors prove the 40-byte header is present; [`Ipv6Packet::new_checked`]
/// also proves `40 + payload_len()` bytes are.
#[derive(Debug, Clone)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// A complete packet: header and `payload_len` bytes present (extra bytes ignored).
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let p = Self::new_checked_header(buffer)?;
        if HEADER_LEN + usize::from(p.payload_len()) > p.buffer.as_ref().len() {
            return Err(WireError::IpTotalLength);
        }
        Ok(p)
    }

    /// Only the fixed header present, as in the quote of an ICMPv6 error.
    pub fn new_checked_header(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        let first = *b.first().ok_or(WireError::IpTruncated)?;
        if first >> 4 != 6 {
            return Err(WireError::IpVersion {
                version: first >> 4,
            });
        }
        if b.len() < HEADER_LEN {
            return Err(WireError::IpTruncated);
        }
        Ok(Ipv6Packet { buffer })
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Version nibble (always 6 after the checks).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// Traffic class.
    pub fn traffic_class(&self) -> u8 {
        (bytes::be16(self.buffer.as_ref(), 0) >> 4) as u8
    }

    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        bytes::be32(self.buffer.as_ref(), 0) & 0x000f_ffff
    }

    /// Payload length field.
    pub fn payload_len(&self) -> u16 {
        bytes::be16(self.buffer.as_ref(), field::LENGTH.start)
    }

    /// Next header of the fixed header.
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NXT_HDR]
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        addr_at(self.buffer.as_ref(), field::SRC.start)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        addr_at(self.buffer.as_ref(), field::DST.start)
    }

    /// Payload (extension headers included) up to the payload length, or to the end of
    /// the buffer if that comes first.
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = (HEADER_LEN + usize::from(self.payload_len())).min(b.len());
        &b[HEADER_LEN..end]
    }

    /// Walks the extension headers of the payload; see [`walk_ext_headers`].
    pub fn walk_ext_headers(&self) -> Result<ExtHeaders, WireError> {
        walk_ext_headers(self.next_header(), self.payload())
    }
}

fn addr_at(b: &[u8], off: usize) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[off..off + 16]);
    Ipv6Addr::from(a)
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, h: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = h;
    }

    /// Sets the source address (L4 checksums not updated).
    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }

    /// Sets the destination address (L4 checksums not updated).
    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.octets());
    }
}

/// Writes a 40-byte header into `out[..40]`; `None` if `out` is shorter.
pub fn emit_header(
    out: &mut [u8],
    payload_len: u16,
    next_header: u8,
    hop_limit: u8,
    src: Ipv6Addr,
    dst: Ipv6Addr,
) -> Option<()> {
    let h = out.get_mut(..HEADER_LEN)?;
    h[0..4].copy_from_slice(&[0x60, 0, 0, 0]);
    h[4..6].copy_from_slice(&payload_len.to_be_bytes());
    h[6] = next_header;
    h[7] = hop_limit;
    h[8..24].copy_from_slice(&src.octets());
    h[24..40].copy_from_slice(&dst.octets());
    Some(())
}

/// The fragment header's fields (RFC 8200 §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentHeader {
    /// Fragment offset in bytes.
    pub offset: u16,
    /// M flag.
    pub more: bool,
    /// Identification.
    pub id: u32,
}

/// Result of an extension-header walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtHeaders {
    /// Protocol of the header at `offset`: the upper layer (TCP, UDP, ICMPv6, …), ESP
    /// (not walkable), no-next-header (59), or, for a non-first fragment, the fragment
    /// header's next header.
    pub upper: u8,
    /// Offset of that header from the start of the IPv6 payload.
    pub offset: usize,
    /// The fragment header, if one was crossed.
    pub fragment: Option<FragmentHeader>,
    /// Offset from the start of the IPv6 payload of the first routing header whose
    /// Segments Left is not zero (RFC 8200 §4.4): a node that does not process it
    /// answers with a parameter problem pointing at that field.
    pub unexpired_routing: Option<usize>,
}

/// Walks extension headers starting with `next_header` over `payload` (the bytes after
/// the fixed header) until an upper-layer header (RFC 8200 §4).
///
/// Walked: hop-by-hop (0, only first, §4.3), routing (43), fragment (44), destination
/// options (60), AH (51, length in 4-byte units per RFC 4302 §2.2). The walk stops at
/// ESP (50) and no-next-header (59), which are reported as `upper`, and after the
/// fragment header of a non-first fragment: its fragmentable part is not a header chain.
/// Every header must be fully present (RFC 7112 requires the whole chain in the first
/// fragment).
pub fn walk_ext_headers(next_header: u8, payload: &[u8]) -> Result<ExtHeaders, WireError> {
    let mut nh = next_header;
    let mut off = 0usize;
    let mut fragment = None;
    let mut unexpired_routing = None;
    for i in 0..=MAX_EXT_HEADERS {
        let len = match nh {
            proto::HOPOPT if i > 0 => return Err(WireError::Ipv6ExtensionHeader),
            proto::HOPOPT | proto::IPV6_ROUTE | proto::IPV6_OPTS => {
                let l = payload.get(off + 1).ok_or(WireError::Ipv6ExtensionHeader)?;
                (usize::from(*l) + 1) * 8
            }
            proto::AH => {
                let l = payload.get(off + 1).ok_or(WireError::Ipv6ExtensionHeader)?;
                (usize::from(*l) + 2) * 4
            }
            proto::IPV6_FRAG => 8,
            _ => {
                return Ok(ExtHeaders {
                    upper: nh,
                    offset: off,
                    fragment,
                    unexpired_routing,
                })
            }
        };
        if i == MAX_EXT_HEADERS {
            break;
        }
        let hdr = payload
            .get(off..off + len)
            .ok_or(WireError::Ipv6ExtensionHeader)?;
        let this = nh;
        if this == proto::IPV6_ROUTE && hdr[3] != 0 && unexpired_routing.is_none() {
            unexpired_routing = Some(off);
        }
        nh = hdr[0];
        off += len;
        if this == proto::IPV6_FRAG {
            let ow = bytes::be16(hdr, 2);
            let f = FragmentHeader {
                offset: ow & 0xfff8,
                more: ow & 1 != 0,
                id: bytes::be32(hdr, 4),
            };
            fragment = Some(f);
            if f.offset != 0 {
                return Ok(ExtHeaders {
                    upper: nh,
                    offset: off,
                    fragment,
                    unexpired_routing,
                });
            }
        }
    }
    Err(WireError::Ipv6ExtensionHeader)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_hbh_frag_udp() {
        let mut p = [0u8; 24];
        p[0] = 44; // HBH -> frag
        p[1] = 0; // 8 bytes
        p[8] = 17; // frag -> UDP
        p[10..12].copy_from_slice(&[0x00, 0x01]); // offset 0, M
        p[12..16].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        let w = walk_ext_headers(0, &p).unwrap();
        assert_eq!(w.upper, 17);
        assert_eq!(w.offset, 16);
        assert_eq!(
            w.fragment,
            Some(FragmentHeader {
                offset: 0,
                more: true,
                id: 0xdeadbeef
            })
        );
        // Hop-by-hop not first.
        assert_eq!(
            walk_ext_headers(60, &[0u8, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(WireError::Ipv6ExtensionHeader)
        );
        // Truncated.
        assert_eq!(
            walk_ext_headers(0, &p[..7]),
            Err(WireError::Ipv6ExtensionHeader)
        );
        // A routing header with segments left, after a destination options header.
        let mut r = [0u8; 24];
        r[0] = 43;
        r[8] = 17;
        r[8 + 1] = 1;
        r[8 + 3] = 2;
        let w = walk_ext_headers(60, &r).unwrap();
        assert_eq!((w.upper, w.offset, w.unexpired_routing), (17, 24, Some(8)));
        r[8 + 3] = 0;
        assert_eq!(walk_ext_headers(60, &r).unwrap().unexpired_routing, None);
        // ESP stops the walk.
        assert_eq!(walk_ext_headers(50, &[]).unwrap().upper, 50);
    }

    #[test]
    fn walk_bounded() {
        let mut p = [60u8; 8 * (MAX_EXT_HEADERS + 2)];
        for c in p.chunks_mut(8) {
            c[1] = 0;
        }
        assert_eq!(
            walk_ext_headers(60, &p),
            Err(WireError::Ipv6ExtensionHeader)
        );
        // Exactly MAX headers then UDP is fine.
        let mut q = [60u8; 8 * MAX_EXT_HEADERS];
        for c in q.chunks_mut(8) {
            c[1] = 0;
        }
        q[8 * (MAX_EXT_HEADERS - 1)] = 17;
        let w = walk_ext_headers(60, &q).unwrap();
        assert_eq!((w.upper, w.offset), (17, 8 * MAX_EXT_HEADERS));
    }
}
