//! Kernel steering: loads `bpf/steer.bpf.c` (the XDP program `mspic_steer`), fills its
//! maps from the compiled NAT policy, registers AF_XDP sockets, attaches the program to
//! the PIC's netdevs, and reads its counters.
//!
//! The program computes the owner shard of every frame with the owner function of
//! [`mspic_flow::owner`] (a constant-for-constant port; `tests/xdp_steer.rs` checks the
//! two agree on thousands of random frames), writes a [`SteerMeta`] just before the
//! frame with `bpf_xdp_adjust_meta`, and redirects the frame to the AF_XDP socket
//! registered for (port, receive queue): XSKMAP key `port * MAX_QUEUES + queue`.
//!
//! What it does with each kind of frame:
//!
//! | frame | metadata | action |
//! |---|---|---|
//! | IPv4 / IPv6 | owner shard, offsets, [`flags::IPV4`]/[`flags::IPV6`], [`flags::L4`] | redirect |
//! | ICMP error | owner of the quoted packet's reply direction, [`flags::ICMP_ERROR`] | redirect |
//! | non-first fragment | owner = receiving queue, [`flags::LATER_FRAG`] | redirect |
//! | ARP | owner = receiving queue, [`flags::ARP`] | redirect |
//! | malformed Ethernet/IP | owner = receiving queue, [`flags::PARSE_ERROR`] | redirect |
//! | any other ethertype | none | `XDP_PASS` |
//! | any frame, no socket registered for (port, queue) | (as above) | `XDP_PASS` |
//! | any frame, ifindex not a declared port, or queue ≥ 64 | none | `XDP_PASS` |
//! | `bpf_xdp_adjust_meta` failed | none | `XDP_PASS` |
//!
//! Passing to the kernel is harmless: the PIC's netdevs carry no kernel addresses. Every
//! decision is counted ([`SteerCounters`]); `redirected` counts frames whose XSKMAP
//! lookup succeeded (a socket bound to another queue still drops them, counted by the
//! socket).
//!
//! Attachments are bpf_links ([`XdpLink`]): they detach when dropped or when the process
//! dies. A program attached through netlink (by hand, or by an older daemon) outlives
//! its process; [`remove_stale`] removes one named `mspic_steer`.

mod sys;

#[allow(clippy::all, clippy::pedantic, missing_docs, unsafe_op_in_unsafe_fn)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/steer.skel.rs"));
}

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{ErrorKind, MapCore, MapFlags, MapMut, OpenObject, ProgramInput};
use mspic_config::Prefix;

use skel::{SteerSkel, SteerSkelBuilder};

/// Receive queues per port (the XSKMAP key is `port * MAX_QUEUES + queue`).
pub const MAX_QUEUES: u32 = 64;
/// Ports (netdevs) one program serves.
pub const MAX_PORTS: u32 = 64;
/// Capacity of the pool address map.
pub const MAX_POOL_ADDRS: usize = 1 << 20;
/// Capacity of each static mapping map (expanded addresses).
pub const MAX_STATIC: usize = 1 << 20;
/// Capacity of each pinned-prefix trie (IPv4 and IPv6).
pub const MAX_PINNED: usize = 16384;
/// Name of the XDP program, as the kernel reports it.
pub const PROG_NAME: &str = "mspic_steer";

/// [`SteerMeta::flags`] bits (`STEER_F_*` in `bpf/steer.h`).
pub mod flags {
    /// IPv4 packet (`l3_off` valid).
    pub const IPV4: u16 = 0x0001;
    /// IPv6 packet (`l3_off` valid).
    pub const IPV6: u16 = 0x0002;
    /// `l4_off` points at the L4 header (every IP packet but a later fragment).
    pub const L4: u16 = 0x0004;
    /// Non-first fragment: the owner is the receiving queue; userspace resolves it.
    pub const LATER_FRAG: u16 = 0x0008;
    /// ICMP/ICMPv6 error: the owner is that of the quoted packet.
    pub const ICMP_ERROR: u16 = 0x0010;
    /// ARP frame: the owner is the receiving queue.
    pub const ARP: u16 = 0x0020;
    /// Malformed frame: the owner is the receiving queue; userspace counts it.
    pub const PARSE_ERROR: u16 = 0x0040;
    /// One 802.1Q tag (`l3_off` is 18).
    pub const VLAN: u16 = 0x0080;
    /// First fragment (MF set, offset 0).
    pub const FIRST_FRAG: u16 = 0x0100;
    /// Owner from a source-NAT pool address (by port or by address index).
    pub const POOL: u16 = 0x0200;
    /// Owner from a pinned internal host's address.
    pub const PINNED: u16 = 0x0400;
    /// An address was normalized by a static (basic-nat44 / dnat-44) mapping.
    pub const STATIC: u16 = 0x0800;

