//! One shard's NAT allocation state: its share of every pool's addresses and ports, the
//! endpoint-independent mappings and filters, and the per-host address pairing.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use mspic_config::{Prefix, TranslationType};
use mspic_wire::xlat::Nat64Prefix;
use mspic_wire::{proto, FlowKey};

use super::blocks::{BlockError, PortBlocks};
use super::policy::{NatPolicy, PoolRt, StaticMap, Translate, DEFAULT_MAPPING_TIMEOUT};
use super::ports::{PoolState, PortClass, XorShift};
use super::reports::{AddressMappingSnapshot, MappingSnapshot, NatStats, NatSummary, PoolStats};
use super::{napt_translatable, proto_class, v4, Allocation, SessionNat};

impl EimMapping {
    /// The allocation a session holds through this mapping.
    fn allocation(&self, proto_class: u8, internal: IpAddr, internal_port: u16) -> Allocation {
        Allocation {
            pool: self.pool,
            addr: self.addr,
            port: Some(self.port),
            proto_class,
            port_class: self.class,
            internal,
            internal_port,
            eim: true,
        }
    }
}

/// An endpoint-independent mapping (RFC 4787 §4.1): internal endpoint → external one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EimMapping {
    /// Service set whose rule made the mapping (EIF sessions belong to it).
    pub set: u16,
    /// Pool index.
    pub pool: u16,
    /// Address index in the pool.
    pub addr: u32,
    /// External (pool) address.
    pub external: Ipv4Addr,
    /// External port.
    pub port: u16,
    /// Port class the port came from (see [`Allocation::port_class`]).
    pub class: u8,
    /// Sessions using the mapping.
    pub sessions: u32,
    /// When a mapping with no session left disappears (ns).
    pub expires: u64,
    /// Whether inbound traffic from any host is admitted (EIF).
    pub eif: bool,
}

/// An internal host's address in a pool: address-only pools (released with the host's
/// last session) and paired pooling (kept `app-mapping-timeout` after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct HostAddr {
    /// Address index in the pool.
    pub(super) addr: u32,
    /// The address itself.
    pub(super) external: Ipv4Addr,
    /// Service set whose rule made a paired mapping (`None`: an address-only pool's).
    pub(super) paired_set: Option<u16>,
    /// Allocations (sessions, reserved ports) the host holds on it.
    pub(super) sessions: u32,
    /// When an idle paired mapping disappears (ns; `u64::MAX` while in use).
    pub(super) expires: u64,
}

impl HostAddr {
    fn new(addr: u32, external: Ipv4Addr, paired_set: Option<u16>) -> Self {
        HostAddr {
            addr,
            external,
            paired_set,
            sessions: 1,
            expires: u64::MAX,
        }
    }

    /// One more allocation on the address: the mapping is in use again.
    fn take(&mut self) -> u32 {
        self.sessions += 1;
        self.expires = u64::MAX;
        self.addr
    }
}

/// Why a translation could not be set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NatError {
    #[error("pool has no free port")]
    /// Every port this shard owns is taken.
    OutOfPorts,
    #[error("pool has no free address")]
    /// Every address this shard owns is taken.
    OutOfAddresses,
    #[error("address outside the static mapping")]
    /// The address is outside the static mapping's prefix.
    NoStaticMapping,
    #[error("IPv6 is not translated by IPv4 NAT")]
    /// IPv6 packets are not translated.
    Family,
    #[error("protocol not translated by NAT64")]
    /// stateful-nat64 translates TCP, UDP and ICMPv6 echo only (RFC 6146 §1.2).
    Nat64Protocol,
}

/// One shard's NAT state: its share of every pool, mappings, counters.
#[derive(Debug, Clone)]
pub struct NatState {
    pub(super) shard: u32,
    pub(super) shards: u32,
    pub(super) pools: Vec<PoolState>,
    /// (protocol, internal address, internal port) → mapping.
    pub(super) eim: HashMap<(u8, IpAddr, u16), EimMapping>,
    /// (protocol, external address, external port) → internal endpoint, for EIF.
    pub(super) eif: HashMap<(u8, Ipv4Addr, u16), (IpAddr, u16)>,
    /// (pool, internal address) → the host's address: address-only pools and paired
    /// pooling.
    pub(super) host_addr: HashMap<(u16, IpAddr), HostAddr>,
    pub(super) rng: XorShift,
    /// Secured port block allocation: blocks per pool and subscriber.
    pub(super) blocks: PortBlocks,
    /// Counters behind `show services nat statistics`.
    pub stats: NatStats,
}

