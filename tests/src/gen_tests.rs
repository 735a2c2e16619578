//! Checks of the generator's output: parse every frame back, verify checksums with an
//! independent RFC 1071 implementation, follow TCP sequence numbers, compare the summary
//! with the frames, and make sure a seed fixes the output.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use etherparse::{LinkHeader, NetHeaders, PacketHeaders, TransportHeader};

use crate::gen::{Gen, Peer, Sides};
use crate::host::{Host, Port, OUTSIDE_GATEWAY};
use crate::mixed::{mixed_client_traffic, OUTSIDE_SCANNER};
use crate::summary::{FiveTuple, Proto, Summary};
use crate::trace::{read_capture, Frame, Trace};

const SECS: fn(u64) -> Duration = Duration::from_secs;

/// What one frame is, as far as these checks care.
#[derive(Debug)]
struct Parsed {
    tuple: FiveTuple,
    ip_len: usize,
    tcp: Option<TcpBits>,
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
}

#[derive(Debug, Clone, Copy)]
struct TcpBits {
    seq: u32,
    ack: Option<u32>,
    syn: bool,
    fin: bool,
    rst: bool,
    len: u32,
}

fn parse(frame: &[u8]) -> Parsed {
    let h = PacketHeaders::from_ethernet_slice(frame).expect("frame parses");
    let Some(LinkHeader::Ethernet2(eth)) = h.link else {
        panic!("not Ethernet II")
    };
    let (src, dst, ip_len) = match h.net.expect("has an IP header") {
        NetHeaders::Ipv4(ip, _) => (
            IpAddr::from(ip.source),
            IpAddr::from(ip.destination),
            usize::from(ip.total_len),
        ),
        NetHeaders::Ipv6(ip, _) => (
            IpAddr::from(ip.source),
            IpAddr::from(ip.destination),
            40 + usize::from(ip.payload_length),
        ),
        NetHeaders::Arp(_) => panic!("unexpected ARP"),
    };
    assert_eq!(ip_len, frame.len() - 14, "IP length matches the frame");
    let payload_len = h.payload.slice().len() as u32;
    let (proto, sport, dport, tcp) = match h.transport.expect("has a transport header") {
        TransportHeader::Tcp(t) => (
            Proto::Tcp,
            t.source_port,
            t.destination_port,
            Some(TcpBits {
                seq: t.sequence_number,
                ack: t.ack.then_some(t.acknowledgment_number),
                syn: t.syn,
                fin: t.fin,
                rst: t.rst,
                len: payload_len,
            }),
        ),
        TransportHeader::Udp(u) => (Proto::Udp, u.source_port, u.destination_port, None),
        TransportHeader::Icmpv4(i) => {
            let id = u16::from_be_bytes([i.to_bytes()[4], i.to_bytes()[5]]);
            (Proto::Icmp, id, id, None)
        }
        TransportHeader::Icmpv6(i) => {
            let id = u16::from_be_bytes([i.to_bytes()[4], i.to_bytes()[5]]);
            (Proto::Icmpv6, id, id, None)
        }
        TransportHeader::Igmp(_) => panic!("unexpected IGMP"),
    };
    Parsed {
        tuple: FiveTuple {
            proto,
            src,
            dst,
            sport,
            dport,
        },
        ip_len,
        tcp,
        src_mac: eth.source,
        dst_mac: eth.destination,
    }
}

