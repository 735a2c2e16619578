//! mspicd doing stateful NAT64 on real packets (docs/examples/testbed-nat64.conf): the
//! client reaches the IPv4 server over IPv6 only, at 64:ff9b::cb00:7102 (203.0.113.2 in the
//! well-known prefix, RFC 6052): ping6, a 3000-byte UDP datagram echoed back (fragments
//! both ways), an HTTP download with curl, and FTP in active
//! (`EPRT`) and passive (`EPSV`) mode with pyftpdlib as the server and Python's ftplib as
//! the client, through 1 and 2 workers; and by name, with unbound's dns64 module as the
//! client's resolver (RFC 6147).
//!
//! Needs root (CI runs as root). Outside CI the test skips, saying why, only when the
//! kernel or the machine lacks network namespaces, XDP or AF_XDP, or a peer program is
//! missing; under `CI=true` that fails.

use std::process::Command;

use mspic_tests::live::{body, frames, repo_file, sessions, Live};
use mspic_tests::testbed::{self, Role, CLIENT_ADDR6, SERVER_ADDR};

/// The IPv4 server as the IPv6 client reaches it.
const SERVER_NAT64: &str = "64:ff9b::cb00:7102";
/// Debian's interpreter, which has the packaged python3-pyftpdlib.
const PYTHON: &str = "/usr/bin/python3";

fn skip_reason() -> Option<String> {
    if let Some(r) = testbed::unavailable() {
        return Some(r);
    }
    if let Some(r) = mspic_dataplane::xdp::kernel_lacks_feature() {
        return Some(r);
    }
    let ftp = Command::new(PYTHON)
        .args(["-c", "import pyftpdlib"])
        .output()
        .is_ok_and(|o| o.status.success());
    (!ftp).then(|| "python3-pyftpdlib missing (cargo xtask deps)".into())
}

/// ftplib over IPv6 sends EPRT (active) and EPSV (passive) by itself (RFC 2428).
const FTP_CLIENT: &str = r#"
import ftplib, hashlib, sys
host, digest = sys.argv[1], sys.argv[2]
ftp = ftplib.FTP()
ftp.connect(host, 21, timeout=20)
ftp.login()
for passive in [False, True]:
    ftp.set_pasv(passive)
    h = hashlib.sha256()
    ftp.retrbinary('RETR big.bin', h.update)
    print('epsv' if passive else 'eprt', 'ok' if h.hexdigest() == digest else 'BAD', flush=True)
ftp.quit()
"#;

/// A UDP echo server on the IPv4 server: every datagram back to its sender.
const UDP_ECHO: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 9999))
while True:
    d, a = s.recvfrom(65535)
    s.sendto(d, a)
"#;

/// Sends a 3000-byte datagram over IPv6 and waits for it back (bounded: five tries of
/// five seconds).
const UDP_CLIENT: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(5)
d = bytes((i * 7) % 251 for i in range(3000))
for _ in range(5):
    s.sendto(d, (sys.argv[1], 9999))
    try:
        r, _ = s.recvfrom(65535)
    except socket.timeout:
        continue
    print('ok' if r == d else 'BAD %d' % len(r), flush=True)
    break
else:
    print('timeout', flush=True)
"#;

