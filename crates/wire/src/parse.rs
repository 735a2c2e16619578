//! One-pass frame parser: Ethernet (+ one 802.1Q tag) → IPv4/IPv6 → L4, into a
//! [`Parsed`] of offsets and the fields the flow engine needs.
//!
//! Checked here: every header present and consistent, IPv4 header checksum (RFC 791),
//! TCP/UDP ports nonzero. Not checked here (too expensive for every packet): L4
//! checksums — see [`l4_checksum_ok`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::bytes;
use crate::checksum;
use crate::error::WireError;
use crate::ethernet::{self, EthernetFrame};
use crate::gre::GrePacket;
use crate::icmp::{self, IcmpClass, IcmpPacket};
use crate::ipv4::Ipv4Packet;
use crate::ipv6::{self, Ipv6Packet};
use crate::key::FlowKey;
use crate::proto;
use crate::tcp::TcpPacket;
use crate::udp::UdpPacket;

/// IP version of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpVersion {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// Fragmentation state (IPv4 MF/offset, RFC 791; IPv6 fragment header, RFC 8200 §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fragment {
    /// Not a fragment (IPv6 atomic fragments, offset 0 without M, count as not
    /// fragmented per RFC 6946).
    None,
    /// Offset 0 with more fragments: carries the L4 header.
    First {
        /// IPv4 identification (zero-extended) or IPv6 fragment identification.
        id: u32,
    },
    /// Nonzero offset: no L4 header.
    Later {
        /// IPv4 identification (zero-extended) or IPv6 fragment identification.
        id: u32,
    },
}

/// The packet quoted by an ICMP error (RFC 792, RFC 4443 §3), as far as it is present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InnerPacket {
    /// Key of the quoted packet as it was sent (so usually the reverse of the session
    /// direction the error travels in); ports from its first 8 L4 bytes, per the
    /// conventions of [`crate::key`].
    pub key: FlowKey,
    /// Offset of the quoted IP header in the frame.
    pub l3_offset: usize,
    /// Offset of the quoted L4 header in the frame.
    pub l4_offset: usize,
    /// Fragmentation state of the quoted packet (a non-first fragment has no ports).
    pub fragment: Fragment,
}

/// L4 details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4 {
    /// TCP segment.
    Tcp {
        /// Flags byte (`tcp::FIN` … `tcp::CWR`).
        flags: u8,
        /// Sequence number.
        seq: u32,
        /// Acknowledgment number.
        ack: u32,
        /// Window (unscaled).
        window: u16,
    },
    /// UDP datagram.
    Udp,
    /// ICMP/ICMPv6 query (echo, timestamp, information, address mask).
    IcmpQuery {
        /// Type.
        icmp_type: u8,
        /// Code.
        code: u8,
        /// Identifier.
        id: u16,
    },
    /// ICMP/ICMPv6 error with the quoted packet parsed.
    IcmpError {
        /// Type.
        icmp_type: u8,
        /// Code.
        code: u8,
        /// The quoted packet.
        inner: InnerPacket,
    },
    /// Any other ICMP/ICMPv6 message (router/neighbor discovery, MLD, unknown).
    IcmpOther {
        /// Type.
        icmp_type: u8,
        /// Code.
        code: u8,
    },
    /// GRE.
    Gre {
        /// 0 (RFC 2784) or 1 (RFC 2637 enhanced GRE).
        version: u8,
        /// Protocol type (ethertype of the payload; 0x880b for PPTP).
        protocol: u16,
        /// Key if present; for version 1 `payload length << 16 | call id`.
        key: Option<u32>,
    },
    /// Any other protocol (including SCTP, whose ports are in the key), and every
    /// non-first fragment.
    Other,
}

/// Where everything is in a frame, and what the flow engine matches on.
///
/// Offsets stay valid after [`crate::rewrite`] calls on the same frame, but `key` (and
/// the L4 fields that were rewritten) then describe the packet as it was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    /// VLAN id of the 802.1Q tag, if any.
    pub vlan: Option<u16>,
    /// Ethertype of the IP packet (after the tag): 0x0800 or 0x86dd.
    pub ethertype: u16,
    /// Offset of the IP header.
    pub l3_offset: usize,
    /// Offset of the L4 header (after IPv4 options / IPv6 extension headers).
    pub l4_offset: usize,
    /// Offset of the L4 payload (after the TCP/UDP/ICMP/GRE/SCTP header); equal to
    /// `l4_offset` for other protocols and non-first fragments.
    pub payload_offset: usize,
    /// L4 payload bytes present, bounded by the IP length (and the UDP length).
    pub payload_len: usize,
    /// IPv4 total length, or 40 + IPv6 payload length; the frame may be longer (padding).
    pub ip_len: usize,
    /// IP version.
    pub version: IpVersion,
    /// TTL / hop limit.
    pub ttl: u8,
    /// IPv4 header longer than 20 bytes.
    pub has_ip_options: bool,
    /// Fragmentation state.
    pub fragment: Fragment,
    /// Flow key (see [`crate::key`] for the port conventions).
    pub key: FlowKey,
    /// L4 details.
    pub l4: L4,
}

