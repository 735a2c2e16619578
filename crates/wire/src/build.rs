//! Reply builders: TCP reset and ICMP/ICMPv6 errors about a received frame, written into
//! a caller-provided buffer (no allocation).
//!
//! Replies go back the way the packet came: MACs swapped, the same 802.1Q tag (whole
//! TCI, so priority is kept), addresses swapped (ICMP errors: from the given source).
//! Frames shorter than the Ethernet minimum are zero-padded to 60 bytes; the IP length
//! fields exclude the padding.

use std::net::IpAddr;

use crate::bytes;
use crate::checksum;
use crate::error::{NoReplyReason, WireError};
use crate::ethernet::{self, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN};
use crate::icmp;
use crate::ipv4;
use crate::ipv6;
use crate::parse::{frame_addrs, pseudo_sum, IpVersion, Parsed, L4};
use crate::proto;
use crate::tcp;

/// TTL / hop limit of generated packets.
pub const REPLY_TTL: u8 = 64;
/// An ICMPv4 error datagram is at most 576 bytes (RFC 1812 §4.3.2.3).
pub const ICMPV4_ERROR_MAX: usize = 576;
/// An ICMPv6 error packet is at most the minimum MTU, 1280 bytes (RFC 4443 §2.4(c)).
pub const ICMPV6_ERROR_MAX: usize = 1280;
/// TOS of ICMPv4 errors: precedence 6, internetwork control (RFC 1812 §4.3.2.5), as
/// Linux sends them.
pub const ICMPV4_ERROR_TOS: u8 = 0xc0;

/// Which ICMP error to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IcmpErrorKind {
    /// Destination unreachable with this code (ICMPv4 type 3, RFC 792; ICMPv6 type 1,
    /// RFC 4443 §3.1). The 4 bytes after the checksum are sent as zero, so codes needing
    /// a next-hop MTU (v4 code 4) are not meaningful here.
    DestUnreachable {
        /// Code.
        code: u8,
    },
    /// Time exceeded in transit, code 0 (ICMPv4 type 11, ICMPv6 type 3).
    TimeExceeded,
    /// Communication administratively prohibited: ICMPv4 type 3 code 13
    /// (RFC 1812 §5.2.7.1), ICMPv6 type 1 code 1 (RFC 4443 §3.1).
    AdminProhibited,
    /// The packet is larger than the next hop takes: ICMPv4 fragmentation needed and DF
    /// set, type 3 code 4, with the next-hop MTU (RFC 1191 §4); ICMPv6 packet too big,
    /// type 2 code 0, with the MTU (RFC 4443 §3.2).
    TooBig {
        /// The next-hop MTU.
        mtu: u16,
    },
}

impl IcmpErrorKind {
    /// ICMPv4 (type, code).
    pub fn v4_type_code(self) -> (u8, u8) {
        match self {
            IcmpErrorKind::DestUnreachable { code } => (icmp::v4::DEST_UNREACH, code),
            IcmpErrorKind::TimeExceeded => (icmp::v4::TIME_EXCEEDED, 0),
            IcmpErrorKind::AdminProhibited => {
                (icmp::v4::DEST_UNREACH, icmp::v4::CODE_ADMIN_PROHIBITED)
            }
            IcmpErrorKind::TooBig { .. } => (icmp::v4::DEST_UNREACH, 4),
        }
    }

    /// ICMPv6 (type, code).
    pub fn v6_type_code(self) -> (u8, u8) {
        match self {
            IcmpErrorKind::DestUnreachable { code } => (icmp::v6::DEST_UNREACH, code),
            IcmpErrorKind::TimeExceeded => (icmp::v6::TIME_EXCEEDED, 0),
            IcmpErrorKind::AdminProhibited => {
                (icmp::v6::DEST_UNREACH, icmp::v6::CODE_ADMIN_PROHIBITED)
            }
            IcmpErrorKind::TooBig { .. } => (icmp::v6::PACKET_TOO_BIG, 0),
        }
    }

    /// The 4 bytes after the checksum: the MTU of `TooBig` (the low 16 bits of ICMPv4's,
    /// RFC 1191 §4; all 32 of ICMPv6's, RFC 4443 §3.2), else unused (zero).
    fn rest(self) -> [u8; 4] {
        match self {
            IcmpErrorKind::TooBig { mtu } => u32::from(mtu).to_be_bytes(),
            _ => [0; 4],
        }
    }
}

