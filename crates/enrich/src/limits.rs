//! Per-provider guards that answer without asking the upstream: the token
//! bucket, the daily quota, the `Retry-After` hold, and the answer cache.
//! All are in memory: a restart forgets them, which only costs requests.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rexist_core::IndicatorType;
use time::{Date, OffsetDateTime};

use crate::answer::Answer;
use crate::config::Rate;

/// A token bucket holding up to `count` tokens, refilled at `count` per `per`.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub(crate) fn new(rate: Rate, now: Instant) -> Self {
        let capacity = f64::from(rate.count);
        Self {
            capacity,
            per_second: capacity / rate.per.as_secs_f64(),
            tokens: capacity,
            last: now,
        }
    }

    /// Takes a token if one is there; never waits, so a lookup stays fast.
    pub(crate) fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Requests counted per UTC day.
#[derive(Debug)]
pub(crate) struct DailyQuota {
    limit: u32,
    day: Date,
    used: u32,
}

impl DailyQuota {
    pub(crate) fn new(limit: u32, now: OffsetDateTime) -> Self {
        Self {
            limit,
            day: now.to_offset(time::UtcOffset::UTC).date(),
            used: 0,
        }
    }

    fn roll(&mut self, now: OffsetDateTime) {
        let today = now.to_offset(time::UtcOffset::UTC).date();
        if today != self.day {
            self.day = today;
            self.used = 0;
        }
    }

    /// Whether another request fits today.
    pub(crate) fn available(&mut self, now: OffsetDateTime) -> bool {
        self.roll(now);
        self.used < self.limit
    }

    /// Counts a request made.
    pub(crate) fn spend(&mut self, now: OffsetDateTime) {
        self.roll(now);
        self.used = self.used.saturating_add(1);
    }

    pub(crate) fn limit(&self) -> u32 {
        self.limit
    }
}

/// Cache key: provider name, indicator type, value.
pub(crate) type CacheKey = (String, IndicatorType, String);

struct CacheEntry {
    answer: Answer,
    expires: Instant,
    seq: u64,
}

/// Answers kept for their provider's TTL; beyond `capacity` entries the
/// oldest inserted goes first.
pub(crate) struct AnswerCache {
    capacity: usize,
    entries: HashMap<CacheKey, CacheEntry>,
    /// Insertion sequence → key, to find the oldest entry in O(log n).
    order: BTreeMap<u64, CacheKey>,
    next_seq: u64,
}

impl AnswerCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
        }
    }

    pub(crate) fn get(&mut self, key: &CacheKey, now: Instant) -> Option<Answer> {
        let entry = self.entries.get(key)?;
        if entry.expires > now {
            return Some(entry.answer.clone());
        }
        let seq = entry.seq;
        self.entries.remove(key);
        self.order.remove(&seq);
        None
    }

    pub(crate) fn insert(&mut self, key: CacheKey, answer: Answer, ttl: Duration, now: Instant) {
        if self.capacity == 0 || ttl.is_zero() {
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(old) = self.entries.insert(
            key.clone(),
            CacheEntry {
                answer,
                expires: now + ttl,
                seq,
            },
        ) {
            self.order.remove(&old.seq);
        }
        self.order.insert(seq, key);
        while self.entries.len() > self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::Status;

    #[test]
    fn bucket_refills_at_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(
            Rate {
                count: 2,
                per: Duration::from_secs(60),
            },
            t0,
        );
        assert!(b.try_take(t0));
        assert!(b.try_take(t0));
        assert!(!b.try_take(t0));
        assert!(!b.try_take(t0 + Duration::from_secs(29)));
        assert!(b.try_take(t0 + Duration::from_secs(31)));
        // Never more than the burst.
        let later = t0 + Duration::from_secs(3600);
        assert!(b.try_take(later));
        assert!(b.try_take(later));
        assert!(!b.try_take(later));
    }

    #[test]
    fn quota_resets_at_utc_midnight() {
        let day1 = time::macros::datetime!(2025-01-02 23:59:00 UTC);
        let mut q = DailyQuota::new(1, day1);
        assert!(q.available(day1));
        q.spend(day1);
        assert!(!q.available(day1));
        // Still the 2nd in UTC although the 3rd in Tokyo.
        let tokyo = time::macros::datetime!(2025-01-03 08:59:30 +9);
        assert!(!q.available(tokyo));
        let day2 = time::macros::datetime!(2025-01-03 00:00:01 UTC);
        assert!(q.available(day2));
    }

    fn answer(n: usize) -> Answer {
        Answer {
            provider: "p".to_owned(),
            kind: "dns".to_owned(),
            status: Status::Ok,
            summary: serde_json::json!(n),
            raw: None,
            error: None,
            cached: false,
            fetched_at: OffsetDateTime::UNIX_EPOCH,
            elapsed_ms: 0,
        }
    }

    fn key(n: usize) -> CacheKey {
        (
            "p".to_owned(),
            IndicatorType::Domain,
            format!("d{n}.example"),
        )
    }

    #[test]
    fn cache_expires_and_evicts_oldest() {
        let t0 = Instant::now();
        let ttl = Duration::from_secs(10);
        let mut c = AnswerCache::new(2);
        c.insert(key(1), answer(1), ttl, t0);
        c.insert(key(2), answer(2), ttl, t0);
        c.insert(key(3), answer(3), ttl, t0);
        assert_eq!(c.len(), 2);
        assert!(c.get(&key(1), t0).is_none());
        assert!(c.get(&key(2), t0).is_some());
        // Re-inserting refreshes the position.
        c.insert(key(2), answer(2), ttl, t0);
        c.insert(key(4), answer(4), ttl, t0);
        assert!(c.get(&key(3), t0).is_none());
        assert!(c.get(&key(2), t0).is_some());
        assert!(c.get(&key(2), t0 + Duration::from_secs(11)).is_none());
        assert_eq!(c.len(), 1);
    }
}
