//! `mspic replay --syslog FILE`: the session, NAT and firewall logs a small generated
//! capture makes, line by line, stamped with the capture's time. Message texts: Junos
//! system log reference (JSERVICES_SESSION_OPEN, JSERVICES_SESSION_CLOSE,
//! JSERVICES_NAT_RULE_MATCH, JSERVICES_SFW_RULE_ACCEPT, JSERVICES_SFW_RULE_DROP); line
//! layout: "Interpreting Messages Generated in Standard Format by Services on a PIC".

use std::process::Command;
use std::time::Duration;

use mspic_tests::live::Scratch;
use mspic_tests::{testbed, Gen, Host, Sides, Trace};

const CONFIG: &str = r#"
interfaces {
    ge-0/0/0 { unit 0 { family inet { service { input { service-set ss; } output { service-set ss; } } address 10.0.0.1/24; } } }
    ge-0/0/1 { unit 0 { family inet { address 203.0.113.1/24; } } }
    ms-1/1/0 { services-options { inactivity-timeout 30; } unit 0 { family inet; } }
}
routing-options { static { route 198.51.100.0/24 next-hop 203.0.113.2; } }
services {
    stateful-firewall {
        rule allow-out {
            match-direction input;
            term web { from { source-address 10.0.0.0/24; applications junos-http; } then { accept; syslog; } }
            term telnet { from { source-address 10.0.0.0/24; applications junos-telnet; } then { discard; syslog; } }
            term rest { from { source-address 10.0.0.0/24; } then { accept; } }
        }
    }
    nat {
        pool public { address 203.0.113.128/32; port { automatic; } }
        rule snat {
            match-direction input;
            term t1 { from { source-address 10.0.0.0/24; } then { translated { source-pool public; translation-type { napt-44; } } syslog; } }
        }
    }
    service-set ss {
        syslog {
            host 192.0.2.9 { services any; class { session-logs; nat-logs; stateful-firewall-logs; } facility-override local3; log-prefix PIC; }
        }
        stateful-firewall-rules allow-out;
        nat-rules snat;
        interface-service { service-interface ms-1/1/0; }
    }
}
"#;

/// One HTTP conversation, one UDP exchange, a refused telnet SYN, and a ping a minute
/// later that moves the clock past every timeout.
fn capture() -> Trace {
    let mut g = Gen::new(11);
    let mut t = Trace::new();
    let client = Host::inside([10, 0, 0, 5]);
    let web = Host::remote([198, 51, 100, 21]);
    let ms = Duration::from_millis;
    g.tcp_conversation(
        &mut t,
        &client,
        &web,
        41_671,
        80,
        ms(0),
        100,
        500,
        Sides::ClientOnly,
    );
    g.udp_exchange(
        &mut t,
        &client,
        &web,
        40_000,
        53,
        ms(500),
        1,
        40,
        80,
        ms(10),
        Sides::ClientOnly,
    );
    g.tcp_syn_only(&mut t, &client, &web, 41_700, 23, ms(700), 1);
    g.icmp_echo(
        &mut t,
        &client,
        &web,
        7,
        Duration::from_secs(90),
        1,
        ms(10),
        Sides::ClientOnly,
    );
    t
}

#[test]
fn replay_writes_the_log_lines_with_capture_time() {
    let (stdout, text) = replay_with_syslog("replay-syslog", CONFIG);
    let got: Vec<&str> = text.lines().collect();
    let want = EXPECTED.trim().lines().collect::<Vec<_>>();
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "line {}", i + 1);
    }
    assert_eq!(got.len(), want.len(), "{text}");
    // The statistics count the lines handed out (Junos page "show services service-sets
    // statistics syslog").
    assert_eq!(
        stdout,
        "Interface: ms-1/1/0\n  Rate limit: 0\n  Sent: 10\n  Dropped: 0\n  Service-set: ss\n    Rate limit: 0\n    Sent: 10\n    Dropped: 0\n"
    );
}

