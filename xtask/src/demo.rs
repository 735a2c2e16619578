//! `cargo xtask demo`: build the CLI, generate the sample capture, replay it, show the result.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use mspic_tests::{mixed_client_traffic, Sides};

use crate::util::{cargo, display, rel, run, target_dir, workspace_root};

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

pub fn run_demo() -> Result<()> {
    let root = workspace_root();
    let target = target_dir(&root);

    println!("==> building the release CLI");
    run(cargo()
        .args(["build", "--release", "-p", "mspic-cli"])
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
