//! One session: two unidirectional flows (I = initiator's direction with the pre-NAT tuple,
//! O = responder's direction with the post-NAT tuple), their counters, state and timers.
//! Plain `Copy` data: no heap, so the slab is one contiguous array.

use mspic_config::AppProtocol;
use mspic_wire::FlowKey;

use crate::nat::SessionNat;
use crate::snapshot::FlowState;
use crate::tcp::TcpTrack;
use crate::time::Time;

/// Which flow of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Dir {
    I = 0,
    O = 1,
}

impl Dir {
    pub fn other(self) -> Dir {
        match self {
            Dir::I => Dir::O,
            Dir::O => Dir::I,
        }
    }
}

/// Timeout value meaning "never expires".
pub const NEVER: u32 = 0;

#[derive(Debug, Clone, Copy)]
pub struct Session {
    pub live: bool,
    /// Unique per services interface across shards.
    pub id: u64,
    /// Arrival keys: `keys[I]` as the initiator's packets arrive, `keys[O]` as the responder's
    /// packets arrive (after NAT on the way out, so they carry the translated addresses).
    pub keys: [FlowKey; 2],
    pub state: [FlowState; 2],
    pub frames: [u64; 2],
    pub bytes: [u64; 2],
    pub service_set: u16,
    pub service_iface: u16,
    pub alg: Option<AppProtocol>,
    /// Header `Flags:` bits (see `snapshot::FLAG_*`).
    pub flags: u32,
    /// Parent session slot for ALG children.
    pub parent: Option<u32>,
    pub tcp: TcpTrack,
    pub nat: SessionNat,
    pub created: Time,
    pub last_seen: Time,
    /// Configured inactivity timeout of the flows, seconds (`NEVER` = 0).
    pub idle_timeout: u32,
    /// Timeout now in force (open/close timers for TCP phases), seconds.
    pub active_timeout: u32,
}

impl Session {
    /// When the session expires if no packet arrives (`None`: never).
    pub fn deadline(&self) -> Option<Time> {
        if self.active_timeout == NEVER {
            None
        } else {
            Some(Time(self.last_seen.0.saturating_add(
                u64::from(self.active_timeout) * 1_000_000_000,
            )))
        }
    }
}
