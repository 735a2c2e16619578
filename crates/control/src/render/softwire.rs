//! `show services softwire statistics`: what the DS-Lite concentrators of each services
//! interface did (RFC 6333).
//!
//! The layout follows the Junos MS-PIC statistics pages' form ("Service PIC Name", then
//! `name :value` rows); the Junos sample of this command was not available to compare
//! with, so the row names are mspic's (docs/commands.md).

use std::fmt::Write as _;

use mspic_flow::SoftwireStats;

use crate::tree::Element;

/// One services interface's softwire counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoftwireStatistics {
    /// The services interface (`ms-1/1/0`).
    pub interface: String,
    /// Its counters, summed over the shards.
    pub stats: SoftwireStats,
}

/// The rows: text label, XML element, value.
fn rows(s: &SoftwireStats) -> [(&'static str, &'static str, u64); 9] {
    [
        (
            "Packets decapsulated",
            "decapsulated-packets",
            s.decapsulated,
        ),
        (
            "Packets encapsulated",
            "encapsulated-packets",
            s.encapsulated,
        ),
        ("Flows created", "flows-created", s.flows_created),
        (
            "ICMP fragmentation needed sent",
            "icmp-fragmentation-needed-sent",
            s.too_big,
        ),
        (
            "Packets too big for mtu-v6 dropped",
            "mtu-v6-drops",
            s.mtu_drops,
        ),
        (
            "Tunnel packets dropped",
            "tunnel-packet-drops",
            s.decap_errors,
        ),
        (
            "Tunnel packets reassembled",
            "reassembled-packets",
            s.reassembled,
        ),
        (
            "Tunnel fragments dropped",
            "reassembly-drops",
            s.reassembly_drops,
        ),
        (
            "Packets fragmented for mtu-v6",
            "fragmented-packets",
            s.fragmented,
        ),
    ]
}

/// ```text
/// DS-Lite Statistics:
///
/// Service PIC Name                                      :ms-1/1/0
///
/// Statistics
/// ----------
/// Packets decapsulated                                  :3
/// …
/// ```
pub fn render_softwire_statistics(stats: &[SoftwireStatistics]) -> String {
    let mut out = String::from("DS-Lite Statistics:\n");
    for st in stats {
        let _ = write!(
            out,
            "\n{:<54}:{}\n\nStatistics\n----------\n",
            "Service PIC Name", st.interface
        );
        for (label, _, v) in rows(&st.stats) {
            let _ = writeln!(out, "{label:<54}:{v}");
        }
    }
    out
}

/// `service-softwire-statistics-information` with one `service-softwire-statistics` per
/// interface: `interface-name` then one leaf per counter.
pub fn softwire_statistics_tree(stats: &[SoftwireStatistics]) -> Element {
    let mut root = Element::new("service-softwire-statistics-information");
    for st in stats {
        let mut e =
            Element::new("service-softwire-statistics").with_leaf("interface-name", &st.interface);
        for (_, name, v) in rows(&st.stats) {
            e.push(Element::leaf(name, v));
        }
        root.push(e);
    }
    root
}
