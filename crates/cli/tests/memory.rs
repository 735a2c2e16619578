//! Memory in proportion to use, against the real daemon (`mspicd --offline`, 4 workers):
//! 3,000 configured NAT pools that no traffic uses stay under 64 MB of resident memory
//! (pool state is made on a pool's first allocation, per shard); a refused 16 MiB commit is
//! at most 4× its size in transient memory (peak minus resident before), in `set` and
//! braces syntax, also when every few words define a new object. The figures are printed.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MSPICD: &str = env!("CARGO_BIN_EXE_mspicd");
const MSPIC: &str = env!("CARGO_BIN_EXE_mspic");
const MIB: u64 = 1 << 20;

/// The example configuration with `pools` extra pools of a /24 each.
fn with_pools(pools: usize) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/testbed.conf");
    let base = fs::read_to_string(&path).unwrap();
    let mut extra = String::new();
    for i in 0..pools {
        let _ = writeln!(
            extra,
            "        pool unused{i} {{ address 100.{}.{}.0/24; port {{ automatic; }} }}",
            64 + i / 250,
            i % 250
        );
    }
    base.replace("    nat {\n", &format!("    nat {{\n{extra}"))
}

/// A `/proc/PID/status` field in bytes (`VmRSS`, `VmHWM`).
fn status_kb(pid: u32, field: &str) -> u64 {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        * 1024
}

struct Daemon {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Daemon {
    fn start(config: &str) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("mspic.conf");
        fs::write(&conf, config).unwrap();
        let socket = dir.path().join("mspicd.sock");
        let child = Command::new(MSPICD)
            .args(["--offline", "--workers", "4", "--config"])
            .arg(&conf)
            .arg("--socket")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .env_remove("MSPIC_SOCKET")
            .spawn()
            .expect("mspicd starts");
        let d = Daemon {
            child,
            socket,
            _dir: dir,
        };
        let start = Instant::now();
        while !d.mspic(&["ping"]).status.success() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "mspicd did not answer"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    fn mspic(&self, args: &[&str]) -> std::process::Output {
        Command::new(MSPIC)
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .env_remove("MSPIC_SOCKET")
            .output()
            .unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn unused_pools_cost_little_and_a_refused_big_commit_is_bounded() {
    let d = Daemon::start(&with_pools(3000));
    let pid = d.child.id();
    let rss = status_kb(pid, "VmRSS");
    eprintln!(
        "3000 unused NAT pools, 4 workers: {:.1} MB resident",
        rss as f64 / 1e6
    );
    assert!(rss <= 64 * 1_000_000, "{rss} bytes resident");

    // 16 MiB commits (the most a request carries) that the parser refuses at their end:
    // the same `set` line over and over, distinct `set` lines, and the braces syntax.
    let same = "set services nat pool filler address 192.0.2.0/32\n";
    let fill = |line: &dyn Fn(usize) -> String| {
        let mut text = String::new();
        let mut i = 0;
        while text.len() < (16 * MIB - 64 * 1024) as usize {
            text.push_str(&line(i));
            i += 1;
        }
        // Refused by the builder, after every path was read.
        text.push_str("services {\n    nonsense;\n}\n");
        text
    };
    // The bound: 4× the commit's size, also for text where every 75 bytes define a new
    // object (each object's draft is built before the refusal; the model takes the drafts
    // over rather than copying them).
    let commits = [
        ("the same set line", 4, fill(&|_| same.to_string())),
        (
            "distinct set lines",
            4,
            fill(&|i| {
                format!(
                    "set policy-options prefix-list l{} 10.{}.{}.0/24\n",
                    i / 64,
                    i / 65536 % 256,
                    i / 256 % 256
                )
            }),
        ),
        (
            "braces, a new object every 75 bytes",
            4,
            fill(&|i| {
                format!(
                    "policy-options {{\n    prefix-list b{i} {{\n        10.{}.{}.0/24;\n    }}\n}}\n",
                    i / 256 % 256,
                    i % 256
                )
            }),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.conf");
    for (what, bound, text) in &commits {
        fs::write(&big, text).unwrap();
        // A daemon of its own, so that memory an earlier commit left with the allocator
        // does not hide this one's.
        let d = Daemon::start(&with_pools(0));
        let pid = d.child.id();
        // Peak resident memory counts from here (writing 5 to clear_refs resets VmHWM).
        fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
        let before = status_kb(pid, "VmRSS");
        let out = d.mspic(&["request", "commit", big.to_str().unwrap()]);
        assert!(!out.status.success(), "the commit was accepted ({what})");
        let why = String::from_utf8_lossy(&out.stderr);
        assert!(
            why.contains("nonsense"),
            "refused for another reason: {why}"
        );
        let peak = status_kb(pid, "VmHWM");
        let transient = peak.saturating_sub(before);
        eprintln!(
            "refused commit of {:.1} MiB ({what}): {:.1} MiB transient ({:.2}x)",
            text.len() as f64 / MIB as f64,
            transient as f64 / MIB as f64,
            transient as f64 / text.len() as f64
        );
        assert!(
            transient <= bound * text.len() as u64,
            "{transient} bytes over resident for a {} byte commit ({what})",
            text.len()
        );
        // The running configuration stayed: the daemon answers as before.
        let pools = d.mspic(&["show", "services", "nat", "pool"]);
        assert!(pools.status.success());
        assert!(!String::from_utf8_lossy(&pools.stdout).contains("filler"));
    }
}
