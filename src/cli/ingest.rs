//! `rexist ingest file`: load a local list of indicators — one per line, or
//! one column of a CSV file — as sightings of a source, with a progress bar
//! and a summary. A bad line is rejected with its line number and counted;
//! the rest is stored. The load is recorded as a run of the source.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rexist_core::model::now;
use rexist_core::{
    Indicator, IndicatorType, NewSighting, RunCounts, RunOutcome, Source, SourceSpec, Tlp,
    UpsertSummary,
};
use rexist_store::Store;
use time::OffsetDateTime;
use tokio::sync::mpsc;

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

/// Rows per store batch.
pub const BATCH: usize = 20_000;
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

/// Where values are taken from in each line.
#[derive(Debug, Clone)]
pub enum Layout {
    /// The whole line is the value.
    Lines,
    /// One CSV column, by zero-based index.
    Index(usize),
    /// One CSV column, by header name.
    Header(String),
}

impl Layout {
    fn from_arg(column: Option<&str>) -> Result<Self> {
        Ok(match column {
            None => Self::Lines,
            Some(c) if c.bytes().all(|b| b.is_ascii_digit()) => {
                let n: usize = c.parse().with_context(|| format!("--column {c}"))?;
                if n == 0 {
                    bail!("--column 0: columns count from 1");
                }
                Self::Index(n - 1)
            }
            Some(name) => Self::Header(name.to_owned()),
        })
    }
}

/// Parses one raw value into an indicator, or says why not.
///
/// A value that does not parse as written is refanged and tried again, so
/// lists with `192.0.2[.]1` or `hxxp://evil[.]com/` load; the refang costs
/// nothing for the clean values that make up nearly every list.
pub fn parse_value(raw: &str, kind: Option<IndicatorType>) -> Result<Indicator, String> {
    let value = raw.trim().trim_matches('"').trim();
    let parse = |v: &str| match kind {
        Some(k) => Indicator::parse(k, v),
        None => Indicator::detect(v),
    };
    parse(value).or_else(|e| {
        let refanged = rexist_extract::refang(value);
        if refanged == value {
            Err(e.reason())
        } else {
            parse(&refanged).map_err(|_| e.reason())
        }
    })
}

fn is_comment(line: &str) -> bool {
    let t = line.trim_start();
    t.is_empty() || t.starts_with('#') || t.starts_with("//") || t.starts_with(';')
}

/// The value of a list line: the line without a trailing comment that
/// follows white space (`192.0.2.1 # seen twice`, `10.0.0.0/8 ; SBL123`).
/// Indicator values never contain white space, so this cannot cut a value.
fn strip_trailing_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    let cut = (1..bytes.len()).find(|&i| {
        bytes[i - 1].is_ascii_whitespace()
            && (bytes[i] == b'#' || bytes[i] == b';' || line[i..].starts_with("//"))
    });
    cut.map_or(line, |i| &line[..i]).trim()
}

/// Reads the comment banner at the top of a CSV file and returns the reader
/// positioned at the first data line, with the last comment line: abuse.ch
/// and others put the header there (`# id,dateadded,url,…`).
fn skip_banner<R: BufRead>(mut reader: R) -> std::io::Result<(Vec<u8>, Option<String>, u64, R)> {
    let mut last_comment = None;
    let mut line = Vec::new();
    let mut skipped = 0u64;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok((Vec::new(), last_comment, skipped, reader));
        }
        let text = String::from_utf8_lossy(&line);
        let trimmed = text.trim();
        if trimmed.is_empty() {
            skipped += 1;
            continue;
        }
        match trimmed.strip_prefix('#') {
            Some(comment) => {
                skipped += 1;
                last_comment = Some(comment.trim().to_owned());
            }
            None => return Ok((line, last_comment, skipped, reader)),
        }
    }
}

