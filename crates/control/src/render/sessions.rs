//! `show services sessions [brief|terse|extensive] [count]`: the Junos text layout (docs/commands.md) and
//! the `msp-session-table` / `service-msp-sess-count-information` trees.

use std::cmp::Ordering;
use std::fmt::Write as _;

use mspic_config::JunosRelease;
use mspic_flow::{
    Endpoint, FlowSnapshot, NatSnapshot, NatTranslation, SessionCount, SessionFilter,
    SessionSnapshot,
};

use crate::command::Detail;
use crate::render::counts::{self, CountRow};
use crate::tree::Element;
use mspic_wire::proto;

/// Which Junos release's session layout to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HeaderStyle {
    /// The 13.1 reference page: the header ends with `, Asymmetric: yes|no`.
    #[default]
    Current,
    /// Releases before the asymmetric-traffic option (the 10.x/11.x samples of the reference
    /// page): the header ends after `Offload: yes|no`.
    Legacy,
    /// Junos 17.1 and later: the header starts with `Service Set: NAME, ` and ends with
    /// `, Session timeout: N`; flow and NAT lines have wider columns and destination NAT
    /// reads `NAT Destination` (the 17.1 sample of tests/data/README.md).
    Release17,
}

impl HeaderStyle {
    /// The first release printing [`HeaderStyle::Release17`].
    pub const RELEASE17: JunosRelease = JunosRelease {
        major: 17,
        minor: 1,
    };

    /// The layout of `release` (`emulator { junos-release R; }`); without one, the
    /// reference page's.
    pub fn for_release(release: Option<JunosRelease>) -> HeaderStyle {
        match release {
            Some(r) if r >= Self::RELEASE17 => HeaderStyle::Release17,
            _ => HeaderStyle::Current,
        }
    }
}

/// How the line that opens each services interface's group reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum InterfaceLabel {
    /// `ms-1/1/0`.
    #[default]
    Bare,
    /// `Interface name: ms-1/1/0` (Junos prints this when `application-protocol` is given).
    Named,
}

/// Everything that shapes the sessions text besides the sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SessionsLayout {
    pub detail: Detail,
    pub header: HeaderStyle,
    pub interface_label: InterfaceLabel,
}

