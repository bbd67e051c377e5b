//! `rexist serve`: the HTTP server, until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use rexist_connectors::http::{FetchOptions, Fetcher};
use rexist_pipeline::alerts::{Dispatcher, unknown_channels};
use rexist_pipeline::scheduler::{self, SchedulerOptions};
use rexist_server::{AppState, router};
use tokio::sync::watch;

use super::say;
use crate::config::Config;

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on [default: 127.0.0.1:8080; env `REXIST_LISTEN`]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
}

/// Opens the store, registers the sources, binds, and serves and collects
/// until a shutdown signal.
pub async fn run(config: &Config, _args: Args) -> Result<ExitCode> {
    let store = super::open_store(config).await?;
    if let Some(file) = rexist_server::first_admin::ensure(store.as_ref(), &config.data_dir)
        .await
        .context("creating the first admin")?
    {
        say(format_args!(
            "first start: created user {} (role admin); its password is in {} (deleted when you change it)",
            rexist_server::first_admin::USER,
            file.display()
        ));
    }
    let sources = config.resolved_sources()?;
    rexist_pipeline::sync_sources(&store, &sources)
        .await
        .context("registering sources")?;
    let listen = config.server.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr().context("listener address")?;
    tracing::info!(addr = %local, backend = store.backend().as_str(), data_dir = %config.data_dir.display(), sources = sources.len(), "rexist serving");
    say(format_args!("rexist listening on http://{local}"));

    let schedules = sources.iter().map(|s| (s.name.clone(), s.every)).collect();
    let fetcher = Arc::new(Fetcher::new(FetchOptions::default()).context("HTTP client")?);
    let (stop, stopped) = watch::channel(false);
    let dispatcher = Arc::new(Dispatcher::new(
        Arc::clone(&store),
        config.channels()?,
        config.dispatch_options()?,
    ));
    let known = dispatcher.channel_names();
    for (_, hunt, channel) in unknown_channels(&store, &known).await? {
        tracing::warn!(%hunt, %channel, "hunt alerts a channel that is not configured: its alerts wait");
    }
    let alerts = tokio::spawn(Arc::clone(&dispatcher).run(stopped.clone()));
    let lookup = config.lookup(Arc::clone(&store))?;
    let sweep = tokio::spawn(expiry_sweep(
        Arc::clone(&store),
        lookup.lifetimes().all(),
        config.auth.audit_retention(),
        stopped.clone(),
    ));
    let ingest = super::open_ingest(config, &store);
    let scheduler = tokio::spawn(scheduler::run(
        Arc::clone(&ingest),
        fetcher,
        sources,
        SchedulerOptions::default(),
        stopped,
    ));
    let exports = config.export_specs()?;
    let taxii = config.taxii_config()?;
    axum::serve(
        listener,
        router(
            AppState::new(Arc::clone(&store))
                .with_origin(config.server.public_url.as_deref(), Some(local))
                .map_err(|e| anyhow::anyhow!("server.public_url: {e}"))?
                .with_data_dir(config.data_dir.clone())
                .with_ingest(ingest)
                .with_auth(config.auth.clone())
                .with_exports(exports)
                .with_notifiers(config.channels()?, config.alerts_base_url())
                .with_taxii(taxii)
                .with_schedules(schedules)
                .with_channels(known.iter().map(|c| (*c).to_owned()).collect())
                .with_lookup(lookup),
        )
        .into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await
    .context("server failed")?;
    let _ = stop.send(true);
    // A run in progress finishes its batch; past this, its job's lease expires and it runs again.
    if tokio::time::timeout(Duration::from_secs(30), scheduler)
        .await
        .is_err()
    {
        tracing::warn!("scheduler did not stop within 30 s");
    }
    if tokio::time::timeout(Duration::from_secs(10), alerts)
        .await
        .is_err()
    {
        tracing::warn!("alert dispatcher did not stop within 10 s");
    }
    sweep.abort();
    tracing::info!("rexist stopped");
    Ok(ExitCode::SUCCESS)
}

/// Marks indicators past their lifetime as expired, at start and hourly.
async fn expiry_sweep(
    store: Arc<dyn rexist_store::Store>,
    lifetimes: Vec<(rexist_core::IndicatorType, Duration)>,
    audit_retention: Option<Duration>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        match store.expire_indicators(&lifetimes).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "indicators past their lifetime marked expired"),
            Err(e) => tracing::warn!(error = %e, "expiry sweep failed"),
        }
        match store.retire_expired(rexist_core::model::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                retired = n,
                "sightings past their upstream validity retired"
            ),
            Err(e) => tracing::warn!(error = %e, "retiring expired sightings failed"),
        }
        if let Some(keep) = audit_retention {
            let before = rexist_core::model::now()
                - time::Duration::try_from(keep).unwrap_or(time::Duration::MAX);
            match store.prune_audit(before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "audit entries past their retention deleted"),
                Err(e) => tracing::warn!(error = %e, "audit retention sweep failed"),
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
