//! One shard of the session table and everything that runs on it: flow lookup, stateful
//! firewall, NAT, ALG hooks, timers, routing and the counters behind the show commands.
//!
//! A shard is driven from outside (quinn-proto style): [`Shard::process`] takes a frame and
//! `now` and returns a [`Verdict`]; [`Shard::poll_timeout`] / [`Shard::handle_timeout`]
//! expire idle sessions. Nothing here blocks, reads a clock or allocates per packet once
//! the session slab is warm.

use std::net::IpAddr;
use std::sync::Arc;

use hashbrown::HashMap;
use mspic_config::{AppProtocol, MatchDirection, SfwAction, Timeout};
use mspic_wire::parse::{Fragment, Parsed, L4};
use mspic_wire::{build, proto, rewrite, ErrorClass, FlowKey, IcmpErrorKind, WireError};

use crate::alg::{
    AlgContext, AlgError, AlgPacket, AlgRegistry, AlgSession, AlgVerdict, NoAlgs, Pinhole,
};
use crate::nat::{NatAction, NatError, NatState, Rewrite, SessionNat};
use crate::policy::{MatchInput, Policy};
use crate::route::{IfIndex, RouteResult};
use crate::seqadj::{self, SeqAdj};
use crate::session::{Dir, Session, NEVER};
use crate::snapshot::*;
use crate::table::{FlowRef, InsertError, SessionTable};
use crate::tcp::{TcpTrack, TimerKind};
use crate::time::Time;
use crate::timer::TimerWheel;

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

/// The ALG state of one session: the plugin's own state and the sequence corrections of
/// its two directions.
struct AlgSlot {
    alg: Box<dyn AlgSession>,
    seqadj: [SeqAdj; 2],
    /// Whether it ever opened a pinhole (only then may other shards hold its children).
    opened: bool,
}

/// Most pinholes a shard keeps (copies from other shards included).
const MAX_PINHOLES: usize = 4096;

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

const FRAG_SLOTS: usize = 1024;
/// Later fragments must follow their first within this time.
const FRAG_LIFETIME_NS: u64 = 30_000_000_000;
const NS_PER_TICK: u64 = 1_000_000;

#[derive(Clone, Copy)]
struct FragEntry {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: u8,
    slot: u32,
    session_id: u64,
    dir: Dir,
    expires: Time,
}

pub struct Shard {
    cfg: ShardConfig,
    policy: Arc<Policy>,
    algs: Arc<dyn AlgRegistry>,
    table: SessionTable,
    timers: TimerWheel,
    next_id: u64,
    /// Live sessions per services interface / per service set (session-limit, max-flows).
    live_per_iface: Vec<u32>,
    live_per_set: Vec<u32>,
    /// Counters per services interface (index as in `Policy::service_ifaces`), plus one for
    /// packets that no services interface can be charged with.
    stats: Vec<SfwStats>,
    alg_sessions: HashMap<u32, AlgSlot>,
    /// Child session slots on this shard per (services interface, parent id).
    children: HashMap<(u16, u64), Vec<u32>>,
    pinholes: Vec<Pinhole>,
    pinhole_serial: u64,
    outbox: Vec<ShardMessage>,
    frags: Box<[Option<FragEntry>]>,
    scratch: Box<[u8]>,
    fired: Vec<u32>,
    nat: NatState,
    /// Last time endpoint-independent mappings were aged (ns).
    mappings_aged: u64,
    /// Parse results and key hashes of the frames of a batch.
    batch_parsed: Box<[Result<Parsed, WireError>]>,
    batch_hash: Box<[u64]>,
}

impl Shard {
    pub fn new(cfg: ShardConfig, policy: Arc<Policy>) -> Self {
        Self::with_algs(cfg, policy, Arc::new(NoAlgs))
    }

    pub fn with_algs(cfg: ShardConfig, policy: Arc<Policy>, algs: Arc<dyn AlgRegistry>) -> Self {
        let n_iface = policy.service_ifaces.len();
        let n_set = policy.service_sets.len();
        Shard {
            table: SessionTable::new(cfg.capacity, cfg.prealloc),
            timers: TimerWheel::new(cfg.prealloc, 0),
            next_id: u64::from(cfg.index) + 1,
            live_per_iface: vec![0; n_iface],
            live_per_set: vec![0; n_set],
            stats: vec![SfwStats::default(); n_iface + 1],
            alg_sessions: HashMap::new(),
            children: HashMap::new(),
            pinholes: Vec::new(),
            pinhole_serial: 0,
            outbox: Vec::new(),
            frags: vec![None; FRAG_SLOTS].into_boxed_slice(),
            scratch: vec![0u8; 2048].into_boxed_slice(),
            fired: Vec::new(),
            nat: NatState::new(&policy.nat, cfg.index, cfg.count),
            mappings_aged: 0,
            batch_parsed: vec![Err(WireError::EthernetTruncated); BATCH].into_boxed_slice(),
            batch_hash: vec![0; BATCH].into_boxed_slice(),
            cfg,
            policy,
            algs,
        }
    }

    pub fn config(&self) -> &ShardConfig {
        &self.cfg
    }

    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    /// Number of live sessions.
    pub fn session_count(&self) -> usize {
        self.table.len()
    }

    /// Replaces the policy (a commit). Live sessions keep their state and counters; they
    /// are re-attached to the service sets and interfaces of the same name, and sessions
    /// whose service set is gone are removed.
    pub fn set_policy(&mut self, policy: Arc<Policy>, now: Time) {
        let old = std::mem::replace(&mut self.policy, policy);
        if old.nat.pools != self.policy.nat.pools {
            // Pools changed: translated sessions keep their rewrites; the new pools start
            // empty (a port still held by such a session is refused if allocated again).
            let stats = self.nat.stats.clone();
            self.nat = NatState::new(&self.policy.nat, self.cfg.index, self.cfg.count);
            self.nat.stats = stats;
            // Pinholes were made for the old pools (reservations, pool addresses): gone.
            self.pinholes.clear();
            let slots: Vec<u32> = self.table.iter().map(|(slot, _)| slot).collect();
            for slot in slots {
                if let Some(s) = self.table.get_mut(slot) {
                    s.nat.alloc = None;
                }
            }
        }
        let set_map: Vec<Option<u16>> = old
            .service_sets
            .iter()
            .map(|s| {
                self.policy
                    .service_sets
                    .iter()
                    .position(|n| n.name == s.name)
                    .map(|i| i as u16)
            })
            .collect();
        let mut stats = vec![SfwStats::default(); self.policy.service_ifaces.len() + 1];
        for (i, si) in old.service_ifaces.iter().enumerate() {
            if let Some(j) = self
                .policy
                .service_ifaces
                .iter()
                .position(|n| n.name == si.name)
            {
                stats[j] = self.stats[i].clone();
            }
        }
        let last = stats.len() - 1;
        stats[last] = self.stats[self.stats.len() - 1].clone();
        self.stats = stats;
        let slots: Vec<u32> = self.table.iter().map(|(slot, _)| slot).collect();
        for slot in slots {
            let set = self.table.get(slot).map(|s| s.service_set as usize);
            match set.and_then(|i| set_map.get(i).copied().flatten()) {
                Some(new_set) => {
                    let iface = self.policy.service_sets[new_set as usize].service_iface;
                    if let Some(s) = self.table.get_mut(slot) {
                        s.service_set = new_set;
                        s.service_iface = iface;
                    }
                }
                None => self.remove_session(slot, now),
            }
        }
        self.recount();
    }

