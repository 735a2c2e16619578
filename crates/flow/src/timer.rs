//! Hierarchical timer wheel: O(1) insert, cancel and per-entry expiry.
//!
//! Six levels of 64 slots over millisecond ticks (the layout tokio's timer uses): level `k`
//! slot spans 64^k ticks, so the wheel covers 2^36 ms (~795 days). Entries are slab indices
//! (`u32`) linked intrusively through a node array, so the wheel never allocates per insert.
//!
//! Sessions refresh lazily: the engine stores the real deadline in the session and, when an
//! entry fires early (the session saw traffic since), re-inserts it. Packets on established
//! flows therefore never touch the wheel.

const LEVELS: usize = 6;
const SLOTS: usize = 64;
const SLOT_BITS: u32 = 6;
const NIL: u32 = u32::MAX;
/// Longest schedulable distance in ticks; farther deadlines are clamped to it.
const MAX_TICKS: u64 = (1 << (SLOT_BITS as u64 * LEVELS as u64)) - 1;

#[derive(Clone, Copy, Debug)]
struct Node {
    prev: u32,
    next: u32,
    when: u64,
    /// `level * SLOTS + slot`, or `NIL` when not in the wheel.
    place: u32,
}

impl Default for Node {
    fn default() -> Self {
        Node {
            prev: NIL,
            next: NIL,
            when: 0,
            place: NIL,
        }
    }
}

/// A timer wheel keyed by entry index `0..capacity`.
#[derive(Debug)]
pub struct TimerWheel {
    /// Ticks already processed: every entry with `when <= elapsed` has fired.
    elapsed: u64,
    occupied: [u64; LEVELS],
    heads: [[u32; SLOTS]; LEVELS],
    nodes: Vec<Node>,
    len: usize,
}

impl TimerWheel {
    /// A wheel for indices below `capacity` (grows on demand with `ensure`), starting at tick `now`.
    pub fn new(capacity: usize, now: u64) -> Self {
        TimerWheel {
            elapsed: now,
            occupied: [0; LEVELS],
            heads: [[NIL; SLOTS]; LEVELS],
            nodes: vec![Node::default(); capacity],
            len: 0,
        }
    }

    /// Makes room for index `idx` (amortised; callers preallocate to avoid it).
    pub fn ensure(&mut self, idx: u32) {
        let need = idx as usize + 1;
        if self.nodes.len() < need {
            self.nodes
                .resize(need.max(self.nodes.len() * 2), Node::default());
        }
    }

    /// Number of scheduled entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no timer is scheduled.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The tick up to which the wheel has expired entries.
    pub fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// True when slot `idx` has a timer.
    pub fn is_scheduled(&self, idx: u32) -> bool {
        self.nodes.get(idx as usize).is_some_and(|n| n.place != NIL)
    }

    /// Schedules `idx` to fire at tick `when` (replacing any earlier schedule). A deadline at
    /// or before `elapsed` is moved to `elapsed + 1`.
    pub fn insert(&mut self, idx: u32, when: u64) {
        self.ensure(idx);
        self.remove(idx);
        let when = when.max(self.elapsed + 1).min(self.elapsed + MAX_TICKS);
        self.nodes[idx as usize].when = when;
        self.link(idx);
        self.len += 1;
    }

    /// Cancels `idx` if scheduled.
    pub fn remove(&mut self, idx: u32) {
        let Some(node) = self.nodes.get(idx as usize).copied() else {
            return;
        };
        if node.place == NIL {
            return;
        }
        let (level, slot) = (node.place as usize / SLOTS, node.place as usize % SLOTS);
        if node.prev == NIL {
            self.heads[level][slot] = node.next;
        } else {
            self.nodes[node.prev as usize].next = node.next;
        }
        if node.next != NIL {
            self.nodes[node.next as usize].prev = node.prev;
        }
        if self.heads[level][slot] == NIL {
            self.occupied[level] &= !(1u64 << slot);
        }
        let n = &mut self.nodes[idx as usize];
        n.prev = NIL;
        n.next = NIL;
        n.place = NIL;
        self.len -= 1;
    }

    /// Earliest tick at which some entry may fire (a slot boundary; never later than the
    /// true earliest deadline).
    pub fn next_deadline(&self) -> Option<u64> {
        self.next_expiration().map(|(_, _, deadline)| deadline)
    }

    /// Advances to tick `now`, calling `fire` for every entry whose deadline is `<= now`.
    /// Entries fire in deadline order up to slot granularity. `fire` may not touch the wheel;
    /// re-insert afterwards (see `Shard::handle_timeout`).
    pub fn poll(&mut self, now: u64, mut fire: impl FnMut(u32)) {
        while let Some((level, slot, deadline)) = self.next_expiration() {
            if deadline > now {
                break;
            }
            // Take the whole slot, then fire or cascade each entry.
            let mut cur = self.heads[level][slot];
            self.heads[level][slot] = NIL;
            self.occupied[level] &= !(1u64 << slot);
            self.elapsed = self.elapsed.max(deadline);
            while cur != NIL {
                let next = self.nodes[cur as usize].next;
                let n = &mut self.nodes[cur as usize];
                n.prev = NIL;
                n.next = NIL;
                n.place = NIL;
                if n.when <= self.elapsed || n.when <= now {
                    self.len -= 1;
                    fire(cur);
                } else {
                    self.link(cur);
                }
                cur = next;
            }
        }
        self.elapsed = self.elapsed.max(now);
    }

