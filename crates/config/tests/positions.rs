//! Every check that compares one part of a configuration with another reports where the
//! offending statement is (`file:line:col`), as syntax and value errors do; and bytes that
//! are not UTF-8 are located too.

use mspic_config::*;

/// The errors of `text` (which must not load), as printed.
fn errors(text: &str) -> Vec<String> {
    match parse(text, "x.conf") {
        Ok(_) => panic!("no error for:\n{text}"),
        Err(e) => e.0.iter().map(|d| d.to_string()).collect(),
    }
}

/// `text` gives exactly the error `expected`.
fn one(text: &str, expected: &str) {
    assert_eq!(errors(text), [expected], "for:\n{text}");
}

const GE: &str = "set interfaces ge-0/0/0 unit 0 family inet address 192.0.2.1/24\n";
const MS: &str = "set interfaces ms-1/1/0 unit 0 family inet\n";

#[test]
fn static_routes() {
    one(
        &format!("{GE}set routing-options static route 10.0.0.0/8 next-hop 198.51.100.1\n"),
        "x.conf:2:54: error: route 10.0.0.0/8: next-hop 198.51.100.1 is not on a connected subnet (no interface address covers it)",
    );
    one(
        &format!("{GE}set routing-options rib inet6.0 static route 2001:db8::/32 next-hop 2001:db8:1::1\n"),
        "x.conf:2:69: error: route 2001:db8::/32: next-hop 2001:db8:1::1 is not on a connected subnet (no interface address covers it)",
    );
    one(
        &format!("{GE}set routing-options static route 10.0.0.0/8 next-hop xe-0/0/1.0\n"),
        "x.conf:2:54: error: next-hop 'xe-0/0/1.0' is not a configured interface",
    );
    one(
        &format!("{GE}set routing-options static route 10.0.0.0/8 next-hop ge-0/0/0.5\n"),
        "x.conf:2:54: error: next-hop 'ge-0/0/0.5': unit 5 of ge-0/0/0 is not configured",
    );
    one(
        "set routing-options static route 10.0.0.0/8 preference 5\n",
        "x.conf:1:34: error: route 10.0.0.0/8 has no next-hop (expected next-hop, discard or reject)",
    );
    // On a connected subnet: accepted, as is a next hop on a longer or shorter one.
    let ok = format!("{GE}set routing-options static route 10.0.0.0/8 next-hop 192.0.2.254\n");
    assert!(parse(&ok, "x.conf").is_ok());
}

#[test]
fn applications() {
    let app = "set applications application a protocol tcp\n";
    one(
        &format!("{app}set applications application-set a application a\n"),
        "x.conf:2:34: error: application-set 'a' has the same name as an application (a term's 'applications' could name either)",
    );
    one(
        "set applications application-set s application nope\n",
        "x.conf:1:48: error: application-set 's': application 'nope' is not defined",
    );
    one(
        "set applications application-set s application-set nope\n",
        "x.conf:1:52: error: application-set 's': application-set 'nope' is not defined",
    );
    assert_eq!(
        errors("set applications application-set s application-set t\nset applications application-set t application-set s\n"),
        [
            "x.conf:1:34: error: application-set 's' contains itself",
            "x.conf:2:34: error: application-set 't' contains itself",
        ]
    );
    one(
        "set applications application a destination-port 80\n",
        "x.conf:1:49: error: application 'a': destination-port needs protocol tcp, udp or sctp",
    );
    one(
        "set applications application a protocol tcp\nset applications application a icmp-type 8\n",
        "x.conf:2:42: error: application 'a': icmp-type needs protocol icmp or icmp6",
    );
}

/// A stateful-firewall rule `r` whose term `t` has `from` and accepts.
fn sfw(from: &str) -> String {
    format!(
        "set services stateful-firewall rule r match-direction input\nset services stateful-firewall rule r term t then accept\nset services stateful-firewall rule r term t from {from}\n"
    )
}

#[test]
fn firewall_rules_and_their_references() {
    one(
        &sfw("applications nope"),
        "x.conf:3:64: error: application 'nope' is not defined (neither an application nor an application-set)",
    );
    one(
        &sfw("application-sets nope"),
        "x.conf:3:68: error: application-set 'nope' is not defined",
    );
    one(
        &sfw("source-prefix-list nope"),
        "x.conf:3:70: error: prefix-list 'nope' is not defined",
    );
    one(
        "set services stateful-firewall rule r term t then accept\n",
        "x.conf:1:37: error: stateful-firewall rule 'r' has no match-direction (expected input, output or input-output)",
    );
    one(
        "set services stateful-firewall rule r match-direction input\nset services stateful-firewall rule r term t then syslog\n",
        "x.conf:2:44: error: term 't' of stateful-firewall rule 'r' has no action (expected then accept, discard or reject)",
    );
    one(
        "set services stateful-firewall rule-set s rule nope\n",
        "x.conf:1:48: error: stateful-firewall rule-set 's': rule 'nope' is not defined",
    );
}

