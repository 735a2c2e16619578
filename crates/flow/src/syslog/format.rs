//! Log events → the text an MS-MPC sends.
//!
//! Message texts follow the Junos system log reference (JSERVICES_SESSION_OPEN,
//! JSERVICES_SESSION_CLOSE, JSERVICES_NAT_RULE_MATCH, JSERVICES_SFW_RULE_ACCEPT,
//! JSERVICES_NAT_PORT_BLOCK_ALLOC …) and the MS-MPC column of "System Log Error Messages
//! for Next Gen Services": `JSERVICES_SESSION_OPEN application source-interface-name
//! source-address source-port source-nat-information destination-address
//! destination-port destination-nat-information protocol-name`, e.g.
//! `JSERVICES_SESSION_OPEN: application:none, ge-1/0/0.0 10.0.0.5:41671
//! [203.0.113.128:1055] -> 198.51.100.21:80 (TCP)`.
//!
//! The PIC sends each line itself (no routing engine in between), in the BSD-like form
//! "Interpreting Messages Generated in Standard Format by Services on a PIC" describes
//! without the `(FPC Slot …)` field the routing engine adds:
//! `<PRI>YYYY-MM-DD HH:MM:SS: [log-prefix]{service-set}[jservices-nat]: TAG: text`.
//! PRI is facility × 8 + severity (RFC 5424 §6.2.1); every one of these logs is `info`.

use std::fmt::Write;
use std::net::IpAddr;

use mspic_config::{SyslogFacility, SyslogHost, SyslogSeverity};
use mspic_wire::proto;

use super::event::{LogEvent, LogKind};
use crate::policy::Policy;

/// Resolves the names an event refers to by index.
pub trait LogNames {
    /// Service set `set`'s name.
    fn set_name(&self, set: u16) -> &str;
    /// Logical interface `i`'s name (`ge-1/0/0.0`); `None`: unknown.
    fn interface_name(&self, i: u16) -> Option<String>;
    /// Firewall (`nat` false) or NAT rule-set, rule and term names of an event.
    fn rule_term(&self, set: u16, nat: bool, rule: u16, term: u16) -> (&str, &str, &str);
}

impl LogNames for Policy {
    fn set_name(&self, set: u16) -> &str {
        self.service_sets
            .get(set as usize)
            .map_or("(null)", |s| s.name.as_str())
    }
    fn interface_name(&self, i: u16) -> Option<String> {
        self.interfaces.get(i as usize).map(|f| f.logical_name())
    }
    fn rule_term(&self, set: u16, nat: bool, rule: u16, term: u16) -> (&str, &str, &str) {
        let rule_set = self
            .syslog
            .get(set as usize)
            .and_then(|s| {
                let v = if nat {
                    &s.nat_rule_sets
                } else {
                    &s.sfw_rule_sets
                };
                v.get(rule as usize)
            })
            .and_then(|n| n.as_deref())
            .unwrap_or("(null)");
        let names = if nat {
            self.nat
                .rules
                .get(set as usize)
                .and_then(|rs| rs.get(rule as usize))
                .map(|r| {
                    (
                        r.name.as_str(),
                        r.terms.get(term as usize).map(|t| t.name.as_str()),
                    )
                })
        } else {
            self.service_sets
                .get(set as usize)
                .and_then(|s| s.sfw_rules.get(rule as usize))
                .map(|r| {
                    (
                        r.name.as_str(),
                        r.terms.get(term as usize).map(|t| t.name.as_str()),
                    )
                })
        };
        match names {
            Some((r, t)) => (rule_set, r, t.unwrap_or("(null)")),
            None => (rule_set, "(null)", "(null)"),
        }
    }
}

/// The message tag.
pub fn tag(kind: LogKind) -> &'static str {
    match kind {
        LogKind::SessionOpen => "JSERVICES_SESSION_OPEN",
        LogKind::SessionClose(_) => "JSERVICES_SESSION_CLOSE",
        LogKind::NatRuleMatch => "JSERVICES_NAT_RULE_MATCH",
        LogKind::SfwAccept => "JSERVICES_SFW_RULE_ACCEPT",
        LogKind::SfwDrop => "JSERVICES_SFW_RULE_DROP",
        LogKind::SfwReject => "JSERVICES_SFW_RULE_REJECT",
        LogKind::PortBlockAlloc => "JSERVICES_NAT_PORT_BLOCK_ALLOC",
        LogKind::PortBlockRelease => "JSERVICES_NAT_PORT_BLOCK_RELEASE",
        LogKind::PortBlockActive => "JSERVICES_NAT_PORT_BLOCK_ACTIVE",
    }
}

