//! Every implemented statement, written in braces and as `set` lines: both must parse to
//! equal models, and the model must hold the expected fragment.

use mspic_config::*;
use std::net::{IpAddr, Ipv4Addr};

struct Case {
    name: &'static str,
    braces: &'static str,
    set: &'static str,
    check: fn(&Config),
}

fn parse_ok(text: &str, file: &str) -> Config {
    match parse(text, file) {
        Ok(c) => c,
        Err(e) => panic!("{file}:\n{e}\n--- text ---\n{text}"),
    }
}

fn p(s: &str) -> Prefix {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// A services interface and an interface-style service set, for cases that need one.
const SS_BRACES: &str = "
interfaces { ms-1/1/0 { unit 0 { family inet; } } }
services { service-set ss { interface-service { service-interface ms-1/1/0; } } }
";
const SS_SET: &str = "
set interfaces ms-1/1/0 unit 0 family inet
set services service-set ss interface-service service-interface ms-1/1/0
";

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "interface inet address",
            braces: "interfaces { ge-0/0/0 { unit 0 { family inet { address 10.0.0.1/24; address 10.0.1.1/24; } } } }",
            set: "set interfaces ge-0/0/0 unit 0 family inet address 10.0.0.1/24\nset interfaces ge-0/0/0 unit 0 family inet address 10.0.1.1/24",
            check: |c| {
                let i = c.interface("ge-0/0/0").unwrap();
                assert_eq!(i.units[0].number, 0);
                let f = i.units[0].inet.as_ref().unwrap();
                assert_eq!(f.addresses, vec![p("10.0.0.1/24"), p("10.0.1.1/24")]);
                assert!(i.units[0].inet6.is_none());
            },
        },
        Case {
            name: "interface kinds and inet6",
            braces: "interfaces {
                xe-1/2/3 { unit 5 { family inet6 { address 2001:db8::1/64; } } }
                et-0/0/1 { unit 0 { family inet { address 192.0.2.1/30; } family inet6; } }
                ae0 { unit 0 { family inet { address 192.0.2.9/30; } } }
                lo0 { unit 0 { family inet { address 10.255.255.1/32; } } }
            }",
            set: "set interfaces xe-1/2/3 unit 5 family inet6 address 2001:db8::1/64
set interfaces et-0/0/1 unit 0 family inet address 192.0.2.1/30
set interfaces et-0/0/1 unit 0 family inet6
set interfaces ae0 unit 0 family inet address 192.0.2.9/30
set interfaces lo0 unit 0 family inet address 10.255.255.1/32",
            check: |c| {
                let names: Vec<_> = c.interfaces.iter().map(|i| i.name.as_str()).collect();
                assert_eq!(names, ["xe-1/2/3", "et-0/0/1", "ae0", "lo0"]);
                let xe = c.interface("xe-1/2/3").unwrap();
                assert_eq!(xe.units[0].number, 5);
                assert_eq!(xe.units[0].inet6.as_ref().unwrap().addresses, vec![p("2001:db8::1/64")]);
                let et = c.interface("et-0/0/1").unwrap();
                assert_eq!(et.units[0].inet6, Some(Family::default()));
            },
        },
        Case {
            name: "interface service input/output",
            braces: "interfaces { ge-0/0/0 { unit 0 { family inet { service { input { service-set ss; } output { service-set ss; } } } } } }
interfaces { ms-1/1/0 { unit 0 { family inet; } } }
services { service-set ss { interface-service { service-interface ms-1/1/0; } } }",
            set: "set interfaces ge-0/0/0 unit 0 family inet service input service-set ss\nset interfaces ge-0/0/0 unit 0 family inet service output service-set ss
set interfaces ms-1/1/0 unit 0 family inet
set services service-set ss interface-service service-interface ms-1/1/0",
            check: |c| {
                let f = c.interface("ge-0/0/0").unwrap().units[0].inet.clone().unwrap();
                assert_eq!(f.input_service_set.as_deref(), Some("ss"));
                assert_eq!(f.output_service_set.as_deref(), Some("ss"));
            },
        },
        Case {
            name: "services-options",
            braces: "interfaces { ms-2/0/0 { services-options {
                inactivity-timeout 60; inactivity-tcp-timeout 3600; inactivity-non-tcp-timeout 20;
                open-timeout 10; close-timeout 8; session-limit { maximum 1000; rate 200; } tcp-tickles 0;
                pba-interim-logging-interval 3600; } } }",
            set: "set interfaces ms-2/0/0 services-options inactivity-timeout 60
set interfaces ms-2/0/0 services-options inactivity-tcp-timeout 3600
set interfaces ms-2/0/0 services-options inactivity-non-tcp-timeout 20
set interfaces ms-2/0/0 services-options open-timeout 10
set interfaces ms-2/0/0 services-options close-timeout 8
set interfaces ms-2/0/0 services-options session-limit maximum 1000
set interfaces ms-2/0/0 services-options session-limit rate 200
set interfaces ms-2/0/0 services-options tcp-tickles 0
set interfaces ms-2/0/0 services-options pba-interim-logging-interval 3600",
            check: |c| {
                let o = &c.service_interface("ms-2/0/0").unwrap().options;
                assert_eq!(
                    *o,
                    ServicesOptions {
                        inactivity_timeout: Some(60),
                        inactivity_tcp_timeout: Some(3600),
                        inactivity_non_tcp_timeout: Some(20),
                        open_timeout: Some(10),
                        close_timeout: Some(8),
                        session_limit_maximum: Some(1000),
                        session_limit_rate: Some(200),
                        tcp_tickles: Some(0),
                        pba_interim_logging_interval: Some(3600),
                        syslog: vec![],
                        syslog_rate_limit: None,
                    }
                );
                assert_eq!(o.tcp_timeout(), 3600);
                assert_eq!(o.non_tcp_timeout(), 20);
            },
        },
        Case {
            name: "ms units and service-domain",
            braces: "interfaces { ms-1/1/0 { unit 1 { family inet; family inet6; service-domain inside; } unit 2 { family inet; service-domain outside; } } }",
            set: "set interfaces ms-1/1/0 unit 1 family inet
set interfaces ms-1/1/0 unit 1 family inet6
set interfaces ms-1/1/0 unit 1 service-domain inside
set interfaces ms-1/1/0 unit 2 family inet
set interfaces ms-1/1/0 unit 2 service-domain outside",
            check: |c| {
                let ms = c.service_interface("ms-1/1/0").unwrap();
                assert_eq!(
                    ms.units,
                    vec![
                        ServiceUnit { number: 1, inet: true, inet6: true, service_domain: Some(ServiceDomain::Inside) },
                        ServiceUnit { number: 2, inet: true, inet6: false, service_domain: Some(ServiceDomain::Outside) },
                    ]
                );
            },
        },
        Case {
            name: "static routes",
            braces: "interfaces {
    ms-1/1/0 { unit 1 { family inet; } }
    ge-0/0/0 { unit 0 { family inet { address 203.0.113.1/24; } family inet6 { address 2001:db8:ffff::2/64; } } }
}
routing-options {
    static {
        route 198.51.100.0/24 next-hop 203.0.113.2;
        route 0.0.0.0/0 { next-hop ms-1/1/0.1; }
        route 192.0.2.0/24 discard;
        route 192.0.2.128/25 reject;
    }
    rib inet6.0 { static { route 2001:db8::/32 next-hop 2001:db8:ffff::1; } }
}",
            set: "set interfaces ms-1/1/0 unit 1 family inet
