//! Every validation error: its message text and its `file:line:col`.

use mspic_config::*;

fn errors(text: &str) -> Vec<String> {
    match parse(text, "e.conf") {
        Ok(_) => panic!("no error for:\n{text}"),
        Err(e) => e.0.iter().map(|d| d.to_string()).collect(),
    }
}

/// Checks one error (the only one reported).
fn one(text: &str, expected: &str) {
    let e = errors(text);
    assert_eq!(e, [expected], "for:\n{text}");
}

const MS: &str = "set interfaces ms-1/1/0 unit 0 family inet\n";

#[test]
fn syntax_errors() {
    one(
        "interfaces {\n    ge-0/0/0 {\n        unit 0;\n}\n",
        "e.conf:1:12: error: unbalanced braces: this '{' is never closed (expected '}')",
    );
    one(
        "interfaces {\n}\n}\n",
        "e.conf:3:1: error: unbalanced braces: unexpected '}' (no block is open)",
    );
    one(
        "interfaces {\n    ge-0/0/0 {\n        mtu 9000\n        unit 0;\n    }\n}\n",
        "e.conf:3:17: error: missing ';' after '9000' (expected ';' or '{')",
    );
    one(
        "interfaces { ge-0/0/0 { unit 0 }\n}",
        "e.conf:1:31: error: missing ';' after '0' (expected ';' or '{')",
    );
    one(
        "interfaces {\n    ge-0/0/0 { description \"abc; }\n}\n",
        "e.conf:2:28: error: unterminated string (expected a closing '\"')",
    );
    one(
        "/* comment\ninterfaces { }",
        "e.conf:1:1: error: unterminated comment '/*' (expected '*/')",
    );
    one(
        "set interfaces ge-0/0/0 { unit 0 }\n",
        "e.conf:1:25: error: unexpected '{' in 'set' command (expected a word or a list)",
    );
    one("set\n", "e.conf:1:4: error: missing statement after 'set'");
    one(
        "set services stateful-firewall rule r term t from applications [ a b\n",
        "e.conf:1:64: error: unterminated list '[' (expected ']')",
    );
}

#[test]
fn unknown_statements() {
    one(
        "services {\n    nat {\n        pool p {\n            adress 192.0.2.1;\n        }\n    }\n}\n",
        "e.conf:4:13: error: unknown statement 'adress' (expected one of: address, address-range, port, address-allocation, mapping-timeout, ei-mapping-timeout, app-mapping-timeout)",
    );
    one(
        "interfacs { ge-0/0/0; }",
        "e.conf:1:1: error: unknown statement 'interfacs' (expected one of: interfaces, routing-options, routing-instances, services, applications, policy-options, emulator)",
    );
    one(
        "set services stateful-firewall rule r match-direction input\nset services stateful-firewall rule r term t then accpt\n",
        "e.conf:2:51: error: unknown statement 'accpt' (expected one of: accept, discard, reject, syslog, allow-ip-options)",
    );
    one(
        "set interfaces ms-1/1/0 services-options idle-timeout 30\n",
        "e.conf:1:42: error: unknown statement 'idle-timeout' (expected one of: inactivity-timeout, inactivity-tcp-timeout, inactivity-non-tcp-timeout, open-timeout, close-timeout, session-limit, tcp-tickles, syslog, pba-interim-logging-interval)",
    );
    one(
        "set emulator interface ge-0/0/0 dev pin\nset interfaces ge-0/0/0\n",
        "e.conf:1:33: error: unknown statement 'dev' (expected one of: device)",
    );
    one(
        "set interfaces ge-0/0/0 unit 0 family inet service input service-filter f\n",
        "e.conf:1:58: error: unsupported statement 'service-filter' (mspic sends all of the interface's traffic to the service set)",
    );
    one(
        "set interfaces ge-0/0/0 unit 0 family inet service input service-set ss service-filter f\n",
        "e.conf:1:73: error: unsupported statement 'service-filter' (mspic sends all of the interface's traffic to the service set)",
    );
    one(
        "set services nat pool p limit-ports-per-address 100\n",
        "e.conf:1:25: error: unsupported statement 'limit-ports-per-address' (mspic does not cap the ports of a pool address)",
    );
    // Statements Junos takes that change packet behaviour and mspic does not implement.
    one(
        "set interfaces ms-1/1/0 services-options tcp-non-syn drop-flow\n",
        "e.conf:1:42: error: unsupported statement 'tcp-non-syn' (mspic always drops, and counts, a first TCP packet that is not a SYN)",
    );
    one(
        "set interfaces ms-1/1/0 services-options session-timeout 3600\n",
        "e.conf:1:42: error: unsupported statement 'session-timeout' (mspic does not end sessions at a fixed lifetime)",
    );
    one(
        "set interfaces ms-1/1/0 services-options session-limit cpu-load-threshold 90\n",
        "e.conf:1:56: error: unsupported statement 'cpu-load-threshold' (mspic does not refuse sessions by CPU load)",
    );
    one(
        "set services service-set ss service-set-options support-uni-directional-traffic\n",
        "e.conf:1:29: error: unsupported statement 'service-set-options' (its options (asymmetric and one-way traffic, bypass on overload, session syslog switches) change which packets pass and what is logged; mspic has none)",
    );
    one(
        "set applications application a protocol udp\nset applications application a term t1 protocol tcp\n",
        "e.conf:1:32: error: application 'a': statements outside a term cannot be combined with terms (put them in a term)",
    );
    one(
        "set applications application a term t1 protocol udp\nset applications application a term t1 ttl-threshold 30\n",
        "e.conf:2:54: error: application 'a' term 't1': ttl-threshold needs application-protocol traceroute",
    );
    one(
        "set applications application a application-protocol traceroute\nset applications application a ttl-threshold 256\n",
        "e.conf:2:46: error: invalid ttl-threshold '256' (expected a number 0-255)",
    );
    one(
        "set applications application a alg ftp\n",
        "e.conf:1:32: error: unknown statement 'alg' (expected one of: application-protocol, protocol, source-port, destination-port, icmp-type, icmp-code, icmp6-type, icmp6-code, inactivity-timeout, ttl-threshold, rpc-program-number, uuid)",
    );
    one(
        "set applications application a term t2 destination-port 80\n",
        "e.conf:1:57: error: application 'a' term 't2': destination-port needs protocol tcp, udp or sctp",
    );
}

