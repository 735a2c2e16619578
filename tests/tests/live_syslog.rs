//! Session and NAT logs of a live mspicd received by a real rsyslogd: a download through
//! napt-44 with `syslog` on the NAT term and a `syslog host` on the service set; the
//! collector (rsyslogd with an imudp input and an omfile output, run in the server
//! namespace by PID and stopped by PID) must write the JSERVICES_NAT_RULE_MATCH,
//! JSERVICES_SESSION_OPEN and JSERVICES_SESSION_CLOSE lines (Junos system log reference)
//! with the right addresses and ports; a second `host local` puts the open in the daemon's
//! log.
//!
//! The PIC sends its logs through its namespace's kernel stack, over a management link to
//! the server namespace made here (192.0.2.1/30 ↔ 192.0.2.2/30), as a PIC's syslog leaves
//! by its own address. Needs root; under `CI=true` a missing rsyslogd fails the test.

use std::process::Command;
use std::time::Duration;

use mspic_tests::live::{repo_file, Live};
use mspic_tests::testbed::{self, Role, REMOTE_SERVER};

const COLLECTOR: &str = "192.0.2.2";
const PORT: u16 = 5514;
const CLIENT_PORT: &str = "40123";

fn skip_reason() -> Option<String> {
    if let Some(r) = testbed::unavailable() {
        return Some(r);
    }
    if Command::new("rsyslogd").arg("-v").output().is_err() {
        return Some("rsyslogd is not installed; run `cargo xtask deps`".into());
    }
    mspic_dataplane::xdp::kernel_lacks_feature()
}

/// The testbed configuration with `syslog` on the NAT term and a collector on the set.
fn config() -> String {
    let c = repo_file("docs/examples/testbed.conf");
    let c = c.replacen(
        "                            napt-44;\n                        }\n                    }\n",
        "                            napt-44;\n                        }\n                    }\n                    syslog;\n",
        1,
    );
    let host = format!(
        "    service-set ss {{\n        syslog {{\n            host {COLLECTOR} {{\n                services any;\n                class {{\n                    session-logs;\n                    nat-logs;\n                }}\n                port {PORT};\n                log-prefix MSPIC;\n            }}\n            host local {{\n                class {{\n                    session-logs open;\n                }}\n            }}\n        }}\n"
    );
    let c = c.replacen("    service-set ss {\n", &host, 1);
    assert!(
        c.contains("syslog;") && c.contains("log-prefix MSPIC"),
        "{c}"
    );
    c
}

/// rsyslogd's own configuration: UDP in, every message as received out to `file`.
fn rsyslog_conf(dir: &std::path::Path, file: &std::path::Path) -> String {
    format!(
        r#"global(workDirectory="{dir}")
module(load="imudp")
input(type="imudp" address="{COLLECTOR}" port="{PORT}")
template(name="raw" type="string" string="%rawmsg%\n")
*.* action(type="omfile" file="{file}" template="raw")
"#,
        dir = dir.display(),
        file = file.display()
    )
}

