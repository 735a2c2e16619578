//! `cargo xtask deps`: install what building and testing need, quickly when all is there.
//! Toolchains are never downloaded: a missing nightly (for fuzzing) is reported.

use std::collections::HashSet;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::util::{cargo, is_root, on_path, run, succeeds};

/// Debian packages the build and the tests need: (package, why). The one place to add
/// more. `deps` runs before anything that links a C library is compiled (xtask links
/// none), so the `-dev` packages here are in place when the dataplane builds.
pub const APT_PACKAGES: &[(&str, &str)] = &[
    ("tcpdump", "reading captures in tests and by hand"),
    ("iproute2", "`ip netns` and veth pairs for the testbed"),
    ("ethtool", "turning checksum offload off on veth ends"),
    ("clang", "compiling bpf/steer.bpf.c"),
    ("llvm", "BPF object tools for the XDP build"),
    (
        "libelf-dev",
        "libbpf/libxdp (built from source by the dataplane)",
    ),
    ("zlib1g-dev", "libbpf/libxdp"),
    ("pkg-config", "locating libelf and zlib"),
    ("m4", "libxdp's build"),
    ("linux-libc-dev", "UAPI headers for the BPF program"),
    ("libbpf-dev", "bpf_helpers.h for the BPF program"),
    ("python3", "test servers in the network namespaces"),
    ("iputils-ping", "ping, the ICMP client in the testbed"),
    ("curl", "HTTP client in the testbed"),
    ("dnsmasq", "DNS server in the testbed"),
    ("dnsutils", "dig, the DNS client in the testbed"),
    ("unbound", "the DNS64 resolver (RFC 6147) of the NAT64 test"),
    (
        "nftables",
        "the Linux NAT baseline of the end-to-end benchmark",
    ),
    (
        "util-linux",
        "unshare and mount for the fresh-machine check",
    ),
    ("python3-pyftpdlib", "FTP server of the ALG tests"),
    ("tftpd-hpa", "TFTP server of the ALG tests"),
    ("tftp-hpa", "TFTP client of the ALG tests"),
    ("openbsd-inetd", "runs rshd and talkd in the ALG tests"),
    ("rsh-redone-server", "rshd of the ALG tests"),
    ("rsh-redone-client", "rsh client of the ALG tests"),
    ("inetutils-talkd", "talk daemon of the ALG tests"),
    (
        "rpcbind",
        "the portmapper and rpcinfo of the Sun RPC ALG test",
    ),
    (
        "nfs-common",
        "rpc.statd, an RPC program on its own ports, in the Sun RPC ALG test",
    ),
    (
        "sip-tester",
        "SIPp, the SIP user agents of the SIP ALG test",
    ),
    (
        "openssh-server",
        "sshd with the netconf subsystem in the NETCONF tests and the testbed",
    ),
    (
        "python3-venv",
        "the virtual environment of the NETCONF clients",
    ),
    (
        "rsyslog",
        "the syslog collector of the session and NAT log test",
    ),
    (
        "gir1.2-gst-rtsp-server-1.0",
        "GStreamer's RTSP server library, the server of the RTSP ALG test",
    ),
    (
        "python3-gi",
        "the Python bindings the RTSP ALG test's server is written with",
    ),
    (
        "gstreamer1.0-plugins-base",
        "audiotestsrc, the RTSP ALG test's media source",
    ),
    (
        "gstreamer1.0-plugins-good",
        "rtspsrc and rtpL16pay, the RTSP ALG test's client and payloader",
    ),
    (
        "gstreamer1.0-tools",
        "gst-launch-1.0, which runs the RTSP ALG test's client",
    ),
    ("pptpd", "the PPTP server of the PPTP ALG test"),
    ("pptp-linux", "pptp, the PPTP client of the PPTP ALG test"),
    (
        "samba",
        "samba-dcerpcd and its rpcd_* helpers, the endpoint mapper of the DCE-RPC ALG test",
    ),
];

