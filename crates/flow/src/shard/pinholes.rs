//! Pinholes and ALG children: the child flows an ALG expects, broadcast to every shard,
//! filled by a first packet, retired when unused; and the end of a parent taking its
//! children with it.

use std::net::IpAddr;
use std::sync::Arc;

use mspic_wire::parse::Parsed;
use mspic_wire::FlowKey;

use super::{DropReason, Frame, Shard, ShardMessage, Verdict};
use crate::alg::Pinhole;
use crate::nat::{NatState, Rewrite, SessionNat};
use crate::route::IfIndex;
use crate::session::Session;
use crate::snapshot::{FlowState, FLAG_ALG_CHILD, FLAG_NAT, FLAG_NAT64};
use crate::time::Time;

/// Most pinholes a shard keeps (copies from other shards included).
const MAX_PINHOLES: usize = 4096;

impl Shard {
    /// Messages for other shards (and this one) produced since the last call.
    pub fn drain_outbox(&mut self) -> std::vec::Drain<'_, ShardMessage> {
        self.outbox.drain(..)
    }

    /// Accepts a message from a shard (including this one).
    pub fn deliver(&mut self, msg: ShardMessage) {
        match msg {
            ShardMessage::Pinhole(p) => {
                if self.pinholes.len() < MAX_PINHOLES {
                    self.pinholes.push(*p);
                } else {
                    self.retire_pinhole(*p, |a| &mut a.pinholes_expired);
                }
            }
            ShardMessage::PinholeUsed {
                origin,
                serial,
                lent,
            } => {
                if let Some(i) = self
                    .pinholes
                    .iter()
                    .position(|p| p.origin == origin && p.serial == serial)
                {
                    let mut p = self.pinholes.swap_remove(i);
                    // Used elsewhere: what it reserved here goes back, or stays lent to
                    // the child that took it over until that child ends.
                    if let Some(a) = p.nat.held.take() {
                        if origin == self.cfg.index {
                            match lent {
                                Some(key) if self.lent.len() < MAX_PINHOLES => {
                                    self.lent.insert(key, a);
                                }
                                _ => self.nat.release_alloc(&self.policy.nat, &a, self.clock.0),
                            }
                        }
                    }
                }
            }
            ShardMessage::Unsteer { key } => {
                if let Some(a) = self.lent.remove(&key) {
                    self.nat.release_alloc(&self.policy.nat, &a, self.clock.0);
                }
            }
            ShardMessage::Steer { .. } => {}
            ShardMessage::ParentClosed { iface, parent_id } => {
                // Only sessions without NAT-mapping refcounts are children; the last
                // mapping-aging time stands in for `now`.
                self.close_children(iface, parent_id, None, Time(self.mappings_aged));
            }
            ShardMessage::LabelClosed {
                iface,
                parent_id,
                label,
            } => {
                self.close_children(iface, parent_id, Some(label), Time(self.mappings_aged));
            }
        }
    }

    /// Drops a pinhole that was not used, releasing what it reserved (its origin only) and
    /// counting it there.
    pub(super) fn retire_pinhole(
        &mut self,
        p: Pinhole,
        counter: fn(&mut crate::AlgStats) -> &mut u64,
    ) {
        if p.origin != self.cfg.index {
            return;
        }
        if let Some(a) = p.nat.held {
            self.nat.release_alloc(&self.policy.nat, &a, self.clock.0);
        }
        let iface = self.policy.service_sets.get(p.service_set as usize);
        if let Some(st) = iface.and_then(|ss| self.stats.get_mut(ss.service_iface as usize)) {
            *counter(&mut st.alg) += 1;
        }
    }

    /// Removes the children on this shard and the pinholes of parent `parent_id`: all of
    /// them, or those labelled `label`.
    pub(super) fn close_children(
        &mut self,
        iface: u16,
        parent_id: u64,
        label: Option<u64>,
        now: Time,
    ) {
        let ours = |p: &Pinhole| {
            p.parent_iface == iface
                && p.parent_id == parent_id
                && label.is_none_or(|l| l == p.label)
        };
        if self.pinholes.iter().any(ours) {
            let (gone, kept): (Vec<Pinhole>, Vec<Pinhole>) = std::mem::take(&mut self.pinholes)
                .into_iter()
                .partition(ours);
            self.pinholes = kept;
            for p in gone {
                self.retire_pinhole(p, |a| &mut a.closed_with_parent);
            }
        }
        let slots = match label {
            None => self.children.remove(&(iface, parent_id)),
            Some(l) => self.children.get(&(iface, parent_id)).map(|v| {
                v.iter()
                    .copied()
                    .filter(|&c| self.table.get(c).is_some_and(|s| s.alg_label == l))
                    .collect()
            }),
        };
        for slot in slots.unwrap_or_default() {
            let ok = self.table.get(slot).is_some_and(|s| {
                s.parent.map(|p| p.get()) == Some(parent_id) && s.service_iface == iface
            });
            if ok {
                if let Some(st) = self.stats.get_mut(iface as usize) {
                    st.alg.closed_with_parent += 1;
                }
                self.remove_session(slot, now, crate::syslog::CloseReason::Alg);
            }
        }
    }

    /// A first packet that fills an ALG pinhole becomes a child session (flag 0x0800)
    /// without running the rules: the parent's verdict covers it. It is translated the way
    /// the ALG wrote its endpoint in the parent's payload.
    pub(super) fn try_pinhole(
        &mut self,
        now: Time,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
    ) -> Option<Verdict> {
        if self.pinholes.is_empty() {
            return None;
        }
        if parsed.key.proto == mspic_wire::proto::ESP {
            if let Some(v) = self.try_esp_gate(now, ingress, frame, parsed) {
                return Some(v);
            }
        }
        let me = self.cfg.index;
        // Enhanced GRE fills a PPTP call's pinhole by its call key, others by its key.
        let call = parsed
            .call_key()
            .and_then(|k| Some((self.find_pinhole(now, &k)?, k)));
        let ((i, behind), key) = match call {
            Some(found) => found,
            None => (self.find_pinhole(now, &parsed.key)?, parsed.key),
        };
        let parsed = &Parsed { key, ..*parsed };
        let mut ph = self.pinholes.swap_remove(i);
        if behind {
            ph = from_behind(ph, &parsed.key);
        }
        let p = Arc::clone(&self.policy);
        let Some(ss) = p.service_sets.get(ph.service_set as usize) else {
            self.used(&ph, None);
            return None;
        };
        let iface = ss.service_iface as usize;
        let side = ph.call.and_then(|c| c.side(&key));
        let nat = match ph.call.zip(side) {
            Some((c, d)) => Some(SessionNat {
                rewrite: [c.rewrite[d], c.rewrite[1 - d]],
                kind: ph
                    .nat
                    .kind
                    .filter(|_| !c.rewrite.iter().all(Rewrite::is_none)),
                alloc: None,
                pool: ph.nat.pool,
            }),
            None => self.child_nat(&ph, &parsed.key),
        };
        let nat = match nat {
            Some(nat) => nat,
            None => {
                self.used(&ph, None);
                self.stats[iface].alg.nat_exhausted += 1;
                self.stats[iface].drop_nat_ports_exhausted += 1;
                return Some(Verdict::Drop(DropReason::NatExhausted));
            }
        };
        let idle = self.idle_timeout(iface, parsed.key.proto, None);
        let state = if ph.watch {
            FlowState::Watch
        } else {
            FlowState::Forward
        };
        let mut session = self.new_session(now, parsed, ph.service_set, iface, idle, state);
        session.alg = Some(ph.alg);
        session.flags = FLAG_ALG_CHILD;
        session.parent = std::num::NonZeroU64::new(ph.parent_id);
        session.from_responder = ph.from_responder;
        session.alg_label = ph.label;
        session.log = ph.log;
        session.ingress = ingress.0;
        if let Some((c, d)) = ph.call.zip(side) {
            // Keyed by call id both ways; its first flow is the PAC's when it sent first.
            session.keys[1] = c.keys[1 - d];
            session.from_responder = d == 1;
        } else if nat.kind.is_some() {
            session.keys[1] = NatState::reply_key(&parsed.key, &nat);
        }
        if nat.kind.is_some() {
            session.nat = nat;
            session.flags |= if nat.kind == Some(mspic_config::TranslationType::StatefulNat64) {
                FLAG_NAT64
            } else {
                FLAG_NAT
            };
        }
        let reply = session.keys[1];
        let slot = match self.install(&session) {
            Ok(slot) => slot,
            Err(_) => {
                self.used(&ph, None);
                self.nat.release(&p.nat, &nat, now.0);
                self.log_port_blocks();
                return Some(Verdict::Drop(DropReason::KeyInUse));
            }
        };
        self.log_open(now, &session);
        // A reservation of another shard taken over from behind stays lent to this child
        // (whose replies it steers here) until the child ends.
        let lends = ph.origin != me && ph.nat.held.is_some();
        self.used(&ph, lends.then_some(reply));
        self.children
            .entry((ph.parent_iface, ph.parent_id))
            .or_default()
            .push(slot);
        if let Some(s) = self.table.get(slot).filter(|s| self.steered(s)) {
            let key = s.keys[1];
            let shard = self.cfg.index;
            self.outbox.push(ShardMessage::Steer { key, shard });
        }
        self.stats[iface].rule_accepts += 1;
        self.stats[iface].alg.pinholes_used += 1;
        self.clamp_mss(ph.service_set, frame, parsed);
        let rw = nat.rewrite[0];
        Some(self.forward(ingress, frame, parsed, &rw))
    }

    /// The live pinhole a first packet with key `k` fills, and whether it fills it from
    /// behind. The endpoint behind a both-ways pinhole keeps the mapping it was told as,
    /// before any pinhole that would give it a fresh one.
    fn find_pinhole(&self, now: Time, k: &FlowKey) -> Option<(usize, bool)> {
        let live = |p: &Pinhole| p.expires > now;
        if let Some(i) = self
            .pinholes
            .iter()
            .position(|p| live(p) && p.matches_from_behind(k))
        {
            return Some((i, true));
        }
        let i = self.pinholes.iter().position(|p| live(p) && p.matches(k))?;
        Some((i, false))
    }

    /// Tells every shard that pinhole `ph` was filled (`lent`: by a child with that reply
    /// key, which holds the origin's reservation).
    fn used(&mut self, ph: &Pinhole, lent: Option<FlowKey>) {
        self.outbox.push(ShardMessage::PinholeUsed {
            origin: ph.origin,
            serial: ph.serial,
            lent,
        });
    }

    /// Whether the replies of ALG child `s` are owned by another shard than this one (see
    /// [`ShardMessage::Steer`]).
    pub(super) fn steered(&self, s: &Session) -> bool {
        s.flags & FLAG_ALG_CHILD != 0
            && crate::owner::owner_of_key(&s.keys[1], self.cfg.count, &self.policy.nat)
                != self.cfg.index
    }

    /// The translation of a child whose first packet has key `k`: the pinhole's, with a
    /// fresh NAPT port when it asks for one (`None`: none left).
    fn child_nat(&mut self, ph: &Pinhole, k: &FlowKey) -> Option<SessionNat> {
        let pn = &ph.nat;
        if pn.is_none() && pn.held.is_none() {
            return Some(SessionNat::default());
        }
        let mut nat = SessionNat {
            kind: pn.kind,
            pool: pn.pool,
            ..SessionNat::default()
        };
        let mut src = pn.src.map(|(a, port)| (a, port.unwrap_or(k.src_port)));
        if let Some((pool, addr)) = pn.src_napt {
            let a = self.nat.reserve_port(
                &self.policy.nat,
                pool,
                addr,
                k.proto,
                (k.src, k.src_port),
            )?;
            let ip = self
                .policy
                .nat
                .pools
                .get(pool as usize)?
                .addrs
                .get(addr as usize)?;
            src = Some((IpAddr::V4(*ip), a.port.unwrap_or(k.src_port)));
            nat.alloc = Some(a);
        }
        // The reservation moves from the pinhole to the child (same shard: the owner
        // function sends packets to a pool port to the shard that reserved it).
        if ph.origin == self.cfg.index && nat.alloc.is_none() {
            nat.alloc = pn.held;
        }
        if let Some(s) = src.filter(|&s| s != (k.src, k.src_port)) {
            nat.rewrite[0].src = Some(s);
            nat.rewrite[1].dst = Some((k.src, k.src_port));
        }
        if let Some(d) = pn.dst.filter(|&d| d != (k.dst, k.dst_port)) {
            nat.rewrite[0].dst = Some(d);
            nat.rewrite[1].src = Some((k.dst, k.dst_port));
        }
        if nat.rewrite[0].is_none() && nat.alloc.is_none() {
            nat.kind = None;
        }
        Some(nat)
    }
}

