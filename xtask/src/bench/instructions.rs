//! `cargo xtask bench instructions --base REV`: instructions per packet of the shard
//! benches (`crates/flow/benches/count.rs`) at an earlier commit and at the working tree,
//! counted by `valgrind --tool=callgrind`. Counts repeat to a few instructions whatever
//! else the machine does, so they show what a change added to a path where timings on a
//! shared machine drown it; they say nothing of cache misses or branch prediction, so
//! timings (`bench compare`) still decide.
//!
//! Each benchmark runs in pairs per side, building frames for `M` iterations and running
//! `N1`, then `N2` of them: (instructions(N2) − instructions(N1)) / (N2 − N1) is the cost
//! of one packet, set-up and frame building cancelling out; the median of three pairs is
//! shown (hash seeds, and so probe lengths, differ from run to run: about ±1.5 %). A commit from before the
//! count bench existed gets today's `count.rs` and `common/` copied into its worktree
//! (and the `[[bench]]` entry); it must compile against that commit's API.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::compare::{build, rev_parse, Worktree};
use crate::util::{display, target_dir, workspace_root};

const BENCH: &str = "count";
/// Pairs of runs per benchmark and side; the median counts.
const REPEATS: usize = 3;

#[derive(Args, Debug, Clone)]
pub struct InstructionsArgs {
    /// The commit to compare against (anything `git rev-parse` takes).
    #[arg(long)]
    base: String,
    /// The commit to compare; the working tree when absent.
    #[arg(long)]
    head: Option<String>,
    /// Only the benchmarks whose name contains this (`established`, `setup/napt44`).
    #[arg(long)]
    filter: Option<String>,
    /// Packets in the shorter run; the longer runs twice as many.
    #[arg(long, default_value_t = 4_000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    packets: u64,
}

pub fn instructions(a: &InstructionsArgs) -> Result<()> {
    if Command::new("valgrind").arg("--version").output().is_err() {
        bail!("valgrind is not installed (apt-get install valgrind)");
    }
    let root = workspace_root();
    let dir = target_dir(&root).join("bench-compare");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let base_rev = rev_parse(&root, &a.base)?;
    let head = match &a.head {
        None => {
            println!("==> building the count bench at HEAD (working tree)");
            (build(&root, None, BENCH)?, "the working tree".to_string())
        }
        Some(h) => {
            let rev = rev_parse(&root, h)?;
            (commit_count(&root, &dir, &rev)?, format!("{h} ({rev})"))
        }
    };
    let base = commit_count(&root, &dir, &base_rev)?;
    let ids = list(&head.0)?;
    let ids: Vec<String> = ids
        .into_iter()
        .filter(|id| a.filter.as_ref().is_none_or(|f| id.contains(f.as_str())))
        .collect();
    if ids.is_empty() {
        bail!("no benchmark matches the filter");
    }
    let (n1, n2) = (a.packets, 2 * a.packets);
    let mut rows: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for id in &ids {
        println!("==> {id}");
        // Hash seeds differ from run to run (and so do probe lengths): the median of
        // three pairs.
        let per_packet = |exe: &Path| -> Result<f64> {
            let mut v = Vec::new();
            for _ in 0..REPEATS {
                let i1 = collected(exe, id, n1, n2)?;
                let i2 = collected(exe, id, n2, n2)?;
                v.push((i2 as f64 - i1 as f64) / (n2 - n1) as f64);
            }
            v.sort_by(f64::total_cmp);
            Ok(v[v.len() / 2])
        };
        rows.insert(id.clone(), (per_packet(&base)?, per_packet(&head.0)?));
    }
    println!();
    println!(
        "base {} ({base_rev}) vs head {}, instructions per packet (callgrind):",
        a.base, head.1
    );
    println!("| benchmark | base | head | head/base |\n|---|---:|---:|---:|");
    for (id, (b, h)) in &rows {
        println!("| {id} | {b:.1} | {h:.1} | {:.3} |", h / b);
    }
    Ok(())
}

/// The count bench of commit `rev`, built once in a worktree and kept.
fn commit_count(root: &Path, dir: &Path, rev: &str) -> Result<PathBuf> {
    let exe = dir.join(format!("{BENCH}-{}", &rev[..12]));
    if exe.is_file() {
        println!("==> the count bench at {rev}: {}", exe.display());
        return Ok(exe);
    }
    println!("==> building the count bench at {rev}");
    let tree = Worktree::add(root, &dir.join("tree"), rev)?;
    let benches = tree.path.join("crates/flow/benches");
    if !benches.join("count.rs").exists() {
        println!("    (it has none: today's count.rs and common/ copied in)");
        let here = root.join("crates/flow/benches");
        std::fs::copy(here.join("count.rs"), benches.join("count.rs"))?;
        std::fs::create_dir_all(benches.join("common"))?;
        std::fs::copy(here.join("common/mod.rs"), benches.join("common/mod.rs"))?;
        let manifest = tree.path.join("crates/flow/Cargo.toml");
        let mut m = std::fs::read_to_string(&manifest)?;
        m.push_str("\n[[bench]]\nname = \"count\"\nharness = false\n");
        std::fs::write(&manifest, m)?;
    }
    let built = build(&tree.path, Some(&dir.join("target")), BENCH)?;
    std::fs::copy(&built, &exe).with_context(|| format!("cannot copy {}", built.display()))?;
    Ok(exe)
}

/// The benchmark names the count binary knows.
fn list(exe: &Path) -> Result<Vec<String>> {
    let out = Command::new(exe).arg("--list").output()?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect())
}

/// Instructions callgrind counted for `exe id n m`.
fn collected(exe: &Path, id: &str, n: u64, m: u64) -> Result<u64> {
    let mut cmd = Command::new("valgrind");
    cmd.args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(exe)
        .args([id, &n.to_string(), &m.to_string()]);
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {}", display(&cmd)))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            display(&cmd),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse_collected(&String::from_utf8_lossy(&out.stderr))
        .with_context(|| format!("no instruction count from {}", display(&cmd)))
}

/// The total of callgrind's `==PID== Collected : N` line.
fn parse_collected(stderr: &str) -> Option<u64> {
    stderr
        .lines()
        .find_map(|l| l.split("Collected :").nth(1))
        .and_then(|n| n.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_from_callgrind_output() {
        let err = "==21284== Events    : Ir\n==21284== Collected : 10716999\n==21284==\n";
        assert_eq!(parse_collected(err), Some(10_716_999));
        assert_eq!(parse_collected("==1== nothing\n"), None);
    }
}
