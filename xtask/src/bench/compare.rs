//! `cargo xtask bench compare --base REV`: the flow shard's criterion bench of an earlier
//! commit and of the working tree, side by side on this machine.
//!
//! The base is built in a temporary `git worktree` (target/bench-compare/tree, removed when
//! the command ends) with its own target directory (target/bench-compare/target, kept so a
//! second comparison rebuilds little); its binary is kept as
//! target/bench-compare/shard-<commit> and reused. The two binaries then run alternately, base then head,
//! for `--rounds` rounds with the same filter, so load from other processes falls on both.
//! Each run's point estimates are read from criterion's normal output (the `time: [lo est
//! hi]` line, four significant digits; the bencher format rounds to whole nanoseconds).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::util::{cargo, display, target_dir, workspace_root};

/// The package and bench target compared.
pub(super) const PACKAGE: &str = "mspic-flow";
const BENCH: &str = "shard";

#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// The commit to compare against (anything `git rev-parse` takes: `HEAD~3`, `52f4114^`).
    #[arg(long)]
    base: String,
    /// The commit to compare (built like the base); the working tree when absent.
    #[arg(long)]
    head: Option<String>,
    /// Rounds; each runs the base binary, then the head binary.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=50))]
    rounds: u32,
    /// Criterion's filter (a regular expression over `group/function/parameter`), e.g.
    /// `'^(established|setup)/.*/1000$'`; every benchmark when absent.
    #[arg(long)]
    filter: Option<String>,
    /// Criterion's warm-up time per benchmark, seconds (the shard bench's groups fix their
    /// own measurement time and sample size, which criterion's command line cannot change).
    #[arg(long, default_value_t = 1)]
    warm_up_time: u64,
    /// Criterion's quick mode: stop sampling once the estimate is within 5 %.
    #[arg(long)]
    quick: bool,
}

/// Which build a result belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Base,
    Head,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Base => "base",
            Side::Head => "head",
        }
    }
}

pub fn compare(a: &CompareArgs) -> Result<()> {
    let root = workspace_root();
    let rev = rev_parse(&root, &a.base)?;
    let dir = target_dir(&root).join("bench-compare");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (head, head_name) = match &a.head {
        None => {
            println!("==> building the bench at HEAD (working tree)");
            (build(&root, None, BENCH)?, "the working tree".to_string())
        }
        Some(h) => {
            let hrev = rev_parse(&root, h)?;
            (
                commit_bench(&root, &dir, h, &hrev)?,
                format!("{h} ({hrev})"),
            )
        }
    };
    let base = commit_bench(&root, &dir, &a.base, &rev)?;
    let mut results: Results = BTreeMap::new();
    for round in 1..=a.rounds {
        for (side, exe) in [(Side::Base, &base), (Side::Head, &head)] {
            println!("==> round {round}/{}: {}", a.rounds, side.name());
            let out = run_bench(exe, &dir.join(format!("criterion-{}", side.name())), a)?;
            for (id, ns) in parse_estimates(&out) {
                let e = results.entry(id).or_default();
                match side {
                    Side::Base => e.0.push(ns),
                    Side::Head => e.1.push(ns),
                }
            }
        }
    }
    if results.is_empty() {
        bail!("no benchmark ran: does the filter match any?");
    }
    println!();
    println!(
        "base {} ({rev}) vs head {head_name}, {} round(s), median of the rounds:",
        a.base, a.rounds
    );
    print!("{}", table(&results));
    Ok(())
}

/// The bench binary of commit `rev` (named `name` on the command line): built in a
/// temporary worktree, kept apart from it, and reused, since a commit does not change.
fn commit_bench(root: &Path, dir: &Path, name: &str, rev: &str) -> Result<PathBuf> {
    let exe = dir.join(format!("{BENCH}-{}", &rev[..12]));
    if exe.is_file() {
        println!("==> the bench at {name} ({rev}): {}", exe.display());
    } else {
        println!("==> building the bench at {name} ({rev})");
        let tree = Worktree::add(root, &dir.join("tree"), rev)?;
        let built = build(&tree.path, Some(&dir.join("target")), BENCH)?;
        std::fs::copy(&built, &exe).with_context(|| format!("cannot copy {}", built.display()))?;
    }
    Ok(exe)
}

