//! Layer 2 for the live dataplane, sans-IO: the ARP responder (interface and NAT pool
//! addresses), the ARP resolver with its neighbor table, and the MAC addresses a forwarded
//! frame leaves with.
//!
//! Nothing here touches a socket or reads a clock: every entry point takes `now`, frames
//! waiting for resolution are opaque handles (`F`, a UMEM frame in the worker), and what
//! must be sent or freed comes out of [`L2::poll_output`]. IPv4 only: IPv6 neighbor
//! discovery is not implemented (IPv6 next hops are counted and dropped).
//!
//! ARP follows RFC 826 ("Packet Reception"): a packet whose sender is already in the table
//! updates it; one whose target is an address of ours also creates the entry; a request for
//! one of our addresses is answered in place.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
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

/// Tunables of the resolver. Times in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2Config {
    /// How long a resolved neighbor is used without a new ARP packet from it. An entry
    /// that carried traffic since its last confirmation is then probed again; one that did
    /// not is removed.
    pub reachable_ns: u64,
    /// Time between ARP requests for one next hop.
    pub probe_interval_ns: u64,
    /// Requests sent for a next hop before giving up (its waiting frames are dropped).
    pub max_probes: u32,
    /// Frames waiting for one next hop; past this new frames are dropped.
    pub pending_per_hop: usize,
    /// Next hops being resolved at once; past this frames to new next hops are dropped.
    pub max_incomplete: usize,
    /// Neighbor entries at most (resolved and incomplete).
    pub max_neighbors: usize,
    /// ARP requests sent per second at most (token bucket of the same depth).
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
    /// The next hop did not answer ARP.
    ResolutionTimeout,
    /// Too many next hops being resolved at once, or the neighbor table is full.
    TableFull,
    /// The egress interface is on no port of this runtime.
    NoPort,
    /// IPv6 next hop: neighbor discovery is not implemented.
    Ipv6Unsupported,
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
    /// Neighbor entries created or changed by ARP received here.
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
    pub drop_ipv6: u64,
}

