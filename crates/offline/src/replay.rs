//! Offline replay: every frame of a capture goes through the same shards the daemon runs,
//! with the capture's timestamps as `now`, so timeouts happen as recorded.
//!
//! Each frame goes to its owner shard (the owner function of `mspic_flow::owner`), exactly
//! as the XDP program and the worker handoff route it live. Later fragments follow their
//! first fragment's shard, remembered here like the receiving worker does.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use mspic_control::{
    Backend, BackendError, ClearedSessions, NatAddressMapping, NatMapping, NatMappingsSummary,
    NatPoolInfo, NatStatistics, ServiceSetsSummary,
};
use mspic_flow::owner::FragmentOwners;
use mspic_flow::{
    IfIndex, Policy, SessionFilter, SessionSnapshot, SfwStats, Shard, ShardConfig, ShardMessage,
    Time, Verdict,
};
use mspic_wire::FlowKey;

use crate::answers::{self, ShardReport};

/// How to run a replay.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Number of shards (workers), at least 1.
    pub workers: u32,
    /// Force every frame's ingress interface (`ge-0/0/0` or `ge-0/0/0.0`).
    pub ingress: Option<String>,
    /// Verify L4 checksums (bad ones are counted and dropped).
    pub verify_checksums: bool,
    /// Sessions each shard can hold.
    pub capacity: usize,
    /// Answer every frame sent out of an interface with no service set with its mirror
    /// reply (see [`crate::respond`]), fed back into the engine.
    pub respond: bool,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            workers: 1,
            ingress: None,
            verify_checksums: true,
            capacity: 1 << 20,
            respond: false,
        }
    }
}

/// What happened to the frames of a replay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayCounters {
    pub frames_in: u64,
    pub forwarded: u64,
    pub replies: u64,
    pub dropped: u64,
    pub local: u64,
    pub not_ip: u64,
    /// Frames whose source is on no connected subnet (and no `--ingress` was given).
    pub no_ingress: u64,
    /// Replies the built-in responder generated (`--respond`).
    pub responses: u64,
    /// Frames the engine made on its own: `tcp-tickles` keep-alives on its timers, the
    /// fragments after the first of a packet cut for its link.
    pub generated: u64,
}

/// A frame the engine sent out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub ts_nanos: u64,
    pub egress: IfIndex,
    pub next_hop: IpAddr,
    /// The frame as sent (rewritten by NAT, TTL decremented) or the reply built here.
    pub frame: Vec<u8>,
    pub is_reply: bool,
}

/// Error setting up a replay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("--ingress {0}: no such interface in the configuration")]
    UnknownIngress(String),
    #[error("--workers must be between 1 and 64")]
    Workers,
}

/// The shards of an offline run plus the bookkeeping around them.
pub struct Replay {
    policy: Arc<Policy>,
    shards: Vec<Shard>,
    ingress: Option<IfIndex>,
    ingress_name: Option<String>,
    frag_owner: FragmentOwners,
    /// ALG children whose inside side hashes away from their shard (`ShardMessage::Steer`):
    /// arrival key → shard.
    steer: HashMap<FlowKey, u32>,
    pub counters: ReplayCounters,
    now: Time,
    buf: Vec<u8>,
    responder: Option<crate::respond::Responder>,
    /// Log lines handed out by [`Replay::drain_log_lines`] and lines the rate limit held
    /// back, per service set index.
    logs_sent: Vec<(u64, u64)>,
    limiter: mspic_flow::syslog::RateLimiter,
    /// Frames the shards made on timers, sent before the next frame's outputs.
    generated: Vec<Output>,
}

/// Room past the frame for replies and payload growth.
const FRAME_ROOM: usize = 4096;

/// Steered keys remembered at most (one per live ALG child started from outside).
const STEER_MAX: usize = 65_536;

