//! `show services stateful-firewall statistics [brief|detail|extensive]`.
//!
//! ```text
//! Interface: ms-1/1/0
//!   New flows:
//!     Rule Accepts: 5, Rule Discards: 0, Rule Rejects: 0
//!   Existing flow types packet counters:
//!     Accepts: 120, Drop: 0, Rejects: 0
//!   …
//! ```
//! One table drives the text and the XML: each section has a title, an XML name and its
//! counters (label, XML name, value); plain sections print several counters per line,
//! the extensive-only detail sections one per line. Interfaces are separated by an empty line.

use std::fmt::Write as _;

use mspic_flow::SfwStats;

use crate::render::sessions::compare_interfaces;
use crate::tree::Element;

/// One counter: text label, XML element name, value.
pub struct Counter {
    pub label: &'static str,
    pub xml: &'static str,
    pub get: fn(&SfwStats) -> u64,
}

/// A titled group of counters.
pub struct Section {
    pub title: &'static str,
    pub xml: &'static str,
    /// Counters printed on one text line.
    pub per_line: usize,
    /// Printed only by `extensive` (and `detail`).
    pub extensive_only: bool,
    pub counters: &'static [Counter],
}

macro_rules! counters {
    ($( $label:literal, $xml:literal, |$s:ident| $e:expr; )*) => {
        &[ $( Counter { label: $label, xml: $xml, get: |$s: &SfwStats| $e } ),* ]
    };
}

/// Every section, in display order.
pub const SECTIONS: &[Section] = &[
    Section {
        title: "New flows",
        xml: "new-flows",
        per_line: 3,
        extensive_only: false,
        counters: counters! {
            "Rule Accepts", "rule-accepts", |s| s.rule_accepts;
            "Rule Discards", "rule-discards", |s| s.rule_discards;
            "Rule Rejects", "rule-rejects", |s| s.rule_rejects;
        },
    },
    Section {
        title: "Existing flow types packet counters",
        xml: "existing-flow-types-packet-counters",
        per_line: 3,
        extensive_only: false,
        counters: counters! {
            "Accepts", "accepts", |s| s.existing_accepts;
            "Drop", "drop", |s| s.existing_drops;
            "Rejects", "rejects", |s| s.existing_rejects;
        },
    },
    Section {
        title: "Hairpinning counters",
        xml: "hairpinning-counters",
        per_line: 2,
        extensive_only: false,
        counters: counters! {
            "Slow Path Hairpinned Packets", "slow-path-hairpinned-packets", |s| s.hairpin_slow_path;
            "Fast Path Hairpinned Packets", "fast-path-hairpinned-packets", |s| s.hairpin_fast_path;
        },
    },
    Section {
        title: "Drops",
        xml: "drops",
        per_line: 2,
        extensive_only: false,
        counters: counters! {
            "IP option", "ip-option", |s| s.drop_ip_options;
            "TCP SYN defense", "tcp-syn-defense", |s| s.drop_tcp_syn_defense;
            "NAT ports exhausted", "nat-ports-exhausted", |s| s.drop_nat_ports_exhausted;
            "Session limit exceeded", "session-limit-exceeded", |s| s.drop_session_limit;
            "No route", "no-route", |s| s.drop_no_route;
            "TTL exceeded", "ttl-exceeded", |s| s.drop_ttl_exceeded;
            "Bad checksum", "bad-checksum", |s| s.drop_bad_checksum;
            "TCP first packet not SYN", "tcp-non-syn-first-packet", |s| s.drop_tcp_non_syn_first;
            "ICMP error without flow", "icmp-error-without-flow", |s| s.drop_icmp_error_no_session;
        },
    },
    Section {
        title: "Errors",
        xml: "errors",
        per_line: 2,
        extensive_only: false,
        counters: counters! {
            "IP", "ip", |s| s.errors.ip.total;
            "TCP", "tcp", |s| s.errors.tcp.total;
            "UDP", "udp", |s| s.errors.udp.total;
            "ICMP", "icmp", |s| s.errors.icmp.total;
            "Non-IP packets", "non-ip-packets", |s| s.errors.non_ip;
            "ALG", "alg", |s| s.errors.alg;
        },
    },
    Section {
        title: "ALG pinholes",
        xml: "alg-pinholes",
        per_line: 2,
        extensive_only: false,
        counters: counters! {
            "Created", "created", |s| s.alg.pinholes_created;
            "Used", "used", |s| s.alg.pinholes_used;
            "Expired", "expired", |s| s.alg.pinholes_expired;
            "Closed with parent", "closed-with-parent", |s| s.alg.closed_with_parent;
        },
    },
    Section {
        title: "IP Errors",
        xml: "ip-errors",
        per_line: 1,
        extensive_only: true,
        counters: counters! {
            "Truncated packets", "truncated-packets", |s| s.errors.ip.truncated;
            "Minimum IP header length check failures", "ip-header-length-failures", |s| s.errors.ip.bad_header_length;
            "IP packet length inconsistencies", "ip-packet-length-inconsistencies", |s| s.errors.ip.bad_total_length;
            "Non-IPv4/IPv6 version", "bad-ip-version", |s| s.errors.ip.bad_version;
            "Bad checksum", "bad-checksum", |s| s.errors.ip.bad_checksum;
            "TTL zero errors", "ttl-zero-errors", |s| s.errors.ip.ttl_zero;
            "Illegal source address", "illegal-source-address", |s| s.errors.ip.bad_source_address;
            "IP fragment errors", "ip-fragment-errors", |s| s.errors.ip.fragment;
        },
    },
    Section {
        title: "TCP Errors",
        xml: "tcp-errors",
        per_line: 1,
        extensive_only: true,
        counters: counters! {
            "TCP header length inconsistencies", "tcp-header-length-inconsistencies", |s| s.errors.tcp.header_length;
            "Source or destination port number is zero", "port-number-zero", |s| s.errors.tcp.port_zero;
            "Illegal sequence number and flags combination", "illegal-flags-combination", |s| s.errors.tcp.bad_flags;
            "Bad checksum", "bad-checksum", |s| s.errors.tcp.bad_checksum;
            "First packet not a SYN message", "first-packet-not-syn", |s| s.errors.tcp.non_syn_first;
        },
    },
    Section {
        title: "UDP Errors",
        xml: "udp-errors",
        per_line: 1,
        extensive_only: true,
        counters: counters! {
            "IP data length less than minimum UDP header length (8 bytes)", "udp-header-length-errors", |s| s.errors.udp.header_length;
            "Source or destination port number is zero", "port-number-zero", |s| s.errors.udp.port_zero;
            "Bad checksum", "bad-checksum", |s| s.errors.udp.bad_checksum;
        },
    },
    Section {
        title: "ICMP Errors",
        xml: "icmp-errors",
        per_line: 1,
        extensive_only: true,
        counters: counters! {
            "IP data length less than minimum ICMP header length (8 bytes)", "icmp-header-length-errors", |s| s.errors.icmp.header_length;
            "ICMP error without matching flow", "icmp-error-without-flow", |s| s.errors.icmp.error_no_session;
            "Bad checksum", "bad-checksum", |s| s.errors.icmp.bad_checksum;
        },
    },
    Section {
        title: "ALG counters",
        xml: "alg-counters",
        per_line: 1,
        extensive_only: true,
        counters: counters! {
            "Payload rewrites", "payload-rewrites", |s| s.alg.payload_rewrites;
            "Segments with a length change", "length-changes", |s| s.alg.length_changes;
            "Command lines split across segments", "partial-lines", |s| s.alg.partial_lines;
            "Addresses naming a third host", "third-host-addresses", |s| s.alg.third_host;
            "Malformed messages", "malformed-messages", |s| s.alg.malformed;
            "Rewrites without room", "rewrites-without-room", |s| s.alg.no_room;
            "NAT ports exhausted", "nat-ports-exhausted", |s| s.alg.nat_exhausted;
            "Sessions closed by response", "closed-by-response", |s| s.alg.closed_by_response;
            "Programs or interfaces not admitted", "not-admitted", |s| s.alg.not_admitted;
        },
    },
];

