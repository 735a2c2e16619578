//! Stateful NAT64 through the shard (RFC 6146 on the RFC 7915 translator): each row sends
//! a frame and compares what comes out with a packet built here independently
//! (etherparse), field by field and byte for byte from the IP header on.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};

use common::{nat64_config as config, Cluster, Harness};
use etherparse::{Icmpv6Type, PacketBuilder};
use mspic_flow::{DropReason, Verdict};

const CLIENT: &str = "2001:db8:10::2";
const SERVER4: &str = "198.51.100.100";
const SERVER6: &str = "64:ff9b::c633:6464";

fn a6(s: &str) -> [u8; 16] {
    s.parse::<Ipv6Addr>().unwrap().octets()
}
fn a4(s: &str) -> [u8; 4] {
    s.parse::<Ipv4Addr>().unwrap().octets()
}

const LAN: ([u8; 6], [u8; 6]) = ([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 1, 0]);
const WAN: ([u8; 6], [u8; 6]) = ([2, 0, 0, 0, 0, 0x22], [2, 0, 0, 0, 1, 1]);

/// What a packet carries above IP.
#[derive(Clone, Copy)]
enum Up<'a> {
    /// TCP: ports, seq, ack, SYN/ACK flags, payload.
    Tcp(u16, u16, u32, u32, bool, bool, &'a [u8]),
    Udp(u16, u16, &'a [u8]),
    /// Echo id, seq, reply.
    Echo(u16, u16, bool),
}

fn write_up(
    out: &mut Vec<u8>,
    up: Up<'_>,
    b: etherparse::PacketBuilderStep<etherparse::IpHeaders>,
    v6: bool,
) {
    let payload: &[u8] = b"pingpingpingping";
    match up {
        Up::Tcp(sp, dp, seq, ack, syn, with_ack, data) => {
            let mut t = b.tcp(sp, dp, seq, 64240);
            if syn {
                t = t.syn();
            }
            if with_ack {
                t = t.ack(ack);
            }
            t.write(out, data).unwrap();
        }
        Up::Udp(sp, dp, data) => b.udp(sp, dp).write(out, data).unwrap(),
        Up::Echo(id, seq, reply) => match (v6, reply) {
            (true, false) => b.icmpv6_echo_request(id, seq).write(out, payload).unwrap(),
            (true, true) => b.icmpv6_echo_reply(id, seq).write(out, payload).unwrap(),
            (false, false) => b.icmpv4_echo_request(id, seq).write(out, payload).unwrap(),
            (false, true) => b.icmpv4_echo_reply(id, seq).write(out, payload).unwrap(),
        },
    }
}

fn v6(src: &str, dst: &str, hop: u8, up: Up<'_>) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(LAN.0, LAN.1).ipv6(a6(src), a6(dst), hop);
    let mut out = Vec::new();
    write_up(&mut out, up, b, true);
    out
}

/// An IPv4 packet with identification `ident` (the translator picks it; RFC 7915 §5.1).
fn v4(src: &str, dst: &str, ttl: u8, ident: u16, up: Up<'_>) -> Vec<u8> {
    let mut h =
        etherparse::Ipv4Header::new(0, ttl, etherparse::IpNumber::TCP, a4(src), a4(dst)).unwrap();
    h.identification = ident;
    // RFC 7915 §5.1: DF only above 1260 bytes.
    h.dont_fragment = false;
    let b = PacketBuilder::ethernet2(WAN.0, WAN.1)
        .ip(etherparse::IpHeaders::Ipv4(h, Default::default()));
    let mut out = Vec::new();
    write_up(&mut out, up, b, false);
    out
}

/// The IPv4 identification of a frame.
fn ident(frame: &[u8]) -> u16 {
    u16::from_be_bytes([frame[18], frame[19]])
}

/// The frame's ethertype and IP packet.
fn ip_part(frame: &[u8]) -> (u16, &[u8]) {
    (u16::from_be_bytes([frame[12], frame[13]]), &frame[14..])
}

fn assert_same(got: &[u8], want: &[u8], what: &str) {
    let (ge, gp) = ip_part(got);
    let (we, wp) = ip_part(want);
    assert_eq!(ge, we, "{what}: ethertype");
    assert_eq!(gp, wp, "{what}: IP packet");
    assert!(
        etherparse::SlicedPacket::from_ethernet(got).is_ok(),
        "{what}: parses"
    );
}

fn forwarded(v: Verdict) -> bool {
    matches!(v, Verdict::Forward { .. })
}

/// The source port (or echo identifier) of the IPv4 packet the engine sent.
fn src_port4(frame: &[u8]) -> u16 {
    let p = mspic_wire::parse_frame(frame).unwrap();
    p.key.src_port
}

#[test]
fn tcp_udp_and_echo_both_ways() {
    for prefix in ["", "2001:db8:64::/96"] {
        let mut h = Harness::new(&config(prefix));
        let server6 = if prefix.is_empty() {
            SERVER6.to_string()
        } else {
            "2001:db8:64::c633:6464".to_string()
        };
        let rows: [(Up, Up, Up, Up); 3] = [
            (
                Up::Tcp(40000, 80, 1000, 0, true, false, b""),
                Up::Tcp(40000, 80, 1000, 0, true, false, b""),
                Up::Tcp(80, 0, 5000, 1001, true, true, b""),
                Up::Tcp(80, 40000, 5000, 1001, true, true, b""),
            ),
            (
                Up::Udp(5353, 53, b"query"),
                Up::Udp(5353, 53, b"query"),
                Up::Udp(53, 0, b"answer!"),
                Up::Udp(53, 5353, b"answer!"),
            ),
            (
                Up::Echo(0x77, 1, false),
                Up::Echo(0x77, 1, false),
                Up::Echo(0, 1, true),
                Up::Echo(0x77, 1, true),
            ),
        ];
        for (out6, _, back4, back6) in rows {
            // Outbound: IPv6 in, IPv4 out from the pool, TTL = hop limit - 1.
            let (v, got) = h.send(&v6(CLIENT, &server6, 64, out6));
            assert!(forwarded(v), "{v:?}");
            let port = src_port4(&got);
            let want_out = match out6 {
                Up::Tcp(_, dp, seq, ack, syn, a, d) => Up::Tcp(port, dp, seq, ack, syn, a, d),
                Up::Udp(_, dp, d) => Up::Udp(port, dp, d),
                Up::Echo(_, seq, r) => Up::Echo(port, seq, r),
            };
            let pool = mspic_wire::parse_frame(&got).unwrap().key.src.to_string();
            assert!(pool.starts_with("203.0.113.12") || pool.starts_with("203.0.113.13"));
            let want = v4(&pool, SERVER4, 63, ident(&got), want_out);
            assert_same(&got, &want, "outbound");
            // Inbound: the server's answer to the pool port comes back as IPv6 from the
            // embedded server address to the client's own port.
            let back4 = match back4 {
                Up::Tcp(sp, _, seq, ack, syn, a, d) => Up::Tcp(sp, port, seq, ack, syn, a, d),
                Up::Udp(sp, _, d) => Up::Udp(sp, port, d),
                Up::Echo(_, seq, r) => Up::Echo(port, seq, r),
            };
            let mut reply = v4(SERVER4, &pool, 50, 4321, back4);
            reply[..12].copy_from_slice(&[WAN.1, WAN.0].concat());
            let (v, got) = h.send(&reply);
            assert!(forwarded(v), "{v:?}");
            let mut want = v6(&server6, CLIENT, 49, back6);
            want[..12].copy_from_slice(&[LAN.1, LAN.0].concat());
            assert_same(&got, &want, "inbound");
        }
        let sessions = h.sessions();
        assert_eq!(sessions.len(), 3);
        for s in &sessions {
            let nat = s.nat.as_ref().expect("translated");
            assert_eq!(nat.translation_type.keyword(), "stateful-nat64");
            assert_eq!(s.flags, mspic_flow::FLAG_NAT64);
            assert_eq!(s.flows[0].src.addr.to_string(), CLIENT);
            assert_eq!(s.flows[0].dst.addr.to_string(), server6);
            assert_eq!(s.flows[1].src.addr.to_string(), SERVER4);
            assert_eq!(s.flows[0].frames, 1);
            assert_eq!(s.flows[1].frames, 1);
        }
        let st = h.shard.nat_state();
        assert_eq!(st.stats.by_type[8], 3);
        assert_eq!(st.stats.packets_translated, 6);
    }
}

#[test]
fn icmp_errors_are_translated_with_their_quote() {
    let mut h = Harness::new(&config(""));
    let out = v6(CLIENT, SERVER6, 64, Up::Udp(5353, 53, b"query"));
    let (v, sent) = h.send(&out);
    assert!(forwarded(v));
    let pool = mspic_wire::parse_frame(&sent).unwrap().key.src.to_string();
    // A router on the IPv4 side answers port unreachable, quoting what it received.
    let quoted = &sent[14..14 + 28];
    let b = PacketBuilder::ethernet2(WAN.1, WAN.0)
        .ipv4(a4("203.0.113.2"), a4(&pool), 64)
        .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::Port,
        ));
    let mut err = Vec::new();
    b.write(&mut err, quoted).unwrap();
    let (v, got) = h.send(&err);
    assert!(forwarded(v), "{v:?}");
    // RFC 7915 §4.2: port unreachable is ICMPv6 type 1 code 4, from the router's address
    // in the prefix; §4.3: the quote is the client's own packet (hop limit as the router
    // saw it), 40 + 8 bytes.
    let mut inner = out[14..14 + 48].to_vec();
    inner[7] = 63;
    let b = PacketBuilder::ethernet2(LAN.1, LAN.0)
        .ipv6(a6("64:ff9b::cb00:7102"), a6(CLIENT), 63)
        .icmpv6(Icmpv6Type::DestinationUnreachable(
            etherparse::icmpv6::DestUnreachableCode::Port,
        ));
    let mut want = Vec::new();
    b.write(&mut want, &inner).unwrap();
    assert_same(&got, &want, "ICMP error");
    assert_eq!(h.shard.nat_state().stats.icmp_error_translations, 1);
}

