//! DS-Lite through the shard (RFC 6333 AFTR): each row sends a frame and compares what
//! comes out with a packet built here independently (etherparse for the inner IPv4 and
//! its transport, the IPv6 header written from RFC 8200 §3), byte for byte from the IP
//! header on.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};

use common::{Cluster, Harness};
use etherparse::PacketBuilder;
use mspic_flow::{DropReason, Verdict};

const B4: &str = "2001:db8:10::2";
const B4_OTHER: &str = "2001:db8:10::3";
const AFTR: &str = "2001:db8:aaaa::1";
/// The B4's own IPv4 address (RFC 6333 §5.7: 192.0.0.2).
const HOST: &str = "192.0.0.2";
const SERVER: &str = "198.51.100.100";

const LAN: ([u8; 6], [u8; 6]) = ([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 1, 0]);
const WAN: ([u8; 6], [u8; 6]) = ([2, 0, 0, 0, 0, 0x22], [2, 0, 0, 0, 1, 1]);

/// B4s on ge-0/0/0's IPv6 subnet, the IPv4 Internet behind ge-0/0/1, one concentrator
/// with `mtu`, NAPT-44 of the B4s' 192.0.0.0/29 into a pool of four addresses.
fn config(mtu: u16) -> String {
    format!(
        r#"
interfaces {{
    ge-0/0/0 {{ unit 0 {{ family inet6 {{ service {{ input {{ service-set ss; }} output {{ service-set ss; }} }} address 2001:db8:10::1/64; }} }} }}
    ge-0/0/1 {{ unit 0 {{ family inet {{ address 203.0.113.1/24; }} }} }}
    ms-1/1/0 {{ unit 0 {{ family inet; family inet6; }} }}
}}
routing-options {{ static {{ route 198.51.100.0/24 next-hop 203.0.113.2; }} }}
services {{
    softwire {{
        softwire-concentrator {{ ds-lite aftr {{ softwire-address {AFTR}; mtu-v6 {mtu}; }} }}
        rule sw {{ match-direction input; term t {{ then {{ ds-lite aftr; }} }} }}
    }}
    nat {{
        pool p4 {{ address 203.0.113.128/30; port {{ automatic; }} }}
        rule n {{
            match-direction input;
            term t {{
                from {{ source-address {{ 192.0.0.0/29; }} }}
                then {{ translated {{ source-pool p4; translation-type {{ napt-44; }} }} }}
            }}
        }}
    }}
    service-set ss {{
        softwire-rules sw;
        nat-rules n;
        interface-service {{ service-interface ms-1/1/0; }}
    }}
}}
"#
    )
}

fn a4(s: &str) -> [u8; 4] {
    s.parse::<Ipv4Addr>().unwrap().octets()
}

/// What the inner packet carries.
#[derive(Clone, Copy, Debug)]
enum Up<'a> {
    /// Ports, seq, SYN.
    Tcp(u16, u16, u32, bool),
    Udp(u16, u16, &'a [u8]),
    /// Echo id, request.
    Echo(u16, bool),
}

/// An IPv4 packet (no Ethernet) with `ttl`, `tos` and DF as given.
fn ipv4(src: &str, dst: &str, ttl: u8, tos: u8, df: bool, up: Up<'_>) -> Vec<u8> {
    let mut h =
        etherparse::Ipv4Header::new(0, ttl, etherparse::IpNumber::UDP, a4(src), a4(dst)).unwrap();
    h.dont_fragment = df;
    h.dscp = etherparse::IpDscp::try_new(tos >> 2).unwrap();
    h.identification = 7;
    let b = PacketBuilder::ip(etherparse::IpHeaders::Ipv4(h, Default::default()));
    let mut out = Vec::new();
    match up {
        Up::Tcp(sp, dp, seq, syn) => {
            let mut t = b.tcp(sp, dp, seq, 64240);
            if syn {
                t = t.syn();
            } else {
                t = t.ack(1);
            }
            t.write(&mut out, b"").unwrap();
        }
        Up::Udp(sp, dp, d) => b.udp(sp, dp).write(&mut out, d).unwrap(),
        Up::Echo(id, true) => b
            .icmpv4_echo_request(id, 1)
            .write(&mut out, b"ping")
            .unwrap(),
        Up::Echo(id, false) => b.icmpv4_echo_reply(id, 1).write(&mut out, b"ping").unwrap(),
    }
    out
}