#[test]
fn bad_values() {
    one(
        "set applications application a protocol tcp\nset applications application a destination-port 70000\n",
        "e.conf:2:49: error: invalid port '70000' (expected a number 0-65535, a range low-high or a port name such as http)",
    );
    one(
        "set applications application a protocol tcp\nset applications application a source-port 2000-1000\n",
        "e.conf:2:44: error: invalid port range '2000-1000' (the low port must not exceed the high port)",
    );
    one(
        "set applications application a protocol foo\n",
        "e.conf:1:41: error: invalid protocol 'foo' (expected a number 0-255 or one of: ah, egp, esp, gre, icmp, icmp6, igmp, ipip, ospf, pim, rsvp, sctp, tcp, udp)",
    );
    one(
        "set applications application a application-protocol http\n",
        "e.conf:1:53: error: unknown application-protocol 'http' (expected one of: bootp, dce-rpc, dce-rpc-portmap, dns, exec, ftp, h323, icmp, icmpv6, iiop, ike-esp-nat, ip, login, netbios, netshow, pptp, ras, realaudio, rpc, rpc-portmap, rsh, rtsp, shell, sip, snmp, sqlnet, talk, tftp, traceroute, winframe)",
    );
    one(
        "set applications application a inactivity-timeout 2\n",
        "e.conf:1:51: error: invalid inactivity-timeout '2' (expected 'never' or a number 4-86400)",
    );
    one(
        "set interfaces ms-1/1/0 services-options inactivity-timeout 3\n",
        "e.conf:1:61: error: invalid inactivity-timeout '3' (expected a number 4-86400)",
    );
    one(
        "set interfaces ms-1/1/0 services-options inactivity-timeout 86401\n",
        "e.conf:1:61: error: invalid inactivity-timeout '86401' (expected a number 4-86400)",
    );
    one(
        "set interfaces ms-1/1/0 services-options open-timeout 225\n",
        "e.conf:1:55: error: invalid open-timeout '225' (expected a number 4-224)",
    );
    one(
        "set interfaces ms-1/1/0 services-options close-timeout 301\n",
        "e.conf:1:56: error: invalid close-timeout '301' (expected a number 4-300)",
    );
    one(
        "set interfaces ms-1/1/0 services-options tcp-tickles 31\n",
        "e.conf:1:54: error: invalid tcp-tickles '31' (expected a number 0-30)",
    );
    one(
        "set interfaces ge-0/0/0 unit 0 family inet address 10.0.0.300/24\n",
        "e.conf:1:52: error: invalid prefix '10.0.0.300/24' (expected an address or address/length, e.g. 10.0.0.0/24)",
    );
    one(
        "set interfaces ge-0/0/0 unit 0 family inet address 10.0.0.1/33\n",
        "e.conf:1:52: error: invalid prefix '10.0.0.1/33' (expected an address or address/length, e.g. 10.0.0.0/24)",
    );
    one(
        "set interfaces ge-0/0/0 unit 0 family inet address 2001:db8::1/64\n",
        "e.conf:1:52: error: address '2001:db8::1/64' is not an IPv4 address (family inet)",
    );
    one(
        "set interfaces ms-1/1 unit 0\n",
        "e.conf:1:16: error: invalid services interface name 'ms-1/1' (expected ms-FPC/PIC/PORT, e.g. ms-1/1/0)",
    );
    one(
        "set interfaces ge-0/0/0.0 unit 0\n",
        "e.conf:1:16: error: invalid interface name 'ge-0/0/0.0' (write the unit as 'unit N', not in the name)",
    );
    one(
        "set services nat pool p address-range low 192.0.2.20 high 192.0.2.10\n",
        "e.conf:1:43: error: invalid address-range: low 192.0.2.20 is above high 192.0.2.10",
    );
    one(
        "set services nat pool p address 192.0.2.0/28\nset services nat pool p port range low 3000 high 2000\n",
        "e.conf:2:40: error: nat pool 'p': invalid port range: low 3000 is above high 2000",
    );
    one(
        "set services nat pool p address 192.0.2.0/28\nset services nat pool p port range low 1024 high 65536\n",
        "e.conf:2:50: error: invalid port '65536' (expected a number 0-65535)",
    );
    const PBA: &str = "set services nat pool p address 192.0.2.0/28\nset services nat pool p port range low 2000 high 2999\n";
    one(
        &format!("{PBA}set services nat pool p port secured-port-block-allocation block-size 2000\n"),
        "e.conf:3:30: error: nat pool 'p': secured-port-block-allocation block-size 2000 is larger than the port range 2000-2999 (1000 ports)",
    );
    one(
        &format!("{PBA}set services nat pool p port preserve-parity\nset services nat pool p port secured-port-block-allocation\n"),
        "e.conf:4:30: error: nat pool 'p': secured-port-block-allocation cannot be combined with preserve-parity or preserve-range",
    );
    one(
        &format!("{PBA}set services nat pool p port secured-port-block-allocation active-block-timeout 60\n"),
        "e.conf:3:81: error: invalid active-block-timeout '60' (expected 0, for no timeout, or 120..86400 seconds)",
    );
    one(
        &format!("{PBA}set services nat pool p port secured-port-block-allocation max-blocks-per-address 513\n"),
        "e.conf:3:83: error: invalid max-blocks-per-address '513' (expected a number 1-512)",
    );
    one(
        &format!("{PBA}set services nat pool p port secured-port-block-allocation block-size 0\n"),
        "e.conf:3:71: error: invalid block-size '0' (expected a number 1-60000)",
    );
    one(
        "set services nat pool p address 192.0.2.0/28\nset services nat pool p mapping-timeout 60\n",
        "e.conf:2:41: error: invalid mapping-timeout '60' (expected a number 120-86400)",
    );
    one(
        "set services nat pool p address 192.0.2.0/28\nset services nat pool p ei-mapping-timeout 86401\n",
        "e.conf:2:44: error: invalid ei-mapping-timeout '86401' (expected a number 120-86400)",
    );
    one(
        "set services nat pool p address 192.0.2.0/28\nset services nat pool p app-mapping-timeout 0\n",
        "e.conf:2:45: error: invalid app-mapping-timeout '0' (expected a number 120-86400)",
    );
    one(
        "set services stateful-firewall rule r match-direction both\n",
        "e.conf:1:55: error: invalid match-direction 'both' (expected input, output or input-output)",
    );
    one(
        "set services nat rule r match-direction input-output\n",
        "e.conf:1:41: error: invalid match-direction 'input-output' (expected input or output)",
    );
    one(
        "set services stateful-firewall rule r match-direction input\nset services stateful-firewall rule r term t from source-address-range low 10.0.0.9 high 10.0.0.1\nset services stateful-firewall rule r term t then accept\n",
        "e.conf:2:76: error: invalid address range: low 10.0.0.9 is above high 10.0.0.1",
    );
    one(
        "set emulator workers 0\n",
        "e.conf:1:22: error: invalid workers '0' (expected a number 1-1024)",
    );
}