/// Orders `a` and `b` like Junos lists interfaces: by name, with the numbers in it compared
/// as numbers (`ms-2/0/0` before `ms-10/0/0`).
pub fn compare_interfaces(a: &str, b: &str) -> Ordering {
    fn parts(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(pb.iter()) {
        let ord = match (x, y) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    pa.len().cmp(&pb.len()).then_with(|| a.cmp(b))
}

/// Display order: services interface ascending, then session id descending (newest first).
pub fn sort_sessions(sessions: &mut [SessionSnapshot]) {
    sessions.sort_by(|a, b| {
        compare_interfaces(&a.interface, &b.interface)
            .then_with(|| b.id.cmp(&a.id))
            .then_with(|| a.service_set.cmp(&b.service_set))
    });
}

/// Keeps the sessions that match `filter`, sorts them for display and applies `limit`.
pub fn select_sessions(
    mut sessions: Vec<SessionSnapshot>,
    filter: &SessionFilter,
) -> Vec<SessionSnapshot> {
    sessions.retain(|s| filter.matches(s));
    sort_sessions(&mut sessions);
    if let Some(limit) = filter.limit {
        sessions.truncate(limit);
    }
    sessions
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The protocol column: `TCP`, `UDP`, `ICMP`, `GRE`, `ICMPV6`, else the number.
pub fn protocol_label(protocol: u8) -> String {
    match proto::show_name(protocol) {
        Some(n) => n.to_string(),
        None => protocol.to_string(),
    }
}

/// The `ALG:` value: the ALG's show name, `none` without ALG.
pub fn alg_label(s: &SessionSnapshot) -> &'static str {
    s.alg.map(|a| a.show_name()).unwrap_or("none")
}

/// The `Flags:` value: `0x` and at least four hex digits.
pub fn flags_label(flags: u32) -> String {
    format!("0x{flags:04x}")
}

/// `Session: 1, ALG: ftp, Flags: 0x2000, IP Action: no, Offload: no, Asymmetric: no`;
/// 17.1: `Service Set: ss1, Session: …, Asymmetric: no, Session timeout: 72`.
pub fn session_header(s: &SessionSnapshot, style: HeaderStyle) -> String {
    let mut line = String::new();
    if style == HeaderStyle::Release17 {
        let _ = write!(line, "Service Set: {}, ", s.service_set);
    }
    let _ = write!(
        line,
        "Session: {}, ALG: {}, Flags: {}, IP Action: {}, Offload: {}",
        s.id,
        alg_label(s),
        flags_label(s.flags),
        yes_no(s.ip_action),
        yes_no(s.offload)
    );
    if style != HeaderStyle::Legacy {
        let _ = write!(line, ", Asymmetric: {}", yes_no(s.asymmetric));
    }
    if style == HeaderStyle::Release17 {
        let _ = write!(line, ", Session timeout: {}", s.session_timeout);
    }
    line
}

/// `:{port:<5}`, or six spaces for an endpoint without port (17.1: one column wider).
fn port_column(ep: &Endpoint, style: HeaderStyle) -> String {
    match (ep.port, style) {
        (Some(p), HeaderStyle::Release17) => format!(":{p:<6}"),
        (Some(p), _) => format!(":{p:<5}"),
        (None, HeaderStyle::Release17) => " ".repeat(7),
        (None, _) => " ".repeat(6),
    }
}

/// One flow line with the reference page's columns:
/// `{proto:<7}{src_ip:>15}:{src_port:<5} ->{dst_ip:>15}:{dst_port:<5} {state:<8} {dir} {frames:>15}`.
pub fn flow_line(f: &FlowSnapshot) -> String {
    flow_line_with(f, HeaderStyle::Current)
}

/// One flow line in the columns of `style` (17.1: addresses `{:>16}`, ports `:{:<6}`).
pub fn flow_line_with(f: &FlowSnapshot, style: HeaderStyle) -> String {
    let width = if style == HeaderStyle::Release17 {
        16
    } else {
        15
    };
    format!(
        "{:<7}{:>width$}{} ->{:>width$}{} {:<8} {} {:>15}",
        protocol_label(f.protocol),
        f.src.addr.to_string(),
        port_column(&f.src, style),
        f.dst.addr.to_string(),
        port_column(&f.dst, style),
        f.state.show_name(),
        f.direction.show_name(),
        f.frames
    )
}

/// `    NAT source {ip:>15}{:port:<9}-> {ip:>15}{:port}` (`NAT dest` for destination NAT);
/// 17.1: `    {NAT source|NAT Destination:<16}{ip:>15}{:port:<9}-> {ip:>15}{:port:<8}`.
fn nat_line(destination: bool, t: &NatTranslation, style: HeaderStyle) -> String {
    let port = |ep: &Endpoint| ep.port.map(|p| format!(":{p}")).unwrap_or_default();
    let (orig, xlat) = (t.original.addr.to_string(), t.translated.addr.to_string());
    if style == HeaderStyle::Release17 {
        let label = if destination {
            "NAT Destination"
        } else {
            "NAT source"
        };
        let xport = t.translated.port.map(|p| format!("{:<8}", format!(":{p}")));
        return format!(
            "    {label:<16}{orig:>15}{:<9}-> {xlat:>15}{}",
            port(&t.original),
            xport.unwrap_or_default()
        );
    }
    let kind = if destination { "dest" } else { "source" };
    format!(
        "    NAT {kind} {orig:>15}{:<9}-> {xlat:>15}{}",
        port(&t.original),
        port(&t.translated)
    )
}

/// The `NAT PLugin Data:` block of extensive output.
pub fn nat_block(nat: &NatSnapshot, style: HeaderStyle) -> Vec<String> {
    let mut lines = vec![
        "NAT PLugin Data:".to_string(),
        format!(
            "  NAT Action:   Translation Type - {}",
            nat.translation_type.show_name()
        ),
    ];
    if let Some(t) = &nat.source {
        lines.push(nat_line(false, t, style));
    }
    if let Some(t) = &nat.destination {
        lines.push(nat_line(true, t, style));
    }
    lines
}

/// The two lines under each flow line in extensive output.
pub fn flow_extensive_lines(f: &FlowSnapshot) -> [String; 2] {
    [
        format!("  Byte count: {}", f.bytes),
        format!(
            "  Flow role: {}, Timeout: {}",
            f.role.show_name(),
            f.timeout
        ),
    ]
}

/// Sessions text with the default layout for `detail` (bare interface line, current header).
/// Sessions are printed in the order given; see [`select_sessions`] for the display order.
pub fn render_sessions(sessions: &[SessionSnapshot], detail: Detail) -> String {
    render_sessions_with(
        sessions,
        &SessionsLayout {
            detail,
            ..SessionsLayout::default()
        },
    )
}

/// Sessions text: an interface line whenever the interface changes, then for each session
/// its header, NAT block (extensive, translated sessions), and its flows in the order given.
pub fn render_sessions_with(sessions: &[SessionSnapshot], layout: &SessionsLayout) -> String {
    let mut out = String::new();
    let mut current: Option<&str> = None;
    for s in sessions {
        if current != Some(s.interface.as_str()) {
            current = Some(&s.interface);
            match layout.interface_label {
                InterfaceLabel::Bare => out.push_str(&s.interface),
                InterfaceLabel::Named => {
                    let _ = write!(out, "Interface name: {}", s.interface);
                }
            }
            out.push('\n');
        }
        out.push_str(&session_header(s, layout.header));
        out.push('\n');
        if let Some(w) = &s.softwire {
            out.push_str(&softwire_line(w));
            out.push('\n');
        }
        let extensive = layout.detail.is_extensive();
        if extensive {
            if let Some(nat) = &s.nat {
                for l in nat_block(nat, layout.header) {
                    out.push_str(&l);
                    out.push('\n');
                }
            }
        }
        for f in &s.flows {
            out.push_str(&flow_line_with(f, layout.header));
            out.push('\n');
            if extensive {
                for l in flow_extensive_lines(f) {
                    out.push_str(&l);
                    out.push('\n');
                }
            }
        }
    }
    out
}

/// `Softwire: {b4} -> {aftr}`: the DS-Lite softwire a session's inside flow came through,
/// under its header (the B4 is not in the flow lines, which show the inner IPv4 packet).
fn softwire_line(w: &mspic_flow::SoftwireSnapshot) -> String {
    format!("Softwire: {} -> {}", w.b4, w.aftr)
}

/// Adds `{prefix}-address` and, when there is a port, `{prefix}-port`.
fn push_endpoint(e: &mut Element, prefix: &str, ep: &Endpoint) {
    e.push(Element::leaf(format!("{prefix}-address"), ep.addr));
    if let Some(p) = ep.port {
        e.push(Element::leaf(format!("{prefix}-port"), p));
    }
}

/// The `nat-plugin-data` element of one session.
pub fn nat_tree(nat: &NatSnapshot) -> Element {
    let mut e = Element::new("nat-plugin-data")
        .with_leaf("translation-type", nat.translation_type.show_name());
    for (kind, t) in [("source", &nat.source), ("destination", &nat.destination)] {
        if let Some(t) = t {
            push_endpoint(&mut e, &format!("nat-{kind}"), &t.original);
            push_endpoint(&mut e, &format!("nat-{kind}-translated"), &t.translated);
        }
    }
    e
}

/// The leaves of one flow (`flow-protocol` … `frame-count`, plus `byte-count`, `flow-role`,
/// `timeout` when extensive) added to `e`.
pub fn push_flow_leaves(e: &mut Element, f: &FlowSnapshot, extensive: bool) {
    e.push(Element::leaf("flow-protocol", protocol_label(f.protocol)));
    push_endpoint(e, "source", &f.src);
    push_endpoint(e, "destination", &f.dst);
    e.push(Element::leaf("flow-state", f.state.show_name()));
    e.push(Element::leaf("direction", f.direction.show_name()));
    e.push(Element::leaf("frame-count", f.frames));
    if extensive {
        e.push(Element::leaf("byte-count", f.bytes));
        e.push(Element::leaf("flow-role", f.role.show_name()));
        e.push(Element::leaf("timeout", f.timeout));
    }
}

/// One `msp-session` element.
pub fn session_tree(s: &SessionSnapshot, detail: Detail) -> Element {
    let extensive = detail.is_extensive();
    let mut e = Element::new("msp-session")
        .with_leaf("service-set-name", &s.service_set)
        .with_leaf("session-id", s.id)
        .with_leaf("alg", alg_label(s))
        .with_leaf("flags", flags_label(s.flags))
        .with_leaf("ip-action", yes_no(s.ip_action))
        .with_leaf("offload", yes_no(s.offload))
        .with_leaf("asymmetric", yes_no(s.asymmetric));
    if let Some(w) = &s.softwire {
        e.push(
            Element::new("softwire")
                .with_leaf("b4-address", w.b4)
                .with_leaf("aftr-address", w.aftr),
        );
    }
    if extensive {
        if let Some(nat) = &s.nat {
            e.push(nat_tree(nat));
        }
    }
    for f in &s.flows {
        let mut fe = Element::new("msp-flow");
        push_flow_leaves(&mut fe, f, extensive);
        e.push(fe);
    }
    e
}

/// `msp-session-table` (`junos:style` `brief` or `extensive`) holding one
/// `msp-session-interface` per run of sessions on the same interface.
pub fn sessions_tree(sessions: &[SessionSnapshot], detail: Detail) -> Element {
    let mut root = Element::new("msp-session-table").attr("junos:style", detail.style());
    let mut group: Option<Element> = None;
    for s in sessions {
        let same = group
            .as_ref()
            .and_then(|g| g.child("interface-name"))
            .and_then(|n| n.text())
            == Some(s.interface.as_str());
        if !same {
            if let Some(g) = group.take() {
                root.push(g);
            }
            group = Some(
                Element::new("msp-session-interface").with_leaf("interface-name", &s.interface),
            );
        }
        if let Some(g) = group.as_mut() {
            g.push(session_tree(s, detail));
        }
    }
    if let Some(g) = group {
        root.push(g);
    }
    root
}

/// The count table's rows from what the shards counted; `what` picks sessions or flows.
pub fn count_rows(counts: &[SessionCount], what: impl Fn(&SessionCount) -> u64) -> Vec<CountRow> {
    counts::merge(counts.iter().map(|c| CountRow {
        interface: c.interface.clone(),
        service_set: c.service_set.clone(),
        count: what(c),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mspic_flow::{FlowDirection, FlowRole, FlowState};

    #[test]
    fn interface_order_compares_numbers() {
        let mut v = vec!["ms-10/0/0", "ms-2/0/0", "ms-2/0/10", "ms-2/0/9", "ms-1/1/0"];
        v.sort_by(|a, b| compare_interfaces(a, b));
        assert_eq!(
            v,
            ["ms-1/1/0", "ms-2/0/0", "ms-2/0/9", "ms-2/0/10", "ms-10/0/0"]
        );
        assert_eq!(compare_interfaces("ms-01/0/0", "ms-1/0/0"), Ordering::Less);
    }

    #[test]
    fn port_less_flow_keeps_columns() {
        let ep = |a: &str, port| Endpoint {
            addr: a.parse().unwrap(),
            port,
        };
        let mut f = FlowSnapshot {
            protocol: 1,
            src: ep("10.0.0.1", None),
            dst: ep("10.0.0.2", None),
            state: FlowState::Watch,
            direction: FlowDirection::I,
            frames: 7,
            bytes: 0,
            role: FlowRole::Initiator,
            timeout: 30,
        };
        let icmp = flow_line(&f);
        f.protocol = 6;
        f.src.port = Some(1);
        f.dst.port = Some(2);
        let tcp = flow_line(&f);
        assert_eq!(icmp.len(), tcp.len());
        assert_eq!(
            icmp,
            "ICMP          10.0.0.1       ->       10.0.0.2       Watch    I               7"
        );
        assert_eq!(flags_label(0x200000), "0x200000");
    }
}
