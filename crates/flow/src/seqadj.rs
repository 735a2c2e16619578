//! TCP sequence/ack adjustment after an ALG changed a segment's length, as Linux does it
//! (`net/netfilter/nf_conntrack_seqadj.c`), with a few correction points instead of one.
//!
//! Per direction the engine keeps the sequence numbers of the last segments whose length
//! changed (`correction_pos`) with the offset that applies after each (`offset_after`; the
//! offset up to and including a point is the previous point's `offset_after`, Linux's
//! `offset_before`). A segment's seq is shifted by the offset of its own direction; its ack
//! (and SACK blocks, RFC 2018) by the opposite direction's, taken back. A retransmitted
//! rewritten segment starts at its own correction point, so it gets the same rewrite and
//! the same offsets, not a second delta — also when later segments were rewritten since
//! (up to [`POINTS`] of them; Linux remembers one).

use mspic_wire::checksum;
use mspic_wire::parse::{Parsed, L4};

/// Correction points remembered per direction.
pub const POINTS: usize = 4;

/// The sequence corrections of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqAdj {
    /// Offset before the oldest remembered point.
    base: i32,
    /// (correction_pos, offset_after), oldest first.
    points: [(u32, i32); POINTS],
    n: usize,
}

/// `a` comes after `b` in sequence space (RFC 9293 §3.4 modular comparison).
fn after(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) < 0
}

impl SeqAdj {
    /// True when nothing is corrected.
    pub fn is_zero(&self) -> bool {
        self.base == 0 && self.points[..self.n].iter().all(|&(_, o)| o == 0)
    }

    /// The offset after the newest point (what every new segment gets).
    pub fn current(&self) -> i32 {
        self.points[..self.n].last().map_or(self.base, |&(_, o)| o)
    }

    /// Records that the segment starting at `seq` grew by `off` bytes (`nf_ct_seqadj_set`):
    /// a new correction point only for a segment after the newest one, so a retransmission
    /// does not add its delta twice.
    pub fn record(&mut self, seq: u32, off: i32) {
        if off == 0 {
            return;
        }
        if let Some(&(pos, _)) = self.points[..self.n].last() {
            if !after(seq, pos) {
                return;
            }
        }
        let cur = self.current();
        if self.n == POINTS {
            self.base = self.points[0].1;
            self.points.copy_within(1.., 0);
            self.n -= 1;
        }
        self.points[self.n] = (seq, cur.wrapping_add(off));
        self.n += 1;
    }

    /// The offset in force before point `i`.
    fn before(&self, i: usize) -> i32 {
        if i == 0 {
            self.base
        } else {
            self.points[i - 1].1
        }
    }

    /// Offset to add to the seq of a segment of this direction.
    pub fn seq_offset(&self, seq: u32) -> i32 {
        (0..self.n)
            .rev()
            .find(|&i| after(seq, self.points[i].0))
            .map_or(self.base, |i| self.points[i].1)
    }

    /// Offset to subtract from an ack (or SACK edge) that acknowledges this direction's
    /// data as the peer saw it.
    pub fn ack_offset(&self, ack: u32) -> i32 {
        (0..self.n)
            .rev()
            .find(|&i| after(ack.wrapping_sub(self.before(i) as u32), self.points[i].0))
            .map_or(self.base, |i| self.points[i].1)
    }
}

/// TCP option kind of SACK blocks (RFC 2018 §3).
const TCPOPT_SACK: u8 = 5;

