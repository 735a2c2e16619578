//! Paths (see [`crate::tree`]) → drafts → validated [`Config`].
//!
//! Each path is read word by word against the statement grammar of mspic's stanzas. Objects
//! are found or created by name, so a second `rule X { … }` block merges into the first as on
//! Junos; a leaf set twice to different values (two `match-direction`s) is an error.
//!
//! ## Unsupported statements
//!
//! Junos statements that mspic does not implement are handled in one of three ways:
//! - top-level stanzas (`system`, `protocols`, …): ignored, one warning per stanza;
//! - statements inside an implemented stanza that do not change what happens to a packet in
//!   the emulator, or whose absence is harmless there (`description`, `mtu`,
//!   `ids-rules`, `ipsec-vpn-rules`, pool `secured-port-block-allocation`, …):
//!   ignored, one warning per statement;
//! - statements that change packet behaviour in a way mspic would silently get wrong
//!   (translation types other than the seven NAT44 ones, more than one next-hop for a
//!   static route, a `service-filter` choosing which traffic reaches a service set): errors.
//!
//! Interface `filter`s are warned about, not rejected: they belong to the `firewall` stanza
//! (the router's packet filters, not the PIC's), which is ignored as a whole.
//!
//! ## Layout
//!
//! One module per stanza holds its grammar (`impl Builder` methods reading paths), its
//! drafts (what was read, with positions) and its part of the cross-reference checks run
//! by [`Builder::finish`]. The shared pieces sit beside them: [`cursor`] (reading a path
//! word by word), [`diag`] (errors and warnings), [`values`] (value parsers) and
//! [`draft`] (leaves, references, named collections).

mod applications;
mod cursor;
mod diag;
mod draft;
mod emulator;
mod firewall;
mod interfaces;
mod nat;
mod routing;
mod rules;
mod service_sets;
mod softwire;
mod syslog;
mod values;

pub(crate) use diag::Diags;

use std::collections::HashSet;

use crate::model::Config;
use crate::tree::{Path, Word};
use crate::Prefix;
use cursor::Cur;
use diag::R;
use draft::{Named, Ref};

/// Every draft read so far, then [`Builder::finish`] checks them and builds the model.
#[derive(Default)]
pub(crate) struct Builder {
    interfaces: Named<String, interfaces::IfD>,
    svc: Named<String, interfaces::SvcIfD>,
    routes: Named<Prefix, routing::RouteD>,
    apps: Named<String, applications::AppD>,
    app_sets: Named<String, applications::AppSetD>,
    prefix_lists: Named<String, firewall::PlD>,
    sfw_rules: Named<String, firewall::SfwRuleD>,
    sfw_rule_sets: Named<String, rules::RuleSetD>,
    pools: Named<String, nat::PoolD>,
    nat_rules: Named<String, nat::NatRuleD>,
    nat_rule_sets: Named<String, rules::RuleSetD>,
    port_fwd: Named<String, nat::PortFwdD>,
    service_sets: Named<String, service_sets::SsD>,
    ds_lite: Named<String, softwire::DsLiteD>,
    sw_rules: Named<String, softwire::SwRuleD>,
    emu: emulator::EmuD,
    /// Interface-style service-set references from interfaces: (set, pos).
    if_set_refs: Vec<Ref>,
    /// Every word-prefix (as text) of the paths that had an error.
    tainted: HashSet<String>,
}

const TOP: &[&str] = &[
    "interfaces",
    "routing-options",
    "routing-instances",
    "services",
    "applications",
    "policy-options",
    "emulator",
];

