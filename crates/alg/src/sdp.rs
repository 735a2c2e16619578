//! SDP (RFC 4566) as the SIP ALG needs it: where the addresses of `o=` and `c=` are and,
//! per media description, the transport port of `m=`, its connection address and its RTCP
//! port (`a=rtcp`, RFC 3605). Parsing only locates fields (offsets into the body); the SIP
//! ALG rewrites them. No allocation: media descriptions go into a fixed array.

use std::net::IpAddr;
use std::ops::Range;

use mspic_flow::alg::AlgError;

use crate::parse_decimal;

/// Media descriptions handled per body (each may open two pinholes per direction; the
/// engine allows 16 pinholes per packet).
pub const MAX_MEDIA: usize = 6;

/// Longest SDP line accepted.
pub const MAX_LINE: usize = 1024;

const E: AlgError = AlgError::Malformed("sdp");

/// An address field: the address (`None`: an FQDN or an unknown network type, left alone)
/// and where its text is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addr {
    pub ip: Option<IpAddr>,
    pub at: Range<usize>,
}

/// `a=rtcp:<port> [IN IP4 <addr>]` (RFC 3605 §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rtcp {
    pub port: u16,
    pub port_at: Range<usize>,
    pub addr: Option<Addr>,
}

/// One media description (`m=` and the lines up to the next `m=`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Media {
    /// Transport port (0: the stream is disabled, RFC 3264 §6).
    pub port: u16,
    pub port_at: Range<usize>,
    /// Offset of the end of the description (where an `a=rtcp` line can go, after the
    /// other attributes, RFC 4566 §5).
    pub end: usize,
    /// Media-level `c=` address.
    pub conn: Option<Addr>,
    pub rtcp: Option<Rtcp>,
}

/// The fields of one SDP body the ALG rewrites, with the media descriptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sdp {
    /// The `o=` unicast address.
    pub origin: Option<Addr>,
    /// The session-level `c=` address.
    pub conn: Option<Addr>,
    pub media: [Media; MAX_MEDIA],
    pub n_media: usize,
    /// Line-terminator style of the body (`\r\n` unless the body uses bare `\n`).
    pub crlf: bool,
}

impl Sdp {
    pub fn media(&self) -> &[Media] {
        &self.media[..self.n_media]
    }

    /// The connection address that applies to media `i` (media-level, else session-level).
    pub fn conn_of(&self, i: usize) -> Option<IpAddr> {
        let m = &self.media[i];
        m.conn.as_ref().or(self.conn.as_ref()).and_then(|a| a.ip)
    }
}

/// Parses an SDP body: every line `<type>=<value>` (RFC 4566 §5), lines of at most
/// [`MAX_LINE`] bytes, at most [`MAX_MEDIA`] media descriptions.
pub fn parse(body: &[u8]) -> Result<Sdp, AlgError> {
    let mut sdp = Sdp {
        crlf: true,
        ..Sdp::default()
    };
    let mut at = 0;
    let mut first = true;
    while at < body.len() {
        let nl = body[at..].iter().position(|&b| b == b'\n');
        let end = nl.map_or(body.len(), |n| at + n);
        let next = nl.map_or(body.len(), |n| at + n + 1);
        let mut line_end = end;
        if line_end > at && body[line_end - 1] == b'\r' {
            line_end -= 1;
        } else if nl.is_some() && first {
            sdp.crlf = false;
        }
        let line = &body[at..line_end];
        if line.len() > MAX_LINE {
            return Err(E);
        }
        if line.is_empty() {
            // A trailing empty line is tolerated; an empty line inside is not SDP.
            if body[next..].iter().all(|b| b.is_ascii_whitespace()) {
                if sdp.n_media > 0 {
                    sdp.media[sdp.n_media - 1].end = at;
                }
                break;
            }
            return Err(E);
        }
        if line.len() < 2 || line[1] != b'=' || !line[0].is_ascii_lowercase() {
            return Err(E);
        }
        if first && line[0] != b'v' {
            return Err(E);
        }
        first = false;
        let v = at + 2..line_end;
        match line[0] {
            b'o' => sdp.origin = Some(origin(body, v)?),
            b'c' => {
                let a = connection(body, v)?;
                match sdp.n_media {
                    0 => sdp.conn = Some(a),
                    n => sdp.media[n - 1].conn = Some(a),
                }
            }
            b'm' => {
                if sdp.n_media == MAX_MEDIA {
                    return Err(E);
                }
                let (port, port_at) = media_port(body, v)?;
                if sdp.n_media > 0 {
                    sdp.media[sdp.n_media - 1].end = at;
                }
                sdp.media[sdp.n_media] = Media {
                    port,
                    port_at,
                    end: body.len(),
                    conn: None,
                    rtcp: None,
                };
                sdp.n_media += 1;
            }
            b'a' if sdp.n_media > 0
                && line.len() > 7
                && line[2..7].eq_ignore_ascii_case(b"rtcp:") =>
            {
                let r = rtcp(body, at + 7..line_end)?;
                sdp.media[sdp.n_media - 1].rtcp = Some(r);
            }
            _ => {}
        }
        at = next;
    }
    if first {
        return Err(E);
    }
    Ok(sdp)
}

