//! NETCONF over real SSH: `sshd` (started here, in the testbed's PIC namespace, with its own
//! generated host key, a generated client key, and the `netconf` subsystem running `mspic
//! netconf`) on port 830 of that namespace's loopback, mspicd live beside it, and the
//! Junos automation clients PyEZ (`junos-eznc`) and ncclient from the virtual environment
//! `cargo xtask deps` makes (`target/netconf-venv`). The host's own sshd and its
//! configuration are never touched.
//!
//! Needs root, network namespaces, XDP and AF_XDP (as tests/tests/live.rs), `sshd`
//! (openssh-server) and the virtual environment; outside CI a test skips, saying why, when
//! one is missing; under `CI=true` that fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use mspic_tests::live::{output, repo_file, sessions, Live};
use mspic_tests::ssh::{SshSetup, NETCONF_PORT, SSHD};
use mspic_tests::testbed::{self, Role, Spawned, REMOTE_SERVER};

fn venv_python() -> PathBuf {
    // Not canonicalized: the venv's `python` is a symbolic link to the system one, and
    // only its own path makes it use the venv.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .join("target/netconf-venv/bin/python")
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("netconf")
        .join(name)
}

/// Why this machine cannot run these tests (`None`: it can).
fn skip_reason() -> Option<String> {
    if let Some(r) = testbed::unavailable() {
        return Some(r);
    }
    if let Some(r) = mspic_dataplane::xdp::kernel_lacks_feature() {
        return Some(r);
    }
    if !Path::new(SSHD).exists() {
        return Some(format!(
            "{SSHD} is missing (openssh-server); run `cargo xtask deps`"
        ));
    }
    let py = venv_python();
    let imports = Command::new(&py)
        .args(["-c", "import jnpr.junos, ncclient, pexpect"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !imports {
        return Some(format!(
            "{} cannot import jnpr.junos, ncclient and pexpect; run `cargo xtask deps`",
            py.display()
        ));
    }
    None
}

macro_rules! ssh_or_skip {
    () => {
        if let Some(why) = skip_reason() {
            testbed::skip_or_fail(&why);
            return;
        }
    };
}

/// `mspic`'s `?` help for `line`, as the login's CLI prints it (one grammar).
fn help_for(line: &str) -> String {
    mspic_control::help(line, &[])
}

/// sshd in the PIC namespace, with keys and configuration in the test's scratch directory
/// ([`mspic_tests::ssh`], as `cargo xtask testbed up --ssh` sets it up).
struct Sshd {
    _proc: Spawned,
    setup: SshSetup,
}

fn start_sshd(live: &Live) -> Sshd {
    let setup = SshSetup::write(
        &live.dir.path("ssh"),
        &testbed::workspace_bin("mspic"),
        &live.socket,
    )
    .unwrap();
    let proc = Spawned::new("sshd", setup.command(&live.tb, true)).unwrap();
    live.tb
        .wait_listening(Role::Pic, "tcp", NETCONF_PORT, Duration::from_secs(15))
        .unwrap_or_else(|e| panic!("{e}\n{}", setup.log()));
    Sshd { _proc: proc, setup }
}

impl Sshd {
    /// Runs a client script in the PIC namespace against 127.0.0.1:830.
    fn client(&self, live: &Live, script_name: &str, args: &[&str]) -> Output {
        let mut c = live.tb.exec(Role::Pic, venv_python().to_str().unwrap());
        c.arg(script(script_name))
            .args(["127.0.0.1", &NETCONF_PORT.to_string()])
            .arg(&self.setup.client_key)
            .args(args);
        output(c)
    }

    /// `ssh root@127.0.0.1 COMMAND` in the PIC namespace (the login runs `mspic cli`).
    fn ssh(&self, live: &Live, command: &str) -> Output {
        let mut c = live.tb.exec(Role::Pic, "ssh");
        c.arg("-i").arg(&self.setup.client_key).args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "LogLevel=ERROR",
            "root@127.0.0.1",
            command,
        ]);
        output(c)
    }

    fn log(&self) -> String {
        self.setup.log()
    }
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

#[test]
fn ncclient_framing_locks_and_malformed_input() {
    ssh_or_skip!();
    let live = Live::start(&repo_file("docs/examples/testbed.conf"), 1);
    let sshd = start_sshd(&live);
    let out = sshd.client(&live, "ncclient_check.py", &[]);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "ncclient: {stdout}\n{}\nsshd:\n{}\nmspicd:\n{}",
        text(&out.stderr),
        sshd.log(),
        live.log()
    );
    for name in [
        "ok base11 (chunked=True)",
        "ok base10 (chunked=False)",
        "ok truncated-chunk",
        "ok huge-chunk",
        "ok huge-message",
        "ok invalid-xml",
        "ok after-errors",
    ] {
        assert!(stdout.contains(name), "{name} missing:\n{stdout}");
    }
    // The daemon is still there and answers.
    let ping = output(live.mspic(&["ping"]));
    assert!(ping.status.success(), "{}", live.log());
    // A login runs the mspic CLI: a command through ssh prints what `mspic show` prints.
    let out = sshd.ssh(&live, "show services nat pool detail | count");
    assert!(out.status.success(), "{out:?}\n{}", sshd.log());
    assert_eq!(
        text(&out.stdout),
        live.show("show services nat pool detail | count")
    );
}

