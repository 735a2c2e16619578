//! [`Config`] → configuration text, in either syntax (like `show configuration` and
//! `show configuration | display set`).
//!
//! Both printers walk one statement tree, so they always agree, and their output parses back
//! to the same `Config` (`parse(&braces(&cfg), f)` equals `cfg` apart from `warnings`, which
//! the output does not reproduce). Predefined `junos-*` applications are not printed.

use std::fmt::Write;

use crate::model::*;
use crate::names;

/// A statement: its words and its children (none: a leaf or an empty container).
#[derive(Clone)]
struct Node {
    words: Vec<String>,
    children: Vec<Node>,
}

fn quote(w: &str) -> String {
    let plain = !w.is_empty()
        && !w
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '{' | '}' | ';' | '[' | ']' | '"' | '#'))
        && !w.starts_with("/*");
    if plain {
        w.to_string()
    } else {
        let mut s = String::from("\"");
        for c in w.chars() {
            if c == '"' || c == '\\' {
                s.push('\\');
            }
            s.push(c);
        }
        s.push('"');
        s
    }
}

impl Node {
    fn new(words: &[&str]) -> Node {
        Node {
            words: words.iter().map(|w| quote(w)).collect(),
            children: Vec::new(),
        }
    }
    fn leaf(mut self, words: &[&str]) -> Node {
        self.children.push(Node::new(words));
        self
    }
    fn child(mut self, n: Node) -> Node {
        self.children.push(n);
        self
    }
    fn push(&mut self, n: Node) {
        self.children.push(n);
    }
    fn push_leaf(&mut self, words: &[&str]) {
        self.children.push(Node::new(words));
    }
    /// A container that is printed only when it has children.
    fn push_nonempty(&mut self, n: Node) {
        if !n.children.is_empty() {
            self.children.push(n);
        }
    }
}

/// `[ a b ]` for several values, `a` for one.
fn list(items: &[String]) -> String {
    if items.len() == 1 {
        quote(&items[0])
    } else {
        let mut s = String::from("[");
        for i in items {
            s.push(' ');
            s.push_str(&quote(i));
        }
        s.push_str(" ]");
        s
    }
}

fn raw(words: Vec<String>) -> Node {
    Node {
        words,
        children: Vec::new(),
    }
}

fn family(name: &str, f: &Family) -> Node {
    let mut n = Node::new(&["family", name]);
    let mut service = Node::new(&["service"]);
    if let Some(s) = &f.input_service_set {
        service.push(Node::new(&["input"]).leaf(&["service-set", s]));
    }
    if let Some(s) = &f.output_service_set {
        service.push(Node::new(&["output"]).leaf(&["service-set", s]));
    }
    n.push_nonempty(service);
    for a in &f.addresses {
        n.push_leaf(&["address", &a.to_string()]);
    }
    n
}

