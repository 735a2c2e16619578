//! The first packet of a flow: ICMP errors, pinholes, endpoint-independent filtering, the
//! service set on its path, the stateful firewall, limits, NAT, the ALG, and the new
//! session.

use std::net::IpAddr;
use std::sync::Arc;

use mspic_config::{MatchDirection, SfwAction};
use mspic_wire::parse::{Fragment, Parsed, L4};
use mspic_wire::FlowKey;

use super::alg::AlgSlot;
use super::{DropReason, Frame, Shard, Verdict};
use crate::dir::Dir;
use crate::matching::MatchInput;
use crate::nat::{NatAction, NatError, NatState, SessionNat, Translate};
use crate::policy::{FirewallMatch, Policy, ServiceSetRt, TermRef};
use crate::route::{IfIndex, RouteResult};
use crate::session::Session;
use crate::snapshot::{FlowState, FLAG_NAT, FLAG_NAT64};
use crate::syslog::LogKind;
use crate::table::{FlowRef, InsertError};
use crate::time::Time;

impl Shard {
    /// A packet that matches no flow; `missed` is the key the caller looked up and did not
    /// find, with its hash (the new session's first key, whose insert need not look again).
    pub(super) fn first_packet(
        &mut self,
        now: Time,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
        missed: (u64, &FlowKey),
    ) -> Verdict {
        if let L4::IcmpError { inner, .. } = parsed.l4 {
            return self.icmp_error(ingress, frame, parsed, &inner.key);
        }
        // Traffic to the router's own addresses is not transit: no service set applies
        // (the dataplane answers what it can, e.g. ICMP echo).
        if self.policy.is_local_address(parsed.key.dst) {
            return Verdict::Local;
        }
        if let Some(v) = self.try_pinhole(now, ingress, frame, parsed) {
            return v;
        }
        let p = Arc::clone(&self.policy);
        // Traffic to a source-pool address belongs to a session or an endpoint-independent
        // mapping; anything else is dropped (RFC 4787 §5 filtering).
        if p.nat.pool_addr(parsed.key.dst).is_some() {
            if let Some(v) = self.eif_session(now, ingress, frame, parsed) {
                return v;
            }
            self.nat.stats.pool_no_session_drops += 1;
            return Verdict::Drop(DropReason::NatNoSession);
        }
        // A decapsulated packet is in the set whose concentrator took it out.
        let on_path = match self.arriving_softwire {
            Some((_, set)) => Some((set, MatchDirection::Input)),
            None => service_set_on_path(&p, ingress, parsed.key.dst),
        };
        let Some((set, dir)) = on_path else {
            // No service set on the path: plain routing.
            return self.route(ingress, frame, parsed, parsed.key.dst);
        };
        let Some(ss) = p.service_sets.get(set as usize) else {
            return self.route(ingress, frame, parsed, parsed.key.dst);
        };
        let iface = ss.service_iface as usize;
        if let Some(c) = self.set_frames.get_mut(usize::from(set)) {
            *c += 1;
        }
        if let Some(v) = self.non_syn_first(iface, parsed) {
            return v;
        }
        let m = MatchInput::of(parsed);
        let fw = ss.firewall(dir, &m);
        let (action, app) = (fw.action, fw.app);
        let alg = app.and_then(|a| a.alg);
        let at = (set, ingress.0);
        if let Some(t) = fw.term {
            let kind = match action {
                SfwAction::Accept => LogKind::SfwAccept,
                SfwAction::Discard => LogKind::SfwDrop,
                SfwAction::Reject => LogKind::SfwReject,
            };
            self.log_rule(now, kind, at, &parsed.key, alg, t);
        }
        if let Some(v) = self.refused_by_term(iface, &fw, frame, parsed) {
            return v;
        }
        self.count_rule_action(iface, action);
        if self.over_limit(iface, set, ss)
            || self.subscriber_full(set, &parsed.key)
            || self.over_setup_rate(now, set, ss)
            || self.over_session_rate(now, iface)
        {
            self.stats[iface].drop_session_limit += 1;
            return Verdict::Drop(DropReason::SessionLimit);
        }
        let idle = self.idle_timeout(
            iface,
            parsed.key.proto,
            app.and_then(|a| a.inactivity_timeout),
        );
        let state = match action {
            SfwAction::Accept => FlowState::Forward,
            SfwAction::Discard => FlowState::Drop,
            SfwAction::Reject => FlowState::Reject,
        };
        let mut session = self.new_session(now, parsed, set, iface, idle, state);
        session.alg = alg;
        session.ingress = ingress.0;
        session.log = action == SfwAction::Accept && fw.term.is_some_and(|t| t.syslog);
        session.ip_options = fw.ip_options;
        session.ttl_threshold = app.and_then(|a| a.ttl_threshold);
        let mut alg_state = None;
        if action == SfwAction::Accept {
            if let Some((rule, term, nt)) = p.nat.lookup_term(set, dir, &m) {
                let t = TermRef {
                    rule,
                    term,
                    syslog: nt.syslog,
                };
                self.log_rule(now, LogKind::NatRuleMatch, at, &parsed.key, alg, t);
                session.log |= nt.syslog;
                if let NatAction::Translate(t) = &nt.action {
                    if let Err(v) = self.translate_new(&mut session, set, iface, t, parsed) {
                        return v;
                    }
                }
            }
            alg_state = match (alg, app) {
                (Some(a), Some(app)) => {
                    self.attach_alg(&mut session, a, &parsed.key, &app.alg_params)
                }
                _ => None,
            };
        }
        if let Some((sw, _)) = self.arriving_softwire {
            // RFC 6333 §7: the B4's address is part of the inside key, so two B4s using
            // one private address and port get two sessions and two mappings.
            session.softwire = Some(sw);
            session.keys[0] = FlowKey::softwire(sw.b4, &parsed.key);
        }
        let absent = (session.keys[0] == *missed.1).then_some(missed.0);
        let slot = match self.install_first(now, &session, iface, absent) {
            Ok(slot) => slot,
            Err(v) => return v,
        };
        if session.softwire.is_some() {
            self.stats[iface].softwire.flows_created += 1;
        }
        self.log_open(now, &session);
        if let Some(alg) = alg_state {
            self.alg_sessions.insert(slot, AlgSlot::new(alg));
        }
        if let Fragment::First { id } = parsed.fragment {
            self.remember_fragment(parsed, id, FlowRef { slot, dir: Dir::I }, now);
        }
        match action {
            SfwAction::Discard => Verdict::Drop(DropReason::RuleDiscard),
            SfwAction::Reject => self.reject(ingress, frame, parsed, DropReason::RuleReject),
            SfwAction::Accept => self.first_forward(now, ingress, slot, frame, parsed),
        }
    }

