//! Errors of parsing, rewriting and building.
//!
//! A bad packet is counted, never a panic: every variant maps to an [`ErrorClass`] (which
//! protocol's counter to bump) and a stable short [`WireError::reason`] string.

use thiserror::Error;

/// Which protocol an error is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorClass {
    /// Not an IP frame (ARP, LLDP, …): not malformed, just not ours.
    NonIp,
    /// IPv4/IPv6 header (including IPv6 extension headers).
    Ip,
    /// TCP header.
    Tcp,
    /// UDP header.
    Udp,
    /// ICMP/ICMPv6 header or the packet quoted in an ICMP error.
    Icmp,
    /// Anything else: Ethernet runts, GRE, SCTP, and misuse of rewrite/build calls.
    Other,
}

impl ErrorClass {
    /// Short lower-case name, for counters.
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::NonIp => "non-ip",
            ErrorClass::Ip => "ip",
            ErrorClass::Tcp => "tcp",
            ErrorClass::Udp => "udp",
            ErrorClass::Icmp => "icmp",
            ErrorClass::Other => "other",
        }
    }
}

/// Why a reply builder refused to answer a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoReplyReason {
    /// Never an ICMP error about an ICMP error (RFC 1812 §4.3.2.7, RFC 4443 §2.4(e.1)).
    IcmpError,
    /// Only the first fragment identifies the flow (RFC 1812 §4.3.2.7, RFC 4443 §2.4(e.4)).
    NonFirstFragment,
    /// IP or link-layer multicast destination (RFC 1812 §4.3.2.7, RFC 4443 §2.4(e.3),
    /// RFC 1122 §4.2.3.10 for TCP).
    MulticastDestination,
    /// Limited broadcast destination (same RFCs).
    BroadcastDestination,
    /// The source does not name a unique host: unspecified, loopback, multicast,
    /// broadcast or class E (RFC 1812 §4.3.2.7, RFC 4443 §2.4(e.5)).
    InvalidSource,
    /// Never a reset in reply to a reset (RFC 9293 §3.10.7.1).
    Rst,
}

impl std::fmt::Display for NoReplyReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NoReplyReason::IcmpError => "packet is an ICMP error",
            NoReplyReason::NonFirstFragment => "packet is a non-first fragment",
            NoReplyReason::MulticastDestination => "multicast destination",
            NoReplyReason::BroadcastDestination => "broadcast destination",
            NoReplyReason::InvalidSource => "source is not a unique host",
            NoReplyReason::Rst => "packet is a TCP reset",
        })
    }
}

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum WireError {
    /// Frame shorter than its Ethernet (or 802.1Q) header.
    #[error("frame shorter than its Ethernet header")]
    EthernetTruncated,
    /// Ethertype is neither IPv4 nor IPv6 (after at most one 802.1Q tag).
    #[error("not an IP packet (ethertype {ethertype:#06x})")]
    NotIp {
        /// The ethertype found (the inner one for tagged frames).
        ethertype: u16,
    },
    /// Shorter than the fixed IPv4 (20) or IPv6 (40) header.
    #[error("IP header truncated")]
    IpTruncated,
    /// The version nibble does not match the ethertype.
    #[error("IP version {version} does not match the ethertype")]
    IpVersion {
        /// Version nibble found.
        version: u8,
    },
    /// IPv4 IHL below 5 or beyond the buffer.
    #[error("bad IPv4 header length")]
    IpHeaderLength,
    /// IPv4 total length / IPv6 payload length inconsistent with the header or the frame.
    #[error("bad IP total length")]
    IpTotalLength,
    /// IPv4 header checksum does not verify (RFC 791).
    #[error("bad IPv4 header checksum")]
    IpChecksum,
    /// IPv6 extension header truncated, misplaced or too many (RFC 8200 §4).
    #[error("bad IPv6 extension header chain")]
    Ipv6ExtensionHeader,
    /// IPv4 option with a length below 2 or past the header (RFC 791 §3.1).
    #[error("bad IPv4 option")]
    IpOption,
    /// TCP header truncated or data offset out of range.
    #[error("bad TCP header length")]
    TcpHeaderLength,
    /// TCP source or destination port 0.
    #[error("TCP source or destination port zero")]
    TcpPortZero,
    /// UDP header truncated or UDP length inconsistent with the IP length.
    #[error("bad UDP header length")]
    UdpHeaderLength,
    /// UDP source or destination port 0.
    #[error("UDP source or destination port zero")]
    UdpPortZero,
    /// ICMP header shorter than 8 bytes.
    #[error("ICMP header truncated")]
    IcmpTruncated,
    /// The packet quoted in an ICMP error cannot be parsed far enough for its flow key.
    #[error("ICMP error quotes a malformed packet")]
    IcmpQuote,
    /// GRE header truncated.
    #[error("GRE header truncated")]
    GreTruncated,
    /// GRE version other than 0 (RFC 2784) or 1 (RFC 2637).
    #[error("unsupported GRE version {version}")]
    GreVersion {
        /// Version field found.
        version: u8,
    },
    /// SCTP common header shorter than 12 bytes.
    #[error("SCTP header truncated")]
    SctpTruncated,
    /// An address of the other family than the packet's was given.
    #[error("address family does not match the packet")]
    FamilyMismatch,
    /// Port rewrite asked for a packet without rewritable ports.
    #[error("packet has no ports to rewrite")]
    NoPorts,
    /// ICMP identifier rewrite asked for a packet that is not an ICMP query.
    #[error("packet is not an ICMP query")]
    NotIcmpQuery,
    /// Embedded-packet rewrite asked for a packet that is not an ICMP error.
    #[error("packet is not an ICMP error")]
    NotIcmpError,
    /// TCP-only operation on another protocol.
    #[error("packet is not TCP")]
    NotTcp,
    /// GRE operation on a packet without the field (no GRE, no key, not version 1).
    #[error("packet has no such GRE field")]
    NoGreField,
    /// TTL / hop limit would reach 0 (RFC 1812 §5.3.1); the frame is unchanged.
    #[error("TTL expired")]
    TtlExpired,
    /// The output buffer cannot hold the reply.
    #[error("output buffer too small: {needed} bytes needed")]
    BufferTooSmall {
        /// Bytes the reply needs.
        needed: usize,
    },
    /// The builder must not answer this packet.
    #[error("no reply allowed: {reason}")]
    NoReply {
        /// Which rule forbids it.
        reason: NoReplyReason,
    },
    /// The `Parsed` given does not describe this frame (offsets out of range).
    #[error("parse result does not match the frame")]
    OutOfBounds,
}

