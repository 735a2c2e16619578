//! The hook points application-level gateways plug into.
//!
//! A session whose matching rule term names an application with an `application-protocol`
//! gets that protocol's ALG: the engine asks the [`AlgRegistry`] for a per-session
//! [`AlgSession`], marks the flows the ALG wants to inspect `Watch`, and hands every packet
//! with payload on a Watch flow to [`AlgSession::on_packet`], in place (no copy). The ALG
//! may rewrite the payload ([`AlgPacket::splice`], which may change its length within the
//! frame's capacity; the engine then keeps a sequence correction for the direction, see
//! [`crate::seqadj`]) and expect child flows ([`AlgContext::expect_to_initiator`],
//! [`AlgContext::expect_to_responder`]): pinholes the engine admits without running the
//! rules, as child sessions shown with the `0x0800` flag, translated the way the ALG wrote
//! their endpoint into the payload. Media endpoints of the inside agent
//! ([`AlgContext::expect_media_at_initiator`]) get pinholes from any address that the agent
//! may also fill from its side, keeping the mapping it announced; labels
//! ([`AlgContext::label_pinholes`], [`AlgContext::close_label`]) let an ALG close part of a
//! parent's children (a SIP call's media), and [`AlgContext::keep_session_until`] keeps a
//! parent past its inactivity timeout (a SIP registration).
//!
//! Pinholes may be partially wildcarded (an unknown source port), so the engine cannot know
//! which shard will see the child's first packet: they are broadcast to every shard through
//! [`crate::ShardMessage`], and so are their use and the end of their parent.

use std::net::IpAddr;
use std::ops::Range;
use std::sync::Arc;

use mspic_config::{AppProtocol, TranslationType};
use mspic_wire::parse::{Fragment, IpVersion, Parsed, L4};
use mspic_wire::{checksum, proto, FlowKey};

use crate::dir::Dir;
use crate::nat::{Allocation, NatPolicy, NatState, Rewrite, SessionNat};
use crate::time::Time;

/// Why an ALG refused or failed a packet. The packet is dropped and counted under
/// `Errors: ALG` and the matching ALG counter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlgError {
    #[error("malformed {0} message")]
    /// The payload is not a well-formed message of the protocol.
    Malformed(&'static str),
    #[error("rewritten payload does not fit the frame")]
    /// The rewritten payload does not fit the frame.
    NoRoom,
    /// An address in the payload names a host other than the endpoint that sent it (FTP
    /// bounce, RFC 2577 §3).
    #[error("payload names a third host")]
    ThirdHost,
    /// A watched command line does not end in this segment (only complete lines are
    /// inspected and rewritten).
    #[error("command line split across segments")]
    PartialLine,
    #[error("no NAT port left for the expected flow")]
    /// No NAT port left for the flow the ALG expects.
    NatExhausted,
    #[error("fragmented ALG payload")]
    /// The payload is fragmented: ALGs inspect whole segments only.
    Fragmented,
}

/// What the engine should do with the packet after the ALG saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlgVerdict {
    /// Go on as usual.
    Forward,
    /// Drop the packet (counted by the ALG).
    Drop,
    /// Forward, and close the session once this packet is through (e.g. the DNS ALG after
    /// the last response).
    ForwardAndClose,
}

/// How a child session is translated, so that it matches what the ALG wrote in the
/// payload. Fields are relative to the child's first packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PinholeNat {
    /// The translation type the child shows.
    pub kind: Option<TranslationType>,
    /// The first packet goes on to this (real) destination.
    pub dst: Option<(IpAddr, u16)>,
    /// ... from this source address (`None` port: keep the packet's).
    pub src: Option<(IpAddr, Option<u16>)>,
    /// Take a fresh NAPT port on this (pool, address index) for the source when the child
    /// is created (the shard that sees it allocates, so the replies come back to it).
    pub src_napt: Option<(u16, u32)>,
    /// A pool port the opener reserved and wrote in the payload: held by the pinhole while
    /// it waits, then by the child.
    pub held: Option<Allocation>,
    /// Source pool (shown on the child's NAT line).
    pub pool: Option<u16>,
}

impl PinholeNat {
    /// True when the child is not translated.
    pub fn is_none(&self) -> bool {
        self.dst.is_none() && self.src.is_none() && self.src_napt.is_none()
    }
}