    fn recount(&mut self) {
        self.live_per_iface = vec![0; self.policy.service_ifaces.len()];
        self.live_per_set = vec![0; self.policy.service_sets.len()];
        for (_, s) in self.table.iter() {
            if let Some(c) = self.live_per_iface.get_mut(s.service_iface as usize) {
                *c += 1;
            }
            if let Some(c) = self.live_per_set.get_mut(s.service_set as usize) {
                *c += 1;
            }
        }
    }

    /// Messages for other shards (and this one) produced since the last call.
    pub fn drain_outbox(&mut self) -> std::vec::Drain<'_, ShardMessage> {
        self.outbox.drain(..)
    }

    /// Accepts a message from a shard (including this one).
    pub fn deliver(&mut self, msg: ShardMessage) {
        match msg {
            ShardMessage::Pinhole(p) => {
                if self.pinholes.len() < MAX_PINHOLES {
                    self.pinholes.push(p);
                } else {
                    self.retire_pinhole(p, |a| &mut a.pinholes_expired);
                }
            }
            ShardMessage::PinholeUsed { origin, serial } => {
                if let Some(i) = self
                    .pinholes
                    .iter()
                    .position(|p| p.origin == origin && p.serial == serial)
                {
                    let mut p = self.pinholes.swap_remove(i);
                    // Used elsewhere: what it reserved here goes back.
                    if let Some(a) = p.nat.held.take() {
                        if origin == self.cfg.index {
                            self.nat.release_alloc(&self.policy.nat, &a);
                        }
                    }
                }
            }
            ShardMessage::Steer { .. } | ShardMessage::Unsteer { .. } => {}
            ShardMessage::ParentClosed { iface, parent_id } => {
                // Only sessions without NAT-mapping refcounts are children; the last
                // mapping-aging time stands in for `now`.
                self.close_children(iface, parent_id, Time(self.mappings_aged));
            }
        }
    }

    /// Drops a pinhole that was not used, releasing what it reserved (its origin only) and
    /// counting it there.
    fn retire_pinhole(&mut self, p: Pinhole, counter: fn(&mut crate::AlgStats) -> &mut u64) {
        if p.origin != self.cfg.index {
            return;
        }
        if let Some(a) = p.nat.held {
            self.nat.release_alloc(&self.policy.nat, &a);
        }
        let iface = self.policy.service_sets.get(p.service_set as usize);
        if let Some(st) = iface.and_then(|ss| self.stats.get_mut(ss.service_iface as usize)) {
            *counter(&mut st.alg) += 1;
        }
    }

    /// Removes the children on this shard and the pinholes of parent `parent_id`.
    fn close_children(&mut self, iface: u16, parent_id: u64, now: Time) {
        let (gone, kept): (Vec<Pinhole>, Vec<Pinhole>) = std::mem::take(&mut self.pinholes)
            .into_iter()
            .partition(|p| p.parent_iface == iface && p.parent_id == parent_id);
        self.pinholes = kept;
        for p in gone {
            self.retire_pinhole(p, |a| &mut a.closed_with_parent);
        }
        for slot in self
            .children
            .remove(&(iface, parent_id))
            .unwrap_or_default()
        {
            let ok = self.table.get(slot).is_some_and(|s| {
                s.parent.map(|p| p.get()) == Some(parent_id) && s.service_iface == iface
            });
            if ok {
                if let Some(st) = self.stats.get_mut(iface as usize) {
                    st.alg.closed_with_parent += 1;
                }
                self.remove_session(slot, now);
            }
        }
    }

    /// Earliest time at which [`Self::handle_timeout`] has work.
    pub fn poll_timeout(&self) -> Option<Time> {
        self.timers
            .next_deadline()
            .map(|t| Time(t.saturating_mul(NS_PER_TICK)))
    }

    /// Expires every session idle past its timeout at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        let tick = now.0 / NS_PER_TICK;
        let mut fired = std::mem::take(&mut self.fired);
        fired.clear();
        self.timers.poll(tick, |slot| fired.push(slot));
        for &slot in &fired {
            let Some(s) = self.table.get(slot) else {
                continue;
            };
            match s.deadline() {
                // A parent stays while it has children here (a long transfer on a quiet
                // control connection).
                Some(_) if self.children.contains_key(&(s.service_iface, s.id)) => {
                    let t = u64::from(s.active_timeout.max(1)) * 1_000_000_000;
                    self.timers
                        .insert(slot, now.0.saturating_add(t).div_ceil(NS_PER_TICK));
                }
                Some(d) if d <= now => self.remove_session(slot, now),
                Some(d) => self.timers.insert(slot, d.0.div_ceil(NS_PER_TICK)),
                None => {}
            }
        }
        self.fired = fired;
        if self.pinholes.iter().any(|p| p.expires <= now) {
            let (gone, kept): (Vec<Pinhole>, Vec<Pinhole>) = std::mem::take(&mut self.pinholes)
                .into_iter()
                .partition(|p| p.expires <= now);
            self.pinholes = kept;
            for p in gone {
                self.retire_pinhole(p, |a| &mut a.pinholes_expired);
            }
        }
        if now.0.saturating_sub(self.mappings_aged) >= 1_000_000_000 {
            self.mappings_aged = now.0;
            self.nat.expire_mappings(&self.policy.nat, now.0);
        }
    }

    fn schedule(&mut self, slot: u32) {
        if let Some(d) = self.table.get(slot).and_then(Session::deadline) {
            self.timers.insert(slot, d.0.div_ceil(NS_PER_TICK));
        } else {
            self.timers.remove(slot);
        }
    }

    fn remove_session(&mut self, slot: u32, now: Time) {
        self.timers.remove(slot);
        let opened = self.alg_sessions.remove(&slot).is_some_and(|a| a.opened);
        if let Some(s) = self.table.remove(slot) {
            self.nat.release(&self.policy.nat, &s.nat, now.0);
            if let Some(c) = self.live_per_iface.get_mut(s.service_iface as usize) {
                *c = c.saturating_sub(1);
            }
            if let Some(c) = self.live_per_set.get_mut(s.service_set as usize) {
                *c = c.saturating_sub(1);
            }
            if self.steered(&s) {
                self.outbox.push(ShardMessage::Unsteer { key: s.keys[1] });
            }
            if let Some(pid) = s.parent {
                let key = (s.service_iface, pid.get());
                if let Some(v) = self.children.get_mut(&key) {
                    v.retain(|&c| c != slot);
                    if v.is_empty() {
                        self.children.remove(&key);
                    }
                }
            }
            if opened {
                self.close_children(s.service_iface, s.id, now);
                self.outbox.push(ShardMessage::ParentClosed {
                    iface: s.service_iface,
                    parent_id: s.id,
                });
            }
        }
    }

    /// The services interface a packet without a session is charged to: the one of the
    /// service set on its ingress interface, else on the interface it would leave by.
    fn stats_slot(&self, ingress: IfIndex, dst: Option<IpAddr>) -> usize {
        let p = &self.policy;
        let set_of = |i: IfIndex| {
            p.interface(i)
                .and_then(|i| i.input_service_set.or(i.output_service_set))
        };
        let egress = || match dst.map(|d| p.routes.lookup(d)) {
            Some(RouteResult::Forward { egress, .. }) => set_of(egress),
            _ => None,
        };
        set_of(ingress)
            .or_else(egress)
            .and_then(|ss| p.service_sets.get(ss as usize))
            .map(|ss| ss.service_iface as usize)
            .unwrap_or(self.stats.len() - 1)
    }

    /// Runs one frame through the shard.
    pub fn process(&mut self, now: Time, ingress: IfIndex, frame: &mut Frame<'_>) -> Verdict {
        let parsed = mspic_wire::parse_frame(frame.bytes());
        let hash = parsed.as_ref().map_or(0, |p| self.table.hash(&p.key));
        self.process_parsed(now, ingress, frame, &parsed, hash)
    }

    /// Runs a batch of frames through the shard: the same verdicts, frame contents and
    /// state as calling [`Self::process`] on each in order (`verdicts[i]` is frame `i`'s;
    /// only the first `min(frames.len(), verdicts.len())` are processed).
    ///
    /// At most [`BATCH`] frames at a time are parsed and hashed first, then their index
    /// buckets and then their candidate sessions are read, and only then is each frame
    /// processed: the cache misses of a whole batch overlap instead of following one
    /// another. Allocates nothing.
    pub fn process_batch(
        &mut self,
        now: Time,
        frames: &mut [(IfIndex, Frame<'_>)],
        verdicts: &mut [Verdict],
    ) {
        let n = frames.len().min(verdicts.len());
        if self.table.slots() < self.cfg.lookahead_min_sessions {
            for ((ingress, f), v) in frames[..n].iter_mut().zip(verdicts.iter_mut()) {
                *v = self.process(now, *ingress, f);
            }
            return;
        }
        for (frames, verdicts) in frames[..n]
            .chunks_mut(BATCH)
            .zip(verdicts[..n].chunks_mut(BATCH))
        {
            let k = frames.len();
            for ((_, f), (p, h)) in frames
                .iter()
                .zip(self.batch_parsed.iter_mut().zip(self.batch_hash.iter_mut()))
            {
                *p = mspic_wire::parse_frame(f.bytes());
                *h = p.as_ref().map_or(0, |q| self.table.hash(&q.key));
            }
            // Tight loops of independent loads: many misses in flight at once.
            let mut acc = 0u64;
            for &h in &self.batch_hash[..k] {
                acc ^= u64::from(self.table.touch_bucket(h));
            }
            for &h in &self.batch_hash[..k] {
                acc ^= self.table.touch(h);
            }
            std::hint::black_box(acc);
            // Borrowed out of `self` for the loop (no allocation: an empty box is no
            // allocation) and put back.
            let parsed = std::mem::take(&mut self.batch_parsed);
            for (i, ((ingress, f), v)) in frames.iter_mut().zip(verdicts.iter_mut()).enumerate() {
                *v = self.process_parsed(now, *ingress, f, &parsed[i], self.batch_hash[i]);
            }
            self.batch_parsed = parsed;
        }
    }

    /// [`Self::process`] after parsing, with the hash of the parsed key.
    fn process_parsed(
        &mut self,
        now: Time,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Result<Parsed, WireError>,
        hash: u64,
    ) -> Verdict {
        let parsed = match parsed {
            Ok(p) => p,
            Err(e) => return self.count_malformed(ingress, e),
        };
        if self.cfg.verify_checksums && !mspic_wire::parse::l4_checksum_ok(frame.bytes(), parsed) {
            let st = self.stats_slot(ingress, Some(parsed.key.dst));
            let s = &mut self.stats[st];
            s.drop_bad_checksum += 1;
            match parsed.key.proto {
                proto::TCP => {
                    s.errors.tcp.total += 1;
                    s.errors.tcp.bad_checksum += 1
                }
                proto::UDP => {
                    s.errors.udp.total += 1;
                    s.errors.udp.bad_checksum += 1
                }
                _ => {
                    s.errors.icmp.total += 1;
                    s.errors.icmp.bad_checksum += 1
                }
            }
            return Verdict::Drop(DropReason::BadChecksum);
        }
        if let Fragment::Later { id } = parsed.fragment {
            return self.later_fragment(now, ingress, frame, parsed, id);
        }
        let key = parsed.key;
        if let Some(r) = self.table.find(hash, &key) {
            return self.on_flow(now, ingress, r, frame, parsed);
        }
        self.first_packet(now, ingress, frame, parsed)
    }

    fn count_malformed(&mut self, ingress: IfIndex, e: &WireError) -> Verdict {
        let st = self.stats_slot(ingress, None);
        let s = &mut self.stats[st].errors;
        match e.class() {
            ErrorClass::NonIp => {
                return Verdict::NotIp;
            }
            ErrorClass::Ip | ErrorClass::Other => {
                s.ip.total += 1;
                match e {
                    WireError::IpChecksum => s.ip.bad_checksum += 1,
                    WireError::IpVersion { .. } => s.ip.bad_version += 1,
                    WireError::IpHeaderLength => s.ip.bad_header_length += 1,
                    WireError::IpTotalLength => s.ip.bad_total_length += 1,
                    _ => s.ip.truncated += 1,
                }
            }
            ErrorClass::Tcp => {
                s.tcp.total += 1;
                match e {
                    WireError::TcpPortZero => s.tcp.port_zero += 1,
                    _ => s.tcp.header_length += 1,
                }
            }
            ErrorClass::Udp => {
                s.udp.total += 1;
                match e {
                    WireError::UdpPortZero => s.udp.port_zero += 1,
                    _ => s.udp.header_length += 1,
                }
            }
            ErrorClass::Icmp => {
                s.icmp.total += 1;
                s.icmp.header_length += 1;
            }
        }
        Verdict::Drop(DropReason::Malformed(e.class()))
    }

    /// A packet of an existing flow.
    fn on_flow(
        &mut self,
        now: Time,
        ingress: IfIndex,
        r: FlowRef,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
    ) -> Verdict {
        let d = r.dir as usize;
        let Some(s) = self.table.get_mut(r.slot) else {
            return Verdict::Drop(DropReason::FlowDrop);
        };
        s.frames[d] += 1;
        s.bytes[d] += parsed.ip_len as u64;
        s.last_seen = now;
        let iface = s.service_iface as usize;
        let state = s.state[d];
        if let L4::Tcp { flags, .. } = parsed.l4 {
            let before = s.tcp.timer();
            s.tcp.on_segment(r.dir, flags);
            let after = s.tcp.timer();
            if before != after {
                let old = s.active_timeout;
                let idle = s.idle_timeout;
                let new = timeout_for(&self.policy, iface, idle, after);
                s.active_timeout = new;
                if new < old || old == NEVER {
                    self.schedule(r.slot);
                }
            }
        }
        if let Fragment::First { id } = parsed.fragment {
            self.remember_fragment(parsed, id, r, now);
        }
        match state {
            FlowState::Drop => {
                self.stats[iface].existing_drops += 1;
                return Verdict::Drop(DropReason::FlowDrop);
            }
            FlowState::Reject => {
                self.stats[iface].existing_rejects += 1;
                return self.reject(ingress, frame, parsed, DropReason::FlowReject);
            }
            _ => self.stats[iface].existing_accepts += 1,
        }
        if state == FlowState::Watch {
            return self.watched(now, ingress, r, frame, parsed);
        }
        let rw = self
            .table
            .get(r.slot)
            .map(|s| s.nat.rewrite[d])
            .unwrap_or_default();
        self.forward(ingress, frame, parsed, &rw)
    }

    /// A packet of a Watch flow: the ALG sees its payload, the sequence corrections apply,
    /// then NAT and routing as for any packet.
    fn watched(
        &mut self,
        now: Time,
        ingress: IfIndex,
        r: FlowRef,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
    ) -> Verdict {
        let Some(s) = self.table.get(r.slot) else {
            return Verdict::Drop(DropReason::FlowDrop);
        };
        let (iface, rw) = (s.service_iface as usize, s.nat.rewrite[r.dir as usize]);
        let len_before = frame.len;
        let verdict = if parsed.payload_len > 0 {
            self.run_alg(now, r, frame, parsed)
        } else {
            Ok(AlgVerdict::Forward)
        };
        let verdict = match verdict {
            Ok(v) => v,
            Err(e) => {
                self.count_alg_error(iface, &e);
                return Verdict::Drop(DropReason::Alg);
            }
        };
        if verdict == AlgVerdict::Drop {
            return Verdict::Drop(DropReason::Alg);
        }
        // A payload whose length changed moved the IP end: parse the frame as it is now.
        let reparsed = (frame.len != len_before)
            .then(|| mspic_wire::parse_frame(frame.bytes()).ok())
            .flatten();
        let parsed = reparsed.as_ref().unwrap_or(parsed);
        if let (L4::Tcp { .. }, Some(slot)) = (parsed.l4, self.alg_sessions.get(&r.slot)) {
            let (this, other) = (
                slot.seqadj[r.dir as usize],
                slot.seqadj[r.dir.other() as usize],
            );
            if !this.is_zero() || !other.is_zero() {
                seqadj::apply(&mut frame.buf[..frame.len], parsed, &this, &other);
            }
        }
        let v = self.forward(ingress, frame, parsed, &rw);
        if verdict == AlgVerdict::ForwardAndClose {
            self.stats[iface].alg.closed_by_response += 1;
            self.remove_session(r.slot, now);
        }
        v
    }

    fn count_alg_error(&mut self, iface: usize, e: &AlgError) {
        let Some(st) = self.stats.get_mut(iface) else {
            return;
        };
        st.errors.alg += 1;
        let a = &mut st.alg;
        *match e {
            AlgError::Malformed(_) => &mut a.malformed,
            AlgError::NoRoom | AlgError::Fragmented => &mut a.no_room,
            AlgError::ThirdHost => &mut a.third_host,
            AlgError::PartialLine => &mut a.partial_lines,
            AlgError::NatExhausted => &mut a.nat_exhausted,
        } += 1;
    }

    /// Hands a payload to the session's ALG (in place), records a length change for the
    /// sequence corrections and broadcasts the pinholes it opened.
    fn run_alg(
        &mut self,
        now: Time,
        r: FlowRef,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
    ) -> Result<AlgVerdict, AlgError> {
        let Some(s) = self.table.get(r.slot) else {
            return Ok(AlgVerdict::Forward);
        };
        let Some(alg) = s.alg else {
            return Ok(AlgVerdict::Forward);
        };
        let Some(slot) = self.alg_sessions.get_mut(&r.slot) else {
            return Ok(AlgVerdict::Forward);
        };
        let iface = s.service_iface as usize;
        let mut pinholes = Vec::new();
        let mut ctx = AlgContext {
            now,
            dir: r.dir,
            keys: s.keys,
            nat: &s.nat,
            pinholes: &mut pinholes,
            parent_iface: s.service_iface,
            parent_id: s.id,
            service_set: s.service_set,
            alg,
            nat_state: &mut self.nat,
            nat_policy: &self.policy.nat,
        };
        let mut pkt = AlgPacket::new(frame.buf, &mut frame.len, parsed);
        let result = slot.alg.on_packet(&mut ctx, &mut pkt);
        let (delta, rewritten, seq) = (pkt.delta(), pkt.rewritten(), pkt.tcp_seq());
        if let (Some(seq), true) = (seq, delta != 0) {
            slot.seqadj[r.dir as usize].record(seq, delta as i32);
        }
        let st = &mut self.stats[iface].alg;
        st.payload_rewrites += u64::from(rewritten);
        st.length_changes += u64::from(delta != 0 && seq.is_some());
        st.pinholes_created += pinholes.len() as u64;
        slot.opened |= !pinholes.is_empty();
        for mut p in pinholes {
            p.origin = self.cfg.index;
            p.serial = self.pinhole_serial;
            self.pinhole_serial += 1;
            self.outbox.push(ShardMessage::Pinhole(p));
        }
        result
    }

    /// Applies a flow's rewrite, then routes the packet.
    fn forward(
        &mut self,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
        rw: &Rewrite,
    ) -> Verdict {
        if !rw.is_none() {
            self.nat.stats.packets_translated += 1;
        }
        let buf = &mut frame.buf[..frame.len];
        let mut dst = parsed.key.dst;
        let is_icmp_query = matches!(parsed.l4, L4::IcmpQuery { .. });
        if let Some((addr, port)) = rw.src {
            if addr != parsed.key.src {
                let _ = rewrite::set_src_addr(buf, parsed, addr);
            }
            if port != parsed.key.src_port && parsed.fragment != Fragment::None {
                // Ports live in the first fragment only; later fragments carry no L4 header.
            }
            if port != parsed.key.src_port && !matches!(parsed.fragment, Fragment::Later { .. }) {
                let _ = if is_icmp_query {
                    rewrite::set_icmp_query_id(buf, parsed, port)
                } else {
                    rewrite::set_src_port(buf, parsed, port)
                };
            }
        }
        if let Some((addr, port)) = rw.dst {
            if addr != parsed.key.dst {
                let _ = rewrite::set_dst_addr(buf, parsed, addr);
                dst = addr;
            }
            if port != parsed.key.dst_port && !matches!(parsed.fragment, Fragment::Later { .. }) {
                let _ = if is_icmp_query {
                    rewrite::set_icmp_query_id(buf, parsed, port)
                } else {
                    rewrite::set_dst_port(buf, parsed, port)
                };
            }
        }
        self.route(ingress, frame, parsed, dst)
    }

    /// Routes a packet on its (translated) destination and decrements its TTL.
    fn route(
        &mut self,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
        dst: IpAddr,
    ) -> Verdict {
        if self.policy.is_local_address(dst) {
            return Verdict::Local;
        }
        match self.policy.routes.lookup(dst) {
            RouteResult::Forward { egress, next_hop } => {
                match rewrite::decrement_ttl(&mut frame.buf[..frame.len], parsed) {
                    Ok(_) => Verdict::Forward { egress, next_hop },
                    Err(_) => {
                        let st = self.stats_slot(ingress, Some(parsed.key.dst));
                        self.stats[st].drop_ttl_exceeded += 1;
                        self.icmp_reply(ingress, frame, parsed, IcmpErrorKind::TimeExceeded)
                            .unwrap_or(Verdict::Drop(DropReason::TtlExceeded))
                    }
                }
            }
            RouteResult::Discard => Verdict::Drop(DropReason::RouteDiscard),
            RouteResult::Reject => self
                .icmp_reply(
                    ingress,
                    frame,
                    parsed,
                    IcmpErrorKind::DestUnreachable { code: 1 },
                )
                .unwrap_or(Verdict::Drop(DropReason::RouteDiscard)),
            RouteResult::NoRoute => {
                let st = self.stats_slot(ingress, Some(parsed.key.dst));
                self.stats[st].drop_no_route += 1;
                Verdict::Drop(DropReason::NoRoute)
            }
        }
    }

    /// Replaces the frame with an ICMP error sent from the ingress interface's address.
    fn icmp_reply(
        &mut self,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
        kind: IcmpErrorKind,
    ) -> Option<Verdict> {
        let v4 = parsed.key.src.is_ipv4();
        let src = self
            .policy
            .interface(ingress)
            .and_then(|i| i.addresses.iter().find(|p| p.addr.is_ipv4() == v4))
            .map(|p| p.addr)
            .unwrap_or(parsed.key.dst);
        let n = build::icmp_error(frame.bytes(), parsed, kind, src, &mut self.scratch).ok()?;
        self.emit_reply(frame, n, parsed.key.src)
    }

    fn emit_reply(&mut self, frame: &mut Frame<'_>, n: usize, to: IpAddr) -> Option<Verdict> {
        if n > frame.buf.len() {
            return None;
        }
        frame.buf[..n].copy_from_slice(&self.scratch[..n]);
        frame.len = n;
        match self.policy.routes.lookup(to) {
            RouteResult::Forward { egress, next_hop } => Some(Verdict::Reply { egress, next_hop }),
            _ => None,
        }
    }

    /// `reject`: TCP gets a RST, everything else an ICMP unreachable (port unreachable for
    /// UDP, administratively prohibited otherwise).
    fn reject(
        &mut self,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
        reason: DropReason,
    ) -> Verdict {
        let v = match parsed.l4 {
            L4::Tcp { .. } => build::tcp_rst(frame.bytes(), parsed, &mut self.scratch)
                .ok()
                .and_then(|n| self.emit_reply(frame, n, parsed.key.src)),
            L4::Udp => self.icmp_reply(
                ingress,
                frame,
                parsed,
                IcmpErrorKind::DestUnreachable { code: 3 },
            ),
            _ => self.icmp_reply(ingress, frame, parsed, IcmpErrorKind::AdminProhibited),
        };
        v.unwrap_or(Verdict::Drop(reason))
    }

    fn remember_fragment(&mut self, parsed: &Parsed, id: u32, r: FlowRef, now: Time) {
        let Some(s) = self.table.get(r.slot) else {
            return;
        };
        let e = FragEntry {
            src: parsed.key.src,
            dst: parsed.key.dst,
            id,
            proto: parsed.key.proto,
            slot: r.slot,
            session_id: s.id,
            dir: r.dir,
            expires: Time(now.0.saturating_add(FRAG_LIFETIME_NS)),
        };
        let i = frag_index(&e.src, &e.dst, id);
        self.frags[i] = Some(e);
    }

    fn later_fragment(
        &mut self,
        now: Time,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
        id: u32,
    ) -> Verdict {
        let k = &parsed.key;
        let i = frag_index(&k.src, &k.dst, id);
        let hit = self.frags[i].filter(|e| {
            e.src == k.src && e.dst == k.dst && e.id == id && e.proto == k.proto && e.expires > now
        });
        let Some(e) = hit else {
            let st = self.stats_slot(ingress, Some(parsed.key.dst));
            self.stats[st].errors.ip.total += 1;
            self.stats[st].errors.ip.fragment += 1;
            return Verdict::Drop(DropReason::FragmentNoSession);
        };
        let Some(s) = self.table.get_mut(e.slot).filter(|s| s.id == e.session_id) else {
            return Verdict::Drop(DropReason::FragmentNoSession);
        };
        let d = e.dir as usize;
        s.frames[d] += 1;
        s.bytes[d] += parsed.ip_len as u64;
        s.last_seen = now;
        match s.state[d] {
            FlowState::Drop | FlowState::Reject => Verdict::Drop(DropReason::FlowDrop),
            _ => {
                let rw = s.nat.rewrite[d];
                // Later fragments carry no ports: only addresses are rewritten.
                let addr_only = Rewrite {
                    src: rw.src.map(|(a, _)| (a, parsed.key.src_port)),
                    dst: rw.dst.map(|(a, _)| (a, parsed.key.dst_port)),
                };
                self.forward(ingress, frame, parsed, &addr_only)
            }
        }
    }

    /// A packet that matches no flow.
    fn first_packet(
        &mut self,
        now: Time,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
    ) -> Verdict {
        if let L4::IcmpError { inner, .. } = parsed.l4 {
            return self.icmp_error(ingress, frame, parsed, &inner.key);
        }
        // Traffic to the router's own addresses is not transit: no service set applies
        // (the dataplane answers what it can, e.g. ICMP echo).
        if self.policy.is_local_address(parsed.key.dst) {
            return Verdict::Local;
        }
        if let Some(v) = self.try_pinhole(now, ingress, frame, parsed) {
            return v;
        }
        let p = Arc::clone(&self.policy);
        // Traffic to a source-pool address belongs to a session or an endpoint-independent
        // mapping; anything else is dropped (RFC 4787 §5 filtering).
        if p.nat.pool_addr(parsed.key.dst).is_some() {
            if let Some(v) = self.eif_session(now, ingress, frame, parsed) {
                return v;
            }
            self.nat.stats.pool_no_session_drops += 1;
            return Verdict::Drop(DropReason::NatNoSession);
        }
        // Which service set sees this packet, and in which direction.
        let in_set = p.interface(ingress).and_then(|i| i.input_service_set);
        let (set, dir) = match in_set {
            Some(ss) => (ss, MatchDirection::Input),
            None => {
                let out_set = match p.routes.lookup(parsed.key.dst) {
                    RouteResult::Forward { egress, .. } => {
                        p.interface(egress).and_then(|i| i.output_service_set)
                    }
                    _ => None,
                };
                match out_set {
                    Some(ss) => (ss, MatchDirection::Output),
                    None => {
                        // No service set on the path: plain routing.
                        return self.route(ingress, frame, parsed, parsed.key.dst);
                    }
                }
            }
        };
        let Some(ss) = p.service_sets.get(set as usize) else {
            return self.route(ingress, frame, parsed, parsed.key.dst);
        };
        let iface = ss.service_iface as usize;
        if let L4::Tcp { flags, .. } = parsed.l4 {
            use mspic_wire::tcp::{ACK, SYN};
            if flags & SYN == 0 || flags & ACK != 0 {
                let s = &mut self.stats[iface];
                s.drop_tcp_non_syn_first += 1;
                s.errors.tcp.total += 1;
                s.errors.tcp.non_syn_first += 1;
                return Verdict::Drop(DropReason::TcpNonSynFirst);
            }
        }
        let m = match_input(parsed);
        // Stateful firewall: the first matching term decides; no match discards when the set
        // has firewall rules, accepts when it has none.
        let mut verdict = if ss.sfw_rules.is_empty() {
            Some((SfwAction::Accept, None))
        } else {
            None
        };
        'rules: for rule in ss.sfw_rules.iter().filter(|r| r.applies(dir)) {
            for term in &rule.terms {
                if let Some(app) = term.cond.matches(&m) {
                    verdict = Some((term.action, app.cloned()));
                    break 'rules;
                }
            }
        }
        let (action, app) = verdict.unwrap_or((SfwAction::Discard, None));
        match action {
            SfwAction::Accept => self.stats[iface].rule_accepts += 1,
            SfwAction::Discard => self.stats[iface].rule_discards += 1,
            SfwAction::Reject => self.stats[iface].rule_rejects += 1,
        }
        // Limits.
        let si = p.service_ifaces.get(iface);
        let per_shard = |max: u32| max.div_ceil(self.cfg.count.max(1));
        let over_iface = si
            .and_then(|si| si.session_limit)
            .is_some_and(|max| self.live_per_iface[iface] >= per_shard(max));
        let over_set = ss
            .max_flows
            .is_some_and(|max| self.live_per_set[set as usize] >= per_shard(max));
        if over_iface || over_set {
            self.stats[iface].drop_session_limit += 1;
            return Verdict::Drop(DropReason::SessionLimit);
        }
        let idle = self.idle_timeout(
            iface,
            parsed.key.proto,
            app.as_ref().and_then(|a| a.inactivity_timeout),
        );
        let state = match action {
            SfwAction::Accept => FlowState::Forward,
            SfwAction::Discard => FlowState::Drop,
            SfwAction::Reject => FlowState::Reject,
        };
        let alg = app.as_ref().and_then(|a| a.alg);
        let mut session = self.new_session(now, parsed, set, iface, idle, state);
        session.alg = alg;
        if action == SfwAction::Accept {
            if let Some(NatAction::Translate(t)) = p.nat.lookup(set, dir, &m) {
                match self.nat.translate(&p.nat, set, t, &parsed.key, now.0) {
                    Ok(nat) => {
                        session.keys[1] = NatState::reply_key(&parsed.key, &nat);
                        session.nat = nat;
                        session.flags |= FLAG_NAT;
                    }
                    Err(e) => {
                        if e == NatError::OutOfPorts {
                            self.stats[iface].drop_nat_ports_exhausted += 1;
                        }
                        return Verdict::Drop(DropReason::NatExhausted);
                    }
                }
            }
        }
        let mut alg_state = None;
        if action == SfwAction::Accept {
            if let Some(a) = alg {
                if let Some((st, watch)) = self.algs.create(a, &parsed.key) {
                    for d in [Dir::I, Dir::O] {
                        if watch[d as usize] {
                            session.state[d as usize] = FlowState::Watch;
                        }
                    }
                    session.flags |= if !st.opens_pinholes() {
                        0
                    } else if matches!(
                        a,
                        AppProtocol::Rpc
                            | AppProtocol::RpcPortmap
                            | AppProtocol::DceRpc
                            | AppProtocol::DceRpcPortmap
                    ) {
                        FLAG_RPC_PARENT
                    } else {
                        FLAG_ALG_PARENT
                    };
                    alg_state = Some(st);
                }
            }
        }
        let nat = session.nat;
        let slot = match self.install(session) {
            Ok(slot) => slot,
            Err(e) => {
                self.nat.release(&p.nat, &nat, now.0);
                self.stats[iface].drop_session_limit += 1;
                return Verdict::Drop(match e {
                    InsertError::Full => DropReason::TableFull,
                    InsertError::KeyInUse => DropReason::KeyInUse,
                });
            }
        };
        if let Some(alg) = alg_state {
            let seqadj = [SeqAdj::default(); 2];
            let opened = false;
            self.alg_sessions.insert(
                slot,
                AlgSlot {
                    alg,
                    seqadj,
                    opened,
                },
            );
        }
        if let Fragment::First { id } = parsed.fragment {
            self.remember_fragment(parsed, id, FlowRef { slot, dir: Dir::I }, now);
        }
        match action {
            SfwAction::Discard => Verdict::Drop(DropReason::RuleDiscard),
            SfwAction::Reject => self.reject(ingress, frame, parsed, DropReason::RuleReject),
            SfwAction::Accept => {
                if session_watch_i(&self.table, slot) {
                    return self.watched(
                        now,
                        ingress,
                        FlowRef { slot, dir: Dir::I },
                        frame,
                        parsed,
                    );
                }
                let rw = self
                    .table
                    .get(slot)
                    .map(|s| s.nat.rewrite[0])
                    .unwrap_or_default();
                self.forward(ingress, frame, parsed, &rw)
            }
        }
    }

    /// Inbound traffic to an external endpoint with an endpoint-independent filter: a
    /// session towards the mapped internal endpoint (RFC 4787 §5, REQ-8).
    fn eif_session(
        &mut self,
        now: Time,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
    ) -> Option<Verdict> {
        let k = parsed.key;
        let (ip, port, m) = self.nat.eif_lookup(&k)?;
        if let L4::Tcp { flags, .. } = parsed.l4 {
            if flags & mspic_wire::tcp::SYN == 0 {
                return None;
            }
        }
        let p = Arc::clone(&self.policy);
        let ss = p.service_sets.get(m.set as usize)?;
        let iface = ss.service_iface as usize;
        let idle = self.idle_timeout(iface, k.proto, None);
        let alloc = self.nat.eif_attach(ip, port, k.proto)?;
        let mut nat = SessionNat {
            kind: Some(mspic_config::TranslationType::Napt44),
            alloc: Some(alloc),
            pool: Some(m.pool),
            ..SessionNat::default()
        };
        nat.rewrite[0].dst = Some((ip, port));
        nat.rewrite[1].src = Some((k.dst, k.dst_port));
        let mut session = self.new_session(now, parsed, m.set, iface, idle, FlowState::Forward);
        session.keys[1] = NatState::reply_key(&k, &nat);
        session.nat = nat;
        session.flags = FLAG_NAT;
        if self.install(session).is_err() {
            self.nat.release(&p.nat, &nat, now.0);
            return None;
        }
        self.stats[iface].rule_accepts += 1;
        let rw = nat.rewrite[0];
        Some(self.forward(ingress, frame, parsed, &rw))
    }

    /// The idle timeout of a new session on services interface `iface`: the
    /// application's `inactivity-timeout` if it has one, else the interface's for the
    /// protocol.
    fn idle_timeout(&self, iface: usize, proto: u8, app: Option<Timeout>) -> u32 {
        match app {
            Some(Timeout::Never) => NEVER,
            Some(Timeout::Seconds(s)) => s,
            None => match (proto, self.policy.service_ifaces.get(iface)) {
                (proto::TCP, Some(si)) => si.tcp_timeout,
                (_, Some(si)) => si.non_tcp_timeout,
                (_, None) => mspic_config::ServicesOptions::DEFAULT_INACTIVITY,
            },
        }
    }

    /// A session for the first packet `parsed`, counted on its I flow, both flows in
    /// `state`, keys as it arrived and reversed (callers translate the O key).
    fn new_session(
        &self,
        now: Time,
        parsed: &Parsed,
        set: u16,
        iface: usize,
        idle: u32,
        state: FlowState,
    ) -> Session {
        let tcp = match parsed.l4 {
            L4::Tcp { flags, .. } => TcpTrack::new(flags),
            _ => TcpTrack::default(),
        };
        Session {
            live: true,
            id: self.next_id,
            keys: [parsed.key, parsed.key.reversed()],
            state: [state; 2],
            frames: [1, 0],
            bytes: [parsed.ip_len as u64, 0],
            service_set: set,
            service_iface: iface as u16,
            alg: None,
            flags: 0,
            parent: None,
            from_responder: false,
            tcp,
            nat: SessionNat::default(),
            created: now,
            last_seen: now,
            idle_timeout: idle,
            active_timeout: timeout_for(&self.policy, iface, idle, tcp.timer()),
        }
    }

    /// Stores a new session: both index entries, the per-interface and per-set counts, its
    /// timer, the next session id.
    fn install(&mut self, session: Session) -> Result<u32, InsertError> {
        let (iface, set) = (session.service_iface as usize, session.service_set as usize);
        let slot = self.table.insert(session)?;
        self.next_id += u64::from(self.cfg.count.max(1));
        self.live_per_iface[iface] += 1;
        self.live_per_set[set] += 1;
        self.timers.ensure(slot);
        self.schedule(slot);
        Ok(slot)
    }

    /// NAT counters of this shard.
    pub fn nat_state(&self) -> &NatState {
        &self.nat
    }

    /// A first packet that fills an ALG pinhole becomes a child session (flag 0x0800)
    /// without running the rules: the parent's verdict covers it. It is translated the way
    /// the ALG wrote its endpoint in the parent's payload.
    fn try_pinhole(
        &mut self,
        now: Time,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
    ) -> Option<Verdict> {
        if self.pinholes.is_empty() {
            return None;
        }
        let i = self
            .pinholes
            .iter()
            .position(|p| p.expires > now && p.matches(&parsed.key))?;
        let ph = self.pinholes.swap_remove(i);
        self.outbox.push(ShardMessage::PinholeUsed {
            origin: ph.origin,
            serial: ph.serial,
        });
        let p = Arc::clone(&self.policy);
        let ss = p.service_sets.get(ph.service_set as usize)?;
        let iface = ss.service_iface as usize;
        let nat = match self.child_nat(&ph, &parsed.key) {
            Some(nat) => nat,
            None => {
                self.stats[iface].alg.nat_exhausted += 1;
                self.stats[iface].drop_nat_ports_exhausted += 1;
                return Some(Verdict::Drop(DropReason::NatExhausted));
            }
        };
        let idle = self.idle_timeout(iface, parsed.key.proto, None);
        let state = if ph.watch {
            FlowState::Watch
        } else {
            FlowState::Forward
        };
        let mut session = self.new_session(now, parsed, ph.service_set, iface, idle, state);
        session.alg = Some(ph.alg);
        session.flags = FLAG_ALG_CHILD;
        session.parent = std::num::NonZeroU64::new(ph.parent_id);
        session.from_responder = ph.from_responder;
        if nat.kind.is_some() {
            session.keys[1] = NatState::reply_key(&parsed.key, &nat);
            session.nat = nat;
            session.flags |= FLAG_NAT;
        }
        let slot = match self.install(session) {
            Ok(slot) => slot,
            Err(_) => {
                self.nat.release(&p.nat, &nat, now.0);
                return Some(Verdict::Drop(DropReason::KeyInUse));
            }
        };
        self.children
            .entry((ph.parent_iface, ph.parent_id))
            .or_default()
            .push(slot);
        if let Some(s) = self.table.get(slot).filter(|s| self.steered(s)) {
            let key = s.keys[1];
            let shard = self.cfg.index;
            self.outbox.push(ShardMessage::Steer { key, shard });
        }
        self.stats[iface].rule_accepts += 1;
        self.stats[iface].alg.pinholes_used += 1;
        let rw = nat.rewrite[0];
        Some(self.forward(ingress, frame, parsed, &rw))
    }

    /// Whether the replies of ALG child `s` are owned by another shard than this one (see
    /// [`ShardMessage::Steer`]).
    fn steered(&self, s: &Session) -> bool {
        s.flags & FLAG_ALG_CHILD != 0
            && crate::owner::owner_of_key(&s.keys[1], self.cfg.count, &self.policy.nat)
                != self.cfg.index
    }

    /// The translation of a child whose first packet has key `k`: the pinhole's, with a
    /// fresh NAPT port when it asks for one (`None`: none left).
    fn child_nat(&mut self, ph: &Pinhole, k: &FlowKey) -> Option<SessionNat> {
        let pn = &ph.nat;
        if pn.is_none() && pn.held.is_none() {
            return Some(SessionNat::default());
        }
        let mut nat = SessionNat {
            kind: pn.kind,
            pool: pn.pool,
            ..SessionNat::default()
        };
        let mut src = pn.src.map(|(a, port)| (a, port.unwrap_or(k.src_port)));
        if let Some((pool, addr)) = pn.src_napt {
            let a = self.nat.reserve_port(
                &self.policy.nat,
                pool,
                addr,
                k.proto,
                (k.src, k.src_port),
            )?;
            let ip = self
                .policy
                .nat
                .pools
                .get(pool as usize)?
                .addrs
                .get(addr as usize)?;
            src = Some((IpAddr::V4(*ip), a.port.unwrap_or(k.src_port)));
            nat.alloc = Some(a);
        }
        // The reservation moves from the pinhole to the child (same shard: the owner
        // function sends packets to a pool port to the shard that reserved it).
        if ph.origin == self.cfg.index && nat.alloc.is_none() {
            nat.alloc = pn.held;
        }
        if let Some(s) = src.filter(|&s| s != (k.src, k.src_port)) {
            nat.rewrite[0].src = Some(s);
            nat.rewrite[1].dst = Some((k.src, k.src_port));
        }
        if let Some(d) = pn.dst.filter(|&d| d != (k.dst, k.dst_port)) {
            nat.rewrite[0].dst = Some(d);
            nat.rewrite[1].src = Some((k.dst, k.dst_port));
        }
        if nat.rewrite[0].is_none() && nat.alloc.is_none() {
            nat.kind = None;
        }
        Some(nat)
    }

    /// ICMP errors pass only when the packet they quote belongs to a session (RFC 5508 §4):
    /// the quoted packet travelled against the error, so its reversed key is the arrival
    /// key of the flow the error follows.
    fn icmp_error(
        &mut self,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
        inner: &FlowKey,
    ) -> Verdict {
        let rev = inner.reversed();
        let h = self.table.hash(&rev);
        let Some(r) = self.table.find(h, &rev) else {
            let st = self.stats_slot(ingress, Some(parsed.key.dst));
            let s = &mut self.stats[st];
            s.drop_icmp_error_no_session += 1;
            s.errors.icmp.total += 1;
            s.errors.icmp.error_no_session += 1;
            return Verdict::Drop(DropReason::IcmpErrorNoSession);
        };
        let Some(s) = self.table.get(r.slot) else {
            return Verdict::Drop(DropReason::IcmpErrorNoSession);
        };
        let iface = s.service_iface as usize;
        let rw = s.nat.rewrite[r.dir as usize];
        self.stats[iface].existing_accepts += 1;
        if crate::nat::translate_icmp_error(&mut frame.buf[..frame.len], parsed, &rw) {
            self.nat.stats.icmp_error_translations += 1;
        }
        let dst = rw.dst.map(|(a, _)| a).unwrap_or(parsed.key.dst);
        self.route(ingress, frame, parsed, dst)
    }

    // ---- control plane ----

    /// The services interface and service set names of a session.
    fn names(&self, s: &Session) -> (&str, &str) {
        let p = &self.policy;
        let iface = p
            .service_ifaces
            .get(s.service_iface as usize)
            .map_or("", |i| i.name.as_str());
        let set = p
            .service_sets
            .get(s.service_set as usize)
            .map_or("", |i| i.name.as_str());
        (iface, set)
    }

    /// The snapshot of `s` when it matches `filter`.
    fn snapshot_if(&self, s: &Session, filter: &SessionFilter) -> Option<SessionSnapshot> {
        let (iface, set) = self.names(s);
        let flows = flow_snapshots(s);
        filter
            .matches_parts(iface, set, s.alg, &flows)
            .then(|| SessionSnapshot {
                interface: iface.to_string(),
                service_set: set.to_string(),
                id: s.id,
                alg: s.alg,
                flags: s.flags,
                ip_action: false,
                offload: false,
                asymmetric: false,
                nat: crate::nat::snapshot(s, &self.policy.nat),
                flows: flows.to_vec(),
                parent: s.parent.map(|p| p.get()),
            })
    }

    /// Appends a snapshot of every session matching `filter` (ignoring `limit`).
    pub fn sessions(&self, filter: &SessionFilter, out: &mut Vec<SessionSnapshot>) {
        let _ = self.sessions_chunk(filter, 0, usize::MAX, out);
    }

    /// [`Self::sessions`] a piece at a time, so a caller can answer a large table without
    /// stalling the packet path: looks at most `max` slots from `cursor` (0 to start),
    /// appends the matching sessions, and returns the cursor to continue from, or `None`
    /// when the whole table has been seen. Sessions created or removed between calls may
    /// or may not be included; none is reported twice.
    pub fn sessions_chunk(
        &self,
        filter: &SessionFilter,
        cursor: usize,
        max: usize,
        out: &mut Vec<SessionSnapshot>,
    ) -> Option<usize> {
        let end = cursor.saturating_add(max.max(1)).min(self.table.slots());
        for slot in cursor..end {
            if let Some(snap) = self
                .table
                .get(slot as u32)
                .and_then(|s| self.snapshot_if(s, filter))
            {
                out.push(snap);
            }
        }
        (end < self.table.slots()).then_some(end)
    }

    /// Removes every session matching `filter`; returns how many per (interface, set).
    pub fn clear(&mut self, filter: &SessionFilter, now: Time) -> Vec<(String, String, u64)> {
        let mut victims: Vec<(u32, String, String)> = Vec::new();
        for (slot, s) in self.table.iter() {
            let (iface, set) = self.names(s);
            if filter.matches_parts(iface, set, s.alg, &flow_snapshots(s)) {
                victims.push((slot, iface.to_string(), set.to_string()));
            }
        }
        let mut counts: Vec<(String, String, u64)> = Vec::new();
        for (slot, iface, set) in victims {
            // Children go with their parent (same interface and set): count them there.
            let before = self.table.len();
            self.remove_session(slot, now);
            let n = (before - self.table.len()) as u64;
            if n == 0 {
                continue;
            }
            match counts.iter_mut().find(|(i, s, _)| *i == iface && *s == set) {
                Some(c) => c.2 += n,
                None => counts.push((iface, set, n)),
            }
        }
        counts
    }

    /// Firewall counters per services interface.
    pub fn sfw_statistics(&self) -> Vec<(String, SfwStats)> {
        self.policy
            .service_ifaces
            .iter()
            .zip(&self.stats)
            .map(|(i, s)| (i.name.clone(), s.clone()))
            .collect()
    }

    /// Live sessions per services interface (index as in `Policy::service_ifaces`).
    pub fn live_per_service_iface(&self) -> &[u32] {
        &self.live_per_iface
    }

    /// Memory one session takes: its slab entry and its two index entries.
    pub fn bytes_per_session() -> u64 {
        (std::mem::size_of::<Session>() + 2 * (std::mem::size_of::<u32>() + 1)) as u64
    }

    /// Counters for packets no services interface could be charged with.
    pub fn unattributed_statistics(&self) -> &SfwStats {
        &self.stats[self.stats.len() - 1]
    }

    /// Index/slab/timer consistency (tests, debug builds).
    pub fn check_consistency(&self) -> Result<(), String> {
        self.table.check_consistency()?;
        for (slot, s) in self.table.iter() {
            if s.deadline().is_some() && !self.timers.is_scheduled(slot) {
                return Err(format!("session {} has no timer", s.id));
            }
        }
        for (&(iface, parent), slots) in &self.children {
            for &slot in slots {
                let ok = self.table.get(slot).is_some_and(|s| {
                    s.service_iface == iface && s.parent.map(|p| p.get()) == Some(parent)
                });
                if !ok {
                    return Err(format!("child slot {slot} of parent {parent} is stale"));
                }
            }
        }
        let live: u32 = self.live_per_iface.iter().sum();
        if live as usize != self.table.len() {
            return Err(format!(
                "per-interface count {live} != {}",
                self.table.len()
            ));
        }
        Ok(())
    }
}

