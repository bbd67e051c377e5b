//! rexist's storage: one [`Store`] interface, two backends that behave
//! identically — embedded SQLite (the default, one file under the data
//! directory) and PostgreSQL (for several nodes sharing one database).
//!
//! Only this crate writes SQL. The conformance suite in `tests/conformance.rs`
//! runs the same tests against both backends; a behaviour that differs between
//! them is a bug. Start with [`open`], then the [`Store`] trait.
//!
//! Design notes:
//! - The store is value-centric: an indicator `(type, canonical value)` exists
//!   once; sightings say who reported it, where and when. Re-ingesting the same
//!   data adds no sighting and moves only `last_seen`
//!   ([`Store::upsert_sightings`]).
//! - Full text is tokenised in Rust ([`fts`]) so both engines index the same
//!   tokens, and unspaced Japanese is searchable.
//! - The job queue ([`Store::lease_job`]) hands a job to one worker for a
//!   short lease that the worker renews ([`Store::renew_job`]); an expired
//!   lease makes the job available again, so a crashed worker loses nothing.
//!   Runs carry a heartbeat too ([`Store::heartbeat_run`]): a run whose
//!   process died is marked interrupted by [`Store::interrupt_stale_runs`].
//! - Nothing a node must share with the others lives only in its memory:
//!   retro-hunt progress ([`Store::retro_hunts`]), TAXII status resources
//!   ([`Store::taxii_status`]) and enrichment answers
//!   ([`Store::cached_enrichment`]) are rows, each with a bounded lifetime.

mod activity;
mod curation;
mod decode;
mod entities;
mod error;
mod exports;
pub mod fts;
mod migrate;
pub mod postgres;
mod retire;
pub mod search;
mod sharing;
pub mod sqlite;
mod state;
mod types;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rexist_core::{
    Alert, AlertId, ApiToken, AuditEntry, ChannelHealth, Curation, ExportRow, HitId, HitObject,
    Hunt, HuntHit, HuntId, HuntSpec, Indicator, IndicatorId, IndicatorRecord, IndicatorType, Item,
    ItemId, JobId, LocalSighting, LocalSightings, Mention, NewAudit, NewHit, NewItem,
    NewLocalSighting, NewRelation, NewSighting, NewToken, Note, NoteTarget, Relation,
    RetractReason, Retraction, Role, Run, RunCounts, RunId, RunOutcome, Sighting, Source, SourceId,
    SourceSpec, Tlp, UpsertSummary, User,
};

pub use activity::{Activity, DayCount};
pub use curation::CurationChange;
pub use entities::{EntityFacts, EntityLink, MAX_INDICATOR_ENTITIES};
pub use error::{ErrorKind, StoreError};
pub use exports::StoredExport;
pub use search::{
    FacetCount, Facets, IndicatorFilter, IndicatorSearch, IndicatorSort, ItemFilter, ItemSearch,
    ItemSort, SavedSearch,
};
pub use state::{CachedEnrichment, MAX_CACHED_ANSWER, RetroHunt, RetroStatus, TaxiiStatus};
pub use types::{
    AlertQuery, CoOccurrence, Connected, ConnectedQuery, Counted, DomainQuery, EarlyCve,
    EarlyCveQuery, ExportQuery, HitQuery, IndicatorContext, IndicatorQuery, ItemChange, ItemQuery,
    ItemSightingQuery, Job, MAX_EARLY_CVES, MAX_EXPORT_PAGE, MentionRef, NewJob, Page, RecentQuery,
    ReportTime, StoreStats, UserChange,
};

/// Result of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which backend a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Lower-case name, as printed in benchmark and health output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// Everything rexist keeps. Implemented by [`sqlite::SqliteStore`] and
/// [`postgres::PgStore`], which must behave identically.
#[async_trait]
pub trait Store: Send + Sync {
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// Applies pending migrations; returns how many were applied.
    async fn migrate(&self) -> Result<usize>;

    /// Writes a consistent copy of the whole store to `dest` while it stays
    /// in use; returns the copy's size in bytes. `dest` must not exist.
    /// Only the embedded SQLite store can: PostgreSQL has `pg_dump`.
    async fn backup(&self, dest: &Path) -> Result<u64> {
        let _ = dest;
        Err(StoreError::invalid(
            "a PostgreSQL store is backed up with pg_dump (see docs/operations.md), not rexist backup",
        ))
    }