fn interfaces(cfg: &Config) -> Node {
    let mut top = Node::new(&["interfaces"]);
    for i in &cfg.interfaces {
        let mut n = Node::new(&[&i.name]);
        for u in &i.units {
            let mut un = Node::new(&["unit", &u.number.to_string()]);
            if let Some(f) = &u.inet {
                un.push(family("inet", f));
            }
            if let Some(f) = &u.inet6 {
                un.push(family("inet6", f));
            }
            n.push(un);
        }
        top.push(n);
    }
    for s in &cfg.service_interfaces {
        let mut n = Node::new(&[&s.name]);
        let o = &s.options;
        let mut so = Node::new(&["services-options"]);
        for (k, v) in [
            ("inactivity-timeout", o.inactivity_timeout),
            ("inactivity-tcp-timeout", o.inactivity_tcp_timeout),
            ("inactivity-non-tcp-timeout", o.inactivity_non_tcp_timeout),
            ("open-timeout", o.open_timeout),
            ("close-timeout", o.close_timeout),
        ] {
            if let Some(v) = v {
                so.push_leaf(&[k, &v.to_string()]);
            }
        }
        let mut sl = Node::new(&["session-limit"]);
        if let Some(v) = o.session_limit_maximum {
            sl.push_leaf(&["maximum", &v.to_string()]);
        }
        if let Some(v) = o.session_limit_rate {
            sl.push_leaf(&["rate", &v.to_string()]);
        }
        so.push_nonempty(sl);
        if let Some(v) = o.pba_interim_logging_interval {
            so.push_leaf(&["pba-interim-logging-interval", &v.to_string()]);
        }
        if let Some(v) = o.tcp_tickles {
            so.push_leaf(&["tcp-tickles", &v.to_string()]);
        }
        let mut sl = Node::new(&["syslog"]);
        for h in &o.syslog {
            sl.push(syslog_host(h));
        }
        if let Some(v) = o.syslog_rate_limit {
            sl.push_leaf(&["message-rate-limit", &v.to_string()]);
        }
        so.push_nonempty(sl);
        n.push_nonempty(so);
        for u in &s.units {
            let mut un = Node::new(&["unit", &u.number.to_string()]);
            if u.inet {
                un.push_leaf(&["family", "inet"]);
            }
            if u.inet6 {
                un.push_leaf(&["family", "inet6"]);
            }
            match u.service_domain {
                Some(ServiceDomain::Inside) => un.push_leaf(&["service-domain", "inside"]),
                Some(ServiceDomain::Outside) => un.push_leaf(&["service-domain", "outside"]),
                None => {}
            }
            n.push(un);
        }
        top.push(n);
    }
    top
}

fn route(r: &StaticRoute) -> Node {
    let p = r.prefix.to_string();
    match &r.next_hop {
        NextHop::Address(a) => Node::new(&["route", &p, "next-hop", &a.to_string()]),
        NextHop::Interface(i) => Node::new(&["route", &p, "next-hop", i]),
        NextHop::Discard => Node::new(&["route", &p, "discard"]),
        NextHop::Reject => Node::new(&["route", &p, "reject"]),
    }
}

fn routing_options(cfg: &Config) -> Node {
    let mut top = Node::new(&["routing-options"]);
    let mut v4 = Node::new(&["static"]);
    let mut v6 = Node::new(&["static"]);
    for r in &cfg.static_routes {
        if r.prefix.addr.is_ipv4() {
            v4.push(route(r));
        } else {
            v6.push(route(r));
        }
    }
    top.push_nonempty(v4);
    if !v6.children.is_empty() {
        top.push(Node::new(&["rib", "inet6.0"]).child(v6));
    }
    top
}

fn address_match(kw: &str, m: &AddressMatch) -> Node {
    let (what, except) = match m {
        AddressMatch::Prefix { prefix, except } => (prefix.to_string(), *except),
        AddressMatch::AnyUnicast { except } => ("any-unicast".to_string(), *except),
    };
    if except {
        Node::new(&[kw, &what, "except"])
    } else {
        Node::new(&[kw, &what])
    }
}

fn from(m: &MatchConditions) -> Node {
    let mut n = Node::new(&["from"]);
    for a in &m.source_address {
        n.push(address_match("source-address", a));
    }
    for a in &m.destination_address {
        n.push(address_match("destination-address", a));
    }
    for (kw, ranges) in [
        ("source-address-range", &m.source_address_range),
        ("destination-address-range", &m.destination_address_range),
    ] {
        for r in ranges {
            let (low, high) = (r.low.to_string(), r.high.to_string());
            let mut words = vec![kw, "low", &low, "high", &high];
            if r.except {
                words.push("except");
            }
            n.push_leaf(&words);
        }
    }
    for (kw, lists, except) in [
        ("source-prefix-list", &m.source_prefix_list, false),
        ("source-prefix-list", &m.source_prefix_list_except, true),
        ("destination-prefix-list", &m.destination_prefix_list, false),
        (
            "destination-prefix-list",
            &m.destination_prefix_list_except,
            true,
        ),
    ] {
        for p in lists {
            if except {
                n.push_leaf(&[kw, p, "except"]);
            } else {
                n.push_leaf(&[kw, p]);
            }
        }
    }
    if !m.applications.is_empty() {
        n.push(raw(vec!["applications".into(), list(&m.applications)]));
    }
    if !m.application_sets.is_empty() {
        n.push(raw(vec![
            "application-sets".into(),
            list(&m.application_sets),
        ]));
    }
    n
}

