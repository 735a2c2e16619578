//! The configuration compiled for the packet path: interfaces by index, service sets with
//! their rules flattened (rule-sets expanded, prefix lists and application sets resolved),
//! per-services-interface timeouts, and the route table.
//!
//! Built once per commit and shared read-only by every shard.

use std::net::IpAddr;

use mspic_config as cfg;
use mspic_config::{AppProtocol, MatchDirection, PortRange, Prefix, SfwAction, Timeout};

use crate::nat::{NatPolicy, NatPolicyError};
use crate::route::{IfIndex, RouteError, RouteTable};

/// A logical interface (`ge-0/0/0` unit N) that packets arrive on and leave by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfaceRt {
    /// Physical name (`ge-0/0/0`).
    pub name: String,
    pub unit: u32,
    pub addresses: Vec<Prefix>,
    pub input_service_set: Option<u16>,
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
    pub name: String,
    pub tcp_timeout: u32,
    pub non_tcp_timeout: u32,
    pub open_timeout: u32,
    pub close_timeout: u32,
    pub session_limit: Option<u32>,
}

/// A service set ready for rule evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSetRt {
    pub name: String,
    pub service_iface: u16,
    pub sfw_rules: Vec<RuleRt>,
    pub max_flows: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRt {
    pub name: String,
    pub direction: MatchDirection,
    pub terms: Vec<TermRt>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermRt {
    pub name: String,
    pub cond: Conditions,
    pub action: SfwAction,
}

/// Address conditions of one side: any listed prefix or range matches, minus `except`
/// prefixes. Empty = any address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddrCond {
    pub include: Vec<Prefix>,
    pub exclude: Vec<Prefix>,
    pub ranges: Vec<(IpAddr, IpAddr)>,
    pub any_unicast: bool,
}

impl AddrCond {
    fn is_any(&self) -> bool {
        self.include.is_empty() && self.ranges.is_empty() && !self.any_unicast
    }

    pub fn matches(&self, a: IpAddr) -> bool {
        if self.exclude.iter().any(|p| p.contains(a)) {
            return false;
        }
        if self.is_any() {
            return true;
        }
        self.include.iter().any(|p| p.contains(a))
            || self.ranges.iter().any(|&(lo, hi)| in_range(a, lo, hi))
            || (self.any_unicast && is_unicast(a))
    }
}

fn in_range(a: IpAddr, lo: IpAddr, hi: IpAddr) -> bool {
    match (a, lo, hi) {
        (IpAddr::V4(a), IpAddr::V4(l), IpAddr::V4(h)) => l <= a && a <= h,
        (IpAddr::V6(a), IpAddr::V6(l), IpAddr::V6(h)) => l <= a && a <= h,
        _ => false,
    }
}

fn is_unicast(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => !v.is_multicast() && !v.is_broadcast() && !v.is_unspecified(),
        IpAddr::V6(v) => !v.is_multicast() && !v.is_unspecified(),
    }
}

/// One application a term can match, flattened from applications and application sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRt {
    pub name: String,
    pub protocol: Option<u8>,
    pub source_port: Option<PortRange>,
    pub destination_port: Option<PortRange>,
    pub icmp_type: Option<u8>,
    pub icmp_code: Option<u8>,
    pub alg: Option<AppProtocol>,
    pub inactivity_timeout: Option<Timeout>,
}

/// The `from` block compiled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    pub src: AddrCond,
    pub dst: AddrCond,
    /// Empty = any application (and no ALG).
    pub apps: Vec<AppRt>,
}

/// What the rules look at in a packet that has no session yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchInput {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub src_port: u16,
    pub dst_port: u16,
    /// ICMP type/code for ICMP packets.
    pub icmp: Option<(u8, u8)>,
}