/// The fields of one CSV line, trimmed.
fn fields(line: &[u8], delimiter: u8) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(line);
    reader
        .byte_records()
        .next()
        .and_then(Result::ok)
        .map(|r| {
            r.iter()
                .map(|f| String::from_utf8_lossy(f).trim().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Reads `input` and sends batches until the end or until the receiver is gone.
#[allow(clippy::needless_pass_by_value)] // moved into a blocking task
fn read_batches(
    input: Box<dyn Read + Send>,
    layout: Layout,
    delimiter: u8,
    kind: Option<IndicatorType>,
    labels: Vec<String>,
    bytes_read: Arc<AtomicU64>,
    tx: mpsc::Sender<Result<Batch, String>>,
) {
    let seen_at = now();
    let counted = CountingReader {
        inner: input,
        count: bytes_read,
    };
    let mut batch = Batch {
        sightings: Vec::with_capacity(BATCH),
        rejected: Vec::new(),
        values: 0,
    };
    let push = |batch: &mut Batch, line: u64, raw: &str| -> bool {
        batch.values += 1;
        match parse_value(raw, kind) {
            Ok(indicator) => batch.sightings.push(sighting(indicator, seen_at, &labels)),
            Err(reason) => batch.rejected.push((line, reason)),
        }
        if batch.sightings.len() + batch.rejected.len() >= BATCH {
            let full = std::mem::replace(
                batch,
                Batch {
                    sightings: Vec::with_capacity(BATCH),
                    rejected: Vec::new(),
                    values: 0,
                },
            );
            return tx.blocking_send(Ok(full)).is_ok();
        }
        true
    };
    match layout {
        Layout::Lines => {
            let mut reader = BufReader::with_capacity(1 << 16, counted);
            let mut buf = Vec::new();
            let mut line_no = 0u64;
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => {
                        let _ =
                            tx.blocking_send(Err(format!("read error after line {line_no}: {e}")));
                        return;
                    }
                }
                line_no += 1;
                let Ok(line) = std::str::from_utf8(&buf) else {
                    batch.values += 1;
                    batch.rejected.push((line_no, "not UTF-8".to_owned()));
                    continue;
                };
                let line = line.trim_end_matches(['\n', '\r']);
                if is_comment(line) {
                    continue;
                }
                if !push(&mut batch, line_no, strip_trailing_comment(line)) {
                    return;
                }
            }
        }
        Layout::Index(_) | Layout::Header(_) => {
            let (first, banner_header, skipped, rest) =
                match skip_banner(BufReader::with_capacity(1 << 16, counted)) {
                    Ok(v) => v,
                    Err(e) => {
                        let _ =
                            tx.blocking_send(Err(format!("read error in the file's banner: {e}")));
                        return;
                    }
                };
            // The header is the commented line above the data when it names the
            // column, else the first data line.
            let banner = banner_header
                .as_deref()
                .map(|h| fields(h.as_bytes(), delimiter));
            let (index, first_is_header) = match &layout {
                Layout::Index(i) => (*i, false),
                Layout::Header(name) => {
                    let header = fields(&first, delimiter);
                    let in_banner = banner
                        .as_ref()
                        .and_then(|b| b.iter().position(|f| f == name));
                    match (in_banner, header.iter().position(|f| f == name)) {
                        (Some(i), _) => (i, false),
                        (None, Some(i)) => (i, true),
                        (None, None) => {
                            let _ = tx.blocking_send(Err(format!(
                                "no column named {name:?} in the header (columns: {})",
                                header.join(", ")
                            )));
                            return;
                        }
                    }
                }
                Layout::Lines => (0, false),
            };
            let first_width = fields(&first, delimiter).len();
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(delimiter)
                .has_headers(first_is_header)
                .flexible(true)
                .comment(Some(b'#'))
                .from_reader(std::io::Cursor::new(first).chain(rest));
            // csv counts lines from its own start; the banner came before it.
            let line_offset = skipped;
            // Rows must have the header's width: a short row or an unterminated
            // last line is rejected, not half-read. Without a header, the first row sets it.
            let mut width = match (&layout, first_is_header) {
                (_, true) => Some(first_width),
                (Layout::Header(_), false) => banner.as_ref().map(Vec::len),
                _ => None,
            };
            let mut record = csv::ByteRecord::new();
            loop {
                match reader.read_byte_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => {}
                    Err(e) => {
                        let line = e.position().map_or(0, csv::Position::line) + line_offset;
                        batch.values += 1;
                        batch
                            .rejected
                            .push((line, format!("malformed CSV: {}", e.kind_name())));
                        if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                            let _ =
                                tx.blocking_send(Err(format!("read error at line {line}: {e}")));
                            return;
                        }
                        continue;
                    }
                }
                let line = record.position().map_or(0, csv::Position::line) + line_offset;
                let expected = *width.get_or_insert(record.len());
                if record.len() != expected {
                    batch.values += 1;
                    batch.rejected.push((
                        line,
                        format!("expected {expected} fields, found {}", record.len()),
                    ));
                    continue;
                }
                let value = match record.get(index).map(std::str::from_utf8) {
                    Some(Ok(v)) => v,
                    Some(Err(_)) => {
                        batch.values += 1;
                        batch.rejected.push((line, "not UTF-8".to_owned()));
                        continue;
                    }
                    None => {
                        batch.values += 1;
                        batch
                            .rejected
                            .push((line, format!("no column {}", index + 1)));
                        continue;
                    }
                };
                if value.trim().is_empty() {
                    continue;
                }
                if !push(&mut batch, line, value) {
                    return;
                }
            }
        }
    }
    if batch.values > 0 {
        let _ = tx.blocking_send(Ok(batch));
    }
}