impl L2Counters {
    fn count_drop(&mut self, r: L2Drop) {
        match r {
            L2Drop::PendingFull => self.drop_pending_full += 1,
            L2Drop::ResolutionTimeout => self.drop_resolution_timeout += 1,
            L2Drop::TableFull => self.drop_table_full += 1,
            L2Drop::NoPort => self.drop_no_port += 1,
            L2Drop::Ipv6Unsupported => self.drop_ipv6 += 1,
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
        self.learned += o.learned;
        self.learned_remote += o.learned_remote;
        self.aged += o.aged;
        self.queued += o.queued;
        self.drop_pending_full += o.drop_pending_full;
        self.drop_resolution_timeout += o.drop_resolution_timeout;
        self.drop_table_full += o.drop_table_full;
        self.drop_no_port += o.drop_no_port;
        self.drop_ipv6 += o.drop_ipv6;
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

/// What to do with an ARP frame handed to [`L2::arp_input`].
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
    /// Send this ARP request out of `port`.
    Request {
        port: u16,
        packet: [u8; MIN_FRAME_LEN],
    },
    /// A neighbor learned from ARP received here: tell the other workers
    /// ([`L2::learn_remote`]).
    Learned { port: u16, ip: Ipv4Addr, mac: Mac },
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
    local: HashSet<Ipv4Addr>,
}

/// The L2 state of one worker.
#[derive(Debug)]
pub struct L2<F> {
    cfg: L2Config,
    policy: Arc<Policy>,
    ports: Vec<PortInfo>,
    /// Port of each logical interface (by `IfIndex`).
    port_of: Vec<Option<u16>>,
    neighbors: HashMap<(u16, Ipv4Addr), Neighbor<F>>,
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
            p.local.clear();
        }
        self.port_of = vec![None; policy.interfaces.len()];
        for (i, f) in policy.interfaces.iter().enumerate() {
            let Some(pi) = self.ports.iter().position(|p| p.name == f.name) else {
                continue;
            };
            self.port_of[i] = Some(pi as u16);
            let port = &mut self.ports[pi];
            for pfx in &f.addresses {
                if let IpAddr::V4(a) = pfx.addr {
                    port.prefixes.push(*pfx);
                    port.local.insert(a);
                }
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

    /// Whether we answer ARP for `a` on `port`: an address of an interface on the port,
    /// or a NAT pool address inside one of the port's subnets.
    pub fn answers_for(&self, port: u16, a: Ipv4Addr) -> bool {
        let Some(p) = self.ports.get(port as usize) else {
            return false;
        };
        if p.local.contains(&a) {
            return true;
        }
        self.policy.nat.pool_addrs.contains_key(&a)
            && p.prefixes.iter().any(|pfx| pfx.contains(IpAddr::V4(a)))
    }

    /// The resolved MAC of a neighbor, if any.
    pub fn neighbor(&self, port: u16, ip: Ipv4Addr) -> Option<Mac> {
        match self.neighbors.get(&(port, ip))?.state {
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
        if !spa.is_unspecified() && !self.answers_for(port, spa) {
            let exists = self.neighbors.contains_key(&(port, spa));
            if exists || for_us {
                if let Some(changed) = self.learn(now, port, spa, sha) {
                    self.counters.learned += u64::from(changed);
                    // Refreshes too: the other workers' copies must not age out while
                    // the neighbor answers here.
                    self.out.push_back(L2Output::Learned {
                        port,
                        ip: spa,
                        mac: sha,
                    });
                }
            }
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

    /// A neighbor learned by another worker.
    pub fn learn_remote(&mut self, now: Time, port: u16, ip: Ipv4Addr, mac: Mac) {
        if (port as usize) < self.ports.len() && self.learn(now, port, ip, mac).is_some() {
            self.counters.learned_remote += 1;
        }
    }

    /// Records `ip` at `mac`; releases the frames waiting for it. `Some(true)` when the
    /// entry is new or changed, `Some(false)` for a refresh, `None` when the table is full.
    fn learn(&mut self, now: Time, port: u16, ip: Ipv4Addr, mac: Mac) -> Option<bool> {
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
        let ip = match next_hop {
            IpAddr::V4(a) => a,
            IpAddr::V6(_) => {
                self.counters.count_drop(L2Drop::Ipv6Unsupported);
                return Egress::Drop {
                    frame,
                    reason: L2Drop::Ipv6Unsupported,
                };
            }
        };
        let src = self.ports[port as usize].mac;
        if ip.is_broadcast() || self.is_subnet_broadcast(port, ip) {
            return Egress::Send {
                port,
                dst: BROADCAST,
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

    fn start_resolution(&mut self, now: Time, port: u16, ip: Ipv4Addr, queue: VecDeque<F>) {
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

    /// Emits an ARP request for `ip` on `port` (unicast to `to` when refreshing an entry),
    /// if the rate limit allows.
    fn request(&mut self, now: Time, port: u16, ip: Ipv4Addr, to: Option<Mac>) -> bool {
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
            self.counters.arp_rate_limited += 1;
            return false;
        }
        self.tokens -= 1;
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
        let packet = arp_frame(
            Arp {
                op: OP_REQUEST,
                sha: p.mac,
                spa,
                tha: [0; 6],
                tpa: ip,
            },
            to.unwrap_or(BROADCAST),
        );
        self.counters.arp_requests_sent += 1;
        self.out.push_back(L2Output::Request { port, packet });
        true
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
        let mut to_probe: Vec<(u16, Ipv4Addr, Option<Mac>)> = Vec::new();
        let mut dead: Vec<(u16, Ipv4Addr)> = Vec::new();
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

/// `arp` as a 60-byte frame to `eth_dst`.
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
                ip: ip("10.0.0.2"),
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
                    ip: ip("203.0.113.2"),
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
        l.learn_remote(Time(1), 1, ip("203.0.113.2"), SERVER);
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
    fn broadcast_and_unsupported_next_hops() {
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
            l.output(Time::ZERO, IfIndex(0), "2001:db8::1".parse().unwrap(), 2),
            Egress::Drop {
                frame: 2,
                reason: L2Drop::Ipv6Unsupported
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
}