    /// Every flag with its `bpf/steer.h` name.
    pub const ALL: [(&str, u16); 12] = [
        ("STEER_F_IPV4", IPV4),
        ("STEER_F_IPV6", IPV6),
        ("STEER_F_L4", L4),
        ("STEER_F_LATER_FRAG", LATER_FRAG),
        ("STEER_F_ICMP_ERROR", ICMP_ERROR),
        ("STEER_F_ARP", ARP),
        ("STEER_F_PARSE_ERROR", PARSE_ERROR),
        ("STEER_F_VLAN", VLAN),
        ("STEER_F_FIRST_FRAG", FIRST_FRAG),
        ("STEER_F_POOL", POOL),
        ("STEER_F_PINNED", PINNED),
        ("STEER_F_STATIC", STATIC),
    ];
}

/// The metadata block `mspic_steer` writes just before the frame (host byte order). In
/// an AF_XDP rx descriptor it occupies the [`SteerMeta::LEN`] bytes before `addr`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SteerMeta {
    /// Owner shard.
    pub owner: u16,
    /// Offset of the IP (or ARP) header in the frame.
    pub l3_off: u16,
    /// Offset of the L4 header (valid with [`flags::L4`]).
    pub l4_off: u16,
    /// [`flags`] bits.
    pub flags: u16,
}

impl SteerMeta {
    /// Size of the block.
    pub const LEN: usize = 8;

    /// Decodes the block from its bytes.
    pub fn from_bytes(b: [u8; Self::LEN]) -> Self {
        let f = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        SteerMeta {
            owner: f(0),
            l3_off: f(2),
            l4_off: f(4),
            flags: f(6),
        }
    }

    /// The block that ends where the frame starts: `buf[frame_start - LEN..frame_start]`.
    pub fn before(buf: &[u8], frame_start: usize) -> Option<Self> {
        let start = frame_start.checked_sub(Self::LEN)?;
        let b: [u8; Self::LEN] = buf.get(start..frame_start)?.try_into().ok()?;
        Some(Self::from_bytes(b))
    }

    /// True if every bit of `f` is set.
    pub fn has(&self, f: u16) -> bool {
        self.flags & f == f
    }
}

/// The NAT facts the owner function needs, in the form the BPF maps hold them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SteerConfig {
    /// Number of shards (workers).
    pub shards: u32,
    /// Source-NAT pool addresses: (address, NAPT pool, index in its pool).
    pub pool_addrs: Vec<(Ipv4Addr, bool, u32)>,
    /// basic-nat44: (pool address, internal address), first mapping wins.
    pub static_src: Vec<(Ipv4Addr, Ipv4Addr)>,
    /// dnat-44: (internal address, public address), first mapping wins.
    pub static_dst: Vec<(Ipv4Addr, Ipv4Addr)>,
    /// Prefixes whose hosts are pinned to one shard.
    pub pinned: Vec<Prefix>,
}

