//! SIP (RFC 3261) with SDP bodies (RFC 4566), over UDP and TCP: the user agent inside is the
//! session's initiator; its messages (requests and responses) carry its private address,
//! which the far side must never see, and the media it announces must reach it.
//!
//! - **Headers.** In messages from the inside, an address:port of the agent (or the address
//!   alone where the port is implied, RFC 3261 §19.1.2: 5060) is rewritten to what the far
//!   side sees of it: in the Request-URI, Via, Contact, Route and Record-Route (the routing
//!   headers, where the port matters) the endpoint, elsewhere (From, To, Call-ID, ...) the
//!   address only. An endpoint of the agent other than the one it sends from (a Contact on
//!   another port) gets its own mapping and a pinhole from the far side. Messages from the
//!   outside get the reverse rewrite (the agent checks its Via sent-by, RFC 3261 §18.1.2,
//!   and dialogs match on the Call-ID, §12), and destination NAT of the far side is undone
//!   the same way.
//! - **SDP.** `o=` and `c=` addresses are rewritten; each `m=` stream of the agent gets a
//!   media pinhole for its RTP port and one for its RTCP port (port + 1, RFC 3550 §11,
//!   reserved together as an even pool port and the next where the pool allows, unless
//!   `a=rtcp` says otherwise, RFC 3605): from any address (a media server), and both ways,
//!   so the agent's own media leaves from the port it offered (RFC 4961). The `m=` port is
//!   rewritten to the mapped RTP port; when the mapped RTCP port is not the next one, an
//!   `a=rtcp` line says where it is. Streams announced by the far side open pinholes from
//!   the agent towards them. `Content-Length` follows the body (RFC 3261 §20.14).
//! - **Calls.** INVITE → 2xx → ACK → BYE is tracked by Call-ID, and what a message opens is
//!   labelled with its call: the end of a call (2xx to BYE, a failed INVITE) closes that
//!   call's media children and pinholes. Over UDP, once the last call ended and no
//!   registration is current, the session itself closes with the response.
//! - **Registration.** A 2xx to REGISTER opens a pinhole from the registrar to the
//!   registered contact for the granted expiry (RFC 3261 §10.2.4, §10.3 step 8), and keeps
//!   the session (its mapping) past its inactivity timeout until then.
//!
//! Over TCP, only segments starting at a message boundary are inspected and a message must
//! be complete in its segment (else [`AlgError::PartialLine`]: dropped, retransmitted, like
//! the FTP command lines; longer than [`MAX_MESSAGE`]: malformed). Retransmitted segments
//! are rewritten alike ([`crate::line::Lines`]).

use std::net::{IpAddr, Ipv4Addr};
use std::ops::Range;

use mspic_flow::alg::{AlgContext, AlgError, AlgPacket, AlgSession, AlgVerdict, Ep};
use mspic_flow::session::Dir;
use mspic_flow::Time;
use mspic_wire::proto;

use crate::line::{starts_with_ci, Edit, Lines};
use crate::{parse_decimal, sdp, PINHOLE_LIFETIME_SECS};

/// Longest message (a UDP datagram's payload at most).
pub const MAX_MESSAGE: usize = 65_535;
/// Longest start or header line.
pub const MAX_LINE: usize = 4096;
/// Most header lines per message.
pub const MAX_HEADERS: usize = 128;
/// Calls tracked per session (more: the session no longer closes by itself).
pub const MAX_CALLS: usize = 16;
/// Endpoint mappings (signalling and media) remembered per session.
pub const MAX_MAPPINGS: usize = 16;
/// The port implied by a `sip:` URI or a Via sent-by without one (RFC 3261 §19.1.2).
pub const DEFAULT_PORT: u16 = 5060;
/// Registration expiry when neither the request nor the response says (RFC 3261 §10.2.1.1
/// leaves it to the registrar; 3600 s is the usual default).
pub const DEFAULT_EXPIRES: u32 = 3600;

const E: AlgError = AlgError::Malformed("sip");

/// The methods the ALG acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Register,
    Other,
}

impl Method {
    fn of(m: &[u8]) -> Method {
        match m {
            b"INVITE" => Method::Invite,
            b"ACK" => Method::Ack,
            b"BYE" => Method::Bye,
            b"CANCEL" => Method::Cancel,
            b"REGISTER" => Method::Register,
            _ => Method::Other,
        }
    }
}

/// A request (its method) or a response (its status code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Request(Method),
    Response(u16),
}

/// Where the parts of one message are (offsets into the payload) and the header facts the
/// ALG uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: Kind,
    /// The Request-URI (empty for a response).
    pub uri: Range<usize>,
    /// The header lines, up to (not including) the empty line.
    pub headers: Range<usize>,
    pub body: Range<usize>,
    /// The value of `Content-Length`.
    pub content_length: Option<Range<usize>>,
    /// The method of `CSeq` (a response's request).
    pub cseq: Method,
    /// A hash of the Call-ID's local part (before `@`, which NAT may rewrite).
    pub call_id: u64,
    pub expires: Option<u32>,
    /// The body is SDP (`Content-Type: application/sdp`).
    pub sdp: bool,
}

