//! Layer 2 for the live dataplane, sans-IO: the ARP and IPv6 neighbor discovery
//! responders (interface and NAT pool addresses), the resolver with its neighbor table
//! (both families), and the MAC addresses a forwarded frame leaves with.
//!
//! Nothing here touches a socket or reads a clock: every entry point takes `now`, frames
//! waiting for resolution are opaque handles (`F`, a UMEM frame in the worker), and what
//! must be sent or freed comes out of [`L2::poll_output`].
//!
//! ARP follows RFC 826 ("Packet Reception"): a packet whose sender is already in the table
//! updates it; one whose target is an address of ours also creates the entry; a request for
//! one of our addresses is answered in place. Neighbor discovery (RFC 4861 §7.2.3-7.2.5)
//! is simplified the same way: a solicitation for one of our addresses (the interface
//! addresses and each port's EUI-64 link-local address) creates or updates its sender's
//! entry from the source link-layer option and is answered with a solicited advertisement;
//! other solicitations and advertisements update existing entries only (an advertisement
//! also completes an entry being resolved); duplicate address detection probes (unspecified
//! source) teach nothing. IPv6 next hops are resolved with multicast solicitations to the
//! solicited-node group, refreshed with unicast ones.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use mspic_config::Prefix;
use mspic_flow::{IfIndex, Policy, Time};

/// An Ethernet address.
pub use mspic_wire::arp::Mac;

/// The broadcast address.
pub const BROADCAST: Mac = [0xff; 6];

use mspic_wire::arp::{Arp, OP_REPLY, OP_REQUEST};
/// Frames shorter than this (without FCS) are padded.
pub use mspic_wire::ethernet::MIN_FRAME_LEN;
use mspic_wire::nd::{self, Nd, NdOp};

/// Tunables of the resolver. Times in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2Config {
    /// How long a resolved neighbor is used without a new ARP or ND packet from it. An entry
    /// that carried traffic since its last confirmation is then probed again; one that did
    /// not is removed.
    pub reachable_ns: u64,
    /// Time between ARP requests (neighbor solicitations) for one next hop.
    pub probe_interval_ns: u64,
    /// Requests sent for a next hop before giving up (its waiting frames are dropped).
    pub max_probes: u32,
    /// Frames waiting for one next hop; past this new frames are dropped.
    pub pending_per_hop: usize,
    /// Next hops being resolved at once; past this frames to new next hops are dropped.
    pub max_incomplete: usize,
    /// Neighbor entries at most (resolved and incomplete).
    pub max_neighbors: usize,
    /// ARP requests and neighbor solicitations sent per second at most (one token bucket
    /// of the same depth for both).
    pub requests_per_sec: u32,
}

impl Default for L2Config {
    fn default() -> Self {
        L2Config {
            // Junos' default ARP aging timer is 20 minutes.
            reachable_ns: 1_200 * 1_000_000_000,
            probe_interval_ns: 1_000_000_000,
            max_probes: 3,
            pending_per_hop: 16,
            max_incomplete: 256,
            max_neighbors: 16_384,
            requests_per_sec: 100,
        }
    }
}

/// One port as L2 sees it: its Junos name (`ge-0/0/0`, the physical name of the logical
/// interfaces on it) and its MAC address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub name: String,
    pub mac: Mac,
}

/// Why L2 dropped a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum L2Drop {
    /// The next hop's queue of frames waiting for resolution was full.
    PendingFull,
    /// The next hop did not answer ARP or neighbor solicitations.
    ResolutionTimeout,
    /// Too many next hops being resolved at once, or the neighbor table is full.
    TableFull,
    /// The egress interface is on no port of this runtime.
    NoPort,
}

/// Counters of one L2 instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct L2Counters {
    pub arp_requests_in: u64,
    pub arp_replies_in: u64,
    /// ARP packets ignored: malformed, not for IPv4 over Ethernet, from a group or our
    /// own MAC, or requests for addresses that are not ours.
    pub arp_ignored: u64,
    pub arp_replies_sent: u64,
    pub arp_requests_sent: u64,
    /// Requests not sent because of the rate limit.
    pub arp_rate_limited: u64,
    pub nd_solicitations_in: u64,
    pub nd_advertisements_in: u64,
    /// ND packets ignored: invalid (RFC 4861 §7.1), from a group or our own MAC, or
    /// solicitations for addresses that are not ours.
    pub nd_ignored: u64,
    pub nd_advertisements_sent: u64,
    pub nd_solicitations_sent: u64,
    /// Solicitations not sent because of the rate limit.
    pub nd_rate_limited: u64,
    /// Neighbor entries created or changed by ARP or ND received here.
    pub learned: u64,
    /// Neighbor entries updated from another worker.
    pub learned_remote: u64,
    /// Resolved entries removed by aging.
    pub aged: u64,
    /// Frames that waited for resolution.
    pub queued: u64,
    pub drop_pending_full: u64,
    pub drop_resolution_timeout: u64,
    pub drop_table_full: u64,
    pub drop_no_port: u64,
}

impl L2Counters {
    fn count_drop(&mut self, r: L2Drop) {
        match r {
            L2Drop::PendingFull => self.drop_pending_full += 1,
            L2Drop::ResolutionTimeout => self.drop_resolution_timeout += 1,
            L2Drop::TableFull => self.drop_table_full += 1,
            L2Drop::NoPort => self.drop_no_port += 1,
        }
    }

    /// Adds `o` to `self`.
    pub fn merge(&mut self, o: &L2Counters) {
        self.arp_requests_in += o.arp_requests_in;
        self.arp_replies_in += o.arp_replies_in;
        self.arp_ignored += o.arp_ignored;
        self.arp_replies_sent += o.arp_replies_sent;
        self.arp_requests_sent += o.arp_requests_sent;
        self.arp_rate_limited += o.arp_rate_limited;
        self.nd_solicitations_in += o.nd_solicitations_in;
        self.nd_advertisements_in += o.nd_advertisements_in;
        self.nd_ignored += o.nd_ignored;
        self.nd_advertisements_sent += o.nd_advertisements_sent;
        self.nd_solicitations_sent += o.nd_solicitations_sent;
        self.nd_rate_limited += o.nd_rate_limited;
        self.learned += o.learned;
        self.learned_remote += o.learned_remote;
        self.aged += o.aged;
        self.queued += o.queued;
        self.drop_pending_full += o.drop_pending_full;
        self.drop_resolution_timeout += o.drop_resolution_timeout;
        self.drop_table_full += o.drop_table_full;
        self.drop_no_port += o.drop_no_port;
    }

    /// Frames dropped while waiting for (or for want of) a next hop's MAC.
    pub fn drops(&self) -> u64 {
        self.drop_pending_full
            + self.drop_resolution_timeout
            + self.drop_table_full
            + self.drop_no_port
    }
}

/// What to do with a frame handed to [`L2::output`].
#[derive(Debug, PartialEq, Eq)]
pub enum Egress<F> {
    /// Send it now out of `port` with these MAC addresses.
    Send {
        port: u16,
        dst: Mac,
        src: Mac,
        frame: F,
    },
    /// L2 keeps it until the next hop is resolved (it comes back out of
    /// [`L2::poll_output`]).
    Queued,
    /// Drop it (counted).
    Drop { frame: F, reason: L2Drop },
}

/// What to do with an ARP or ND frame handed to [`L2::arp_input`] or [`L2::nd_input`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpAction {
    /// The frame now holds the reply (`len` bytes): send it out of the port it came in on.
    Reply { len: usize },
    /// Nothing to send; free the frame.
    Consumed,
}

