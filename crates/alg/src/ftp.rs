//! FTP (RFC 959, RFC 2428): the data connection of every transfer is a child session.
//!
//! - Client `PORT h1,h2,h3,h4,p1,p2` (RFC 959 §4.1.2) and `EPRT |1|a.b.c.d|port|` /
//!   `EPRT |2|v6|port|` (RFC 2428 §2): the server will connect to that endpoint; it must be
//!   the client itself (else it is an FTP bounce, RFC 2577 §3: refused). The endpoint is
//!   rewritten to what the server sees of the client (the NAT address and, under NAPT, a
//!   pool port reserved for the data connection) and a pinhole expects the server there.
//! - Server `227 … (h1,h2,h3,h4,p1,p2)` (RFC 959 §4.1.2, PASV; the numbers are found by
//!   scanning for the first digit, RFC 1123 §4.1.2.6) and `229 … (|||port|)` (RFC 2428 §3,
//!   EPSV): the client will connect there; the address is rewritten to what the client
//!   sees of the server (destination NAT) and a pinhole expects the client.
//!
//! Lines are handled as [`crate::line`] describes (complete lines only, retransmissions
//! rewritten alike).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use mspic_flow::alg::{AlgContext, AlgError, AlgPacket, AlgSession, AlgVerdict, Ep};
use mspic_flow::session::Dir;
use mspic_wire::proto;

use crate::line::{apply, split_lines, starts_with_ci, trim_eol, Edit, Lines};
use crate::{parse_decimal, PINHOLE_LIFETIME_SECS};

/// Longest partial command line waited for; longer ones are malformed.
pub const MAX_LINE: usize = 512;

/// The FTP ALG state of one control connection.
#[derive(Debug, Default)]
pub struct Ftp {
    lines: [Lines; 2],
}

/// Commands (client) and replies (server) that carry an endpoint.
const CLIENT_WATCHED: [&[u8]; 2] = [b"PORT ", b"EPRT "];
const SERVER_WATCHED: [&[u8]; 2] = [b"227 ", b"229 "];

impl AlgSession for Ftp {
    fn on_packet(
        &mut self,
        ctx: &mut AlgContext<'_>,
        pkt: &mut AlgPacket<'_>,
    ) -> Result<AlgVerdict, AlgError> {
        let Some(seq) = pkt.tcp_seq() else {
            return Ok(AlgVerdict::Forward);
        };
        let d = ctx.dir as usize;
        let len = pkt.payload().len();
        if self.lines[d].replay_into(seq, pkt)? {
            return Ok(AlgVerdict::Forward);
        }
        if !self.lines[d].at_line_start(seq) {
            if self.lines[d].continues_refused(seq, MAX_LINE) {
                return Err(AlgError::PartialLine);
            }
            self.lines[d].saw(seq, pkt.payload());
            return Ok(AlgVerdict::Forward);
        }
        self.lines[d].begin(seq);
        let edits = match edits_for(ctx, pkt.payload()) {
            Err(AlgError::PartialLine) => {
                self.lines[d].refuse(seq);
                return Err(AlgError::PartialLine);
            }
            r => r?,
        };
        self.lines[d].accept();
        self.lines[d].saw(seq, pkt.payload());
        if !edits.is_empty() {
            apply(pkt, &edits)?;
            self.lines[d].record(seq, len, edits);
        }
        Ok(AlgVerdict::Forward)
    }
}

/// The rewrites of a segment that starts a line, opening the pinholes they announce.
fn edits_for(ctx: &mut AlgContext<'_>, payload: &[u8]) -> Result<Vec<Edit>, AlgError> {
    let watched: &[&[u8]] = match ctx.dir {
        Dir::I => &CLIENT_WATCHED,
        Dir::O => &SERVER_WATCHED,
    };
    let (lines, rest) = split_lines(payload);
    let partial = &payload[rest];
    let is_watched = watched.iter().any(|w| {
        starts_with_ci(partial, w) || (partial.len() < w.len() && starts_with_ci(w, partial))
    });
    if !partial.is_empty() && is_watched {
        return Err(if partial.len() > MAX_LINE {
            AlgError::Malformed("ftp command line")
        } else {
            AlgError::PartialLine
        });
    }
    let mut edits = Vec::new();
    for r in lines {
        let line = trim_eol(&payload[r.clone()]);
        let edit = match ctx.dir {
            Dir::I => client_line(ctx, line)?,
            Dir::O => server_line(ctx, line)?,
        };
        if let Some((range, bytes)) = edit {
            edits.push(Edit {
                range: r.start + range.start..r.start + range.end,
                bytes,
            });
        }
    }
    Ok(edits)
}

