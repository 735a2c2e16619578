//! mspicd on real packets: each test builds its own uniquely named testbed (client, PIC and
//! server namespaces, veth pairs), runs mspicd with XDP + AF_XDP in the PIC namespace, sends
//! real traffic from the client namespace to servers in the server namespace, and checks
//! what the hosts saw and what `mspic show …` reports. Namespaces and processes are removed
//! even when a test fails (Drop guards). Traffic never leaves the namespaces made here.
//!
//! Needs root (CI runs as root). Outside CI a test skips, saying why, only when the kernel
//! or the machine lacks network namespaces, XDP or AF_XDP; under `CI=true` that fails.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use mspic_tests::live::{counter, frames, output, repo_file, session_id, sessions, Live};
use mspic_tests::testbed::{self, Role, Spawned, Testbed, REMOTE_SERVER};

/// Why this machine cannot run the live tests (`None`: it can).
fn skip_reason() -> Option<String> {
    if let Some(r) = testbed::unavailable() {
        return Some(r);
    }
    mspic_dataplane::xdp::kernel_lacks_feature()
}

macro_rules! live_or_skip {
    () => {
        if let Some(why) = skip_reason() {
            testbed::skip_or_fail(&why);
            return;
        }
    };
}

/// Frames the client sent and received in the capture at `path` (`None` while it cannot be
/// read whole).
fn capture_counts(path: &Path) -> Option<(u64, u64)> {
    let capture = mspic_tests::trace::read_capture(path).ok()?;
    let (mut sent, mut received) = (0, 0);
    for f in &capture.frames {
        let p = mspic_wire::parse_frame(&f.data).ok()?;
        if p.key.src.to_string() == "10.0.0.2" {
            sent += 1;
        } else {
            received += 1;
        }
    }
    Some((sent, received))
}

fn testbed_config(extra_ms_options: &str) -> String {
    repo_file("docs/examples/testbed.conf").replace(
        "            inactivity-timeout 30;",
        &format!("            inactivity-timeout 30;\n{extra_ms_options}"),
    )
}

