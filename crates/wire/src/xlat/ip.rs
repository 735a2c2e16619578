//! IP header translation (RFC 7915 §4.1, §5.1) and the transport fields that follow the
//! address change: TCP/UDP ports and checksums across the pseudo-header change (RFC 1624
//! incremental), the ICMP echo type and identifier.
//!
//! The same functions translate a packet quoted in an ICMP error (`quoted`): only its
//! header need be present, the lengths it declares are kept, and it may not be an ICMP
//! error itself (§4.3, §5.3).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{frag, icmp, Answer, Endpoints, Params, Rewrite, Untranslatable, XlatError};
use crate::bytes;
use crate::checksum;
use crate::error::WireError;
use crate::icmp::IcmpPacket;
use crate::ipv4::{self, Ipv4Packet};
use crate::ipv6::{self, Ipv6Packet};
use crate::proto;
use crate::tcp::TcpPacket;
use crate::udp::UdpPacket;

/// `out[..needed]`, or the error naming the length needed.
pub(super) fn room(out: &mut [u8], needed: usize) -> Result<&mut [u8], WireError> {
    out.get_mut(..needed)
        .ok_or(WireError::BufferTooSmall { needed })
}

fn endpoints<A: Copy>(rw: &Rewrite<A>, quoted: bool) -> Result<Endpoints<A>, XlatError> {
    if quoted {
        rw.inner.ok_or(Untranslatable::NoQuoteRewrite.into())
    } else {
        Ok(rw.outer)
    }
}

/// The part of a TCP/UDP pseudo header that translation changes: the addresses (the
/// protocol and the length stay).
fn addr_sum(src: &[u8], dst: &[u8]) -> u32 {
    checksum::sum(dst, checksum::sum(src, 0))
}

/// RFC 7915 §5.1 (§5.1.1 with a fragment header): the IPv6 packet `input` as IPv4.
pub(super) fn v6_to_v4(
    input: &[u8],
    out: &mut [u8],
    rw: &Rewrite<Ipv4Addr>,
    params: &Params,
    quoted: bool,
) -> Result<usize, XlatError> {
    let p = if quoted {
        Ipv6Packet::new_checked_header(input)?
    } else {
        Ipv6Packet::new_checked(input)?
    };
    // Hop-by-hop, destination options, routing and fragment headers are skipped.
    let ext = p.walk_ext_headers()?;
    if let (false, Some(off)) = (quoted, ext.unexpired_routing) {
        // §5.1: a routing header with Segments Left (its 4th octet) not zero.
        let pointer = u32::try_from(ipv6::HEADER_LEN + off + 3).unwrap_or(u32::MAX);
        return Err(XlatError::Answer(Answer::ParameterProblem { pointer }));
    }
    let l4 = p
        .payload()
        .get(ext.offset..)
        .ok_or(WireError::Ipv6ExtensionHeader)?;
    let declared = usize::from(p.payload_len())
        .checked_sub(ext.offset)
        .ok_or(WireError::IpTotalLength)?;
    let protocol = match ext.upper {
        proto::ICMP => return Err(Untranslatable::CrossFamilyIcmp.into()),
        proto::ICMPV6 => proto::ICMP,
        other => other,
    };
    if ext.upper == proto::ICMPV6 {
        if ext.fragment.is_some() {
            return Err(Untranslatable::FragmentedIcmp.into());
        }
        if !quoted && icmp::is_error_v6(l4) {
            return icmp::error_6to4(&p, l4, out, rw, params);
        }
    }
    let ep = endpoints(rw, quoted)?;
    let total = ipv4::MIN_HEADER_LEN + declared;
    let total16 = u16::try_from(total).map_err(|_| WireError::IpTotalLength)?;
    let (ident, flags) = frag::ipv4_fields(ext.fragment, total, params.ipv4_ident);
    let n = ipv4::MIN_HEADER_LEN + l4.len();
    let o = room(out, n)?;
    let (tos, ttl) = (p.traffic_class(), p.hop_limit());
    ipv4::emit_header(o, tos, total16, ident, flags, ttl, protocol, ep.src, ep.dst)
        .ok_or(WireError::BufferTooSmall { needed: n })?;
    let body = &mut o[ipv4::MIN_HEADER_LEN..];
    body.copy_from_slice(l4);
    if ext.fragment.is_some_and(|f| f.offset != 0) {
        return Ok(n);
    }
    let (src, dst) = (p.src_addr(), p.dst_addr());
    let sums = if ext.upper == proto::ICMPV6 {
        // ICMPv4 has no pseudo header: the ICMPv6 one leaves the checksum (§5.2).
        let len = u32::try_from(declared).unwrap_or(u32::MAX);
        let pseudo = checksum::pseudo_header_v6(&src, &dst, proto::ICMPV6, len);
        (pseudo, 0)
    } else {
        let new = addr_sum(&ep.src.octets(), &ep.dst.octets());
        (addr_sum(&src.octets(), &dst.octets()), new)
    };
    transport(body, ext.upper, &ep, sums, quoted)?;
    Ok(n)
}

