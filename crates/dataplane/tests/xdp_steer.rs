//! The XDP steering program, run with BPF_PROG_TEST_RUN (Katran/Cilium style tables):
//! one row per frame kind, agreement of the BPF owner function with
//! `mspic_flow::owner::owner` on thousands of random frames, and attaching to a veth in a
//! network namespace the test creates itself.
//!
//! These tests need root (CAP_BPF, CAP_NET_ADMIN). They skip, saying so, only when the
//! kernel lacks BPF/XDP ([`kernel_lacks_feature`]); without privilege they fail.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use etherparse::{Icmpv4Type, PacketBuilder};
use mspic_dataplane::xdp::{
    self, flags, kernel_lacks_feature, SteerConfig, SteerCounters, SteerMeta, TestRun, XdpAction,
    XdpMode, XdpProgram,
};
use mspic_flow::Policy;
use mspic_wire::{parse_frame, FlowKey, WireError, L4};

// ---------------------------------------------------------------------------------------
// Harness

/// Skips (loudly; under `CI=true` fails) only when the kernel cannot run XDP programs.
fn kernel_cannot_run() -> bool {
    match kernel_lacks_feature() {
        Some(why) => {
            mspic_tests::testbed::skip_or_fail(&why);
            true
        }
        None => false,
    }
}

/// The loopback device: present in every namespace, one receive queue; BPF_PROG_TEST_RUN
/// only uses it as the ingress device of the simulated frame (nothing is sent).
const LO: u32 = 1;

