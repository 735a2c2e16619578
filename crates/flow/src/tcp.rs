//! TCP connection tracking, enough to pick the session timer: the handshake runs under
//! `open-timeout`, an established connection under the inactivity timeout, and a FIN/RST
//! teardown under `close-timeout` (RFC 9293 §3.3.2 state machine, seen from the middle).

use mspic_wire::tcp::{ACK, FIN, RST, SYN};

use crate::dir::Dir;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
/// Where a TCP connection is, seen from the middle.
pub enum TcpPhase {
    /// Not a TCP session.
    #[default]
    None,
    /// SYN seen from the initiator.
    SynSent,
    /// SYN-ACK seen from the responder.
    SynReceived,
    /// Handshake completed (or data seen in both directions).
    Established,
    /// One side sent FIN.
    HalfClosed,
    /// Both sides sent FIN.
    Closing,
    /// RST seen, or the last ACK after both FINs.
    Closed,
}

/// Which timer a phase runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    /// Handshake under way: `open-timeout`.
    Open,
    /// Established (or not TCP): the inactivity timeout.
    Idle,
    /// Closing: `close-timeout`.
    Close,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
/// A session's TCP phase and which sides have sent FIN.
pub struct TcpTrack {
    /// Current phase.
    pub phase: TcpPhase,
    fin: [bool; 2],
    /// Keep-alives sent since the last segment (`tcp-tickles`).
    pub tickles: u8,
    /// What each direction's sender last sent, for keep-alives on its behalf.
    pub ends: [TcpEnd; 2],
}

/// What one end of a connection last sent, as it arrived: enough to send a keep-alive
/// in its name (RFC 9293 §3.8.4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpEnd {
    /// Sequence number after its last segment (SYN and FIN count one each).
    pub next: u32,
    /// Its last acknowledgment number.
    pub ack: u32,
    /// Its last advertised window (unscaled).
    pub window: u16,
}

impl TcpTrack {
    /// Tracking for a session whose first packet (from the initiator) had `flags`.
    pub fn new(flags: u8) -> Self {
        let mut t = TcpTrack {
            phase: TcpPhase::SynSent,
            fin: [false; 2],
            tickles: 0,
            ends: [TcpEnd::default(); 2],
        };
        t.on_segment(Dir::I, flags);
        t
    }

    /// Updates the phase with one segment from `dir`.
    pub fn on_segment(&mut self, dir: Dir, flags: u8) {
        use TcpPhase::*;
        if flags & RST != 0 {
            self.phase = Closed;
            return;
        }
        match self.phase {
            None | Closed => {}
            SynSent => {
                if dir == Dir::O && flags & (SYN | ACK) == SYN | ACK {
                    self.phase = SynReceived;
                }
            }
            SynReceived => {
                if dir == Dir::I && flags & ACK != 0 && flags & SYN == 0 {
                    self.phase = Established;
                }
            }
            Established | HalfClosed | Closing => {}
        }
        if flags & FIN != 0
            && matches!(self.phase, Established | HalfClosed | SynReceived | SynSent)
        {
            self.fin[dir as usize] = true;
            self.phase = if self.fin[0] && self.fin[1] {
                Closing
            } else {
                HalfClosed
            };
        }
    }

    /// Notes a segment from `dir` (its seq, ack, window, flags and payload length): the
    /// end's next sequence number and last acknowledgment, and no keep-alive outstanding.
    pub fn record(&mut self, dir: Dir, seq: u32, ack: u32, window: u16, flags: u8, len: usize) {
        let e = &mut self.ends[dir as usize];
        let ctl = u32::from(flags & SYN != 0) + u32::from(flags & FIN != 0);
        // A segment is at most 64 KiB; sequence space wraps (RFC 9293 §3.4).
        e.next = seq.wrapping_add(len as u32).wrapping_add(ctl);
        if flags & ACK != 0 {
            e.ack = ack;
            e.window = window;
        }
        self.tickles = 0;
    }

    /// The timer the current phase runs under.
    pub fn timer(&self) -> TimerKind {
        match self.phase {
            TcpPhase::SynSent | TcpPhase::SynReceived => TimerKind::Open,
            TcpPhase::None | TcpPhase::Established | TcpPhase::HalfClosed => TimerKind::Idle,
            TcpPhase::Closing | TcpPhase::Closed => TimerKind::Close,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_and_teardown() {
        let mut t = TcpTrack::new(SYN);
        assert_eq!(t.timer(), TimerKind::Open);
        t.on_segment(Dir::O, SYN | ACK);
        assert_eq!(t.phase, TcpPhase::SynReceived);
        t.on_segment(Dir::I, ACK);
        assert_eq!(t.phase, TcpPhase::Established);
        assert_eq!(t.timer(), TimerKind::Idle);
        t.on_segment(Dir::I, FIN | ACK);
        assert_eq!(t.phase, TcpPhase::HalfClosed);
        t.on_segment(Dir::O, FIN | ACK);
        assert_eq!(t.phase, TcpPhase::Closing);
        assert_eq!(t.timer(), TimerKind::Close);
    }

    #[test]
    fn rst_closes_at_any_point() {
        let mut t = TcpTrack::new(SYN);
        t.on_segment(Dir::O, RST | ACK);
        assert_eq!(t.phase, TcpPhase::Closed);
        assert_eq!(t.timer(), TimerKind::Close);
    }

    #[test]
    fn handshake_out_of_order_stays_open() {
        let mut t = TcpTrack::new(SYN);
        t.on_segment(Dir::I, ACK);
        assert_eq!(t.phase, TcpPhase::SynSent);
    }
}
