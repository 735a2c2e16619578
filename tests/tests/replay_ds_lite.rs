//! DS-Lite replayed (RFC 6333): two B4s whose hosts use the same private address and the
//! same ports (192.0.0.2, RFC 6333 §5.7) send UDP, TCP and ping through their softwires
//! to the AFTR of docs/examples/testbed-ds-lite.conf; the built-in responder plays the
//! IPv4 server. Through 1 and 3 shards, every frame that leaves is checked against the
//! frame that caused it: the decapsulated and translated IPv4 packet, and the answer
//! encapsulated back to the B4 that sent the flow (§7: two sessions, two mappings).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use mspic_flow::SessionFilter;
use mspic_offline::replay::{Replay, ReplayOptions};
use mspic_tests::check::checksums_valid;
use mspic_tests::trace::Frame;
use mspic_tests::{Gen, Host, Sides, Trace};

const AFTR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xaaaa, 0, 0, 0, 0, 1);
const B4S: [Ipv6Addr; 2] = [
    Ipv6Addr::new(0x2001, 0xdb8, 0x10, 0, 0, 0, 0, 2),
    Ipv6Addr::new(0x2001, 0xdb8, 0x10, 0, 0, 0, 0, 3),
];
const HOST: Ipv4Addr = Ipv4Addr::new(192, 0, 0, 2);
const SERVER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);

fn config_text() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../docs/examples/testbed-ds-lite.conf"),
    )
    .unwrap()
}

/// `ip` (an IPv4 packet) in IPv6 from `b4` to the AFTR, hop limit 64 (RFC 8200 §3).
fn tunnel(b4: Ipv6Addr, ip: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(ip.len() as u16).to_be_bytes());
    h.extend_from_slice(&[4, 64]);
    h.extend_from_slice(&b4.octets());
    h.extend_from_slice(&AFTR.octets());
    h.extend_from_slice(ip);
    h
}

/// The same conversations from behind each B4: one host address, the same ports.
fn traffic() -> Trace {
    let mut out = Trace::new();
    for (i, b4) in B4S.iter().enumerate() {
        let mut g = Gen::new(64);
        let mut t = Trace::new();
        let host = Host::inside(HOST);
        let server = Host::outside(SERVER);
        let start = Duration::from_millis(10 * i as u64);
        g.udp_exchange(
            &mut t,
            &host,
            &server,
            40_000,
            53,
            start,
            2,
            40,
            80,
            Duration::from_millis(20),
            Sides::ClientOnly,
        );
        g.tcp_conversation(
            &mut t,
            &host,
            &server,
            41_000,
            80,
            start + Duration::from_millis(50),
            200,
            600,
            Sides::ClientOnly,
        );
        g.icmp_echo(
            &mut t,
            &host,
            &server,
            7,
            start,
            2,
            Duration::from_millis(10),
            Sides::ClientOnly,
        );
        for f in t.frames() {
            let mut data = f.data[..12].to_vec();
            data.extend_from_slice(&[0x86, 0xdd]);
            data.extend_from_slice(&tunnel(*b4, &f.data[14..]));
            out.push(Frame {
                ts: f.ts,
                port: f.port,
                data,
            });
        }
    }
    out
}

/// (outer B4 or AFTR addresses, inner IPv4 packet) of a frame: IPv6 frames are taken
/// apart here, from the bytes.
fn parts(frame: &[u8]) -> (Option<(Ipv6Addr, Ipv6Addr, u8)>, Vec<u8>) {
    let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
    let p = &frame[14..];
    if ethertype == 0x86dd {
        assert_eq!(p[6], 4, "next header IPv4");
        let a = |i: usize| Ipv6Addr::from(<[u8; 16]>::try_from(&p[i..i + 16]).unwrap());
        let len = usize::from(u16::from_be_bytes([p[4], p[5]]));
        (Some((a(8), a(24), p[7])), p[40..40 + len].to_vec())
    } else {
        assert_eq!(ethertype, 0x0800);
        (None, p.to_vec())
    }
}

