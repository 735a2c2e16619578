//! mspicd as a DS-Lite AFTR on real packets (docs/examples/testbed-ds-lite.conf): the
//! client namespace is a B4, a Linux `ip6tnl` in `ipip6` mode from the client's IPv6
//! address to the softwire address 2001:db8:aaaa::1 (RFC 6333 §5, RFC 2473 with the
//! tunnel encapsulation limit option Linux adds), its IPv4 address 192.0.0.2 (§5.7) and
//! the route to the server's subnet over it. ping, an HTTP download with curl and a
//! 3000-byte UDP datagram echoed back (fragmented in IPv4 by the B4's host, in IPv6 by the
//! AFTR towards the B4 and, with the B4's link MTU raised to 1500, by the B4 towards the
//! AFTR, which reassembles) reach the IPv4 server through the softwire, through 1 and 2
//! workers.
//!
//! A kernel built without `ip6tnl` (CONFIG_IPV6_TUNNEL) gets the same B4 in user space
//! instead: a TUN device named `b4` whose IPv4 packets a small Python program sends in
//! IPv6 (a raw socket of next header 4) to the softwire address, and whose answers it
//! writes back; the AFTR sees the same packets without the encapsulation limit option.
//!
//! Needs root (CI runs as root). Outside CI the test skips, saying why, only when the
//! kernel or the machine lacks network namespaces, XDP or AF_XDP, or IPv6 tunnels; under
//! `CI=true` that fails.

use std::time::Duration;

use mspic_tests::live::{body, frames, repo_file, sessions, Live};
use mspic_tests::testbed::{self, Role, CLIENT_ADDR6, SERVER_ADDR};

const AFTR: &str = "2001:db8:aaaa::1";
const B4_HOST: &str = "192.0.0.2";

fn skip_reason() -> Option<String> {
    if let Some(r) = testbed::unavailable() {
        return Some(r);
    }
    mspic_dataplane::xdp::kernel_lacks_feature()
}

/// The user-space B4: IPv4 from the TUN device out in IPv6 to the AFTR, IPv4 in IPv6
/// from the AFTR back into the TUN device.
const USER_B4: &str = r#"
import fcntl, os, select, socket, struct, sys
local, remote, name = sys.argv[1:4]
tun = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(tun, 0x400454ca, struct.pack('16sH', name.encode(), 0x0001 | 0x1000))
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 4)
s.bind((local, 0))
while True:
    r, _, _ = select.select([tun, s], [], [])
    if tun in r:
        p = os.read(tun, 65535)
        if p and p[0] >> 4 == 4:
            s.sendto(p, (remote, 0))
    if s in r:
        p, a = s.recvfrom(65535)
        if a[0] == remote and p and p[0] >> 4 == 4:
            os.write(tun, p)
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

/// Sends a 3000-byte datagram and waits for it back (bounded: five tries of five
/// seconds).
const UDP_CLIENT: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
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