#[test]
fn conflicting_leaf_values() {
    one(
        "services {\n    stateful-firewall {\n        rule r { match-direction input; term t { then accept; } }\n        rule r { match-direction output; }\n    }\n}\n",
        "e.conf:4:34: error: conflicting values for 'match-direction': 'output' conflicts with 'input' set at 3:34",
    );
    one(
        "set services stateful-firewall rule r match-direction input\nset services stateful-firewall rule r term t then accept\nset services stateful-firewall rule r term t then discard\n",
        "e.conf:3:51: error: conflicting values for 'then action': 'discard' conflicts with 'accept' set at 2:51",
    );
    one(
        "set routing-options static route 192.0.2.0/24 next-hop [ 10.0.0.1 10.0.0.2 ]\n",
        "e.conf:1:67: error: route 192.0.2.0/24: more than one next-hop is not supported (found '10.0.0.2')",
    );
}

#[test]
fn dangling_references() {
    one(
        &format!("{MS}set services service-set ss stateful-firewall-rules nope\nset services service-set ss interface-service service-interface ms-1/1/0\n"),
        "e.conf:2:53: error: service-set 'ss': stateful-firewall rule 'nope' is not defined",
    );
    one(
        &format!("{MS}set services service-set ss nat-rule-sets nope\nset services service-set ss interface-service service-interface ms-1/1/0\n"),
        "e.conf:2:43: error: service-set 'ss': nat rule-set 'nope' is not defined",
    );
    one(
        "set interfaces ge-0/0/0 unit 0\nset services service-set ss interface-service service-interface ge-0/0/0\n",
        "e.conf:2:65: error: service-interface 'ge-0/0/0' is not a services (ms-) interface",
    );
    one(
        "set services service-set ss interface-service service-interface ms-9/9/9\n",
        "e.conf:1:65: error: service-interface 'ms-9/9/9' is not a configured ms- interface",
    );
    one(
        &format!(
            "{MS}set services service-set ss interface-service service-interface ms-1/1/0.7\n"
        ),
        "e.conf:2:65: error: service-interface 'ms-1/1/0.7': unit 7 of ms-1/1/0 is not configured",
    );
    one(
        "set services stateful-firewall rule r match-direction input\nset services stateful-firewall rule r term t from applications junos-nope\nset services stateful-firewall rule r term t then accept\n",
        "e.conf:2:64: error: application 'junos-nope' is not defined (neither an application nor an application-set)",
    );
    one(
        "set services stateful-firewall rule r match-direction input\nset services stateful-firewall rule r term t from application-sets s1\nset services stateful-firewall rule r term t then accept\n",
        "e.conf:2:68: error: application-set 's1' is not defined",
    );
    one(
        "set services stateful-firewall rule r match-direction input\nset services stateful-firewall rule r term t from source-prefix-list pl\nset services stateful-firewall rule r term t then accept\n",
        "e.conf:2:70: error: prefix-list 'pl' is not defined",
    );
    one(
        "set services nat rule r match-direction input\nset services nat rule r term t then translated source-pool nope\nset services nat rule r term t then translated translation-type napt-44\n",
        "e.conf:2:60: error: source-pool 'nope' is not a defined nat pool",
    );
    one(
        "set services nat pool p address 192.0.2.1\nset services nat rule r match-direction input\nset services nat rule r term t then translated destination-pool nope\nset services nat rule r term t then translated translation-type dnat-44\n",
        "e.conf:3:65: error: destination-pool 'nope' is not a defined nat pool",
    );
    one(
        "set emulator interface ge-0/0/5 device eth0\n",
        "e.conf:1:24: error: emulator interface 'ge-0/0/5' is not a configured interface",
    );
    one(
        "set interfaces ge-0/0/0 unit 0 family inet service input service-set nope\n",
        "e.conf:1:70: error: service-set 'nope' is not defined",
    );
    one(
        "set applications application-set s application nope\n",
        "e.conf:1:48: error: application-set 's': application 'nope' is not defined",
    );
    one(
        "set applications application x protocol tcp\nset applications application-set x application x\n",
        "e.conf:2:34: error: application-set 'x' has the same name as an application (a term's 'applications' could name either)",
    );
    assert_eq!(
        errors("set applications application-set a application-set b\nset applications application-set b application-set a\n"),
        [
            "e.conf:1:34: error: application-set 'a' contains itself",
            "e.conf:2:34: error: application-set 'b' contains itself",
        ]
    );
}

