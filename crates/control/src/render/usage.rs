//! `show services service-sets cpu-usage` and `show services service-sets memory-usage`
//! (Junos pages of the same names). The XML of `cpu-usage` is the one the open-source
//! junos_exporter NAT collector parses (`pkg/features/nat2`:
//! `service-set-cpu-statistics-information/service-set-cpu-statistics/{interface-name,
//! service-set-name, cpu-utilization-percent}`, the percentage a bare number), with the
//! `System` and `Idle` category rows after the service sets of an interface as a PIC
//! prints them. `memory-usage` answers `service-set-memory-statistics-information` (the
//! reply the JUNOScript `services_methods` table names) with the same row shape and the
//! bytes in `service-set-bytes-used`, as `show services service-sets summary` names them;
//! the column widths of both texts are mspic's.

use std::fmt::Write;

use crate::backend::{ServiceSetCpuUsage, ServiceSetMemoryUsage};
use crate::render::sessions::compare_interfaces;
use crate::tree::Element;

/// Rows grouped by interface, in the order the backend gave within one.
fn by_interface<T: Clone>(rows: &[T], iface: impl Fn(&T) -> &str) -> Vec<T> {
    let mut rows = rows.to_vec();
    rows.sort_by(|a, b| compare_interfaces(iface(a), iface(b)));
    rows
}

/// ```text
/// Interface      Service Set                       CPU Utilization
/// ms-1/1/0       ss                                       12.50 %
/// ms-1/1/0       System                                    3.10 %
/// ms-1/1/0       Idle                                     84.40 %
/// ```
pub fn render_cpu_usage(rows: &[ServiceSetCpuUsage]) -> String {
    let mut out = format!(
        "{:<15}{:<30}{:>19}\n",
        "Interface", "Service Set", "CPU Utilization"
    );
    for r in by_interface(rows, |r| &r.interface) {
        let pct = format!("{:.2} %", r.percent);
        let _ = writeln!(out, "{:<15}{:<30}{:>19}", r.interface, r.service_set, pct);
    }
    out
}

/// `service-set-cpu-statistics-information/service-set-cpu-statistics/{service-set-name,
/// interface-name, cpu-utilization-percent}`.
pub fn cpu_usage_tree(rows: &[ServiceSetCpuUsage]) -> Element {
    let mut root = Element::new("service-set-cpu-statistics-information");
    for r in by_interface(rows, |r| &r.interface) {
        root.push(
            Element::new("service-set-cpu-statistics")
                .with_leaf("service-set-name", &r.service_set)
                .with_leaf("interface-name", &r.interface)
                .with_leaf("cpu-utilization-percent", format!("{:.2}", r.percent)),
        );
    }
    root
}

/// ```text
/// Interface      Service Set                            Bytes Used
/// ms-1/1/0       ss                                         183040
/// ```
pub fn render_memory_usage(rows: &[ServiceSetMemoryUsage]) -> String {
    let mut out = format!(
        "{:<15}{:<30}{:>19}\n",
        "Interface", "Service Set", "Bytes Used"
    );
    for r in by_interface(rows, |r| &r.interface) {
        let _ = writeln!(
            out,
            "{:<15}{:<30}{:>19}",
            r.interface, r.service_set, r.bytes
        );
    }
    out
}

/// `service-set-memory-statistics-information/service-set-memory-statistics/
/// {service-set-name, interface-name, service-set-bytes-used}`.
pub fn memory_usage_tree(rows: &[ServiceSetMemoryUsage]) -> Element {
    let mut root = Element::new("service-set-memory-statistics-information");
    for r in by_interface(rows, |r| &r.interface) {
        root.push(
            Element::new("service-set-memory-statistics")
                .with_leaf("service-set-name", &r.service_set)
                .with_leaf("interface-name", &r.interface)
                .with_leaf("service-set-bytes-used", r.bytes),
        );
    }
    root
}
