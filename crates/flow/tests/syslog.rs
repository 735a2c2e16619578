//! Session, NAT and firewall logs (Junos system log reference: JSERVICES_SESSION_OPEN,
//! JSERVICES_SESSION_CLOSE, JSERVICES_NAT_RULE_MATCH, JSERVICES_SFW_RULE_ACCEPT,
//! JSERVICES_SFW_RULE_DROP, JSERVICES_NAT_PORT_BLOCK_ALLOC; line layout from "Interpreting
//! Messages Generated in Standard Format by Services on a PIC"): which events a shard makes
//! and the exact lines they become.

mod common;

use std::net::IpAddr;

use common::*;
use mspic_flow::syslog::{format, CloseReason, LogEvent, LogKind};
use mspic_flow::SessionFilter;
use mspic_flow::Time;

/// The testbed with a logging firewall term, a NAPT term and `syslog_host` statements.
fn logging_config(sfw_then: &str, nat_then: &str, syslog_host: &str) -> String {
    format!(
        r#"
interfaces {{
    ge-0/0/0 {{ unit 0 {{ family inet {{ service {{ input {{ service-set ss; }} output {{ service-set ss; }} }} address 10.0.0.1/24; }} }} }}
    ge-0/0/1 {{ unit 0 {{ family inet {{ address 203.0.113.1/24; }} }} }}
    ms-1/1/0 {{ services-options {{ inactivity-timeout 30; }} unit 0 {{ family inet; }} }}
}}
routing-options {{ static {{ route 198.51.100.0/24 next-hop 203.0.113.2; }} }}
services {{
    stateful-firewall {{
        rule allow-out {{
            match-direction input;
            term web {{ from {{ source-address 10.0.0.0/24; applications junos-http; }} then {{ accept; {sfw_then} }} }}
            term rest {{ from {{ source-address 10.0.0.0/24; }} then {{ discard; {sfw_then} }} }}
        }}
    }}
    nat {{
        pool public {{ address 203.0.113.128/25; port {{ automatic; }} }}
        rule snat {{
            match-direction input;
            term t1 {{ from {{ source-address 10.0.0.0/24; }} then {{ translated {{ source-pool public; translation-type {{ napt-44; }} }} {nat_then} }} }}
        }}
    }}
    service-set ss {{
        syslog {{ host 192.0.2.9 {{ {syslog_host} }} }}
        stateful-firewall-rules allow-out;
        nat-rules snat;
        interface-service {{ service-interface ms-1/1/0; }}
    }}
}}
"#
    )
}

/// Every event drained so far, as wire lines for the set's first host.
fn lines(h: &mut Harness) -> Vec<String> {
    let host = h.policy.syslog[0].hosts[0].clone();
    let policy = h.policy.clone();
    h.shard
        .drain_logs()
        .map(|e| {
            let mut s = String::new();
            format::wire_line(&mut s, &*policy, &host, &e);
            s
        })
        .collect()
}

fn syn(sport: u16, dport: u16) -> Vec<u8> {
    tcp("10.0.0.5", sport, "198.51.100.21", dport, "S", 1, 0, b"")
}

/// A logged NAPT session: firewall accept, NAT rule match, open, then close on timeout,
/// all with the capture's clock. Golden of the Junos system log reference texts
/// (JSERVICES_SFW_RULE_ACCEPT, JSERVICES_NAT_RULE_MATCH, JSERVICES_SESSION_OPEN,
/// JSERVICES_SESSION_CLOSE) in the line of "Interpreting Messages Generated in Standard
/// Format by Services on a PIC".
#[test]
fn napt_session_lines() {
    let mut h = Harness::new(&logging_config(
        "syslog;",
        "syslog;",
        "services any; facility-override local3; log-prefix CGN-1;",
    ));
    h.now = Time::from_secs(1_798_765_432);
    h.send(&syn(41671, 80));
    h.advance_ms(31_000);
    insta::assert_snapshot!(lines(&mut h).join("\n"));
    assert_eq!(h.shard.log_counts(), (4, 0));
}

