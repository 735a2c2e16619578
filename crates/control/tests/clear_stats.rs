//! `clear services stateful-firewall statistics [interface I]` and `clear services nat
//! statistics [interface I]` (Junos commands of those names; RPCs
//! `clear-stateful-firewall-statistics`, which replies nothing, and
//! `clear-service-nat-statistics-information`, replying
//! `service-nat-statistics-clear-information`, as the Junos RPC table names them): the
//! backend is asked to zero what the interface shows; the commands print nothing.
//! `clear services softwire statistics [ds-lite] [interface I]` is mspic's, the
//! counterpart of `show services softwire statistics`, its RPC named after the NAT pair.

use mspic_control::{
    execute, parse_command, Backend, BackendError, ClearedSessions, Command, NatStatistics,
};
use mspic_flow::{SessionFilter, SessionSnapshot, SfwStats};

/// Firewall counters on two interfaces, NAT counters on the first; clears recorded.
struct Counting {
    sfw: Vec<(String, SfwStats)>,
    nat: u64,
    nat_clears: Vec<Option<String>>,
    softwire_clears: Vec<Option<String>>,
}

impl Counting {
    fn new() -> Self {
        let st = |n| SfwStats {
            rule_accepts: n,
            ..Default::default()
        };
        Counting {
            sfw: vec![("ms-1/1/0".into(), st(5)), ("ms-2/2/0".into(), st(7))],
            nat: 12,
            nat_clears: Vec::new(),
            softwire_clears: Vec::new(),
        }
    }
}

impl Backend for Counting {
    fn sessions(&mut self, _: &SessionFilter) -> Vec<SessionSnapshot> {
        Vec::new()
    }
    fn clear_sessions(&mut self, _: &SessionFilter) -> Vec<ClearedSessions> {
        Vec::new()
    }
    fn sfw_statistics(&mut self) -> Vec<(String, SfwStats)> {
        self.sfw.clone()
    }
    fn clear_sfw_statistics(&mut self, interface: Option<&str>) -> Result<(), BackendError> {
        for (name, st) in &mut self.sfw {
            if interface.is_none_or(|i| i == name) {
                *st = SfwStats::default();
            }
        }
        Ok(())
    }
    fn nat_statistics(&mut self) -> Result<Vec<NatStatistics>, BackendError> {
        Ok(vec![NatStatistics {
            interface: "ms-1/1/0".into(),
            counters: vec![("nat-total-session-create".into(), self.nat)],
        }])
    }
    fn clear_softwire_statistics(&mut self, interface: Option<&str>) -> Result<(), BackendError> {
        self.softwire_clears.push(interface.map(str::to_string));
        for (name, st) in &mut self.sfw {
            if interface.is_none_or(|i| i == name) {
                st.softwire = Default::default();
            }
        }
        Ok(())
    }
    fn clear_nat_statistics(&mut self, interface: Option<&str>) -> Result<(), BackendError> {
        self.nat_clears.push(interface.map(str::to_string));
        self.nat = 0;
        Ok(())
    }
}

