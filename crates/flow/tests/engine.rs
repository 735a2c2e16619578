//! The shard in virtual time: sessions, states, counters, timeouts, firewall verdicts.

mod common;

use common::*;
use mspic_config::AppProtocol;
use mspic_flow::{DropReason, FlowDirection, FlowRole, FlowState, IfIndex, ShardConfig, Verdict};

fn forwarded(v: Verdict) -> bool {
    matches!(v, Verdict::Forward { .. })
}

#[test]
fn tcp_session_lifecycle() {
    let mut h = Harness::new(&config(
        ACCEPT_INSIDE,
        "inactivity-timeout 30; open-timeout 5; close-timeout 4;",
    ));
    let (v, out) = h.send(&tcp(
        "10.0.0.2",
        40000,
        "198.51.100.7",
        80,
        "S",
        100,
        0,
        b"",
    ));
    assert_eq!(
        v,
        Verdict::Forward {
            egress: IfIndex(1),
            next_hop: ip("203.0.113.2")
        }
    );
    assert_eq!(out[14 + 8], 63, "TTL decremented");
    assert!(checksums_ok(&out));
    let (v, _) = h.send(&tcp(
        "198.51.100.7",
        80,
        "10.0.0.2",
        40000,
        "SA",
        500,
        101,
        b"",
    ));
    assert_eq!(
        v,
        Verdict::Forward {
            egress: IfIndex(0),
            next_hop: ip("10.0.0.2")
        }
    );
    h.send(&tcp(
        "10.0.0.2",
        40000,
        "198.51.100.7",
        80,
        "A",
        101,
        501,
        b"",
    ));
    h.send(&tcp(
        "10.0.0.2",
        40000,
        "198.51.100.7",
        80,
        "PA",
        101,
        501,
        b"GET / HTTP/1.0\r\n\r\n",
    ));
    h.send(&tcp(
        "198.51.100.7",
        80,
        "10.0.0.2",
        40000,
        "PA",
        501,
        119,
        &[b'x'; 1000],
    ));

    let s = h.sessions();
    assert_eq!(s.len(), 1);
    let s = &s[0];
    assert_eq!(
        (s.interface.as_str(), s.service_set.as_str()),
        ("ms-1/1/0", "ss")
    );
    assert_eq!(s.alg, None);
    let (i, o) = (&s.flows[0], &s.flows[1]);
    assert_eq!(
        (i.direction, i.role, i.state),
        (FlowDirection::I, FlowRole::Initiator, FlowState::Forward)
    );
    assert_eq!(
        (o.direction, o.role),
        (FlowDirection::O, FlowRole::Responder)
    );
    assert_eq!(
        (i.src.addr, i.src.port, i.dst.addr, i.dst.port),
        (ip("10.0.0.2"), Some(40000), ip("198.51.100.7"), Some(80))
    );
    assert_eq!(
        (o.src.addr, o.src.port, o.dst.addr, o.dst.port),
        (ip("198.51.100.7"), Some(80), ip("10.0.0.2"), Some(40000))
    );
    assert_eq!((i.frames, o.frames), (3, 2));
    assert_eq!(i.bytes, 40 + 40 + 40 + 18);
    assert_eq!(o.bytes, 40 + 1040);
    assert_eq!(i.timeout, 30);

    // Established: idle for 29 s keeps it; at 30 s keep-alives start (tcp-tickles,
    // default 4, a pair a second) and it goes a second after the fourth unanswered pair.
    h.advance_ms(29_000);
    assert_eq!(h.sessions().len(), 1);
    for _ in 0..4 {
        h.advance_ms(1_000);
        assert_eq!(h.sessions().len(), 1);
    }
    h.advance_ms(1_000);
    assert_eq!(h.sessions().len(), 0);
    assert_eq!(h.shard.tickles_sent(), 8);
    assert_eq!(h.stats().rule_accepts, 1);
    assert_eq!(h.stats().existing_accepts, 4);
}

