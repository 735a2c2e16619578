//! PPTP (RFC 2637) control connection on TCP 1723: the client inside is the PNS, the
//! server outside the PAC. Calls are set up by Outgoing-Call-Request/-Reply (the PNS
//! calls out) or Incoming-Call-Request/-Reply/-Connected (the PAC calls in); each side
//! names its Call ID, and the enhanced GRE (version 1, RFC 2637 §4.1) data of the call
//! carries the receiver's Call ID in its key. A call that is set up opens its GRE as
//! children of the control connection; Call-Disconnect-Notify ends the call.
//!
//! Without port translation the GRE children are plain 3-tuple sessions (one each way).
//! Under NAPT two clients behind one address may pick the same Call ID, so the PNS Call
//! ID is translated, as Linux's `nf_nat_pptp` does: kept when it is free, else another
//! one unique for (public address, PAC) ([`AlgContext::reserve_call_id`]), written in
//! the PNS's messages and written back in the PAC's (same length: the TCP checksum is
//! recomputed by the splice). The call's GRE is then one child keyed by call id both
//! ways ([`AlgContext::expect_gre_call`]), labelled with the call and closed with it.
//!
//! The Call ID fields, by message (§2.7–§2.15); the PAC's own Call ID is never touched:
//!
//! | message | direction | field translated |
//! |---|---|---|
//! | Outgoing-Call-Request (7) | PNS → PAC | Call ID |
//! | Outgoing-Call-Reply (8) | PAC → PNS | Peer's Call ID |
//! | Incoming-Call-Reply (10) | PNS → PAC | Call ID |
//! | Incoming-Call-Connected (11) | PAC → PNS | Peer's Call ID |
//! | Call-Clear-Request (12) | PNS → PAC | Call ID |
//! | WAN-Error-Notify (14) | PAC → PNS | Peer's Call ID |
//! | Set-Link-Info (15) | PAC → PNS | Peer's Call ID (§2.15 sends it PNS → PAC with the PAC's id, untouched; Linux translates it from the PAC too) |
//!
//! Call-Disconnect-Notify (13) carries the PAC's Call ID (§2.13; Linux writes the PNS's
//! there, which this ALG does not).
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

/// Offset of the first Call ID field of a control message (after the 12-byte header).
const FIRST_ID: usize = 12;
/// Offset of the Peer's Call ID of the reply messages (after their own Call ID).
const SECOND_ID: usize = 14;

/// The control messages the ALG acts on (RFC 2637 §2.7–§2.15).
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
    /// Incoming-Call-Connected: the PNS's Call ID.
    IncomingConnected {
        peer: u16,
    },
    /// Call-Clear-Request: the PNS's Call ID.
    ClearRequest {
        call_id: u16,
    },
    /// Call-Disconnect-Notify: the PAC's Call ID.
    DisconnectNotify {
        call_id: u16,
    },
    /// WAN-Error-Notify: the PNS's Call ID.
    WanError {
        peer: u16,
    },
    /// Set-Link-Info: the peer's Call ID.
    SetLinkInfo {
        peer: u16,
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
    let first = u16at(FIRST_ID);
    Ok((
        len,
        match t {
            7 => Ctrl::OutgoingRequest { call_id: first },
            8 => Ctrl::OutgoingReply {
                call_id: first,
                peer: u16at(SECOND_ID),
                result: p[16],
            },
            9 => Ctrl::IncomingRequest { call_id: first },
            10 => Ctrl::IncomingReply {
                call_id: first,
                peer: u16at(SECOND_ID),
                result: p[16],
            },
            11 => Ctrl::IncomingConnected { peer: first },
            12 => Ctrl::ClearRequest { call_id: first },
            13 => Ctrl::DisconnectNotify { call_id: first },
            14 => Ctrl::WanError { peer: first },
            15 => Ctrl::SetLinkInfo { peer: first },
            t => Ctrl::Other(t),
        },
    ))
}

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    /// The PNS asked (Outgoing-Call-Request): the PAC's Call ID is not known yet.
    OutRequested,
    /// The PAC asked (Incoming-Call-Request): the PNS's Call ID is not known yet.
    InRequested,
    /// Set up: its GRE was admitted.
    Up,
}

/// One call: the PNS's Call ID, the one the PAC was told (the same without port
/// translation), the PAC's, and where it stands (an id not known yet is 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    pub pns: u16,
    pub told: u16,
    pub pac: u16,
    pub state: CallState,
}

impl Call {
    /// The PNS's Call ID is known (and, under port translation, reserved).
    fn has_pns(&self) -> bool {
        self.state != CallState::InRequested
    }
}

/// The PPTP ALG state of one control connection.
#[derive(Debug, Default)]
pub struct Pptp {
    lines: [Lines; 2],
    calls: [Option<Call>; MAX_CALLS],
}

/// A Call ID to write at an offset of the message.
type Write = Option<(usize, u16)>;

/// The label of a call's GRE child: its translated PNS Call ID (never 0 as a label).
fn label(told: u16) -> u64 {
    1 << 32 | u64::from(told)
}