    /// Registers a source or updates its settings (not its health); by name.
    async fn upsert_source(&self, spec: &SourceSpec) -> Result<Source>;
    /// The source with this name.
    async fn source_by_name(&self, name: &str) -> Result<Option<Source>>;
    /// The source with this id.
    async fn source(&self, id: SourceId) -> Result<Option<Source>>;
    /// All sources, by name.
    async fn list_sources(&self) -> Result<Vec<Source>>;
    /// Enables or disables a source; false if there is no such source.
    async fn set_source_enabled(&self, name: &str, enabled: bool) -> Result<bool>;

    /// Deletes a source with everything it stored: its runs, its items
    /// (with their mentions, full text and hunt hits), its sightings and its
    /// relations. An indicator no other source reported is deleted with its
    /// hits; one that others reported stays, its counts, seen range, score
    /// and TLP recomputed from the sightings left. Returns how many
    /// indicators were deleted; nothing at all for an unknown source.
    async fn delete_source(&self, source: SourceId) -> Result<u64>;

    /// Records the start of a run, its heartbeat fresh.
    async fn start_run(&self, source: SourceId) -> Result<Run>;
    /// Renews a running run's heartbeat and saves the counts it has
    /// committed so far; false when it is no longer running (a sweep took
    /// it for dead and marked it interrupted).
    async fn heartbeat_run(&self, run: RunId, counts: &RunCounts) -> Result<bool>;
    /// Marks every running run whose heartbeat is older than `stale_after`
    /// as [`RunOutcome::Interrupted`], finished now with the counts of its
    /// last heartbeat; the cursor stays where it was and the source's
    /// failure count is left alone. Returns the runs it marked.
    async fn interrupt_stale_runs(&self, stale_after: Duration) -> Result<Vec<Run>>;
    /// Records the end of a run and updates the source's health (an
    /// interrupted run counts neither as a success nor as a failure). A run
    /// a sweep marked interrupted whose process was alive after all gets
    /// its real end.
    async fn finish_run(
        &self,
        run: RunId,
        outcome: RunOutcome,
        counts: &RunCounts,
        cursor: Option<&str>,
        error: Option<&str>,
    ) -> Result<Run>;
    /// Runs, newest first, of one source or of all; `before` pages backwards.
    async fn list_runs(
        &self,
        source: Option<SourceId>,
        before: Option<RunId>,
        limit: u32,
    ) -> Result<Vec<Run>>;
    /// Cursor of the source's latest successful or partial run that saved one.
    async fn last_cursor(&self, source: SourceId) -> Result<Option<String>>;

    /// Stores items of a source, keyed by `external_id`: new ones are inserted,
    /// changed ones updated, identical ones left alone. One result per input, in order.
    async fn upsert_items(&self, source: SourceId, items: &[NewItem]) -> Result<Vec<ItemChange>>;
    /// The item with this id.
    async fn item(&self, id: ItemId) -> Result<Option<Item>>;
    /// Items matching a query, newest first.
    async fn search_items(&self, query: &ItemQuery) -> Result<Page<Item>>;
    /// One page of an analyst's item search: every filter of
    /// [`ItemSearch`] in the statement, in its order (see [`search`]).
    async fn search_items_by(&self, query: &ItemSearch) -> Result<Page<Item>>;
    /// How many items match `filter` by kind, source and TLP, each facet
    /// counting the matches of the other filters, at most
    /// [`search::FACET_SCAN`] rows each.
    async fn item_facets(&self, filter: &ItemFilter) -> Result<Facets>;