#[test]
fn fin_teardown_uses_close_timeout() {
    let mut h = Harness::new(&config(
        ACCEPT_INSIDE,
        "inactivity-timeout 300; close-timeout 4;",
    ));
    h.send(&tcp("10.0.0.2", 40001, "198.51.100.7", 80, "S", 1, 0, b""));
    h.send(&tcp("198.51.100.7", 80, "10.0.0.2", 40001, "SA", 9, 2, b""));
    h.send(&tcp("10.0.0.2", 40001, "198.51.100.7", 80, "A", 2, 10, b""));
    h.send(&tcp(
        "10.0.0.2",
        40001,
        "198.51.100.7",
        80,
        "FA",
        2,
        10,
        b"",
    ));
    h.send(&tcp(
        "198.51.100.7",
        80,
        "10.0.0.2",
        40001,
        "FA",
        10,
        3,
        b"",
    ));
    h.send(&tcp("10.0.0.2", 40001, "198.51.100.7", 80, "A", 3, 11, b""));
    h.advance_ms(3_900);
    assert_eq!(h.sessions().len(), 1);
    h.advance_ms(200);
    assert_eq!(
        h.sessions().len(),
        0,
        "closed after close-timeout, not the 300 s idle timer"
    );
}

#[test]
fn unanswered_syn_expires_after_open_timeout() {
    let mut h = Harness::new(&config(ACCEPT_INSIDE, "open-timeout 5;"));
    h.send(&tcp("10.0.0.2", 40002, "198.51.100.7", 80, "S", 1, 0, b""));
    h.advance_ms(4_999);
    assert_eq!(h.sessions().len(), 1);
    h.advance_ms(2);
    assert_eq!(h.sessions().len(), 0);
}

#[test]
fn non_syn_first_packet_is_dropped_and_counted() {
    let mut h = Harness::new(&config(ACCEPT_INSIDE, ""));
    let (v, _) = h.send(&tcp("10.0.0.2", 40003, "198.51.100.7", 80, "A", 1, 1, b""));
    assert_eq!(v, Verdict::Drop(DropReason::TcpNonSynFirst));
    assert!(h.sessions().is_empty());
    assert_eq!(h.stats().drop_tcp_non_syn_first, 1);
}

#[test]
fn udp_idle_timeout_and_application_override() {
    let mut h = Harness::new(&config(
        "term tftp { from { source-address { 10.0.0.0/24; } applications tftp-long; } then { accept; } }
         term t1 { from { source-address { 10.0.0.0/24; } } then { accept; } }",
        "inactivity-timeout 30;",
    ));
    assert!(forwarded(
        h.send(&udp("10.0.0.2", 5000, "198.51.100.7", 53, b"q")).0
    ));
    assert!(forwarded(
        h.send(&udp("10.0.0.2", 5001, "198.51.100.7", 69, b"rrq")).0
    ));
    assert!(forwarded(
        h.send(&udp("198.51.100.7", 53, "10.0.0.2", 5000, b"answer"))
            .0
    ));
    let s = h.sessions();
    assert_eq!(s[0].flows[0].timeout, 30);
    assert_eq!(s[1].flows[0].timeout, 100);
    assert_eq!((s[0].flows[0].frames, s[0].flows[1].frames), (1, 1));
    h.advance_ms(31_000);
    let s = h.sessions();
    assert_eq!(s.len(), 1, "DNS-like flow gone, the 100 s one stays");
    assert_eq!(s[0].flows[0].dst.port, Some(69));
    h.advance_ms(70_000);
    assert!(h.sessions().is_empty());
}

