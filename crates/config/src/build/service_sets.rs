//! `services service-set`: which rules apply (rules and rule sets of both kinds) and
//! where (`interface-service` on an `ms-` interface, or `next-hop-service` between an
//! inside and an outside unit); and the sets applied to interfaces exist.

use super::cursor::Cur;
use super::diag::{Diags, R};
use super::draft::{push_ref, Leaf, Ref, Refs};
use super::interfaces::split_unit;
use super::syslog::SyslogD;
use super::values::{name, u32_in};
use super::Builder;
use crate::lexer::Pos;
use crate::model::*;

/// A service set.
pub(super) struct SsD {
    pub(super) name: String,
    pub(super) pos: Pos,
    pub(super) sfw_rules: Refs,
    pub(super) sfw_rule_sets: Refs,
    pub(super) nat_rules: Refs,
    pub(super) nat_rule_sets: Refs,
    pub(super) softwire_rules: Refs,
    pub(super) iface: Leaf<String>,
    pub(super) inside: Leaf<String>,
    pub(super) outside: Leaf<String>,
    pub(super) max_flows: Leaf<u32>,
    pub(super) syslog: Vec<SyslogD>,
    pub(super) tcp_mss: Leaf<u16>,
    pub(super) setup_rate: Leaf<u32>,
    pub(super) per_subscriber: Leaf<u32>,
    pub(super) clear_df: Leaf<bool>,
}

/// References to check: the refs, what they name, and whether a name exists.
type RefCheck<'a> = (&'a Refs, &'a str, &'a dyn Fn(&str) -> bool);

const SS: &[&str] = &[
    "stateful-firewall-rules",
    "stateful-firewall-rule-sets",
    "nat-rules",
    "nat-rule-sets",
    "softwire-rules",
    "interface-service",
    "next-hop-service",
    "max-flows",
    "syslog",
    "tcp-mss",
    "max-session-setup-rate",
    "max-sessions-per-subscriber",
    "nat-options",
];

const SS_IGNORED: &[&str] = &[
    "aacl-rules",
    "allow-multicast",
    "border-signaling-gateway",
    "cos-rules",
    "hcm-profile",
    "hcm-url-rule-sets",
    "ids-rules",
    "ids-rule-sets",
    "ipsec-vpn-options",
    "ipsec-vpn-rules",
    "ipsec-vpn-rule-sets",
    "jflow-log",
    "max-drop-flows",
    "pcp-rules",
    "pgcp-rules",
    "ptsp-rules",
    "replicate-services",
    "sampling-service",
    "service-order",
    "snmp-trap-thresholds",
    "web-filter-profile",
];

