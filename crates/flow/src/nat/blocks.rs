//! Secured port block allocation (Junos: "secured-port-block-allocation (Services NAT)" and
//! "Secured Port Block Allocation for NAPT44"): a subscriber (internal address) takes its
//! ports from a block of `block-size` consecutive ports of one pool address; when its
//! active block is full, or older than `active-block-timeout`, a new block becomes active,
//! up to `max-blocks-per-address` blocks at once. An inactive block with no port in use
//! goes back to the pool.
//!
//! Blocks are owned by shards as their ports are steered: block `i` of an address (ports
//! `low + i·B ..`) belongs to shard `i % N` ([`crate::owner::block_owner`]), and a shard
//! only hands out blocks it owns. Subscribers are pinned to one shard (their state is per
//! host), so every block a subscriber holds is on the shard its sessions are on.

use std::collections::HashMap;
use std::net::IpAddr;

use mspic_config::SecuredPortBlock;

use super::policy::PoolRt;
use super::ports::{PoolState, XorShift};
use super::reports::PoolStats;
use super::Allocation;

/// What happened to a block, for the port block logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockEventKind {
    /// Handed to a subscriber (`JSERVICES_NAT_PORT_BLOCK_ALLOC`).
    Alloc,
    /// Taken back (`JSERVICES_NAT_PORT_BLOCK_RELEASE`).
    Release,
    /// Still has ports in use at its interim logging time
    /// (`JSERVICES_NAT_PORT_BLOCK_ACTIVE`).
    Active,
}

/// A block handed to a subscriber, taken back or still in use, for the port block logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockEvent {
    /// Allocated, released or still in use.
    pub kind: BlockEventKind,
    /// When it happened (ns): an interim log carries the time it was due.
    pub at: u64,
    /// Pool index.
    pub pool: u16,
    /// The subscriber.
    pub host: IpAddr,
    /// Pool address index.
    pub addr: u32,
    /// First port of the block.
    pub first: u16,
    /// Last port of the block.
    pub last: u16,
}

/// Block events not yet taken by the shard (it takes them after every call that can make
/// some): bounded, so a driver that never takes them costs nothing but a count.
#[derive(Debug, Clone, Default)]
pub(super) struct BlockLog {
    pub(super) events: Vec<BlockEvent>,
    pub(super) dropped: u64,
}

impl BlockLog {
    /// Events kept at most between two takes.
    const MAX: usize = 256;

    fn note(&mut self, e: BlockEvent) {
        if self.events.len() < Self::MAX {
            self.events.push(e);
        } else {
            self.dropped += 1;
        }
    }

    fn has_room(&self) -> bool {
        self.events.len() < Self::MAX
    }

    fn block(&mut self, (kind, at): (BlockEventKind, u64), (pool, host): (u16, IpAddr), b: &Block) {
        self.note(BlockEvent {
            kind,
            at,
            pool,
            host,
            addr: b.addr,
            first: b.first,
            last: b.first.saturating_add(b.size.saturating_sub(1)),
        });
    }
}

/// The ports of one protocol class in a block: fresh offsets in order, released ports
/// from a free list (O(1) both ways).
#[derive(Debug, Clone, Default)]
struct BlockPorts {
    next: u16,
    free: Vec<u16>,
    /// `random-allocation`: the fresh ports went shuffled into `free`.
    shuffled: bool,
}

/// A block a subscriber holds: `size` ports of pool address `addr` from port `first`.
#[derive(Debug, Clone)]
pub(super) struct Block {
    pub(super) addr: u32,
    pub(super) first: u16,
    size: u16,
    /// Per protocol class (TCP, UDP, ICMP, other): each has the whole block.
    ports: [BlockPorts; 4],
    /// Ports of the block in use (all protocol classes).
    pub(super) in_use: u32,
    /// When it became active (ns).
    pub(super) since: u64,
    /// When it was last logged, allocated or interim (ns).
    logged: u64,
}

impl Block {
    fn new(addr: u32, first: u16, size: u16, now: u64) -> Self {
        Block {
            addr,
            first,
            size,
            ports: Default::default(),
            in_use: 0,
            since: now,
            logged: now,
        }
    }