fn rule_set(rs: &RuleSet) -> Node {
    let mut n = Node::new(&["rule-set", &rs.name]);
    for r in &rs.rules {
        n.push_leaf(&["rule", r]);
    }
    n
}

fn pool(p: &NatPool) -> Node {
    let mut n = Node::new(&["pool", &p.name]);
    for a in &p.addresses {
        n.push_leaf(&["address", &a.to_string()]);
    }
    for (lo, hi) in &p.address_ranges {
        n.push_leaf(&[
            "address-range",
            "low",
            &lo.to_string(),
            "high",
            &hi.to_string(),
        ]);
    }
    if let Some(port) = p.port {
        let mut pn = Node::new(&["port"]);
        match port {
            PoolPort::Automatic { random } => {
                if random {
                    pn.push_leaf(&["automatic", "random-allocation"]);
                } else {
                    pn.push_leaf(&["automatic"]);
                }
            }
            PoolPort::Range { low, high, random } => {
                let (l, h) = (low.to_string(), high.to_string());
                if random {
                    pn.push_leaf(&["range", "low", &l, "high", &h, "random-allocation"]);
                } else {
                    pn.push_leaf(&["range", "low", &l, "high", &h]);
                }
            }
        }
        if p.preserve_parity {
            pn.push_leaf(&["preserve-parity"]);
        }
        if p.preserve_range {
            pn.push_leaf(&["preserve-range"]);
        }
        if let Some(b) = p.port_block {
            let mut bn = Node::new(&["secured-port-block-allocation"]);
            bn.push_leaf(&["block-size", &b.block_size.to_string()]);
            bn.push_leaf(&["max-blocks-per-address", &b.max_blocks.to_string()]);
            bn.push_leaf(&["active-block-timeout", &b.active_timeout.to_string()]);
            if let Some(v) = b.interim_logging_interval {
                bn.push_leaf(&["interim-logging-interval", &v.to_string()]);
            }
            pn.push(bn);
        }
        if let Some(x) = p.deterministic {
            let mut dn = Node::new(&["deterministic-port-block-allocation"]);
            dn.push_leaf(&["block-size", &x.block_size.to_string()]);
            if x.include_boundary_addresses {
                dn.push_leaf(&["include-boundary-addresses"]);
            }
            pn.push(dn);
        }
        n.push(pn);
    }
    if p.address_allocation_round_robin {
        n.push_leaf(&["address-allocation", "round-robin"]);
    }
    if let Some(t) = p.mapping_timeout {
        n.push_leaf(&["mapping-timeout", &t.to_string()]);
    }
    if let Some(t) = p.ei_mapping_timeout {
        n.push_leaf(&["ei-mapping-timeout", &t.to_string()]);
    }
    if let Some(t) = p.app_mapping_timeout {
        n.push_leaf(&["app-mapping-timeout", &t.to_string()]);
    }
    n
}