const NAT: &str = "set services nat pool addr address 192.0.2.0/28
set services nat pool napt address 192.0.2.16/28
set services nat pool napt port automatic
set services nat rule r match-direction input
";

fn nat_term(then: &str) -> String {
    let mut s = NAT.to_string();
    for line in then.lines() {
        s.push_str("set services nat rule r term t then translated ");
        s.push_str(line);
        s.push('\n');
    }
    s
}

#[test]
fn translation_type_requirements() {
    // The translation-type token sits on line 5 (after the four NAT lines), or later.
    one(
        &nat_term("translation-type napt-44"),
        "e.conf:5:65: error: translation-type napt-44 requires a source-pool with a 'port' statement",
    );
    one(
        &nat_term("source-pool addr\ntranslation-type napt-44"),
        "e.conf:6:65: error: translation-type napt-44 requires source-pool 'addr' to have a 'port' statement",
    );
    one(
        &nat_term("source-prefix 192.0.2.0/24\ntranslation-type dynamic-nat44"),
        "e.conf:6:65: error: translation-type dynamic-nat44 requires a source-pool",
    );
    one(
        &nat_term("source-pool napt\ntranslation-type dnat-44"),
        "e.conf:6:65: error: translation-type dnat-44 requires a destination-pool or a destination-prefix",
    );
    one(
        &nat_term("destination-pool addr\ntranslation-type basic-nat44"),
        "e.conf:6:65: error: translation-type basic-nat44 requires a source-pool or a source-prefix",
    );
    one(
        &nat_term("source-pool napt\ntranslation-type twice-napt-44"),
        "e.conf:6:65: error: translation-type twice-napt-44 requires a destination-pool or a destination-prefix",
    );
    assert_eq!(
        errors(&nat_term("translation-type twice-basic-nat-44")),
        [
            "e.conf:5:65: error: translation-type twice-basic-nat-44 requires a destination-pool or a destination-prefix",
            "e.conf:5:65: error: translation-type twice-basic-nat-44 requires a source-pool or a source-prefix",
        ]
    );
    one(
        &nat_term("destination-prefix 10.0.0.0/24\ntranslation-type twice-dynamic-nat-44"),
        "e.conf:6:65: error: translation-type twice-dynamic-nat-44 requires a source-pool",
    );
    one(
        &nat_term("source-pool addr\ntranslation-type stateful-nat64"),
        "e.conf:6:65: error: translation-type stateful-nat64 requires source-pool 'addr' to have a 'port' statement",
    );
    one(
        &nat_term("source-pool napt\ntranslation-type stateful-nat464"),
        "e.conf:6:65: error: translation-type 'stateful-nat464' is not supported by mspic (supported: napt-44, dynamic-nat44, basic-nat44, dnat-44, twice-napt-44, twice-basic-nat-44, twice-dynamic-nat-44, deterministic-napt44, stateful-nat64)",
    );
    one(
        &nat_term("source-pool napt\ntranslation-type source-dynamic"),
        "e.conf:6:65: error: unknown translation-type 'source-dynamic' (expected one of: napt-44, dynamic-nat44, basic-nat44, dnat-44, twice-napt-44, twice-basic-nat-44, twice-dynamic-nat-44, deterministic-napt44, stateful-nat64)",
    );
    one(
        &nat_term("source-pool napt"),
        "e.conf:5:37: error: term 't' of nat rule 'r': translated has no translation-type",
    );
}

