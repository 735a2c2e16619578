//! The DCE-RPC endpoint mapper ALG (`dce-rpc-portmap`, TCP 135) against real peers, through
//! mspicd with napt-44 in the testbed (docs/examples/testbed.conf: 10.0.0.0/24 → pool
//! 203.0.113.128/25), with a firewall that lets the inside reach only TCP 135.
//!
//! Server: Samba's `samba-dcerpcd` (Debian's `samba`) run standalone in the server namespace
//! on [`REMOTE_SERVER`], with its `rpcd_*` helpers started at once: the endpoint mapper on
//! TCP 135, and lsarpc, winreg and srvsvc on dynamic TCP ports (`ncacn_ip_tcp`) that it
//! registers in its endpoint database. Client: impacket's endpoint-mapper API (PyPI
//! `impacket`, from the virtual environment `cargo xtask deps` makes) asks `ept_map` (opnum
//! 3) where each interface listens, then connects and binds to lsarpc's port. impacket's
//! `rpcdump.py` is not used: it lists with `ept_lookup`, which Samba 4.17's samba-dcerpcd
//! answers with `ept_s_not_registered` while it answers `ept_map` for the same interfaces.
//! Needs root; under `CI=true` a missing prerequisite fails the test.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mspic_tests::live::{repo_file, session_id, sessions, Live};
use mspic_tests::testbed::{self, Role, Spawned, REMOTE_SERVER};

const SAMBA_DCERPCD: &str = "/usr/libexec/samba/samba-dcerpcd";

/// The interface the client reaches through the pinhole.
const LSARPC: &str = "lsarpc";

/// The client, on impacket's `epm` and `transport` modules. `list HOST`: one endpoint-mapper
/// connection per interface, each asking `ept_map` for its `ncacn_ip_tcp` endpoint; prints
/// `map NAME BINDING`. `hold HOST`: asks for lsarpc on a connection it keeps open, prints
/// `map lsarpc BINDING`, connects and binds to that endpoint (3 s to connect), prints
/// `bound BINDING` or `unreachable BINDING ERROR`, then `HOLD`, and waits for a line on stdin
/// before it closes the connections.
const CLIENT: &str = r#"
import sys
from impacket.dcerpc.v5 import transport, epm
from impacket.uuid import uuidtup_to_bin

# Interfaces Samba's rpcd_lsad, rpcd_winreg and rpcd_classic serve over ncacn_ip_tcp.
IFACES = {
    'lsarpc': ('12345778-1234-abcd-ef00-0123456789ab', '0.0'),
    'winreg': ('338cd001-2244-31f1-aaaa-900038001003', '1.0'),
    'srvsvc': ('4b324fc8-1670-01d3-1278-5a47bf6ee188', '3.0'),
}
mode, host = sys.argv[1], sys.argv[2]

def epm_connection():
    t = transport.DCERPCTransportFactory('ncacn_ip_tcp:%s[135]' % host)
    t.set_connect_timeout(5)
    dce = t.get_dce_rpc()
    dce.connect()
    return dce

def ept_map(dce, name):
    iface = uuidtup_to_bin(IFACES[name])
    return epm.hept_map(host, iface, protocol='ncacn_ip_tcp', dce=dce)

if mode == 'list':
    for name in IFACES:
        dce = epm_connection()
        print('map', name, ept_map(dce, name), flush=True)
        dce.disconnect()
    sys.exit(0)

mapper = epm_connection()
binding = ept_map(mapper, 'lsarpc')
print('map lsarpc', binding, flush=True)
t = transport.DCERPCTransportFactory(binding)
t.set_connect_timeout(3)
rpc = t.get_dce_rpc()
try:
    rpc.connect()
    rpc.bind(uuidtup_to_bin(IFACES['lsarpc']))
    print('bound', binding, flush=True)
except Exception as e:
    print('unreachable', binding, type(e).__name__, flush=True)
print('HOLD', flush=True)
sys.stdin.readline()
mapper.disconnect()
print('done', flush=True)
"#;

/// The virtual environment's interpreter (not canonicalized: the venv's `python` is a
/// symbolic link to the system one, and only its own path makes it use the venv).
fn venv_python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .join("target/netconf-venv/bin/python")
}

