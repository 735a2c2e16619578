//! `services service-set NAME syslog host ADDRESS { … }`: the collectors an MS-MPC sends
//! its session, NAT and stateful-firewall logs to (Junos "syslog (Services Service Set)",
//! "host (Services Service Set syslog)", "class (Services Service Set syslog)").
//!
//! Statements and classes mspic does not produce are errors, never warnings: a router
//! would send those logs, and a collector expecting them would silently miss them.

use std::net::IpAddr;

use super::cursor::Cur;
use super::diag::{Diags, R};
use super::draft::Leaf;
use super::values::{ip, port_value};
use crate::lexer::Pos;
use crate::model::{SyslogClass, SyslogFacility, SyslogHost, SyslogSeverity, SyslogTarget};

/// One `host` of a service set's `syslog`.
#[derive(Debug, Clone)]
pub(super) struct SyslogD {
    pub(super) host: SyslogTarget,
    services: Leaf<SyslogSeverity>,
    class: Option<SyslogClass>,
    port: Leaf<u16>,
    facility: Leaf<SyslogFacility>,
    prefix: Leaf<String>,
    source: Leaf<IpAddr>,
}

const HOST: &[&str] = &[
    "services",
    "class",
    "port",
    "facility-override",
    "log-prefix",
    "source-address",
];

/// Junos statements of a syslog host mspic refuses, with why.
const HOST_REFUSED: &[(&str, &str)] = &[(
    "interface-service",
    "is not supported (the service set's own services interface sends the logs)",
)];

const CLASSES: &[&str] = &["session-logs", "nat-logs", "stateful-firewall-logs"];

/// Junos log classes mspic does not produce.
const CLASSES_REFUSED: &[&str] = &[
    "alg-logs",
    "ids-logs",
    "packet-logs",
    "pcp-logs",
    "urlf-logs",
];

/// Reads one `syslog …` path into `hosts`; `rate` takes `message-rate-limit` where it
/// exists (`interfaces … services-options syslog`; a service set has none).
pub(super) fn syslog(
    d: &mut Diags,
    c: &mut Cur,
    hosts: &mut Vec<SyslogD>,
    rate: Option<&mut Leaf<u32>>,
) -> R<()> {
    if let Some(w) = c.peek() {
        if w.text == "message-rate-limit" {
            let Some(rate) = rate else {
                return Err(d.error(
                    w.pos,
                    "syslog 'message-rate-limit' is not a service-set statement (set it under \
                     interfaces NAME services-options syslog)",
                ));
            };
            c.i += 1;
            let what = "message-rate-limit";
            let (v, t) = c.parse(d, what, super::values::u32_in(1, u32::MAX, what))?;
            c.end(d)?;
            return rate.set(d, what, v, t.pos, &t.text);
        }
    }
    let Some(_) = c.kw(d, &["host"], &[])? else {
        return Ok(());
    };
    let t = c.val(d, "syslog host")?;
    let addr = if t.text == "local" {
        SyslogTarget::Local
    } else {
        SyslogTarget::Address(ip(&t.text).map_err(|m| d.error(t.pos, m))?)
    };
    let h = match hosts.iter().position(|h| h.host == addr) {
        Some(i) => &mut hosts[i],
        None => {
            hosts.push(SyslogD::new(addr));
            hosts.last_mut().expect("just pushed")
        }
    };
    host_statement(d, c, h)
}

fn host_statement(d: &mut Diags, c: &mut Cur, h: &mut SyslogD) -> R<()> {
    if let Some(w) = c.peek() {
        if let Some((k, why)) = HOST_REFUSED.iter().find(|(k, _)| *k == w.text) {
            return Err(d.error(w.pos, format!("syslog host '{k}' {why}")));
        }
    }
    let Some((k, _)) = c.kw(d, HOST, &[])? else {
        return Ok(());
    };
    if k == "class" {
        return class(d, c, h);
    }
    let t = c.val(d, k)?;
    let (text, pos) = (t.text.as_str(), t.pos);
    c.end(d)?;
    match k {
        "services" => {
            let v = keyword(d, &SyslogSeverity::ALL, text, pos, "severity level")?;
            h.services.set(d, k, v, pos, text)
        }
        "port" => {
            let v = port_value(text).map_err(|m| d.error(pos, m))?;
            h.port.set(d, k, v, pos, text)
        }
        "facility-override" => {
            let v = keyword(d, &SyslogFacility::ALL, text, pos, "facility")?;
            h.facility.set(d, k, v, pos, text)
        }
        "log-prefix" => h.prefix.set(d, k, text.to_string(), pos, text),
        _ => {
            let v = ip(text).map_err(|m| d.error(pos, m))?;
            h.source.set(d, k, v, pos, text)
        }
    }
}

/// `class { session-logs <open|close>; nat-logs; stateful-firewall-logs; }`.
fn class(d: &mut Diags, c: &mut Cur, h: &mut SyslogD) -> R<()> {
    let cl = h.class.get_or_insert_with(SyslogClass::default);
    if let Some(w) = c.peek() {
        if CLASSES_REFUSED.contains(&w.text.as_str()) {
            return Err(d.error(
                w.pos,
                format!(
                    "syslog class '{}' is not supported (mspic does not produce those logs)",
                    w.text
                ),
            ));
        }
    }
    let Some((k, _)) = c.kw(d, CLASSES, &[])? else {
        return Ok(());
    };
    match k {
        "session-logs" => match c.kw(d, &["open", "close"], &[])? {
            None => {
                cl.session_open = true;
                cl.session_close = true;
            }
            Some(("open", _)) => cl.session_open = true,
            Some(_) => cl.session_close = true,
        },
        "nat-logs" => cl.nat = true,
        _ => cl.stateful_firewall = true,
    }
    c.end(d)
}

fn keyword<T: Copy>(
    d: &mut Diags,
    all: &[(T, &'static str)],
    text: &str,
    pos: Pos,
    what: &str,
) -> R<T> {
    match all.iter().find(|(_, k)| *k == text) {
        Some((v, _)) => Ok(*v),
        None => {
            let names: Vec<&str> = all.iter().map(|(_, k)| *k).collect();
            Err(d.error(
                pos,
                format!(
                    "invalid {what} '{text}' (expected one of: {})",
                    names.join(", ")
                ),
            ))
        }
    }
}

impl SyslogD {
    fn new(host: SyslogTarget) -> Self {
        SyslogD {
            host,
            services: Leaf::default(),
            class: None,
            port: Leaf::default(),
            facility: Leaf::default(),
            prefix: Leaf::default(),
            source: Leaf::default(),
        }
    }

    /// The model's host.
    pub(super) fn model(&self) -> SyslogHost {
        SyslogHost {
            host: self.host,
            services: self.services.get(),
            class: self.class,
            port: self.port.get(),
            facility_override: self.facility.get(),
            log_prefix: self.prefix.get(),
            source_address: self.source.get(),
        }
    }
}