/// RFC 7915 §4.1 (§4.1.1 for a fragment): the IPv4 packet `input` as IPv6.
pub(super) fn v4_to_v6(
    input: &[u8],
    out: &mut [u8],
    rw: &Rewrite<Ipv6Addr>,
    params: &Params,
    quoted: bool,
) -> Result<usize, XlatError> {
    let p = if quoted {
        Ipv4Packet::new_checked_header(input)?
    } else {
        Ipv4Packet::new_checked(input)?
    };
    if !quoted {
        if !p.verify_checksum() {
            return Err(WireError::IpChecksum.into());
        }
        source_route(p.options())?;
    }
    let l4 = p.payload();
    let declared = usize::from(p.total_len()) - p.header_len();
    let upper = match p.protocol() {
        proto::ICMPV6 => return Err(Untranslatable::CrossFamilyIcmp.into()),
        proto::ICMP => proto::ICMPV6,
        other => other,
    };
    if p.protocol() == proto::ICMP {
        if p.is_fragment() {
            return Err(Untranslatable::FragmentedIcmp.into());
        }
        if !quoted && icmp::is_error_v4(l4) {
            return icmp::error_4to6(&p, l4, out, rw, params);
        }
    }
    let ep = endpoints(rw, quoted)?;
    let fh = frag::ipv6_header(&p, upper);
    let hl = ipv6::HEADER_LEN + fh.map_or(0, |h| h.len());
    let payload_len =
        u16::try_from(hl - ipv6::HEADER_LEN + declared).map_err(|_| WireError::IpTotalLength)?;
    let n = hl + l4.len();
    let o = room(out, n)?;
    let next = frag::ipv6_next(fh.as_ref(), upper);
    ipv6::emit_header(o, payload_len, next, p.ttl(), ep.src, ep.dst)
        .ok_or(WireError::BufferTooSmall { needed: n })?;
    set_traffic_class(o, p.tos());
    if let Some(h) = fh {
        o[ipv6::HEADER_LEN..hl].copy_from_slice(&h);
    }
    let body = &mut o[hl..];
    body.copy_from_slice(l4);
    if p.frag_offset() != 0 {
        return Ok(n);
    }
    let sums = if p.protocol() == proto::ICMP {
        // ICMPv6 covers a pseudo header ICMPv4 lacks (§4.2).
        let len = u32::try_from(declared).unwrap_or(u32::MAX);
        (
            0,
            checksum::pseudo_header_v6(&ep.src, &ep.dst, proto::ICMPV6, len),
        )
    } else {
        let old = addr_sum(&p.src_addr().octets(), &p.dst_addr().octets());
        (old, addr_sum(&ep.src.octets(), &ep.dst.octets()))
    };
    transport(body, p.protocol(), &ep, sums, quoted)?;
    if p.protocol() == proto::UDP && !quoted {
        udp_checksum_from_none(body, &ep, p.is_fragment())?;
    }
    Ok(n)
}

/// Traffic class = the IPv4 TOS octet, flow label zero (§4.1).
pub(super) fn set_traffic_class(h: &mut [u8], tos: u8) {
    h[0] = 0x60 | (tos >> 4);
    h[1] = tos << 4;
}

