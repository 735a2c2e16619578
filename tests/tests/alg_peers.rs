//! ALGs against real peers: Debian's servers and clients in the testbed, through mspicd with
//! napt-44 (docs/examples/testbed.conf: 10.0.0.0/24 → pool 203.0.113.128/25), with the
//! PIC's `show services …` answers checked during or after each exchange.
//!
//! Peers: pyftpdlib (server) and Python's ftplib (client) for FTP; tftpd-hpa and tftp-hpa
//! for TFTP; dnsmasq and dig for DNS; inetutils-talkd under openbsd-inetd with two
//! protocol-level talk peers for ntalk; rsh-redone's rshd under openbsd-inetd and its rsh for
//! rsh; rpcbind, nfs-common's rpc.statd and rpcinfo for Sun RPC; GStreamer's RTSP server
//! library and `rtspsrc` for RTSP; pptpd and pptp-linux for PPTP. All run with Debian's
//! `/usr/bin/python3` where Python is needed (python3-pyftpdlib lives there). Needs root;
//! under `CI=true` a missing prerequisite fails the test.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mspic_tests::live::{counter, frames, sessions, Live};
use mspic_tests::testbed::{self, Role, REMOTE_SERVER};

/// Debian's interpreter, which has the packaged python3-pyftpdlib.
const PYTHON: &str = "/usr/bin/python3";

/// Why this machine cannot run a test that needs `tools` (path, Debian package); `None`: it
/// can.
fn lacking(tools: &[(&str, &str)]) -> Option<String> {
    if let Some(r) = testbed::unavailable() {
        return Some(r);
    }
    if let Some(r) = mspic_dataplane::xdp::kernel_lacks_feature() {
        return Some(r);
    }
    for (path, pkg) in tools {
        if !std::path::Path::new(path).exists() {
            return Some(format!("{path} missing: install {pkg} (cargo xtask deps)"));
        }
    }
    None
}

