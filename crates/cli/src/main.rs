//! `mspic`: the operator's command line: offline `replay` and `check`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

mod replay;

#[derive(Parser)]
#[command(
    name = "mspic",
    version,
    about = "Junos MS-PIC emulator: check configurations, replay captures, query the daemon"
)]
struct Cli {
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.command {
        Cmd::Check { file } => check(&file),
        Cmd::Replay(args) => replay::run(&args),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mspic: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Reads and validates a configuration; prints warnings to stderr.
pub fn load_config(path: &std::path::Path) -> Result<Result<mspic_config::Config, String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read configuration {}", path.display()))?;
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

fn check(file: &std::path::Path) -> Result<ExitCode> {
    match load_config(file)? {
        Ok(cfg) => match mspic_flow::Policy::compile(&cfg) {
            Ok(_) => {
                println!("configuration check succeeds");
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{}: error: {e}", file.display());
                println!("error: configuration check-out failed");
                Ok(ExitCode::FAILURE)
            }
        },
        Err(errors) => {
            eprintln!("{errors}");
            println!("error: configuration check-out failed");
            Ok(ExitCode::FAILURE)
        }
    }
}
