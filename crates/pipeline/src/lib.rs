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
use rexist_connectors::http::{Fetched, Fetcher};
use rexist_connectors::source::{Parser, ResolvedSource};
use rexist_core::model::now;
use rexist_core::{
    Indicator, ItemRecord, Mention, NewSighting, Record, Rejected, Retraction, Run, RunCounts,
    RunOutcome, Source, SourceSpec, UpsertSummary,
};
use rexist_store::{ItemChange, Store, StoreError};

pub mod alerts;
pub mod hunter;
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
    if let Some(connector) = rexist_connectors::connector(config) {
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
        return finish(
            store,
            run,
            report.outcome,
            &report.counts,
            report.cursor.as_deref(),
            report.error.as_deref(),
        )
        .await;
    }
    let pull = Pull {
        store,
        fetcher,
        config,
        source,
        run,
        headers: &headers,
        previous: previous.as_deref(),
    };
    match config.parser {
        Parser::Mastodon => mastodon_pull(&pull).await,
        Parser::Bluesky | Parser::X => search_pull(&pull).await,
        Parser::ThreatConnect => threatconnect_pull(&pull).await,
        Parser::XForce => xforce_pull(&pull).await,
        Parser::MyJvn => jvn_pull(&pull).await,
        Parser::Nvd => nvd_pull(&pull).await,
        _ => {
            finish(
                store,
                run,
                RunOutcome::Failed,
                &counts,
                previous.as_deref(),
                Some("no connector for this kind"),
            )
            .await
        }
    }
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

/// What every paged pull works with.
#[derive(Clone, Copy)]
struct Pull<'a> {
    store: &'a Arc<dyn Store>,
    fetcher: &'a Fetcher,
    config: &'a ResolvedSource,
    source: &'a Source,
    run: &'a Run,
    headers: &'a [(String, String)],
    /// The cursor of the last good run.
    previous: Option<&'a str>,
}

/// Records the end of a paged pull: on success with `cursor`; on failure as
/// partial (something stored) or failed, keeping the previous cursor so the
/// next run fetches the same window again.
async fn settle(
    pull: &Pull<'_>,
    counts: &RunCounts,
    failure: Option<&str>,
    cursor: Option<String>,
) -> Result<Run, PipelineError> {
    let (outcome, cursor) = match failure {
        None => (RunOutcome::Success, cursor),
        Some(_) if counts.new + counts.updated + counts.unchanged > 0 => {
            (RunOutcome::Partial, pull.previous.map(str::to_owned))
        }
        Some(_) => (RunOutcome::Failed, pull.previous.map(str::to_owned)),
    };
    Ok(pull
        .store
        .finish_run(pull.run.id, outcome, counts, cursor.as_deref(), failure)
        .await?)
}

/// Counts a page's rejections and records, and stores its items.
async fn store_page(
    pull: &Pull<'_>,
    counts: &mut RunCounts,
    records: Vec<ItemRecord>,
    rejected: Vec<Rejected>,
) -> Result<(), String> {
    for r in rejected {
        counts.reject(r.reason);
    }
    counts.parsed += records.len() as u64;
    store_items(
        pull.store,
        pull.source,
        records,
        &pull.config.labels,
        counts,
    )
    .await
}

/// Pages restSearch may return in one run before it stops: bounds a run
/// against a server that never returns a short page.
const MISP_MAX_PAGES: usize = 10_000;

/// Cursor of an NVD pull: the end of the last lastModified window fully stored.
#[derive(serde::Serialize, serde::Deserialize)]
struct NvdCursor {
    #[serde(with = "time::serde::rfc3339")]
    last_mod: time::OffsetDateTime,
}

/// Longest lastModified window NVD accepts.
const NVD_WINDOW: time::Duration = time::Duration::days(120);
/// How far back a first NVD run looks.
const NVD_FIRST_RUN: time::Duration = time::Duration::days(7);

