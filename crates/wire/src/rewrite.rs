//! In-place header rewrites for NAT and forwarding, with incremental checksum fixes
//! (RFC 1624 eqn. 3, see [`crate::checksum`]).
//!
//! Every function takes the frame and the [`Parsed`] that [`crate::parse::parse_frame`]
//! returned for it. The offsets in `p` stay valid after a rewrite (no header changes
//! length), so several rewrites can be applied in a row with the same `p`; but `p.key`
//! and the rewritten L4 fields then describe the packet as received (stale).
//!
//! Checksums touched:
//! - IPv4 header checksum for IPv4 address and TTL changes;
//! - TCP, UDP and ICMPv6 checksums for address changes (pseudo header) and for their own
//!   fields; a UDP checksum of 0 ("none") stays 0, and a recomputed 0 is sent as 0xffff
//!   (RFC 768);
//! - the ICMPv4 checksum has no pseudo header, so address changes leave it alone;
//! - GRE and other protocols' checksums do not cover the IP addresses.
//!
//! Non-first fragments carry no L4 header: only the IP header is touched. First
//! fragments get their L4 checksum fixed incrementally, which is exact even though the
//! checksum covers the whole datagram.
//!
//! If `p` does not describe `frame`, the functions return [`WireError::OutOfBounds`]
//! rather than panic (the frame may then be partly rewritten).

use std::net::IpAddr;

use crate::bytes;
use crate::checksum;
use crate::error::WireError;
use crate::icmp::{self, IcmpClass};
use crate::parse::{Fragment, InnerPacket, IpVersion, Parsed, L4};
use crate::proto;

fn rd16(frame: &[u8], off: usize) -> Result<u16, WireError> {
    bytes::get16(frame, off).ok_or(WireError::OutOfBounds)
}

/// Kind of checksum at an offset, for the UDP zero rule.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Csum {
    Plain,
    Udp,
}

/// Applies a change of covered bytes `old` → `new` to the checksum at `off`. Returns
/// the (old, new) checksum values so enclosing checksums can follow.
fn fix(
    frame: &mut [u8],
    off: usize,
    kind: Csum,
    old: &[u8],
    new: &[u8],
) -> Result<(u16, u16), WireError> {
    let c = rd16(frame, off)?;
    if old == new || (kind == Csum::Udp && c == 0) {
        return Ok((c, c));
    }
    let mut n = checksum::update_bytes(c, old, new);
    if kind == Csum::Udp && n == 0 {
        n = 0xffff;
    }
    bytes::put16(frame, off, n)?;
    Ok((c, n))
}

fn fix16(
    frame: &mut [u8],
    off: usize,
    kind: Csum,
    old: u16,
    new: u16,
) -> Result<(u16, u16), WireError> {
    fix(frame, off, kind, &old.to_be_bytes(), &new.to_be_bytes())
}

/// Writes `new` at `off` and returns the previous bytes (up to 16).
fn swap_bytes(frame: &mut [u8], off: usize, new: &[u8]) -> Result<[u8; 16], WireError> {
    let dst = frame
        .get_mut(off..off + new.len())
        .ok_or(WireError::OutOfBounds)?;
    let mut old = [0u8; 16];
    old.get_mut(..new.len())
        .ok_or(WireError::OutOfBounds)?
        .copy_from_slice(dst);
    dst.copy_from_slice(new);
    Ok(old)
}

/// Offset and kind of the L4 checksum that covers the pseudo header, if this packet has
/// one in the frame.
fn pseudo_csum(p: &Parsed) -> Option<(usize, Csum)> {
    if p.is_later_fragment() {
        return None;
    }
    match (p.version, &p.l4) {
        (_, L4::Tcp { .. }) => Some((p.l4_offset + 16, Csum::Plain)),
        (_, L4::Udp) => Some((p.l4_offset + 6, Csum::Udp)),
        (IpVersion::V6, L4::IcmpQuery { .. } | L4::IcmpError { .. } | L4::IcmpOther { .. }) => {
            Some((p.l4_offset + 2, Csum::Plain))
        }
        _ => None,
    }
}

fn check_frame(frame: &[u8], p: &Parsed) -> Result<(), WireError> {
    if p.fits(frame) {
        Ok(())
    } else {
        Err(WireError::OutOfBounds)
    }
}

#[derive(Clone, Copy)]
enum Dir {
    Src,
    Dst,
}