impl SteerConfig {
    /// The facts of `p.nat` ([`mspic_flow::nat::NatPolicy`]): pool addresses, the static
    /// maps expanded address by address exactly as `StaticMap::backward` answers (so
    /// that `NatPolicy::normalize` and the kernel agree), and the pinned prefixes.
    pub fn from_policy(p: &mspic_flow::Policy, shards: u32) -> Self {
        let nat = &p.nat;
        let mut pool_addrs: Vec<(Ipv4Addr, bool, u32)> = nat
            .pool_addrs
            .iter()
            .filter_map(|(&a, &(pool, idx))| {
                let napt = nat.pools.get(usize::from(pool))?.ports.is_some();
                Some((a, napt, idx))
            })
            .collect();
        pool_addrs.sort_unstable();
        let expand = |maps: &[mspic_flow::nat::StaticMap]| {
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for m in maps {
                let IpAddr::V4(net) = m.from.network().addr else {
                    continue;
                };
                for (i, &to) in m.to.iter().enumerate() {
                    let Some(from) = u32::try_from(i)
                        .ok()
                        .and_then(|i| u32::from(net).checked_add(i))
                    else {
                        break;
                    };
                    // `backward` answers with the first position of an address, and
                    // `normalize` with the first map that knows it.
                    if seen.insert(to) {
                        out.push((to, Ipv4Addr::from(from)));
                    }
                }
            }
            out
        };
        let mut pinned: Vec<Prefix> = Vec::new();
        for pre in &nat.pinned {
            let n = clamp(pre.network());
            if !pinned.contains(&n) {
                pinned.push(n);
            }
        }
        SteerConfig {
            shards,
            pool_addrs,
            static_src: expand(&nat.static_src),
            static_dst: expand(&nat.static_dst),
            pinned,
        }
    }
}

fn clamp(p: Prefix) -> Prefix {
    Prefix {
        addr: p.addr,
        len: p.len.min(p.max_len()),
    }
}

/// How the program is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpMode {
    /// In the driver (`XDP_FLAGS_DRV_MODE`); veth and most NICs support it.
    Native,
    /// Generic XDP on the skb path (`XDP_FLAGS_SKB_MODE`); slower, and it misreports the
    /// receive queue on veth.
    Skb,
}

impl XdpMode {
    fn flags(self) -> u32 {
        match self {
            XdpMode::Native => libbpf_rs::libbpf_sys::XDP_FLAGS_DRV_MODE,
            XdpMode::Skb => libbpf_rs::libbpf_sys::XDP_FLAGS_SKB_MODE,
        }
    }
}

impl fmt::Display for XdpMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            XdpMode::Native => "native",
            XdpMode::Skb => "skb (generic)",
        })
    }
}

/// Errors of the steering loader.
#[derive(Debug, thiserror::Error)]
pub enum XdpError {
    /// The process lacks CAP_BPF / CAP_NET_ADMIN.
    #[error("{op}: permission denied (needs CAP_BPF and CAP_NET_ADMIN, or root)")]
    Permission {
        /// What was being done.
        op: String,
    },
    /// Opening or loading the BPF object failed (verifier, missing kernel feature).
    #[error("loading the XDP program {PROG_NAME}: {0}")]
    Load(#[source] libbpf_rs::Error),
    /// Attaching to a netdev failed.
    #[error("attaching {PROG_NAME} to {netdev} (ifindex {ifindex}) in {mode} mode: {source}{}", attach_hint(.source, *.mode))]
    Attach {
        /// Interface name (or `?` if it has none).
        netdev: String,
        /// Interface index.
        ifindex: u32,
        /// Requested mode.
        mode: XdpMode,
        /// The kernel's answer.
        source: io::Error,
    },
    /// Detaching from a netdev failed.
    #[error("detaching the XDP program from {netdev} (ifindex {ifindex}): {source}{}", detach_hint(.source))]
    Detach {
        /// Interface name (or `?`).
        netdev: String,
        /// Interface index.
        ifindex: u32,
        /// The kernel's answer.
        source: io::Error,
    },
    /// A map update, delete or lookup failed.
    #[error("BPF map {map}: {op}: {source}")]
    Map {
        /// Map name.
        map: &'static str,
        /// What was being done.
        op: &'static str,
        /// libbpf's error.
        source: libbpf_rs::Error,
    },
    /// The configuration does not fit a map.
    #[error("BPF map {map} holds at most {max} entries, the configuration needs {needed}")]
    MapFull {
        /// Map name.
        map: &'static str,
        /// Capacity.
        max: usize,
        /// Entries needed.
        needed: usize,
    },
    /// An argument out of range.
    #[error("{0}")]
    InvalidArgument(String),
    /// No interface of that name.
    #[error("no network interface named {0:?}")]
    NoSuchDevice(String),
    /// BPF_PROG_TEST_RUN failed.
    #[error("BPF_PROG_TEST_RUN of {PROG_NAME}: {0}")]
    TestRun(#[source] libbpf_rs::Error),
    /// Querying the program attached to a netdev failed.
    #[error("querying the XDP program of ifindex {ifindex}: {source}")]
    Query {
        /// Interface index.
        ifindex: u32,
        /// The kernel's answer.
        source: io::Error,
    },
}

fn attach_hint(e: &io::Error, mode: XdpMode) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            " (needs CAP_BPF and CAP_NET_ADMIN, or root)"
        }
        Some(libc::EOPNOTSUPP) if mode == XdpMode::Native => {
            " (the driver has no native XDP: try skb mode)"
        }
        Some(libc::EBUSY) | Some(libc::EEXIST) => {
            " (another XDP program is attached: a stale one of mspicd can be removed with remove_stale)"
        }
        Some(libc::ERANGE) => " (MTU too large for XDP on this driver)",
        _ => "",
    }
}