/// `inner` in IPv6 from `src` to `dst` (RFC 8200 §3 header, next header 4), in Ethernet.
fn tunnelled(
    macs: ([u8; 6], [u8; 6]),
    src: &str,
    dst: &str,
    hop: u8,
    tc: u8,
    inner: &[u8],
) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&macs.1);
    f.extend_from_slice(&macs.0);
    f.extend_from_slice(&[0x86, 0xdd]);
    f.push(0x60 | (tc >> 4));
    f.push(tc << 4);
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&(inner.len() as u16).to_be_bytes());
    f.push(4);
    f.push(hop);
    f.extend_from_slice(&src.parse::<Ipv6Addr>().unwrap().octets());
    f.extend_from_slice(&dst.parse::<Ipv6Addr>().unwrap().octets());
    f.extend_from_slice(inner);
    f
}

/// `inner` in Ethernet as IPv4.
fn plain(macs: ([u8; 6], [u8; 6]), inner: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&macs.1);
    f.extend_from_slice(&macs.0);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(inner);
    f
}

/// The IP part of a frame, with its ethertype.
fn ip_part(frame: &[u8]) -> (u16, &[u8]) {
    (u16::from_be_bytes([frame[12], frame[13]]), &frame[14..])
}

fn assert_same(got: &[u8], want: &[u8], what: &str) {
    let (ge, gp) = ip_part(got);
    let (we, wp) = ip_part(want);
    assert_eq!(ge, we, "{what}: ethertype");
    assert_eq!(gp, wp, "{what}: IP packet");
}

fn forwarded(v: Verdict) -> bool {
    matches!(v, Verdict::Forward { .. })
}

/// The translated source (address, port or echo id) of an IPv4 frame the engine sent.
fn source(frame: &[u8]) -> (String, u16) {
    let p = mspic_wire::parse_frame(frame).unwrap();
    (p.key.src.to_string(), p.key.src_port)
}

#[test]
fn tcp_udp_and_echo_both_ways() {
    let mut h = Harness::new(&config(1500));
    let rows: [(Up, Up); 3] = [
        (Up::Tcp(40000, 80, 1000, true), Up::Tcp(80, 0, 5000, true)),
        (Up::Udp(5353, 53, b"query"), Up::Udp(53, 0, b"answer!")),
        (Up::Echo(0x77, true), Up::Echo(0, false)),
    ];
    for (out, back) in rows {
        // Out: the B4's packet comes out of the tunnel translated, its TTL decremented
        // once (the AFTR forwards it, RFC 2473 §3.2).
        let inner = ipv4(HOST, SERVER, 64, 0, true, out);
        let (v, got) = h.send(&tunnelled(LAN, B4, AFTR, 60, 0, &inner));
        assert!(forwarded(v), "{out:?}: {v:?}");
        let (pool, port) = source(&got);
        assert!(pool.starts_with("203.0.113.12") || pool.starts_with("203.0.113.13"));
        let want_out = match out {
            Up::Tcp(_, dp, seq, syn) => Up::Tcp(port, dp, seq, syn),
            Up::Udp(_, dp, d) => Up::Udp(port, dp, d),
            Up::Echo(_, r) => Up::Echo(port, r),
        };
        let want = plain(LAN, &ipv4(&pool, SERVER, 63, 0, true, want_out));
        assert_same(&got, &want, "outbound");
        // Back: the server's answer to the pool port goes to the B4 in IPv6 from the
        // softwire address, hop limit 64, the inner packet NAPT-reversed, TTL - 1.
        let (back_srv, back_host) = match back {
            Up::Tcp(sp, _, seq, syn) => (Up::Tcp(sp, port, seq, syn), Up::Tcp(sp, 40000, seq, syn)),
            Up::Udp(sp, _, d) => (Up::Udp(sp, port, d), Up::Udp(sp, 5353, d)),
            Up::Echo(_, r) => (Up::Echo(port, r), Up::Echo(0x77, r)),
        };
        let reply = plain(WAN, &ipv4(SERVER, &pool, 50, 0x28, true, back_srv));
        let (v, got) = h.send(&reply);
        assert!(forwarded(v), "{back:?}: {v:?}");
        let want = tunnelled(
            LAN,
            AFTR,
            B4,
            64,
            0x28,
            &ipv4(SERVER, HOST, 49, 0x28, true, back_host),
        );
        assert_same(&got, &want, "inbound");
    }
    let sessions = h.sessions();
    assert_eq!(sessions.len(), 3);
    let st = h.stats().softwire;
    assert_eq!(
        (st.decapsulated, st.encapsulated, st.flows_created),
        (3, 3, 3)
    );
    // `clear services softwire statistics`: another interface's leaves them, this one's
    // zeroes them; the firewall counters stay.
    let accepts = h.stats().rule_accepts;
    h.shard.clear_softwire_statistics(Some("ms-9/9/0"));
    assert_eq!(h.stats().softwire.decapsulated, 3);
    h.shard.clear_softwire_statistics(Some("ms-1/1/0"));
    assert_eq!(h.stats().softwire, Default::default());
    assert_eq!(h.stats().rule_accepts, accepts);
}

