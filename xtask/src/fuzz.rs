//! `cargo xtask fuzz`: every libFuzzer target of tests/fuzz for a bounded time, seeded from
//! the corpus kept in tests/fuzz/seeds (`cargo xtask fuzz-seeds` writes it).
//!
//! Needs the machine's nightly toolchain (never downloaded here) and cargo-fuzz (`cargo
//! xtask deps` installs it). Without them the run is skipped with the reason, except under
//! `CI=true`, where it fails.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::util::{display, rel, succeeds, target_dir, workspace_root};

#[derive(Args, Debug, Clone)]
pub struct FuzzArgs {
    /// Seconds per target.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Seconds for all targets together: with more targets than fit, each gets its share
    /// (at least 5 s).
    #[arg(long)]
    pub budget: Option<u64>,
    /// Targets to run (default: every target of tests/fuzz).
    pub targets: Vec<String>,
}

/// The toolchain the fuzz targets build with.
const NIGHTLY: &str = "nightly";

/// `cargo fuzz` under the nightly toolchain (through rustup: the cargo running xtask is a
/// toolchain's own binary, which does not take `+nightly`).
fn nightly_cargo_fuzz() -> Command {
    let mut c = Command::new("rustup");
    c.args(["run", NIGHTLY, "cargo", "fuzz"])
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTDOC");
    c
}

/// Running under CI (`CI=true`)?
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Is a nightly toolchain installed (`rustup toolchain list`)?
pub fn has_nightly() -> bool {
    Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .is_ok_and(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .any(|l| l.starts_with("nightly"))
        })
}

/// Does `cargo fuzz` run?
pub fn has_cargo_fuzz() -> bool {
    succeeds(nightly_cargo_fuzz().arg("--version"))
}

fn fuzz_dir() -> PathBuf {
    workspace_root().join("tests/fuzz")
}

fn cargo_fuzz() -> Command {
    let mut c = nightly_cargo_fuzz();
    c.current_dir(fuzz_dir());
    c
}

/// Why fuzzing cannot run here, if it cannot.
fn missing_tools() -> Option<String> {
    if !has_nightly() {
        return Some(
            "no nightly toolchain (`rustup toolchain list` shows none; cargo-fuzz needs one, \
             and this step does not download toolchains)"
                .into(),
        );
    }
    if !has_cargo_fuzz() {
        return Some("cargo-fuzz is not installed (run `cargo xtask deps`)".into());
    }
    None
}

/// Every target of tests/fuzz (`cargo fuzz list`).
fn all_targets() -> Result<Vec<String>> {
    let out = cargo_fuzz()
        .arg("list")
        .output()
        .context("cannot run `cargo fuzz list`")?;
    if !out.status.success() {
        bail!(
            "`cargo fuzz list` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// The last line of libFuzzer's output that starts with `prefix`.
fn last_line<'a>(log: &'a str, prefix: &str) -> Option<&'a str> {
    log.lines().rev().find(|l| l.starts_with(prefix))
}

pub fn run(a: &FuzzArgs) -> Result<()> {
    if let Some(why) = missing_tools() {
        if in_ci() {
            bail!("cannot fuzz: {why}");
        }
        println!("fuzz: skipped: {why}");
        return Ok(());
    }
    let root = workspace_root();
    let targets = if a.targets.is_empty() {
        all_targets()?
    } else {
        a.targets.clone()
    };
    // Instrumented, with debug assertions and overflow checks (cargo-fuzz's default); no
    // sanitizer: the fuzzed crates forbid `unsafe`, and the runs get twice the executions.
    let mut build = cargo_fuzz();
    build.args(["build", "-s", "none"]);
    if let [one] = &targets[..] {
        build.arg(one);
    }
    crate::util::run(&mut build)?;
    let seconds = match a.budget {
        Some(b) => a.seconds.min((b / targets.len().max(1) as u64).max(5)),
        None => a.seconds,
    };
    let work = target_dir(&root).join("fuzz");
    let mut failed = Vec::new();
    println!(
        "fuzz: {} targets, {} s each; corpora in {}",
        targets.len(),
        seconds,
        rel(&work, &root).display()
    );
    for t in &targets {
        let corpus = work.join("corpus").join(t);
        fs::create_dir_all(&corpus)
            .with_context(|| format!("cannot create {}", corpus.display()))?;
        let seeds = fuzz_dir().join("seeds").join(t);
        let log = work.join(format!("{t}.log"));
        let mut cmd = cargo_fuzz();
        cmd.args(["run", "-s", "none", t]).arg(&corpus);
        if seeds.is_dir() {
            cmd.arg(&seeds);
        }
        cmd.arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .args(["-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log)?);
        let line = display(&cmd);
        let started = Instant::now();
        let status = cmd
            .status()
            .with_context(|| format!("cannot run `{line}`"))?;
        let text = fs::read_to_string(&log).unwrap_or_default();
        let execs = last_line(&text, "stat::number_of_executed_units:")
            .and_then(|l| l.rsplit(':').next())
            .map(str::trim)
            .unwrap_or("?");
        let cov = text
            .lines()
            .rev()
            .find_map(|l| l.split("cov: ").nth(1))
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or("?");
        let seeds_n = fs::read_dir(&seeds).map(|d| d.count()).unwrap_or(0);
        println!(
            "  {t:<16} {:<6} {:>6.1} s  {execs:>9} runs  cov {cov:<6} seeds {seeds_n}",
            if status.success() { "ok" } else { "FAILED" },
            started.elapsed().as_secs_f64()
        );
        if !status.success() {
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            for l in tail.into_iter().rev() {
                println!("    | {l}");
            }
            println!("    full log: {}", rel(&log, &root).display());
            failed.push(t.clone());
        }
    }
    if !failed.is_empty() {
        bail!(
            "fuzz targets failed: {} (reproducers in tests/fuzz/artifacts/<target>/; each \
             becomes a regression test)",
            failed.join(", ")
        );
    }
    Ok(())
}

/// Writes `bytes` as seed `name` of `target`.
pub(crate) fn write_seed(dir: &Path, target: &str, name: &str, bytes: &[u8]) -> Result<()> {
    let d = dir.join(target);
    fs::create_dir_all(&d).with_context(|| format!("cannot create {}", d.display()))?;
    let p = d.join(name);
    fs::write(&p, bytes).with_context(|| format!("cannot write {}", p.display()))
}