/// An expected child flow. `None` fields are wildcards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pinhole {
    /// IP protocol of the child.
    pub protocol: u8,
    /// Source address; `None`: any.
    pub src: Option<IpAddr>,
    /// Source port; `None`: any.
    pub src_port: Option<u16>,
    /// Destination address.
    pub dst: IpAddr,
    /// Destination port.
    pub dst_port: u16,
    /// Pinholes not used by then disappear.
    pub expires: Time,
    /// Services interface and session id of the parent (children show under the same
    /// interface and service set).
    pub parent_iface: u16,
    /// Id of the parent session on `parent_iface`.
    pub parent_id: u64,
    /// Service set the child belongs to (the parent's).
    pub service_set: u16,
    /// The ALG of the parent, which the child shows.
    pub alg: AppProtocol,
    /// Whether the child's flows are Watch (the ALG inspects the child too).
    pub watch: bool,
    /// How the child is translated.
    pub nat: PinholeNat,
    /// The child's first packet comes from the parent's responder side.
    pub from_responder: bool,
    /// The endpoint behind the pinhole (`nat.dst`, on the initiator's side) may also send
    /// first, to any destination (and from `src` when it is set): its child then leaves
    /// through the same mapping, so media goes both ways through one pool endpoint
    /// (symmetric RTP, RFC 4961). On another shard than the one that reserved the port,
    /// the child steers its replies to itself and the origin lends it the reservation.
    pub both_ways: bool,
    /// The ALG's label for what the child belongs to within its parent (SIP: the call,
    /// closed on its BYE, [`AlgContext::close_label`]); 0: none.
    pub label: u64,
    /// The shard that opened it and its serial there: the copies on other shards are
    /// retired when one is used, and only the origin releases what it holds.
    pub origin: u32,
    /// Serial of the pinhole on its origin shard.
    pub serial: u64,
    /// The parent is logged (its term says `then syslog`): so are the child's open and
    /// close.
    pub log: bool,
    /// A PPTP call's GRE keyed by call id (the other fields then describe its PNS → PAC
    /// flow); filled by the first packet of either side.
    pub call: Option<GreCall>,
    /// The ESP of an inside host's IKE negotiation under NAPT (the other fields then
    /// describe its inside → gateway flow).
    pub esp: Option<EspGate>,
}

/// The ESP (RFC 4303) an IKE negotiation through NAPT announced, as the Junos IKE and ESP
/// ALG pairs it: the inside host's ESP to the gateway leaves from the public address; the
/// gateway's ESP to the public address with an SPI no session knows is the inside host's
/// only while it is the one inside host with a pending negotiation with that gateway, and
/// that SPI then keys it ([`FlowKey::esp_spi`]). A gateway behind destination NAT is not
/// followed (its ESP would leave to the address the host used, which the gate does not
/// know).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EspGate {
    /// The inside host.
    pub inside: IpAddr,
    /// Its public address.
    pub public: IpAddr,
    /// The gateway.
    pub gateway: IpAddr,
}

impl EspGate {
    /// The inside host's ESP to the gateway (3-tuple).
    pub fn outbound(&self) -> FlowKey {
        FlowKey::new(self.inside, self.gateway, 0, 0, proto::ESP)
    }

    /// The gateway's ESP to the public address (3-tuple).
    pub fn inbound(&self) -> FlowKey {
        FlowKey::new(self.gateway, self.public, 0, 0, proto::ESP)
    }
}

/// The enhanced GRE (RFC 2637 §4.1) of one PPTP call under port translation: one child
/// keyed by call id both ways ([`FlowKey::gre_call`]), whichever side sends first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GreCall {
    /// Call keys as the packets arrive: `[PNS → PAC (the PAC's Call ID), PAC → the PNS's
    /// public address (the translated PNS Call ID)]`.
    pub keys: [FlowKey; 2],
    /// Rewrites of the two flows, in the same order (the second writes the PNS's own
    /// Call ID back into the GRE key).
    pub rewrite: [Rewrite; 2],
}

impl GreCall {
    /// Which of [`Self::keys`] `k` is.
    pub fn side(&self, k: &FlowKey) -> Option<usize> {
        self.keys.iter().position(|c| c == k)
    }
}

impl Pinhole {
    /// True when a first packet with key `k` fills this pinhole.
    pub fn matches(&self, k: &FlowKey) -> bool {
        if let Some(c) = &self.call {
            return c.side(k).is_some();
        }
        if self.esp.is_some() {
            // Paired by the shard (`Shard::try_esp_gate`), not filled like a pinhole.
            return false;
        }
        k.proto == self.protocol
            && k.dst == self.dst
            && k.dst_port == self.dst_port
            && self.src.is_none_or(|a| a == k.src)
            && self.src_port.is_none_or(|p| p == k.src_port)
    }

    /// True when a first packet with key `k` comes from the endpoint behind a
    /// [`Self::both_ways`] pinhole whose endpoint is translated (an untranslated one needs
    /// no pinhole to keep its mapping), towards a destination the pinhole admits.
    pub fn matches_from_behind(&self, k: &FlowKey) -> bool {
        self.call.is_none()
            && self.both_ways
            && k.proto == self.protocol
            && self.nat.dst == Some((k.src, k.src_port))
            && self.src.is_none_or(|a| a == k.dst)
            && self.src_port.is_none_or(|p| p == k.dst_port)
    }
}

/// What a session's application lets its ALG admit, gathered from every term of the
/// application (Junos `rpc-program-number` and `uuid`): the Sun RPC ALG opens pinholes only
/// for the programs listed, the DCE-RPC ALG only for the interfaces listed. Empty: any.
/// Shared by the sessions of the application (cloning is a reference count, no copy).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlgParams {
    /// Inclusive Sun RPC program number ranges.
    pub rpc_programs: Arc<[(u32, u32)]>,
    /// DCE RPC interface UUIDs in their little-endian wire form (as in a protocol tower,
    /// C706 Appendix L).
    pub uuids: Arc<[[u8; 16]]>,
}

