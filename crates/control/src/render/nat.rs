//! `show services nat pool`, `show services nat mappings summary`,
//! `show services nat statistics` and `show services service-sets summary`: renderers for
//! backends that provide the data (see [`crate::Backend`]'s optional methods).

use std::fmt::Write as _;

use crate::backend::{
    DetNatBlock, NatMappingsSummary, NatPoolInfo, NatStatistics, PortBlockInfo, ServiceSetsSummary,
};
use crate::render::sessions::compare_interfaces;
use crate::tree::Element;

fn sort_pools(pools: &mut [NatPoolInfo]) {
    pools.sort_by(|a, b| {
        compare_interfaces(&a.interface, &b.interface)
            .then_with(|| a.service_set.cmp(&b.service_set))
            .then_with(|| a.pool.cmp(&b.pool))
    });
}

/// ```text
/// Interface: ms-1/1/0, Service set: ss
/// NAT pool: p1, Translation type: NAPT-44
/// Address range: 203.0.113.128-203.0.113.255
/// Port range: 1024-65535
/// ```
/// `detail` adds `Available addresses: N`, `Out of address errors: N, Addresses in use: N`
/// and, for pools with ports, `Ports in use: N, Out of port errors: N, Max ports in use: N`.
pub fn render_nat_pools(pools: &[NatPoolInfo], detail: bool) -> String {
    let mut pools = pools.to_vec();
    sort_pools(&mut pools);
    let mut out = String::new();
    let mut current: Option<(String, String)> = None;
    for p in &pools {
        let key = (p.interface.clone(), p.service_set.clone());
        if current.as_ref() != Some(&key) {
            if current.is_some() {
                out.push('\n');
            }
            let _ = writeln!(
                out,
                "Interface: {}, Service set: {}",
                p.interface, p.service_set
            );
            current = Some(key);
        }
        let _ = writeln!(
            out,
            "NAT pool: {}, Translation type: {}",
            p.pool, p.translation_type
        );
        for r in &p.address_ranges {
            let _ = writeln!(out, "Address range: {r}");
        }
        if let Some(r) = &p.port_range {
            let _ = writeln!(out, "Port range: {r}");
        }
        if detail {
            let _ = writeln!(out, "Available addresses: {}", p.available_addresses);
            let _ = writeln!(
                out,
                "Out of address errors: {}, Addresses in use: {}",
                p.out_of_address_errors, p.addresses_in_use
            );
            if p.port_range.is_some() {
                let _ = writeln!(
                    out,
                    "Ports in use: {}, Out of port errors: {}, Max ports in use: {}",
                    p.ports_in_use, p.out_of_port_errors, p.max_ports_in_use
                );
            }
            if let Some(b) = &p.port_blocks {
                render_port_blocks(&mut out, b);
            }
        }
    }
    out
}

/// What `port-block-type` says of a pool with secured or deterministic port blocks.
fn block_type(b: &PortBlockInfo) -> &'static str {
    if b.deterministic {
        "Deterministic port block allocation"
    } else {
        "Secured port block allocation"
    }
}

/// The port block lines of a pool's detail (the fields of the Junos page "show services
/// nat pool": secured port block allocation, or deterministic NAT's blocks).
fn render_port_blocks(out: &mut String, b: &PortBlockInfo) {
    let _ = writeln!(
        out,
        "Port block type: {}, Port block size: {}",
        block_type(b),
        b.block_size
    );
    if !b.deterministic {
        let _ = writeln!(
            out,
            "Max number of port blocks per address: {}, Active block timeout: {}",
            b.max_blocks_per_address, b.active_block_timeout
        );
    }
    let _ = writeln!(
        out,
        "Effective port blocks: {}, Effective ports: {}",
        b.effective_port_blocks, b.effective_ports
    );
    let _ = writeln!(
        out,
        "Current number of port blocks in use: {}, Max number of port blocks used: {}",
        b.blocks_in_use, b.max_blocks_used
    );
    if b.deterministic {
        let _ = writeln!(
            out,
            "Deterministic NAT subscribers exceeded port limits: {}",
            b.detnat_subscriber_exceeded_port_limits
        );
    } else {
        let _ = writeln!(
            out,
            "Port block allocation errors: {}, Port blocks limit exceeded errors: {}",
            b.allocation_errors, b.limit_exceeded_errors
        );
    }
    let _ = writeln!(out, "Pool users: {}", b.pool_users);
}

