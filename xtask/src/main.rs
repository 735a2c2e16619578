//! Project tasks: `cargo xtask deps | gen-pcap | demo | test | fresh-check | testbed up|down |
//! bench | soak | fuzz | fuzz-seeds`.

#![forbid(unsafe_code)]

mod bench;
mod ci;
mod demo;
mod deps;
mod fresh;
mod fuzz;
mod seeds;
mod soak;
mod util;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use mspic_tests::{mixed_client_traffic, Sides};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "mspic project tasks"
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install what building and testing need (apt packages as root, rustfmt, clippy,
    /// cargo-nextest); quick when everything is present.
    Deps,
    /// Write the demo's traffic mix to a pcap (or pcapng) file and print its summary.
    GenPcap(GenPcapArgs),
    /// Build, bring up the testbed, run mspicd with docs/examples/testbed.conf, send real
    /// traffic (curl, dig, ping) and show the sessions and NAT pool; `--offline` replays a
    /// generated capture instead (no root needed).
    Demo {
        #[arg(long)]
        offline: bool,
    },
    /// What `make test` runs: deps, the fresh-machine check, fmt check, clippy, nextest,
    /// doc tests, the fuzz targets (compiled, then run 20 s each).
    Test,
    /// Deps and the offline build in a copy of the tree, inside a mount namespace where the
    /// dataplane's C headers and clang are hidden (root; part of `test`).
    FreshCheck,
    /// The network-namespace testbed (clients, the PIC, servers; see `mspic_tests::testbed`).
    Testbed {
        #[command(subcommand)]
        action: TestbedAction,
    },
    /// Benchmarks: `bench e2e` sends UDP through mspicd and through Linux side by side.
    Bench(bench::BenchCmd),
    /// Run every fuzz target of tests/fuzz for a bounded time, seeded from
    /// tests/fuzz/seeds (nightly toolchain and cargo-fuzz; part of `test`, 20 s each).
    Fuzz(fuzz::FuzzArgs),
    /// Write the fuzz targets' seed corpus, tests/fuzz/seeds (deterministic).
    FuzzSeeds,
    /// Mixed traffic (HTTP, DNS, ping, short UDP flows, malformed frames) through mspicd
    /// in a testbed for N minutes; samples its memory, sessions and UMEM every 10 s and
    /// fails on growth, sessions that stay, or a frame lost (root).
    Soak(soak::SoakArgs),
}

#[derive(Subcommand)]
enum TestbedAction {
    /// Create namespaces NAME-cl, NAME-pic, NAME-sv and their veth pairs; they stay until
    /// `down`. Run mspicd in NAME-pic (`ip netns exec NAME-pic mspicd --config …`).
    Up {
        /// Receive/transmit queues per veth (one mspicd worker per queue).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
        queues: u32,
        #[arg(long, default_value = "mspic")]
        name: String,
        /// Also start sshd in NAME-pic (127.0.0.1, ports 22 and 830) with generated keys:
        /// a login gets the `mspic cli` prompt, the `netconf` subsystem runs `mspic netconf`
        /// (docs/daemon.md).
        #[arg(long)]
        ssh: bool,
        /// With --ssh: the control socket of the mspicd the logins talk to.
        #[arg(long, value_name = "PATH", default_value = "/run/mspic/mspicd.sock")]
        socket: PathBuf,
    },
    /// Remove the namespaces of testbed NAME (and stop its sshd).
    Down {
        #[arg(long, default_value = "mspic")]
        name: String,
    },
}

/// Where `testbed up --ssh` keeps the keys and configuration of testbed `name`'s sshd.
fn ssh_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("mspic-testbed-{name}-ssh"))
}

/// sshd in the PIC namespace of `tb` (see `mspic_tests::ssh`), for the release `mspic`.
fn start_ssh(tb: &mspic_tests::testbed::Testbed, name: &str, socket: &Path) -> Result<()> {
    use mspic_tests::ssh;
    if !Path::new(ssh::SSHD).exists() {
        bail!(
            "{} is missing: install openssh-server (cargo xtask deps)",
            ssh::SSHD
        );
    }
    let root = util::workspace_root();
    util::run(
        util::cargo()
            .args(["build", "--release", "-p", "mspic-cli"])
            .current_dir(&root),
    )?;
    let mspic = util::target_dir(&root).join("release").join("mspic");
    let dir = ssh_dir(name);
    ssh::stop(&dir);
    let setup = ssh::SshSetup::write(&dir, &mspic, socket)
        .with_context(|| format!("writing the sshd set-up in {}", dir.display()))?;
    util::run(&mut setup.command(tb, false))?;
    tb.wait_listening(
        mspic_tests::testbed::Role::Pic,
        "tcp",
        ssh::NETCONF_PORT,
        std::time::Duration::from_secs(15),
    )
    .with_context(|| format!("sshd did not come up:\n{}", setup.log()))?;
    println!(
        "sshd in {} on 127.0.0.1 ports {} (mspic cli) and {} (NETCONF), for mspicd at {}:\n  {}\n  {} -p {} -s netconf\nkeys and configuration in {}",
        tb.ns(mspic_tests::testbed::Role::Pic),
        ssh::LOGIN_PORT,
        ssh::NETCONF_PORT,
        socket.display(),
        setup.ssh_hint(tb),
        setup.ssh_hint(tb),
        ssh::NETCONF_PORT,
        dir.display()
    );
    Ok(())
}

