//! The validated configuration model: what `parse` produces and the engine consumes.
//!
//! Every reference by name (a service set naming a rule, a term naming an application) has
//! been checked to resolve when a `Config` exists, so consumers may `expect` on lookups.
//! Defaults that Junos applies are exposed as methods (`ServicesOptions::inactivity_timeout`)
//! so that the fact lives in one place.

use std::net::{IpAddr, Ipv4Addr};

pub use crate::prefix::Prefix;

/// A whole configuration after validation.
///
/// Equality compares what the configuration *does* and ignores `warnings`, whose positions
/// differ between the braces and the `set` form of the same configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Physical/logical interfaces other than services interfaces (`ge-`, `xe-`, `et-`, `lo0`…).
    pub interfaces: Vec<Interface>,
    /// `ms-x/y/z` services interfaces.
    pub service_interfaces: Vec<ServiceInterface>,
    /// `routing-options static route`.
    pub static_routes: Vec<StaticRoute>,
    /// User applications followed by every predefined `junos-*` application.
    pub applications: Vec<Application>,
    /// User application sets followed by the predefined `junos-*` sets.
    pub application_sets: Vec<ApplicationSet>,
    /// `policy-options prefix-list`.
    pub prefix_lists: Vec<PrefixList>,
    /// `services stateful-firewall rule`.
    pub sfw_rules: Vec<SfwRule>,
    /// `services stateful-firewall rule-set`.
    pub sfw_rule_sets: Vec<RuleSet>,
    /// `services nat pool`.
    pub nat_pools: Vec<NatPool>,
    /// `services nat rule`.
    pub nat_rules: Vec<NatRule>,
    /// `services nat rule-set`.
    pub nat_rule_sets: Vec<RuleSet>,
    /// `services nat port-forwarding`.
    pub nat_port_forwarding: Vec<PortForwarding>,
    /// `services softwire softwire-concentrator ds-lite`.
    pub ds_lite: Vec<DsLite>,
    /// `services softwire rule`.
    pub softwire_rules: Vec<SoftwireRule>,
    /// `services service-set`.
    pub service_sets: Vec<ServiceSet>,
    /// The `emulator` stanza (netdev bindings, workers, queues).
    pub emulator: Emulator,
    /// Non-fatal findings (ignored top-level stanzas, one each).
    pub warnings: Vec<crate::Diagnostic>,
}

impl PartialEq for Config {
    fn eq(&self, other: &Self) -> bool {
        // Destructured so that a new field cannot be forgotten here.
        let Config {
            interfaces,
            service_interfaces,
            static_routes,
            applications,
            application_sets,
            prefix_lists,
            sfw_rules,
            sfw_rule_sets,
            nat_pools,
            nat_rules,
            nat_rule_sets,
            nat_port_forwarding,
            ds_lite,
            softwire_rules,
            service_sets,
            emulator,
            warnings: _,
        } = self;
        *interfaces == other.interfaces
            && *service_interfaces == other.service_interfaces
            && *static_routes == other.static_routes
            && *applications == other.applications
            && *application_sets == other.application_sets
            && *prefix_lists == other.prefix_lists
            && *sfw_rules == other.sfw_rules
            && *sfw_rule_sets == other.sfw_rule_sets
            && *nat_pools == other.nat_pools
            && *nat_rules == other.nat_rules
            && *nat_rule_sets == other.nat_rule_sets
            && *nat_port_forwarding == other.nat_port_forwarding
            && *ds_lite == other.ds_lite
            && *softwire_rules == other.softwire_rules
            && *service_sets == other.service_sets
            && *emulator == other.emulator
    }
}

impl Eq for Config {}

/// The packet path numbers logical interfaces (units) and service sets with 16 bits: a
/// configuration may have at most this many of each.
pub const MAX_INDEXED: usize = u16::MAX as usize;

/// A services unit used by two next-hop service sets ([`Config::shared_service_unit`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("services unit {unit} is used by next-hop service sets '{first}' and '{second}'")]
pub struct SharedServiceUnit {
    /// The unit (`ms-1/1/0.1`).
    pub unit: String,
    /// The set that uses it first.
    pub first: String,
    /// The other one.
    pub second: String,
}

impl Config {
    /// The plain interface named `name`.
    pub fn interface(&self, name: &str) -> Option<&Interface> {
        self.interfaces.iter().find(|i| i.name == name)
    }
    /// The services interface named `name` (`ms-1/1/0`, no unit).
    pub fn service_interface(&self, name: &str) -> Option<&ServiceInterface> {
        self.service_interfaces.iter().find(|i| i.name == name)
    }
    /// The application named `name`, user or predefined.
    pub fn application(&self, name: &str) -> Option<&Application> {
        self.applications.iter().find(|a| a.name == name)
    }
    /// The application set named `name`, user or predefined.
    pub fn application_set(&self, name: &str) -> Option<&ApplicationSet> {
        self.application_sets.iter().find(|a| a.name == name)
    }
    /// The prefix list named `name`.
    pub fn prefix_list(&self, name: &str) -> Option<&PrefixList> {
        self.prefix_lists.iter().find(|a| a.name == name)
    }
    /// The stateful-firewall rule named `name`.
    pub fn sfw_rule(&self, name: &str) -> Option<&SfwRule> {
        self.sfw_rules.iter().find(|a| a.name == name)
    }
    /// The stateful-firewall rule set named `name`.
    pub fn sfw_rule_set(&self, name: &str) -> Option<&RuleSet> {
        self.sfw_rule_sets.iter().find(|a| a.name == name)
    }
    /// The NAT pool named `name`.
    pub fn nat_pool(&self, name: &str) -> Option<&NatPool> {
        self.nat_pools.iter().find(|a| a.name == name)
    }
    /// The NAT rule named `name`.
    pub fn nat_rule(&self, name: &str) -> Option<&NatRule> {
        self.nat_rules.iter().find(|a| a.name == name)
    }
    /// The NAT rule set named `name`.
    pub fn nat_rule_set(&self, name: &str) -> Option<&RuleSet> {
        self.nat_rule_sets.iter().find(|a| a.name == name)
    }
    /// The port-forwarding map named `name`.
    pub fn port_forwarding(&self, name: &str) -> Option<&PortForwarding> {
        self.nat_port_forwarding.iter().find(|a| a.name == name)
    }
    /// The service set named `name`.
    pub fn service_set(&self, name: &str) -> Option<&ServiceSet> {
        self.service_sets.iter().find(|a| a.name == name)
    }