/// The severity of every MS-MPC session, rule and port block log.
pub const SEVERITY: SyslogSeverity = SyslogSeverity::Info;

/// The facility when the host has no `facility-override`.
pub const DEFAULT_FACILITY: SyslogFacility = SyslogFacility::Daemon;

/// The protocol name in parentheses: `TCP`, `UDP`, `ICMP ECHO REQUEST` (a session's ICMP
/// flow is a query), else the number.
fn proto_name(p: u8, session: bool) -> String {
    match p {
        proto::TCP => "TCP".into(),
        proto::UDP => "UDP".into(),
        proto::ICMP if session => "ICMP ECHO REQUEST".into(),
        proto::ICMP => "ICMP".into(),
        proto::ICMPV6 if session => "ICMPV6 ECHO REQUEST".into(),
        proto::ICMPV6 => "ICMPV6".into(),
        proto::GRE => "GRE".into(),
        n => format!("PROTO {n}"),
    }
}

/// The destination "port" shown: ICMP flows show `type << 8 | code` of the echo request
/// that made them (2048; ICMPv6: 32768), as the reference's examples do.
fn shown_dst_port(k: &mspic_wire::FlowKey) -> u16 {
    match k.proto {
        proto::ICMP => 8 << 8,
        proto::ICMPV6 => 128 << 8,
        _ => k.dst_port,
    }
}

/// `[addr:port]`, or `[addr]` when the port is kept.
fn nat_info(out: &mut String, nat: Option<(IpAddr, u16)>, port: u16) {
    if let Some((a, p)) = nat {
        if p == port {
            let _ = write!(out, " [{a}]");
        } else {
            let _ = write!(out, " [{a}:{p}]");
        }
    }
}

/// Writes the message (`TAG: text`) of `e` into `out`.
pub fn message(out: &mut String, names: &dyn LogNames, e: &LogEvent) {
    let k = &e.key;
    let ifname = names
        .interface_name(e.ingress)
        .unwrap_or_else(|| "(null)".into());
    let app = e.alg.map(|a| a.keyword());
    let _ = write!(out, "{}: ", tag(e.kind));
    match e.kind {
        LogKind::SessionOpen | LogKind::SessionClose(_) => {
            let _ = write!(
                out,
                "application:{}, {ifname} {}:{}",
                app.unwrap_or("none"),
                k.src,
                k.src_port
            );
            nat_info(out, e.nat_src, k.src_port);
            let dport = shown_dst_port(k);
            let _ = write!(out, " -> {}:{dport}", k.dst);
            nat_info(out, e.nat_dst.map(|(a, _)| (a, dport)), dport);
            let _ = write!(out, " ({})", proto_name(k.proto, true));
        }
        LogKind::NatRuleMatch | LogKind::SfwAccept | LogKind::SfwDrop | LogKind::SfwReject => {
            let nat = e.kind == LogKind::NatRuleMatch;
            let (rule_set, rule, term) = names.rule_term(e.set, nat, e.rule, e.term);
            let what = match e.kind {
                LogKind::NatRuleMatch => "NAT",
                LogKind::SfwAccept => "SFW accept",
                LogKind::SfwDrop => "SFW drop",
                _ => "SFW reject",
            };
            let _ = write!(
                out,
                "proto {} ({}) application: {}, {ifname}:{}:{} -> {}:{}, Match {what} rule-set: {rule_set}, rule: {rule}, term: {term}",
                k.proto,
                proto_name(k.proto, false),
                app.unwrap_or("any"),
                k.src,
                k.src_port,
                k.dst,
                shown_dst_port(k)
            );
        }
        LogKind::PortBlockAlloc | LogKind::PortBlockRelease | LogKind::PortBlockActive => {
            let (a, lo) = e.nat_src.unwrap_or((k.src, 0));
            let secs = e.time.0 / 1_000_000_000;
            let _ = write!(out, "{} -> {a}:{lo}-{}, 0x{secs:08x}", k.src, e.port_hi);
        }
    }
}

/// The `[jservices-…]` field: the PIC plugin that logs.
fn plugin(kind: LogKind) -> &'static str {
    match kind {
        LogKind::SfwAccept | LogKind::SfwDrop | LogKind::SfwReject => "jservices-sfw",
        _ => "jservices-nat",
    }
}

