//! Offline replay against generated captures: the sessions the engine shows match what the
//! capture holds (tuples, states, directions, frame and byte counts), idle sessions expire
//! in capture time, the firewall's discards and rejects show as Drop/Reject sessions, and
//! with the responder NAT round trips come back translated with valid checksums.

use std::sync::Arc;
use std::time::Duration;

use mspic_flow::{FlowDirection, FlowState, SessionFilter, SessionSnapshot, Time};
use mspic_offline::replay::{Replay, ReplayOptions};
use mspic_tests::check::checksums_valid;
use mspic_tests::{mixed_client_traffic, Conversation, Proto, Sides, Trace};

fn repo_file(rel: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn replay(config: &str, workers: u32, respond: bool) -> Replay {
    let cfg = mspic_config::parse(&repo_file(config), config).unwrap_or_else(|e| panic!("{e}"));
    let policy = Arc::new(mspic_flow::Policy::compile(&cfg).unwrap());
    Replay::new(
        policy,
        &ReplayOptions {
            workers,
            respond,
            ..ReplayOptions::default()
        },
    )
    .unwrap()
}

fn proto_number(p: Proto) -> u8 {
    match p {
        Proto::Tcp => 6,
        Proto::Udp => 17,
        Proto::Icmp => 1,
        Proto::Icmpv6 => 58,
    }
}

/// The live session whose I flow carries `c`'s tuple.
fn session_of(r: &mut Replay, c: &Conversation) -> Vec<SessionSnapshot> {
    let t = &c.tuple;
    let proto = proto_number(t.proto);
    let f = SessionFilter {
        source_prefix: Some(mspic_config::Prefix::host(t.src)),
        destination_prefix: Some(mspic_config::Prefix::host(t.dst)),
        protocol: Some(proto),
        ..SessionFilter::default()
    };
    mspic_control::Backend::sessions(r, &f)
        .into_iter()
        .filter(|s| {
            let i = &s.flows[0];
            i.direction == FlowDirection::I
                && i.src.addr == t.src
                && i.dst.addr == t.dst
                && (matches!(t.proto, Proto::Icmp | Proto::Icmpv6)
                    || (i.src.port == Some(t.sport) && i.dst.port == Some(t.dport)))
        })
        .collect()
}

fn epoch_ns(trace: &Trace, ts: Duration) -> u64 {
    (trace.epoch() + ts).as_nanos() as u64
}

/// What the firewall-only example config does with each kind of conversation.
fn expected_state(label: &str) -> FlowState {
    match label {
        "telnet" | "inbound-ssh" | "inbound-snmp" => FlowState::Drop,
        "tftp-rrq" => FlowState::Reject,
        _ => FlowState::Forward,
    }
}

#[test]
fn sessions_match_the_capture_at_each_conversations_end() {
    for workers in [1, 2, 4] {
        let (trace, summary) = mixed_client_traffic(7, 4, Duration::from_secs(60), Sides::Both);
        let mut r = replay("docs/examples/firewall-only.conf", workers, false);
        let frames = trace.frames();
        let mut checked = 0;
        for (i, f) in frames.iter().enumerate() {
            r.process(epoch_ns(&trace, f.ts), &f.data);
            let next_ts = frames.get(i + 1).map(|n| n.ts);
            for c in &summary.conversations {
                // Check once, after the conversation's last frame.
                if c.last != f.ts || next_ts == Some(f.ts) {
                    continue;
                }
                let found = session_of(&mut r, c);
                let want = expected_state(&c.label);
                let matching: Vec<_> = found
                    .iter()
                    .filter(|s| {
                        s.flows[0].frames == c.client.frames && s.flows[1].frames == c.server.frames
                    })
                    .collect();
                assert_eq!(
                    matching.len(),
                    1,
                    "{workers} workers, {} {:?}: sessions {found:#?}",
                    c.label,
                    c.tuple
                );
                let s = matching[0];
                assert_eq!(s.flows[0].state, want, "{} I state", c.label);
                assert_eq!(s.flows[1].state, want, "{} O state", c.label);
                assert_eq!(s.flows[0].bytes, c.client.ip_bytes, "{} I bytes", c.label);
                assert_eq!(s.flows[1].bytes, c.server.ip_bytes, "{} O bytes", c.label);
                // The O flow is the reverse tuple (no NAT here).
                assert_eq!(s.flows[1].src.addr, c.tuple.dst);
                assert_eq!(s.flows[1].dst.addr, c.tuple.src);
                assert_eq!(
                    (s.interface.as_str(), s.service_set.as_str()),
                    ("ms-1/1/0", "fw")
                );
                checked += 1;
            }
        }
        assert_eq!(
            checked,
            summary.conversations.len(),
            "every conversation checked"
        );
    }
}

#[test]
fn idle_sessions_expire_in_capture_time() {
    let (trace, summary) = mixed_client_traffic(7, 4, Duration::from_secs(60), Sides::Both);
    let idle = summary
        .by_label("idle-udp")
        .next()
        .expect("idle conversation")
        .clone();
    let resumed = summary
        .by_label("idle-udp-resumed")
        .next()
        .expect("resumed conversation")
        .clone();
    let mut r = replay("docs/examples/firewall-only.conf", 1, false);
    let mut id_before = None;
    for f in trace.frames() {
        if f.ts == resumed.first {
            // 42 s of silence: the 30 s inactivity timeout removed the first session.
            r.advance(Time(epoch_ns(&trace, f.ts)));
            assert!(
                session_of(&mut r, &idle).is_empty(),
                "idle session still there"
            );
        }
        r.process(epoch_ns(&trace, f.ts), &f.data);
        if f.ts == idle.last {
            id_before = session_of(&mut r, &idle).first().map(|s| s.id);
            // Still there 29.9 s later, gone at 30 s.
            r.advance(Time(epoch_ns(&trace, f.ts + Duration::from_millis(29_900))));
            assert_eq!(session_of(&mut r, &idle).len(), 1);
        }
    }
    let after = session_of(&mut r, &resumed);
    assert_eq!(after.len(), 1);
    assert_ne!(Some(after[0].id), id_before, "a new session after expiry");
}

#[test]
fn text_layouts_and_filters() {
    let (trace, summary) = mixed_client_traffic(7, 4, Duration::from_secs(60), Sides::Both);
    let mut r = replay("docs/examples/firewall-only.conf", 2, false);
    let blocked_end = ["telnet", "tftp-rrq"]
        .iter()
        .map(|l| summary.by_label(l).next().expect(l).last)
        .max()
        .unwrap();
    let mut blocked_checked = false;
    for f in trace.frames() {
        r.process(epoch_ns(&trace, f.ts), &f.data);
        if f.ts == blocked_end {
            // What the firewall discards and rejects shows as Drop and Reject sessions.
            let t = mspic_control::execute("show services sessions", &mut r).unwrap();
            assert!(t.contains(" Drop     I "), "{t}");
            assert!(t.contains(" Drop     O "), "{t}");
            assert!(t.contains(" Reject   I "), "{t}");
            blocked_checked = true;
        }
    }
    assert!(blocked_checked);
    let plain = mspic_control::execute("show services sessions", &mut r).unwrap();
    let all = mspic_control::Backend::sessions(&mut r, &SessionFilter::default());
    assert!(!all.is_empty());
    // Layout: interface line, then per session a header and two flow lines whose 7th
    // whitespace field is the frame count (what operators awk for).
    let mut lines = plain.lines();
    assert_eq!(lines.next(), Some("ms-1/1/0"));
    let headers = plain.lines().filter(|l| l.starts_with("Session: ")).count();
    assert_eq!(headers, all.len());
    for l in plain
        .lines()
        .filter(|l| l.contains(" -> ") || l.contains(" ->"))
    {
        let fields: Vec<&str> = l.split_whitespace().collect();
        assert!(matches!(fields[0], "TCP" | "UDP" | "ICMP"), "{l}");
        assert!(fields.last().unwrap().parse::<u64>().is_ok(), "{l}");
        assert!(matches!(fields[fields.len() - 2], "I" | "O"), "{l}");
    }
    // brief and terse print what plain prints.
    for v in ["brief", "terse"] {
        assert_eq!(
            mspic_control::execute(&format!("show services sessions {v}"), &mut r).unwrap(),
            plain
        );
    }
    let ext = mspic_control::execute("show services sessions extensive", &mut r).unwrap();
    assert_eq!(ext.matches("  Byte count: ").count(), 2 * all.len());
    assert_eq!(ext.matches("Flow role: Initiator").count(), all.len());
    let count = mspic_control::execute("show services sessions count", &mut r).unwrap();
    assert_eq!(
        count,
        format!(
            "Interface   Service set                                          Sessions count\n{:<12}{:<53}{:>14}\n",
            "ms-1/1/0",
            "fw",
            all.len()
        )
    );
    // Every filter selects exactly the sessions that match it.
    let check = |r: &mut Replay, words: &str, pred: &dyn Fn(&SessionSnapshot) -> bool| {
        let want = all.iter().filter(|s| pred(s)).count();
        let out = mspic_control::execute(&format!("show services sessions {words}"), r).unwrap();
        let got = out.lines().filter(|l| l.starts_with("Session: ")).count();
        assert_eq!(got, want, "{words}");
        want
    };
    let any_flow =
        |s: &SessionSnapshot, f: &dyn Fn(&mspic_flow::FlowSnapshot) -> bool| s.flows.iter().any(f);
    assert!(check(&mut r, "protocol udp", &|s| s.flows[0].protocol == 17) > 0);
    assert!(check(&mut r, "protocol icmp", &|s| s.flows[0].protocol == 1) > 0);
    assert!(
        check(&mut r, "destination-port 53", &|s| any_flow(s, &|f| f
            .dst
            .port
            == Some(53)))
            > 0
    );
    assert!(
        check(&mut r, "source-port 53", &|s| any_flow(s, &|f| f.src.port
            == Some(53)))
            > 0
    );
    let p: mspic_config::Prefix = "10.0.0.3/32".parse().unwrap();
    assert!(
        check(&mut r, "source-prefix 10.0.0.3", &|s| any_flow(s, &|f| p
            .contains(f.src.addr)))
            > 0
    );
    let d: mspic_config::Prefix = "198.51.100.0/24".parse().unwrap();
    assert!(
        check(&mut r, "destination-prefix 198.51.100.0/24", &|s| any_flow(
            s,
            &|f| d.contains(f.dst.addr)
        )) > 0
    );
    check(&mut r, "interface ms-1/1/0", &|_| true);
    check(&mut r, "service-set fw", &|_| true);
    check(&mut r, "service-set nope", &|_| false);
    check(&mut r, "application-protocol dns", &|s| {
        s.alg == Some(mspic_config::AppProtocol::Dns)
    });
    let limited = mspic_control::execute("show services sessions limit 2", &mut r).unwrap();
    assert_eq!(
        limited
            .lines()
            .filter(|l| l.starts_with("Session: "))
            .count(),
        2.min(all.len())
    );
    // service-sets summary: the memory the live sessions take.
    let summary = mspic_control::execute("show services service-sets summary", &mut r).unwrap();
    let bytes = all.len() as u64 * mspic_flow::Shard::bytes_per_session();
    assert!(
        summary
            .lines()
            .any(|l| l.starts_with("ms-1/1/0       1               ")
                && l.contains(&format!("{bytes} ("))),
        "{summary}"
    );
    // Stateful-firewall counters add up: one rule decision per session created.
    let st = mspic_control::Backend::sfw_statistics(&mut r);
    assert!(st[0].1.rule_discards >= 1 && st[0].1.rule_rejects >= 1);
}

#[test]
fn nat_round_trips_with_the_responder() {
    let (trace, summary) = mixed_client_traffic(11, 4, Duration::from_secs(60), Sides::ClientOnly);
    let mut r = replay("docs/examples/testbed.conf", 2, true);
    let pool: mspic_config::Prefix = "203.0.113.128/25".parse().unwrap();
    let mut outside = 0;
    let mut back_inside = 0;
    for f in trace.frames() {
        for o in r.process(epoch_ns(&trace, f.ts), &f.data) {
            assert!(
                checksums_valid(&o.frame),
                "bad checksum in {:02x?}",
                o.frame
            );
            let p = mspic_wire::parse_frame(&o.frame).unwrap();
            if p.key.dst.to_string().starts_with("10.0.0.") {
                back_inside += 1;
                assert!(!pool.contains(p.key.src));
            } else if p.key.src != p.key.dst {
                // Leaving towards the servers: the source is a pool address.
                if pool.contains(p.key.src) {
                    outside += 1;
                } else {
                    panic!("untranslated frame left: {:?}", p.key);
                }
            }
        }
    }
    assert!(
        outside > 100 && back_inside > 100,
        "{outside} out, {back_inside} back"
    );
    // Every live session's O flow is addressed to a pool address and port.
    let sessions = mspic_control::Backend::sessions(&mut r, &SessionFilter::default());
    assert!(!sessions.is_empty());
    for s in &sessions {
        let o = &s.flows[1];
        assert!(pool.contains(o.dst.addr), "{s:?}");
        if s.flows[0].protocol != 1 {
            assert!(o.dst.port.unwrap() >= 1024);
        }
        assert_eq!(s.flags & mspic_flow::FLAG_NAT, mspic_flow::FLAG_NAT);
        assert!(o.frames > 0, "responder answered {s:?}");
    }
    let ext = mspic_control::execute("show services sessions extensive", &mut r).unwrap();
    assert!(ext
        .contains("NAT PLugin Data:\n  NAT Action:   Translation Type - NAPT-44\n    NAT source "));
    let pools = mspic_control::execute("show services nat pool detail", &mut r).unwrap();
    // Each live session holds one pool port (ICMP: one query id).
    assert!(
        pools.contains(&format!(
            "Ports in use: {}, Out of port errors: 0",
            sessions.len()
        )),
        "{pools}"
    );
    assert!(summary.conversations.len() > 20);
}
