//! Sources, runs, items, sightings and relations (see DESIGN.md, "Data model").

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::UnknownName;
use crate::ids::{IndicatorId, ItemId, RunId, SightingId, SourceId};
use crate::indicator::{Indicator, IndicatorType};
use crate::tlp::Tlp;

/// Current time, cut to whole microseconds: the precision both stores keep,
/// so a value read back equals the value written.
pub fn now() -> OffsetDateTime {
    from_unix_micros(unix_micros(OffsetDateTime::now_utc()))
}

/// Microseconds since the Unix epoch.
pub fn unix_micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

/// The inverse of [`unix_micros`]; out-of-range values clamp to the epoch.
pub fn from_unix_micros(us: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub(crate) fn unknown(field: &'static str, value: &str, expected: &'static str) -> UnknownName {
    UnknownName {
        field,
        value: crate::indicator::truncate(value, 40),
        expected,
    }
}

/// What kind of content an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ItemKind {
    /// A news article or blog post.
    News,
    /// A social media post.
    Post,
    /// A threat event: MISP event, OTX pulse, ThreatConnect group, STIX report.
    Event,
    /// A vulnerability record (CVE, JVN, KEV).
    Vuln,
    /// An exploit record.
    Exploit,
    /// A threat actor (an entity: one item across sources, see `entity`).
    ThreatActor,
    /// An intrusion set (an ATT&CK group).
    IntrusionSet,
    /// A malware family.
    Malware,
    /// A legitimate tool put to malicious use.
    Tool,
    /// A campaign.
    Campaign,
    /// An attack pattern (an ATT&CK technique).
    AttackPattern,
}

impl ItemKind {
    /// Every kind.
    pub const ALL: [ItemKind; 11] = [
        Self::News,
        Self::Post,
        Self::Event,
        Self::Vuln,
        Self::Exploit,
        Self::ThreatActor,
        Self::IntrusionSet,
        Self::Malware,
        Self::Tool,
        Self::Campaign,
        Self::AttackPattern,
    ];

    /// The threat-entity kinds: one item per entity across sources.
    pub const ENTITIES: [ItemKind; 6] = [
        Self::ThreatActor,
        Self::IntrusionSet,
        Self::Malware,
        Self::Tool,
        Self::Campaign,
        Self::AttackPattern,
    ];

    /// The lower-case name (STIX's type name for entity kinds).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::News => "news",
            Self::Post => "post",
            Self::Event => "event",
            Self::Vuln => "vuln",
            Self::Exploit => "exploit",
            Self::ThreatActor => "threat-actor",
            Self::IntrusionSet => "intrusion-set",
            Self::Malware => "malware",
            Self::Tool => "tool",
            Self::Campaign => "campaign",
            Self::AttackPattern => "attack-pattern",
        }
    }

    /// Whether items of this kind are threat entities.
    pub fn is_entity(self) -> bool {
        Self::ENTITIES.contains(&self)
    }
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ItemKind {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                unknown(
                    "item kind",
                    s,
                    "news, post, event, vuln, exploit, threat-actor, intrusion-set, malware, \
                     tool, campaign, attack-pattern",
                )
            })
    }
}

/// Lifecycle state of an indicator.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum IndicatorStatus {
    /// Seen recently enough to act on.
    #[default]
    Active,
    /// Past its lifetime without a new sighting; kept, not deleted.
    Expired,
    /// Matched a warning list or allow-list; the reason says which.
    Allowlisted,
    /// Every source that reported it has withdrawn it (revoked, deleted,
    /// false positive, inactive, expired or no longer listed); the reason
    /// says which. A new sighting makes it active again.
    Retired,
    /// An analyst marked it a false positive (the reason says why): it
    /// leaves exports and hunts until the mark is removed, whatever sources
    /// report meanwhile.
    #[serde(rename = "false_positive")]
    FalsePositive,
}

impl IndicatorStatus {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Allowlisted => "allowlisted",
            Self::Retired => "retired",
            Self::FalsePositive => "false_positive",
        }
    }
}

