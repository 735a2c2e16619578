//! Network address translation with the MS-PIC's semantics: pools, the seven translation
//! types, shard-owned port and address allocation, endpoint-independent mapping and
//! filtering (RFC 4787 §4.1, §5), paired address pooling (RFC 7857 §4 / RFC 6888 REQ-2),
//! and ICMP error translation (RFC 5508 §4).
//!
//! Shard ownership (see [`crate::owner`]): with N shards, shard k allocates only ports with
//! `port % N == k` in NAPT pools and only addresses with `index % N == k` in address-only
//! pools, so a reply to a pool address is steered to the shard that holds its session.
//! Static translations (basic-nat44, dnat-44) are undone before hashing, and rules whose
//! state is per internal host (dynamic-nat44, paired pooling, endpoint-independent
//! mapping) pin that host to one shard; both are facts of [`NatPolicy`], so the owner
//! function and the allocator read the same definitions.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use mspic_config as cfg;
use mspic_config::{MatchDirection, Prefix, TranslationType};
use mspic_wire::{proto, FlowKey};

use crate::policy::{compile_conditions, Conditions, MatchInput};

/// Header rewrite applied to every packet of one flow: new source and/or destination
/// address and port (ICMP query id for ICMP).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rewrite {
    pub src: Option<(IpAddr, u16)>,
    pub dst: Option<(IpAddr, u16)>,
}

impl Rewrite {
    pub fn is_none(&self) -> bool {
        self.src.is_none() && self.dst.is_none()
    }
}

/// What a session holds of a pool, so it can be given back when the session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocation {
    pub pool: u16,
    pub addr: u32,
    /// Allocated port (NAPT); `None` for address-only pools.
    pub port: Option<u16>,
    pub proto_class: u8,
    /// Port class (range × parity) the port came from.
    pub port_class: u8,
    /// The internal endpoint (EIM mapping / address pairing key).
    pub internal: IpAddr,
    pub internal_port: u16,
    /// Held through an endpoint-independent mapping (refcounted there).
    pub eim: bool,
}

/// A session's translation: per-flow rewrites (`[I, O]`, read on every packet, so first)
/// and what `extensive` shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct SessionNat {
    pub rewrite: [Rewrite; 2],
    pub kind: Option<TranslationType>,
    pub alloc: Option<Allocation>,
    /// Source pool index (for `show services nat pool` and the extensive view).
    pub pool: Option<u16>,
}

// ---------------------------------------------------------------------------------------
// Compiled policy

/// A pool with its member addresses expanded (in configuration order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolRt {
    pub name: String,
    pub addrs: Vec<Ipv4Addr>,
    /// Configured prefixes/ranges for display (`a-b`).
    pub ranges: Vec<(Ipv4Addr, Ipv4Addr)>,
    /// `None`: address-only pool.
    pub ports: Option<(u16, u16)>,
    pub random: bool,
    pub preserve_parity: bool,
    pub preserve_range: bool,
    pub round_robin: bool,
    /// Seconds an endpoint-independent mapping outlives its last session.
    pub mapping_timeout: u32,
    /// Service sets and translation types that use the pool (display).
    pub users: Vec<(u16, TranslationType)>,
}

/// How one NAT term translates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translate {
    pub kind: TranslationType,
    pub src_pool: Option<u16>,
    pub dst_pool: Option<u16>,
    pub src_prefix: Option<Prefix>,
    pub dst_prefix: Option<Prefix>,
    /// Internal prefix of a static source mapping (the term's source-address).
    pub static_src_from: Option<Prefix>,
    /// Public prefix of a static destination mapping (the term's destination-address).
    pub static_dst_from: Option<Prefix>,
    pub eim: bool,
    pub eif: bool,
    pub paired: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NatAction {
    NoTranslation,
    Translate(Translate),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatTermRt {
    pub name: String,
    pub cond: Conditions,
    pub action: NatAction,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatRuleRt {
    pub name: String,
    pub direction: MatchDirection,
    pub terms: Vec<NatTermRt>,
}

/// A static 1:1 prefix mapping: `from` addresses map to `to` addresses by offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticMap {
    pub from: Prefix,
    pub to: Vec<Ipv4Addr>,
}

impl StaticMap {
    /// `from` address → mapped address.
    pub fn forward(&self, a: Ipv4Addr) -> Option<Ipv4Addr> {
        let net = match self.from.network().addr {
            IpAddr::V4(n) => u32::from(n),
            IpAddr::V6(_) => return None,
        };
        if !self.from.contains(IpAddr::V4(a)) {
            return None;
        }
        self.to.get((u32::from(a) - net) as usize).copied()
    }

    /// Mapped address → `from` address.
    pub fn backward(&self, a: Ipv4Addr) -> Option<Ipv4Addr> {
        let net = match self.from.network().addr {
            IpAddr::V4(n) => u32::from(n),
            IpAddr::V6(_) => return None,
        };
        let i = self.to.iter().position(|&x| x == a)?;
        net.checked_add(i as u32).map(Ipv4Addr::from)
    }
}

/// Compiled NAT: pools, rules per service set, and the facts the owner function needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatPolicy {
    pub pools: Vec<PoolRt>,
    /// Rules per service set (index as in `Policy::service_sets`), rule-sets expanded.
    pub rules: Vec<Vec<NatRuleRt>>,
    /// Pool address → (pool, index in the pool) for the pools source NAT allocates from.
    pub pool_addrs: HashMap<Ipv4Addr, (u16, u32)>,
    /// Static source mappings (basic-nat44): internal ↔ pool.
    pub static_src: Vec<StaticMap>,
    /// Static destination mappings (dnat-44): public ↔ internal.
    pub static_dst: Vec<StaticMap>,
    /// Internal prefixes whose hosts are pinned to one shard (per-host NAT state).
    pub pinned: Vec<Prefix>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NatPolicyError {
    #[error("NAT pool {0}: {1}")]
    Pool(String, String),
    #[error("NAT rule {rule} term {term}: {msg}")]
    Term {
        rule: String,
        term: String,
        msg: String,
    },
}

/// Largest pool accepted (a /16): larger ones cost too much memory, as on the MS-MPC.
const MAX_POOL_ADDRS: usize = 1 << 16;
const DEFAULT_MAPPING_TIMEOUT: u32 = 300;

fn v4(a: IpAddr) -> Option<Ipv4Addr> {
    match a {
        IpAddr::V4(v) => Some(v),
        IpAddr::V6(_) => None,
    }
}

/// Addresses the MS-PIC refuses as pool members.
fn bad_member(a: Ipv4Addr) -> Option<&'static str> {
    if a.is_unspecified() {
        Some("0.0.0.0 cannot be a pool address")
    } else if a.is_loopback() {
        Some("loopback (127/8) addresses cannot be pool addresses")
    } else if a.is_multicast() {
        Some("multicast (224/4) addresses cannot be pool addresses")
    } else if a.is_broadcast() {
        Some("the broadcast address cannot be a pool address")
    } else if a.octets()[0] >= 240 {
        Some("class E (240/4) addresses cannot be pool addresses")
    } else {
        None
    }
}

