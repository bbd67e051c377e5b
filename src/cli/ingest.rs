//! `rexist ingest file`: load a local list of indicators — one per line, or
//! one column of a CSV file — as sightings of a source, with a progress bar
//! and a summary. A bad line is rejected with its line number and counted;
//! the rest is stored. The load is recorded as a run of the source.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rexist_connectors::feed::{FeedFormat, Layout};
use rexist_core::model::now;
use rexist_core::{IndicatorType, RunCounts, RunOutcome, Source, SourceSpec, Tlp};
use rexist_pipeline::liveness::{Heartbeat, Progress};
use rexist_pipeline::{Loaded, load_feed};
use rexist_store::Store;

use super::say;
use crate::config::Config;

/// `ingest` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Load indicators from a local file (one per line, or a CSV column).
    File(FileArgs),
    /// Link every stored item to the threat entities it names (once, after
    /// upgrading from a version without entities; new items are linked as
    /// they arrive).
    Entities,
}

/// Arguments of `ingest file`.
#[derive(Debug, clap::Args)]
pub struct FileArgs {
    /// The file to read (`-` for standard input).
    path: PathBuf,
    /// Source the sightings are recorded under (created as kind `file` if new).
    #[arg(long)]
    source: String,
    /// Indicator type of every value; detected per value when omitted.
    #[arg(long = "type", value_name = "TYPE")]
    kind: Option<IndicatorType>,
    /// Read this CSV column: a number counting from 1, or a header name.
    #[arg(long, value_name = "N|NAME")]
    column: Option<String>,
    /// CSV field delimiter.
    #[arg(long, default_value = ",", value_name = "CHAR")]
    delimiter: char,
    /// TLP of a new source [default: clear].
    #[arg(long)]
    tlp: Option<Tlp>,
    /// Confidence 0–100 of a new source [default: 50].
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=100))]
    confidence: Option<u8>,
    /// Label added to every sighting (repeatable), e.g. `--label botnet`.
    #[arg(long = "label")]
    labels: Vec<String>,
}

/// Rejections printed with their line number; the rest are only counted.
const SHOWN_REJECTIONS: usize = 20;

