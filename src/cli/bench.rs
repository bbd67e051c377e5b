//! `rexist bench …`: throughput measurements whose figures go in the README.
//!
//! `bench ingest --rows N` stores N generated indicators as new sightings into
//! a fresh store, then ingests the same N rows again, through the same path
//! as `ingest file` (parse → canonicalise → batched upsert, the generator on
//! its own thread). Rows are generated batch by batch, so memory stays flat
//! whatever N is; the peak RSS line shows it.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rexist_core::model::now;
use rexist_core::{Indicator, IndicatorType, NewSighting, UpsertSummary};
use rexist_store::Store;
use rexist_store::postgres::{PgStore, drop_schema};
use rexist_store::sqlite::SqliteStore;
use tokio::sync::mpsc;

use rexist_pipeline::{BATCH, Upserts};

use super::ingest::ensure_source;
use super::say;
use crate::config::Config;

/// `bench` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Sightings per second into a fresh store: new, then the same rows again.
    Ingest(IngestArgs),
    /// Single-threaded IOC extraction speed on a text file, and on adversarial lines.
    Extract(ExtractArgs),
    /// A URLhaus-format CSV of N rows read from disk through parse → normalise → store.
    Feed(FeedArgs),
    /// Items per second matched against many hunts at once, on one thread.
    Hunt(super::bench_hunt::HuntArgs),
    /// Single and bulk lookup latency with a million indicators stored.
    Lookup(super::bench_lookup::LookupArgs),
    /// A TAXII 2.1 collection of generated indicators pulled from loopback and stored.
    Taxii(super::bench_exchange::ExchangeArgs),
    /// OTX-shaped pulse pages of generated indicators pulled from loopback and stored.
    Otx(super::bench_exchange::ExchangeArgs),
    /// A firewall list (EDL) of a million stored indicators, rendered and fetched over HTTP.
    Export(super::bench_sharing::SharingArgs),
    /// A full pull of rexist's own TAXII 2.1 collection over loopback.
    TaxiiServer(super::bench_sharing::SharingArgs),
    /// Server time of every web UI page with a million indicators stored.
    Ui(super::bench_ui::UiArgs),
}

/// Arguments of `bench feed`.
#[derive(Debug, clap::Args)]
pub struct FeedArgs {
    /// Rows of the generated URLhaus-format CSV.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// Keep the generated CSV at this path (e.g. to run another tool on it).
    #[arg(long, value_name = "FILE")]
    keep: Option<std::path::PathBuf>,
}

/// Arguments of `bench extract`.
#[derive(Debug, clap::Args)]
pub struct ExtractArgs {
    /// Text to extract from, e.g. the 20 MB corpus of `../shared/ioc-corpus/gen_corpus.py`.
    file: std::path::PathBuf,
    /// Runs over the file; the best is reported.
    #[arg(long, default_value_t = 5)]
    rounds: u32,
}

/// Arguments of `bench ingest`.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Number of generated indicators.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// PostgreSQL URL to measure instead of SQLite (a fresh schema is made and dropped).
    #[arg(
        long,
        value_name = "URL",
        env = "REXIST_BENCH_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
    /// Also write the generated values to FILE, one per line, so that
    /// `rexist ingest file FILE` can be timed on exactly the same rows.
    #[arg(long, value_name = "FILE")]
    keep: Option<std::path::PathBuf>,
}

/// Runs a `bench` subcommand.
pub async fn run(_config: &Config, command: Command) -> Result<ExitCode> {
    match command {
        Command::Ingest(args) => ingest(args).await,
        Command::Extract(args) => extract(&args),
        Command::Feed(args) => feed(args).await,
        Command::Hunt(args) => super::bench_hunt::run(&args),
        Command::Lookup(args) => super::bench_lookup::run(args).await,
        Command::Taxii(args) => super::bench_exchange::run(args, true).await,
        Command::Otx(args) => super::bench_exchange::run(args, false).await,
        Command::Export(args) => super::bench_sharing::export(args).await,
        Command::TaxiiServer(args) => super::bench_sharing::taxii(args).await,
        Command::Ui(args) => super::bench_ui::run(args).await,
    }
}

