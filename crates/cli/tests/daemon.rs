//! `mspicd --offline` and `mspic` end to end, over a control socket in a temporary
//! directory. Answers through the socket must be byte for byte what the one renderer,
//! `mspic_control::execute`, gives on the same state.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mspic_control::protocol::{ResponseDecoder, ResponseEvent};
use mspic_offline::replay::{Replay, ReplayOptions};

const MSPICD: &str = env!("CARGO_BIN_EXE_mspicd");
const MSPIC: &str = env!("CARGO_BIN_EXE_mspic");

/// The example configuration, with devices that cannot exist on the test machine.
fn testbed() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/testbed.conf");
    fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .replace("device pin;", "device mspic-nodev0;")
        .replace("device pout;", "device mspic-nodev1;")
}

/// The same configuration with its services interface renamed.
fn testbed_ms2() -> String {
    testbed().replace("ms-1/1/0", "ms-2/0/0")
}

const BAD_CONFIG: &str = "interfaces {\n    ge-0/0/0 {\n        unit 0 { family inet { address 10.0.0.1/33; } }\n    }\n}\n";

/// What the renderer prints for `command` on an engine with `config` and no packets.
fn expected(config: &str, command: &str) -> String {
    let cfg = mspic_config::parse(config, "test.conf").expect("test config loads");
    let policy = Arc::new(mspic_flow::Policy::compile(&cfg).expect("test config compiles"));
    let mut engine = Replay::new(policy, &ReplayOptions::default()).unwrap();
    mspic_control::execute(command, &mut engine).expect("command succeeds")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

struct Daemon {
    child: Option<Child>,
    dir: tempfile::TempDir,
    socket: PathBuf,
    config: PathBuf,
    log: PathBuf,
}

impl Daemon {
    fn start(config: &str, extra: &[&str]) -> Daemon {
        let d = Daemon::spawn(config, extra);
        d.wait_ready();
        d
    }

    /// Starts mspicd without waiting for it.
    fn spawn(config: &str, extra: &[&str]) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("mspic.conf");
        fs::write(&config_path, config).unwrap();
        let socket = dir.path().join("run").join("mspicd.sock");
        let log = dir.path().join("mspicd.log");
        let child = Command::new(MSPICD)
            .arg("--offline")
            .arg("--config")
            .arg(&config_path)
            .arg("--socket")
            .arg(&socket)
            .args(extra)
            .env_remove("MSPIC_SOCKET")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .expect("mspicd starts");
        Daemon {
            child: Some(child),
            dir,
            socket,
            config: config_path,
            log,
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "mspicd did not come up; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
        let r = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(r, 0, "kill failed");
    }

    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut().unwrap();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(Instant::now() < deadline, "mspicd did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn mspic(&self, args: &[&str]) -> Output {
        mspic_at(&self.socket, args)
    }

    /// `mspic show WORDS…`, which must succeed; its stdout.
    fn show(&self, words: &str) -> String {
        let mut args = vec!["show"];
        args.extend(words.split(' '));
        let out = self.mspic(&args);
        assert!(
            out.status.success(),
            "mspic show {words} failed: {}\nlog:\n{}",
            text(&out.stderr),
            self.log()
        );
        text(&out.stdout)
    }

    /// Polls `show WORDS` until its output satisfies `ok`.
    fn show_until(&self, words: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.show(words);
            if ok(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "`show {words}` never matched; last:\n{s}\nlog:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends raw bytes and reads everything the daemon answers until it closes.
    fn raw(&self, bytes: &[u8]) -> Vec<ResponseEvent> {
        self.raw_with(bytes, false)
    }

    /// [`Daemon::raw`], closing our side after sending (the daemon then closes when it has
    /// answered every request).
    fn raw_then_close(&self, bytes: &[u8]) -> Vec<ResponseEvent> {
        self.raw_with(bytes, true)
    }

    fn raw_with(&self, bytes: &[u8], close: bool) -> Vec<ResponseEvent> {
        let mut s = UnixStream::connect(&self.socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(bytes).unwrap();
        if close {
            s.shutdown(std::net::Shutdown::Write).unwrap();
        }
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        let mut d = ResponseDecoder::new();
        d.push(&buf);
        let mut events = Vec::new();
        while let Ok(Some(e)) = d.decode() {
            events.push(e);
        }
        events
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn mspic_at(socket: &Path, args: &[&str]) -> Output {
    Command::new(MSPIC)
        .arg("--socket")
        .arg(socket)
        .args(args)
        .env_remove("MSPIC_SOCKET")
        .stdin(Stdio::null())
        .output()
        .expect("mspic runs")
}

fn mspic_with_stdin(socket: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(MSPIC)
        .arg("--socket")
        .arg(socket)
        .args(args)
        .env_remove("MSPIC_SOCKET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn show_commands_print_what_the_renderer_prints() {
    let d = Daemon::start(&testbed(), &[]);
    for cmd in [
        "services sessions",
        "services sessions extensive",
        "services sessions count",
        "services sessions | display xml",
        "services sessions count | display json",
        "services stateful-firewall statistics",
        "services stateful-firewall statistics extensive | display xml",
        "serv sess",
    ] {
        let want = expected(&testbed(), &format!("show {cmd}"));
        assert_eq!(d.show(cmd), want, "show {cmd}");
    }
    // The pipe as one quoted argument.
    let out = d.mspic(&["show", "services sessions count | display xml"]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout),
        expected(&testbed(), "show services sessions count | display xml")
    );
    assert!(text(&out.stdout).contains("<service-msp-sess-count-information>"));
    // The statistics name the configured services interface.
    assert!(d
        .show("services stateful-firewall statistics")
        .starts_with("Interface: ms-1/1/0\n"));
    // clear works on the empty table.
    let out = d.mspic(&["clear", "services", "sessions"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        expected(&testbed(), "clear services sessions")
    );
}

#[test]
fn bad_commands_get_the_junos_error_and_exit_1() {
    let d = Daemon::start(&testbed(), &[]);
    for (args, err) in [
        (
            vec!["show", "services", "sessions", "foo"],
            "error: syntax error: foo\n",
        ),
        (
            vec!["show", "services", "foo"],
            "error: syntax error, expecting <command>: foo\n",
        ),
        (
            vec!["show", "services", "sessions", "destination-port", "abc"],
            "error: invalid value 'abc' for destination-port (expected 0..65535)\n",
        ),
        (
            vec!["show", "services", "sessions", "|", "count", "3"],
            "error: syntax error: 3\n",
        ),
    ] {
        let out = d.mspic(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(text(&out.stderr), err, "{args:?}");
        assert_eq!(text(&out.stdout), "", "{args:?}");
    }
}

#[test]
fn commit_installs_a_good_configuration() {
    let d = Daemon::start(&testbed(), &[]);
    let file = d.dir.path().join("new.conf");
    fs::write(&file, testbed_ms2()).unwrap();
    let out = d.mspic(&["request", "commit", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "commit complete\n");
    assert!(d
        .show("services stateful-firewall statistics")
        .starts_with("Interface: ms-2/0/0\n"));
    let ping = text(&d.mspic(&["ping"]).stdout);
    assert!(ping.contains("configuration: "), "{ping}");
    assert!(ping.contains("new.conf (committed"), "{ping}");
    let set = d.show("configuration | display set");
    assert!(
        set.contains("set interfaces ms-2/0/0 unit 0 family inet"),
        "{set}"
    );
}

#[test]
fn commit_of_a_bad_configuration_is_refused_and_the_old_one_stays() {
    let d = Daemon::start(&testbed(), &[]);
    let file = d.dir.path().join("bad.conf");
    fs::write(&file, BAD_CONFIG).unwrap();
    let out = d.mspic(&["request", "commit", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let name = file.display().to_string();
    assert!(
        err.starts_with(&format!("{name}:3:40: error: invalid prefix '10.0.0.1/33'")),
        "{err}"
    );
    assert!(
        err.ends_with("error: configuration check-out failed\n"),
        "{err}"
    );
    assert_eq!(text(&out.stdout), "");
    assert!(d
        .show("services stateful-firewall statistics")
        .starts_with("Interface: ms-1/1/0\n"));
    // A file that cannot be read is the client's error.
    let out = d.mspic(&["request", "commit", "/nonexistent/mspic.conf"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read configuration /nonexistent/mspic.conf"));
}

#[test]
fn sighup_rereads_the_configuration_file() {
    let d = Daemon::start(&testbed(), &[]);
    fs::write(&d.config, testbed_ms2()).unwrap();
    d.signal(libc::SIGHUP);
    d.show_until("services stateful-firewall statistics", |s| {
        s.starts_with("Interface: ms-2/0/0\n")
    });
    // A bad file is refused on SIGHUP too: the running configuration stays.
    fs::write(&d.config, BAD_CONFIG).unwrap();
    d.signal(libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !d.log().contains("refused, the running one stays") {
        assert!(Instant::now() < deadline, "log:\n{}", d.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        d.log().contains(":3:40: error: invalid prefix"),
        "{}",
        d.log()
    );
    assert!(d
        .show("services stateful-firewall statistics")
        .starts_with("Interface: ms-2/0/0\n"));
}

#[test]
fn sigterm_exits_0_and_removes_the_socket() {
    let mut d = Daemon::start(&testbed(), &[]);
    let dir = d.socket.parent().unwrap().to_path_buf();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o750);
    assert_eq!(mode(&d.socket), 0o660);
    d.signal(libc::SIGTERM);
    let status = d.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status}; log:\n{}", d.log());
    assert!(!d.socket.exists());

    let mut d = Daemon::start(&testbed(), &[]);
    d.signal(libc::SIGINT);
    assert!(d.wait_exit(Duration::from_secs(10)).success());
    assert!(!d.socket.exists());
}

#[test]
fn the_cli_tells_how_to_start_a_missing_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("mspicd.sock");
    for args in [
        vec!["show", "services", "sessions"],
        vec!["clear", "services", "sessions"],
        vec!["ping"],
        vec!["cli"],
    ] {
        let out = mspic_at(&socket, &args);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            text(&out.stderr),
            format!(
                "mspic: cannot reach mspicd at {} (No such file or directory); start it with: mspicd --config FILE\n",
                socket.display()
            )
        );
        assert_eq!(text(&out.stdout), "");
    }
    // A socket file nobody listens on.
    drop(UnixListener::bind(&socket).unwrap());
    let out = mspic_at(&socket, &["show", "services", "sessions"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("(Connection refused); start it with: mspicd --config FILE"));
}

#[test]
fn cli_reads_commands_from_a_pipe() {
    let d = Daemon::start(&testbed(), &[]);
    let out = mspic_with_stdin(
        &d.socket,
        &["cli"],
        "show services sessions count\n\n# a comment\nshow services stateful-firewall statistics | display xml\nquit\nshow services sessions\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        expected(&testbed(), "show services sessions count")
            + &expected(
                &testbed(),
                "show services stateful-firewall statistics | display xml"
            )
    );
    // A transcript.
    let out = mspic_with_stdin(
        &d.socket,
        &["cli", "--echo"],
        "show services sessions count\nexit\n",
    );
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    let (first, rest) = stdout.split_once('\n').unwrap();
    assert!(
        first.contains('@') && first.ends_with("> show services sessions count"),
        "{stdout}"
    );
    assert_eq!(
        rest,
        expected(&testbed(), "show services sessions count")
            + &first.replace("show services sessions count", "exit")
            + "\n"
    );
    // An error is printed in place and makes the exit code 1; later commands still run.
    let file = d.dir.path().join("new.conf");
    fs::write(&file, testbed_ms2()).unwrap();
    let script = format!(
        "show services foo\nrequest commit {}\nshow services stateful-firewall statistics\n",
        file.display()
    );
    let out = mspic_with_stdin(&d.socket, &["cli"], &script);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(
            "error: syntax error, expecting <command>: foo\ncommit complete\nInterface: ms-2/0/0\n"
        ),
        "{stdout}"
    );
}

#[test]
fn a_replayed_capture_shows_the_same_sessions_as_mspic_replay() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("clients.pcap");
    let (trace, _) = mspic_tests::mixed_client_traffic(
        7,
        4,
        Duration::from_secs(30),
        mspic_tests::Sides::ClientOnly,
    );
    trace.write_pcap(&pcap).unwrap();
    let pcap_s = pcap.to_str().unwrap();
    let d = Daemon::start(
        &testbed(),
        &[
            "--replay-pcap",
            pcap_s,
            "--replay-respond",
            "--workers",
            "2",
        ],
    );
    let replay = |cmd: &str| {
        let out = Command::new(MSPIC)
            .args(["replay", "--config"])
            .arg(&d.config)
            .args(["--pcap", pcap_s, "--respond", "--workers", "2"])
            .args(["--command", cmd])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let sessions = d.show("services sessions");
    assert!(
        sessions.contains("Session: ") && sessions.contains("TCP "),
        "{sessions}"
    );
    for words in [
        "services sessions",
        "services sessions extensive",
        "services sessions count",
        "services sessions protocol udp | display xml",
        "services stateful-firewall statistics extensive",
        "services nat pool detail",
    ] {
        assert_eq!(
            d.show(words),
            replay(&format!("show {words}")),
            "show {words}"
        );
    }
    // A commit replays the capture under the new configuration: the sessions are there.
    let out = d.mspic(&["request", "commit", d.config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(d.show("services sessions"), sessions);
    // clear through the socket empties the table.
    let out = d.mspic(&["clear", "services", "sessions"]);
    assert!(out.status.success());
    assert_eq!(d.show("services sessions"), "");
}

#[test]
fn junos_release_travels_with_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("clients.pcap");
    let (trace, _) = mspic_tests::mixed_client_traffic(
        3,
        2,
        Duration::from_secs(10),
        mspic_tests::Sides::ClientOnly,
    );
    trace.write_pcap(&pcap).unwrap();
    let pcap_s = pcap.to_str().unwrap();
    let d = Daemon::start(&testbed(), &["--replay-pcap", pcap_s, "--replay-respond"]);
    let before = d.show("services sessions extensive");
    assert!(before.contains("\nSession: "), "{before}");
    assert!(!before.contains("Service Set: "), "{before}");

    let r17 = dir.path().join("r17.conf");
    fs::write(
        &r17,
        format!("{}\nemulator {{ junos-release 17.1; }}\n", testbed()),
    )
    .unwrap();
    let out = d.mspic(&["request", "commit", r17.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let after = d.show("services sessions extensive");
    assert!(after.contains("\nService Set: "), "{after}");
    assert!(after.contains(", Session timeout: "), "{after}");
    // mspic replay with the same file prints the same layout.
    let out = Command::new(MSPIC)
        .args(["replay", "--config"])
        .arg(&r17)
        .args(["--pcap", pcap_s, "--respond"])
        .args(["--command", "show services sessions extensive"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), after);

    // The services interfaces of the configuration, as mspic replay lists them too.
    let terse = d.show("interfaces terse");
    assert_eq!(
        terse,
        "Interface               Admin Link Proto    Local                 Remote\n\
         ms-1/1/0                up    up\n\
         ms-1/1/0.0              up    up   inet\n"
    );
    let out = Command::new(MSPIC)
        .args(["replay", "--config"])
        .arg(&r17)
        .args(["--pcap", pcap_s, "--command", "show interfaces terse"])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), terse);

    // Committing the file without the statement goes back to the reference layout.
    let out = d.mspic(&["request", "commit", d.config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(d.show("services sessions extensive"), before);
}

#[test]
fn bad_requests_are_answered_counted_and_dropped() {
    let d = Daemon::start(&testbed(), &["--request-timeout", "0.5"]);
    // Not our protocol at all.
    let ev = d.raw(b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(
        ev,
        vec![ResponseEvent::Error(
            "error: bad request: not an mspic control message (bad magic [47, 45])".into()
        )]
    );
    // A future protocol version.
    let ev = d.raw(b"MS\x09\x02\x00\x00\x00\x00");
    assert_eq!(
        ev,
        vec![ResponseEvent::Error(
            "error: bad request: protocol version 9 is not supported (this side speaks version 1)"
                .into()
        )]
    );
    // An oversized command, refused from its header.
    let ev = d.raw(b"MS\x01\x02\x7f\x00\x00\x00");
    assert!(
        matches!(&ev[..], [ResponseEvent::Error(e)] if e.contains("exceeds the limit of 65536 bytes")),
        "{ev:?}"
    );
    // A client that never finishes its request is dropped after the timeout.
    let started = Instant::now();
    let ev = d.raw(b"MS\x01\x02\x00\x00\x00\x20show serv");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        ev,
        vec![ResponseEvent::Error(
            "error: bad request: not complete within 0.5 s of its first byte".into()
        )]
    );
    // Several requests on one connection, answered in order.
    let mut wire =
        mspic_control::protocol::Request::Command("show services sessions count".into()).encode();
    wire.extend(mspic_control::protocol::Request::Command("show services foo".into()).encode());
    let ev = d.raw_then_close(&wire);
    assert_eq!(
        ev,
        vec![
            ResponseEvent::Text(expected(&testbed(), "show services sessions count").into_bytes()),
            ResponseEvent::Done,
            ResponseEvent::Error("error: syntax error, expecting <command>: foo".into()),
        ]
    );
    // The daemon still serves, and counted them.
    let ping = text(&d.mspic(&["ping"]).stdout);
    assert!(ping.contains(", 4 bad requests,"), "{ping}");
    assert!(ping.starts_with("mspicd "), "{ping}");
    assert!(ping.contains("engine: offline, 1 worker\n"), "{ping}");
}

#[test]
fn a_stale_socket_is_replaced_and_a_live_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("mspicd.sock");
    drop(UnixListener::bind(&socket).unwrap()); // left behind by a dead daemon
    let config = dir.path().join("mspic.conf");
    fs::write(&config, testbed()).unwrap();
    let mut first = Command::new(MSPICD)
        .args(["--offline", "--config"])
        .arg(&config)
        .arg("--socket")
        .arg(&socket)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !mspic_at(&socket, &["ping"]).status.success() {
        assert!(
            Instant::now() < deadline,
            "mspicd did not replace the stale socket"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = Command::new(MSPICD)
        .args(["--offline", "--config"])
        .arg(&config)
        .arg("--socket")
        .arg(&socket)
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    assert_eq!(
        text(&second.stderr),
        format!(
            "mspicd: another mspicd is already serving {} (stop it first, or choose another --socket)\n",
            socket.display()
        )
    );
    // The first one is unharmed.
    assert!(mspic_at(&socket, &["ping"]).status.success());
    let _ = first.kill();
    let _ = first.wait();
}

/// Runs mspicd to completion (a start that fails).
fn mspicd_fails(args: &[&str], config: &str) -> (String, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mspic.conf");
    fs::write(&file, config).unwrap();
    let socket = dir.path().join("mspicd.sock");
    let out = Command::new(MSPICD)
        .arg("--config")
        .arg(&file)
        .arg("--socket")
        .arg(&socket)
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!socket.exists(), "socket left behind");
    (text(&out.stderr), file)
}

#[test]
fn startup_errors_are_one_clear_line() {
    // Configuration errors: file:line:col, then why nothing started.
    let (err, file) = mspicd_fails(&["--offline"], BAD_CONFIG);
    let name = file.display().to_string();
    assert_eq!(
        err,
        format!(
            "{name}:3:40: error: invalid prefix '10.0.0.1/33' (expected an address or address/length, e.g. 10.0.0.0/24)\n\
             mspicd: configuration {name} has errors; not started\n"
        )
    );
    // A device that does not exist (live mode).
    let (err, _) = mspicd_fails(&[], &testbed());
    assert_eq!(
        err,
        "mspicd: emulator interface ge-0/0/0: network device 'mspic-nodev0' does not exist (see `ip link show`)\n"
    );
    // Nothing to attach to (live mode).
    let no_emulator = testbed();
    let no_emulator = &no_emulator[..no_emulator.find("emulator {").unwrap()];
    let (err, file) = mspicd_fails(&[], no_emulator);
    assert_eq!(
        err,
        format!(
            "mspicd: {}: no `emulator interface NAME device NETDEV` statement: no device to attach to (add one, or run with --offline)\n",
            file.display()
        )
    );
    // A missing capture.
    let (err, _) = mspicd_fails(
        &["--offline", "--replay-pcap", "/nonexistent.pcap"],
        &testbed(),
    );
    assert_eq!(
        err,
        "mspicd: cannot read /nonexistent.pcap: No such file or directory\n"
    );
}

#[test]
fn answers_larger_than_one_frame_stream_whole() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("many.pcap");
    let (trace, _) = mspic_tests::mixed_client_traffic(
        3,
        120,
        Duration::from_secs(40),
        mspic_tests::Sides::ClientOnly,
    );
    trace.write_pcap(&pcap).unwrap();
    let d = Daemon::start(
        &testbed(),
        &["--replay-pcap", pcap.to_str().unwrap(), "--replay-respond"],
    );
    let xml = d.show("services sessions extensive | display xml");
    assert!(
        xml.len() > mspic_control::protocol::MAX_CHUNK,
        "{} bytes fit one frame",
        xml.len()
    );
    let out = Command::new(MSPIC)
        .args(["replay", "--config"])
        .arg(&d.config)
        .arg("--pcap")
        .arg(&pcap)
        .args(["--respond", "--command"])
        .arg("show services sessions extensive | display xml")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(xml == text(&out.stdout), "the streamed answer differs");
}

#[test]
fn missing_capabilities_are_named() {
    // Drop every capability on the way in (needs setpriv, from util-linux).
    if Command::new("setpriv").arg("--version").output().is_err() {
        mspic_tests::testbed::skip_or_fail("setpriv is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mspic.conf");
    fs::write(
        &config,
        testbed()
            .replace("device mspic-nodev0;", "device lo;")
            .replace("interface ge-0/0/1 device mspic-nodev1;", ""),
    )
    .unwrap();
    let socket = dir.path().join("mspicd.sock");
    let out = Command::new("setpriv")
        .args(["--bounding-set=-all", "--inh-caps=-all", MSPICD, "--config"])
        .arg(&config)
        .arg("--socket")
        .arg(&socket)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "mspicd: missing CAP_NET_ADMIN, CAP_NET_RAW, CAP_BPF to attach XDP programs and open AF_XDP sockets: \
         run mspicd as root, or grant them with `setcap cap_net_admin,cap_net_raw,cap_bpf,cap_ipc_lock+ep mspicd`\n"
    );
    assert!(!socket.exists());
}

#[test]
fn pipes_help_and_configuration_at_the_cli() {
    let d = Daemon::start(&testbed(), &[]);
    let out = mspic_with_stdin(
        &d.socket,
        &["cli"],
        "show services nat pool detail | match \"pool|port\" | count\n\
         show services nat pool detail | except Port | last 2\n\
         show configuration services nat | display set | match pool\n\
         show configuration services service-set\n\
         show services sessions count | display xml rpc\n\
         show services nat ?\n\
         show services sessions | match (\n",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    insta::assert_snapshot!(text(&out.stdout));
    // The same pipes from the shell.
    let out = d.mspic(&["show", "services", "nat", "pool", "detail", "|", "count"]);
    assert_eq!(text(&out.stdout), "Count: 7 lines\n");
}

#[test]
fn completions_and_man_pages() {
    let out = Command::new(MSPIC)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("complete -F _mspic"));
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(MSPIC)
        .args(["man-pages", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = fs::read_to_string(dir.path().join("mspicd.1")).unwrap();
    assert!(page.contains(".TH mspicd"), "{page}");
    assert!(fs::read_to_string(dir.path().join("mspic.1"))
        .unwrap()
        .contains("netconf"));
}

/// `mspic netconf` over a pipe (the SSH subsystem without SSH): a NETCONF session with
/// RPCs answered from the running daemon, a commit through its reload.
#[test]
fn netconf_over_stdio() {
    let d = Daemon::start(&testbed(), &[]);
    let hello = "<hello xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\"><capabilities>\
                 <capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>]]>]]>";
    let rpcs = [
        "<rpc message-id=\"1\"><get-service-nat-pool-information/></rpc>",
        "<rpc message-id=\"2\"><command format=\"text\">show services nat pool | count</command></rpc>",
        "<rpc message-id=\"3\"><lock-configuration/></rpc>",
        "<rpc message-id=\"4\"><load-configuration action=\"set\" format=\"text\"><configuration-set>set services nat pool extra address 192.0.2.0/30</configuration-set></load-configuration></rpc>",
        "<rpc message-id=\"5\"><commit-configuration/></rpc>",
        "<rpc message-id=\"6\"><unlock-configuration/></rpc>",
        "<rpc message-id=\"7\"><close-session/></rpc>",
    ];
    let input = format!("{hello}{}]]>]]>", rpcs.join("]]>]]>"));
    let out = mspic_with_stdin(&d.socket, &["netconf"], &input);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let replies = text(&out.stdout);
    let pool_xml = expected(&testbed(), "show services nat pool | display xml");
    let root_start = pool_xml.find("<service-nat-pool-information>").unwrap();
    let root_end = pool_xml.find("</service-nat-pool-information>").unwrap();
    assert!(
        replies.contains(&pool_xml[root_start..root_end]),
        "{replies}\nvs\n{pool_xml}"
    );
    assert!(
        replies.contains("<output>\nCount: 4 lines\n</output>"),
        "{replies}"
    );
    assert!(replies.contains("<commit-success/>"), "{replies}");
    assert_eq!(replies.matches("<ok/>").count(), 4, "{replies}");
    let running = d.mspic(&["show", "configuration", "services", "nat", "pool", "extra"]);
    assert_eq!(text(&running.stdout), "address 192.0.2.0/30;\n");
    // The lock file went with the lock.
    let lock = format!("{}.netconf-lock", d.socket.display());
    assert!(!Path::new(&lock).exists());
}

/// `mspic cli` on a terminal (util-linux `script` makes one): Tab completes a keyword, `?`
/// lists what may follow and gives the line back, Enter runs it.
#[test]
fn tab_and_question_mark_on_a_terminal() {
    if Command::new("script").arg("--version").output().is_err() {
        // util-linux is in the deps list; without it there is no terminal to test on.
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("`script` (util-linux) is missing under CI=true");
        }
        eprintln!("SKIPPED: `script` (util-linux) is missing");
        return;
    }
    let d = Daemon::start(&testbed(), &[]);
    let cmd = format!("{MSPIC} --socket {} cli", d.socket.display());
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    let wait_for = |needle: &str, seen: &mut String| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !seen.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(b) => seen.push_str(&String::from_utf8_lossy(&b)),
                Err(_) => panic!("no `{needle}` on the terminal:\n{seen}"),
            }
        }
    };
    let mut stdin = child.stdin.take().unwrap();
    wait_for("> ", &mut seen);
    stdin.write_all(b"sh serv nat p\t").unwrap();
    wait_for("sh serv nat pool ", &mut seen);
    stdin.write_all(b"?").unwrap();
    wait_for("Display detailed output", &mut seen);
    // The line comes back after the help; finish it and run it.
    stdin.write_all(b"detail\r").unwrap();
    wait_for("Ports in use:", &mut seen);
    stdin.write_all(b"exit\r").unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success(), "{seen}");
}