#[test]
fn session_timeout_counts_down_from_the_last_packet() {
    let mut h = Harness::new(&config(ACCEPT_INSIDE, "inactivity-timeout 100;"));
    assert!(forwarded(
        h.send(&udp("10.0.0.2", 5000, "198.51.100.7", 69, b"q")).0
    ));
    assert_eq!(h.sessions()[0].session_timeout, 100);
    h.advance_ms(28_000);
    assert_eq!(h.sessions()[0].session_timeout, 72, "100 s less 28 s idle");
    // Another session's packet moves the clock too.
    h.now = mspic_flow::Time(h.now.0 + 10_000_000_000);
    assert!(forwarded(
        h.send(&udp("10.0.0.3", 5000, "198.51.100.7", 53, b"q")).0
    ));
    let s = h.sessions();
    assert_eq!((s[0].session_timeout, s[1].session_timeout), (62, 100));
    // A packet of the session starts its timer again.
    assert!(forwarded(
        h.send(&udp("198.51.100.7", 69, "10.0.0.2", 5000, b"a")).0
    ));
    assert_eq!(h.sessions()[0].session_timeout, 100);
    // A control request's time counts too; an earlier time does not move the clock back.
    h.shard
        .advance_clock(mspic_flow::Time(h.now.0 + 5_000_000_000));
    h.shard.advance_clock(h.now);
    assert_eq!(h.sessions()[0].session_timeout, 95);
}

#[test]
fn icmp_echo_is_keyed_by_identifier() {
    let mut h = Harness::new(&config(ACCEPT_INSIDE, ""));
    assert!(forwarded(
        h.send(&ping("10.0.0.2", "198.51.100.7", 77, 1, false)).0
    ));
    assert!(forwarded(
        h.send(&ping("198.51.100.7", "10.0.0.2", 77, 1, true)).0
    ));
    assert!(forwarded(
        h.send(&ping("10.0.0.2", "198.51.100.7", 78, 1, false)).0
    ));
    let s = h.sessions();
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].flows[0].protocol, 1);
    assert_eq!(s[0].flows[0].src.port, None, "ICMP flows show no ports");
    assert_eq!((s[0].flows[0].frames, s[0].flows[1].frames), (1, 1));
    // An echo reply with no request is not a session of its own: the firewall rule
    // (source 10.0.0.0/24 on input) does not accept it from outside.
    let (v, _) = h.send(&ping("198.51.100.7", "10.0.0.2", 99, 1, true));
    assert!(!forwarded(v));
}

#[test]
fn discard_creates_a_drop_session_that_caches_the_verdict() {
    let mut h = Harness::new(&config(
        "term block { from { destination-address { 198.51.100.66/32; } } then { discard; } }
         term t1 { from { source-address { 10.0.0.0/24; } } then { accept; } }",
        "",
    ));
    for i in 0..3 {
        let (v, _) = h.send(&udp("10.0.0.2", 6000, "198.51.100.66", 9, &[i]));
        assert!(matches!(v, Verdict::Drop(_)));
    }
    let s = h.sessions();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].flows[0].state, FlowState::Drop);
    assert_eq!(s[0].flows[1].state, FlowState::Drop);
    assert_eq!(s[0].flows[0].frames, 3);
    let st = h.stats();
    assert_eq!(st.rule_discards, 1, "rules ran once");
    assert_eq!(st.existing_drops, 2);
}

#[test]
fn traffic_no_term_accepts_is_discarded() {
    let mut h = Harness::new(&config(ACCEPT_INSIDE, ""));
    // Arrives on the inside with a source outside 10.0.0.0/24 (spoofed): no term matches.
    let (v, _) = h.send_on(IfIndex(0), &udp("192.0.2.66", 1, "198.51.100.7", 2, b"x"));
    assert!(matches!(v, Verdict::Drop(DropReason::RuleDiscard)));
    assert_eq!(h.sessions()[0].flows[0].state, FlowState::Drop);
}

