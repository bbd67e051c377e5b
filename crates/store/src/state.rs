//! State that used to live in each process's memory and that several nodes
//! on one database must share, and a restart keep: retro-hunt progress,
//! TAXII status resources and cached enrichment answers. Rows are decoded
//! the same way for both backends.

use std::fmt;
use std::str::FromStr;

use rexist_core::model::from_unix_micros;
use rexist_core::{HuntId, IndicatorType};
use serde::Serialize;
use time::OffsetDateTime;

use crate::{Result, StoreError};

/// Where a retro-hunt is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RetroStatus {
    /// Its job waits for a worker.
    Queued,
    /// A worker is running it.
    Running,
    /// It finished; its hits are recorded and announced.
    Done,
    /// It stopped on an error.
    Failed,
    /// Its worker stopped (shut down, or died and missed its heartbeats);
    /// its job is run again by the next worker.
    Interrupted,
}

impl RetroStatus {
    /// The lower-case name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for RetroStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RetroStatus {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "done" => Self::Done,
            "failed" => Self::Failed,
            "interrupted" => Self::Interrupted,
            other => {
                return Err(StoreError::internal(format!(
                    "unknown retro-hunt status {other:?}"
                )));
            }
        })
    }
}

/// The latest retro-hunt of a hunt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetroHunt {
    /// The hunt.
    pub hunt: HuntId,
    /// Where it is.
    pub status: RetroStatus,
    /// Items or indicators evaluated so far.
    pub scanned: u64,
    /// New hits recorded so far.
    pub hits: u64,
    /// Hits announced in the retro summary alert(s).
    pub announced: u64,
    /// When it was asked for.
    pub queued_at: OffsetDateTime,
    /// When a worker last started it.
    pub started_at: Option<OffsetDateTime>,
    /// When it ended (done, failed or interrupted).
    pub finished_at: Option<OffsetDateTime>,
    /// Why it failed or was interrupted.
    pub error: Option<String>,
}

/// Columns of `retro_hunts`, in the order [`RetroRow`] takes them.
pub(crate) const RETRO_COLUMNS: &str =
    "hunt_id, status, scanned, hits, announced, queued_at, started_at, finished_at, error";

/// A `retro_hunts` row as read.
pub(crate) struct RetroRow {
    pub hunt: i64,
    pub status: String,
    pub scanned: i64,
    pub hits: i64,
    pub announced: i64,
    pub queued_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A count as stored (saturating: counts never come near `i64::MAX`).
pub(crate) fn stored_count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl RetroRow {
    pub fn decode(self) -> Result<RetroHunt> {
        Ok(RetroHunt {
            hunt: HuntId::new(self.hunt),
            status: self.status.parse()?,
            scanned: count(self.scanned),
            hits: count(self.hits),
            announced: count(self.announced),
            queued_at: from_unix_micros(self.queued_at),
            started_at: self.started_at.map(from_unix_micros),
            finished_at: self.finished_at.map(from_unix_micros),
            error: self.error,
        })
    }
}

/// A TAXII 2.1 status resource (TAXII 2.1 §4.3.1), kept so that any node
/// answers its GET and a restart keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaxiiStatus {
    /// The status's identifier (a UUID).
    pub id: String,
    /// The API root it belongs to (`api`).
    pub api_root: String,
    /// `complete` or `pending`.
    pub status: String,
    /// When the request was received.
    pub request_timestamp: OffsetDateTime,
    /// Objects in the request.
    pub total_count: u64,
    /// Objects stored.
    pub success_count: u64,
    /// Objects refused.
    pub failure_count: u64,
    /// Objects not yet processed.
    pub pending_count: u64,
    /// The status details of the stored objects (a JSON array).
    pub successes: serde_json::Value,
    /// The status details of the refused objects, with messages (a JSON array).
    pub failures: serde_json::Value,
    /// The status details of pending objects (a JSON array).
    pub pendings: serde_json::Value,
}

/// Columns of `taxii_statuses`, in the order [`TaxiiStatusRow`] takes them.
pub(crate) const TAXII_STATUS_COLUMNS: &str = "id, api_root, status, request_timestamp, \
     total_count, success_count, failure_count, pending_count, successes, failures, pendings";

/// A `taxii_statuses` row as read.
pub(crate) struct TaxiiStatusRow {
    pub id: String,
    pub api_root: String,
    pub status: String,
    pub request_timestamp: i64,
    pub total_count: i64,
    pub success_count: i64,
    pub failure_count: i64,
    pub pending_count: i64,
    pub successes: String,
    pub failures: String,
    pub pendings: String,
}