/// RFC 6333 §7: two B4s behind which the same private address and port open the same
/// flow get two sessions and two mappings, and each reply goes back to its own B4.
#[test]
fn two_b4s_with_one_private_address() {
    let mut h = Harness::new(&config(1500));
    let inner = ipv4(HOST, SERVER, 64, 0, true, Up::Udp(5353, 53, b"q"));
    let (v1, got1) = h.send(&tunnelled(LAN, B4, AFTR, 60, 0, &inner));
    let (v2, got2) = h.send(&tunnelled(LAN, B4_OTHER, AFTR, 60, 0, &inner));
    assert!(forwarded(v1) && forwarded(v2));
    let (s1, s2) = (source(&got1), source(&got2));
    assert_ne!(s1, s2, "two mappings");
    assert_eq!(h.sessions().len(), 2);
    for ((pool, port), b4) in [(s1.clone(), B4), (s2, B4_OTHER)] {
        let reply = plain(
            WAN,
            &ipv4(SERVER, &pool, 50, 0, false, Up::Udp(53, port, b"a")),
        );
        let (v, got) = h.send(&reply);
        assert!(forwarded(v), "{v:?}");
        let want = tunnelled(
            LAN,
            AFTR,
            b4,
            64,
            0,
            &ipv4(SERVER, HOST, 49, 0, false, Up::Udp(53, 5353, b"a")),
        );
        assert_same(&got, &want, b4);
    }
    // A later packet of the first B4 stays on its own session.
    let (v, again) = h.send(&tunnelled(LAN, B4, AFTR, 60, 0, &inner));
    assert!(forwarded(v));
    assert_eq!(source(&again), s1);
    assert_eq!(h.sessions().len(), 2);
}

/// An IPv6 fragment (RFC 8200 §4.5: fixed header, next header 44, then the fragment
/// header with next header 4) of a tunnel packet: `piece` at byte `offset` of the inner
/// IPv4 packet.
fn tunnel_fragment(
    macs: ([u8; 6], [u8; 6]),
    (src, dst, hop): (&str, &str, u8),
    (id, offset, more): (u32, u16, bool),
    piece: &[u8],
) -> Vec<u8> {
    let mut fh = vec![4, 0];
    fh.extend_from_slice(&(offset | u16::from(more)).to_be_bytes());
    fh.extend_from_slice(&id.to_be_bytes());
    fh.extend_from_slice(piece);
    let mut f = tunnelled(macs, src, dst, hop, 0, &fh);
    f[14 + 6] = 44;
    f
}

