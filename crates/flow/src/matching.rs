//! Match conditions (the `from` block of firewall and NAT terms) compiled for the first
//! packet of a flow. Firewall and NAT rules match alike, so both use this one module
//! rather than one borrowing the other's.

use std::net::IpAddr;

use mspic_config as cfg;
use mspic_config::{AppProtocol, MatchDirection, PortRange, Prefix, Timeout};

use crate::addr_set::AddrSet;
use mspic_wire::parse::{Parsed, L4};

/// Address conditions of one side as written: any listed prefix or range matches, minus
/// the `except` ones; a side with only `except` entries matches every other address. Empty
/// = any address ("source-prefix-list (Services)": `except` excludes from rule matching).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddrSpec {
    /// Prefixes that match (addresses and prefix lists).
    pub include: Vec<Prefix>,
    /// `except` prefixes (addresses and prefix lists): never match, whatever else says.
    pub exclude: Vec<Prefix>,
    /// Inclusive address ranges that match.
    pub ranges: Vec<(IpAddr, IpAddr)>,
    /// `except` address ranges.
    pub exclude_ranges: Vec<(IpAddr, IpAddr)>,
    /// `any-unicast`: every unicast address matches.
    pub any_unicast: bool,
    /// `any-unicast except`: no unicast address matches.
    pub exclude_unicast: bool,
}

/// One side's address conditions compiled into two address sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddrCond {
    include: AddrSet,
    exclude: AddrSet,
}

impl From<&AddrSpec> for AddrCond {
    fn from(s: &AddrSpec) -> AddrCond {
        AddrCond {
            include: AddrSet::new(&s.include, &s.ranges, s.any_unicast),
            exclude: AddrSet::new(&s.exclude, &s.exclude_ranges, s.exclude_unicast),
        }
    }
}

impl AddrCond {
    /// Whether address `a` satisfies this side's conditions.
    #[inline]
    pub fn matches(&self, a: IpAddr) -> bool {
        !self.exclude.contains(a) && (self.include.is_unwritten() || self.include.contains(a))
    }

    fn approx_bytes(&self) -> usize {
        self.include.approx_bytes() + self.exclude.approx_bytes()
    }
}

/// One application a term can match, flattened from applications and application sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRt {
    /// The application's configured name (shown and counted by name).
    pub name: String,
    /// IP protocol; `None`: any.
    pub protocol: Option<u8>,
    /// Source ports; `None`: any.
    pub source_port: Option<PortRange>,
    /// Destination ports; `None`: any.
    pub destination_port: Option<PortRange>,
    /// ICMP type; `None`: any.
    pub icmp_type: Option<u8>,
    /// ICMP code; `None`: any.
    pub icmp_code: Option<u8>,
    /// The ALG a session of this application is handed to.
    pub alg: Option<AppProtocol>,
    /// Overrides the services interface's inactivity timeout for its sessions.
    pub inactivity_timeout: Option<Timeout>,
    /// Traceroute: initiator packets with a TTL above it are dropped.
    pub ttl_threshold: Option<u8>,
    /// What the application lets its ALG admit (from all its terms).
    pub alg_params: crate::alg::AlgParams,
}

/// The `from` block compiled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// Source address conditions.
    pub src: AddrCond,
    /// Destination address conditions.
    pub dst: AddrCond,
    /// Empty = any application (and no ALG).
    pub apps: Vec<AppRt>,
}

/// What the rules look at in a packet that has no session yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchInput {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IP protocol.
    pub protocol: u8,
    /// Source port (0 when the protocol has none).
    pub src_port: u16,
    /// Destination port (0 when the protocol has none).
    pub dst_port: u16,
    /// ICMP type/code for ICMP packets.
    pub icmp: Option<(u8, u8)>,
}

impl MatchInput {
    /// What the rules see of a first packet.
    pub fn of(p: &Parsed) -> MatchInput {
        let icmp = match p.l4 {
            L4::IcmpQuery {
                icmp_type, code, ..
            }
            | L4::IcmpError {
                icmp_type, code, ..
            }
            | L4::IcmpOther { icmp_type, code } => Some((icmp_type, code)),
            _ => None,
        };
        MatchInput {
            src: p.key.src,
            dst: p.key.dst,
            protocol: p.key.proto,
            src_port: p.key.src_port,
            dst_port: p.key.dst_port,
            icmp,
        }
    }
}

impl AppRt {
    /// Whether the packet is of this application (protocol, ports, ICMP type and code).
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

    /// Memory the compiled conditions take beyond their own struct (prefixes, ranges,
    /// applications and their names), for the service-set summary.
    pub fn approx_bytes(&self) -> usize {
        use std::mem::size_of;
        self.src.approx_bytes()
            + self.dst.approx_bytes()
            + self
                .apps
                .iter()
                .map(|a| size_of::<AppRt>() + a.name.len())
                .sum::<usize>()
    }
}