#[test]
fn reject_answers_tcp_with_rst_and_udp_with_port_unreachable() {
    let mut h = Harness::new(&config(
        "term no-telnet { from { source-address { 10.0.0.0/24; } applications junos-telnet; } then { reject; } }
         term no-tftp { from { source-address { 10.0.0.0/24; } applications junos-tftp; } then { reject; } }
         term t1 { from { source-address { 10.0.0.0/24; } } then { accept; } }",
        "",
    ));
    let syn = tcp("10.0.0.2", 40100, "198.51.100.7", 23, "S", 1000, 0, b"");
    let (v, out) = h.send(&syn);
    assert_eq!(
        v,
        Verdict::Reply {
            egress: IfIndex(0),
            next_hop: ip("10.0.0.2")
        }
    );
    let p = etherparse::SlicedPacket::from_ethernet(&out).unwrap();
    let Some(etherparse::TransportSlice::Tcp(t)) = p.transport else {
        panic!("not TCP")
    };
    assert!(t.rst() && t.ack());
    assert_eq!((t.source_port(), t.destination_port()), (23, 40100));
    assert_eq!(t.acknowledgment_number(), 1001);
    assert!(checksums_ok(&out));

    let (v, out) = h.send(&udp("10.0.0.2", 5555, "198.51.100.7", 69, b"rrq"));
    assert!(matches!(v, Verdict::Reply { .. }));
    let p = etherparse::SlicedPacket::from_ethernet(&out).unwrap();
    let Some(etherparse::TransportSlice::Icmpv4(icmp)) = p.transport else {
        panic!("not ICMP")
    };
    assert_eq!((icmp.type_u8(), icmp.code_u8()), (3, 3));
    assert!(checksums_ok(&out));

    let s = h.sessions();
    assert_eq!(s.len(), 2);
    assert!(s.iter().all(|s| s.flows[0].state == FlowState::Reject));
    // Cached: the next SYN is rejected from the session.
    let (v, _) = h.send(&syn);
    assert!(matches!(v, Verdict::Reply { .. }));
    let st = h.stats();
    assert_eq!((st.rule_rejects, st.existing_rejects), (2, 1));
}

#[test]
fn session_limit_refuses_new_sessions_and_keeps_old_ones() {
    let mut h = Harness::new(&config(ACCEPT_INSIDE, "session-limit { maximum 2; }"));
    for p in 0..3 {
        h.send(&udp("10.0.0.2", 7000 + p, "198.51.100.7", 53, b"q"));
    }
    assert_eq!(h.sessions().len(), 2);
    assert_eq!(h.stats().drop_session_limit, 1);
    assert!(forwarded(
        h.send(&udp("198.51.100.7", 53, "10.0.0.2", 7000, b"a")).0
    ));
}

#[test]
fn icmp_errors_pass_only_for_existing_sessions() {
    let mut h = Harness::new(&config(ACCEPT_INSIDE, ""));
    let q = udp("10.0.0.2", 5353, "198.51.100.7", 53, b"q");
    h.send(&q);
    let mut sent = q.clone();
    sent[14 + 8] -= 1; // as it left (TTL decremented); checksum is not part of the key
    let err = port_unreachable("198.51.100.7", "10.0.0.2", &sent);
    let (v, _) = h.send(&err);
    assert_eq!(
        v,
        Verdict::Forward {
            egress: IfIndex(0),
            next_hop: ip("10.0.0.2")
        }
    );
    let stray = port_unreachable(
        "198.51.100.7",
        "10.0.0.2",
        &udp("10.0.0.2", 9999, "198.51.100.7", 53, b"q"),
    );
    let (v, _) = h.send(&stray);
    assert_eq!(v, Verdict::Drop(DropReason::IcmpErrorNoSession));
    assert_eq!(h.stats().drop_icmp_error_no_session, 1);
}

#[test]
fn bad_checksum_is_counted_not_forwarded() {
    let mut h = Harness::new(&config(ACCEPT_INSIDE, ""));
    let mut f = udp("10.0.0.2", 5000, "198.51.100.7", 53, b"q");
    let n = f.len();
    f[n - 1] ^= 0xff;
    let (v, _) = h.send(&f);
    assert_eq!(v, Verdict::Drop(DropReason::BadChecksum));
    assert_eq!(h.stats().errors.udp.bad_checksum, 1);
    assert!(h.sessions().is_empty());
}