fn services(cfg: &Config) -> Node {
    let mut top = Node::new(&["services"]);
    let mut sfw = Node::new(&["stateful-firewall"]);
    for r in &cfg.sfw_rules {
        let mut rn =
            Node::new(&["rule", &r.name]).leaf(&["match-direction", r.match_direction.keyword()]);
        for t in &r.terms {
            let mut tn = Node::new(&["term", &t.name]);
            tn.push_nonempty(from(&t.from));
            let mut then = Node::new(&["then"]);
            then.push_leaf(&[match t.action {
                SfwAction::Accept => "accept",
                SfwAction::Discard => "discard",
                SfwAction::Reject => "reject",
            }]);
            if t.syslog {
                then.push_leaf(&["syslog"]);
            }
            if !t.allow_ip_options.is_empty() {
                then.push(raw(vec![
                    "allow-ip-options".into(),
                    list(&t.allow_ip_options),
                ]));
            }
            tn.push(then);
            rn.push(tn);
        }
        sfw.push(rn);
    }
    for rs in &cfg.sfw_rule_sets {
        sfw.push(rule_set(rs));
    }
    top.push_nonempty(sfw);

    let mut nat = Node::new(&["nat"]);
    for p in &cfg.nat_pools {
        nat.push(pool(p));
    }
    for m in &cfg.nat_port_forwarding {
        let mut n = Node::new(&["port-forwarding", &m.name]);
        for (dst, to) in &m.mappings {
            n.push_leaf(&[
                "destined-port",
                &dst.to_string(),
                "translated-port",
                &to.to_string(),
            ]);
        }
        nat.push(n);
    }
    for r in &cfg.nat_rules {
        let mut rn =
            Node::new(&["rule", &r.name]).leaf(&["match-direction", r.match_direction.keyword()]);
        for t in &r.terms {
            let mut tn = Node::new(&["term", &t.name]);
            tn.push_nonempty(from(&t.from));
            let mut then = Node::new(&["then"]);
            match &t.then {
                NatThen::NoTranslation => then.push_leaf(&["no-translation"]),
                NatThen::Translated(tr) => {
                    if let Some(m) = &tr.port_forwarding_mappings {
                        then.push_leaf(&["port-forwarding-mappings", m]);
                    }
                    let mut x = Node::new(&["translated"]);
                    if let Some(p) = &tr.source_pool {
                        x.push_leaf(&["source-pool", p]);
                    }
                    if let Some(p) = &tr.destination_pool {
                        x.push_leaf(&["destination-pool", p]);
                    }
                    if let Some(p) = &tr.source_prefix {
                        x.push_leaf(&["source-prefix", &p.to_string()]);
                    }
                    if let Some(p) = &tr.destination_prefix {
                        x.push_leaf(&["destination-prefix", &p.to_string()]);
                    }
                    x.push(Node::new(&["translation-type"]).leaf(&[tr.translation_type.keyword()]));
                    if tr.address_pooling_paired {
                        x.push_leaf(&["address-pooling", "paired"]);
                    }
                    if tr.mapping_type_eim {
                        x.push_leaf(&["mapping-type", "endpoint-independent"]);
                    }
                    if tr.filtering_type_eif {
                        x.push_leaf(&["filtering-type", "endpoint-independent"]);
                    }
                    then.push(x);
                }
            }
            if t.syslog {
                then.push_leaf(&["syslog"]);
            }
            tn.push(then);
            rn.push(tn);
        }
        nat.push(rn);
    }
    for rs in &cfg.nat_rule_sets {
        nat.push(rule_set(rs));
    }
    top.push_nonempty(nat);

    let mut sw = Node::new(&["softwire"]);
    if !cfg.ds_lite.is_empty() {
        let mut conc = Node::new(&["softwire-concentrator"]);
        for c in &cfg.ds_lite {
            let mut n = Node::new(&["ds-lite", &c.name])
                .leaf(&["softwire-address", &c.softwire_address.to_string()]);
            if let Some(m) = c.mtu_v6 {
                n.push_leaf(&["mtu-v6", &m.to_string()]);
            }
            conc.push(n);
        }
        sw.push(conc);
    }
    for r in &cfg.softwire_rules {
        let mut rn = Node::new(&["rule", &r.name]).leaf(&["match-direction", "input"]);
        for t in &r.terms {
            rn.push(
                Node::new(&["term", &t.name])
                    .child(Node::new(&["then"]).leaf(&["ds-lite", &t.ds_lite])),
            );
        }
        sw.push(rn);
    }
    top.push_nonempty(sw);

    for s in &cfg.service_sets {
        let mut n = Node::new(&["service-set", &s.name]);
        for (kw, names) in [
            ("stateful-firewall-rules", &s.sfw_rules),
            ("stateful-firewall-rule-sets", &s.sfw_rule_sets),
            ("nat-rules", &s.nat_rules),
            ("nat-rule-sets", &s.nat_rule_sets),
            ("softwire-rules", &s.softwire_rules),
        ] {
            for r in names {
                n.push_leaf(&[kw, r]);
            }
        }
        match &s.style {
            ServiceSetStyle::Interface { service_interface } => {
                n.push(
                    Node::new(&["interface-service"])
                        .leaf(&["service-interface", service_interface]),
                );
            }
            ServiceSetStyle::NextHop { inside, outside } => {
                n.push(
                    Node::new(&["next-hop-service"])
                        .leaf(&["inside-service-interface", inside])
                        .leaf(&["outside-service-interface", outside]),
                );
            }
        }
        if let Some(m) = s.max_flows {
            n.push_leaf(&["max-flows", &m.to_string()]);
        }
        if let Some(m) = s.tcp_mss {
            n.push_leaf(&["tcp-mss", &m.to_string()]);
        }
        if let Some(m) = s.max_session_setup_rate {
            n.push_leaf(&["max-session-setup-rate", &m.to_string()]);
        }
        if let Some(m) = s.max_sessions_per_subscriber {
            n.push_leaf(&["max-sessions-per-subscriber", &m.to_string()]);
        }
        if s.nat64_clear_df {
            n.push_leaf(&["nat-options", "stateful-nat64", "clear-dont-fragment-bit"]);
        }
        if !s.syslog.is_empty() {
            let mut sl = Node::new(&["syslog"]);
            for h in &s.syslog {
                sl.push(syslog_host(h));
            }
            n.push(sl);
        }
        top.push(n);
    }
    top
}