fn first_prefix(m: &[cfg::AddressMatch]) -> Option<Prefix> {
    m.iter().find_map(|a| match a {
        cfg::AddressMatch::Prefix {
            prefix,
            except: false,
        } => Some(*prefix),
        _ => None,
    })
}

impl NatPolicy {
    pub fn compile(c: &cfg::Config) -> Result<Self, NatPolicyError> {
        let mut pools = Vec::new();
        for p in &c.nat_pools {
            let perr = |m: String| NatPolicyError::Pool(p.name.clone(), m);
            let mut addrs = Vec::new();
            let mut ranges = Vec::new();
            for pre in &p.addresses {
                let net = pre.network();
                let Some(base) = v4(net.addr) else {
                    return Err(perr("only IPv4 pools are supported".into()));
                };
                let size = 1u64 << (32 - u32::from(pre.len));
                if size as usize > MAX_POOL_ADDRS || addrs.len() + size as usize > MAX_POOL_ADDRS {
                    return Err(perr(format!(
                        "{pre} is too large (at most 65536 addresses per pool)"
                    )));
                }
                let lo = u32::from(base);
                let hi = lo + (size - 1) as u32;
                ranges.push((Ipv4Addr::from(lo), Ipv4Addr::from(hi)));
                addrs.extend((lo..=hi).map(Ipv4Addr::from));
            }
            for &(lo, hi) in &p.address_ranges {
                let (l, h) = (u32::from(lo), u32::from(hi));
                if l > h {
                    return Err(perr(format!("address-range low {lo} is above high {hi}")));
                }
                if addrs.len() + (h - l) as usize + 1 > MAX_POOL_ADDRS {
                    return Err(perr("too many addresses (at most 65536 per pool)".into()));
                }
                ranges.push((lo, hi));
                addrs.extend((l..=h).map(Ipv4Addr::from));
            }
            for &a in &addrs {
                // A /31 or larger prefix carries its network and broadcast addresses as
                // members, as Junos pools do; the addresses themselves must be usable.
                if let Some(m) = bad_member(a) {
                    return Err(perr(format!("{a}: {m}")));
                }
            }
            let ports = p.port.map(|pp| {
                let r = pp.range();
                (r.low, r.high)
            });
            pools.push(PoolRt {
                name: p.name.clone(),
                addrs,
                ranges,
                ports,
                random: p.port.is_some_and(|pp| pp.random()),
                preserve_parity: p.preserve_parity,
                preserve_range: p.preserve_range,
                round_robin: p.address_allocation_round_robin,
                mapping_timeout: p.mapping_timeout.unwrap_or(DEFAULT_MAPPING_TIMEOUT),
                users: Vec::new(),
            });
        }
        let pool_names: Vec<String> = pools.iter().map(|p: &PoolRt| p.name.clone()).collect();
        let pool_idx = |n: &str| pool_names.iter().position(|p| p == n).map(|i| i as u16);
        let mut policy = NatPolicy::default();
        for (si, ss) in c.service_sets.iter().enumerate() {
            let mut names: Vec<&str> = ss.nat_rules.iter().map(String::as_str).collect();
            for rs in &ss.nat_rule_sets {
                if let Some(set) = c.nat_rule_set(rs) {
                    names.extend(set.rules.iter().map(String::as_str));
                }
            }
            // Connected subnets of interfaces that send this set input traffic: the
            // "inside" when a term does not name its sources.
            let inside: Vec<Prefix> = c
                .interfaces
                .iter()
                .flat_map(|i| &i.units)
                .filter_map(|u| u.inet.as_ref())
                .filter(|f| f.input_service_set.as_deref() == Some(ss.name.as_str()))
                .flat_map(|f| f.addresses.iter().map(|p| p.network()))
                .collect();
            let mut rules = Vec::new();
            for name in names {
                let Some(r) = c.nat_rule(name) else { continue };
                let mut terms = Vec::new();
                for t in &r.terms {
                    let terr = |msg: String| NatPolicyError::Term {
                        rule: r.name.clone(),
                        term: t.name.clone(),
                        msg,
                    };
                    let action = match &t.then {
                        cfg::NatThen::NoTranslation => NatAction::NoTranslation,
                        cfg::NatThen::Translated(tr) => {
                            let src_pool = match &tr.source_pool {
                                Some(n) => {
                                    Some(pool_idx(n).ok_or_else(|| terr(format!("no pool {n}")))?)
                                }
                                None => None,
                            };
                            let dst_pool = match &tr.destination_pool {
                                Some(n) => {
                                    Some(pool_idx(n).ok_or_else(|| terr(format!("no pool {n}")))?)
                                }
                                None => None,
                            };
                            use TranslationType as T;
                            let kind = tr.translation_type;
                            let src_from = first_prefix(&t.from.source_address);
                            let dst_from = first_prefix(&t.from.destination_address);
                            let needs_static_src =
                                matches!(kind, T::BasicNat44 | T::TwiceBasicNat44);
                            let needs_static_dst = matches!(
                                kind,
                                T::Dnat44
                                    | T::TwiceBasicNat44
                                    | T::TwiceNapt44
                                    | T::TwiceDynamicNat44
                            );
                            if needs_static_src {
                                let from = src_from.ok_or_else(|| {
                                    terr(format!(
                                        "{} needs a source-address prefix to map from",
                                        kind.keyword()
                                    ))
                                })?;
                                let to = match (src_pool, tr.source_prefix) {
                                    (Some(p), _) => pools[p as usize].addrs.clone(),
                                    (None, Some(pre)) => expand(pre),
                                    (None, None) => {
                                        return Err(terr("no source-pool or source-prefix".into()))
                                    }
                                };
                                let n = 1u64 << (32 - u32::from(from.len.min(32)));
                                if (to.len() as u64) < n {
                                    return Err(terr(format!(
                                        "{from} has {n} addresses but the translated range only {}",
                                        to.len()
                                    )));
                                }
                                policy.static_src.push(StaticMap { from, to });
                            }
                            if needs_static_dst {
                                let from = dst_from.ok_or_else(|| {
                                    terr(format!(
                                        "{} needs a destination-address prefix to map from",
                                        kind.keyword()
                                    ))
                                })?;
                                let to = match (dst_pool, tr.destination_prefix) {
                                    (Some(p), _) => pools[p as usize].addrs.clone(),
                                    (None, Some(pre)) => expand(pre),
                                    (None, None) => {
                                        return Err(terr(
                                            "no destination-pool or destination-prefix".into(),
                                        ))
                                    }
                                };
                                let n = 1u64 << (32 - u32::from(from.len.min(32)));
                                let to: Vec<Ipv4Addr> = to.into_iter().take(n as usize).collect();
                                policy.static_dst.push(StaticMap { from, to });
                            }
                            let dynamic_src = matches!(
                                kind,
                                T::Napt44 | T::DynamicNat44 | T::TwiceNapt44 | T::TwiceDynamicNat44
                            );
                            if dynamic_src {
                                let Some(p) = src_pool else {
                                    return Err(terr(format!(
                                        "{} needs a source-pool",
                                        kind.keyword()
                                    )));
                                };
                                let has_ports = pools[p as usize].ports.is_some();
                                let wants_ports = matches!(kind, T::Napt44 | T::TwiceNapt44);
                                if wants_ports && !has_ports {
                                    return Err(terr(format!(
                                        "{} needs a pool with a port statement",
                                        kind.keyword()
                                    )));
                                }
                                if !wants_ports && has_ports {
                                    return Err(terr(format!(
                                        "{} needs an address-only pool (no port statement)",
                                        kind.keyword()
                                    )));
                                }
                                for (i, &a) in pools[p as usize].addrs.iter().enumerate() {
                                    policy.pool_addrs.entry(a).or_insert((p, i as u32));
                                }
                                let per_host = !wants_ports
                                    || tr.address_pooling_paired
                                    || tr.mapping_type_eim;
                                if per_host {
                                    match src_from {
                                        Some(pre) => policy.pinned.push(pre.network()),
                                        None => policy.pinned.extend(inside.iter().copied()),
                                    }
                                }
                            }
                            for p in [src_pool, dst_pool].into_iter().flatten() {
                                pools[p as usize].users.push((si as u16, kind));
                            }
                            NatAction::Translate(Translate {
                                kind,
                                src_pool,
                                dst_pool,
                                src_prefix: tr.source_prefix,
                                dst_prefix: tr.destination_prefix,
                                static_src_from: needs_static_src.then_some(src_from).flatten(),
                                static_dst_from: needs_static_dst.then_some(dst_from).flatten(),
                                eim: tr.mapping_type_eim,
                                eif: tr.filtering_type_eif,
                                paired: tr.address_pooling_paired,
                            })
                        }
                    };
                    terms.push(NatTermRt {
                        name: t.name.clone(),
                        cond: compile_conditions(c, &t.from),
                        action,
                    });
                }
                rules.push(NatRuleRt {
                    name: r.name.clone(),
                    direction: r.match_direction,
                    terms,
                });
            }
            policy.rules.push(rules);
        }
        policy.pools = pools;
        Ok(policy)
    }