impl Replay {
    pub fn new(policy: Arc<Policy>, opts: &ReplayOptions) -> Result<Self, ReplayError> {
        if opts.workers == 0 || opts.workers > 64 {
            return Err(ReplayError::Workers);
        }
        let ingress = match &opts.ingress {
            None => None,
            Some(n) => Some(
                policy
                    .interface_by_name(n)
                    .ok_or_else(|| ReplayError::UnknownIngress(n.clone()))?,
            ),
        };
        let shards = (0..opts.workers)
            .map(|i| {
                Shard::with_algs(
                    ShardConfig {
                        index: i,
                        count: opts.workers,
                        capacity: opts.capacity,
                        prealloc: 1024,
                        verify_checksums: opts.verify_checksums,
                        ..ShardConfig::default()
                    },
                    Arc::clone(&policy),
                    mspic_alg::registry(),
                )
            })
            .collect();
        Ok(Replay {
            policy,
            shards,
            ingress,
            ingress_name: opts.ingress.clone(),
            frag_owner: FragmentOwners::default(),
            steer: HashMap::new(),
            counters: ReplayCounters::default(),
            now: Time::ZERO,
            buf: vec![0; 2 * FRAME_ROOM],
            responder: opts.respond.then(crate::respond::Responder::new),
            logs_sent: Vec::new(),
            limiter: Default::default(),
            generated: Vec::new(),
        })
    }

    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    pub fn shards(&self) -> &[Shard] {
        &self.shards
    }

    /// Installs a new configuration (a commit): every shard keeps its sessions, re-attached
    /// to the service sets of the same name.
    pub fn set_policy(&mut self, policy: Arc<Policy>) {
        for s in &mut self.shards {
            s.set_policy(Arc::clone(&policy), self.now);
        }
        if let Some(i) = &self.ingress_name {
            self.ingress = policy.interface_by_name(i);
        }
        self.policy = policy;
    }

    /// The frames the shards made on their timers (keep-alives) since the last call;
    /// [`Replay::process`] returns them too, first.
    pub fn take_generated(&mut self) -> Vec<Output> {
        self.counters.generated += self.generated.len() as u64;
        std::mem::take(&mut self.generated)
    }

    /// Advances every shard's clock to `now` (expiring idle sessions; keep-alives made on
    /// the way wait for [`Replay::take_generated`]).
    pub fn advance(&mut self, now: Time) {
        if now > self.now {
            self.now = now;
        }
        for i in 0..self.shards.len() {
            let s = &mut self.shards[i];
            if s.poll_timeout().is_some_and(|t| t <= self.now) {
                s.handle_timeout(self.now);
                for g in s.drain_generated() {
                    self.generated.push(Output {
                        ts_nanos: self.now.0,
                        egress: g.egress,
                        next_hop: g.next_hop,
                        frame: g.bytes().to_vec(),
                        is_reply: true,
                    });
                }
                self.deliver_outbox(i);
            }
        }
    }

    /// Delivers what shard `i` has for the shards (ALG pinholes, parents that ended) to
    /// every shard, itself included, and applies the steering messages here, as the live
    /// workers do.
    fn deliver_outbox(&mut self, i: usize) {
        let msgs: Vec<ShardMessage> = self.shards[i].drain_outbox().collect();
        for m in msgs {
            match &m {
                ShardMessage::Steer { key, shard } if self.steer.len() < STEER_MAX => {
                    self.steer.insert(*key, *shard);
                }
                ShardMessage::Unsteer { key } => {
                    self.steer.remove(key);
                }
                _ => {}
            }
            for s in &mut self.shards {
                s.deliver(m.clone());
            }
        }
    }

    /// Runs one frame captured at `ts_nanos`; returns everything sent up to it, in order:
    /// the keep-alives the timers made before it, the frame itself (forwarded or answered
    /// here) and, with `respond`, the responder's replies as the engine forwarded them.
    pub fn process(&mut self, ts_nanos: u64, data: &[u8]) -> Vec<Output> {
        self.advance(Time(ts_nanos));
        let mut outs = self.take_generated();
        let Some(first) = self.process_one(ts_nanos, data, self.ingress) else {
            return outs;
        };
        // The reply is ordinary input, arriving on the interface the frame left by. It is
        // never answered in turn: it travels towards the capture's own side, whose frames
        // the capture already holds (with next-hop service sets, where no interface has a
        // service set, answering it would echo every exchange back and forth).
        let answerable = !first.is_reply
            && self
                .policy
                .interface(first.egress)
                .is_some_and(|f| f.input_service_set.is_none() && f.output_service_set.is_none());
        let mut reply = Vec::new();
        let answered = match self.responder.as_mut() {
            Some(r) if answerable => r.respond(&first.frame, &mut reply).is_some(),
            _ => false,
        };
        let (ts, egress) = (first.ts_nanos + 1_000, first.egress);
        outs.push(first);
        outs.extend(self.take_generated());
        if answered {
            self.counters.responses += 1;
            if let Some(out) = self.process_one(ts, &reply, Some(egress)) {
                outs.push(out);
            }
        }
        outs
    }