fn run(queues: u32) {
    let mut live = Live::start(&repo_file("docs/examples/testbed-nat64.conf"), queues);
    let data = body(2 * 1024 * 1024, 3);
    let www = live.serve_files(SERVER_ADDR, 8080, &[("big.bin", &data)]);
    let www_s = www.to_str().unwrap().to_string();
    live.serve(
        "ftpd",
        PYTHON,
        &[
            "-m",
            "pyftpdlib",
            "--interface",
            SERVER_ADDR,
            "--port",
            "21",
            "--directory",
            &www_s,
        ],
    );
    live.wait_listening("tcp", 21);

    let ping = live.exec(
        Role::Client,
        "ping",
        &["-6", "-n", "-c", "3", "-i", "0.2", "-W", "2", SERVER_NAT64],
    );
    assert!(
        ping.status.success(),
        "ping -6: {}\n{}\n{}",
        String::from_utf8_lossy(&ping.stdout),
        live.status(),
        live.log()
    );

    // A datagram larger than both links' MTU, both ways: the client's leaves in IPv6
    // fragments (each translated to an IPv4 fragment, RFC 7915 §5.1.1); the server's
    // answer in IPv4 fragments of 1500 bytes, 1528 once translated with a fragment header,
    // so each is cut again into IPv6 fragments (RFC 7915 §4, §4.1).
    live.serve("udpecho", PYTHON, &["-c", UDP_ECHO, SERVER_ADDR]);
    live.wait_listening("udp", 9999);
    let echo = live.exec(Role::Client, PYTHON, &["-c", UDP_CLIENT, SERVER_NAT64]);
    let said = String::from_utf8_lossy(&echo.stdout);
    assert!(
        echo.status.success() && said.trim() == "ok",
        "udp echo: {said}\n{}\n{}",
        String::from_utf8_lossy(&echo.stderr),
        live.log()
    );
    let stats = live.show("show services nat statistics");
    let fragmented = stats
        .lines()
        .find_map(|l| l.trim().strip_prefix("nat64-ipv6-fragmented-packets:"))
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert!(fragmented.is_some_and(|n| n >= 1), "{stats}");

    let got = live.dir.path("got.bin");
    let url = format!("http://[{SERVER_NAT64}]:8080/big.bin");
    let curl = live.exec(
        Role::Client,
        "curl",
        &[
            "-sS",
            "-g",
            "-6",
            "--max-time",
            "60",
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
    assert!(
        std::fs::read(&got).unwrap() == data,
        "downloaded file differs"
    );

    let digest = {
        let out = Command::new("sha256sum")
            .arg(www.join("big.bin"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    let ftp = live.exec(
        Role::Client,
        PYTHON,
        &["-c", FTP_CLIENT, SERVER_NAT64, &digest],
    );
    let said = String::from_utf8_lossy(&ftp.stdout);
    assert!(
        ftp.status.success() && said.contains("eprt ok") && said.contains("epsv ok"),
        "ftp: {said}\n{}\n{}",
        String::from_utf8_lossy(&ftp.stderr),
        live.log()
    );
    live.wait_quiet("TCP");

    let text = live.show("show services sessions extensive");
    assert!(text.contains("Translation Type - STATEFUL NAT64"), "{text}");
    let all = sessions(&live.show("show services sessions"));
    let icmp: Vec<_> = all.iter().filter(|s| s.1.starts_with("ICMPV6")).collect();
    assert_eq!(icmp.len(), 1, "{text}");
    assert!(
        icmp[0].1.contains(CLIENT_ADDR6) && icmp[0].1.contains(SERVER_NAT64),
        "{text}"
    );
    assert!(
        icmp[0].2.starts_with("ICMP ") && icmp[0].2.contains(SERVER_ADDR),
        "{text}"
    );
    assert_eq!((frames(&icmp[0].1), frames(&icmp[0].2)), (3, 3), "{text}");
    // Every session has an IPv6 flow of the client and an IPv4 flow of the server and the
    // pool (the active FTP child lists its IPv4 flow first: the server started it).
    let pool = "203.0.113.12";
    let (mut ftp_children, mut active) = (0, 0);
    for (h, a, b) in &all {
        let (v6, v4) = if a.contains(CLIENT_ADDR6) {
            (a, b)
        } else {
            (b, a)
        };
        assert!(
            v6.contains(CLIENT_ADDR6) && v6.contains("64:ff9b::"),
            "{text}"
        );
        assert!(v4.contains(SERVER_ADDR) && v4.contains(pool), "{text}");
        if h.contains("ALG: ftp") && h.contains("0x200800") {
            ftp_children += 1;
            active += usize::from(a.contains(SERVER_ADDR));
        }
    }
    assert_eq!(
        (ftp_children, active),
        (2, 1),
        "EPRT and EPSV children: {text}"
    );
}

#[test]
fn ipv6_client_reaches_ipv4_server() {
    if let Some(why) = skip_reason() {
        testbed::skip_or_fail(&why);
        return;
    }
    run(1);
}

#[test]
fn ipv6_client_reaches_ipv4_server_on_two_workers() {
    if let Some(why) = skip_reason() {
        testbed::skip_or_fail(&why);
        return;
    }
    run(2);
}

/// unbound on the client's loopback as its resolver, with the dns64 module (RFC 6147)
/// synthesizing AAAA records in 64:ff9b::/96 from the A records it finds, and
/// `example.test` forwarded to dnsmasq on the IPv4 server, which it reaches over IPv6
/// through NAT64 itself. Placeholders: `DIR`.
const UNBOUND_CONF: &str = r#"server:
    interface: ::1
    port: 53
    do-ip4: no
    do-ip6: yes
    access-control: ::1/128 allow
    username: ""
    chroot: ""
    directory: "DIR"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 1
    module-config: "dns64 iterator"
    dns64-prefix: 64:ff9b::/96
    do-not-query-localhost: no
    local-zone: "test." nodefault
    domain-insecure: "example.test"
forward-zone:
    name: "example.test."
    forward-addr: 64:ff9b::cb00:7102@53
"#;

/// `/etc/netns/<ns>/resolv.conf`, which `ip netns exec` mounts over `/etc/resolv.conf`
/// for the commands it runs in that namespace; removed when dropped.
struct NetnsResolvConf(std::path::PathBuf);

impl NetnsResolvConf {
    fn new(ns: &str, content: &str) -> Self {
        let dir = std::path::Path::new("/etc/netns").join(ns);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("resolv.conf"), content).unwrap();
        NetnsResolvConf(dir)
    }
}

impl Drop for NetnsResolvConf {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An IPv6-only client that knows the IPv4 server only by name: dig gets the synthesized
/// AAAA record from unbound, then ping6 and curl reach the server by name, every packet
/// (the DNS queries to dnsmasq included) through NAT64.
#[test]
fn ipv6_only_client_resolves_through_dns64_and_reaches_the_server_by_name() {
    if let Some(why) = skip_reason().or_else(|| {
        (!std::path::Path::new("/usr/sbin/unbound").exists())
            .then(|| "unbound missing (cargo xtask deps)".to_string())
    }) {
        testbed::skip_or_fail(&why);
        return;
    }
    let mut live = Live::start(&repo_file("docs/examples/testbed-nat64.conf"), 1);
    let data = body(256 * 1024, 5);
    live.serve_files(SERVER_ADDR, 8080, &[("page.bin", &data)]);
    // dnsmasq knows the server's A record only: an AAAA query gets no answer.
    live.serve(
        "dns",
        "dnsmasq",
        &[
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--user=root",
            "--port=53",
            &format!("--listen-address={SERVER_ADDR}"),
            "--bind-interfaces",
            &format!("--host-record=server.example.test,{SERVER_ADDR}"),
            &format!("--pid-file={}", live.dir.path("dnsmasq.pid").display()),
        ],
    );
    let conf = live.dir.path("unbound.conf");
    std::fs::write(
        &conf,
        UNBOUND_CONF.replace("DIR", live.dir.path("").to_str().unwrap()),
    )
    .unwrap();
    let mut unbound = live.tb.exec(Role::Client, "/usr/sbin/unbound");
    unbound
        .args(["-d", "-c", conf.to_str().unwrap()])
        .stdout(std::fs::File::create(live.dir.path("unbound.out")).unwrap())
        .stderr(std::fs::File::create(live.dir.path("unbound.log")).unwrap());
    live.servers
        .push(testbed::Spawned::new("unbound", unbound).unwrap());
    live.wait_listening("udp", 53);
    live.tb
        .wait_listening(Role::Client, "udp", 53, std::time::Duration::from_secs(15))
        .unwrap();
    let _resolv = NetnsResolvConf::new(&live.tb.ns(Role::Client), "nameserver ::1\n");
    let log = |live: &Live| {
        format!(
            "unbound: {}\n{}",
            std::fs::read_to_string(live.dir.path("unbound.log")).unwrap_or_default(),
            live.log()
        )
    };

    let dig = live.exec(
        Role::Client,
        "dig",
        &["+short", "AAAA", "server.example.test"],
    );
    let answer = String::from_utf8_lossy(&dig.stdout).trim().to_string();
    assert_eq!(answer, SERVER_NAT64, "dig: {}", log(&live));

    let ping = live.exec(
        Role::Client,
        "ping",
        &[
            "-6",
            "-n",
            "-c",
            "2",
            "-i",
            "0.2",
            "-W",
            "2",
            "server.example.test",
        ],
    );
    assert!(
        ping.status.success(),
        "ping -6 by name: {}\n{}",
        String::from_utf8_lossy(&ping.stdout),
        log(&live)
    );
    let got = live.dir.path("got.bin");
    let curl = live.exec(
        Role::Client,
        "curl",
        &[
            "-sS",
            "-6",
            "--max-time",
            "30",
            "-o",
            got.to_str().unwrap(),
            "http://server.example.test:8080/page.bin",
        ],
    );
    assert!(
        curl.status.success(),
        "curl by name: {}\n{}",
        String::from_utf8_lossy(&curl.stderr),
        log(&live)
    );
    assert!(
        std::fs::read(&got).unwrap() == data,
        "downloaded file differs"
    );
    // unbound's queries to dnsmasq crossed NAT64 as UDP sessions to port 53.
    let all = sessions(&live.show("show services sessions"));
    assert!(
        all.iter()
            .any(|s| s.1.starts_with("UDP") && s.1.contains(&format!("{SERVER_NAT64}:53"))),
        "{all:?}"
    );
}
