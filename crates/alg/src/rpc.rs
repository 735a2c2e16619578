//! Sun RPC portmapper / rpcbind (`rpc-portmap`, UDP and TCP 111): a client asks where a
//! program listens, then connects there; the answer opens that pinhole (client → server,
//! the returned port and protocol).
//!
//! - Messages are XDR (RFC 4506) RPC calls and replies (RFC 5531 §9); over TCP each comes
//!   in a record (RFC 5531 §11: a 4-byte mark, last-fragment bit and 31-bit length).
//! - `PMAPPROC_GETPORT` (program 100000 version 2, procedure 3, RFC 1833 §3.2): the call
//!   names (prog, vers, prot, port); the reply is the port (0: not registered).
//! - `RPCBPROC_GETADDR` (versions 3 and 4, procedure 3, RFC 1833 §2.2.1): the call names
//!   (prog, vers, netid, …); the reply is a universal address `h1.h2.h3.h4.p1.p2`
//!   (RFC 5665 §5.2.3.3), rewritten when the server is behind destination NAT (the XDR
//!   string and, over TCP, the record length follow).
//!
//! Calls are remembered by xid until their reply. Other procedures pass. Over TCP only
//! segments starting at a record boundary are inspected and a record must be complete in
//! its segment (else [`AlgError::PartialLine`]); multi-fragment records pass uninspected.

use std::net::{IpAddr, Ipv4Addr};

use mspic_flow::alg::{AlgContext, AlgError, AlgPacket, AlgParams, AlgSession, AlgVerdict};
use mspic_flow::session::Dir;
use mspic_wire::proto;

use crate::line::{Edit, Lines};
use crate::PINHOLE_LIFETIME_SECS;

/// The portmapper's program number (RFC 1833 §3).
pub const PMAP_PROG: u32 = 100_000;
/// The portmapper's port (RFC 1833 §3).
pub const PMAP_PORT: u16 = 111;
/// GETPORT (v2) and GETADDR (v3, v4) share procedure number 3.
const PROC_GET: u32 = 3;
/// Longest credential or verifier body (RFC 5531 §8.2: `opaque body<400>`).
const MAX_AUTH: usize = 400;
/// Longest record inspected over TCP (portmapper messages are small).
pub const MAX_RECORD: usize = 8192;
/// Longest universal address or netid accepted.
const MAX_STRING: usize = 64;
/// Calls awaiting their reply.
const MAX_CALLS: usize = 8;

const E: AlgError = AlgError::Malformed("rpc");

/// What a GET call asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query {
    pub xid: u32,
    /// Portmapper version: 2 asks GETPORT, 3 and 4 GETADDR.
    pub version: u32,
    pub prog: u32,
    pub vers: u32,
    /// The transport asked for (TCP or UDP).
    pub protocol: u8,
}

/// A parsed message: a GET call, the reply to some call, or anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    Get(Query),
    /// A successful reply (`MSG_ACCEPTED`, `SUCCESS`): its xid and where its results are.
    Reply {
        xid: u32,
        results: usize,
    },
    Other,
}

/// An XDR reader (RFC 4506: big-endian 32-bit units, opaque data padded to 4 bytes).
struct Xdr<'a> {
    p: &'a [u8],
    at: usize,
}

impl<'a> Xdr<'a> {
    fn u32(&mut self) -> Result<u32, AlgError> {
        let b = self.p.get(self.at..self.at + 4).ok_or(E)?;
        self.at += 4;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Variable-length opaque data or a string of at most `max` bytes (RFC 4506 §4.10).
    fn opaque(&mut self, max: usize) -> Result<&'a [u8], AlgError> {
        let n = self.u32()? as usize;
        if n > max {
            return Err(E);
        }
        let padded = n.div_ceil(4) * 4;
        let b = self.p.get(self.at..self.at + padded).ok_or(E)?;
        self.at += padded;
        Ok(&b[..n])
    }
}