    /// The first NAT term of service set `set` that matches, in direction `dir`.
    pub fn lookup(&self, set: u16, dir: MatchDirection, m: &MatchInput) -> Option<&NatAction> {
        self.rules
            .get(set as usize)?
            .iter()
            .filter(|r| r.direction == MatchDirection::InputOutput || r.direction == dir)
            .flat_map(|r| &r.terms)
            .find(|t| t.cond.matches(m).is_some())
            .map(|t| &t.action)
    }

    /// Pool and index of a source-NAT pool address.
    pub fn pool_addr(&self, a: IpAddr) -> Option<(u16, u32)> {
        v4(a).and_then(|a| self.pool_addrs.get(&a).copied())
    }

    /// The shard owning a packet to a pool address (see [`crate::owner::owner`]): NAPT by
    /// port (query id for ICMP), address-only pools and port-less protocols by address.
    pub fn pool_owner(&self, k: &FlowKey, shards: u32) -> Option<u32> {
        let (pool, idx) = self.pool_addr(k.dst)?;
        let napt = self.pools.get(pool as usize)?.ports.is_some();
        Some(if napt && has_ports(k.proto) {
            u32::from(k.dst_port) % shards
        } else {
            idx % shards
        })
    }

    /// Undoes static mappings so both sides of a statically translated session hash alike:
    /// basic-nat44 pool addresses become the internal address, dnat-44 internal addresses
    /// become the public one.
    pub fn normalize(&self, a: IpAddr) -> IpAddr {
        let Some(v) = v4(a) else { return a };
        for m in &self.static_src {
            if let Some(i) = m.backward(v) {
                return IpAddr::V4(i);
            }
        }
        for m in &self.static_dst {
            if let Some(p) = m.backward(v) {
                return IpAddr::V4(p);
            }
        }
        a
    }

    /// True when `a` is an internal host whose NAT state is per host.
    pub fn is_pinned(&self, a: IpAddr) -> bool {
        self.pinned.iter().any(|p| p.contains(a))
    }
}