/// The timer a session runs under in a TCP phase (idle for everything else).
fn timeout_for(p: &Policy, iface: usize, idle: u32, kind: TimerKind) -> u32 {
    let Some(si) = p.service_ifaces.get(iface) else {
        return idle;
    };
    match kind {
        TimerKind::Open => si.open_timeout,
        TimerKind::Idle => idle,
        TimerKind::Close => si.close_timeout,
    }
}

fn session_watch_i(t: &SessionTable, slot: u32) -> bool {
    t.get(slot).is_some_and(|s| s.state[0] == FlowState::Watch)
}

fn frag_index(src: &IpAddr, dst: &IpAddr, id: u32) -> usize {
    let fold = |a: &IpAddr| match a {
        IpAddr::V4(v) => u32::from(*v),
        IpAddr::V6(v) => {
            let b = v.octets();
            u32::from_be_bytes([b[12], b[13], b[14], b[15]])
        }
    };
    let h = fold(src)
        .wrapping_mul(0x9E37_79B1)
        .wrapping_add(fold(dst))
        .wrapping_mul(0x85EB_CA77)
        ^ id;
    (h as usize) % FRAG_SLOTS
}

/// What the rules see of a first packet.
fn match_input(p: &Parsed) -> MatchInput {
    let icmp = match p.l4 {
        L4::IcmpQuery {
            icmp_type, code, ..
        }
        | L4::IcmpError {
            icmp_type, code, ..
        }
        | L4::IcmpOther { icmp_type, code } => Some((icmp_type, code)),
        _ => None,
    };
    MatchInput {
        src: p.key.src,
        dst: p.key.dst,
        protocol: p.key.proto,
        src_port: p.key.src_port,
        dst_port: p.key.dst_port,
        icmp,
    }
}