#[test]
fn output_service_set_direction() {
    // Only an output service set on the outside interface: traffic leaving through it is
    // matched with direction output.
    let text = r#"
interfaces {
    ge-0/0/0 { unit 0 { family inet { address 10.0.0.1/24; } } }
    ge-0/0/1 { unit 0 { family inet { service { output { service-set ss; } } address 203.0.113.1/24; } } }
    ms-1/1/0 { unit 0 { family inet; } }
}
services {
    stateful-firewall {
        rule out { match-direction output; term t { from { destination-address { 203.0.113.0/24; } } then { accept; } } }
    }
    service-set ss { stateful-firewall-rules out; interface-service { service-interface ms-1/1/0; } }
}
"#;
    let mut h = Harness::new(text);
    assert!(forwarded(
        h.send(&udp("10.0.0.2", 1000, "203.0.113.9", 53, b"q")).0
    ));
    assert!(forwarded(
        h.send(&udp("203.0.113.9", 53, "10.0.0.2", 1000, b"a")).0
    ));
    let s = h.sessions();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].flows[1].frames, 1);
}

#[test]
fn ids_are_unique_across_shards() {
    let text = config(ACCEPT_INSIDE, "");
    let mut a = Harness::with(
        &text,
        ShardConfig {
            index: 0,
            count: 2,
            ..ShardConfig::default()
        },
    );
    let mut b = Harness::with(
        &text,
        ShardConfig {
            index: 1,
            count: 2,
            ..ShardConfig::default()
        },
    );
    for p in 0..3 {
        a.send(&udp("10.0.0.2", 100 + p, "198.51.100.7", 53, b"q"));
        b.send(&udp("10.0.0.3", 100 + p, "198.51.100.7", 53, b"q"));
    }
    let ids: Vec<u64> = a
        .sessions()
        .iter()
        .chain(&b.sessions())
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, vec![1, 3, 5, 2, 4, 6]);
}

#[test]
fn clear_removes_matching_sessions() {
    let mut h = Harness::new(&config(ACCEPT_INSIDE, ""));
    h.send(&udp("10.0.0.2", 1, "198.51.100.7", 53, b"q"));
    h.send(&udp("10.0.0.2", 2, "198.51.100.8", 53, b"q"));
    let f = mspic_flow::SessionFilter {
        destination_prefix: Some("198.51.100.8/32".parse().unwrap()),
        ..Default::default()
    };
    let now = h.now;
    let c = h.shard.clear(&f, now);
    assert_eq!(c, vec![("ms-1/1/0".to_string(), "ss".to_string(), 1)]);
    assert_eq!(h.sessions().len(), 1);
    h.shard.check_consistency().unwrap();
}

#[test]
fn reload_keeps_sessions() {
    let text = config(ACCEPT_INSIDE, "inactivity-timeout 30;");
    let mut h = Harness::new(&text);
    h.send(&udp("10.0.0.2", 1, "198.51.100.7", 53, b"q"));
    let text2 = config(ACCEPT_INSIDE, "inactivity-timeout 60;");
    let c = mspic_config::parse(&text2, "t").unwrap();
    let p = std::sync::Arc::new(mspic_flow::Policy::compile(&c).unwrap());
    let now = h.now;
    h.shard.set_policy(p, now);
    assert_eq!(h.sessions().len(), 1);
    assert!(forwarded(
        h.send(&udp("198.51.100.7", 53, "10.0.0.2", 1, b"a")).0
    ));
    assert_eq!(h.sessions()[0].flows[1].frames, 1);
}

#[test]
fn traffic_to_the_router_itself_is_local_not_serviced() {
    let mut h = Harness::new(&config(ACCEPT_INSIDE, ""));
    let (v, _) = h.send(&ping("10.0.0.2", "10.0.0.1", 1, 1, false));
    assert_eq!(v, Verdict::Local);
    assert!(h.sessions().is_empty());
}