/// An unbound AF_XDP socket: enough for the XSKMAP to hold an entry, so the program's
/// redirect succeeds under BPF_PROG_TEST_RUN.
fn xsk_socket() -> OwnedFd {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW, 0) };
    assert!(
        fd >= 0,
        "socket(AF_XDP): {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: a fresh fd that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// A program loaded for `policy` with `shards`, lo declared as port 0 with a socket on
/// queue 0.
struct Loaded {
    prog: XdpProgram,
    _xsk: OwnedFd,
}

fn load(policy: &Policy, shards: u32) -> Loaded {
    let cfg = SteerConfig::from_policy(policy, shards);
    let mut prog = XdpProgram::load(&cfg).unwrap_or_else(|e| panic!("{e}"));
    prog.set_port(LO, 0).unwrap();
    let xsk = xsk_socket();
    prog.register_xsk(0, 0, xsk.as_raw_fd())
        .unwrap_or_else(|e| panic!("{e}"));
    Loaded { prog, _xsk: xsk }
}

fn run(p: &XdpProgram, frame: &[u8]) -> TestRun {
    p.test_run(frame, 0, LO).unwrap_or_else(|e| panic!("{e}"))
}

fn policy(text: &str) -> Policy {
    let c = mspic_config::parse(text, "test.conf").unwrap_or_else(|e| panic!("{e}"));
    Policy::compile(&c).unwrap_or_else(|e| panic!("{e}"))
}

/// Every kind of NAT fact the owner function reads: a NAPT pool, an address-only pool
/// (dynamic-nat44: pins its inside hosts), basic-nat44 (static source map), an
/// endpoint-independent NAPT rule (pins its hosts), dnat-44 (static destination map) and a
/// pool with secured port block allocation (owner by the port's block; pins its hosts) and
/// deterministic-napt44 (subscribers owned by their computed block).
const NAT_CONFIG: &str = r#"
interfaces {
    ge-0/0/0 { unit 0 { family inet { service { input { service-set ss; } output { service-set ss; } } address 10.0.0.1/24; } } }
    ge-0/0/1 { unit 0 { family inet { service { input { service-set pub; } output { service-set pub; } } address 203.0.113.1/24; } } }
    ms-1/1/0 { unit 0 { family inet; } }
}
routing-options { static { route 198.51.100.0/24 next-hop 203.0.113.2; route 198.18.0.0/24 discard; } }
services {
    nat {
        pool napt { address 203.0.113.128/26; port { automatic; } }
        pool dyn { address 203.0.113.192/27; }
        pool eim { address 203.0.113.224/28; port { automatic; } }
        pool stat { address 198.18.0.0/24; }
        pool web { address 10.0.0.10/32; }
        pool pba { address 203.0.113.240/28; port { range low 2000 high 9999; secured-port-block-allocation block-size 100 max-blocks-per-address 4; } }
        pool det { address 203.0.113.96/28; port { automatic; deterministic-port-block-allocation block-size 1008; } }
        rule snat {
            match-direction input;
            term napt { from { source-address { 10.0.1.0/24; } } then { translated { source-pool napt; translation-type { napt-44; } } } }
            term dyn { from { source-address { 10.0.2.0/24; } } then { translated { source-pool dyn; translation-type { dynamic-nat44; } } } }
            term basic { from { source-address { 10.0.3.0/24; } } then { translated { source-pool stat; translation-type { basic-nat44; } } } }
            term eim { from { source-address { 10.0.4.0/24; } } then { translated { source-pool eim; translation-type { napt-44; } mapping-type endpoint-independent; } } }
            term pba { from { source-address { 10.0.5.0/24; } } then { translated { source-pool pba; translation-type { napt-44; } } } }
            term det { from { source-address { 10.0.6.0/24; } } then { translated { source-pool det; translation-type { deterministic-napt44; } } } }
        }
        rule dnat {
            match-direction input;
            term d1 { from { destination-address { 203.0.113.10/32; } } then { translated { destination-pool web; translation-type { dnat-44; } } } }
        }
    }
    service-set ss { nat-rules snat; interface-service { service-interface ms-1/1/0; } }
    service-set pub { nat-rules dnat; interface-service { service-interface ms-1/1/0; } }
}
"#;

// ---------------------------------------------------------------------------------------
// Frames (raw, so that options, extension headers, fragments and malformed headers are
// easy to make; L4 checksums are not checked by either parser)

const DMAC: [u8; 6] = [2, 0, 0, 0, 1, 0];
const SMAC: [u8; 6] = [2, 0, 0, 0, 0, 2];

fn a4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn a6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&DMAC);
    f.extend_from_slice(&SMAC);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn eth_vlan(vid: u16, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&DMAC);
    f.extend_from_slice(&SMAC);
    f.extend_from_slice(&0x8100u16.to_be_bytes());
    f.extend_from_slice(&vid.to_be_bytes());
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn csum(b: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in b.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// IPv4 header (with `options`, a multiple of 4 bytes) + `l4`; `frag` is the flags and
/// fragment offset word.
fn ip4_full(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    l4: &[u8],
    options: &[u8],
    frag: u16,
) -> Vec<u8> {
    let hl = 20 + options.len();
    let mut h = vec![0u8; hl];
    h[0] = 0x40 | (hl / 4) as u8;
    h[2..4].copy_from_slice(&((hl + l4.len()) as u16).to_be_bytes());
    h[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
    h[6..8].copy_from_slice(&frag.to_be_bytes());
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    h[20..].copy_from_slice(options);
    let c = csum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(l4);
    h
}

fn ip4(src: &str, dst: &str, proto: u8, l4: &[u8]) -> Vec<u8> {
    ip4_full(a4(src), a4(dst), proto, l4, &[], 0)
}

fn ip6(src: Ipv6Addr, dst: Ipv6Addr, nh: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    h.push(nh);
    h.push(64);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    h.extend_from_slice(payload);
    h
}

/// Hop-by-hop / routing / destination options header of `units` 8-byte units.
fn ext6(nh: u8, units: u8) -> Vec<u8> {
    let mut h = vec![0u8; usize::from(units) * 8];
    h[0] = nh;
    h[1] = units - 1;
    h
}

fn frag6(nh: u8, offset: u16, more: bool, id: u32) -> Vec<u8> {
    let mut h = vec![nh, 0];
    h.extend_from_slice(&(offset | u16::from(more)).to_be_bytes());
    h.extend_from_slice(&id.to_be_bytes());
    h
}

fn tcp(sp: u16, dp: u16) -> Vec<u8> {
    let mut h = vec![0u8; 20];
    h[0..2].copy_from_slice(&sp.to_be_bytes());
    h[2..4].copy_from_slice(&dp.to_be_bytes());
    h[12] = 5 << 4;
    h[13] = 0x02;
    h[14..16].copy_from_slice(&64240u16.to_be_bytes());
    h
}

fn udp(sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&sp.to_be_bytes());
    h.extend_from_slice(&dp.to_be_bytes());
    h.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(payload);
    h
}

/// ICMP/ICMPv6 message: type, code, the 4 type-specific bytes (`id`, `seq`), body.
fn icmp(t: u8, code: u8, id: u16, seq: u16, body: &[u8]) -> Vec<u8> {
    let mut h = vec![t, code, 0, 0];
    h.extend_from_slice(&id.to_be_bytes());
    h.extend_from_slice(&seq.to_be_bytes());
    h.extend_from_slice(body);
    h
}

fn gre() -> Vec<u8> {
    let mut h = vec![0x20, 0x00, 0x08, 0x00]; // K bit, IPv4 payload
    h.extend_from_slice(&7u32.to_be_bytes());
    h
}

fn arp() -> Vec<u8> {
    let mut b = vec![0, 1, 8, 0, 6, 4, 0, 1];
    b.extend_from_slice(&SMAC);
    b.extend_from_slice(&[10, 0, 0, 2]);
    b.extend_from_slice(&[0; 6]);
    b.extend_from_slice(&[10, 0, 0, 1]);
    b
}

fn address_owner(a: IpAddr, n: u32) -> u16 {
    (FlowKey::new(a, a, 0, 0, 0).symmetric_hash() % n) as u16
}

fn rust_owner(policy: &Policy, frame: &[u8], n: u32) -> u16 {
    let p = parse_frame(frame).unwrap_or_else(|e| panic!("userspace parser rejects: {e}"));
    mspic_flow::owner::owner(&p, n, &policy.nat) as u16
}

// ---------------------------------------------------------------------------------------
// The table

/// What a row expects.
enum Owner {
    /// This shard.
    Is(u16),
    /// Whatever `mspic_flow::owner::owner` says for this frame.
    Userspace,
    /// What `owner` says for another frame (the other direction of the session).
    SameAs(Vec<u8>),
}

struct Row {
    name: &'static str,
    frame: Vec<u8>,
    action: XdpAction,
    /// `None`: no metadata expected.
    owner: Option<Owner>,
    set: u16,
    clear: u16,
    l3: u16,
    /// `None`: not checked.
    l4: Option<u16>,
}

fn row(
    name: &'static str,
    frame: Vec<u8>,
    owner: Owner,
    set: u16,
    l3: u16,
    l4: Option<u16>,
) -> Row {
    Row {
        name,
        frame,
        action: XdpAction::Redirect,
        owner: Some(owner),
        set,
        clear: 0,
        l3,
        l4,
    }
}

const N: u32 = 4;

fn table(policy: &Policy) -> Vec<Row> {
    use flags::*;
    let v4 = |f: u16| IPV4 | L4 | f;
    let quoted_tcp = ip4("203.0.113.130", "198.51.100.7", 6, &tcp(1031, 80));
    let quoted_echo = ip4(
        "203.0.113.130",
        "198.51.100.7",
        1,
        &icmp(8, 0, 1029, 1, b"ping"),
    );
    let options_tcp = eth(
        0x0800,
        &ip4_full(
            a4("10.0.1.2"),
            a4("198.51.100.7"),
            6,
            &tcp(40001, 443),
            &[1, 1, 1, 0],
            0,
        ),
    );
    let mut bad_checksum = eth(
        0x0800,
        &ip4("10.0.1.2", "198.51.100.7", 17, &udp(5, 53, b"q")),
    );
    bad_checksum[14 + 10] ^= 0xff;
    let truncated =
        eth(0x0800, &ip4("10.0.1.2", "198.51.100.7", 6, &tcp(1, 2)))[..14 + 30].to_vec();
    let s6 = a6("2001:db8::2");
    let d6 = a6("2001:db8:1::7");
    let mut exts = ext6(43, 1);
    exts.extend(ext6(60, 2));
    exts.extend(ext6(17, 1));
    exts.extend(udp(5353, 53, b"query"));
    let mut frag_first6 = frag6(17, 0, true, 99);
    frag_first6.extend(udp(5353, 53, &[0u8; 64]));
    let mut frag_later6 = frag6(17, 64, false, 99);
    frag_later6.extend_from_slice(&[0u8; 16]);
    let mut hop_not_first = ext6(0, 1);
    hop_not_first.extend(ext6(17, 1));
    hop_not_first.extend(udp(1, 2, b""));
    vec![
        row(
            "ipv4 tcp (hashed)",
            eth(0x0800, &ip4("10.0.1.2", "198.51.100.7", 6, &tcp(40000, 80))),
            Owner::Userspace,
            v4(0),
            14,
            Some(34),
        ),
        row(
            "ipv4 udp (hashed)",
            eth(
                0x0800,
                &ip4("10.0.1.2", "198.51.100.7", 17, &udp(40000, 53, b"q")),
            ),
            Owner::Userspace,
            v4(0),
            14,
            Some(34),
        ),
        row(
            "ipv4 icmp echo request (hashed)",
            eth(
                0x0800,
                &ip4("10.0.1.2", "198.51.100.7", 1, &icmp(8, 0, 777, 1, b"x")),
            ),
            Owner::Userspace,
            v4(0),
            14,
            Some(34),
        ),
        row(
            "icmp echo reply to a NAPT pool address: query id % N",
            eth(
                0x0800,
                &ip4(
                    "198.51.100.7",
                    "203.0.113.130",
                    1,
                    &icmp(0, 0, 1029, 1, b"x"),
                ),
            ),
            Owner::Is((1029 % N) as u16),
            v4(POOL),
            14,
            Some(34),
        ),
        row(
            "tcp to a NAPT pool address: port % N",
            eth(
                0x0800,
                &ip4("198.51.100.7", "203.0.113.130", 6, &tcp(80, 1030)),
            ),
            Owner::Is((1030 % N) as u16),
            v4(POOL),
            14,
            Some(34),
        ),
        row(
            "udp to a port block pool: ((port - low) / block) % N",
            eth(
                0x0800,
                &ip4("198.51.100.7", "203.0.113.241", 17, &udp(53, 2350, b"a")),
            ),
            Owner::Is((3 % N) as u16),
            v4(POOL),
            14,
            Some(34),
        ),
        row(
            "udp to a port block pool below its range: block 0",
            eth(
                0x0800,
                &ip4("198.51.100.7", "203.0.113.241", 17, &udp(53, 1500, b"a")),
            ),
            Owner::Is(0),
            v4(POOL),
            14,
            Some(34),
        ),
        row(
            "tcp to a deterministic pool: by the port's block",
            eth(
                0x0800,
                &ip4(
                    "198.51.100.7",
                    "203.0.113.97",
                    6,
                    &tcp(80, 1024 + 5 * 1008 + 7),
                ),
            ),
            Owner::Is((5 % N) as u16),
            v4(POOL),
            14,
            Some(34),
        ),
        row(
            "udp from a deterministic subscriber: its block's owner",
            eth(
                0x0800,
                &ip4("10.0.6.10", "198.51.100.7", 17, &udp(4000, 53, b"q")),
            ),
            Owner::Is((9 % N) as u16),
            v4(PINNED),
            14,
            Some(34),
        ),
        row(
            "udp to a deterministic subscriber: the same",
            eth(
                0x0800,
                &ip4("198.51.100.7", "10.0.6.10", 17, &udp(53, 4000, b"a")),
            ),
            Owner::Is((9 % N) as u16),
            v4(PINNED),
            14,
            Some(34),
        ),
        row(
            "udp to an address-only pool address: index % N",
            eth(
                0x0800,
                &ip4("198.51.100.7", "203.0.113.197", 17, &udp(53, 4000, b"a")),
            ),
            Owner::Is((5 % N) as u16),
            v4(POOL),
            14,
            Some(34),
        ),
        row(
            "gre to a NAPT pool address (no ports): index % N",
            eth(0x0800, &ip4("198.51.100.7", "203.0.113.131", 47, &gre())),
            Owner::Is((3 % N) as u16),
            v4(POOL),
            14,
            Some(34),
        ),
        row(
            "icmp error quoting tcp from a pool address: owner of the quoted reply",
            eth(
                0x0800,
                &ip4(
                    "192.0.2.1",
                    "203.0.113.130",
                    1,
                    &icmp(3, 1, 0, 0, &quoted_tcp[..28]),
                ),
            ),
            Owner::Is((1031 % N) as u16),
            v4(ICMP_ERROR | POOL),
            14,
            Some(34),
        ),
        row(
            "icmp error quoting an echo request: query id of the quote",
            eth(
                0x0800,
                &ip4(
                    "192.0.2.1",
                    "203.0.113.130",
                    1,
                    &icmp(11, 0, 0, 0, &quoted_echo),
                ),
            ),
            Owner::Is((1029 % N) as u16),
            v4(ICMP_ERROR | POOL),
            14,
            Some(34),
        ),
        row(
            "icmp error quoting an outbound packet (hashed like the session)",
            eth(
                0x0800,
                &ip4(
                    "192.0.2.1",
                    "10.0.1.2",
                    1,
                    &icmp(
                        3,
                        3,
                        0,
                        0,
                        &ip4("10.0.1.2", "198.51.100.7", 17, &udp(40000, 53, b"q")),
                    ),
                ),
            ),
            Owner::SameAs(eth(
                0x0800,
                &ip4("198.51.100.7", "10.0.1.2", 17, &udp(53, 40000, b"r")),
            )),
            v4(ICMP_ERROR),
            14,
            Some(34),
        ),
        row(
            "802.1Q tagged tcp",
            eth_vlan(
                100,
                0x0800,
                &ip4("10.0.1.2", "198.51.100.7", 6, &tcp(40000, 80)),
            ),
            Owner::SameAs(eth(
                0x0800,
                &ip4("10.0.1.2", "198.51.100.7", 6, &tcp(40000, 80)),
            )),
            v4(VLAN),
            18,
            Some(38),
        ),
        row(
            "ipv4 with options",
            options_tcp.clone(),
            Owner::Userspace,
            v4(0),
            14,
            Some(38),
        ),
        row(
            "ipv4 first fragment",
            eth(
                0x0800,
                &ip4_full(
                    a4("10.0.1.2"),
                    a4("198.51.100.7"),
                    17,
                    &udp(40000, 53, &[0u8; 32]),
                    &[],
                    0x2000,
                ),
            ),
            Owner::Userspace,
            v4(FIRST_FRAG),
            14,
            Some(34),
        ),
        Row {
            clear: L4,
            ..row(
                "ipv4 later fragment: receiving queue",
                eth(
                    0x0800,
                    &ip4_full(
                        a4("10.0.1.2"),
                        a4("198.51.100.7"),
                        17,
                        &[0u8; 24],
                        &[],
                        0x0003,
                    ),
                ),
                Owner::Is(0),
                IPV4 | LATER_FRAG,
                14,
                Some(34),
            )
        },
        row(
            "ipv6 udp behind routing and destination-options headers",
            eth(
                0x86dd,
                &ip6(s6, d6, 0, &{
                    let mut v = ext6(43, 1);
                    v.extend(exts.clone());
                    v
                }),
            ),
            Owner::Userspace,
            IPV6 | L4,
            14,
            Some(14 + 40 + 8 + 8 + 16 + 8),
        ),
        row(
            "ipv6 first fragment",
            eth(0x86dd, &ip6(s6, d6, 44, &frag_first6)),
            Owner::Userspace,
            IPV6 | L4 | FIRST_FRAG,
            14,
            Some(14 + 40 + 8),
        ),
        Row {
            clear: L4,
            ..row(
                "ipv6 later fragment: receiving queue",
                eth(0x86dd, &ip6(s6, d6, 44, &frag_later6)),
                Owner::Is(0),
                IPV6 | LATER_FRAG,
                14,
                Some(14 + 40 + 8),
            )
        },
        row(
            "ipv6 icmpv6 echo request",
            eth(0x86dd, &ip6(s6, d6, 58, &icmp(128, 0, 4242, 1, b"x"))),
            Owner::SameAs(eth(0x86dd, &ip6(d6, s6, 58, &icmp(129, 0, 4242, 1, b"x")))),
            IPV6 | L4,
            14,
            Some(54),
        ),
        row(
            "icmpv6 error quoting udp",
            eth(
                0x86dd,
                &ip6(
                    a6("2001:db8:ff::1"),
                    s6,
                    58,
                    &icmp(1, 4, 0, 0, &ip6(s6, d6, 17, &udp(5353, 53, b"q"))),
                ),
            ),
            Owner::SameAs(eth(0x86dd, &ip6(d6, s6, 17, &udp(53, 5353, b"a")))),
            IPV6 | L4 | ICMP_ERROR,
            14,
            Some(54),
        ),
        // Neighbor discovery and MLD are redirected like any ICMPv6 (no flag): the
        // receiving worker keeps them whatever their owner (crates/wire/src/nd.rs).
        row(
            "neighbor solicitation to a solicited-node group",
            eth(
                0x86dd,
                &ip6(
                    s6,
                    a6("ff02::1:ff00:1"),
                    58,
                    &icmp(135, 0, 0, 0, &a6("2001:db8::1").octets()),
                ),
            ),
            Owner::Userspace,
            IPV6 | L4,
            14,
            Some(54),
        ),
        row(
            "neighbor advertisement",
            eth(
                0x86dd,
                &ip6(d6, s6, 58, &icmp(136, 0, 0x6000, 0, &d6.octets())),
            ),
            Owner::Userspace,
            IPV6 | L4,
            14,
            Some(54),
        ),
        row(
            "mldv2 report behind hop-by-hop options",
            eth(
                0x86dd,
                &ip6(
                    a6("fe80::2"),
                    a6("ff02::16"),
                    0,
                    &[ext6(58, 1), icmp(143, 0, 0, 0, &[])].concat(),
                ),
            ),
            Owner::Userspace,
            IPV6 | L4,
            14,
            Some(62),
        ),
        Row {
            clear: IPV4 | IPV6 | L4,
            ..row(
                "arp: receiving queue",
                eth(0x0806, &arp()),
                Owner::Is(0),
                ARP,
                14,
                Some(0),
            )
        },
        Row {
            clear: IPV4 | IPV6 | L4,
            ..row(
                "802.1Q arp",
                eth_vlan(7, 0x0806, &arp()),
                Owner::Is(0),
                ARP | VLAN,
                18,
                Some(0),
            )
        },
        row(
            "truncated ipv4 (total length beyond the frame)",
            truncated,
            Owner::Is(0),
            IPV4 | PARSE_ERROR,
            14,
            None,
        ),
        row(
            "bad ipv4 header checksum",
            bad_checksum,
            Owner::Is(0),
            IPV4 | PARSE_ERROR,
            14,
            None,
        ),
        row(
            "tcp source port 0",
            eth(0x0800, &ip4("10.0.1.2", "198.51.100.7", 6, &tcp(0, 80))),
            Owner::Is(0),
            IPV4 | PARSE_ERROR,
            14,
            None,
        ),
        row(
            "ipv6 hop-by-hop header not first",
            eth(0x86dd, &ip6(s6, d6, 60, &hop_not_first)),
            Owner::Is(0),
            IPV6 | PARSE_ERROR,
            14,
            None,
        ),
        row(
            "icmp error with a truncated quote",
            eth(
                0x0800,
                &ip4(
                    "192.0.2.1",
                    "203.0.113.130",
                    1,
                    &icmp(3, 1, 0, 0, &quoted_tcp[..24]),
                ),
            ),
            Owner::Is(0),
            IPV4 | PARSE_ERROR | ICMP_ERROR,
            14,
            None,
        ),
        Row {
            action: XdpAction::Pass,
            owner: None,
            ..row(
                "lldp: passed to the kernel, no metadata",
                eth(0x88cc, &[0u8; 46]),
                Owner::Is(0),
                0,
                0,
                None,
            )
        },
        row(
            "basic-nat44: reply to the static pool address hashes like the inside flow",
            eth(
                0x0800,
                &ip4("198.51.100.7", "198.18.0.5", 17, &udp(53, 1234, b"a")),
            ),
            Owner::SameAs(eth(
                0x0800,
                &ip4("10.0.3.5", "198.51.100.7", 17, &udp(1234, 53, b"q")),
            )),
            v4(STATIC),
            14,
            Some(34),
        ),
        row(
            "dnat-44: server reply hashes like the inbound flow to the public address",
            eth(0x0800, &ip4("10.0.0.10", "198.51.100.7", 6, &tcp(80, 5555))),
            Owner::SameAs(eth(
                0x0800,
                &ip4("198.51.100.7", "203.0.113.10", 6, &tcp(5555, 80)),
            )),
            v4(STATIC),
            14,
            Some(34),
        ),
        row(
            "dynamic-nat44 inside host: pinned by its address",
            eth(0x0800, &ip4("10.0.2.9", "198.51.100.7", 6, &tcp(40000, 80))),
            Owner::Is(address_owner("10.0.2.9".parse().unwrap(), N)),
            v4(PINNED),
            14,
            Some(34),
        ),
        row(
            "endpoint-independent inside host, other port and peer: same pinned owner",
            eth(
                0x0800,
                &ip4("198.51.100.99", "10.0.4.20", 17, &udp(9999, 3333, b"x")),
            ),
            Owner::Is(address_owner("10.0.4.20".parse().unwrap(), N)),
            v4(PINNED),
            14,
            Some(34),
        ),
    ]
    .into_iter()
    .inspect(|r| {
        // Rows whose owner comes from userspace must parse there.
        if matches!(r.owner, Some(Owner::Userspace)) {
            rust_owner(policy, &r.frame, N);
        }
    })
    .collect()
}

#[test]
fn table_of_frames() {
    if kernel_cannot_run() {
        return;
    }
    let pol = policy(NAT_CONFIG);
    let l = load(&pol, N);
    let rows = table(&pol);
    let mut failures = Vec::new();
    for r in &rows {
        let out = run(&l.prog, &r.frame);
        let mut fail = |m: String| failures.push(format!("{}: {m}", r.name));
        if out.action != r.action {
            fail(format!("action {:?}, expected {:?}", out.action, r.action));
        }
        assert_eq!(out.frame, r.frame, "{}: the frame must not change", r.name);
        let Some(want) = &r.owner else {
            if out.meta.is_some() {
                fail(format!("unexpected metadata {:?}", out.meta));
            }
            continue;
        };
        let Some(m) = out.meta else {
            fail("no metadata".into());
            continue;
        };
        let owner = match want {
            Owner::Is(o) => *o,
            Owner::Userspace => rust_owner(&pol, &r.frame, N),
            Owner::SameAs(f) => rust_owner(&pol, f, N),
        };
        if let Owner::SameAs(_) = want {
            // The frame itself must agree with userspace too.
            let own = rust_owner(&pol, &r.frame, N);
            if own != owner {
                fail(format!(
                    "userspace owner {own} differs from the other direction's {owner}"
                ));
            }
        }
        if m.owner != owner {
            fail(format!("owner {}, expected {owner}", m.owner));
        }
        if !m.has(r.set) {
            fail(format!("flags {:#06x} lack {:#06x}", m.flags, r.set));
        }
        if m.flags & r.clear != 0 {
            fail(format!(
                "flags {:#06x} have {:#06x}",
                m.flags,
                m.flags & r.clear
            ));
        }
        if m.l3_off != r.l3 {
            fail(format!("l3_off {}, expected {}", m.l3_off, r.l3));
        }
        if let Some(l4) = r.l4 {
            if m.l4_off != l4 {
                fail(format!("l4_off {}, expected {l4}", m.l4_off));
            }
        }
        // Userspace agrees on offsets wherever it parses the frame.
        if let Ok(p) = parse_frame(&r.frame) {
            if m.flags & flags::PARSE_ERROR == 0 {
                assert_eq!(usize::from(m.l3_off), p.l3_offset, "{}", r.name);
                assert_eq!(usize::from(m.l4_off), p.l4_offset, "{}", r.name);
                assert_eq!(
                    m.has(flags::ICMP_ERROR),
                    matches!(p.l4, L4::IcmpError { .. }),
                    "{}",
                    r.name
                );
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));

    let c = l.prog.counters().unwrap();
    let n = rows.len() as u64;
    assert_eq!(c.rx, n);
    assert_eq!(c.redirected, n - 1, "{c:?}");
    assert_eq!(c.pass_other, 1, "{c:?}");
    assert_eq!(c.arp, 2, "{c:?}");
    assert_eq!(c.vlan, 2, "{c:?}");
    assert_eq!(c.later_fragment, 2, "{c:?}");
    assert_eq!(c.parse_error, 5, "{c:?}");
    // 6 plain pool frames and 3 by port block (secured and deterministic).
    assert_eq!(c.pool, 9, "{c:?}");
    assert_eq!(c.static_normalized, 2, "{c:?}");
    // 2 pinned hosts and 2 frames of a deterministic subscriber.
    assert_eq!(c.pinned, 4, "{c:?}");
    assert_eq!(c.icmp_error, 4, "{c:?}");
    assert_eq!(
        c.ipv4 + c.ipv6 + c.arp + c.pass_other,
        c.rx,
        "every frame is IPv4, IPv6, ARP or other: {c:?}"
    );
    assert_eq!(
        c.pool + c.pinned + c.hashed,
        c.rx - c.arp - c.pass_other - c.later_fragment - c.parse_error
    );
}

/// The vectors of `mspic_wire::key` (computed independently of both ports).
#[test]
fn hash_vectors() {
    if kernel_cannot_run() {
        return;
    }
    let l = load(&Policy::default(), 65535);
    let cases = [
        (
            eth(0x0800, &ip4("10.0.0.2", "203.0.113.2", 6, &tcp(40000, 80))),
            0x7cff_4e0fu32,
        ),
        (
            eth(
                0x86dd,
                &ip6(
                    a6("2001:db8::1"),
                    a6("2001:db8::2"),
                    17,
                    &udp(5353, 53, b""),
                ),
            ),
            0x0def_f221,
        ),
        (
            eth(0x0800, &ip4("10.0.0.2", "10.0.0.1", 47, &gre())),
            0xa59f_5e97,
        ),
    ];
    for (f, h) in cases {
        let m = run(&l.prog, &f).meta.unwrap();
        assert_eq!(u32::from(m.owner), h % 65535, "{:02x?}", &f[14..]);
    }
}

#[test]
fn one_shard_owns_everything() {
    if kernel_cannot_run() {
        return;
    }
    let pol = policy(NAT_CONFIG);
    let l = load(&pol, 1);
    for r in table(&pol) {
        let out = run(&l.prog, &r.frame);
        if let Some(m) = out.meta {
            assert_eq!(m.owner, 0, "{}", r.name);
        }
    }
    let c = l.prog.counters().unwrap();
    assert!(c.single_shard > 0 && c.hashed == 0 && c.pool == 0, "{c:?}");
}

#[test]
fn unregistered_port_or_socket_passes_to_the_kernel() {
    if kernel_cannot_run() {
        return;
    }
    let mut l = load(&Policy::default(), 4);
    let f = eth(0x0800, &ip4("10.0.1.2", "198.51.100.7", 6, &tcp(40000, 80)));
    assert_eq!(run(&l.prog, &f).action, XdpAction::Redirect);

    l.prog.unregister_xsk(0, 0).unwrap();
    let out = run(&l.prog, &f);
    assert_eq!(out.action, XdpAction::Pass);
    assert!(
        out.meta.is_some(),
        "metadata is written before the redirect is tried"
    );

    l.prog.remove_port(LO).unwrap();
    let out = run(&l.prog, &f);
    assert_eq!(out.action, XdpAction::Pass);
    assert_eq!(out.meta, None);

    // Port 5 has a socket on queue 0: key 5 * 64 + 0.
    l.prog.set_port(LO, 5).unwrap();
    let xsk = xsk_socket();
    l.prog.register_xsk(5, 0, xsk.as_raw_fd()).unwrap();
    assert_eq!(run(&l.prog, &f).action, XdpAction::Redirect);

    let c = l.prog.counters().unwrap();
    assert_eq!(
        c,
        SteerCounters {
            rx: 4,
            redirected: 2,
            pass_no_socket: 1,
            pass_no_port: 1,
            ipv4: 3,
            hashed: 3,
            ..SteerCounters::default()
        }
    );

    // Arguments out of range are refused with a message.
    let e = l
        .prog
        .register_xsk(0, xdp::MAX_QUEUES, xsk.as_raw_fd())
        .unwrap_err();
    assert!(e.to_string().contains("out of range"), "{e}");
    let e = l.prog.set_port(LO, xdp::MAX_PORTS).unwrap_err();
    assert!(e.to_string().contains("out of range"), "{e}");
}

/// A reload rewrites the maps: facts of the old configuration disappear.
#[test]
fn update_replaces_the_nat_facts() {
    if kernel_cannot_run() {
        return;
    }
    let pol = policy(NAT_CONFIG);
    let mut l = load(&pol, N);
    let to_pool = eth(
        0x0800,
        &ip4("198.51.100.7", "203.0.113.130", 6, &tcp(80, 1030)),
    );
    let pinned = eth(0x0800, &ip4("10.0.2.9", "198.51.100.7", 6, &tcp(40000, 80)));
    let static_reply = eth(
        0x0800,
        &ip4("198.51.100.7", "198.18.0.5", 17, &udp(53, 1234, b"a")),
    );
    let flags_of = |p: &XdpProgram, f: &[u8]| run(p, f).meta.unwrap().flags;
    assert!(flags_of(&l.prog, &to_pool) & flags::POOL != 0);
    assert!(flags_of(&l.prog, &pinned) & flags::PINNED != 0);
    assert!(flags_of(&l.prog, &static_reply) & flags::STATIC != 0);

    let empty = Policy::default();
    l.prog.update(&SteerConfig::from_policy(&empty, 3)).unwrap();
    for f in [&to_pool, &pinned, &static_reply] {
        let m = run(&l.prog, f).meta.unwrap();
        assert_eq!(m.flags & (flags::POOL | flags::PINNED | flags::STATIC), 0);
        assert_eq!(m.owner, rust_owner(&empty, f, 3));
    }

    l.prog.update(&SteerConfig::from_policy(&pol, 7)).unwrap();
    assert_eq!(
        run(&l.prog, &to_pool).meta.unwrap().owner,
        (1030 % 7) as u16
    );
    assert_eq!(
        run(&l.prog, &pinned).meta.unwrap().owner,
        rust_owner(&pol, &pinned, 7)
    );

    let e = l
        .prog
        .update(&SteerConfig::from_policy(&pol, 0))
        .unwrap_err();
    assert!(e.to_string().contains("shard count"), "{e}");
}

/// IPv6 pinned prefixes (not produced by today's IPv4-only pools, but part of the
/// owner function) go through the IPv6 trie.
#[test]
fn ipv6_pinned_prefix() {
    if kernel_cannot_run() {
        return;
    }
    let mut pol = Policy::default();
    pol.nat.pinned.push("2001:db8:5::/48".parse().unwrap());
    pol.nat.pinned.push("10.9.0.0/16".parse().unwrap());
    let l = load(&pol, 5);
    let inside = a6("2001:db8:5::77");
    for (f, pinned) in [
        (
            eth(
                0x86dd,
                &ip6(inside, a6("2001:db8:1::7"), 17, &udp(1000, 53, b"q")),
            ),
            true,
        ),
        (
            eth(
                0x86dd,
                &ip6(a6("2001:db8:1::7"), inside, 6, &tcp(443, 50000)),
            ),
            true,
        ),
        (
            eth(
                0x86dd,
                &ip6(
                    a6("2001:db8:6::1"),
                    a6("2001:db8:1::7"),
                    6,
                    &tcp(443, 50000),
                ),
            ),
            false,
        ),
        (
            eth(0x0800, &ip4("10.9.200.1", "198.51.100.7", 6, &tcp(1, 2))),
            true,
        ),
    ] {
        let m = run(&l.prog, &f).meta.unwrap();
        assert_eq!(m.owner, rust_owner(&pol, &f, 5));
        assert_eq!(m.has(flags::PINNED), pinned);
    }
}

/// Stateful NAT64 needs no case of its own: the client's IPv6 packets hash on their
/// tuple (the shard allocates a pool port it owns), and everything IPv4 coming back goes to
/// the pool by port or echo identifier, ICMP errors by the packet they quote.
#[test]
fn stateful_nat64_flows() {
    if kernel_cannot_run() {
        return;
    }
    let pol = policy(
        r#"
interfaces {
    ge-0/0/0 { unit 0 { family inet6 { service { input { service-set ss; } output { service-set ss; } } address 2001:db8:10::1/64; } } }
    ge-0/0/1 { unit 0 { family inet { address 203.0.113.1/24; } } }
    ms-1/1/0 { unit 0 { family inet; family inet6; } }
}
routing-options { static { route 198.51.100.0/24 next-hop 203.0.113.2; } }
services {
    nat {
        pool p4 { address 203.0.113.128/28; port { automatic; } }
        rule r64 { match-direction input; term t { from { destination-address { 64:ff9b::/96; } } then { translated { source-pool p4; translation-type stateful-nat64; } } } }
    }
    service-set ss { nat-rules r64; interface-service { service-interface ms-1/1/0; } }
}
"#,
    );
    let n = 5;
    let l = load(&pol, n);
    let (client, server6) = (a6("2001:db8:10::2"), a6("64:ff9b::c633:6407"));
    let out_tcp = ip4("203.0.113.130", "198.51.100.7", 6, &tcp(1031, 80));
    let out_echo = ip4(
        "203.0.113.130",
        "198.51.100.7",
        1,
        &icmp(8, 0, 4242, 1, b"ping"),
    );
    let cases: [(Vec<u8>, Option<u16>); 6] = [
        (eth(0x86dd, &ip6(client, server6, 6, &tcp(40000, 80))), None),
        (
            eth(
                0x86dd,
                &ip6(client, server6, 58, &icmp(128, 0, 7, 1, b"ping")),
            ),
            None,
        ),
        (
            eth(
                0x0800,
                &ip4("198.51.100.7", "203.0.113.130", 6, &tcp(80, 1031)),
            ),
            Some(1031 % 5),
        ),
        (
            eth(
                0x0800,
                &ip4(
                    "198.51.100.7",
                    "203.0.113.130",
                    1,
                    &icmp(0, 0, 4242, 1, b"ping"),
                ),
            ),
            Some(4242 % 5),
        ),
        (
            eth(
                0x0800,
                &ip4(
                    "203.0.113.2",
                    "203.0.113.130",
                    1,
                    &icmp(3, 3, 0, 0, &out_tcp[..28]),
                ),
            ),
            Some(1031 % 5),
        ),
        (
            eth(
                0x0800,
                &ip4(
                    "203.0.113.2",
                    "203.0.113.130",
                    1,
                    &icmp(11, 0, 0, 0, &out_echo[..28]),
                ),
            ),
            Some(4242 % 5),
        ),
    ];
    for (f, by_port) in cases {
        let m = run(&l.prog, &f).meta.unwrap();
        let rust = rust_owner(&pol, &f, n);
        assert_eq!(m.owner, rust, "{:02x?}", &f[14..]);
        if let Some(o) = by_port {
            assert_eq!(m.owner, o, "{:02x?}", &f[14..]);
            assert!(m.has(flags::POOL));
        }
    }
}

/// DS-Lite needs no case of its own either: a B4's tunnel packets (IPv4 in IPv6, with or
/// without the tunnel encapsulation limit option Linux adds, RFC 2473 §4.1.1) hash on
/// the outer 3-tuple, the shard that owns them allocates a pool port it owns, and the
/// IPv4 replies go to that port's shard.
#[test]
fn ds_lite_flows() {
    if kernel_cannot_run() {
        return;
    }
    let pol = policy(
        r#"
interfaces {
    ge-0/0/0 { unit 0 { family inet6 { service { input { service-set ss; } output { service-set ss; } } address 2001:db8:10::1/64; } } }
    ge-0/0/1 { unit 0 { family inet { address 203.0.113.1/24; } } }
    ms-1/1/0 { unit 0 { family inet; family inet6; } }
}
routing-options { static { route 198.51.100.0/24 next-hop 203.0.113.2; } }
services {
    softwire {
        softwire-concentrator { ds-lite aftr { softwire-address 2001:db8:aaaa::1; } }
        rule sw { match-direction input; term t { then { ds-lite aftr; } } }
    }
    nat {
        pool p4 { address 203.0.113.128/28; port { automatic; } }
        rule n { match-direction input; term t { from { source-address 192.0.0.0/29; } then { translated { source-pool p4; translation-type napt-44; } } } }
    }
    service-set ss { softwire-rules sw; nat-rules n; interface-service { service-interface ms-1/1/0; } }
}
"#,
    );
    let n = 5;
    let l = load(&pol, n);
    let aftr = a6("2001:db8:aaaa::1");
    let inner = ip4("192.0.0.2", "198.51.100.7", 17, &udp(40000, 53, b"q"));
    // Destination options with the tunnel encapsulation limit option (type 4, limit 4)
    // and a PadN, then IPv4.
    let mut encap_limit = vec![4u8, 0, 4, 1, 4, 1, 0, 0];
    encap_limit.extend_from_slice(&inner);
    for i in 0..40u16 {
        let b4 = a6(&format!("2001:db8:10::{:x}", 0x100 + i));
        for f in [
            eth(0x86dd, &ip6(b4, aftr, 4, &inner)),
            eth(0x86dd, &ip6(b4, aftr, 60, &encap_limit)),
        ] {
            let m = run(&l.prog, &f).meta.unwrap();
            let rust = rust_owner(&pol, &f, n);
            assert_eq!(m.owner, rust, "{:02x?}", &f[14..]);
            let key = FlowKey::new(b4.into(), aftr.into(), 0, 0, 4);
            assert_eq!(u32::from(m.owner), key.symmetric_hash() % n, "B4 {b4}");
        }
    }
    let port = 1031;
    let reply = eth(
        0x0800,
        &ip4("198.51.100.7", "203.0.113.130", 17, &udp(53, port, b"a")),
    );
    let m = run(&l.prog, &reply).meta.unwrap();
    assert_eq!(m.owner, port % 5);
    assert!(m.has(flags::POOL));
}

/// `bpf/steer.h` and the Rust mirror agree.
#[test]
fn header_mirror() {
    let h = include_str!("../../../bpf/steer.h");
    let define = |name: &str| -> u64 {
        let line = h
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name) && l.starts_with("#define"))
            .unwrap_or_else(|| panic!("{name} not in steer.h"));
        let v = line.split_whitespace().nth(2).unwrap();
        match v.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).unwrap(),
            None => v.parse().unwrap(),
        }
    };
    for (name, v) in flags::ALL {
        assert_eq!(define(name), u64::from(v), "{name}");
    }
    for (i, name) in xdp::COUNTERS.iter().enumerate() {
        assert_eq!(define(name), i as u64, "{name}");
    }
    assert_eq!(define("STEER_C_COUNT"), xdp::COUNTERS.len() as u64);
    assert_eq!(define("STEER_MAX_QUEUES"), u64::from(xdp::MAX_QUEUES));
    assert_eq!(define("STEER_MAX_PORTS"), u64::from(xdp::MAX_PORTS));
    assert_eq!(define("STEER_MAX_POOL_ADDRS"), xdp::MAX_POOL_ADDRS as u64);
    assert_eq!(define("STEER_MAX_STATIC"), xdp::MAX_STATIC as u64);
    assert_eq!(define("STEER_MAX_PINNED"), xdp::MAX_PINNED as u64);
    assert_eq!(define("STEER_MAX_DET"), xdp::MAX_DET as u64);
    assert_eq!(std::mem::size_of::<SteerMeta>(), SteerMeta::LEN);
}