/// NVD's date form: extended ISO 8601 with milliseconds and an explicit offset.
fn nvd_date(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000%2B00:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// An NVD CVE API 2.0 pull (INTERFACES.md §6.11): lastModified windows of at
/// most 120 days from the cursor to now, each paged by `startIndex` until
/// `totalResults`; requests spaced as NVD's rate limits ask (6 s apart
/// without an `apiKey` header, 0.6 s with one). The cursor moves to the end of
/// the last window only when every page was stored.
async fn nvd_pull(pull: &Pull<'_>) -> Result<Run, PipelineError> {
    let Pull {
        fetcher,
        config,
        headers,
        previous,
        ..
    } = *pull;
    let end = now();
    let mut start = previous
        .and_then(|c| serde_json::from_str::<NvdCursor>(c).ok())
        .map_or(end - NVD_FIRST_RUN, |c| c.last_mod);
    let keyed = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("apikey"));
    let spacing = std::time::Duration::from_millis(if keyed { 600 } else { 6000 });
    let per_page = config.page_size.min(2000);
    let base = config.url.trim_end_matches('/');
    let mut counts = RunCounts::default();
    let mut failure = None;
    let mut requests = 0u32;
    'windows: while start < end {
        let stop = (start + NVD_WINDOW).min(end);
        let mut index = 0u64;
        loop {
            if requests > 0 {
                tokio::time::sleep(spacing).await;
            }
            requests += 1;
            let url = format!(
                "{base}?lastModStartDate={}&lastModEndDate={}&resultsPerPage={per_page}&startIndex={index}",
                nvd_date(start),
                nvd_date(stop)
            );
            let body = match fetcher.get(&url, headers, None).await {
                Ok(Fetched::Body(body)) => body.bytes,
                Ok(Fetched::NotModified) => break,
                Err(e) => {
                    failure = Some(e.to_string());
                    break 'windows;
                }
            };
            counts.fetched += body.len() as u64;
            let page = match rexist_formats::nvd::parse_page(&body) {
                Ok(page) => page,
                Err(e) => {
                    failure = Some(format!("startIndex {index}: {e}"));
                    break 'windows;
                }
            };
            let next = page.next_start();
            if let Err(e) = store_page(pull, &mut counts, page.records, page.rejected).await {
                failure = Some(e);
                break 'windows;
            }
            match next {
                Some(n) => index = n,
                None => break,
            }
        }
        start = stop;
    }
    settle(
        pull,
        &counts,
        failure.as_deref(),
        serde_json::to_string(&NvdCursor { last_mod: end }).ok(),
    )
    .await
}

/// Cursor of a MyJVN pull: the day of the last complete run.
#[derive(serde::Serialize, serde::Deserialize)]
struct JvnCursor {
    #[serde(with = "time::serde::rfc3339")]
    since: time::OffsetDateTime,
}