impl Builder {
    pub(super) fn service_set(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        let (n, t) = c.parse(d, "service-set name", name("service-set name"))?;
        let ss = self.service_sets.entry(n.clone(), || SsD {
            name: n.clone(),
            pos: t.pos,
            sfw_rules: Default::default(),
            sfw_rule_sets: Default::default(),
            nat_rules: Default::default(),
            nat_rule_sets: Default::default(),
            softwire_rules: Default::default(),
            iface: Leaf::default(),
            inside: Leaf::default(),
            outside: Leaf::default(),
            max_flows: Leaf::default(),
            syslog: Vec::new(),
            tcp_mss: Leaf::default(),
            setup_rate: Leaf::default(),
            per_subscriber: Leaf::default(),
            clear_df: Leaf::default(),
        });
        c.refuse(
            d,
            &[
                (
                    "service-set-options",
                    "its options (asymmetric and one-way traffic, bypass on overload, session \
                 syslog switches) change which packets pass and what is logged; mspic has none",
                ),
                (
                    "softwire-rule-sets",
                    "softwire rule sets are not implemented; name the rules with softwire-rules",
                ),
            ],
        )?;
        let Some((k, _)) = c.kw(d, SS, SS_IGNORED)? else {
            return Ok(());
        };
        match k {
            "stateful-firewall-rules"
            | "stateful-firewall-rule-sets"
            | "nat-rules"
            | "nat-rule-sets"
            | "softwire-rules" => {
                let v = match k {
                    "stateful-firewall-rules" => &mut ss.sfw_rules,
                    "stateful-firewall-rule-sets" => &mut ss.sfw_rule_sets,
                    "nat-rules" => &mut ss.nat_rules,
                    "softwire-rules" => &mut ss.softwire_rules,
                    _ => &mut ss.nat_rule_sets,
                };
                let what = if k.ends_with("sets") {
                    "rule-set name"
                } else {
                    "rule name"
                };
                for t in c.vals(d, what)? {
                    push_ref(v, t);
                }
                c.end(d)
            }
            "interface-service" => {
                let Some(_) = c.kw(
                    d,
                    &["service-interface"],
                    &["load-balancing-options", "service-interface-pool"],
                )?
                else {
                    return Ok(());
                };
                let t = c.val(d, "services interface name")?;
                c.end(d)?;
                ss.iface
                    .set(d, "service-interface", t.text.clone(), t.pos, &t.text)
            }
            "next-hop-service" => {
                let Some((k, _)) = c.kw(
                    d,
                    &["inside-service-interface", "outside-service-interface"],
                    &["outside-service-interface-type", "service-interface-pool"],
                )?
                else {
                    return Ok(());
                };
                let t = c.val(d, "services interface name")?;
                c.end(d)?;
                let leaf = if k == "inside-service-interface" {
                    &mut ss.inside
                } else {
                    &mut ss.outside
                };
                leaf.set(d, k, t.text.clone(), t.pos, &t.text)
            }
            "syslog" => super::syslog::syslog(d, c, &mut ss.syslog, None),
            "max-session-setup-rate" => {
                let (v, t) = c.parse(d, "max-session-setup-rate", setup_rate)?;
                c.end(d)?;
                ss.setup_rate
                    .set(d, "max-session-setup-rate", v, t.pos, &t.text)
            }
            "max-sessions-per-subscriber" => {
                let (v, t) = c.parse(
                    d,
                    "max-sessions-per-subscriber",
                    u32_in(1, u32::MAX, "max-sessions-per-subscriber"),
                )?;
                c.end(d)?;
                ss.per_subscriber
                    .set(d, "max-sessions-per-subscriber", v, t.pos, &t.text)
            }
            "nat-options" => {
                // Junos "Configuring Stateful NAT64": `nat-options stateful-nat64
                // clear-dont-fragment-bit`; the other options are not modelled.
                let Some(_) = c.kw(
                    d,
                    &["stateful-nat64"],
                    &["max-sessions-per-subscriber", "nptv6", "stateful-nat464"],
                )?
                else {
                    return Ok(());
                };
                let Some((k, pos)) = c.kw(d, &["clear-dont-fragment-bit"], &[])? else {
                    return Ok(());
                };
                c.end(d)?;
                ss.clear_df.set(d, k, true, pos, k)
            }
            "tcp-mss" => {
                // Junos "Configuring Service Set Limitations": 536 through 65535.
                let (v, t) = c.parse(d, "tcp-mss", u32_in(536, 65535, "tcp-mss"))?;
                c.end(d)?;
                ss.tcp_mss.set(d, "tcp-mss", v as u16, t.pos, &t.text)
            }
            _ => {
                let (v, t) = c.parse(d, "max-flows", u32_in(0, u32::MAX, "max-flows"))?;
                c.end(d)?;
                ss.max_flows.set(d, "max-flows", v, t.pos, &t.text)
            }
        }
    }

