//! SQLNet / Oracle TNS (`sqlnet`, TCP 1521 and 1525): a listener answers a client's
//! CONNECT with a REDIRECT (packet type 5) naming where to connect instead,
//! `(ADDRESS=(PROTOCOL=TCP)(HOST=h)(PORT=p))`. Each TCP address of the redirect opens a
//! pinhole client → h:p; an address of the server behind destination NAT is rewritten to
//! the one the client sees, and the TNS packet length and the redirect data length follow
//! (the engine corrects the sequence numbers).
//!
//! TNS packets (as documented by Wireshark's `packet-tns.c`; Oracle publishes no
//! specification): an 8-byte header (length, packet checksum, type, flags, header
//! checksum; big-endian), then for a REDIRECT the redirect data's length and the data, a
//! connect descriptor of `(NAME=VALUE)` pairs. Once the server ACCEPTs (type 2) the
//! connection carries data only (and newer versions change the header's length field):
//! the ALG stops inspecting. Until then, segments of the server that start at a packet
//! boundary are inspected; a REDIRECT must be complete in its segment (else
//! [`AlgError::PartialLine`]).

use std::net::{IpAddr, Ipv4Addr};
use std::ops::Range;

use mspic_flow::alg::{AlgContext, AlgError, AlgPacket, AlgSession, AlgVerdict};
use mspic_flow::session::Dir;
use mspic_wire::proto;

use crate::line::{apply, Edit, Lines};
use crate::{parse_decimal, PINHOLE_LIFETIME_SECS};

const TYPE_ACCEPT: u8 = 2;
const TYPE_REDIRECT: u8 = 5;
/// Addresses looked at per redirect.
pub const MAX_ADDRESSES: usize = 8;

const E: AlgError = AlgError::Malformed("sqlnet");

/// An `(ADDRESS=…)` of a connect descriptor: protocol TCP, the host's value (an IPv4
/// address when it is one) and the port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub host: Option<Ipv4Addr>,
    pub host_at: Range<usize>,
    pub port: u16,
}

/// A TNS packet header at the start of `p`: (length, type).
pub fn header(p: &[u8]) -> Result<(usize, u8), AlgError> {
    if p.len() < 8 {
        return Err(AlgError::PartialLine);
    }
    let len = usize::from(u16::from_be_bytes([p[0], p[1]]));
    if len < 8 {
        return Err(E);
    }
    Ok((len, p[4]))
}

/// The redirect data of a REDIRECT packet `p` (whole): its range.
pub fn redirect_data(p: &[u8]) -> Result<Range<usize>, AlgError> {
    let n = usize::from(u16::from_be_bytes([
        *p.get(8).ok_or(E)?,
        *p.get(9).ok_or(E)?,
    ]));
    if 10 + n > p.len() {
        return Err(E);
    }
    Ok(10..10 + n)
}

/// The value of `(key=value)` in `s` from `at` on (keys ASCII case-insensitive, blanks
/// around `=` allowed), up to the `)` or `(` that ends it; trimmed.
fn value(s: &[u8], key: &[u8]) -> Option<Range<usize>> {
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'(' {
            let k = i
                + 1
                + s[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_whitespace())
                    .count();
            if s.len() >= k + key.len() && s[k..k + key.len()].eq_ignore_ascii_case(key) {
                let mut j = k + key.len();
                j += s[j..]
                    .iter()
                    .take_while(|b| b.is_ascii_whitespace())
                    .count();
                if s.get(j) == Some(&b'=') {
                    let v = j + 1;
                    let end = s[v..]
                        .iter()
                        .position(|&b| b == b')' || b == b'(')
                        .map_or(s.len(), |e| v + e);
                    // Trimmed as one: a value of blanks only is empty, not reversed.
                    let raw = &s[v..end];
                    let lead = raw.len() - raw.trim_ascii_start().len();
                    return Some(v + lead..v + lead + raw.trim_ascii().len());
                }
            }
        }
        i += 1;
    }
    None
}

/// The TCP addresses of a connect descriptor `d` (ranges relative to `d`).
pub fn addresses(d: &[u8]) -> Result<([Option<Address>; MAX_ADDRESSES], usize), AlgError> {
    let mut out: [Option<Address>; MAX_ADDRESSES] = Default::default();
    let mut n = 0;
    // Each `(ADDRESS=` opens a part that ends where the next one starts.
    let mut starts = [0usize; MAX_ADDRESSES + 1];
    let mut k = 0;
    let mut i = 0;
    while let Some(r) = value(&d[i..], b"ADDRESS") {
        if k == MAX_ADDRESSES {
            return Err(E);
        }
        starts[k] = i + r.start;
        k += 1;
        i += r.start;
    }
    for j in 0..k {
        let part = starts[j]..if j + 1 < k { starts[j + 1] } else { d.len() };
        let s = &d[part.clone()];
        let proto_ok = value(s, b"PROTOCOL").is_some_and(|r| s[r].eq_ignore_ascii_case(b"TCP"));
        let (Some(h), Some(p)) = (value(s, b"HOST"), value(s, b"PORT")) else {
            continue;
        };
        if !proto_ok {
            continue;
        }
        let port = parse_decimal(&s[p], 5, 65535, "sqlnet")? as u16;
        if port == 0 || h.is_empty() {
            return Err(E);
        }
        let host = std::str::from_utf8(&s[h.clone()])
            .ok()
            .and_then(|t| t.parse().ok());
        out[n] = Some(Address {
            host,
            host_at: part.start + h.start..part.start + h.end,
            port,
        });
        n += 1;
    }
    Ok((out, n))
}

