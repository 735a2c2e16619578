//! Whole sessions against a daemon stand-in that answers with the real renderers (the
//! control crate's `execute`, the configuration crate's display): every reply is compared
//! with its golden copy.

use std::time::Duration;

use mspic_netconf::{framing, Daemon, Framing, Identity, Session};

const CONFIG: &str = include_str!("../../../docs/examples/testbed.conf");

/// Answers like mspicd over an empty engine and the testbed configuration.
struct Fake {
    config: mspic_config::Config,
    commits: Vec<String>,
    locked: bool,
}

impl Fake {
    fn new() -> Fake {
        Fake {
            config: mspic_config::parse(CONFIG, "testbed.conf").unwrap(),
            commits: Vec::new(),
            locked: false,
        }
    }
}

impl Daemon for Fake {
    fn command(&mut self, line: &str) -> Result<String, String> {
        let (cmd, pipe) = match line.split_once('|') {
            Some((c, p)) => (c.trim(), p.trim()),
            None => (line.trim(), ""),
        };
        if let Some(path) = cmd.strip_prefix("show configuration") {
            let path: Vec<&str> = path.split_whitespace().collect();
            use mspic_config::display;
            return Ok(match pipe {
                "display set" => display::set_at(&self.config, &path),
                "display xml" => format!(
                    "<rpc-reply xmlns:junos=\"x\">\n{}<cli><banner></banner></cli>\n</rpc-reply>\n",
                    display::xml_at(&self.config, &path)
                ),
                _ => display::braces_under(&self.config, &path),
            });
        }
        let mut backend = mspic_control::SnapshotBackend::default();
        let options = mspic_control::ExecuteOptions::for_config(&self.config);
        mspic_control::execute_with(line, &mut backend, &options).map_err(|e| e.to_string())
    }

    fn check(&mut self, name: &str, text: &str) -> Result<String, String> {
        mspic_config::parse(text, name)
            .map(|_| String::new())
            .map_err(|e| e.to_string())
    }

    fn commit(&mut self, name: &str, text: &str) -> Result<String, String> {
        self.config = mspic_config::parse(text, name).map_err(|e| e.to_string())?;
        self.commits.push(text.to_string());
        Ok("commit complete\n".into())
    }

    fn lock(&mut self) -> Result<(), String> {
        if self.locked {
            return Err("locked".into());
        }
        self.locked = true;
        Ok(())
    }

    fn unlock(&mut self) -> Result<(), String> {
        self.locked = false;
        Ok(())
    }
}

fn session() -> Session<Fake> {
    let id = Identity {
        hostname: "pic".into(),
        version: "0.1.0".into(),
        session_id: 42,
    };
    Session::new(Fake::new(), id)
}

const HELLO_10: &str = "<hello xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\"><capabilities>\
    <capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>]]>]]>";
const HELLO_11: &str = "<hello xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\"><capabilities>\
    <capability>urn:ietf:params:netconf:base:1.0</capability>\
    <capability>urn:ietf:params:netconf:base:1.1</capability></capabilities></hello>]]>]]>";

/// Sends one RPC (base:1.0 framing) and returns the reply without its delimiter.
fn rpc(s: &mut Session<Fake>, body: &str) -> String {
    let msg = format!("<rpc message-id=\"101\" xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\">{body}</rpc>]]>]]>");
    let out = String::from_utf8(s.receive(Duration::ZERO, msg.as_bytes())).unwrap();
    out.strip_suffix("]]>]]>").unwrap_or(&out).to_string()
}

fn open() -> Session<Fake> {
    let mut s = session();
    assert!(s.receive(Duration::ZERO, HELLO_10.as_bytes()).is_empty());
    s
}

#[test]
fn server_hello() {
    insta::assert_snapshot!(String::from_utf8(session().hello()).unwrap());
}

