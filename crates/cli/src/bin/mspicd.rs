//! `mspicd`: the mspic daemon. See `mspicd --help` and [`mspic_cli::daemon`].

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    mspic_cli::daemon::main(mspic_cli::daemon::DaemonArgs::parse())
}
