//! The testbed's default configuration (docs/examples/testbed.conf), in both syntaxes.

use mspic_config::*;

const BRACES: &str = include_str!("data/testbed.conf");
const SET: &str = include_str!("data/testbed.set");

fn parse_ok(text: &str, file: &str) -> Config {
    match parse(text, file) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn both_forms_give_equal_models() {
    let b = parse_ok(BRACES, "testbed.conf");
    let s = parse_ok(SET, "testbed.set");
    assert!(b.warnings.is_empty(), "{:?}", b.warnings);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    assert_eq!(b, s);
}

#[test]
fn key_values() {
    let c = parse_ok(BRACES, "testbed.conf");

    let ge0 = c.interface("ge-0/0/0").unwrap();
    let inet = ge0.units[0].inet.as_ref().unwrap();
    assert_eq!(
        inet.addresses,
        vec!["10.0.0.1/24".parse::<Prefix>().unwrap()]
    );
    assert_eq!(inet.input_service_set.as_deref(), Some("ss"));
    assert_eq!(inet.output_service_set.as_deref(), Some("ss"));
    assert!(c.interface("ge-0/0/1").unwrap().units[0]
        .inet
        .as_ref()
        .unwrap()
        .input_service_set
        .is_none());

    let ms = c.service_interface("ms-1/1/0").unwrap();
    assert_eq!(ms.options.inactivity_timeout, Some(30));
    assert_eq!(ms.options.open_timeout(), 5);
    assert_eq!(ms.options.close_timeout, None);
    assert_eq!(ms.units.len(), 1);
    assert!(ms.units[0].inet && !ms.units[0].inet6);

    assert_eq!(
        c.static_routes,
        vec![StaticRoute {
            prefix: "198.51.100.0/24".parse().unwrap(),
            next_hop: NextHop::Address("203.0.113.2".parse().unwrap()),
        }]
    );

    let pool = c.nat_pool("public").unwrap();
    assert_eq!(
        pool.addresses,
        vec!["203.0.113.128/25".parse::<Prefix>().unwrap()]
    );
    assert_eq!(pool.port, Some(PoolPort::Automatic { random: false }));
    assert_eq!(
        pool.port.unwrap().range(),
        PortRange {
            low: 1024,
            high: 65535
        }
    );

    let rule = c.sfw_rule("allow-out").unwrap();
    assert_eq!(rule.match_direction, MatchDirection::Input);
    assert_eq!(rule.terms.len(), 2);
    assert_eq!(rule.terms[0].name, "alg");
    assert_eq!(rule.terms[0].action, SfwAction::Accept);
    assert_eq!(
        rule.terms[0].from.applications,
        [
            "junos-ftp",
            "junos-tftp",
            "junos-dns-udp",
            "junos-sip",
            "junos-rtsp",
            "junos-pptp"
        ]
    );
    let apps = c.term_applications(&rule.terms[0].from);
    let names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "junos-ftp",
            "junos-tftp",
            "junos-dns-udp",
            "junos-sip",
            "junos-rtsp",
            "junos-pptp"
        ]
    );
    assert_eq!(
        apps[0].terms[0].application_protocol,
        Some(AppProtocol::Ftp)
    );
    let sip: Vec<_> = apps[3]
        .terms
        .iter()
        .map(|t| (t.protocol, t.application_protocol))
        .collect();
    assert_eq!(
        sip,
        [
            (Some(17), Some(AppProtocol::Sip)),
            (Some(6), Some(AppProtocol::Sip))
        ]
    );
    assert!(c.term_applications(&rule.terms[1].from).is_empty());
    assert_eq!(
        rule.terms[1].from.source_address,
        vec![AddressMatch::Prefix {
            prefix: "10.0.0.0/24".parse().unwrap(),
            except: false
        }]
    );

    let nat = c.nat_rule("snat").unwrap();
    assert_eq!(nat.match_direction, MatchDirection::Input);
    let NatThen::Translated(t) = &nat.terms[0].then else {
        panic!("not translated")
    };
    assert_eq!(t.source_pool.as_deref(), Some("public"));
    assert_eq!(t.translation_type, TranslationType::Napt44);

    let ss = c.service_set("ss").unwrap();
    assert_eq!(ss.sfw_rules, ["allow-out"]);
    assert_eq!(ss.nat_rules, ["snat"]);
    assert_eq!(
        ss.style,
        ServiceSetStyle::Interface {
            service_interface: "ms-1/1/0".into()
        }
    );
    assert_eq!(ss.service_interface(), "ms-1/1/0");

    assert_eq!(
        c.emulator.interfaces,
        vec![
            EmulatorInterface {
                name: "ge-0/0/0".into(),
                device: "pin".into()
            },
            EmulatorInterface {
                name: "ge-0/0/1".into(),
                device: "pout".into()
            },
        ]
    );
    assert!(c.application("junos-ftp").unwrap().predefined);
}

#[test]
fn printers_round_trip_the_testbed() {
    let c = parse_ok(BRACES, "testbed.conf");
    let b = display::braces(&c);
    let s = display::set(&c);
    assert_eq!(parse_ok(&b, "b"), c, "{b}");
    assert_eq!(parse_ok(&s, "s"), c, "{s}");
    assert!(
        s.starts_with("set interfaces ge-0/0/0 unit 0 family inet service input service-set ss\n")
    );
    assert!(s.ends_with("set emulator interface ge-0/0/1 device pout\n"));
}

/// A router's whole configuration: the stanzas mspic does not implement load with warnings.
#[test]
fn real_router_config_loads_with_warnings() {
    let c = parse_ok(include_str!("data/router.conf"), "router.conf");
    let w: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
    for line in &w {
        eprintln!("{line}");
    }
    assert!(w.contains(
        &"router.conf:11:1: warning: ignoring unsupported top-level stanza 'system'".to_string()
    ));
    assert!(c.sfw_rule("sfw-out").is_some());
    assert_eq!(
        c.nat_pool("cgn-pool").unwrap().port,
        Some(PoolPort::Automatic { random: true })
    );
    assert_eq!(c.service_set("cgn").unwrap().max_flows, Some(2_000_000));
    assert_eq!(
        c.interface("ae0").unwrap().units[0]
            .inet
            .as_ref()
            .unwrap()
            .addresses
            .len(),
        1
    );
    assert_eq!(c.static_routes.len(), 2);
    let printed = display::set(&c);
    assert_eq!(parse_ok(&printed, "printed"), c);
}
