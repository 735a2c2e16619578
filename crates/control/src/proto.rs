//! IP protocol names as the commands read and print them.
//!
//! Temporary local copy with the same function names as `mspic_wire::proto`; it is replaced by
//! a re-export of that module once it exists, so protocol names have one definition.

/// Upper-case name printed in the `Flow`/protocol column (`TCP`, `ICMPV6`), `None` when the
/// protocol is printed as its number.
pub fn show_name(protocol: u8) -> Option<&'static str> {
    Some(match protocol {
        1 => "ICMP",
        6 => "TCP",
        17 => "UDP",
        47 => "GRE",
        58 => "ICMPV6",
        _ => return None,
    })
}

/// Protocol numbers accepted by name after `protocol` (Junos CLI keywords).
const KEYWORDS: [(&str, u8); 14] = [
    ("ah", 51),
    ("egp", 8),
    ("esp", 50),
    ("gre", 47),
    ("icmp", 1),
    ("icmp6", 58),
    ("igmp", 2),
    ("ipip", 4),
    ("ospf", 89),
    ("pim", 103),
    ("rsvp", 46),
    ("sctp", 132),
    ("tcp", 6),
    ("udp", 17),
];

/// The protocol number for a Junos keyword (`tcp` → 6).
pub fn from_keyword(word: &str) -> Option<u8> {
    KEYWORDS.iter().find(|(k, _)| *k == word).map(|&(_, p)| p)
}

/// The Junos keyword for a protocol number, if it has one.
pub fn keyword(protocol: u8) -> Option<&'static str> {
    KEYWORDS
        .iter()
        .find(|(_, p)| *p == protocol)
        .map(|&(k, _)| k)
}

/// Every keyword, in CLI order (for error messages).
pub fn keywords() -> impl Iterator<Item = &'static str> {
    KEYWORDS.iter().map(|&(k, _)| k)
}
