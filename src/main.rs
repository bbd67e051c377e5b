//! The `rexist` binary: command-line parsing, configuration, logging and
//! wiring of the library crates. The only place `anyhow` is used.

mod cli;
mod config;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rexist: {e:#}");
            ExitCode::FAILURE
        }
    }
}
