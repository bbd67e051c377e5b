//! Column lists and decoding shared by both backends: each backend reads the
//! same columns into primitive values, and these functions build the domain
//! types from them, so both return identical values.

use rexist_core::model::from_unix_micros;
use rexist_core::{
    Alert, AlertId, AlertStatus, ChannelHealth, HitId, HitObject, Hunt, HuntHit, HuntId, HuntKind,
    HuntSpec, IndicatorId, IndicatorRecord, IndicatorStatus, IndicatorType, Item, ItemId, ItemKind,
    NewItem, RetractReason, Run, RunCounts, RunId, RunOutcome, Sighting, SightingId, Source,
    SourceHealth, SourceId, Tlp,
};

use crate::{Result, StoreError};

/// Columns of `sources`, in the order [`SourceRow`] takes them.
pub(crate) const SOURCE_COLUMNS: &str = "id, name, kind, enabled, confidence, tlp, tags, last_run_at, last_success_at, consecutive_failures, last_error, first_run_at";
/// Columns of `runs`, in the order [`RunRow`] takes them.
pub(crate) const RUN_COLUMNS: &str =
    "id, source_id, started_at, finished_at, outcome, counts, cursor, error";
/// Columns of `items`, in the order [`ItemRow`] takes them.
pub(crate) const ITEM_COLUMNS: &str = "id, source_id, kind, external_id, title, body, url, lang, published_at, tlp, tags, extra, created_at, updated_at";
/// Columns of `indicators`, in the order [`IndicatorRow`] takes them.
pub(crate) const INDICATOR_COLUMNS: &str =
    "id, kind, value, first_seen, last_seen, sightings, score, tlp, status, status_reason";
/// Columns of `sightings`, in the order [`SightingRow`] takes them.
pub(crate) const SIGHTING_COLUMNS: &str = "id, indicator_id, source_id, item_id, first_seen, last_seen, confidence, tlp, labels, listed, retired_at, retired_reason, expires_at";

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::internal(format!("corrupt {what} in store: {e}"))
}

fn tlp(rank: i64) -> Result<Tlp> {
    Tlp::from_rank(rank).ok_or_else(|| corrupt("tlp", rank))
}

fn strings(json: &str) -> Result<Vec<String>> {
    serde_json::from_str(json).map_err(|e| corrupt("tag list", e))
}

fn small(n: i64) -> u8 {
    u8::try_from(n.clamp(0, 255)).unwrap_or(u8::MAX)
}

/// A `sources` row.
pub(crate) struct SourceRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub enabled: bool,
    pub confidence: i64,
    pub tlp: i64,
    pub tags: String,
    pub last_run_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub consecutive_failures: i64,
    pub last_error: Option<String>,
    pub first_run_at: Option<i64>,
}

impl SourceRow {
    pub fn decode(self) -> Result<Source> {
        Ok(Source {
            id: SourceId::new(self.id),
            name: self.name,
            kind: self.kind,
            enabled: self.enabled,
            confidence: small(self.confidence),
            tlp: tlp(self.tlp)?,
            tags: strings(&self.tags)?,
            health: SourceHealth {
                first_run_at: self.first_run_at.map(from_unix_micros),
                last_run_at: self.last_run_at.map(from_unix_micros),
                last_success_at: self.last_success_at.map(from_unix_micros),
                consecutive_failures: u32::try_from(self.consecutive_failures).unwrap_or(0),
                last_error: self.last_error,
            },
        })
    }
}

/// A `runs` row.
pub(crate) struct RunRow {
    pub id: i64,
    pub source_id: i64,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub outcome: String,
    pub counts: String,
    pub cursor: Option<String>,
    pub error: Option<String>,
}

