//! ALGs against real peers: Debian's servers and clients in the testbed, through mspicd with
//! napt-44 (docs/examples/testbed.conf: 10.0.0.0/24 → pool 203.0.113.128/25), with the
//! PIC's `show services …` answers checked during or after each exchange.
//!
//! Peers: pyftpdlib (server) and Python's ftplib (client) for FTP; tftpd-hpa and tftp-hpa
//! for TFTP; dnsmasq and dig for DNS. All run with Debian's `/usr/bin/python3` where Python
//! is needed (python3-pyftpdlib lives there). Needs root; under `CI=true` a missing
//! prerequisite fails the test.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mspic_tests::live::{sessions, Live};
use mspic_tests::testbed::{self, Role, REMOTE_SERVER};

/// Debian's interpreter, which has the packaged python3-pyftpdlib.
const PYTHON: &str = "/usr/bin/python3";

/// Why this machine cannot run these tests (`None`: it can).
fn missing() -> Option<String> {
    if let Some(r) = testbed::unavailable() {
        return Some(r);
    }
    if let Some(r) = mspic_dataplane::xdp::kernel_lacks_feature() {
        return Some(r);
    }
    for (path, pkg) in [
        ("/usr/sbin/in.tftpd", "tftpd-hpa"),
        ("/usr/bin/tftp", "tftp-hpa"),
        ("/usr/sbin/dnsmasq", "dnsmasq"),
        ("/usr/bin/dig", "dnsutils"),
    ] {
        if !std::path::Path::new(path).exists() {
            return Some(format!("{path} missing: install {pkg} (cargo xtask deps)"));
        }
    }
    let ok = Command::new(PYTHON)
        .args(["-c", "import pyftpdlib"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        return Some("python3-pyftpdlib missing (cargo xtask deps)".into());
    }
    None
}

macro_rules! peers_or_skip {
    () => {
        if let Some(why) = missing() {
            testbed::skip_or_fail(&why);
            return;
        }
    };
}

/// Deterministic bytes for the transferred files.
fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The flags of a `Session: …, Flags: 0x…` header.
fn flags(header: &str) -> u32 {
    let f = header
        .split("Flags: 0x")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap_or_else(|| panic!("no flags in {header}"));
    u32::from_str_radix(f, 16).unwrap()
}

/// The FTP client: Python's ftplib, forced to each of PORT, EPRT, PASV and EPSV (ftplib
/// picks PORT/PASV for IPv4 by itself). Downloads `big.bin` in each mode and checks its
/// SHA-256, uploads `up.bin`, then opens one more passive download, prints `HOLD` halfway
/// and waits for a line on stdin before finishing it.
const FTP_CLIENT: &str = r#"
import ftplib, hashlib, socket, sys
host, digest, upload = sys.argv[1], sys.argv[2], sys.argv[3]

class Client(ftplib.FTP):
    mode = 'pasv'
    def makepasv(self):
        if self.mode == 'epsv':
            return ftplib.parse229(self.sendcmd('EPSV'), self.sock.getpeername())
        return super().makepasv()
    def makeport(self):
        if self.mode != 'eprt':
            return super().makeport()
        sock = socket.create_server(('', 0), family=self.af, backlog=1)
        self.sendeprt(self.sock.getsockname()[0], sock.getsockname()[1])
        sock.settimeout(20)
        return sock

ftp = Client()
ftp.connect(host, 21, timeout=20)
ftp.login()
for mode in ['port', 'eprt', 'pasv', 'epsv']:
    ftp.mode = mode
    ftp.set_pasv(mode in ('pasv', 'epsv'))
    h = hashlib.sha256()
    ftp.retrbinary('RETR big.bin', h.update)
    print(mode, 'ok' if h.hexdigest() == digest else 'BAD ' + h.hexdigest(), flush=True)
ftp.mode = 'pasv'
ftp.set_pasv(True)
with open(upload, 'rb') as f:
    ftp.storbinary('STOR up.bin', f)
print('upload ok', flush=True)
conn = ftp.transfercmd('RETR big.bin')
h = hashlib.sha256()
got = 0
while got < 65536:
    d = conn.recv(65536 - got)
    if not d:
        break
    h.update(d)
    got += len(d)
print('HOLD', flush=True)
sys.stdin.readline()
while True:
    d = conn.recv(65536)
    if not d:
        break
    h.update(d)
conn.close()
ftp.voidresp()
print('held', 'ok' if h.hexdigest() == digest else 'BAD', flush=True)
ftp.quit()
"#;

/// Reads a child's stdout lines on a thread, so the test can wait for one with a bound.
fn lines_of(stdout: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Waits (at most 60 s) for the line `want`, collecting every line before it.
fn expect_line(rx: &mpsc::Receiver<String>, want: &str, seen: &mut Vec<String>) {
    loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => {
                let done = l == want;
                seen.push(l);
                if done {
                    return;
                }
            }
            Err(e) => panic!("no `{want}` from the FTP client ({e}); it said: {seen:?}"),
        }
    }
}

