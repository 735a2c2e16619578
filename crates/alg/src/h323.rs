//! H.323 parsers (`h323`: H.225.0 call signalling on TCP 1720; `ras`: registration,
//! admission and status on UDP 1719). No plugin is registered yet: see the notes below.
//!
//! - Call signalling comes in TPKT packets (RFC 1006 §6: version 3, reserved, 16-bit
//!   length including the 4-byte header), each a Q.931 message (ITU-T Q.931 §4 as profiled
//!   by H.225.0 §7): protocol discriminator 8, a call reference of length 2, the message
//!   type, then information elements — single-octet ones (top bit set) and variable ones
//!   (identifier, one length octet), except User-user (0x7e) whose length has two octets.
//!   User-user carries the H.323-UserInformation (protocol discriminator 5 and an ASN.1
//!   aligned-PER encoding, X.691).
//! - The addresses to translate (h245Address, fastStart media channels, RAS
//!   callSignalAddress/rasAddress) are `TransportAddress.ipAddress`: a 4-octet string and a
//!   16-bit port, octet-aligned and adjacent in aligned PER. [`transport_addresses`]
//!   finds them by value (the endpoint's own address followed by a port), which keeps
//!   their length and the PER encoding intact when rewritten.
//!
//! Missing for a plugin: which of the found ports are TCP (H.245) and which UDP
//! (RTP/RTCP) needs the PER decoder of H.225.0/H.245 (Linux generates one from the ASN.1);
//! and the H.245 control connection is a child session, which the engine does not hand to
//! the ALG (pinhole children are not watched).

use std::net::Ipv4Addr;
use std::ops::Range;

use mspic_flow::alg::AlgError;

const E: AlgError = AlgError::Malformed("h323");

/// Q.931 message types used by H.225.0 (Q.931 §4.4, H.225.0 §7.3).
pub mod msg {
    pub const ALERTING: u8 = 0x01;
    pub const CALL_PROCEEDING: u8 = 0x02;
    pub const PROGRESS: u8 = 0x03;
    pub const SETUP: u8 = 0x05;
    pub const CONNECT: u8 = 0x07;
    pub const RELEASE_COMPLETE: u8 = 0x5a;
    pub const FACILITY: u8 = 0x62;
    pub const STATUS: u8 = 0x7d;
}

/// The User-user information element identifier (Q.931 §4.5.30).
const IE_USER_USER: u8 = 0x7e;
/// Longest TPKT accepted.
pub const MAX_TPKT: usize = 8192;

/// The TPKT at the start of `p`: (total length, payload range). A header or packet not
/// complete in `p` is [`AlgError::PartialLine`].
pub fn tpkt(p: &[u8]) -> Result<(usize, Range<usize>), AlgError> {
    if p.len() < 4 {
        return Err(AlgError::PartialLine);
    }
    let len = usize::from(u16::from_be_bytes([p[2], p[3]]));
    if p[0] != 3 || p[1] != 0 || !(5..=MAX_TPKT).contains(&len) {
        return Err(E);
    }
    if p.len() < len {
        return Err(AlgError::PartialLine);
    }
    Ok((len, 4..len))
}

/// A Q.931 message: call reference value, whether the flag (sent by the side that did not
/// originate the call) is set, message type, and the User-user contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Q931 {
    pub call_ref: u16,
    pub from_destination: bool,
    pub message: u8,
    /// The User-user IE's contents after its protocol discriminator (the
    /// H.323-UserInformation), as a range of `p`.
    pub uuie: Option<Range<usize>>,
}

/// Parses a Q.931 message `p` (a TPKT's payload).
pub fn q931(p: &[u8]) -> Result<Q931, AlgError> {
    if p.len() < 5 || p[0] != 0x08 || p[1] & 0x0f != 2 {
        return Err(E);
    }
    let from_destination = p[2] & 0x80 != 0;
    let call_ref = u16::from_be_bytes([p[2] & 0x7f, p[3]]);
    let message = p[4];
    if message & 0x80 != 0 {
        return Err(E);
    }
    let mut at = 5;
    let mut uuie = None;
    while at < p.len() {
        let id = p[at];
        if id & 0x80 != 0 {
            at += 1; // single-octet IE (Q.931 §4.5.1)
            continue;
        }
        let (len, hdr) = if id == IE_USER_USER {
            let b = p.get(at + 1..at + 3).ok_or(E)?;
            (usize::from(u16::from_be_bytes([b[0], b[1]])), 3)
        } else {
            (usize::from(*p.get(at + 1).ok_or(E)?), 2)
        };
        let body = at + hdr..at + hdr + len;
        if body.end > p.len() {
            return Err(E);
        }
        if id == IE_USER_USER {
            // Protocol discriminator 5: X.208/X.209 coded user information.
            if len < 2 || p[body.start] != 5 || uuie.is_some() {
                return Err(E);
            }
            uuie = Some(body.start + 1..body.end);
        }
        at = body.end;
    }
    Ok(Q931 {
        call_ref,
        from_destination,
        message,
        uuie,
    })
}