fn detach_hint(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EBUSY) => {
            " (it is held by a bpf_link of a running process, another mspicd perhaps: not stale)"
        }
        _ => "",
    }
}

fn netdev_name(ifindex: u32) -> String {
    crate::netdev::name(ifindex).unwrap_or_else(|| "?".into())
}

fn load_error(e: libbpf_rs::Error, op: &str) -> XdpError {
    if e.kind() == ErrorKind::PermissionDenied {
        XdpError::Permission { op: op.to_string() }
    } else {
        XdpError::Load(e)
    }
}

fn map_error(map: &'static str, op: &'static str) -> impl FnOnce(libbpf_rs::Error) -> XdpError {
    move |source| {
        if source.kind() == ErrorKind::PermissionDenied {
            XdpError::Permission {
                op: format!("BPF map {map}: {op}"),
            }
        } else {
            XdpError::Map { map, op, source }
        }
    }
}

/// An attachment of `mspic_steer` to a netdev through a bpf_link: the program is
/// detached when this is dropped (or when the process exits).
#[derive(Debug)]
pub struct XdpLink {
    fd: OwnedFd,
    ifindex: u32,
    mode: XdpMode,
}

impl XdpLink {
    /// Interface index the program is attached to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Attach mode.
    pub fn mode(&self) -> XdpMode {
        self.mode
    }

    /// Detaches now (dropping does the same).
    pub fn detach(self) {
        drop(self)
    }
}

impl AsFd for XdpLink {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// What the program returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpAction {
    /// `XDP_ABORTED`.
    Aborted,
    /// `XDP_DROP`.
    Drop,
    /// `XDP_PASS`.
    Pass,
    /// `XDP_TX`.
    Tx,
    /// `XDP_REDIRECT`.
    Redirect,
    /// Anything else.
    Other(u32),
}

impl From<u32> for XdpAction {
    fn from(v: u32) -> Self {
        match v {
            0 => XdpAction::Aborted,
            1 => XdpAction::Drop,
            2 => XdpAction::Pass,
            3 => XdpAction::Tx,
            4 => XdpAction::Redirect,
            v => XdpAction::Other(v),
        }
    }
}

/// The result of a [`XdpProgram::test_run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRun {
    /// The program's verdict.
    pub action: XdpAction,
    /// The metadata block, if the program wrote one.
    pub meta: Option<SteerMeta>,
    /// The frame as the program left it.
    pub frame: Vec<u8>,
}

/// Counters of the program, summed over CPUs (`STEER_C_*` in `bpf/steer.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SteerCounters {
    /// Frames seen.
    pub rx: u64,
    /// Frames redirected into an AF_XDP socket.
    pub redirected: u64,
    /// Passed to the kernel: no socket registered for (port, queue).
    pub pass_no_socket: u64,
    /// Passed to the kernel: the ingress ifindex is not a registered port.
    pub pass_no_port: u64,
    /// Passed to the kernel: receive queue ≥ [`MAX_QUEUES`].
    pub pass_bad_queue: u64,
    /// Passed to the kernel: neither IP nor ARP.
    pub pass_other: u64,
    /// Passed to the kernel: `bpf_xdp_adjust_meta` failed.
    pub meta_fail: u64,
    /// ARP frames.
    pub arp: u64,
    /// IPv4 frames.
    pub ipv4: u64,
    /// IPv6 frames.
    pub ipv6: u64,
    /// 802.1Q-tagged frames.
    pub vlan: u64,
    /// Malformed frames.
    pub parse_error: u64,
    /// Non-first fragments.
    pub later_fragment: u64,
    /// ICMP errors.
    pub icmp_error: u64,
    /// Owner from a pool address.
    pub pool: u64,
    /// Owner from a pinned host.
    pub pinned: u64,
    /// Owner from the symmetric tuple hash.
    pub hashed: u64,
    /// Packets with an address normalized by a static mapping.
    pub static_normalized: u64,
    /// Owner 0 because there is one shard.
    pub single_shard: u64,
}