#[test]
fn napt_tcp_udp_icmp_end_to_end() {
    live_or_skip!();
    let mut live = Live::start(&testbed_config("            close-timeout 60;"), 1);
    // A 10 MB file behind an HTTP server, a DNS server, and the client's view of both.
    let www = live.dir.path("www");
    std::fs::create_dir_all(&www).unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let body: Vec<u8> = (0..10 * 1024 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(www.join("big.bin"), &body).unwrap();
    live.serve(
        "http",
        "python3",
        &[
            "-m",
            "http.server",
            "80",
            "--bind",
            REMOTE_SERVER,
            "--directory",
            www.to_str().unwrap(),
        ],
    );
    live.serve(
        "dns",
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
    live.wait_listening("tcp", 80);
    live.wait_listening("udp", 53);

    // ICMP echo through napt-44.
    let ping = live.ping(3);
    assert!(
        ping.status.success(),
        "ping: {}\n{}",
        String::from_utf8_lossy(&ping.stdout),
        live.log()
    );

    // UDP: a DNS query answered through the translation.
    let dig = live.exec(
        Role::Client,
        "dig",
        &[
            "+short",
            "+time=2",
            "+tries=2",
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

    // TCP: a 10 MB download, checksummed at the client, captured at the client for counts.
    let cap = live.dir.path("client.pcap");
    let mut tcpdump = live.tb.exec(Role::Client, "tcpdump");
    let tcpdump_log = live.dir.path("tcpdump.log");
    tcpdump
        .args([
            "-i",
            "cl0",
            "-B",
            "65536",
            "-U",
            "-w",
            cap.to_str().unwrap(),
            "tcp port 80",
        ])
        .stderr(std::fs::File::create(&tcpdump_log).unwrap());
    let mut tcpdump = Spawned::new("tcpdump", tcpdump).unwrap();
    let start = Instant::now();
    while !std::fs::read_to_string(&tcpdump_log)
        .unwrap_or_default()
        .contains("listening on")
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "tcpdump did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let got = live.dir.path("got.bin");
    let curl = live.exec(
        Role::Client,
        "curl",
        &[
            "-sS",
            "--max-time",
            "60",
            "-o",
            got.to_str().unwrap(),
            &format!("http://{REMOTE_SERVER}/big.bin"),
        ],
    );
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
    // Let the teardown (FIN, ACK) finish: wait until the engine's TCP frame counters stop
    // moving, then stop the capture and make sure it is whole.
    live.wait_quiet("TCP");
    // tcpdump writes each frame as it reads it (-U) but may lag behind the wire: wait until
    // its file holds as many frames as the engine counted (checked exactly below).
    let engine_counts = || {
        let all = sessions(&live.show("show services sessions"));
        all.iter()
            .find(|s| s.1.contains(":80 "))
            .map(|s| (frames(&s.1), frames(&s.2)))
    };
    let want = engine_counts();
    testbed::wait_for(Duration::from_secs(10), || {
        capture_counts(&cap).is_some_and(|c| Some(c) == want)
    });
    tcpdump.signal("INT").unwrap();
    tcpdump.wait_timeout(Duration::from_secs(5)).unwrap();
    let report = std::fs::read_to_string(&tcpdump_log).unwrap();
    assert!(
        report
            .lines()
            .any(|l| l.trim() == "0 packets dropped by kernel"),
        "capture incomplete: {report}"
    );
    drop(tcpdump);

    // The server saw the pool address, not the client.
    let http_log = std::fs::read_to_string(live.dir.path("http.log")).unwrap();
    assert!(http_log.contains("203.0.113.1"), "server log: {http_log}");
    assert!(
        !http_log.contains("10.0.0.2"),
        "server saw the inside address: {http_log}"
    );

    let text = live.show("show services sessions");
    let all = sessions(&text);
    let icmp: Vec<_> = all.iter().filter(|s| s.1.starts_with("ICMP")).collect();
    assert_eq!(icmp.len(), 1, "{text}");
    assert!(
        icmp[0].1.contains("10.0.0.2") && icmp[0].1.contains(REMOTE_SERVER),
        "{text}"
    );
    assert!(
        icmp[0].2.contains("203.0.113.1"),
        "O flow to the pool: {text}"
    );
    assert_eq!((frames(&icmp[0].1), frames(&icmp[0].2)), (3, 3), "{text}");
    // The DNS ALG (junos-dns-udp in the rule) closed the query's session with its answer.
    assert!(!text.contains(":53 "), "{text}");
    let tcp: Vec<_> = all.iter().filter(|s| s.1.contains(":80 ")).collect();
    assert_eq!(tcp.len(), 1, "{text}");
    // Frame counts equal what the client sent and received.
    let (sent, received) = capture_counts(&cap).expect("a readable capture");
    assert_eq!(
        (frames(&tcp[0].1), frames(&tcp[0].2)),
        (sent, received),
        "{text}"
    );
    let ext = live.show("show services sessions extensive");
    assert!(ext.contains("Translation Type - NAPT-44"), "{ext}");
    let pool = live.show("show services nat pool detail");
    // ICMP and TCP; the DNS query's port went back with its session.
    assert!(pool.contains("Ports in use: 2,"), "{pool}");
}

#[test]
fn idle_timeout_expires_sessions() {
    live_or_skip!();
    let cfg = repo_file("docs/examples/testbed.conf")
        .replace("inactivity-timeout 30;", "inactivity-timeout 4;");
    let live = Live::start(&cfg, 1);
    assert!(live.ping(1).status.success(), "{}", live.log());
    assert_eq!(sessions(&live.show("show services sessions")).len(), 1);
    let start = Instant::now();
    let gone = testbed::wait_for(Duration::from_secs(15), || {
        sessions(&live.show("show services sessions")).is_empty()
    });
    let took = start.elapsed();
    assert!(
        gone,
        "still there 15 s after the last packet (4 s timeout): {}",
        live.show("show services sessions")
    );
    assert!(
        took >= Duration::from_secs(3),
        "expired early, after {took:?}"
    );
}

#[test]
fn firewall_discard_shows_a_drop_session() {
    live_or_skip!();
    let cfg = repo_file("docs/examples/testbed.conf").replace(
        "            term alg {",
        "            term no-ping {\n                from { applications junos-icmp-all; }\n                then { discard; }\n            }\n            term alg {",
    );
    let live = Live::start(&cfg, 1);
    assert!(
        !live.ping(2).status.success(),
        "ping went through a discard term"
    );
    let text = live.show("show services sessions");
    let s = sessions(&text);
    assert_eq!(s.len(), 1, "{text}");
    assert!(s[0].1.contains(" Drop "), "{text}");
    assert_eq!(frames(&s[0].1), 2, "{text}");
    let stats = live.show("show services stateful-firewall statistics");
    assert!(stats.contains("Rule Discards: 1"), "{stats}");
}

#[test]
fn two_queues_spread_flows_and_hand_off() {
    live_or_skip!();
    let mut live = Live::start(&testbed_config(""), 2);
    live.serve(
        "udp-echo",
        "python3",
        &[
            "-c",
            "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('198.51.100.7',7))\nwhile True:\n d,a=s.recvfrom(2048)\n s.sendto(d,a)",
        ],
    );
    live.wait_listening("udp", 7);
    // 40 UDP flows from distinct ports, each one request answered by the echo server.
    let client = "import socket\nok=0\nfor p in range(41000,41040):\n s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n s.bind(('10.0.0.2',p))\n s.settimeout(2)\n s.sendto(b'hello',('198.51.100.7',7))\n try:\n  d,_=s.recvfrom(100); ok+=d==b'hello'\n except OSError: pass\nprint(ok)";
    let out = live.exec(Role::Client, "python3", &["-c", client]);
    let ok: u32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(ok >= 38, "{ok}/40 echoes came back\n{}", live.log());
    let text = live.show("show services sessions protocol udp");
    let ids: Vec<u64> = sessions(&text).iter().map(|s| session_id(&s.0)).collect();
    assert!(ids.len() >= 38, "{text}");
    // Shard k numbers its sessions k+1, k+1+N, …: both parities means both workers.
    assert!(
        ids.iter().any(|i| i % 2 == 0) && ids.iter().any(|i| i % 2 == 1),
        "{ids:?}"
    );
    // The counts of both workers, unfiltered (their live counters) and filtered (a walk
    // of each table), agree with the listings.
    let count = |live: &Live, cmd: &str| -> usize {
        let text = live.show(cmd);
        text.lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().last()?.parse::<usize>().ok())
            .sum()
    };
    let all = sessions(&live.show("show services sessions")).len();
    assert_eq!(count(&live, "show services sessions count"), all);
    assert_eq!(
        count(&live, "show services sessions count protocol udp"),
        ids.len()
    );
    assert_eq!(
        count(&live, "show services flows count protocol udp"),
        2 * ids.len()
    );
    let ping = String::from_utf8_lossy(&output(live.mspic(&["ping"])).stdout).to_string();
    // `frames: … N handed to another worker`
    let handoffs: u64 = ping
        .lines()
        .filter_map(|l| {
            let i = l.find(" handed to another worker")?;
            l[..i].rsplit(' ').next()?.parse::<u64>().ok()
        })
        .sum();
    assert!(
        handoffs > 0,
        "no frame was handed to another worker:\n{ping}"
    );
}

fn xdp_on(tb: &Testbed, dev: &str) -> bool {
    let out = output({
        let mut c = Command::new("ip");
        c.args(["-n", &tb.ns(Role::Pic), "-d", "link", "show", "dev", dev]);
        c
    });
    String::from_utf8_lossy(&out.stdout).contains("xdp")
}

#[test]
fn sigterm_detaches_and_sighup_keeps_sessions() {
    live_or_skip!();
    let cfg = testbed_config("");
    let mut live = Live::start(&cfg, 1);
    assert!(
        xdp_on(&live.tb, "pin") && xdp_on(&live.tb, "pout"),
        "no XDP program attached"
    );
    assert!(
        live.ping_id(1, Some(4242)).status.success(),
        "{}",
        live.log()
    );
    let before = sessions(&live.show("show services sessions"));
    assert_eq!(before.len(), 1);
    // Reload with a changed configuration: the session and its counters stay.
    std::fs::write(
        &live.config,
        cfg.replace("inactivity-timeout 30;", "inactivity-timeout 60;"),
    )
    .unwrap();
    live.daemon.signal("HUP").unwrap();
    live.wait_log("in force (reloaded on SIGHUP)", 1);
    let after = sessions(&live.show("show services sessions"));
    assert_eq!(after.len(), 1, "{}", live.log());
    assert_eq!(session_id(&after[0].0), session_id(&before[0].0));
    assert!(live.ping_id(1, Some(4242)).status.success());
    let again = sessions(&live.show("show services sessions"));
    assert_eq!(frames(&again[0].1), 2, "the same session kept counting");
    // A new session gets the new configuration's timeout.
    assert!(live.ping_id(1, Some(4343)).status.success());
    let ext = live.show("show services sessions extensive");
    assert!(
        ext.contains("Timeout: 60"),
        "the new timeout is not in force: {ext}"
    );
    // A configuration with errors is refused and the running one stays.
    std::fs::write(&live.config, "services { nonsense; }").unwrap();
    live.daemon.signal("HUP").unwrap();
    live.wait_log("refused, the running one stays", 1);
    let log = live.log();
    assert!(
        log.contains(&format!("{}:1:", live.config.display())),
        "the refusal does not name file:line:col: {log}"
    );
    assert_eq!(sessions(&live.show("show services sessions")).len(), 2);
    // SIGTERM: exit 0, nothing left on the netdevs.
    live.daemon.signal("TERM").unwrap();
    let status = live.daemon.wait_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(status.map(|s| s.success()), Some(true), "{}", live.log());
    assert!(
        !xdp_on(&live.tb, "pin") && !xdp_on(&live.tb, "pout"),
        "XDP left behind"
    );
    assert!(!live.socket.exists(), "socket left behind");
}

/// The echoes of `n` UDP flows from 10.0.0.2 (ports 41000…) through `live`: how many
/// came back.
fn udp_echoes(live: &mut Live, n: u16) -> u32 {
    live.serve(
        "udp-echo",
        "python3",
        &[
            "-c",
            "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('198.51.100.7',7))\nwhile True:\n d,a=s.recvfrom(2048)\n s.sendto(d,a)",
        ],
    );
    live.wait_listening("udp", 7);
    let client = format!("import socket\nok=0\nfor p in range(41000,{}):\n s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n s.bind(('10.0.0.2',p))\n s.settimeout(2)\n s.sendto(b'hello',('198.51.100.7',7))\n try:\n  d,_=s.recvfrom(100); ok+=d==b'hello'\n except OSError: pass\nprint(ok)", 41000 + n);
    let out = live.exec(Role::Client, "python3", &["-c", &client]);
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// Secured port block allocation and deterministic NAPT44 on two workers: the XDP
/// program steers the replies to a pool port by its block, so every echo of the
/// subscriber's flows comes back, its ports all lie in one block, and the block's worker
/// holds its sessions (docs/examples/pba.conf, docs/examples/deterministic.conf).
#[test]
fn port_blocks_on_two_queues() {
    live_or_skip!();
    for (conf, block) in [("pba.conf", 256u16), ("deterministic.conf", 2016)] {
        let mut live = Live::start(&repo_file(&format!("docs/examples/{conf}")), 2);
        let ok = udp_echoes(&mut live, 20);
        assert!(ok >= 19, "{conf}: {ok}/20 echoes came back\n{}", live.log());
        let text = live.show("show services sessions extensive protocol udp");
        let ports: Vec<u16> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("NAT source"))
            .filter_map(|l| l.rsplit(':').next()?.trim().parse().ok())
            .collect();
        assert!(ports.len() >= 19, "{conf}: {text}");
        let blocks: std::collections::HashSet<u16> =
            ports.iter().map(|p| (p - 1024) / block).collect();
        assert_eq!(blocks.len(), 1, "{conf}: {ports:?}");
        let b = *blocks.iter().next().unwrap();
        // Shard k numbers its sessions k+1, k+1+N, …: the block's owner (b % 2) holds them.
        let ids: Vec<u64> = sessions(&text).iter().map(|s| session_id(&s.0)).collect();
        assert!(
            ids.iter().all(|i| (i - 1) % 2 == u64::from(b % 2)),
            "{conf}: block {b}, sessions {ids:?}"
        );
        if conf == "deterministic.conf" {
            // 10.0.0.2 is the range's second subscriber: block 1.
            assert_eq!(b, 1, "{ports:?}");
        }
        let detail = live.show("show services nat pool detail");
        assert!(detail.contains("Pool users: 1\n"), "{conf}: {detail}");
    }
}

/// `clear services nat statistics` and `clear services stateful-firewall statistics` reach
/// every worker through the control channel `clear services sessions` uses: the counters
/// read zero after them on both queues, the session stays, and new traffic counts again.
#[test]
fn clear_statistics_reaches_every_worker() {
    live_or_skip!();
    let live = Live::start(&testbed_config(""), 2);
    assert!(
        live.ping_id(2, Some(0x4d01)).status.success(),
        "{}",
        live.log()
    );
    let nat = |live: &Live| live.show("show services nat statistics");
    let sfw = |live: &Live| live.show("show services stateful-firewall statistics");
    assert_eq!(counter(&nat(&live), "nat-total-session-create"), 1);
    assert_eq!(counter(&sfw(&live), "Rule Accepts"), 1);

    assert_eq!(live.show("clear services nat statistics"), "");
    assert_eq!(counter(&nat(&live), "nat-total-session-create"), 0);
    assert_eq!(counter(&sfw(&live), "Rule Accepts"), 1);
    assert_eq!(
        live.show("clear services stateful-firewall statistics interface ms-1/1/0"),
        ""
    );
    assert_eq!(counter(&sfw(&live), "Rule Accepts"), 0);
    assert_eq!(sessions(&live.show("show services sessions")).len(), 1);

    assert!(
        live.ping_id(1, Some(0x4d02)).status.success(),
        "{}",
        live.log()
    );
    assert_eq!(counter(&nat(&live), "nat-total-session-create"), 1);
    assert_eq!(counter(&sfw(&live), "Rule Accepts"), 1);
}

/// `show services service-sets cpu-usage` and `memory-usage` of the live dataplane (Junos
/// pages of the same names): after UDP flows through two workers, the service set's share
/// of the workers' time is above zero, the rows (set, System, Idle) add up to the whole,
/// and the memory is that of the live sessions.
#[test]
fn service_set_cpu_and_memory_usage() {
    live_or_skip!();
    let mut live = Live::start(&testbed_config(""), 2);
    // A first query sets where the next one's interval starts.
    let cpu = |live: &Live| -> Vec<(String, f64)> {
        live.show("show services service-sets cpu-usage")
            .lines()
            .skip(1)
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                assert_eq!((w[0], w[3]), ("ms-1/1/0", "%"), "{l}");
                (w[1].to_string(), w[2].parse().unwrap())
            })
            .collect()
    };
    assert_eq!(cpu(&live).len(), 3);
    assert_eq!(udp_echoes(&mut live, 400), 400, "{}", live.log());
    let rows = cpu(&live);
    let names: Vec<&str> = rows.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["ss", "System", "Idle"]);
    assert!(rows[0].1 > 0.0, "{rows:?}");
    let total: f64 = rows.iter().map(|(_, p)| p).sum();
    assert!((total - 100.0).abs() < 0.05, "{rows:?}");
    let n = sessions(&live.show("show services sessions")).len() as u64;
    assert!(n >= 400, "{n} sessions");
    let mem = live.show("show services service-sets memory-usage service-set ss");
    let bytes: u64 = mem
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(bytes, n * mspic_flow::Shard::bytes_per_session(), "{mem}");
}