impl AlgParams {
    /// True when Sun RPC program `prog` may get a pinhole.
    pub fn allows_program(&self, prog: u32) -> bool {
        self.rpc_programs.is_empty()
            || self
                .rpc_programs
                .iter()
                .any(|&(lo, hi)| (lo..=hi).contains(&prog))
    }

    /// True when DCE RPC interface `uuid` (wire form; `None`: the tower names none) may get
    /// a pinhole.
    pub fn allows_uuid(&self, uuid: Option<&[u8; 16]>) -> bool {
        self.uuids.is_empty() || uuid.is_some_and(|u| self.uuids.contains(u))
    }
}

/// The wire form of a UUID written `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`: its first three
/// fields little-endian, the last eight bytes in order (C706 Appendix A, NDR little-endian).
/// `None` when `s` is not such a UUID.
pub fn uuid_wire(s: &str) -> Option<[u8; 16]> {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut b = [0u8; 16];
    for (i, out) in b.iter_mut().enumerate() {
        *out = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    b[..4].reverse();
    b[4..6].reverse();
    b[6..8].reverse();
    Some(b)
}

/// Most pinholes one packet may open.
pub const MAX_PINHOLES_PER_PACKET: usize = 16;

/// What an ALG may do while it looks at one packet.
pub struct AlgContext<'a> {
    /// The time of the packet.
    pub now: Time,
    /// Direction of the packet within its session.
    pub dir: Dir,
    /// The session's keys (I arrival, O arrival) and its translation, so the ALG can rewrite
    /// embedded addresses the way NAT rewrote the headers.
    pub keys: [FlowKey; 2],
    /// The session's translation.
    pub nat: &'a SessionNat,
    pub(crate) pinholes: &'a mut Vec<Pinhole>,
    /// Labels whose children and pinholes go once the packet is through.
    pub(crate) closed_labels: &'a mut Vec<u64>,
    pub(crate) label: u64,
    /// A new [`AlgContext::keep_session_until`], if the ALG set one.
    pub(crate) keep_until: Option<Time>,
    pub(crate) parent_iface: u16,
    pub(crate) parent_id: u64,
    pub(crate) service_set: u16,
    pub(crate) alg: AppProtocol,
    /// The parent is logged; its children will be.
    pub(crate) log: bool,
    pub(crate) nat_state: &'a mut NatState,
    pub(crate) nat_policy: &'a NatPolicy,
    /// The shard's translated PPTP Call IDs.
    pub(crate) call_ids: &'a mut CallIds,
    /// This shard's index and the shard count.
    pub(crate) shard: (u32, u32),
    /// Pinholes the ALG did not open because the application does not admit them.
    pub(crate) refused: u32,
}

/// An endpoint: address and port.
pub type Ep = (IpAddr, u16);