set interfaces ge-0/0/0 unit 0 family inet address 203.0.113.1/24
set interfaces ge-0/0/0 unit 0 family inet6 address 2001:db8:ffff::2/64
set routing-options static route 198.51.100.0/24 next-hop 203.0.113.2
set routing-options static route 0.0.0.0/0 next-hop ms-1/1/0.1
set routing-options static route 192.0.2.0/24 discard
set routing-options static route 192.0.2.128/25 reject
set routing-options rib inet6.0 static route 2001:db8::/32 next-hop 2001:db8:ffff::1",
            check: |c| {
                let r = |pfx: &str, nh: NextHop| StaticRoute { prefix: p(pfx), next_hop: nh };
                assert_eq!(
                    c.static_routes,
                    vec![
                        r("198.51.100.0/24", NextHop::Address(ip("203.0.113.2"))),
                        r("0.0.0.0/0", NextHop::Interface("ms-1/1/0.1".into())),
                        r("192.0.2.0/24", NextHop::Discard),
                        r("192.0.2.128/25", NextHop::Reject),
                        r("2001:db8::/32", NextHop::Address(ip("2001:db8:ffff::1"))),
                    ]
                );
            },
        },
        Case {
            name: "service-set interface style",
            braces: "interfaces { ms-1/1/0 { unit 0 { family inet; } } }
services {
    stateful-firewall {
        rule r1 { match-direction input; term t { then { accept; } } }
        rule r2 { match-direction output; term t { then { accept; } } }
        rule-set rs { rule r2; }
    }
    nat {
        pool p { address 192.0.2.1; }
        rule n1 { match-direction input; term t { then { no-translation; } } }
        rule-set nrs { rule n1; }
    }
    service-set ss {
        stateful-firewall-rules [ r1 r2 ];
        stateful-firewall-rule-sets rs;
        nat-rules n1;
        nat-rule-sets nrs;
        interface-service { service-interface ms-1/1/0.0; }
        max-flows 5000;
        tcp-mss 1400;
        max-session-setup-rate 20k;
        max-sessions-per-subscriber 100;
    }
}",
            set: "set interfaces ms-1/1/0 unit 0 family inet
set services stateful-firewall rule r1 match-direction input
set services stateful-firewall rule r1 term t then accept
set services stateful-firewall rule r2 match-direction output
set services stateful-firewall rule r2 term t then accept
set services stateful-firewall rule-set rs rule r2
set services nat pool p address 192.0.2.1
set services nat rule n1 match-direction input
set services nat rule n1 term t then no-translation
set services nat rule-set nrs rule n1
set services service-set ss stateful-firewall-rules r1
set services service-set ss stateful-firewall-rules r2
set services service-set ss stateful-firewall-rule-sets rs
set services service-set ss nat-rules n1
set services service-set ss nat-rule-sets nrs
set services service-set ss interface-service service-interface ms-1/1/0.0
set services service-set ss max-flows 5000
set services service-set ss tcp-mss 1400
set services service-set ss max-session-setup-rate 20k
set services service-set ss max-sessions-per-subscriber 100",
            check: |c| {
                let ss = c.service_set("ss").unwrap();
                assert_eq!(
                    *ss,
                    ServiceSet {
                        name: "ss".into(),
                        sfw_rules: vec!["r1".into(), "r2".into()],
                        sfw_rule_sets: vec!["rs".into()],
                        nat_rules: vec!["n1".into()],
                        nat_rule_sets: vec!["nrs".into()],
                        softwire_rules: Vec::new(),
                        // The unit is dropped: the model names the interface.
                        style: ServiceSetStyle::Interface { service_interface: "ms-1/1/0".into() },
                        max_flows: Some(5000),
                        syslog: vec![],
                        tcp_mss: Some(1400),
                        max_session_setup_rate: Some(20_000),
                        max_sessions_per_subscriber: Some(100),
                        nat64_clear_df: false,
                    }
                );
                assert_eq!(ss.service_interface(), "ms-1/1/0");
                assert_eq!(c.sfw_rule_set("rs").unwrap().rules, ["r2"]);
                assert_eq!(c.nat_rule_set("nrs").unwrap().rules, ["n1"]);
                assert_eq!(c.nat_pool("p").unwrap().addresses, vec![p("192.0.2.1/32")]);
            },
        },
        Case {
            name: "softwire ds-lite",
            braces: "interfaces { ms-1/1/0 { unit 0 { family inet; family inet6; } } }
services {
    softwire {
        softwire-concentrator { ds-lite aftr { softwire-address 2001:db8:aaaa::1; mtu-v6 1460; } ds-lite other { softwire-address 2001:db8:aaaa::2; } }
        rule sw { match-direction input; term t1 { then { ds-lite aftr; } } term t2 { then { ds-lite other; } } }
    }
    nat {
        pool p { address 192.0.2.1/32; port automatic; }
        rule n { match-direction input; term t { then { translated { source-pool p; translation-type { napt-44; } } } } }
    }
    service-set ss { softwire-rules sw; nat-rules n; interface-service { service-interface ms-1/1/0; } }
}",
            set: "set interfaces ms-1/1/0 unit 0 family inet
set interfaces ms-1/1/0 unit 0 family inet6
set services softwire softwire-concentrator ds-lite aftr softwire-address 2001:db8:aaaa::1
set services softwire softwire-concentrator ds-lite aftr mtu-v6 1460
set services softwire softwire-concentrator ds-lite other softwire-address 2001:db8:aaaa::2
set services softwire rule sw match-direction input
set services softwire rule sw term t1 then ds-lite aftr
set services softwire rule sw term t2 then ds-lite other
set services nat pool p address 192.0.2.1/32
set services nat pool p port automatic
set services nat rule n match-direction input
set services nat rule n term t then translated source-pool p
set services nat rule n term t then translated translation-type napt-44
set services service-set ss softwire-rules sw
set services service-set ss nat-rules n
set services service-set ss interface-service service-interface ms-1/1/0",
            check: |c| {
                assert_eq!(
                    c.ds_lite,
                    vec![
                        DsLite { name: "aftr".into(), softwire_address: "2001:db8:aaaa::1".parse().unwrap(), mtu_v6: Some(1460) },
                        DsLite { name: "other".into(), softwire_address: "2001:db8:aaaa::2".parse().unwrap(), mtu_v6: None },
                    ]
                );
                assert_eq!(
                    c.softwire_rules,
                    vec![SoftwireRule {
                        name: "sw".into(),
                        terms: vec![
                            SoftwireTerm { name: "t1".into(), ds_lite: "aftr".into() },
                            SoftwireTerm { name: "t2".into(), ds_lite: "other".into() },
                        ],
                    }]
                );
                assert_eq!(c.service_set("ss").unwrap().softwire_rules, ["sw"]);
            },
        },
        Case {
            name: "service-set next-hop style",
            braces: "interfaces { ms-1/1/0 { unit 1 { family inet; service-domain inside; } unit 2 { family inet; service-domain outside; } } }
services { service-set nh { next-hop-service { inside-service-interface ms-1/1/0.1; outside-service-interface ms-1/1/0.2; } } }",
            set: "set interfaces ms-1/1/0 unit 1 family inet
set interfaces ms-1/1/0 unit 1 service-domain inside
set interfaces ms-1/1/0 unit 2 family inet
set interfaces ms-1/1/0 unit 2 service-domain outside
set services service-set nh next-hop-service inside-service-interface ms-1/1/0.1
set services service-set nh next-hop-service outside-service-interface ms-1/1/0.2",
            check: |c| {
                let ss = c.service_set("nh").unwrap();
                assert_eq!(
                    ss.style,
                    ServiceSetStyle::NextHop { inside: "ms-1/1/0.1".into(), outside: "ms-1/1/0.2".into() }
                );
                assert_eq!(ss.service_interface(), "ms-1/1/0");
            },
        },
        Case {
            name: "service-domain under family inet (older releases)",
            braces: "interfaces { ms-1/1/0 { unit 1 { family inet { service-domain inside; } } unit 2 { family inet { service-domain outside; } } } }
services { service-set nh { next-hop-service { inside-service-interface ms-1/1/0.1; outside-service-interface ms-1/1/0.2; } } }",
            set: "set interfaces ms-1/1/0 unit 1 family inet service-domain inside
set interfaces ms-1/1/0 unit 2 family inet service-domain outside
set services service-set nh next-hop-service inside-service-interface ms-1/1/0.1
set services service-set nh next-hop-service outside-service-interface ms-1/1/0.2",
            check: |c| {
                let ms = c.service_interface("ms-1/1/0").unwrap();
                let domains: Vec<_> = ms.units.iter().map(|u| (u.number, u.inet, u.service_domain)).collect();
                assert_eq!(
                    domains,
                    [(1, true, Some(ServiceDomain::Inside)), (2, true, Some(ServiceDomain::Outside))]
                );
            },
        },
        Case {
            name: "stateful-firewall from and then",
            braces: r#"policy-options { prefix-list inside { 10.0.0.0/8; 172.16.0.0/12; } prefix-list dns { 192.0.2.53/32; } }
applications { application-set web { application junos-http; application junos-https; } }
services { stateful-firewall { rule r {
    match-direction input-output;
    term t1 {
        from {
            source-address { 10.0.0.0/8; 10.1.0.0/16 except; }
            destination-address { any-unicast; 192.0.2.0/24 except; }
            source-address-range { low 10.0.0.1 high 10.0.0.9; low 10.0.0.5 high 10.0.0.6 except; }
            destination-address-range { low 2001:db8::1 high 2001:db8::ff; }
            source-prefix-list inside;
            source-prefix-list dns except;
            destination-prefix-list dns;
            destination-prefix-list inside except;
            applications [ junos-ftp junos-sip ];
            application-sets web;
        }
        then { discard; syslog; allow-ip-options [ router-alert 7 ]; }
    }
    term t2 { then { reject; } }
} } }"#,
            set: "set policy-options prefix-list inside 10.0.0.0/8
set policy-options prefix-list inside 172.16.0.0/12
set policy-options prefix-list dns 192.0.2.53/32
set applications application-set web application junos-http
set applications application-set web application junos-https
set services stateful-firewall rule r match-direction input-output
set services stateful-firewall rule r term t1 from source-address 10.0.0.0/8
set services stateful-firewall rule r term t1 from source-address 10.1.0.0/16 except
set services stateful-firewall rule r term t1 from destination-address any-unicast
set services stateful-firewall rule r term t1 from destination-address 192.0.2.0/24 except
set services stateful-firewall rule r term t1 from source-address-range low 10.0.0.1 high 10.0.0.9
set services stateful-firewall rule r term t1 from source-address-range low 10.0.0.5 high 10.0.0.6 except
set services stateful-firewall rule r term t1 from destination-address-range low 2001:db8::1 high 2001:db8::ff
set services stateful-firewall rule r term t1 from source-prefix-list inside
set services stateful-firewall rule r term t1 from source-prefix-list dns except
set services stateful-firewall rule r term t1 from destination-prefix-list dns
set services stateful-firewall rule r term t1 from destination-prefix-list inside except
set services stateful-firewall rule r term t1 from applications junos-ftp
set services stateful-firewall rule r term t1 from applications junos-sip
set services stateful-firewall rule r term t1 from application-sets web
set services stateful-firewall rule r term t1 then discard
set services stateful-firewall rule r term t1 then syslog
set services stateful-firewall rule r term t1 then allow-ip-options [ router-alert 7 ]
set services stateful-firewall rule r term t2 then reject",
            check: |c| {
                let r = c.sfw_rule("r").unwrap();
                assert_eq!(r.match_direction, MatchDirection::InputOutput);
                let t = &r.terms[0];
                assert_eq!(
                    t.from,
                    MatchConditions {
                        source_address: vec![
                            AddressMatch::Prefix { prefix: p("10.0.0.0/8"), except: false },
                            AddressMatch::Prefix { prefix: p("10.1.0.0/16"), except: true },
                        ],
                        destination_address: vec![
                            AddressMatch::AnyUnicast { except: false },
                            AddressMatch::Prefix { prefix: p("192.0.2.0/24"), except: true },
                        ],
                        source_address_range: vec![
                            AddressRange { low: ip("10.0.0.1"), high: ip("10.0.0.9"), except: false },
                            AddressRange { low: ip("10.0.0.5"), high: ip("10.0.0.6"), except: true },
                        ],
                        destination_address_range: vec![AddressRange {
                            low: ip("2001:db8::1"),
                            high: ip("2001:db8::ff"),
                            except: false,
                        }],
                        source_prefix_list: vec!["inside".into()],
                        source_prefix_list_except: vec!["dns".into()],
                        destination_prefix_list: vec!["dns".into()],
                        destination_prefix_list_except: vec!["inside".into()],
                        applications: vec!["junos-ftp".into(), "junos-sip".into()],
                        application_sets: vec!["web".into()],
                    }
                );
                assert_eq!(t.action, SfwAction::Discard);
                assert!(t.syslog);
                assert_eq!(t.allow_ip_options, ["router-alert", "7"]);
                assert_eq!(r.terms[1].action, SfwAction::Reject);
                assert!(!r.terms[1].syslog);
                let names: Vec<_> = c.term_applications(&t.from).iter().map(|a| a.name.clone()).collect();
                assert_eq!(names, ["junos-ftp", "junos-sip", "junos-http", "junos-https"]);
                assert_eq!(c.prefix_list("inside").unwrap().prefixes, vec![p("10.0.0.0/8"), p("172.16.0.0/12")]);
            },
        },
        Case {
            name: "nat pool statements",
            braces: "services { nat {
    pool a {
        address 203.0.113.0/28;
        address 198.51.100.7;
        address-range low 192.0.2.10 high 192.0.2.20;
        port { automatic { random-allocation; } preserve-parity; preserve-range; }
        address-allocation round-robin;
        mapping-timeout 300;
        ei-mapping-timeout 600;
        app-mapping-timeout 1200;
    }
    pool b { address 192.0.2.64/26; port { range low 2000 high 3000 random-allocation; } }
    pool c { address 192.0.2.128/26; port { automatic sequential; } }
    pool d { address-range { low 192.0.2.200 high 192.0.2.210; } }
    pool e { address 192.0.2.224/28; port { range low 1024 high 65535; secured-port-block-allocation { block-size 256; max-blocks-per-address 4; active-block-timeout 300; interim-logging-interval 600; } } }
    pool f { address 192.0.2.240/28; port { automatic; secured-port-block-allocation; } }
    pool g { address 198.51.100.0/28; port { range low 1024 high 65535; deterministic-port-block-allocation { block-size 2016; include-boundary-addresses; } } }
    pool h { address 198.51.100.16/28; port { automatic; deterministic-port-block-allocation; } }
} }",
            set: "set services nat pool a address 203.0.113.0/28
