//! One shard of the session table and everything that runs on it: flow lookup, stateful
//! firewall, NAT, ALG hooks, timers, routing and the counters behind the show commands.
//!
//! A shard is driven from outside (quinn-proto style): [`Shard::process`] takes a frame and
//! `now` and returns a [`Verdict`]; [`Shard::poll_timeout`] / [`Shard::handle_timeout`]
//! expire idle sessions. Nothing here blocks, reads a clock or allocates per packet once
//! the session slab is warm.

mod alg;
mod batch;
mod counters;
mod first_packet;
mod forward;
mod fragments;
mod logs;
mod nat64;
mod pinholes;
mod replies;
mod reports;
mod route_cache;
mod sessions;
mod softwire;
mod tickles;
mod types;

use std::net::IpAddr;
use std::sync::Arc;

use hashbrown::HashMap;
use mspic_wire::parse::Parsed;
use mspic_wire::WireError;

use crate::alg::{AlgRegistry, NoAlgs, Pinhole};
use crate::nat::NatState;
use crate::policy::Policy;
use crate::snapshot::{SfwStats, TcpMssStats};
use crate::table::SessionTable;
use crate::time::Time;
use crate::timer::TimerWheel;

pub use tickles::{Generated, GENERATED_ROOM, TICKLE_INTERVAL_NS};
pub use types::{
    DropReason, Frame, ShardConfig, ShardMessage, Verdict, BATCH, LOOKAHEAD_MIN_SESSIONS,
};

/// Timer wheel ticks are milliseconds.
const NS_PER_TICK: u64 = 1_000_000;

/// The session table of one shard and everything kept beside it. Driven from outside:
/// see the module documentation.
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
    /// Frames charged to each service set (first packets and packets of its sessions):
    /// the driver splits its processing time by them (`show services service-sets
    /// cpu-usage`).
    set_frames: Vec<u64>,
    /// Counters per services interface (index as in `Policy::service_ifaces`), plus one for
    /// packets that no services interface can be charged with.
    stats: Vec<SfwStats>,
    /// `tcp-mss` counters per service set (index as in `Policy::service_sets`).
    tcp_mss: Vec<TcpMssStats>,
    /// Per service set: the second (of `now`) being counted and the sessions set up in it
    /// (`max-session-setup-rate`).
    setups: Vec<(u64, u32)>,
    /// Per services interface: its `session-limit rate` share of new sessions.
    session_rate: Vec<crate::token_bucket::TokenBucket>,
    /// Live sessions per (service set, subscriber) of the sets with
    /// `max-sessions-per-subscriber` (a subscriber's sessions all live on one shard).
    per_subscriber: HashMap<(u16, IpAddr), u32>,
    alg_sessions: HashMap<u32, alg::AlgSlot>,
    /// Child session slots on this shard per (services interface, parent id).
    children: HashMap<(u16, u64), Vec<u32>>,
    pinholes: Vec<Pinhole>,
    pinhole_serial: u64,
    /// The PPTP Call IDs this shard's ALG sessions translated.
    call_ids: crate::alg::CallIds,
    /// Reservations of this shard held by children on other shards, by their reply keys
    /// (see [`ShardMessage::PinholeUsed`]).
    lent: HashMap<mspic_wire::FlowKey, crate::nat::Allocation>,
    outbox: Vec<ShardMessage>,
    frags: Box<[Option<fragments::FragEntry>]>,
    scratch: Box<[u8]>,
    /// Where a NAT64 packet is translated before it goes back into its frame.
    xlat_buf: Box<[u8]>,
    /// IPv4 identification of the next unfragmented IPv6 packet translated.
    xlat_ident: u16,
    /// DS-Lite tunnel packets being reassembled from their IPv6 fragments.
    reassembly: mspic_wire::reassembly::Ipv6Reassembler,
    /// Identification of the next tunnel packet cut into fragments.
    tunnel_ident: u32,
    /// The softwire the packet in the engine arrived through and the service set whose
    /// concentrator took it out (set while a decapsulated first packet is processed).
    arriving_softwire: Option<(crate::session::Softwire, u16)>,
    fired: Vec<u32>,
    nat: NatState,
    /// Last time endpoint-independent mappings were aged (ns).
    mappings_aged: u64,
    /// The latest `now` a packet or timer call brought: the clock of the session
    /// snapshots' `session_timeout` (the control calls take no `now`).
    clock: Time,
    /// Parse results and key hashes of the frames of a batch.
    batch_parsed: Box<[Result<Parsed, WireError>]>,
    batch_hash: Box<[u64]>,
    /// Log events waiting for the driver (allocated only when a service set has
    /// `syslog` hosts).
    logs: crate::syslog::LogBuffer,
    /// Frames made here for the driver to send (keep-alives).
    generated: Vec<Generated>,
    /// Routing decisions of recent destinations.
    routes: route_cache::RouteCache,
    tickles_sent: u64,
}