/// RFC 1071 one's complement sum, folded.
fn ones_sum(chunks: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for c in chunks {
        for pair in c.chunks(2) {
            let w = if pair.len() == 2 {
                u16::from_be_bytes([pair[0], pair[1]])
            } else {
                u16::from_be_bytes([pair[0], 0])
            };
            sum += u32::from(w);
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Verifies the IPv4 header checksum and the transport checksum straight from the bytes.
fn assert_checksums(frame: &[u8]) {
    let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
    let l3 = &frame[14..];
    let (proto, l4, pseudo): (u8, &[u8], Vec<u8>) = match ethertype {
        0x0800 => {
            let ihl = usize::from(l3[0] & 0x0f) * 4;
            assert_eq!(ones_sum(&[&l3[..ihl]]), 0xffff, "IPv4 header checksum");
            let total = usize::from(u16::from_be_bytes([l3[2], l3[3]]));
            let l4 = &l3[ihl..total];
            let mut p = Vec::new();
            p.extend_from_slice(&l3[12..20]);
            p.extend_from_slice(&[0, l3[9]]);
            p.extend_from_slice(&(l4.len() as u16).to_be_bytes());
            (l3[9], l4, p)
        }
        0x86DD => {
            let l4 = &l3[40..];
            let mut p = Vec::new();
            p.extend_from_slice(&l3[8..40]);
            p.extend_from_slice(&(l4.len() as u32).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, l3[6]]);
            (l3[6], l4, p)
        }
        other => panic!("unexpected ethertype {other:#06x}"),
    };
    let sum = match proto {
        6 | 17 | 58 => ones_sum(&[&pseudo, l4]),
        1 => ones_sum(&[l4]),
        p => panic!("unexpected protocol {p}"),
    };
    assert_eq!(sum, 0xffff, "transport checksum of protocol {proto}");
    if proto == 17 {
        assert_ne!(&l4[6..8], &[0, 0], "UDP checksum present");
    }
}

fn mixed(seed: u64, sides: Sides) -> (Trace, Summary) {
    mixed_client_traffic(seed, 4, SECS(60), sides)
}

#[test]
fn frames_parse_and_checksums_are_valid() {
    let (trace, _) = mixed(1, Sides::Both);
    assert!(trace.len() > 500, "a busy minute: {} frames", trace.len());
    for f in trace.frames() {
        let p = parse(&f.data);
        assert_checksums(&f.data);
        assert_eq!(p.dst_mac, f.port.router_mac(), "sent to the router MAC");
        assert!(f.data.len() <= 1514, "fits a 1500-byte MTU");
        assert_eq!(p.src_mac[..2], [0x02, 0x00]);
    }
}

#[test]
fn frames_are_in_time_order_and_within_the_duration() {
    let (trace, summary) = mixed(2, Sides::Both);
    let ts: Vec<_> = trace.frames().iter().map(|f| f.ts).collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]));
    assert!(trace.end() <= SECS(60), "ends at {:?}", trace.end());
    assert!(
        trace.end() >= SECS(50),
        "spread over the minute: {:?}",
        trace.end()
    );
    for c in &summary.conversations {
        assert!(c.frames() > 0, "{} emitted nothing", c.label);
        assert!(c.first <= c.last);
    }
}

/// Per-tuple, per-direction frame/byte counts straight from the trace.
fn count_by_tuple(trace: &Trace) -> HashMap<FiveTuple, (u64, u64)> {
    let mut m: HashMap<FiveTuple, (u64, u64)> = HashMap::new();
    for f in trace.frames() {
        let p = parse(&f.data);
        let e = m.entry(p.tuple).or_default();
        e.0 += 1;
        e.1 += p.ip_len as u64;
    }
    m
}

fn check_summary_matches(trace: &Trace, summary: &Summary) {
    assert_eq!(summary.total_frames() as usize, trace.len());
    let seen = count_by_tuple(trace);
    // Conversations may share a 5-tuple (the idle UDP flow and its resumption).
    let mut expected: HashMap<FiveTuple, (u64, u64)> = HashMap::new();
    for c in &summary.conversations {
        let e = expected.entry(c.tuple).or_default();
        e.0 += c.client.frames;
        e.1 += c.client.ip_bytes;
        let e = expected.entry(c.tuple.reversed()).or_default();
        e.0 += c.server.frames;
        e.1 += c.server.ip_bytes;
    }
    expected.retain(|_, v| v.0 > 0);
    assert_eq!(seen, expected);
    // Frame bytes too.
    let frame_bytes: usize = trace.frames().iter().map(|f| f.data.len()).sum();
    let sum = summary.client_total().frame_bytes + summary.server_total().frame_bytes;
    assert_eq!(frame_bytes as u64, sum);
}

#[test]
fn summary_counts_equal_the_frames() {
    for sides in [Sides::Both, Sides::ClientOnly] {
        let (trace, summary) = mixed(3, sides);
        check_summary_matches(&trace, &summary);
        if sides == Sides::ClientOnly {
            assert_eq!(summary.server_total().frames, 0);
        }
    }
}

