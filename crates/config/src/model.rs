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
    pub sfw_rules: Vec<SfwRule>,
    pub sfw_rule_sets: Vec<RuleSet>,
    pub nat_pools: Vec<NatPool>,
    pub nat_rules: Vec<NatRule>,
    pub nat_rule_sets: Vec<RuleSet>,
    pub service_sets: Vec<ServiceSet>,
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
            && *service_sets == other.service_sets
            && *emulator == other.emulator
    }
}

impl Eq for Config {}

impl Config {
    pub fn interface(&self, name: &str) -> Option<&Interface> {
        self.interfaces.iter().find(|i| i.name == name)
    }
    pub fn service_interface(&self, name: &str) -> Option<&ServiceInterface> {
        self.service_interfaces.iter().find(|i| i.name == name)
    }
    pub fn application(&self, name: &str) -> Option<&Application> {
        self.applications.iter().find(|a| a.name == name)
    }
    pub fn application_set(&self, name: &str) -> Option<&ApplicationSet> {
        self.application_sets.iter().find(|a| a.name == name)
    }
    pub fn prefix_list(&self, name: &str) -> Option<&PrefixList> {
        self.prefix_lists.iter().find(|a| a.name == name)
    }
    pub fn sfw_rule(&self, name: &str) -> Option<&SfwRule> {
        self.sfw_rules.iter().find(|a| a.name == name)
    }
    pub fn sfw_rule_set(&self, name: &str) -> Option<&RuleSet> {
        self.sfw_rule_sets.iter().find(|a| a.name == name)
    }
    pub fn nat_pool(&self, name: &str) -> Option<&NatPool> {
        self.nat_pools.iter().find(|a| a.name == name)
    }
    pub fn nat_rule(&self, name: &str) -> Option<&NatRule> {
        self.nat_rules.iter().find(|a| a.name == name)
    }
    pub fn nat_rule_set(&self, name: &str) -> Option<&RuleSet> {
        self.nat_rule_sets.iter().find(|a| a.name == name)
    }
    pub fn service_set(&self, name: &str) -> Option<&ServiceSet> {
        self.service_sets.iter().find(|a| a.name == name)
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
    pub name: String,
    pub units: Vec<Unit>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub number: u32,
    pub inet: Option<Family>,
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
    pub name: String,
    pub options: ServicesOptions,
    pub units: Vec<ServiceUnit>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUnit {
    pub number: u32,
    pub inet: bool,
    pub inet6: bool,
    /// `service-domain inside|outside` (next-hop style).
    pub service_domain: Option<ServiceDomain>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceDomain {
    Inside,
    Outside,
}

/// `interfaces ms-x/y/z services-options`. `None` means "not configured"; the methods give the
/// Junos default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServicesOptions {
    pub inactivity_timeout: Option<u32>,
    pub inactivity_tcp_timeout: Option<u32>,
    pub inactivity_non_tcp_timeout: Option<u32>,
    pub open_timeout: Option<u32>,
    pub close_timeout: Option<u32>,
    pub session_limit_maximum: Option<u32>,
    pub session_limit_rate: Option<u32>,
    pub tcp_tickles: Option<u32>,
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
    pub fn open_timeout(&self) -> u32 {
        self.open_timeout.unwrap_or(Self::DEFAULT_OPEN)
    }
    pub fn close_timeout(&self) -> u32 {
        self.close_timeout.unwrap_or(Self::DEFAULT_CLOSE)
    }
    pub fn tcp_tickles(&self) -> u32 {
        self.tcp_tickles.unwrap_or(Self::DEFAULT_TICKLES)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticRoute {
    pub prefix: Prefix,
    pub next_hop: NextHop,
}

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
    Never,
    Seconds(u32),
}

/// Inclusive port range; a single port has `low == high`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    pub low: u16,
    pub high: u16,
}

impl PortRange {
    pub const fn single(p: u16) -> Self {
        PortRange { low: p, high: p }
    }
    pub fn contains(&self, p: u16) -> bool {
        self.low <= p && p <= self.high
    }
}

/// The `application-protocol` keyword: which ALG a session gets. One definition of ALG names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AppProtocol {
    Bootp,
    DceRpc,
    DceRpcPortmap,
    Dns,
    Exec,
    Ftp,
    H323,
    Icmp,
    Icmpv6,
    Iiop,
    /// IKE on UDP 500 with its ESP sessions (`ike-esp-nat`, later releases).
    IkeEspNat,
    Ip,
    Login,
    Netbios,
    Netshow,
    Pptp,
    /// H.323 registration, admission and status on UDP 1719 (later releases).
    Ras,
    Realaudio,
    Rpc,
    RpcPortmap,
    Rsh,
    Rtsp,
    Shell,
    Sip,
    Snmp,
    Sqlnet,
    Talk,
    Tftp,
    Traceroute,
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

    pub fn from_keyword(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.keyword() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub name: String,
    pub application_protocol: Option<AppProtocol>,
    /// IP protocol number (`protocol tcp` → 6).
    pub protocol: Option<u8>,
    pub source_port: Option<PortRange>,
    pub destination_port: Option<PortRange>,
    pub icmp_type: Option<u8>,
    pub icmp_code: Option<u8>,
    pub inactivity_timeout: Option<Timeout>,
    /// `rpc-program-number N` or `N-M`.
    pub rpc_program_number: Option<(u32, u32)>,
    /// `uuid` (DCE RPC interface), as written (lower-case hex, dashes kept).
    pub uuid: Option<String>,
    /// True for the predefined `junos-*` applications.
    pub predefined: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationSet {
    pub name: String,
    pub applications: Vec<String>,
    /// Nested `application-set` references.
    pub application_sets: Vec<String>,
    pub predefined: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixList {
    pub name: String,
    pub prefixes: Vec<Prefix>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchDirection {
    Input,
    Output,
    InputOutput,
}

impl MatchDirection {
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::Output => "output",
            Self::InputOutput => "input-output",
        }
    }
}

/// One address condition: `source-address 10.0.0.0/8 [except]` or `any-unicast`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressMatch {
    Prefix { prefix: Prefix, except: bool },
    AnyUnicast { except: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRange {
    pub low: IpAddr,
    pub high: IpAddr,
}

/// The `from` block shared by stateful-firewall and NAT terms. Empty lists match anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchConditions {
    pub source_address: Vec<AddressMatch>,
    pub destination_address: Vec<AddressMatch>,
    pub source_address_range: Vec<AddressRange>,
    pub destination_address_range: Vec<AddressRange>,
    pub source_prefix_list: Vec<String>,
    pub destination_prefix_list: Vec<String>,
    pub applications: Vec<String>,
    pub application_sets: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SfwRule {
    pub name: String,
    pub match_direction: MatchDirection,
    pub terms: Vec<SfwTerm>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SfwTerm {
    pub name: String,
    pub from: MatchConditions,
    pub action: SfwAction,
    pub syslog: bool,
    /// `allow-ip-options [ … ]` as written (option names or numbers).
    pub allow_ip_options: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SfwAction {
    Accept,
    Discard,
    Reject,
}

/// `rule-set NAME { rule R1; rule R2; }` for either rule kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet {
    pub name: String,
    pub rules: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatPool {
    pub name: String,
    /// `address A/len` entries (a bare address is a /32).
    pub addresses: Vec<Prefix>,
    /// `address-range low A high B` entries.
    pub address_ranges: Vec<(Ipv4Addr, Ipv4Addr)>,
    /// `None`: no `port` statement (address-only pool).
    pub port: Option<PoolPort>,
    pub preserve_parity: bool,
    pub preserve_range: bool,
    /// `address-allocation round-robin`.
    pub address_allocation_round_robin: bool,
    pub mapping_timeout: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolPort {
    /// `port automatic [sequential|random-allocation]`: 1024–65535.
    Automatic { random: bool },
    /// `port range low L high H [random-allocation]`.
    Range { low: u16, high: u16, random: bool },
}

impl PoolPort {
    pub const AUTOMATIC_LOW: u16 = 1024;
    pub const AUTOMATIC_HIGH: u16 = 65535;
    pub fn range(self) -> PortRange {
        match self {
            PoolPort::Automatic { .. } => PortRange {
                low: Self::AUTOMATIC_LOW,
                high: Self::AUTOMATIC_HIGH,
            },
            PoolPort::Range { low, high, .. } => PortRange { low, high },
        }
    }
    pub fn random(self) -> bool {
        match self {
            PoolPort::Automatic { random } | PoolPort::Range { random, .. } => random,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatRule {
    pub name: String,
    pub match_direction: MatchDirection,
    pub terms: Vec<NatTerm>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatTerm {
    pub name: String,
    pub from: MatchConditions,
    pub then: NatThen,
    pub syslog: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NatThen {
    NoTranslation,
    Translated(Translated),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    pub source_pool: Option<String>,
    pub destination_pool: Option<String>,
    pub source_prefix: Option<Prefix>,
    pub destination_prefix: Option<Prefix>,
    pub translation_type: TranslationType,
    /// `address-pooling paired`.
    pub address_pooling_paired: bool,
    /// `mapping-type endpoint-independent`.
    pub mapping_type_eim: bool,
    /// `filtering-type endpoint-independent`.
    pub filtering_type_eif: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TranslationType {
    Napt44,
    DynamicNat44,
    BasicNat44,
    Dnat44,
    TwiceNapt44,
    TwiceBasicNat44,
    TwiceDynamicNat44,
}

impl TranslationType {
    pub const ALL: [TranslationType; 7] = [
        Self::Napt44,
        Self::DynamicNat44,
        Self::BasicNat44,
        Self::Dnat44,
        Self::TwiceNapt44,
        Self::TwiceBasicNat44,
        Self::TwiceDynamicNat44,
    ];
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Napt44 => "napt-44",
            Self::DynamicNat44 => "dynamic-nat44",
            Self::BasicNat44 => "basic-nat44",
            Self::Dnat44 => "dnat-44",
            Self::TwiceNapt44 => "twice-napt-44",
            Self::TwiceBasicNat44 => "twice-basic-nat-44",
            Self::TwiceDynamicNat44 => "twice-dynamic-nat-44",
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
        }
    }
    pub fn from_keyword(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.keyword() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSet {
    pub name: String,
    pub sfw_rules: Vec<String>,
    pub sfw_rule_sets: Vec<String>,
    pub nat_rules: Vec<String>,
    pub nat_rule_sets: Vec<String>,
    pub style: ServiceSetStyle,
    pub max_flows: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceSetStyle {
    /// `interface-service { service-interface ms-1/1/0[.unit]; }` (name without unit).
    Interface { service_interface: String },
    /// `next-hop-service { inside-service-interface ms-1/1/0.1; outside-service-interface … }`.
    NextHop { inside: String, outside: String },
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
    pub interfaces: Vec<EmulatorInterface>,
    pub workers: Option<u32>,
    pub queues: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatorInterface {
    /// Junos interface name (`ge-0/0/0`).
    pub name: String,
    /// Linux netdev (`pin`).
    pub device: String,
}
