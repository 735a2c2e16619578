//! Session storage: a slab of sessions and one hash index holding both flows of each.
//!
//! The index stores `slot << 1 | dir` and compares keys through the slab, so an entry is
//! four bytes and the key lives once. Callers hash a key once ([`SessionTable::hash`]) and
//! reuse the hash for lookup and insert. The index is a bucketized table
//! ([`crate::index::BucketIndex`]) whose bucket for a hash is known before probing, so a
//! batch of packets can touch its buckets and sessions first ([`SessionTable::touch`]) and
//! overlap the cache misses.

use std::hash::BuildHasher;

use hashbrown::DefaultHashBuilder;
use mspic_wire::FlowKey;

use crate::dir::Dir;
use crate::index::BucketIndex;
use crate::session::Session;

/// A flow reference: slab slot and direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowRef {
    /// Slot of the session in the slab.
    pub slot: u32,
    /// Which of its flows.
    pub dir: Dir,
}

impl FlowRef {
    fn pack(self) -> u32 {
        (self.slot << 1) | self.dir as u32
    }
    fn unpack(v: u32) -> Self {
        FlowRef {
            slot: v >> 1,
            dir: if v & 1 == 0 { Dir::I } else { Dir::O },
        }
    }
}

/// Why an insert was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InsertError {
    #[error("session table full")]
    /// Every slot is taken.
    Full,
    #[error("a live flow already has this key")]
    /// One of the keys is already in the index.
    KeyInUse,
}

/// The sessions of one shard: a slab and an index over both flows of each.
pub struct SessionTable {
    index: BucketIndex,
    hasher: DefaultHashBuilder,
    slab: Vec<Session>,
    free: Vec<u32>,
    live: usize,
    capacity: usize,
}

