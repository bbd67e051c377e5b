//! `rexist hunt …`: for now `hunt test`, which says whether a text matches a
//! hunt query and which terms hit (the query language is `rexist-query`'s).

use std::process::ExitCode;

use anyhow::{Result, bail};

use super::say;

/// `hunt` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Say whether TEXT matches QUERY: prints `match` and the terms that hit, or `no match`.
    Test {
        /// The hunt query, e.g. `ransomware lockbit, "black cat" -test`.
        query: String,
        /// The text to test.
        #[arg(long)]
        text: String,
    },
}

/// Runs a `hunt` subcommand.
pub fn run(command: &Command) -> Result<ExitCode> {
    match command {
        Command::Test { query, text } => test(query, text),
    }
}

fn test(query: &str, text: &str) -> Result<ExitCode> {
    let parsed = match rexist_query::parse(query) {
        Ok(q) => q,
        Err(e) => {
            // Point at the position under the query, as compilers do.
            let column = query.get(..e.position).map_or(0, |p| p.chars().count());
            bail!("invalid query at {e}\n  {query}\n  {}^", " ".repeat(column));
        }
    };
    match rexist_query::test(&parsed, text) {
        Some(terms) => {
            say(format_args!("match"));
            for term in terms {
                say(format_args!("  {term}"));
            }
        }
        None => say(format_args!("no match")),
    }
    Ok(ExitCode::SUCCESS)
}
