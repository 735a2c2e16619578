//! `services softwire`: DS-Lite concentrators (RFC 6333 AFTR) and the softwire rules
//! that send a service set's IPv4-in-IPv6 traffic to one of them.
//!
//! Only the DS-Lite subset is read (Junos "ds-lite (Services Softwire)", "rule
//! (Softwire)"): `softwire-concentrator ds-lite NAME { softwire-address A; mtu-v6 N; }`,
//! `rule R { match-direction input; term T { then { ds-lite NAME; } } }`. The other
//! softwire kinds (6rd, MAP-E, MAP-T…) change packets in ways mspic does not do, so
//! they are refused by name rather than ignored.

use std::net::{IpAddr, Ipv6Addr};

use super::cursor::Cur;
use super::diag::{Diags, R};
use super::draft::{Leaf, Named};
use super::values::{name, u32_in};
use super::Builder;
use crate::lexer::Pos;
use crate::model::*;

/// A DS-Lite concentrator.
pub(super) struct DsLiteD {
    pub(super) name: String,
    pub(super) pos: Pos,
    pub(super) address: Leaf<Ipv6Addr>,
    pub(super) mtu_v6: Leaf<u16>,
}

/// A softwire rule.
pub(super) struct SwRuleD {
    pub(super) name: String,
    pub(super) pos: Pos,
    pub(super) dir: Leaf<bool>,
    pub(super) terms: Named<String, SwTermD>,
}

/// A softwire term: its concentrator.
pub(super) struct SwTermD {
    pub(super) name: String,
    pub(super) pos: Pos,
    pub(super) ds_lite: Leaf<String>,
}

/// Softwire kinds Junos has and mspic refuses, with why.
const OTHER_KINDS: &[(&str, &str)] = &[
    (
        "v6rd",
        "6rd (RFC 5969) carries IPv6 in IPv4; mspic implements only DS-Lite",
    ),
    (
        "6rd",
        "6rd (RFC 5969) carries IPv6 in IPv4; mspic implements only DS-Lite",
    ),
    (
        "map-e",
        "MAP-E (RFC 7597) maps addresses and ports statelessly; mspic implements only DS-Lite",
    ),
    (
        "map-t",
        "MAP-T (RFC 7599) translates statelessly; mspic implements only DS-Lite",
    ),
    (
        "mapping",
        "mapping rules (MAP-E, MAP-T) are stateless; mspic implements only DS-Lite",
    ),
    (
        "lw4o6",
        "lightweight 4over6 (RFC 7596) is not implemented; mspic implements only DS-Lite",
    ),
];

impl Builder {
    pub(super) fn softwire(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        c.refuse(
            d,
            &[(
                "rule-set",
                "softwire rule sets are not implemented; name the rules with softwire-rules",
            )],
        )?;
        let Some((k, _)) = c.kw(
            d,
            &["softwire-concentrator", "rule"],
            &["traceoptions", "ipv6-multicast-interfaces"],
        )?
        else {
            return Ok(());
        };
        if k == "rule" {
            return self.softwire_rule(d, c);
        }
        c.refuse(d, OTHER_KINDS)?;
        let Some(_) = c.kw(d, &["ds-lite"], &[])? else {
            return Ok(());
        };
        let (n, t) = c.parse(d, "ds-lite concentrator name", name("ds-lite name"))?;
        let dl = self.ds_lite.entry(n.clone(), || DsLiteD {
            name: n.clone(),
            pos: t.pos,
            address: Leaf::default(),
            mtu_v6: Leaf::default(),
        });
        c.refuse(
            d,
            &[
                (
                    "flow-limit",
                    "a per-softwire flow limit changes which flows are admitted; mspic has none",
                ),
                (
                    "copy-dscp",
                    "copying the outer DSCP into the inner IPv4 header rewrites packets; mspic leaves the inner header as the B4 sent it",
                ),
            ],
        )?;
        // auto-update-mtu: "not currently supported" on Junos itself.
        let Some((k, _)) = c.kw(d, &["softwire-address", "mtu-v6"], &["auto-update-mtu"])? else {
            return Ok(());
        };
        if k == "softwire-address" {
            let (a, t) = c.parse(d, "softwire-address", ipv6)?;
            c.end(d)?;
            dl.address.set(d, k, a, t.pos, &t.text)
        } else {
            // IPv6 needs links of at least 1280 bytes (RFC 8200 §5); 9192 is the Junos
            // maximum.
            let (v, t) = c.parse(d, "mtu-v6", u32_in(1280, 9192, "mtu-v6"))?;
            c.end(d)?;
            dl.mtu_v6.set(d, k, v as u16, t.pos, &t.text)
        }
    }

