//! Address sets compiled for the first packet: prefixes and ranges of each family turned
//! into sorted, disjoint, inclusive intervals, so that a lookup is one binary search (a
//! single comparison pair for the common one-prefix term) whatever the length of the
//! prefix lists a term names, and no `IpAddr` family dispatch per entry.

use std::net::IpAddr;

use mspic_config::Prefix;

/// Sorted, disjoint, non-adjacent inclusive intervals of one address family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intervals<T> {
    spans: Vec<(T, T)>,
}

impl<T> Default for Intervals<T> {
    fn default() -> Self {
        Intervals { spans: Vec::new() }
    }
}

/// The integer form of one address family (u32 for IPv4, u128 for IPv6).
pub trait Word: Copy + Ord {
    /// The next value, `None` at the top of the family.
    fn next(self) -> Option<Self>;
}

impl Word for u32 {
    fn next(self) -> Option<u32> {
        self.checked_add(1)
    }
}

impl Word for u128 {
    fn next(self) -> Option<u128> {
        self.checked_add(1)
    }
}

impl<T: Word> Intervals<T> {
    /// Sorts and merges `spans` (overlapping and adjacent ones become one); spans with
    /// `lo > hi` are dropped.
    pub fn new(mut spans: Vec<(T, T)>) -> Intervals<T> {
        spans.retain(|&(lo, hi)| lo <= hi);
        spans.sort_unstable();
        let mut out: Vec<(T, T)> = Vec::with_capacity(spans.len());
        for (lo, hi) in spans {
            match out.last_mut() {
                Some(last) if last.1.next().is_none_or(|n| lo <= n) => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        out.shrink_to_fit();
        Intervals { spans: out }
    }

    /// Whether `a` lies in one of the intervals.
    #[inline]
    pub fn contains(&self, a: T) -> bool {
        let i = self.spans.partition_point(|&(lo, _)| lo <= a);
        i > 0 && a <= self.spans[i - 1].1
    }

    /// Whether there is no interval.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Number of intervals.
    pub fn len(&self) -> usize {
        self.spans.len()
    }
}

/// A set of addresses of both families, plus "every unicast address".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddrSet {
    v4: Intervals<u32>,
    v6: Intervals<u128>,
    unicast: bool,
    /// Whether any entry was written: a side whose only range is reversed or of two
    /// families matches nothing rather than everything.
    written: bool,
}

impl AddrSet {
    /// The set of `prefixes`, the inclusive `ranges` (a range whose ends are of two
    /// families or reversed holds nothing) and, with `unicast`, every unicast address.
    pub fn new(prefixes: &[Prefix], ranges: &[(IpAddr, IpAddr)], unicast: bool) -> AddrSet {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for p in prefixes {
            match p.addr {
                IpAddr::V4(a) => {
                    let m = u32::MAX
                        .checked_shl(32 - u32::from(p.len.min(32)))
                        .unwrap_or(0);
                    let net = u32::from(a) & m;
                    v4.push((net, net | !m));
                }
                IpAddr::V6(a) => {
                    let m = u128::MAX
                        .checked_shl(128 - u32::from(p.len.min(128)))
                        .unwrap_or(0);
                    let net = u128::from(a) & m;
                    v6.push((net, net | !m));
                }
            }
        }
        for &r in ranges {
            match r {
                (IpAddr::V4(l), IpAddr::V4(h)) => v4.push((l.into(), h.into())),
                (IpAddr::V6(l), IpAddr::V6(h)) => v6.push((l.into(), h.into())),
                _ => {}
            }
        }
        AddrSet {
            v4: Intervals::new(v4),
            v6: Intervals::new(v6),
            unicast,
            written: unicast || !prefixes.is_empty() || !ranges.is_empty(),
        }
    }

    /// Whether `a` is in the set.
    #[inline]
    pub fn contains(&self, a: IpAddr) -> bool {
        if self.unicast && is_unicast(a) {
            return true;
        }
        match a {
            IpAddr::V4(v) => self.v4.contains(v.into()),
            IpAddr::V6(v) => self.v6.contains(v.into()),
        }
    }

    /// Whether the set was written with no entry at all (a side that names no address).
    #[inline]
    pub fn is_unwritten(&self) -> bool {
        !self.written
    }

    /// Memory the intervals take beyond the struct.
    pub fn approx_bytes(&self) -> usize {
        self.v4.len() * std::mem::size_of::<(u32, u32)>()
            + self.v6.len() * std::mem::size_of::<(u128, u128)>()
    }
}

/// Unicast as the `any-unicast` match means it: not multicast, broadcast or unspecified.
pub fn is_unicast(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => !v.is_multicast() && !v.is_broadcast() && !v.is_unspecified(),
        IpAddr::V6(v) => !v.is_multicast() && !v.is_unspecified(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn merges_overlapping_and_adjacent_spans() {
        let s = Intervals::new(vec![(10u32, 20), (21, 25), (5, 12), (40, 30), (50, 60)]);
        assert_eq!(s.spans, vec![(5, 25), (50, 60)]);
        let top = Intervals::new(vec![(u32::MAX - 1, u32::MAX), (0, 3), (4, u32::MAX - 2)]);
        assert_eq!(top.spans, vec![(0, u32::MAX)]);
    }

    proptest! {
        /// The merged intervals hold exactly the values some input span holds.
        #[test]
        fn contains_agrees_with_the_spans(
            spans in proptest::collection::vec((0u32..400, 0u32..40), 0..20),
            probes in proptest::collection::vec(0u32..460, 1..50),
        ) {
            let raw: Vec<(u32, u32)> = spans.iter().map(|&(lo, w)| (lo, lo + w)).collect();
            let set = Intervals::new(raw.clone());
            for &(lo, hi) in &set.spans {
                prop_assert!(lo <= hi);
            }
            for w in set.spans.windows(2) {
                prop_assert!(w[0].1 + 1 < w[1].0, "not merged: {:?}", w);
            }
            for a in probes {
                let want = raw.iter().any(|&(lo, hi)| lo <= a && a <= hi);
                prop_assert_eq!(set.contains(a), want, "{}", a);
            }
        }
    }
}