impl NatState {
    /// The state of shard `shard` of `shards`: nothing allocated yet.
    pub fn new(p: &NatPolicy, shard: u32, shards: u32) -> Self {
        NatState {
            shard,
            shards: shards.max(1),
            pools: p
                .pools
                .iter()
                .map(|pool| PoolState::new(pool.addrs.len()))
                .collect(),
            eim: HashMap::new(),
            eif: HashMap::new(),
            host_addr: HashMap::new(),
            rng: XorShift(0x9E37_79B9_7F4A_7C15 ^ (u64::from(shard) << 32 | 1)),
            blocks: PortBlocks::new(&p.pools, shard, shards.max(1)),
            stats: NatStats::default(),
        }
    }

    /// Sets up the translation of a new session whose first packet has key `k`, at `now`
    /// (ns; port block timeouts).
    pub fn translate(
        &mut self,
        p: &NatPolicy,
        set: u16,
        t: &Translate,
        k: &FlowKey,
        now: u64,
    ) -> Result<SessionNat, NatError> {
        let mut nat = SessionNat {
            kind: Some(t.kind),
            pool: t.src_pool,
            ..SessionNat::default()
        };
        if let Some(prefix) = t.nat64 {
            return self.translate_nat64(p, set, t, prefix, k, now);
        }
        if !k.is_v4() {
            return Err(NatError::Family);
        }
        let mut src = (k.src, k.src_port);
        let mut dst = (k.dst, k.dst_port);
        use TranslationType as T;
        match t.kind {
            T::BasicNat44 | T::TwiceBasicNat44 => {
                src.0 = static_forward(&p.static_src, t.static_src_from, k.src)?;
            }
            T::Napt44 | T::TwiceNapt44 => {
                let pool = t.src_pool.ok_or(NatError::OutOfPorts)?;
                let a = self.alloc_napt(p, set, pool, t, k, now)?;
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
                nat.alloc = Some(address_only(pool, a, k));
            }
            T::DeterministicNapt44 => {
                let pool = t.src_pool.ok_or(NatError::OutOfPorts)?;
                let a = self.alloc_det(p, pool, t, k)?;
                src = (
                    IpAddr::V4(p.pools[pool as usize].addrs[a.addr as usize]),
                    a.port.unwrap_or(k.src_port),
                );
                nat.alloc = Some(a);
            }
            T::Dnat44 => {}
            // Translated above (a stateful-nat64 term always has its prefix).
            T::StatefulNat64 => return Err(NatError::Family),
        }
        if matches!(
            t.kind,
            T::Dnat44 | T::TwiceNapt44 | T::TwiceBasicNat44 | T::TwiceDynamicNat44
        ) {
            dst.0 = static_forward(&p.static_dst, t.static_dst_from, k.dst)?;
            if napt_translatable(k.proto) {
                dst.1 = t.forwarded_port(k.dst_port);
            }
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

    /// Stateful NAT64 (RFC 6146 §3.5): the IPv6 session `k` to an address of `prefix`
    /// leaves from a pool address and port (ICMP identifier) this shard owns, as NAPT-44
    /// allocates it, towards the IPv4 server embedded in its destination (RFC 6052 §2.2).
    fn translate_nat64(
        &mut self,
        p: &NatPolicy,
        set: u16,
        t: &Translate,
        prefix: Nat64Prefix,
        k: &FlowKey,
        now: u64,
    ) -> Result<SessionNat, NatError> {
        let IpAddr::V6(dst6) = k.dst else {
            return Err(NatError::Family);
        };
        let server = prefix.extract(dst6).ok_or(NatError::NoStaticMapping)?;
        let k4 = FlowKey {
            dst: IpAddr::V4(server),
            proto: nat64_protocol(k.proto).ok_or(NatError::Nat64Protocol)?,
            ..*k
        };
        let pool = t.src_pool.ok_or(NatError::OutOfPorts)?;
        let a = self.alloc_napt(p, set, pool, t, &k4, now)?;
        let src = (
            IpAddr::V4(p.pools[pool as usize].addrs[a.addr as usize]),
            a.port.unwrap_or(k.src_port),
        );
        let mut nat = SessionNat {
            kind: Some(t.kind),
            pool: Some(pool),
            alloc: Some(a),
            ..SessionNat::default()
        };
        nat.rewrite[0].src = Some(src);
        nat.rewrite[0].dst = Some((k4.dst, k.dst_port));
        nat.rewrite[1].src = Some((k.dst, k.dst_port));
        nat.rewrite[1].dst = Some((k.src, k.src_port));
        self.stats.sessions_translated += 1;
        if let Some(i) = TranslationType::ALL.iter().position(|&x| x == t.kind) {
            self.stats.by_type[i] += 1;
        }
        Ok(nat)
    }

    /// The arrival key of the O flow of a session with first key `k` and translation `nat`
    /// (for NAT64, the IPv4 protocol: ICMPv6 echo is answered by ICMP echo).
    pub fn reply_key(k: &FlowKey, nat: &SessionNat) -> FlowKey {
        let rw = nat.rewrite[0];
        let (s, sp) = rw.src.unwrap_or((k.src, k.src_port));
        let (d, dp) = rw.dst.unwrap_or((k.dst, k.dst_port));
        let proto = if s.is_ipv4() != k.src.is_ipv4() {
            nat64_protocol(k.proto).unwrap_or(k.proto)
        } else {
            k.proto
        };
        FlowKey {
            src: s,
            dst: d,
            src_port: sp,
            dst_port: dp,
            proto,
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
        now: u64,
    ) -> Result<Allocation, NatError> {
        let pc = proto_class(k.proto);
        if t.eim {
            if let Some(m) = self.eim.get_mut(&(k.proto, k.src, k.src_port)) {
                m.sessions += 1;
                m.eif |= t.eif;
                self.stats.eim_mappings_reused += 1;
                return Ok(m.allocation(pc, k.src, k.src_port));
            }
        }
        let prt = &p.pools[pool as usize];
        let (lo, hi) = prt.ports.ok_or(NatError::OutOfPorts)?;
        let n_addr = prt.addrs.len();
        if n_addr == 0 {
            return Err(NatError::OutOfAddresses);
        }
        // Port-less protocols keep their 3-tuple: they take an address this shard owns.
        if !napt_translatable(k.proto) {
            let a = self.alloc_host_addr(pool, k.src, p, Some(()))?;
            return Ok(address_only(pool, a, k));
        }
        if prt.pba.is_some() {
            let a = self.alloc_block_port(pool, t, k, (now, prt.random))?;
            if t.eim {
                self.new_mapping(set, k, &a, prt.addrs[a.addr as usize], t.eif);
            }
            return Ok(a);
        }
        let (cls, parity_lost) = PortClass::new(prt, lo, hi, k.src_port, self.shard, self.shards);
        // With an even number of shards every port this shard owns has the parity
        // `shard % 2`: the other parity cannot be kept here (counted; the port then comes
        // from the one parity class this shard has).
        if parity_lost {
            self.pools[pool as usize].stats.parity_port_errors += 1;
        }
        if cls.lo > cls.hi {
            self.pools[pool as usize].stats.preserve_range_errors += 1;
            self.pools[pool as usize].stats.out_of_port_errors += 1;
            return Err(NatError::OutOfPorts);
        }
        let paired = if t.paired {
            self.paired_addr(pool, k.src, now)
        } else {
            None
        };
        let candidates: Vec<usize> = match paired {
            Some(a) => vec![a as usize],
            None => {
                let start = self.pools[pool as usize].cursor % n_addr;
                (0..n_addr).map(|i| (start + i) % n_addr).collect()
            }
        };
        for ai in candidates {
            let (shard, shards) = (self.shard, self.shards);
            let st = &mut self.pools[pool as usize];
            let Some(port) = st.take_port(ai, pc, &cls, (shard, shards), prt.random, &mut self.rng)
            else {
                continue;
            };
            st.cursor = if prt.round_robin { ai + 1 } else { ai };
            let a = Allocation {
                pool,
                addr: ai as u32,
                port: Some(port),
                proto_class: pc,
                port_class: cls.class as u8,
                internal: k.src,
                internal_port: k.src_port,
                eim: t.eim,
            };
            if t.paired {
                self.host_addr
                    .entry((pool, k.src))
                    .and_modify(|e| _ = e.take())
                    .or_insert(HostAddr::new(ai as u32, prt.addrs[ai], Some(set)));
            }
            if t.eim {
                self.new_mapping(set, k, &a, prt.addrs[ai], t.eif);
            }
            return Ok(a);
        }
        let st = &mut self.pools[pool as usize].stats;
        st.out_of_port_errors += 1;
        if cls.parity.is_some() {
            st.parity_port_errors += 1;
        }
        self.stats.allocation_failures += 1;
        Err(NatError::OutOfPorts)
    }

    /// deterministic-napt44: a port of the block the subscriber's address maps to
    /// ([`mspic_config::deterministic::DetMap::forward`]); the same on every shard and
    /// after every restart. Port-less protocols take an address as under napt-44.
    fn alloc_det(
        &mut self,
        p: &NatPolicy,
        pool: u16,
        t: &Translate,
        k: &FlowKey,
    ) -> Result<Allocation, NatError> {
        if !napt_translatable(k.proto) {
            let a = self.alloc_host_addr(pool, k.src, p, Some(()))?;
            return Ok(address_only(pool, a, k));
        }
        let (_, m) = t
            .det
            .and_then(|i| p.deterministic.get(usize::from(i)))
            .ok_or(NatError::NoStaticMapping)?;
        let (addr, first) = v4(k.src)
            .and_then(|h| m.forward(h))
            .ok_or(NatError::NoStaticMapping)?;
        let pc = proto_class(k.proto);
        let stats = &mut self.pools[pool as usize].stats;
        let block = (addr, first, m.block_size);
        let Some(port) = self.blocks.fixed_alloc(pool, k.src, block, pc, stats) else {
            stats.out_of_port_errors += 1;
            stats.detnat_subscriber_exceeded_port_limits += 1;
            self.stats.allocation_failures += 1;
            return Err(NatError::OutOfPorts);
        };
        Ok(Allocation {
            pool,
            addr,
            port: Some(port),
            proto_class: pc,
            port_class: 0,
            internal: k.src,
            internal_port: k.src_port,
            eim: false,
        })
    }

    /// A port from the subscriber's port blocks (secured port block allocation).
    fn alloc_block_port(
        &mut self,
        pool: u16,
        t: &Translate,
        k: &FlowKey,
        (now, random): (u64, bool),
    ) -> Result<Allocation, NatError> {
        let pc = proto_class(k.proto);
        let stats = &mut self.pools[pool as usize].stats;
        let rng = random.then_some(&mut self.rng);
        match self.blocks.alloc(pool, k.src, pc, now, rng, stats) {
            Ok((addr, port)) => Ok(Allocation {
                pool,
                addr,
                port: Some(port),
                proto_class: pc,
                port_class: 0,
                internal: k.src,
                internal_port: k.src_port,
                eim: t.eim,
            }),
            // No block left, or the subscriber's limit reached: counted as such by
            // `alloc`, and as an out-of-port error here.
            Err(BlockError::NoBlock | BlockError::Limit) => {
                stats.out_of_port_errors += 1;
                self.stats.allocation_failures += 1;
                Err(NatError::OutOfPorts)
            }
        }
    }

    /// Records the endpoint-independent mapping (and its filter) of a new allocation.
    fn new_mapping(
        &mut self,
        set: u16,
        k: &FlowKey,
        a: &Allocation,
        external: Ipv4Addr,
        eif: bool,
    ) {
        let port = a.port.unwrap_or(k.src_port);
        self.eim.insert(
            (k.proto, k.src, k.src_port),
            EimMapping {
                set,
                pool: a.pool,
                addr: a.addr,
                external,
                port,
                class: a.port_class,
                sessions: 1,
                expires: u64::MAX,
                eif,
            },
        );
        self.eif
            .insert((k.proto, external, port), (k.src, k.src_port));
        self.stats.eim_mappings_created += 1;
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
                return Ok(e.take());
            }
        }
        let prt = &p.pools[pool as usize];
        let n = prt.addrs.len();
        let st = &mut self.pools[pool as usize];
        let start = st.cursor;
        for i in 0..n {
            let ai = (start + i) % n;
            if ai as u32 % self.shards != self.shard
                || st.users(ai) > 0 && exclusive_port_less.is_none()
            {
                continue;
            }
            let Some(addr) = st.addr_mut(ai) else {
                continue;
            };
            addr.users += 1;
            let first = addr.users == 1;
            if first {
                st.stats.addrs_in_use += 1;
                st.stats.max_addrs_in_use = st.stats.max_addrs_in_use.max(st.stats.addrs_in_use);
            }
            st.cursor = if prt.round_robin { ai + 1 } else { ai };
            if exclusive_port_less.is_none() {
                self.host_addr
                    .insert((pool, host), HostAddr::new(ai as u32, prt.addrs[ai], None));
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
        if prt.pba.is_some() || prt.det_block.is_some() {
            return self.reserve_block_port(pool, addr, pc, internal);
        }
        let (shard, shards) = (self.shard, self.shards);
        // The class the internal port would get in `alloc_napt` (range and parity), so a
        // reserved port keeps the properties peers check (rsh wants 512–1023 with
        // `preserve-range`).
        let (cls, _) = PortClass::new(prt, lo, hi, internal.1, shard, shards);
        if cls.lo > cls.hi {
            self.pools[pool as usize].stats.preserve_range_errors += 1;
            self.stats.allocation_failures += 1;
            return None;
        }
        let st = self.pools.get_mut(pool as usize)?;
        if !st.has(addr as usize) {
            return None;
        }
        let random = prt.random;
        let Some(port) = st.take_port(
            addr as usize,
            pc,
            &cls,
            (shard, shards),
            random,
            &mut self.rng,
        ) else {
            st.stats.out_of_port_errors += 1;
            self.stats.allocation_failures += 1;
            return None;
        };
        // Paired pooling counts the host's ports; keep the count balanced for the release.
        if let Some(e) = self.host_addr.get_mut(&(pool, internal.0)) {
            e.take();
        }
        Some(Allocation {
            pool,
            addr,
            port: Some(port),
            proto_class: pc,
            port_class: cls.class as u8,
            internal: internal.0,
            internal_port: internal.1,
            eim: false,
        })
    }

    /// Reserves an even port and the next one on pool address `addr` for the RTP and RTCP
    /// of the internal endpoint `internal` and `internal.1 + 1` (RFC 3550 §11), where the
    /// ports this shard owns allow it (`None`: they do not, or none is free; the caller
    /// reserves two ports with [`Self::reserve_port`]). Each is released on its own.
    pub fn reserve_port_pair(
        &mut self,
        p: &NatPolicy,
        pool: u16,
        addr: u32,
        protocol: u8,
        internal: (IpAddr, u16),
    ) -> Option<(Allocation, Allocation)> {
        let prt = p.pools.get(pool as usize)?;
        let (lo, hi) = prt.ports?;
        let pc = proto_class(protocol);
        let (shard, shards) = (self.shard, self.shards);
        let (cls, _) = PortClass::new(prt, lo, hi, internal.1, shard, shards);
        if cls.lo > cls.hi || prt.preserve_parity || prt.block_size().is_some() {
            return None;
        }
        let st = self.pools.get_mut(pool as usize)?;
        if !st.has(addr as usize) {
            return None;
        }
        let port = st.take_pair(addr as usize, pc, &cls, (shard, shards), prt.random)?;
        if let Some(e) = self.host_addr.get_mut(&(pool, internal.0)) {
            e.take();
            e.take();
        }
        let a = |port: u16, internal_port: u16| Allocation {
            pool,
            addr,
            port: Some(port),
            proto_class: pc,
            port_class: cls.class as u8,
            internal: internal.0,
            internal_port,
            eim: false,
        };
        Some((a(port, internal.1), a(port + 1, internal.1.wrapping_add(1))))
    }

    /// [`Self::reserve_port`] under port block allocation: a port of a block the internal
    /// host holds on address `addr`.
    fn reserve_block_port(
        &mut self,
        pool: u16,
        addr: u32,
        pc: u8,
        internal: (IpAddr, u16),
    ) -> Option<Allocation> {
        let stats = &mut self.pools.get_mut(pool as usize)?.stats;
        let Some(port) = self.blocks.reserve(pool, internal.0, addr, pc, stats) else {
            stats.out_of_port_errors += 1;
            self.stats.allocation_failures += 1;
            return None;
        };
        Some(Allocation {
            pool,
            addr,
            port: Some(port),
            proto_class: pc,
            port_class: 0,
            internal: internal.0,
            internal_port: internal.1,
            eim: false,
        })
    }

    /// Gives back an allocation that no session holds (a pinhole's reservation), at
    /// `now_ns` (paired-pooling timeout).
    pub fn release_alloc(&mut self, p: &NatPolicy, a: &Allocation, now_ns: u64) {
        self.free_alloc(p, a, now_ns);
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
                        .map_or(DEFAULT_MAPPING_TIMEOUT, |x| x.ei_mapping_timeout);
                    m.expires = after(now_ns, timeout);
                }
                return; // the port stays with the mapping until it expires
            }
        }
        self.free_alloc(p, &a, now_ns);
    }