#[test]
fn prefix_lists_ranges_and_application_sets_match() {
    let text = config(
        "term web { from { source-prefix-list inside; destination-address-range low 198.51.100.10 high 198.51.100.20; application-sets web; } then { accept; } }",
        "",
    )
    .replace(
        "services {",
        "policy-options { prefix-list inside { 10.0.0.0/25; } }\napplications { application-set web { application junos-http; application junos-https; } }\nservices {",
    );
    let mut h = Harness::new(&text);
    let ok = |h: &mut Harness, src: &str, dst: &str, port: u16| {
        matches!(
            h.send(&tcp(src, 40000 + port, dst, port, "S", 1, 0, b"")).0,
            Verdict::Forward { .. }
        )
    };
    assert!(ok(&mut h, "10.0.0.2", "198.51.100.15", 80));
    assert!(ok(&mut h, "10.0.0.2", "198.51.100.10", 443));
    assert!(
        !ok(&mut h, "10.0.0.200", "198.51.100.15", 80),
        "outside the prefix list"
    );
    assert!(
        !ok(&mut h, "10.0.0.2", "198.51.100.21", 80),
        "outside the range"
    );
    assert!(
        !ok(&mut h, "10.0.0.2", "198.51.100.15", 22),
        "not in the application set"
    );
    let st = h.stats();
    assert_eq!((st.rule_accepts, st.rule_discards), (2, 3));
}

#[test]
fn malformed_packets_are_counted_by_protocol() {
    let mut h = Harness::new(&config(ACCEPT_INSIDE, ""));
    // TCP with a data offset pointing past the segment.
    let mut bad_tcp = tcp("10.0.0.2", 1000, "198.51.100.7", 80, "S", 1, 0, b"");
    bad_tcp[14 + 20 + 12] = 0xf0;
    let (v, _) = h.send_on(IfIndex(0), &bad_tcp);
    assert!(
        matches!(v, Verdict::Drop(DropReason::Malformed(_))),
        "{v:?}"
    );
    // UDP with source port 0.
    let mut zero = udp("10.0.0.2", 1000, "198.51.100.7", 53, b"q");
    zero[14 + 20] = 0;
    zero[14 + 21] = 0;
    h.send_on(IfIndex(0), &zero);
    // An IPv4 header with a wrong checksum.
    let mut bad_ip = udp("10.0.0.2", 1000, "198.51.100.7", 53, b"q");
    bad_ip[14 + 10] ^= 0xff;
    h.send_on(IfIndex(0), &bad_ip);
    let e = h.stats().errors;
    assert_eq!((e.tcp.total, e.tcp.header_length), (1, 1));
    assert_eq!((e.udp.total, e.udp.port_zero), (1, 1));
    assert_eq!((e.ip.total, e.ip.bad_checksum), (1, 1));
    assert!(h.sessions().is_empty());
}

#[test]
fn a_session_takes_the_first_term_of_its_application_that_fits() {
    // Two terms fit UDP 5060: the first decides the ALG and the timeout. TCP 5060 fits
    // only the second, UDP 1719 only the third.
    let text = config(
        "term voip { from { source-address { 10.0.0.0/24; } applications voip; } then { accept; } }",
        "inactivity-timeout 30;",
    )
    .replace(
        "applications {",
        "applications {
    application voip {
        term sig { application-protocol sip; protocol udp; destination-port 5000-5100; inactivity-timeout 200; }
        term any-5060 { application-protocol h323; destination-port 5060; protocol tcp; }
        term ras { application-protocol ras; protocol udp; destination-port 1719; }
        term late { application-protocol tftp; protocol udp; destination-port 5060; inactivity-timeout 90; }
    }",
    );
    let mut h = Harness::new(&text);
    assert!(forwarded(
        h.send(&udp("10.0.0.2", 6000, "198.51.100.7", 5060, b"INVITE"))
            .0
    ));
    assert!(forwarded(
        h.send(&tcp("10.0.0.2", 6001, "198.51.100.7", 5060, "S", 1, 0, b""))
            .0
    ));
    assert!(forwarded(
        h.send(&udp("10.0.0.2", 6002, "198.51.100.7", 1719, b"rrq"))
            .0
    ));
    let (v, _) = h.send(&udp("10.0.0.2", 6003, "198.51.100.7", 5200, b"x"));
    assert!(
        matches!(v, Verdict::Drop(DropReason::RuleDiscard)),
        "no term fits"
    );
    let got: Vec<_> = h
        .sessions()
        .iter()
        .map(|s| (s.flows[0].dst.port, s.alg, s.flows[0].timeout))
        .collect();
    assert_eq!(
        got,
        [
            (Some(5060), Some(AppProtocol::Sip), 200),
            (Some(5060), Some(AppProtocol::H323), 30),
            (Some(1719), Some(AppProtocol::Ras), 30),
            (Some(5200), None, 30),
        ]
    );
}

