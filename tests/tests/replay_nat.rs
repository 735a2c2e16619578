//! One replay per translation type: generated traffic from one side, the built-in responder
//! on the other, through 1 and 3 shards; every frame leaves correctly translated with valid
//! checksums, and the sessions show the right NAT block.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use mspic_flow::SessionFilter;
use mspic_offline::replay::{Replay, ReplayOptions};
use mspic_tests::check::checksums_valid;
use mspic_tests::{Gen, Host, Sides, Trace};

const BASE: &str = r#"
interfaces {
    ge-0/0/0 { unit 0 { family inet { INSIDE_SERVICE address 10.0.0.1/24; } } }
    ge-0/0/1 { unit 0 { family inet { OUTSIDE_SERVICE address 203.0.113.1/24; } } }
    ms-1/1/0 { unit 0 { family inet; } }
}
routing-options { static { route 198.51.100.0/24 next-hop 203.0.113.2; route 198.18.0.0/24 discard; } }
services {
    nat {
        pool src-napt { address 203.0.113.128/25; port { automatic; } }
        pool src-dyn { address 203.0.113.200/29; }
        pool src-basic { address 198.18.0.0/24; }
        pool web { address 10.0.0.10/32; }
        rule r {
            match-direction input;
            term t {
                from { FROM }
                then { translated { THEN } }
            }
        }
    }
    service-set ss { nat-rules r; interface-service { service-interface ms-1/1/0; } }
}
"#;

const INSIDE: &str = "service { input { service-set ss; } output { service-set ss; } }";

struct Case {
    kind: &'static str,
    from: &'static str,
    then: &'static str,
    /// Traffic starts on the outside (destination NAT cases).
    inbound: bool,
    show: &'static str,
}

const CASES: &[Case] = &[
    Case {
        kind: "napt-44",
        from: "source-address { 10.0.0.0/24; }",
        then: "source-pool src-napt; translation-type { napt-44; }",
        inbound: false,
        show: "NAPT-44",
    },
    Case {
        kind: "dynamic-nat44",
        from: "source-address { 10.0.0.0/24; }",
        then: "source-pool src-dyn; translation-type { dynamic-nat44; }",
        inbound: false,
        show: "DYNAMIC NAT44",
    },
    Case {
        kind: "basic-nat44",
        from: "source-address { 10.0.0.0/24; }",
        then: "source-pool src-basic; translation-type { basic-nat44; }",
        inbound: false,
        show: "BASIC NAT44",
    },
    Case {
        kind: "dnat-44",
        from: "destination-address { 203.0.113.10/32; }",
        then: "destination-pool web; translation-type { dnat-44; }",
        inbound: true,
        show: "DNAT-44",
    },
    Case {
        kind: "twice-napt-44",
        from: "destination-address { 203.0.113.10/32; }",
        then: "source-pool src-napt; destination-pool web; translation-type { twice-napt-44; }",
        inbound: true,
        show: "TWICE NAPT-44",
    },
    Case {
        kind: "twice-dynamic-nat-44",
        from: "destination-address { 203.0.113.10/32; }",
        then:
            "source-pool src-dyn; destination-pool web; translation-type { twice-dynamic-nat-44; }",
        inbound: true,
        show: "TWICE DYNAMIC NAT44",
    },
    Case {
        kind: "twice-basic-nat-44",
        from: "source-address { 198.51.100.0/24; } destination-address { 203.0.113.10/32; }",
        then:
            "source-pool src-basic; destination-pool web; translation-type { twice-basic-nat-44; }",
        inbound: true,
        show: "TWICE BASIC NAT44",
    },
];

fn config(c: &Case) -> String {
    let (inside, outside) = if c.inbound {
        ("", INSIDE)
    } else {
        (INSIDE, "")
    };
    BASE.replace("INSIDE_SERVICE", inside)
        .replace("OUTSIDE_SERVICE", outside)
        .replace("FROM", c.from)
        .replace("THEN", c.then)
}