/// Whether a rule written for `rule` direction runs on traffic seen in direction `dir`
/// (firewall and NAT rules alike).
pub fn direction_applies(rule: MatchDirection, dir: MatchDirection) -> bool {
    rule == MatchDirection::InputOutput || rule == dir
}

/// Flattens a `from` block: prefix lists into prefixes, application sets into applications.
pub fn compile_conditions(c: &cfg::Config, from: &cfg::MatchConditions) -> Conditions {
    let side = |addrs: &[cfg::AddressMatch],
                ranges: &[cfg::AddressRange],
                lists: &[String],
                except_lists: &[String]| {
        let mut a = AddrSpec::default();
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
                cfg::AddressMatch::AnyUnicast { except: true } => a.exclude_unicast = true,
            }
        }
        for r in ranges {
            let v = if r.except {
                &mut a.exclude_ranges
            } else {
                &mut a.ranges
            };
            v.push((r.low, r.high));
        }
        for (names, v) in [(lists, &mut a.include), (except_lists, &mut a.exclude)] {
            for pl in names.iter().filter_map(|l| c.prefix_list(l)) {
                v.extend(pl.prefixes.iter().copied());
            }
        }
        AddrCond::from(&a)
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
            &from.source_prefix_list_except,
        ),
        dst: side(
            &from.destination_address,
            &from.destination_address_range,
            &from.destination_prefix_list,
            &from.destination_prefix_list_except,
        ),
        apps,
    }
}

/// Adds the terms of application `name`, or of every member of the application set `name` (Junos lets
/// `applications` name a set), recursing through nested sets to a fixed depth.
fn push_application(c: &cfg::Config, name: &str, out: &mut Vec<AppRt>, depth: u8) {
    if depth > 8 {
        return;
    }
    if let Some(a) = c.application(name) {
        let alg_params = alg_params(a);
        // One entry per term, in order: the first term that fits decides the ALG and
        // timeout, as the terms of a Junos application do.
        out.extend(a.terms.iter().map(|t| AppRt {
            name: a.name.clone(),
            protocol: t.protocol,
            source_port: t.source_port,
            destination_port: t.destination_port,
            icmp_type: t.icmp_type,
            icmp_code: t.icmp_code,
            alg: t.application_protocol,
            inactivity_timeout: t.inactivity_timeout,
            ttl_threshold: t.ttl_threshold,
            alg_params: alg_params.clone(),
        }));
    } else if let Some(set) = c.application_set(name) {
        for n in set.applications.iter().chain(&set.application_sets) {
            push_application(c, n, out, depth + 1);
        }
    }
}

