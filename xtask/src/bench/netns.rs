//! Moving a thread into a named network namespace (`ip netns add NAME`).

use std::fs::File;

use anyhow::{Context, Result};
use nix::sched::{setns, CloneFlags};

/// Moves the calling thread (only it: network namespaces are per thread) into the named
/// namespace. Sockets it creates and interface names it resolves from now on are those of
/// that namespace; the sockets stay there whichever thread uses them later.
pub fn enter(name: &str) -> Result<()> {
    let path = format!("/run/netns/{name}");
    let f = File::open(&path).with_context(|| format!("opening {path}"))?;
    setns(&f, CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("entering network namespace {name}"))
}
