//! The configuration compiled for the packet path: interfaces by index, service sets with
//! their rules flattened (rule-sets expanded, prefix lists and application sets resolved),
//! per-services-interface timeouts, and the route table.
//!
//! Built once per commit and shared read-only by every shard.

use std::net::IpAddr;

use mspic_config as cfg;
use mspic_config::{MatchDirection, Prefix, SfwAction};
use mspic_wire::FlowKey;

use crate::ip_options::IpOptionMask;
use crate::matching::direction_applies;
pub use crate::matching::{compile_conditions, AddrCond, AddrSpec, AppRt, Conditions, MatchInput};
use crate::nat::{NatPolicy, NatPolicyError};
use crate::nexthop::{NextHopError, ServiceUnits};
use crate::route::{IfIndex, RouteError, RouteTable};

/// A logical interface (`ge-0/0/0` unit N) that packets arrive on and leave by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfaceRt {
    /// Physical name (`ge-0/0/0`).
    pub name: String,
    /// Logical unit number.
    pub unit: u32,
    /// Its own addresses with their prefix lengths (connected routes, local traffic).
    pub addresses: Vec<Prefix>,
    /// Service set applied to packets arriving here (index in `Policy::service_sets`).
    pub input_service_set: Option<u16>,
    /// Service set applied to packets leaving by here.
    pub output_service_set: Option<u16>,
}

impl IfaceRt {
    /// `ge-0/0/0.0`.
    pub fn logical_name(&self) -> String {
        format!("{}.{}", self.name, self.unit)
    }
}

/// A services interface and its timers (seconds; 0 = never).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceIfaceRt {
    /// `ms-0/0/0` (counters and sessions are reported per services interface).
    pub name: String,
    /// Inactivity timeout of established TCP sessions.
    pub tcp_timeout: u32,
    /// Inactivity timeout of everything else.
    pub non_tcp_timeout: u32,
    /// Timeout while a TCP handshake is under way.
    pub open_timeout: u32,
    /// Timeout once a TCP connection is closing.
    pub close_timeout: u32,
    /// Most live sessions across all shards.
    pub session_limit: Option<u32>,
    /// `session-limit rate`: most new sessions per second across all shards.
    pub session_rate: Option<u32>,
    /// `syslog message-rate-limit`: most log lines per second from this interface.
    pub syslog_rate_limit: Option<u32>,
    /// `tcp-tickles`: keep-alives sent to both ends of an idle established TCP session
    /// before it is removed.
    pub tcp_tickles: u8,
}

/// A service set ready for rule evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSetRt {
    /// Configured name (sessions and counters are shown by it).
    pub name: String,
    /// The services interface it runs on (index in `Policy::service_ifaces`).
    pub service_iface: u16,
    /// Stateful-firewall rules in evaluation order, rule-sets expanded.
    pub sfw_rules: Vec<RuleRt>,
    /// Most live sessions of this set across all shards.
    pub max_flows: Option<u32>,
    /// `tcp-mss`: SYNs announcing a larger MSS are lowered to it.
    pub tcp_mss: Option<u16>,
    /// `max-session-setup-rate`: most new sessions per second across all shards.
    pub max_session_setup_rate: Option<u32>,
    /// `max-sessions-per-subscriber`: most live sessions of one subscriber.
    pub max_per_subscriber: Option<u32>,
    /// `nat-options stateful-nat64 clear-dont-fragment-bit`.
    pub nat64_clear_df: bool,
    /// Where the set's subscribers live: the connected subnets of the interfaces that
    /// apply it as input (filled only when the set limits sessions per subscriber).
    pub subscribers: Vec<Prefix>,
    /// The DS-Lite concentrators its softwire rules name, in rule and term order.
    pub ds_lite: Vec<DsLiteRt>,
}

/// A DS-Lite concentrator as the packet path needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsLiteRt {
    /// The concentrator's name (`show services softwire`).
    pub name: String,
    /// `softwire-address`: B4s tunnel to it.
    pub address: std::net::Ipv6Addr,
    /// `mtu-v6`, else the Ethernet MTU of the egress link (links have no configured MTU in
    /// the emulator).
    pub mtu: u16,
}

/// The encapsulated-packet MTU of a concentrator without `mtu-v6`.
pub const DS_LITE_DEFAULT_MTU: u16 = 1500;

impl ServiceSetRt {
    /// The concentrator of this set whose softwire address is `dst`.
    pub fn ds_lite_at(&self, dst: IpAddr) -> Option<&DsLiteRt> {
        match dst {
            IpAddr::V6(a) => self.ds_lite.iter().find(|c| c.address == a),
            IpAddr::V4(_) => None,
        }
    }
}

