//! Packets of stateful NAT64 sessions (RFC 6146 §3.5): translated between the families
//! by the RFC 7915 translator into the frame buffer, then routed like any other packet.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use mspic_wire::ethernet::{ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use mspic_wire::fragment;
use mspic_wire::parse::{parse_frame, Fragment, Parsed, L4};
use mspic_wire::xlat::{self, Answer, Endpoints, Params, XlatError};
use mspic_wire::{icmp, IcmpErrorKind};

use super::tickles::MAX_GENERATED;
use super::{DropReason, Frame, Generated, Shard, Verdict, GENERATED_ROOM};
use crate::nat::Rewrite;
use crate::route::IfIndex;

/// Room for the translation of the largest IP packet a frame can hold.
pub(super) const XLAT_BUF: usize = 65_535 + 48;

/// The MTU past the translator on the IPv6 side: Ethernet's (links have no configured
/// MTU in the emulator; Params::default has the same).
const IPV6_MTU: usize = 1500;
/// IPv6 header less IPv4's (RFC 7915 §4.1).
const HEADER_GROWTH: usize = 20;

/// Whether `rw` takes a packet from `src`'s family to the other.
pub(super) fn crosses_family(rw: &Rewrite, src: IpAddr) -> bool {
    rw.src.is_some_and(|(a, _)| a.is_ipv4() != src.is_ipv4())
}

/// The translated packet's endpoints: ports for TCP/UDP, the identifier for an ICMP echo
/// (a request carries it as its source port, a reply as its destination port).
fn endpoints<A>(parsed: &Parsed, src: (A, u16), dst: (A, u16)) -> Endpoints<A> {
    let query = match parsed.l4 {
        L4::IcmpQuery { icmp_type, .. } => Some(matches!(
            icmp_type,
            icmp::v4::ECHO_REQUEST | icmp::v6::ECHO_REQUEST
        )),
        _ => None,
    };
    let ports = query.is_none();
    Endpoints {
        src: src.0,
        dst: dst.0,
        src_port: ports.then_some(src.1),
        dst_port: ports.then_some(dst.1),
        icmp_id: query.map(|request| if request { src.1 } else { dst.1 }),
    }
}

impl Shard {
    /// A packet of a NAT64 flow: translated with the flow's endpoints (RFC 7915 §5 from
    /// IPv6, §4 from IPv4), then routed; routing decrements the hop limit once (a packet
    /// arriving with 1 is answered time exceeded in its own family first).
    pub(super) fn forward_nat64(
        &mut self,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
        rw: &Rewrite,
    ) -> Verdict {
        if parsed.ttl <= 1 {
            return self.time_exceeded(ingress, frame, parsed);
        }
        let (Some(src), Some(dst)) = (rw.src, rw.dst) else {
            return self.untranslatable();
        };
        let rewrite = match (src, dst) {
            ((IpAddr::V4(s), sp), (IpAddr::V4(d), dp)) => Rewrite4(xlat::Rewrite {
                outer: endpoints(parsed, (s, sp), (d, dp)),
                inner: None,
            }),
            ((IpAddr::V6(_), _), (IpAddr::V6(_), _))
                if self.too_big_for_ipv6(frame, parsed) && !self.clears_df(parsed) =>
            {
                // RFC 7915 §4.1: DF set and too big once translated: fragmentation needed,
                // with the IPv6 MTU less the header growth.
                self.nat.stats.nat64_untranslatable += 1;
                let kind = IcmpErrorKind::TooBig {
                    mtu: (IPV6_MTU - HEADER_GROWTH) as u16,
                };
                return self
                    .icmp_reply(ingress, frame, parsed, kind)
                    .unwrap_or(Verdict::Drop(DropReason::Untranslatable));
            }
            ((IpAddr::V6(s), sp), (IpAddr::V6(d), dp)) => Rewrite6(xlat::Rewrite {
                outer: endpoints(parsed, (s, sp), (d, dp)),
                inner: None,
            }),
            _ => return self.untranslatable(),
        };
        self.nat.stats.packets_translated += 1;
        self.translate_frame(ingress, frame, parsed, &rewrite, dst.0)
    }

