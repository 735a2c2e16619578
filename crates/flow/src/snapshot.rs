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
/// Session header flag of a stateful NAT64 session, in place of [`FLAG_NAT`]: the one
/// Junos NAT64 sample (docs/commands.md, release 17.1) shows `Flags: 0x200000`.
pub const FLAG_NAT64: u32 = 0x20_0000;

/// What a flow does with the packets that match it (`State` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowState {
    /// Packets go on.
    Forward,
    /// Packets go on through the session's ALG.
    Watch,
    /// Packets are dropped.
    Drop,
    /// Packets are dropped and answered (RST or ICMP).
    Reject,
    /// Not inspected (never set by this emulator).
    Bypass,
    /// State not known.
    Unknown,
}

impl FlowState {
    /// The word the show commands print.
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
    /// The initiator's flow.
    I,
    /// The responder's flow.
    O,
}

impl FlowDirection {
    /// The word the show commands print.
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
    /// The flow of the side that started the session.
    Initiator,
    /// The flow of the side that answered.
    Responder,
    /// Not used by this emulator (shown by Junos for some ALG flows).
    Master,
    /// Role not known.
    Unknown,
}

impl FlowRole {
    /// The words the show commands print.
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
    /// Address.
    pub addr: IpAddr,
    /// Port, when shown.
    pub port: Option<u16>,
}

/// One unidirectional flow of a session, as shown on a flow line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSnapshot {
    /// IP protocol number.
    pub protocol: u8,
    /// Source endpoint.
    pub src: Endpoint,
    /// Destination endpoint.
    pub dst: Endpoint,
    /// What the flow does with its packets.
    pub state: FlowState,
    /// `I` or `O`.
    pub direction: FlowDirection,
    /// Packets seen.
    pub frames: u64,
    /// Bytes seen (IP length).
    pub bytes: u64,
    /// Initiator or responder.
    pub role: FlowRole,
    /// Configured inactivity timeout of this flow in seconds (0 = never).
    pub timeout: u32,
}

/// One translation line of the `NAT PLugin Data:` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatTranslation {
    /// Before translation.
    pub original: Endpoint,
    /// After translation.
    pub translated: Endpoint,
}

/// The NAT part of a session (extensive output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatSnapshot {
    /// The translation type.
    pub translation_type: TranslationType,
    /// The source translation, if any.
    pub source: Option<NatTranslation>,
    /// The destination translation, if any.
    pub destination: Option<NatTranslation>,
    /// The source pool's name.
    pub pool: Option<String>,
}

/// One session as the control plane sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSnapshot {
    /// Services interface (`ms-1/1/0`).
    pub interface: String,
    /// Service set name.
    pub service_set: String,
    /// Unique per services interface.
    pub id: u64,
    /// `None` prints `none`.
    pub alg: Option<AppProtocol>,
    /// Header `Flags:` bits (`FLAG_*`).
    pub flags: u32,
    /// Junos's `IP Action` (always off here).
    pub ip_action: bool,
    /// Junos's `Offload` (always off here).
    pub offload: bool,
    /// Junos's `Asymmetric` (always off here).
    pub asymmetric: bool,
    /// Seconds left before the session times out, as of the shard's latest clock (the
    /// `now` of its last packet or timer call); 0 = never. `Session timeout:` of the 17.1
    /// header (its sample: 72 on flows with a 100 s timeout).
    pub session_timeout: u32,
    /// The `NAT PLugin Data` block.
    pub nat: Option<NatSnapshot>,
    /// Display order: normally `[I, O]`; ALG children may list the O flow first.
    pub flows: Vec<FlowSnapshot>,
    /// Parent session id for ALG children (`show services alg conversations`).
    pub parent: Option<u64>,
    /// The DS-Lite softwire of the session (RFC 6333).
    pub softwire: Option<SoftwireSnapshot>,
}

/// The two ends of a session's DS-Lite softwire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoftwireSnapshot {
    /// The B4 (softwire initiator).
    pub b4: std::net::Ipv6Addr,
    /// The concentrator's softwire address.
    pub aftr: std::net::Ipv6Addr,
}

/// Sessions and flows of one (services interface, service set): a row of `show services
/// sessions count` and `show services flows count`, before shards are added up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCount {
    /// Services interface name.
    pub interface: String,
    /// Service set name.
    pub service_set: String,
    /// Sessions.
    pub sessions: u64,
    /// Their flows.
    pub flows: u64,
}

/// The filters of `show/clear services sessions` (all optional, all combined with AND).
/// A session matches an address/port filter when either of its flows matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// `application-protocol`: sessions handed to this ALG.
    pub application_protocol: Option<AppProtocol>,
    /// `destination-port`: either flow's.
    pub destination_port: Option<u16>,
    /// `destination-prefix`: either flow's.
    pub destination_prefix: Option<Prefix>,
    /// `interface`: services interface name.
    pub interface: Option<String>,
    /// `limit`: most sessions to show (applied by the caller).
    pub limit: Option<usize>,
    /// `protocol`: IP protocol.
    pub protocol: Option<u8>,
    /// `service-set`: service set name.
    pub service_set: Option<String>,
    /// `source-port`: either flow's.
    pub source_port: Option<u16>,
    /// `source-prefix`: either flow's.
    pub source_prefix: Option<Prefix>,
}

