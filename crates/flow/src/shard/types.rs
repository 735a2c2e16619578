//! The types a shard's driver handles: frames in, verdicts out, messages between shards,
//! and the shard's static parameters.

use std::net::IpAddr;

use mspic_wire::{ErrorClass, FlowKey};

use crate::alg::Pinhole;
use crate::route::IfIndex;

/// A frame being processed: the buffer may be longer than the frame (room for replies and
/// ALG rewrites that grow the payload).
pub struct Frame<'a> {
    pub buf: &'a mut [u8],
    pub len: usize,
}

impl<'a> Frame<'a> {
    pub fn new(buf: &'a mut [u8], len: usize) -> Self {
        let len = len.min(buf.len());
        Frame { buf, len }
    }
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// What to do with a frame after [`Shard::process`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send the (possibly rewritten) frame out of `egress` towards `next_hop`.
    Forward { egress: IfIndex, next_hop: IpAddr },
    /// The frame now holds a reply generated here (TCP RST, ICMP error): send it out of
    /// `egress` towards `next_hop`.
    Reply { egress: IfIndex, next_hop: IpAddr },
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
    Malformed(ErrorClass),
    BadChecksum,
    /// Matched a flow in Drop state.
    FlowDrop,
    /// Matched a flow in Reject state (and no reply could be built).
    FlowReject,
    RuleDiscard,
    RuleReject,
    SessionLimit,
    TableFull,
    NoRoute,
    RouteDiscard,
    TtlExceeded,
    TcpNonSynFirst,
    IcmpErrorNoSession,
    FragmentNoSession,
    NatNoSession,
    NatExhausted,
    /// A new session's reply key is already used by another session.
    KeyInUse,
    Alg,
}

/// Messages between shards. Drivers deliver every message a shard puts in its outbox to
/// every shard, the sender included: pinholes are broadcast because their child may land
/// anywhere, and so are their use and the end of a parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardMessage {
    Pinhole(Pinhole),
    /// A pinhole was filled: the other copies go.
    PinholeUsed {
        origin: u32,
        serial: u64,
    },
    /// An ALG parent session ended: its children and pinholes go too.
    ParentClosed {
        iface: u16,
        parent_id: u64,
    },
    /// Packets arriving with `key` belong to shard `shard`, though the owner function names
    /// another: an ALG child whose two sides hash apart (under NAPT the side towards the
    /// pool port is owned by the shard that reserved the port; the inside side hashes on its
    /// full tuple). Drivers hand such packets to `shard` until `Unsteer`; shards ignore both.
    Steer {
        key: FlowKey,
        shard: u32,
    },
    Unsteer {
        key: FlowKey,
    },
}

/// Static parameters of one shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardConfig {
    /// This shard's number, `0..count`.
    pub index: u32,
    pub count: u32,
    /// Most sessions this shard holds.
    pub capacity: usize,
    /// Sessions preallocated up front.
    pub prealloc: usize,
    /// Verify TCP/UDP/ICMP checksums of every packet and drop bad ones.
    pub verify_checksums: bool,
    /// [`Shard::process_batch`] looks ahead over its frames (touching their index buckets
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

/// Frames [`Shard::process_batch`] looks ahead over (a worker's receive batch).
pub const BATCH: usize = 64;

/// Below this many sessions (about 4 MB of them) the table stays in cache and looking ahead
/// over a batch costs more than it saves (the default of
/// [`ShardConfig::lookahead_min_sessions`]).
pub const LOOKAHEAD_MIN_SESSIONS: usize = 1 << 14;