/// A MyJVN `getVulnOverviewList` pull (INTERFACES.md §6.12): entries
/// published or updated since the cursor's day (a first run looks back a
/// week), paged by `startItem` with `maxCountItem` of at most 50, one second
/// between requests. The cursor moves only when every page was stored.
async fn jvn_pull(pull: &Pull<'_>) -> Result<Run, PipelineError> {
    let Pull {
        fetcher,
        config,
        headers,
        previous,
        ..
    } = *pull;
    let started = now();
    let since = previous
        .and_then(|c| serde_json::from_str::<JvnCursor>(c).ok())
        .map_or(started - time::Duration::days(7), |c| c.since);
    let per_page = config.page_size.min(50);
    let base = config.url.trim_end_matches('/');
    let mut counts = RunCounts::default();
    let mut failure = None;
    let mut start = 1u64;
    for n in 0..MISP_MAX_PAGES {
        if n > 0 {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        let url = format!(
            "{base}?method=getVulnOverviewList&feed=hnd&lang=ja&startItem={start}&maxCountItem={per_page}\
             &datePublishedStartY={}&datePublishedStartM={}&datePublishedStartD={}",
            since.year(),
            u8::from(since.month()),
            since.day()
        );
        let body = match fetcher.get(&url, headers, None).await {
            Ok(Fetched::Body(body)) => body.bytes,
            Ok(Fetched::NotModified) => break,
            Err(e) => {
                failure = Some(e.to_string());
                break;
            }
        };
        counts.fetched += body.len() as u64;
        let page = match rexist_formats::jvn::parse_overview(&body) {
            Ok(page) => page,
            Err(e) => {
                failure = Some(format!("startItem {start}: {e}"));
                break;
            }
        };
        let next = page.next_start();
        if let Err(e) = store_page(pull, &mut counts, page.records, page.rejected).await {
            failure = Some(e);
            break;
        }
        match next {
            Some(s) => start = s,
            None => break,
        }
    }
    settle(
        pull,
        &counts,
        failure.as_deref(),
        serde_json::to_string(&JvnCursor { since: started }).ok(),
    )
    .await
}

/// Fetches and parses one page of a paged pull, counting its bytes;
/// `Ok(None)` when upstream says nothing changed. Errors name the page.
async fn fetch_page<T, E: std::fmt::Display>(
    pull: &Pull<'_>,
    url: &str,
    page: u32,
    counts: &mut RunCounts,
    parse: impl FnOnce(&[u8]) -> Result<T, E>,
) -> Result<Option<T>, String> {
    fetch_page_with(pull, url, pull.headers, page, counts, parse).await
}

/// [`fetch_page`] with request headers of its own (a per-request signature).
async fn fetch_page_with<T, E: std::fmt::Display>(
    pull: &Pull<'_>,
    url: &str,
    headers: &[(String, String)],
    page: u32,
    counts: &mut RunCounts,
    parse: impl FnOnce(&[u8]) -> Result<T, E>,
) -> Result<Option<T>, String> {
    let Some(body) = fetch_body(pull, url, headers, page, counts).await? else {
        return Ok(None);
    };
    parse(&body.bytes)
        .map(Some)
        .map_err(|e| format!("page {page}: {e}"))
}

/// Fetches one page of a paged pull, counting its bytes; `Ok(None)` when
/// upstream says nothing changed. Errors name the page.
async fn fetch_body(
    pull: &Pull<'_>,
    url: &str,
    headers: &[(String, String)],
    page: u32,
    counts: &mut RunCounts,
) -> Result<Option<rexist_connectors::http::Body>, String> {
    match pull.fetcher.get(url, headers, None).await {
        Ok(rexist_connectors::http::Fetched::Body(b)) => {
            counts.fetched += b.bytes.len() as u64;
            Ok(Some(b))
        }
        Ok(rexist_connectors::http::Fetched::NotModified) => Ok(None),
        Err(e) => Err(format!("page {page}: {e}")),
    }
}

/// Most pages one paged run follows.
const OTX_MAX_PAGES: u32 = 1000;

/// Whether `next` points into the same server as `base` (scheme, host and
/// port): the API key goes with every request, so it never follows a link
/// elsewhere.
fn same_origin(base: &str, next: &str) -> bool {
    let origin = |u: &str| {
        let rest = u
            .split_once("://")
            .map(|(s, r)| (s.to_ascii_lowercase(), r));
        rest.map(|(scheme, r)| {
            let host = r
                .split(['/', '?', '#'])
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            (scheme, host)
        })
    };
    origin(base).is_some() && origin(base) == origin(next)
}

/// `next` when it is on the same server as `base` (see [`same_origin`]),
/// else the error that says so, for `what` (`page 3`).
fn next_on(base: &str, next: String, what: &str) -> Result<String, String> {
    if same_origin(base, &next) {
        Ok(next)
    } else {
        Err(format!(
            "{what}: next link {} is not on {}; not followed",
            rexist_connectors::http::redact(&next),
            rexist_connectors::http::redact(base)
        ))
    }
}

/// Cursor of a social timeline: the newest post id stored.
#[derive(serde::Serialize, serde::Deserialize)]
struct PostCursor {
    newest_id: String,
}

/// Most pages one timeline run follows.
const SOCIAL_MAX_PAGES: u32 = 200;

/// Orders Mastodon ids, which are decimal numbers of varying length.
fn newer_id(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

/// Whether search cursor `a` is newer than `b`: X ids are numbers; Bluesky
/// cursors are RFC 3339 times, whose fraction of a second varies in length,
/// so they are compared as times (as ids only if one does not parse).
fn newer_post(x: bool, a: &str, b: &str) -> bool {
    let time = |t: &str| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
    };
    match (x, time(a), time(b)) {
        (false, Some(ta), Some(tb)) => ta > tb,
        _ => newer_id(a, b),
    }
}

/// A Mastodon run: the first run takes the newest page; later runs page
/// forward with `min_id` from the newest post stored until a page comes back
/// empty, so nothing posted between two runs is skipped. Posts become post
/// items whose text is searched for indicators (defanged forms included).
async fn mastodon_pull(pull: &Pull<'_>) -> Result<Run, PipelineError> {
    let Pull {
        config, previous, ..
    } = *pull;
    let base = config.url.as_str();
    let sep = if base.contains('?') { '&' } else { '?' };
    let limit = config.page_size.min(40);
    let mut newest = previous
        .and_then(|c| serde_json::from_str::<PostCursor>(c).ok())
        .map(|c| c.newest_id);
    let first_run = newest.is_none();
    let mut counts = RunCounts::default();
    let mut failure = None;
    for page in 1..=SOCIAL_MAX_PAGES {
        let url = match &newest {
            Some(id) => format!("{base}{sep}limit={limit}&min_id={id}"),
            None => format!("{base}{sep}limit={limit}"),
        };
        let posts = match fetch_page(
            pull,
            &url,
            page,
            &mut counts,
            rexist_formats::social::parse_mastodon,
        )
        .await
        {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        if posts.result_count == 0 {
            break;
        }
        let page_newest = posts.newest_id.clone();
        if let Err(e) = store_page(pull, &mut counts, posts.records, posts.rejected).await {
            failure = Some(e);
            break;
        }
        match page_newest {
            Some(id) if newest.as_deref().is_none_or(|n| newer_id(&id, n)) => newest = Some(id),
            // No newer post: the timeline did not move forward.
            _ => break,
        }
        if first_run {
            break;
        }
    }
    let cursor = newest.and_then(|id| serde_json::to_string(&PostCursor { newest_id: id }).ok());
    settle(pull, &counts, failure.as_deref(), cursor).await
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters kept).
fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

/// Cursor of a post search: the newest post stored (an X id, or a Bluesky
/// post time in RFC 3339).
#[derive(serde::Serialize, serde::Deserialize)]
struct SearchCursor {
    newest: String,
}

/// Longest search query sent: X allows 512 characters on its basic tiers.
const MAX_SEARCH_QUERY: usize = 512;

/// The query of a search source: its own, joined by `OR` with the words and phrases
/// of the enabled query hunts when `query_from_hunts` is set (as many as fit).
async fn search_terms(pull: &Pull<'_>) -> Result<String, String> {
    let own = pull.config.query.clone().unwrap_or_default();
    if !pull.config.query_from_hunts {
        return Ok(own);
    }
    let hunts = pull
        .store
        .list_hunts()
        .await
        .map_err(|e| format!("store failed: {e}"))?;
    let mut parts: Vec<String> = Vec::new();
    if !own.is_empty() {
        parts.push(own);
    }
    for h in hunts
        .iter()
        .filter(|h| h.spec.enabled && h.spec.kind == rexist_core::HuntKind::Query)
    {
        if let Ok(q) = rexist_query::parse(&h.spec.definition) {
            for t in q.terms() {
                if !parts.contains(&t) {
                    parts.push(t);
                }
            }
        }
    }
    let mut query = String::new();
    for p in parts {
        let next = if query.is_empty() {
            p
        } else {
            format!("{query} OR {p}")
        };
        if next.len() > MAX_SEARCH_QUERY {
            break;
        }
        query = next;
    }
    if query.is_empty() {
        return Err(
            "no search terms: no query, and no enabled query hunt has words to search for"
                .to_owned(),
        );
    }
    Ok(query)
}

/// A Bluesky or X search run: the posts newer than the newest stored
/// (Bluesky `since`, X `since_id`), every page followed (`cursor`,
/// `next_token`), then the cursor moves to the newest post of the run.
async fn search_pull(pull: &Pull<'_>) -> Result<Run, PipelineError> {
    let Pull {
        config, previous, ..
    } = *pull;
    let x = config.parser == Parser::X;
    let base = config.url.trim_end_matches('/');
    let query = match search_terms(pull).await {
        Ok(q) => encode_query(&q),
        Err(e) => return settle(pull, &RunCounts::default(), Some(&e), None).await,
    };
    let since = previous
        .and_then(|c| serde_json::from_str::<SearchCursor>(c).ok())
        .map(|c| c.newest);
    let first = if x {
        let mut u = format!(
            "{base}/2/tweets/search/recent?query={query}&max_results={}&expansions=author_id&tweet.fields=created_at,lang&user.fields=username",
            config.page_size.clamp(10, 100)
        );
        if let Some(id) = &since {
            u = format!("{u}&since_id={}", encode_query(id));
        }
        u
    } else {
        let mut u = format!(
            "{base}/xrpc/app.bsky.feed.searchPosts?q={query}&sort=latest&limit={}",
            config.page_size.clamp(1, 100)
        );
        if let Some(t) = &since {
            u = format!("{u}&since={}", encode_query(t));
        }
        u
    };
    let mut counts = RunCounts::default();
    let mut failure = None;
    let mut newest = since.clone();
    let mut url = first.clone();
    for page in 1..=SOCIAL_MAX_PAGES {
        let parse = if x {
            rexist_formats::social::parse_x
        } else {
            rexist_formats::social::parse_bluesky
        };
        let posts = match fetch_page(pull, &url, page, &mut counts, parse).await {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        let page_newest = if x {
            posts.newest_id.clone()
        } else {
            posts
                .records
                .iter()
                .filter_map(|r| r.item.published_at)
                .max()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
        };
        if let Some(n) = page_newest {
            if newest.as_deref().is_none_or(|cur| newer_post(x, &n, cur)) {
                newest = Some(n);
            }
        }
        let next = posts.cursor.clone();
        let empty = posts.result_count == 0;
        if let Err(e) = store_page(pull, &mut counts, posts.records, posts.rejected).await {
            failure = Some(e);
            break;
        }
        match next {
            Some(token) if !empty => {
                let key = if x { "next_token" } else { "cursor" };
                url = format!("{first}&{key}={}", encode_query(&token));
            }
            _ => break,
        }
    }
    let cursor = newest.and_then(|n| serde_json::to_string(&SearchCursor { newest: n }).ok());
    settle(pull, &counts, failure.as_deref(), cursor).await
}

/// Cursor of a ThreatConnect pull: the newest `lastModified` stored.
#[derive(serde::Serialize, serde::Deserialize)]
struct TcCursor {
    #[serde(with = "time::serde::rfc3339")]
    last_modified: time::OffsetDateTime,
}

/// The path and query of `url` as sent on the wire, which ThreatConnect's
/// HMAC signs byte for byte.
fn path_and_query(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/", |i| &rest[i..])
}

/// The request headers of a ThreatConnect call: the source's, plus an HMAC
/// signature of this exact path and query when signing is configured.
fn tc_headers(pull: &Pull<'_>, url: &str, secret: Option<&str>) -> Vec<(String, String)> {
    let mut headers = pull.headers.to_vec();
    if let (Some(signing), Some(secret)) = (&pull.config.signing, secret) {
        let ts = now().unix_timestamp();
        headers.push(("Timestamp".to_owned(), ts.to_string()));
        headers.push((
            "Authorization".to_owned(),
            rexist_formats::threatconnect::hmac_authorization(
                &signing.access_id,
                secret,
                path_and_query(url),
                "GET",
                ts,
            ),
        ));
    }
    headers
}

/// The first page of a ThreatConnect v3 listing (`list` with its fields),
/// oldest first, modified after `since`, of the configured owner.
fn tc_first_url(
    pull: &Pull<'_>,
    base: &str,
    list: &str,
    since: Option<time::OffsetDateTime>,
) -> String {
    let mut url = format!(
        "{base}/v3/{list}&sorting={}&resultLimit={}",
        encode_query("lastModified asc"),
        pull.config.page_size
    );
    if let Some(s) = since {
        let at = s
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        url = format!(
            "{url}&tql={}",
            encode_query(&format!("lastModified > \"{at}\""))
        );
    }
    if let Some(owner) = &pull.config.owner {
        url = format!("{url}&owner={}", encode_query(owner));
    }
    url
}

/// ThreatConnect groups (incidents, reports, adversaries, campaigns…)
/// modified since `since`, as event items with their associated indicators.
async fn tc_groups(
    pull: &Pull<'_>,
    base: &str,
    since: Option<time::OffsetDateTime>,
    secret: Option<&str>,
    counts: &mut RunCounts,
    newest: &mut Option<time::OffsetDateTime>,
) -> Result<(), String> {
    let mut url = tc_first_url(
        pull,
        base,
        "groups?fields=tags&fields=associatedIndicators",
        since,
    );
    for page in 1..=OTX_MAX_PAGES {
        let headers = tc_headers(pull, &url, secret);
        let Some(groups) = fetch_page_with(
            pull,
            &url,
            &headers,
            page,
            counts,
            rexist_formats::threatconnect::parse_groups,
        )
        .await
        .map_err(|e| format!("groups {e}"))?
        else {
            return Ok(());
        };
        if let Some(m) = groups.max_last_modified {
            *newest = Some(newest.map_or(m, |n| n.max(m)));
        }
        store_page(pull, counts, groups.records, groups.rejected).await?;
        match groups.next {
            None => return Ok(()),
            Some(n) => url = next_on(base, n, &format!("groups page {page}"))?,
        }
    }
    Ok(())
}

/// A ThreatConnect v3 run (INTERFACES.md §4): indicators whose
/// `lastModified` is after the last run's newest (TQL; the whole store on a
/// first run), oldest first, `next` followed to the end on the same host and
/// each request signed anew when HMAC signing is configured (else the
/// `Authorization: TC-Token …` header of `headers_env` is sent). Inactive and
/// false-positive indicators are skipped; rating and confidence become the
/// sighting's confidence; owner and tags its labels.
async fn threatconnect_pull(pull: &Pull<'_>) -> Result<Run, PipelineError> {
    let Pull {
        config, previous, ..
    } = *pull;
    let base = config.url.trim_end_matches('/');
    let since = previous
        .and_then(|c| serde_json::from_str::<TcCursor>(c).ok())
        .map(|c| c.last_modified);
    let mut url = tc_first_url(
        pull,
        base,
        "indicators?fields=tags&fields=securityLabels",
        since,
    );
    let secret = match config
        .signing
        .as_ref()
        .map(rexist_connectors::source::Signing::secret)
    {
        Some(Err(e)) => return settle(pull, &RunCounts::default(), Some(&e), None).await,
        Some(Ok(s)) => Some(s),
        None => None,
    };
    let mut counts = RunCounts::default();
    let mut newest = since;
    let mut failure = None;
    for page in 1..=OTX_MAX_PAGES {
        let headers = tc_headers(pull, &url, secret.as_deref());
        let indicators = match fetch_page_with(
            pull,
            &url,
            &headers,
            page,
            &mut counts,
            rexist_formats::threatconnect::parse_indicators,
        )
        .await
        {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        if let Some(m) = indicators.max_last_modified {
            newest = Some(newest.map_or(m, |n| n.max(m)));
        }
        for r in indicators.rejected {
            counts.reject(r.reason);
        }
        let sightings: Vec<NewSighting> = indicators
            .records
            .into_iter()
            .filter_map(|r| match r {
                Record::Sighting(mut s) => {
                    s.labels.extend(config.labels.iter().cloned());
                    Some(s)
                }
                Record::Item(_) | Record::Relation(_) => None,
            })
            .collect();
        counts.parsed += sightings.len() as u64;
        match pull.store.upsert_sightings(pull.source, &sightings).await {
            Ok(summary) => {
                counts.new += summary.new;
                counts.unchanged += summary.unchanged;
            }
            Err(e) => {
                failure = Some(format!("store failed: {e}"));
                break;
            }
        }
        match indicators
            .next
            .map(|n| next_on(base, n, &format!("page {page}")))
        {
            None => break,
            Some(Ok(n)) => url = n,
            Some(Err(e)) => {
                failure = Some(e);
                break;
            }
        }
    }
    if failure.is_none() {
        failure = tc_groups(
            pull,
            base,
            since,
            secret.as_deref(),
            &mut counts,
            &mut newest,
        )
        .await
        .err();
    }
    let cursor = newest.and_then(|m| serde_json::to_string(&TcCursor { last_modified: m }).ok());
    settle(pull, &counts, failure.as_deref(), cursor).await
}

/// Cursor of an X-Force pull: where the vulnerability window ended.
#[derive(serde::Serialize, serde::Deserialize)]
struct XForceCursor {
    #[serde(with = "time::serde::rfc3339")]
    vulns_until: time::OffsetDateTime,
}

/// How far back a first X-Force run reads vulnerabilities.
const XFORCE_FIRST_RUN: time::Duration = time::Duration::days(30);

/// X-Force answers 402/403 for endpoints the account's tier does not
/// include: a reason to stop, not to retry.
fn not_entitled(e: &str) -> String {
    if e.contains("402") || e.contains("403") {
        format!("not entitled: {e}")
    } else {
        e.to_owned()
    }
}

/// An X-Force run (INTERFACES.md §3): public and shared case files (their text searched
/// for indicators; a case file already stored unchanged is left alone), then
/// vulnerabilities reported since the last run's window end, paged by
/// `bookmark` until `total_rows` are read. 402/403 end the run as "not
/// entitled" with the cursor kept.
async fn xforce_pull(pull: &Pull<'_>) -> Result<Run, PipelineError> {
    let Pull {
        config, previous, ..
    } = *pull;
    let base = config.url.trim_end_matches('/');
    let mut headers = pull.headers.to_vec();
    headers.push(("Accept".to_owned(), "application/json".to_owned()));
    let until = now();
    let from = previous
        .and_then(|c| serde_json::from_str::<XForceCursor>(c).ok())
        .map_or(until - XFORCE_FIRST_RUN, |c| c.vulns_until);
    let mut counts = RunCounts::default();
    // Public case files, then those shared with the account.
    for (n, which) in (1u32..).zip(["public", "shared"]) {
        let casefiles = format!("{base}/casefiles/{which}");
        let failure = match fetch_page_with(
            pull,
            &casefiles,
            &headers,
            n,
            &mut counts,
            rexist_formats::xforce::parse_casefiles,
        )
        .await
        {
            Ok(Some(c)) => store_page(pull, &mut counts, c.records, c.rejected)
                .await
                .err(),
            Ok(None) => None,
            Err(e) => Some(format!("{which} case files: {}", not_entitled(&e))),
        };
        if let Some(f) = failure {
            return settle(pull, &counts, Some(&f), None).await;
        }
    }
    let stamp = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let first = format!(
        "{base}/vulnerabilities/fulltext?q={}&startDate={}&endDate={}",
        encode_query("*"),
        encode_query(&stamp(from)),
        encode_query(&stamp(until))
    );
    let mut url = first.clone();
    let mut read = 0u64;
    let mut failure = None;
    for page in 1..=OTX_MAX_PAGES {
        let vulns = match fetch_page_with(
            pull,
            &url,
            &headers,
            page,
            &mut counts,
            rexist_formats::xforce::parse_vulnerabilities,
        )
        .await
        {
            Ok(Some(v)) => v,
            Ok(None) => break,
            Err(e) => {
                failure = Some(not_entitled(&e));
                break;
            }
        };
        read += (vulns.records.len() + vulns.rejected.len()) as u64;
        let done = vulns.records.is_empty() && vulns.rejected.is_empty()
            || vulns.total_rows.is_none_or(|t| read >= t);
        let bookmark = vulns.bookmark.clone();
        if let Err(e) = store_page(pull, &mut counts, vulns.records, vulns.rejected).await {
            failure = Some(e);
            break;
        }
        match bookmark {
            Some(b) if !done => url = format!("{first}&bookmark={}", encode_query(&b)),
            _ => break,
        }
    }
    let cursor = serde_json::to_string(&XForceCursor { vulns_until: until }).ok();
    settle(pull, &counts, failure.as_deref(), cursor).await
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
            Entry::Indicator { indicator, .. } => sightings.push(NewSighting {
                labels: labels.to_vec(),
                ..NewSighting::new(indicator, seen_at)
            }),
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
    if let Err(e) = result {
        let _ = tx.blocking_send(Parsed::Stopped(e.to_string()));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bluesky_cursors_order_as_times_x_ids_as_numbers() {
        use super::newer_post;
        assert!(newer_post(
            false,
            "2025-01-04T00:00:00Z",
            "2025-01-03T10:00:00.5Z"
        ));
        assert!(!newer_post(
            false,
            "2025-01-03T10:00:00.5Z",
            "2025-01-04T00:00:00Z"
        ));
        assert!(newer_post(
            true,
            "1870000000000000010",
            "187000000000000009"
        ));
        assert!(!newer_post(true, "99", "100"));
    }
}
