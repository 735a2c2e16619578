//! `tcp-tickles` (Junos `services-options`, default 4; the reference page is "tcp-tickles"
//! in the Junos services-options statements): an idle established TCP session gets
//! keep-alives (RFC 9293 §3.8.4) to both ends, as the other end, one pair a second,
//! before it is removed; an answer keeps it. Expected frames are built by etherparse.

mod common;

use common::*;
use etherparse::PacketBuilder;
use mspic_flow::shard::Generated;
use mspic_flow::{IfIndex, Verdict};

/// The testbed with napt-44 behind a firewall accepting what the inside starts, and
/// `options` in the services interface's `services-options`.
fn napt_config(options: &str) -> String {
    format!(
        r#"
interfaces {{
    ge-0/0/0 {{ unit 0 {{ family inet {{ service {{ input {{ service-set ss; }} output {{ service-set ss; }} }} address 10.0.0.1/24; }} }} }}
    ge-0/0/1 {{ unit 0 {{ family inet {{ address 203.0.113.1/24; }} }} }}
    ms-1/1/0 {{ services-options {{ inactivity-timeout 30; {options} }} unit 0 {{ family inet; }} }}
}}
routing-options {{ static {{ route 198.51.100.0/24 next-hop 203.0.113.2; }} }}
services {{
    stateful-firewall {{
        rule r {{
            match-direction input;
            term t1 {{ from {{ source-address {{ 10.0.0.0/24; }} }} then {{ accept; }} }}
        }}
    }}
    nat {{
        pool public {{ address 203.0.113.128/25; port {{ automatic; }} }}
        rule snat {{
            match-direction input;
            term t1 {{ from {{ source-address {{ 10.0.0.0/24; }} }} then {{ translated {{ source-pool public; translation-type {{ napt-44; }} }} }} }}
        }}
    }}
    service-set ss {{
        stateful-firewall-rules r;
        nat-rules snat;
        interface-service {{ service-interface ms-1/1/0; }}
    }}
}}
"#
    )
}

const CLIENT: &str = "10.0.0.2";
const SERVER: &str = "198.51.100.7";

/// Handshake (client ISN 100, server ISN 500), 18 bytes up, 1000 bytes down; returns the
/// client's translated address and port as the server sees them.
fn connect(h: &mut Harness) -> (std::net::Ipv4Addr, u16) {
    let (v, out) = h.send(&tcp(CLIENT, 40000, SERVER, 80, "S", 100, 0, b""));
    assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
    let p = mspic_wire::parse_frame(&out).unwrap();
    let std::net::IpAddr::V4(public) = p.key.src else {
        panic!("{:?}", p.key)
    };
    let port = p.key.src_port;
    let public_s = public.to_string();
    for f in [
        tcp(SERVER, 80, &public_s, port, "SA", 500, 101, b""),
        tcp(CLIENT, 40000, SERVER, 80, "A", 101, 501, b""),
        tcp(CLIENT, 40000, SERVER, 80, "PA", 101, 501, &[b'g'; 18]),
        tcp(SERVER, 80, &public_s, port, "PA", 501, 119, &[b'x'; 1000]),
    ] {
        let (v, _) = h.send(&f);
        assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
    }
    (public, port)
}

/// The keep-alive frame expected: zero MACs, IPv4 with DF and TTL 64, ACK only with
/// `seq`, `ack` and the helper's window, padded to 60 bytes.
#[allow(clippy::too_many_arguments)]
fn keepalive(src: &str, sport: u16, dst: &str, dport: u16, seq: u32, ack: u32) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2([0; 6], [0; 6])
        .ipv4(v4(src).octets(), v4(dst).octets(), 64)
        .tcp(sport, dport, seq, 64240)
        .ack(ack)
        .write(&mut out, &[])
        .unwrap();
    out.resize(60, 0);
    out
}

fn drain(h: &mut Harness) -> Vec<Generated> {
    h.shard.drain_generated().collect()
}