/// A deterministic pseudo-random 64-bit value of `i` (splitmix64).
pub(super) fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The `i`-th generated indicator: a mix of IPv4, domains, URLs and SHA-256
/// digests, as a blocklist-heavy store holds them. Distinct for distinct `i`.
pub fn generated(i: u64) -> (IndicatorType, String) {
    match i % 20 {
        0..=7 => {
            // Counter bits spread over the address so every i is distinct.
            let a = i;
            let v = format!(
                "{}.{}.{}.{}",
                1 + (a >> 24) % 223,
                (a >> 16) & 255,
                (a >> 8) & 255,
                a & 255
            );
            (IndicatorType::Ipv4, v)
        }
        8..=12 => (
            IndicatorType::Domain,
            format!("h{:x}.bench-{}.example.com", i, i % 97),
        ),
        13..=16 => (
            IndicatorType::Url,
            format!("http://h{:x}.example.net/gate.php?id={}", i % 50_000, i),
        ),
        _ => {
            let mut hex = String::with_capacity(64);
            for k in 0..4 {
                let _ = write!(hex, "{:016x}", mix(i * 4 + k));
            }
            (IndicatorType::Sha256, hex)
        }
    }
}

fn generate_batches(rows: u64, tx: &mpsc::Sender<Vec<NewSighting>>) -> Result<()> {
    let seen_at = now();
    let mut start = 0;
    while start < rows {
        let end = (start + BATCH as u64).min(rows);
        let mut batch = Vec::with_capacity(BATCH);
        for i in start..end {
            let (kind, value) = generated(i);
            let indicator = Indicator::parse(kind, &value)
                .with_context(|| format!("generated {kind} {value}"))?;
            batch.push(NewSighting::new(indicator, seen_at));
        }
        if tx.blocking_send(batch).is_err() {
            break;
        }
        start = end;
    }
    Ok(())
}

pub(super) async fn pass(store: &Arc<dyn Store>, rows: u64) -> Result<(UpsertSummary, Duration)> {
    let source = ensure_source(store, "bench", "bench", None, None).await?;
    let (tx, mut rx) = mpsc::channel(4);
    let started = Instant::now();
    let producer = tokio::task::spawn_blocking(move || generate_batches(rows, &tx));
    let mut upserts = Upserts::new(
        rexist_pipeline::Ingest::new(Arc::clone(store), None),
        source,
    );
    while let Some(batch) = rx.recv().await {
        upserts.push(batch).await?;
    }
    let total = upserts.finish().await?;
    producer.await.context("generator task")??;
    Ok((total, started.elapsed()))
}

/// Formats `n` with thousands separators.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn per_second(rows: u64, elapsed: Duration) -> u64 {
    let secs = elapsed.as_secs_f64().max(1e-9);
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let rate = (rows as f64 / secs).round() as u64;
    rate
}

/// Peak resident set size of this process in KiB (Linux `VmHWM`).
pub fn peak_rss_kib() -> Option<u64> {
    #[allow(
        clippy::disallowed_methods,
        reason = "a kernel file of a few KiB, not an outside input"
    )]
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