fn no_reply(reason: NoReplyReason) -> WireError {
    WireError::NoReply { reason }
}

/// Rejects destinations that must not be answered (RFC 1812 §4.3.2.7, RFC 1122
/// §4.2.3.10, RFC 4443 §2.4(e.3)).
fn check_dst(dst: IpAddr) -> Result<(), WireError> {
    match dst {
        IpAddr::V4(a) if a.is_multicast() => Err(no_reply(NoReplyReason::MulticastDestination)),
        IpAddr::V4(a) if a.is_broadcast() => Err(no_reply(NoReplyReason::BroadcastDestination)),
        IpAddr::V6(a) if a.is_multicast() => Err(no_reply(NoReplyReason::MulticastDestination)),
        _ => Ok(()),
    }
}

/// Rejects sources that do not name a unique host (RFC 1812 §4.3.2.7, RFC 4443 §2.4(e.5)).
fn check_src(src: IpAddr) -> Result<(), WireError> {
    let bad = match src {
        IpAddr::V4(a) => {
            a.is_unspecified()
                || a.is_loopback()
                || a.is_multicast()
                || a.is_broadcast()
                || a.octets()[0] >= 240
        }
        IpAddr::V6(a) => a.is_unspecified() || a.is_loopback() || a.is_multicast(),
    };
    if bad {
        Err(no_reply(NoReplyReason::InvalidSource))
    } else {
        Ok(())
    }
}

/// Writes the swapped Ethernet header; returns its length.
fn write_l2(frame: &[u8], p: &Parsed, out: &mut [u8], ethertype: u16) -> Result<usize, WireError> {
    let hl = if p.vlan.is_some() {
        ethernet::VLAN_HEADER_LEN
    } else {
        ethernet::HEADER_LEN
    };
    let src = frame.get(..hl).ok_or(WireError::OutOfBounds)?;
    let dst = out
        .get_mut(..hl)
        .ok_or(WireError::BufferTooSmall { needed: hl })?;
    dst[0..6].copy_from_slice(&src[6..12]);
    dst[6..12].copy_from_slice(&src[0..6]);
    if p.vlan.is_some() {
        dst[12..14].copy_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
        dst[14..16].copy_from_slice(&src[14..16]);
        dst[16..18].copy_from_slice(&ethertype.to_be_bytes());
    } else {
        dst[12..14].copy_from_slice(&ethertype.to_be_bytes());
    }
    Ok(hl)
}

fn l2_len(p: &Parsed) -> usize {
    if p.vlan.is_some() {
        ethernet::VLAN_HEADER_LEN
    } else {
        ethernet::HEADER_LEN
    }
}

/// Zero-pads to the Ethernet minimum; returns the frame length.
fn pad(out: &mut [u8], len: usize) -> usize {
    if len >= ethernet::MIN_FRAME_LEN {
        return len;
    }
    if let Some(tail) = out.get_mut(len..ethernet::MIN_FRAME_LEN) {
        tail.fill(0);
    }
    ethernet::MIN_FRAME_LEN
}

fn ethertype_of(v: IpVersion) -> u16 {
    match v {
        IpVersion::V4 => ETHERTYPE_IPV4,
        IpVersion::V6 => ETHERTYPE_IPV6,
    }
}

/// Writes an IP header for a reply of `l4_len` bytes; returns the header length.
fn write_ip(
    out: &mut [u8],
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    tos: u8,
    flags: u16,
    l4_len: usize,
) -> Result<usize, WireError> {
    let too_small = WireError::BufferTooSmall {
        needed: ipv6::HEADER_LEN + l4_len,
    };
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = u16::try_from(ipv4::MIN_HEADER_LEN + l4_len).map_err(|_| too_small)?;
            ipv4::emit_header(out, tos, total, 0, flags, REPLY_TTL, protocol, s, d)
                .ok_or(too_small)?;
            Ok(ipv4::MIN_HEADER_LEN)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let len = u16::try_from(l4_len).map_err(|_| too_small)?;
            ipv6::emit_header(out, len, protocol, REPLY_TTL, s, d).ok_or(too_small)?;
            Ok(ipv6::HEADER_LEN)
        }
        _ => Err(WireError::FamilyMismatch),
    }
}

