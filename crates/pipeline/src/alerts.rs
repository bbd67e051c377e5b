//! The alert dispatcher: sends what the outbox holds.
//!
//! Alerts are written by the store together with their hits (see
//! [`crate::hunter`]); the dispatcher leases due ones, renders them, sends
//! them through their channel and marks them sent. A failure is retried with
//! exponential backoff (or after the receiver's `Retry-After`) until
//! [`DispatchOptions::max_attempts`]; a permanent refusal (404, bad token)
//! ends it at once as failed. A crash between lease and mark leaves the alert
//! leased; when the lease runs out another pass sends it again, with the
//! same delivery id: delivery is at least once, and receivers that
//! deduplicate on the id see each alert once. Channels are
//! independent: one that keeps failing delays only its own alerts and never
//! ingest, and shows in [`Store::channel_health`].
//!
//! Digest hunts get one alert per period: each pass queues the digests that
//! are due.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rexist_core::model::now;
use rexist_core::{Alert, HitObject, HuntId, Tlp};
use rexist_notify::{Channel, HitSummary, Message, RateLimiter};
use rexist_store::{Store, StoreError};

/// How the dispatcher retries and paces.
#[derive(Debug, Clone)]
pub struct DispatchOptions {
    /// Name of this dispatcher in leases (unique per process).
    pub worker: String,
    /// How long a leased alert is ours before another dispatcher may take it.
    pub lease: Duration,
    /// First retry delay; doubled per attempt.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// Attempts before an alert is given up as failed.
    pub max_attempts: u32,
    /// Pause between passes when nothing is due.
    pub poll: Duration,
    /// Base URL of the web UI, for links in messages (`https://rexist.example`).
    pub base_url: Option<String>,
}

