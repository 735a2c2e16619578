//! NAT compiled for the packet path: pools with their addresses expanded, rules per
//! service set, static mappings, and the facts the owner function reads.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use mspic_config as cfg;
use mspic_config::deterministic::DetMap;
use mspic_config::{MatchDirection, Prefix, TranslationType};
use mspic_wire::xlat::{Nat64Prefix, WELL_KNOWN_PREFIX};
use mspic_wire::FlowKey;

use super::{napt_translatable, v4};
use crate::matching::{compile_conditions, direction_applies, Conditions, MatchInput};

/// A pool with its member addresses expanded (in configuration order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolRt {
    /// Configured name.
    pub name: String,
    /// Member addresses, in configuration order (allocation order).
    pub addrs: Vec<Ipv4Addr>,
    /// Configured prefixes/ranges for display (`a-b`).
    pub ranges: Vec<(Ipv4Addr, Ipv4Addr)>,
    /// `None`: address-only pool.
    pub ports: Option<(u16, u16)>,
    /// `port random-allocation`: ports are handed out in random order.
    pub random: bool,
    /// `preserve-parity`: a translated port keeps the parity of the original.
    pub preserve_parity: bool,
    /// `preserve-range`: ports below 1024 translate to ports below 1024.
    pub preserve_range: bool,
    /// `address-allocation round-robin`: each allocation starts at the next address.
    pub round_robin: bool,
    /// Seconds an endpoint-independent mapping outlives its last session
    /// (`ei-mapping-timeout`, else `mapping-timeout`).
    pub ei_mapping_timeout: u32,
    /// Seconds a subscriber's paired-pooling address outlives its last session
    /// (`app-mapping-timeout`, else `mapping-timeout`).
    pub app_mapping_timeout: u32,
    /// Service sets and translation types that use the pool (display).
    pub users: Vec<(u16, TranslationType)>,
    /// `secured-port-block-allocation`: ports come in per-subscriber blocks.
    pub pba: Option<cfg::SecuredPortBlock>,
    /// `deterministic-port-block-allocation`: the block size its deterministic term
    /// computed (set when that term is compiled).
    pub det_block: Option<u16>,
    /// Seconds between interim logs of a block in use (0: none): the pool's
    /// `interim-logging-interval`, else the `pba-interim-logging-interval` of the services
    /// interfaces of the sets using it (the shortest).
    pub interim_interval: u32,
}

impl PoolRt {
    /// The block size that decides which shard owns a port: secured or deterministic
    /// port block allocation.
    pub fn block_size(&self) -> Option<u16> {
        self.pba.map(|b| b.block_size).or(self.det_block)
    }

    /// Blocks of `pba` one pool address holds (whole blocks of the port range).
    pub fn blocks_per_address(&self) -> u32 {
        match (self.ports, self.pba) {
            (Some((lo, hi)), Some(b)) => {
                (u32::from(hi) - u32::from(lo) + 1) / u32::from(b.block_size.max(1))
            }
            _ => 0,
        }
    }
}

/// How one NAT term translates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translate {
    /// The translation type.
    pub kind: TranslationType,
    /// Pool source addresses come from.
    pub src_pool: Option<u16>,
    /// Pool destination addresses come from.
    pub dst_pool: Option<u16>,
    /// Prefix source addresses map into (static source translation).
    pub src_prefix: Option<Prefix>,
    /// Prefix destination addresses map into (static destination translation).
    pub dst_prefix: Option<Prefix>,
    /// Internal prefix of a static source mapping (the term's source-address).
    pub static_src_from: Option<Prefix>,
    /// Public prefix of a static destination mapping (the term's destination-address).
    pub static_dst_from: Option<Prefix>,
    /// `mapping-type endpoint-independent` (RFC 4787 §4.1).
    pub eim: bool,
    /// `filtering-type endpoint-independent` (RFC 4787 §5).
    pub eif: bool,
    /// `address-pooling paired`: one external address per internal host.
    pub paired: bool,
    /// `port-forwarding-mappings`: (destined, translated) destination ports; a TCP or UDP
    /// session to a destined port is forwarded to the translated one.
    pub port_map: Box<[(u16, u16)]>,
    /// deterministic-napt44: index in [`NatPolicy::deterministic`].
    pub det: Option<u16>,
    /// stateful-nat64: the prefix IPv4 servers are embedded in (RFC 6052 §2.2; the term's
    /// `destination-prefix`, else the well-known 64:ff9b::/96).
    pub nat64: Option<Nat64Prefix>,
}

