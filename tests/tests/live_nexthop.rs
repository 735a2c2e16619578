//! The CGNAT design on real packets: mspicd runs docs/examples/nexthop.conf, whose static
//! route sends the client's traffic for the servers to the inside unit of a next-hop
//! service set (napt-44); the serviced packets are routed on to the server namespace. A
//! download from the client completes, the server sees the pool address, and `show
//! services sessions` shows the session with its translation.
//!
//! Needs root (CI runs as root), network namespaces, XDP and AF_XDP; outside CI the test
//! skips, saying why, when they are missing; under `CI=true` that fails.

use mspic_tests::live::{frames, repo_file, sessions, Live};
use mspic_tests::testbed::{self, Role, REMOTE_SERVER};

#[test]
fn cgnat_next_hop_service_set_end_to_end() {
    let missing = testbed::unavailable().or_else(mspic_dataplane::xdp::kernel_lacks_feature);
    if let Some(why) = missing {
        testbed::skip_or_fail(&why);
        return;
    }
    let mut live = Live::start(&repo_file("docs/examples/nexthop.conf"), 1);
    let www = live.dir.path("www");
    std::fs::create_dir_all(&www).unwrap();
    let body: Vec<u8> = (0..1024 * 1024u32)
        .map(|i| (i * 7 + i / 251) as u8)
        .collect();
    std::fs::write(www.join("file.bin"), &body).unwrap();
    let dir = www.to_str().unwrap();
    let args = [
        "-m",
        "http.server",
        "80",
        "--bind",
        REMOTE_SERVER,
        "--directory",
        dir,
    ];
    live.serve("http", "python3", &args);
    live.wait_listening("tcp", 80);

    let got = live.dir.path("got.bin");
    let url = format!("http://{REMOTE_SERVER}/file.bin");
    let curl_args = ["-sS", "--max-time", "15", "-o", got.to_str().unwrap(), &url];
    let curl = live.exec(Role::Client, "curl", &curl_args);
    assert!(
        curl.status.success(),
        "curl: {}\n{}",
        String::from_utf8_lossy(&curl.stderr),
        live.log()
    );
    assert!(
        std::fs::read(&got).unwrap() == body,
        "downloaded file differs"
    );

    // The server saw a pool address (203.0.113.128/25), never the client's.
    let http_log = std::fs::read_to_string(live.dir.path("http.log")).unwrap();
    let peer = http_log
        .lines()
        .find(|l| l.contains("GET /file.bin"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|a| a.parse::<std::net::Ipv4Addr>().ok())
        .unwrap_or_else(|| panic!("no request in the server log: {http_log}"));
    let o = peer.octets();
    assert!(
        o[..3] == [203, 0, 113] && o[3] >= 128,
        "server saw {peer}, not a pool address"
    );

    let text = live.show("show services sessions");
    let tcp: Vec<_> = sessions(&text)
        .into_iter()
        .filter(|s| s.1.contains(&format!("{REMOTE_SERVER}:80 ")))
        .collect();
    assert_eq!(tcp.len(), 1, "{text}");
    let (_, i_flow, o_flow) = &tcp[0];
    assert!(
        i_flow.starts_with("TCP") && i_flow.contains("10.0.0.2:"),
        "{text}"
    );
    assert!(o_flow.contains("203.0.113.1"), "O flow to the pool: {text}");
    assert!(frames(i_flow) > 10 && frames(o_flow) > 10, "{text}");
    let ext = live.show("show services sessions extensive");
    assert!(ext.contains("Translation Type - NAPT-44"), "{ext}");
    assert!(ext.contains("NAT source        10.0.0.2:"), "{ext}");
    let pool = live.show("show services nat pool detail");
    assert!(pool.contains("cgn-pool"), "{pool}");
}