#[test]
fn except_entries_leave_their_addresses_to_later_terms() {
    // t1: any source but the `blocked` list, to any destination but 198.51.100.66 and
    // the except range; the rest falls to t2, which discards.
    let text = config(
        "term t1 { from { source-prefix-list blocked except;
                          destination-address { 198.51.100.66/32 except; }
                          destination-address-range { low 198.51.100.100 high 198.51.100.110 except; } }
                   then { accept; } }
         term t2 { then { discard; } }",
        "",
    )
    .replace(
        "services {",
        "policy-options { prefix-list blocked { 10.0.0.128/25; } }\nservices {",
    );
    let mut h = Harness::new(&text);
    let cases = [
        ("10.0.0.2", "198.51.100.7", true),
        ("10.0.0.200", "198.51.100.7", false),
        ("10.0.0.2", "198.51.100.66", false),
        ("10.0.0.2", "198.51.100.105", false),
        ("10.0.0.2", "198.51.100.111", true),
    ];
    for (i, (src, dst, accepted)) in cases.into_iter().enumerate() {
        let (v, _) = h.send(&udp(src, 7000 + i as u16, dst, 53, b"q"));
        assert_eq!(forwarded(v), accepted, "{src} -> {dst}");
    }
    let st = h.stats();
    assert_eq!((st.rule_accepts, st.rule_discards), (2, 3));
}

#[test]
fn ip_options_pass_only_when_the_term_allows_them() {
    let mut h = Harness::new(&config(
        "term ra { from { destination-address { 198.51.100.7/32; } }
                   then { accept; allow-ip-options [ router-alert 7 ]; } }
         term t1 { from { source-address { 10.0.0.0/24; } } then { accept; } }",
        "",
    ));
    let router_alert = [148, 4, 0, 0];
    let record_route = [7, 7, 4, 0, 0, 0, 0, 0];
    let lsrr = [131, 7, 4, 192, 0, 2, 1, 0];
    let bad_length = [148, 9, 0, 0];
    let pkt = |dst: &str, opts: &[u8]| with_ip_options(&udp("10.0.0.2", 4000, dst, 53, b"q"), opts);
    // Session to .7: router alert and record route allowed, on its first packet and later.
    assert!(forwarded(h.send(&pkt("198.51.100.7", &router_alert)).0));
    assert!(forwarded(h.send(&pkt("198.51.100.7", &record_route)).0));
    let drops = [
        (
            pkt("198.51.100.7", &lsrr),
            "source route on the allowed session",
        ),
        (pkt("198.51.100.7", &bad_length), "malformed option"),
        (
            pkt("198.51.100.8", &router_alert),
            "first packet, term allows none",
        ),
    ];
    for (frame, why) in &drops {
        let (v, _) = h.send(frame);
        assert_eq!(v, Verdict::Drop(DropReason::IpOptions), "{why}");
    }
    assert!(
        forwarded(h.send(&pkt("198.51.100.8", &[1, 1, 1, 0])).0),
        "padding only"
    );
    assert!(forwarded(
        h.send(&udp("10.0.0.2", 4000, "198.51.100.8", 53, b"q")).0
    ));
    let s = h.sessions();
    assert_eq!(s.len(), 2, "the refused first packet made no session");
    assert_eq!(
        s[0].flows[0].frames, 2,
        "dropped packets are not counted on the flow"
    );
    let st = h.stats();
    assert_eq!(st.drop_ip_options, 3);
    assert_eq!(st.rule_accepts, 2);
}

