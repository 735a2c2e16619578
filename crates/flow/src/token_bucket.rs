//! A token bucket in virtual time: `session-limit rate` admits new sessions at a steady
//! rate with at most one second's worth of burst.

const NS_PER_SEC: u64 = 1_000_000_000;

/// Credit is kept in token-nanoseconds (one token = `NS_PER_SEC`), so refill needs no
/// division and no floating point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBucket {
    credit: u64,
    last: u64,
    full: bool,
}

impl Default for TokenBucket {
    /// A bucket that starts full: the first second may admit the whole rate at once.
    fn default() -> Self {
        TokenBucket {
            credit: 0,
            last: 0,
            full: true,
        }
    }
}

impl TokenBucket {
    /// Takes one token at `now_ns` from a bucket filled at `rate` tokens per second (and
    /// holding at most `rate`); `false` when it is empty. `rate` 0 admits nothing.
    pub fn take(&mut self, now_ns: u64, rate: u32) -> bool {
        let cap = u64::from(rate) * NS_PER_SEC;
        if self.full {
            self.credit = cap;
            self.full = false;
        } else {
            // Past one second the bucket is full whatever the rate; capping the elapsed
            // time keeps the product in range.
            let elapsed = now_ns.saturating_sub(self.last).min(NS_PER_SEC);
            self.credit = (self.credit + elapsed * u64::from(rate)).min(cap);
        }
        self.last = self.last.max(now_ns);
        if self.credit < NS_PER_SEC {
            return false;
        }
        self.credit -= NS_PER_SEC;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (time in ms, expected admission) at 4 tokens per second.
    #[test]
    fn steady_rate_after_the_initial_burst() {
        let table: &[(u64, bool)] = &[
            (0, true),
            (0, true),
            (0, true),
            (0, true),
            (0, false),
            (100, false),
            (250, true),
            (300, false),
            (500, true),
            (5000, true),
            (5000, true),
            (5000, true),
            (5000, true),
            (5000, false),
        ];
        let mut b = TokenBucket::default();
        for &(ms, want) in table {
            assert_eq!(b.take(ms * 1_000_000, 4), want, "at {ms} ms");
        }
    }

    #[test]
    fn zero_rate_admits_nothing_and_huge_rates_do_not_overflow() {
        let mut b = TokenBucket::default();
        assert!(!b.take(0, 0));
        assert!(!b.take(10 * NS_PER_SEC, 0));
        let mut b = TokenBucket::default();
        assert!(b.take(0, u32::MAX));
        assert!(b.take(u64::MAX, u32::MAX));
    }

    #[test]
    fn a_clock_going_back_refills_nothing() {
        let mut b = TokenBucket::default();
        assert!(b.take(NS_PER_SEC, 1));
        assert!(!b.take(0, 1));
        assert!(!b.take(NS_PER_SEC, 1));
        assert!(b.take(2 * NS_PER_SEC, 1));
    }
}