fn testbed(action: &TestbedAction) -> Result<()> {
    use mspic_tests::testbed;
    match action {
        TestbedAction::Up {
            queues,
            name,
            ssh,
            socket,
        } => {
            if let Some(why) = testbed::unavailable() {
                bail!("cannot build the testbed: {why}");
            }
            let tb = testbed::Testbed::up(name, *queues, true)
                .with_context(|| format!("building testbed {name}"))?;
            println!(
                "testbed {name} is up ({queues} queue(s)):\n  {} cl0 10.0.0.2/24 gw 10.0.0.1\n  {} pin (ge-0/0/0), pout (ge-0/0/1): run mspicd here\n  {} sv0 203.0.113.2/24 gw 203.0.113.1, lo 198.51.100.7/32\nremove it with: cargo xtask testbed down --name {name}",
                tb.ns(testbed::Role::Client),
                tb.ns(testbed::Role::Pic),
                tb.ns(testbed::Role::Server)
            );
            if *ssh {
                start_ssh(&tb, name, socket)?;
            }
            Ok(())
        }
        TestbedAction::Down { name } => {
            mspic_tests::ssh::stop(&ssh_dir(name));
            testbed::remove(name);
            println!("testbed {name} removed");
            Ok(())
        }
    }
}

#[derive(Args)]
struct GenPcapArgs {
    /// Output file.
    #[arg(long)]
    out: PathBuf,
    /// Random seed; the same seed gives the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of clients (10.0.0.2, 10.0.0.3, …).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=250))]
    clients: u16,
    /// Length of the trace in seconds of pcap time.
    #[arg(long, default_value_t = 60.0)]
    duration: f64,
    /// Write only the initiators' frames (for replays where a responder answers).
    #[arg(long)]
    client_only: bool,
    /// Write pcapng (one interface per router port) instead of pcap; implied by a
    /// `.pcapng` file name.
    #[arg(long)]
    pcapng: bool,
}

fn gen_pcap(a: &GenPcapArgs) -> Result<()> {
    if !(a.duration.is_finite() && a.duration > 0.0 && a.duration <= 86_400.0) {
        bail!("--duration must be between 0 and 86400 seconds");
    }
    let sides = if a.client_only {
        Sides::ClientOnly
    } else {
        Sides::Both
    };
    let duration = Duration::from_secs_f64(a.duration);
    let (trace, summary) = mixed_client_traffic(a.seed, usize::from(a.clients), duration, sides);
    let ng = a.pcapng || a.out.extension().is_some_and(|e| e == "pcapng");
    if ng {
        trace.write_pcapng(&a.out)
    } else {
        trace.write_pcap(&a.out)
    }
    .with_context(|| format!("cannot write {}", a.out.display()))?;
    println!("{summary}");
    println!(
        "wrote {} frames to {} ({}, seed {}, {} clients, {:.3} s, {})",
        trace.len(),
        a.out.display(),
        if ng { "pcapng" } else { "pcap" },
        a.seed,
        a.clients,
        a.duration,
        if a.client_only {
            "client side only"
        } else {
            "both sides"
        }
    );
    Ok(())
}

fn main() -> ExitCode {
    let result = match Cli::parse().task {
        Task::Deps => deps::run_all(),
        Task::GenPcap(a) => gen_pcap(&a),
        Task::Demo { offline } => {
            if offline {
                demo::run_offline_demo()
            } else {
                demo::run_demo()
            }
        }
        Task::Test => ci::run(),
        Task::FreshCheck => fresh::run_check(),
        Task::Testbed { action } => testbed(&action),
        Task::Bench(b) => bench::run_bench(&b),
        Task::Fuzz(a) => fuzz::run(&a),
        Task::FuzzSeeds => seeds::run(),
        Task::Soak(a) => soak::run_soak(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the context chain on one line, without a backtrace.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