fn expand(p: Prefix) -> Vec<Ipv4Addr> {
    match p.network().addr {
        IpAddr::V4(n) => {
            let size = 1u64 << (32 - u32::from(p.len.min(32)));
            let lo = u32::from(n);
            (0..size.min(MAX_POOL_ADDRS as u64))
                .map(|i| Ipv4Addr::from(lo.wrapping_add(i as u32)))
                .collect()
        }
        IpAddr::V6(_) => Vec::new(),
    }
}

/// Protocols whose key carries ports (or an ICMP query id) that NAPT can translate.
pub fn has_ports(p: u8) -> bool {
    proto::has_ports(p) || p == proto::ICMP
}

fn proto_class(p: u8) -> u8 {
    match p {
        proto::TCP => 0,
        proto::UDP => 1,
        proto::ICMP => 2,
        _ => 3,
    }
}

// ---------------------------------------------------------------------------------------
// Per-shard allocation state

/// Small deterministic generator for `random-allocation` (sans-IO: no OS randomness).
#[derive(Debug, Clone)]
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The ports of one (address, protocol, range class, parity class) that this shard owns:
/// `lo..=hi` stepping so that `port % shards == shard` (and the parity holds). Fresh ports
/// are handed out in order, released ones from a free list: O(1) both ways.
#[derive(Debug, Clone)]
struct PortSet {
    next: u32,
    hi: u32,
    step: u32,
    free: Vec<u16>,
    random: bool,
    shuffled: bool,
}

impl PortSet {
    fn new(lo: u16, hi: u16, shard: u32, shards: u32, parity: Option<u16>, random: bool) -> Self {
        let step = if parity.is_some() && shards % 2 == 1 {
            shards * 2
        } else {
            shards
        };
        let mut first = u32::from(lo);
        let ok = |x: u32| x % shards == shard && parity.is_none_or(|p| x % 2 == u32::from(p));
        let limit = first + 2 * shards;
        while first <= u32::from(hi) && first < limit && !ok(first) {
            first += 1;
        }
        if !ok(first) {
            first = u32::from(hi) + 1; // no port of this class belongs to this shard
        }
        PortSet {
            next: first,
            hi: u32::from(hi),
            step: step.max(1),
            free: Vec::new(),
            random,
            shuffled: false,
        }
    }

    fn alloc(&mut self, rng: &mut XorShift) -> Option<u16> {
        if self.random && !self.shuffled {
            // random-allocation: take every owned port once, shuffled (Fisher–Yates).
            while self.next <= self.hi {
                self.free.push(self.next as u16);
                self.next += self.step;
            }
            for i in (1..self.free.len()).rev() {
                let j = rng.below(i + 1);
                self.free.swap(i, j);
            }
            self.shuffled = true;
        }
        if self.next <= self.hi {
            let p = self.next as u16;
            self.next += self.step;
            return Some(p);
        }
        self.free.pop()
    }

    fn release(&mut self, p: u16, rng: &mut XorShift) {
        self.free.push(p);
        if self.random {
            let n = self.free.len();
            let j = rng.below(n);
            self.free.swap(n - 1, j);
        }
    }
}

/// One pool address as this shard sees it.
#[derive(Debug, Clone, Default)]
struct AddrState {
    /// Per protocol class: port sets by (low range?, odd?) class.
    ports: [Option<Box<[Option<PortSet>; 4]>>; 4],
    /// Sessions using the address (address-only pools) or ports in use (NAPT).
    users: u32,
}

/// Counters of one pool in one shard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub ports_in_use: u64,
    pub max_ports_in_use: u64,
    pub addrs_in_use: u64,
    pub max_addrs_in_use: u64,
    pub out_of_port_errors: u64,
    pub out_of_address_errors: u64,
    pub parity_port_errors: u64,
    pub preserve_range_errors: u64,
}

#[derive(Debug, Clone, Default)]
struct PoolState {
    addrs: Vec<AddrState>,
    cursor: usize,
    stats: PoolStats,
}

/// An endpoint-independent mapping (RFC 4787 §4.1): internal endpoint → external one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EimMapping {
    /// Service set whose rule made the mapping (EIF sessions belong to it).
    pub set: u16,
    pub pool: u16,
    pub addr: u32,
    pub external: Ipv4Addr,
    pub port: u16,
    /// Port class the port came from (see [`Allocation::port_class`]).
    pub class: u8,
    pub sessions: u32,
    /// When a mapping with no session left disappears (ns).
    pub expires: u64,
    pub eif: bool,
}

/// NAT counters behind `show services nat statistics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatStats {
    pub sessions_translated: u64,
    pub by_type: [u64; 7],
    pub icmp_error_translations: u64,
    pub pool_no_session_drops: u64,
    pub allocation_failures: u64,
    pub eim_mappings_created: u64,
    pub eim_mappings_reused: u64,
    pub eif_sessions_created: u64,
    pub packets_translated: u64,
}

impl NatStats {
    pub fn merge(&mut self, o: &NatStats) {
        self.sessions_translated += o.sessions_translated;
        for (a, b) in self.by_type.iter_mut().zip(o.by_type) {
            *a += b;
        }
        self.icmp_error_translations += o.icmp_error_translations;
        self.pool_no_session_drops += o.pool_no_session_drops;
        self.allocation_failures += o.allocation_failures;
        self.eim_mappings_created += o.eim_mappings_created;
        self.eim_mappings_reused += o.eim_mappings_reused;
        self.eif_sessions_created += o.eif_sessions_created;
        self.packets_translated += o.packets_translated;
    }
}

/// Why a translation could not be set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NatError {
    #[error("pool has no free port")]
    OutOfPorts,
    #[error("pool has no free address")]
    OutOfAddresses,
    #[error("address outside the static mapping")]
    NoStaticMapping,
    #[error("IPv6 is not translated by IPv4 NAT")]
    Family,
}

