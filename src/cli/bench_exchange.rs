//! `rexist bench taxii` and `rexist bench otx`: a collection or a pulse feed
//! of generated indicators served on loopback, pulled through the real
//! source kind (paging, parsing, storing) into a fresh SQLite store.

// Figures for people: counts far below 2^52 print exactly enough as f64.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use rexist_connectors::http::{FetchOptions, Fetcher};
use rexist_connectors::source::SourceConfig;

use super::bench::{BenchStore, thousands};
use super::say;

/// Arguments of `bench taxii` and `bench otx`.
#[derive(Debug, clap::Args)]
pub struct ExchangeArgs {
    /// Indicators in the collection or feed.
    #[arg(long, default_value_t = 100_000)]
    indicators: u64,
    /// Objects (TAXII) or indicators per pulse (OTX) per page.
    #[arg(long, default_value_t = 1000)]
    page: u64,
}

fn ip(i: u64) -> String {
    format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255)
}

/// Page `n` of the TAXII envelope: `per` indicator objects.
fn taxii_page(n: u64, per: u64, total: u64) -> String {
    let first = n * per;
    let last = (first + per).min(total);
    let mut out = String::from("{\"objects\":[");
    for i in first..last {
        if i > first {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"indicator--00000000-0000-4000-8000-{i:012}\",\"created\":\"2025-01-02T00:00:00.000Z\",\"modified\":\"2025-01-02T00:00:00.000Z\",\"name\":\"C2 {i}\",\"indicator_types\":[\"malicious-activity\"],\"pattern\":\"[ipv4-addr:value = '{}']\",\"pattern_type\":\"stix\",\"valid_from\":\"2025-01-02T00:00:00Z\"}}",
            ip(i)
        );
    }
    let more = last < total;
    out.push(']');
    if more {
        let _ = write!(out, ",\"more\":true,\"next\":\"{}\"", n + 1);
    } else {
        out.push_str(",\"more\":false");
    }
    out.push('}');
    out
}

/// Page `n` of OTX subscribed pulses: one pulse of `per` indicators.
fn otx_page(base: &str, n: u64, per: u64, total: u64) -> String {
    let first = n * per;
    let last = (first + per).min(total);
    let mut out = format!(
        "{{\"count\":{},\"results\":[{{\"id\":\"{n:024x}\",\"name\":\"Pulse {n}\",\"description\":\"generated\",\"author_name\":\"bench\",\"modified\":\"2025-01-03T05:05:14.000000\",\"created\":\"2025-01-02T09:10:11.000000\",\"tlp\":\"green\",\"tags\":[\"bench\"],\"references\":[],\"malware_families\":[],\"attack_ids\":[],\"industries\":[],\"targeted_countries\":[],\"indicators\":[",
        total.div_ceil(per)
    );
    for i in first..last {
        if i > first {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"id\":{i},\"indicator\":\"{}\",\"type\":\"IPv4\",\"created\":\"2025-01-02T09:10:11\",\"title\":\"\",\"description\":\"\",\"is_active\":1}}",
            ip(i)
        );
    }
    out.push_str("]}]");
    if last < total {
        let _ = write!(
            out,
            ",\"next\":\"{base}/api/v1/pulses/subscribed?page={}\"",
            n + 1
        );
    } else {
        out.push_str(",\"next\":null");
    }
    out.push('}');
    out
}

#[derive(Clone)]
struct Served {
    base: String,
    per: u64,
    total: u64,
}

async fn serve(routes: axum::Router<Served>, per: u64, total: u64) -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let state = Served {
        base: base.clone(),
        per,
        total,
    };
    tokio::spawn(async move { axum::serve(listener, routes.with_state(state)).await });
    Ok(base)
}

fn json(body: String, taxii: bool) -> impl IntoResponse {
    let kind = if taxii {
        "application/taxii+json;version=2.1"
    } else {
        "application/json"
    };
    ([(header::CONTENT_TYPE, kind)], body)
}

fn page_of(q: &std::collections::HashMap<String, String>, key: &str) -> u64 {
    q.get(key).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Runs `bench taxii` (`taxii = true`) or `bench otx`.
pub async fn run(args: ExchangeArgs, taxii: bool) -> Result<ExitCode> {
    if args.indicators == 0 || args.page == 0 {
        bail!("--indicators and --page must be at least 1");
    }
    let routes = if taxii {
        axum::Router::new()
            .route(
                "/taxii2/",
                get(|State(s): State<Served>| async move {
                    json(format!("{{\"title\":\"bench\",\"default\":\"{}/api1/\",\"api_roots\":[\"{}/api1/\"]}}", s.base, s.base), true)
                }),
            )
            .route(
                "/api1/collections/",
                get(|| async {
                    json("{\"collections\":[{\"id\":\"bench\",\"title\":\"bench\",\"can_read\":true,\"can_write\":false}]}".to_owned(), true)
                }),
            )
            .route(
                "/api1/collections/bench/objects/",
                get(
                    |State(s): State<Served>, Query(q): Query<std::collections::HashMap<String, String>>| async move {
                        json(taxii_page(page_of(&q, "next"), s.per, s.total), true)
                    },
                ),
            )
    } else {
        axum::Router::new().route(
            "/api/v1/pulses/subscribed",
            get(
                |State(s): State<Served>,
                 Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    json(
                        otx_page(&s.base, page_of(&q, "page"), s.per, s.total),
                        false,
                    )
                },
            ),
        )
    };
    let base = serve(routes, args.page, args.indicators).await?;
    let table = if taxii {
        format!(
            "name = \"bench\"\nkind = \"taxii\"\nurl = \"{base}/taxii2/\"\ncollection = \"bench\"\npage_size = {}\n",
            args.page
        )
    } else {
        format!("name = \"bench\"\nkind = \"otx\"\nurl = \"{base}\"\n")
    };
    let source = toml::from_str::<SourceConfig>(&table)
        .context("bench source")?
        .resolve()?;
    let bench = BenchStore::new(None).await?;
    let fetcher = Fetcher::new(FetchOptions::default())?;
    let started = Instant::now();
    let ingest = rexist_pipeline::Ingest::new(std::sync::Arc::clone(&bench.store), None);
    let run = rexist_pipeline::run_source(&ingest, &fetcher, &source).await;
    let elapsed = started.elapsed().as_secs_f64();
    bench.finish().await;
    let run = run?;
    if let Some(e) = &run.error {
        bail!("the run failed: {e}");
    }
    let what = if taxii {
        "taxii objects"
    } else {
        "otx indicators"
    };
    say(format_args!(
        "{what}: {}/s ({} in {elapsed:.2} s; {} new, {} fetched bytes)",
        thousands((args.indicators as f64 / elapsed) as u64),
        thousands(args.indicators),
        thousands(run.counts.new),
        thousands(run.counts.fetched)
    ));
    Ok(ExitCode::SUCCESS)
}