    /// A free port of protocol class `pc`: in order, or at random with `rng`
    /// (`random-allocation`: the block's ports shuffled once, Fisher–Yates).
    fn take(&mut self, pc: u8, rng: Option<&mut XorShift>) -> Option<u16> {
        let set = &mut self.ports[usize::from(pc & 3)];
        if let (Some(rng), false) = (rng, set.shuffled) {
            set.free
                .extend((set.next..self.size).map(|o| self.first + o));
            set.next = self.size;
            for i in (1..set.free.len()).rev() {
                set.free.swap(i, rng.below(i + 1));
            }
            set.shuffled = true;
        }
        let port = if set.next < self.size {
            set.next += 1;
            self.first + (set.next - 1)
        } else {
            set.free.pop()?
        };
        self.in_use += 1;
        Some(port)
    }

    /// Whether port `port` of address `addr` is in the block.
    fn contains(&self, addr: u32, port: u16) -> bool {
        self.addr == addr
            && port >= self.first
            && u32::from(port) < u32::from(self.first) + u32::from(self.size)
    }

    fn give_back(&mut self, pc: u8, port: u16) {
        self.ports[usize::from(pc & 3)].free.push(port);
        self.in_use = self.in_use.saturating_sub(1);
    }
}

/// The blocks one subscriber holds; `active` indexes the one new ports come from.
#[derive(Debug, Clone, Default)]
pub(super) struct Subscriber {
    pub(super) blocks: Vec<Block>,
    pub(super) active: Option<usize>,
}

/// The blocks of one pool this shard owns: fresh ones address by address (block index
/// stepping by the shard count), released ones from a free list.
#[derive(Debug, Clone)]
pub(super) struct BlockPool {
    cfg: SecuredPortBlock,
    low: u16,
    per_addr: u32,
    n_addrs: u32,
    shard: u32,
    shards: u32,
    /// Next fresh (address, block index).
    next: (u32, u32),
    free: Vec<(u32, u32)>,
    /// Blocks out per address (for `Addresses in use`).
    per_address: HashMap<u32, u32>,
    /// Interim logging interval (ns; 0: none).
    interim: u64,
}

impl BlockPool {
    /// The blocks shard `shard` of `shards` owns in `pool`; `None` without block allocation.
    pub(super) fn new(pool: &PoolRt, shard: u32, shards: u32) -> Option<Self> {
        let cfg = pool.pba?;
        let (low, _) = pool.ports?;
        let per_addr = pool.blocks_per_address();
        let n_addrs = pool.addrs.len() as u32;
        // A shard past the last block index of an address owns no block.
        let next = if shard < per_addr {
            (0, shard)
        } else {
            (n_addrs, 0)
        };
        Some(BlockPool {
            cfg,
            low,
            per_addr,
            n_addrs,
            shard,
            shards: shards.max(1),
            next,
            free: Vec::new(),
            per_address: HashMap::new(),
            interim: u64::from(pool.interim_interval) * 1_000_000_000,
        })
    }

    /// The first port of block `index`.
    fn first_port(&self, index: u32) -> u16 {
        (u32::from(self.low) + index * u32::from(self.cfg.block_size)) as u16
    }

    /// A free block this shard owns: (address index, block index).
    fn take(&mut self, stats: &mut PoolStats) -> Option<(u32, u32)> {
        let b = match self.free.pop() {
            Some(b) => b,
            None => {
                let (a, i) = self.next;
                if a >= self.n_addrs {
                    return None;
                }
                self.next = if i + self.shards < self.per_addr {
                    (a, i + self.shards)
                } else {
                    (a + 1, self.shard)
                };
                (a, i)
            }
        };
        let n = self.per_address.entry(b.0).or_insert(0);
        *n += 1;
        if *n == 1 {
            stats.addrs_in_use += 1;
            stats.max_addrs_in_use = stats.max_addrs_in_use.max(stats.addrs_in_use);
        }
        stats.port_blocks_in_use += 1;
        stats.max_port_blocks_used = stats.max_port_blocks_used.max(stats.port_blocks_in_use);
        Some(b)
    }

