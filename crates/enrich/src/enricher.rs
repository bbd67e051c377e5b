//! The [`Enricher`]: the configured providers, each behind its guards, asked
//! concurrently.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rexist_core::IndicatorType;
use time::OffsetDateTime;
use tokio::task::JoinSet;

use crate::answer::{Answer, Failure, ProviderInfo, Reply, Status};
use crate::config::{EnrichConfig, Kind, Rate};
use crate::error::ConfigError;
use crate::limits::{AnswerCache, CacheKey, DailyQuota, TokenBucket};
use crate::providers::Backend;
use crate::shared::{SharedAnswer, SharedCache};
use rexist_http::Secret;

/// Answers kept in memory across all providers; the oldest goes first.
/// Few, since the shared cache (the store) holds the rest.
const CACHE_CAPACITY: usize = 1_000;

/// Larger answers (a page's screenshot, a big upstream JSON) skip the
/// in-memory cache, so that it stays within `CACHE_CAPACITY` × this.
const FRONT_MAX_BYTES: usize = 64 << 10;

/// The configured enrichment providers; cheap to share behind an `Arc`.
pub struct Enricher {
    slots: Vec<Arc<Slot>>,
    cache: Arc<Mutex<AnswerCache>>,
    shared: Option<Arc<dyn SharedCache>>,
}