async fn ingest(args: IngestArgs) -> Result<ExitCode> {
    if args.rows == 0 {
        bail!("--rows must be at least 1");
    }
    if let Some(path) = &args.keep {
        write_values(path, args.rows)?;
    }
    let bench = BenchStore::new(args.database_url.as_deref()).await?;
    let store = Arc::clone(&bench.store);
    let backend = store.backend().as_str();
    let result = async {
        let (first, t1) = pass(&store, args.rows).await?;
        if first.new != args.rows {
            bail!("expected {} new sightings, stored {}", args.rows, first.new);
        }
        say(format_args!(
            "{backend} new sightings: {}/s ({} rows in {:.2} s)",
            thousands(per_second(args.rows, t1)),
            thousands(args.rows),
            t1.as_secs_f64()
        ));
        if let Some(url) = &args.database_url {
            let t = copy_yardstick(url, args.rows).await?;
            #[allow(clippy::cast_precision_loss)] // rates far below 2^52
            let ratio = per_second(args.rows, t1) as f64 / per_second(args.rows, t).max(1) as f64;
            say(format_args!(
                "{backend} COPY + set-based upsert (yardstick): {}/s ({} rows in {:.2} s); rexist / yardstick = {ratio:.2}",
                thousands(per_second(args.rows, t)),
                thousands(args.rows),
                t.as_secs_f64()
            ));
        }
        let (second, t2) = pass(&store, args.rows).await?;
        if second.new != 0 || second.unchanged != args.rows {
            bail!(
                "re-ingest stored {} new sightings; expected none",
                second.new
            );
        }
        say(format_args!(
            "{backend} re-ingest: {}/s ({} rows in {:.2} s)",
            thousands(per_second(args.rows, t2)),
            thousands(args.rows),
            t2.as_secs_f64()
        ));
        Ok(())
    }
    .await;
    bench.finish().await;
    result?;
    if let Some(kib) = peak_rss_kib() {
        say(format_args!("peak rss: {} MiB", kib / 1024));
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the values `bench ingest` generates, one per line.
fn write_values(path: &std::path::Path, rows: u64) -> Result<()> {
    use std::io::Write;
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    for i in 0..rows {
        let (_, value) = generated(i);
        writeln!(w, "{value}")?;
    }
    w.flush()?;
    Ok(())
}

/// Times the PostgreSQL yardstick on the same rows, in a fresh schema of
/// its own on the same server: `COPY` into a temporary table and one
/// set-based upsert (`rexist_store::postgres::copy_upsert_yardstick`).
async fn copy_yardstick(url: &str, rows: u64) -> Result<Duration> {
    let bench = BenchStore::new(Some(url)).await?;
    let schema = bench.schema.as_ref().map(|(_, name)| name.clone());
    let result = async {
        let source = ensure_source(&bench.store, "bench", "bench", None, None).await?;
        let schema = schema.context("a PostgreSQL bench store has a schema")?;
        let started = Instant::now();
        rexist_store::postgres::copy_upsert_yardstick(url, &schema, source.id, rows, generated)
            .await?;
        Ok(started.elapsed())
    }
    .await;
    bench.finish().await;
    result
}

/// A fresh, migrated store for one benchmark: SQLite in a temporary
/// directory, or a new schema in the PostgreSQL database at `url`, dropped
/// by [`BenchStore::finish`].
pub(super) struct BenchStore {
    /// The store.
    pub store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    schema: Option<(String, String)>,
}

impl BenchStore {
    pub(super) async fn new(url: Option<&str>) -> Result<Self> {
        static SERIAL: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let bench = if let Some(url) = url {
            // One process may make several (the yardstick beside the store).
            let n = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let name = match n {
                0 => format!("rexist_bench_{}", std::process::id()),
                n => format!("rexist_bench_{}_{n}", std::process::id()),
            };
            let store = PgStore::connect(url, Some(&name)).await?;
            Self {
                store: Arc::new(store),
                _dir: None,
                schema: Some((url.to_owned(), name)),
            }
        } else {
            let dir = tempfile::tempdir().context("temporary data directory")?;
            let store = SqliteStore::open(&dir.path().join("rexist.db")).await?;
            Self {
                store: Arc::new(store),
                _dir: Some(dir),
                schema: None,
            }
        };
        bench.store.migrate().await?;
        Ok(bench)
    }

    /// Runs `measure` on a fresh store (PostgreSQL at `url`, else SQLite in
    /// a temporary directory) and cleans the store up whatever the outcome.
    pub(super) async fn measure<F>(
        url: Option<&str>,
        measure: impl FnOnce(Arc<dyn Store>) -> F,
    ) -> Result<ExitCode>
    where
        F: std::future::Future<Output = Result<()>>,
    {
        let bench = Self::new(url).await?;
        let result = measure(Arc::clone(&bench.store)).await;
        bench.finish().await;
        result?;
        Ok(ExitCode::SUCCESS)
    }

    /// Drops the PostgreSQL schema, if any; a failure is reported, not fatal.
    pub(super) async fn finish(self) {
        if let Some((url, name)) = &self.schema {
            if let Err(e) = drop_schema(url, name).await {
                eprintln!("rexist: could not drop benchmark schema {name}: {e}");
            }
        }
    }
}

/// Writes `rows` URLhaus `csv_recent` rows, banner and commented header included.
fn write_urlhaus_csv(path: &std::path::Path, rows: u64) -> Result<()> {
    use std::io::Write;
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    writeln!(
        w,
        "################################################################"
    )?;
    writeln!(
        w,
        "# abuse.ch URLhaus Database Dump (CSV - recent URLs only)      #"
    )?;
    writeln!(w, "#")?;
    writeln!(
        w,
        "# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter"
    )?;
    for i in 0..rows {
        let id = 3_000_000 + i;
        writeln!(
            w,
            "\"{id}\",\"2025-01-03 12:05:20\",\"http://h{:x}.bench-{}.example.com:8080/bins/{}.sh\",\"online\",\"2025-01-03 12:05:20\",\"malware_download\",\"32-bit,elf,mips,Mozi\",\"https://urlhaus.abuse.ch/url/{id}/\",\"reporter_{}\"",
            mix(i) >> 40,
            i % 997,
            i,
            i % 53
        )?;
    }
    w.flush()?;
    Ok(())
}

/// `bench feed`: rows per second of a URLhaus-format CSV through the same
/// path as `ingest file` and a configured CSV source, into a fresh SQLite store.
async fn feed(args: FeedArgs) -> Result<ExitCode> {
    if args.rows == 0 {
        bail!("--rows must be at least 1");
    }
    let dir = tempfile::tempdir().context("temporary data directory")?;
    let csv = args
        .keep
        .clone()
        .unwrap_or_else(|| dir.path().join("urlhaus.csv"));
    write_urlhaus_csv(&csv, args.rows)?;
    let size = std::fs::metadata(&csv).map_or(0, |m| m.len());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("rexist.db")).await?);
    store.migrate().await?;
    let source = ensure_source(&store, "urlhaus", "urlhaus", None, None).await?;
    let format = rexist_connectors::feed::FeedFormat {
        kind: Some(rexist_core::IndicatorType::Url),
        ..rexist_connectors::feed::FeedFormat::new(rexist_connectors::feed::Layout::Header(
            "url".to_owned(),
        ))
    };
    let input =
        std::fs::File::open(&csv).with_context(|| format!("cannot open {}", csv.display()))?;
    let started = Instant::now();
    let ingest = rexist_pipeline::Ingest::new(Arc::clone(&store), None);
    let (loaded, _) = super::ingest::load(
        &ingest,
        &source,
        Box::new(input),
        format,
        vec!["malware_download".to_owned()],
        &indicatif::ProgressBar::hidden(),
        "bench",
        &rexist_pipeline::liveness::Progress::default(),
    )
    .await;
    let elapsed = started.elapsed();
    if let Some(e) = loaded.failure {
        bail!("bench feed failed: {e}");
    }
    if loaded.counts.new != args.rows {
        bail!(
            "expected {} new sightings, stored {} ({} rejected)",
            args.rows,
            loaded.counts.new,
            loaded.counts.rejected
        );
    }
    say(format_args!(
        "urlhaus csv: {}/s ({} rows, {:.0} MB, in {:.2} s)",
        thousands(per_second(args.rows, elapsed)),
        thousands(args.rows),
        mb_per_s(
            usize::try_from(size).unwrap_or(usize::MAX),
            Duration::from_secs(1)
        ),
        elapsed.as_secs_f64()
    ));
    if let Some(kib) = peak_rss_kib() {
        say(format_args!("peak rss: {} MiB", kib / 1024));
    }
    Ok(ExitCode::SUCCESS)
}

