//! ALGs against real peers: Debian's servers and clients in the testbed, through mspicd with
//! napt-44 (docs/examples/testbed.conf: 10.0.0.0/24 → pool 203.0.113.128/25), with the
//! PIC's `show services …` answers checked during or after each exchange.
//!
//! Peers: pyftpdlib (server) and Python's ftplib (client) for FTP; tftpd-hpa and tftp-hpa
//! for TFTP; dnsmasq and dig for DNS; inetutils-talkd under openbsd-inetd with two
//! protocol-level talk peers for ntalk; rsh-redone's rshd under openbsd-inetd and its rsh for
//! rsh; rpcbind, nfs-common's rpc.statd and rpcinfo for Sun RPC. All run with Debian's
//! `/usr/bin/python3` where Python is needed (python3-pyftpdlib lives there). Needs root;
//! under `CI=true` a missing prerequisite fails the test.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mspic_tests::live::{sessions, Live};
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
        match expect(&self.lines, |l| l.starts_with(prefix), &mut self.said) {
            Ok(l) => l,
            Err(e) => panic!(
                "no `{prefix}…` from {} ({e}); it said: {:?}\n{}",
                self.name,
                self.said,
                self.logs()
            ),
        }
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
/// through sv0 with source 198.51.100.7, so that connection leaves from the address the
/// session knows (the ALG's pinhole admits the server's address only).
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
    let sv = live.tb.ns(Role::Server);
    let route = mspic_tests::live::output({
        let mut c = Command::new("ip");
        c.args([
            "-n",
            &sv,
            "route",
            "add",
            "203.0.113.128/25",
            "dev",
            "sv0",
            "src",
            REMOTE_SERVER,
        ]);
        c
    });
    assert!(route.status.success(), "{route:?}");

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

/// testbed.conf whose firewall lets the inside reach only the portmapper (TCP and UDP 111,
/// with its ALG): anything else has to come through a pinhole the portmapper's answers open.
fn portmap_only_conf() -> String {
    let conf = mspic_tests::live::repo_file("docs/examples/testbed.conf");
    let start = conf
        .find("            term alg {")
        .expect("testbed.conf has the ALG term");
    let end = conf.find("    nat {").expect("testbed.conf has NAT");
    let rule = "            term portmap {
                from {
                    source-address {
                        10.0.0.0/24;
                    }
                    applications junos-rpc-portmap;
                }
                then {
                    accept;
                }
            }
        }
    }
";
    format!("{}{rule}{}", &conf[..start], &conf[end..])
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
