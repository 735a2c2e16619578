//! What NAT shows the control plane: counters, mappings, and a session's translation.

use std::net::{IpAddr, Ipv4Addr};

use mspic_config::TranslationType;
use mspic_wire::{proto, FlowKey};

use super::{NatPolicy, SessionNat};
use crate::snapshot::{Endpoint, NatSnapshot, NatTranslation};

/// Counters of one pool in one shard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Ports allocated now.
    pub ports_in_use: u64,
    /// Most ports allocated at once.
    pub max_ports_in_use: u64,
    /// Addresses in use now.
    pub addrs_in_use: u64,
    /// Most addresses in use at once.
    pub max_addrs_in_use: u64,
    /// Allocations refused for want of a port.
    pub out_of_port_errors: u64,
    /// Allocations refused for want of an address.
    pub out_of_address_errors: u64,
    /// Ports whose parity could not be kept.
    pub parity_port_errors: u64,
    /// Ports whose range (below 1024 or not) could not be kept.
    pub preserve_range_errors: u64,
    /// Port blocks held now (secured port block allocation).
    pub port_blocks_in_use: u64,
    /// Most port blocks held at once.
    pub max_port_blocks_used: u64,
    /// New blocks refused: no free block left.
    pub port_block_allocation_errors: u64,
    /// Ports refused to a subscriber holding `max-blocks-per-address` full blocks.
    pub port_blocks_limit_exceeded_errors: u64,
    /// Subscribers holding blocks now.
    pub pool_users: u64,
    /// deterministic-napt44: sessions refused because the subscriber's block was full.
    pub detnat_subscriber_exceeded_port_limits: u64,
}

/// NAT counters behind `show services nat statistics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatStats {
    /// Sessions translated.
    pub sessions_translated: u64,
    /// Sessions translated, per type (order of `TranslationType::ALL`).
    pub by_type: [u64; TranslationType::ALL.len()],
    /// ICMP errors translated for a translated flow.
    pub icmp_error_translations: u64,
    /// Packets to a pool address with no session nor mapping, dropped.
    pub pool_no_session_drops: u64,
    /// Allocations that failed.
    pub allocation_failures: u64,
    /// Endpoint-independent mappings created.
    pub eim_mappings_created: u64,
    /// Sessions that reused an endpoint-independent mapping.
    pub eim_mappings_reused: u64,
    /// Sessions created by inbound traffic through an endpoint-independent filter.
    pub eif_sessions_created: u64,
    /// Packets rewritten.
    pub packets_translated: u64,
    /// PPTP PNS Call IDs replaced by another under port translation (one per call).
    pub gre_call_id_translations: u64,
    /// GRE packets whose call id was written back to the PNS's own (calls whose id was
    /// replaced).
    pub gre_call_id_restorations: u64,
    /// Packets of stateful NAT64 sessions the IP/ICMP translator refused (RFC 7915: a
    /// type with no counterpart, malformed, or too large for the frame buffer).
    pub nat64_untranslatable: u64,
    /// IPv4 packets of stateful NAT64 sessions sent as IPv6 fragments: too big for the
    /// IPv6 link once translated, without DF (RFC 7915 §4).
    pub nat64_fragmented: u64,
    /// Fragments of those packets not sent: no room left for generated frames.
    pub nat64_fragment_drops: u64,
}

impl NatStats {
    /// Adds another shard's counters.
    pub fn merge(&mut self, o: &NatStats) {
        self.sessions_translated += o.sessions_translated;
        for (a, b) in self.by_type.iter_mut().zip(o.by_type) {
            *a += b;
        }
        self.icmp_error_translations += o.icmp_error_translations;
        self.gre_call_id_translations += o.gre_call_id_translations;
        self.gre_call_id_restorations += o.gre_call_id_restorations;
        self.pool_no_session_drops += o.pool_no_session_drops;
        self.allocation_failures += o.allocation_failures;
        self.eim_mappings_created += o.eim_mappings_created;
        self.eim_mappings_reused += o.eim_mappings_reused;
        self.eif_sessions_created += o.eif_sessions_created;
        self.packets_translated += o.packets_translated;
        self.nat64_untranslatable += o.nat64_untranslatable;
        self.nat64_fragmented += o.nat64_fragmented;
        self.nat64_fragment_drops += o.nat64_fragment_drops;
    }
}

