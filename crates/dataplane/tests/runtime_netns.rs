//! The live runtime between real network namespaces (root):
//!
//! ```text
//!  ns <p>c                  ns <p>p (this test's Runtime)           ns <p>s
//!  cl0 10.0.0.2/24 ══veth══ pin  ge-0/0/0   ge-0/0/1  pout ══veth══ sv0 203.0.113.2/24
//!  gw 10.0.0.1              (2 queues, 2 workers, no kernel addresses) gw 203.0.113.1
//! ```
//!
//! `ping` and a UDP echo from the client to the server go through NAPT (pool
//! 203.0.113.128/25, docs/examples/testbed.conf); the test checks the replies, the source
//! address the server saw, the sessions the backend shows (with frame counts), that both
//! workers own sessions and that frames were handed between them, and the frame
//! accounting. Every address lives in the namespaces made here; they are removed on drop,
//! also when the test fails.
//!
//! Skipped (with a message) only when the kernel lacks XDP or AF_XDP.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mspic_control::Backend;
use mspic_dataplane::runtime::{PortConfig, Runtime, RuntimeConfig, RuntimeTuning};
use mspic_dataplane::xdp::{self, XdpMode};
use mspic_flow::{IfIndex, Policy, SessionFilter};
use mspic_tests::testbed::{Role, Testbed};

