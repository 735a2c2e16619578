//! Later fragments carry no ports: they follow the session their first fragment found,
//! remembered here by (source, destination, id, protocol).

use std::net::IpAddr;

use mspic_wire::parse::Parsed;

use super::{DropReason, Frame, Shard, Verdict};
use crate::dir::Dir;
use crate::nat::Rewrite;
use crate::route::IfIndex;
use crate::snapshot::FlowState;
use crate::table::FlowRef;
use crate::time::Time;

pub(super) const FRAG_SLOTS: usize = 1024;
/// Later fragments must follow their first within this time.
const FRAG_LIFETIME_NS: u64 = 30_000_000_000;

#[derive(Clone, Copy)]
pub(super) struct FragEntry {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: u8,
    slot: u32,
    session_id: u64,
    dir: Dir,
    expires: Time,
}

impl Shard {
    pub(super) fn remember_fragment(&mut self, parsed: &Parsed, id: u32, r: FlowRef, now: Time) {
        let Some(s) = self.table.get(r.slot) else {
            return;
        };
        let e = FragEntry {
            src: parsed.key.src,
            dst: parsed.key.dst,
            id,
            proto: parsed.key.proto,
            slot: r.slot,
            session_id: s.id,
            dir: r.dir,
            expires: Time(now.0.saturating_add(FRAG_LIFETIME_NS)),
        };
        let i = frag_index(&e.src, &e.dst, id);
        self.frags[i] = Some(e);
    }

    pub(super) fn later_fragment(
        &mut self,
        now: Time,
        ingress: IfIndex,
        frame: &mut Frame<'_>,
        parsed: &Parsed,
        id: u32,
    ) -> Verdict {
        let k = &parsed.key;
        let i = frag_index(&k.src, &k.dst, id);
        let hit = self.frags[i].filter(|e| {
            e.src == k.src && e.dst == k.dst && e.id == id && e.proto == k.proto && e.expires > now
        });
        let Some(e) = hit else {
            let st = self.stats_slot(ingress, Some(parsed.key.dst));
            self.stats[st].errors.ip.total += 1;
            self.stats[st].errors.ip.fragment += 1;
            return Verdict::Drop(DropReason::FragmentNoSession);
        };
        let Some(s) = self.table.get_mut(e.slot).filter(|s| s.id == e.session_id) else {
            return Verdict::Drop(DropReason::FragmentNoSession);
        };
        let d = e.dir as usize;
        s.frames[d] += 1;
        s.bytes[d] += parsed.ip_len as u64;
        s.last_seen = now;
        match s.state[d] {
            FlowState::Drop | FlowState::Reject => Verdict::Drop(DropReason::FlowDrop),
            _ => {
                let rw = s.nat.rewrite[d];
                // Replies of a DS-Lite session go back through the softwire.
                let softwire = s.softwire.filter(|_| e.dir == Dir::O);
                let iface = s.service_iface as usize;
                // Later fragments carry no ports: only addresses are rewritten.
                let addr_only = Rewrite {
                    src: rw.src.map(|(a, _)| (a, parsed.key.src_port)),
                    dst: rw.dst.map(|(a, _)| (a, parsed.key.dst_port)),
                };
                match softwire {
                    Some(sw) => {
                        self.forward_softwire(ingress, frame, parsed, &addr_only, sw, iface)
                    }
                    None => self.forward(ingress, frame, parsed, &addr_only),
                }
            }
        }
    }
}

fn frag_index(src: &IpAddr, dst: &IpAddr, id: u32) -> usize {
    let fold = |a: &IpAddr| match a {
        IpAddr::V4(v) => u32::from(*v),
        IpAddr::V6(v) => {
            let b = v.octets();
            u32::from_be_bytes([b[12], b[13], b[14], b[15]])
        }
    };
    let h = fold(src)
        .wrapping_mul(0x9E37_79B1)
        .wrapping_add(fold(dst))
        .wrapping_mul(0x85EB_CA77)
        ^ id;
    (h as usize) % FRAG_SLOTS
}