#[test]
fn unanswered_keepalives_go_to_both_ends_then_the_session_goes() {
    let mut h = Harness::new(&napt_config(""));
    let (public, port) = connect(&mut h);
    h.advance_ms(29_999);
    assert!(drain(&mut h).is_empty(), "nothing before the idle timeout");
    assert_eq!(h.sessions().len(), 1);
    // To the client as the server: seq one below the server's next (501 + 1000), the
    // server's last ack; to the server as the translated client: 101 + 18 - 1, ack 501.
    let to_client = keepalive(SERVER, 80, CLIENT, 40000, 1500, 119);
    let to_server = keepalive(&public.to_string(), port, SERVER, 80, 118, 501);
    for round in 1..=4 {
        h.advance_ms(if round == 1 { 1 } else { 1_000 });
        let g = drain(&mut h);
        assert_eq!(g.len(), 2, "round {round}");
        assert_eq!(g[0].bytes(), &to_client[..], "round {round}: to the client");
        assert_eq!(
            (g[0].egress, g[0].next_hop),
            (IfIndex(0), ip(CLIENT)),
            "round {round}"
        );
        assert_eq!(g[1].bytes(), &to_server[..], "round {round}: to the server");
        assert_eq!(
            (g[1].egress, g[1].next_hop),
            (IfIndex(1), ip("203.0.113.2")),
            "round {round}"
        );
        assert_eq!(h.sessions().len(), 1, "round {round}: kept");
    }
    h.advance_ms(999);
    assert_eq!(h.sessions().len(), 1, "a second after the fourth pair");
    h.advance_ms(1);
    assert_eq!(h.sessions().len(), 0, "fourth pair unanswered");
    assert!(drain(&mut h).is_empty(), "no fifth pair");
    assert_eq!(h.shard.tickles_sent(), 8);
}

#[test]
fn an_answer_to_a_keepalive_keeps_the_session_for_another_timeout() {
    let mut h = Harness::new(&napt_config("tcp-tickles 2;"));
    connect(&mut h);
    h.advance_ms(30_000);
    assert_eq!(drain(&mut h).len(), 2);
    // The client's stack answers the keep-alive with an ACK for the current state.
    let (v, _) = h.send(&tcp(CLIENT, 40000, SERVER, 80, "A", 119, 1501, b""));
    assert!(matches!(v, Verdict::Forward { .. }), "{v:?}");
    // Its timer starts again from the answer: no pair, no removal for 30 s.
    for _ in 0..29 {
        h.advance_ms(1_000);
        assert!(drain(&mut h).is_empty());
    }
    assert_eq!(h.sessions().len(), 1);
    h.advance_ms(1_000);
    let g = drain(&mut h);
    assert_eq!(g.len(), 2, "keep-alives again at the new deadline");
    // The answer moved the client's ack: the server now hears 119 - 1 with ack 1501.
    let p = mspic_wire::parse_frame(g[1].bytes()).unwrap();
    assert!(matches!(
        p.l4,
        mspic_wire::L4::Tcp {
            seq: 118,
            ack: 1501,
            ..
        }
    ));
    h.advance_ms(1_000);
    assert_eq!(drain(&mut h).len(), 2);
    h.advance_ms(1_000);
    assert_eq!(h.sessions().len(), 0, "tcp-tickles 2: two pairs");
}

#[test]
fn without_tickles_or_an_established_connection_the_deadline_removes_it() {
    // tcp-tickles 0: removed at the idle timeout, nothing sent.
    let mut h = Harness::new(&napt_config("tcp-tickles 0;"));
    connect(&mut h);
    h.advance_ms(30_000);
    assert_eq!(h.sessions().len(), 0);
    assert!(drain(&mut h).is_empty());

    // A connection that never got past SYN and a UDP flow get none either.
    let mut h = Harness::new(&napt_config("open-timeout 5;"));
    h.send(&tcp(CLIENT, 40001, SERVER, 80, "S", 100, 0, b""));
    h.send(&udp(CLIENT, 5000, SERVER, 53, b"q"));
    assert_eq!(h.sessions().len(), 2);
    h.advance_ms(30_000);
    assert_eq!(h.sessions().len(), 0);
    assert!(drain(&mut h).is_empty());
    assert_eq!(h.shard.tickles_sent(), 0);
}