/// Work for the caller, from [`L2::poll_output`].
#[derive(Debug, PartialEq, Eq)]
pub enum L2Output<F> {
    /// A frame that waited for resolution: send it.
    Send {
        port: u16,
        dst: Mac,
        src: Mac,
        frame: F,
    },
    /// A frame that waited and is dropped (counted).
    Drop { frame: F, reason: L2Drop },
    /// Send this ARP request or neighbor solicitation out of `port`.
    Request { port: u16, packet: RequestFrame },
    /// A neighbor learned from ARP or ND received here: tell the other workers
    /// ([`L2::learn_remote`]).
    Learned { port: u16, ip: IpAddr, mac: Mac },
}

/// An ARP request or a neighbor solicitation, built whole (it reads as its bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestFrame {
    buf: [u8; nd::MAX_FRAME_LEN],
    len: usize,
}

impl std::ops::Deref for RequestFrame {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

#[derive(Debug)]
enum State {
    Incomplete {
        since: Time,
        probes: u32,
        next_probe: Time,
    },
    Reachable {
        mac: Mac,
        confirmed: Time,
        used: Time,
        /// Probes sent since the entry went past its reachable time.
        probes: u32,
        next_probe: Time,
    },
}

#[derive(Debug)]
struct Neighbor<F> {
    state: State,
    queue: VecDeque<F>,
}

#[derive(Debug, Clone, Default)]
struct PortInfo {
    name: String,
    mac: Mac,
    /// IPv4 prefixes of the logical interfaces on this port.
    prefixes: Vec<Prefix>,
    /// IPv6 prefixes of the logical interfaces on this port.
    prefixes6: Vec<Prefix>,
    /// Interface addresses on this port (both families) and its link-local address.
    local: HashSet<IpAddr>,
}

/// The L2 state of one worker.
#[derive(Debug)]
pub struct L2<F> {
    cfg: L2Config,
    policy: Arc<Policy>,
    ports: Vec<PortInfo>,
    /// Port of each logical interface (by `IfIndex`).
    port_of: Vec<Option<u16>>,
    neighbors: HashMap<(u16, IpAddr), Neighbor<F>>,
    incomplete: usize,
    out: VecDeque<L2Output<F>>,
    tokens: u32,
    tokens_at: Time,
    next_check: Time,
    pub counters: L2Counters,
}

impl<F> L2<F> {
    pub fn new(cfg: L2Config, policy: Arc<Policy>, ports: &[PortSpec]) -> Self {
        let mut l2 = L2 {
            cfg,
            policy: Arc::clone(&policy),
            ports: ports
                .iter()
                .map(|p| PortInfo {
                    name: p.name.clone(),
                    mac: p.mac,
                    ..PortInfo::default()
                })
                .collect(),
            port_of: Vec::new(),
            neighbors: HashMap::new(),
            incomplete: 0,
            out: VecDeque::new(),
            tokens: cfg.requests_per_sec,
            tokens_at: Time::ZERO,
            next_check: Time::ZERO,
            counters: L2Counters::default(),
        };
        l2.set_policy(policy);
        l2
    }

    /// A new configuration: interface addresses and pools change, neighbors stay.
    pub fn set_policy(&mut self, policy: Arc<Policy>) {
        for p in &mut self.ports {
            p.prefixes.clear();
            p.prefixes6.clear();
            p.local.clear();
            p.local.insert(IpAddr::V6(nd::link_local(p.mac)));
        }
        self.port_of = vec![None; policy.interfaces.len()];
        for (i, f) in policy.interfaces.iter().enumerate() {
            let Some(pi) = self.ports.iter().position(|p| p.name == f.name) else {
                continue;
            };
            self.port_of[i] = Some(pi as u16);
            let port = &mut self.ports[pi];
            for pfx in &f.addresses {
                match pfx.addr {
                    IpAddr::V4(_) => port.prefixes.push(*pfx),
                    IpAddr::V6(_) => port.prefixes6.push(*pfx),
                }
                port.local.insert(pfx.addr);
            }
        }
        self.policy = policy;
    }

    /// The port a logical interface is on.
    pub fn port_of(&self, i: IfIndex) -> Option<u16> {
        self.port_of.get(i.0 as usize).copied().flatten()
    }

    /// MAC address of a port.
    pub fn port_mac(&self, port: u16) -> Option<Mac> {
        self.ports.get(port as usize).map(|p| p.mac)
    }

    /// Whether we answer ARP or ND for `a` on `port`: an address of an interface on the
    /// port, the port's link-local address, or an IPv4 NAT pool address inside one of the
    /// port's subnets.
    pub fn answers_for(&self, port: u16, a: impl Into<IpAddr>) -> bool {
        let a = a.into();
        let Some(p) = self.ports.get(port as usize) else {
            return false;
        };
        if p.local.contains(&a) {
            return true;
        }
        match a {
            IpAddr::V4(v4) => {
                self.policy.nat.pool_addrs.contains_key(&v4)
                    && p.prefixes.iter().any(|pfx| pfx.contains(a))
            }
            IpAddr::V6(_) => false,
        }
    }

    /// Whether some interface on a port has an IPv6 address.
    pub fn has_ipv6(&self) -> bool {
        self.ports.iter().any(|p| !p.prefixes6.is_empty())
    }

    /// Whether `a` is an address of ours on any port (IPv6 packets to it are consumed).
    pub fn is_local(&self, a: IpAddr) -> bool {
        (0..self.ports.len()).any(|p| self.answers_for(p as u16, a))
    }

    /// The resolved MAC of a neighbor, if any.
    pub fn neighbor(&self, port: u16, ip: impl Into<IpAddr>) -> Option<Mac> {
        match self.neighbors.get(&(port, ip.into()))?.state {
            State::Reachable { mac, .. } => Some(mac),
            State::Incomplete { .. } => None,
        }
    }

    /// Number of neighbor entries (resolved and incomplete).
    pub fn neighbor_count(&self) -> usize {
        self.neighbors.len()
    }

    /// Frames waiting for resolution.
    pub fn pending_frames(&self) -> usize {
        self.neighbors.values().map(|n| n.queue.len()).sum()
    }

    /// Next work produced by the calls above.
    pub fn poll_output(&mut self) -> Option<L2Output<F>> {
        self.out.pop_front()
    }

    /// An ARP frame received on `port` (`frame[..len]`; the buffer must hold at least
    /// [`MIN_FRAME_LEN`] bytes for a reply to be built in place).
    pub fn arp_input(&mut self, now: Time, port: u16, frame: &mut [u8], len: usize) -> ArpAction {
        let len = len.min(frame.len());
        let Some(our_mac) = self.port_mac(port) else {
            self.counters.arp_ignored += 1;
            return ArpAction::Consumed;
        };
        let Some(arp) = Arp::parse(&frame[..len]) else {
            self.counters.arp_ignored += 1;
            return ArpAction::Consumed;
        };
        let Arp {
            op, sha, spa, tpa, ..
        } = arp;
        match op {
            OP_REQUEST => self.counters.arp_requests_in += 1,
            OP_REPLY => self.counters.arp_replies_in += 1,
            _ => {
                self.counters.arp_ignored += 1;
                return ArpAction::Consumed;
            }
        }
        if sha[0] & 1 != 0 || sha == our_mac {
            self.counters.arp_ignored += 1;
            return ArpAction::Consumed;
        }
        let for_us = self.answers_for(port, tpa);
        // RFC 826: update an existing entry; create one only when we are the target.
        if !spa.is_unspecified() {
            self.learn_local(now, port, IpAddr::V4(spa), sha, for_us);
        }
        if op != OP_REQUEST || !for_us {
            if op == OP_REQUEST {
                self.counters.arp_ignored += 1;
            }
            return ArpAction::Consumed;
        }
        // The reply, in place.
        let Some(len) = arp.reply(our_mac).write(sha, frame) else {
            self.counters.arp_ignored += 1;
            return ArpAction::Consumed;
        };
        self.counters.arp_replies_sent += 1;
        ArpAction::Reply { len }
    }