/// `show interfaces ms-1/1/0 extensive` on real traffic, two workers: the pings' echoes and
/// replies are forwarded through the services interface (both shards' counts added), every
/// frame in is either sent on or dropped, and the frames a discard term refuses are drops.
#[test]
fn interface_counters_count_real_frames() {
    live_or_skip!();
    let counts = |live: &Live| -> [u64; 3] {
        let text = live.show("show interfaces ms-1/1/0 extensive");
        let value = |label: &str| -> u64 {
            let line = text
                .lines()
                .find(|l| l.starts_with(label))
                .unwrap_or_else(|| panic!("{label} in {text}"));
            line[label.len()..]
                .split_whitespace()
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        let drops = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Errors: 0, Drops: "))
            .and_then(|r| r.split(',').next())
            .and_then(|d| d.parse().ok())
            .unwrap_or_else(|| panic!("drops in {text}"));
        [
            value("   Input  packets:"),
            value("   Output packets:"),
            drops,
        ]
    };
    let live = Live::start(&testbed_config(""), 2);
    let [in0, out0, drop0] = counts(&live);
    assert!(live.ping(3).status.success(), "{}", live.log());
    let [in1, out1, drop1] = counts(&live);
    // Three echo requests out and their three replies back.
    assert_eq!(out1 - out0, 6);
    assert!(in1 - in0 >= 6);
    assert_eq!(in1, out1 + drop1, "every frame in is sent on or dropped");
    assert_eq!(in0, out0 + drop0);
    drop(live);

    let cfg = repo_file("docs/examples/testbed.conf").replace(
        "            term alg {",
        "            term no-ping {\n                from { applications junos-icmp-all; }\n                then { discard; }\n            }\n            term alg {",
    );
    let live = Live::start(&cfg, 1);
    let [_, out0, drop0] = counts(&live);
    assert!(
        !live.ping(2).status.success(),
        "ping went through a discard term"
    );
    let [in1, out1, drop1] = counts(&live);
    assert_eq!(out1, out0, "nothing forwarded");
    assert!(drop1 - drop0 >= 2, "the two echo requests are drops");
    assert_eq!(in1, out1 + drop1);
}

/// A TCP echo server on `REMOTE_SERVER:7007` in the server namespace, and a client in the
/// client namespace that sends `one`, reads the echo and prints `ready`, then, once the
/// file `go` appears in the scratch directory, sends `two` and prints `echo: two` or
/// `timeout` (3 s). Both are Linux TCP stacks: they answer keep-alives themselves.
fn idle_echo_pair(live: &mut Live) -> (std::path::PathBuf, std::path::PathBuf) {
    const SERVER: &str = "import socket,sys\n\
        l=socket.socket(); l.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
        l.bind((sys.argv[1],7007)); l.listen(1); c,_=l.accept()\n\
        while True:\n    d=c.recv(100)\n    if not d: break\n    c.sendall(d)\n";
    const CLIENT: &str = "import os,socket,sys,time\n\
        s=socket.create_connection((sys.argv[1],7007),timeout=5)\n\
        s.sendall(b'one\\n'); assert s.recv(100)==b'one\\n'\n\
        print('ready',flush=True)\n\
        end=time.time()+90\n\
        while not os.path.exists(sys.argv[2]):\n    \
            assert time.time()<end, 'never told to go on'\n    time.sleep(0.05)\n\
        s.sendall(b'two\\n'); s.settimeout(3)\n\
        try:\n    print('echo: '+s.recv(100).decode().strip(),flush=True)\n\
        except socket.timeout:\n    print('timeout',flush=True)\n";
    live.serve("echo", "python3", &["-c", SERVER, REMOTE_SERVER]);
    live.wait_listening("tcp", 7007);
    let (go, out) = (live.dir.path("go"), live.dir.path("client.out"));
    let mut c = live.tb.exec(Role::Client, "python3");
    c.args(["-c", CLIENT, REMOTE_SERVER, go.to_str().unwrap()])
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(live.dir.path("client.log")).unwrap());
    live.servers.push(Spawned::new("client", c).unwrap());
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    assert!(
        testbed::wait_for(Duration::from_secs(15), || read(&out).contains("ready")),
        "client: {} {}",
        read(&out),
        read(&live.dir.path("client.log"))
    );
    (go, out)
}