    /// Checks service sets (rules named, one complete style) and the sets interfaces
    /// apply; adds the sets to the model.
    pub(super) fn finish_service_sets(&self, d: &mut Diags, cfg: &mut Config) {
        if let Some(s) = self.service_sets.iter().nth(MAX_INDEXED) {
            d.error(
                s.pos,
                format!("too many service sets (limit {MAX_INDEXED})"),
            );
        }
        for s in &self.service_sets {
            self.check_set_rules(d, s);
            if let Some(style) = self.set_style(d, s) {
                check_per_subscriber(d, s, &style);
                cfg.service_sets.push(ServiceSet {
                    name: s.name.clone(),
                    sfw_rules: s.sfw_rules.names(),
                    sfw_rule_sets: s.sfw_rule_sets.names(),
                    nat_rules: s.nat_rules.names(),
                    nat_rule_sets: s.nat_rule_sets.names(),
                    softwire_rules: s.softwire_rules.names(),
                    style,
                    max_flows: s.max_flows.get(),
                    syslog: s.syslog.iter().map(SyslogD::model).collect(),
                    tcp_mss: s.tcp_mss.get(),
                    max_session_setup_rate: s.setup_rate.get(),
                    max_sessions_per_subscriber: s.per_subscriber.get(),
                    nat64_clear_df: s.clear_df.get().unwrap_or(false),
                });
            }
        }
        self.check_shared_units(d, cfg);
        for r in &self.if_set_refs {
            match self.service_sets.get(&r.name) {
                None => {
                    d.error(r.pos, format!("service-set '{}' is not defined", r.name));
                }
                Some(s)
                    if s.iface.v.is_none() && (s.inside.v.is_some() || s.outside.v.is_some()) =>
                {
                    d.error(
                        r.pos,
                        format!(
                            "service-set '{}' is a next-hop style set and cannot be applied to an interface",
                            r.name
                        ),
                    );
                }
                Some(_) => {}
            }
        }
    }

    /// A services unit is a leg of one next-hop set only; the error points at its second
    /// use.
    fn check_shared_units(&self, d: &mut Diags, cfg: &Config) {
        let Some(shared) = cfg.shared_service_unit() else {
            return;
        };
        if shared.first == shared.second {
            // One unit as both legs of a set: the service-domain check has said so.
            return;
        }
        let second = self.service_sets.get(&shared.second);
        let leg = second.and_then(|s| {
            [&s.inside, &s.outside]
                .into_iter()
                .find_map(|l| l.v.as_ref().filter(|(u, _, _)| *u == shared.unit))
        });
        let pos = leg.map(|(_, pos, _)| *pos).or(second.map(|s| s.pos));
        d.error(pos.unwrap_or_default(), shared.to_string());
    }

    /// The rules and rule sets a service set names must exist.
    fn check_set_rules(&self, d: &mut Diags, s: &SsD) {
        let checks: [RefCheck; 5] = [
            (&s.sfw_rules, "stateful-firewall rule", &|n| {
                self.sfw_rules.contains(n)
            }),
            (&s.sfw_rule_sets, "stateful-firewall rule-set", &|n| {
                self.sfw_rule_sets.contains(n)
            }),
            (&s.nat_rules, "nat rule", &|n| self.nat_rules.contains(n)),
            (&s.nat_rule_sets, "nat rule-set", &|n| {
                self.nat_rule_sets.contains(n)
            }),
            (&s.softwire_rules, "softwire rule", &|n| {
                self.sw_rules.contains(n)
            }),
        ];
        for (refs, what, exists) in checks {
            for r in refs {
                if !exists(&r.name) {
                    d.error(
                        r.pos,
                        format!(
                            "service-set '{}': {what} '{}' is not defined",
                            s.name, r.name
                        ),
                    );
                }
            }
        }
        // RFC 6333 §6.6: the AFTR translates the B4s' private IPv4 addresses; without
        // NAT, replies to two B4s using the same address could not be told apart.
        if let Some(r) = s.softwire_rules.iter().next() {
            if s.nat_rules.iter().next().is_none() && s.nat_rule_sets.iter().next().is_none() {
                d.error(
                    r.pos,
                    format!(
                        "service-set '{}': softwire-rules need nat-rules (DS-Lite translates the B4s' IPv4 addresses, RFC 6333 §6.6)",
                        s.name
                    ),
                );
            }
        }
    }

