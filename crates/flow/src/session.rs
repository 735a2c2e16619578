//! One session: two unidirectional flows (I = initiator's direction with the pre-NAT tuple,
//! O = responder's direction with the post-NAT tuple), their counters, state and timers.
//! Plain `Copy` data: no heap, so the slab is one contiguous array.

use std::num::NonZeroU64;

use mspic_config::AppProtocol;
use mspic_wire::FlowKey;

pub use crate::dir::Dir;
use crate::ip_options::IpOptionMask;
use crate::nat::SessionNat;
use crate::snapshot::FlowState;
use crate::tcp::TcpTrack;
use crate::time::Time;

/// Timeout value meaning "never expires".
pub const NEVER: u32 = 0;

/// One session. `repr(C)` with the fields a packet of an established flow touches first:
/// keys, state and counters, timer fields, then the NAT rewrites; so an established packet
/// reads about three cache lines of the slab. Cold fields (ids, ALG, creation time, NAT
/// allocation) come last.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct Session {
    /// Arrival keys: `keys[I]` as the initiator's packets arrive, `keys[O]` as the responder's
    /// packets arrive (after NAT on the way out, so they carry the translated addresses).
    pub keys: [FlowKey; 2],
    /// Per flow: what it does with its packets.
    pub state: [FlowState; 2],
    /// The slot holds a session.
    pub live: bool,
    /// TCP phase (picks the timer).
    pub tcp: TcpTrack,
    /// Service set (index in `Policy::service_sets`).
    pub service_set: u16,
    /// Services interface (index in `Policy::service_ifaces`).
    pub service_iface: u16,
    /// Per flow: packets seen.
    pub frames: [u64; 2],
    /// Per flow: bytes seen (IP length).
    pub bytes: [u64; 2],
    /// Last packet of either flow (idle timers run from it).
    pub last_seen: Time,
    /// Timeout now in force (open/close timers for TCP phases), seconds.
    pub active_timeout: u32,
    /// Configured inactivity timeout of the flows, seconds (`NEVER` = 0).
    pub idle_timeout: u32,
    /// The session's translation.
    pub nat: SessionNat,
    /// Unique per services interface across shards.
    pub id: u64,
    /// When the first packet arrived.
    pub created: Time,
    /// Parent session id for ALG children (same services interface; the parent may live
    /// on another shard). Session ids start at 1, so the option costs no space.
    pub parent: Option<NonZeroU64>,
    /// Header `Flags:` bits (see `snapshot::FLAG_*`).
    pub flags: u32,
    /// The ALG the session was handed to.
    pub alg: Option<AppProtocol>,
    /// An ALG child whose first packet came from the parent's responder side (FTP active
    /// data, rsh stderr…): its flows are labelled from the parent's point of view, so its
    /// first flow is `O` (and is listed first, as Junos lists it).
    pub from_responder: bool,
    /// The IPv4 options its packets may carry (its firewall term's `allow-ip-options`).
    pub ip_options: IpOptionMask,
    /// Its application's `ttl-threshold` (traceroute): initiator packets whose TTL is
    /// above it are dropped.
    pub ttl_threshold: Option<u8>,
    /// The label of the pinhole an ALG child came through ([`crate::alg::Pinhole::label`]).
    pub alg_label: u64,
    /// The logical interface its first packet arrived on (`IfIndex`), for its logs.
    pub ingress: u16,
    /// Its firewall or NAT term says `then syslog`: its open and close are logged.
    pub log: bool,
    /// The DS-Lite softwire its initiator's packets came through (RFC 6333): replies are
    /// encapsulated back to that B4.
    pub softwire: Option<Softwire>,
}

/// The two ends of a DS-Lite softwire and the concentrator's `mtu-v6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Softwire {
    /// The B4's IPv6 address (the tunnel's source).
    pub b4: std::net::Ipv6Addr,
    /// The concentrator's `softwire-address`.
    pub aftr: std::net::Ipv6Addr,
    /// The largest encapsulated packet.
    pub mtu: u16,
}

impl Session {
    /// Whether a packet with `ttl` in direction `dir` goes beyond the traceroute
    /// threshold of the session's application.
    pub fn over_ttl_threshold(&self, dir: Dir, ttl: u8) -> bool {
        dir == Dir::I && self.ttl_threshold.is_some_and(|t| ttl > t)
    }

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
