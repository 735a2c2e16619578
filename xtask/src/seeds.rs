//! `cargo xtask fuzz-seeds`: the seed corpus of the fuzz targets, tests/fuzz/seeds/<target>/:
//! small valid captures, configurations, command lines, control-socket frames and frames of
//! every protocol the engine parses. Deterministic: running it again gives the same files.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use mspic_tests::{gen, mixed_client_traffic, Sides, Trace, ROUTER_MAC_INSIDE, ROUTER_MAC_OUTSIDE};

use crate::fuzz::write_seed;
use crate::util::workspace_root;

mod alg;

const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x03];
const CLIENT: [u8; 4] = [10, 0, 0, 2];
const SERVER: [u8; 4] = [198, 51, 100, 7];
const OUTSIDE_HOST: [u8; 4] = [203, 0, 113, 2];
const POOL: [u8; 4] = [203, 0, 113, 130];
const CLIENT6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const SERVER6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];

/// The Internet checksum of `data`, starting from `sum`.
fn checksum(data: &[u8], mut sum: u32) -> u16 {
    for c in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn eth(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = [dst, src].concat();
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An IPv4 packet: `frag` is the flags and fragment offset field.
fn ipv4(
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    frag: u16,
    options: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let hl = 20 + options.len();
    let mut h = vec![0u8; hl];
    h[0] = 0x40 | (hl / 4) as u8;
    h[2..4].copy_from_slice(&((hl + payload.len()) as u16).to_be_bytes());
    h[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
    h[6..8].copy_from_slice(&frag.to_be_bytes());
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&src);
    h[16..20].copy_from_slice(&dst);
    h[20..].copy_from_slice(options);
    let c = checksum(&h, 0);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

fn ipv6(src: [u8; 16], dst: [u8; 16], next: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    h.extend_from_slice(&[next, 64]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.extend_from_slice(payload);
    h
}

/// The pseudo-header sum of IPv4 or IPv6 for an L4 segment of `len` bytes.
fn pseudo(src: &[u8], dst: &[u8], proto: u8, len: usize) -> u32 {
    let mut p = [src, dst].concat();
    p.extend_from_slice(&[0, proto]);
    p.extend_from_slice(&(len as u16).to_be_bytes());
    let mut sum = 0u32;
    for c in p.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    sum
}

/// A UDP datagram with its checksum over the pseudo header.
fn udp(src: &[u8], dst: &[u8], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = [sport.to_be_bytes(), dport.to_be_bytes()].concat();
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    let c = checksum(&u, pseudo(src, dst, 17, u.len()));
    u[6..8].copy_from_slice(&c.to_be_bytes());
    u
}

/// A TCP segment (no options) with its checksum.
fn tcp(
    src: &[u8],
    dst: &[u8],
    ports: (u16, u16),
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut t = [ports.0.to_be_bytes(), ports.1.to_be_bytes()].concat();
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    let c = checksum(&t, pseudo(src, dst, 6, t.len()));
    t[16..18].copy_from_slice(&c.to_be_bytes());
    t
}

/// An ICMP (v4, `pseudo_sum` 0) or ICMPv6 message.
fn icmp(kind: u8, code: u8, rest: [u8; 4], body: &[u8], pseudo_sum: u32) -> Vec<u8> {
    let mut m = vec![kind, code, 0, 0];
    m.extend_from_slice(&rest);
    m.extend_from_slice(body);
    let c = checksum(&m, pseudo_sum);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH_ACK: u8 = 0x18;

/// One frame of every kind the engine parses, named.
fn protocol_frames() -> Vec<(&'static str, Vec<u8>)> {
    let in4 = |ip: Vec<u8>| eth(ROUTER_MAC_INSIDE, CLIENT_MAC, 0x0800, &ip);
    let out4 = |ip: Vec<u8>| eth(ROUTER_MAC_OUTSIDE, SERVER_MAC, 0x0800, &ip);
    let in6 = |ip: Vec<u8>| eth(ROUTER_MAC_INSIDE, CLIENT_MAC, 0x86dd, &ip);
    let (c, s) = (&CLIENT[..], &SERVER[..]);
    let syn = tcp(c, s, (40000, 80), 1000, 0, SYN, &[]);
    let http = gen::http_request(120, Ipv4Addr::from(SERVER).into(), 1);
    let data = tcp(c, s, (40000, 80), 1001, 5001, PSH_ACK, &http);
    let dns = gen::dns_messages(0x1234, "www.example.com", [198, 51, 100, 9]);
    let dns_q = udp(c, s, 53000, 53, &dns.0);
    let echo = icmp(8, 0, [0, 7, 0, 1], b"ping payload", 0);
    // An ICMP port unreachable from outside quoting a translated datagram.
    let quoted = ipv4(
        POOL,
        SERVER,
        17,
        0,
        &[],
        &udp(&POOL, s, 1024, 9999, b"q")[..8],
    );
    let unreach = icmp(3, 3, [0; 4], &quoted, 0);
    let frag_payload = udp(c, s, 53001, 9999, &gen::filler(64, 1));
    let ftp_port = tcp(
        c,
        s,
        (40001, 21),
        2000,
        7000,
        PSH_ACK,
        b"PORT 10,0,0,2,156,65\r\n",
    );
    let mut vlan = Vec::from(ROUTER_MAC_INSIDE);
    vlan.extend_from_slice(&CLIENT_MAC);
    vlan.extend_from_slice(&[0x81, 0x00, 0x00, 0x0a, 0x08, 0x00]);
    vlan.extend_from_slice(&ipv4(
        CLIENT,
        SERVER,
        17,
        0,
        &[],
        &udp(c, s, 5000, 5001, b"vlan"),
    ));
    let gre_inner = ipv4([192, 168, 1, 1], [192, 168, 2, 1], 1, 0, &[], &echo);
    let mut gre = vec![0, 0, 0x08, 0x00];
    gre.extend_from_slice(&gre_inner);
    let mut arp = vec![0, 1, 0x08, 0, 6, 4, 0, 1];
    arp.extend_from_slice(&CLIENT_MAC);
    arp.extend_from_slice(&CLIENT);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&[10, 0, 0, 1]);
    let (c6, s6) = (&CLIENT6[..], &SERVER6[..]);
    let syn6 = tcp(c6, s6, (40002, 443), 1, 0, SYN, &[]);
    let udp6 = udp(c6, s6, 5353, 53, &dns.0);
    let echo6 = icmp(128, 0, [0, 9, 0, 1], b"ping6", pseudo(c6, s6, 58, 13));
    // Hop-by-hop options (PadN), then a fragment header, then UDP.
    let mut ext = vec![44, 0, 1, 4, 0, 0, 0, 0];
    ext.extend_from_slice(&[17, 0, 0, 0, 0, 0, 0x12, 0x34]);
    ext.extend_from_slice(&udp(c6, s6, 5000, 5001, b"ext"));
    let jumbo = tcp(c, s, (40003, 80), 1, 1, PSH_ACK, &gen::filler(8900, 2));
    let mut frames = vec![
        ("tcp-syn", in4(ipv4(CLIENT, SERVER, 6, 0x4000, &[], &syn))),
        ("tcp-data", in4(ipv4(CLIENT, SERVER, 6, 0x4000, &[], &data))),
        (
            "tcp-syn-ack-outside",
            out4(ipv4(
                SERVER,
                POOL,
                6,
                0x4000,
                &[],
                &tcp(s, &POOL, (80, 1024), 5000, 1001, SYN | ACK, &[]),
            )),
        ),
        (
            "udp-dns-query",
            in4(ipv4(CLIENT, SERVER, 17, 0, &[], &dns_q)),
        ),
        (
            "udp-dns-answer",
            out4(ipv4(
                SERVER,
                POOL,
                17,
                0,
                &[],
                &udp(s, &POOL, 53, 1024, &dns.1),
            )),
        ),
        ("icmp-echo", in4(ipv4(CLIENT, SERVER, 1, 0, &[], &echo))),
        (
            "icmp-unreachable",
            out4(ipv4(SERVER, POOL, 1, 0, &[], &unreach)),
        ),
        (
            "ipv4-options",
            in4(ipv4(
                CLIENT,
                SERVER,
                17,
                0,
                &[1, 1, 1, 0],
                &udp(c, s, 5000, 5001, b"opt"),
            )),
        ),
        (
            "ipv4-first-fragment",
            in4(ipv4(CLIENT, SERVER, 17, 0x2000, &[], &frag_payload[..40])),
        ),
        (
            "ipv4-later-fragment",
            in4(ipv4(CLIENT, SERVER, 17, 5, &[], &frag_payload[40..])),
        ),
        (
            "ftp-port",
            in4(ipv4(CLIENT, SERVER, 6, 0x4000, &[], &ftp_port)),
        ),
        (
            "tftp-rrq",
            in4(ipv4(
                CLIENT,
                SERVER,
                17,
                0,
                &[],
                &udp(c, s, 40004, 69, &gen::tftp_rrq("boot.img")),
            )),
        ),
        ("vlan-udp", vlan),
        ("gre", in4(ipv4(CLIENT, OUTSIDE_HOST, 47, 0, &[], &gre))),
        ("arp-request", eth([0xff; 6], CLIENT_MAC, 0x0806, &arp)),
        ("ipv6-tcp-syn", in6(ipv6(CLIENT6, SERVER6, 6, &syn6))),
        ("ipv6-udp", in6(ipv6(CLIENT6, SERVER6, 17, &udp6))),
        ("ipv6-icmp-echo", in6(ipv6(CLIENT6, SERVER6, 58, &echo6))),
        ("ipv6-ext-headers", in6(ipv6(CLIENT6, SERVER6, 0, &ext))),
        (
            "jumbo-tcp",
            in4(ipv4(CLIENT, SERVER, 6, 0x4000, &[], &jumbo)),
        ),
        ("nd-solicitation", nd_seed(false)),
        ("nd-advertisement", nd_seed(true)),
    ];
    let sip = (
        SIP_MESSAGES[0].0,
        5060,
        SIP_MESSAGES[0].1.as_bytes().to_vec(),
    );
    for (name, port, payload) in alg::udp_requests().into_iter().chain([sip]) {
        let l4 = udp(c, s, 40010, port, &payload);
        frames.push((name, in4(ipv4(CLIENT, SERVER, 17, 0, &[], &l4))));
    }
    frames
}

/// A neighbor solicitation from the client for its IPv6 gateway, or the gateway's answer.
fn nd_seed(advertisement: bool) -> Vec<u8> {
    use mspic_wire::nd::{self, Nd, NdOp};
    let (client, gw) = (
        std::net::Ipv6Addr::from(CLIENT6),
        "2001:db8::1".parse().unwrap(),
    );
    let ns = Nd {
        op: NdOp::Solicitation,
        src: client,
        dst: nd::solicited_node(gw),
        target: gw,
        lladdr: Some(CLIENT_MAC),
    };
    let m = if advertisement {
        ns.answer(gw, ROUTER_MAC_INSIDE)
    } else {
        ns
    };
    let mut b = vec![0u8; nd::MAX_FRAME_LEN];
    let n = m
        .write(CLIENT_MAC, nd::multicast_mac(m.dst), &mut b)
        .unwrap_or(0);
    b.truncate(n);
    b
}

/// engine_process input: flags, then `[ingress, step (10 ms), length (u16 LE), bytes]`.
fn engine_input(flags: u8, frames: &[(u8, u64, &[u8])]) -> Vec<u8> {
    let mut v = vec![flags];
    for (ingress, step, f) in frames {
        v.push(*ingress);
        v.push((*step).min(255) as u8);
        v.extend_from_slice(&(f.len() as u16).to_le_bytes());
        v.extend_from_slice(f);
    }
    v
}

/// A control-socket frame.
fn control(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![b'M', b'S', 1, kind];
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

const COMMANDS: &[&str] = &[
    "show services sessions",
    "show services sessions extensive",
    "show services sessions count",
    "show services sessions source-prefix 10.0.0.0/24 destination-port 80 protocol tcp",
    "show services sessions application-protocol ftp limit 5 | display xml",
    "show services sessions interface ms-1/1/0 service-set ss | display json",
    "show services nat pool detail",
    "show services nat mappings summary",
    "show services stateful-firewall statistics extensive",
    "show services alg conversations",
    "show services service-sets summary",
    "clear services sessions source-prefix 10.0.0.2",
    "clear services sessions",
    "sh se se ext",
];

const SET_LINES: &str = "set interfaces ge-0/0/0 unit 0 family inet address 10.0.0.1/24\n\
set interfaces ge-0/0/0 unit 0 family inet service input service-set ss\n\
set interfaces ge-0/0/1 unit 0 family inet address 203.0.113.1/24\n\
set interfaces ms-1/1/0 unit 0 family inet\n\
set services nat pool p address 203.0.113.128/25\n\
set services nat pool p port automatic\n\
set services nat rule r match-direction input\n\
set services nat rule r term t from source-address 10.0.0.0/24\n\
set services nat rule r term t then translated source-pool p\n\
set services nat rule r term t then translated translation-type napt-44\n\
set services service-set ss nat-rules r\n\
set services service-set ss interface-service service-interface ms-1/1/0\n";

pub fn run() -> Result<()> {
    let root = workspace_root();
    let dir = root.join("tests/fuzz/seeds");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    let frames = protocol_frames();
    for (name, f) in &frames {
        write_seed(&dir, "wire_parse", name, f)?;
    }
    // The translator takes IP packets: the untagged IP frames without Ethernet.
    for (name, f) in &frames {
        if let Some([0x08, 0x00] | [0x86, 0xdd]) = f.get(12..14) {
            write_seed(&dir, "xlat", name, &f[14..])?;
        }
    }

    // A short mixed trace, both sides, in file order.
    let (trace, _) = mixed_client_traffic(1, 2, Duration::from_secs(2), Sides::Both);
    let mut last = Duration::ZERO;
    let recs: Vec<(u8, u64, &[u8])> = trace
        .frames()
        .iter()
        .take(80)
        .map(|f| {
            let step = (f.ts.saturating_sub(last).as_millis() / 10) as u64;
            last = f.ts;
            (f.port.index() as u8, step, &f.data[..])
        })
        .collect();
    let protos: Vec<(u8, u64, &[u8])> = frames
        .iter()
        .map(|(name, f)| {
            (
                u8::from(
                    name.contains("outside")
                        || name.contains("answer")
                        || name.contains("unreachable"),
                ),
                1,
                &f[..],
            )
        })
        .collect();
    let ftp: Vec<(u8, u64, &[u8])> = frames
        .iter()
        .filter(|(n, _)| n.starts_with("tcp-syn") || *n == "ftp-port")
        .map(|(_, f)| (0, 0, &f[..]))
        .collect();
    write_seed(
        &dir,
        "engine_process",
        "mixed-1-shard",
        &engine_input(0, &recs),
    )?;
    write_seed(
        &dir,
        "engine_process",
        "mixed-4-shards-batch-loop",
        &engine_input(3 | 4 | 8, &recs),
    )?;
    write_seed(
        &dir,
        "engine_process",
        "mixed-2-shards-checksums",
        &engine_input(1 | 16, &recs),
    )?;
    write_seed(
        &dir,
        "engine_process",
        "protocols-3-shards",
        &engine_input(2 | 8, &protos),
    )?;
    write_seed(
        &dir,
        "engine_process",
        "ftp-port-2-shards",
        &engine_input(1, &ftp),
    )?;

    // Captures: pcap (µs and ns) and pcapng of the first frames.
    let mut short = Trace::new();
    for f in trace.frames().iter().take(6) {
        short.push(f.clone());
    }
    let mut pcap = Vec::new();
    short.write_pcap_to(&mut pcap, pcap_file::TsResolution::MicroSecond)?;
    write_seed(&dir, "pcap_read", "pcap-us", &pcap)?;
    let mut pcap_ns = Vec::new();
    short.write_pcap_to(&mut pcap_ns, pcap_file::TsResolution::NanoSecond)?;
    write_seed(&dir, "pcap_read", "pcap-ns", &pcap_ns)?;
    let mut ng = Vec::new();
    short.write_pcapng_to(&mut ng)?;
    write_seed(&dir, "pcap_read", "pcapng", &ng)?;

    for entry in std::fs::read_dir(root.join("docs/examples"))? {
        let p = entry?.path();
        if p.extension().is_some_and(|e| e == "conf") {
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("example.conf");
            write_seed(&dir, "config_parse", name, &std::fs::read(&p)?)?;
        }
    }
    write_seed(&dir, "config_parse", "set-lines.conf", SET_LINES.as_bytes())?;

    for (i, c) in COMMANDS.iter().enumerate() {
        write_seed(
            &dir,
            "command_parse",
            &format!("command-{i:02}"),
            c.as_bytes(),
        )?;
    }

    let mut requests = vec![255u8];
    requests.extend(control(0x01, b"mspic 0.1.0"));
    requests.extend(control(0x02, COMMANDS[1].as_bytes()));
    let mut commit = Vec::from(6u16.to_be_bytes());
    commit.extend_from_slice(b"c.conf");
    commit.extend_from_slice(SET_LINES.as_bytes());
    requests.extend(control(0x03, &commit));
    write_seed(&dir, "control_decode", "requests", &requests)?;
    let mut split = vec![3u8];
    split.extend(control(0x02, COMMANDS[0].as_bytes()));
    write_seed(&dir, "control_decode", "request-in-pieces", &split)?;
    let mut responses = vec![200u8];
    responses.extend(control(0x81, b"ms-1/1/0\nSession: 1\n"));
    responses.extend(control(0x82, b""));
    responses.extend(control(0x83, b"error: syntax error: foo"));
    write_seed(&dir, "control_decode", "responses", &responses)?;

    for (name, arg) in [
        ("port", &b"10,0,0,2,156,65"[..]),
        ("eprt-v4", b"|1|10.0.0.2|40001|"),
        ("eprt-v6", b"|2|2001:db8::2|40001|"),
        ("227", b"Entering Passive Mode (198,51,100,7,195,80)."),
        ("229", b"Entering Extended Passive Mode (|||50000|)"),
    ] {
        write_seed(&dir, "alg_ftp", name, arg)?;
    }
    let (q, a) = gen::dns_messages(7, "example.org", [192, 0, 2, 1]);
    write_seed(&dir, "alg_dns", "query", &q)?;
    write_seed(&dir, "alg_dns", "answer", &a)?;
    write_seed(&dir, "alg_tftp", "rrq", &gen::tftp_rrq("boot.img"))?;
    write_seed(&dir, "alg_rsh", "stderr-port", b"1023\0root\0root\0ls\0")?;
    for (name, msg) in SIP_MESSAGES {
        write_seed(&dir, "alg_sip", name, msg.as_bytes())?;
    }
    write_seed(
        &dir,
        "alg_sip",
        "stream-two-messages",
        format!("{}{}", SIP_MESSAGES[1].1, SIP_MESSAGES[2].1).as_bytes(),
    )?;
    for (name, body) in SDP_BODIES {
        write_seed(&dir, "alg_sdp", name, body.as_bytes())?;
    }
    alg::write(&dir)?;

    let n = walk(&dir)?;
    println!(
        "wrote {n} seeds under {}",
        crate::util::rel(&dir, &root).display()
    );
    Ok(())
}

/// SDP bodies (RFC 4566): an offer with RTP on an even port, one with `a=rtcp` (RFC 3605)
/// and two streams, a hold (`c=` 0.0.0.0, RFC 3264 §8.4) with LF line ends.
const SDP_BODIES: &[(&str, &str)] = &[
    (
        "offer",
        "v=0\r\no=alice 2890844526 2890844526 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\n\
         t=0 0\r\nm=audio 49170 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n",
    ),
    (
        "rtcp-attribute-two-streams",
        "v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\n\
         c=IN IP4 10.0.0.2\r\na=rtcp:53020 IN IP4 10.0.0.2\r\nm=video 51372 RTP/AVP 31\r\n\
         c=IN IP4 10.0.0.2\r\n",
    ),
    (
        "hold-lf",
        "v=0\no=- 1 2 IN IP4 10.0.0.2\ns=-\nc=IN IP4 0.0.0.0\nt=0 0\nm=audio 49170 RTP/AVP 0\n",
    ),
];

/// SIP messages (RFC 3261): an INVITE with SDP, its 200, a BYE, a REGISTER with a
/// Contact expiry, compact header forms and a keep-alive.
const SIP_MESSAGES: &[(&str, &str)] = &[
    (
        "invite-sdp",
        "INVITE sip:bob@198.51.100.7 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK74\r\n\
         Max-Forwards: 70\r\nTo: <sip:bob@198.51.100.7>\r\nFrom: <sip:alice@10.0.0.2>;tag=19\r\n\
         Call-ID: a84b4c76e66710@10.0.0.2\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@10.0.0.2>\r\n\
         Content-Type: application/sdp\r\nContent-Length: 130\r\n\r\n\
         v=0\r\no=alice 2890844526 2890844526 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\n\
         t=0 0\r\nm=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
    ),
    (
        "ok-invite",
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 203.0.113.130:1024;branch=z9hG4bK74\r\n\
         To: <sip:bob@198.51.100.7>;tag=a6\r\nFrom: <sip:alice@203.0.113.130>;tag=19\r\n\
         Call-ID: a84b4c76e66710@203.0.113.130\r\nCSeq: 1 INVITE\r\n\
         Contact: <sip:bob@198.51.100.7>\r\nContent-Length: 0\r\n\r\n",
    ),
    (
        "bye",
        "BYE sip:bob@198.51.100.7 SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.2:5060;branch=z9hG4bK75\r\n\
         To: <sip:bob@198.51.100.7>;tag=a6\r\nFrom: <sip:alice@10.0.0.2>;tag=19\r\n\
         Call-ID: a84b4c76e66710@10.0.0.2\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
    ),
    (
        "register",
        "REGISTER sip:198.51.100.7 SIP/2.0\r\nv: SIP/2.0/UDP 10.0.0.2:5062;branch=z9hG4bK76\r\n\
         t: <sip:alice@198.51.100.7>\r\nf: <sip:alice@198.51.100.7>;tag=20\r\ni: r1@10.0.0.2\r\n\
         CSeq: 1 REGISTER\r\nm: <sip:alice@10.0.0.2:5062>;expires=600\r\nl: 0\r\n\r\n",
    ),
    ("keep-alive", "\r\n\r\n"),
];

fn walk(dir: &Path) -> Result<usize> {
    let mut n = 0;
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        n += if p.is_dir() { walk(&p)? } else { 1 };
    }
    Ok(n)
}
