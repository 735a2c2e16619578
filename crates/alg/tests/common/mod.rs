//! Shards with every ALG, driven in virtual time, and frames built with etherparse
//! (independent of the engine's wire code). Messages between shards are delivered after
//! every frame and every timer run, as the drivers do.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use etherparse::{PacketBuilder, TcpOptionElement};
use mspic_flow::{
    Policy, SessionFilter, SessionSnapshot, SfwStats, Shard, ShardConfig, ShardMessage, Time,
    Verdict,
};
use mspic_wire::FlowKey;

pub fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// The testbed (inside 10.0.0.0/24 on ge-0/0/0 with service set `ss` both ways, outside
/// 203.0.113.0/24, servers in 198.51.100.0/24) accepting what the inside starts with the
/// ALG applications named first, and `nat` (pools and terms of rule `snat`, empty: none).
pub fn config(nat_pools: &str, nat_terms: &str) -> String {
    let (nat, rules) = if nat_terms.is_empty() {
        (String::new(), "")
    } else {
        (
            format!("nat {{ {nat_pools} rule snat {{ match-direction input; {nat_terms} }} }}"),
            "nat-rules snat;",
        )
    };
    format!(
        r#"
interfaces {{
    ge-0/0/0 {{ unit 0 {{ family inet {{ service {{ input {{ service-set ss; }} output {{ service-set ss; }} }} address 10.0.0.1/24; }} }} }}
    ge-0/0/1 {{ unit 0 {{ family inet {{ address 203.0.113.1/24; }} }} }}
    ms-1/1/0 {{ unit 0 {{ family inet; }} }}
}}
routing-options {{ static {{ route 198.51.100.0/24 next-hop 203.0.113.2; route 198.18.0.0/24 discard; }} }}
applications {{
    application my-rsh {{ application-protocol rsh; protocol tcp; destination-port 514; }}
    application my-exec {{ application-protocol exec; protocol tcp; destination-port 512; }}
    application my-ike {{ application-protocol ike-esp-nat; protocol udp; destination-port 500; }}
}}
services {{
    stateful-firewall {{
        rule r {{
            match-direction input;
            term algs {{
                from {{
                    source-address {{ 10.0.0.0/24; }}
                    applications [ junos-ftp junos-tftp junos-dns-udp junos-dns-tcp my-rsh my-exec junos-talk junos-ntalk junos-icmp-ping ];
                }}
                then {{ accept; }}
            }}
            term algs2 {{
                from {{
                    source-address {{ 10.0.0.0/24; }}
                    applications [ junos-sip junos-rtsp junos-rpc-portmap junos-dce-rpc-portmap junos-sqlnet-v2 junos-pptp my-ike ];
                }}
                then {{ accept; }}
            }}
            term rest {{ from {{ source-address {{ 10.0.0.0/24; }} }} then {{ accept; }} }}
        }}
    }}
    {nat}
    service-set ss {{
        stateful-firewall-rules r;
        {rules}
        interface-service {{ service-interface ms-1/1/0; }}
    }}
}}
"#
    )
}

pub const NAPT_POOL: &str = "pool public { address 203.0.113.128/25; port { automatic; } }";

/// A source NAT term of type `ttype` from pool `public` for the inside.
pub fn snat_term(ttype: &str) -> String {
    format!(
        "term t1 {{ from {{ source-address {{ 10.0.0.0/24; }} }} then {{ translated {{ source-pool public; translation-type {{ {ttype}; }} }} }} }}"
    )
}

pub fn napt() -> String {
    config(NAPT_POOL, &snat_term("napt-44"))
}

/// A server (10.0.0.10) behind destination NAT, seen from outside at 203.0.113.10, whose
/// sessions get the ALG of `application`.
pub fn dnat_config(application: &str) -> String {
    r#"
interfaces {
    ge-0/0/0 { unit 0 { family inet { address 10.0.0.1/24; } } }
    ge-0/0/1 { unit 0 { family inet { service { input { service-set pub; } output { service-set pub; } } address 203.0.113.1/24; } } }
    ms-1/1/0 { unit 0 { family inet; } }
}
routing-options { static { route 198.51.100.0/24 next-hop 203.0.113.2; } }
services {
    stateful-firewall {
        rule r { match-direction input; term alg { from { applications APP; } then { accept; } } }
    }
    nat {
        pool srv { address 10.0.0.10/32; }
        rule dnat {
            match-direction input;
            term t1 {
                from { destination-address { 203.0.113.10/32; } }
                then { translated { destination-pool srv; translation-type { dnat-44; } } }
            }
        }
    }
    service-set pub { stateful-firewall-rules r; nat-rules dnat; interface-service { service-interface ms-1/1/0; } }
}
"#
    .replace("APP", application)
}