impl ServiceSetRt {
    /// The subscriber a session with first key `k` belongs to, when the set limits
    /// sessions per subscriber: the end of the session inside its subscriber subnets.
    pub fn subscriber_of(&self, k: &FlowKey) -> Option<IpAddr> {
        self.max_per_subscriber?;
        let inside = |a: IpAddr| self.subscribers.iter().any(|p| p.contains(a));
        [k.src, k.dst].into_iter().find(|&a| inside(a))
    }
}

impl ServiceSetRt {
    /// The stateful-firewall verdict on a first packet seen in direction `dir`: the first
    /// matching term decides, with the application it matched and the IP options it
    /// allows; no match discards when the set has firewall rules and accepts (any option)
    /// when it has none.
    pub fn firewall(&self, dir: MatchDirection, m: &MatchInput) -> FirewallMatch<'_> {
        if self.sfw_rules.is_empty() {
            return FirewallMatch {
                action: SfwAction::Accept,
                app: None,
                ip_options: IpOptionMask::ALL,
                term: None,
            };
        }
        for (ri, r) in self.sfw_rules.iter().enumerate() {
            if !r.applies(dir) {
                continue;
            }
            for (ti, t) in r.terms.iter().enumerate() {
                if let Some(app) = t.cond.matches(m) {
                    return FirewallMatch {
                        action: t.action,
                        app,
                        ip_options: t.ip_options,
                        term: Some(TermRef {
                            rule: ri as u16,
                            term: ti as u16,
                            syslog: t.syslog,
                        }),
                    };
                }
            }
        }
        // No term matched: the implicit discard.
        FirewallMatch {
            action: SfwAction::Discard,
            app: None,
            ip_options: IpOptionMask::NONE,
            term: None,
        }
    }
}

/// What the stateful firewall decided for a first packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirewallMatch<'a> {
    /// The matching term's action.
    pub action: SfwAction,
    /// The application of the term that fitted (its ALG and timeout), if the term names any.
    pub app: Option<&'a AppRt>,
    /// The IPv4 options the session's packets may carry.
    pub ip_options: IpOptionMask,
    /// The term that matched (`None`: no firewall rules, or none matched).
    pub term: Option<TermRef>,
}

/// Which term of a service set's rules matched (indices as in the set's rules), and
/// whether it says `then syslog`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermRef {
    /// Index of the rule.
    pub rule: u16,
    /// Index of the term in the rule.
    pub term: u16,
    /// `then syslog`.
    pub syslog: bool,
}

/// A stateful-firewall rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRt {
    /// Configured name.
    pub name: String,
    /// Traffic direction it applies to.
    pub direction: MatchDirection,
    /// Terms, first match wins.
    pub terms: Vec<TermRt>,
}

/// A stateful-firewall term: conditions and what a match does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermRt {
    /// Configured name.
    pub name: String,
    /// The `from` block.
    pub cond: Conditions,
    /// The `then` action.
    pub action: SfwAction,
    /// `then allow-ip-options`.
    pub ip_options: IpOptionMask,
    /// `then syslog`.
    pub syslog: bool,
}

impl RuleRt {
    /// Whether the rule runs on traffic seen in direction `dir`.
    pub fn applies(&self, dir: MatchDirection) -> bool {
        direction_applies(self.direction, dir)
    }
}

/// The compiled policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Logical interfaces, indexed by [`IfIndex`].
    pub interfaces: Vec<IfaceRt>,
    /// Services interfaces (sessions and counters are kept per services interface).
    pub service_ifaces: Vec<ServiceIfaceRt>,
    /// Service sets with their firewall rules.
    pub service_sets: Vec<ServiceSetRt>,
    /// Connected and static routes.
    pub routes: RouteTable,
    /// NAT pools and rules.
    pub nat: NatPolicy,
    /// Syslog collectors per service set (index as in `service_sets`).
    pub syslog: Vec<crate::syslog::SetSyslog>,
}