/// A reply that would not fit `mtu-v6` once encapsulated: with DF, fragmentation needed
/// to the server with the MTU less the IPv6 header (RFC 2473 §7.1, RFC 1191 §4); without,
/// the tunnel packet goes to the B4 as IPv6 fragments of at most `mtu-v6` bytes (RFC 6333
/// §5.3, RFC 2473 §7.2): 1232 bytes of the inner packet in the first (1280 less the
/// fixed and fragment headers, a multiple of 8), the rest in the second, one
/// identification.
#[test]
fn too_big_for_the_softwire() {
    let mut h = Harness::new(&config(1280));
    let inner = ipv4(HOST, SERVER, 64, 0, true, Up::Udp(5353, 53, b"q"));
    let (_, got) = h.send(&tunnelled(LAN, B4, AFTR, 60, 0, &inner));
    let (pool, port) = source(&got);
    let big = [0x55u8; 1300];
    let reply = ipv4(SERVER, &pool, 50, 0, true, Up::Udp(53, port, &big));
    let (v, got) = h.send(&plain(WAN, &reply));
    assert!(matches!(v, Verdict::Reply { .. }), "{v:?}");
    let icmp = etherparse::SlicedPacket::from_ethernet(&got).unwrap();
    let Some(etherparse::NetSlice::Ipv4(ip)) = icmp.net else {
        panic!("not IPv4")
    };
    assert_eq!(ip.header().destination(), a4(SERVER));
    let Some(etherparse::TransportSlice::Icmpv4(i)) = icmp.transport else {
        panic!("not ICMP")
    };
    assert_eq!(
        i.icmp_type(),
        etherparse::Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded { next_hop_mtu: 1240 }
        )
    );
    assert!(h.shard.drain_generated().next().is_none());
    let no_df = ipv4(SERVER, &pool, 50, 0, false, Up::Udp(53, port, &big));
    let (v, first) = h.send(&plain(WAN, &no_df));
    assert!(forwarded(v), "{v:?}");
    let rest: Vec<Vec<u8>> = h
        .shard
        .drain_generated()
        .map(|g| g.bytes().to_vec())
        .collect();
    assert_eq!(rest.len(), 1);
    let id = u32::from_be_bytes(first[14 + 44..14 + 48].try_into().unwrap());
    let to_host = ipv4(SERVER, HOST, 49, 0, false, Up::Udp(53, 5353, &big));
    assert_eq!(to_host.len(), 1328);
    let at = (AFTR, B4, 64);
    let want = tunnel_fragment(LAN, at, (id, 0, true), &to_host[..1232]);
    assert_same(&first, &want, "first fragment");
    assert_eq!(first.len() - 14, 1280);
    let want = tunnel_fragment(LAN, at, (id, 1232, false), &to_host[1232..]);
    assert_same(&rest[0], &want, "second fragment");
    let st = h.stats().softwire;
    assert_eq!(
        (st.too_big, st.mtu_drops, st.encapsulated, st.fragmented),
        (1, 0, 1, 1)
    );
}

/// RFC 6333 §5.3: the AFTR reassembles a B4's fragmented tunnel packet, in any order,
/// and the whole inner packet goes on translated; the fragments before the last are
/// held (not forwarded, not an error).
#[test]
fn fragmented_tunnel_packets_are_reassembled() {
    let mut h = Harness::new(&config(1500));
    let data: Vec<u8> = (0..1000u32).map(|i| (i * 3) as u8).collect();
    let inner = ipv4(HOST, SERVER, 64, 0, false, Up::Udp(5353, 53, &data));
    let from = (B4, AFTR, 60);
    let pieces = [(0u16, 512usize, true), (512, 1028, false)];
    for (round, order) in [[0, 1], [1, 0]].into_iter().enumerate() {
        let id = 0x100 + round as u32;
        let mut verdicts = Vec::new();
        for i in order {
            let (off, end, more) = pieces[i];
            let f = tunnel_fragment(LAN, from, (id, off, more), &inner[usize::from(off)..end]);
            verdicts.push(h.send(&f));
        }
        assert_eq!(verdicts[0].0, Verdict::Drop(DropReason::FragmentHeld));
        let (v, got) = &verdicts[1];
        assert!(forwarded(*v), "{v:?}");
        let (pool, port) = source(got);
        let want = plain(
            LAN,
            &ipv4(&pool, SERVER, 63, 0, false, Up::Udp(port, 53, &data)),
        );
        assert_same(got, &want, "reassembled and translated");
    }
    assert_eq!(h.sessions().len(), 1);
    let st = h.stats().softwire;
    assert_eq!(
        (st.reassembled, st.decapsulated, st.reassembly_drops),
        (2, 2, 0)
    );
}