/// Counter indices (`STEER_C_*`), in the order of [`SteerCounters`]' fields.
pub const COUNTERS: [&str; 19] = [
    "STEER_C_RX",
    "STEER_C_REDIRECTED",
    "STEER_C_PASS_NO_SOCKET",
    "STEER_C_PASS_NO_PORT",
    "STEER_C_PASS_BAD_QUEUE",
    "STEER_C_PASS_OTHER",
    "STEER_C_META_FAIL",
    "STEER_C_ARP",
    "STEER_C_IPV4",
    "STEER_C_IPV6",
    "STEER_C_VLAN",
    "STEER_C_PARSE_ERROR",
    "STEER_C_LATER_FRAG",
    "STEER_C_ICMP_ERROR",
    "STEER_C_POOL",
    "STEER_C_PINNED",
    "STEER_C_HASHED",
    "STEER_C_STATIC",
    "STEER_C_SINGLE_SHARD",
];

impl SteerCounters {
    fn from_array(v: [u64; COUNTERS.len()]) -> Self {
        let [rx, redirected, pass_no_socket, pass_no_port, pass_bad_queue, pass_other, meta_fail, arp, ipv4, ipv6, vlan, parse_error, later_fragment, icmp_error, pool, pinned, hashed, static_normalized, single_shard] =
            v;
        SteerCounters {
            rx,
            redirected,
            pass_no_socket,
            pass_no_port,
            pass_bad_queue,
            pass_other,
            meta_fail,
            arp,
            ipv4,
            ipv6,
            vlan,
            parse_error,
            later_fragment,
            icmp_error,
            pool,
            pinned,
            hashed,
            static_normalized,
            single_shard,
        }
    }
}

/// The loaded steering program and its maps.
pub struct XdpProgram {
    skel: SteerSkel<'static>,
}

impl fmt::Debug for XdpProgram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XdpProgram").finish_non_exhaustive()
    }
}

const ZERO: [u8; 4] = [0; 4];

/// Entries of one hash map: key bytes → value bytes.
type Entries = HashMap<Vec<u8>, Vec<u8>>;

fn lpm_key(p: &Prefix) -> Vec<u8> {
    let p = clamp(p.network());
    let mut k = u32::from(p.len).to_ne_bytes().to_vec();
    match p.addr {
        IpAddr::V4(a) => k.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => k.extend_from_slice(&a.octets()),
    }
    k
}

impl XdpProgram {
    /// Opens and loads the program (verifier included) and fills its maps from `cfg`.
    /// Attach it with [`XdpProgram::attach`] after registering ports and sockets.
    ///
    /// The skeleton borrows a small object slot for its whole life; each load leaks that
    /// slot (a few bytes), since a loaded program lives as long as the daemon.
    pub fn load(cfg: &SteerConfig) -> Result<Self, XdpError> {
        let slot: &'static mut MaybeUninit<OpenObject> = Box::leak(Box::new(MaybeUninit::uninit()));
        let open = SteerSkelBuilder::default()
            .open(slot)
            .map_err(|e| load_error(e, "opening the XDP program"))?;
        let skel = open
            .load()
            .map_err(|e| load_error(e, "loading the XDP program"))?;
        let mut prog = XdpProgram { skel };
        prog.update(cfg)?;
        Ok(prog)
    }

