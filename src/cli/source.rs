//! `rexist source list | run NAME | enable NAME | disable NAME`.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use rexist_connectors::http::{FetchOptions, Fetcher};
use rexist_connectors::source::ResolvedSource;
use rexist_core::{Run, RunOutcome};

use super::say;
use crate::config::Config;

/// `source` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Sources (configured and catalogue) with their health.
    List {
        /// One JSON object per source instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run one source once, now, in the foreground, and print the run's counts.
    Run {
        /// The source's name.
        name: String,
    },
    /// Let the scheduler run a source.
    Enable {
        /// The source's name.
        name: String,
    },
    /// Stop the scheduler from running a source (what it stored stays).
    Disable {
        /// The source's name.
        name: String,
    },
}

/// Runs a `source` subcommand.
pub async fn run(config: &Config, command: Command) -> Result<ExitCode> {
    let sources = config.resolved_sources()?;
    match command {
        Command::List { json } => list(config, &sources, json).await,
        Command::Run { name } => run_one(config, find(&sources, &name)?).await,
        Command::Enable { name } => toggle(config, find(&sources, &name)?, true).await,
        Command::Disable { name } => toggle(config, find(&sources, &name)?, false).await,
    }
}

fn find<'a>(sources: &'a [ResolvedSource], name: &str) -> Result<&'a ResolvedSource> {
    if let Some(s) = sources.iter().find(|s| s.name == name) {
        return Ok(s);
    }
    let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
    bail!("no source named {name:?} (sources: {})", names.join(", "))
}

async fn list(config: &Config, sources: &[ResolvedSource], json: bool) -> Result<ExitCode> {
    let store = super::open_store(config).await?;
    if !json {
        say(format_args!(
            "{:<18} {:<14} {:<8} {:>6}  {:<20} {:>8}  {:<5}  last error",
            "name", "kind", "enabled", "every", "last success", "failures", "stale"
        ));
    }
    for s in sources {
        let stored = store.source_by_name(&s.name).await?;
        let enabled = stored.as_ref().map_or(s.enabled, |x| x.enabled);
        let health = stored.map(|x| x.health).unwrap_or_default();
        let stale = enabled && health.is_stale(s.every, rexist_core::model::now());
        let last_success = health.last_success_at.and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        });
        if json {
            let line = serde_json::json!({
                "name": s.name, "kind": s.kind, "enabled": enabled, "every_seconds": s.every.as_secs(),
                "url": rexist_connectors::http::redact(&s.url), "snapshot": s.params.snapshot(),
                "last_success_at": last_success, "consecutive_failures": health.consecutive_failures,
                "stale": stale,
                "last_error": health.last_error,
            });
            say(format_args!("{line}"));
        } else {
            say(format_args!(
                "{:<18} {:<14} {:<8} {:>6}  {:<20} {:>8}  {:<5}  {}",
                s.name,
                s.kind,
                if enabled { "yes" } else { "no" },
                humantime(s.every.as_secs()),
                last_success.unwrap_or_else(|| "never".to_owned()),
                health.consecutive_failures,
                if stale { "yes" } else { "no" },
                health.last_error.unwrap_or_default()
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A period in its largest whole unit: `1d`, `6h`, `30m`, `90s`.
pub(super) fn humantime(secs: u64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// A UTC time to the second, `2026-11-24 20:37:51`, for tables.
pub(super) fn short_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

async fn run_one(config: &Config, source: &ResolvedSource) -> Result<ExitCode> {
    let store = super::open_store(config).await?;
    let fetcher = Fetcher::new(FetchOptions::default()).context("HTTP client")?;
    let ingest = super::open_ingest(config, &store);
    let run = rexist_pipeline::run_source(&ingest, &fetcher, source).await?;
    print_run(&source.name, &run);
    super::deliver_alerts(config, &store).await;
    Ok(
        if matches!(run.outcome, RunOutcome::Failed | RunOutcome::Partial) {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        },
    )
}

/// Prints a run's outcome and counts, one per line, for people and scripts.
pub fn print_run(name: &str, run: &Run) {
    say(format_args!("source {name}: {}", run.outcome.as_str()));
    let c = &run.counts;
    say(format_args!("fetched: {} bytes", c.fetched));
    say(format_args!("parsed: {}", c.parsed));
    say(format_args!("new: {}", c.new));
    say(format_args!("unchanged: {}", c.unchanged));
    say(format_args!("updated: {}", c.updated));
    say(format_args!("rejected: {}", c.rejected));
    let mut reasons: Vec<(&String, &u64)> = c.rejected_reasons.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (reason, n) in reasons {
        say(format_args!("  {n} {reason}"));
    }
    if let Some(error) = &run.error {
        say(format_args!("error: {error}"));
    }
}

async fn toggle(config: &Config, source: &ResolvedSource, enabled: bool) -> Result<ExitCode> {
    let store = super::open_store(config).await?;
    rexist_pipeline::sync_sources(&store, std::slice::from_ref(source)).await?;
    store.set_source_enabled(&source.name, enabled).await?;
    say(format_args!(
        "source {}: {}",
        source.name,
        if enabled { "enabled" } else { "disabled" }
    ));
    Ok(ExitCode::SUCCESS)
}