impl TaxiiStatusRow {
    pub fn decode(self) -> Result<TaxiiStatus> {
        let details = |text: &str, what: &str| {
            serde_json::from_str(text)
                .map_err(|e| StoreError::internal(format!("taxii status {}: {what}: {e}", self.id)))
        };
        Ok(TaxiiStatus {
            successes: details(&self.successes, "successes")?,
            failures: details(&self.failures, "failures")?,
            pendings: details(&self.pendings, "pendings")?,
            status: self.status,
            api_root: self.api_root,
            request_timestamp: from_unix_micros(self.request_timestamp),
            total_count: count(self.total_count),
            success_count: count(self.success_count),
            failure_count: count(self.failure_count),
            pending_count: count(self.pending_count),
            id: self.id,
        })
    }
}

/// An enrichment provider's answer about one indicator, kept until it
/// expires. `answer` is what the provider said, with no credentials in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedEnrichment {
    /// The provider's configured name.
    pub provider: String,
    /// The indicator's type.
    pub kind: IndicatorType,
    /// The indicator's canonical value.
    pub value: String,
    /// The answer, serialised by the enricher (JSON).
    pub answer: String,
    /// When the provider was asked.
    pub fetched_at: OffsetDateTime,
    /// Until when the answer may be served.
    pub expires_at: OffsetDateTime,
}

/// Columns of `enrichments`, in the order [`EnrichmentRow`] takes them.
pub(crate) const ENRICHMENT_COLUMNS: &str = "provider, kind, value, answer, fetched_at, expires_at";

/// An `enrichments` row as read.
pub(crate) struct EnrichmentRow {
    pub provider: String,
    pub kind: String,
    pub value: String,
    pub answer: String,
    pub fetched_at: i64,
    pub expires_at: i64,
}

impl EnrichmentRow {
    pub fn decode(self) -> Result<CachedEnrichment> {
        Ok(CachedEnrichment {
            kind: self.kind.parse().map_err(|e| {
                StoreError::internal(format!("enrichment of {:?}: {e}", self.value))
            })?,
            provider: self.provider,
            value: self.value,
            answer: self.answer,
            fetched_at: from_unix_micros(self.fetched_at),
            expires_at: from_unix_micros(self.expires_at),
        })
    }
}

/// The largest answer kept: a bigger one is served but not cached, so one
/// odd upstream reply cannot bloat every node's reads.
pub const MAX_CACHED_ANSWER: usize = 1 << 20;

/// Why a retro-hunt whose worker stopped beating was marked interrupted.
pub(crate) fn retro_interrupted_reason(stale_after: std::time::Duration) -> String {
    format!("interrupted: the worker running it stopped (no heartbeat for {stale_after:?})")
}

/// Refuses an answer too long to cache, or text PostgreSQL cannot hold
/// (NUL), so that both backends refuse the same entries.
pub(crate) fn check_answer(entry: &CachedEnrichment) -> Result<()> {
    if entry.answer.len() > MAX_CACHED_ANSWER {
        return Err(StoreError::invalid(format!(
            "enrichment answer of {} about {:?} is {} bytes, more than {MAX_CACHED_ANSWER} cached at most",
            entry.provider,
            entry.value,
            entry.answer.len()
        )));
    }
    if [&entry.provider, &entry.value, &entry.answer]
        .iter()
        .any(|t| t.contains('\0'))
    {
        return Err(StoreError::invalid(format!(
            "enrichment answer of {:?} about {:?}: text with a NUL character cannot be cached",
            entry.provider, entry.value
        )));
    }
    Ok(())
}

/// Refuses a status whose identifiers PostgreSQL cannot hold (NUL), on
/// both backends alike.
pub(crate) fn check_status(status: &TaxiiStatus) -> Result<()> {
    if [&status.id, &status.api_root, &status.status]
        .iter()
        .any(|t| t.contains('\0'))
    {
        return Err(StoreError::invalid(format!(
            "taxii status {:?}: text with a NUL character cannot be stored",
            status.id
        )));
    }
    Ok(())
}

/// `s` without NUL characters, which PostgreSQL text cannot hold: error
/// messages may quote odd input.
pub(crate) fn strip_nul(s: &str) -> String {
    s.replace('\0', "")
}