/// The full commit id of `rev`.
pub(super) fn rev_parse(root: &Path, rev: &str) -> Result<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--verify", "--quiet"])
        .arg(format!("{rev}^{{commit}}"))
        .current_dir(root)
        .output()
        .context("cannot run git")?;
    if !out.status.success() {
        bail!("`{rev}` names no commit");
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A detached `git worktree`, removed when dropped.
pub(super) struct Worktree {
    root: PathBuf,
    pub(super) path: PathBuf,
}

impl Worktree {
    pub(super) fn add(root: &Path, path: &Path, rev: &str) -> Result<Worktree> {
        // Left over by an interrupted run.
        if path.exists() {
            remove_worktree(root, path);
        }
        let mut cmd = Command::new("git");
        cmd.args(["worktree", "add", "--detach", "--quiet"])
            .arg(path)
            .arg(rev)
            .current_dir(root);
        crate::util::run(&mut cmd)?;
        Ok(Worktree {
            root: root.to_path_buf(),
            path: path.to_path_buf(),
        })
    }
}

impl Drop for Worktree {
    fn drop(&mut self) {
        remove_worktree(&self.root, &self.path);
    }
}

fn remove_worktree(root: &Path, path: &Path) {
    let ok = Command::new("git")
        .args(["worktree", "remove", "--force"])
        .arg(path)
        .current_dir(root)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("warning: could not remove the worktree {}", path.display());
    }
}

/// Builds bench target `bench` of [`PACKAGE`] (release, as `cargo bench` does) in `dir`
/// and returns its executable.
pub(super) fn build(dir: &Path, target: Option<&Path>, bench: &str) -> Result<PathBuf> {
    let mut cmd = cargo();
    cmd.args(["bench", "-p", PACKAGE, "--bench", bench, "--no-run"])
        .args(["--message-format", "json-render-diagnostics"])
        .current_dir(dir)
        .stdout(Stdio::piped());
    if let Some(t) = target {
        cmd.env("CARGO_TARGET_DIR", t);
    }
    println!("$ {}", display(&cmd));
    let out = cmd
        .output()
        .with_context(|| format!("cannot run `{}`", display(&cmd)))?;
    if !out.status.success() {
        bail!("building the bench in {} failed", dir.display());
    }
    executable(&String::from_utf8_lossy(&out.stdout), bench)
        .with_context(|| format!("cargo named no `{bench}` executable in {}", dir.display()))
}

