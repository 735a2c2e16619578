//! Network address translation (filled in by the NAT work; for now, no translation).

use std::net::IpAddr;

use mspic_config as cfg;
use mspic_config::TranslationType;

/// Header rewrite applied to every packet of one flow: new source and/or destination
/// address and port (ICMP query id for ICMP).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rewrite {
    pub src: Option<(IpAddr, u16)>,
    pub dst: Option<(IpAddr, u16)>,
}

impl Rewrite {
    pub fn is_none(&self) -> bool {
        self.src.is_none() && self.dst.is_none()
    }
}

/// A session's translation: per-flow rewrites (`[I, O]`) and what `extensive` shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionNat {
    pub kind: Option<TranslationType>,
    pub rewrite: [Rewrite; 2],
}

/// Compiled NAT rules and pools.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatPolicy {}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NatPolicyError {
    #[error("NAT pool {0}: {1}")]
    Pool(String, String),
}

impl NatPolicy {
    pub fn compile(_c: &cfg::Config) -> Result<Self, NatPolicyError> {
        Ok(NatPolicy {})
    }
}

/// Rewrites an ICMP error that follows a flow with rewrite `rw`: the outer header like the
/// flow's packets, the quoted packet the opposite way (RFC 5508 §4).
pub fn translate_icmp_error(frame: &mut [u8], p: &mspic_wire::Parsed, rw: &Rewrite) {
    use mspic_wire::rewrite;
    if rw.is_none() {
        return;
    }
    let mspic_wire::L4::IcmpError { inner, .. } = p.l4 else {
        return;
    };
    if let Some((a, _)) = rw.src {
        let _ = rewrite::set_src_addr(frame, p, a);
    }
    if let Some((a, port)) = rw.dst {
        let _ = rewrite::set_dst_addr(frame, p, a);
        // The quoted packet was sent by the host we now deliver to: restore its source.
        let _ = rewrite::set_inner_src_addr(frame, p, a);
        if port != inner.key.src_port {
            let _ = rewrite::set_inner_src_port(frame, p, port);
        }
    }
    if let Some((a, port)) = rw.src {
        let _ = rewrite::set_inner_dst_addr(frame, p, a);
        if port != inner.key.dst_port {
            let _ = rewrite::set_inner_dst_port(frame, p, port);
        }
    }
}

/// The `NAT PLugin Data` part of a session snapshot.
pub fn snapshot(s: &crate::session::Session) -> Option<crate::snapshot::NatSnapshot> {
    let kind = s.nat.kind?;
    let ep = |a: IpAddr, p: u16, show: bool| crate::snapshot::Endpoint {
        addr: a,
        port: show.then_some(p),
    };
    let k = s.keys[0];
    let with_ports = !matches!(
        kind,
        TranslationType::DynamicNat44
            | TranslationType::BasicNat44
            | TranslationType::TwiceBasicNat44
            | TranslationType::TwiceDynamicNat44
            | TranslationType::Dnat44
    );
    let source = s.nat.rewrite[0]
        .src
        .map(|(a, p)| crate::snapshot::NatTranslation {
            original: ep(k.src, k.src_port, with_ports),
            translated: ep(a, p, with_ports),
        });
    let destination = s.nat.rewrite[0]
        .dst
        .map(|(a, p)| crate::snapshot::NatTranslation {
            original: ep(k.dst, k.dst_port, with_ports),
            translated: ep(a, p, with_ports),
        });
    Some(crate::snapshot::NatSnapshot {
        translation_type: kind,
        source,
        destination,
        pool: None,
    })
}

impl NatPolicy {
    /// The shard owning a packet to a pool address (see [`crate::owner::owner`]).
    pub fn pool_owner(&self, _k: &mspic_wire::FlowKey, _shards: u32) -> Option<u32> {
        None
    }
}