/// Only the classes configured are sent: `session-logs open` makes the open alone.
#[test]
fn classes_filter_events() {
    let mut h = Harness::new(&logging_config(
        "syslog;",
        "syslog;",
        "services any; class { session-logs open; }",
    ));
    h.send(&syn(41671, 80));
    h.advance_ms(31_000);
    let l = lines(&mut h);
    assert_eq!(l.len(), 1, "{l:?}");
    assert!(
        l[0].contains("JSERVICES_SESSION_OPEN: application:none"),
        "{l:?}"
    );
}

/// Terms without `then syslog` log nothing, whatever the classes.
#[test]
fn terms_without_syslog_are_silent() {
    let mut h = Harness::new(&logging_config("", "", "services any;"));
    h.send(&syn(41671, 80));
    h.advance_ms(31_000);
    assert!(lines(&mut h).is_empty());
    assert_eq!(h.shard.log_counts(), (0, 0));
}

/// A discarding term with `syslog` logs the drop; no session open is logged for the
/// drop flow.
#[test]
fn firewall_drop_is_logged() {
    let mut h = Harness::new(&logging_config("syslog;", "", "services any;"));
    h.send(&syn(41671, 22));
    let l = lines(&mut h);
    assert_eq!(
        l,
        ["<30>1970-01-01 00:16:40: {ss}[jservices-sfw]: JSERVICES_SFW_RULE_DROP: proto 6 (TCP) application: any, ge-0/0/0.0:10.0.0.5:41671 -> 198.51.100.21:22, Match SFW drop rule-set: (null), rule: allow-out, term: rest"]
    );
}

/// A cleared session logs its close too.
#[test]
fn cleared_session_logs_close() {
    let mut h = Harness::new(&logging_config(
        "syslog;",
        "",
        "class { session-logs close; }",
    ));
    h.send(&syn(41671, 80));
    assert!(lines(&mut h).is_empty());
    h.shard.clear(&SessionFilter::default(), h.now);
    let l = lines(&mut h);
    assert_eq!(l.len(), 1);
    assert!(l[0].contains("JSERVICES_SESSION_CLOSE:"), "{l:?}");
}

/// When the driver does not drain in time the buffer drops and counts, never grows.
#[test]
fn full_buffer_drops_and_counts() {
    let mut h = Harness::new(&logging_config(
        "syslog;",
        "",
        "class { session-logs open; }",
    ));
    let n = 4096 + 10;
    for i in 0..n {
        h.send(&syn(10_000 + i as u16, 80));
    }
    assert_eq!(h.shard.log_counts(), (n as u64, 10));
    assert_eq!(h.shard.drain_logs().count(), 4096);
}

/// A pool with secured port block allocation logs its blocks: the subscriber's block is
/// allocated (logged before the session that took it opens) and released once its last
/// session closes and the block is no longer active (`active-block-timeout 120`: the
/// inactive empty block goes back on the next timer run).
#[test]
fn port_blocks_of_a_pba_pool_are_logged() {
    let cfg = logging_config("syslog;", "syslog;", "services any;").replace(
        "port {{ automatic; }}".replace("{{", "{").replace("}}", "}").as_str(),
        "port { range low 1024 high 65535; secured-port-block-allocation block-size 128 max-blocks-per-address 4 active-block-timeout 120; }",
    );
    assert!(cfg.contains("secured-port-block-allocation"), "{cfg}");
    let mut h = Harness::new(&cfg);
    h.now = Time::from_secs(1_798_765_432);
    h.send(&syn(41671, 80));
    let l = lines(&mut h);
    let tags: Vec<&str> = l
        .iter()
        .map(|x| {
            x.split(": ")
                .find(|w| w.starts_with("JSERVICES_"))
                .unwrap_or("")
        })
        .collect();
    assert_eq!(
        tags,
        [
            "JSERVICES_SFW_RULE_ACCEPT",
            "JSERVICES_NAT_RULE_MATCH",
            "JSERVICES_NAT_PORT_BLOCK_ALLOC",
            "JSERVICES_SESSION_OPEN",
        ],
        "{l:#?}"
    );
    let alloc = &l[2];
    assert!(
        alloc.contains("10.0.0.5 -> 203.0.113.128:1024-1151"),
        "{alloc}"
    );
    // The session times out (30 s); the block stays active until 120 s, then goes back.
    h.advance_ms(31_000);
    let l = lines(&mut h);
    assert!(
        l.iter().any(|x| x.contains("JSERVICES_SESSION_CLOSE")),
        "{l:#?}"
    );
    assert!(
        !l.iter().any(|x| x.contains("PORT_BLOCK_RELEASE")),
        "{l:#?}"
    );
    h.advance_ms(120_000);
    let l = lines(&mut h);
    assert_eq!(l.len(), 1, "{l:#?}");
    assert!(
        l[0].contains("JSERVICES_NAT_PORT_BLOCK_RELEASE")
            && l[0].contains("10.0.0.5 -> 203.0.113.128:1024-1151"),
        "{l:#?}"
    );
}