/// Why this machine cannot run these tests (`None`: it can).
fn missing() -> Option<String> {
    if let Some(r) = testbed::unavailable() {
        return Some(r);
    }
    if let Some(r) = mspic_dataplane::xdp::kernel_lacks_feature() {
        return Some(r);
    }
    if !Path::new(SAMBA_DCERPCD).exists() {
        return Some(format!(
            "{SAMBA_DCERPCD} missing: install samba (cargo xtask deps)"
        ));
    }
    let imports = Command::new(venv_python())
        .args(["-c", "import impacket.dcerpc.v5.epm"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !imports {
        return Some(format!(
            "impacket does not import with {}: run cargo xtask deps",
            venv_python().display()
        ));
    }
    None
}

macro_rules! peers_or_skip {
    () => {
        if let Some(why) = missing() {
            testbed::skip_or_fail(&why);
            return;
        }
    };
}

/// testbed.conf whose firewall lets the inside reach only `applications` (one term named
/// `epm`), with `extra` appended: anything else has to come through a pinhole.
fn only_apps_conf(applications: &str, extra: &str) -> String {
    let conf = repo_file("docs/examples/testbed.conf");
    let start = conf
        .find("            term alg {")
        .expect("testbed.conf has the ALG term");
    let end = conf.find("    nat {").expect("testbed.conf has NAT");
    let rule = format!(
        "            term epm {{
                from {{
                    source-address {{
                        10.0.0.0/24;
                    }}
                    applications {applications};
                }}
                then {{
                    accept;
                }}
            }}
        }}
    }}
"
    );
    format!("{}{rule}{}{extra}", &conf[..start], &conf[end..])
}

/// A private smb.conf for a standalone samba-dcerpcd on [`REMOTE_SERVER`], all its state
/// under `dir`, every rpcd helper started with it (not on demand, so their TCP endpoints
/// are registered before the first client comes).
fn smb_conf(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "[global]
  server role = standalone server
  rpc start on demand helpers = no
  interfaces = {REMOTE_SERVER}
  bind interfaces only = yes
  private dir = {d}/private
  lock directory = {d}/lock
  state directory = {d}/state
  cache directory = {d}/cache
  pid directory = {d}/pid
  ncalrpc dir = {d}/ncalrpc
  passdb backend = tdbsam:{d}/private/passdb.tdb
  disable spoolss = yes
"
    )
}

/// `map NAME BINDING` lines of the client's output, by name.
fn bindings(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| l.strip_prefix("map "))
        .filter_map(|l| l.split_once(' '))
        .map(|(n, b)| (n.to_string(), b.to_string()))
        .collect()
}

/// The port of an `ncacn_ip_tcp:ADDR[PORT]` binding on [`REMOTE_SERVER`].
fn tcp_port(binding: &str) -> u16 {
    binding
        .strip_prefix(&format!("ncacn_ip_tcp:{REMOTE_SERVER}["))
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("not an ncacn_ip_tcp binding on {REMOTE_SERVER}: {binding}"))
}