#[test]
fn hop_limit_and_untranslatable_packets() {
    let mut h = Harness::new(&config(""));
    // Hop limit 1: time exceeded in IPv6, nothing translated.
    let (v, got) = h.send(&v6(CLIENT, SERVER6, 1, Up::Udp(1, 2, b"x")));
    assert!(matches!(v, Verdict::Reply { .. }), "{v:?}");
    let p = etherparse::SlicedPacket::from_ethernet(&got).unwrap();
    match p.transport {
        Some(etherparse::TransportSlice::Icmpv6(i)) => {
            assert_eq!(
                i.icmp_type(),
                Icmpv6Type::TimeExceeded(etherparse::icmpv6::TimeExceededCode::HopLimitExceeded)
            );
        }
        other => panic!("{other:?}"),
    }
    // A protocol NAT64 does not translate (RFC 6146 §1.2): dropped and counted.
    let b = PacketBuilder::ethernet2(LAN.0, LAN.1).ipv6(a6(CLIENT), a6(SERVER6), 64);
    let mut sctp = Vec::new();
    b.write(&mut sctp, etherparse::IpNumber(132), &[0u8; 12])
        .unwrap();
    let (v, _) = h.send(&sctp);
    assert_eq!(v, Verdict::Drop(DropReason::Untranslatable));
    assert_eq!(h.shard.nat_state().stats.nat64_untranslatable, 1);
    // An ICMPv6 type with no ICMPv4 counterpart (RFC 7915 §5.2: a node information query,
    // type 139): no session, dropped and counted.
    let b = PacketBuilder::ethernet2(LAN.0, LAN.1)
        .ipv6(a6(CLIENT), a6(SERVER6), 64)
        .icmpv6(Icmpv6Type::Unknown {
            type_u8: 139,
            code_u8: 0,
            bytes5to8: [0; 4],
        });
    let mut niq = Vec::new();
    b.write(&mut niq, &[0u8; 8]).unwrap();
    let (v, _) = h.send(&niq);
    assert_eq!(v, Verdict::Drop(DropReason::Untranslatable));
    assert_eq!(h.shard.nat_state().stats.nat64_untranslatable, 2);
    // Only an echo request starts an ICMPv6 session (RFC 6146 §3.5.3): an echo reply
    // from the client is dropped and counted too.
    let (v, _) = h.send(&v6(CLIENT, SERVER6, 64, Up::Echo(9, 1, true)));
    assert_eq!(v, Verdict::Drop(DropReason::Untranslatable));
    assert_eq!(h.shard.nat_state().stats.nat64_untranslatable, 3);
    // Sessions: the UDP one of the hop-limit packet; none for SCTP nor ICMPv6.
    let protos: Vec<u8> = h.sessions().iter().map(|s| s.flows[0].protocol).collect();
    assert_eq!(protos, [17]);
}

