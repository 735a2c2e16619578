//! IKE with its ESP (`ike-esp-nat`, UDP 500): the client inside negotiates an IPsec SA
//! with a gateway outside; once the exchange that creates the first child SA has been
//! answered (IKEv2 `IKE_AUTH`, RFC 7296 §1.2; IKEv1 Quick Mode, RFC 2409 §5.5), ESP
//! (protocol 50) is admitted both ways as children of the IKE session. Under NAPT every
//! answered child SA exchange (IKEv2 `CREATE_CHILD_SA` too, RFC 7296 §1.3) opens a gate,
//! so a rekeyed SA's new inbound SPI is paired again.
//!
//! ESP has no ports: under port translation several clients behind one address can only
//! be told apart by their SPIs, which are negotiated inside encrypted payloads. As the
//! Junos IKE and ESP ALG does, the ESP is then paired by the SPIs of its packets
//! ([`AlgContext::expect_esp`]): the client's ESP to the gateway leaves from the public
//! address, and the gateway's first ESP to the public address with an unknown SPI is the
//! client's while it is the one client with a pending negotiation with that gateway (its
//! SPI keys the client's inbound ESP from then on). NAT traversal (UDP 4500, RFC 3948)
//! needs no ALG.
//!
//! The header (RFC 7296 §3.1, RFC 2408 §3.1): initiator and responder SPIs, next
//! payload, version, exchange type, flags, message id, length (the whole message).

use mspic_flow::alg::{AlgContext, AlgError, AlgPacket, AlgSession, AlgVerdict};
use mspic_wire::proto;

use crate::PINHOLE_LIFETIME_SECS;

/// IKEv2 `IKE_AUTH` (RFC 7296 §3.1).
const IKE_AUTH: u8 = 35;
/// IKEv2 `CREATE_CHILD_SA` (RFC 7296 §1.3): a further or rekeyed child SA.
const CREATE_CHILD_SA: u8 = 36;
/// IKEv1 Quick Mode (RFC 2409 §5.5, exchange type 32).
const QUICK_MODE: u8 = 32;
/// IKEv2 flag: the message is a response.
const FLAG_RESPONSE: u8 = 0x20;
const HEADER: usize = 28;

const E: AlgError = AlgError::Malformed("ike");

/// The header of an IKE message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub initiator_spi: u64,
    pub responder_spi: u64,
    /// Major version: 1 (ISAKMP/IKEv1) or 2.
    pub major: u8,
    pub exchange: u8,
    pub flags: u8,
    pub message_id: u32,
}

/// The header of the IKE message `p` (its length field must be the datagram's).
pub fn parse(p: &[u8]) -> Result<Header, AlgError> {
    if p.len() < HEADER {
        return Err(E);
    }
    let u32at = |i: usize| u32::from_be_bytes([p[i], p[i + 1], p[i + 2], p[i + 3]]);
    let major = p[17] >> 4;
    if !(1..=2).contains(&major) || u32at(24) as usize != p.len() || p[16] == 0 {
        return Err(E);
    }
    let h = Header {
        initiator_spi: u64::from_be_bytes(p[0..8].try_into().map_err(|_| E)?),
        responder_spi: u64::from_be_bytes(p[8..16].try_into().map_err(|_| E)?),
        major,
        exchange: p[18],
        flags: p[19],
        message_id: u32at(20),
    };
    if h.initiator_spi == 0 {
        return Err(E);
    }
    Ok(h)
}

/// The IKE ALG state of one session.
#[derive(Debug, Default)]
pub struct Ike {
    /// ESP pinholes were opened.
    opened: bool,
}

impl AlgSession for Ike {
    fn on_packet(
        &mut self,
        ctx: &mut AlgContext<'_>,
        pkt: &mut AlgPacket<'_>,
    ) -> Result<AlgVerdict, AlgError> {
        let h = parse(pkt.payload())?;
        let answered = match h.major {
            2 => {
                (h.exchange == IKE_AUTH || h.exchange == CREATE_CHILD_SA)
                    && h.flags & FLAG_RESPONSE != 0
            }
            _ => h.exchange == QUICK_MODE && h.responder_spi != 0,
        };
        let from_gateway = ctx.dir == mspic_flow::session::Dir::O;
        if !answered || !from_gateway {
            return Ok(AlgVerdict::Forward);
        }
        if ctx.translates_ports() {
            // Every child SA (a rekeyed one too) brings new SPIs: a gate each.
            ctx.expect_esp(PINHOLE_LIFETIME_SECS)?;
            return Ok(AlgVerdict::Forward);
        }
        if self.opened {
            return Ok(AlgVerdict::Forward);
        }
        let (c, s) = (ctx.initiator().0, ctx.responder().0);
        ctx.expect_to_initiator(proto::ESP, (c, 0), None, PINHOLE_LIFETIME_SECS)?;
        ctx.expect_to_responder(proto::ESP, (s, 0), PINHOLE_LIFETIME_SECS)?;
        self.opened = true;
        Ok(AlgVerdict::Forward)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let mut m = vec![0u8; 40];
        m[..8].copy_from_slice(&7u64.to_be_bytes());
        m[16] = 33;
        m[17] = 0x20;
        m[18] = IKE_AUTH;
        m[19] = FLAG_RESPONSE;
        m[24..28].copy_from_slice(&40u32.to_be_bytes());
        let h = parse(&m).unwrap();
        assert_eq!((h.initiator_spi, h.major, h.exchange), (7, 2, IKE_AUTH));
        let mut bad = m.clone();
        bad[27] = 41;
        assert!(parse(&bad).is_err());
        let mut bad = m.clone();
        bad[17] = 0x30;
        assert!(parse(&bad).is_err());
        assert!(parse(&m[..20]).is_err());
        let mut bad = m;
        bad[..8].fill(0);
        assert!(parse(&bad).is_err());
    }
}