    fn link(&mut self, idx: u32) {
        let when = self.nodes[idx as usize].when;
        let level = level_for(self.elapsed, when);
        let slot = ((when >> (level as u32 * SLOT_BITS)) % SLOTS as u64) as usize;
        let head = self.heads[level][slot];
        {
            let n = &mut self.nodes[idx as usize];
            n.prev = NIL;
            n.next = head;
            n.place = (level * SLOTS + slot) as u32;
        }
        if head != NIL {
            self.nodes[head as usize].prev = idx;
        }
        self.heads[level][slot] = idx;
        self.occupied[level] |= 1u64 << slot;
    }

    /// (level, slot, deadline) of the next occupied slot, lowest level first.
    fn next_expiration(&self) -> Option<(usize, usize, u64)> {
        (0..LEVELS).find_map(|level| {
            let occupied = self.occupied[level];
            if occupied == 0 {
                return None;
            }
            let slot_range = 1u64 << (level as u32 * SLOT_BITS);
            let level_range = slot_range << SLOT_BITS;
            let now_slot = (self.elapsed / slot_range) % SLOTS as u64;
            let zeros = occupied.rotate_right(now_slot as u32).trailing_zeros() as u64;
            let slot = (zeros + now_slot) % SLOTS as u64;
            let level_start = self.elapsed & !(level_range - 1);
            let mut deadline = level_start + slot * slot_range;
            if deadline <= self.elapsed {
                // Only the top level wraps: a slot behind the position is in the next rotation.
                deadline += level_range;
            }
            Some((level, slot as usize, deadline))
        })
    }
}

/// The level whose slot width separates `elapsed` and `when` (highest differing 6-bit group).
fn level_for(elapsed: u64, when: u64) -> usize {
    let mut masked = (elapsed ^ when) | (SLOTS as u64 - 1);
    if masked >= MAX_TICKS {
        masked = MAX_TICKS - 1;
    }
    let significant = 63 - masked.leading_zeros() as usize;
    significant / SLOT_BITS as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn drain(w: &mut TimerWheel, now: u64) -> Vec<u32> {
        let mut v = Vec::new();
        w.poll(now, |i| v.push(i));
        v
    }

    #[test]
    fn fires_at_deadline_not_before() {
        let mut w = TimerWheel::new(8, 0);
        w.insert(1, 30_000);
        w.insert(2, 5_000);
        assert!(drain(&mut w, 4_999).is_empty());
        assert_eq!(drain(&mut w, 5_000), vec![2]);
        assert!(drain(&mut w, 29_999).is_empty());
        assert_eq!(drain(&mut w, 30_000), vec![1]);
        assert!(w.is_empty());
    }

    #[test]
    fn cancel_and_reinsert() {
        let mut w = TimerWheel::new(4, 100);
        w.insert(0, 200);
        w.insert(1, 300);
        w.remove(0);
        assert_eq!(w.len(), 1);
        w.insert(1, 1_000_000);
        assert!(drain(&mut w, 999_999).is_empty());
        assert_eq!(drain(&mut w, 1_000_000), vec![1]);
    }

    #[test]
    fn large_jump_fires_everything_due() {
        let mut w = TimerWheel::new(4, 0);
        w.insert(0, 10);
        w.insert(1, 86_400_000);
        w.insert(2, 86_400_001);
        let mut got = drain(&mut w, 86_400_000);
        got.sort();
        assert_eq!(got, vec![0, 1]);
        assert_eq!(drain(&mut w, 86_400_001), vec![2]);
    }

    proptest! {
        /// Every entry fires exactly once, never before its deadline, and no later than the
        /// first poll at or after it.
        #[test]
        fn matches_reference(
            start in 0u64..1_000_000,
            ops in prop::collection::vec((0u32..64, 0u64..5_000_000, any::<bool>()), 1..200),
            polls in prop::collection::vec(1u64..3_000_000, 1..40),
        ) {
            let mut w = TimerWheel::new(64, start);
            let mut model: std::collections::HashMap<u32, u64> = Default::default();
            for (idx, dt, cancel) in ops {
                if cancel {
                    w.remove(idx);
                    model.remove(&idx);
                } else {
                    w.insert(idx, start + 1 + dt);
                    model.insert(idx, start + 1 + dt);
                }
            }
            let mut now = start;
            for step in polls {
                now += step;
                let mut fired = drain(&mut w, now);
                fired.sort();
                let mut due: Vec<u32> = model.iter().filter(|(_, &t)| t <= now).map(|(&i, _)| i).collect();
                due.sort();
                prop_assert_eq!(&fired, &due);
                for i in fired { model.remove(&i); }
                prop_assert_eq!(w.len(), model.len());
            }
        }
    }
}
