//! Hunts evaluated on ingest, and retro-hunts over stored history.
//!
//! [`hunting`] wraps a store so that every write path — scheduled runs,
//! `rexist ingest file`, the API — evaluates hunts on what it stores: query
//! hunts on each new or changed item (one automaton over all hunts' terms),
//! watch hunts on each indicator sighted. Hits are recorded once per hunt ×
//! object, with their alerts in the same transaction (the outbox); the
//! dispatcher in [`crate::alerts`] sends them.
//!
//! Hunts are compiled once per revision of the hunts table; a change made by
//! another process (the CLI beside a running server) is picked up within
//! [`REVISION_CHECK`].

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rexist_core::{
    Alert, AlertId, ApiToken, AuditEntry, ChannelHealth, ExportRow, HitId, HitObject, Hunt,
    HuntHit, HuntId, HuntKind, HuntSpec, Indicator, IndicatorId, IndicatorRecord, IndicatorType,
    Item, ItemId, JobId, Mention, NewAudit, NewHit, NewItem, NewRelation, NewSighting, NewToken,
    Relation, Role, Run, RunCounts, RunId, RunOutcome, Sighting, Source, SourceId, SourceSpec,
    UpsertSummary, User,
};
use rexist_query::{Doc, HuntSet, WatchSet, parse, parse_watchlist};
use rexist_store::{
    AlertQuery, Backend, CoOccurrence, ExportQuery, HitQuery, IndicatorQuery, ItemChange,
    ItemQuery, Job, MentionRef, NewJob, Page, Result, Store, StoreError, StoreStats, UserChange,
};

/// How long a compiled hunt set is trusted before the store's revision is checked.
pub const REVISION_CHECK: Duration = Duration::from_secs(1);

/// Watch hits remembered per process, so a feed that lists a watched
/// indicator again does not write its known hit again; cleared when full.
const RECORDED_CAP: usize = 200_000;

/// Indicator batches larger than this are matched on the blocking pool.
const BLOCKING_ABOVE: usize = 256;

/// Item batches larger than this are matched on the blocking pool: an item
/// is kilobytes of text to normalise and scan, an indicator a few lookups.
const BLOCKING_ITEMS_ABOVE: usize = 16;

/// Checks a hunt definition: the query parses, or every watchlist entry does.
/// The error names the position and the problem.
pub fn validate(kind: HuntKind, definition: &str) -> std::result::Result<(), String> {
    match kind {
        HuntKind::Query => parse(definition).map(|_| ()),
        HuntKind::Watch => match parse_watchlist(definition) {
            Ok(entries) if entries.is_empty() => {
                return Err("a watchlist needs at least one entry".to_owned());
            }
            other => other.map(|_| ()),
        },
    }
    .map_err(|e| e.to_string())
}

/// All enabled hunts, compiled.
pub struct Compiled {
    /// Query hunts, by hunt id.
    pub queries: HuntSet,
    /// Watch hunts, by hunt id.
    pub watches: WatchSet,
}

impl Default for Compiled {
    fn default() -> Self {
        Self::new(&[])
    }
}

impl Compiled {
    /// Compiles the enabled hunts; one that no longer parses is skipped with a warning.
    pub fn new(hunts: &[Hunt]) -> Self {
        let mut queries = Vec::new();
        let mut watches = Vec::new();
        for h in hunts.iter().filter(|h| h.spec.enabled) {
            let id = h.id.get().unsigned_abs();
            match h.spec.kind {
                HuntKind::Query => match parse(&h.spec.definition) {
                    Ok(q) => queries.push((id, q)),
                    Err(e) => tracing::warn!(hunt = %h.spec.name, error = %e, "hunt skipped"),
                },
                HuntKind::Watch => match parse_watchlist(&h.spec.definition) {
                    Ok(w) => watches.push((id, w)),
                    Err(e) => tracing::warn!(hunt = %h.spec.name, error = %e, "hunt skipped"),
                },
            }
        }
        Self {
            queries: HuntSet::new(queries),
            watches: WatchSet::new(watches),
        }
    }

