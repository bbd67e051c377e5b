//! The enrichment cache in the store: answers shared by every node on one
//! database and kept across restarts, expired rows pruned.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rexist_core::IndicatorType;
use rexist_core::model::now;
use rexist_enrich::{CacheFuture, SharedAnswer, SharedCache};
use rexist_store::{CachedEnrichment, MAX_CACHED_ANSWER, Store};

/// How often a node deletes expired answers (on its next write after it).
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// [`SharedCache`] over the store's `enrichments` table.
pub struct StoreCache {
    store: Arc<dyn Store>,
    last_prune: Mutex<Option<Instant>>,
}

impl StoreCache {
    /// A cache over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            last_prune: Mutex::new(None),
        }
    }

    /// Whether this write should prune first: at most once per
    /// [`PRUNE_EVERY`], so the table holds about one TTL of answers.
    fn prune_due(&self) -> bool {
        let mut last = self
            .last_prune
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let due = last.is_none_or(|t| t.elapsed() >= PRUNE_EVERY);
        if due {
            *last = Some(Instant::now());
        }
        due
    }
}

impl SharedCache for StoreCache {
    fn get<'a>(
        &'a self,
        provider: &'a str,
        kind: IndicatorType,
        value: &'a str,
    ) -> CacheFuture<'a, Option<SharedAnswer>> {
        Box::pin(async move {
            match self
                .store
                .cached_enrichment(provider, kind, value, now())
                .await
            {
                Ok(hit) => hit.map(|e| SharedAnswer {
                    json: e.answer,
                    fetched_at: e.fetched_at,
                    expires_at: e.expires_at,
                }),
                Err(e) => {
                    tracing::warn!(provider, error = %e, "enrichment cache not read");
                    None
                }
            }
        })
    }

    fn put<'a>(
        &'a self,
        provider: &'a str,
        kind: IndicatorType,
        value: &'a str,
        answer: SharedAnswer,
    ) -> CacheFuture<'a, ()> {
        Box::pin(async move {
            if self.prune_due() {
                match self.store.prune_enrichments(now()).await {
                    Ok(n) if n > 0 => {
                        tracing::debug!(pruned = n, "expired enrichment answers deleted");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "expired enrichment answers not deleted"),
                }
            }
            // Served, but not worth every node's reads.
            if answer.json.len() > MAX_CACHED_ANSWER || value.contains('\0') {
                return;
            }
            let entry = CachedEnrichment {
                provider: provider.to_owned(),
                kind,
                value: value.to_owned(),
                answer: answer.json,
                fetched_at: answer.fetched_at,
                expires_at: answer.expires_at,
            };
            if let Err(e) = self.store.cache_enrichment(&entry).await {
                tracing::warn!(provider, error = %e, "enrichment answer not cached");
            }
        })
    }
}