/// `host ADDRESS { … }` of a service set's `syslog`.
fn syslog_host(h: &SyslogHost) -> Node {
    let mut n = Node::new(&["host", &h.host.to_string()]);
    if let Some(s) = h.services {
        n.push_leaf(&["services", s.keyword()]);
    }
    if let Some(c) = h.class {
        let mut cn = Node::new(&["class"]);
        match (c.session_open, c.session_close) {
            (true, true) => cn.push_leaf(&["session-logs"]),
            (true, false) => cn.push_leaf(&["session-logs", "open"]),
            (false, true) => cn.push_leaf(&["session-logs", "close"]),
            (false, false) => {}
        }
        if c.nat {
            cn.push_leaf(&["nat-logs"]);
        }
        if c.stateful_firewall {
            cn.push_leaf(&["stateful-firewall-logs"]);
        }
        n.push(cn);
    }
    if let Some(p) = h.port {
        n.push_leaf(&["port", &p.to_string()]);
    }
    if let Some(f) = h.facility_override {
        n.push_leaf(&["facility-override", f.keyword()]);
    }
    if let Some(p) = &h.log_prefix {
        n.push_leaf(&["log-prefix", p]);
    }
    if let Some(a) = h.source_address {
        n.push_leaf(&["source-address", &a.to_string()]);
    }
    n
}

fn ports(p: PortRange) -> String {
    if p.low == p.high {
        p.low.to_string()
    } else {
        format!("{}-{}", p.low, p.high)
    }
}

fn applications(cfg: &Config) -> Node {
    let mut top = Node::new(&["applications"]);
    for a in cfg.applications.iter().filter(|a| !a.predefined) {
        let mut n = Node::new(&["application", &a.name]);
        for t in &a.terms {
            match &t.name {
                Some(name) => {
                    let mut tn = Node::new(&["term", name]);
                    app_term(&mut tn, t);
                    n.push(tn);
                }
                None => app_term(&mut n, t),
            }
        }
        top.push(n);
    }
    for s in cfg.application_sets.iter().filter(|s| !s.predefined) {
        let mut n = Node::new(&["application-set", &s.name]);
        for a in &s.applications {
            n.push_leaf(&["application", a]);
        }
        for a in &s.application_sets {
            n.push_leaf(&["application-set", a]);
        }
        top.push(n);
    }
    top
}