    /// Query-hunt hits of items (with the given source names), as hits to record.
    pub fn item_hits(&self, items: &[(ItemId, &NewItem, &str)], retro: bool) -> Vec<NewHit> {
        let mut out = Vec::new();
        if self.queries.is_empty() {
            return out;
        }
        for (id, item, source) in items {
            let tlp = item.tlp.as_str();
            let doc = Doc {
                title: &item.title,
                body: &item.body,
                kind: item.kind.as_str(),
                source,
                tags: &item.tags,
                lang: item.lang.as_deref(),
                tlp,
            };
            for hit in self.queries.matches(&doc) {
                out.push(NewHit {
                    hunt: hunt_id(hit.hunt),
                    object: HitObject::Item(*id),
                    terms: hit.terms,
                    retro,
                });
            }
        }
        out
    }

    /// Watch-hunt hits of indicators: (hunt, indicator, entries that matched).
    pub fn indicator_hits<'a>(
        &self,
        indicators: impl IntoIterator<Item = (IndicatorType, &'a str)>,
    ) -> Vec<(HuntId, IndicatorType, String, Vec<String>)> {
        let mut out = Vec::new();
        if self.watches.is_empty() {
            return out;
        }
        for (kind, value) in indicators {
            for hit in self.watches.matches(kind, value) {
                out.push((hunt_id(hit.hunt), kind, value.to_owned(), hit.terms));
            }
        }
        out
    }
}

fn hunt_id(raw: u64) -> HuntId {
    HuntId::new(i64::try_from(raw).unwrap_or(i64::MAX))
}

struct State {
    compiled: Arc<Compiled>,
    revision: Option<String>,
    checked: Option<Instant>,
}

/// Evaluates hunts on what is stored through it.
pub struct Hunter {
    store: Arc<dyn Store>,
    state: tokio::sync::Mutex<State>,
    sources: Mutex<HashMap<SourceId, String>>,
    recorded: Mutex<HashSet<(HuntId, IndicatorType, String)>>,
    lists: Lists,
    flagged: Mutex<HashSet<(IndicatorType, String)>>,
}

/// Builds the warning lists on first use, so a command that never stores
/// an indicator never parses them.
pub type ListsLoader = Arc<dyn Fn() -> Option<Arc<rexist_warnlist::WarningLists>> + Send + Sync>;

struct Lists {
    loader: Option<ListsLoader>,
    loaded: std::sync::OnceLock<Option<Arc<rexist_warnlist::WarningLists>>>,
}

impl Lists {
    fn get(&self) -> Option<Arc<rexist_warnlist::WarningLists>> {
        self.loaded
            .get_or_init(|| self.loader.as_ref().and_then(|l| l()))
            .clone()
    }
}

impl Hunter {
    /// A hunter over `store` (the unwrapped one), flagging indicators on the lists `lists` loads.
    pub fn new(store: Arc<dyn Store>, lists: Option<ListsLoader>) -> Self {
        Self {
            store,
            state: tokio::sync::Mutex::new(State {
                compiled: Arc::new(Compiled::default()),
                revision: None,
                checked: None,
            }),
            sources: Mutex::new(HashMap::new()),
            recorded: Mutex::new(HashSet::new()),
            lists: Lists {
                loader: lists,
                loaded: std::sync::OnceLock::new(),
            },
            flagged: Mutex::new(HashSet::new()),
        }
    }

    /// The compiled hunts, recompiled when the store's revision moved.
    pub async fn compiled(&self) -> Result<Arc<Compiled>> {
        let mut state = self.state.lock().await;
        if state.checked.is_some_and(|t| t.elapsed() < REVISION_CHECK) {
            return Ok(Arc::clone(&state.compiled));
        }
        let revision = self.store.hunts_revision().await?;
        if state.revision.as_deref() != Some(revision.as_str()) {
            let hunts = self.store.list_hunts().await?;
            state.compiled = Arc::new(
                tokio::task::spawn_blocking(move || Compiled::new(&hunts))
                    .await
                    .map_err(|e| StoreError::internal(format!("hunt compile task: {e}")))?,
            );
            state.revision = Some(revision);
            if let Ok(mut r) = self.recorded.lock() {
                r.clear();
            }
        }
        state.checked = Some(Instant::now());
        Ok(Arc::clone(&state.compiled))
    }

