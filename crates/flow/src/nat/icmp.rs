//! ICMP errors that follow a translated flow (RFC 5508 §4).

use mspic_wire::proto;

use super::Rewrite;

/// Rewrites an ICMP error that follows a flow with rewrite `rw`: the outer header like the
/// flow's packets, the quoted packet the opposite way (RFC 5508 §4.2). The outer source is
/// rewritten only when the error comes from the peer itself (the quoted packet's
/// destination); errors from routers on the path keep their source.
pub fn translate_icmp_error(frame: &mut [u8], p: &mspic_wire::Parsed, rw: &Rewrite) -> bool {
    use mspic_wire::rewrite;
    if rw.is_none() {
        return false;
    }
    let mspic_wire::L4::IcmpError { inner, .. } = p.l4 else {
        return false;
    };
    let quoted_icmp_query = inner.key.proto == proto::ICMP;
    if let Some((a, port)) = rw.src {
        if p.key.src == inner.key.dst {
            let _ = rewrite::set_src_addr(frame, p, a);
        }
        let _ = rewrite::set_inner_dst_addr(frame, p, a);
        if port != inner.key.dst_port && !quoted_icmp_query {
            let _ = rewrite::set_inner_dst_port(frame, p, port);
        }
    }
    if let Some((a, port)) = rw.dst {
        let _ = rewrite::set_dst_addr(frame, p, a);
        let _ = rewrite::set_inner_src_addr(frame, p, a);
        if port != inner.key.src_port {
            let _ = if quoted_icmp_query {
                rewrite::set_inner_icmp_id(frame, p, port)
            } else {
                rewrite::set_inner_src_port(frame, p, port)
            };
        }
    }
    true
}