#[test]
fn stateful_nat64_terms() {
    // RFC 6146 with the well-known prefix, or a network-specific one of an RFC 6052 length.
    let cfg = parse(
        &nat_term("source-pool napt\ntranslation-type stateful-nat64"),
        "e.conf",
    )
    .expect("well-known prefix");
    let NatThen::Translated(t) = &cfg.nat_rules[0].terms[0].then else {
        panic!("not translated");
    };
    assert_eq!(t.translation_type, TranslationType::StatefulNat64);
    assert_eq!(t.destination_prefix, None);
    let cfg = parse(
        &nat_term(
            "source-pool napt\ndestination-prefix 2001:db8:64::/96\ntranslation-type stateful-nat64",
        ),
        "e.conf",
    )
    .expect("network-specific prefix");
    let NatThen::Translated(t) = &cfg.nat_rules[0].terms[0].then else {
        panic!("not translated");
    };
    assert_eq!(
        t.destination_prefix,
        Some("2001:db8:64::/96".parse().expect("prefix"))
    );
    // The configuration prints back as it reads.
    for text in [display::set(&cfg), display::braces(&cfg)] {
        assert_eq!(
            parse(&text, "again.conf").expect("prints back"),
            cfg,
            "{text}"
        );
    }
    one(
        &nat_term("source-pool napt\ndestination-prefix 2001:db8:64::/80\ntranslation-type stateful-nat64"),
        "e.conf:6:67: error: translation-type stateful-nat64: destination-prefix 2001:db8:64::/80 must be an IPv6 prefix of length 32, 40, 48, 56, 64 or 96 (RFC 6052)",
    );
    one(
        &nat_term("source-pool napt\ndestination-prefix 2001:db8:0:0:ff00::/96\ntranslation-type stateful-nat64"),
        "e.conf:6:67: error: translation-type stateful-nat64: destination-prefix 2001:db8:0:0:ff00::/96 has bits 64 to 71 set (RFC 6052 §2.2: they must be zero)",
    );
    one(
        &nat_term("source-pool napt\ndestination-prefix 10.0.0.0/24\ntranslation-type stateful-nat64"),
        "e.conf:6:67: error: translation-type stateful-nat64: destination-prefix 10.0.0.0/24 must be an IPv6 prefix of length 32, 40, 48, 56, 64 or 96 (RFC 6052)",
    );
    for (stmt, what) in [
        (
            "destination-pool addr",
            "a destination-pool (use destination-prefix)",
        ),
        ("source-prefix 192.0.2.0/28", "a source-prefix"),
        ("address-pooling paired", "address-pooling paired"),
        (
            "mapping-type endpoint-independent",
            "mapping-type endpoint-independent",
        ),
        (
            "filtering-type endpoint-independent",
            "filtering-type endpoint-independent",
        ),
    ] {
        let e = errors(&nat_term(&format!(
            "source-pool napt\n{stmt}\ntranslation-type stateful-nat64"
        )));
        assert_eq!(e.len(), 1, "{stmt}: {e:?}");
        assert!(
            e[0].ends_with(&format!(
                "error: translation-type stateful-nat64 with {what} is not supported by mspic"
            )),
            "{stmt}: {e:?}"
        );
    }
}

#[test]
fn nat_pool_members() {
    for (addr, what) in [
        ("0.0.0.0", "the unspecified address 0.0.0.0"),
        ("127.0.0.1", "loopback 127.0.0.0/8"),
        ("224.0.0.1/32", "multicast 224.0.0.0/4"),
        ("239.1.0.0/16", "multicast 224.0.0.0/4"),
        ("240.0.0.1", "class E 240.0.0.0/4"),
        ("255.255.255.255", "the broadcast address 255.255.255.255"),
        ("0.0.0.0/0", "the broadcast address 255.255.255.255"),
        ("126.0.0.0/7", "loopback 127.0.0.0/8"),
    ] {
        one(
            &format!("services {{ nat {{ pool p {{ address {addr}; }} }} }}"),
            &format!("e.conf:1:35: error: invalid NAT pool address '{addr}': it covers {what}, which cannot be a pool member"),
        );
    }
    one(
        "set services nat pool p address-range low 126.255.255.250 high 127.0.0.5\n",
        "e.conf:1:43: error: invalid NAT pool address-range 126.255.255.250-127.0.0.5: it covers loopback 127.0.0.0/8, which cannot be a pool member",
    );
    one(
        "set services nat pool p address 2001:db8::/120\n",
        "e.conf:1:33: error: invalid NAT pool address '2001:db8::/120' (mspic implements NAT44: expected an IPv4 address or prefix)",
    );
    one(
        "set services nat pool p port automatic\n",
        "e.conf:1:23: error: nat pool 'p' has no address or address-range",
    );
    one(
        "set services nat pool p address 192.0.2.1\nset services nat pool p port preserve-parity\n",
        "e.conf:2:25: error: nat pool 'p': port needs 'automatic' or 'range low L high H'",
    );
}

