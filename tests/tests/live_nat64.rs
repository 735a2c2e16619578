//! mspicd doing stateful NAT64 on real packets (docs/examples/testbed-nat64.conf): the
//! client reaches the IPv4 server over IPv6 only, at 64:ff9b::cb00:7102 (203.0.113.2 in the
//! well-known prefix, RFC 6052): ping6, an HTTP download with curl, and FTP in active
//! (`EPRT`) and passive (`EPSV`) mode with pyftpdlib as the server and Python's ftplib as
//! the client, through 1 and 2 workers.
//!
//! Needs root (CI runs as root). Outside CI the test skips, saying why, only when the
//! kernel or the machine lacks network namespaces, XDP or AF_XDP, or a peer program is
//! missing; under `CI=true` that fails.

use std::process::Command;

use mspic_tests::live::{frames, repo_file, sessions, Live};
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

/// Deterministic bytes.
fn body(len: usize, seed: u64) -> Vec<u8> {
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

fn run(queues: u32) {
    let mut live = Live::start(&repo_file("docs/examples/testbed-nat64.conf"), queues);
    let www = live.dir.path("www");
    std::fs::create_dir_all(&www).unwrap();
    let data = body(2 * 1024 * 1024, 3);
    std::fs::write(www.join("big.bin"), &data).unwrap();
    let www_s = www.to_str().unwrap().to_string();
    live.serve(
        "http",
        "python3",
        &[
            "-m",
            "http.server",
            "8080",
            "--bind",
            SERVER_ADDR,
            "--directory",
            &www_s,
        ],
    );
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
    live.wait_listening("tcp", 8080);
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
