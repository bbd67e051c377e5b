//! `rexist bench lookup`: lookup latency with a million indicators stored.
//!
//! Loads `--indicators` generated indicators (IPv4, domains, URLs, SHA-256)
//! into a fresh store, plus 10,000 items that mention some of them (so
//! answers carry items and related indicators), then times `--single`
//! single lookups of random stored values (local knowledge: sources, items,
//! related indicators, hunts, warning lists, score) and `--bulk` bulk
//! lookups of 1,000 mixed values (stored, unknown, defanged, invalid).

// Figures for people: counts far below 2^52 print exactly enough as f64.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use rexist_core::{Indicator, ItemKind, Mention, NewItem, Tlp};
use rexist_lookup::{Lifetimes, Lookup, Options};
use rexist_store::Store;

use super::bench::{BenchStore, generated, mix, pass, thousands};
use super::ingest::ensure_source;
use super::say;

/// Arguments of `bench lookup`.
#[derive(Debug, clap::Args)]
pub struct LookupArgs {
    /// Indicators stored before measuring.
    #[arg(long, default_value_t = 1_000_000)]
    indicators: u64,
    /// Single lookups timed.
    #[arg(long, default_value_t = 10_000)]
    single: u32,
    /// Bulk lookups of 1,000 values timed.
    #[arg(long, default_value_t = 50)]
    bulk: u32,
    /// PostgreSQL URL to measure instead of SQLite (a fresh schema is made and dropped).
    #[arg(
        long,
        value_name = "URL",
        env = "REXIST_BENCH_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs `bench lookup`.
pub async fn run(args: LookupArgs) -> Result<ExitCode> {
    if args.indicators < 10_000 || args.single == 0 || args.bulk == 0 {
        bail!("--indicators must be at least 10000, --single and --bulk at least 1");
    }
    let url = args.database_url.clone();
    BenchStore::measure(url.as_deref(), |store| async move {
        measure(&store, &args).await
    })
    .await
}

async fn measure(store: &Arc<dyn Store>, args: &LookupArgs) -> Result<()> {
    let backend = store.backend().as_str();
    let started = Instant::now();
    pass(store, args.indicators).await?;
    seed_items(store, args.indicators).await?;
    say(format_args!(
        "{backend}: stored {} indicators and 10,000 items in {:.1} s",
        thousands(args.indicators),
        started.elapsed().as_secs_f64()
    ));
    let lists = rexist_warnlist::WarningLists::bundled().clone();
    let lookup = Lookup::new(
        Arc::clone(store),
        Some(Arc::new(lists)),
        None,
        Lifetimes::default(),
    );
    let options = Options::default();
    // Warm the connection pool and caches as a running server has them.
    for i in 0..100u64 {
        let (_, v) = generated(mix(i) % args.indicators);
        lookup.one(&v, &options).await?;
    }
    let mut times = Vec::with_capacity(args.single as usize);
    let (mut known, mut with_items) = (0u32, 0u32);
    for i in 0..u64::from(args.single) {
        let (_, v) = generated(mix(i + 1_000_000) % args.indicators);
        let t = Instant::now();
        let a = lookup.one(&v, &options).await?;
        times.push(t.elapsed());
        known += u32::from(a.known);
        with_items += u32::from(!a.items.is_empty());
    }
    if known != args.single {
        bail!(
            "{} of {} stored values were not found",
            args.single - known,
            args.single
        );
    }
    times.sort_unstable();
    say(format_args!(
        "{backend} single lookup: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({} lookups, {} with items)",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(*times.last().unwrap_or(&Duration::ZERO)),
        thousands(u64::from(args.single)),
        thousands(u64::from(with_items))
    ));
    let mut bulk_times = Vec::with_capacity(args.bulk as usize);
    for b in 0..u64::from(args.bulk) {
        let values: Vec<String> = (0..1000u64)
            .map(|k| {
                let r = mix(b * 1000 + k + 7_000_000);
                match k % 10 {
                    0..=5 => generated(r % args.indicators).1,
                    6 => format!("unknown-{r:x}.example.net"),
                    7 => format!("203.0.113.{}", r % 256),
                    8 => generated(r % args.indicators).1.replace('.', "[.]"),
                    _ => format!("not an indicator {r}"),
                }
            })
            .collect();
        let t = Instant::now();
        let answers = lookup.bulk(&values, None).await?;
        bulk_times.push(t.elapsed());
        if answers.len() != values.len() {
            bail!("bulk lookup answered {} of {}", answers.len(), values.len());
        }
    }
    bulk_times.sort_unstable();
    say(format_args!(
        "{backend} bulk lookup of 1,000 values: p50 {:.1} ms, max {:.1} ms ({} lookups)",
        ms(percentile(&bulk_times, 0.5)),
        ms(*bulk_times.last().unwrap_or(&Duration::ZERO)),
        args.bulk
    ));
    Ok(())
}

/// 10,000 news items mentioning stored indicators, five each, so lookups
/// and pages find items and related indicators as in a real store.
pub(super) async fn seed_items(store: &Arc<dyn Store>, indicators: u64) -> Result<()> {
    let news = ensure_source(store, "bench-news", "rss", Some(Tlp::Clear), Some(60)).await?;
    for chunk in 0..20u64 {
        let items: Vec<NewItem> = (0..500u64)
            .map(|j| {
                let i = chunk * 500 + j;
                NewItem {
                    kind: ItemKind::News,
                    external_id: format!("bench-{i}"),
                    title: format!("Campaign report {i}"),
                    body: format!("Indicators of campaign {i} follow."),
                    url: None,
                    lang: Some("en".to_owned()),
                    published_at: None,
                    tlp: Tlp::Clear,
                    tags: Vec::new(),
                    extra: serde_json::Value::Null,
                }
            })
            .collect();
        let changes = store.upsert_items(news.id, &items).await?;
        for (j, change) in changes.iter().enumerate() {
            let i = chunk * 500 + j as u64;
            let mentions: Vec<Mention> = (0..5u64)
                .filter_map(|k| {
                    let (kind, value) = generated(mix(i * 5 + k) % indicators);
                    Some(Mention {
                        indicator: Indicator::parse(kind, &value).ok()?,
                        start: 0,
                        end: 1,
                        defanged: false,
                    })
                })
                .collect();
            store.record_mentions(&news, change.id(), &mentions).await?;
        }
    }
    Ok(())
}
