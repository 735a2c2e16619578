//! Tab completion and `?` help, from the grammar tables the parser reads.

use mspic_control::{complete, help, parse_request};

fn words(line: &str) -> Vec<&'static str> {
    complete(line).keywords.iter().map(|k| k.0).collect()
}

#[test]
fn completion_follows_the_grammar() {
    assert_eq!(words(""), ["clear", "show"]);
    assert_eq!(words("sh"), ["show"]);
    assert_eq!(words("show "), ["configuration", "interfaces", "services"]);
    assert_eq!(words("show services n"), ["nat"]);
    assert_eq!(
        words("sh serv nat "),
        ["pool", "mappings", "statistics", "deterministic-nat"]
    );
    assert_eq!(
        words("sh serv nat det "),
        ["internal-host", "nat-port-block"]
    );
    // `show services nat mappings`: complete as it stands, a variant, or a pool name
    // after brief/detail.
    let c = complete("show services nat mappings ");
    assert!(c.can_end);
    assert_eq!(
        words("show services nat mappings "),
        [
            "summary",
            "detail",
            "brief",
            "endpoint-independent",
            "address-pooling-paired"
        ]
    );
    assert_eq!(
        words("show services nat mappings e"),
        ["endpoint-independent"]
    );
    let c = complete("show services nat mappings brief ");
    assert_eq!((c.value, c.can_end), (Some("<pool-name>"), true));
    let c = complete("show services nat mappings address-pooling-paired ");
    assert_eq!((c.value, c.can_end), (None, true));
    assert!(c.keywords.is_empty());
    assert_eq!(
        words("show services sessions so"),
        ["source-port", "source-prefix"]
    );
    assert_eq!(complete("show services sessions so").start, 23);
    // An option already given is not offered again; a value is expected after one.
    assert!(!words("show services sessions extensive ").contains(&"extensive"));
    let c = complete("show services sessions source-prefix ");
    assert_eq!(c.value, Some("<source-prefix>"));
    assert!(c.keywords.is_empty());
    assert!(words("show services sessions source-prefix 10.0.0.2 ").contains(&"limit"));
    assert_eq!(words("clear services sessions ex"), Vec::<&str>::new());
    assert_eq!(
        words("clear services "),
        ["sessions", "stateful-firewall", "nat", "softwire"]
    );
    assert_eq!(words("clear services nat "), ["statistics"]);
    assert_eq!(words("clear services softwire "), ["statistics"]);
    assert_eq!(
        words("clear services stateful-firewall statistics "),
        ["interface"]
    );
    let c = complete("clear services nat statistics interface ");
    assert_eq!(c.value, Some("<interface>"));
    assert_eq!(words("show services foo "), Vec::<&str>::new());
    // Pipes.
    assert_eq!(
        words("show services sessions | "),
        ["count", "display", "except", "last", "match", "no-more"]
    );
    assert_eq!(
        words("show services sessions | display "),
        ["json", "set", "xml"]
    );
    assert_eq!(words("show services sessions | display xml "), ["rpc"]);
    assert_eq!(
        complete("show services sessions | match ").value,
        Some("<pattern>")
    );
}

/// Every keyword completion offers parses at that place.
#[test]
fn offered_words_parse() {
    for line in [
        "show services ",
        "show services sessions ",
        "show services stateful-firewall ",
        "show services stateful-firewall statistics ",
        "show services nat ",
        "show services nat mappings ",
        "show services service-sets ",
        "show services service-sets statistics ",
        "show services service-sets statistics syslog ",
        "show services alg conversations ",
        "show interfaces ",
        "show interfaces ms-1/1/0 ",
        "clear services sessions ",
        "clear services ",
        "clear services nat ",
        "clear services nat statistics ",
        "clear services stateful-firewall ",
        "clear services stateful-firewall statistics ",
    ] {
        for (w, _) in complete(line).keywords {
            let l = format!("{line}{w}");
            let with_value = ["1", "ftp", "10.0.0.1", "ms-1/1/0"]
                .iter()
                .any(|v| parse_request(&format!("{l} {v}")).is_ok());
            // Complete as it is, with a value, or a word that leads further.
            assert!(
                parse_request(&l).is_ok()
                    || with_value
                    || !complete(&format!("{l} ")).keywords.is_empty(),
                "{l}"
            );
        }
    }
}

#[test]
fn question_mark_help() {
    let extra = [
        ("exit", "Exit the management session"),
        ("request", "Make system-level requests"),
    ];
    let mut out = String::new();
    for line in [
        "",
        "show ",
        "show services ",
        "show services sessions ",
        "show services sessions dest",
        "show services sessions destination-port ",
        "show services nat pool ",
        "show services sessions | ",
        "show services foo ",
    ] {
        out.push_str(&format!("> {line}?\n{}\n", help(line, &extra)));
    }
    insta::assert_snapshot!(out);
}
