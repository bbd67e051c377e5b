//! Hunts, their hits and the alerts that announce them.
//!
//! A hunt is saved once and evaluated on everything that arrives: a *query*
//! hunt over items (the query language of `rexist-query`), a *watch* hunt
//! over indicators (a watchlist of values, networks, domains, ASNs and URL
//! patterns). A hit is stored once per hunt × object; each hit is announced
//! through the hunt's channels by an alert, which is stored before it is sent
//! (the outbox) so that a stop or a failing receiver loses nothing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::Tlp;
use crate::error::UnknownName;
use crate::ids::{AlertId, HitId, HuntId, IndicatorId, ItemId};
use crate::model::unknown;

/// What a hunt looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HuntKind {
    /// A query over items (title, body and metadata).
    Query,
    /// A watchlist over indicators.
    Watch,
}

impl HuntKind {
    /// Lower-case name, as stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Watch => "watch",
        }
    }
}

impl fmt::Display for HuntKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HuntKind {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "query" => Ok(Self::Query),
            "watch" => Ok(Self::Watch),
            other => Err(unknown("hunt kind", other, "query, watch")),
        }
    }
}

/// Settings of a hunt, to create or replace one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HuntSpec {
    /// Unique name.
    pub name: String,
    /// Query or watchlist.
    pub kind: HuntKind,
    /// The query text, or the watchlist entries.
    pub definition: String,
    /// Whether it is evaluated on ingest.
    pub enabled: bool,
    /// Names of the channels its alerts go to (`[[channel]]` tables).
    pub channels: Vec<String>,
    /// Digest period in seconds: at most one alert per period, summarising
    /// its hits; `None` sends one alert per hit.
    pub digest_secs: Option<u64>,
    /// What a reader must be cleared for to see the hunt, its hits and its
    /// alerts: what a team watches for is itself sensitive.
    #[serde(default = "default_hunt_tlp")]
    pub tlp: Tlp,
}

fn default_hunt_tlp() -> Tlp {
    HuntSpec::DEFAULT_TLP
}

impl HuntSpec {
    /// A hunt's TLP when none is given: AMBER, which viewers (cleared to
    /// GREEN by default) do not read and analysts do.
    pub const DEFAULT_TLP: Tlp = Tlp::Amber;

    /// The TLP a hunt gets when its creator gives none: the default, lowered
    /// to the creator's clearance so that nobody creates a hunt they cannot see.
    pub fn default_tlp(clearance: Tlp) -> Tlp {
        Self::DEFAULT_TLP.min(clearance)
    }
}

/// A stored hunt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Hunt {
    /// Row id.
    #[schema(value_type = i64)]
    pub id: HuntId,
    /// Its settings.
    #[serde(flatten)]
    pub spec: HuntSpec,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When its settings last changed.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
    /// When its last digest was queued.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_digest_at: Option<OffsetDateTime>,
}

/// What a hit is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "object", content = "object_id", rename_all = "lowercase")]
pub enum HitObject {
    /// An item matched a query hunt.
    Item(ItemId),
    /// An indicator matched a watch hunt.
    Indicator(IndicatorId),
}

impl HitObject {
    /// `item` or `indicator`.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Item(_) => "item",
            Self::Indicator(_) => "indicator",
        }
    }

    /// The object's row id.
    pub fn raw_id(self) -> i64 {
        match self {
            Self::Item(id) => id.get(),
            Self::Indicator(id) => id.get(),
        }
    }

    /// Rebuilds one from its stored kind and id.
    pub fn from_parts(kind: &str, id: i64) -> Result<Self, UnknownName> {
        match kind {
            "item" => Ok(Self::Item(ItemId::new(id))),
            "indicator" => Ok(Self::Indicator(IndicatorId::new(id))),
            other => Err(unknown("hit object", other, "item, indicator")),
        }
    }
}

impl utoipa::PartialSchema for HitObject {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .description(Some(
                "What a hit is about: an item (query hunts) or an indicator (watch hunts).",
            ))
            .property(
                "object",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["item", "indicator"])),
            )
            .required("object")
            .property(
                "object_id",
                ObjectBuilder::new().schema_type(Type::Integer).format(Some(
                    utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64),
                )),
            )
            .required("object_id")
            .into()
    }
}

impl utoipa::ToSchema for HitObject {}

/// A hit to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHit {
    /// The hunt that matched.
    pub hunt: HuntId,
    /// What it matched.
    pub object: HitObject,
    /// The terms or watchlist entries that matched.
    pub terms: Vec<String>,
    /// Found by a retro-hunt over stored history rather than on ingest.
    pub retro: bool,
}