#[test]
fn command_formats() {
    let mut s = open();
    insta::assert_snapshot!(
        "command_text",
        rpc(
            &mut s,
            "<command format=\"text\">show services sessions count</command>"
        )
    );
    insta::assert_snapshot!(
        "command_xml",
        rpc(&mut s, "<command>show services sessions count</command>")
    );
    insta::assert_snapshot!(
        "command_json",
        rpc(
            &mut s,
            "<command format=\"json\">show services stateful-firewall statistics</command>"
        )
    );
    insta::assert_snapshot!(
        "command_xml_rpc",
        rpc(
            &mut s,
            "<command format=\"xml\">show services sessions extensive source-prefix 10.0.0.2 | display xml rpc</command>"
        )
    );
    insta::assert_snapshot!(
        "command_pipes",
        rpc(
            &mut s,
            "<command format=\"xml\">show services stateful-firewall statistics | display xml | count</command>"
        )
    );
    insta::assert_snapshot!(
        "command_error",
        rpc(&mut s, "<command>show services sessions foo</command>")
    );
    assert_eq!(s.stats().rpc_errors, 1);
}

#[test]
fn junos_rpcs() {
    let mut s = open();
    insta::assert_snapshot!(
        "rpc_sfw_statistics",
        rpc(
            &mut s,
            "<get-service-sfw-statistics-information><extensive/></get-service-sfw-statistics-information>"
        )
    );
    insta::assert_snapshot!(
        "rpc_bad_argument",
        rpc(
            &mut s,
            "<get-msp-session-table><source-prefix>10.0.0.2 | count</source-prefix></get-msp-session-table>"
        )
    );
    // `clear-stateful-firewall-statistics` replies nothing (Junos RPC table): `<ok/>`.
    insta::assert_snapshot!(
        "rpc_clear_sfw_statistics",
        rpc(
            &mut s,
            "<clear-stateful-firewall-statistics><interface>ms-1/1/0</interface></clear-stateful-firewall-statistics>"
        )
    );
    insta::assert_snapshot!("rpc_unknown", rpc(&mut s, "<get-bgp-summary-information/>"));
    insta::assert_snapshot!(
        "rpc_virtual_chassis",
        rpc(&mut s, "<get-virtual-chassis-information/>")
    );
    insta::assert_snapshot!("rpc_software", rpc(&mut s, "<get-software-information/>"));
    insta::assert_snapshot!(
        "rpc_interfaces",
        rpc(
            &mut s,
            "<get-interface-information><terse/><interface-name>ms-*</interface-name></get-interface-information>"
        )
    );
    // The same XML as `show interfaces ms-1/1/0 extensive | display xml`.
    let extensive = rpc(
        &mut s,
        "<get-interface-information><extensive/><interface-name>ms-1/1/0</interface-name></get-interface-information>",
    );
    assert!(extensive.contains("<input-error-list>"), "{extensive}");
    insta::assert_snapshot!("rpc_interfaces_extensive", extensive);
    // What PyEZ asks when it gathers facts: no services interface in that instance.
    let private = rpc(
        &mut s,
        "<get-interface-information><routing-instance>__juniper_private1__</routing-instance><terse/></get-interface-information>",
    );
    assert!(private.contains("<interface-information"), "{private}");
    assert!(!private.contains("<physical-interface>"), "{private}");
}