trait CsvErrorExt {
    fn kind_name(&self) -> String;
}

impl CsvErrorExt for csv::Error {
    fn kind_name(&self) -> String {
        match self.kind() {
            csv::ErrorKind::Utf8 { .. } => "not UTF-8".to_owned(),
            csv::ErrorKind::UnequalLengths { .. } => "unequal field counts".to_owned(),
            _ => "unreadable record".to_owned(),
        }
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

/// Batches of sightings being stored, at most [`IN_FLIGHT`] at once.
///
/// PostgreSQL works on one batch while the next is prepared and sent, on a
/// second connection; the store locks rows in one global order, so concurrent
/// batches cannot deadlock. SQLite's single writer simply queues them.
pub struct Upserts {
    store: Arc<dyn Store>,
    source: Source,
    running: tokio::task::JoinSet<Result<UpsertSummary, rexist_store::StoreError>>,
    total: UpsertSummary,
}

/// Batches stored concurrently by [`Upserts`].
const IN_FLIGHT: usize = 2;

impl Upserts {
    /// Stores sightings of `source`.
    pub fn new(store: Arc<dyn Store>, source: Source) -> Self {
        Self {
            store,
            source,
            running: tokio::task::JoinSet::new(),
            total: UpsertSummary::default(),
        }
    }

    /// Starts storing `batch`, first waiting for a running one when the limit is reached.
    pub async fn push(&mut self, batch: Vec<NewSighting>) -> Result<(), rexist_store::StoreError> {
        if self.running.len() >= IN_FLIGHT {
            self.wait_one().await?;
        }
        let (store, source) = (Arc::clone(&self.store), self.source.clone());
        self.running
            .spawn(async move { store.upsert_sightings(&source, &batch).await });
        Ok(())
    }

    async fn wait_one(&mut self) -> Result<(), rexist_store::StoreError> {
        if let Some(done) = self.running.join_next().await {
            let summary =
                done.map_err(|e| rexist_store::StoreError::internal(format!("store task: {e}")))??;
            self.total.add(summary);
        }
        Ok(())
    }

    /// Waits for every running batch; the total counts every batch that was stored,
    /// also when one failed.
    pub async fn finish(&mut self) -> Result<UpsertSummary, rexist_store::StoreError> {
        let mut first_error = None;
        while !self.running.is_empty() {
            if let Err(e) = self.wait_one().await {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(self.total), Err)
    }

    /// What has been stored so far.
    pub fn total(&self) -> UpsertSummary {
        self.total
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
    let layout = Layout::from_arg(args.column.as_deref())?;
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

    let bytes_read = Arc::new(AtomicU64::new(0));
    let progress = match size {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner(),
    };
    let (tx, mut rx) = mpsc::channel(4);
    let reader = {
        let bytes = Arc::clone(&bytes_read);
        let kind = args.kind;
        let labels = args.labels.clone();
        tokio::task::spawn_blocking(move || {
            read_batches(input, layout, delimiter, kind, labels, bytes, tx);
        })
    };

    let mut counts = RunCounts::default();
    let mut upserts = Upserts::new(Arc::clone(&store), source.clone());
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
                progress
                    .suspend(|| eprintln!("{}:{line}: rejected: {reason}", args.path.display()));
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
    let new_indicators = stored.new_indicators;
    progress.finish_and_clear();
    counts.fetched = bytes_read.load(Ordering::Relaxed);

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

fn print_summary(counts: &RunCounts, new_indicators: u64, shown: usize) {
    println!("read: {} values", counts.parsed);
    println!(
        "stored new: {} sightings ({new_indicators} new indicators)",
        counts.new
    );
    println!("already known: {}", counts.unchanged);
    println!("rejected: {}", counts.rejected);
    let mut reasons: Vec<(&String, &u64)> = counts.rejected_reasons.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (reason, n) in reasons {
        println!("  {n} {reason}");
    }
    if counts.rejected > shown as u64 {
        println!("(first {shown} rejected lines shown above)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_by_type_or_detection() {
        assert_eq!(
            parse_value(" \"1.2.3.4\" ", None).unwrap().value(),
            "1.2.3.4"
        );
        assert_eq!(
            parse_value("EVIL.com", Some(IndicatorType::Domain))
                .unwrap()
                .value(),
            "evil.com"
        );
        assert!(
            parse_value("1.2.3.999", Some(IndicatorType::Ipv4))
                .unwrap_err()
                .contains("invalid ipv4")
        );
        assert_eq!(
            parse_value("what is this", None).unwrap_err(),
            "unrecognised value"
        );
    }

    #[test]
    fn column_argument() {
        assert!(matches!(
            Layout::from_arg(Some("2")).unwrap(),
            Layout::Index(1)
        ));
        assert!(matches!(
            Layout::from_arg(Some("url")).unwrap(),
            Layout::Header(_)
        ));
        assert!(Layout::from_arg(Some("0")).is_err());
        assert!(matches!(Layout::from_arg(None).unwrap(), Layout::Lines));
    }

    fn collect(text: &str, layout: Layout) -> (Vec<String>, Vec<(u64, String)>, Option<String>) {
        let (tx, mut rx) = mpsc::channel(64);
        read_batches(
            Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
            layout,
            b',',
            None,
            vec![],
            Arc::new(AtomicU64::new(0)),
            tx,
        );
        let (mut ok, mut bad, mut err) = (Vec::new(), Vec::new(), None);
        while let Ok(b) = rx.try_recv() {
            match b {
                Ok(b) => {
                    ok.extend(
                        b.sightings
                            .into_iter()
                            .map(|s| s.indicator.value().to_owned()),
                    );
                    bad.extend(b.rejected);
                }
                Err(e) => err = Some(e),
            }
        }
        (ok, bad, err)
    }

    #[test]
    fn lines_skip_comments_and_report_bad_lines() {
        let (ok, bad, err) = collect(
            "# banner\n1.2.3.4\n\nnot-an-ioc\r\nevil.com\n; note\n",
            Layout::Lines,
        );
        assert_eq!(ok, ["1.2.3.4", "evil.com"]);
        assert_eq!(bad, [(4, "unrecognised value".to_owned())]);
        assert!(err.is_none());
    }

    #[test]
    fn csv_columns_by_index_and_name() {
        let text = "# URLhaus banner\nid,url,status\n1,http://evil.com/a,online\n2,\"http://x.org/b,c\",offline\n3,garbage,online\n";
        let (ok, bad, _) = collect(text, Layout::Header("url".into()));
        assert_eq!(ok, ["http://evil.com/a", "http://x.org/b,c"]);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, 5, "line number of the bad record");
        let (_, _, err) = collect(text, Layout::Header("nope".into()));
        assert!(err.unwrap().contains("no column named \"nope\""));
        let (ok, bad, _) = collect("1,evil.com\n2\n", Layout::Index(1));
        assert_eq!(ok, ["evil.com"]);
        assert_eq!(bad, [(2, "expected 2 fields, found 1".to_owned())]);
    }
}
