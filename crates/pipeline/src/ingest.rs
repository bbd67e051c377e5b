//! The one way data enters the store: store → warning lists → hunt.
//!
//! Every writer — source runs, `rexist ingest file`, TAXII POST, the API —
//! goes through an [`Ingest`], which stores through the [`Store`] (storage
//! only) and then hands what changed to the [`Hunter`], which flags
//! indicators on a warning list or allow-list and records hunt hits. Reads
//! go to the store directly.

use std::sync::Arc;

use rexist_connectors::engine::{FeedLoad, Sink};
use rexist_connectors::feed::{Entry, FeedFormat, read_feed};
use rexist_core::model::now;
use rexist_core::{
    Hunt, HuntId, HuntSpec, Indicator, IndicatorType, ItemId, ItemRecord, MANUAL_SOURCE, Mention,
    NewItem, NewRelation, NewSighting, Record, RetractReason, Retraction, RunCounts, Source,
    SourceId, SourceSpec, Tlp, UpsertSummary,
};
use rexist_store::{ItemChange, Store, StoreError};
use tokio::sync::mpsc;

use crate::hunter::{Hunter, ListsLoader};
use crate::liveness::Progress;

type Result<T> = rexist_store::Result<T>;

/// Confidence of what analysts add by hand (the manual source's default).
pub const MANUAL_CONFIDENCE: u8 = 80;

/// Stores and hunts: what every writer calls.
pub struct Ingest {
    store: Arc<dyn Store>,
    hunter: Arc<Hunter>,
    /// Finds the indicators in items' text; `[extract] extra_tlds` lives here.
    extractor: rexist_extract::Extractor,
}

impl Ingest {
    /// Writes into `store`, flagging indicators on the lists `lists` loads
    /// (warning lists, allow-lists) and evaluating the stored hunts.
    pub fn new(store: Arc<dyn Store>, lists: Option<ListsLoader>) -> Arc<Self> {
        Self::with_extractor(store, lists, rexist_extract::Extractor::default())
    }

    /// [`Ingest::new`], finding indicators in items' text with `extractor`
    /// (an organisation's internal TLDs, `[extract] extra_tlds`).
    pub fn with_extractor(
        store: Arc<dyn Store>,
        lists: Option<ListsLoader>,
        extractor: rexist_extract::Extractor,
    ) -> Arc<Self> {
        Arc::new(Self {
            hunter: Arc::new(Hunter::new(Arc::clone(&store), lists)),
            store,
            extractor,
        })
    }

    /// How indicators are found in items' text.
    pub fn extractor(&self) -> &rexist_extract::Extractor {
        &self.extractor
    }

    /// The store behind it, for reads and bookkeeping (runs, sources).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The hunter, for retro-hunts and previews.
    pub fn hunter(&self) -> &Arc<Hunter> {
        &self.hunter
    }

    /// Upserts items; new and changed ones are linked to the threat
    /// entities they name, then hunted.
    pub async fn items(&self, source: SourceId, items: &[NewItem]) -> Result<Vec<ItemChange>> {
        let changes = self.store.upsert_items(source, items).await?;
        let entities =
            crate::entities::link_items(self.store.as_ref(), source, items, &changes).await?;
        self.hunter
            .on_items(source, items, &changes, entities)
            .await?;
        Ok(changes)
    }

    /// Upserts sightings; their indicators are flagged and hunted.
    pub async fn sightings(
        &self,
        source: &Source,
        sightings: &[NewSighting],
    ) -> Result<UpsertSummary> {
        let summary = self.store.upsert_sightings(source, sightings).await?;
        self.hunter
            .on_indicators(source, sightings.iter().map(|s| &s.indicator))
            .await?;
        Ok(summary)
    }

    /// Records indicators mentioned in an item's text; they are flagged and hunted.
    pub async fn mentions(
        &self,
        source: &Source,
        item: ItemId,
        mentions: &[Mention],
    ) -> Result<UpsertSummary> {
        let summary = self.store.record_mentions(source, item, mentions).await?;
        self.hunter
            .on_indicators(source, mentions.iter().map(|m| &m.indicator))
            .await?;
        Ok(summary)
    }

    /// Adds stated relations; both ends are flagged and hunted.
    pub async fn relations(&self, source: &Source, relations: &[NewRelation]) -> Result<u64> {
        let n = self.store.add_relations(source, relations).await?;
        self.hunter
            .on_indicators(source, relations.iter().flat_map(|r| [&r.from, &r.to]))
            .await?;
        Ok(n)
    }