/// With 1 to 4 shards routed by the owner function, every reply lands on the shard that
/// allocated its pool port (the owner function needs no NAT64 case: IPv6 hashes, IPv4 to
/// the pool goes by port).
#[test]
fn replies_find_their_session_on_every_shard_count() {
    for n in 1..=4u32 {
        let mut c = Cluster::new(&config(""), n);
        for i in 0..40u16 {
            let client = format!("2001:db8:10::{:x}", 2 + i % 7);
            let (shard, v, sent) = c.send(&v6(&client, SERVER6, 64, Up::Udp(20000 + i, 53, b"q")));
            assert!(forwarded(v), "{v:?}");
            let port = src_port4(&sent);
            assert_eq!(
                u32::from(port) % n,
                shard as u32,
                "port {port} on shard {shard}"
            );
            let pool = mspic_wire::parse_frame(&sent).unwrap().key.src.to_string();
            let mut reply = v4(SERVER4, &pool, 50, 1, Up::Udp(53, port, b"a"));
            reply[..12].copy_from_slice(&[WAN.1, WAN.0].concat());
            let (back, v, got) = c.send(&reply);
            assert_eq!(back, shard);
            assert!(forwarded(v), "{v:?}");
            let p = mspic_wire::parse_frame(&got).unwrap();
            assert_eq!(p.key.dst.to_string(), client);
            assert_eq!(p.key.dst_port, 20000 + i);
        }
    }
}

