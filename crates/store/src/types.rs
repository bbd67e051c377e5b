//! Query and result types of the store interface.

use rexist_core::{
    AlertId, AlertStatus, HitId, HuntId, IndicatorId, IndicatorStatus, IndicatorType, ItemId,
    ItemKind, JobId, Role, SightingId, SourceId, Tlp,
};
use serde::Serialize;

/// One page of results and the cursor of the next, if any.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// The results.
    pub items: Vec<T>,
    /// Opaque cursor to pass for the next page.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// A page from `rows` fetched with one more than `limit`: the extra row
    /// only says that another page follows, whose cursor is `cursor` of the last kept row.
    pub fn from_overfetch(mut rows: Vec<T>, limit: u32, cursor: impl Fn(&T) -> String) -> Self {
        let limit = limit as usize;
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(cursor)
        } else {
            None
        };
        Page { items: rows, next }
    }
}

/// Filters for listing indicators.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndicatorQuery {
    /// Only this type.
    pub kind: Option<IndicatorType>,
    /// Only this exact canonical value.
    pub value: Option<String>,
    /// Only values starting with this.
    pub prefix: Option<String>,
    /// Only this status.
    pub status: Option<IndicatorStatus>,
    /// Only indicators this source (by name) has reported, retired sightings included.
    pub source: Option<String>,
    /// Only indicators whose TLP is at most this.
    pub max_tlp: Option<Tlp>,
    /// Cursor from the previous page.
    pub after: Option<String>,
    /// Page size (capped at 1000).
    pub limit: u32,
}

/// Filters for [`crate::Store::recent_indicators`]: indicators most
/// recently seen first, paged by offset and counted, every filter applied
/// in the store (EXIST's `reputation` view); analysts' false positives are
/// never listed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecentQuery {
    /// Only these types (all when empty).
    pub kinds: Vec<IndicatorType>,
    /// Only this exact canonical value.
    pub value: Option<String>,
    /// Only indicators with a sighting at most `max_tlp` by one of these
    /// sources, retired sightings included (any indicator when empty).
    pub sources: Vec<SourceId>,
    /// Only values containing every one of these, ASCII case-insensitively.
    pub contains: Vec<String>,
    /// The reader's clearance: only indicators whose TLP is at most this.
    pub max_tlp: Tlp,
    /// Matches skipped before the page.
    pub offset: u32,
    /// Page size (capped at 1000, 50 when 0).
    pub limit: u32,
    /// Matches counted at most (see [`Counted`]).
    pub count_up_to: u32,
}

/// Filters for [`crate::Store::item_sightings`]: sightings stated in items
/// (a MISP event's attributes), most recently seen first, paged by offset
/// and counted, every filter applied in the store (EXIST's
/// `threatAttribute` view).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemSightingQuery {
    /// Only in items of this kind.
    pub item_kind: Option<ItemKind>,
    /// Only sightings by one of these sources in items of one of these
    /// sources (any when empty).
    pub sources: Vec<SourceId>,
    /// Only in this item.
    pub item: Option<ItemId>,
    /// Only the sighting with this id.
    pub sighting: Option<SightingId>,
    /// Only indicators of these types (all when empty).
    pub kinds: Vec<IndicatorType>,
    /// Only indicators with this exact canonical value.
    pub value: Option<String>,
    /// Only values containing every one of these, ASCII case-insensitively.
    pub contains: Vec<String>,
    /// Only sightings last seen at or after this time.
    pub seen_after: Option<time::OffsetDateTime>,
    /// Only sightings last seen at or before this time.
    pub seen_before: Option<time::OffsetDateTime>,
    /// The reader's clearance: the item, the sighting and the indicator
    /// are each at most this.
    pub max_tlp: Tlp,
    /// Matches skipped before the page.
    pub offset: u32,
    /// Page size (capped at 1000, 50 when 0).
    pub limit: u32,
    /// Matches counted at most (see [`Counted`]).
    pub count_up_to: u32,
}

/// One offset page of a counted listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Counted<T> {
    /// The page, in the listing's order.
    pub items: Vec<T>,
    /// How many match in all, at most the query's `count_up_to`.
    pub total: u64,
    /// More than `count_up_to` match: `total` is a lower bound.
    pub capped: bool,
}

