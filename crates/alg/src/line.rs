//! Line-oriented TCP control channels (FTP): which segments start at a line boundary, and
//! the rewrite of a retransmitted segment.
//!
//! Like Linux's `nf_conntrack_ftp`, a direction remembers the sequence numbers that follow
//! its last newlines; only a segment starting at one of them (or the direction's first
//! data segment) is inspected, so text in the middle of a line is never taken for a
//! command. Only complete lines are inspected and rewritten: a segment that ends inside a
//! watched command line is refused ([`mspic_flow::alg::AlgError::PartialLine`]: dropped and
//! counted, as Linux drops it) — the sender retransmits it, usually with the rest of the
//! line. The rest of a refused line arriving alone is refused too (until a segment starting
//! at the line is accepted): passed, it would be acknowledged selectively (RFC 2018), and a
//! SACK sender then retransmits only the head of the line, refused again for ever; held
//! back, it goes out again with the head (Linux merges small segments when it retransmits,
//! `tcp_retrans_collapse`). The rewrites of the last segments are remembered by sequence number, so a
//! retransmission gets exactly the same bytes (and the same sequence delta) without
//! opening its pinholes again.

use std::ops::Range;

use mspic_flow::alg::{AlgError, AlgPacket};

/// Sequence numbers after newlines remembered per direction (Linux keeps 2; one more
/// covers a retransmission of the segment before last).
const REMEMBERED: usize = 3;

/// Rewritten segments remembered per direction, for their retransmissions (as many as
/// the engine keeps sequence correction points).
const REWRITES: usize = mspic_flow::seqadj::POINTS;

/// One edit of a segment's payload: replace `range` by `bytes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub range: Range<usize>,
    pub bytes: Vec<u8>,
}

/// The line state of one direction.
#[derive(Debug, Clone, Default)]
pub struct Lines {
    starts: [Option<u32>; REMEMBERED],
    next: usize,
    seen_data: bool,
    /// The last segments that were rewritten: seq, payload length and edits.
    rewrites: [Option<(u32, usize, Vec<Edit>)>; REWRITES],
    next_rewrite: usize,
    /// Start of the last watched line refused as partial, until a line start is accepted.
    refused: Option<u32>,
}

impl Lines {
    /// True when the segment at `seq` starts a line (the first data segment does).
    pub fn at_line_start(&self, seq: u32) -> bool {
        !self.seen_data || self.starts.contains(&Some(seq))
    }

    /// Notes that the segment at `seq` starts a line (called before it is inspected, so a
    /// refused segment's retransmission is inspected again).
    pub fn begin(&mut self, seq: u32) {
        self.seen_data = true;
        self.remember(seq);
    }

    /// Notes a forwarded segment at `seq` with `payload` (as the sender sent it).
    pub fn saw(&mut self, seq: u32, payload: &[u8]) {
        self.seen_data = true;
        if payload.last() == Some(&b'\n') {
            self.remember(seq.wrapping_add(payload.len() as u32));
        }
    }

    fn remember(&mut self, seq: u32) {
        if self.starts.contains(&Some(seq)) {
            return;
        }
        self.starts[self.next] = Some(seq);
        self.next = (self.next + 1) % REMEMBERED;
    }

    /// The edits made to the segment at `seq` of length `len`, if it was rewritten before.
    pub fn replay(&self, seq: u32, len: usize) -> Option<&[Edit]> {
        self.rewrites
            .iter()
            .flatten()
            .find_map(|(s, l, e)| (*s == seq && *l == len).then_some(&e[..]))
    }

    /// Rewrites a retransmission of a segment rewritten before exactly as it was the first
    /// time (same bytes, same length change for the sequence correction); true if it was one.
    pub fn replay_into(&self, seq: u32, pkt: &mut AlgPacket<'_>) -> Result<bool, AlgError> {
        let len = pkt.payload().len();
        match self.replay(seq, len) {
            Some(edits) => apply(pkt, edits).map(|()| true),
            None => Ok(false),
        }
    }

    /// The start of a segment for an ALG that inspects whole lines or messages: a
    /// retransmission is rewritten again, a segment that does not start at a boundary
    /// passes; true when the caller should inspect the segment (its start is noted).
    pub fn enter(&mut self, seq: u32, pkt: &mut AlgPacket<'_>) -> Result<bool, AlgError> {
        if self.replay_into(seq, pkt)? || !self.at_line_start(seq) {
            return Ok(false);
        }
        self.begin(seq);
        Ok(true)
    }