/// The PRI value of a log sent to `host` (RFC 5424 §6.2.1: facility × 8 + severity).
pub fn pri(host: &SyslogHost) -> u8 {
    host.facility_override.unwrap_or(DEFAULT_FACILITY).code() * 8 + SEVERITY.code()
}

/// Writes the whole datagram of `e` for `host` into `out` (no trailing newline).
pub fn wire_line(out: &mut String, names: &dyn LogNames, host: &SyslogHost, e: &LogEvent) {
    let _ = write!(out, "<{}>", pri(host));
    timestamp(out, e.time.0 / 1_000_000_000);
    let _ = write!(
        out,
        ": {}{{{}}}[{}]: ",
        host.log_prefix.as_deref().unwrap_or(""),
        names.set_name(e.set),
        plugin(e.kind)
    );
    message(out, names, e);
}

/// `message-rate-limit` (Junos "syslog (Interfaces)"): per services interface, the lines
/// sent in the current second of the events' clock.
#[derive(Debug, Clone, Default)]
pub struct RateLimiter {
    /// Per services interface: (second, lines in it).
    windows: Vec<(u64, u32)>,
}

impl RateLimiter {
    /// Whether one more line of services interface `iface` may go at `now`.
    pub fn allow(&mut self, p: &Policy, iface: u16, now: crate::time::Time) -> bool {
        let limit = p
            .service_ifaces
            .get(iface as usize)
            .and_then(|s| s.syslog_rate_limit);
        let Some(limit) = limit else {
            return true;
        };
        let i = iface as usize;
        if self.windows.len() <= i {
            self.windows.resize(i + 1, (u64::MAX, 0));
        }
        let sec = now.0 / 1_000_000_000;
        let w = &mut self.windows[i];
        if w.0 != sec {
            *w = (sec, 0);
        }
        if w.1 >= limit {
            return false;
        }
        w.1 += 1;
        true
    }
}

/// Calls `f` with every host of the event's service set that takes it (class and
/// severity) and the line for that host, or `None` when the interface's rate limit
/// holds it back; `buf` is reused between lines.
pub fn for_each_line(
    p: &Policy,
    e: &LogEvent,
    buf: &mut String,
    limiter: &mut RateLimiter,
    mut f: impl FnMut(&SyslogHost, Option<&str>),
) {
    let Some(set) = p.syslog.get(e.set as usize) else {
        return;
    };
    let iface = p
        .service_sets
        .get(e.set as usize)
        .map_or(0, |s| s.service_iface);
    for h in &set.hosts {
        if super::class_has(h.classes(), e.kind) && h.wants(SEVERITY) {
            if !limiter.allow(p, iface, e.time) {
                f(h, None);
                continue;
            }
            buf.clear();
            wire_line(buf, p, h, e);
            f(h, Some(buf));
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of Unix time `secs`.
pub fn timestamp(out: &mut String, secs: u64) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Table test: dates computed independently (`date -u -d @SECS`).
    #[test]
    fn timestamps() {
        for (secs, want) in [
            (0, "1970-01-01 00:00:00"),
            (951_782_400, "2000-02-29 00:00:00"),
            (1_700_000_000, "2023-11-14 22:13:20"),
            (1_798_765_432, "2027-01-01 01:03:52"),
            (4_107_542_400, "2100-03-01 00:00:00"),
        ] {
            let mut s = String::new();
            timestamp(&mut s, secs);
            assert_eq!(s, want, "{secs}");
        }
    }

    /// Seconds of `YYYY-MM-DD HH:MM:SS`, counted naively year by year and month by month
    /// (independent of `civil_from_days`).
    fn naive_secs(t: &str) -> u64 {
        let n: Vec<u64> = t
            .split(['-', ' ', ':'])
            .map(|x| x.parse().unwrap())
            .collect();
        let leap =
            |y: u64| (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
        let mut days = 0;
        for y in 1970..n[0] {
            days += if leap(y) { 366 } else { 365 };
        }
        let months = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        for (m, len) in months.iter().enumerate().take((n[1] - 1) as usize) {
            days += len + u64::from(m == 1 && leap(n[0]));
        }
        days += n[2] - 1;
        days * 86_400 + n[3] * 3600 + n[4] * 60 + n[5]
    }

    proptest::proptest! {
        #[test]
        fn timestamps_count_back(secs in 0u64..8_000_000_000) {
            let mut s = String::new();
            timestamp(&mut s, secs);
            proptest::prop_assert_eq!(naive_secs(&s), secs, "{}", s);
        }
    }
}
