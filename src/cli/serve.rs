//! `rexist serve`: the HTTP server, the scheduler and the alert dispatcher,
//! until Ctrl-C or SIGTERM.
//!
//! A signal stops it in order: no new connections or jobs at once; running
//! source runs, requests and the alert in flight get the grace period (20 s)
//! to finish; runs still going are then cut short, recorded `interrupted`
//! and their jobs handed back (5 s more at most); the process exits 0. A
//! second signal skips what is left of the grace period.

use std::net::SocketAddr;
use std::process::ExitCode;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use rexist_connectors::http::{FetchOptions, Fetcher};
use rexist_pipeline::alerts::{DispatchOptions, Dispatcher, unknown_channels};
use rexist_pipeline::liveness;
use rexist_pipeline::scheduler::{self, SchedulerOptions, Stop};
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
    /// What this node does: `all`, `web` (UI, API, TAXII, exports) or
    /// `worker` (sources, retro-hunts, sweeps, alert delivery; answers only
    /// /healthz and /metrics). Several nodes share one PostgreSQL.
    #[arg(long, value_enum, default_value_t = Role::All, env = "REXIST_ROLE")]
    pub role: Role,
}

/// The part of the work a `serve` node takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Web and worker in one process: the single-node default.
    All,
    /// The UI, the API, TAXII and exports.
    Web,
    /// Sources, retro-hunts, lifecycle sweeps and alert delivery, claimed
    /// through the store's job queue.
    Worker,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Web => "web",
            Self::Worker => "worker",
        }
    }
}

/// The background work of a worker node.
struct Work {
    scheduler: tokio::task::JoinHandle<()>,
    alerts: tokio::task::JoinHandle<()>,
    sweep: tokio::task::JoinHandle<()>,
}

/// Opens the store, registers the sources, binds, and serves and collects
/// until a shutdown signal.
pub async fn run(config: &Config, args: Args) -> Result<ExitCode> {
    let role = args.role;
    let store = super::open_store(config).await?;
    if role != Role::Worker {
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
    // Listening before saying so: a SIGTERM from then on stops it gracefully.
    let mut signals = super::Signals::listen();
    tracing::info!(addr = %local, role = role.as_str(), backend = store.backend().as_str(), data_dir = %config.data_dir.display(), sources = sources.len(), "rexist serving");
    say(format_args!("rexist listening on http://{local}"));

    let schedules = sources.iter().map(|s| (s.name.clone(), s.every)).collect();
    let grace = super::shutdown_grace();
    // Stopping has two steps: `drain` stops new work and new connections,
    // `cut` (after the grace period) ends the source runs still going.
    let (drain, draining) = watch::channel(false);
    let (cut, cutting) = watch::channel(false);
    let ingest = super::open_ingest(config, &store);
    let lookup = config.lookup(Arc::clone(&store))?;
    let mut work = match role {
        Role::Web => None,
        Role::All | Role::Worker => Some(
            start_work(
                config, &store, &ingest, &lookup, sources, &draining, cutting,
            )
            .await?,
        ),
    };
    let state = AppState::new(Arc::clone(&store)).with_auth(config.auth.clone());
    let app = if role == Role::Worker {
        rexist_server::worker_router(state)
    } else {
        let mut channels: Vec<String> = config.channels.iter().map(|c| c.name.clone()).collect();
        channels.sort_unstable();
        // Exports are rendered here before they are sent; what a crash
        // left is removed now.
        let spool_dir = config.data_dir.join("spool");
        let spool = rexist_server::export::Spool::open(spool_dir.clone())
            .with_context(|| format!("cannot prepare the export spool {}", spool_dir.display()))?;
        router(
            state
                .with_origin(config.server.public_url.as_deref(), Some(local))
                .map_err(|e| anyhow::anyhow!("server.public_url: {e}"))?
                .with_data_dir(config.data_dir.clone())
                .with_spool(spool)
                .with_ingest(ingest)
                .with_exports(config.export_specs()?)
                .with_notifiers(config.channels()?, config.alerts_base_url())
                .with_taxii(config.taxii_config()?)
                .with_schedules(schedules)
                .with_channels(channels)
                .with_lookup(lookup),
        )
    }
    .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let mut stop_serving = draining.clone();
    let mut server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { liveness::stopped(&mut stop_serving).await })
            .await
    });

    tokio::select! {
        () = signals.recv() => {}
        done = &mut server => {
            // The server ended by itself: an accept loop failure.
            let _ = drain.send(true);
            let _ = cut.send(true);
            done.context("server task")?.context("server failed")?;
            return Ok(ExitCode::FAILURE);
        }
    }
    tracing::info!(grace = ?grace, "stopping: no new connections or jobs; running source runs may finish");
    let _ = drain.send(true);
    let deadline = tokio::time::Instant::now() + grace;
    if let Some(work) = &mut work {
        stop_work(work, deadline, &mut signals, &cut).await;
    }
    // Open connections had the grace period to finish their requests.
    let rest = deadline.saturating_duration_since(tokio::time::Instant::now());
    if tokio::time::timeout(rest, &mut server).await.is_err() {
        tracing::warn!("connections still open: closed");
        server.abort();
    }
    if let Some(work) = work {
        work.sweep.abort();
    }
    tracing::info!("rexist stopped");
    Ok(ExitCode::SUCCESS)
}

