//! IPv6 neighbor discovery over Ethernet (RFC 4861): a checked view of an untagged
//! Neighbor Solicitation or Advertisement frame, its builder, the solicited-node multicast
//! address with its MAC, the EUI-64 link-local address of a port, and the classification
//! of the IPv6 frames a router consumes itself (ND, MLD, link-local and multicast
//! destinations).
//!
//! Only frames whose IPv6 next header is ICMPv6 are ND (RFC 4861 §7.1: a node may not
//! accept ND behind extension headers it cannot validate; we accept none).

use std::net::Ipv6Addr;

use crate::bytes;
use crate::checksum;
use crate::ethernet::{ETHERTYPE_IPV6, ETHERTYPE_VLAN, HEADER_LEN as ETH_LEN};
use crate::ipv6::{self, HEADER_LEN as IP6_LEN};
use crate::proto;

/// An Ethernet address.
pub type Mac = [u8; 6];

/// Router Solicitation (RFC 4861 §4.1).
pub const TYPE_ROUTER_SOLICITATION: u8 = 133;
/// Router Advertisement (RFC 4861 §4.2).
pub const TYPE_ROUTER_ADVERTISEMENT: u8 = 134;
/// Neighbor Solicitation (RFC 4861 §4.3).
pub const TYPE_NEIGHBOR_SOLICITATION: u8 = 135;
/// Neighbor Advertisement (RFC 4861 §4.4).
pub const TYPE_NEIGHBOR_ADVERTISEMENT: u8 = 136;
/// Redirect (RFC 4861 §4.5).
pub const TYPE_REDIRECT: u8 = 137;
/// Multicast Listener Query, Report, Done (RFC 2710 §3) and MLDv2 Report (RFC 3810 §5.2).
pub const MLD_TYPES: [u8; 4] = [130, 131, 132, 143];

/// Hop limit of every ND packet; a received one with another value is not from a
/// neighbor (RFC 4861 §7.1.1, §7.1.2).
pub const HOP_LIMIT: u8 = 255;

/// Source link-layer address option (RFC 4861 §4.6.1).
pub const OPT_SOURCE_LL: u8 = 1;
/// Target link-layer address option (RFC 4861 §4.6.1).
pub const OPT_TARGET_LL: u8 = 2;

/// ICMPv6 header + reserved/flags + target address (RFC 4861 §4.3, §4.4).
pub const BODY_LEN: usize = 24;
/// A link-layer address option for Ethernet: type, length 1 (8 bytes), the MAC.
pub const LL_OPT_LEN: usize = 8;
/// The longest frame [`Nd::write`] builds: Ethernet, IPv6, body and one option.
pub const MAX_FRAME_LEN: usize = ETH_LEN + IP6_LEN + BODY_LEN + LL_OPT_LEN;

const ICMP_OFF: usize = ETH_LEN + IP6_LEN;

/// Which of the two messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdOp {
    /// Neighbor Solicitation.
    Solicitation,
    /// Neighbor Advertisement with its R, S and O flags (RFC 4861 §4.4).
    Advertisement {
        /// Sent by a router.
        router: bool,
        /// In answer to a solicitation.
        solicited: bool,
        /// Overrides a cached link-layer address.
        override_: bool,
    },
}

/// The fields of a Neighbor Solicitation or Advertisement and its IPv6 addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nd {
    /// Solicitation or advertisement.
    pub op: NdOp,
    /// IPv6 source (unspecified for a duplicate address detection probe).
    pub src: Ipv6Addr,
    /// IPv6 destination.
    pub dst: Ipv6Addr,
    /// Target address.
    pub target: Ipv6Addr,
    /// Source link-layer option of an NS, target link-layer option of an NA.
    pub lladdr: Option<Mac>,
}

/// Why an ND frame was not accepted (RFC 4861 §7.1.1, §7.1.2 validity checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NdError {
    /// Not an untagged IPv6 frame carrying ICMPv6 type 135 or 136 directly.
    NotNd,
    /// Shorter than its headers say, or the ICMPv6 part shorter than 24 bytes.
    Truncated,
    /// Hop limit other than 255.
    HopLimit,
    /// ICMPv6 checksum wrong.
    Checksum,
    /// Code other than 0.
    Code,
    /// Multicast target address.
    Target,
    /// An option of length 0, or options running past the packet.
    Option,
    /// Unspecified source with a multicast-less destination or with a source option, or
    /// a solicited advertisement to a multicast group.
    Addressing,
}

/// The solicited-node multicast group of `a`: ff02::1:ff00:0/104 plus its low 24 bits
/// (RFC 4291 §2.7.1).
pub fn solicited_node(a: Ipv6Addr) -> Ipv6Addr {
    let o = a.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        bytes::be16(&o, 14),
    )
}