const UNPRIVILEGED_CHILD: &str = "MSPIC_XDP_TEST_UNPRIVILEGED_CHILD";

/// Without CAP_BPF the error says what is missing: the test runs itself again as
/// `nobody` with no capabilities (setpriv, util-linux) and checks the child's error.
#[test]
fn without_privilege_the_error_names_the_capabilities() {
    if std::env::var_os(UNPRIVILEGED_CHILD).is_some() {
        let e = XdpProgram::load(&SteerConfig {
            shards: 1,
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(e, xdp::XdpError::Permission { .. }), "{e:?}");
        assert!(e.to_string().contains("CAP_BPF"), "{e}");
        return;
    }
    if kernel_cannot_run() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
        ])
        .arg(&exe)
        .args([
            "--exact",
            "without_privilege_the_error_names_the_capabilities",
            "--test-threads=1",
        ])
        .env(UNPRIVILEGED_CHILD, "1")
        .output()
        .unwrap_or_else(|e| panic!("running setpriv: {e} (install util-linux)"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 passed"), "{text}");
}

/// The daemon may hand the loaded program to another thread.
#[test]
fn program_is_send() {
    fn send<T: Send>() {}
    send::<XdpProgram>();
    send::<xdp::XdpLink>();
}

#[test]
fn steer_config_from_policy() {
    let pol = policy(NAT_CONFIG);
    let cfg = SteerConfig::from_policy(&pol, 4);
    assert_eq!(cfg.shards, 4);
    // 64 NAPT + 32 address-only + 16 EIM + 16 port block pool addresses; basic-nat44 is
    // static.
    assert_eq!(cfg.pool_addrs.len(), 64 + 32 + 16 + 16 + 16);
    assert_eq!(
        cfg.det,
        vec![(
            "10.0.6.0/24".parse().unwrap(),
            u32::from(a4("10.0.6.1")),
            254,
            64
        )]
    );
    assert!(cfg
        .pool_addrs
        .contains(&(a4("203.0.113.241"), true, 1, 2000, 100)));
    assert!(cfg
        .pool_addrs
        .contains(&(a4("203.0.113.130"), true, 2, 0, 0)));
    assert!(cfg
        .pool_addrs
        .contains(&(a4("203.0.113.197"), false, 5, 0, 0)));
    assert_eq!(cfg.static_src.len(), 256);
    assert!(cfg.static_src.contains(&(a4("198.18.0.5"), a4("10.0.3.5"))));
    assert_eq!(cfg.static_dst, vec![(a4("10.0.0.10"), a4("203.0.113.10"))]);
    let pinned: Vec<String> = cfg.pinned.iter().map(|p| p.to_string()).collect();
    assert_eq!(pinned, ["10.0.2.0/24", "10.0.4.0/24", "10.0.5.0/24"]);
    // Everything normalize() answers, the expansion answers the same.
    for &(pool, internal) in &cfg.static_src {
        assert_eq!(pol.nat.normalize(IpAddr::V4(pool)), IpAddr::V4(internal));
    }
}

// ---------------------------------------------------------------------------------------
// Agreement with userspace on random frames

/// xorshift64*: deterministic, seeded, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn u16(&mut self) -> u16 {
        self.next() as u16
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

/// An address that exercises one of the owner function's branches.
fn rand_v4(r: &mut Rng) -> Ipv4Addr {
    let base = |s: &str, n: u64, r: &mut Rng| Ipv4Addr::from(u32::from(a4(s)) + r.below(n) as u32);
    match r.below(15) {
        0 => base("203.0.113.128", 64, r),                    // NAPT pool
        1 => base("203.0.113.192", 32, r),                    // address-only pool
        2 => base("203.0.113.224", 16, r),                    // EIM pool
        3 => base("198.18.0.0", 256, r),                      // basic-nat44 pool
        4 => *r.pick(&[a4("10.0.0.10"), a4("203.0.113.10")]), // dnat-44
        5 => base("10.0.1.0", 256, r),                        // napt inside
        6 => base("10.0.2.0", 256, r),                        // dynamic-nat44 inside (pinned)
        7 => base("10.0.3.0", 256, r),                        // basic-nat44 inside
        8 => base("10.0.4.0", 256, r),                        // EIM inside (pinned)
        9 => base("198.51.100.0", 256, r),                    // outside
        10 => base("203.0.113.240", 16, r),                   // port block pool
        11 => base("10.0.5.0", 256, r),                       // port block inside (pinned)
        12 => base("203.0.113.96", 16, r),                    // deterministic pool
        13 => base("10.0.6.0", 256, r),                       // deterministic subscribers
        _ => Ipv4Addr::from(r.next() as u32),
    }
}

fn rand_v6(r: &mut Rng) -> Ipv6Addr {
    if r.chance(50) {
        Ipv6Addr::from(0x2001_0db8_0000_0000_0000_0000_0000_0000u128 | u128::from(r.below(8)))
    } else {
        Ipv6Addr::from((u128::from(r.next()) << 64) | u128::from(r.next()))
    }
}

/// Ports: often small or pool-range ones, sometimes zero (a malformed TCP/UDP frame).
fn rand_port(r: &mut Rng) -> u16 {
    match r.below(20) {
        0 => 0,
        1..=5 => *r.pick(&[53, 80, 443, 5060, 1024, 1025, 65535]),
        _ => r.u16(),
    }
}

/// An L4 message for `proto` on IPv4 (`v4`) or IPv6.
fn rand_l4(r: &mut Rng, v4: bool, proto: u8, depth: u32) -> Vec<u8> {
    let icmp_proto = if v4 { 1 } else { 58 };
    match proto {
        6 => {
            let mut t = tcp(rand_port(r), rand_port(r));
            if r.chance(10) {
                t[12] = (r.below(16) as u8) << 4; // data offset, maybe bad
            }
            if r.chance(20) {
                t[12] = 6 << 4;
                t.extend_from_slice(&[1, 1, 1, 0]);
            }
            t
        }
        17 => {
            let mut u = udp(rand_port(r), rand_port(r), &vec![0u8; r.below(20) as usize]);
            if r.chance(5) {
                let l = r.u16() % 40;
                u[4..6].copy_from_slice(&l.to_be_bytes());
            }
            u
        }
        47 => {
            let f = *r.pick(&[0x0000u16, 0x2000, 0xb000, 0x3001, 0x3081, 0x0002, 0x8000]);
            let mut g = f.to_be_bytes().to_vec();
            g.extend_from_slice(&0x880bu16.to_be_bytes());
            g.extend(std::iter::repeat_n(0u8, r.below(16) as usize));
            g
        }
        132 => {
            let mut s = rand_port(r).to_be_bytes().to_vec();
            s.extend_from_slice(&rand_port(r).to_be_bytes());
            s.extend(std::iter::repeat_n(0u8, r.below(14) as usize));
            s
        }
        p if p == icmp_proto => {
            let types: &[u8] = if v4 {
                &[0, 3, 4, 5, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 42]
            } else {
                &[1, 2, 3, 4, 128, 129, 133, 135, 100]
            };
            let t = *r.pick(types);
            let is_err = if v4 {
                matches!(t, 3 | 4 | 5 | 11 | 12)
            } else {
                t < 5
            };
            if is_err && depth == 0 {
                let inner = rand_ip(r, v4, depth + 1);
                let keep = if r.chance(70) {
                    inner.len()
                } else {
                    r.below(inner.len() as u64 + 1) as usize
                };
                icmp(t, 0, 0, 0, &inner[..keep])
            } else {
                icmp(t, r.below(3) as u8, r.u16(), r.u16(), b"data")
            }
        }
        _ => vec![0u8; r.below(12) as usize],
    }
}

/// A random IP packet (header and L4), sometimes fragmented, with options or extension
/// headers.
fn rand_ip(r: &mut Rng, v4: bool, depth: u32) -> Vec<u8> {
    let icmp_proto = if v4 { 1 } else { 58 };
    let proto = *r.pick(&[6, 17, 6, 17, icmp_proto, icmp_proto, 47, 132, 50, 1, 58]);
    let l4 = rand_l4(r, v4, proto, depth);
    if v4 {
        let frag = match r.below(10) {
            0 => 0x2000,                      // first
            1 => 0x2000 | (r.u16() & 0x1fff), // later, more
            2 => r.u16() & 0x1fff,            // last
            3 => 0x4000,                      // DF
            _ => 0,
        };
        let opts: &[u8] = match r.below(6) {
            0 => &[1, 1, 1, 0],
            1 => &[7, 7, 4, 0, 0, 0, 0, 0],
            _ => &[],
        };
        ip4_full(rand_v4(r), rand_v4(r), proto, &l4, opts, frag)
    } else {
        let mut payload = l4;
        let mut nh = proto;
        for _ in 0..r.below(4) {
            let (h, t) = match r.below(5) {
                0 => (ext6(nh, 1 + r.below(2) as u8), 0),
                1 => (ext6(nh, 1), 43),
                2 => (ext6(nh, 2), 60),
                3 => {
                    let off = if r.chance(50) {
                        0
                    } else {
                        (r.u16() & 0xfff8) | 8
                    };
                    (frag6(nh, off, r.chance(50), r.next() as u32), 44)
                }
                _ => {
                    let mut ah = vec![nh, 4, 0, 0];
                    ah.extend_from_slice(&[0u8; 20]);
                    (ah, 51)
                }
            };
            let mut v = h;
            v.extend(payload);
            payload = v;
            nh = t;
        }
        if r.chance(15) {
            let mut v = ext6(nh, 1);
            v.extend(payload);
            payload = v;
            nh = 0;
        }
        ip6(rand_v6(r), rand_v6(r), nh, &payload)
    }
}

/// A frame built with etherparse's PacketBuilder (an independent writer).
fn etherparse_frame(r: &mut Rng) -> Vec<u8> {
    let payload = vec![0xab; r.below(40) as usize];
    let (sp, dp) = (rand_port(r).max(1), rand_port(r).max(1));
    let (id, seq) = (r.u16(), r.u16());
    let vid = etherparse::VlanId::try_new(r.below(4095) as u16).unwrap();
    let (s4, d4) = (rand_v4(r).octets(), rand_v4(r).octets());
    let (s6, d6) = (rand_v6(r).octets(), rand_v6(r).octets());
    let eth = || PacketBuilder::ethernet2(SMAC, DMAC);
    let mut out = Vec::new();
    // The builder changes type at every step: one arm per shape.
    match r.below(10) {
        0 => eth()
            .ipv4(s4, d4, 64)
            .tcp(sp, dp, 1, 1000)
            .syn()
            .write(&mut out, &payload),
        1 => eth().ipv4(s4, d4, 64).udp(sp, dp).write(&mut out, &payload),
        2 => eth()
            .ipv4(s4, d4, 64)
            .icmpv4_echo_request(id, seq)
            .write(&mut out, &payload),
        3 => eth()
            .ipv4(s4, d4, 64)
            .icmpv4(Icmpv4Type::EchoReply(etherparse::IcmpEchoHeader {
                id,
                seq,
            }))
            .write(&mut out, &payload),
        4 => eth()
            .single_vlan(vid)
            .ipv4(s4, d4, 64)
            .tcp(sp, dp, 1, 1000)
            .ack(7)
            .write(&mut out, &payload),
        5 => eth()
            .single_vlan(vid)
            .ipv4(s4, d4, 64)
            .udp(sp, dp)
            .write(&mut out, &payload),
        6 => eth()
            .ipv6(s6, d6, 64)
            .tcp(sp, dp, 1, 1000)
            .write(&mut out, &payload),
        7 => eth().ipv6(s6, d6, 64).udp(sp, dp).write(&mut out, &payload),
        8 => eth()
            .ipv6(s6, d6, 64)
            .icmpv6_echo_request(id, seq)
            .write(&mut out, &payload),
        _ => eth()
            .single_vlan(vid)
            .ipv6(s6, d6, 64)
            .icmpv6_echo_reply(id, seq)
            .write(&mut out, &payload),
    }
    .unwrap();
    out
}

fn rand_frame(r: &mut Rng) -> Vec<u8> {
    let mut f = match r.below(10) {
        0..=3 => etherparse_frame(r),
        4 => {
            if r.chance(50) {
                eth(0x0806, &arp())
            } else {
                eth(*r.pick(&[0x88cc, 0x8847, 0x88a8, 0x0842]), &[0u8; 46])
            }
        }
        n => {
            let v4 = n % 2 == 0;
            let ip = rand_ip(r, v4, 0);
            let et = if v4 { 0x0800 } else { 0x86dd };
            if r.chance(15) {
                eth_vlan(r.u16() & 0x0fff, et, &ip)
            } else {
                eth(et, &ip)
            }
        }
    };
    if r.chance(10) {
        f.extend(std::iter::repeat_n(0u8, r.below(20) as usize)); // Ethernet padding
    }
    if r.chance(8) {
        let keep = 14 + r.below((f.len() - 14) as u64 + 1) as usize;
        f.truncate(keep);
    }
    if r.chance(8) {
        let i = 12 + r.below((f.len() - 12) as u64) as usize;
        f[i] ^= 1 << r.below(8);
    }
    f
}

#[test]
fn kernel_and_userspace_owners_agree() {
    if kernel_cannot_run() {
        return;
    }
    let pol = policy(NAT_CONFIG);
    let mut r = Rng(0x6d73_7069_635f_7864);
    let frames: Vec<Vec<u8>> = (0..4000).map(|_| rand_frame(&mut r)).collect();
    let mut l = load(&pol, 1);
    let (mut parsed, mut errors, mut icmp_errors, mut pool, mut pinned, mut stat) =
        (0, 0, 0, 0, 0, 0);
    for n in 1..=8u32 {
        l.prog.update(&SteerConfig::from_policy(&pol, n)).unwrap();
        for f in &frames {
            let out = run(&l.prog, f);
            let ctx = || format!("n={n} frame {:02x?}", f);
            match parse_frame(f) {
                Ok(p) => {
                    let m = out.meta.unwrap_or_else(|| panic!("no metadata: {}", ctx()));
                    assert_eq!(out.action, XdpAction::Redirect, "{}", ctx());
                    assert_eq!(
                        m.flags & flags::PARSE_ERROR,
                        0,
                        "kernel rejects what userspace parses: {}",
                        ctx()
                    );
                    assert_eq!(usize::from(m.l3_off), p.l3_offset, "{}", ctx());
                    assert_eq!(usize::from(m.l4_off), p.l4_offset, "{}", ctx());
                    assert_eq!(
                        m.has(flags::ICMP_ERROR),
                        matches!(p.l4, L4::IcmpError { .. }),
                        "{}",
                        ctx()
                    );
                    assert_eq!(m.has(flags::VLAN), p.vlan.is_some(), "{}", ctx());
                    if p.is_later_fragment() {
                        assert!(m.has(flags::LATER_FRAG), "{}", ctx());
                        assert_eq!(
                            m.owner,
                            0,
                            "later fragments stay on the receiving queue: {}",
                            ctx()
                        );
                    } else {
                        let want = mspic_flow::owner::owner(&p, n, &pol.nat);
                        assert_eq!(u32::from(m.owner), want, "{}", ctx());
                    }
                    if n == 8 {
                        parsed += 1;
                        icmp_errors += u32::from(m.has(flags::ICMP_ERROR));
                        pool += u32::from(m.has(flags::POOL));
                        pinned += u32::from(m.has(flags::PINNED));
                        stat += u32::from(m.has(flags::STATIC));
                    }
                }
                Err(WireError::NotIp { ethertype }) => {
                    if ethertype == 0x0806 {
                        let m = out.meta.unwrap_or_else(|| panic!("no metadata: {}", ctx()));
                        assert!(m.has(flags::ARP), "{}", ctx());
                    } else {
                        assert_eq!(out.action, XdpAction::Pass, "{}", ctx());
                        assert_eq!(out.meta, None, "{}", ctx());
                    }
                }
                Err(e) => {
                    let m = out
                        .meta
                        .unwrap_or_else(|| panic!("no metadata for {e}: {}", ctx()));
                    assert!(
                        m.has(flags::PARSE_ERROR),
                        "userspace says {e}, the kernel parses: {}",
                        ctx()
                    );
                    assert_eq!(m.owner, 0, "{}", ctx());
                    if n == 8 {
                        errors += 1;
                    }
                }
            }
        }
    }
    eprintln!(
        "{} frames: {parsed} parsed ({icmp_errors} ICMP errors, {pool} pool-owned, {pinned} pinned, {stat} static), {errors} malformed",
        frames.len()
    );
    // The generator reaches every branch.
    assert!(parsed > 2000 && errors > 150, "{parsed} {errors}");
    assert!(icmp_errors > 60 && pool > 150 && pinned > 150 && stat > 100);
}

// ---------------------------------------------------------------------------------------
// Attaching, in a network namespace of the test's own

static NS_SEQ: AtomicU32 = AtomicU32::new(0);

fn ip(args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running ip {args:?}: {e} (install iproute2)"));
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace with a veth pair `xa`/`xb` (`queues` queues each), deleted on drop
/// (also when the test panics).
struct Netns {
    name: String,
}

impl Netns {
    fn new(queues: u32) -> Netns {
        let name = format!(
            "mspic-xdp-{}-{}",
            std::process::id(),
            NS_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        let q = queues.to_string();
        ip(&[
            "-n",
            &ns.name,
            "link",
            "add",
            "name",
            "xa",
            "numtxqueues",
            &q,
            "numrxqueues",
            &q,
            "type",
            "veth",
            "peer",
            "name",
            "xb",
            "numtxqueues",
            &q,
            "numrxqueues",
            &q,
        ]);
        ip(&["-n", &ns.name, "link", "set", "dev", "xa", "up"]);
        ip(&["-n", &ns.name, "link", "set", "dev", "xb", "up"]);
        ns
    }

    /// Runs `f` on a thread that has entered the namespace (so ifindexes and
    /// BPF_PROG_TEST_RUN's ingress device resolve there); the caller's thread stays put.
    fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            // SAFETY: setns(2) on a valid namespace fd; it changes only this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }

    /// `ip -j link show dev` as JSON text.
    fn link_json(&self, dev: &str) -> String {
        ip(&["-n", &self.name, "-j", "-d", "link", "show", "dev", dev])
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn xdp_prog_of(json: &str) -> Option<String> {
    // `"xdp":{"mode":1,"prog":{"id":N,"name":"mspic_steer",...}}`
    let i = json.find("\"xdp\"")?;
    Some(json[i..].chars().take(200).collect())
}

#[test]
fn attach_with_a_link_and_detach_on_drop() {
    if kernel_cannot_run() {
        return;
    }
    let ns = Netns::new(4);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let path = format!("/run/netns/{}", ns.name);
    let t = std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: setns(2) on a valid namespace fd; it changes only this thread.
        assert_eq!(
            unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) },
            0
        );
        let a = xdp::ifindex("xa").unwrap();
        let mut prog = XdpProgram::load(&SteerConfig {
            shards: 4,
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let link = prog
            .attach(a, XdpMode::Native)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((link.ifindex(), link.mode()), (a, XdpMode::Native));
        // A second attachment is refused, naming the netdev and the mode.
        let e = prog.attach(a, XdpMode::Native).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(" xa ") && msg.contains("native"), "{msg}");
        // A program held by a live link is not stale: remove_stale refuses, saying why.
        let e = xdp::remove_stale(a).unwrap_err();
        assert!(e.to_string().contains("bpf_link"), "{e}");
        tx.send(()).unwrap();
        done_rx.recv().unwrap();
        drop(link);
    });
    rx.recv().unwrap();
    let shown = ns.link_json("xa");
    let x = xdp_prog_of(&shown).unwrap_or_else(|| panic!("no XDP program on xa: {shown}"));
    assert!(x.contains("mspic_steer"), "{x}");
    done_tx.send(()).unwrap();
    t.join().unwrap();
    let shown = ns.link_json("xa");
    assert!(
        xdp_prog_of(&shown).is_none(),
        "still attached after the link was dropped: {shown}"
    );
}

#[test]
fn remove_stale_netlink_attachment() {
    if kernel_cannot_run() {
        return;
    }
    let ns = Netns::new(1);
    let a = ns.run(|| {
        let a = xdp::ifindex("xa").unwrap();
        let prog = XdpProgram::load(&SteerConfig {
            shards: 1,
            ..Default::default()
        })
        .unwrap();
        prog.attach_netlink(a, XdpMode::Native)
            .unwrap_or_else(|e| panic!("{e}"));
        // The program object goes away; the netlink attachment stays, as after a crash.
        a
    });
    let shown = ns.link_json("xa");
    assert!(
        xdp_prog_of(&shown).is_some_and(|x| x.contains("mspic_steer")),
        "{shown}"
    );
    let (first, second) =
        ns.run(move || (xdp::remove_stale(a).unwrap(), xdp::remove_stale(a).unwrap()));
    assert!(first, "the stale program was not removed");
    assert!(!second, "nothing left to remove");
    let shown = ns.link_json("xa");
    assert!(xdp_prog_of(&shown).is_none(), "{shown}");
    // An unknown interface is a clear error.
    let e = xdp::ifindex("no-such-dev0").unwrap_err();
    assert!(e.to_string().contains("no-such-dev0"), "{e}");
}

/// The XSKMAP key combines the port and the receive queue, and a later fragment's owner
/// is the queue it arrived on: run on a 4-queue veth in the test's namespace.
#[test]
fn queue_and_port_select_the_socket() {
    if kernel_cannot_run() {
        return;
    }
    let ns = Netns::new(4);
    ns.run(|| {
        let a = xdp::ifindex("xa").unwrap();
        let mut prog = XdpProgram::load(&SteerConfig {
            shards: 4,
            ..Default::default()
        })
        .unwrap();
        prog.set_port(a, 2).unwrap();
        let xsk = xsk_socket();
        prog.register_xsk(2, 3, xsk.as_raw_fd()).unwrap();
        let later = eth(
            0x0800,
            &ip4_full(
                a4("10.0.1.2"),
                a4("198.51.100.7"),
                17,
                &[0u8; 24],
                &[],
                0x0010,
            ),
        );
        let on3 = prog
            .test_run(&later, 3, a)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(on3.action, XdpAction::Redirect);
        let m = on3.meta.unwrap();
        assert_eq!(m.owner, 3);
        assert!(m.has(flags::LATER_FRAG | flags::IPV4));
        let on1 = prog.test_run(&later, 1, a).unwrap();
        assert_eq!(on1.action, XdpAction::Pass, "no socket on queue 1");
        assert_eq!(on1.meta.unwrap().owner, 1);
        let c = prog.counters().unwrap();
        assert_eq!(
            (c.redirected, c.pass_no_socket, c.later_fragment),
            (1, 1, 2)
        );
    });
}

/// Real frames through a veth in native mode: sent from the peer inside the test's own
/// namespace (to an address that exists only there), seen and counted by the program.
#[test]
fn live_frames_on_a_veth_are_steered_and_counted() {
    if kernel_cannot_run() {
        return;
    }
    let ns = Netns::new(1);
    ip(&[
        "-n",
        &ns.name,
        "link",
        "set",
        "dev",
        "xa",
        "address",
        "02:00:00:00:99:01",
    ]);
    ip(&["-n", &ns.name, "addr", "add", "10.99.0.2/24", "dev", "xb"]);
    ip(&[
        "-n",
        &ns.name,
        "neigh",
        "add",
        "10.99.0.1",
        "lladdr",
        "02:00:00:00:99:01",
        "dev",
        "xb",
        "nud",
        "permanent",
    ]);
    let c = ns.run(|| {
        let a = xdp::ifindex("xa").unwrap();
        let mut prog = XdpProgram::load(&SteerConfig {
            shards: 2,
            ..Default::default()
        })
        .unwrap();
        prog.set_port(a, 0).unwrap();
        let _link = prog
            .attach(a, XdpMode::Native)
            .unwrap_or_else(|e| panic!("{e}"));
        let sock = std::net::UdpSocket::bind("10.99.0.2:0").unwrap();
        for _ in 0..5 {
            sock.send_to(b"steer me", "10.99.0.1:9").unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let c = prog.counters().unwrap();
            if c.ipv4 >= 5 || std::time::Instant::now() > deadline {
                return c;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    });
    assert!(c.ipv4 >= 5, "{c:?}");
    assert!(c.hashed >= 5, "{c:?}");
    assert!(c.pass_no_socket >= 5, "no socket is registered: {c:?}");
    assert_eq!(c.parse_error, 0, "{c:?}");
}

/// An enhanced GRE (version 1, PPTP) packet to call id `call` (K and S set, PPP).
fn gre_v1(call: u16) -> Vec<u8> {
    let mut h = vec![0x30, 0x01, 0x88, 0x0b, 0x00, 0x04];
    h.extend_from_slice(&call.to_be_bytes());
    h.extend_from_slice(&1u32.to_be_bytes());
    h.extend_from_slice(b"\xff\x03\xc0\x21");
    h
}

/// A PPTP call's GRE child is keyed by call id in userspace, but both the kernel and
/// `owner_of_key` own a call key like its 3-tuple: whatever the call id, a GRE packet
/// lands where its 3-tuple does (hashed, or the pool address's index), and shards steer
/// a child whose two sides land apart.
#[test]
fn gre_call_ids_do_not_move_the_owner() {
    if kernel_cannot_run() {
        return;
    }
    let pol = policy(NAT_CONFIG);
    for n in 2..=8u32 {
        let l = load(&pol, n);
        for (src, dst) in [
            ("10.0.0.2", "198.51.100.7"),
            ("198.51.100.7", "203.0.113.131"),
        ] {
            let plain = eth(0x0800, &ip4(src, dst, 47, &gre()));
            let want = rust_owner(&pol, &plain, n);
            assert_eq!(run(&l.prog, &plain).meta.unwrap().owner, want);
            for call in [0u16, 1, 128, 0x4001, 0xffff] {
                let f = eth(0x0800, &ip4(src, dst, 47, &gre_v1(call)));
                assert_eq!(run(&l.prog, &f).meta.unwrap().owner, want, "{n} {call}");
                let key = parse_frame(&f).unwrap().call_key().unwrap();
                let o = mspic_flow::owner::owner_of_key(&key, n, &pol.nat);
                assert_eq!(o as u16, want, "{n} shards, call {call}");
            }
        }
    }
}
