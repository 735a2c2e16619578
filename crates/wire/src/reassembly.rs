//! Bounded reassembly of IPv6 fragments (RFC 8200 §4.5), for the DS-Lite AFTR's tunnel
//! packets (RFC 6333 §5.3, RFC 2473 §7).
//!
//! Only a packet whose fragment header directly follows the fixed header is taken (what
//! a B4 sends: IPv4 in IPv6, no other extension header); the reassembled packet is the
//! first fragment's fixed header, next header and payload length made whole, then the
//! fragmentable parts in order. Everything is preallocated: at most [`MAX_PENDING`]
//! packets at a time, each at most [`MAX_PACKET`] bytes, and each with at most
//! [`MAX_PIECES`] fragments. A packet not complete [`TIMEOUT_NS`] after its first fragment
//! arrived is abandoned (RFC 8200 §4.5 allows at most 60 s; the clock is the caller's).
//! Overlapping fragments abandon their packet (RFC 5722), as does one that would make it
//! too long or disagrees with the length its last fragment gave.

use thiserror::Error;

use crate::bytes;
use crate::error::WireError;
use crate::ipv6::HEADER_LEN;
use crate::proto;

/// Packets being reassembled at once, at most.
pub const MAX_PENDING: usize = 64;
/// Largest reassembled packet, fixed header included.
pub const MAX_PACKET: usize = 4096;
/// Fragments of one packet, at most.
pub const MAX_PIECES: usize = 16;
/// Time a packet has to complete from its first fragment's arrival.
pub const TIMEOUT_NS: u64 = 5_000_000_000;

const FRAG_HEADER: usize = 8;

/// Why a fragment was not taken (it is dropped; for the variants marked so, the packet
/// it belonged to is abandoned too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ReassemblyError {
    /// Not an IPv6 packet whose fixed header is followed by a fragment header, or a
    /// fragment with M set whose length is not a multiple of 8 (RFC 8200 §4.5).
    #[error("malformed fragment: {0}")]
    Malformed(WireError),
    /// [`MAX_PENDING`] packets already being reassembled.
    #[error("too many packets being reassembled")]
    Full,
    /// The packet would exceed [`MAX_PACKET`] (abandoned).
    #[error("reassembled packet too long")]
    TooLong,
    /// The fragment overlaps one already received (abandoned, RFC 5722).
    #[error("overlapping fragment")]
    Overlap,
    /// Its length disagrees with the end another last fragment gave (abandoned).
    #[error("inconsistent fragment length")]
    Inconsistent,
    /// More than [`MAX_PIECES`] fragments (abandoned).
    #[error("too many fragments")]
    TooManyPieces,
    /// The caller's buffer cannot hold the reassembled packet (abandoned).
    #[error("no room for the reassembled packet")]
    NoRoom,
}

#[derive(Clone, Copy)]
struct Slot {
    used: bool,
    src: [u8; 16],
    dst: [u8; 16],
    id: u32,
    started: u64,
    /// The first fragment's fixed header, once it came.
    header: Option<[u8; HEADER_LEN]>,
    /// Next header of the fragmentable part (from the first fragment).
    next: u8,
    /// Length of the fragmentable part, once the last fragment came.
    total: Option<usize>,
    pieces: [(u16, u16); MAX_PIECES],
    n_pieces: usize,
    received: usize,
}

const EMPTY: Slot = Slot {
    used: false,
    src: [0; 16],
    dst: [0; 16],
    id: 0,
    started: 0,
    header: None,
    next: 0,
    total: None,
    pieces: [(0, 0); MAX_PIECES],
    n_pieces: 0,
    received: 0,
};

/// Packets being reassembled, with their data.
pub struct Ipv6Reassembler {
    slots: Box<[Slot]>,
    data: Box<[u8]>,
    abandoned: u64,
}

impl Default for Ipv6Reassembler {
    fn default() -> Self {
        Self::new()
    }
}

impl Ipv6Reassembler {
    /// An empty reassembler (its memory allocated now: about 256 KiB).
    pub fn new() -> Self {
        Ipv6Reassembler {
            slots: vec![EMPTY; MAX_PENDING].into_boxed_slice(),
            data: vec![0u8; MAX_PENDING * MAX_PACKET].into_boxed_slice(),
            abandoned: 0,
        }
    }

    /// Packets being reassembled.
    pub fn pending(&self) -> usize {
        self.slots.iter().filter(|s| s.used).count()
    }

    /// Packets abandoned when their time ran out since the last call.
    pub fn take_timed_out(&mut self) -> u64 {
        std::mem::take(&mut self.abandoned)
    }

    /// Abandons the packets whose time ran out at `now_ns`.
    pub fn expire(&mut self, now_ns: u64) {
        for s in self.slots.iter_mut() {
            if s.used && now_ns.saturating_sub(s.started) >= TIMEOUT_NS {
                *s = EMPTY;
                self.abandoned += 1;
            }
        }
    }