impl FromStr for IndicatorStatus {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "active" => Ok(Self::Active),
            "expired" => Ok(Self::Expired),
            "allowlisted" => Ok(Self::Allowlisted),
            "retired" => Ok(Self::Retired),
            "false_positive" => Ok(Self::FalsePositive),
            _ => Err(unknown(
                "indicator status",
                s,
                "active, expired, allowlisted, retired, false_positive",
            )),
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Still going: its process renews a heartbeat (a dead one's run is
    /// marked [`RunOutcome::Interrupted`] by the next sweep).
    Running,
    /// Everything fetched and stored.
    Success,
    /// Some data stored, then a failure: the cursor stays where it was.
    Partial,
    /// Nothing stored.
    Failed,
    /// The upstream said nothing changed (HTTP 304 or an unchanged cursor).
    NotModified,
    /// Cut short: its process died (no heartbeat) or shut down before the
    /// run ended. Its counts are what it had committed; the cursor stays
    /// where it was, so the next run fetches again.
    Interrupted,
}

impl RunOutcome {
    /// Every outcome, in the order they are documented.
    pub const ALL: [Self; 6] = [
        Self::Running,
        Self::Success,
        Self::Partial,
        Self::Failed,
        Self::NotModified,
        Self::Interrupted,
    ];

    /// The snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Success => "success",
            Self::Partial => "partial",
            Self::Failed => "failed",
            Self::NotModified => "not_modified",
            Self::Interrupted => "interrupted",
        }
    }

    /// Whether the run counts as a success for source health.
    pub fn is_success(self) -> bool {
        matches!(self, Self::Success | Self::NotModified)
    }
}

impl FromStr for RunOutcome {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == s.trim())
            .ok_or_else(|| {
                unknown(
                    "run outcome",
                    s,
                    "running, success, partial, failed, not_modified, interrupted",
                )
            })
    }
}

/// What a run did, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunCounts {
    /// Bytes or records fetched from upstream (records where the connector counts them).
    pub fetched: u64,
    /// Records parsed.
    pub parsed: u64,
    /// Objects stored for the first time (new sightings, new items).
    pub new: u64,
    /// Objects that existed and changed.
    pub updated: u64,
    /// Objects that existed unchanged (only `last_seen` moved).
    pub unchanged: u64,
    /// Records rejected.
    pub rejected: u64,
    /// Rejections counted by reason.
    pub rejected_reasons: BTreeMap<String, u64>,
}

impl RunCounts {
    /// Counts one rejection under `reason`.
    pub fn reject(&mut self, reason: impl Into<String>) {
        self.rejected += 1;
        *self.rejected_reasons.entry(reason.into()).or_insert(0) += 1;
    }

    /// Adds another set of counts to this one.
    pub fn add(&mut self, other: &RunCounts) {
        self.fetched += other.fetched;
        self.parsed += other.parsed;
        self.new += other.new;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.rejected += other.rejected;
        for (reason, n) in &other.rejected_reasons {
            *self.rejected_reasons.entry(reason.clone()).or_insert(0) += n;
        }
    }
}

/// A source as registered in the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Source {
    /// Row id.
    #[schema(value_type = i64)]
    pub id: SourceId,
    /// Unique name, as in the config's `[[source]]` table.
    pub name: String,
    /// Connector kind (`urlhaus`, `csv`, `misp`, `file`, …).
    pub kind: String,
    /// Whether the scheduler runs it.
    pub enabled: bool,
    /// Default confidence (0–100) given to its sightings.
    pub confidence: u8,
    /// Default TLP of what it brings.
    pub tlp: Tlp,
    /// Tags added to everything it brings.
    pub tags: Vec<String>,
    /// Health, maintained from its runs.
    pub health: SourceHealth,
}

/// Health of a source, derived from its runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SourceHealth {
    /// Start of the first run it ever had.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub first_run_at: Option<OffsetDateTime>,
    /// Start of the most recent run.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_run_at: Option<OffsetDateTime>,
    /// End of the most recent successful run.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_success_at: Option<OffsetDateTime>,
    /// Failed runs since the last success.
    pub consecutive_failures: u32,
    /// Reason of the most recent failure, if the last run failed.
    pub last_error: Option<String>,
}

impl SourceHealth {
    /// Whether a source that should run every `every` has gone stale: it has
    /// not succeeded within twice its schedule of its last success or, never
    /// having succeeded, of its first run. One failed run a minute old is not
    /// stale; a source not yet run is not stale.
    pub fn is_stale(&self, every: std::time::Duration, at: OffsetDateTime) -> bool {
        let limit =
            time::Duration::try_from(every.saturating_mul(2)).unwrap_or(time::Duration::MAX);
        match (self.last_success_at, self.first_run_at.or(self.last_run_at)) {
            (Some(t), _) | (None, Some(t)) => at - t > limit,
            (None, None) => false,
        }
    }
}