fn run(cmd: &mut Command, timeout: Duration) -> Output {
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{desc}: {e}"));
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{desc} timed out after {timeout:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sh(args: &[&str]) -> Output {
    let out = run(
        Command::new(args[0]).args(&args[1..]),
        Duration::from_secs(20),
    );
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Kills a background process on drop.
struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// This thread in another network namespace until dropped.
struct InNetns {
    home: File,
}

impl InNetns {
    fn enter(ns: &str) -> InNetns {
        let home = File::open("/proc/thread-self/ns/net").expect("own netns");
        let target = File::open(format!("/var/run/netns/{ns}")).expect("netns file");
        // SAFETY: setns(2) on a namespace fd we hold open; affects this thread only.
        let r = unsafe { libc::setns(target.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns {ns}: {}", std::io::Error::last_os_error());
        InNetns { home }
    }
}

impl Drop for InNetns {
    fn drop(&mut self) {
        // SAFETY: as in `enter`, back to the namespace we came from.
        unsafe { libc::setns(self.home.as_raw_fd(), libc::CLONE_NEWNET) };
    }
}

/// The testbed (`mspic_tests::testbed`, removed on drop) with `queues`
/// queues on every veth, and its client, PIC and server namespace names.
fn testbed(queues: u32) -> (Testbed, String, String, String) {
    let tb = Testbed::unique(queues).expect("testbed");
    let (cl, pic, sv) = (tb.ns(Role::Client), tb.ns(Role::Pic), tb.ns(Role::Server));
    (tb, cl, pic, sv)
}

fn policy() -> Arc<Policy> {
    let text = include_str!("../../../docs/examples/testbed.conf");
    let cfg = mspic_config::parse(text, "testbed.conf").expect("testbed config parses");
    Arc::new(Policy::compile(&cfg).expect("compiles"))
}

fn on_path(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Echo requests from the client namespace; returns how many replies came back.
fn ping(ns: &str, dst: &str, count: u32) -> u32 {
    if on_path("ping") {
        let out = run(
            Command::new("ip").args([
                "netns",
                "exec",
                ns,
                "ping",
                "-n",
                "-c",
                &count.to_string(),
                "-i",
                "0.2",
                "-W",
                "3",
                dst,
            ]),
            Duration::from_secs(30),
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        return text
            .split(',')
            .find_map(|part| part.trim().strip_suffix(" received"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("ping output: {text}"));
    }
    // No ping binary: the same exchange with a raw ICMP socket.
    const SCRIPT: &str = r#"
import os, socket, struct, sys, time
dst, count = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(3)
def csum(b):
    if len(b) % 2: b += b'\0'
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xffff); t += t >> 16
    return ~t & 0xffff
ident, got = os.getpid() & 0xffff, 0
for seq in range(1, count + 1):
    body = b'mspic-ping-%d' % seq
    h = struct.pack('!BBHHH', 8, 0, 0, ident, seq)
    s.sendto(struct.pack('!BBHHH', 8, 0, csum(h + body), ident, seq) + body, (dst, 0))
    end = time.time() + 3
    while time.time() < end:
        try:
            d, a = s.recvfrom(2048)
        except socket.timeout:
            break
        ihl = (d[0] & 15) * 4
        t, _, _, i, q = struct.unpack('!BBHHH', d[ihl:ihl + 8])
        if t == 0 and i == ident and q == seq:
            got += 1
            break
    time.sleep(0.2)
print(got)
"#;
    let out = run(
        Command::new("ip").args([
            "netns",
            "exec",
            ns,
            "python3",
            "-c",
            SCRIPT,
            dst,
            &count.to_string(),
        ]),
        Duration::from_secs(30),
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("ping script output")
}

/// CPU time (user + system, ms) of this process's worker threads.
fn worker_cpu_ms() -> u64 {
    // SAFETY: sysconf has no memory arguments.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let mut ticks = 0;
    for t in std::fs::read_dir("/proc/self/task")
        .expect("tasks")
        .flatten()
    {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if !comm.starts_with("mspic-worker") {
            continue;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesized name: state is field 3, utime 14, stime 15.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        ticks += f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    }
    ticks * 1000 / hz
}

const UDP_SERVER: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('203.0.113.2', 9000))
s.settimeout(30)
for _ in range(int(sys.argv[1])):
    d, a = s.recvfrom(2048)
    s.sendto(('%s:%d|' % a).encode() + d, a)
"#;

/// Counts datagrams on port 9001 until 2 s pass without one; prints the count.
const UDP_SINK: &str = r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
s.bind(('203.0.113.2', 9001))
s.settimeout(10)
n = 0
try:
    while True:
        s.recv(2048)
        n += 1
        s.settimeout(2)
except socket.timeout:
    pass
print(n)
"#;

/// Sends N datagrams over 8 flows, as fast as it can in runs of 200.
const UDP_BURST: &str = r#"
import socket, sys, time
n = int(sys.argv[1])
socks = []
for i in range(8):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('10.0.0.2', 21000 + i))
    socks.append(s)
for k in range(n):
    socks[k % 8].sendto(b'x' * 200, ('203.0.113.2', 9001))
    if k % 200 == 199:
        time.sleep(0.005)
"#;

const UDP_CLIENT: &str = r#"
import socket, sys
flows, per = int(sys.argv[1]), int(sys.argv[2])
for i in range(flows):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('10.0.0.2', 20000 + i))
    s.settimeout(5)
    for j in range(per):
        s.sendto(b'hello %d %d' % (i, j), ('203.0.113.2', 9000))
        try:
            d, _ = s.recvfrom(2048)
            print(i, j, d.decode().split('|')[0])
        except socket.timeout:
            print(i, j, 'timeout')
    s.close()
"#;

#[test]
fn nat_between_namespaces_over_two_queues() {
    if let Some(why) = xdp::kernel_lacks_feature() {
        mspic_tests::testbed::skip_or_fail(&why);
        return;
    }
    assert!(
        Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0"),
        "this test needs root (CAP_NET_ADMIN, CAP_BPF) to make namespaces and attach XDP"
    );
    let (tb, cl, pic, sv) = testbed(2);
    let policy = policy();
    let cfg = RuntimeConfig {
        ports: vec![
            PortConfig {
                name: "ge-0/0/0".into(),
                netdev: "pin".into(),
                ingress: policy.interface_by_name("ge-0/0/0").unwrap(),
            },
            PortConfig {
                name: "ge-0/0/1".into(),
                netdev: "pout".into(),
                ingress: policy.interface_by_name("ge-0/0/1").unwrap(),
            },
        ],
        queues: 2,
        workers: 2,
        xdp_mode: XdpMode::Native,
        umem_frames: 2048,
        frame_size: 2048,
        pin_cpus: true,
    };
    let tuning = RuntimeTuning {
        control_timeout: Duration::from_secs(5),
        ..RuntimeTuning::default()
    };
    let rt = {
        // The workers are spawned from here and stay in the PIC namespace.
        let _inside = InNetns::enter(&pic);
        Runtime::start_with(Arc::clone(&policy), cfg, tuning).expect("runtime starts")
    };
    let mut backend = rt.backend();

    // ICMP echo through NAPT.
    assert_eq!(ping(&cl, "203.0.113.2", 3), 3, "every echo answered");

    // UDP: 16 flows of 3 datagrams each; the server echoes the address it saw.
    let (flows, per) = (16u32, 3u32);
    let server = Background(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &sv,
                "python3",
                "-c",
                UDP_SERVER,
                &(flows * per).to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("udp server"),
    );
    tb.wait_listening(Role::Server, "udp", 9000, Duration::from_secs(10))
        .expect("udp server listening");
    let out = run(
        Command::new("ip").args([
            "netns",
            "exec",
            &cl,
            "python3",
            "-c",
            UDP_CLIENT,
            &flows.to_string(),
            &per.to_string(),
        ]),
        Duration::from_secs(120),
    );
    drop(server);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len() as u32, flows * per, "client output:\n{text}");
    let pool: mspic_config::Prefix = "203.0.113.128/25".parse().unwrap();
    for l in &lines {
        let peer = l.split_whitespace().nth(2).unwrap_or("");
        let addr = peer.split(':').next().unwrap_or("");
        let ok = addr
            .parse()
            .is_ok_and(|a: std::net::IpAddr| pool.contains(a));
        assert!(ok, "the server saw {peer:?}, not a pool address:\n{text}");
    }

    // The sessions, with their frame counts.
    let udp = backend.sessions(&SessionFilter {
        protocol: Some(17),
        ..SessionFilter::default()
    });
    assert_eq!(backend.take_error(), None);
    assert_eq!(udp.len() as u32, flows, "{udp:#?}");
    for s in &udp {
        let frames: Vec<u64> = s.flows.iter().map(|f| f.frames).collect();
        assert_eq!(frames, vec![u64::from(per); 2], "{s:#?}");
        assert!(s.nat.is_some(), "translated: {s:#?}");
        assert!(
            s.flows.iter().any(|f| pool.contains(f.dst.addr)),
            "reply flow to a pool address: {s:#?}"
        );
    }
    let icmp = backend.sessions(&SessionFilter {
        protocol: Some(1),
        ..SessionFilter::default()
    });
    assert_eq!(icmp.len(), 1, "{icmp:#?}");
    assert_eq!(
        icmp[0].flows.iter().map(|f| f.frames).collect::<Vec<_>>(),
        vec![3, 3]
    );
    let sfw = backend.sfw_statistics();
    assert!(!sfw.is_empty());

    // Both workers own sessions, and frames crossed between them.
    // Counters are published every millisecond: wait for the ones that show the sessions.
    mspic_tests::testbed::wait_for(Duration::from_secs(5), || {
        rt.counters().workers.iter().all(|w| w.sessions > 0)
    });
    let c = rt.counters();
    let per_worker: Vec<u64> = c.workers.iter().map(|w| w.sessions).collect();
    assert!(
        per_worker.iter().all(|&n| n > 0),
        "sessions per worker {per_worker:?}"
    );
    let total = c.total();
    assert!(total.handoff_out > 0, "no handoff: {c:#?}");
    assert_eq!(total.handoff_out, total.handoff_in, "{c:#?}");
    assert_eq!(total.handoff_drop_full + total.handoff_drop_too_long, 0);
    assert!(total.arp.arp_replies_sent >= 2, "{:#?}", total.arp);
    let steering = c.steering.expect("XDP counters");
    assert!(
        steering.redirected >= total.rx,
        "{steering:#?} vs rx {}",
        total.rx
    );
    assert!(steering.hashed > 0 && steering.pool > 0, "{steering:#?}");

    // A burst: more frames per wakeup than copy-mode TX sends, across both workers.
    let burst = 4000u32;
    let sink = Background(
        Command::new("ip")
            .args(["netns", "exec", &sv, "python3", "-c", UDP_SINK])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("udp sink"),
    );
    tb.wait_listening(Role::Server, "udp", 9001, Duration::from_secs(10))
        .expect("udp sink listening");
    run(
        Command::new("ip").args([
            "netns",
            "exec",
            &cl,
            "python3",
            "-c",
            UDP_BURST,
            &burst.to_string(),
        ]),
        Duration::from_secs(60),
    );
    let mut sink = sink;
    let got = {
        let mut out = String::new();
        use std::io::Read;
        let _ = sink.0.wait();
        if let Some(mut o) = sink.0.stdout.take() {
            let _ = o.read_to_string(&mut out);
        }
        out.trim().parse::<u32>().unwrap_or(0)
    };
    eprintln!("burst: {got} of {burst} datagrams arrived");
    assert!(
        got * 10 >= burst * 9,
        "only {got} of {burst} datagrams arrived"
    );
    backend.check().expect("frame accounting after the burst");

    // Idle workers sleep in poll(): they must not spin. (The sleep is the measuring window,
    // not a wait for an event.)
    let before = worker_cpu_ms();
    std::thread::sleep(Duration::from_secs(1));
    let idle_ms = worker_cpu_ms() - before;
    assert!(
        idle_ms < 200,
        "idle workers used {idle_ms} ms of CPU in 1 s"
    );

    // A reload keeps every session.
    let before = backend.sessions(&SessionFilter::default()).len();
    assert_eq!(
        before,
        udp.len() + 1 + 8,
        "exchange, ping and burst sessions"
    );
    rt.reload(Arc::clone(&policy)).expect("reload");
    assert_eq!(backend.sessions(&SessionFilter::default()).len(), before);

    backend
        .check()
        .expect("frame accounting and shard consistency");
    rt.stop().expect("clean stop");
    // After stop the backend says so instead of hanging.
    assert!(backend.try_sessions(&SessionFilter::default()).is_err());
}

#[test]
fn start_errors_name_the_problem() {
    if let Some(why) = xdp::kernel_lacks_feature() {
        mspic_tests::testbed::skip_or_fail(&why);
        return;
    }
    let (_ns, _cl, pic, _sv) = testbed(1);
    let policy = policy();
    let port = |name: &str, netdev: &str, i: u16| PortConfig {
        name: name.into(),
        netdev: netdev.into(),
        ingress: IfIndex(i),
    };
    let base = RuntimeConfig {
        ports: vec![port("ge-0/0/0", "pin", 0), port("ge-0/0/1", "pout", 1)],
        queues: 2,
        workers: 2,
        xdp_mode: XdpMode::Native,
        umem_frames: 256,
        frame_size: 2048,
        pin_cpus: false,
    };
    let _inside = InNetns::enter(&pic);
    // Two queues on single-queue veths: the socket for queue 1 cannot bind.
    let e = Runtime::start(Arc::clone(&policy), base.clone())
        .err()
        .expect("queue 1 does not exist")
        .to_string();
    assert!(e.contains("queue 1") && e.contains("rx queues"), "{e}");
    // A frame size the kernel would refuse.
    let e = Runtime::start(
        Arc::clone(&policy),
        RuntimeConfig {
            queues: 1,
            workers: 1,
            frame_size: 3000,
            ..base.clone()
        },
    )
    .err()
    .expect("bad frame size")
    .to_string();
    assert!(e.contains("power of two"), "{e}");
    // A driver without native XDP (a bridge): the attach error says so and suggests skb
    // mode.
    sh(&["ip", "-n", &pic, "link", "add", "br0", "type", "bridge"]);
    sh(&["ip", "-n", &pic, "link", "set", "br0", "up"]);
    let e = Runtime::start(
        Arc::clone(&policy),
        RuntimeConfig {
            ports: vec![port("ge-0/0/0", "br0", 0)],
            queues: 1,
            workers: 1,
            ..base.clone()
        },
    )
    .err()
    .expect("a bridge has no native XDP")
    .to_string();
    assert!(e.contains("br0") && e.contains("skb mode"), "{e}");
    // A netdev that does not exist.
    let e = Runtime::start(
        Arc::clone(&policy),
        RuntimeConfig {
            ports: vec![port("ge-0/0/0", "nosuch0", 0)],
            queues: 1,
            workers: 1,
            ..base.clone()
        },
    )
    .err()
    .expect("no such netdev")
    .to_string();
    assert!(e.contains("nosuch0") && e.contains("ge-0/0/0"), "{e}");
    // And after those failures nothing is left attached: a good start works.
    let rt = Runtime::start(
        policy,
        RuntimeConfig {
            queues: 1,
            workers: 1,
            ..base
        },
    )
    .expect("starts");
    rt.stop().expect("stops");
}

/// Drops `caps` from this thread's effective set (capabilities are per thread).
fn drop_effective_caps(caps: &[u32]) {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut h = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut d = [Data::default(); 2];
    // SAFETY: capget(2) with a valid header and room for the two version-3 data words.
    let r = unsafe { libc::syscall(libc::SYS_capget, &mut h, d.as_mut_ptr()) };
    assert_eq!(r, 0, "capget: {}", std::io::Error::last_os_error());
    for &c in caps {
        d[(c / 32) as usize].effective &= !(1 << (c % 32));
    }
    // SAFETY: capset(2) for this thread with the header and data read above.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut h, d.as_ptr()) };
    assert_eq!(r, 0, "capset: {}", std::io::Error::last_os_error());
}

#[test]
fn missing_privileges_are_explained() {
    if let Some(why) = xdp::kernel_lacks_feature() {
        mspic_tests::testbed::skip_or_fail(&why);
        return;
    }
    let (_ns, _cl, pic, _sv) = testbed(1);
    let policy = policy();
    let e = std::thread::spawn(move || {
        let _inside = InNetns::enter(&pic);
        // CAP_NET_ADMIN 12, CAP_NET_RAW 13, CAP_SYS_ADMIN 21, CAP_PERFMON 38, CAP_BPF 39.
        drop_effective_caps(&[12, 13, 21, 38, 39]);
        let cfg = RuntimeConfig {
            ports: vec![PortConfig {
                name: "ge-0/0/0".into(),
                netdev: "pin".into(),
                ingress: IfIndex(0),
            }],
            queues: 1,
            workers: 1,
            xdp_mode: XdpMode::Native,
            umem_frames: 256,
            frame_size: 2048,
            pin_cpus: false,
        };
        Runtime::start(policy, cfg)
            .err()
            .expect("no privileges, no start")
            .to_string()
    })
    .join()
    .expect("thread");
    eprintln!("without privileges: {e}");
    assert!(
        e.contains("permission denied") && e.contains("CAP_BPF"),
        "{e}"
    );
}

#[test]
fn a_umem_over_the_memlock_limit_gets_the_hint() {
    if let Some(why) = xdp::kernel_lacks_feature() {
        mspic_tests::testbed::skip_or_fail(&why);
        return;
    }
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit(2) into a local struct.
    unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) };
    if lim.rlim_cur == libc::RLIM_INFINITY || lim.rlim_cur > 1 << 30 {
        // Unlimited (as for root on many systems): lower this test process's soft limit,
        // so the case runs everywhere (nextest gives each test its own process).
        lim.rlim_cur = 8 << 20;
        // SAFETY: setrlimit(2) from a local struct; lowering the soft limit needs no
        // privilege.
        let rc = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) };
        assert_eq!(rc, 0, "setrlimit(RLIMIT_MEMLOCK)");
    }
    // Twice the limit, in 4 KiB frames.
    let frames = u32::try_from((lim.rlim_cur * 2 / 4096).max(1024)).unwrap_or(u32::MAX);
    let (_ns, _cl, pic, _sv) = testbed(1);
    let policy = policy();
    let e = std::thread::spawn(move || {
        let _inside = InNetns::enter(&pic);
        // CAP_IPC_LOCK 14: without it the UMEM counts against RLIMIT_MEMLOCK.
        drop_effective_caps(&[14]);
        let cfg = RuntimeConfig {
            ports: vec![PortConfig {
                name: "ge-0/0/0".into(),
                netdev: "pin".into(),
                ingress: IfIndex(0),
            }],
            queues: 1,
            workers: 1,
            xdp_mode: XdpMode::Native,
            umem_frames: frames,
            frame_size: 4096,
            pin_cpus: false,
        };
        Runtime::start(policy, cfg)
            .err()
            .expect("a UMEM over the limit")
            .to_string()
    })
    .join()
    .expect("thread");
    eprintln!("over the memlock limit: {e}");
    assert!(
        e.contains("RLIMIT_MEMLOCK") && e.contains("CAP_IPC_LOCK"),
        "{e}"
    );
}
