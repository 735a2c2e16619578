//! `mspic cli`: the operational-mode prompt. On a terminal it reads lines with editing and
//! history (`user@host> `); otherwise it reads commands from stdin, one a line, so it can be
//! scripted (`mspic cli < commands.txt`).

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use mspic_control::protocol::Request;
use rustyline::error::ReadlineError;

use crate::client::{self, Client, ClientError, Outcome};

const HELP: &str = "\
Commands (keywords may be abbreviated, `| display xml` and `| display json` work on show):
  show services sessions [brief|terse|extensive] [count] [filters]
  show services flows [extensive] [count] [filters]
  show services stateful-firewall statistics [extensive] [interface ms-x/y/z]
  show services nat pool [NAME] [detail]
  show services nat mappings summary|detail|brief
  show services nat statistics [interface ms-x/y/z]
  show services service-sets summary [interface ms-x/y/z]
  show services alg conversations [extensive] [application-protocol P] [interface ms-x/y/z]
  clear services sessions [filters]
  show configuration [| display set]   the configuration in force
  request commit FILE          install the configuration in FILE
  exit | quit                  leave the CLI
Filters: application-protocol P, destination-port N, destination-prefix A[/L], interface I,
  limit N, protocol P, service-set S, source-port N, source-prefix A[/L]
";

/// What one input line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    Empty,
    Exit,
    Help,
    /// `request commit FILE`.
    Commit(String),
    /// `request …` without a usable file.
    BadRequest(String),
    /// Anything else goes to the daemon as it is.
    Command(String),
}

fn classify(line: &str) -> Line {
    let line = line.trim();
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        [] => Line::Empty,
        [w, ..] if w.starts_with('#') => Line::Empty,
        ["exit" | "quit"] => Line::Exit,
        ["help" | "?"] => Line::Help,
        ["request", rest @ ..] => match rest {
            ["commit", file] => Line::Commit((*file).to_string()),
            ["commit"] => Line::BadRequest("error: missing argument for 'commit': FILE".into()),
            [w, ..] if *w != "commit" => {
                Line::BadRequest(format!("error: syntax error, expecting <command>: {w}"))
            }
            [] => Line::BadRequest("error: syntax error, expecting <command>.".into()),
            _ => Line::BadRequest("error: usage: request commit FILE".into()),
        },
        _ => Line::Command(line.to_string()),
    }
}

/// How one line went.
enum Step {
    Continue {
        failed: bool,
    },
    Exit,
    /// The daemon cannot be reached: the message was printed.
    Unreachable,
}

fn run_line(socket: &Path, line: &str, out: &mut dyn Write) -> Step {
    let request = match classify(line) {
        Line::Empty => return Step::Continue { failed: false },
        Line::Exit => return Step::Exit,
        Line::Help => {
            let _ = out.write_all(HELP.as_bytes());
            return Step::Continue { failed: false };
        }
        Line::BadRequest(e) => {
            let _ = client::write_line(out, &e);
            return Step::Continue { failed: true };
        }
        Line::Commit(file) => match client::commit_request(Path::new(&file)) {
            Ok(r) => r,
            Err(e) => {
                let _ = client::write_line(out, &format!("error: {e}"));
                return Step::Continue { failed: true };
            }
        },
        Line::Command(c) => Request::Command(c),
    };
    let result = Client::connect(socket).and_then(|mut c| c.request(&request, out));
    match result {
        Ok(Outcome::Ok) | Ok(Outcome::OutputClosed) => Step::Continue { failed: false },
        Ok(Outcome::Error(e)) => {
            let _ = client::write_line(out, &e);
            Step::Continue { failed: true }
        }
        Err(e @ ClientError::Unreachable { .. }) => {
            let _ = out.flush();
            eprintln!("mspic: {e}");
            Step::Unreachable
        }
        Err(e) => {
            let _ = out.flush();
            eprintln!("mspic: {e}");
            Step::Continue { failed: true }
        }
    }
}

fn prompt() -> String {
    format!("{}@{}> ", crate::sys::user(), crate::sys::hostname())
}

/// Runs the CLI against the daemon at `socket`. `echo`: when reading from a pipe, print
/// the prompt and the command before each answer (a transcript).
pub fn run(socket: &Path, echo: bool) -> ExitCode {
    // Fail fast when nobody is there, rather than after the first command.
    if let Err(e) =
        Client::connect(socket).and_then(|mut c| c.request_text(&client::ping_request()))
    {
        eprintln!("mspic: {e}");
        return ExitCode::FAILURE;
    }
    if io::stdin().is_terminal() {
        interactive(socket)
    } else {
        scripted(socket, echo)
    }
}

fn interactive(socket: &Path) -> ExitCode {
    let prompt = prompt();
    let mut editor = match rustyline::DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("mspic: cannot start the line editor: {e}");
            return scripted(socket, false);
        }
    };
    loop {
        match editor.readline(&prompt) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                let mut out = io::stdout().lock();
                match run_line(socket, &line, &mut out) {
                    Step::Exit => break,
                    Step::Continue { .. } | Step::Unreachable => {}
                }
                let _ = out.flush();
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("mspic: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

fn scripted(socket: &Path, echo: bool) -> ExitCode {
    let prompt = prompt();
    let stdin = io::stdin();
    let mut failed = false;
    for line in stdin.lock().lines() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!("mspic: cannot read stdin: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut out = io::stdout().lock();
        if echo && classify(&line) != Line::Empty {
            let _ = writeln!(out, "{prompt}{}", line.trim());
        }
        match run_line(socket, &line, &mut out) {
            Step::Exit => break,
            Step::Continue { failed: f } => failed |= f,
            Step::Unreachable => return ExitCode::FAILURE,
        }
        if out.flush().is_err() {
            break;
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(classify("  "), Line::Empty);
        assert_eq!(classify("# comment"), Line::Empty);
        assert_eq!(classify("quit"), Line::Exit);
        assert_eq!(classify(" exit "), Line::Exit);
        assert_eq!(
            classify("request commit /tmp/a.conf"),
            Line::Commit("/tmp/a.conf".into())
        );
        assert!(matches!(classify("request commit"), Line::BadRequest(_)));
        assert!(matches!(classify("request foo"), Line::BadRequest(_)));
        assert_eq!(
            classify(" show services sessions | display xml "),
            Line::Command("show services sessions | display xml".into())
        );
    }
}