/// One shard's NAT state: its share of every pool, mappings, counters.
#[derive(Debug, Clone)]
pub struct NatState {
    shard: u32,
    shards: u32,
    pools: Vec<PoolState>,
    /// (protocol, internal address, internal port) → mapping.
    eim: HashMap<(u8, IpAddr, u16), EimMapping>,
    /// (protocol, external address, external port) → internal endpoint, for EIF.
    eif: HashMap<(u8, Ipv4Addr, u16), (IpAddr, u16)>,
    /// Internal address → (pool, address index, sessions): address-only pools and paired
    /// pooling.
    host_addr: HashMap<(u16, IpAddr), (u32, u32)>,
    rng: XorShift,
    pub stats: NatStats,
}

impl NatState {
    pub fn new(p: &NatPolicy, shard: u32, shards: u32) -> Self {
        NatState {
            shard,
            shards: shards.max(1),
            pools: p
                .pools
                .iter()
                .map(|pool| PoolState {
                    addrs: vec![AddrState::default(); pool.addrs.len()],
                    cursor: 0,
                    stats: PoolStats::default(),
                })
                .collect(),
            eim: HashMap::new(),
            eif: HashMap::new(),
            host_addr: HashMap::new(),
            rng: XorShift(0x9E37_79B9_7F4A_7C15 ^ (u64::from(shard) << 32 | 1)),
            stats: NatStats::default(),
        }
    }

    pub fn pool_stats(&self, pool: usize) -> Option<&PoolStats> {
        self.pools.get(pool).map(|p| &p.stats)
    }

    pub fn eim_mappings(&self) -> impl Iterator<Item = (&(u8, IpAddr, u16), &EimMapping)> {
        self.eim.iter()
    }

    pub fn eif_filters(&self) -> usize {
        self.eim.values().filter(|m| m.eif).count()
    }

    pub fn address_mappings(&self) -> usize {
        self.host_addr.len()
    }

    /// Sets up the translation of a new session whose first packet has key `k`.
    pub fn translate(
        &mut self,
        p: &NatPolicy,
        set: u16,
        t: &Translate,
        k: &FlowKey,
        now_ns: u64,
    ) -> Result<SessionNat, NatError> {
        let mut nat = SessionNat {
            kind: Some(t.kind),
            pool: t.src_pool,
            ..SessionNat::default()
        };
        if !k.is_v4() {
            return Err(NatError::Family);
        }
        let mut src = (k.src, k.src_port);
        let mut dst = (k.dst, k.dst_port);
        use TranslationType as T;
        match t.kind {
            T::BasicNat44 | T::TwiceBasicNat44 => {
                let m = p
                    .static_src
                    .iter()
                    .find(|m| Some(m.from) == t.static_src_from)
                    .ok_or(NatError::NoStaticMapping)?;
                let a = m
                    .forward(v4(k.src).ok_or(NatError::Family)?)
                    .ok_or(NatError::NoStaticMapping)?;
                src.0 = IpAddr::V4(a);
            }
            T::Napt44 | T::TwiceNapt44 => {
                let pool = t.src_pool.ok_or(NatError::OutOfPorts)?;
                let a = self.alloc_napt(p, set, pool, t, k, now_ns)?;
                src = (
                    IpAddr::V4(p.pools[pool as usize].addrs[a.addr as usize]),
                    a.port.unwrap_or(k.src_port),
                );
                nat.alloc = Some(a);
            }
            T::DynamicNat44 | T::TwiceDynamicNat44 => {
                let pool = t.src_pool.ok_or(NatError::OutOfAddresses)?;
                let a = self.alloc_host_addr(pool, k.src, p, None)?;
                src.0 = IpAddr::V4(p.pools[pool as usize].addrs[a as usize]);
                nat.alloc = Some(Allocation {
                    pool,
                    addr: a,
                    port: None,
                    proto_class: proto_class(k.proto),
                    port_class: 0,
                    internal: k.src,
                    internal_port: k.src_port,
                    eim: false,
                });
            }
            T::Dnat44 => {}
        }
        if matches!(
            t.kind,
            T::Dnat44 | T::TwiceNapt44 | T::TwiceBasicNat44 | T::TwiceDynamicNat44
        ) {
            let m = p
                .static_dst
                .iter()
                .find(|m| Some(m.from) == t.static_dst_from)
                .ok_or(NatError::NoStaticMapping)?;
            let a = m
                .forward(v4(k.dst).ok_or(NatError::Family)?)
                .ok_or(NatError::NoStaticMapping)?;
            dst.0 = IpAddr::V4(a);
        }
        if src != (k.src, k.src_port) {
            nat.rewrite[0].src = Some(src);
            // Replies arrive addressed to the translated source: restore the original.
            nat.rewrite[1].dst = Some((k.src, k.src_port));
        }
        if dst != (k.dst, k.dst_port) {
            nat.rewrite[0].dst = Some(dst);
            nat.rewrite[1].src = Some((k.dst, k.dst_port));
        }
        self.stats.sessions_translated += 1;
        self.stats.by_type[TranslationType::ALL
            .iter()
            .position(|&x| x == t.kind)
            .unwrap_or(0)] += 1;
        Ok(nat)
    }

    /// The arrival key of the O flow of a session with first key `k` and translation `nat`.
    pub fn reply_key(k: &FlowKey, nat: &SessionNat) -> FlowKey {
        let rw = nat.rewrite[0];
        let (s, sp) = rw.src.unwrap_or((k.src, k.src_port));
        let (d, dp) = rw.dst.unwrap_or((k.dst, k.dst_port));
        FlowKey {
            src: s,
            dst: d,
            src_port: sp,
            dst_port: dp,
            proto: k.proto,
        }
        .reversed()
    }