/// The executable of bench target `bench` in cargo's JSON messages (a compiler-artifact
/// whose target is named so).
fn executable(json: &str, bench: &str) -> Option<PathBuf> {
    json.lines()
        .filter(|l| l.contains(r#""reason":"compiler-artifact""#))
        .filter(|l| l.contains(&format!(r#""name":"{bench}""#)))
        .find_map(|l| {
            let rest = l.split(r#""executable":""#).nth(1)?;
            Some(PathBuf::from(rest.split('"').next()?))
        })
}

/// Runs one bench binary and returns its standard output.
fn run_bench(exe: &Path, home: &Path, a: &CompareArgs) -> Result<String> {
    let mut cmd = Command::new(exe);
    cmd.args(["--bench", "--color", "never", "--warm-up-time"])
        .arg(a.warm_up_time.to_string())
        // Each side keeps its own history; no comparison with it is wanted.
        .env("CRITERION_HOME", home)
        .stderr(Stdio::null());
    if a.quick {
        cmd.arg("--quick");
    }
    if let Some(f) = &a.filter {
        cmd.arg(f);
    }
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    if !out.status.success() {
        bail!("{} failed ({})", display(&cmd), out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Per benchmark id: the base's and the head's estimates (ns), one per round.
type Results = BTreeMap<String, (Vec<f64>, Vec<f64>)>;

/// (id, point estimate in ns) of every `time:` line of criterion's normal output. The id
/// is on the same line, or alone on the line before when longer than 23 characters.
fn parse_estimates(out: &str) -> Vec<(String, f64)> {
    let mut found = Vec::new();
    let mut prev = "";
    for line in out.lines() {
        if let Some((head, rest)) = line.split_once("time:") {
            let id = match head.trim() {
                "" => prev.trim(),
                id => id,
            };
            // `change: time: [-1% +0.5% +2%]` compares with the previous run: not a result.
            if id.ends_with(':') {
                prev = line;
                continue;
            }
            let est = rest
                .trim()
                .strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|r| {
                    let w: Vec<&str> = r.split_whitespace().collect();
                    // lo unit est unit hi unit
                    (w.len() == 6).then(|| to_ns(w[2], w[3])).flatten()
                });
            if let (false, Some(ns)) = (id.is_empty(), est) {
                found.push((id.to_string(), ns));
            }
        }
        prev = line;
    }
    found
}

/// `value` in `unit` (criterion's time units) as nanoseconds.
fn to_ns(value: &str, unit: &str) -> Option<f64> {
    let v: f64 = value.parse().ok()?;
    let scale = match unit {
        "ps" => 1e-3,
        "ns" => 1.0,
        "µs" | "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => return None,
    };
    Some(v * scale)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Half the range of the rounds relative to their median, in percent.
fn spread(v: &[f64]) -> f64 {
    let (lo, hi) = v
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    50.0 * (hi - lo) / median(v)
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::MAX, f64::min)
}

/// The comparison as a Markdown table: base ns, head ns (medians of the rounds),
/// head/base, the same ratio of the fastest rounds (what load from other processes
/// disturbs least), and the spread of the rounds on each side; a benchmark missing on one
/// side is listed as such.
fn table(results: &Results) -> String {
    let mut s = String::from(
        "| benchmark | base ns | head ns | head/base | fastest head/base | spread base / head |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for (id, (b, h)) in results {
        let line = match (b.is_empty(), h.is_empty()) {
            (false, false) => {
                let (mb, mh) = (median(b), median(h));
                format!(
                    "| {id} | {mb:.2} | {mh:.2} | {:.3} | {:.3} | ±{:.1}% / ±{:.1}% |",
                    mh / mb,
                    min(h) / min(b),
                    spread(b),
                    spread(h)
                )
            }
            (true, _) => format!("| {id} | missing | {:.2} | – | – | – |", median(h)),
            (_, true) => format!("| {id} | {:.2} | missing | – | – | – |", median(b)),
        };
        s.push_str(&line);
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: &str = "\
Benchmarking established/sfw/1000: Collecting 30 samples in estimated 4.0 s
established/sfw/1000    time:   [41.205 ns 41.512 ns 41.900 ns]
                        thrpt:  [23.866 Melem/s 24.089 Melem/s 24.269 Melem/s]
established/napt44+checksum/1000000
                        time:   [1.0203 µs 1.0250 µs 1.0311 µs]
                        thrpt:  [969.84 Kelem/s 975.61 Kelem/s 980.10 Kelem/s]
                 change: time:   [-1.0% +0.5% +2.0%] (p = 0.50 > 0.05)
setup/sfw/1000          time:   [190.10 ns 191.00 ns 192.20 ns]
                 change:
                        time:   [-1.0000% +0.5000% +2.0000%]
";

    #[test]
    fn estimates_from_criterion_output() {
        let got = parse_estimates(OUT);
        assert_eq!(
            got,
            vec![
                ("established/sfw/1000".to_string(), 41.512),
                ("established/napt44+checksum/1000000".to_string(), 1025.0),
                ("setup/sfw/1000".to_string(), 191.0),
            ]
        );
    }

    #[test]
    fn table_lists_ratios_and_missing_sides() {
        let mut r: Results = BTreeMap::new();
        r.insert(
            "a/1".into(),
            (vec![10.0, 12.0, 11.0], vec![22.0, 22.0, 22.0]),
        );
        r.insert("b/1".into(), (vec![], vec![5.0]));
        r.insert("c/1".into(), (vec![7.0], vec![]));
        let t = table(&r);
        assert!(
            t.contains("| a/1 | 11.00 | 22.00 | 2.000 | 2.200 | ±9.1% / ±0.0% |"),
            "{t}"
        );
        assert!(t.contains("| b/1 | missing | 5.00 |"), "{t}");
        assert!(t.contains("| c/1 | 7.00 | missing |"), "{t}");
    }

    #[test]
    fn executable_from_cargo_messages() {
        let json = r#"{"reason":"compiler-artifact","target":{"name":"mspic_flow"},"executable":null}
{"reason":"compiler-artifact","target":{"kind":["bench"],"name":"shard"},"executable":"/t/release/deps/shard-1a2b"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            executable(json, "shard"),
            Some(PathBuf::from("/t/release/deps/shard-1a2b"))
        );
    }
}
