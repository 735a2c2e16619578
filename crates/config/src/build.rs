//! Paths (see [`crate::tree`]) → drafts → validated [`Config`].
//!
//! Each path is read word by word against the statement grammar of mspic's stanzas. Objects
//! are found or created by name, so a second `rule X { … }` block merges into the first as on
//! Junos; a leaf set twice to different values (two `match-direction`s) is an error.
//!
//! ## Unsupported statements
//!
//! Junos statements that mspic does not implement are handled in one of three ways:
//! - top-level stanzas (`system`, `protocols`, …): ignored, one warning per stanza;
//! - statements inside an implemented stanza that do not change what happens to a packet in
//!   the emulator, or whose absence is harmless there (`description`, `mtu`, service-set
//!   `syslog`, `ids-rules`, `ipsec-vpn-rules`, pool `secured-port-block-allocation`, …):
//!   ignored, one warning per statement;
//! - statements that change packet behaviour in a way mspic would silently get wrong
//!   (translation types other than the seven NAT44 ones, multi-term applications,
//!   `except` on a prefix list, more than one next-hop for a static route, a
//!   `service-filter` choosing which traffic reaches a service set): errors.
//!
//! Interface `filter`s are warned about, not rejected: they belong to the `firewall` stanza
//! (the router's packet filters, not the PIC's), which is ignored as a whole.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};

use crate::lexer::{Pos, Tok};
use crate::model::*;
use crate::names;
use crate::tree::{Path, Word};

/// A finding with its position (the file name is added by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Diag {
    pub pos: Pos,
    pub message: String,
}

#[derive(Debug, Default)]
pub(crate) struct Diags {
    pub errors: Vec<Diag>,
    pub warnings: Vec<Diag>,
    warned: HashSet<String>,
}

/// Processing of the current path stops (an error has been recorded, or the rest of the path
/// is an ignored statement).
struct Stop;
type R<T> = Result<T, Stop>;

impl Diags {
    fn error(&mut self, pos: Pos, message: impl Into<String>) -> Stop {
        let message = message.into();
        if !self
            .errors
            .iter()
            .any(|e| e.pos == pos && e.message == message)
        {
            self.errors.push(Diag { pos, message });
        }
        Stop
    }
    pub(crate) fn warn_once(&mut self, key: String, pos: Pos, message: impl Into<String>) {
        if self.warned.insert(key) {
            self.warnings.push(Diag {
                pos,
                message: message.into(),
            });
        }
    }
}

/// Statements accepted silently anywhere a keyword is expected (they have no effect).
const SILENT: &[&str] = &["description"];
/// Statements ignored with a warning anywhere a keyword is expected.
const IGNORED_EVERYWHERE: &[&str] = &["apply-groups", "apply-groups-except", "apply-macro"];

struct Cur<'a> {
    w: &'a [Word],
    i: usize,
}

impl<'a> Cur<'a> {
    fn at_end(&self) -> bool {
        self.i >= self.w.len()
    }
    fn prev(&self) -> Option<&'a Word> {
        self.i.checked_sub(1).and_then(|j| self.w.get(j))
    }
    fn prev_end(&self) -> Pos {
        self.prev().map(|w| w.end()).unwrap_or_default()
    }
    fn prev_text(&self) -> String {
        self.prev().map(|w| w.display()).unwrap_or_default()
    }
    fn consumed(&self, upto: usize) -> String {
        self.w[..upto]
            .iter()
            .map(|w| w.display())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The next keyword, from `supported`; `Ok(None)` at the end of the path (an empty
    /// container). Statements in `ignored` are warned about once and end the path.
    fn kw(
        &mut self,
        d: &mut Diags,
        supported: &[&'static str],
        ignored: &[&str],
    ) -> R<Option<(&'a str, Pos)>> {
        let Some(w) = self.w.get(self.i) else {
            return Ok(None);
        };
        let t = match w {
            Word::Atom(t) => t,
            Word::List { open, .. } => {
                return Err(d.error(
                    *open,
                    format!(
                        "unexpected list '{}' (expected one of: {})",
                        w.display(),
                        supported.join(", ")
                    ),
                ))
            }
        };
        let s = t.text.as_str();
        if supported.contains(&s) {
            self.i += 1;
            return Ok(Some((s, t.pos)));
        }
        if SILENT.contains(&s) {
            return Err(Stop);
        }
        if ignored.contains(&s) || IGNORED_EVERYWHERE.contains(&s) {
            let stmt = self.consumed(self.i + 1);
            d.warn_once(
                stmt.clone(),
                t.pos,
                format!("ignoring unsupported statement '{stmt}'"),
            );
            return Err(Stop);
        }
        Err(d.error(
            t.pos,
            format!(
                "unknown statement '{}' (expected one of: {})",
                s,
                supported.join(", ")
            ),
        ))
    }

    /// Like [`Cur::kw`] but the path may not end here.
    fn need_kw(
        &mut self,
        d: &mut Diags,
        supported: &[&'static str],
        ignored: &[&str],
    ) -> R<(&'a str, Pos)> {
        match self.kw(d, supported, ignored)? {
            Some(k) => Ok(k),
            None => Err(d.error(
                self.prev_end(),
                format!(
                    "missing statement after '{}' (expected one of: {})",
                    self.prev_text(),
                    supported.join(", ")
                ),
            )),
        }
    }

    /// The next word as a single value.
    fn val(&mut self, d: &mut Diags, what: &str) -> R<&'a Tok> {
        match self.w.get(self.i) {
            None => Err(d.error(
                self.prev_end(),
                format!("missing {what} after '{}'", self.prev_text()),
            )),
            Some(Word::List { open, .. }) => {
                Err(d.error(*open, format!("expected {what}, found a list")))
            }
            Some(Word::Atom(t)) => {
                self.i += 1;
                Ok(t)
            }
        }
    }

    /// The next word as one value or a list of values.
    fn vals(&mut self, d: &mut Diags, what: &str) -> R<Vec<&'a Tok>> {
        match self.w.get(self.i) {
            None => Err(d.error(
                self.prev_end(),
                format!("missing {what} after '{}'", self.prev_text()),
            )),
            Some(Word::List { items, .. }) => {
                self.i += 1;
                Ok(items.iter().collect())
            }
            Some(Word::Atom(t)) => {
                self.i += 1;
                Ok(vec![t])
            }
        }
    }

    /// A value converted by `f` (whose error text becomes the message).
    fn parse<T>(
        &mut self,
        d: &mut Diags,
        what: &str,
        f: impl Fn(&str) -> Result<T, String>,
    ) -> R<(T, &'a Tok)> {
        let t = self.val(d, what)?;
        match f(&t.text) {
            Ok(v) => Ok((v, t)),
            Err(m) => Err(d.error(t.pos, m)),
        }
    }

    /// The path must end here.
    fn end(&mut self, d: &mut Diags) -> R<()> {
        match self.w.get(self.i) {
            None => Ok(()),
            Some(w) => Err(d.error(
                w.pos(),
                format!(
                    "unexpected '{}' after '{}' (expected end of statement)",
                    w.display(),
                    self.prev_text()
                ),
            )),
        }
    }

    /// The path ends here or continues with statements that are ignored with a warning.
    fn end_or_ignore(&mut self, d: &mut Diags, ignored: &[&str]) -> R<()> {
        if self.at_end() {
            return Ok(());
        }
        self.kw(d, &[], ignored).map(|_| ())
    }
}

// ---------------------------------------------------------------------------------------
// Value parsers: Ok(value) or Err(message naming the token and what was expected).

fn uint(s: &str, what: &str, lo: u64, hi: u64) -> Result<u64, String> {
    let bad = || format!("invalid {what} '{s}' (expected a number {lo}-{hi})");
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 20 {
        return Err(bad());
    }
    let v: u64 = s.parse().map_err(|_| bad())?;
    if v < lo || v > hi {
        return Err(bad());
    }
    Ok(v)
}

fn u32_in(lo: u32, hi: u32, what: &'static str) -> impl Fn(&str) -> Result<u32, String> {
    move |s| uint(s, what, lo.into(), hi.into()).map(|v| v as u32)
}

fn ip(s: &str) -> Result<IpAddr, String> {
    s.parse()
        .map_err(|_| format!("invalid address '{s}' (expected an IPv4 or IPv6 address)"))
}

fn ipv4(s: &str) -> Result<Ipv4Addr, String> {
    s.parse()
        .map_err(|_| format!("invalid address '{s}' (expected an IPv4 address)"))
}

fn prefix(s: &str) -> Result<Prefix, String> {
    s.parse().map_err(|_| {
        format!("invalid prefix '{s}' (expected an address or address/length, e.g. 10.0.0.0/24)")
    })
}

fn port_value(s: &str) -> Result<u16, String> {
    if let Some(p) = names::port_from_name(s) {
        return Ok(p);
    }
    uint(s, "port", 0, 65535).map(|v| v as u16)
}

fn port_spec(s: &str) -> Result<PortRange, String> {
    let bad = || {
        format!(
            "invalid port '{s}' (expected a number 0-65535, a range low-high or a port name such as http)"
        )
    };
    if let Some(p) = names::port_from_name(s) {
        return Ok(PortRange::single(p));
    }
    let (lo, hi) = match s.split_once('-') {
        Some((a, b)) => (
            port_value(a).map_err(|_| bad())?,
            port_value(b).map_err(|_| bad())?,
        ),
        None => {
            let p = port_value(s).map_err(|_| bad())?;
            (p, p)
        }
    };
    if lo > hi {
        return Err(format!(
            "invalid port range '{s}' (the low port must not exceed the high port)"
        ));
    }
    Ok(PortRange { low: lo, high: hi })
}

fn protocol(s: &str) -> Result<u8, String> {
    if let Some(p) = names::ip_protocol_from_keyword(s) {
        return Ok(p);
    }
    uint(s, "protocol", 0, 255).map(|v| v as u8).map_err(|_| {
        let kws: Vec<&str> = names::IP_PROTOCOLS.iter().map(|(k, _)| *k).collect();
        format!(
            "invalid protocol '{s}' (expected a number 0-255 or one of: {})",
            kws.join(", ")
        )
    })
}

fn icmp_value(
    table: &'static [(&'static str, u8)],
    what: &'static str,
) -> impl Fn(&str) -> Result<u8, String> {
    move |s| {
        if let Some(v) = names::lookup(table, s) {
            return Ok(v);
        }
        uint(s, what, 0, 255).map(|v| v as u8).map_err(|_| {
            format!(
                "invalid {what} '{s}' (expected a number 0-255 or a name such as {})",
                table[0].0
            )
        })
    }
}

fn timeout(s: &str) -> Result<Timeout, String> {
    if s == "never" {
        return Ok(Timeout::Never);
    }
    uint(s, "inactivity-timeout", 4, 86400)
        .map(|v| Timeout::Seconds(v as u32))
        .map_err(|_| {
            format!("invalid inactivity-timeout '{s}' (expected 'never' or a number 4-86400)")
        })
}

fn rpc_program(s: &str) -> Result<(u32, u32), String> {
    let bad =
        || format!("invalid rpc-program-number '{s}' (expected a number or a range low-high)");
    let num = |x: &str| uint(x, "rpc-program-number", 0, u32::MAX.into()).map(|v| v as u32);
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (num(a).map_err(|_| bad())?, num(b).map_err(|_| bad())?),
        None => {
            let v = num(s).map_err(|_| bad())?;
            (v, v)
        }
    };
    if a > b {
        return Err(bad());
    }
    Ok((a, b))
}

fn uuid(s: &str) -> Result<String, String> {
    let bad = || {
        format!(
            "invalid uuid '{s}' (expected 32 hex digits as xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"
        )
    };
    let groups: Vec<&str> = s.split('-').collect();
    let ok = if groups.len() == 1 {
        s.len() == 32
    } else {
        groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
    };
    if !ok || !s.chars().all(|c| c == '-' || c.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok(s.to_ascii_lowercase())
}

/// A user-chosen object name (rule, pool, set…).
fn name(what: &'static str) -> impl Fn(&str) -> Result<String, String> {
    move |s| {
        let ok = !s.is_empty()
            && s.len() <= 63
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':'));
        if ok {
            Ok(s.to_string())
        } else {
            Err(format!(
                "invalid {what} '{s}' (expected up to 63 letters, digits, '-', '_', '.', '/' or ':')"
            ))
        }
    }
}

