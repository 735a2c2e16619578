//! Hostile inputs and clients, against the real binaries: endless or oversized files,
//! configurations that are not UTF-8, and connections that never send a whole request.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

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

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `cmd` to completion; fails the test if it takes `limit` or longer.
fn run_within(mut cmd: Command, limit: Duration) -> (Output, Duration) {
    let t = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("MSPIC_SOCKET")
        .spawn()
        .expect("starts");
    // Wait for the exit, killing it at 10 s so a hang fails instead of blocking the suite.
    let hard = t + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > hard {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    let took = t.elapsed();
    assert!(
        took < limit,
        "{cmd:?} took {took:?}; stderr:\n{}",
        text(&out.stderr)
    );
    (out, took)
}

fn mspic(args: &[&str]) -> Command {
    let mut c = Command::new(MSPIC);
    c.args(args);
    c
}

/// A directory with `good.conf` (the testbed) and `latin1.conf` (an invalid byte on line 3,
/// column 12).
fn files() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("good.conf"), testbed()).unwrap();
    let mut bad = b"# caf\xc3\xa9 config\ninterfaces {\n    # Caf\xe9 du Commerce\n}\n".to_vec();
    bad.extend_from_slice(testbed().as_bytes());
    fs::write(dir.path().join("latin1.conf"), bad).unwrap();
    dir
}

fn p(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).display().to_string()
}

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn dev_zero_as_a_configuration_is_refused_within_a_second() {
    let limit = format!(
        "configuration /dev/zero is larger than {} bytes, the limit; not read",
        mspic_cli::input::MAX_CONFIG
    );
    let (out, _) = run_within(mspic(&["check", "/dev/zero"]), SECOND);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains(&limit), "{}", text(&out.stderr));

    let dir = files();
    let (out, _) = run_within(
        mspic(&["replay", "--config", "/dev/zero", "--pcap", "/dev/zero"]),
        SECOND,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains(&limit), "{}", text(&out.stderr));

    let mut d = Command::new(MSPICD);
    d.args(["--offline", "--config", "/dev/zero", "--socket"])
        .arg(dir.path().join("s.sock"));
    let (out, _) = run_within(d, SECOND);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), format!("mspicd: {limit}\n"));
}

#[test]
fn dev_zero_as_a_capture_is_refused_within_a_second() {
    let dir = files();
    let want = "/dev/zero: not a usable capture: at byte offset 0: not a pcap or pcapng file (magic 0x00000000)";
    let (out, _) = run_within(
        mspic(&[
            "replay",
            "--config",
            &p(&dir, "good.conf"),
            "--pcap",
            "/dev/zero",
        ]),
        SECOND,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), format!("mspic: {want}\n"));

    let mut d = Command::new(MSPICD);
    d.args(["--offline", "--config", &p(&dir, "good.conf")])
        .args(["--replay-pcap", "/dev/zero", "--socket"])
        .arg(dir.path().join("s.sock"));
    let (out, _) = run_within(d, SECOND);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).ends_with(&format!("mspicd: {want}\n")),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn invalid_utf8_in_a_configuration_names_line_and_column() {
    let dir = files();
    let want = format!("{}:3:10: error: invalid UTF-8\n", p(&dir, "latin1.conf"));
    let (out, _) = run_within(mspic(&["check", &p(&dir, "latin1.conf")]), SECOND);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), want);
    assert_eq!(text(&out.stdout), "error: configuration check-out failed\n");

    let mut d = Command::new(MSPICD);
    d.args(["--offline", "--config", &p(&dir, "latin1.conf"), "--socket"])
        .arg(dir.path().join("s.sock"));
    let (out, _) = run_within(d, SECOND);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with(&want),
        "{}",
        text(&out.stderr)
    );
}

