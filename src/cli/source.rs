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
    let mut rows = Vec::new();
    for s in sources {
        let stored = store.source_by_name(&s.name).await?;
        let last_run = match &stored {
            Some(x) => store.list_runs(Some(x.id), None, 1).await?.pop(),
            None => None,
        };
        let enabled = stored.as_ref().map_or(s.enabled, |x| x.enabled);
        let health = stored.map(|x| x.health).unwrap_or_default();
        let stale = enabled && health.is_stale(s.every, rexist_core::model::now());
        let last_success = health.last_success_at.map(rfc3339);
        if json {
            let line = serde_json::json!({
                "name": s.name, "kind": s.kind, "enabled": enabled, "every_seconds": s.every.as_secs(),
                "url": rexist_connectors::http::redact(&s.url), "snapshot": s.params.snapshot(),
                "last_success_at": last_success, "consecutive_failures": health.consecutive_failures,
                "stale": stale,
                "last_error": health.last_error,
                "last_run": last_run.as_ref().map(|r| serde_json::json!({
                    "id": r.id.get(), "outcome": r.outcome.as_str(),
                    "started_at": rfc3339(r.started_at), "finished_at": r.finished_at.map(rfc3339),
                    "new": r.counts.new,
                })),
            });
            say(format_args!("{line}"));
        } else {
            rows.push([
                s.name.clone(),
                s.kind.clone(),
                if enabled { "yes" } else { "no" }.to_owned(),
                humantime(s.every.as_secs()),
                last_success.unwrap_or_else(|| "never".to_owned()),
                last_run.map_or_else(|| "-".to_owned(), |r| r.outcome.as_str().to_owned()),
                health.consecutive_failures.to_string(),
                if stale { "yes" } else { "no" }.to_owned(),
                health.last_error.unwrap_or_default(),
            ]);
        }
    }
    if !json {
        for line in table(&rows) {
            say(format_args!("{line}"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The `source list` table: a header, then a row per source, each column
/// as wide as its widest cell so long names keep the columns aligned.
fn table(rows: &[[String; 9]]) -> Vec<String> {
    const HEADER: [&str; 9] = [
        "name",
        "kind",
        "enabled",
        "every",
        "last success",
        "last run",
        "failures",
        "stale",
        "last error",
    ];
    // Columns padded on the right, except the numbers (`every`, `failures`).
    const RIGHT: [bool; 9] = [false, false, false, true, false, false, true, false, false];
    const GAP: [&str; 9] = ["", " ", " ", " ", "  ", "  ", " ", "  ", "  "];
    let mut width = HEADER.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 9]| {
        use std::fmt::Write as _;
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            line.push_str(GAP[i]);
            let w = width[i];
            // Writing to a String cannot fail.
            let _ = if i == cells.len() - 1 {
                write!(line, "{cell}")
            } else if RIGHT[i] {
                write!(line, "{cell:>w$}")
            } else {
                write!(line, "{cell:<w$}")
            };
        }
        line.trim_end().to_owned()
    };
    std::iter::once(line(HEADER))
        .chain(rows.iter().map(|r| line(r.each_ref().map(String::as_str))))
        .collect()
}

/// A time as RFC 3339, for `--json`.
fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
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
    // Ctrl-C or SIGTERM stops the run where it is and records it interrupted.
    let (cut, cancel) = tokio::sync::watch::channel(false);
    let mut signals = super::Signals::listen();
    let signals = tokio::spawn(async move {
        signals.recv().await;
        let _ = cut.send(true);
    });
    let options = rexist_pipeline::RunOptions {
        heartbeat: super::liveness().heartbeat,
        cancel: Some(cancel),
    };
    let run = rexist_pipeline::run_source_with(&ingest, &fetcher, source, &options).await;
    signals.abort();
    let run = run?;
    print_run(&source.name, &run);
    super::deliver_alerts(config, &store).await;
    Ok(
        if matches!(
            run.outcome,
            RunOutcome::Failed | RunOutcome::Partial | RunOutcome::Interrupted
        ) {
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

#[cfg(test)]
mod tests {
    use super::table;

    fn row(name: &str, kind: &str) -> [String; 9] {
        [
            name,
            kind,
            "yes",
            "1h",
            "never",
            "interrupted",
            "0",
            "no",
            "",
        ]
        .map(str::to_owned)
    }

    #[test]
    fn long_names_keep_the_columns_aligned() {
        let lines = table(&[
            row("cins", "blocklist"),
            row("a-much-longer-source-name-than-eighteen", "misp"),
            row("otx", "alienvault-otx-pulses"),
        ]);
        assert_eq!(lines.len(), 4);
        // Every column starts at the same offset on every line.
        let starts = |l: &str, word: &str| l.find(word).unwrap();
        let enabled = starts(&lines[0], "enabled");
        let kind = starts(&lines[0], "kind");
        for l in &lines[1..] {
            assert_eq!(starts(l, "yes"), enabled, "{lines:#?}");
        }
        assert_eq!(starts(&lines[2], "misp"), kind, "{lines:#?}");
        assert_eq!(starts(&lines[3], "alienvault"), kind, "{lines:#?}");
        let last_run = starts(&lines[0], "last run");
        for l in &lines[1..] {
            assert_eq!(starts(l, "interrupted"), last_run, "{lines:#?}");
        }
        assert!(lines.iter().all(|l| l.len() == l.trim_end().len()));
    }
}