    /// The first services unit that is a leg of two next-hop service sets (a route to it
    /// could not name one set). [`crate::parse`] refuses such a configuration with the
    /// position of the second use; the packet path refuses it too when handed one built
    /// in code.
    pub fn shared_service_unit(&self) -> Option<SharedServiceUnit> {
        let mut legs: std::collections::HashMap<&str, usize> = Default::default();
        for (i, s) in self.service_sets.iter().enumerate() {
            let ServiceSetStyle::NextHop { inside, outside } = &s.style else {
                continue;
            };
            for unit in [inside, outside] {
                if let Some(&first) = legs.get(unit.as_str()) {
                    return Some(SharedServiceUnit {
                        unit: unit.clone(),
                        first: self.service_sets[first].name.clone(),
                        second: s.name.clone(),
                    });
                }
                legs.insert(unit, i);
            }
        }
        None
    }

    /// The applications a term's `from` names, in order and without repeats: each name in
    /// `applications` is an application or (as Junos allows) an application set, and each
    /// set in `application_sets` is expanded recursively. Empty when the term names none.
    pub fn term_applications<'a>(&'a self, from: &'a MatchConditions) -> Vec<&'a Application> {
        let mut out: Vec<&Application> = Vec::new();
        let mut seen_sets: Vec<&str> = Vec::new();
        for n in &from.applications {
            match self.application(n) {
                Some(a) => {
                    if !out.iter().any(|x| x.name == a.name) {
                        out.push(a);
                    }
                }
                None => self.expand_set(n, &mut out, &mut seen_sets),
            }
        }
        for n in &from.application_sets {
            self.expand_set(n, &mut out, &mut seen_sets);
        }
        out
    }

    fn expand_set<'a>(
        &'a self,
        name: &'a str,
        out: &mut Vec<&'a Application>,
        seen: &mut Vec<&'a str>,
    ) {
        if seen.contains(&name) {
            return;
        }
        seen.push(name);
        let Some(set) = self.application_set(name) else {
            return;
        };
        for a in &set.applications {
            if let Some(a) = self.application(a) {
                if !out.iter().any(|x| x.name == a.name) {
                    out.push(a);
                }
            }
        }
        for s in &set.application_sets {
            self.expand_set(s, out, seen);
        }
    }
}

/// A non-services interface, e.g. `ge-0/0/0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// As written, e.g. `ge-0/0/0`.
    pub name: String,
    /// `unit N` blocks, in order of appearance.
    pub units: Vec<Unit>,
}

/// A logical unit `unit N` of a plain interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// The unit number (`ge-0/0/0.N`).
    pub number: u32,
    /// `family inet`, if configured.
    pub inet: Option<Family>,
    /// `family inet6`, if configured.
    pub inet6: Option<Family>,
}

/// `family inet` / `family inet6` of a unit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Family {
    /// Interface addresses: `addr` is the host address, `len` the subnet length.
    pub addresses: Vec<Prefix>,
    /// `service input service-set S`.
    pub input_service_set: Option<String>,
    /// `service output service-set S`.
    pub output_service_set: Option<String>,
}

/// A services interface `ms-x/y/z`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInterface {
    /// As written, e.g. `ms-1/1/0`.
    pub name: String,
    /// `services-options`: timeouts and session limits of its sessions.
    pub options: ServicesOptions,
    /// `unit N` blocks (next-hop service sets use them).
    pub units: Vec<ServiceUnit>,
}

/// A unit of a services interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUnit {
    /// The unit number (`ms-1/1/0.N`).
    pub number: u32,
    /// `family inet` is configured.
    pub inet: bool,
    /// `family inet6` is configured.
    pub inet6: bool,
    /// `service-domain inside|outside` (next-hop style).
    pub service_domain: Option<ServiceDomain>,
}

/// Which side of a next-hop service set a services unit faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceDomain {
    /// `service-domain inside`: the private side.
    Inside,
    /// `service-domain outside`: the public side.
    Outside,
}

/// `interfaces ms-x/y/z services-options`. `None` means "not configured"; the methods give the
/// Junos default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServicesOptions {
    /// `inactivity-timeout` (s): idle timeout of every flow.
    pub inactivity_timeout: Option<u32>,
    /// `inactivity-tcp-timeout` (s): overrides it for established TCP.
    pub inactivity_tcp_timeout: Option<u32>,
    /// `inactivity-non-tcp-timeout` (s): overrides it for non-TCP.
    pub inactivity_non_tcp_timeout: Option<u32>,
    /// `open-timeout` (s): TCP handshake.
    pub open_timeout: Option<u32>,
    /// `close-timeout` (s): TCP teardown.
    pub close_timeout: Option<u32>,
    /// `session-limit maximum`: sessions at once.
    pub session_limit_maximum: Option<u32>,
    /// `session-limit rate`: new sessions per second.
    pub session_limit_rate: Option<u32>,
    /// `tcp-tickles`: keepalives sent before an idle TCP session is closed.
    pub tcp_tickles: Option<u32>,
    /// `pba-interim-logging-interval` (s): how often the active port blocks of the
    /// interface's pools are logged again (0: never), unless a pool sets its own.
    pub pba_interim_logging_interval: Option<u32>,
    /// `syslog host …`: the collectors of the interface's service sets that have no
    /// `syslog` of their own (Junos "syslog (Interfaces)").
    pub syslog: Vec<SyslogHost>,
    /// `syslog message-rate-limit`: most log messages per second the interface sends.
    pub syslog_rate_limit: Option<u32>,
}