set services nat pool a address 198.51.100.7
set services nat pool a address-range low 192.0.2.10 high 192.0.2.20
set services nat pool a port automatic random-allocation
set services nat pool a port preserve-parity
set services nat pool a port preserve-range
set services nat pool a address-allocation round-robin
set services nat pool a mapping-timeout 300
set services nat pool a ei-mapping-timeout 600
set services nat pool a app-mapping-timeout 1200
set services nat pool b address 192.0.2.64/26
set services nat pool b port range low 2000 high 3000 random-allocation
set services nat pool c address 192.0.2.128/26
set services nat pool c port automatic sequential
set services nat pool d address-range low 192.0.2.200 high 192.0.2.210
set services nat pool e address 192.0.2.224/28
set services nat pool e port range low 1024 high 65535
set services nat pool e port secured-port-block-allocation block-size 256 max-blocks-per-address 4 active-block-timeout 300 interim-logging-interval 600
set services nat pool f address 192.0.2.240/28
set services nat pool f port automatic
set services nat pool f port secured-port-block-allocation
set services nat pool g address 198.51.100.0/28
set services nat pool g port range low 1024 high 65535
set services nat pool g port deterministic-port-block-allocation block-size 2016
set services nat pool g port deterministic-port-block-allocation include-boundary-addresses
set services nat pool h address 198.51.100.16/28
set services nat pool h port automatic
set services nat pool h port deterministic-port-block-allocation",
            check: |c| {
                assert_eq!(
                    *c.nat_pool("a").unwrap(),
                    NatPool {
                        name: "a".into(),
                        addresses: vec![p("203.0.113.0/28"), p("198.51.100.7/32")],
                        address_ranges: vec![(v4("192.0.2.10"), v4("192.0.2.20"))],
                        port: Some(PoolPort::Automatic { random: true }),
                        preserve_parity: true,
                        preserve_range: true,
                        address_allocation_round_robin: true,
                        mapping_timeout: Some(300),
                        ei_mapping_timeout: Some(600),
                        app_mapping_timeout: Some(1200),
                        port_block: None,
                        deterministic: None,
                    }
                );
                assert_eq!(c.nat_pool("b").unwrap().port, Some(PoolPort::Range { low: 2000, high: 3000, random: true }));
                assert_eq!(c.nat_pool("c").unwrap().port, Some(PoolPort::Automatic { random: false }));
                let d = c.nat_pool("d").unwrap();
                assert_eq!(d.port, None);
                assert_eq!(d.address_ranges, vec![(v4("192.0.2.200"), v4("192.0.2.210"))]);
                let pba = |block_size, max_blocks, active_timeout, interim_logging_interval| {
                    Some(SecuredPortBlock { block_size, max_blocks, active_timeout, interim_logging_interval })
                };
                assert_eq!(c.nat_pool("e").unwrap().port_block, pba(256, 4, 300, Some(600)));
                // The Junos defaults: blocks of 128, 8 per subscriber, no timeout.
                assert_eq!(c.nat_pool("f").unwrap().port_block, pba(128, 8, 0, None));
                let det = |block_size, include_boundary_addresses| {
                    Some(DeterministicBlocks { block_size, include_boundary_addresses })
                };
                assert_eq!(c.nat_pool("g").unwrap().deterministic, det(2016, true));
                // The Junos default block size.
                assert_eq!(c.nat_pool("h").unwrap().deterministic, det(256, false));
            },
        },
        Case {
            name: "nat rule translation types",
            braces: "services { nat {
    pool sp { address 203.0.113.0/28; port automatic; }
    pool ap { address 203.0.113.16/28; }
    pool dp { address 10.0.0.10; }
    rule r {
        match-direction output;
        term napt { from { source-address 10.0.0.0/24; applications junos-ftp; } then { translated { source-pool sp; translation-type { napt-44; } address-pooling paired; mapping-type endpoint-independent; filtering-type endpoint-independent; } syslog; } }
        term dyn { then { translated { source-pool ap; translation-type { dynamic-nat44; } } } }
        term basic { from { source-address 10.1.0.0/24; } then { translated { source-prefix 192.0.2.0/24; translation-type { basic-nat44; } } } }
        term dnat { from { destination-address 203.0.113.100/32; } then { translated { destination-pool dp; translation-type { dnat-44; } } } }
        term dnat2 { from { destination-address 203.0.113.101/32; } then { translated { destination-prefix 10.0.1.0/24; translation-type { dnat-44; } } } }
        term tnapt { from { destination-address 203.0.113.102/32; } then { translated { source-pool sp; destination-pool dp; translation-type { twice-napt-44; } } } }
        term tbasic { from { source-address 10.2.0.0/24; destination-address 203.0.113.103/32; } then { translated { source-prefix 192.0.2.0/24; destination-prefix 10.0.1.0/24; translation-type { twice-basic-nat-44; } } } }
        term tdyn { from { destination-address 203.0.113.104/32; } then { translated { source-pool ap; destination-pool dp; translation-type { twice-dynamic-nat-44; } } } }
        term none { from { source-address 10.9.0.0/16; } then { no-translation; } }
    }
    rule-set all { rule r; }
} }",
            set: "set services nat pool sp address 203.0.113.0/28
