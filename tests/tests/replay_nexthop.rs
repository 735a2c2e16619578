//! A next-hop style service set in replay: a generated capture of inside clients whose
//! traffic the static route sends to the inside unit, the built-in responder as the
//! servers, through 1 and 3 shards. Every frame towards the servers leaves from the pool,
//! every reply comes back to the client untranslated, and the sessions show the set and
//! the NAT. Outside clients of a public address routed to the outside unit are serviced in
//! the output direction (destination NAT to the inside server).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use mspic_flow::SessionFilter;
use mspic_offline::replay::{Replay, ReplayOptions};
use mspic_tests::check::checksums_valid;
use mspic_tests::{Gen, Host, Sides, Trace};

const CONFIG: &str = r#"
interfaces {
    ge-0/0/0 { unit 0 { family inet { address 10.0.0.1/24; } } }
    ge-0/0/1 { unit 0 { family inet { address 203.0.113.1/24; } } }
    ms-1/1/0 {
        unit 1 { family inet; service-domain inside; }
        unit 2 { family inet; service-domain outside; }
    }
}
routing-options {
    static {
        route 198.51.100.0/24 next-hop ms-1/1/0.1;
        route 203.0.113.10/32 next-hop ms-1/1/0.2;
        route 0.0.0.0/0 next-hop 203.0.113.2;
    }
}
services {
    stateful-firewall {
        rule out {
            match-direction input;
            term t { from { source-address { 10.0.0.0/24; } } then { accept; } }
        }
        rule in {
            match-direction output;
            term t { from { destination-address { 203.0.113.10/32; } } then { accept; } }
        }
    }
    nat {
        pool cgn-pool { address 203.0.113.128/25; port { automatic; } }
        pool web { address 10.0.0.10/32; }
        rule cgn {
            match-direction input;
            term t {
                from { source-address { 10.0.0.0/24; } }
                then { translated { source-pool cgn-pool; translation-type { napt-44; } } }
            }
        }
        rule web {
            match-direction output;
            term t {
                from { destination-address { 203.0.113.10/32; } }
                then { translated { destination-pool web; translation-type { dnat-44; } } }
            }
        }
    }
    service-set cgn {
        stateful-firewall-rules [ out in ];
        nat-rules [ cgn web ];
        next-hop-service { inside-service-interface ms-1/1/0.1; outside-service-interface ms-1/1/0.2; }
    }
}
"#;

/// Three clients, each with a UDP exchange, a TCP conversation and a ping; clients only.
fn traffic() -> Trace {
    let mut g = Gen::new(11);
    let mut t = Trace::new();
    for i in 0..3u8 {
        let start = Duration::from_millis(100 * u64::from(i));
        let (cl, sv) = (
            Host::inside([10, 0, 0, 2 + i]),
            Host::remote([198, 51, 100, 20 + i]),
        );
        let port = 40_000 + u16::from(i);
        let gap = Duration::from_millis(20);
        g.udp_exchange(
            &mut t,
            &cl,
            &sv,
            port,
            53,
            start,
            2,
            40,
            80,
            gap,
            Sides::ClientOnly,
        );
        let at = start + Duration::from_millis(50);
        g.tcp_conversation(
            &mut t,
            &cl,
            &sv,
            port + 1000,
            80,
            at,
            200,
            3000,
            Sides::ClientOnly,
        );
        g.icmp_echo(
            &mut t,
            &cl,
            &sv,
            7 + u16::from(i),
            start,
            2,
            gap,
            Sides::ClientOnly,
        );
    }
    t
}

fn v4(a: IpAddr) -> Ipv4Addr {
    match a {
        IpAddr::V4(v) => v,
        IpAddr::V6(_) => panic!("IPv6"),
    }
}

/// Replays the capture; returns the frames out towards the servers and back to clients.
fn replay(r: &mut Replay, trace: &Trace) -> (usize, usize) {
    let (mut out, mut back) = (0, 0);
    for f in trace.frames() {
        for o in r.process((trace.epoch() + f.ts).as_nanos() as u64, &f.data) {
            assert!(checksums_valid(&o.frame), "bad checksum");
            let p = mspic_wire::parse_frame(&o.frame).unwrap();
            let (s, d) = (v4(p.key.src), v4(p.key.dst));
            if d.octets()[..3] == [198, 51, 100] {
                assert_eq!(s.octets()[..3], [203, 0, 113], "not from the pool: {s}");
                assert!(s.octets()[3] >= 128, "not from the pool: {s}");
                out += 1;
            } else {
                assert_eq!(d.octets()[..3], [10, 0, 0], "reply to {d}");
                assert_eq!(s.octets()[..3], [198, 51, 100], "reply from {s}");
                back += 1;
            }
        }
    }
    (out, back)
}