    /// A neighbor solicitation or advertisement received on `port` (`frame[..len]`; the
    /// buffer must hold [`nd::MAX_FRAME_LEN`] bytes for an advertisement to be built in
    /// place). RFC 4861 §7.2.3 (solicitations), §7.2.4 (our answer), §7.2.5
    /// (advertisements), simplified as described in the module documentation.
    pub fn nd_input(&mut self, now: Time, port: u16, frame: &mut [u8], len: usize) -> ArpAction {
        let len = len.min(frame.len());
        let (Some(our_mac), Ok(nd)) = (self.port_mac(port), Nd::parse(&frame[..len])) else {
            self.counters.nd_ignored += 1;
            return ArpAction::Consumed;
        };
        let eth_src: Mac = [frame[6], frame[7], frame[8], frame[9], frame[10], frame[11]];
        match nd.op {
            NdOp::Solicitation => self.counters.nd_solicitations_in += 1,
            NdOp::Advertisement { .. } => self.counters.nd_advertisements_in += 1,
        }
        if eth_src[0] & 1 != 0 || eth_src == our_mac {
            self.counters.nd_ignored += 1;
            return ArpAction::Consumed;
        }
        match nd.op {
            NdOp::Solicitation => self.solicitation_in(now, port, nd, our_mac, eth_src, frame),
            NdOp::Advertisement { override_, .. } => {
                // §7.2.5: without the target's link-layer address there is nothing to
                // record; with the override flag clear an address that differs from the
                // cached one does not replace it.
                let keep =
                    |m: Mac| override_ || self.neighbor(port, nd.target).is_none_or(|c| c == m);
                match nd.lladdr.filter(|&m| keep(m)) {
                    Some(mac) => self.learn_local(now, port, IpAddr::V6(nd.target), mac, false),
                    None => self.counters.nd_ignored += 1,
                }
                ArpAction::Consumed
            }
        }
    }

    fn solicitation_in(
        &mut self,
        now: Time,
        port: u16,
        ns: Nd,
        our_mac: Mac,
        eth_src: Mac,
        frame: &mut [u8],
    ) -> ArpAction {
        let for_us = self.answers_for(port, ns.target);
        // §7.2.3: learn from the source link-layer option; a probe from the unspecified
        // address (duplicate address detection) teaches nothing.
        if let (false, Some(mac)) = (ns.src.is_unspecified(), ns.lladdr) {
            self.learn_local(now, port, IpAddr::V6(ns.src), mac, for_us);
        }
        if !for_us {
            self.counters.nd_ignored += 1;
            return ArpAction::Consumed;
        }
        let na = ns.answer(ns.target, our_mac);
        let eth_dst = if na.dst.is_multicast() {
            nd::multicast_mac(na.dst)
        } else {
            ns.lladdr.unwrap_or(eth_src)
        };
        match na.write(our_mac, eth_dst, frame) {
            Some(len) => {
                self.counters.nd_advertisements_sent += 1;
                ArpAction::Reply { len }
            }
            None => {
                self.counters.nd_ignored += 1;
                ArpAction::Consumed
            }
        }
    }

    /// `ip` at `mac` heard on `port`: updates an existing entry, creates one when `create`
    /// (the packet was for us), and tells the other workers (refreshes too: their copies
    /// must not age out while the neighbor answers here). Our own addresses are not
    /// learned.
    fn learn_local(&mut self, now: Time, port: u16, ip: IpAddr, mac: Mac, create: bool) {
        if self.answers_for(port, ip) {
            return;
        }
        if !create && !self.neighbors.contains_key(&(port, ip)) {
            return;
        }
        if let Some(changed) = self.learn(now, port, ip, mac) {
            self.counters.learned += u64::from(changed);
            self.out.push_back(L2Output::Learned { port, ip, mac });
        }
    }

    /// A neighbor learned by another worker.
    pub fn learn_remote(&mut self, now: Time, port: u16, ip: IpAddr, mac: Mac) {
        if (port as usize) < self.ports.len() && self.learn(now, port, ip, mac).is_some() {
            self.counters.learned_remote += 1;
        }
    }

    /// Records `ip` at `mac`; releases the frames waiting for it. `Some(true)` when the
    /// entry is new or changed, `Some(false)` for a refresh, `None` when the table is full.
    fn learn(&mut self, now: Time, port: u16, ip: IpAddr, mac: Mac) -> Option<bool> {
        let src = self.ports[port as usize].mac;
        let reachable = State::Reachable {
            mac,
            confirmed: now,
            used: now,
            probes: 0,
            next_probe: Time(now.0.saturating_add(self.cfg.reachable_ns)),
        };
        let Some(n) = self.neighbors.get_mut(&(port, ip)) else {
            if self.neighbors.len() >= self.cfg.max_neighbors {
                self.counters.drop_table_full += 1;
                return None;
            }
            self.neighbors.insert(
                (port, ip),
                Neighbor {
                    state: reachable,
                    queue: VecDeque::new(),
                },
            );
            return Some(true);
        };
        let changed = match n.state {
            State::Incomplete { .. } => {
                self.incomplete = self.incomplete.saturating_sub(1);
                n.state = reachable;
                true
            }
            State::Reachable {
                mac: old,
                ref mut confirmed,
                ref mut probes,
                ref mut next_probe,
                ..
            } => {
                *confirmed = now;
                *probes = 0;
                *next_probe = Time(now.0.saturating_add(self.cfg.reachable_ns));
                if old != mac {
                    n.state = reachable;
                }
                old != mac
            }
        };
        for frame in n.queue.drain(..) {
            self.out.push_back(L2Output::Send {
                port,
                dst: mac,
                src,
                frame,
            });
        }
        Some(changed)
    }