impl RunRow {
    pub fn decode(self) -> Result<Run> {
        Ok(Run {
            id: RunId::new(self.id),
            source_id: SourceId::new(self.source_id),
            started_at: from_unix_micros(self.started_at),
            finished_at: self.finished_at.map(from_unix_micros),
            outcome: self
                .outcome
                .parse::<RunOutcome>()
                .map_err(|e| corrupt("run outcome", e))?,
            counts: serde_json::from_str::<RunCounts>(&self.counts)
                .map_err(|e| corrupt("run counts", e))?,
            cursor: self.cursor,
            error: self.error,
        })
    }
}

/// An `items` row.
pub(crate) struct ItemRow {
    pub id: i64,
    pub source_id: i64,
    pub kind: String,
    pub external_id: String,
    pub title: String,
    pub body: String,
    pub url: Option<String>,
    pub lang: Option<String>,
    pub published_at: Option<i64>,
    pub tlp: i64,
    pub tags: String,
    pub extra: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ItemRow {
    pub fn decode(self) -> Result<Item> {
        Ok(Item {
            id: ItemId::new(self.id),
            source_id: SourceId::new(self.source_id),
            content: NewItem {
                kind: self
                    .kind
                    .parse::<ItemKind>()
                    .map_err(|e| corrupt("item kind", e))?,
                external_id: self.external_id,
                title: self.title,
                body: self.body,
                url: self.url,
                lang: self.lang,
                published_at: self.published_at.map(from_unix_micros),
                tlp: tlp(self.tlp)?,
                tags: strings(&self.tags)?,
                extra: serde_json::from_str(&self.extra).map_err(|e| corrupt("item extra", e))?,
            },
            created_at: from_unix_micros(self.created_at),
            updated_at: from_unix_micros(self.updated_at),
        })
    }
}

/// An `indicators` row.
pub(crate) struct IndicatorRow {
    pub id: i64,
    pub kind: String,
    pub value: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub sightings: i64,
    pub score: i64,
    pub tlp: i64,
    pub status: String,
    pub status_reason: Option<String>,
}

impl IndicatorRow {
    pub fn decode(self) -> Result<IndicatorRecord> {
        Ok(IndicatorRecord {
            id: IndicatorId::new(self.id),
            kind: self
                .kind
                .parse::<IndicatorType>()
                .map_err(|e| corrupt("indicator type", e))?,
            value: self.value,
            first_seen: from_unix_micros(self.first_seen),
            last_seen: from_unix_micros(self.last_seen),
            sightings: u64::try_from(self.sightings).unwrap_or(0),
            score: small(self.score),
            tlp: tlp(self.tlp)?,
            status: self
                .status
                .parse::<IndicatorStatus>()
                .map_err(|e| corrupt("indicator status", e))?,
            status_reason: self.status_reason,
        })
    }
}

/// A `sightings` row.
pub(crate) struct SightingRow {
    pub id: i64,
    pub indicator_id: i64,
    pub source_id: i64,
    pub item_id: i64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub confidence: i64,
    pub tlp: i64,
    pub labels: String,
    pub listed: bool,
    pub retired_at: Option<i64>,
    pub retired_reason: Option<String>,
    pub expires_at: Option<i64>,
}

impl SightingRow {
    pub fn decode(self) -> Result<Sighting> {
        Ok(Sighting {
            id: SightingId::new(self.id),
            indicator_id: IndicatorId::new(self.indicator_id),
            source_id: SourceId::new(self.source_id),
            item_id: (self.item_id != 0).then(|| ItemId::new(self.item_id)),
            first_seen: from_unix_micros(self.first_seen),
            last_seen: from_unix_micros(self.last_seen),
            confidence: small(self.confidence),
            tlp: tlp(self.tlp)?,
            labels: strings(&self.labels)?,
            listed: self.listed,
            retired_at: self.retired_at.map(from_unix_micros),
            retired_reason: self
                .retired_reason
                .as_deref()
                .map(str::parse::<RetractReason>)
                .transpose()
                .map_err(|e| corrupt("retraction reason", e))?,
            expires_at: self.expires_at.map(from_unix_micros),
        })
    }
}

/// Columns of `hunts`, in the order [`HuntRow`] takes them.
pub(crate) const HUNT_COLUMNS: &str = "id, name, kind, definition, enabled, channels, digest_secs, created_at, updated_at, last_digest_at, tlp";
/// Columns of `hunt_hits`, in the order [`HitRow`] takes them.
pub(crate) const HIT_COLUMNS: &str = "id, hunt_id, object_kind, object_id, terms, retro, created_at, acked_at, acked_by, triage, assignee";
/// Columns of `alerts`, in the order [`AlertRow`] takes them.
pub(crate) const ALERT_COLUMNS: &str = "id, hunt_id, channel, hits, total_hits, digest, status, attempts, next_attempt_at, last_error, created_at, sent_at";

/// A `hunts` row.
pub(crate) struct HuntRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub definition: String,
    pub enabled: bool,
    pub channels: String,
    pub digest_secs: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_digest_at: Option<i64>,
    pub tlp: i64,
}