/// Traffic from the initiating side only: UDP exchanges, TCP conversations, pings.
fn traffic(c: &Case) -> Trace {
    let mut g = Gen::new(3);
    let mut t = Trace::new();
    let server = |i: u8| -> Host {
        if c.inbound {
            Host::outside([203, 0, 113, 10])
        } else {
            Host::remote([198, 51, 100, 20 + i])
        }
    };
    let client = |i: u8| -> Host {
        if c.inbound {
            Host::remote([198, 51, 100, 30 + i])
        } else {
            Host::inside([10, 0, 0, 2 + i])
        }
    };
    for i in 0..3u8 {
        let start = Duration::from_millis(100 * u64::from(i));
        let (cl, sv) = (client(i), server(i));
        g.udp_exchange(
            &mut t,
            &cl,
            &sv,
            40_000 + u16::from(i),
            53,
            start,
            2,
            40,
            80,
            Duration::from_millis(20),
            Sides::ClientOnly,
        );
        g.tcp_conversation(
            &mut t,
            &cl,
            &sv,
            41_000 + u16::from(i),
            80,
            start + Duration::from_millis(50),
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
            Duration::from_millis(10),
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

#[test]
fn every_translation_type_round_trips() {
    for c in CASES {
        for workers in [1, 3] {
            let cfg = mspic_config::parse(&config(c), c.kind).unwrap_or_else(|e| panic!("{e}"));
            let policy = Arc::new(
                mspic_flow::Policy::compile(&cfg).unwrap_or_else(|e| panic!("{}: {e}", c.kind)),
            );
            let mut r = Replay::new(
                policy,
                &ReplayOptions {
                    workers,
                    respond: true,
                    ..Default::default()
                },
            )
            .unwrap();
            let trace = traffic(c);
            let (mut to_responder, mut back) = (0, 0);
            for f in trace.frames() {
                for o in r.process((trace.epoch() + f.ts).as_nanos() as u64, &f.data) {
                    assert!(checksums_valid(&o.frame), "{}: bad checksum", c.kind);
                    let p = mspic_wire::parse_frame(&o.frame).unwrap();
                    let (s, d) = (v4(p.key.src), v4(p.key.dst));
                    let from_initiator = if c.inbound {
                        d.octets()[0] == 10
                            || (s.octets()[0] == 198 && d == Ipv4Addr::new(10, 0, 0, 10))
                    } else {
                        d.octets()[0] == 198
                    };
                    if from_initiator && !c.inbound {
                        // Source NAT: the inside address never leaves.
                        assert_ne!(s.octets()[0], 10, "{}: untranslated {s}", c.kind);
                        to_responder += 1;
                    } else if c.inbound && d.octets()[0] == 10 {
                        // Destination NAT: delivered to the internal server.
                        assert_eq!(d, Ipv4Addr::new(10, 0, 0, 10), "{}", c.kind);
                        if c.kind.starts_with("twice") {
                            assert_ne!(
                                s.octets()[..3],
                                [198, 51, 100],
                                "{}: source not translated",
                                c.kind
                            );
                        }
                        to_responder += 1;
                    } else {
                        // The responder's reply, restored on its way back.
                        if c.inbound {
                            assert_eq!(
                                s,
                                Ipv4Addr::new(203, 0, 113, 10),
                                "{}: reply source",
                                c.kind
                            );
                            assert_eq!(d.octets()[..3], [198, 51, 100], "{}", c.kind);
                        } else {
                            assert_eq!(d.octets()[..3], [10, 0, 0], "{}: reply to {d}", c.kind);
                        }
                        back += 1;
                    }
                }
            }
            assert!(
                to_responder > 10 && back > 10,
                "{}: {to_responder} out, {back} back",
                c.kind
            );
            let sessions = mspic_control::Backend::sessions(&mut r, &SessionFilter::default());
            assert_eq!(sessions.len(), 9, "{}: 3 × (udp, tcp, icmp)", c.kind);
            for s in &sessions {
                let nat = s
                    .nat
                    .as_ref()
                    .unwrap_or_else(|| panic!("{}: no NAT on {s:?}", c.kind));
                assert_eq!(nat.translation_type.show_name(), c.show);
                assert_eq!(s.flags & mspic_flow::FLAG_NAT, mspic_flow::FLAG_NAT);
                assert!(s.flows[1].frames > 0, "{}: no reply on {s:?}", c.kind);
            }
            let ext = mspic_control::execute("show services sessions extensive", &mut r).unwrap();
            assert!(
                ext.contains(&format!("Translation Type - {}\n", c.show)),
                "{ext}"
            );
        }
    }
}
