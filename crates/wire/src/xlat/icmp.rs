//! ICMP ↔ ICMPv6 (RFC 7915 §4.2, §5.2): echo types, error types and codes, the
//! parameter problem pointer, Packet Too Big ↔ Fragmentation Needed; and the packet an
//! error quotes (§4.3, §5.3), translated one level deep.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{frag, ip, Params, Rewrite, Untranslatable, XlatError};
use crate::checksum;
use crate::error::WireError;
use crate::icmp::{self, classify_v4, classify_v6, v4, v6, IcmpClass, IcmpPacket};
use crate::ipv4::{self, Ipv4Packet};
use crate::ipv6::{self, Ipv6Packet};
use crate::proto;

/// The IPv6 minimum MTU (RFC 8200 §5): no ICMPv6 error is longer (RFC 4443 §2.4(c)),
/// and no Packet Too Big reports less (RFC 7915 §6).
const IPV6_MIN_MTU: u16 = 1280;

/// Header length difference between IPv6 and IPv4 without options.
const HEADER_DIFF: u16 = (ipv6::HEADER_LEN - ipv4::MIN_HEADER_LEN) as u16;

/// RFC 1191 §7 plateau table, for a Fragmentation Needed without MTU (§4.2).
const PLATEAUS: [u16; 11] = [
    65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68,
];

/// True if `l4` starts with an ICMPv6 error type this module translates.
pub(super) fn is_error_v6(l4: &[u8]) -> bool {
    l4.first()
        .is_some_and(|&t| classify_v6(t) == IcmpClass::Error)
}

/// True if `l4` starts with an ICMPv4 error type.
pub(super) fn is_error_v4(l4: &[u8]) -> bool {
    l4.first()
        .is_some_and(|&t| classify_v4(t) == IcmpClass::Error)
}

/// The type/code word of a query message translated to the other family: echo request
/// and reply only (§4.2, §5.2). An error here is one quoted in an error.
pub(super) fn translate_query(msg: &[u8], from_v6: bool) -> Result<u16, Untranslatable> {
    let (&t, rest) = msg.split_first().ok_or(Untranslatable::IcmpType)?;
    let class = if from_v6 {
        classify_v6(t)
    } else {
        classify_v4(t)
    };
    if class == IcmpClass::Error {
        return Err(Untranslatable::NestedIcmpError);
    }
    let new = match (from_v6, t) {
        (true, v6::ECHO_REQUEST) => v4::ECHO_REQUEST,
        (true, v6::ECHO_REPLY) => v4::ECHO_REPLY,
        (false, v4::ECHO_REQUEST) => v6::ECHO_REQUEST,
        (false, v4::ECHO_REPLY) => v6::ECHO_REPLY,
        _ => return Err(Untranslatable::IcmpType),
    };
    Ok(u16::from_be_bytes([
        new,
        rest.first().copied().unwrap_or(0),
    ]))
}

/// Type, code and the 4 type-specific octets of an ICMP error.
type Head = (u8, u8, u32);

/// §5.2: an ICMPv6 error's type and code as ICMPv4.
fn head_6to4(ty: u8, code: u8, rest: u32, params: &Params) -> Result<Head, Untranslatable> {
    Ok(match ty {
        v6::DEST_UNREACH => {
            let c = match code {
                // No route, beyond scope, address unreachable → host unreachable.
                0 | 2 | 3 => 1,
                // Administratively prohibited → host administratively prohibited.
                1 => 10,
                // Port unreachable.
                4 => 3,
                _ => return Err(Untranslatable::IcmpCode),
            };
            (v4::DEST_UNREACH, c, 0)
        }
        v6::PACKET_TOO_BIG => {
            // minimum(advertised MTU-20, MTU of the IPv4 next hop, MTU of the IPv6 one - 20).
            let adv = u16::try_from(rest).unwrap_or(u16::MAX);
            let mtu = adv
                .saturating_sub(HEADER_DIFF)
                .min(params.ipv4_mtu)
                .min(params.ipv6_mtu.saturating_sub(HEADER_DIFF));
            // Fragmentation needed, the MTU in the low 16 bits (RFC 1191 §4).
            (v4::DEST_UNREACH, 4, u32::from(mtu))
        }
        v6::TIME_EXCEEDED => (v4::TIME_EXCEEDED, code, 0),
        v6::PARAM_PROBLEM => match code {
            0 => (v4::PARAM_PROBLEM, 0, u32::from(pointer_6to4(rest)?) << 24),
            // Unrecognized next header → protocol unreachable.
            1 => (v4::DEST_UNREACH, 2, 0),
            _ => return Err(Untranslatable::IcmpCode),
        },
        _ => return Err(Untranslatable::IcmpType),
    })
}