impl Default for DispatchOptions {
    fn default() -> Self {
        Self {
            worker: format!("alerts-{}", std::process::id()),
            lease: Duration::from_secs(120),
            retry_base: Duration::from_secs(10),
            retry_max: Duration::from_secs(3600),
            max_attempts: 12,
            poll: Duration::from_secs(2),
            base_url: None,
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassSummary {
    /// Digest alerts' hits queued.
    pub digested: u64,
    /// Alerts delivered.
    pub sent: u64,
    /// Attempts that failed and will be retried.
    pub retried: u64,
    /// Alerts given up on.
    pub failed: u64,
}

/// Sends pending alerts through the configured channels.
pub struct Dispatcher {
    store: Arc<dyn Store>,
    channels: HashMap<String, Channel>,
    limiters: Mutex<HashMap<String, RateLimiter>>,
    opts: DispatchOptions,
}

impl Dispatcher {
    /// A dispatcher for these channels.
    pub fn new(store: Arc<dyn Store>, channels: Vec<Channel>, opts: DispatchOptions) -> Self {
        let limiters = channels
            .iter()
            .filter_map(|c| Some((c.name().to_owned(), RateLimiter::new(c.rate_limit()?))))
            .collect();
        Self {
            store,
            channels: channels
                .into_iter()
                .map(|c| (c.name().to_owned(), c))
                .collect(),
            limiters: Mutex::new(limiters),
            opts,
        }
    }

    /// Names of the configured channels.
    pub fn channel_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.channels.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Channels whose rate limit lets one more message go now.
    fn ready_channels(&self) -> Vec<&str> {
        let now = Instant::now();
        let limiters = self.limiters.lock().ok();
        self.channel_names()
            .into_iter()
            .filter(|name| {
                limiters
                    .as_ref()
                    .and_then(|l| l.get(*name))
                    // a probe on a copy: the slot is taken only when a message goes
                    .is_none_or(|l| l.clone().try_acquire(now).is_ok())
            })
            .collect()
    }

    fn take_slot(&self, channel: &str) {
        if let Ok(mut l) = self.limiters.lock() {
            if let Some(limiter) = l.get_mut(channel) {
                let _ = limiter.try_acquire(Instant::now());
            }
        }
    }

    /// Queues the digests that are due.
    pub async fn queue_due_digests(&self) -> Result<u64, StoreError> {
        let at = now();
        let mut queued = 0;
        for hunt in self.store.list_hunts().await? {
            let Some(period) = hunt.spec.digest_secs else {
                continue;
            };
            if hunt.spec.channels.is_empty() {
                continue;
            }
            let period = time::Duration::seconds(i64::try_from(period).unwrap_or(i64::MAX));
            if hunt.last_digest_at.is_none_or(|t| at - t >= period) {
                queued += self.store.queue_digest(hunt.id, false).await?;
            }
        }
        Ok(queued)
    }

    /// One pass: queue due digests, then send every due alert.
    pub async fn pass(&self) -> Result<PassSummary, StoreError> {
        self.pass_until(None).await
    }

    /// [`Dispatcher::pass`], ending early (between two alerts) once `stop`
    /// turns true, so a shutdown waits for one delivery at most.
    async fn pass_until(
        &self,
        stop: Option<&tokio::sync::watch::Receiver<bool>>,
    ) -> Result<PassSummary, StoreError> {
        let mut summary = PassSummary {
            digested: self.queue_due_digests().await?,
            ..PassSummary::default()
        };
        loop {
            if stop.is_some_and(|s| *s.borrow()) {
                break;
            }
            let ready = self.ready_channels();
            let Some(alert) = self
                .store
                .lease_alert(&self.opts.worker, &ready, self.opts.lease)
                .await?
            else {
                break;
            };
            self.take_slot(&alert.channel);
            match self.deliver(&alert).await {
                Ok(()) => {
                    if self
                        .store
                        .complete_alert(alert.id, &self.opts.worker)
                        .await?
                    {
                        summary.sent += 1;
                    }
                }
                Err((error, retry_in)) => {
                    let retry_in = retry_in.filter(|_| alert.attempts < self.opts.max_attempts);
                    tracing::warn!(alert = %alert.id, channel = %alert.channel, attempt = alert.attempts,
                        retry_in = ?retry_in, error = %error, "alert not delivered");
                    self.store
                        .fail_alert(alert.id, &self.opts.worker, &error, retry_in)
                        .await?;
                    if retry_in.is_some() {
                        summary.retried += 1;
                    } else {
                        summary.failed += 1;
                    }
                }
            }
        }
        Ok(summary)
    }

    /// Runs passes until `shutdown` turns true.
    pub async fn run(self: Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.pass_until(Some(&shutdown)).await {
                tracing::warn!(error = %e, "alert pass failed");
            }
            tokio::select! {
                () = tokio::time::sleep(self.opts.poll) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                break;
            }
        }
    }

    /// Sends one alert; on failure the error and when to retry (`None`: never).
    async fn deliver(&self, alert: &Alert) -> Result<(), (String, Option<Duration>)> {
        let Some(channel) = self.channels.get(&alert.channel) else {
            return Err((
                format!("channel {:?} is not configured", alert.channel),
                None,
            ));
        };
        let message = self.message(alert).await.map_err(|e| {
            (
                format!("cannot build the message: {e}"),
                Some(self.backoff(alert.attempts)),
            )
        })?;
        match channel.send(&message).await {
            Ok(()) => Ok(()),
            Err(e) if e.retryable => {
                let wait = e
                    .retry_after
                    .unwrap_or_else(|| self.backoff(alert.attempts))
                    .min(self.opts.retry_max);
                Err((e.message, Some(wait)))
            }
            Err(e) => Err((e.message, None)),
        }
    }

    /// Delay before attempt `attempts + 1`: base × 2^(attempts − 1), capped.
    fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1u32 << attempts.saturating_sub(1).min(20);
        self.opts
            .retry_base
            .saturating_mul(factor)
            .min(self.opts.retry_max)
    }

    /// The message of an alert: its hunt, and a summary of each hit listed.
    pub async fn message(&self, alert: &Alert) -> Result<Message, StoreError> {
        build_message(&self.store, alert, self.opts.base_url.as_deref()).await
    }
}

/// Renders an alert's hits for a channel.
pub async fn build_message(
    store: &Arc<dyn Store>,
    alert: &Alert,
    base_url: Option<&str>,
) -> Result<Message, StoreError> {
    let hunt = store.hunt(alert.hunt_id).await?;
    let hunt_name = hunt.map_or_else(|| format!("#{}", alert.hunt_id), |h| h.spec.name);
    let mut sources: HashMap<rexist_core::SourceId, String> = HashMap::new();
    let mut hits = Vec::new();
    for hit in store.hits_by_id(&alert.hits).await? {
        let summary = match hit.object {
            HitObject::Item(id) => {
                let Some(item) = store.item(id).await? else {
                    continue;
                };
                if let std::collections::hash_map::Entry::Vacant(e) = sources.entry(item.source_id)
                {
                    let name = store.source(item.source_id).await?.map(|s| s.name);
                    e.insert(name.unwrap_or_default());
                }
                HitSummary {
                    object: "item".to_owned(),
                    title: item.content.title.clone(),
                    source: sources.get(&item.source_id).cloned(),
                    url: item.content.url.clone(),
                    link: base_url.map(|b| format!("{}/items/{id}", b.trim_end_matches('/'))),
                    snippet: snippet(&item.content.body, &hit.terms),
                    terms: hit.terms,
                    tlp: Some(tlp_label(item.content.tlp)),
                    retro: hit.retro,
                    matched_at: hit.created_at,
                }
            }
            HitObject::Indicator(id) => {
                let Some(ind) = store.indicator_by_id(id).await? else {
                    continue;
                };
                let source = match store.sightings_of(id).await?.first() {
                    Some(s) => store.source(s.source_id).await?.map(|s| s.name),
                    None => None,
                };
                HitSummary {
                    object: "indicator".to_owned(),
                    title: format!("{} {}", ind.kind.as_str(), ind.value),
                    source,
                    url: None,
                    link: base_url.map(|b| {
                        format!(
                            "{}/indicators/{}/{}",
                            b.trim_end_matches('/'),
                            ind.kind.as_str(),
                            ind.value
                        )
                    }),
                    snippet: None,
                    terms: hit.terms,
                    tlp: Some(tlp_label(ind.tlp)),
                    retro: hit.retro,
                    matched_at: hit.created_at,
                }
            }
        };
        hits.push(summary);
    }
    Ok(Message {
        id: format!("rexist-alert-{}", alert.id),
        hunt: hunt_name,
        digest: alert.digest,
        total_hits: alert.total_hits,
        hits,
    })
}

/// The TLP as docs/notifiers.md documents the `tlp` field: `clear`,
/// `green`, `amber`, `amber+strict`, `red` (chat messages print it upper-case).
fn tlp_label(tlp: Tlp) -> String {
    tlp.as_str().to_owned()
}

/// Up to ~200 bytes of `body` around the first term found in it.
fn snippet(body: &str, terms: &[String]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    let lower = body.to_lowercase();
    let found = terms
        .iter()
        .map(|t| t.trim_matches(|c| c == '"' || c == '/'))
        .filter(|t| !t.is_empty())
        .find_map(|t| lower.find(&t.to_lowercase()));
    // Lower-casing can change byte lengths; only use the offset where it is
    // a boundary in the original text.
    let at = found
        .filter(|&i| lower.len() == body.len() && body.is_char_boundary(i))
        .unwrap_or(0);
    let mut start = at.saturating_sub(80);
    while !body.is_char_boundary(start) {
        start -= 1;
    }
    let rest = &body[start..];
    let cut = rexist_core::indicator::truncate(rest, 200);
    let text = cut.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(if start > 0 {
        format!("…{text}")
    } else {
        text
    })
}

/// Hunts that alert to channels no dispatcher knows, for a warning at start.
pub async fn unknown_channels(
    store: &Arc<dyn Store>,
    known: &[&str],
) -> Result<Vec<(HuntId, String, String)>, StoreError> {
    let mut out = Vec::new();
    for h in store.list_hunts().await? {
        for c in &h.spec.channels {
            if !known.contains(&c.as_str()) {
                out.push((h.id, h.spec.name.clone(), c.clone()));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_centre_on_the_first_term() {
        let body = format!(
            "{} LockBit claims a new victim {}",
            "a ".repeat(100),
            "z ".repeat(100)
        );
        let s = snippet(&body, &["lockbit".to_owned()]).unwrap();
        assert!(s.starts_with('…'));
        assert!(s.contains("LockBit claims"), "{s}");
        assert!(s.len() < 260);
        assert_eq!(snippet("", &[]), None);
        // multi-byte text with no term found: from the start
        let ja = "脆弱性".repeat(100);
        assert!(
            snippet(&ja, &["x".to_owned()])
                .unwrap()
                .starts_with("脆弱性")
        );
    }
}