    /// Gives block `b` back to the pool.
    fn give_back(&mut self, b: &Block, stats: &mut PoolStats) {
        let index = u32::from(b.first - self.low) / u32::from(self.cfg.block_size.max(1));
        self.free.push((b.addr, index));
        stats.port_blocks_in_use = stats.port_blocks_in_use.saturating_sub(1);
        if let Some(n) = self.per_address.get_mut(&b.addr) {
            *n -= 1;
            if *n == 0 {
                self.per_address.remove(&b.addr);
                stats.addrs_in_use = stats.addrs_in_use.saturating_sub(1);
            }
        }
    }
}

/// The port block state of one shard: per pool, its blocks; per subscriber, what it holds.
#[derive(Debug, Clone, Default)]
pub(super) struct PortBlocks {
    pub(super) pools: Vec<Option<BlockPool>>,
    pub(super) subscribers: HashMap<(u16, IpAddr), Subscriber>,
    /// deterministic-napt44: the one computed block of each subscriber with ports in use.
    pub(super) fixed: HashMap<(u16, IpAddr), Block>,
    /// deterministic-napt44: such subscribers per (pool, address index).
    fixed_addrs: HashMap<(u16, u32), u32>,
    /// Blocks handed out and taken back since the shard last took them.
    pub(super) log: BlockLog,
}

/// Why [`PortBlocks::alloc`] found no port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BlockError {
    /// The pool has no free block this shard owns.
    NoBlock,
    /// The subscriber holds `max-blocks-per-address` blocks, all full.
    Limit,
}

impl PortBlocks {
    /// The state of shard `shard` of `shards` for `pools`: no block handed out.
    pub(super) fn new(pools: &[PoolRt], shard: u32, shards: u32) -> Self {
        PortBlocks {
            pools: pools
                .iter()
                .map(|p| BlockPool::new(p, shard, shards))
                .collect(),
            subscribers: HashMap::new(),
            fixed: HashMap::new(),
            fixed_addrs: HashMap::new(),
            // Made up front where blocks are handed out: allocation stays off the path.
            log: BlockLog {
                events: if pools.iter().any(|p| p.pba.is_some()) {
                    Vec::with_capacity(BlockLog::MAX)
                } else {
                    Vec::new()
                },
                dropped: 0,
            },
        }
    }

    /// deterministic-napt44: a port of protocol class `pc` from subscriber `host`'s block
    /// `(address index, first port, size)`, in order.
    pub(super) fn fixed_alloc(
        &mut self,
        pool: u16,
        host: IpAddr,
        (addr, first, size): (u32, u16, u16),
        pc: u8,
        stats: &mut PoolStats,
    ) -> Option<u16> {
        let b = self.fixed.entry((pool, host)).or_insert_with(|| {
            stats.pool_users += 1;
            stats.port_blocks_in_use += 1;
            stats.max_port_blocks_used = stats.max_port_blocks_used.max(stats.port_blocks_in_use);
            let n = self.fixed_addrs.entry((pool, addr)).or_insert(0);
            *n += 1;
            if *n == 1 {
                stats.addrs_in_use += 1;
                stats.max_addrs_in_use = stats.max_addrs_in_use.max(stats.addrs_in_use);
            }
            Block::new(addr, first, size, 0)
        });
        let port = b.take(pc, None);
        if port.is_some() {
            stats.ports_in_use += 1;
            stats.max_ports_in_use = stats.max_ports_in_use.max(stats.ports_in_use);
        } else if b.in_use == 0 {
            self.forget_fixed(pool, host, addr, stats);
        }
        port
    }

    /// Forgets deterministic subscriber `host` (no port in use) on address `addr`.
    fn forget_fixed(&mut self, pool: u16, host: IpAddr, addr: u32, stats: &mut PoolStats) {
        self.fixed.remove(&(pool, host));
        stats.pool_users = stats.pool_users.saturating_sub(1);
        stats.port_blocks_in_use = stats.port_blocks_in_use.saturating_sub(1);
        if let Some(n) = self.fixed_addrs.get_mut(&(pool, addr)) {
            *n -= 1;
            if *n == 0 {
                self.fixed_addrs.remove(&(pool, addr));
                stats.addrs_in_use = stats.addrs_in_use.saturating_sub(1);
            }
        }
    }