impl WireError {
    /// Which protocol's counter this error belongs to.
    pub fn class(&self) -> ErrorClass {
        use WireError::*;
        match self {
            NotIp { .. } => ErrorClass::NonIp,
            IpTruncated
            | IpVersion { .. }
            | IpHeaderLength
            | IpTotalLength
            | IpChecksum
            | Ipv6ExtensionHeader
            | IpOption => ErrorClass::Ip,
            TcpHeaderLength | TcpPortZero => ErrorClass::Tcp,
            UdpHeaderLength | UdpPortZero => ErrorClass::Udp,
            IcmpTruncated | IcmpQuote => ErrorClass::Icmp,
            EthernetTruncated
            | GreTruncated
            | GreVersion { .. }
            | SctpTruncated
            | FamilyMismatch
            | NoPorts
            | NotIcmpQuery
            | NotIcmpError
            | NotTcp
            | NoGreField
            | TtlExpired
            | BufferTooSmall { .. }
            | NoReply { .. }
            | OutOfBounds => ErrorClass::Other,
        }
    }

    /// Stable short description, for counter names and logs; unique within a class.
    pub fn reason(&self) -> &'static str {
        use WireError::*;
        match self {
            EthernetTruncated => "truncated",
            NotIp { .. } => "non-IP",
            IpTruncated => "truncated",
            IpVersion { .. } => "IP version",
            IpHeaderLength => "IP header length",
            IpTotalLength => "IP total length",
            IpChecksum => "IP header checksum",
            Ipv6ExtensionHeader => "IPv6 extension header",
            IpOption => "IP option",
            TcpHeaderLength => "TCP header length check failed",
            TcpPortZero => "TCP source or destination port zero",
            UdpHeaderLength => "UDP header length check failed",
            UdpPortZero => "UDP port zero",
            IcmpTruncated => "ICMP header length check failed",
            IcmpQuote => "ICMP embedded packet malformed",
            GreTruncated => "GRE header length check failed",
            GreVersion { .. } => "GRE version",
            SctpTruncated => "SCTP header length check failed",
            FamilyMismatch => "address family mismatch",
            NoPorts => "no ports",
            NotIcmpQuery => "not an ICMP query",
            NotIcmpError => "not an ICMP error",
            NotTcp => "not TCP",
            NoGreField => "no GRE field",
            TtlExpired => "TTL expired",
            BufferTooSmall { .. } => "buffer too small",
            NoReply { .. } => "reply not allowed",
            OutOfBounds => "parse does not match frame",
        }
    }
}