    fn free_alloc(&mut self, p: &NatPolicy, a: &Allocation, now_ns: u64) {
        let Some(prt) = p.pools.get(a.pool as usize) else {
            return;
        };
        if prt.block_size().is_some() && a.port.is_some() {
            if let Some(st) = self.pools.get_mut(a.pool as usize) {
                if prt.pba.is_some() {
                    self.blocks.release(a, &mut st.stats, now_ns);
                } else {
                    self.blocks.fixed_release(a, &mut st.stats);
                }
            }
            return;
        }
        let paired_or_dynamic = prt.ports.is_none()
            || a.port.is_some() && self.host_addr.contains_key(&(a.pool, a.internal));
        let st = &mut self.pools[a.pool as usize];
        let Some(addr) = st.used_mut(a.addr as usize) else {
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
        }
        addr.users = addr.users.saturating_sub(1);
        let addr_free = addr.users == 0;
        if a.port.is_some() {
            st.stats.ports_in_use = st.stats.ports_in_use.saturating_sub(1);
        }
        if addr_free {
            st.stats.addrs_in_use = st.stats.addrs_in_use.saturating_sub(1);
        }
        if paired_or_dynamic {
            self.release_host_addr(prt, a, now_ns);
        }
    }

    /// One allocation less on the host's address. An address-only pool's address goes
    /// back with the last one; a paired-pooling mapping (a NAPT pool) stays
    /// `app-mapping-timeout` so the subscriber's next session gets the same address.
    fn release_host_addr(&mut self, prt: &PoolRt, a: &Allocation, now_ns: u64) {
        let key = (a.pool, a.internal);
        let Some(e) = self.host_addr.get_mut(&key) else {
            return;
        };
        e.sessions = e.sessions.saturating_sub(1);
        if e.sessions > 0 {
            return;
        }
        if prt.ports.is_some() {
            e.expires = after(now_ns, prt.app_mapping_timeout);
        } else {
            self.host_addr.remove(&key);
        }
    }