/// RAS messages (H.225.0 §7.7, `RasMessage` CHOICE index in aligned PER).
pub mod ras {
    pub const GATEKEEPER_REQUEST: u8 = 0;
    pub const GATEKEEPER_CONFIRM: u8 = 1;
    pub const REGISTRATION_REQUEST: u8 = 3;
    pub const REGISTRATION_CONFIRM: u8 = 4;
    pub const ADMISSION_REQUEST: u8 = 9;
    pub const ADMISSION_CONFIRM: u8 = 10;
    pub const LOCATION_CONFIRM: u8 = 19;
}

/// The RAS message type of a datagram: the CHOICE of `RasMessage` (extension bit, then
/// 5 bits of index for the 25 root alternatives; an extension alternative is a
/// normally-small number after the bit).
pub fn ras_type(p: &[u8]) -> Result<u8, AlgError> {
    let &b = p.first().ok_or(E)?;
    if b & 0x80 != 0 {
        // Extension alternatives (X.691 §23.8): normally small non-negative number.
        let n = b & 0x3f;
        if b & 0x40 != 0 {
            return Err(E);
        }
        return Ok(25 + n);
    }
    let idx = (b >> 2) & 0x1f;
    if idx > 24 {
        return Err(E);
    }
    Ok(idx)
}

/// Where the endpoint `ip` appears in `p` as a PER `TransportAddress.ipAddress` (its 4
/// octets and a non-zero 16-bit port right after): (port, range of the 6 octets), at most
/// `N`.
pub fn transport_addresses<const N: usize>(
    p: &[u8],
    ip: Ipv4Addr,
) -> ([(u16, Range<usize>); N], usize) {
    let mut out: [(u16, Range<usize>); N] = std::array::from_fn(|_| (0, 0..0));
    let mut n = 0;
    let o = ip.octets();
    let mut i = 0;
    while i + 6 <= p.len() && n < N {
        if p[i..i + 4] == o {
            let port = u16::from_be_bytes([p[i + 4], p[i + 5]]);
            if port != 0 {
                out[n] = (port, i..i + 6);
                n += 1;
                i += 6;
                continue;
            }
        }
        i += 1;
    }
    (out, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Setup with a bearer capability IE, a single-octet IE and a User-user IE.
    fn setup(uu: &[u8]) -> Vec<u8> {
        let mut q = vec![0x08, 0x02, 0x12, 0x34, msg::SETUP];
        q.extend_from_slice(&[0x04, 0x03, 0x88, 0x93, 0xa5]);
        q.push(0xa1);
        q.push(IE_USER_USER);
        q.extend_from_slice(&((uu.len() + 1) as u16).to_be_bytes());
        q.push(5);
        q.extend_from_slice(uu);
        let mut t = vec![3, 0];
        t.extend_from_slice(&((q.len() + 4) as u16).to_be_bytes());
        t.extend(q);
        t
    }

    #[test]
    fn tpkt_q931_and_addresses() {
        let uu = [
            0x20, 0xa8, 0x06, 0x00, 10, 0, 0, 2, 0x2e, 0xe0, 0x00, 10, 0, 0, 2, 0, 0,
        ];
        let t = setup(&uu);
        let (len, r) = tpkt(&t).unwrap();
        assert_eq!(len, t.len());
        let q = q931(&t[r.clone()]).unwrap();
        assert_eq!(
            (q.call_ref, q.from_destination, q.message),
            (0x1234, false, msg::SETUP)
        );
        let uuie = q.uuie.unwrap();
        let body = &t[r][uuie];
        assert_eq!(body, &uu);
        let (a, n) = transport_addresses::<4>(body, Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(n, 1, "a zero port is not an address");
        assert_eq!((a[0].0, a[0].1.clone()), (0x2ee0, 4..10));
        assert_eq!(tpkt(&t[..10]), Err(AlgError::PartialLine));
        for bad in [vec![4, 0, 0, 8, 0, 0, 0, 0], vec![3, 0, 0, 2]] {
            assert_eq!(tpkt(&bad), Err(E));
        }
        for bad in [
            &[0x09, 0x02, 0, 0, 5][..],
            &[0x08, 0x01, 0, 5, 5],
            &[0x08, 0x02, 0, 0, 0x85],
            &[0x08, 0x02, 0, 0, 5, 0x04, 0x09, 1],
            &[0x08, 0x02, 0, 0, 5, 0x7e, 0x00],
            &[0x08, 0x02, 0, 0, 5, 0x7e, 0x00, 0x02, 0x04, 0x00],
        ] {
            assert!(q931(bad).is_err(), "{bad:?}");
        }
        assert_eq!(ras_type(&[0x0c]).unwrap(), ras::REGISTRATION_REQUEST);
        assert!(ras_type(&[0x7c]).is_err());
        assert!(ras_type(&[]).is_err());
    }
}
