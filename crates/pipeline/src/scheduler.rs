//! The scheduler: a planner that queues a `source.run` job when a source is
//! due, workers that lease jobs from the store's queue and run them (source
//! runs, and the `hunt.retro` retro-hunts the API queues), and a sweep that
//! marks the runs and retro-hunts of dead processes interrupted.
//!
//! The queue lives in the store, so several rexist nodes on one PostgreSQL
//! share the work: a job is leased by one worker at a time, deduplicated per
//! source, and its short lease is renewed while the run goes on (see
//! [`crate::liveness`]); a lease that runs out (a crashed node) hands the job
//! to another worker.
//!
//! Stopping has two steps: `drain` stops leasing new jobs and lets running
//! runs finish; `cut` (sent after a grace period) stops those still going,
//! records them interrupted and hands their jobs back, due at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rexist_connectors::http::Fetcher;
use rexist_connectors::source::ResolvedSource;
use rexist_core::model::now;
use rexist_core::{HuntId, RunOutcome};
use rexist_store::{NewJob, RetroStatus, Store};
use tokio::sync::watch;

use crate::liveness::{self, Heartbeat, Liveness};

/// Job kind of a source run.
pub const SOURCE_RUN: &str = "source.run";

/// Job kind of a retro-hunt (payload `{"hunt": id}`).
pub const HUNT_RETRO: &str = "hunt.retro";

/// Every job kind the workers run.
const JOB_KINDS: &[&str] = &[SOURCE_RUN, HUNT_RETRO];

/// Timing of the scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// How often the planner looks for due sources.
    pub tick: Duration,
    /// Heartbeats, job leases and the sweep for dead runs.
    pub liveness: Liveness,
    /// Workers running sources at once on this node.
    pub workers: usize,
    /// Name of this node in job leases.
    pub node: String,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(15),
            liveness: Liveness::default(),
            workers: 2,
            node: format!("node-{}", std::process::id()),
        }
    }
}

/// How the scheduler is told to stop.
#[derive(Debug, Clone)]
pub struct Stop {
    /// Turns true: lease no new job, let the running runs finish.
    pub drain: watch::Receiver<bool>,
    /// Turns true: cut the runs still going short (recorded interrupted,
    /// their jobs handed back).
    pub cut: watch::Receiver<bool>,
}

/// Runs the planner, the sweep and the workers until `stop.drain` turns
/// true and the running runs have ended (or been cut).
pub async fn run(
    ingest: Arc<crate::Ingest>,
    fetcher: Arc<Fetcher>,
    sources: Vec<ResolvedSource>,
    options: SchedulerOptions,
    stop: Stop,
) {
    let store = Arc::clone(ingest.store());
    let mut options = options;
    options.tick = planner_tick(options.tick, sources.iter().map(|s| s.every).min());
    let by_name: Arc<BTreeMap<String, ResolvedSource>> =
        Arc::new(sources.into_iter().map(|s| (s.name.clone(), s)).collect());
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(plan(
        Arc::clone(&store),
        Arc::clone(&by_name),
        options.clone(),
        stop.drain.clone(),
    ));
    tasks.spawn(liveness::sweep(
        Arc::clone(&store),
        options.liveness,
        stop.drain.clone(),
    ));
    for n in 0..options.workers.max(1) {
        tasks.spawn(work(
            Arc::clone(&ingest),
            Arc::clone(&fetcher),
            Arc::clone(&by_name),
            format!("{}-{n}", options.node),
            options.clone(),
            stop.clone(),
        ));
    }
    while tasks.join_next().await.is_some() {}
}

/// Sleeps for `d` unless shutdown comes first; false when shutting down.
async fn pause(d: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    if *shutdown.borrow() {
        return false;
    }
    tokio::select! {
        () = tokio::time::sleep(d) => !*shutdown.borrow(),
        _ = shutdown.changed() => false,
    }
}

/// The planner's tick: `tick`, or a quarter of the shortest schedule when
/// that is shorter (a source every 10 s runs every 10 s, not every 15),
/// never under a second.
fn planner_tick(tick: Duration, shortest: Option<Duration>) -> Duration {
    shortest
        .map_or(tick, |every| tick.min(every / 4))
        .max(Duration::from_secs(1))
}

/// A spread of up to a tenth of `every` (at most five minutes) derived from
/// the source's name, so sources with one schedule do not all fire together.
fn jitter(name: &str, every: Duration) -> Duration {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let window = (every.as_secs() / 10).clamp(1, 300);
    Duration::from_secs(hash % window)
}

async fn plan(
    store: Arc<dyn Store>,
    sources: Arc<BTreeMap<String, ResolvedSource>>,
    options: SchedulerOptions,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if let Err(e) = enqueue_due(&store, &sources).await {
            tracing::warn!(error = %e, "scheduler could not plan runs");
        }
        if !pause(options.tick, &mut shutdown).await {
            return;
        }
    }
}