/// Expected, worked out by hand: every NAPT flow of a one-address pool takes port 1024 of
/// its protocol; local3.info is PRI 158; DEFAULT_EPOCH is 2025-01-01 00:00:00 UTC; the
/// TCP session closes 4 s after its FINs (close timeout), the UDP one 30 s after its last
/// packet (inactivity-timeout 30); the telnet SYN's drop flow is not logged as a session.
const EXPECTED: &str = "
<158>2025-01-01 00:00:00: PIC{ss}[jservices-sfw]: JSERVICES_SFW_RULE_ACCEPT: proto 6 (TCP) application: any, ge-0/0/0.0:10.0.0.5:41671 -> 198.51.100.21:80, Match SFW accept rule-set: (null), rule: allow-out, term: web
<158>2025-01-01 00:00:00: PIC{ss}[jservices-nat]: JSERVICES_NAT_RULE_MATCH: proto 6 (TCP) application: any, ge-0/0/0.0:10.0.0.5:41671 -> 198.51.100.21:80, Match NAT rule-set: (null), rule: snat, term: t1
<158>2025-01-01 00:00:00: PIC{ss}[jservices-nat]: JSERVICES_SESSION_OPEN: application:none, ge-0/0/0.0 10.0.0.5:41671 [203.0.113.128:1024] -> 198.51.100.21:80 (TCP)
<158>2025-01-01 00:00:00: PIC{ss}[jservices-nat]: JSERVICES_NAT_RULE_MATCH: proto 17 (UDP) application: any, ge-0/0/0.0:10.0.0.5:40000 -> 198.51.100.21:53, Match NAT rule-set: (null), rule: snat, term: t1
<158>2025-01-01 00:00:00: PIC{ss}[jservices-nat]: JSERVICES_SESSION_OPEN: application:none, ge-0/0/0.0 10.0.0.5:40000 [203.0.113.128:1024] -> 198.51.100.21:53 (UDP)
<158>2025-01-01 00:00:00: PIC{ss}[jservices-sfw]: JSERVICES_SFW_RULE_DROP: proto 6 (TCP) application: any, ge-0/0/0.0:10.0.0.5:41700 -> 198.51.100.21:23, Match SFW drop rule-set: (null), rule: allow-out, term: telnet
<158>2025-01-01 00:00:04: PIC{ss}[jservices-nat]: JSERVICES_SESSION_CLOSE: application:none, ge-0/0/0.0 10.0.0.5:41671 [203.0.113.128:1024] -> 198.51.100.21:80 (TCP)
<158>2025-01-01 00:00:30: PIC{ss}[jservices-nat]: JSERVICES_SESSION_CLOSE: application:none, ge-0/0/0.0 10.0.0.5:40000 [203.0.113.128:1024] -> 198.51.100.21:53 (UDP)
<158>2025-01-01 00:01:30: PIC{ss}[jservices-nat]: JSERVICES_NAT_RULE_MATCH: proto 1 (ICMP) application: any, ge-0/0/0.0:10.0.0.5:7 -> 198.51.100.21:2048, Match NAT rule-set: (null), rule: snat, term: t1
<158>2025-01-01 00:01:30: PIC{ss}[jservices-nat]: JSERVICES_SESSION_OPEN: application:none, ge-0/0/0.0 10.0.0.5:7 [203.0.113.128:1024] -> 198.51.100.21:2048 (ICMP ECHO REQUEST)
";

/// The same capture with the collector under `interfaces ms-1/1/0 services-options syslog`
/// (Junos "syslog (Interfaces)": the hosts of service sets without their own) and
/// `message-rate-limit 2`: of each second's lines the first two go, the others are counted
/// as dropped.
#[test]
fn interface_hosts_and_rate_limit() {
    let host = "host 192.0.2.9 { services any; class { session-logs; nat-logs; stateful-firewall-logs; } facility-override local3; log-prefix PIC; }";
    let config = CONFIG
        .replace(&format!("        syslog {{\n            {host}\n        }}\n"), "")
        .replace(
            "ms-1/1/0 { services-options { inactivity-timeout 30; }",
            &format!("ms-1/1/0 {{ services-options {{ inactivity-timeout 30; syslog {{ {host} message-rate-limit 2; }} }}"),
        );
    assert!(config.contains("message-rate-limit 2") && !config.contains("        syslog {"));
    let (stdout, text) = replay_with_syslog("replay-syslog-rate", &config);
    let all: Vec<&str> = EXPECTED.trim().lines().collect();
    let want: Vec<&str> = [0, 1, 6, 7, 8, 9].iter().map(|&i| all[i]).collect();
    assert_eq!(text.lines().collect::<Vec<_>>(), want);
    assert_eq!(
        stdout,
        "Interface: ms-1/1/0\n  Rate limit: 2\n  Sent: 6\n  Dropped: 4\n  Service-set: ss\n    Rate limit: 2\n    Sent: 6\n    Dropped: 4\n"
    );
}

