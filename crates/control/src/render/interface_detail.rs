//! `show interfaces ms-x/y/z [brief|detail|extensive]`: the normal and extensive layouts
//! of a Junos services interface ("show interfaces (Adaptive Services)" and its
//! extensive sample), with `interface-information` (`junos:style` `normal` / `extensive`).
//!
//! ```text
//! Physical interface: ms-1/1/0, Enabled, Physical link is Up
//!   Interface index: 128, SNMP ifIndex: 628
//!   Type: Adaptive-Services, Link-level type: Adaptive-Services, MTU: 9192
//!   …
//!   Logical interface ms-1/1/0.0 (Index 64) (SNMP ifIndex 564)
//!     Flags: Point-To-Point SNMP-Traps Encapsulation: Adaptive-Services
//!     Input packets : 12
//!     Output packets: 11
//!     Protocol inet, MTU: 9192
//! ```
//! Text and XML are built from the same [`InterfacesAnswer`]. The counters are the
//! engine's per-services-interface traffic, summed over the shards. The engine counts per
//! interface, not per unit: a unit shows counters only when it is its interface's only
//! unit. Rates are those of the engine's last whole second. `brief` prints as the default
//! level and `detail` as `extensive`.

use std::fmt::Write as _;

use mspic_flow::InterfaceTraffic;

use crate::render::interfaces::{TerseRow, INTERFACE_XMLNS};
use crate::tree::Element;

/// The MTU Junos reports for a services interface and its families.
const MTU: u32 = 9192;
/// What an SNMP ifIndex is offset from the interface index.
const SNMP_OFFSET: u32 = 500;
const TYPE: &str = "Adaptive-Services";

/// What `show interfaces NAME [level]` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfacesAnswer {
    /// The interfaces (or the one unit) asked for, as [`super::interfaces::select`] gives.
    pub rows: Vec<TerseRow>,
    /// Traffic per physical services interface, merged over the shards.
    pub traffic: Vec<(String, InterfaceTraffic)>,
    /// The extensive layout (else the normal one).
    pub extensive: bool,
}

impl InterfacesAnswer {
    /// The counters of a physical interface, or of a unit that is its interface's only one.
    fn counters(&self, row: &TerseRow) -> Option<InterfaceTraffic> {
        let physical = match row.name.split_once('.') {
            None => row.name.as_str(),
            Some((p, _)) if row.sole_unit => p,
            Some(_) => return None,
        };
        let mut sum = InterfaceTraffic::default();
        for (_, t) in self.traffic.iter().filter(|(n, _)| n == physical) {
            sum.merge(t);
        }
        Some(sum)
    }
}

/// `Input  bytes  :` and the other counter lines: label, value and (physical) rate.
const COUNTER_LABELS: [&str; 4] = [
    "Input  bytes  :",
    "Output bytes  :",
    "Input  packets:",
    "Output packets:",
];

fn counter_values(t: &InterfaceTraffic) -> [u64; 4] {
    [
        t.input_bytes,
        t.output_bytes,
        t.input_packets,
        t.output_packets,
    ]
}

/// The rates beside [`counter_values`]: bits, then frames per second.
fn rate_values(t: &InterfaceTraffic) -> [u64; 4] {
    [t.input_bps, t.output_bps, t.input_pps, t.output_pps]
}

/// The text of every interface asked for, separated by empty lines.
pub fn render(a: &InterfacesAnswer) -> String {
    let mut out = String::new();
    for (n, r) in a.rows.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        if r.name.contains('.') {
            push_logical(&mut out, a, r);
        } else {
            push_physical(&mut out, a, r);
        }
    }
    out
}

