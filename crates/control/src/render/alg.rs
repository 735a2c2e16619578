//! `show services alg conversations [brief|extensive]`: ALG sessions grouped into
//! conversations (a parent session and the child sessions opened through its pinholes),
//! built from the sessions' `parent` links.
//!
//! The layout follows the sample of the Junos page "show services alg conversations"
//! (Junos OS 12.2 command summary, `show-services-alg-conversations-jsf`): per interface
//! `Interface name:`, per ALG `ALG : FTP ALG, State : active` and `Number of
//! conversations: N`, per conversation the parent's status, then each session with its
//! `Forward Flow : {a:p -> b:p}` (the I flow) and `Reverse Flow` (the O flow):
//!
//! ```text
//! Interface name: ms-1/1/0
//! ALG : FTP ALG, State : active
//! Number of conversations: 1
//! Parent session status: active
//! Parent session : 5, protocol: TCP
//! Forward Flow : {10.0.0.2:40000 -> 198.51.100.7:21}
//! Reverse Flow : {198.51.100.7:21 -> 203.0.113.128:1024}
//! Child session : 7, protocol: TCP
//! Forward Flow : {198.51.100.7:20 -> 203.0.113.128:1025}
//! Reverse Flow : {10.0.0.2:40001 -> 198.51.100.7:20}
//! ```
//! `brief` leaves out the flow lines; `extensive` adds, per conversation, `Group ID`
//! before the parent and `Number of active child sessions` and `Resource id` after it
//! (the fields the current page lists). A child whose parent is gone is listed under
//! `Parent session status: closed`, as in the sample.

use std::fmt::Write as _;

use mspic_flow::{
    Endpoint, FlowDirection, FlowSnapshot, SessionSnapshot, FLAG_ALG_PARENT, FLAG_RPC_PARENT,
};

use crate::command::Detail;
use crate::render::sessions::{compare_interfaces, protocol_label};
use crate::tree::Element;

/// One conversation: the group id (the parent's session id), the parent if it still
/// exists, and the children, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub group_id: u64,
    pub parent: Option<SessionSnapshot>,
    pub children: Vec<SessionSnapshot>,
}

/// The conversations of one ALG on one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlgConversations {
    pub interface: String,
    /// `FTP ALG`, `SIP ALG`, …
    pub alg: String,
    pub conversations: Vec<Conversation>,
}

fn alg_title(s: &SessionSnapshot) -> Option<String> {
    s.alg.map(|a| match a {
        // Junos calls its SQLNet ALG by the protocol version it handles.
        mspic_config::AppProtocol::Sqlnet => "SQLV2 ALG".to_string(),
        a => format!("{} ALG", a.show_name().to_ascii_uppercase()),
    })
}

/// Groups ALG sessions into conversations: per interface (ascending), per ALG (by name),
/// per group id (newest first). Sessions without ALG, and ALG sessions that are neither a
/// parent (flag or children) nor a child, are left out.
pub fn build_conversations(sessions: &[SessionSnapshot]) -> Vec<AlgConversations> {
    let mut out: Vec<AlgConversations> = Vec::new();
    let has_children = |s: &SessionSnapshot| {
        sessions
            .iter()
            .any(|c| c.parent == Some(s.id) && c.interface == s.interface)
    };
    for s in sessions {
        let Some(alg) = alg_title(s) else { continue };
        let is_parent = s.parent.is_none()
            && (s.flags & (FLAG_ALG_PARENT | FLAG_RPC_PARENT) != 0 || has_children(s));
        let group_id = match (s.parent, is_parent) {
            (Some(p), _) => p,
            (None, true) => s.id,
            (None, false) => continue,
        };
        let idx = match out
            .iter()
            .position(|g| g.interface == s.interface && g.alg == alg)
        {
            Some(i) => i,
            None => {
                out.push(AlgConversations {
                    interface: s.interface.clone(),
                    alg,
                    conversations: Vec::new(),
                });
                out.len() - 1
            }
        };
        let convs = &mut out[idx].conversations;
        let c = match convs.iter().position(|c| c.group_id == group_id) {
            Some(i) => &mut convs[i],
            None => {
                convs.push(Conversation {
                    group_id,
                    parent: None,
                    children: Vec::new(),
                });
                convs.last_mut().expect("just pushed")
            }
        };
        if s.parent.is_some() {
            c.children.push(s.clone());
        } else {
            c.parent = Some(s.clone());
        }
    }
    for g in &mut out {
        g.conversations
            .sort_by_key(|c| std::cmp::Reverse(c.group_id));
        for c in &mut g.conversations {
            c.children.sort_by_key(|s| std::cmp::Reverse(s.id));
        }
    }
    out.sort_by(|a, b| {
        compare_interfaces(&a.interface, &b.interface).then_with(|| a.alg.cmp(&b.alg))
    });
    out
}

fn endpoint(ep: &Endpoint) -> String {
    match ep.port {
        Some(p) => format!("{}:{p}", ep.addr),
        None => ep.addr.to_string(),
    }
}

