//! A session's life on a shard: created for a first packet, installed with its timer,
//! expired, removed (with its NAT, children and counts).

use mspic_config::Timeout;
use mspic_wire::parse::{Parsed, L4};
use mspic_wire::{proto, FlowKey};

use super::{Shard, ShardMessage, NS_PER_TICK};
use crate::alg::Pinhole;
use crate::ip_options::IpOptionMask;
use crate::nat::SessionNat;
use crate::policy::Policy;
use crate::session::{Dir, Session, NEVER};
use crate::snapshot::FlowState;
use crate::syslog::CloseReason;
use crate::table::InsertError;
use crate::tcp::{TcpTrack, TimerKind};
use crate::time::Time;

impl Shard {
    /// Earliest time at which [`Self::handle_timeout`] has work: a session timer, or the
    /// once-a-second aging of NAT mappings and port blocks while any exist (they outlive
    /// the last session, so a shard without sessions still ages them).
    pub fn poll_timeout(&self) -> Option<Time> {
        let session = self
            .timers
            .next_deadline()
            .map(|t| Time(t.saturating_mul(NS_PER_TICK)));
        let aging = self
            .nat
            .has_mappings()
            .then(|| Time(self.mappings_aged.saturating_add(1_000_000_000)));
        match (session, aging) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Expires every session idle past its timeout at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        self.clock = self.clock.max(now);
        let tick = now.0 / NS_PER_TICK;
        let mut fired = std::mem::take(&mut self.fired);
        fired.clear();
        self.timers.poll(tick, |slot| fired.push(slot));
        for &slot in &fired {
            let Some(s) = self.table.get(slot) else {
                continue;
            };
            let kept = self
                .alg_sessions
                .get(&slot)
                .map_or(Time(0), |a| a.keep_until);
            match s.deadline() {
                // A parent stays while it has children here (a long transfer on a quiet
                // control connection).
                Some(_) if self.children.contains_key(&(s.service_iface, s.id)) => {
                    let t = u64::from(s.active_timeout.max(1)) * 1_000_000_000;
                    self.timers
                        .insert(slot, now.0.saturating_add(t).div_ceil(NS_PER_TICK));
                }
                // An ALG keeps it (a SIP registration).
                Some(d) if d <= now && kept > now => {
                    self.timers.insert(slot, kept.0.div_ceil(NS_PER_TICK));
                }
                // An idle established TCP session gets keep-alives first (`tcp-tickles`).
                Some(d) if d <= now && self.tickle(slot, now) => {}
                // Removed as of its deadline (a driver may call late, e.g. a replay at the
                // next frame), or of its last keep-alive's: the close log and the NAT
                // release carry the real time.
                Some(d) if d <= now => {
                    let tickled = self.table.get(slot).is_some_and(|s| s.tcp.tickles > 0);
                    let at = if tickled { now } else { d };
                    self.remove_session(slot, at, CloseReason::Timeout)
                }
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
            self.log_port_blocks();
        }
    }

    pub(super) fn schedule(&mut self, slot: u32) {
        if let Some(d) = self.table.get(slot).and_then(Session::deadline) {
            self.timers.insert(slot, d.0.div_ceil(NS_PER_TICK));
        } else {
            self.timers.remove(slot);
        }
    }

    pub(super) fn remove_session(&mut self, slot: u32, now: Time, reason: CloseReason) {
        self.timers.remove(slot);
        let opened = self.alg_sessions.remove(&slot).is_some_and(|a| a.opened);
        if let Some(s) = self.table.remove(slot) {
            self.log_close(now, &s, reason);
            self.nat.release(&self.policy.nat, &s.nat, now.0);
            self.log_port_blocks();
            if let Some(c) = self.live_per_iface.get_mut(s.service_iface as usize) {
                *c = c.saturating_sub(1);
            }
            if let Some(c) = self.live_per_set.get_mut(s.service_set as usize) {
                *c = c.saturating_sub(1);
            }
            self.uncount_subscriber(&s);
            if !self.call_ids.is_empty() {
                self.call_ids.release_owner((s.service_iface, s.id));
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
                self.close_children(s.service_iface, s.id, None, now);
                self.outbox.push(ShardMessage::ParentClosed {
                    iface: s.service_iface,
                    parent_id: s.id,
                });
            }
        }
    }

    /// The idle timeout of a new session on services interface `iface`: the
    /// application's `inactivity-timeout` if it has one, else the interface's for the
    /// protocol.
    pub(super) fn idle_timeout(&self, iface: usize, proto: u8, app: Option<Timeout>) -> u32 {
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
    pub(super) fn new_session(
        &self,
        now: Time,
        parsed: &Parsed,
        set: u16,
        iface: usize,
        idle: u32,
        state: FlowState,
    ) -> Session {
        let tcp = match parsed.l4 {
            L4::Tcp {
                flags,
                seq,
                ack,
                window,
            } => {
                let mut t = TcpTrack::new(flags);
                t.record(Dir::I, seq, ack, window, flags, parsed.payload_len);
                t
            }
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
            ip_options: IpOptionMask::ALL,
            ttl_threshold: None,
            alg_label: 0,
            ingress: u16::MAX,
            log: false,
            softwire: None,
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
    pub(super) fn install(&mut self, session: &Session) -> Result<u32, InsertError> {
        self.install_hinted(session, None)
    }

    /// [`Self::install`] with the hash of the first key when the caller has just missed it
    /// in the table ([`crate::table::SessionTable::insert_hinted`]).
    pub(super) fn install_hinted(
        &mut self,
        session: &Session,
        absent: Option<u64>,
    ) -> Result<u32, InsertError> {
        let (iface, set) = (session.service_iface as usize, session.service_set as usize);
        let slot = self.table.insert_hinted(session, absent)?;
        self.next_id += u64::from(self.cfg.count.max(1));
        self.live_per_iface[iface] += 1;
        self.live_per_set[set] += 1;
        if let Some(s) = self.table.get(slot) {
            if let Some(key) = super::subscriber_key(&self.policy, s) {
                *self.per_subscriber.entry(key).or_default() += 1;
            }
        }
        self.timers.ensure(slot);
        self.schedule(slot);
        Ok(slot)
    }
}

impl Shard {
    fn uncount_subscriber(&mut self, s: &Session) {
        let Some(key) = super::subscriber_key(&self.policy, s) else {
            return;
        };
        if let Some(c) = self.per_subscriber.get_mut(&key) {
            *c -= 1;
            if *c == 0 {
                self.per_subscriber.remove(&key);
            }
        }
    }

    /// Whether the subscriber of a new session with first key `k` in service set `set`
    /// already has its `max-sessions-per-subscriber`.
    pub(super) fn subscriber_full(&self, set: u16, k: &FlowKey) -> bool {
        let Some(ss) = self.policy.service_sets.get(set as usize) else {
            return false;
        };
        let Some(max) = ss.max_per_subscriber else {
            return false;
        };
        let Some(sub) = ss.subscriber_of(k) else {
            return false;
        };
        self.per_subscriber.get(&(set, sub)).copied().unwrap_or(0) >= max
    }
}

/// The timer a session runs under in a TCP phase (idle for everything else).
pub(super) fn timeout_for(p: &Policy, iface: usize, idle: u32, kind: TimerKind) -> u32 {
    let Some(si) = p.service_ifaces.get(iface) else {
        return idle;
    };
    match kind {
        TimerKind::Open => si.open_timeout,
        TimerKind::Idle => idle,
        TimerKind::Close => si.close_timeout,
    }
}