impl Translate {
    /// The destination port a new session to `port` gets (forwarded, or kept).
    pub fn forwarded_port(&self, port: u16) -> u16 {
        self.port_map
            .iter()
            .find(|m| m.0 == port)
            .map_or(port, |m| m.1)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// What a matching NAT term does.
pub enum NatAction {
    /// `no-translation`: the session is not translated.
    NoTranslation,
    /// Translate as described.
    Translate(Translate),
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// A NAT term: conditions and what a match does.
pub struct NatTermRt {
    /// Configured name.
    pub name: String,
    /// The `from` block.
    pub cond: Conditions,
    /// The `then` block.
    pub action: NatAction,
    /// `then syslog`.
    pub syslog: bool,
}

impl NatTermRt {
    /// A stateful-nat64 term translates IPv6 only (RFC 6146): IPv4 traffic its
    /// conditions match goes on to the next term.
    fn family_fits(&self, m: &MatchInput) -> bool {
        match &self.action {
            NatAction::Translate(t) if t.nat64.is_some() => m.src.is_ipv6(),
            _ => true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// A NAT rule.
pub struct NatRuleRt {
    /// Configured name.
    pub name: String,
    /// Traffic direction it applies to.
    pub direction: MatchDirection,
    /// Terms, first match wins.
    pub terms: Vec<NatTermRt>,
}

/// A static 1:1 prefix mapping: `from` addresses map to `to` addresses by offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticMap {
    /// The mapped prefix.
    pub from: Prefix,
    /// The addresses it maps to, by offset in `from`.
    pub to: Vec<Ipv4Addr>,
}

impl StaticMap {
    /// How many addresses `from` covers.
    fn size_of_from(&self) -> u64 {
        1u64 << (32 - u32::from(self.from.len.min(32)))
    }

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
    /// Pools (index as in the configuration).
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
    /// deterministic-napt44 terms: (source pool, the mapping of their source range).
    pub deterministic: Vec<(u16, DetMap)>,
    /// The prefixes of stateful-nat64 terms (an ICMP error from an IPv4 router is sent to
    /// the IPv6 side from its address embedded in the session's prefix).
    pub nat64_prefixes: Vec<Nat64Prefix>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
/// Why NAT could not be compiled.
pub enum NatPolicyError {
    #[error("NAT pool {0}: {1}")]
    /// A pool is unusable: its name and why.
    Pool(String, String),
    #[error("NAT rule {rule} term {term}: {msg}")]
    /// A term is unusable.
    Term {
        /// The rule's name.
        rule: String,
        /// The term's name.
        term: String,
        /// Why.
        msg: String,
    },
}

/// Largest pool accepted (a /16): larger ones cost too much memory, as on the MS-MPC.
const MAX_POOL_ADDRS: usize = 1 << 16;
pub(super) const DEFAULT_MAPPING_TIMEOUT: u32 = 300;

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

impl PoolRt {
    /// Expands and checks one configured pool.
    fn compile(p: &cfg::NatPool) -> Result<PoolRt, NatPolicyError> {
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
        Ok(PoolRt {
            name: p.name.clone(),
            addrs,
            ranges,
            ports,
            random: p.port.is_some_and(|pp| pp.random()),
            preserve_parity: p.preserve_parity,
            preserve_range: p.preserve_range,
            round_robin: p.address_allocation_round_robin,
            // Junos: "ei-mapping-timeout" / "app-mapping-timeout (Services NAT)": each
            // replaces `mapping-timeout` for its kind of mapping.
            ei_mapping_timeout: p
                .ei_mapping_timeout
                .or(p.mapping_timeout)
                .unwrap_or(DEFAULT_MAPPING_TIMEOUT),
            app_mapping_timeout: p
                .app_mapping_timeout
                .or(p.mapping_timeout)
                .unwrap_or(DEFAULT_MAPPING_TIMEOUT),
            users: Vec::new(),
            pba: p.port_block.filter(|_| ports.is_some()),
            det_block: None,
            interim_interval: 0,
        })
    }
}

/// The (destined, translated) ports of the term's port-forwarding map, if it names one.
fn port_map(c: &cfg::Config, tr: &cfg::Translated) -> Box<[(u16, u16)]> {
    tr.port_forwarding_mappings
        .as_deref()
        .and_then(|n| c.port_forwarding(n))
        .map(|m| m.mappings.clone().into_boxed_slice())
        .unwrap_or_default()
}

/// The RFC 6052 prefix of a stateful-nat64 term: its `destination-prefix`, else the
/// well-known prefix (RFC 6052 §2.1).
fn nat64_prefix(p: Option<Prefix>) -> Result<Nat64Prefix, String> {
    let Some(p) = p else {
        return Ok(WELL_KNOWN_PREFIX);
    };
    let IpAddr::V6(a) = p.addr else {
        return Err(format!(
            "stateful-nat64 needs an IPv6 destination-prefix, not {p}"
        ));
    };
    Nat64Prefix::new(a, p.len).map_err(|e| format!("destination-prefix {p}: {e}"))
}

/// What compiling one service set's terms needs to know besides the term.
struct SetContext<'a> {
    /// Service set index.
    set: u16,
    /// Connected subnets of interfaces that send this set input traffic: the "inside"
    /// when a term does not name its sources.
    inside: &'a [Prefix],
    /// The configured pools (index as in `NatPolicy::pools`).
    pools: &'a [cfg::NatPool],
}

impl NatPolicy {
    /// Compiles the NAT pools and the NAT rules of every service set of a validated
    /// configuration.
    pub fn compile(c: &cfg::Config) -> Result<Self, NatPolicyError> {
        let mut policy = NatPolicy {
            pools: c
                .nat_pools
                .iter()
                .map(PoolRt::compile)
                .collect::<Result<_, _>>()?,
            ..NatPolicy::default()
        };
        for (si, ss) in c.service_sets.iter().enumerate() {
            let mut names: Vec<&str> = ss.nat_rules.iter().map(String::as_str).collect();
            for rs in &ss.nat_rule_sets {
                if let Some(set) = c.nat_rule_set(rs) {
                    names.extend(set.rules.iter().map(String::as_str));
                }
            }
            let inside: Vec<Prefix> = c
                .interfaces
                .iter()
                .flat_map(|i| &i.units)
                .filter_map(|u| u.inet.as_ref())
                .filter(|f| f.input_service_set.as_deref() == Some(ss.name.as_str()))
                .flat_map(|f| f.addresses.iter().map(|p| p.network()))
                .collect();
            let cx = SetContext {
                set: si as u16,
                inside: &inside,
                pools: &c.nat_pools,
            };
            let mut rules = Vec::new();
            for r in names.into_iter().filter_map(|n| c.nat_rule(n)) {
                let mut terms = Vec::new();
                for t in &r.terms {
                    let action = match &t.then {
                        cfg::NatThen::NoTranslation => NatAction::NoTranslation,
                        cfg::NatThen::Translated(tr) => policy
                            .compile_translate(&cx, t, tr, port_map(c, tr))
                            .map(NatAction::Translate)
                            .map_err(|msg| NatPolicyError::Term {
                                rule: r.name.clone(),
                                term: t.name.clone(),
                                msg,
                            })?,
                    };
                    terms.push(NatTermRt {
                        name: t.name.clone(),
                        cond: compile_conditions(c, &t.from),
                        action,
                        syslog: t.syslog,
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
        Ok(policy)
    }

    /// The pool named `n` (term errors say which is missing).
    fn pool_index(&self, n: &Option<String>) -> Result<Option<u16>, String> {
        n.as_ref()
            .map(|n| {
                self.pools
                    .iter()
                    .position(|p| p.name == *n)
                    .map(|i| i as u16)
                    .ok_or_else(|| format!("no pool {n}"))
            })
            .transpose()
    }

    /// Compiles a translating term, recording its static mappings, the pool addresses
    /// source NAT allocates from and the internal prefixes it pins to one shard.
    fn compile_translate(
        &mut self,
        cx: &SetContext<'_>,
        t: &cfg::NatTerm,
        tr: &cfg::Translated,
        port_map: Box<[(u16, u16)]>,
    ) -> Result<Translate, String> {
        use TranslationType as T;
        let src_pool = self.pool_index(&tr.source_pool)?;
        let dst_pool = self.pool_index(&tr.destination_pool)?;
        let kind = tr.translation_type;
        let src_from = first_prefix(&t.from.source_address);
        let dst_from = first_prefix(&t.from.destination_address);
        let needs_static_src = matches!(kind, T::BasicNat44 | T::TwiceBasicNat44);
        let needs_static_dst = matches!(
            kind,
            T::Dnat44 | T::TwiceBasicNat44 | T::TwiceNapt44 | T::TwiceDynamicNat44
        );
        if needs_static_src {
            let m = self.static_map(kind, "source", src_from, src_pool, tr.source_prefix)?;
            let n = m.size_of_from();
            if (m.to.len() as u64) < n {
                return Err(format!(
                    "{} has {n} addresses but the translated range only {}",
                    m.from,
                    m.to.len()
                ));
            }
            self.static_src.push(m);
        }
        if needs_static_dst {
            let mut m = self.static_map(
                kind,
                "destination",
                dst_from,
                dst_pool,
                tr.destination_prefix,
            )?;
            m.to.truncate(m.size_of_from() as usize);
            // Forwarded ports differ between the two directions, so the tuple hash would
            // send a reply elsewhere: every session with the public address stays on the
            // shard of that address.
            if !port_map.is_empty() {
                self.pinned.push(m.from.network());
            }
            self.static_dst.push(m);
        }
        let dynamic_src = matches!(
            kind,
            T::Napt44
                | T::DynamicNat44
                | T::TwiceNapt44
                | T::TwiceDynamicNat44
                | T::DeterministicNapt44
                | T::StatefulNat64
        );
        if dynamic_src {
            self.dynamic_source(cx, kind, src_pool, src_from, tr)?;
        }
        let det = if kind == T::DeterministicNapt44 {
            Some(self.deterministic_source(
                src_pool,
                src_from,
                src_pool.and_then(|p| cx.pools.get(p as usize)),
            )?)
        } else {
            None
        };
        for p in [src_pool, dst_pool].into_iter().flatten() {
            self.pools[p as usize].users.push((cx.set, kind));
        }
        let nat64 = if kind == T::StatefulNat64 {
            let p = nat64_prefix(tr.destination_prefix)?;
            if !self.nat64_prefixes.contains(&p) {
                self.nat64_prefixes.push(p);
            }
            Some(p)
        } else {
            None
        };
        Ok(Translate {
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
            port_map,
            det,
            nat64,
        })
    }

    /// Records the deterministic mapping of a deterministic-napt44 term from its source
    /// prefix onto its pool (`p`, configured as `pc`); its index.
    fn deterministic_source(
        &mut self,
        pool: Option<u16>,
        from: Option<Prefix>,
        pc: Option<&cfg::NatPool>,
    ) -> Result<u16, String> {
        let (Some(pool), Some(pc)) = (pool, pc) else {
            return Err("deterministic-napt44 needs a source-pool".into());
        };
        let Some(det) = pc.deterministic else {
            return Err("deterministic-napt44 needs deterministic-port-block-allocation".into());
        };
        let from = from.ok_or("deterministic-napt44 needs a source-address prefix")?;
        let prt = &mut self.pools[pool as usize];
        let ports = prt.ports.ok_or("deterministic-napt44 needs a port range")?;
        let m = DetMap::new(
            from,
            det.include_boundary_addresses,
            prt.addrs.len() as u64,
            ports,
            det.block_size,
        )?;
        // The same term in another service set maps the same way.
        if let Some(i) = self.deterministic.iter().position(|x| *x == (pool, m)) {
            return Ok(i as u16);
        }
        // A subscriber has one block: overlapping ranges would give it two owners.
        if let Some((_, o)) = self
            .deterministic
            .iter()
            .find(|(_, o)| o.from.contains(m.from.addr) || m.from.contains(o.from.addr))
        {
            return Err(format!(
                "deterministic-napt44 source range {} overlaps {}",
                m.from, o.from
            ));
        }
        if prt.det_block.replace(m.block_size).is_some() {
            return Err(format!("pool {} maps a second source range", prt.name));
        }
        self.deterministic.push((pool, m));
        Ok((self.deterministic.len() - 1) as u16)
    }

    /// The shard owning a first packet from deterministic subscriber `src`: the owner of
    /// its block (as [`Self::pool_owner`] steers the replies to it).
    pub fn det_owner(&self, src: IpAddr, shards: u32) -> Option<u32> {
        let v = v4(src)?;
        self.deterministic.iter().find_map(|(_, m)| {
            let (_, first) = m.forward(v)?;
            Some(crate::owner::block_owner(
                first,
                m.low,
                m.block_size,
                shards,
            ))
        })
    }

    /// The static mapping of one side (`side`: "source" or "destination") from the term's
    /// first prefix of that side to the pool's addresses or the translated prefix.
    fn static_map(
        &self,
        kind: TranslationType,
        side: &str,
        from: Option<Prefix>,
        pool: Option<u16>,
        prefix: Option<Prefix>,
    ) -> Result<StaticMap, String> {
        let from = from.ok_or_else(|| {
            format!(
                "{} needs a {side}-address prefix to map from",
                kind.keyword()
            )
        })?;
        let to = match (pool, prefix) {
            (Some(p), _) => self.pools[p as usize].addrs.clone(),
            (None, Some(pre)) => expand(pre),
            (None, None) => return Err(format!("no {side}-pool or {side}-prefix")),
        };
        Ok(StaticMap { from, to })
    }

    /// Checks a dynamic source translation's pool, registers its addresses for allocation
    /// and pins the internal hosts whose NAT state is per host.
    fn dynamic_source(
        &mut self,
        cx: &SetContext<'_>,
        kind: TranslationType,
        src_pool: Option<u16>,
        src_from: Option<Prefix>,
        tr: &cfg::Translated,
    ) -> Result<(), String> {
        use TranslationType as T;
        let Some(p) = src_pool else {
            return Err(format!("{} needs a source-pool", kind.keyword()));
        };
        let has_ports = self.pools[p as usize].ports.is_some();
        let wants_ports = matches!(
            kind,
            T::Napt44 | T::TwiceNapt44 | T::DeterministicNapt44 | T::StatefulNat64
        );
        if wants_ports && !has_ports {
            return Err(format!(
                "{} needs a pool with a port statement",
                kind.keyword()
            ));
        }
        if !wants_ports && has_ports {
            return Err(format!(
                "{} needs an address-only pool (no port statement)",
                kind.keyword()
            ));
        }
        for (i, &a) in self.pools[p as usize].addrs.iter().enumerate() {
            self.pool_addrs.entry(a).or_insert((p, i as u32));
        }
        // Port blocks belong to a subscriber (Junos: "a user is uniquely defined by its
        // private IP address"): its sessions stay on the shard holding its blocks.
        let pba = self.pools[p as usize].pba.is_some();
        // Deterministic subscribers go to the owner of their block instead
        // (`det_owner`).
        let det = kind == T::DeterministicNapt44;
        let per_host =
            !det && (!wants_ports || tr.address_pooling_paired || tr.mapping_type_eim || pba);
        if per_host {
            match src_from {
                Some(pre) => self.pinned.push(pre.network()),
                None => self.pinned.extend(cx.inside.iter().copied()),
            }
        }
        Ok(())
    }

    /// The first NAT term of service set `set` that matches, in direction `dir`.
    pub fn lookup(&self, set: u16, dir: MatchDirection, m: &MatchInput) -> Option<&NatAction> {
        self.lookup_term(set, dir, m).map(|(_, _, t)| &t.action)
    }

    /// Like [`Self::lookup`], with the rule and term indices of the matching term.
    pub fn lookup_term(
        &self,
        set: u16,
        dir: MatchDirection,
        m: &MatchInput,
    ) -> Option<(u16, u16, &NatTermRt)> {
        self.rules
            .get(set as usize)?
            .iter()
            .enumerate()
            .filter(|(_, r)| direction_applies(r.direction, dir))
            .flat_map(|(ri, r)| r.terms.iter().enumerate().map(move |(ti, t)| (ri, ti, t)))
            .find(|(_, _, t)| t.cond.matches(m).is_some() && t.family_fits(m))
            .map(|(ri, ti, t)| (ri as u16, ti as u16, t))
    }

    /// The stateful-nat64 prefix that embeds the IPv4 server of IPv6 address `a`.
    pub fn nat64_prefix_of(&self, a: std::net::Ipv6Addr) -> Option<Nat64Prefix> {
        self.nat64_prefixes.iter().copied().find(|p| p.contains(a))
    }

    /// Pool and index of a source-NAT pool address.
    pub fn pool_addr(&self, a: IpAddr) -> Option<(u16, u32)> {
        v4(a).and_then(|a| self.pool_addrs.get(&a).copied())
    }

    /// The shard owning a packet to a pool address (see [`crate::owner::owner`]): NAPT by
    /// port (query id for ICMP) or, under port block allocation, by the port's block;
    /// address-only pools and port-less protocols by address.
    pub fn pool_owner(&self, k: &FlowKey, shards: u32) -> Option<u32> {
        let (pool, idx) = self.pool_addr(k.dst)?;
        let pool = self.pools.get(pool as usize)?;
        Some(match pool.ports {
            Some((low, _)) if napt_translatable(k.proto) => match pool.block_size() {
                Some(b) => crate::owner::block_owner(k.dst_port, low, b, shards),
                None => u32::from(k.dst_port) % shards,
            },
            _ => idx % shards,
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
