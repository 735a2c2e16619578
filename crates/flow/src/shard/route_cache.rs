//! The routing decisions of recent IPv4 destinations: what `Shard::route` does with a
//! destination (one of the PIC's own addresses, or the route table's answer) depends on
//! the destination and the configuration only, and finding it scans the interface
//! addresses and the routes (longest prefix first): about 150 instructions per packet
//! with the testbed's few routes, more with many. A direct-mapped table of 8 bytes per
//! entry (the address and the deciding route's index) answers most packets with one
//! probe; a configuration change empties it. IPv6 destinations are looked up each time.

use std::net::IpAddr;

use crate::policy::Policy;
use crate::route::RouteResult;

/// Entries (a power of two; 64 KiB): a shard's active destinations mostly fit; a miss
/// costs one full lookup.
const ENTRIES: usize = 8192;
/// Route index values that are not indices.
const EMPTY: u16 = u16::MAX;
const LOCAL: u16 = u16::MAX - 1;
const NO_ROUTE: u16 = u16::MAX - 2;

/// Where a packet to one destination goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RouteDecision {
    /// One of the PIC's interface addresses.
    Local,
    /// The route table's answer.
    Route(RouteResult),
}

/// See the module documentation.
#[derive(Debug)]
pub(super) struct RouteCache {
    /// (IPv4 destination, route index or a marker).
    entries: Box<[(u32, u16)]>,
}

impl Default for RouteCache {
    fn default() -> Self {
        RouteCache {
            entries: vec![(0, EMPTY); ENTRIES].into_boxed_slice(),
        }
    }
}

impl RouteCache {
    /// The decision for `dst` under `policy` (which must be the one the cache was filled
    /// under: [`Self::clear`] on every change).
    #[inline]
    pub(super) fn decide(&mut self, policy: &Policy, dst: IpAddr) -> RouteDecision {
        let IpAddr::V4(a) = dst else {
            return decide(policy, dst);
        };
        let a = u32::from(a);
        let i = (a.wrapping_mul(0x9E37_79B1) >> (32 - ENTRIES.trailing_zeros())) as usize;
        let (cached, idx) = self.entries[i];
        if idx != EMPTY && cached == a {
            return match idx {
                LOCAL => RouteDecision::Local,
                NO_ROUTE => RouteDecision::Route(RouteResult::NoRoute),
                i => RouteDecision::Route(policy.routes.result_at(usize::from(i), dst)),
            };
        }
        let (d, idx) = if policy.is_local_address(dst) {
            (RouteDecision::Local, LOCAL)
        } else {
            match policy.routes.lookup_index(dst) {
                Some(i) if i < usize::from(NO_ROUTE) => (
                    RouteDecision::Route(policy.routes.result_at(i, dst)),
                    i as u16,
                ),
                Some(i) => return RouteDecision::Route(policy.routes.result_at(i, dst)),
                None => (RouteDecision::Route(RouteResult::NoRoute), NO_ROUTE),
            }
        };
        self.entries[i] = (a, idx);
        d
    }

    /// Forgets every decision (the configuration changed).
    pub(super) fn clear(&mut self) {
        self.entries.fill((0, EMPTY));
    }
}

/// The uncached decision.
fn decide(policy: &Policy, dst: IpAddr) -> RouteDecision {
    if policy.is_local_address(dst) {
        RouteDecision::Local
    } else {
        RouteDecision::Route(policy.routes.lookup(dst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn policy(text: &str) -> Arc<Policy> {
        let c = mspic_config::parse(text, "t.conf").unwrap();
        Arc::new(Policy::compile(&c).unwrap())
    }

    const CONF: &str = "interfaces { ge-0/0/0 { unit 0 { family inet { address 10.0.0.1/24; } } }
        ge-0/0/1 { unit 0 { family inet { address 203.0.113.1/24; } } } }
        routing-options { static { route 198.51.100.0/24 next-hop 203.0.113.2;
            route 192.0.2.0/25 discard; } }";

    /// Every answer equals the uncached one (local, connected, static, discard, no
    /// route, IPv6), for destinations that collide in the table, and across a
    /// configuration change.
    #[test]
    fn answers_as_the_policy_does() {
        let p = policy(CONF);
        let mut c = RouteCache::default();
        let addrs: Vec<IpAddr> = (0..40_000u32)
            .map(|i| match i % 5 {
                0 => IpAddr::from([10, 0, 0, (i / 5 % 256) as u8]),
                1 => IpAddr::from([198, 51, 100, (i / 5 % 256) as u8]),
                2 => IpAddr::from([192, 0, 2, (i / 5 % 256) as u8]),
                3 => IpAddr::from(std::net::Ipv4Addr::from(i.wrapping_mul(2_654_435_761))),
                _ => IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16]),
            })
            .collect();
        for round in 0..2 {
            for &a in &addrs {
                assert_eq!(c.decide(&p, a), decide(&p, a), "{a} round {round}");
            }
        }
        assert_eq!(
            c.decide(&p, "10.0.0.1".parse().unwrap()),
            RouteDecision::Local
        );
        assert_eq!(
            c.decide(&p, "192.0.2.1".parse().unwrap()),
            RouteDecision::Route(RouteResult::Discard)
        );
        // A new configuration without the static routes: cleared, the new answers.
        let q = policy(&CONF.replace("route 198.51.100.0/24 next-hop 203.0.113.2;", ""));
        c.clear();
        for &a in &addrs {
            assert_eq!(c.decide(&q, a), decide(&q, a), "{a} after the change");
        }
    }
}
