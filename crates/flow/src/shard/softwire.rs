//! DS-Lite (RFC 6333): the AFTR end of the softwires. An IPv6 packet from a B4 to a
//! concentrator's softwire address carrying IPv4 (next header 4) is decapsulated in
//! place (RFC 2473 §3.2: the tunnel exit forwards the inner packet) and runs through the
//! engine as IPv4, its session keyed by the B4 too ([`FlowKey::softwire`], §7); packets
//! of the other direction are NAPT-reversed and encapsulated back to that B4 (RFC 2473
//! §3.1, §6).

use std::net::{IpAddr, Ipv6Addr};

use mspic_config::MatchDirection;
use mspic_wire::ethernet::{ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use mspic_wire::parse::{parse_frame, Fragment, IpVersion, Parsed};
use mspic_wire::{fragment, proto, rewrite, FlowKey, IcmpErrorKind};

use super::{DropReason, Frame, Shard, Verdict};
use crate::nat::Rewrite;
use crate::route::{IfIndex, RouteResult};
use crate::session::Softwire;
use crate::time::Time;

/// The IPv6 header the AFTR adds.
const IPV6_HEADER: usize = 40;
/// Hop limit of the encapsulating header: the tunnel entry point's default (RFC 2473
/// §6.3), the usual 64.
const TUNNEL_HOP_LIMIT: u8 = 64;

impl Shard {
    /// A packet to one of the softwire addresses of the service set on its path: `None`
    /// when it is not one (it goes on as any IPv6 packet), else the counter slot and
    /// verdict of its decapsulated packet.
    #[cold]
    #[inline(never)]
    pub(super) fn softwire_in(
        &mut self,
        now: Time,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
    ) -> Option<(usize, Verdict)> {
        if parsed.key.proto != proto::IPIP || parsed.version != IpVersion::V6 {
            return None;
        }
        let IpAddr::V6(b4) = parsed.key.src else {
            return None;
        };
        let p = &self.policy;
        // The input set of the interface, else the next-hop set whose inside unit the
        // route to the softwire address leads into.
        let set = match p.interface(ingress).and_then(|i| i.input_service_set) {
            Some(set) => set,
            None => {
                let hop = p.routes.service_hop(parsed.key.dst)?;
                (hop.dir == MatchDirection::Input).then_some(hop.set)?
            }
        };
        let ss = p.service_sets.get(usize::from(set))?;
        let c = ss.ds_lite_at(parsed.key.dst)?;
        let sw = Softwire {
            b4,
            aftr: c.address,
            mtu: c.mtu,
        };
        let iface = ss.service_iface as usize;
        Some((
            iface,
            self.decapsulated(now, ingress, frame, parsed, (set, iface), sw),
        ))
    }

    fn decapsulated(
        &mut self,
        now: Time,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
        (set, iface): (u16, usize),
        sw: Softwire,
    ) -> Verdict {
        let l3 = parsed.l3_offset;
        let (start, end) = (parsed.l4_offset, parsed.ip_end().min(frame.len));
        if parsed.fragment != Fragment::None {
            return self.reassemble(now, ingress, frame, parsed, (set, iface), sw);
        }
        // The inner packet must be IPv4.
        let ipv4 = frame.buf.get(start).is_some_and(|b| b >> 4 == 4);
        if !ipv4 || start >= end || l3 < 2 {
            self.stats[iface].softwire.decap_errors += 1;
            return Verdict::Drop(DropReason::Softwire);
        }
        frame.buf.copy_within(start..end, l3);
        frame.buf[l3 - 2..l3].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        frame.len = l3 + (end - start);
        let inner = match parse_frame(frame.bytes()) {
            Ok(p) => p,
            Err(e) => {
                self.stats[iface].softwire.decap_errors += 1;
                return self.count_malformed(ingress, &e);
            }
        };
        self.stats[iface].softwire.decapsulated += 1;
        if self.cfg.verify_checksums && !mspic_wire::parse::l4_checksum_ok(frame.bytes(), &inner) {
            return self.count_bad_checksum(ingress, &inner);
        }
        let key = FlowKey::softwire(sw.b4, &inner.key);
        let h = self.table.hash(&key);
        let verdict = if let Fragment::Later { id } = inner.fragment {
            // An inner IPv4 fragment without ports follows its first fragment's session.
            self.later_fragment(now, ingress, frame, &inner, id)
        } else if let Some(r) = self.table.find(h, &key) {
            self.on_flow(now, ingress, r, frame, &inner)
        } else {
            self.arriving_softwire = Some((sw, set));
            let v = self.first_packet(now, ingress, frame, &inner, (h, &key));
            self.arriving_softwire = None;
            v
        };
        match verdict {
            // An answer the engine built for the B4's host (a reject, time exceeded)
            // goes back through its softwire.
            Verdict::Reply { .. } => self.encapsulate_reply(iface, frame, sw),
            v => v,
        }
    }

    /// A fragment of a tunnel packet (RFC 6333 §5.3: the AFTR reassembles them): kept
    /// until its packet is whole, which then takes the frame's place (if it fits the
    /// frame buffer) and is decapsulated.
    #[cold]
    #[inline(never)]
    fn reassemble(
        &mut self,
        now: Time,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
        (set, iface): (u16, usize),
        sw: Softwire,
    ) -> Verdict {
        let l3 = parsed.l3_offset;
        let end = parsed.ip_end().min(frame.len);
        let done = match frame.buf.get(l3..end) {
            Some(pkt) => self.reassembly.add(now.0, pkt, &mut self.xlat_buf),
            None => Err(mspic_wire::reassembly::ReassemblyError::Malformed(
                mspic_wire::WireError::IpTruncated,
            )),
        };
        let timed_out = self.reassembly.take_timed_out();
        let st = &mut self.stats[iface].softwire;
        st.reassembly_drops += timed_out;
        let n = match done {
            Ok(None) => return Verdict::Drop(DropReason::FragmentHeld),
            Ok(Some(n)) if l3 + n <= frame.buf.len() => n,
            Ok(Some(_)) | Err(_) => {
                st.reassembly_drops += 1;
                return Verdict::Drop(DropReason::Softwire);
            }
        };
        st.reassembled += 1;
        frame.buf[l3..l3 + n].copy_from_slice(&self.xlat_buf[..n]);
        frame.len = l3 + n;
        match parse_frame(frame.bytes()) {
            Ok(p) if p.fragment == Fragment::None => {
                self.decapsulated(now, ingress, frame, &p, (set, iface), sw)
            }
            Ok(_) => {
                self.stats[iface].softwire.decap_errors += 1;
                Verdict::Drop(DropReason::Softwire)
            }
            Err(e) => {
                self.stats[iface].softwire.decap_errors += 1;
                self.count_malformed(ingress, &e)
            }
        }
    }

    /// A packet of the O flow of a softwire session: NAPT-reversed, its TTL decremented
    /// (the AFTR forwards the inner packet, RFC 2473 §3.1), then encapsulated from the
    /// softwire address to the B4 and routed. A packet that would exceed the
    /// concentrator's `mtu-v6` once encapsulated is answered fragmentation needed when it
    /// has DF set (RFC 2473 §7.1, RFC 1191), else the tunnel packet is sent as IPv6
    /// fragments (RFC 6333 §5.3, RFC 2473 §7.2): the first in the frame, the others as
    /// generated frames.
    pub(super) fn forward_softwire(
        &mut self,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
        rw: &Rewrite,
        sw: Softwire,
        iface: usize,
    ) -> Verdict {
        if parsed.version != IpVersion::V4 {
            self.stats[iface].softwire.decap_errors += 1;
            return Verdict::Drop(DropReason::Softwire);
        }
        let too_big = parsed.ip_len + IPV6_HEADER > usize::from(sw.mtu);
        if too_big {
            let l3 = parsed.l3_offset;
            let df = frame.bytes().get(l3 + 6).is_some_and(|b| b & 0x40 != 0);
            if df {
                self.stats[iface].softwire.too_big += 1;
                let kind = IcmpErrorKind::TooBig {
                    mtu: sw.mtu.saturating_sub(IPV6_HEADER as u16),
                };
                return self
                    .icmp_reply(ingress, frame, parsed, kind)
                    .unwrap_or(Verdict::Drop(DropReason::Softwire));
            }
            if mspic_wire::fragment::ipv6_fragment_room(usize::from(sw.mtu)).is_none() {
                self.stats[iface].softwire.mtu_drops += 1;
                return Verdict::Drop(DropReason::Softwire);
            }
        }
        if parsed.ttl <= 1 {
            // Answered before the rewrite: the error quotes the server's own packet.
            return self.time_exceeded(ingress, frame, parsed);
        }
        self.apply_rewrite(frame, parsed, rw);
        if rewrite::decrement_ttl(&mut frame.buf[..frame.len], parsed).is_err() {
            return self.time_exceeded(ingress, frame, parsed);
        }
        let v = self.encapsulate(iface, frame, parsed.l3_offset, parsed.ip_len, sw);
        match v {
            Verdict::Forward { egress, next_hop } if too_big => {
                self.cut_tunnel_packet(iface, frame, parsed.l3_offset, sw, (egress, next_hop))
            }
            v => v,
        }
    }

    /// Sends the tunnel packet in the frame at `l3` as fragments of at most `mtu-v6`
    /// bytes: the first in the frame, the others as generated frames with the same link
    /// header.
    #[cold]
    #[inline(never)]
    fn cut_tunnel_packet(
        &mut self,
        iface: usize,
        frame: &mut Frame<'_>,
        l3: usize,
        sw: Softwire,
        (egress, next_hop): (IfIndex, IpAddr),
    ) -> Verdict {
        let n = frame.len - l3;
        let mtu = usize::from(sw.mtu);
        self.xlat_buf[..n].copy_from_slice(&frame.buf[l3..frame.len]);
        self.tunnel_ident = self.tunnel_ident.wrapping_add(1);
        let id = self.tunnel_ident;
        let packet = &self.xlat_buf[..n];
        let first = match fragment::ipv6_fragment(packet, mtu, id, 0, &mut frame.buf[l3..]) {
            Ok(Some(len)) => len,
            _ => {
                self.stats[iface].softwire.mtu_drops += 1;
                return Verdict::Drop(DropReason::Softwire);
            }
        };
        frame.len = l3 + first;
        let dropped = super::nat64::push_fragments(
            &mut self.generated,
            mtu,
            (&frame.buf[..l3], packet),
            (id, TUNNEL_HOP_LIMIT),
            (egress, next_hop),
        );
        let st = &mut self.stats[iface].softwire;
        st.fragmented += 1;
        st.mtu_drops += dropped;
        Verdict::Forward { egress, next_hop }
    }

    /// An ICMP error for a B4's host, already translated: its TTL decremented, then
    /// encapsulated to the B4 (an error is small: its quote is limited, RFC 1812 §4.3.2.3,
    /// so it fits `mtu-v6`; one that does not is dropped and counted).
    pub(super) fn softwire_icmp_error(
        &mut self,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
        sw: Softwire,
        iface: usize,
    ) -> Verdict {
        if parsed.version != IpVersion::V4 {
            self.stats[iface].softwire.decap_errors += 1;
            return Verdict::Drop(DropReason::Softwire);
        }
        if parsed.ip_len + IPV6_HEADER > usize::from(sw.mtu) {
            self.stats[iface].softwire.mtu_drops += 1;
            return Verdict::Drop(DropReason::Softwire);
        }
        if rewrite::decrement_ttl(&mut frame.buf[..frame.len], parsed).is_err() {
            return self.time_exceeded(ingress, frame, parsed);
        }
        self.encapsulate(iface, frame, parsed.l3_offset, parsed.ip_len, sw)
    }

    /// Puts the IPv4 packet at `l3` (`len` bytes) in an IPv6 header from the softwire
    /// address to the B4 and routes it (without a hop-limit decrement: the AFTR is the
    /// tunnel's entry, RFC 2473 §3.1).
    fn encapsulate(
        &mut self,
        iface: usize,
        frame: &mut Frame<'_>,
        l3: usize,
        len: usize,
        sw: Softwire,
    ) -> Verdict {
        if l3 < 2 || l3 + IPV6_HEADER + len > frame.buf.len() || l3 + len > frame.len {
            self.stats[iface].softwire.mtu_drops += 1;
            return Verdict::Drop(DropReason::Softwire);
        }
        let tos = frame.buf[l3 + 1];
        frame.buf.copy_within(l3..l3 + len, l3 + IPV6_HEADER);
        write_ipv6_header(
            &mut frame.buf[l3..l3 + IPV6_HEADER],
            tos,
            len as u16,
            sw.aftr,
            sw.b4,
        );
        frame.buf[l3 - 2..l3].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        frame.len = l3 + IPV6_HEADER + len;
        self.stats[iface].softwire.encapsulated += 1;
        match self.policy.routes.lookup(IpAddr::V6(sw.b4)) {
            RouteResult::Forward { egress, next_hop } => Verdict::Forward { egress, next_hop },
            RouteResult::Discard | RouteResult::Reject => Verdict::Drop(DropReason::RouteDiscard),
            RouteResult::NoRoute => {
                self.stats[iface].drop_no_route += 1;
                Verdict::Drop(DropReason::NoRoute)
            }
        }
    }

    /// A reply built in the frame (an IPv4 packet to the B4's host) sent back through
    /// the softwire.
    fn encapsulate_reply(&mut self, iface: usize, frame: &mut Frame<'_>, sw: Softwire) -> Verdict {
        let p = match parse_frame(frame.bytes()) {
            Ok(p) if p.version == IpVersion::V4 => p,
            _ => return Verdict::Drop(DropReason::Softwire),
        };
        match self.encapsulate(iface, frame, p.l3_offset, p.ip_len, sw) {
            Verdict::Forward { egress, next_hop } => Verdict::Reply { egress, next_hop },
            v => v,
        }
    }
}

/// The IPv6 header of a tunnel packet (RFC 8200 §3; RFC 2473 §3.1): traffic class from
/// the inner packet's TOS (RFC 2983's uniform model), flow label 0, next header 4.
fn write_ipv6_header(h: &mut [u8], tos: u8, payload: u16, src: Ipv6Addr, dst: Ipv6Addr) {
    h[0] = 0x60 | (tos >> 4);
    h[1] = tos << 4;
    h[2] = 0;
    h[3] = 0;
    h[4..6].copy_from_slice(&payload.to_be_bytes());
    h[6] = proto::IPIP;
    h[7] = TUNNEL_HOP_LIMIT;
    h[8..24].copy_from_slice(&src.octets());
    h[24..40].copy_from_slice(&dst.octets());
}
