//! `show interfaces [terse|brief|detail|extensive]` of the services interfaces: text, XML,
//! JSON, names and errors. The normal and extensive layouts are those of the Junos page
//! "show interfaces (Adaptive Services)" (sp-/ms- services interfaces, `Type:
//! Adaptive-Services`) and its `extensive` sample.

mod agree;

use mspic_control::{execute_with, ExecuteOptions, SnapshotBackend};
use mspic_flow::{InterfaceTraffic, SfwStats};

const CONFIG: &str = "
interfaces {
    ms-2/0/0 {
        unit 2 { family inet; service-domain outside; }
        unit 1 { family inet; family inet6; service-domain inside; }
        unit 0 { family inet; }
    }
    ms-1/1/0 { unit 0 { family inet; } }
}
";

fn show(cmd: &str) -> Result<String, String> {
    let cfg = mspic_config::parse(CONFIG, "i.conf").expect("test config");
    let options = ExecuteOptions::for_config(&cfg);
    execute_with(cmd, &mut SnapshotBackend::default(), &options).map_err(|e| e.to_string())
}

/// Two shards' counters for ms-1/1/0 and one for ms-2/0/0.
fn counted() -> SnapshotBackend {
    let t = |ip, ib, op, ob, d| SfwStats {
        traffic: InterfaceTraffic {
            input_packets: ip,
            input_bytes: ib,
            output_packets: op,
            output_bytes: ob,
            drops: d,
            input_pps: ip / 5,
            input_bps: ib / 5 * 8,
            output_pps: op / 3,
            output_bps: ob / 3 * 8,
            ..InterfaceTraffic::default()
        },
        ..SfwStats::default()
    };
    SnapshotBackend {
        sessions: Vec::new(),
        sfw: vec![
            ("ms-1/1/0".into(), t(10, 1000, 9, 990, 1)),
            ("ms-2/0/0".into(), t(4, 400, 4, 404, 0)),
            ("ms-1/1/0".into(), t(5, 600, 3, 300, 2)),
        ],
    }
}