/// Queues a run of the source named `name` now; false when one is already
/// queued or running (one per source, by its deduplication key).
pub async fn enqueue_run(
    store: &Arc<dyn Store>,
    name: &str,
) -> Result<bool, rexist_store::StoreError> {
    enqueue(store, name, serde_json::json!({ "source": name })).await
}

async fn enqueue(
    store: &Arc<dyn Store>,
    name: &str,
    payload: serde_json::Value,
) -> Result<bool, rexist_store::StoreError> {
    let job = NewJob {
        kind: SOURCE_RUN.to_owned(),
        payload: payload.to_string(),
        dedup_key: Some(format!("source:{name}")),
        delay: Duration::ZERO,
    };
    Ok(store.enqueue_job(&job).await?.is_some())
}

/// The planner's job payload: the source and the start of the run its slot
/// follows (`after`, Unix microseconds; absent before the first run).
fn planned(name: &str, last_run_at: Option<time::OffsetDateTime>) -> serde_json::Value {
    let after =
        last_run_at.map(|t| i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX));
    serde_json::json!({ "source": name, "after": after })
}

/// Whether a planned job's slot was already taken by a run that ended.
///
/// Each node plans from what it read a moment earlier, so another node's
/// run can start and finish (freeing the source's deduplication key)
/// between one planner's read and its enqueue: that job then names a slot
/// already run. A run that started since the planner's read and ended
/// interrupted, or is still marked running (its process died and the lease
/// ran out, so the job came back), did not take the slot: the job runs.
async fn slot_taken(
    store: &Arc<dyn Store>,
    name: &str,
    payload: &serde_json::Value,
) -> Result<bool, rexist_store::StoreError> {
    let Some(after) = payload.get("after") else {
        // Asked for by hand (`POST /sources/{name}/run`): always runs.
        return Ok(false);
    };
    let after = after.as_i64();
    let Some(source) = store.source_by_name(name).await? else {
        return Ok(false);
    };
    let Some(last) = source.health.last_run_at else {
        return Ok(false);
    };
    if Some(i64::try_from(last.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)) == after {
        return Ok(false);
    }
    let latest = store.list_runs(Some(source.id), None, 1).await?;
    Ok(latest
        .first()
        .is_some_and(|r| !matches!(r.outcome, RunOutcome::Interrupted | RunOutcome::Running)))
}

/// Queues a retro-hunt of `hunt` for the workers and records it queued;
/// false when one is already queued or running (one per hunt, by its
/// deduplication key) or the hunt is gone.
pub async fn enqueue_retro(
    store: &Arc<dyn Store>,
    hunt: HuntId,
) -> Result<bool, rexist_store::StoreError> {
    let job = NewJob {
        kind: HUNT_RETRO.to_owned(),
        payload: serde_json::json!({ "hunt": hunt.get() }).to_string(),
        dedup_key: Some(format!("hunt.retro:{hunt}")),
        delay: Duration::ZERO,
    };
    Ok(store.queue_retro_hunt(hunt, &job).await?.is_some())
}

/// Queues a run of every enabled source whose last run is older than its schedule.
pub async fn enqueue_due(
    store: &Arc<dyn Store>,
    sources: &BTreeMap<String, ResolvedSource>,
) -> Result<usize, rexist_store::StoreError> {
    let mut queued = 0;
    let stamp = now();
    for stored in store.list_sources().await? {
        let Some(config) = sources.get(&stored.name) else {
            continue;
        };
        if !stored.enabled {
            continue;
        }
        let due = match stored.health.last_run_at {
            None => true,
            // Cron times are kept exactly; intervals are spread by a jitter.
            Some(last) if config.cron.is_some() => config.next_run(last) <= stamp,
            Some(last) => config.next_run(last) + jitter(&config.name, config.every) <= stamp,
        };
        if due
            && enqueue(
                store,
                &stored.name,
                planned(&stored.name, stored.health.last_run_at),
            )
            .await?
        {
            queued += 1;
        }
    }
    Ok(queued)
}