/// A PBA pool with `port secured-port-block-allocation … interim-logging-interval` (pool)
/// or the services interface's `pba-interim-logging-interval`; the firewall accepts all.
fn interim_config(pool_interim: &str, iface_interim: &str) -> String {
    logging_config("", "syslog;", "class { nat-logs; }")
        .replace("discard;", "accept;")
        .replace(
            "port {{ automatic; }}".replace("{{", "{").replace("}}", "}").as_str(),
            &format!("port {{ range low 1024 high 65535; secured-port-block-allocation block-size 128 active-block-timeout 120 {pool_interim}; }}"),
        )
        .replace("inactivity-timeout 30;", &format!("inactivity-timeout 30; {iface_interim}"))
}

/// Port block logs as (kind, seconds after the start, block) from the drained lines.
fn block_logs(h: &mut Harness, t0: u64) -> Vec<(String, u64, String)> {
    lines(h)
        .iter()
        .filter(|l| l.contains("PORT_BLOCK"))
        .map(|l| {
            let tag = l.split(": ").find(|w| w.starts_with("JSERVICES_")).unwrap();
            let (block, hex) = l.rsplit_once(", 0x").unwrap();
            let secs = u64::from_str_radix(hex, 16).unwrap();
            let block = block.rsplit_once(": ").unwrap().1;
            (tag.to_string(), secs - t0, block.to_string())
        })
        .collect()
}

/// Interim logging (Junos "Interim Logging for Secured Port Block Allocation"): while a
/// session keeps ports of its block in use, the block is logged again every interval
/// (JSERVICES_NAT_PORT_BLOCK_ACTIVE, stamped with when it was due, whenever the timer
/// sweep runs); once the block is released, nothing more.
#[test]
fn active_blocks_are_logged_every_interim_interval() {
    for (pool, iface) in [
        ("interim-logging-interval 60", ""),
        ("", "pba-interim-logging-interval 60;"),
        // The pool's own interval wins over the interface's.
        (
            "interim-logging-interval 60",
            "pba-interim-logging-interval 500;",
        ),
    ] {
        let mut h = Harness::new(&interim_config(pool, iface));
        let t0 = 1_798_765_432;
        h.now = Time::from_secs(t0);
        let block = "10.0.0.5 -> 203.0.113.128:1024-1151".to_string();
        let flow = udp("10.0.0.5", 5000, "198.51.100.21", 53, b"q");
        h.send(&flow);
        // Traffic every 7 s keeps the session (30 s timeout) and its port for 200 s.
        for _ in 0..28 {
            h.advance_ms(7_000);
            h.send(&flow);
        }
        h.advance_ms(100_000);
        let got = block_logs(&mut h, t0);
        let want: Vec<(String, u64, String)> = [
            ("JSERVICES_NAT_PORT_BLOCK_ALLOC", 0),
            ("JSERVICES_NAT_PORT_BLOCK_ACTIVE", 60),
            ("JSERVICES_NAT_PORT_BLOCK_ACTIVE", 120),
            ("JSERVICES_NAT_PORT_BLOCK_ACTIVE", 180),
            ("JSERVICES_NAT_PORT_BLOCK_RELEASE", 226),
        ]
        .into_iter()
        .map(|(k, t)| (k.to_string(), t, block.clone()))
        .collect();
        assert_eq!(got, want, "pool '{pool}', interface '{iface}'");
    }
}

