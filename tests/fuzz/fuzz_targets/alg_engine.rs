//! Any sequence of segments, both ways, on an FTP control connection through a shard with
//! every ALG under NAPT: rewrites, sequence corrections, pinholes and children never panic
//! and leave the shard consistent.
#![no_main]
use std::net::Ipv4Addr;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use mspic_flow::{Frame, IfIndex, Policy, Shard, ShardConfig, Time};
use mspic_wire::checksum;

const CONFIG: &str = r#"
interfaces {
    ge-0/0/0 { unit 0 { family inet { service { input { service-set ss; } output { service-set ss; } } address 10.0.0.1/24; } } }
    ge-0/0/1 { unit 0 { family inet { address 203.0.113.1/24; } } }
    ms-1/1/0 { unit 0 { family inet; } }
}
routing-options { static { route 198.51.100.0/24 next-hop 203.0.113.2; } }
services {
    stateful-firewall { rule r { match-direction input; term t { from { source-address { 10.0.0.0/24; } applications [ junos-ftp junos-tftp junos-dns-udp junos-talk junos-ntalk ]; } then { accept; } } } }
    nat {
        pool public { address 203.0.113.128/25; port { automatic; } }
        rule snat { match-direction input; term t1 { from { source-address { 10.0.0.0/24; } } then { translated { source-pool public; translation-type { napt-44; } } } } }
    }
    service-set ss { stateful-firewall-rules r; nat-rules snat; interface-service { service-interface ms-1/1/0; } }
}
"#;

fn policy() -> Arc<Policy> {
    static P: OnceLock<Arc<Policy>> = OnceLock::new();
    P.get_or_init(|| {
        let c = mspic_config::parse(CONFIG, "alg.conf").expect("parses");
        Arc::new(Policy::compile(&c).expect("compiles"))
    })
    .clone()
}

/// An Ethernet/IPv4 frame with a TCP (flags != 0) or UDP header and valid checksums.
#[allow(clippy::too_many_arguments)]
fn frame(
    out: &mut [u8],
    src: (Ipv4Addr, u16),
    dst: (Ipv4Addr, u16),
    tcp: Option<(u8, u32, u32)>,
    payload: &[u8],
) -> usize {
    let l4 = if tcp.is_some() { 20 } else { 8 };
    let total = 20 + l4 + payload.len();
    let n = 14 + total;
    out[..n].fill(0);
    out[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip = &mut out[14..];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    ip[8] = 64;
    ip[9] = if tcp.is_some() { 6 } else { 17 };
    ip[12..16].copy_from_slice(&src.0.octets());
    ip[16..20].copy_from_slice(&dst.0.octets());
    let c = checksum::compute(&ip[..20]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let t = &mut ip[20..total];
    t[0..2].copy_from_slice(&src.1.to_be_bytes());
    t[2..4].copy_from_slice(&dst.1.to_be_bytes());
    let at = match tcp {
        Some((flags, seq, ack)) => {
            t[4..8].copy_from_slice(&seq.to_be_bytes());
            t[8..12].copy_from_slice(&ack.to_be_bytes());
            t[12] = 0x50;
            t[13] = flags;
            t[14..16].copy_from_slice(&64240u16.to_be_bytes());
            16
        }
        None => {
            t[4..6].copy_from_slice(&((l4 + payload.len()) as u16).to_be_bytes());
            6
        }
    };
    t[l4..].copy_from_slice(payload);
    let ps = checksum::pseudo_header_v4(&src.0, &dst.0, ip[9], (l4 + payload.len()) as u16);
    let c = checksum::finish(checksum::sum(&ip[20..total], ps));
    ip[20 + at..22 + at].copy_from_slice(&c.to_be_bytes());
    n
}

fuzz_target!(|data: &[u8]| {
    let mut shard = Shard::with_algs(
        ShardConfig {
            prealloc: 16,
            ..ShardConfig::default()
        },
        policy(),
        mspic_alg::registry(),
    );
    let (c, s, p) = (
        Ipv4Addr::new(10, 0, 0, 2),
        Ipv4Addr::new(198, 51, 100, 7),
        Ipv4Addr::new(203, 0, 113, 128),
    );
    let mut buf = vec![0u8; 4096];
    let mut now = Time::from_secs(1);
    let send = |shard: &mut Shard, ingress: u16, n: usize, buf: &mut [u8], now: Time| {
        let mut f = Frame::new(buf, n);
        let _ = shard.process(now, IfIndex(ingress), &mut f);
        let msgs: Vec<_> = shard.drain_outbox().collect();
        for m in msgs {
            shard.deliver(m);
        }
    };
    let n = frame(&mut buf, (c, 40000), (s, 21), Some((0x02, 100, 0)), b"");
    send(&mut shard, 0, n, &mut buf, now);
    let n = frame(&mut buf, (s, 21), (p, 1024), Some((0x12, 500, 101)), b"");
    send(&mut shard, 1, n, &mut buf, now);
    // Records: [kind, seq step, time step, len, payload…]; kind picks the direction and
    // the protocol (FTP both ways, TFTP, DNS, talk, a connection to a pinhole).
    let (mut cseq, mut sseq) = (101u32, 501u32);
    let mut rest = data;
    while rest.len() >= 4 {
        let (kind, step, tstep, len) = (rest[0] % 7, rest[1], rest[2], usize::from(rest[3]) * 4);
        rest = &rest[4..];
        let k = len.min(rest.len()).min(3000);
        let payload = &rest[..k];
        rest = &rest[k..];
        now = Time(now.0 + u64::from(tstep) * 50_000_000);
        shard.handle_timeout(now);
        let n = match kind {
            0 => {
                cseq = cseq.wrapping_add(u32::from(step));
                frame(
                    &mut buf,
                    (c, 40000),
                    (s, 21),
                    Some((0x18, cseq, sseq)),
                    payload,
                )
            }
            1 => {
                sseq = sseq.wrapping_add(u32::from(step));
                frame(
                    &mut buf,
                    (s, 21),
                    (p, 1024),
                    Some((0x18, sseq, cseq)),
                    payload,
                )
            }
            2 => frame(&mut buf, (c, 3000), (s, 69), None, payload),
            3 => frame(&mut buf, (c, 5353), (s, 53), None, payload),
            4 => frame(&mut buf, (c, 2000), (s, 518), None, payload),
            5 => frame(
                &mut buf,
                (s, 20),
                (p, 1024 + u16::from(step)),
                Some((0x02, 1, 0)),
                b"",
            ),
            _ => frame(
                &mut buf,
                (c, 40000 + u16::from(step)),
                (s, 50000),
                Some((0x02, 1, 0)),
                b"",
            ),
        };
        let ingress = if matches!(kind, 1 | 5) { 1 } else { 0 };
        send(&mut shard, ingress, n, &mut buf, now);
    }
    shard.check_consistency().expect("consistent");
});
