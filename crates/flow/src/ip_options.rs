//! `allow-ip-options` of a stateful-firewall term, compiled: which IPv4 options the packets
//! of its sessions may carry. A packet with any other option, or a malformed one, is
//! dropped and counted under "IP option" (`show services stateful-firewall statistics`);
//! the Junos stateful firewall drops packets with IP options unless the term allows them
//! ("allow-ip-options (Services)").

use mspic_config::names;
use mspic_wire::ipv4;
use mspic_wire::parse::{IpVersion, Parsed};

/// Allowed option numbers, one bit each (bit `n`: option number `n`, the low five bits of
/// the type octet, RFC 791 §3.1). `Copy` and small: every session keeps its term's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct IpOptionMask(pub u32);

impl IpOptionMask {
    /// No option allowed: the Junos default.
    pub const NONE: Self = Self(0);
    /// Every option allowed (`allow-ip-options any`, or no stateful firewall to ask).
    pub const ALL: Self = Self(u32::MAX);

    /// The mask of a term's `allow-ip-options` values (keywords or numbers, as the
    /// configuration checked them): `any` (0) allows all; a type octet (130, 148) or an
    /// option number (3, 7, …) allows that option number.
    pub fn compile(values: &[String]) -> Self {
        let mut m = 0u32;
        for v in values.iter().filter_map(|v| names::ip_option_value(v)) {
            if v == 0 {
                return Self::ALL;
            }
            m |= 1 << ipv4::option_number(v);
        }
        Self(m)
    }

    /// Whether the IPv4 options `options` pass: each well formed and of an allowed number
    /// (End of Option List and No Operation are padding, not options).
    pub fn allows(self, options: &[u8]) -> bool {
        ipv4::options(options).all(|t| t.is_ok_and(|t| self.0 & (1 << ipv4::option_number(t)) != 0))
    }

    /// Whether packet `p` (of `frame`) may pass: no options, or allowed ones.
    pub fn allows_packet(self, frame: &[u8], p: &Parsed) -> bool {
        !p.has_ip_options || self.allows(packet_options(frame, p))
    }
}

/// The option bytes of IPv4 packet `p` in `frame` (empty when it has none).
fn packet_options<'a>(frame: &'a [u8], p: &Parsed) -> &'a [u8] {
    if p.version != IpVersion::V4 {
        return &[];
    }
    frame
        .get(p.l3_offset + ipv4::MIN_HEADER_LEN..p.l4_offset)
        .unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (allow-ip-options values, option bytes, passes).
    #[test]
    fn allowed_options_by_keyword_number_and_any() {
        let ra = [148u8, 4, 0, 0];
        let lsrr = [131u8, 7, 4, 192, 0, 2, 1, 0];
        let ts = [68u8, 4, 5, 0];
        let bad = [148u8, 9, 0, 0];
        let cases: &[(&[&str], &[u8], bool)] = &[
            (&[], &[], true),
            (&[], &ra, false),
            (&["router-alert"], &ra, true),
            (&["148"], &ra, true),
            (&["20"], &ra, true),
            (&["router-alert"], &lsrr, false),
            (&["loose-source-route"], &lsrr, true),
            (&["3"], &lsrr, true),
            (&["timestamp", "router-alert"], &[ts, ra].concat(), true),
            (&["timestamp"], &[ts, ra].concat(), false),
            (&["any"], &[68, 4, 5, 0, 131, 7, 4, 192, 0, 2, 1, 0], true),
            (&["any"], &bad, false),
            (&["router-alert"], &bad, false),
            (&["0"], &lsrr, true),
            (&[], &[1, 1, 1, 0], true),
        ];
        for &(values, opts, want) in cases {
            let values: Vec<String> = values.iter().map(|s| s.to_string()).collect();
            let m = IpOptionMask::compile(&values);
            assert_eq!(m.allows(opts), want, "{values:?} {opts:?}");
        }
    }
}