#[test]
fn tcp_sequence_numbers_are_continuous() {
    let (trace, summary) = mixed(4, Sides::Both);
    // Per direction: next expected seq, highest ack seen.
    #[derive(Default)]
    struct Dir {
        isn: Option<u32>,
        next: u32,
        last_ack: Option<u32>,
        fin: bool,
    }
    let mut dirs: HashMap<FiveTuple, Dir> = HashMap::new();
    for f in trace.frames() {
        let p = parse(&f.data);
        let Some(tcp) = p.tcp else { continue };
        let back = p.tuple.reversed();
        let peer_next = dirs.get(&back).and_then(|d| d.isn.map(|_| d.next));
        let d = dirs.entry(p.tuple).or_default();
        if tcp.syn {
            if let Some(isn) = d.isn {
                assert_eq!(tcp.seq, isn, "a retransmitted SYN keeps its ISN");
            } else {
                d.isn = Some(tcp.seq);
                d.next = tcp.seq.wrapping_add(1);
            }
        } else {
            assert!(d.isn.is_some(), "{}: data before SYN", p.tuple);
            assert!(!d.fin || tcp.len == 0, "{}: data after FIN", p.tuple);
            assert_eq!(tcp.seq, d.next, "{}: sequence gap", p.tuple);
            d.next = d.next.wrapping_add(tcp.len + u32::from(tcp.fin));
            d.fin |= tcp.fin;
        }
        if let Some(ack) = tcp.ack {
            // An ACK never covers data the other side has not sent yet, and never goes back.
            let peer_next = peer_next.expect("ACK of a side that has sent nothing");
            assert!(
                peer_next.wrapping_sub(ack) as i32 >= 0,
                "{}: ack {ack} beyond {peer_next}",
                p.tuple
            );
            if let Some(prev) = d.last_ack {
                assert!(
                    ack.wrapping_sub(prev) as i32 >= 0,
                    "{}: ack went back",
                    p.tuple
                );
            }
            d.last_ack = Some(ack);
        }
        assert!(!tcp.rst);
    }
    // Closed conversations end with everything acknowledged both ways.
    for c in summary.by_label("http") {
        let fwd = &dirs[&c.tuple];
        let back = &dirs[&c.tuple.reversed()];
        assert!(fwd.fin && back.fin, "{} closed both ways", c.tuple);
        assert_eq!(fwd.last_ack, Some(back.next));
        assert_eq!(back.last_ack, Some(fwd.next));
        // Client-side bytes in the summary include the HTTP request.
        assert!(c.client.payload_bytes >= 180);
        assert!(c.server.payload_bytes >= 2_000);
    }
    let ssh = summary
        .by_label("ssh-open")
        .next()
        .expect("long-lived TCP session");
    assert!(!dirs[&ssh.tuple].fin, "the ssh-like session stays open");
    assert!(
        ssh.last > SECS(50),
        "and active near the end: {:?}",
        ssh.last
    );
}

#[test]
fn segments_respect_mss_and_window() {
    let mut g = Gen::new(9);
    let mut t = Trace::new();
    let c = Host::inside([10, 0, 0, 2]);
    let s = Host::remote([198, 51, 100, 20]);
    let conv = g.tcp_conversation(
        &mut t,
        &c,
        &s,
        40_000,
        443,
        SECS(0),
        1_000,
        500_000,
        Sides::Both,
    );
    assert_eq!(conv.server.payload_bytes, 500_000);
    assert_eq!(conv.client.payload_bytes, 1_000);
    // Unacknowledged server data never exceeds the window.
    let mut server_next = 0u32;
    let mut client_ack = 0u32;
    let mut started = false;
    for f in t.frames() {
        let p = parse(&f.data);
        let tcp = p.tcp.unwrap();
        assert!(tcp.len <= 1460);
        if p.tuple.sport == 443 {
            if tcp.syn {
                server_next = tcp.seq.wrapping_add(1);
                started = true;
            } else {
                server_next = tcp.seq.wrapping_add(tcp.len + u32::from(tcp.fin));
            }
        } else if started {
            client_ack = tcp.ack.unwrap();
        }
        if started && client_ack != 0 {
            assert!(
                server_next.wrapping_sub(client_ack) <= 64_240,
                "{:?} outstanding {}",
                f.ts,
                server_next.wrapping_sub(client_ack)
            );
        }
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, sa) = mixed(42, Sides::Both);
    let (b, sb) = mixed(42, Sides::Both);
    assert_eq!(a, b);
    assert_eq!(sa, sb);
    let mut pa = Vec::new();
    let mut pb = Vec::new();
    a.write_pcapng_to(&mut pa).unwrap();
    b.write_pcapng_to(&mut pb).unwrap();
    assert_eq!(pa, pb);
    let (c, _) = mixed(43, Sides::Both);
    assert_ne!(a, c);
}