impl AppRt {
    pub fn matches(&self, m: &MatchInput) -> bool {
        if self.protocol.is_some_and(|p| p != m.protocol) {
            return false;
        }
        let has_ports = mspic_wire::proto::has_ports(m.protocol);
        if let Some(r) = self.destination_port {
            if !has_ports || !r.contains(m.dst_port) {
                return false;
            }
        }
        if let Some(r) = self.source_port {
            if !has_ports || !r.contains(m.src_port) {
                return false;
            }
        }
        if let Some(t) = self.icmp_type {
            if m.icmp.map(|(ty, _)| ty) != Some(t) {
                return false;
            }
        }
        if let Some(c) = self.icmp_code {
            if m.icmp.map(|(_, co)| co) != Some(c) {
                return false;
            }
        }
        true
    }
}

impl Conditions {
    /// `Some(app)` (the matching application, `None` inside when the term names none) when
    /// the packet matches.
    pub fn matches<'a>(&'a self, m: &MatchInput) -> Option<Option<&'a AppRt>> {
        if !self.src.matches(m.src) || !self.dst.matches(m.dst) {
            return None;
        }
        if self.apps.is_empty() {
            return Some(None);
        }
        self.apps.iter().find(|a| a.matches(m)).map(Some)
    }
}

impl RuleRt {
    pub fn applies(&self, dir: MatchDirection) -> bool {
        self.direction == MatchDirection::InputOutput || self.direction == dir
    }
}

