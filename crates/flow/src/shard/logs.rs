//! The log events of a shard (see [`crate::syslog`]): rule matches and session opens on
//! the first packet, closes on removal. Only first packets and removals log; an
//! established packet never touches this.

use mspic_wire::FlowKey;

use super::Shard;
use crate::nat::BlockEventKind;
use crate::policy::{Policy, TermRef};
use crate::session::Session;
use crate::syslog::{CloseReason, LogBuffer, LogEvent, LogKind};
use crate::time::Time;

/// Events a shard keeps between two drains by its driver (a receive batch makes at most
/// a few per frame).
pub const LOG_BUFFER_EVENTS: usize = 4096;

/// An empty buffer when no service set logs, else one of [`LOG_BUFFER_EVENTS`].
pub(super) fn buffer_for(p: &Policy) -> LogBuffer {
    let any = p.syslog.iter().any(|s| !s.hosts.is_empty());
    LogBuffer::new(if any { LOG_BUFFER_EVENTS } else { 0 })
}

impl Shard {
    /// Whether service set `set` sends logs of `kind` anywhere.
    fn logs_wanted(&self, set: u16, kind: LogKind) -> bool {
        self.policy
            .syslog
            .get(set as usize)
            .is_some_and(|s| s.wants(kind))
    }

    /// A rule match of a term with `then syslog`: the firewall's accept/drop/reject or a
    /// NAT rule match.
    pub(super) fn log_rule(
        &mut self,
        now: Time,
        kind: LogKind,
        (set, ingress): (u16, u16),
        key: &FlowKey,
        alg: Option<mspic_config::AppProtocol>,
        t: TermRef,
    ) {
        if !t.syslog || !self.logs_wanted(set, kind) {
            return;
        }
        let mut e = LogEvent::new(now, kind, set, *key);
        e.ingress = ingress;
        e.alg = alg;
        e.rule = t.rule;
        e.term = t.term;
        self.logs.push(e);
    }

    /// The open of a logged session.
    pub(super) fn log_open(&mut self, now: Time, s: &Session) {
        if s.log && self.logs_wanted(s.service_set, LogKind::SessionOpen) {
            let e = session_event(now, LogKind::SessionOpen, s);
            self.logs.push(e);
        }
    }

    /// The close of a logged session. Sessions a commit removes are not logged: their
    /// service set is gone from the policy that names them.
    pub(super) fn log_close(&mut self, now: Time, s: &Session, reason: CloseReason) {
        let kind = LogKind::SessionClose(reason);
        if s.log && reason != CloseReason::Config && self.logs_wanted(s.service_set, kind) {
            let e = session_event(now, kind, s);
            self.logs.push(e);
        }
    }

    /// The port block logs of the blocks the NAT state handed out, took back or found
    /// still in use at their interim logging time since the last call, for every service
    /// set that uses the block's pool and logs NAT events
    /// (`JSERVICES_NAT_PORT_BLOCK_ALLOC` / `_RELEASE` / `_ACTIVE`), stamped with when
    /// they happened.
    pub(super) fn log_port_blocks(&mut self) {
        let policy = std::sync::Arc::clone(&self.policy);
        for e in self.nat.block_events() {
            let kind = match e.kind {
                BlockEventKind::Alloc => LogKind::PortBlockAlloc,
                BlockEventKind::Release => LogKind::PortBlockRelease,
                BlockEventKind::Active => LogKind::PortBlockActive,
            };
            let now = Time(e.at);
            let Some(pool) = policy.nat.pools.get(usize::from(e.pool)) else {
                continue;
            };
            let Some(&addr) = pool.addrs.get(e.addr as usize) else {
                continue;
            };
            for (i, &(set, _)) in pool.users.iter().enumerate() {
                let seen = pool.users[..i].iter().any(|&(s, _)| s == set);
                let wanted = policy
                    .syslog
                    .get(usize::from(set))
                    .is_some_and(|s| s.wants(kind));
                if !seen && wanted {
                    self.logs.push(LogEvent::port_block(
                        now, kind, set, e.host, addr, e.first, e.last,
                    ));
                }
            }
        }
    }

    /// Takes the log events made since the last call, oldest first.
    pub fn drain_logs(&mut self) -> std::vec::Drain<'_, LogEvent> {
        self.logs.drain()
    }

    /// Log events made, and dropped because the driver had not drained them in time.
    pub fn log_counts(&self) -> (u64, u64) {
        (self.logs.produced, self.logs.dropped)
    }
}

/// A session event: the initiator's tuple, its translation, ALG and counters.
fn session_event(now: Time, kind: LogKind, s: &Session) -> LogEvent {
    let rw = s.nat.rewrite[0];
    let mut e = LogEvent::new(now, kind, s.service_set, s.keys[0]);
    e.ingress = s.ingress;
    e.nat_src = rw.src;
    e.nat_dst = rw.dst;
    e.alg = s.alg;
    e.session_id = s.id;
    e.frames = s.frames;
    e.bytes = s.bytes;
    e
}
