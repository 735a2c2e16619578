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
