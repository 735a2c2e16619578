//! Command parsing: accepted forms and the exact error texts.

use mspic_config::AppProtocol;
use mspic_control::{
    parse_command, parse_request, Command, CommandError, Detail, NatMappingsKind, OutputFormat,
    StatsDetail,
};
use mspic_flow::SessionFilter;
use proptest::prelude::*;

fn sessions(detail: Detail, count: bool, filter: SessionFilter) -> Command {
    Command::ShowSessions {
        detail,
        count,
        filter,
    }
}

#[test]
fn every_option_in_any_order() {
    let c = parse_command(
        "show services sessions source-prefix 10.0.0.0/8 limit 5 extensive protocol 17 \
         service-set ss1 destination-port 53 interface ms-1/2/0 source-port 1024 \
         destination-prefix 2001:db8::/32 application-protocol dns",
    )
    .unwrap();
    assert_eq!(
        c,
        sessions(
            Detail::Extensive,
            false,
            SessionFilter {
                application_protocol: Some(AppProtocol::Dns),
                destination_port: Some(53),
                destination_prefix: Some("2001:db8::/32".parse().unwrap()),
                interface: Some("ms-1/2/0".into()),
                limit: Some(5),
                protocol: Some(17),
                service_set: Some("ss1".into()),
                source_port: Some(1024),
                source_prefix: Some("10.0.0.0/8".parse().unwrap()),
            }
        )
    );
}

#[test]
fn levels_count_and_aliases() {
    let d = SessionFilter::default;
    assert_eq!(
        parse_command("show services sessions").unwrap(),
        sessions(Detail::Normal, false, d())
    );
    assert_eq!(
        parse_command("show services sessions brief").unwrap(),
        sessions(Detail::Brief, false, d())
    );
    assert_eq!(
        parse_command("show services sessions terse").unwrap(),
        sessions(Detail::Terse, false, d())
    );
    assert_eq!(
        parse_command("show services sessions count").unwrap(),
        sessions(Detail::Normal, true, d())
    );
    assert_eq!(
        parse_command("  sh   serv sess  ext   cou ").unwrap(),
        sessions(Detail::Extensive, true, d())
    );
    assert_eq!(
        parse_command("show services flows count").unwrap(),
        Command::ShowFlows {
            detail: Detail::Normal,
            count: true,
            filter: d()
        }
    );
    assert_eq!(
        parse_command("show services stateful-firewall flows extensive").unwrap(),
        Command::ShowFlows {
            detail: Detail::Extensive,
            count: false,
            filter: d()
        }
    );
    assert_eq!(
        parse_command("show services sessions application-protocol sql").unwrap(),
        sessions(
            Detail::Normal,
            false,
            SessionFilter {
                application_protocol: Some(AppProtocol::Sqlnet),
                ..d()
            }
        )
    );
}

#[test]
fn other_commands() {
    assert_eq!(
        parse_command("show services stateful-firewall statistics extensive interface ms-1/1/0")
            .unwrap(),
        Command::ShowSfwStatistics {
            detail: StatsDetail::Extensive,
            interface: Some("ms-1/1/0".into())
        }
    );
    assert_eq!(
        parse_command("show services stateful-firewall statistics").unwrap(),
        Command::ShowSfwStatistics {
            detail: StatsDetail::Normal,
            interface: None
        }
    );
    assert_eq!(
        parse_command("clear services sessions service-set ss1 protocol udp").unwrap(),
        Command::ClearSessions {
            filter: SessionFilter {
                service_set: Some("ss1".into()),
                protocol: Some(17),
                ..SessionFilter::default()
            }
        }
    );
    assert_eq!(
        parse_command("show services nat pool p1 detail").unwrap(),
        Command::ShowNatPool {
            name: Some("p1".into()),
            detail: true
        }
    );
    assert_eq!(
        parse_command("show services nat pool").unwrap(),
        Command::ShowNatPool {
            name: None,
            detail: false
        }
    );
    // Junos "show services nat mappings": `<brief | detail | summary> <pool-name>`, and
    // the endpoint-independent and address-pooling-paired RPCs.
    let mappings = |kind, pool: Option<&str>| Command::ShowNatMappings {
        kind,
        pool: pool.map(str::to_string),
    };
    for (line, want) in [
        (
            "show services nat mappings",
            mappings(NatMappingsKind::Detail, None),
        ),
        (
            "show services nat mappings summary",
            mappings(NatMappingsKind::Summary, None),
        ),
        (
            "show services nat mappings p1",
            mappings(NatMappingsKind::Detail, Some("p1")),
        ),
        (
            "show services nat mappings detail p1",
            mappings(NatMappingsKind::Detail, Some("p1")),
        ),
        (
            "show services nat mappings brief p1",
            mappings(NatMappingsKind::Brief, Some("p1")),
        ),
        (
            "show services nat mappings br",
            mappings(NatMappingsKind::Brief, None),
        ),
        (
            "show services nat mappings endpoint-independent",
            mappings(NatMappingsKind::EndpointIndependent, None),
        ),
        (
            "show services nat mappings address-pooling-paired",
            mappings(NatMappingsKind::AddressPoolingPaired, None),
        ),
        (
            "show services nat mappings a",
            mappings(NatMappingsKind::AddressPoolingPaired, None),
        ),
    ] {
        assert_eq!(parse_command(line).unwrap(), want, "{line}");
    }
    assert_eq!(
        parse_command("show services nat statistics interface ms-0/0/0").unwrap(),
        Command::ShowNatStatistics {
            interface: Some("ms-0/0/0".into())
        }
    );
    assert_eq!(
        parse_command("show services service-sets summary").unwrap(),
        Command::ShowServiceSetsSummary { interface: None }
    );
    assert_eq!(
        parse_command("show services service-sets statistics syslog interface ms-1/1/0").unwrap(),
        Command::ShowServiceSetsSyslog {
            interface: Some("ms-1/1/0".into())
        }
    );
    assert!(parse_command("show services service-sets statistics").is_err());
    assert_eq!(
        parse_command("show services alg conversations extensive application-protocol ftp")
            .unwrap(),
        Command::ShowAlgConversations {
            detail: Detail::Extensive,
            application_protocol: Some(AppProtocol::Ftp),
            interface: None
        }
    );
}

