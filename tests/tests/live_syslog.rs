//! Session and NAT logs of a live mspicd received by a real rsyslogd (an imudp input and an
//! omfile output, run in the server namespace and stopped by PID), for a download through
//! the PIC (Junos system log reference texts):
//! - napt-44 with `syslog` on the NAT term and a `syslog host` on the service set:
//!   JSERVICES_NAT_RULE_MATCH, JSERVICES_SESSION_OPEN and JSERVICES_SESSION_CLOSE with the
//!   right addresses and ports; a second `host local` puts the open in the daemon's log;
//! - secured port block allocation: JSERVICES_NAT_PORT_BLOCK_ALLOC for the subscriber's
//!   block before the session's OPEN, whose port lies in that block;
//! - interim logging of that block (`interim-logging-interval`):
//!   JSERVICES_NAT_PORT_BLOCK_ACTIVE while a session holds one of its ports;
//! - deterministic NAPT44: the reverse lookup of the logged public address and port names
//!   the client that made the session.
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
    with_syslog(&repo_file("docs/examples/testbed.conf"))
}

/// `base` (testbed.conf or one of its NAT variants) with `syslog` on the NAT term and a
/// collector plus `host local` on the set.
fn with_syslog(base: &str) -> String {
    let c = base.replacen(
        "44;\n                        }\n                    }\n",
        "44;\n                        }\n                    }\n                    syslog;\n",
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

/// Starts rsyslogd in the server namespace, listening on the management link; the file it
/// writes every message to.
fn start_collector(live: &mut Live) -> std::path::PathBuf {
    management_link(live);
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
    file
}

/// Serves a 256 KiB file over HTTP from the server and downloads it from the client's
/// port [`CLIENT_PORT`] through the PIC.
fn download(live: &mut Live) {
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
}

/// The collector's SESSION_OPEN line of the download and the translated source it names
/// (`ADDRESS:PORT`).
fn logged_open(live: &Live, file: &std::path::Path) -> (String, String) {
    let from = format!("10.0.0.2:{CLIENT_PORT}");
    let to = format!("-> {REMOTE_SERVER}:80");
    let open = wait_line(file, "JSERVICES_SESSION_OPEN", Duration::from_secs(30))
        .unwrap_or_else(|| panic!("no SESSION_OPEN:\n{}", live.log()));
    let prefix = format!("{{ss}}[jservices-nat]: JSERVICES_SESSION_OPEN: application:none, ge-0/0/0.0 {from} [203.0.113.");
    assert!(
        open.starts_with("<30>") && open.contains(&format!("MSPIC{prefix}")),
        "{open}"
    );
    assert!(open.ends_with(&format!("] {to} (TCP)")), "{open}");
    let nat = open
        .split('[')
        .nth(2)
        .and_then(|s| s.split(']').next())
        .unwrap()
        .to_string();
    assert!(nat.starts_with("203.0.113."), "{open}");
    (open, nat)
}

/// The collector's SESSION_CLOSE line of the download, once the session has closed.
fn logged_close(file: &std::path::Path, nat: &str) {
    let close =
        wait_line(file, "JSERVICES_SESSION_CLOSE", Duration::from_secs(30)).unwrap_or_else(|| {
            panic!(
                "no SESSION_CLOSE:\n{}",
                std::fs::read_to_string(file).unwrap_or_default()
            )
        });
    assert!(
        close.ends_with(&format!(
            "ge-0/0/0.0 10.0.0.2:{CLIENT_PORT} [{nat}] -> {REMOTE_SERVER}:80 (TCP)"
        )),
        "{close}"
    );
}

#[test]
fn download_through_napt_is_logged_to_rsyslog() {
    if let Some(why) = skip_reason() {
        testbed::skip_or_fail(&why);
        return;
    }
    let mut live = Live::start(&config(), 1);
    let file = start_collector(&mut live);
    download(&mut live);
    let from = format!("10.0.0.2:{CLIENT_PORT}");
    let to = format!("-> {REMOTE_SERVER}:80");
    let (_, nat) = logged_open(&live, &file);
    let rule = wait_line(&file, "JSERVICES_NAT_RULE_MATCH", Duration::from_secs(30)).unwrap();
    assert!(
        rule.ends_with(&format!(
            "JSERVICES_NAT_RULE_MATCH: proto 6 (TCP) application: any, ge-0/0/0.0:{from} {to}, Match NAT rule-set: (null), rule: snat, term: t1"
        )),
        "{rule}"
    );
    // The session closes after its FINs (close timeout) and is logged with the same tuple.
    logged_close(&file, &nat);
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

/// testbed.conf with its pool's ports as `port` (the pool block of the configuration).
fn with_pool_port(port: &str) -> String {
    let c = repo_file("docs/examples/testbed.conf");
    let auto = "port {\n                automatic;\n            }";
    assert!(c.contains(auto), "the pool of testbed.conf changed");
    c.replacen(auto, port, 1)
}

/// Secured port block allocation (blocks of 128 from port 1024): the subscriber's first
/// session takes block 1024-1151 of the first pool address. The collector gets
/// JSERVICES_NAT_PORT_BLOCK_ALLOC for it before the session's OPEN, whose translated port
/// lies in the block, and the CLOSE.
#[test]
fn port_block_of_a_download_is_logged_to_rsyslog() {
    if let Some(why) = skip_reason() {
        testbed::skip_or_fail(&why);
        return;
    }
    let conf = with_syslog(&with_pool_port(
        "port {\n                range low 1024 high 65535;\n                secured-port-block-allocation block-size 128 max-blocks-per-address 4 active-block-timeout 300;\n            }",
    ));
    let mut live = Live::start(&conf, 1);
    let file = start_collector(&mut live);
    download(&mut live);
    let (open, nat) = logged_open(&live, &file);
    let alloc = wait_line(
        &file,
        "JSERVICES_NAT_PORT_BLOCK_ALLOC",
        Duration::from_secs(30),
    )
    .unwrap_or_else(|| {
        panic!(
            "no PORT_BLOCK_ALLOC:\n{}\n{}\n{}",
            std::fs::read_to_string(&file).unwrap_or_default(),
            live.show("show services nat pool detail"),
            live.log()
        )
    });
    assert!(
        alloc.contains("{ss}[jservices-nat]: JSERVICES_NAT_PORT_BLOCK_ALLOC: 10.0.0.2 -> 203.0.113.128:1024-1151, 0x"),
        "{alloc}"
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let (a, o) = (text.find(&alloc).unwrap(), text.find(&open).unwrap());
    assert!(
        a < o,
        "the block is logged after the session it serves:\n{text}"
    );
    let port: u16 = nat.rsplit(':').next().unwrap().parse().unwrap();
    assert!(
        nat.starts_with("203.0.113.128:") && (1024..=1151).contains(&port),
        "{open}"
    );
    logged_close(&file, &nat);
}

/// Interim logging (Junos "Interim Logging for Secured Port Block Allocation", pool
/// `interim-logging-interval 2`): while a ping's session (30 s timeout) holds a port of
/// the subscriber's block, the collector gets JSERVICES_NAT_PORT_BLOCK_ACTIVE for the
/// block, after its ALLOC.
#[test]
fn active_port_block_is_logged_again_to_rsyslog() {
    if let Some(why) = skip_reason() {
        testbed::skip_or_fail(&why);
        return;
    }
    let conf = with_syslog(&with_pool_port(
        "port {\n                range low 1024 high 65535;\n                secured-port-block-allocation block-size 128 interim-logging-interval 2;\n            }",
    ));
    let mut live = Live::start(&conf, 1);
    let file = start_collector(&mut live);
    let ping = live.ping_id(1, Some(0x4b01));
    assert!(ping.status.success(), "{}", live.log());
    let block = "{ss}[jservices-nat]: JSERVICES_NAT_PORT_BLOCK_ACTIVE: 10.0.0.2 -> 203.0.113.128:1024-1151, 0x";
    let active = wait_line(&file, block, Duration::from_secs(20)).unwrap_or_else(|| {
        panic!(
            "no PORT_BLOCK_ACTIVE:\n{}\n{}",
            std::fs::read_to_string(&file).unwrap_or_default(),
            live.log()
        )
    });
    let text = std::fs::read_to_string(&file).unwrap();
    let alloc = text
        .find("JSERVICES_NAT_PORT_BLOCK_ALLOC: 10.0.0.2 -> 203.0.113.128:1024-1151")
        .unwrap_or_else(|| panic!("no ALLOC:\n{text}"));
    assert!(alloc < text.find(&active).unwrap(), "{text}");
}

/// Deterministic NAPT44 (docs/examples/deterministic.conf): the translated source the
/// collector logged for the download is, by `show services nat deterministic-nat
/// internal-host ADDRESS port P` (the lookup an operator runs on a logged or reported
/// public address and port), the client that made it.
#[test]
fn deterministic_reverse_lookup_names_the_logged_subscriber() {
    if let Some(why) = skip_reason() {
        testbed::skip_or_fail(&why);
        return;
    }
    let conf = with_syslog(&repo_file("docs/examples/deterministic.conf"));
    let mut live = Live::start(&conf, 1);
    let file = start_collector(&mut live);
    download(&mut live);
    let (_, nat) = logged_open(&live, &file);
    let (addr, port) = nat.split_once(':').unwrap();
    let who = live.show(&format!(
        "show services nat deterministic-nat internal-host {addr} port {port}"
    ));
    assert!(who.contains("Internal host: 10.0.0.2, NAT IP: "), "{who}");
    assert!(who.contains(&format!("NAT IP: {addr}, ")), "{who}");
}