set services nat pool sp port automatic
set services nat pool ap address 203.0.113.16/28
set services nat pool dp address 10.0.0.10
set services nat rule r match-direction output
set services nat rule r term napt from source-address 10.0.0.0/24
set services nat rule r term napt from applications junos-ftp
set services nat rule r term napt then translated source-pool sp
set services nat rule r term napt then translated translation-type napt-44
set services nat rule r term napt then translated address-pooling paired
set services nat rule r term napt then translated mapping-type endpoint-independent
set services nat rule r term napt then translated filtering-type endpoint-independent
set services nat rule r term napt then syslog
set services nat rule r term dyn then translated source-pool ap
set services nat rule r term dyn then translated translation-type dynamic-nat44
set services nat rule r term basic from source-address 10.1.0.0/24
set services nat rule r term basic then translated source-prefix 192.0.2.0/24
set services nat rule r term basic then translated translation-type basic-nat44
set services nat rule r term dnat from destination-address 203.0.113.100/32
set services nat rule r term dnat then translated destination-pool dp
set services nat rule r term dnat then translated translation-type dnat-44
set services nat rule r term dnat2 from destination-address 203.0.113.101/32
set services nat rule r term dnat2 then translated destination-prefix 10.0.1.0/24
set services nat rule r term dnat2 then translated translation-type dnat-44
set services nat rule r term tnapt from destination-address 203.0.113.102/32
set services nat rule r term tnapt then translated source-pool sp
set services nat rule r term tnapt then translated destination-pool dp
set services nat rule r term tnapt then translated translation-type twice-napt-44
set services nat rule r term tbasic from source-address 10.2.0.0/24
set services nat rule r term tbasic from destination-address 203.0.113.103/32
set services nat rule r term tbasic then translated source-prefix 192.0.2.0/24
set services nat rule r term tbasic then translated destination-prefix 10.0.1.0/24
set services nat rule r term tbasic then translated translation-type twice-basic-nat-44
set services nat rule r term tdyn from destination-address 203.0.113.104/32
set services nat rule r term tdyn then translated source-pool ap
set services nat rule r term tdyn then translated destination-pool dp
set services nat rule r term tdyn then translated translation-type twice-dynamic-nat-44
set services nat rule r term none from source-address 10.9.0.0/16
set services nat rule r term none then no-translation
set services nat rule-set all rule r",
            check: |c| {
                let r = c.nat_rule("r").unwrap();
                assert_eq!(r.match_direction, MatchDirection::Output);
                let types: Vec<_> = r
                    .terms
                    .iter()
                    .map(|t| match &t.then {
                        NatThen::Translated(x) => Some(x.translation_type),
                        NatThen::NoTranslation => None,
                    })
                    .collect();
                use TranslationType::*;
                assert_eq!(
                    types,
                    [
                        Some(Napt44),
                        Some(DynamicNat44),
                        Some(BasicNat44),
                        Some(Dnat44),
                        Some(Dnat44),
                        Some(TwiceNapt44),
                        Some(TwiceBasicNat44),
                        Some(TwiceDynamicNat44),
                        None
                    ]
                );
                assert_eq!(
                    r.terms[0].then,
                    NatThen::Translated(Translated {
                        source_pool: Some("sp".into()),
                        destination_pool: None,
                        source_prefix: None,
                        destination_prefix: None,
                        translation_type: Napt44,
                        address_pooling_paired: true,
                        mapping_type_eim: true,
                        filtering_type_eif: true,
                        port_forwarding_mappings: None,
                    })
                );
                assert!(r.terms[0].syslog);
                assert_eq!(r.terms[0].from.applications, ["junos-ftp"]);
                let NatThen::Translated(tb) = &r.terms[6].then else { panic!() };
                assert_eq!(tb.source_prefix, Some(p("192.0.2.0/24")));
                assert_eq!(tb.destination_prefix, Some(p("10.0.1.0/24")));
                assert_eq!(c.nat_rule_set("all").unwrap().rules, ["r"]);
            },
        },
        Case {
            name: "applications",
            braces: "applications {
    application my-ftp { application-protocol ftp; protocol tcp; destination-port 2121; inactivity-timeout 300; }
    application web { protocol 6; source-port 1024-65535; destination-port http; }
    application dns { application-protocol dns; protocol udp; destination-port domain; inactivity-timeout never; }
    application ping { protocol icmp; icmp-type echo-request; icmp-code 0; }
    application unreach { protocol icmp; icmp-type 3; icmp-code port-unreachable; }
    application ping6 { protocol icmp6; icmp6-type echo-request; }
    application nfs { application-protocol rpc; protocol udp; rpc-program-number 100003-100005; }
    application epm { application-protocol dce-rpc; protocol tcp; uuid E1AF8308-5D1F-11C9-91A4-08002B14A0FA; }
    application gre { protocol gre; }
    application other { protocol 253; }
    application-set inner { application web; application dns; }
    application-set outer { application ping; application-set inner; }
}",
            set: "set applications application my-ftp application-protocol ftp
