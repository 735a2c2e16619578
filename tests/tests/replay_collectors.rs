//! A CGNAT replay through the commands collectors run: paired-pooling address mappings and
//! endpoint-independent mappings while their sessions live, kept `Inactive` after them for
//! the pool's `ei-mapping-timeout` and `app-mapping-timeout`, then gone (Junos "show
//! services nat mappings", "ei-mapping-timeout", "app-mapping-timeout"); and the firewall
//! and NAT counters zeroed in every shard by `clear services stateful-firewall statistics`
//! and `clear services nat statistics`, while traffic goes on counting from zero.

use std::sync::Arc;
use std::time::Duration;

use mspic_flow::Time;
use mspic_offline::replay::{Replay, ReplayOptions};
use mspic_tests::{Gen, Host, Sides, Trace};

const CONFIG: &str = r#"
interfaces {
    ge-0/0/0 { unit 0 { family inet { service { input { service-set ss; } output { service-set ss; } } address 10.0.0.1/24; } } }
    ge-0/0/1 { unit 0 { family inet { address 203.0.113.1/24; } } }
    ms-1/1/0 { services-options { inactivity-timeout 30; } unit 0 { family inet; } }
}
routing-options { static { route 198.51.100.0/24 next-hop 203.0.113.2; } }
services {
    nat {
        pool cgn {
            address 203.0.113.128/30;
            port { automatic; }
            ei-mapping-timeout 150;
            app-mapping-timeout 600;
        }
        rule r {
            match-direction input;
            term t {
                from { source-address { 10.0.0.0/24; } }
                then {
                    translated {
                        source-pool cgn;
                        translation-type { napt-44; }
                        mapping-type endpoint-independent;
                        address-pooling paired;
                    }
                }
            }
        }
    }
    stateful-firewall {
        rule allow { match-direction input; term t { from { source-address { 10.0.0.0/24; } } then { accept; } } }
    }
    service-set ss {
        stateful-firewall-rules allow;
        nat-rules r;
        interface-service { service-interface ms-1/1/0; }
    }
}
"#;

const SEC: u64 = 1_000_000_000;

/// A replay of CONFIG over `workers` shards.
fn replay(workers: u32) -> Replay {
    let cfg = mspic_config::parse(CONFIG, "cgn").unwrap_or_else(|e| panic!("{e}"));
    let policy = Arc::new(mspic_flow::Policy::compile(&cfg).unwrap());
    Replay::new(
        policy,
        &ReplayOptions {
            workers,
            respond: true,
            ..Default::default()
        },
    )
    .unwrap()
}

/// UDP exchanges from two subscribers; returns the time (ns) of the last frame.
fn run_traffic(r: &mut Replay) -> u64 {
    let mut g = Gen::new(7);
    let mut t = Trace::new();
    for i in 0..2u8 {
        g.udp_exchange(
            &mut t,
            &Host::inside([10, 0, 0, 2 + i]),
            &Host::remote([198, 51, 100, 20]),
            40_000,
            53,
            Duration::from_millis(100 * u64::from(i)),
            2,
            40,
            80,
            Duration::from_millis(20),
            Sides::ClientOnly,
        );
    }
    let mut last = 0;
    for f in t.frames() {
        last = (t.epoch() + f.ts).as_nanos() as u64;
        r.process(last, &f.data);
    }
    last
}

