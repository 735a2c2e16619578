//! `show services nat mappings [brief|detail] [POOL]`, `… endpoint-independent` and
//! `… address-pooling-paired` (Junos "show services nat mappings"): per services interface,
//! service set and pool, the paired-pooling address mappings (`Address Mapping`), then the
//! endpoint-independent port mappings (`Mapping`).

use std::fmt::Write as _;

use crate::backend::{NatAddressMapping, NatMapping};
use crate::render::sessions::compare_interfaces;
use crate::tree::Element;

/// What one of the commands shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingsAnswer {
    /// Endpoint-independent mappings.
    pub ports: Vec<NatMapping>,
    /// Paired-pooling address mappings.
    pub addresses: Vec<NatAddressMapping>,
    /// `detail` (counts and state) or `brief` (the mapping lines).
    pub detail: bool,
    /// The reply element (from the RPC table).
    pub root: &'static str,
}

impl MappingsAnswer {
    /// Keeps the mappings of pool `pool` only.
    pub fn only_pool(&mut self, pool: &str) {
        self.ports.retain(|m| m.pool == pool);
        self.addresses.retain(|m| m.pool == pool);
    }
}

/// One line group: an address mapping or a port mapping.
enum Item<'a> {
    Address(&'a NatAddressMapping),
    Port(&'a NatMapping),
}

impl<'a> Item<'a> {
    fn group(&self) -> (&'a str, &'a str, &'a str) {
        match self {
            Item::Address(m) => (&m.interface, &m.service_set, &m.pool),
            Item::Port(m) => (&m.interface, &m.service_set, &m.pool),
        }
    }

    /// Address mappings first, each kind by internal endpoint.
    fn order(&self) -> (u8, std::net::IpAddr, u16, u8) {
        match self {
            Item::Address(m) => (0, m.internal_address, 0, 0),
            Item::Port(m) => (1, m.internal_address, m.internal_port, m.protocol),
        }
    }
}

fn items(a: &MappingsAnswer) -> Vec<Item<'_>> {
    let mut v: Vec<Item<'_>> = a.addresses.iter().map(Item::Address).collect();
    v.extend(a.ports.iter().map(Item::Port));
    v.sort_by(|x, y| {
        let (gx, gy) = (x.group(), y.group());
        compare_interfaces(gx.0, gy.0)
            .then_with(|| gx.1.cmp(gy.1))
            .then_with(|| gx.2.cmp(gy.2))
            .then_with(|| x.order().cmp(&y.order()))
    });
    v
}

fn state(active: bool) -> &'static str {
    if active {
        "Active"
    } else {
        "Inactive"
    }
}

/// ```text
/// Interface: ms-1/1/0, Service set: ss
///
/// NAT pool: public
///
/// Address Mapping  : 10.0.0.3        --> 203.0.113.129
/// Ports In Use     :     1
/// Mapping State    : Active
///
/// Mapping          : 10.0.0.2        : 4000  --> 203.0.113.128: 1024
/// Session Count    :     2
/// Mapping State    : Active
/// ```
/// The `Mapping` block is the reference layout (§1.5); the `Address Mapping` block follows
/// it with the field the Junos page names. `brief` prints the mapping lines only. A
/// mapping with no session left (kept for its pool's `ei-mapping-timeout` or
/// `app-mapping-timeout`) is `Inactive`.
pub fn render_mappings(a: &MappingsAnswer) -> String {
    let mut out = String::new();
    let mut group: Option<(&str, &str)> = None;
    let mut pool: Option<&str> = None;
    for it in items(a) {
        let (i, s, p) = it.group();
        if group != Some((i, s)) {
            // A detailed block already ends with a blank line.
            if group.is_some() && !a.detail {
                out.push('\n');
            }
            let _ = writeln!(out, "Interface: {i}, Service set: {s}\n");
            group = Some((i, s));
            pool = None;
        }
        if pool != Some(p) {
            let _ = writeln!(out, "NAT pool: {p}\n");
            pool = Some(p);
        }
        match it {
            Item::Address(m) => {
                let _ = writeln!(
                    out,
                    "Address Mapping  : {:<16}--> {}",
                    m.internal_address.to_string(),
                    m.external_address
                );
                if a.detail {
                    let _ = writeln!(out, "Ports In Use     : {:>5}", m.ports_in_use);
                    let _ = writeln!(out, "Mapping State    : {}\n", state(m.ports_in_use > 0));
                }
            }
            Item::Port(m) => {
                let _ = writeln!(
                    out,
                    "Mapping          : {:<16}: {:<6}--> {:<13}: {}",
                    m.internal_address.to_string(),
                    m.internal_port,
                    m.external_address.to_string(),
                    m.external_port
                );
                if a.detail {
                    let _ = writeln!(out, "Session Count    : {:>5}", m.session_count);
                    let _ = writeln!(out, "Mapping State    : {}\n", state(m.session_count > 0));
                }
            }
        }
    }
    out
}