impl ServicesOptions {
    /// Junos default idle timeout: 30 s.
    pub const DEFAULT_INACTIVITY: u32 = 30;
    /// Current Junos default TCP open timeout: 5 s.
    pub const DEFAULT_OPEN: u32 = 5;
    /// Default TCP close timeout (teardown) in seconds.
    pub const DEFAULT_CLOSE: u32 = 4;
    /// Default number of TCP tickles.
    pub const DEFAULT_TICKLES: u32 = 4;

    /// Idle timeout of every flow, with the Junos default.
    pub fn inactivity_timeout(&self) -> u32 {
        self.inactivity_timeout.unwrap_or(Self::DEFAULT_INACTIVITY)
    }
    /// Idle timeout for established TCP flows.
    pub fn tcp_timeout(&self) -> u32 {
        self.inactivity_tcp_timeout
            .unwrap_or_else(|| self.inactivity_timeout())
    }
    /// Idle timeout for every non-TCP flow.
    pub fn non_tcp_timeout(&self) -> u32 {
        self.inactivity_non_tcp_timeout
            .unwrap_or_else(|| self.inactivity_timeout())
    }
    /// TCP handshake timeout, with the Junos default.
    pub fn open_timeout(&self) -> u32 {
        self.open_timeout.unwrap_or(Self::DEFAULT_OPEN)
    }
    /// TCP teardown timeout, with the Junos default.
    pub fn close_timeout(&self) -> u32 {
        self.close_timeout.unwrap_or(Self::DEFAULT_CLOSE)
    }
    /// TCP tickles, with the Junos default.
    pub fn tcp_tickles(&self) -> u32 {
        self.tcp_tickles.unwrap_or(Self::DEFAULT_TICKLES)
    }
}

/// `routing-options static route PREFIX …` (or under `rib inet6.0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticRoute {
    /// The destination, as written.
    pub prefix: Prefix,
    /// Where matching packets go.
    pub next_hop: NextHop,
}

/// The one next hop of a static route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextHop {
    /// `next-hop 203.0.113.2`
    Address(IpAddr),
    /// `next-hop ms-1/1/0.1` or another interface name.
    Interface(String),
    /// `discard`
    Discard,
    /// `reject`
    Reject,
}

/// Timeout values that also accept `never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// `never`: the flow never times out.
    Never,
    /// A number of seconds.
    Seconds(u32),
}

/// Inclusive port range; a single port has `low == high`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    /// First port of the range.
    pub low: u16,
    /// Last port of the range (inclusive).
    pub high: u16,
}

impl PortRange {
    /// The range holding only `p`.
    pub const fn single(p: u16) -> Self {
        PortRange { low: p, high: p }
    }
    /// Whether `p` is in the range.
    pub fn contains(&self, p: u16) -> bool {
        self.low <= p && p <= self.high
    }
}

/// The `application-protocol` keyword: which ALG a session gets. One definition of ALG names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AppProtocol {
    /// `bootp`.
    Bootp,
    /// `dce-rpc`.
    DceRpc,
    /// `dce-rpc-portmap`.
    DceRpcPortmap,
    /// `dns`.
    Dns,
    /// `exec`.
    Exec,
    /// `ftp`.
    Ftp,
    /// `h323`.
    H323,
    /// `icmp`.
    Icmp,
    /// `icmpv6`.
    Icmpv6,
    /// `iiop`.
    Iiop,
    /// IKE on UDP 500 with its ESP sessions (`ike-esp-nat`, later releases).
    IkeEspNat,
    /// `ip`.
    Ip,
    /// `login`.
    Login,
    /// `netbios`.
    Netbios,
    /// `netshow`.
    Netshow,
    /// `pptp`.
    Pptp,
    /// H.323 registration, admission and status on UDP 1719 (later releases).
    Ras,
    /// `realaudio`.
    Realaudio,
    /// `portmapper`.
    Rpc,
    /// `rpc-portmap`.
    RpcPortmap,
    /// `rsh`.
    Rsh,
    /// `rtsp`.
    Rtsp,
    /// `shell`.
    Shell,
    /// `sip`.
    Sip,
    /// `snmp`.
    Snmp,
    /// `sqlnet`.
    Sqlnet,
    /// `talk`.
    Talk,
    /// `tftp`.
    Tftp,
    /// `traceroute`.
    Traceroute,
    /// `winframe`.
    Winframe,
}

impl AppProtocol {
    /// Every value, in keyword order.
    pub const ALL: [AppProtocol; 30] = [
        Self::Bootp,
        Self::DceRpc,
        Self::DceRpcPortmap,
        Self::Dns,
        Self::Exec,
        Self::Ftp,
        Self::H323,
        Self::Icmp,
        Self::Icmpv6,
        Self::Iiop,
        Self::IkeEspNat,
        Self::Ip,
        Self::Login,
        Self::Netbios,
        Self::Netshow,
        Self::Pptp,
        Self::Ras,
        Self::Realaudio,
        Self::Rpc,
        Self::RpcPortmap,
        Self::Rsh,
        Self::Rtsp,
        Self::Shell,
        Self::Sip,
        Self::Snmp,
        Self::Sqlnet,
        Self::Talk,
        Self::Tftp,
        Self::Traceroute,
        Self::Winframe,
    ];

