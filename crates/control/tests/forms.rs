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
        ("show interfaces terse", &[]),
    ] {
        let (text, xml, json) = all_forms(cmd);
        agree::check(cmd, &text, &xml, &json, not_in_text);
    }
}

/// A clear command prints nothing; its XML is a well-formed reply with no answer element
/// and its JSON an empty object, as Junos gives for `clear services … statistics`.
#[test]
fn clear_statistics_forms_are_empty_and_well_formed() {
    let cmd = "clear services stateful-firewall statistics";
    let (text, xml, json) = all_forms(cmd);
    assert_eq!(text.trim(), "", "{cmd}");
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{cmd}: {e}\n{xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "rpc-reply");
    let answers: Vec<_> = root
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() != "cli")
        .collect();
    assert!(answers.is_empty(), "{cmd}: unexpected {answers:?}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v.as_object().map(|o| o.len()), Some(0), "{cmd}: {json}");
}
