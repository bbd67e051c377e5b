//! The cache the enrichers of several nodes share, and that a restart
//! keeps: rexist's store implements it (`rexist_lookup::StoreCache`), this
//! crate only defines what it needs, so it stays free of storage.

use std::future::Future;
use std::pin::Pin;

use rexist_core::IndicatorType;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::answer::{Answer, Status};

/// A boxed future, so that [`SharedCache`] can be used as a trait object.
pub type CacheFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Answers kept beside the in-memory cache, shared by every enricher over
/// the same backing (the store), keyed by provider name, indicator type and
/// value. Failures are the cache's to log: a lookup never fails for them.
pub trait SharedCache: Send + Sync {
    /// The answer kept for the key if it has not expired.
    fn get<'a>(
        &'a self,
        provider: &'a str,
        kind: IndicatorType,
        value: &'a str,
    ) -> CacheFuture<'a, Option<SharedAnswer>>;

    /// Keeps an answer until its `expires_at`, replacing the key's.
    fn put<'a>(
        &'a self,
        provider: &'a str,
        kind: IndicatorType,
        value: &'a str,
        answer: SharedAnswer,
    ) -> CacheFuture<'a, ()>;
}

/// One kept answer: the provider's reply as JSON, scrubbed of its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedAnswer {
    /// What the provider said, as written by the enricher.
    pub json: String,
    /// When the provider was asked.
    pub fetched_at: OffsetDateTime,
    /// Until when it may be served.
    pub expires_at: OffsetDateTime,
}

/// What is kept of an [`Answer`]: the reply, not how this call went.
#[derive(Serialize, Deserialize)]
struct Kept {
    status: Status,
    summary: serde_json::Value,
    raw: Option<serde_json::Value>,
}

/// `answer`'s reply as kept.
pub(crate) fn encode(answer: &Answer) -> String {
    serde_json::to_string(&Kept {
        status: answer.status,
        summary: answer.summary.clone(),
        raw: answer.raw.clone(),
    })
    .unwrap_or_default()
}

/// The cached answer of provider `name` (of `kind`) from what was kept;
/// `None` when it cannot be read (written by another version, say).
pub(crate) fn decode(name: &str, kind: &str, kept: &SharedAnswer) -> Option<Answer> {
    let k: Kept = serde_json::from_str(&kept.json).ok()?;
    matches!(k.status, Status::Ok | Status::NotFound).then(|| Answer {
        provider: name.to_owned(),
        kind: kind.to_owned(),
        status: k.status,
        summary: k.summary,
        raw: k.raw,
        error: None,
        cached: true,
        fetched_at: kept.fetched_at,
        elapsed_ms: 0,
    })
}