/// Settings for registering or updating a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceSpec {
    /// Unique name.
    pub name: String,
    /// Connector kind.
    pub kind: String,
    /// Whether the scheduler runs it.
    pub enabled: bool,
    /// Default confidence (0–100).
    pub confidence: u8,
    /// Default TLP.
    pub tlp: Tlp,
    /// Tags added to everything it brings.
    pub tags: Vec<String>,
}

/// One execution of a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Run {
    /// Row id.
    #[schema(value_type = i64)]
    pub id: RunId,
    /// The source that ran.
    #[schema(value_type = i64)]
    pub source_id: SourceId,
    /// When it started.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: OffsetDateTime,
    /// When it ended; `None` while running.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<OffsetDateTime>,
    /// How it ended.
    pub outcome: RunOutcome,
    /// What it did.
    pub counts: RunCounts,
    /// Cursor after the run (ETag, timestamp, `since_id`, …), opaque to the store.
    pub cursor: Option<String>,
    /// Why it failed, without secrets.
    pub error: Option<String>,
}

/// An item to store; `(source, external_id)` identifies it across runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewItem {
    /// What kind of content.
    pub kind: ItemKind,
    /// The upstream's id (GUID, event UUID, URL); unique per source.
    pub external_id: String,
    /// Title or subject.
    pub title: String,
    /// Body text.
    pub body: String,
    /// Link to the original.
    pub url: Option<String>,
    /// Language code (`en`, `ja`), if known.
    pub lang: Option<String>,
    /// When upstream published it.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub published_at: Option<OffsetDateTime>,
    /// TLP of the item.
    pub tlp: Tlp,
    /// Tags.
    pub tags: Vec<String>,
    /// Structured extras of the upstream (JSON object).
    pub extra: serde_json::Value,
}

/// A stored item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Item {
    /// Row id.
    #[schema(value_type = i64)]
    pub id: ItemId,
    /// The source that brought it.
    #[schema(value_type = i64)]
    pub source_id: SourceId,
    /// Content.
    #[serde(flatten)]
    pub content: NewItem,
    /// When rexist first stored it.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When its content last changed.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

/// An indicator as stored, with its aggregate state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IndicatorRecord {
    /// Row id.
    #[schema(value_type = i64)]
    pub id: IndicatorId,
    /// Type.
    #[serde(rename = "type")]
    pub kind: IndicatorType,
    /// Canonical value.
    pub value: String,
    /// Earliest sighting.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub first_seen: OffsetDateTime,
    /// Latest sighting.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub last_seen: OffsetDateTime,
    /// Number of distinct sightings.
    pub sightings: u64,
    /// Score 0–100 (see the lookup documentation).
    pub score: u8,
    /// Least restrictive TLP among its sightings.
    pub tlp: Tlp,
    /// Lifecycle state.
    pub status: IndicatorStatus,
    /// Why it is allow-listed or expired.
    pub status_reason: Option<String>,
}

/// An indicator as shared: its record with the context exports and TAXII need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExportRow {
    /// The indicator.
    #[serde(flatten)]
    pub record: IndicatorRecord,
    /// When rexist first stored it; TAXII's `date_added`, which only grows.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub added: OffsetDateTime,
    /// Names of the sources that reported it, sorted (empty unless asked for).
    pub sources: Vec<String>,
    /// Labels of its sightings, sorted and de-duplicated (empty unless asked for).
    pub labels: Vec<String>,
}

/// One observation of an indicator by a source, to be upserted.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSighting {
    /// What was seen.
    pub indicator: Indicator,
    /// The item it was seen in, if any (none for plain feed entries).
    pub item_id: Option<ItemId>,
    /// When it was seen (the upstream's time if it gives one, else now).
    pub seen_at: OffsetDateTime,
    /// Confidence 0–100; the source default if `None`.
    pub confidence: Option<u8>,
    /// TLP; the source default if `None`.
    pub tlp: Option<Tlp>,
    /// Threat or malware labels (`emotet`, `phishing`).
    pub labels: Vec<String>,
    /// When the upstream says the report stops being valid (STIX
    /// `valid_until`, OTX `expiration`); past it the sighting is retired.
    pub valid_until: Option<OffsetDateTime>,
}

impl NewSighting {
    /// A sighting of `indicator` at `seen_at`, in no item, with the source's
    /// defaults and no labels.
    pub fn new(indicator: Indicator, seen_at: OffsetDateTime) -> Self {
        Self {
            indicator,
            item_id: None,
            seen_at,
            confidence: None,
            tlp: None,
            labels: Vec::new(),
            valid_until: None,
        }
    }
}