/// Applies the corrections to a TCP segment in place, with incremental checksum updates:
/// seq by `this` (the segment's direction), ack and SACK edges by `other`.
pub fn apply(frame: &mut [u8], p: &Parsed, this: &SeqAdj, other: &SeqAdj) {
    let L4::Tcp {
        seq, ack, flags, ..
    } = p.l4
    else {
        return;
    };
    let t = p.l4_offset;
    let hlen = frame
        .get(t + 12)
        .map_or(0, |b| usize::from(b >> 4) * 4)
        .max(20);
    if frame.len() < t + hlen {
        return;
    }
    let mut csum = u16::from_be_bytes([frame[t + 16], frame[t + 17]]);
    let mut set32 = |frame: &mut [u8], at: usize, new: u32| {
        let old = u32::from_be_bytes([frame[at], frame[at + 1], frame[at + 2], frame[at + 3]]);
        if old != new {
            // Every field here starts at an even offset of the TCP header.
            csum = checksum::update32(csum, old, new);
            frame[at..at + 4].copy_from_slice(&new.to_be_bytes());
        }
    };
    if !this.is_zero() {
        set32(frame, t + 4, seq.wrapping_add(this.seq_offset(seq) as u32));
    }
    if !other.is_zero() {
        if flags & mspic_wire::tcp::ACK != 0 {
            set32(frame, t + 8, ack.wrapping_sub(other.ack_offset(ack) as u32));
        }
        for at in sack_edges(frame, t, hlen) {
            let e = u32::from_be_bytes([frame[at], frame[at + 1], frame[at + 2], frame[at + 3]]);
            let new = e.wrapping_sub(other.ack_offset(e) as u32);
            set_unaligned32(frame, at, new, &mut csum, t);
        }
    }
    frame[t + 16..t + 18].copy_from_slice(&csum.to_be_bytes());
}

/// SACK edges may sit at odd offsets (options are byte-aligned): the checksum update
/// goes word by word over the bytes as they sit in the header.
fn set_unaligned32(frame: &mut [u8], at: usize, new: u32, csum: &mut u16, t: usize) {
    let start = at - ((at - t) % 2);
    let end = (at + 4 + (at + 4 - t) % 2).min(frame.len());
    let mut old = [0u8; 6];
    let n = end - start;
    old[..n].copy_from_slice(&frame[start..end]);
    frame[at..at + 4].copy_from_slice(&new.to_be_bytes());
    *csum = checksum::update_bytes(*csum, &old[..n], &frame[start..end]);
}

/// Offsets of every SACK block edge (left and right) in the options of the header at `t`.
fn sack_edges(frame: &[u8], t: usize, hlen: usize) -> impl Iterator<Item = usize> {
    let mut out = [0usize; 8];
    let mut n = 0;
    let mut i = t + 20;
    let end = t + hlen;
    while i < end {
        match frame[i] {
            0 => break,
            1 => i += 1,
            kind => {
                let Some(&len) = frame.get(i + 1) else { break };
                let len = usize::from(len);
                if len < 2 || i + len > end {
                    break;
                }
                if kind == TCPOPT_SACK {
                    let mut b = i + 2;
                    while b + 8 <= i + len && n + 2 <= out.len() {
                        out[n] = b;
                        out[n + 1] = b + 4;
                        n += 2;
                        b += 8;
                    }
                }
                i += len;
            }
        }
    }
    out.into_iter().take(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retransmission_keeps_the_same_offsets() {
        let mut a = SeqAdj::default();
        a.record(1000, 3);
        assert_eq!((a.seq_offset(1000), a.seq_offset(1001)), (0, 3));
        a.record(1000, 3); // the retransmitted segment rewritten again
        assert_eq!(a.current(), 3);
        a.record(2000, -1);
        assert_eq!((a.seq_offset(1500), a.seq_offset(2001)), (3, 2));
        // An older rewritten segment retransmitted: the offsets of its own time.
        assert_eq!((a.seq_offset(1000), a.seq_offset(2000)), (0, 3));
        // Acks as the peer sends them, in its (shifted) view.
        assert_eq!(a.ack_offset(1500 + 3), 3);
        assert_eq!(a.ack_offset(2003 + 2), 2);
        assert_eq!(a.ack_offset(1000), 0);
    }

    #[test]
    fn the_oldest_point_folds_into_the_base() {
        let mut a = SeqAdj::default();
        for i in 0..6u32 {
            a.record(1000 * (i + 1), 1);
        }
        assert_eq!(a.current(), 6);
        assert_eq!(a.seq_offset(100), 2, "older than every remembered point");
        assert_eq!(a.seq_offset(6001), 6);
    }

    #[test]
    fn wraps_around_sequence_space() {
        let mut a = SeqAdj::default();
        a.record(u32::MAX - 2, 5);
        assert_eq!(a.seq_offset(3), 5);
        assert_eq!(a.seq_offset(u32::MAX - 2), 0);
    }
}