/// Why a configuration could not be compiled for the packet path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A static route could not be resolved.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// A NAT pool or rule is unusable.
    #[error(transparent)]
    Nat(#[from] NatPolicyError),
    /// The legs of the next-hop service sets are ambiguous.
    #[error(transparent)]
    NextHop(#[from] NextHopError),
    /// Indices are 16-bit. [`mspic_config::parse`] refuses this with the position of
    /// the first one too many; this guards a configuration built in code.
    #[error("too many interfaces or service sets (limit {})", cfg::MAX_INDEXED)]
    TooMany,
}

impl Policy {
    /// Compiles a validated configuration.
    pub fn compile(c: &cfg::Config) -> Result<Policy, PolicyError> {
        let service_ifaces: Vec<ServiceIfaceRt> = c
            .service_interfaces
            .iter()
            .map(|s| ServiceIfaceRt {
                name: s.name.clone(),
                tcp_timeout: s.options.tcp_timeout(),
                non_tcp_timeout: s.options.non_tcp_timeout(),
                open_timeout: s.options.open_timeout(),
                close_timeout: s.options.close_timeout(),
                session_limit: s.options.session_limit_maximum,
                session_rate: s.options.session_limit_rate,
                syslog_rate_limit: s.options.syslog_rate_limit,
                tcp_tickles: u8::try_from(s.options.tcp_tickles()).unwrap_or(u8::MAX),
            })
            .collect();
        let ss_index = |name: &str| c.service_sets.iter().position(|s| s.name == name);
        let mut interfaces = Vec::new();
        for i in &c.interfaces {
            for u in &i.units {
                let mut addresses = Vec::new();
                let mut input = None;
                let mut output = None;
                for fam in [&u.inet, &u.inet6].into_iter().flatten() {
                    addresses.extend(fam.addresses.iter().copied());
                    input = input.or(fam.input_service_set.as_deref().and_then(ss_index));
                    output = output.or(fam.output_service_set.as_deref().and_then(ss_index));
                }
                interfaces.push(IfaceRt {
                    name: i.name.clone(),
                    unit: u.number,
                    addresses,
                    input_service_set: input.map(|x| x as u16),
                    output_service_set: output.map(|x| x as u16),
                });
            }
        }
        if interfaces.len() > cfg::MAX_INDEXED || c.service_sets.len() > cfg::MAX_INDEXED {
            return Err(PolicyError::TooMany);
        }
        let connected: Vec<(Prefix, IfIndex)> = interfaces
            .iter()
            .enumerate()
            .flat_map(|(i, f)| f.addresses.iter().map(move |p| (*p, IfIndex(i as u16))))
            .collect();
        let statics: Vec<(Prefix, cfg::NextHop)> = c
            .static_routes
            .iter()
            .map(|r| (r.prefix, r.next_hop.clone()))
            .collect();
        let by_name = |n: &str| interface_by_name(&interfaces, n);
        let units = ServiceUnits::of(c)?;
        let routes = RouteTable::build(&connected, &statics, by_name, |n| units.get(n))?;

        let service_sets: Vec<ServiceSetRt> = c
            .service_sets
            .iter()
            .map(|s| {
                let svc = s.service_interface();
                let service_iface = service_ifaces
                    .iter()
                    .position(|x| x.name == svc)
                    .unwrap_or(0) as u16;
                let mut rule_names: Vec<&str> = s.sfw_rules.iter().map(String::as_str).collect();
                for rs in &s.sfw_rule_sets {
                    if let Some(set) = c.sfw_rule_set(rs) {
                        rule_names.extend(set.rules.iter().map(String::as_str));
                    }
                }
                let sfw_rules = rule_names
                    .iter()
                    .filter_map(|n| c.sfw_rule(n))
                    .map(|r| RuleRt {
                        name: r.name.clone(),
                        direction: r.match_direction,
                        terms: r
                            .terms
                            .iter()
                            .map(|t| TermRt {
                                name: t.name.clone(),
                                cond: compile_conditions(c, &t.from),
                                action: t.action,
                                ip_options: IpOptionMask::compile(&t.allow_ip_options),
                                syslog: t.syslog,
                            })
                            .collect(),
                    })
                    .collect();
                ServiceSetRt {
                    name: s.name.clone(),
                    service_iface,
                    sfw_rules,
                    max_flows: s.max_flows,
                    tcp_mss: s.tcp_mss,
                    max_session_setup_rate: s.max_session_setup_rate,
                    max_per_subscriber: s.max_sessions_per_subscriber,
                    nat64_clear_df: s.nat64_clear_df,
                    subscribers: if s.max_sessions_per_subscriber.is_some() {
                        input_subnets(c, &s.name)
                    } else {
                        Vec::new()
                    },
                    ds_lite: ds_lite_of(c, s),
                }
            })
            .collect();
        let mut nat = NatPolicy::compile(c)?;
        for pool in &mut nat.pools {
            pool.interim_interval = interim_interval(c, pool, &service_sets);
        }
        // A subscriber's sessions are counted on one shard: its address alone picks it.
        for ss in &service_sets {
            nat.pinned.extend(ss.subscribers.iter().copied());
        }
        let syslog = c
            .service_sets
            .iter()
            .map(|s| crate::syslog::SetSyslog::compile(c, s))
            .collect();
        Ok(Policy {
            interfaces,
            service_ifaces,
            service_sets,
            routes,
            nat,
            syslog,
        })
    }

    /// The logical interface with index `i`.
    pub fn interface(&self, i: IfIndex) -> Option<&IfaceRt> {
        self.interfaces.get(i.0 as usize)
    }

    /// The interface named `ge-0/0/0` (first unit) or `ge-0/0/0.N`.
    pub fn interface_by_name(&self, n: &str) -> Option<IfIndex> {
        interface_by_name(&self.interfaces, n)
    }

    /// The interface whose connected subnet holds `addr` (longest match).
    pub fn interface_for_source(&self, addr: IpAddr) -> Option<IfIndex> {
        self.interfaces
            .iter()
            .enumerate()
            .flat_map(|(i, f)| f.addresses.iter().map(move |p| (i, p)))
            .filter(|(_, p)| p.contains(addr))
            .max_by_key(|(_, p)| p.len)
            .map(|(i, _)| IfIndex(i as u16))
    }

    /// Memory the compiled rules of the service sets on services interface `iface` take
    /// (`show services service-sets summary`, "Policy bytes used"): structures plus names.
    pub fn approx_bytes(&self, iface: u16) -> u64 {
        use std::mem::size_of;
        let cond = |c: &Conditions| c.approx_bytes();
        let mut n = 0usize;
        for (i, ss) in self.service_sets.iter().enumerate() {
            if ss.service_iface != iface {
                continue;
            }
            n += size_of::<ServiceSetRt>() + ss.name.len();
            for r in &ss.sfw_rules {
                n += size_of::<RuleRt>() + r.name.len();
                for t in &r.terms {
                    n += size_of::<TermRt>() + t.name.len() + cond(&t.cond);
                }
            }
            for r in self.nat.rules.get(i).into_iter().flatten() {
                n += size_of::<crate::nat::NatRuleRt>() + r.name.len();
                for t in &r.terms {
                    n += size_of::<crate::nat::NatTermRt>() + t.name.len() + cond(&t.cond);
                }
            }
        }
        n as u64
    }

    /// True when `addr` is one of the interfaces' own addresses.
    pub fn is_local_address(&self, addr: IpAddr) -> bool {
        self.interfaces
            .iter()
            .any(|f| f.addresses.iter().any(|p| p.addr == addr))
    }
}

/// The interim logging interval of port block pool `pool` (s, 0: none): its own
/// `interim-logging-interval`, else the shortest `pba-interim-logging-interval` of the
/// services interfaces its service sets run on (Junos: the interface's applies to all the
/// NAT pools on it; a pool's own takes precedence).
fn interim_interval(c: &cfg::Config, pool: &crate::nat::PoolRt, sets: &[ServiceSetRt]) -> u32 {
    let Some(pba) = pool.pba else {
        return 0;
    };
    pba.interim_logging_interval.unwrap_or_else(|| {
        pool.users
            .iter()
            .filter_map(|&(set, _)| sets.get(usize::from(set)))
            .filter_map(|ss| c.service_interfaces.get(usize::from(ss.service_iface)))
            .filter_map(|si| si.options.pba_interim_logging_interval)
            .filter(|&v| v > 0)
            .min()
            .unwrap_or(0)
    })
}

/// The interface named `ge-0/0/0` (first unit) or `ge-0/0/0.N` in `interfaces`.
/// The connected subnets (both families) of the interface units that apply service set
/// `set` as input.
fn input_subnets(c: &cfg::Config, set: &str) -> Vec<Prefix> {
    c.interfaces
        .iter()
        .flat_map(|i| &i.units)
        .flat_map(|u| [u.inet.as_ref(), u.inet6.as_ref()])
        .flatten()
        .filter(|f| f.input_service_set.as_deref() == Some(set))
        .flat_map(|f| f.addresses.iter().map(|p| p.network()))
        .collect()
}

fn interface_by_name(interfaces: &[IfaceRt], n: &str) -> Option<IfIndex> {
    let (phys, unit) = match n.rsplit_once('.') {
        Some((p, u)) => (p, u.parse::<u32>().ok()),
        None => (n, None),
    };
    interfaces
        .iter()
        .position(|f| f.name == phys && unit.is_none_or(|u| f.unit == u))
        .map(|i| IfIndex(i as u16))
}

/// The concentrators the softwire rules of set `s` name, each once.
fn ds_lite_of(c: &cfg::Config, s: &cfg::ServiceSet) -> Vec<DsLiteRt> {
    let mut out: Vec<DsLiteRt> = Vec::new();
    let terms = s
        .softwire_rules
        .iter()
        .filter_map(|n| c.softwire_rules.iter().find(|r| &r.name == n))
        .flat_map(|r| r.terms.iter());
    for t in terms {
        let Some(d) = c.ds_lite.iter().find(|d| d.name == t.ds_lite) else {
            continue;
        };
        if out.iter().all(|o| o.name != d.name) {
            out.push(DsLiteRt {
                name: d.name.clone(),
                address: d.softwire_address,
                mtu: d.mtu_v6.unwrap_or(DS_LITE_DEFAULT_MTU),
            });
        }
    }
    out
}