/// `tcp-tickles 1`, 4 s inactivity timeout: unanswered, a session would get one pair of
/// keep-alives at 4 s and go at 5 s, so four keep-alives can only mean the hosts answered
/// the first pair and the session lived on to a second one; the idle connection then still
/// carries data.
#[test]
fn tcp_tickles_keep_an_idle_connection_whose_ends_answer() {
    live_or_skip!();
    let cfg = repo_file("docs/examples/testbed.conf").replace(
        "inactivity-timeout 30;",
        "inactivity-timeout 4;\n            tcp-tickles 1;",
    );
    let mut live = Live::start(&cfg, 1);
    let (go, out) = idle_echo_pair(&mut live);
    let sent = || counter(&live.status(), "TCP keep-alives sent");
    assert!(
        testbed::wait_for(Duration::from_secs(30), || sent() >= 4),
        "{}",
        live.status()
    );
    let text = live.show("show services sessions");
    assert!(
        sessions(&text).iter().any(|s| s.1.contains(":7007 ")),
        "{text}"
    );
    std::fs::write(&go, "").unwrap();
    let read = || std::fs::read_to_string(&out).unwrap_or_default();
    assert!(
        testbed::wait_for(Duration::from_secs(10), || read().lines().count() >= 2),
        "{}",
        read()
    );
    assert!(read().contains("echo: two"), "{}", read());
}