    /// The configuration keyword (`application-protocol rpc-portmap`).
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Bootp => "bootp",
            Self::DceRpc => "dce-rpc",
            Self::DceRpcPortmap => "dce-rpc-portmap",
            Self::Dns => "dns",
            Self::Exec => "exec",
            Self::Ftp => "ftp",
            Self::H323 => "h323",
            Self::Icmp => "icmp",
            Self::Icmpv6 => "icmpv6",
            Self::Iiop => "iiop",
            Self::IkeEspNat => "ike-esp-nat",
            Self::Ip => "ip",
            Self::Login => "login",
            Self::Netbios => "netbios",
            Self::Netshow => "netshow",
            Self::Pptp => "pptp",
            Self::Ras => "ras",
            Self::Realaudio => "realaudio",
            Self::Rpc => "rpc",
            Self::RpcPortmap => "rpc-portmap",
            Self::Rsh => "rsh",
            Self::Rtsp => "rtsp",
            Self::Shell => "shell",
            Self::Sip => "sip",
            Self::Snmp => "snmp",
            Self::Sqlnet => "sqlnet",
            Self::Talk => "talk",
            Self::Tftp => "tftp",
            Self::Traceroute => "traceroute",
            Self::Winframe => "winframe",
        }
    }

    /// The name printed after `ALG:` in `show services sessions`.
    pub fn show_name(self) -> &'static str {
        match self {
            Self::RpcPortmap | Self::Rpc => "portmapper",
            Self::DceRpcPortmap => "dce-rpc-portmap",
            other => other.keyword(),
        }
    }

    /// The value whose [`AppProtocol::keyword`] is `s`.
    pub fn from_keyword(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.keyword() == s)
    }
}

/// `applications application NAME`, or a predefined one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    /// The application name.
    pub name: String,
    /// Its terms, in order: a session takes the first that fits its first packet. An
    /// application written without `term` has one term, named `None`.
    pub terms: Vec<AppTerm>,
    /// True for the predefined `junos-*` applications.
    pub predefined: bool,
}

/// One term of an application (`term T { … }`, or the statements written directly under
/// an application without terms): what a flow must be, and what its session gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppTerm {
    /// `term NAME`; `None` for the statements of an application without terms.
    pub name: Option<String>,
    /// `application-protocol`: which ALG its sessions get.
    pub application_protocol: Option<AppProtocol>,
    /// IP protocol number (`protocol tcp` → 6).
    pub protocol: Option<u8>,
    /// `source-port`.
    pub source_port: Option<PortRange>,
    /// `destination-port`.
    pub destination_port: Option<PortRange>,
    /// `icmp-type` (or `icmp6-type`).
    pub icmp_type: Option<u8>,
    /// `icmp-code` (or `icmp6-code`).
    pub icmp_code: Option<u8>,
    /// `inactivity-timeout`: overrides the services interface's for its sessions.
    pub inactivity_timeout: Option<Timeout>,
    /// `ttl-threshold` (with `application-protocol traceroute`): packets of its sessions
    /// whose TTL is above it are dropped, so a traceroute reaches no further.
    pub ttl_threshold: Option<u8>,
    /// `rpc-program-number N` or `N-M`: the Sun RPC programs whose ports the portmapper
    /// ALG may open for the application's sessions.
    pub rpc_program_number: Option<(u32, u32)>,
    /// `uuid` (DCE RPC interface), lower-case hex with dashes: the interface whose ports
    /// the endpoint mapper ALG may open for the application's sessions.
    pub uuid: Option<String>,
}

impl Application {
    /// An application of one unnamed term (no `term` statement).
    pub fn single(name: &str, term: AppTerm, predefined: bool) -> Self {
        Application {
            name: name.to_string(),
            terms: vec![term],
            predefined,
        }
    }
}

/// `applications application-set NAME`, or a predefined one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationSet {
    /// The set name.
    pub name: String,
    /// Applications it contains.
    pub applications: Vec<String>,
    /// Nested `application-set` references.
    pub application_sets: Vec<String>,
    /// True for the predefined `junos-*` sets.
    pub predefined: bool,
}

/// `policy-options prefix-list NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixList {
    /// The list name.
    pub name: String,
    /// Its prefixes, in order.
    pub prefixes: Vec<Prefix>,
}

/// Which traffic of a service set a rule sees (`match-direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchDirection {
    /// Traffic entering the services interface from the inside.
    Input,
    /// Traffic from the outside.
    Output,
    /// Both (stateful firewall only).
    InputOutput,
}

impl MatchDirection {
    /// The configuration keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::Output => "output",
            Self::InputOutput => "input-output",
        }
    }
}

/// One address condition: `source-address 10.0.0.0/8 [except]` or `any-unicast`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddressMatch {
    /// Addresses in `prefix` (or outside it, with `except`).
    Prefix {
        /// The prefix matched.
        prefix: Prefix,
        /// `except`: match what is outside it.
        except: bool,
    },
    /// `any-unicast` (or its opposite, with `except`).
    AnyUnicast {
        /// `except`: match what is not unicast.
        except: bool,
    },
}

/// `…-address-range low A high B [except]` (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressRange {
    /// First address.
    pub low: IpAddr,
    /// Last address.
    pub high: IpAddr,
    /// `except`: addresses in the range never match.
    pub except: bool,
}