/// Shards built with `mspic_alg::registry()`, routed by the owner function and the
/// shards' steering messages (as a driver applies them).
pub struct Cluster {
    pub shards: Vec<Shard>,
    pub policy: Arc<Policy>,
    pub now: Time,
    pub steer: HashMap<FlowKey, u32>,
}

impl Cluster {
    pub fn new(text: &str, n: u32) -> Self {
        let c = mspic_config::parse(text, "test.conf").unwrap_or_else(|e| panic!("{e}"));
        let policy = Arc::new(Policy::compile(&c).unwrap_or_else(|e| panic!("{e}")));
        let shards = (0..n)
            .map(|i| {
                Shard::with_algs(
                    ShardConfig {
                        index: i,
                        count: n,
                        prealloc: 64,
                        ..ShardConfig::default()
                    },
                    Arc::clone(&policy),
                    mspic_alg::registry(),
                )
            })
            .collect();
        Cluster {
            shards,
            policy,
            now: Time::from_secs(1_000),
            steer: HashMap::new(),
        }
    }

    pub fn one(text: &str) -> Self {
        Self::new(text, 1)
    }

    /// Sends a frame to its owner shard, arriving where the route to its source points;
    /// returns the verdict and the frame as it leaves.
    pub fn send(&mut self, frame: &[u8]) -> (Verdict, Vec<u8>) {
        let p = mspic_wire::parse_frame(frame).expect("test frame parses");
        let ingress = match self.policy.routes.lookup(p.key.src) {
            mspic_flow::route::RouteResult::Forward { egress, .. } => egress,
            other => panic!("no route back to {}: {other:?}", p.key.src),
        };
        let o = match mspic_flow::owner::steered(&self.steer, &p) {
            Some(o) => o as usize,
            None => {
                mspic_flow::owner::owner(&p, self.shards.len() as u32, &self.policy.nat) as usize
            }
        };
        let mut buf = vec![0u8; 16_384];
        buf[..frame.len()].copy_from_slice(frame);
        let mut f = mspic_flow::Frame::new(&mut buf, frame.len());
        let v = self.shards[o].process(self.now, ingress, &mut f);
        let len = f.len;
        buf.truncate(len);
        self.deliver();
        for s in &self.shards {
            s.check_consistency().unwrap();
        }
        (v, buf)
    }

    /// Sends a frame that must be forwarded; returns it as it leaves.
    pub fn pass(&mut self, frame: &[u8]) -> Vec<u8> {
        let (v, out) = self.send(frame);
        assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
        assert!(checksums_ok(&out), "checksums of the forwarded frame");
        out
    }

    pub fn deliver(&mut self) {
        let mut msgs = Vec::new();
        for s in &mut self.shards {
            msgs.extend(s.drain_outbox());
        }
        for m in msgs {
            match m {
                ShardMessage::Steer { key, shard } => {
                    self.steer.insert(key, shard);
                }
                ShardMessage::Unsteer { key } => {
                    self.steer.remove(&key);
                }
                _ => {}
            }
            for s in &mut self.shards {
                s.deliver(m.clone());
            }
        }
    }

    pub fn advance_secs(&mut self, secs: u64) {
        self.now = Time(self.now.0 + secs * 1_000_000_000);
        for s in &mut self.shards {
            s.handle_timeout(self.now);
        }
        self.deliver();
    }

    pub fn sessions(&self) -> Vec<SessionSnapshot> {
        let mut v = Vec::new();
        for s in &self.shards {
            s.sessions(&SessionFilter::default(), &mut v);
        }
        v.sort_by_key(|s| s.id);
        v
    }

    pub fn stats(&self) -> SfwStats {
        let mut t = SfwStats::default();
        for s in &self.shards {
            t.merge(&s.sfw_statistics()[0].1);
        }
        t
    }

    pub fn clear(&mut self, filter: &SessionFilter) -> u64 {
        let now = self.now;
        let n = self
            .shards
            .iter_mut()
            .flat_map(|s| s.clear(filter, now))
            .map(|c| c.2)
            .sum();
        self.deliver();
        n
    }
}

fn macs(src: Ipv4Addr) -> ([u8; 6], [u8; 6]) {
    if src.octets()[0] == 10 {
        ([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 1, 0])
    } else {
        ([2, 0, 0, 0, 0, 0x22], [2, 0, 0, 0, 1, 1])
    }
}

