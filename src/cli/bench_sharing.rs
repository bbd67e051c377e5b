//! `rexist bench export` and `rexist bench taxii-server`: what consumers of
//! rexist's intelligence see. Both load generated indicators into a fresh
//! store (SQLite, or PostgreSQL with `--database-url`), serve the real router
//! on loopback with an API token, and fetch over HTTP the way a firewall or
//! a TAXII client does.
//!
//! - `export`: `GET /export/edl` of a store of `--indicators` (default
//!   1,176,471, which gives 1,000,000 list entries: the rest are file
//!   hashes), timed end to end; plus the same render without HTTP, and an
//!   unchanged list answered `304` to `If-None-Match`.
//! - `taxii-server`: a full pull of a `--indicators` collection (default
//!   100,000) with `limit=--page` (default 1,000), following `next` to the
//!   end, counting STIX objects.

// Figures for people: counts far below 2^52 print exactly enough as f64.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::naive_bytecount
)]

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rexist_core::Role;
use rexist_server::admin::{TokenRequest, issue_token};
use rexist_server::export::{ExportConfig, render_to};
use rexist_server::{AppState, router};
use rexist_store::Store;

use super::bench::{BenchStore, pass, thousands};
use super::say;

/// Arguments of `bench export` and `bench taxii-server`.
#[derive(Debug, clap::Args)]
pub struct SharingArgs {
    /// Indicators stored (default: 1,000,000 for export, 100,000 for taxii-server).
    #[arg(long)]
    indicators: Option<u64>,
    /// Objects per TAXII page.
    #[arg(long, default_value_t = 1000)]
    page: u32,
    /// Timed repetitions; the best is reported.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// PostgreSQL URL to measure instead of SQLite (a fresh schema is made and dropped).
    #[arg(
        long,
        value_name = "URL",
        env = "REXIST_BENCH_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
}

fn edl() -> Result<rexist_server::export::ExportSpec> {
    ExportConfig::new("edl", "edl")
        .validate()
        .map_err(anyhow::Error::msg)
}

/// Serves the router on loopback; returns the base URL and an admin token.
async fn serve(store: &Arc<dyn Store>) -> Result<(String, String)> {
    let (_, token) = issue_token(
        store.as_ref(),
        &TokenRequest {
            name: format!("bench-{}", std::process::id()),
            role: Role::Admin,
            scopes: Vec::new(),
            expires_days: Some(1),
        },
    )
    .await?;
    let app = router(AppState::new(Arc::clone(store)).with_exports(vec![edl()?]));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    Ok((base, token))
}

fn client() -> Result<reqwest::Client> {
    // One process-wide TLS provider, as the fetcher installs it (plain HTTP
    // here, but reqwest insists).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(600))
        .build()
        .context("HTTP client")
}

/// Runs `bench export`.
pub async fn export(args: SharingArgs) -> Result<ExitCode> {
    // 15 in 20 generated indicators are addresses, domains or URLs (the
    // rest are file hashes, which no firewall list carries): store enough
    // for a million list entries.
    let n = args.indicators.unwrap_or(1_000_000 * 20 / 17 + 1);
    let rounds = args.rounds.max(1);
    BenchStore::measure(args.database_url.as_deref(), |store| async move {
        measure_export(&store, n, rounds).await
    })
    .await
}

