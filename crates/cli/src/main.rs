//! `mspic`: the operator's command line: offline `replay` and `check`, and the commands
//! answered by a running `mspicd` (`show`, `clear`, `request commit`, `cli`, `ping`).

#![forbid(unsafe_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use mspic_cli::client::{self, Client, Outcome};
use mspic_cli::input::InputError;
use mspic_control::protocol::Request;

mod replay;

#[derive(Parser)]
#[command(
    name = "mspic",
    version,
    about = "Junos MS-PIC emulator: check configurations, replay captures, query the daemon"
)]
struct Cli {
    /// Control socket of mspicd (for show, clear, request, cli, ping).
    #[arg(long, value_name = "PATH", env = mspic_cli::SOCKET_ENV, default_value = mspic_cli::DEFAULT_SOCKET)]
    socket: PathBuf,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Validate a configuration file like `commit check` (exit 1 with the errors).
    Check {
        /// Junos configuration (braces or `set` lines).
        file: PathBuf,
    },
    /// Run a pcap/pcapng capture through the engine and print show commands.
    Replay(replay::ReplayArgs),
    /// Ask mspicd a show command; prints its answer (errors on stderr, exit 1).
    ///
    /// The words after `show` form one command line, as typed at the router:
    /// `mspic show services sessions extensive`, `mspic show services sessions "|" display
    /// xml` or `mspic show "services sessions | display xml"`.
    #[command(disable_help_flag = true)]
    Show {
        /// The rest of the command line (words after `show`).
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "WORDS"
        )]
        words: Vec<String>,
    },
    /// Send a clear command to mspicd (`mspic clear services sessions [filters]`).
    #[command(disable_help_flag = true)]
    Clear {
        /// The rest of the command line (words after `clear`).
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "WORDS"
        )]
        words: Vec<String>,
    },
    /// Requests to mspicd (`request commit FILE`).
    Request {
        #[command(subcommand)]
        what: RequestCmd,
    },
    /// Interactive prompt (`user@host> `) for show, clear and request commands.
    ///
    /// When stdin is not a terminal, reads one command a line and prints the answers
    /// (errors included) on stdout; exits 1 if any command failed.
    Cli {
        /// Without a terminal: print `user@host> COMMAND` before each command's answer.
        #[arg(long)]
        echo: bool,
    },
    /// Check that mspicd answers; prints its version, engine, configuration and counters.
    Ping,
    /// NETCONF server on stdin/stdout (RFC 6241, RFC 6242 framing), answering through
    /// mspicd: run it as the OpenSSH `netconf` subsystem
    /// (`Subsystem netconf /usr/local/bin/mspic --socket PATH netconf`).
    Netconf {
        /// A message must be whole within this many seconds of its first byte, or the
        /// session ends with an `<rpc-error>`.
        #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = seconds)]
        message_timeout: std::time::Duration,
        /// The session ends after this many seconds without a message.
        #[arg(long, value_name = "SECONDS", default_value = "600", value_parser = seconds)]
        idle_timeout: std::time::Duration,
    },
    /// Print a shell completion script for mspic (`mspic completions bash >
    /// /etc/bash_completion.d/mspic`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages of mspic and mspicd (mspic.1, mspicd.1) into DIR.
    ManPages {
        /// Directory to write to (created when missing).
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum RequestCmd {
    /// Install the configuration in FILE in the running mspicd (live sessions stay).
    ///
    /// Prints `commit complete`, or the errors (`file:line:col: error: …`) on stderr with
    /// exit 1; the running configuration then stays in force.
    Commit {
        /// Junos configuration (braces or `set` lines).
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.command {
        Cmd::Check { file } => check(&file),
        Cmd::Replay(args) => replay::run(&args),
        Cmd::Show { words } => Ok(one_shot(&cli.socket, command_line("show", &words))),
        Cmd::Clear { words } => Ok(one_shot(&cli.socket, command_line("clear", &words))),
        Cmd::Request {
            what: RequestCmd::Commit { file },
        } => match client::commit_request(&file) {
            Ok(r) => Ok(one_shot(&cli.socket, r)),
            Err(e) => Err(anyhow::anyhow!(e)),
        },
        Cmd::Cli { echo } => Ok(mspic_cli::interactive::run(&cli.socket, echo)),
        Cmd::Ping => Ok(one_shot(&cli.socket, client::ping_request())),
        Cmd::Netconf {
            message_timeout,
            idle_timeout,
        } => Ok(mspic_cli::netconf::run(
            &cli.socket,
            mspic_netconf::Timeouts {
                message: message_timeout,
                idle: idle_timeout,
            },
        )),
        Cmd::Completions { shell } => {
            use clap::CommandFactory;
            // clap_complete panics on a failed write: generate in memory, write once.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "mspic", &mut script);
            std::io::stdout()
                .write_all(&script)
                .map(|()| ExitCode::SUCCESS)
                .context("cannot write the completion script")
        }
        Cmd::ManPages { out } => man_pages(&out),
    };
    match r {
        Ok(code) => code,
        // A reader that stopped early (`| head`): quiet, as coreutils are.
        Err(e) if closed_output(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mspic: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A positive number of seconds (`0.5`, `30`).
fn seconds(s: &str) -> Result<std::time::Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 1e9 => Ok(std::time::Duration::from_secs_f64(v)),
        _ => Err(format!("'{s}' is not a positive number of seconds")),
    }
}

/// Whether `e` is a write to a stdout whose reader has gone.
fn closed_output(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `mspic man-pages`: mspic.1 and mspicd.1, from the clap definitions.
fn man_pages(dir: &Path) -> Result<ExitCode> {
    use clap::CommandFactory;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, cmd) in [
        ("mspic", Cli::command()),
        ("mspicd", mspic_cli::daemon::DaemonArgs::command()),
    ] {
        let path = dir.join(format!("{name}.1"));
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut page)?;
        std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
        writeln!(std::io::stdout(), "{}", path.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `show` or `clear` and the words after it, as one command line.
fn command_line(verb: &str, words: &[String]) -> Request {
    let mut line = verb.to_string();
    for w in words {
        line.push(' ');
        line.push_str(w);
    }
    Request::Command(line)
}

/// Sends one request; the answer goes to stdout, an error answer to stderr (exit 1).
fn one_shot(socket: &Path, request: Request) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match Client::connect(socket).and_then(|mut c| c.request(&request, &mut out)) {
        Ok(Outcome::Ok) | Ok(Outcome::OutputClosed) => ExitCode::SUCCESS,
        Ok(Outcome::Error(e)) => {
            let _ = out.flush();
            let _ = client::write_line(&mut std::io::stderr(), &e);
            ExitCode::FAILURE
        }
        Err(e) => {
            let _ = out.flush();
            eprintln!("mspic: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Reads and validates a configuration; prints warnings to stderr.
pub fn load_config(path: &std::path::Path) -> Result<Result<mspic_config::Config, String>> {
    let text = match mspic_cli::input::read_config(path) {
        Ok(t) => t,
        Err(InputError::Invalid(diagnostics)) => return Ok(Err(diagnostics)),
        Err(e) => return Err(e.into()),
    };
    let name = path.display().to_string();
    Ok(match mspic_config::parse(&text, &name) {
        Ok(cfg) => {
            for w in &cfg.warnings {
                eprintln!("{w}");
            }
            Ok(cfg)
        }
        Err(errs) => Err(errs.to_string()),
    })
}

/// Compiles a validated configuration for the engine.
pub fn compile(cfg: &mspic_config::Config) -> Result<Arc<mspic_flow::Policy>> {
    Ok(Arc::new(
        mspic_flow::Policy::compile(cfg).context("configuration cannot be applied")?,
    ))
}

const CHECK_FAILED: &str = "error: configuration check-out failed";

fn check(file: &std::path::Path) -> Result<ExitCode> {
    match load_config(file)? {
        Ok(cfg) => match mspic_flow::Policy::compile(&cfg) {
            Ok(_) => {
                writeln!(std::io::stdout(), "configuration check succeeds")?;
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{}: error: {e}", file.display());
                // The exit status carries the verdict, even to a reader that has gone.
                let _ = writeln!(std::io::stdout(), "{CHECK_FAILED}");
                Ok(ExitCode::FAILURE)
            }
        },
        Err(errors) => {
            eprintln!("{errors}");
            let _ = writeln!(std::io::stdout(), "{CHECK_FAILED}");
            Ok(ExitCode::FAILURE)
        }
    }
}