/// The SQLNet ALG state of one connection.
#[derive(Debug, Default)]
pub struct Sqlnet {
    lines: Lines,
    /// The server accepted: data only from now on.
    accepted: bool,
}

impl Sqlnet {
    /// The edits of a REDIRECT packet at `at` of the payload (`pkt` the whole packet).
    fn redirect(
        &mut self,
        ctx: &mut AlgContext<'_>,
        pkt: &[u8],
        at: usize,
        edits: &mut Vec<Edit>,
    ) -> Result<(), AlgError> {
        let data = redirect_data(pkt)?;
        let (addrs, n) = addresses(&pkt[data.clone()])?;
        let server = ctx.responder().0;
        let mut delta = 0i64;
        let first = edits.len();
        for a in addrs[..n].iter().flatten() {
            let Some(h) = a.host else {
                continue; // a host name: the client resolves it, its own business
            };
            let told = ctx.expect_to_responder(
                proto::TCP,
                (IpAddr::V4(h), a.port),
                PINHOLE_LIFETIME_SECS,
            )?;
            if told.0 != IpAddr::V4(h) && IpAddr::V4(h) == server {
                let text = told.0.to_string().into_bytes();
                delta += text.len() as i64 - a.host_at.len() as i64;
                let r = at + data.start + a.host_at.start..at + data.start + a.host_at.end;
                edits.push(Edit {
                    range: r,
                    bytes: text,
                });
            }
        }
        if delta != 0 {
            let len = pkt.len() as i64 + delta;
            let dlen = data.len() as i64 + delta;
            if len > i64::from(u16::MAX) {
                return Err(AlgError::NoRoom);
            }
            edits.insert(
                first,
                Edit {
                    range: at + 8..at + 10,
                    bytes: (dlen as u16).to_be_bytes().to_vec(),
                },
            );
            edits.insert(
                first,
                Edit {
                    range: at..at + 2,
                    bytes: (len as u16).to_be_bytes().to_vec(),
                },
            );
        }
        Ok(())
    }
}

impl AlgSession for Sqlnet {
    fn on_packet(
        &mut self,
        ctx: &mut AlgContext<'_>,
        pkt: &mut AlgPacket<'_>,
    ) -> Result<AlgVerdict, AlgError> {
        let Some(seq) = pkt.tcp_seq() else {
            return Ok(AlgVerdict::Forward);
        };
        // Only the server redirects; the client's flow is watched for the sequence
        // correction.
        if ctx.dir != Dir::O {
            return Ok(AlgVerdict::Forward);
        }
        let len = pkt.payload().len();
        if self.accepted {
            self.lines.replay_into(seq, pkt)?;
            return Ok(AlgVerdict::Forward);
        }
        if !self.lines.enter(seq, pkt)? {
            return Ok(AlgVerdict::Forward);
        }
        let p = pkt.payload();
        let mut edits = Vec::new();
        let mut at = 0;
        while at < p.len() && !self.accepted {
            let (plen, ty) = header(&p[at..])?;
            match ty {
                TYPE_REDIRECT => {
                    let end = at + plen;
                    if end > p.len() {
                        return Err(AlgError::PartialLine);
                    }
                    self.redirect(ctx, &p[at..end], at, &mut edits)?;
                }
                TYPE_ACCEPT => self.accepted = true,
                _ => {}
            }
            at += plen;
        }
        apply(pkt, &edits)?;
        self.lines.begin(seq.wrapping_add(at as u32));
        if !edits.is_empty() {
            self.lines.record(seq, len, edits);
        }
        Ok(AlgVerdict::Forward)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors() {
        let d = b"(DESCRIPTION=(ADDRESS_LIST=(ADDRESS=(PROTOCOL=TCP)(HOST=10.0.0.10)(PORT=1522))(address = (protocol = tcp)(host = db.example)(port = 1523))(ADDRESS=(PROTOCOL=IPC)(KEY=x))))";
        let (a, n) = addresses(d).unwrap();
        assert_eq!(n, 2);
        let a0 = a[0].as_ref().unwrap();
        assert_eq!(
            (a0.host, a0.port),
            (Some(Ipv4Addr::new(10, 0, 0, 10)), 1522)
        );
        assert_eq!(&d[a0.host_at.clone()], b"10.0.0.10");
        let a1 = a[1].as_ref().unwrap();
        assert_eq!(
            (a1.host, a1.port, &d[a1.host_at.clone()]),
            (None, 1523, &b"db.example"[..])
        );
        for bad in [
            &b"(ADDRESS=(PROTOCOL=TCP)(HOST=1.2.3.4)(PORT=99999))"[..],
            b"(ADDRESS=(PROTOCOL=TCP)(HOST=1.2.3.4)(PORT=0))",
            b"(ADDRESS=(PROTOCOL=TCP)(HOST=)(PORT=1))",
        ] {
            assert!(addresses(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let many = b"(ADDRESS=(PROTOCOL=TCP)(HOST=1.2.3.4)(PORT=1))".repeat(MAX_ADDRESSES + 1);
        assert!(addresses(&many).is_err());
    }
}