#[test]
fn ftp_active_and_passive_through_napt() {
    peers_or_skip!();
    let mut live = Live::start(
        &mspic_tests::live::repo_file("docs/examples/testbed.conf"),
        1,
    );
    let root = live.dir.path("ftp-root");
    std::fs::create_dir_all(&root).unwrap();
    let big = content(1 << 20, 7);
    std::fs::write(root.join("big.bin"), &big).unwrap();
    let upload = content(1 << 20, 11);
    let upload_path = live.dir.path("upload.bin");
    std::fs::write(&upload_path, &upload).unwrap();
    let digest = {
        let out = Command::new("sha256sum")
            .arg(root.join("big.bin"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    let root_s = root.to_str().unwrap().to_string();
    live.serve(
        "ftpd",
        PYTHON,
        &[
            "-m",
            "pyftpdlib",
            "--interface",
            REMOTE_SERVER,
            "--port",
            "21",
            "--write",
            "--directory",
            &root_s,
            "--verbose",
        ],
    );
    live.wait_listening("tcp", 21);

    let mut client = live.tb.exec(Role::Client, PYTHON);
    client
        .args(["-c", FTP_CLIENT, REMOTE_SERVER, &digest])
        .arg(&upload_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = client.spawn().expect("ftp client");
    let rx = lines_of(child.stdout.take().unwrap());
    let mut said = Vec::new();
    expect_line(&rx, "HOLD", &mut said);
    for mode in ["port", "eprt", "pasv", "epsv"] {
        assert!(
            said.iter().any(|l| l == &format!("{mode} ok")),
            "{mode} download failed: {said:?}\n{}",
            live.log()
        );
    }
    assert!(said.iter().any(|l| l == "upload ok"), "{said:?}");
    assert!(
        std::fs::read(root.join("up.bin")).unwrap() == upload,
        "uploaded file differs"
    );

    // Halfway through a passive download: the control session and its data child.
    let text = live.show("show services sessions");
    let all = sessions(&text);
    let control: Vec<_> = all.iter().filter(|s| s.1.contains(":21 ")).collect();
    assert_eq!(control.len(), 1, "{text}");
    let (header, i_flow, o_flow) = control[0];
    assert!(header.contains("ALG: ftp"), "{text}");
    assert!(flags(header) & 0x2000 != 0, "parent flag: {text}");
    assert!(
        i_flow.contains(" Watch ") && o_flow.contains(" Watch "),
        "control flows not in Watch: {text}"
    );
    let children: Vec<_> = all
        .iter()
        .filter(|s| flags(&s.0) & 0x0800 != 0 && s.0.contains("ALG: ftp"))
        .collect();
    assert!(!children.is_empty(), "no data child session: {text}");
    let conv = live.show("show services alg conversations extensive");
    eprintln!("{text}\n{conv}");
    assert!(conv.contains("FTP ALG"), "{conv}");
    let parent_id = mspic_tests::live::session_id(header);
    assert!(
        conv.contains(&parent_id.to_string()),
        "parent {parent_id} not in the conversation: {conv}"
    );
    for c in &children {
        let id = mspic_tests::live::session_id(&c.0);
        assert!(conv.contains(&id.to_string()), "child {id}: {conv}");
    }

    // Finish the held download and quit.
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    expect_line(&rx, "held ok", &mut said);
    let status = child.wait().unwrap();
    assert!(status.success(), "ftp client: {said:?}");

    // The server saw only the pool address, in control and data connections.
    let server_log = std::fs::read_to_string(live.dir.path("ftpd.log")).unwrap();
    assert!(server_log.contains("203.0.113."), "{server_log}");
    assert!(!server_log.contains("10.0.0.2"), "{server_log}");
    let stats = live.show("show services stateful-firewall statistics extensive");
    assert!(!stats.is_empty());
}

#[test]
fn tftp_download_through_napt() {
    peers_or_skip!();
    let mut live = Live::start(
        &mspic_tests::live::repo_file("docs/examples/testbed.conf"),
        1,
    );
    let root = live.dir.path("tftp-root");
    std::fs::create_dir_all(&root).unwrap();
    let body = content(200_000, 3);
    std::fs::write(root.join("image.bin"), &body).unwrap();
    let root_s = root.to_str().unwrap().to_string();
    live.serve(
        "tftpd",
        "/usr/sbin/in.tftpd",
        &[
            "--foreground",
            "--secure",
            "--address",
            &format!("{REMOTE_SERVER}:69"),
            "--verbose",
            &root_s,
        ],
    );
    live.wait_listening("udp", 69);
    let got = live.dir.path("got.bin");
    let out = live.exec(
        Role::Client,
        "/usr/bin/tftp",
        &[
            "-m",
            "binary",
            REMOTE_SERVER,
            "-c",
            "get",
            "image.bin",
            got.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success() && std::fs::read(&got).is_ok_and(|g| g == body),
        "tftp get failed: {}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        live.log()
    );
    let text = live.show("show services sessions");
    eprintln!("{text}");
    let all = sessions(&text);
    let request: Vec<_> = all.iter().filter(|s| s.1.contains(":69 ")).collect();
    assert_eq!(request.len(), 1, "{text}");
    assert!(request[0].0.contains("ALG: tftp"), "{text}");
    let transfer: Vec<_> = all
        .iter()
        .filter(|s| flags(&s.0) & 0x0800 != 0 && s.0.contains("ALG: tftp"))
        .collect();
    assert_eq!(transfer.len(), 1, "the transfer is not a child: {text}");
    // The transfer's flows carried the whole file: 200000 / 512 = 391 data blocks.
    assert!(
        mspic_tests::live::frames(&transfer[0].1) >= 391
            || mspic_tests::live::frames(&transfer[0].2) >= 391,
        "{text}"
    );
}

#[test]
fn dns_session_closes_on_the_answer() {
    peers_or_skip!();
    let mut live = Live::start(
        &mspic_tests::live::repo_file("docs/examples/testbed.conf"),
        1,
    );
    live.serve(
        "dnsmasq",
        "dnsmasq",
        &[
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--user=root",
            "--port=53",
            &format!("--listen-address={REMOTE_SERVER}"),
            "--bind-interfaces",
            &format!("--address=/example.test/{REMOTE_SERVER}"),
            &format!("--pid-file={}", live.dir.path("dnsmasq.pid").display()),
        ],
    );
    live.wait_listening("udp", 53);
    let before = live.show("show services stateful-firewall statistics extensive");
    for _ in 0..3 {
        let dig = live.exec(
            Role::Client,
            "dig",
            &[
                "+short",
                "+time=2",
                "+tries=1",
                &format!("@{REMOTE_SERVER}"),
                "example.test",
            ],
        );
        assert_eq!(
            String::from_utf8_lossy(&dig.stdout).trim(),
            REMOTE_SERVER,
            "{}",
            live.log()
        );
    }
    // Each query's session went with its answer: none is left to time out.
    let gone = testbed::wait_for(Duration::from_secs(2), || {
        !live.show("show services sessions").contains(":53 ")
    });
    assert!(gone, "{}", live.show("show services sessions"));
    let after = live.show("show services stateful-firewall statistics extensive");
    eprintln!("{after}");
    assert_ne!(before, after, "no counter moved: {after}");
}
