//! `mspic … | head`: a reader that closes its end early ends the command quietly,
//! as coreutils do, instead of a panic on the broken pipe.

use std::path::Path;
use std::process::{Command, Stdio};

const MSPIC: &str = env!("CARGO_BIN_EXE_mspic");

/// Runs `mspic ARGS` with stdout a pipe whose reader is already closed, so the first
/// write fails with EPIPE (as `| head -1` does after its line); returns status and stderr.
fn with_closed_stdout(args: &[&str]) -> (std::process::ExitStatus, String) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(MSPIC)
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .env_remove("MSPIC_SOCKET")
        .output()
        .expect("mspic runs");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn completions_into_a_closed_pipe_end_quietly() {
    for shell in ["bash", "zsh", "fish"] {
        let (status, stderr) = with_closed_stdout(&["completions", shell]);
        assert_eq!(stderr, "", "{shell}: stderr");
        assert!(status.success(), "{shell}: {status}");
    }
}

#[test]
fn check_into_a_closed_pipe_ends_quietly() {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/testbed.conf");
    let (status, stderr) = with_closed_stdout(&["check", conf.to_str().unwrap()]);
    assert_eq!(stderr, "");
    assert!(status.success(), "{status}");
}

#[test]
fn a_failed_check_keeps_its_status_when_the_reader_has_gone() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.conf");
    std::fs::write(&bad, "services { nonsense; }\n").unwrap();
    let (status, stderr) = with_closed_stdout(&["check", bad.to_str().unwrap()]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("bad.conf:1:"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
