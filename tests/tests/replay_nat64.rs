//! Stateful NAT64 replayed (RFC 6146): a generated capture of IPv6-only clients reaching
//! IPv4 servers through 64:ff9b::/96 (TCP connections, UDP exchanges, ping6), the built-in
//! responder playing the IPv4 servers, through 1 and 2 shards. Every frame that leaves is
//! checked field by field against the frame that caused it: the IPv4 packet against the
//! client's IPv6 packet, the IPv6 answer against the server's IPv4 answer.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use mspic_flow::SessionFilter;
use mspic_offline::replay::{Replay, ReplayOptions};
use mspic_tests::check::{checksums_valid, ones_sum};
use mspic_tests::{Gen, Host, Sides, Trace};

fn config() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/corpus/stateful-nat64.conf"),
    )
    .unwrap()
}

/// The client's frames: per client a UDP exchange, a TCP connection and a ping6.
fn traffic() -> Trace {
    let mut g = Gen::new(64);
    let mut t = Trace::new();
    for i in 0..3u8 {
        let start = Duration::from_millis(100 * u64::from(i));
        let client = Host::inside(Ipv6Addr::new(
            0x2001,
            0xdb8,
            0x10,
            0,
            0,
            0,
            0,
            2 + u16::from(i),
        ));
        let server4 = Ipv4Addr::new(198, 51, 100, 20 + i);
        let server = Host::remote(embed(server4));
        g.udp_exchange(
            &mut t,
            &client,
            &server,
            40_000 + u16::from(i),
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
            &client,
            &server,
            41_000 + u16::from(i),
            80,
            start + Duration::from_millis(50),
            200,
            3000,
            Sides::ClientOnly,
        );
        g.icmp_echo(
            &mut t,
            &client,
            &server,
            7 + u16::from(i),
            start,
            2,
            Duration::from_millis(10),
            Sides::ClientOnly,
        );
    }
    t
}

/// RFC 6052 §2.2 with the well-known /96 prefix, computed here.
fn embed(a: Ipv4Addr) -> Ipv6Addr {
    let o = a.octets();
    Ipv6Addr::new(
        0x64,
        0xff9b,
        0,
        0,
        0,
        0,
        u16::from_be_bytes([o[0], o[1]]),
        u16::from_be_bytes([o[2], o[3]]),
    )
}

/// The fields of one IP packet this test compares.
#[derive(Debug, Clone, PartialEq)]
struct Ip {
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    /// 6, 17, or "echo" (1 or 58).
    proto: u8,
    /// Ports, or (echo id, 0) for a request and (0, echo id) for a reply.
    ports: (u16, u16),
    /// TCP (seq, ack, flags, window); ICMP echo (type, seq).
    tcp: Option<(u32, u32, u8, u16)>,
    echo: Option<(bool, u16)>,
    payload: Vec<u8>,
}

/// Parses a frame from scratch and checks its checksums (IPv6: the pseudo header of
/// RFC 8200 §8.1, ICMPv6 included; IPv4: tests/src/check.rs).
fn ip(frame: &[u8]) -> Ip {
    let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
    let p = &frame[14..];
    let (src, dst, ttl, proto, l4): (IpAddr, IpAddr, u8, u8, &[u8]) = match ethertype {
        0x0800 => {
            assert!(checksums_valid(frame), "IPv4 checksums");
            let ihl = usize::from(p[0] & 15) * 4;
            let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
            let a = |i: usize| IpAddr::from([p[i], p[i + 1], p[i + 2], p[i + 3]]);
            (a(12), a(16), p[8], p[9], &p[ihl..total])
        }
        0x86dd => {
            assert_eq!(p[0] >> 4, 6);
            let len = usize::from(u16::from_be_bytes([p[4], p[5]]));
            let a = |i: usize| {
                let mut o = [0u8; 16];
                o.copy_from_slice(&p[i..i + 16]);
                IpAddr::from(o)
            };
            let l4 = &p[40..40 + len];
            let mut pseudo = u32::from(ones_sum(&p[8..40], 0));
            pseudo += len as u32 + u32::from(p[6]);
            assert_eq!(ones_sum(l4, pseudo), 0xffff, "IPv6 transport checksum");
            (a(8), a(24), p[7], p[6], l4)
        }
        other => panic!("ethertype {other:#x}"),
    };
    let be16 = |i: usize| u16::from_be_bytes([l4[i], l4[i + 1]]);
    let be32 = |i: usize| u32::from_be_bytes([l4[i], l4[i + 1], l4[i + 2], l4[i + 3]]);
    let mut out = Ip {
        src,
        dst,
        ttl,
        proto,
        ports: (0, 0),
        tcp: None,
        echo: None,
        payload: Vec::new(),
    };
    match proto {
        6 => {
            let off = usize::from(l4[12] >> 4) * 4;
            out.ports = (be16(0), be16(2));
            out.tcp = Some((be32(4), be32(8), l4[13], be16(14)));
            out.payload = l4[off..].to_vec();
        }
        17 => {
            out.ports = (be16(0), be16(2));
            out.payload = l4[8..].to_vec();
        }
        1 | 58 => {
            let request = matches!(l4[0], 8 | 128);
            assert!(request || matches!(l4[0], 0 | 129), "echo type {}", l4[0]);
            out.proto = 1;
            out.ports = if request { (be16(4), 0) } else { (0, be16(4)) };
            out.echo = Some((request, be16(6)));
            out.payload = l4[8..].to_vec();
        }
        p => panic!("protocol {p}"),
    }
    out
}