set applications application my-ftp protocol tcp
set applications application my-ftp destination-port 2121
set applications application my-ftp inactivity-timeout 300
set applications application web protocol 6
set applications application web source-port 1024-65535
set applications application web destination-port http
set applications application dns application-protocol dns
set applications application dns protocol udp
set applications application dns destination-port domain
set applications application dns inactivity-timeout never
set applications application ping protocol icmp
set applications application ping icmp-type echo-request
set applications application ping icmp-code 0
set applications application unreach protocol icmp
set applications application unreach icmp-type 3
set applications application unreach icmp-code port-unreachable
set applications application ping6 protocol icmp6
set applications application ping6 icmp6-type echo-request
set applications application nfs application-protocol rpc
set applications application nfs protocol udp
set applications application nfs rpc-program-number 100003-100005
set applications application epm application-protocol dce-rpc
set applications application epm protocol tcp
set applications application epm uuid E1AF8308-5D1F-11C9-91A4-08002B14A0FA
set applications application gre protocol gre
set applications application other protocol 253
set applications application-set inner application web
set applications application-set inner application dns
set applications application-set outer application ping
set applications application-set outer application-set inner",
            check: |c| {
                let a = c.application("my-ftp").unwrap();
                assert_eq!(
                    *a,
                    Application::single(
                        "my-ftp",
                        AppTerm {
                            application_protocol: Some(AppProtocol::Ftp),
                            protocol: Some(6),
                            destination_port: Some(PortRange::single(2121)),
                            inactivity_timeout: Some(Timeout::Seconds(300)),
                            ..AppTerm::default()
                        },
                        false,
                    )
                );
                let term = |n: &str| c.application(n).unwrap().terms[0].clone();
                let w = term("web");
                assert_eq!(w.source_port, Some(PortRange { low: 1024, high: 65535 }));
                assert_eq!(w.destination_port, Some(PortRange::single(80)));
                let d = term("dns");
                assert_eq!((d.protocol, d.destination_port), (Some(17), Some(PortRange::single(53))));
                assert_eq!(d.inactivity_timeout, Some(Timeout::Never));
                let pg = term("ping");
                assert_eq!((pg.protocol, pg.icmp_type, pg.icmp_code), (Some(1), Some(8), Some(0)));
                assert_eq!(term("unreach").icmp_code, Some(3));
                let p6 = term("ping6");
                assert_eq!((p6.protocol, p6.icmp_type), (Some(58), Some(128)));
                assert_eq!(term("nfs").rpc_program_number, Some((100003, 100005)));
                assert_eq!(
                    term("epm").uuid.as_deref(),
                    Some("e1af8308-5d1f-11c9-91a4-08002b14a0fa")
                );
                assert_eq!(term("gre").protocol, Some(47));
                assert_eq!(term("other").protocol, Some(253));
                let outer = c.application_set("outer").unwrap();
                assert_eq!(outer.applications, ["ping"]);
                assert_eq!(outer.application_sets, ["inner"]);
                assert!(!outer.predefined);
                // User applications come first, then the predefined ones.
                assert_eq!(c.applications[0].name, "my-ftp");
                assert!(c.applications[10].predefined);
                let from = MatchConditions { application_sets: vec!["outer".into()], ..Default::default() };
                let names: Vec<_> = c.term_applications(&from).iter().map(|a| a.name.clone()).collect();
                assert_eq!(names, ["ping", "web", "dns"]);
            },
        },
        Case {
            name: "multi-term applications",
            braces: "applications {
    application voip {
        term sig { alg sip; protocol udp; destination-port 5060; inactivity-timeout 120; }
        term h225 { application-protocol h323; protocol tcp; destination-port 1720; }
        term ras { application-protocol ras; protocol udp; destination-port 1719; }
    }
    application vpn {
        term ike { application-protocol ike-esp-nat; protocol udp; destination-port 500; }
        term nat-t { protocol udp; destination-port 4500; }
    }
    application-set voice { application voip; }
}",
            set: "set applications application voip term sig alg sip
