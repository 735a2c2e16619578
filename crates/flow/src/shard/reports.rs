//! What a shard shows the control plane: session snapshots, clearing, counters, and a
//! consistency check for tests.

use mspic_wire::{proto, FlowKey};

use super::Shard;
use crate::dir::Dir;
use crate::nat::{self, NatState};
use crate::session::Session;
use crate::snapshot::*;
use crate::time::Time;

impl Shard {
    /// NAT counters of this shard.
    pub fn nat_state(&self) -> &NatState {
        &self.nat
    }

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
        // A softwire session shows its inside flow as the B4's host sent it (the B4
        // shows on its own line).
        let keys = shown_keys(s);
        let flows = flow_snapshots(s, &keys);
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
                session_timeout: s.deadline().map_or(0, |d| {
                    // Seconds left, at least 1 while the session lives.
                    u32::try_from(d.saturating_sub(self.clock).as_secs())
                        .unwrap_or(u32::MAX)
                        .max(1)
                }),
                nat: nat::snapshot(&s.nat, &keys, s.from_responder, &self.policy.nat),
                flows: flows.to_vec(),
                parent: s.parent.map(|p| p.get()),
                softwire: s.softwire.map(|w| SoftwireSnapshot {
                    b4: w.b4,
                    aftr: w.aftr,
                }),
            })
    }

    /// Moves the shard's clock to `now` when it is later: a driver that answers a
    /// sessions request between packets calls it first, so `session_timeout` counts from
    /// the request's time rather than from the last packet.
    pub fn advance_clock(&mut self, now: Time) {
        self.clock = self.clock.max(now);
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

    /// [`Self::session_counts`] a piece at a time, as [`Self::sessions_chunk`] walks the
    /// table: adds the sessions matching `filter` among at most `max` slots from `cursor`
    /// to `per_set` (sessions and flows by service set index) and returns the cursor to
    /// continue from. A filter that selects every session is answered from the shard's
    /// live counters at once, whatever the table's size.
    pub fn session_counts_chunk(
        &self,
        filter: &SessionFilter,
        cursor: usize,
        max: usize,
        per_set: &mut Vec<(u64, u64)>,
    ) -> Option<usize> {
        per_set.resize(self.policy.service_sets.len(), (0, 0));
        if filter.selects_all() {
            for (c, &live) in per_set.iter_mut().zip(&self.live_per_set) {
                c.0 += u64::from(live);
                c.1 += u64::from(live) * FLOWS_PER_SESSION;
            }
            return None;
        }
        let end = cursor.saturating_add(max.max(1)).min(self.table.slots());
        for slot in cursor..end {
            let Some(s) = self.table.get(slot as u32) else {
                continue;
            };
            let (iface, set) = self.names(s);
            let flows = flow_snapshots(s, &shown_keys(s));
            if filter.matches_parts(iface, set, s.alg, &flows) {
                if let Some(c) = per_set.get_mut(usize::from(s.service_set)) {
                    c.0 += 1;
                    c.1 += flows.len() as u64;
                }
            }
        }
        (end < self.table.slots()).then_some(end)
    }

    /// The counts [`Self::session_counts_chunk`] gathered, named: one row per service set
    /// that has any.
    pub fn named_counts(&self, per_set: &[(u64, u64)]) -> Vec<SessionCount> {
        let p = &self.policy;
        p.service_sets
            .iter()
            .zip(per_set)
            .filter(|(_, c)| c.0 > 0)
            .map(|(ss, &(sessions, flows))| SessionCount {
                interface: p
                    .service_ifaces
                    .get(usize::from(ss.service_iface))
                    .map_or_else(String::new, |i| i.name.clone()),
                service_set: ss.name.clone(),
                sessions,
                flows,
            })
            .collect()
    }

    /// Sessions and flows matching `filter` (its `limit` ignored) per (services interface,
    /// service set), without a snapshot of any session.
    pub fn session_counts(&self, filter: &SessionFilter) -> Vec<SessionCount> {
        let mut per_set = Vec::new();
        let _ = self.session_counts_chunk(filter, 0, usize::MAX, &mut per_set);
        self.named_counts(&per_set)
    }

    /// Removes every session matching `filter`; returns how many per (interface, set).
    pub fn clear(&mut self, filter: &SessionFilter, now: Time) -> Vec<(String, String, u64)> {
        let mut victims: Vec<(u32, String, String)> = Vec::new();
        for (slot, s) in self.table.iter() {
            let (iface, set) = self.names(s);
            if filter.matches_parts(iface, set, s.alg, &flow_snapshots(s, &shown_keys(s))) {
                victims.push((slot, iface.to_string(), set.to_string()));
            }
        }
        let mut counts: Vec<(String, String, u64)> = Vec::new();
        for (slot, iface, set) in victims {
            // Children go with their parent (same interface and set): count them there.
            let before = self.table.len();
            self.remove_session(slot, now, crate::syslog::CloseReason::Cleared);
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

    /// Firewall counters per services interface, the traffic rates as of the shard's
    /// clock.
    pub fn sfw_statistics(&self) -> Vec<(String, SfwStats)> {
        let sec = self.clock.as_secs();
        self.policy
            .service_ifaces
            .iter()
            .zip(&self.stats)
            .map(|(i, s)| {
                let mut s = s.clone();
                s.traffic.roll(sec);
                s.traffic.settle();
                (i.name.clone(), s)
            })
            .collect()
    }

    /// `clear services stateful-firewall statistics [interface I]`: zeroes the firewall
    /// counters of services interface `iface` (of every one, and the unattributed ones,
    /// when `None`; an unknown name clears nothing).
    pub fn clear_sfw_statistics(&mut self, iface: Option<&str>) {
        let n = self.policy.service_ifaces.len();
        for (i, st) in self.stats.iter_mut().enumerate() {
            let name = self.policy.service_ifaces.get(i).map(|x| x.name.as_str());
            if iface.is_none() || (i < n && name == iface) {
                // `show interfaces` and `show services softwire statistics` keep theirs.
                let traffic = std::mem::take(&mut st.traffic);
                let softwire = std::mem::take(&mut st.softwire);
                *st = SfwStats {
                    traffic,
                    softwire,
                    ..SfwStats::default()
                };
            }
        }
    }

    /// `clear services softwire statistics`: zeroes the DS-Lite counters of services
    /// interface `iface` (of every one when `None`).
    pub fn clear_softwire_statistics(&mut self, iface: Option<&str>) {
        for (i, st) in self.stats.iter_mut().enumerate() {
            let name = self.policy.service_ifaces.get(i).map(|x| x.name.as_str());
            if iface.is_none() || (name.is_some() && name == iface) {
                st.softwire = Default::default();
            }
        }
    }

    /// `clear services nat statistics`: zeroes this shard's NAT counters (what is in use
    /// now stays).
    pub fn clear_nat_statistics(&mut self) {
        self.nat.clear_statistics();
    }

    /// `tcp-mss` counters per service set (index as in `Policy::service_sets`).
    pub fn tcp_mss_statistics(&self) -> &[TcpMssStats] {
        &self.tcp_mss
    }

    /// Live sessions per services interface (index as in `Policy::service_ifaces`).
    pub fn live_per_service_iface(&self) -> &[u32] {
        &self.live_per_iface
    }

    /// Live sessions per service set (index as in `Policy::service_sets`).
    pub fn live_per_service_set(&self) -> &[u32] {
        &self.live_per_set
    }

    /// Frames charged to each service set since the shard started or the last commit
    /// (index as in `Policy::service_sets`).
    pub fn frames_per_service_set(&self) -> &[u64] {
        &self.set_frames
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
        // The counts answer per service set with the set's interface.
        for (_, s) in self.table.iter() {
            let set_iface = self.policy.service_sets.get(usize::from(s.service_set));
            if set_iface.map(|ss| ss.service_iface) != Some(s.service_iface) {
                return Err(format!("session {} is not on its set's interface", s.id));
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

/// Whether a protocol shows ports on flow lines (GRE shows its key/call id, 0 when none).
fn shows_ports(proto: u8) -> bool {
    proto::has_ports(proto) || proto == proto::GRE
}

/// A session's flows in the order the engine keeps them (first packet's flow first). An
/// ALG child started from the parent's responder side labels them from the parent's point
/// of view: its first flow is `O`.
/// The keys a session shows: a softwire session's inside flow as the B4's host sent it
/// (the B4 shows on its own line).
fn shown_keys(s: &Session) -> [FlowKey; 2] {
    let mut keys = s.keys;
    if s.softwire.is_some() {
        keys[0] = keys[0].softwire_inner().unwrap_or(keys[0]);
    }
    keys
}

/// Flows a session shows (and `show services flows count` counts).
const FLOWS_PER_SESSION: u64 = 2;

fn flow_snapshots(s: &Session, keys: &[FlowKey; 2]) -> [FlowSnapshot; FLOWS_PER_SESSION as usize] {
    let f = |d: Dir| {
        let label = if s.from_responder { d.other() } else { d };
        let role = match label {
            Dir::I => FlowRole::Initiator,
            Dir::O => FlowRole::Responder,
        };
        // A GRE call key shows as the packets read: source 0, destination the call id.
        let k = keys[d as usize];
        let k = FlowKey {
            src_port: if k.proto == proto::GRE { 0 } else { k.src_port },
            ..k
        };
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