/// `<root>/service-nat-mapping-interface/{interface-name, service-set-name,
/// nat-pool/{pool-name, nat-address-mapping/{nat-mapping-internal-address,
/// nat-mapping-external-address, nat-mapping-ports-in-use, nat-mapping-state},
/// nat-mapping/{nat-mapping-protocol, nat-mapping-internal-address,
/// nat-mapping-internal-port, nat-mapping-external-address, nat-mapping-external-port,
/// nat-mapping-session-count, nat-mapping-state}}}`; the counts and states at `detail`.
pub fn mappings_tree(a: &MappingsAnswer) -> Element {
    let mut root = Element::new(a.root);
    let mut cur_if: Option<Element> = None;
    let mut cur_pool: Option<Element> = None;
    let mut key: Option<(&str, &str, &str)> = None;
    let flush_pool = |ifc: &mut Option<Element>, pool: &mut Option<Element>| {
        if let (Some(i), Some(p)) = (ifc.as_mut(), pool.take()) {
            i.push(p);
        }
    };
    for it in items(a) {
        let k = it.group();
        if key.map(|k0| (k0.0, k0.1)) != Some((k.0, k.1)) {
            flush_pool(&mut cur_if, &mut cur_pool);
            if let Some(i) = cur_if.take() {
                root.push(i);
            }
            cur_if = Some(
                Element::new("service-nat-mapping-interface")
                    .with_leaf("interface-name", k.0)
                    .with_leaf("service-set-name", k.1),
            );
        }
        if key.map(|k0| k0.2) != Some(k.2) || cur_pool.is_none() {
            flush_pool(&mut cur_if, &mut cur_pool);
            cur_pool = Some(Element::new("nat-pool").with_leaf("pool-name", k.2));
        }
        key = Some(k);
        let e = match it {
            Item::Address(m) => address_element(m, a.detail),
            Item::Port(m) => port_element(m, a.detail),
        };
        if let Some(p) = cur_pool.as_mut() {
            p.push(e);
        }
    }
    flush_pool(&mut cur_if, &mut cur_pool);
    if let Some(i) = cur_if.take() {
        root.push(i);
    }
    root
}

fn address_element(m: &NatAddressMapping, detail: bool) -> Element {
    let mut e = Element::new("nat-address-mapping")
        .with_leaf("nat-mapping-internal-address", m.internal_address)
        .with_leaf("nat-mapping-external-address", m.external_address);
    if detail {
        e = e
            .with_leaf("nat-mapping-ports-in-use", m.ports_in_use)
            .with_leaf("nat-mapping-state", state(m.ports_in_use > 0));
    }
    e
}

fn port_element(m: &NatMapping, detail: bool) -> Element {
    let proto = mspic_wire::proto::keyword(m.protocol)
        .map(str::to_string)
        .unwrap_or_else(|| m.protocol.to_string());
    let mut e = Element::new("nat-mapping")
        .with_leaf("nat-mapping-protocol", proto)
        .with_leaf("nat-mapping-internal-address", m.internal_address)
        .with_leaf("nat-mapping-internal-port", m.internal_port)
        .with_leaf("nat-mapping-external-address", m.external_address)
        .with_leaf("nat-mapping-external-port", m.external_port);
    if detail {
        e = e
            .with_leaf("nat-mapping-session-count", m.session_count)
            .with_leaf("nat-mapping-state", state(m.session_count > 0));
    }
    e
}
