//! Golden output of each text pipe (`| match`, `| except`, `| count`, `| last`, `| no-more`)
//! and `| display xml rpc` on the fixture state, alone and chained.

mod common;
mod fixture;

use mspic_control::{execute, parse_request, Pipe};

fn show(cmd: &str) -> String {
    let mut b = fixture::backend();
    execute(cmd, &mut b).unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

#[test]
fn each_pipe() {
    for (name, cmd) in [
        ("match", "show services sessions | match TCP"),
        (
            "match_quoted",
            "show services sessions | match \"UDP|ICMP\"",
        ),
        ("match_case", "show services sessions | match tcp"),
        ("except", "show services sessions | except Forward"),
        ("count", "show services sessions | count"),
        (
            "count_extensive",
            "show services sessions extensive | count",
        ),
        ("last", "show services sessions | last 3"),
        ("no_more", "show services sessions | no-more"),
        (
            "xml_match",
            "show services sessions | display xml | match session-id",
        ),
        (
            "xml_rpc",
            "show services sessions extensive source-prefix 10.0.0.5 | display xml rpc",
        ),
        (
            "chained",
            "show services sessions extensive | match Session | except ICMP | last 2 | count",
        ),
    ] {
        insta::assert_snapshot!(name, show(cmd), cmd);
    }
}

#[test]
fn no_more_changes_nothing() {
    let plain = show("show services sessions extensive");
    assert_eq!(show("show services sessions extensive | no-more"), plain);
    assert_eq!(show("show services sessions extensive | n"), plain);
    let lines = plain.lines().count();
    assert_eq!(
        show("show services sessions extensive | count"),
        format!("Count: {lines} lines\n")
    );
    assert_eq!(
        show("show services sessions extensive | last 1000000"),
        plain
    );
}

#[test]
fn pipes_parse_in_order() {
    let r = parse_request("show services sessions | m \"a b\" | ex c | cou | la 5 | no").unwrap();
    assert_eq!(
        r.pipes,
        vec![
            Pipe::Match("a b".into()),
            Pipe::Except("c".into()),
            Pipe::Count,
            Pipe::Last(5),
            Pipe::NoMore
        ]
    );
}