/// An IPv6 fragment (RFC 8200 §4.5) of `upper` bytes at byte `offset`.
fn frag6(src: &str, dst: &str, id: u32, offset: u16, more: bool, upper: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&LAN.1);
    f.extend_from_slice(&LAN.0);
    f.extend_from_slice(&0x86ddu16.to_be_bytes());
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&((8 + upper.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[44, 64]);
    f.extend_from_slice(&a6(src));
    f.extend_from_slice(&a6(dst));
    f.extend_from_slice(&[17, 0]);
    f.extend_from_slice(&(offset | u16::from(more)).to_be_bytes());
    f.extend_from_slice(&id.to_be_bytes());
    f.extend_from_slice(upper);
    f
}

/// An IPv4 fragment as RFC 7915 §5.1.1 makes it: identification from the low 16 bits of
/// the IPv6 one, MF copied, DF clear.
fn frag4(src: &str, dst: &str, id: u16, offset: u16, more: bool, data: &[u8]) -> Vec<u8> {
    let mut h = etherparse::Ipv4Header::new(
        data.len() as u16,
        63,
        etherparse::IpNumber::UDP,
        a4(src),
        a4(dst),
    )
    .unwrap();
    h.identification = id;
    h.dont_fragment = false;
    h.more_fragments = more;
    h.fragment_offset = etherparse::IpFragOffset::try_new(offset / 8).unwrap();
    h.header_checksum = h.calc_header_checksum();
    let mut f = Vec::new();
    f.extend_from_slice(&LAN.1);
    f.extend_from_slice(&LAN.0);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    f.extend_from_slice(&h.to_bytes());
    f.extend_from_slice(data);
    f
}

