//! ICMP and ICMPv6 (RFC 792, RFC 4443, RFC 5508): echo and other query sessions whose
//! application says `application-protocol icmp`/`icmpv6` are watched both ways (the
//! session shows `ALG: icmp` and its flows `Watch`); the ALG checks that what flows is a
//! query message and never rewrites (NAT translates the query id in the header). ICMP
//! errors never reach it: the engine admits them only for the flow they quote.

use mspic_flow::alg::{AlgContext, AlgError, AlgPacket, AlgSession, AlgVerdict};
use mspic_wire::parse::L4;

#[derive(Debug, Default)]
pub struct Icmp;

impl AlgSession for Icmp {
    fn opens_pinholes(&self) -> bool {
        false
    }

    fn on_packet(
        &mut self,
        _: &mut AlgContext<'_>,
        pkt: &mut AlgPacket<'_>,
    ) -> Result<AlgVerdict, AlgError> {
        match pkt.parsed().l4 {
            L4::IcmpQuery { .. } => Ok(AlgVerdict::Forward),
            _ => Err(AlgError::Malformed("icmp query")),
        }
    }
}