#[test]
fn pyez_facts_rpcs_cli_and_configuration() {
    ssh_or_skip!();
    let mut live = Live::start(&repo_file("docs/examples/testbed.conf"), 1);
    let sshd = start_sshd(&live);

    // Traffic: one ICMP session (a fixed identifier) kept busy while PyEZ asks.
    let first = live.ping_id(2, Some(4242));
    assert!(first.status.success(), "{first:?}");
    let mut ping = live.tb.exec(Role::Client, "ping");
    ping.args(["-n", "-c", "100", "-i", "0.2", "-e", "4242", REMOTE_SERVER])
        .stdout(std::process::Stdio::null());
    live.servers.push(Spawned::new("ping", ping).unwrap());

    let out = sshd.client(
        &live,
        "pyez_check.py",
        &["facts", "pool", "sessions", "usage", "cli"],
    );
    assert!(
        out.status.success(),
        "PyEZ: {}\n{}\nsshd:\n{}",
        text(&out.stdout),
        text(&out.stderr),
        sshd.log()
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    // Facts describe the emulator.
    let hostname = text(&output(Command::new("hostname")).stdout);
    assert_eq!(seen["facts"]["hostname"], hostname.trim());
    assert_eq!(seen["facts"]["model"], "MSPIC");
    assert_eq!(
        seen["facts"]["version"],
        format!("{}-mspic", env!("CARGO_PKG_VERSION"))
    );

    // The NAT pool RPC says what `mspic show services nat pool detail` says.
    let pool_text = live.show("show services nat pool detail");
    let pools = seen["pools"].as_array().unwrap();
    assert_eq!(pools.len(), 1, "{seen}");
    assert_eq!(pools[0]["name"], "public");
    assert!(pool_text.contains("NAT pool: public"), "{pool_text}");
    let range = pools[0]["range"].as_str().unwrap();
    assert!(
        pool_text.contains(&format!("Address range: {range}")),
        "{pool_text}"
    );
    let ports = pools[0]["ports-in-use"].as_str().unwrap();
    assert!(
        pool_text.contains(&format!("Ports in use: {ports},")),
        "{ports} vs {pool_text}"
    );

    // The sessions RPC during traffic: the session `mspic show` lists, with its two flows.
    let shown = sessions(&live.show("show services sessions"));
    assert_eq!(seen["sessions"], shown.len() as u64, "{seen}");
    assert!(!shown.is_empty());
    assert_eq!(seen["flows"], 2 * shown.len() as u64);

    // The service-set usage RPCs (get-service-set-cpu-statistics, …-memory-statistics):
    // the set's row, then System and Idle; the set's memory is that of its sessions.
    let cpu: Vec<(String, String)> = seen["cpu"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_str().unwrap().into(), r[1].as_str().unwrap().into()))
        .collect();
    let names: Vec<(&str, &str)> = cpu.iter().map(|(i, s)| (i.as_str(), s.as_str())).collect();
    assert_eq!(
        names,
        [
            ("ms-1/1/0", "ss"),
            ("ms-1/1/0", "System"),
            ("ms-1/1/0", "Idle")
        ],
        "{seen}"
    );
    let per = mspic_flow::Shard::bytes_per_session();
    assert_eq!(
        seen["memory"],
        serde_json::json!([["ss", shown.len() as u64 * per]]),
        "{seen}"
    );

    // dev.cli() prints what `mspic show` prints.
    let count = live.show("show services sessions count");
    assert_eq!(seen["cli"].as_str().unwrap().trim(), count.trim(), "{seen}");

    // A configuration loaded with PyEZ's Config, committed: in force in mspicd.
    let out = sshd.client(&live, "pyez_check.py", &["load-good"]);
    assert!(
        out.status.success(),
        "PyEZ load: {}\n{}\nmspicd:\n{}",
        text(&out.stdout),
        text(&out.stderr),
        live.log()
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["commit"], true, "{seen}");
    assert_eq!(seen["commit-check"], true, "{seen}");
    let diff = seen["diff"].as_str().unwrap_or_default();
    assert!(
        diff.contains("+ set services nat pool extra address 192.0.2.0/30"),
        "{seen}"
    );
    let running = live.show("show configuration services nat");
    assert!(running.contains("pool extra {"), "{running}");
    assert!(running.contains("address 192.0.2.0/30;"), "{running}");
    // The session survived the commit.
    assert_eq!(
        sessions(&live.show("show services sessions")).len(),
        shown.len()
    );

    // Loaded with action replace (PyEZ's merge=False, overwrite=False): the pool tagged
    // `replace:` is replaced whole, not merged.
    let out = sshd.client(&live, "pyez_check.py", &["load-replace"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["commit"], true, "{seen}");
    let diff = seen["diff"].as_str().unwrap_or_default();
    assert!(
        diff.contains("- set services nat pool extra address 192.0.2.0/30")
            && diff.contains("+ set services nat pool extra address 192.0.2.8/30"),
        "{seen}"
    );
    let running = live.show("show configuration services nat");
    assert!(running.contains("address 192.0.2.8/30;"), "{running}");
    assert!(!running.contains("address 192.0.2.0/30;"), "{running}");

    // A broken one: an error naming the line, and nothing changes.
    let out = sshd.client(&live, "pyez_check.py", &["load-bad"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let err = seen["load-bad"].as_str().unwrap_or_default();
    assert!(
        err.contains("configuration-text:4:13: error: unknown statement 'bogus'"),
        "{seen}"
    );
    let after = live.show("show configuration services nat");
    assert_eq!(after, running);
}

/// An operator's login: `ssh -tt` into the PIC namespace (through a pty, driven by
/// pexpect) gets the `root@host> ` prompt of `mspic cli`; a pipe, Tab completion and `?`
/// help work there as in `mspic`, and `exit` ends the session.
#[test]
fn an_interactive_ssh_login_gets_the_junos_prompt_pipes_and_completion() {
    ssh_or_skip!();
    let live = Live::start(&repo_file("docs/examples/testbed.conf"), 1);
    let sshd = start_sshd(&live);
    let mut c = live.tb.exec(Role::Pic, venv_python().to_str().unwrap());
    c.arg(script("cli_check.py"))
        .args(["127.0.0.1", &mspic_tests::ssh::LOGIN_PORT.to_string()])
        .arg(&sshd.setup.client_key);
    let out = output(c);
    assert!(
        out.status.success(),
        "ssh login: {}\n{}\nsshd:\n{}",
        text(&out.stdout),
        text(&out.stderr),
        sshd.log()
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let hostname = text(&output(Command::new("hostname")).stdout);
    assert_eq!(
        seen["prompt"],
        format!("root@{}> ", hostname.trim()),
        "{seen}"
    );
    let count = live.show("show services sessions | count");
    assert!(count.starts_with("Count: "), "{count}");
    assert_eq!(seen["count"].as_str().unwrap(), count.trim(), "{seen}");
    // `show services ses` + Tab became `show services sessions `: `?` lists what follows
    // the whole keyword (not the keywords `ses` could become).
    let want = help_for("show services sessions ");
    assert!(want.starts_with("Possible completions:"), "{want}");
    let help = seen["help"].as_str().unwrap();
    assert!(help.contains(want.trim_end()), "{help}\nwanted:\n{want}");
    assert_ne!(want, help_for("show services ses"));
    assert_eq!(seen["status"], 0, "{seen}");
}