    /// Forgets the compiled hunts, so the next batch recompiles.
    pub async fn invalidate(&self) {
        self.state.lock().await.checked = None;
    }

    async fn source_name(&self, id: SourceId) -> Result<String> {
        if let Some(name) = self.sources.lock().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(name);
        }
        let name = self
            .store
            .source(id)
            .await?
            .map(|s| s.name)
            .unwrap_or_default();
        if let Ok(mut m) = self.sources.lock() {
            m.insert(id, name.clone());
        }
        Ok(name)
    }

    /// Evaluates query hunts on the new and changed items of an upsert.
    pub async fn on_items(
        &self,
        source: SourceId,
        items: &[NewItem],
        changes: &[ItemChange],
    ) -> Result<Vec<HuntHit>> {
        let compiled = self.compiled().await?;
        if compiled.queries.is_empty() {
            return Ok(Vec::new());
        }
        let name = self.source_name(source).await?;
        let changed: Vec<(ItemId, NewItem)> = items
            .iter()
            .zip(changes)
            .filter(|(_, c)| !matches!(c, ItemChange::Unchanged(_)))
            .map(|(i, c)| (c.id(), i.clone()))
            .collect();
        if changed.is_empty() {
            return Ok(Vec::new());
        }
        let big = changed.len() > BLOCKING_ITEMS_ABOVE;
        let work = move || {
            let refs: Vec<_> = changed
                .iter()
                .map(|(id, i)| (*id, i, name.as_str()))
                .collect();
            compiled.item_hits(&refs, false)
        };
        let hits = if big {
            tokio::task::spawn_blocking(work)
                .await
                .map_err(|e| StoreError::internal(format!("hunt task: {e}")))?
        } else {
            work()
        };
        self.store.record_hits(&hits).await
    }

    /// Evaluates watch hunts on indicators just sighted, and flags those on
    /// a warning list or allow-list.
    pub async fn on_indicators<'a>(
        self: &Arc<Self>,
        indicators: impl IntoIterator<Item = &'a Indicator>,
    ) -> Result<Vec<HuntHit>> {
        let compiled = self.compiled().await?;
        let lists = if self.lists.loader.is_some() {
            // The first load parses ~9 MB of lists: off the async threads.
            let loader = Arc::clone(self);
            tokio::task::spawn_blocking(move || loader.lists.get())
                .await
                .map_err(|e| StoreError::internal(format!("warning lists task: {e}")))?
        } else {
            None
        };
        if compiled.watches.is_empty() && lists.is_none() {
            return Ok(Vec::new());
        }
        let owned: Vec<(IndicatorType, String)> = indicators
            .into_iter()
            .map(|i| (i.kind(), i.value().to_owned()))
            .collect();
        let big = owned.len() > BLOCKING_ABOVE;
        let work = move || {
            let matched = compiled.indicator_hits(owned.iter().map(|(k, v)| (*k, v.as_str())));
            let flags: Vec<(IndicatorType, String, String)> = match &lists {
                Some(l) => owned
                    .iter()
                    .filter_map(|(k, v)| {
                        let m = l.check(*k, v).into_iter().next()?;
                        Some((*k, v.clone(), format!("on warning list {}", m.list)))
                    })
                    .collect(),
                None => Vec::new(),
            };
            (matched, flags)
        };
        let (matched, flags) = if big {
            tokio::task::spawn_blocking(work)
                .await
                .map_err(|e| StoreError::internal(format!("hunt task: {e}")))?
        } else {
            work()
        };
        let flags: Vec<_> = match self.flagged.lock() {
            Ok(mut seen) => {
                if seen.len() >= RECORDED_CAP {
                    seen.clear();
                }
                flags
                    .into_iter()
                    .filter(|(k, v, _)| seen.insert((*k, v.clone())))
                    .collect()
            }
            Err(_) => flags,
        };
        self.store.flag_indicators(&flags).await?;
        self.record_indicator_hits(matched, false).await
    }

    async fn record_indicator_hits(
        &self,
        matched: Vec<(HuntId, IndicatorType, String, Vec<String>)>,
        retro: bool,
    ) -> Result<Vec<HuntHit>> {
        let mut hits = Vec::new();
        for (hunt, kind, value, terms) in matched {
            let key = (hunt, kind, value);
            if self.recorded.lock().is_ok_and(|r| r.contains(&key)) {
                continue;
            }
            let Some(record) = self.store.indicator(kind, &key.2).await? else {
                continue;
            };
            hits.push(NewHit {
                hunt,
                object: HitObject::Indicator(record.id),
                terms,
                retro,
            });
            if let Ok(mut r) = self.recorded.lock() {
                if r.len() >= RECORDED_CAP {
                    r.clear();
                }
                r.insert(key);
            }
        }
        self.store.record_hits(&hits).await
    }
}

