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
pub use format::{for_each_line, message, wire_line, LogNames, RateLimiter};

use mspic_config::{Config, ServiceSet, SyslogClass, SyslogHost};

/// The syslog configuration of one service set, compiled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetSyslog {
    /// The collectors.
    pub hosts: Vec<SyslogHost>,
    /// Union of the hosts' classes: whether any host wants a kind of log.
    pub classes: SyslogClass,
    /// Per firewall rule of the set (in evaluation order): the rule set that brought it.
    pub sfw_rule_sets: Vec<Option<String>>,
    /// Per NAT rule of the set (in evaluation order): the rule set that brought it.
    pub nat_rule_sets: Vec<Option<String>>,
}

/// Per rule, in the order the policy expands them (the set's rules, then each rule set's),
/// the rule set it came from.
fn rule_sets<'a>(
    rules: &[String],
    sets: &[String],
    members: impl Fn(&str) -> Option<&'a [String]>,
) -> Vec<Option<String>> {
    let mut v = vec![None; rules.len()];
    for rs in sets {
        let n = members(rs).map_or(0, <[String]>::len);
        v.extend(std::iter::repeat_n(Some(rs.clone()), n));
    }
    v
}

impl SetSyslog {
    /// Compiles the syslog hosts of service set `s` of `c`: its own, else those of its
    /// services interface's `services-options syslog` (Junos "syslog (Interfaces)": the
    /// service set's values override the interface's).
    pub fn compile(c: &Config, s: &ServiceSet) -> SetSyslog {
        let hosts = if s.syslog.is_empty() {
            c.service_interface(s.service_interface())
                .map_or(&s.syslog, |i| &i.options.syslog)
        } else {
            &s.syslog
        };
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
            sfw_rule_sets: rule_sets(&s.sfw_rules, &s.sfw_rule_sets, |n| {
                c.sfw_rule_set(n).map(|r| r.rules.as_slice())
            }),
            nat_rule_sets: rule_sets(&s.nat_rules, &s.nat_rule_sets, |n| {
                c.nat_rule_set(n).map(|r| r.rules.as_slice())
            }),
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
