//! The fixed-size log events the shards produce.

use std::net::{IpAddr, Ipv4Addr};

use mspic_config::AppProtocol;
use mspic_wire::FlowKey;

use crate::time::Time;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogKind {
    /// `JSERVICES_SESSION_OPEN`.
    SessionOpen,
    /// `JSERVICES_SESSION_CLOSE`.
    SessionClose(CloseReason),
    /// `JSERVICES_NAT_RULE_MATCH`: a NAT term with `then syslog` matched.
    NatRuleMatch,
    /// `JSERVICES_SFW_RULE_ACCEPT`: a firewall term with `then syslog` accepted.
    SfwAccept,
    /// `JSERVICES_SFW_RULE_DROP`: … discarded.
    SfwDrop,
    /// `JSERVICES_SFW_RULE_REJECT`: … rejected.
    SfwReject,
    /// `JSERVICES_NAT_PORT_BLOCK_ALLOC`: a port block went to a subscriber.
    PortBlockAlloc,
    /// `JSERVICES_NAT_PORT_BLOCK_RELEASE`: a port block went back to the pool.
    PortBlockRelease,
    /// `JSERVICES_NAT_PORT_BLOCK_ACTIVE`: a port block is still in use (interim log).
    PortBlockActive,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// Its timer ran out (idle, or the TCP open/close timers).
    Timeout,
    /// `clear services sessions`.
    Cleared,
    /// Its ALG parent ended, or the ALG closed it.
    Alg,
    /// A commit removed its service set.
    Config,
}

/// One log event: plain data, no heap, so a worker pushes it without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogEvent {
    /// When it happened.
    pub time: Time,
    /// What happened.
    pub kind: LogKind,
    /// Service set (index in `Policy::service_sets`).
    pub set: u16,
    /// Logical interface the session's first packet arrived on (`IfIndex`; `u16::MAX`:
    /// unknown).
    pub ingress: u16,
    /// The initiator's tuple before NAT.
    pub key: FlowKey,
    /// Translated source (address, port), if the source is translated.
    pub nat_src: Option<(IpAddr, u16)>,
    /// Translated destination (address, port), if the destination is translated.
    pub nat_dst: Option<(IpAddr, u16)>,
    /// The session's ALG (`application:` field); `None`: `none`/`any`.
    pub alg: Option<AppProtocol>,
    /// Rule and term indices (rule events): in the set's firewall rules, or NAT rules.
    pub rule: u16,
    /// See `rule`.
    pub term: u16,
    /// Session id (unique per services interface).
    pub session_id: u64,
    /// Packets per flow `[I, O]` (close).
    pub frames: [u64; 2],
    /// Bytes per flow `[I, O]` (close).
    pub bytes: [u64; 2],
    /// Last port of a port block (the first is `nat_src`'s port).
    pub port_hi: u16,
}

impl LogEvent {
    /// An event of `kind` for the initiator tuple `key`, every other field empty.
    pub fn new(time: Time, kind: LogKind, set: u16, key: FlowKey) -> LogEvent {
        LogEvent {
            time,
            kind,
            set,
            ingress: u16::MAX,
            key,
            nat_src: None,
            nat_dst: None,
            alg: None,
            rule: 0,
            term: 0,
            session_id: 0,
            frames: [0; 2],
            bytes: [0; 2],
            port_hi: 0,
        }
    }

    /// A port block event: `internal` got (or gave back) `pool_addr` ports `lo..=hi`.
    pub fn port_block(
        time: Time,
        kind: LogKind,
        set: u16,
        internal: IpAddr,
        pool_addr: Ipv4Addr,
        lo: u16,
        hi: u16,
    ) -> LogEvent {
        let key = FlowKey {
            src: internal,
            dst: internal,
            src_port: 0,
            dst_port: 0,
            proto: 0,
        };
        let mut e = LogEvent::new(time, kind, set, key);
        e.nat_src = Some((IpAddr::V4(pool_addr), lo));
        e.port_hi = hi;
        e
    }
}

/// A bounded buffer of events that never allocates once made: a full buffer drops the
/// event and counts it.
#[derive(Debug, Clone)]
pub struct LogBuffer {
    events: Vec<LogEvent>,
    /// Events dropped because the buffer was full.
    pub dropped: u64,
    /// Events produced (kept or dropped).
    pub produced: u64,
}

impl LogBuffer {
    /// A buffer of `cap` events.
    pub fn new(cap: usize) -> LogBuffer {
        LogBuffer {
            events: Vec::with_capacity(cap),
            dropped: 0,
            produced: 0,
        }
    }
    /// Keeps `e`, or counts it dropped when full.
    pub fn push(&mut self, e: LogEvent) {
        self.produced += 1;
        if self.events.len() < self.events.capacity() {
            self.events.push(e);
        } else {
            self.dropped += 1;
        }
    }
    /// Takes every kept event, oldest first.
    pub fn drain(&mut self) -> std::vec::Drain<'_, LogEvent> {
        self.events.drain(..)
    }
    /// Most events kept at once (0: logging is off).
    pub fn capacity(&self) -> usize {
        self.events.capacity()
    }
    /// Events kept and not yet drained.
    pub fn len(&self) -> usize {
        self.events.len()
    }
    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}