type LineEdit = Option<(Range<usize>, Vec<u8>)>;

/// `PORT`/`EPRT` from the client: refuse a third host, expect the server, rewrite.
fn client_line(ctx: &mut AlgContext<'_>, line: &[u8]) -> Result<LineEdit, AlgError> {
    let eprt = starts_with_ci(line, b"EPRT ");
    if !eprt && !starts_with_ci(line, b"PORT ") {
        return Ok(None);
    }
    let args = 5..line.len();
    let (ep, delim) = if eprt {
        let (ep, d) = parse_eprt(&line[args.clone()])?;
        (ep, Some(d))
    } else {
        let (a, p) = parse_port(&line[args.clone()])?;
        ((IpAddr::V4(a), p), None)
    };
    if ep.0 != ctx.initiator().0 {
        return Err(AlgError::ThirdHost);
    }
    let told = ctx.expect_to_initiator(proto::TCP, ep, None, PINHOLE_LIFETIME_SECS)?;
    if told == ep {
        return Ok(None);
    }
    let text = match (delim, told.0) {
        (Some(d), a) => format_eprt(d, (a, told.1)),
        (None, IpAddr::V4(a)) => format_port(a, told.1),
        (None, IpAddr::V6(_)) => return Err(AlgError::Malformed("ftp PORT")),
    };
    Ok(Some((args, text.into_bytes())))
}

/// `227`/`229` from the server: expect the client, rewrite the address of a 227.
fn server_line(ctx: &mut AlgContext<'_>, line: &[u8]) -> Result<LineEdit, AlgError> {
    if starts_with_ci(line, b"229 ") {
        let port = parse_229(&line[4..])?;
        let ep = (ctx.responder().0, port);
        ctx.expect_to_responder(proto::TCP, ep, PINHOLE_LIFETIME_SECS)?;
        return Ok(None);
    }
    if !starts_with_ci(line, b"227 ") {
        return Ok(None);
    }
    let (a, port, range) = parse_227(&line[4..])?;
    let ep = (IpAddr::V4(a), port);
    if ep.0 != ctx.responder().0 {
        // The server sends the client elsewhere: that connection is the client's own
        // business (a new session through the rules), not a child of this one.
        return Ok(None);
    }
    let told: Ep = ctx.expect_to_responder(proto::TCP, ep, PINHOLE_LIFETIME_SECS)?;
    match told {
        (IpAddr::V4(t), p) if (IpAddr::V4(t), p) != ep => Ok(Some((
            4 + range.start..4 + range.end,
            format_port(t, p).into_bytes(),
        ))),
        _ => Ok(None),
    }
}

/// `h1,h2,h3,h4,p1,p2` (RFC 959 §4.1.2 host-port), optional spaces around the whole.
pub fn parse_port(args: &[u8]) -> Result<(Ipv4Addr, u16), AlgError> {
    let args = args.trim_ascii();
    let mut n = [0u8; 6];
    let mut parts = args.split(|&b| b == b',');
    for v in n.iter_mut() {
        let part = parts.next().ok_or(AlgError::Malformed("ftp PORT"))?;
        *v = parse_decimal(part, 3, 255, "ftp PORT")? as u8;
    }
    if parts.next().is_some() {
        return Err(AlgError::Malformed("ftp PORT"));
    }
    let port = u16::from_be_bytes([n[4], n[5]]);
    if port == 0 {
        return Err(AlgError::Malformed("ftp PORT"));
    }
    Ok((Ipv4Addr::new(n[0], n[1], n[2], n[3]), port))
}

/// The host-port text of `PORT`/`227`.
pub fn format_port(a: Ipv4Addr, port: u16) -> String {
    let [a, b, c, d] = a.octets();
    format!("{a},{b},{c},{d},{},{}", port >> 8, port & 0xff)
}

