//! `applications`: applications (protocol, ports, ICMP type and code, ALG, timeout) and
//! application sets, with the predefined `junos-*` ones added to the model.

use std::collections::HashSet;

use super::cursor::Cur;
use super::diag::{Diags, R};
use super::draft::{push_ref, Leaf, Named, Refs};
use super::values::{icmp_value, name, port_spec, protocol, rpc_program, timeout, uint, uuid};
use super::Builder;
use crate::lexer::Pos;
use crate::model::*;
use crate::names;
use crate::tree::Word;

/// An application: the statements written directly under it, or its terms (not both).
pub(super) struct AppD {
    pub(super) name: String,
    pub(super) top: AppTermD,
    pub(super) terms: Named<String, AppTermD>,
}

/// One term of an application, or the statements of an application without terms.
#[derive(Default)]
pub(super) struct AppTermD {
    pub(super) name: Option<String>,
    /// Where the first statement written directly under the application is (`None` for
    /// terms): mixing such statements with terms is an error.
    pub(super) pos: Option<Pos>,
    pub(super) alg: Leaf<AppProtocol>,
    pub(super) protocol: Leaf<u8>,
    pub(super) sport: Leaf<PortRange>,
    pub(super) dport: Leaf<PortRange>,
    pub(super) icmp_type: Leaf<u8>,
    pub(super) icmp_code: Leaf<u8>,
    pub(super) timeout: Leaf<Timeout>,
    pub(super) ttl: Leaf<u8>,
    pub(super) rpc: Leaf<(u32, u32)>,
    pub(super) uuid: Leaf<String>,
}

/// An application set: names of applications and sets, checked once all are read.
pub(super) struct AppSetD {
    pub(super) name: String,
    pub(super) pos: Pos,
    pub(super) apps: Refs,
    pub(super) sets: Refs,
}

/// The statements of an application; a term also takes the last, `alg` (the term form of
/// `application-protocol`, `[edit applications]` hierarchy page).
const APP: &[&str] = &[
    "application-protocol",
    "protocol",
    "source-port",
    "destination-port",
    "icmp-type",
    "icmp-code",
    "icmp6-type",
    "icmp6-code",
    "inactivity-timeout",
    "ttl-threshold",
    "rpc-program-number",
    "uuid",
    "alg",
];

const APP_IGNORED: &[&str] = &[
    "learn-sip-register",
    "sip-call-hold-timeout",
    "snmp-command",
    "child-inactivity-timeout",
    "gate-timeout",
    "ether-type",
];

/// One statement of an application or of one of its terms: `protocol tcp`, `destination-port
/// 21`, `application-protocol ftp`, …
fn app_statement(app: &mut AppTermD, in_term: bool, d: &mut Diags, c: &mut Cur) -> R<()> {
    let supported = if in_term { APP } else { &APP[..APP.len() - 1] };
    let Some((k, _)) = c.kw(d, supported, APP_IGNORED)? else {
        return Ok(());
    };
    match k {
        "application-protocol" | "alg" => {
            let (p, t) = c.parse(d, "application protocol", |s| {
                AppProtocol::from_keyword(s).ok_or_else(|| {
                    let all: Vec<&str> = AppProtocol::ALL.iter().map(|p| p.keyword()).collect();
                    format!(
                        "unknown application-protocol '{s}' (expected one of: {})",
                        all.join(", ")
                    )
                })
            })?;
            c.end(d)?;
            app.alg.set(d, "application-protocol", p, t.pos, &t.text)
        }
        "protocol" => {
            let (p, t) = c.parse(d, "protocol", protocol)?;
            c.end(d)?;
            app.protocol.set(d, k, p, t.pos, &t.text)
        }
        "source-port" | "destination-port" => {
            let (p, t) = c.parse(d, "port", port_spec)?;
            c.end(d)?;
            let leaf = if k == "source-port" {
                &mut app.sport
            } else {
                &mut app.dport
            };
            leaf.set(d, k, p, t.pos, &t.text)
        }
        "icmp-type" | "icmp6-type" => {
            let table: &'static [(&'static str, u8)] = if k == "icmp-type" {
                &names::ICMP_TYPES
            } else {
                &names::ICMP6_TYPES
            };
            let (v, t) = c.parse(d, "ICMP type", icmp_value(table, "icmp-type"))?;
            c.end(d)?;
            app.icmp_type.set(d, "icmp-type", v, t.pos, &t.text)
        }
        "icmp-code" | "icmp6-code" => {
            let (v, t) = c.parse(d, "ICMP code", icmp_value(&names::ICMP_CODES, "icmp-code"))?;
            c.end(d)?;
            app.icmp_code.set(d, "icmp-code", v, t.pos, &t.text)
        }
        "inactivity-timeout" => {
            let (v, t) = c.parse(d, "inactivity-timeout", timeout)?;
            c.end(d)?;
            app.timeout.set(d, k, v, t.pos, &t.text)
        }
        "ttl-threshold" => {
            let (v, t) = c.parse(d, "ttl-threshold", |s| uint(s, "ttl-threshold", 0, 255))?;
            c.end(d)?;
            app.ttl.set(d, k, v as u8, t.pos, &t.text)
        }
        "rpc-program-number" => {
            let (v, t) = c.parse(d, "rpc-program-number", rpc_program)?;
            c.end(d)?;
            app.rpc.set(d, k, v, t.pos, &t.text)
        }
        _ => {
            let (v, t) = c.parse(d, "uuid", uuid)?;
            c.end(d)?;
            app.uuid.set(d, k, v.clone(), t.pos, &v)
        }
    }
}