/// Forbidden NAT pool members (checked by overlap), with their description.
const POOL_FORBIDDEN: [(u32, u32, &str); 5] = [
    (
        0xffff_ffff,
        0xffff_ffff,
        "the broadcast address 255.255.255.255",
    ),
    (0, 0, "the unspecified address 0.0.0.0"),
    (0x7f00_0000, 0x7fff_ffff, "loopback 127.0.0.0/8"),
    (0xe000_0000, 0xefff_ffff, "multicast 224.0.0.0/4"),
    (0xf000_0000, 0xffff_ffff, "class E 240.0.0.0/4"),
];

fn pool_forbidden(lo: u32, hi: u32) -> Option<&'static str> {
    POOL_FORBIDDEN
        .iter()
        .find(|(a, b, _)| lo <= *b && *a <= hi)
        .map(|(_, _, what)| *what)
}

// ---------------------------------------------------------------------------------------
// Drafts.

/// A leaf value with where it was set, to detect conflicting duplicates.
#[derive(Debug, Clone)]
struct Leaf<T> {
    v: Option<(T, Pos, String)>,
}

impl<T> Default for Leaf<T> {
    fn default() -> Self {
        Leaf { v: None }
    }
}

impl<T: PartialEq + Clone> Leaf<T> {
    fn set(&mut self, d: &mut Diags, stmt: &str, val: T, pos: Pos, text: &str) -> R<()> {
        match &self.v {
            Some((old, opos, otext)) if *old != val => Err(d.error(
                pos,
                format!(
                    "conflicting values for '{stmt}': '{text}' conflicts with '{otext}' set at {}:{}",
                    opos.line, opos.col
                ),
            )),
            Some(_) => Ok(()),
            None => {
                self.v = Some((val, pos, text.to_string()));
                Ok(())
            }
        }
    }
    fn get(&self) -> Option<T> {
        self.v.as_ref().map(|(v, _, _)| v.clone())
    }
    fn pos(&self) -> Option<Pos> {
        self.v.as_ref().map(|(_, p, _)| *p)
    }
}

/// A reference by name to another object, with where it was written.
#[derive(Debug, Clone)]
struct Ref {
    name: String,
    pos: Pos,
}

fn push_ref(v: &mut Vec<Ref>, t: &Tok) {
    if !v.iter().any(|r| r.name == t.text) {
        v.push(Ref {
            name: t.text.clone(),
            pos: t.pos,
        });
    }
}

fn entry<T>(v: &mut Vec<T>, found: impl Fn(&T) -> bool, new: impl FnOnce() -> T) -> &mut T {
    let idx = match v.iter().position(found) {
        Some(i) => i,
        None => {
            v.push(new());
            v.len() - 1
        }
    };
    &mut v[idx]
}

#[derive(Default)]
struct FamD {
    addresses: Vec<Prefix>,
    input: Leaf<String>,
    output: Leaf<String>,
}

struct UnitD {
    number: u32,
    inet: Option<FamD>,
    inet6: Option<FamD>,
}

struct IfD {
    name: String,
    units: Vec<UnitD>,
}

#[derive(Default)]
struct OptsD {
    inactivity: Leaf<u32>,
    inactivity_tcp: Leaf<u32>,
    inactivity_non_tcp: Leaf<u32>,
    open: Leaf<u32>,
    close: Leaf<u32>,
    limit_max: Leaf<u32>,
    limit_rate: Leaf<u32>,
    tickles: Leaf<u32>,
}

struct SvcUnitD {
    number: u32,
    inet: bool,
    inet6: bool,
    domain: Leaf<ServiceDomain>,
}

struct SvcIfD {
    name: String,
    opts: OptsD,
    units: Vec<SvcUnitD>,
}

struct RouteD {
    prefix: Prefix,
    pos: Pos,
    next_hop: Leaf<NextHop>,
    nh_ref: Option<Ref>,
}

struct AppD {
    name: String,
    alg: Leaf<AppProtocol>,
    protocol: Leaf<u8>,
    sport: Leaf<PortRange>,
    dport: Leaf<PortRange>,
    icmp_type: Leaf<u8>,
    icmp_code: Leaf<u8>,
    timeout: Leaf<Timeout>,
    rpc: Leaf<(u32, u32)>,
    uuid: Leaf<String>,
}

struct AppSetD {
    name: String,
    pos: Pos,
    apps: Vec<Ref>,
    sets: Vec<Ref>,
}

struct PlD {
    name: String,
    prefixes: Vec<Prefix>,
}

#[derive(Default)]
struct FromD {
    src: Vec<AddressMatch>,
    dst: Vec<AddressMatch>,
    src_range: Vec<AddressRange>,
    dst_range: Vec<AddressRange>,
    src_pl: Vec<Ref>,
    dst_pl: Vec<Ref>,
    apps: Vec<Ref>,
    app_sets: Vec<Ref>,
}

struct SfwTermD {
    name: String,
    pos: Pos,
    from: FromD,
    action: Leaf<SfwAction>,
    syslog: bool,
    ip_opts: Vec<String>,
}

struct SfwRuleD {
    name: String,
    pos: Pos,
    dir: Leaf<MatchDirection>,
    terms: Vec<SfwTermD>,
}

struct RuleSetD {
    name: String,
    rules: Vec<Ref>,
}

#[derive(Clone, Copy, PartialEq)]
enum PortKind {
    Automatic,
    Range(u16, u16),
}

struct PoolD {
    name: String,
    pos: Pos,
    addresses: Vec<Prefix>,
    ranges: Vec<(Ipv4Addr, Ipv4Addr)>,
    members: usize,
    port: Leaf<PortKind>,
    port_pos: Option<Pos>,
    random: bool,
    parity: bool,
    preserve_range: bool,
    round_robin: bool,
    mapping_timeout: Leaf<u32>,
}

#[derive(Default)]
struct TranslatedD {
    spool: Leaf<String>,
    dpool: Leaf<String>,
    sprefix: Leaf<Prefix>,
    dprefix: Leaf<Prefix>,
    ttype: Leaf<TranslationType>,
    paired: bool,
    eim: bool,
    eif: bool,
}

struct NatTermD {
    name: String,
    pos: Pos,
    from: FromD,
    kind: Leaf<bool>, // true: translated, false: no-translation
    translated: TranslatedD,
    syslog: bool,
}

struct NatRuleD {
    name: String,
    pos: Pos,
    dir: Leaf<MatchDirection>,
    terms: Vec<NatTermD>,
}

struct SsD {
    name: String,
    pos: Pos,
    sfw_rules: Vec<Ref>,
    sfw_rule_sets: Vec<Ref>,
    nat_rules: Vec<Ref>,
    nat_rule_sets: Vec<Ref>,
    iface: Leaf<String>,
    inside: Leaf<String>,
    outside: Leaf<String>,
    max_flows: Leaf<u32>,
}

/// References to check: the refs, what they name, and whether a name exists.
type RefCheck<'a> = (&'a Vec<Ref>, &'a str, &'a dyn Fn(&str) -> bool);

struct EmuIfD {
    name: String,
    pos: Pos,
    device: Leaf<String>,
}

#[derive(Default)]
struct EmuD {
    interfaces: Vec<EmuIfD>,
    workers: Leaf<u32>,
    queues: Leaf<u32>,
}

#[derive(Default)]
pub(crate) struct Builder {
    interfaces: Vec<IfD>,
    svc: Vec<SvcIfD>,
    routes: Vec<RouteD>,
    apps: Vec<AppD>,
    app_sets: Vec<AppSetD>,
    prefix_lists: Vec<PlD>,
    sfw_rules: Vec<SfwRuleD>,
    sfw_rule_sets: Vec<RuleSetD>,
    pools: Vec<PoolD>,
    nat_rules: Vec<NatRuleD>,
    nat_rule_sets: Vec<RuleSetD>,
    service_sets: Vec<SsD>,
    emu: EmuD,
    /// Interface-style service-set references from interfaces: (set, pos).
    if_set_refs: Vec<Ref>,
    /// Paths (as text) that had an error.
    tainted: Vec<String>,
}

// ---------------------------------------------------------------------------------------
// Grammar.

const TOP: &[&str] = &[
    "interfaces",
    "routing-options",
    "services",
    "applications",
    "policy-options",
    "emulator",
];

/// Junos top-level statements that mspic ignores with one warning each.
const TOP_IGNORED: &[&str] = &[
    "access",
    "access-profile",
    "accounting-options",
    "apply-groups",
    "apply-groups-except",
    "bridge-domains",
    "chassis",
    "class-of-service",
    "diameter",
    "dynamic-profiles",
    "ethernet-switching-options",
    "event-options",
    "fabric",
    "firewall",
    "forwarding-options",
    "groups",
    "jsrc",
    "jsrc-partition",
    "logical-systems",
    "multi-chassis",
    "multicast-snooping-options",
    "poe",
    "protocols",
    "routing-instances",
    "schedulers",
    "security",
    "session-limit-group",
    "smtp",
    "snmp",
    "switch-options",
    "system",
    "tenants",
    "unified-edge",
    "version",
    "virtual-chassis",
    "vlans",
    "vmhost",
    "wlan",
];

const PHYS_IGNORED: &[&str] = &[
    "aggregated-ether-options",
    "disable",
    "encapsulation",
    "ether-options",
    "flexible-vlan-tagging",
    "gigether-options",
    "hold-time",
    "link-mode",
    "mac",
    "mtu",
    "native-vlan-id",
    "optics-options",
    "per-unit-scheduler",
    "hierarchical-scheduler",
    "speed",
    "traceoptions",
    "vlan-tagging",
    "stacked-vlan-tagging",
    "esi",
    "passive-monitor-mode",
    "no-gratuitous-arp-request",
];

const UNIT_IGNORED: &[&str] = &[
    "vlan-id",
    "vlan-tags",
    "encapsulation",
    "disable",
    "bandwidth",
    "mtu",
    "proxy-arp",
    "traps",
    "no-traps",
];

const FAMILY_INET_IGNORED: &[&str] = &[
    "filter",
    "mtu",
    "sampling",
    "rpf-check",
    "no-redirects",
    "dhcp",
    "dhcp-client",
    "unnumbered-address",
    "policer",
    "targeted-broadcast",
    "primary",
    "preferred",
    "accounting",
    "simple-filter",
];

const ADDRESS_IGNORED: &[&str] = &[
    "primary",
    "preferred",
    "vrrp-group",
    "vrrp-inet6-group",
    "arp",
    "broadcast",
    "destination",
    "eui-64",
];

const OPTS: &[&str] = &[
    "inactivity-timeout",
    "inactivity-tcp-timeout",
    "inactivity-non-tcp-timeout",
    "open-timeout",
    "close-timeout",
    "session-limit",
    "tcp-tickles",
];

const OPTS_IGNORED: &[&str] = &[
    "syslog",
    "ignore-errors",
    "fragment-limit",
    "reassembly-timeout",
    "cgn-pic",
    "trio-flow-offload",
    "disable-global-timeout-override",
    "inactivity-asymm-tcp-timeout",
    "session-timeout",
    "jflow-log",
    "pba-interim-logging-interval",
    "tcp-non-syn",
];

const SERVICES: &[&str] = &["stateful-firewall", "nat", "service-set"];

const SERVICES_IGNORED: &[&str] = &[
    "adaptive-services-pics",
    "aacl",
    "application-identification",
    "border-signaling-gateway",
    "captive-portal-content-delivery",
    "cos",
    "dynamic-flow-capture",
    "flow-monitoring",
    "hcm",
    "ids",
    "ipsec-vpn",
    "l2tp",
    "logging",
    "pcp",
    "pgcp",
    "ptsp",
    "rpm",
    "service-interface-pools",
    "softwire",
    "traceoptions",
    "url-filter",
    "web-filter",
];