#[test]
fn fragments_are_translated_one_by_one() {
    let mut h = Harness::new(&config(""));
    let data: Vec<u8> = (0..40u8).collect();
    // The whole datagram with its IPv6 checksum, cut after 24 bytes (8-byte units).
    let whole = v6(CLIENT, SERVER6, 64, Up::Udp(5000, 53, &data));
    let udp6 = &whole[14 + 40..];
    let (v, first) = h.send(&frag6(CLIENT, SERVER6, 0x0001_beef, 0, true, &udp6[..24]));
    assert!(forwarded(v), "{v:?}");
    let (v, second) = h.send(&frag6(CLIENT, SERVER6, 0x0001_beef, 24, false, &udp6[24..]));
    assert!(forwarded(v), "{v:?}");
    // The same datagram in IPv4 from the pool port the first fragment took, checksum
    // computed over the IPv4 pseudo header.
    let port = src_port4(&first);
    let pool = mspic_wire::parse_frame(&first).unwrap().key.src.to_string();
    let whole4 = v4(&pool, SERVER4, 63, 0, Up::Udp(port, 53, &data));
    let udp4 = &whole4[14 + 20..];
    assert_same(
        &first,
        &frag4(&pool, SERVER4, 0xbeef, 0, true, &udp4[..24]),
        "first fragment",
    );
    assert_same(
        &second,
        &frag4(&pool, SERVER4, 0xbeef, 24, false, &udp4[24..]),
        "second fragment",
    );
}

#[test]
fn an_icmpv6_error_from_the_client_reaches_the_server_in_ipv4() {
    let mut h = Harness::new(&config(""));
    let (v, sent) = h.send(&v6(CLIENT, SERVER6, 64, Up::Udp(5353, 53, b"query")));
    assert!(forwarded(v));
    let port = src_port4(&sent);
    let pool = mspic_wire::parse_frame(&sent).unwrap().key.src.to_string();
    let mut reply = v4(SERVER4, &pool, 50, 777, Up::Udp(53, port, b"answer!"));
    reply[..12].copy_from_slice(&[WAN.1, WAN.0].concat());
    let (v, delivered) = h.send(&reply);
    assert!(forwarded(v));
    // The client no longer listens: port unreachable (RFC 4443 §3.1), quoting the reply.
    let b = PacketBuilder::ethernet2(LAN.0, LAN.1)
        .ipv6(a6(CLIENT), a6(SERVER6), 64)
        .icmpv6(Icmpv6Type::DestinationUnreachable(
            etherparse::icmpv6::DestUnreachableCode::Port,
        ));
    let mut err = Vec::new();
    b.write(&mut err, &delivered[14..]).unwrap();
    let (v, got) = h.send(&err);
    assert!(forwarded(v), "{v:?}");
    // RFC 7915 §5.2: ICMP type 3 code 3, from the pool address (RFC 6146 §3.5), to the
    // server; §5.3: the quote is the server's own datagram again (its TTL as the client
    // saw it, the identification the translator gave it).
    let inner_ident = u16::from_be_bytes([got[14 + 28 + 4], got[14 + 28 + 5]]);
    let mut inner = v4(
        SERVER4,
        &pool,
        49,
        inner_ident,
        Up::Udp(53, port, b"answer!"),
    );
    inner.drain(..14);
    let b = PacketBuilder::ethernet2(WAN.1, WAN.0)
        .ipv4(a4(&pool), a4(SERVER4), 63)
        .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::Port,
        ));
    let mut want = Vec::new();
    b.write(&mut want, &inner).unwrap();
    // The outer identification is the translator's too.
    let outer_ident = ident(&got);
    let mut hdr = etherparse::Ipv4Header::from_slice(&want[14..]).unwrap().0;
    hdr.identification = outer_ident;
    hdr.dont_fragment = false;
    hdr.header_checksum = hdr.calc_header_checksum();
    want[14..34].copy_from_slice(&hdr.to_bytes());
    assert_same(&got, &want, "ICMPv6 error");
}