    /// Upserts sightings of `source`, in batches: a new (indicator, source,
    /// item) triple is a new sighting; a known one only moves `last_seen`.
    /// Either way the sighting is a fresh report: it is listed, no longer
    /// retired, and its `expires_at` is the report's `valid_until` (the
    /// latest of them when a batch repeats the triple); an expired or
    /// retired indicator becomes active again.
    async fn upsert_sightings(
        &self,
        source: &Source,
        sightings: &[NewSighting],
    ) -> Result<UpsertSummary>;
    /// Records where indicators occur in an item's text, and a sighting of each.
    async fn record_mentions(
        &self,
        source: &Source,
        item: ItemId,
        mentions: &[Mention],
    ) -> Result<UpsertSummary>;
    /// Marks the feed sightings (in no item) of `source` not seen since
    /// `before` as no longer listed: a snapshot feed dropped them. They are
    /// kept, retired at `before` with the reason `delisted`; a later
    /// sighting lists them again. An indicator left with no listed sighting
    /// becomes `retired` (as in [`Store::retire_sightings`]). Returns how
    /// many sightings changed.
    async fn mark_unlisted(&self, source: SourceId, before: time::OffsetDateTime) -> Result<u64>;
    /// Retires what `source` withdrew: every sighting of each retracted
    /// indicator by `source` (in any item) not yet retired becomes unlisted,
    /// with the retraction's time and reason; nothing is deleted. Unknown
    /// indicators are skipped (nothing is stored for them); a retraction
    /// repeated for the same indicator keeps the first. Returns how many
    /// sightings were retired.
    ///
    /// An affected indicator left with no listed, unretired sighting from
    /// any source becomes `retired`, its reason naming the withdrawal and
    /// the source (`revoked by taxii-partner`), unless it is allow-listed
    /// (allow-listing wins); its `added` time moves to now, so readers that
    /// page by it (TAXII `added_after`) see its revoked version. A later
    /// sighting makes it active again.
    async fn retire_sightings(&self, source: &Source, retractions: &[Retraction]) -> Result<u64>;
    /// Retires `source`'s stated sightings in `item` whose indicator is not in
    /// `keep` (the indicators the item's new version states), with `reason`
    /// (normally `RetractReason::Deleted`) at `at`: an upstream that publishes
    /// a new version of an event (an OTX pulse, a MISP event) without an
    /// indicator it listed before has withdrawn it from that event only; the
    /// source's sightings of it in other items and in its feed stay listed.
    /// Returns how many sightings were retired; indicators follow the same
    /// status rule as [`Store::retire_sightings`] (retired when no listed,
    /// unretired sighting remains, unless allow-listed; TAXII `added`
    /// moves). An indicator in `keep` that is not stored is ignored.
    ///
    /// Mentions found in the item's text are not stated sightings and are
    /// left alone. The schema keeps one sighting per (indicator, source,
    /// item), so a stated sighting and a mention share a row; a mention is
    /// told apart by its `mentions` row for the item ([`Store::record_mentions`]
    /// writes both). A sighting whose indicator has a `mentions` row for the
    /// item is therefore never retired here, even when the upstream stated
    /// it too: it is still reported by the item's text. Indicators the
    /// pipeline extracts from an item's *title* are sighted through
    /// [`Store::upsert_sightings`] with no `mentions` row and cannot be told
    /// from stated ones: the caller must put them in `keep`.
    async fn retire_item_sightings(
        &self,
        source: &Source,
        item: ItemId,
        keep: &[Indicator],
        reason: RetractReason,
        at: time::OffsetDateTime,
    ) -> Result<u64>;
    /// Retires, with the reason `expired` and at their own expiry time,
    /// the sightings whose upstream validity (`expires_at`) ended at or
    /// before `at` and that are not retired yet; indicators follow as in
    /// [`Store::retire_sightings`]. Returns how many sightings were retired.
    async fn retire_expired(&self, at: time::OffsetDateTime) -> Result<u64>;
    /// The indicator with this type and canonical value.
    async fn indicator(&self, kind: IndicatorType, value: &str) -> Result<Option<IndicatorRecord>>;
    /// Indicators matching a query, in value order (so prefix pages are stable).
    async fn list_indicators(&self, query: &IndicatorQuery) -> Result<Page<IndicatorRecord>>;
    /// One page of an analyst's indicator search: every filter of
    /// [`IndicatorFilter`] in the statement, in the search's order, keyset
    /// paged (the value order's cursors are [`Store::list_indicators`]'s).
    async fn search_indicators(&self, query: &IndicatorSearch) -> Result<Page<IndicatorRecord>>;
    /// How many indicators match `filter` by type, status, TLP and source,
    /// each facet counting the matches of the other filters, at most
    /// [`search::FACET_SCAN`] rows each; a source counts an indicator only
    /// through a sighting within the clearance.
    async fn indicator_facets(&self, filter: &IndicatorFilter) -> Result<Facets>;
    /// What a watchlist's `domain:` entry can match, however many
    /// indicators are stored: the domain, its sub-domains and the e-mail
    /// addresses at them (ranges of the reversed-host index), and the URLs
    /// that name the domain (a scan of the URL rows, and a superset: one
    /// naming it in its path is included, callers narrow URLs by their
    /// host), each at most `max_tlp`; in value order, paged like
    /// [`Store::list_indicators`].
    async fn indicators_at_or_below(&self, query: &DomainQuery) -> Result<Page<IndicatorRecord>>;
    /// Indicators matching a [`RecentQuery`], most recently seen first
    /// (then newest stored), one page from `offset`, with how many match
    /// counted up to `count_up_to`. Every filter is applied in the store,
    /// so a match is found however many indicators are stored.
    async fn recent_indicators(&self, query: &RecentQuery) -> Result<Counted<IndicatorRecord>>;
    /// Sightings stated in items matching an [`ItemSightingQuery`], each
    /// with its indicator, most recently seen first (then newest), one
    /// page from `offset`, with how many match counted up to
    /// `count_up_to`. Every filter is applied in the store.
    async fn item_sightings(
        &self,
        query: &ItemSightingQuery,
    ) -> Result<Counted<(Sighting, IndicatorRecord)>>;
    /// Records relations stated by `source`, with a sighting of each end;
    /// returns how many relations were new. A known relation moves `last_seen`.
    async fn add_relations(&self, source: &Source, relations: &[NewRelation]) -> Result<u64>;
    /// Relations from or to an indicator, most recent first.
    async fn relations_of(&self, indicator: rexist_core::IndicatorId) -> Result<Vec<Relation>>;
    /// Sightings of an indicator, most recent first.
    async fn sightings_of(&self, indicator: rexist_core::IndicatorId) -> Result<Vec<Sighting>>;
    /// When each source first reported an indicator (see
    /// [`ReportTime::at`]), counting only sightings, and item publication
    /// times, at most `max_tlp`; one row per source, earliest first (then
    /// by source id).
    async fn report_times(&self, indicator: IndicatorId, max_tlp: Tlp) -> Result<Vec<ReportTime>>;