impl SessionTable {
    /// A table for at most `capacity` sessions, `prealloc` of them allocated up front (the
    /// packet path allocates nothing until the table grows past `prealloc`).
    pub fn new(capacity: usize, prealloc: usize) -> Self {
        let prealloc = prealloc.min(capacity);
        SessionTable {
            index: BucketIndex::with_capacity(prealloc * 2),
            hasher: DefaultHashBuilder::default(),
            slab: Vec::with_capacity(prealloc),
            free: Vec::with_capacity(prealloc),
            live: 0,
            capacity,
        }
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when no session is live.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Most sessions the table holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Highest slot number ever used + 1 (timer wheel sizing).
    pub fn slots(&self) -> usize {
        self.slab.len()
    }

    #[inline]
    /// The index hash of a key (computed once per packet, reused for lookups).
    pub fn hash(&self, k: &FlowKey) -> u64 {
        self.hasher.hash_one(k)
    }

    /// Finds the flow with key `k` (hash from [`Self::hash`]).
    #[inline]
    pub fn find(&self, hash: u64, k: &FlowKey) -> Option<FlowRef> {
        let slab = &self.slab;
        self.index
            .find(hash, |v| {
                let r = FlowRef::unpack(v);
                slab[r.slot as usize].keys[r.dir as usize] == *k
            })
            .map(FlowRef::unpack)
    }

    /// Reads the index bucket of `hash` and, when it names a candidate session, that
    /// session's hot lines: a batch calls this for all of its packets before looking any up,
    /// so their cache misses overlap. The result only exists to be consumed
    /// (`std::hint::black_box`), so the loads are not optimized away.
    #[inline]
    pub fn touch(&self, hash: u64) -> u64 {
        let mut acc = u64::from(self.index.touch(hash));
        if let Some(r) = self.index.candidate(hash).map(FlowRef::unpack) {
            if let Some(s) = self.slab.get(r.slot as usize) {
                acc ^= u64::from(s.keys[r.dir as usize].src_port)
                    ^ s.frames[0]
                    ^ u64::from(s.active_timeout);
            }
        }
        acc
    }

    /// Reads only the index bucket of `hash` (first stage of a batch).
    #[inline]
    pub fn touch_bucket(&self, hash: u64) -> u32 {
        self.index.touch(hash)
    }

    #[inline]
    /// The session in `slot`, if live.
    pub fn get(&self, slot: u32) -> Option<&Session> {
        self.slab.get(slot as usize).filter(|s| s.live)
    }

    #[inline]
    /// The session in `slot`, if live, to update it.
    pub fn get_mut(&mut self, slot: u32) -> Option<&mut Session> {
        self.slab.get_mut(slot as usize).filter(|s| s.live)
    }

    /// Stores `s` and indexes both of its keys. Fails without side effects when the table is
    /// full or either key is already indexed.
    pub fn insert(&mut self, s: &Session) -> Result<u32, InsertError> {
        self.insert_hinted(s, None)
    }

    /// [`Self::insert`], where `absent` may give the hash of the first key when the caller
    /// has just looked that key up and not found it (a first packet): neither the hash nor
    /// the lookup is repeated.
    pub fn insert_hinted(&mut self, s: &Session, absent: Option<u64>) -> Result<u32, InsertError> {
        if self.live >= self.capacity {
            return Err(InsertError::Full);
        }
        let h0 = absent.unwrap_or_else(|| self.hash(&s.keys[0]));
        let h = [h0, self.hash(&s.keys[1])];
        debug_assert!(absent.is_none() || (h0 == self.hash(&s.keys[0])));
        let same_key = s.keys[0] == s.keys[1];
        if same_key
            || (absent.is_none() && self.find(h[0], &s.keys[0]).is_some())
            || self.find(h[1], &s.keys[1]).is_some()
        {
            return Err(InsertError::KeyInUse);
        }
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot as usize] = *s;
                slot
            }
            None => {
                self.slab.push(*s);
                (self.slab.len() - 1) as u32
            }
        };
        self.slab[slot as usize].live = true;
        for dir in [Dir::I, Dir::O] {
            let r = FlowRef { slot, dir };
            let slab = &self.slab;
            let hasher = &self.hasher;
            self.index.insert(h[dir as usize], r.pack(), |v| {
                let r = FlowRef::unpack(v);
                hasher.hash_one(slab[r.slot as usize].keys[r.dir as usize])
            });
        }
        self.live += 1;
        Ok(slot)
    }

    /// Re-keys one flow of a live session (an ALG pinhole becoming fully specified, NAT
    /// re-mapping). Fails when the new key is in use.
    pub fn rekey(&mut self, slot: u32, dir: Dir, key: FlowKey) -> Result<(), InsertError> {
        let h_new = self.hash(&key);
        if self.find(h_new, &key).is_some() {
            return Err(InsertError::KeyInUse);
        }
        self.unindex(slot, dir);
        self.slab[slot as usize].keys[dir as usize] = key;
        let slab = &self.slab;
        let hasher = &self.hasher;
        self.index.insert(h_new, FlowRef { slot, dir }.pack(), |v| {
            let r = FlowRef::unpack(v);
            hasher.hash_one(slab[r.slot as usize].keys[r.dir as usize])
        });
        Ok(())
    }

    fn unindex(&mut self, slot: u32, dir: Dir) {
        let key = self.slab[slot as usize].keys[dir as usize];
        let h = self.hash(&key);
        self.index.remove(h, FlowRef { slot, dir }.pack());
    }

    /// Removes a live session, returning it.
    pub fn remove(&mut self, slot: u32) -> Option<Session> {
        if !self.slab.get(slot as usize).is_some_and(|s| s.live) {
            return None;
        }
        self.unindex(slot, Dir::I);
        self.unindex(slot, Dir::O);
        let s = &mut self.slab[slot as usize];
        s.live = false;
        let out = *s;
        self.free.push(slot);
        self.live -= 1;
        Some(out)
    }

    /// Live sessions with their slots.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Session)> {
        self.slab
            .iter()
            .enumerate()
            .filter(|(_, s)| s.live)
            .map(|(i, s)| (i as u32, s))
    }

    /// Checks the index against the slab (tests and debug assertions).
    pub fn check_consistency(&self) -> Result<(), String> {
        let mut n = 0;
        for (slot, s) in self.iter() {
            for dir in [Dir::I, Dir::O] {
                let k = s.keys[dir as usize];
                match self.find(self.hash(&k), &k) {
                    Some(r) if r.slot == slot && r.dir == dir => {}
                    other => return Err(format!("slot {slot} {dir:?}: index gives {other:?}")),
                }
            }
            n += 1;
        }
        let slab = &self.slab;
        let hasher = &self.hasher;
        self.index.check(|v| {
            let r = FlowRef::unpack(v);
            slab.get(r.slot as usize)
                .map_or(0, |s| hasher.hash_one(s.keys[r.dir as usize]))
        })?;
        if n != self.live || self.index.len() != 2 * n {
            return Err(format!(
                "live {} counted {} index entries {}",
                self.live,
                n,
                self.index.len()
            ));
        }
        Ok(())
    }
}