/// Counter values of one interface, summed over the entries the backend gave for it;
/// `values[i][j]` is counter `j` of section `i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceStats {
    pub interface: String,
    pub values: Vec<Vec<u64>>,
}

/// Adds up entries of the same interface and sorts by interface.
pub fn merge_stats(stats: &[(String, SfwStats)]) -> Vec<InterfaceStats> {
    let mut out: Vec<InterfaceStats> = Vec::new();
    for (ifname, s) in stats {
        let idx = match out.iter().position(|e| e.interface == *ifname) {
            Some(i) => i,
            None => {
                out.push(InterfaceStats {
                    interface: ifname.clone(),
                    values: SECTIONS
                        .iter()
                        .map(|sec| vec![0; sec.counters.len()])
                        .collect(),
                });
                out.len() - 1
            }
        };
        for (sec, vals) in SECTIONS.iter().zip(out[idx].values.iter_mut()) {
            for (c, v) in sec.counters.iter().zip(vals.iter_mut()) {
                *v = v.saturating_add((c.get)(s));
            }
        }
    }
    out.sort_by(|a, b| compare_interfaces(&a.interface, &b.interface));
    out
}

/// Statistics text for interfaces already merged and sorted.
pub fn render_sfw_statistics(stats: &[InterfaceStats], extensive: bool) -> String {
    let mut out = String::new();
    for (n, st) in stats.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "Interface: {}", st.interface);
        for (sec, vals) in SECTIONS.iter().zip(&st.values) {
            if sec.extensive_only && !extensive {
                continue;
            }
            let _ = writeln!(out, "  {}:", sec.title);
            let pairs: Vec<String> = sec
                .counters
                .iter()
                .zip(vals)
                .map(|(c, v)| format!("{}: {}", c.label, v))
                .collect();
            for chunk in pairs.chunks(sec.per_line) {
                let _ = writeln!(out, "    {}", chunk.join(", "));
            }
        }
    }
    out
}

/// `service-sfw-statistics-information` with one `service-sfw-statistics` per interface:
/// `interface-name`, then one element per section holding one leaf per counter.
pub fn sfw_statistics_tree(stats: &[InterfaceStats], extensive: bool) -> Element {
    let mut root = Element::new("service-sfw-statistics-information")
        .attr("junos:style", if extensive { "extensive" } else { "brief" });
    for st in stats {
        let mut e =
            Element::new("service-sfw-statistics").with_leaf("interface-name", &st.interface);
        for (sec, vals) in SECTIONS.iter().zip(&st.values) {
            if sec.extensive_only && !extensive {
                continue;
            }
            let mut se = Element::new(sec.xml);
            for (c, v) in sec.counters.iter().zip(vals) {
                se.push(Element::leaf(c.xml, v));
            }
            e.push(se);
        }
        root.push(e);
    }
    root
}