    /// The indicator with this id.
    async fn indicator_by_id(&self, id: IndicatorId) -> Result<Option<IndicatorRecord>>;

    /// The stored indicators among these (type, canonical value) pairs, in no set order.
    async fn indicators_by_values(
        &self,
        keys: &[(IndicatorType, String)],
    ) -> Result<Vec<IndicatorRecord>>;
    /// The items with these ids that exist, in id order.
    async fn items_by_id(&self, ids: &[ItemId]) -> Result<Vec<Item>>;
    /// Indicators a lookup connects to the value asked about (see
    /// [`ConnectedQuery`]), each at most `max_tlp`, with the names of the
    /// sources whose sightings at most `max_tlp` report it; no indicator
    /// twice, in no set order.
    async fn connected(&self, query: &ConnectedQuery) -> Result<Vec<Connected>>;
    /// Where an indicator occurs in item text, newest items first.
    async fn mentions_of(&self, indicator: IndicatorId, limit: u32) -> Result<Vec<MentionRef>>;
    /// Other indicators sighted in the same items as this one, most shared first.
    /// Only items and indicators at most `max_tlp` count.
    async fn co_occurring(
        &self,
        indicator: IndicatorId,
        limit: u32,
        max_tlp: rexist_core::Tlp,
    ) -> Result<Vec<CoOccurrence>>;
    /// Hits on an object, newest first.
    async fn hits_of(&self, object: HitObject) -> Result<Vec<HuntHit>>;
    /// What a lookup shows of one stored indicator: its sightings, the
    /// items that mention it (at most `items`), what co-occurs with it (at
    /// most `related`, up to `max_tlp`), its stated relations and its hunt
    /// hits — each as its own method returns it. SQLite reads them on one
    /// connection in one call: a lookup is a handful of short statements,
    /// and a pooled-connection round trip per statement cost more than the
    /// statements.
    async fn indicator_context(
        &self,
        indicator: IndicatorId,
        items: u32,
        related: u32,
        max_tlp: rexist_core::Tlp,
    ) -> Result<IndicatorContext> {
        let (sightings, mentions, co_occurring, relations, hits) = tokio::try_join!(
            self.sightings_of(indicator),
            self.mentions_of(indicator, items),
            self.co_occurring(indicator, related, max_tlp),
            self.relations_of(indicator),
            self.hits_of(HitObject::Indicator(indicator)),
        )?;
        Ok(IndicatorContext {
            sightings,
            mentions,
            co_occurring,
            relations,
            hits,
        })
    }
    /// Marks active indicators not sighted within their type's lifetime as
    /// expired (kept; a new sighting makes them active again); returns how many.
    async fn expire_indicators(&self, lifetimes: &[(IndicatorType, Duration)]) -> Result<u64>;
    /// Flags indicators as allow-listed with a reason (the warning list's
    /// name); returns how many changed. Unknown ones are skipped, and so
    /// are those marked false positives (the analyst's mark stands).
    async fn flag_indicators(&self, flags: &[(IndicatorType, String, String)]) -> Result<u64>;