const POOL: &str = "set services nat pool p address 203.0.113.0/28\n";

#[test]
fn nat_pools() {
    one(
        "set services nat pool p port automatic\n",
        "x.conf:1:23: error: nat pool 'p' has no address or address-range",
    );
    one(
        &format!("{POOL}set services nat pool p port preserve-parity\n"),
        "x.conf:2:25: error: nat pool 'p': port needs 'automatic' or 'range low L high H'",
    );
    one(
        "set services nat pool big address 10.0.0.0/15\n",
        "x.conf:1:35: error: nat pool 'big' is too large: '10.0.0.0/15' brings it to 131072 addresses (at most 65536 per pool)",
    );
    one(
        "set services nat pool big address 10.0.0.0/16\nset services nat pool big address-range low 10.1.0.0 high 10.1.0.0\n",
        "x.conf:2:45: error: nat pool 'big' is too large: '10.1.0.0' brings it to 65537 addresses (at most 65536 per pool)",
    );
    assert!(parse("set services nat pool p address 10.0.0.0/16\n", "x.conf").is_ok());
}

#[test]
fn nat_pool_port_ranges_name_the_pool() {
    one(
        &format!("{POOL}set services nat pool p port range low 3000 high 2000\n"),
        "x.conf:2:40: error: nat pool 'p': invalid port range: low 3000 is above high 2000",
    );
    one(
        &format!("{POOL}set services nat pool p port range low 0 high 2000\n"),
        "x.conf:2:40: error: nat pool 'p': invalid port range: port 0 cannot be allocated (expected a low port of 1 or more)",
    );
    one(
        &format!("{POOL}set services nat pool p port range low 0 high 0\n"),
        "x.conf:2:40: error: nat pool 'p': invalid port range: port 0 cannot be allocated (expected a low port of 1 or more)",
    );
    let ok = format!("{POOL}set services nat pool p port range low 1 high 65535\n");
    assert!(parse(&ok, "x.conf").is_ok());
}

/// A NAT rule `r` whose term `t` is translated with `then`.
fn nat(then: &str) -> String {
    format!(
        "{POOL}set services nat rule r match-direction input\nset services nat rule r term t then translated {then}\n"
    )
}

#[test]
fn nat_rules() {
    one(
        &nat("source-pool nope\nset services nat rule r term t then translated translation-type dynamic-nat44"),
        "x.conf:3:60: error: source-pool 'nope' is not a defined nat pool",
    );
    one(
        &nat("source-pool p\nset services nat rule r term t then translated translation-type napt-44"),
        "x.conf:4:65: error: translation-type napt-44 requires source-pool 'p' to have a 'port' statement",
    );
    one(
        &nat("source-pool p"),
        "x.conf:3:37: error: term 't' of nat rule 'r': translated has no translation-type",
    );
    one(
        "set services nat rule r term t then no-translation\n",
        "x.conf:1:23: error: nat rule 'r' has no match-direction (expected input or output)",
    );
    one(
        "set services nat rule r match-direction input\nset services nat rule r term t then syslog\n",
        "x.conf:2:30: error: term 't' of nat rule 'r' has no action (expected then translated or then no-translation)",
    );
    one(
        "set services nat rule-set s rule nope\n",
        "x.conf:1:34: error: nat rule-set 's': rule 'nope' is not defined",
    );
}