/// Parses one RPC message (RFC 5531 §9) as far as the portmapper ALG needs.
pub fn parse(p: &[u8]) -> Result<Msg, AlgError> {
    let mut x = Xdr { p, at: 0 };
    let xid = x.u32()?;
    match x.u32()? {
        0 => {
            // CALL: rpcvers, prog, vers, proc, cred, verf, args.
            if x.u32()? != 2 {
                return Err(E);
            }
            let (prog, version, procedure) = (x.u32()?, x.u32()?, x.u32()?);
            for _ in 0..2 {
                x.u32()?;
                x.opaque(MAX_AUTH)?;
            }
            if prog != PMAP_PROG || procedure != PROC_GET {
                return Ok(Msg::Other);
            }
            let (prog, vers) = (x.u32()?, x.u32()?);
            let protocol = match version {
                2 => match x.u32()? {
                    6 => proto::TCP,
                    17 => proto::UDP,
                    _ => return Ok(Msg::Other),
                },
                3 | 4 => match x.opaque(MAX_STRING)? {
                    b"tcp" => proto::TCP,
                    b"udp" => proto::UDP,
                    _ => return Ok(Msg::Other),
                },
                _ => return Ok(Msg::Other),
            };
            Ok(Msg::Get(Query {
                xid,
                version,
                prog,
                vers,
                protocol,
            }))
        }
        1 => {
            // REPLY: reply_stat (0: MSG_ACCEPTED), verf, accept_stat (0: SUCCESS).
            if x.u32()? != 0 {
                return Ok(Msg::Other);
            }
            x.u32()?;
            x.opaque(MAX_AUTH)?;
            if x.u32()? != 0 {
                return Ok(Msg::Other);
            }
            Ok(Msg::Reply { xid, results: x.at })
        }
        _ => Err(E),
    }
}

/// A universal address `h1.h2.h3.h4.p1.p2` (RFC 5665 §5.2.3.3).
pub fn parse_uaddr(s: &[u8]) -> Result<(Ipv4Addr, u16), AlgError> {
    let mut n = [0u8; 6];
    let mut f = s.split(|&b| b == b'.');
    for v in n.iter_mut() {
        *v = crate::parse_decimal(f.next().ok_or(E)?, 3, 255, "rpc")? as u8;
    }
    if f.next().is_some() {
        return Err(E);
    }
    Ok((
        Ipv4Addr::new(n[0], n[1], n[2], n[3]),
        u16::from_be_bytes([n[4], n[5]]),
    ))
}

pub fn format_uaddr(a: Ipv4Addr, port: u16) -> String {
    let [a, b, c, d] = a.octets();
    format!("{a}.{b}.{c}.{d}.{}.{}", port >> 8, port & 0xff)
}

/// The portmapper ALG state of one session.
#[derive(Debug)]
pub struct Portmap {
    stream: bool,
    lines: [Lines; 2],
    calls: [Option<Query>; MAX_CALLS],
    next: usize,
    /// The programs the application admits (`rpc-program-number`).
    params: AlgParams,
}

impl Portmap {
    pub fn new(transport: u8, params: AlgParams) -> Self {
        Portmap {
            stream: transport == proto::TCP,
            lines: Default::default(),
            calls: [None; MAX_CALLS],
            next: 0,
            params,
        }
    }