    /// Creates a hunt; a stored hunt of the same name is a conflict.
    async fn create_hunt(&self, spec: &HuntSpec) -> Result<Hunt>;
    /// Replaces a hunt's settings; `None` if there is no such hunt.
    async fn update_hunt(&self, id: HuntId, spec: &HuntSpec) -> Result<Option<Hunt>>;
    /// Deletes a hunt with its hits and alerts; false if there was none.
    async fn delete_hunt(&self, id: HuntId) -> Result<bool>;
    /// The hunt with this id.
    async fn hunt(&self, id: HuntId) -> Result<Option<Hunt>>;
    /// The hunt with this name.
    async fn hunt_by_name(&self, name: &str) -> Result<Option<Hunt>>;
    /// All hunts, by name.
    async fn list_hunts(&self) -> Result<Vec<Hunt>>;
    /// A value that changes whenever a hunt is created, changed or deleted,
    /// cheap enough to poll before every batch.
    async fn hunts_revision(&self) -> Result<String>;

    /// Records hits, once per hunt × object: a known pair is left alone.
    /// Returns the new hits. In the same transaction, each new hit of a hunt
    /// that alerts per hit gets one pending alert per channel of the hunt
    /// (the outbox), so a hit is never stored without its alerts.
    async fn record_hits(&self, hits: &[NewHit]) -> Result<Vec<HuntHit>>;
    /// Hits matching a query, newest first.
    async fn list_hits(&self, query: &HitQuery) -> Result<Page<HuntHit>>;
    /// The hits with these ids, in id order.
    async fn hits_by_id(&self, ids: &[HitId]) -> Result<Vec<HuntHit>>;
    /// Acknowledges hits by id, or all unacknowledged hits of `hunt` (or of
    /// every hunt) when `ids` is empty; returns how many changed.
    async fn ack_hits(&self, ids: &[HitId], hunt: Option<HuntId>, by: &str) -> Result<u64>;
    /// Applies a triage change to each hit of `ids` that exists, recording
    /// it in the hit's history; closing a hit (or calling it a false
    /// positive) acknowledges it too. Returns how many hits changed.
    async fn triage_hits(&self, ids: &[HitId], change: &rexist_core::TriageChange) -> Result<u64>;
    /// A hit's triage history, oldest first.
    async fn hit_triage_log(&self, hit: HitId) -> Result<Vec<rexist_core::TriageEntry>>;
    /// Queues one digest alert per channel of `hunt` covering its hits not
    /// yet announced (retro-hunt hits when `retro`), marks them announced and
    /// stamps the hunt's digest time; returns how many hits it covers.
    async fn queue_digest(&self, hunt: HuntId, retro: bool) -> Result<u64>;

    /// Hands the oldest due pending alert to one of `channels` to `worker`
    /// for `lease`, or takes back one whose lease expired.
    async fn lease_alert(
        &self,
        worker: &str,
        channels: &[&str],
        lease: Duration,
    ) -> Result<Option<Alert>>;
    /// Marks a leased alert delivered; false if the lease was lost.
    async fn complete_alert(&self, id: AlertId, worker: &str) -> Result<bool>;
    /// Records a failed attempt: pending again at `retry_in` from now, or
    /// failed for good; false if the lease was lost.
    async fn fail_alert(
        &self,
        id: AlertId,
        worker: &str,
        error: &str,
        retry_in: Option<Duration>,
    ) -> Result<bool>;
    /// Alerts matching a query, newest first.
    async fn list_alerts(&self, query: &AlertQuery) -> Result<Page<Alert>>;
    /// Delivery health per channel that has alerts.
    async fn channel_health(&self) -> Result<Vec<ChannelHealth>>;

    /// Counts for the home page and `/metrics`.
    async fn stats(&self) -> Result<StoreStats>;

    /// New items by kind, new indicators by type (both at or below
    /// `max_tlp`) and new objects by source (from run counts, which carry no
    /// TLP), per UTC day from `since`.
    async fn activity(&self, since: time::OffsetDateTime, max_tlp: Tlp) -> Result<Activity>;
    /// The most sighted indicators at or below `max_tlp`, most first (then by id).
    async fn top_indicators(&self, limit: u32, max_tlp: Tlp) -> Result<Vec<IndicatorRecord>>;
    /// CVEs stored since `query.since` that a discussion source reported
    /// before any authority source did — or that no authority has reported
    /// yet (when there is an authority source and the id is recent enough)
    /// — ranked by lead: authority time (for those still without an entry,
    /// `query.now`) − first discussion time, longest first, then by id.
    /// Report times are as [`Store::report_times`] reads them, within the
    /// clearance.
    async fn early_cves(&self, query: &EarlyCveQuery) -> Result<Vec<EarlyCve>>;

    /// One page of indicators for exports and TAXII, in the order they were added.
    async fn export_indicators(&self, query: &ExportQuery) -> Result<Vec<ExportRow>>;