fn counted_show(cmd: &str) -> String {
    let cfg = mspic_config::parse(CONFIG, "i.conf").expect("test config");
    let options = ExecuteOptions::for_config(&cfg);
    execute_with(cmd, &mut counted(), &options).unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

#[test]
fn normal() {
    let out = counted_show("show interfaces ms-1/1/0");
    assert!(
        out.contains("    Input packets : 15\n    Output packets: 12\n"),
        "{out}"
    );
    assert_eq!(out, counted_show("show interfaces ms-1/1/0 brief"));
    insta::assert_snapshot!(out);
}

#[test]
fn extensive() {
    let out = counted_show("show interfaces ms-1/1/0 extensive");
    assert!(
        out.contains("   Input  packets:                   15"),
        "{out}"
    );
    assert!(out.contains("Errors: 0, Drops: 3, "), "{out}");
    assert_eq!(out, counted_show("show interfaces ms-1/1/0 detail"));
    insta::assert_snapshot!(out);
}

/// Several units: the counters are the interface's, not split per unit.
#[test]
fn all_interfaces_normal() {
    let out = counted_show("show interfaces");
    assert!(!out.contains("    Input packets : 4\n"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn one_unit() {
    let out = counted_show("show interfaces ms-1/1/0.0 extensive");
    assert!(
        out.starts_with("  Logical interface ms-1/1/0.0 (Index 64)"),
        "{out}"
    );
    assert!(
        out.contains("     Output bytes  :                 1290\n"),
        "{out}"
    );
}

#[test]
fn extensive_xml() {
    let out = counted_show("show interfaces ms-1/1/0 extensive | display xml");
    assert!(out.contains("<input-packets>15</input-packets>"), "{out}");
    assert!(out.contains("<input-drops>3</input-drops>"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn normal_xml_and_json() {
    insta::assert_snapshot!(counted_show("show interfaces ms-1/1/0 | display xml"));
    let out = counted_show("show interfaces ms-1/1/0 | display json");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let unit = &v["interface-information"][0]["physical-interface"][0]["logical-interface"][0];
    assert_eq!(
        unit["traffic-statistics"][0]["output-packets"][0]["data"],
        "12"
    );
    insta::assert_snapshot!(out);
}

fn ok(cmd: &str) -> String {
    show(cmd).unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

#[test]
fn terse() {
    insta::assert_snapshot!(ok("show interfaces terse"));
}

#[test]
fn terse_of_one_interface_and_one_unit() {
    insta::assert_snapshot!(ok("show interfaces ms-2/0/0 terse"));
    assert_eq!(
        ok("show interfaces terse ms-2/0/0"),
        ok("show interfaces ms-2/0/0 terse")
    );
    assert_eq!(
        ok("show interfaces ms-2/0/0.1 terse"),
        "Interface               Admin Link Proto    Local                 Remote\n\
         ms-2/0/0.1              up    up   inet\n\
         \x20                                  inet6\n"
    );
}

#[test]
fn terse_xml() {
    insta::assert_snapshot!(ok("show interfaces terse | display xml"));
}

#[test]
fn terse_json() {
    let out = ok("show interfaces terse ms-1/1/0 | display json");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["interface-information"][0]["physical-interface"][0]["logical-interface"][0]["name"][0]
            ["data"],
        "ms-1/1/0.0"
    );
    insta::assert_snapshot!(out);
}

/// The columns of public `show interfaces terse` captures: name, then `up` at 24 and 30,
/// the family at 35, further families alone at 35.
#[test]
fn rows_keep_the_capture_columns() {
    let out = ok("show interfaces terse");
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("Interface               Admin Link Proto    Local                 Remote")
    );
    let mut n = 0;
    for line in lines {
        let cols: Vec<(usize, &str)> = line
            .split(' ')
            .scan(0, |at, w| {
                let start = *at;
                *at += w.len() + 1;
                Some((start, w))
            })
            .filter(|(_, w)| !w.is_empty())
            .collect();
        match cols.as_slice() {
            [(35, "inet6")] => {}
            [(0, name), (24, "up"), (30, "up")] => assert!(!name.contains('.'), "{line}"),
            [(0, name), (24, "up"), (30, "up"), (35, "inet")] => assert!(name.contains('.')),
            other => panic!("unexpected row {other:?}"),
        }
        n += 1;
    }
    assert_eq!(n, 7, "2 interfaces, 4 units, 1 second family");
}

#[test]
fn errors() {
    assert_eq!(
        show("show interfaces ms-9/9/9 terse").unwrap_err(),
        "error: device ms-9/9/9 not found"
    );
    assert_eq!(
        show("show interfaces ms-1/1/0.7 terse").unwrap_err(),
        "error: device ms-1/1/0.7 not found"
    );
    assert_eq!(
        show("show interfaces ms-9/9/9 extensive").unwrap_err(),
        "error: device ms-9/9/9 not found"
    );
    assert!(show("show interfaces ge-0/0/0 terse")
        .unwrap_err()
        .contains("invalid value 'ge-0/0/0' for interface-name"));
    assert!(show("show interfaces terse terse")
        .unwrap_err()
        .contains("terse"));
    assert_eq!(
        show("show interfaces terse ms-1/1/0 ms-2/0/0").unwrap_err(),
        "error: syntax error: ms-2/0/0"
    );
}

#[test]
fn rpc_and_completion() {
    assert_eq!(
        ok("show interfaces terse ms-1/1/0 | display xml rpc"),
        "<rpc-reply xmlns:junos=\"http://xml.juniper.net/junos/21.4R0/junos\">\n    <rpc>\n        \
         <get-interface-information>\n            <interface-name>ms-1/1/0</interface-name>\n            \
         <terse>\n            </terse>\n        </get-interface-information>\n    </rpc>\n    <cli>\n        \
         <banner></banner>\n    </cli>\n</rpc-reply>\n"
    );
    let e = mspic_control::rpc::by_rpc("get-interface-information").unwrap();
    let line = e
        .command_line([("interface-name", "ms-2/0/0"), ("terse", "")])
        .unwrap();
    assert_eq!(line, "show interfaces ms-2/0/0 terse");
    assert_eq!(show(&line).unwrap(), ok("show interfaces ms-2/0/0 terse"));
    let c = mspic_control::complete("show interfaces ");
    let words: Vec<&str> = c.keywords.iter().map(|k| k.0).collect();
    assert_eq!(
        words,
        ["brief", "detail", "extensive", "routing-instance", "terse"]
    );
    assert_eq!(c.value, Some("<interface-name>"));
    let c = mspic_control::complete("show int");
    assert_eq!(c.keywords, [("interfaces", "Show interface information")]);
    let c = mspic_control::complete("show interfaces ms-1/1/0 te");
    assert_eq!(c.keywords, [("terse", "Display terse output")]);
}

/// Text, XML and JSON of every level come from one answer: the XML's values are in the
/// text (the layouts print the status elements as `Enabled` / `Up`).
#[test]
fn every_level_agrees_with_its_xml_and_json() {
    for (cmd, not_in_text) in [
        ("show interfaces terse", &[][..]),
        ("show interfaces ms-2/0/0.1 terse", &[]),
        ("show interfaces", &["admin-status", "oper-status"]),
        (
            "show interfaces ms-1/1/0 extensive",
            &["admin-status", "oper-status"],
        ),
        (
            "show interfaces ms-2/0/0 detail",
            &["admin-status", "oper-status"],
        ),
        ("show interfaces ms-1/1/0.0", &[]),
    ] {
        let xml = counted_show(&format!("{cmd} | display xml"));
        let json = counted_show(&format!("{cmd} | display json"));
        agree::check(cmd, &counted_show(cmd), &xml, &json, not_in_text);
    }
}

/// Interface-name patterns (`show interfaces ms-*`, as Junos accepts them): interfaces, or
/// units when the pattern has a unit part; none matching lists nothing.
#[test]
fn patterns() {
    assert_eq!(
        ok("show interfaces ms-* terse"),
        ok("show interfaces terse")
    );
    assert_eq!(
        ok("show interfaces ms-2/* terse"),
        ok("show interfaces ms-2/0/0 terse")
    );
    assert_eq!(
        ok("show interfaces ms-2/0/0.[1-2] terse"),
        "Interface               Admin Link Proto    Local                 Remote\n\
         ms-2/0/0.1              up    up   inet\n\
         \x20                                  inet6\n\
         ms-2/0/0.2              up    up   inet\n"
    );
    assert_eq!(ok("show interfaces ms-9* extensive"), "");
    assert_eq!(
        counted_show("show interfaces ms-1* extensive"),
        counted_show("show interfaces ms-1/1/0 extensive")
    );
}

/// `routing-instance R` (PyEZ asks for the internal `__juniper_private1__` instance when it
/// gathers facts): the services interfaces are in the default instance, another one holds
/// none of them.
#[test]
fn routing_instance() {
    assert_eq!(
        ok("show interfaces terse routing-instance __juniper_private1__"),
        "Interface               Admin Link Proto    Local                 Remote\n"
    );
    assert_eq!(
        ok("show interfaces terse routing-instance default"),
        ok("show interfaces terse")
    );
    let xml = ok("show interfaces terse routing-instance __juniper_private1__ | display xml");
    assert!(!xml.contains("<physical-interface>"), "{xml}");
    assert!(xml.contains("junos:style=\"terse\""), "{xml}");
    let e = mspic_control::rpc::by_rpc("get-interface-information").unwrap();
    let line = e
        .command_line([("routing-instance", "__juniper_private1__"), ("terse", "")])
        .unwrap();
    assert_eq!(
        show(&line).unwrap(),
        ok("show interfaces terse routing-instance x")
    );
    assert!(show("show interfaces terse routing-instance")
        .unwrap_err()
        .contains("routing-instance"));
    assert!(
        show("show interfaces routing-instance a routing-instance b")
            .unwrap_err()
            .contains("routing-instance")
    );
}