/// Junos top-level statements that mspic ignores with one warning each.
const TOP_IGNORED: &[&str] = &[
    "access",
    "access-profile",
    "accounting-options",
    "apply-groups",
    "apply-groups-except",
    "bridge-domains",
    "chassis",
    "class-of-service",
    "diameter",
    "dynamic-profiles",
    "ethernet-switching-options",
    "event-options",
    "fabric",
    "firewall",
    "forwarding-options",
    "groups",
    "jsrc",
    "jsrc-partition",
    "logical-systems",
    "multi-chassis",
    "multicast-snooping-options",
    "poe",
    "protocols",
    "schedulers",
    "security",
    "session-limit-group",
    "smtp",
    "snmp",
    "switch-options",
    "system",
    "tenants",
    "unified-edge",
    "version",
    "virtual-chassis",
    "vlans",
    "vmhost",
    "wlan",
];

const SERVICES: &[&str] = &["stateful-firewall", "nat", "softwire", "service-set"];

const SERVICES_IGNORED: &[&str] = &[
    "adaptive-services-pics",
    "aacl",
    "application-identification",
    "border-signaling-gateway",
    "captive-portal-content-delivery",
    "cos",
    "dynamic-flow-capture",
    "flow-monitoring",
    "hcm",
    "ids",
    "ipsec-vpn",
    "l2tp",
    "logging",
    "pcp",
    "pgcp",
    "ptsp",
    "rpm",
    "service-interface-pools",
    "traceoptions",
    "url-filter",
    "web-filter",
];

impl Builder {
    /// Reads one path into the drafts; an error taints the path (see [`Builder::tainted`]).
    pub(crate) fn path(&mut self, d: &mut Diags, words: &Path) {
        let before = d.errors.len();
        let mut c = Cur { w: words, i: 0 };
        let _ = self.top(d, &mut c);
        if d.errors.len() > before {
            let mut key = String::new();
            for w in words {
                if !key.is_empty() {
                    key.push(' ');
                }
                key.push_str(&w.display());
                self.tainted.insert(key.clone());
            }
        }
    }

    /// True when a statement under `key` (e.g. `services nat pool p`) had an error: checks
    /// for missing statements are skipped there, so that one mistake gives one error.
    fn tainted(&self, key: &str) -> bool {
        self.tainted.contains(key)
    }

    fn top(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        if let Some(Word::Atom(t)) = c.w.first() {
            if TOP_IGNORED.contains(&t.text.as_str()) {
                d.warn_once(
                    format!("top:{}", t.text),
                    t.pos,
                    format!("ignoring unsupported top-level stanza '{}'", t.text),
                );
                return Ok(());
            }
        }
        let Some((k, _)) = c.kw(d, TOP, &[])? else {
            return Ok(());
        };
        match k {
            "interfaces" => self.interfaces(d, c),
            "routing-options" => self.routing_options(d, c),
            "routing-instances" => routing::routing_instance(d, c),
            "services" => self.services(d, c),
            "applications" => self.applications(d, c),
            "policy-options" => self.policy_options(d, c),
            _ => self.emulator(d, c),
        }
    }

    fn services(&mut self, d: &mut Diags, c: &mut Cur) -> R<()> {
        let Some((k, _)) = c.kw(d, SERVICES, SERVICES_IGNORED)? else {
            return Ok(());
        };
        match k {
            "stateful-firewall" => self.stateful_firewall(d, c),
            "nat" => self.nat(d, c),
            "softwire" => self.softwire(d, c),
            _ => self.service_set(d, c),
        }
    }

    /// Checks the drafts against each other and builds the model, stanza by stanza (each
    /// stanza's checks may look at the ones before it).
    pub(crate) fn finish(mut self, d: &mut Diags) -> Config {
        let mut cfg = Config::default();
        self.finish_interfaces(d, &mut cfg);
        self.finish_routes(d, &mut cfg);
        let known = self.finish_applications(d, &mut cfg);
        self.finish_firewall(&known, d, &mut cfg);
        self.finish_pools(d, &mut cfg);
        self.finish_port_forwarding(d, &mut cfg);
        self.finish_nat_rules(&known, d, &mut cfg);
        self.finish_prefix_lists(&mut cfg);
        self.finish_softwire(d, &mut cfg);
        self.finish_service_sets(d, &mut cfg);
        self.finish_emulator(d, &mut cfg);
        cfg
    }
}