/// A management link between the PIC and server namespaces.
fn management_link(live: &Live) {
    let (pic, sv) = (live.tb.ns(Role::Pic), live.tb.ns(Role::Server));
    let ip = |args: &[&str]| {
        let out = Command::new("ip").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ip(&[
        "link", "add", "mg0", "netns", &pic, "type", "veth", "peer", "name", "mg1", "netns", &sv,
    ]);
    ip(&["-n", &pic, "addr", "add", "192.0.2.1/30", "dev", "mg0"]);
    ip(&["-n", &sv, "addr", "add", "192.0.2.2/30", "dev", "mg1"]);
    ip(&["-n", &pic, "link", "set", "mg0", "up"]);
    ip(&["-n", &sv, "link", "set", "mg1", "up"]);
}

/// The first line of the collector's file with `needle`, waiting at most `timeout`.
fn wait_line(file: &std::path::Path, needle: &str, timeout: Duration) -> Option<String> {
    let mut found = None;
    testbed::wait_for(timeout, || {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        found = text
            .lines()
            .find(|l| l.contains(needle))
            .map(str::to_string);
        found.is_some()
    });
    found
}

#[test]
fn download_through_napt_is_logged_to_rsyslog() {
    if let Some(why) = skip_reason() {
        testbed::skip_or_fail(&why);
        return;
    }
    let mut live = Live::start(&config(), 1);
    management_link(&live);
    let spool = live.dir.path("rsyslog");
    std::fs::create_dir_all(&spool).unwrap();
    let file = live.dir.path("collected.log");
    let conf = live.dir.path("rsyslog.conf");
    std::fs::write(&conf, rsyslog_conf(&spool, &file)).unwrap();
    let pid = live.dir.path("rsyslogd.pid");
    live.serve(
        "rsyslogd",
        "rsyslogd",
        &[
            "-n",
            "-f",
            conf.to_str().unwrap(),
            "-i",
            pid.to_str().unwrap(),
        ],
    );
    live.wait_listening("udp", PORT);
    let www = live.dir.path("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("file.bin"), vec![7u8; 256 * 1024]).unwrap();
    live.serve(
        "http",
        "python3",
        &[
            "-m",
            "http.server",
            "80",
            "--bind",
            REMOTE_SERVER,
            "--directory",
            www.to_str().unwrap(),
        ],
    );
    live.wait_listening("tcp", 80);

    let got = live.dir.path("got.bin");
    let url = format!("http://{REMOTE_SERVER}/file.bin");
    let curl = live.exec(
        Role::Client,
        "curl",
        &[
            "-sS",
            "--max-time",
            "30",
            "--local-port",
            CLIENT_PORT,
            "-o",
            got.to_str().unwrap(),
            &url,
        ],
    );
    assert!(
        curl.status.success(),
        "curl: {}\n{}",
        String::from_utf8_lossy(&curl.stderr),
        live.log()
    );
    assert_eq!(std::fs::metadata(&got).unwrap().len(), 256 * 1024);

    let from = format!("10.0.0.2:{CLIENT_PORT}");
    let to = format!("-> {REMOTE_SERVER}:80");
    let wait = Duration::from_secs(30);
    let open = wait_line(&file, "JSERVICES_SESSION_OPEN", wait)
        .unwrap_or_else(|| panic!("no SESSION_OPEN:\n{}", live.log()));
    let prefix = format!("{{ss}}[jservices-nat]: JSERVICES_SESSION_OPEN: application:none, ge-0/0/0.0 {from} [203.0.113.");
    assert!(
        open.starts_with("<30>") && open.contains(&format!("MSPIC{prefix}")),
        "{open}"
    );
    assert!(open.ends_with(&format!("] {to} (TCP)")), "{open}");
    // The translated source, as the session shows it.
    let nat = open
        .split('[')
        .nth(2)
        .and_then(|s| s.split(']').next())
        .unwrap()
        .to_string();
    assert!(nat.starts_with("203.0.113."), "{open}");
    let rule = wait_line(&file, "JSERVICES_NAT_RULE_MATCH", wait).unwrap();
    assert!(
        rule.ends_with(&format!(
            "JSERVICES_NAT_RULE_MATCH: proto 6 (TCP) application: any, ge-0/0/0.0:{from} {to}, Match NAT rule-set: (null), rule: snat, term: t1"
        )),
        "{rule}"
    );
    // The session closes after its FINs (close timeout) and is logged with the same tuple.
    let close = wait_line(&file, "JSERVICES_SESSION_CLOSE", wait).unwrap_or_else(|| {
        panic!(
            "no SESSION_CLOSE:\n{}",
            std::fs::read_to_string(&file).unwrap_or_default()
        )
    });
    assert!(
        close.ends_with(&format!("ge-0/0/0.0 {from} [{nat}] {to} (TCP)")),
        "{close}"
    );
    // `host local`: the routing engine's log is the daemon's own.
    live.wait_log(
        &format!("JSERVICES_SESSION_OPEN: application:none, ge-0/0/0.0 {from} [{nat}]"),
        1,
    );
    // Three lines to the collector, one to the local log.
    let stats = live.show("show services service-sets statistics syslog");
    assert!(
        stats.contains("  Service-set: ss\n    Rate limit: 0\n    Sent: 4\n    Dropped: 0\n"),
        "{stats}"
    );
}
