//! Connected + static routes with longest-prefix match, used to pick a packet's egress
//! interface (and so its `output` service set) and next hop.

use std::net::IpAddr;

use mspic_config::{NextHop, Prefix};

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
    #[error("static route {prefix}: next-hop interface {name} is not configured")]
    /// A static route names an interface that does not exist.
    UnknownInterface {
        /// The route's prefix.
        prefix: Prefix,
        /// The interface it names.
        name: String,
    },
}

impl RouteTable {
    /// Builds the table from connected subnets `(prefix, interface)` and static routes; a
    /// static next hop must lie in a connected subnet (no recursive resolution).
    pub fn build(
        connected: &[(Prefix, IfIndex)],
        statics: &[(Prefix, NextHop)],
        iface_by_name: impl Fn(&str) -> Option<IfIndex>,
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
                NextHop::Interface(name) => RouteTarget::Forward {
                    egress: iface_by_name(name).ok_or_else(|| RouteError::UnknownInterface {
                        prefix: *prefix,
                        name: name.clone(),
                    })?,
                    gateway: None,
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

    /// Longest-prefix match for `dst`.
    pub fn lookup(&self, dst: IpAddr) -> RouteResult {
        match self.routes.iter().find(|r| r.prefix.contains(dst)) {
            None => RouteResult::NoRoute,
            Some(r) => match r.target {
                RouteTarget::Forward { egress, gateway } => RouteResult::Forward {
                    egress,
                    next_hop: gateway.unwrap_or(dst),
                },
                RouteTarget::Discard => RouteResult::Discard,
                RouteTarget::Reject => RouteResult::Reject,
            },
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
        let t = RouteTable::build(&connected, &statics, |_| None).unwrap();
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
            RouteTable::build(&connected, &statics, |_| None),
            Err(RouteError::UnreachableNextHop { .. })
        ));
    }
}