    /// A frame the engine forwards out of `egress` towards `next_hop`.
    pub fn output(&mut self, now: Time, egress: IfIndex, next_hop: IpAddr, frame: F) -> Egress<F> {
        let Some(port) = self.port_of(egress) else {
            self.counters.count_drop(L2Drop::NoPort);
            return Egress::Drop {
                frame,
                reason: L2Drop::NoPort,
            };
        };
        let ip = next_hop;
        let src = self.ports[port as usize].mac;
        let group = match ip {
            IpAddr::V4(a) if a.is_broadcast() || self.is_subnet_broadcast(port, a) => {
                Some(BROADCAST)
            }
            IpAddr::V6(a) if a.is_multicast() => Some(nd::multicast_mac(a)),
            _ => None,
        };
        if let Some(dst) = group {
            return Egress::Send {
                port,
                dst,
                src,
                frame,
            };
        }
        if let Some(n) = self.neighbors.get_mut(&(port, ip)) {
            match &mut n.state {
                State::Reachable { mac, used, .. } => {
                    *used = now;
                    return Egress::Send {
                        port,
                        dst: *mac,
                        src,
                        frame,
                    };
                }
                State::Incomplete { .. } => {
                    if n.queue.len() >= self.cfg.pending_per_hop {
                        self.counters.count_drop(L2Drop::PendingFull);
                        return Egress::Drop {
                            frame,
                            reason: L2Drop::PendingFull,
                        };
                    }
                    n.queue.push_back(frame);
                    self.counters.queued += 1;
                    return Egress::Queued;
                }
            }
        }
        if self.incomplete >= self.cfg.max_incomplete
            || self.neighbors.len() >= self.cfg.max_neighbors
        {
            self.counters.count_drop(L2Drop::TableFull);
            return Egress::Drop {
                frame,
                reason: L2Drop::TableFull,
            };
        }
        let mut queue = VecDeque::with_capacity(self.cfg.pending_per_hop.min(4));
        if self.cfg.pending_per_hop == 0 {
            self.counters.count_drop(L2Drop::PendingFull);
            self.start_resolution(now, port, ip, queue);
            return Egress::Drop {
                frame,
                reason: L2Drop::PendingFull,
            };
        }
        queue.push_back(frame);
        self.counters.queued += 1;
        self.start_resolution(now, port, ip, queue);
        Egress::Queued
    }

    fn start_resolution(&mut self, now: Time, port: u16, ip: IpAddr, queue: VecDeque<F>) {
        let mut probes = 0;
        if self.request(now, port, ip, None) {
            probes = 1;
        }
        self.neighbors.insert(
            (port, ip),
            Neighbor {
                state: State::Incomplete {
                    since: now,
                    probes,
                    next_probe: Time(now.0.saturating_add(self.cfg.probe_interval_ns)),
                },
                queue,
            },
        );
        self.incomplete += 1;
        self.next_check = self
            .next_check
            .min(Time(now.0 + self.cfg.probe_interval_ns));
    }

    fn is_subnet_broadcast(&self, port: u16, ip: Ipv4Addr) -> bool {
        self.ports[port as usize].prefixes.iter().any(|p| {
            p.len < 31 && p.contains(IpAddr::V4(ip)) && {
                let host_bits = 32 - u32::from(p.len);
                let mask = (1u32 << host_bits) - 1;
                u32::from(ip) & mask == mask
            }
        })
    }

    /// Takes a token of the request rate limit; false (counted) when there is none.
    fn take_token(&mut self, now: Time, v6: bool) -> bool {
        let elapsed = now.0.saturating_sub(self.tokens_at.0);
        let rate = u64::from(self.cfg.requests_per_sec);
        if rate > 0 && elapsed > 0 {
            let new = elapsed.saturating_mul(rate) / 1_000_000_000;
            if new > 0 {
                self.tokens = (u64::from(self.tokens) + new).min(rate) as u32;
                self.tokens_at = now;
            }
        }
        if self.tokens == 0 {
            if v6 {
                self.counters.nd_rate_limited += 1;
            } else {
                self.counters.arp_rate_limited += 1;
            }
            return false;
        }
        self.tokens -= 1;
        true
    }

    /// Emits an ARP request or a neighbor solicitation for `ip` on `port` (unicast to `to`
    /// when refreshing an entry), if the rate limit allows.
    fn request(&mut self, now: Time, port: u16, ip: IpAddr, to: Option<Mac>) -> bool {
        if !self.take_token(now, ip.is_ipv6()) {
            return false;
        }
        let packet = match ip {
            IpAddr::V4(a) => {
                self.counters.arp_requests_sent += 1;
                self.arp_request_frame(port, a, to)
            }
            IpAddr::V6(a) => {
                self.counters.nd_solicitations_sent += 1;
                self.solicitation_frame(port, a, to)
            }
        };
        self.out.push_back(L2Output::Request { port, packet });
        true
    }

    fn arp_request_frame(&self, port: u16, ip: Ipv4Addr, to: Option<Mac>) -> RequestFrame {
        let p = &self.ports[port as usize];
        let spa = p
            .prefixes
            .iter()
            .find(|pfx| pfx.contains(IpAddr::V4(ip)))
            .or(p.prefixes.first())
            .and_then(|pfx| match pfx.addr {
                IpAddr::V4(a) => Some(a),
                IpAddr::V6(_) => None,
            })
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        let mut f = RequestFrame {
            buf: [0; nd::MAX_FRAME_LEN],
            len: MIN_FRAME_LEN,
        };
        let arp = Arp {
            op: OP_REQUEST,
            sha: p.mac,
            spa,
            tha: [0; 6],
            tpa: ip,
        };
        let _ = arp.write(to.unwrap_or(BROADCAST), &mut f.buf);
        f
    }

    /// A solicitation for `ip` (RFC 4861 §7.2.2): to its solicited-node group, or unicast
    /// to `to` when refreshing; from our address on the target's subnet (the link-local
    /// address for a link-local target or a port without one), with our link-layer address.
    fn solicitation_frame(&self, port: u16, ip: Ipv6Addr, to: Option<Mac>) -> RequestFrame {
        let p = &self.ports[port as usize];
        let ll = nd::link_local(p.mac);
        let src = if nd::is_link_local(ip) {
            ll
        } else {
            p.prefixes6
                .iter()
                .find(|pfx| pfx.contains(IpAddr::V6(ip)))
                .or(p.prefixes6.first())
                .and_then(|pfx| match pfx.addr {
                    IpAddr::V6(a) => Some(a),
                    IpAddr::V4(_) => None,
                })
                .unwrap_or(ll)
        };
        let group = nd::solicited_node(ip);
        let ns = Nd {
            op: NdOp::Solicitation,
            src,
            dst: if to.is_some() { ip } else { group },
            target: ip,
            lladdr: Some(p.mac),
        };
        let mut f = RequestFrame {
            buf: [0; nd::MAX_FRAME_LEN],
            len: 0,
        };
        let eth_dst = to.unwrap_or_else(|| nd::multicast_mac(group));
        f.len = ns.write(p.mac, eth_dst, &mut f.buf).unwrap_or(0);
        f
    }

    /// Earliest time [`Self::handle_timeout`] has work (at least once a second while
    /// anything is in the table).
    pub fn poll_timeout(&self) -> Option<Time> {
        if self.neighbors.is_empty() {
            None
        } else {
            Some(self.next_check)
        }
    }

