//! Connected + static routes with longest-prefix match, used to pick a packet's egress
//! interface (and so its `output` service set) and next hop, or the next-hop service set
//! a route to a services unit leads into.

use std::net::IpAddr;

use mspic_config::{NextHop, Prefix};

use crate::nexthop::ServiceHop;

/// Index of a logical interface (`ge-0/0/0.0`) in [`crate::Policy::interfaces`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IfIndex(pub u16);

/// Where a route sends a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteTarget {
    /// Out of `egress` to `next_hop` (the destination itself for connected routes).
    Forward {
        /// Interface out of which.
        egress: IfIndex,
        /// Next hop; `None`: the destination itself (connected).
        gateway: Option<IpAddr>,
    },
    /// `discard`: silently dropped.
    Discard,
    /// `reject`: dropped with an ICMP unreachable.
    Reject,
    /// `next-hop ms-1/1/0.1`: into a next-hop service set.
    Service(ServiceHop),
}

/// One route of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Destination prefix.
    pub prefix: Prefix,
    /// What the route does.
    pub target: RouteTarget,
    /// Connected (interface subnet) rather than static.
    pub connected: bool,
}

/// Route lookup result: egress and the address to resolve at L2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteResult {
    /// Send out of `egress` to `next_hop` (the destination itself when connected).
    Forward {
        /// Interface to send it out of.
        egress: IfIndex,
        /// Address to resolve at L2: the destination, or the gateway towards it.
        next_hop: IpAddr,
    },
    /// Drop silently (`discard`).
    Discard,
    /// Drop and answer ICMP unreachable (`reject`).
    Reject,
    /// No route matches.
    NoRoute,
}

/// Routes sorted longest prefix first (a linear scan: tables here hold a handful of routes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteTable {
    routes: Vec<Route>,
}

/// Error building the table from configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("static route {prefix}: next hop {next_hop} is not on a connected subnet")]
    /// A static route's next hop is on no connected subnet.
    UnreachableNextHop {
        /// The route's prefix.
        prefix: Prefix,
        /// Its next hop.
        next_hop: IpAddr,
    },
    #[error("static route {prefix}: next-hop interface {name} is neither a configured interface nor the inside or outside unit of a next-hop service set")]
    /// A static route names an interface that does not exist, or a services unit that no
    /// next-hop service set uses.
    UnknownInterface {
        /// The route's prefix.
        prefix: Prefix,
        /// The interface it names.
        name: String,
    },
}

impl RouteTable {
    /// Builds the table from connected subnets `(prefix, interface)` and static routes; a
    /// static next hop must lie in a connected subnet (no recursive resolution). A next-hop
    /// interface is resolved by `iface_by_name`, else as a services unit by `service_unit`.
    pub fn build(
        connected: &[(Prefix, IfIndex)],
        statics: &[(Prefix, NextHop)],
        iface_by_name: impl Fn(&str) -> Option<IfIndex>,
        service_unit: impl Fn(&str) -> Option<ServiceHop>,
    ) -> Result<Self, RouteError> {
        let mut routes: Vec<Route> = connected
            .iter()
            .map(|&(p, egress)| Route {
                prefix: p.network(),
                target: RouteTarget::Forward {
                    egress,
                    gateway: None,
                },
                connected: true,
            })
            .collect();
        for (prefix, nh) in statics {
            let target = match nh {
                NextHop::Address(gw) => {
                    let egress = connected
                        .iter()
                        .filter(|(p, _)| p.contains(*gw))
                        .max_by_key(|(p, _)| p.len)
                        .map(|&(_, i)| i)
                        .ok_or(RouteError::UnreachableNextHop {
                            prefix: *prefix,
                            next_hop: *gw,
                        })?;
                    RouteTarget::Forward {
                        egress,
                        gateway: Some(*gw),
                    }
                }
                NextHop::Interface(name) => match iface_by_name(name) {
                    Some(egress) => RouteTarget::Forward {
                        egress,
                        gateway: None,
                    },
                    None => RouteTarget::Service(service_unit(name).ok_or_else(|| {
                        RouteError::UnknownInterface {
                            prefix: *prefix,
                            name: name.clone(),
                        }
                    })?),
                },
                NextHop::Discard => RouteTarget::Discard,
                NextHop::Reject => RouteTarget::Reject,
            };
            routes.push(Route {
                prefix: prefix.network(),
                target,
                connected: false,
            });
        }
        // Longest prefix first; connected before static at equal length (lower preference).
        routes.sort_by(|a, b| {
            b.prefix
                .len
                .cmp(&a.prefix.len)
                .then(b.connected.cmp(&a.connected))
        });
        Ok(RouteTable { routes })
    }

    /// The routes, for display.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The next-hop service set `dst` is routed into: the longest match for `dst` is a
    /// route to a services unit.
    pub fn service_hop(&self, dst: IpAddr) -> Option<ServiceHop> {
        match self.routes.iter().find(|r| r.prefix.contains(dst))?.target {
            RouteTarget::Service(hop) => Some(hop),
            _ => None,
        }
    }

