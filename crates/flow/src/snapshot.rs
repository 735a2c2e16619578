//! Plain-data copies of sessions and counters that a shard hands to the control plane.
//! The control plane filters, merges, sorts and renders these; it never sees live state.

use std::net::IpAddr;

use mspic_config::{AppProtocol, Prefix, TranslationType};

/// Session header flag: the session is a child opened through an ALG pinhole.
pub const FLAG_ALG_CHILD: u32 = 0x0800;
/// Session header flag: the session is an ALG control (parent) session.
pub const FLAG_ALG_PARENT: u32 = 0x2000;
/// Session header flag: RPC-family parent (portmapper, dce-rpc).
pub const FLAG_RPC_PARENT: u32 = 0x1000;
/// Session header flag: NAT applied.
pub const FLAG_NAT: u32 = 0x0080;

/// What a flow does with the packets that match it (`State` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowState {
    Forward,
    Watch,
    Drop,
    Reject,
    Bypass,
    Unknown,
}

impl FlowState {
    pub fn show_name(self) -> &'static str {
        match self {
            FlowState::Forward => "Forward",
            FlowState::Watch => "Watch",
            FlowState::Drop => "Drop",
            FlowState::Reject => "Reject",
            FlowState::Bypass => "Bypass",
            FlowState::Unknown => "Unknown",
        }
    }
}

/// `I` (initiator's direction, pre-NAT tuple) or `O` (responder's, post-NAT reverse tuple).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowDirection {
    I,
    O,
}

impl FlowDirection {
    pub fn show_name(self) -> &'static str {
        match self {
            FlowDirection::I => "I",
            FlowDirection::O => "O",
        }
    }
}

/// `Flow role:` in extensive output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowRole {
    Initiator,
    Responder,
    Master,
    Unknown,
}

impl FlowRole {
    pub fn show_name(self) -> &'static str {
        match self {
            FlowRole::Initiator => "Initiator",
            FlowRole::Responder => "Responder",
            FlowRole::Master => "Master",
            FlowRole::Unknown => "Unknown",
        }
    }
}

/// One address with an optional port (`None` for port-less protocols or address-only NAT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub addr: IpAddr,
    pub port: Option<u16>,
}

/// One unidirectional flow of a session, as shown on a flow line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSnapshot {
    /// IP protocol number.
    pub protocol: u8,
    pub src: Endpoint,
    pub dst: Endpoint,
    pub state: FlowState,
    pub direction: FlowDirection,
    pub frames: u64,
    pub bytes: u64,
    pub role: FlowRole,
    /// Configured inactivity timeout of this flow in seconds (0 = never).
    pub timeout: u32,
}

/// One translation line of the `NAT PLugin Data:` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatTranslation {
    pub original: Endpoint,
    pub translated: Endpoint,
}

/// The NAT part of a session (extensive output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatSnapshot {
    pub translation_type: TranslationType,
    pub source: Option<NatTranslation>,
    pub destination: Option<NatTranslation>,
    pub pool: Option<String>,
}

/// One session as the control plane sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSnapshot {
    /// Services interface (`ms-1/1/0`).
    pub interface: String,
    pub service_set: String,
    /// Unique per services interface.
    pub id: u64,
    /// `None` prints `none`.
    pub alg: Option<AppProtocol>,
    pub flags: u32,
    pub ip_action: bool,
    pub offload: bool,
    pub asymmetric: bool,
    pub nat: Option<NatSnapshot>,
    /// Display order: normally `[I, O]`; ALG children may list the O flow first.
    pub flows: Vec<FlowSnapshot>,
    /// Parent session id for ALG children (`show services alg conversations`).
    pub parent: Option<u64>,
}

/// The filters of `show/clear services sessions` (all optional, all combined with AND).
/// A session matches an address/port filter when either of its flows matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    pub application_protocol: Option<AppProtocol>,
    pub destination_port: Option<u16>,
    pub destination_prefix: Option<Prefix>,
    pub interface: Option<String>,
    pub limit: Option<usize>,
    pub protocol: Option<u8>,
    pub service_set: Option<String>,
    pub source_port: Option<u16>,
    pub source_prefix: Option<Prefix>,
}

impl SessionFilter {
    /// True when `s` passes every filter except `limit` (which the caller applies).
    pub fn matches(&self, s: &SessionSnapshot) -> bool {
        self.matches_parts(&s.interface, &s.service_set, s.alg, &s.flows)
    }

    /// The same test on a session's parts, so shards can filter without building snapshots.
    pub fn matches_parts(
        &self,
        interface: &str,
        service_set: &str,
        alg: Option<AppProtocol>,
        flows: &[FlowSnapshot],
    ) -> bool {
        if let Some(p) = self.application_protocol {
            if alg != Some(p) && !same_alg_family(alg, p) {
                return false;
            }
        }
        if self.interface.as_ref().is_some_and(|i| i != interface) {
            return false;
        }
        if self.service_set.as_ref().is_some_and(|s| s != service_set) {
            return false;
        }
        if self
            .protocol
            .is_some_and(|p| !flows.iter().any(|f| f.protocol == p))
        {
            return false;
        }
        let flow_ok = |f: &FlowSnapshot| {
            self.source_port.is_none_or(|p| f.src.port == Some(p))
                && self.destination_port.is_none_or(|p| f.dst.port == Some(p))
                && self.source_prefix.is_none_or(|p| p.contains(f.src.addr))
                && self
                    .destination_prefix
                    .is_none_or(|p| p.contains(f.dst.addr))
        };
        flows.iter().any(flow_ok)
    }
}