/// Starts a worker's share: the alert dispatcher, the lifecycle sweep and
/// the scheduler (planner, liveness sweep, job workers).
async fn start_work(
    config: &Config,
    store: &Arc<dyn rexist_store::Store>,
    ingest: &Arc<rexist_pipeline::Ingest>,
    lookup: &rexist_lookup::Lookup,
    sources: Vec<rexist_connectors::source::ResolvedSource>,
    draining: &watch::Receiver<bool>,
    cutting: watch::Receiver<bool>,
) -> Result<Work> {
    let fetcher = Arc::new(Fetcher::new(FetchOptions::default()).context("HTTP client")?);
    let timing = super::liveness();
    let dispatcher = Arc::new(Dispatcher::new(
        Arc::clone(store),
        config.channels()?,
        DispatchOptions {
            lease: timing.lease,
            ..config.dispatch_options()?
        },
    ));
    for (_, hunt, channel) in unknown_channels(store, &dispatcher.channel_names()).await? {
        tracing::warn!(%hunt, %channel, "hunt alerts a channel that is not configured: its alerts wait");
    }
    let alerts = tokio::spawn(Arc::clone(&dispatcher).run(draining.clone()));
    let sweep = tokio::spawn(expiry_sweep(
        Arc::clone(store),
        lookup.lifetimes().all(),
        config.auth.audit_retention(),
        draining.clone(),
    ));
    let scheduler = tokio::spawn(scheduler::run(
        Arc::clone(ingest),
        fetcher,
        sources,
        SchedulerOptions {
            liveness: timing,
            ..SchedulerOptions::default()
        },
        Stop {
            drain: draining.clone(),
            cut: cutting,
        },
    ));
    Ok(Work {
        scheduler,
        alerts,
        sweep,
    })
}

/// Lets the running source runs and the alert in flight finish until
/// `deadline` (or a second signal), then cuts the runs still going.
async fn stop_work(
    work: &mut Work,
    deadline: tokio::time::Instant,
    signals: &mut super::Signals,
    cut: &watch::Sender<bool>,
) {
    // A second signal skips the rest of the grace period.
    tokio::select! {
        _ = &mut work.scheduler => {}
        () = tokio::time::sleep_until(deadline) => {}
        () = signals.recv() => {}
    }
    if !work.scheduler.is_finished() {
        tracing::warn!(
            "source runs still going: cutting them short (recorded interrupted, jobs handed back)"
        );
        let _ = cut.send(true);
        if tokio::time::timeout(CUT_WAIT, &mut work.scheduler)
            .await
            .is_err()
        {
            // Their heartbeats stop with this process: a sweep marks them later.
            tracing::warn!("scheduler did not stop after cutting its runs");
            work.scheduler.abort();
        }
    }
    // The dispatcher stopped taking alerts at the signal and had the grace
    // period for the one in flight; past it, that one's lease runs out and
    // it is sent again (with the same delivery id).
    let rest = deadline.saturating_duration_since(tokio::time::Instant::now());
    if tokio::time::timeout(rest.max(Duration::from_secs(1)), &mut work.alerts)
        .await
        .is_err()
    {
        tracing::warn!("alert dispatcher did not stop in time");
        work.alerts.abort();
    }
}

/// How long runs that were cut short get to record themselves interrupted
/// and hand their jobs back, after the grace period.
const CUT_WAIT: Duration = Duration::from_secs(5);

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