/// A stateful-nat64 term translates IPv6 only: IPv4 traffic its conditions match goes on
/// to the next term (here napt-44 of the IPv4 LAN through the same service set).
#[test]
fn ipv4_traffic_skips_a_nat64_term() {
    let text = config("")
        .replace(
            "ge-0/0/0 { unit 0 { family inet6 {",
            "ge-0/0/0 { unit 0 { family inet { service { input { service-set ss; } output { service-set ss; } } address 10.0.0.1/24; } family inet6 {",
        )
        .replace(
            "from { source-address { 2001:db8:10::/64; } destination-address { 64:ff9b::/96; } }",
            "",
        )
        .replace(
            "translation-type stateful-nat64; } }\n            }",
            "translation-type stateful-nat64; } }\n            }\n            term t44 { then { translated { source-pool p4; translation-type napt-44; } } }",
        );
    assert!(
        text.contains("term t44") && !text.contains("destination-address"),
        "{text}"
    );
    let mut h = Harness::new(&text);
    let (v, out) = h.send(&common::udp("10.0.0.2", 4000, SERVER4, 53, b"q"));
    assert!(forwarded(v), "{v:?}");
    assert_eq!(ip_part(&out).0, 0x0800);
    let (v, out) = h.send(&v6(CLIENT, SERVER6, 64, Up::Udp(4000, 53, b"q")));
    assert!(forwarded(v), "{v:?}");
    assert_eq!(ip_part(&out).0, 0x0800);
    let kinds: Vec<_> = h
        .sessions()
        .iter()
        .map(|s| s.nat.as_ref().unwrap().translation_type.show_name())
        .collect();
    assert_eq!(kinds, ["NAPT-44", "STATEFUL NAT64"]);
}

/// RFC 7915 §4.1: an IPv4 packet with DF set that would exceed the IPv6 MTU (1500) once
/// translated is answered with fragmentation needed, MTU 1480 (RFC 1191 §4); one that fits
/// goes through.
#[test]
fn too_big_with_df_is_answered_fragmentation_needed() {
    let mut h = Harness::new(&config(""));
    let (v, sent) = h.send(&v6(CLIENT, SERVER6, 64, Up::Udp(5353, 53, b"query")));
    assert!(forwarded(v));
    let port = src_port4(&sent);
    let pool = mspic_wire::parse_frame(&sent).unwrap().key.src.to_string();
    let reply = |total: usize| {
        let mut f = v4(
            SERVER4,
            &pool,
            50,
            9,
            Up::Udp(53, port, &vec![7u8; total - 28]),
        );
        f[..12].copy_from_slice(&[WAN.1, WAN.0].concat());
        let mut hdr = etherparse::Ipv4Header::from_slice(&f[14..]).unwrap().0;
        hdr.dont_fragment = true;
        hdr.header_checksum = hdr.calc_header_checksum();
        f[14..34].copy_from_slice(&hdr.to_bytes());
        f
    };
    let (v, got) = h.send(&reply(1480));
    assert!(forwarded(v), "{v:?}");
    assert_eq!(
        ip_part(&got).1.len(),
        1500,
        "1480 bytes of IPv4 are 1500 of IPv6"
    );
    let big = reply(1481);
    let (v, got) = h.send(&big);
    assert!(matches!(v, Verdict::Reply { .. }), "{v:?}");
    let b = PacketBuilder::ethernet2(WAN.0, WAN.1)
        .ipv4(a4("203.0.113.1"), a4(SERVER4), 64)
        .icmpv4(etherparse::Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded { next_hop_mtu: 1480 },
        ));
    let mut want = Vec::new();
    // The quote: as much of the packet as an ICMPv4 error holds (576 bytes in all).
    b.write(&mut want, &big[14..14 + 576 - 28]).unwrap();
    let (ge, gp) = ip_part(&got);
    let (we, wp) = ip_part(&want);
    assert_eq!(ge, we);
    // The engine's error header (TOS, identification) is its own: compare from the ICMP
    // header on, and the addresses.
    assert_eq!(gp[12..20], wp[12..20], "addresses");
    assert_eq!(gp[20..], wp[20..], "ICMP message");
    assert_eq!(h.shard.nat_state().stats.nat64_untranslatable, 1);
}