async fn work(
    ingest: Arc<crate::Ingest>,
    fetcher: Arc<Fetcher>,
    sources: Arc<BTreeMap<String, ResolvedSource>>,
    worker: String,
    options: SchedulerOptions,
    mut stop: Stop,
) {
    let store = Arc::clone(ingest.store());
    let liveness = options.liveness;
    let run_options = crate::RunOptions {
        heartbeat: liveness.heartbeat,
        cancel: Some(stop.cut.clone()),
    };
    loop {
        if *stop.drain.borrow() {
            return;
        }
        let job = match store.lease_job(&worker, JOB_KINDS, liveness.lease).await {
            Ok(job) => job,
            Err(e) => {
                tracing::warn!(error = %e, "scheduler could not lease a job");
                None
            }
        };
        let Some(job) = job else {
            if !pause(options.tick.min(Duration::from_secs(5)), &mut stop.drain).await {
                return;
            }
            continue;
        };
        let lease = Heartbeat::for_job(Arc::clone(&store), job.id, &worker, liveness);
        let result = if job.kind == HUNT_RETRO {
            run_retro(&store, &job.payload, liveness, stop.cut.clone()).await
        } else {
            run_source(&ingest, &fetcher, &sources, &job.payload, &run_options).await
        };
        drop(lease);
        let done = match result {
            // Cut short by a shutdown: the job goes back to the queue, due
            // at once, for another node or the next start.
            Ok(RunOutcome::Interrupted) => store.release_job(job.id, &worker).await,
            Ok(_) => store.complete_job(job.id, &worker).await,
            // The store failed mid-run: try again in a minute (the run record says why).
            Err(e) => {
                store
                    .fail_job(job.id, &worker, &e, Some(Duration::from_secs(60)))
                    .await
            }
        };
        if let Err(e) = done {
            tracing::warn!(error = %e, "scheduler could not settle a job");
        }
    }
}

/// A `source.run` job: runs the source its payload names.
async fn run_source(
    ingest: &Arc<crate::Ingest>,
    fetcher: &Arc<Fetcher>,
    sources: &BTreeMap<String, ResolvedSource>,
    payload: &str,
    run_options: &crate::RunOptions,
) -> Result<RunOutcome, String> {
    let payload = serde_json::from_str::<serde_json::Value>(payload).unwrap_or_default();
    let name = payload.get("source").and_then(|s| s.as_str());
    match name.and_then(|n| sources.get(n)) {
        Some(config)
            if slot_taken(ingest.store(), &config.name, &payload)
                .await
                .map_err(|e| e.to_string())? =>
        {
            tracing::debug!(source = %config.name, "slot already run by another node: skipped");
            Ok(RunOutcome::Success)
        }
        Some(config) => match crate::run_source_with(ingest, fetcher, config, run_options).await {
            Ok(run) => {
                tracing::info!(source = %config.name, outcome = run.outcome.as_str(), new = run.counts.new, "source run finished");
                Ok(run.outcome)
            }
            Err(e) => Err(e.to_string()),
        },
        // A source removed from the configuration since the job was queued.
        None => Ok(RunOutcome::Success),
    }
}

/// A `hunt.retro` job: runs the retro-hunt of the hunt its payload names,
/// its progress recorded in the store. A failed retro-hunt is recorded as
/// such and not retried (the analyst starts it again); one cut short by a
/// shutdown goes back to the queue like a source run.
async fn run_retro(
    store: &Arc<dyn Store>,
    payload: &str,
    liveness: Liveness,
    cut: watch::Receiver<bool>,
) -> Result<RunOutcome, String> {
    let id = serde_json::from_str::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| v.get("hunt").and_then(serde_json::Value::as_i64))
        .map(HuntId::new);
    let Some(id) = id else {
        tracing::warn!(payload, "retro-hunt job without a hunt id dropped");
        return Ok(RunOutcome::Success);
    };
    // A hunt deleted since the job was queued has nothing left to hunt.
    let Some(hunt) = store.hunt(id).await.map_err(|e| e.to_string())? else {
        return Ok(RunOutcome::Success);
    };
    let options = crate::hunter::RetroOptions {
        heartbeat: liveness.heartbeat,
        cancel: Some(cut),
    };
    let end = crate::hunter::retro_recorded(store, &hunt, options, |_| {})
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(hunt = %hunt.spec.name, status = %end.status, scanned = end.scanned,
        hits = end.hits, "retro-hunt finished");
    Ok(if end.status == RetroStatus::Interrupted {
        RunOutcome::Interrupted
    } else {
        RunOutcome::Success
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tick_follows_short_schedules() {
        let tick = Duration::from_secs(15);
        assert_eq!(planner_tick(tick, None), tick);
        assert_eq!(planner_tick(tick, Some(Duration::from_secs(3600))), tick);
        assert_eq!(
            planner_tick(tick, Some(Duration::from_secs(10))),
            Duration::from_millis(2500)
        );
        assert_eq!(
            planner_tick(tick, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn jitter_is_bounded_and_stable() {
        let hour = Duration::from_secs(3600);
        assert_eq!(jitter("urlhaus", hour), jitter("urlhaus", hour));
        assert!(jitter("urlhaus", hour) < Duration::from_secs(360));
        assert!(jitter("x", Duration::from_secs(86_400 * 7)) <= Duration::from_secs(300));
    }
}
