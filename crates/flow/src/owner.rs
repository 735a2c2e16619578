//! The owner function: which shard holds a packet's session, so that both directions of a
//! session, before and after NAT, meet in one shard. The XDP program computes the same
//! function; keep the two constant-for-constant.

use std::net::IpAddr;

use mspic_wire::{FlowKey, Fragment, Parsed, L4};

use crate::nat::NatPolicy;

/// Shard owning the session of packet `p` among `shards`:
///
/// 1. an ICMP error belongs with the packet it quotes (its reversed tuple);
/// 2. a packet to a source-pool address belongs to the shard that allocated it: NAPT by
///    `port % shards` (the ICMP query id for ICMP), or by the port's block under port
///    block allocation ([`block_owner`]), address-only pools and port-less protocols by
///    `address index % shards`;
/// 3. a packet from or to one deterministic-napt44 subscriber belongs to the owner of
///    its computed block (where the replies to its ports go);
/// 4. static translations are undone first (basic-nat44 pool address → internal address,
///    dnat-44 internal address → public address), so both directions hash alike;
/// 5. an internal host whose NAT state is per host (dynamic-nat44, paired pooling,
///    endpoint-independent mapping, port block allocation) is pinned: the hash of its
///    address alone;
/// 6. everything else: the symmetric hash of the tuple.
pub fn owner(p: &Parsed, shards: u32, nat: &NatPolicy) -> u32 {
    let key = match p.l4 {
        L4::IcmpError { inner, .. } => inner.key.reversed(),
        _ => p.key,
    };
    owner_of_key(&key, shards, nat)
}

/// [`owner`] for a flow key (as a packet of that flow would arrive). A GRE call key or an
/// ESP SPI key counts as its 3-tuple, as the packet's parse gives it.
pub fn owner_of_key(key: &FlowKey, shards: u32, nat: &NatPolicy) -> u32 {
    if shards <= 1 {
        return 0;
    }
    let key = &key.tuple3();
    if let Some(o) = nat.pool_owner(key, shards) {
        return o;
    }
    // Both directions of a deterministic subscriber's flow (a reply to an untranslated one
    // is addressed to it); a flow between two subscribers is hashed.
    match (
        nat.det_owner(key.src, shards),
        nat.det_owner(key.dst, shards),
    ) {
        (Some(o), None) | (None, Some(o)) => return o,
        _ => {}
    }
    let src = nat.normalize(key.src);
    let dst = nat.normalize(key.dst);
    match (nat.is_pinned(src), nat.is_pinned(dst)) {
        (true, false) => address_hash(src) % shards,
        (false, true) => address_hash(dst) % shards,
        _ => FlowKey { src, dst, ..*key }.symmetric_hash() % shards,
    }
}

/// The shard owning pool port `port` of a pool under port block allocation whose ports
/// start at `low` in blocks of `block` ports: the shard owning its block,
/// `((port - low) / block) % shards` (a port below the range counts as block 0).
/// `bpf/steer.bpf.c` computes the same, constant for constant.
pub fn block_owner(port: u16, low: u16, block: u16, shards: u32) -> u32 {
    let block_index = u32::from(port.saturating_sub(low)) / u32::from(block.max(1));
    block_index % shards.max(1)
}

/// The shard a driver's steering table (built from [`crate::ShardMessage::Steer`]) names
/// for packet `p`: by its GRE call key first (a call-keyed PPTP child), then by its key.
pub fn steered<S: std::hash::BuildHasher>(
    steer: &std::collections::HashMap<FlowKey, u32, S>,
    p: &Parsed,
) -> Option<u32> {
    if steer.is_empty() {
        return None;
    }
    p.call_key()
        .and_then(|k| steer.get(&k))
        .or_else(|| steer.get(&p.key))
        .copied()
}

/// The hash of one address, as the symmetric hash of the address with itself (one hash
/// definition for the kernel and userspace to share).
fn address_hash(a: IpAddr) -> u32 {
    FlowKey::new(a, a, 0, 0, 0).symmetric_hash()
}
/// Where the later fragments of a datagram go: the shard its first fragment went to,
/// which alone carries the ports the owner function needs (RFC 791 §2.3: only the first
/// fragment holds the transport header). One table per receiver (a replay, a worker),
/// bounded: when full it starts over, and a later fragment whose first one is unknown
/// stays where it arrived, to be counted as a fragment without session — unless its
/// protocol has no ports (a DS-Lite tunnel packet, IPv4 in IPv6): then the owner function
/// gives the later fragment the same shard as the first, whichever comes first.
#[derive(Debug, Default)]
pub struct FragmentOwners {
    map: hashbrown::HashMap<(IpAddr, IpAddr, u32), u32>,
}

impl FragmentOwners {
    /// Datagrams remembered at most.
    pub const MAX: usize = 4096;

    /// Remembers that datagram `id` from `src` to `dst` belongs to shard `owner`.
    pub fn remember(&mut self, src: IpAddr, dst: IpAddr, id: u32, owner: u32) {
        if self.map.len() >= Self::MAX {
            self.map.clear();
        }
        self.map.insert((src, dst, id), owner);
    }

    /// The shard of datagram `id`'s first fragment, if it was seen.
    pub fn get(&self, src: IpAddr, dst: IpAddr, id: u32) -> Option<u32> {
        self.map.get(&(src, dst, id)).copied()
    }

    /// The owner of later fragment `p`: its first fragment's shard if seen, else, for a
    /// protocol without ports (IPv4 in IPv6 or IPv4, whose tunnel packets hash on
    /// addresses and protocol alone), the owner function's answer, else `unknown`.
    pub fn later(&self, p: &Parsed, shards: u32, nat: &NatPolicy, unknown: u32) -> u32 {
        let Fragment::Later { id } = p.fragment else {
            return owner(p, shards, nat);
        };
        match self.get(p.key.src, p.key.dst, id) {
            Some(o) => o,
            None if p.key.proto == mspic_wire::proto::IPIP => owner(p, shards, nat),
            None => unknown,
        }
    }

    /// The owner of a parsed frame among `shards`: the owner function for whole datagrams
    /// and first fragments (remembered), the first fragment's shard for later ones
    /// (`unknown` when it was not seen).
    pub fn route(&mut self, p: &Parsed, shards: u32, nat: &NatPolicy, unknown: u32) -> u32 {
        match p.fragment {
            Fragment::Later { .. } => self.later(p, shards, nat, unknown),
            Fragment::First { id } => {
                let o = owner(p, shards, nat);
                self.remember(p.key.src, p.key.dst, id, o);
                o
            }
            Fragment::None => owner(p, shards, nat),
        }
    }
}