#[test]
fn configuration() {
    let mut s = open();
    insta::assert_snapshot!(
        "get_configuration_xml_subtree",
        rpc(
            &mut s,
            "<get-configuration><configuration><services><nat/></services></configuration></get-configuration>"
        )
    );
    insta::assert_snapshot!(
        "get_configuration_set",
        rpc(&mut s, "<get-configuration format=\"set\"/>")
    );
    insta::assert_snapshot!(
        "lock",
        rpc(&mut s, "<lock><target><candidate/></target></lock>")
    );
    insta::assert_snapshot!(
        "lock_again",
        rpc(&mut s, "<lock><target><candidate/></target></lock>")
    );
    insta::assert_snapshot!(
        "load_bad",
        rpc(
            &mut s,
            "<load-configuration format=\"text\"><configuration-text>services {\n    nat {\n        pool p9 { bogus; }\n    }\n}\n</configuration-text></load-configuration>"
        )
    );
    insta::assert_snapshot!(
        "load_xml",
        rpc(
            &mut s,
            "<load-configuration><configuration><services><nat><pool><name>p9</name><address>192.0.2.0/30</address></pool></nat></services></configuration></load-configuration>"
        )
    );
    insta::assert_snapshot!(
        "candidate_text",
        rpc(
            &mut s,
            "<get-configuration format=\"text\"><configuration><services><nat><pool><name>p9</name></pool></nat></services></configuration></get-configuration>"
        )
    );
    insta::assert_snapshot!(
        "compare",
        rpc(
            &mut s,
            "<get-configuration compare=\"rollback\" rollback=\"0\" format=\"text\"/>"
        )
    );
    insta::assert_snapshot!(
        "running_subtree_text",
        rpc(
            &mut s,
            "<get-configuration database=\"committed\" format=\"text\"><configuration><services><nat><rule/></nat></services></configuration></get-configuration>"
        )
    );
    insta::assert_snapshot!(
        "commit_confirmed",
        rpc(
            &mut s,
            "<commit-configuration><confirmed/></commit-configuration>"
        )
    );
    insta::assert_snapshot!(
        "commit_check",
        rpc(
            &mut s,
            "<commit-configuration><check/></commit-configuration>"
        )
    );
    assert!(s.daemon().commits.is_empty());
    insta::assert_snapshot!("commit", rpc(&mut s, "<commit-configuration/>"));
    assert_eq!(s.daemon().commits.len(), 1);
    assert!(s.daemon().commits[0].contains("set services nat pool p9 address 192.0.2.0/30"));
    insta::assert_snapshot!(
        "unlock",
        rpc(&mut s, "<unlock><target><candidate/></target></unlock>")
    );
    insta::assert_snapshot!("close", rpc(&mut s, "<close-session/>"));
    assert!(s.is_closed());
    assert_eq!(s.end_reason(), None);
}

#[test]
fn chunked_session() {
    let mut s = session();
    assert!(s.receive(Duration::ZERO, HELLO_11.as_bytes()).is_empty());
    assert_eq!(s.framing(), Framing::Chunked);
    let msg = "<rpc message-id=\"7\"><get-route-engine-information/></rpc>";
    let out = s.receive(
        Duration::ZERO,
        &framing::encode(Framing::Chunked, msg.as_bytes()),
    );
    insta::assert_snapshot!(String::from_utf8(out).unwrap());
}

#[test]
fn malformed_input_ends_the_session() {
    // Invalid XML: an rpc-error, then the end.
    let mut s = open();
    let out =
        String::from_utf8(s.receive(Duration::ZERO, b"<rpc><command>show</rpc>]]>]]>")).unwrap();
    insta::assert_snapshot!("invalid_xml", out);
    assert!(s.is_closed());
    assert_eq!(s.stats().malformed, 1);

    // A bad chunk header.
    let mut s = session();
    s.receive(Duration::ZERO, HELLO_11.as_bytes());
    let out = String::from_utf8(s.receive(Duration::ZERO, b"\n#abc\n")).unwrap();
    insta::assert_snapshot!("bad_chunk", out);
    assert!(s.is_closed());
    assert_eq!(s.stats().framing_errors, 1);

    // A chunk announcing more than the limit: refused before its bytes arrive.
    let mut s = session();
    s.receive(Duration::ZERO, HELLO_11.as_bytes());
    s.receive(Duration::ZERO, b"\n#104857600\n");
    assert!(s.is_closed());
    assert_eq!(
        s.end_reason(),
        Some("framing error: message longer than the limit of 16777216 bytes")
    );

    // Truncated chunk, then end of input.
    let mut s = session();
    s.receive(Duration::ZERO, HELLO_11.as_bytes());
    assert!(s.receive(Duration::ZERO, b"\n#100\n<rpc>").is_empty());
    s.end_of_input();
    assert_eq!(
        s.end_reason(),
        Some("framing error: connection closed in the middle of a message (5 bytes pending)")
    );

    // A DTD (entity expansion) is refused.
    let mut s = open();
    s.receive(
        Duration::ZERO,
        b"<!DOCTYPE r [<!ENTITY a \"aaaa\">]><rpc>&a;</rpc>]]>]]>",
    );
    assert!(s.is_closed());

    // Not a hello first.
    let mut s = session();
    s.receive(Duration::ZERO, b"<rpc><close-session/></rpc>]]>]]>");
    assert_eq!(
        s.end_reason(),
        Some("expected <hello> from the client, got <rpc>")
    );

    // Deep nesting.
    let mut s = open();
    let deep = format!("{}{}]]>]]>", "<a>".repeat(100), "</a>".repeat(100));
    s.receive(Duration::ZERO, deep.as_bytes());
    assert!(s.is_closed());
}