/// One header: name and value (continuation lines included, RFC 3261 §7.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: Range<usize>,
    pub value: Range<usize>,
}

/// The headers in `r` of `p` (each line already checked by [`parse`]).
pub fn headers(p: &[u8], r: Range<usize>) -> impl Iterator<Item = Header> + '_ {
    let mut at = r.start;
    std::iter::from_fn(move || {
        if at >= r.end {
            return None;
        }
        let start = at;
        let mut end;
        loop {
            let nl = p[at..r.end]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(r.end, |n| at + n);
            end = if nl > at && p[nl - 1] == b'\r' {
                nl - 1
            } else {
                nl
            };
            at = nl + 1;
            if at >= r.end || !matches!(p[at], b' ' | b'\t') {
                break;
            }
        }
        let colon = p[start..end].iter().position(|&b| b == b':')? + start;
        let name_end = start + p[start..colon].trim_ascii_end().len();
        let v_start =
            colon + 1 + (p[colon + 1..end].len() - p[colon + 1..end].trim_ascii_start().len());
        Some(Header {
            name: start..name_end,
            value: v_start..end.max(v_start),
        })
    })
}

/// True when header `name` is `long` or its compact form `short` (RFC 3261 §7.3.3).
fn is(name: &[u8], long: &[u8], short: Option<u8>) -> bool {
    name.eq_ignore_ascii_case(long)
        || short.is_some_and(|s| name.len() == 1 && name[0].eq_ignore_ascii_case(&s))
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// FNV-1a of the Call-ID's part before `@`.
fn call_hash(v: &[u8]) -> u64 {
    let local = v.split(|&b| b == b'@').next().unwrap_or(v);
    local.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Parses the message at the start of `p` (leading CR LF skipped, RFC 3261 §7.5).
/// `Ok(None)`: a keep-alive (only CR LF, RFC 5626 §4.4.1). Over a stream (`stream`), a
/// message not complete in `p` is [`AlgError::PartialLine`] (malformed once longer than
/// [`MAX_MESSAGE`]); over UDP the body is the rest of the datagram when `Content-Length`
/// is absent (RFC 3261 §18.3), and a larger `Content-Length` is malformed.
pub fn parse(p: &[u8], stream: bool) -> Result<Option<Message>, AlgError> {
    let incomplete = |len: usize| {
        if stream && len <= MAX_MESSAGE {
            AlgError::PartialLine
        } else {
            E
        }
    };
    let start = p.iter().position(|b| !matches!(b, b'\r' | b'\n'));
    let Some(start) = start else {
        return Ok(None);
    };
    // Start line.
    let Some(nl) = p[start..].iter().position(|&b| b == b'\n') else {
        return Err(if p.len() - start > MAX_LINE {
            E
        } else {
            incomplete(p.len())
        });
    };
    let line = p[start..start + nl]
        .strip_suffix(b"\r")
        .unwrap_or(&p[start..start + nl]);
    if line.len() > MAX_LINE {
        return Err(E);
    }
    let (kind, uri) = start_line(line, start)?;
    // Headers (RFC 3261 §7.3).
    let h_start = start + nl + 1;
    let mut at = h_start;
    let mut n = 0;
    let h_end;
    loop {
        let Some(nl) = p[at..].iter().position(|&b| b == b'\n') else {
            return Err(if p.len() - at > MAX_LINE {
                E
            } else {
                incomplete(p.len())
            });
        };
        let line = p[at..at + nl]
            .strip_suffix(b"\r")
            .unwrap_or(&p[at..at + nl]);
        if line.len() > MAX_LINE {
            return Err(E);
        }
        if line.is_empty() {
            h_end = at;
            at += nl + 1;
            break;
        }
        if matches!(line[0], b' ' | b'\t') {
            if n == 0 {
                return Err(E);
            }
        } else {
            let colon = line.iter().position(|&b| b == b':').ok_or(E)?;
            let name = line[..colon].trim_ascii_end();
            if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
                return Err(E);
            }
            n += 1;
            if n > MAX_HEADERS {
                return Err(E);
            }
        }
        at += nl + 1;
    }
    let mut m = Message {
        kind,
        uri,
        headers: h_start..h_end,
        body: at..at,
        content_length: None,
        cseq: Method::Other,
        call_id: 0,
        expires: None,
        sdp: false,
    };
    let (mut cseq, mut call_id, mut cl) = (false, false, None);
    for h in headers(p, h_start..h_end) {
        let (name, v) = (&p[h.name.clone()], &p[h.value.clone()]);
        if is(name, b"Content-Length", Some(b'l')) {
            if m.content_length.is_some() {
                return Err(E);
            }
            cl = Some(parse_decimal(v.trim_ascii_end(), 5, MAX_MESSAGE as u32, "sip")? as usize);
            m.content_length = Some(h.value.start..h.value.start + v.trim_ascii_end().len());
        } else if is(name, b"CSeq", None) {
            // CSeq = 1*DIGIT LWS Method (RFC 3261 §20.16).
            let mut f = v
                .split(|b| b.is_ascii_whitespace())
                .filter(|f| !f.is_empty());
            let (Some(num), Some(method)) = (f.next(), f.next()) else {
                return Err(E);
            };
            parse_decimal(num, 10, u32::MAX, "sip")?;
            m.cseq = Method::of(method);
            cseq = true;
        } else if is(name, b"Call-ID", Some(b'i')) {
            if v.is_empty() {
                return Err(E);
            }
            m.call_id = call_hash(v.trim_ascii_end());
            call_id = true;
        } else if is(name, b"Expires", None) {
            m.expires = Some(parse_decimal(v.trim_ascii_end(), 10, u32::MAX, "sip")?);
        } else if is(name, b"Content-Type", Some(b'c')) {
            m.sdp = starts_with_ci(v, b"application/sdp");
        }
    }
    if !cseq || !call_id {
        return Err(E);
    }
    let body_len = match cl {
        Some(l) => l,
        None if stream => 0,
        None => p.len() - at,
    };
    if at + body_len > p.len() {
        return Err(incomplete(at + body_len));
    }
    m.body = at..at + body_len;
    m.sdp &= body_len > 0;
    Ok(Some(m))
}

/// `Method SP Request-URI SP SIP-Version` or `SIP-Version SP Status-Code SP Reason-Phrase`
/// (RFC 3261 §7.1, §7.2); `base` is the line's offset.
fn start_line(line: &[u8], base: usize) -> Result<(Kind, Range<usize>), AlgError> {
    if let Some(rest) = line.strip_prefix(b"SIP/2.0 ") {
        if rest.len() < 3 || (rest.len() > 3 && rest[3] != b' ') {
            return Err(E);
        }
        let code = parse_decimal(&rest[..3], 3, 699, "sip")? as u16;
        if code < 100 {
            return Err(E);
        }
        return Ok((Kind::Response(code), base..base));
    }
    let sp1 = line.iter().position(|&b| b == b' ').ok_or(E)?;
    let method = &line[..sp1];
    if method.is_empty() || !method.iter().all(|&b| is_token(b)) {
        return Err(E);
    }
    let rest = &line[sp1 + 1..];
    let sp2 = rest.iter().position(|&b| b == b' ').ok_or(E)?;
    if sp2 == 0 || &rest[sp2 + 1..] != b"SIP/2.0" {
        return Err(E);
    }
    let uri = base + sp1 + 1..base + sp1 + 1 + sp2;
    Ok((Kind::Request(Method::of(method)), uri))
}

/// An IPv4 address in header text: where it is, its port (`:port` right after it) and
/// whether it is a parameter value (`received=`, `maddr=`: an address, no port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrToken {
    pub ip: Ipv4Addr,
    pub at: Range<usize>,
    pub port: Option<(u16, Range<usize>)>,
    pub param: bool,
}