/// The `from` block shared by stateful-firewall and NAT terms. Empty lists match anything.
///
/// An address matches a side when it is in one of the side's entries without `except` (or
/// the side has none) and in none of its `except` entries ("source-prefix-list (Services)":
/// `except` excludes the list from rule matching).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchConditions {
    /// `source-address`.
    pub source_address: Vec<AddressMatch>,
    /// `destination-address`.
    pub destination_address: Vec<AddressMatch>,
    /// `source-address-range`.
    pub source_address_range: Vec<AddressRange>,
    /// `destination-address-range`.
    pub destination_address_range: Vec<AddressRange>,
    /// `source-prefix-list` names.
    pub source_prefix_list: Vec<String>,
    /// `source-prefix-list NAME except` names: their prefixes never match.
    pub source_prefix_list_except: Vec<String>,
    /// `destination-prefix-list` names.
    pub destination_prefix_list: Vec<String>,
    /// `destination-prefix-list NAME except` names.
    pub destination_prefix_list_except: Vec<String>,
    /// `applications`: application or application-set names.
    pub applications: Vec<String>,
    /// `application-sets` names.
    pub application_sets: Vec<String>,
}

/// `services stateful-firewall rule NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SfwRule {
    /// The rule name.
    pub name: String,
    /// Which traffic it sees.
    pub match_direction: MatchDirection,
    /// Its terms, tried in order.
    pub terms: Vec<SfwTerm>,
}

/// A term of a stateful-firewall rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SfwTerm {
    /// The term name.
    pub name: String,
    /// What it matches.
    pub from: MatchConditions,
    /// What happens to matching flows.
    pub action: SfwAction,
    /// `then syslog`: log matching flows.
    pub syslog: bool,
    /// `allow-ip-options [ … ]` as written (option names or numbers).
    pub allow_ip_options: Vec<String>,
}

/// The action of a stateful-firewall term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SfwAction {
    /// Create a session and let the flow through.
    Accept,
    /// Drop silently.
    Discard,
    /// Drop and answer (TCP reset or ICMP unreachable).
    Reject,
}

/// `rule-set NAME { rule R1; rule R2; }` for either rule kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet {
    /// The set name.
    pub name: String,
    /// Rule names, in order.
    pub rules: Vec<String>,
}

/// `services nat pool NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatPool {
    /// The pool name.
    pub name: String,
    /// `address A/len` entries (a bare address is a /32).
    pub addresses: Vec<Prefix>,
    /// `address-range low A high B` entries.
    pub address_ranges: Vec<(Ipv4Addr, Ipv4Addr)>,
    /// `None`: no `port` statement (address-only pool).
    pub port: Option<PoolPort>,
    /// `port preserve-parity`: translated ports keep their parity.
    pub preserve_parity: bool,
    /// `port preserve-range`: ports below 1024 stay below 1024.
    pub preserve_range: bool,
    /// `address-allocation round-robin`.
    pub address_allocation_round_robin: bool,
    /// `mapping-timeout` (s): how long an idle endpoint-independent or paired-pooling
    /// mapping lives, unless the statement below for its kind is set.
    pub mapping_timeout: Option<u32>,
    /// `ei-mapping-timeout` (s): how long an endpoint-independent mapping outlives its
    /// last session (replaces `mapping-timeout` for them).
    pub ei_mapping_timeout: Option<u32>,
    /// `app-mapping-timeout` (s): how long a subscriber's paired-pooling address outlives
    /// its last session (replaces `mapping-timeout` for them).
    pub app_mapping_timeout: Option<u32>,
    /// `port secured-port-block-allocation`: ports handed out in per-subscriber blocks.
    pub port_block: Option<SecuredPortBlock>,
    /// `port deterministic-port-block-allocation`: one block per subscriber, computed.
    pub deterministic: Option<DeterministicBlocks>,
}

/// `port deterministic-port-block-allocation [block-size B] [include-boundary-addresses]`
/// (Junos: "port (Services NAT)", "Deterministic NAT").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeterministicBlocks {
    /// `block-size` (0: computed from the subscribers and the pool; default 256).
    pub block_size: u16,
    /// `include-boundary-addresses`: the source range's network and broadcast addresses
    /// are subscribers too.
    pub include_boundary_addresses: bool,
}

impl DeterministicBlocks {
    /// Default `block-size`.
    pub const DEFAULT_BLOCK_SIZE: u16 = 256;
}

/// `port secured-port-block-allocation { block-size B; max-blocks-per-address M;
/// active-block-timeout T; }` (Junos: "secured-port-block-allocation (Services NAT)").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecuredPortBlock {
    /// `block-size`: ports in a block (1–60 000, default 128).
    pub block_size: u16,
    /// `max-blocks-per-address`: blocks one subscriber (internal address) may hold at
    /// once (1–512, default 8).
    pub max_blocks: u16,
    /// `active-block-timeout` (s): after it a new block is taken even if the active one
    /// has ports left; 0 (default): the active block is used until it is full.
    pub active_timeout: u32,
    /// `interim-logging-interval` (s): how often a block with ports in use is logged
    /// again (JSERVICES_NAT_PORT_BLOCK_ACTIVE; 0: never). `None`: the services
    /// interface's `pba-interim-logging-interval`.
    pub interim_logging_interval: Option<u32>,
}

impl SecuredPortBlock {
    /// Default `block-size`.
    pub const DEFAULT_BLOCK_SIZE: u16 = 128;
    /// Default `max-blocks-per-address`.
    pub const DEFAULT_MAX_BLOCKS: u16 = 8;
}

/// The `port` statement of a pool: which ports translation allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolPort {
    /// `port automatic [sequential|random-allocation]`: 1024–65535.
    Automatic {
        /// `random-allocation` (else sequential).
        random: bool,
    },
    /// `port range low L high H [random-allocation]`.
    Range {
        /// First port.
        low: u16,
        /// Last port (inclusive).
        high: u16,
        /// `random-allocation` (else sequential).
        random: bool,
    },
}