set applications application voip term sig protocol udp
set applications application voip term sig destination-port 5060
set applications application voip term sig inactivity-timeout 120
set applications application voip term h225 application-protocol h323
set applications application voip term h225 protocol tcp
set applications application voip term h225 destination-port 1720
set applications application voip term ras application-protocol ras
set applications application voip term ras protocol udp
set applications application voip term ras destination-port 1719
set applications application vpn term ike application-protocol ike-esp-nat
set applications application vpn term ike protocol udp
set applications application vpn term ike destination-port 500
set applications application vpn term nat-t protocol udp
set applications application vpn term nat-t destination-port 4500
set applications application-set voice application voip",
            check: |c| {
                let voip = c.application("voip").unwrap();
                let got: Vec<_> = voip
                    .terms
                    .iter()
                    .map(|t| (t.name.as_deref(), t.application_protocol, t.protocol, t.destination_port))
                    .collect();
                assert_eq!(
                    got,
                    [
                        (Some("sig"), Some(AppProtocol::Sip), Some(17), Some(PortRange::single(5060))),
                        (Some("h225"), Some(AppProtocol::H323), Some(6), Some(PortRange::single(1720))),
                        (Some("ras"), Some(AppProtocol::Ras), Some(17), Some(PortRange::single(1719))),
                    ]
                );
                assert_eq!(voip.terms[0].inactivity_timeout, Some(Timeout::Seconds(120)));
                assert_eq!(voip.terms[1].inactivity_timeout, None);
                let vpn = c.application("vpn").unwrap();
                assert_eq!(vpn.terms[0].application_protocol, Some(AppProtocol::IkeEspNat));
                assert_eq!(vpn.terms[1].application_protocol, None);
                let from = MatchConditions { applications: vec!["voice".into()], ..Default::default() };
                let names: Vec<_> = c.term_applications(&from).iter().map(|a| a.name.clone()).collect();
                assert_eq!(names, ["voip"]);
            },
        },
        Case {
            name: "emulator",
            braces: "interfaces { ge-0/0/0 { unit 0; } ge-0/0/1; }
emulator { interface ge-0/0/0 device pin; interface ge-0/0/1 device pout; workers 2; queues 4; junos-release 17.1R2; }",
            set: "set interfaces ge-0/0/0 unit 0
set interfaces ge-0/0/1
set emulator interface ge-0/0/0 device pin
set emulator interface ge-0/0/1 device pout
set emulator workers 2
set emulator queues 4
set emulator junos-release 17.1R2",
            check: |c| {
                assert_eq!(c.emulator.junos_release, Some(JunosRelease { major: 17, minor: 1 }));
                assert_eq!(c.emulator.workers, Some(2));
                assert_eq!(c.emulator.queues, Some(4));
                assert_eq!(c.emulator.interfaces[1], EmulatorInterface { name: "ge-0/0/1".into(), device: "pout".into() });
                assert_eq!(c.interface("ge-0/0/0").unwrap().units, vec![Unit { number: 0, inet: None, inet6: None }]);
                assert!(c.interface("ge-0/0/1").unwrap().units.is_empty());
            },
        },
        Case {
            name: "blocks with the same name merge",
            braces: "services { stateful-firewall {
    rule r { match-direction input; term a { then accept; } }
    rule r { match-direction input; term b { then discard; } term a { from { source-address 10.0.0.0/8; } } }
} }",
            set: "set services stateful-firewall rule r match-direction input
