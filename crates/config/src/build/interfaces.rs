//! `interfaces`: physical and logical interfaces (addresses, service sets applied to them)
//! and `ms-` services interfaces (`services-options`, units with a service domain).

use super::cursor::{Cur, IGNORED_EVERYWHERE};
use super::diag::{Diags, R};
use super::draft::{Leaf, Named, Ref, Unique};
use super::values::{prefix, u32_in, uint};
use super::Builder;
use crate::model::*;
use crate::tree::Word;

/// An address family of a logical unit.
#[derive(Default)]
pub(super) struct FamD {
    pub(super) addresses: Unique<Prefix>,
    pub(super) input: Leaf<String>,
    pub(super) output: Leaf<String>,
}

/// A logical unit of a plain interface.
pub(super) struct UnitD {
    pub(super) number: u32,
    /// Where the unit first appears.
    pub(super) pos: crate::lexer::Pos,
    pub(super) inet: Option<FamD>,
    pub(super) inet6: Option<FamD>,
}

/// A plain (non-services) interface.
pub(super) struct IfD {
    pub(super) name: String,
    pub(super) units: Named<u32, UnitD>,
}

/// `services-options` of an `ms-` interface.
#[derive(Default)]
pub(super) struct OptsD {
    pub(super) inactivity: Leaf<u32>,
    pub(super) inactivity_tcp: Leaf<u32>,
    pub(super) inactivity_non_tcp: Leaf<u32>,
    pub(super) open: Leaf<u32>,
    pub(super) close: Leaf<u32>,
    pub(super) limit_max: Leaf<u32>,
    pub(super) limit_rate: Leaf<u32>,
    pub(super) tickles: Leaf<u32>,
    pub(super) pba_interim: Leaf<u32>,
    pub(super) syslog: Vec<super::syslog::SyslogD>,
    pub(super) syslog_rate: Leaf<u32>,
}

/// A unit of an `ms-` interface.
pub(super) struct SvcUnitD {
    pub(super) number: u32,
    pub(super) inet: bool,
    pub(super) inet6: bool,
    pub(super) domain: Leaf<ServiceDomain>,
}

/// An `ms-` services interface.
pub(super) struct SvcIfD {
    pub(super) name: String,
    pub(super) opts: OptsD,
    pub(super) units: Named<u32, SvcUnitD>,
}

const PHYS_IGNORED: &[&str] = &[
    "aggregated-ether-options",
    "disable",
    "encapsulation",
    "ether-options",
    "flexible-vlan-tagging",
    "gigether-options",
    "hold-time",
    "link-mode",
    "mac",
    "mtu",
    "native-vlan-id",
    "optics-options",
    "per-unit-scheduler",
    "hierarchical-scheduler",
    "speed",
    "traceoptions",
    "vlan-tagging",
    "stacked-vlan-tagging",
    "esi",
    "passive-monitor-mode",
    "no-gratuitous-arp-request",
];

const UNIT_IGNORED: &[&str] = &[
    "vlan-id",
    "vlan-tags",
    "encapsulation",
    "disable",
    "bandwidth",
    "mtu",
    "proxy-arp",
    "traps",
    "no-traps",
];

const FAMILY_INET_IGNORED: &[&str] = &[
    "filter",
    "mtu",
    "sampling",
    "rpf-check",
    "no-redirects",
    "dhcp",
    "dhcp-client",
    "unnumbered-address",
    "policer",
    "targeted-broadcast",
    "primary",
    "preferred",
    "accounting",
    "simple-filter",
];

const ADDRESS_IGNORED: &[&str] = &[
    "primary",
    "preferred",
    "vrrp-group",
    "vrrp-inet6-group",
    "arp",
    "broadcast",
    "destination",
    "eui-64",
];

const OPTS: &[&str] = &[
    "inactivity-timeout",
    "inactivity-tcp-timeout",
    "inactivity-non-tcp-timeout",
    "open-timeout",
    "close-timeout",
    "session-limit",
    "tcp-tickles",
    "syslog",
    "pba-interim-logging-interval",
];

const OPTS_IGNORED: &[&str] = &[
    "ignore-errors",
    "cgn-pic",
    "trio-flow-offload",
    "disable-global-timeout-override",
    "jflow-log",
];

