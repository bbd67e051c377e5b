//! When to try again, and after how long.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// How a [`crate::Client::send`] retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt, for retryable statuses
    /// ([`retryable_status`]), timeouts and broken connections.
    pub retries: u32,
    /// First backoff delay; doubled at each retry, plus a little jitter.
    pub backoff: Duration,
    /// Longest `Retry-After` waited for; a longer one fails the request
    /// with its delay ([`crate::FetchError::RateLimited`]).
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    /// One attempt, never repeated: for requests whose repetition costs
    /// something (an alert delivered twice, a quota spent twice). The caller
    /// reads the final status and `Retry-After` from the [`crate::Reply`].
    pub const NONE: Self = Self {
        retries: 0,
        backoff: Duration::ZERO,
        max_retry_after: Duration::ZERO,
    };

    /// The delay before retry number `attempt + 1` when the server named none.
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.backoff.saturating_mul(1 << attempt.min(16)) + jitter(self.backoff)
    }
}

/// Statuses that may pass later: 408, 425, 429 and 5xx.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 425 | 429 | 500..=599)
}

/// `Retry-After` of a response, as seconds or an HTTP date, uncapped (each
/// caller caps it as its own policy says).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, SystemTime::now())
}

/// A `Retry-After` value, as seconds or an HTTP date relative to `now`
/// (a date in the past is no wait at all).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A few hundred milliseconds of jitter derived from the clock, so sources
/// that failed together do not retry in lockstep.
fn jitter(base: Duration) -> Duration {
    let nanos = u64::from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos()),
    );
    let max = u64::try_from(base.as_millis() / 4).unwrap_or(0).max(1);
    Duration::from_millis(nanos % max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(120));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(120))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(120));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn statuses_and_backoff() {
        for s in [408, 425, 429, 500, 503, 599] {
            assert!(retryable_status(s), "{s}");
        }
        for s in [200, 304, 400, 401, 404, 410] {
            assert!(!retryable_status(s), "{s}");
        }
        let p = RetryPolicy {
            retries: 3,
            backoff: Duration::from_millis(100),
            max_retry_after: Duration::from_secs(1),
        };
        assert!(p.backoff(0) >= Duration::from_millis(100));
        assert!(p.backoff(2) >= Duration::from_millis(400));
        assert!(p.backoff(2) < Duration::from_millis(500));
    }
}
