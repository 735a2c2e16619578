//! `tcp-tickles`: an established TCP session that reaches its inactivity timeout is not
//! removed at once; keep-alives go to both ends in the other end's name (RFC 9293
//! §3.8.4), one pair a second. A live end answers with an ACK, which is a packet of the
//! session and restarts its timer; after the configured number of unanswered pairs
//! (Junos default 4, 0 turns them off) the session goes.

use mspic_wire::build::{tcp_keepalive, KeepAlive};

use super::{Shard, NS_PER_TICK};
use crate::route::{IfIndex, RouteResult};
use crate::session::Dir;
use crate::snapshot::FlowState;
use crate::tcp::TcpPhase;
use crate::time::Time;

/// Between one keep-alive pair and the next while unanswered. Junos documents the count,
/// not the interval; one second keeps a dead session's extra life at a few seconds.
pub const TICKLE_INTERVAL_NS: u64 = 1_000_000_000;

/// Generated frames waiting for the driver at most; a session whose pair finds no room
/// waits one timer tick (nothing is lost, memory stays bounded).
pub(super) const MAX_GENERATED: usize = 4096;

/// Generated frames the shard has room for from the start: the fragments of a 64 KiB
/// packet cut for a 1500-byte link (45), so that cutting one allocates nothing.
pub(super) const PREALLOCATED_GENERATED: usize = 48;

/// Room for the largest generated frame: a keep-alive (Ethernet, IPv6, TCP) or a
/// fragment of a packet cut for a 1500-byte IPv6 link or a softwire's `mtu-v6` (Ethernet
/// with one 802.1Q tag; a fragment that would not fit is not sent, and counted).
pub const GENERATED_ROOM: usize = 2048;

/// A frame the shard made on its own (not an answer to one it was given): send it out of
/// `egress` towards `next_hop`, MAC addresses to be filled in by the link layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generated {
    /// Interface to send it out of.
    pub egress: IfIndex,
    /// Address to resolve at L2.
    pub next_hop: std::net::IpAddr,
    /// Its length in `frame`.
    pub len: usize,
    /// The frame, from its Ethernet header.
    pub frame: [u8; GENERATED_ROOM],
}

impl Generated {
    /// The frame's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.frame[..self.len]
    }
}

impl Shard {
    /// Whether generated frames wait for [`Shard::drain_generated`].
    pub fn has_generated(&self) -> bool {
        !self.generated.is_empty()
    }

    /// Frames the shard generated since the last call (keep-alives, the fragments after
    /// the first of a packet cut for its link), to be sent.
    pub fn drain_generated(&mut self) -> std::vec::Drain<'_, Generated> {
        self.generated.drain(..)
    }

    /// Keep-alives sent on timers so far.
    pub fn tickles_sent(&self) -> u64 {
        self.tickles_sent
    }

    /// At the idle deadline of session `slot`: sends a keep-alive pair and re-arms its
    /// timer if it is an established TCP session with keep-alives left; false otherwise
    /// (the caller removes it).
    pub(super) fn tickle(&mut self, slot: u32, now: Time) -> bool {
        let Some(s) = self.table.get(slot) else {
            return false;
        };
        let allowed = self
            .policy
            .service_ifaces
            .get(usize::from(s.service_iface))
            .map_or(0, |i| i.tcp_tickles);
        let passing = |st: FlowState| matches!(st, FlowState::Forward | FlowState::Watch);
        if s.tcp.phase != TcpPhase::Established
            || s.tcp.tickles >= allowed
            || s.frames.contains(&0)
            || !s.state.iter().all(|&st| passing(st))
        {
            return false;
        }
        if self.generated.len() + 2 > MAX_GENERATED {
            self.timers.insert(slot, (now.0 / NS_PER_TICK) + 1);
            return true;
        }
        let (keys, ends) = (s.keys, s.tcp.ends);
        let adj = self.alg_sessions.get(&slot).map(|a| a.seqadj);
        for d in [Dir::I, Dir::O] {
            // To the sender of direction `d`, in the name of its peer (the sender of the
            // other direction), as that peer's segments reach it: after sequence
            // correction where an ALG changed payload lengths.
            let (k, o) = (keys[d as usize], d.other() as usize);
            let mut e = ends[o];
            if let Some(a) = &adj {
                e.next = e.next.wrapping_add(a[o].seq_offset(e.next) as u32);
                e.ack = e.ack.wrapping_sub(a[d as usize].ack_offset(e.ack) as u32);
            }
            let k = KeepAlive {
                src: (k.dst, k.dst_port),
                dst: (k.src, k.src_port),
                snd_nxt: e.next,
                ack: e.ack,
                window: e.window,
            };
            self.emit_keepalive(&k);
        }
        if let Some(s) = self.table.get_mut(slot) {
            s.tcp.tickles += 1;
        }
        let next = now.0.saturating_add(TICKLE_INTERVAL_NS);
        self.timers.insert(slot, next.div_ceil(NS_PER_TICK));
        true
    }

    fn emit_keepalive(&mut self, k: &KeepAlive) {
        let RouteResult::Forward { egress, next_hop } = self.policy.routes.lookup(k.dst.0) else {
            return;
        };
        let mut frame = [0u8; GENERATED_ROOM];
        if let Ok(len) = tcp_keepalive(k, &mut frame) {
            self.tickles_sent += 1;
            self.generated.push(Generated {
                egress,
                next_hop,
                len,
                frame,
            });
        }
    }
}