fn v4(a: IpAddr) -> Ipv4Addr {
    match a {
        IpAddr::V4(v) => v,
        IpAddr::V6(v) => panic!("{v} is IPv6"),
    }
}

#[test]
fn ipv6_clients_reach_ipv4_servers() {
    let pool =
        |a: Ipv4Addr| a.octets()[..3] == [203, 0, 113] && (128..144).contains(&a.octets()[3]);
    for workers in [1, 2] {
        let cfg = mspic_config::parse(&config(), "stateful-nat64.conf").unwrap();
        let policy = Arc::new(mspic_flow::Policy::compile(&cfg).unwrap());
        let mut r = Replay::new(
            policy,
            &ReplayOptions {
                workers,
                respond: true,
                ..Default::default()
            },
        )
        .unwrap();
        let trace = traffic();
        let (mut out, mut back) = (0, 0);
        for f in trace.frames() {
            let sent = ip(&f.data);
            let outs = r.process((trace.epoch() + f.ts).as_nanos() as u64, &f.data);
            assert!(!outs.is_empty(), "{workers}: nothing for {sent:?}");
            // What left towards the server: the client's packet in IPv4 (RFC 7915 §5.1).
            let o = ip(&outs[0].frame);
            let IpAddr::V6(d6) = sent.dst else {
                panic!("client sent IPv4")
            };
            assert!(
                pool(v4(o.src)),
                "{workers}: source {} not from the pool",
                o.src
            );
            assert_eq!(embed(v4(o.dst)), d6);
            assert_eq!(o.ttl, sent.ttl - 1, "hop limit decremented once");
            assert_eq!(o.proto, sent.proto);
            assert_eq!(o.tcp, sent.tcp);
            assert_eq!(o.echo, sent.echo);
            assert_eq!(o.payload, sent.payload);
            if sent.echo.is_none() {
                assert_eq!(o.ports.1, sent.ports.1, "destination port kept");
            }
            out += 1;
            // The responder's answer, back to the client in IPv6 (RFC 7915 §4.1).
            for reply in &outs[1..] {
                let b = ip(&reply.frame);
                assert_eq!(b.src, sent.dst, "from the server's IPv6 address");
                assert_eq!(b.dst, sent.src, "to the client");
                if sent.echo.is_some() {
                    assert_eq!(b.ports.1, sent.ports.0, "echo identifier restored");
                    assert_eq!(b.echo.map(|e| e.1), sent.echo.map(|e| e.1));
                    assert_eq!(b.payload, sent.payload);
                } else {
                    assert_eq!(b.ports, (sent.ports.1, sent.ports.0));
                }
                if let (Some(t), Some(s)) = (b.tcp, sent.tcp) {
                    assert_eq!(
                        t.1,
                        s.0.wrapping_add(sent.payload.len() as u32 + u32::from(s.2 & 3 != 0)),
                        "ack"
                    );
                }
                assert_eq!(b.ttl, 63);
                back += 1;
            }
        }
        assert!(out > 20 && back > 20, "{workers}: {out} out, {back} back");
        let sessions = mspic_control::Backend::sessions(&mut r, &SessionFilter::default());
        assert_eq!(sessions.len(), 9, "3 × (udp, tcp, icmp)");
        for s in &sessions {
            let nat = s.nat.as_ref().expect("translated");
            assert_eq!(nat.translation_type.show_name(), "STATEFUL NAT64");
            assert!(s.flows[0].src.addr.is_ipv6() && s.flows[1].src.addr.is_ipv4());
            assert!(s.flows[1].frames > 0, "no reply on {s:?}");
        }
        let ext = mspic_control::execute("show services sessions extensive", &mut r).unwrap();
        assert!(ext.contains("Translation Type - STATEFUL NAT64\n"), "{ext}");
    }
}

