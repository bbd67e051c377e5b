//! rexist's pipeline: runs a source (fetch → parse → canonicalise → batched
//! upsert), records every run with its counts and cursor, and keeps what
//! earlier runs stored whatever happens to this one.
//!
//! Start with [`run_source`]. A failed or partial run never deletes anything
//! and leaves the cursor where it was, so the next run fetches again; for a
//! snapshot feed, an indicator that left the feed is marked as no longer
//! listed by the source, not deleted.

use std::sync::Arc;

use rexist_connectors::engine::{FeedLoad, RunContext, Sink};
use rexist_connectors::feed::{Entry, FeedFormat, read_feed};
use rexist_connectors::http::Fetcher;
use rexist_connectors::source::ResolvedSource;
use rexist_core::model::now;
use rexist_core::{
    Indicator, ItemRecord, Mention, NewSighting, Record, Retraction, Run, RunCounts, RunOutcome,
    Source, SourceSpec, UpsertSummary,
};
use rexist_store::{ItemChange, Store, StoreError};

pub mod alerts;
pub mod hunter;
pub mod ingest;
pub mod scheduler;
use tokio::sync::mpsc;

/// Rows per store batch (one transaction each).
pub const BATCH: usize = 20_000;

/// Batches stored concurrently by [`Upserts`].
const IN_FLIGHT: usize = 2;

/// Batches of sightings being stored, at most two at once.
///
/// PostgreSQL works on one batch while the next is prepared and sent, on a
/// second connection; the store locks rows in one global order, so concurrent
/// batches cannot deadlock. SQLite's single writer simply queues them.
pub struct Upserts {
    store: Arc<dyn Store>,
    source: Source,
    running: tokio::task::JoinSet<Result<UpsertSummary, StoreError>>,
    total: UpsertSummary,
}

impl Upserts {
    /// Stores sightings of `source`.
    pub fn new(store: Arc<dyn Store>, source: Source) -> Self {
        Self {
            store,
            source,
            running: tokio::task::JoinSet::new(),
            total: UpsertSummary::default(),
        }
    }

    /// Starts storing `batch`, first waiting for a running one when the limit is reached.
    pub async fn push(&mut self, batch: Vec<NewSighting>) -> Result<(), StoreError> {
        if self.running.len() >= IN_FLIGHT {
            self.wait_one().await?;
        }
        let (store, source) = (Arc::clone(&self.store), self.source.clone());
        self.running
            .spawn(async move { store.upsert_sightings(&source, &batch).await });
        Ok(())
    }

    async fn wait_one(&mut self) -> Result<(), StoreError> {
        if let Some(done) = self.running.join_next().await {
            let summary = done.map_err(|e| StoreError::internal(format!("store task: {e}")))??;
            self.total.add(summary);
        }
        Ok(())
    }