    /// Rewrites the NAT maps and the shard count for a new configuration: new entries
    /// are written first and stale ones deleted after, so a frame never sees a map
    /// emptier than both the old and the new configuration. (Frames steered during the
    /// update may use a mix of both; the receiving worker re-checks ownership.)
    pub fn update(&mut self, cfg: &SteerConfig) -> Result<(), XdpError> {
        if cfg.shards == 0 || cfg.shards > u32::from(u16::MAX) {
            return Err(XdpError::InvalidArgument(format!(
                "shard count {} is out of range 1..=65535",
                cfg.shards
            )));
        }
        let mut pools = Entries::new();
        for &(a, napt, idx) in &cfg.pool_addrs {
            let mut v = idx.to_ne_bytes().to_vec();
            v.extend_from_slice(&u32::from(napt).to_ne_bytes());
            pools.entry(a.octets().to_vec()).or_insert(v);
        }
        let pairs = |v: &[(Ipv4Addr, Ipv4Addr)]| {
            let mut m = Entries::new();
            for &(k, to) in v {
                m.entry(k.octets().to_vec()).or_insert(to.octets().to_vec());
            }
            m
        };
        let static_src = pairs(&cfg.static_src);
        let static_dst = pairs(&cfg.static_dst);
        let (mut pin4, mut pin6) = (Entries::new(), Entries::new());
        for p in &cfg.pinned {
            let target = if p.addr.is_ipv4() {
                &mut pin4
            } else {
                &mut pin6
            };
            target.insert(lpm_key(p), vec![1]);
        }
        for (map, n, max) in [
            ("pool_addrs", pools.len(), MAX_POOL_ADDRS),
            ("static_src", static_src.len(), MAX_STATIC),
            ("static_dst", static_dst.len(), MAX_STATIC),
            ("pinned_v4", pin4.len(), MAX_PINNED),
            ("pinned_v6", pin6.len(), MAX_PINNED),
        ] {
            if n > max {
                return Err(XdpError::MapFull {
                    map,
                    max,
                    needed: n,
                });
            }
        }
        let maps = &self.skel.maps;
        sync_map(&maps.pool_addrs, "pool_addrs", &pools)?;
        sync_map(&maps.static_src, "static_src", &static_src)?;
        sync_map(&maps.static_dst, "static_dst", &static_dst)?;
        sync_map(&maps.pinned_v4, "pinned_v4", &pin4)?;
        sync_map(&maps.pinned_v6, "pinned_v6", &pin6)?;
        let mut conf = cfg.shards.to_ne_bytes().to_vec();
        conf.extend_from_slice(&0u32.to_ne_bytes());
        maps.config
            .update(&ZERO, &conf, MapFlags::ANY)
            .map_err(map_error("config", "update"))?;
        Ok(())
    }

    /// Declares `ifindex` a PIC port with index `port_index` (< [`MAX_PORTS`]); frames
    /// on an undeclared ifindex are passed to the kernel.
    pub fn set_port(&mut self, ifindex: u32, port_index: u32) -> Result<(), XdpError> {
        if port_index >= MAX_PORTS {
            return Err(XdpError::InvalidArgument(format!(
                "port index {port_index} is out of range (at most {} ports)",
                MAX_PORTS
            )));
        }
        self.skel
            .maps
            .ports
            .update(
                &ifindex.to_ne_bytes(),
                &port_index.to_ne_bytes(),
                MapFlags::ANY,
            )
            .map_err(map_error("ports", "update"))
    }

    /// Forgets the port on `ifindex` (no error if it was not declared).
    pub fn remove_port(&mut self, ifindex: u32) -> Result<(), XdpError> {
        delete_if_present(&self.skel.maps.ports, "ports", &ifindex.to_ne_bytes())
    }

    fn xsk_key(port_index: u32, queue: u32) -> Result<[u8; 4], XdpError> {
        if port_index >= MAX_PORTS || queue >= MAX_QUEUES {
            return Err(XdpError::InvalidArgument(format!(
                "port {port_index} queue {queue} is out of range (ports < {MAX_PORTS}, queues < {MAX_QUEUES})"
            )));
        }
        Ok((port_index * MAX_QUEUES + queue).to_ne_bytes())
    }

    /// Registers the AF_XDP socket `xsk_fd` for receive queue `queue` of port
    /// `port_index`; frames of that queue are redirected to it.
    pub fn register_xsk(
        &mut self,
        port_index: u32,
        queue: u32,
        xsk_fd: RawFd,
    ) -> Result<(), XdpError> {
        let key = Self::xsk_key(port_index, queue)?;
        let fd = u32::try_from(xsk_fd)
            .map_err(|_| XdpError::InvalidArgument(format!("bad socket fd {xsk_fd}")))?;
        self.skel
            .maps
            .xsks
            .update(&key, &fd.to_ne_bytes(), MapFlags::ANY)
            .map_err(map_error("xsks", "register AF_XDP socket"))
    }