impl AlgContext<'_> {
    /// Counts a pinhole not opened because the session's application does not admit it
    /// ([`AlgParams`]); the packet itself goes on.
    pub fn refuse_pinhole(&mut self) {
        self.refused += 1;
    }

    /// Pinholes opened from now on (and the children they become) carry `label` (0: none).
    pub fn label_pinholes(&mut self, label: u64) {
        self.label = label;
    }

    /// The session outlives its inactivity timeout until `t` (its mapping with it): a SIP
    /// registration's expiry, during which the registrar sends requests to the registered
    /// contact (RFC 3261 §10.2.1). A `t` already past withdraws it.
    pub fn keep_session_until(&mut self, t: Time) {
        self.keep_until = Some(t);
    }

    /// The label pinholes get now.
    pub fn label(&self) -> u64 {
        self.label
    }

    /// The children and pinholes of this parent labelled `label` go once this packet is
    /// through (SIP: the media of a call that ended), on every shard.
    pub fn close_label(&mut self, label: u64) {
        if label != 0 && !self.closed_labels.contains(&label) {
            self.closed_labels.push(label);
        }
    }

    /// The initiator's real endpoint (the parent's I flow source).
    pub fn initiator(&self) -> Ep {
        (self.keys[0].src, self.keys[0].src_port)
    }

    /// The responder's real endpoint (after destination NAT).
    pub fn responder(&self) -> Ep {
        self.nat.rewrite[0]
            .dst
            .unwrap_or((self.keys[0].dst, self.keys[0].dst_port))
    }

    /// The responder as the initiator sees it (before destination NAT).
    pub fn responder_seen(&self) -> Ep {
        (self.keys[0].dst, self.keys[0].dst_port)
    }

    /// The initiator as the responder sees it (after source NAT).
    pub fn initiator_seen(&self) -> Ep {
        self.nat.rewrite[0].src.unwrap_or(self.initiator())
    }

    fn napt(&self) -> Option<Allocation> {
        self.nat.alloc.filter(|a| a.port.is_some())
    }

    /// The responder will connect to `ep`, an endpoint on the initiator's host (FTP PORT,
    /// rsh stderr, talk invitation, TFTP transfer): opens that pinhole (from the
    /// responder's address, source port `from_port` or any) and returns the endpoint the
    /// responder must be told. Under NAPT a pool port is reserved for it (the parent's own
    /// mapping when `ep` is the parent's source endpoint).
    pub fn expect_to_initiator(
        &mut self,
        protocol: u8,
        ep: Ep,
        from_port: Option<u16>,
        lifetime_secs: u32,
    ) -> Result<Ep, AlgError> {
        let (told, held) = self.reserve_for_initiator(protocol, ep)?;
        let nat = self.pinhole_nat_to_initiator(ep, told, held);
        let from = Some(self.responder().0);
        self.push(protocol, (from, from_port), told, nat, lifetime_secs)?;
        self.mark_last(false);
        Ok(told)
    }

    /// As [`Self::expect_to_initiator`] (from the responder's address, any port), for a
    /// media port of the initiator's host that may also send first to the responder (an
    /// RTSP client's RTCP, or the packets it sends from its RTP port to open its own
    /// firewall, RFC 2326 §12.39 `client_port`): that child leaves through the pool port
    /// the responder was told, so the responder's media still reaches it.
    pub fn expect_media_from_responder(
        &mut self,
        protocol: u8,
        ep: Ep,
        lifetime_secs: u32,
    ) -> Result<Ep, AlgError> {
        let told = self.expect_to_initiator(protocol, ep, None, lifetime_secs)?;
        self.mark_last(true);
        Ok(told)
    }

    /// Media of the initiator's host at `ep` (an SDP offer's RTP or RTCP port): the far
    /// side may send to it from an address the signalling does not name (a media server),
    /// and the agent may send from it first. Opens a [`Pinhole::both_ways`] pinhole from
    /// any address and returns the endpoint to write in the payload.
    pub fn expect_media_at_initiator(
        &mut self,
        protocol: u8,
        ep: Ep,
        lifetime_secs: u32,
    ) -> Result<Ep, AlgError> {
        let (told, held) = self.reserve_for_initiator(protocol, ep)?;
        self.push_media(protocol, ep, told, held, lifetime_secs)?;
        Ok(told)
    }

    /// An RTP/RTCP pair of the initiator's host (`ep` and `ep.1 + 1`, RFC 3550 §11): as
    /// [`Self::expect_media_at_initiator`] for both, on an even pool port and the next one
    /// where the pool has such a pair free (else two ports: the caller then says where
    /// RTCP is, RFC 3605 §2.1). Returns the RTP and RTCP endpoints to write.
    pub fn expect_media_pair_at_initiator(
        &mut self,
        protocol: u8,
        ep: Ep,
        lifetime_secs: u32,
    ) -> Result<(Ep, Ep), AlgError> {
        let rtcp = (ep.0, ep.1.wrapping_add(1));
        let pair = match (self.nat.rewrite[0].src, self.napt()) {
            (Some((ct, _)), Some(a)) if ep != self.initiator() => self
                .nat_state
                .reserve_port_pair(self.nat_policy, a.pool, a.addr, protocol, ep)
                .map(|(r, c)| (ct, r, c)),
            _ => None,
        };
        let Some((ct, r, c)) = pair else {
            let rtp_told = self.expect_media_at_initiator(protocol, ep, lifetime_secs)?;
            let rtcp_told = self.expect_media_at_initiator(protocol, rtcp, lifetime_secs)?;
            return Ok((rtp_told, rtcp_told));
        };
        let rtp_told = (ct, r.port.unwrap_or(ep.1));
        let rtcp_told = (ct, c.port.unwrap_or(rtcp.1));
        if let Err(e) = self.push_media(protocol, ep, rtp_told, Some(r), lifetime_secs) {
            self.nat_state
                .release_alloc(self.nat_policy, &c, self.now.0);
            return Err(e);
        }
        self.push_media(protocol, rtcp, rtcp_told, Some(c), lifetime_secs)?;
        Ok((rtp_told, rtcp_told))
    }

    /// What the responder must be told of the initiator's endpoint `ep`, and the pool port
    /// reserved for it under NAPT (none for the parent's own endpoint: its mapping).
    fn reserve_for_initiator(
        &mut self,
        protocol: u8,
        ep: Ep,
    ) -> Result<(Ep, Option<Allocation>), AlgError> {
        Ok(match self.nat.rewrite[0].src {
            None => (ep, None),
            Some(mapped) if ep == self.initiator() && protocol == self.keys[0].proto => {
                (mapped, None)
            }
            Some((ct, _)) => match self.napt() {
                Some(a) => {
                    let r = self
                        .nat_state
                        .reserve_port(self.nat_policy, a.pool, a.addr, protocol, ep)
                        .ok_or(AlgError::NatExhausted)?;
                    ((ct, r.port.unwrap_or(ep.1)), Some(r))
                }
                None => ((ct, ep.1), None),
            },
        })
    }

    /// The pinhole of a media endpoint `ep` of the initiator's host, told as `told`: from
    /// any address, both ways, the far side's address kept as it is.
    fn push_media(
        &mut self,
        protocol: u8,
        ep: Ep,
        told: Ep,
        held: Option<Allocation>,
        lifetime_secs: u32,
    ) -> Result<(), AlgError> {
        let nat = PinholeNat {
            src: None,
            ..self.pinhole_nat_to_initiator(ep, told, held)
        };
        self.push(protocol, (None, None), told, nat, lifetime_secs)?;
        self.mark_last(true);
        Ok(())
    }

    /// The translation of a child towards the initiator's `ep`, told as `told`.
    fn pinhole_nat_to_initiator(&self, ep: Ep, told: Ep, held: Option<Allocation>) -> PinholeNat {
        let (sv, sr) = (self.keys[0].dst, self.responder().0);
        PinholeNat {
            kind: self.nat.kind,
            dst: (told != ep).then_some(ep),
            src: (sv != sr).then_some((sv, None)),
            src_napt: None,
            held,
            pool: self.nat.pool,
        }
    }

    /// Marks the last pinhole pushed as filled from the responder's side (and both ways).
    fn mark_last(&mut self, both_ways: bool) {
        if let Some(p) = self.pinholes.last_mut() {
            p.from_responder = true;
            p.both_ways = both_ways;
        }
    }

    /// The initiator will connect to `ep`, an endpoint on the responder's host (FTP 227 and
    /// 229): opens that pinhole (from the initiator's address, any source port) and returns
    /// the endpoint the initiator must be told.
    pub fn expect_to_responder(
        &mut self,
        protocol: u8,
        ep: Ep,
        lifetime_secs: u32,
    ) -> Result<Ep, AlgError> {
        let (sv, sr) = (self.keys[0].dst, self.responder().0);
        let told = if ep.0 == sr { (sv, ep.1) } else { ep };
        let mut nat = PinholeNat {
            kind: self.nat.kind,
            dst: (told != ep).then_some(ep),
            pool: self.nat.pool,
            ..PinholeNat::default()
        };
        if let Some((ct, _)) = self.nat.rewrite[0].src {
            match self.napt() {
                Some(a) => nat.src_napt = Some((a.pool, a.addr)),
                None => nat.src = Some((ct, None)),
            }
        }
        let c = self.initiator().0;
        self.push(protocol, (Some(c), None), told, nat, lifetime_secs)?;
        Ok(told)
    }

    /// Opens a pinhole without translation (at most [`MAX_PINHOLES_PER_PACKET`] per packet;
    /// more are refused).
    pub fn open_pinhole(&mut self, spec: PinholeSpec) -> bool {
        self.push(
            spec.protocol,
            (spec.src, spec.src_port),
            (spec.dst, spec.dst_port),
            PinholeNat::default(),
            spec.lifetime_secs,
        )
        .is_ok()
    }

    fn push(
        &mut self,
        protocol: u8,
        src: (Option<IpAddr>, Option<u16>),
        dst: Ep,
        nat: PinholeNat,
        lifetime_secs: u32,
    ) -> Result<(), AlgError> {
        if self.pinholes.len() >= MAX_PINHOLES_PER_PACKET {
            if let Some(a) = nat.held {
                self.nat_state
                    .release_alloc(self.nat_policy, &a, self.now.0);
            }
            return Err(AlgError::NatExhausted);
        }
        self.pinholes.push(Pinhole {
            protocol,
            src: src.0,
            src_port: src.1,
            dst: dst.0,
            dst_port: dst.1,
            expires: Time(
                self.now
                    .0
                    .saturating_add(u64::from(lifetime_secs) * 1_000_000_000),
            ),
            parent_iface: self.parent_iface,
            parent_id: self.parent_id,
            service_set: self.service_set,
            alg: self.alg,
            watch: false,
            nat,
            from_responder: false,
            both_ways: false,
            label: self.label,
            origin: 0,
            serial: 0,
            log: self.log,
            call: None,
            esp: None,
        });
        Ok(())
    }

    /// The initiator negotiated IPsec with the responder (an IKE exchange that creates a
    /// child SA was answered) under port translation: opens its ESP gate ([`EspGate`]).
    /// The engine steers the inside host's ESP to the shard that owns the public side.
    pub fn expect_esp(&mut self, lifetime_secs: u32) -> Result<(), AlgError> {
        let gate = EspGate {
            inside: self.initiator().0,
            public: self.initiator_seen().0,
            gateway: self.responder().0,
        };
        let nat = PinholeNat {
            kind: self.nat.kind,
            pool: self.nat.pool,
            ..PinholeNat::default()
        };
        self.push(
            proto::ESP,
            (Some(gate.inside), None),
            (gate.gateway, 0),
            nat,
            lifetime_secs,
        )?;
        if let Some(p) = self.pinholes.last_mut() {
            p.esp = Some(gate);
        }
        Ok(())
    }

    /// Whether the parent's source port is translated (NAPT): a PPTP PNS Call ID must then
    /// be translated too, and its GRE keyed by call id.
    pub fn translates_ports(&self) -> bool {
        self.napt().is_some()
    }

    /// The Call ID to write for the initiator's `wanted` one under port translation, unique
    /// for (public address, responder): `wanted` when it is free and this shard's (ids
    /// are split between shards as NAPT ports are: shard k of N takes those with
    /// `id % N == k`, so shards never collide), else the next free one of this shard
    /// after it, at most [`CallIds::MAX_PROBES`] tried (else [`AlgError::NatExhausted`]).
    /// Held until
    /// [`Self::release_call_id`] or the end of the session.
    pub fn reserve_call_id(&mut self, wanted: u16) -> Result<u16, AlgError> {
        let key = (self.initiator_seen().0, self.responder().0);
        let owner = (self.parent_iface, self.parent_id);
        let id = self
            .call_ids
            .reserve(key, wanted, owner, self.shard)
            .ok_or(AlgError::NatExhausted)?;
        self.nat_state.stats.gre_call_id_translations += u64::from(id != wanted);
        Ok(id)
    }

    /// Gives back a Call ID [`Self::reserve_call_id`] returned.
    pub fn release_call_id(&mut self, id: u16) {
        let key = (self.initiator_seen().0, self.responder().0);
        self.call_ids
            .release(key, id, (self.parent_iface, self.parent_id));
    }

    /// A PPTP call is up under port translation: its GRE (RFC 2637 §4.1) is one child
    /// keyed by call id, filled by the first packet of either side: the PNS's to the
    /// PAC's Call ID `pac` leaves from the public address, the PAC's to `pns_told` (what
    /// the PAC was told) reaches the PNS with its own Call ID `pns` written back.
    pub fn expect_gre_call(
        &mut self,
        pns: u16,
        pns_told: u16,
        pac: u16,
        lifetime_secs: u32,
    ) -> Result<(), AlgError> {
        use mspic_wire::key::GRE_CALL_MARK;
        let (c, public) = (self.initiator().0, self.initiator_seen().0);
        let (seen, real) = (self.responder_seen().0, self.responder().0);
        let keys = [
            FlowKey::gre_call(c, seen, pac),
            FlowKey::gre_call(real, public, pns_told),
        ];
        let rewrite = [
            Rewrite {
                src: (public != c).then_some((public, GRE_CALL_MARK)),
                dst: (real != seen).then_some((real, pac)),
            },
            Rewrite {
                src: (seen != real).then_some((seen, GRE_CALL_MARK)),
                dst: (public != c || pns != pns_told).then_some((c, pns)),
            },
        ];
        let nat = PinholeNat {
            kind: self.nat.kind,
            pool: self.nat.pool,
            ..PinholeNat::default()
        };
        self.push(
            proto::GRE,
            (Some(c), Some(mspic_wire::key::GRE_CALL_MARK)),
            (seen, pac),
            nat,
            lifetime_secs,
        )?;
        if let Some(p) = self.pinholes.last_mut() {
            p.call = Some(GreCall { keys, rewrite });
        }
        Ok(())
    }
}