    /// Waits for every running batch; the total counts every batch stored,
    /// also when one failed.
    pub async fn finish(&mut self) -> Result<UpsertSummary, StoreError> {
        let mut first_error = None;
        while !self.running.is_empty() {
            if let Err(e) = self.wait_one().await {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(self.total), Err)
    }

    /// What has been stored so far.
    pub fn total(&self) -> UpsertSummary {
        self.total
    }
}

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

/// What the parser thread sends: a batch, or the reason it stopped early.
enum Parsed {
    Batch {
        sightings: Vec<NewSighting>,
        /// Line and reason of each rejected value.
        rejected: Vec<(u64, String)>,
        values: u64,
    },
    /// The read ended; its summary (decode errors, whether it was complete).
    Summary(rexist_connectors::feed::FeedSummary),
    Stopped(String),
}

/// Runs `config` once: fetches through its connector (conditionally, from
/// the cursor of the last good run), stores through [`SourceSink`], and
/// records the run as the run contract says (`rexist_connectors::contract`).
/// Upstream and parse failures end in a recorded run with their reason.
pub async fn run_source(
    store: &Arc<dyn Store>,
    fetcher: &Fetcher,
    config: &ResolvedSource,
) -> Result<Run, PipelineError> {
    use tracing::Instrument as _;
    let source = sync_sources(store, std::slice::from_ref(config))
        .await?
        .pop()
        .ok_or_else(|| StoreError::internal("source registration returned nothing"))?;
    let run = store.start_run(source.id).await?;
    // Instrumented, not entered: a guard held across an await would nest
    // the spans of concurrent runs into each other.
    let span = tracing::info_span!("run", source = %config.name, run = %run.id);
    run_once(store, fetcher, config, &source, &run)
        .instrument(span)
        .await
}

async fn run_once(
    store: &Arc<dyn Store>,
    fetcher: &Fetcher,
    config: &ResolvedSource,
    source: &Source,
    run: &Run,
) -> Result<Run, PipelineError> {
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
    let terms = if config.query_from_hunts {
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
    let mut sink = SourceSink::new(store, source, &config.labels);
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

/// The pipeline's side of a run: where a connector's records go. The
/// source's TLP is the floor of everything stored (an upstream marking may
/// raise it, never lower it), its labels are added to every sighting, and
/// retractions retire the source's sightings.
pub struct SourceSink<'a> {
    store: &'a Arc<dyn Store>,
    source: &'a Source,
    labels: &'a [String],
}

impl<'a> SourceSink<'a> {
    /// Stores for `source`, adding `labels` to every sighting.
    pub fn new(store: &'a Arc<dyn Store>, source: &'a Source, labels: &'a [String]) -> Self {
        Self {
            store,
            source,
            labels,
        }
    }
}

/// `s` with the source's labels and its TLP as the floor.
fn own_sighting(mut s: NewSighting, source: &Source, labels: &[String]) -> NewSighting {
    s.tlp = Some(s.tlp.map_or(source.tlp, |t| t.max(source.tlp)));
    for l in labels {
        if !s.labels.contains(l) {
            s.labels.push(l.clone());
        }
    }
    s
}

#[async_trait::async_trait]
impl Sink for SourceSink<'_> {
    async fn store(
        &mut self,
        records: Vec<Record>,
        retractions: Vec<Retraction>,
        counts: &mut RunCounts,
    ) -> Result<(), String> {
        let failed = |e: StoreError| format!("store failed: {e}");
        let mut items = Vec::new();
        let mut sightings = Vec::new();
        let mut relations = Vec::new();
        for record in records {
            match record {
                Record::Item(i) => items.push(i),
                Record::Sighting(s) => sightings.push(own_sighting(s, self.source, self.labels)),
                Record::Relation(r) => relations.push(r),
            }
        }
        store_items(self.store, self.source, items, self.labels, counts).await?;
        if !sightings.is_empty() {
            let summary = self
                .store
                .upsert_sightings(self.source, &sightings)
                .await
                .map_err(failed)?;
            counts.new += summary.new;
            counts.unchanged += summary.unchanged;
        }
        if !relations.is_empty() {
            self.store
                .add_relations(self.source, &relations)
                .await
                .map_err(failed)?;
        }
        if !retractions.is_empty() {
            counts.updated += self
                .store
                .retire_sightings(self.source, &retractions)
                .await
                .map_err(failed)?;
        }
        Ok(())
    }

    async fn load_feed(
        &mut self,
        input: Box<dyn std::io::Read + Send>,
        format: FeedFormat,
        seen_at: time::OffsetDateTime,
    ) -> FeedLoad {
        let loaded = load_feed(
            self.store,
            self.source,
            input,
            format,
            self.labels.to_vec(),
            seen_at,
            |_, _| {},
            || {},
        )
        .await;
        FeedLoad {
            counts: loaded.counts,
            decode_errors: loaded.decode_errors,
            failure: loaded.failure,
        }
    }

    async fn delist(&mut self, before: time::OffsetDateTime) -> Result<u64, String> {
        self.store
            .mark_unlisted(self.source.id, before)
            .await
            .map_err(|e| format!("store failed: {e}"))
    }
}

/// What loading a feed did.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Values read, new and known sightings, rejections by reason.
    pub counts: RunCounts,
    /// Indicators stored for the first time.
    pub new_indicators: u64,
    /// Lines that would not decode in the feed's charset.
    pub decode_errors: u64,
    /// Why it stopped early, if it did (everything before is stored).
    pub failure: Option<String>,
}

/// Streams `input` through parse → canonicalise → batched upsert as
/// sightings of `source`, the parser on a blocking thread and two batches
/// in flight: the one path of configured feeds and `rexist ingest file`.
/// `on_rejected` sees each rejected value's line and reason, `on_batch` runs
/// after each batch is handed to the store (progress).
#[allow(clippy::too_many_arguments)] // each is one knob of the one feed path
pub async fn load_feed(
    store: &Arc<dyn Store>,
    source: &Source,
    input: Box<dyn std::io::Read + Send>,
    format: FeedFormat,
    labels: Vec<String>,
    seen_at: time::OffsetDateTime,
    mut on_rejected: impl FnMut(u64, &str),
    mut on_batch: impl FnMut(),
) -> Loaded {
    let (tx, mut rx) = mpsc::channel::<Parsed>(4);
    let parser =
        tokio::task::spawn_blocking(move || parse_batches(input, &format, &labels, seen_at, &tx));
    let mut upserts = Upserts::new(Arc::clone(store), source.clone());
    let mut loaded = Loaded::default();
    while let Some(parsed) = rx.recv().await {
        match parsed {
            Parsed::Batch {
                sightings,
                rejected,
                values,
            } => {
                loaded.counts.parsed += values;
                for (line, reason) in rejected {
                    on_rejected(line, &reason);
                    loaded.counts.reject(reason);
                }
                if let Err(e) = upserts.push(sightings).await {
                    loaded.failure = Some(format!("store failed: {e}"));
                    break;
                }
                on_batch();
            }
            Parsed::Summary(summary) => loaded.decode_errors = summary.decode_errors,
            Parsed::Stopped(reason) => {
                loaded.failure = Some(reason);
                break;
            }
        }
    }
    drop(rx);
    let _ = parser.await;
    if let Err(e) = upserts.finish().await {
        loaded.failure.get_or_insert(format!("store failed: {e}"));
    }
    let stored = upserts.total();
    loaded.counts.new = stored.new;
    loaded.counts.unchanged = stored.unchanged;
    loaded.new_indicators = stored.new_indicators;
    loaded
}