/// Splits `r` of `body` at single spaces into at most `N` fields (the last takes the rest).
fn fields<const N: usize>(body: &[u8], r: Range<usize>) -> Option<[Range<usize>; N]> {
    let mut out: [Range<usize>; N] = std::array::from_fn(|_| 0..0);
    let mut start = r.start;
    for (i, f) in out.iter_mut().enumerate() {
        if i == N - 1 {
            *f = start..r.end;
        } else {
            let sp = body[start..r.end].iter().position(|&b| b == b' ')?;
            *f = start..start + sp;
            start += sp + 1;
        }
        if f.start == f.end {
            return None;
        }
    }
    Some(out)
}

/// `<nettype> <addrtype> <address>`: an IPv4/IPv6 address (a multicast `/ttl` suffix is not
/// part of it); FQDNs and other types give no address.
fn address(body: &[u8], net: Range<usize>, ty: Range<usize>, a: Range<usize>) -> Addr {
    let a_end = body[a.clone()]
        .iter()
        .position(|&b| b == b'/')
        .map_or(a.end, |p| a.start + p);
    let at = a.start..a_end;
    let text = std::str::from_utf8(&body[at.clone()]).ok();
    let ip = match (&body[net], &body[ty]) {
        (b"IN", b"IP4") => text
            .and_then(|t| t.parse::<std::net::Ipv4Addr>().ok())
            .map(IpAddr::V4),
        (b"IN", b"IP6") => text
            .and_then(|t| t.parse::<std::net::Ipv6Addr>().ok())
            .map(IpAddr::V6),
        _ => None,
    };
    Addr { ip, at }
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`
/// (RFC 4566 §5.2).
fn origin(body: &[u8], v: Range<usize>) -> Result<Addr, AlgError> {
    let [_, _, _, net, ty, a] = fields::<6>(body, v).ok_or(E)?;
    Ok(address(body, net, ty, a))
}

/// `c=<nettype> <addrtype> <connection-address>` (RFC 4566 §5.7).
fn connection(body: &[u8], v: Range<usize>) -> Result<Addr, AlgError> {
    let [net, ty, a] = fields::<3>(body, v).ok_or(E)?;
    Ok(address(body, net, ty, a))
}

/// `m=<media> <port>[/<number of ports>] <proto> <fmt> ...` (RFC 4566 §5.14).
fn media_port(body: &[u8], v: Range<usize>) -> Result<(u16, Range<usize>), AlgError> {
    let [_, port, _] = fields::<3>(body, v).ok_or(E)?;
    let p_end = body[port.clone()]
        .iter()
        .position(|&b| b == b'/')
        .map_or(port.end, |p| port.start + p);
    let at = port.start..p_end;
    let n = parse_decimal(&body[at.clone()], 5, 65535, "sdp")? as u16;
    Ok((n, at))
}

/// `a=rtcp:<port> [<nettype> <addrtype> <connection-address>]` (RFC 3605 §2.1), `v` after
/// the colon.
fn rtcp(body: &[u8], v: Range<usize>) -> Result<Rtcp, AlgError> {
    let sp = body[v.clone()].iter().position(|&b| b == b' ');
    let port_at = v.start..sp.map_or(v.end, |s| v.start + s);
    let port = parse_decimal(&body[port_at.clone()], 5, 65535, "sdp")? as u16;
    if port == 0 {
        return Err(E);
    }
    let addr = match sp {
        None => None,
        Some(s) => {
            let [net, ty, a] = fields::<3>(body, v.start + s + 1..v.end).ok_or(E)?;
            Some(address(body, net, ty, a))
        }
    };
    Ok(Rtcp {
        port,
        port_at,
        addr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &[u8] = b"v=0\r\no=alice 2890844526 2890844526 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\nm=video 51372/2 RTP/AVP 31\r\nc=IN IP4 10.0.0.3\r\na=rtcp:53020 IN IP4 10.0.0.4\r\n";

    #[test]
    fn offer_fields() {
        let s = parse(OFFER).unwrap();
        let text = |r: &Range<usize>| std::str::from_utf8(&OFFER[r.clone()]).unwrap();
        assert_eq!(text(&s.origin.as_ref().unwrap().at), "10.0.0.2");
        assert_eq!(s.n_media, 2);
        assert_eq!(
            (s.media[0].port, text(&s.media[0].port_at)),
            (49170, "49170")
        );
        assert_eq!(s.conn_of(0), Some("10.0.0.2".parse().unwrap()));
        assert_eq!(
            (s.media[1].port, text(&s.media[1].port_at)),
            (51372, "51372")
        );
        assert_eq!(s.conn_of(1), Some("10.0.0.3".parse().unwrap()));
        let r = s.media[1].rtcp.as_ref().unwrap();
        assert_eq!(
            (r.port, text(&r.addr.as_ref().unwrap().at)),
            (53020, "10.0.0.4")
        );
        assert!(OFFER[s.media[0].end..].starts_with(b"m=video"));
        assert_eq!(s.media[1].end, OFFER.len());
    }

    #[test]
    fn refused() {
        for bad in [
            &b""[..],
            b"x",
            b"o=a 1 1 IN IP4 1.2.3.4\r\n",
            b"v=0\r\nm=audio 99999 RTP/AVP 0\r\n",
            b"v=0\r\nm=audio\r\n",
            b"v=0\r\nc=IN IP4\r\n",
            b"v=0\r\n\r\nm=audio 1 RTP/AVP 0\r\n",
            b"v=0\r\nm=audio 1 RTP/AVP 0\r\na=rtcp:0\r\n",
            b"v=0\r\nnot a line\r\n",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let mut many = b"v=0\r\n".to_vec();
        for _ in 0..=MAX_MEDIA {
            many.extend_from_slice(b"m=audio 1000 RTP/AVP 0\r\n");
        }
        assert!(parse(&many).is_err());
        let mut long = b"v=0\r\na=".to_vec();
        long.resize(10_000, b'x');
        assert!(parse(&long).is_err());
    }

    #[test]
    fn fqdn_and_multicast_give_no_unicast_address() {
        let s =
            parse(b"v=0\nc=IN IP4 host.example\nm=audio 5000 RTP/AVP 0\nc=IN IP4 224.2.1.1/127\n")
                .unwrap();
        assert_eq!(s.conn.as_ref().unwrap().ip, None);
        assert!(!s.crlf);
        assert!(s.conn_of(0).unwrap().is_multicast());
    }
}