impl SessionFilter {
    /// Whether the filter lets every session through (`limit` aside).
    pub fn selects_all(&self) -> bool {
        *self
            == SessionFilter {
                limit: self.limit,
                ..SessionFilter::default()
            }
    }

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
    /// New flows accepted by a rule.
    pub rule_accepts: u64,
    /// New flows discarded by a rule (or no rule).
    pub rule_discards: u64,
    /// New flows rejected by a rule.
    pub rule_rejects: u64,
    // Existing flow types packet counters
    /// Packets of existing Forward/Watch flows.
    pub existing_accepts: u64,
    /// Packets of existing Drop flows.
    pub existing_drops: u64,
    /// Packets of existing Reject flows.
    pub existing_rejects: u64,
    // Hairpinning
    /// Hairpinned packets, slow path (always 0 here).
    pub hairpin_slow_path: u64,
    /// Hairpinned packets, fast path (always 0 here).
    pub hairpin_fast_path: u64,
    // Drops
    /// Dropped for IPv4 options the firewall term does not allow, or malformed ones.
    pub drop_ip_options: u64,
    /// Dropped by TCP SYN defense (always 0 here).
    pub drop_tcp_syn_defense: u64,
    /// Dropped for want of a NAT port.
    pub drop_nat_ports_exhausted: u64,
    /// Dropped at a session limit.
    pub drop_session_limit: u64,
    /// Dropped for want of a route.
    pub drop_no_route: u64,
    /// Dropped because the TTL ran out.
    pub drop_ttl_exceeded: u64,
    /// Dropped for a bad TCP/UDP/ICMP checksum.
    pub drop_bad_checksum: u64,
    /// TCP sessions that did not start with a SYN.
    pub drop_tcp_non_syn_first: u64,
    /// ICMP errors quoting no session.
    pub drop_icmp_error_no_session: u64,
    // Errors by protocol
    /// Malformed packets by protocol.
    pub errors: ProtocolErrors,
    /// ALG pinholes, children and payload handling.
    pub alg: AlgStats,
    /// DS-Lite softwires (`show services softwire statistics`).
    pub softwire: SoftwireStats,
    /// Frames through the interface (`show interfaces`). Kept beside the firewall
    /// counters because they are charged, merged and renamed the same way, but
    /// `clear services stateful-firewall statistics` leaves them.
    pub traffic: InterfaceTraffic,
}

/// What the DS-Lite concentrators of a services interface did (RFC 6333).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SoftwireStats {
    /// IPv4 packets taken out of B4s' IPv6 packets.
    pub decapsulated: u64,
    /// IPv4 packets sent to B4s in IPv6.
    pub encapsulated: u64,
    /// Sessions created through a softwire.
    pub flows_created: u64,
    /// Fragmentation needed sent: a DF packet too big for `mtu-v6` once encapsulated.
    pub too_big: u64,
    /// Packets too big for `mtu-v6` once encapsulated that could not be fragmented
    /// (no room in the frame, an `mtu-v6` too small to cut for), dropped.
    pub mtu_drops: u64,
    /// Tunnel packets dropped: not IPv4 inside, malformed inside.
    pub decap_errors: u64,
    /// Tunnel packets reassembled from IPv6 fragments (RFC 6333 §5.3).
    pub reassembled: u64,
    /// Tunnel fragments dropped: malformed, overlapping, too many packets or fragments
    /// pending, a packet too long, or its time ran out (counted per packet abandoned).
    pub reassembly_drops: u64,
    /// Packets to B4s sent as IPv6 fragments: too big for `mtu-v6` once encapsulated,
    /// without DF (RFC 6333 §5.3, RFC 2473 §7.2).
    pub fragmented: u64,
}

/// What `show interfaces ms-…` counts: the frames steered into a services interface
/// (input), those it sent on (output: forwarded, or a reply it built) and those it dropped.
/// Bytes are whole frames as received and as sent (after any rewrite). The rates are those
/// of the last whole second of the shard's clock (0 once a second passed without traffic).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterfaceTraffic {
    /// Frames in.
    pub input_packets: u64,
    /// Bytes of the frames in.
    pub input_bytes: u64,
    /// Frames out.
    pub output_packets: u64,
    /// Bytes of the frames out.
    pub output_bytes: u64,
    /// Frames in that went no further (any drop reason).
    pub drops: u64,
    /// Frames in per second.
    pub input_pps: u64,
    /// Bits in per second.
    pub input_bps: u64,
    /// Frames out per second.
    pub output_pps: u64,
    /// Bits out per second.
    pub output_bps: u64,
    /// The second being counted for the rates and its counts so far (input packets and
    /// bytes, output packets and bytes); not merged.
    pub window: (u64, [u64; 4]),
    /// The engine time (ns) at which the window's second ends: a frame before it is
    /// counted without working out its second; not merged.
    pub window_end_ns: u64,
}

const NS_PER_SEC: u64 = 1_000_000_000;

