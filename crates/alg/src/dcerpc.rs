//! DCE RPC / MS-RPC endpoint mapper (`dce-rpc-portmap`, TCP 135): a client binds the
//! endpoint mapper interface and calls `ept_map` (opnum 3) to learn where an interface
//! listens; each protocol tower of the response names a port (floor 4) and an IPv4
//! address (floor 5). Those of the server open pinholes client → server; an address of a
//! server behind destination NAT is rewritten to the one the client sees (4 bytes, the
//! length does not change).
//!
//! - PDUs (DCE 1.1 RPC, C706 §12.6): a 16-byte common header (version 5, type, flags, data
//!   representation, fragment and auth lengths, call id); `bind`/`alter_context` (types
//!   11, 14) list presentation contexts, of which the ones for the endpoint mapper's
//!   abstract syntax are remembered; `request` (0) on such a context with opnum 3
//!   remembers its call id; the matching single-fragment `response` (2) is parsed.
//! - The response stub is NDR (C706 §14) in the PDU's integer order: entry handle (20
//!   bytes), tower count, then a conformant varying array of tower pointers and the towers
//!   (`twr_t`: length, conformance, octets). Towers themselves are little-endian (C706
//!   Appendix L): floor count, then per floor the left-hand side (protocol id and data)
//!   and right-hand side (port, address: big-endian), each with a 16-bit length.
//!
//! Only segments starting at a PDU boundary are inspected; a PDU must be complete in its
//! segment (else [`AlgError::PartialLine`]). Other PDUs and interfaces pass.

use std::net::{IpAddr, Ipv4Addr};

use mspic_flow::alg::{AlgContext, AlgError, AlgPacket, AlgParams, AlgSession, AlgVerdict};
use mspic_flow::session::Dir;
use mspic_wire::proto;

use crate::line::{Edit, Lines};
use crate::PINHOLE_LIFETIME_SECS;

/// The endpoint mapper interface `e1af8308-5d1f-11c9-91a4-08002b14a0fa` as its fields
/// (time-low, time-mid, time-high, then the 8 bytes in order).
const EPM: (u32, u16, u16, [u8; 8]) = (
    0xe1af_8308,
    0x5d1f,
    0x11c9,
    [0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa],
);

/// The endpoint mapper's port (C706 Appendix H: well-known endpoint 135).
pub const EPM_PORT: u16 = 135;

const PTYPE_REQUEST: u8 = 0;
const PTYPE_RESPONSE: u8 = 2;
const PTYPE_BIND: u8 = 11;
const PTYPE_ALTER_CONTEXT: u8 = 14;
const PFC_FIRST_FRAG: u8 = 0x01;
const PFC_LAST_FRAG: u8 = 0x02;
const OPNUM_EPT_MAP: u16 = 3;
/// Tower floor protocol identifiers (C706 Appendix I).
const FLOOR_UUID: u8 = 0x0d;
const FLOOR_TCP: u8 = 0x07;
const FLOOR_UDP: u8 = 0x08;
const FLOOR_IP: u8 = 0x09;

/// Longest PDU inspected.
pub const MAX_PDU: usize = 16 * 1024;
/// Towers looked at per response (a client asks for a few; the engine opens at most 16
/// pinholes per packet).
pub const MAX_TOWERS: usize = 8;
const MAX_FLOORS: usize = 8;
const MAX_CONTEXTS: usize = 8;
const MAX_CALLS: usize = 8;

const E: AlgError = AlgError::Malformed("dce-rpc");

/// The common header of a connection-oriented PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub ptype: u8,
    pub flags: u8,
    /// Integers little-endian (data representation, C706 §14.1).
    pub le: bool,
    pub frag_len: usize,
    pub auth_len: usize,
    pub call_id: u32,
}

/// Reads integers in a PDU's byte order.
#[derive(Debug, Clone, Copy)]
struct Rd<'a> {
    p: &'a [u8],
    le: bool,
}