/// Fragments the reassembly refuses are dropped and counted: overlapping ones abandon
/// their packet (RFC 5722), and a packet not whole within the time limit is abandoned
/// when the next fragment comes.
#[test]
fn tunnel_fragments_refused_are_counted() {
    let mut h = Harness::new(&config(1500));
    let from = (B4, AFTR, 60);
    let f = |id, off, more, n: usize| tunnel_fragment(LAN, from, (id, off, more), &vec![0x45; n]);
    assert_eq!(
        h.send(&f(1, 0, true, 64)).0,
        Verdict::Drop(DropReason::FragmentHeld)
    );
    assert_eq!(
        h.send(&f(1, 32, true, 64)).0,
        Verdict::Drop(DropReason::Softwire)
    );
    assert_eq!(h.stats().softwire.reassembly_drops, 1);
    assert_eq!(
        h.send(&f(2, 0, true, 64)).0,
        Verdict::Drop(DropReason::FragmentHeld)
    );
    h.advance_ms(mspic_wire::reassembly::TIMEOUT_NS / 1_000_000);
    assert_eq!(
        h.send(&f(3, 0, true, 64)).0,
        Verdict::Drop(DropReason::FragmentHeld)
    );
    assert_eq!(h.stats().softwire.reassembly_drops, 2);
    // Not a multiple of 8 with more to come.
    assert_eq!(
        h.send(&f(4, 0, true, 60)).0,
        Verdict::Drop(DropReason::Softwire)
    );
    let st = h.stats().softwire;
    assert_eq!(
        (st.reassembly_drops, st.reassembled, st.decapsulated),
        (3, 0, 0)
    );
    assert!(h.sessions().is_empty());
}

/// What is not a DS-Lite packet of the set goes on as before; what cannot be
/// decapsulated is dropped and counted.
#[test]
fn other_tunnel_packets() {
    let mut h = Harness::new(&config(1500));
    // IPv6 inside: not DS-Lite (next header 41 would say so; 4 with IPv6 inside is wrong).
    let mut v6_inside = ipv4(HOST, SERVER, 64, 0, true, Up::Udp(1, 2, b"x"));
    v6_inside[0] = 0x65;
    let (v, _) = h.send(&tunnelled(LAN, B4, AFTR, 60, 0, &v6_inside));
    assert_eq!(v, Verdict::Drop(DropReason::Softwire));
    assert_eq!(h.stats().softwire.decap_errors, 1);
    assert!(h.sessions().is_empty());
    // To another address: an ordinary IPv6 packet of protocol 4, routed as it is (there
    // is no route to it here).
    let inner = ipv4(HOST, SERVER, 64, 0, true, Up::Udp(1, 2, b"x"));
    let (v, _) = h.send(&tunnelled(LAN, B4, "2001:db8:aaaa::9", 60, 0, &inner));
    assert_eq!(v, Verdict::Drop(DropReason::NoRoute));
    assert_eq!(h.stats().softwire.decapsulated, 0);
}