#[test]
fn reserved_and_missing() {
    one(
        "set applications application junos-mine protocol tcp\n",
        "e.conf:1:30: error: invalid application name 'junos-mine': names starting with 'junos-' are reserved for predefined applications",
    );
    one(
        "set applications application-set junos-web application junos-http\n",
        "e.conf:1:34: error: invalid application-set name 'junos-web': names starting with 'junos-' are reserved for predefined applications",
    );
    one(
        "set services stateful-firewall rule r term t then accept\n",
        "e.conf:1:37: error: stateful-firewall rule 'r' has no match-direction (expected input, output or input-output)",
    );
    one(
        "set services stateful-firewall rule r match-direction input\nset services stateful-firewall rule r term t from source-address 10.0.0.0/8\n",
        "e.conf:2:44: error: term 't' of stateful-firewall rule 'r' has no action (expected then accept, discard or reject)",
    );
    one(
        "set services nat rule r match-direction input\nset services nat rule r term t from source-address 10.0.0.0/8\n",
        "e.conf:2:30: error: term 't' of nat rule 'r' has no action (expected then translated or then no-translation)",
    );
    one(
        "set services service-set ss max-flows 10\n",
        "e.conf:1:26: error: service-set 'ss' has no interface-service or next-hop-service",
    );
    one(
        "set routing-options static route 10.0.0.0/8 preference 5\n",
        // 'preference' is ignored (with a warning), leaving the route without a next-hop.
        "e.conf:1:34: error: route 10.0.0.0/8 has no next-hop (expected next-hop, discard or reject)",
    );
    one(
        "set interfaces ge-0/0/0\nset emulator interface ge-0/0/0\n",
        "e.conf:2:24: error: emulator interface 'ge-0/0/0' has no device",
    );
    one(
        "set interfaces ge-0/0/0\nset interfaces ge-0/0/1\nset emulator interface ge-0/0/0 device pin\nset emulator interface ge-0/0/1 device pin\n",
        "e.conf:4:40: error: device 'pin' is already bound to interface 'ge-0/0/0'",
    );
    one(
        "set interfaces ms-1/1/0 unit 1 family inet\nset interfaces ms-1/1/0 unit 2 family inet\nset interfaces ms-1/1/0 unit 2 service-domain outside\nset services service-set nh next-hop-service inside-service-interface ms-1/1/0.1\nset services service-set nh next-hop-service outside-service-interface ms-1/1/0.2\n",
        "e.conf:4:71: error: inside-service-interface 'ms-1/1/0.1' needs 'service-domain inside' on that unit",
    );
}

#[test]
fn interfaces_in_routing_instances_are_refused() {
    one(
        "set routing-instances subscribers instance-type virtual-router\nset routing-instances subscribers interface ge-0/0/0.0\n",
        "e.conf:2:35: error: routing instance 'subscribers': interfaces in routing instances are not supported (mspic routes in inet.0 and inet6.0 only)",
    );
    let braces =
        "routing-instances {\n    mgmt {\n        instance-type virtual-router;\n    }\n}\n";
    let c = parse(braces, "e.conf").unwrap_or_else(|e| panic!("{e}"));
    let w: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        w,
        ["e.conf:2:5: warning: ignoring unsupported statement 'routing-instances mgmt'"]
    );
}

#[test]
fn all_errors_are_reported_in_order() {
    let text = "services {
    stateful-firewall {
        rule r {
            match-direction sideways;
            term t {
                from { applications nope; }
                then accept;
            }
        }
    }
    nat { pool p { address 127.0.0.1; } }
}
interfaces { ms-1/1/0 { services-options { open-timeout 1; } } }
";
    let e = parse(text, "e.conf").unwrap_err();
    let lines: Vec<String> = e.0.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        lines,
        [
            "e.conf:4:29: error: invalid match-direction 'sideways' (expected input, output or input-output)",
            "e.conf:6:37: error: application 'nope' is not defined (neither an application nor an application-set)",
            "e.conf:11:28: error: invalid NAT pool address '127.0.0.1': it covers loopback 127.0.0.0/8, which cannot be a pool member",
            "e.conf:13:57: error: invalid open-timeout '1' (expected a number 4-224)",
        ]
    );
    assert_eq!(e.to_string(), lines.join("\n"));
    assert!(e.0.iter().all(|d| d.severity == Severity::Error));
}

