//! `clear services sessions [filters]`.
//!
//! ```text
//! Interface   Service Set                                          Sessions marked for deletion
//! ms-1/1/0    ss                                                                              2
//! ```
//! Rows `{interface:<12}{service_set:<53}{count:>28}`, one per (interface, service set) with
//! at least one session cleared; the header uses the same widths. Nothing cleared prints the
//! header alone.

use std::fmt::Write as _;

use crate::backend::ClearedSessions;
use crate::render::sessions::compare_interfaces;
use crate::tree::Element;

/// Adds up entries for the same (interface, service set), drops zero rows, sorts.
pub fn merge_cleared(entries: &[ClearedSessions]) -> Vec<ClearedSessions> {
    let mut out: Vec<ClearedSessions> = Vec::new();
    for e in entries {
        match out
            .iter_mut()
            .find(|o| o.interface == e.interface && o.service_set == e.service_set)
        {
            Some(o) => o.count += e.count,
            None => out.push(e.clone()),
        }
    }
    out.retain(|o| o.count > 0);
    out.sort_by(|a, b| {
        compare_interfaces(&a.interface, &b.interface)
            .then_with(|| a.service_set.cmp(&b.service_set))
    });
    out
}

/// Text for rows already merged.
pub fn render_cleared(rows: &[ClearedSessions]) -> String {
    let mut out = format!(
        "{:<12}{:<53}{:>28}\n",
        "Interface", "Service Set", "Sessions marked for deletion"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<12}{:<53}{:>28}",
            r.interface, r.service_set, r.count
        );
    }
    out
}

/// `service-msp-sess-drain-information/service-msp-sess-drain/{interface-name,
/// service-set-name, sess-marked-for-deletion}`.
pub fn cleared_tree(rows: &[ClearedSessions]) -> Element {
    let mut root = Element::new("service-msp-sess-drain-information");
    for r in rows {
        root.push(
            Element::new("service-msp-sess-drain")
                .with_leaf("interface-name", &r.interface)
                .with_leaf("service-set-name", &r.service_set)
                .with_leaf("sess-marked-for-deletion", r.count),
        );
    }
    root
}