/// `mspicd --offline` on the testbed configuration, stopped when dropped.
struct Daemon {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Daemon {
    fn start() -> Daemon {
        let dir = files();
        let socket = dir.path().join("run").join("mspicd.sock");
        let child = Command::new(MSPICD)
            .args(["--offline", "--config", &p(&dir, "good.conf"), "--socket"])
            .arg(&socket)
            .env_remove("MSPIC_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mspicd starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while UnixStream::connect(&socket).is_err() {
            assert!(Instant::now() < deadline, "mspicd did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        Daemon {
            child,
            socket,
            _dir: dir,
        }
    }

    fn mspic(&self, args: &[&str]) -> Command {
        let mut c = Command::new(MSPIC);
        c.arg("--socket").arg(&self.socket).args(args);
        c
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn committing_dev_zero_or_invalid_utf8_is_refused_and_the_daemon_answers() {
    let d = Daemon::start();
    let dir = files();
    let (out, _) = run_within(d.mspic(&["request", "commit", "/dev/zero"]), SECOND);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("configuration /dev/zero is larger than"),
        "{}",
        text(&out.stderr)
    );
    let (out, _) = run_within(
        d.mspic(&["request", "commit", &p(&dir, "latin1.conf")]),
        SECOND,
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "mspic: {}:3:10: error: invalid UTF-8\n",
            p(&dir, "latin1.conf")
        )
    );
    let (out, _) = run_within(d.mspic(&["show", "services", "sessions", "count"]), SECOND);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// One of the attacker's connections: nothing sent, part of a header, or a header and part
/// of the payload. It never completes a request.
fn half_open(socket: &Path, k: usize) -> UnixStream {
    let mut s = UnixStream::connect(socket).expect("connect");
    let req = mspic_control::protocol::Request::Command("show services sessions".into()).encode();
    let sent = match k % 3 {
        0 => 0,
        1 => 3,
        _ => req.len() - 4,
    };
    let _ = s.write_all(&req[..sent]);
    s.set_nonblocking(true).unwrap();
    s
}

/// Has the daemon closed `s` (end of stream or an error frame waiting)?
fn closed_by_daemon(s: &mut UnixStream) -> bool {
    let mut buf = [0u8; 256];
    !matches!(s.read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

#[test]
fn half_open_connections_do_not_starve_commands() {
    let d = Daemon::start();
    const HELD: usize = 200;
    let mut held: Vec<UnixStream> = (0..HELD).map(|k| half_open(&d.socket, k)).collect();
    let mut reopened = 0;
    for round in 0..20 {
        // The attacker opens again every connection the daemon closed.
        for (k, s) in held.iter_mut().enumerate() {
            if closed_by_daemon(s) {
                *s = half_open(&d.socket, k);
                reopened += 1;
            }
        }
        let (out, took) = run_within(d.mspic(&["show", "services", "sessions", "count"]), SECOND);
        assert!(
            out.status.success(),
            "round {round} after {took:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stdout).contains("Sessions count"),
            "{}",
            text(&out.stdout)
        );
    }
    assert!(
        reopened >= HELD - 16,
        "only {reopened} connections were closed"
    );
    let (out, _) = run_within(d.mspic(&["ping"]), SECOND);
    let ping = text(&out.stdout);
    assert!(
        ping.contains(" pending connections closed for others"),
        "{ping}"
    );
    drop(held);
}

/// `mspic netconf` (the SSH subsystem) whose client sends its hello and half an RPC, then
/// stalls with the connection open: the session ends with an `<rpc-error>` once the
/// message deadline (1 s here, from the RPC's first byte) has passed, and mspicd answers
/// on.
#[test]
fn a_stalled_netconf_message_ends_the_session_at_its_deadline() {
    let d = Daemon::start();
    let t = Instant::now();
    let mut child = d
        .mspic(&["netconf", "--message-timeout", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mspic netconf starts");
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(
            b"<hello xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\"><capabilities>\
              <capability>urn:ietf:params:netconf:base:1.0</capability></capabilities>\
              </hello>]]>]]><rpc message-id=\"1\"><command>show serv",
        )
        .unwrap();
    stdin.flush().unwrap();
    // stdin stays open: only the deadline can end the session. Wait for the exit (killed
    // at 10 s so a hang fails).
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = t.elapsed();
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(took >= Duration::from_secs(1), "ended after {took:?}");
    assert!(took < Duration::from_secs(5), "ended after {took:?}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stdout.contains("<error-message>\nmessage not complete within 1s of its first byte\n"),
        "{stdout}"
    );
    assert!(
        stderr.starts_with(
            "mspic netconf: session ended: message not complete within 1s of its first byte ("
        ),
        "{stderr}"
    );
    assert!(stderr.contains(", 1 timeouts)"), "{stderr}");
    let (shown, _) = run_within(d.mspic(&["show", "services", "sessions", "count"]), SECOND);
    assert!(shown.status.success(), "{}", text(&shown.stderr));
}

/// `mspic netconf` whose client sends its hello and one whole RPC, then nothing with the
/// connection open: the RPC is answered, and the session ends once the idle limit (1 s
/// here) has passed since that message (so at least 1 s after it was sent), on the real
/// clock; no RPC is under way, so it ends without an `<rpc-error>`.
#[test]
fn an_idle_netconf_session_ends_at_its_idle_limit() {
    let d = Daemon::start();
    let mut child = d
        .mspic(&["netconf", "--idle-timeout", "1", "--message-timeout", "30"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mspic netconf starts");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    // Collect stdout on a thread, noting when the RPC's reply (the second message) is in.
    let reader = std::thread::spawn(move || {
        let (mut all, mut buf, mut replied) = (Vec::new(), [0u8; 4096], None);
        while let Ok(n @ 1..) = stdout.read(&mut buf) {
            all.extend_from_slice(&buf[..n]);
            if replied.is_none() && text(&all).matches("]]>]]>").count() >= 2 {
                replied = Some(Instant::now());
            }
        }
        (all, replied)
    });
    let sent = Instant::now();
    stdin
        .write_all(
            b"<hello xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\"><capabilities>\
              <capability>urn:ietf:params:netconf:base:1.0</capability></capabilities>\
              </hello>]]>]]><rpc message-id=\"1\"><command>show services sessions count\
              </command></rpc>]]>]]>",
        )
        .unwrap();
    stdin.flush().unwrap();
    // stdin stays open: only the idle limit can end the session (killed at 10 s so a hang
    // fails).
    while child.try_wait().unwrap().is_none() {
        if sent.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let ended = Instant::now();
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    let (stdout, replied) = reader.join().unwrap();
    let (stdout, stderr) = (text(&stdout), text(&out.stderr));
    // The reply came before the end; the idle clock started when the RPC was read,
    // after it was written at `sent` (the reply reaches this thread a little later still).
    let replied = replied.unwrap_or_else(|| panic!("no reply to the RPC:\n{stdout}"));
    assert!(replied <= ended);
    assert!(
        stdout.contains("message-id=\"1\">\n<service-msp-sess-count-information>"),
        "{stdout}"
    );
    assert!(
        ended - sent >= SECOND,
        "ended {:?} after the RPC was sent",
        ended - sent
    );
    assert!(
        ended - sent < Duration::from_secs(5),
        "ended after {:?}",
        ended - sent
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // No RPC is under way, so nothing follows the reply (the end is on stderr).
    assert!(stdout.ends_with("</rpc-reply>\n]]>]]>"), "{stdout}");
    assert!(
        stderr.starts_with("mspic netconf: session ended: no message for 1s ("),
        "{stderr}"
    );
    assert!(stderr.contains(", 1 timeouts)"), "{stderr}");
}