/// `show services sessions extensive` of a ping6 through NAT64, in the layout of release
/// 17.1: the one Junos NAT64 sample known (Juniper's `SRV_SESS_EXT_1` test reply, quoted in
/// docs/commands.md and crates/control/tests/data/release17/sample-nat64-extensive.txt; no
/// Junos documentation page prints a NAT64 session) shows the IPv6 flow, the IPv4 flow,
/// `NAT source` with the echo identifiers as ports and `NAT Destination` without.
#[test]
fn sessions_show_the_ipv6_and_ipv4_tuples() {
    let text = config().replace("emulator {", "emulator {\n    junos-release 17.1;");
    let cfg = mspic_config::parse(&text, "stateful-nat64.conf").unwrap();
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
    let client = Host::inside(Ipv6Addr::new(0x2001, 0xdb8, 0x10, 0, 0, 0, 0, 2));
    let server = Host::remote(embed(Ipv4Addr::new(198, 51, 100, 20)));
    g.icmp_echo(
        &mut t,
        &client,
        &server,
        42583,
        Duration::ZERO,
        3,
        Duration::from_millis(10),
        Sides::ClientOnly,
    );
    for f in t.frames() {
        r.process((t.epoch() + f.ts).as_nanos() as u64, &f.data);
    }
    let opts = mspic_control::ExecuteOptions::for_config(&cfg);
    let ext =
        mspic_control::execute_with("show services sessions extensive", &mut r, &opts).unwrap();
    insta::assert_snapshot!(ext);
    let xml = mspic_control::execute_with(
        "show services sessions extensive | display xml",
        &mut r,
        &opts,
    )
    .unwrap();
    insta::assert_snapshot!(xml);
    let nat = mspic_control::execute_with("show services nat pool detail", &mut r, &opts).unwrap();
    insta::assert_snapshot!(nat);
}

/// RFC 7915 §4: a server's UDP answer without DF that is too big for the IPv6 link once
/// translated leaves the replay as IPv6 fragments, right after one another: the first as
/// the frame itself, the other generated; each at most 1500 bytes, one identification
/// (the IPv4 one), and together the translated datagram.
#[test]
fn a_big_answer_leaves_as_ipv6_fragments() {
    let cfg = mspic_config::parse(&config(), "stateful-nat64.conf").unwrap();
    let policy = Arc::new(mspic_flow::Policy::compile(&cfg).unwrap());
    let mut r = Replay::new(
        policy,
        &ReplayOptions {
            workers: 2,
            ..Default::default()
        },
    )
    .unwrap();
    let client: Ipv6Addr = "2001:db8:10::5".parse().unwrap();
    let server = Ipv4Addr::new(198, 51, 100, 9);
    let mut query = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 5], [2, 0, 0, 0, 1, 0])
        .ipv6(client.octets(), embed(server).octets(), 64)
        .udp(5000, 53)
        .write(&mut query, b"query")
        .unwrap();
    let outs = r.process(1_000_000_000, &query);
    assert_eq!(outs.len(), 1);
    let q4 = ip(&outs[0].frame);
    let data: Vec<u8> = (0..2000u32).map(|i| (i % 251) as u8).collect();
    let mut h = etherparse::Ipv4Header::new(
        0,
        50,
        etherparse::IpNumber::UDP,
        server.octets(),
        v4(q4.src).octets(),
    )
    .unwrap();
    h.identification = 0x5151;
    h.dont_fragment = false;
    let mut answer = Vec::new();
    etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 0x22], [2, 0, 0, 0, 1, 1])
        .ip(etherparse::IpHeaders::Ipv4(h, Default::default()))
        .udp(53, q4.ports.0)
        .write(&mut answer, &data)
        .unwrap();
    let outs = r.process(1_001_000_000, &answer);
    assert_eq!(outs.len(), 2, "two fragments");
    let mut body = Vec::new();
    for (k, o) in outs.iter().enumerate() {
        let f = &o.frame[14..];
        assert!(f.len() <= 1500);
        assert_eq!((f[6], f[40]), (44, 17), "fragment header, then UDP");
        let word = u16::from_be_bytes([f[42], f[43]]);
        assert_eq!(usize::from(word & !7), body.len());
        assert_eq!(word & 1, u16::from(k == 0), "M on the first only");
        assert_eq!(u32::from_be_bytes(f[44..48].try_into().unwrap()), 0x5151);
        assert_eq!(&f[24..40], &client.octets());
        body.extend_from_slice(&f[48..]);
    }
    // The whole datagram: the server's ports and data, the client's port, its checksum
    // valid over the IPv6 pseudo header.
    let mut whole = outs[0].frame[14..54].to_vec();
    whole[4..6].copy_from_slice(&(body.len() as u16).to_be_bytes());
    whole[6] = 17;
    whole.extend_from_slice(&body);
    let mut frame = outs[0].frame[..14].to_vec();
    frame.extend_from_slice(&whole);
    let got = ip(&frame);
    assert_eq!(got.ports, (53, 5000));
    assert_eq!(got.payload, data);
    assert_eq!(r.counters.generated, 1);
}