/// An IPv6 fragment of `upper` bytes at byte `offset`, from `src` to `dst` with hop limit
/// `hop`, of a packet whose fragmentable part starts with UDP.
fn frag6_from(
    (src, dst, hop): (&str, &str, u8),
    id: u32,
    offset: u16,
    more: bool,
    upper: &[u8],
) -> Vec<u8> {
    let mut f = frag6(src, dst, id, offset, more, upper);
    f[14 + 7] = hop;
    f
}

/// An IPv4 fragment from the server: `data` at byte `offset` of a UDP datagram.
fn server_frag4(
    (src, dst, ttl): (&str, &str, u8),
    id: u16,
    offset: u16,
    more: bool,
    data: &[u8],
) -> Vec<u8> {
    let mut f = frag4(src, dst, id, offset, more, data);
    f[..12].copy_from_slice(&[WAN.1, WAN.0].concat());
    let mut h = etherparse::Ipv4Header::from_slice(&f[14..]).unwrap().0;
    h.time_to_live = ttl;
    h.header_checksum = h.calc_header_checksum();
    f[14..34].copy_from_slice(&h.to_bytes());
    f
}

/// A session from the client's port 5353 to the server's port 53; its pool address and
/// port.
fn udp_session(h: &mut Harness) -> (String, u16) {
    let (v, sent) = h.send(&v6(CLIENT, SERVER6, 64, Up::Udp(5353, 53, b"query")));
    assert!(forwarded(v), "{v:?}");
    let pool = mspic_wire::parse_frame(&sent).unwrap().key.src.to_string();
    (pool, src_port4(&sent))
}

/// Sends `frame`; the frame that came back and the generated ones after it.
fn send_all(h: &mut Harness, frame: &[u8]) -> Vec<Vec<u8>> {
    let (v, first) = h.send(frame);
    assert!(forwarded(v), "{v:?}");
    let mut all = vec![first];
    all.extend(h.shard.drain_generated().map(|g| g.bytes().to_vec()));
    all
}

/// RFC 7915 §4 and §4.1: an IPv4 packet without DF that is larger than the IPv6 link's
/// 1500 bytes once translated goes as IPv6 fragments of at most 1500 bytes, each with a
/// fragment header whose identification is the IPv4 one (high 16 bits zero); the
/// fragmentable part is the translated UDP datagram (its checksum over the IPv6 pseudo
/// header). One byte less and it goes whole, without a fragment header.
#[test]
fn a_packet_too_big_for_ipv6_without_df_is_sent_as_fragments() {
    let mut h = Harness::new(&config(""));
    let (pool, port) = udp_session(&mut h);
    let data: Vec<u8> = (0..1453u32).map(|i| (i * 7) as u8).collect();
    for (len, pieces) in [(data.len() - 1, 1), (data.len(), 2)] {
        let d = &data[..len];
        let mut reply = v4(SERVER4, &pool, 50, 0x4242, Up::Udp(53, port, d));
        reply[..12].copy_from_slice(&[WAN.1, WAN.0].concat());
        assert_eq!(reply.len() - 14, 20 + 8 + len);
        let got = send_all(&mut h, &reply);
        assert_eq!(got.len(), pieces, "{len} bytes of data");
        let whole = v6(SERVER6, CLIENT, 49, Up::Udp(53, 5353, d));
        if pieces == 1 {
            assert_same(&got[0], &whole, "whole");
            continue;
        }
        let udp6 = &whole[14 + 40..];
        let at = (SERVER6, CLIENT, 49);
        assert_same(
            &got[0],
            &frag6_from(at, 0x4242, 0, true, &udp6[..1448]),
            "first fragment",
        );
        assert_eq!(ip_part(&got[0]).1.len(), 1496);
        assert_same(
            &got[1],
            &frag6_from(at, 0x4242, 1448, false, &udp6[1448..]),
            "last fragment",
        );
        assert_eq!(got[1][..14], got[0][..14], "the same link header");
    }
    let stats = h.shard.nat_state().stats.clone();
    assert_eq!((stats.nat64_fragmented, stats.nat64_fragment_drops), (1, 0));
}