/// Items per store call: a news feed is one call, a large catalogue a few.
const ITEM_CHUNK: usize = 500;

/// Stores items; for each new or changed one, the indicators it states and
/// the ones found in its text, linked to it. An unchanged item is left alone.
pub async fn store_items(
    store: &Arc<dyn Store>,
    source: &Source,
    records: Vec<ItemRecord>,
    labels: &[String],
    counts: &mut RunCounts,
) -> Result<(), String> {
    let failed = |e: StoreError| format!("store failed: {e}");
    for chunk in records.chunks(ITEM_CHUNK) {
        // The source's TLP is the floor: a `tlp = "red"` feed's items are RED
        // whatever its parser says.
        let items: Vec<_> = chunk
            .iter()
            .map(|r| {
                let mut item = r.item.clone();
                item.tlp = item.tlp.max(source.tlp);
                item
            })
            .collect();
        let changes = store
            .upsert_items(source.id, &items)
            .await
            .map_err(failed)?;
        for (record, change) in chunk.iter().zip(changes) {
            let item = match change {
                ItemChange::Unchanged(_) => {
                    counts.unchanged += 1;
                    continue;
                }
                ItemChange::New(id) => {
                    counts.new += 1;
                    id
                }
                ItemChange::Updated(id) => {
                    counts.updated += 1;
                    id
                }
            };
            let mut sightings: Vec<NewSighting> = record
                .sightings
                .iter()
                .map(|s| {
                    let mut s = own_sighting(s.clone(), source, labels);
                    s.item_id = Some(item);
                    s
                })
                .collect();
            if record.extract {
                // Indicators in the title are sighted in the item; those in the
                // body are also mentions, with their offsets into the body.
                let seen_at = now();
                for m in rexist_extract::extract(&record.item.title) {
                    if let Ok(indicator) = Indicator::parse(m.kind, &m.value) {
                        sightings.push(NewSighting {
                            item_id: Some(item),
                            labels: labels.to_vec(),
                            tlp: Some(record.item.tlp.max(source.tlp)),
                            ..NewSighting::new(indicator, seen_at)
                        });
                    }
                }
                let mentions: Vec<Mention> = rexist_extract::extract(&record.item.body)
                    .into_iter()
                    .filter_map(|m| {
                        Some(Mention {
                            indicator: Indicator::parse(m.kind, &m.value).ok()?,
                            start: u32::try_from(m.start).ok()?,
                            end: u32::try_from(m.end).ok()?,
                            defanged: m.defanged,
                        })
                    })
                    .collect();
                if !mentions.is_empty() {
                    store
                        .record_mentions(source, item, &mentions)
                        .await
                        .map_err(failed)?;
                }
            }
            if !sightings.is_empty() {
                store
                    .upsert_sightings(source, &sightings)
                    .await
                    .map_err(failed)?;
            }
            if !record.relations.is_empty() {
                store
                    .add_relations(source, &record.relations)
                    .await
                    .map_err(failed)?;
            }
        }
    }
    Ok(())
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

/// Parses a fetched body into batches on a blocking thread.
fn parse_batches(
    input: impl std::io::Read,
    format: &FeedFormat,
    labels: &[String],
    seen_at: time::OffsetDateTime,
    tx: &mpsc::Sender<Parsed>,
) {
    let empty = || (Vec::with_capacity(BATCH), Vec::new(), 0u64);
    let (mut sightings, mut rejected, mut values) = empty();
    let result = read_feed(input, format, |entry| {
        values += 1;
        match entry {
            Entry::Indicator {
                indicator,
                confidence,
                labels: own,
                ..
            } => {
                let mut all = labels.to_vec();
                all.extend(own.into_iter().filter(|l| !labels.contains(l)));
                sightings.push(NewSighting {
                    confidence,
                    labels: all,
                    ..NewSighting::new(indicator, seen_at)
                });
            }
            Entry::Rejected { line, reason } => rejected.push((line, reason)),
        }
        if sightings.len() + rejected.len() >= BATCH {
            let (s, r, v) = (
                std::mem::take(&mut sightings),
                std::mem::take(&mut rejected),
                values,
            );
            values = 0;
            return tx
                .blocking_send(Parsed::Batch {
                    sightings: s,
                    rejected: r,
                    values: v,
                })
                .is_ok();
        }
        true
    });
    if values > 0 {
        let _ = tx.blocking_send(Parsed::Batch {
            sightings,
            rejected,
            values,
        });
    }
    match result {
        Ok(summary) => {
            let _ = tx.blocking_send(Parsed::Summary(summary));
        }
        Err(e) => {
            let _ = tx.blocking_send(Parsed::Stopped(e.to_string()));
        }
    }
}
