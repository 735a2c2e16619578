//! The predefined `junos-*` table: every application, written out as a user application
//! would be, parses back to the same terms (so each entry is a configuration Junos and
//! mspic accept); names are unique and reserved; sets name existing applications.

use mspic_config::*;

/// `junos-x` as the user application `user-x`, printed and parsed back.
#[test]
fn every_predefined_application_parses_back_as_written() {
    let mut c = Config::default();
    let renamed = |n: &str| format!("user-{}", n.trim_start_matches("junos-"));
    for a in predefined::applications() {
        c.applications.push(Application {
            name: renamed(&a.name),
            predefined: false,
            ..a
        });
    }
    let text = display::braces(&c);
    let back = parse(&text, "predefined.conf").unwrap_or_else(|e| panic!("{e}\n{text}"));
    for a in predefined::applications() {
        let user = back.application(&renamed(&a.name)).expect("parsed back");
        assert_eq!(user.terms, a.terms, "{}", a.name);
        assert!(!a.terms.is_empty(), "{}", a.name);
        for t in &a.terms {
            assert!(
                t.protocol.is_some(),
                "{}: every term names its protocol",
                a.name
            );
        }
    }
}

#[test]
fn predefined_names_are_reserved_unique_and_sets_resolve() {
    let c = parse("", "empty.conf").unwrap();
    let apps: Vec<&str> = c.applications.iter().map(|a| a.name.as_str()).collect();
    let sets: Vec<&str> = c.application_sets.iter().map(|s| s.name.as_str()).collect();
    let mut all: Vec<&str> = apps.iter().chain(&sets).copied().collect();
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(
        all.len(),
        n,
        "a name is defined twice, or as both an application and a set"
    );
    assert!(all.iter().all(|n| n.starts_with("junos-")));
    for s in &c.application_sets {
        for m in &s.applications {
            assert!(apps.contains(&m.as_str()), "{}: {m}", s.name);
        }
    }
    for (name, terms) in [
        ("junos-sip", 2),
        ("junos-h323", 2),
        ("junos-realaudio", 2),
        ("junos-ftp", 1),
    ] {
        assert_eq!(c.application(name).unwrap().terms.len(), terms, "{name}");
    }
    let e = parse(
        "set services stateful-firewall rule r match-direction input\nset services stateful-firewall rule r term t from applications junos-nonexistent\nset services stateful-firewall rule r term t then accept\n",
        "e.conf",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "e.conf:2:64: error: application 'junos-nonexistent' is not defined (neither an application nor an application-set)"
    );
}
