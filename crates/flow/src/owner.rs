//! The owner function: which shard holds a packet's session, so that both directions of a
//! session, before and after NAT, meet in one shard. The XDP program computes the same
//! function; keep the two constant-for-constant.

use mspic_wire::{Parsed, L4};

use crate::nat::NatPolicy;

/// Shard owning the session of packet `p` among `shards`.
///
/// - an ICMP error belongs with the packet it quotes (its reversed tuple);
/// - a packet to a NAT pool address belongs to the shard that allocated that port (NAPT:
///   `port % shards`) or address (address-only pools: `index % shards`);
/// - everything else: the symmetric hash of the tuple, modulo `shards`.
pub fn owner(p: &Parsed, shards: u32, nat: &NatPolicy) -> u32 {
    if shards <= 1 {
        return 0;
    }
    let key = match p.l4 {
        L4::IcmpError { inner, .. } => inner.key.reversed(),
        _ => p.key,
    };
    if let Some(o) = nat.pool_owner(&key, shards) {
        return o;
    }
    key.symmetric_hash() % shards
}