#[test]
fn nat_mappings() {
    let tt = "\nset services nat rule r term t then translated translation-type";
    one(
        &nat(&format!("source-pool p{tt} basic-nat44")),
        "x.conf:4:65: error: translation-type basic-nat44 requires a source-address prefix in 'from' to map from",
    );
    one(
        &nat(&format!(
            "source-pool p{tt} basic-nat44\nset services nat rule r term t from source-address 10.0.0.0/24"
        )),
        "x.conf:4:65: error: translation-type basic-nat44: source-address 10.0.0.0/24 has 256 addresses but the translated range only 16",
    );
    one(
        &nat(&format!("destination-prefix 10.0.0.0/24{tt} dnat-44")),
        "x.conf:4:65: error: translation-type dnat-44 requires a destination-address prefix in 'from' to map from",
    );
    one(
        &nat(&format!(
            "source-pool q{tt} dynamic-nat44\nset services nat pool q address 198.51.100.0/28\nset services nat pool q port automatic"
        )),
        "x.conf:4:65: error: translation-type dynamic-nat44 requires source-pool 'q' to be address-only (no 'port' statement)",
    );
    // What the engine accepts.
    let ok = nat(&format!(
        "source-pool p{tt} basic-nat44\nset services nat rule r term t from source-address 10.0.0.0/28"
    ));
    assert!(parse(&ok, "x.conf").is_ok());
}

/// A service set `s` with `rest`.
fn set(rest: &str) -> String {
    format!("{MS}set services service-set s {rest}\n")
}

#[test]
fn service_sets() {
    for (kind, what) in [
        ("stateful-firewall-rules", "stateful-firewall rule"),
        ("stateful-firewall-rule-sets", "stateful-firewall rule-set"),
        ("nat-rules", "nat rule"),
        ("nat-rule-sets", "nat rule-set"),
    ] {
        // The name follows `set services service-set s KIND `.
        let col = "set services service-set s ".len() + kind.len() + 2;
        one(
            &set(&format!(
                "interface-service service-interface ms-1/1/0\nset services service-set s {kind} nope"
            )),
            &format!("x.conf:3:{col}: error: service-set 's': {what} 'nope' is not defined"),
        );
    }
    one(
        &set("max-flows 10"),
        "x.conf:2:26: error: service-set 's' has no interface-service or next-hop-service",
    );
    one(
        &set("interface-service service-interface ms-9/9/9"),
        "x.conf:2:64: error: service-interface 'ms-9/9/9' is not a configured ms- interface",
    );
    one(
        &format!(
            "{GE}{}",
            set("interface-service service-interface ge-0/0/0")
        ),
        "x.conf:3:64: error: service-interface 'ge-0/0/0' is not a services (ms-) interface",
    );
    one(
        &set("interface-service service-interface ms-1/1/0.7"),
        "x.conf:2:64: error: service-interface 'ms-1/1/0.7': unit 7 of ms-1/1/0 is not configured",
    );
    one(
        &set("interface-service service-interface ms-1/1/0\nset services service-set s next-hop-service inside-service-interface ms-1/1/0.0"),
        "x.conf:3:70: error: service-set 's' has both interface-service and next-hop-service",
    );
    one(
        &set("next-hop-service inside-service-interface ms-1/1/0.0"),
        "x.conf:2:70: error: service-set 's': next-hop-service has no outside-service-interface",
    );
    let units = "set interfaces ms-1/1/0 unit 1 service-domain inside\nset interfaces ms-1/1/0 unit 2 service-domain outside\n";
    one(
        &format!("{units}{}", set("next-hop-service inside-service-interface ms-1/1/0\nset services service-set s next-hop-service outside-service-interface ms-1/1/0.2")),
        "x.conf:4:70: error: inside-service-interface 'ms-1/1/0' needs a unit (e.g. ms-1/1/0.1)",
    );
    one(
        &format!("{units}{}", set("next-hop-service inside-service-interface ms-1/1/0.2\nset services service-set s next-hop-service outside-service-interface ms-1/1/0.2")),
        "x.conf:4:70: error: inside-service-interface 'ms-1/1/0.2' needs 'service-domain inside' on that unit",
    );
}

#[test]
fn service_sets_applied_to_interfaces() {
    one(
        "set interfaces ge-0/0/0 unit 0 family inet service input service-set nope\n",
        "x.conf:1:70: error: service-set 'nope' is not defined",
    );
    let nh = "set interfaces ms-1/1/0 unit 1 service-domain inside\nset interfaces ms-1/1/0 unit 2 service-domain outside\nset services service-set s next-hop-service inside-service-interface ms-1/1/0.1\nset services service-set s next-hop-service outside-service-interface ms-1/1/0.2\n";
    one(
        &format!("{nh}set interfaces ge-0/0/0 unit 0 family inet service output service-set s\n"),
        "x.conf:5:71: error: service-set 's' is a next-hop style set and cannot be applied to an interface",
    );
}