/// The terms of a `contains` filter as the store matches them: ASCII
/// lower-case (values are compared lower-cased the same way in both
/// backends), empty ones dropped.
pub(crate) fn contains_terms(terms: &[String]) -> Vec<String> {
    terms
        .iter()
        .map(|t| t.to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Filters for exports and TAXII collections, read in pages in the order
/// indicators were added (`added`, then id), which only grows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportQuery {
    /// Only these types (all when empty).
    pub kinds: Vec<IndicatorType>,
    /// Only indicators reported by this source (by name).
    pub source: Option<String>,
    /// Only indicators with a sighting carrying this label, or an analyst's
    /// hand label (one an analyst removed does not count).
    pub tag: Option<String>,
    /// Only indicators scoring at least this.
    pub min_score: Option<u8>,
    /// Only indicators whose TLP is at most this (the reader's clearance).
    pub max_tlp: Option<Tlp>,
    /// Only active indicators (not expired, allow-listed or retired).
    pub active_only: bool,
    /// With `active_only`, retired indicators too; with or without it,
    /// indicators an analyst marked false positives (which are otherwise
    /// never listed): TAXII serves both as revoked versions, so a consumer
    /// that has one learns of the retraction. Exports leave it off: a
    /// retired indicator or a false positive is never blocked.
    pub with_retired: bool,
    /// Only indicators seen at or after this time (`last_seen`).
    pub since: Option<time::OffsetDateTime>,
    /// Only indicators added strictly after this time (TAXII `added_after`).
    pub added_after: Option<time::OffsetDateTime>,
    /// Only indicators added strictly before this time: readers that page by
    /// `added` leave the last moments out while concurrent transactions that
    /// took earlier times may still commit.
    pub added_before: Option<time::OffsetDateTime>,
    /// Only these indicator ids (TAXII `match[id]`), when set.
    pub ids: Option<Vec<IndicatorId>>,
    /// Cursor: continue after this `(added, id)` pair (see [`ExportQuery::cursor`]).
    pub after: Option<(time::OffsetDateTime, IndicatorId)>,
    /// Fill `sources` and `labels` of each row (costs a join per row).
    pub with_context: bool,
    /// Page size (capped at [`MAX_EXPORT_PAGE`], 1000 when 0).
    pub limit: u32,
}

/// Largest page [`crate::Store::export_indicators`] returns.
pub const MAX_EXPORT_PAGE: u32 = 50_000;

impl ExportQuery {
    /// The cursor after `row`, for the next page.
    pub fn cursor(row: &rexist_core::ExportRow) -> (time::OffsetDateTime, IndicatorId) {
        (row.added, row.record.id)
    }
}

/// Filters for searching items.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemQuery {
    /// Full-text query over title and body (see [`crate::fts::TextQuery`]).
    pub text: Option<String>,
    /// Only this kind.
    pub kind: Option<ItemKind>,
    /// Only this source.
    pub source: Option<SourceId>,
    /// Only items whose TLP is at most this.
    pub max_tlp: Option<Tlp>,
    /// Cursor from the previous page.
    pub before: Option<ItemId>,
    /// Page size (capped at 1000).
    pub limit: u32,
}

/// Largest page any listing returns.
pub const MAX_PAGE: u32 = 1000;

/// The exclusive upper end of the values starting with `prefix`, for a
/// range on the value index (`value >= prefix AND value < end`): both
/// backends compare values byte-wise, and no character sorts above U+10FFFF.
pub(crate) fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// The key that makes "at or below a domain" one index range: the host of
/// a domain or e-mail indicator reversed, with a dot after it
/// (`a.example.com` and `x@a.example.com` give `moc.elpmaxe.a.`), so what
/// lies at or below `example.com` is exactly the keys starting with
/// `moc.elpmaxe.` — and `notexample.com` (`moc.elpmaxeton.`) is not. None
/// for other types. Canonical hosts are ASCII; the reversal is by
/// character, as PostgreSQL's `reverse()` backfills it.
pub(crate) fn reversed_host(kind: IndicatorType, value: &str) -> Option<String> {
    let host = match kind {
        IndicatorType::Domain => value,
        IndicatorType::Email => value.rsplit_once('@')?.1,
        _ => return None,
    };
    let mut out: String = host.chars().rev().collect();
    out.push('.');
    Some(out)
}

/// Reads per `under` entry before the nearest are kept: bounded, and
/// enough that a domain's direct sub-domains are rarely crowded out by a
/// deep branch that sorts first.
pub(crate) const UNDER_OVERFETCH: u32 = 4;

/// Clamps a requested page size to 1..=[`MAX_PAGE`], 50 when unset.
pub(crate) fn page_size(limit: u32) -> u32 {
    match limit {
        0 => 50,
        n => n.min(MAX_PAGE),
    }
}

/// The error recorded on a run a sweep marked interrupted.
pub(crate) fn interrupted_reason(stale_after: std::time::Duration) -> String {
    format!("interrupted: the process running it stopped (no heartbeat for {stale_after:?})")
}

/// What happened to one item of an upsert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ItemChange {
    /// Stored for the first time.
    New(ItemId),
    /// Existed with other content; updated.
    Updated(ItemId),
    /// Existed with the same content.
    Unchanged(ItemId),
}