    /// The built-in [`MANUAL_SOURCE`], made on first use: disabled (nothing
    /// runs it), TLP:CLEAR so it puts no floor under what analysts mark,
    /// confidence 80.
    pub async fn manual_source(&self) -> Result<Source> {
        if let Some(source) = self.store.source_by_name(MANUAL_SOURCE).await? {
            return Ok(source);
        }
        self.store
            .upsert_source(&SourceSpec {
                name: MANUAL_SOURCE.to_owned(),
                kind: MANUAL_SOURCE.to_owned(),
                enabled: false,
                confidence: MANUAL_CONFIDENCE,
                tlp: Tlp::Clear,
                tags: Vec::new(),
            })
            .await
    }

    /// Stores sightings an analyst adds by hand as the [`MANUAL_SOURCE`]'s,
    /// naming `author` on those not yet attributed; they are flagged and
    /// hunted like any source's. Returns the source with the summary.
    pub async fn manual_sightings(
        &self,
        author: &str,
        sightings: &[NewSighting],
    ) -> Result<(Source, UpsertSummary)> {
        let source = self.manual_source().await?;
        let summary = self.sightings(&source, sightings).await?;
        // Grouped by item: each is attributed where it was stated.
        let mut by_item: std::collections::BTreeMap<Option<ItemId>, Vec<(IndicatorType, String)>> =
            std::collections::BTreeMap::new();
        for s in sightings {
            by_item
                .entry(s.item_id)
                .or_default()
                .push((s.indicator.kind(), s.indicator.value().to_owned()));
        }
        for (item, keys) in by_item {
            self.store
                .attribute_sightings(source.id, item, &keys, author)
                .await?;
        }
        Ok((source, summary))
    }

    /// Stores an item an analyst writes (an incident, a report) as the
    /// [`MANUAL_SOURCE`]'s, with `indicators` stated in it at the item's
    /// TLP and `author` named on them; returns its id. Its text is not
    /// searched for more: an analyst's item groups what the analyst chose.
    pub async fn manual_item(
        &self,
        author: &str,
        item: &NewItem,
        indicators: &[Indicator],
    ) -> Result<ItemId> {
        let source = self.manual_source().await?;
        let changes = self.items(source.id, std::slice::from_ref(item)).await?;
        let id = changes
            .first()
            .copied()
            .map(ItemChange::id)
            .ok_or_else(|| StoreError::internal("item upsert returned nothing"))?;
        let seen_at = now();
        let sightings: Vec<NewSighting> = indicators
            .iter()
            .map(|i| NewSighting {
                item_id: Some(id),
                tlp: Some(item.tlp),
                ..NewSighting::new(i.clone(), seen_at)
            })
            .collect();
        if !sightings.is_empty() {
            self.manual_sightings(author, &sightings).await?;
        }
        Ok(id)
    }

    /// Retires what `source` withdrew (nothing to hunt: nothing new).
    pub async fn retire(&self, source: &Source, retractions: &[Retraction]) -> Result<u64> {
        self.store.retire_sightings(source, retractions).await
    }

    /// Retires `source`'s stated sightings in `item` whose indicator its new
    /// version (`keep`) no longer states, as deleted.
    pub async fn retire_dropped(
        &self,
        source: &Source,
        item: ItemId,
        keep: &[Indicator],
    ) -> Result<u64> {
        self.store
            .retire_item_sightings(source, item, keep, RetractReason::Deleted, now())
            .await
    }

    /// Retires `source`'s list sightings a trusted snapshot no longer carries.
    pub async fn delist(&self, source: SourceId, before: time::OffsetDateTime) -> Result<u64> {
        self.store.mark_unlisted(source, before).await
    }

    /// Saves a new hunt; the next write is hunted with it at once (other
    /// nodes notice the store's hunt revision within seconds).
    pub async fn create_hunt(&self, spec: &HuntSpec) -> Result<Hunt> {
        let hunt = self.store.create_hunt(spec).await?;
        self.hunter.invalidate().await;
        Ok(hunt)
    }

    /// Changes a hunt (see [`Ingest::create_hunt`]).
    pub async fn update_hunt(&self, id: HuntId, spec: &HuntSpec) -> Result<Option<Hunt>> {
        let hunt = self.store.update_hunt(id, spec).await?;
        self.hunter.invalidate().await;
        Ok(hunt)
    }

    /// Deletes a hunt (see [`Ingest::create_hunt`]).
    pub async fn delete_hunt(&self, id: HuntId) -> Result<bool> {
        let gone = self.store.delete_hunt(id).await?;
        self.hunter.invalidate().await;
        Ok(gone)
    }
}

/// Rows per store batch (one transaction each).
pub const BATCH: usize = 20_000;