/// The statements of one application term, into `n` (the application or its `term`).
fn app_term(n: &mut Node, a: &AppTerm) {
    if let Some(p) = a.application_protocol {
        n.push_leaf(&["application-protocol", p.keyword()]);
    }
    if let Some(p) = a.protocol {
        let s = names::ip_protocol_keyword(p)
            .map(str::to_string)
            .unwrap_or_else(|| p.to_string());
        n.push_leaf(&["protocol", &s]);
    }
    if let Some(p) = a.source_port {
        n.push_leaf(&["source-port", &ports(p)]);
    }
    if let Some(p) = a.destination_port {
        n.push_leaf(&["destination-port", &ports(p)]);
    }
    let v6 = a.protocol == Some(58);
    if let Some(t) = a.icmp_type {
        n.push_leaf(&[if v6 { "icmp6-type" } else { "icmp-type" }, &t.to_string()]);
    }
    if let Some(t) = a.icmp_code {
        n.push_leaf(&[if v6 { "icmp6-code" } else { "icmp-code" }, &t.to_string()]);
    }
    match a.inactivity_timeout {
        Some(Timeout::Never) => n.push_leaf(&["inactivity-timeout", "never"]),
        Some(Timeout::Seconds(s)) => n.push_leaf(&["inactivity-timeout", &s.to_string()]),
        None => {}
    }
    if let Some(t) = a.ttl_threshold {
        n.push_leaf(&["ttl-threshold", &t.to_string()]);
    }
    if let Some((lo, hi)) = a.rpc_program_number {
        let s = if lo == hi {
            lo.to_string()
        } else {
            format!("{lo}-{hi}")
        };
        n.push_leaf(&["rpc-program-number", &s]);
    }
    if let Some(u) = &a.uuid {
        n.push_leaf(&["uuid", u]);
    }
}

fn policy_options(cfg: &Config) -> Node {
    let mut top = Node::new(&["policy-options"]);
    for p in &cfg.prefix_lists {
        let mut n = Node::new(&["prefix-list", &p.name]);
        for x in &p.prefixes {
            n.push_leaf(&[&x.to_string()]);
        }
        top.push(n);
    }
    top
}

fn emulator(cfg: &Config) -> Node {
    let mut top = Node::new(&["emulator"]);
    for i in &cfg.emulator.interfaces {
        top.push_leaf(&["interface", &i.name, "device", &i.device]);
    }
    if let Some(w) = cfg.emulator.workers {
        top.push_leaf(&["workers", &w.to_string()]);
    }
    if let Some(q) = cfg.emulator.queues {
        top.push_leaf(&["queues", &q.to_string()]);
    }
    if let Some(r) = cfg.emulator.junos_release {
        top.push_leaf(&["junos-release", &r.to_string()]);
    }
    top
}

fn tree(cfg: &Config) -> Vec<Node> {
    let mut v = Vec::new();
    for n in [
        interfaces(cfg),
        routing_options(cfg),
        services(cfg),
        applications(cfg),
        policy_options(cfg),
        emulator(cfg),
    ] {
        if !n.children.is_empty() {
            v.push(n);
        }
    }
    v
}

fn write_braces(out: &mut String, n: &Node, depth: usize) {
    let indent = "    ".repeat(depth);
    if n.children.is_empty() {
        let _ = writeln!(out, "{indent}{};", n.words.join(" "));
    } else {
        let _ = writeln!(out, "{indent}{} {{", n.words.join(" "));
        for c in &n.children {
            write_braces(out, c, depth + 1);
        }
        let _ = writeln!(out, "{indent}}}");
    }
}

fn write_set(out: &mut String, n: &Node, prefix: &mut Vec<String>) {
    let len = prefix.len();
    prefix.extend(n.words.iter().cloned());
    if n.children.is_empty() {
        let _ = writeln!(out, "set {}", prefix.join(" "));
    } else {
        for c in &n.children {
            write_set(out, c, prefix);
        }
    }
    prefix.truncate(len);
}