    /// The interface a frame arrived on: the forced one, else the one whose connected subnet
    /// holds its source, else the one the route back to its source leaves by.
    fn ingress_for(&self, forced: Option<IfIndex>, src: IpAddr) -> Option<IfIndex> {
        forced
            .or_else(|| self.policy.interface_for_source(src))
            .or_else(|| match self.policy.routes.lookup(src) {
                mspic_flow::route::RouteResult::Forward { egress, .. } => Some(egress),
                _ => None,
            })
    }

    fn process_one(
        &mut self,
        ts_nanos: u64,
        data: &[u8],
        forced: Option<IfIndex>,
    ) -> Option<Output> {
        self.counters.frames_in += 1;
        self.advance(Time(ts_nanos));
        let now = self.now;
        let parsed = mspic_wire::parse_frame(data).ok();
        let ingress = match &parsed {
            Some(p) => self.ingress_for(forced, p.key.src),
            None => Some(forced.unwrap_or(IfIndex(0))),
        };
        let Some(ingress) = ingress else {
            self.counters.no_ingress += 1;
            self.counters.dropped += 1;
            return None;
        };
        let n = self.shards.len() as u32;
        let owner = match &parsed {
            None => 0,
            Some(p) => match mspic_flow::owner::steered(&self.steer, p) {
                Some(shard) if shard < n => shard,
                _ => self.frag_owner.route(p, n, &self.policy.nat, 0),
            },
        };
        let len = data.len().min(FRAME_ROOM);
        if self.buf.len() < len + FRAME_ROOM {
            self.buf.resize(len + FRAME_ROOM, 0);
        }
        self.buf[..len].copy_from_slice(&data[..len]);
        let mut frame = mspic_flow::Frame::new(&mut self.buf, len);
        let verdict = self.shards[owner as usize].process(now, ingress, &mut frame);
        let out_len = frame.len;
        self.deliver_outbox(owner as usize);
        // Frames the packet made besides itself (the other fragments of a packet cut for
        // its link) follow it.
        for g in self.shards[owner as usize].drain_generated() {
            self.generated.push(Output {
                ts_nanos,
                egress: g.egress,
                next_hop: g.next_hop,
                frame: g.bytes().to_vec(),
                is_reply: false,
            });
        }
        match verdict {
            Verdict::Forward { egress, next_hop } | Verdict::Reply { egress, next_hop } => {
                let is_reply = matches!(verdict, Verdict::Reply { .. });
                if is_reply {
                    self.counters.replies += 1;
                } else {
                    self.counters.forwarded += 1;
                }
                Some(Output {
                    ts_nanos,
                    egress,
                    next_hop,
                    frame: self.buf[..out_len].to_vec(),
                    is_reply,
                })
            }
            Verdict::Drop(_) => {
                self.counters.dropped += 1;
                None
            }
            Verdict::Local => {
                self.counters.local += 1;
                None
            }
            Verdict::NotIp => {
                self.counters.not_ip += 1;
                None
            }
        }
    }
}

impl Replay {
    /// The log events every shard made since the last call, in time order (a frame's
    /// events come from one shard; timeouts of several shards may interleave).
    pub fn drain_logs(&mut self) -> Vec<mspic_flow::syslog::LogEvent> {
        let mut v: Vec<_> = self
            .shards
            .iter_mut()
            .flat_map(|s| s.drain_logs())
            .collect();
        v.sort_by_key(|e| e.time);
        v
    }

    /// The syslog lines of the events made since the last call, each once per host that
    /// takes it, within the interfaces' `message-rate-limit`s; counted per service set
    /// for `show services service-sets statistics syslog`.
    pub fn drain_log_lines(&mut self, mut f: impl FnMut(&str)) {
        let policy = Arc::clone(&self.policy);
        let mut buf = String::new();
        for e in self.drain_logs() {
            let i = e.set as usize;
            if self.logs_sent.len() <= i {
                self.logs_sent.resize(i + 1, (0, 0));
            }
            let counts = &mut self.logs_sent[i];
            mspic_flow::syslog::for_each_line(&policy, &e, &mut buf, &mut self.limiter, |_, l| {
                match l {
                    Some(line) => {
                        counts.0 += 1;
                        f(line);
                    }
                    None => counts.1 += 1,
                }
            });
        }
    }

    fn reports(&self) -> Vec<ShardReport> {
        self.shards.iter().map(ShardReport::of).collect()
    }
}