/// Best time of `rounds` extractions of `text`, and the number of matches.
fn time_extract(text: &str, rounds: u32) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut found = 0;
    for _ in 0..rounds.max(1) {
        let started = Instant::now();
        found = std::hint::black_box(rexist_extract::extract(text)).len();
        best = best.min(started.elapsed());
    }
    (best, found)
}

fn mb_per_s(bytes: usize, t: Duration) -> f64 {
    #[allow(clippy::cast_precision_loss)] // sizes far below 2^52
    let mb = bytes as f64 / 1e6;
    mb / t.as_secs_f64().max(1e-9)
}

/// `bench extract`: MB/s (10^6 bytes) on the file, I/O excluded, then on
/// 1 MB and 10 MB adversarial lines: equal speed at both sizes shows linear time.
fn extract(args: &ExtractArgs) -> Result<ExitCode> {
    let raw = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let text = String::from_utf8_lossy(&raw);
    let (t, found) = time_extract(&text, args.rounds);
    say(format_args!(
        "extract: {:.0} MB/s ({:.1} MB, {} indicators, best of {} in {:.3} s)",
        mb_per_s(text.len(), t),
        mb_per_s(text.len(), Duration::from_secs(1)),
        thousands(found as u64),
        args.rounds,
        t.as_secs_f64()
    ));
    for (name, unit) in [
        ("dots", "."),
        ("brackets", "["),
        ("hex digits", "a1"),
        ("a.a.a.", "a."),
        ("a[.]a[.]", "a[.]"),
    ] {
        let small = unit.repeat(1_000_000 / unit.len());
        let large = unit.repeat(10_000_000 / unit.len());
        let (ts, _) = time_extract(&small, 3);
        let (tl, _) = time_extract(&large, 3);
        say(format_args!(
            "adversarial {name}: 1 MB line {:.0} MB/s, 10 MB line {:.0} MB/s",
            mb_per_s(small.len(), ts),
            mb_per_s(large.len(), tl)
        ));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_are_valid_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..20_000 {
            let (kind, value) = generated(i);
            let parsed = Indicator::parse(kind, &value).unwrap_or_else(|e| panic!("{i}: {e}"));
            assert_eq!(parsed.value(), value, "generated values are canonical");
            assert!(seen.insert((kind, value)), "{i} repeats");
        }
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