/// Why this machine cannot run the FTP, TFTP and DNS tests (`None`: it can).
fn missing() -> Option<String> {
    if let Some(r) = lacking(&[
        ("/usr/sbin/in.tftpd", "tftpd-hpa"),
        ("/usr/bin/tftp", "tftp-hpa"),
        ("/usr/sbin/dnsmasq", "dnsmasq"),
        ("/usr/bin/dig", "dnsutils"),
    ]) {
        return Some(r);
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
    ($tools:expr) => {
        if let Some(why) = lacking($tools) {
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

/// Whether `show services alg conversations` names session `id` on a parent or child line
/// (`Parent session : 1, protocol: TCP`, `Child session : 2, protocol: TCP`).
fn names_session(conv: &str, id: u64) -> bool {
    conv.lines()
        .any(|l| l.contains("session") && l.contains(&format!(" {id},")))
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
    if let Err(e) = expect(rx, |l| l == want, seen) {
        panic!("no `{want}` from the peer ({e}); it said: {seen:?}");
    }
}

/// Waits (at most 60 s) for a line that satisfies `good`, collecting every line up to it;
/// returns that line, or why none came.
fn expect(
    rx: &mpsc::Receiver<String>,
    good: impl Fn(&str) -> bool,
    seen: &mut Vec<String>,
) -> Result<String, mpsc::RecvTimeoutError> {
    loop {
        let l = rx.recv_timeout(Duration::from_secs(60))?;
        seen.push(l.clone());
        if good(&l) {
            return Ok(l);
        }
    }
}

#[test]
fn ftp_active_and_passive_through_napt() {
    peers_or_skip!();
    ftp_through_napt(1);
}

/// The same with two workers: the data connections' two sides may hash to different
/// shards, and the ALG steers the inside side to its child's shard.
#[test]
fn ftp_active_and_passive_through_napt_on_two_workers() {
    peers_or_skip!();
    ftp_through_napt(2);
}

fn ftp_through_napt(queues: u32) {
    let mut live = Live::start(
        &mspic_tests::live::repo_file("docs/examples/testbed.conf"),
        queues,
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
        names_session(&conv, parent_id),
        "parent {parent_id} not in the conversation: {conv}"
    );
    for c in &children {
        let id = mspic_tests::live::session_id(&c.0);
        assert!(names_session(&conv, id), "child {id}: {conv}");
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
    let closed = |live: &Live| {
        let stats = live.show("show services stateful-firewall statistics extensive");
        counter(&stats, "Sessions closed by response")
    };
    let before = closed(&live);
    const QUERIES: u64 = 3;
    for _ in 0..QUERIES {
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
    // Each answer closed its query's session: one count per query, none left to time out.
    let counted = testbed::wait_for(Duration::from_secs(5), || closed(&live) >= before + QUERIES);
    let stats = live.show("show services stateful-firewall statistics extensive");
    assert!(
        counted,
        "closed by response stayed below {before} + {QUERIES}: {stats}"
    );
    assert_eq!(
        counter(&stats, "Sessions closed by response"),
        before + QUERIES,
        "{stats}"
    );
    let text = live.show("show services sessions");
    assert!(!text.contains(":53 "), "a DNS session is left: {text}");
}

/// docs/examples/testbed.conf with `apps` added to the ALG term's applications and, if
/// given, `port` instead of the pool's `port { automatic; }`.
fn testbed_conf(apps: &str, port: Option<&str>) -> String {
    let mut conf = mspic_tests::live::repo_file("docs/examples/testbed.conf");
    let list = "junos-rtsp junos-pptp ]";
    assert!(conf.contains(list), "the ALG term of testbed.conf changed");
    conf = conf.replace(list, &format!("junos-rtsp junos-pptp {apps} ]"));
    if let Some(port) = port {
        let auto = "port {\n                automatic;\n            }";
        assert!(conf.contains(auto), "the pool of testbed.conf changed");
        conf = conf.replace(
            auto,
            &format!("port {{\n                {port};\n            }}"),
        );
    }
    conf
}

/// Routes the NAT pool from the server namespace through sv0 with source
/// [`REMOTE_SERVER`]: a server whose data connection or media socket is bound to any
/// address then sends from the address the ALG's pinholes admit (the control connection's
/// server), not from sv0's own 203.0.113.2.
fn answer_from_remote_server(live: &Live) {
    let route = live.exec(
        Role::Server,
        "ip",
        &[
            "route",
            "add",
            "203.0.113.128/25",
            "dev",
            "sv0",
            "src",
            REMOTE_SERVER,
        ],
    );
    assert!(route.status.success(), "{route:?}");
}

/// Is `a` an address of the NAT pool (203.0.113.128/25)?
fn in_pool(a: &str) -> bool {
    a.parse::<std::net::Ipv4Addr>()
        .is_ok_and(|a| a.octets()[..3] == [203, 0, 113] && a.octets()[3] >= 128)
}

/// A peer program with piped stdin and stdout (its stderr goes to a file); killed and
/// reaped when dropped, also when the test fails.
struct Peer {
    name: String,
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    said: Vec<String>,
    /// Its stderr, then the logs of mspicd, inetd and the servers: shown when it fails.
    logs: Vec<std::path::PathBuf>,
}

impl Peer {
    fn spawn(live: &Live, name: &str, mut cmd: Command) -> Peer {
        let stderr = live.dir.path(&format!("{name}.err"));
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{name}: {e}"));
        let lines = lines_of(child.stdout.take().unwrap());
        let logs = ["mspicd.log", "inetd.log", "syslog.log"];
        Peer {
            name: name.to_string(),
            child,
            lines,
            said: Vec::new(),
            logs: std::iter::once(stderr)
                .chain(logs.iter().map(|l| live.dir.path(l)))
                .collect(),
        }
    }

    /// Waits (bounded) for a line starting with `prefix`; returns it.
    fn expect(&mut self, prefix: &str) -> String {
        self.expect_that(&format!("{prefix}…"), |l| l.starts_with(prefix))
    }

    /// Waits (bounded) for a line that satisfies `good` (described as `what`); returns it.
    fn expect_that(&mut self, what: &str, good: impl Fn(&str) -> bool) -> String {
        match expect(&self.lines, good, &mut self.said) {
            Ok(l) => l,
            Err(e) => panic!(
                "no `{what}` from {} ({e}); it said: {:?}\n{}",
                self.name,
                self.said,
                self.logs()
            ),
        }
    }

    /// Every line it printed so far (those already waited for, then the rest).
    fn drain(&mut self) -> &[String] {
        self.said.extend(self.lines.try_iter());
        &self.said
    }

    fn logs(&self) -> String {
        self.logs
            .iter()
            .map(|p| {
                let text = std::fs::read_to_string(p).unwrap_or_default();
                format!("--- {}:\n{text}", p.file_name().unwrap().to_string_lossy())
            })
            .collect()
    }

    fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// Waits (at most 20 s) for the program to exit; returns whether it succeeded.
    fn finish(&mut self) -> bool {
        let mut status = None;
        testbed::wait_for(Duration::from_secs(20), || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        status.is_some_and(|s| s.success())
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// tcpdump on `role`'s testbed interface (`cl0`, `sv0`) printing the packets `filter`
/// matches, one line each (with the decoded PPTP control messages); returns once it
/// is listening.
fn capture(live: &Live, role: Role, name: &str, filter: &str) -> Peer {
    let dev = if role == Role::Client { "cl0" } else { "sv0" };
    let mut c = live.tb.exec(role, "tcpdump");
    c.args(["-l", "-n", "-i", dev, filter]);
    let peer = Peer::spawn(live, name, c);
    let err = live.dir.path(&format!("{name}.err"));
    let ready = testbed::wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(&err).is_ok_and(|t| t.contains("listening on"))
    });
    assert!(ready, "{}", peer.logs());
    peer
}

/// Receives syslog(3) datagrams on the socket `argv[1]` and prints one line each: rshd and
/// talkd log only to syslog.
const SYSLOG_SINK: &str = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    print(s.recv(65536).decode(errors='replace').rstrip('\n'), flush=True)
"#;

/// Run by `sh -c` in a fresh mount namespace (`unshare -m`, private propagation), so
/// nothing here reaches the host's mounts: `$1` is a scratch directory, then
/// `SOURCE TARGET` pairs to bind-mount, `--`, and the command. `/run` becomes a tmpfs
/// (inetd writes its pid file there), and `/dev` the scratch `dev` directory holding the
/// device nodes the servers use and the syslog socket as `/dev/log`.
const PRIVATE_MOUNTS: &str = r#"set -e
d=$1; shift
mount -t tmpfs tmpfs /run
while [ "$1" != -- ]; do mount --bind "$1" "$2"; shift 2; done
shift
for n in null zero random urandom; do
    : > "$d/dev/$n"
    mount --bind "/dev/$n" "$d/dev/$n"
done
ln -s /proc/self/fd "$d/dev/fd"
mount --bind "$d/dev" /dev
exec "$@"
"#;

/// openbsd-inetd in the foreground (`-d`) in the server namespace, serving the inetd.conf
/// lines `services`, in a private mount namespace with the bind mounts `binds` (source,
/// target). Returns the file that collects the servers' syslog messages.
fn inetd(
    live: &mut Live,
    services: &str,
    binds: &[(&std::path::Path, &str)],
) -> std::path::PathBuf {
    let dir = live.dir.path("inetd");
    std::fs::create_dir_all(dir.join("dev")).unwrap();
    let socket = dir.join("dev/log");
    let log = live.dir.path("syslog.log");
    let mut sink = Command::new(PYTHON);
    sink.args(["-c", SYSLOG_SINK])
        .arg(&socket)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(live.dir.path("syslog.err")).unwrap());
    live.servers
        .push(testbed::Spawned::new("syslog", sink).unwrap());
    assert!(
        testbed::wait_for(Duration::from_secs(10), || socket.exists()),
        "the syslog sink did not start: {}",
        std::fs::read_to_string(live.dir.path("syslog.err")).unwrap_or_default()
    );
    let conf = dir.join("inetd.conf");
    std::fs::write(&conf, services).unwrap();
    let mut cmd = live.tb.exec(Role::Server, "unshare");
    cmd.args(["-m", "sh", "-c", PRIVATE_MOUNTS, "sh"]).arg(&dir);
    for (source, target) in binds {
        cmd.arg(source).arg(target);
    }
    cmd.args(["--", "/usr/sbin/inetd", "-d"])
        .arg(&conf)
        .stdout(std::fs::File::create(live.dir.path("inetd.out")).unwrap())
        .stderr(std::fs::File::create(live.dir.path("inetd.log")).unwrap());
    live.servers
        .push(testbed::Spawned::new("inetd", cmd).unwrap());
    log
}

/// Both ends of a talk conversation, at the protocol level (the stock `talk` client needs
/// a terminal). `caller ADDR DAEMON`: listens on TCP at ADDR, leaves an invitation
/// (LEAVE_INVITE) carrying that listener's address with the talk daemon at DAEMON, prints
/// `invited ID PORT`, accepts the callee and prints `accepted PEER`. `callee ADDR DAEMON`:
/// asks the daemon for the invitation (LOOK_UP), prints `lookup ANSWER FAMILY IP PORT` for
/// the address it got, connects there from ADDR and prints `connected`. Then each sends a
/// line, prints `got LINE` for the other's, waits for a line on stdin, closes and prints
/// `done`. Messages follow 4.3BSD `protocols/talkd.h` (ntalk version 1): CTL_MSG
/// `vers type answer pad id_num addr ctl_addr pid l_name[12] r_name[12] r_tty[16]` (84
/// bytes, addresses as osockaddr: family, port, IPv4 address, 8 zero bytes, all in network
/// order); CTL_RESPONSE `vers type answer pad id_num addr` (24 bytes). The daemon answers at
/// `ctl_addr`.
const TALK_PEER: &str = r#"
import os, socket, struct, sys

AF_INET, LEAVE_INVITE, LOOK_UP = 2, 0, 1

def osockaddr(ip, port):
    return struct.pack('!HH4s8x', AF_INET, port, socket.inet_aton(ip))

def request(ctl, daemon, kind, addr, l_name, r_name):
    msg = struct.pack('!BBBBI16s16si12s12s16s', 1, kind, 0, 0, 0, addr,
                      osockaddr(*ctl.getsockname()), os.getpid(), l_name, r_name, b'')
    assert len(msg) == 84
    for _ in range(5):
        ctl.sendto(msg, daemon)
        try:
            resp = ctl.recv(64)
        except socket.timeout:
            continue
        if len(resp) != 24:
            sys.exit('response of %d bytes: %r' % (len(resp), resp))
        vers, rkind, answer, _, id_num, raddr = struct.unpack('!BBBBI16s', resp)
        if (vers, rkind) != (1, kind):
            sys.exit('bad response %r' % resp)
        return answer, id_num, raddr
    sys.exit('no answer from talkd')

role, me, daemon = sys.argv[1], sys.argv[2], (sys.argv[3], 518)
ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
ctl.bind((me, 0))
ctl.settimeout(2)
if role == 'caller':
    lst = socket.create_server((me, 0))
    lst.settimeout(30)
    port = lst.getsockname()[1]
    _, id_num, _ = request(ctl, daemon, LEAVE_INVITE, osockaddr(me, port), b'caller', b'callee')
    print('invited', id_num, port, flush=True)
    conn, peer = lst.accept()
    print('accepted', peer[0], flush=True)
else:
    answer, _, raddr = request(ctl, daemon, LOOK_UP, osockaddr(me, 0), b'callee', b'caller')
    family, port, ip = struct.unpack('!HH4s8x', raddr)
    ip = socket.inet_ntoa(ip)
    print('lookup', answer, family, ip, port, flush=True)
    if answer != 0:
        sys.exit('no invitation')
    conn = socket.socket()
    conn.bind((me, 0))
    conn.settimeout(30)
    conn.connect((ip, port))
    print('connected', flush=True)
conn.settimeout(30)
conn.sendall(b'hello from ' + role.encode() + b'\n')
print('got', conn.makefile('rb').readline().decode().strip(), flush=True)
sys.stdin.readline()
conn.close()
print('done', flush=True)
"#;

#[test]
fn talk_invitation_through_napt() {
    peers_or_skip!(&[
        ("/usr/sbin/inetd", "openbsd-inetd"),
        ("/usr/sbin/talkd", "inetutils-talkd"),
        ("/usr/bin/unshare", "util-linux"),
        (PYTHON, "python3"),
    ]);
    let mut live = Live::start(&testbed_conf("junos-ntalk", None), 1);
    // talkd leaves 5 s after the last request (it is a `wait` service: inetd starts it
    // again for the next one).
    inetd(
        &mut live,
        &format!("{REMOTE_SERVER}:518 dgram udp wait root /usr/sbin/talkd talkd -d -t 1 -i 5\n"),
        &[],
    );
    live.wait_listening("udp", 518);

    let mut caller = {
        let mut c = live.tb.exec(Role::Client, PYTHON);
        c.args([
            "-c",
            TALK_PEER,
            "caller",
            testbed::CLIENT_ADDR,
            REMOTE_SERVER,
        ]);
        Peer::spawn(&live, "caller", c)
    };
    // talkd answers at the message's `ctl_addr`: the caller hears back only because the ALG
    // rewrote that to the pool address as well.
    let invited = caller.expect("invited ");
    let listener: u16 = invited.split(' ').nth(2).unwrap().parse().unwrap();
    let mut callee = {
        let mut c = live.tb.exec(Role::Server, PYTHON);
        c.args(["-c", TALK_PEER, "callee", REMOTE_SERVER, REMOTE_SERVER]);
        Peer::spawn(&live, "callee", c)
    };
    // The daemon kept the address the ALG wrote into the invitation: a pool address, not
    // the caller's own.
    let lookup = callee.expect("lookup ");
    let f: Vec<&str> = lookup.split(' ').collect();
    assert_eq!(f[1..3], ["0", "2"], "{lookup}\n{}", callee.logs());
    let (pool_ip, pool_port) = (f[3].to_string(), f[4].parse::<u16>().unwrap());
    assert!(in_pool(&pool_ip), "{lookup}\n{}", callee.logs());
    // The callee's connection to that address reached the caller's listener.
    callee.expect("connected");
    assert_eq!(
        caller.expect("accepted "),
        format!("accepted {REMOTE_SERVER}")
    );
    assert_eq!(callee.expect("got "), "got hello from caller");
    assert_eq!(caller.expect("got "), "got hello from callee");

    let text = live.show("show services sessions");
    eprintln!("{text}");
    let all = sessions(&text);
    let control: Vec<_> = all
        .iter()
        .filter(|s| s.1.starts_with("UDP") && s.1.contains(":518 "))
        .collect();
    assert_eq!(control.len(), 1, "{text}");
    assert!(control[0].0.contains("ALG: talk"), "{text}");
    assert!(flags(&control[0].0) & 0x2000 != 0, "parent flag: {text}");
    let children: Vec<_> = all.iter().filter(|s| flags(&s.0) & 0x0800 != 0).collect();
    assert_eq!(children.len(), 1, "{text}");
    let (header, i_flow, o_flow) = children[0];
    assert!(header.contains("ALG: talk"), "{text}");
    assert!(
        i_flow.starts_with("TCP") && i_flow.contains(&format!("{pool_ip}:{pool_port} ")),
        "the invitation connection is not the child: {text}"
    );
    assert!(
        o_flow.contains(&format!("{}:{listener} ", testbed::CLIENT_ADDR)),
        "{text}"
    );
    let conv = live.show("show services alg conversations extensive");
    eprintln!("{conv}");
    assert!(conv.contains("TALK ALG"), "{conv}");
    for s in [control[0], children[0]] {
        let id = mspic_tests::live::session_id(&s.0);
        assert!(names_session(&conv, id), "session {id}: {conv}");
    }

    caller.send("go");
    callee.send("go");
    caller.expect("done");
    callee.expect("done");
    assert!(
        caller.finish() && callee.finish(),
        "{:?} {:?}",
        caller.said,
        callee.said
    );
}

/// The established TCP sockets of `role`'s namespace: (`ss` socket line, its `-i` details).
fn tcp_sockets(live: &Live, role: Role) -> Vec<(String, String)> {
    let out = live.exec(role, "ss", &["-tinH", "state", "established"]);
    let mut socks: Vec<(String, String)> = Vec::new();
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        match socks.last_mut() {
            Some(last) if l.starts_with(char::is_whitespace) => last.1.push_str(l),
            _ => socks.push((l.to_string(), String::new())),
        }
    }
    socks
}

/// The local and peer endpoints of an `ss` socket line (`Recv-Q Send-Q Local Peer`).
fn endpoints(line: &str) -> (String, String) {
    let f: Vec<&str> = line.split_whitespace().collect();
    (f[2].to_string(), f[3].to_string())
}

/// Runs `sh -c 'echo out; echo err >&2; read x; echo bye'` with rsh-redone's `rsh` through
/// napt-44 against rsh-redone's `in.rshd` under inetd. rshd only serves clients whose source
/// port is in 512..1023, so this test's pool hands out ports from `range low 512 high
/// 1023` (`automatic` would give 1024 and up). rshd authenticates with PAM (`pam_rhosts`):
/// a scratch home with a `.rhosts` admitting root from every pool address is bind-mounted
/// over `/root`, and a scratch `/etc/hosts` names the pool addresses, since rshd looks the
/// client's name up and fails without an answer — both only inside inetd's private mount
/// namespace.
///
/// rshd binds its stderr connection to any address; the server namespace routes the pool
/// through sv0 with source 198.51.100.7 ([`answer_from_remote_server`]), so that connection
/// leaves from the address the session knows (the ALG's pinhole admits the server's
/// address only).
///
/// rsh-redone-client 85 reads the stderr stream but never writes it out (its loop zeroes
/// the pending length before the write and then spins on `write(2, "", 0)`), so the test
/// checks the bytes arriving at the client's stderr socket (`ss -i`: `bytes_received`),
/// not rsh's own stderr.
#[test]
fn rsh_stderr_through_napt() {
    const RSH: &str = "/usr/bin/rsh-redone-rsh";
    peers_or_skip!(&[
        ("/usr/sbin/inetd", "openbsd-inetd"),
        ("/usr/sbin/in.rshd", "rsh-redone-server"),
        (RSH, "rsh-redone-client"),
        ("/usr/bin/unshare", "util-linux"),
        (PYTHON, "python3"),
    ]);
    let mut live = Live::start(
        &testbed_conf("junos-rsh", Some("range low 512 high 1023")),
        1,
    );
    answer_from_remote_server(&live);

    let home = live.dir.path("home");
    std::fs::create_dir_all(&home).unwrap();
    let rhosts: String = (128..=255)
        .map(|i| format!("203.0.113.{i} root\n"))
        .collect();
    std::fs::write(home.join(".rhosts"), rhosts).unwrap();
    std::fs::set_permissions(home.join(".rhosts"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let hosts = live.dir.path("hosts");
    let names: String = (128..=255)
        .map(|i| format!("203.0.113.{i} nat-pool-{i}\n"))
        .collect();
    std::fs::write(&hosts, format!("127.0.0.1 localhost\n{names}")).unwrap();
    let log = inetd(
        &mut live,
        &format!("{REMOTE_SERVER}:514 stream tcp nowait root /usr/sbin/in.rshd in.rshd\n"),
        &[(home.as_path(), "/root"), (hosts.as_path(), "/etc/hosts")],
    );
    live.wait_listening("tcp", 514);

    let mut rsh = {
        let mut c = live.tb.exec(Role::Client, RSH);
        c.args([
            "-l",
            "root",
            REMOTE_SERVER,
            "sh -c 'echo out; echo err >&2; read x; echo bye'",
        ]);
        Peer::spawn(&live, "rsh", c)
    };
    rsh.expect("out");
    // rshd saw the client at a pool address, and `.rhosts` let it in.
    let admitted = testbed::wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("pam_rhosts(rsh:auth): allowed access to root@nat-pool-")
    });
    assert!(admitted, "{}", rsh.logs());

    // rshd's stderr connection reached the port the client listens on, through the pool,
    // and carried `err\n`.
    let mut stderr_sock = None;
    let arrived = testbed::wait_for(Duration::from_secs(10), || {
        stderr_sock = tcp_sockets(&live, Role::Client).into_iter().find(|(l, _)| {
            let (_, peer) = endpoints(l);
            peer.starts_with(&format!("{REMOTE_SERVER}:")) && !peer.ends_with(":514")
        });
        stderr_sock
            .as_ref()
            .is_some_and(|(_, i)| i.split_whitespace().any(|w| w == "bytes_received:4"))
    });
    assert!(
        arrived,
        "stderr did not arrive: {stderr_sock:?}\n{}\n{}",
        live.show("show services sessions"),
        rsh.logs()
    );
    let (client_end, server_end) = endpoints(&stderr_sock.unwrap().0);
    let rshd_end = tcp_sockets(&live, Role::Server)
        .into_iter()
        .map(|(l, _)| endpoints(&l))
        .find(|(local, _)| *local == server_end)
        .unwrap_or_else(|| panic!("no rshd socket {server_end}"));
    let pool_end = rshd_end.1;
    assert!(in_pool(pool_end.split(':').next().unwrap()), "{pool_end}");

    let text = live.show("show services sessions");
    eprintln!("{text}");
    let all = sessions(&text);
    let control: Vec<_> = all.iter().filter(|s| s.1.contains(":514 ")).collect();
    assert_eq!(control.len(), 1, "{text}");
    assert!(control[0].0.contains("ALG: rsh"), "{text}");
    assert!(flags(&control[0].0) & 0x2000 != 0, "parent flag: {text}");
    let children: Vec<_> = all.iter().filter(|s| flags(&s.0) & 0x0800 != 0).collect();
    assert_eq!(children.len(), 1, "{text}");
    let (header, i_flow, o_flow) = children[0];
    assert!(header.contains("ALG: rsh"), "{text}");
    assert!(
        i_flow.contains(&format!("{server_end} ")) && i_flow.contains(&format!("{pool_end} ")),
        "the stderr connection is not the child: {text}"
    );
    assert!(o_flow.contains(&format!("{client_end} ")), "{text}");
    let conv = live.show("show services alg conversations extensive");
    eprintln!("{conv}");
    assert!(conv.contains("RSH ALG"), "{conv}");
    for s in [control[0], children[0]] {
        let id = mspic_tests::live::session_id(&s.0);
        assert!(names_session(&conv, id), "session {id}: {conv}");
    }

    rsh.send("x");
    rsh.expect("bye");
    assert!(rsh.finish(), "rsh: {:?}\n{}", rsh.said, rsh.logs());
}

/// An RPC NULL call to program 100024 version 1 (RFC 5531 §9: xid, CALL, RPC version 2,
/// program, version, procedure 0, AUTH_NONE credential and verifier) sent over UDP to
/// `argv[1]`:`argv[2]`; prints `reply` if anything answers within 3 s, else `no reply`.
const RPC_NULL_CALL: &str = r#"
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(struct.pack('>10I', 0x1234, 0, 2, 100024, 1, 0, 0, 0, 0, 0), (sys.argv[1], int(sys.argv[2])))
try:
    s.recv(512)
    print('reply')
except socket.timeout:
    print('no reply')
"#;

/// testbed.conf whose firewall lets the inside reach only `applications` (one term named
/// `term`): anything else has to come through a pinhole their ALG opens.
fn only_apps_conf(term: &str, applications: &str) -> String {
    let conf = mspic_tests::live::repo_file("docs/examples/testbed.conf");
    let start = conf
        .find("            term alg {")
        .expect("testbed.conf has the ALG term");
    let end = conf.find("    nat {").expect("testbed.conf has NAT");
    let rule = format!(
        "            term {term} {{
                from {{
                    source-address {{
                        10.0.0.0/24;
                    }}
                    applications {applications};
                }}
                then {{
                    accept;
                }}
            }}
        }}
    }}
"
    );
    format!("{}{rule}{}", &conf[..start], &conf[end..])
}

