//! Test harness: a shard driven in virtual time, frames built with etherparse (independent
//! of the engine's own wire code).
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use etherparse::{Icmpv4Type, PacketBuilder};
use mspic_flow::{
    Policy, SessionFilter, SessionSnapshot, SfwStats, Shard, ShardConfig, Time, Verdict,
};

pub const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
pub const ROUTER_MAC: [u8; 6] = [2, 0, 0, 0, 1, 0];

pub fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// The testbed topology with a firewall that accepts what the inside starts, and the
/// statements a test adds (inside `services stateful-firewall rule r`).
pub fn config(sfw_terms: &str, ms_options: &str) -> String {
    let ms_options = if ms_options.is_empty() {
        String::new()
    } else {
        format!("services-options {{ {ms_options} }}")
    };
    format!(
        r#"
interfaces {{
    ge-0/0/0 {{ unit 0 {{ family inet {{ service {{ input {{ service-set ss; }} output {{ service-set ss; }} }} address 10.0.0.1/24; }} }} }}
    ge-0/0/1 {{ unit 0 {{ family inet {{ address 203.0.113.1/24; }} }} }}
    ms-1/1/0 {{ {ms_options} unit 0 {{ family inet; }} }}
}}
routing-options {{ static {{ route 198.51.100.0/24 next-hop 203.0.113.2; }} }}
applications {{
    application tftp-long {{ protocol udp; destination-port 69; inactivity-timeout 100; }}
}}
services {{
    stateful-firewall {{
        rule r {{
            match-direction input;
            {sfw_terms}
        }}
    }}
    service-set ss {{
        stateful-firewall-rules r;
        interface-service {{ service-interface ms-1/1/0; }}
    }}
}}
"#
    )
}

/// An IPv6-only LAN behind ge-0/0/0, the IPv4 Internet behind ge-0/0/1, and NAT64 of the
/// LAN to the well-known prefix (or `prefix`) from a pool with ports.
pub fn nat64_config(prefix: &str) -> String {
    let dprefix = if prefix.is_empty() {
        String::new()
    } else {
        format!("destination-prefix {prefix};")
    };
    let from = if prefix.is_empty() {
        "64:ff9b::/96"
    } else {
        prefix
    };
    format!(
        r#"
interfaces {{
    ge-0/0/0 {{ unit 0 {{ family inet6 {{ service {{ input {{ service-set ss; }} output {{ service-set ss; }} }} address 2001:db8:10::1/64; }} }} }}
    ge-0/0/1 {{ unit 0 {{ family inet {{ address 203.0.113.1/24; }} }} }}
    ms-1/1/0 {{ unit 0 {{ family inet; family inet6; }} }}
}}
routing-options {{ static {{ route 198.51.100.0/24 next-hop 203.0.113.2; }} }}
services {{
    nat {{
        pool p4 {{ address 203.0.113.128/30; port {{ automatic; }} }}
        rule r64 {{
            match-direction input;
            term t {{
                from {{ source-address {{ 2001:db8:10::/64; }} destination-address {{ {from}; }} }}
                then {{ translated {{ source-pool p4; {dprefix} translation-type stateful-nat64; }} }}
            }}
        }}
    }}
    service-set ss {{
        nat-rules r64;
        interface-service {{ service-interface ms-1/1/0; }}
    }}
}}
"#
    )
}
pub const ACCEPT_INSIDE: &str =
    "term t1 { from { source-address { 10.0.0.0/24; } } then { accept; } }";

pub struct Harness {
    pub shard: Shard,
    pub now: Time,
    pub policy: Arc<Policy>,
}

impl Harness {
    pub fn new(text: &str) -> Self {
        Self::with(text, ShardConfig::default())
    }

    pub fn with(text: &str, cfg: ShardConfig) -> Self {
        let c = mspic_config::parse(text, "test.conf").unwrap_or_else(|e| panic!("{e}"));
        let policy = Arc::new(Policy::compile(&c).unwrap());
        Harness {
            shard: Shard::new(cfg, Arc::clone(&policy)),
            now: Time::from_secs(1_000),
            policy,
        }
    }

    /// Advances virtual time and expires what is due.
    pub fn advance_ms(&mut self, ms: u64) {
        self.now = Time(self.now.0 + ms * 1_000_000);
        self.shard.handle_timeout(self.now);
    }