impl Pptp {
    /// The calls being tracked.
    pub fn calls(&self) -> impl Iterator<Item = Call> + '_ {
        self.calls.iter().flatten().copied()
    }

    fn find(&mut self, f: impl Fn(&Call) -> bool) -> Option<&mut Call> {
        self.calls.iter_mut().flatten().find(|c| f(c))
    }

    /// The id the PAC is told for the PNS's Call ID `pns`: reserved under port
    /// translation.
    fn tell(ctx: &mut AlgContext<'_>, pns: u16) -> Result<u16, AlgError> {
        if ctx.translates_ports() {
            ctx.reserve_call_id(pns)
        } else {
            Ok(pns)
        }
    }

    /// A call the PNS asks for with its Call ID `pns`; the id the PAC is told. A
    /// retransmitted request finds its call and is told the same.
    fn request(&mut self, ctx: &mut AlgContext<'_>, pns: u16) -> Result<u16, AlgError> {
        if let Some(c) = self.find(|c| c.state == CallState::OutRequested && c.pns == pns) {
            return Ok(c.told);
        }
        let Some(i) = self.calls.iter().position(Option::is_none) else {
            // Untracked, the PAC's answers could not be written back.
            return if ctx.translates_ports() {
                Err(AlgError::NatExhausted)
            } else {
                Ok(pns)
            };
        };
        let told = Self::tell(ctx, pns)?;
        self.calls[i] = Some(Call {
            pns,
            told,
            pac: 0,
            state: CallState::OutRequested,
        });
        Ok(told)
    }

    /// Forgets the calls `f` selects, giving back their translated ids and closing their
    /// GRE.
    fn close(&mut self, ctx: &mut AlgContext<'_>, f: impl Fn(&Call) -> bool) {
        let translate = ctx.translates_ports();
        for s in &mut self.calls {
            if let Some(c) = s.filter(|c| f(c)) {
                if translate && c.has_pns() {
                    ctx.release_call_id(c.told);
                    ctx.close_label(label(c.told));
                }
                *s = None;
            }
        }
    }

    /// Call `c` is up: its GRE both ways.
    fn up(ctx: &mut AlgContext<'_>, c: Call) -> Result<(), AlgError> {
        if ctx.translates_ports() {
            ctx.label_pinholes(label(c.told));
            let r = ctx.expect_gre_call(c.pns, c.told, c.pac, PINHOLE_LIFETIME_SECS);
            ctx.label_pinholes(0);
            return r;
        }
        let (pns, pac) = (ctx.initiator().0, ctx.responder().0);
        ctx.expect_to_initiator(proto::GRE, (pns, 0), None, PINHOLE_LIFETIME_SECS)?;
        ctx.expect_to_responder(proto::GRE, (pac, 0), PINHOLE_LIFETIME_SECS)?;
        Ok(())
    }

    /// The PNS's Call ID for the `told` one the PAC names, at `at` (unknown: unchanged).
    fn back(&mut self, at: usize, told: u16) -> Write {
        self.find(|c| c.has_pns() && c.told == told)
            .map(|c| (at, c.pns))
    }

    /// Acts on message `m` and says which Call ID field to write.
    fn message(&mut self, ctx: &mut AlgContext<'_>, m: Ctrl) -> Result<Write, AlgError> {
        use CallState::*;
        Ok(match (ctx.dir, m) {
            (Dir::I, Ctrl::OutgoingRequest { call_id }) => {
                Some((FIRST_ID, self.request(ctx, call_id)?))
            }
            (
                Dir::O,
                Ctrl::OutgoingReply {
                    call_id,
                    peer,
                    result,
                },
            ) => {
                let Some(c) = self.find(|c| {
                    c.told == peer
                        && (c.state == OutRequested || (c.state == Up && c.pac == call_id))
                }) else {
                    return Ok(None);
                };
                let (pns, fresh) = (c.pns, c.state == OutRequested);
                if fresh && result != 1 {
                    self.close(ctx, |c| c.state == OutRequested && c.told == peer);
                } else if fresh {
                    c.pac = call_id;
                    c.state = Up;
                    let c = *c;
                    Self::up(ctx, c)?;
                }
                Some((SECOND_ID, pns))
            }
            (Dir::O, Ctrl::IncomingRequest { call_id }) => {
                let known = self
                    .find(|c| c.state == InRequested && c.pac == call_id)
                    .is_some();
                let free = self.calls.iter_mut().find(|s| s.is_none());
                if let (false, Some(s)) = (known, free) {
                    *s = Some(Call {
                        pns: 0,
                        told: 0,
                        pac: call_id,
                        state: InRequested,
                    });
                }
                None
            }
            (
                Dir::I,
                Ctrl::IncomingReply {
                    call_id,
                    peer,
                    result,
                },
            ) => {
                if let Some(c) = self.find(|c| c.state == Up && c.pac == peer && c.pns == call_id) {
                    return Ok(Some((FIRST_ID, c.told)));
                }
                if self
                    .find(|c| c.state == InRequested && c.pac == peer)
                    .is_none()
                {
                    return Ok(None);
                }
                let told = Self::tell(ctx, call_id)?;
                let Some(c) = self.find(|c| c.state == InRequested && c.pac == peer) else {
                    return Ok(None);
                };
                (c.pns, c.told, c.state) = (call_id, told, Up);
                let c = *c;
                if result != 1 {
                    self.close(ctx, |c| c.state == Up && c.pac == peer && c.told == told);
                } else {
                    Self::up(ctx, c)?;
                }
                Some((FIRST_ID, told))
            }
            (Dir::I, Ctrl::ClearRequest { call_id }) => self
                .find(|c| c.has_pns() && c.pns == call_id)
                .map(|c| (FIRST_ID, c.told)),
            (Dir::O, Ctrl::IncomingConnected { peer })
            | (Dir::O, Ctrl::WanError { peer })
            | (Dir::O, Ctrl::SetLinkInfo { peer }) => self.back(FIRST_ID, peer),
            (Dir::O, Ctrl::DisconnectNotify { call_id }) => {
                self.close(ctx, |c| c.state != OutRequested && c.pac == call_id);
                None
            }
            _ => None,
        })
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
        let mut at = 0;
        while at < pkt.payload().len() {
            let (len, m) = parse(&pkt.payload()[at..])?;
            if let Some((off, id)) = self.message(ctx, m)? {
                pkt.splice(at + off..at + off + 2, &id.to_be_bytes())?;
            }
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