/// §4.2: an ICMPv4 error's type and code as ICMPv6; `quoted_len` is the total length the
/// quoted header declares (for a Fragmentation Needed without MTU).
fn head_4to6(
    ty: u8,
    code: u8,
    rest: u32,
    quoted_len: u16,
    params: &Params,
) -> Result<Head, Untranslatable> {
    Ok(match ty {
        v4::DEST_UNREACH => match code {
            // Net/host unreachable, source route failed, unknown/isolated, TOS: no route.
            0 | 1 | 5 | 6 | 7 | 8 | 11 | 12 => (v6::DEST_UNREACH, 0, 0),
            // Protocol unreachable → parameter problem at the next header field.
            2 => (v6::PARAM_PROBLEM, 1, 6),
            3 => (v6::DEST_UNREACH, 4, 0),
            4 => (
                v6::PACKET_TOO_BIG,
                0,
                u32::from(mtu_4to6(rest, quoted_len, params)),
            ),
            // Administratively prohibited (net, host, communication), precedence cutoff.
            9 | 10 | 13 | 15 => (v6::DEST_UNREACH, 1, 0),
            // Host precedence violation (14) and unknown codes.
            _ => return Err(Untranslatable::IcmpCode),
        },
        v4::TIME_EXCEEDED => (v6::TIME_EXCEEDED, code, 0),
        v4::PARAM_PROBLEM => match code {
            // Pointer indicates the error, bad length.
            0 | 2 => (v6::PARAM_PROBLEM, 0, u32::from(pointer_4to6(rest >> 24)?)),
            _ => return Err(Untranslatable::IcmpCode),
        },
        _ => return Err(Untranslatable::IcmpType),
    })
}

/// §4.2 Packet Too Big MTU: minimum(advertised MTU+20, MTU of the IPv6 next hop, MTU of
/// the IPv4 one + 20), a zero advertised MTU estimated from the RFC 1191 plateaus below
/// the quoted total length, and never below 1280 (§6).
fn mtu_4to6(rest: u32, quoted_len: u16, params: &Params) -> u16 {
    let adv = match rest as u16 {
        0 => PLATEAUS
            .into_iter()
            .find(|&p| p < quoted_len)
            .unwrap_or(PLATEAUS[PLATEAUS.len() - 1]),
        m => m,
    };
    adv.saturating_add(HEADER_DIFF)
        .min(params.ipv6_mtu)
        .min(params.ipv4_mtu.saturating_add(HEADER_DIFF))
        .max(IPV6_MIN_MTU)
}

/// §5.2 Figure 6: an ICMPv6 parameter problem pointer as ICMPv4.
fn pointer_6to4(p: u32) -> Result<u8, Untranslatable> {
    Ok(match p {
        0 => 0,        // version / traffic class → version / IHL
        1 => 1,        // traffic class / flow label → type of service
        4 | 5 => 2,    // payload length → total length
        6 => 9,        // next header → protocol
        7 => 8,        // hop limit → time to live
        8..=23 => 12,  // source address
        24..=39 => 16, // destination address
        _ => return Err(Untranslatable::ParameterPointer),
    })
}

/// §4.2 Figure 3: an ICMPv4 parameter problem pointer as ICMPv6.
fn pointer_4to6(p: u32) -> Result<u8, Untranslatable> {
    Ok(match p {
        0 => 0,        // version / IHL → version / traffic class
        1 => 1,        // type of service → traffic class / flow label
        2 | 3 => 4,    // total length → payload length
        8 => 7,        // time to live → hop limit
        9 => 6,        // protocol → next header
        12..=15 => 8,  // source address
        16..=19 => 24, // destination address
        _ => return Err(Untranslatable::ParameterPointer),
    })
}

/// Writes the 8-byte ICMP header (checksum zero) at the start of `msg`.
fn write_head(msg: &mut [u8], (ty, code, rest): Head) {
    msg[icmp::field::TYPE] = ty;
    msg[icmp::field::CODE] = code;
    msg[icmp::field::CHECKSUM].fill(0);
    msg[icmp::field::REST].copy_from_slice(&rest.to_be_bytes());
}