    /// Notes that the line starting at `seq` was refused as partial.
    pub fn refuse(&mut self, seq: u32) {
        self.refused = Some(seq);
    }

    /// Notes that a segment starting a line was accepted: no refused line is pending.
    pub fn accept(&mut self) {
        self.refused = None;
    }

    /// True when a segment at `seq` (not at a line start) continues the line refused as
    /// partial, that is starts after it and at most `max` bytes into it.
    pub fn continues_refused(&self, seq: u32, max: usize) -> bool {
        self.refused.is_some_and(|s| {
            let d = seq.wrapping_sub(s) as usize;
            d > 0 && d <= max
        })
    }

    pub fn record(&mut self, seq: u32, len: usize, edits: Vec<Edit>) {
        self.rewrites[self.next_rewrite] = Some((seq, len, edits));
        self.next_rewrite = (self.next_rewrite + 1) % REWRITES;
    }

    /// The start of a packet for an ALG of whole messages over TCP or UDP: a datagram is
    /// always inspected; a TCP segment as [`Lines::enter`] says. `None`: pass it as it is.
    pub fn segment(&mut self, pkt: &mut AlgPacket<'_>) -> Result<Option<Segment>, AlgError> {
        let len = pkt.payload().len();
        Ok(match pkt.tcp_seq() {
            None => Some(Segment { seq: None, len }),
            Some(seq) => self.enter(seq, pkt)?.then_some(Segment {
                seq: Some(seq),
                len,
            }),
        })
    }

    /// The end of an inspected packet: `edits` (any order, not overlapping) applied; over
    /// TCP the next message is expected `consumed` bytes after the segment's start, and
    /// the edits are kept so that a retransmission gets the same bytes.
    pub fn rewrite(
        &mut self,
        pkt: &mut AlgPacket<'_>,
        s: Segment,
        mut edits: Vec<Edit>,
        consumed: usize,
    ) -> Result<(), AlgError> {
        edits.sort_by_key(|e| e.range.start);
        apply(pkt, &edits)?;
        if let Some(seq) = s.seq {
            self.begin(seq.wrapping_add(consumed as u32));
            if !edits.is_empty() {
                self.record(seq, s.len, edits);
            }
        }
        Ok(())
    }
}

/// A packet an ALG inspects: its TCP sequence number (none for a datagram) and the
/// length of its payload as it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub seq: Option<u32>,
    pub len: usize,
}

/// Splits `payload` into complete lines (each with its `\n`, as ranges) and the partial
/// line after the last `\n` (possibly empty).
pub fn split_lines(payload: &[u8]) -> (Vec<Range<usize>>, Range<usize>) {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, &b) in payload.iter().enumerate() {
        if b == b'\n' {
            lines.push(start..i + 1);
            start = i + 1;
        }
    }
    (lines, start..payload.len())
}

/// `line` without its trailing CR LF (or LF).
pub fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// True when `line` starts with `word` (ASCII case-insensitive).
pub fn starts_with_ci(line: &[u8], word: &[u8]) -> bool {
    line.len() >= word.len() && line[..word.len()].eq_ignore_ascii_case(word)
}

/// Applies `edits` (sorted, not overlapping) to the payload, last first so the earlier
/// ranges stay valid.
pub fn apply(pkt: &mut AlgPacket<'_>, edits: &[Edit]) -> Result<(), AlgError> {
    for e in edits.iter().rev() {
        pkt.splice(e.range.clone(), &e.bytes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_segments_after_a_newline_start_lines() {
        let mut l = Lines::default();
        assert!(l.at_line_start(100));
        l.begin(100);
        l.saw(100, b"USER a\r\n");
        assert!(l.at_line_start(108));
        assert!(l.at_line_start(100), "retransmission of the first segment");
        l.saw(108, b"PORT 1,2");
        assert!(!l.at_line_start(116), "middle of a line");
    }

    #[test]
    fn lines_and_partial() {
        let (lines, rest) = split_lines(b"A\r\nBB\nC");
        assert_eq!(lines, vec![0..3, 3..6]);
        assert_eq!(rest, 6..7);
    }
}