/// Batches stored concurrently by [`Upserts`]. Three, not two: after its
/// upsert a batch is checked against the warning lists and hunts, and the
/// flags and hits it then writes queue behind the next batch's upsert; with
/// only two in flight the writer sat idle meanwhile (`ingest file` of 3M rows
/// with warning lists and hunts ran at 0.77 of `bench ingest`).
const IN_FLIGHT: usize = 3;

/// Batches of sightings being stored, at most [`IN_FLIGHT`] at once.
///
/// PostgreSQL works on one batch while the next are prepared and sent, on
/// other connections; the store locks rows in one global order, so concurrent
/// batches cannot deadlock. SQLite's single writer simply queues them.
pub struct Upserts {
    ingest: Arc<Ingest>,
    source: Source,
    running: tokio::task::JoinSet<std::result::Result<UpsertSummary, StoreError>>,
    total: UpsertSummary,
}

impl Upserts {
    /// Stores sightings of `source` through `ingest`.
    pub fn new(ingest: Arc<Ingest>, source: Source) -> Self {
        Self {
            ingest,
            source,
            running: tokio::task::JoinSet::new(),
            total: UpsertSummary::default(),
        }
    }

    /// Starts storing `batch`, first waiting for a running one when the limit is reached.
    pub async fn push(&mut self, batch: Vec<NewSighting>) -> std::result::Result<(), StoreError> {
        if self.running.len() >= IN_FLIGHT {
            self.wait_one().await?;
        }
        let (ingest, source) = (Arc::clone(&self.ingest), self.source.clone());
        self.running
            .spawn(async move { ingest.sightings(&source, &batch).await });
        Ok(())
    }

    async fn wait_one(&mut self) -> std::result::Result<(), StoreError> {
        if let Some(done) = self.running.join_next().await {
            let summary = done.map_err(|e| StoreError::internal(format!("store task: {e}")))??;
            self.total.add(summary);
        }
        Ok(())
    }

    /// Waits for every running batch; the total counts every batch stored,
    /// also when one failed.
    pub async fn finish(&mut self) -> std::result::Result<UpsertSummary, StoreError> {
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

/// The pipeline's side of a run: where a connector's records go. The
/// source's TLP is the floor of everything stored (an upstream marking may
/// raise it, never lower it), its labels are added to every sighting, and
/// retractions retire the source's sightings.
pub struct SourceSink<'a> {
    ingest: &'a Arc<Ingest>,
    source: &'a Source,
    labels: &'a [String],
    /// Where committed counts go for the run's heartbeat, if anyone reads them.
    progress: Option<Arc<Progress>>,
    /// Counts of the feed loads finished in this run. A connector either
    /// pages through [`Sink::store`] (whose tally it keeps itself) or loads
    /// feeds, so the two never count the same rows.
    feeds_done: RunCounts,
}

impl<'a> SourceSink<'a> {
    /// Stores for `source`, adding `labels` to every sighting.
    pub fn new(ingest: &'a Arc<Ingest>, source: &'a Source, labels: &'a [String]) -> Self {
        Self {
            ingest,
            source,
            labels,
            progress: None,
            feeds_done: RunCounts::default(),
        }
    }

    /// Records what each stored batch committed in `progress`.
    #[must_use]
    pub fn with_progress(mut self, progress: Arc<Progress>) -> Self {
        self.progress = Some(progress);
        self
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
    ) -> std::result::Result<(), String> {
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
        store_items_withdrawing(
            self.ingest,
            self.source,
            items,
            self.labels,
            counts,
            &retractions,
        )
        .await?;
        if !sightings.is_empty() {
            let summary = self
                .ingest
                .sightings(self.source, &sightings)
                .await
                .map_err(failed)?;
            counts.new += summary.new;
            counts.unchanged += summary.unchanged;
        }
        if !relations.is_empty() {
            self.ingest
                .relations(self.source, &relations)
                .await
                .map_err(failed)?;
        }
        if !retractions.is_empty() {
            counts.updated += self
                .ingest
                .retire(self.source, &retractions)
                .await
                .map_err(failed)?;
        }
        if let Some(p) = &self.progress {
            let mut total = counts.clone();
            total.add(&self.feeds_done);
            p.record(&total);
        }
        Ok(())
    }

    async fn load_feed(
        &mut self,
        input: Box<dyn std::io::Read + Send>,
        format: FeedFormat,
        seen_at: time::OffsetDateTime,
    ) -> FeedLoad {
        let (done, progress) = (&self.feeds_done, self.progress.as_deref());
        let loaded = load_feed(
            self.ingest,
            self.source,
            input,
            format,
            self.labels.to_vec(),
            seen_at,
            |_, _| {},
            |committed| {
                if let Some(p) = progress {
                    let mut total = done.clone();
                    total.add(committed);
                    p.record(&total);
                }
            },
        )
        .await;
        self.feeds_done.add(&loaded.counts);
        FeedLoad {
            counts: loaded.counts,
            failure: loaded.failure,
        }
    }

