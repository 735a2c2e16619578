//! RTSP (RFC 2326) on TCP 554: the client (inside) asks in `SETUP` for RTP/RTCP over UDP
//! to its ports (`Transport: RTP/AVP;unicast;client_port=a-b`, §12.39); the server answers
//! with its own (`server_port=c-d`).
//!
//! - In requests the client's ports are rewritten to mapped ones (under NAPT a pool port is
//!   reserved for each), with a pinhole from the server to each (the client may fill it
//!   first, sending from that port to the server: it then leaves from the port the server
//!   was told, as GStreamer's `rtspsrc` does to open its own firewall), and a `destination=` of
//!   the client to the address the server sees; replies get the reverse rewrite, so the
//!   client finds its own ports, and the server's ports open pinholes from the client
//!   (its RTCP receiver reports). A `source=` of the server is rewritten like the server's
//!   address (destination NAT).
//! - Interleaved transport (`RTP/AVP/TCP;interleaved=0-1`, §10.12) carries the media in
//!   the connection itself: nothing to rewrite; `$`-framed data between messages is
//!   skipped by its length.
//!
//! Only segments starting at a message boundary are inspected; a message's start line and
//! headers must be complete in their segment (else [`AlgError::PartialLine`], retransmitted
//! whole), its body (a DESCRIBE's SDP) may run on into later segments, which pass.
//! Retransmitted segments are rewritten alike ([`crate::line::Lines`]).

use std::net::{IpAddr, Ipv4Addr};
use std::ops::Range;

use mspic_flow::alg::{AlgContext, AlgError, AlgPacket, AlgSession, AlgVerdict};
use mspic_flow::session::Dir;
use mspic_wire::proto;

use crate::line::{Edit, Lines};
use crate::sip::headers;
use crate::{parse_decimal, PINHOLE_LIFETIME_SECS};

/// Longest start or header line.
pub const MAX_LINE: usize = 4096;
/// Longest header section.
pub const MAX_HEAD: usize = 16 * 1024;
/// Most header lines per message.
pub const MAX_HEADERS: usize = 64;
/// Most transport specifications handled in one `Transport` header.
pub const MAX_SPECS: usize = 4;
/// Client port mappings remembered (for the replies' reverse rewrite).
pub const MAX_MAPPINGS: usize = 16;

const E: AlgError = AlgError::Malformed("rtsp");

/// One message at the start of a stream segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unit {
    /// An RTSP message: its header lines and where it ends (may be past the segment).
    Message { headers: Range<usize>, end: usize },
    /// Interleaved binary data (`$`, channel, 16-bit length; §10.12) ending at `end`.
    Interleaved { end: usize },
}

/// Parses the unit at the start of `p`: leading CR LF skipped; the start line is
/// `Method SP Request-URI SP RTSP-Version` or `RTSP-Version SP Status-Code SP Reason`
/// (§6.1, §7.1). A head not complete in `p` is [`AlgError::PartialLine`] (malformed once
/// longer than [`MAX_HEAD`]).
pub fn parse(p: &[u8]) -> Result<Option<Unit>, AlgError> {
    let Some(start) = p.iter().position(|b| !matches!(b, b'\r' | b'\n')) else {
        return Ok(None);
    };
    if p[start] == b'$' {
        if p.len() < start + 4 {
            return Err(AlgError::PartialLine);
        }
        let len = usize::from(u16::from_be_bytes([p[start + 2], p[start + 3]]));
        return Ok(Some(Unit::Interleaved {
            end: start + 4 + len,
        }));
    }
    let mut at = start;
    let mut n = 0;
    loop {
        let Some(nl) = p[at..].iter().position(|&b| b == b'\n') else {
            return Err(if p.len() - start > MAX_HEAD || p.len() - at > MAX_LINE {
                E
            } else {
                AlgError::PartialLine
            });
        };
        let line = p[at..at + nl]
            .strip_suffix(b"\r")
            .unwrap_or(&p[at..at + nl]);
        if line.len() > MAX_LINE || at + nl - start > MAX_HEAD {
            return Err(E);
        }
        if at == start {
            start_line(line)?;
        } else if line.is_empty() {
            break;
        } else if !matches!(line[0], b' ' | b'\t') {
            let colon = line.iter().position(|&b| b == b':').ok_or(E)?;
            if colon == 0 || line[..colon].iter().any(|b| b.is_ascii_whitespace()) {
                return Err(E);
            }
            n += 1;
            if n > MAX_HEADERS {
                return Err(E);
            }
        }
        at += nl + 1;
    }
    let h_start = start + p[start..].iter().position(|&b| b == b'\n').unwrap_or(0) + 1;
    let h_end = at;
    let body_start = at + p[at..].iter().position(|&b| b == b'\n').unwrap_or(0) + 1;
    let mut len = 0;
    for h in headers(p, h_start..h_end) {
        if p[h.name.clone()].eq_ignore_ascii_case(b"Content-Length") {
            len = parse_decimal(p[h.value].trim_ascii_end(), 9, 1 << 30, "rtsp")? as usize;
        }
    }
    Ok(Some(Unit::Message {
        headers: h_start..h_end,
        end: body_start + len,
    }))
}

