//! Packets of existing flows, and what every accepted packet goes through last: its
//! flow's NAT rewrite, then routing.

use std::net::IpAddr;

use mspic_wire::parse::{Fragment, Parsed, L4};
use mspic_wire::{rewrite, IcmpErrorKind};

use super::route_cache::RouteDecision;
use super::sessions::timeout_for;
use super::{DropReason, Frame, Shard, Verdict};
use crate::nat::Rewrite;
use crate::route::{IfIndex, RouteResult};
use crate::session::NEVER;
use crate::snapshot::FlowState;
use crate::table::FlowRef;
use crate::time::Time;

impl Shard {
    /// A packet of an existing flow. Inlined into its callers: outlined, the established
    /// path costs about 50 instructions more per packet (`cargo xtask bench
    /// instructions`).
    #[inline(always)]
    pub(super) fn on_flow(
        &mut self,
        now: Time,
        ingress: IfIndex,
        r: FlowRef,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
    ) -> Verdict {
        let d = r.dir as usize;
        let Some(s) = self.table.get_mut(r.slot) else {
            return Verdict::Drop(DropReason::FlowDrop);
        };
        if !s.ip_options.allows_packet(frame.bytes(), parsed) {
            self.stats[s.service_iface as usize].drop_ip_options += 1;
            return Verdict::Drop(DropReason::IpOptions);
        }
        if s.over_ttl_threshold(r.dir, parsed.ttl) {
            self.stats[s.service_iface as usize].errors.alg += 1;
            return Verdict::Drop(DropReason::Alg);
        }
        s.frames[d] += 1;
        s.bytes[d] += parsed.ip_len as u64;
        s.last_seen = now;
        let iface = s.service_iface as usize;
        let set = s.service_set;
        let state = s.state[d];
        if let Some(c) = self.set_frames.get_mut(usize::from(set)) {
            *c += 1;
        }
        if let L4::Tcp {
            flags,
            seq,
            ack,
            window,
        } = parsed.l4
        {
            let before = s.tcp.timer();
            s.tcp.on_segment(r.dir, flags);
            s.tcp
                .record(r.dir, seq, ack, window, flags, parsed.payload_len);
            let after = s.tcp.timer();
            if before != after {
                let old = s.active_timeout;
                let idle = s.idle_timeout;
                let new = timeout_for(&self.policy, iface, idle, after);
                s.active_timeout = new;
                if new < old || old == NEVER {
                    self.schedule(r.slot);
                }
            }
        }
        if let Fragment::First { id } = parsed.fragment {
            self.remember_fragment(parsed, id, r, now);
        }
        match state {
            FlowState::Drop => {
                self.stats[iface].existing_drops += 1;
                return Verdict::Drop(DropReason::FlowDrop);
            }
            FlowState::Reject => {
                self.stats[iface].existing_rejects += 1;
                return self.reject(ingress, frame, parsed, DropReason::FlowReject);
            }
            _ => self.stats[iface].existing_accepts += 1,
        }
        self.clamp_mss(set, frame, parsed);
        if state == FlowState::Watch {
            return self.watched(now, ingress, r, frame, parsed);
        }
        let Some(s) = self.table.get(r.slot) else {
            return self.forward(ingress, frame, parsed, &Rewrite::default());
        };
        let rw = s.nat.rewrite[d];
        // Replies of a DS-Lite session go back through the softwire (only those copy it).
        if r.dir == crate::dir::Dir::O {
            if let Some(sw) = s.softwire {
                return self.forward_softwire(ingress, frame, parsed, &rw, sw, iface);
            }
        }
        self.forward(ingress, frame, parsed, &rw)
    }

    /// Lowers the MSS a SYN or SYN-ACK of service set `set` announces to the set's
    /// `tcp-mss` (Junos "Configuring Service Set Limitations"), counting SYNs seen and
    /// changed.
    pub(super) fn clamp_mss(&mut self, set: u16, frame: &mut Frame<'_>, parsed: &Parsed) {
        let L4::Tcp { flags, .. } = parsed.l4 else {
            return;
        };
        if flags & mspic_wire::tcp::SYN == 0 {
            return;
        }
        let Some(max) = self
            .policy
            .service_sets
            .get(set as usize)
            .and_then(|s| s.tcp_mss)
        else {
            return;
        };
        let Some(c) = self.tcp_mss.get_mut(set as usize) else {
            return;
        };
        c.syn_received += 1;
        if let Ok(Some(_)) = rewrite::clamp_tcp_mss(&mut frame.buf[..frame.len], parsed, max) {
            c.syn_modified += 1;
        }
    }

