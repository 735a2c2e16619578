//! Network address translation with the MS-PIC's semantics: pools, the nine translation
//! types (stateful NAT64, RFC 6146, among them), shard-owned port and address allocation,
//! endpoint-independent mapping and filtering (RFC 4787 §4.1, §5), paired address pooling (RFC 7857 §4 / RFC 6888 REQ-2),
//! and ICMP error translation (RFC 5508 §4).
//!
//! Shard ownership (see [`crate::owner`]): with N shards, shard k allocates only ports with
//! `port % N == k` in NAPT pools and only addresses with `index % N == k` in address-only
//! pools, so a reply to a pool address is steered to the shard that holds its session.
//! Static translations (basic-nat44, dnat-44) are undone before hashing, and rules whose
//! state is per internal host (dynamic-nat44, paired pooling, endpoint-independent
//! mapping) pin that host to one shard; both are facts of [`NatPolicy`], so the owner
//! function and the allocator read the same definitions.

mod blocks;
mod icmp;
mod policy;
mod ports;
mod reports;
mod state;

use std::net::{IpAddr, Ipv4Addr};

use mspic_config::TranslationType;
use mspic_wire::proto;

pub use blocks::{BlockEvent, BlockEventKind};
pub use icmp::translate_icmp_error;
pub use policy::{
    NatAction, NatPolicy, NatPolicyError, NatRuleRt, NatTermRt, PoolRt, StaticMap, Translate,
};
pub use reports::{
    snapshot, AddressMappingSnapshot, MappingSnapshot, NatStats, NatSummary, PoolStats,
};
pub use state::{EimMapping, NatError, NatState};

/// Header rewrite applied to every packet of one flow: new source and/or destination
/// address and port (ICMP query id for ICMP).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rewrite {
    /// New source address and port.
    pub src: Option<(IpAddr, u16)>,
    /// New destination address and port.
    pub dst: Option<(IpAddr, u16)>,
}

impl Rewrite {
    /// True when the flow is not rewritten.
    pub fn is_none(&self) -> bool {
        self.src.is_none() && self.dst.is_none()
    }
}

/// What a session holds of a pool, so it can be given back when the session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocation {
    /// Pool index (as in `NatPolicy::pools`).
    pub pool: u16,
    /// Address index in the pool.
    pub addr: u32,
    /// Allocated port (NAPT); `None` for address-only pools.
    pub port: Option<u16>,
    /// Protocol class of the port (TCP, UDP, ICMP, other).
    pub proto_class: u8,
    /// Port class (range × parity) the port came from.
    pub port_class: u8,
    /// The internal endpoint (EIM mapping / address pairing key).
    pub internal: IpAddr,
    /// The internal port (EIM mapping key).
    pub internal_port: u16,
    /// Held through an endpoint-independent mapping (refcounted there).
    pub eim: bool,
}

/// A session's translation: per-flow rewrites (`[I, O]`, read on every packet, so first)
/// and what `extensive` shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct SessionNat {
    /// Per-flow rewrites, `[I, O]`.
    pub rewrite: [Rewrite; 2],
    /// The translation type shown; `None`: not translated.
    pub kind: Option<TranslationType>,
    /// What the session holds of a pool.
    pub alloc: Option<Allocation>,
    /// Source pool index (for `show services nat pool` and the extensive view).
    pub pool: Option<u16>,
}

fn v4(a: IpAddr) -> Option<Ipv4Addr> {
    match a {
        IpAddr::V4(v) => Some(v),
        IpAddr::V6(_) => None,
    }
}

/// Protocols whose key carries ports (or an ICMP query id) that NAPT can translate.
pub fn napt_translatable(p: u8) -> bool {
    proto::has_ports(p) || p == proto::ICMP
}

fn proto_class(p: u8) -> u8 {
    match p {
        proto::TCP => 0,
        proto::UDP => 1,
        proto::ICMP => 2,
        _ => 3,
    }
}
