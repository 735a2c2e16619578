//! `mspicd` with the live dataplane, in the network-namespace testbed: a datagram from the
//! client makes a session that `mspic show` reports through the socket, a commit keeps it,
//! SIGTERM detaches and exits 0. Skipped (with the reason) where the testbed cannot be made.

use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use mspic_tests::testbed::{self, Role, Spawned, Testbed};

const MSPICD: &str = env!("CARGO_BIN_EXE_mspicd");
const MSPIC: &str = env!("CARGO_BIN_EXE_mspic");

fn testbed_conf() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/testbed.conf");
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn mspic(socket: &Path, args: &[&str]) -> Output {
    Command::new(MSPIC)
        .arg("--socket")
        .arg(socket)
        .args(args)
        .env_remove("MSPIC_SOCKET")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Sends UDP datagrams from the client namespace (on a thread that enters it).
fn send_udp_from(ns: &str, dst: &str, count: usize) {
    let ns = ns.to_string();
    let dst = dst.to_string();
    std::thread::spawn(move || {
        let target = File::open(format!("/var/run/netns/{ns}")).expect("netns file");
        // SAFETY: setns(2) with a namespace fd held open; it moves this thread only, and
        // the thread ends here.
        let r = unsafe { libc::setns(target.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
        let s = std::net::UdpSocket::bind((testbed::CLIENT_ADDR, 0)).unwrap();
        for i in 0..count {
            s.send_to(format!("mspic {i}").as_bytes(), &dst).unwrap();
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .join()
    .unwrap();
}

#[test]
fn live_daemon_reports_sessions_keeps_them_across_a_commit_and_stops_cleanly() {
    if let Some(why) = testbed::unavailable() {
        testbed::skip_or_fail(&why);
        return;
    }
    let tb = Testbed::unique(1).expect("testbed");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("testbed.conf");
    fs::write(&config, testbed_conf()).unwrap();
    let socket = dir.path().join("mspicd.sock");
    let log = dir.path().join("mspicd.log");
    let mut cmd = tb.exec(Role::Pic, MSPICD);
    cmd.arg("--config")
        .arg(&config)
        .arg("--socket")
        .arg(&socket)
        .env_remove("MSPIC_SOCKET")
        .stdout(Stdio::null())
        .stderr(File::create(&log).unwrap());
    let mut daemon = Spawned::new("mspicd", cmd).unwrap();
    let log_text = || fs::read_to_string(&log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !mspic(&socket, &["ping"]).status.success() {
        if let Some(status) = daemon.child.try_wait().unwrap() {
            panic!("mspicd exited ({status}):\n{}", log_text());
        }
        assert!(Instant::now() < deadline, "mspicd not up:\n{}", log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    let ping = text(&mspic(&socket, &["ping"]).stdout);
    assert!(
        ping.contains(
            "engine: xdp native mode, 1 worker, 1 queue, ports ge-0/0/0 on pin, ge-0/0/1 on pout\n"
        ),
        "{ping}"
    );

    // A datagram from the client makes a translated UDP session.
    send_udp_from(
        &tb.ns(Role::Client),
        &format!("{}:9000", testbed::SERVER_ADDR),
        3,
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let sessions = loop {
        let out = mspic(&socket, &["show", "services", "sessions"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let s = text(&out.stdout);
        if s.contains("UDP") && s.contains("10.0.0.2:") {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "no session:\n{s}\nlog:\n{}",
            log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(sessions.starts_with("ms-1/1/0\n"), "{sessions}");
    let header = sessions.lines().nth(1).unwrap().to_string();
    assert!(header.starts_with("Session: "), "{sessions}");

    // A commit that changes a timeout keeps the session.
    let changed = dir.path().join("changed.conf");
    fs::write(
        &changed,
        testbed_conf().replace("inactivity-timeout 30;", "inactivity-timeout 40;"),
    )
    .unwrap();
    let out = mspic(&socket, &["request", "commit", changed.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "commit complete\n");
    let after = text(&mspic(&socket, &["show", "services", "sessions"]).stdout);
    assert!(after.contains(&header), "session lost:\n{after}");

    // Devices cannot change under a running dataplane.
    let moved = dir.path().join("moved.conf");
    fs::write(
        &moved,
        testbed_conf().replace("device pout;", "device pother;"),
    )
    .unwrap();
    let out = mspic(&socket, &["request", "commit", moved.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: commit failed: the emulator interfaces (or their devices) differ from the running ones; restart mspicd to change them\n"
    );

    // SIGTERM: exit 0, socket gone, no XDP program left on the ports.
    daemon.signal("TERM").unwrap();
    let status = daemon
        .wait_timeout(Duration::from_secs(20))
        .unwrap()
        .expect("mspicd exits");
    assert!(status.success(), "{status}:\n{}", log_text());
    assert!(!socket.exists());
    for dev in ["pin", "pout"] {
        let link = Command::new("ip")
            .args(["-n", &tb.ns(Role::Pic), "link", "show", dev])
            .output()
            .unwrap();
        let link = text(&link.stdout);
        assert!(!link.contains("xdp"), "{dev} keeps a program: {link}");
    }
}