const FROM: &[&str] = &[
    "source-address",
    "destination-address",
    "source-address-range",
    "destination-address-range",
    "source-prefix-list",
    "destination-prefix-list",
    "applications",
    "application-sets",
];

const SS: &[&str] = &[
    "stateful-firewall-rules",
    "stateful-firewall-rule-sets",
    "nat-rules",
    "nat-rule-sets",
    "interface-service",
    "next-hop-service",
    "max-flows",
];

const SS_IGNORED: &[&str] = &[
    "aacl-rules",
    "allow-multicast",
    "border-signaling-gateway",
    "cos-rules",
    "hcm-profile",
    "hcm-url-rule-sets",
    "ids-rules",
    "ids-rule-sets",
    "ipsec-vpn-options",
    "ipsec-vpn-rules",
    "ipsec-vpn-rule-sets",
    "jflow-log",
    "max-drop-flows",
    "max-session-setup-rate",
    "max-sessions-per-subscriber",
    "nat-options",
    "pcp-rules",
    "pgcp-rules",
    "ptsp-rules",
    "replicate-services",
    "sampling-service",
    "service-order",
    "service-set-options",
    "snmp-trap-thresholds",
    "softwire-rules",
    "syslog",
    "tcp-mss",
    "web-filter-profile",
];

const TRANSLATED: &[&str] = &[
    "source-pool",
    "destination-pool",
    "source-prefix",
    "destination-prefix",
    "translation-type",
    "address-pooling",
    "mapping-type",
    "filtering-type",
];

const TRANSLATED_IGNORED: &[&str] = &[
    "overload-pool",
    "overload-prefix",
    "dns-alg-pool",
    "dns-alg-prefix",
    "use-dns-map-for-destination-translation",
    "secure-nat-mapping",
];

/// Junos translation types that mspic does not implement (rejected, not ignored).
const TRANSLATION_UNSUPPORTED: &[&str] = &[
    "basic-nat-pt",
    "basic-nat66",
    "deterministic-napt44",
    "deterministic-napt64",
    "dnat-64",
    "napt-66",
    "napt-pt",
    "stateful-nat464",
    "stateful-nat64",
];

const APP: &[&str] = &[
    "application-protocol",
    "protocol",
    "source-port",
    "destination-port",
    "icmp-type",
    "icmp-code",
    "icmp6-type",
    "icmp6-code",
    "inactivity-timeout",
    "rpc-program-number",
    "uuid",
];

const APP_IGNORED: &[&str] = &[
    "learn-sip-register",
    "sip-call-hold-timeout",
    "snmp-command",
    "ttl-threshold",
    "child-inactivity-timeout",
    "gate-timeout",
    "ether-type",
];

const ROUTING_IGNORED: &[&str] = &[
    "aggregate",
    "autonomous-system",
    "confederation",
    "dynamic-tunnels",
    "forwarding-table",
    "generate",
    "graceful-restart",
    "instance-export",
    "instance-import",
    "interface-routes",
    "martians",
    "maximum-paths",
    "maximum-prefixes",
    "multicast",
    "multipath",
    "nonstop-routing",
    "options",
    "resolution",
    "rib-groups",
    "route-distinguisher-id",
    "router-id",
    "traceoptions",
];

const ROUTE_IGNORED: &[&str] = &[
    "preference",
    "metric",
    "tag",
    "no-readvertise",
    "readvertise",
    "install",
    "no-install",
    "retain",
    "no-retain",
    "active",
    "passive",
    "resolve",
    "no-resolve",
    "community",
    "as-path",
    "qualified-next-hop",
    "bfd-liveness-detection",
    "lsp-next-hop",
];

const POLICY_IGNORED: &[&str] = &[
    "policy-statement",
    "community",
    "as-path",
    "as-path-group",
    "condition",
    "damping",
    "route-filter-list",
    "mac-list",
    "application-maps",
    "defaults",
    "tunnel-attribute",
];

/// Names of interfaces of services PICs other than `ms-`, ignored with a warning.
const OTHER_SERVICE_IFS: &[&str] = &["sp-", "mams-", "vms-", "ams", "rms", "lsq-", "si-"];

enum IfKind {
    Service,
    Plain,
    Ignored,
}

fn digits_slashes(s: &str, parts: usize) -> bool {
    let s = s.split_once(':').map_or(s, |(a, b)| {
        if b.is_empty() || !b.bytes().all(|c| c.is_ascii_digit()) {
            "!"
        } else {
            a
        }
    });
    let v: Vec<&str> = s.split('/').collect();
    v.len() == parts
        && v.iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|c| c.is_ascii_digit()))
}

fn interface_kind(s: &str) -> Result<IfKind, String> {
    if s.contains('.') {
        return Err(format!(
            "invalid interface name '{s}' (write the unit as 'unit N', not in the name)"
        ));
    }
    if let Some(rest) = s.strip_prefix("ms-") {
        return if digits_slashes(rest, 3) && !rest.contains(':') {
            Ok(IfKind::Service)
        } else {
            Err(format!(
                "invalid services interface name '{s}' (expected ms-FPC/PIC/PORT, e.g. ms-1/1/0)"
            ))
        };
    }
    if OTHER_SERVICE_IFS.iter().any(|p| s.starts_with(p)) {
        return Ok(IfKind::Ignored);
    }
    for p in ["ge-", "xe-", "et-", "fe-"] {
        if let Some(rest) = s.strip_prefix(p) {
            return if digits_slashes(rest, 3) {
                Ok(IfKind::Plain)
            } else {
                Err(format!(
                    "invalid interface name '{s}' (expected {p}FPC/PIC/PORT, e.g. {p}0/0/0)"
                ))
            };
        }
    }
    let ok = s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | ':' | '_'));
    if ok {
        Ok(IfKind::Plain)
    } else {
        Err(format!("invalid interface name '{s}'"))
    }
}

/// Splits `ms-1/1/0.1` into (`ms-1/1/0`, Some(1)).
fn split_unit(s: &str) -> Result<(&str, Option<u32>), String> {
    match s.split_once('.') {
        None => Ok((s, None)),
        Some((n, u)) => uint(u, "unit number", 0, 1_073_741_823)
            .map(|u| (n, Some(u as u32)))
            .map_err(|_| format!("invalid interface name '{s}' (expected NAME or NAME.UNIT)")),
    }
}

impl Builder {
    pub(crate) fn path(&mut self, d: &mut Diags, words: &Path) {
        let before = d.errors.len();
        let mut c = Cur { w: words, i: 0 };
        let _ = self.top(d, &mut c);
        if d.errors.len() > before {
            self.tainted.push(c.consumed(words.len()));
        }
    }

    /// True when a statement under `key` (e.g. `services nat pool p`) had an error: checks
    /// for missing statements are skipped there, so that one mistake gives one error.
    fn tainted(&self, key: &str) -> bool {
        self.tainted
            .iter()
            .any(|t| t == key || (t.starts_with(key) && t.as_bytes().get(key.len()) == Some(&b' ')))
    }

    fn top(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        if let Some(Word::Atom(t)) = c.w.first() {
            if TOP_IGNORED.contains(&t.text.as_str()) {
                d.warn_once(
                    format!("top:{}", t.text),
                    t.pos,
                    format!("ignoring unsupported top-level stanza '{}'", t.text),
                );
                return Ok(());
            }
        }
        let Some((k, _)) = c.kw(d, TOP, &[])? else {
            return Ok(());
        };
        match k {
            "interfaces" => self.interfaces(d, c),
            "routing-options" => self.routing_options(d, c),
            "services" => self.services(d, c),
            "applications" => self.applications(d, c),
            "policy-options" => self.policy_options(d, c),
            _ => self.emulator(d, c),
        }
    }

    // --- interfaces -------------------------------------------------------------------

    fn interfaces(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        if c.at_end() {
            return Ok(());
        }
        if let Some(Word::Atom(t)) = c.w.get(c.i) {
            if matches!(
                t.text.as_str(),
                "interface-range" | "interface-set" | "traceoptions"
            ) {
                return c
                    .kw(
                        d,
                        &[],
                        &["interface-range", "interface-set", "traceoptions"],
                    )
                    .map(|_| ());
            }
            if IGNORED_EVERYWHERE.contains(&t.text.as_str()) {
                return c.kw(d, &[], &[]).map(|_| ());
            }
        }
        let t = c.val(d, "interface name")?;
        let kind = interface_kind(&t.text).map_err(|m| d.error(t.pos, m))?;
        match kind {
            IfKind::Ignored => {
                d.warn_once(
                    format!("if:{}", t.text),
                    t.pos,
                    format!(
                        "ignoring unsupported services interface '{}' (only ms- interfaces are emulated)",
                        t.text
                    ),
                );
                Ok(())
            }
            IfKind::Service => {
                let name = t.text.clone();
                let si = entry(
                    &mut self.svc,
                    |s| s.name == name,
                    || SvcIfD {
                        name: name.clone(),
                        opts: OptsD::default(),
                        units: Vec::new(),
                    },
                );
                Self::service_interface(si, d, c)
            }
            IfKind::Plain => {
                let name = t.text.clone();
                let ifd = entry(
                    &mut self.interfaces,
                    |s| s.name == name,
                    || IfD {
                        name: name.clone(),
                        units: Vec::new(),
                    },
                );
                let Some(_) = c.kw(d, &["unit"], PHYS_IGNORED)? else {
                    return Ok(());
                };
                let (n, _) = c.parse(d, "unit number", u32_in(0, 1_073_741_823, "unit number"))?;
                let unit = entry(
                    &mut ifd.units,
                    |u| u.number == n,
                    || UnitD {
                        number: n,
                        inet: None,
                        inet6: None,
                    },
                );
                let Some(_) = c.kw(d, &["family"], UNIT_IGNORED)? else {
                    return Ok(());
                };
                let fam = c.val(d, "address family")?;
                let v6 = match fam.text.as_str() {
                    "inet" => false,
                    "inet6" => true,
                    "mpls" | "iso" | "ethernet-switching" | "bridge" | "ccc" | "vpls" | "tcc"
                    | "inet-vpn" | "mlppp" | "mlfr-end-to-end" | "any" => {
                        let stmt = c.consumed(c.i);
                        d.warn_once(
                            stmt.clone(),
                            fam.pos,
                            format!("ignoring unsupported statement '{stmt}'"),
                        );
                        return Ok(());
                    }
                    other => {
                        return Err(d.error(
                            fam.pos,
                            format!(
                                "unknown address family '{other}' (expected one of: inet, inet6)"
                            ),
                        ))
                    }
                };
                let slot = if v6 { &mut unit.inet6 } else { &mut unit.inet };
                let fd = slot.get_or_insert_with(FamD::default);
                let Some((k, _)) = c.kw(d, &["address", "service"], FAMILY_INET_IGNORED)? else {
                    return Ok(());
                };
                if k == "address" {
                    let (p, t) = c.parse(d, "interface address", prefix)?;
                    if p.addr.is_ipv6() != v6 {
                        return Err(d.error(
                            t.pos,
                            format!(
                                "address '{}' is not an {} address (family {})",
                                t.text,
                                if v6 { "IPv6" } else { "IPv4" },
                                if v6 { "inet6" } else { "inet" }
                            ),
                        ));
                    }
                    if !fd.addresses.contains(&p) {
                        fd.addresses.push(p);
                    }
                    return c.end_or_ignore(d, ADDRESS_IGNORED);
                }
                let (dir, _) = c.need_kw(d, &["input", "output"], &["input-vrf"])?;
                if let Some(Word::Atom(t)) = c.w.get(c.i) {
                    if matches!(t.text.as_str(), "service-filter" | "post-service-filter") {
                        return Err(d.error(
                            t.pos,
                            format!(
                                "unsupported statement '{}' (mspic sends all of the interface's traffic to the service set)",
                                t.text
                            ),
                        ));
                    }
                }
                c.need_kw(d, &["service-set"], &[])?;
                // `service-set S service-filter F` (the filter after the set's name).
                if let Some(Word::Atom(f)) = c.w.get(c.i + 1) {
                    if f.text == "service-filter" {
                        return Err(d.error(
                            f.pos,
                            "unsupported statement 'service-filter' (mspic sends all of the interface's traffic to the service set)",
                        ));
                    }
                }
                let t = c.val(d, "service-set name")?;
                c.end(d)?;
                let leaf = if dir == "input" {
                    &mut fd.input
                } else {
                    &mut fd.output
                };
                let stmt = format!("service {dir} service-set");
                leaf.set(d, &stmt, t.text.clone(), t.pos, &t.text)?;
                self.if_set_refs.push(Ref {
                    name: t.text.clone(),
                    pos: t.pos,
                });
                Ok(())
            }
        }
    }