/// RFC 7915 §4.1: IPv4 fragments become IPv6 fragments (offset and M copied, the
/// identification from IPv4); one of 1500 bytes, 1528 once translated, is cut again at
/// 8-byte boundaries and only the last piece of the last fragment has M clear. The later
/// fragments follow the session of the first.
#[test]
fn ipv4_fragments_too_big_for_ipv6_are_cut_again() {
    let mut h = Harness::new(&config(""));
    let (pool, port) = udp_session(&mut h);
    let data: Vec<u8> = (0..3492u32).map(|i| (i * 13) as u8).collect();
    let whole4 = v4(SERVER4, &pool, 50, 0, Up::Udp(53, port, &data));
    let udp4 = &whole4[14 + 20..];
    assert_eq!(udp4.len(), 3500);
    let whole6 = v6(SERVER6, CLIENT, 49, Up::Udp(53, 5353, &data));
    let udp6 = &whole6[14 + 40..];
    let from = (SERVER4, pool.as_str(), 50);
    let at = (SERVER6, CLIENT, 49);
    // (IPv4 fragment: start, end, MF), the IPv6 fragments it becomes.
    type Piece = (u16, u16, bool);
    let rows: [(u16, u16, bool, Vec<Piece>); 3] = [
        (0, 1480, true, vec![(0, 1448, true), (1448, 1480, true)]),
        (
            1480,
            2960,
            true,
            vec![(1480, 2928, true), (2928, 2960, true)],
        ),
        (2960, 3500, false, vec![(2960, 3500, false)]),
    ];
    for (start, end, more, want) in rows {
        let f = server_frag4(
            from,
            0x0bad,
            start,
            more,
            &udp4[usize::from(start)..usize::from(end)],
        );
        let got = send_all(&mut h, &f);
        assert_eq!(got.len(), want.len(), "IPv4 fragment at {start}");
        for (g, (s, e, m)) in got.iter().zip(want) {
            let w = frag6_from(at, 0x0bad, s, m, &udp6[usize::from(s)..usize::from(e)]);
            assert_same(g, &w, &format!("IPv6 fragment at {s}"));
        }
    }
    let stats = h.shard.nat_state().stats.clone();
    assert_eq!(stats.nat64_fragmented, 2);
    assert_eq!(stats.nat64_untranslatable, 0);
}

/// Junos "Configuring Stateful NAT64": with `nat-options stateful-nat64
/// clear-dont-fragment-bit` on the service set, an IPv4 packet with DF that is too big
/// for the IPv6 link is fragmented as one without (RFC 7915 §4), not answered
/// fragmentation needed.
#[test]
fn clear_dont_fragment_bit_fragments_instead_of_answering() {
    let text = config("").replace(
        "nat-rules r64;",
        "nat-rules r64; nat-options { stateful-nat64 { clear-dont-fragment-bit; } }",
    );
    let mut h = Harness::new(&text);
    assert!(h.shard.policy().service_sets[0].nat64_clear_df);
    let (pool, port) = udp_session(&mut h);
    let data = vec![5u8; 1480];
    let mut reply = v4(SERVER4, &pool, 50, 0x77, Up::Udp(53, port, &data));
    reply[..12].copy_from_slice(&[WAN.1, WAN.0].concat());
    let mut hdr = etherparse::Ipv4Header::from_slice(&reply[14..]).unwrap().0;
    hdr.dont_fragment = true;
    hdr.header_checksum = hdr.calc_header_checksum();
    reply[14..34].copy_from_slice(&hdr.to_bytes());
    let got = send_all(&mut h, &reply);
    let whole = v6(SERVER6, CLIENT, 49, Up::Udp(53, 5353, &data));
    let udp6 = &whole[14 + 40..];
    let at = (SERVER6, CLIENT, 49);
    assert_eq!(got.len(), 2);
    assert_same(
        &got[0],
        &frag6_from(at, 0x77, 0, true, &udp6[..1448]),
        "first",
    );
    assert_same(
        &got[1],
        &frag6_from(at, 0x77, 1448, false, &udp6[1448..]),
        "last",
    );
    assert_eq!(h.shard.nat_state().stats.nat64_untranslatable, 0);
}
