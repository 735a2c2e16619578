//! `mspic cli`: the operational-mode prompt. On a terminal it reads lines with editing and
//! history (`user@host> `); otherwise it reads commands from stdin, one a line, so it can be
//! scripted (`mspic cli < commands.txt`).

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use std::sync::{Arc, Mutex};

use mspic_control::protocol::Request;
use mspic_control::Keyword;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{
    Cmd, ConditionalEventHandler, Event, EventContext, EventHandler, KeyEvent, RepeatCount,
};

use crate::client::{self, Client, ClientError, Outcome};

/// Words of the CLI itself, besides the commands mspicd answers.
const CLI_WORDS: &[Keyword] = &[
    ("exit", "Exit the management session"),
    ("help", "Provide help information"),
    ("quit", "Exit the management session"),
    ("request", "Make system-level requests"),
];

const HELP: &str = "\
Commands (keywords may be abbreviated; Tab completes, `?` lists what may follow; pipes:
| match RE, | except RE, | count, | last N, | no-more, | display xml|json|xml rpc):
  show services sessions [brief|terse|extensive] [count] [filters]
  show services flows [extensive] [count] [filters]
  show services stateful-firewall statistics [extensive] [interface ms-x/y/z]
  show services nat pool [NAME] [detail]
  show services nat mappings summary|detail|brief
  show services nat statistics [interface ms-x/y/z]
  show services service-sets summary [interface ms-x/y/z]
  show services alg conversations [extensive] [application-protocol P] [interface ms-x/y/z]
  clear services sessions [filters]
  show configuration [PATH] [| display set|xml]   the configuration in force
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
    /// A line ending in `?`: what may follow the text before it.
    Question(String),
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
        ["help"] => Line::Help,
        _ if line.ends_with('?') && !in_quotes(&line[..line.len() - 1]) => {
            Line::Question(line[..line.len() - 1].to_string())
        }
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

/// Is the end of `text` inside a double-quoted string?
fn in_quotes(text: &str) -> bool {
    text.chars().filter(|c| *c == '"').count() % 2 == 1
}

/// The `?` help for `text` (what may follow it).
pub fn question(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words
        .first()
        .is_some_and(|w| "request".starts_with(w) && w.len() >= 3)
    {
        return match words.as_slice() {
            [_] if text.ends_with(char::is_whitespace) => {
                "Possible completions:\n  commit                 Install the configuration in a file\n"
                    .into()
            }
            [_, c] if "commit".starts_with(c) && text.ends_with(char::is_whitespace) => {
                "Possible completions:\n  <filename>\n".into()
            }
            _ => mspic_control::help(text, CLI_WORDS),
        };
    }
    mspic_control::help(text, CLI_WORDS)
}

fn run_line(socket: &Path, line: &str, out: &mut dyn Write) -> Step {
    let request = match classify(line) {
        Line::Empty => return Step::Continue { failed: false },
        Line::Exit => return Step::Exit,
        Line::Question(text) => {
            let _ = out.write_all(question(&text).as_bytes());
            return Step::Continue { failed: false };
        }
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

/// Tab completion from the command grammar ([`mspic_control::complete`]).
struct CliHelper;

impl Completer for CliHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let text = &line[..pos];
        let c = mspic_control::complete(text);
        let mut words: Vec<Keyword> = c.keywords;
        if text[..c.start].trim().is_empty() {
            let partial = &text[c.start..];
            words.extend(CLI_WORDS.iter().filter(|k| k.0.starts_with(partial)));
        }
        words.sort_unstable();
        let pairs = words
            .into_iter()
            .map(|(w, _)| Pair {
                display: w.to_string(),
                replacement: format!("{w} "),
            })
            .collect();
        Ok((c.start, pairs))
    }
}

impl Hinter for CliHelper {
    type Hint = String;
}
impl Highlighter for CliHelper {}
impl Validator for CliHelper {}
impl rustyline::Helper for CliHelper {}

/// `?` outside quotes: ends the read with the text so far, which the loop answers with
/// the help and offers again.
struct QuestionKey(Arc<Mutex<Option<String>>>);

impl ConditionalEventHandler for QuestionKey {
    fn handle(&self, _: &Event, _: RepeatCount, _: bool, ctx: &EventContext<'_>) -> Option<Cmd> {
        let text = &ctx.line()[..ctx.pos()];
        if in_quotes(text) {
            return None;
        }
        if let Ok(mut q) = self.0.lock() {
            *q = Some(ctx.line().to_string());
        }
        Some(Cmd::AcceptLine)
    }
}

fn interactive(socket: &Path) -> ExitCode {
    let prompt = prompt();
    let mut editor = match rustyline::Editor::<CliHelper, rustyline::history::DefaultHistory>::new()
    {
        Ok(e) => e,
        Err(e) => {
            eprintln!("mspic: cannot start the line editor: {e}");
            return scripted(socket, false);
        }
    };
    editor.set_helper(Some(CliHelper));
    let asked: Arc<Mutex<Option<String>>> = Arc::default();
    editor.bind_sequence(
        KeyEvent::from('?'),
        EventHandler::Conditional(Box::new(QuestionKey(Arc::clone(&asked)))),
    );
    let mut initial = String::new();
    loop {
        let read = editor.readline_with_initial(&prompt, (&initial, ""));
        initial.clear();
        match read {
            Ok(line) => {
                if let Some(text) = asked.lock().ok().and_then(|mut q| q.take()) {
                    let _ = write!(io::stdout(), "{}", question(&text));
                    initial = text;
                    continue;
                }
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
        assert_eq!(
            classify("show services ?"),
            Line::Question("show services ".into())
        );
        assert_eq!(
            classify("show services sessions | match \"a?\""),
            Line::Command("show services sessions | match \"a?\"".into())
        );
        assert!(question("").contains("  request                Make system-level requests"));
        assert!(question("req ").contains("commit"));
    }
}