impl Shard {
    /// ESP through an IKE negotiation's gate ([`crate::alg::EspGate`], the Junos IKE and
    /// ESP ALG): the inside host's first ESP to the gateway becomes a child whose reply
    /// flow waits for its SPI (keyed by the reverse 3-tuple until then, which no
    /// translated reply carries); the gateway's ESP to the public address with an SPI no
    /// session knows is paired with the one inside host that has a pending negotiation
    /// with that gateway (none or several: not paired), and its SPI keys the host's
    /// reply flow from then on. Both sides meet on the shard that owns the public side
    /// (the IKE ALG steers the inside host's ESP there).
    fn try_esp_gate(
        &mut self,
        now: Time,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
    ) -> Option<Verdict> {
        let k = parsed.key;
        let live = |p: &Pinhole| p.expires > now;
        if let Some(ph) = self
            .pinholes
            .iter()
            .find(|p| live(p) && p.esp.is_some_and(|g| g.outbound() == k))
            .copied()
        {
            return Some(self.esp_child(now, ingress, frame, parsed, &ph, [k, k.reversed()]));
        }
        let spi = mspic_wire::parse::second_key(frame.bytes(), parsed)?;
        let mut gates = self
            .pinholes
            .iter()
            .enumerate()
            .filter(|(_, p)| live(p) && p.esp.is_some_and(|g| g.inbound() == k));
        let (i, first) = gates.next()?;
        let g = first.esp?;
        if gates.any(|(_, p)| p.esp.is_some_and(|o| o.inside != g.inside)) {
            // Several inside hosts negotiate with this gateway: whose SPI it is is unknown
            // (dropped as traffic to a pool address without session).
            return None;
        }
        let ph = self.pinholes.swap_remove(i);
        self.used(&ph, None);
        let out = g.outbound();
        let h = self.table.hash(&out);
        if let Some(r) = self.table.find(h, &out) {
            // The host sent first: its waiting reply flow takes the SPI (again after a
            // rekeying, RFC 7296 §2.8).
            let other = r.dir.other();
            if self.table.rekey(r.slot, other, spi).is_err() {
                return Some(Verdict::Drop(DropReason::KeyInUse));
            }
            let p = Parsed {
                key: spi,
                ..*parsed
            };
            let r = crate::table::FlowRef {
                slot: r.slot,
                dir: other,
            };
            return Some(self.on_flow(now, ingress, r, frame, &p));
        }
        Some(self.esp_child(now, ingress, frame, parsed, &ph, [spi, out]))
    }