    /// Removes the socket of (port, queue); its frames are passed to the kernel.
    pub fn unregister_xsk(&mut self, port_index: u32, queue: u32) -> Result<(), XdpError> {
        let key = Self::xsk_key(port_index, queue)?;
        delete_if_present(&self.skel.maps.xsks, "xsks", &key)
    }

    /// Attaches the program to `ifindex` through a bpf_link (detached when the link is
    /// dropped or the process exits).
    pub fn attach(&mut self, ifindex: u32, mode: XdpMode) -> Result<XdpLink, XdpError> {
        let prog = self.skel.progs.mspic_steer.as_fd();
        match sys::xdp_link_create(prog, ifindex, mode.flags()) {
            Ok(fd) => Ok(XdpLink { fd, ifindex, mode }),
            Err(source) => Err(XdpError::Attach {
                netdev: netdev_name(ifindex),
                ifindex,
                mode,
                source,
            }),
        }
    }

    /// Attaches through netlink, as `ip link set dev X xdp` does: the attachment
    /// outlives the process until [`remove_stale`] (or `ip link set dev X xdp off`)
    /// removes it. For tools and tests; the daemon uses [`XdpProgram::attach`].
    pub fn attach_netlink(&self, ifindex: u32, mode: XdpMode) -> Result<(), XdpError> {
        let prog = self.skel.progs.mspic_steer.as_fd();
        sys::xdp_attach_netlink(prog, ifindex, mode.flags()).map_err(|source| XdpError::Attach {
            netdev: netdev_name(ifindex),
            ifindex,
            mode,
            source,
        })
    }

    /// The counters, summed over CPUs.
    pub fn counters(&self) -> Result<SteerCounters, XdpError> {
        let per_cpu = self
            .skel
            .maps
            .counters
            .lookup_percpu(&ZERO, MapFlags::ANY)
            .map_err(map_error("counters", "lookup"))?
            .unwrap_or_default();
        let mut sum = [0u64; COUNTERS.len()];
        for cpu in per_cpu {
            for (i, c) in cpu.chunks_exact(8).take(COUNTERS.len()).enumerate() {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                sum[i] = sum[i].wrapping_add(u64::from_ne_bytes(b));
            }
        }
        Ok(SteerCounters::from_array(sum))
    }

    /// Runs the program once on `frame` with BPF_PROG_TEST_RUN, as if received on
    /// `rx_queue` of `ifindex` (which must exist in the caller's network namespace and
    /// have more than `rx_queue` receive queues; the loopback device, ifindex 1, has one).
    /// Redirects are not performed: the action says what would have happened.
    pub fn test_run(&self, frame: &[u8], rx_queue: u32, ifindex: u32) -> Result<TestRun, XdpError> {
        let len = u32::try_from(frame.len())
            .map_err(|_| XdpError::InvalidArgument("frame too long".into()))?;
        // struct xdp_md { data, data_end, data_meta, ingress_ifindex, rx_queue_index,
        // egress_ifindex }
        let md = [0, len, 0, ifindex, rx_queue, 0];
        let mut ctx_in: Vec<u8> = md.iter().flat_map(|v: &u32| v.to_ne_bytes()).collect();
        let mut ctx_out = vec![0u8; ctx_in.len()];
        let mut data_out = vec![0u8; frame.len() + 256];
        let input = ProgramInput {
            context_in: Some(&mut ctx_in),
            context_out: Some(&mut ctx_out),
            data_in: Some(frame),
            data_out: Some(&mut data_out),
            repeat: 1,
            ..Default::default()
        };
        let out = self.skel.progs.mspic_steer.test_run(input).map_err(|e| {
            if e.kind() == ErrorKind::PermissionDenied {
                XdpError::Permission {
                    op: "BPF_PROG_TEST_RUN".into(),
                }
            } else {
                XdpError::TestRun(e)
            }
        })?;
        let action = XdpAction::from(out.return_value);
        let data = out.data.map(|d| d.to_vec()).unwrap_or_default();
        let ctx = out.context.map(|c| c.to_vec()).unwrap_or_default();
        // On return the kernel reports data (= the metadata length) relative to
        // data_meta, where the output data starts.
        let meta_len = ctx
            .get(0..4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .unwrap_or(0)
            .min(data.len());
        let meta = (meta_len == SteerMeta::LEN)
            .then(|| SteerMeta::before(&data, meta_len))
            .flatten();
        Ok(TestRun {
            action,
            meta,
            frame: data[meta_len..].to_vec(),
        })
    }

    /// File descriptor of the loaded program.
    pub fn prog_fd(&self) -> RawFd {
        self.skel.progs.mspic_steer.as_fd().as_raw_fd()
    }
}

/// Makes `map` hold exactly `want`: writes every entry, then deletes the keys it no
/// longer needs.
fn sync_map(map: &MapMut<'_>, name: &'static str, want: &Entries) -> Result<(), XdpError> {
    for (k, v) in want {
        map.update(k, v, MapFlags::ANY)
            .map_err(map_error(name, "update"))?;
    }
    let stale: Vec<Vec<u8>> = map.keys().filter(|k| !want.contains_key(k)).collect();
    for k in stale {
        delete_if_present(map, name, &k)?;
    }
    Ok(())
}

fn delete_if_present(map: &MapMut<'_>, name: &'static str, key: &[u8]) -> Result<(), XdpError> {
    match map.delete(key) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(map_error(name, "delete")(e)),
    }
}