/// Runs the client in `role`'s namespace in `list` mode (bounded by `timeout`); its
/// bindings, or everything it said.
fn list(live: &Live, role: Role) -> Result<BTreeMap<String, String>, String> {
    let python = venv_python();
    let out = live.exec(
        role,
        "timeout",
        &[
            "30",
            python.to_str().unwrap(),
            "-c",
            CLIENT,
            "list",
            REMOTE_SERVER,
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if out.status.success() {
        Ok(bindings(&text))
    } else {
        Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// Starts samba-dcerpcd in the server namespace and waits (at most 30 s) until its endpoint
/// mapper, asked from inside that namespace, maps every interface of [`CLIENT`] to a TCP
/// port; returns those bindings.
fn start_samba(live: &mut Live) -> BTreeMap<String, String> {
    let dir = live.dir.path("samba");
    for d in ["private", "lock", "state", "cache", "pid", "ncalrpc"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let conf = dir.join("smb.conf");
    std::fs::write(&conf, smb_conf(&dir)).unwrap();
    let mut cmd = live.tb.exec(Role::Server, SAMBA_DCERPCD);
    cmd.args([
        "--foreground",
        "--libexec-rpcds",
        "--debug-stdout",
        "-d",
        "1",
    ])
    .arg("-s")
    .arg(&conf)
    .current_dir(&dir)
    .stdout(std::fs::File::create(live.dir.path("samba.log")).unwrap())
    .stderr(std::fs::File::create(live.dir.path("samba.err")).unwrap());
    live.servers
        .push(Spawned::new("samba-dcerpcd", cmd).unwrap());
    live.wait_listening("tcp", 135);
    let mut last = Err(String::new());
    let ready = testbed::wait_for(Duration::from_secs(30), || {
        last = list(live, Role::Server);
        last.as_ref().is_ok_and(|b| b.len() == 3)
    });
    assert!(
        ready,
        "samba's endpoint mapper did not map its interfaces: {last:?}\n{}",
        std::fs::read_to_string(live.dir.path("samba.log")).unwrap_or_default()
    );
    last.unwrap()
}

/// The client in `hold` mode, with piped stdin and stdout; killed by its PID and reaped
/// when dropped, also when the test fails.
struct Held {
    child: Child,
    lines: mpsc::Receiver<String>,
    said: Vec<String>,
}

impl Held {
    fn start(live: &Live) -> Held {
        let python = venv_python();
        let mut cmd = live.tb.exec(Role::Client, python.to_str().unwrap());
        cmd.args(["-c", CLIENT, "hold", REMOTE_SERVER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(live.dir.path("client.err")).unwrap());
        let mut child = cmd.spawn().expect("the client starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Held {
            child,
            lines,
            said: Vec::new(),
        }
    }

    /// Waits (at most 60 s) for the line `HOLD`; returns every line before it.
    fn until_hold(&mut self, live: &Live) -> Vec<String> {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(60)) {
                Ok(l) if l == "HOLD" => return self.said.clone(),
                Ok(l) => self.said.push(l),
                Err(e) => panic!(
                    "no HOLD from the client ({e}); it said {:?}\n{}",
                    self.said,
                    std::fs::read_to_string(live.dir.path("client.err")).unwrap_or_default()
                ),
            }
        }
    }

    /// Lets the client close its connections and waits (at most 60 s) for its `done`.
    fn release(&mut self) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(b"go\n").unwrap();
        stdin.flush().unwrap();
        let done = self.lines.recv_timeout(Duration::from_secs(60));
        assert_eq!(done.as_deref(), Ok("done"), "{:?}", self.said);
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The sessions of `show services sessions extensive`: each header with its flow lines
/// (the lines after it up to the next header that are not the NAT block or a flow's
/// `Byte count`/`Flow role` lines).
fn extensive_sessions(text: &str) -> Vec<(&str, Vec<&str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in text.lines() {
        if line.starts_with("Session: ") {
            out.push((line, Vec::new()));
        } else if let Some((_, flows)) = out.last_mut() {
            if !line.starts_with(' ') && line.split_whitespace().nth(2) == Some("->") {
                flows.push(line);
            }
        }
    }
    out
}

/// Whether a flow line goes to [`REMOTE_SERVER`] port `port` (its 4th field, the
/// destination).
fn to_port(flow: &str, port: u16) -> bool {
    flow.split_whitespace().nth(3) == Some(&format!("{REMOTE_SERVER}:{port}"))
}

/// The flags of a `Session: …, Flags: 0x…` header.
fn flags(header: &str) -> u32 {
    let f = header
        .split("Flags: 0x")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap_or_else(|| panic!("no flags in {header}"));
    u32::from_str_radix(f, 16).unwrap()
}

/// The ALG name of a `Session: …, ALG: …, …` header.
fn alg(header: &str) -> &str {
    header
        .split("ALG: ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap_or_else(|| panic!("no ALG in {header}"))
}

/// The number after `prefix` up to the next comma (`Parent session : 5, protocol: TCP`).
fn number_after(line: &str, prefix: &str) -> Option<u64> {
    line.strip_prefix(prefix)?
        .split(',')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// (parent, child) session ids that `show services alg conversations` groups together.
fn conversation_pairs(text: &str) -> Vec<(u64, u64)> {
    let mut parent = None;
    let mut pairs = Vec::new();
    for line in text.lines() {
        if line.starts_with("Parent session status")
            || line.starts_with("ALG :")
            || line.starts_with("Interface name:")
        {
            parent = None;
        } else if let Some(p) = number_after(line, "Parent session :") {
            parent = Some(p);
        } else if let (Some(c), Some(p)) = (number_after(line, "Child session :"), parent) {
            pairs.push((p, c));
        }
    }
    pairs
}

/// Samba's endpoint mapper through napt-44 with the ALG on TCP 135 (`junos-dce-rpc-portmap`)
/// as the only application the inside may reach: `ept_map` answers reach the client with
/// Samba's own bindings (the server's address is not translated, so the towers pass as
/// sent), and the connection to lsarpc's dynamic port, which the firewall would discard,
/// is admitted as a child (flag 0x0800) of the endpoint-mapper session that learnt the port,
/// which `show services alg conversations` groups under it.
#[test]
fn lsarpc_reached_through_the_endpoint_mapper_pinhole() {
    peers_or_skip!();
    let mut live = Live::start(&only_apps_conf("junos-dce-rpc-portmap", ""), 1);
    let truth = start_samba(&mut live);
    let port = tcp_port(&truth[LSARPC]);

    let mut held = Held::start(&live);
    let said = held.until_hold(&live);
    let bound = format!("bound {}", truth[LSARPC]);
    assert!(
        said.contains(&bound),
        "lsarpc not reached through the pinhole: {said:?}\n{}",
        live.show("show services sessions")
    );
    let text = live.show("show services sessions extensive");
    let all = extensive_sessions(&text);
    let to = |port: u16| {
        all.iter()
            .find(|(_, flows)| {
                flows
                    .iter()
                    .any(|f| f.starts_with("TCP") && to_port(f, port))
            })
            .unwrap_or_else(|| panic!("no session to {REMOTE_SERVER}:{port}:\n{text}"))
    };
    let (child, child_flows) = to(port);
    assert_ne!(flags(child) & 0x0800, 0, "not an ALG child: {text}");
    assert_eq!(alg(child), "dce-rpc-portmap", "{text}");
    assert!(
        child_flows.iter().all(|f| f.contains(" Forward ")),
        "{text}"
    );
    let answers_pool = child_flows.iter().any(|f| {
        let dst = f.split_whitespace().nth(3).and_then(|d| d.split_once(':'));
        dst.and_then(|(a, _)| a.parse::<std::net::Ipv4Addr>().ok())
            .is_some_and(|a| a.octets()[..3] == [203, 0, 113] && a.octets()[3] >= 128)
    });
    assert!(
        answers_pool,
        "the child is not translated into the pool: {text}"
    );
    let (parent, _) = to(135);
    assert_eq!(alg(parent), "dce-rpc-portmap", "{text}");
    let conv = live.show("show services alg conversations");
    let pair = (session_id(parent), session_id(child));
    assert!(
        conversation_pairs(&conv).contains(&pair),
        "conversations do not group {pair:?}:\n{conv}\n{text}"
    );
    assert!(conv.contains("ALG : DCE-RPC-PORTMAP ALG"), "{conv}");
    held.release();

    // The listing: every interface's ept_map answer reaches the client through napt-44
    // exactly as Samba gave it inside the server namespace.
    let seen = list(&live, Role::Client).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(seen, truth, "{}", live.show("show services sessions"));
}

/// The same exchange when the application on TCP 135 has no ALG: the endpoint mapper is
/// still reached and names lsarpc's port, but no pinhole opens, so the firewall discards
/// the connection to that port.
#[test]
fn without_the_alg_the_dynamic_port_stays_closed() {
    peers_or_skip!();
    let plain = "applications {
    application epm-plain {
        protocol tcp;
        destination-port 135;
    }
}
";
    let mut live = Live::start(&only_apps_conf("epm-plain", plain), 1);
    let truth = start_samba(&mut live);
    let port = tcp_port(&truth[LSARPC]);

    let mut held = Held::start(&live);
    let said = held.until_hold(&live);
    assert!(
        said.contains(&format!("map lsarpc {}", truth[LSARPC])),
        "{said:?}"
    );
    assert!(
        said.iter().any(|l| l.starts_with("unreachable ")),
        "reached lsarpc without a pinhole: {said:?}\n{}",
        live.show("show services sessions")
    );
    let text = live.show("show services sessions");
    let dropped = sessions(&text)
        .iter()
        .any(|s| to_port(&s.1, port) && s.1.contains(" Drop "));
    assert!(dropped, "no discarded session to port {port}:\n{text}");
    held.release();
}
