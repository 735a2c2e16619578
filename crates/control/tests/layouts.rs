//! Golden output of every layout (text, XML, JSON) on the fixture state.

mod common;
mod fixture;

use mspic_control::{execute, SnapshotBackend};

fn show(cmd: &str) -> String {
    let mut b = fixture::backend();
    execute(cmd, &mut b).unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

/// Each JSON answer must parse, and hold the same reply root as the XML.
fn json(cmd: &str) -> String {
    let out = show(&format!("{cmd} | display json"));
    let v: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{cmd}: {e}\n{out}"));
    let root = v.as_object().unwrap().keys().next().unwrap().clone();
    let xml = show(&format!("{cmd} | display xml"));
    assert!(
        xml.lines()
            .nth(1)
            .unwrap()
            .trim_start()
            .starts_with(&format!("<{root}")),
        "{cmd}"
    );
    out
}

macro_rules! golden {
    ($name:ident, $cmd:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(show($cmd));
        }
    };
}

golden!(sessions_plain, "show services sessions");
golden!(sessions_extensive, "show services sessions extensive");
golden!(sessions_count, "show services sessions count");
golden!(
    sessions_application_protocol,
    "show services sessions application-protocol ftp extensive"
);
golden!(sessions_limit, "show services sessions limit 3");
golden!(flows_plain, "show services flows");
golden!(
    flows_extensive,
    "show services flows extensive interface ms-1/1/0"
);
golden!(flows_count, "show services flows count");
golden!(flows_limit, "show services flows limit 3");
golden!(sfw_statistics, "show services stateful-firewall statistics");
golden!(
    sfw_statistics_extensive,
    "show services stateful-firewall statistics extensive"
);
golden!(clear_sessions, "clear services sessions interface ms-1/1/0");
golden!(alg_conversations, "show services alg conversations");
golden!(
    alg_conversations_brief,
    "show services alg conversations brief application-protocol pptp"
);
golden!(
    alg_conversations_extensive,
    "show services alg conversations extensive application-protocol ftp"
);
golden!(
    alg_conversations_json,
    "show services alg conversations extensive | display json"
);
golden!(
    alg_conversations_xml,
    "show services alg conversations interface ms-1/1/0 | display xml"
);
golden!(sessions_xml, "show services sessions | display xml");
golden!(
    sessions_extensive_xml,
    "show services sessions extensive interface ms-1/1/0 | display xml"
);
golden!(
    sessions_count_xml,
    "show services sessions count | display xml"
);
golden!(
    flows_xml,
    "show services flows service-set v6 | display xml"
);
golden!(flows_count_xml, "show services flows count | display xml");
golden!(
    sfw_statistics_xml,
    "show services stateful-firewall statistics | display xml"
);
golden!(
    sfw_statistics_extensive_xml,
    "show services stateful-firewall statistics extensive interface ms-2/0/0 | display xml"
);
golden!(
    clear_sessions_xml,
    "clear services sessions service-set ss2 | display xml"
);

macro_rules! golden_json {
    ($name:ident, $cmd:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(json($cmd));
        }
    };
}

golden_json!(sessions_json, "show services sessions service-set v6");
golden_json!(
    sessions_extensive_json,
    "show services sessions extensive service-set ss2"
);
golden_json!(sessions_count_json, "show services sessions count");
golden_json!(flows_json, "show services flows interface ms-10/0/0");
golden_json!(flows_count_json, "show services flows count");
golden_json!(
    sfw_statistics_json,
    "show services stateful-firewall statistics interface ms-2/0/0"
);
golden_json!(clear_sessions_json, "clear services sessions");

#[test]
fn json_of_every_command_parses() {
    for cmd in [
        "show services sessions",
        "show services sessions extensive",
        "show services sessions count",
        "show services flows",
        "show services flows extensive",
        "show services flows count",
        "show services stateful-firewall statistics",
        "show services stateful-firewall statistics extensive",
        "clear services sessions",
        "show services alg conversations",
    ] {
        json(cmd);
    }
}

#[test]
fn empty_answers() {
    let mut b = SnapshotBackend::default();
    assert_eq!(execute("show services sessions", &mut b).unwrap(), "");
    assert_eq!(
        execute("show services sessions extensive", &mut b).unwrap(),
        ""
    );
    assert_eq!(execute("show services flows", &mut b).unwrap(), "");
    assert_eq!(
        execute("show services stateful-firewall statistics", &mut b).unwrap(),
        ""
    );
    assert_eq!(
        execute("show services sessions count", &mut b).unwrap(),
        "Interface   Service set                                          Sessions count\n"
    );
    assert_eq!(
        execute("clear services sessions", &mut b).unwrap(),
        "Interface   Service Set                                          Sessions marked for deletion\n"
    );
    insta::assert_snapshot!(
        "empty_sessions_xml",
        execute("show services sessions | display xml", &mut b).unwrap()
    );
    insta::assert_snapshot!(
        "empty_sessions_json",
        execute("show services sessions | display json", &mut b).unwrap()
    );
    let v: serde_json::Value = serde_json::from_str(
        &execute("show services sessions count | display json", &mut b).unwrap(),
    )
    .unwrap();
    assert!(v.get("service-msp-sess-count-information").is_some());
}

