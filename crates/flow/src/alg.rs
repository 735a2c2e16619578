//! The hook points application-level gateways plug into.
//!
//! A session whose matching rule term names an application with an `application-protocol`
//! gets that protocol's ALG: the engine asks the [`AlgRegistry`] for a per-session
//! [`AlgSession`], marks the flows the ALG wants to inspect `Watch`, and hands every packet
//! with payload on a Watch flow to [`AlgSession::on_packet`]. The ALG may rewrite the payload
//! in place (changing its length within the frame's capacity) and ask for pinholes: expected
//! child flows (FTP data, RTP, GRE…) that the engine admits without running the rules and
//! shows with the `0x0800` flag.
//!
//! Pinholes may be partially wildcarded (an unknown source port), so the engine cannot know
//! which shard will see the child's first packet: they are broadcast to every shard through
//! [`crate::ShardMessage`].

use std::net::IpAddr;

use mspic_config::AppProtocol;
use mspic_wire::parse::Parsed;
use mspic_wire::FlowKey;

use crate::nat::SessionNat;
use crate::session::Dir;
use crate::time::Time;

/// Why an ALG refused or failed a packet (counted under `Errors: ALG`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlgError {
    #[error("malformed {0} message")]
    Malformed(&'static str),
    #[error("rewritten payload does not fit the frame")]
    NoRoom,
}

/// What the engine should do with the packet after the ALG saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlgVerdict {
    Forward,
    Drop,
    /// Forward, and close the session once this packet is through (e.g. the DNS ALG after a
    /// response).
    ForwardAndClose,
}

/// An expected child flow. `None` fields are wildcards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pinhole {
    pub protocol: u8,
    pub src: Option<IpAddr>,
    pub src_port: Option<u16>,
    pub dst: IpAddr,
    pub dst_port: u16,
    /// Pinholes not used by then disappear.
    pub expires: Time,
    /// Services interface and session id of the parent (children show under the same
    /// interface and service set).
    pub parent_iface: u16,
    pub parent_id: u64,
    pub service_set: u16,
    pub alg: AppProtocol,
    /// Whether the child's flows are Watch (the ALG inspects the child too).
    pub watch: bool,
}

impl Pinhole {
    /// True when a first packet with key `k` fills this pinhole.
    pub fn matches(&self, k: &FlowKey) -> bool {
        k.proto == self.protocol
            && k.dst == self.dst
            && k.dst_port == self.dst_port
            && self.src.is_none_or(|a| a == k.src)
            && self.src_port.is_none_or(|p| p == k.src_port)
    }
}

/// What an ALG may do while it looks at one packet.
pub struct AlgContext<'a> {
    pub now: Time,
    /// Direction of the packet within its session.
    pub dir: Dir,
    /// The session's keys (I arrival, O arrival) and its translation, so the ALG can rewrite
    /// embedded addresses the way NAT rewrote the headers.
    pub keys: [FlowKey; 2],
    pub nat: &'a SessionNat,
    pub(crate) pinholes: &'a mut Vec<Pinhole>,
    pub(crate) parent_iface: u16,
    pub(crate) parent_id: u64,
    pub(crate) service_set: u16,
    pub(crate) alg: AppProtocol,
}

impl AlgContext<'_> {
    /// Opens a pinhole for a child flow (at most 16 per packet; more are refused).
    pub fn open_pinhole(&mut self, spec: PinholeSpec) -> bool {
        if self.pinholes.len() >= 16 {
            return false;
        }
        self.pinholes.push(Pinhole {
            protocol: spec.protocol,
            src: spec.src,
            src_port: spec.src_port,
            dst: spec.dst,
            dst_port: spec.dst_port,
            expires: Time(
                self.now
                    .0
                    .saturating_add(u64::from(spec.lifetime_secs) * 1_000_000_000),
            ),
            parent_iface: self.parent_iface,
            parent_id: self.parent_id,
            service_set: self.service_set,
            alg: self.alg,
            watch: spec.watch,
        });
        true
    }
}

/// What an ALG asks for when it opens a pinhole (`None` = wildcard).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinholeSpec {
    pub protocol: u8,
    pub src: Option<IpAddr>,
    pub src_port: Option<u16>,
    pub dst: IpAddr,
    pub dst_port: u16,
    pub lifetime_secs: u32,
    /// The child's flows are Watch too.
    pub watch: bool,
}

/// A packet handed to an ALG: the whole frame, writable, with its parse.
pub struct AlgPacket<'a> {
    /// The frame buffer (its capacity may exceed `len`: payload may grow up to it).
    pub buf: &'a mut [u8],
    /// Frame length; an ALG that changes the payload length updates it and the IP/L4
    /// lengths and checksums.
    pub len: &'a mut usize,
    pub parsed: &'a Parsed,
}

/// Per-session ALG state.
pub trait AlgSession: Send {
    /// Inspects (and may rewrite) one packet on a Watch flow.
    fn on_packet(
        &mut self,
        ctx: &mut AlgContext<'_>,
        pkt: AlgPacket<'_>,
    ) -> Result<AlgVerdict, AlgError>;
}

/// Creates ALG sessions. One registry is shared by every shard.
pub trait AlgRegistry: Send + Sync {
    /// A new ALG session for a session whose application protocol is `p`, with the flows
    /// to watch (`[I, O]`); `None` when there is no ALG for `p` (the session still shows
    /// `ALG: p` but runs as plain Forward).
    fn create(&self, p: AppProtocol, first: &FlowKey) -> Option<(Box<dyn AlgSession>, [bool; 2])>;
}

/// The registry with no ALGs.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAlgs;

impl AlgRegistry for NoAlgs {
    fn create(&self, _: AppProtocol, _: &FlowKey) -> Option<(Box<dyn AlgSession>, [bool; 2])> {
        None
    }
}