/// The contrast: `tcp-tickles 0` removes the idle session at its timeout, and the
/// connection's next segment (not a SYN) finds none and is dropped.
#[test]
fn without_tcp_tickles_an_idle_connection_loses_its_session() {
    live_or_skip!();
    let cfg = repo_file("docs/examples/testbed.conf").replace(
        "inactivity-timeout 30;",
        "inactivity-timeout 4;\n            tcp-tickles 0;",
    );
    let mut live = Live::start(&cfg, 1);
    let (go, out) = idle_echo_pair(&mut live);
    let on_7007 = |live: &Live| {
        sessions(&live.show("show services sessions"))
            .iter()
            .any(|s| s.1.contains(":7007 "))
    };
    assert!(on_7007(&live));
    assert!(
        testbed::wait_for(Duration::from_secs(15), || !on_7007(&live)),
        "{}",
        live.show("show services sessions")
    );
    assert_eq!(counter(&live.status(), "TCP keep-alives sent"), 0);
    std::fs::write(&go, "").unwrap();
    let read = || std::fs::read_to_string(&out).unwrap_or_default();
    assert!(
        testbed::wait_for(Duration::from_secs(10), || read().lines().count() >= 2),
        "{}",
        read()
    );
    assert!(read().contains("timeout"), "{}", read());
}