/// RFC 7915 §5.1.1 through 1 to 4 shards: a client's datagram in IPv6 fragments leaves
/// in IPv4 fragments, the later ones (no ports) on the session of the first wherever it
/// lives: the same pool address, the identification from the IPv6 one, offsets and MF
/// copied, and together the datagram from the session's pool port.
#[test]
fn client_fragments_follow_their_session_on_every_shard_count() {
    let cfg = mspic_config::parse(&config(), "stateful-nat64.conf").unwrap();
    let policy = Arc::new(mspic_flow::Policy::compile(&cfg).unwrap());
    let server = Ipv4Addr::new(198, 51, 100, 9);
    let data: Vec<u8> = (0..2000u32).map(|i| (i % 253) as u8).collect();
    for workers in 1..=4 {
        let mut r = Replay::new(
            policy.clone(),
            &ReplayOptions {
                workers,
                ..Default::default()
            },
        )
        .unwrap();
        for c in 0..8u16 {
            let client = Ipv6Addr::new(0x2001, 0xdb8, 0x10, 0, 0, 0, 0, 0x10 + c);
            let mut whole = Vec::new();
            etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 5], [2, 0, 0, 0, 1, 0])
                .ipv6(client.octets(), embed(server).octets(), 64)
                .udp(6000 + c, 53)
                .write(&mut whole, &data)
                .unwrap();
            let udp = &whole[54..];
            let id = 0x0001_0000 + u32::from(c);
            let frag = |off: usize, end: usize, more: bool| {
                let mut f = whole[..54].to_vec();
                f[14 + 4..14 + 6].copy_from_slice(&((8 + end - off) as u16).to_be_bytes());
                f[14 + 6] = 44;
                f.extend_from_slice(&[17, 0]);
                f.extend_from_slice(&(off as u16 | u16::from(more)).to_be_bytes());
                f.extend_from_slice(&id.to_be_bytes());
                f.extend_from_slice(&udp[off..end]);
                f
            };
            let ts = 1_000_000_000 + u64::from(c) * 1_000_000;
            let first = r.process(ts, &frag(0, 1024, true));
            let later = r.process(ts + 1, &frag(1024, udp.len(), false));
            assert_eq!(
                (first.len(), later.len()),
                (1, 1),
                "{workers} workers, client {c}"
            );
            let (a, b) = (&first[0].frame[14..], &later[0].frame[14..]);
            assert_eq!(a[12..16], b[12..16], "one pool address");
            assert_eq!(&a[16..20], &server.octets());
            for (p, off, mf) in [(a, 0u16, true), (b, 1024, false)] {
                assert_eq!(
                    u16::from_be_bytes([p[4], p[5]]),
                    id as u16,
                    "identification"
                );
                let word = u16::from_be_bytes([p[6], p[7]]);
                assert_eq!((word & 0x1fff) * 8, off);
                assert_eq!(word & 0x2000 != 0, mf, "MF");
            }
            let mut v4 = a[..20].to_vec();
            v4[2..4].copy_from_slice(&((20 + udp.len()) as u16).to_be_bytes());
            v4[6..8].copy_from_slice(&[0, 0]);
            v4.extend_from_slice(&a[20..]);
            v4.extend_from_slice(&b[20..]);
            let mut frame = first[0].frame[..14].to_vec();
            frame.extend_from_slice(&v4);
            // Header checksum redone for the reassembled header.
            let mut h = etherparse::Ipv4Header::from_slice(&frame[14..]).unwrap().0;
            h.header_checksum = h.calc_header_checksum();
            frame[14..34].copy_from_slice(&h.to_bytes());
            let got = ip(&frame);
            assert_eq!(got.ports.1, 53);
            assert_eq!(got.payload, data, "{workers} workers, client {c}");
        }
    }
}