fn show(r: &mut Replay, cmd: &str) -> String {
    mspic_control::execute(cmd, r).unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

#[test]
fn mappings_live_then_linger_for_their_timeouts() {
    for workers in [1, 3] {
        let mut r = replay(workers);
        let end = run_traffic(&mut r);
        let all = show(&mut r, "show services nat mappings");
        for host in ["10.0.0.2", "10.0.0.3"] {
            assert!(
                all.contains(&format!("Address Mapping  : {host:<16}--> 203.0.113.")),
                "{all}"
            );
            assert!(
                all.contains(&format!(
                    "Mapping          : {host:<16}: 40000 --> 203.0.113."
                )),
                "{all}"
            );
        }
        assert_eq!(all.matches("Mapping State    : Active").count(), 4, "{all}");
        assert_eq!(show(&mut r, "show services nat mappings cgn"), all);
        assert_eq!(show(&mut r, "show services nat mappings other"), "");

        // Sessions end after 30 s idle; the EIM mappings stay, inactive, and keep their
        // ports, so the pairings are still in use.
        r.advance(Time(end + 60 * SEC));
        let eim = show(&mut r, "show services nat mappings endpoint-independent");
        assert_eq!(
            eim.matches("Mapping State    : Inactive").count(),
            2,
            "{eim}"
        );
        let app = show(&mut r, "show services nat mappings address-pooling-paired");
        assert_eq!(app.matches("Ports In Use     :     1").count(), 2, "{app}");
        // The EIM mappings go ei-mapping-timeout after their sessions.
        r.advance(Time(end + (30 + 140) * SEC));
        let eim = show(&mut r, "show services nat mappings endpoint-independent");
        assert_eq!(eim.matches("Mapping          :").count(), 2, "{eim}");
        r.advance(Time(end + (31 + 150 + 5) * SEC));
        assert_eq!(
            show(&mut r, "show services nat mappings endpoint-independent"),
            ""
        );
        // The pairing outlives them by app-mapping-timeout.
        r.advance(Time(end + (30 + 150 + 590) * SEC));
        let app = show(&mut r, "show services nat mappings address-pooling-paired");
        assert_eq!(
            app.matches("Mapping State    : Inactive").count(),
            2,
            "{app}"
        );
        r.advance(Time(end + (31 + 150 + 600 + 5) * SEC));
        assert_eq!(
            show(&mut r, "show services nat mappings address-pooling-paired"),
            "",
            "{workers} workers"
        );
    }
}

/// The value of counter `name` in `show services nat statistics`.
fn nat_counter(r: &mut Replay, name: &str) -> u64 {
    let text = show(r, "show services nat statistics");
    text.lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("{name} in {text}"))
        .parse()
        .unwrap()
}

/// New flows accepted by a rule (`Rule Accepts: N,`).
fn sfw_accepts(r: &mut Replay) -> u64 {
    let text = show(r, "show services stateful-firewall statistics");
    text.split("Rule Accepts: ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_else(|| panic!("{text}"))
        .parse()
        .unwrap()
}

#[test]
fn clear_statistics_zeroes_every_shard() {
    for workers in [1, 3] {
        let mut r = replay(workers);
        let end = run_traffic(&mut r);
        assert_eq!(nat_counter(&mut r, "nat-total-session-create"), 2);
        assert_eq!(nat_counter(&mut r, "nat-eim-mapping-created"), 2);
        assert_eq!(sfw_accepts(&mut r), 2);

        // Another interface's counters: nothing here changes.
        show(&mut r, "clear services nat statistics interface ms-9/9/9");
        show(
            &mut r,
            "clear services stateful-firewall statistics interface ms-9/9/9",
        );
        assert_eq!(nat_counter(&mut r, "nat-total-session-create"), 2);
        assert_eq!(sfw_accepts(&mut r), 2);

        assert_eq!(show(&mut r, "clear services nat statistics"), "");
        assert_eq!(nat_counter(&mut r, "nat-total-session-create"), 0);
        assert_eq!(nat_counter(&mut r, "nat-eim-mapping-created"), 0);
        assert_eq!(sfw_accepts(&mut r), 2, "the firewall counters stay");
        show(
            &mut r,
            "clear services stateful-firewall statistics interface ms-1/1/0",
        );
        assert_eq!(sfw_accepts(&mut r), 0);
        // What is in use stays: the mappings are still there.
        let eim = show(&mut r, "show services nat mappings endpoint-independent");
        assert_eq!(eim.matches("Mapping          :").count(), 2, "{eim}");

        // New traffic counts from zero.
        let mut g = Gen::new(9);
        let mut t = Trace::new();
        g.udp_exchange(
            &mut t,
            &Host::inside([10, 0, 0, 9]),
            &Host::remote([198, 51, 100, 20]),
            40_000,
            53,
            Duration::from_millis(0),
            1,
            40,
            80,
            Duration::from_millis(20),
            Sides::ClientOnly,
        );
        for f in t.frames() {
            r.process(end + SEC + f.ts.as_nanos() as u64, &f.data);
        }
        assert_eq!(
            nat_counter(&mut r, "nat-total-session-create"),
            1,
            "{workers}"
        );
        assert_eq!(sfw_accepts(&mut r), 1, "{workers}");
    }
}