/// `<d>proto<d>addr<d>port<d>` (RFC 2428 §2): the delimiter is any printable ASCII
/// character (33–126); net-prt 1 is IPv4, 2 IPv6.
pub fn parse_eprt(args: &[u8]) -> Result<(Ep, u8), AlgError> {
    const E: AlgError = AlgError::Malformed("ftp EPRT");
    let args = args.trim_ascii();
    let &d = args.first().ok_or(E)?;
    if !(33..=126).contains(&d) || d.is_ascii_alphanumeric() {
        return Err(E);
    }
    let fields: Vec<&[u8]> = args.split(|&b| b == d).collect();
    let [empty, af, addr, port, end] = fields[..] else {
        return Err(E);
    };
    if !empty.is_empty() || !end.is_empty() {
        return Err(E);
    }
    let addr = std::str::from_utf8(addr).map_err(|_| E)?;
    let ip: IpAddr = match af {
        b"1" => IpAddr::V4(addr.parse::<Ipv4Addr>().map_err(|_| E)?),
        b"2" => IpAddr::V6(addr.parse::<Ipv6Addr>().map_err(|_| E)?),
        _ => return Err(E),
    };
    let port = parse_decimal(port, 5, 65535, "ftp EPRT")? as u16;
    if port == 0 {
        return Err(E);
    }
    Ok(((ip, port), d))
}

/// The argument text of `EPRT`.
pub fn format_eprt(d: u8, ep: Ep) -> String {
    let d = d as char;
    let af = if ep.0.is_ipv4() { 1 } else { 2 };
    format!("{d}{af}{d}{}{d}{}{d}", ep.0, ep.1)
}

/// The host-port in the text of a 227 reply and where it is: from the first digit, six
/// comma-separated numbers.
pub fn parse_227(text: &[u8]) -> Result<(Ipv4Addr, u16, Range<usize>), AlgError> {
    let start = text
        .iter()
        .position(u8::is_ascii_digit)
        .ok_or(AlgError::Malformed("ftp 227"))?;
    let len = text[start..]
        .iter()
        .position(|b| !b.is_ascii_digit() && *b != b',')
        .unwrap_or(text.len() - start);
    let (a, p) =
        parse_port(&text[start..start + len]).map_err(|_| AlgError::Malformed("ftp 227"))?;
    Ok((a, p, start..start + len))
}

/// The port of a 229 reply: `(<d><d><d>port<d>)` (RFC 2428 §3).
pub fn parse_229(text: &[u8]) -> Result<u16, AlgError> {
    const E: AlgError = AlgError::Malformed("ftp 229");
    let open = text.iter().position(|&b| b == b'(').ok_or(E)?;
    let inner = &text[open + 1..];
    let close = inner.iter().position(|&b| b == b')').ok_or(E)?;
    let inner = &inner[..close];
    let &d = inner.first().ok_or(E)?;
    let fields: Vec<&[u8]> = inner.split(|&b| b == d).collect();
    let [a, b, c, port, e] = fields[..] else {
        return Err(E);
    };
    if [a, b, c, e].iter().any(|f| !f.is_empty()) {
        return Err(E);
    }
    let port = parse_decimal(port, 5, 65535, "ftp 229")? as u16;
    if port == 0 {
        return Err(E);
    }
    Ok(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_parses_and_refuses_garbage() {
        assert_eq!(
            parse_port(b"10,0,0,2,15,179").unwrap(),
            (Ipv4Addr::new(10, 0, 0, 2), 15 * 256 + 179)
        );
        for bad in [
            &b"10,0,0,2,15"[..],
            b"10,0,0,2,15,179,1",
            b"256,0,0,2,1,1",
            b"10,0,0,2,0,0",
            b"10,0,0,2,99999999999999999999,1",
            b"",
            b"a,b,c,d,e,f",
            b"10,,0,2,1,1",
        ] {
            assert!(parse_port(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn eprt_and_229() {
        let (ep, d) = parse_eprt(b"|1|132.235.1.2|6275|").unwrap();
        assert_eq!((ep, d), (("132.235.1.2".parse().unwrap(), 6275), b'|'));
        assert_eq!(format_eprt(d, ep), "|1|132.235.1.2|6275|");
        assert!(parse_eprt(b"|2|1080::8:800:200C:417A|5282|").is_ok());
        assert!(parse_eprt(b"|3|1.2.3.4|1|").is_err());
        assert!(parse_eprt(b"|1|1.2.3.4|70000|").is_err());
        assert!(parse_eprt(b"|1|1.2.3.4|").is_err());
        assert_eq!(
            parse_229(b"Entering Extended Passive Mode (|||6446|)").unwrap(),
            6446
        );
        assert!(parse_229(b"Entering Extended Passive Mode (||6446|)").is_err());
        assert!(parse_229(b"(|||0|)").is_err());
    }

    #[test]
    fn pasv_reply_numbers_are_found_without_parentheses() {
        let (a, p, r) = parse_227(b"Entering Passive Mode 198,51,100,7,4,1").unwrap();
        assert_eq!((a, p), (Ipv4Addr::new(198, 51, 100, 7), 1025));
        assert_eq!(r, 22..38);
    }
}