impl Parsed {
    /// The call-keyed flow key of an enhanced GRE (version 1, RFC 2637 §4.1) packet: the
    /// 3-tuple with the call id of its key (the receiver's Call ID) as destination port
    /// (see [`crate::key`]). `None` for anything else, a later fragment included.
    pub fn call_key(&self) -> Option<FlowKey> {
        match (self.l4, self.fragment) {
            (
                L4::Gre {
                    version: 1,
                    key: Some(k),
                    ..
                },
                Fragment::None | Fragment::First { .. },
            ) => Some(FlowKey::gre_call(self.key.src, self.key.dst, k as u16)),
            _ => None,
        }
    }

    /// Offset just past the IP packet (where Ethernet padding starts).
    pub fn ip_end(&self) -> usize {
        self.l3_offset.saturating_add(self.ip_len)
    }

    /// True if the offsets are consistent with each other and with `frame`:
    /// `l3_offset <= l4_offset <= ip_end() <= frame.len()`, and the same for an ICMP
    /// error's embedded packet. Always true for the frame this was parsed from; rewrite
    /// and build functions check it so that a mismatched `Parsed` cannot make them index
    /// out of bounds or overflow.
    pub fn fits(&self, frame: &[u8]) -> bool {
        let end = self.ip_end();
        let outer = self.l3_offset <= self.l4_offset && self.l4_offset <= end && end <= frame.len();
        let inner = match &self.l4 {
            L4::IcmpError { inner, .. } => {
                self.l4_offset <= inner.l3_offset
                    && inner.l3_offset <= inner.l4_offset
                    && inner.l4_offset <= end
            }
            _ => true,
        };
        outer && inner
    }

    /// True for a fragment with nonzero offset (no L4 header in this packet).
    pub fn is_later_fragment(&self) -> bool {
        matches!(self.fragment, Fragment::Later { .. })
    }

    /// The embedded packet of an ICMP error.
    pub fn inner(&self) -> Option<&InnerPacket> {
        match &self.l4 {
            L4::IcmpError { inner, .. } => Some(inner),
            _ => None,
        }
    }
}

struct L3 {
    version: IpVersion,
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    proto: u8,
    has_options: bool,
    fragment: Fragment,
    l4_offset: usize,
    ip_len: usize,
}

/// The second key of a packet (see [`crate::key`]): an enhanced GRE packet's call key
/// ([`Parsed::call_key`]), or an ESP packet's SPI key (its first 4 bytes, RFC 4303 §2.1;
/// none for a later fragment, a truncated header or SPI 0). `frame` is the frame `p` was
/// parsed from.
pub fn second_key(frame: &[u8], p: &Parsed) -> Option<FlowKey> {
    if p.key.proto == crate::proto::ESP {
        if matches!(p.fragment, Fragment::Later { .. }) {
            return None;
        }
        let end = p.ip_end().min(frame.len());
        let b = frame.get(p.l4_offset..end)?.get(..4)?;
        let spi = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        return (spi != 0).then(|| FlowKey::esp_spi(p.key.src, p.key.dst, spi));
    }
    p.call_key()
}

/// Parses a frame. See the module doc for what is checked; non-IP ethertypes give
/// [`WireError::NotIp`].
pub fn parse_frame(frame: &[u8]) -> Result<Parsed, WireError> {
    let eth = EthernetFrame::new_checked(frame)?;
    let ethertype = eth.payload_ethertype();
    let vlan = eth.vlan_id();
    let l3_offset = eth.header_len();
    let ip = eth.payload();
    let l3 = match ethertype {
        ethernet::ETHERTYPE_IPV4 => parse_v4(ip, l3_offset)?,
        ethernet::ETHERTYPE_IPV6 => parse_v6(ip, l3_offset)?,
        _ => return Err(WireError::NotIp { ethertype }),
    };
    let ip_end = l3_offset + l3.ip_len;
    let l4 = parse_l4(frame, &l3, ip_end)?;
    let payload_offset = l3.l4_offset + l4.header_len;
    Ok(Parsed {
        vlan,
        ethertype,
        l3_offset,
        l4_offset: l3.l4_offset,
        payload_offset,
        payload_len: l4.data_end.saturating_sub(payload_offset),
        ip_len: l3.ip_len,
        version: l3.version,
        ttl: l3.ttl,
        has_ip_options: l3.has_options,
        fragment: l3.fragment,
        key: FlowKey {
            src: l3.src,
            dst: l3.dst,
            src_port: l4.src_port,
            dst_port: l4.dst_port,
            proto: l3.proto,
        },
        l4: l4.l4,
    })
}