/// One provider and the guards in front of it.
struct Slot {
    name: String,
    kind: Kind,
    backend: Backend,
    timeout: Duration,
    cache_ttl: Duration,
    rate: Option<(Rate, Mutex<TokenBucket>)>,
    quota: Option<Mutex<DailyQuota>>,
    /// Until when the upstream asked us not to call (429 `Retry-After`).
    hold: Mutex<Option<Instant>>,
    /// Values scrubbed from every error, whatever produced it.
    secrets: Vec<Secret>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl std::fmt::Debug for Enricher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enricher")
            .field(
                "providers",
                &self.slots.iter().map(|s| &s.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Enricher {
    /// Validates every table, reads secrets, opens databases and builds the
    /// clients; disabled tables are checked (without reading their secrets)
    /// but not kept.
    pub fn new(configs: &[EnrichConfig]) -> Result<Self, ConfigError> {
        let mut seen = HashSet::new();
        let mut slots = Vec::new();
        let mut client = None;
        let now = Instant::now();
        for (i, config) in configs.iter().enumerate() {
            // A disabled table is checked, but its secrets and files need not
            // exist yet: disabling is how a provider waits for its key.
            let enabled = config.enabled.unwrap_or(true);
            let settings = config.settings(i + 1, enabled)?;
            if !seen.insert(settings.name.clone()) {
                return Err(ConfigError::DuplicateName {
                    name: settings.name,
                });
            }
            if !enabled {
                continue;
            }
            if client.is_none() && settings.kind.uses_api_client() {
                client = Some(
                    crate::api::api_client().map_err(|reason| ConfigError::Client {
                        table: settings.name.clone(),
                        reason,
                    })?,
                );
            }
            let backend = Backend::build(config, &settings, client.as_ref())?;
            let secrets = settings
                .key
                .iter()
                .chain(settings.password.iter())
                .cloned()
                .collect();
            slots.push(Arc::new(Slot {
                rate: settings
                    .rate
                    .map(|r| (r, Mutex::new(TokenBucket::new(r, now)))),
                quota: settings
                    .daily_quota
                    .map(|q| Mutex::new(DailyQuota::new(q, OffsetDateTime::now_utc()))),
                name: settings.name,
                kind: settings.kind,
                backend,
                timeout: settings.timeout,
                cache_ttl: settings.cache_ttl,
                hold: Mutex::new(None),
                secrets,
            }));
        }
        Ok(Self {
            slots,
            cache: Arc::new(Mutex::new(AnswerCache::new(CACHE_CAPACITY))),
            shared: None,
        })
    }

    /// The same providers, keeping answers in `cache` too (behind the
    /// in-memory one), which other enrichers over it share.
    #[must_use]
    pub fn with_shared_cache(mut self, cache: Arc<dyn SharedCache>) -> Self {
        self.shared = Some(cache);
        self
    }

    /// The enabled providers, in configuration order.
    pub fn providers(&self) -> Vec<ProviderInfo> {
        self.slots
            .iter()
            .map(|s| ProviderInfo {
                name: s.name.clone(),
                kind: s.kind.as_str().to_owned(),
                types: s.backend.types().to_vec(),
            })
            .collect()
    }

    /// Tells `inspect` providers the addresses rexist itself listens on, so
    /// that a URL cannot make rexist call its own API.
    pub fn set_own_addresses(&self, addrs: &[SocketAddr]) {
        for slot in &self.slots {
            if let Backend::Inspect(inspect) = &slot.backend {
                inspect.set_own_addresses(addrs);
            }
        }
    }

    /// Asks every applicable provider (or only those named) concurrently, each with its own timeout; never fails as a whole.
    ///
    /// Answers come in configuration order. Without `only`, providers that
    /// do not handle `kind` are left out; a provider named in `only` that does
    /// not handle it answers `not_applicable`, and a name that matches no
    /// enabled provider answers `not_applicable` with kind `unknown`.
    pub async fn enrich(
        &self,
        kind: IndicatorType,
        value: &str,
        only: Option<&[String]>,
    ) -> Vec<Answer> {
        let mut answers: Vec<(usize, Answer)> = Vec::new();
        let mut tasks = JoinSet::new();
        let mut task_slot = HashMap::new();
        for (i, slot) in self.slots.iter().enumerate() {
            if only.is_some_and(|names| !names.iter().any(|n| *n == slot.name)) {
                continue;
            }
            if !slot.backend.types().contains(&kind) {
                if only.is_some() {
                    answers.push((
                        i,
                        slot.local(
                            Status::NotApplicable,
                            format!("{} does not look up {}", slot.kind.as_str(), kind.as_str()),
                        ),
                    ));
                }
                continue;
            }
            let slot = Arc::clone(slot);
            let cache = Arc::clone(&self.cache);
            let shared = self.shared.clone();
            let value = value.to_owned();
            let handle =
                tasks.spawn(async move { slot.ask(kind, &value, &cache, shared.as_deref()).await });
            task_slot.insert(handle.id(), i);
        }
        while let Some(joined) = tasks.join_next_with_id().await {
            match joined {
                Ok((id, answer)) => {
                    if let Some(&i) = task_slot.get(&id) {
                        answers.push((i, answer));
                    }
                }
                Err(e) => {
                    // A panicking provider is a bug; the others still answer.
                    if let Some(&i) = task_slot.get(&e.id()) {
                        tracing::error!(provider = %self.slots[i].name, "enrichment task failed");
                        answers.push((
                            i,
                            self.slots[i].local(Status::Error, "internal error".to_owned()),
                        ));
                    }
                }
            }
        }
        answers.sort_by_key(|(i, _)| *i);
        let mut out: Vec<Answer> = answers.into_iter().map(|(_, a)| a).collect();
        for name in only.unwrap_or_default() {
            if !self.slots.iter().any(|s| s.name == *name) {
                out.push(Answer {
                    provider: name.clone(),
                    kind: "unknown".to_owned(),
                    status: Status::NotApplicable,
                    summary: serde_json::Value::Null,
                    raw: None,
                    error: Some(format!("no enabled enrichment provider is named {name:?}")),
                    cached: false,
                    fetched_at: OffsetDateTime::now_utc(),
                    elapsed_ms: 0,
                });
            }
        }
        out
    }
}

fn whole_micros(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1000 * 1000)
        .unwrap_or(t)
}

fn millis(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// `90 s`, `4 min`, `1 h`: for messages.
fn human(d: Duration) -> String {
    let s = d.as_secs();
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if s % 3600 == 0 {
        format!("{} h", s / 3600)
    } else if s % 60 == 0 && s >= 60 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

impl Slot {
    /// An answer decided here, without asking the upstream.
    fn local(&self, status: Status, error: String) -> Answer {
        Answer {
            provider: self.name.clone(),
            kind: self.kind.as_str().to_owned(),
            status,
            summary: serde_json::Value::Null,
            raw: None,
            error: Some(error),
            cached: false,
            fetched_at: OffsetDateTime::now_utc(),
            elapsed_ms: 0,
        }
    }

    /// The guards, then the upstream: caches (in memory, then shared),
    /// `Retry-After` hold, daily quota, rate limit, then the lookup under
    /// the timeout.
    async fn ask(
        &self,
        kind: IndicatorType,
        value: &str,
        cache: &Mutex<AnswerCache>,
        shared: Option<&dyn SharedCache>,
    ) -> Answer {
        let started = Instant::now();
        let key: CacheKey = (self.name.clone(), kind, value.to_owned());
        if let Some(mut hit) = lock(cache).get(&key, started) {
            hit.cached = true;
            hit.elapsed_ms = 0;
            return hit;
        }
        let shared = shared.filter(|_| !self.cache_ttl.is_zero());
        if let Some(shared) = shared {
            let kept = shared.get(&self.name, kind, value).await;
            if let Some((kept, hit)) = kept.and_then(|k| {
                crate::shared::decode(&self.name, self.kind.as_str(), &k).map(|a| (k, a))
            }) {
                let left = kept.expires_at - OffsetDateTime::now_utc();
                let left = Duration::try_from(left)
                    .unwrap_or_default()
                    .min(self.cache_ttl);
                if kept.json.len() <= FRONT_MAX_BYTES {
                    lock(cache).insert(key, hit.clone(), left, Instant::now());
                }
                return hit;
            }
        }
        if let Some(until) = *lock(&self.hold) {
            if started < until {
                return self.local(
                    Status::RateLimited,
                    format!(
                        "{} asked us to wait; {} left",
                        self.name,
                        human(Duration::from_secs((until - started).as_secs().max(1)))
                    ),
                );
            }
        }
        if let Some(refused) = self.take_turn(started) {
            return refused;
        }

        // Whole microseconds, as a shared cache keeps it, so that every
        // node shows one answer with one time.
        let fetched_at = whole_micros(OffsetDateTime::now_utc());
        let outcome =
            match tokio::time::timeout(self.timeout, self.backend.lookup(kind, value)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Failure::new(
                    Status::Timeout,
                    format!("no answer within {}", human(self.timeout)),
                )),
            };
        let elapsed_ms = millis(started);
        match outcome {
            Ok(Reply {
                status,
                summary,
                raw,
            }) => {
                let answer = Answer {
                    provider: self.name.clone(),
                    kind: self.kind.as_str().to_owned(),
                    status,
                    summary,
                    raw,
                    error: None,
                    cached: false,
                    fetched_at,
                    elapsed_ms,
                };
                if matches!(status, Status::Ok | Status::NotFound) && !self.cache_ttl.is_zero() {
                    self.keep(key, &answer, cache, shared).await;
                }
                answer
            }
            Err(failure) => {
                if let Some(wait) = failure.retry_after {
                    *lock(&self.hold) = Some(Instant::now() + wait);
                }
                tracing::debug!(provider = %self.name, status = failure.status.as_str(), "enrichment failed");
                Answer {
                    provider: self.name.clone(),
                    kind: self.kind.as_str().to_owned(),
                    status: failure.status,
                    summary: serde_json::Value::Null,
                    raw: None,
                    error: Some(self.scrub(failure.reason)),
                    cached: false,
                    fetched_at,
                    elapsed_ms,
                }
            }
        }
    }

    /// Caches a fresh answer: in memory when small, and in the shared cache
    /// scrubbed of this provider's secrets.
    async fn keep(
        &self,
        key: CacheKey,
        answer: &Answer,
        cache: &Mutex<AnswerCache>,
        shared: Option<&dyn SharedCache>,
    ) {
        let json = self.scrub(crate::shared::encode(answer));
        if json.len() <= FRONT_MAX_BYTES {
            lock(cache).insert(key.clone(), answer.clone(), self.cache_ttl, Instant::now());
        }
        if let Some(shared) = shared {
            let ttl = time::Duration::try_from(self.cache_ttl).unwrap_or(time::Duration::MAX);
            let kept = SharedAnswer {
                json,
                fetched_at: answer.fetched_at,
                expires_at: answer.fetched_at.saturating_add(ttl),
            };
            shared.put(&key.0, key.1, &key.2, kept).await;
        }
    }

    /// Spends a request from the quota and the bucket, or says which refused.
    fn take_turn(&self, now: Instant) -> Option<Answer> {
        let today = OffsetDateTime::now_utc();
        // The quota lock is held across the bucket check so that concurrent
        // lookups cannot overspend it.
        let mut quota = self.quota.as_ref().map(|q| lock(q));
        if let Some(q) = quota.as_mut() {
            if !q.available(today) {
                return Some(self.local(
                    Status::QuotaExceeded,
                    format!(
                        "daily quota of {} requests used up; it resets at 00:00 UTC",
                        q.limit()
                    ),
                ));
            }
        }
        if let Some((rate, bucket)) = &self.rate {
            if !lock(bucket).try_take(now) {
                return Some(self.local(
                    Status::RateLimited,
                    format!(
                        "local rate limit of {} per {} reached",
                        rate.count,
                        human(rate.per)
                    ),
                ));
            }
        }
        if let Some(q) = quota.as_mut() {
            q.spend(today);
        }
        None
    }

    /// Masks the provider's secrets in a message, whatever wrote it.
    fn scrub(&self, mut text: String) -> String {
        for secret in &self.secrets {
            if !secret.expose().is_empty() {
                text = text.replace(secret.expose(), "***");
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::human;
    use std::time::Duration;

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_millis(200)), "200 ms");
        assert_eq!(human(Duration::from_secs(60)), "1 min");
        assert_eq!(human(Duration::from_secs(90)), "90 s");
        assert_eq!(human(Duration::from_secs(7200)), "2 h");
    }
}
