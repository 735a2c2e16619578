//! `services service-set NAME syslog host …` (Junos "syslog (Services Service Set)",
//! "class (Services Service Set syslog)"): both syntaxes, the model, printing back, and
//! the statements mspic refuses.

use mspic_config::*;

const BASE: &str = "set interfaces ms-1/1/0 unit 0 family inet
set services service-set ss interface-service service-interface ms-1/1/0
";

fn parse_ok(text: &str) -> Config {
    match parse(text, "s.conf") {
        Ok(c) => c,
        Err(e) => panic!("{e}\n--- text ---\n{text}"),
    }
}

fn errors(text: &str) -> Vec<String> {
    match parse(text, "s.conf") {
        Ok(_) => panic!("no error for:\n{text}"),
        Err(e) => e.0.iter().map(|d| d.to_string()).collect(),
    }
}

#[test]
fn hosts_in_both_syntaxes() {
    let braces = "interfaces { ms-1/1/0 { unit 0 { family inet; } } }
services {
    service-set ss {
        syslog {
            host 192.0.2.9 {
                services any;
                class { session-logs; nat-logs; }
                port 5514;
                facility-override local3;
                log-prefix CGN-1;
                source-address 198.51.100.1;
            }
            host 2001:db8::9 { services info; class { session-logs open; stateful-firewall-logs; } }
        }
        interface-service { service-interface ms-1/1/0; }
    }
}
";
    let set = format!(
        "{BASE}set services service-set ss syslog host 192.0.2.9 services any
set services service-set ss syslog host 192.0.2.9 class session-logs
set services service-set ss syslog host 192.0.2.9 class nat-logs
set services service-set ss syslog host 192.0.2.9 port 5514
set services service-set ss syslog host 192.0.2.9 facility-override local3
set services service-set ss syslog host 192.0.2.9 log-prefix CGN-1
set services service-set ss syslog host 192.0.2.9 source-address 198.51.100.1
set services service-set ss syslog host 2001:db8::9 services info
set services service-set ss syslog host 2001:db8::9 class session-logs open
set services service-set ss syslog host 2001:db8::9 class stateful-firewall-logs
"
    );
    let a = parse_ok(braces);
    let b = parse_ok(&set);
    assert_eq!(a, b);
    let hosts = &a.service_set("ss").unwrap().syslog;
    assert_eq!(
        hosts[0],
        SyslogHost {
            host: SyslogTarget::Address("192.0.2.9".parse().unwrap()),
            services: Some(SyslogSeverity::Any),
            class: Some(SyslogClass {
                session_open: true,
                session_close: true,
                nat: true,
                stateful_firewall: false,
            }),
            port: Some(5514),
            facility_override: Some(SyslogFacility::Local(3)),
            log_prefix: Some("CGN-1".into()),
            source_address: Some("198.51.100.1".parse().unwrap()),
        }
    );
    assert_eq!(hosts[0].facility_override.unwrap().code(), 19);
    let c = hosts[1].classes();
    assert!(c.session_open && !c.session_close && c.stateful_firewall && !c.nat);
    assert!(hosts[1].wants(SyslogSeverity::Info));
    assert!(!hosts[1].wants(SyslogSeverity::Any));
    // Printed back, both syntaxes parse to the same model.
    assert_eq!(parse_ok(&display::braces(&a)), a);
    assert_eq!(parse_ok(&display::set(&a)), a);
    assert!(display::set(&a)
        .contains("set services service-set ss syslog host 2001:db8::9 class session-logs open"));
}

#[test]
fn no_class_means_every_class() {
    let c = parse_ok(&format!(
        "{BASE}set services service-set ss syslog host 192.0.2.9 services any\n"
    ));
    let h = &c.service_set("ss").unwrap().syslog[0];
    assert_eq!(h.class, None);
    assert_eq!(h.classes(), SyslogClass::ALL);
}

#[test]
fn local_is_the_routing_engine_log() {
    let c = parse_ok(&format!(
        "{BASE}set services service-set ss syslog host local services any\n"
    ));
    let h = &c.service_set("ss").unwrap().syslog[0];
    assert_eq!(h.host, SyslogTarget::Local);
    assert!(display::set(&c).contains("syslog host local services any"));
}

#[test]
fn refused_statements_are_errors() {
    let cases = [
        (
            "syslog host collector services any",
            "s.conf:3:41: error: invalid address 'collector' (expected an IPv4 or IPv6 address)",
        ),
        (
            "syslog host 192.0.2.9 class alg-logs",
            "s.conf:3:57: error: syslog class 'alg-logs' is not supported (mspic does not produce those logs)",
        ),
        (
            "syslog host 192.0.2.9 services chatty",
            "s.conf:3:60: error: invalid severity level 'chatty' (expected one of: any, emergency, alert, critical, error, warning, notice, info)",
        ),
        (
            "syslog host 192.0.2.9 facility-override mail",
            "s.conf:3:69: error: invalid facility 'mail' (expected one of: authorization, daemon, ftp, kernel, local0, local1, local2, local3, local4, local5, local6, local7, user)",
        ),
        (
            "syslog message-rate-limit 100",
            "s.conf:3:36: error: syslog 'message-rate-limit' is not a service-set statement (set it under interfaces NAME services-options syslog)",
        ),
        (
            "syslog host 192.0.2.9 interface-service x",
            "s.conf:3:51: error: syslog host 'interface-service' is not supported (the service set's own services interface sends the logs)",
        ),
        (
            "syslog host 192.0.2.9 port 70000",
            "s.conf:3:56: error: invalid port '70000' (expected a number 0-65535)",
        ),
    ];
    for (stmt, want) in cases {
        let text = format!("{BASE}set services service-set ss {stmt}\n");
        assert_eq!(errors(&text), [want], "{stmt}");
    }
}

/// `interfaces ms-… services-options syslog` (Junos "syslog (Interfaces)"): the hosts of
/// the interface's service sets without their own, and the interface's rate limit.
#[test]
fn interface_defaults_and_rate_limit() {
    let c = parse_ok(&format!(
        "{BASE}set interfaces ms-1/1/0 services-options syslog host local services any
set interfaces ms-1/1/0 services-options syslog message-rate-limit 2000
"
    ));
    let o = &c.service_interface("ms-1/1/0").unwrap().options;
    assert_eq!(o.syslog.len(), 1);
    assert_eq!(o.syslog[0].host, SyslogTarget::Local);
    assert_eq!(o.syslog_rate_limit, Some(2000));
    assert_eq!(parse_ok(&display::braces(&c)), c);
    assert!(display::set(&c)
        .contains("set interfaces ms-1/1/0 services-options syslog message-rate-limit 2000"));
}
