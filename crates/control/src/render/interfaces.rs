//! `show interfaces terse [NAME]` for the services interfaces: the Junos terse table and
//! `interface-information` (`junos:style="terse"`).
//!
//! ```text
//! Interface               Admin Link Proto    Local                 Remote
//! ms-1/1/0                up    up
//! ms-1/1/0.0              up    up   inet
//!                                    inet6
//! ```
//! Columns `{name:<24}{admin:<6}{link:<5}{proto:<9}{local}`; a unit's further families on
//! lines of their own, 35 spaces in. The layout and the element names are those of public
//! `show interfaces terse` captures with their `| display xml` form (physical-interface,
//! admin-status, oper-status, logical-interface, filter-information, address-family,
//! address-family-name). Services units have no local address, so `Local` and `Remote` stay
//! empty. The emulated PIC is up while the engine runs: admin and link are always `up`.

use std::fmt::Write as _;

use mspic_config::ServiceInterface;

use crate::render::sessions::compare_interfaces;
use crate::tree::Element;

/// The header line of the terse table.
pub const TERSE_HEADER: &str =
    "Interface               Admin Link Proto    Local                 Remote";

/// The namespace Junos puts on `interface-information`, at the release of the reply.
pub const INTERFACE_XMLNS: &str = "http://xml.juniper.net/junos/21.4R0/junos-interface";

/// One row group of the table: a physical interface or one of its units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerseRow {
    /// `ms-1/1/0` or `ms-1/1/0.0`.
    pub name: String,
    /// `inet`, `inet6` for a unit; none for the physical interface.
    pub families: Vec<&'static str>,
    /// The unit rows of a physical interface (empty for a unit).
    pub units: Vec<TerseRow>,
    /// Interface index (`local-index`): physical interfaces from 128 and units from 64,
    /// numbered in display order over every configured services interface.
    pub index: u32,
    /// A unit that is its interface's only one: all the interface's traffic passes it.
    pub sole_unit: bool,
}

/// What `show interfaces terse [name]` lists, in display order; `Err` with the Junos
/// message when `name` is not a configured services interface or unit. A pattern
/// (`ms-*`, `ms-1/1/0.[0-1]`, [`crate::glob`]) lists what it matches.
pub fn select(
    interfaces: &[ServiceInterface],
    name: Option<&str>,
) -> Result<Vec<TerseRow>, String> {
    let mut rows: Vec<TerseRow> = interfaces.iter().map(physical).collect();
    rows.sort_by(|a, b| compare_interfaces(&a.name, &b.name));
    let mut unit_index = 64;
    for (i, r) in rows.iter_mut().enumerate() {
        r.index = 128 + i as u32;
        let sole = r.units.len() == 1;
        for u in &mut r.units {
            u.index = unit_index;
            u.sole_unit = sole;
            unit_index += 1;
        }
    }
    let Some(name) = name else {
        return Ok(rows);
    };
    if crate::glob::is_pattern(name) {
        // A pattern with a unit part names units, else interfaces; none may match.
        return Ok(match name.contains('.') {
            false => rows
                .into_iter()
                .filter(|r| crate::glob::glob(name, &r.name))
                .collect(),
            true => rows
                .into_iter()
                .flat_map(|r| r.units)
                .filter(|u| crate::glob::glob(name, &u.name))
                .collect(),
        });
    }
    let found = match name.split_once('.') {
        None => rows.into_iter().find(|r| r.name == name),
        Some(_) => rows
            .into_iter()
            .flat_map(|r| r.units)
            .find(|u| u.name == name),
    };
    found
        .map(|r| vec![r])
        .ok_or_else(|| format!("device {name} not found"))
}

fn physical(i: &ServiceInterface) -> TerseRow {
    let mut units: Vec<TerseRow> = i
        .units
        .iter()
        .map(|u| TerseRow {
            name: format!("{}.{}", i.name, u.number),
            families: [(u.inet, "inet"), (u.inet6, "inet6")]
                .into_iter()
                .filter_map(|(on, f)| on.then_some(f))
                .collect(),
            units: Vec::new(),
            index: 0,
            sole_unit: false,
        })
        .collect();
    units.sort_by(|a, b| compare_interfaces(&a.name, &b.name));
    TerseRow {
        name: i.name.clone(),
        families: Vec::new(),
        units,
        index: 0,
        sole_unit: false,
    }
}

fn push_row(out: &mut String, row: &TerseRow) {
    let mut families = row.families.iter();
    match families.next() {
        Some(f) => {
            let _ = writeln!(out, "{:<24}{:<6}{:<5}{f}", row.name, "up", "up");
        }
        None => {
            let _ = writeln!(out, "{:<24}{:<6}up", row.name, "up");
        }
    }
    for f in families {
        let _ = writeln!(out, "{:35}{f}", "");
    }
    for u in &row.units {
        push_row(out, u);
    }
}

/// The terse table: the header, then each interface and its units.
pub fn render_terse(rows: &[TerseRow]) -> String {
    let mut out = String::from(TERSE_HEADER);
    out.push('\n');
    for r in rows {
        push_row(&mut out, r);
    }
    out
}

fn row_tree(row: &TerseRow, logical: bool) -> Element {
    let mut e = Element::new(if logical {
        "logical-interface"
    } else {
        "physical-interface"
    })
    .with_leaf("name", &row.name)
    .with_leaf("admin-status", "up")
    .with_leaf("oper-status", "up");
    if logical {
        e.push(Element::new("filter-information"));
        for f in &row.families {
            e.push(Element::new("address-family").with_leaf("address-family-name", f));
        }
    }
    for u in &row.units {
        e.push(row_tree(u, true));
    }
    e
}

/// `interface-information` (`junos:style="terse"`): `physical-interface` elements, or the
/// one `logical-interface` asked for by name.
pub fn terse_tree(rows: &[TerseRow]) -> Element {
    let mut root = Element::new("interface-information")
        .attr("xmlns", INTERFACE_XMLNS)
        .attr("junos:style", "terse");
    for r in rows {
        root.push(row_tree(r, r.name.contains('.')));
    }
    root
}