/// `port-forwarding` maps and the terms that name them (Junos "Port Forwarding": dnat-44
/// and twice-napt-44 only).
#[test]
fn port_forwarding_checks() {
    let map = "set services nat port-forwarding pf destined-port 8080 translated-port 80\n";
    let rule = |then: &str| {
        format!(
            "{map}set services nat pool web address 10.0.0.10/32
set services nat rule r match-direction input
set services nat rule r term t from destination-address 203.0.113.10/32
{then}"
        )
    };
    one(
        &rule("set services nat rule r term t then port-forwarding-mappings nope\nset services nat rule r term t then translated destination-pool web\nset services nat rule r term t then translated translation-type dnat-44\n"),
        "e.conf:5:62: error: port-forwarding 'nope' is not defined",
    );
    one(
        &rule("set services nat rule r term t then port-forwarding-mappings pf\nset services nat rule r term t then translated source-pool web\nset services nat rule r term t then translated translation-type dynamic-nat44\n"),
        "e.conf:5:62: error: port-forwarding-mappings works with translation-type dnat-44 or twice-napt-44, not dynamic-nat44",
    );
    one(
        &rule("set services nat rule r term t then port-forwarding-mappings pf\nset services nat rule r term t then no-translation\n"),
        "e.conf:5:62: error: port-forwarding-mappings needs 'then translated' (dnat-44 or twice-napt-44), not no-translation",
    );
    one(
        &format!(
            "{map}set services nat port-forwarding pf destined-port 8080 translated-port 81\n"
        ),
        "e.conf:2:51: error: port-forwarding 'pf': destined-port 8080 is already translated to 80",
    );
    one(
        "set services nat port-forwarding pf destined-port 0 translated-port 80\n",
        "e.conf:1:51: error: port 0 cannot be forwarded (expected 1-65535)",
    );
    one(
        "set services nat port-forwarding pf destined-port 80\n",
        "e.conf:1:53: error: missing statement after '80' (expected one of: translated-port)",
    );
    one(
        "set services nat port-forwarding pf\n",
        "e.conf:1:34: error: port-forwarding 'pf' has no 'destined-port D translated-port T'",
    );
    // The same pair twice is one pair.
    let ok = rule("set services nat rule r term t then port-forwarding-mappings pf\nset services nat rule r term t then translated destination-pool web\nset services nat rule r term t then translated translation-type dnat-44\n");
    let cfg = mspic_config::parse(&format!("{ok}{map}"), "ok.conf").unwrap();
    assert_eq!(cfg.port_forwarding("pf").unwrap().mappings, [(8080, 80)]);
}

/// `tcp-mss` takes 536 through 65535 (Junos "Configuring Service Set Limitations").
#[test]
fn tcp_mss_range() {
    assert_eq!(
        errors("set services service-set ss tcp-mss 535\n"),
        ["e.conf:1:37: error: invalid tcp-mss '535' (expected a number 536-65535)"]
    );
}

/// `max-session-setup-rate`: 1 through 429,496,729, or thousands with `k`.
#[test]
fn setup_rate_range() {
    for bad in ["0", "429496730", "500000k", "ten"] {
        assert_eq!(
            errors(&format!("set services service-set ss max-session-setup-rate {bad}\n")),
            [format!("e.conf:1:52: error: invalid max-session-setup-rate '{bad}' (expected 1-429496729, or a number of thousands like 10k)")]
        );
    }
}

/// `max-sessions-per-subscriber` needs the interfaces that apply the set (subscribers are
/// the hosts behind them): refused on a next-hop service set.
#[test]
fn per_subscriber_limit_on_next_hop_set() {
    let text = "set interfaces ms-1/1/0 unit 1 family inet
set interfaces ms-1/1/0 unit 1 service-domain inside
set interfaces ms-1/1/0 unit 2 family inet
set interfaces ms-1/1/0 unit 2 service-domain outside
set services service-set ss next-hop-service inside-service-interface ms-1/1/0.1
set services service-set ss next-hop-service outside-service-interface ms-1/1/0.2
set services service-set ss max-sessions-per-subscriber 10
";
    assert_eq!(
        errors(text),
        ["e.conf:7:57: error: service-set 'ss': max-sessions-per-subscriber is supported on interface-style service sets only (mspic counts the hosts behind the interfaces that apply the set as input)"]
    );
}

/// deterministic-napt44 (Junos: "Deterministic NAT"): blocks that tile the range, a pool
/// large enough for every subscriber, the pool for deterministic-napt44 alone and one
/// source range per pool.
#[test]
fn deterministic_nat_errors() {
    one(
        "set services nat pool d address 192.0.2.0/30\nset services nat pool d port range low 1024 high 65535\nset services nat pool d port deterministic-port-block-allocation block-size 1000\nset services nat rule r match-direction input\nset services nat rule r term t from source-address 10.0.0.0/24\nset services nat rule r term t then translated source-pool d\nset services nat rule r term t then translated translation-type deterministic-napt44\n",
        "e.conf:7:65: error: translation-type deterministic-napt44 with source-pool 'd': block-size 1000 does not divide the port range 1024-65535 (64512 ports): a block would span two addresses",
    );
    one(
        "set services nat pool d address 192.0.2.0/30\nset services nat pool d port range low 1024 high 65535\nset services nat pool d port deterministic-port-block-allocation block-size 256\nset services nat rule r match-direction input\nset services nat rule r term t from source-address 10.0.0.0/24\nset services nat rule r term t then translated source-pool d\nset services nat rule r term t then translated translation-type napt-44\n",
        "e.conf:7:65: error: translation-type napt-44 cannot use source-pool 'd': its ports are deterministic-port-block-allocation (translation-type deterministic-napt44 only)",
    );
    one(
        "set services nat pool d address 192.0.2.0/30\nset services nat pool d port range low 1024 high 65535\nset services nat pool d port deterministic-port-block-allocation block-size 256\nset services nat rule r match-direction input\nset services nat rule r term t from source-address 10.0.0.0/24\nset services nat rule r term t then translated source-pool d\nset services nat rule r term t then translated translation-type deterministic-napt44\nset services nat rule r term u from source-address 10.0.1.0/24\nset services nat rule r term u then translated source-pool d\nset services nat rule r term u then translated translation-type deterministic-napt44\n",
        "e.conf:10:65: error: source-pool 'd' is already used by another deterministic-napt44 term (each subscriber range needs a pool of its own)",
    );
    one(
        "set services nat pool p address 192.0.2.0/30\nset services nat pool p port automatic\nset services nat rule r match-direction input\nset services nat rule r term t from source-address 10.0.0.0/24\nset services nat rule r term t then translated source-pool p\nset services nat rule r term t then translated translation-type deterministic-napt44\n",
        "e.conf:6:65: error: translation-type deterministic-napt44 requires source-pool 'p' to have 'port deterministic-port-block-allocation'",
    );
    one(
        "set services nat pool d address 192.0.2.0/30\nset services nat pool d port range low 1024 high 65535\nset services nat pool d port deterministic-port-block-allocation block-size 256\nset services nat rule r match-direction input\nset services nat rule r term t from source-address 10.0.0.0/16\nset services nat rule r term t then translated source-pool d\nset services nat rule r term t then translated translation-type deterministic-napt44\n",
        "e.conf:7:65: error: translation-type deterministic-napt44 with source-pool 'd': source-address 10.0.0.0/16 has 65534 subscribers but the pool holds only 1008 blocks of 256 ports (4 addresses × 252)",
    );
    one(
        "set services nat pool d address 192.0.2.0/28\nset services nat pool d port range low 1024 high 65535\nset services nat pool d port deterministic-port-block-allocation block-size 256\nset services nat pool e address 192.0.2.16/28\nset services nat pool e port range low 1024 high 65535\nset services nat pool e port deterministic-port-block-allocation block-size 256\nset services nat rule r match-direction input\nset services nat rule r term t from source-address 10.0.0.0/24\nset services nat rule r term t then translated source-pool d\nset services nat rule r term t then translated translation-type deterministic-napt44\nset services nat rule r term u from source-address 10.0.0.128/25\nset services nat rule r term u then translated source-pool e\nset services nat rule r term u then translated translation-type deterministic-napt44\n",
        "e.conf:13:65: error: deterministic-napt44 source range 10.0.0.128/25 overlaps 10.0.0.0/24 of another deterministic-napt44 term",
    );
}