/// The `rpc-program-number` ranges and `uuid`s of every term of `a` (the config checked
/// the UUIDs' form).
fn alg_params(a: &cfg::Application) -> crate::alg::AlgParams {
    crate::alg::AlgParams {
        rpc_programs: a
            .terms
            .iter()
            .filter_map(|t| t.rpc_program_number)
            .collect(),
        uuids: a
            .terms
            .iter()
            .filter_map(|t| t.uuid.as_deref().and_then(crate::alg::uuid_wire))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
        let a = AddrCond::from(&AddrSpec {
            include: vec!["10.0.0.0/8".parse().unwrap()],
            exclude: vec!["10.1.0.0/16".parse().unwrap()],
            ranges: vec![("192.0.2.10".parse().unwrap(), "192.0.2.20".parse().unwrap())],
            ..AddrSpec::default()
        });
        assert!(a.matches("10.2.3.4".parse().unwrap()));
        assert!(!a.matches("10.1.3.4".parse().unwrap()));
        assert!(a.matches("192.0.2.15".parse().unwrap()));
        assert!(!a.matches("192.0.2.21".parse().unwrap()));
        assert!(AddrCond::default().matches("8.8.8.8".parse().unwrap()));
    }

    /// `except` on every kind of entry: (conditions, address, matches).
    #[test]
    fn except_entries_exclude_and_except_only_sides_match_the_rest() {
        let p = |s: &str| s.parse::<Prefix>().unwrap();
        let a = |s: &str| s.parse::<IpAddr>().unwrap();
        let only_except = AddrCond::from(&AddrSpec {
            exclude: vec![p("10.1.0.0/16")],
            ..AddrSpec::default()
        });
        let range_except = AddrCond::from(&AddrSpec {
            include: vec![p("192.0.2.0/24")],
            exclude_ranges: vec![(a("192.0.2.10"), a("192.0.2.20"))],
            ..AddrSpec::default()
        });
        let not_unicast = AddrCond::from(&AddrSpec {
            exclude_unicast: true,
            ..AddrSpec::default()
        });
        let cases: &[(&AddrCond, &str, bool)] = &[
            (&only_except, "10.1.2.3", false),
            (&only_except, "10.2.2.3", true),
            (&only_except, "2001:db8::1", true),
            (&range_except, "192.0.2.9", true),
            (&range_except, "192.0.2.10", false),
            (&range_except, "192.0.2.20", false),
            (&range_except, "192.0.2.21", true),
            (&range_except, "198.51.100.1", false),
            (&not_unicast, "198.51.100.1", false),
            (&not_unicast, "224.0.0.5", true),
            (&not_unicast, "255.255.255.255", true),
        ];
        for &(c, addr, want) in cases {
            assert_eq!(c.matches(a(addr)), want, "{addr} against {c:?}");
        }
    }

    /// The conditions as written, evaluated entry by entry: what the compiled sets must
    /// agree with.
    fn naive(s: &AddrSpec, a: IpAddr) -> bool {
        let in_range = |&(lo, hi): &(IpAddr, IpAddr)| match (a, lo, hi) {
            (IpAddr::V4(a), IpAddr::V4(l), IpAddr::V4(h)) => l <= a && a <= h,
            (IpAddr::V6(a), IpAddr::V6(l), IpAddr::V6(h)) => l <= a && a <= h,
            _ => false,
        };
        let unicast = crate::addr_set::is_unicast(a);
        if s.exclude.iter().any(|p| p.contains(a))
            || s.exclude_ranges.iter().any(in_range)
            || (s.exclude_unicast && unicast)
        {
            return false;
        }
        let any = s.include.is_empty() && s.ranges.is_empty() && !s.any_unicast;
        any || s.include.iter().any(|p| p.contains(a))
            || s.ranges.iter().any(in_range)
            || (s.any_unicast && unicast)
    }

    fn v4() -> impl Strategy<Value = IpAddr> {
        // A small corner of the space (and the broadcast address) so that entries overlap.
        prop_oneof![
            (0u32..64).prop_map(|x| IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 | x))),
            Just(IpAddr::from(std::net::Ipv4Addr::BROADCAST)),
            Just(IpAddr::from(std::net::Ipv6Addr::LOCALHOST)),
        ]
    }

    fn prefix() -> impl Strategy<Value = Prefix> {
        (v4(), 24u8..=32).prop_map(|(a, l)| Prefix {
            addr: a,
            len: if a.is_ipv6() { 128 } else { l },
        })
    }

    fn spec() -> impl Strategy<Value = AddrSpec> {
        (
            proptest::collection::vec(prefix(), 0..4),
            proptest::collection::vec(prefix(), 0..3),
            proptest::collection::vec((v4(), v4()), 0..3),
            proptest::collection::vec((v4(), v4()), 0..2),
            any::<bool>(),
            proptest::bool::weighted(0.1),
        )
            .prop_map(
                |(include, exclude, ranges, exclude_ranges, any_unicast, exclude_unicast)| {
                    AddrSpec {
                        include,
                        exclude,
                        ranges,
                        exclude_ranges,
                        any_unicast,
                        exclude_unicast,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn compiled_conditions_agree_with_the_written_ones(s in spec(), probes in proptest::collection::vec(v4(), 1..16)) {
            let c = AddrCond::from(&s);
            for a in probes {
                prop_assert_eq!(c.matches(a), naive(&s, a), "{} against {:?}", a, s);
            }
        }
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
            ttl_threshold: None,
            alg_params: Default::default(),
        };
        assert!(ftp.matches(&input("10.0.0.2", "1.1.1.1", 6, 40000, 21)));
        assert!(!ftp.matches(&input("10.0.0.2", "1.1.1.1", 17, 40000, 21)));
        assert!(!ftp.matches(&input("10.0.0.2", "1.1.1.1", 6, 40000, 22)));
    }

    #[test]
    fn uuid_wire_form() {
        // The endpoint mapper's interface as it appears in a tower (C706 Appendix L).
        assert_eq!(
            crate::alg::uuid_wire("e1af8308-5d1f-11c9-91a4-08002b14a0fa"),
            Some([
                0x08, 0x83, 0xaf, 0xe1, 0x1f, 0x5d, 0xc9, 0x11, 0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14,
                0xa0, 0xfa
            ])
        );
        assert_eq!(crate::alg::uuid_wire("e1af8308-5d1f-11c9"), None);
        assert_eq!(
            crate::alg::uuid_wire("x1af8308-5d1f-11c9-91a4-08002b14a0fa"),
            None
        );
    }
}