set services stateful-firewall rule r term a then accept
set services stateful-firewall rule r match-direction input
set services stateful-firewall rule r term b then discard
set services stateful-firewall rule r term a from source-address 10.0.0.0/8",
            check: |c| {
                assert_eq!(c.sfw_rules.len(), 1);
                let r = &c.sfw_rules[0];
                assert_eq!(r.terms.len(), 2);
                assert_eq!(r.terms[0].name, "a");
                assert_eq!(r.terms[0].action, SfwAction::Accept);
                assert_eq!(r.terms[0].from.source_address.len(), 1);
                assert_eq!(r.terms[1].action, SfwAction::Discard);
            },
        },
        Case {
            name: "inactive statements",
            braces: "/* annotation */
interfaces {
    ge-0/0/0 { unit 0 { family inet { inactive: address 10.0.0.1/24; address 10.0.0.2/24; } } }
    inactive: ge-0/0/1 { unit 0 { family inet { address 10.1.0.1/24; } } }
}
inactive: services { nat { pool p { address 192.0.2.1; } } }
protect: policy-options { replace: prefix-list pl { 10.0.0.0/8; } }
## Last changed: 2024-01-01
",
            set: "set interfaces ge-0/0/0 unit 0 family inet address 10.0.0.1/24
set interfaces ge-0/0/0 unit 0 family inet address 10.0.0.2/24
set interfaces ge-0/0/1 unit 0 family inet address 10.1.0.1/24
set services nat pool p address 192.0.2.1
set policy-options prefix-list pl 10.0.0.0/8
deactivate interfaces ge-0/0/0 unit 0 family inet address 10.0.0.1/24
deactivate interfaces ge-0/0/1
deactivate services",
            check: |c| {
                assert_eq!(c.interfaces.len(), 1);
                assert_eq!(c.interfaces[0].units[0].inet.as_ref().unwrap().addresses, vec![p("10.0.0.2/24")]);
                assert!(c.nat_pools.is_empty());
                assert_eq!(c.prefix_lists.len(), 1);
            },
        },
        Case {
            name: "quoted strings and comments",
            braces: "# leading comment
interfaces {
    \"ge-0/0/0\" {
        description \"uplink { to core }\"; # trailing comment
        unit 0 { description \"a;b\"; family inet { address \"10.0.0.1/24\"; } }
    }
}",
            set: "# leading comment

set interfaces ge-0/0/0 description \"uplink { to core }\"
set interfaces ge-0/0/0 unit 0 description \"a;b\"
set interfaces \"ge-0/0/0\" unit 0 family inet address 10.0.0.1/24   # trailing",
            check: |c| {
                assert_eq!(c.interface("ge-0/0/0").unwrap().units[0].inet.as_ref().unwrap().addresses, vec![p("10.0.0.1/24")]);
            },
        },
    ]
}

#[test]
fn every_statement_in_both_syntaxes() {
    for case in cases() {
        let b = parse_ok(case.braces, &format!("{}.conf", case.name));
        let s = parse_ok(case.set, &format!("{}.set", case.name));
        assert!(b.warnings.is_empty(), "{}: {:?}", case.name, b.warnings);
        assert!(s.warnings.is_empty(), "{}: {:?}", case.name, s.warnings);
        assert_eq!(b, s, "{}", case.name);
        (case.check)(&b);
        // The printers reproduce the same model.
        let pb = display::braces(&b);
        let ps = display::set(&b);
        assert_eq!(parse_ok(&pb, "printed.conf"), b, "{}:\n{pb}", case.name);
        assert_eq!(parse_ok(&ps, "printed.set"), b, "{}:\n{ps}", case.name);
    }
}

