//! `show services service-sets statistics tcp-mss` (Junos page "show services service-sets
//! statistics tcp-mss"): text, XML and JSON goldens, and the interface filter.

use mspic_control::{execute, Backend, BackendError, ClearedSessions, TcpMssStatistics};
use mspic_flow::{SessionFilter, SessionSnapshot, SfwStats};

mod agree;

struct Mss;

impl Backend for Mss {
    fn sessions(&mut self, _: &SessionFilter) -> Vec<SessionSnapshot> {
        Vec::new()
    }
    fn clear_sessions(&mut self, _: &SessionFilter) -> Vec<ClearedSessions> {
        Vec::new()
    }
    fn sfw_statistics(&mut self) -> Vec<(String, SfwStats)> {
        Vec::new()
    }
    fn tcp_mss_statistics(&mut self) -> Result<Vec<TcpMssStatistics>, BackendError> {
        let row = |i: &str, s: &str, r, m| TcpMssStatistics {
            interface: i.into(),
            service_set: s.into(),
            syn_received: r,
            syn_modified: m,
        };
        Ok(vec![
            row("ms-2/0/0", "cgn", 120_448, 98_001),
            row("ms-1/1/0", "ss2", 4, 2),
            row("ms-1/1/0", "ss1", 0, 0),
        ])
    }
}

fn run(cmd: &str) -> String {
    execute(cmd, &mut Mss).unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

#[test]
fn text() {
    insta::assert_snapshot!(
        "tcp_mss_statistics",
        run("show services service-sets statistics tcp-mss")
    );
    assert_eq!(
        run("show services service-sets statistics tcp-mss interface ms-2/0/0"),
        "Interface   Service Set         SYN Received   SYN Modified\nms-2/0/0    cgn                 120448         98001\n"
    );
}

#[test]
fn xml_and_json() {
    let cmd = "show services service-sets statistics tcp-mss";
    let (xml, json) = (
        run(&format!("{cmd} | display xml")),
        run(&format!("{cmd} | display json")),
    );
    agree::check(cmd, &run(cmd), &xml, &json, &[]);
    insta::assert_snapshot!("tcp_mss_statistics_xml", xml);
    insta::assert_snapshot!("tcp_mss_statistics_json", json);
}