#[test]
fn traceroute_ttl_threshold_drops_probes_that_would_go_further() {
    let text = config(
        "term tr { from { applications tr; } then { accept; } }
         term t1 { from { source-address { 10.0.0.0/24; } } then { accept; } }",
        "",
    )
    .replace(
        "applications {",
        "applications {
    application tr { application-protocol traceroute; protocol udp; destination-port 33435-33450; ttl-threshold 5; }",
    );
    let mut h = Harness::new(&text);
    let probe =
        |port: u16, ttl: u8| udp_ttl("10.0.0.2", 50000, "198.51.100.7", port, b"probe", ttl);
    assert!(forwarded(h.send(&probe(33435, 5)).0));
    assert_eq!(
        h.send(&probe(33436, 6)).0,
        Verdict::Drop(DropReason::Alg),
        "first probe above"
    );
    assert_eq!(
        h.send(&probe(33435, 9)).0,
        Verdict::Drop(DropReason::Alg),
        "later packet above"
    );
    assert!(forwarded(h.send(&probe(33435, 2)).0));
    // Another application on the same ports, no threshold: any TTL.
    assert!(forwarded(
        h.send(&udp_ttl("10.0.0.2", 50001, "198.51.100.7", 40000, b"x", 64))
            .0
    ));
    let s = h.sessions();
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].alg, Some(AppProtocol::Traceroute));
    assert_eq!(s[0].flows[0].frames, 2);
    assert_eq!(h.stats().errors.alg, 2);
}

/// `show interfaces` counters: every frame through the services interface is an input,
/// forwarded frames outputs with their bytes, refused ones drops; the rates are the last
/// whole second's, and 0 once a second passed without traffic.
#[test]
fn interface_traffic_and_rates() {
    let mut h = Harness::new(&config(ACCEPT_INSIDE, ""));
    let syn = tcp("10.0.0.2", 40000, "198.51.100.7", 80, "S", 100, 0, b"");
    let data = udp("10.0.0.2", 5000, "198.51.100.7", 53, &[7; 100]);
    // From outside, starting nothing the firewall accepts: dropped.
    let refused = udp("198.51.100.7", 53, "10.0.0.2", 6000, b"x");
    let mut out_bytes = 0;
    for f in [&syn, &data, &data] {
        let (v, out) = h.send(f);
        assert!(forwarded(v));
        out_bytes += out.len() as u64;
    }
    assert!(matches!(h.send(&refused).0, Verdict::Drop(_)));
    let t = h.stats().traffic;
    let in_bytes = (syn.len() + 2 * data.len() + refused.len()) as u64;
    assert_eq!(
        (
            t.input_packets,
            t.input_bytes,
            t.output_packets,
            t.output_bytes,
            t.drops
        ),
        (4, in_bytes, 3, out_bytes, 1)
    );
    // Still within the first second: no whole second yet.
    assert_eq!((t.input_pps, t.output_pps), (0, 0));
    h.advance_ms(1_000);
    let t = h.stats().traffic;
    assert_eq!((t.input_pps, t.input_bps), (4, in_bytes * 8));
    assert_eq!((t.output_pps, t.output_bps), (3, out_bytes * 8));
    h.advance_ms(1_000);
    let t = h.stats().traffic;
    assert_eq!((t.input_pps, t.output_bps), (0, 0));
    assert_eq!(t.input_packets, 4, "the totals stay");
}