/// `services-options` statements that change what the PIC does with packets and that
/// mspic does not implement: refused rather than ignored.
const OPTS_REFUSED: &[(&str, &str)] = &[
    (
        "fragment-limit",
        "mspic does not limit the fragments of a packet",
    ),
    (
        "reassembly-timeout",
        "mspic does not time out fragment reassembly by this setting",
    ),
    (
        "inactivity-asymm-tcp-timeout",
        "mspic has no separate timeout for one-way TCP sessions",
    ),
    (
        "session-timeout",
        "mspic does not end sessions at a fixed lifetime",
    ),
    (
        "tcp-non-syn",
        "mspic always drops, and counts, a first TCP packet that is not a SYN",
    ),
];

const OTHER_SERVICE_IFS: &[&str] = &["sp-", "mams-", "vms-", "ams", "rms", "lsq-", "si-"];

/// What an interface name stands for.
pub(super) enum IfKind {
    Service,
    Plain,
    Ignored,
}

fn digits_slashes(s: &str, parts: usize) -> bool {
    let s = s.split_once(':').map_or(s, |(a, b)| {
        if b.is_empty() || !b.bytes().all(|c| c.is_ascii_digit()) {
            "!"
        } else {
            a
        }
    });
    let v: Vec<&str> = s.split('/').collect();
    v.len() == parts
        && v.iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|c| c.is_ascii_digit()))
}

/// Classifies an interface name (without unit), or says what is wrong with it.
pub(super) fn interface_kind(s: &str) -> Result<IfKind, String> {
    if s.contains('.') {
        return Err(format!(
            "invalid interface name '{s}' (write the unit as 'unit N', not in the name)"
        ));
    }
    if let Some(rest) = s.strip_prefix("ms-") {
        return if digits_slashes(rest, 3) && !rest.contains(':') {
            Ok(IfKind::Service)
        } else {
            Err(format!(
                "invalid services interface name '{s}' (expected ms-FPC/PIC/PORT, e.g. ms-1/1/0)"
            ))
        };
    }
    if OTHER_SERVICE_IFS.iter().any(|p| s.starts_with(p)) {
        return Ok(IfKind::Ignored);
    }
    for p in ["ge-", "xe-", "et-", "fe-"] {
        if let Some(rest) = s.strip_prefix(p) {
            return if digits_slashes(rest, 3) {
                Ok(IfKind::Plain)
            } else {
                Err(format!(
                    "invalid interface name '{s}' (expected {p}FPC/PIC/PORT, e.g. {p}0/0/0)"
                ))
            };
        }
    }
    let ok = s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | ':' | '_'));
    if ok {
        Ok(IfKind::Plain)
    } else {
        Err(format!("invalid interface name '{s}'"))
    }
}

/// Splits `ms-1/1/0.1` into (`ms-1/1/0`, Some(1)).
pub(super) fn split_unit(s: &str) -> Result<(&str, Option<u32>), String> {
    match s.split_once('.') {
        None => Ok((s, None)),
        Some((n, u)) => uint(u, "unit number", 0, 1_073_741_823)
            .map(|u| (n, Some(u as u32)))
            .map_err(|_| format!("invalid interface name '{s}' (expected NAME or NAME.UNIT)")),
    }
}

/// The names of the address families a plain unit may carry that mspic ignores.
const FAMILY_IGNORED: &[&str] = &[
    "mpls",
    "iso",
    "ethernet-switching",
    "bridge",
    "ccc",
    "vpls",
    "tcc",
    "inet-vpn",
    "mlppp",
    "mlfr-end-to-end",
    "any",
];

/// The message for `service-filter`: mspic cannot choose which traffic reaches a set.
const SERVICE_FILTER: &str = "(mspic sends all of the interface's traffic to the service set)";

impl Builder {
    pub(super) fn interfaces(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        if c.at_end() {
            return Ok(());
        }
        if let Some(Word::Atom(t)) = c.w.get(c.i) {
            if matches!(
                t.text.as_str(),
                "interface-range" | "interface-set" | "traceoptions"
            ) {
                return c
                    .kw(
                        d,
                        &[],
                        &["interface-range", "interface-set", "traceoptions"],
                    )
                    .map(|_| ());
            }
            if IGNORED_EVERYWHERE.contains(&t.text.as_str()) {
                return c.kw(d, &[], &[]).map(|_| ());
            }
        }
        let t = c.val(d, "interface name")?;
        let kind = interface_kind(&t.text).map_err(|m| d.error(t.pos, m))?;
        let name = t.text.clone();
        match kind {
            IfKind::Ignored => {
                d.warn_once(
                    format!("if:{}", t.text),
                    t.pos,
                    format!(
                        "ignoring unsupported services interface '{}' (only ms- interfaces are emulated)",
                        t.text
                    ),
                );
                Ok(())
            }
            IfKind::Service => {
                let si = self.svc.entry(name.clone(), || SvcIfD {
                    name: name.clone(),
                    opts: OptsD::default(),
                    units: Default::default(),
                });
                service_interface(si, d, c)
            }
            IfKind::Plain => {
                let ifd = self.interfaces.entry(name.clone(), || IfD {
                    name: name.clone(),
                    units: Default::default(),
                });
                self.if_set_refs.extend(plain_interface(ifd, d, c)?);
                Ok(())
            }
        }
    }