fn replays(workers: u32) -> Replay {
    let cfg = mspic_config::parse(CONFIG, "nexthop.conf").unwrap_or_else(|e| panic!("{e}"));
    let policy = Arc::new(mspic_flow::Policy::compile(&cfg).unwrap_or_else(|e| panic!("{e}")));
    let opts = ReplayOptions {
        workers,
        respond: true,
        ..Default::default()
    };
    Replay::new(policy, &opts).unwrap()
}

#[test]
fn next_hop_service_set_translates_and_restores() {
    let trace = traffic();
    for workers in [1, 3] {
        let mut r = replays(workers);
        let (out, back) = replay(&mut r, &trace);
        assert!(out > 10 && back > 10, "{workers}: {out} out, {back} back");
        let sessions = mspic_control::Backend::sessions(&mut r, &SessionFilter::default());
        assert_eq!(sessions.len(), 9, "3 × (udp, tcp, icmp)");
        for s in &sessions {
            assert_eq!(s.service_set, "cgn");
            assert_eq!(s.interface, "ms-1/1/0");
            let nat = s.nat.as_ref().unwrap_or_else(|| panic!("no NAT on {s:?}"));
            assert_eq!(nat.translation_type.show_name(), "NAPT-44");
            assert!(s.flows[1].frames > 0, "no reply on {s:?}");
        }
        let ext = mspic_control::execute("show services sessions extensive", &mut r).unwrap();
        assert!(ext.contains("Translation Type - NAPT-44\n"), "{ext}");
        assert!(ext.contains("NAT source        10.0.0.2:41000"), "{ext}");
    }
}

#[test]
fn traffic_routed_to_the_outside_unit_is_serviced_in_the_output_direction() {
    let mut g = Gen::new(12);
    let mut t = Trace::new();
    let server = Host::outside([203, 0, 113, 10]);
    for i in 0..3u8 {
        let client = Host::remote([198, 51, 100, 30 + i]);
        let start = Duration::from_millis(100 * u64::from(i));
        let port = 42_000 + u16::from(i);
        g.tcp_conversation(
            &mut t,
            &client,
            &server,
            port,
            80,
            start,
            200,
            2000,
            Sides::ClientOnly,
        );
    }
    for workers in [1, 3] {
        let mut r = replays(workers);
        let (mut inward, mut back) = (0, 0);
        for f in t.frames() {
            for o in r.process((t.epoch() + f.ts).as_nanos() as u64, &f.data) {
                assert!(checksums_valid(&o.frame), "bad checksum");
                let p = mspic_wire::parse_frame(&o.frame).unwrap();
                let (s, d) = (v4(p.key.src), v4(p.key.dst));
                if d == Ipv4Addr::new(10, 0, 0, 10) {
                    assert_eq!(s.octets()[..3], [198, 51, 100], "source kept: {s}");
                    inward += 1;
                } else {
                    assert_eq!(s, Ipv4Addr::new(203, 0, 113, 10), "reply from {s}");
                    assert_eq!(d.octets()[..3], [198, 51, 100], "reply to {d}");
                    back += 1;
                }
            }
        }
        // Each conversation's six client frames go in; the responder answers the SYN, the
        // request and the FIN, and its answers are not answered again.
        assert_eq!((inward, back), (18, 9), "{workers} workers");
        let sessions = mspic_control::Backend::sessions(&mut r, &SessionFilter::default());
        assert_eq!(sessions.len(), 3);
        for s in &sessions {
            let nat = s.nat.as_ref().unwrap_or_else(|| panic!("no NAT on {s:?}"));
            assert_eq!(nat.translation_type.show_name(), "DNAT-44");
            assert!(s.flows[1].frames > 0, "no reply on {s:?}");
        }
    }
}
