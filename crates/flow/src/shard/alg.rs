//! The ALG plumbing of a shard: the ALG state of sessions, attaching an ALG to a new
//! session, and the payload path of Watch flows (the ALG, then sequence correction).

use mspic_config::AppProtocol;
use mspic_wire::parse::{Parsed, L4};
use mspic_wire::FlowKey;

use super::{DropReason, Frame, Shard, ShardMessage, Verdict};
use crate::alg::{AlgContext, AlgError, AlgPacket, AlgParams, AlgSession, AlgVerdict};
use crate::dir::Dir;
use crate::route::IfIndex;
use crate::seqadj::{self, SeqAdj};
use crate::session::Session;
use crate::snapshot::{FlowState, FLAG_ALG_PARENT, FLAG_RPC_PARENT};
use crate::table::FlowRef;
use crate::time::Time;

/// The ALG state of one session: the plugin's own state and the sequence corrections of
/// its two directions.
pub(super) struct AlgSlot {
    alg: Box<dyn AlgSession>,
    pub(super) seqadj: [SeqAdj; 2],
    /// Whether it ever opened a pinhole (only then may other shards hold its children).
    pub(super) opened: bool,
    /// The session stays past its inactivity timeout until then
    /// ([`AlgContext::keep_session_until`]).
    pub(super) keep_until: Time,
}

impl AlgSlot {
    /// A new ALG session: no sequence correction yet, no pinhole opened.
    pub(super) fn new(alg: Box<dyn AlgSession>) -> Self {
        AlgSlot {
            alg,
            seqadj: [SeqAdj::default(); 2],
            opened: false,
            keep_until: Time(0),
        }
    }
}

impl Shard {
    /// A packet of a Watch flow: the ALG sees its payload, the sequence corrections apply,
    /// then NAT and routing as for any packet.
    pub(super) fn watched(
        &mut self,
        now: Time,
        ingress: IfIndex,
        r: FlowRef,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
    ) -> Verdict {
        let Some(s) = self.table.get(r.slot) else {
            return Verdict::Drop(DropReason::FlowDrop);
        };
        let (iface, rw) = (s.service_iface as usize, s.nat.rewrite[r.dir as usize]);
        // The responder's packets of a DS-Lite session go back through its softwire.
        let softwire = s.softwire.filter(|_| r.dir == crate::dir::Dir::O);
        let len_before = frame.len;
        let verdict = if parsed.payload_len > 0 {
            self.run_alg(now, r, frame, parsed)
        } else {
            Ok(AlgVerdict::Forward)
        };
        let verdict = match verdict {
            Ok(v) => v,
            Err(e) => {
                self.count_alg_error(iface, &e);
                return Verdict::Drop(DropReason::Alg);
            }
        };
        if verdict == AlgVerdict::Drop {
            return Verdict::Drop(DropReason::Alg);
        }
        // A payload whose length changed moved the IP end: parse the frame as it is now.
        let reparsed = (frame.len != len_before)
            .then(|| mspic_wire::parse_frame(frame.bytes()).ok())
            .flatten();
        let parsed = reparsed.as_ref().unwrap_or(parsed);
        if let (L4::Tcp { .. }, Some(slot)) = (parsed.l4, self.alg_sessions.get(&r.slot)) {
            let (this, other) = (
                slot.seqadj[r.dir as usize],
                slot.seqadj[r.dir.other() as usize],
            );
            if !this.is_zero() || !other.is_zero() {
                seqadj::apply(&mut frame.buf[..frame.len], parsed, &this, &other);
            }
        }
        let v = match softwire {
            Some(sw) => self.forward_softwire(ingress, frame, parsed, &rw, sw, iface),
            None => self.forward(ingress, frame, parsed, &rw),
        };
        if verdict == AlgVerdict::ForwardAndClose {
            self.stats[iface].alg.closed_by_response += 1;
            self.remove_session(r.slot, now, crate::syslog::CloseReason::Alg);
        }
        v
    }

    fn count_alg_error(&mut self, iface: usize, e: &AlgError) {
        let Some(st) = self.stats.get_mut(iface) else {
            return;
        };
        st.errors.alg += 1;
        let a = &mut st.alg;
        *match e {
            AlgError::Malformed(_) => &mut a.malformed,
            AlgError::NoRoom | AlgError::Fragmented => &mut a.no_room,
            AlgError::ThirdHost => &mut a.third_host,
            AlgError::PartialLine => &mut a.partial_lines,
            AlgError::NatExhausted => &mut a.nat_exhausted,
        } += 1;
    }