/// `mspic replay --respond --syslog` of [`capture`] through `config`, showing the syslog
/// statistics: its stdout and the log lines it wrote.
fn replay_with_syslog(scratch: &str, config: &str) -> (String, String) {
    let dir = Scratch::new(scratch);
    let (conf, pcap, log) = (
        dir.path("c.conf"),
        dir.path("c.pcap"),
        dir.path("syslog.txt"),
    );
    std::fs::write(&conf, config).unwrap();
    capture().write_pcap(&pcap).unwrap();
    let out = Command::new(testbed::workspace_bin("mspic"))
        .args(["replay", "--respond"])
        .args(["--command", "show services service-sets statistics syslog"])
        .arg("--config")
        .arg(&conf)
        .arg("--pcap")
        .arg(&pcap)
        .arg("--syslog")
        .arg(&log)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        std::fs::read_to_string(&log).unwrap(),
    )
}

/// A subscriber on a secured port block allocation pool with `interim-logging-interval
/// 60` (Junos "Interim Logging for Secured Port Block Allocation"): a UDP exchange every
/// 10 s for 390 s keeps a port of its block in use, so the block is logged again each
/// minute (JSERVICES_NAT_PORT_BLOCK_ACTIVE at the capture time it was due); it went
/// inactive at 120 s (`active-block-timeout`), so it goes back when the session times
/// out at 420 s; a ping at 500 s takes the block again.
#[test]
fn interim_port_block_logs_at_capture_times() {
    let config = CONFIG
        .replace(
            "pool public { address 203.0.113.128/32; port { automatic; } }",
            "pool public { address 203.0.113.128/32; port { range low 1024 high 65535; secured-port-block-allocation { block-size 128; active-block-timeout 120; interim-logging-interval 60; } } }",
        )
        .replace("class { session-logs; nat-logs; stateful-firewall-logs; }", "class { nat-logs; }")
        .replace("napt-44; } } syslog; }", "napt-44; } } }");
    assert!(
        config.contains("interim-logging-interval 60") && config.contains("class { nat-logs; }")
    );
    let dir = Scratch::new("replay-syslog-interim");
    let (conf, pcap, log) = (
        dir.path("c.conf"),
        dir.path("c.pcap"),
        dir.path("syslog.txt"),
    );
    std::fs::write(&conf, &config).unwrap();
    let mut g = Gen::new(12);
    let mut t = Trace::new();
    let (client, server) = (
        Host::inside([10, 0, 0, 5]),
        Host::remote([198, 51, 100, 21]),
    );
    let s = Duration::from_secs;
    g.udp_exchange(
        &mut t,
        &client,
        &server,
        40_000,
        53,
        s(0),
        40,
        40,
        80,
        s(10),
        Sides::ClientOnly,
    );
    g.icmp_echo(
        &mut t,
        &client,
        &server,
        7,
        s(500),
        1,
        s(1),
        Sides::ClientOnly,
    );
    t.write_pcap(&pcap).unwrap();
    let out = Command::new(testbed::workspace_bin("mspic"))
        .args(["replay", "--respond", "--config"])
        .arg(&conf)
        .arg("--pcap")
        .arg(&pcap)
        .arg("--syslog")
        .arg(&log)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    // DEFAULT_EPOCH, 2025-01-01 00:00:00 UTC, is Unix time 0x67748580.
    let line = |secs: u64, tag: &str| {
        format!(
            "<158>2025-01-01 00:{:02}:{:02}: PIC{{ss}}[jservices-nat]: JSERVICES_NAT_PORT_BLOCK_{tag}: 10.0.0.5 -> 203.0.113.128:1024-1151, 0x{:08x}",
            secs / 60,
            secs % 60,
            0x6774_8580 + secs
        )
    };
    let mut want = vec![line(0, "ALLOC")];
    want.extend((60..=360).step_by(60).map(|t| line(t, "ACTIVE")));
    want.push(line(420, "RELEASE"));
    want.push(line(500, "ALLOC"));
    assert_eq!(text.lines().collect::<Vec<_>>(), want, "{text}");
}