impl PoolPort {
    /// First port of `port automatic`.
    pub const AUTOMATIC_LOW: u16 = 1024;
    /// Last port of `port automatic`.
    pub const AUTOMATIC_HIGH: u16 = 65535;
    /// The ports the pool allocates from.
    pub fn range(self) -> PortRange {
        match self {
            PoolPort::Automatic { .. } => PortRange {
                low: Self::AUTOMATIC_LOW,
                high: Self::AUTOMATIC_HIGH,
            },
            PoolPort::Range { low, high, .. } => PortRange { low, high },
        }
    }
    /// Whether ports are chosen at random (`random-allocation`).
    pub fn random(self) -> bool {
        match self {
            PoolPort::Automatic { random } | PoolPort::Range { random, .. } => random,
        }
    }
}

/// `services nat rule NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatRule {
    /// The rule name.
    pub name: String,
    /// Which traffic it sees (`input` or `output`).
    pub match_direction: MatchDirection,
    /// Its terms, tried in order.
    pub terms: Vec<NatTerm>,
}

/// A term of a NAT rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatTerm {
    /// The term name.
    pub name: String,
    /// What it matches.
    pub from: MatchConditions,
    /// What translation matching flows get.
    pub then: NatThen,
    /// `then syslog`: log matching flows.
    pub syslog: bool,
}

/// The action of a NAT term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NatThen {
    /// `then no-translation`.
    NoTranslation,
    /// `then translated { … }`.
    Translated(Translated),
}

/// `then translated { … }` of a NAT term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    /// `source-pool`.
    pub source_pool: Option<String>,
    /// `destination-pool`.
    pub destination_pool: Option<String>,
    /// `source-prefix`.
    pub source_prefix: Option<Prefix>,
    /// `destination-prefix`.
    pub destination_prefix: Option<Prefix>,
    /// `translation-type`.
    pub translation_type: TranslationType,
    /// `address-pooling paired`.
    pub address_pooling_paired: bool,
    /// `mapping-type endpoint-independent`.
    pub mapping_type_eim: bool,
    /// `filtering-type endpoint-independent`.
    pub filtering_type_eif: bool,
    /// `then port-forwarding-mappings NAME`: the map that also translates destination
    /// ports (dnat-44 and twice-napt-44 only).
    pub port_forwarding_mappings: Option<String>,
}

/// `services nat port-forwarding NAME`: destination ports a `dnat-44` or `twice-napt-44`
/// term rewrites (Junos "Port Forwarding", interfaces-adaptive-services guide).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortForwarding {
    /// The map name.
    pub name: String,
    /// `destined-port D translated-port T` pairs, in configuration order; each destined
    /// port appears once.
    pub mappings: Vec<(u16, u16)>,
}

/// The NAT44 translation types mspic implements (`translation-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TranslationType {
    /// `napt-44`: source address and port from a pool.
    Napt44,
    /// `dynamic-nat44`: source address from a pool, port kept.
    DynamicNat44,
    /// `basic-nat44`: static one-to-one source mapping.
    BasicNat44,
    /// `dnat-44`: static destination mapping.
    Dnat44,
    /// `twice-napt-44`: NAPT of the source and static destination mapping.
    TwiceNapt44,
    /// `twice-basic-nat-44`: static mappings of both.
    TwiceBasicNat44,
    /// `twice-dynamic-nat-44`: dynamic source and static destination.
    TwiceDynamicNat44,
    /// `deterministic-napt44`: NAPT from a port block computed from the source address.
    DeterministicNapt44,
    /// `stateful-nat64` (RFC 6146): IPv6 clients to IPv4 servers; NAPT of the source into
    /// an IPv4 pool, the destination taken from the IPv6 address (RFC 6052 prefix).
    StatefulNat64,
}

impl TranslationType {
    /// Every value, in keyword order.
    pub const ALL: [TranslationType; 9] = [
        Self::Napt44,
        Self::DynamicNat44,
        Self::BasicNat44,
        Self::Dnat44,
        Self::TwiceNapt44,
        Self::TwiceBasicNat44,
        Self::TwiceDynamicNat44,
        Self::DeterministicNapt44,
        Self::StatefulNat64,
    ];
    /// The configuration keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Napt44 => "napt-44",
            Self::DynamicNat44 => "dynamic-nat44",
            Self::BasicNat44 => "basic-nat44",
            Self::Dnat44 => "dnat-44",
            Self::TwiceNapt44 => "twice-napt-44",
            Self::TwiceBasicNat44 => "twice-basic-nat-44",
            Self::TwiceDynamicNat44 => "twice-dynamic-nat-44",
            Self::DeterministicNapt44 => "deterministic-napt44",
            Self::StatefulNat64 => "stateful-nat64",
        }
    }
    /// As printed in `NAT Action:   Translation Type - …` and pool output.
    pub fn show_name(self) -> &'static str {
        match self {
            Self::Napt44 => "NAPT-44",
            Self::DynamicNat44 => "DYNAMIC NAT44",
            Self::BasicNat44 => "BASIC NAT44",
            Self::Dnat44 => "DNAT-44",
            Self::TwiceNapt44 => "TWICE NAPT-44",
            Self::TwiceBasicNat44 => "TWICE BASIC NAT44",
            Self::TwiceDynamicNat44 => "TWICE DYNAMIC NAT44",
            Self::DeterministicNapt44 => "DETERMINISTIC-NAPT44",
            Self::StatefulNat64 => "STATEFUL NAT64",
        }
    }
    /// The value whose [`TranslationType::keyword`] is `s`.
    pub fn from_keyword(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.keyword() == s)
    }
}