    fn softwire_rule(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        let (n, t) = c.parse(d, "rule name", name("rule name"))?;
        let r = self.sw_rules.entry(n.clone(), || SwRuleD {
            name: n.clone(),
            pos: t.pos,
            dir: Leaf::default(),
            terms: Named::default(),
        });
        let Some((k, _)) = c.kw(d, &["match-direction", "term"], &[])? else {
            return Ok(());
        };
        if k == "match-direction" {
            let t = c.val(d, "match direction")?;
            c.end(d)?;
            return match t.text.as_str() {
                "input" => r.dir.set(d, k, true, t.pos, &t.text),
                "output" => Err(d.error(
                    t.pos,
                    "unsupported softwire match-direction 'output' (a B4's tunnel enters the services interface from the inside: use input)",
                )),
                _ => Err(d.error(
                    t.pos,
                    format!("invalid match-direction '{}' (expected input)", t.text),
                )),
            };
        }
        let (tn, tt) = c.parse(d, "term name", name("term name"))?;
        let term = r.terms.entry(tn.clone(), || SwTermD {
            name: tn.clone(),
            pos: tt.pos,
            ds_lite: Leaf::default(),
        });
        c.refuse(
            d,
            &[(
                "from",
                "softwire terms have no match conditions on Junos; every flow of the set goes to the concentrator",
            )],
        )?;
        let Some(_) = c.kw(d, &["then"], &[])? else {
            return Ok(());
        };
        c.refuse(d, OTHER_KINDS)?;
        let Some((k, _)) = c.kw(d, &["ds-lite"], &[])? else {
            return Ok(());
        };
        let t = c.val(d, "ds-lite concentrator name")?;
        c.end(d)?;
        term.ds_lite.set(d, k, t.text.clone(), t.pos, &t.text)
    }

    /// Concentrators need an address, rules a direction and terms a concentrator that
    /// exists; adds them to the model.
    pub(super) fn finish_softwire(&self, d: &mut Diags, cfg: &mut Config) {
        for c in &self.ds_lite {
            match c.address.get() {
                Some(a) => cfg.ds_lite.push(DsLite {
                    name: c.name.clone(),
                    softwire_address: a,
                    mtu_v6: c.mtu_v6.get(),
                }),
                None if self.tainted(&format!(
                    "services softwire softwire-concentrator ds-lite {}",
                    c.name
                )) => {}
                None => {
                    d.error(
                        c.pos,
                        format!("ds-lite concentrator '{}' has no softwire-address", c.name),
                    );
                }
            }
        }
        for r in &self.sw_rules {
            let key = format!("services softwire rule {}", r.name);
            if r.dir.get().is_none() && !self.tainted(&key) {
                d.error(
                    r.pos,
                    format!("softwire rule '{}' has no match-direction", r.name),
                );
            }
            let mut terms = Vec::new();
            for t in &r.terms {
                match &t.ds_lite.v {
                    Some((n, pos, _)) => {
                        if !self.ds_lite.contains(n) {
                            d.error(*pos, format!("ds-lite concentrator '{n}' is not defined"));
                        }
                        terms.push(SoftwireTerm {
                            name: t.name.clone(),
                            ds_lite: n.clone(),
                        });
                    }
                    None if self.tainted(&format!("{key} term {}", t.name)) => {}
                    None => {
                        d.error(
                            t.pos,
                            format!(
                                "softwire rule '{}' term '{}' has no 'then ds-lite'",
                                r.name, t.name
                            ),
                        );
                    }
                }
            }
            if r.terms.iter().next().is_none() && !self.tainted(&key) {
                d.error(r.pos, format!("softwire rule '{}' has no term", r.name));
            }
            cfg.softwire_rules.push(SoftwireRule {
                name: r.name.clone(),
                terms,
            });
        }
    }
}

fn ipv6(s: &str) -> Result<Ipv6Addr, String> {
    match s.parse::<IpAddr>() {
        Ok(IpAddr::V6(a)) if a.is_unspecified() || a.is_multicast() => Err(format!(
            "invalid softwire-address '{s}' (expected a unicast IPv6 address)"
        )),
        Ok(IpAddr::V6(a)) => Ok(a),
        _ => Err(format!(
            "invalid softwire-address '{s}' (expected an IPv6 address)"
        )),
    }
}