/// A failure inside the quote: malformed input counts as a malformed quote, and a short
/// buffer names the length needed from the start of `out`.
fn in_quote(e: XlatError, at: usize) -> XlatError {
    match e {
        XlatError::Malformed(WireError::BufferTooSmall { needed }) => WireError::BufferTooSmall {
            needed: at + needed,
        }
        .into(),
        XlatError::Malformed(_) => WireError::IcmpQuote.into(),
        other => other,
    }
}

/// §5.2-5.3: the ICMPv6 error `msg` carried by `p` as an ICMPv4 error in `out`.
pub(super) fn error_6to4(
    p: &Ipv6Packet<&[u8]>,
    msg: &[u8],
    out: &mut [u8],
    rw: &Rewrite<Ipv4Addr>,
    params: &Params,
) -> Result<usize, XlatError> {
    let m = IcmpPacket::new_checked(msg)?;
    let len = u32::try_from(msg.len()).unwrap_or(u32::MAX);
    let pseudo = checksum::pseudo_header_v6(&p.src_addr(), &p.dst_addr(), proto::ICMPV6, len);
    if !checksum::is_valid_sum(checksum::sum(msg, pseudo)) {
        return Err(Untranslatable::IcmpChecksum.into());
    }
    let head = head_6to4(m.msg_type(), m.code(), m.rest_of_header(), params)?;
    const AT: usize = ipv4::MIN_HEADER_LEN + icmp::HEADER_LEN;
    let quote = out
        .get_mut(AT..)
        .ok_or(WireError::BufferTooSmall { needed: AT })?;
    let quoted = ip::v6_to_v4(m.payload(), quote, rw, params, true).map_err(|e| in_quote(e, AT))?;
    let n = AT + quoted;
    let total = u16::try_from(n).map_err(|_| WireError::IpTotalLength)?;
    let (ident, flags) = frag::ipv4_fields(None, n, params.ipv4_ident);
    let (tos, ttl) = (p.traffic_class(), p.hop_limit());
    let (src, dst) = (rw.outer.src, rw.outer.dst);
    ipv4::emit_header(out, tos, total, ident, flags, ttl, proto::ICMP, src, dst)
        .ok_or(WireError::BufferTooSmall { needed: n })?;
    let msg = &mut out[ipv4::MIN_HEADER_LEN..n];
    write_head(msg, head);
    let c = checksum::compute(msg);
    msg[icmp::field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    Ok(n)
}

/// §4.2-4.3: the ICMPv4 error `msg` carried by `p` as an ICMPv6 error in `out`, cut to
/// the IPv6 minimum MTU.
pub(super) fn error_4to6(
    p: &Ipv4Packet<&[u8]>,
    msg: &[u8],
    out: &mut [u8],
    rw: &Rewrite<Ipv6Addr>,
    params: &Params,
) -> Result<usize, XlatError> {
    let m = IcmpPacket::new_checked(msg)?;
    if !checksum::is_valid_sum(checksum::sum(msg, 0)) {
        return Err(Untranslatable::IcmpChecksum.into());
    }
    // A quote too short for its length fails below, once the type is known translatable.
    let quoted_len = Ipv4Packet::new_checked_header(m.payload()).map_or(0, |q| q.total_len());
    let head = head_4to6(
        m.msg_type(),
        m.code(),
        m.rest_of_header(),
        quoted_len,
        params,
    )?;
    const AT: usize = ipv6::HEADER_LEN + icmp::HEADER_LEN;
    let quote = out
        .get_mut(AT..)
        .ok_or(WireError::BufferTooSmall { needed: AT })?;
    let quoted = ip::v4_to_v6(m.payload(), quote, rw, params, true).map_err(|e| in_quote(e, AT))?;
    let n = (AT + quoted).min(usize::from(IPV6_MIN_MTU));
    let payload_len = (n - ipv6::HEADER_LEN) as u16;
    let (src, dst) = (rw.outer.src, rw.outer.dst);
    ipv6::emit_header(out, payload_len, proto::ICMPV6, p.ttl(), src, dst)
        .ok_or(WireError::BufferTooSmall { needed: n })?;
    ip::set_traffic_class(out, p.tos());
    let msg = &mut out[ipv6::HEADER_LEN..n];
    write_head(msg, head);
    let pseudo = checksum::pseudo_header_v6(&src, &dst, proto::ICMPV6, u32::from(payload_len));
    let c = checksum::finish(checksum::sum(msg, pseudo));
    msg[icmp::field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    Ok(n)
}
