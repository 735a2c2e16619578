//! `services stateful-firewall` (rules, terms, rule sets) and the prefix lists of
//! `policy-options` their terms match on.

use super::applications::AppNames;
use super::cursor::Cur;
use super::diag::{Diags, R};
use super::draft::{Leaf, Unique};
use super::rules::{conditions, finish_rule_sets, rule_set, rule_term, RuleD};
use super::values::{name, prefix, uint};
use super::Builder;
use crate::model::*;
use crate::names;
use crate::tree::Word;

/// A prefix list of `policy-options` (its name is its key in the builder).
#[derive(Default)]
pub(super) struct PlD {
    pub(super) prefixes: Unique<Prefix>,
}

/// `then …` of a stateful-firewall term.
#[derive(Default)]
pub(super) struct SfwThenD {
    pub(super) action: Leaf<SfwAction>,
    pub(super) syslog: bool,
    pub(super) ip_opts: Unique<String>,
}

/// A stateful-firewall rule.
pub(super) type SfwRuleD = RuleD<SfwThenD>;

const POLICY_IGNORED: &[&str] = &[
    "policy-statement",
    "community",
    "as-path",
    "as-path-group",
    "condition",
    "damping",
    "route-filter-list",
    "mac-list",
    "application-maps",
    "defaults",
    "tunnel-attribute",
];

impl Builder {
    pub(super) fn stateful_firewall(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        let Some((k, _)) = c.kw(d, &["rule", "rule-set"], &["traceoptions"])? else {
            return Ok(());
        };
        if k == "rule-set" {
            return rule_set(&mut self.sfw_rule_sets, d, c);
        }
        let Some(term) = rule_term(&mut self.sfw_rules, false, d, c)? else {
            return Ok(());
        };
        let term = &mut term.then;
        let Some((k, kpos)) = c.kw(
            d,
            &["accept", "discard", "reject", "syslog", "allow-ip-options"],
            &["count"],
        )?
        else {
            return Ok(());
        };
        match k {
            "syslog" => {
                term.syslog = true;
                c.end_or_ignore(d, &["severity", "prefix"])
            }
            "allow-ip-options" => {
                for t in c.vals(d, "IP option")? {
                    let ok = names::lookup(&names::IP_OPTIONS, &t.text).is_some()
                        || uint(&t.text, "IP option", 0, 255).is_ok();
                    if !ok {
                        let all: Vec<&str> = names::IP_OPTIONS.iter().map(|(n, _)| *n).collect();
                        return Err(d.error(
                            t.pos,
                            format!(
                                "invalid IP option '{}' (expected a number 0-255 or one of: {})",
                                t.text,
                                all.join(", ")
                            ),
                        ));
                    }
                    term.ip_opts.insert(t.text.clone());
                }
                c.end(d)
            }
            _ => {
                let a = match k {
                    "accept" => SfwAction::Accept,
                    "discard" => SfwAction::Discard,
                    _ => SfwAction::Reject,
                };
                term.action.set(d, "then action", a, kpos, k)?;
                c.end_or_ignore(d, &["skip-ids", "skip-ids-service"])
            }
        }
    }

    pub(super) fn policy_options(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        let Some(_) = c.kw(d, &["prefix-list"], POLICY_IGNORED)? else {
            return Ok(());
        };
        let (n, _) = c.parse(d, "prefix-list name", name("prefix-list name"))?;
        let pl = self.prefix_lists.entry(n, PlD::default);
        if let Some(Word::Atom(t)) = c.w.get(c.i) {
            if t.text == "apply-path" {
                return c.kw(d, &[], &["apply-path"]).map(|_| ());
            }
        }
        if c.at_end() {
            return Ok(());
        }
        let (p, _) = c.parse(d, "prefix", prefix)?;
        c.end(d)?;
        pl.prefixes.insert(p);
        Ok(())
    }

    /// Moves the prefix lists into the model; after the rule checks, which look their
    /// names up in the builder.
    pub(super) fn finish_prefix_lists(&mut self, cfg: &mut Config) {
        cfg.prefix_lists = self
            .prefix_lists
            .take_keyed()
            .map(|(name, p)| PrefixList {
                name,
                prefixes: p.prefixes.into_vec(),
            })
            .collect();
    }

    /// Checks stateful-firewall rules (direction, actions, references) and rule sets; adds
    /// them to the model.
    pub(super) fn finish_firewall(&self, known: &AppNames, d: &mut Diags, cfg: &mut Config) {
        for r in &self.sfw_rules {
            let dir = r.dir.get();
            if dir.is_none()
                && !self.tainted(&format!("services stateful-firewall rule {}", r.name))
            {
                d.error(
                    r.pos,
                    format!(
                        "stateful-firewall rule '{}' has no match-direction (expected input, output or input-output)",
                        r.name
                    ),
                );
            }
            let mut terms = Vec::new();
            for t in &r.terms {
                self.check_from(known, d, &t.from);
                let Some(action) = t.then.action.get() else {
                    if self.tainted(&format!(
                        "services stateful-firewall rule {} term {}",
                        r.name, t.name
                    )) {
                        continue;
                    }
                    d.error(
                        t.pos,
                        format!(
                            "term '{}' of stateful-firewall rule '{}' has no action (expected then accept, discard or reject)",
                            t.name, r.name
                        ),
                    );
                    continue;
                };
                terms.push(SfwTerm {
                    name: t.name.clone(),
                    from: conditions(&t.from),
                    action,
                    syslog: t.then.syslog,
                    allow_ip_options: t.then.ip_opts.to_vec(),
                });
            }
            if let Some(dir) = dir {
                cfg.sfw_rules.push(SfwRule {
                    name: r.name.clone(),
                    match_direction: dir,
                    terms,
                });
            }
        }
        cfg.sfw_rule_sets =
            finish_rule_sets(d, &self.sfw_rule_sets, &self.sfw_rules, "stateful-firewall");
    }
}