impl Shard {
    /// A shard with no ALG plugins.
    pub fn new(cfg: ShardConfig, policy: Arc<Policy>) -> Self {
        Self::with_algs(cfg, policy, Arc::new(NoAlgs))
    }

    /// A shard with the ALG plugins of `algs`.
    pub fn with_algs(cfg: ShardConfig, policy: Arc<Policy>, algs: Arc<dyn AlgRegistry>) -> Self {
        let n_iface = policy.service_ifaces.len();
        let n_set = policy.service_sets.len();
        Shard {
            table: SessionTable::new(cfg.capacity, cfg.prealloc),
            timers: TimerWheel::new(cfg.prealloc, 0),
            next_id: u64::from(cfg.index) + 1,
            live_per_iface: vec![0; n_iface],
            live_per_set: vec![0; n_set],
            set_frames: vec![0; n_set],
            stats: vec![SfwStats::default(); n_iface + 1],
            tcp_mss: vec![TcpMssStats::default(); n_set],
            setups: vec![(0, 0); n_set],
            session_rate: vec![Default::default(); n_iface],
            per_subscriber: HashMap::new(),
            alg_sessions: HashMap::new(),
            children: HashMap::new(),
            pinholes: Vec::new(),
            pinhole_serial: 0,
            call_ids: Default::default(),
            lent: HashMap::new(),
            outbox: Vec::new(),
            frags: vec![None; fragments::FRAG_SLOTS].into_boxed_slice(),
            scratch: vec![0u8; 2048].into_boxed_slice(),
            xlat_buf: vec![0u8; nat64::XLAT_BUF].into_boxed_slice(),
            xlat_ident: 0,
            reassembly: Default::default(),
            tunnel_ident: 0,
            arriving_softwire: None,
            fired: Vec::new(),
            nat: NatState::new(&policy.nat, cfg.index, cfg.count),
            mappings_aged: 0,
            clock: Time::ZERO,
            batch_parsed: vec![Err(WireError::EthernetTruncated); BATCH].into_boxed_slice(),
            batch_hash: vec![0; BATCH].into_boxed_slice(),
            logs: logs::buffer_for(&policy),
            generated: Vec::with_capacity(tickles::PREALLOCATED_GENERATED),
            routes: Default::default(),
            tickles_sent: 0,
            cfg,
            policy,
            algs,
        }
    }

    /// The shard's static parameters.
    pub fn config(&self) -> &ShardConfig {
        &self.cfg
    }

    /// The policy in force.
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
        self.routes.clear();
        if self.logs.capacity() == 0 {
            self.logs = logs::buffer_for(&self.policy);
        }
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
        let mut tcp_mss = vec![TcpMssStats::default(); self.policy.service_sets.len()];
        for (i, new) in set_map.iter().enumerate() {
            if let (Some(j), Some(c)) = (new, self.tcp_mss.get(i)) {
                tcp_mss[*j as usize] = c.clone();
            }
        }
        self.tcp_mss = tcp_mss;
        self.setups = vec![(0, 0); self.policy.service_sets.len()];
        self.session_rate = vec![Default::default(); self.policy.service_ifaces.len()];
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
                None => self.remove_session(slot, now, crate::syslog::CloseReason::Config),
            }
        }
        self.recount();
    }

    fn recount(&mut self) {
        self.live_per_iface = vec![0; self.policy.service_ifaces.len()];
        self.live_per_set = vec![0; self.policy.service_sets.len()];
        self.set_frames = vec![0; self.policy.service_sets.len()];
        self.per_subscriber.clear();
        let policy = Arc::clone(&self.policy);
        for (_, s) in self.table.iter() {
            if let Some(c) = self.live_per_iface.get_mut(s.service_iface as usize) {
                *c += 1;
            }
            if let Some(c) = self.live_per_set.get_mut(s.service_set as usize) {
                *c += 1;
            }
            if let Some(key) = subscriber_key(&policy, s) {
                *self.per_subscriber.entry(key).or_default() += 1;
            }
        }
    }
}

/// The (service set, subscriber) a session counts against, if its set limits sessions per
/// subscriber.
fn subscriber_key(p: &Policy, s: &crate::session::Session) -> Option<(u16, IpAddr)> {
    let ss = p.service_sets.get(s.service_set as usize)?;
    Some((s.service_set, ss.subscriber_of(&s.keys[0])?))
}