fn flow_text(f: &FlowSnapshot) -> String {
    format!("{{{} -> {}}}", endpoint(&f.src), endpoint(&f.dst))
}

fn flow_of(s: &SessionSnapshot, dir: FlowDirection) -> Option<&FlowSnapshot> {
    s.flows.iter().find(|f| f.direction == dir)
}

fn session_protocol(s: &SessionSnapshot) -> String {
    s.flows
        .first()
        .map(|f| protocol_label(f.protocol))
        .unwrap_or_else(|| "-".to_string())
}

fn write_session(out: &mut String, role: &str, s: &SessionSnapshot, flows: bool) {
    let _ = writeln!(
        out,
        "{role} session : {}, protocol: {}",
        s.id,
        session_protocol(s)
    );
    if flows {
        for (label, dir) in [("Forward", FlowDirection::I), ("Reverse", FlowDirection::O)] {
            if let Some(f) = flow_of(s, dir) {
                let _ = writeln!(out, "{label} Flow : {}", flow_text(f));
            }
        }
    }
}

fn write_conversation(out: &mut String, c: &Conversation, detail: Detail) {
    let flows = detail != Detail::Brief;
    if detail == Detail::Extensive {
        let _ = writeln!(out, "Group ID: {}", c.group_id);
    }
    match &c.parent {
        Some(p) => {
            let _ = writeln!(out, "Parent session status: active");
            write_session(out, "Parent", p, flows);
        }
        None => {
            let _ = writeln!(out, "Parent session status: closed");
        }
    }
    if detail == Detail::Extensive {
        let _ = writeln!(out, "Number of active child sessions: {}", c.children.len());
        let _ = writeln!(out, "Resource id: {}", c.group_id);
    }
    for child in &c.children {
        write_session(out, "Child", child, flows);
    }
}

/// Conversations text.
pub fn render_alg_conversations(groups: &[AlgConversations], detail: Detail) -> String {
    let mut out = String::new();
    let mut current: Option<&str> = None;
    for g in groups {
        if current != Some(g.interface.as_str()) {
            if current.is_some() {
                out.push('\n');
            }
            current = Some(&g.interface);
            let _ = writeln!(out, "Interface name: {}", g.interface);
        }
        let _ = writeln!(out, "ALG : {}, State : active", g.alg);
        let _ = writeln!(out, "Number of conversations: {}", g.conversations.len());
        for c in &g.conversations {
            write_conversation(&mut out, c, detail);
        }
    }
    out
}

fn session_element(name: &str, s: &SessionSnapshot, flows: bool) -> Element {
    let mut e = Element::new(name)
        .with_leaf("session-id", s.id)
        .with_leaf("protocol", session_protocol(s));
    if flows {
        for (leaf, dir) in [
            ("forward-flow", FlowDirection::I),
            ("reverse-flow", FlowDirection::O),
        ] {
            if let Some(f) = flow_of(s, dir) {
                e.push(Element::leaf(leaf, flow_text(f)));
            }
        }
    }
    e
}

fn conversation_element(c: &Conversation, detail: Detail) -> Element {
    let flows = detail != Detail::Brief;
    let mut ce = Element::new("alg-conversation").with_leaf("group-id", c.group_id);
    let status = if c.parent.is_some() {
        "active"
    } else {
        "closed"
    };
    ce.push(Element::leaf("parent-session-status", status));
    if let Some(p) = &c.parent {
        ce.push(session_element("parent-session", p, flows));
    }
    if detail == Detail::Extensive {
        ce.push(Element::leaf("active-child-sessions", c.children.len()));
        ce.push(Element::leaf("resource-id", c.group_id));
    }
    for child in &c.children {
        ce.push(session_element("child-session", child, flows));
    }
    ce
}

/// `service-msp-alg-conversation-information/alg-conversation-interface/{interface-name,
/// alg-conversation-set/{alg-name, alg-state, conversation-count, alg-conversation/{group-id,
/// parent-session-status, parent-session, [active-child-sessions, resource-id],
/// child-session…}}}`; each session element holds `session-id`, `protocol`,
/// `forward-flow`, `reverse-flow`.
pub fn alg_conversations_tree(groups: &[AlgConversations], detail: Detail) -> Element {
    let mut root = Element::new("service-msp-alg-conversation-information");
    let mut iface: Option<Element> = None;
    for g in groups {
        let same = iface
            .as_ref()
            .and_then(|e| e.child("interface-name"))
            .and_then(|n| n.text())
            == Some(g.interface.as_str());
        if !same {
            if let Some(e) = iface.take() {
                root.push(e);
            }
            iface = Some(
                Element::new("alg-conversation-interface")
                    .with_leaf("interface-name", &g.interface),
            );
        }
        let mut set = Element::new("alg-conversation-set")
            .with_leaf("alg-name", &g.alg)
            .with_leaf("alg-state", "active")
            .with_leaf("conversation-count", g.conversations.len());
        for c in &g.conversations {
            set.push(conversation_element(c, detail));
        }
        if let Some(e) = iface.as_mut() {
            e.push(set);
        }
    }
    if let Some(e) = iface {
        root.push(e);
    }
    root
}
