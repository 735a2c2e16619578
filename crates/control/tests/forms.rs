//! XML, JSON and text of every command on the fixture state, checked against each other
//! (see `agree::check`).

mod agree;
mod common;
mod fixture;

use mspic_control::execute;

fn all_forms(cmd: &str) -> (String, String, String) {
    let run = |line: String| {
        let mut b = fixture::backend();
        execute(&line, &mut b).unwrap_or_else(|e| panic!("{line}: {e}"))
    };
    (
        run(cmd.to_string()),
        run(format!("{cmd} | display xml")),
        run(format!("{cmd} | display json")),
    )
}

#[test]
fn every_command_agrees_with_itself() {
    for (cmd, not_in_text) in [
        // The session header of the 10.4–13.x layout does not name the service set.
        ("show services sessions", &["service-set-name"][..]),
        ("show services sessions extensive", &["service-set-name"]),
        ("show services sessions count", &[]),
        ("show services flows", &[]),
        ("show services flows extensive", &[]),
        ("show services flows count", &[]),
        ("show services stateful-firewall statistics", &[]),
        ("show services stateful-firewall statistics extensive", &[]),
        ("show services alg conversations", &[]),
        ("show services alg conversations extensive", &[]),
        ("clear services sessions", &[]),
    ] {
        let (text, xml, json) = all_forms(cmd);
        agree::check(cmd, &text, &xml, &json, not_in_text);
    }
}