/// A stored hit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HuntHit {
    /// Row id.
    #[schema(value_type = i64)]
    pub id: HitId,
    /// The hunt that matched.
    #[schema(value_type = i64)]
    pub hunt_id: HuntId,
    /// What it matched.
    #[serde(flatten)]
    pub object: HitObject,
    /// The terms or watchlist entries that matched.
    pub terms: Vec<String>,
    /// Found by a retro-hunt.
    pub retro: bool,
    /// When it was recorded.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When an analyst acknowledged it.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acked_at: Option<OffsetDateTime>,
    /// Who acknowledged it.
    pub acked_by: Option<String>,
    /// Where an analyst's triage of it stands.
    pub triage: HitTriage,
    /// Who is working on it.
    pub assignee: Option<String>,
}

/// Where the triage of a hit stands.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum HitTriage {
    /// Nobody has looked at it.
    #[default]
    New,
    /// An analyst is on it.
    InProgress,
    /// Handled.
    Closed,
    /// The hunt matched something that is not a threat.
    FalsePositive,
}

impl HitTriage {
    /// Every state.
    pub const ALL: [HitTriage; 4] = [
        Self::New,
        Self::InProgress,
        Self::Closed,
        Self::FalsePositive,
    ];

    /// The name stored and shown (`in_progress`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::InProgress => "in_progress",
            Self::Closed => "closed",
            Self::FalsePositive => "false_positive",
        }
    }

    /// Whether the hit is dealt with (closed or a false positive), which
    /// also acknowledges it.
    pub fn is_done(self) -> bool {
        matches!(self, Self::Closed | Self::FalsePositive)
    }
}

impl FromStr for HitTriage {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s.trim())
            .ok_or_else(|| {
                unknown(
                    "triage status",
                    s,
                    "new, in_progress, closed, false_positive",
                )
            })
    }
}

/// A change of a hit's triage: each field set changes it, the rest stay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TriageChange {
    /// The new state.
    pub status: Option<HitTriage>,
    /// The new assignee; `Some(None)` takes the hit off anyone's list.
    pub assignee: Option<Option<String>>,
    /// A note kept in the hit's triage history.
    pub note: Option<String>,
    /// Who made the change.
    pub author: String,
}

/// One entry of a hit's triage history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TriageEntry {
    /// The state after the change.
    pub status: HitTriage,
    /// The assignee after the change.
    pub assignee: Option<String>,
    /// The note given with it.
    pub note: Option<String>,
    /// Who made it.
    pub author: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
}

/// Delivery state of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// Waiting to be sent (or being sent, or to be retried).
    Pending,
    /// Delivered.
    Sent,
    /// Given up on after too many attempts or a permanent refusal.
    Failed,
}

impl AlertStatus {
    /// Lower-case name, as stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }
}

impl FromStr for AlertStatus {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            // `sending` is a pending alert under a lease.
            "pending" | "sending" => Ok(Self::Pending),
            "sent" => Ok(Self::Sent),
            "failed" => Ok(Self::Failed),
            other => Err(unknown("alert status", other, "pending, sent, failed")),
        }
    }
}

/// A message in the outbox: the hits of one hunt, for one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Alert {
    /// Row id; also the delivery id receivers may deduplicate on.
    #[schema(value_type = i64)]
    pub id: AlertId,
    /// The hunt whose hits it announces.
    #[schema(value_type = i64)]
    pub hunt_id: HuntId,
    /// The channel it goes to.
    pub channel: String,
    /// The hits it lists (a digest's list is capped; see `total_hits`).
    #[schema(value_type = Vec<i64>)]
    pub hits: Vec<HitId>,
    /// How many hits it summarises.
    pub total_hits: u64,
    /// Whether it is a digest (or a retro-hunt summary) rather than one hit.
    pub digest: bool,
    /// Delivery state.
    pub status: AlertStatus,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// When it is (next) due.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub next_attempt_at: OffsetDateTime,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was queued.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When it was delivered.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sent_at: Option<OffsetDateTime>,
}

/// Delivery health of one channel, from its alerts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChannelHealth {
    /// Channel name.
    pub channel: String,
    /// Alerts waiting.
    pub pending: u64,
    /// Alerts given up on.
    pub failed: u64,
    /// Alerts delivered.
    pub sent: u64,
    /// Latest delivery.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_sent_at: Option<OffsetDateTime>,
    /// Error of the latest failed attempt, if the channel has not delivered since.
    pub last_error: Option<String>,
}
