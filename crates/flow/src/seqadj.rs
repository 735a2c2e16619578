//! TCP sequence/ack adjustment after an ALG changed a segment's length, as Linux does it
//! (`net/netfilter/nf_conntrack_seqadj.c`).
//!
//! Per direction the engine keeps one correction: the sequence number of the last segment
//! whose length changed (`correction_pos`), the offset that applies up to and including it
//! (`offset_before`) and the one that applies after it (`offset_after`). A segment's seq is
//! shifted by the offset of its own direction; its ack (and SACK blocks, RFC 2018) by the
//! opposite direction's, taken back. A retransmitted rewritten segment starts at the same
//! `correction_pos`, so it gets the same rewrite and the same offsets, not a second delta.

use mspic_wire::checksum;
use mspic_wire::parse::{Parsed, L4};

/// The sequence correction of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqAdj {
    pub correction_pos: u32,
    pub offset_before: i32,
    pub offset_after: i32,
}

/// `a` comes after `b` in sequence space (RFC 9293 §3.4 modular comparison).
fn after(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) < 0
}

impl SeqAdj {
    pub fn is_zero(&self) -> bool {
        self.offset_before == 0 && self.offset_after == 0
    }

    /// Records that the segment starting at `seq` grew by `off` bytes (`nf_ct_seqadj_set`):
    /// a new correction point only for a segment after the last one (or when nothing has
    /// been corrected yet), so a retransmission does not add its delta twice.
    pub fn record(&mut self, seq: u32, off: i32) {
        if off == 0 {
            return;
        }
        if self.offset_before == self.offset_after || after(seq, self.correction_pos) {
            self.correction_pos = seq;
            self.offset_before = self.offset_after;
            self.offset_after = self.offset_after.wrapping_add(off);
        }
    }

    /// Offset to add to the seq of a segment of this direction.
    pub fn seq_offset(&self, seq: u32) -> i32 {
        if after(seq, self.correction_pos) {
            self.offset_after
        } else {
            self.offset_before
        }
    }

    /// Offset to subtract from an ack (or SACK edge) that acknowledges this direction's
    /// data as the peer saw it.
    pub fn ack_offset(&self, ack: u32) -> i32 {
        if after(
            ack.wrapping_sub(self.offset_before as u32),
            self.correction_pos,
        ) {
            self.offset_after
        } else {
            self.offset_before
        }
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
        assert_eq!(a.offset_after, 3);
        a.record(2000, -1);
        assert_eq!((a.seq_offset(1500), a.seq_offset(2001)), (3, 2));
        // Acks as the peer sends them, in its (shifted) view.
        assert_eq!(a.ack_offset(1500 + 3), 3);
        assert_eq!(a.ack_offset(2003 + 2), 2);
    }

    #[test]
    fn wraps_around_sequence_space() {
        let mut a = SeqAdj::default();
        a.record(u32::MAX - 2, 5);
        assert_eq!(a.seq_offset(3), 5);
        assert_eq!(a.seq_offset(u32::MAX - 2), 0);
    }
}