fn start_line(line: &[u8]) -> Result<(), AlgError> {
    if let Some(rest) = line.strip_prefix(b"RTSP/1.0 ") {
        if rest.len() < 3 || (rest.len() > 3 && rest[3] != b' ') {
            return Err(E);
        }
        parse_decimal(&rest[..3], 3, 999, "rtsp")?;
        return Ok(());
    }
    let mut f = line.split(|&b| b == b' ');
    let (Some(m), Some(uri), Some(v), None) = (f.next(), f.next(), f.next(), f.next()) else {
        return Err(E);
    };
    if m.is_empty()
        || !m.iter().all(u8::is_ascii_alphanumeric)
        || uri.is_empty()
        || v != b"RTSP/1.0"
    {
        return Err(E);
    }
    Ok(())
}

/// A `port[-port]` value and where it is.
pub type PortPair = ((u16, Option<u16>), Range<usize>);

/// The parameters of one transport specification the ALG acts on (offsets into the
/// payload).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spec {
    /// Media over the connection itself (`/TCP` lower transport or `interleaved=`).
    pub interleaved: bool,
    /// `client_port=a[-b]`: the ports and the value's range.
    pub client_port: Option<PortPair>,
    pub server_port: Option<PortPair>,
    /// `destination=` / `source=` IPv4 addresses and their ranges.
    pub destination: Option<(Ipv4Addr, Range<usize>)>,
    pub source: Option<(Ipv4Addr, Range<usize>)>,
}

/// The transport specifications of a `Transport` header value at `v` (§12.39), at most
/// [`MAX_SPECS`].
pub fn transport(p: &[u8], v: Range<usize>) -> Result<([Spec; MAX_SPECS], usize), AlgError> {
    let mut out: [Spec; MAX_SPECS] = Default::default();
    let mut n = 0;
    let mut at = v.start;
    while at < v.end {
        let end = p[at..v.end]
            .iter()
            .position(|&b| b == b',')
            .map_or(v.end, |c| at + c);
        if n == MAX_SPECS {
            return Err(E);
        }
        let s = &mut out[n];
        n += 1;
        let mut f_at = at;
        let mut first = true;
        while f_at <= end {
            let f_end = p[f_at..end]
                .iter()
                .position(|&b| b == b';')
                .map_or(end, |c| f_at + c);
            let field = f_at..f_end;
            let text = p[field.clone()].trim_ascii();
            let lead = p[field.clone()].len() - p[field.clone()].trim_ascii_start().len();
            let field = field.start + lead..field.start + lead + text.len();
            if first {
                // transport-protocol/profile[/lower-transport]
                if text.is_empty() {
                    return Err(E);
                }
                s.interleaved |=
                    text.len() >= 4 && text[text.len() - 4..].eq_ignore_ascii_case(b"/TCP");
                first = false;
            } else if let Some(eq) = text.iter().position(|&b| b == b'=') {
                let (name, val) = (&text[..eq], field.start + eq + 1..field.end);
                if name.eq_ignore_ascii_case(b"client_port") {
                    s.client_port = Some((ports(&p[val.clone()])?, val));
                } else if name.eq_ignore_ascii_case(b"server_port") {
                    s.server_port = Some((ports(&p[val.clone()])?, val));
                } else if name.eq_ignore_ascii_case(b"interleaved") {
                    s.interleaved = true;
                } else if name.eq_ignore_ascii_case(b"destination") {
                    s.destination = addr(&p[val.clone()]).map(|a| (a, val));
                } else if name.eq_ignore_ascii_case(b"source") {
                    s.source = addr(&p[val.clone()]).map(|a| (a, val));
                }
            }
            f_at = f_end + 1;
        }
        at = end + 1;
    }
    Ok((out, n))
}