/// `show configuration | display xml` read back by `<load-configuration>` (XML → `set`
/// lines) is the same configuration, for every example configuration.
#[test]
fn configuration_xml_round_trips() {
    for (name, text) in [
        ("testbed.conf", CONFIG),
        (
            "firewall-only.conf",
            include_str!("../../../docs/examples/firewall-only.conf"),
        ),
        (
            "testbed.set",
            include_str!("../../../docs/examples/testbed.set"),
        ),
        (
            "router.conf",
            include_str!("../../config/tests/data/router.conf"),
        ),
    ] {
        let cfg = mspic_config::parse(text, name).unwrap();
        let xml = mspic_config::display::xml_at(&cfg, &[]);
        let node = mspic_netconf::xml::parse(xml.as_bytes())
            .unwrap_or_else(|e| panic!("{name}: {e}\n{xml}"));
        let lines = mspic_netconf::config::set_lines(&node, false);
        let back =
            mspic_config::parse(&lines, name).unwrap_or_else(|e| panic!("{name}: {e}\n{lines}"));
        assert_eq!(
            mspic_config::display::set(&back),
            mspic_config::display::set(&cfg),
            "{name}"
        );
    }
}

/// Statements of one line with `low`/`high` words in Junos's XML form (each word pair a
/// child element, a flag an empty one — Junos XML API explorer, `range` under `port`): read
/// as one statement, and written back in the same form.
#[test]
fn range_statements_in_junos_xml() {
    let xml = "<configuration><services><nat><pool><name>p</name>\
        <address-range><low>192.0.2.1</low><high>192.0.2.9</high></address-range>\
        <port><range><low>2000</low><high>3000</high><random-allocation/></range></port>\
        </pool></nat></services></configuration>";
    let node = mspic_netconf::xml::parse(xml.as_bytes()).unwrap();
    let lines = mspic_netconf::config::set_lines(&node, false);
    assert_eq!(
        lines,
        "set services nat pool p address-range low 192.0.2.1 high 192.0.2.9\n\
         set services nat pool p port range low 2000 high 3000 random-allocation\n"
    );
    let cfg = mspic_config::parse(&lines, "p.set").unwrap_or_else(|e| panic!("{e}"));
    let out = mspic_config::display::xml_at(&cfg, &["services", "nat"]);
    let flat: String = out.split_whitespace().collect();
    assert!(
        flat.contains("<address-range><low>192.0.2.1</low><high>192.0.2.9</high></address-range>"),
        "{out}"
    );
    assert!(
        flat.contains("<range><low>2000</low><high>3000</high><random-allocation/></range>"),
        "{out}"
    );
}