    /// Takes the fragment `pkt` (an IPv6 packet, fixed header then fragment header)
    /// arriving at `now_ns`. When it completes its packet, writes the packet into `out`
    /// and returns its length; `None` while fragments are missing.
    pub fn add(
        &mut self,
        now_ns: u64,
        pkt: &[u8],
        out: &mut [u8],
    ) -> Result<Option<usize>, ReassemblyError> {
        let f = Frag::parse(pkt).map_err(ReassemblyError::Malformed)?;
        self.expire(now_ns);
        let found = self
            .slots
            .iter()
            .position(|s| s.used && s.id == f.id && s.src == f.src && s.dst == f.dst);
        let i = match found {
            Some(i) => i,
            None => {
                let i = self
                    .slots
                    .iter()
                    .position(|s| !s.used)
                    .ok_or(ReassemblyError::Full)?;
                self.slots[i] = Slot {
                    used: true,
                    src: f.src,
                    dst: f.dst,
                    id: f.id,
                    started: now_ns,
                    ..EMPTY
                };
                i
            }
        };
        match self.put(i, &f, pkt) {
            Ok(()) => {}
            Err(e) => {
                self.slots[i] = EMPTY;
                return Err(e);
            }
        }
        let s = &self.slots[i];
        let (Some(header), Some(total)) = (s.header, s.total) else {
            return Ok(None);
        };
        if s.received != total {
            return Ok(None);
        }
        let next = s.next;
        self.slots[i] = EMPTY;
        let n = HEADER_LEN + total;
        let o = out.get_mut(..n).ok_or(ReassemblyError::NoRoom)?;
        o[..HEADER_LEN].copy_from_slice(&header);
        bytes::set_be16(o, 4, total as u16);
        o[6] = next;
        let base = i * MAX_PACKET;
        o[HEADER_LEN..].copy_from_slice(&self.data[base..base + total]);
        Ok(Some(n))
    }

    /// Records fragment `f` of `pkt` in slot `i`.
    fn put(&mut self, i: usize, f: &Frag, pkt: &[u8]) -> Result<(), ReassemblyError> {
        let start = usize::from(f.offset);
        let end = start + f.body.len();
        if HEADER_LEN + end > MAX_PACKET {
            return Err(ReassemblyError::TooLong);
        }
        let s = &mut self.slots[i];
        let pieces = &s.pieces[..s.n_pieces];
        if pieces
            .iter()
            .any(|&(a, b)| start < usize::from(b) && usize::from(a) < end)
        {
            return Err(ReassemblyError::Overlap);
        }
        let last_end = pieces.iter().map(|&(_, b)| usize::from(b)).max();
        match (f.more, s.total) {
            (false, Some(t)) if t != end => return Err(ReassemblyError::Inconsistent),
            (false, _) if last_end.is_some_and(|l| l > end) => {
                return Err(ReassemblyError::Inconsistent)
            }
            (true, Some(t)) if end > t => return Err(ReassemblyError::Inconsistent),
            (false, _) => s.total = Some(end),
            _ => {}
        }
        if s.n_pieces == MAX_PIECES {
            return Err(ReassemblyError::TooManyPieces);
        }
        s.pieces[s.n_pieces] = (start as u16, end as u16);
        s.n_pieces += 1;
        s.received += f.body.len();
        if start == 0 {
            let mut h = [0u8; HEADER_LEN];
            h.copy_from_slice(&pkt[..HEADER_LEN]);
            s.header = Some(h);
            s.next = f.next;
        }
        let base = i * MAX_PACKET;
        self.data[base + start..base + end].copy_from_slice(f.body);
        Ok(())
    }
}

/// One fragment's fields.
struct Frag<'a> {
    src: [u8; 16],
    dst: [u8; 16],
    id: u32,
    next: u8,
    offset: u16,
    more: bool,
    body: &'a [u8],
}