/// Whether a protocol shows ports on flow lines (GRE shows its key/call id, 0 when none).
fn shows_ports(proto: u8) -> bool {
    proto::has_ports(proto) || proto == proto::GRE
}

/// A session's flows in the order the engine keeps them (first packet's flow first). An
/// ALG child started from the parent's responder side labels them from the parent's point
/// of view: its first flow is `O`.
fn flow_snapshots(s: &Session) -> [FlowSnapshot; 2] {
    let f = |d: Dir| {
        let label = if s.from_responder { d.other() } else { d };
        let role = match label {
            Dir::I => FlowRole::Initiator,
            Dir::O => FlowRole::Responder,
        };
        let k = s.keys[d as usize];
        let ports = shows_ports(k.proto);
        FlowSnapshot {
            protocol: k.proto,
            src: Endpoint {
                addr: k.src,
                port: ports.then_some(k.src_port),
            },
            dst: Endpoint {
                addr: k.dst,
                port: ports.then_some(k.dst_port),
            },
            state: s.state[d as usize],
            direction: match label {
                Dir::I => FlowDirection::I,
                Dir::O => FlowDirection::O,
            },
            frames: s.frames[d as usize],
            bytes: s.bytes[d as usize],
            role,
            timeout: s.idle_timeout,
        }
    };
    [f(Dir::I), f(Dir::O)]
}
