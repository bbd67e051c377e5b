//! `rexist bench ui`: server time of every page of the web UI with
//! `--indicators` (default 1,000,000) stored, plus 10,000 items mentioning
//! them, hunts and hits. Each page is rendered `--rounds` times through the
//! real router in process (authentication included, no network), and its
//! p50 and max are reported; the target is under 100 ms for every page.

// Figures for people: counts far below 2^52 print exactly enough as f64.
#![allow(clippy::cast_precision_loss)]

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use axum::body::Body;
use axum::http::Request;
use rexist_core::{HuntKind, HuntSpec, Role};
use rexist_server::admin::{TokenRequest, issue_token};
use rexist_server::{AppState, router};
use rexist_store::Store;
use tower::ServiceExt;

use super::bench::{BenchStore, generated, mix, pass, thousands};
use super::say;

/// Arguments of `bench ui`.
#[derive(Debug, clap::Args)]
pub struct UiArgs {
    /// Indicators stored before measuring.
    #[arg(long, default_value_t = 1_000_000)]
    indicators: u64,
    /// Renders of each page timed.
    #[arg(long, default_value_t = 20)]
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

/// Runs `bench ui`.
pub async fn run(args: UiArgs) -> Result<ExitCode> {
    if args.indicators < 10_000 || args.rounds == 0 {
        bail!("--indicators must be at least 10000 and --rounds at least 1");
    }
    let url = args.database_url.clone();
    BenchStore::measure(url.as_deref(), |store| async move {
        measure(&store, &args).await
    })
    .await
}

async fn measure(store: &Arc<dyn Store>, args: &UiArgs) -> Result<()> {
    let backend = store.backend().as_str();
    let started = Instant::now();
    pass(store, args.indicators).await?;
    super::bench_lookup::seed_items(store, args.indicators).await?;
    for (name, query) in [
        ("emotet", "emotet, ransomware"),
        ("campaign", "\"Campaign report\""),
    ] {
        store
            .create_hunt(&HuntSpec {
                name: name.to_owned(),
                kind: HuntKind::Query,
                definition: query.to_owned(),
                enabled: true,
                channels: Vec::new(),
                digest_secs: None,
                tlp: rexist_core::HuntSpec::DEFAULT_TLP,
            })
            .await?;
    }
    say(format_args!(
        "{backend}: stored {} indicators, 10,000 items and 2 hunts in {:.1} s",
        thousands(args.indicators),
        started.elapsed().as_secs_f64()
    ));
    let (_, token) = issue_token(
        store.as_ref(),
        &TokenRequest {
            name: "bench-ui".to_owned(),
            role: Role::Admin,
            scopes: Vec::new(),
            expires_days: Some(1),
        },
    )
    .await?;
    let app = router(AppState::new(Arc::clone(store)));
    let (kind, value) = generated(mix(7) % args.indicators);
    let pages = [
        "/".to_owned(),
        "/search?q=campaign".to_owned(),
        format!("/search?q={}", &value[..value.len().min(6)]),
        format!("/indicators/{kind}/{}", rexist_server::url_encode(&value)),
        "/items/5000".to_owned(),
        "/hunts".to_owned(),
        "/hunts/campaign".to_owned(),
        "/sources".to_owned(),
        "/sources/bench".to_owned(),
        "/exports".to_owned(),
        "/admin".to_owned(),
        "/login".to_owned(),
    ];
    let mut worst = Duration::ZERO;
    for page in &pages {
        let mut times = Vec::with_capacity(args.rounds as usize);
        let mut status = 0;
        for _ in 0..=args.rounds {
            let req = Request::get(page.as_str())
                .header("authorization", format!("Bearer {token}"))
                .header("accept", "text/html")
                .body(Body::empty())?;
            let t = Instant::now();
            let res = app.clone().oneshot(req).await?;
            status = res.status().as_u16();
            let body = axum::body::to_bytes(res.into_body(), 64 << 20).await?;
            times.push(t.elapsed());
            std::hint::black_box(body);
        }
        // The first render warms caches, as a running server has them (the
        // dashboard's store-wide counts are then recounted in the background).
        let first = times.remove(0);
        times.sort_unstable();
        let p50 = times[times.len() / 2];
        let max = *times.last().unwrap_or(&Duration::ZERO);
        worst = worst.max(max);
        say(format_args!(
            "  {page:<40} {status}  p50 {:>7.2} ms  max {:>7.2} ms  (first {:>7.2} ms)",
            p50.as_secs_f64() * 1000.0,
            max.as_secs_f64() * 1000.0,
            first.as_secs_f64() * 1000.0
        ));
        if !(200..400).contains(&status) {
            bail!("{page} answered {status}");
        }
    }
    say(format_args!(
        "ui, {backend}, {} indicators: slowest page render {:.1} ms (target < 100 ms)",
        thousands(args.indicators),
        worst.as_secs_f64() * 1000.0
    ));
    Ok(())
}
