//! DNS over UDP: the session closes as soon as the responses to its queries are through,
//! instead of waiting for its timeout (the Junos DNS ALG closes on the response flag).
//! Queries are remembered by id (RFC 1035 §4.1.1); a response whose id matches an open
//! query answers it, and the session closes once no query is left open (a resolver may send
//! A and AAAA queries from one socket). A session without response closes on its timeout.
//! TCP DNS has no ALG state (the registry gives it none) and passes.

use mspic_flow::alg::{AlgContext, AlgError, AlgPacket, AlgSession, AlgVerdict};
use mspic_flow::session::Dir;

/// Open queries remembered per session; more are forwarded without being remembered.
const MAX_OPEN: usize = 8;

#[derive(Debug, Default)]
pub struct Dns {
    open: [u16; MAX_OPEN],
    n: usize,
}

/// The DNS header facts the ALG uses: (id, QR: is a response).
pub fn parse_header(p: &[u8]) -> Result<(u16, bool), AlgError> {
    if p.len() < 12 {
        return Err(AlgError::Malformed("dns header"));
    }
    Ok((u16::from_be_bytes([p[0], p[1]]), p[2] & 0x80 != 0))
}

impl AlgSession for Dns {
    fn opens_pinholes(&self) -> bool {
        false
    }

    fn on_packet(
        &mut self,
        ctx: &mut AlgContext<'_>,
        pkt: &mut AlgPacket<'_>,
    ) -> Result<AlgVerdict, AlgError> {
        let (id, response) = parse_header(pkt.payload())?;
        match (ctx.dir, response) {
            (Dir::I, false) => {
                if self.n < MAX_OPEN && !self.open[..self.n].contains(&id) {
                    self.open[self.n] = id;
                    self.n += 1;
                }
                Ok(AlgVerdict::Forward)
            }
            (Dir::O, true) => match self.open[..self.n].iter().position(|&q| q == id) {
                Some(i) => {
                    self.open.copy_within(i + 1..self.n, i);
                    self.n -= 1;
                    Ok(if self.n == 0 {
                        AlgVerdict::ForwardAndClose
                    } else {
                        AlgVerdict::Forward
                    })
                }
                None => Ok(AlgVerdict::Forward),
            },
            _ => Ok(AlgVerdict::Forward),
        }
    }
}