/// The PPTP Call IDs a shard translated, per (public address, PAC), with the session
/// (services interface, id) holding each: the inbound GRE of a call is keyed by it
/// ([`AlgContext::reserve_call_id`]).
#[derive(Debug, Default)]
pub struct CallIds {
    map: hashbrown::HashMap<(IpAddr, IpAddr, u16), (u16, u64)>,
}

impl CallIds {
    /// Ids tried before a reservation fails.
    pub const MAX_PROBES: u32 = 1024;
    /// Ids a shard holds at most.
    pub const MAX: usize = 16_384;

    /// True when none is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Ids held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// See [`AlgContext::reserve_call_id`]; `shard` is (index, count).
    pub fn reserve(
        &mut self,
        (public, peer): (IpAddr, IpAddr),
        wanted: u16,
        owner: (u16, u64),
        (k, n): (u32, u32),
    ) -> Option<u16> {
        if self.map.len() >= Self::MAX {
            return None;
        }
        let n = n.max(1);
        let k = k % n;
        // The ids of this shard are k, k + n, k + 2n, … ≤ 65535: `m` of them. Start at the
        // first one not below `wanted`.
        let m = (65_535 - k) / n + 1;
        let w = u32::from(wanted);
        let first = if w <= k { 0 } else { (w - k).div_ceil(n) };
        for j in 0..Self::MAX_PROBES.min(m) {
            let id = (k + ((first + j) % m) * n) as u16;
            if let hashbrown::hash_map::Entry::Vacant(e) = self.map.entry((public, peer, id)) {
                e.insert(owner);
                return Some(id);
            }
        }
        None
    }