impl HuntRow {
    pub fn decode(self) -> Result<Hunt> {
        Ok(Hunt {
            id: HuntId::new(self.id),
            spec: HuntSpec {
                name: self.name,
                kind: self
                    .kind
                    .parse::<HuntKind>()
                    .map_err(|e| corrupt("hunt kind", e))?,
                definition: self.definition,
                enabled: self.enabled,
                channels: strings(&self.channels)?,
                digest_secs: self.digest_secs.and_then(|s| u64::try_from(s).ok()),
                tlp: tlp(self.tlp)?,
            },
            created_at: from_unix_micros(self.created_at),
            updated_at: from_unix_micros(self.updated_at),
            last_digest_at: self.last_digest_at.map(from_unix_micros),
        })
    }
}

/// A `hunt_hits` row.
pub(crate) struct HitRow {
    pub id: i64,
    pub hunt_id: i64,
    pub object_kind: String,
    pub object_id: i64,
    pub terms: String,
    pub retro: bool,
    pub created_at: i64,
    pub acked_at: Option<i64>,
    pub acked_by: Option<String>,
    pub triage: String,
    pub assignee: Option<String>,
}

impl HitRow {
    pub fn decode(self) -> Result<HuntHit> {
        Ok(HuntHit {
            id: HitId::new(self.id),
            hunt_id: HuntId::new(self.hunt_id),
            object: HitObject::from_parts(&self.object_kind, self.object_id)
                .map_err(|e| corrupt("hit object", e))?,
            terms: strings(&self.terms)?,
            retro: self.retro,
            created_at: from_unix_micros(self.created_at),
            acked_at: self.acked_at.map(from_unix_micros),
            acked_by: self.acked_by,
            triage: self.triage.parse().map_err(|e| corrupt("hit triage", e))?,
            assignee: self.assignee,
        })
    }
}