fn parse_v4(buf: &[u8], l3_offset: usize) -> Result<L3, WireError> {
    let ip = Ipv4Packet::new_checked(buf)?;
    if !ip.verify_checksum() {
        return Err(WireError::IpChecksum);
    }
    let fragment = v4_fragment(&ip);
    Ok(L3 {
        version: IpVersion::V4,
        src: IpAddr::V4(ip.src_addr()),
        dst: IpAddr::V4(ip.dst_addr()),
        ttl: ip.ttl(),
        proto: ip.protocol(),
        has_options: ip.header_len() > crate::ipv4::MIN_HEADER_LEN,
        fragment,
        l4_offset: l3_offset + ip.header_len(),
        ip_len: usize::from(ip.total_len()),
    })
}

fn v4_fragment<T: AsRef<[u8]>>(ip: &Ipv4Packet<T>) -> Fragment {
    let id = u32::from(ip.ident());
    match (ip.frag_offset(), ip.more_frags()) {
        (0, false) => Fragment::None,
        (0, true) => Fragment::First { id },
        _ => Fragment::Later { id },
    }
}

fn v6_fragment(f: Option<ipv6::FragmentHeader>) -> Fragment {
    match f {
        None => Fragment::None,
        Some(f) if f.offset != 0 => Fragment::Later { id: f.id },
        Some(f) if f.more => Fragment::First { id: f.id },
        Some(_) => Fragment::None,
    }
}

fn parse_v6(buf: &[u8], l3_offset: usize) -> Result<L3, WireError> {
    let ip = Ipv6Packet::new_checked(buf)?;
    let walk = ip.walk_ext_headers()?;
    Ok(L3 {
        version: IpVersion::V6,
        src: IpAddr::V6(ip.src_addr()),
        dst: IpAddr::V6(ip.dst_addr()),
        ttl: ip.hop_limit(),
        proto: walk.upper,
        has_options: false,
        fragment: v6_fragment(walk.fragment),
        l4_offset: l3_offset + ipv6::HEADER_LEN + walk.offset,
        ip_len: ipv6::HEADER_LEN + usize::from(ip.payload_len()),
    })
}

struct L4Info {
    l4: L4,
    src_port: u16,
    dst_port: u16,
    header_len: usize,
    /// Offset where the L4 data ends (IP end, or the UDP length when shorter).
    data_end: usize,
}

fn is_icmp(version: IpVersion, proto: u8) -> bool {
    matches!(
        (version, proto),
        (IpVersion::V4, proto::ICMP) | (IpVersion::V6, proto::ICMPV6)
    )
}

fn classify(version: IpVersion, icmp_type: u8) -> IcmpClass {
    match version {
        IpVersion::V4 => icmp::classify_v4(icmp_type),
        IpVersion::V6 => icmp::classify_v6(icmp_type),
    }
}

