//! What stateful-firewall and NAT rules share: `match-direction`, terms' `from`
//! conditions (and their references to applications and prefix lists), and rule sets.

use super::applications::AppNames;
use super::cursor::Cur;
use super::diag::{Diags, R};
use super::draft::{push_ref, Leaf, Named, Refs, Unique};
use super::values::{ip, name, prefix};
use super::Builder;
use crate::lexer::Pos;
use crate::model::*;

/// The `from` conditions of a term.
#[derive(Default)]
pub(super) struct FromD {
    pub(super) src: Unique<AddressMatch>,
    pub(super) dst: Unique<AddressMatch>,
    pub(super) src_range: Unique<AddressRange>,
    pub(super) dst_range: Unique<AddressRange>,
    pub(super) src_pl: Refs,
    pub(super) dst_pl: Refs,
    pub(super) src_pl_except: Refs,
    pub(super) dst_pl_except: Refs,
    pub(super) apps: Refs,
    pub(super) app_sets: Refs,
}

/// A rule (stateful firewall or NAT) whose terms' actions are drafted as `A`.
pub(super) struct RuleD<A> {
    pub(super) name: String,
    pub(super) pos: Pos,
    pub(super) dir: Leaf<MatchDirection>,
    pub(super) terms: Named<String, TermD<A>>,
}

/// A term of a rule: its `from` conditions and its `then` draft.
pub(super) struct TermD<A> {
    pub(super) name: String,
    pub(super) pos: Pos,
    pub(super) from: FromD,
    pub(super) then: A,
}

/// A rule set: rule names, checked once all rules are read.
pub(super) struct RuleSetD {
    pub(super) name: String,
    pub(super) rules: Refs,
}

const FROM: &[&str] = &[
    "source-address",
    "destination-address",
    "source-address-range",
    "destination-address-range",
    "source-prefix-list",
    "destination-prefix-list",
    "applications",
    "application-sets",
];

/// `rule-set S rule R…` into `sets`.
pub(super) fn rule_set(sets: &mut Named<String, RuleSetD>, d: &mut Diags, c: &mut Cur) -> R<()> {
    let (n, _) = c.parse(d, "rule-set name", name("rule-set name"))?;
    let rs = sets.entry(n.clone(), || RuleSetD {
        name: n.clone(),
        rules: Default::default(),
    });
    let Some(_) = c.kw(d, &["rule"], &[])? else {
        return Ok(());
    };
    for t in c.vals(d, "rule name")? {
        push_ref(&mut rs.rules, t);
    }
    c.end(d)
}

/// `rule R match-direction D` or `rule R term T from …` into `rules`. At `rule R term T
/// then …` returns the term, the cursor on the action (whose grammar differs by kind).
pub(super) fn rule_term<'r, A: Default>(
    rules: &'r mut Named<String, RuleD<A>>,
    nat: bool,
    d: &mut Diags,
    c: &mut Cur,
) -> R<Option<&'r mut TermD<A>>> {
    let (n, t) = c.parse(d, "rule name", name("rule name"))?;
    let rule = rules.entry(n.clone(), || RuleD {
        name: n.clone(),
        pos: t.pos,
        dir: Leaf::default(),
        terms: Default::default(),
    });
    let Some((k, _)) = c.kw(d, &["match-direction", "term"], &[])? else {
        return Ok(None);
    };
    if k == "match-direction" {
        let (dir, pos, text) = direction(c, d, nat)?;
        rule.dir.set(d, "match-direction", dir, pos, &text)?;
        return Ok(None);
    }
    let (tn, t) = c.parse(d, "term name", name("term name"))?;
    let term = rule.terms.entry(tn.clone(), || TermD {
        name: tn.clone(),
        pos: t.pos,
        from: FromD::default(),
        then: A::default(),
    });
    let Some((k, _)) = c.kw(d, &["from", "then"], &[])? else {
        return Ok(None);
    };
    if k == "from" {
        from(&mut term.from, d, c)?;
        return Ok(None);
    }
    Ok(Some(term))
}

/// `match-direction D` (NAT rules have no `input-output`).
fn direction(c: &mut Cur, d: &mut Diags, nat: bool) -> R<(MatchDirection, Pos, String)> {
    let (dir, t) = c.parse(d, "match direction", |s| match s {
        "input" => Ok(MatchDirection::Input),
        "output" => Ok(MatchDirection::Output),
        "input-output" if !nat => Ok(MatchDirection::InputOutput),
        _ if nat => Err(format!(
            "invalid match-direction '{s}' (expected input or output)"
        )),
        _ => Err(format!(
            "invalid match-direction '{s}' (expected input, output or input-output)"
        )),
    })?;
    c.end(d)?;
    Ok((dir, t.pos, t.text.clone()))
}

