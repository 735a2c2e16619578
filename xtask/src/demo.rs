//! `cargo xtask demo`: build the CLI, generate the sample capture, replay it, show the result.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use mspic_tests::{mixed_client_traffic, Sides};

use crate::util::{cargo, display, rel, run, succeeds, target_dir, workspace_root};

/// The sample traffic: seed, clients, length, sides. Client-only because the example
/// config translates addresses, so the servers' answers cannot be precomputed.
const SEED: u64 = 1;
const CLIENTS: usize = 4;
const DURATION: Duration = Duration::from_secs(60);
const SIDES: Sides = Sides::ClientOnly;

/// The replay the demo runs, in one place. `mspic` is the release binary, `demo_dir` the
/// directory holding `clients.pcap`; paths are given relative to the workspace root, which
/// is the command's working directory.
fn replay_command(mspic: &Path, root: &Path, demo_dir: &Path) -> Command {
    let dir = rel(demo_dir, root);
    let mut cmd = Command::new(mspic);
    cmd.current_dir(root)
        .arg("replay")
        .args(["--config", "docs/examples/testbed.conf"])
        .arg("--pcap")
        .arg(dir.join("clients.pcap"))
        .arg("--out")
        .arg(dir.join("out.pcap"))
        .arg("--respond")
        .arg("--echo");
    for command in [
        "show services sessions extensive",
        "show services sessions count",
        "show services nat pool detail",
    ] {
        cmd.args(["--command", command]);
    }
    cmd
}

pub fn run_offline_demo() -> Result<()> {
    let root = workspace_root();
    let target = target_dir(&root);

    // The replay needs no kernel toolchain: the offline build leaves out the live
    // dataplane (and so libbpf, clang and libelf).
    println!("==> building the release CLI (offline: no live dataplane)");
    run(cargo()
        .args([
            "build",
            "--release",
            "-p",
            "mspic-cli",
            "--no-default-features",
            "--bin",
            "mspic",
        ])
        .current_dir(&root))
    .context("building mspic-cli failed")?;
    let mspic = target.join("release").join("mspic");
    if !mspic.is_file() {
        bail!(
            "{} does not exist after building mspic-cli (does the package define the `mspic` binary?)",
            mspic.display()
        );
    }

    println!("\n==> generating the sample capture");
    let demo_dir = target.join("demo");
    fs::create_dir_all(&demo_dir)
        .with_context(|| format!("cannot create {}", demo_dir.display()))?;
    let (trace, summary) = mixed_client_traffic(SEED, CLIENTS, DURATION, SIDES);
    let pcap = demo_dir.join("clients.pcap");
    trace
        .write_pcap(&pcap)
        .with_context(|| format!("cannot write {}", pcap.display()))?;
    let listing = demo_dir.join("clients.txt");
    fs::write(&listing, format!("{summary}\n"))
        .with_context(|| format!("cannot write {}", listing.display()))?;
    println!(
        "wrote {} ({} frames, {} conversations, {} clients, {:?}, client side only); \
         conversation list in {}",
        rel(&pcap, &root).display(),
        trace.len(),
        summary.conversations.len(),
        CLIENTS,
        DURATION,
        rel(&listing, &root).display()
    );

    println!("\n==> replaying it through the engine");
    let mut cmd = replay_command(&mspic, &root, &demo_dir);
    let line = display(&cmd);
    println!("$ {line}\n");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {}", mspic.display()))?;
    if !status.success() {
        bail!("the replay failed ({status}); see its messages above. Command:\n  {line}");
    }
    println!(
        "\nframes the engine sent: {}",
        rel(&demo_dir.join("out.pcap"), &root).display()
    );
    Ok(())
}