    /// An accepted first packet its term still refuses: IPv4 options the term does not
    /// allow ("IP option" drop), or a TTL above its application's traceroute threshold
    /// (an ALG error).
    fn refused_by_term(
        &mut self,
        iface: usize,
        fw: &FirewallMatch<'_>,
        frame: &Frame<'_>,
        parsed: &Parsed,
    ) -> Option<Verdict> {
        if fw.action != SfwAction::Accept {
            return None;
        }
        if !fw.ip_options.allows_packet(frame.bytes(), parsed) {
            self.stats[iface].drop_ip_options += 1;
            return Some(Verdict::Drop(DropReason::IpOptions));
        }
        let threshold = fw.app.and_then(|a| a.ttl_threshold);
        if threshold.is_some_and(|t| parsed.ttl > t) {
            self.stats[iface].errors.alg += 1;
            return Some(Verdict::Drop(DropReason::Alg));
        }
        None
    }

    /// Whether the session limits of services interface `iface` or service set `set`
    /// (each shard holding its share) are reached.
    fn over_limit(&self, iface: usize, set: u16, ss: &ServiceSetRt) -> bool {
        let si = self.policy.service_ifaces.get(iface);
        let per_shard = |max: u32| max.div_ceil(self.cfg.count.max(1));
        let over_iface = si
            .and_then(|si| si.session_limit)
            .is_some_and(|max| self.live_per_iface[iface] >= per_shard(max));
        let over_set = ss
            .max_flows
            .is_some_and(|max| self.live_per_set[set as usize] >= per_shard(max));
        over_iface || over_set
    }

    /// Whether service set `set` has set up its `max-session-setup-rate` share of sessions
    /// in the current second of `now` already; counts this setup when it has not.
    fn over_setup_rate(&mut self, now: Time, set: u16, ss: &ServiceSetRt) -> bool {
        let Some(rate) = ss.max_session_setup_rate else {
            return false;
        };
        let share = rate.div_ceil(self.cfg.count.max(1));
        let second = now.0 / 1_000_000_000;
        let Some(w) = self.setups.get_mut(set as usize) else {
            return false;
        };
        if w.0 != second {
            *w = (second, 0);
        }
        if w.1 >= share {
            return true;
        }
        w.1 += 1;
        false
    }

