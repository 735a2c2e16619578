//! The types a shard's driver handles: frames in, verdicts out, messages between shards,
//! and the shard's static parameters.

use std::net::IpAddr;

use mspic_wire::{ErrorClass, FlowKey};

use crate::alg::Pinhole;
use crate::route::IfIndex;

/// A frame being processed: the buffer may be longer than the frame (room for replies and
/// ALG rewrites that grow the payload).
pub struct Frame<'a> {
    /// The buffer; the frame is its first `len` bytes.
    pub buf: &'a mut [u8],
    /// Length of the frame.
    pub len: usize,
}

impl<'a> Frame<'a> {
    /// The first `len` bytes of `buf` (at most all of it).
    pub fn new(buf: &'a mut [u8], len: usize) -> Self {
        let len = len.min(buf.len());
        Frame { buf, len }
    }
    /// The frame's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// What to do with a frame after [`Shard::process`](crate::Shard::process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send the (possibly rewritten) frame out of `egress` towards `next_hop`.
    Forward {
        /// Interface to send it out of.
        egress: IfIndex,
        /// Address to resolve at L2: the destination, or the gateway towards it.
        next_hop: IpAddr,
    },
    /// The frame now holds a reply generated here (TCP RST, ICMP error): send it out of
    /// `egress` towards `next_hop`.
    Reply {
        /// Interface to send it out of.
        egress: IfIndex,
        /// Address to resolve at L2: the destination, or the gateway towards it.
        next_hop: IpAddr,
    },
    /// Drop it; the reason has been counted.
    Drop(DropReason),
    /// Addressed to one of the interface addresses.
    Local,
    /// Not IPv4/IPv6 (ARP…): for the L2 layer.
    NotIp,
}

/// Why a frame was dropped (each is also counted in the statistics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Failed to parse; counted by class.
    Malformed(ErrorClass),
    /// Wrong TCP/UDP/ICMP checksum.
    BadChecksum,
    /// Matched a flow in Drop state.
    FlowDrop,
    /// Matched a flow in Reject state (and no reply could be built).
    FlowReject,
    /// A firewall term said `discard`.
    RuleDiscard,
    /// A firewall term said `reject`, and no reply could be built.
    RuleReject,
    /// The services interface or service set is at its session limit.
    SessionLimit,
    /// The session table is full.
    TableFull,
    /// No route to the destination.
    NoRoute,
    /// The route is `discard` or `reject`.
    RouteDiscard,
    /// TTL ran out, and no ICMP error could be built.
    TtlExceeded,
    /// A TCP session must start with a SYN.
    TcpNonSynFirst,
    /// An ICMP error quoting a packet of no session.
    IcmpErrorNoSession,
    /// A later fragment whose first fragment was not seen.
    FragmentNoSession,
    /// To a pool address with no session nor mapping.
    NatNoSession,
    /// No NAT address or port left.
    NatExhausted,
    /// A new session's reply key is already used by another session.
    KeyInUse,
    /// An ALG refused the packet.
    Alg,
    /// IPv4 options its firewall term does not allow, or malformed ones.
    IpOptions,
    /// A packet of a stateful NAT64 session the IP/ICMP translator refuses (RFC 7915 §4,
    /// §5: no counterpart in the other family, malformed, or no room in the frame).
    Untranslatable,
    /// A DS-Lite tunnel packet that cannot be decapsulated (not IPv4 inside, a fragment
    /// the reassembly refuses), or a packet to a B4 too big for the softwire's `mtu-v6`
    /// that cannot be fragmented.
    Softwire,
    /// A DS-Lite tunnel fragment kept until its packet is whole (not a loss).
    FragmentHeld,
}

/// Messages between shards. Drivers deliver every message a shard puts in its outbox to
/// every shard, the sender included: pinholes are broadcast because their child may land
/// anywhere, and so are their use and the end of a parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardMessage {
    /// An ALG opened a pinhole: every shard keeps a copy (boxed: a pinhole is large, the
    /// other messages small, and pinholes are opened on control packets only).
    Pinhole(Box<Pinhole>),
    /// A pinhole was filled: the other copies go.
    PinholeUsed {
        /// The shard that opened it.
        origin: u32,
        /// Its serial there.
        serial: u64,
        /// The reply key of a child on another shard that took over the pool port the
        /// origin reserved (a media pinhole filled from behind): the origin keeps the port
        /// for it until that key's `Unsteer`.
        lent: Option<FlowKey>,
    },
    /// An ALG parent session ended: its children and pinholes go too.
    ParentClosed {
        /// The parent's services interface.
        iface: u16,
        /// The parent's session id.
        parent_id: u64,
    },
    /// An ALG closed the children and pinholes of a parent that carry a label (SIP: the
    /// media of a call that ended).
    LabelClosed {
        /// The parent's services interface.
        iface: u16,
        /// The parent's session id.
        parent_id: u64,
        /// The label ([`crate::alg::Pinhole::label`]).
        label: u64,
    },
    /// Packets arriving with `key` belong to shard `shard`, though the owner function names
    /// another: an ALG child whose two sides hash apart (under NAPT the side towards the
    /// pool port is owned by the shard that reserved the port; the inside side hashes on its
    /// full tuple). Drivers hand such packets to `shard` until `Unsteer`; shards ignore `Steer`
    /// and release on `Unsteer` a reservation they lent ([`ShardMessage::PinholeUsed`]).
    Steer {
        /// The key of the child's replies.
        key: FlowKey,
        /// The shard that holds the child.
        shard: u32,
    },
    /// The child of a `Steer` ended: packets with `key` go by the owner function again.
    Unsteer {
        /// The key of the child's replies.
        key: FlowKey,
    },
}

/// Static parameters of one shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardConfig {
    /// This shard's number, `0..count`.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
    /// Most sessions this shard holds.
    pub capacity: usize,
    /// Sessions preallocated up front.
    pub prealloc: usize,
    /// Verify TCP/UDP/ICMP checksums of every packet and drop bad ones.
    pub verify_checksums: bool,
    /// [`Shard::process_batch`](crate::Shard::process_batch) looks ahead over its frames (touching their index buckets
    /// and sessions before processing any) once the table has used this many session slots;
    /// below, the table stays in cache and frames are processed one by one. 0: always.
    pub lookahead_min_sessions: usize,
}

impl Default for ShardConfig {
    fn default() -> Self {
        ShardConfig {
            index: 0,
            count: 1,
            capacity: 1 << 20,
            prealloc: 1 << 12,
            verify_checksums: true,
            lookahead_min_sessions: LOOKAHEAD_MIN_SESSIONS,
        }
    }
}

/// Frames [`Shard::process_batch`](crate::Shard::process_batch) looks ahead over (a worker's receive batch).
pub const BATCH: usize = 64;

/// Below this many sessions (about 4 MB of them) the table stays in cache and looking ahead
/// over a batch costs more than it saves (the default of
/// [`ShardConfig::lookahead_min_sessions`]).
pub const LOOKAHEAD_MIN_SESSIONS: usize = 1 << 14;