    /// Creates a user; a taken name is a conflict.
    async fn create_user(&self, name: &str, password_hash: &str, role: Role) -> Result<User>;
    /// A user and its password hash, to check a login.
    async fn user_credentials(&self, name: &str) -> Result<Option<(User, String)>>;
    /// Changes a user's password hash, role or disabled flag; `None` if there is no such user.
    async fn update_user(&self, name: &str, change: &UserChange) -> Result<Option<User>>;
    /// Every user, by name.
    async fn list_users(&self) -> Result<Vec<User>>;
    /// Stores a token or session; a token name already in use is a conflict.
    async fn create_token(&self, token: &NewToken) -> Result<ApiToken>;
    /// The usable token or session with this secret hash: not revoked, not
    /// expired, its user (if any) not disabled. A session carries its user's role.
    async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>>;
    /// Notes that a token was used now (callers throttle this).
    async fn touch_token(&self, id: i64) -> Result<()>;
    /// Tokens (not sessions), newest first, revoked ones included.
    async fn list_tokens(&self) -> Result<Vec<ApiToken>>;
    /// Revokes the token with this name, or every session of the user when
    /// `kind` is `session`; returns how many were revoked.
    async fn revoke_token(&self, kind: &str, name: &str) -> Result<u64>;
    /// Revokes the session with this secret hash (logout).
    async fn end_session(&self, hash: &str) -> Result<bool>;
    /// Appends to the audit log.
    async fn record_audit(&self, entry: &NewAudit) -> Result<()>;
    /// The audit log, newest first, from before `before`.
    async fn list_audit(&self, before: Option<i64>, limit: u32) -> Result<Page<AuditEntry>>;
    /// Deletes audit entries older than `before`; returns how many.
    async fn prune_audit(&self, before: time::OffsetDateTime) -> Result<u64>;

    /// Queues a job. With a `dedup_key`, a job whose key is already queued or
    /// running is not queued again: `None` is returned.
    async fn enqueue_job(&self, job: &NewJob) -> Result<Option<JobId>>;
    /// Hands the oldest due job of one of `kinds` to `worker` for `lease`, or
    /// takes back a job whose lease expired.
    async fn lease_job(&self, worker: &str, kinds: &[&str], lease: Duration)
    -> Result<Option<Job>>;
    /// Extends a leased job's lease to `lease` from now and renews its
    /// heartbeat; false if the lease was lost.
    async fn renew_job(&self, id: JobId, worker: &str, lease: Duration) -> Result<bool>;
    /// Hands a leased job back, due at once and its attempt not counted
    /// (the worker is stopping); false if the lease was lost.
    async fn release_job(&self, id: JobId, worker: &str) -> Result<bool>;
    /// Marks a leased job done (and removes it); false if the lease was lost.
    async fn complete_job(&self, id: JobId, worker: &str) -> Result<bool>;
    /// Marks a leased job failed: queued again at `retry_in` from now, or
    /// failed for good; false if the lease was lost.
    async fn fail_job(
        &self,
        id: JobId,
        worker: &str,
        error: &str,
        retry_in: Option<Duration>,
    ) -> Result<bool>;

    /// Queues `job`, a retro-hunt of `hunt`, and records that retro-hunt as
    /// queued (counts zero, replacing the hunt's previous one) in one
    /// transaction; `None`, with nothing recorded, when a job with its key
    /// is already queued or running, or the hunt does not exist.
    async fn queue_retro_hunt(&self, hunt: HuntId, job: &NewJob) -> Result<Option<JobId>>;
    /// Records a retro-hunt's progress or end and renews its heartbeat;
    /// nothing when its hunt no longer exists.
    async fn save_retro_hunt(&self, retro: &RetroHunt) -> Result<()>;
    /// The latest retro-hunt of `hunt`, or of every hunt that had one, by hunt id.
    async fn retro_hunts(&self, hunt: Option<HuntId>) -> Result<Vec<RetroHunt>>;
    /// Marks every running retro-hunt whose heartbeat is older than
    /// `stale_after` as interrupted, finished now with the counts of its last
    /// heartbeat (its job's lease runs out and another worker runs it
    /// again); returns them.
    async fn interrupt_stale_retro_hunts(&self, stale_after: Duration) -> Result<Vec<RetroHunt>>;

    /// Stores a TAXII status resource (replacing one with its id) and
    /// deletes those whose request is more than `keep` old.
    async fn save_taxii_status(&self, status: &TaxiiStatus, keep: Duration) -> Result<()>;
    /// The status resource `id` of the API root `api_root`.
    async fn taxii_status(&self, api_root: &str, id: &str) -> Result<Option<TaxiiStatus>>;

