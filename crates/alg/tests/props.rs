//! Properties: the FTP endpoint parsers and formatters are inverse; no input panics a
//! parser; arbitrary payloads on ALG sessions leave the shard consistent, and a rewritten
//! segment always carries valid checksums.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::*;
use mspic_alg::{dcerpc, dns, ftp, h323, ike, pptp, rpc, rsh, rtsp, sdp, sip, sqlnet, talk, tftp};
use proptest::prelude::*;

// RFC 2428 §2: the delimiter is any printable character that is not part of the address
// (so not `.` or `:`).
proptest! {
    #[test]
    fn port_format_parse_roundtrip(a in any::<u32>(), p in 1u16..) {
        let a = Ipv4Addr::from(a);
        prop_assert_eq!(ftp::parse_port(ftp::format_port(a, p).as_bytes()), Ok((a, p)));
        let text = format!("227 Entering Passive Mode ({}).", ftp::format_port(a, p));
        let (a2, p2, r) = ftp::parse_227(&text.as_bytes()[4..]).unwrap();
        prop_assert_eq!((a2, p2), (a, p));
        let formatted = ftp::format_port(a, p);
        prop_assert_eq!(&text.as_bytes()[4..][r], formatted.as_bytes());
    }

    #[test]
    fn eprt_format_parse_roundtrip(v4 in any::<u32>(), v6 in any::<u128>(), six: bool, p in 1u16.., d in prop::sample::select(b"|!#$%&*+-/;<=>?@^_~".to_vec())) {
        let ip = if six { IpAddr::V6(Ipv6Addr::from(v6)) } else { IpAddr::V4(Ipv4Addr::from(v4)) };
        let text = ftp::format_eprt(d, (ip, p));
        prop_assert_eq!(ftp::parse_eprt(text.as_bytes()), Ok(((ip, p), d)));
    }

    #[test]
    fn parsers_never_panic(data in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = ftp::parse_port(&data);
        let _ = ftp::parse_eprt(&data);
        let _ = ftp::parse_227(&data);
        let _ = ftp::parse_229(&data);
        let _ = tftp::parse_request(&data);
        let _ = dns::parse_header(&data);
        let _ = rsh::parse_stderr_port(&data);
        let _ = talk::parse(&data, talk::NTALK);
        let _ = talk::parse(&data, talk::OTALK);
        let _ = sip::parse(&data, false);
        let _ = sip::parse(&data, true);
        let _ = sdp::parse(&data);
        let _ = rtsp::parse(&data);
        let _ = rtsp::transport(&data, 0..data.len());
        let _ = rpc::parse(&data);
        let _ = rpc::parse_uaddr(&data);
        if let Ok(h) = dcerpc::header(&data) {
            let _ = dcerpc::epm_contexts(&data, &h);
            let _ = dcerpc::map_response(&data, h.le, 24.min(data.len()), data.len());
        }
        let _ = dcerpc::tower(&data, 0);
        let _ = sqlnet::header(&data);
        let _ = sqlnet::redirect_data(&data);
        let _ = sqlnet::addresses(&data);
        let _ = pptp::parse(&data);
        let _ = ike::parse(&data);
        let _ = h323::tpkt(&data);
        let _ = h323::q931(&data);
        let _ = h323::ras_type(&data);
    }

    #[test]
    fn per_transport_addresses_are_found_where_they_were_written(
        noise in prop::collection::vec(prop::collection::vec(11u8.., 0..12), 1..6),
        ports in prop::collection::vec(1u16.., 5),
    ) {
        // Noise bytes never start with 10 (the address's first octet): only the written
        // addresses can match.
        let ip = Ipv4Addr::new(10, 0, 0, 2);
        let mut p = Vec::new();
        let mut want = Vec::new();
        for (n, port) in noise.iter().zip(&ports) {
            p.extend_from_slice(n);
            want.push((*port, p.len()..p.len() + 6));
            p.extend_from_slice(&ip.octets());
            p.extend_from_slice(&port.to_be_bytes());
        }
        let (got, n) = h323::transport_addresses::<8>(&p, ip);
        prop_assert_eq!(got[..n].to_vec(), want);
    }

    #[test]
    fn sqlnet_addresses_are_found_where_they_were_written(
        addrs in prop::collection::vec((any::<u32>(), 1u16.., any::<bool>(), 0usize..3), 1..=sqlnet::MAX_ADDRESSES),
    ) {
        let sp = |n: usize| " ".repeat(n);
        let text: String = addrs
            .iter()
            .map(|(a, p, lower, s)| {
                let (k1, k2, k3) = if *lower { ("address", "host", "port") } else { ("ADDRESS", "HOST", "PORT") };
                format!("({k1}{}={}(PROTOCOL=TCP)({k2}={}{}{})({k3}={p}))", sp(*s), sp(*s), sp(*s), Ipv4Addr::from(*a), sp(*s))
            })
            .collect();
        let text = format!("(DESCRIPTION=(ADDRESS_LIST={text}))");
        let (got, n) = sqlnet::addresses(text.as_bytes()).unwrap();
        prop_assert_eq!(n, addrs.len());
        for (g, (a, p, _, _)) in got.iter().flatten().zip(&addrs) {
            prop_assert_eq!((g.host, g.port), (Some(Ipv4Addr::from(*a)), *p));
            prop_assert_eq!(&text[g.host_at.clone()], Ipv4Addr::from(*a).to_string());
        }
    }

    #[test]
    fn tower_endpoints_are_found_where_they_were_written(
        floors in prop::collection::vec((1u8..=0x20, prop::collection::vec(any::<u8>(), 0..20)), 0..4),
        tcp: bool,
        port: u16,
        ip: [u8; 4],
    ) {
        // Arbitrary floors of other protocols, then the port and address floors.
        let mut t = ((floors.len() + 2) as u16).to_le_bytes().to_vec();
        let mut floor = |lhs: &[u8], rhs: &[u8]| {
            t.extend_from_slice(&(lhs.len() as u16).to_le_bytes());
            t.extend_from_slice(lhs);
            t.extend_from_slice(&(rhs.len() as u16).to_le_bytes());
            t.extend_from_slice(rhs);
        };
        for (id, rhs) in &floors {
            let id = if matches!(id, 7..=9) { 0x0b } else { *id };
            floor(&[id], rhs);
        }
        floor(&[if tcp { 7 } else { 8 }], &port.to_be_bytes());
        floor(&[9], &ip);
        let ep = dcerpc::tower(&t, 100).unwrap().unwrap();
        prop_assert_eq!(ep.protocol, if tcp { 6 } else { 17 });
        prop_assert_eq!((ep.port, ep.ip.octets()), (port, ip));
        prop_assert_eq!(&t[ep.ip_at - 100..ep.ip_at - 96], &ip[..]);
    }

    #[test]
    fn uaddr_format_parse_roundtrip(a in any::<u32>(), p: u16) {
        let a = Ipv4Addr::from(a);
        prop_assert_eq!(rpc::parse_uaddr(rpc::format_uaddr(a, p).as_bytes()), Ok((a, p)));
    }

    #[test]
    fn rpc_records_in_any_cut_keep_the_shard_consistent(
        msgs in prop::collection::vec((any::<bool>(), prop::collection::vec(any::<u32>(), 0..16), 0usize..80, 0u32..100), 1..16)
    ) {
        let mut c = Cluster::one(&napt());
        c.pass(&tcp(("10.0.0.2", 700), ("198.51.100.7", 111), "S", 100, 0, b""));
        let (mut cs, mut ss) = (101u32, 501u32);
        for (client, w, cut, step) in msgs {
            // Records with plausible heads (portmap GET calls, accepted replies) and noise.
            let head: &[u32] = if client { &[1, 0, 2, 100_000, 2, 3, 0, 0, 0, 0] } else { &[1, 1, 0, 0, 0, 0] };
            let body: Vec<u8> = head.iter().chain(&w).flat_map(|x| x.to_be_bytes()).collect();
            let mut rec = (0x8000_0000u32 | body.len() as u32).to_be_bytes().to_vec();
            rec.extend_from_slice(&body);
            rec.truncate(cut.max(1));
            let f = if client {
                cs = cs.wrapping_add(step);
                tcp(("10.0.0.2", 700), ("198.51.100.7", 111), "PA", cs, ss, &rec)
            } else {
                ss = ss.wrapping_add(step);
                tcp(("198.51.100.7", 111), ("203.0.113.128", 1024), "PA", ss, cs, &rec)
            };
            let (v, out) = c.send(&f);
            if matches!(v, mspic_flow::Verdict::Forward { .. }) {
                prop_assert!(checksums_ok(&out));
            }
        }
        for s in &c.shards {
            prop_assert!(s.check_consistency().is_ok());
        }
    }

    #[test]
    fn rtsp_transport_ports_are_found_where_they_were_written(
        specs in prop::collection::vec((1u16.., prop::option::of(1u16..), prop::option::of((1u16.., 1u16..)), any::<bool>()), 1..=rtsp::MAX_SPECS),
    ) {
        let text = specs
            .iter()
            .map(|(a, b, srv, tcp)| {
                let mut t = String::from(if *tcp { "RTP/AVP/TCP;unicast" } else { "RTP/AVP;unicast" });
                match b {
                    Some(b) => t.push_str(&format!(";client_port={a}-{b}")),
                    None => t.push_str(&format!(";client_port={a}")),
                }
                if let Some((c, d)) = srv {
                    t.push_str(&format!(";server_port={c}-{d}"));
                }
                t
            })
            .collect::<Vec<_>>()
            .join(", ");
        let (got, n) = rtsp::transport(text.as_bytes(), 0..text.len()).unwrap();
        prop_assert_eq!(n, specs.len());
        for (g, (a, b, srv, tcp)) in got.iter().zip(&specs) {
            prop_assert_eq!(g.interleaved, *tcp);
            let (cp, r) = g.client_port.clone().unwrap();
            prop_assert_eq!(cp, (*a, *b));
            let want = match b { Some(b) => format!("{a}-{b}"), None => a.to_string() };
            prop_assert_eq!(&text[r], want);
            prop_assert_eq!(g.server_port.as_ref().map(|s| s.0), srv.map(|(c, d)| (c, Some(d))));
        }
    }

    #[test]
    fn sdp_fields_are_found_where_they_were_written(
        origin in any::<u32>(),
        conns in prop::collection::vec((any::<u32>(), 0u16.., prop::option::of(1u16..), any::<bool>()), 0..=sdp::MAX_MEDIA),
        lf in any::<bool>(),
    ) {
        let eol = if lf { "\n" } else { "\r\n" };
        let o = Ipv4Addr::from(origin);
        let mut text = format!("v=0{eol}o=- 1 1 IN IP4 {o}{eol}s=-{eol}t=0 0{eol}");
        for (a, port, rtcp, own_c) in &conns {
            text.push_str(&format!("m=audio {port} RTP/AVP 0{eol}"));
            if *own_c {
                text.push_str(&format!("c=IN IP4 {}{eol}", Ipv4Addr::from(*a)));
            }
            if let Some(r) = rtcp {
                text.push_str(&format!("a=rtcp:{r}{eol}"));
            }
        }
        let s = sdp::parse(text.as_bytes()).unwrap();
        prop_assert_eq!(s.crlf, !lf);
        let origin_at = s.origin.clone().unwrap().at;
        prop_assert_eq!(&text[origin_at], o.to_string());
        prop_assert_eq!(s.media().len(), conns.len());
        for (i, (m, (a, port, rtcp, own_c))) in s.media().iter().zip(&conns).enumerate() {
            prop_assert_eq!(m.port, *port);
            prop_assert_eq!(&text[m.port_at.clone()], port.to_string());
            prop_assert_eq!(m.rtcp.as_ref().map(|r| r.port), *rtcp);
            let want = own_c.then(|| IpAddr::V4(Ipv4Addr::from(*a)));
            prop_assert_eq!(s.conn_of(i), want);
        }
    }

    #[test]
    fn sip_rewrites_hide_the_agent_and_keep_content_length(
        sport in 1025u16..,
        rtp in (1024u16..32000).prop_map(|p| p * 2),
        implied in any::<bool>(),
    ) {
        let mut c = Cluster::one(&napt());
        let me = if implied && sport == 5060 { "10.0.0.2".to_string() } else { format!("10.0.0.2:{sport}") };
        let body = format!("v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\nm=audio {rtp} RTP/AVP 0\r\n");
        let m = format!(
            "INVITE sip:bob@198.51.100.7 SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK1\r\nFrom: <sip:a@10.0.0.2>;tag=1\r\nTo: <sip:bob@198.51.100.7>\r\nCall-ID: 1@10.0.0.2\r\nCSeq: 1 INVITE\r\nContact: <sip:a@{me}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let out = c.pass(&udp(("10.0.0.2", sport), ("198.51.100.7", 5060), m.as_bytes()));
        let p = etherparse::SlicedPacket::from_ethernet(&out).unwrap();
        let Some(etherparse::TransportSlice::Udp(u)) = p.transport else { panic!() };
        let text = String::from_utf8(u.payload().to_vec()).unwrap();
        prop_assert!(!text.contains("10.0.0."), "{}", text);
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let cl: usize = head.split("Content-Length: ").nth(1).unwrap().parse().unwrap();
        prop_assert_eq!(cl, body.len());
        prop_assert!(head.contains("Via: SIP/2.0/UDP 203.0.113.128:1024;"), "{}", head);
    }

    #[test]
    fn arbitrary_binary_alg_traffic_keeps_the_shard_consistent(
        segs in prop::collection::vec((0u8..4, any::<bool>(), prop::collection::vec(any::<u8>(), 0..160), 0u32..200), 1..24)
    ) {
        // DCE RPC (135), SQLNet (1521), PPTP (1723) control connections and IKE (500).
        let mut c = Cluster::new(&napt(), 2);
        let ports = [135u16, 1521, 1723];
        for (i, p) in ports.iter().enumerate() {
            c.send(&tcp(("10.0.0.2", 40000 + i as u16), ("198.51.100.7", *p), "S", 100, 0, b""));
        }
        let mut seqs = [(101u32, 501u32); 3];
        for (kind, client, payload, step) in segs {
            let f = match kind {
                3 => {
                    if client {
                        udp(("10.0.0.2", 500), ("198.51.100.7", 500), &payload)
                    } else {
                        udp(("198.51.100.7", 500), ("203.0.113.128", 1024), &payload)
                    }
                }
                k => {
                    let k = k as usize;
                    let (cs, ss) = &mut seqs[k];
                    if client {
                        *cs = cs.wrapping_add(step);
                        tcp(("10.0.0.2", 40000 + k as u16), ("198.51.100.7", ports[k]), "PA", *cs, *ss, &payload)
                    } else {
                        *ss = ss.wrapping_add(step);
                        tcp(("198.51.100.7", ports[k]), ("203.0.113.128", 1024 + k as u16), "PA", *ss, *cs, &payload)
                    }
                }
            };
            let (v, out) = c.send(&f);
            if matches!(v, mspic_flow::Verdict::Forward { .. }) {
                prop_assert!(checksums_ok(&out));
            }
        }
        for s in &c.shards {
            prop_assert!(s.check_consistency().is_ok());
        }
    }

    #[test]
    fn mangled_rtsp_keeps_the_shard_consistent(
        cuts in prop::collection::vec((any::<bool>(), 0usize..200, any::<u8>(), 0usize..200, 0u32..300), 1..16)
    ) {
        let base = b"SETUP rtsp://198.51.100.7/a RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP;unicast;client_port=50000-50001;server_port=6000-6001;destination=10.0.0.2\r\n\r\n";
        let mut c = Cluster::new(&napt(), 2);
        c.pass(&tcp(("10.0.0.2", 40000), ("198.51.100.7", 554), "S", 100, 0, b""));
        let (mut cs, mut ss) = (101u32, 501u32);
        for (client, at, byte, len, step) in cuts {
            let mut m = base.to_vec();
            let at = at % m.len();
            m[at] = byte;
            m.truncate(len.max(at + 1));
            let f = if client {
                cs = cs.wrapping_add(step);
                tcp(("10.0.0.2", 40000), ("198.51.100.7", 554), "PA", cs, ss, &m)
            } else {
                ss = ss.wrapping_add(step);
                tcp(("198.51.100.7", 554), ("203.0.113.128", 1024), "PA", ss, cs, &m)
            };
            let (v, out) = c.send(&f);
            if matches!(v, mspic_flow::Verdict::Forward { .. }) {
                prop_assert!(checksums_ok(&out));
            }
        }
        for s in &c.shards {
            prop_assert!(s.check_consistency().is_ok());
        }
    }

    #[test]
    fn mangled_sip_keeps_the_shard_consistent(
        cuts in prop::collection::vec((any::<bool>(), 0usize..400, any::<u8>(), 0usize..400), 1..16)
    ) {
        let base = b"INVITE sip:bob@198.51.100.7 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK1\r\nCall-ID: 1@10.0.0.2\r\nCSeq: 1 INVITE\r\nContact: <sip:a@10.0.0.2:5062>\r\nContent-Type: application/sdp\r\nContent-Length: 85\r\n\r\nv=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
        let mut c = Cluster::new(&napt(), 2);
        c.pass(&udp(("10.0.0.2", 5060), ("198.51.100.7", 5060), base));
        for (inside, at, byte, len) in cuts {
            let mut m = base.to_vec();
            let at = at % m.len();
            m[at] = byte;
            m.truncate(len.max(at + 1));
            let f = if inside {
                udp(("10.0.0.2", 5060), ("198.51.100.7", 5060), &m)
            } else {
                udp(("198.51.100.7", 5060), ("203.0.113.128", 1024), &m)
            };
            let (v, out) = c.send(&f);
            if matches!(v, mspic_flow::Verdict::Forward { .. }) {
                prop_assert!(checksums_ok(&out));
            }
        }
        for s in &c.shards {
            prop_assert!(s.check_consistency().is_ok());
        }
    }

    #[test]
    fn arbitrary_control_traffic_keeps_the_shard_consistent(
        segs in prop::collection::vec((any::<bool>(), 0u32..64, prop::collection::vec(any::<u8>(), 0..120), any::<bool>()), 1..24)
    ) {
        let mut c = Cluster::one(&napt());
        c.pass(&tcp(("10.0.0.2", 40000), ("198.51.100.7", 21), "S", 100, 0, b""));
        c.pass(&tcp(("198.51.100.7", 21), ("203.0.113.128", 1024), "SA", 500, 101, b""));
        let (mut cs, mut ss) = (101u32, 501u32);
        for (client, step, mut payload, command) in segs {
            if command {
                // Mostly well-formed commands with random numbers, to reach the rewrites.
                let n = payload.first().copied().unwrap_or(0);
                let line = if client {
                    format!("PORT 10,0,0,2,{},{}\r\n", n, step)
                } else {
                    format!("227 Entering Passive Mode (198,51,100,7,{},{})\r\n", n, step)
                };
                payload = line.into_bytes();
            }
            let f = if client {
                cs = cs.wrapping_add(step);
                tcp(("10.0.0.2", 40000), ("198.51.100.7", 21), "PA", cs, ss, &payload)
            } else {
                ss = ss.wrapping_add(step);
                tcp(("198.51.100.7", 21), ("203.0.113.128", 1024), "PA", ss, cs, &payload)
            };
            let (v, out) = c.send(&f);
            if matches!(v, mspic_flow::Verdict::Forward { .. }) {
                prop_assert!(checksums_ok(&out));
            }
        }
        for (i, s) in c.shards.iter().enumerate() {
            prop_assert!(s.check_consistency().is_ok(), "shard {}", i);
        }
    }

    #[test]
    fn arbitrary_datagrams_and_first_segments_keep_the_shard_consistent(
        msgs in prop::collection::vec((0u8..4, prop::collection::vec(any::<u8>(), 0..120)), 1..16)
    ) {
        let mut c = Cluster::one(&napt());
        c.pass(&tcp(("10.0.0.2", 1022), ("198.51.100.7", 514), "S", 100, 0, b""));
        for (i, (kind, payload)) in msgs.into_iter().enumerate() {
            let sport = 2000 + i as u16;
            let f = match kind {
                0 => udp(("10.0.0.2", sport), ("198.51.100.7", 69), &payload),
                1 => udp(("10.0.0.2", sport), ("198.51.100.7", 53), &payload),
                2 => udp(("10.0.0.2", sport), ("198.51.100.7", 518), &payload),
                _ => tcp(("10.0.0.2", 1022), ("198.51.100.7", 514), "PA", 101, 1, &payload),
            };
            let (v, out) = c.send(&f);
            if matches!(v, mspic_flow::Verdict::Forward { .. }) {
                prop_assert!(checksums_ok(&out));
            }
        }
        for s in &c.shards {
            prop_assert!(s.check_consistency().is_ok());
        }
    }
}