/// With N shards the owner of the tunnelled packet allocates the pool port, so the
/// server's reply (owned by its pool port) lands on the same shard.
#[test]
fn both_directions_on_one_shard() {
    for n in 1..=5 {
        let mut c = Cluster::new(&config(1500), n);
        for i in 0..20u16 {
            let b4 = format!("2001:db8:10::{:x}", 0x100 + i);
            let inner = ipv4(HOST, SERVER, 64, 0, true, Up::Udp(5000 + i, 53, b"q"));
            let (o, v, got) = c.send(&tunnelled(LAN, &b4, AFTR, 60, 0, &inner));
            assert!(forwarded(v), "{v:?}");
            let (pool, port) = source(&got);
            let reply = plain(
                WAN,
                &ipv4(SERVER, &pool, 50, 0, false, Up::Udp(53, port, b"a")),
            );
            let (o2, v, got) = c.send(&reply);
            assert_eq!(o, o2, "{n} shards, B4 {b4}");
            assert!(forwarded(v), "{v:?}");
            let want = tunnelled(
                LAN,
                AFTR,
                &b4,
                64,
                0,
                &ipv4(SERVER, HOST, 49, 0, false, Up::Udp(53, 5000 + i, b"a")),
            );
            assert_same(&got, &want, &b4);
        }
    }
}

/// An ICMP port unreachable (no Ethernet) from `src` to `dst` with `ttl`, quoting the
/// first 28 bytes of `quoted` (an IP packet).
fn unreachable(src: &str, dst: &str, ttl: u8, quoted: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ipv4(a4(src), a4(dst), ttl).icmpv4(
        etherparse::Icmpv4Type::DestinationUnreachable(
            etherparse::icmpv4::DestUnreachableHeader::Port,
        ),
    );
    let mut out = Vec::new();
    b.write(&mut out, &quoted[..28]).unwrap();
    out
}

/// ICMP errors about softwire flows (RFC 5508 §4 through the softwire): from the IPv4
/// side to the B4's host, encapsulated, with the quote translated back; from the host, out
/// of the tunnel, translated like the flow it quotes.
#[test]
fn icmp_errors_cross_the_softwire() {
    let mut h = Harness::new(&config(1500));
    let inner = ipv4(HOST, SERVER, 64, 0, false, Up::Udp(5353, 53, b"query"));
    let (_, sent) = h.send(&tunnelled(LAN, B4, AFTR, 60, 0, &inner));
    let (pool, port) = source(&sent);
    // The server quotes what it received.
    let err = unreachable(SERVER, &pool, 64, &sent[14..]);
    let (v, got) = h.send(&plain(WAN, &err));
    assert!(forwarded(v), "{v:?}");
    let as_sent = ipv4(HOST, SERVER, 63, 0, false, Up::Udp(5353, 53, b"query"));
    let want = tunnelled(
        LAN,
        AFTR,
        B4,
        64,
        0,
        &unreachable(SERVER, HOST, 63, &as_sent),
    );
    assert_same(&got, &want, "to the host");
    // The host quotes the server's answer as it received it.
    let answer = ipv4(SERVER, &pool, 50, 0, false, Up::Udp(53, port, b"answer"));
    let (v, got) = h.send(&plain(WAN, &answer));
    assert!(forwarded(v), "{v:?}");
    let (_, received) = ip_part(&got);
    let received = &received[40..];
    let err = unreachable(HOST, SERVER, 64, received);
    let (v, got) = h.send(&tunnelled(LAN, B4, AFTR, 60, 0, &err));
    assert!(forwarded(v), "{v:?}");
    let want = plain(
        LAN,
        &unreachable(&pool, SERVER, 63, &answer_as(&pool, port, 49)),
    );
    assert_same(&got, &want, "from the host");
    assert_eq!(h.sessions().len(), 1);
}

/// The server's answer as it left the server (to the pool port), with `ttl`.
fn answer_as(pool: &str, port: u16, ttl: u8) -> Vec<u8> {
    ipv4(SERVER, pool, ttl, 0, false, Up::Udp(53, port, b"answer"))
}

