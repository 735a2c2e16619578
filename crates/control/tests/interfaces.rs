//! `show interfaces terse` of the services interfaces: text, XML, JSON, names and errors.

use mspic_control::{execute_with, ExecuteOptions, SnapshotBackend};

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
        show("show interfaces ms-1/1/0").unwrap_err(),
        "error: command not implemented yet: show interfaces (only the terse level)"
    );
    assert_eq!(
        show("show interfaces ms-1/1/0 extensive").unwrap_err(),
        "error: command not implemented yet: show interfaces (only the terse level)"
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
    assert_eq!(words, ["brief", "detail", "extensive", "terse"]);
    assert_eq!(c.value, Some("<interface-name>"));
    let c = mspic_control::complete("show int");
    assert_eq!(c.keywords, [("interfaces", "Show interface information")]);
    let c = mspic_control::complete("show interfaces ms-1/1/0 te");
    assert_eq!(c.keywords, [("terse", "Display terse output")]);
}