fn set_addr(frame: &mut [u8], p: &Parsed, dir: Dir, addr: IpAddr) -> Result<(), WireError> {
    check_frame(frame, p)?;
    let l3 = p.l3_offset;
    let mut buf = [0u8; 16];
    let (off, n) = match (p.version, addr) {
        (IpVersion::V4, IpAddr::V4(a)) => {
            buf[..4].copy_from_slice(&a.octets());
            (l3 + if matches!(dir, Dir::Src) { 12 } else { 16 }, 4)
        }
        (IpVersion::V6, IpAddr::V6(a)) => {
            buf.copy_from_slice(&a.octets());
            (l3 + if matches!(dir, Dir::Src) { 8 } else { 24 }, 16)
        }
        _ => return Err(WireError::FamilyMismatch),
    };
    let new = &buf[..n];
    let old = swap_bytes(frame, off, new)?;
    let old = &old[..n];
    if p.version == IpVersion::V4 {
        // RFC 791 header checksum.
        fix(frame, l3 + 10, Csum::Plain, old, new)?;
    }
    if let Some((c, kind)) = pseudo_csum(p) {
        fix(frame, c, kind, old, new)?;
    }
    Ok(())
}

/// Rewrites the IP source address (same family as the packet).
pub fn set_src_addr(frame: &mut [u8], p: &Parsed, addr: IpAddr) -> Result<(), WireError> {
    set_addr(frame, p, Dir::Src, addr)
}

/// Rewrites the IP destination address (same family as the packet).
pub fn set_dst_addr(frame: &mut [u8], p: &Parsed, addr: IpAddr) -> Result<(), WireError> {
    set_addr(frame, p, Dir::Dst, addr)
}

fn set_port(frame: &mut [u8], p: &Parsed, dir: Dir, port: u16) -> Result<(), WireError> {
    check_frame(frame, p)?;
    let (csum, kind) = match p.l4 {
        L4::Tcp { .. } => (p.l4_offset + 16, Csum::Plain),
        L4::Udp => (p.l4_offset + 6, Csum::Udp),
        _ => return Err(WireError::NoPorts),
    };
    let off = match dir {
        Dir::Src => p.l4_offset,
        Dir::Dst => p.l4_offset + 2,
    };
    let old = rd16(frame, off)?;
    bytes::put16(frame, off, port)?;
    fix16(frame, csum, kind, old, port)?;
    Ok(())
}

/// Rewrites the TCP/UDP source port ([`WireError::NoPorts`] for anything else,
/// including GRE and SCTP, whose CRC32c cannot be updated incrementally).
pub fn set_src_port(frame: &mut [u8], p: &Parsed, port: u16) -> Result<(), WireError> {
    set_port(frame, p, Dir::Src, port)
}

/// Rewrites the TCP/UDP destination port (see [`set_src_port`]).
pub fn set_dst_port(frame: &mut [u8], p: &Parsed, port: u16) -> Result<(), WireError> {
    set_port(frame, p, Dir::Dst, port)
}

/// Rewrites the identifier of an ICMP/ICMPv6 query, fixing the ICMP checksum.
pub fn set_icmp_query_id(frame: &mut [u8], p: &Parsed, id: u16) -> Result<(), WireError> {
    check_frame(frame, p)?;
    if !matches!(p.l4, L4::IcmpQuery { .. }) {
        return Err(WireError::NotIcmpQuery);
    }
    let off = p.l4_offset + 4;
    let old = rd16(frame, off)?;
    bytes::put16(frame, off, id)?;
    fix16(frame, p.l4_offset + 2, Csum::Plain, old, id)?;
    Ok(())
}

/// Decrements the TTL / hop limit (RFC 1812 §5.3.1, RFC 8200 §3) and returns the new
/// value. [`WireError::TtlExpired`] when it is ≤ 1, leaving the frame unchanged (the
/// caller then sends time exceeded). IPv4: the header checksum is fixed incrementally
/// over the TTL/protocol word; IPv6 has no header checksum.
pub fn decrement_ttl(frame: &mut [u8], p: &Parsed) -> Result<u8, WireError> {
    check_frame(frame, p)?;
    let off = match p.version {
        IpVersion::V4 => p.l3_offset + 8,
        IpVersion::V6 => p.l3_offset + 7,
    };
    let ttl = *frame.get(off).ok_or(WireError::OutOfBounds)?;
    if ttl <= 1 {
        return Err(WireError::TtlExpired);
    }
    match p.version {
        IpVersion::V4 => {
            let old = rd16(frame, off)?;
            let new = old - 0x0100;
            rd16(frame, p.l3_offset + 10)?;
            bytes::put16(frame, off, new)?;
            fix16(frame, p.l3_offset + 10, Csum::Plain, old, new)?;
        }
        IpVersion::V6 => {
            if let Some(b) = frame.get_mut(off) {
                *b = ttl - 1;
            }
        }
    }
    Ok(ttl - 1)
}