fn ip_header_len(v: IpVersion) -> usize {
    match v {
        IpVersion::V4 => ipv4::MIN_HEADER_LEN,
        IpVersion::V6 => ipv6::HEADER_LEN,
    }
}

/// Builds the reset answering a TCP segment (RFC 9293 §3.10.7.1): if the segment has
/// ACK, `<SEQ=SEG.ACK><CTL=RST>`; otherwise `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`
/// where SEG.LEN counts the payload present plus one each for SYN and FIN.
///
/// The reset goes from the segment's destination to its source (ports swapped), TTL 64,
/// IPv4 DF set, window 0, no options. Refuses to answer a reset, and segments to a
/// multicast/broadcast address (RFC 1122 §4.2.3.10) or from an address that is not a
/// unique host. Returns the frame length written to `out`.
pub fn tcp_rst(frame: &[u8], p: &Parsed, out: &mut [u8]) -> Result<usize, WireError> {
    if !p.fits(frame) {
        return Err(WireError::OutOfBounds);
    }
    let L4::Tcp {
        flags, seq, ack, ..
    } = p.l4
    else {
        return Err(WireError::NotTcp);
    };
    if p.is_later_fragment() {
        return Err(WireError::NotTcp);
    }
    if flags & tcp::RST != 0 {
        return Err(no_reply(NoReplyReason::Rst));
    }
    let (osrc, odst) = frame_addrs(frame, p).ok_or(WireError::OutOfBounds)?;
    check_dst(odst)?;
    check_src(osrc)?;
    let ports = frame
        .get(p.l4_offset..p.l4_offset + 4)
        .ok_or(WireError::OutOfBounds)?;
    let (sport, dport) = ([ports[0], ports[1]], [ports[2], ports[3]]);

    let l2 = l2_len(p);
    let ip_hl = ip_header_len(p.version);
    let len = l2 + ip_hl + tcp::MIN_HEADER_LEN;
    let needed = len.max(ethernet::MIN_FRAME_LEN);
    if out.len() < needed {
        return Err(WireError::BufferTooSmall { needed });
    }

    let (r_seq, r_ack, r_flags) = if flags & tcp::ACK != 0 {
        (ack, 0, tcp::RST)
    } else {
        let syn_fin = u32::from(flags & tcp::SYN != 0) + u32::from(flags & tcp::FIN != 0);
        // SEG.LEN is at most 64 KiB; sequence space wraps (RFC 9293 §3.4).
        let seg_len = (p.payload_len as u32).wrapping_add(syn_fin);
        (0, seq.wrapping_add(seg_len), tcp::RST | tcp::ACK)
    };

    write_l2(frame, p, out, ethertype_of(p.version))?;
    let ip_out = out
        .get_mut(l2..)
        .ok_or(WireError::BufferTooSmall { needed })?;
    let df = if p.version == IpVersion::V4 {
        ipv4::FLAG_DF
    } else {
        0
    };
    write_ip(ip_out, odst, osrc, proto::TCP, 0, df, tcp::MIN_HEADER_LEN)?;
    let t = out
        .get_mut(l2 + ip_hl..len)
        .ok_or(WireError::BufferTooSmall { needed })?;
    t[0..2].copy_from_slice(&dport);
    t[2..4].copy_from_slice(&sport);
    t[4..8].copy_from_slice(&r_seq.to_be_bytes());
    t[8..12].copy_from_slice(&r_ack.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = r_flags;
    t[14..20].fill(0); // window, checksum, urgent pointer
    let ps =
        pseudo_sum(odst, osrc, proto::TCP, tcp::MIN_HEADER_LEN).ok_or(WireError::FamilyMismatch)?;
    let c = checksum::finish(checksum::sum(t, ps));
    t[16..18].copy_from_slice(&c.to_be_bytes());
    Ok(pad(out, len))
}

/// A TCP keep-alive a middlebox sends to one end of an idle connection, as if from the
/// other end (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAlive {
    /// The end it seems to come from: address and port.
    pub src: (IpAddr, u16),
    /// The end it goes to.
    pub dst: (IpAddr, u16),
    /// The sender's next sequence number as the receiver knows it; the segment carries
    /// one less, so it falls left of the receiver's window and is answered with an ACK
    /// (RFC 9293 §3.10.7.4) without being taken as data.
    pub snd_nxt: u32,
    /// The acknowledgment number the sender last sent.
    pub ack: u32,
    /// The window the sender last advertised (unscaled).
    pub window: u16,
}

