//! `show services flows [brief|terse|extensive] [count]`.
//!
//! ```text
//! Interface: ms-1/1/0, Service set: ss
//! Flow                                                 State    Dir   Frm count
//! TCP           10.2.2.2:52138 ->       10.1.1.2:21    Forward  I     33
//! ```
//! One header per (interface, service set), groups separated by an empty line. The flow
//! column is the session flow line's tuple (`{proto:<7}{src}:{port:<5} ->{dst}:{port:<5}`,
//! 53 characters), then `{state:<8} {dir:<5} {frames}`.

use std::fmt::Write as _;

use mspic_flow::{FlowSnapshot, SessionSnapshot};

use crate::command::Detail;
use crate::render::sessions::{
    compare_interfaces, flow_extensive_lines, protocol_label, push_flow_leaves,
};
use crate::tree::Element;

/// Width of the `Flow` column (the tuple part of a session flow line, plus one space).
pub const FLOW_COLUMN: usize = 53;

/// Display order for flows: interface, then service set, then session id descending.
pub fn sort_for_flows(sessions: &mut [SessionSnapshot]) {
    sessions.sort_by(|a, b| {
        compare_interfaces(&a.interface, &b.interface)
            .then_with(|| a.service_set.cmp(&b.service_set))
            .then_with(|| b.id.cmp(&a.id))
    });
}

/// Keeps the first `limit` flows (in display order); sessions left without flows go.
pub fn limit_flows(sessions: &mut Vec<SessionSnapshot>, limit: Option<usize>) {
    let Some(mut left) = limit else { return };
    for s in sessions.iter_mut() {
        let keep = s.flows.len().min(left);
        s.flows.truncate(keep);
        left -= keep;
    }
    sessions.retain(|s| !s.flows.is_empty());
}

fn tuple(f: &FlowSnapshot) -> String {
    let port = |p: Option<u16>| match p {
        Some(p) => format!(":{p:<5}"),
        None => " ".repeat(6),
    };
    format!(
        "{:<7}{:>15}{} ->{:>15}{}",
        protocol_label(f.protocol),
        f.src.addr.to_string(),
        port(f.src.port),
        f.dst.addr.to_string(),
        port(f.dst.port)
    )
}

/// One line of `show services flows`.
pub fn flows_line(f: &FlowSnapshot) -> String {
    format!(
        "{:<width$}{:<8} {:<5} {}",
        tuple(f) + " ",
        f.state.show_name(),
        f.direction.show_name(),
        f.frames,
        width = FLOW_COLUMN
    )
}

/// The column header under each group line.
pub fn flows_column_header() -> String {
    format!(
        "{:<width$}State    Dir   Frm count",
        "Flow",
        width = FLOW_COLUMN
    )
}

/// `show services flows` text for sessions already in display order.
pub fn render_flows(sessions: &[SessionSnapshot], detail: Detail) -> String {
    let mut out = String::new();
    let mut current: Option<(&str, &str)> = None;
    for s in sessions {
        let key = (s.interface.as_str(), s.service_set.as_str());
        if current != Some(key) {
            if current.is_some() {
                out.push('\n');
            }
            current = Some(key);
            let _ = writeln!(out, "Interface: {}, Service set: {}", key.0, key.1);
            out.push_str(&flows_column_header());
            out.push('\n');
        }
        for f in &s.flows {
            out.push_str(&flows_line(f));
            out.push('\n');
            if detail.is_extensive() {
                for l in flow_extensive_lines(f) {
                    out.push_str(&l);
                    out.push('\n');
                }
            }
        }
    }
    out
}

/// `service-sfw-flow-table-information` with one `service-sfw-flow-set` per (interface,
/// service set) and one `service-sfw-flow` per flow.
pub fn flows_tree(sessions: &[SessionSnapshot], detail: Detail) -> Element {
    let mut root =
        Element::new("service-sfw-flow-table-information").attr("junos:style", detail.style());
    let mut group: Option<(String, String, Element)> = None;
    for s in sessions {
        let same = group
            .as_ref()
            .is_some_and(|(i, ss, _)| *i == s.interface && *ss == s.service_set);
        if !same {
            if let Some((_, _, g)) = group.take() {
                root.push(g);
            }
            group = Some((
                s.interface.clone(),
                s.service_set.clone(),
                Element::new("service-sfw-flow-set")
                    .with_leaf("interface-name", &s.interface)
                    .with_leaf("service-set-name", &s.service_set),
            ));
        }
        if let Some((_, _, g)) = group.as_mut() {
            for f in &s.flows {
                let mut fe = Element::new("service-sfw-flow").with_leaf("session-id", s.id);
                push_flow_leaves(&mut fe, f, detail.is_extensive());
                g.push(fe);
            }
        }
    }
    if let Some((_, _, g)) = group {
        root.push(g);
    }
    root
}