/// Sets the Ethernet destination and source MACs.
pub fn set_macs(frame: &mut [u8], dst: [u8; 6], src: [u8; 6]) -> Result<(), WireError> {
    let h = frame.get_mut(..12).ok_or(WireError::EthernetTruncated)?;
    h[..6].copy_from_slice(&dst);
    h[6..].copy_from_slice(&src);
    Ok(())
}

/// Rewrites the GRE key (RFC 2890 §2.1), fixing the GRE checksum if present
/// (RFC 2784 §2.5). [`WireError::NoGreField`] if the packet has no key.
pub fn set_gre_key(frame: &mut [u8], p: &Parsed, key: u32) -> Result<(), WireError> {
    check_frame(frame, p)?;
    if !matches!(p.l4, L4::Gre { key: Some(_), .. }) {
        return Err(WireError::NoGreField);
    }
    let l4 = p.l4_offset;
    let flags = rd16(frame, l4)?;
    let has_csum_word = flags & (crate::gre::FLAG_C | crate::gre::FLAG_R) != 0;
    let off = l4 + crate::gre::BASE_LEN + if has_csum_word { 4 } else { 0 };
    let old = swap_bytes(frame, off, &key.to_be_bytes())?;
    if flags & crate::gre::FLAG_C != 0 {
        fix(frame, l4 + 4, Csum::Plain, &old[..4], &key.to_be_bytes())?;
    }
    Ok(())
}

/// Rewrites the call id of an enhanced GRE (version 1) packet, the low half of the key
/// (RFC 2637 §4.1); used by PPTP NAT. Version 1 has no checksum (its C bit is 0), so
/// nothing else changes; a packet that sets C anyway gets its checksum fixed.
pub fn set_gre_call_id(frame: &mut [u8], p: &Parsed, call_id: u16) -> Result<(), WireError> {
    let key = match p.l4 {
        L4::Gre {
            version: 1,
            key: Some(k),
            ..
        } => k,
        _ => return Err(WireError::NoGreField),
    };
    set_gre_key(frame, p, (key & 0xffff_0000) | u32::from(call_id))
}

// ---------------------------------------------------------------------------------
// ICMP error payload translation (RFC 5508 §4.2 and RFC 5382 §5 / RFC 4787 §9 for the
// v4 cases): the quoted packet is rewritten like the packet it quotes would have been,
// its IPv4 header checksum and (when present) its L4 checksum are fixed, and every
// change of a byte inside the ICMP message is folded into the outer ICMP checksum.
// ---------------------------------------------------------------------------------

fn inner_of(p: &Parsed) -> Result<&InnerPacket, WireError> {
    p.inner().ok_or(WireError::NotIcmpError)
}

/// Offset and kind of the quoted packet's L4 checksum when it covers the pseudo header
/// and lies wholly inside the quote; `None` if absent or cut off.
fn inner_pseudo_csum(p: &Parsed, inner: &InnerPacket) -> Option<(usize, Csum)> {
    if let Fragment::Later { .. } = inner.fragment {
        return None;
    }
    let (off, kind) = match (p.version, inner.key.proto) {
        (_, proto::TCP) => (inner.l4_offset + 16, Csum::Plain),
        (_, proto::UDP) => (inner.l4_offset + 6, Csum::Udp),
        (IpVersion::V6, proto::ICMPV6) => (inner.l4_offset + 2, Csum::Plain),
        _ => return None,
    };
    (off + 2 <= p.ip_end()).then_some((off, kind))
}

/// Changes bytes inside the ICMP message at `off` and folds the change into the outer
/// ICMP checksum.
fn icmp_body_write(frame: &mut [u8], p: &Parsed, off: usize, new: &[u8]) -> Result<(), WireError> {
    let old = swap_bytes(frame, off, new)?;
    fix(frame, p.l4_offset + 2, Csum::Plain, &old[..new.len()], new)?;
    Ok(())
}

