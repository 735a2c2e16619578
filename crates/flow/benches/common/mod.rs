//! What the shard benches share: the configuration, the flows, and a shard set up with
//! live sessions (`shard.rs` times them with criterion, `count.rs` runs them a fixed number
//! of times for an instruction count).

#![allow(dead_code)] // each bench uses its part

use std::net::Ipv4Addr;
use std::sync::Arc;

use etherparse::PacketBuilder;
use mspic_flow::{Frame, IfIndex, Policy, Shard, ShardConfig, Time, Verdict};

const FIREWALL: &str = r#"
interfaces {
    ge-0/0/0 { unit 0 { family inet { service { input { service-set ss; } output { service-set ss; } } address 10.0.0.1/16; } } }
    ge-0/0/1 { unit 0 { family inet { address 203.0.113.1/24; } } }
    ms-1/1/0 { services-options { inactivity-timeout 3600; } unit 0 { family inet; } }
}
routing-options { static { route 198.51.100.0/24 next-hop 203.0.113.2; } }
services {
    stateful-firewall {
        rule r { match-direction input; term t { from { source-address { 10.0.0.0/16; } } then { accept; } } }
    }
    NAT
    service-set ss { stateful-firewall-rules r; NATRULES interface-service { service-interface ms-1/1/0; } }
}
"#;

pub fn config(napt: bool) -> String {
    config_with_pool(napt, "203.0.113.0/25")
}

/// [`config`] with another NAPT pool (a larger one holds more sessions).
pub fn config_with_pool(napt: bool, pool: &str) -> String {
    let (nat, rules) = if napt {
        (
            "nat { pool p { address POOL; port { automatic; } } rule n { match-direction input; term t { from { source-address { 10.0.0.0/16; } } then { translated { source-pool p; translation-type { napt-44; } } } } } }",
            "nat-rules n;",
        )
    } else {
        ("", "")
    };
    FIREWALL
        .replace("NATRULES", rules)
        .replace("NAT\n", &format!("{}\n", nat.replace("POOL", pool)))
}

pub fn udp(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 1, 0])
        .ipv4(src.octets(), dst.octets(), 64)
        .udp(sport, dport);
    let mut v = Vec::new();
    b.write(&mut v, b"0123456789abcdef").unwrap();
    v
}

/// The i-th client flow: 10.0.x.y:port → 198.51.100.7:53, unique for i < 16M.
pub fn flow(i: u32) -> Vec<u8> {
    let host = 2 + (i % 60_000);
    let port = 1024 + (i / 60_000) as u16;
    let src = Ipv4Addr::new(10, 0, (host >> 8) as u8, host as u8);
    udp(src, port, Ipv4Addr::new(198, 51, 100, 7), 53)
}

pub struct Setup {
    pub shard: Shard,
    /// Established frames in both directions, in a random order.
    pub frames: Vec<(IfIndex, Vec<u8>)>,
    pub now: Time,
}

pub fn setup(sessions: u32, napt: bool, verify: bool) -> Setup {
    let c = mspic_config::parse(&config(napt), "bench.conf").unwrap();
    let policy = Arc::new(Policy::compile(&c).unwrap());
    let mut shard = Shard::new(
        ShardConfig {
            capacity: sessions as usize + 200_000,
            prealloc: sessions as usize + 100_000,
            verify_checksums: verify,
            ..ShardConfig::default()
        },
        policy,
    );
    let now = Time::from_secs(10);
    let mut buf = vec![0u8; 2048];
    let mut frames = Vec::new();
    for i in 0..sessions {
        let f = flow(i);
        buf[..f.len()].copy_from_slice(&f);
        let mut fr = Frame::new(&mut buf, f.len());
        let v = shard.process(now, IfIndex(0), &mut fr);
        assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
        if frames.len() < 1 << 16 {
            // A reply to the translated packet, as it comes back from the server.
            let out = fr.bytes().to_vec();
            frames.push((IfIndex(0), f));
            frames.push((IfIndex(1), reply_to(&out)));
        }
    }
    // Uniformly random order (xorshift; fixed seed).
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for i in (1..frames.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        frames.swap(i, (x % (i as u64 + 1)) as usize);
    }
    Setup { shard, frames, now }
}

pub fn reply_to(out: &[u8]) -> Vec<u8> {
    let ip = &out[14..];
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    let sport = u16::from_be_bytes([ip[20], ip[21]]);
    let dport = u16::from_be_bytes([ip[22], ip[23]]);
    udp(dst, dport, src, sport)
}

/// The n-th new flow of the setup benches: from 10.0.250.0/24, which the live sessions
/// never use, so `SessionFilter { source_prefix: 10.0.250.0/24 }` clears them.
pub fn fresh_flow(n: u32) -> Vec<u8> {
    let src = Ipv4Addr::new(10, 0, 250, 2 + (n % 250) as u8);
    udp(
        src,
        1024 + (n / 250 % 60_000) as u16,
        Ipv4Addr::new(198, 51, 100, 8),
        53,
    )
}