fn host_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')
}

/// The dotted-quad IPv4 addresses standing alone (not part of a longer name) in `r` of `p`.
pub fn addr_tokens(p: &[u8], r: Range<usize>) -> impl Iterator<Item = AddrToken> + '_ {
    let mut i = r.start;
    std::iter::from_fn(move || {
        while i < r.end {
            let start = i;
            if !p[i].is_ascii_digit() || (i > r.start && host_char(p[i - 1])) {
                i += 1;
                continue;
            }
            let mut j = i;
            while j < r.end && (p[j].is_ascii_digit() || p[j] == b'.') {
                j += 1;
            }
            i = j;
            if j < r.end && host_char(p[j]) {
                continue;
            }
            let Some(ip) = std::str::from_utf8(&p[start..j])
                .ok()
                .and_then(|t| t.parse::<Ipv4Addr>().ok())
            else {
                continue;
            };
            let mut port = None;
            if j + 1 < r.end && p[j] == b':' {
                let d = p[j + 1..r.end]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                if let Ok(v) = parse_decimal(&p[j + 1..j + 1 + d], 5, 65535, "sip") {
                    port = Some((v as u16, j + 1..j + 1 + d));
                    i = j + 1 + d;
                }
            }
            let param = start > r.start && p[start - 1] == b'=';
            return Some(AddrToken {
                ip,
                at: start..j,
                port,
                param,
            });
        }
        None
    })
}

/// The value of parameter `name` (`;name=value`) in header value `v`.
fn param<'a>(v: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    v.split(|&b| b == b';').skip(1).find_map(|kv| {
        let kv = kv.trim_ascii();
        let eq = kv.iter().position(|&b| b == b'=')?;
        kv[..eq].trim_ascii().eq_ignore_ascii_case(name).then(|| {
            let val = kv[eq + 1..].trim_ascii();
            let end = val
                .iter()
                .position(|b| !b.is_ascii_digit())
                .unwrap_or(val.len());
            &val[..end]
        })
    })
}

/// State of one call (RFC 3261 §13, §15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    Inviting,
    Answered,
    Confirmed,
    Ending,
}

/// One remembered mapping: `key` (the agent's endpoint, or a far-side media endpoint) was
/// told as `told`, with the pinhole opened for it until `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mapping {
    proto: u8,
    inside: bool,
    /// The call whose message made it ([`call_label`]): forgotten when the call ends.
    call: u64,
    key: Ep,
    told: Ep,
    until: Time,
}