    /// Whether services interface `iface` has used up its `session-limit rate` share (the
    /// rate divided by the shards, rounded up, as for `max-flows`: each worker of the PIC
    /// polices its own share); takes a token when it has not.
    fn over_session_rate(&mut self, now: Time, iface: usize) -> bool {
        let Some(rate) = self
            .policy
            .service_ifaces
            .get(iface)
            .and_then(|si| si.session_rate)
        else {
            return false;
        };
        let share = rate.div_ceil(self.cfg.count.max(1));
        self.session_rate
            .get_mut(iface)
            .is_some_and(|b| !b.take(now.0, share))
    }

    /// Sets up the NAT of a new accepted session (`Err`: the drop verdict).
    fn translate_new(
        &mut self,

        session: &mut Session,
        set: u16,
        iface: usize,
        t: &Translate,
        parsed: &Parsed,
    ) -> Result<(), Verdict> {
        let now = self.clock.0;
        // RFC 6146 §3.5.3: of ICMPv6, only an echo request starts a NAT64 session.
        let icmp_non_echo = match parsed.l4 {
            L4::IcmpQuery { icmp_type, .. } => icmp_type != mspic_wire::icmp::v6::ECHO_REQUEST,
            L4::IcmpOther { .. } => true,
            _ => false,
        };
        if t.nat64.is_some() && icmp_non_echo {
            self.nat.stats.nat64_untranslatable += 1;
            return Err(Verdict::Drop(DropReason::Untranslatable));
        }
        let translated = self
            .nat
            .translate(&self.policy.nat, set, t, &parsed.key, now);
        // A new port block is logged before the session that took it opens.
        self.log_port_blocks();
        match translated {
            Ok(nat) => {
                session.keys[1] = NatState::reply_key(&parsed.key, &nat);
                session.nat = nat;
                session.flags |= if t.nat64.is_some() {
                    FLAG_NAT64
                } else {
                    FLAG_NAT
                };
                Ok(())
            }
            // NAT64 of a protocol it does not translate, or to an address outside its
            // prefix (RFC 6146 §3.5: silently dropped).
            Err(NatError::Nat64Protocol) | Err(NatError::NoStaticMapping) if t.nat64.is_some() => {
                self.nat.stats.nat64_untranslatable += 1;
                Err(Verdict::Drop(DropReason::Untranslatable))
            }
            Err(e) => {
                if e == NatError::OutOfPorts {
                    self.stats[iface].drop_nat_ports_exhausted += 1;
                }
                Err(Verdict::Drop(DropReason::NatExhausted))
            }
        }
    }

    /// Installs the session of a first packet; when the table refuses it, gives its NAT
    /// back and returns the drop verdict.
    fn install_first(
        &mut self,
        now: Time,
        session: &Session,
        iface: usize,
        absent: Option<u64>,
    ) -> Result<u32, Verdict> {
        let nat = session.nat;
        self.install_hinted(session, absent).map_err(|e| {
            self.nat.release(&self.policy.nat, &nat, now.0);
            self.log_port_blocks();
            self.stats[iface].drop_session_limit += 1;
            Verdict::Drop(match e {
                InsertError::Full => DropReason::TableFull,
                InsertError::KeyInUse => DropReason::KeyInUse,
            })
        })
    }

    /// The first packet of an accepted session goes on: through its ALG when it watches
    /// the initiator's flow, else translated and routed.
    fn first_forward(
        &mut self,
        now: Time,
        ingress: IfIndex,
        slot: u32,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
    ) -> Verdict {
        let r = FlowRef { slot, dir: Dir::I };
        if let Some(set) = self.table.get(slot).map(|s| s.service_set) {
            self.clamp_mss(set, frame, parsed);
        }
        match self.table.get(slot) {
            Some(s) if s.state[0] == FlowState::Watch => {
                self.watched(now, ingress, r, frame, parsed)
            }
            s => {
                let rw = s.map(|s| s.nat.rewrite[0]).unwrap_or_default();
                self.forward(ingress, frame, parsed, &rw)
            }
        }
    }