/// Removes an XDP program left attached through netlink by a crashed `mspicd`: if the
/// program attached to `ifindex` (native or generic) is named `mspic_steer`, detach it.
/// Returns whether one was removed. Programs of other names are left alone; programs
/// attached through a bpf_link belong to a live process and cannot be removed this way
/// (the kernel answers EBUSY, reported as an error).
pub fn remove_stale(ifindex: u32) -> Result<bool, XdpError> {
    let (drv, skb) = sys::xdp_query(ifindex).map_err(|source| query_error(ifindex, source))?;
    let mut removed = false;
    for (id, mode) in [(drv, XdpMode::Native), (skb, XdpMode::Skb)] {
        if id == 0 {
            continue;
        }
        let name = match sys::prog_name(id) {
            Ok(n) => n,
            // Gone meanwhile.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(source) => return Err(query_error(ifindex, source)),
        };
        if name != PROG_NAME {
            continue;
        }
        sys::xdp_detach(ifindex, mode.flags()).map_err(|source| {
            if matches!(
                source.raw_os_error(),
                Some(libc::EPERM) | Some(libc::EACCES)
            ) {
                XdpError::Permission {
                    op: format!("detaching the XDP program from {}", netdev_name(ifindex)),
                }
            } else {
                XdpError::Detach {
                    netdev: netdev_name(ifindex),
                    ifindex,
                    source,
                }
            }
        })?;
        removed = true;
    }
    Ok(removed)
}

fn query_error(ifindex: u32, source: io::Error) -> XdpError {
    if matches!(
        source.raw_os_error(),
        Some(libc::EPERM) | Some(libc::EACCES)
    ) {
        XdpError::Permission {
            op: format!("querying the XDP program of ifindex {ifindex}"),
        }
    } else {
        XdpError::Query { ifindex, source }
    }
}

/// The index of netdev `name`, or [`XdpError::NoSuchDevice`].
pub fn ifindex(name: &str) -> Result<u32, XdpError> {
    crate::netdev::index(name).ok_or_else(|| XdpError::NoSuchDevice(name.to_string()))
}

/// Why this kernel cannot run the steering program, or `None` if it can. Only a missing
/// feature counts (no bpf syscall, no XDP program type, no XSKMAP); a lack of privilege
/// does not, so that tests run without privilege fail loudly instead of skipping.
pub fn kernel_lacks_feature() -> Option<String> {
    let lacks = |e: &io::Error| {
        matches!(
            e.raw_os_error(),
            Some(libc::ENOSYS) | Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) | Some(524) // ENOTSUPP
        )
    };
    if let Err(e) = sys::probe_xdp_prog() {
        if lacks(&e) {
            return Some(format!("the kernel cannot load XDP programs: {e}"));
        }
    }
    if let Err(e) = sys::probe_xskmap() {
        if lacks(&e) {
            return Some(format!(
                "the kernel has no AF_XDP socket maps (XSKMAP): {e}"
            ));
        }
    }
    None
}