/// §4.1: options are ignored, but an unexpired source route (its pointer not past its
/// length, RFC 791 §3.1) is answered with source route failed.
fn source_route(options: &[u8]) -> Result<(), XlatError> {
    for o in ipv4::options_bytes(options) {
        let o = o?;
        let n = ipv4::option_number(o[0]);
        let unexpired = o.get(2).is_some_and(|&ptr| usize::from(ptr) <= o.len());
        if (n == ipv4::OPTION_NUMBER_LSRR || n == ipv4::OPTION_NUMBER_SSRR) && unexpired {
            return Err(XlatError::Answer(Answer::SourceRouteFailed));
        }
    }
    Ok(())
}

/// §4.5: IPv6 requires a UDP checksum; one of zero from IPv4 is computed, which needs the
/// whole datagram (a fragment is dropped).
fn udp_checksum_from_none(
    udp: &mut [u8],
    ep: &Endpoints<Ipv6Addr>,
    fragment: bool,
) -> Result<(), XlatError> {
    if bytes::get16(udp, 6) != Some(0) {
        return Ok(());
    }
    if fragment {
        return Err(Untranslatable::UdpZeroChecksumFragment.into());
    }
    let len = u32::try_from(udp.len()).unwrap_or(u32::MAX);
    let pseudo = checksum::pseudo_header_v6(&ep.src, &ep.dst, proto::UDP, len);
    let c = checksum::finish(checksum::sum(udp, pseudo));
    bytes::put16(udp, 6, if c == 0 { 0xffff } else { c })?;
    Ok(())
}

/// Rewrites the transport header copied to `l4` (`upper` is its protocol before
/// translation): the ports or echo type and identifier, and the checksum, given the sums
/// of the pseudo-header parts before and after (`sums`). Other protocols are copied.
/// The header must be whole unless `quoted` (a quote may stop after 8 bytes).
fn transport<A>(
    l4: &mut [u8],
    upper: u8,
    ep: &Endpoints<A>,
    sums: (u32, u32),
    quoted: bool,
) -> Result<(), XlatError> {
    if !quoted {
        match upper {
            proto::TCP => TcpPacket::new_checked(&*l4).map(|_| ())?,
            proto::UDP => UdpPacket::new_checked_header(&*l4).map(|_| ())?,
            proto::ICMP | proto::ICMPV6 => IcmpPacket::new_checked(&*l4).map(|_| ())?,
            _ => {}
        }
    }
    match upper {
        proto::TCP => patch(l4, 16, &[(0, ep.src_port), (2, ep.dst_port)], sums, false),
        proto::UDP => patch(l4, 6, &[(0, ep.src_port), (2, ep.dst_port)], sums, true),
        proto::ICMP | proto::ICMPV6 => {
            let word = icmp::translate_query(l4, upper == proto::ICMPV6)?;
            patch(l4, 2, &[(0, Some(word)), (4, ep.icmp_id)], sums, false);
        }
        _ => {}
    }
    Ok(())
}

/// Writes the 16-bit `fields` present in `l4` and follows the checksum at `csum_at`
/// (RFC 1624 eqn. 3 over the folded sums). A UDP checksum of zero (none) is left alone,
/// and a computed zero is sent as 0xffff (RFC 768). A quote may end before a field or
/// the checksum: what is absent is skipped.
fn patch(
    l4: &mut [u8],
    csum_at: usize,
    fields: &[(usize, Option<u16>)],
    (mut old, mut new): (u32, u32),
    udp: bool,
) {
    for &(at, value) in fields {
        let (Some(v), Some(was)) = (value, bytes::get16(l4, at)) else {
            continue;
        };
        old = checksum::combine(old, u32::from(was));
        new = checksum::combine(new, u32::from(v));
        bytes::set_be16(l4, at, v);
    }
    let Some(c) = bytes::get16(l4, csum_at) else {
        return;
    };
    if udp && c == 0 {
        return;
    }
    let mut c = checksum::update16(c, old as u16, new as u16);
    if udp && c == 0 {
        c = 0xffff;
    }
    bytes::set_be16(l4, csum_at, c);
}