/// A next-hop service set: the route to the softwire address leads into the inside unit,
/// and the set's concentrator serves it the same way.
#[test]
fn next_hop_service_set() {
    let text = config(1500)
        .replace(
            "ge-0/0/0 { unit 0 { family inet6 { service { input { service-set ss; } output { service-set ss; } } address 2001:db8:10::1/64; } } }",
            "ge-0/0/0 { unit 0 { family inet6 { address 2001:db8:10::1/64; } } }",
        )
        .replace(
            "ms-1/1/0 { unit 0 { family inet; family inet6; } }",
            "ms-1/1/0 { unit 0 { family inet; family inet6; } unit 1 { family inet; family inet6; service-domain inside; } unit 2 { family inet; family inet6; service-domain outside; } }",
        )
        .replace(
            "routing-options { static { route 198.51.100.0/24 next-hop 203.0.113.2; } }",
            "routing-options { static { route 198.51.100.0/24 next-hop 203.0.113.2; } rib inet6.0 { static { route 2001:db8:aaaa::1/128 next-hop ms-1/1/0.1; } } }",
        )
        .replace(
            "interface-service { service-interface ms-1/1/0; }",
            "next-hop-service { inside-service-interface ms-1/1/0.1; outside-service-interface ms-1/1/0.2; }",
        );
    assert!(
        text.contains("next-hop-service") && text.contains("rib inet6.0"),
        "{text}"
    );
    let mut h = Harness::new(&text);
    let inner = ipv4(HOST, SERVER, 64, 0, true, Up::Udp(5353, 53, b"q"));
    let (v, got) = h.send(&tunnelled(LAN, B4, AFTR, 60, 0, &inner));
    assert!(forwarded(v), "{v:?}");
    let (pool, port) = source(&got);
    let reply = plain(
        WAN,
        &ipv4(SERVER, &pool, 50, 0, false, Up::Udp(53, port, b"a")),
    );
    let (v, got) = h.send(&reply);
    assert!(forwarded(v), "{v:?}");
    let want = tunnelled(
        LAN,
        AFTR,
        B4,
        64,
        0,
        &ipv4(SERVER, HOST, 49, 0, false, Up::Udp(53, 5353, b"a")),
    );
    assert_same(&got, &want, "back");
    assert_eq!(h.stats().softwire.flows_created, 1);
}

/// A reply whose TTL runs out at the AFTR is answered time exceeded to the server,
/// quoting the packet it sent (to the pool address), not sent down the softwire; the
/// host's private address appears nowhere in the error.
#[test]
fn ttl_exceeded_on_a_reply_to_a_b4() {
    let mut h = Harness::new(&config(1500));
    let inner = ipv4(HOST, SERVER, 64, 0, true, Up::Udp(5353, 53, b"q"));
    let (v, got) = h.send(&tunnelled(LAN, B4, AFTR, 60, 0, &inner));
    assert!(forwarded(v), "{v:?}");
    let (pool, port) = source(&got);
    let reply = plain(WAN, &answer_as(&pool, port, 1));
    let (v, err) = h.send(&reply);
    assert!(matches!(v, Verdict::Reply { .. }), "{v:?}");
    let e = mspic_wire::parse_frame(&err).unwrap();
    assert_eq!(e.key.dst.to_string(), SERVER);
    let mspic_wire::L4::IcmpError {
        inner, icmp_type, ..
    } = e.l4
    else {
        panic!("{:?}", e.l4)
    };
    assert_eq!(icmp_type, 11, "time exceeded");
    assert_eq!(inner.key.dst.to_string(), pool);
    let host = a4(HOST);
    assert!(!err.windows(4).any(|w| w == host), "{err:02x?}");
}