fn run(b: &mut Counting, cmd: &str) -> String {
    execute(cmd, b).unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

#[test]
fn parse_and_rpc() {
    for (line, want) in [
        (
            "clear services stateful-firewall statistics",
            Command::ClearSfwStatistics { interface: None },
        ),
        (
            "clear services stateful-firewall statistics interface ms-1/1/0",
            Command::ClearSfwStatistics {
                interface: Some("ms-1/1/0".into()),
            },
        ),
        (
            "clear services nat statistics",
            Command::ClearNatStatistics { interface: None },
        ),
        (
            "cl ser nat stat interface ms-1/1/0",
            Command::ClearNatStatistics {
                interface: Some("ms-1/1/0".into()),
            },
        ),
        (
            "clear services softwire statistics",
            Command::ClearSoftwireStatistics { interface: None },
        ),
        (
            "clear services softwire statistics ds-lite interface ms-1/1/0",
            Command::ClearSoftwireStatistics {
                interface: Some("ms-1/1/0".into()),
            },
        ),
        (
            "cl ser soft stat int ms-2/2/0",
            Command::ClearSoftwireStatistics {
                interface: Some("ms-2/2/0".into()),
            },
        ),
    ] {
        assert_eq!(parse_command(line).unwrap(), want, "{line}");
    }
    for bad in [
        "clear services nat statistics foo",
        "clear services nat",
        "clear services stateful-firewall statistics interface",
        "clear services nat statistics service-set ss",
        "clear services softwire",
        "clear services softwire statistics foo",
    ] {
        assert!(parse_command(bad).is_err(), "{bad}");
    }
    let mut b = Counting::new();
    insta::assert_snapshot!(
        "clear_nat_statistics_rpc",
        run(
            &mut b,
            "clear services nat statistics interface ms-1/1/0 | display xml rpc"
        )
    );
    insta::assert_snapshot!(
        "clear_sfw_statistics_rpc",
        run(
            &mut b,
            "clear services stateful-firewall statistics | display xml rpc"
        )
    );
    insta::assert_snapshot!(
        "clear_softwire_statistics_rpc",
        run(
            &mut b,
            "clear services softwire statistics interface ms-1/1/0 | display xml rpc"
        )
    );
    // Asking for the RPC runs nothing.
    assert_eq!(b.nat, 12);
    assert!(b.softwire_clears.is_empty());
}

#[test]
fn clearing_zeroes_what_the_interface_shows() {
    let mut b = Counting::new();
    let accepted = |b: &mut Counting, iface: &str| {
        b.sfw
            .iter()
            .find(|(n, _)| n == iface)
            .map(|(_, s)| s.rule_accepts)
            .unwrap()
    };
    assert_eq!(
        run(
            &mut b,
            "clear services stateful-firewall statistics interface ms-2/2/0"
        ),
        ""
    );
    assert_eq!(
        (accepted(&mut b, "ms-1/1/0"), accepted(&mut b, "ms-2/2/0")),
        (5, 0)
    );
    assert_eq!(
        run(&mut b, "clear services stateful-firewall statistics"),
        ""
    );
    assert_eq!(accepted(&mut b, "ms-1/1/0"), 0);

    assert!(run(&mut b, "show services nat statistics").contains("12"));
    insta::assert_snapshot!(
        "clear_nat_statistics_xml",
        run(&mut b, "clear services nat statistics | display xml")
    );
    assert_eq!(b.nat_clears, [None]);
    assert!(!run(&mut b, "show services nat statistics").contains("12"));
    insta::assert_snapshot!(
        "clear_sfw_statistics_xml",
        run(
            &mut b,
            "clear services stateful-firewall statistics | display xml"
        )
    );
    assert_eq!(
        run(
            &mut b,
            "clear services stateful-firewall statistics | display json"
        ),
        "{\n}\n"
    );
    run(&mut b, "clear services nat statistics interface ms-1/1/0");
    assert_eq!(b.nat_clears, [None, Some("ms-1/1/0".into())]);
}

#[test]
fn clearing_softwire_statistics() {
    let mut b = Counting::new();
    for (_, st) in &mut b.sfw {
        st.softwire.decapsulated = 41;
    }
    assert!(run(&mut b, "show services softwire statistics").contains("41"));
    assert_eq!(
        run(
            &mut b,
            "clear services softwire statistics interface ms-2/2/0"
        ),
        ""
    );
    assert_eq!(b.sfw[0].1.softwire.decapsulated, 41);
    assert_eq!(b.sfw[1].1.softwire.decapsulated, 0);
    insta::assert_snapshot!(
        "clear_softwire_statistics_xml",
        run(&mut b, "clear services softwire statistics | display xml")
    );
    assert_eq!(
        run(&mut b, "clear services softwire statistics | display json"),
        "{\n    \"service-softwire-statistics-clear-information\" : [\n    {\n    }\n    ]\n}\n"
    );
    assert_eq!(b.softwire_clears, [Some("ms-2/2/0".into()), None, None]);
    assert!(!run(&mut b, "show services softwire statistics").contains("41"));
    let mut s = mspic_control::SnapshotBackend::default();
    let e = execute("clear services softwire statistics", &mut s).unwrap_err();
    assert!(
        e.to_string().contains("clear services softwire statistics"),
        "{e}"
    );
}

#[test]
fn backends_without_the_counters_say_so() {
    let mut b = mspic_control::SnapshotBackend::default();
    let e = execute("clear services nat statistics", &mut b).unwrap_err();
    assert!(
        e.to_string().contains("clear services nat statistics"),
        "{e}"
    );
    assert_eq!(
        execute("clear services stateful-firewall statistics", &mut b).unwrap(),
        ""
    );
}
