//! Replies built in place of a refused frame: TCP RST and ICMP errors.

use std::net::IpAddr;

use mspic_wire::parse::{Parsed, L4};
use mspic_wire::{build, IcmpErrorKind};

use super::{DropReason, Frame, Shard, Verdict};
use crate::route::{IfIndex, RouteResult};

impl Shard {
    /// Replaces the frame with an ICMP error sent from the ingress interface's address.
    pub(super) fn icmp_reply(
        &mut self,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
        kind: IcmpErrorKind,
    ) -> Option<Verdict> {
        let v4 = parsed.key.src.is_ipv4();
        let src = self
            .policy
            .interface(ingress)
            .and_then(|i| i.addresses.iter().find(|p| p.addr.is_ipv4() == v4))
            .map(|p| p.addr)
            .unwrap_or(parsed.key.dst);
        let n = build::icmp_error(frame.bytes(), parsed, kind, src, &mut self.scratch).ok()?;
        self.emit_reply(frame, n, parsed.key.src)
    }

    fn emit_reply(&mut self, frame: &mut Frame<'_>, n: usize, to: IpAddr) -> Option<Verdict> {
        if n > frame.buf.len() {
            return None;
        }
        frame.buf[..n].copy_from_slice(&self.scratch[..n]);
        frame.len = n;
        match self.policy.routes.lookup(to) {
            RouteResult::Forward { egress, next_hop } => Some(Verdict::Reply { egress, next_hop }),
            _ => None,
        }
    }

    /// `reject`: TCP gets a RST, everything else an ICMP unreachable (port unreachable for
    /// UDP, administratively prohibited otherwise).
    pub(super) fn reject(
        &mut self,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
        reason: DropReason,
    ) -> Verdict {
        let v = match parsed.l4 {
            L4::Tcp { .. } => build::tcp_rst(frame.bytes(), parsed, &mut self.scratch)
                .ok()
                .and_then(|n| self.emit_reply(frame, n, parsed.key.src)),
            L4::Udp => self.icmp_reply(
                ingress,
                frame,
                parsed,
                IcmpErrorKind::DestUnreachable { code: 3 },
            ),
            _ => self.icmp_reply(ingress, frame, parsed, IcmpErrorKind::AdminProhibited),
        };
        v.unwrap_or(Verdict::Drop(reason))
    }
}