/// The configuration as hierarchical braces (`show configuration`).
pub fn braces(cfg: &Config) -> String {
    let mut out = String::new();
    for n in tree(cfg) {
        write_braces(&mut out, &n, 0);
    }
    out
}

/// The configuration as `set` lines (`show configuration | display set`).
pub fn set(cfg: &Config) -> String {
    let mut out = String::new();
    for n in tree(cfg) {
        write_set(&mut out, &n, &mut Vec::new());
    }
    out
}

/// The tree cut down to the hierarchy at `path` (the words of a `set` line after `set`):
/// nodes off the path are dropped, ancestors kept, everything below the path kept.
fn prune(nodes: &[Node], path: &[&str]) -> Vec<Node> {
    let mut out = Vec::new();
    for n in nodes {
        let k = n.words.len().min(path.len());
        if n.words[..k].iter().zip(&path[..k]).any(|(w, p)| w != p) {
            continue;
        }
        if path.len() <= n.words.len() {
            out.push(n.clone());
        } else {
            let children = prune(&n.children, &path[n.words.len()..]);
            if !children.is_empty() {
                out.push(Node {
                    words: n.words.clone(),
                    children,
                });
            }
        }
    }
    out
}

/// `show configuration PATH`: what is inside the hierarchy at `path`, in braces, printed
/// from that level (empty when nothing is configured there). An empty path is the whole
/// configuration.
pub fn braces_under(cfg: &Config, path: &[&str]) -> String {
    let mut current = prune(&tree(cfg), path);
    let mut rest = path;
    while !rest.is_empty() {
        let Some(n) = current.pop() else { break };
        if n.words.len() <= rest.len() {
            rest = &rest[n.words.len()..];
            current = n.children;
        } else {
            current = vec![Node {
                words: n.words[rest.len()..].to_vec(),
                children: n.children,
            }];
            rest = &[];
        }
    }
    let mut out = String::new();
    for n in &current {
        write_braces(&mut out, n, 0);
    }
    out
}

/// The configuration cut down to the hierarchy at `path`, in braces from the top (the
/// `<configuration-text>` of a NETCONF subtree request).
pub fn braces_at(cfg: &Config, path: &[&str]) -> String {
    let mut out = String::new();
    for n in prune(&tree(cfg), path) {
        write_braces(&mut out, &n, 0);
    }
    out
}

/// The `set` lines of the hierarchy at `path` (`show configuration PATH | display set`).
pub fn set_at(cfg: &Config, path: &[&str]) -> String {
    let mut out = String::new();
    for n in prune(&tree(cfg), path) {
        write_set(&mut out, &n, &mut Vec::new());
    }
    out
}

/// The configuration (cut down to `path`) as Junos XML: `<configuration>` with one element
/// per statement; a statement with a name becomes `<statement><name>NAME</name>…`, a leaf
/// with a value `<statement>value</statement>`, a bare keyword `<statement/>`, and a
/// `[ list ]` one element per value (`show configuration | display xml`).
pub fn xml_at(cfg: &Config, path: &[&str]) -> String {
    let mut out = String::from("<configuration>\n");
    for n in prune(&tree(cfg), path) {
        write_xml(&mut out, &n, 1, "configuration");
    }
    out.push_str("</configuration>\n");
    out
}

fn unquote(w: &str) -> String {
    match w.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => {
            let mut s = String::with_capacity(inner.len());
            let mut escaped = false;
            for c in inner.chars() {
                if c == '\\' && !escaped {
                    escaped = true;
                    continue;
                }
                escaped = false;
                s.push(c);
            }
            s
        }
        None => w.to_string(),
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The values of a word: the items of `[ a b ]`, or the word itself.
fn values(w: &str) -> Vec<String> {
    match w.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        Some(inner) => inner.split_whitespace().map(unquote).collect(),
        None => vec![unquote(w)],
    }
}

