//! talk (UDP 517) and ntalk (UDP 518): the caller's control message (CTL_MSG) to the
//! callee's talk daemon carries two socket addresses: `addr`, the TCP endpoint where the
//! caller waits for the callee's connection, and `ctl_addr`, the caller's control (UDP)
//! endpoint. Both are rewritten to what the far side sees of the caller, and an
//! invitation (`LEAVE_INVITE`, `ANNOUNCE`) opens a TCP pinhole callee → caller's `addr`.
//!
//! Layouts (4.3BSD `protocols/talkd.h` for ntalk version 1; 4.2BSD for the old talk):
//! ntalk `vers type answer pad id_num addr[16] ctl_addr[16] pid l_name[12] r_name[12]
//! r_tty[16]` (84 bytes), old talk `type l_name[9] r_name[9] filler id_num pid r_tty[16]
//! addr[16] ctl_addr[16]` (76 bytes). A socket address is `osockaddr`: family (2 bytes),
//! port, IPv4 address (network order), 8 zero bytes.

use std::net::{IpAddr, Ipv4Addr};

use mspic_flow::alg::{AlgContext, AlgError, AlgPacket, AlgSession, AlgVerdict, Ep};
use mspic_flow::session::Dir;
use mspic_wire::proto;

use crate::PINHOLE_LIFETIME_SECS;

/// Message types that leave an invitation (both protocols number them alike).
const LEAVE_INVITE: u8 = 0;
const ANNOUNCE: u8 = 3;
const AF_INET: u16 = 2;

/// Where the fields of one protocol's CTL_MSG are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub len: usize,
    pub type_at: usize,
    pub addr_at: usize,
    pub ctl_addr_at: usize,
    /// ntalk carries a protocol version (1) in its first byte.
    pub version: bool,
}

pub const NTALK: Layout = Layout {
    len: 84,
    type_at: 1,
    addr_at: 8,
    ctl_addr_at: 24,
    version: true,
};

pub const OTALK: Layout = Layout {
    len: 76,
    type_at: 0,
    addr_at: 44,
    ctl_addr_at: 60,
    version: false,
};

#[derive(Debug)]
pub struct Talk {
    layout: Layout,
}

impl Talk {
    /// The ALG for a session to UDP port `port` (517: old talk, else ntalk).
    pub fn new(port: u16) -> Self {
        Talk {
            layout: if port == 517 { OTALK } else { NTALK },
        }
    }
}

/// A parsed CTL_MSG: type, `addr`, `ctl_addr` (IPv4 endpoints; `None` when the family is
/// not AF_INET).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CtlMsg {
    pub kind: u8,
    pub addr: Option<(Ipv4Addr, u16)>,
    pub ctl_addr: Option<(Ipv4Addr, u16)>,
}

fn sockaddr(b: &[u8]) -> Option<(Ipv4Addr, u16)> {
    // Some implementations send the family in host order: accept both.
    let fam = u16::from_be_bytes([b[0], b[1]]);
    if fam != AF_INET && fam.swap_bytes() != AF_INET {
        return None;
    }
    Some((
        Ipv4Addr::new(b[4], b[5], b[6], b[7]),
        u16::from_be_bytes([b[2], b[3]]),
    ))
}

/// Parses a control message of layout `l`.
pub fn parse(p: &[u8], l: Layout) -> Result<CtlMsg, AlgError> {
    if p.len() < l.len || (l.version && p[0] != 1) {
        return Err(AlgError::Malformed("talk control message"));
    }
    Ok(CtlMsg {
        kind: p[l.type_at],
        addr: sockaddr(&p[l.addr_at..l.addr_at + 16]),
        ctl_addr: sockaddr(&p[l.ctl_addr_at..l.ctl_addr_at + 16]),
    })
}

/// The 6 bytes (port, address) of an osockaddr for `ep`.
fn port_addr(ep: Ep) -> Option<[u8; 6]> {
    let IpAddr::V4(a) = ep.0 else { return None };
    let mut b = [0u8; 6];
    b[..2].copy_from_slice(&ep.1.to_be_bytes());
    b[2..].copy_from_slice(&a.octets());
    Some(b)
}

impl AlgSession for Talk {
    fn on_packet(
        &mut self,
        ctx: &mut AlgContext<'_>,
        pkt: &mut AlgPacket<'_>,
    ) -> Result<AlgVerdict, AlgError> {
        if ctx.dir != Dir::I {
            return Ok(AlgVerdict::Forward);
        }
        let l = self.layout;
        let m = parse(pkt.payload(), l)?;
        let caller = ctx.initiator();
        let invite = matches!(m.kind, LEAVE_INVITE | ANNOUNCE);
        if let Some((a, port)) = m.addr.filter(|&(a, _)| invite && !a.is_unspecified()) {
            if IpAddr::V4(a) != caller.0 {
                return Err(AlgError::ThirdHost);
            }
            let told =
                ctx.expect_to_initiator(proto::TCP, (caller.0, port), None, PINHOLE_LIFETIME_SECS)?;
            let b = port_addr(told).ok_or(AlgError::Malformed("talk address"))?;
            pkt.splice(l.addr_at + 2..l.addr_at + 8, &b)?;
        }
        if let Some((a, port)) = m.ctl_addr.filter(|&(a, _)| IpAddr::V4(a) == caller.0) {
            let seen = ctx.initiator_seen();
            let told = if (IpAddr::V4(a), port) == caller {
                seen
            } else {
                (seen.0, port)
            };
            let b = port_addr(told).ok_or(AlgError::Malformed("talk address"))?;
            pkt.splice(l.ctl_addr_at + 2..l.ctl_addr_at + 8, &b)?;
        }
        Ok(AlgVerdict::Forward)
    }
}