#[test]
fn clear_removes_sessions() {
    let mut b = fixture::backend();
    let before = b.sessions.len();
    let out = execute("clear services sessions service-set ss2", &mut b).unwrap();
    assert!(out.lines().nth(1).unwrap().starts_with("ms-1/1/0    ss2 "));
    assert!(out.ends_with(" 2\n"));
    assert_eq!(b.sessions.len(), before - 2);
    assert_eq!(
        execute("show services sessions service-set ss2", &mut b).unwrap(),
        ""
    );
}

mod properties {
    use proptest::prelude::*;

    proptest! {
        /// Any valid combination of options renders, and its XML and JSON forms are well
        /// formed (JSON parses; XML opens and closes the reply).
        #[test]
        fn any_option_combination_renders(
            cmd in prop_oneof![Just("show services sessions"), Just("show services flows"),
                               Just("clear services sessions"), Just("show services alg conversations")],
            opts in proptest::sample::subsequence(vec![
                "extensive", "count", "limit 2", "protocol tcp", "interface ms-1/1/0",
                "service-set v6", "source-prefix 10.0.0.0/8", "destination-prefix 2001:db8::/32",
                "destination-port 21", "source-port 5353", "application-protocol ftp",
            ], 0..5),
        ) {
            let opts: Vec<&str> = opts
                .into_iter()
                .filter(|o| {
                    cmd.starts_with("show services s") || cmd.starts_with("show services f")
                        || (cmd.starts_with("clear") && *o != "extensive" && *o != "count")
                        || (cmd.contains("alg") && (*o == "extensive" || o.starts_with("interface")
                            || o.starts_with("application-protocol")))
                })
                .collect();
            let line = format!("{cmd} {}", opts.join(" "));
            let mut b = crate::fixture::backend();
            mspic_control::execute(&line, &mut b).unwrap();
            let mut b = crate::fixture::backend();
            let json = mspic_control::execute(&format!("{line} | display json"), &mut b).unwrap();
            prop_assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok(), "{}", json);
            let mut b = crate::fixture::backend();
            let xml = mspic_control::execute(&format!("{line} | display xml"), &mut b).unwrap();
            prop_assert!(xml.starts_with("<rpc-reply "));
            prop_assert!(xml.ends_with("</rpc-reply>\n"));
        }

        #[test]
        fn execute_never_panics(line in "[a-z0-9 /.:|-]{0,80}") {
            let mut b = crate::fixture::backend();
            let _ = mspic_control::execute(&line, &mut b);
        }
    }
}

/// The sample of the Junos page "show services alg conversations" (Junos OS 12.2 command
/// summary, show-services-alg-conversations-jsf.html): a SQLNet child whose parent has
/// closed. Every line the page shows whole is reproduced byte for byte.
#[test]
fn alg_conversations_junos_sample() {
    use common::*;
    use mspic_config::AppProtocol;
    use mspic_flow::{FlowDirection::*, FlowState::*, SessionSnapshot, FLAG_ALG_CHILD};
    let child = SessionSnapshot {
        parent: Some(9),
        ..session("ms-2/1/0", "ss", 1)
    }
    .alg(AppProtocol::Sqlnet)
    .flags(FLAG_ALG_CHILD)
    .flow(6, "10.50.50.2:37244", "10.40.40.10:4334", Forward, I, 3)
    .flow(6, "10.40.40.10:4334", "10.50.50.2:37244", Forward, O, 2);
    let mut b = SnapshotBackend {
        sessions: vec![child],
        sfw: Vec::new(),
    };
    let out = execute("show services alg conversations", &mut b).unwrap();
    let sample = [
        "Interface name: ms-2/1/0",
        "ALG : SQLV2 ALG, State : active",
        "Number of conversations: 1",
        "Parent session status: closed",
        "Child session : 1, protocol: TCP",
        "Forward Flow : {10.50.50.2:37244 -> 10.40.40.10:4334}",
    ];
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..6], &sample[..]);
    assert!(lines[6].starts_with("Reverse F"), "{out}");
}