#[test]
fn a_services_unit_in_two_next_hop_sets() {
    let units = "set interfaces ms-1/1/0 unit 1 service-domain inside\nset interfaces ms-1/1/0 unit 2 service-domain outside\nset interfaces ms-1/1/0 unit 3 service-domain outside\n";
    let a = "set services service-set a next-hop-service inside-service-interface ms-1/1/0.1\nset services service-set a next-hop-service outside-service-interface ms-1/1/0.2\n";
    let b = "set services service-set b next-hop-service inside-service-interface ms-1/1/0.1\nset services service-set b next-hop-service outside-service-interface ms-1/1/0.3\n";
    one(
        &format!("{units}{a}{b}"),
        "x.conf:6:70: error: services unit ms-1/1/0.1 is used by next-hop service sets 'a' and 'b'",
    );
}

/// The packet path numbers logical interfaces and service sets with 16 bits; the first one
/// past the limit is named.
#[test]
fn more_units_or_service_sets_than_the_packet_path_numbers() {
    let mut units = String::new();
    for n in 0..=MAX_INDEXED {
        units.push_str(&format!("set interfaces ge-0/0/0 unit {n} family inet\n"));
    }
    one(
        &units,
        "x.conf:65536:30: error: too many logical interfaces (limit 65535)",
    );
    let mut sets = MS.to_string();
    for n in 0..=MAX_INDEXED {
        sets.push_str(&format!(
            "set services service-set s{n} interface-service service-interface ms-1/1/0\n"
        ));
    }
    one(
        &sets,
        "x.conf:65537:26: error: too many service sets (limit 65535)",
    );
}

#[test]
fn emulator() {
    one(
        "set emulator interface ge-0/0/9 device eth9\n",
        "x.conf:1:24: error: emulator interface 'ge-0/0/9' is not a configured interface",
    );
    one(
        &format!("{MS}set emulator interface ms-1/1/0 device eth9\n"),
        "x.conf:2:24: error: emulator interface 'ms-1/1/0' is a services interface; bind a ge-/xe-/et- interface to a device",
    );
    one(
        &format!("{GE}set emulator interface ge-0/0/0\n"),
        "x.conf:2:24: error: emulator interface 'ge-0/0/0' has no device",
    );
    one(
        &format!("{GE}set interfaces ge-0/0/1 unit 0\nset emulator interface ge-0/0/0 device eth0\nset emulator interface ge-0/0/1 device eth0\n"),
        "x.conf:4:40: error: device 'eth0' is already bound to interface 'ge-0/0/0'",
    );
    for bad in [
        "9.5", "10.3", "17", "17.5", "17.1Q", "25.2", "x.1", "17.01x", "17.01", "017.1", "17.1R",
        "17.1R-2",
    ] {
        one(
            &format!("set emulator junos-release {bad}\n"),
            &format!("x.conf:1:28: error: unknown Junos release '{bad}' (expected MAJOR.MINOR from 10.4 to 24.4, e.g. 17.1)"),
        );
    }
    one(
        "emulator {\n    junos-release 13.1;\n    junos-release 17.1;\n}\n",
        "x.conf:3:19: error: conflicting values for 'junos-release': '17.1' conflicts with '13.1' set at 2:19",
    );
}

#[test]
fn invalid_utf8_is_located() {
    let located = |bytes: &[u8]| match parse_bytes(bytes, "b.conf") {
        Ok(_) => panic!("accepted {bytes:?}"),
        Err(e) => e.to_string(),
    };
    for (bytes, want) in [
        (&b"\xff"[..], "b.conf:1:1: error: invalid UTF-8"),
        (
            b"set interfaces ge-0/0/0 description caf\xe9\n",
            "b.conf:1:40: error: invalid UTF-8",
        ),
        (
            b"set a\nset b\n  x\xfe y",
            "b.conf:3:4: error: invalid UTF-8",
        ),
        // Characters, not bytes, make the column: '\xc3\xa9' is one.
        (
            b"# \xc3\xa9\xc3\xa9\n\xc3\xa9\x80",
            "b.conf:2:2: error: invalid UTF-8",
        ),
        // A truncated sequence at the very end.
        (b"set a\n\xe2\x82", "b.conf:2:1: error: invalid UTF-8"),
        (b"line\r\n\xed\xa0\x80", "b.conf:2:1: error: invalid UTF-8"),
    ] {
        assert_eq!(located(bytes), want, "{bytes:?}");
    }
    let text = "set interfaces ge-0/0/0 unit 0 family inet address 192.0.2.1/24\n";
    assert_eq!(
        parse_bytes(text.as_bytes(), "b.conf"),
        parse(text, "b.conf")
    );
}