    /// Sends `frame` in on the interface the route towards its source points at (where it
    /// would arrive); returns the verdict and the frame as it leaves.
    pub fn send(&mut self, frame: &[u8]) -> (Verdict, Vec<u8>) {
        let p = mspic_wire::parse_frame(frame).expect("test frame parses");
        let ingress = match self.policy.routes.lookup(p.key.src) {
            mspic_flow::route::RouteResult::Forward { egress, .. } => egress,
            other => panic!("no route back to {}: {other:?}", p.key.src),
        };
        self.send_on(ingress, frame)
    }

    pub fn send_on(&mut self, ingress: mspic_flow::IfIndex, frame: &[u8]) -> (Verdict, Vec<u8>) {
        let mut buf = vec![0u8; 4096];
        buf[..frame.len()].copy_from_slice(frame);
        let mut f = mspic_flow::Frame::new(&mut buf, frame.len());
        let v = self.shard.process(self.now, ingress, &mut f);
        let len = f.len;
        buf.truncate(len);
        self.shard.check_consistency().unwrap();
        (v, buf)
    }

    pub fn sessions(&self) -> Vec<SessionSnapshot> {
        let mut v = Vec::new();
        self.shard.sessions(&SessionFilter::default(), &mut v);
        v.sort_by_key(|s| s.id);
        v
    }

    pub fn stats(&self) -> SfwStats {
        self.shard.sfw_statistics()[0].1.clone()
    }
}

fn mac_for(src: Ipv4Addr) -> ([u8; 6], [u8; 6]) {
    if src.octets()[0] == 10 {
        (CLIENT_MAC, ROUTER_MAC)
    } else {
        ([2, 0, 0, 0, 0, 0x22], [2, 0, 0, 0, 1, 1])
    }
}

#[allow(clippy::too_many_arguments)]
pub fn tcp(
    src: &str,
    sport: u16,
    dst: &str,
    dport: u16,
    flags: &str,
    seq: u32,
    ack: u32,
    payload: &[u8],
) -> Vec<u8> {
    tcp_ttl(src, sport, dst, dport, flags, seq, ack, payload, 64)
}