impl Builder {
    pub(super) fn applications(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        let Some((k, _)) = c.kw(d, &["application", "application-set"], &[])? else {
            return Ok(());
        };
        let what = if k == "application" {
            "application name"
        } else {
            "application-set name"
        };
        let (n, t) = c.parse(d, what, name(what))?;
        if n.starts_with("junos-") {
            return Err(d.error(
                t.pos,
                format!("invalid {k} name '{n}': names starting with 'junos-' are reserved for predefined applications"),
            ));
        }
        if k == "application-set" {
            let set = self.app_sets.entry(n.clone(), || AppSetD {
                name: n.clone(),
                pos: t.pos,
                apps: Default::default(),
                sets: Default::default(),
            });
            let Some((k, _)) = c.kw(d, &["application", "application-set"], &[])? else {
                return Ok(());
            };
            let v = if k == "application" {
                &mut set.apps
            } else {
                &mut set.sets
            };
            for t in c.vals(d, "name")? {
                push_ref(v, t);
            }
            return c.end(d);
        }
        self.application(n, d, c)
    }

    /// A statement of `application N`, directly or in one of its terms.
    fn application(&mut self, n: String, d: &mut Diags, c: &mut Cur) -> R<()> {
        let app = self.apps.entry(n.clone(), || AppD {
            name: n.clone(),
            top: AppTermD::default(),
            terms: Named::default(),
        });
        let term = match c.w.get(c.i) {
            Some(Word::Atom(t)) if t.text == "term" => {
                c.i += 1;
                let (tn, _) = c.parse(d, "term name", name("term name"))?;
                app.terms.entry(tn.clone(), || AppTermD {
                    name: Some(tn),
                    ..AppTermD::default()
                })
            }
            Some(Word::Atom(t)) => {
                app.top.pos.get_or_insert(t.pos);
                &mut app.top
            }
            _ => &mut app.top,
        };
        let in_term = term.name.is_some();
        app_statement(term, in_term, d, c)
    }

    /// Checks applications and sets (protocol of ports and ICMP fields, names defined, no
    /// cycles) and adds them, with the predefined ones, to the model.
    pub(super) fn finish_applications(&self, d: &mut Diags, cfg: &mut Config) -> AppNames {
        for a in &self.apps {
            if let (Some(pos), Some(_)) = (a.top.pos, a.terms.iter().next()) {
                d.error(
                    pos,
                    format!(
                        "application '{}': statements outside a term cannot be combined with terms (put them in a term)",
                        a.name
                    ),
                );
            }
            let terms: Vec<AppTerm> = if a.terms.iter().next().is_some() {
                a.terms.iter().map(|t| t.finish(d, &a.name)).collect()
            } else {
                vec![a.top.finish(d, &a.name)]
            };
            cfg.applications.push(Application {
                name: a.name.clone(),
                terms,
                predefined: false,
            });
        }
        cfg.applications.extend(crate::predefined::applications());
        for s in &self.app_sets {
            cfg.application_sets.push(ApplicationSet {
                name: s.name.clone(),
                applications: s.apps.names(),
                application_sets: s.sets.names(),
                predefined: false,
            });
        }
        cfg.application_sets
            .extend(crate::predefined::application_sets());
        let known = AppNames::of(cfg);
        for s in &self.app_sets {
            if self.apps.contains(&s.name) {
                d.error(
                    s.pos,
                    format!(
                        "application-set '{}' has the same name as an application (a term's 'applications' could name either)",
                        s.name
                    ),
                );
            }
            for (refs, what, exists) in [
                (&s.apps, "application", &known.apps),
                (&s.sets, "application-set", &known.sets),
            ] {
                for r in refs {
                    if !exists.contains(&r.name) {
                        d.error(
                            r.pos,
                            format!(
                                "application-set '{}': {what} '{}' is not defined",
                                s.name, r.name
                            ),
                        );
                    }
                }
            }
        }
        for (s, cyclic) in self.app_sets.iter().zip(self.app_sets_in_cycles()) {
            if cyclic {
                d.error(
                    s.pos,
                    format!("application-set '{}' contains itself", s.name),
                );
            }
        }
        known
    }