/// Why a source withdrew an indicator it had reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RetractReason {
    /// STIX `revoked: true`.
    Revoked,
    /// Deleted upstream (MISP deleted attribute, ThreatConnect deleted list,
    /// an indicator removed from an OTX pulse).
    Deleted,
    /// Marked a false positive upstream (ThreatConnect `falsePositiveFlag`,
    /// MISP `to_ids` turned off).
    FalsePositive,
    /// Marked inactive upstream (ThreatConnect `active: false`, OTX `is_active: 0`).
    Inactive,
    /// Past its upstream validity (STIX `valid_until`, OTX `expiration`).
    Expired,
    /// Left a snapshot list (a blocklist that no longer carries it).
    Delisted,
}

impl RetractReason {
    /// The snake-case name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::Deleted => "deleted",
            Self::FalsePositive => "false_positive",
            Self::Inactive => "inactive",
            Self::Expired => "expired",
            Self::Delisted => "delisted",
        }
    }
}

impl FromStr for RetractReason {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::Revoked,
            Self::Deleted,
            Self::FalsePositive,
            Self::Inactive,
            Self::Expired,
            Self::Delisted,
        ]
        .into_iter()
        .find(|r| r.as_str() == s.trim())
        .ok_or_else(|| {
            unknown(
                "retraction reason",
                s,
                "revoked, deleted, false_positive, inactive, expired, delisted",
            )
        })
    }
}

/// An upstream's word that it withdraws what it reported about `indicator`:
/// the source's sightings of it are retired (kept, not listed, left out of
/// exports), never deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct Retraction {
    /// What is withdrawn.
    pub indicator: Indicator,
    /// Why.
    pub reason: RetractReason,
    /// When the upstream withdrew it (its own time if it gives one, else now).
    pub at: OffsetDateTime,
}

/// A stored sighting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Sighting {
    /// Row id.
    #[schema(value_type = i64)]
    pub id: SightingId,
    /// What was seen.
    #[schema(value_type = i64)]
    pub indicator_id: IndicatorId,
    /// Who saw it.
    #[schema(value_type = i64)]
    pub source_id: SourceId,
    /// Where (the item), if anywhere.
    #[schema(value_type = Option<i64>)]
    pub item_id: Option<ItemId>,
    /// First time this source reported it here.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub first_seen: OffsetDateTime,
    /// Last time this source reported it here.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub last_seen: OffsetDateTime,
    /// Confidence 0–100.
    pub confidence: u8,
    /// TLP.
    pub tlp: Tlp,
    /// Threat or malware labels.
    pub labels: Vec<String>,
    /// Whether the source still lists it (cleared when it is retired).
    pub listed: bool,
    /// When the source withdrew it, if it did.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub retired_at: Option<OffsetDateTime>,
    /// Why the source withdrew it ([`RetractReason`]), if it did.
    #[serde(default)]
    pub retired_reason: Option<RetractReason>,
    /// When the upstream said the report stops being valid, if it did.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
    /// Who added it by hand: set on sightings of the built-in `manual`
    /// source ([`MANUAL_SOURCE`]), absent on every other source's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
}

/// The built-in source of what analysts add by hand (indicators, local
/// sightings, event items). Made on first use; it is not a configured
/// source, so nothing schedules, edits or deletes it, and no `[[source]]`
/// table may take its name.
pub const MANUAL_SOURCE: &str = "manual";

/// The built-in source of threat-entity items (threat actors, malware,
/// techniques, …), one per entity across sources; made on first use, like
/// [`MANUAL_SOURCE`], and no `[[source]]` table may take its name.
pub const ENTITIES_SOURCE: &str = "entities";

/// Outcome of a sighting upsert batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UpsertSummary {
    /// Sightings stored for the first time.
    pub new: u64,
    /// Sightings that existed; only `last_seen` moved.
    pub unchanged: u64,
    /// Indicators stored for the first time.
    pub new_indicators: u64,
}

impl UpsertSummary {
    /// Adds another summary to this one.
    pub fn add(&mut self, other: UpsertSummary) {
        self.new += other.new;
        self.unchanged += other.unchanged;
        self.new_indicators += other.new_indicators;
    }
}

/// A mention of an indicator in an item's text, with its byte offsets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mention {
    /// What is mentioned.
    pub indicator: Indicator,
    /// Byte offset of the first byte in the item's body.
    pub start: u32,
    /// Byte offset after the last byte.
    pub end: u32,
    /// Whether it was written defanged.
    pub defanged: bool,
}