    /// An ICMP error quoting a packet of NAT64 flow `rw` (the flow the error follows):
    /// the error and the packet it quotes are translated (RFC 7915 §4.2-4.3, §5.2-5.3;
    /// RFC 6146 §3.5.3). From the IPv4 side, the error's source is embedded in the
    /// session's prefix; from the IPv6 side it comes from the session's pool address.
    pub(super) fn icmp_error_nat64(
        &mut self,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
        rw: &Rewrite,
    ) -> Verdict {
        let (Some(src), Some(dst)) = (rw.src, rw.dst) else {
            return self.untranslatable();
        };
        let L4::IcmpError { inner, .. } = parsed.l4 else {
            return self.untranslatable();
        };
        // The quoted packet went the other way: its endpoints are the flow's, swapped.
        let id = if inner.key.src_port != 0 {
            dst.1
        } else {
            src.1
        };
        fn quoted<A>(s: A, d: A, sp: u16, dp: u16, id: u16) -> Endpoints<A> {
            Endpoints {
                src: s,
                dst: d,
                src_port: Some(sp),
                dst_port: Some(dp),
                icmp_id: Some(id),
            }
        }
        let rewrite = match (src.0, dst.0, parsed.key.src) {
            (IpAddr::V6(s6), IpAddr::V6(d6), IpAddr::V4(from)) => {
                let Some(prefix) = self.policy.nat.nat64_prefix_of(s6) else {
                    return self.untranslatable();
                };
                Rewrite6(xlat::Rewrite {
                    outer: Endpoints::addrs(prefix.embed(from), d6),
                    inner: Some(quoted(d6, s6, dst.1, src.1, id)),
                })
            }
            (IpAddr::V4(s4), IpAddr::V4(d4), IpAddr::V6(_)) => Rewrite4(xlat::Rewrite {
                outer: Endpoints::addrs(s4, d4),
                inner: Some(quoted(d4, s4, dst.1, src.1, id)),
            }),
            _ => return self.untranslatable(),
        };
        self.nat.stats.icmp_error_translations += 1;
        self.translate_frame(ingress, frame, parsed, &rewrite, dst.0)
    }

    /// Translates the frame's IP packet in place (the Ethernet header stays, its ethertype
    /// changes; the packet shrinks or grows by the header difference within the buffer),
    /// then routes it to `dst`.
    fn translate_frame(
        &mut self,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
        rewrite: &XlatRewrite,
        dst: IpAddr,
    ) -> Verdict {
        let l3 = parsed.l3_offset;
        let end = (l3 + parsed.ip_len).min(frame.len);
        self.xlat_ident = self.xlat_ident.wrapping_add(1);
        let params = Params {
            ipv4_ident: self.xlat_ident,
            ..Params::default()
        };
        let input = &frame.buf[l3..end];
        let (done, ethertype) = match rewrite {
            Rewrite4(rw) => (
                xlat::ipv6_to_ipv4(input, &mut self.xlat_buf, rw, &params),
                ETHERTYPE_IPV4,
            ),
            Rewrite6(rw) => (
                xlat::ipv4_to_ipv6(input, &mut self.xlat_buf, rw, &params),
                ETHERTYPE_IPV6,
            ),
        };
        let n = match done {
            Ok(n) => n,
            Err(XlatError::Answer(Answer::SourceRouteFailed)) => {
                self.nat.stats.nat64_untranslatable += 1;
                let kind = IcmpErrorKind::DestUnreachable { code: 5 };
                return self
                    .icmp_reply(ingress, frame, parsed, kind)
                    .unwrap_or(Verdict::Drop(DropReason::Untranslatable));
            }
            Err(_) => return self.untranslatable(),
        };
        // RFC 7915 §4 and §4.1: an IPv4 packet (or fragment) without DF that is too big
        // for the IPv6 link once translated goes as IPv6 fragments (a fragment header on
        // each), identified by the IPv4 identification; the first takes the frame's
        // place and the others follow as generated frames.
        let cut = matches!(rewrite, Rewrite6(_)) && n > IPV6_MTU;
        let ident = u32::from(u16::from_be_bytes([
            frame.buf.get(l3 + 4).copied().unwrap_or(0),
            frame.buf.get(l3 + 5).copied().unwrap_or(0),
        ]));
        // A packet cut into fragments is written a fragment at a time (bounds checked
        // there); a whole one must fit the frame buffer.
        if l3 < 2 || (!cut && l3 + n > frame.buf.len()) {
            return self.untranslatable();
        }
        let written = if cut {
            let out = &mut frame.buf[l3..];
            match fragment::ipv6_fragment(&self.xlat_buf[..n], IPV6_MTU, ident, 0, out) {
                Ok(Some(len)) => len,
                _ => return self.untranslatable(),
            }
        } else {
            frame.buf[l3..l3 + n].copy_from_slice(&self.xlat_buf[..n]);
            n
        };
        frame.buf[l3 - 2..l3].copy_from_slice(&ethertype.to_be_bytes());
        frame.len = l3 + written;
        let verdict = match parse_frame(frame.bytes()) {
            Ok(p) => self.route(ingress, frame, &p, dst),
            Err(_) => return self.untranslatable(),
        };
        if let (true, Verdict::Forward { egress, next_hop }) = (cut, verdict) {
            self.nat.stats.nat64_fragmented += 1;
            // The others leave with the frame's link header and the hop limit routing
            // gave the first.
            let hop_limit = frame.buf[l3 + 7];
            let (head, packet) = (&frame.buf[..l3], &self.xlat_buf[..n]);
            self.nat.stats.nat64_fragment_drops += push_fragments(
                &mut self.generated,
                IPV6_MTU,
                (head, packet),
                (ident, hop_limit),
                (egress, next_hop),
            );
        }
        verdict
    }