    /// One message at `at..end` of the payload (`mark`: the offset of its record mark over
    /// TCP); pushes its edits.
    fn message(
        &mut self,
        ctx: &mut AlgContext<'_>,
        p: &[u8],
        at: usize,
        end: usize,
        mark: Option<usize>,
        edits: &mut Vec<Edit>,
    ) -> Result<(), AlgError> {
        let m = &p[at..end];
        match (ctx.dir, parse(m)?) {
            (Dir::I, Msg::Get(q)) if !self.calls.iter().flatten().any(|c| c.xid == q.xid) => {
                self.calls[self.next] = Some(q);
                self.next = (self.next + 1) % MAX_CALLS;
            }
            (Dir::O, Msg::Reply { xid, results }) => {
                let Some(i) = self
                    .calls
                    .iter()
                    .position(|c| c.is_some_and(|c| c.xid == xid))
                else {
                    return Ok(());
                };
                let q = self.calls[i].take().ok_or(E)?;
                if !self.params.allows_program(q.prog) {
                    // The reply goes through; the program's port stays closed.
                    ctx.refuse_pinhole();
                    return Ok(());
                }
                let mut x = Xdr { p: m, at: results };
                let server = ctx.responder().0;
                if q.version == 2 {
                    // RFC 1833 §3.2: the port, 0 when the program is not registered.
                    let port = x.u32()?;
                    if port > 65535 {
                        return Err(E);
                    }
                    if port != 0 {
                        let ep = (server, port as u16);
                        ctx.expect_to_responder(q.protocol, ep, PINHOLE_LIFETIME_SECS)?;
                    }
                    return Ok(());
                }
                let s_at = at + x.at;
                let uaddr = x.opaque(MAX_STRING)?;
                if uaddr.is_empty() {
                    return Ok(()); // not registered
                }
                let (a, port) = parse_uaddr(uaddr)?;
                if IpAddr::V4(a) != server || port == 0 {
                    // Elsewhere than the server: the client's own business.
                    return Ok(());
                }
                let told =
                    ctx.expect_to_responder(q.protocol, (server, port), PINHOLE_LIFETIME_SECS)?;
                if let (IpAddr::V4(t), true) = (told.0, told.0 != server) {
                    let s = format_uaddr(t, port);
                    let old_len = 4 + uaddr.len().div_ceil(4) * 4;
                    let mut b = (s.len() as u32).to_be_bytes().to_vec();
                    b.extend_from_slice(s.as_bytes());
                    b.resize(4 + s.len().div_ceil(4) * 4, 0);
                    let delta = b.len() as i64 - old_len as i64;
                    edits.push(Edit {
                        range: s_at..s_at + old_len,
                        bytes: b,
                    });
                    if let Some(mk) = mark {
                        // RFC 5531 §11: the record's new length, last fragment.
                        let len = (end - at) as i64 + delta;
                        edits.push(Edit {
                            range: mk..mk + 4,
                            bytes: (0x8000_0000 | len as u32).to_be_bytes().to_vec(),
                        });
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The edits of a payload (a datagram, or a segment starting at a record boundary),
    /// and the offset of the next record boundary.
    fn payload(
        &mut self,
        ctx: &mut AlgContext<'_>,
        p: &[u8],
    ) -> Result<(Vec<Edit>, usize), AlgError> {
        let mut edits = Vec::new();
        if !self.stream {
            self.message(ctx, p, 0, p.len(), None, &mut edits)?;
            return Ok((edits, p.len()));
        }
        let mut at = 0;
        while at < p.len() {
            let Some(mark) = p.get(at..at + 4) else {
                return Err(AlgError::PartialLine);
            };
            let mark = u32::from_be_bytes([mark[0], mark[1], mark[2], mark[3]]);
            let len = (mark & 0x7fff_ffff) as usize;
            let end = at + 4 + len;
            if mark & 0x8000_0000 == 0 || len > MAX_RECORD {
                // A fragment of a longer record: passes, the boundary is kept.
                at = end;
                continue;
            }
            if end > p.len() {
                return Err(AlgError::PartialLine);
            }
            self.message(ctx, p, at + 4, end, Some(at), &mut edits)?;
            at = end;
        }
        Ok((edits, at))
    }
}

impl AlgSession for Portmap {
    fn on_packet(
        &mut self,
        ctx: &mut AlgContext<'_>,
        pkt: &mut AlgPacket<'_>,
    ) -> Result<AlgVerdict, AlgError> {
        let d = ctx.dir as usize;
        let Some(s) = self.lines[d].segment(pkt)? else {
            return Ok(AlgVerdict::Forward);
        };
        let (edits, next) = self.payload(ctx, pkt.payload())?;
        self.lines[d].rewrite(pkt, s, edits, next)?;
        Ok(AlgVerdict::Forward)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(version: u32, args: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [7u32, 0, 2, PMAP_PROG, version, 3, 0, 0, 0, 0] {
            v.extend_from_slice(&w.to_be_bytes());
        }
        v.extend_from_slice(args);
        v
    }

    #[test]
    fn calls_and_replies() {
        let mut args = Vec::new();
        for w in [100_003u32, 3, 17, 0] {
            args.extend_from_slice(&w.to_be_bytes());
        }
        assert_eq!(
            parse(&call(2, &args)).unwrap(),
            Msg::Get(Query {
                xid: 7,
                version: 2,
                prog: 100_003,
                vers: 3,
                protocol: proto::UDP
            })
        );
        let mut reply = Vec::new();
        for w in [7u32, 1, 0, 0, 0, 0, 2049] {
            reply.extend_from_slice(&w.to_be_bytes());
        }
        assert_eq!(
            parse(&reply).unwrap(),
            Msg::Reply {
                xid: 7,
                results: 24
            }
        );
        assert_eq!(
            parse_uaddr(b"198.51.100.7.8.1").unwrap(),
            (Ipv4Addr::new(198, 51, 100, 7), 2049)
        );
        assert_eq!(
            format_uaddr(Ipv4Addr::new(198, 51, 100, 7), 2049),
            "198.51.100.7.8.1"
        );
        for bad in [&b"1.2.3.4.5"[..], b"1.2.3.4.5.256", b"1.2.3.4.5.6.7", b""] {
            assert!(parse_uaddr(bad).is_err());
        }
    }

    #[test]
    fn hostile_messages() {
        // Truncated, a credential longer than 400 bytes, an RPC version other than 2, an
        // unknown message type.
        let mut long_cred = Vec::new();
        for w in [7u32, 0, 2, PMAP_PROG, 2, 3, 1, 10_000] {
            long_cred.extend_from_slice(&w.to_be_bytes());
        }
        let mut v3 = call(2, &[]);
        v3[8..12].copy_from_slice(&3u32.to_be_bytes());
        let mut kind = call(2, &[]);
        kind[4..8].copy_from_slice(&9u32.to_be_bytes());
        for bad in [
            &call(2, &[])[..10],
            &long_cred,
            &v3,
            &kind,
            &call(2, &[0, 0]),
        ] {
            assert!(parse(bad).is_err());
        }
    }
}