/// An explicit relation between two indicators, as a source states it: a
/// MISP object reference, a STIX relationship, a domain that resolved to an
/// address. Relations are directed and unique per (from, to, kind, source).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRelation {
    /// Where the relation starts.
    pub from: Indicator,
    /// Where it ends.
    pub to: Indicator,
    /// What it says, lower-case (`resolves-to`, `communicates-with`, `drops`, …).
    pub kind: String,
    /// When it was observed.
    #[serde(with = "time::serde::rfc3339")]
    pub seen_at: OffsetDateTime,
}

/// A stored relation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relation {
    /// Where the relation starts.
    pub from: IndicatorId,
    /// Where it ends.
    pub to: IndicatorId,
    /// What it says.
    pub kind: String,
    /// Who stated it.
    pub source_id: SourceId,
    /// First time it was stated.
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: OffsetDateTime,
    /// Last time it was stated.
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
}

/// What a connector or a format parser turns upstream data into; the
/// pipeline canonicalises, filters and stores records, and never sees the
/// upstream protocol.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// An indicator listed by a feed, in no item (blocklists, IOC feeds).
    Sighting(NewSighting),
    /// A content item with the indicators it carries.
    Item(ItemRecord),
    /// An explicit relation between two indicators.
    Relation(NewRelation),
}

/// An item and the indicators that come with it.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemRecord {
    /// The item (article, event, vulnerability, post, …).
    pub item: NewItem,
    /// Indicators the upstream states for it (MISP attributes, a CVE id of a
    /// vulnerability); the pipeline sets `item_id` once the item is stored.
    pub sightings: Vec<NewSighting>,
    /// Relations the upstream states between them (MISP object references).
    pub relations: Vec<NewRelation>,
    /// Whether the pipeline also extracts indicators from title and body text.
    pub extract: bool,
}

impl ItemRecord {
    /// An item with no stated indicators, whose text is searched for them.
    pub fn text(item: NewItem) -> Self {
        Self {
            item,
            sightings: Vec::new(),
            relations: Vec::new(),
            extract: true,
        }
    }
}

/// A part of the upstream data that could not be turned into a record: kept
/// as a value (counted by reason on the run), never an abort of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Where: `line 12`, `event 5f1e…`, `item 3`, `record 7 field url`.
    pub at: String,
    /// Why, short and stable enough to count by (`invalid ipv4: …`, `missing field url`).
    pub reason: String,
}

impl Rejected {
    /// A rejection at `at` for `reason`.
    pub fn new(at: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            at: at.into(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_round_trip() {
        let t = now();
        assert_eq!(from_unix_micros(unix_micros(t)), t);
    }

    #[test]
    fn enum_names_round_trip() {
        for k in ItemKind::ALL {
            assert_eq!(k.as_str().parse::<ItemKind>(), Ok(k));
        }
        assert_eq!(
            "not_modified".parse::<RunOutcome>(),
            Ok(RunOutcome::NotModified)
        );
        for o in RunOutcome::ALL {
            assert_eq!(o.as_str().parse::<RunOutcome>(), Ok(o));
        }
        assert!(!RunOutcome::Interrupted.is_success());
        assert!("bogus".parse::<IndicatorStatus>().is_err());
        let fp = IndicatorStatus::FalsePositive;
        assert_eq!(fp.as_str().parse::<IndicatorStatus>(), Ok(fp));
        assert_eq!(
            serde_json::to_string(&fp).unwrap_or_default(),
            "\"false_positive\""
        );
    }

    #[test]
    fn staleness_against_the_schedule() {
        let hour = std::time::Duration::from_secs(3600);
        let t = now();
        let mut h = SourceHealth::default();
        assert!(!h.is_stale(hour, t), "never run is not stale");
        h.first_run_at = Some(t - time::Duration::minutes(1));
        h.last_run_at = h.first_run_at;
        assert!(
            !h.is_stale(hour, t),
            "one failed run a minute old is not stale"
        );
        h.first_run_at = Some(t - time::Duration::minutes(121));
        assert!(h.is_stale(hour, t), "failing for over twice the schedule");
        h.last_success_at = Some(t - time::Duration::minutes(90));
        assert!(!h.is_stale(hour, t));
        h.last_success_at = Some(t - time::Duration::minutes(121));
        assert!(h.is_stale(hour, t));
    }

    #[test]
    fn counts_add_up() {
        let mut a = RunCounts::default();
        a.reject("invalid ipv4");
        let mut b = RunCounts::default();
        b.reject("invalid ipv4");
        b.new = 3;
        a.add(&b);
        assert_eq!(a.rejected, 2);
        assert_eq!(a.rejected_reasons["invalid ipv4"], 2);
        assert_eq!(a.new, 3);
    }
}