/// Builds `k` as an Ethernet frame: MAC addresses zero (the sender's link layer fills
/// them), TTL 64, IPv4 DF, ACK only, no options, no payload. Returns the frame length.
pub fn tcp_keepalive(k: &KeepAlive, out: &mut [u8]) -> Result<usize, WireError> {
    let (src, dst) = (k.src.0, k.dst.0);
    let (version, df) = match (src, dst) {
        (IpAddr::V4(_), IpAddr::V4(_)) => (IpVersion::V4, ipv4::FLAG_DF),
        (IpAddr::V6(_), IpAddr::V6(_)) => (IpVersion::V6, 0),
        _ => return Err(WireError::FamilyMismatch),
    };
    let l2 = ethernet::HEADER_LEN;
    let ip_hl = ip_header_len(version);
    let len = l2 + ip_hl + tcp::MIN_HEADER_LEN;
    let needed = len.max(ethernet::MIN_FRAME_LEN);
    if out.len() < needed {
        return Err(WireError::BufferTooSmall { needed });
    }
    out[..12].fill(0);
    out[12..14].copy_from_slice(&ethertype_of(version).to_be_bytes());
    write_ip(
        &mut out[l2..],
        src,
        dst,
        proto::TCP,
        0,
        df,
        tcp::MIN_HEADER_LEN,
    )?;
    let t = &mut out[l2 + ip_hl..len];
    t[0..2].copy_from_slice(&k.src.1.to_be_bytes());
    t[2..4].copy_from_slice(&k.dst.1.to_be_bytes());
    t[4..8].copy_from_slice(&k.snd_nxt.wrapping_sub(1).to_be_bytes());
    t[8..12].copy_from_slice(&k.ack.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = tcp::ACK;
    t[14..16].copy_from_slice(&k.window.to_be_bytes());
    t[16..20].fill(0); // checksum, urgent pointer
    let ps =
        pseudo_sum(src, dst, proto::TCP, tcp::MIN_HEADER_LEN).ok_or(WireError::FamilyMismatch)?;
    let c = checksum::finish(checksum::sum(t, ps));
    t[16..18].copy_from_slice(&c.to_be_bytes());
    Ok(pad(out, len))
}

/// Builds an ICMP (RFC 792) or ICMPv6 (RFC 4443) error about a received packet, sent
/// from `src` to the packet's source and quoting the packet from its IP header on: as
/// much as keeps the reply datagram within 576 bytes for IPv4 (RFC 1812 §4.3.2.3) or
/// 1280 bytes for IPv6 (RFC 4443 §2.4(c)).
///
/// Refuses ([`WireError::NoReply`]) to answer an ICMP error (RFC 1812 §4.3.2.7,
/// RFC 4443 §2.4(e.1); for ICMPv6 every type below 128), a non-first fragment, a packet
/// to an IP multicast/broadcast address or a link-layer group address, or from an
/// address that is not a unique host. `src` must be of the packet's family. Returns the
/// frame length written to `out`.
pub fn icmp_error(
    frame: &[u8],
    p: &Parsed,
    kind: IcmpErrorKind,
    src: IpAddr,
    out: &mut [u8],
) -> Result<usize, WireError> {
    if !p.fits(frame) {
        return Err(WireError::OutOfBounds);
    }
    if p.is_later_fragment() {
        return Err(no_reply(NoReplyReason::NonFirstFragment));
    }
    match p.l4 {
        L4::IcmpError { .. } => return Err(no_reply(NoReplyReason::IcmpError)),
        L4::IcmpOther { icmp_type, .. }
            if p.version == IpVersion::V6 && icmp::is_v6_error_type(icmp_type) =>
        {
            return Err(no_reply(NoReplyReason::IcmpError))
        }
        _ => {}
    }
    let dmac = frame.get(..6).ok_or(WireError::OutOfBounds)?;
    if dmac.iter().all(|&b| b == 0xff) {
        return Err(no_reply(NoReplyReason::BroadcastDestination));
    }
    if dmac.first().is_some_and(|b| b & 1 != 0) {
        return Err(no_reply(NoReplyReason::MulticastDestination));
    }
    let (osrc, odst) = frame_addrs(frame, p).ok_or(WireError::OutOfBounds)?;
    check_dst(odst)?;
    check_src(osrc)?;
    let (ip_hl, max, (icmp_type, code), protocol, tos) = match (p.version, src) {
        (IpVersion::V4, IpAddr::V4(_)) => (
            ipv4::MIN_HEADER_LEN,
            ICMPV4_ERROR_MAX,
            kind.v4_type_code(),
            proto::ICMP,
            ICMPV4_ERROR_TOS,
        ),
        (IpVersion::V6, IpAddr::V6(_)) => (
            ipv6::HEADER_LEN,
            ICMPV6_ERROR_MAX,
            kind.v6_type_code(),
            proto::ICMPV6,
            0,
        ),
        _ => return Err(WireError::FamilyMismatch),
    };
    let quote_len = p.ip_len.min(max - ip_hl - icmp::HEADER_LEN);
    let quote = frame
        .get(p.l3_offset..p.l3_offset + quote_len)
        .ok_or(WireError::OutOfBounds)?;

    let l2 = l2_len(p);
    let icmp_len = icmp::HEADER_LEN + quote_len;
    let len = l2 + ip_hl + icmp_len;
    let needed = len.max(ethernet::MIN_FRAME_LEN);
    if out.len() < needed {
        return Err(WireError::BufferTooSmall { needed });
    }

    write_l2(frame, p, out, ethertype_of(p.version))?;
    let ip_out = out
        .get_mut(l2..)
        .ok_or(WireError::BufferTooSmall { needed })?;
    write_ip(ip_out, src, osrc, protocol, tos, 0, icmp_len)?;
    let m = out
        .get_mut(l2 + ip_hl..len)
        .ok_or(WireError::BufferTooSmall { needed })?;
    m[0] = icmp_type;
    m[1] = code;
    m[2..4].fill(0); // checksum
    m[4..8].copy_from_slice(&kind.rest()); // unused (RFC 792, RFC 4443 §3.1, §3.3) or MTU
    m[8..].copy_from_slice(quote);
    let initial = match p.version {
        IpVersion::V4 => 0, // ICMPv4: no pseudo header (RFC 792)
        IpVersion::V6 => {
            pseudo_sum(src, osrc, proto::ICMPV6, icmp_len).ok_or(WireError::FamilyMismatch)?
        }
    };
    let c = checksum::finish(checksum::sum(m, initial));
    m[2..4].copy_from_slice(&c.to_be_bytes());
    Ok(pad(out, len))
}

/// Turns an ICMPv4 echo request to one of our addresses (`frame[..len]`) into the echo
/// reply, in place (RFC 792): addresses swapped, type 0, TTL reset, checksums updated.
/// Returns the reply's destination, or `None` when the frame is not such a request.
pub fn icmp_echo_reply(frame: &mut [u8], len: usize) -> Option<std::net::Ipv4Addr> {
    let len = len.min(frame.len());
    let p = crate::parse_frame(&frame[..len]).ok()?;
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (p.key.src, p.key.dst) else {
        return None;
    };
    if p.key.proto != crate::proto::ICMP || p.is_later_fragment() {
        return None;
    }
    let l3 = p.l3_offset;
    let l4 = p.l4_offset;
    if l4 + 4 > len || frame[l4] != 8 || frame[l4 + 1] != 0 {
        return None;
    }
    // ICMP: type 8 → 0; incremental update of the first 16-bit word (RFC 1624).
    let old_word = bytes::be16(frame, l4);
    frame[l4] = 0;
    let csum = crate::checksum::update16(bytes::be16(frame, l4 + 2), old_word, 0);
    bytes::set_be16(frame, l4 + 2, csum);
    // IP: swap addresses (checksum-neutral), fresh TTL, header checksum recomputed.
    frame[l3 + 12..l3 + 16].copy_from_slice(&dst.octets());
    frame[l3 + 16..l3 + 20].copy_from_slice(&src.octets());
    frame[l3 + 8] = REPLY_TTL;
    frame[l3 + 10] = 0;
    frame[l3 + 11] = 0;
    let ihl = usize::from(frame[l3] & 0x0f) * 4;
    let c = crate::checksum::compute(&frame[l3..l3 + ihl]);
    bytes::set_be16(frame, l3 + 10, c);
    Some(src)
}