/// The port block leaves of a `service-nat-pool` in detail (names as Junos's, e.g. in
/// the CGNAT test library's and junos_exporter's readers of this RPC).
fn port_block_leaves(e: &mut Element, b: &PortBlockInfo) {
    e.push(Element::leaf("port-block-type", block_type(b)));
    e.push(Element::leaf("port-block-size", b.block_size));
    if !b.deterministic {
        e.push(Element::leaf(
            "max-blocks-per-address",
            b.max_blocks_per_address,
        ));
        e.push(Element::leaf(
            "active-block-timeout",
            b.active_block_timeout,
        ));
    }
    e.push(Element::leaf(
        "effective-port-blocks",
        b.effective_port_blocks,
    ));
    e.push(Element::leaf("effective-ports", b.effective_ports));
    e.push(Element::leaf("port-blocks-in-use", b.blocks_in_use));
    e.push(Element::leaf("max-port-blocks-used", b.max_blocks_used));
    if b.deterministic {
        e.push(Element::leaf(
            "detnat-subscriber-exceeded-port-limits",
            b.detnat_subscriber_exceeded_port_limits,
        ));
    } else {
        e.push(Element::leaf(
            "port-block-allocation-errors",
            b.allocation_errors,
        ));
        e.push(Element::leaf(
            "port-blocks-limit-exceeded-errors",
            b.limit_exceeded_errors,
        ));
    }
    e.push(Element::leaf("pool-users", b.pool_users));
}

/// `service-nat-pool-information/sfw-per-service-set-nat-pool/{interface-name,
/// service-set-name, service-nat-pool/{pool-name, translation-type,
/// pool-address-range-list/pool-address-range, pool-port-range, …}}`.
pub fn nat_pools_tree(pools: &[NatPoolInfo], detail: bool) -> Element {
    let mut pools = pools.to_vec();
    sort_pools(&mut pools);
    let style = if detail { "detail" } else { "brief" };
    let mut root = Element::new("service-nat-pool-information");
    let mut group: Option<Element> = None;
    let mut key: Option<(String, String)> = None;
    for p in &pools {
        let k = (p.interface.clone(), p.service_set.clone());
        if key.as_ref() != Some(&k) {
            if let Some(g) = group.take() {
                root.push(g);
            }
            group = Some(
                Element::new("sfw-per-service-set-nat-pool")
                    .attr("junos:style", style)
                    .with_leaf("interface-name", &p.interface)
                    .with_leaf("service-set-name", &p.service_set),
            );
            key = Some(k);
        }
        let mut ranges = Element::new("pool-address-range-list");
        for r in &p.address_ranges {
            ranges.push(Element::leaf("pool-address-range", r));
        }
        let mut e = Element::new("service-nat-pool")
            .with_leaf("pool-name", &p.pool)
            .with_leaf("translation-type", &p.translation_type)
            .with(ranges);
        if let Some(r) = &p.port_range {
            e.push(Element::leaf("pool-port-range", r));
        }
        if detail {
            e.push(Element::leaf(
                "pool-available-addresses",
                p.available_addresses,
            ));
            e.push(Element::leaf("pool-addresses-in-use", p.addresses_in_use));
            e.push(Element::leaf(
                "pool-out-of-address-errors",
                p.out_of_address_errors,
            ));
            if p.port_range.is_some() {
                e.push(Element::leaf("pool-ports-in-use", p.ports_in_use));
                e.push(Element::leaf(
                    "pool-out-of-port-errors",
                    p.out_of_port_errors,
                ));
                e.push(Element::leaf("pool-max-ports-in-use", p.max_ports_in_use));
            }
            if let Some(b) = &p.port_blocks {
                port_block_leaves(&mut e, b);
            }
        }
        if let Some(g) = group.as_mut() {
            g.push(e);
        }
    }
    if let Some(g) = group {
        root.push(g);
    }
    root
}

