//! The configuration corpus in tests/data/corpus: realistic MS-PIC configurations, one per
//! feature the Junos services guides describe (CGNAT on a next-hop service set with
//! EIM/EIF/paired pooling, the same with port block allocation and NAT/session logs,
//! deterministic NAT, a stateful firewall with applications and application sets, twice
//! NAT, dnat-44 port forwarding, a dual-stack firewall, static and dynamic source NAT, stateful NAT64). Each one loads, compiles, and replays a generated capture through 1 and 3 workers
//! with the built-in responder; every conversation ends in the session the configuration
//! promises (forwarded and translated as written, or dropped/rejected), checked flow by
//! flow. `mspic check` on each file is run by crates/cli/tests/corpus.rs.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mspic_flow::syslog::LogKind;
use mspic_flow::{FlowDirection, FlowState, SessionFilter, SessionSnapshot};
use mspic_offline::replay::{Replay, ReplayOptions};
use mspic_tests::check::checksums_valid;
use mspic_tests::{Conversation, Gen, Host, Proto, Sides, Trace};

/// What a conversation of a corpus case must become.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// Forwarded both ways (the responder's replies reach the client), with this NAT type
    /// as `show services sessions` names it, or none.
    Pass(Option<&'static str>),
    /// Forwarded out, no reply expected (the far side is behind a serviced interface).
    Out(Option<&'static str>),
    /// Kept as a session in this state, nothing forwarded.
    Blocked(FlowState),
}

/// Traffic of one case: conversations and what each must become.
type Plan = Vec<(Conversation, Expect)>;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn corpus(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/corpus")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A TCP conversation of `req`/`resp` bytes, client side only.
fn tcp(g: &mut Gen, t: &mut Trace, c: &Host, s: &Host, cp: u16, sp: u16, at: u64) -> Conversation {
    g.tcp_conversation(t, c, s, cp, sp, ms(at), 300, 2000, Sides::ClientOnly)
}

/// Two UDP requests, client side only.
fn udp(g: &mut Gen, t: &mut Trace, c: &Host, s: &Host, cp: u16, sp: u16, at: u64) -> Conversation {
    g.udp_exchange(
        t,
        c,
        s,
        cp,
        sp,
        ms(at),
        2,
        60,
        120,
        ms(20),
        Sides::ClientOnly,
    )
}

fn ping(g: &mut Gen, t: &mut Trace, c: &Host, s: &Host, id: u16, at: u64) -> Conversation {
    g.icmp_echo(t, c, s, id, ms(at), 2, ms(10), Sides::ClientOnly)
}

fn syn(g: &mut Gen, t: &mut Trace, c: &Host, s: &Host, cp: u16, sp: u16, at: u64) -> Conversation {
    g.tcp_syn_only(t, c, s, cp, sp, ms(at), 2)
}

fn cgnat_plan(g: &mut Gen, t: &mut Trace) -> Plan {
    let napt = Expect::Pass(Some("NAPT-44"));
    let mut plan = Vec::new();
    for i in 0..3u8 {
        let c = Host::inside([10, 0, 0, 2 + i]);
        let s = Host::remote([198, 51, 100, 20 + i]);
        let at = 100 * u64::from(i);
        plan.push((udp(g, t, &c, &s, 40_000, 53, at), napt));
        // The same internal endpoint to a second server: the same mapping (EIM).
        let s2 = Host::remote([198, 51, 100, 40 + i]);
        plan.push((udp(g, t, &c, &s2, 40_000, 5060, at + 30), napt));
        plan.push((tcp(g, t, &c, &s, 41_000, 80, at + 50), napt));
        plan.push((ping(g, t, &c, &s, 7 + u16::from(i), at), napt));
    }
    plan
}

fn deterministic_plan(g: &mut Gen, t: &mut Trace) -> Plan {
    cgnat_plan(g, t)
        .into_iter()
        .map(|(c, _)| (c, Expect::Pass(Some("DETERMINISTIC-NAPT44"))))
        .collect()
}

fn sfw_plan(g: &mut Gen, t: &mut Trace) -> Plan {
    let c = Host::inside([10, 0, 0, 2]);
    let s = Host::remote([198, 51, 100, 20]);
    let outsider = Host::remote([198, 51, 100, 9]);
    vec![
        (tcp(g, t, &c, &s, 41_000, 80, 0), Expect::Pass(None)),
        (tcp(g, t, &c, &s, 41_001, 443, 10), Expect::Pass(None)),
        (tcp(g, t, &c, &s, 41_002, 8080, 20), Expect::Pass(None)),
        (udp(g, t, &c, &s, 40_000, 53, 30), Expect::Pass(None)),
        (ping(g, t, &c, &s, 9, 40), Expect::Pass(None)),
        (
            syn(g, t, &c, &s, 41_003, 23, 50),
            Expect::Blocked(FlowState::Reject),
        ),
        (
            udp(g, t, &c, &s, 40_001, 5000, 60),
            Expect::Blocked(FlowState::Drop),
        ),
        (
            syn(g, t, &outsider, &c, 41_004, 22, 70),
            Expect::Blocked(FlowState::Drop),
        ),
    ]
}

fn twice_nat_plan(g: &mut Gen, t: &mut Trace) -> Plan {
    let public = Host::outside([203, 0, 113, 10]);
    let twice = Expect::Pass(Some("TWICE NAPT-44"));
    let mut plan = Vec::new();
    for i in 0..3u8 {
        let partner = Host::remote([198, 51, 100, 30 + i]);
        let at = 100 * u64::from(i);
        plan.push((tcp(g, t, &partner, &public, 42_000, 80, at), twice));
        plan.push((udp(g, t, &partner, &public, 42_001, 53, at + 20), twice));
    }
    plan
}

fn port_forwarding_plan(g: &mut Gen, t: &mut Trace) -> Plan {
    let public = Host::outside([203, 0, 113, 10]);
    let dnat = Expect::Pass(Some("DNAT-44"));
    let client = Host::remote([198, 51, 100, 30]);
    let inside = Host::inside([10, 0, 0, 2]);
    let web = Host::remote([198, 51, 100, 20]);
    vec![
        (tcp(g, t, &client, &public, 43_000, 8080, 0), dnat),
        (tcp(g, t, &client, &public, 43_001, 2222, 20), dnat),
        (
            syn(g, t, &client, &public, 43_002, 443, 40),
            Expect::Blocked(FlowState::Drop),
        ),
        // The inside's own sessions leave by napt-44 through the same service set (its
        // output direction); their far end sits behind the serviced interface.
        (
            tcp(g, t, &inside, &web, 44_000, 80, 60),
            Expect::Out(Some("NAPT-44")),
        ),
    ]
}

fn ipv6_plan(g: &mut Gen, t: &mut Trace) -> Plan {
    let c6 = Host::inside(ip("2001:db8:10::2"));
    let s6 = Host::outside_via(ip("2001:db8:2::20"), ip("2001:db8:ff::2"));
    let c4 = Host::inside([10, 0, 0, 2]);
    let s4 = Host::remote([198, 51, 100, 20]);
    vec![
        (tcp(g, t, &c6, &s6, 45_000, 80, 0), Expect::Pass(None)),
        (tcp(g, t, &c6, &s6, 45_001, 443, 10), Expect::Pass(None)),
        (ping(g, t, &c6, &s6, 11, 20), Expect::Pass(None)),
        (
            udp(g, t, &c6, &s6, 45_002, 53, 30),
            Expect::Blocked(FlowState::Drop),
        ),
        (
            tcp(g, t, &c4, &s4, 45_003, 80, 40),
            Expect::Pass(Some("NAPT-44")),
        ),
    ]
}

fn nat64_plan(g: &mut Gen, t: &mut Trace) -> Plan {
    let c6 = Host::inside(ip("2001:db8:10::2"));
    // 198.51.100.20 in the well-known prefix (RFC 6052 §2.2).
    let s = Host::remote(ip("64:ff9b::c633:6414"));
    let nat64 = Expect::Pass(Some("STATEFUL NAT64"));
    vec![
        (tcp(g, t, &c6, &s, 47_000, 80, 0), nat64),
        (udp(g, t, &c6, &s, 47_001, 53, 10), nat64),
        (ping(g, t, &c6, &s, 12, 20), nat64),
    ]
}

fn static_dynamic_plan(g: &mut Gen, t: &mut Trace) -> Plan {
    let s = Host::remote([198, 51, 100, 20]);
    let mut plan = Vec::new();
    for (i, (host, kind)) in [(2u8, "BASIC NAT44"), (70, "DYNAMIC NAT44")]
        .into_iter()
        .enumerate()
    {
        let c = Host::inside([10, 0, 0, host]);
        let at = 50 * i as u64;
        plan.push((tcp(g, t, &c, &s, 46_000, 80, at), Expect::Pass(Some(kind))));
        plan.push((
            udp(g, t, &c, &s, 46_001, 53, at + 10),
            Expect::Pass(Some(kind)),
        ));
    }
    let stranger = Host::inside([10, 0, 0, 130]);
    plan.push((
        udp(g, t, &stranger, &s, 46_002, 53, 120),
        Expect::Blocked(FlowState::Drop),
    ));
    plan
}

/// The session of conversation `c` (by its client-side tuple).
fn session_of<'a>(
    sessions: &'a [SessionSnapshot],
    c: &Conversation,
) -> Option<&'a SessionSnapshot> {
    let t = &c.tuple;
    let ports = !matches!(t.proto, Proto::Icmp | Proto::Icmpv6);
    sessions.iter().find(|s| {
        let i = s.flows.iter().find(|f| f.direction == FlowDirection::I);
        i.is_some_and(|i| {
            i.protocol == t.proto.number()
                && i.src.addr == t.src
                && i.dst.addr == t.dst
                && (!ports || (i.src.port == Some(t.sport) && i.dst.port == Some(t.dport)))
        })
    })
}

