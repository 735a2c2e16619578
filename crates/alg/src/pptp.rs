//! PPTP (RFC 2637) control connection on TCP 1723: the client inside is the PNS, the
//! server outside the PAC. Calls are set up by Outgoing-Call-Request/-Reply (the PNS
//! calls out) or Incoming-Call-Request/-Reply/-Connected (the PAC calls in); each side
//! names its Call ID, and the enhanced GRE (version 1, RFC 2637 §4.1) data of the call
//! carries the receiver's Call ID in its key. A call that is set up opens GRE pinholes
//! both ways (PAC → PNS, PNS → PAC) as children of the control connection; Call-Clear-
//! Request and Call-Disconnect-Notify end the call's state.
//!
//! Without port translation the GRE children are plain 3-tuple sessions. Under NAPT the
//! PNS Call ID must be translated (two clients behind one address may pick the same) and
//! the GRE sessions keyed by it: the engine has neither, so no GRE pinhole is opened then
//! (the control connection still passes and is inspected).
//!
//! Control messages (§2): length, message type 1, magic cookie `0x1A2B3C4D`, control
//! message type, reserved, then fixed fields; every type has a fixed length, checked.
//! Only segments starting at a message boundary are inspected and a message must be
//! complete in its segment (else [`AlgError::PartialLine`]).

use mspic_flow::alg::{AlgContext, AlgError, AlgPacket, AlgSession, AlgVerdict};
use mspic_flow::session::Dir;
use mspic_wire::proto;

use crate::line::Lines;
use crate::PINHOLE_LIFETIME_SECS;

const MAGIC: u32 = 0x1a2b_3c4d;
/// Calls tracked per control connection.
pub const MAX_CALLS: usize = 16;

const E: AlgError = AlgError::Malformed("pptp");

/// The control messages the ALG acts on (RFC 2637 §2.7–§2.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctrl {
    /// Outgoing-Call-Request: the PNS's Call ID.
    OutgoingRequest {
        call_id: u16,
    },
    /// Outgoing-Call-Reply: the PAC's Call ID, the PNS's, and the result (1: connected).
    OutgoingReply {
        call_id: u16,
        peer: u16,
        result: u8,
    },
    /// Incoming-Call-Request: the PAC's Call ID.
    IncomingRequest {
        call_id: u16,
    },
    /// Incoming-Call-Reply: the PNS's Call ID, the PAC's, and the result (1: connect).
    IncomingReply {
        call_id: u16,
        peer: u16,
        result: u8,
    },
    /// Call-Clear-Request: the PNS's Call ID.
    ClearRequest {
        call_id: u16,
    },
    /// Call-Disconnect-Notify: the PAC's Call ID.
    DisconnectNotify {
        call_id: u16,
    },
    Other(u16),
}

/// The fixed length of each control message type (RFC 2637 §2.1–§2.15).
fn length_of(t: u16) -> Option<usize> {
    Some(match t {
        1 | 2 => 156,
        3 | 4 | 5 | 12 => 16,
        6 => 20,
        7 => 168,
        8 => 32,
        9 => 220,
        10 => 24,
        11 => 28,
        13 => 148,
        14 => 40,
        15 => 24,
        _ => return None,
    })
}

/// The control message at the start of `p`: its length and content.
pub fn parse(p: &[u8]) -> Result<(usize, Ctrl), AlgError> {
    if p.len() < 12 {
        return Err(AlgError::PartialLine);
    }
    let u16at = |i: usize| u16::from_be_bytes([p[i], p[i + 1]]);
    let len = usize::from(u16at(0));
    if u16at(2) != 1 || u32::from_be_bytes([p[4], p[5], p[6], p[7]]) != MAGIC {
        return Err(E);
    }
    let t = u16at(8);
    if length_of(t) != Some(len) {
        return Err(E);
    }
    if p.len() < len {
        return Err(AlgError::PartialLine);
    }
    Ok((
        len,
        match t {
            7 => Ctrl::OutgoingRequest { call_id: u16at(12) },
            8 => Ctrl::OutgoingReply {
                call_id: u16at(12),
                peer: u16at(14),
                result: p[16],
            },
            9 => Ctrl::IncomingRequest { call_id: u16at(12) },
            10 => Ctrl::IncomingReply {
                call_id: u16at(12),
                peer: u16at(14),
                result: p[16],
            },
            12 => Ctrl::ClearRequest { call_id: u16at(12) },
            13 => Ctrl::DisconnectNotify { call_id: u16at(12) },
            t => Ctrl::Other(t),
        },
    ))
}

/// One call: the PNS's and the PAC's Call IDs (0 until known).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    pub pns: u16,
    pub pac: u16,
    pub up: bool,
}

/// The PPTP ALG state of one control connection.
#[derive(Debug, Default)]
pub struct Pptp {
    lines: [Lines; 2],
    calls: [Option<Call>; MAX_CALLS],
}