    /// Inbound traffic to an external endpoint with an endpoint-independent filter: a
    /// session towards the mapped internal endpoint (RFC 4787 §5, REQ-8).
    fn eif_session(
        &mut self,
        now: Time,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
    ) -> Option<Verdict> {
        let k = parsed.key;
        let (ip, port, m) = self.nat.eif_lookup(&k)?;
        if let L4::Tcp { flags, .. } = parsed.l4 {
            if flags & mspic_wire::tcp::SYN == 0 {
                return None;
            }
        }
        let p = Arc::clone(&self.policy);
        let ss = p.service_sets.get(m.set as usize)?;
        let iface = ss.service_iface as usize;
        let idle = self.idle_timeout(iface, k.proto, None);
        let alloc = self.nat.eif_attach(ip, port, k.proto)?;
        let mut nat = SessionNat {
            kind: Some(mspic_config::TranslationType::Napt44),
            alloc: Some(alloc),
            pool: Some(m.pool),
            ..SessionNat::default()
        };
        nat.rewrite[0].dst = Some((ip, port));
        nat.rewrite[1].src = Some((k.dst, k.dst_port));
        let mut session = self.new_session(now, parsed, m.set, iface, idle, FlowState::Forward);
        session.keys[1] = NatState::reply_key(&k, &nat);
        session.nat = nat;
        session.flags = FLAG_NAT;
        if self.install(&session).is_err() {
            self.nat.release(&p.nat, &nat, now.0);
            self.log_port_blocks();
            return None;
        }
        self.stats[iface].rule_accepts += 1;
        self.clamp_mss(m.set, frame, parsed);
        let rw = nat.rewrite[0];
        Some(self.forward(ingress, frame, parsed, &rw))
    }

    /// ICMP errors pass only when the packet they quote belongs to a session (RFC 5508 §4):
    /// the quoted packet travelled against the error, so its reversed key is the arrival
    /// key of the flow the error follows.
    fn icmp_error(
        &mut self,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
        inner: &FlowKey,
    ) -> Verdict {
        // From a B4's host (decapsulated), the quoted reply belongs to a session keyed by
        // the softwire.
        let rev = match self.arriving_softwire {
            Some((sw, _)) => FlowKey::softwire(sw.b4, &inner.reversed()),
            None => inner.reversed(),
        };
        let h = self.table.hash(&rev);
        let Some(r) = self.table.find(h, &rev) else {
            let st = self.stats_slot(ingress, Some(parsed.key.dst));
            let s = &mut self.stats[st];
            s.drop_icmp_error_no_session += 1;
            s.errors.icmp.total += 1;
            s.errors.icmp.error_no_session += 1;
            return Verdict::Drop(DropReason::IcmpErrorNoSession);
        };
        let Some(s) = self.table.get(r.slot) else {
            return Verdict::Drop(DropReason::IcmpErrorNoSession);
        };
        let iface = s.service_iface as usize;
        let rw = s.nat.rewrite[r.dir as usize];
        let to_b4 = s.softwire.filter(|_| r.dir == Dir::O);
        self.stats[iface].existing_accepts += 1;
        if super::nat64::crosses_family(&rw, parsed.key.src) {
            return self.icmp_error_nat64(ingress, frame, parsed, &rw);
        }
        if crate::nat::translate_icmp_error(&mut frame.buf[..frame.len], parsed, &rw) {
            self.nat.stats.icmp_error_translations += 1;
        }
        if let Some(sw) = to_b4 {
            // An error about a B4's packet (a too-big on the path, an unreachable server)
            // goes to its host through the softwire.
            return self.softwire_icmp_error(ingress, frame, parsed, sw, iface);
        }
        let dst = rw.dst.map(|(a, _)| a).unwrap_or(parsed.key.dst);
        self.route(ingress, frame, parsed, dst)
    }
}

/// The service set that sees a first packet, and in which direction: the ingress
/// interface's input set, else the next-hop service set its route leads into (input from
/// the inside unit, output from the outside unit), else the output set of the interface
/// it would leave by.
fn service_set_on_path(p: &Policy, ingress: IfIndex, dst: IpAddr) -> Option<(u16, MatchDirection)> {
    if let Some(ss) = p.interface(ingress).and_then(|i| i.input_service_set) {
        return Some((ss, MatchDirection::Input));
    }
    if let Some(hop) = p.routes.service_hop(dst) {
        return Some((hop.set, hop.dir));
    }
    let out_set = match p.routes.lookup(dst) {
        RouteResult::Forward { egress, .. } => {
            p.interface(egress).and_then(|i| i.output_service_set)
        }
        _ => None,
    };
    out_set.map(|ss| (ss, MatchDirection::Output))
}