/// `make demo`: the testbed with mspicd in it and real traffic — curl against a Python
/// HTTP server, dig against dnsmasq, ping, FTP downloads through the ALG — then the PIC's
/// view of it, also over SSH (the `mspic cli` login and a NETCONF RPC). Everything it makes
/// (namespaces, processes, files) is removed when it ends, also on failure.
pub fn run_demo() -> Result<()> {
    use mspic_tests::testbed::{self, Role, Spawned, Testbed, REMOTE_SERVER};
    let root = workspace_root();
    let target = target_dir(&root);
    if let Some(why) = testbed::unavailable() {
        bail!("the live demo needs {why}; `cargo xtask demo --offline` replays a capture instead");
    }
    println!("==> building the release binaries");
    run(cargo()
        .args(["build", "--release", "-p", "mspic-cli"])
        .current_dir(&root))
    .context("building mspic-cli failed")?;
    let bin = |n: &str| target.join("release").join(n);
    let work = target
        .join("demo")
        .join(format!("live-{}", std::process::id()));
    fs::create_dir_all(&work)?;
    let _cleanup = RemoveDir(work.clone());

    println!("\n==> testbed: client, PIC and server namespaces");
    let tb = Testbed::unique(1).context("building the testbed")?;
    println!(
        "  {}: cl0 10.0.0.2/24\n  {}: pin (ge-0/0/0), pout (ge-0/0/1), mspicd\n  {}: sv0 203.0.113.2/24, servers on {REMOTE_SERVER}",
        tb.ns(Role::Client),
        tb.ns(Role::Pic),
        tb.ns(Role::Server)
    );
    let socket = work.join("mspicd.sock");
    let log = work.join("mspicd.log");
    let config = root.join("docs/examples/testbed.conf");
    println!(
        "\n==> mspicd --config docs/examples/testbed.conf (in {})",
        tb.ns(Role::Pic)
    );
    let mut cmd = tb.exec(Role::Pic, bin("mspicd").to_str().unwrap_or("mspicd"));
    cmd.arg("--config")
        .arg(&config)
        .arg("--socket")
        .arg(&socket)
        .stderr(fs::File::create(&log)?);
    let daemon = Spawned::new("mspicd", cmd)?;
    let mspic = |args: &[&str]| {
        let mut c = Command::new(bin("mspic"));
        c.arg("--socket").arg(&socket).args(args);
        c
    };
    let start = std::time::Instant::now();
    while !succeeds(
        mspic(&["ping"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    ) {
        if start.elapsed() > std::time::Duration::from_secs(20) {
            bail!(
                "mspicd did not start:\n{}",
                fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    let www = work.join("www");
    fs::create_dir_all(&www)?;
    fs::write(www.join("file.bin"), vec![0x5a_u8; 1 << 20])?;
    let mut servers = Vec::new();
    let mut http = tb.exec(Role::Server, "python3");
    http.args([
        "-m",
        "http.server",
        "80",
        "--bind",
        REMOTE_SERVER,
        "--directory",
    ])
    .arg(&www)
    .stdout(std::process::Stdio::null())
    .stderr(fs::File::create(work.join("http.log"))?);
    servers.push(Spawned::new("http server", http)?);
    let mut dns = tb.exec(Role::Server, "dnsmasq");
    dns.args([
        "--keep-in-foreground",
        "--no-resolv",
        "--no-hosts",
        "--user=root",
        "--bind-interfaces",
    ])
    .arg(format!("--listen-address={REMOTE_SERVER}"))
    .arg(format!("--address=/www.example.test/{REMOTE_SERVER}"))
    .arg(format!("--pid-file={}", work.join("dnsmasq.pid").display()));
    servers.push(Spawned::new("dnsmasq", dns)?);
    let mut ftpd = tb.exec(Role::Server, FTP_PYTHON);
    ftpd.args([
        "-m",
        "pyftpdlib",
        "--interface",
        REMOTE_SERVER,
        "--port",
        "21",
    ])
    .arg("--directory")
    .arg(&www)
    .stdout(std::process::Stdio::null())
    .stderr(fs::File::create(work.join("ftpd.log"))?);
    servers.push(Spawned::new("ftp server", ftpd)?);
    for (proto, port) in [("tcp", 80), ("udp", 53), ("tcp", 21)] {
        tb.wait_listening(
            Role::Server,
            proto,
            port,
            std::time::Duration::from_secs(15),
        )?;
    }

    println!("\n==> traffic from the client");
    for (what, program, args) in [
        (
            "ping",
            "ping",
            vec!["-n", "-c", "3", "-i", "0.2", "-W", "2", REMOTE_SERVER],
        ),
        (
            "dig",
            "dig",
            vec![
                "+short",
                "+time=2",
                "+tries=2",
                "@198.51.100.7",
                "www.example.test",
            ],
        ),
        (
            "curl",
            "curl",
            vec![
                "-sS",
                "--max-time",
                "30",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{size_download} bytes\n",
                "http://198.51.100.7/file.bin",
            ],
        ),
    ] {
        let mut c = tb.exec(Role::Client, program);
        c.args(&args);
        println!("$ {what} {}", args.join(" ").replace('\n', ""));
        let out = c
            .output()
            .with_context(|| format!("cannot run {program}"))?;
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            bail!(
                "{what} failed: {}\nmspicd log:\n{}",
                String::from_utf8_lossy(&out.stderr),
                fs::read_to_string(&log).unwrap_or_default()
            );
        }
    }

    // FTP through the ALG: an active (PORT) and a passive (PASV) download; the client
    // keeps its control connection open while the PIC is asked about it.
    println!("$ ftp (Python ftplib): RETR file.bin, active then passive");
    let mut ftp = tb.exec(Role::Client, FTP_PYTHON);
    ftp.args(["-c", FTP_CLIENT, REMOTE_SERVER])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut ftp = ftp.spawn().context("cannot run the FTP client")?;
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(
        ftp.stdout.take().context("FTP client stdout")?,
    ));
    loop {
        match lines.next() {
            Some(Ok(l)) if l == "READY" => break,
            Some(Ok(l)) => println!("{l}"),
            _ => {
                let _ = ftp.kill();
                let _ = ftp.wait();
                bail!(
                    "the FTP client failed\nmspicd log:\n{}",
                    fs::read_to_string(&log).unwrap_or_default()
                );
            }
        }
    }

    for command in [
        "show services sessions extensive",
        "show services alg conversations",
        "show services nat pool detail",
    ] {
        println!("\nuser@mspic> {command}");
        let mut c = mspic(&[]);
        c.args(command.split_whitespace());
        let status = c
            .status()
            .with_context(|| format!("cannot run mspic {command}"))?;
        if !status.success() {
            bail!("mspic {command} failed ({status})");
        }
    }
    drop(ftp.stdin.take());
    let _ = ftp.wait();
    ssh_step(&tb, &work, &bin("mspic"), &socket)?;
    drop(servers);
    drop(daemon);
    drop(tb);
    println!("\n==> testbed removed");
    Ok(())
}

/// The management plane: sshd in the PIC namespace (mspic_tests::ssh), a command through
/// the `mspic cli` login, and a NETCONF RPC through the `netconf` subsystem.
fn ssh_step(
    tb: &mspic_tests::testbed::Testbed,
    work: &std::path::Path,
    mspic: &std::path::Path,
    socket: &std::path::Path,
) -> Result<()> {
    use mspic_tests::ssh::{SshSetup, NETCONF_PORT, SSHD};
    use mspic_tests::testbed::{Role, Spawned};
    if !std::path::Path::new(SSHD).exists() {
        bail!("{SSHD} is missing: run `cargo xtask deps` (openssh-server)");
    }
    println!("\n==> sshd in {} (ports 22 and 830)", tb.ns(Role::Pic));
    let setup = SshSetup::write(&work.join("ssh"), mspic, socket)?;
    let _sshd = Spawned::new("sshd", setup.command(tb, true))?;
    tb.wait_listening(
        Role::Pic,
        "tcp",
        NETCONF_PORT,
        std::time::Duration::from_secs(15),
    )
    .with_context(|| format!("sshd did not start:\n{}", setup.log()))?;
    let ssh = |extra: &[&str]| {
        let mut c = tb.exec(Role::Pic, "ssh");
        c.arg("-i").arg(&setup.client_key).args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "LogLevel=ERROR",
        ]);
        c.args(extra);
        c
    };
    let command = "show services sessions | match ICMP | count";
    println!("$ ssh root@pic '{command}'");
    let out = ssh(&["root@127.0.0.1", command])
        .output()
        .context("cannot run ssh")?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    if !out.status.success() {
        bail!(
            "ssh failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            setup.log()
        );
    }
    println!("$ ssh -p 830 -s root@pic netconf  <hello/> <get-service-nat-pool-information/>");
    let mut nc = ssh(&["-p", "830", "-s", "root@127.0.0.1", "netconf"]);
    nc.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = nc.spawn().context("cannot run ssh")?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().context("ssh stdin")?;
        stdin.write_all(
            b"<hello xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\"><capabilities>\
              <capability>urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>]]>]]>\
              <rpc message-id=\"1\"><get-service-nat-pool-information><detail/></get-service-nat-pool-information></rpc>]]>]]>\
              <rpc message-id=\"2\"><close-session/></rpc>]]>]]>",
        )?;
    }
    let out = child.wait_with_output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    // The reply to the RPC, without the server's hello.
    let reply = text
        .split("]]>]]>")
        .find(|m| m.contains("message-id=\"1\""))
        .unwrap_or_default();
    println!("{}", reply.trim());
    if !out.status.success() || reply.is_empty() {
        bail!(
            "the NETCONF session failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            setup.log()
        );
    }
    Ok(())
}

/// Debian's interpreter, which has the packaged python3-pyftpdlib.
const FTP_PYTHON: &str = "/usr/bin/python3";

/// The demo's FTP client: two downloads (PORT, then PASV), `READY`, and QUIT once stdin
/// closes. A client that never gets a reply gives up after 20 s.
const FTP_CLIENT: &str = r#"
import ftplib, sys
ftp = ftplib.FTP()
ftp.connect(sys.argv[1], 21, timeout=20)
ftp.login()
for pasv in (False, True):
    ftp.set_pasv(pasv)
    got = []
    ftp.retrbinary('RETR file.bin', got.append)
    print('%s: %d bytes' % ('passive' if pasv else 'active', sum(map(len, got))), flush=True)
print('READY', flush=True)
sys.stdin.read()
ftp.quit()
"#;

/// Removes a directory when dropped.
struct RemoveDir(std::path::PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