impl Pptp {
    /// The calls being tracked.
    pub fn calls(&self) -> impl Iterator<Item = Call> + '_ {
        self.calls.iter().flatten().copied()
    }

    fn add(&mut self, c: Call) {
        if let Some(s) = self.calls.iter_mut().find(|s| s.is_none()) {
            *s = Some(c);
        }
    }

    fn remove(&mut self, f: impl Fn(&Call) -> bool) {
        for s in &mut self.calls {
            if s.as_ref().is_some_and(&f) {
                *s = None;
            }
        }
    }

    /// A call is up: GRE both ways, when no port translation is in the way.
    fn up(&mut self, ctx: &mut AlgContext<'_>) -> Result<(), AlgError> {
        if ctx.nat.alloc.is_some_and(|a| a.port.is_some()) {
            return Ok(());
        }
        let (c, s) = (ctx.initiator().0, ctx.responder().0);
        ctx.expect_to_initiator(proto::GRE, (c, 0), None, PINHOLE_LIFETIME_SECS)?;
        ctx.expect_to_responder(proto::GRE, (s, 0), PINHOLE_LIFETIME_SECS)?;
        Ok(())
    }

    fn message(&mut self, ctx: &mut AlgContext<'_>, m: Ctrl) -> Result<(), AlgError> {
        match (ctx.dir, m) {
            (Dir::I, Ctrl::OutgoingRequest { call_id }) => self.add(Call {
                pns: call_id,
                pac: 0,
                up: false,
            }),
            (
                Dir::O,
                Ctrl::OutgoingReply {
                    call_id,
                    peer,
                    result,
                },
            ) => {
                let Some(c) = self
                    .calls
                    .iter_mut()
                    .flatten()
                    .find(|c| c.pns == peer && !c.up)
                else {
                    return Ok(());
                };
                if result != 1 {
                    self.remove(|c| c.pns == peer && !c.up);
                    return Ok(());
                }
                c.pac = call_id;
                c.up = true;
                self.up(ctx)?;
            }
            (Dir::O, Ctrl::IncomingRequest { call_id }) => self.add(Call {
                pns: 0,
                pac: call_id,
                up: false,
            }),
            (
                Dir::I,
                Ctrl::IncomingReply {
                    call_id,
                    peer,
                    result,
                },
            ) => {
                let Some(c) = self
                    .calls
                    .iter_mut()
                    .flatten()
                    .find(|c| c.pac == peer && !c.up)
                else {
                    return Ok(());
                };
                if result != 1 {
                    self.remove(|c| c.pac == peer && !c.up);
                    return Ok(());
                }
                c.pns = call_id;
                c.up = true;
                self.up(ctx)?;
            }
            (Dir::I, Ctrl::ClearRequest { call_id }) => self.remove(|c| c.pns == call_id),
            (Dir::O, Ctrl::DisconnectNotify { call_id }) => self.remove(|c| c.pac == call_id),
            _ => {}
        }
        Ok(())
    }
}

impl AlgSession for Pptp {
    fn on_packet(
        &mut self,
        ctx: &mut AlgContext<'_>,
        pkt: &mut AlgPacket<'_>,
    ) -> Result<AlgVerdict, AlgError> {
        let Some(seq) = pkt.tcp_seq() else {
            return Ok(AlgVerdict::Forward);
        };
        let d = ctx.dir as usize;
        if !self.lines[d].at_line_start(seq) {
            return Ok(AlgVerdict::Forward);
        }
        self.lines[d].begin(seq);
        let p = pkt.payload();
        let mut at = 0;
        while at < p.len() {
            let (len, m) = parse(&p[at..])?;
            self.message(ctx, m)?;
            at += len;
        }
        self.lines[d].begin(seq.wrapping_add(at as u32));
        Ok(AlgVerdict::Forward)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(t: u16, fields: &[u8]) -> Vec<u8> {
        let len = length_of(t).unwrap();
        let mut v = (len as u16).to_be_bytes().to_vec();
        v.extend_from_slice(&1u16.to_be_bytes());
        v.extend_from_slice(&MAGIC.to_be_bytes());
        v.extend_from_slice(&t.to_be_bytes());
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(fields);
        v.resize(len, 0);
        v
    }

    #[test]
    fn control_messages() {
        assert_eq!(
            parse(&msg(7, &[0x12, 0x34])).unwrap(),
            (168, Ctrl::OutgoingRequest { call_id: 0x1234 })
        );
        assert_eq!(
            parse(&msg(8, &[0, 9, 0x12, 0x34, 1])).unwrap().1,
            Ctrl::OutgoingReply {
                call_id: 9,
                peer: 0x1234,
                result: 1
            }
        );
        let mut bad_len = msg(8, &[]);
        bad_len[1] = 33;
        let mut bad_magic = msg(8, &[]);
        bad_magic[4] = 0;
        let mut bad_type = msg(8, &[]);
        bad_type[9] = 99;
        for bad in [bad_len, bad_magic, bad_type] {
            assert_eq!(parse(&bad), Err(E));
        }
        assert_eq!(parse(&msg(7, &[])[..100]), Err(AlgError::PartialLine));
    }
}