    /// Releases `id` if `owner` holds it.
    pub fn release(&mut self, (public, peer): (IpAddr, IpAddr), id: u16, owner: (u16, u64)) {
        if self.map.get(&(public, peer, id)) == Some(&owner) {
            self.map.remove(&(public, peer, id));
        }
    }

    /// Releases every id `owner` holds (its session ended).
    pub fn release_owner(&mut self, owner: (u16, u64)) {
        self.map.retain(|_, o| *o != owner);
    }
}

/// What an ALG asks for when it opens an untranslated pinhole (`None` = wildcard).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinholeSpec {
    /// IP protocol of the expected flow.
    pub protocol: u8,
    /// Source address; `None`: any.
    pub src: Option<IpAddr>,
    /// Source port; `None`: any.
    pub src_port: Option<u16>,
    /// Destination address.
    pub dst: IpAddr,
    /// Destination port.
    pub dst_port: u16,
    /// How long the pinhole waits for its first packet.
    pub lifetime_secs: u32,
}

/// A packet handed to an ALG: the frame, writable in place, with its parse.
pub struct AlgPacket<'a> {
    buf: &'a mut [u8],
    len: &'a mut usize,
    parsed: &'a Parsed,
    payload_len: usize,
    delta: i64,
    rewritten: bool,
}