impl Rd<'_> {
    fn u16(&self, at: usize) -> Result<u16, AlgError> {
        let b = self.p.get(at..at + 2).ok_or(E)?;
        let b = [b[0], b[1]];
        Ok(if self.le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }

    fn u32(&self, at: usize) -> Result<u32, AlgError> {
        let b = self.p.get(at..at + 4).ok_or(E)?;
        let b = [b[0], b[1], b[2], b[3]];
        Ok(if self.le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }
}

/// The common header at the start of `p` (C706 §12.6.3.1).
pub fn header(p: &[u8]) -> Result<Header, AlgError> {
    if p.len() < 16 {
        return Err(AlgError::PartialLine);
    }
    if p[0] != 5 || p[1] > 1 {
        return Err(E);
    }
    let le = p[4] & 0xf0 == 0x10;
    let r = Rd { p, le };
    let h = Header {
        ptype: p[2],
        flags: p[3],
        le,
        frag_len: usize::from(r.u16(8)?),
        auth_len: usize::from(r.u16(10)?),
        call_id: r.u32(12)?,
    };
    if h.frag_len < 16 || h.auth_len + 16 > h.frag_len {
        return Err(E);
    }
    Ok(h)
}

/// Where the stub ends in a PDU of header `h` (before an auth trailer, C706 §12.6.3.1).
fn stub_end(h: &Header) -> Result<usize, AlgError> {
    let trailer = if h.auth_len > 0 { h.auth_len + 8 } else { 0 };
    h.frag_len.checked_sub(trailer).ok_or(E)
}

/// The presentation context ids of a `bind`/`alter_context` PDU that name the endpoint
/// mapper (C706 §12.6.4.3: `p_cont_list_t` after max_xmit/recv_frag and assoc_group_id).
pub fn epm_contexts(p: &[u8], h: &Header) -> Result<([u16; MAX_CONTEXTS], usize), AlgError> {
    let r = Rd { p, le: h.le };
    let n = usize::from(*p.get(24).ok_or(E)?);
    let mut at = 28;
    let mut out = [0u16; MAX_CONTEXTS];
    let mut k = 0;
    for _ in 0..n {
        let id = r.u16(at)?;
        let n_syn = usize::from(*p.get(at + 2).ok_or(E)?);
        let uuid = (r.u32(at + 4)?, r.u16(at + 8)?, r.u16(at + 10)?);
        let tail = p.get(at + 12..at + 20).ok_or(E)?;
        if uuid == (EPM.0, EPM.1, EPM.2) && tail == EPM.3 && k < MAX_CONTEXTS {
            out[k] = id;
            k += 1;
        }
        at += 4 + 20 + 20 * n_syn;
        if at > h.frag_len {
            return Err(E);
        }
    }
    Ok((out, k))
}

/// An endpoint found in a tower: protocol, port, address and where the address's 4 bytes
/// are in the PDU, and the interface the tower is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TowerEp {
    pub protocol: u8,
    pub port: u16,
    pub ip: Ipv4Addr,
    pub ip_at: usize,
    /// The interface UUID of the first floor (wire form), if the tower starts with one.
    pub interface: Option<[u8; 16]>,
}

/// The endpoints of an `ept_map` response stub starting at `at` and ending at `end`.
pub fn map_response(
    p: &[u8],
    le: bool,
    at: usize,
    end: usize,
) -> Result<([Option<TowerEp>; MAX_TOWERS], usize), AlgError> {
    let p = p.get(..end).ok_or(E)?;
    let r = Rd { p, le };
    // entry_handle (20), num_towers, then the array's max count, offset, actual count.
    let mut at = at + 20 + 4;
    let (max, offset, actual) = (r.u32(at)?, r.u32(at + 4)?, r.u32(at + 8)? as usize);
    at += 12;
    if offset != 0 || actual as u32 > max || actual > MAX_TOWERS * 4 {
        return Err(E);
    }
    let refs = at;
    at += 4 * actual;
    let mut out = [None; MAX_TOWERS];
    let mut n = 0;
    for i in 0..actual {
        if r.u32(refs + 4 * i)? == 0 {
            continue;
        }
        let len = r.u32(at)? as usize;
        if r.u32(at + 4)? as usize != len || len > MAX_PDU {
            return Err(E);
        }
        at += 8;
        let t = p.get(at..at + len).ok_or(E)?;
        if let Some(ep) = tower(t, at)? {
            if n < MAX_TOWERS {
                out[n] = Some(ep);
                n += 1;
            }
        }
        at += len.div_ceil(4) * 4;
    }
    Ok((out, n))
}

/// The TCP/UDP endpoint of a protocol tower (C706 Appendix L), `base` its offset in the
/// PDU; `None` for towers of other protocols.
pub fn tower(t: &[u8], base: usize) -> Result<Option<TowerEp>, AlgError> {
    let le = Rd { p: t, le: true };
    let floors = usize::from(le.u16(0)?);
    if floors > MAX_FLOORS {
        return Err(E);
    }
    let mut at = 2;
    let (mut port, mut ip, mut interface) = (None, None, None);
    for floor in 0..floors {
        let lhs_len = usize::from(le.u16(at)?);
        let lhs = t.get(at + 2..at + 2 + lhs_len).ok_or(E)?;
        at += 2 + lhs_len;
        let rhs_len = usize::from(le.u16(at)?);
        let rhs = t.get(at + 2..at + 2 + rhs_len).ok_or(E)?;
        let rhs_at = at + 2;
        at += 2 + rhs_len;
        // Floor 1: the interface, its UUID and major version (C706 Appendix L).
        if let (0, Some(&FLOOR_UUID), Some(u)) = (floor, lhs.first(), lhs.get(1..17)) {
            interface = u.try_into().ok();
        }
        match (lhs.first(), rhs_len) {
            (Some(&FLOOR_TCP), 2) => {
                port = Some((proto::TCP, u16::from_be_bytes([rhs[0], rhs[1]])))
            }
            (Some(&FLOOR_UDP), 2) => {
                port = Some((proto::UDP, u16::from_be_bytes([rhs[0], rhs[1]])))
            }
            (Some(&FLOOR_IP), 4) => {
                ip = Some((Ipv4Addr::new(rhs[0], rhs[1], rhs[2], rhs[3]), base + rhs_at))
            }
            (Some(&(FLOOR_TCP | FLOOR_UDP | FLOOR_IP)), _) => return Err(E),
            _ => {}
        }
    }
    Ok(match (port, ip) {
        (Some((protocol, port)), Some((ip, ip_at))) => Some(TowerEp {
            protocol,
            port,
            ip,
            ip_at,
            interface,
        }),
        _ => None,
    })
}

