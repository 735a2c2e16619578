//! Which sessions each filter selects, alone and combined, and the display order.

mod common;
mod fixture;

use mspic_control::{parse_command, select_sessions, Backend, Command, SnapshotBackend};

/// Session ids (as `interface#id`) that `show services sessions …` prints, in order.
fn ids(options: &str) -> Vec<String> {
    let cmd = format!("show services sessions {options}");
    let Command::ShowSessions { filter, .. } = parse_command(&cmd).unwrap() else {
        panic!("{cmd}")
    };
    let mut b = fixture::backend();
    select_sessions(b.sessions(&filter), &filter)
        .iter()
        .map(|s| format!("{}#{}", s.interface, s.id))
        .collect()
}

#[test]
fn no_filter_orders_by_interface_then_newest_first() {
    assert_eq!(
        ids(""),
        [
            "ms-1/1/0#7",
            "ms-1/1/0#6",
            "ms-1/1/0#5",
            "ms-1/1/0#3",
            "ms-1/1/0#1",
            "ms-2/0/0#13",
            "ms-2/0/0#12",
            "ms-2/0/0#11",
            "ms-10/0/0#2",
        ]
    );
}

#[test]
fn each_filter() {
    assert_eq!(
        ids("application-protocol ftp"),
        ["ms-1/1/0#7", "ms-1/1/0#5"]
    );
    assert_eq!(ids("application-protocol icmpv6"), ["ms-2/0/0#11"]);
    assert_eq!(ids("interface ms-10/0/0"), ["ms-10/0/0#2"]);
    assert_eq!(ids("service-set v6"), ["ms-2/0/0#12", "ms-2/0/0#11"]);
    assert_eq!(ids("protocol icmp"), ["ms-1/1/0#6"]);
    assert_eq!(ids("protocol 132"), ["ms-2/0/0#13"]);
    assert_eq!(ids("protocol gre"), ["ms-10/0/0#2"]);
    assert_eq!(ids("protocol icmp6"), ["ms-2/0/0#11"]);
    assert_eq!(ids("destination-port 21"), ["ms-1/1/0#5"]);
    assert_eq!(ids("source-port 8080"), ["ms-1/1/0#3"]);
    assert_eq!(
        ids("source-prefix 10.0.0.0/30"),
        ["ms-1/1/0#7", "ms-1/1/0#6", "ms-1/1/0#5"]
    );
    assert_eq!(
        ids("destination-prefix 2001:db8:1::/48"),
        ["ms-2/0/0#12", "ms-2/0/0#11"]
    );
    assert_eq!(ids("destination-prefix 198.51.100.9"), ["ms-1/1/0#6"]);
}

#[test]
fn either_flow_matches() {
    // Only the O flow (post-NAT reverse tuple) of sessions 5 and 7 goes to 203.0.113.130.
    assert_eq!(
        ids("destination-prefix 203.0.113.130"),
        ["ms-1/1/0#7", "ms-1/1/0#5"]
    );
    // Port 20 is the source of 7's O flow and the destination of its I flow.
    assert_eq!(ids("source-port 20"), ["ms-1/1/0#7"]);
    assert_eq!(ids("destination-port 20"), ["ms-1/1/0#7"]);
}

#[test]
fn combined_filters() {
    assert_eq!(
        ids("protocol tcp interface ms-1/1/0 service-set ss2"),
        ["ms-1/1/0#3"]
    );
    assert_eq!(
        ids("source-prefix 10.0.0.0/8 destination-port 21"),
        ["ms-1/1/0#5"]
    );
    // Both conditions must hold on the same flow.
    assert!(ids("source-port 40001 destination-port 20").is_empty());
    assert!(ids("interface ms-2/0/0 application-protocol ftp").is_empty());
}

#[test]
fn limit_caps_after_sorting() {
    assert_eq!(ids("limit 2"), ["ms-1/1/0#7", "ms-1/1/0#6"]);
    assert_eq!(ids("limit 1 interface ms-2/0/0"), ["ms-2/0/0#13"]);
    assert!(ids("limit 0").is_empty());
    assert_eq!(ids("limit 100").len(), 9);
}