/// testbed.conf whose firewall lets the inside reach only the portmapper (TCP and UDP 111,
/// with its ALG).
fn portmap_only_conf() -> String {
    only_apps_conf("portmap", "junos-rpc-portmap")
}

/// Sun RPC (`rpc-portmap`, RFC 1833) against Debian's rpcbind and the NSM status daemon
/// (nfs-common's rpc.statd, program 100024, on UDP and TCP port 32765) in the server
/// namespace, with rpcinfo as the client, through napt-44 and a firewall that admits only
/// the portmapper: calling the program's port directly is discarded; asking the portmapper
/// first (GETPORT/GETADDR over UDP and over TCP) opens the pinhole and the program answers.
/// Both daemons share a private mount namespace with its own /run (rpcbind's socket).
#[test]
fn sun_rpc_program_reached_through_the_portmapper_pinhole() {
    peers_or_skip!(&[
        ("/sbin/rpcbind", "rpcbind"),
        ("/usr/bin/rpcinfo", "rpcbind"),
        ("/sbin/rpc.statd", "nfs-common"),
    ]);
    let mut live = Live::start(&portmap_only_conf(), 1);
    let mut rpcbind = live.tb.exec(Role::Server, "unshare");
    rpcbind.args([
        "-m",
        "sh",
        "-c",
        "mount -t tmpfs tmpfs /run && exec /sbin/rpcbind -f",
    ]);
    rpcbind
        .stdout(std::fs::File::create(live.dir.path("rpcbind.out")).unwrap())
        .stderr(std::fs::File::create(live.dir.path("rpcbind.log")).unwrap());
    let rb = testbed::Spawned::new("rpcbind", rpcbind).unwrap();
    let mount_ns = format!("--mount=/proc/{}/ns/mnt", rb.child.id());
    live.servers.push(rb);
    live.wait_listening("udp", 111);
    let state = live.dir.path("statd");
    for d in ["sm", "sm.bak"] {
        std::fs::create_dir_all(state.join(d)).unwrap();
    }
    let mut statd = live.tb.exec(Role::Server, "nsenter");
    statd
        .args([
            &mount_ns,
            "--",
            "/sbin/rpc.statd",
            "-F",
            "-d",
            "--no-notify",
        ])
        .args(["-p", "32765", "-o", "32766", "-P"])
        .arg(&state)
        .stdout(std::fs::File::create(live.dir.path("statd.out")).unwrap())
        .stderr(std::fs::File::create(live.dir.path("statd.log")).unwrap());
    live.servers
        .push(testbed::Spawned::new("statd", statd).unwrap());
    let registered = testbed::wait_for(Duration::from_secs(15), || {
        let out = live.exec(Role::Server, "rpcinfo", &["-p", "127.0.0.1"]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        text.contains("100024    1   udp  32765") && text.contains("100024    1   tcp  32765")
    });
    assert!(
        registered,
        "statd did not register: {}",
        std::fs::read_to_string(live.dir.path("statd.log")).unwrap_or_default()
    );
    let rpcinfo = |args: &[&str]| {
        let mut all = vec!["4", "rpcinfo"];
        all.extend_from_slice(args);
        let out = live.exec(Role::Client, "timeout", &all);
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    // Straight to the program's port, without asking the portmapper: no pinhole, so the
    // firewall discards it. rpcinfo always consults the portmapper (even with `-n`), so
    // this one call is made by a few lines of Python: an RPC NULL call (RFC 5531 §9) over
    // UDP that waits 3 s for any reply.
    let direct = live.exec(
        Role::Client,
        PYTHON,
        &["-c", RPC_NULL_CALL, REMOTE_SERVER, "32765"],
    );
    assert_eq!(
        String::from_utf8_lossy(&direct.stdout).trim(),
        "no reply",
        "reached the program without a pinhole: {}\n{}",
        String::from_utf8_lossy(&direct.stderr),
        live.show("show services sessions extensive")
    );
    // The portmapper's own listing passes (TCP 111 is the application itself).
    let (ok, text) = rpcinfo(&["-p", REMOTE_SERVER]);
    assert!(ok && text.contains("status"), "{text}\n{}", live.log());
    for transport in ["-u", "-t"] {
        let (ok, text) = rpcinfo(&[transport, REMOTE_SERVER, "100024"]);
        assert!(
            ok && text.contains("program 100024 version 1 ready and waiting"),
            "rpcinfo {transport}: {text}\n{}",
            live.show("show services sessions")
        );
    }
    let text = live.show("show services sessions");
    eprintln!("{text}");
    let all = sessions(&text);
    // The calls that reached statd ran in child sessions of the portmapper conversations.
    for proto in ["UDP", "TCP"] {
        let child = all.iter().find(|s| {
            flags(&s.0) & 0x0800 != 0
                && s.1.contains(&format!("{REMOTE_SERVER}:32765"))
                && s.1.contains(proto)
        });
        assert!(child.is_some(), "no {proto} child session to 32765: {text}");
    }
    // The direct call left a discarded session.
    let dropped = all
        .iter()
        .any(|s| s.1.contains(&format!("{REMOTE_SERVER}:32765")) && s.1.contains(" Drop "));
    assert!(dropped, "{text}");
}

/// The RTSP server: GStreamer's RTSP server library (gir1.2-gst-rtsp-server-1.0 through
/// python3-gi) on `argv[1]`:`argv[2]`, serving `/tone` as RTP over UDP only: a live 8 kHz
/// L16 tone (`audiotestsrc ! rtpL16pay`, 10 ms a packet). Prints `setup from IP transport
/// T` for each SETUP request, with the `Transport:` header as it arrived.
const RTSP_SERVER: &str = r#"
import sys, gi
gi.require_version('Gst', '1.0')
gi.require_version('GstRtsp', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import Gst, GstRtsp, GstRtspServer, GLib
Gst.init(None)
server = GstRtspServer.RTSPServer(address=sys.argv[1], service=sys.argv[2])
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch('( audiotestsrc is-live=true samplesperbuffer=80 '
                   '! audio/x-raw,rate=8000,channels=1 ! rtpL16pay name=pay0 pt=96 )')
factory.set_protocols(GstRtsp.RTSPLowerTrans.UDP)
server.get_mount_points().add_factory('/tone', factory)
def on_setup(client, ctx):
    _, transport = ctx.request.get_header(GstRtsp.RTSPHeaderField.TRANSPORT, 0)
    print('setup from', client.get_connection().get_ip(), 'transport', transport, flush=True)
    return GstRtsp.RTSPStatusCode.OK
server.connect('client-connected', lambda s, c: c.connect('pre-setup-request', on_setup))
if server.attach(None) == 0:
    sys.exit('cannot listen')
GLib.MainLoop().run()
"#;

/// RTSP (RFC 2326) against GStreamer: its RTSP server library in the server namespace, and
/// `gst-launch-1.0 rtspsrc protocols=udp` as the client, through napt-44 and a firewall that
/// admits only junos-rtsp from the inside, so the RTP and RTCP flows can pass only through
/// the pinholes the ALG opens from the SETUP exchange. The client ends after 1000 RTP
/// buffers (10 s of the tone, long enough for RTCP sender reports), bounded by `timeout`;
/// it sends from its RTP port to the server's first, which has to leave from the pool
/// port the server was told. The server answers from [`REMOTE_SERVER`]
/// ([`answer_from_remote_server`]).
#[test]
fn rtsp_media_over_udp_through_napt() {
    peers_or_skip!(&[
        ("/usr/bin/gst-launch-1.0", "gstreamer1.0-tools"),
        (
            "/usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstrtsp.so",
            "gstreamer1.0-plugins-good"
        ),
        (
            "/usr/lib/x86_64-linux-gnu/girepository-1.0/GstRtspServer-1.0.typelib",
            "gir1.2-gst-rtsp-server-1.0"
        ),
        (
            "/usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstaudiotestsrc.so",
            "gstreamer1.0-plugins-base"
        ),
        (
            "/usr/lib/python3/dist-packages/gi/__init__.py",
            "python3-gi"
        ),
    ]);
    let live = Live::start(&only_apps_conf("rtsp", "junos-rtsp"), 1);
    answer_from_remote_server(&live);
    let mut server = {
        let mut c = live.tb.exec(Role::Server, PYTHON);
        c.args(["-c", RTSP_SERVER, REMOTE_SERVER, "554"]);
        Peer::spawn(&live, "rtsp-server", c)
    };
    live.wait_listening("tcp", 554);

    let url = format!("location=rtsp://{REMOTE_SERVER}:554/tone");
    let mut client = {
        let mut c = live.tb.exec(Role::Client, "timeout");
        c.args([
            "40",
            "gst-launch-1.0",
            "-q",
            "rtspsrc",
            &url,
            "protocols=udp",
        ])
        .args(["!", "fakesink", "num-buffers=1000"]);
        Peer::spawn(&live, "rtsp-client", c)
    };

    // The server saw the SETUP from a pool address, with the client's RTP and RTCP ports
    // as the ALG mapped them.
    let setup = server.expect("setup from ");
    let f: Vec<&str> = setup.split(' ').collect();
    let pool = f[2].to_string();
    assert!(in_pool(&pool), "{setup}");
    let told = f[4]
        .split(';')
        .find_map(|p| p.strip_prefix("client_port="))
        .and_then(|p| p.split_once('-'))
        .unwrap_or_else(|| panic!("no client_port pair: {setup}"));
    assert!(f[4].starts_with("RTP/AVP;unicast;"), "{setup}");
    let (rtp_to, rtcp_to) = (format!("{pool}:{} ", told.0), format!("{pool}:{} ", told.1));

    // While the tone plays: RTP from the server, and RTCP (the server's sender reports,
    // every few seconds), each in a child of the RTSP session.
    let mut text = String::new();
    let child_to = |text: &str, to: &str| {
        sessions(text)
            .into_iter()
            .find(|s| flags(&s.0) & 0x0800 != 0 && (s.1.contains(to) || s.2.contains(to)))
    };
    let flowing = testbed::wait_for(Duration::from_secs(30), || {
        text = live.show("show services sessions");
        child_to(&text, &rtp_to).is_some_and(|s| frames(&s.1).max(frames(&s.2)) >= 100)
            && child_to(&text, &rtcp_to).is_some()
    });
    assert!(
        flowing,
        "no RTP and RTCP children: {text}\nclient: {:?}\n{}",
        client.drain().to_vec(),
        client.logs()
    );
    eprintln!("{text}");
    let all = sessions(&text);
    let control: Vec<_> = all.iter().filter(|s| s.1.contains(":554 ")).collect();
    assert_eq!(control.len(), 1, "{text}");
    assert!(control[0].0.contains("ALG: rtsp"), "{text}");
    assert!(flags(&control[0].0) & 0x2000 != 0, "parent flag: {text}");
    let media = [
        child_to(&text, &rtp_to).unwrap(),
        child_to(&text, &rtcp_to).unwrap(),
    ];
    for m in &media {
        assert!(
            m.0.contains("ALG: rtsp") && m.1.starts_with("UDP"),
            "{text}"
        );
    }
    let conv = live.show("show services alg conversations extensive");
    eprintln!("{conv}");
    assert!(conv.contains("RTSP ALG"), "{conv}");
    for s in [&control[0].0, &media[0].0, &media[1].0] {
        let id = mspic_tests::live::session_id(s);
        assert!(names_session(&conv, id), "session {id}: {conv}");
    }

    // The client got all 1000 buffers (10 s of the tone) and ended by itself.
    assert!(
        client.finish(),
        "the client did not get 1000 RTP buffers: {:?}\n{}\n{}",
        client.drain().to_vec(),
        client.logs(),
        live.show("show services sessions")
    );
    let text = live.show("show services sessions");
    let rtp = child_to(&text, &rtp_to).unwrap_or_else(|| panic!("{text}"));
    assert!(frames(&rtp.1).max(frames(&rtp.2)) >= 1000, "{text}");
}

/// pptpd's stand-in for pppd, which cannot run here: this kernel has no PPP (no
/// `/dev/ppp`). It writes its PID to the file `{pids}` and holds the call open until it is
/// ended ([`Standins`]) or pptpctrl, its parent, goes.
const PPP_STANDIN: &str = "#!/bin/sh\necho $$ >> {pids}\nexec tail -f --pid=$PPID /dev/null\n";

/// Ends the [`PPP_STANDIN`]s by the PIDs they wrote to the file, also when the test fails:
/// pptpctrl waits for its pppd when the control connection goes, and ends only then.
struct Standins(std::path::PathBuf);

impl Drop for Standins {
    fn drop(&mut self) {
        let pids = std::fs::read_to_string(&self.0).unwrap_or_default();
        for pid in pids.split_whitespace() {
            let _ = Command::new("kill").arg(pid).status();
        }
    }
}

/// The server's side of the GRE data, at the protocol level (pptpd sends data only from
/// pppd, which cannot run here): one enhanced GRE packet (RFC 2637 §4.1: flags K and S,
/// version 1, protocol 0x880b, payload length, the receiver's Call ID `argv[3]`, sequence
/// number 1) carrying an LCP Echo-Request (RFC 1661 §5.8), from `argv[1]` to `argv[2]`.
const GRE_SENDER: &str = r#"
import socket, struct, sys
ppp = bytes.fromhex('ff03c0210901000800000000')
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
s.bind((sys.argv[1], 0))
s.sendto(struct.pack('!HHHHI', 0x3001, 0x880b, len(ppp), int(sys.argv[3]), 1) + ppp, (sys.argv[2], 0))
"#;

/// An LCP Configure-Request (RFC 1661 §5.1, id 1, no options) in asynchronous HDLC framing
/// (RFC 1662: flag, address 0xff, control 0x03, protocol 0xc021, FCS-16, flag), what pppd
/// would write to `pptp --nolaunchpppd`'s stdin: pptp sends it to the server as one GRE
/// packet.
const LCP_FRAME: &[u8] = b"\x7e\xff\x7d\x23\xc0\x21\x7d\x21\x7d\x21\x7d\x20\x7d\x24\xd1\xb5\x7e";

/// Stands in for pppd's pty on `pptp --nolaunchpppd`, which reads and writes the PPP
/// stream on its fd 0: runs `argv[2:]` with one end of a socket pair as fd 0, copies its
/// own stdin there (closing that half at its end, which ends the call), and appends what
/// pptp writes (frames from the server) to the file `argv[1]`.
const PPP_PIPE: &str = r#"
import os, socket, subprocess, sys, threading
mine, theirs = socket.socketpair()
pptp = subprocess.Popen(sys.argv[2:], stdin=theirs)
theirs.close()
def to_pptp():
    while d := os.read(0, 4096):
        mine.sendall(d)
    mine.shutdown(socket.SHUT_WR)
threading.Thread(target=to_pptp, daemon=True).start()
with open(sys.argv[1], 'ab', buffering=0) as out:
    while d := mine.recv(4096):
        out.write(d)
sys.exit(pptp.wait())
"#;

/// [`GRE_SENDER`]'s LCP Echo-Request as pptp hands it to pppd: asynchronous HDLC framing
/// (RFC 1662 §4.2: control characters escaped as `0x7d`, `c ^ 0x20`), ending in the FCS-16
/// (0xf16e, least significant byte first) and the flag.
const LCP_ECHO_OUT: &[u8] =
    b"\xff\x7d\x23\xc0\x21\x7d\x29\x7d\x21\x7d\x20\x7d\x28\x7d\x20\x7d\x20\x7d\x20\x7d\x20\x6e\xf1\x7e";

/// The number in `NAME(…)` of a tcpdump PPTP line (`CALL_ID(37085)`).
fn pptp_field(line: &str, name: &str) -> u16 {
    line.split(&format!(" {name}("))
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {line}"))
}

/// One PPTP client's call as the server saw it: its pool address, the PNS's Call ID and
/// the PAC's.
struct PptpCall {
    pool: String,
    pns: u16,
    pac: u16,
}

/// Waits for the Outgoing-Call-Request and -Reply of the next call in the server's capture.
fn next_call(server: &mut Peer) -> PptpCall {
    let req = server.expect_that("OCRQ", |l| l.contains("CTRL_MSGTYPE=OCRQ"));
    let pool = req.split(' ').nth(2).unwrap();
    let pool = pool.rsplit_once('.').unwrap().0.to_string();
    let pns = pptp_field(&req, "CALL_ID");
    let rep = server.expect_that("OCRP", |l| l.contains("CTRL_MSGTYPE=OCRP"));
    assert_eq!(pptp_field(&rep, "PEER_CALL_ID"), pns, "{rep}");
    assert_eq!(pptp_field(&rep, "RESULT_CODE"), 1, "call refused: {rep}");
    PptpCall {
        pool,
        pns,
        pac: pptp_field(&rep, "CALL_ID"),
    }
}

/// PPTP (RFC 2637) against Debian's pptpd in the server namespace and two `pptp` clients
/// (pptp-linux) on the one inside address, through napt-44. pppd cannot run on either side
/// (this kernel has no PPP, no `/dev/ppp`): the clients run with `--nolaunchpppd`, taking
/// the PPP stream on fd 0 from [`PPP_PIPE`], and pptpd launches [`PPP_STANDIN`] instead of
/// pppd. tcpdump on both sides
/// shows each client's control connection (Start-Control-Connection, Outgoing-Call)
/// arriving from the pool, and the GRE v1 data each client sends (an LCP frame written to
/// its stdin) arriving at the server from the pool with the server's Call ID. Data back
/// from the server is sent by [`GRE_SENDER`], a protocol-level stand-in (pptpd only relays
/// what pppd writes), with the client's Call ID, and seen arriving at the client.
///
/// Under NAPT the ALG translates the PNS Call ID (crates/alg/src/pptp.rs): on two workers
/// each keeps only the ids of its own class, so the server may see another id than the
/// client chose, and each call's GRE is an ALG child keyed by call id, which writes the
/// client's own id back.
#[test]
fn pptp_control_and_gre_of_two_calls_through_napt() {
    peers_or_skip!(&[
        ("/usr/sbin/pptpd", "pptpd"),
        ("/usr/sbin/pptp", "pptp-linux"),
        ("/usr/bin/tcpdump", "tcpdump"),
    ]);
    let mut live = Live::start(&testbed_conf("", None), 2);
    answer_from_remote_server(&live);
    let dir = live.dir.path("pptpd");
    std::fs::create_dir_all(&dir).unwrap();
    let standin = dir.join("ppp-standin");
    let pids = dir.join("standin.pids");
    std::fs::write(
        &standin,
        PPP_STANDIN.replace("{pids}", pids.to_str().unwrap()),
    )
    .unwrap();
    let _standins = Standins(pids);
    std::fs::set_permissions(&standin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let options = dir.join("options");
    std::fs::write(&options, "").unwrap();
    let conf = dir.join("pptpd.conf");
    std::fs::write(
        &conf,
        format!(
            "ppp {}\noption {}\nlocalip 192.168.90.1\nremoteip 192.168.90.2-20\n",
            standin.display(),
            options.display()
        ),
    )
    .unwrap();
    let (conf_s, options_s) = (conf.display().to_string(), options.display().to_string());
    let pid = dir.join("pptpd.pid").display().to_string();
    live.serve(
        "pptpd",
        "/usr/sbin/pptpd",
        &[
            "-f",
            "-c",
            &conf_s,
            "-o",
            &options_s,
            "-l",
            REMOTE_SERVER,
            "-p",
            &pid,
        ],
    );
    live.wait_listening("tcp", 1723);
    let mut at_server = capture(
        &live,
        Role::Server,
        "sv-pptp",
        "tcp port 1723 or ip proto 47",
    );
    let mut at_client = capture(
        &live,
        Role::Client,
        "cl-gre",
        "tcp port 1723 or ip proto 47",
    );

    // Each client in a mount namespace with its own /run: pptp's call manager listens on
    // /run/pptp/SERVER, and a second pptp would otherwise place its call on the first
    // one's control connection. [`PPP_PIPE`] plays pppd's side of the PPP stream.
    let client = |live: &Live, name: &str| {
        let ppp_out = live.dir.path(&format!("{name}.ppp"));
        let mut c = live.tb.exec(Role::Client, "unshare");
        c.args([
            "-m",
            "sh",
            "-c",
            "mount -t tmpfs tmpfs /run && exec \"$@\"",
            "sh",
        ])
        .args([PYTHON, "-c", PPP_PIPE])
        .arg(&ppp_out)
        .args(["/usr/sbin/pptp", REMOTE_SERVER])
        .args(["--nolaunchpppd", "--debug", "--nohostroute"]);
        (Peer::spawn(live, name, c), ppp_out)
    };
    // The Call ID each client chose, as it sent it.
    let own_call = |at_client: &mut Peer| {
        let req = at_client.expect_that("OCRQ", |l| l.contains("CTRL_MSGTYPE=OCRQ"));
        pptp_field(&req, "CALL_ID")
    };
    let (mut a, a_ppp) = client(&live, "pptp-a");
    let call_a = next_call(&mut at_server);
    let own_a = own_call(&mut at_client);
    let (mut b, b_ppp) = client(&live, "pptp-b");
    let call_b = next_call(&mut at_server);
    let own_b = own_call(&mut at_client);
    for c in [&call_a, &call_b] {
        assert!(in_pool(&c.pool), "control not from the pool: {}", c.pool);
    }
    assert_ne!(call_a.pns, call_b.pns);

    // Each client's GRE reaches the server from the pool with the server's Call ID, and
    // the server's reaches the client with the client's, which hands its PPP frame on.
    for (peer, call, own, ppp) in [
        (&mut a, &call_a, own_a, &a_ppp),
        (&mut b, &call_b, own_b, &b_ppp),
    ] {
        let stdin = peer.child.stdin.as_mut().unwrap();
        stdin.write_all(LCP_FRAME).unwrap();
        stdin.flush().unwrap();
        let to_server = format!(
            " {} > {REMOTE_SERVER}: GREv1, call {},",
            call.pool, call.pac
        );
        at_server.expect_that(&to_server, |l| l.contains(&to_server));
        let pns = call.pns.to_string();
        let sent = live.exec(
            Role::Server,
            PYTHON,
            &["-c", GRE_SENDER, REMOTE_SERVER, &call.pool, &pns],
        );
        assert!(sent.status.success(), "{sent:?}");
        let to_client = format!(
            " {REMOTE_SERVER} > {}: GREv1, call {own},",
            testbed::CLIENT_ADDR,
        );
        at_client.expect_that(&to_client, |l| l.contains(&to_client));
        let handed_on = testbed::wait_for(Duration::from_secs(10), || {
            std::fs::read(ppp).is_ok_and(|b| b.ends_with(LCP_ECHO_OUT))
        });
        assert!(handed_on, "{:?}\n{}", std::fs::read(ppp), peer.logs());
    }

    let text = live.show("show services sessions");
    eprintln!("{text}");
    let all = sessions(&text);
    let control: Vec<_> = all.iter().filter(|s| s.1.contains(":1723 ")).collect();
    assert_eq!(control.len(), 2, "{text}");
    for c in &control {
        assert!(c.0.contains("ALG: pptp"), "{text}");
    }
    // The GRE of each call: an ALG child keyed by call id, the server's side towards the
    // Call ID it was told at the control connection's pool address.
    let gre: Vec<_> = all.iter().filter(|s| s.1.starts_with("GRE")).collect();
    assert_eq!(gre.len(), 2, "one GRE session per call: {text}");
    for call in [&call_a, &call_b] {
        let to_pool = format!(" {}:{} ", call.pool, call.pns);
        let g = gre
            .iter()
            .find(|s| s.1.contains(&to_pool) || s.2.contains(&to_pool))
            .unwrap_or_else(|| panic!("no GRE to {to_pool}: {text}"));
        assert!(g.0.contains("ALG: pptp"), "{text}");
        assert!(
            frames(&g.1) >= 1 && frames(&g.2) >= 1,
            "GRE frames both ways: {text}"
        );
    }
    let conv = live.show("show services alg conversations extensive");
    eprintln!("{conv}");
    assert!(conv.contains("PPTP ALG"), "{conv}");
    assert!(conv.contains("Number of conversations: 2"), "{conv}");
    for c in &control {
        let id = mspic_tests::live::session_id(&c.0);
        assert!(names_session(&conv, id), "session {id}: {conv}");
    }

    // Closing the PPP stream ends each call (Call-Clear-Request) and the client.
    for (peer, call) in [(&mut a, &call_a), (&mut b, &call_b)] {
        drop(peer.child.stdin.take());
        at_server.expect_that("CCRQ", |l| {
            l.contains("CTRL_MSGTYPE=CCRQ") && l.contains(&format!("CALL_ID({})", call.pns))
        });
        assert!(peer.finish(), "{}", peer.logs());
    }
}
