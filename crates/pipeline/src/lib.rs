//! rexist's pipeline: runs a source (fetch → parse → canonicalise → batched
//! upsert), records every run with its counts and cursor, and keeps what
//! earlier runs stored whatever happens to this one.
//!
//! Start with [`run_source`]. A failed or partial run never deletes anything
//! and leaves the cursor where it was, so the next run fetches again; for a
//! snapshot feed, an indicator that left the feed is marked as no longer
//! listed by the source, not deleted.

use std::sync::Arc;
use std::time::Duration;

use rexist_connectors::engine::RunContext;
use rexist_connectors::http::Fetcher;
use rexist_connectors::source::ResolvedSource;
use rexist_core::{Run, RunCounts, RunOutcome, Source, SourceSpec};
use rexist_store::{Store, StoreError};
use tokio::sync::watch;

use crate::liveness::{Heartbeat, Progress};

pub mod alerts;
pub mod entities;
pub mod hunter;
pub mod ingest;
pub mod liveness;
pub mod scheduler;

pub use ingest::{BATCH, Ingest, Loaded, SourceSink, Upserts, load_feed, store_items};

/// Why a source could not even start a run.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Registers configured sources in the store (creating or updating their
/// settings). A source's enabled flag, once stored, is the runtime one that
/// `rexist source enable|disable` sets, so configuration does not override it.
pub async fn sync_sources(
    store: &Arc<dyn Store>,
    sources: &[ResolvedSource],
) -> Result<Vec<Source>, StoreError> {
    let mut out = Vec::with_capacity(sources.len());
    for s in sources {
        let enabled = match store.source_by_name(&s.name).await? {
            Some(existing) => existing.enabled,
            None => s.enabled,
        };
        let spec = SourceSpec {
            name: s.name.clone(),
            kind: s.kind.clone(),
            enabled,
            confidence: s.confidence,
            tlp: s.tlp,
            tags: s.tags.clone(),
        };
        out.push(store.upsert_source(&spec).await?);
    }
    Ok(out)
}

/// How a run keeps itself visible and how it is stopped early.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// How often the run's heartbeat (with its committed counts) is saved.
    pub heartbeat: Duration,
    /// When this turns true the run stops where it is: what it committed
    /// stays, and it is recorded as [`RunOutcome::Interrupted`].
    pub cancel: Option<watch::Receiver<bool>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            heartbeat: liveness::Liveness::default().heartbeat,
            cancel: None,
        }
    }
}

/// Runs `config` once: fetches through its connector (conditionally, from
/// the cursor of the last good run), stores through [`SourceSink`], and
/// records the run as the run contract says (`rexist_connectors::contract`).
/// Upstream and parse failures end in a recorded run with their reason.
pub async fn run_source(
    ingest: &Arc<Ingest>,
    fetcher: &Fetcher,
    config: &ResolvedSource,
) -> Result<Run, PipelineError> {
    run_source_with(ingest, fetcher, config, &RunOptions::default()).await
}

/// [`run_source`] with a heartbeat interval and a way to cut it short.
pub async fn run_source_with(
    ingest: &Arc<Ingest>,
    fetcher: &Fetcher,
    config: &ResolvedSource,
    options: &RunOptions,
) -> Result<Run, PipelineError> {
    use tracing::Instrument as _;
    let store = ingest.store();
    let source = sync_sources(store, std::slice::from_ref(config))
        .await?
        .pop()
        .ok_or_else(|| StoreError::internal("source registration returned nothing"))?;
    let run = store.start_run(source.id).await?;
    let heartbeat = Heartbeat::for_run(Arc::clone(store), run.id, options.heartbeat);
    // Instrumented, not entered: a guard held across an await would nest
    // the spans of concurrent runs into each other.
    let span = tracing::info_span!("run", source = %config.name, run = %run.id);
    let work =
        run_once(ingest, fetcher, config, &source, &run, heartbeat.progress()).instrument(span);
    let Some(mut cancel) = options.cancel.clone() else {
        return work.await;
    };
    tokio::select! {
        done = work => done,
        () = liveness::stopped(&mut cancel) => {
            // Dropping the run mid-way is safe: every batch is one
            // transaction, committed whole or not at all.
            tracing::warn!(source = %config.name, run = %run.id, "run cut short by shutdown");
            finish(
                store,
                &run,
                RunOutcome::Interrupted,
                &heartbeat.progress().snapshot(),
                None,
                Some("interrupted: rexist was shutting down"),
            )
            .await
        }
    }
}

async fn run_once(
    ingest: &Arc<Ingest>,
    fetcher: &Fetcher,
    config: &ResolvedSource,
    source: &Source,
    run: &Run,
    progress: &Arc<Progress>,
) -> Result<Run, PipelineError> {
    let store = ingest.store();
    let previous = store.last_cursor(source.id).await?;
    let counts = RunCounts::default();
    let headers = match config.headers().map_err(|e| e.message).and_then(|mut h| {
        if let Some(auth) = &config.auth {
            h.push(("Authorization".to_owned(), auth.header()?));
        }
        Ok(h)
    }) {
        Ok(h) => h,
        Err(e) => {
            return finish(
                store,
                run,
                RunOutcome::Failed,
                &counts,
                previous.as_deref(),
                Some(&e),
            )
            .await;
        }
    };
    let connector = rexist_connectors::connector(config);
    let terms = if config.params.wants_hunt_terms() {
        hunt_terms(store).await?
    } else {
        Vec::new()
    };
    let ctx = RunContext {
        fetcher,
        headers: &headers,
        previous: previous.as_deref(),
        hunt_terms: &terms,
    };
    let mut sink =
        SourceSink::new(ingest, source, &config.labels).with_progress(Arc::clone(progress));
    let report = connector.run(&ctx, &mut sink).await;
    if let Some(e) = &report.error {
        tracing::warn!(outcome = report.outcome.as_str(), reason = %e, "run did not complete");
    }
    finish(
        store,
        run,
        report.outcome,
        &report.counts,
        report.cursor.as_deref(),
        report.error.as_deref(),
    )
    .await
}

/// The words and phrases of the enabled query hunts, for search sources
/// with `query_from_hunts`: what analysts watch for is what gets collected.
pub async fn hunt_terms(store: &Arc<dyn Store>) -> Result<Vec<String>, StoreError> {
    let mut terms: Vec<String> = Vec::new();
    for h in store
        .list_hunts()
        .await?
        .iter()
        .filter(|h| h.spec.enabled && h.spec.kind == rexist_core::HuntKind::Query)
    {
        if let Ok(q) = rexist_query::parse(&h.spec.definition) {
            for t in q.terms() {
                if !terms.contains(&t) {
                    terms.push(t);
                }
            }
        }
    }
    Ok(terms)
}

async fn finish(
    store: &Arc<dyn Store>,
    run: &Run,
    outcome: RunOutcome,
    counts: &RunCounts,
    cursor: Option<&str>,
    error: Option<&str>,
) -> Result<Run, PipelineError> {
    Ok(store
        .finish_run(run.id, outcome, counts, cursor, error)
        .await?)
}
