//! Pacing of deliveries per channel. Chat services throttle webhooks (Slack
//! about one message per second, Discord 30 per minute per webhook), so the
//! caller paces each channel before the service starts answering 429.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// At most `count` messages per `per`, as written `30/min`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Messages allowed per window; at least 1.
    pub count: u32,
    /// Length of the window; at least one second.
    pub per: Duration,
}

/// A rate limit that does not parse, with the text given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid rate limit \"{0}\": expected COUNT/UNIT with COUNT ≥ 1 and UNIT one of s, sec, min, hour, day (such as 30/min)"
)]
pub struct ParseRateLimitError(pub String);

impl FromStr for RateLimit {
    type Err = ParseRateLimitError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = || ParseRateLimitError(s.chars().take(40).collect());
        let (count, unit) = s.trim().split_once('/').ok_or_else(fail)?;
        let count: u32 = count.trim().parse().map_err(|_| fail())?;
        if count == 0 {
            return Err(fail());
        }
        let seconds = match unit.trim().to_ascii_lowercase().as_str() {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hour" => 3600,
            "d" | "day" => 86_400,
            _ => return Err(fail()),
        };
        Ok(Self {
            count,
            per: Duration::from_secs(seconds),
        })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s".to_owned(),
            60 => "min".to_owned(),
            3600 => "hour".to_owned(),
            86_400 => "day".to_owned(),
            other => format!("{other}s"),
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// A token bucket: bursts of up to `count`, then one message every
/// `per / count`. Memory stays constant whatever the count, unlike a log of
/// send times.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    limit: RateLimit,
    /// Messages that may go now; refills continuously up to `count`.
    tokens: f64,
    /// When `tokens` was last brought up to date; `None` until first use,
    /// so a new limiter starts full.
    updated: Option<Instant>,
}

impl RateLimiter {
    /// A full bucket for this limit.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            tokens: f64::from(limit.count.max(1)),
            updated: None,
        }
    }

    /// The limit enforced.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Takes one message's slot at `now`, or says how long to wait for one.
    pub fn try_acquire(&mut self, now: Instant) -> Result<(), Duration> {
        let capacity = f64::from(self.limit.count.max(1));
        let per_token = self.limit.per.as_secs_f64() / capacity;
        if let Some(then) = self.updated {
            // An earlier `now` than last time counts as no time passed.
            let elapsed = now.saturating_duration_since(then).as_secs_f64();
            if per_token > 0.0 {
                self.tokens = (self.tokens + elapsed / per_token).min(capacity);
            } else {
                self.tokens = capacity;
            }
        }
        if self.updated.is_none_or(|then| now > then) {
            self.updated = Some(now);
        }
        // Tolerance for float rounding, so that waiting exactly the wait
        // returned is always enough.
        if self.tokens >= 1.0 - 1e-9 {
            self.tokens = (self.tokens - 1.0).max(0.0);
            Ok(())
        } else {
            let wait = (1.0 - self.tokens) * per_token;
            // Never report a zero wait: the caller would spin.
            Err(Duration::from_secs_f64(wait).max(Duration::from_millis(1)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_prints_back() {
        let cases = [
            ("30/min", 30, 60),
            ("5/s", 5, 1),
            ("5/sec", 5, 1),
            ("100/hour", 100, 3600),
            ("1000/day", 1000, 86_400),
            (" 2 / Min ", 2, 60),
        ];
        for (text, count, secs) in cases {
            let limit: RateLimit = text.parse().unwrap();
            assert_eq!(limit.count, count, "{text}");
            assert_eq!(limit.per, Duration::from_secs(secs), "{text}");
        }
        assert_eq!("30/min".parse::<RateLimit>().unwrap().to_string(), "30/min");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "30",
            "0/min",
            "-1/min",
            "x/min",
            "30/fortnight",
            "30/",
            "/min",
        ] {
            let err = bad.parse::<RateLimit>().unwrap_err();
            assert!(err.to_string().contains("COUNT/UNIT"), "{bad}: {err}");
        }
    }

    #[test]
    fn waits_are_consistent_with_refill() {
        let mut limiter = RateLimiter::new("2/s".parse().unwrap());
        let t0 = Instant::now();
        assert!(limiter.try_acquire(t0).is_ok());
        assert!(limiter.try_acquire(t0).is_ok());
        let wait = limiter.try_acquire(t0).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(500));
        assert!(limiter.try_acquire(t0 + wait).is_ok());
        // An instant from the past does not refill nor panic.
        assert!(limiter.try_acquire(t0).is_err());
    }
}