    /// The exports defined through the API and the UI, by name.
    async fn list_stored_exports(&self) -> Result<Vec<StoredExport>>;
    /// The stored export `name`.
    async fn stored_export(&self, name: &str) -> Result<Option<StoredExport>>;
    /// Stores a new export definition (a JSON object) by `by`; a conflict
    /// when the name is taken.
    async fn create_stored_export(
        &self,
        name: &str,
        definition: &serde_json::Value,
        by: &str,
    ) -> Result<StoredExport>;
    /// Replaces the definition of `name`, renaming it to `new_name`; `None`
    /// when there is no such export, a conflict when `new_name` is taken.
    async fn update_stored_export(
        &self,
        name: &str,
        new_name: &str,
        definition: &serde_json::Value,
        by: &str,
    ) -> Result<Option<StoredExport>>;
    /// Deletes the stored export `name`; whether there was one.
    async fn delete_stored_export(&self, name: &str) -> Result<bool>;

    /// `provider`'s cached answer about (`kind`, `value`), if it has not
    /// expired at `at`.
    async fn cached_enrichment(
        &self,
        provider: &str,
        kind: IndicatorType,
        value: &str,
        at: time::OffsetDateTime,
    ) -> Result<Option<CachedEnrichment>>;
    /// Caches an answer, replacing the one with its key; an answer longer
    /// than [`MAX_CACHED_ANSWER`] is refused.
    async fn cache_enrichment(&self, entry: &CachedEnrichment) -> Result<()>;
    /// Deletes the cached answers expired at `at`; returns how many.
    async fn prune_enrichments(&self, at: time::OffsetDateTime) -> Result<u64>;

    /// The random namespace this installation's STIX ids are drawn from,
    /// made once by the migrations and shared by every node.
    async fn stix_namespace(&self) -> Result<u128>;

    /// The entity that one of `keys` (names through
    /// [`rexist_core::entity::name_key`]) resolves to in `class`, the first
    /// key that resolves winning.
    async fn entity_named(&self, class: &str, keys: &[String]) -> Result<Option<ItemId>>;
    /// Records `names` (key, name as written) as resolving to `entity` in
    /// `class`; a key that already resolves (to it or to another entity)
    /// is left as it is. Returns how many were new.
    async fn add_entity_names(
        &self,
        entity: ItemId,
        class: &str,
        names: &[(String, String)],
    ) -> Result<u64>;
    /// Links items to entities they name; a link made again only moves its
    /// `last_seen` (and becomes `is_item` if it says so). Returns how many
    /// links were new.
    async fn link_entities(&self, links: &[EntityLink]) -> Result<u64>;
    /// The entities each of `items` names, as (item, entity item) pairs,
    /// the entity at most `max_tlp`.
    async fn entities_of_items(
        &self,
        items: &[ItemId],
        max_tlp: Tlp,
    ) -> Result<Vec<(ItemId, Item)>>;
    /// The entities named by items that state or mention `indicator`, at
    /// most [`MAX_INDICATOR_ENTITIES`], items and entities at most
    /// `max_tlp`, most recently linked first.
    async fn indicator_entities(&self, indicator: IndicatorId, max_tlp: Tlp) -> Result<Vec<Item>>;
    /// What an entity page shows (see [`EntityFacts`]), every list at most
    /// `limit` long and at most `max_tlp`.
    async fn entity_facts(&self, entity: ItemId, max_tlp: Tlp, limit: u32) -> Result<EntityFacts>;