#[test]
fn service_set_in_interfaces_resolves() {
    let b = format!("{SS_BRACES}\ninterfaces {{ ge-0/0/0 {{ unit 0 {{ family inet {{ service {{ input {{ service-set ss; }} }} }} }} }} }}");
    let s = format!(
        "{SS_SET}\nset interfaces ge-0/0/0 unit 0 family inet service input service-set ss"
    );
    let cb = parse_ok(&b, "b");
    assert_eq!(cb, parse_ok(&s, "s"));
    assert_eq!(
        cb.interface("ge-0/0/0").unwrap().units[0]
            .inet
            .as_ref()
            .unwrap()
            .input_service_set
            .as_deref(),
        Some("ss")
    );
}

#[test]
fn mixed_syntax_in_one_file() {
    let text = "interfaces { ge-0/0/0 { unit 0 { family inet { address 10.0.0.1/24; } } } }
set interfaces ge-0/0/0 unit 0 family inet address 10.0.0.2/24
";
    let c = parse_ok(text, "mixed");
    assert_eq!(
        c.interfaces[0].units[0]
            .inet
            .as_ref()
            .unwrap()
            .addresses
            .len(),
        2
    );
}

fn warnings(text: &str) -> Vec<String> {
    parse_ok(text, "w.conf")
        .warnings
        .iter()
        .map(|w| w.to_string())
        .collect()
}

#[test]
fn unsupported_top_level_stanzas_warn_once_each() {
    let text = "version 21.2R3;
system {
    host-name pic;
    services { ssh; }
}
chassis { fpc 1 { pic 1 { adaptive-services { service-package layer-3; } } } }
protocols { ospf { area 0 { interface ge-0/0/0.0; } } }
snmp { community public; }
firewall { filter f { term t { then accept; } } }
class-of-service { interfaces { ge-0/0/0 { scheduler-map m; } } }
security { policies { default-policy { permit-all; } } }
groups { g { interfaces { <*> { mtu 9000; } } } }
apply-groups g;
system { syslog { file messages { any any; } } }
";
    assert_eq!(
        warnings(text),
        [
            "w.conf:1:1: warning: ignoring unsupported top-level stanza 'version'",
            "w.conf:2:1: warning: ignoring unsupported top-level stanza 'system'",
            "w.conf:6:1: warning: ignoring unsupported top-level stanza 'chassis'",
            "w.conf:7:1: warning: ignoring unsupported top-level stanza 'protocols'",
            "w.conf:8:1: warning: ignoring unsupported top-level stanza 'snmp'",
            "w.conf:9:1: warning: ignoring unsupported top-level stanza 'firewall'",
            "w.conf:10:1: warning: ignoring unsupported top-level stanza 'class-of-service'",
            "w.conf:11:1: warning: ignoring unsupported top-level stanza 'security'",
            "w.conf:12:1: warning: ignoring unsupported top-level stanza 'groups'",
            "w.conf:13:1: warning: ignoring unsupported top-level stanza 'apply-groups'",
        ]
    );
    let set = "set version 21.2R3\nset system host-name pic\nset system services ssh\nset protocols ospf area 0 interface ge-0/0/0.0\n";
    assert_eq!(
        warnings(set),
        [
            "w.conf:1:5: warning: ignoring unsupported top-level stanza 'version'",
            "w.conf:2:5: warning: ignoring unsupported top-level stanza 'system'",
            "w.conf:4:5: warning: ignoring unsupported top-level stanza 'protocols'",
        ]
    );
}

#[test]
fn unsupported_statements_in_implemented_stanzas_warn_once_each() {
    let text = format!(
        "{SS_BRACES}
services {{
    service-set ss {{
        jflow-log;
        ids-rules ids1;
        ipsec-vpn-rules v1;
    }}
    nat {{ pool p {{ address 192.0.2.0/28; port {{ automatic; }} snmp-trap-thresholds {{ address-port high 90; }} }} }}
}}
interfaces {{ ge-0/0/0 {{ mtu 9192; description \"x\"; unit 0 {{ vlan-id 5; family inet {{ filter {{ input f; }} address 10.0.0.1/24 {{ primary; }} }} family mpls; }} }} }}
"
    );
    let w = warnings(&text);
    assert_eq!(
        w,
        [
            "w.conf:7:9: warning: ignoring unsupported statement 'services service-set ss jflow-log'",
            "w.conf:8:9: warning: ignoring unsupported statement 'services service-set ss ids-rules'",
            "w.conf:9:9: warning: ignoring unsupported statement 'services service-set ss ipsec-vpn-rules'",
            "w.conf:11:62: warning: ignoring unsupported statement 'services nat pool p snmp-trap-thresholds'",
            "w.conf:13:25: warning: ignoring unsupported statement 'interfaces ge-0/0/0 mtu'",
            "w.conf:13:61: warning: ignoring unsupported statement 'interfaces ge-0/0/0 unit 0 vlan-id'",
            "w.conf:13:86: warning: ignoring unsupported statement 'interfaces ge-0/0/0 unit 0 family inet filter'",
            "w.conf:13:128: warning: ignoring unsupported statement 'interfaces ge-0/0/0 unit 0 family inet address 10.0.0.1/24 primary'",
            "w.conf:13:148: warning: ignoring unsupported statement 'interfaces ge-0/0/0 unit 0 family mpls'",
        ]
    );
}

#[test]
fn forms_with_warnings_are_equal() {
    let b = parse_ok(
        "system { host-name x; }\ninterfaces { ge-0/0/0 { mtu 1500; unit 0; } }",
        "b",
    );
    let s = parse_ok("set interfaces ge-0/0/0 unit 0\nset interfaces ge-0/0/0 mtu 1500\nset system host-name x\n", "s");
    assert_eq!(b.warnings.len(), 2);
    assert_eq!(s.warnings.len(), 2);
    assert_ne!(b.warnings, s.warnings);
    assert_eq!(b, s);
}

/// The DS-Lite example of docs/examples loads without warnings and prints back as it reads.
#[test]
fn ds_lite_example() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/examples/testbed-ds-lite.conf"
    );
    let c = parse_ok(&std::fs::read_to_string(path).unwrap(), path);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(
        c.ds_lite[0].softwire_address,
        "2001:db8:aaaa::1".parse::<std::net::Ipv6Addr>().unwrap()
    );
    assert_eq!(c.service_set("dslite").unwrap().softwire_rules, ["dslite"]);
    assert_eq!(parse_ok(&display::braces(&c), "printed.conf"), c);
}