/// The compiled policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub interfaces: Vec<IfaceRt>,
    pub service_ifaces: Vec<ServiceIfaceRt>,
    pub service_sets: Vec<ServiceSetRt>,
    pub routes: RouteTable,
    pub nat: NatPolicy,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error(transparent)]
    Nat(#[from] NatPolicyError),
    #[error("too many interfaces or service sets (limit 65535)")]
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
        if interfaces.len() > u16::MAX as usize || c.service_sets.len() > u16::MAX as usize {
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
        let by_name = |n: &str| {
            let (phys, unit) = match n.rsplit_once('.') {
                Some((p, u)) => (p, u.parse().ok()),
                None => (n, None),
            };
            interfaces
                .iter()
                .position(|f| f.name == phys && unit.is_none_or(|u| f.unit == u))
                .map(|i| IfIndex(i as u16))
        };
        let routes = RouteTable::build(&connected, &statics, by_name)?;

        let service_sets = c
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
                            })
                            .collect(),
                    })
                    .collect();
                ServiceSetRt {
                    name: s.name.clone(),
                    service_iface,
                    sfw_rules,
                    max_flows: s.max_flows,
                }
            })
            .collect();
        let nat = NatPolicy::compile(c)?;
        Ok(Policy {
            interfaces,
            service_ifaces,
            service_sets,
            routes,
            nat,
        })
    }

    pub fn interface(&self, i: IfIndex) -> Option<&IfaceRt> {
        self.interfaces.get(i.0 as usize)
    }

    /// The interface named `ge-0/0/0` (first unit) or `ge-0/0/0.N`.
    pub fn interface_by_name(&self, n: &str) -> Option<IfIndex> {
        let (phys, unit) = match n.rsplit_once('.') {
            Some((p, u)) => (p, u.parse::<u32>().ok()),
            None => (n, None),
        };
        self.interfaces
            .iter()
            .position(|f| f.name == phys && unit.is_none_or(|u| f.unit == u))
            .map(|i| IfIndex(i as u16))
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
        let cond = |c: &Conditions| {
            let side = |a: &AddrCond| {
                (a.include.len() + a.exclude.len()) * size_of::<Prefix>()
                    + a.ranges.len() * size_of::<(IpAddr, IpAddr)>()
            };
            side(&c.src)
                + side(&c.dst)
                + c.apps
                    .iter()
                    .map(|a| size_of::<AppRt>() + a.name.len())
                    .sum::<usize>()
        };
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

/// Flattens a `from` block: prefix lists into prefixes, application sets into applications.
pub fn compile_conditions(c: &cfg::Config, from: &cfg::MatchConditions) -> Conditions {
    let side = |addrs: &[cfg::AddressMatch], ranges: &[cfg::AddressRange], lists: &[String]| {
        let mut a = AddrCond::default();
        for m in addrs {
            match m {
                cfg::AddressMatch::Prefix {
                    prefix,
                    except: false,
                } => a.include.push(*prefix),
                cfg::AddressMatch::Prefix {
                    prefix,
                    except: true,
                } => a.exclude.push(*prefix),
                cfg::AddressMatch::AnyUnicast { except: false } => a.any_unicast = true,
                cfg::AddressMatch::AnyUnicast { except: true } => {}
            }
        }
        a.ranges.extend(ranges.iter().map(|r| (r.low, r.high)));
        for l in lists {
            if let Some(pl) = c.prefix_list(l) {
                a.include.extend(pl.prefixes.iter().copied());
            }
        }
        a
    };
    let mut apps = Vec::new();
    for name in &from.applications {
        push_application(c, name, &mut apps, 0);
    }
    for name in &from.application_sets {
        push_application(c, name, &mut apps, 0);
    }
    Conditions {
        src: side(
            &from.source_address,
            &from.source_address_range,
            &from.source_prefix_list,
        ),
        dst: side(
            &from.destination_address,
            &from.destination_address_range,
            &from.destination_prefix_list,
        ),
        apps,
    }
}

/// Adds application `name`, or every member of the application set `name` (Junos lets
/// `applications` name a set), recursing through nested sets to a fixed depth.
fn push_application(c: &cfg::Config, name: &str, out: &mut Vec<AppRt>, depth: u8) {
    if depth > 8 {
        return;
    }
    if let Some(a) = c.application(name) {
        out.push(AppRt {
            name: a.name.clone(),
            protocol: a.protocol,
            source_port: a.source_port,
            destination_port: a.destination_port,
            icmp_type: a.icmp_type,
            icmp_code: a.icmp_code,
            alg: a.application_protocol,
            inactivity_timeout: a.inactivity_timeout,
        });
    } else if let Some(set) = c.application_set(name) {
        for n in set.applications.iter().chain(&set.application_sets) {
            push_application(c, n, out, depth + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(src: &str, dst: &str, proto: u8, sp: u16, dp: u16) -> MatchInput {
        MatchInput {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            protocol: proto,
            src_port: sp,
            dst_port: dp,
            icmp: None,
        }
    }

    #[test]
    fn addr_cond_except_and_ranges() {
        let a = AddrCond {
            include: vec!["10.0.0.0/8".parse().unwrap()],
            exclude: vec!["10.1.0.0/16".parse().unwrap()],
            ranges: vec![("192.0.2.10".parse().unwrap(), "192.0.2.20".parse().unwrap())],
            any_unicast: false,
        };
        assert!(a.matches("10.2.3.4".parse().unwrap()));
        assert!(!a.matches("10.1.3.4".parse().unwrap()));
        assert!(a.matches("192.0.2.15".parse().unwrap()));
        assert!(!a.matches("192.0.2.21".parse().unwrap()));
        assert!(AddrCond::default().matches("8.8.8.8".parse().unwrap()));
    }

    #[test]
    fn application_port_match() {
        let ftp = AppRt {
            name: "junos-ftp".into(),
            protocol: Some(6),
            source_port: None,
            destination_port: Some(PortRange::single(21)),
            icmp_type: None,
            icmp_code: None,
            alg: Some(AppProtocol::Ftp),
            inactivity_timeout: None,
        };
        assert!(ftp.matches(&input("10.0.0.2", "1.1.1.1", 6, 40000, 21)));
        assert!(!ftp.matches(&input("10.0.0.2", "1.1.1.1", 17, 40000, 21)));
        assert!(!ftp.matches(&input("10.0.0.2", "1.1.1.1", 6, 40000, 22)));
    }
}