    /// Hands a payload to the session's ALG (in place), records a length change for the
    /// sequence corrections and broadcasts the pinholes it opened.
    fn run_alg(
        &mut self,
        now: Time,
        r: FlowRef,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
    ) -> Result<AlgVerdict, AlgError> {
        let Some(s) = self.table.get(r.slot) else {
            return Ok(AlgVerdict::Forward);
        };
        let Some(alg) = s.alg else {
            return Ok(AlgVerdict::Forward);
        };
        let Some(slot) = self.alg_sessions.get_mut(&r.slot) else {
            return Ok(AlgVerdict::Forward);
        };
        let iface = s.service_iface as usize;
        let mut pinholes = Vec::new();
        let mut closed_labels = Vec::new();
        let mut ctx = AlgContext {
            now,
            dir: r.dir,
            keys: s.keys,
            nat: &s.nat,
            pinholes: &mut pinholes,
            closed_labels: &mut closed_labels,
            label: 0,
            keep_until: None,
            parent_iface: s.service_iface,
            parent_id: s.id,
            service_set: s.service_set,
            alg,
            log: s.log,
            nat_state: &mut self.nat,
            nat_policy: &self.policy.nat,
            call_ids: &mut self.call_ids,
            shard: (self.cfg.index, self.cfg.count),
            refused: 0,
        };
        let mut pkt = AlgPacket::new(frame.buf, &mut frame.len, parsed);
        let result = slot.alg.on_packet(&mut ctx, &mut pkt);
        let refused = u64::from(ctx.refused);
        if let Some(t) = ctx.keep_until {
            slot.keep_until = t;
        }
        let (delta, rewritten, seq) = (pkt.delta(), pkt.rewritten(), pkt.tcp_seq());
        if let (Some(seq), true) = (seq, delta != 0) {
            slot.seqadj[r.dir as usize].record(seq, delta as i32);
        }
        let st = &mut self.stats[iface].alg;
        st.payload_rewrites += u64::from(rewritten);
        st.length_changes += u64::from(delta != 0 && seq.is_some());
        st.pinholes_created += pinholes.len() as u64;
        st.not_admitted += refused;
        slot.opened |= !pinholes.is_empty();
        // The inside host's ESP goes to the shard of the public side, where it is paired.
        let (n, nat) = (self.cfg.count, &self.policy.nat);
        for g in pinholes.iter().filter_map(|p| p.esp) {
            let shard = crate::owner::owner_of_key(&g.inbound(), n, nat);
            if crate::owner::owner_of_key(&g.outbound(), n, nat) != shard {
                let key = g.outbound();
                self.outbox.push(ShardMessage::Steer { key, shard });
            }
        }
        for mut p in pinholes {
            p.origin = self.cfg.index;
            p.serial = self.pinhole_serial;
            self.pinhole_serial += 1;
            self.outbox.push(ShardMessage::Pinhole(Box::new(p)));
        }
        let (iface, parent_id) = (s.service_iface, s.id);
        for label in closed_labels {
            self.close_children(iface, parent_id, Some(label), now);
            self.outbox.push(ShardMessage::LabelClosed {
                iface,
                parent_id,
                label,
            });
        }
        result
    }

    /// Hands a new accepted session to its ALG (`None`: the registry has no plugin for
    /// it): marks the flows the ALG watches and flags the session as a parent when the
    /// ALG opens pinholes.
    pub(super) fn attach_alg(
        &self,
        session: &mut Session,
        a: AppProtocol,
        key: &FlowKey,
        params: &AlgParams,
    ) -> Option<Box<dyn AlgSession>> {
        let (st, watch) = self.algs.create(a, key, params)?;
        for d in [Dir::I, Dir::O] {
            if watch[d as usize] {
                session.state[d as usize] = FlowState::Watch;
            }
        }
        session.flags |= if !st.opens_pinholes() {
            0
        } else if matches!(
            a,
            AppProtocol::Rpc
                | AppProtocol::RpcPortmap
                | AppProtocol::DceRpc
                | AppProtocol::DceRpcPortmap
        ) {
            FLAG_RPC_PARENT
        } else {
            FLAG_ALG_PARENT
        };
        Some(st)
    }
}