/// Without an interval (or with 0) no interim log is made.
#[test]
fn no_interim_logs_without_an_interval() {
    for (pool, iface) in [
        ("", ""),
        (
            "interim-logging-interval 0",
            "pba-interim-logging-interval 60;",
        ),
    ] {
        let mut h = Harness::new(&interim_config(pool, iface));
        let start = h.now.as_secs();
        let flow = udp("10.0.0.5", 5000, "198.51.100.21", 53, b"q");
        h.send(&flow);
        for _ in 0..20 {
            h.advance_ms(7_000);
            h.send(&flow);
        }
        let got = block_logs(&mut h, start);
        assert!(
            got.iter().all(|(k, ..)| !k.ends_with("ACTIVE")),
            "pool '{pool}', interface '{iface}': {got:?}"
        );
        assert_eq!(got.len(), 1, "{got:?}");
    }
}

/// The port block logs, formatted on their own. Golden
/// of the Junos system log reference texts JSERVICES_NAT_PORT_BLOCK_ALLOC,
/// JSERVICES_NAT_PORT_BLOCK_ACTIVE and JSERVICES_NAT_PORT_BLOCK_RELEASE.
#[test]
fn port_block_lines() {
    let h = Harness::new(&logging_config("", "", "services any;"));
    let host = h.policy.syslog[0].hosts[0].clone();
    let t = Time::from_secs(1_798_765_432);
    let internal: IpAddr = "10.0.0.5".parse().unwrap();
    let mut out = Vec::new();
    for kind in [
        LogKind::PortBlockAlloc,
        LogKind::PortBlockActive,
        LogKind::PortBlockRelease,
    ] {
        let e = LogEvent::port_block(t, kind, 0, internal, v4("203.0.113.130"), 1024, 1151);
        let mut s = String::new();
        format::wire_line(&mut s, &*h.policy, &host, &e);
        out.push(s);
    }
    insta::assert_snapshot!(out.join("\n"));
}

/// Close events carry why the session ended and its counters (the text does not show
/// them).
#[test]
fn close_events_carry_reason_and_counters() {
    let mut h = Harness::new(&logging_config(
        "syslog;",
        "",
        "class { session-logs close; }",
    ));
    h.send(&syn(41671, 80));
    h.advance_ms(6_000);
    let timed_out: Vec<LogEvent> = h.shard.drain_logs().collect();
    assert_eq!(timed_out.len(), 1);
    assert_eq!(
        timed_out[0].kind,
        LogKind::SessionClose(CloseReason::Timeout)
    );
    assert_eq!(timed_out[0].frames, [1, 0]);
    assert_eq!(timed_out[0].bytes, [40, 0]);
    h.send(&syn(41672, 80));
    h.shard.clear(&SessionFilter::default(), h.now);
    let cleared: Vec<LogEvent> = h.shard.drain_logs().collect();
    assert_eq!(cleared[0].kind, LogKind::SessionClose(CloseReason::Cleared));
}

/// A rule that came from a rule set names it in the rule-set field.
#[test]
fn rule_set_is_named() {
    let cfg = logging_config("", "syslog;", "class { nat-logs; }")
        .replace(
            "        rule snat {",
            "        rule-set cgn-rules { rule snat; }\n        rule snat {",
        )
        .replace("nat-rules snat;", "nat-rule-sets cgn-rules;");
    let mut h = Harness::new(&cfg);
    h.send(&syn(41671, 80));
    let l = lines(&mut h);
    assert_eq!(l.len(), 1, "{l:?}");
    assert!(
        l[0].ends_with("Match NAT rule-set: cgn-rules, rule: snat, term: t1"),
        "{l:?}"
    );
}