/// `<load-configuration action=…>` in each format: which statements of the testbed's pool
/// `public` (address 203.0.113.128/25, port automatic) the candidate holds afterwards.
/// Junos: "Replace Elements in Configuration Data Using the Junos XML Protocol" (`replace:`
/// in text and `replace="replace"` in XML replace their hierarchy with action replace and
/// merge otherwise); `override` and `update` load a whole configuration.
#[test]
fn load_actions() {
    const OLD: &str = "set services nat pool public address 203.0.113.128/25";
    const PORT: &str = "set services nat pool public port automatic";
    const NEW: &str = "set services nat pool public address 198.51.100.0/28";
    const RANGE: &str = "set services nat pool public port range low 2000 high 3000";
    let text = |tag: &str| {
        format!(
            "<configuration-text>services {{ nat {{ {tag} pool public {{ address 198.51.100.0/28; \
             port {{ range low 2000 high 3000; }} }} }} }}</configuration-text>"
        )
    };
    let xml = |attr: &str| {
        format!(
            "<configuration><services><nat><pool {attr}><name>public</name>\
             <address><name>198.51.100.0/28</name></address><port><automatic/></port>\
             </pool></nat></services></configuration>"
        )
    };
    let set = format!("<configuration-set>{NEW}\n</configuration-set>");
    let whole = format!(
        "<configuration-text>{}</configuration-text>",
        CONFIG.replace("203.0.113.128/25", "198.51.100.0/28")
    );
    // Merged, the text's port range conflicts with `port automatic`: the load is refused.
    const CONFLICT: &[&str] = &[];
    let cases: Vec<(&str, String, &[&str])> = vec![
        ("merge", text(""), CONFLICT),
        ("merge", text("replace:"), CONFLICT),
        ("replace", text(""), CONFLICT),
        ("replace", text("replace:"), &[NEW, RANGE]),
        ("merge", xml("replace=\"replace\""), &[OLD, NEW, PORT]),
        ("replace", xml(""), &[OLD, NEW, PORT]),
        ("replace", xml("replace=\"replace\""), &[NEW, PORT]),
        ("merge", xml("operation=\"replace\""), &[NEW, PORT]),
        ("set", set.clone(), &[OLD, NEW, PORT]),
        ("replace", set, &[OLD, NEW, PORT]),
        ("override", whole.clone(), &[NEW, PORT]),
        ("update", whole, &[NEW, PORT]),
    ];
    for (action, body, want) in cases {
        let mut s = open();
        let reply = rpc(
            &mut s,
            &format!("<load-configuration action=\"{action}\">{body}</load-configuration>"),
        );
        if want.is_empty() {
            assert!(
                reply.contains("conflicting values for 'port'"),
                "{action} {body}: {reply}"
            );
            continue;
        }
        assert!(reply.contains("<ok/>"), "{action} {body}: {reply}");
        let got = rpc(&mut s, "<get-configuration format=\"set\"/>");
        let mut pool: Vec<&str> = got
            .lines()
            .filter(|l| l.starts_with("set services nat pool public "))
            .collect();
        pool.sort();
        let mut want = want.to_vec();
        want.sort();
        assert_eq!(pool, want, "{action} {body}");
    }
}