    /// Gives back the port of deterministic allocation `a`; a subscriber without ports in
    /// use is forgotten (its block stays its own: it is computed, not held).
    pub(super) fn fixed_release(&mut self, a: &Allocation, stats: &mut PoolStats) {
        let key = (a.pool, a.internal);
        let (Some(port), Some(b)) = (a.port, self.fixed.get_mut(&key)) else {
            return;
        };
        if !b.contains(a.addr, port) {
            return;
        }
        b.give_back(a.proto_class, port);
        stats.ports_in_use = stats.ports_in_use.saturating_sub(1);
        if b.in_use == 0 {
            self.forget_fixed(a.pool, a.internal, a.addr, stats);
        }
    }

    /// A port of protocol class `pc` for subscriber `host` in pool `pool` at `now` (ns):
    /// from its active block, else a new block, else (at the block limit or with no
    /// block left) a free port of one of its older blocks; at random within the block
    /// with `rng`. Counted in `stats`.
    pub(super) fn alloc(
        &mut self,
        pool: u16,
        host: IpAddr,
        pc: u8,
        now: u64,
        mut rng: Option<&mut XorShift>,
        stats: &mut PoolStats,
    ) -> Result<(u32, u16), BlockError> {
        let Some(Some(bp)) = self.pools.get_mut(usize::from(pool)) else {
            return Err(BlockError::NoBlock);
        };
        let sub = self.subscribers.entry((pool, host)).or_default();
        if sub.blocks.is_empty() {
            stats.pool_users += 1;
        }
        age(sub, bp, now);
        let mut found = None;
        if let Some(i) = sub.active {
            match sub.blocks[i].take(pc, rng.as_deref_mut()) {
                Some(port) => found = Some((sub.blocks[i].addr, port)),
                None => sub.active = None, // full: the next block takes over
            }
        }
        let mut err = BlockError::NoBlock;
        if found.is_none() {
            if sub.blocks.len() < usize::from(bp.cfg.max_blocks) {
                match bp.take(stats) {
                    Some((addr, index)) => {
                        let mut b = Block::new(addr, bp.first_port(index), bp.cfg.block_size, now);
                        found = b.take(pc, rng.as_deref_mut()).map(|port| (addr, port));
                        self.log
                            .block((BlockEventKind::Alloc, now), (pool, host), &b);
                        sub.blocks.push(b);
                        sub.active = Some(sub.blocks.len() - 1);
                    }
                    None => stats.port_block_allocation_errors += 1,
                }
            } else {
                err = BlockError::Limit;
            }
        }
        if found.is_none() {
            found = sub
                .blocks
                .iter_mut()
                .find_map(|b| b.take(pc, rng.as_deref_mut()).map(|port| (b.addr, port)));
        }
        if found.is_none() && err == BlockError::Limit {
            stats.port_blocks_limit_exceeded_errors += 1;
        }
        sweep(sub, bp, stats, ((pool, host), now), &mut self.log);
        if sub.blocks.is_empty() {
            self.subscribers.remove(&(pool, host));
            stats.pool_users = stats.pool_users.saturating_sub(1);
        }
        let (addr, port) = found.ok_or(err)?;
        stats.ports_in_use += 1;
        stats.max_ports_in_use = stats.max_ports_in_use.max(stats.ports_in_use);
        Ok((addr, port))
    }

    /// A port of protocol class `pc` on pool address `addr` from a block subscriber
    /// `host` already holds (an ALG's reservation must stay on the parent's address).
    pub(super) fn reserve(
        &mut self,
        pool: u16,
        host: IpAddr,
        addr: u32,
        pc: u8,
        stats: &mut PoolStats,
    ) -> Option<u16> {
        let port = match self.fixed.get_mut(&(pool, host)) {
            Some(b) if b.addr == addr => b.take(pc, None)?,
            Some(_) => return None,
            None => self
                .subscribers
                .get_mut(&(pool, host))?
                .blocks
                .iter_mut()
                .filter(|b| b.addr == addr)
                .find_map(|b| b.take(pc, None))?,
        };
        stats.ports_in_use += 1;
        stats.max_ports_in_use = stats.max_ports_in_use.max(stats.ports_in_use);
        Some(port)
    }