impl<'a> AlgPacket<'a> {
    /// `buf` is the frame buffer (its capacity may exceed `*len`: the payload may grow up to
    /// it); `parsed` its parse.
    pub fn new(buf: &'a mut [u8], len: &'a mut usize, parsed: &'a Parsed) -> Self {
        let payload_len = parsed
            .payload_len
            .min(buf.len().saturating_sub(parsed.payload_offset));
        AlgPacket {
            buf,
            len,
            parsed,
            payload_len,
            delta: 0,
            rewritten: false,
        }
    }

    /// The parse of the frame as it arrived (offsets before the payload stay valid).
    pub fn parsed(&self) -> &Parsed {
        self.parsed
    }

    /// The L4 payload as it is now.
    pub fn payload(&self) -> &[u8] {
        let o = self.parsed.payload_offset;
        &self.buf[o..o + self.payload_len]
    }

    /// TCP sequence number of the segment as it arrived.
    pub fn tcp_seq(&self) -> Option<u32> {
        match self.parsed.l4 {
            L4::Tcp { seq, .. } => Some(seq),
            _ => None,
        }
    }

    /// Bytes the payload grew by (negative: shrank) through [`Self::splice`].
    pub fn delta(&self) -> i64 {
        self.delta
    }

    /// True once a splice changed anything.
    pub fn rewritten(&self) -> bool {
        self.rewritten
    }

    /// Replaces payload bytes `range` with `new`, moving what follows, and fixes the IP
    /// length, the IPv4 header checksum, the UDP length and the L4 checksum (recomputed).
    /// Ethernet padding after the packet is dropped.
    pub fn splice(&mut self, range: Range<usize>, new: &[u8]) -> Result<(), AlgError> {
        if range.start > range.end || range.end > self.payload_len {
            return Err(AlgError::Malformed("splice range"));
        }
        if self.parsed.fragment != Fragment::None {
            return Err(AlgError::Fragmented);
        }
        if self.buf[self.parsed.payload_offset..][range.clone()] == *new {
            return Ok(());
        }
        let p = self.parsed;
        let (start, end) = (p.payload_offset + range.start, p.payload_offset + range.end);
        let ip_end = p.payload_offset + self.payload_len;
        let new_end = ip_end - (end - start) + new.len();
        if new_end > self.buf.len() || new_end - p.l3_offset > usize::from(u16::MAX) {
            return Err(AlgError::NoRoom);
        }
        self.buf.copy_within(end..ip_end, start + new.len());
        self.buf[start..start + new.len()].copy_from_slice(new);
        self.payload_len = new_end - p.payload_offset;
        self.delta += new.len() as i64 - (end - start) as i64;
        self.rewritten = true;
        *self.len = new_end;
        fix_lengths(&mut self.buf[..new_end], p);
        Ok(())
    }
}

/// After a payload change: IP total/payload length, IPv4 header checksum, UDP length, and
/// the TCP/UDP checksum recomputed over the new segment (RFC 1071).
fn fix_lengths(frame: &mut [u8], p: &Parsed) {
    let (l3, l4, end) = (p.l3_offset, p.l4_offset, frame.len());
    let put16 = |f: &mut [u8], at: usize, v: u16| f[at..at + 2].copy_from_slice(&v.to_be_bytes());
    let pseudo = match p.version {
        IpVersion::V4 => {
            put16(frame, l3 + 2, (end - l3) as u16);
            let ihl = usize::from(frame[l3] & 0x0f) * 4;
            put16(frame, l3 + 10, 0);
            let c = checksum::compute(&frame[l3..l3 + ihl]);
            put16(frame, l3 + 10, c);
            let s = checksum::sum(&frame[l3 + 12..l3 + 20], 0);
            checksum::combine(s, u32::from(p.key.proto) + (end - l4) as u32)
        }
        IpVersion::V6 => {
            put16(frame, l3 + 4, (end - l3 - 40) as u16);
            let s = checksum::sum(&frame[l3 + 8..l3 + 40], 0);
            let len = (end - l4) as u32;
            checksum::combine(
                checksum::combine(s, (len >> 16) + (len & 0xffff)),
                u32::from(p.key.proto),
            )
        }
    };
    let at = match p.l4 {
        L4::Tcp { .. } => l4 + 16,
        L4::Udp => {
            put16(frame, l4 + 4, (end - l4) as u16);
            if p.version == IpVersion::V4 && frame[l4 + 6..l4 + 8] == [0, 0] {
                return; // "no checksum" stays so (RFC 768)
            }
            l4 + 6
        }
        _ => return,
    };
    put16(frame, at, 0);
    let mut c = checksum::finish(checksum::sum(&frame[l4..end], pseudo));
    if c == 0 && p.key.proto == proto::UDP {
        c = 0xffff;
    }
    put16(frame, at, c);
}