/// Time limits in virtual time: a message must be whole within 30 s of its first byte
/// however slowly it trickles in (an `<rpc-error>`, then the session ends); a session
/// with nothing under way ends after 600 s without a message.
#[test]
fn stalled_and_idle_sessions_end() {
    let s_ = Duration::from_secs;
    let mut s = open();
    assert_eq!(s.deadline(), Some(s_(600)));
    assert!(s.receive(s_(1), b"<rpc message-id=\"7\"><comm").is_empty());
    assert_eq!(s.deadline(), Some(s_(31)));
    for t in [10, 20, 30] {
        assert!(s.receive(s_(t), b"a").is_empty());
    }
    assert_eq!(s.deadline(), Some(s_(31)));
    assert!(s.tick(Duration::from_millis(30_999)).is_empty());
    assert!(!s.is_closed());
    let out = String::from_utf8(s.tick(s_(31))).unwrap();
    assert!(
        out.contains("<error-message>\nmessage not complete within 30s of its first byte\n"),
        "{out}"
    );
    assert!(s.is_closed());
    assert_eq!(s.deadline(), None);
    assert_eq!(
        s.end_reason(),
        Some("message not complete within 30s of its first byte")
    );
    assert_eq!(s.stats().timeouts, 1);
    // Bytes after the end are not read.
    assert!(s
        .receive(s_(32), b"mand>show</command></rpc>]]>]]>")
        .is_empty());

    // A whole message restarts the idle clock; idle ends without a reply.
    let mut s = open();
    let reply = s.receive(
        s_(100),
        b"<rpc message-id=\"8\"><command>show services sessions count</command></rpc>]]>]]>",
    );
    assert!(!reply.is_empty());
    assert_eq!(s.deadline(), Some(s_(700)));
    assert!(s.tick(s_(699)).is_empty());
    assert!(s.tick(s_(700)).is_empty());
    assert!(s.is_closed());
    assert_eq!(s.end_reason(), Some("no message for 600s"));

    // Before the client's hello, and with limits of its own.
    let mut s = session();
    s.set_timeouts(mspic_netconf::Timeouts {
        message: Duration::from_millis(500),
        idle: s_(2),
    });
    assert!(s.receive(s_(1), b"<hel").is_empty());
    assert_eq!(s.deadline(), Some(Duration::from_millis(1500)));
    assert!(s.tick(Duration::from_millis(1500)).is_empty());
    assert!(s.is_closed());
    assert_eq!(s.stats().timeouts, 1);

    // A deadline passed before late bytes arrive: the session ends, the bytes are not read.
    let mut s = open();
    let out = s.receive(
        s_(601),
        b"<rpc message-id=\"9\"><command>show</command></rpc>]]>]]>",
    );
    assert!(out.is_empty());
    assert!(s.is_closed());
    assert_eq!(s.stats().rpcs, 0);
}

/// An element as (name, attributes, text, children), namespaces left out: the shape two
/// replies are compared by.
fn shape(e: roxmltree::Node<'_, '_>) -> String {
    let mut attrs: Vec<String> = e
        .attributes()
        .map(|a| format!("{}={}", a.name(), a.value()))
        .collect();
    attrs.sort();
    let text: String = e
        .children()
        .filter_map(|c| c.is_text().then(|| c.text()).flatten())
        .collect();
    let children: Vec<String> = e.children().filter(|c| c.is_element()).map(shape).collect();
    format!(
        "<{} {}>{}{}</>",
        e.tag_name().name(),
        attrs.join(" "),
        text.trim(),
        children.join("")
    )
}

/// The answer elements of an `<rpc-reply>` (its `<cli>` banner left out), or the
/// `<rpc-error>` when it is one.
fn answers(reply: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(reply).unwrap_or_else(|e| panic!("{e}\n{reply}"));
    doc.root_element()
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() != "cli")
        .map(shape)
        .collect()
}

/// Every RPC of the Junos table (control's `RPCS`), sent bare over NETCONF, answers with
/// the same elements, attributes and values as `| display xml` of its command (read by a
/// real XML parser on both sides).
#[test]
fn every_rpc_answers_as_its_command_in_xml() {
    let mut s = open();
    for e in mspic_control::rpc::RPCS {
        let reply = rpc(&mut s, &format!("<{}/>", e.rpc));
        let got = answers(&reply);
        match s.daemon().command(&format!("{} | display xml", e.command)) {
            Ok(xml) => {
                let want = answers(&xml);
                // A command that prints nothing (a clear) answers `<ok/>` over NETCONF.
                let want = if want.is_empty() {
                    vec!["<ok ></>".to_string()]
                } else {
                    want
                };
                assert_eq!(got, want, "{} ({})", e.rpc, e.command)
            }
            Err(msg) => assert!(
                reply.contains("<rpc-error>") && got.iter().any(|a| a.starts_with("<rpc-error")),
                "{}: the command fails ({msg}), the RPC answered {reply}",
                e.rpc
            ),
        }
    }
}