/// The `NAT PLugin Data` part of a session snapshot, for a session with translation `nat`,
/// arrival keys `keys` and, for an ALG child, whether it started from the parent's
/// responder side.
pub fn snapshot(
    nat: &SessionNat,
    keys: &[FlowKey; 2],
    from_responder: bool,
    p: &NatPolicy,
) -> Option<NatSnapshot> {
    let kind = nat.kind?;
    // Seen from the initiator's side, as the parent shows it: an ALG child started from
    // the responder's side is described by its second flow.
    let i = usize::from(from_responder);
    let k = keys[i];
    let ports = proto::has_ports(k.proto);
    let ep = |a: IpAddr, port: u16, show: bool| Endpoint {
        addr: a,
        port: show.then_some(port),
    };
    // NAT64 shows the ICMPv6 identifier as the port (the Junos sample of
    // docs/commands.md, 17.1 layout).
    let nat64 = kind == TranslationType::StatefulNat64;
    let src_ports = (ports
        && matches!(
            kind,
            TranslationType::Napt44
                | TranslationType::TwiceNapt44
                | TranslationType::DeterministicNapt44
        ))
        || (nat64 && (ports || k.proto == proto::ICMPV6));
    let source = nat.rewrite[i].src.map(|(a, port)| NatTranslation {
        original: ep(k.src, k.src_port, src_ports),
        translated: ep(a, port, src_ports),
    });
    let destination = nat.rewrite[i].dst.map(|(a, port)| NatTranslation {
        original: ep(k.dst, k.dst_port, false),
        translated: ep(a, port, false),
    });
    Some(NatSnapshot {
        translation_type: kind,
        source,
        destination,
        pool: nat
            .pool
            .and_then(|i| p.pools.get(i as usize))
            .map(|x| x.name.clone()),
    })
}

/// One endpoint-independent mapping as `show services nat mappings detail` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingSnapshot {
    /// Service set whose rule made the mapping.
    pub set: u16,
    /// Pool index.
    pub pool: u16,
    /// IP protocol.
    pub protocol: u8,
    /// Internal address.
    pub internal: IpAddr,
    /// Internal port.
    pub internal_port: u16,
    /// External (pool) address.
    pub external: Ipv4Addr,
    /// External port.
    pub external_port: u16,
    /// Sessions using the mapping.
    pub sessions: u32,
    /// Whether inbound traffic from any host is admitted (EIF).
    pub eif: bool,
}

/// One paired-pooling address mapping (`address-pooling paired`) as `show services nat
/// mappings address-pooling-paired` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressMappingSnapshot {
    /// Service set whose rule made the mapping.
    pub set: u16,
    /// Pool index.
    pub pool: u16,
    /// Internal (subscriber) address.
    pub internal: IpAddr,
    /// External (pool) address.
    pub external: Ipv4Addr,
    /// Ports the subscriber holds on it (0: idle, kept for `app-mapping-timeout`).
    pub ports: u32,
}

/// What a shard reports of its NAT state to the control plane.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatSummary {
    /// Per pool (index as in `NatPolicy::pools`).
    pub pools: Vec<PoolStats>,
    /// Internal hosts holding an address (address-only pools, paired pooling).
    pub address_mappings: u64,
    /// Endpoint-independent mappings.
    pub mappings: Vec<MappingSnapshot>,
    /// Paired-pooling address mappings.
    pub paired: Vec<AddressMappingSnapshot>,
    /// Counters.
    pub stats: NatStats,
}