/// A TCP segment (`flags` from S, A, F, R, P) with TTL `ttl` and optional SACK blocks.
#[allow(clippy::too_many_arguments)]
pub fn tcp_full(
    src: (&str, u16),
    dst: (&str, u16),
    flags: &str,
    seq: u32,
    ack: u32,
    payload: &[u8],
    ttl: u8,
    sack: &[(u32, u32)],
) -> Vec<u8> {
    let (s, d) = (v4(src.0), v4(dst.0));
    let (sm, dm) = macs(s);
    let mut b = PacketBuilder::ethernet2(sm, dm)
        .ipv4(s.octets(), d.octets(), ttl)
        .tcp(src.1, dst.1, seq, 64240);
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
    if !sack.is_empty() {
        let first = sack[0];
        let mut rest = [None, None, None];
        for (i, x) in sack[1..].iter().enumerate() {
            rest[i] = Some(*x);
        }
        b = b
            .options(&[
                TcpOptionElement::Noop,
                TcpOptionElement::Noop,
                TcpOptionElement::SelectiveAcknowledgement(first, rest),
            ])
            .unwrap();
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

/// A TCP segment as a host sends it (TTL 64).
pub fn tcp(
    src: (&str, u16),
    dst: (&str, u16),
    flags: &str,
    seq: u32,
    ack: u32,
    payload: &[u8],
) -> Vec<u8> {
    tcp_full(src, dst, flags, seq, ack, payload, 64, &[])
}

/// The same segment as it leaves the engine (TTL 63), with the receiver's MACs left as
/// the sender's (the engine does not touch L2).
pub fn tcp_out(
    src: (&str, u16),
    dst: (&str, u16),
    flags: &str,
    seq: u32,
    ack: u32,
    payload: &[u8],
    from: &[u8],
) -> Vec<u8> {
    with_macs(tcp_full(src, dst, flags, seq, ack, payload, 63, &[]), from)
}

pub fn udp_ttl(src: (&str, u16), dst: (&str, u16), payload: &[u8], ttl: u8) -> Vec<u8> {
    let (s, d) = (v4(src.0), v4(dst.0));
    let (sm, dm) = macs(s);
    let b = PacketBuilder::ethernet2(sm, dm)
        .ipv4(s.octets(), d.octets(), ttl)
        .udp(src.1, dst.1);
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

pub fn udp(src: (&str, u16), dst: (&str, u16), payload: &[u8]) -> Vec<u8> {
    udp_ttl(src, dst, payload, 64)
}

pub fn udp_out(src: (&str, u16), dst: (&str, u16), payload: &[u8], from: &[u8]) -> Vec<u8> {
    with_macs(udp_ttl(src, dst, payload, 63), from)
}

pub fn ping(src: &str, dst: &str, id: u16, seq: u16) -> Vec<u8> {
    let (s, d) = (v4(src), v4(dst));
    let (sm, dm) = macs(s);
    let b = PacketBuilder::ethernet2(sm, dm)
        .ipv4(s.octets(), d.octets(), 64)
        .icmpv4_echo_request(id, seq);
    let mut out = Vec::new();
    b.write(&mut out, b"ping").unwrap();
    out
}

pub fn pong(src: &str, dst: &str, id: u16, seq: u16) -> Vec<u8> {
    let (s, d) = (v4(src), v4(dst));
    let (sm, dm) = macs(s);
    let b = PacketBuilder::ethernet2(sm, dm)
        .ipv4(s.octets(), d.octets(), 64)
        .icmpv4_echo_reply(id, seq);
    let mut out = Vec::new();
    b.write(&mut out, b"ping").unwrap();
    out
}

/// `frame` with the Ethernet addresses of `from`.
pub fn with_macs(mut frame: Vec<u8>, from: &[u8]) -> Vec<u8> {
    frame[..12].copy_from_slice(&from[..12]);
    frame
}

/// Every IPv4/TCP/UDP/ICMP checksum of a frame verifies (computed here from scratch).
pub fn checksums_ok(frame: &[u8]) -> bool {
    let Ok(p) = etherparse::SlicedPacket::from_ethernet(frame) else {
        return false;
    };
    let Some(etherparse::NetSlice::Ipv4(ip)) = p.net else {
        return true;
    };
    let h = ip.header();
    if sum16(h.slice()) != 0xffff {
        return false;
    }
    let payload = ip.payload().payload;
    let mut v = Vec::new();
    v.extend_from_slice(&h.source());
    v.extend_from_slice(&h.destination());
    v.push(0);
    v.push(h.protocol().0);
    v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    v.extend_from_slice(payload);
    match h.protocol().0 {
        6 | 17 => sum16(&v) == 0xffff,
        1 => sum16(payload) == 0xffff,
        _ => true,
    }
}

fn sum16(b: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in b.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// The TCP payload, seq, ack and SACK blocks of a frame.
pub fn tcp_parts(frame: &[u8]) -> (Vec<u8>, u32, u32, Vec<(u32, u32)>) {
    let p = etherparse::SlicedPacket::from_ethernet(frame).unwrap();
    let Some(etherparse::TransportSlice::Tcp(t)) = p.transport else {
        panic!("not TCP")
    };
    let mut sack = Vec::new();
    for o in t.options_iterator() {
        if let Ok(TcpOptionElement::SelectiveAcknowledgement(a, rest)) = o {
            sack.push(a);
            sack.extend(rest.into_iter().flatten());
        }
    }
    (
        t.payload().to_vec(),
        t.sequence_number(),
        t.acknowledgment_number(),
        sack,
    )
}