impl<'a> Frag<'a> {
    fn parse(pkt: &'a [u8]) -> Result<Self, WireError> {
        if pkt.len() < HEADER_LEN + FRAG_HEADER {
            return Err(WireError::IpTruncated);
        }
        if pkt[0] >> 4 != 6 {
            return Err(WireError::IpVersion {
                version: pkt[0] >> 4,
            });
        }
        if pkt[6] != proto::IPV6_FRAG {
            return Err(WireError::Ipv6ExtensionHeader);
        }
        let end = HEADER_LEN + usize::from(bytes::get16(pkt, 4).ok_or(WireError::IpTruncated)?);
        if end > pkt.len() || end < HEADER_LEN + FRAG_HEADER {
            return Err(WireError::IpTotalLength);
        }
        let word = u16::from_be_bytes([pkt[42], pkt[43]]);
        let more = word & 1 != 0;
        let body = &pkt[HEADER_LEN + FRAG_HEADER..end];
        if more && !body.len().is_multiple_of(8) {
            return Err(WireError::IpTotalLength);
        }
        let mut src = [0u8; 16];
        let mut dst = [0u8; 16];
        src.copy_from_slice(&pkt[8..24]);
        dst.copy_from_slice(&pkt[24..40]);
        Ok(Frag {
            src,
            dst,
            id: u32::from_be_bytes([pkt[44], pkt[45], pkt[46], pkt[47]]),
            next: pkt[40],
            offset: word & !7,
            more,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(id: u32, offset: u16, more: bool, body: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; HEADER_LEN];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&((8 + body.len()) as u16).to_be_bytes());
        p[6] = 44;
        p[7] = 60;
        p[8] = 0x20;
        p[24] = 0x20;
        p.extend_from_slice(&[4, 0]);
        p.extend_from_slice(&(offset | u16::from(more)).to_be_bytes());
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(body);
        p
    }

    #[test]
    fn out_of_order_fragments_make_the_packet() {
        let body: Vec<u8> = (0..100u8).collect();
        let mut r = Ipv6Reassembler::new();
        let mut out = [0u8; 512];
        assert_eq!(
            r.add(0, &frag(1, 48, false, &body[48..]), &mut out),
            Ok(None)
        );
        assert_eq!(r.add(1, &frag(1, 0, true, &body[..24]), &mut out), Ok(None));
        assert_eq!(r.pending(), 1);
        let n = r
            .add(2, &frag(1, 24, true, &body[24..48]), &mut out)
            .unwrap();
        assert_eq!(n, Some(140));
        assert_eq!(&out[4..8], &[0, 100, 4, 60]);
        assert_eq!(&out[40..140], &body[..]);
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn bounded_and_abandoned() {
        let mut r = Ipv6Reassembler::new();
        let mut out = [0u8; 512];
        for id in 0..MAX_PENDING as u32 {
            assert_eq!(r.add(0, &frag(id, 0, true, &[0; 8]), &mut out), Ok(None));
        }
        let next = frag(999, 0, true, &[0; 8]);
        assert_eq!(r.add(1, &next, &mut out), Err(ReassemblyError::Full));
        // Their time runs out: all abandoned, counted, and room again.
        assert_eq!(r.add(TIMEOUT_NS, &next, &mut out), Ok(None));
        assert_eq!(r.take_timed_out(), MAX_PENDING as u64);
        assert_eq!(r.pending(), 1);
        // Overlap abandons the packet.
        assert_eq!(
            r.add(TIMEOUT_NS, &frag(999, 0, true, &[0; 16]), &mut out),
            Err(ReassemblyError::Overlap)
        );
        assert_eq!(r.pending(), 0);
        // Too long, not a multiple of 8, inconsistent ends, no room.
        assert_eq!(
            r.add(0, &frag(5, 4088, true, &[0; 8]), &mut out),
            Err(ReassemblyError::TooLong)
        );
        assert!(matches!(
            r.add(0, &frag(5, 0, true, &[0; 7]), &mut out),
            Err(ReassemblyError::Malformed(_))
        ));
        assert_eq!(r.add(0, &frag(6, 16, false, &[0; 8]), &mut out), Ok(None));
        assert_eq!(
            r.add(0, &frag(6, 32, true, &[0; 8]), &mut out),
            Err(ReassemblyError::Inconsistent)
        );
        assert_eq!(r.add(0, &frag(7, 8, false, &[0; 8]), &mut out), Ok(None));
        assert_eq!(
            r.add(0, &frag(7, 0, true, &[0; 8]), &mut [0u8; 20]),
            Err(ReassemblyError::NoRoom)
        );
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn what_fragment_cuts_comes_back_whole() {
        let mut p = vec![0x60, 0, 0, 0, 0x0b, 0xb8, 4, 64];
        p.extend((0..32 + 3000u32).map(|i| i as u8));
        for mtu in [1280, 1500, 300] {
            let mut pieces = Vec::new();
            let mut buf = [0u8; 2048];
            let mut k = 0;
            while let Some(n) = crate::fragment::ipv6_fragment(&p, mtu, 9, k, &mut buf).unwrap() {
                pieces.push(buf[..n].to_vec());
                k += 1;
            }
            let mut r = Ipv6Reassembler::new();
            let mut whole = [0u8; MAX_PACKET];
            let mut done = None;
            for f in pieces.iter().rev() {
                done = r.add(0, f, &mut whole).unwrap();
            }
            assert_eq!(&whole[..done.unwrap()], &p[..], "mtu {mtu}");
        }
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let mut r = Ipv6Reassembler::new();
        let mut out = [0u8; 64];
        let mut p = frag(1, 0, true, &[1; 8]);
        for i in 0..p.len() {
            for v in [0u8, 0x3f, 0xff] {
                let keep = p[i];
                p[i] = v;
                let _ = r.add(i as u64, &p, &mut out);
                let _ = r.add(i as u64, &p[..i], &mut out);
                p[i] = keep;
            }
        }
    }
}