    fn service_interface(si: &mut SvcIfD, d: &mut Diags, c: &mut Cur) -> R<()> {
        let ignored = [
            "redundancy-options",
            "load-balancing-options",
            "multiservice-options",
            "mtu",
            "traceoptions",
            "disable",
        ];
        let Some((k, _)) = c.kw(d, &["services-options", "unit"], &ignored)? else {
            return Ok(());
        };
        if k == "unit" {
            let (n, _) = c.parse(d, "unit number", u32_in(0, 1_073_741_823, "unit number"))?;
            let unit = entry(
                &mut si.units,
                |u| u.number == n,
                || SvcUnitD {
                    number: n,
                    inet: false,
                    inet6: false,
                    domain: Leaf::default(),
                },
            );
            let Some((k, _)) = c.kw(
                d,
                &["family", "service-domain"],
                &["dial-options", "encapsulation", "mtu"],
            )?
            else {
                return Ok(());
            };
            if k == "service-domain" {
                let (dom, t) = c.parse(d, "service domain", |s| match s {
                    "inside" => Ok(ServiceDomain::Inside),
                    "outside" => Ok(ServiceDomain::Outside),
                    _ => Err(format!(
                        "invalid service-domain '{s}' (expected inside or outside)"
                    )),
                })?;
                c.end(d)?;
                return unit.domain.set(d, "service-domain", dom, t.pos, &t.text);
            }
            let fam = c.val(d, "address family")?;
            match fam.text.as_str() {
                "inet" => unit.inet = true,
                "inet6" => unit.inet6 = true,
                other => {
                    return Err(d.error(
                        fam.pos,
                        format!("unknown address family '{other}' (expected one of: inet, inet6)"),
                    ))
                }
            }
            return c.end_or_ignore(d, &["address", "filter", "mtu", "sampling"]);
        }
        let (k, kpos) = c.need_kw(d, OPTS, OPTS_IGNORED)?;
        let o = &mut si.opts;
        let (leaf, range): (&mut Leaf<u32>, (u32, u32)) = match k {
            "inactivity-timeout" => (&mut o.inactivity, (4, 86400)),
            "inactivity-tcp-timeout" => (&mut o.inactivity_tcp, (4, 86400)),
            "inactivity-non-tcp-timeout" => (&mut o.inactivity_non_tcp, (4, 86400)),
            "open-timeout" => (&mut o.open, (4, 224)),
            "close-timeout" => (&mut o.close, (4, 300)),
            "tcp-tickles" => (&mut o.tickles, (0, 30)),
            _ => {
                let (k2, _) = c.need_kw(d, &["maximum", "rate"], &["cpu-load-threshold"])?;
                let leaf = if k2 == "maximum" {
                    &mut o.limit_max
                } else {
                    &mut o.limit_rate
                };
                let what = if k2 == "maximum" {
                    "session-limit maximum"
                } else {
                    "session-limit rate"
                };
                let (v, t) = c.parse(d, what, u32_in(0, u32::MAX, what))?;
                c.end(d)?;
                return leaf.set(d, what, v, t.pos, &t.text);
            }
        };
        let _ = kpos;
        let what: &'static str = match k {
            "inactivity-timeout" => "inactivity-timeout",
            "inactivity-tcp-timeout" => "inactivity-tcp-timeout",
            "inactivity-non-tcp-timeout" => "inactivity-non-tcp-timeout",
            "open-timeout" => "open-timeout",
            "close-timeout" => "close-timeout",
            _ => "tcp-tickles",
        };
        let (v, t) = c.parse(d, what, u32_in(range.0, range.1, what))?;
        c.end(d)?;
        leaf.set(d, what, v, t.pos, &t.text)
    }

    // --- routing-options --------------------------------------------------------------

    fn routing_options(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        let Some((k, _)) = c.kw(d, &["static", "rib"], ROUTING_IGNORED)? else {
            return Ok(());
        };
        let mut in_v6 = false;
        if k == "rib" {
            let t = c.val(d, "routing table name")?;
            in_v6 = t.text == "inet6.0";
            if !matches!(t.text.as_str(), "inet.0" | "inet6.0") {
                let stmt = c.consumed(c.i);
                d.warn_once(
                    stmt.clone(),
                    t.pos,
                    format!("ignoring unsupported statement '{stmt}'"),
                );
                return Ok(());
            }
            let Some(_) = c.kw(d, &["static"], ROUTING_IGNORED)? else {
                return Ok(());
            };
        }
        let Some(_) = c.kw(d, &["route"], &["defaults", "rib-group"])? else {
            return Ok(());
        };
        let (p, t) = c.parse(d, "route prefix", prefix)?;
        if p.addr.is_ipv6() != in_v6 {
            return Err(d.error(
                t.pos,
                if in_v6 {
                    format!("route {} is not an IPv6 prefix (routing table inet6.0)", t.text)
                } else {
                    format!("route {} is an IPv6 prefix (write it under 'routing-options rib inet6.0 static')", t.text)
                },
            ));
        }
        let route = entry(
            &mut self.routes,
            |r| r.prefix == p,
            || RouteD {
                prefix: p,
                pos: t.pos,
                next_hop: Leaf::default(),
                nh_ref: None,
            },
        );
        let Some((k, kpos)) = c.kw(d, &["next-hop", "discard", "reject"], ROUTE_IGNORED)? else {
            return Ok(());
        };
        match k {
            "discard" | "reject" => {
                c.end(d)?;
                let nh = if k == "discard" {
                    NextHop::Discard
                } else {
                    NextHop::Reject
                };
                route.next_hop.set(d, "next-hop", nh, kpos, k)
            }
            _ => {
                let toks = c.vals(d, "next-hop address or interface")?;
                c.end(d)?;
                if toks.len() > 1 {
                    return Err(d.error(
                        toks[1].pos,
                        format!(
                            "route {}: more than one next-hop is not supported (found '{}')",
                            route.prefix, toks[1].text
                        ),
                    ));
                }
                let Some(t) = toks.first() else {
                    return Err(d.error(
                        kpos,
                        "missing next-hop address or interface after 'next-hop'",
                    ));
                };
                let nh = match t.text.parse::<IpAddr>() {
                    Ok(a) => {
                        if a.is_ipv4() != route.prefix.addr.is_ipv4() {
                            return Err(d.error(
                                t.pos,
                                format!(
                                    "next-hop '{}' is not of the same address family as route {}",
                                    t.text, route.prefix
                                ),
                            ));
                        }
                        NextHop::Address(a)
                    }
                    Err(_) => {
                        let (n, _) = split_unit(&t.text).map_err(|m| d.error(t.pos, m))?;
                        if interface_kind(n).is_err() || !n.contains(|c: char| c.is_ascii_digit()) {
                            return Err(d.error(
                                t.pos,
                                format!(
                                    "invalid next-hop '{}' (expected an address or an interface name such as ms-1/1/0.1)",
                                    t.text
                                ),
                            ));
                        }
                        route.nh_ref = Some(Ref {
                            name: t.text.clone(),
                            pos: t.pos,
                        });
                        NextHop::Interface(t.text.clone())
                    }
                };
                let text = t.text.clone();
                route.next_hop.set(d, "next-hop", nh, t.pos, &text)
            }
        }
    }

    // --- services ---------------------------------------------------------------------

    fn services(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        let Some((k, _)) = c.kw(d, SERVICES, SERVICES_IGNORED)? else {
            return Ok(());
        };
        match k {
            "stateful-firewall" => self.stateful_firewall(d, c),
            "nat" => self.nat(d, c),
            _ => self.service_set(d, c),
        }
    }

    fn rule_set(sets: &mut Vec<RuleSetD>, d: &mut Diags, c: &mut Cur) -> R<()> {
        let (n, _) = c.parse(d, "rule-set name", name("rule-set name"))?;
        let rs = entry(
            sets,
            |s| s.name == n,
            || RuleSetD {
                name: n.clone(),
                rules: Vec::new(),
            },
        );
        let Some(_) = c.kw(d, &["rule"], &[])? else {
            return Ok(());
        };
        for t in c.vals(d, "rule name")? {
            push_ref(&mut rs.rules, t);
        }
        c.end(d)
    }

    fn direction(c: &mut Cur, d: &mut Diags, nat: bool) -> R<(MatchDirection, Pos, String)> {
        let (dir, t) = c.parse(d, "match direction", |s| match s {
            "input" => Ok(MatchDirection::Input),
            "output" => Ok(MatchDirection::Output),
            "input-output" if !nat => Ok(MatchDirection::InputOutput),
            _ if nat => Err(format!(
                "invalid match-direction '{s}' (expected input or output)"
            )),
            _ => Err(format!(
                "invalid match-direction '{s}' (expected input, output or input-output)"
            )),
        })?;
        c.end(d)?;
        Ok((dir, t.pos, t.text.clone()))
    }

    fn stateful_firewall(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        let Some((k, _)) = c.kw(d, &["rule", "rule-set"], &["traceoptions"])? else {
            return Ok(());
        };
        if k == "rule-set" {
            return Self::rule_set(&mut self.sfw_rule_sets, d, c);
        }
        let (n, t) = c.parse(d, "rule name", name("rule name"))?;
        let rule = entry(
            &mut self.sfw_rules,
            |r| r.name == n,
            || SfwRuleD {
                name: n.clone(),
                pos: t.pos,
                dir: Leaf::default(),
                terms: Vec::new(),
            },
        );
        let Some((k, _)) = c.kw(d, &["match-direction", "term"], &[])? else {
            return Ok(());
        };
        if k == "match-direction" {
            let (dir, pos, text) = Self::direction(c, d, false)?;
            return rule.dir.set(d, "match-direction", dir, pos, &text);
        }
        let (tn, t) = c.parse(d, "term name", name("term name"))?;
        let term = entry(
            &mut rule.terms,
            |x| x.name == tn,
            || SfwTermD {
                name: tn.clone(),
                pos: t.pos,
                from: FromD::default(),
                action: Leaf::default(),
                syslog: false,
                ip_opts: Vec::new(),
            },
        );
        let Some((k, _)) = c.kw(d, &["from", "then"], &[])? else {
            return Ok(());
        };
        if k == "from" {
            return Self::from(&mut term.from, d, c);
        }
        let Some((k, kpos)) = c.kw(
            d,
            &["accept", "discard", "reject", "syslog", "allow-ip-options"],
            &["count"],
        )?
        else {
            return Ok(());
        };
        match k {
            "syslog" => {
                term.syslog = true;
                c.end_or_ignore(d, &["severity", "prefix"])
            }
            "allow-ip-options" => {
                for t in c.vals(d, "IP option")? {
                    let ok = names::IP_OPTIONS.contains(&t.text.as_str())
                        || uint(&t.text, "IP option", 0, 255).is_ok();
                    if !ok {
                        return Err(d.error(
                            t.pos,
                            format!(
                                "invalid IP option '{}' (expected a number 0-255 or one of: {})",
                                t.text,
                                names::IP_OPTIONS.join(", ")
                            ),
                        ));
                    }
                    if !term.ip_opts.contains(&t.text) {
                        term.ip_opts.push(t.text.clone());
                    }
                }
                c.end(d)
            }
            _ => {
                let a = match k {
                    "accept" => SfwAction::Accept,
                    "discard" => SfwAction::Discard,
                    _ => SfwAction::Reject,
                };
                term.action.set(d, "then action", a, kpos, k)?;
                c.end_or_ignore(d, &["skip-ids", "skip-ids-service"])
            }
        }
    }

    fn from(f: &mut FromD, d: &mut Diags, c: &mut Cur) -> R<()> {
        let Some((k, _)) = c.kw(d, FROM, &[])? else {
            return Ok(());
        };
        match k {
            "source-address" | "destination-address" => {
                let t = c.val(d, "address, prefix or any-unicast")?;
                let except = match c.kw(d, &["except"], &[])? {
                    Some(_) => {
                        c.end(d)?;
                        true
                    }
                    None => false,
                };
                let m = if t.text == "any-unicast" {
                    AddressMatch::AnyUnicast { except }
                } else {
                    let p = prefix(&t.text).map_err(|m| {
                        d.error(t.pos, m.replace("(expected ", "(expected any-unicast or "))
                    })?;
                    AddressMatch::Prefix { prefix: p, except }
                };
                let v = if k == "source-address" {
                    &mut f.src
                } else {
                    &mut f.dst
                };
                if !v.contains(&m) {
                    v.push(m);
                }
                Ok(())
            }
            "source-address-range" | "destination-address-range" => {
                c.need_kw(d, &["low"], &[])?;
                let (low, lt) = c.parse(d, "low address", ip)?;
                c.need_kw(d, &["high"], &[])?;
                let (high, ht) = c.parse(d, "high address", ip)?;
                c.end(d)?;
                if low.is_ipv4() != high.is_ipv4() {
                    return Err(d.error(
                        ht.pos,
                        format!("address range {}-{} mixes IPv4 and IPv6", lt.text, ht.text),
                    ));
                }
                if low > high {
                    return Err(d.error(
                        lt.pos,
                        format!(
                            "invalid address range: low {} is above high {}",
                            lt.text, ht.text
                        ),
                    ));
                }
                let r = AddressRange { low, high };
                let v = if k == "source-address-range" {
                    &mut f.src_range
                } else {
                    &mut f.dst_range
                };
                if !v.contains(&r) {
                    v.push(r);
                }
                Ok(())
            }
            "source-prefix-list" | "destination-prefix-list" => {
                let t = c.val(d, "prefix-list name")?;
                if let Some((_, p)) = c.kw(d, &["except"], &[])? {
                    return Err(d.error(p, "'except' on a prefix list is not supported by mspic"));
                }
                let v = if k == "source-prefix-list" {
                    &mut f.src_pl
                } else {
                    &mut f.dst_pl
                };
                push_ref(v, t);
                Ok(())
            }
            "applications" => {
                for t in c.vals(d, "application name")? {
                    push_ref(&mut f.apps, t);
                }
                c.end(d)
            }
            _ => {
                for t in c.vals(d, "application-set name")? {
                    push_ref(&mut f.app_sets, t);
                }
                c.end(d)
            }
        }
    }

    fn nat(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        let Some((k, _)) = c.kw(
            d,
            &["pool", "rule", "rule-set"],
            &[
                "traceoptions",
                "ipv6-multicast-interfaces",
                "port-forwarding",
                "allow-overlapping-nat-pools",
                "nat-options",
            ],
        )?
        else {
            return Ok(());
        };
        match k {
            "rule-set" => Self::rule_set(&mut self.nat_rule_sets, d, c),
            "pool" => self.pool(d, c),
            _ => self.nat_rule(d, c),
        }
    }

    fn pool(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        let (n, t) = c.parse(d, "pool name", name("pool name"))?;
        let pool = entry(
            &mut self.pools,
            |p| p.name == n,
            || PoolD {
                name: n.clone(),
                pos: t.pos,
                addresses: Vec::new(),
                ranges: Vec::new(),
                members: 0,
                port: Leaf::default(),
                port_pos: None,
                random: false,
                parity: false,
                preserve_range: false,
                round_robin: false,
                mapping_timeout: Leaf::default(),
            },
        );
        let Some((k, kpos)) = c.kw(
            d,
            &[
                "address",
                "address-range",
                "port",
                "address-allocation",
                "mapping-timeout",
            ],
            &[
                "ei-mapping-timeout",
                "app-mapping-timeout",
                "limit-ports-per-address",
                "snmp-trap-thresholds",
                "pgcp",
                "ipv6-prefix-length",
            ],
        )?
        else {
            return Ok(());
        };
        match k {
            "address" => {
                let (p, t) = c.parse(d, "pool address", prefix)?;
                c.end(d)?;
                let IpAddr::V4(a) = p.addr else {
                    return Err(d.error(
                        t.pos,
                        format!(
                            "invalid NAT pool address '{}' (mspic implements NAT44: expected an IPv4 address or prefix)",
                            t.text
                        ),
                    ));
                };
                let net = u32::from(a)
                    & if p.len == 0 {
                        0
                    } else {
                        u32::MAX << (32 - p.len)
                    };
                let last = net
                    | if p.len == 0 {
                        u32::MAX
                    } else {
                        !(u32::MAX << (32 - p.len))
                    };
                if let Some(what) = pool_forbidden(net, last) {
                    return Err(d.error(
                        t.pos,
                        format!(
                            "invalid NAT pool address '{}': it covers {what}, which cannot be a pool member",
                            t.text
                        ),
                    ));
                }
                if !pool.addresses.contains(&p) {
                    pool.members += 1;
                    if pool.members > 32 {
                        return Err(d.error(
                            t.pos,
                            format!(
                                "nat pool '{}' has more than 32 addresses and ranges",
                                pool.name
                            ),
                        ));
                    }
                    pool.addresses.push(p);
                }
                Ok(())
            }
            "address-range" => {
                c.need_kw(d, &["low"], &[])?;
                let (low, lt) = c.parse(d, "low address", ipv4)?;
                c.need_kw(d, &["high"], &[])?;
                let (high, ht) = c.parse(d, "high address", ipv4)?;
                c.end(d)?;
                if low > high {
                    return Err(d.error(
                        lt.pos,
                        format!(
                            "invalid address-range: low {} is above high {}",
                            lt.text, ht.text
                        ),
                    ));
                }
                if let Some(what) = pool_forbidden(low.into(), high.into()) {
                    return Err(d.error(
                        lt.pos,
                        format!(
                            "invalid NAT pool address-range {}-{}: it covers {what}, which cannot be a pool member",
                            lt.text, ht.text
                        ),
                    ));
                }
                if !pool.ranges.contains(&(low, high)) {
                    pool.members += 1;
                    if pool.members > 32 {
                        return Err(d.error(
                            lt.pos,
                            format!(
                                "nat pool '{}' has more than 32 addresses and ranges",
                                pool.name
                            ),
                        ));
                    }
                    pool.ranges.push((low, high));
                }
                Ok(())
            }
            "address-allocation" => {
                c.need_kw(d, &["round-robin"], &[])?;
                c.end(d)?;
                pool.round_robin = true;
                Ok(())
            }
            "mapping-timeout" => {
                let (v, t) =
                    c.parse(d, "mapping-timeout", u32_in(120, 86400, "mapping-timeout"))?;
                c.end(d)?;
                pool.mapping_timeout
                    .set(d, "mapping-timeout", v, t.pos, &t.text)
            }
            _ => {
                if pool.port_pos.is_none() {
                    pool.port_pos = Some(kpos);
                }
                let Some((k, kpos)) = c.kw(
                    d,
                    &["automatic", "range", "preserve-parity", "preserve-range"],
                    &[
                        "secured-port-block-allocation",
                        "deterministic-port-block-allocation",
                    ],
                )?
                else {
                    return Ok(());
                };
                match k {
                    "preserve-parity" => {
                        c.end(d)?;
                        pool.parity = true;
                        Ok(())
                    }
                    "preserve-range" => {
                        c.end(d)?;
                        pool.preserve_range = true;
                        Ok(())
                    }
                    "automatic" => {
                        pool.port
                            .set(d, "port", PortKind::Automatic, kpos, "automatic")?;
                        if let Some((m, _)) = c.kw(d, &["sequential", "random-allocation"], &[])? {
                            c.end(d)?;
                            if m == "random-allocation" {
                                pool.random = true;
                            }
                        }
                        Ok(())
                    }
                    _ => {
                        c.need_kw(d, &["low"], &[])?;
                        let (low, lt) = c.parse(d, "low port", |s| uint(s, "port", 0, 65535))?;
                        c.need_kw(d, &["high"], &[])?;
                        let (high, ht) = c.parse(d, "high port", |s| uint(s, "port", 0, 65535))?;
                        if low > high {
                            return Err(d.error(
                                lt.pos,
                                format!(
                                    "invalid port range: low {} is above high {}",
                                    lt.text, ht.text
                                ),
                            ));
                        }
                        let text = format!("range low {} high {}", lt.text, ht.text);
                        pool.port.set(
                            d,
                            "port",
                            PortKind::Range(low as u16, high as u16),
                            lt.pos,
                            &text,
                        )?;
                        if c.kw(d, &["random-allocation"], &[])?.is_some() {
                            pool.random = true;
                        }
                        c.end(d)
                    }
                }
            }
        }
    }

    fn nat_rule(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        let (n, t) = c.parse(d, "rule name", name("rule name"))?;
        let rule = entry(
            &mut self.nat_rules,
            |r| r.name == n,
            || NatRuleD {
                name: n.clone(),
                pos: t.pos,
                dir: Leaf::default(),
                terms: Vec::new(),
            },
        );
        let Some((k, _)) = c.kw(d, &["match-direction", "term"], &[])? else {
            return Ok(());
        };
        if k == "match-direction" {
            let (dir, pos, text) = Self::direction(c, d, true)?;
            return rule.dir.set(d, "match-direction", dir, pos, &text);
        }
        let (tn, t) = c.parse(d, "term name", name("term name"))?;
        let term = entry(
            &mut rule.terms,
            |x| x.name == tn,
            || NatTermD {
                name: tn.clone(),
                pos: t.pos,
                from: FromD::default(),
                kind: Leaf::default(),
                translated: TranslatedD::default(),
                syslog: false,
            },
        );
        let Some((k, _)) = c.kw(d, &["from", "then"], &[])? else {
            return Ok(());
        };
        if k == "from" {
            return Self::from(&mut term.from, d, c);
        }
        let Some((k, kpos)) = c.kw(d, &["translated", "no-translation", "syslog"], &[])? else {
            return Ok(());
        };
        match k {
            "syslog" => {
                term.syslog = true;
                c.end(d)
            }
            "no-translation" => {
                c.end(d)?;
                term.kind.set(d, "then", false, kpos, "no-translation")
            }
            _ => {
                term.kind.set(d, "then", true, kpos, "translated")?;
                let Some((k, _)) = c.kw(d, TRANSLATED, TRANSLATED_IGNORED)? else {
                    return Ok(());
                };
                let tr = &mut term.translated;
                match k {
                    "source-pool" | "destination-pool" => {
                        let t = c.val(d, "pool name")?;
                        c.end(d)?;
                        let leaf = if k == "source-pool" {
                            &mut tr.spool
                        } else {
                            &mut tr.dpool
                        };
                        leaf.set(d, k, t.text.clone(), t.pos, &t.text)
                    }
                    "source-prefix" | "destination-prefix" => {
                        let (p, t) = c.parse(d, "prefix", prefix)?;
                        c.end(d)?;
                        let leaf = if k == "source-prefix" {
                            &mut tr.sprefix
                        } else {
                            &mut tr.dprefix
                        };
                        leaf.set(d, k, p, t.pos, &t.text)
                    }
                    "translation-type" => {
                        let (tt, t) = c.parse(d, "translation type", |s| {
                            if let Some(tt) = TranslationType::from_keyword(s) {
                                return Ok(tt);
                            }
                            let all: Vec<&str> =
                                TranslationType::ALL.iter().map(|t| t.keyword()).collect();
                            if TRANSLATION_UNSUPPORTED.contains(&s) {
                                Err(format!(
                                    "translation-type '{s}' is not supported by mspic (supported: {})",
                                    all.join(", ")
                                ))
                            } else {
                                Err(format!(
                                    "unknown translation-type '{s}' (expected one of: {})",
                                    all.join(", ")
                                ))
                            }
                        })?;
                        c.end(d)?;
                        tr.ttype.set(d, "translation-type", tt, t.pos, &t.text)
                    }
                    "address-pooling" => {
                        c.need_kw(d, &["paired"], &[])?;
                        c.end(d)?;
                        tr.paired = true;
                        Ok(())
                    }
                    "mapping-type" => {
                        c.need_kw(d, &["endpoint-independent"], &[])?;
                        c.end(d)?;
                        tr.eim = true;
                        Ok(())
                    }
                    _ => {
                        c.need_kw(d, &["endpoint-independent"], &[])?;
                        tr.eif = true;
                        c.end_or_ignore(d, &["prefix-list"])
                    }
                }
            }
        }
    }

    fn service_set(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        let (n, t) = c.parse(d, "service-set name", name("service-set name"))?;
        let ss = entry(
            &mut self.service_sets,
            |s| s.name == n,
            || SsD {
                name: n.clone(),
                pos: t.pos,
                sfw_rules: Vec::new(),
                sfw_rule_sets: Vec::new(),
                nat_rules: Vec::new(),
                nat_rule_sets: Vec::new(),
                iface: Leaf::default(),
                inside: Leaf::default(),
                outside: Leaf::default(),
                max_flows: Leaf::default(),
            },
        );
        let Some((k, _)) = c.kw(d, SS, SS_IGNORED)? else {
            return Ok(());
        };
        match k {
            "stateful-firewall-rules"
            | "stateful-firewall-rule-sets"
            | "nat-rules"
            | "nat-rule-sets" => {
                let v = match k {
                    "stateful-firewall-rules" => &mut ss.sfw_rules,
                    "stateful-firewall-rule-sets" => &mut ss.sfw_rule_sets,
                    "nat-rules" => &mut ss.nat_rules,
                    _ => &mut ss.nat_rule_sets,
                };
                let what = if k.ends_with("sets") {
                    "rule-set name"
                } else {
                    "rule name"
                };
                for t in c.vals(d, what)? {
                    push_ref(v, t);
                }
                c.end(d)
            }
            "interface-service" => {
                let Some(_) = c.kw(
                    d,
                    &["service-interface"],
                    &["load-balancing-options", "service-interface-pool"],
                )?
                else {
                    return Ok(());
                };
                let t = c.val(d, "services interface name")?;
                c.end(d)?;
                ss.iface
                    .set(d, "service-interface", t.text.clone(), t.pos, &t.text)
            }
            "next-hop-service" => {
                let Some((k, _)) = c.kw(
                    d,
                    &["inside-service-interface", "outside-service-interface"],
                    &["outside-service-interface-type", "service-interface-pool"],
                )?
                else {
                    return Ok(());
                };
                let t = c.val(d, "services interface name")?;
                c.end(d)?;
                let leaf = if k == "inside-service-interface" {
                    &mut ss.inside
                } else {
                    &mut ss.outside
                };
                leaf.set(d, k, t.text.clone(), t.pos, &t.text)
            }
            _ => {
                let (v, t) = c.parse(d, "max-flows", u32_in(0, u32::MAX, "max-flows"))?;
                c.end(d)?;
                ss.max_flows.set(d, "max-flows", v, t.pos, &t.text)
            }
        }
    }

    // --- applications -----------------------------------------------------------------

    fn applications(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        let Some((k, _)) = c.kw(d, &["application", "application-set"], &[])? else {
            return Ok(());
        };
        let what = if k == "application" {
            "application name"
        } else {
            "application-set name"
        };
        let (n, t) = c.parse(d, what, name(what))?;
        if n.starts_with("junos-") {
            return Err(d.error(
                t.pos,
                format!("invalid {k} name '{n}': names starting with 'junos-' are reserved for predefined applications"),
            ));
        }
        if k == "application-set" {
            let set = entry(
                &mut self.app_sets,
                |s| s.name == n,
                || AppSetD {
                    name: n.clone(),
                    pos: t.pos,
                    apps: Vec::new(),
                    sets: Vec::new(),
                },
            );
            let Some((k, _)) = c.kw(d, &["application", "application-set"], &[])? else {
                return Ok(());
            };
            let v = if k == "application" {
                &mut set.apps
            } else {
                &mut set.sets
            };
            for t in c.vals(d, "name")? {
                push_ref(v, t);
            }
            return c.end(d);
        }
        let app = entry(
            &mut self.apps,
            |a| a.name == n,
            || AppD {
                name: n.clone(),
                alg: Leaf::default(),
                protocol: Leaf::default(),
                sport: Leaf::default(),
                dport: Leaf::default(),
                icmp_type: Leaf::default(),
                icmp_code: Leaf::default(),
                timeout: Leaf::default(),
                rpc: Leaf::default(),
                uuid: Leaf::default(),
            },
        );
        if let Some(Word::Atom(t)) = c.w.get(c.i) {
            if t.text == "term" {
                return Err(d.error(
                    t.pos,
                    "unsupported statement 'term' (mspic does not implement multi-term applications; define one application per protocol and group them in an application-set)",
                ));
            }
        }
        let Some((k, _)) = c.kw(d, APP, APP_IGNORED)? else {
            return Ok(());
        };
        match k {
            "application-protocol" => {
                let (p, t) = c.parse(d, "application protocol", |s| {
                    AppProtocol::from_keyword(s).ok_or_else(|| {
                        let all: Vec<&str> = AppProtocol::ALL.iter().map(|p| p.keyword()).collect();
                        format!(
                            "unknown application-protocol '{s}' (expected one of: {})",
                            all.join(", ")
                        )
                    })
                })?;
                c.end(d)?;
                app.alg.set(d, k, p, t.pos, &t.text)
            }
            "protocol" => {
                let (p, t) = c.parse(d, "protocol", protocol)?;
                c.end(d)?;
                app.protocol.set(d, k, p, t.pos, &t.text)
            }
            "source-port" | "destination-port" => {
                let (p, t) = c.parse(d, "port", port_spec)?;
                c.end(d)?;
                let leaf = if k == "source-port" {
                    &mut app.sport
                } else {
                    &mut app.dport
                };
                leaf.set(d, k, p, t.pos, &t.text)
            }
            "icmp-type" | "icmp6-type" => {
                let table: &'static [(&'static str, u8)] = if k == "icmp-type" {
                    &names::ICMP_TYPES
                } else {
                    &names::ICMP6_TYPES
                };
                let (v, t) = c.parse(d, "ICMP type", icmp_value(table, "icmp-type"))?;
                c.end(d)?;
                app.icmp_type.set(d, "icmp-type", v, t.pos, &t.text)
            }
            "icmp-code" | "icmp6-code" => {
                let (v, t) =
                    c.parse(d, "ICMP code", icmp_value(&names::ICMP_CODES, "icmp-code"))?;
                c.end(d)?;
                app.icmp_code.set(d, "icmp-code", v, t.pos, &t.text)
            }
            "inactivity-timeout" => {
                let (v, t) = c.parse(d, "inactivity-timeout", timeout)?;
                c.end(d)?;
                app.timeout.set(d, k, v, t.pos, &t.text)
            }
            "rpc-program-number" => {
                let (v, t) = c.parse(d, "rpc-program-number", rpc_program)?;
                c.end(d)?;
                app.rpc.set(d, k, v, t.pos, &t.text)
            }
            _ => {
                let (v, t) = c.parse(d, "uuid", uuid)?;
                c.end(d)?;
                app.uuid.set(d, k, v.clone(), t.pos, &v)
            }
        }
    }

    // --- policy-options / emulator ----------------------------------------------------

    fn policy_options(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        let Some(_) = c.kw(d, &["prefix-list"], POLICY_IGNORED)? else {
            return Ok(());
        };
        let (n, _) = c.parse(d, "prefix-list name", name("prefix-list name"))?;
        let pl = entry(
            &mut self.prefix_lists,
            |p| p.name == n,
            || PlD {
                name: n.clone(),
                prefixes: Vec::new(),
            },
        );
        if let Some(Word::Atom(t)) = c.w.get(c.i) {
            if t.text == "apply-path" {
                return c.kw(d, &[], &["apply-path"]).map(|_| ());
            }
        }
        if c.at_end() {
            return Ok(());
        }
        let (p, _) = c.parse(d, "prefix", prefix)?;
        c.end(d)?;
        if !pl.prefixes.contains(&p) {
            pl.prefixes.push(p);
        }
        Ok(())
    }

    fn emulator(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        let Some((k, _)) = c.kw(d, &["interface", "workers", "queues"], &[])? else {
            return Ok(());
        };
        if k != "interface" {
            let (v, t) = c.parse(
                d,
                k,
                u32_in(1, 1024, if k == "workers" { "workers" } else { "queues" }),
            )?;
            c.end(d)?;
            let leaf = if k == "workers" {
                &mut self.emu.workers
            } else {
                &mut self.emu.queues
            };
            return leaf.set(d, k, v, t.pos, &t.text);
        }
        let t = c.val(d, "interface name")?;
        let ei = entry(
            &mut self.emu.interfaces,
            |e| e.name == t.text,
            || EmuIfD {
                name: t.text.clone(),
                pos: t.pos,
                device: Leaf::default(),
            },
        );
        let Some(_) = c.kw(d, &["device"], &[])? else {
            return Ok(());
        };
        let dev = c.val(d, "device name")?;
        c.end(d)?;
        let ok = !dev.text.is_empty()
            && dev.text.len() < 16
            && !dev.text.contains(|c: char| c == '/' || c.is_whitespace());
        if !ok {
            return Err(d.error(
                dev.pos,
                format!(
                    "invalid device name '{}' (expected a Linux netdev name of at most 15 characters)",
                    dev.text
                ),
            ));
        }
        ei.device
            .set(d, "device", dev.text.clone(), dev.pos, &dev.text)
    }

    // --- validation and model ---------------------------------------------------------

    pub(crate) fn finish(self, d: &mut Diags) -> Config {
        let mut cfg = Config::default();

        // Interfaces.
        for i in &self.interfaces {
            cfg.interfaces.push(Interface {
                name: i.name.clone(),
                units: i
                    .units
                    .iter()
                    .map(|u| {
                        let fam = |f: &Option<FamD>| {
                            f.as_ref().map(|f| Family {
                                addresses: f.addresses.clone(),
                                input_service_set: f.input.get(),
                                output_service_set: f.output.get(),
                            })
                        };
                        Unit {
                            number: u.number,
                            inet: fam(&u.inet),
                            inet6: fam(&u.inet6),
                        }
                    })
                    .collect(),
            });
        }
        for s in &self.svc {
            let o = &s.opts;
            cfg.service_interfaces.push(ServiceInterface {
                name: s.name.clone(),
                options: ServicesOptions {
                    inactivity_timeout: o.inactivity.get(),
                    inactivity_tcp_timeout: o.inactivity_tcp.get(),
                    inactivity_non_tcp_timeout: o.inactivity_non_tcp.get(),
                    open_timeout: o.open.get(),
                    close_timeout: o.close.get(),
                    session_limit_maximum: o.limit_max.get(),
                    session_limit_rate: o.limit_rate.get(),
                    tcp_tickles: o.tickles.get(),
                },
                units: s
                    .units
                    .iter()
                    .map(|u| ServiceUnit {
                        number: u.number,
                        inet: u.inet,
                        inet6: u.inet6,
                        service_domain: u.domain.get(),
                    })
                    .collect(),
            });
        }

        // An interface reference `NAME[.UNIT]`: Ok(true) if it is an ms- interface.
        let check_if_ref = |d: &mut Diags,
                            r: &Ref,
                            what: &str,
                            want_ms: bool|
         -> Option<(bool, Option<u32>)> {
            let (n, unit) = match split_unit(&r.name) {
                Ok(x) => x,
                Err(m) => {
                    d.error(r.pos, m);
                    return None;
                }
            };
            if let Some(s) = self.svc.iter().find(|s| s.name == n) {
                if let Some(u) = unit {
                    if !s.units.iter().any(|x| x.number == u) {
                        d.error(
                            r.pos,
                            format!("{what} '{}': unit {u} of {n} is not configured", r.name),
                        );
                        return None;
                    }
                }
                return Some((true, unit));
            }
            if want_ms {
                let msg = if self.interfaces.iter().any(|i| i.name == n) {
                    format!("{what} '{}' is not a services (ms-) interface", r.name)
                } else {
                    format!("{what} '{}' is not a configured ms- interface", r.name)
                };
                d.error(r.pos, msg);
                return None;
            }
            match self.interfaces.iter().find(|i| i.name == n) {
                None => {
                    d.error(
                        r.pos,
                        format!("{what} '{}' is not a configured interface", r.name),
                    );
                    None
                }
                Some(i) => {
                    if let Some(u) = unit {
                        if !i.units.iter().any(|x| x.number == u) {
                            d.error(
                                r.pos,
                                format!("{what} '{}': unit {u} of {n} is not configured", r.name),
                            );
                            return None;
                        }
                    }
                    Some((false, unit))
                }
            }
        };

        // Static routes.
        for r in &self.routes {
            let Some(nh) = r.next_hop.get() else {
                if self.tainted(&format!("routing-options static route {}", r.prefix))
                    || self.tainted(&format!(
                        "routing-options rib inet6.0 static route {}",
                        r.prefix
                    ))
                {
                    continue;
                }
                d.error(
                    r.pos,
                    format!(
                        "route {} has no next-hop (expected next-hop, discard or reject)",
                        r.prefix
                    ),
                );
                continue;
            };
            if let Some(nr) = &r.nh_ref {
                check_if_ref(d, nr, "next-hop", false);
            }
            cfg.static_routes.push(StaticRoute {
                prefix: r.prefix,
                next_hop: nh,
            });
        }

        // Applications and sets.
        for a in &self.apps {
            let proto = a.protocol.get();
            for (leaf, what) in [(&a.sport, "source-port"), (&a.dport, "destination-port")] {
                if let Some(pos) = leaf.pos() {
                    if !matches!(proto, Some(6) | Some(17) | Some(132)) {
                        d.error(
                            pos,
                            format!(
                                "application '{}': {what} needs protocol tcp, udp or sctp",
                                a.name
                            ),
                        );
                    }
                }
            }
            for (leaf, what) in [(&a.icmp_type, "icmp-type"), (&a.icmp_code, "icmp-code")] {
                if let Some(pos) = leaf.pos() {
                    if !matches!(proto, Some(1) | Some(58)) {
                        d.error(
                            pos,
                            format!(
                                "application '{}': {what} needs protocol icmp or icmp6",
                                a.name
                            ),
                        );
                    }
                }
            }
            cfg.applications.push(Application {
                name: a.name.clone(),
                application_protocol: a.alg.get(),
                protocol: proto,
                source_port: a.sport.get(),
                destination_port: a.dport.get(),
                icmp_type: a.icmp_type.get(),
                icmp_code: a.icmp_code.get(),
                inactivity_timeout: a.timeout.get(),
                rpc_program_number: a.rpc.get(),
                uuid: a.uuid.get(),
                predefined: false,
            });
        }
        cfg.applications.extend(crate::predefined::applications());
        for s in &self.app_sets {
            cfg.application_sets.push(ApplicationSet {
                name: s.name.clone(),
                applications: s.apps.iter().map(|r| r.name.clone()).collect(),
                application_sets: s.sets.iter().map(|r| r.name.clone()).collect(),
                predefined: false,
            });
        }
        cfg.application_sets
            .extend(crate::predefined::application_sets());
        let is_app = |n: &str| cfg.applications.iter().any(|a| a.name == n);
        let is_set = |n: &str| cfg.application_sets.iter().any(|a| a.name == n);
        for s in &self.app_sets {
            if self.apps.iter().any(|a| a.name == s.name) {
                d.error(
                    s.pos,
                    format!(
                        "application-set '{}' has the same name as an application (a term's 'applications' could name either)",
                        s.name
                    ),
                );
            }
            for r in &s.apps {
                if !is_app(&r.name) {
                    d.error(
                        r.pos,
                        format!(
                            "application-set '{}': application '{}' is not defined",
                            s.name, r.name
                        ),
                    );
                }
            }
            for r in &s.sets {
                if !is_set(&r.name) {
                    d.error(
                        r.pos,
                        format!(
                            "application-set '{}': application-set '{}' is not defined",
                            s.name, r.name
                        ),
                    );
                }
            }
        }
        // Cycles among application sets.
        for s in &self.app_sets {
            let mut stack: Vec<&str> = s.sets.iter().map(|r| r.name.as_str()).collect();
            let mut seen: HashSet<&str> = HashSet::new();
            while let Some(n) = stack.pop() {
                if n == s.name {
                    d.error(
                        s.pos,
                        format!("application-set '{}' contains itself", s.name),
                    );
                    break;
                }
                if !seen.insert(n) {
                    continue;
                }
                if let Some(x) = self.app_sets.iter().find(|x| x.name == n) {
                    stack.extend(x.sets.iter().map(|r| r.name.as_str()));
                }
            }
        }

        for p in &self.prefix_lists {
            cfg.prefix_lists.push(PrefixList {
                name: p.name.clone(),
                prefixes: p.prefixes.clone(),
            });
        }

        let check_from = |d: &mut Diags, f: &FromD| {
            for r in &f.apps {
                if !is_app(&r.name) && !is_set(&r.name) {
                    d.error(
                        r.pos,
                        format!("application '{}' is not defined (neither an application nor an application-set)", r.name),
                    );
                }
            }
            for r in &f.app_sets {
                if !is_set(&r.name) {
                    d.error(
                        r.pos,
                        format!("application-set '{}' is not defined", r.name),
                    );
                }
            }
            for r in f.src_pl.iter().chain(&f.dst_pl) {
                if !self.prefix_lists.iter().any(|p| p.name == r.name) {
                    d.error(r.pos, format!("prefix-list '{}' is not defined", r.name));
                }
            }
        };
        let conv_from = |f: &FromD| MatchConditions {
            source_address: f.src.clone(),
            destination_address: f.dst.clone(),
            source_address_range: f.src_range.clone(),
            destination_address_range: f.dst_range.clone(),
            source_prefix_list: f.src_pl.iter().map(|r| r.name.clone()).collect(),
            destination_prefix_list: f.dst_pl.iter().map(|r| r.name.clone()).collect(),
            applications: f.apps.iter().map(|r| r.name.clone()).collect(),
            application_sets: f.app_sets.iter().map(|r| r.name.clone()).collect(),
        };

        // Stateful firewall.
        for r in &self.sfw_rules {
            let dir = r.dir.get();
            if dir.is_none()
                && !self.tainted(&format!("services stateful-firewall rule {}", r.name))
            {
                d.error(
                    r.pos,
                    format!(
                        "stateful-firewall rule '{}' has no match-direction (expected input, output or input-output)",
                        r.name
                    ),
                );
            }
            let mut terms = Vec::new();
            for t in &r.terms {
                check_from(d, &t.from);
                let Some(action) = t.action.get() else {
                    if self.tainted(&format!(
                        "services stateful-firewall rule {} term {}",
                        r.name, t.name
                    )) {
                        continue;
                    }
                    d.error(
                        t.pos,
                        format!(
                            "term '{}' of stateful-firewall rule '{}' has no action (expected then accept, discard or reject)",
                            t.name, r.name
                        ),
                    );
                    continue;
                };
                terms.push(SfwTerm {
                    name: t.name.clone(),
                    from: conv_from(&t.from),
                    action,
                    syslog: t.syslog,
                    allow_ip_options: t.ip_opts.clone(),
                });
            }
            if let Some(dir) = dir {
                cfg.sfw_rules.push(SfwRule {
                    name: r.name.clone(),
                    match_direction: dir,
                    terms,
                });
            }
        }
        let rule_sets =
            |d: &mut Diags, sets: &[RuleSetD], exists: &dyn Fn(&str) -> bool, kind: &str| {
                sets.iter()
                    .map(|s| {
                        for r in &s.rules {
                            if !exists(&r.name) {
                                d.error(
                                    r.pos,
                                    format!(
                                        "{kind} rule-set '{}': rule '{}' is not defined",
                                        s.name, r.name
                                    ),
                                );
                            }
                        }
                        RuleSet {
                            name: s.name.clone(),
                            rules: s.rules.iter().map(|r| r.name.clone()).collect(),
                        }
                    })
                    .collect::<Vec<_>>()
            };
        cfg.sfw_rule_sets = rule_sets(
            d,
            &self.sfw_rule_sets,
            &|n| self.sfw_rules.iter().any(|r| r.name == n),
            "stateful-firewall",
        );

        // NAT pools.
        for p in &self.pools {
            let bad_pool = self.tainted(&format!("services nat pool {}", p.name));
            if p.addresses.is_empty() && p.ranges.is_empty() && !bad_pool {
                d.error(
                    p.pos,
                    format!("nat pool '{}' has no address or address-range", p.name),
                );
            }
            let port = match p.port.get() {
                None => {
                    if let (Some(pos), false) = (p.port_pos, bad_pool) {
                        d.error(
                            pos,
                            format!(
                                "nat pool '{}': port needs 'automatic' or 'range low L high H'",
                                p.name
                            ),
                        );
                    }
                    None
                }
                Some(PortKind::Automatic) => Some(PoolPort::Automatic { random: p.random }),
                Some(PortKind::Range(low, high)) => Some(PoolPort::Range {
                    low,
                    high,
                    random: p.random,
                }),
            };
            cfg.nat_pools.push(NatPool {
                name: p.name.clone(),
                addresses: p.addresses.clone(),
                address_ranges: p.ranges.clone(),
                port,
                preserve_parity: p.parity,
                preserve_range: p.preserve_range,
                address_allocation_round_robin: p.round_robin,
                mapping_timeout: p.mapping_timeout.get(),
            });
        }

        // NAT rules.
        for r in &self.nat_rules {
            let dir = r.dir.get();
            if dir.is_none() && !self.tainted(&format!("services nat rule {}", r.name)) {
                d.error(
                    r.pos,
                    format!(
                        "nat rule '{}' has no match-direction (expected input or output)",
                        r.name
                    ),
                );
            }
            let mut terms = Vec::new();
            for t in &r.terms {
                check_from(d, &t.from);
                let bad_term =
                    self.tainted(&format!("services nat rule {} term {}", r.name, t.name));
                let then = match t.kind.get() {
                    None if bad_term => continue,
                    Some(true) if bad_term => continue,
                    None => {
                        d.error(
                            t.pos,
                            format!(
                                "term '{}' of nat rule '{}' has no action (expected then translated or then no-translation)",
                                t.name, r.name
                            ),
                        );
                        continue;
                    }
                    Some(false) => NatThen::NoTranslation,
                    Some(true) => {
                        let tr = &t.translated;
                        let Some(tt) = tr.ttype.get() else {
                            d.error(
                                t.kind.pos().unwrap_or(t.pos),
                                format!(
                                    "term '{}' of nat rule '{}': translated has no translation-type",
                                    t.name, r.name
                                ),
                            );
                            continue;
                        };
                        let tpos = tr.ttype.pos().unwrap_or(t.pos);
                        let mut pool_ok = true;
                        for (leaf, what) in
                            [(&tr.spool, "source-pool"), (&tr.dpool, "destination-pool")]
                        {
                            if let Some((n, pos, _)) = &leaf.v {
                                if !self.pools.iter().any(|p| &p.name == n) {
                                    d.error(
                                        *pos,
                                        format!("{what} '{n}' is not a defined nat pool"),
                                    );
                                    pool_ok = false;
                                }
                            }
                        }
                        let spool = tr.spool.get();
                        let has_src = spool.is_some() || tr.sprefix.v.is_some();
                        let has_dst = tr.dpool.v.is_some() || tr.dprefix.v.is_some();
                        let kw = tt.keyword();
                        let need = |d: &mut Diags, ok: bool, what: &str| {
                            if !ok {
                                d.error(tpos, format!("translation-type {kw} requires {what}"));
                            }
                        };
                        let napt_port = |d: &mut Diags| {
                            if let Some(n) = &spool {
                                if pool_ok {
                                    if let Some(p) = self.pools.iter().find(|p| &p.name == n) {
                                        if p.port.v.is_none() && p.port_pos.is_none() {
                                            d.error(
                                                tpos,
                                                format!("translation-type {kw} requires source-pool '{n}' to have a 'port' statement"),
                                            );
                                        }
                                    }
                                }
                            } else {
                                d.error(tpos, format!("translation-type {kw} requires a source-pool with a 'port' statement"));
                            }
                        };
                        match tt {
                            TranslationType::Napt44 => napt_port(d),
                            TranslationType::DynamicNat44 => {
                                need(d, spool.is_some(), "a source-pool")
                            }
                            TranslationType::BasicNat44 => {
                                need(d, has_src, "a source-pool or a source-prefix")
                            }
                            TranslationType::Dnat44 => {
                                need(d, has_dst, "a destination-pool or a destination-prefix")
                            }
                            TranslationType::TwiceNapt44 => {
                                napt_port(d);
                                need(d, has_dst, "a destination-pool or a destination-prefix");
                            }
                            TranslationType::TwiceBasicNat44 => {
                                need(d, has_src, "a source-pool or a source-prefix");
                                need(d, has_dst, "a destination-pool or a destination-prefix");
                            }
                            TranslationType::TwiceDynamicNat44 => {
                                need(d, spool.is_some(), "a source-pool");
                                need(d, has_dst, "a destination-pool or a destination-prefix");
                            }
                        }
                        NatThen::Translated(Translated {
                            source_pool: spool,
                            destination_pool: tr.dpool.get(),
                            source_prefix: tr.sprefix.get(),
                            destination_prefix: tr.dprefix.get(),
                            translation_type: tt,
                            address_pooling_paired: tr.paired,
                            mapping_type_eim: tr.eim,
                            filtering_type_eif: tr.eif,
                        })
                    }
                };
                terms.push(NatTerm {
                    name: t.name.clone(),
                    from: conv_from(&t.from),
                    then,
                    syslog: t.syslog,
                });
            }
            if let Some(dir) = dir {
                cfg.nat_rules.push(NatRule {
                    name: r.name.clone(),
                    match_direction: dir,
                    terms,
                });
            }
        }
        cfg.nat_rule_sets = rule_sets(
            d,
            &self.nat_rule_sets,
            &|n| self.nat_rules.iter().any(|r| r.name == n),
            "nat",
        );

        // Service sets.
        for s in &self.service_sets {
            let checks: [RefCheck; 4] = [
                (&s.sfw_rules, "stateful-firewall rule", &|n| {
                    self.sfw_rules.iter().any(|r| r.name == n)
                }),
                (&s.sfw_rule_sets, "stateful-firewall rule-set", &|n| {
                    self.sfw_rule_sets.iter().any(|r| r.name == n)
                }),
                (&s.nat_rules, "nat rule", &|n| {
                    self.nat_rules.iter().any(|r| r.name == n)
                }),
                (&s.nat_rule_sets, "nat rule-set", &|n| {
                    self.nat_rule_sets.iter().any(|r| r.name == n)
                }),
            ];
            for (refs, what, exists) in checks {
                for r in refs {
                    if !exists(&r.name) {
                        d.error(
                            r.pos,
                            format!(
                                "service-set '{}': {what} '{}' is not defined",
                                s.name, r.name
                            ),
                        );
                    }
                }
            }
            let style = match (
                s.iface.v.as_ref(),
                s.inside.v.as_ref(),
                s.outside.v.as_ref(),
            ) {
                (Some((n, pos, _)), None, None) => {
                    check_if_ref(
                        d,
                        &Ref {
                            name: n.clone(),
                            pos: *pos,
                        },
                        "service-interface",
                        true,
                    );
                    Some(ServiceSetStyle::Interface {
                        // The model keeps the interface name without the unit.
                        service_interface: n.split('.').next().unwrap_or(n).to_string(),
                    })
                }
                (None, Some((i, ipos, _)), Some((o, opos, _))) => {
                    for (n, pos, dom, what) in [
                        (i, ipos, ServiceDomain::Inside, "inside-service-interface"),
                        (o, opos, ServiceDomain::Outside, "outside-service-interface"),
                    ] {
                        let r = Ref {
                            name: n.clone(),
                            pos: *pos,
                        };
                        match check_if_ref(d, &r, what, true) {
                            Some((_, None)) => {
                                d.error(*pos, format!("{what} '{n}' needs a unit (e.g. {n}.1)"));
                            }
                            Some((_, Some(u))) => {
                                let (base, _) = split_unit(n).unwrap_or((n, None));
                                let unit = self
                                    .svc
                                    .iter()
                                    .find(|x| x.name == base)
                                    .and_then(|x| x.units.iter().find(|x| x.number == u));
                                if unit.and_then(|u| u.domain.get()) != Some(dom) {
                                    let want = if dom == ServiceDomain::Inside {
                                        "inside"
                                    } else {
                                        "outside"
                                    };
                                    d.error(
                                        *pos,
                                        format!("{what} '{n}' needs 'service-domain {want}' on that unit"),
                                    );
                                }
                            }
                            None => {}
                        }
                    }
                    Some(ServiceSetStyle::NextHop {
                        inside: i.clone(),
                        outside: o.clone(),
                    })
                }
                (None, None, None) => {
                    if self.tainted(&format!("services service-set {}", s.name)) {
                        continue;
                    }
                    d.error(
                        s.pos,
                        format!(
                            "service-set '{}' has no interface-service or next-hop-service",
                            s.name
                        ),
                    );
                    None
                }
                (Some(_), _, _) => {
                    let pos = s.inside.pos().or(s.outside.pos()).unwrap_or(s.pos);
                    d.error(
                        pos,
                        format!(
                            "service-set '{}' has both interface-service and next-hop-service",
                            s.name
                        ),
                    );
                    None
                }
                (None, i, _) => {
                    let missing = if i.is_none() {
                        "inside-service-interface"
                    } else {
                        "outside-service-interface"
                    };
                    let pos = s.inside.pos().or(s.outside.pos()).unwrap_or(s.pos);
                    d.error(
                        pos,
                        format!(
                            "service-set '{}': next-hop-service has no {missing}",
                            s.name
                        ),
                    );
                    None
                }
            };
            if let Some(style) = style {
                cfg.service_sets.push(ServiceSet {
                    name: s.name.clone(),
                    sfw_rules: s.sfw_rules.iter().map(|r| r.name.clone()).collect(),
                    sfw_rule_sets: s.sfw_rule_sets.iter().map(|r| r.name.clone()).collect(),
                    nat_rules: s.nat_rules.iter().map(|r| r.name.clone()).collect(),
                    nat_rule_sets: s.nat_rule_sets.iter().map(|r| r.name.clone()).collect(),
                    style,
                    max_flows: s.max_flows.get(),
                });
            }
        }
        for r in &self.if_set_refs {
            match self.service_sets.iter().find(|s| s.name == r.name) {
                None => {
                    d.error(r.pos, format!("service-set '{}' is not defined", r.name));
                }
                Some(s)
                    if s.iface.v.is_none() && (s.inside.v.is_some() || s.outside.v.is_some()) =>
                {
                    d.error(
                        r.pos,
                        format!(
                            "service-set '{}' is a next-hop style set and cannot be applied to an interface",
                            r.name
                        ),
                    );
                }
                Some(_) => {}
            }
        }

        // Emulator.
        let mut devices: Vec<(&str, &str)> = Vec::new();
        for e in &self.emu.interfaces {
            if !self.interfaces.iter().any(|i| i.name == e.name) {
                let msg = if self.svc.iter().any(|s| s.name == e.name) {
                    format!("emulator interface '{}' is a services interface; bind a ge-/xe-/et- interface to a device", e.name)
                } else {
                    format!(
                        "emulator interface '{}' is not a configured interface",
                        e.name
                    )
                };
                d.error(e.pos, msg);
            }
            let Some((dev, dpos, _)) = &e.device.v else {
                if self.tainted(&format!("emulator interface {}", e.name)) {
                    continue;
                }
                d.error(
                    e.pos,
                    format!("emulator interface '{}' has no device", e.name),
                );
                continue;
            };
            if let Some((other, _)) = devices.iter().find(|(_, dv)| dv == dev) {
                d.error(
                    *dpos,
                    format!("device '{dev}' is already bound to interface '{other}'"),
                );
            }
            devices.push((&e.name, dev));
            cfg.emulator.interfaces.push(EmulatorInterface {
                name: e.name.clone(),
                device: dev.clone(),
            });
        }
        cfg.emulator.workers = self.emu.workers.get();
        cfg.emulator.queues = self.emu.queues.get();
        cfg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(port_spec("21"), Ok(PortRange::single(21)));
        assert_eq!(port_spec("ftp"), Ok(PortRange::single(21)));
        assert_eq!(port_spec("domain"), Ok(PortRange::single(53)));
        assert_eq!(
            port_spec("0-65535"),
            Ok(PortRange {
                low: 0,
                high: 65535
            })
        );
        assert!(port_spec("65536").is_err());
        assert!(port_spec("-5").is_err());
        assert!(port_spec("5-").is_err());
        assert!(port_spec("10-5").is_err());
        assert!(port_spec("").is_err());
    }

    #[test]
    fn protocols_and_timeouts() {
        assert_eq!(protocol("ospf"), Ok(89));
        assert_eq!(protocol("255"), Ok(255));
        assert!(protocol("256").is_err());
        assert_eq!(timeout("never"), Ok(Timeout::Never));
        assert_eq!(timeout("4"), Ok(Timeout::Seconds(4)));
        assert!(timeout("86401").is_err());
        assert_eq!(rpc_program("100000-100003"), Ok((100000, 100003)));
        assert!(rpc_program("5-4").is_err());
    }

    #[test]
    fn uuids() {
        assert_eq!(
            uuid("E1AF8308-5D1F-11C9-91A4-08002B14A0FA").as_deref(),
            Ok("e1af8308-5d1f-11c9-91a4-08002b14a0fa")
        );
        assert!(uuid("e1af83085d1f11c991a408002b14a0fa").is_ok());
        assert!(uuid("e1af8308-5d1f-11c9-91a4").is_err());
        assert!(uuid("g1af8308-5d1f-11c9-91a4-08002b14a0fa").is_err());
    }

    #[test]
    fn interface_names() {
        assert!(matches!(interface_kind("ms-1/1/0"), Ok(IfKind::Service)));
        assert!(matches!(interface_kind("ge-0/0/0"), Ok(IfKind::Plain)));
        assert!(matches!(interface_kind("xe-0/0/0:1"), Ok(IfKind::Plain)));
        assert!(matches!(interface_kind("ae0"), Ok(IfKind::Plain)));
        assert!(matches!(interface_kind("lo0"), Ok(IfKind::Plain)));
        assert!(matches!(interface_kind("sp-0/0/0"), Ok(IfKind::Ignored)));
        assert!(interface_kind("ge-0/0").is_err());
        assert!(interface_kind("ms-1/1/0:1").is_err());
        assert!(interface_kind("ge-0/0/0.1").is_err());
        assert!(interface_kind("0ge").is_err());
        assert_eq!(split_unit("ms-1/1/0.7"), Ok(("ms-1/1/0", Some(7))));
        assert!(split_unit("ms-1/1/0.x").is_err());
    }

    #[test]
    fn forbidden_pool_blocks() {
        let a = |s: &str| u32::from(s.parse::<Ipv4Addr>().unwrap());
        assert_eq!(pool_forbidden(a("1.2.3.4"), a("1.2.3.4")), None);
        assert_eq!(
            pool_forbidden(a("223.255.255.255"), a("223.255.255.255")),
            None
        );
        assert!(pool_forbidden(a("126.0.0.0"), a("127.0.0.0")).is_some());
        assert!(pool_forbidden(a("224.0.0.0"), a("224.0.0.0")).is_some());
        assert!(pool_forbidden(0, 0).is_some());
    }
}
