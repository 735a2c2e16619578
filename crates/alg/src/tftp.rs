//! TFTP (RFC 1350): a read or write request goes to port 69; the server answers from a
//! new port of its own (its transfer identifier, RFC 1350 §4), to the client's port. The
//! request opens that pinhole (server address, any port → the client's endpoint as the
//! server sees it, i.e. the request's own translation), and the transfer is a child
//! session. The payload is not rewritten.

use mspic_flow::alg::{AlgContext, AlgError, AlgPacket, AlgSession, AlgVerdict};
use mspic_flow::session::Dir;
use mspic_wire::proto;

use crate::PINHOLE_LIFETIME_SECS;

/// Opcodes of the requests (RFC 1350 §5).
const RRQ: u16 = 1;
const WRQ: u16 = 2;

#[derive(Debug, Default)]
pub struct Tftp {
    opened: bool,
}

impl AlgSession for Tftp {
    fn on_packet(
        &mut self,
        ctx: &mut AlgContext<'_>,
        pkt: &mut AlgPacket<'_>,
    ) -> Result<AlgVerdict, AlgError> {
        if ctx.dir != Dir::I || self.opened {
            return Ok(AlgVerdict::Forward);
        }
        parse_request(pkt.payload())?;
        let client = ctx.initiator();
        ctx.expect_to_initiator(proto::UDP, client, None, PINHOLE_LIFETIME_SECS)?;
        self.opened = true;
        Ok(AlgVerdict::Forward)
    }
}

/// A request: opcode, then filename and mode, each a non-empty NUL-terminated string
/// (RFC 1350 §5, Figure 5-1); options may follow (RFC 2347). Returns (opcode, filename,
/// mode).
pub fn parse_request(p: &[u8]) -> Result<(u16, &[u8], &[u8]), AlgError> {
    const E: AlgError = AlgError::Malformed("tftp request");
    if p.len() < 4 {
        return Err(E);
    }
    let op = u16::from_be_bytes([p[0], p[1]]);
    if op != RRQ && op != WRQ {
        return Err(E);
    }
    let mut fields = p[2..].split(|&b| b == 0);
    let name = fields.next().filter(|f| !f.is_empty()).ok_or(E)?;
    let mode = fields.next().filter(|f| !f.is_empty()).ok_or(E)?;
    // The mode must be NUL-terminated: something (possibly empty) follows its NUL.
    if fields.next().is_none() {
        return Err(E);
    }
    let known = [&b"netascii"[..], b"octet", b"mail"];
    if !known.iter().any(|m| m.eq_ignore_ascii_case(mode)) {
        return Err(E);
    }
    Ok((op, name, mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        assert_eq!(parse_request(b"\0\x01file\0octet\0").unwrap().1, b"file");
        assert!(parse_request(b"\0\x02f\0NETASCII\0blksize\x00512\x00").is_ok());
        for bad in [
            &b"\0\x03file\0octet\0"[..],
            b"\0\x01file\0octet",
            b"\0\x01\0octet\0",
            b"\0\x01file\0bogus\0",
            b"\0\x01",
        ] {
            assert!(parse_request(bad).is_err());
        }
    }
}