    /// Adds the interfaces, plain and services, to the model; refuses the logical units
    /// past the [`MAX_INDEXED`] the packet path can number.
    pub(super) fn finish_interfaces(&self, d: &mut Diags, cfg: &mut Config) {
        let units = self.interfaces.iter().flat_map(|i| i.units.iter());
        if let Some(u) = units.clone().nth(MAX_INDEXED) {
            d.error(
                u.pos,
                format!("too many logical interfaces (limit {MAX_INDEXED})"),
            );
        }
        let fam = |f: &Option<FamD>| {
            f.as_ref().map(|f| Family {
                addresses: f.addresses.to_vec(),
                input_service_set: f.input.get(),
                output_service_set: f.output.get(),
            })
        };
        for i in &self.interfaces {
            cfg.interfaces.push(Interface {
                name: i.name.clone(),
                units: i
                    .units
                    .iter()
                    .map(|u| Unit {
                        number: u.number,
                        inet: fam(&u.inet),
                        inet6: fam(&u.inet6),
                    })
                    .collect(),
            });
        }
        for s in &self.svc {
            let o = &s.opts;
            cfg.service_interfaces.push(ServiceInterface {
                name: s.name.clone(),
                options: ServicesOptions {
                    inactivity_timeout: o.inactivity.get(),
                    inactivity_tcp_timeout: o.inactivity_tcp.get(),
                    inactivity_non_tcp_timeout: o.inactivity_non_tcp.get(),
                    open_timeout: o.open.get(),
                    close_timeout: o.close.get(),
                    session_limit_maximum: o.limit_max.get(),
                    session_limit_rate: o.limit_rate.get(),
                    tcp_tickles: o.tickles.get(),
                    pba_interim_logging_interval: o.pba_interim.get(),
                    syslog: o.syslog.iter().map(super::syslog::SyslogD::model).collect(),
                    syslog_rate_limit: o.syslog_rate.get(),
                },
                units: s
                    .units
                    .iter()
                    .map(|u| ServiceUnit {
                        number: u.number,
                        inet: u.inet,
                        inet6: u.inet6,
                        service_domain: u.domain.get(),
                    })
                    .collect(),
            });
        }
    }

    /// Checks an interface reference `NAME[.UNIT]` (an `ms-` one when `want_ms`): the
    /// interface, and the unit if given, must be configured. Returns the unit.
    pub(super) fn check_if_ref(
        &self,
        d: &mut Diags,
        r: &Ref,
        what: &str,
        want_ms: bool,
    ) -> Option<Option<u32>> {
        let (n, unit) = split_unit(&r.name).map_err(|m| d.error(r.pos, m)).ok()?;
        let svc = self.svc.get(n);
        let plain = self.interfaces.get(n);
        let problem = match (svc, plain) {
            (Some(_), _) => None,
            (None, Some(_)) if want_ms => Some("is not a services (ms-) interface"),
            (None, None) if want_ms => Some("is not a configured ms- interface"),
            (None, None) => Some("is not a configured interface"),
            (None, Some(_)) => None,
        };
        if let Some(p) = problem {
            d.error(r.pos, format!("{what} '{}' {p}", r.name));
            return None;
        }
        if let Some(u) = unit {
            let known = match (svc, plain) {
                (Some(s), _) => s.units.contains(&u),
                (None, Some(i)) => i.units.contains(&u),
                (None, None) => false,
            };
            if !known {
                d.error(
                    r.pos,
                    format!("{what} '{}': unit {u} of {n} is not configured", r.name),
                );
                return None;
            }
        }
        Some(unit)
    }

    /// The service domain of unit `unit` of services interface `name`, if set.
    pub(super) fn service_domain(&self, name: &str, unit: u32) -> Option<ServiceDomain> {
        self.svc
            .get(name)
            .and_then(|x| x.units.get(&unit))
            .and_then(|u| u.domain.get())
    }
}

