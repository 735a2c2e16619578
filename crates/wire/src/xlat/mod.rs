//! Stateless IP/ICMP translation between IPv6 and IPv4 (RFC 7915), the packet core of
//! stateful NAT64 (RFC 6146).
//!
//! The stateful layer picks the addresses, ports and ICMP identifiers (a [`Rewrite`]);
//! [`ipv6_to_ipv4`] and [`ipv4_to_ipv6`] translate one packet (starting at its IP header)
//! into a caller-provided buffer and return the length written. Nothing allocates.
//!
//! What stays with the forwarding layer: the TTL / hop limit is copied, not decremented
//! (RFC 7915 §4.1 and §5.1 have the translator decrement it; the forwarding path already
//! does, and answers time exceeded); fragmenting a translated packet larger than the
//! next-hop MTU, and answering Packet Too Big / Fragmentation Needed for it; reassembly.
//! Fragments are translated one by one (§4.1.1, §5.1.1). An IPv6 UDP checksum of zero
//! (invalid there, RFC 8200 §8.1) goes out as IPv4's "no checksum".
//!
//! A packet that cannot be translated gives an [`XlatError`]: malformed input (a
//! [`WireError`], counted by its class), a type with no counterpart ([`Untranslatable`],
//! silently dropped as the RFC says), or an ICMP error to send back ([`Answer`]).

pub mod addr;
mod frag;
mod icmp;
mod ip;

use std::net::{Ipv4Addr, Ipv6Addr};

use thiserror::Error;

use crate::error::WireError;

pub use addr::{Nat64Prefix, PrefixError, WELL_KNOWN_PREFIX};

/// Addresses and transport identifiers of the translated packet; `None` keeps a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints<A> {
    /// Source address.
    pub src: A,
    /// Destination address.
    pub dst: A,
    /// TCP/UDP source port.
    pub src_port: Option<u16>,
    /// TCP/UDP destination port.
    pub dst_port: Option<u16>,
    /// ICMP echo identifier (RFC 6146 §3.5.3: it plays the part of the port).
    pub icmp_id: Option<u16>,
}

impl<A> Endpoints<A> {
    /// New addresses, ports and identifier kept (stateless translation).
    pub fn addrs(src: A, dst: A) -> Self {
        Endpoints {
            src,
            dst,
            src_port: None,
            dst_port: None,
            icmp_id: None,
        }
    }
}

/// What one translation writes: the packet's endpoints, and for an ICMP error those of
/// the packet it quotes (RFC 7915 §4.3, §5.3), whose source is normally the session's
/// far end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewrite<A> {
    /// The packet itself.
    pub outer: Endpoints<A>,
    /// The packet quoted in an ICMP error; an error without it is not translated.
    pub inner: Option<Endpoints<A>>,
}

/// What the forwarding layer knows: the next-hop MTUs (for Packet Too Big, RFC 7915 §4.2
/// and §5.2) and the IPv4 identification of an unfragmented IPv6 packet (§5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Identification for an IPv4 header made from an IPv6 packet without fragment header.
    pub ipv4_ident: u16,
    /// MTU toward the IPv4 next hop.
    pub ipv4_mtu: u16,
    /// MTU toward the IPv6 next hop.
    pub ipv6_mtu: u16,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            ipv4_ident: 0,
            ipv4_mtu: 1500,
            ipv6_mtu: 1500,
        }
    }
}