#[test]
fn client_only_keeps_exactly_the_initiators_frames() {
    let (both, summary) = mixed(5, Sides::Both);
    let (client_only, summary_c) = mixed(5, Sides::ClientOnly);
    let initiators: std::collections::HashSet<FiveTuple> =
        summary.conversations.iter().map(|c| c.tuple).collect();
    let expected: Vec<&Frame> = both
        .frames()
        .iter()
        .filter(|f| initiators.contains(&parse(&f.data).tuple))
        .collect();
    let got: Vec<&Frame> = client_only.frames().iter().collect();
    assert_eq!(expected, got);
    for (a, b) in summary.conversations.iter().zip(&summary_c.conversations) {
        assert_eq!(a.tuple, b.tuple);
        assert_eq!(a.client, b.client);
    }
}

#[test]
fn mix_has_every_kind_of_traffic() {
    let (trace, summary) = mixed(6, Sides::Both);
    for label in [
        "dns",
        "http",
        "ping",
        "idle-udp",
        "idle-udp-resumed",
        "ssh-open",
        "telnet",
        "tftp-rrq",
        "inbound-ssh",
        "inbound-snmp",
    ] {
        assert!(summary.by_label(label).next().is_some(), "no {label}");
    }
    // Servers on both sides of the next hop.
    let dsts: std::collections::HashSet<IpAddr> =
        summary.by_label("http").map(|c| c.tuple.dst).collect();
    assert!(dsts.len() >= 2, "{dsts:?}");
    // The idle flow is silent for more than 40 s in pcap time.
    let idle = summary.by_label("idle-udp").next().unwrap();
    let resumed = summary.by_label("idle-udp-resumed").next().unwrap();
    assert_eq!(idle.tuple, resumed.tuple);
    assert!(resumed.first - idle.last > SECS(40));
    let gaps: Vec<Duration> = trace
        .frames()
        .iter()
        .filter(|f| {
            let t = parse(&f.data).tuple;
            t == idle.tuple || t == idle.tuple.reversed()
        })
        .map(|f| f.ts)
        .collect::<Vec<_>>()
        .windows(2)
        .map(|w| w[1] - w[0])
        .collect();
    assert!(gaps.iter().any(|g| *g > SECS(40)));
    // Unsolicited traffic arrives from outside, from outside 10.0.0.0/24.
    for label in ["inbound-ssh", "inbound-snmp"] {
        let c = summary.by_label(label).next().unwrap();
        assert_eq!(c.tuple.src, IpAddr::V4(OUTSIDE_SCANNER));
        assert_eq!(c.client_port, Port::Outside);
        assert_eq!(c.server.frames, 0);
    }
    for f in trace.frames() {
        let p = parse(&f.data);
        if p.tuple.src == IpAddr::V4(OUTSIDE_SCANNER) {
            assert_eq!(f.port, Port::Outside);
            assert_eq!(p.src_mac, crate::host::host_mac(OUTSIDE_GATEWAY.into()));
        }
    }
    // 5-tuples are unique except for the idle flow's resumption.
    let mut tuples: Vec<FiveTuple> = summary.conversations.iter().map(|c| c.tuple).collect();
    tuples.sort();
    let before = tuples.len();
    tuples.dedup();
    assert_eq!(before - tuples.len(), 1);
}