    /// An IPv4 packet with DF set that would exceed the IPv6 MTU once translated (its
    /// header grows by 20 bytes, 28 with a fragment header).
    fn too_big_for_ipv6(&self, frame: &Frame<'_>, parsed: &Parsed) -> bool {
        let l3 = parsed.l3_offset;
        let df = frame.bytes().get(l3 + 6).is_some_and(|b| b & 0x40 != 0);
        let frag = if matches!(parsed.fragment, Fragment::None) {
            0
        } else {
            8
        };
        let ihl = parsed.l4_offset.saturating_sub(l3);
        df && parsed.ip_len - ihl.min(parsed.ip_len) + 40 + frag > IPV6_MTU
    }

    /// Whether the service set of the session of IPv4 packet `parsed` has
    /// `clear-dont-fragment-bit`: its DF is ignored (the packet is fragmented as IPv6).
    /// Asked of packets too big with DF only.
    fn clears_df(&self, parsed: &Parsed) -> bool {
        let h = self.table.hash(&parsed.key);
        self.table
            .find(h, &parsed.key)
            .and_then(|r| self.table.get(r.slot))
            .and_then(|s| self.policy.service_sets.get(usize::from(s.service_set)))
            .is_some_and(|ss| ss.nat64_clear_df)
    }

    fn untranslatable(&mut self) -> Verdict {
        self.nat.stats.nat64_untranslatable += 1;
        Verdict::Drop(DropReason::Untranslatable)
    }
}

/// Appends fragments 1.. of the IPv6 `packet` (cut for `mtu`) to `generated`, each
/// after the link header `head`, with `hop_limit`; returns how many found no room (the
/// generated frames are bounded).
pub(super) fn push_fragments(
    generated: &mut Vec<Generated>,
    mtu: usize,
    (head, packet): (&[u8], &[u8]),
    (ident, hop_limit): (u32, u8),
    (egress, next_hop): (IfIndex, IpAddr),
) -> u64 {
    let l3 = head.len();
    let mut dropped = 0;
    for k in 1.. {
        let mut g = Generated {
            egress,
            next_hop,
            len: 0,
            frame: [0u8; GENERATED_ROOM],
        };
        let Some(out) = g.frame.get_mut(l3..) else {
            return dropped + 1;
        };
        match fragment::ipv6_fragment(packet, mtu, ident, k, out) {
            Ok(Some(len)) if generated.len() < MAX_GENERATED => {
                g.frame[..l3].copy_from_slice(head);
                g.frame[l3 + 7] = hop_limit;
                g.len = l3 + len;
                generated.push(g);
            }
            Ok(Some(_)) => dropped += 1,
            // The packet or the room is at fault, for this fragment and the next ones
            // alike: they are not sent (the receiver's reassembly times out).
            Err(_) => return dropped + 1,
            Ok(None) => return dropped,
        }
    }
    dropped
}

/// The translator's input for one packet, by the family it goes to.
pub(super) enum XlatRewrite {
    Rewrite4(xlat::Rewrite<Ipv4Addr>),
    Rewrite6(xlat::Rewrite<Ipv6Addr>),
}
use XlatRewrite::{Rewrite4, Rewrite6};