/// The Ethernet address of an IPv6 multicast group: 33:33 and its low 32 bits
/// (RFC 2464 §7).
pub fn multicast_mac(group: Ipv6Addr) -> Mac {
    let o = group.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

/// The link-local address of a port from its MAC, by modified EUI-64 (RFC 4291 §2.5.1,
/// appendix A; RFC 2464 §4-5: flip the universal/local bit, insert ff:fe).
pub fn link_local(mac: Mac) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o[0] = 0xfe;
    o[1] = 0x80;
    o[8] = mac[0] ^ 0x02;
    o[9] = mac[1];
    o[10] = mac[2];
    o[11] = 0xff;
    o[12] = 0xfe;
    o[13] = mac[3];
    o[14] = mac[4];
    o[15] = mac[5];
    Ipv6Addr::from(o)
}

/// Whether `a` is link-local unicast (fe80::/10).
pub fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

fn addr_at(f: &[u8], at: usize) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&f[at..at + 16]);
    Ipv6Addr::from(a)
}

/// Walks the options after the 24-byte body; returns the MAC of the first option of
/// `kind`, if any. Every option must have a non-zero length and fit (RFC 4861 §4.6).
fn find_ll_option(opts: &[u8], kind: u8) -> Result<Option<Mac>, NdError> {
    let mut at = 0;
    let mut found = None;
    while at < opts.len() {
        let len = usize::from(*opts.get(at + 1).ok_or(NdError::Option)?) * 8;
        if len == 0 || at + len > opts.len() {
            return Err(NdError::Option);
        }
        if opts[at] == kind && len >= LL_OPT_LEN && found.is_none() {
            let m = &opts[at + 2..at + 8];
            found = Some([m[0], m[1], m[2], m[3], m[4], m[5]]);
        }
        at += len;
    }
    Ok(found)
}

impl Nd {
    /// The NS or NA in an untagged Ethernet frame, validated as RFC 4861 §7.1.1 and
    /// §7.1.2 say (hop limit 255, checksum, code 0, length, target not multicast,
    /// options of non-zero length, DAD addressing, no solicited NA to a group).
    pub fn parse(f: &[u8]) -> Result<Nd, NdError> {
        // The ICMPv6 type byte must be there (a frame that ends right before it is not ND).
        if f.len() <= ICMP_OFF || bytes::be16(f, 12) != ETHERTYPE_IPV6 || f[ETH_LEN] >> 4 != 6 {
            return Err(NdError::NotNd);
        }
        let ip = &f[ETH_LEN..];
        if ip[ipv6::field::NXT_HDR] != proto::ICMPV6 {
            return Err(NdError::NotNd);
        }
        let ty = f[ICMP_OFF];
        if ty != TYPE_NEIGHBOR_SOLICITATION && ty != TYPE_NEIGHBOR_ADVERTISEMENT {
            return Err(NdError::NotNd);
        }
        let plen = usize::from(bytes::be16(ip, ipv6::field::LENGTH.start));
        if plen < BODY_LEN || IP6_LEN + plen > ip.len() {
            return Err(NdError::Truncated);
        }
        if ip[ipv6::field::HOP_LIMIT] != HOP_LIMIT {
            return Err(NdError::HopLimit);
        }
        let (src, dst) = (addr_at(ip, 8), addr_at(ip, 24));
        let icmp = &ip[IP6_LEN..IP6_LEN + plen];
        let pseudo = checksum::pseudo_header_v6(&src, &dst, proto::ICMPV6, plen as u32);
        if !checksum::is_valid_sum(checksum::sum(icmp, pseudo)) {
            return Err(NdError::Checksum);
        }
        if icmp[1] != 0 {
            return Err(NdError::Code);
        }
        let target = addr_at(icmp, 8);
        if target.is_multicast() {
            return Err(NdError::Target);
        }
        let opts = &icmp[BODY_LEN..];
        let nd = if ty == TYPE_NEIGHBOR_SOLICITATION {
            let lladdr = find_ll_option(opts, OPT_SOURCE_LL)?;
            if src.is_unspecified() && (lladdr.is_some() || dst != solicited_node(target)) {
                return Err(NdError::Addressing);
            }
            Nd {
                op: NdOp::Solicitation,
                src,
                dst,
                target,
                lladdr,
            }
        } else {
            let fl = icmp[4];
            let solicited = fl & 0x40 != 0;
            if solicited && dst.is_multicast() {
                return Err(NdError::Addressing);
            }
            Nd {
                op: NdOp::Advertisement {
                    router: fl & 0x80 != 0,
                    solicited,
                    override_: fl & 0x20 != 0,
                },
                src,
                dst,
                target,
                lladdr: find_ll_option(opts, OPT_TARGET_LL)?,
            }
        };
        Ok(nd)
    }

    /// Length of the frame [`Nd::write`] builds.
    pub fn frame_len(&self) -> usize {
        ICMP_OFF + BODY_LEN + if self.lladdr.is_some() { LL_OPT_LEN } else { 0 }
    }