impl ItemChange {
    /// The item's id.
    pub fn id(self) -> ItemId {
        match self {
            Self::New(id) | Self::Updated(id) | Self::Unchanged(id) => id,
        }
    }
}

/// Counts over the whole store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    /// Indicators per type, by type name.
    pub indicators_by_type: Vec<(String, u64)>,
    /// Items per kind, by kind name.
    pub items_by_kind: Vec<(String, u64)>,
    /// Number of sightings.
    pub sightings: u64,
    /// Number of sources.
    pub sources: u64,
    /// Jobs queued or running.
    pub jobs_pending: u64,
}

/// A job to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// What to do (`source.run`, `hunt.retro`, …).
    pub kind: String,
    /// Parameters, JSON.
    pub payload: String,
    /// At most one queued or running job per key.
    pub dedup_key: Option<String>,
    /// Delay before it is due.
    pub delay: std::time::Duration,
}

/// A leased job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Row id.
    pub id: JobId,
    /// What to do.
    pub kind: String,
    /// Parameters, JSON.
    pub payload: String,
    /// How many times it has been leased, this time included.
    pub attempts: u32,
}

/// Filters for listing hunt hits, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HitQuery {
    /// Only hits of this hunt.
    pub hunt: Option<HuntId>,
    /// Only acknowledged (`true`) or unacknowledged (`false`) hits.
    pub acked: Option<bool>,
    /// Cursor: only hits older than this one.
    pub before: Option<HitId>,
    /// Page size (capped at 1000).
    pub limit: u32,
    /// Only hits of hunts at or below this TLP (a reader's clearance).
    pub max_tlp: Option<Tlp>,
    /// Only hits in this triage state.
    pub triage: Option<rexist_core::HitTriage>,
    /// Only hits assigned to this user.
    pub assignee: Option<String>,
}

/// A hit's triage state and assignee after `change`, from the stored ones.
pub(crate) fn triaged(
    status: &str,
    assignee: Option<String>,
    change: &rexist_core::TriageChange,
) -> crate::Result<(rexist_core::HitTriage, Option<String>)> {
    let stored: rexist_core::HitTriage = status
        .parse()
        .map_err(|e| crate::StoreError::internal(format!("corrupt hit triage in store: {e}")))?;
    Ok((
        change.status.unwrap_or(stored),
        change.assignee.clone().unwrap_or(assignee),
    ))
}

/// A stored triage history row.
pub(crate) fn triage_entry(
    status: &str,
    assignee: Option<String>,
    note: Option<String>,
    author: String,
    at: i64,
) -> crate::Result<rexist_core::TriageEntry> {
    Ok(rexist_core::TriageEntry {
        status: status.parse().map_err(|e| {
            crate::StoreError::internal(format!("corrupt hit triage in store: {e}"))
        })?,
        assignee,
        note,
        author,
        at: rexist_core::model::from_unix_micros(at),
    })
}

/// Filters for listing alerts, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertQuery {
    /// Only alerts of this hunt.
    pub hunt: Option<HuntId>,
    /// Only alerts to this channel.
    pub channel: Option<String>,
    /// Only alerts in this state.
    pub status: Option<AlertStatus>,
    /// Cursor: only alerts older than this one.
    pub before: Option<AlertId>,
    /// Page size (capped at 1000).
    pub limit: u32,
    /// Only alerts of hunts at or below this TLP (a reader's clearance).
    pub max_tlp: Option<Tlp>,
}

/// What a lookup shows of one stored indicator ([`crate::Store::indicator_context`]).
#[derive(Debug, Clone, Default)]
pub struct IndicatorContext {
    /// Its sightings, most recent first.
    pub sightings: Vec<rexist_core::Sighting>,
    /// Where it occurs in item text, newest items first.
    pub mentions: Vec<MentionRef>,
    /// Indicators sighted in the same items, most shared first.
    pub co_occurring: Vec<CoOccurrence>,
    /// Relations from or to it, most recent first.
    pub relations: Vec<rexist_core::Relation>,
    /// Hunt hits on it, newest first.
    pub hits: Vec<rexist_core::HuntHit>,
}

/// Where an indicator occurs in an item's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MentionRef {
    /// The item.
    pub item: ItemId,
    /// Byte offset of the start in the item's body.
    pub start: u32,
    /// Byte offset of the end.
    pub end: u32,
    /// Whether it was written defanged.
    pub defanged: bool,
}

/// An indicator sighted in the same items as another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoOccurrence {
    /// The other indicator.
    pub indicator: rexist_core::IndicatorRecord,
    /// In how many items both occur.
    pub shared_items: u64,
}

/// A change to a user; `None` fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    /// New password hash.
    pub password_hash: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// Disable (`true`) or enable.
    pub disabled: Option<bool>,
}