/// A finished replay and its sessions, for case-specific checks.
struct Outcome {
    replay: Replay,
    sessions: Vec<SessionSnapshot>,
}

/// Replays `plan`'s trace through `file` with `workers` workers and checks every
/// conversation.
fn replay(file: &str, trace: &Trace, plan: &Plan, workers: u32) -> Outcome {
    let text = corpus(file);
    let cfg = mspic_config::parse(&text, file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let policy = Arc::new(mspic_flow::Policy::compile(&cfg).unwrap_or_else(|e| panic!("{e}")));
    let opts = ReplayOptions {
        workers,
        respond: true,
        ..ReplayOptions::default()
    };
    let mut r = Replay::new(policy, &opts).unwrap();
    for f in trace.frames() {
        for o in r.process((trace.epoch() + f.ts).as_nanos() as u64, &f.data) {
            assert!(checksums_valid(&o.frame), "{file}: bad checksum out");
        }
    }
    let sessions = mspic_control::Backend::sessions(&mut r, &SessionFilter::default());
    for (c, want) in plan {
        let what = format!("{file}, {workers} workers, {} {:?}", c.label, c.tuple);
        let s = session_of(&sessions, c).unwrap_or_else(|| panic!("{what}: no session"));
        let i = &s.flows[0];
        let o = &s.flows[1];
        let nat = s.nat.as_ref().map(|n| n.translation_type.show_name());
        match *want {
            Expect::Pass(kind) | Expect::Out(kind) => {
                // Sessions an ALG follows (DNS here) show Watch.
                assert!(
                    matches!(i.state, FlowState::Forward | FlowState::Watch),
                    "{what}: {:?}",
                    i.state
                );
                assert_eq!(i.frames, c.client.frames, "{what}: frames in");
                assert_eq!(nat, kind, "{what}: NAT");
                if matches!(want, Expect::Pass(_)) {
                    assert!(o.frames > 0, "{what}: no reply came back");
                }
            }
            Expect::Blocked(state) => {
                assert_eq!(i.state, state, "{what}");
                assert_eq!(o.frames, 0, "{what}: reply to a blocked session");
            }
        }
    }
    assert_eq!(
        sessions.len(),
        plan.len(),
        "{file}: one session per conversation"
    );
    Outcome {
        replay: r,
        sessions,
    }
}

/// Builds a case's trace and plan, then replays it with 1 and 3 workers.
fn run(file: &str, build: fn(&mut Gen, &mut Trace) -> Plan) -> Vec<Outcome> {
    let mut g = Gen::new(7);
    let mut t = Trace::new();
    let plan = build(&mut g, &mut t);
    [1, 3].map(|w| replay(file, &t, &plan, w)).into()
}

#[test]
fn cgnat_next_hop_with_eim_eif_and_paired_pooling() {
    for Outcome { sessions, .. } in run("cgnat-nexthop-eim.conf", cgnat_plan) {
        // Paired pooling: all of a subscriber's sessions share one public address; EIM:
        // its two UDP sessions from port 40000 share one public port.
        for i in 0..3u8 {
            let host = IpAddr::from([10, 0, 0, 2 + i]);
            let mut addrs = Vec::new();
            let mut udp_ports = Vec::new();
            for s in sessions.iter().filter(|s| s.flows[0].src.addr == host) {
                let o = &s.flows[1];
                addrs.push(o.dst.addr);
                if o.protocol == 17 {
                    udp_ports.push(o.dst.port);
                }
            }
            addrs.dedup();
            udp_ports.dedup();
            assert_eq!(addrs.len(), 1, "{host}: paired pooling, got {addrs:?}");
            assert_eq!(udp_ports.len(), 1, "{host}: EIM, got {udp_ports:?}");
        }
    }
}

#[test]
fn stateful_firewall_with_applications_and_sets() {
    let runs = run("sfw-applications.conf", sfw_plan);
    // The user application's own inactivity timeout applies to its sessions.
    let s = runs[0]
        .sessions
        .iter()
        .find(|s| s.flows[0].dst.port == Some(8080))
        .unwrap();
    assert_eq!(s.flows[0].timeout, 600);
}

#[test]
fn twice_nat_translates_both_addresses() {
    for Outcome { sessions, .. } in run("twice-nat.conf", twice_nat_plan) {
        for s in &sessions {
            // The server sees a partner-side pool address and port, and answers it.
            let o = &s.flows[1];
            assert_eq!(o.src.addr, ip("10.0.0.10"));
            let IpAddr::V4(a) = o.dst.addr else { panic!() };
            assert_eq!(a.octets()[..3], [203, 0, 113]);
            assert!((64..80).contains(&a.octets()[3]), "{a}");
            assert!((20_000..40_000).contains(&o.dst.port.unwrap()), "{o:?}");
        }
    }
}

#[test]
fn dnat_port_forwarding_reaches_the_translated_ports() {
    for Outcome { sessions, .. } in run("dnat-port-forwarding.conf", port_forwarding_plan) {
        for (public, private) in [(8080, 80), (2222, 22)] {
            let s = sessions
                .iter()
                .find(|s| s.flows[0].dst.port == Some(public))
                .unwrap_or_else(|| panic!("no session to {public}"));
            let o = &s.flows[1];
            assert_eq!((o.src.addr, o.src.port), (ip("10.0.0.10"), Some(private)));
        }
    }
}

#[test]
fn dual_stack_firewall() {
    run("ipv6-firewall.conf", ipv6_plan);
}

#[test]
fn stateful_nat64_to_the_well_known_prefix() {
    for Outcome { sessions, .. } in run("stateful-nat64.conf", nat64_plan) {
        for s in &sessions {
            // The reply flow is the IPv4 server's, to the pool.
            assert_eq!(s.flows[1].src.addr, ip("198.51.100.20"));
            let IpAddr::V4(pool) = s.flows[1].dst.addr else {
                panic!("{s:?}")
            };
            assert_eq!(pool.octets()[..3], [203, 0, 113]);
        }
    }
}

#[test]
fn static_and_dynamic_source_nat_by_customer() {
    for Outcome { sessions, .. } in run("static-and-dynamic-nat.conf", static_dynamic_plan) {
        for s in sessions
            .iter()
            .filter(|s| s.flows[0].state == FlowState::Forward)
        {
            let from = s.flows[0].src.addr;
            let to = s.flows[1].dst.addr;
            if from == ip("10.0.0.2") {
                assert_eq!(to, ip("198.18.0.2"), "basic-nat44 keeps the host offset");
            } else {
                let IpAddr::V4(a) = to else { panic!() };
                assert!((200..=203).contains(&a.octets()[3]), "{a}");
            }
        }
    }
}

/// PBA with EIM and paired pooling and session/NAT logs: every subscriber's public ports
/// lie in one 256-port block of its one address, and the logs hold one
/// JSERVICES_NAT_PORT_BLOCK_ALLOC per subscriber, before that subscriber's first open.
#[test]
fn cgnat_port_blocks_with_logs() {
    for mut o in run("cgnat-pba-syslog.conf", cgnat_plan) {
        for i in 0..3u8 {
            let host = IpAddr::from([10, 0, 0, 2 + i]);
            let mut blocks: Vec<(IpAddr, u16)> = o
                .sessions
                .iter()
                .filter(|s| s.flows[0].src.addr == host && s.flows[1].protocol != 1)
                .map(|s| {
                    let d = &s.flows[1].dst;
                    (d.addr, (d.port.unwrap() - 1024) / 256)
                })
                .collect();
            blocks.dedup();
            assert_eq!(blocks.len(), 1, "{host}: {blocks:?}");
        }
        let logs = o.replay.drain_logs();
        let kinds: Vec<(LogKind, IpAddr)> = logs.iter().map(|e| (e.kind, e.key.src)).collect();
        for i in 0..3u8 {
            let host = IpAddr::from([10, 0, 0, 2 + i]);
            let alloc = kinds
                .iter()
                .position(|k| *k == (LogKind::PortBlockAlloc, host));
            let open = kinds
                .iter()
                .position(|k| *k == (LogKind::SessionOpen, host));
            assert!(
                alloc.is_some() && alloc < open,
                "{host}: block allocated at {alloc:?}, first open at {open:?}"
            );
            let allocs = kinds
                .iter()
                .filter(|k| **k == (LogKind::PortBlockAlloc, host))
                .count();
            assert_eq!(allocs, 1, "{host}");
        }
    }
}

/// Deterministic NAT: each session's public address and port lead back, through
/// `show services nat deterministic-nat internal-host`, to the subscriber that made it.
#[test]
fn deterministic_nat_reverse_lookup_names_every_subscriber() {
    for mut o in run("deterministic-nexthop.conf", deterministic_plan) {
        for s in o.sessions.iter().filter(|s| s.flows[1].protocol != 1) {
            let host = s.flows[0].src.addr;
            let d = &s.flows[1].dst;
            let cmd = format!(
                "show services nat deterministic-nat internal-host {} port {}",
                d.addr,
                d.port.unwrap()
            );
            let text = mspic_control::execute(&cmd, &mut o.replay).unwrap();
            assert!(
                text.contains(&format!("Internal host: {host}, NAT IP: {}, ", d.addr)),
                "{cmd}:\n{text}"
            );
        }
    }
}

/// Every file of the corpus is exercised by one of the tests above.
#[test]
fn every_corpus_file_is_replayed() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/corpus");
    let src = include_str!("corpus.rs");
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        assert!(
            src.contains(&format!("run(\"{name}\"")),
            "{name} has no replay test"
        );
    }
}
