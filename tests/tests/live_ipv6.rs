//! mspicd on real IPv6 packets: a dual-stack stateful firewall (docs/examples/
//! testbed-dual-stack.conf) between the testbed's client and server namespaces. The PIC
//! resolves its IPv6 next hops and answers the hosts' neighbor solicitations itself
//! (RFC 4861), and keeps neighbor discovery, router discovery and MLD away from the
//! engine: `show services sessions` lists the echo and TCP sessions only.
//!
//! Needs root (CI runs as root). Outside CI the test skips, saying why, only when the
//! kernel or the machine lacks network namespaces, XDP or AF_XDP; under `CI=true` that
//! fails.

use mspic_tests::live::{body, counter, frames, repo_file, sessions, Live};
use mspic_tests::testbed::{self, Role, CLIENT_ADDR6, SERVER_ADDR6};

fn skip_reason() -> Option<String> {
    if let Some(r) = testbed::unavailable() {
        return Some(r);
    }
    mspic_dataplane::xdp::kernel_lacks_feature()
}

#[test]
fn ipv6_firewall_ping_and_download() {
    if let Some(why) = skip_reason() {
        testbed::skip_or_fail(&why);
        return;
    }
    let mut live = Live::start(&repo_file("docs/examples/testbed-dual-stack.conf"), 1);
    let data = body(2 * 1024 * 1024, 0x2545_F491_4F6C_DD1D);
    live.serve_files("::", 8080, &[("file.bin", &data)]);

    // ICMPv6 echo: the PIC resolves the server (NS/NA) and the client resolves the PIC.
    let ping = live.exec(
        Role::Client,
        "ping",
        &["-6", "-n", "-c", "3", "-i", "0.2", "-W", "2", SERVER_ADDR6],
    );
    assert!(
        ping.status.success(),
        "ping -6: {}\n{}\n{}",
        String::from_utf8_lossy(&ping.stdout),
        live.status(),
        live.log()
    );

    // TCP over IPv6: a download, compared byte for byte.
    let got = live.dir.path("got.bin");
    let url = format!("http://[{SERVER_ADDR6}]:8080/file.bin");
    let curl = live.exec(
        Role::Client,
        "curl",
        &[
            "-sS",
            "-g",
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
    live.wait_quiet("TCP");

    let text = live.show("show services sessions");
    let all = sessions(&text);
    // Only the echo and the download: no session for ND, router discovery or MLD.
    assert_eq!(all.len(), 2, "{text}");
    let icmp: Vec<_> = all.iter().filter(|s| s.1.starts_with("ICMP")).collect();
    assert_eq!(icmp.len(), 1, "{text}");
    assert!(
        icmp[0].1.contains(CLIENT_ADDR6) && icmp[0].1.contains(SERVER_ADDR6),
        "{text}"
    );
    assert_eq!((frames(&icmp[0].1), frames(&icmp[0].2)), (3, 3), "{text}");
    let tcp: Vec<_> = all.iter().filter(|s| s.1.starts_with("TCP")).collect();
    assert_eq!(tcp.len(), 1, "{text}");
    assert!(tcp[0].1.contains("8080"), "{text}");

    // The PIC answered solicitations and resolved the server itself.
    let status = live.status();
    assert!(counter(&status, "advertisements sent") >= 1, "{status}");
    assert!(counter(&status, "solicitations sent") >= 1, "{status}");
    assert!(counter(&status, "neighbor discovery") >= 2, "{status}");
    // The hosts' IPv6 neighbors are the PIC's port MACs.
    let neigh = live.exec(Role::Client, "ip", &["-6", "neigh", "show"]);
    let neigh = String::from_utf8_lossy(&neigh.stdout);
    assert!(neigh.contains("2001:db8:10::1 "), "{neigh}");
}