    /// The style of a service set: exactly one of `interface-service` and a complete
    /// `next-hop-service`, on configured `ms-` interfaces.
    fn set_style(&self, d: &mut Diags, s: &SsD) -> Option<ServiceSetStyle> {
        let ends = (
            s.iface.v.as_ref(),
            s.inside.v.as_ref(),
            s.outside.v.as_ref(),
        );
        let problem = match ends {
            (Some((n, pos, _)), None, None) => {
                let r = Ref {
                    name: n.clone(),
                    pos: *pos,
                };
                self.check_if_ref(d, &r, "service-interface", true);
                return Some(ServiceSetStyle::Interface {
                    // The model keeps the interface name without the unit.
                    service_interface: n.split('.').next().unwrap_or(n).to_string(),
                });
            }
            (None, Some((i, ipos, _)), Some((o, opos, _))) => {
                self.check_next_hop_end(d, i, *ipos, ServiceDomain::Inside);
                self.check_next_hop_end(d, o, *opos, ServiceDomain::Outside);
                return Some(ServiceSetStyle::NextHop {
                    inside: i.clone(),
                    outside: o.clone(),
                });
            }
            (None, None, None) => {
                if self.tainted(&format!("services service-set {}", s.name)) {
                    return None;
                }
                d.error(
                    s.pos,
                    format!(
                        "service-set '{}' has no interface-service or next-hop-service",
                        s.name
                    ),
                );
                return None;
            }
            (Some(_), _, _) => format!(
                "service-set '{}' has both interface-service and next-hop-service",
                s.name
            ),
            (None, i, _) => {
                let missing = if i.is_none() {
                    "inside-service-interface"
                } else {
                    "outside-service-interface"
                };
                format!(
                    "service-set '{}': next-hop-service has no {missing}",
                    s.name
                )
            }
        };
        let pos = s.inside.pos().or(s.outside.pos()).unwrap_or(s.pos);
        d.error(pos, problem);
        None
    }

    /// One end of a next-hop service set: a unit of an `ms-` interface in domain `dom`.
    fn check_next_hop_end(&self, d: &mut Diags, n: &str, pos: Pos, dom: ServiceDomain) {
        let what = match dom {
            ServiceDomain::Inside => "inside-service-interface",
            ServiceDomain::Outside => "outside-service-interface",
        };
        let r = Ref {
            name: n.to_string(),
            pos,
        };
        match self.check_if_ref(d, &r, what, true) {
            Some(None) => {
                d.error(pos, format!("{what} '{n}' needs a unit (e.g. {n}.1)"));
            }
            Some(Some(u)) => {
                let (base, _) = split_unit(n).unwrap_or((n, None));
                if self.service_domain(base, u) != Some(dom) {
                    let want = match dom {
                        ServiceDomain::Inside => "inside",
                        ServiceDomain::Outside => "outside",
                    };
                    d.error(
                        pos,
                        format!("{what} '{n}' needs 'service-domain {want}' on that unit"),
                    );
                }
            }
            None => {}
        }
    }
}

/// Subscribers are the hosts behind the interfaces that apply an interface-style set as
/// input; a next-hop set has no such interface, so its limit could not be kept.
fn check_per_subscriber(d: &mut Diags, s: &SsD, style: &ServiceSetStyle) {
    if let (Some(pos), ServiceSetStyle::NextHop { .. }) = (s.per_subscriber.pos(), style) {
        d.error(
            pos,
            format!(
                "service-set '{}': max-sessions-per-subscriber is supported on interface-style service sets only (mspic counts the hosts behind the interfaces that apply the set as input)",
                s.name
            ),
        );
    }
}

/// `max-session-setup-rate (number | numberk)`: 1 through 429,496,729 session setups per
/// second, `k` meaning thousands (1k = 1000, as from Junos 18.4R1).
fn setup_rate(s: &str) -> Result<u32, String> {
    let (digits, scale) = match s.strip_suffix('k') {
        Some(d) => (d, 1000),
        None => (s, 1),
    };
    let bad = || {
        format!("invalid max-session-setup-rate '{s}' (expected 1-429496729, or a number of thousands like 10k)")
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let v = n.checked_mul(scale).ok_or_else(bad)?;
    if (1..=429_496_729).contains(&v) {
        Ok(v as u32)
    } else {
        Err(bad())
    }
}
