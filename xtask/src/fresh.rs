//! `cargo xtask test`'s fresh-machine step: proves that the set-up needs nothing but a Rust
//! toolchain and apt, and that the offline tools need no BPF toolchain.
//!
//! In a copy of the work tree with an empty target directory, inside a private mount
//! namespace (`unshare -m`) where the C headers and tools that the live dataplane builds
//! with are hidden (`/dev/null` bind-mounted over them), it runs the deps step, builds
//! `mspic`/`mspicd` without the `live` feature and uses them: `mspic check`, `mspic replay`
//! of a generated capture, and `mspicd` refusing a live start with a clear message. Were the
//! deps step, or the offline build, to compile anything that includes `libelf.h`, `zlib.h`
//! or runs clang, it would fail here.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::util::{cargo, is_root, on_path, target_dir, workspace_root};

/// What the namespace hides: the headers and pkg-config file of the C libraries the
/// dataplane links (libelf, zlib), the BPF headers and the compiler it builds with.
const HIDDEN: &[&str] = &[
    "/usr/include/libelf.h",
    "/usr/include/gelf.h",
    "/usr/include/zlib.h",
    "/usr/include/bpf/bpf_helpers.h",
    "/usr/bin/clang",
];

/// Runs inside the namespace: $1 the copy, $2 its target directory, $3 cargo, then the
/// files to hide.
const SCRIPT: &str = r#"
set -eu
tree=$1 target=$2 cargo=$3
shift 3
for f in "$@"; do mount --bind /dev/null "$f"; done
# The hiding must really hide: a build that needs these must fail here.
if printf '#include <libelf.h>\nint v(void) { return elf_version(EV_CURRENT); }\n' |
    cc -fsyntax-only -x c - >/dev/null 2>&1; then
    echo "libelf.h is still usable inside the namespace" >&2; exit 1
fi
if pkg-config --exists libelf 2>/dev/null; then
    echo "pkg-config still finds libelf inside the namespace" >&2; exit 1
fi
cd "$tree"
export CARGO_TARGET_DIR="$target"
echo "== deps, from an empty target directory"
"$cargo" xtask deps
echo "== mspic without the live dataplane"
"$cargo" build --quiet -p mspic-cli --no-default-features --bins
bin="$target/debug"
"$bin/mspic" check docs/examples/testbed.conf
"$cargo" xtask gen-pcap --out "$target/clients.pcap" --client-only --duration 5 >/dev/null
"$bin/mspic" replay --config docs/examples/testbed.conf --pcap "$target/clients.pcap" \
    --respond --command "show services sessions" >"$target/sessions.txt"
grep -q '^Session: ' "$target/sessions.txt" || { cat "$target/sessions.txt"; echo "replay showed no session" >&2; exit 1; }
echo "replay: $(grep -c '^Session: ' "$target/sessions.txt") sessions shown"
if "$bin/mspicd" --config docs/examples/testbed.conf --socket "$target/mspicd.sock" 2>"$target/mspicd.err"; then
    echo "mspicd without the live feature started a live engine" >&2; exit 1
fi
grep -q 'built without the live dataplane' "$target/mspicd.err" || { cat "$target/mspicd.err"; exit 1; }
echo "mspicd: $(cat "$target/mspicd.err")"
"#;

/// Why the check cannot run here, if it cannot.
fn unavailable() -> Option<String> {
    if !is_root() {
        return Some("needs root (a mount namespace and bind mounts)".into());
    }
    for tool in ["unshare", "mount", "git", "cc", "pkg-config"] {
        if !on_path(tool) {
            return Some(format!("`{tool}` is not on PATH"));
        }
    }
    None
}

/// The files of `HIDDEN` and libelf's pkg-config file that exist here.
fn hidden_files() -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = HIDDEN.iter().map(PathBuf::from).collect();
    let out = Command::new("pkg-config")
        .args(["--variable=pcfiledir", "libelf"])
        .output()
        .context("cannot run pkg-config")?;
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || dir.is_empty() {
        bail!("pkg-config does not know libelf: the deps step did not install libelf-dev");
    }
    files.push(Path::new(&dir).join("libelf.pc"));
    let missing: Vec<String> = files
        .iter()
        .filter(|f| !f.exists())
        .map(|f| f.display().to_string())
        .collect();
    if !missing.is_empty() {
        bail!(
            "expected after the deps step, missing: {}",
            missing.join(", ")
        );
    }
    Ok(files)
}

/// Copies the work tree's files (tracked and untracked, not ignored) to `dest`.
fn copy_tree(root: &Path, dest: &Path) -> Result<()> {
    let out = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output()
        .context("cannot run git ls-files")?;
    if !out.status.success() {
        bail!("git ls-files failed in {}", root.display());
    }
    for name in out.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let rel = Path::new(std::str::from_utf8(name).context("non-UTF-8 file name")?);
        let from = root.join(rel);
        if !from.is_file() {
            continue; // deleted in the work tree
        }
        let to = dest.join(rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(&from, &to).with_context(|| format!("copying {}", rel.display()))?;
    }
    Ok(())
}

/// Removes the copy when the step ends, also on failure.
struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The step. Outside CI a machine that cannot run it skips it with the reason; under
/// `CI=true` that is a failure.
pub fn run_check() -> Result<()> {
    if let Some(why) = unavailable() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            bail!("fresh-machine check cannot run: {why}");
        }
        println!("SKIPPED (outside CI): fresh-machine check: {why}");
        return Ok(());
    }
    let root = workspace_root();
    let work = target_dir(&root).join(format!("fresh-{}", std::process::id()));
    let _cleanup = RemoveDir(work.clone());
    let tree = work.join("tree");
    copy_tree(&root, &tree)?;
    let hidden = hidden_files()?;
    let cargo_bin = cargo().get_program().to_owned();
    let shown: Vec<String> = hidden.iter().map(|f| f.display().to_string()).collect();
    println!(
        "fresh-machine check in {} (mount namespace hiding {})",
        tree.display(),
        shown.join(" ")
    );
    let status = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            SCRIPT,
            "fresh",
        ])
        .arg(&tree)
        .arg(work.join("target"))
        .arg(cargo_bin)
        .args(&hidden)
        .current_dir(&tree)
        .status()
        .context("cannot run unshare")?;
    if !status.success() {
        bail!("the fresh-machine check failed ({status})");
    }
    println!("fresh-machine check: ok");
    Ok(())
}