/// Python packages of the tests' clients (PyPI), installed into [`netconf_venv`]:
/// (package, exact version, why). Every package in the environment is pinned, the ones
/// pulled in by others too, so a fresh machine gets what the tests were written against.
pub const PYTHON_PACKAGES: &[(&str, &str, &str)] = &[
    ("junos-eznc", "2.8.2", "PyEZ, the Junos automation client"),
    ("ncclient", "0.7.0", "the NETCONF client PyEZ is built on"),
    (
        "pexpect",
        "4.9.0",
        "drives the interactive `ssh -tt` CLI session through a pty",
    ),
    ("ptyprocess", "0.7.0", "pexpect's pty"),
    ("paramiko", "5.1.0", "ncclient's SSH transport"),
    ("lxml", "6.1.3", "ncclient's and PyEZ's XML"),
    ("bcrypt", "5.0.0", "paramiko"),
    ("cryptography", "50.0.2", "paramiko"),
    ("cffi", "2.1.1", "cryptography, PyNaCl"),
    ("pycparser", "3.12", "cffi"),
    ("PyNaCl", "1.6.2", "paramiko"),
    ("invoke", "3.0.3", "paramiko"),
    ("Jinja2", "3.1.6", "PyEZ's configuration templates"),
    ("MarkupSafe", "3.0.4", "Jinja2"),
    ("pyparsing", "3.3.3", "PyEZ"),
    ("pyserial", "3.5", "PyEZ"),
    ("PyYAML", "6.0.4", "PyEZ"),
    ("scp", "0.16.2", "PyEZ"),
    ("six", "1.17.0", "PyEZ, ncclient"),
    ("transitions", "0.9.3", "PyEZ"),
    ("yamlloader", "1.6.0", "PyEZ"),
    (
        "impacket",
        "0.13.1",
        "the endpoint-mapper client of the DCE-RPC ALG test",
    ),
    ("pyasn1", "0.6.5", "impacket"),
    ("pyasn1_modules", "0.4.2", "impacket"),
    ("pycryptodomex", "3.24.2", "impacket"),
    ("pyOpenSSL", "26.4.0", "impacket"),
    ("ldap3", "2.9.1", "impacket"),
    ("ldapdomaindump", "0.10.0", "impacket"),
    ("dnspython", "2.9.2", "ldapdomaindump"),
    ("Flask", "3.1.3", "impacket"),
    ("Werkzeug", "3.1.9", "Flask"),
    ("itsdangerous", "2.2.0", "Flask"),
    ("click", "8.5.1", "Flask"),
    ("blinker", "1.9.0", "Flask"),
    ("charset-normalizer", "3.5.3", "impacket"),
    ("typing_extensions", "4.16.0", "pyOpenSSL"),
];

/// What the venv's Python must import for the tests to run.
pub const PYTHON_IMPORTS: &str = "import jnpr.junos, ncclient, pexpect, impacket.dcerpc.v5.epm";

/// The virtual environment the NETCONF tests run their clients from
/// (`target/netconf-venv`, the path `tests/tests/netconf_ssh.rs` uses).
pub fn netconf_venv() -> std::path::PathBuf {
    crate::util::workspace_root()
        .join("target")
        .join("netconf-venv")
}

/// Rust toolchain components: (cargo subcommand, rustup component).
const RUST_COMPONENTS: &[(&str, &str)] = &[("fmt", "rustfmt"), ("clippy", "clippy")];

pub fn run_all() -> Result<()> {
    apt()?;
    python()?;
    rust_components()?;
    nextest()?;
    fuzzing()?;
    Ok(())
}

/// The fuzz step's tools: the machine's nightly toolchain (only checked: toolchains are not
/// downloaded here) and cargo-fuzz (installed when missing). Without nightly, fuzzing is
/// skipped with a note, except under `CI=true`, where it is an error.
fn fuzzing() -> Result<()> {
    if !crate::fuzz::has_nightly() {
        let why = "no nightly toolchain (`rustup toolchain list` shows none): the fuzz targets \
                   cannot run; install one with `rustup toolchain install nightly` where \
                   toolchains can be downloaded";
        if crate::fuzz::in_ci() {
            bail!("{why}");
        }
        println!("rust: warning: {why}; `make test` will skip fuzzing");
        return Ok(());
    }
    if crate::fuzz::has_cargo_fuzz() {
        println!("rust: nightly toolchain and cargo-fuzz present");
        return Ok(());
    }
    println!("rust: cargo-fuzz missing, installing it (this compiles it, takes a while)");
    run(cargo().args(["install", "cargo-fuzz", "--locked"]))?;
    if !crate::fuzz::has_cargo_fuzz() {
        bail!("`cargo fuzz` still unavailable after `cargo install cargo-fuzz` (is ~/.cargo/bin on PATH?)");
    }
    Ok(())
}