/// `services service-set NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSet {
    /// The set name.
    pub name: String,
    /// `stateful-firewall-rules`.
    pub sfw_rules: Vec<String>,
    /// `stateful-firewall-rule-sets`.
    pub sfw_rule_sets: Vec<String>,
    /// `nat-rules`.
    pub nat_rules: Vec<String>,
    /// `nat-rule-sets`.
    pub nat_rule_sets: Vec<String>,
    /// `softwire-rules`: the set's IPv4-in-IPv6 traffic goes to their concentrators.
    pub softwire_rules: Vec<String>,
    /// How traffic reaches the set.
    pub style: ServiceSetStyle,
    /// `max-flows`: most sessions at once.
    pub max_flows: Option<u32>,
    /// `syslog { host … }`: where the PIC sends the set's session and rule logs.
    pub syslog: Vec<SyslogHost>,
    /// `tcp-mss`: the largest MSS a TCP SYN of the set may announce (larger ones are
    /// lowered to it).
    pub tcp_mss: Option<u16>,
    /// `max-session-setup-rate`: most new sessions per second.
    pub max_session_setup_rate: Option<u32>,
    /// `max-sessions-per-subscriber`: most live sessions of one internal host.
    pub max_sessions_per_subscriber: Option<u32>,
    /// `nat-options stateful-nat64 clear-dont-fragment-bit`: IPv4 packets of the set's
    /// NAT64 sessions are translated as if DF were clear (too big for the IPv6 link, they
    /// go as fragments instead of being answered fragmentation needed).
    pub nat64_clear_df: bool,
}

/// `services softwire softwire-concentrator ds-lite NAME`: a DS-Lite AFTR (RFC 6333).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsLite {
    /// The concentrator name.
    pub name: String,
    /// `softwire-address`: the tunnel endpoint the B4s send to.
    pub softwire_address: std::net::Ipv6Addr,
    /// `mtu-v6`: the largest encapsulated IPv6 packet (`None`: the egress link's MTU).
    pub mtu_v6: Option<u16>,
}

/// `services softwire rule NAME` (`match-direction input`, the only one accepted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoftwireRule {
    /// The rule name.
    pub name: String,
    /// Its terms, in order.
    pub terms: Vec<SoftwireTerm>,
}

/// `term NAME { then { ds-lite CONCENTRATOR; } }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoftwireTerm {
    /// The term name.
    pub name: String,
    /// The concentrator its flows go to.
    pub ds_lite: String,
}

/// `services service-set NAME syslog host ADDRESS` (Junos "syslog (Services Service Set)"
/// and "class (Services Service Set syslog)"): the PIC sends its logs straight to this
/// collector over UDP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogHost {
    /// Where the logs go.
    pub host: SyslogTarget,
    /// `services LEVEL`: the least severe level sent (none written: `any`).
    pub services: Option<SyslogSeverity>,
    /// `class { … }`: which logs are sent (none written: every class).
    pub class: Option<SyslogClass>,
    /// `port`: the collector's UDP port.
    pub port: Option<u16>,
    /// `facility-override`.
    pub facility_override: Option<SyslogFacility>,
    /// `log-prefix`: written before the `{service-set}` field of every line.
    pub log_prefix: Option<String>,
    /// `source-address`: the address the PIC sends from.
    pub source_address: Option<std::net::IpAddr>,
}

/// `host local` or `host ADDRESS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyslogTarget {
    /// `local`: the routing engine's log; mspic has none, so the daemon's own log output
    /// takes those lines.
    Local,
    /// A collector the PIC sends to over UDP.
    Address(std::net::IpAddr),
}

impl std::fmt::Display for SyslogTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local => f.write_str("local"),
            Self::Address(a) => write!(f, "{a}"),
        }
    }
}

impl SyslogHost {
    /// The standard syslog port (RFC 5426 §3.3).
    pub const DEFAULT_PORT: u16 = 514;
    /// The classes in force.
    pub fn classes(&self) -> SyslogClass {
        self.class.unwrap_or(SyslogClass::ALL)
    }
    /// Whether a log of `severity` goes to this host.
    pub fn wants(&self, severity: SyslogSeverity) -> bool {
        severity <= self.services.unwrap_or(SyslogSeverity::Any)
    }
}

/// `class { … }` of a syslog host: the log classes an MS-MPC sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyslogClass {
    /// `session-logs` or `session-logs open`: `JSERVICES_SESSION_OPEN`.
    pub session_open: bool,
    /// `session-logs` or `session-logs close`: `JSERVICES_SESSION_CLOSE`.
    pub session_close: bool,
    /// `nat-logs`: `JSERVICES_NAT_RULE_MATCH` and the port block logs.
    pub nat: bool,
    /// `stateful-firewall-logs`: `JSERVICES_SFW_RULE_ACCEPT/DROP/REJECT`.
    pub stateful_firewall: bool,
}

impl SyslogClass {
    /// No `class` statement: Junos sends every class.
    pub const ALL: SyslogClass = SyslogClass {
        session_open: true,
        session_close: true,
        nat: true,
        stateful_firewall: true,
    };
}

/// Syslog severity levels (RFC 5424 §6.2.1), as the Junos `services` statement names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SyslogSeverity {
    /// 0.
    Emergency,
    /// 1.
    Alert,
    /// 2.
    Critical,
    /// 3.
    Error,
    /// 4.
    Warning,
    /// 5.
    Notice,
    /// 6.
    Info,
    /// `any`: every level (7, debug, included).
    Any,
}