/// Applies a change of bytes to a checksum *inside* the ICMP message (quoted IP header
/// or quoted L4 checksum), then folds that checksum's change into the outer one.
fn icmp_body_fix(
    frame: &mut [u8],
    p: &Parsed,
    csum_off: usize,
    kind: Csum,
    old: &[u8],
    new: &[u8],
) -> Result<(), WireError> {
    let (c_old, c_new) = fix(frame, csum_off, kind, old, new)?;
    fix16(frame, p.l4_offset + 2, Csum::Plain, c_old, c_new)?;
    Ok(())
}

fn set_inner_addr(frame: &mut [u8], p: &Parsed, dir: Dir, addr: IpAddr) -> Result<(), WireError> {
    check_frame(frame, p)?;
    let inner = *inner_of(p)?;
    let l3 = inner.l3_offset;
    let mut buf = [0u8; 16];
    let (off, n) = match (p.version, addr, dir) {
        (IpVersion::V4, IpAddr::V4(a), d) => {
            buf[..4].copy_from_slice(&a.octets());
            (l3 + if matches!(d, Dir::Src) { 12 } else { 16 }, 4)
        }
        (IpVersion::V6, IpAddr::V6(a), d) => {
            buf.copy_from_slice(&a.octets());
            (l3 + if matches!(d, Dir::Src) { 8 } else { 24 }, 16)
        }
        _ => return Err(WireError::FamilyMismatch),
    };
    let new = &buf[..n];
    let old_buf = swap_bytes(frame, off, new)?;
    let old = &old_buf[..n];
    fix(frame, p.l4_offset + 2, Csum::Plain, old, new)?;
    if p.version == IpVersion::V4 {
        icmp_body_fix(frame, p, l3 + 10, Csum::Plain, old, new)?;
    }
    if let Some((c, kind)) = inner_pseudo_csum(p, &inner) {
        icmp_body_fix(frame, p, c, kind, old, new)?;
    }
    Ok(())
}

/// Rewrites the source address of the packet quoted in an ICMP error, fixing its IPv4
/// header checksum, its TCP/UDP/ICMPv6 checksum when the quote contains that field, and
/// the outer ICMP checksum (RFC 5508 §4.2). When the quote is cut before the quoted L4
/// checksum (e.g. TCP quoted with only the 8 bytes RFC 792 requires), there is no field
/// to fix and nothing more is done.
pub fn set_inner_src_addr(frame: &mut [u8], p: &Parsed, addr: IpAddr) -> Result<(), WireError> {
    set_inner_addr(frame, p, Dir::Src, addr)
}

/// Rewrites the destination address of the packet quoted in an ICMP error; see
/// [`set_inner_src_addr`].
pub fn set_inner_dst_addr(frame: &mut [u8], p: &Parsed, addr: IpAddr) -> Result<(), WireError> {
    set_inner_addr(frame, p, Dir::Dst, addr)
}

fn set_inner_port(frame: &mut [u8], p: &Parsed, dir: Dir, port: u16) -> Result<(), WireError> {
    check_frame(frame, p)?;
    let inner = *inner_of(p)?;
    if matches!(inner.fragment, Fragment::Later { .. })
        || !matches!(inner.key.proto, proto::TCP | proto::UDP)
    {
        return Err(WireError::NoPorts);
    }
    let off = match dir {
        Dir::Src => inner.l4_offset,
        Dir::Dst => inner.l4_offset + 2,
    };
    let old = rd16(frame, off)?.to_be_bytes();
    let new = port.to_be_bytes();
    icmp_body_write(frame, p, off, &new)?;
    if let Some((c, kind)) = inner_pseudo_csum(p, &inner) {
        icmp_body_fix(frame, p, c, kind, &old, &new)?;
    }
    Ok(())
}

/// Rewrites the TCP/UDP source port of the packet quoted in an ICMP error, fixing the
/// quoted checksum when present and the outer ICMP checksum.
pub fn set_inner_src_port(frame: &mut [u8], p: &Parsed, port: u16) -> Result<(), WireError> {
    set_inner_port(frame, p, Dir::Src, port)
}

/// Rewrites the TCP/UDP destination port of the packet quoted in an ICMP error; see
/// [`set_inner_src_port`].
pub fn set_inner_dst_port(frame: &mut [u8], p: &Parsed, port: u16) -> Result<(), WireError> {
    set_inner_port(frame, p, Dir::Dst, port)
}