impl InterfaceTraffic {
    /// Moves the rate window to second `sec`: the rates become the counts of the window
    /// just closed when it is the second before, else 0; the closed window's counts join
    /// the totals.
    pub fn roll(&mut self, sec: u64) {
        let (w, counts) = self.window;
        if sec > w {
            let c = if sec == w + 1 { counts } else { [0; 4] };
            (self.input_pps, self.input_bps) = (c[0], c[1] * 8);
            (self.output_pps, self.output_bps) = (c[2], c[3] * 8);
            self.settle();
            self.window = (sec, [0; 4]);
        }
        self.window_end_ns = self.window.0.saturating_add(1).saturating_mul(NS_PER_SEC);
    }

    /// Adds the open window's counts to the totals and empties it: the totals as of now,
    /// for a copy that is read (the rates of the open second are lost to it).
    pub fn settle(&mut self) {
        let c = std::mem::take(&mut self.window.1);
        self.input_packets += c[0];
        self.input_bytes += c[1];
        self.output_packets += c[2];
        self.output_bytes += c[3];
        self.drops += c[0] - c[2];
    }

    /// Counts a frame in at engine time `now_ns`, and its way out (`Some(bytes)` when sent
    /// on; else it is a drop). Per packet only the open second's counts move (the totals
    /// take them once a second, drops are frames in less frames out), and the second is
    /// worked out (a division) only when it changes.
    pub fn count(&mut self, now_ns: u64, in_bytes: u64, out_bytes: Option<u64>) {
        if now_ns >= self.window_end_ns {
            self.roll(now_ns / NS_PER_SEC);
        }
        let w = &mut self.window.1;
        w[0] += 1;
        w[1] += in_bytes;
        if let Some(b) = out_bytes {
            w[2] += 1;
            w[3] += b;
        }
    }
}

/// `show services service-sets statistics tcp-mss` counters of one service set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpMssStats {
    /// TCP SYNs (and SYN-ACKs) of the set's sessions seen.
    pub syn_received: u64,
    /// Of those, the ones whose MSS option was lowered to the set's `tcp-mss`.
    pub syn_modified: u64,
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
    /// Pinholes not opened because the session's application does not admit the Sun RPC
    /// program or DCE RPC interface (`rpc-program-number`, `uuid`).
    pub not_admitted: u64,
}

/// Malformed-packet counters, by protocol, with the detail `extensive` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProtocolErrors {
    /// IP errors.
    pub ip: IpErrors,
    /// TCP errors.
    pub tcp: TcpErrors,
    /// UDP errors.
    pub udp: UdpErrors,
    /// ICMP errors.
    pub icmp: IcmpErrors,
    /// Frames that are not IP.
    pub non_ip: u64,
    /// Packets an ALG refused.
    pub alg: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
/// IP errors (`extensive`).
pub struct IpErrors {
    /// All IP errors.
    pub total: u64,
    /// Truncated packets.
    pub truncated: u64,
    /// Bad header length.
    pub bad_header_length: u64,
    /// Bad total length.
    pub bad_total_length: u64,
    /// Bad version.
    pub bad_version: u64,
    /// Bad header checksum.
    pub bad_checksum: u64,
    /// TTL zero (always 0 here).
    pub ttl_zero: u64,
    /// Bad source address (always 0 here).
    pub bad_source_address: u64,
    /// Later fragments whose first was not seen.
    pub fragment: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
/// TCP errors (`extensive`).
pub struct TcpErrors {
    /// All TCP errors.
    pub total: u64,
    /// Bad header length.
    pub header_length: u64,
    /// Port zero.
    pub port_zero: u64,
    /// Bad flags (always 0 here).
    pub bad_flags: u64,
    /// Bad checksum.
    pub bad_checksum: u64,
    /// First packet not a SYN.
    pub non_syn_first: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
/// UDP errors (`extensive`).
pub struct UdpErrors {
    /// All UDP errors.
    pub total: u64,
    /// Bad header length.
    pub header_length: u64,
    /// Port zero.
    pub port_zero: u64,
    /// Bad checksum.
    pub bad_checksum: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
/// ICMP errors (`extensive`).
pub struct IcmpErrors {
    /// All ICMP errors.
    pub total: u64,
    /// Bad header length.
    pub header_length: u64,
    /// ICMP error quoting no session.
    pub error_no_session: u64,
    /// Bad checksum.
    pub bad_checksum: u64,
}

/// Sums counters field by field (merging shards).
macro_rules! merge_fields {
    ($t:ty { $($f:ident),* $(,)? } $( nested { $($n:ident),* } )?) => {
        impl $t {
            /// Adds another shard's counters.
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
} nested { errors, alg, softwire, traffic });
merge_fields!(SoftwireStats {
    decapsulated,
    encapsulated,
    flows_created,
    too_big,
    mtu_drops,
    decap_errors,
    reassembled,
    reassembly_drops,
    fragmented,
});
merge_fields!(InterfaceTraffic {
    input_packets,
    input_bytes,
    output_packets,
    output_bytes,
    drops,
    input_pps,
    input_bps,
    output_pps,
    output_bps,
});
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
    not_admitted,
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
