//! Heartbeats, short leases and the sweep: how a run, retro-hunt or job
//! whose process died is told apart from one still going in another process.
//!
//! The process doing a run renews the run's heartbeat (with the counts it
//! has committed) every [`Liveness::heartbeat`]; a worker holding a job
//! renews the job's lease as often. A run whose heartbeat is older than
//! [`Liveness::stale_after`] is taken for dead: any node's sweep marks it
//! `interrupted`. A job whose lease ran out is leased again by the next
//! worker that asks. A live run elsewhere (a `rexist source run` in a shell
//! next to `serve`, another node) keeps its heartbeat fresh and is never
//! touched. The clocks of nodes sharing one PostgreSQL must agree to well
//! within the staleness margin (NTP does).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rexist_core::{JobId, Run, RunCounts, RunId};
use rexist_store::{Store, StoreError};
use tokio::sync::watch;

/// Timing of heartbeats, leases and sweeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    /// How often a live process renews its runs' heartbeats and its jobs' leases.
    pub heartbeat: Duration,
    /// A running run whose heartbeat is older than this is taken for dead.
    pub stale_after: Duration,
    /// How long a job lease lasts unless renewed.
    pub lease: Duration,
    /// How often a node looks for dead runs.
    pub sweep: Duration,
}

impl Liveness {
    /// Timings scaled from one heartbeat interval: a run is stale after
    /// 4.5 missed beats, a lease lasts 6 and a sweep comes every 1.5, so a
    /// dead run is marked within `stale_after + sweep` (6 beats) and a
    /// live one survives a few slow beats.
    pub fn from_heartbeat(heartbeat: Duration) -> Self {
        Self {
            heartbeat,
            stale_after: heartbeat.mul_f64(4.5),
            lease: heartbeat * 6,
            sweep: heartbeat.mul_f64(1.5),
        }
    }
}

impl Default for Liveness {
    /// Heartbeats every 10 s: stale after 45 s, leases of 60 s, sweeps every 15 s.
    fn default() -> Self {
        Self::from_heartbeat(Duration::from_secs(10))
    }
}

/// What a run has committed so far, read by its heartbeat. Writers record
/// after the store confirmed a batch, so the new, updated and unchanged
/// counts a heartbeat saves never claim more than is stored.
#[derive(Debug, Default)]
pub struct Progress {
    counts: Mutex<RunCounts>,
}

impl Progress {
    /// Replaces what the run has committed.
    pub fn record(&self, counts: &RunCounts) {
        if let Ok(mut c) = self.counts.lock() {
            c.clone_from(counts);
        }
    }

    /// What the run has committed.
    pub fn snapshot(&self) -> RunCounts {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

/// Renews a heartbeat in the background until dropped.
#[derive(Debug)]
pub struct Heartbeat {
    task: tokio::task::JoinHandle<()>,
    progress: Arc<Progress>,
}

impl Heartbeat {
    /// Renews `run`'s heartbeat every `every`, saving its [`Progress`].
    pub fn for_run(store: Arc<dyn Store>, run: RunId, every: Duration) -> Self {
        let progress = Arc::new(Progress::default());
        let shared = Arc::clone(&progress);
        let task = tokio::spawn(async move {
            let mut warned = false;
            loop {
                tokio::time::sleep(every).await;
                match store.heartbeat_run(run, &shared.snapshot()).await {
                    Ok(alive) => {
                        if !alive && !warned {
                            warned = true;
                            tracing::warn!(%run, "run was marked interrupted while still going: heartbeats came too late");
                        }
                    }
                    Err(e) => tracing::warn!(%run, error = %e, "run heartbeat not saved"),
                }
            }
        });
        Self { task, progress }
    }

    /// Renews the lease of `job`, held by `worker`, for `liveness.lease`
    /// every `liveness.heartbeat`.
    pub fn for_job(store: Arc<dyn Store>, job: JobId, worker: &str, liveness: Liveness) -> Self {
        let worker = worker.to_owned();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(liveness.heartbeat).await;
                match store.renew_job(job, &worker, liveness.lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(%job, %worker, "job lease lost: another worker may run it too");
                        return;
                    }
                    Err(e) => tracing::warn!(%job, error = %e, "job lease not renewed"),
                }
            }
        });
        Self {
            task,
            progress: Arc::default(),
        }
    }

    /// Where the run's writers record what they committed.
    pub fn progress(&self) -> &Arc<Progress> {
        &self.progress
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Marks the runs and retro-hunts whose heartbeat is older than
/// `stale_after` interrupted, logging each; returns the runs. A retro-hunt's
/// job is leased again once its lease runs out, as a source run's is.
pub async fn sweep_once(
    store: &Arc<dyn Store>,
    stale_after: Duration,
) -> Result<Vec<Run>, StoreError> {
    let runs = store.interrupt_stale_runs(stale_after).await?;
    for run in &runs {
        tracing::warn!(run = %run.id, source = %run.source_id, new = run.counts.new,
            "run marked interrupted: its process stopped sending heartbeats");
    }
    for retro in store.interrupt_stale_retro_hunts(stale_after).await? {
        tracing::warn!(hunt = %retro.hunt, scanned = retro.scanned,
            "retro-hunt marked interrupted: its worker stopped sending heartbeats");
    }
    Ok(runs)
}

/// Sweeps every `liveness.sweep` until `stop` turns true.
pub async fn sweep(store: Arc<dyn Store>, liveness: Liveness, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(e) = sweep_once(&store, liveness.stale_after).await {
            tracing::warn!(error = %e, "sweep for interrupted runs failed");
        }
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(liveness.sweep) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Resolves once `stop` turns true (never when its sender is gone first).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_timings_mark_a_dead_run_within_a_minute() {
        let l = Liveness::default();
        assert_eq!(l.heartbeat, Duration::from_secs(10));
        assert_eq!(l.stale_after, Duration::from_secs(45));
        assert_eq!(l.lease, Duration::from_secs(60));
        assert!(l.stale_after + l.sweep <= Duration::from_secs(60));
        // A live run survives a few late beats; a lease several.
        assert!(l.stale_after >= l.heartbeat * 4);
        assert!(l.lease >= l.heartbeat * 5);
    }

    #[test]
    fn progress_keeps_the_last_record() {
        let p = Progress::default();
        assert_eq!(p.snapshot(), RunCounts::default());
        let counts = RunCounts {
            new: 3,
            ..RunCounts::default()
        };
        p.record(&counts);
        assert_eq!(p.snapshot(), counts);
    }
}