async fn measure_export(store: &Arc<dyn Store>, n: u64, rounds: u32) -> Result<()> {
    let backend = store.backend().as_str();
    pass(store, n).await?;
    let spec = edl()?;
    let mut best_render = Duration::MAX;
    let (mut entries, mut skipped) = (0, 0);
    for _ in 0..rounds {
        let started = Instant::now();
        let (_, r) = render_to(
            store.as_ref(),
            &spec,
            rexist_core::Tlp::Red,
            std::io::sink(),
        )
        .await?;
        best_render = best_render.min(started.elapsed());
        (entries, skipped) = (r.written, r.skipped);
    }
    // File hashes are in the store too; an EDL carries addresses, domains and URLs.
    if entries + skipped != n {
        bail!(
            "the export read {} indicators, expected {n}",
            entries + skipped
        );
    }
    let (base, token) = serve(store).await?;
    let http = client()?;
    let (mut best_http, mut best_304) = (Duration::MAX, Duration::MAX);
    let mut lines = 0;
    for _ in 0..rounds {
        let started = Instant::now();
        let res = http
            .get(format!("{base}/export/edl"))
            .bearer_auth(&token)
            .send()
            .await?
            .error_for_status()?;
        let etag = res
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .context("no ETag")?;
        let body = res.bytes().await?;
        best_http = best_http.min(started.elapsed());
        lines = body.iter().filter(|b| **b == b'\n').count() as u64;
        let started = Instant::now();
        let res = http
            .get(format!("{base}/export/edl"))
            .bearer_auth(&token)
            .header("if-none-match", etag)
            .send()
            .await?;
        if res.status() != reqwest::StatusCode::NOT_MODIFIED {
            bail!("If-None-Match with the current ETag gave {}", res.status());
        }
        best_304 = best_304.min(started.elapsed());
    }
    if lines != entries {
        bail!("GET /export/edl returned {lines} lines, expected {entries}");
    }
    say(format_args!(
        "export edl, {backend}, {} stored, {} entries: render {:.3} s; GET /export/edl {:.3} s ({} entries/s); unchanged (304) {:.3} s",
        thousands(n),
        thousands(entries),
        best_render.as_secs_f64(),
        best_http.as_secs_f64(),
        thousands((entries as f64 / best_http.as_secs_f64()) as u64),
        best_304.as_secs_f64(),
    ));
    Ok(())
}

/// Runs `bench taxii-server`.
pub async fn taxii(args: SharingArgs) -> Result<ExitCode> {
    let n = args.indicators.unwrap_or(100_000);
    let (page, rounds) = (args.page, args.rounds.max(1));
    BenchStore::measure(args.database_url.as_deref(), |store| async move {
        measure_taxii(&store, n, page, rounds).await
    })
    .await
}

async fn measure_taxii(store: &Arc<dyn Store>, n: u64, page: u32, rounds: u32) -> Result<()> {
    let backend = store.backend().as_str();
    pass(store, n).await?;
    let (base, token) = serve(store).await?;
    let http = client()?;
    let accept = "application/taxii+json;version=2.1";
    let collections = http
        .get(format!("{base}/taxii2/api/collections/"))
        .bearer_auth(&token)
        .header("accept", accept)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let collections: serde_json::Value = serde_json::from_slice(&collections)?;
    let id = collections["collections"][0]["id"]
        .as_str()
        .context("no TAXII collection")?
        .to_owned();
    let mut best = Duration::MAX;
    let (mut objects, mut pages, mut indicators) = (0u64, 0u64, 0u64);
    for _ in 0..rounds {
        (objects, pages, indicators) = (0, 0, 0);
        let started = Instant::now();
        let mut next: Option<String> = None;
        loop {
            let mut url = format!("{base}/taxii2/api/collections/{id}/objects/?limit={page}");
            if let Some(n) = &next {
                url.push_str("&next=");
                url.push_str(n);
            }
            let envelope = http
                .get(url)
                .bearer_auth(&token)
                .header("accept", accept)
                .send()
                .await?
                .error_for_status()?
                .bytes()
                .await?;
            let envelope: serde_json::Value = serde_json::from_slice(&envelope)?;
            pages += 1;
            let list = envelope["objects"]
                .as_array()
                .map_or(&[][..], Vec::as_slice);
            objects += list.len() as u64;
            indicators += list.iter().filter(|o| o["type"] == "indicator").count() as u64;
            match envelope["next"].as_str() {
                Some(n) if envelope["more"] == true => next = Some(n.to_owned()),
                _ => break,
            }
        }
        best = best.min(started.elapsed());
    }
    if indicators != n {
        bail!("the pull returned {indicators} indicator objects, expected {n}");
    }
    say(format_args!(
        "taxii-server, {backend}, {} indicators: {} objects in {} pages of limit {page} in {:.2} s = {} objects/s",
        thousands(n),
        thousands(objects),
        thousands(pages),
        best.as_secs_f64(),
        thousands((objects as f64 / best.as_secs_f64()) as u64),
    ));
    Ok(())
}