    /// Retries, resolution timeouts and aging.
    pub fn handle_timeout(&mut self, now: Time) {
        if now < self.next_check {
            return;
        }
        let cfg = self.cfg;
        let mut next = Time(now.0.saturating_add(1_000_000_000));
        let mut to_probe: Vec<(u16, IpAddr, Option<Mac>)> = Vec::new();
        let mut dead: Vec<(u16, IpAddr)> = Vec::new();
        for (&(port, ip), n) in self.neighbors.iter_mut() {
            match &mut n.state {
                State::Incomplete {
                    since,
                    probes,
                    next_probe,
                } => {
                    let give_up =
                        Time(since.0 + cfg.probe_interval_ns * u64::from(cfg.max_probes.max(1)));
                    if now >= give_up {
                        dead.push((port, ip));
                        continue;
                    }
                    if now >= *next_probe {
                        if *probes < cfg.max_probes {
                            to_probe.push((port, ip, None));
                            *probes += 1;
                        }
                        *next_probe = Time(now.0 + cfg.probe_interval_ns);
                    }
                    next = next.min(*next_probe).min(give_up);
                }
                State::Reachable {
                    mac,
                    confirmed,
                    used,
                    probes,
                    next_probe,
                } => {
                    let stale_at = Time(confirmed.0.saturating_add(cfg.reachable_ns));
                    if now < stale_at {
                        next = next.min(stale_at);
                        continue;
                    }
                    // Past its reachable time: unused entries go, used ones are probed.
                    if *used <= *confirmed || *probes >= cfg.max_probes {
                        dead.push((port, ip));
                        continue;
                    }
                    if now >= *next_probe {
                        to_probe.push((port, ip, Some(*mac)));
                        *probes += 1;
                        *next_probe = Time(now.0 + cfg.probe_interval_ns);
                    }
                    next = next.min(*next_probe);
                }
            }
        }
        for (port, ip) in dead {
            if let Some(n) = self.neighbors.remove(&(port, ip)) {
                match n.state {
                    State::Incomplete { .. } => {
                        self.incomplete = self.incomplete.saturating_sub(1);
                        for frame in n.queue {
                            self.counters.count_drop(L2Drop::ResolutionTimeout);
                            self.out.push_back(L2Output::Drop {
                                frame,
                                reason: L2Drop::ResolutionTimeout,
                            });
                        }
                    }
                    State::Reachable { .. } => self.counters.aged += 1,
                }
            }
        }
        for (port, ip, to) in to_probe {
            self.request(now, port, ip, to);
        }
        self.next_check = next;
    }
}

/// `arp` as a 60-byte frame to `eth_dst` (tests and tools).
fn arp_frame(arp: Arp, eth_dst: Mac) -> [u8; MIN_FRAME_LEN] {
    let mut b = [0u8; MIN_FRAME_LEN];
    let _ = arp.write(eth_dst, &mut b);
    b
}

/// Builds an ARP request frame (tests and tools).
pub fn arp_request(sha: Mac, spa: Ipv4Addr, tpa: Ipv4Addr) -> [u8; MIN_FRAME_LEN] {
    let (op, tha) = (OP_REQUEST, [0; 6]);
    arp_frame(
        Arp {
            op,
            sha,
            spa,
            tha,
            tpa,
        },
        BROADCAST,
    )
}

/// Builds an ARP reply frame from `sha`/`spa` to `tha`/`tpa` (tests and tools).
pub fn arp_reply(sha: Mac, spa: Ipv4Addr, tha: Mac, tpa: Ipv4Addr) -> [u8; MIN_FRAME_LEN] {
    arp_frame(
        Arp {
            op: OP_REPLY,
            sha,
            spa,
            tha,
            tpa,
        },
        tha,
    )
}

/// Fields of an ARP frame (tests and counters): (opcode, sha, spa, tha, tpa).
pub fn parse_arp(f: &[u8]) -> Option<(u16, Mac, Ipv4Addr, Mac, Ipv4Addr)> {
    Arp::parse(f).map(|a| (a.op, a.sha, a.spa, a.tha, a.tpa))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUR_IN: Mac = [0x02, 0, 0, 0, 0, 0x01];
    const OUR_OUT: Mac = [0x02, 0, 0, 0, 0, 0x02];
    const CLIENT: Mac = [0x0a, 0, 0, 0, 0, 0x02];
    const SERVER: Mac = [0x0a, 0, 0, 0, 0, 0x03];
    const S: u64 = 1_000_000_000;

    fn policy() -> Arc<Policy> {
        let text = include_str!("../../../docs/examples/testbed.conf");
        let cfg = mspic_config::parse(text, "testbed.conf").expect("testbed config parses");
        Arc::new(Policy::compile(&cfg).expect("compiles"))
    }

    fn l2(cfg: L2Config) -> L2<u32> {
        L2::new(
            cfg,
            policy(),
            &[
                PortSpec {
                    name: "ge-0/0/0".into(),
                    mac: OUR_IN,
                },
                PortSpec {
                    name: "ge-0/0/1".into(),
                    mac: OUR_OUT,
                },
            ],
        )
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn outputs<F>(l: &mut L2<F>) -> Vec<L2Output<F>> {
        std::iter::from_fn(|| l.poll_output()).collect()
    }

    #[test]
    fn arp_requests_in_and_replies_out() {
        // (name, port, sender ip, target ip, answered)
        let table: &[(&str, u16, &str, &str, bool)] = &[
            ("interface address", 0, "10.0.0.2", "10.0.0.1", true),
            ("other port's address", 0, "10.0.0.2", "203.0.113.1", false),
            (
                "pool address on its port",
                1,
                "203.0.113.2",
                "203.0.113.200",
                true,
            ),
            (
                "pool address, wrong port",
                0,
                "10.0.0.2",
                "203.0.113.200",
                false,
            ),
            (
                "address outside the pool",
                1,
                "203.0.113.2",
                "203.0.113.100",
                false,
            ),
            ("another host", 0, "10.0.0.2", "10.0.0.3", false),
            ("probe from 0.0.0.0", 0, "0.0.0.0", "10.0.0.1", true),
        ];
        for &(name, port, spa, tpa, answered) in table {
            let mut l = l2(L2Config::default());
            let mut f = arp_request(CLIENT, ip(spa), ip(tpa)).to_vec();
            let len = f.len();
            let a = l.arp_input(Time::ZERO, port, &mut f, len);
            if !answered {
                assert_eq!(a, ArpAction::Consumed, "{name}");
                continue;
            }
            assert_eq!(a, ArpAction::Reply { len: 60 }, "{name}");
            let mac = if port == 0 { OUR_IN } else { OUR_OUT };
            let (op, sha, rspa, tha, rtpa) = parse_arp(&f).unwrap();
            assert_eq!(
                (op, sha, rspa, tha, rtpa),
                (2, mac, ip(tpa), CLIENT, ip(spa)),
                "{name}"
            );
            assert_eq!(&f[0..6], &CLIENT, "{name}: to the requester");
            assert_eq!(&f[6..12], &mac, "{name}: from our port");
            assert_eq!(l.counters.arp_replies_sent, 1, "{name}");
        }
    }

    #[test]
    fn a_request_for_us_teaches_the_sender() {
        let mut l = l2(L2Config::default());
        let mut f = arp_request(CLIENT, ip("10.0.0.2"), ip("10.0.0.1")).to_vec();
        l.arp_input(Time::ZERO, 0, &mut f, 60);
        assert_eq!(l.neighbor(0, ip("10.0.0.2")), Some(CLIENT));
        assert_eq!(
            outputs(&mut l),
            vec![L2Output::Learned {
                port: 0,
                ip: ip("10.0.0.2").into(),
                mac: CLIENT
            }]
        );
        // A request between two other hosts teaches nothing (RFC 826: no entry created).
        let mut f = arp_request(SERVER, ip("10.0.0.3"), ip("10.0.0.4")).to_vec();
        l.arp_input(Time::ZERO, 0, &mut f, 60);
        assert_eq!(l.neighbor(0, ip("10.0.0.3")), None);
        // ... but it updates an entry that exists.
        let mut f = arp_request(SERVER, ip("10.0.0.2"), ip("10.0.0.4")).to_vec();
        l.arp_input(Time::ZERO, 0, &mut f, 60);
        assert_eq!(l.neighbor(0, ip("10.0.0.2")), Some(SERVER));
        // Every update and refresh is told to the other workers (their copies must not
        // age out while the neighbor answers here); only changes count as learned.
        let mut f = arp_request(SERVER, ip("10.0.0.2"), ip("10.0.0.1")).to_vec();
        l.arp_input(Time(1), 0, &mut f, 60);
        let learned = outputs(&mut l)
            .into_iter()
            .filter(|o| matches!(o, L2Output::Learned { mac: SERVER, .. }))
            .count();
        assert_eq!(learned, 2);
        assert_eq!(l.counters.learned, 2);
    }

    #[test]
    fn ignored_arp() {
        let mut l = l2(L2Config::default());
        // Truncated.
        let mut f = arp_request(CLIENT, ip("10.0.0.2"), ip("10.0.0.1")).to_vec();
        assert_eq!(l.arp_input(Time::ZERO, 0, &mut f, 30), ArpAction::Consumed);
        // From our own MAC (a loop).
        let mut f = arp_request(OUR_IN, ip("10.0.0.2"), ip("10.0.0.1")).to_vec();
        assert_eq!(l.arp_input(Time::ZERO, 0, &mut f, 60), ArpAction::Consumed);
        // Unknown port.
        let mut f = arp_request(CLIENT, ip("10.0.0.2"), ip("10.0.0.1")).to_vec();
        assert_eq!(l.arp_input(Time::ZERO, 9, &mut f, 60), ArpAction::Consumed);
        assert_eq!(l.counters.arp_ignored, 3);
        assert_eq!(l.neighbor_count(), 0);
    }

    #[test]
    fn resolution_flow() {
        let mut l = l2(L2Config::default());
        let egress = IfIndex(1); // ge-0/0/1.0
        let nh = IpAddr::V4(ip("203.0.113.2"));
        assert_eq!(l.output(Time::ZERO, egress, nh, 1), Egress::Queued);
        assert_eq!(l.output(Time::ZERO, egress, nh, 2), Egress::Queued);
        let out = outputs(&mut l);
        assert_eq!(out.len(), 1, "one request for two frames");
        let L2Output::Request { port, packet } = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(*port, 1);
        let (op, sha, spa, _, tpa) = parse_arp(packet).unwrap();
        assert_eq!(
            (op, sha, spa, tpa),
            (1, OUR_OUT, ip("203.0.113.1"), ip("203.0.113.2"))
        );
        assert_eq!(&packet[0..6], &BROADCAST);
        // The reply resolves the next hop and releases both frames in order.
        let mut r = arp_reply(SERVER, ip("203.0.113.2"), OUR_OUT, ip("203.0.113.1")).to_vec();
        assert_eq!(l.arp_input(Time(5), 1, &mut r, 60), ArpAction::Consumed);
        let out = outputs(&mut l);
        assert_eq!(
            out,
            vec![
                L2Output::Send {
                    port: 1,
                    dst: SERVER,
                    src: OUR_OUT,
                    frame: 1
                },
                L2Output::Send {
                    port: 1,
                    dst: SERVER,
                    src: OUR_OUT,
                    frame: 2
                },
                L2Output::Learned {
                    port: 1,
                    ip: ip("203.0.113.2").into(),
                    mac: SERVER
                },
            ]
        );
        // Now frames go straight out.
        assert_eq!(
            l.output(Time(6), egress, nh, 3),
            Egress::Send {
                port: 1,
                dst: SERVER,
                src: OUR_OUT,
                frame: 3
            }
        );
        assert_eq!(l.pending_frames(), 0);
    }

    #[test]
    fn resolution_retries_then_times_out() {
        let cfg = L2Config::default();
        let mut l = l2(cfg);
        let nh = IpAddr::V4(ip("10.0.0.9"));
        assert_eq!(l.output(Time::ZERO, IfIndex(0), nh, 7), Egress::Queued);
        let mut requests = outputs(&mut l).len();
        let mut t = 0;
        let mut dropped = Vec::new();
        while t <= 5 * S {
            t += S / 4;
            if l.poll_timeout().is_some_and(|d| d <= Time(t)) {
                l.handle_timeout(Time(t));
            }
            for o in outputs(&mut l) {
                match o {
                    L2Output::Request { .. } => requests += 1,
                    L2Output::Drop { frame, reason } => dropped.push((t, frame, reason)),
                    o => panic!("{o:?}"),
                }
            }
        }
        assert_eq!(requests, cfg.max_probes as usize);
        assert_eq!(dropped, vec![(3 * S, 7, L2Drop::ResolutionTimeout)]);
        assert_eq!(l.counters.drop_resolution_timeout, 1);
        assert_eq!(l.neighbor_count(), 0);
        // A later frame starts over.
        assert_eq!(l.output(Time(6 * S), IfIndex(0), nh, 8), Egress::Queued);
    }

    #[test]
    fn pending_queue_is_bounded() {
        let cfg = L2Config {
            pending_per_hop: 3,
            max_incomplete: 2,
            ..L2Config::default()
        };
        let mut l = l2(cfg);
        let nh = |s: &str| IpAddr::V4(ip(s));
        for f in 0..3 {
            assert_eq!(
                l.output(Time::ZERO, IfIndex(0), nh("10.0.0.5"), f),
                Egress::Queued
            );
        }
        assert_eq!(
            l.output(Time::ZERO, IfIndex(0), nh("10.0.0.5"), 3),
            Egress::Drop {
                frame: 3,
                reason: L2Drop::PendingFull
            }
        );
        assert_eq!(
            l.output(Time::ZERO, IfIndex(0), nh("10.0.0.6"), 4),
            Egress::Queued
        );
        assert_eq!(
            l.output(Time::ZERO, IfIndex(0), nh("10.0.0.7"), 5),
            Egress::Drop {
                frame: 5,
                reason: L2Drop::TableFull
            }
        );
        assert_eq!(l.pending_frames(), 4);
        assert_eq!(l.counters.drop_pending_full, 1);
        assert_eq!(l.counters.drop_table_full, 1);
        // Resolving one frees its slot for another next hop.
        let mut r = arp_reply(CLIENT, ip("10.0.0.5"), OUR_IN, ip("10.0.0.1")).to_vec();
        l.arp_input(Time(1), 0, &mut r, 60);
        assert_eq!(
            l.output(Time(1), IfIndex(0), nh("10.0.0.7"), 6),
            Egress::Queued
        );
    }

    #[test]
    fn request_rate_limit() {
        let cfg = L2Config {
            requests_per_sec: 2,
            ..L2Config::default()
        };
        let mut l = l2(cfg);
        for (i, h) in ["10.0.0.10", "10.0.0.11", "10.0.0.12"].iter().enumerate() {
            l.output(Time::ZERO, IfIndex(0), IpAddr::V4(ip(h)), i as u32);
        }
        let reqs = outputs(&mut l)
            .into_iter()
            .filter(|o| matches!(o, L2Output::Request { .. }))
            .count();
        assert_eq!(reqs, 2);
        assert_eq!(l.counters.arp_rate_limited, 1);
        // A second later the third next hop gets its request from the retry timer.
        l.handle_timeout(Time(S));
        let reqs = outputs(&mut l)
            .into_iter()
            .filter(|o| matches!(o, L2Output::Request { .. }))
            .count();
        assert_eq!(reqs, 2);
    }

    #[test]
    fn aging() {
        let cfg = L2Config {
            reachable_ns: 10 * S,
            ..L2Config::default()
        };
        let mut l = l2(cfg);
        let learn = |l: &mut L2<u32>, t: u64, h: &str| {
            let mut f = arp_request(CLIENT, ip(h), ip("10.0.0.1")).to_vec();
            l.arp_input(Time(t), 0, &mut f, 60);
        };
        learn(&mut l, 0, "10.0.0.2"); // idle
        learn(&mut l, 0, "10.0.0.3"); // in use
        let _ = outputs(&mut l);
        assert!(matches!(
            l.output(Time(S), IfIndex(0), IpAddr::V4(ip("10.0.0.3")), 1),
            Egress::Send { .. }
        ));
        l.handle_timeout(Time(10 * S));
        // The idle entry aged out; the used one is probed (unicast) and kept for now.
        assert_eq!(l.neighbor(0, ip("10.0.0.2")), None);
        assert_eq!(l.neighbor(0, ip("10.0.0.3")), Some(CLIENT));
        let out = outputs(&mut l);
        let [L2Output::Request { packet, .. }] = &out[..] else {
            panic!("{out:?}")
        };
        assert_eq!(&packet[0..6], &CLIENT, "refresh probes are unicast");
        // A reply confirms it again.
        let mut r = arp_reply(CLIENT, ip("10.0.0.3"), OUR_IN, ip("10.0.0.1")).to_vec();
        l.arp_input(Time(11 * S), 0, &mut r, 60);
        l.handle_timeout(Time(15 * S));
        assert_eq!(l.neighbor(0, ip("10.0.0.3")), Some(CLIENT));
        // Unanswered probes remove it.
        l.output(Time(16 * S), IfIndex(0), IpAddr::V4(ip("10.0.0.3")), 2);
        for t in 21..=30 {
            l.handle_timeout(Time(t * S));
        }
        assert_eq!(l.neighbor(0, ip("10.0.0.3")), None);
        assert_eq!(l.counters.aged, 2);
    }

    #[test]
    fn remote_learning_resolves_waiting_frames() {
        let mut l = l2(L2Config::default());
        let nh = IpAddr::V4(ip("203.0.113.2"));
        assert_eq!(l.output(Time::ZERO, IfIndex(1), nh, 9), Egress::Queued);
        let _ = outputs(&mut l);
        l.learn_remote(Time(1), 1, ip("203.0.113.2").into(), SERVER);
        assert_eq!(
            outputs(&mut l),
            vec![L2Output::Send {
                port: 1,
                dst: SERVER,
                src: OUR_OUT,
                frame: 9
            }]
        );
        assert_eq!(l.counters.learned_remote, 1);
    }

    #[test]
    fn broadcast_multicast_and_portless_next_hops() {
        let mut l = l2(L2Config::default());
        assert_eq!(
            l.output(Time::ZERO, IfIndex(0), IpAddr::V4(ip("10.0.0.255")), 1),
            Egress::Send {
                port: 0,
                dst: BROADCAST,
                src: OUR_IN,
                frame: 1
            }
        );
        assert_eq!(
            l.output(Time::ZERO, IfIndex(0), "ff02::fb".parse().unwrap(), 2),
            Egress::Send {
                port: 0,
                dst: [0x33, 0x33, 0, 0, 0, 0xfb],
                src: OUR_IN,
                frame: 2
            }
        );
        assert_eq!(
            l.output(Time::ZERO, IfIndex(2), IpAddr::V4(ip("10.0.0.2")), 3),
            Egress::Drop {
                frame: 3,
                reason: L2Drop::NoPort
            }
        );
    }

    /// The dual-stack testbed configuration: 2001:db8:10::1/64 on ge-0/0/0.0,
    /// 2001:db8:ff::1/64 on ge-0/0/1.0.
    fn l2_dual(cfg: L2Config) -> L2<u32> {
        let text = include_str!("../../../docs/examples/testbed-dual-stack.conf");
        let c = mspic_config::parse(text, "testbed-dual-stack.conf").expect("parses");
        let policy = Arc::new(Policy::compile(&c).expect("compiles"));
        let mut l = l2(cfg);
        l.set_policy(policy);
        l
    }

    fn v6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    /// A neighbor solicitation from `mac`/`src` for `target` (to its solicited-node group).
    fn ns(mac: Mac, src: Ipv6Addr, target: Ipv6Addr, opt: bool) -> Vec<u8> {
        let group = nd::solicited_node(target);
        let p = Nd {
            op: NdOp::Solicitation,
            src,
            dst: group,
            target,
            lladdr: opt.then_some(mac),
        };
        let mut b = vec![0u8; 256];
        let n = p.write(mac, nd::multicast_mac(group), &mut b).unwrap();
        b.truncate(n);
        b
    }

    /// A neighbor advertisement from `mac` for `target` to `dst`.
    fn na(mac: Mac, target: Ipv6Addr, dst: Ipv6Addr, solicited: bool, override_: bool) -> Vec<u8> {
        let p = Nd {
            op: NdOp::Advertisement {
                router: false,
                solicited,
                override_,
            },
            src: target,
            dst,
            target,
            lladdr: Some(mac),
        };
        let mut b = vec![0u8; 256];
        let n = p.write(mac, OUR_OUT, &mut b).unwrap();
        b.truncate(n);
        b
    }

    fn nd_in(l: &mut L2<u32>, t: u64, port: u16, f: &mut Vec<u8>) -> ArpAction {
        let len = f.len();
        f.resize(256, 0);
        l.nd_input(Time(t), port, f, len)
    }

    #[test]
    fn solicitations_for_our_addresses_are_answered() {
        let host = v6("2001:db8:10::2");
        let ll_in = v6("fe80::ff:fe00:1"); // EUI-64 of 02:00:00:00:00:01
                                           // (name, port, source, target, answered)
        let table: &[(&str, u16, Ipv6Addr, Ipv6Addr, bool)] = &[
            ("interface address", 0, host, v6("2001:db8:10::1"), true),
            ("link-local address", 0, v6("fe80::2"), ll_in, true),
            ("other port's address", 0, host, v6("2001:db8:ff::1"), false),
            (
                "other port's link-local",
                0,
                host,
                v6("fe80::ff:fe00:2"),
                false,
            ),
            ("another host", 0, host, v6("2001:db8:10::3"), false),
        ];
        for &(name, port, src, target, answered) in table {
            let mut l = l2_dual(L2Config::default());
            let mut f = ns(CLIENT, src, target, true);
            let a = nd_in(&mut l, 0, port, &mut f);
            if !answered {
                assert_eq!(a, ArpAction::Consumed, "{name}");
                assert_eq!(l.counters.nd_ignored, 1, "{name}");
                continue;
            }
            let ArpAction::Reply { len } = a else {
                panic!("{name}: {a:?}")
            };
            let reply = Nd::parse(&f[..len]).expect("a valid advertisement");
            assert_eq!(
                reply,
                Nd {
                    op: NdOp::Advertisement {
                        router: true,
                        solicited: true,
                        override_: true
                    },
                    src: target,
                    dst: src,
                    target,
                    lladdr: Some(OUR_IN),
                },
                "{name}"
            );
            assert_eq!((&f[0..6], &f[6..12]), (&CLIENT[..], &OUR_IN[..]), "{name}");
            assert_eq!(l.counters.nd_advertisements_sent, 1, "{name}");
            // RFC 4861 §7.2.3: the solicitation for us created the sender's entry.
            assert_eq!(l.neighbor(port, src), Some(CLIENT), "{name}");
        }
    }

    #[test]
    fn duplicate_address_probes_are_answered_to_all_nodes_and_teach_nothing() {
        let mut l = l2_dual(L2Config::default());
        let ours = v6("2001:db8:10::1");
        let mut f = ns(CLIENT, Ipv6Addr::UNSPECIFIED, ours, false);
        let ArpAction::Reply { len } = nd_in(&mut l, 0, 0, &mut f) else {
            panic!("our address is defended")
        };
        let reply = Nd::parse(&f[..len]).unwrap();
        assert_eq!(reply.dst, nd::ALL_NODES);
        assert!(matches!(
            reply.op,
            NdOp::Advertisement {
                solicited: false,
                ..
            }
        ));
        assert_eq!(&f[0..6], &[0x33, 0x33, 0, 0, 0, 1]);
        // A probe for another host's tentative address: nothing to do.
        let mut f = ns(CLIENT, Ipv6Addr::UNSPECIFIED, v6("2001:db8:10::9"), false);
        assert_eq!(nd_in(&mut l, 0, 0, &mut f), ArpAction::Consumed);
        assert_eq!(l.neighbor_count(), 0);
        assert!(outputs(&mut l).is_empty());
    }

    #[test]
    fn advertisements_update_existing_entries_only() {
        let mut l = l2_dual(L2Config::default());
        let host = v6("2001:db8:ff::2");
        let ours = v6("2001:db8:ff::1");
        // Unsolicited, for an unknown neighbor: no entry (RFC 4861 §7.2.5).
        let mut f = na(SERVER, host, nd::ALL_NODES, false, true);
        assert_eq!(nd_in(&mut l, 0, 1, &mut f), ArpAction::Consumed);
        assert_eq!(l.neighbor(1, host), None);
        // A solicitation from the host for us creates it.
        let mut f = ns(SERVER, host, ours, true);
        nd_in(&mut l, 0, 1, &mut f);
        assert_eq!(l.neighbor(1, host), Some(SERVER));
        // Without the override flag a different address does not replace it ...
        let mut f = na(CLIENT, host, ours, true, false);
        nd_in(&mut l, 1, 1, &mut f);
        assert_eq!(l.neighbor(1, host), Some(SERVER));
        // ... with it, it does, and the other workers hear of it.
        let mut f = na(CLIENT, host, ours, true, true);
        nd_in(&mut l, 2, 1, &mut f);
        assert_eq!(l.neighbor(1, host), Some(CLIENT));
        let learned: Vec<_> = outputs(&mut l)
            .into_iter()
            .filter(|o| matches!(o, L2Output::Learned { .. }))
            .collect();
        assert_eq!(
            learned.last(),
            Some(&L2Output::Learned {
                port: 1,
                ip: IpAddr::V6(host),
                mac: CLIENT
            })
        );
        assert_eq!(l.counters.nd_advertisements_in, 3);
        assert_eq!(l.counters.nd_solicitations_in, 1);
        // Invalid ND (hop limit 64) and our own MAC are ignored.
        let mut f = na(SERVER, host, ours, true, true);
        f[14 + 7] = 64;
        nd_in(&mut l, 3, 1, &mut f);
        let mut f = na(OUR_OUT, host, ours, true, true);
        nd_in(&mut l, 3, 1, &mut f);
        assert_eq!(
            l.counters.nd_ignored, 3,
            "the override-less one + the two above"
        );
        assert_eq!(l.neighbor(1, host), Some(CLIENT));
    }

    #[test]
    fn ipv6_resolution_flow() {
        let mut l = l2_dual(L2Config::default());
        let nh = v6("2001:db8:ff::2");
        assert_eq!(
            l.output(Time::ZERO, IfIndex(1), nh.into(), 1),
            Egress::Queued
        );
        assert_eq!(
            l.output(Time::ZERO, IfIndex(1), nh.into(), 2),
            Egress::Queued
        );
        let out = outputs(&mut l);
        let [L2Output::Request { port: 1, packet }] = &out[..] else {
            panic!("{out:?}")
        };
        // RFC 4861 §7.2.2: to the solicited-node group, from our address on the subnet,
        // with our link-layer address.
        assert_eq!(&packet[0..6], &[0x33, 0x33, 0xff, 0, 0, 2]);
        assert_eq!(
            Nd::parse(packet),
            Ok(Nd {
                op: NdOp::Solicitation,
                src: v6("2001:db8:ff::1"),
                dst: v6("ff02::1:ff00:2"),
                target: nh,
                lladdr: Some(OUR_OUT),
            })
        );
        assert_eq!(l.counters.nd_solicitations_sent, 1);
        // The solicited advertisement completes the entry and releases both frames.
        let mut f = na(SERVER, nh, v6("2001:db8:ff::1"), true, true);
        assert_eq!(nd_in(&mut l, 5, 1, &mut f), ArpAction::Consumed);
        let sends: Vec<_> = outputs(&mut l)
            .into_iter()
            .filter_map(|o| match o {
                L2Output::Send { dst, frame, .. } => Some((dst, frame)),
                _ => None,
            })
            .collect();
        assert_eq!(sends, vec![(SERVER, 1), (SERVER, 2)]);
        assert_eq!(
            l.output(Time(6), IfIndex(1), nh.into(), 3),
            Egress::Send {
                port: 1,
                dst: SERVER,
                src: OUR_OUT,
                frame: 3
            }
        );
    }

    #[test]
    fn ipv6_resolution_times_out_and_probes_unicast_when_stale() {
        let cfg = L2Config {
            reachable_ns: 10 * S,
            ..L2Config::default()
        };
        let mut l = l2_dual(cfg);
        let nh = IpAddr::V6(v6("2001:db8:10::9"));
        assert_eq!(l.output(Time::ZERO, IfIndex(0), nh, 7), Egress::Queued);
        for t in 1..=4 {
            l.handle_timeout(Time(t * S));
        }
        let out = outputs(&mut l);
        let requests = out
            .iter()
            .filter(|o| matches!(o, L2Output::Request { .. }))
            .count();
        assert_eq!(requests, cfg.max_probes as usize);
        assert!(out.contains(&L2Output::Drop {
            frame: 7,
            reason: L2Drop::ResolutionTimeout
        }));
        // A learned, used neighbor past its reachable time is probed by unicast.
        let host = v6("2001:db8:10::2");
        let mut f = ns(CLIENT, host, v6("2001:db8:10::1"), true);
        nd_in(&mut l, 5 * S, 0, &mut f);
        l.output(Time(6 * S), IfIndex(0), host.into(), 8);
        let _ = outputs(&mut l);
        l.handle_timeout(Time(15 * S));
        let out = outputs(&mut l);
        let [L2Output::Request { packet, .. }] = &out[..] else {
            panic!("{out:?}")
        };
        assert_eq!(&packet[0..6], &CLIENT);
        assert_eq!(Nd::parse(packet).map(|n| n.dst), Ok(host));
    }

    #[test]
    fn solicitations_share_the_rate_limit() {
        let cfg = L2Config {
            requests_per_sec: 2,
            ..L2Config::default()
        };
        let mut l = l2_dual(cfg);
        l.output(Time::ZERO, IfIndex(0), IpAddr::V4(ip("10.0.0.10")), 0);
        l.output(Time::ZERO, IfIndex(0), v6("2001:db8:10::10").into(), 1);
        l.output(Time::ZERO, IfIndex(0), v6("2001:db8:10::11").into(), 2);
        assert_eq!(l.counters.arp_requests_sent, 1);
        assert_eq!(l.counters.nd_solicitations_sent, 1);
        assert_eq!(l.counters.nd_rate_limited, 1);
    }
}