/// Why a well-formed packet is not translated (silently dropped, RFC 7915 §4 and §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Untranslatable {
    /// ICMP/ICMPv6 type with no counterpart: router/neighbor discovery, MLD,
    /// timestamps, redirects, source quench, unknown types (§4.2, §5.2).
    IcmpType,
    /// ICMP/ICMPv6 error code with no counterpart (§4.2, §5.2).
    IcmpCode,
    /// Parameter problem pointing at a field the other header lacks (§4.2 Figure 3,
    /// §5.2 Figure 6).
    ParameterPointer,
    /// ICMP error quoting an ICMP error: one level only (§4.3, §5.3).
    NestedIcmpError,
    /// Fragmented ICMP: its checksum cannot be translated without reassembly.
    FragmentedIcmp,
    /// ICMP error whose checksum does not verify (it would be made valid by the rewrite).
    IcmpChecksum,
    /// IPv4 fragment of UDP without checksum: IPv6 requires one (§4.5).
    UdpZeroChecksumFragment,
    /// ICMPv6 in IPv4 or ICMPv4 in IPv6: the protocol belongs to the other family.
    CrossFamilyIcmp,
    /// ICMP error translated without endpoints for the packet it quotes.
    NoQuoteRewrite,
}

impl Untranslatable {
    /// Stable short description, for counters and logs.
    pub fn reason(self) -> &'static str {
        match self {
            Untranslatable::IcmpType => "ICMP type not translatable",
            Untranslatable::IcmpCode => "ICMP code not translatable",
            Untranslatable::ParameterPointer => "parameter problem pointer not translatable",
            Untranslatable::NestedIcmpError => "ICMP error quotes an ICMP error",
            Untranslatable::FragmentedIcmp => "fragmented ICMP",
            Untranslatable::IcmpChecksum => "bad ICMP checksum",
            Untranslatable::UdpZeroChecksumFragment => "UDP fragment without checksum",
            Untranslatable::CrossFamilyIcmp => "ICMP of the other address family",
            Untranslatable::NoQuoteRewrite => "no rewrite for the quoted packet",
        }
    }
}

/// An ICMP error the translator is to send back to the packet's source instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Answer {
    /// ICMPv6 parameter problem, code 0, pointing at the Segments Left field of a routing
    /// header still to be processed (RFC 7915 §5.1, RFC 8200 §4.4).
    ParameterProblem {
        /// Offset of the field from the start of the IPv6 packet.
        pointer: u32,
    },
    /// ICMPv4 destination unreachable, code 5 (source route failed), for an unexpired
    /// source route option (RFC 7915 §4.1).
    SourceRouteFailed,
}

/// Why a packet was not translated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum XlatError {
    /// Malformed input or an output buffer too small.
    #[error(transparent)]
    Malformed(#[from] WireError),
    /// Well formed but with no counterpart in the other family.
    #[error("not translated: {}", .0.reason())]
    Untranslatable(Untranslatable),
    /// Not translated; the RFC has this error sent back.
    #[error("not translated, answered with {0:?}")]
    Answer(Answer),
}

impl XlatError {
    /// Stable short description, for counters and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            XlatError::Malformed(e) => e.reason(),
            XlatError::Untranslatable(u) => u.reason(),
            XlatError::Answer(Answer::ParameterProblem { .. }) => "routing header not translated",
            XlatError::Answer(Answer::SourceRouteFailed) => "source route not translated",
        }
    }
}

impl From<Untranslatable> for XlatError {
    fn from(u: Untranslatable) -> Self {
        XlatError::Untranslatable(u)
    }
}

/// Translates the IPv6 packet at the start of `input` (RFC 7915 §5) into `out`; returns
/// the length of the IPv4 packet written.
pub fn ipv6_to_ipv4(
    input: &[u8],
    out: &mut [u8],
    rw: &Rewrite<Ipv4Addr>,
    params: &Params,
) -> Result<usize, XlatError> {
    ip::v6_to_v4(input, out, rw, params, false)
}

/// Translates the IPv4 packet at the start of `input` (RFC 7915 §4) into `out`; returns
/// the length of the IPv6 packet written.
pub fn ipv4_to_ipv6(
    input: &[u8],
    out: &mut [u8],
    rw: &Rewrite<Ipv6Addr>,
    params: &Params,
) -> Result<usize, XlatError> {
    ip::v4_to_v6(input, out, rw, params, false)
}

#[cfg(test)]
mod tests;