fn parse_l4(frame: &[u8], l3: &L3, ip_end: usize) -> Result<L4Info, WireError> {
    let mut info = L4Info {
        l4: L4::Other,
        src_port: 0,
        dst_port: 0,
        header_len: 0,
        data_end: ip_end,
    };
    if let Fragment::Later { .. } = l3.fragment {
        return Ok(info);
    }
    // The views proved l4_offset <= ip_end <= frame length.
    let data = frame
        .get(l3.l4_offset..ip_end)
        .ok_or(WireError::IpTotalLength)?;
    let fragmented = l3.fragment != Fragment::None;
    match l3.proto {
        proto::TCP => {
            let t = TcpPacket::new_checked(data)?;
            if t.src_port() == 0 || t.dst_port() == 0 {
                return Err(WireError::TcpPortZero);
            }
            info.src_port = t.src_port();
            info.dst_port = t.dst_port();
            info.header_len = t.header_len();
            info.l4 = L4::Tcp {
                flags: t.flags(),
                seq: t.seq_number(),
                ack: t.ack_number(),
                window: t.window(),
            };
        }
        proto::UDP => {
            // A first fragment carries only part of the datagram its length describes.
            let u = if fragmented {
                UdpPacket::new_checked_header(data)?
            } else {
                UdpPacket::new_checked(data)?
            };
            if u.src_port() == 0 || u.dst_port() == 0 {
                return Err(WireError::UdpPortZero);
            }
            info.src_port = u.src_port();
            info.dst_port = u.dst_port();
            info.header_len = crate::udp::HEADER_LEN;
            if !fragmented {
                info.data_end = l3.l4_offset + usize::from(u.len());
            }
            info.l4 = L4::Udp;
        }
        p if is_icmp(l3.version, p) => {
            let m = IcmpPacket::new_checked(data)?;
            let (icmp_type, code) = (m.msg_type(), m.code());
            info.header_len = icmp::HEADER_LEN;
            info.l4 = match classify(l3.version, icmp_type) {
                IcmpClass::Request => {
                    info.src_port = m.ident();
                    L4::IcmpQuery {
                        icmp_type,
                        code,
                        id: m.ident(),
                    }
                }
                IcmpClass::Reply => {
                    info.dst_port = m.ident();
                    L4::IcmpQuery {
                        icmp_type,
                        code,
                        id: m.ident(),
                    }
                }
                IcmpClass::Error => {
                    let inner =
                        parse_inner(frame, l3.l4_offset + icmp::HEADER_LEN, ip_end, l3.version)?;
                    L4::IcmpError {
                        icmp_type,
                        code,
                        inner,
                    }
                }
                IcmpClass::Other => L4::IcmpOther { icmp_type, code },
            };
        }
        proto::GRE => {
            let g = GrePacket::new_checked(data)?;
            info.header_len = g.header_len();
            info.l4 = L4::Gre {
                version: g.version(),
                protocol: g.protocol(),
                key: g.key(),
            };
        }
        proto::SCTP => {
            // RFC 9260 §3.1 common header: ports, verification tag, CRC32c.
            let (Some(sp), Some(dp), true) = (
                bytes::get16(data, 0),
                bytes::get16(data, 2),
                data.len() >= 12,
            ) else {
                return Err(WireError::SctpTruncated);
            };
            info.src_port = sp;
            info.dst_port = dp;
            info.header_len = 12;
        }
        _ => {}
    }
    Ok(info)
}

/// Parses the packet quoted by an ICMP error at `frame[start..end]` (RFC 792: IP header
/// plus at least 64 bits of data; RFC 4443 §2.4(c): as much as fits; RFC 5508 §4).
fn parse_inner(
    frame: &[u8],
    start: usize,
    end: usize,
    version: IpVersion,
) -> Result<InnerPacket, WireError> {
    let q = frame.get(start..end).ok_or(WireError::IcmpQuote)?;
    let bad = |_| WireError::IcmpQuote;
    let (src, dst, proto, fragment, l4_rel, end) = match version {
        IpVersion::V4 => {
            let ip = Ipv4Packet::new_checked_header(q).map_err(bad)?;
            let src = IpAddr::V4(ip.src_addr());
            let dst = IpAddr::V4(ip.dst_addr());
            let end = usize::from(ip.total_len()).min(q.len());
            (
                src,
                dst,
                ip.protocol(),
                v4_fragment(&ip),
                ip.header_len(),
                end,
            )
        }
        IpVersion::V6 => {
            let ip = Ipv6Packet::new_checked_header(q).map_err(bad)?;
            let w = ip.walk_ext_headers().map_err(bad)?;
            let src = IpAddr::V6(ip.src_addr());
            let dst = IpAddr::V6(ip.dst_addr());
            let end = (ipv6::HEADER_LEN + usize::from(ip.payload_len())).min(q.len());
            let rel = ipv6::HEADER_LEN + w.offset;
            (src, dst, w.upper, v6_fragment(w.fragment), rel, end)
        }
    };
    // Quoted L4 bytes: up to the quoted packet's own length or the end of the quote.
    let data = q.get(l4_rel..end).unwrap_or(&[]);
    let (src_port, dst_port) = match fragment {
        Fragment::Later { .. } => (0, 0),
        _ => inner_ports(version, proto, data)?,
    };
    Ok(InnerPacket {
        key: FlowKey {
            src,
            dst,
            src_port,
            dst_port,
            proto,
        },
        l3_offset: start,
        l4_offset: start + l4_rel,
        fragment,
    })
}

