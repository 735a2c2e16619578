//! Which of a session's two flows a packet travels on. Its own module because sessions, TCP
//! tracking, ALGs and the shard all speak of it, and none of them should own the others.

/// Which flow of a session: the initiator's (`I`) or the responder's (`O`). The value is
/// the flow's index in a session's per-flow arrays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Dir {
    /// The initiator's flow (the first packet's).
    I = 0,
    /// The responder's flow (the replies').
    O = 1,
}

impl Dir {
    /// The opposite flow: replies to `I` arrive on `O` and back.
    pub fn other(self) -> Dir {
        match self {
            Dir::I => Dir::O,
            Dir::O => Dir::I,
        }
    }
}
