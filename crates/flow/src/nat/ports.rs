//! The ports of a pool address that one shard hands out: port sets by range and parity
//! class, each pool address's and pool's share on this shard, and the generator behind
//! `random-allocation`.

use super::policy::PoolRt;
use super::reports::PoolStats;

/// Small deterministic generator for `random-allocation` (sans-IO: no OS randomness).
#[derive(Debug, Clone)]
pub(super) struct XorShift(pub(super) u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The ports of one (address, protocol, range class, parity class) that this shard owns:
/// `lo..=hi` stepping so that `port % shards == shard` (and the parity holds). Fresh ports
/// are handed out in order, released ones from a free list: O(1) both ways.
#[derive(Debug, Clone)]
pub(super) struct PortSet {
    next: u32,
    hi: u32,
    step: u32,
    free: Vec<u16>,
    random: bool,
    shuffled: bool,
}

impl PortSet {
    pub(super) fn new(
        lo: u16,
        hi: u16,
        shard: u32,
        shards: u32,
        parity: Option<u16>,
        random: bool,
    ) -> Self {
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

    pub(super) fn alloc(&mut self, rng: &mut XorShift) -> Option<u16> {
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

    /// An even port and the next one (an RTP/RTCP pair, RFC 3550 §11), where this set
    /// holds consecutive ports (one shard, no parity class, ports in order): from the fresh
    /// ports (an odd one skipped goes to the free list), else from the free list.
    pub(super) fn alloc_pair(&mut self) -> Option<u16> {
        if self.step != 1 || self.random {
            return None;
        }
        if self.next % 2 == 1 && self.next <= self.hi {
            self.free.push(self.next as u16);
            self.next += 1;
        }
        if self.next < self.hi {
            let p = self.next as u16;
            self.next += 2;
            return Some(p);
        }
        let i = self
            .free
            .iter()
            .position(|&p| p % 2 == 0 && p < u16::MAX && self.free.contains(&(p + 1)))?;
        let p = self.free.swap_remove(i);
        let j = self.free.iter().position(|&q| q == p + 1)?;
        self.free.swap_remove(j);
        Some(p)
    }

    pub(super) fn release(&mut self, p: u16, rng: &mut XorShift) {
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
pub(super) struct AddrState {
    /// Per protocol class: port sets by (low range?, odd?) class.
    pub(super) ports: [Option<Box<[Option<PortSet>; 4]>>; 4],
    /// Sessions using the address (address-only pools) or ports in use (NAPT).
    pub(super) users: u32,
}

#[derive(Debug, Clone, Default)]
pub(super) struct PoolState {
    /// Per pool address, made on the first allocation from the pool: a configured pool
    /// that nothing uses costs a few words per shard, however many addresses it has.
    addrs: Vec<AddrState>,
    n_addrs: usize,
    pub(super) cursor: usize,
    pub(super) stats: PoolStats,
}

impl PoolState {
    /// The state of a pool of `n_addrs` addresses: nothing allocated.
    pub(super) fn new(n_addrs: usize) -> Self {
        PoolState {
            addrs: Vec::new(),
            n_addrs,
            cursor: 0,
            stats: PoolStats::default(),
        }
    }

    /// Sessions or ports using address `ai` (0 for an address never used).
    pub(super) fn users(&self, ai: usize) -> u32 {
        self.addrs.get(ai).map_or(0, |a| a.users)
    }

    /// Address `ai`, its state made for the whole pool on first use; `None` past the end.
    pub(super) fn addr_mut(&mut self, ai: usize) -> Option<&mut AddrState> {
        if ai >= self.n_addrs {
            return None;
        }
        if self.addrs.is_empty() {
            self.addrs = vec![AddrState::default(); self.n_addrs];
        }
        self.addrs.get_mut(ai)
    }

    /// Address `ai` if anything was ever allocated from the pool (releases need no more).
    pub(super) fn used_mut(&mut self, ai: usize) -> Option<&mut AddrState> {
        self.addrs.get_mut(ai)
    }

    /// Whether `ai` is an address of the pool.
    pub(super) fn has(&self, ai: usize) -> bool {
        ai < self.n_addrs
    }

    /// Takes a port of class `cls` on address `ai` for protocol class `pc` from the ports
    /// this shard owns, counting the address and port as in use.
    pub(super) fn take_port(
        &mut self,
        ai: usize,
        pc: u8,
        cls: &PortClass,
        (shard, shards): (u32, u32),
        random: bool,
        rng: &mut XorShift,
    ) -> Option<u16> {
        let addr = self.addr_mut(ai)?;
        let sets =
            addr.ports[pc as usize].get_or_insert_with(|| Box::new([None, None, None, None]));
        let ps = sets[cls.class]
            .get_or_insert_with(|| PortSet::new(cls.lo, cls.hi, shard, shards, cls.parity, random));
        let port = ps.alloc(rng)?;
        addr.users += 1;
        if addr.users == 1 {
            self.stats.addrs_in_use += 1;
            self.stats.max_addrs_in_use = self.stats.max_addrs_in_use.max(self.stats.addrs_in_use);
        }
        self.stats.ports_in_use += 1;
        self.stats.max_ports_in_use = self.stats.max_ports_in_use.max(self.stats.ports_in_use);
        Some(port)
    }
}

impl PoolState {
    /// [`Self::take_port`] for an even port and the next one ([`PortSet::alloc_pair`]).
    pub(super) fn take_pair(
        &mut self,
        ai: usize,
        pc: u8,
        cls: &PortClass,
        (shard, shards): (u32, u32),
        random: bool,
    ) -> Option<u16> {
        let addr = self.addr_mut(ai)?;
        let sets =
            addr.ports[pc as usize].get_or_insert_with(|| Box::new([None, None, None, None]));
        let ps = sets[cls.class]
            .get_or_insert_with(|| PortSet::new(cls.lo, cls.hi, shard, shards, cls.parity, random));
        let port = ps.alloc_pair()?;
        addr.users += 2;
        if addr.users == 2 {
            self.stats.addrs_in_use += 1;
            self.stats.max_addrs_in_use = self.stats.max_addrs_in_use.max(self.stats.addrs_in_use);
        }
        self.stats.ports_in_use += 2;
        self.stats.max_ports_in_use = self.stats.max_ports_in_use.max(self.stats.ports_in_use);
        Some(port)
    }
}

/// Which ports a NAPT port for a given internal port comes from: `preserve-range` keeps
/// ports below 1024 below, `preserve-parity` keeps the parity where this shard can.
pub(super) struct PortClass {
    /// `[high, high-odd, low, low-odd]` with parity; without it the even slot.
    pub(super) class: usize,
    pub(super) parity: Option<u16>,
    pub(super) lo: u16,
    pub(super) hi: u16,
}

impl PortClass {
    /// The class of internal port `port` in pool `prt` (ports `lo..=hi`) on shard `shard`
    /// of `shards`, and whether the parity could not be kept.
    pub(super) fn new(
        prt: &PoolRt,
        lo: u16,
        hi: u16,
        port: u16,
        shard: u32,
        shards: u32,
    ) -> (Self, bool) {
        let low = prt.preserve_range && port < 1024;
        let mut parity = prt.preserve_parity.then_some(port % 2);
        let lost = parity.is_some_and(|p| shards.is_multiple_of(2) && u32::from(p) != shard % 2);
        if lost {
            parity = Some((shard % 2) as u16);
        }
        let (lo, hi) = match (prt.preserve_range, low) {
            // A range without low ports (`automatic` is 1024..65535): 1..1023, never 0.
            (true, true) if lo >= 1024 => (1, 1023),
            (true, true) => (lo.max(1), hi.min(1023)),
            (true, false) => (lo.max(1024), hi),
            (false, _) => (lo, hi),
        };
        let class = usize::from(low) * 2 + usize::from(parity == Some(1));
        (
            PortClass {
                class,
                parity,
                lo,
                hi,
            },
            lost,
        )
    }
}