fn push_physical(out: &mut String, a: &InterfacesAnswer, r: &TerseRow) {
    let t = a.counters(r).unwrap_or_default();
    let _ = writeln!(
        out,
        "Physical interface: {}, Enabled, Physical link is Up",
        r.name
    );
    let _ = write!(
        out,
        "  Interface index: {}, SNMP ifIndex: {}",
        r.index,
        r.index + SNMP_OFFSET
    );
    out.push_str(if a.extensive {
        ", Generation: 1\n"
    } else {
        "\n"
    });
    let _ = write!(out, "  Type: {TYPE}, Link-level type: {TYPE}, MTU: {MTU}");
    out.push_str(if a.extensive {
        ",\n  Clocking: Unspecified, Speed: Unspecified\n"
    } else {
        "\n"
    });
    out.push_str(
        "  Device flags   : Present Running\n\
         \x20 Interface flags: Point-To-Point SNMP-Traps Internal: 0x4000\n\
         \x20 Link type      : Full-Duplex\n\
         \x20 Link flags     : None\n",
    );
    if a.extensive {
        out.push_str(
            "  Physical info  : Unspecified\n\
             \x20 Hold-times     : Up 0 ms, Down 0 ms\n\
             \x20 Current address: Unspecified, Hardware address: Unspecified\n\
             \x20 Alternate link address: Unspecified\n\
             \x20 Statistics last cleared: Never\n\
             \x20 Traffic statistics:\n",
        );
        let values = counter_values(&t).into_iter().zip(rate_values(&t));
        for (i, (label, (v, rate))) in COUNTER_LABELS.iter().zip(values).enumerate() {
            let unit = if i < 2 { "bps" } else { "pps" };
            let _ = writeln!(out, "   {label}{v:>21}{rate:>21} {unit}");
        }
        let _ = writeln!(
            out,
            "  Input errors:\n    Errors: 0, Drops: {}, Framing errors: 0, Runts: 0, Giants: 0,\n    \
             Policed discards: 0, Resource errors: 0\n  Output errors:\n    \
             Carrier transitions: 0, Errors: 0, Drops: 0, MTU errors: 0,\n    Resource errors: 0",
            t.drops
        );
    } else {
        let _ = writeln!(
            out,
            "  Input rate     : {} bps ({} pps)\n  Output rate    : {} bps ({} pps)",
            t.input_bps, t.input_pps, t.output_bps, t.output_pps
        );
    }
    for u in &r.units {
        out.push('\n');
        push_logical(out, a, u);
    }
}

fn push_logical(out: &mut String, a: &InterfacesAnswer, u: &TerseRow) {
    let _ = write!(
        out,
        "  Logical interface {} (Index {}) (SNMP ifIndex {})",
        u.name,
        u.index,
        u.index + SNMP_OFFSET
    );
    out.push_str(if a.extensive {
        " (Generation 1)\n"
    } else {
        "\n"
    });
    let _ = writeln!(
        out,
        "    Flags: Point-To-Point SNMP-Traps Encapsulation: {TYPE}"
    );
    if let Some(t) = a.counters(u) {
        if a.extensive {
            out.push_str("    Traffic statistics:\n");
            for (label, v) in COUNTER_LABELS.iter().zip(counter_values(&t)) {
                let _ = writeln!(out, "     {label}{v:>21}");
            }
        } else {
            let _ = writeln!(out, "    Input packets : {}", t.input_packets);
            let _ = writeln!(out, "    Output packets: {}", t.output_packets);
        }
    }
    for f in &u.families {
        let _ = write!(out, "    Protocol {f}, MTU: {MTU}");
        out.push_str(if a.extensive {
            ", Generation: 1, Route table: 0\n"
        } else {
            "\n"
        });
        out.push_str("      Flags: Receive-options, Receive-TTL-Exceeded\n");
    }
}

/// `interface-information` with the element names of Junos's `physical-interface` /
/// `logical-interface` replies.
pub fn tree(a: &InterfacesAnswer) -> Element {
    let style = if a.extensive { "extensive" } else { "normal" };
    let mut root = Element::new("interface-information")
        .attr("xmlns", INTERFACE_XMLNS)
        .attr("junos:style", style);
    for r in &a.rows {
        root.push(if r.name.contains('.') {
            logical_tree(a, r)
        } else {
            physical_tree(a, r)
        });
    }
    root
}