    /// Longest-prefix match for `dst` among the routes that leave the box. Routes to
    /// services units are left out: this is the lookup of a packet that a service set has
    /// seen (or that none is on the way of), which leaves by the other leg of the set and is
    /// routed on. mspic has inet.0 and inet6.0 only, where the route that sent the packet
    /// into the set would send it in again; on a router the inside route usually lives in
    /// a routing instance of its own.
    pub fn lookup(&self, dst: IpAddr) -> RouteResult {
        self.lookup_index(dst)
            .map_or(RouteResult::NoRoute, |i| self.result_at(i, dst))
    }

    /// The index (in [`Self::routes`]) of the route [`Self::lookup`] decides `dst` by;
    /// `None`: no route.
    pub fn lookup_index(&self, dst: IpAddr) -> Option<usize> {
        self.routes
            .iter()
            .position(|r| !matches!(r.target, RouteTarget::Service(_)) && r.prefix.contains(dst))
    }

    /// What route `i` (from [`Self::lookup_index`]) does with a packet to `dst`.
    pub fn result_at(&self, i: usize, dst: IpAddr) -> RouteResult {
        match self.routes.get(i).map(|r| r.target) {
            Some(RouteTarget::Forward { egress, gateway }) => RouteResult::Forward {
                egress,
                next_hop: gateway.unwrap_or(dst),
            },
            Some(RouteTarget::Discard) => RouteResult::Discard,
            Some(RouteTarget::Reject) => RouteResult::Reject,
            Some(RouteTarget::Service(_)) | None => RouteResult::NoRoute,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Prefix {
        s.parse().unwrap()
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn longest_prefix_wins() {
        let connected = [
            (p("10.0.0.1/24"), IfIndex(0)),
            (p("203.0.113.1/24"), IfIndex(1)),
        ];
        let statics = [
            (p("198.51.100.0/24"), NextHop::Address(ip("203.0.113.2"))),
            (p("0.0.0.0/0"), NextHop::Address(ip("203.0.113.254"))),
            (p("192.0.2.0/24"), NextHop::Discard),
        ];
        let t = RouteTable::build(&connected, &statics, |_| None, |_| None).unwrap();
        assert_eq!(
            t.lookup(ip("10.0.0.9")),
            RouteResult::Forward {
                egress: IfIndex(0),
                next_hop: ip("10.0.0.9")
            }
        );
        assert_eq!(
            t.lookup(ip("198.51.100.7")),
            RouteResult::Forward {
                egress: IfIndex(1),
                next_hop: ip("203.0.113.2")
            }
        );
        assert_eq!(
            t.lookup(ip("8.8.8.8")),
            RouteResult::Forward {
                egress: IfIndex(1),
                next_hop: ip("203.0.113.254")
            }
        );
        assert_eq!(t.lookup(ip("192.0.2.1")), RouteResult::Discard);
        assert_eq!(t.lookup(ip("2001:db8::1")), RouteResult::NoRoute);
    }

    #[test]
    fn unreachable_next_hop_is_an_error() {
        let connected = [(p("10.0.0.1/24"), IfIndex(0))];
        let statics = [(p("198.51.100.0/24"), NextHop::Address(ip("192.0.2.1")))];
        assert!(matches!(
            RouteTable::build(&connected, &statics, |_| None, |_| None),
            Err(RouteError::UnreachableNextHop { .. })
        ));
    }

    #[test]
    fn a_route_to_a_services_unit_leads_into_its_set_and_is_skipped_after() {
        use mspic_config::MatchDirection;
        let hop = ServiceHop {
            set: 3,
            dir: MatchDirection::Input,
        };
        let connected = [
            (p("10.0.0.1/24"), IfIndex(0)),
            (p("203.0.113.1/24"), IfIndex(1)),
        ];
        let statics = [
            (
                p("198.51.100.0/24"),
                NextHop::Interface("ms-1/1/0.1".into()),
            ),
            (p("0.0.0.0/0"), NextHop::Address(ip("203.0.113.2"))),
        ];
        let unit = |n: &str| (n == "ms-1/1/0.1").then_some(hop);
        let t = RouteTable::build(&connected, &statics, |_| None, unit).unwrap();
        assert_eq!(t.service_hop(ip("198.51.100.7")), Some(hop));
        assert_eq!(
            t.lookup(ip("198.51.100.7")),
            RouteResult::Forward {
                egress: IfIndex(1),
                next_hop: ip("203.0.113.2")
            }
        );
        assert_eq!(t.service_hop(ip("10.0.0.5")), None);
        assert_eq!(t.service_hop(ip("192.0.2.1")), None);
        let bad = [(
            p("198.51.100.0/24"),
            NextHop::Interface("ms-1/1/0.9".into()),
        )];
        assert!(matches!(
            RouteTable::build(&connected, &bad, |_| None, unit),
            Err(RouteError::UnknownInterface { .. })
        ));
    }
}
