//! The session index: a bucketized open-addressing hash table of `u32` values.
//!
//! A bucket is one 64-byte cache line holding seven (tag, value) pairs, so a lookup reads
//! one line in the common case and the line's address follows from the hash alone: a batch
//! of packets can touch all of its buckets first and overlap the cache misses. Keys are not
//! stored; callers compare them through `eq` (the session slab). Collisions probe the next
//! bucket; each bucket counts the entries that probed past it (`overflow`), so a lookup
//! stops at the first bucket with a zero count and removal needs no tombstones.

/// Entries per bucket.
const WIDTH: usize = 7;
/// A free entry's value.
const EMPTY: u32 = u32::MAX;

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Bucket {
    tags: [u32; WIDTH],
    vals: [u32; WIDTH],
    /// Entries stored further on whose home bucket is this one or an earlier one.
    overflow: u32,
}

const _: () = assert!(std::mem::size_of::<Bucket>() == 64);

const FREE_BUCKET: Bucket = Bucket {
    tags: [0; WIDTH],
    vals: [EMPTY; WIDTH],
    overflow: 0,
};

pub struct BucketIndex {
    buckets: Vec<Bucket>,
    mask: usize,
    len: usize,
}

fn tag(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// Buckets for `entries` at a load of at most 3/4, a power of two.
fn buckets_for(entries: usize) -> usize {
    (entries * 4 / 3 / WIDTH + 1).next_power_of_two()
}

impl BucketIndex {
    /// An index with room for `entries` without growing.
    pub fn with_capacity(entries: usize) -> Self {
        let n = buckets_for(entries);
        BucketIndex {
            buckets: vec![FREE_BUCKET; n],
            mask: n - 1,
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn home(&self, hash: u64) -> usize {
        hash as usize & self.mask
    }

    /// Reads the home bucket of `hash` (a batch touches its buckets before probing them, so
    /// the cache misses overlap). Returns a value of that line for the caller to consume.
    #[inline]
    pub fn touch(&self, hash: u64) -> u32 {
        self.buckets[self.home(hash)].overflow
    }

    /// The first value in the home bucket whose tag matches `hash`, unverified (to touch
    /// the entry it names before the real lookup).
    #[inline]
    pub fn candidate(&self, hash: u64) -> Option<u32> {
        let b = &self.buckets[self.home(hash)];
        let t = tag(hash);
        (0..WIDTH)
            .find(|&j| b.tags[j] == t && b.vals[j] != EMPTY)
            .map(|j| b.vals[j])
    }

    /// The value with this hash for which `eq` holds.
    #[inline]
    pub fn find(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        let t = tag(hash);
        let mut i = self.home(hash);
        for _ in 0..self.buckets.len() {
            let b = &self.buckets[i];
            for j in 0..WIDTH {
                if b.tags[j] == t && b.vals[j] != EMPTY && eq(b.vals[j]) {
                    return Some(b.vals[j]);
                }
            }
            if b.overflow == 0 {
                return None;
            }
            i = (i + 1) & self.mask;
        }
        None
    }

    /// Adds `val` (not [`u32::MAX`]) under `hash`; the caller makes sure it is not there
    /// yet. `rehash` gives the hash of a stored value, for growing.
    pub fn insert(&mut self, hash: u64, val: u32, rehash: impl Fn(u32) -> u64) {
        debug_assert_ne!(val, EMPTY);
        if (self.len + 1) * 4 > self.buckets.len() * WIDTH * 3 {
            self.grow(rehash);
        }
        self.place(hash, val);
        self.len += 1;
    }

    fn place(&mut self, hash: u64, val: u32) {
        let mut i = self.home(hash);
        loop {
            let b = &mut self.buckets[i];
            if let Some(j) = b.vals.iter().position(|&v| v == EMPTY) {
                b.tags[j] = tag(hash);
                b.vals[j] = val;
                return;
            }
            b.overflow += 1;
            i = (i + 1) & self.mask;
        }
    }

    fn grow(&mut self, rehash: impl Fn(u32) -> u64) {
        let n = self.buckets.len() * 2;
        let old = std::mem::replace(&mut self.buckets, vec![FREE_BUCKET; n]);
        self.mask = n - 1;
        for b in &old {
            for &v in b.vals.iter().filter(|&&v| v != EMPTY) {
                self.place(rehash(v), v);
            }
        }
    }

    /// Removes `val` stored under `hash`; false when it is not there.
    pub fn remove(&mut self, hash: u64, val: u32) -> bool {
        let home = self.home(hash);
        let mut i = home;
        let (bi, j) = loop {
            let b = &self.buckets[i];
            if let Some(j) = b.vals.iter().position(|&v| v == val) {
                break (i, j);
            }
            if b.overflow == 0 {
                return false;
            }
            i = (i + 1) & self.mask;
        };
        self.buckets[bi].vals[j] = EMPTY;
        self.buckets[bi].tags[j] = 0;
        let mut i = home;
        while i != bi {
            self.buckets[i].overflow -= 1;
            i = (i + 1) & self.mask;
        }
        self.len -= 1;
        true
    }

    /// Every stored value.
    #[cfg(test)]
    pub fn values(&self) -> impl Iterator<Item = u32> + '_ {
        self.buckets
            .iter()
            .flat_map(|b| b.vals.iter().copied().filter(|&v| v != EMPTY))
    }

    /// Checks the overflow counts against the stored entries (`rehash` as for insert).
    pub fn check(&self, rehash: impl Fn(u32) -> u64) -> Result<(), String> {
        let n = self.buckets.len();
        let mut want = vec![0u32; n];
        let mut count = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            for j in 0..WIDTH {
                let v = b.vals[j];
                if v == EMPTY {
                    continue;
                }
                count += 1;
                let h = rehash(v);
                if b.tags[j] != tag(h) {
                    return Err(format!("bucket {i} entry {j}: tag does not match its hash"));
                }
                let mut k = self.home(h);
                while k != i {
                    want[k] += 1;
                    k = (k + 1) & self.mask;
                }
            }
        }
        if count != self.len {
            return Err(format!("index holds {count} entries, counts {}", self.len));
        }
        for (i, b) in self.buckets.iter().enumerate() {
            if b.overflow != want[i] {
                return Err(format!(
                    "bucket {i}: overflow {} but {} entries probed past it",
                    b.overflow, want[i]
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// Hashes that collide a lot: few distinct home buckets and tags.
    fn h(key: u32, spread: u32) -> u64 {
        let k = u64::from(key % spread);
        (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 3) ^ (k << 40)
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u32),
        Remove(u32),
        Rekey(u32, u32),
        Find(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u32..300).prop_map(Op::Insert),
            2 => (0u32..300).prop_map(Op::Remove),
            1 => (0u32..300, 0u32..300).prop_map(|(a, b)| Op::Rekey(a, b)),
            2 => (0u32..300).prop_map(Op::Find),
        ]
    }

    proptest! {
        /// Values are slots; each slot has a key (what the slab would hold). The index is
        /// compared with a map from key to slot after every operation.
        #[test]
        fn matches_a_map(ops in proptest::collection::vec(op(), 1..400), spread in 1u32..64) {
            let mut idx = BucketIndex::with_capacity(4);
            let mut keys: HashMap<u32, u32> = HashMap::new(); // slot -> key
            let mut model: HashMap<u32, u32> = HashMap::new(); // key -> slot
            let mut next_slot = 0u32;
            for op in ops {
                match op {
                    Op::Insert(k) => {
                        if let std::collections::hash_map::Entry::Vacant(e) = model.entry(k) {
                            let slot = next_slot;
                            next_slot += 1;
                            keys.insert(slot, k);
                            e.insert(slot);
                            let kk = keys.clone();
                            idx.insert(h(k, spread), slot, |v| h(kk[&v], spread));
                        }
                    }
                    Op::Remove(k) => {
                        let had = model.remove(&k);
                        let removed = idx.remove(h(k, spread), had.unwrap_or(EMPTY - 1));
                        prop_assert_eq!(removed, had.is_some());
                        if let Some(slot) = had {
                            keys.remove(&slot);
                        }
                    }
                    Op::Rekey(a, b) => {
                        if model.contains_key(&a) && !model.contains_key(&b) {
                            let slot = model.remove(&a).unwrap();
                            prop_assert!(idx.remove(h(a, spread), slot));
                            keys.insert(slot, b);
                            model.insert(b, slot);
                            let kk = keys.clone();
                            idx.insert(h(b, spread), slot, |v| h(kk[&v], spread));
                        }
                    }
                    Op::Find(k) => {
                        let got = idx.find(h(k, spread), |v| keys[&v] == k);
                        prop_assert_eq!(got, model.get(&k).copied());
                    }
                }
                prop_assert_eq!(idx.len(), model.len());
                let kk = keys.clone();
                idx.check(|v| h(kk[&v], spread)).map_err(TestCaseError::fail)?;
            }
            for (&k, &slot) in &model {
                prop_assert_eq!(idx.find(h(k, spread), |v| keys[&v] == k), Some(slot));
            }
            let mut vals: Vec<u32> = idx.values().collect();
            vals.sort_unstable();
            let mut want: Vec<u32> = model.values().copied().collect();
            want.sort_unstable();
            prop_assert_eq!(vals, want);
        }
    }
}