    /// The analyst facts about each of `ids` that has any (false-positive
    /// mark, TLP raise, score override, hand labels), in id order.
    async fn curations(&self, ids: &[IndicatorId]) -> Result<Vec<(IndicatorId, Curation)>>;
    /// Applies one change to the analyst facts about an indicator together
    /// with its effect on the indicator's row, in one transaction (see
    /// [`CurationChange`]); returns the indicator as it is then, `None` when
    /// there is no such indicator. The facts outlive every re-ingest: an
    /// upsert never lowers a raised TLP, moves an overridden score or
    /// clears a false-positive mark, and neither allow-listing, expiry nor
    /// retirement changes a marked indicator's status.
    async fn curate(
        &self,
        indicator: IndicatorId,
        change: &CurationChange,
    ) -> Result<Option<IndicatorRecord>>;
    /// Applies one change to each of `ids` (as [`Store::curate`] does to
    /// one) in a single transaction; returns the indicators that exist, as
    /// they are then. Callers batch large sets.
    async fn curate_many(
        &self,
        ids: &[IndicatorId],
        change: &CurationChange,
    ) -> Result<Vec<IndicatorRecord>>;
    /// Saves `owner`'s search under `name`, replacing one of that name; at
    /// most [`search::MAX_SAVED_SEARCHES`] per owner.
    async fn save_search(&self, owner: &str, name: &str, query: &str) -> Result<SavedSearch>;
    /// `owner`'s saved searches, by name.
    async fn saved_searches(&self, owner: &str) -> Result<Vec<SavedSearch>>;
    /// Deletes `owner`'s saved search `name`; false when there is none.
    async fn delete_search(&self, owner: &str, name: &str) -> Result<bool>;
    /// Writes a note on an indicator or an item, now; an empty or
    /// over-long text is invalid. The caller checks the target exists.
    async fn add_note(&self, target: NoteTarget, author: &str, text: &str) -> Result<Note>;
    /// Notes on `target`, newest first, at most `limit`.
    async fn notes(&self, target: NoteTarget, limit: u32) -> Result<Vec<Note>>;
    /// The note with this id and what it is written on.
    async fn note(&self, id: i64) -> Result<Option<(NoteTarget, Note)>>;
    /// Deletes a note; false when there is none.
    async fn delete_note(&self, id: i64) -> Result<bool>;
    /// Records a sighting of an indicator in the organisation's own network
    /// (a count of at least 1, where, when, who).
    async fn add_local_sighting(
        &self,
        indicator: IndicatorId,
        sighting: &NewLocalSighting,
    ) -> Result<LocalSighting>;
    /// An indicator's local sightings summed up, with the `recent` most
    /// recently seen reports.
    async fn local_sightings(&self, indicator: IndicatorId, recent: u32) -> Result<LocalSightings>;
    /// Names `author` as who added `source`'s sightings of these
    /// indicators in `item` (or in no item), where no author is named yet:
    /// the first analyst to add a manual sighting stays its author. Returns
    /// how many sightings were named.
    async fn attribute_sightings(
        &self,
        source: SourceId,
        item: Option<ItemId>,
        indicators: &[(IndicatorType, String)],
        author: &str,
    ) -> Result<u64>;
}

/// Reads the stored `stix_namespace` (32 hex digits).
pub(crate) fn parse_stix_namespace(hex: Option<String>) -> Result<u128> {
    let hex = hex.ok_or_else(|| {
        StoreError::unavailable("the instance table has no stix_namespace; run the migrations")
    })?;
    u128::from_str_radix(hex.trim(), 16)
        .ok()
        .filter(|_| hex.trim().len() == 32)
        .ok_or_else(|| {
            StoreError::unavailable(format!(
                "instance.stix_namespace is not 32 hex digits: {hex:?}"
            ))
        })
}

/// Opens the store named by `database_url`, or the SQLite store in `data_dir`
/// when there is none, and applies migrations.
pub async fn open(database_url: Option<&str>, data_dir: &Path) -> Result<Arc<dyn Store>> {
    open_with_replica(database_url, None, data_dir).await
}

/// [`open`], reading lookups, search, TAXII and exports through
/// `read_url`, a PostgreSQL streaming replica of `database_url`.
pub async fn open_with_replica(
    database_url: Option<&str>,
    read_url: Option<&str>,
    data_dir: &Path,
) -> Result<Arc<dyn Store>> {
    let pg = |url: &str| url.starts_with("postgres://") || url.starts_with("postgresql://");
    if let Some(read) = read_url {
        if !database_url.is_some_and(pg) || !pg(read) {
            return Err(StoreError::invalid(
                "database_read_url needs a PostgreSQL database_url and a postgres:// replica URL",
            ));
        }
    }
    let store: Arc<dyn Store> = match database_url {
        Some(url) if pg(url) => {
            let primary = postgres::PgStore::connect(url, None).await?;
            Arc::new(match read_url {
                Some(read) => primary.with_replica(read, None).await?,
                None => primary,
            })
        }
        Some(url) if url.starts_with("sqlite:") => {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            Arc::new(sqlite::SqliteStore::open(Path::new(path)).await?)
        }
        Some(url) => {
            return Err(StoreError::invalid(format!(
                "unsupported database URL scheme in {:?} (expected postgres:// or sqlite:)",
                error::redact_url(url)
            )));
        }
        None => {
            std::fs::create_dir_all(data_dir).map_err(|e| {
                StoreError::unavailable(format!(
                    "cannot create data directory {}: {e}",
                    data_dir.display()
                ))
            })?;
            Arc::new(sqlite::SqliteStore::open(&data_dir.join("rexist.db")).await?)
        }
    };
    store.migrate().await?;
    Ok(store)
}

pub use error::redact_url;