/// Ports of a quoted packet from its first 8 L4 bytes, which RFC 792 guarantees.
fn inner_ports(version: IpVersion, proto: u8, data: &[u8]) -> Result<(u16, u16), WireError> {
    let needs_ports = proto::has_ports(proto);
    let icmp = is_icmp(version, proto);
    if !needs_ports && !icmp {
        return Ok((0, 0));
    }
    let w = |off| bytes::get16(data, off).ok_or(WireError::IcmpQuote);
    if data.len() < 8 {
        return Err(WireError::IcmpQuote);
    }
    if needs_ports {
        return Ok((w(0)?, w(2)?));
    }
    let id = w(4)?;
    let icmp_type = *data.first().ok_or(WireError::IcmpQuote)?;
    Ok(match classify(version, icmp_type) {
        IcmpClass::Request => (id, 0),
        IcmpClass::Reply => (0, id),
        IcmpClass::Error | IcmpClass::Other => (0, 0),
    })
}

/// Reads the packet's addresses from the frame (not from `p.key`, which is stale after a
/// rewrite).
pub(crate) fn frame_addrs(frame: &[u8], p: &Parsed) -> Option<(IpAddr, IpAddr)> {
    let l3 = p.l3_offset;
    match p.version {
        IpVersion::V4 => {
            let s: [u8; 4] = frame.get(l3 + 12..l3 + 16)?.try_into().ok()?;
            let d: [u8; 4] = frame.get(l3 + 16..l3 + 20)?.try_into().ok()?;
            Some((IpAddr::V4(Ipv4Addr::from(s)), IpAddr::V4(Ipv4Addr::from(d))))
        }
        IpVersion::V6 => {
            let s: [u8; 16] = frame.get(l3 + 8..l3 + 24)?.try_into().ok()?;
            let d: [u8; 16] = frame.get(l3 + 24..l3 + 40)?.try_into().ok()?;
            Some((IpAddr::V6(Ipv6Addr::from(s)), IpAddr::V6(Ipv6Addr::from(d))))
        }
    }
}

/// Pseudo-header partial sum for an upper-layer `len` bytes long.
pub(crate) fn pseudo_sum(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> Option<u32> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Some(checksum::pseudo_header_v4(
            &s,
            &d,
            proto,
            u16::try_from(len).ok()?,
        )),
        (IpAddr::V6(s), IpAddr::V6(d)) => Some(checksum::pseudo_header_v6(
            &s,
            &d,
            proto,
            u32::try_from(len).ok()?,
        )),
        _ => None,
    }
}

/// Full L4 checksum verification, pseudo header included (RFC 9293 §3.1, RFC 768,
/// RFC 792, RFC 4443 §2.3, RFC 2784 §2.5, RFC 8200 §8.1). Reads addresses from the frame,
/// so it also works after a rewrite.
///
/// True when there is nothing to verify: fragments (the checksum covers the whole
/// datagram), UDP over IPv4 with checksum 0 ("no checksum", RFC 768), GRE without the
/// C bit, and protocols this crate does not checksum (SCTP's CRC32c, ESP, …).
/// UDP over IPv6 with checksum 0 is invalid (RFC 8200 §8.1). Limitation: with an IPv6
/// routing header the pseudo header should use the final destination; the IPv6 header's
/// destination is used.
pub fn l4_checksum_ok(frame: &[u8], p: &Parsed) -> bool {
    if p.fragment != Fragment::None {
        return true;
    }
    if !p.fits(frame) {
        return false;
    }
    let Some(data) = frame.get(p.l4_offset..p.ip_end()) else {
        return false;
    };
    let Some((src, dst)) = frame_addrs(frame, p) else {
        return false;
    };
    let with_pseudo = |data: &[u8], proto: u8| {
        pseudo_sum(src, dst, proto, data.len())
            .is_some_and(|ps| checksum::is_valid_sum(checksum::sum(data, ps)))
    };
    match p.l4 {
        L4::Tcp { .. } => with_pseudo(data, proto::TCP),
        L4::Udp => {
            let Ok(u) = UdpPacket::new_checked(data) else {
                return false;
            };
            if u.checksum() == 0 {
                return p.version == IpVersion::V4;
            }
            match data.get(..usize::from(u.len())) {
                Some(d) => with_pseudo(d, proto::UDP),
                None => false,
            }
        }
        L4::IcmpQuery { .. } | L4::IcmpError { .. } | L4::IcmpOther { .. } => match p.version {
            IpVersion::V4 => checksum::is_valid_sum(checksum::sum(data, 0)),
            IpVersion::V6 => with_pseudo(data, proto::ICMPV6),
        },
        L4::Gre { .. } => GrePacket::new_checked(data).is_ok_and(|g| g.verify_checksum()),
        L4::Other => true,
    }
}