    /// NAPT: reuse the endpoint's EIM mapping, else a port on the paired address or the
    /// next address in allocation order.
    fn alloc_napt(
        &mut self,
        p: &NatPolicy,
        set: u16,
        pool: u16,
        t: &Translate,
        k: &FlowKey,
        now_ns: u64,
    ) -> Result<Allocation, NatError> {
        let pc = proto_class(k.proto);
        if t.eim {
            if let Some(m) = self.eim.get_mut(&(k.proto, k.src, k.src_port)) {
                m.sessions += 1;
                m.eif |= t.eif;
                self.stats.eim_mappings_reused += 1;
                return Ok(Allocation {
                    pool: m.pool,
                    addr: m.addr,
                    port: Some(m.port),
                    proto_class: pc,
                    port_class: m.class,
                    internal: k.src,
                    internal_port: k.src_port,
                    eim: true,
                });
            }
        }
        let prt = &p.pools[pool as usize];
        let (lo, hi) = prt.ports.ok_or(NatError::OutOfPorts)?;
        let n_addr = prt.addrs.len();
        if n_addr == 0 {
            return Err(NatError::OutOfAddresses);
        }
        // Port-less protocols keep their 3-tuple: they take an address this shard owns.
        if !has_ports(k.proto) {
            let a = self.alloc_host_addr(pool, k.src, p, Some(()))?;
            return Ok(Allocation {
                pool,
                addr: a,
                port: None,
                proto_class: pc,
                port_class: 0,
                internal: k.src,
                internal_port: k.src_port,
                eim: false,
            });
        }
        let low_class = prt.preserve_range && k.src_port < 1024;
        let mut parity = prt.preserve_parity.then_some(k.src_port % 2);
        // With an even number of shards every port this shard owns has the parity
        // `shard % 2`: the other parity cannot be kept here (counted; the port then comes
        // from the one parity class this shard has).
        let (shard, shards) = (self.shard, self.shards);
        if parity.is_some_and(|p| shards % 2 == 0 && u32::from(p) != shard % 2) {
            self.pools[pool as usize].stats.parity_port_errors += 1;
            parity = Some((shard % 2) as u16);
        }
        let (rlo, rhi) = if prt.preserve_range {
            if low_class {
                (lo.clamp(1, 1023), hi.min(1023))
            } else {
                (lo.max(1024), hi)
            }
        } else {
            (lo, hi)
        };
        if rlo > rhi {
            self.pools[pool as usize].stats.preserve_range_errors += 1;
            self.pools[pool as usize].stats.out_of_port_errors += 1;
            return Err(NatError::OutOfPorts);
        }
        // Classes: [high, high-odd, low, low-odd] with parity; without it the even slot.
        let class = usize::from(low_class) * 2 + usize::from(parity == Some(1));
        let paired = if t.paired {
            self.host_addr.get(&(pool, k.src)).map(|&(a, _)| a)
        } else {
            None
        };
        let candidates: Vec<usize> = match paired {
            Some(a) => vec![a as usize],
            None => {
                let st = &self.pools[pool as usize];
                let start = st.cursor % n_addr;
                (0..n_addr).map(|i| (start + i) % n_addr).collect()
            }
        };
        let random = prt.random;
        for ai in candidates {
            let rng = &mut self.rng;
            let st = &mut self.pools[pool as usize];
            let addr = &mut st.addrs[ai];
            let sets =
                addr.ports[pc as usize].get_or_insert_with(|| Box::new([None, None, None, None]));
            let ps = sets[class]
                .get_or_insert_with(|| PortSet::new(rlo, rhi, shard, shards, parity, random));
            if let Some(port) = ps.alloc(rng) {
                addr.users += 1;
                if addr.users == 1 {
                    st.stats.addrs_in_use += 1;
                    st.stats.max_addrs_in_use =
                        st.stats.max_addrs_in_use.max(st.stats.addrs_in_use);
                }
                st.stats.ports_in_use += 1;
                st.stats.max_ports_in_use = st.stats.max_ports_in_use.max(st.stats.ports_in_use);
                st.cursor = if prt.round_robin { ai + 1 } else { ai };
                if t.paired {
                    let e = self
                        .host_addr
                        .entry((pool, k.src))
                        .or_insert((ai as u32, 0));
                    e.1 += 1;
                }
                if t.eim {
                    self.eim.insert(
                        (k.proto, k.src, k.src_port),
                        EimMapping {
                            set,
                            pool,
                            addr: ai as u32,
                            external: prt.addrs[ai],
                            port,
                            class: class as u8,
                            sessions: 1,
                            expires: u64::MAX,
                            eif: t.eif,
                        },
                    );
                    self.eif
                        .insert((k.proto, prt.addrs[ai], port), (k.src, k.src_port));
                    self.stats.eim_mappings_created += 1;
                }
                let _ = now_ns;
                return Ok(Allocation {
                    pool,
                    addr: ai as u32,
                    port: Some(port),
                    proto_class: pc,
                    port_class: class as u8,
                    internal: k.src,
                    internal_port: k.src_port,
                    eim: t.eim,
                });
            }
        }
        let st = &mut self.pools[pool as usize].stats;
        st.out_of_port_errors += 1;
        if parity.is_some() {
            st.parity_port_errors += 1;
        }
        self.stats.allocation_failures += 1;
        Err(NatError::OutOfPorts)
    }

    /// An address this shard owns (`index % shards == shard`) for internal host `host`,
    /// shared by all of the host's sessions. `exclusive_port_less`: a NAPT pool lending a
    /// whole address to a port-less protocol.
    fn alloc_host_addr(
        &mut self,
        pool: u16,
        host: IpAddr,
        p: &NatPolicy,
        exclusive_port_less: Option<()>,
    ) -> Result<u32, NatError> {
        if exclusive_port_less.is_none() {
            if let Some(e) = self.host_addr.get_mut(&(pool, host)) {
                e.1 += 1;
                return Ok(e.0);
            }
        }
        let prt = &p.pools[pool as usize];
        let n = prt.addrs.len();
        let st = &mut self.pools[pool as usize];
        let start = st.cursor;
        for i in 0..n {
            let ai = (start + i) % n;
            if ai as u32 % self.shards != self.shard
                || st.addrs[ai].users > 0 && exclusive_port_less.is_none()
            {
                continue;
            }
            st.addrs[ai].users += 1;
            if st.addrs[ai].users == 1 {
                st.stats.addrs_in_use += 1;
                st.stats.max_addrs_in_use = st.stats.max_addrs_in_use.max(st.stats.addrs_in_use);
            }
            st.cursor = if prt.round_robin { ai + 1 } else { ai };
            if exclusive_port_less.is_none() {
                self.host_addr.insert((pool, host), (ai as u32, 1));
            }
            return Ok(ai as u32);
        }
        st.stats.out_of_address_errors += 1;
        self.stats.allocation_failures += 1;
        Err(NatError::OutOfAddresses)
    }