/// `unit N family F …` of a plain interface; returns the service set it applies, if any.
fn plain_interface(ifd: &mut IfD, d: &mut Diags, c: &mut Cur) -> R<Option<Ref>> {
    let Some(_) = c.kw(d, &["unit"], PHYS_IGNORED)? else {
        return Ok(None);
    };
    let (n, t) = c.parse(d, "unit number", u32_in(0, 1_073_741_823, "unit number"))?;
    let unit = ifd.units.entry(n, || UnitD {
        number: n,
        pos: t.pos,
        inet: None,
        inet6: None,
    });
    let Some(_) = c.kw(d, &["family"], UNIT_IGNORED)? else {
        return Ok(None);
    };
    let fam = c.val(d, "address family")?;
    let v6 = match fam.text.as_str() {
        "inet" => false,
        "inet6" => true,
        other if FAMILY_IGNORED.contains(&other) => {
            let stmt = c.consumed(c.i);
            d.warn_once(
                stmt.clone(),
                fam.pos,
                format!("ignoring unsupported statement '{stmt}'"),
            );
            return Ok(None);
        }
        other => return Err(unknown_family(d, fam.pos, other)),
    };
    let slot = if v6 { &mut unit.inet6 } else { &mut unit.inet };
    family(slot.get_or_insert_with(FamD::default), v6, d, c)
}

fn unknown_family(d: &mut Diags, pos: crate::lexer::Pos, name: &str) -> super::diag::Stop {
    d.error(
        pos,
        format!("unknown address family '{name}' (expected one of: inet, inet6)"),
    )
}

/// `address A/L` or `service input|output service-set S` in a family.
fn family(fd: &mut FamD, v6: bool, d: &mut Diags, c: &mut Cur) -> R<Option<Ref>> {
    let Some((k, _)) = c.kw(d, &["address", "service"], FAMILY_INET_IGNORED)? else {
        return Ok(None);
    };
    if k == "address" {
        let (p, t) = c.parse(d, "interface address", prefix)?;
        if p.addr.is_ipv6() != v6 {
            return Err(d.error(
                t.pos,
                format!(
                    "address '{}' is not an {} address (family {})",
                    t.text,
                    if v6 { "IPv6" } else { "IPv4" },
                    if v6 { "inet6" } else { "inet" }
                ),
            ));
        }
        fd.addresses.insert(p);
        c.end_or_ignore(d, ADDRESS_IGNORED)?;
        return Ok(None);
    }
    let (dir, _) = c.need_kw(d, &["input", "output"], &["input-vrf"])?;
    if let Some(Word::Atom(t)) = c.w.get(c.i) {
        if matches!(t.text.as_str(), "service-filter" | "post-service-filter") {
            return Err(d.error(
                t.pos,
                format!("unsupported statement '{}' {SERVICE_FILTER}", t.text),
            ));
        }
    }
    c.need_kw(d, &["service-set"], &[])?;
    // `service-set S service-filter F` (the filter after the set's name).
    if let Some(Word::Atom(f)) = c.w.get(c.i + 1) {
        if f.text == "service-filter" {
            return Err(d.error(
                f.pos,
                format!("unsupported statement 'service-filter' {SERVICE_FILTER}"),
            ));
        }
    }
    let t = c.val(d, "service-set name")?;
    c.end(d)?;
    let leaf = if dir == "input" {
        &mut fd.input
    } else {
        &mut fd.output
    };
    let stmt = format!("service {dir} service-set");
    leaf.set(d, &stmt, t.text.clone(), t.pos, &t.text)?;
    Ok(Some(Ref {
        name: t.text.clone(),
        pos: t.pos,
    }))
}