#[test]
fn count_ignores_limit() {
    let mut b = fixture::backend();
    let out = mspic_control::execute("show services sessions count limit 1", &mut b).unwrap();
    assert_eq!(out.lines().count(), 6);
}

#[test]
fn application_protocol_line_and_family() {
    let mut b = fixture::backend();
    let out =
        mspic_control::execute("show services sessions application-protocol ftp", &mut b).unwrap();
    assert!(out.starts_with("Interface name: ms-1/1/0\n"));
    // rpc and rpc-portmap select each other's sessions (same ALG family).
    let mut b = SnapshotBackend::new(vec![common::session("ms-1/1/0", "ss", 1)
        .alg_rpc_portmap()
        .with_flow()]);
    for p in ["rpc", "rpc-portmap"] {
        let out = mspic_control::execute(
            &format!("show services sessions application-protocol {p}"),
            &mut b,
        )
        .unwrap();
        assert!(out.contains("ALG: portmapper"), "{p}");
    }
}

trait Rpc {
    fn alg_rpc_portmap(self) -> Self;
    fn with_flow(self) -> Self;
}

impl Rpc for mspic_flow::SessionSnapshot {
    fn alg_rpc_portmap(self) -> Self {
        use common::SessionExt;
        self.alg(mspic_config::AppProtocol::RpcPortmap)
    }
    fn with_flow(self) -> Self {
        use common::SessionExt;
        self.flow(
            common::UDP,
            "10.0.0.1:700",
            "10.0.0.2:111",
            mspic_flow::FlowState::Forward,
            mspic_flow::FlowDirection::I,
            1,
        )
    }
}

#[test]
fn backend_that_ignores_filters_is_filtered_anyway() {
    struct Lazy(Vec<mspic_flow::SessionSnapshot>);
    impl Backend for Lazy {
        fn sessions(&mut self, _: &mspic_flow::SessionFilter) -> Vec<mspic_flow::SessionSnapshot> {
            self.0.clone()
        }
        fn clear_sessions(
            &mut self,
            _: &mspic_flow::SessionFilter,
        ) -> Vec<mspic_control::ClearedSessions> {
            vec![
                mspic_control::ClearedSessions {
                    interface: "ms-1/1/0".into(),
                    service_set: "b".into(),
                    count: 2,
                },
                mspic_control::ClearedSessions {
                    interface: "ms-1/1/0".into(),
                    service_set: "a".into(),
                    count: 0,
                },
                mspic_control::ClearedSessions {
                    interface: "ms-1/1/0".into(),
                    service_set: "b".into(),
                    count: 3,
                },
            ]
        }
        fn sfw_statistics(&mut self) -> Vec<(String, mspic_flow::SfwStats)> {
            Vec::new()
        }
    }
    let mut b = Lazy(fixture::sessions());
    let out =
        mspic_control::execute("show services sessions count interface ms-2/0/0", &mut b).unwrap();
    assert_eq!(out.lines().count(), 3);
    // Shard answers for the same (interface, service set) are added; zero rows are dropped.
    let out = mspic_control::execute("clear services sessions", &mut b).unwrap();
    assert_eq!(out.lines().count(), 2);
    assert!(out.lines().nth(1).unwrap().ends_with(" 5"));
    // Optional commands report clearly when the backend lacks them.
    for (cmd, name) in [
        ("show services nat pool", "show services nat pool"),
        (
            "show services nat mappings summary",
            "show services nat mappings",
        ),
        (
            "show services nat statistics",
            "show services nat statistics",
        ),
        (
            "show services service-sets summary",
            "show services service-sets summary",
        ),
    ] {
        assert_eq!(
            mspic_control::execute(cmd, &mut b).unwrap_err().to_string(),
            format!("error: command not implemented yet: {name}")
        );
    }
}