/// What [`crate::Store::connected`] reads: indicators by id, by (type,
/// value), and by value prefix — all bounded, so a lookup can afford it.
#[derive(Debug, Clone, Default)]
pub struct ConnectedQuery {
    /// By id (stated relations, co-occurrence).
    pub ids: Vec<rexist_core::IndicatorId>,
    /// By type and canonical value (networks an address lies in, a URL's
    /// host, parent domains).
    pub exact: Vec<(rexist_core::IndicatorType, String)>,
    /// By type and value prefix (a domain's URLs, the addresses of a
    /// network), at most `per_prefix` each, in value order.
    pub prefixes: Vec<(rexist_core::IndicatorType, String)>,
    /// Most indicators per prefix.
    pub per_prefix: u32,
    /// By type and domain: indicators of that type whose host is the
    /// domain or lies below it (a domain's sub-domains, the e-mail
    /// addresses at it or at its sub-domains), at most `per_under` each,
    /// the nearest first among the first few in reversed-host order.
    pub under: Vec<(rexist_core::IndicatorType, String)>,
    /// Most indicators per `under` entry.
    pub per_under: u32,
    /// The reader's clearance.
    pub max_tlp: rexist_core::Tlp,
}

/// One indicator of [`crate::Store::connected`]'s answer.
#[derive(Debug, Clone)]
pub struct Connected {
    /// The stored indicator.
    pub record: rexist_core::IndicatorRecord,
    /// Names of the sources that report it, in name order.
    pub sources: Vec<String>,
}

/// When one source first reported an indicator ([`crate::Store::report_times`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportTime {
    /// The source.
    pub source: SourceId,
    /// The earliest of its sightings' first times and of the publication
    /// times of the items they are in: a post mentioning a CVE is
    /// collected after it was posted, and NVD's sighting carries the CVE's
    /// last modification, not its publication.
    pub at: time::OffsetDateTime,
}

/// Most rows [`crate::Store::early_cves`] returns.
pub const MAX_EARLY_CVES: u32 = 100;

/// What [`crate::Store::early_cves`] ranks. The store does not know what a
/// source is (only the connector catalogue does): the caller names the
/// sources on each side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlyCveQuery {
    /// The sources whose reports count as early discussion (social media
    /// and news, say).
    pub discussion: Vec<SourceId>,
    /// The sources whose report is a CVE's database entry (NVD, JVN, KEV).
    /// When empty, no CVE counts as lacking its entry: nothing could have
    /// reported it.
    pub authority: Vec<SourceId>,
    /// Only CVEs rexist stored (`added`) at or after this.
    pub since: time::OffsetDateTime,
    /// A CVE no authority reported counts only when its id's year is at
    /// least this (an older one is published; the database source missed
    /// it): see `rexist_core::early::cve_may_be_unpublished`.
    pub pending_from_year: i32,
    /// The time a CVE still lacking its entry is ranked against: its lead
    /// so far is `now` − its first report.
    pub now: time::OffsetDateTime,
    /// The reader's clearance: indicators, sightings and item times above
    /// it do not count.
    pub max_tlp: Tlp,
    /// Most rows (capped at [`MAX_EARLY_CVES`]).
    pub limit: u32,
}

/// A CVE discussed before its database entry, or still without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlyCve {
    /// The CVE's indicator.
    pub indicator: IndicatorId,
    /// The CVE id.
    pub value: String,
    /// The discussion source that reported it first.
    pub first_source: SourceId,
    /// When (see [`ReportTime::at`]).
    pub first_at: time::OffsetDateTime,
    /// The authority source that reported it first, if one has.
    pub authority_source: Option<SourceId>,
    /// When, if one has; always after `first_at`.
    pub authority_at: Option<time::OffsetDateTime>,
}

/// Filters for [`crate::Store::indicators_at_or_below`]: what a watchlist's
/// `domain:` entry can match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainQuery {
    /// The canonical domain.
    pub domain: String,
    /// Only indicators whose TLP is at most this.
    pub max_tlp: Option<Tlp>,
    /// Cursor from the previous page.
    pub after: Option<String>,
    /// Page size (capped at 1000).
    pub limit: u32,
}

/// What [`crate::Store::indicators_at_or_below`] reads for a canonical
/// domain `d`: the range of the reversed-host index holding `d`, its
/// sub-domains and the e-mail addresses at them ([`reversed_host`]), and
/// the `LIKE` pattern of URLs naming it (`%d%`: a superset; a canonical
/// host has no `%`, and its `_` only widens it).
pub(crate) fn domain_reads(d: &str) -> (String, String, String) {
    let key = reversed_host(IndicatorType::Domain, d).unwrap_or_default();
    let end = prefix_end(&key);
    (key, end, format!("%{d}%"))
}