fn ip(live: &Live, args: &[&str]) -> Result<(), String> {
    let out = live.exec(Role::Client, "ip", args);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Makes the client namespace a B4: `ip -6 tunnel … mode ipip6`, else (no ip6tnl in the
/// kernel) the user-space one. Its MTU leaves room for the IPv6 header in 1500 bytes;
/// returned.
fn add_b4(live: &mut Live) -> &'static str {
    let tunnel = ip(
        live,
        &[
            "-6",
            "tunnel",
            "add",
            "b4",
            "mode",
            "ipip6",
            "local",
            CLIENT_ADDR6,
            "remote",
            AFTR,
            "dev",
            "cl0",
        ],
    );
    let mtu = match tunnel {
        // ip6tnl's own MTU: 1500 less the IPv6 header and the encapsulation limit option.
        Ok(()) => "1452",
        Err(e) => {
            eprintln!("no ip6tnl ({e}): a user-space B4 instead");
            live.spawn(
                Role::Client,
                "b4",
                "python3",
                &["-c", USER_B4, CLIENT_ADDR6, AFTR, "b4"],
            );
            let up = testbed::wait_for(Duration::from_secs(10), || {
                ip(live, &["link", "show", "dev", "b4"]).is_ok()
            });
            assert!(up, "the user-space B4 made no TUN device");
            "1460"
        }
    };
    for args in [
        &["link", "set", "b4", "mtu", mtu, "up"][..],
        &["addr", "add", "192.0.0.2/29", "dev", "b4"],
        &[
            "route",
            "add",
            "203.0.113.0/24",
            "dev",
            "b4",
            "src",
            B4_HOST,
        ],
    ] {
        ip(live, args).unwrap_or_else(|e| panic!("{e}"));
    }
    mtu
}

fn run(queues: u32) {
    let mut live = Live::start(&repo_file("docs/examples/testbed-ds-lite.conf"), queues);
    let b4_mtu = add_b4(&mut live);
    let data = body(2 * 1024 * 1024, 5);
    live.serve_files(SERVER_ADDR, 8080, &[("big.bin", &data)]);

    let ping = live.exec(
        Role::Client,
        "ping",
        &["-n", "-c", "3", "-i", "0.2", "-W", "2", SERVER_ADDR],
    );
    assert!(
        ping.status.success(),
        "ping over the softwire: {}\n{}\n{}",
        String::from_utf8_lossy(&ping.stdout),
        live.status(),
        live.log()
    );

    // A datagram larger than the links' MTU, both ways: the B4's host fragments it in
    // IPv4 (the later fragments follow the session of the first); the server's answer
    // comes in IPv4 fragments of 1500 bytes, too big for mtu-v6 once encapsulated, so the
    // AFTR cuts the tunnel packet into IPv6 fragments (RFC 6333 §5.3).
    live.serve("udpecho", "python3", &["-c", UDP_ECHO, SERVER_ADDR]);
    live.wait_listening("udp", 9999);
    let echo = |live: &Live| {
        let out = live.exec(Role::Client, "python3", &["-c", UDP_CLIENT, SERVER_ADDR]);
        let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            out.status.success() && said == "ok",
            "udp echo: {said}\n{}\n{}\n{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            live.show("show services softwire statistics"),
            live.show("show services sessions extensive"),
            live.log()
        );
    };
    echo(&live);
    // The B4 sending tunnel packets larger than the link (IPv4 packets of 1500 bytes,
    // 1540 once encapsulated, RFC 6333 §5.3): its IPv6 layer fragments them and the AFTR
    // reassembles them.
    ip(&live, &["link", "set", "b4", "mtu", "1500"]).unwrap_or_else(|e| panic!("{e}"));
    echo(&live);
    ip(&live, &["link", "set", "b4", "mtu", b4_mtu]).unwrap_or_else(|e| panic!("{e}"));

    let got = live.dir.path("got.bin");
    let url = format!("http://{SERVER_ADDR}:8080/big.bin");
    let curl = live.exec(
        Role::Client,
        "curl",
        &["-sS", "--max-time", "60", "-o", got.to_str().unwrap(), &url],
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
    live.wait_quiet("TCP");

    let text = live.show("show services sessions extensive");
    assert!(
        text.contains(&format!("Softwire: {CLIENT_ADDR6} -> {AFTR}\n")),
        "{text}"
    );
    assert!(text.contains("Translation Type - NAPT-44"), "{text}");
    let all = sessions(&live.show("show services sessions"));
    let icmp: Vec<_> = all.iter().filter(|s| s.1.starts_with("ICMP ")).collect();
    assert_eq!(icmp.len(), 1, "{text}");
    assert_eq!((frames(&icmp[0].1), frames(&icmp[0].2)), (3, 3), "{text}");
    for (_, i, o) in &all {
        assert!(i.contains(B4_HOST) && i.contains(SERVER_ADDR), "{text}");
        assert!(
            o.contains(SERVER_ADDR) && o.contains("203.0.113.12"),
            "{text}"
        );
    }
    let st = live.show("show services softwire statistics");
    let count = |label: &str| -> u64 {
        st.lines()
            .find(|l| l.starts_with(label))
            .and_then(|l| l.rsplit(':').next())
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{label} in {st}"))
    };
    // The download alone is over 1400 segments each way.
    assert!(count("Packets decapsulated") > 100, "{st}");
    assert!(count("Packets encapsulated") > 1400, "{st}");
    assert_eq!(count("Flows created"), all.len() as u64, "{st}");
    assert_eq!(count("Packets too big for mtu-v6 dropped"), 0, "{st}");
    assert!(count("Packets fragmented for mtu-v6") >= 1, "{st}");
    assert!(count("Tunnel packets reassembled") >= 1, "{st}");
    assert_eq!(count("Tunnel fragments dropped"), 0, "{st}");
}

#[test]
fn b4_reaches_ipv4_server_over_the_softwire() {
    if let Some(why) = skip_reason() {
        testbed::skip_or_fail(&why);
        return;
    }
    run(1);
}

#[test]
fn b4_reaches_ipv4_server_over_the_softwire_on_two_workers() {
    if let Some(why) = skip_reason() {
        testbed::skip_or_fail(&why);
        return;
    }
    run(2);
}