impl Backend for Replay {
    fn sessions(&mut self, filter: &SessionFilter) -> Vec<SessionSnapshot> {
        let mut out = Vec::new();
        for s in &self.shards {
            s.sessions(filter, &mut out);
        }
        out
    }

    fn session_counts(&mut self, filter: &SessionFilter) -> Vec<mspic_flow::SessionCount> {
        self.shards
            .iter()
            .flat_map(|s| s.session_counts(filter))
            .collect()
    }

    fn clear_sessions(&mut self, filter: &SessionFilter) -> Vec<ClearedSessions> {
        let now = self.now;
        let mut cleared = Vec::new();
        for i in 0..self.shards.len() {
            let counts = self.shards[i].clear(filter, now);
            self.deliver_outbox(i);
            cleared.extend(counts.into_iter().map(|(interface, service_set, count)| {
                ClearedSessions {
                    interface,
                    service_set,
                    count,
                }
            }));
        }
        cleared
    }

    fn sfw_statistics(&mut self) -> Vec<(String, SfwStats)> {
        answers::sfw_statistics(&self.reports())
    }

    fn nat_pools(&mut self, name: Option<&str>) -> Result<Vec<NatPoolInfo>, BackendError> {
        Ok(answers::nat_pools(&self.policy, &self.reports(), name))
    }

    fn detnat(
        &mut self,
        q: mspic_control::DetNatQuery,
    ) -> Result<Vec<mspic_control::DetNatBlock>, BackendError> {
        Ok(answers::detnat(&self.policy, q))
    }

    fn nat_mappings_summary(&mut self) -> Result<Vec<NatMappingsSummary>, BackendError> {
        Ok(answers::nat_mappings_summary(&self.policy, &self.reports()))
    }

    fn nat_mappings(&mut self) -> Result<Vec<NatMapping>, BackendError> {
        Ok(answers::nat_mappings(&self.policy, &self.reports()))
    }

    fn nat_address_mappings(&mut self) -> Result<Vec<NatAddressMapping>, BackendError> {
        Ok(answers::nat_address_mappings(&self.policy, &self.reports()))
    }

    fn clear_sfw_statistics(&mut self, interface: Option<&str>) -> Result<(), BackendError> {
        for s in &mut self.shards {
            s.clear_sfw_statistics(interface);
        }
        Ok(())
    }

    fn clear_softwire_statistics(&mut self, interface: Option<&str>) -> Result<(), BackendError> {
        for s in &mut self.shards {
            s.clear_softwire_statistics(interface);
        }
        Ok(())
    }

    fn clear_nat_statistics(&mut self, interface: Option<&str>) -> Result<(), BackendError> {
        if answers::nat_statistics_under(&self.policy, interface) {
            for s in &mut self.shards {
                s.clear_nat_statistics();
            }
        }
        Ok(())
    }

    fn nat_statistics(&mut self) -> Result<Vec<NatStatistics>, BackendError> {
        Ok(answers::nat_statistics(&self.policy, &self.reports()))
    }

    fn service_sets_summary(&mut self) -> Result<Vec<ServiceSetsSummary>, BackendError> {
        Ok(answers::service_sets_summary(&self.policy, &self.reports()))
    }

    fn tcp_mss_statistics(&mut self) -> Result<Vec<mspic_control::TcpMssStatistics>, BackendError> {
        Ok(answers::tcp_mss_statistics(&self.policy, &self.reports()))
    }

    fn service_sets_cpu_usage(
        &mut self,
    ) -> Result<Vec<mspic_control::ServiceSetCpuUsage>, BackendError> {
        Ok(answers::service_sets_cpu_usage(
            &self.policy,
            &self.reports(),
        ))
    }

    fn service_sets_memory_usage(
        &mut self,
    ) -> Result<Vec<mspic_control::ServiceSetMemoryUsage>, BackendError> {
        Ok(answers::service_sets_memory_usage(
            &self.policy,
            &self.reports(),
        ))
    }

    /// Sent: the lines handed out so far (`--syslog`); dropped: the lines the rate limit
    /// held back (no event is lost otherwise: the replay takes them after each frame).
    fn syslog_statistics(&mut self) -> Result<Vec<mspic_control::SyslogStatistics>, BackendError> {
        let sent = &self.logs_sent;
        Ok(answers::syslog_statistics(&self.policy, |i, _| {
            sent.get(i).copied().unwrap_or((0, 0))
        }))
    }
}