const MAPPING_LABEL: usize = 53;

/// ```text
/// Service Interface:                                   ms-2/0/0
/// Total number of address mappings:                    1853
/// Total number of endpoint independent port mappings:  531054
/// Total number of endpoint independent filters:        534237
/// ```
pub fn render_nat_mappings_summary(rows: &[NatMappingsSummary]) -> String {
    let mut rows = rows.to_vec();
    rows.sort_by(|a, b| compare_interfaces(&a.interface, &b.interface));
    let mut out = String::new();
    for (n, r) in rows.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        for (label, value) in [
            ("Service Interface:", r.interface.clone()),
            (
                "Total number of address mappings:",
                r.address_mappings.to_string(),
            ),
            (
                "Total number of endpoint independent port mappings:",
                r.eim_port_mappings.to_string(),
            ),
            (
                "Total number of endpoint independent filters:",
                r.eif_filters.to_string(),
            ),
        ] {
            let _ = writeln!(out, "{label:<MAPPING_LABEL$}{value}");
        }
    }
    out
}

/// `service-nat-mapping-summary/nat-mapping-summary/{interface-name,
/// total-address-mappings, total-eim-port-mappings, total-eif-filters}`.
pub fn nat_mappings_summary_tree(rows: &[NatMappingsSummary]) -> Element {
    let mut rows = rows.to_vec();
    rows.sort_by(|a, b| compare_interfaces(&a.interface, &b.interface));
    let mut root = Element::new("service-nat-mapping-summary");
    for r in &rows {
        root.push(
            Element::new("nat-mapping-summary")
                .with_leaf("interface-name", &r.interface)
                .with_leaf("total-address-mappings", r.address_mappings)
                .with_leaf("total-eim-port-mappings", r.eim_port_mappings)
                .with_leaf("total-eif-filters", r.eif_filters),
        );
    }
    root
}

/// `Interface: ms-1/1/0` then `  name: value`, one counter a line, in the backend's order.
pub fn render_nat_statistics(stats: &[NatStatistics]) -> String {
    let mut out = String::new();
    for (n, st) in stats.iter().enumerate() {
        let (ifname, counters) = (&st.interface, &st.counters);
        if n > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "Interface: {ifname}");
        for (name, v) in counters {
            let _ = writeln!(out, "  {name}: {v}");
        }
    }
    out
}

/// `service-nat-statistics-information` with one `service-nat-statistics` per interface:
/// `interface-name` then one leaf per counter (named by the backend, `nat-total-…`).
pub fn nat_statistics_tree(stats: &[NatStatistics]) -> Element {
    let mut root = Element::new("service-nat-statistics-information");
    for st in stats {
        let (ifname, counters) = (&st.interface, &st.counters);
        let mut e = Element::new("service-nat-statistics").with_leaf("interface-name", ifname);
        for (name, v) in counters {
            e.push(Element::leaf(name.as_str(), v));
        }
        root.push(e);
    }
    root
}