/// Can `w` be an XML element name (letters, digits, `-`, `_`, `.`, not starting with a
/// digit, `-` or `.`)?
fn is_tag(w: &str) -> bool {
    w.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Statements of one line whose words after the keyword are `low A high B` (and a flag):
/// Junos XML writes each word pair as a child element (`<range><low>2000</low>
/// <high>3000</high></range>`, a flag as `<random-allocation/>`), not as nested
/// statements. One list, for writing that XML and for reading it back.
pub const RANGE_STATEMENTS: &[&str] = &[
    "range",
    "address-range",
    "source-address-range",
    "destination-address-range",
];

/// The words of a [`RANGE_STATEMENTS`] statement that take a value.
pub const RANGE_VALUE_WORDS: &[&str] = &["low", "high"];

/// The element of a statement that starts with a name rather than a keyword
/// (`interfaces { ms-1/1/0 { … } }`, a prefix list's prefixes), as Junos names it:
/// `interface` under `interfaces`, else `PARENT-item`.
pub fn item_element(parent: &str) -> String {
    if parent == "interfaces" {
        "interface".to_string()
    } else {
        format!("{parent}-item")
    }
}

fn write_xml(out: &mut String, n: &Node, depth: usize, parent: &str) {
    let indent = "    ".repeat(depth);
    let Some(first) = n.words.first() else {
        return;
    };
    if !is_tag(first) {
        // A name in keyword position: `<interface><name>ms-1/1/0</name>…</interface>`.
        let item = item_element(parent);
        let _ = writeln!(out, "{indent}<{item}>");
        let _ = writeln!(
            out,
            "{indent}    <name>{}</name>",
            xml_escape(&unquote(first))
        );
        if n.words.len() > 1 {
            let inner = Node {
                words: n.words[1..].to_vec(),
                children: n.children.clone(),
            };
            write_xml(out, &inner, depth + 1, &item);
        } else {
            for c in &n.children {
                write_xml(out, c, depth + 1, &item);
            }
        }
        let _ = writeln!(out, "{indent}</{item}>");
        return;
    }
    let (tag, rest) = (first, &n.words[1..]);
    if RANGE_STATEMENTS.contains(&tag.as_str()) && n.children.is_empty() && !rest.is_empty() {
        let _ = writeln!(out, "{indent}<{tag}>");
        let mut words = rest.iter();
        while let Some(w) = words.next() {
            match words.clone().next() {
                Some(v) if RANGE_VALUE_WORDS.contains(&w.as_str()) => {
                    words.next();
                    let _ = writeln!(out, "{indent}    <{w}>{}</{w}>", xml_escape(&unquote(v)));
                }
                _ => {
                    let _ = writeln!(out, "{indent}    <{w}/>");
                }
            }
        }
        let _ = writeln!(out, "{indent}</{tag}>");
        return;
    }
    if rest.is_empty() {
        if n.children.is_empty() {
            let _ = writeln!(out, "{indent}<{tag}/>");
        } else {
            let _ = writeln!(out, "{indent}<{tag}>");
            for c in &n.children {
                write_xml(out, c, depth + 1, tag);
            }
            let _ = writeln!(out, "{indent}</{tag}>");
        }
        return;
    }
    // The first value names the element (or is its value); more words are nested
    // statements of their own, as `set` would read them.
    let (value, more) = rest.split_first().expect("rest is not empty");
    if n.children.is_empty() && more.is_empty() {
        for v in values(value) {
            let _ = writeln!(out, "{indent}<{tag}>{}</{tag}>", xml_escape(&v));
        }
        return;
    }
    let _ = writeln!(out, "{indent}<{tag}>");
    let _ = writeln!(
        out,
        "{indent}    <name>{}</name>",
        xml_escape(&unquote(value))
    );
    if !more.is_empty() {
        let inner = Node {
            words: more.to_vec(),
            children: n.children.clone(),
        };
        write_xml(out, &inner, depth + 1, tag);
    } else {
        for c in &n.children {
            write_xml(out, c, depth + 1, tag);
        }
    }
    let _ = writeln!(out, "{indent}</{tag}>");
}