/// An `alerts` row.
pub(crate) struct AlertRow {
    pub id: i64,
    pub hunt_id: i64,
    pub channel: String,
    pub hits: String,
    pub total_hits: i64,
    pub digest: bool,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

impl AlertRow {
    pub fn decode(self) -> Result<Alert> {
        Ok(Alert {
            id: AlertId::new(self.id),
            hunt_id: HuntId::new(self.hunt_id),
            channel: self.channel,
            hits: serde_json::from_str(&self.hits).map_err(|e| corrupt("alert hits", e))?,
            total_hits: u64::try_from(self.total_hits).unwrap_or(0),
            digest: self.digest,
            status: self
                .status
                .parse::<AlertStatus>()
                .map_err(|e| corrupt("alert status", e))?,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            next_attempt_at: from_unix_micros(self.next_attempt_at),
            last_error: self.last_error,
            created_at: from_unix_micros(self.created_at),
            sent_at: self.sent_at.map(from_unix_micros),
        })
    }
}

/// A channel's health from its alert counts.
pub(crate) fn channel_health(
    channel: String,
    pending: i64,
    failed: i64,
    sent: i64,
    last_sent_at: Option<i64>,
    last_error: Option<String>,
) -> ChannelHealth {
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    ChannelHealth {
        channel,
        pending: count(pending),
        failed: count(failed),
        sent: count(sent),
        last_sent_at: last_sent_at.map(from_unix_micros),
        last_error,
    }
}

/// A hunt's channels and digest period, as `record_hits` needs them.
pub(crate) type AlertSettings = (Vec<String>, Option<u64>);

/// How many hits a digest alert lists by id; it counts all of them.
pub(crate) const DIGEST_LIST_CAP: usize = 50;

/// Whether a hit of a hunt with these settings is announced on its own at
/// insert (`true`), collected for a digest (`false`), or needs nothing
/// (`None`: the hunt has no channels, so it counts as announced).
pub(crate) fn announce_now(
    channels: &[String],
    digest_secs: Option<u64>,
    retro: bool,
) -> Option<bool> {
    if channels.is_empty() {
        None
    } else {
        Some(!retro && digest_secs.is_none())
    }
}

/// JSON text of a value that always serialises (tag lists, counts).
/// A column list with each column prefixed by `alias.`, for joins.
pub(crate) fn qualified(alias: &str, columns: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

/// A duration in whole microseconds, saturating.
pub(crate) fn micros(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Columns of `relations`, in the order [`RelationRow`] takes them.
pub(crate) const RELATION_COLUMNS: &str = "from_id, to_id, kind, source_id, first_seen, last_seen";

/// A `relations` row.
pub(crate) struct RelationRow {
    pub from_id: i64,
    pub to_id: i64,
    pub kind: String,
    pub source_id: i64,
    pub first_seen: i64,
    pub last_seen: i64,
}

impl RelationRow {
    pub fn decode(self) -> rexist_core::Relation {
        rexist_core::Relation {
            from: IndicatorId::new(self.from_id),
            to: IndicatorId::new(self.to_id),
            kind: self.kind,
            source_id: SourceId::new(self.source_id),
            first_seen: from_unix_micros(self.first_seen),
            last_seen: from_unix_micros(self.last_seen),
        }
    }
}

/// The sightings that stating `relations` implies: one of each end, in no item.
pub(crate) fn relation_ends(
    relations: &[rexist_core::NewRelation],
) -> Vec<rexist_core::NewSighting> {
    relations
        .iter()
        .flat_map(|r| [&r.from, &r.to].map(|i| (i.clone(), r.seen_at)))
        .map(|(indicator, seen_at)| rexist_core::NewSighting::new(indicator, seen_at))
        .collect()
}

/// Hash of an item's content, to tell changed items from unchanged ones.
pub(crate) fn content_hash(item: &NewItem) -> String {
    rexist_core::indicator::sha256_hex(&serde_json::to_vec(item).unwrap_or_default())
}

/// Opaque cursor of an indicator page: the last `(value, type)` seen.
pub(crate) fn encode_cursor(value: &str, kind: IndicatorType) -> String {
    format!(
        "{}.{}",
        kind.as_str(),
        rexist_core::indicator::hex(value.as_bytes())
    )
}

/// The inverse of [`encode_cursor`].
pub(crate) fn decode_cursor(cursor: &str) -> Result<(String, String)> {
    let bad = || {
        StoreError::invalid(format!(
            "invalid page cursor {:?}",
            cursor.chars().take(40).collect::<String>()
        ))
    };
    let (kind, hex) = cursor.split_once('.').ok_or_else(bad)?;
    let kind: IndicatorType = kind.parse().map_err(|_| bad())?;
    if hex.len() % 2 != 0 {
        return Err(bad());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(bad)?;
    let value = String::from_utf8(bytes).map_err(|_| bad())?;
    Ok((value, kind.as_str().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = encode_cursor("http://évil.com/?a=b", IndicatorType::Url);
        assert_eq!(
            decode_cursor(&c).unwrap(),
            ("http://évil.com/?a=b".to_owned(), "url".to_owned())
        );
        assert!(decode_cursor("url.zz").is_err());
        assert!(decode_cursor("nope").is_err());
        assert!(decode_cursor("bogus.00").is_err());
    }
}