    /// The ESP child of gate `ph` whose first packet is `parsed`, with keys `keys` (first
    /// packet's, other side's).
    fn esp_child(
        &mut self,
        now: Time,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
        ph: &Pinhole,
        keys: [FlowKey; 2],
    ) -> Verdict {
        let Some(g) = ph.esp else {
            return Verdict::Drop(DropReason::FlowDrop);
        };
        let p = Arc::clone(&self.policy);
        let Some(ss) = p.service_sets.get(ph.service_set as usize) else {
            return Verdict::Drop(DropReason::FlowDrop);
        };
        let iface = ss.service_iface as usize;
        let inbound = keys[0].src == g.gateway;
        let out = Rewrite {
            src: (g.public != g.inside).then_some((g.public, 0)),
            dst: None,
        };
        let back = Rewrite {
            src: None,
            dst: (g.public != g.inside).then_some((g.inside, 0)),
        };
        let nat = SessionNat {
            rewrite: if inbound { [back, out] } else { [out, back] },
            kind: ph.nat.kind.filter(|_| g.public != g.inside),
            alloc: None,
            pool: ph.nat.pool,
        };
        let idle = self.idle_timeout(iface, mspic_wire::proto::ESP, None);
        let pk = Parsed {
            key: keys[0],
            ..*parsed
        };
        let mut session =
            self.new_session(now, &pk, ph.service_set, iface, idle, FlowState::Forward);
        session.alg = Some(ph.alg);
        session.flags = FLAG_ALG_CHILD;
        session.parent = std::num::NonZeroU64::new(ph.parent_id);
        session.from_responder = inbound;
        session.alg_label = ph.label;
        session.log = ph.log;
        session.ingress = ingress.0;
        session.keys[1] = keys[1];
        if nat.kind.is_some() {
            session.nat = nat;
            session.flags |= FLAG_NAT;
        }
        let Ok(slot) = self.install(&session) else {
            return Verdict::Drop(DropReason::KeyInUse);
        };
        self.log_open(now, &session);
        self.children
            .entry((ph.parent_iface, ph.parent_id))
            .or_default()
            .push(slot);
        // The reply flow of a host that sent first waits on the reverse 3-tuple: not
        // steered (its SPI key, once learned, is this shard's).
        if inbound && self.table.get(slot).is_some_and(|s| self.steered(s)) {
            let shard = self.cfg.index;
            self.outbox.push(ShardMessage::Steer {
                key: keys[1],
                shard,
            });
        }
        self.stats[iface].rule_accepts += 1;
        self.stats[iface].alg.pinholes_used += 1;
        self.forward(ingress, frame, &pk, &nat.rewrite[0])
    }
}

/// A [`Pinhole::both_ways`] pinhole filled by the endpoint behind it (first packet `k`):
/// the child leaves from the told endpoint, which the pinhole held.
fn from_behind(mut ph: Pinhole, k: &FlowKey) -> Pinhole {
    let told = (ph.dst, ph.dst_port);
    ph.nat.src = (told != (k.src, k.src_port)).then_some((told.0, Some(told.1)));
    ph.nat.dst = None;
    ph.from_responder = false;
    ph
}