/// (src, dst, ttl, proto, ports or echo id) of an IPv4 packet, its checksums checked.
fn inner(ip: &[u8]) -> (IpAddr, IpAddr, u8, u8, (u16, u16)) {
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[8, 0]);
    f.extend_from_slice(ip);
    assert!(checksums_valid(&f), "IPv4 checksums");
    let ihl = usize::from(ip[0] & 15) * 4;
    let a = |i: usize| IpAddr::from([ip[i], ip[i + 1], ip[i + 2], ip[i + 3]]);
    let l4 = &ip[ihl..];
    let ports = match ip[9] {
        1 => (u16::from_be_bytes([l4[4], l4[5]]), 0),
        _ => (
            u16::from_be_bytes([l4[0], l4[1]]),
            u16::from_be_bytes([l4[2], l4[3]]),
        ),
    };
    (a(12), a(16), ip[8], ip[9], ports)
}

fn replay(workers: u32) -> Replay {
    let cfg = mspic_config::parse(&config_text(), "testbed-ds-lite.conf").unwrap();
    let policy = Arc::new(mspic_flow::Policy::compile(&cfg).unwrap());
    Replay::new(
        policy,
        &ReplayOptions {
            workers,
            respond: true,
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn two_b4s_sharing_one_inner_address() {
    let trace = traffic();
    for workers in [1, 3] {
        let mut r = replay(workers);
        let (mut out, mut back) = (0, 0);
        let mut mapped = std::collections::HashMap::new();
        for f in trace.frames() {
            let (outer, sent) = parts(&f.data);
            let (b4, _, _) = outer.expect("the B4 sent IPv6");
            let (ssrc, sdst, sttl, sproto, sports) = inner(&sent);
            let outs = r.process((trace.epoch() + f.ts).as_nanos() as u64, &f.data);
            assert!(!outs.is_empty(), "{workers}: nothing for {sent:02x?}");
            // Decapsulated and translated: the host's packet from the pool.
            let (o_outer, o) = parts(&outs[0].frame);
            assert!(o_outer.is_none(), "leaves as IPv4");
            let (osrc, odst, ottl, oproto, oports) = inner(&o);
            assert!(
                matches!(osrc, IpAddr::V4(a) if a.octets()[..3] == [203, 0, 113] && a.octets()[3] >= 128),
                "{workers}: source {osrc} not from the pool"
            );
            assert_eq!((odst, ottl, oproto), (sdst, sttl - 1, sproto));
            assert_eq!(o[ihl(&o)..].len(), sent[ihl(&sent)..].len());
            if sproto != 1 {
                assert_eq!(oports.1, sports.1, "destination port kept");
            }
            let m = (osrc, oports.0);
            let first = *mapped.entry((b4, sproto, sports)).or_insert(m);
            assert_eq!(first, m, "{workers}: one mapping per flow");
            out += 1;
            // The responder's answer goes back to the B4 that sent the flow.
            for reply in &outs[1..] {
                let (outer, b) = parts(&reply.frame);
                let (src6, dst6, hop) = outer.expect("encapsulated");
                assert_eq!((src6, dst6, hop), (AFTR, b4, 64), "{workers}");
                let (bsrc, bdst, _, bproto, bports) = inner(&b);
                assert_eq!((bsrc, bdst, bproto), (sdst, ssrc, sproto));
                if sproto == 1 {
                    assert_eq!(bports.0, sports.0, "echo identifier restored");
                } else {
                    assert_eq!(bports, (sports.1, sports.0));
                }
                back += 1;
            }
        }
        assert!(out > 10 && back > 10, "{workers}: {out} out, {back} back");
        let sessions = mspic_control::Backend::sessions(&mut r, &SessionFilter::default());
        assert_eq!(sessions.len(), 6, "2 B4s × (udp, tcp, icmp)");
        for proto in [1, 6, 17] {
            let of: Vec<_> = sessions
                .iter()
                .filter(|s| s.flows[0].protocol == proto)
                .collect();
            assert_eq!(of.len(), 2);
            let b4s: Vec<_> = of.iter().map(|s| s.softwire.unwrap().b4).collect();
            assert!(b4s.contains(&B4S[0]) && b4s.contains(&B4S[1]), "{b4s:?}");
            assert_eq!(of[0].flows[0].src, of[1].flows[0].src, "one inner endpoint");
        }
        // Two mappings: the same inner flow of the two B4s left from two pool endpoints.
        for ((b4, proto, ports), m) in &mapped {
            if *b4 == B4S[0] {
                let other = mapped[&(B4S[1], *proto, *ports)];
                assert_ne!(*m, other, "{workers}: proto {proto} {ports:?}");
            }
        }
        let st = mspic_control::execute("show services softwire statistics", &mut r).unwrap();
        assert!(
            st.contains(&format!("{:<54}:{}\n", "Flows created", 6)),
            "{st}"
        );
    }
}

fn ihl(ip: &[u8]) -> usize {
    usize::from(ip[0] & 15) * 4
}

/// `show services sessions extensive` and `show services softwire statistics` after one
/// UDP exchange from each B4. The Junos pages of DS-Lite sessions and of `show services
/// softwire statistics` were not available in the reference corpus (only the statement
/// pages "ds-lite (Services Softwire)", "rule (Softwire)" and "show services softwire
/// flows" without its samples): the softwire line under the session header and the
/// statistics rows are mspic's, pinned here.
#[test]
fn sessions_and_statistics_layouts() {
    let mut r = replay(1);
    let mut g = Gen::new(64);
    for (i, b4) in B4S.iter().enumerate() {
        let mut t = Trace::new();
        g.udp_exchange(
            &mut t,
            &Host::inside(HOST),
            &Host::outside(SERVER),
            40_000,
            53,
            Duration::from_millis(10 * i as u64),
            1,
            40,
            80,
            Duration::from_millis(20),
            Sides::ClientOnly,
        );
        for f in t.frames() {
            let mut data = f.data[..12].to_vec();
            data.extend_from_slice(&[0x86, 0xdd]);
            data.extend_from_slice(&tunnel(*b4, &f.data[14..]));
            r.process((t.epoch() + f.ts).as_nanos() as u64, &data);
        }
    }
    let ext = mspic_control::execute("show services sessions extensive", &mut r).unwrap();
    insta::assert_snapshot!(ext);
    let st = mspic_control::execute("show services softwire statistics", &mut r).unwrap();
    insta::assert_snapshot!(st);
    let xml =
        mspic_control::execute("show services softwire statistics | display xml", &mut r).unwrap();
    insta::assert_snapshot!(xml);
}

/// A ping whose firewall term names `junos-icmp-ping` is watched by the ICMP ALG: the
/// echo replies take the ALG's path and still go back through the softwire.
#[test]
fn alg_watched_flows_go_back_through_the_softwire() {
    let text = config_text()
        .replace(
            "    softwire {",
            "    stateful-firewall {\n        rule fw {\n            match-direction input;\n            term ping { from { applications junos-icmp-ping; } then { accept; } }\n            term rest { then { accept; } }\n        }\n    }\n    softwire {",
        )
        .replace("softwire-rules dslite;", "stateful-firewall-rules fw;\n        softwire-rules dslite;");
    assert!(text.contains("stateful-firewall-rules fw;"));
    let cfg = mspic_config::parse(&text, "alg.conf").unwrap();
    let policy = Arc::new(mspic_flow::Policy::compile(&cfg).unwrap());
    let mut r = Replay::new(
        policy,
        &ReplayOptions {
            workers: 1,
            respond: true,
            ..Default::default()
        },
    )
    .unwrap();
    let mut g = Gen::new(64);
    let mut t = Trace::new();
    g.icmp_echo(
        &mut t,
        &Host::inside(HOST),
        &Host::outside(SERVER),
        9,
        Duration::ZERO,
        3,
        Duration::from_millis(10),
        Sides::ClientOnly,
    );
    let mut back = 0;
    for f in t.frames() {
        let mut data = f.data[..12].to_vec();
        data.extend_from_slice(&[0x86, 0xdd]);
        data.extend_from_slice(&tunnel(B4S[0], &f.data[14..]));
        let outs = r.process((t.epoch() + f.ts).as_nanos() as u64, &data);
        for reply in &outs[1..] {
            let (outer, b) = parts(&reply.frame);
            assert_eq!(outer.map(|o| (o.0, o.1)), Some((AFTR, B4S[0])));
            let (src, dst, _, proto, _) = inner(&b);
            assert_eq!((src, dst, proto), (IpAddr::V4(SERVER), IpAddr::V4(HOST), 1));
            back += 1;
        }
    }
    assert_eq!(back, 3);
    let sessions = mspic_control::Backend::sessions(&mut r, &SessionFilter::default());
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].alg, Some(mspic_config::AppProtocol::Icmp));
}

/// RFC 6333 §5.3 through 1 to 4 shards: B4s send tunnel packets in two IPv6 fragments,
/// the later one first. Each fragment reaches the shard its packet belongs to (the
/// tunnel hashes on addresses and protocol, which a later fragment carries too), the
/// packet is reassembled there, goes out decapsulated and translated, and the server's
/// answer goes back to the B4 that sent it.
#[test]
fn fragmented_tunnel_packets_in_any_order_on_every_shard_count() {
    let data: Vec<u8> = (0..1400u32).map(|i| (i % 249) as u8).collect();
    let mut inner_packet = Vec::new();
    etherparse::PacketBuilder::ipv4(HOST.octets(), SERVER.octets(), 64)
        .udp(5000, 53)
        .write(&mut inner_packet, &data)
        .unwrap();
    for workers in 1..=4 {
        let mut r = replay(workers);
        for i in 0..8u16 {
            let b4 = Ipv6Addr::new(0x2001, 0xdb8, 0x10, 0, 0, 0, 0, 0x10 + i);
            let whole = tunnel(b4, &inner_packet);
            let id = 0xd5_0000 + u32::from(i);
            let frag = |off: usize, end: usize, more: bool| {
                let mut f = vec![2, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 5, 0x86, 0xdd];
                f.extend_from_slice(&whole[..40]);
                f[14 + 4..14 + 6].copy_from_slice(&((8 + end - off) as u16).to_be_bytes());
                f[14 + 6] = 44;
                f.extend_from_slice(&[4, 0]);
                f.extend_from_slice(&(off as u16 | u16::from(more)).to_be_bytes());
                f.extend_from_slice(&id.to_be_bytes());
                f.extend_from_slice(&inner_packet[off..end]);
                f
            };
            let ts = 1_000_000_000 + u64::from(i) * 1_000_000;
            let held = r.process(ts, &frag(1024, inner_packet.len(), false));
            assert!(held.is_empty(), "{workers} workers, B4 {i}: {held:?}");
            let outs = r.process(ts + 1, &frag(0, 1024, true));
            assert_eq!(outs.len(), 2, "{workers} workers, B4 {i}: out and answer");
            let (outer, ip) = parts(&outs[0].frame);
            assert!(outer.is_none(), "decapsulated");
            let (src, dst, ttl, proto, ports) = inner(&ip);
            assert!(src.to_string().starts_with("203.0.113.1"), "{src}");
            assert_eq!((dst, ttl, proto, ports.1), (IpAddr::V4(SERVER), 63, 17, 53));
            assert_eq!(&ip[28..], &data[..], "the whole datagram");
            let (outer, back) = parts(&outs[1].frame);
            assert_eq!(outer, Some((AFTR, b4, 64)), "back to its B4");
            assert_eq!(inner(&back).4, (53, 5000));
        }
        let st = mspic_control::Backend::sessions(&mut r, &SessionFilter::default()).len();
        assert_eq!(st, 8, "{workers} workers");
    }
}