/// The SIP ALG state of one session.
#[derive(Debug)]
pub struct Sip {
    transport: u8,
    lines: [Lines; 2],
    mappings: [Option<Mapping>; MAX_MAPPINGS],
    next_mapping: usize,
    calls: [Option<(u64, CallState)>; MAX_CALLS],
    /// A call could not be tracked: the session never closes by itself.
    untracked: bool,
    /// The agent's endpoint in its last REGISTER's Contact and the expiry it asked for.
    register: Option<(Ep, Option<u32>)>,
    registered_until: Option<Time>,
}

impl Sip {
    pub fn new(transport: u8) -> Self {
        Sip {
            transport,
            lines: Default::default(),
            mappings: [None; MAX_MAPPINGS],
            next_mapping: 0,
            calls: [None; MAX_CALLS],
            untracked: false,
            register: None,
            registered_until: None,
        }
    }

    /// The calls being tracked (hash of the Call-ID, state).
    pub fn calls(&self) -> impl Iterator<Item = (u64, CallState)> + '_ {
        self.calls.iter().flatten().copied()
    }

    /// Until when the agent's registration is current.
    pub fn registered_until(&self) -> Option<Time> {
        self.registered_until
    }

    fn secs(now: Time, s: u32) -> Time {
        Time(now.0.saturating_add(u64::from(s) * 1_000_000_000))
    }

    fn find(&self, proto: u8, inside: bool, key: Ep, now: Time) -> Option<Ep> {
        self.mappings
            .iter()
            .flatten()
            .find(|m| m.proto == proto && m.inside == inside && m.key == key && m.until > now)
            .map(|m| m.told)
    }

    fn remember(&mut self, m: Mapping, now: Time) {
        let slot = self
            .mappings
            .iter()
            .position(|x| x.is_none_or(|x| x.until <= now))
            .unwrap_or_else(|| {
                let i = self.next_mapping;
                self.next_mapping = (i + 1) % MAX_MAPPINGS;
                i
            });
        self.mappings[slot] = Some(m);
    }

    /// The agent's endpoint `ep` as the far side must see it: a known mapping, else a new
    /// one with its pinhole from the far side (`lifetime` seconds).
    fn map_inside(
        &mut self,
        ctx: &mut AlgContext<'_>,
        proto: u8,
        ep: Ep,
        lifetime: u32,
    ) -> Result<Ep, AlgError> {
        if let Some(t) = self.find(proto, true, ep, ctx.now) {
            return Ok(t);
        }
        let told = ctx.expect_to_initiator(proto, ep, None, lifetime)?;
        let until = Self::secs(ctx.now, lifetime);
        self.remember(
            Mapping {
                proto,
                inside: true,
                call: ctx.label(),
                key: ep,
                told,
                until,
            },
            ctx.now,
        );
        Ok(told)
    }

    /// Remembers that the agent's `ep` was told as `told` (pinholes opened until
    /// `lifetime` seconds from now).
    fn remember_inside(&mut self, ctx: &AlgContext<'_>, proto: u8, ep: Ep, told: Ep, life: u32) {
        let m = Mapping {
            proto,
            inside: true,
            call: ctx.label(),
            key: ep,
            told,
            until: Self::secs(ctx.now, life),
        };
        self.remember(m, ctx.now);
    }

    /// A media endpoint `ep` of the agent: a known mapping, else a new one whose pinhole
    /// admits the far side's media from any address and the agent's own first.
    fn map_media(&mut self, ctx: &mut AlgContext<'_>, ep: Ep) -> Result<Ep, AlgError> {
        if let Some(t) = self.find(proto::UDP, true, ep, ctx.now) {
            return Ok(t);
        }
        let told = ctx.expect_media_at_initiator(proto::UDP, ep, PINHOLE_LIFETIME_SECS)?;
        self.remember_inside(ctx, proto::UDP, ep, told, PINHOLE_LIFETIME_SECS);
        Ok(told)
    }

    /// An RTP port `ep` of the agent and its implied RTCP port (`+ 1`): mapped together
    /// to an even pool port and the next one where the pool allows (RFC 3550 §11).
    fn map_media_pair(&mut self, ctx: &mut AlgContext<'_>, ep: Ep) -> Result<(Ep, Ep), AlgError> {
        let rtcp = (ep.0, ep.1.wrapping_add(1));
        let known = (
            self.find(proto::UDP, true, ep, ctx.now),
            self.find(proto::UDP, true, rtcp, ctx.now),
        );
        match known {
            (Some(a), Some(b)) => return Ok((a, b)),
            (None, None) => {}
            _ => return Ok((self.map_media(ctx, ep)?, self.map_media(ctx, rtcp)?)),
        }
        let (a, b) = ctx.expect_media_pair_at_initiator(proto::UDP, ep, PINHOLE_LIFETIME_SECS)?;
        self.remember_inside(ctx, proto::UDP, ep, a, PINHOLE_LIFETIME_SECS);
        self.remember_inside(ctx, proto::UDP, rtcp, b, PINHOLE_LIFETIME_SECS);
        Ok((a, b))
    }

    /// A far-side media endpoint `ep`: a pinhole from the agent towards it (once per
    /// pinhole lifetime).
    fn map_outside(&mut self, ctx: &mut AlgContext<'_>, ep: Ep) -> Result<(), AlgError> {
        if self.find(proto::UDP, false, ep, ctx.now).is_some() {
            return Ok(());
        }
        let told = ctx.expect_to_responder(proto::UDP, ep, PINHOLE_LIFETIME_SECS)?;
        let until = Self::secs(ctx.now, PINHOLE_LIFETIME_SECS);
        self.remember(
            Mapping {
                proto: proto::UDP,
                inside: false,
                call: ctx.label(),
                key: ep,
                told,
                until,
            },
            ctx.now,
        );
        Ok(())
    }

    /// The endpoint translations of this direction: (as written, as to be written).
    fn pairs(&self, ctx: &AlgContext<'_>) -> Pairs {
        let mut p = Pairs::default();
        let mut add = |inside: Ep, outside: Ep| {
            if inside != outside && p.n < p.v.len() {
                p.v[p.n] = match ctx.dir {
                    Dir::I => (inside, outside),
                    Dir::O => (outside, inside),
                };
                p.n += 1;
            }
        };
        add(ctx.initiator(), ctx.initiator_seen());
        add(ctx.responder_seen(), ctx.responder());
        for m in self.mappings.iter().flatten() {
            if m.inside && m.until > ctx.now {
                add(m.key, m.told);
            }
        }
        p
    }

    fn call(&mut self, id: u64) -> Option<&mut CallState> {
        self.calls
            .iter_mut()
            .flatten()
            .find(|(c, _)| *c == id)
            .map(|(_, s)| s)
    }

    /// The call `id` is over: forgotten, with its mappings; its media children and
    /// pinholes go once this message is through.
    fn end_call(&mut self, ctx: &mut AlgContext<'_>, id: u64) {
        for c in &mut self.calls {
            if c.is_some_and(|(x, _)| x == id) {
                *c = None;
            }
        }
        let label = call_label(id);
        for m in &mut self.mappings {
            if m.is_some_and(|m| m.call == label) {
                *m = None;
            }
        }
        ctx.close_label(label);
    }

    /// Follows the call and registration state; true when the session may close now.
    fn track(
        &mut self,
        ctx: &mut AlgContext<'_>,
        p: &[u8],
        m: &Message,
        contact: Option<Ep>,
    ) -> Result<bool, AlgError> {
        match m.kind {
            Kind::Request(Method::Invite) if self.call(m.call_id).is_none() => {
                match self.calls.iter_mut().find(|c| c.is_none()) {
                    Some(c) => *c = Some((m.call_id, CallState::Inviting)),
                    None => self.untracked = true,
                }
            }
            Kind::Request(Method::Ack) => {
                if let Some(s) = self.call(m.call_id) {
                    *s = CallState::Confirmed;
                }
            }
            Kind::Request(Method::Bye | Method::Cancel) => {
                if let Some(s) = self.call(m.call_id) {
                    *s = CallState::Ending;
                }
            }
            Kind::Request(Method::Register) if ctx.dir == Dir::I => {
                let asked = contact_expires(p, m).or(m.expires);
                self.register = contact.map(|c| (c, asked));
            }
            Kind::Response(code) if code >= 200 => match m.cseq {
                Method::Invite if code < 300 => {
                    if let Some(s) = self.call(m.call_id) {
                        if *s == CallState::Inviting {
                            *s = CallState::Answered;
                        }
                    }
                }
                // A failed INVITE ends a call not yet answered (or cancelled); a failed
                // re-INVITE leaves the session as it was (RFC 3261 §14.1).
                Method::Invite => {
                    let s = self.call(m.call_id).copied();
                    if matches!(s, Some(CallState::Inviting | CallState::Ending)) {
                        self.end_call(ctx, m.call_id);
                    }
                }
                Method::Bye => {
                    let known = self.call(m.call_id).is_some();
                    self.end_call(ctx, m.call_id);
                    return Ok(known && code < 300 && self.may_close(ctx.now));
                }
                Method::Register if ctx.dir == Dir::O && code < 300 => {
                    if let Some((ep, asked)) = self.register {
                        let granted = contact_expires(p, m)
                            .or(m.expires)
                            .or(asked)
                            .unwrap_or(DEFAULT_EXPIRES);
                        if granted == 0 {
                            self.registered_until = None;
                            ctx.keep_session_until(ctx.now);
                        } else {
                            // RFC 3261 §10.3: requests for the address-of-record go to
                            // the contact until the binding expires. A contact on the
                            // agent's own endpoint is the session's mapping; another one
                            // got its pinhole with its mapping (for the asked expiry).
                            if ep == ctx.initiator() {
                                ctx.expect_to_initiator(self.transport, ep, None, granted)?;
                            }
                            let until = Self::secs(ctx.now, granted);
                            self.registered_until = Some(until);
                            // The session, and the mapping the registrar knows the contact
                            // by, last as long as the binding.
                            ctx.keep_session_until(until);
                        }
                    }
                }
                _ => {}
            },
            _ => {}
        }
        Ok(false)
    }

    fn may_close(&self, now: Time) -> bool {
        self.transport == proto::UDP
            && !self.untracked
            && self.calls.iter().all(Option::is_none)
            && self.registered_until.is_none_or(|t| t <= now)
    }

    /// Rewrites one message of payload `p` (`m`, with payload offsets), opening the
    /// pinholes it announces; pushes the edits. Returns whether the session may close
    /// after it.
    fn message(
        &mut self,
        ctx: &mut AlgContext<'_>,
        p: &[u8],
        m: &Message,
        edits: &mut Vec<Edit>,
    ) -> Result<bool, AlgError> {
        let first = edits.len();
        let mut contact = None;
        // What this message opens belongs to its call (RFC 3261 §12: a dialog is named by
        // its Call-ID, among others).
        ctx.label_pinholes(call_label(m.call_id));
        // A registered contact of the agent is mapped for the registration's expiry.
        let contact_life = match m.kind {
            Kind::Request(Method::Register) => contact_expires(p, m)
                .or(m.expires)
                .unwrap_or(DEFAULT_EXPIRES)
                .max(PINHOLE_LIFETIME_SECS),
            _ => PINHOLE_LIFETIME_SECS,
        };
        if !m.uri.is_empty() {
            self.rewrite(ctx, p, m.uri.clone(), true, None, edits)?;
        }
        for h in headers(p, m.headers.clone()) {
            let name = &p[h.name.clone()];
            let (ports, learn) = if is(name, b"Via", Some(b'v')) {
                (true, Some(PINHOLE_LIFETIME_SECS))
            } else if is(name, b"Contact", Some(b'm')) {
                if contact.is_none() && ctx.dir == Dir::I {
                    contact = addr_tokens(p, h.value.clone())
                        .find(|t| !t.param && IpAddr::V4(t.ip) == ctx.initiator().0)
                        .map(|t| (IpAddr::V4(t.ip), t.port.map_or(DEFAULT_PORT, |x| x.0)));
                }
                (true, Some(contact_life))
            } else if is(name, b"Route", None) || is(name, b"Record-Route", None) {
                (true, None)
            } else if is(name, b"Content-Length", Some(b'l')) {
                continue;
            } else {
                (false, None)
            };
            self.rewrite(ctx, p, h.value.clone(), ports, learn, edits)?;
        }
        let body_first = edits.len();
        if m.sdp {
            self.sdp(ctx, p, m.body.clone(), edits)?;
        }
        let delta: i64 = edits[body_first..]
            .iter()
            .map(|e| e.bytes.len() as i64 - e.range.len() as i64)
            .sum();
        if delta != 0 {
            if let Some(cl) = &m.content_length {
                let n = m.body.len() as i64 + delta;
                edits.push(Edit {
                    range: cl.clone(),
                    bytes: n.to_string().into_bytes(),
                });
            }
        }
        edits[first..].sort_by_key(|e| e.range.start);
        self.track(ctx, p, m, contact)
    }

    /// Rewrites the addresses in `r` of `p`: endpoints when `ports` (learning a mapping for
    /// an unknown endpoint of the agent, for `learn` seconds), else addresses only.
    fn rewrite(
        &mut self,
        ctx: &mut AlgContext<'_>,
        p: &[u8],
        r: Range<usize>,
        ports: bool,
        learn: Option<u32>,
        edits: &mut Vec<Edit>,
    ) -> Result<(), AlgError> {
        for t in addr_tokens(p, r) {
            let ip = IpAddr::V4(t.ip);
            let mut pairs = self.pairs(ctx);
            if ports && !t.param {
                let port = t.port.as_ref().map_or(DEFAULT_PORT, |x| x.0);
                let mut to = pairs.endpoint((ip, port));
                let agent = ip == ctx.initiator().0;
                if let (None, Some(life), Dir::I, true) = (to, learn, ctx.dir, agent) {
                    let proto = self.transport;
                    let told = self.map_inside(ctx, proto, (ip, port), life)?;
                    to = (told != (ip, port)).then_some(told);
                    pairs = self.pairs(ctx);
                }
                if let Some(to) = to {
                    let end = t.port.as_ref().map_or(t.at.end, |x| x.1.end);
                    let text = if t.port.is_some() || to.1 != DEFAULT_PORT {
                        format!("{}:{}", to.0, to.1)
                    } else {
                        to.0.to_string()
                    };
                    edits.push(Edit {
                        range: t.at.start..end,
                        bytes: text.into_bytes(),
                    });
                    continue;
                }
            }
            if let Some(a) = pairs.address(ip) {
                edits.push(Edit {
                    range: t.at,
                    bytes: a.to_string().into_bytes(),
                });
            }
        }
        Ok(())
    }

    /// The SDP body at `r`: addresses rewritten, media pinholes opened, the agent's ports
    /// rewritten to their mappings.
    fn sdp(
        &mut self,
        ctx: &mut AlgContext<'_>,
        p: &[u8],
        r: Range<usize>,
        edits: &mut Vec<Edit>,
    ) -> Result<(), AlgError> {
        let body = &p[r.clone()];
        let s = sdp::parse(body)?;
        let at = |x: &Range<usize>| r.start + x.start..r.start + x.end;
        let pairs = self.pairs(ctx);
        let addr = |a: &Option<sdp::Addr>, edits: &mut Vec<Edit>| {
            if let Some(to) = a
                .as_ref()
                .and_then(|a| a.ip.and_then(|ip| pairs.address(ip).map(|t| (t, a))))
            {
                edits.push(Edit {
                    range: at(&to.1.at),
                    bytes: to.0.to_string().into_bytes(),
                });
            }
        };
        addr(&s.origin, edits);
        addr(&s.conn, edits);
        for m in s.media() {
            addr(&m.conn, edits);
            if let Some(rt) = &m.rtcp {
                addr(&rt.addr, edits);
            }
        }
        let agent = ctx.initiator().0;
        for (i, m) in s.media().iter().enumerate() {
            let Some(conn) = s.conn_of(i) else { continue };
            if m.port == 0 || conn.is_unspecified() || conn.is_multicast() {
                continue; // disabled stream, hold (RFC 3264 §8.4), multicast
            }
            let rtcp_ep = match &m.rtcp {
                Some(rt) => rt
                    .addr
                    .as_ref()
                    .and_then(|a| a.ip)
                    .map_or((conn, rt.port), |a| (a, rt.port)),
                None => (conn, m.port.wrapping_add(1)),
            };
            let rtcp_ep = (rtcp_ep.1 != 0).then_some(rtcp_ep);
            match ctx.dir {
                Dir::I if conn == agent => {
                    let implied = m.rtcp.is_none() && rtcp_ep.is_some();
                    let (rtp, pair) = if implied {
                        let (a, b) = self.map_media_pair(ctx, (conn, m.port))?;
                        (a, Some(b))
                    } else {
                        (self.map_media(ctx, (conn, m.port))?, None)
                    };
                    if rtp.1 != m.port {
                        edits.push(Edit {
                            range: at(&m.port_at),
                            bytes: rtp.1.to_string().into_bytes(),
                        });
                    }
                    let Some(rtcp_ep) = rtcp_ep.filter(|e| e.0 == agent) else {
                        continue;
                    };
                    let rtcp = match pair {
                        Some(b) => b,
                        None => self.map_media(ctx, rtcp_ep)?,
                    };
                    match &m.rtcp {
                        Some(rt) if rtcp.1 != rt.port => edits.push(Edit {
                            range: at(&rt.port_at),
                            bytes: rtcp.1.to_string().into_bytes(),
                        }),
                        None if rtcp.1 != rtp.1.wrapping_add(1) => {
                            // RFC 3605 §2.1: the RTCP port is not the implied one.
                            let eol = if s.crlf { "\r\n" } else { "\n" };
                            let text = if body[..m.end].ends_with(b"\n") {
                                format!("a=rtcp:{}{eol}", rtcp.1)
                            } else {
                                format!("{eol}a=rtcp:{}", rtcp.1)
                            };
                            edits.push(Edit {
                                range: at(&(m.end..m.end)),
                                bytes: text.into_bytes(),
                            });
                        }
                        _ => {}
                    }
                }
                Dir::O if conn != ctx.initiator_seen().0 => {
                    self.map_outside(ctx, (conn, m.port))?;
                    if let Some(e) = rtcp_ep {
                        self.map_outside(ctx, e)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Every message of a payload: (edits, whether the session may close).
    fn payload(
        &mut self,
        ctx: &mut AlgContext<'_>,
        p: &[u8],
        stream: bool,
    ) -> Result<(Vec<Edit>, bool), AlgError> {
        let mut edits = Vec::new();
        let mut close = false;
        let mut at = 0;
        while at < p.len() {
            let Some(m) = parse(&p[at..], stream)? else {
                break;
            };
            let m = shift(m, at);
            close = self.message(ctx, p, &m, &mut edits)?;
            if !stream {
                break;
            }
            at = m.body.end;
        }
        Ok((edits, close))
    }
}

/// The pinhole label of the call with Call-ID hash `id` (never 0, which means none).
fn call_label(id: u64) -> u64 {
    id.max(1)
}

/// `m` parsed at offset `by` of the payload, with payload offsets.
fn shift(mut m: Message, by: usize) -> Message {
    let s = |r: &mut Range<usize>| *r = r.start + by..r.end + by;
    s(&mut m.uri);
    s(&mut m.headers);
    s(&mut m.body);
    if let Some(c) = &mut m.content_length {
        s(c);
    }
    m
}

/// The `expires` parameter of the first Contact (RFC 3261 §10.2.1.1).
fn contact_expires(p: &[u8], m: &Message) -> Option<u32> {
    headers(p, m.headers.clone())
        .filter(|h| is(&p[h.name.clone()], b"Contact", Some(b'm')))
        .find_map(|h| param(&p[h.value.clone()], b"expires"))
        .and_then(|v| parse_decimal(v, 10, u32::MAX, "sip").ok())
}

/// Endpoint translations of one direction.
#[derive(Debug)]
struct Pairs {
    v: [(Ep, Ep); 2 + MAX_MAPPINGS],
    n: usize,
}

impl Default for Pairs {
    fn default() -> Self {
        let none = (
            (IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            (IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        );
        Pairs {
            v: [none; 2 + MAX_MAPPINGS],
            n: 0,
        }
    }
}

impl Pairs {
    fn endpoint(&self, ep: Ep) -> Option<Ep> {
        self.v[..self.n]
            .iter()
            .find(|(f, _)| *f == ep)
            .map(|(_, t)| *t)
    }

    fn address(&self, ip: IpAddr) -> Option<IpAddr> {
        self.v[..self.n]
            .iter()
            .find(|(f, t)| f.0 == ip && t.0 != ip)
            .map(|(_, t)| t.0)
    }
}

impl Default for Sip {
    fn default() -> Self {
        Sip::new(proto::UDP)
    }
}

impl AlgSession for Sip {
    fn on_packet(
        &mut self,
        ctx: &mut AlgContext<'_>,
        pkt: &mut AlgPacket<'_>,
    ) -> Result<AlgVerdict, AlgError> {
        let d = ctx.dir as usize;
        let Some(s) = self.lines[d].segment(pkt)? else {
            return Ok(AlgVerdict::Forward);
        };
        let (edits, close) = self.payload(ctx, pkt.payload(), s.seq.is_some())?;
        self.lines[d].rewrite(pkt, s, edits, s.len)?;
        Ok(if close {
            AlgVerdict::ForwardAndClose
        } else {
            AlgVerdict::Forward
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &[u8] = b"INVITE sip:bob@198.51.100.7 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK776asdhds\r\nMax-Forwards: 70\r\nTo: Bob <sip:bob@198.51.100.7>\r\nFrom: Alice <sip:alice@10.0.0.2>;tag=1928301774\r\nCall-ID: a84b4c76e66710@10.0.0.2\r\nCSeq: 314159 INVITE\r\nContact: <sip:alice@10.0.0.2>\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n";

    #[test]
    fn message_parts() {
        let m = parse(INVITE, false).unwrap().unwrap();
        assert_eq!(m.kind, Kind::Request(Method::Invite));
        assert_eq!(&INVITE[m.uri.clone()], b"sip:bob@198.51.100.7");
        assert_eq!(&INVITE[m.body.clone()], b"v=0\n");
        assert_eq!(&INVITE[m.content_length.clone().unwrap()], b"4");
        assert!(m.sdp);
        assert_eq!(m.cseq, Method::Invite);
        assert_eq!(m.call_id, call_hash(b"a84b4c76e66710@203.0.113.128"));
        let names: Vec<_> = headers(INVITE, m.headers.clone())
            .map(|h| String::from_utf8_lossy(&INVITE[h.name]).into_owned())
            .collect();
        assert_eq!(names.len(), 9);
        assert_eq!(names[0], "Via");
    }

    #[test]
    fn refused_and_partial() {
        assert_eq!(parse(b"\r\n\r\n", false), Ok(None));
        for bad in [
            &b"INVITE sip:x SIP/3.0\r\nCSeq: 1 INVITE\r\nCall-ID: a\r\n\r\n"[..],
            b"SIP/2.0 99 Nope\r\nCSeq: 1 INVITE\r\nCall-ID: a\r\n\r\n",
            b"SIP/2.0 200 OK\r\nCall-ID: a\r\n\r\n",
            b"SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\n\r\n",
            b"SIP/2.0 200 OK\r\nCSeq: 99999999999 INVITE\r\nCall-ID: a\r\n\r\n",
            b"SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\nCall-ID: a\r\nContent-Length: 10\r\n\r\nabc",
            b"SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\nCall-ID: a\r\nl: 1\r\nl: 1\r\n\r\nabc",
            b"SIP/2.0 200 OK\r\n folded first\r\n\r\n",
            b"SIP/2.0 200 OK\r\nno colon\r\n\r\n",
            b"SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\nCall-ID: a\r\n",
        ] {
            assert!(
                parse(bad, false).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let partial =
            b"SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\nCall-ID: a\r\nContent-Length: 10\r\n\r\nabc";
        assert_eq!(parse(partial, true), Err(AlgError::PartialLine));
        let mut long = b"SIP/2.0 200 OK\r\nX: ".to_vec();
        long.resize(10_000, b'a');
        long.extend_from_slice(b"\r\n\r\n");
        assert_eq!(parse(&long, true), Err(E));
    }

    #[test]
    fn address_tokens() {
        let v = b"SIP/2.0/UDP 10.0.0.2:5060;received=10.0.0.3;branch=z9hG4bK10.0.0.4 1.2.3.4.example 1.2.3.4:x";
        let t: Vec<_> = addr_tokens(v, 0..v.len()).collect();
        assert_eq!(t.len(), 3);
        assert_eq!(
            (t[0].ip, t[0].port.as_ref().map(|p| p.0), t[0].param),
            (Ipv4Addr::new(10, 0, 0, 2), Some(5060), false)
        );
        assert!(t[1].param);
        assert_eq!(
            (t[2].ip, t[2].port.clone()),
            (Ipv4Addr::new(1, 2, 3, 4), None)
        );
        assert_eq!(
            param(b"<sip:a@b>;q=0.5;Expires=3600", b"expires"),
            Some(&b"3600"[..])
        );
    }
}
