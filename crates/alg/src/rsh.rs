//! rsh / rexec (BSD `rcmd`, `rexec`; `application-protocol rsh`, `shell`, `exec`): the
//! client's first bytes are the port of its stderr socket in ASCII decimal, ended by a
//! NUL (empty or `0`: no stderr connection). The server connects back from a reserved port
//! to that port: a pinhole server → client, and under NAPT the port string is rewritten to
//! the reserved pool port (its length may change; the engine corrects sequence numbers).
//! A retransmission of that first segment is rewritten the same way.

use mspic_flow::alg::{AlgContext, AlgError, AlgPacket, AlgSession, AlgVerdict, Ep};
use mspic_flow::session::Dir;
use mspic_wire::proto;

use crate::{parse_decimal, PINHOLE_LIFETIME_SECS};

#[derive(Debug, Default)]
pub struct Rsh {
    /// The first segment: its seq, the digits' length and the endpoint written instead.
    first: Option<(u32, usize, Option<Ep>)>,
}

/// The stderr port at the start of the client's data: `Some(0)` for none; `None` when the
/// NUL has not arrived yet. Returns (port, digits length).
pub fn parse_stderr_port(p: &[u8]) -> Result<Option<(u16, usize)>, AlgError> {
    let Some(nul) = p.iter().position(|&b| b == 0) else {
        if p.len() > 5 || !p.iter().all(u8::is_ascii_digit) {
            return Err(AlgError::Malformed("rsh stderr port"));
        }
        return Ok(None);
    };
    if nul == 0 {
        return Ok(Some((0, 0)));
    }
    let port = parse_decimal(&p[..nul], 5, 65535, "rsh stderr port")? as u16;
    Ok(Some((port, nul)))
}

impl AlgSession for Rsh {
    fn on_packet(
        &mut self,
        ctx: &mut AlgContext<'_>,
        pkt: &mut AlgPacket<'_>,
    ) -> Result<AlgVerdict, AlgError> {
        let Some(seq) = pkt.tcp_seq() else {
            return Ok(AlgVerdict::Forward);
        };
        if ctx.dir != Dir::I {
            return Ok(AlgVerdict::Forward);
        }
        let (digits, told) = match self.first {
            Some((s, digits, told)) if s == seq => (digits, told),
            Some(_) => return Ok(AlgVerdict::Forward),
            None => {
                let Some((port, digits)) = parse_stderr_port(pkt.payload())? else {
                    return Err(AlgError::PartialLine);
                };
                let told = if port == 0 {
                    None
                } else {
                    let ep = (ctx.initiator().0, port);
                    Some(ctx.expect_to_initiator(proto::TCP, ep, None, PINHOLE_LIFETIME_SECS)?)
                };
                self.first = Some((seq, digits, told));
                (digits, told)
            }
        };
        if let Some((_, p)) = told {
            // The same bytes when nothing is translated (then nothing changes).
            pkt.splice(0..digits, p.to_string().as_bytes())?;
        }
        Ok(AlgVerdict::Forward)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_port() {
        assert_eq!(
            parse_stderr_port(b"1023\0me\0you\0ls\0").unwrap(),
            Some((1023, 4))
        );
        assert_eq!(parse_stderr_port(b"\0me\0").unwrap(), Some((0, 0)));
        assert_eq!(parse_stderr_port(b"10").unwrap(), None);
        assert!(parse_stderr_port(b"99999\0").is_err());
        assert!(parse_stderr_port(b"123456").is_err());
        assert!(parse_stderr_port(b"12a\0").is_err());
    }
}