fn flags(name: &str, flags: &[&str]) -> Element {
    let mut e = Element::new(name);
    for f in flags {
        e.push(Element::new(*f));
    }
    e
}

fn physical_tree(a: &InterfacesAnswer, r: &TerseRow) -> Element {
    let t = a.counters(r).unwrap_or_default();
    let mut e = Element::new("physical-interface")
        .with_leaf("name", &r.name)
        .with(Element::leaf("admin-status", "up").attr("junos:format", "Enabled"))
        .with_leaf("oper-status", "up")
        .with_leaf("local-index", r.index)
        .with_leaf("snmp-index", r.index + SNMP_OFFSET)
        .with_leaf("if-type", TYPE)
        .with_leaf("link-level-type", TYPE)
        .with_leaf("mtu", MTU)
        .with(flags("if-device-flags", &["ifdf-present", "ifdf-running"]))
        .with(flags("if-config-flags", &["iff-snmp-traps"]))
        .with_leaf("link-type", "Full-Duplex");
    let mut stats = Element::new("traffic-statistics");
    if a.extensive {
        e.push(Element::leaf("statistics-cleared", "Never"));
        for (name, v) in [
            ("input-bytes", t.input_bytes),
            ("input-bps", t.input_bps),
            ("output-bytes", t.output_bytes),
            ("output-bps", t.output_bps),
            ("input-packets", t.input_packets),
            ("input-pps", t.input_pps),
            ("output-packets", t.output_packets),
            ("output-pps", t.output_pps),
        ] {
            stats.push(Element::leaf(name, v));
        }
        e.push(stats);
        e.push(leaves(
            "input-error-list",
            &[
                ("input-errors", 0),
                ("input-drops", t.drops),
                ("framing-errors", 0),
                ("input-runts", 0),
                ("input-giants", 0),
                ("input-discards", 0),
                ("input-resource-errors", 0),
            ],
        ));
        e.push(leaves(
            "output-error-list",
            &[
                ("carrier-transitions", 0),
                ("output-errors", 0),
                ("output-drops", 0),
                ("mtu-errors", 0),
                ("output-resource-errors", 0),
            ],
        ));
    } else {
        stats = stats.attr("junos:style", "brief");
        for (name, v) in [
            ("input-bps", t.input_bps),
            ("input-pps", t.input_pps),
            ("output-bps", t.output_bps),
            ("output-pps", t.output_pps),
        ] {
            stats.push(Element::leaf(name, v));
        }
        e.push(stats);
    }
    for u in &r.units {
        e.push(logical_tree(a, u));
    }
    e
}

fn leaves(name: &str, values: &[(&str, u64)]) -> Element {
    let mut e = Element::new(name);
    for (n, v) in values {
        e.push(Element::leaf(*n, v));
    }
    e
}

fn logical_tree(a: &InterfacesAnswer, u: &TerseRow) -> Element {
    let mut e = Element::new("logical-interface")
        .with_leaf("name", &u.name)
        .with_leaf("local-index", u.index)
        .with_leaf("snmp-index", u.index + SNMP_OFFSET)
        .with(flags(
            "if-config-flags",
            &["iff-point-to-point", "iff-snmp-traps"],
        ))
        .with_leaf("encapsulation", TYPE);
    if let Some(t) = a.counters(u) {
        let mut stats = Element::new("traffic-statistics");
        if a.extensive {
            stats.push(Element::leaf("input-bytes", t.input_bytes));
            stats.push(Element::leaf("output-bytes", t.output_bytes));
        } else {
            stats = stats.attr("junos:style", "brief");
        }
        stats.push(Element::leaf("input-packets", t.input_packets));
        stats.push(Element::leaf("output-packets", t.output_packets));
        e.push(stats);
    }
    for f in &u.families {
        e.push(
            Element::new("address-family")
                .with_leaf("address-family-name", f)
                .with_leaf("mtu", MTU)
                .with(flags(
                    "address-family-flags",
                    &["ifff-receive-options", "ifff-receive-ttl-exceeded"],
                )),
        );
    }
    e
}