    async fn delist(&mut self, before: time::OffsetDateTime) -> std::result::Result<u64, String> {
        self.ingest
            .delist(self.source.id, before)
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
    /// Why it stopped early, if it did (everything before is stored).
    pub failure: Option<String>,
}

/// Streams `input` through parse → canonicalise → batched upsert as
/// sightings of `source`, the parser on a blocking thread and two batches
/// in flight: the one path of configured feeds and `rexist ingest file`.
/// `on_rejected` sees each rejected value's line and reason, `on_batch` runs
/// after each batch is handed to the store (progress) with the counts
/// committed so far: values read and rejected, and the new and known
/// sightings of the batches the store confirmed.
#[allow(clippy::too_many_arguments)] // each is one knob of the one feed path
pub async fn load_feed(
    ingest: &Arc<Ingest>,
    source: &Source,
    input: Box<dyn std::io::Read + Send>,
    format: FeedFormat,
    labels: Vec<String>,
    seen_at: time::OffsetDateTime,
    mut on_rejected: impl FnMut(u64, &str),
    mut on_batch: impl FnMut(&RunCounts),
) -> Loaded {
    let (tx, mut rx) = mpsc::channel::<Parsed>(4);
    let parser =
        tokio::task::spawn_blocking(move || parse_batches(input, &format, &labels, seen_at, &tx));
    let mut upserts = Upserts::new(Arc::clone(ingest), source.clone());
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
                let stored = upserts.total();
                loaded.counts.new = stored.new;
                loaded.counts.unchanged = stored.unchanged;
                on_batch(&loaded.counts);
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

/// Items per store call: a news feed is one call, a large catalogue a few.
const ITEM_CHUNK: usize = 500;

/// Stores items; for each new or changed one, the indicators it states and
/// the ones found in its text, linked to it. An unchanged item is left alone.
pub async fn store_items(
    ingest: &Ingest,
    source: &Source,
    records: Vec<ItemRecord>,
    labels: &[String],
    counts: &mut RunCounts,
) -> std::result::Result<(), String> {
    store_items_withdrawing(ingest, source, records, labels, counts, &[]).await
}

/// [`store_items`], when the same answer also withdraws `withdrawn`
/// explicitly: an updated item that no longer states one of those leaves it
/// to that retraction (its reason is the upstream's, not `deleted`).
async fn store_items_withdrawing(
    ingest: &Ingest,
    source: &Source,
    records: Vec<ItemRecord>,
    labels: &[String],
    counts: &mut RunCounts,
    withdrawn: &[Retraction],
) -> std::result::Result<(), String> {
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
        let changes = ingest.items(source.id, &items).await.map_err(failed)?;
        for (record, change) in chunk.iter().zip(changes) {
            let (item, updated) = match change {
                ItemChange::Unchanged(_) => {
                    counts.unchanged += 1;
                    continue;
                }
                ItemChange::New(id) => {
                    counts.new += 1;
                    (id, false)
                }
                ItemChange::Updated(id) => {
                    counts.updated += 1;
                    (id, true)
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
                for m in ingest.extractor().extract(&record.item.title) {
                    if let Ok(indicator) = Indicator::parse(m.kind, &m.value) {
                        sightings.push(NewSighting {
                            item_id: Some(item),
                            labels: labels.to_vec(),
                            tlp: Some(record.item.tlp.max(source.tlp)),
                            ..NewSighting::new(indicator, seen_at)
                        });
                    }
                }
                let mentions: Vec<Mention> = ingest
                    .extractor()
                    .extract(&record.item.body)
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
                    ingest
                        .mentions(source, item, &mentions)
                        .await
                        .map_err(failed)?;
                }
            }
            if !sightings.is_empty() {
                ingest.sightings(source, &sightings).await.map_err(failed)?;
            }
            if updated {
                // A new version of an item (a MISP event, an OTX pulse) that
                // no longer states an indicator has withdrawn it from this
                // item: that sighting alone is retired (text mentions stay).
                let keep: Vec<Indicator> = sightings
                    .iter()
                    .map(|s| s.indicator.clone())
                    .chain(withdrawn.iter().map(|r| r.indicator.clone()))
                    .collect();
                counts.updated += ingest
                    .retire_dropped(source, item, &keep)
                    .await
                    .map_err(failed)?;
            }
            if !record.relations.is_empty() {
                ingest
                    .relations(source, &record.relations)
                    .await
                    .map_err(failed)?;
            }
        }
    }
    Ok(())
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
    if let Err(e) = result {
        let _ = tx.blocking_send(Parsed::Stopped(e.to_string()));
    }
}