/// Per-session ALG state.
pub trait AlgSession: Send {
    /// Whether this ALG may open pinholes: its sessions are then control (parent) sessions,
    /// flagged `0x2000` (`0x1000` for the RPC family) from the start. An ALG that only
    /// inspects (DNS, ICMP) leaves the flag off.
    fn opens_pinholes(&self) -> bool {
        true
    }

    /// Inspects (and may rewrite) one packet with payload on a Watch flow.
    fn on_packet(
        &mut self,
        ctx: &mut AlgContext<'_>,
        pkt: &mut AlgPacket<'_>,
    ) -> Result<AlgVerdict, AlgError>;
}

/// Creates ALG sessions. One registry is shared by every shard.
pub trait AlgRegistry: Send + Sync {
    /// A new ALG session for a session whose application protocol is `p`, with the flows
    /// to watch (`[I, O]`); `None` when there is no ALG for `p` (the session still shows
    /// `ALG: p` but runs as plain Forward). A TCP ALG that may change a payload's length
    /// watches both flows, so that the engine corrects every segment's seq and ack.
    fn create(
        &self,
        p: AppProtocol,
        first: &FlowKey,
        params: &AlgParams,
    ) -> Option<(Box<dyn AlgSession>, [bool; 2])>;
}

/// The registry with no ALGs.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAlgs;

impl AlgRegistry for NoAlgs {
    fn create(
        &self,
        _: AppProtocol,
        _: &FlowKey,
        _: &AlgParams,
    ) -> Option<(Box<dyn AlgSession>, [bool; 2])> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn call_ids_keep_the_wanted_one_when_free_and_split_between_shards() {
        let key = (ip("203.0.113.128"), ip("198.51.100.7"));
        let mut t = CallIds::default();
        assert_eq!(t.reserve(key, 7, (0, 1), (0, 1)), Some(7));
        assert_eq!(t.reserve(key, 7, (0, 2), (0, 1)), Some(8));
        // Another PAC or public address: its own space.
        let other = (ip("203.0.113.128"), ip("198.51.100.8"));
        assert_eq!(t.reserve(other, 7, (0, 2), (0, 1)), Some(7));
        // The search wraps.
        assert_eq!(t.reserve(key, 0, (0, 3), (0, 1)), Some(0));
        assert_eq!(t.reserve(key, 65_535, (0, 3), (0, 1)), Some(65_535));
        assert_eq!(t.reserve(key, 65_535, (0, 3), (0, 1)), Some(1));
        // Shard 1 of 3 hands out only ids ≡ 1 (mod 3).
        let mut s = CallIds::default();
        assert_eq!(s.reserve(key, 7, (0, 1), (1, 3)), Some(7));
        assert_eq!(s.reserve(key, 7, (0, 1), (1, 3)), Some(10));
        assert_eq!(s.reserve(key, 8, (0, 1), (1, 3)), Some(13));
        assert_eq!(s.reserve(key, 65_534, (0, 1), (1, 3)), Some(1));
        assert_eq!(s.reserve(key, 65_535, (0, 1), (1, 3)), Some(4));
        // Release: only by its holder; a whole session's at once.
        t.release(key, 8, (0, 1));
        assert_eq!(t.reserve(key, 8, (0, 4), (0, 1)), Some(9));
        t.release(key, 8, (0, 2));
        assert_eq!(t.reserve(key, 8, (0, 4), (0, 1)), Some(8));
        t.release_owner((0, 4));
        t.release_owner((0, 3));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn an_exhausted_call_id_search_fails() {
        let key = (ip("203.0.113.128"), ip("198.51.100.7"));
        let mut t = CallIds::default();
        for i in 0..CallIds::MAX_PROBES {
            assert_eq!(t.reserve(key, 100, (0, 1), (0, 1)), Some(100 + i as u16));
        }
        assert_eq!(t.reserve(key, 100, (0, 1), (0, 1)), None);
        // Outside the probed window there is room.
        assert_eq!(t.reserve(key, 5000, (0, 1), (0, 1)), Some(5000));
    }
}