impl SyslogSeverity {
    /// Every level with its Junos keyword.
    pub const ALL: [(SyslogSeverity, &'static str); 8] = [
        (Self::Any, "any"),
        (Self::Emergency, "emergency"),
        (Self::Alert, "alert"),
        (Self::Critical, "critical"),
        (Self::Error, "error"),
        (Self::Warning, "warning"),
        (Self::Notice, "notice"),
        (Self::Info, "info"),
    ];
    /// The Junos keyword.
    pub fn keyword(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("any", |(_, k)| k)
    }
    /// The RFC 5424 numeric value (`Any` is 7, debug).
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// Syslog facilities (RFC 5424 §6.2.1) that Junos `facility-override` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyslogFacility {
    /// `kernel` (0).
    Kernel,
    /// `user` (1).
    User,
    /// `daemon` (3).
    Daemon,
    /// `authorization` (4).
    Authorization,
    /// `ftp` (11).
    Ftp,
    /// `local0` … `local7` (16 … 23).
    Local(u8),
}

impl SyslogFacility {
    /// Every facility with its Junos keyword.
    pub const ALL: [(SyslogFacility, &'static str); 13] = [
        (Self::Authorization, "authorization"),
        (Self::Daemon, "daemon"),
        (Self::Ftp, "ftp"),
        (Self::Kernel, "kernel"),
        (Self::Local(0), "local0"),
        (Self::Local(1), "local1"),
        (Self::Local(2), "local2"),
        (Self::Local(3), "local3"),
        (Self::Local(4), "local4"),
        (Self::Local(5), "local5"),
        (Self::Local(6), "local6"),
        (Self::Local(7), "local7"),
        (Self::User, "user"),
    ];
    /// The Junos keyword.
    pub fn keyword(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("user", |(_, k)| k)
    }
    /// The RFC 5424 numeric value.
    pub fn code(self) -> u8 {
        match self {
            Self::Kernel => 0,
            Self::User => 1,
            Self::Daemon => 3,
            Self::Authorization => 4,
            Self::Ftp => 11,
            Self::Local(n) => 16 + n.min(7),
        }
    }
}

/// How traffic reaches a service set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceSetStyle {
    /// `interface-service { service-interface ms-1/1/0[.unit]; }` (name without unit).
    Interface {
        /// The services interface, without unit.
        service_interface: String,
    },
    /// `next-hop-service { inside-service-interface ms-1/1/0.1; outside-service-interface … }`.
    NextHop {
        /// The inside unit (`ms-1/1/0.1`).
        inside: String,
        /// The outside unit (`ms-1/1/0.2`).
        outside: String,
    },
}

impl ServiceSet {
    /// The services interface (`ms-x/y/z`, no unit) that owns this set's sessions.
    pub fn service_interface(&self) -> &str {
        let name = match &self.style {
            ServiceSetStyle::Interface { service_interface } => service_interface.as_str(),
            ServiceSetStyle::NextHop { inside, .. } => inside.as_str(),
        };
        name.split('.').next().unwrap_or(name)
    }
}

/// The non-Junos `emulator` stanza.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Emulator {
    /// `interface NAME device NETDEV` bindings.
    pub interfaces: Vec<EmulatorInterface>,
    /// `workers N`: threads processing packets.
    pub workers: Option<u32>,
    /// `queues N`: receive queues per device.
    pub queues: Option<u32>,
    /// `junos-release R`: the Junos release whose `show` layouts are printed (`None`: the
    /// 10.4–13.x layouts of the reference page).
    pub junos_release: Option<JunosRelease>,
}

/// A Junos release, `MAJOR.MINOR` (`17.1`); the maintenance part (`R2`) does not change
/// the layouts and is not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JunosRelease {
    /// `17` of `17.1`.
    pub major: u8,
    /// `1` of `17.1`.
    pub minor: u8,
}

impl JunosRelease {
    /// The first release with `show services sessions` (its page: "Command introduced in
    /// Junos OS Release 10.4").
    pub const FIRST: JunosRelease = JunosRelease {
        major: 10,
        minor: 4,
    };
    /// The last release train mspic knows.
    pub const LAST: JunosRelease = JunosRelease {
        major: 24,
        minor: 4,
    };

    /// Parses `MAJOR.MINOR` with an optional maintenance suffix (`17.1R2`, `15.1X49-D100`);
    /// `None` for anything that is not a Junos release from [`Self::FIRST`] to
    /// [`Self::LAST`] (minor releases run 1 to 4).
    pub fn parse(text: &str) -> Option<JunosRelease> {
        let (major, rest) = text.split_once('.')?;
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (minor, suffix) = rest.split_at(digits);
        // `R2`, `R3-S4.9`, `X49-D100`: a letter, a number, then anything of that alphabet.
        let suffix_ok = suffix.is_empty()
            || (suffix.starts_with(['R', 'X', 'S'])
                && suffix[1..].starts_with(|c: char| c.is_ascii_digit())
                && suffix[1..]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'));
        let digits_ok = |d: &str| !d.starts_with('0') && d.bytes().all(|b| b.is_ascii_digit());
        if !digits_ok(major) || !digits_ok(minor) || !suffix_ok {
            return None;
        }
        let r = JunosRelease {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        };
        ((1..=4).contains(&r.minor) && (Self::FIRST..=Self::LAST).contains(&r)).then_some(r)
    }
}

impl std::fmt::Display for JunosRelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A Junos interface bound to a Linux netdev.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatorInterface {
    /// Junos interface name (`ge-0/0/0`).
    pub name: String,
    /// Linux netdev (`pin`).
    pub device: String,
}

#[cfg(test)]
mod release_tests {
    use super::JunosRelease;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn releases_parse_and_print(major in 10u8..=24, minor in 1u8..=4, suffix in "(R[1-9][0-9]?(-S[1-9])?|X49-D[0-9]{2,3})?") {
            let text = format!("{major}.{minor}{suffix}");
            let parsed = JunosRelease::parse(&text);
            if major == 10 && minor < 4 {
                prop_assert_eq!(parsed, None);
            } else {
                prop_assert_eq!(parsed, Some(JunosRelease { major, minor }));
                prop_assert_eq!(parsed.unwrap().to_string(), format!("{major}.{minor}"));
            }
        }

        #[test]
        fn any_text_is_refused_or_in_range(text in "\\PC{0,12}") {
            if let Some(r) = JunosRelease::parse(&text) {
                prop_assert!(JunosRelease::FIRST <= r && r <= JunosRelease::LAST);
                prop_assert!((1..=4).contains(&r.minor));
            }
        }
    }
}