/// `application-protocol rpc` also lists portmapper sessions and vice versa, as on the device.
fn same_alg_family(alg: Option<AppProtocol>, wanted: AppProtocol) -> bool {
    use AppProtocol::*;
    matches!(
        (alg, wanted),
        (Some(Rpc | RpcPortmap), Rpc | RpcPortmap)
            | (Some(DceRpc | DceRpcPortmap), DceRpc | DceRpcPortmap)
    )
}

/// Counters behind `show services stateful-firewall statistics`, per services interface.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SfwStats {
    // New flows
    pub rule_accepts: u64,
    pub rule_discards: u64,
    pub rule_rejects: u64,
    // Existing flow types packet counters
    pub existing_accepts: u64,
    pub existing_drops: u64,
    pub existing_rejects: u64,
    // Hairpinning
    pub hairpin_slow_path: u64,
    pub hairpin_fast_path: u64,
    // Drops
    pub drop_ip_options: u64,
    pub drop_tcp_syn_defense: u64,
    pub drop_nat_ports_exhausted: u64,
    pub drop_session_limit: u64,
    pub drop_no_route: u64,
    pub drop_ttl_exceeded: u64,
    pub drop_bad_checksum: u64,
    pub drop_tcp_non_syn_first: u64,
    pub drop_icmp_error_no_session: u64,
    // Errors by protocol
    pub errors: ProtocolErrors,
    /// ALG pinholes, children and payload handling.
    pub alg: AlgStats,
}

/// ALG counters (`Pinholes` in the plain statistics, `ALG counters` in `extensive`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlgStats {
    /// Pinholes opened (counted by the shard that opened them).
    pub pinholes_created: u64,
    /// Pinholes filled by a child session's first packet.
    pub pinholes_used: u64,
    /// Pinholes that timed out unused.
    pub pinholes_expired: u64,
    /// Pinholes and child sessions removed with their parent.
    pub closed_with_parent: u64,
    /// Packets whose payload an ALG rewrote.
    pub payload_rewrites: u64,
    /// Segments whose length changed (a sequence correction recorded).
    pub length_changes: u64,
    /// Segments dropped because a watched command line did not end in them.
    pub partial_lines: u64,
    /// Payload addresses naming a third host (FTP bounce), refused.
    pub third_host: u64,
    /// Malformed ALG messages, refused.
    pub malformed: u64,
    /// Rewrites that did not fit the frame, or fragmented ALG payload.
    pub no_room: u64,
    /// No NAT port left for an expected flow.
    pub nat_exhausted: u64,
    /// Sessions closed once their last response was through (DNS).
    pub closed_by_response: u64,
}

/// Malformed-packet counters, by protocol, with the detail `extensive` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProtocolErrors {
    pub ip: IpErrors,
    pub tcp: TcpErrors,
    pub udp: UdpErrors,
    pub icmp: IcmpErrors,
    pub non_ip: u64,
    pub alg: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpErrors {
    pub total: u64,
    pub truncated: u64,
    pub bad_header_length: u64,
    pub bad_total_length: u64,
    pub bad_version: u64,
    pub bad_checksum: u64,
    pub ttl_zero: u64,
    pub bad_source_address: u64,
    pub fragment: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpErrors {
    pub total: u64,
    pub header_length: u64,
    pub port_zero: u64,
    pub bad_flags: u64,
    pub bad_checksum: u64,
    pub non_syn_first: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UdpErrors {
    pub total: u64,
    pub header_length: u64,
    pub port_zero: u64,
    pub bad_checksum: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IcmpErrors {
    pub total: u64,
    pub header_length: u64,
    pub error_no_session: u64,
    pub bad_checksum: u64,
}

/// Sums counters field by field (merging shards).
macro_rules! merge_fields {
    ($t:ty { $($f:ident),* $(,)? } $( nested { $($n:ident),* } )?) => {
        impl $t {
            pub fn merge(&mut self, o: &Self) {
                $( self.$f += o.$f; )*
                $( $( self.$n.merge(&o.$n); )* )?
            }
        }
    };
}

merge_fields!(SfwStats {
    rule_accepts, rule_discards, rule_rejects, existing_accepts, existing_drops,
    existing_rejects, hairpin_slow_path, hairpin_fast_path, drop_ip_options,
    drop_tcp_syn_defense, drop_nat_ports_exhausted, drop_session_limit, drop_no_route,
    drop_ttl_exceeded, drop_bad_checksum, drop_tcp_non_syn_first, drop_icmp_error_no_session,
} nested { errors, alg });
merge_fields!(AlgStats {
    pinholes_created,
    pinholes_used,
    pinholes_expired,
    closed_with_parent,
    payload_rewrites,
    length_changes,
    partial_lines,
    third_host,
    malformed,
    no_room,
    nat_exhausted,
    closed_by_response,
});
merge_fields!(ProtocolErrors { non_ip, alg } nested { ip, tcp, udp, icmp });
merge_fields!(IpErrors {
    total,
    truncated,
    bad_header_length,
    bad_total_length,
    bad_version,
    bad_checksum,
    ttl_zero,
    bad_source_address,
    fragment,
});
merge_fields!(TcpErrors {
    total,
    header_length,
    port_zero,
    bad_flags,
    bad_checksum,
    non_syn_first
});
merge_fields!(UdpErrors {
    total,
    header_length,
    port_zero,
    bad_checksum
});
merge_fields!(IcmpErrors {
    total,
    header_length,
    error_no_session,
    bad_checksum
});
