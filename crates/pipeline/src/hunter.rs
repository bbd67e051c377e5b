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
//!
//! An indicator an analyst marked a false positive is never a hit, on
//! ingest or in a retro-hunt.
//!
//! A watchlist's `early-warning:` entries are conditions on the store, not
//! on the value: when a social, news or exchange source reports a CVE, the
//! hunter reads who has reported it so far, and the CVE is a hit when no
//! NVD, JVN or KEV source has (see [`early_hits`]).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rexist_connectors::source::{is_cve_authority, source_class};
use rexist_core::early::cve_may_be_unpublished;
use rexist_core::{
    HitObject, Hunt, HuntHit, HuntId, HuntKind, HuntSpec, Indicator, IndicatorStatus,
    IndicatorType, ItemId, NewHit, NewItem, Source, SourceClass, SourceId, Tlp,
};
use rexist_query::{Doc, Hit, HuntSet, WatchSet, parse, parse_watchlist};
use rexist_store::{
    IndicatorQuery, ItemChange, ItemQuery, ReportTime, Result, RetroHunt, RetroStatus, Store,
    StoreError,
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

/// An item as query hunts see it: id, content, source name, and the names
/// of the threat entities it names.
pub type ItemForHunt<'a> = (ItemId, &'a NewItem, &'a str, &'a [String]);

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

    /// Query-hunt hits of items (with the given source names and the names
    /// of the entities each names), as hits to record.
    pub fn item_hits(&self, items: &[ItemForHunt<'_>], retro: bool) -> Vec<NewHit> {
        let mut out = Vec::new();
        if self.queries.is_empty() {
            return out;
        }
        for (id, item, source, entities) in items {
            let tlp = item.tlp.as_str();
            let doc = Doc {
                title: &item.title,
                body: &item.body,
                kind: item.kind.as_str(),
                source,
                tags: &item.tags,
                lang: item.lang.as_deref(),
                tlp,
                entities,
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

/// Each source's class, and whether it is a CVE's database (NVD, JVN, KEV).
#[derive(Debug, Clone, Default)]
pub struct SourceClasses {
    by_id: HashMap<SourceId, (SourceClass, bool)>,
}

impl SourceClasses {
    /// The classes of `sources`, by their kinds.
    pub fn new(sources: &[Source]) -> Self {
        Self {
            by_id: sources
                .iter()
                .map(|s| (s.id, (source_class(&s.kind), is_cve_authority(&s.kind))))
                .collect(),
        }
    }

    /// Whether any source is NVD, JVN or KEV: without one, no CVE can be
    /// said to lack its database entry.
    pub fn has_authority(&self) -> bool {
        self.by_id.values().any(|(_, authority)| *authority)
    }

    fn class(&self, id: SourceId) -> SourceClass {
        self.by_id.get(&id).map_or(SourceClass::Other, |c| c.0)
    }

    fn authority(&self, id: SourceId) -> bool {
        self.by_id.get(&id).is_some_and(|c| c.1)
    }
}

/// The watches whose early-warning entries a CVE's reports satisfy: a
/// report by a discussion source (social, news, exchange; the entry's
/// class only, when it names one) before any NVD, JVN or KEV report —
/// or, when none of those has reported it yet, any such report, provided
/// a database source exists and the id is recent enough to be unpublished
/// ([`cve_may_be_unpublished`]). `live` (a report arriving now) asks for
/// the second case only: a CVE whose entry exists is no news any more. One
/// hit per watch, its terms the entries that held, by watch id.
pub fn early_hits(
    watches: &WatchSet,
    value: &str,
    times: &[ReportTime],
    classes: &SourceClasses,
    now: time::OffsetDateTime,
    live: bool,
) -> Vec<Hit> {
    let entry = times
        .iter()
        .filter(|t| classes.authority(t.source))
        .map(|t| t.at)
        .min();
    match entry {
        Some(_) if live => return Vec::new(),
        None if !classes.has_authority() || !cve_may_be_unpublished(value, now) => {
            return Vec::new();
        }
        _ => {}
    }
    let mut hits: Vec<Hit> = Vec::new();
    for t in times.iter().filter(|t| entry.is_none_or(|e| t.at < e)) {
        for hit in watches.early_warnings(classes.class(t.source)) {
            match hits.iter_mut().find(|h| h.hunt == hit.hunt) {
                Some(h) => {
                    for term in hit.terms {
                        if !h.terms.contains(&term) {
                            h.terms.push(term);
                        }
                    }
                }
                None => hits.push(hit),
            }
        }
    }
    hits.sort_by_key(|h| h.hunt);
    hits
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
        entities: HashMap<ItemId, Vec<String>>,
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
                .map(|(id, i)| {
                    let named = entities.get(id).map_or(&[][..], Vec::as_slice);
                    (*id, i, name.as_str(), named)
                })
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

    /// Evaluates watch hunts on indicators `source` just sighted (its
    /// early-warning entries on CVEs a discussion source reported), and
    /// flags those on a warning list or allow-list.
    pub async fn on_indicators<'a>(
        self: &Arc<Self>,
        source: &Source,
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
        let cves: Vec<String> = if compiled.watches.has_early_warnings()
            && source_class(&source.kind).is_discussion()
        {
            let mut cves: Vec<String> = owned
                .iter()
                .filter(|(k, _)| *k == IndicatorType::Cve)
                .map(|(_, v)| v.clone())
                .collect();
            cves.sort_unstable();
            cves.dedup();
            cves
        } else {
            Vec::new()
        };
        let early = self
            .early(&compiled.watches, source_class(&source.kind), &cves)
            .await?;
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
        let mut matched = matched;
        matched.extend(early);
        self.record_indicator_hits(matched, false).await
    }

    /// Early-warning hits of CVEs a discussion source just reported: those
    /// no NVD, JVN or KEV source has reported yet.
    async fn early(
        &self,
        watches: &WatchSet,
        class: SourceClass,
        cves: &[String],
    ) -> Result<Vec<(HuntId, IndicatorType, String, Vec<String>)>> {
        let wanted: Vec<HuntId> = watches
            .early_warnings(class)
            .iter()
            .map(|h| hunt_id(h.hunt))
            .collect();
        // A CVE every such hunt has hit already costs no store read.
        let cves: Vec<&String> = cves
            .iter()
            .filter(|v| {
                !self.recorded.lock().is_ok_and(|r| {
                    wanted
                        .iter()
                        .all(|h| r.contains(&(*h, IndicatorType::Cve, (*v).clone())))
                })
            })
            .collect();
        if wanted.is_empty() || cves.is_empty() {
            return Ok(Vec::new());
        }
        let classes = SourceClasses::new(&self.store.list_sources().await?);
        if !classes.has_authority() {
            return Ok(Vec::new());
        }
        let now = rexist_core::model::now();
        let mut out = Vec::new();
        for value in cves {
            if !cve_may_be_unpublished(value, now) {
                continue;
            }
            let Some(record) = self.store.indicator(IndicatorType::Cve, value).await? else {
                continue;
            };
            // The fact that a database has it is not the reader's to hide.
            let times = self.store.report_times(record.id, Tlp::Red).await?;
            for hit in early_hits(watches, value, &times, &classes, now, true) {
                out.push((
                    hunt_id(hit.hunt),
                    IndicatorType::Cve,
                    (*value).clone(),
                    hit.terms,
                ));
            }
        }
        Ok(out)
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
            // An analyst's false positive is no hit, whoever reports it.
            let Some(record) = self
                .store
                .indicator(kind, &key.2)
                .await?
                .filter(|r| r.status != IndicatorStatus::FalsePositive)
            else {
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

/// What a retro-hunt did (`RetroCounts` in the API's OpenAPI document).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = RetroCounts)]
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
                let ids: Vec<ItemId> = page.items.iter().map(|i| i.id).collect();
                let entities =
                    crate::entities::names_of_items(store.as_ref(), &ids, Tlp::Red).await?;
                let (c, names) = (Arc::clone(&compiled), Arc::clone(&names));
                let hits = tokio::task::spawn_blocking(move || {
                    let refs: Vec<_> = page
                        .items
                        .iter()
                        .map(|i| {
                            let name = names.get(&i.source_id).map_or("", String::as_str);
                            let named = entities.get(&i.id).map_or(&[][..], Vec::as_slice);
                            (i.id, &i.content, name, named)
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
            let early = compiled.watches.has_early_warnings();
            let classes = if early {
                SourceClasses::new(&store.list_sources().await?)
            } else {
                SourceClasses::default()
            };
            let now = rexist_core::model::now();
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
                    .filter(|r| r.status != IndicatorStatus::FalsePositive)
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
                let mut hits = hits;
                // A CVE's history answers its early-warning entries: was it
                // discussed before its database entry (or is it still
                // waiting for one)?
                for r in page.items.iter().filter(|r| {
                    early
                        && r.kind == IndicatorType::Cve
                        && r.status != IndicatorStatus::FalsePositive
                }) {
                    let times = store.report_times(r.id, Tlp::Red).await?;
                    for h in early_hits(&compiled.watches, &r.value, &times, &classes, now, false) {
                        hits.push(NewHit {
                            hunt: hunt_id(h.hunt),
                            object: HitObject::Indicator(r.id),
                            terms: h.terms,
                            retro: true,
                        });
                    }
                }
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

/// What [`retro_recorded`] is told to stop by, and how often it beats.
#[derive(Debug, Clone)]
pub struct RetroOptions {
    /// How often the progress is saved (the heartbeat the sweep watches).
    pub heartbeat: Duration,
    /// Turns true: stop at once and record the retro-hunt interrupted.
    pub cancel: Option<tokio::sync::watch::Receiver<bool>>,
}

/// Why a retro-hunt cut short by a shutdown was stopped.
pub const RETRO_SHUTDOWN: &str = "interrupted: rexist was shutting down";

/// Runs [`retro`] and records it in the store as the hunt's latest
/// retro-hunt: running (with counts saved every `options.heartbeat`, which
/// is also what tells the sweep it is alive), then done, failed or — when
/// `options.cancel` turns true — interrupted. Returns what was recorded
/// last. A failure is recorded, not returned: only a store that refuses
/// the record itself is an error.
pub async fn retro_recorded(
    store: &Arc<dyn Store>,
    hunt: &Hunt,
    options: RetroOptions,
    mut progress: impl FnMut(RetroSummary) + Send,
) -> Result<RetroHunt> {
    let queued_at = store
        .retro_hunts(Some(hunt.id))
        .await?
        .into_iter()
        .next()
        .filter(|r| r.status == RetroStatus::Queued)
        .map_or_else(rexist_core::model::now, |r| r.queued_at);
    let started = RetroHunt {
        hunt: hunt.id,
        status: RetroStatus::Running,
        scanned: 0,
        hits: 0,
        announced: 0,
        queued_at,
        started_at: Some(rexist_core::model::now()),
        finished_at: None,
        error: None,
    };
    store.save_retro_hunt(&started).await?;
    let counts = Arc::new(Mutex::new(RetroSummary::default()));
    let beat = RetroBeat::start(
        Arc::clone(store),
        started.clone(),
        Arc::clone(&counts),
        options.heartbeat,
    );
    let work = retro(store, hunt, |s| {
        if let Ok(mut c) = counts.lock() {
            *c = s;
        }
        progress(s);
    });
    let outcome = match options.cancel {
        Some(mut cancel) => tokio::select! {
            r = work => Some(r),
            () = crate::liveness::stopped(&mut cancel) => None,
        },
        None => Some(work.await),
    };
    // The beat must have stopped before the end is written: a late beat
    // would turn a finished retro-hunt back into a running one.
    beat.stop().await;
    let so_far = counts.lock().map(|c| *c).unwrap_or_default();
    let (status, summary, error) = match outcome {
        Some(Ok(summary)) => (RetroStatus::Done, summary, None),
        Some(Err(e)) => {
            tracing::warn!(hunt = %hunt.spec.name, error = %e, "retro-hunt failed");
            (RetroStatus::Failed, so_far, Some(e.to_string()))
        }
        None => (
            RetroStatus::Interrupted,
            so_far,
            Some(RETRO_SHUTDOWN.to_owned()),
        ),
    };
    let end = RetroHunt {
        status,
        scanned: summary.scanned,
        hits: summary.hits,
        announced: summary.announced,
        finished_at: Some(rexist_core::model::now()),
        error,
        ..started
    };
    store.save_retro_hunt(&end).await?;
    Ok(end)
}

/// Saves a running retro-hunt's counts every heartbeat until stopped.
struct RetroBeat {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RetroBeat {
    fn start(
        store: Arc<dyn Store>,
        record: RetroHunt,
        counts: Arc<Mutex<RetroSummary>>,
        every: Duration,
    ) -> Self {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    _ = stopped.changed() => return,
                }
                let s = counts.lock().map(|c| *c).unwrap_or_default();
                let beat = RetroHunt {
                    scanned: s.scanned,
                    hits: s.hits,
                    announced: s.announced,
                    ..record.clone()
                };
                if let Err(e) = store.save_retro_hunt(&beat).await {
                    tracing::warn!(hunt = %record.hunt, error = %e, "retro-hunt heartbeat not saved");
                }
            }
        });
        Self { stop, task }
    }

    /// Stops beating once a save in flight has finished.
    async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "retro-hunt heartbeat task failed");
        }
    }
}