    /// The address paired pooling keeps for `host` in pool `pool` at `now_ns`; an idle
    /// mapping past its timeout that [`Self::expire_mappings`] has not dropped yet is
    /// dropped here.
    fn paired_addr(&mut self, pool: u16, host: IpAddr, now_ns: u64) -> Option<u32> {
        let e = *self.host_addr.get(&(pool, host))?;
        if e.sessions == 0 && e.expires <= now_ns {
            self.host_addr.remove(&(pool, host));
            return None;
        }
        Some(e.addr)
    }

    /// Drops endpoint-independent mappings idle past their `ei-mapping-timeout`,
    /// paired-pooling mappings idle past their `app-mapping-timeout`, and ends port
    /// blocks past their active-block-timeout (giving back those without ports in use).
    pub fn expire_mappings(&mut self, p: &NatPolicy, now_ns: u64) {
        self.expire_blocks(now_ns);
        let dead: Vec<((u8, IpAddr, u16), EimMapping)> = self
            .eim
            .iter()
            .filter(|(_, m)| m.sessions == 0 && m.expires <= now_ns)
            .map(|(k, m)| (*k, *m))
            .collect();
        for (k, m) in dead {
            self.eim.remove(&k);
            self.eif.remove(&(k.0, m.external, m.port));
            self.free_alloc(p, &m.allocation(proto_class(k.0), k.1, k.2), now_ns);
        }
        self.host_addr
            .retain(|_, e| e.sessions > 0 || e.expires > now_ns);
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
        Some(m.allocation(proto_class(proto), internal, port))
    }
}