/// `services softwire`: the DS-Lite subset is read, the other softwire kinds and the
/// statements that would change packets are refused where they are written.
#[test]
fn softwire_errors() {
    let sw =
        "set services softwire softwire-concentrator ds-lite aftr softwire-address 2001:db8::1\n";
    one(
        "set services softwire softwire-concentrator v6rd x softwire-address 192.0.2.1\n",
        "e.conf:1:45: error: unsupported statement 'v6rd' (6rd (RFC 5969) carries IPv6 in IPv4; mspic implements only DS-Lite)",
    );
    one(
        "set services softwire softwire-concentrator mapping m\n",
        "e.conf:1:45: error: unsupported statement 'mapping' (mapping rules (MAP-E, MAP-T) are stateless; mspic implements only DS-Lite)",
    );
    one(
        &format!("{sw}set services softwire rule r match-direction input\nset services softwire rule r term t then 6rd x\n"),
        "e.conf:3:42: error: unsupported statement '6rd' (6rd (RFC 5969) carries IPv6 in IPv4; mspic implements only DS-Lite)",
    );
    one(
        "set services softwire softwire-concentrator ds-lite a softwire-address 192.0.2.1\n",
        "e.conf:1:72: error: invalid softwire-address '192.0.2.1' (expected an IPv6 address)",
    );
    one(
        "set services softwire softwire-concentrator ds-lite a mtu-v6 1200\n",
        "e.conf:1:62: error: invalid mtu-v6 '1200' (expected a number 1280-9192)",
    );
    one(
        "set services softwire softwire-concentrator ds-lite a mtu-v6 1400\n",
        "e.conf:1:53: error: ds-lite concentrator 'a' has no softwire-address",
    );
    one(
        "set services softwire softwire-concentrator ds-lite a flow-limit 10\n",
        "e.conf:1:55: error: unsupported statement 'flow-limit' (a per-softwire flow limit changes which flows are admitted; mspic has none)",
    );
    one(
        &format!("{sw}set services softwire rule r match-direction output\nset services softwire rule r term t then ds-lite aftr\n"),
        "e.conf:2:46: error: unsupported softwire match-direction 'output' (a B4's tunnel enters the services interface from the inside: use input)",
    );
    one(
        "set services softwire rule r match-direction input\nset services softwire rule r term t then ds-lite nope\n",
        "e.conf:2:50: error: ds-lite concentrator 'nope' is not defined",
    );
    one(
        &format!("{sw}set services softwire rule r term t then ds-lite aftr\n"),
        "e.conf:2:28: error: softwire rule 'r' has no match-direction",
    );
    one(
        &format!(
            "{MS}{sw}set services softwire rule r match-direction input\nset services softwire rule r term t then ds-lite aftr\n\
             set services service-set s softwire-rules r\nset services service-set s interface-service service-interface ms-1/1/0\n"
        ),
        "e.conf:5:43: error: service-set 's': softwire-rules need nat-rules (DS-Lite translates the B4s' IPv4 addresses, RFC 6333 §6.6)",
    );
    let e = errors(&format!("{MS}set services service-set s softwire-rules nope\nset services service-set s interface-service service-interface ms-1/1/0\n"));
    assert_eq!(
        e[0],
        "e.conf:2:43: error: service-set 's': softwire rule 'nope' is not defined"
    );
}
