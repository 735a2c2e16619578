//! Which services interface a packet is charged to, and the counters of refused and
//! malformed packets behind `show services stateful-firewall statistics`.

use std::net::IpAddr;

use mspic_config::SfwAction;
use mspic_wire::parse::{Parsed, L4};
use mspic_wire::{proto, ErrorClass, WireError};

use super::{DropReason, Shard, Verdict};
use crate::route::{IfIndex, RouteResult};
use crate::time::Time;

impl Shard {
    /// The services interface a packet without a session is charged to: the one of the
    /// service set on its ingress interface, else of the next-hop service set its route
    /// leads into, else on the interface it would leave by.
    pub(super) fn stats_slot(&self, ingress: IfIndex, dst: Option<IpAddr>) -> usize {
        let p = &self.policy;
        let set_of = |i: IfIndex| {
            p.interface(i)
                .and_then(|i| i.input_service_set.or(i.output_service_set))
        };
        let next_hop = || dst.and_then(|d| p.routes.service_hop(d)).map(|h| h.set);
        let egress = || match dst.map(|d| p.routes.lookup(d)) {
            Some(RouteResult::Forward { egress, .. }) => set_of(egress),
            _ => None,
        };
        set_of(ingress)
            .or_else(next_hop)
            .or_else(egress)
            .and_then(|ss| p.service_sets.get(ss as usize))
            .map(|ss| ss.service_iface as usize)
            .unwrap_or(self.stats.len() - 1)
    }

    /// Counts a frame on the traffic counters of stats slot `slot` (`show interfaces`) at
    /// `now`: in, then out or dropped. Frames for the L2 layer or the router itself never
    /// reach a services interface.
    pub(super) fn count_traffic(
        &mut self,
        now: Time,
        slot: usize,
        (in_len, out_len): (u64, u64),
        v: Verdict,
    ) {
        let out = match v {
            Verdict::NotIp | Verdict::Local => return,
            Verdict::Forward { .. } | Verdict::Reply { .. } => Some(out_len),
            Verdict::Drop(_) => None,
        };
        if let Some(s) = self.stats.get_mut(slot) {
            s.traffic.count(now.0, in_len, out);
        }
    }

    pub(super) fn count_malformed(&mut self, ingress: IfIndex, e: &WireError) -> Verdict {
        let st = self.stats_slot(ingress, None);
        let s = &mut self.stats[st].errors;
        match e.class() {
            ErrorClass::NonIp => {
                return Verdict::NotIp;
            }
            ErrorClass::Ip | ErrorClass::Other => {
                s.ip.total += 1;
                match e {
                    WireError::IpChecksum => s.ip.bad_checksum += 1,
                    WireError::IpVersion { .. } => s.ip.bad_version += 1,
                    WireError::IpHeaderLength => s.ip.bad_header_length += 1,
                    WireError::IpTotalLength => s.ip.bad_total_length += 1,
                    _ => s.ip.truncated += 1,
                }
            }
            ErrorClass::Tcp => {
                s.tcp.total += 1;
                match e {
                    WireError::TcpPortZero => s.tcp.port_zero += 1,
                    _ => s.tcp.header_length += 1,
                }
            }
            ErrorClass::Udp => {
                s.udp.total += 1;
                match e {
                    WireError::UdpPortZero => s.udp.port_zero += 1,
                    _ => s.udp.header_length += 1,
                }
            }
            ErrorClass::Icmp => {
                s.icmp.total += 1;
                s.icmp.header_length += 1;
            }
        }
        Verdict::Drop(DropReason::Malformed(e.class()))
    }

    /// Counts a packet whose TCP/UDP/ICMP checksum is wrong.
    pub(super) fn count_bad_checksum(&mut self, ingress: IfIndex, parsed: &Parsed) -> Verdict {
        let st = self.stats_slot(ingress, Some(parsed.key.dst));
        let s = &mut self.stats[st];
        s.drop_bad_checksum += 1;
        match parsed.key.proto {
            proto::TCP => {
                s.errors.tcp.total += 1;
                s.errors.tcp.bad_checksum += 1
            }
            proto::UDP => {
                s.errors.udp.total += 1;
                s.errors.udp.bad_checksum += 1
            }
            _ => {
                s.errors.icmp.total += 1;
                s.errors.icmp.bad_checksum += 1
            }
        }
        Verdict::Drop(DropReason::BadChecksum)
    }

    /// A TCP session must start with a SYN (without ACK): anything else is counted and
    /// dropped (`Some`: the verdict).
    pub(super) fn non_syn_first(&mut self, iface: usize, parsed: &Parsed) -> Option<Verdict> {
        use mspic_wire::tcp::{ACK, SYN};
        let L4::Tcp { flags, .. } = parsed.l4 else {
            return None;
        };
        if flags & SYN != 0 && flags & ACK == 0 {
            return None;
        }
        let s = &mut self.stats[iface];
        s.drop_tcp_non_syn_first += 1;
        s.errors.tcp.total += 1;
        s.errors.tcp.non_syn_first += 1;
        Some(Verdict::Drop(DropReason::TcpNonSynFirst))
    }

    /// Counts the firewall's verdict on a first packet.
    pub(super) fn count_rule_action(&mut self, iface: usize, action: SfwAction) {
        let s = &mut self.stats[iface];
        match action {
            SfwAction::Accept => s.rule_accepts += 1,
            SfwAction::Discard => s.rule_discards += 1,
            SfwAction::Reject => s.rule_rejects += 1,
        }
    }
}