/// A statement under an `ms-` interface: `unit …` or `services-options …`.
fn service_interface(si: &mut SvcIfD, d: &mut Diags, c: &mut Cur) -> R<()> {
    let ignored = [
        "redundancy-options",
        "load-balancing-options",
        "multiservice-options",
        "mtu",
        "traceoptions",
        "disable",
    ];
    let Some((k, _)) = c.kw(d, &["services-options", "unit"], &ignored)? else {
        return Ok(());
    };
    if k == "unit" {
        return service_unit(si, d, c);
    }
    c.refuse(d, OPTS_REFUSED)?;
    let (k, _) = c.need_kw(d, OPTS, OPTS_IGNORED)?;
    let o = &mut si.opts;
    if k == "syslog" {
        return super::syslog::syslog(d, c, &mut o.syslog, Some(&mut o.syslog_rate));
    }
    let (leaf, what, lo, hi): (&mut Leaf<u32>, &'static str, u32, u32) = match k {
        "inactivity-timeout" => (&mut o.inactivity, "inactivity-timeout", 4, 86400),
        "inactivity-tcp-timeout" => (&mut o.inactivity_tcp, "inactivity-tcp-timeout", 4, 86400),
        "inactivity-non-tcp-timeout" => (
            &mut o.inactivity_non_tcp,
            "inactivity-non-tcp-timeout",
            4,
            86400,
        ),
        "open-timeout" => (&mut o.open, "open-timeout", 4, 224),
        "close-timeout" => (&mut o.close, "close-timeout", 4, 300),
        "tcp-tickles" => (&mut o.tickles, "tcp-tickles", 0, 30),
        "pba-interim-logging-interval" => {
            (&mut o.pba_interim, "pba-interim-logging-interval", 0, 86400)
        }
        _ => {
            c.refuse(
                d,
                &[(
                    "cpu-load-threshold",
                    "mspic does not refuse sessions by CPU load",
                )],
            )?;
            let (k2, _) = c.need_kw(d, &["maximum", "rate"], &[])?;
            if k2 == "maximum" {
                (&mut o.limit_max, "session-limit maximum", 0, u32::MAX)
            } else {
                (&mut o.limit_rate, "session-limit rate", 0, u32::MAX)
            }
        }
    };
    let (v, t) = c.parse(d, what, u32_in(lo, hi, what))?;
    c.end(d)?;
    leaf.set(d, what, v, t.pos, &t.text)
}

/// `unit N family F` or `unit N service-domain inside|outside` of an `ms-` interface.
fn service_unit(si: &mut SvcIfD, d: &mut Diags, c: &mut Cur) -> R<()> {
    let (n, _) = c.parse(d, "unit number", u32_in(0, 1_073_741_823, "unit number"))?;
    let unit = si.units.entry(n, || SvcUnitD {
        number: n,
        inet: false,
        inet6: false,
        domain: Leaf::default(),
    });
    let Some((k, _)) = c.kw(
        d,
        &["family", "service-domain"],
        &["dial-options", "encapsulation", "mtu"],
    )?
    else {
        return Ok(());
    };
    if k == "service-domain" {
        return service_domain(unit, d, c);
    }
    let fam = c.val(d, "address family")?;
    match fam.text.as_str() {
        "inet" => unit.inet = true,
        "inet6" => unit.inet6 = true,
        other => return Err(unknown_family(d, fam.pos, other)),
    }
    let ignored = &["address", "filter", "mtu", "sampling"];
    // Older releases place it under `family inet` (Junos 9.5 "service-domain": hierarchy
    // `[edit interfaces … unit … family inet]`); current ones under the unit.
    if fam.text == "inet" && c.kw(d, &["service-domain"], ignored)?.is_some() {
        return service_domain(unit, d, c);
    }
    c.end_or_ignore(d, ignored)
}

/// `service-domain inside|outside`, the keyword read.
fn service_domain(unit: &mut SvcUnitD, d: &mut Diags, c: &mut Cur) -> R<()> {
    let (dom, t) = c.parse(d, "service domain", |s| match s {
        "inside" => Ok(ServiceDomain::Inside),
        "outside" => Ok(ServiceDomain::Outside),
        _ => Err(format!(
            "invalid service-domain '{s}' (expected inside or outside)"
        )),
    })?;
    c.end(d)?;
    unit.domain.set(d, "service-domain", dom, t.pos, &t.text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names() {
        assert!(matches!(interface_kind("ms-1/1/0"), Ok(IfKind::Service)));
        assert!(matches!(interface_kind("ge-0/0/0"), Ok(IfKind::Plain)));
        assert!(matches!(interface_kind("xe-0/0/0:1"), Ok(IfKind::Plain)));
        assert!(matches!(interface_kind("ae0"), Ok(IfKind::Plain)));
        assert!(matches!(interface_kind("lo0"), Ok(IfKind::Plain)));
        assert!(matches!(interface_kind("sp-0/0/0"), Ok(IfKind::Ignored)));
        assert!(interface_kind("ge-0/0").is_err());
        assert!(interface_kind("ms-1/1/0:1").is_err());
        assert!(interface_kind("ge-0/0/0.1").is_err());
        assert!(interface_kind("0ge").is_err());
        assert_eq!(split_unit("ms-1/1/0.7"), Ok(("ms-1/1/0", Some(7))));
        assert!(split_unit("ms-1/1/0.x").is_err());
    }
}