    /// Writes this packet as a frame from `eth_src` to `eth_dst` into the start of `buf`
    /// (hop limit 255, checksum filled in); returns the frame length, or `None` when `buf`
    /// is too short.
    pub fn write(&self, eth_src: Mac, eth_dst: Mac, buf: &mut [u8]) -> Option<usize> {
        let len = self.frame_len();
        let buf = buf.get_mut(..len)?;
        buf.fill(0);
        buf[0..6].copy_from_slice(&eth_dst);
        buf[6..12].copy_from_slice(&eth_src);
        bytes::set_be16(buf, 12, ETHERTYPE_IPV6);
        let plen = len - ICMP_OFF;
        ipv6::emit_header(
            &mut buf[ETH_LEN..],
            plen as u16,
            proto::ICMPV6,
            HOP_LIMIT,
            self.src,
            self.dst,
        )?;
        let icmp = &mut buf[ICMP_OFF..];
        let opt_kind = match self.op {
            NdOp::Solicitation => {
                icmp[0] = TYPE_NEIGHBOR_SOLICITATION;
                OPT_SOURCE_LL
            }
            NdOp::Advertisement {
                router,
                solicited,
                override_,
            } => {
                icmp[0] = TYPE_NEIGHBOR_ADVERTISEMENT;
                icmp[4] =
                    u8::from(router) << 7 | u8::from(solicited) << 6 | u8::from(override_) << 5;
                OPT_TARGET_LL
            }
        };
        icmp[8..24].copy_from_slice(&self.target.octets());
        if let Some(mac) = self.lladdr {
            icmp[24] = opt_kind;
            icmp[25] = 1;
            icmp[26..32].copy_from_slice(&mac);
        }
        let pseudo = checksum::pseudo_header_v6(&self.src, &self.dst, proto::ICMPV6, plen as u32);
        let c = checksum::finish(checksum::sum(icmp, pseudo));
        bytes::set_be16(icmp, 2, c);
        Some(len)
    }

    /// The solicited advertisement answering this solicitation for our `target`, sent
    /// from `our_src` (RFC 4861 §7.2.4): to the soliciting node, or to all-nodes when it
    /// probed from the unspecified address (then not marked solicited); override set
    /// (the target is not anycast), router flag set (we forward).
    pub fn answer(&self, our_src: Ipv6Addr, our_mac: Mac) -> Nd {
        let dad = self.src.is_unspecified();
        Nd {
            op: NdOp::Advertisement {
                router: true,
                solicited: !dad,
                override_: true,
            },
            src: our_src,
            dst: if dad { ALL_NODES } else { self.src },
            target: self.target,
            lladdr: Some(our_mac),
        }
    }
}

/// The all-nodes group ff02::1 (RFC 4291 §2.7.1).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// An IPv6 frame a router handles itself rather than forwarding (RFC 4861, RFC 2710,
/// RFC 3810, RFC 4291 §2.5.6: link-local addresses are never forwarded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv6Local {
    /// Neighbor Solicitation or Advertisement: for the neighbor table.
    Neighbor,
    /// Router Solicitation/Advertisement or Redirect.
    Router,
    /// MLD query or report.
    Mld,
    /// Another packet to a link-local or multicast destination, or from a link-local
    /// source (not forwardable).
    LinkScope,
}

/// What `f` (an Ethernet frame, one 802.1Q tag allowed) is, if it is an IPv6 frame a
/// router consumes; `None` for everything else (not IPv6, forwardable, malformed: the
/// engine judges those). Cheap: the fixed header and the extension-header walk.
pub fn classify_local(f: &[u8]) -> Option<Ipv6Local> {
    let mut l3 = ETH_LEN;
    let mut et = bytes::get16(f, 12)?;
    if et == ETHERTYPE_VLAN {
        et = bytes::get16(f, 16)?;
        l3 = ETH_LEN + 4;
    }
    if et != ETHERTYPE_IPV6 {
        return None;
    }
    let ip = ipv6::Ipv6Packet::new_checked_header(f.get(l3..)?).ok()?;
    let icmp_type = ip
        .walk_ext_headers()
        .ok()
        .filter(|e| e.upper == proto::ICMPV6 && e.fragment.is_none_or(|fr| fr.offset == 0))
        .and_then(|e| ip.payload().get(e.offset).copied());
    match icmp_type {
        Some(TYPE_NEIGHBOR_SOLICITATION | TYPE_NEIGHBOR_ADVERTISEMENT) => {
            return Some(Ipv6Local::Neighbor)
        }
        Some(TYPE_ROUTER_SOLICITATION | TYPE_ROUTER_ADVERTISEMENT | TYPE_REDIRECT) => {
            return Some(Ipv6Local::Router)
        }
        Some(t) if MLD_TYPES.contains(&t) => return Some(Ipv6Local::Mld),
        _ => {}
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    (dst.is_multicast() || is_link_local(dst) || is_link_local(src)).then_some(Ipv6Local::LinkScope)
}

#[cfg(test)]
mod tests;