    /// Gives back the port of allocation `a`; a block left empty and inactive goes back
    /// to the pool, and a subscriber left without blocks is forgotten.
    pub(super) fn release(&mut self, a: &Allocation, stats: &mut PoolStats, now: u64) {
        let (Some(port), Some(Some(bp))) = (a.port, self.pools.get_mut(usize::from(a.pool))) else {
            return;
        };
        let key = (a.pool, a.internal);
        let Some(sub) = self.subscribers.get_mut(&key) else {
            return;
        };
        let Some(b) = sub.blocks.iter_mut().find(|b| b.contains(a.addr, port)) else {
            return;
        };
        b.give_back(a.proto_class, port);
        stats.ports_in_use = stats.ports_in_use.saturating_sub(1);
        sweep(sub, bp, stats, (key, now), &mut self.log);
        if sub.blocks.is_empty() {
            self.subscribers.remove(&key);
            stats.pool_users = stats.pool_users.saturating_sub(1);
        }
    }

    /// Ends active blocks past their `active-block-timeout` at `now`, gives back
    /// inactive blocks without ports in use and notes the interim logs that are due
    /// (driven by the shard's once-a-second aging, never by packets).
    pub(super) fn expire(&mut self, now: u64, states: &mut [PoolState]) {
        let pools = &mut self.pools;
        let log = &mut self.log;
        self.subscribers.retain(|&(pool, host), sub| {
            let (Some(Some(bp)), Some(st)) = (
                pools.get_mut(usize::from(pool)),
                states.get_mut(usize::from(pool)).map(|s| &mut s.stats),
            ) else {
                return false;
            };
            age(sub, bp, now);
            sweep(sub, bp, st, ((pool, host), now), log);
            interim(sub, bp, now, (pool, host), log);
            if sub.blocks.is_empty() {
                st.pool_users = st.pool_users.saturating_sub(1);
            }
            !sub.blocks.is_empty()
        });
    }
}

/// Makes the active block of `sub` inactive once it is older than the pool's
/// `active-block-timeout` (0: never).
fn age(sub: &mut Subscriber, bp: &BlockPool, now: u64) {
    let timeout = u64::from(bp.cfg.active_timeout) * 1_000_000_000;
    if let Some(i) = sub.active {
        if timeout > 0 && now.saturating_sub(sub.blocks[i].since) >= timeout {
            sub.active = None;
        }
    }
}

/// Gives back the inactive blocks of subscriber `key`'s `sub` that have no port in use
/// at `now` (noted in `log`).
fn sweep(
    sub: &mut Subscriber,
    bp: &mut BlockPool,
    stats: &mut PoolStats,
    (key, now): ((u16, IpAddr), u64),
    log: &mut BlockLog,
) {
    let active = sub
        .active
        .map(|i| (sub.blocks[i].addr, sub.blocks[i].first));
    let mut i = 0;
    while i < sub.blocks.len() {
        let b = &sub.blocks[i];
        if b.in_use == 0 && Some((b.addr, b.first)) != active {
            let b = sub.blocks.swap_remove(i);
            bp.give_back(&b, stats);
            log.block((BlockEventKind::Release, now), key, &b);
        } else {
            i += 1;
        }
    }
    sub.active = active.and_then(|k| sub.blocks.iter().position(|b| (b.addr, b.first) == k));
}

/// Notes an interim log for each block of `sub` with ports in use whose pool's interim
/// logging interval has passed since it was last logged (Junos "Interim Logging for
/// Secured Port Block Allocation": the block's log is sent again while traffic uses it).
/// The log carries the time it was due; a block that finds the log full waits for the
/// next sweep, so none is lost to a burst.
fn interim(sub: &mut Subscriber, bp: &BlockPool, now: u64, key: (u16, IpAddr), log: &mut BlockLog) {
    if bp.interim == 0 {
        return;
    }
    for b in sub.blocks.iter_mut().filter(|b| b.in_use > 0) {
        let missed = now.saturating_sub(b.logged) / bp.interim;
        if missed == 0 || !log.has_room() {
            continue;
        }
        // Late sweeps (a replay reaching the next frame) log once, at the latest due time.
        b.logged += missed * bp.interim;
        log.block((BlockEventKind::Active, b.logged), key, b);
    }
}