/// Runs an `ingest` subcommand.
pub async fn run(config: &Config, command: Command) -> Result<ExitCode> {
    match command {
        Command::File(args) => file(config, args).await,
        Command::Entities => {
            let store = super::open_store(config).await?;
            let (scanned, linked) = rexist_pipeline::entities::link_stored(store.as_ref()).await?;
            say(format_args!(
                "{scanned} items read, {linked} named threat entities and are linked"
            ));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The feed layout named by `--column`: a 1-based number or a header name.
fn layout_from_arg(column: Option<&str>) -> Result<Layout> {
    Ok(match column {
        None => Layout::Lines,
        Some(c) if c.bytes().all(|b| b.is_ascii_digit()) => {
            let n: usize = c.parse().with_context(|| format!("--column {c}"))?;
            if n == 0 {
                bail!("--column 0: columns count from 1");
            }
            Layout::Index(n - 1)
        }
        Some(name) => Layout::Header(name.to_owned()),
    })
}

/// Counts bytes read, for the progress bar.
struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Finds the source by name, creating it as kind `file` if missing.
pub async fn ensure_source(
    store: &Arc<dyn Store>,
    name: &str,
    kind: &str,
    tlp: Option<Tlp>,
    confidence: Option<u8>,
) -> Result<Source> {
    if name.trim().is_empty() {
        bail!("--source must not be empty");
    }
    if let Some(existing) = store.source_by_name(name).await? {
        return Ok(existing);
    }
    let spec = SourceSpec {
        name: name.to_owned(),
        kind: kind.to_owned(),
        enabled: true,
        confidence: confidence.unwrap_or(50),
        tlp: tlp.unwrap_or_default(),
        tags: Vec::new(),
    };
    Ok(store.upsert_source(&spec).await?)
}

async fn file(config: &Config, args: FileArgs) -> Result<ExitCode> {
    let layout = layout_from_arg(args.column.as_deref())?;
    let delimiter = u8::try_from(u32::from(args.delimiter))
        .ok()
        .filter(u8::is_ascii)
        .with_context(|| {
            format!(
                "--delimiter {:?} must be one ASCII character",
                args.delimiter
            )
        })?;
    let (input, size): (Box<dyn Read + Send>, Option<u64>) = if args.path.as_os_str() == "-" {
        (Box::new(std::io::stdin()), None)
    } else {
        let f = File::open(&args.path)
            .with_context(|| format!("cannot open {}", args.path.display()))?;
        let size = f.metadata().ok().map(|m| m.len());
        (Box::new(f), size)
    };
    let store = super::open_store(config).await?;
    let source = ensure_source(&store, &args.source, "file", args.tlp, args.confidence).await?;
    let mut signals = super::Signals::listen();
    let run = store.start_run(source.id).await?;
    // Keeps the run visibly alive, with what it has committed, so a kill
    // leaves it for the next sweep to mark interrupted with those counts.
    let heartbeat = Heartbeat::for_run(Arc::clone(&store), run.id, super::liveness().heartbeat);
    let ingest = super::open_ingest(config, &store);

    let progress = match size {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner(),
    };
    let format = FeedFormat {
        delimiter,
        kind: args.kind,
        ..FeedFormat::new(layout)
    };
    let place = args.path.display().to_string();
    let loading = load(
        &ingest,
        &source,
        input,
        format,
        args.labels.clone(),
        &progress,
        &place,
        heartbeat.progress(),
    );
    let (
        Loaded {
            counts,
            new_indicators,
            failure,
        },
        shown,
    ) = tokio::select! {
        loaded = loading => loaded,
        () = signals.recv() => {
            // Every batch is one transaction: what was committed stays.
            progress.finish_and_clear();
            let counts = heartbeat.progress().snapshot();
            store
                .finish_run(run.id, RunOutcome::Interrupted, &counts, None, Some("interrupted: stopped by a signal"))
                .await?;
            bail!(
                "ingest interrupted: {} new sightings stored before it stopped; run it again to load the rest",
                counts.new
            );
        }
    };
    progress.finish_and_clear();

    let outcome = match (&failure, counts.new + counts.unchanged) {
        (None, _) => RunOutcome::Success,
        (Some(_), 0) => RunOutcome::Failed,
        (Some(_), _) => RunOutcome::Partial,
    };
    store
        .finish_run(run.id, outcome, &counts, None, failure.as_deref())
        .await?;
    print_summary(&counts, new_indicators, shown);
    super::deliver_alerts(config, &store).await;
    if let Some(e) = failure {
        bail!("ingest stopped: {e} (everything before it is stored)");
    }
    Ok(ExitCode::SUCCESS)
}

/// Streams `input` through the pipeline's one feed path as sightings of
/// `source`, moving `progress` by bytes read, recording what was committed
/// in `committed` (for the run's heartbeat) and printing the first rejected
/// lines as `place:line: rejected: reason`; also returns how many it printed.
#[allow(clippy::too_many_arguments)] // each is one knob of the one feed path
pub async fn load(
    ingest: &Arc<rexist_pipeline::Ingest>,
    source: &Source,
    input: Box<dyn Read + Send>,
    format: FeedFormat,
    labels: Vec<String>,
    progress: &ProgressBar,
    place: &str,
    committed: &Progress,
) -> (Loaded, usize) {
    let bytes_read = Arc::new(AtomicU64::new(0));
    let counted = CountingReader {
        inner: input,
        count: Arc::clone(&bytes_read),
    };
    let mut shown = 0usize;
    let mut loaded = load_feed(
        ingest,
        source,
        Box::new(counted),
        format,
        labels,
        now(),
        |line, reason| {
            if shown < SHOWN_REJECTIONS {
                progress.suspend(|| eprintln!("{place}:{line}: rejected: {reason}"));
                shown += 1;
            }
        },
        |counts| {
            let read = bytes_read.load(Ordering::Relaxed);
            progress.set_position(read);
            let mut counts = counts.clone();
            counts.fetched = read;
            committed.record(&counts);
        },
    )
    .await;
    loaded.counts.fetched = bytes_read.load(Ordering::Relaxed);
    (loaded, shown)
}

fn print_summary(counts: &RunCounts, new_indicators: u64, shown: usize) {
    say(format_args!("read: {} values", counts.parsed));
    say(format_args!(
        "stored new: {} sightings ({new_indicators} new indicators)",
        counts.new
    ));
    say(format_args!("already known: {}", counts.unchanged));
    say(format_args!("rejected: {}", counts.rejected));
    let mut reasons: Vec<(&String, &u64)> = counts.rejected_reasons.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (reason, n) in reasons {
        say(format_args!("  {n} {reason}"));
    }
    if counts.rejected > shown as u64 {
        say(format_args!("(first {shown} rejected lines shown above)"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_argument() {
        assert_eq!(layout_from_arg(Some("2")).unwrap(), Layout::Index(1));
        assert_eq!(
            layout_from_arg(Some("url")).unwrap(),
            Layout::Header("url".into())
        );
        assert!(layout_from_arg(Some("0")).is_err());
        assert_eq!(layout_from_arg(None).unwrap(), Layout::Lines);
    }
}