    /// Applies a flow's rewrite, then routes the packet.
    pub(super) fn forward(
        &mut self,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
        rw: &Rewrite,
    ) -> Verdict {
        if super::nat64::crosses_family(rw, parsed.key.src) {
            return self.forward_nat64(ingress, frame, parsed, rw);
        }
        if parsed.ttl <= 1 && !rw.is_none() {
            // Answered before the rewrite, so the error quotes the packet as its sender
            // sent it, not the translated one (which would name the other side).
            return self.time_exceeded(ingress, frame, parsed);
        }
        let dst = self.apply_rewrite(frame, parsed, rw);
        self.route(ingress, frame, parsed, dst)
    }

    /// Applies a flow's NAT rewrite in place; returns the (translated) destination.
    /// Inlined into both callers (outlined, the established path pays the call).
    #[inline(always)]
    pub(super) fn apply_rewrite(
        &mut self,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
        rw: &Rewrite,
    ) -> IpAddr {
        if !rw.is_none() {
            self.nat.stats.packets_translated += 1;
        }
        let buf = &mut frame.buf[..frame.len];
        let mut dst = parsed.key.dst;
        let is_icmp_query = matches!(parsed.l4, L4::IcmpQuery { .. });
        if let Some((addr, port)) = rw.src {
            if addr != parsed.key.src {
                let _ = rewrite::set_src_addr(buf, parsed, addr);
            }
            if port != parsed.key.src_port && parsed.fragment != Fragment::None {
                // Ports live in the first fragment only; later fragments carry no L4 header.
            }
            if port != parsed.key.src_port && !matches!(parsed.fragment, Fragment::Later { .. }) {
                let _ = if is_icmp_query {
                    rewrite::set_icmp_query_id(buf, parsed, port)
                } else {
                    rewrite::set_src_port(buf, parsed, port)
                };
            }
        }
        if let Some((addr, port)) = rw.dst {
            if addr != parsed.key.dst {
                let _ = rewrite::set_dst_addr(buf, parsed, addr);
                dst = addr;
            }
            if port != parsed.key.dst_port && !matches!(parsed.fragment, Fragment::Later { .. }) {
                let _ = if is_icmp_query {
                    rewrite::set_icmp_query_id(buf, parsed, port)
                } else if matches!(parsed.l4, L4::Gre { version: 1, .. }) {
                    // A call-keyed session (its key's destination port is the call id).
                    let r = rewrite::set_gre_call_id(buf, parsed, port);
                    self.nat.stats.gre_call_id_restorations += u64::from(r.is_ok());
                    r
                } else {
                    rewrite::set_dst_port(buf, parsed, port)
                };
            }
        }
        dst
    }

    /// A packet whose TTL or hop limit runs out here: counted, and answered with an ICMP
    /// time exceeded where one may be sent (RFC 1812 §5.3.1; not about an ICMP error).
    pub(super) fn time_exceeded(
        &mut self,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
    ) -> Verdict {
        let st = self.stats_slot(ingress, Some(parsed.key.dst));
        self.stats[st].drop_ttl_exceeded += 1;
        self.icmp_reply(ingress, frame, parsed, IcmpErrorKind::TimeExceeded)
            .unwrap_or(Verdict::Drop(DropReason::TtlExceeded))
    }

    /// Routes a packet on its (translated) destination and decrements its TTL.
    pub(super) fn route(
        &mut self,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
        dst: IpAddr,
    ) -> Verdict {
        let route = match self.routes.decide(&self.policy, dst) {
            RouteDecision::Local => return Verdict::Local,
            RouteDecision::Route(r) => r,
        };
        match route {
            RouteResult::Forward { egress, next_hop } => {
                match rewrite::decrement_ttl(&mut frame.buf[..frame.len], parsed) {
                    Ok(_) => Verdict::Forward { egress, next_hop },
                    Err(_) => self.time_exceeded(ingress, frame, parsed),
                }
            }
            RouteResult::Discard => Verdict::Drop(DropReason::RouteDiscard),
            RouteResult::Reject => self
                .icmp_reply(
                    ingress,
                    frame,
                    parsed,
                    IcmpErrorKind::DestUnreachable { code: 1 },
                )
                .unwrap_or(Verdict::Drop(DropReason::RouteDiscard)),
            RouteResult::NoRoute => {
                let st = self.stats_slot(ingress, Some(parsed.key.dst));
                self.stats[st].drop_no_route += 1;
                Verdict::Drop(DropReason::NoRoute)
            }
        }
    }
}