    /// For each application set, whether it contains itself through nested sets: the
    /// sets in a strongly connected component of more than one set, or naming themselves
    /// (Tarjan's algorithm, iterative, so that long chains of sets take linear time).
    fn app_sets_in_cycles(&self) -> Vec<bool> {
        let succ: Vec<Vec<usize>> = self
            .app_sets
            .iter()
            .map(|s| {
                s.sets
                    .iter()
                    .filter_map(|r| self.app_sets.position(&r.name))
                    .collect()
            })
            .collect();
        let n = succ.len();
        let mut index = vec![usize::MAX; n];
        let mut low = vec![0; n];
        let mut on_stack = vec![false; n];
        let mut stack = Vec::new();
        let mut cyclic = vec![false; n];
        let mut next = 0;
        for root in 0..n {
            if index[root] != usize::MAX {
                continue;
            }
            let mut work = vec![(root, 0)];
            while let Some((v, i)) = work.pop() {
                if i == 0 {
                    (index[v], low[v]) = (next, next);
                    next += 1;
                    stack.push(v);
                    on_stack[v] = true;
                }
                if let Some(&w) = succ[v].get(i) {
                    work.push((v, i + 1));
                    if index[w] == usize::MAX {
                        work.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                    continue;
                }
                if low[v] == index[v] {
                    let at = stack.iter().rposition(|&x| x == v).unwrap_or(0);
                    let component = stack.split_off(at);
                    let looped = component.len() > 1 || succ[v].contains(&v);
                    for x in component {
                        on_stack[x] = false;
                        cyclic[x] = looped;
                    }
                }
                if let Some(&(u, _)) = work.last() {
                    low[u] = low[u].min(low[v]);
                }
            }
        }
        cyclic
    }
}

impl AppTermD {
    /// Checks that ports and ICMP fields go with the term's protocol; the model's term.
    fn finish(&self, d: &mut Diags, app: &str) -> AppTerm {
        let proto = self.protocol.get();
        let name = self.name.clone();
        let at = match &name {
            Some(n) => format!("application '{app}' term '{n}'"),
            None => format!("application '{app}'"),
        };
        for (leaf, what) in [
            (&self.sport, "source-port"),
            (&self.dport, "destination-port"),
        ] {
            if let Some(pos) = leaf.pos() {
                if !proto.is_some_and(mspic_wire::proto::has_ports) {
                    d.error(pos, format!("{at}: {what} needs protocol tcp, udp or sctp"));
                }
            }
        }
        for (leaf, what) in [
            (&self.icmp_type, "icmp-type"),
            (&self.icmp_code, "icmp-code"),
        ] {
            if let Some(pos) = leaf.pos() {
                if !matches!(proto, Some(1) | Some(58)) {
                    d.error(pos, format!("{at}: {what} needs protocol icmp or icmp6"));
                }
            }
        }
        if let Some(pos) = self.ttl.pos() {
            if self.alg.get() != Some(AppProtocol::Traceroute) {
                d.error(
                    pos,
                    format!("{at}: ttl-threshold needs application-protocol traceroute"),
                );
            }
        }
        AppTerm {
            name,
            application_protocol: self.alg.get(),
            ttl_threshold: self.ttl.get(),
            protocol: proto,
            source_port: self.sport.get(),
            destination_port: self.dport.get(),
            icmp_type: self.icmp_type.get(),
            icmp_code: self.icmp_code.get(),
            inactivity_timeout: self.timeout.get(),
            rpc_program_number: self.rpc.get(),
            uuid: self.uuid.get(),
        }
    }
}

/// The names of every application and application set, predefined ones included, for
/// checking what terms and sets refer to.
pub(super) struct AppNames {
    pub(super) apps: HashSet<String>,
    pub(super) sets: HashSet<String>,
}

impl AppNames {
    fn of(cfg: &Config) -> Self {
        AppNames {
            apps: cfg.applications.iter().map(|a| a.name.clone()).collect(),
            sets: cfg
                .application_sets
                .iter()
                .map(|a| a.name.clone())
                .collect(),
        }
    }
}