impl NatState {
    /// The port blocks handed out and taken back since the last call, oldest first.
    pub fn block_events(&mut self) -> std::vec::Drain<'_, super::blocks::BlockEvent> {
        self.blocks.log.events.drain(..)
    }

    /// Block events dropped because they were not taken in time.
    pub fn block_events_dropped(&self) -> u64 {
        self.blocks.log.dropped
    }

    /// Ends port blocks past their active-block-timeout at `now_ns` and gives back the
    /// inactive ones without ports in use.
    pub fn expire_blocks(&mut self, now_ns: u64) {
        self.blocks.expire(now_ns, &mut self.pools);
    }

    /// Port blocks subscriber `host` holds in pool `pool`: (address index, first port,
    /// ports in use, active).
    pub fn port_blocks(&self, pool: u16, host: IpAddr) -> Vec<(u32, u16, u32, bool)> {
        self.blocks
            .subscribers
            .get(&(pool, host))
            .map(|s| {
                s.blocks
                    .iter()
                    .enumerate()
                    .map(|(i, b)| (b.addr, b.first, b.in_use, s.active == Some(i)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Counters of pool `pool` on this shard.
    pub fn pool_stats(&self, pool: usize) -> Option<&PoolStats> {
        self.pools.get(pool).map(|p| &p.stats)
    }

    /// The endpoint-independent mappings, by (protocol, internal address, internal port).
    pub fn eim_mappings(&self) -> impl Iterator<Item = (&(u8, IpAddr, u16), &EimMapping)> {
        self.eim.iter()
    }

    /// Mappings that admit inbound traffic from any host.
    pub fn eif_filters(&self) -> usize {
        self.eim.values().filter(|m| m.eif).count()
    }

    /// Zeroes the counters of `show services nat statistics`: this shard's [`NatStats`]
    /// and its pools' error counters. Gauges (ports, addresses and blocks in use, their
    /// maxima) stay: they describe what is held now.
    pub fn clear_statistics(&mut self) {
        self.stats = NatStats::default();
        for p in &mut self.pools {
            let s = &mut p.stats;
            s.out_of_port_errors = 0;
            s.out_of_address_errors = 0;
            s.parity_port_errors = 0;
            s.preserve_range_errors = 0;
            s.port_block_allocation_errors = 0;
            s.port_blocks_limit_exceeded_errors = 0;
            s.detnat_subscriber_exceeded_port_limits = 0;
        }
    }

    /// Whether [`Self::expire_mappings`] may have work: mappings or port blocks exist.
    pub fn has_mappings(&self) -> bool {
        !self.eim.is_empty() || !self.host_addr.is_empty() || !self.blocks.subscribers.is_empty()
    }

    /// Internal hosts holding an address (address-only pools, paired pooling).
    pub fn address_mappings(&self) -> usize {
        self.host_addr.len()
    }

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
            paired: self
                .host_addr
                .iter()
                .filter_map(|(&(pool, internal), e)| {
                    Some(AddressMappingSnapshot {
                        set: e.paired_set?,
                        pool,
                        internal,
                        external: e.external,
                        ports: e.sessions,
                    })
                })
                .collect(),
            stats: self.stats.clone(),
        }
    }
}

/// `secs` seconds after `now_ns`, in ns.
fn after(now_ns: u64, secs: u32) -> u64 {
    now_ns.saturating_add(u64::from(secs) * 1_000_000_000)
}

/// Address `a` mapped by the static mapping of `maps` whose prefix is `from`.
fn static_forward(maps: &[StaticMap], from: Option<Prefix>, a: IpAddr) -> Result<IpAddr, NatError> {
    let m = maps
        .iter()
        .find(|m| Some(m.from) == from)
        .ok_or(NatError::NoStaticMapping)?;
    let mapped = m
        .forward(v4(a).ok_or(NatError::Family)?)
        .ok_or(NatError::NoStaticMapping)?;
    Ok(IpAddr::V4(mapped))
}

/// An address of pool `pool` (index `addr`) held without a port by the internal host of
/// first key `k` (address-only pools, port-less protocols in NAPT pools).
fn address_only(pool: u16, addr: u32, k: &FlowKey) -> Allocation {
    Allocation {
        pool,
        addr,
        port: None,
        proto_class: proto_class(k.proto),
        port_class: 0,
        internal: k.src,
        internal_port: k.src_port,
        eim: false,
    }
}

/// The IPv4 protocol of an IPv6 session stateful NAT64 translates (RFC 6146 §1.2: TCP, UDP,
/// ICMP; an ICMPv6 echo becomes an ICMP echo, RFC 7915 §5.2).
pub fn nat64_protocol(p: u8) -> Option<u8> {
    match p {
        proto::TCP | proto::UDP => Some(p),
        proto::ICMPV6 => Some(proto::ICMP),
        _ => None,
    }
}