/// The packages of `APT_PACKAGES` that dpkg does not report as installed.
fn missing_apt_packages() -> Result<Vec<&'static str>> {
    let out = Command::new("dpkg-query")
        .arg("-W")
        .arg("-f=${Package} ${Status}\n")
        .args(APT_PACKAGES.iter().map(|(p, _)| p))
        .output()
        .context("cannot run dpkg-query")?;
    // dpkg-query exits non-zero when a package is unknown; the known ones are still listed.
    let installed: HashSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, status)| status.trim() == "install ok installed")
        .map(|(pkg, _)| pkg.split(':').next().unwrap_or(pkg).to_string())
        .collect();
    Ok(APT_PACKAGES
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !installed.contains(*p))
        .collect())
}

fn apt() -> Result<()> {
    let names: Vec<&str> = APT_PACKAGES.iter().map(|(p, _)| *p).collect();
    if !on_path("dpkg-query") {
        eprintln!(
            "warning: no dpkg-query (not a Debian system?); make sure these are installed: {}",
            names.join(" ")
        );
        return Ok(());
    }
    let missing = missing_apt_packages()?;
    if missing.is_empty() {
        println!("apt: all {} packages present", names.len());
        return Ok(());
    }
    for (pkg, why) in APT_PACKAGES.iter().filter(|(p, _)| missing.contains(p)) {
        println!("apt: missing {pkg} ({why})");
    }
    if !is_root() {
        bail!(
            "missing apt packages: {list}\nrun as root, or install them yourself:\n  \
             sudo apt-get update && sudo apt-get install -y --no-install-recommends {list}",
            list = missing.join(" ")
        );
    }
    run(Command::new("apt-get")
        .arg("update")
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    let still = missing_apt_packages()?;
    if !still.is_empty() {
        bail!(
            "apt-get install finished but still missing: {}",
            still.join(" ")
        );
    }
    println!("apt: installed {}", missing.join(" "));
    Ok(())
}

/// Creates [`netconf_venv`] with the system Python and installs [`PYTHON_PACKAGES`] into
/// it, unless they are there at their pinned versions already.
fn python() -> Result<()> {
    let venv = netconf_venv();
    let py = venv.join("bin").join("python");
    let pins: Vec<String> = PYTHON_PACKAGES
        .iter()
        .map(|(p, v, _)| format!("{p}=={v}"))
        .collect();
    if py.exists() && python_ready(&py) {
        println!("python: {} present in {}", pins.join(" "), venv.display());
        return Ok(());
    }
    run(Command::new("/usr/bin/python3")
        .args(["-m", "venv"])
        .arg(&venv))?;
    run(Command::new(&py)
        .args(["-m", "pip", "install", "--quiet"])
        .args(&pins))?;
    if !python_ready(&py) {
        bail!(
            "installed {} into {} but they do not import at those versions",
            pins.join(" "),
            venv.display()
        );
    }
    println!(
        "python: installed {} into {}",
        pins.join(" "),
        venv.display()
    );
    Ok(())
}

/// Whether `py` imports the tests' modules and has every package at its pinned version.
fn python_ready(py: &std::path::Path) -> bool {
    let expected: Vec<String> = PYTHON_PACKAGES
        .iter()
        .map(|(p, v, _)| format!("({p:?}, {v:?})"))
        .collect();
    let check = format!(
        "{PYTHON_IMPORTS}\nimport importlib.metadata as m, sys\n\
         sys.exit(any(m.version(p) != v for p, v in [{}]))",
        expected.join(", ")
    );
    succeeds(Command::new(py).args(["-c", &check]))
}

fn rust_components() -> Result<()> {
    for (sub, component) in RUST_COMPONENTS {
        if succeeds(cargo().args([sub, "--version"])) {
            continue;
        }
        if !on_path("rustup") {
            bail!("`cargo {sub}` is not available and there is no rustup to add the `{component}` component");
        }
        run(Command::new("rustup").args(["component", "add", component]))?;
        if !succeeds(cargo().args([sub, "--version"])) {
            bail!("`cargo {sub}` still unavailable after `rustup component add {component}`");
        }
    }
    println!("rust: cargo fmt and cargo clippy present");
    Ok(())
}

/// Is `cargo nextest` available?
pub fn has_nextest() -> bool {
    succeeds(cargo().args(["nextest", "--version"]))
}

fn nextest() -> Result<()> {
    if has_nextest() {
        println!("rust: cargo-nextest present");
        return Ok(());
    }
    println!("rust: cargo-nextest missing, installing it (this compiles it, takes a while)");
    run(cargo().args(["install", "cargo-nextest", "--locked"]))?;
    if !has_nextest() {
        bail!("`cargo nextest` still unavailable after `cargo install cargo-nextest` (is ~/.cargo/bin on PATH?)");
    }
    Ok(())
}