/// ```text
/// Interface      Service sets    Bytes used              Policy bytes used       CPU
///                configured                                                      utilization
/// ms-2/2/0       4               1553115152 (13.45%)     3565120 ( 0.33%)        1.42 %
/// ```
pub fn render_service_sets_summary(rows: &[ServiceSetsSummary]) -> String {
    let mut out = format!(
        "{:<15}{:<16}{:<24}{:<24}{}\n{:<15}{:<16}{:<24}{:<24}{}\n",
        "Interface",
        "Service sets",
        "Bytes used",
        "Policy bytes used",
        "CPU",
        "",
        "configured",
        "",
        "",
        "utilization"
    );
    let mut rows = rows.to_vec();
    rows.sort_by(|a, b| compare_interfaces(&a.interface, &b.interface));
    for r in &rows {
        let _ = writeln!(
            out,
            "{:<15}{:<16}{:<24}{:<24}{:.2} %",
            r.interface,
            r.service_sets_configured,
            format!("{} ({:5.2}%)", r.bytes_used, r.percent_bytes_used),
            format!(
                "{} ({:5.2}%)",
                r.policy_bytes_used, r.percent_policy_bytes_used
            ),
            r.cpu_utilization_percent
        );
    }
    out
}

/// `service-set-summary-information/service-set-summary-information-entry/{interface-name,
/// service-set-service-type-entry/{service-sets-configured, service-set-bytes-used,
/// service-set-percent-bytes-used, service-set-policy-bytes-used,
/// service-set-percent-policy-bytes-used, service-set-cpu-utilization}}`.
pub fn service_sets_summary_tree(rows: &[ServiceSetsSummary]) -> Element {
    let mut rows = rows.to_vec();
    rows.sort_by(|a, b| compare_interfaces(&a.interface, &b.interface));
    let mut root = Element::new("service-set-summary-information");
    for r in &rows {
        root.push(
            Element::new("service-set-summary-information-entry")
                .with_leaf("interface-name", &r.interface)
                .with(
                    Element::new("service-set-service-type-entry")
                        .with_leaf("service-sets-configured", r.service_sets_configured)
                        .with_leaf("service-set-bytes-used", r.bytes_used)
                        .with_leaf(
                            "service-set-percent-bytes-used",
                            format!("{:.2}", r.percent_bytes_used),
                        )
                        .with_leaf("service-set-policy-bytes-used", r.policy_bytes_used)
                        .with_leaf(
                            "service-set-percent-policy-bytes-used",
                            format!("{:.2}", r.percent_policy_bytes_used),
                        )
                        .with_leaf(
                            "service-set-cpu-utilization",
                            format!("{:.2} %", r.cpu_utilization_percent),
                        ),
                ),
        );
    }
    root
}

/// `show services nat deterministic-nat nat-port-block` and `… internal-host`, one entry
/// per subscriber found:
/// ```text
/// Interface: ms-1/1/0, Service set: ss
/// NAT pool: det
/// Internal host: 10.0.0.77, NAT IP: 203.0.113.129, NAT port block: 13120-14127
/// ```
pub fn render_detnat(rows: &[DetNatBlock]) -> String {
    let mut out = String::new();
    for r in rows {
        let _ = writeln!(
            out,
            "Interface: {}, Service set: {}",
            r.interface, r.service_set
        );
        let _ = writeln!(out, "NAT pool: {}", r.pool);
        let _ = writeln!(
            out,
            "Internal host: {}, NAT IP: {}, NAT port block: {}-{}",
            r.internal, r.nat_ip, r.port_low, r.port_high
        );
    }
    out
}

/// `service-detnat-information/{interface-name, service-set-name, pool-name,
/// detnat-internal-host, detnat-nat-ip, detnat-nat-port-low, detnat-nat-port-high}`
/// (the element names Junos's CGNAT test library reads), repeated per subscriber.
pub fn detnat_tree(rows: &[DetNatBlock]) -> Element {
    let mut root = Element::new("service-detnat-information");
    for r in rows {
        root.push(Element::leaf("interface-name", &r.interface));
        root.push(Element::leaf("service-set-name", &r.service_set));
        root.push(Element::leaf("pool-name", &r.pool));
        root.push(Element::leaf("detnat-internal-host", r.internal));
        root.push(Element::leaf("detnat-nat-ip", r.nat_ip));
        root.push(Element::leaf("detnat-nat-port-low", r.port_low));
        root.push(Element::leaf("detnat-nat-port-high", r.port_high));
    }
    root
}