/// What a retro-hunt did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetroSummary {
    /// Items or indicators evaluated.
    pub scanned: u64,
    /// New hits recorded (known ones are not counted again).
    pub hits: u64,
    /// Hits announced in the retro summary alert(s).
    pub announced: u64,
}

/// Rows per page of a retro-hunt.
const RETRO_PAGE: u32 = 1000;

/// Runs one hunt over everything stored: a query hunt over all items, a
/// watch hunt over all indicators. New hits are marked as retro and
/// announced together in one summary alert per channel at the end.
/// `progress` gets the running counts after each page.
pub async fn retro(
    store: &Arc<dyn Store>,
    hunt: &Hunt,
    mut progress: impl FnMut(RetroSummary),
) -> Result<RetroSummary> {
    let compiled = Arc::new(Compiled::new(&[Hunt {
        spec: HuntSpec {
            enabled: true,
            ..hunt.spec.clone()
        },
        ..hunt.clone()
    }]));
    let mut summary = RetroSummary::default();
    match hunt.spec.kind {
        HuntKind::Query => {
            let names: Arc<HashMap<SourceId, String>> = Arc::new(
                store
                    .list_sources()
                    .await?
                    .into_iter()
                    .map(|s| (s.id, s.name))
                    .collect(),
            );
            let mut before = None;
            loop {
                let page = store
                    .search_items(&ItemQuery {
                        before,
                        limit: RETRO_PAGE,
                        ..ItemQuery::default()
                    })
                    .await?;
                let Some(last) = page.items.last() else { break };
                before = Some(last.id);
                summary.scanned += page.items.len() as u64;
                let more = page.next.is_some();
                let (c, names) = (Arc::clone(&compiled), Arc::clone(&names));
                let hits = tokio::task::spawn_blocking(move || {
                    let refs: Vec<_> = page
                        .items
                        .iter()
                        .map(|i| {
                            let name = names.get(&i.source_id).map_or("", String::as_str);
                            (i.id, &i.content, name)
                        })
                        .collect();
                    c.item_hits(&refs, true)
                })
                .await
                .map_err(|e| StoreError::internal(format!("retro task: {e}")))?;
                summary.hits += store.record_hits(&hits).await?.len() as u64;
                progress(summary);
                if !more {
                    break;
                }
            }
        }
        HuntKind::Watch => {
            let mut after = None;
            loop {
                let page = store
                    .list_indicators(&IndicatorQuery {
                        after,
                        limit: RETRO_PAGE,
                        ..IndicatorQuery::default()
                    })
                    .await?;
                summary.scanned += page.items.len() as u64;
                let hits: Vec<NewHit> = page
                    .items
                    .iter()
                    .flat_map(|r| {
                        compiled
                            .watches
                            .matches(r.kind, &r.value)
                            .into_iter()
                            .map(|h| NewHit {
                                hunt: hunt_id(h.hunt),
                                object: HitObject::Indicator(r.id),
                                terms: h.terms,
                                retro: true,
                            })
                    })
                    .collect();
                summary.hits += store.record_hits(&hits).await?.len() as u64;
                progress(summary);
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
    }
    summary.announced = store.queue_digest(hunt.id, true).await?;
    Ok(summary)
}

/// A store that evaluates hunts on everything written through it; every
/// other call goes straight to the wrapped store.
pub struct HuntingStore {
    inner: Arc<dyn Store>,
    hunter: Arc<Hunter>,
}

/// Wraps `store` so that writes through it are hunted, and indicators on
/// the lists `lists` loads (warning lists, allow-lists) are flagged as allow-listed.
pub fn hunting(store: Arc<dyn Store>, lists: Option<ListsLoader>) -> Arc<dyn Store> {
    Arc::new(HuntingStore {
        hunter: Arc::new(Hunter::new(Arc::clone(&store), lists)),
        inner: store,
    })
}

#[async_trait]
impl Store for HuntingStore {
    async fn upsert_items(&self, source: SourceId, items: &[NewItem]) -> Result<Vec<ItemChange>> {
        let changes = self.inner.upsert_items(source, items).await?;
        self.hunter.on_items(source, items, &changes).await?;
        Ok(changes)
    }

    async fn upsert_sightings(
        &self,
        source: &Source,
        sightings: &[NewSighting],
    ) -> Result<UpsertSummary> {
        let summary = self.inner.upsert_sightings(source, sightings).await?;
        self.hunter
            .on_indicators(sightings.iter().map(|s| &s.indicator))
            .await?;
        Ok(summary)
    }

    async fn record_mentions(
        &self,
        source: &Source,
        item: ItemId,
        mentions: &[Mention],
    ) -> Result<UpsertSummary> {
        let summary = self.inner.record_mentions(source, item, mentions).await?;
        self.hunter
            .on_indicators(mentions.iter().map(|m| &m.indicator))
            .await?;
        Ok(summary)
    }

    async fn add_relations(&self, source: &Source, relations: &[NewRelation]) -> Result<u64> {
        let n = self.inner.add_relations(source, relations).await?;
        self.hunter
            .on_indicators(relations.iter().flat_map(|r| [&r.from, &r.to]))
            .await?;
        Ok(n)
    }

    async fn create_hunt(&self, spec: &HuntSpec) -> Result<Hunt> {
        let hunt = self.inner.create_hunt(spec).await?;
        self.hunter.invalidate().await;
        Ok(hunt)
    }

    async fn update_hunt(&self, id: HuntId, spec: &HuntSpec) -> Result<Option<Hunt>> {
        let hunt = self.inner.update_hunt(id, spec).await?;
        self.hunter.invalidate().await;
        Ok(hunt)
    }

    async fn delete_hunt(&self, id: HuntId) -> Result<bool> {
        let gone = self.inner.delete_hunt(id).await?;
        self.hunter.invalidate().await;
        Ok(gone)
    }

    fn backend(&self) -> Backend {
        self.inner.backend()
    }

    async fn migrate(&self) -> Result<usize> {
        self.inner.migrate().await
    }

    async fn upsert_source(&self, spec: &SourceSpec) -> Result<Source> {
        self.inner.upsert_source(spec).await
    }

    async fn source_by_name(&self, name: &str) -> Result<Option<Source>> {
        self.inner.source_by_name(name).await
    }

    async fn source(&self, id: SourceId) -> Result<Option<Source>> {
        self.inner.source(id).await
    }

    async fn list_sources(&self) -> Result<Vec<Source>> {
        self.inner.list_sources().await
    }

    async fn set_source_enabled(&self, name: &str, enabled: bool) -> Result<bool> {
        self.inner.set_source_enabled(name, enabled).await
    }

    async fn start_run(&self, source: SourceId) -> Result<Run> {
        self.inner.start_run(source).await
    }

    async fn finish_run(
        &self,
        run: RunId,
        outcome: RunOutcome,
        counts: &RunCounts,
        cursor: Option<&str>,
        error: Option<&str>,
    ) -> Result<Run> {
        self.inner
            .finish_run(run, outcome, counts, cursor, error)
            .await
    }

    async fn list_runs(
        &self,
        source: Option<SourceId>,
        before: Option<RunId>,
        limit: u32,
    ) -> Result<Vec<Run>> {
        self.inner.list_runs(source, before, limit).await
    }

    async fn last_cursor(&self, source: SourceId) -> Result<Option<String>> {
        self.inner.last_cursor(source).await
    }

    async fn item(&self, id: ItemId) -> Result<Option<Item>> {
        self.inner.item(id).await
    }

    async fn search_items(&self, query: &ItemQuery) -> Result<Page<Item>> {
        self.inner.search_items(query).await
    }

    async fn mark_unlisted(&self, source: SourceId, before: time::OffsetDateTime) -> Result<u64> {
        self.inner.mark_unlisted(source, before).await
    }

    async fn retire_sightings(
        &self,
        source: &Source,
        retractions: &[rexist_core::Retraction],
    ) -> Result<u64> {
        self.inner.retire_sightings(source, retractions).await
    }

    async fn retire_item_sightings(
        &self,
        source: &Source,
        item: ItemId,
        keep: &[Indicator],
        reason: rexist_core::RetractReason,
        at: time::OffsetDateTime,
    ) -> Result<u64> {
        self.inner
            .retire_item_sightings(source, item, keep, reason, at)
            .await
    }

    async fn retire_expired(&self, at: time::OffsetDateTime) -> Result<u64> {
        self.inner.retire_expired(at).await
    }

    async fn indicator(&self, kind: IndicatorType, value: &str) -> Result<Option<IndicatorRecord>> {
        self.inner.indicator(kind, value).await
    }

    async fn list_indicators(&self, query: &IndicatorQuery) -> Result<Page<IndicatorRecord>> {
        self.inner.list_indicators(query).await
    }

    async fn relations_of(&self, indicator: rexist_core::IndicatorId) -> Result<Vec<Relation>> {
        self.inner.relations_of(indicator).await
    }

    async fn sightings_of(&self, indicator: rexist_core::IndicatorId) -> Result<Vec<Sighting>> {
        self.inner.sightings_of(indicator).await
    }

    async fn indicator_by_id(&self, id: IndicatorId) -> Result<Option<IndicatorRecord>> {
        self.inner.indicator_by_id(id).await
    }

    async fn hunt(&self, id: HuntId) -> Result<Option<Hunt>> {
        self.inner.hunt(id).await
    }

    async fn hunt_by_name(&self, name: &str) -> Result<Option<Hunt>> {
        self.inner.hunt_by_name(name).await
    }

    async fn list_hunts(&self) -> Result<Vec<Hunt>> {
        self.inner.list_hunts().await
    }

    async fn hunts_revision(&self) -> Result<String> {
        self.inner.hunts_revision().await
    }

    async fn record_hits(&self, hits: &[NewHit]) -> Result<Vec<HuntHit>> {
        self.inner.record_hits(hits).await
    }

    async fn list_hits(&self, query: &HitQuery) -> Result<Page<HuntHit>> {
        self.inner.list_hits(query).await
    }

    async fn hits_by_id(&self, ids: &[HitId]) -> Result<Vec<HuntHit>> {
        self.inner.hits_by_id(ids).await
    }

    async fn ack_hits(&self, ids: &[HitId], hunt: Option<HuntId>, by: &str) -> Result<u64> {
        self.inner.ack_hits(ids, hunt, by).await
    }

    async fn queue_digest(&self, hunt: HuntId, retro: bool) -> Result<u64> {
        self.inner.queue_digest(hunt, retro).await
    }

    async fn lease_alert(
        &self,
        worker: &str,
        channels: &[&str],
        lease: Duration,
    ) -> Result<Option<Alert>> {
        self.inner.lease_alert(worker, channels, lease).await
    }

    async fn complete_alert(&self, id: AlertId, worker: &str) -> Result<bool> {
        self.inner.complete_alert(id, worker).await
    }

    async fn fail_alert(
        &self,
        id: AlertId,
        worker: &str,
        error: &str,
        retry_in: Option<Duration>,
    ) -> Result<bool> {
        self.inner.fail_alert(id, worker, error, retry_in).await
    }

    async fn list_alerts(&self, query: &AlertQuery) -> Result<Page<Alert>> {
        self.inner.list_alerts(query).await
    }

    async fn channel_health(&self) -> Result<Vec<ChannelHealth>> {
        self.inner.channel_health().await
    }

    async fn activity(
        &self,
        since: time::OffsetDateTime,
        max_tlp: rexist_core::Tlp,
    ) -> Result<rexist_store::Activity> {
        self.inner.activity(since, max_tlp).await
    }

    async fn top_indicators(
        &self,
        limit: u32,
        max_tlp: rexist_core::Tlp,
    ) -> Result<Vec<IndicatorRecord>> {
        self.inner.top_indicators(limit, max_tlp).await
    }

    async fn stats(&self) -> Result<StoreStats> {
        self.inner.stats().await
    }

    async fn export_indicators(&self, query: &ExportQuery) -> Result<Vec<ExportRow>> {
        self.inner.export_indicators(query).await
    }

    async fn create_user(&self, name: &str, password_hash: &str, role: Role) -> Result<User> {
        self.inner.create_user(name, password_hash, role).await
    }

    async fn user_credentials(&self, name: &str) -> Result<Option<(User, String)>> {
        self.inner.user_credentials(name).await
    }

    async fn update_user(&self, name: &str, change: &UserChange) -> Result<Option<User>> {
        self.inner.update_user(name, change).await
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        self.inner.list_users().await
    }

    async fn create_token(&self, token: &NewToken) -> Result<ApiToken> {
        self.inner.create_token(token).await
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>> {
        self.inner.token_by_hash(hash).await
    }

    async fn touch_token(&self, id: i64) -> Result<()> {
        self.inner.touch_token(id).await
    }

    async fn list_tokens(&self) -> Result<Vec<ApiToken>> {
        self.inner.list_tokens().await
    }

    async fn revoke_token(&self, kind: &str, name: &str) -> Result<u64> {
        self.inner.revoke_token(kind, name).await
    }

    async fn end_session(&self, hash: &str) -> Result<bool> {
        self.inner.end_session(hash).await
    }

    async fn record_audit(&self, entry: &NewAudit) -> Result<()> {
        self.inner.record_audit(entry).await
    }

    async fn prune_audit(&self, before: time::OffsetDateTime) -> Result<u64> {
        self.inner.prune_audit(before).await
    }

    async fn list_audit(&self, before: Option<i64>, limit: u32) -> Result<Page<AuditEntry>> {
        self.inner.list_audit(before, limit).await
    }

    async fn enqueue_job(&self, job: &NewJob) -> Result<Option<JobId>> {
        self.inner.enqueue_job(job).await
    }

    async fn lease_job(
        &self,
        worker: &str,
        kinds: &[&str],
        lease: Duration,
    ) -> Result<Option<Job>> {
        self.inner.lease_job(worker, kinds, lease).await
    }

    async fn complete_job(&self, id: JobId, worker: &str) -> Result<bool> {
        self.inner.complete_job(id, worker).await
    }

    async fn fail_job(
        &self,
        id: JobId,
        worker: &str,
        error: &str,
        retry_in: Option<Duration>,
    ) -> Result<bool> {
        self.inner.fail_job(id, worker, error, retry_in).await
    }
    async fn indicators_by_values(
        &self,
        keys: &[(IndicatorType, String)],
    ) -> Result<Vec<IndicatorRecord>> {
        self.inner.indicators_by_values(keys).await
    }

    async fn items_by_id(&self, ids: &[ItemId]) -> Result<Vec<Item>> {
        self.inner.items_by_id(ids).await
    }

    async fn mentions_of(&self, indicator: IndicatorId, limit: u32) -> Result<Vec<MentionRef>> {
        self.inner.mentions_of(indicator, limit).await
    }

    async fn co_occurring(
        &self,
        indicator: IndicatorId,
        limit: u32,
        max_tlp: rexist_core::Tlp,
    ) -> Result<Vec<CoOccurrence>> {
        self.inner.co_occurring(indicator, limit, max_tlp).await
    }

    async fn hits_of(&self, object: HitObject) -> Result<Vec<HuntHit>> {
        self.inner.hits_of(object).await
    }

    async fn expire_indicators(&self, lifetimes: &[(IndicatorType, Duration)]) -> Result<u64> {
        self.inner.expire_indicators(lifetimes).await
    }

    async fn flag_indicators(&self, flags: &[(IndicatorType, String, String)]) -> Result<u64> {
        self.inner.flag_indicators(flags).await
    }
}