/// Rewrites the identifier of an ICMP query quoted in an ICMP error, fixing the quoted
/// ICMP checksum (always inside the 8 quoted bytes) and the outer one.
pub fn set_inner_icmp_id(frame: &mut [u8], p: &Parsed, id: u16) -> Result<(), WireError> {
    check_frame(frame, p)?;
    let inner = *inner_of(p)?;
    let is_query = match (p.version, inner.key.proto) {
        (IpVersion::V4, proto::ICMP) | (IpVersion::V6, proto::ICMPV6) => {
            let t = *frame.get(inner.l4_offset).ok_or(WireError::OutOfBounds)?;
            let class = match p.version {
                IpVersion::V4 => icmp::classify_v4(t),
                IpVersion::V6 => icmp::classify_v6(t),
            };
            matches!(class, IcmpClass::Request | IcmpClass::Reply)
        }
        _ => false,
    };
    if !is_query || matches!(inner.fragment, Fragment::Later { .. }) {
        return Err(WireError::NotIcmpQuery);
    }
    let off = inner.l4_offset + 4;
    let old = rd16(frame, off)?.to_be_bytes();
    let new = id.to_be_bytes();
    icmp_body_write(frame, p, off, &new)?;
    icmp_body_fix(frame, p, inner.l4_offset + 2, Csum::Plain, &old, &new)?;
    Ok(())
}

/// TCP option kinds walked by [`clamp_tcp_mss`] (RFC 9293 §3.2).
const TCP_OPT_END: u8 = 0;
const TCP_OPT_NOP: u8 = 1;
const TCP_OPT_MSS: u8 = 2;

/// Lowers the Maximum Segment Size option of a TCP SYN (or SYN-ACK) to `max` when it is
/// larger (RFC 9293 §3.7.1; RFC 6691 for why middleboxes clamp it), fixing the TCP
/// checksum incrementally. Returns the option's previous value when it was lowered, `None`
/// when the packet is not a SYN, carries no MSS option, or already asks for `max` or less.
/// A malformed option list is left alone.
pub fn clamp_tcp_mss(frame: &mut [u8], p: &Parsed, max: u16) -> Result<Option<u16>, WireError> {
    check_frame(frame, p)?;
    let L4::Tcp { flags, .. } = p.l4 else {
        return Ok(None);
    };
    if flags & crate::tcp::SYN == 0 || matches!(p.fragment, Fragment::Later { .. }) {
        return Ok(None);
    }
    let Some(at) = mss_option(frame, p) else {
        return Ok(None);
    };
    let old = rd16(frame, at)?;
    if old <= max {
        return Ok(None);
    }
    // The checksum sums 16-bit words from the start of the TCP header: an option at an odd
    // offset straddles two words, so the update covers the aligned span around it.
    let rel = at - p.l4_offset;
    let start = at - rel % 2;
    let len = if rel.is_multiple_of(2) { 2 } else { 4 };
    let mut before = [0u8; 4];
    before[..len].copy_from_slice(
        frame
            .get(start..start + len)
            .ok_or(WireError::OutOfBounds)?,
    );
    bytes::put16(frame, at, max)?;
    let mut after = [0u8; 4];
    after[..len].copy_from_slice(
        frame
            .get(start..start + len)
            .ok_or(WireError::OutOfBounds)?,
    );
    fix(
        frame,
        p.l4_offset + 16,
        Csum::Plain,
        &before[..len],
        &after[..len],
    )?;
    Ok(Some(old))
}

/// Offset in `frame` of the MSS option's value, if the SYN's option list holds one.
fn mss_option(frame: &[u8], p: &Parsed) -> Option<usize> {
    let opts = frame.get(p.l4_offset + crate::tcp::MIN_HEADER_LEN..p.payload_offset)?;
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            TCP_OPT_END => return None,
            TCP_OPT_NOP => i += 1,
            kind => {
                let len = usize::from(*opts.get(i + 1)?);
                if len < 2 || i + len > opts.len() {
                    return None;
                }
                if kind == TCP_OPT_MSS {
                    return (len == 4).then_some(p.l4_offset + crate::tcp::MIN_HEADER_LEN + i + 2);
                }
                i += len;
            }
        }
    }
    None
}