/// An IPv4 fragment (no Ethernet) of a UDP datagram: `data` at byte `offset`, DF clear.
fn ipv4_fragment(
    (src, dst, ttl): (&str, &str, u8),
    (id, offset, more): (u16, u16, bool),
    data: &[u8],
) -> Vec<u8> {
    let mut h = etherparse::Ipv4Header::new(
        data.len() as u16,
        ttl,
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
    let mut p = h.to_bytes().to_vec();
    p.extend_from_slice(data);
    p
}

/// IPv4 fragments inside the softwire (the B4's host or the server fragmenting): the
/// later ones, without ports, follow the session of their first fragment; the B4's go out
/// translated (addresses only for the later ones), the server's go back through the
/// softwire to the B4 that owns the session, each encapsulated (and cut when too big for
/// `mtu-v6`).
#[test]
fn inner_ipv4_fragments_follow_their_session() {
    let mut h = Harness::new(&config(1500));
    let data: Vec<u8> = (0..2000u32).map(|i| (i * 5) as u8).collect();
    let whole = ipv4(HOST, SERVER, 64, 0, false, Up::Udp(5353, 53, &data));
    let udp = &whole[20..];
    let from = (HOST, SERVER, 64);
    let first = ipv4_fragment(from, (0x77, 0, true), &udp[..1480]);
    let (v, out1) = h.send(&tunnelled(LAN, B4, AFTR, 60, 0, &first));
    assert!(forwarded(v), "{v:?}");
    let (pool, port) = source(&out1);
    let later = ipv4_fragment(from, (0x77, 1480, false), &udp[1480..]);
    let (v, out2) = h.send(&tunnelled(LAN, B4, AFTR, 60, 0, &later));
    assert!(forwarded(v), "{v:?}");
    // The datagram as it leaves: from the pool port, its checksum over the pool address.
    let out_whole = ipv4(&pool, SERVER, 64, 0, false, Up::Udp(port, 53, &data));
    let out_udp = &out_whole[20..];
    let to = (pool.as_str(), SERVER, 63);
    assert_same(
        &out1,
        &plain(LAN, &ipv4_fragment(to, (0x77, 0, true), &out_udp[..1480])),
        "first fragment out",
    );
    assert_same(
        &out2,
        &plain(
            LAN,
            &ipv4_fragment(to, (0x77, 1480, false), &out_udp[1480..]),
        ),
        "later fragment out",
    );
    // The server's answer in two IPv4 fragments: the first (1500 bytes, 1540 in IPv6) is
    // cut for mtu-v6, the later one goes whole; all to the B4.
    let back = ipv4(SERVER, &pool, 50, 0, false, Up::Udp(53, port, &data));
    let back_udp = &back[20..];
    let from = (SERVER, pool.as_str(), 50);
    let (v, got1) = h.send(&plain(
        WAN,
        &ipv4_fragment(from, (0x99, 0, true), &back_udp[..1480]),
    ));
    assert!(forwarded(v), "{v:?}");
    let cut: Vec<Vec<u8>> = h
        .shard
        .drain_generated()
        .map(|g| g.bytes().to_vec())
        .collect();
    assert_eq!(cut.len(), 1);
    let (v, got2) = h.send(&plain(
        WAN,
        &ipv4_fragment(from, (0x99, 1480, false), &back_udp[1480..]),
    ));
    assert!(forwarded(v), "{v:?}");
    let host = ipv4(SERVER, HOST, 50, 0, false, Up::Udp(53, 5353, &data));
    let host_udp = &host[20..];
    let to = (SERVER, HOST, 49);
    let inner1 = ipv4_fragment(to, (0x99, 0, true), &host_udp[..1480]);
    let id = u32::from_be_bytes(got1[14 + 44..14 + 48].try_into().unwrap());
    let at = (AFTR, B4, 64);
    assert_same(
        &got1,
        &tunnel_fragment(LAN, at, (id, 0, true), &inner1[..1448]),
        "cut 1",
    );
    assert_same(
        &cut[0],
        &tunnel_fragment(LAN, at, (id, 1448, false), &inner1[1448..]),
        "cut 2",
    );
    let inner2 = ipv4_fragment(to, (0x99, 1480, false), &host_udp[1480..]);
    assert_same(
        &got2,
        &tunnelled(LAN, AFTR, B4, 64, 0, &inner2),
        "later fragment back",
    );
    assert_eq!(h.sessions().len(), 1);
}
