//! IP protocol numbers (IANA "Assigned Internet Protocol Numbers") and their names.
//!
//! The one definition in the project: the config parser uses [`from_keyword`] for
//! `protocol <name>` match conditions, the show renderers use [`show_name`].

/// IPv6 hop-by-hop options (RFC 8200 §4.3).
pub const HOPOPT: u8 = 0;
/// ICMP (RFC 792).
pub const ICMP: u8 = 1;
/// IGMP (RFC 1112).
pub const IGMP: u8 = 2;
/// IPv4 in IP (RFC 2003).
pub const IPIP: u8 = 4;
/// TCP (RFC 9293).
pub const TCP: u8 = 6;
/// EGP (RFC 888).
pub const EGP: u8 = 8;
/// UDP (RFC 768).
pub const UDP: u8 = 17;
/// IPv6 in IP (RFC 2473).
pub const IPV6: u8 = 41;
/// IPv6 routing header (RFC 8200 §4.4).
pub const IPV6_ROUTE: u8 = 43;
/// IPv6 fragment header (RFC 8200 §4.5).
pub const IPV6_FRAG: u8 = 44;
/// RSVP (RFC 2205).
pub const RSVP: u8 = 46;
/// GRE (RFC 2784, RFC 2637).
pub const GRE: u8 = 47;
/// ESP (RFC 4303).
pub const ESP: u8 = 50;
/// AH (RFC 4302).
pub const AH: u8 = 51;
/// ICMPv6 (RFC 4443).
pub const ICMPV6: u8 = 58;
/// IPv6 "no next header" (RFC 8200 §4.7).
pub const IPV6_NONXT: u8 = 59;
/// IPv6 destination options (RFC 8200 §4.6).
pub const IPV6_OPTS: u8 = 60;
/// OSPF (RFC 2328).
pub const OSPF: u8 = 89;
/// PIM (RFC 7761).
pub const PIM: u8 = 103;
/// SCTP (RFC 9260).
pub const SCTP: u8 = 132;

/// Whether `p`'s header starts with 16-bit source and destination ports (TCP, UDP, SCTP):
/// the protocols a flow key, a port match and a quoted packet read ports from.
pub fn has_ports(p: u8) -> bool {
    matches!(p, TCP | UDP | SCTP)
}

/// Keyword ↔ number table for Junos `protocol` match conditions.
pub const KEYWORDS: &[(&str, u8)] = &[
    ("ah", AH),
    ("egp", EGP),
    ("esp", ESP),
    ("gre", GRE),
    ("icmp", ICMP),
    ("icmp6", ICMPV6),
    ("igmp", IGMP),
    ("ipip", IPIP),
    ("ospf", OSPF),
    ("pim", PIM),
    ("rsvp", RSVP),
    ("sctp", SCTP),
    ("tcp", TCP),
    ("udp", UDP),
];

/// Name as Junos prints it in `show services sessions` (upper case), for the
/// protocols it names; `None` otherwise (the caller prints the number).
pub fn show_name(p: u8) -> Option<&'static str> {
    match p {
        TCP => Some("TCP"),
        UDP => Some("UDP"),
        ICMP => Some("ICMP"),
        GRE => Some("GRE"),
        ICMPV6 => Some("ICMPV6"),
        _ => None,
    }
}

/// Protocol number of a Junos config keyword (`tcp`, `icmp6`, …); also accepts `icmpv6`.
/// Case-sensitive, as Junos keywords are.
pub fn from_keyword(s: &str) -> Option<u8> {
    if s == "icmpv6" {
        return Some(ICMPV6);
    }
    KEYWORDS.iter().find(|(k, _)| *k == s).map(|&(_, p)| p)
}

/// The config keyword of a protocol number (the reverse of [`from_keyword`]; `icmp6`
/// for 58).
pub fn keyword(p: u8) -> Option<&'static str> {
    KEYWORDS.iter().find(|&&(_, n)| n == p).map(|&(k, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_round_trip() {
        for &(k, p) in KEYWORDS {
            assert_eq!(from_keyword(k), Some(p));
            assert_eq!(keyword(p), Some(k));
        }
        assert_eq!(from_keyword("icmpv6"), Some(58));
        assert_eq!(from_keyword("TCP"), None);
        assert_eq!(keyword(200), None);
        assert_eq!(show_name(58), Some("ICMPV6"));
        assert_eq!(show_name(50), None);
    }
}
