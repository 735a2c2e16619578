//! FTP through a real shard: PORT/EPRT and 227/229 rewritten under each NAT type (the
//! expected frames are built independently with etherparse), the data connection admitted
//! as a child, sequence numbers and SACK corrected after a length change, retransmissions,
//! split lines and hostile input.

mod common;

use common::*;
use mspic_config::AppProtocol;
use mspic_flow::{
    DropReason, FlowDirection, FlowState, SessionFilter, Verdict, FLAG_ALG_CHILD, FLAG_ALG_PARENT,
    FLAG_NAT,
};

const C: &str = "10.0.0.2";
const S: &str = "198.51.100.7";
const P: &str = "203.0.113.128";

/// Opens the control connection client:40000 → server:21 (ISNs 100 and 500); returns the
/// client's NAT endpoint (`P:1024` under NAPT).
fn handshake(c: &mut Cluster, seen: (&'static str, u16)) {
    c.pass(&tcp((C, 40000), (S, 21), "S", 100, 0, b""));
    c.pass(&tcp((S, 21), seen, "SA", 500, 101, b""));
    c.pass(&tcp((C, 40000), (S, 21), "A", 101, 501, b""));
}

#[test]
fn active_port_under_napt_with_seq_delta_sack_and_retransmission() {
    let mut c = Cluster::one(&napt());
    handshake(&mut c, (P, 1024));
    // PORT grows by 2 bytes: 10,0,0,2,156,65 → 203,0,113,128,4,1.
    let port = tcp(
        (C, 40000),
        (S, 21),
        "PA",
        101,
        501,
        b"PORT 10,0,0,2,156,65\r\n",
    );
    let out = c.pass(&port);
    let want = tcp_out(
        (P, 1024),
        (S, 21),
        "PA",
        101,
        501,
        b"PORT 203,0,113,128,4,1\r\n",
        &port,
    );
    assert_eq!(out, want);
    // The server's ack counts the rewritten bytes: taken back for the client.
    let ack = tcp(
        (S, 21),
        (P, 1024),
        "PA",
        501,
        125,
        b"200 PORT command successful\r\n",
    );
    let out = c.pass(&ack);
    assert_eq!(
        out,
        tcp_out(
            (S, 21),
            (C, 40000),
            "PA",
            501,
            123,
            b"200 PORT command successful\r\n",
            &ack
        )
    );
    // A later client segment moves by the delta.
    let retr = tcp((C, 40000), (S, 21), "PA", 123, 531, b"RETR f\r\n");
    let out = c.pass(&retr);
    assert_eq!(
        out,
        tcp_out((P, 1024), (S, 21), "PA", 125, 531, b"RETR f\r\n", &retr)
    );
    // The PORT segment again: the same rewrite, the same delta, no second pinhole.
    let out = c.pass(&port);
    assert_eq!(out, want);
    assert_eq!(c.stats().alg.pinholes_created, 1);
    // SACK blocks from the server are in its (shifted) view: taken back too.
    let sack = tcp_full((S, 21), (P, 1024), "A", 531, 125, b"", 64, &[(135, 145)]);
    let out = c.pass(&sack);
    let (_, _, ack, blocks) = tcp_parts(&out);
    assert_eq!((ack, blocks), (123, vec![(133, 143)]));
    // The server connects from port 20 to the announced endpoint: a child to the client.
    let syn = tcp((S, 20), (P, 1025), "S", 9000, 0, b"");
    let out = c.pass(&syn);
    assert_eq!(out, tcp_out((S, 20), (C, 40001), "S", 9000, 0, b"", &syn));
    let synack = tcp((C, 40001), (S, 20), "SA", 7000, 9001, b"");
    let out = c.pass(&synack);
    assert_eq!(
        out,
        tcp_out((P, 1025), (S, 20), "SA", 7000, 9001, b"", &synack)
    );
    let s = c.sessions();
    assert_eq!(s.len(), 2);
    let (parent, child) = (&s[0], &s[1]);
    assert_eq!(parent.alg, Some(AppProtocol::Ftp));
    assert_eq!(parent.flags, FLAG_ALG_PARENT | FLAG_NAT);
    assert_eq!(
        (parent.flows[0].state, parent.flows[1].state),
        (FlowState::Watch, FlowState::Watch)
    );
    assert_eq!(child.flags, FLAG_ALG_CHILD | FLAG_NAT);
    assert_eq!(child.alg, Some(AppProtocol::Ftp));
    assert_eq!(child.parent, Some(parent.id));
    assert_eq!(child.flows[0].state, FlowState::Forward);
    // Started from the server's side: its first flow is O, as Junos lists it.
    let (o, i) = (&child.flows[0], &child.flows[1]);
    assert_eq!(
        (o.direction, i.direction),
        (FlowDirection::O, FlowDirection::I)
    );
    assert_eq!(
        (o.src.port, o.dst.port, i.src.port),
        (Some(20), Some(1025), Some(40001))
    );
    let st = c.stats();
    assert_eq!((st.alg.pinholes_used, st.alg.length_changes), (1, 2));
    // Clearing the parent takes the child along (and counts both).
    let f = SessionFilter {
        destination_port: Some(21),
        ..SessionFilter::default()
    };
    assert_eq!(c.clear(&f), 2);
    assert!(c.sessions().is_empty());
}

#[test]
fn reserved_data_port_is_held_while_the_pinhole_waits_then_released() {
    let mut c = Cluster::one(&napt());
    handshake(&mut c, (P, 1024));
    c.pass(&tcp(
        (C, 40000),
        (S, 21),
        "PA",
        101,
        501,
        b"PORT 10,0,0,2,156,65\r\n",
    ));
    // Another client's session must not get the reserved port 1025.
    let out = c.pass(&tcp(("10.0.0.3", 5000), (S, 80), "S", 1, 0, b""));
    let (_, _, _, _) = tcp_parts(&out);
    let sport = u16::from_be_bytes([out[34], out[35]]);
    assert_eq!(sport, 1026);
    // The control connection stays up (acks every 20 s) while the pinhole times out.
    for _ in 0..=mspic_alg::PINHOLE_LIFETIME_SECS / 20 {
        c.advance_secs(20);
        c.pass(&tcp((C, 40000), (S, 21), "A", 123, 501, b""));
    }
    assert_eq!(c.stats().alg.pinholes_expired, 1);
    // Unused and expired: the server's late connection is a stranger to the pool.
    let (v, _) = c.send(&tcp((S, 20), (P, 1025), "S", 9000, 0, b""));
    assert_eq!(v, Verdict::Drop(DropReason::NatNoSession));
}

#[test]
fn passive_pasv_and_epsv_under_napt() {
    let mut c = Cluster::one(&napt());
    handshake(&mut c, (P, 1024));
    c.pass(&tcp((C, 40000), (S, 21), "PA", 101, 501, b"PASV\r\n"));
    // The server is not translated: the reply passes unchanged.
    let pasv = tcp(
        (S, 21),
        (P, 1024),
        "PA",
        501,
        107,
        b"227 Entering Passive Mode (198,51,100,7,195,80).\r\n",
    );
    let out = c.pass(&pasv);
    let (payload, ..) = tcp_parts(&out);
    assert_eq!(
        payload,
        b"227 Entering Passive Mode (198,51,100,7,195,80).\r\n"
    );
    // The client's data connection is a child, translated to the control's pool address.
    let syn = tcp((C, 40002), (S, 50000), "S", 1, 0, b"");
    let out = c.pass(&syn);
    assert_eq!(out, tcp_out((P, 1025), (S, 50000), "S", 1, 0, b"", &syn));
    let child = c.sessions()[1].clone();
    assert_eq!(
        child.flows[0].direction,
        FlowDirection::I,
        "started by the client"
    );
    let back = tcp((S, 50000), (P, 1025), "SA", 1, 2, b"");
    assert_eq!(
        c.pass(&back),
        tcp_out((S, 50000), (C, 40002), "SA", 1, 2, b"", &back)
    );
    // EPSV: port only.
    c.pass(&tcp(
        (S, 21),
        (P, 1024),
        "PA",
        551,
        107,
        b"229 Entering Extended Passive Mode (|||50001|)\r\n",
    ));
    let syn = tcp((C, 40003), (S, 50001), "S", 1, 0, b"");
    assert_eq!(
        c.pass(&syn),
        tcp_out((P, 1026), (S, 50001), "S", 1, 0, b"", &syn)
    );
    let s = c.sessions();
    assert_eq!(
        s.iter().filter(|x| x.flags & FLAG_ALG_CHILD != 0).count(),
        2
    );
}

#[test]
fn eprt_rewritten_under_napt() {
    let mut c = Cluster::one(&napt());
    handshake(&mut c, (P, 1024));
    let eprt = tcp(
        (C, 40000),
        (S, 21),
        "PA",
        101,
        501,
        b"EPRT |1|10.0.0.2|40001|\r\n",
    );
    let out = c.pass(&eprt);
    assert_eq!(
        out,
        tcp_out(
            (P, 1024),
            (S, 21),
            "PA",
            101,
            501,
            b"EPRT |1|203.0.113.128|1025|\r\n",
            &eprt
        )
    );
    let syn = tcp((S, 20), (P, 1025), "S", 1, 0, b"");
    assert_eq!(
        c.pass(&syn),
        tcp_out((S, 20), (C, 40001), "S", 1, 0, b"", &syn)
    );
}

#[test]
fn no_nat_leaves_the_payload_alone_and_still_expects_the_data_connection() {
    let mut c = Cluster::one(&config("", ""));
    handshake(&mut c, (C, 40000));
    let port = tcp(
        (C, 40000),
        (S, 21),
        "PA",
        101,
        501,
        b"PORT 10,0,0,2,156,65\r\n",
    );
    assert_eq!(
        c.pass(&port),
        with_macs(
            tcp_full(
                (C, 40000),
                (S, 21),
                "PA",
                101,
                501,
                b"PORT 10,0,0,2,156,65\r\n",
                63,
                &[]
            ),
            &port
        )
    );
    // No rule accepts the server's connection to the inside: the pinhole does.
    c.pass(&tcp((S, 20), (C, 40001), "S", 1, 0, b""));
    assert_eq!(c.sessions()[1].flags, FLAG_ALG_CHILD);
}

#[test]
fn dynamic_and_basic_nat_rewrite_the_address_only() {
    for (pool, ttype, addr, dotted) in [
        (
            "pool public { address 203.0.113.128/25; }",
            "dynamic-nat44",
            "203.0.113.128",
            "203,0,113,128",
        ),
        (
            "pool public { address 198.18.0.0/24; }",
            "basic-nat44",
            "198.18.0.2",
            "198,18,0,2",
        ),
    ] {
        let mut c = Cluster::one(&config(pool, &snat_term(ttype)));
        handshake(&mut c, (addr, 40000));
        let port = tcp(
            (C, 40000),
            (S, 21),
            "PA",
            101,
            501,
            b"PORT 10,0,0,2,156,65\r\n",
        );
        let text = format!("PORT {dotted},156,65\r\n");
        assert_eq!(
            c.pass(&port),
            tcp_out(
                (addr, 40000),
                (S, 21),
                "PA",
                101,
                501,
                text.as_bytes(),
                &port
            ),
            "{ttype}"
        );
        let syn = tcp((S, 20), (addr, 40001), "S", 1, 0, b"");
        assert_eq!(
            c.pass(&syn),
            tcp_out((S, 20), (C, 40001), "S", 1, 0, b"", &syn),
            "{ttype}"
        );
    }
}

/// A public FTP server behind destination NAT (the outside client sees 203.0.113.10).
fn dnat(ttype: &str, ports: &str, src_pool: &str) -> String {
    format!(
        r#"
interfaces {{
    ge-0/0/0 {{ unit 0 {{ family inet {{ address 10.0.0.1/24; }} }} }}
    ge-0/0/1 {{ unit 0 {{ family inet {{ service {{ input {{ service-set pub; }} output {{ service-set pub; }} }} address 203.0.113.1/24; }} }} }}
    ms-1/1/0 {{ unit 0 {{ family inet; }} }}
}}
routing-options {{ static {{ route 198.51.100.0/24 next-hop 203.0.113.2; }} }}
services {{
    stateful-firewall {{
        rule r {{ match-direction input; term ftp {{ from {{ applications junos-ftp; }} then {{ accept; }} }} }}
    }}
    nat {{
        pool web {{ address 10.0.0.10/32; }}
        pool public {{ address 203.0.113.128/25; {ports} }}
        rule dnat {{
            match-direction input;
            term t1 {{
                from {{ destination-address {{ 203.0.113.10/32; }} }}
                then {{ translated {{ destination-pool web; {src_pool} translation-type {{ {ttype}; }} }} }}
            }}
        }}
    }}
    service-set pub {{ stateful-firewall-rules r; nat-rules dnat; interface-service {{ service-interface ms-1/1/0; }} }}
}}
"#
    )
}

#[test]
fn dnat44_rewrites_the_pasv_address_and_translates_both_children() {
    let mut c = Cluster::one(&dnat("dnat-44", "", ""));
    let (x, pubv, srv) = ("198.51.100.7", "203.0.113.10", "10.0.0.10");
    c.pass(&tcp((x, 6000), (pubv, 21), "S", 100, 0, b""));
    c.pass(&tcp((srv, 21), (x, 6000), "SA", 500, 101, b""));
    // Passive: the server announces its real address; the client must see the public one.
    let pasv = tcp(
        (srv, 21),
        (x, 6000),
        "PA",
        501,
        101,
        b"227 Entering Passive Mode (10,0,0,10,195,80)\r\n",
    );
    let out = c.pass(&pasv);
    assert_eq!(
        out,
        tcp_out(
            (pubv, 21),
            (x, 6000),
            "PA",
            501,
            101,
            b"227 Entering Passive Mode (203,0,113,10,195,80)\r\n",
            &pasv
        )
    );
    let syn = tcp((x, 6001), (pubv, 50000), "S", 1, 0, b"");
    assert_eq!(
        c.pass(&syn),
        tcp_out((x, 6001), (srv, 50000), "S", 1, 0, b"", &syn)
    );
    // Active: the client's own address needs no rewrite; the server's connection leaves
    // from the public address.
    let port = tcp(
        (x, 6000),
        (pubv, 21),
        "PA",
        101,
        548,
        b"PORT 198,51,100,7,23,113\r\n",
    );
    let (_, out) = c.send(&port);
    assert_eq!(tcp_parts(&out).0, b"PORT 198,51,100,7,23,113\r\n");
    let syn = tcp((srv, 20), (x, 6001), "S", 1, 0, b"");
    assert_eq!(
        c.pass(&syn),
        tcp_out((pubv, 20), (x, 6001), "S", 1, 0, b"", &syn)
    );
}

#[test]
fn twice_napt44_rewrites_both_sides() {
    let mut c = Cluster::one(&dnat(
        "twice-napt-44",
        "port { automatic; }",
        "source-pool public;",
    ));
    let (x, pubv, srv) = ("198.51.100.7", "203.0.113.10", "10.0.0.10");
    c.pass(&tcp((x, 6000), (pubv, 21), "S", 100, 0, b""));
    c.pass(&tcp((srv, 21), (P, 1024), "SA", 500, 101, b""));
    let port = tcp(
        (x, 6000),
        (pubv, 21),
        "PA",
        101,
        501,
        b"PORT 198,51,100,7,23,113\r\n",
    );
    let out = c.pass(&port);
    assert_eq!(tcp_parts(&out).0, b"PORT 203,0,113,128,4,1\r\n");
    let syn = tcp((srv, 20), (P, 1025), "S", 1, 0, b"");
    assert_eq!(
        c.pass(&syn),
        tcp_out((pubv, 20), (x, 6001), "S", 1, 0, b"", &syn)
    );
}

#[test]
fn bounce_and_hostile_input_are_refused_and_counted() {
    let mut c = Cluster::one(&napt());
    handshake(&mut c, (P, 1024));
    // Each refused segment is followed by another at the same position (the line start).
    let refused = |c: &mut Cluster, payload: &[u8]| {
        let (v, _) = c.send(&tcp((C, 40000), (S, 21), "PA", 101, 501, payload));
        assert_eq!(
            v,
            Verdict::Drop(DropReason::Alg),
            "{}",
            String::from_utf8_lossy(&payload[..payload.len().min(40)])
        );
    };
    refused(&mut c, b"PORT 10,0,0,9,156,65\r\n"); // a third host: FTP bounce
    refused(&mut c, b"EPRT |1|192.0.2.1|4000|\r\n");
    refused(&mut c, b"PORT 10,0,0,2,999,1\r\n");
    refused(&mut c, b"PORT 10,0,0,2,99999999999999999999999,1\r\n");
    refused(&mut c, b"PORT 10,0,0,2\r\n");
    refused(&mut c, b"EPRT |1|10.0.0.2|\r\n");
    let mut long = b"PORT ".to_vec();
    long.extend(std::iter::repeat_n(b'1', 10_000));
    long.extend_from_slice(b"\r\n");
    refused(&mut c, &long);
    let st = c.stats();
    assert_eq!(st.alg.third_host, 2);
    assert_eq!(st.alg.malformed, 5);
    assert_eq!(st.errors.alg, 7);
    assert_eq!(st.alg.pinholes_created, 0);
}

#[test]
fn long_lines_that_are_not_commands_pass() {
    let mut c = Cluster::one(&napt());
    handshake(&mut c, (P, 1024));
    let mut long = b"NOOP ".to_vec();
    long.extend(std::iter::repeat_n(b'x', 10_000));
    long.extend_from_slice(b"\r\n");
    let out = c.pass(&tcp((C, 40000), (S, 21), "PA", 101, 501, &long));
    assert_eq!(tcp_parts(&out).0, long);
}

#[test]
fn a_command_split_across_segments_is_refused_until_it_comes_whole() {
    let mut c = Cluster::one(&napt());
    handshake(&mut c, (P, 1024));
    let (v, _) = c.send(&tcp((C, 40000), (S, 21), "PA", 101, 501, b"PORT 10,0,0,2,"));
    assert_eq!(v, Verdict::Drop(DropReason::Alg));
    assert_eq!(c.stats().alg.partial_lines, 1);
    // The rest alone continues the refused line: held back too.
    let (v, _) = c.send(&tcp((C, 40000), (S, 21), "PA", 115, 501, b"156,65\r\n"));
    assert_eq!(v, Verdict::Drop(DropReason::Alg));
    assert_eq!(c.stats().alg.partial_lines, 2);
    // The retransmission carries the whole line: rewritten.
    let out = c.pass(&tcp(
        (C, 40000),
        (S, 21),
        "PA",
        101,
        501,
        b"PORT 10,0,0,2,156,65\r\n",
    ));
    assert_eq!(tcp_parts(&out).0, b"PORT 203,0,113,128,4,1\r\n");
}

#[test]
fn data_connection_lands_on_the_right_shard_with_several_shards() {
    // Passive mode: the client's data connection may hash to any shard; the broadcast
    // pinhole is there, and that shard allocates the port so the replies come back to it.
    for n in [2, 3, 4] {
        let mut c = Cluster::new(&napt(), n);
        c.pass(&tcp((C, 40000), (S, 21), "S", 100, 0, b""));
        let parent = c.sessions()[0].clone();
        let e = parent.flows[1].dst;
        let (ip, port) = (e.addr.to_string(), e.port.unwrap());
        let ip: &'static str = Box::leak(ip.into_boxed_str());
        c.pass(&tcp((S, 21), (ip, port), "SA", 500, 101, b""));
        c.pass(&tcp(
            (S, 21),
            (ip, port),
            "PA",
            501,
            101,
            b"227 Entering Passive Mode (198,51,100,7,195,80).\r\n",
        ));
        for k in 0..8u16 {
            let syn = tcp((C, 41000 + k), (S, 50000), "S", 1, 0, b"");
            let (v, out) = c.send(&syn);
            if k > 0 {
                // The pinhole is used up: later connections are ordinary sessions that the
                // rules accept.
                assert!(matches!(v, Verdict::Forward { .. }));
                continue;
            }
            assert!(matches!(v, Verdict::Forward { .. }), "{n} shards: {v:?}");
            let sport = u16::from_be_bytes([out[34], out[35]]);
            let back = tcp((S, 50000), (ip, sport), "SA", 1, 2, b"");
            let out = c.pass(&back);
            assert_eq!(u16::from_be_bytes([out[36], out[37]]), 41000, "{n} shards");
        }
        let children = c
            .sessions()
            .iter()
            .filter(|s| s.flags & FLAG_ALG_CHILD != 0)
            .count();
        assert_eq!(children, 1, "{n} shards: one pinhole, one child");
        // Clearing the parent removes the child on whichever shard it is.
        let f = SessionFilter {
            destination_port: Some(21),
            ..SessionFilter::default()
        };
        c.clear(&f);
        assert_eq!(
            c.sessions()
                .iter()
                .filter(|s| s.flags & FLAG_ALG_CHILD != 0)
                .count(),
            0,
            "{n} shards"
        );
    }
}

#[test]
fn an_expiring_parent_takes_its_pinholes_and_its_children_on_other_shards() {
    // A client port whose passive child lands on another shard than the parent.
    let mut c = Cluster::new(&napt(), 4);
    c.pass(&tcp((C, 40000), (S, 21), "S", 100, 0, b""));
    let pp = c.sessions()[0].flows[1].dst.port.unwrap();
    c.pass(&tcp((S, 21), (P, pp), "SA", 500, 101, b""));
    c.pass(&tcp((C, 40000), (S, 21), "PA", 101, 501, b"PASV\r\n"));
    c.pass(&tcp(
        (S, 21),
        (P, pp),
        "PA",
        501,
        107,
        b"227 Entering Passive Mode (198,51,100,7,195,80)\r\n",
    ));
    c.pass(&tcp(
        (S, 21),
        (P, pp),
        "PA",
        550,
        107,
        b"229 Entering Extended Passive Mode (|||50001|)\r\n",
    ));
    let parent_shard = c
        .shards
        .iter()
        .position(|s| s.session_count() == 1)
        .unwrap();
    let mut port = 41000;
    loop {
        let syn = tcp((C, port), (S, 50000), "S", 1, 0, b"");
        let p = mspic_wire::parse_frame(&syn).unwrap();
        if mspic_flow::owner::owner(&p, 4, &c.policy.nat) as usize != parent_shard {
            let out = c.pass(&syn);
            let sport = u16::from_be_bytes([out[34], out[35]]);
            c.pass(&tcp((S, 50000), (P, sport), "SA", 1, 2, b""));
            c.pass(&tcp((C, port), (S, 50000), "A", 2, 2, b""));
            break;
        }
        port += 1;
    }
    assert_eq!(c.sessions().len(), 2);
    // The child keeps talking; the parent idles out (its child is on another shard).
    for _ in 0..2 {
        c.advance_secs(11);
        c.pass(&tcp((C, port), (S, 50000), "A", 2, 2, b""));
    }
    assert_eq!(c.sessions().len(), 2);
    c.advance_secs(11);
    // Nobody answers the parent's keep-alives (tcp-tickles, default 4, a pair a second).
    for _ in 0..4 {
        assert_eq!(c.sessions().len(), 2);
        c.advance_secs(1);
    }
    assert!(c.sessions().is_empty(), "{:?}", c.sessions());
    let st = c.stats();
    // The 229's pinhole and the child went with the parent.
    assert_eq!(st.alg.closed_with_parent, 2);
    assert_eq!(st.alg.pinholes_used, 1);
}

#[test]
fn twice_dynamic_nat44_rewrites_the_address_and_keeps_the_port() {
    let mut c = Cluster::one(&dnat("twice-dynamic-nat-44", "", "source-pool public;"));
    let (x, pubv, srv) = ("198.51.100.7", "203.0.113.10", "10.0.0.10");
    c.pass(&tcp((x, 6000), (pubv, 21), "S", 100, 0, b""));
    c.pass(&tcp((srv, 21), (P, 6000), "SA", 500, 101, b""));
    let port = tcp(
        (x, 6000),
        (pubv, 21),
        "PA",
        101,
        501,
        b"EPRT |1|198.51.100.7|6001|\r\n",
    );
    let out = c.pass(&port);
    assert_eq!(tcp_parts(&out).0, b"EPRT |1|203.0.113.128|6001|\r\n");
    let syn = tcp((srv, 20), (P, 6001), "S", 1, 0, b"");
    assert_eq!(
        c.pass(&syn),
        tcp_out((pubv, 20), (x, 6001), "S", 1, 0, b"", &syn)
    );
    // Passive: the server's real address becomes the public one; the client's connection
    // is translated both ways.
    let pasv = tcp(
        (srv, 21),
        (P, 6000),
        "PA",
        501,
        129,
        b"227 Entering Passive Mode (10,0,0,10,195,80)\r\n",
    );
    assert_eq!(
        tcp_parts(&c.pass(&pasv)).0,
        b"227 Entering Passive Mode (203,0,113,10,195,80)\r\n"
    );
    let syn = tcp((x, 6002), (pubv, 50000), "S", 1, 0, b"");
    assert_eq!(
        c.pass(&syn),
        tcp_out((P, 6002), (srv, 50000), "S", 1, 0, b"", &syn)
    );
}

#[test]
fn active_mode_with_several_shards_steers_the_inside_side_to_the_child() {
    for n in [2, 3, 4] {
        for cport in 40000..40006u16 {
            let mut c = Cluster::new(&napt(), n);
            c.pass(&tcp((C, cport), (S, 21), "S", 100, 0, b""));
            let pp = c.sessions()[0].flows[1].dst.port.unwrap();
            c.pass(&tcp((S, 21), (P, pp), "SA", 500, 101, b""));
            let out = c.pass(&tcp(
                (C, cport),
                (S, 21),
                "PA",
                101,
                501,
                b"PORT 10,0,0,2,156,65\r\n",
            ));
            let (a, dp) = ftp_port_of(&tcp_parts(&out).0);
            assert_eq!(a, P);
            let syn = tcp((S, 20), (P, dp), "S", 9000, 0, b"");
            assert_eq!(
                c.pass(&syn),
                tcp_out((S, 20), (C, 40001), "S", 9000, 0, b"", &syn)
            );
            // The client's answer reaches the child's shard whatever its tuple hashes to.
            let synack = tcp((C, 40001), (S, 20), "SA", 7000, 9001, b"");
            let out = c.pass(&synack);
            assert_eq!(
                out,
                tcp_out((P, dp), (S, 20), "SA", 7000, 9001, b"", &synack),
                "{n} shards"
            );
            // Clearing the parent ends the steering with the child.
            let f = SessionFilter {
                destination_port: Some(21),
                ..SessionFilter::default()
            };
            c.clear(&f);
            assert!(c.steer.is_empty() && c.sessions().is_empty(), "{n} shards");
        }
    }
}

/// The endpoint of a rewritten `PORT` line.
fn ftp_port_of(line: &[u8]) -> (&'static str, u16) {
    let (a, p) = mspic_alg::ftp::parse_port(&line[5..line.len() - 2]).unwrap();
    (Box::leak(a.to_string().into_boxed_str()), p)
}

#[test]
fn an_older_rewritten_segment_retransmitted_gets_its_own_rewrite_again() {
    let mut c = Cluster::one(&napt());
    handshake(&mut c, (P, 1024));
    let first = tcp(
        (C, 40000),
        (S, 21),
        "PA",
        101,
        501,
        b"PORT 10,0,0,2,156,65\r\n",
    );
    let want = c.pass(&first);
    let second = tcp(
        (C, 40000),
        (S, 21),
        "PA",
        123,
        501,
        b"PORT 10,0,0,2,156,66\r\n",
    );
    assert_eq!(tcp_parts(&c.pass(&second)).0, b"PORT 203,0,113,128,4,2\r\n");
    assert_eq!(c.pass(&first), want);
    assert_eq!(c.stats().alg.pinholes_created, 2);
}

/// A PORT line split across two segments, the second also retransmitted alone, with the
/// server's SACK blocks (RFC 2018, duplicate blocks as RFC 2883 sends them) over the
/// rewritten region: the rest of the refused line is held back until the line comes whole
/// (else the server would SACK it and a SACK client would retransmit only the head, refused
/// again), the line is rewritten once (+2 bytes), a lone retransmission of its tail gets the
/// delta of its place, not a second one, and every SACK edge is mapped back.
#[test]
fn a_split_port_line_with_sack_gets_one_delta_and_mapped_sack_edges() {
    let mut c = Cluster::one(&napt());
    handshake(&mut c, (P, 1024));
    let head = tcp((C, 40000), (S, 21), "PA", 101, 501, b"PORT 10,0,0,2,");
    let rest = tcp((C, 40000), (S, 21), "PA", 115, 501, b"156,65\r\n");
    for f in [&head, &rest] {
        assert_eq!(c.send(f).0, Verdict::Drop(DropReason::Alg));
    }
    assert_eq!(c.stats().alg.partial_lines, 2);
    // The server saw nothing: a plain duplicate ack, no SACK block to map.
    let dup = tcp_full((S, 21), (P, 1024), "A", 501, 101, b"", 64, &[]);
    assert_eq!(tcp_parts(&c.pass(&dup)).2, 101);
    // The retransmission carries the whole line: rewritten, 22 → 24 bytes.
    let whole = tcp(
        (C, 40000),
        (S, 21),
        "PA",
        101,
        501,
        b"PORT 10,0,0,2,156,65\r\n",
    );
    let want = tcp_out(
        (P, 1024),
        (S, 21),
        "PA",
        101,
        501,
        b"PORT 203,0,113,128,4,1\r\n",
        &whole,
    );
    assert_eq!(c.pass(&whole), want);
    // The tail retransmitted alone: inside the line, unchanged bytes, the line's delta.
    let out = c.pass(&rest);
    assert_eq!(
        out,
        tcp_out((P, 1024), (S, 21), "PA", 117, 501, b"156,65\r\n", &rest)
    );
    // The whole line again: the same rewrite, still one delta.
    assert_eq!(c.pass(&whole), want);
    // The next command moves by exactly the one delta.
    let retr = tcp((C, 40000), (S, 21), "PA", 123, 501, b"RETR f\r\n");
    let out = c.pass(&retr);
    assert_eq!(
        out,
        tcp_out((P, 1024), (S, 21), "PA", 125, 501, b"RETR f\r\n", &retr)
    );
    let noop = tcp((C, 40000), (S, 21), "PA", 131, 501, b"NOOP\r\n");
    assert_eq!(tcp_parts(&c.pass(&noop)).1, 133);
    // RETR lost: the server acks the line, reports the duplicates of the tail and of the
    // whole line (D-SACK) and the NOOP received out of order. Edges at the line's start
    // stay, edges after it move back by the delta.
    for (blocks, mapped) in [
        (vec![(117, 125), (133, 139)], vec![(115, 123), (131, 137)]),
        (vec![(101, 125), (133, 139)], vec![(101, 123), (131, 137)]),
    ] {
        let sack = tcp_full((S, 21), (P, 1024), "A", 501, 125, b"", 64, &blocks);
        let out = c.pass(&sack);
        assert!(checksums_ok(&out));
        let (_, _, ack, got) = tcp_parts(&out);
        assert_eq!((ack, got), (123, mapped));
    }
    let st = c.stats();
    assert_eq!((st.alg.length_changes, st.alg.pinholes_created), (2, 1));
}