#[test]
fn display_pipes() {
    let f = |l: &str| parse_request(l).unwrap().format;
    assert_eq!(f("show services sessions"), OutputFormat::Text);
    assert_eq!(f("show services sessions | display xml"), OutputFormat::Xml);
    assert_eq!(f("show services sessions|display json"), OutputFormat::Json);
    assert_eq!(
        f("show services sessions count | disp xml"),
        OutputFormat::Xml
    );
}

/// Every error text, pinned.
#[test]
fn error_texts() {
    let cases = [
        "",
        "foo",
        "show",
        "show services",
        "show services foo",
        "show serv s",
        "show services sessions foo",
        "show services sessions 10.0.0.1",
        "show services sessions destination-port abc",
        "show services sessions destination-port 65536",
        "show services sessions source-port -1",
        "show services sessions limit",
        "show services sessions limit x",
        "show services sessions limit 4294967296",
        "show services sessions protocol foo",
        "show services sessions protocol 256",
        "show services sessions destination-prefix 10.0.0.300",
        "show services sessions source-prefix 10.0.0.0/33",
        "show services sessions interface ge-0/0/0",
        "show services sessions interface ms-1/1",
        "show services sessions application-protocol foo",
        "show services sessions service-set",
        "show services sessions limit 1 limit 2",
        "show services sessions brief extensive",
        "show services sessions count count",
        "show services sessions de 1",
        "show services sessions s",
        "show services sessions | count 3",
        "show services sessions | match",
        "show services sessions | match (",
        "show services sessions | last",
        "show services sessions | last 0",
        "show services sessions | last 2 3",
        "show services sessions | foo",
        "show services sessions | display set",
        "show services sessions | display text",
        "show services sessions |",
        "show services sessions | display xml | display json",
        "show services stateful-firewall statistics foo",
        "show services stateful-firewall statistics brief extensive",
        "show services stateful-firewall statistics interface",
        "show services nat pool a b",
        "show services nat mappings p1 p2",
        "show services nat mappings summary foo",
        "show services nat mappings endpoint-independent p1",
        "show services service-sets summary foo",
        "clear services sessions count",
        "clear services sessions extensive",
        "clear services flows",
        "show services foo | count",
        "show services sessions | display xml rpc | display xml",
        "show services | display xml",
    ];
    let mut out = String::new();
    for c in cases {
        let e = parse_request(c).unwrap_err();
        let caret = e
            .offset()
            .map(|o| format!("{}^", " ".repeat(o)))
            .unwrap_or_default();
        out.push_str(&format!("> {c}\n  {caret}\n{e}\n\n"));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn key_error_texts() {
    let e = |l: &str| parse_request(l).unwrap_err().to_string();
    assert_eq!(
        e("show services sessions destination-port abc"),
        "error: invalid value 'abc' for destination-port (expected 0..65535)"
    );
    assert_eq!(
        e("show services sessions limit"),
        "error: missing argument for 'limit'"
    );
    assert_eq!(e("show services sessions foo"), "error: syntax error: foo");
    assert_eq!(
        e("show services foo"),
        "error: syntax error, expecting <command>: foo"
    );
    assert_eq!(
        e("show services"),
        "error: syntax error, expecting <command>."
    );
    assert_eq!(
        parse_request("show services sessions foo").unwrap_err(),
        CommandError::UnexpectedWord {
            word: "foo".into(),
            at: 23
        }
    );
}

proptest! {
    #[test]
    fn arbitrary_lines_never_panic(line in ".{0,120}") {
        let _ = parse_request(&line);
    }

    #[test]
    fn word_salad_never_panics(words in proptest::collection::vec(prop_oneof![
        Just("show"), Just("clear"), Just("services"), Just("sessions"), Just("flows"),
        Just("stateful-firewall"), Just("statistics"), Just("nat"), Just("pool"), Just("mappings"),
        Just("summary"), Just("detail"), Just("extensive"), Just("brief"), Just("count"),
        Just("limit"), Just("protocol"), Just("interface"), Just("ms-1/1/0"), Just("|"),
        Just("display"), Just("xml"), Just("json"), Just("10.0.0.0/8"), Just("65536"), Just("1"),
        Just("s"), Just("de"), Just("é"), Just("service-set"), Just("alg"), Just("conversations"),
    ], 0..12)) {
        let line = words.join(" ");
        if let Err(e) = parse_request(&line) {
            if let Some(at) = e.offset() {
                prop_assert!(at <= line.len());
                prop_assert!(line.is_char_boundary(at));
            }
            prop_assert!(e.to_string().starts_with("error: "));
        }
    }
}