    /// Reserves a port on pool address `addr` for a child flow an ALG expects towards the
    /// internal endpoint `internal` (FTP PORT, rsh stderr…): from the ports this shard
    /// owns, so the child's packets to it come to this shard. Released like a session's
    /// allocation ([`Self::release_alloc`]).
    pub fn reserve_port(
        &mut self,
        p: &NatPolicy,
        pool: u16,
        addr: u32,
        protocol: u8,
        internal: (IpAddr, u16),
    ) -> Option<Allocation> {
        let prt = p.pools.get(pool as usize)?;
        let (lo, hi) = prt.ports?;
        let pc = proto_class(protocol);
        let (shard, shards) = (self.shard, self.shards);
        // The class the internal port would get in `alloc_napt` (range and parity), so a
        // reserved port keeps the properties peers check (rsh wants 512–1023 with
        // `preserve-range`).
        let low = prt.preserve_range && internal.1 < 1024;
        let mut parity = prt.preserve_parity.then_some(internal.1 % 2);
        if parity.is_some() && shards % 2 == 0 {
            parity = Some((shard % 2) as u16);
        }
        let class = usize::from(low) * 2 + usize::from(parity == Some(1));
        let (rlo, rhi) = match (prt.preserve_range, low) {
            (true, true) => (lo.clamp(1, 1023), hi.min(1023)),
            (true, false) => (lo.max(1024), hi),
            (false, _) => (lo, hi),
        };
        if rlo > rhi {
            self.pools[pool as usize].stats.preserve_range_errors += 1;
            self.stats.allocation_failures += 1;
            return None;
        }
        let random = prt.random;
        let rng = &mut self.rng;
        let st = self.pools.get_mut(pool as usize)?;
        let a = st.addrs.get_mut(addr as usize)?;
        let sets = a.ports[pc as usize].get_or_insert_with(|| Box::new([None, None, None, None]));
        let ps = sets[class]
            .get_or_insert_with(|| PortSet::new(rlo, rhi, shard, shards, parity, random));
        let Some(port) = ps.alloc(rng) else {
            st.stats.out_of_port_errors += 1;
            self.stats.allocation_failures += 1;
            return None;
        };
        a.users += 1;
        if a.users == 1 {
            st.stats.addrs_in_use += 1;
            st.stats.max_addrs_in_use = st.stats.max_addrs_in_use.max(st.stats.addrs_in_use);
        }
        st.stats.ports_in_use += 1;
        st.stats.max_ports_in_use = st.stats.max_ports_in_use.max(st.stats.ports_in_use);
        // Paired pooling counts the host's ports; keep the count balanced for the release.
        if let Some(e) = self.host_addr.get_mut(&(pool, internal.0)) {
            e.1 += 1;
        }
        Some(Allocation {
            pool,
            addr,
            port: Some(port),
            proto_class: pc,
            port_class: class as u8,
            internal: internal.0,
            internal_port: internal.1,
            eim: false,
        })
    }

    /// Gives back an allocation that no session holds (a pinhole's reservation).
    pub fn release_alloc(&mut self, p: &NatPolicy, a: &Allocation) {
        self.free_alloc(p, a);
    }

    /// Gives back what a session held.
    pub fn release(&mut self, p: &NatPolicy, nat: &SessionNat, now_ns: u64) {
        let Some(a) = nat.alloc else { return };
        if a.eim {
            let key = (
                match a.proto_class {
                    0 => proto::TCP,
                    1 => proto::UDP,
                    2 => proto::ICMP,
                    _ => proto::SCTP,
                },
                a.internal,
                a.internal_port,
            );
            if let Some(m) = self.eim.get_mut(&key) {
                m.sessions = m.sessions.saturating_sub(1);
                if m.sessions == 0 {
                    let timeout = p
                        .pools
                        .get(a.pool as usize)
                        .map_or(DEFAULT_MAPPING_TIMEOUT, |x| x.mapping_timeout);
                    m.expires = now_ns.saturating_add(u64::from(timeout) * 1_000_000_000);
                }
                return; // the port stays with the mapping until it expires
            }
        }
        self.free_alloc(p, &a);
    }

    fn free_alloc(&mut self, p: &NatPolicy, a: &Allocation) {
        let Some(prt) = p.pools.get(a.pool as usize) else {
            return;
        };
        let paired_or_dynamic = prt.ports.is_none()
            || a.port.is_some() && self.host_addr.contains_key(&(a.pool, a.internal));
        let st = &mut self.pools[a.pool as usize];
        let Some(addr) = st.addrs.get_mut(a.addr as usize) else {
            return;
        };
        if let Some(port) = a.port {
            let class = usize::from(a.port_class);
            if let Some(set) = addr.ports[a.proto_class as usize]
                .as_mut()
                .and_then(|s| s[class].as_mut())
            {
                set.release(port, &mut self.rng);
            }
            st.stats.ports_in_use = st.stats.ports_in_use.saturating_sub(1);
        }
        addr.users = addr.users.saturating_sub(1);
        if addr.users == 0 {
            st.stats.addrs_in_use = st.stats.addrs_in_use.saturating_sub(1);
        }
        if paired_or_dynamic {
            if let Some(e) = self.host_addr.get_mut(&(a.pool, a.internal)) {
                e.1 = e.1.saturating_sub(1);
                if e.1 == 0 {
                    self.host_addr.remove(&(a.pool, a.internal));
                }
            }
        }
    }