#[test]
fn pcap_and_pcapng_round_trip() {
    let (trace, _) = mixed_client_traffic(7, 2, SECS(20), Sides::Both);
    let dir = std::env::temp_dir().join(format!("mspic-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("t.pcap");
    let pcap_ns = dir.join("t-ns.pcap");
    let pcapng = dir.join("t.pcapng");
    trace.write_pcap(&pcap).unwrap();
    trace.write_pcap_ns(&pcap_ns).unwrap();
    trace.write_pcapng(&pcapng).unwrap();
    for path in [&pcap, &pcap_ns, &pcapng] {
        let cap = read_capture(path).unwrap();
        assert_eq!(cap.frames.len(), trace.len(), "{}", path.display());
        for (got, want) in cap.frames.iter().zip(trace.frames()) {
            assert_eq!(got.data, want.data);
            assert_eq!(got.ts, trace.epoch() + want.ts);
        }
    }
    let ng = read_capture(&pcapng).unwrap();
    assert_eq!(ng.interfaces, vec!["ge-0/0/0", "ge-0/0/1"]);
    for (got, want) in ng.frames.iter().zip(trace.frames()) {
        assert_eq!(got.interface, want.port.index());
    }
    assert_eq!(
        ng.on_interface("ge-0/0/1").count(),
        trace
            .frames()
            .iter()
            .filter(|f| f.port == Port::Outside)
            .count()
    );
    // Classic pcap header: microsecond magic, LINKTYPE_ETHERNET.
    let bytes = std::fs::read(&pcap).unwrap();
    assert_eq!(
        u32::from_ne_bytes(bytes[..4].try_into().unwrap()),
        0xa1b2_c3d4
    );
    assert_eq!(u32::from_ne_bytes(bytes[20..24].try_into().unwrap()), 1);
    let bytes = std::fs::read(&pcap_ns).unwrap();
    assert_eq!(
        u32::from_ne_bytes(bytes[..4].try_into().unwrap()),
        0xa1b2_3c4d
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn builders_do_what_they_say() {
    let mut g = Gen::new(11);
    let mut t = Trace::new();
    let c = Host::inside([10, 0, 0, 7]);
    let s = Host::outside([203, 0, 113, 10]);
    let ms = Duration::from_millis;

    let u = g.udp_exchange(
        &mut t,
        &c,
        &s,
        5000,
        7000,
        ms(0),
        5,
        100,
        200,
        ms(100),
        Sides::Both,
    );
    assert_eq!((u.client.frames, u.server.frames), (5, 5));
    assert_eq!(u.client.payload_bytes, 500);
    assert_eq!(u.server.ip_bytes, 5 * (20 + 8 + 200));

    let i = g.icmp_echo(&mut t, &c, &s, 77, SECS(1), 3, SECS(1), Sides::ClientOnly);
    assert_eq!((i.client.frames, i.server.frames), (3, 0));
    assert_eq!(i.client.ip_bytes, 3 * 84, "ping -c 3: 84-byte packets");

    let y = g.tcp_syn_only(&mut t, &c, &s, 5001, 23, SECS(5), 4);
    assert_eq!(y.client.frames, 4);
    assert_eq!(y.last - y.first, SECS(1 + 2 + 4));

    let o = g.udp_one_way(&mut t, &c, &s, 5002, 69, SECS(10), 2, b"hello", SECS(5));
    assert_eq!((o.client.frames, o.server.frames), (2, 0));

    let d = g.dns_lookup(
        &mut t,
        &c,
        &s,
        5003,
        SECS(12),
        &["a.example", "b.example"],
        ms(50),
        Sides::Both,
    );
    assert_eq!((d.client.frames, d.server.frames), (2, 2));
    assert_eq!(d.tuple.dport, 53);

    let mut conn = g.tcp_connect(&mut t, &c, &s, 5004, 443, SECS(20), Sides::Both);
    g.tcp_send_bytes(&mut t, &mut conn, Peer::Client, 3000);
    g.tcp_reset(&mut t, &mut conn, Peer::Server);
    let r = conn.finish();
    // SYN, ACK + 3 segments from the client; SYN-ACK, 2 ACKs and the RST from the server.
    assert_eq!((r.client.frames, r.server.frames), (5, 4));

    let mut sum = Summary::new();
    for conv in [u, i, y, o, d, r] {
        sum.push(conv);
    }
    check_summary_matches(&t, &sum);
    for f in t.frames() {
        assert_checksums(&f.data);
    }
}

#[test]
fn ipv6_conversations() {
    let mut g = Gen::new(12);
    let mut t = Trace::new();
    let c = Host::inside("2001:db8::2".parse::<IpAddr>().unwrap());
    let s = Host::outside("2001:db8:1::10".parse::<IpAddr>().unwrap());
    let mut sum = Summary::new();
    sum.push(g.tcp_conversation(
        &mut t,
        &c,
        &s,
        40_000,
        80,
        SECS(0),
        200,
        10_000,
        Sides::Both,
    ));
    sum.push(g.icmp_echo(&mut t, &c, &s, 5, SECS(1), 2, SECS(1), Sides::Both));
    sum.push(g.udp_exchange(
        &mut t,
        &c,
        &s,
        4000,
        53,
        SECS(3),
        1,
        40,
        80,
        SECS(1),
        Sides::Both,
    ));
    for f in t.frames() {
        assert_checksums(&f.data);
    }
    check_summary_matches(&t, &sum);
    assert_eq!(sum.conversations[1].tuple.proto, Proto::Icmpv6);
}

#[test]
fn summary_prints_a_table() {
    let (_, summary) = mixed_client_traffic(1, 1, SECS(10), Sides::Both);
    let text = summary.to_string();
    assert!(text.starts_with("label"));
    assert!(text.contains("http"));
    assert!(text.lines().last().unwrap().contains("conversations"));
}
