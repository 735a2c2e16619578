//! The per-(interface, service set) count tables: `show services sessions count`,
//! `show services flows count` and `clear services sessions`. One merge, one text layout
//! and one XML shape, told apart by a [`CountTable`]:
//!
//! ```text
//! Interface   Service set                                          Sessions count
//! ms-1/1/0    ss                                                                2
//! ```
//! Rows `{interface:<12}{service_set:<53}{count:>W}` under a header of the same widths,
//! interfaces in numeric order then service sets; rows that count nothing are left out.

use std::fmt::Write as _;

use crate::render::sessions::compare_interfaces;
use crate::tree::Element;

/// One row: what one (interface, service set) counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CountRow {
    pub interface: String,
    pub service_set: String,
    pub count: u64,
}

/// The layout of one count command.
#[derive(Debug, Clone, Copy)]
pub struct CountTable {
    /// Title of the second column (`Service set`, or `Service Set` for clear).
    pub set_title: &'static str,
    /// Title of the last column, which is right-aligned in `width` characters.
    pub count_title: &'static str,
    pub width: usize,
    /// XML: the reply root, the element of one row and the leaf of its count.
    pub root: &'static str,
    pub row: &'static str,
    pub leaf: &'static str,
}

/// `show services sessions count`.
pub const SESSIONS: CountTable = CountTable {
    set_title: "Service set",
    count_title: "Sessions count",
    width: 14,
    root: "service-msp-sess-count-information",
    row: "service-msp-sess-count",
    leaf: "sess-count",
};

/// `show services flows count`.
pub const FLOWS: CountTable = CountTable {
    set_title: "Service set",
    count_title: "Flows count",
    width: 14,
    root: "service-sfw-flow-count-information",
    row: "service-sfw-flow-count",
    leaf: "flow-count",
};

/// `clear services sessions`.
pub const CLEARED: CountTable = CountTable {
    set_title: "Service Set",
    count_title: "Sessions marked for deletion",
    width: 28,
    root: "service-msp-sess-drain-information",
    row: "service-msp-sess-drain",
    leaf: "sess-marked-for-deletion",
};

/// Adds up rows of the same (interface, service set) (one per shard, or one per session),
/// drops the zero ones and sorts.
pub fn merge(rows: impl IntoIterator<Item = CountRow>) -> Vec<CountRow> {
    let mut out: Vec<CountRow> = Vec::new();
    for e in rows {
        match out
            .iter_mut()
            .find(|o| o.interface == e.interface && o.service_set == e.service_set)
        {
            Some(o) => o.count += e.count,
            None => out.push(e),
        }
    }
    out.retain(|o| o.count > 0);
    out.sort_by(|a, b| {
        compare_interfaces(&a.interface, &b.interface)
            .then_with(|| a.service_set.cmp(&b.service_set))
    });
    out
}

impl CountTable {
    /// The text of merged rows (the header alone when there are none).
    pub fn text(&self, rows: &[CountRow]) -> String {
        let w = self.width;
        let mut out = format!(
            "{:<12}{:<53}{:>w$}\n",
            "Interface", self.set_title, self.count_title
        );
        for r in rows {
            let _ = writeln!(
                out,
                "{:<12}{:<53}{:>w$}",
                r.interface, r.service_set, r.count
            );
        }
        out
    }

    /// `root/row/{interface-name, service-set-name, leaf}`.
    pub fn tree(&self, rows: &[CountRow]) -> Element {
        let mut root = Element::new(self.root);
        for r in rows {
            root.push(
                Element::new(self.row)
                    .with_leaf("interface-name", &r.interface)
                    .with_leaf("service-set-name", &r.service_set)
                    .with_leaf(self.leaf, r.count),
            );
        }
        root
    }
}
