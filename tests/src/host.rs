//! Hosts, the two router ports, and the fixed MAC/address scheme of the testbed.
//!
//! # Addressing scheme
//!
//! | what | address | MAC |
//! |---|---|---|
//! | router `ge-0/0/0` (inside, clients) | 10.0.0.1/24 | [`ROUTER_MAC_INSIDE`] `02:00:00:00:01:00` |
//! | router `ge-0/0/1` (outside, servers) | 203.0.113.1/24 | [`ROUTER_MAC_OUTSIDE`] `02:00:00:00:01:01` |
//! | clients | 10.0.0.2, 10.0.0.3, … | `02:00` + the four IPv4 bytes: 10.0.0.2 → `02:00:0a:00:00:02` |
//! | directly connected servers | 203.0.113.0/24 below .128 | same rule: 203.0.113.10 → `02:00:cb:00:71:0a` |
//! | next hop for remote networks | 203.0.113.2 ([`OUTSIDE_GATEWAY`]) | `02:00:cb:00:71:02` |
//! | remote hosts (198.51.100.0/24, 192.0.2.0/24, …) | — | their frames carry the next hop's MAC |
//! | NAT pool (example config) | 203.0.113.128/25 | answered by the PIC |
//!
//! For IPv6 hosts the MAC is `02:00` followed by the last four bytes of the address.
//!
//! Every frame in a generated trace is written as it *arrives at the PIC*: the source MAC
//! is the sender's (or its next hop's) MAC and the destination MAC is the router MAC of the
//! port the sender sits behind. The frame's [`Port`] says which interface it arrives on.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

/// MAC of the router's inside port `ge-0/0/0` (clients send to it).
pub const ROUTER_MAC_INSIDE: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x01, 0x00];
/// MAC of the router's outside port `ge-0/0/1` (servers and the next hop send to it).
pub const ROUTER_MAC_OUTSIDE: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x01, 0x01];
/// Address of the router's inside port `ge-0/0/0`.
pub const ROUTER_IP_INSIDE: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// Address of the router's outside port `ge-0/0/1`.
pub const ROUTER_IP_OUTSIDE: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
/// The next hop for remote networks (`route 198.51.100.0/24 next-hop 203.0.113.2`).
pub const OUTSIDE_GATEWAY: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);

/// The router interface a frame arrives on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Port {
    /// `ge-0/0/0`, the client side (10.0.0.0/24).
    Inside,
    /// `ge-0/0/1`, the server side (203.0.113.0/24 and what is routed behind it).
    Outside,
}

impl Port {
    /// The Junos interface name of this port in the example configs.
    pub fn junos_name(self) -> &'static str {
        match self {
            Port::Inside => "ge-0/0/0",
            Port::Outside => "ge-0/0/1",
        }
    }

    /// The router's MAC on this port (the destination MAC of frames arriving on it).
    pub fn router_mac(self) -> [u8; 6] {
        match self {
            Port::Inside => ROUTER_MAC_INSIDE,
            Port::Outside => ROUTER_MAC_OUTSIDE,
        }
    }

    /// The port whose router MAC is `mac`, if any.
    pub fn from_router_mac(mac: [u8; 6]) -> Option<Port> {
        match mac {
            ROUTER_MAC_INSIDE => Some(Port::Inside),
            ROUTER_MAC_OUTSIDE => Some(Port::Outside),
            _ => None,
        }
    }

    /// Index used for the pcapng interface of this port (0 = ge-0/0/0, 1 = ge-0/0/1).
    pub fn index(self) -> u32 {
        match self {
            Port::Inside => 0,
            Port::Outside => 1,
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.junos_name())
    }
}

/// An endpoint of generated traffic: the MAC its frames carry, its address, and the router
/// port its frames arrive on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Host {
    /// Source MAC of this host's frames (its own, or its next hop's for remote hosts).
    pub mac: [u8; 6],
    /// The host's IP address.
    pub ip: IpAddr,
    /// The router port this host's frames arrive on.
    pub port: Port,
}

impl Host {
    /// A host with an explicit MAC.
    pub fn new(mac: [u8; 6], ip: impl Into<IpAddr>, port: Port) -> Host {
        Host {
            mac,
            ip: ip.into(),
            port,
        }
    }

    /// A host on the inside (`ge-0/0/0`) LAN, MAC by the scheme ([`host_mac`]).
    pub fn inside(ip: impl Into<IpAddr>) -> Host {
        let ip = ip.into();
        Host::new(host_mac(ip), ip, Port::Inside)
    }

    /// A host directly connected to the outside (`ge-0/0/1`) LAN, MAC by the scheme.
    pub fn outside(ip: impl Into<IpAddr>) -> Host {
        let ip = ip.into();
        Host::new(host_mac(ip), ip, Port::Outside)
    }

    /// A remote host reached through `gateway` on the outside LAN: its frames carry the
    /// gateway's MAC.
    pub fn outside_via(ip: impl Into<IpAddr>, gateway: impl Into<IpAddr>) -> Host {
        Host::new(host_mac(gateway.into()), ip, Port::Outside)
    }

    /// A remote host behind [`OUTSIDE_GATEWAY`] (203.0.113.2).
    pub fn remote(ip: impl Into<IpAddr>) -> Host {
        Host::outside_via(ip, OUTSIDE_GATEWAY)
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, {})", self.ip, fmt_mac(self.mac), self.port)
    }
}

/// The MAC of `ip` by the scheme: `02:00` followed by the IPv4 address bytes (for IPv6,
/// the last four bytes of the address).
pub fn host_mac(ip: IpAddr) -> [u8; 6] {
    let b = match ip {
        IpAddr::V4(v4) => v4.octets(),
        IpAddr::V6(v6) => {
            let o = v6.octets();
            [o[12], o[13], o[14], o[15]]
        }
    };
    [0x02, 0x00, b[0], b[1], b[2], b[3]]
}

/// `02:00:0a:00:00:02` formatting.
pub fn fmt_mac(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_scheme() {
        let c = Host::inside(Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(fmt_mac(c.mac), "02:00:0a:00:00:02");
        assert_eq!(c.port, Port::Inside);
        let r = Host::remote(Ipv4Addr::new(198, 51, 100, 20));
        assert_eq!(fmt_mac(r.mac), "02:00:cb:00:71:02");
        assert_eq!(r.port, Port::Outside);
        assert_eq!(fmt_mac(ROUTER_MAC_INSIDE), "02:00:00:00:01:00");
        assert_eq!(
            Port::from_router_mac(ROUTER_MAC_OUTSIDE),
            Some(Port::Outside)
        );
        assert_eq!(Port::from_router_mac(c.mac), None);
    }
}
