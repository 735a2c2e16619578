//! `show services service-sets cpu-usage` and `show services service-sets memory-usage`
//! (Junos pages "show services service-sets cpu-usage" and "show services service-sets
//! memory-usage"): text, XML and JSON goldens, the interface and service-set filters, the
//! RPCs, and the XML read the way the junos_exporter NAT collector reads it.

use mspic_control::rpc::{by_rpc, rpc_of};
use mspic_control::{
    execute, parse_command, Backend, BackendError, ClearedSessions, ServiceSetCpuUsage,
    ServiceSetMemoryUsage,
};
use mspic_flow::{SessionFilter, SessionSnapshot, SfwStats};

mod agree;

struct Usage;

impl Backend for Usage {
    fn sessions(&mut self, _: &SessionFilter) -> Vec<SessionSnapshot> {
        Vec::new()
    }
    fn clear_sessions(&mut self, _: &SessionFilter) -> Vec<ClearedSessions> {
        Vec::new()
    }
    fn sfw_statistics(&mut self) -> Vec<(String, SfwStats)> {
        Vec::new()
    }
    fn service_sets_cpu_usage(&mut self) -> Result<Vec<ServiceSetCpuUsage>, BackendError> {
        let row = |i: &str, s: &str, percent| ServiceSetCpuUsage {
            interface: i.into(),
            service_set: s.into(),
            percent,
        };
        Ok(vec![
            row("ms-2/0/0", "cgn", 41.25),
            row("ms-2/0/0", "System", 3.5),
            row("ms-2/0/0", "Idle", 55.25),
            row("ms-1/1/0", "ss1", 12.5),
            row("ms-1/1/0", "ss2", 0.0),
            row("ms-1/1/0", "System", 3.5),
            row("ms-1/1/0", "Idle", 55.25),
        ])
    }
    fn service_sets_memory_usage(&mut self) -> Result<Vec<ServiceSetMemoryUsage>, BackendError> {
        let row = |i: &str, s: &str, bytes| ServiceSetMemoryUsage {
            interface: i.into(),
            service_set: s.into(),
            bytes,
        };
        Ok(vec![
            row("ms-2/0/0", "cgn", 2_038_579_398),
            row("ms-1/1/0", "ss1", 183_040),
            row("ms-1/1/0", "ss2", 0),
        ])
    }
}

fn run(cmd: &str) -> String {
    execute(cmd, &mut Usage).unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

#[test]
fn cpu_usage_text_and_filters() {
    insta::assert_snapshot!("cpu_usage", run("show services service-sets cpu-usage"));
    let one = run("show services service-sets cpu-usage service-set ss1");
    assert_eq!(one.lines().count(), 2, "{one}");
    assert!(
        one.lines()
            .nth(1)
            .unwrap()
            .starts_with("ms-1/1/0       ss1"),
        "{one}"
    );
    let both = run("show services service-sets cpu-usage service-set System interface ms-2/0/0");
    assert_eq!(both.lines().count(), 2, "{both}");
    assert!(both.contains("3.50 %"), "{both}");
}

#[test]
fn memory_usage_text_and_filters() {
    insta::assert_snapshot!(
        "memory_usage",
        run("show services service-sets memory-usage")
    );
    let one = run("show services service-sets memory-usage interface ms-2/0/0");
    assert_eq!(one.lines().count(), 2, "{one}");
    assert!(one.ends_with("2038579398\n"), "{one}");
}

#[test]
fn xml_and_json() {
    for (cmd, name) in [
        ("show services service-sets cpu-usage", "cpu_usage"),
        ("show services service-sets memory-usage", "memory_usage"),
    ] {
        let (xml, json) = (
            run(&format!("{cmd} | display xml")),
            run(&format!("{cmd} | display json")),
        );
        agree::check(cmd, &run(cmd), &xml, &json, &[]);
        insta::assert_snapshot!(format!("{name}_xml"), xml);
        insta::assert_snapshot!(format!("{name}_json"), json);
    }
}

/// The paths github.com/czerwonk/junos_exporter reads (pkg/features/nat2/rpc.go,
/// `ServiceSetsCpuRpc`: `service-set-cpu-statistics-information` >
/// `service-set-cpu-statistics` > `interface-name`, `service-set-name`,
/// `cpu-utilization-percent` parsed as a float; collector.go labels the metric with the
/// interface and service set).
#[test]
fn junos_exporter_reads_the_cpu_usage() {
    let xml = run("show services service-sets cpu-usage | display xml");
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let info = doc
        .descendants()
        .find(|n| n.has_tag_name("service-set-cpu-statistics-information"))
        .expect("service-set-cpu-statistics-information");
    let child = |n: roxmltree::Node<'_, '_>, name: &str| {
        n.children()
            .find(|c| c.has_tag_name(name))
            .and_then(|c| c.text())
            .unwrap_or_else(|| panic!("{name} missing"))
            .to_string()
    };
    let got: Vec<(String, String, f64)> = info
        .children()
        .filter(|n| n.has_tag_name("service-set-cpu-statistics"))
        .map(|n| {
            let pct = child(n, "cpu-utilization-percent");
            (
                child(n, "interface-name"),
                child(n, "service-set-name"),
                pct.parse::<f64>().unwrap_or_else(|e| panic!("{pct}: {e}")),
            )
        })
        .collect();
    assert_eq!(got.len(), 7);
    assert!(
        got.contains(&("ms-2/0/0".into(), "cgn".into(), 41.25)),
        "{got:?}"
    );
    assert!(
        got.contains(&("ms-1/1/0".into(), "Idle".into(), 55.25)),
        "{got:?}"
    );
}

/// JUNOScript `services_methods`: `<get-service-set-cpu-statistics>` and
/// `<get-service-set-memory-statistics>`, with `interface` and `service-set`.
#[test]
fn rpcs() {
    for (rpc, cmd) in [
        ("get-service-set-cpu-statistics", "cpu-usage"),
        ("get-service-set-memory-statistics", "memory-usage"),
    ] {
        let e = by_rpc(rpc).unwrap_or_else(|| panic!("{rpc}"));
        let line = e
            .command_line([("interface", "ms-1/1/0"), ("service-set", "ss1")])
            .unwrap();
        assert_eq!(
            line,
            format!("show services service-sets {cmd} interface ms-1/1/0 service-set ss1")
        );
        let c = parse_command(&line).unwrap();
        let back = rpc_of(&c);
        assert_eq!(back.name, rpc);
        let args: Vec<&str> = back.children().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(args, ["interface", "service-set"]);
    }
}

#[test]
fn bad_words_are_refused() {
    for cmd in [
        "show services service-sets cpu-usage interface",
        "show services service-sets cpu-usage interface ge-0/0/0",
        "show services service-sets memory-usage service-set a service-set b",
        "show services service-sets memory-usage extensive",
    ] {
        assert!(execute(cmd, &mut Usage).is_err(), "{cmd}");
    }
}
