//! mspicd in a testbed: [`Live`] builds a uniquely named testbed, runs mspicd (XDP +
//! AF_XDP) in its PIC namespace, starts servers in the server namespace, and asks the
//! daemon `show …` commands. Namespaces, servers and the daemon go when it is dropped, also
//! when a test fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::testbed::{self, Role, Spawned, Testbed, REMOTE_SERVER};

pub fn repo_file(rel: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A scratch directory removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("{}-{tag}", testbed::unique_prefix()));
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running testbed with mspicd in its PIC namespace. Field order is drop order: servers
/// and the daemon stop before the namespaces go.
pub struct Live {
    pub servers: Vec<Spawned>,
    pub daemon: Spawned,
    pub tb: Testbed,
    pub dir: Scratch,
    pub socket: PathBuf,
    pub config: PathBuf,
}

/// Deterministic pseudo-random bytes (xorshift64 from `seed`), for files the tests serve
/// and compare byte for byte.
pub fn body(len: usize, seed: u64) -> Vec<u8> {
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

pub fn output(mut c: Command) -> Output {
    c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"))
}

impl Live {
    pub fn start(config: &str, queues: u32) -> Live {
        Self::start_with(config, queues, &[])
    }

    /// [`Live::start`] with more mspicd options (`--umem-frames 64`, …).
    pub fn start_with(config: &str, queues: u32, daemon_args: &[&str]) -> Live {
        let tb = Testbed::unique(queues).expect("testbed");
        let dir = Scratch::new("live");
        let socket = dir.path("mspicd.sock");
        let cfg_path = dir.path("mspic.conf");
        std::fs::write(&cfg_path, config).unwrap();
        let mut cmd = tb.exec(
            Role::Pic,
            testbed::workspace_bin("mspicd").to_str().unwrap(),
        );
        cmd.arg("--config")
            .arg(&cfg_path)
            .arg("--socket")
            .arg(&socket)
            .args([
                "--workers",
                &queues.to_string(),
                "--queues",
                &queues.to_string(),
            ])
            .args(daemon_args)
            .stdout(std::fs::File::create(dir.path("mspicd.out")).unwrap())
            .stderr(std::fs::File::create(dir.path("mspicd.log")).unwrap());
        let daemon = Spawned::new("mspicd", cmd).unwrap();
        let mut live = Live {
            servers: Vec::new(),
            daemon,
            tb,
            dir,
            socket,
            config: cfg_path,
        };
        live.wait_ready();
        live
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path("mspicd.log")).unwrap_or_default()
    }

    pub fn wait_ready(&mut self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(status)) = self.daemon.child.try_wait() {
                panic!("mspicd exited ({status}):\n{}", self.log());
            }
            let out = output(self.mspic(&["ping"]));
            if out.status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("mspicd did not come up:\n{}", self.log());
    }

    /// Waits (at most 10 s) until the daemon's log holds `needle` at least `n` times.
    pub fn wait_log(&self, needle: &str, n: usize) {
        let seen = testbed::wait_for(Duration::from_secs(10), || {
            self.log().matches(needle).count() >= n
        });
        assert!(seen, "no `{needle}` in the log:\n{}", self.log());
    }

    /// Waits (at most 10 s) until the frame counters of the sessions whose I flow starts
    /// with `proto` stay the same over three polls 100 ms apart.
    pub fn wait_quiet(&self, proto: &str) {
        let counts = || -> Vec<(u64, u64)> {
            sessions(&self.show("show services sessions"))
                .iter()
                .filter(|s| s.1.starts_with(proto))
                .map(|s| (frames(&s.1), frames(&s.2)))
                .collect()
        };
        let (mut last, mut same) = (counts(), 0);
        let quiet = testbed::wait_for(Duration::from_secs(10), || {
            std::thread::sleep(Duration::from_millis(100));
            let now = counts();
            same = if now == last { same + 1 } else { 0 };
            last = now;
            same >= 3
        });
        assert!(quiet, "{proto} counters kept moving: {last:?}");
    }

    /// `mspic ping`: version, configuration and the dataplane's counters.
    pub fn status(&self) -> String {
        let out = output(self.mspic(&["ping"]));
        assert!(
            out.status.success(),
            "mspic ping: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The process id of mspicd (`ip netns exec` runs it in its own process).
    pub fn daemon_pid(&self) -> u32 {
        self.daemon.child.id()
    }

    pub fn mspic(&self, args: &[&str]) -> Command {
        let mut c = Command::new(testbed::workspace_bin("mspic"));
        c.arg("--socket").arg(&self.socket).args(args);
        c
    }

    pub fn show(&self, command: &str) -> String {
        let mut c = self.mspic(&[]);
        c.args(command.split_whitespace());
        let out = output(c);
        assert!(
            out.status.success(),
            "mspic {command}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn exec(&self, role: Role, program: &str, args: &[&str]) -> Output {
        let mut c = self.tb.exec(role, program);
        c.args(args);
        output(c)
    }

    /// Python's HTTP server on `bind`:`port` in the server namespace, serving `files`
    /// (name, contents) from a directory of the scratch space (returned); waits until it
    /// listens.
    pub fn serve_files(&mut self, bind: &str, port: u16, files: &[(&str, &[u8])]) -> PathBuf {
        let www = self.dir.path("www");
        std::fs::create_dir_all(&www).unwrap();
        for (name, data) in files {
            std::fs::write(www.join(name), data).unwrap();
        }
        let port_s = port.to_string();
        let www_s = www.to_str().unwrap().to_string();
        self.serve(
            "http",
            "python3",
            &[
                "-m",
                "http.server",
                &port_s,
                "--bind",
                bind,
                "--directory",
                &www_s,
            ],
        );
        self.wait_listening("tcp", port);
        www
    }

    pub fn serve(&mut self, name: &str, program: &str, args: &[&str]) {
        self.spawn(Role::Server, name, program, args);
    }

    /// A long-running program in `role`'s namespace, stopped with the testbed; its output
    /// goes to `NAME.out` and `NAME.log` in the scratch directory.
    pub fn spawn(&mut self, role: Role, name: &str, program: &str, args: &[&str]) {
        let mut c = self.tb.exec(role, program);
        c.args(args)
            .stdout(std::fs::File::create(self.dir.path(&format!("{name}.out"))).unwrap())
            .stderr(std::fs::File::create(self.dir.path(&format!("{name}.log"))).unwrap());
        self.servers.push(Spawned::new(name, c).unwrap());
    }

    pub fn ping(&self, count: u32) -> Output {
        self.ping_id(count, None)
    }

    /// Ping with a fixed ICMP identifier (`-e`): repeated runs belong to one session.
    pub fn ping_id(&self, count: u32, id: Option<u16>) -> Output {
        let count = count.to_string();
        let id = id.map(|i| i.to_string());
        let mut args = vec!["-n", "-c", &count, "-i", "0.2", "-W", "2"];
        if let Some(id) = &id {
            args.extend(["-e", id.as_str()]);
        }
        args.push(REMOTE_SERVER);
        self.exec(Role::Client, "ping", &args)
    }

    /// Waits (bounded) until something listens on `proto` port `port` in the server
    /// namespace.
    pub fn wait_listening(&self, proto: &str, port: u16) {
        self.tb
            .wait_listening(Role::Server, proto, port, Duration::from_secs(15))
            .unwrap();
    }
}

/// Session blocks of `show services sessions` output: (header, I line, O line).
pub fn sessions(text: &str) -> Vec<(String, String, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        // A DS-Lite session's softwire line comes between the header and the flows.
        let f = if lines
            .get(i + 1)
            .is_some_and(|n| n.starts_with("Softwire: "))
        {
            i + 2
        } else {
            i + 1
        };
        if l.starts_with("Session: ") && f + 1 < lines.len() {
            out.push((
                l.to_string(),
                lines[f].to_string(),
                lines[f + 1].to_string(),
            ));
        }
    }
    out
}

/// The 7th whitespace field of a flow line: its frame count.
pub fn frames(flow_line: &str) -> u64 {
    flow_line
        .split_whitespace()
        .last()
        .unwrap()
        .parse()
        .unwrap()
}

pub fn session_id(header: &str) -> u64 {
    header["Session: ".len()..]
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The number written after `label` and `": "` or `" "` (`"Out of port errors: 4"`,
/// `"SessionLimit 12"`), or just before it (`"12 rx ring full"`), in `text`. Panics,
/// quoting the text, when none is there.
#[track_caller]
pub fn counter(text: &str, label: &str) -> u64 {
    for after in [format!("{label}: "), format!("{label} ")] {
        for (i, _) in text.match_indices(&after) {
            let rest = &text[i + after.len()..];
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            if let Ok(n) = digits.parse() {
                return n;
            }
        }
    }
    let spaced = format!(" {label}");
    for (i, _) in text.match_indices(&spaced) {
        let before = text[..i].rsplit([' ', '(', '\n']).next().unwrap_or("");
        if let Ok(n) = before.parse() {
            return n;
        }
    }
    panic!("no counter `{label}` in:\n{text}");
}