/// A `from` condition of a term (stateful firewall or NAT).
fn from(f: &mut FromD, d: &mut Diags, c: &mut Cur) -> R<()> {
    let Some((k, _)) = c.kw(d, FROM, &[])? else {
        return Ok(());
    };
    match k {
        "source-address" | "destination-address" => {
            let t = c.val(d, "address, prefix or any-unicast")?;
            let except = except(c, d)?;
            let m = if t.text == "any-unicast" {
                AddressMatch::AnyUnicast { except }
            } else {
                let p = prefix(&t.text).map_err(|m| {
                    d.error(t.pos, m.replace("(expected ", "(expected any-unicast or "))
                })?;
                AddressMatch::Prefix { prefix: p, except }
            };
            let v = if k == "source-address" {
                &mut f.src
            } else {
                &mut f.dst
            };
            v.insert(m);
            Ok(())
        }
        "source-address-range" | "destination-address-range" => {
            c.need_kw(d, &["low"], &[])?;
            let (low, lt) = c.parse(d, "low address", ip)?;
            c.need_kw(d, &["high"], &[])?;
            let (high, ht) = c.parse(d, "high address", ip)?;
            let except = except(c, d)?;
            if low.is_ipv4() != high.is_ipv4() {
                return Err(d.error(
                    ht.pos,
                    format!("address range {}-{} mixes IPv4 and IPv6", lt.text, ht.text),
                ));
            }
            if low > high {
                return Err(d.error(
                    lt.pos,
                    format!(
                        "invalid address range: low {} is above high {}",
                        lt.text, ht.text
                    ),
                ));
            }
            let r = AddressRange { low, high, except };
            let v = if k == "source-address-range" {
                &mut f.src_range
            } else {
                &mut f.dst_range
            };
            v.insert(r);
            Ok(())
        }
        "source-prefix-list" | "destination-prefix-list" => {
            let t = c.val(d, "prefix-list name")?;
            let v = match (k == "source-prefix-list", except(c, d)?) {
                (true, false) => &mut f.src_pl,
                (true, true) => &mut f.src_pl_except,
                (false, false) => &mut f.dst_pl,
                (false, true) => &mut f.dst_pl_except,
            };
            push_ref(v, t);
            Ok(())
        }
        "applications" => {
            for t in c.vals(d, "application name")? {
                push_ref(&mut f.apps, t);
            }
            c.end(d)
        }
        _ => {
            for t in c.vals(d, "application-set name")? {
                push_ref(&mut f.app_sets, t);
            }
            c.end(d)
        }
    }
}

/// An optional trailing `except` (and the end of the statement).
fn except(c: &mut Cur, d: &mut Diags) -> R<bool> {
    match c.kw(d, &["except"], &[])? {
        Some(_) => {
            c.end(d)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// The model's form of `from` conditions.
pub(super) fn conditions(f: &FromD) -> MatchConditions {
    MatchConditions {
        source_address: f.src.to_vec(),
        destination_address: f.dst.to_vec(),
        source_address_range: f.src_range.to_vec(),
        destination_address_range: f.dst_range.to_vec(),
        source_prefix_list: f.src_pl.names(),
        source_prefix_list_except: f.src_pl_except.names(),
        destination_prefix_list: f.dst_pl.names(),
        destination_prefix_list_except: f.dst_pl_except.names(),
        applications: f.apps.names(),
        application_sets: f.app_sets.names(),
    }
}

/// Checks the rules each set names are among `rules` (`kind` says which); returns the sets.
pub(super) fn finish_rule_sets<A>(
    d: &mut Diags,
    sets: &Named<String, RuleSetD>,
    rules: &Named<String, RuleD<A>>,
    kind: &str,
) -> Vec<RuleSet> {
    sets.iter()
        .map(|s| {
            for r in &s.rules {
                if !rules.contains(&r.name) {
                    d.error(
                        r.pos,
                        format!(
                            "{kind} rule-set '{}': rule '{}' is not defined",
                            s.name, r.name
                        ),
                    );
                }
            }
            RuleSet {
                name: s.name.clone(),
                rules: s.rules.names(),
            }
        })
        .collect()
}

impl Builder {
    /// Checks the applications, application sets and prefix lists a term's `from` names
    /// (`known` includes the predefined ones).
    pub(super) fn check_from(&self, known: &AppNames, d: &mut Diags, f: &FromD) {
        let is_app = |n: &str| known.apps.contains(n);
        let is_set = |n: &str| known.sets.contains(n);
        for r in &f.apps {
            if !is_app(&r.name) && !is_set(&r.name) {
                d.error(
                    r.pos,
                    format!("application '{}' is not defined (neither an application nor an application-set)", r.name),
                );
            }
        }
        for r in &f.app_sets {
            if !is_set(&r.name) {
                d.error(
                    r.pos,
                    format!("application-set '{}' is not defined", r.name),
                );
            }
        }
        let lists = [&f.src_pl, &f.dst_pl, &f.src_pl_except, &f.dst_pl_except];
        for r in lists.into_iter().flatten() {
            if !self.prefix_lists.contains(&r.name) {
                d.error(r.pos, format!("prefix-list '{}' is not defined", r.name));
            }
        }
    }
}
