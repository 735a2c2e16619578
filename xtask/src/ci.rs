//! `cargo xtask test`: everything `make test` (and CI) checks, step by step.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::deps;
use crate::util::{cargo, display, workspace_root};

/// The steps after `deps`: (name, command).
fn steps() -> Vec<(&'static str, Command)> {
    let root = workspace_root();
    let cmd = |args: &[&str]| {
        let mut c = cargo();
        c.args(args).current_dir(&root);
        c
    };
    let tests = if deps::has_nextest() {
        cmd(&[
            "nextest",
            "run",
            "--workspace",
            "--no-fail-fast",
            "--no-tests=warn",
            "--all-features",
        ])
    } else {
        println!("note: cargo-nextest not found, falling back to cargo test");
        cmd(&["test", "--workspace", "--no-fail-fast", "--all-features"])
    };
    vec![
        ("fresh", cmd(&["xtask", "fresh-check"])),
        ("fmt", cmd(&["fmt", "--all", "--", "--check"])),
        (
            "clippy",
            cmd(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--all-features",
                "--",
                "-D",
                "warnings",
            ]),
        ),
        ("tests", tests),
        // Two minutes of mixed traffic through mspicd (xtask/src/soak.rs).
        ("soak", cmd(&["xtask", "soak", "--minutes", "2"])),
        ("doc tests", cmd(&["test", "--workspace", "--doc"])),
        // Compiles on stable too (the fuzz crate is outside the workspace).
        (
            "fuzz check",
            cmd(&[
                "check",
                "--manifest-path",
                "tests/fuzz/Cargo.toml",
                "--bins",
            ]),
        ),
        // Every fuzz target for 20 s (less when there are more than 13 of them: 4.5 min in
        // all) from the seed corpus (nightly and cargo-fuzz; skipped without them, except
        // under CI=true).
        (
            "fuzz",
            cmd(&["xtask", "fuzz", "--seconds", "20", "--budget", "270"]),
        ),
    ]
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Runs one step, printing its name, command and time.
fn step(
    n: usize,
    total: usize,
    name: &str,
    what: &str,
    f: impl FnOnce() -> bool,
) -> (bool, Duration) {
    println!("\n==> [{n}/{total}] {name}: {what}");
    let t = Instant::now();
    let ok = f();
    let took = t.elapsed();
    println!(
        "<== {name}: {} in {}",
        if ok { "ok" } else { "FAILED" },
        secs(took)
    );
    (ok, took)
}

/// Runs `deps` (stopping if that fails), then every other step even when one fails, and
/// fails at the end if any did.
pub fn run() -> Result<()> {
    let started = Instant::now();
    let total = 1 + steps().len();
    let mut results: Vec<(&str, bool, Duration)> = Vec::new();

    let (ok, took) = step(1, total, "deps", "cargo xtask deps", || {
        deps::run_all()
            .map_err(|e| eprintln!("error: {e:#}"))
            .is_ok()
    });
    if !ok {
        bail!("deps failed; not running the other steps");
    }
    results.push(("deps", ok, took));

    // Built after deps, which may just have installed cargo-nextest.
    for (i, (name, mut cmd)) in steps().into_iter().enumerate() {
        let line = display(&cmd);
        let (ok, took) = step(i + 2, total, name, &line, || match cmd.status() {
            Ok(s) => s.success(),
            Err(e) => {
                eprintln!("error: cannot run `{line}`: {e}");
                false
            }
        });
        results.push((name, ok, took));
    }

    println!("\nsummary ({} total):", secs(started.elapsed()));
    for (name, ok, took) in &results {
        println!(
            "  {:<10} {:<7} {:>8}",
            name,
            if *ok { "ok" } else { "FAILED" },
            secs(*took)
        );
    }
    let failed: Vec<&str> = results.iter().filter(|r| !r.1).map(|r| r.0).collect();
    if !failed.is_empty() {
        bail!("failed: {}", failed.join(", "));
    }
    Ok(())
}
