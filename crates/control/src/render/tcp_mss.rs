//! `show services service-sets statistics tcp-mss` (Junos "show services service-sets
//! statistics tcp-mss"): per service set with `tcp-mss`, the TCP SYNs it saw and those
//! whose MSS option it lowered. The page lists the columns (Interface, Service Set, SYN
//! Received, SYN Modified) and its sample starts `Interface   Serv…`; the other column
//! widths, and the XML below the reply element the JUNOScript `services_methods` table
//! names, are mspic's (no complete sample was at hand).

use std::fmt::Write;

use crate::backend::TcpMssStatistics;
use crate::render::sessions::compare_interfaces;
use crate::tree::Element;

fn sorted(rows: &[TcpMssStatistics]) -> Vec<TcpMssStatistics> {
    let mut rows = rows.to_vec();
    rows.sort_by(|a, b| {
        compare_interfaces(&a.interface, &b.interface)
            .then_with(|| a.service_set.cmp(&b.service_set))
    });
    rows
}

/// ```text
/// Interface   Service Set         SYN Received   SYN Modified
/// ms-1/1/0    ss                  4              2
/// ```
pub fn render_tcp_mss_statistics(rows: &[TcpMssStatistics]) -> String {
    let mut out = format!(
        "{:<12}{:<20}{:<15}{}\n",
        "Interface", "Service Set", "SYN Received", "SYN Modified"
    );
    for r in sorted(rows) {
        let _ = writeln!(
            out,
            "{:<12}{:<20}{:<15}{}",
            r.interface, r.service_set, r.syn_received, r.syn_modified
        );
    }
    out
}

/// `service-set-tcp-mss-statistics/service-set-tcp-mss-statistics-entry/{interface-name,
/// service-set-name, syn-received, syn-modified}`.
pub fn tcp_mss_statistics_tree(rows: &[TcpMssStatistics]) -> Element {
    let mut root = Element::new("service-set-tcp-mss-statistics");
    for r in sorted(rows) {
        root.push(
            Element::new("service-set-tcp-mss-statistics-entry")
                .with_leaf("interface-name", &r.interface)
                .with_leaf("service-set-name", &r.service_set)
                .with_leaf("syn-received", r.syn_received)
                .with_leaf("syn-modified", r.syn_modified),
        );
    }
    root
}