/// As [`tcp`] with an explicit TTL.
#[allow(clippy::too_many_arguments)]
pub fn tcp_ttl(
    src: &str,
    sport: u16,
    dst: &str,
    dport: u16,
    flags: &str,
    seq: u32,
    ack: u32,
    payload: &[u8],
    ttl: u8,
) -> Vec<u8> {
    let (s, d) = (v4(src), v4(dst));
    let (sm, dm) = mac_for(s);
    let mut b = PacketBuilder::ethernet2(sm, dm)
        .ipv4(s.octets(), d.octets(), ttl)
        .tcp(sport, dport, seq, 64240);
    for f in flags.chars() {
        b = match f {
            'S' => b.syn(),
            'A' => b.ack(ack),
            'F' => b.fin(),
            'R' => b.rst(),
            'P' => b.psh(),
            _ => panic!("flag {f}"),
        };
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

pub fn udp(src: &str, sport: u16, dst: &str, dport: u16, payload: &[u8]) -> Vec<u8> {
    udp_ttl(src, sport, dst, dport, payload, 64)
}

pub fn udp_ttl(src: &str, sport: u16, dst: &str, dport: u16, payload: &[u8], ttl: u8) -> Vec<u8> {
    let (s, d) = (v4(src), v4(dst));
    let (sm, dm) = mac_for(s);
    let b = PacketBuilder::ethernet2(sm, dm)
        .ipv4(s.octets(), d.octets(), ttl)
        .udp(sport, dport);
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

pub fn ping(src: &str, dst: &str, id: u16, seq: u16, reply: bool) -> Vec<u8> {
    ping_ttl(src, dst, id, seq, reply, 64)
}

pub fn ping_ttl(src: &str, dst: &str, id: u16, seq: u16, reply: bool, ttl: u8) -> Vec<u8> {
    let (s, d) = (v4(src), v4(dst));
    let (sm, dm) = mac_for(s);
    let b = PacketBuilder::ethernet2(sm, dm).ipv4(s.octets(), d.octets(), ttl);
    let b = if reply {
        b.icmpv4_echo_reply(id, seq)
    } else {
        b.icmpv4_echo_request(id, seq)
    };
    let mut out = Vec::new();
    b.write(&mut out, b"pingpingpingping").unwrap();
    out
}

/// An ICMP port unreachable from `src` quoting `quoted` (an Ethernet frame; its IP part is
/// quoted).
pub fn port_unreachable(src: &str, dst: &str, quoted: &[u8]) -> Vec<u8> {
    let (s, d) = (v4(src), v4(dst));
    let (sm, dm) = mac_for(s);
    let b = PacketBuilder::ethernet2(sm, dm)
        .ipv4(s.octets(), d.octets(), 64)
        .icmpv4(Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::Port,
        ));
    let ip = &quoted[14..];
    let q = &ip[..ip.len().min(28)];
    let mut out = Vec::new();
    b.write(&mut out, q).unwrap();
    out
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Full one's-complement checksum check of every header of a frame, computed here from
/// scratch (independent of the engine).
pub fn checksums_ok(frame: &[u8]) -> bool {
    match etherparse::SlicedPacket::from_ethernet(frame) {
        Err(_) => false,
        Ok(p) => {
            let Some(etherparse::NetSlice::Ipv4(ip)) = p.net else {
                return true;
            };
            let h = ip.header();
            let hb = h.slice();
            if sum16(hb) != 0xffff {
                return false;
            }
            let (s, d) = (h.source(), h.destination());
            let payload = ip.payload().payload;
            let pseudo = |proto: u8, len: usize| {
                let mut v = Vec::new();
                v.extend_from_slice(&s);
                v.extend_from_slice(&d);
                v.push(0);
                v.push(proto);
                v.extend_from_slice(&(len as u16).to_be_bytes());
                v
            };
            match h.protocol().0 {
                6 => {
                    let mut v = pseudo(6, payload.len());
                    v.extend_from_slice(payload);
                    sum16(&v) == 0xffff
                }
                17 => {
                    if payload.len() >= 8 && payload[6] == 0 && payload[7] == 0 {
                        return true;
                    }
                    let mut v = pseudo(17, payload.len());
                    v.extend_from_slice(payload);
                    sum16(&v) == 0xffff
                }
                1 => sum16(payload) == 0xffff,
                _ => true,
            }
        }
    }
}

fn sum16(b: &[u8]) -> u16 {
    let mut s: u32 = 0;
    let mut i = 0;
    while i + 1 < b.len() {
        s += u32::from(u16::from_be_bytes([b[i], b[i + 1]]));
        i += 2;
    }
    if i < b.len() {
        s += u32::from(b[i]) << 8;
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// `frame` with the Ethernet addresses of `from` (MACs are not part of any checksum; the
/// engine leaves L2 to the dataplane).
pub fn with_macs(mut frame: Vec<u8>, from: &[u8]) -> Vec<u8> {
    frame[..12].copy_from_slice(&from[..12]);
    frame
}

/// Zeroes the UDP checksum of an IPv4/UDP frame without options ("no checksum").
pub fn zero_udp_checksum(mut frame: Vec<u8>) -> Vec<u8> {
    frame[14 + 20 + 6] = 0;
    frame[14 + 20 + 7] = 0;
    frame
}

/// The IPv4 header checksum of the packet quoted in an ICMP error verifies.
pub fn inner_ip_checksum_ok(frame: &[u8]) -> bool {
    let inner = &frame[14 + 20 + 8..];
    let ihl = usize::from(inner[0] & 0x0f) * 4;
    sum16(&inner[..ihl]) == 0xffff
}

/// A set of shards routed by the owner function, as the daemon's workers are.
pub struct Cluster {
    pub shards: Vec<mspic_flow::Shard>,
    pub policy: Arc<Policy>,
    pub now: Time,
}

impl Cluster {
    pub fn new(text: &str, n: u32) -> Self {
        let c = mspic_config::parse(text, "test.conf").unwrap_or_else(|e| panic!("{e}"));
        let policy = Arc::new(Policy::compile(&c).unwrap_or_else(|e| panic!("{e}")));
        let shards = (0..n)
            .map(|i| {
                mspic_flow::Shard::new(
                    ShardConfig {
                        index: i,
                        count: n,
                        prealloc: 64,
                        ..ShardConfig::default()
                    },
                    Arc::clone(&policy),
                )
            })
            .collect();
        Cluster {
            shards,
            policy,
            now: Time::from_secs(1_000),
        }
    }

    pub fn owner(&self, frame: &[u8]) -> usize {
        let p = mspic_wire::parse_frame(frame).expect("parses");
        mspic_flow::owner::owner(&p, self.shards.len() as u32, &self.policy.nat) as usize
    }

    /// Sends a frame to its owner shard, arriving where the route to its source points.
    pub fn send(&mut self, frame: &[u8]) -> (usize, Verdict, Vec<u8>) {
        let p = mspic_wire::parse_frame(frame).expect("parses");
        let ingress = match self.policy.routes.lookup(p.key.src) {
            mspic_flow::route::RouteResult::Forward { egress, .. } => egress,
            other => panic!("no route back to {}: {other:?}", p.key.src),
        };
        let o = self.owner(frame);
        let mut buf = vec![0u8; 4096];
        buf[..frame.len()].copy_from_slice(frame);
        let mut f = mspic_flow::Frame::new(&mut buf, frame.len());
        let v = self.shards[o].process(self.now, ingress, &mut f);
        let len = f.len;
        buf.truncate(len);
        self.shards[o].check_consistency().unwrap();
        (o, v, buf)
    }

    pub fn sessions(&self) -> Vec<SessionSnapshot> {
        let mut v = Vec::new();
        for s in &self.shards {
            s.sessions(&SessionFilter::default(), &mut v);
        }
        v.sort_by_key(|s| s.id);
        v
    }

    pub fn advance_ms(&mut self, ms: u64) {
        self.now = Time(self.now.0 + ms * 1_000_000);
        for s in &mut self.shards {
            s.handle_timeout(self.now);
        }
    }
}

/// The mirror reply of a frame: addresses, ports (or nothing for ICMP echo, which becomes
/// an echo reply) swapped, TTL 64, checksums recomputed by etherparse.
pub fn mirror(frame: &[u8]) -> Vec<u8> {
    let p = etherparse::SlicedPacket::from_ethernet(frame).unwrap();
    let Some(etherparse::NetSlice::Ipv4(ip)) = p.net else {
        panic!("not IPv4")
    };
    let (s, d) = (
        ip.header().source_addr().to_string(),
        ip.header().destination_addr().to_string(),
    );
    let out = match p.transport {
        Some(etherparse::TransportSlice::Udp(u)) => {
            udp(&d, u.destination_port(), &s, u.source_port(), u.payload())
        }
        Some(etherparse::TransportSlice::Tcp(t)) => tcp(
            &d,
            t.destination_port(),
            &s,
            t.source_port(),
            if t.syn() { "SA" } else { "A" },
            7,
            t.sequence_number().wrapping_add(1),
            b"",
        ),
        Some(etherparse::TransportSlice::Icmpv4(i)) => match i.icmp_type() {
            etherparse::Icmpv4Type::EchoRequest(e) => ping(&d, &s, e.id, e.seq, true),
            other => panic!("cannot mirror {other:?}"),
        },
        other => panic!("cannot mirror {other:?}"),
    };
    let mut out = out;
    out[..6].copy_from_slice(&frame[6..12]);
    out[6..12].copy_from_slice(&frame[..6]);
    out
}

/// An untagged IPv4 frame without options with `options` (a multiple of 4 bytes) inserted
/// after its 20-byte header: IHL, total length and header checksum follow (RFC 791 §3.1;
/// the L4 checksum covers no option).
pub fn with_ip_options(frame: &[u8], options: &[u8]) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let mut f = frame[..14 + 20].to_vec();
    f.extend_from_slice(options);
    f.extend_from_slice(&frame[14 + 20..]);
    let ip = &mut f[14..14 + 20 + options.len()];
    ip[0] = 0x40 | ((20 + options.len()) / 4) as u8;
    let total = u16::from_be_bytes([ip[2], ip[3]]) + options.len() as u16;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[10..12].copy_from_slice(&[0, 0]);
    let c = !sum16(ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f
}

/// Where a new UDP flow from `host:sport` to 198.51.100.7:53 leaves from (address, port)
/// once translated, or why it was dropped.
pub fn udp_source(
    h: &mut Harness,
    host: &str,
    sport: u16,
) -> Result<(String, u16), mspic_flow::DropReason> {
    let (v, out) = h.send(&udp(host, sport, "198.51.100.7", 53, b"q"));
    match v {
        Verdict::Forward { .. } => {
            let p = mspic_wire::parse_frame(&out).unwrap();
            Ok((p.key.src.to_string(), p.key.src_port))
        }
        Verdict::Drop(r) => Err(r),
        other => panic!("{other:?}"),
    }
}