    /// Drops endpoint-independent mappings idle past their mapping timeout.
    pub fn expire_mappings(&mut self, p: &NatPolicy, now_ns: u64) {
        let dead: Vec<((u8, IpAddr, u16), EimMapping)> = self
            .eim
            .iter()
            .filter(|(_, m)| m.sessions == 0 && m.expires <= now_ns)
            .map(|(k, m)| (*k, *m))
            .collect();
        for (k, m) in dead {
            self.eim.remove(&k);
            self.eif.remove(&(k.0, m.external, m.port));
            self.free_alloc(
                p,
                &Allocation {
                    pool: m.pool,
                    addr: m.addr,
                    port: Some(m.port),
                    proto_class: proto_class(k.0),
                    port_class: m.class,
                    internal: k.1,
                    internal_port: k.2,
                    eim: true,
                },
            );
        }
    }

    /// Endpoint-independent filtering (RFC 4787 §5): an inbound packet to a mapped external
    /// endpoint from any host is admitted towards the internal endpoint.
    pub fn eif_lookup(&self, k: &FlowKey) -> Option<(IpAddr, u16, EimMapping)> {
        let ext = v4(k.dst)?;
        let &(ip, port) = self.eif.get(&(k.proto, ext, k.dst_port))?;
        let m = self.eim.get(&(k.proto, ip, port))?;
        m.eif.then_some((ip, port, *m))
    }

    /// Takes a reference on an EIM mapping for a session created by inbound EIF traffic.
    pub fn eif_attach(&mut self, internal: IpAddr, port: u16, proto: u8) -> Option<Allocation> {
        let m = self.eim.get_mut(&(proto, internal, port))?;
        m.sessions += 1;
        self.stats.eif_sessions_created += 1;
        Some(Allocation {
            pool: m.pool,
            addr: m.addr,
            port: Some(m.port),
            proto_class: proto_class(proto),
            port_class: m.class,
            internal,
            internal_port: port,
            eim: true,
        })
    }
}

/// Rewrites an ICMP error that follows a flow with rewrite `rw`: the outer header like the
/// flow's packets, the quoted packet the opposite way (RFC 5508 §4.2). The outer source is
/// rewritten only when the error comes from the peer itself (the quoted packet's
/// destination); errors from routers on the path keep their source.
pub fn translate_icmp_error(frame: &mut [u8], p: &mspic_wire::Parsed, rw: &Rewrite) -> bool {
    use mspic_wire::rewrite;
    if rw.is_none() {
        return false;
    }
    let mspic_wire::L4::IcmpError { inner, .. } = p.l4 else {
        return false;
    };
    let quoted_icmp_query = inner.key.proto == proto::ICMP;
    if let Some((a, port)) = rw.src {
        if p.key.src == inner.key.dst {
            let _ = rewrite::set_src_addr(frame, p, a);
        }
        let _ = rewrite::set_inner_dst_addr(frame, p, a);
        if port != inner.key.dst_port && !quoted_icmp_query {
            let _ = rewrite::set_inner_dst_port(frame, p, port);
        }
    }
    if let Some((a, port)) = rw.dst {
        let _ = rewrite::set_dst_addr(frame, p, a);
        let _ = rewrite::set_inner_src_addr(frame, p, a);
        if port != inner.key.src_port {
            let _ = if quoted_icmp_query {
                rewrite::set_inner_icmp_id(frame, p, port)
            } else {
                rewrite::set_inner_src_port(frame, p, port)
            };
        }
    }
    true
}

/// The `NAT PLugin Data` part of a session snapshot.
pub fn snapshot(
    s: &crate::session::Session,
    p: &NatPolicy,
) -> Option<crate::snapshot::NatSnapshot> {
    use crate::snapshot::{Endpoint, NatSnapshot, NatTranslation};
    let kind = s.nat.kind?;
    // Seen from the initiator's side, as the parent shows it: an ALG child started from
    // the responder's side is described by its second flow.
    let i = usize::from(s.from_responder);
    let k = s.keys[i];
    let ports = has_ports(k.proto) && k.proto != proto::ICMP;
    let ep = |a: IpAddr, port: u16, show: bool| Endpoint {
        addr: a,
        port: show.then_some(port),
    };
    let src_ports = ports && matches!(kind, TranslationType::Napt44 | TranslationType::TwiceNapt44);
    let source = s.nat.rewrite[i].src.map(|(a, port)| NatTranslation {
        original: ep(k.src, k.src_port, src_ports),
        translated: ep(a, port, src_ports),
    });
    let destination = s.nat.rewrite[i].dst.map(|(a, port)| NatTranslation {
        original: ep(k.dst, k.dst_port, false),
        translated: ep(a, port, false),
    });
    Some(NatSnapshot {
        translation_type: kind,
        source,
        destination,
        pool: s
            .nat
            .pool
            .and_then(|i| p.pools.get(i as usize))
            .map(|x| x.name.clone()),
    })
}

/// One endpoint-independent mapping as `show services nat mappings detail` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingSnapshot {
    pub set: u16,
    pub pool: u16,
    pub protocol: u8,
    pub internal: IpAddr,
    pub internal_port: u16,
    pub external: Ipv4Addr,
    pub external_port: u16,
    pub sessions: u32,
    pub eif: bool,
}

/// What a shard reports of its NAT state to the control plane.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatSummary {
    /// Per pool (index as in `NatPolicy::pools`).
    pub pools: Vec<PoolStats>,
    /// Internal hosts holding an address (address-only pools, paired pooling).
    pub address_mappings: u64,
    pub mappings: Vec<MappingSnapshot>,
    pub stats: NatStats,
}

impl NatState {
    /// A copy of the counters and mappings for the control plane.
    pub fn summary(&self) -> NatSummary {
        NatSummary {
            pools: self.pools.iter().map(|p| p.stats.clone()).collect(),
            address_mappings: self.host_addr.len() as u64,
            mappings: self
                .eim
                .iter()
                .map(
                    |(&(protocol, internal, internal_port), m)| MappingSnapshot {
                        set: m.set,
                        pool: m.pool,
                        protocol,
                        internal,
                        internal_port,
                        external: m.external,
                        external_port: m.port,
                        sessions: m.sessions,
                        eif: m.eif,
                    },
                )
                .collect(),
            stats: self.stats.clone(),
        }
    }
}
