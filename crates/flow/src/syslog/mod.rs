//! Session, NAT and stateful-firewall logs as an MS-MPC sends them to the collectors of a
//! service set's `syslog host` (Junos "syslog (Services Service Set)", "class (Services
//! Service Set syslog)").
//!
//! The packet path only fills fixed-size [`LogEvent`]s (no heap, `Copy`) into a bounded
//! buffer of the shard; the driver moves them off the worker and a logger formats them
//! ([`format`]) and sends them. A full buffer drops and counts.

pub mod event;
pub mod format;

pub use event::LogBuffer;
pub use event::{CloseReason, LogEvent, LogKind};
pub use format::{for_each_line, message, wire_line, LogNames};

use mspic_config::{SyslogClass, SyslogHost};

/// The syslog configuration of one service set, compiled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetSyslog {
    /// The collectors.
    pub hosts: Vec<SyslogHost>,
    /// Union of the hosts' classes: whether any host wants a kind of log.
    pub classes: SyslogClass,
}

impl SetSyslog {
    /// Compiles the hosts of one service set.
    pub fn compile(hosts: &[SyslogHost]) -> SetSyslog {
        let mut classes = SyslogClass::default();
        for h in hosts {
            let c = h.classes();
            classes.session_open |= c.session_open;
            classes.session_close |= c.session_close;
            classes.nat |= c.nat;
            classes.stateful_firewall |= c.stateful_firewall;
        }
        SetSyslog {
            hosts: hosts.to_vec(),
            classes,
        }
    }

    /// Whether some host of the set takes logs of `kind`.
    pub fn wants(&self, kind: LogKind) -> bool {
        class_has(self.classes, kind)
    }
}

/// Whether class set `c` includes logs of `kind`.
pub fn class_has(c: SyslogClass, kind: LogKind) -> bool {
    match kind {
        LogKind::SessionOpen => c.session_open,
        LogKind::SessionClose(_) => c.session_close,
        LogKind::NatRuleMatch
        | LogKind::PortBlockAlloc
        | LogKind::PortBlockRelease
        | LogKind::PortBlockActive => c.nat,
        LogKind::SfwAccept | LogKind::SfwDrop | LogKind::SfwReject => c.stateful_firewall,
    }
}