/// The endpoint mapper ALG state of one connection.
#[derive(Debug, Default)]
pub struct Epm {
    lines: [Lines; 2],
    contexts: [Option<u16>; MAX_CONTEXTS],
    calls: [Option<u32>; MAX_CALLS],
    next_call: usize,
    /// The interfaces the application admits (`uuid`).
    params: AlgParams,
}

impl Epm {
    /// The ALG of a connection whose application admits `params`.
    pub fn new(params: AlgParams) -> Self {
        Epm {
            params,
            ..Epm::default()
        }
    }

    fn pdu(
        &mut self,
        ctx: &mut AlgContext<'_>,
        p: &[u8],
        h: &Header,
        edits: &mut Vec<Edit>,
        base: usize,
    ) -> Result<(), AlgError> {
        let single = h.flags & (PFC_FIRST_FRAG | PFC_LAST_FRAG) == PFC_FIRST_FRAG | PFC_LAST_FRAG;
        let r = Rd { p, le: h.le };
        match (ctx.dir, h.ptype) {
            (Dir::I, PTYPE_BIND | PTYPE_ALTER_CONTEXT) => {
                let (ids, n) = epm_contexts(p, h)?;
                for id in &ids[..n] {
                    if !self.contexts.contains(&Some(*id)) {
                        if let Some(s) = self.contexts.iter_mut().find(|c| c.is_none()) {
                            *s = Some(*id);
                        }
                    }
                }
            }
            (Dir::I, PTYPE_REQUEST) => {
                // alloc_hint (4), p_cont_id (2), opnum (2) (C706 §12.6.4.9); an object
                // UUID, when flagged, comes after them.
                let (cont, opnum) = (r.u16(20)?, r.u16(22)?);
                if opnum == OPNUM_EPT_MAP && self.contexts.contains(&Some(cont)) {
                    self.calls[self.next_call] = Some(h.call_id);
                    self.next_call = (self.next_call + 1) % MAX_CALLS;
                }
            }
            (Dir::O, PTYPE_RESPONSE) if single => {
                let Some(i) = self.calls.iter().position(|c| *c == Some(h.call_id)) else {
                    return Ok(());
                };
                let (eps, n) = map_response(p, h.le, 24, stub_end(h)?)?;
                self.calls[i] = None;
                let server = ctx.responder().0;
                for ep in eps[..n].iter().flatten() {
                    let ip = IpAddr::V4(ep.ip);
                    // 0.0.0.0: "the address you reached me at" (Windows answers so).
                    if (ip != server && !ep.ip.is_unspecified()) || ep.port == 0 {
                        continue;
                    }
                    if !self.params.allows_uuid(ep.interface.as_ref()) {
                        // The response goes through; that interface's port stays closed.
                        ctx.refuse_pinhole();
                        continue;
                    }
                    let told = ctx.expect_to_responder(
                        ep.protocol,
                        (server, ep.port),
                        PINHOLE_LIFETIME_SECS,
                    )?;
                    if let (IpAddr::V4(t), false) = (told.0, ep.ip.is_unspecified()) {
                        if t != ep.ip {
                            edits.push(Edit {
                                range: base + ep.ip_at..base + ep.ip_at + 4,
                                bytes: t.octets().to_vec(),
                            });
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl AlgSession for Epm {
    fn on_packet(
        &mut self,
        ctx: &mut AlgContext<'_>,
        pkt: &mut AlgPacket<'_>,
    ) -> Result<AlgVerdict, AlgError> {
        let d = ctx.dir as usize;
        let Some(s) = self.lines[d].segment(pkt)?.filter(|s| s.seq.is_some()) else {
            return Ok(AlgVerdict::Forward);
        };
        let p = pkt.payload();
        let mut edits = Vec::new();
        let mut at = 0;
        while at < p.len() {
            let h = header(&p[at..])?;
            if h.frag_len > MAX_PDU {
                return Err(E);
            }
            let end = at + h.frag_len;
            if end > p.len() {
                return Err(AlgError::PartialLine);
            }
            self.pdu(ctx, &p[at..end], &h, &mut edits, at)?;
            at = end;
        }
        self.lines[d].rewrite(pkt, s, edits, s.len)?;
        Ok(AlgVerdict::Forward)
    }
}