/// `port [ "-" port ]` (§12.39).
fn ports(v: &[u8]) -> Result<(u16, Option<u16>), AlgError> {
    let mut f = v.split(|&b| b == b'-');
    let a = parse_decimal(f.next().unwrap_or_default(), 5, 65535, "rtsp")? as u16;
    let b = match f.next() {
        Some(b) => Some(parse_decimal(b, 5, 65535, "rtsp")? as u16),
        None => None,
    };
    if f.next().is_some() || a == 0 || b == Some(0) {
        return Err(E);
    }
    Ok((a, b))
}

fn addr(v: &[u8]) -> Option<Ipv4Addr> {
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// The RTSP ALG state of one control connection.
#[derive(Debug, Default)]
pub struct Rtsp {
    lines: [Lines; 2],
    /// Client ports as written by the client and as told to the server.
    mappings: [Option<(u16, u16)>; MAX_MAPPINGS],
    next: usize,
}

impl Rtsp {
    fn told_port(&mut self, ctx: &mut AlgContext<'_>, port: u16) -> Result<u16, AlgError> {
        if let Some((_, t)) = self.mappings.iter().flatten().find(|(p, _)| *p == port) {
            return Ok(*t);
        }
        let ep = (ctx.initiator().0, port);
        let told = ctx.expect_media_from_responder(proto::UDP, ep, PINHOLE_LIFETIME_SECS)?;
        self.mappings[self.next] = Some((port, told.1));
        self.next = (self.next + 1) % MAX_MAPPINGS;
        Ok(told.1)
    }

    fn real_port(&self, told: u16) -> u16 {
        self.mappings
            .iter()
            .flatten()
            .find(|(_, t)| *t == told)
            .map_or(told, |(p, _)| *p)
    }

    /// The edits of one Transport header value at `v`.
    fn transport(
        &mut self,
        ctx: &mut AlgContext<'_>,
        p: &[u8],
        v: Range<usize>,
        edits: &mut Vec<Edit>,
    ) -> Result<(), AlgError> {
        let (specs, n) = transport(p, v)?;
        let client = ctx.initiator().0;
        let (server, server_seen) = (ctx.responder().0, ctx.responder_seen().0);
        let seen = ctx.initiator_seen().0;
        let ip_edit =
            |a: &Ipv4Addr, r: &Range<usize>, from: IpAddr, to: IpAddr, e: &mut Vec<Edit>| {
                if IpAddr::V4(*a) == from && from != to {
                    e.push(Edit {
                        range: r.clone(),
                        bytes: to.to_string().into_bytes(),
                    });
                }
            };
        for s in &specs[..n] {
            if s.interleaved {
                continue;
            }
            match ctx.dir {
                Dir::I => {
                    if let Some((d, r)) = &s.destination {
                        if IpAddr::V4(*d) != client && !d.is_multicast() {
                            return Err(AlgError::ThirdHost);
                        }
                        ip_edit(d, r, client, seen, edits);
                    }
                    let to_client = s
                        .destination
                        .as_ref()
                        .is_none_or(|(d, _)| !d.is_multicast());
                    if let (Some(((a, b), r)), true) = (&s.client_port, to_client) {
                        let ta = self.told_port(ctx, *a)?;
                        let tb = match b {
                            Some(b) => Some(self.told_port(ctx, *b)?),
                            None => None,
                        };
                        let text = match tb {
                            Some(tb) => format!("{ta}-{tb}"),
                            None => ta.to_string(),
                        };
                        if text.as_bytes() != &p[r.clone()] {
                            edits.push(Edit {
                                range: r.clone(),
                                bytes: text.into_bytes(),
                            });
                        }
                    }
                    if let Some((a, r)) = &s.source {
                        ip_edit(a, r, server_seen, server, edits);
                    }
                }
                Dir::O => {
                    if let Some((d, r)) = &s.destination {
                        ip_edit(d, r, seen, client, edits);
                    }
                    if let Some(((a, b), r)) = &s.client_port {
                        let (ra, rb) = (self.real_port(*a), b.map(|b| self.real_port(b)));
                        let text = match rb {
                            Some(rb) => format!("{ra}-{rb}"),
                            None => ra.to_string(),
                        };
                        if text.as_bytes() != &p[r.clone()] {
                            edits.push(Edit {
                                range: r.clone(),
                                bytes: text.into_bytes(),
                            });
                        }
                    }
                    let src = s.source.as_ref().map_or(server, |(a, _)| IpAddr::V4(*a));
                    if let Some(((a, b), _)) = &s.server_port {
                        // The client's RTCP (and any RTP it sends) towards the server.
                        ctx.expect_to_responder(proto::UDP, (src, *a), PINHOLE_LIFETIME_SECS)?;
                        if let Some(b) = b {
                            ctx.expect_to_responder(proto::UDP, (src, *b), PINHOLE_LIFETIME_SECS)?;
                        }
                    }
                    if let Some((a, r)) = &s.source {
                        ip_edit(a, r, server, server_seen, edits);
                    }
                }
            }
        }
        Ok(())
    }

    /// The edits of a segment starting at a boundary, and the offset of the next boundary.
    fn segment(
        &mut self,
        ctx: &mut AlgContext<'_>,
        p: &[u8],
    ) -> Result<(Vec<Edit>, usize), AlgError> {
        let mut edits = Vec::new();
        let mut at = 0;
        while at < p.len() {
            let Some(u) = parse(&p[at..])? else {
                return Ok((edits, p.len()));
            };
            match u {
                Unit::Interleaved { end } => at += end,
                Unit::Message { headers: h, end } => {
                    let h = at + h.start..at + h.end;
                    for hd in headers(p, h) {
                        if p[hd.name.clone()].eq_ignore_ascii_case(b"Transport") {
                            self.transport(ctx, p, hd.value, &mut edits)?;
                        }
                    }
                    at += end;
                }
            }
        }
        Ok((edits, at))
    }
}

impl AlgSession for Rtsp {
    fn on_packet(
        &mut self,
        ctx: &mut AlgContext<'_>,
        pkt: &mut AlgPacket<'_>,
    ) -> Result<AlgVerdict, AlgError> {
        let d = ctx.dir as usize;
        let Some(s) = self.lines[d].segment(pkt)?.filter(|s| s.seq.is_some()) else {
            return Ok(AlgVerdict::Forward);
        };
        let (edits, next) = self.segment(ctx, pkt.payload())?;
        self.lines[d].rewrite(pkt, s, edits, next)?;
        Ok(AlgVerdict::Forward)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_specs() {
        let v = b"RTP/AVP;unicast;client_port=4588-4589;server_port=6256-6257;source=198.51.100.7, RTP/AVP/TCP;interleaved=0-1";
        let (s, n) = transport(v, 0..v.len()).unwrap();
        assert_eq!(n, 2);
        let (cp, r) = s[0].client_port.clone().unwrap();
        assert_eq!((cp, &v[r]), ((4588, Some(4589)), &b"4588-4589"[..]));
        assert_eq!(s[0].server_port.as_ref().unwrap().0, (6256, Some(6257)));
        assert_eq!(
            s[0].source.as_ref().unwrap().0,
            Ipv4Addr::new(198, 51, 100, 7)
        );
        assert!(!s[0].interleaved && s[1].interleaved);
        for bad in [
            &b"RTP/AVP;client_port=0-1"[..],
            b"RTP/AVP;client_port=99999",
            b"RTP/AVP;client_port=1-2-3",
            b"RTP/AVP;client_port=",
            b";client_port=1",
            b"a,b,c,d,e",
        ] {
            assert!(
                transport(bad, 0..bad.len()).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn units() {
        let m =
            b"SETUP rtsp://s/a RTSP/1.0\r\nCSeq: 3\r\nContent-Length: 2\r\n\r\nab$\x00\x00\x02xy";
        let Some(Unit::Message { end, .. }) = parse(m).unwrap() else {
            panic!()
        };
        assert_eq!(end, m.len() - 6);
        assert_eq!(
            parse(&m[end..]).unwrap(),
            Some(Unit::Interleaved { end: 6 })
        );
        assert_eq!(
            parse(b"SETUP rtsp://s/a RTSP/1.0\r\nCSeq"),
            Err(AlgError::PartialLine)
        );
        assert!(parse(b"SETUP rtsp://s/a HTTP/1.1\r\n\r\n").is_err());
        assert!(parse(b"RTSP/1.0 200 OK\r\nContent-Length: 9999999999\r\n\r\n").is_err());
        let mut long = b"RTSP/1.0 200 OK\r\nX: ".to_vec();
        long.resize(10_000, b'a');
        assert!(parse(&long).is_err());
    }
}
