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
use rexist_connectors::feed::{Entry, FeedFormat, Layout, read_feed};
use rexist_core::model::now;
use rexist_core::{
    Indicator, IndicatorType, NewSighting, RunCounts, RunOutcome, Source, SourceSpec, Tlp,
};
use rexist_pipeline::{BATCH, Upserts};
use rexist_store::Store;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use super::say;
use crate::config::Config;

/// `ingest` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Load indicators from a local file (one per line, or a CSV column).
    File(FileArgs),
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
    }
}

/// One batch from the reader: parsed sightings and rejected lines.
struct Batch {
    sightings: Vec<NewSighting>,
    rejected: Vec<(u64, String)>,
    values: u64,
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

/// Reads `input` and sends batches until the end or until the receiver is gone.
#[allow(clippy::needless_pass_by_value)] // moved into a blocking task
fn read_batches(
    input: Box<dyn Read + Send>,
    format: FeedFormat,
    labels: Vec<String>,
    bytes_read: Arc<AtomicU64>,
    tx: mpsc::Sender<Result<Batch, String>>,
) {
    let seen_at = now();
    let counted = CountingReader {
        inner: input,
        count: bytes_read,
    };
    let empty = || Batch {
        sightings: Vec::with_capacity(BATCH),
        rejected: Vec::new(),
        values: 0,
    };
    let mut batch = empty();
    let result = read_feed(counted, &format, |entry| {
        batch.values += 1;
        match entry {
            Entry::Indicator { indicator, .. } => {
                batch.sightings.push(sighting(indicator, seen_at, &labels));
            }
            Entry::Rejected { line, reason } => batch.rejected.push((line, reason)),
        }
        if batch.sightings.len() + batch.rejected.len() >= BATCH {
            let full = std::mem::replace(&mut batch, empty());
            return tx.blocking_send(Ok(full)).is_ok();
        }
        true
    });
    if let Err(e) = result {
        if batch.values > 0 {
            let _ = tx.blocking_send(Ok(std::mem::replace(&mut batch, empty())));
        }
        let _ = tx.blocking_send(Err(e.to_string()));
        return;
    }
    if batch.values > 0 {
        let _ = tx.blocking_send(Ok(batch));
    }
}

fn sighting(indicator: Indicator, seen_at: OffsetDateTime, labels: &[String]) -> NewSighting {
    NewSighting {
        labels: labels.to_vec(),
        ..NewSighting::new(indicator, seen_at)
    }
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
    let run = store.start_run(source.id).await?;

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
        layout,
        delimiter,
        kind: args.kind,
    };
    let place = args.path.display().to_string();
    let Loaded {
        counts,
        new_indicators,
        failure,
        shown,
    } = load(
        &store,
        &source,
        input,
        format,
        args.labels.clone(),
        &progress,
        &place,
    )
    .await;
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
    if let Some(e) = failure {
        bail!("ingest stopped: {e} (everything before it is stored)");
    }
    Ok(ExitCode::SUCCESS)
}

/// What loading a list did.
pub struct Loaded {
    /// Counts of the load.
    pub counts: RunCounts,
    /// Indicators stored for the first time.
    pub new_indicators: u64,
    /// Why it stopped early, if it did (everything before is stored).
    pub failure: Option<String>,
    /// Rejected lines printed.
    pub shown: usize,
}

/// Streams `input` through parse → canonicalise → batched upsert as
/// sightings of `source`, on two threads; bad lines are counted and the
/// first ones printed as `place:line: rejected: reason`.
pub async fn load(
    store: &Arc<dyn Store>,
    source: &Source,
    input: Box<dyn Read + Send>,
    format: FeedFormat,
    labels: Vec<String>,
    progress: &ProgressBar,
    place: &str,
) -> Loaded {
    let bytes_read = Arc::new(AtomicU64::new(0));
    let (tx, mut rx) = mpsc::channel(4);
    let reader = {
        let bytes = Arc::clone(&bytes_read);
        tokio::task::spawn_blocking(move || read_batches(input, format, labels, bytes, tx))
    };
    let mut counts = RunCounts::default();
    let mut upserts = Upserts::new(Arc::clone(store), source.clone());
    let mut shown = 0usize;
    let mut failure: Option<String> = None;
    while let Some(batch) = rx.recv().await {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        counts.parsed += batch.values;
        for (line, reason) in &batch.rejected {
            if shown < SHOWN_REJECTIONS {
                progress.suspend(|| eprintln!("{place}:{line}: rejected: {reason}"));
                shown += 1;
            }
            counts.reject(reason.clone());
        }
        if let Err(e) = upserts.push(batch.sightings).await {
            failure = Some(format!("store failed: {e}"));
            break;
        }
        progress.set_position(bytes_read.load(Ordering::Relaxed));
    }
    drop(rx);
    let _ = reader.await;
    if let Err(e) = upserts.finish().await {
        failure.get_or_insert(format!("store failed: {e}"));
    }
    let stored = upserts.total();
    counts.new = stored.new;
    counts.unchanged = stored.unchanged;
    counts.fetched = bytes_read.load(Ordering::Relaxed);
    Loaded {
        counts,
        new_indicators: stored.new_indicators,
        failure,
        shown,
    }
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
