//! `show services service-sets statistics syslog` (Junos page "show services service-sets
//! statistics syslog"): text, XML and JSON goldens.

use mspic_control::{execute, Backend, BackendError, ClearedSessions, SyslogStatistics};
use mspic_flow::{SessionFilter, SessionSnapshot, SfwStats};

mod agree;

struct Logs;

impl Backend for Logs {
    fn sessions(&mut self, _: &SessionFilter) -> Vec<SessionSnapshot> {
        Vec::new()
    }
    fn clear_sessions(&mut self, _: &SessionFilter) -> Vec<ClearedSessions> {
        Vec::new()
    }
    fn sfw_statistics(&mut self) -> Vec<(String, SfwStats)> {
        Vec::new()
    }
    fn syslog_statistics(&mut self) -> Result<Vec<SyslogStatistics>, BackendError> {
        Ok(vec![
            SyslogStatistics {
                interface: "ms-2/0/0".into(),
                rate_limit: 0,
                service_sets: vec![("cgn".into(), 7, 0)],
            },
            SyslogStatistics {
                interface: "ms-1/1/0".into(),
                rate_limit: 2000,
                service_sets: vec![("ss2".into(), 3, 1), ("ss1".into(), 12, 2)],
            },
        ])
    }
}

fn run(cmd: &str) -> String {
    execute(cmd, &mut Logs).unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

#[test]
fn text() {
    insta::assert_snapshot!(
        "syslog_statistics",
        run("show services service-sets statistics syslog")
    );
    assert_eq!(
        run("show services service-sets statistics syslog interface ms-2/0/0"),
        "Interface: ms-2/0/0\n  Rate limit: 0\n  Sent: 7\n  Dropped: 0\n  Service-set: cgn\n    Rate limit: 0\n    Sent: 7\n    Dropped: 0\n"
    );
}

#[test]
fn xml_and_json() {
    let cmd = "show services service-sets statistics syslog";
    let (xml, json) = (
        run(&format!("{cmd} | display xml")),
        run(&format!("{cmd} | display json")),
    );
    agree::check(cmd, &run(cmd), &xml, &json, &[]);
    insta::assert_snapshot!("syslog_statistics_xml", xml);
    insta::assert_snapshot!("syslog_statistics_json", json);
}
