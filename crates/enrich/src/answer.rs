//! What a provider says about an indicator, and how a call went.

use std::time::Duration;

use rexist_core::IndicatorType;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// How one provider's call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The provider answered; `summary` holds what it knows.
    Ok,
    /// The provider knows nothing about the indicator.
    NotFound,
    /// The provider does not handle this indicator type (or, for RDAP, this TLD or range).
    NotApplicable,
    /// The local rate limit is used up, or the provider said 429; nothing was asked.
    RateLimited,
    /// The daily quota is used up, or the account is not entitled (HTTP 402).
    QuotaExceeded,
    /// The provider refused the credentials (HTTP 401/403).
    Unauthorized,
    /// No answer within the provider's timeout.
    Timeout,
    /// Anything else: unreachable, 5xx, malformed answer, refused target.
    Error,
}

impl Status {
    /// The snake-case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::NotFound => "not_found",
            Status::NotApplicable => "not_applicable",
            Status::RateLimited => "rate_limited",
            Status::QuotaExceeded => "quota_exceeded",
            Status::Unauthorized => "unauthorized",
            Status::Timeout => "timeout",
            Status::Error => "error",
        }
    }
}

/// One provider's answer about one indicator.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    /// The `name` of the `[[enrichment]]` table.
    pub provider: String,
    /// The provider's kind (`dns`, `otx`, …).
    pub kind: String,
    /// How the call went.
    pub status: Status,
    /// Normalised fields (see the crate docs per kind); `null` unless `ok` or `not_found`.
    pub summary: serde_json::Value,
    /// The upstream's JSON as received, when there is one.
    pub raw: Option<serde_json::Value>,
    /// Why the call failed: short, without credentials.
    pub error: Option<String>,
    /// Whether this answer came from the cache.
    pub cached: bool,
    /// When the upstream was asked (for a cached answer: the first time).
    #[serde(with = "time::serde::rfc3339")]
    pub fetched_at: OffsetDateTime,
    /// Milliseconds this call took (near 0 when cached or refused locally).
    pub elapsed_ms: u64,
}

/// A configured provider, as listed by [`crate::Enricher::providers`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderInfo {
    /// The table's `name`.
    pub name: String,
    /// The provider's kind.
    pub kind: String,
    /// The indicator types it answers for.
    pub types: Vec<IndicatorType>,
}

/// A provider's successful reply: found or not.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: Status,
    pub(crate) summary: serde_json::Value,
    pub(crate) raw: Option<serde_json::Value>,
}

impl Reply {
    pub(crate) fn ok(summary: serde_json::Value, raw: Option<serde_json::Value>) -> Self {
        Self {
            status: Status::Ok,
            summary,
            raw,
        }
    }

    pub(crate) fn not_found(raw: Option<serde_json::Value>) -> Self {
        Self {
            status: Status::NotFound,
            summary: serde_json::Value::Null,
            raw,
        }
    }
}

/// A provider's failed call.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) status: Status,
    pub(crate) reason: String,
    /// How long the upstream asked us to stay away (HTTP 429 `Retry-After`).
    pub(crate) retry_after: Option<Duration>,
}

impl Failure {
    pub(crate) fn new(status: Status, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
            retry_after: None,
        }
    }

    pub(crate) fn error(reason: impl Into<String>) -> Self {
        Self::new(Status::Error, reason)
    }
}

/// What a provider's lookup yields.
pub(crate) type Outcome = Result<Reply, Failure>;
