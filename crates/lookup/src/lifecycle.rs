//! How long an indicator stays actionable, and how much to trust it.
//!
//! # Lifetimes
//! Each type has a lifetime: an indicator not sighted within it becomes
//! `expired` (kept, not deleted; a new sighting makes it `active` again).
//! Defaults: IPv4/IPv6/CIDR 30 days (addresses are re-assigned quickly),
//! domains, URLs and e-mail addresses 180 days, file hashes, ASNs and
//! Bitcoin addresses one year, CVE ids ten years. All are configurable
//! (`[lookup.lifetimes]`).
//!
//! # Score (0–100)
//! A retired sighting (its source withdrew the indicator: revoked, deleted,
//! false positive, inactive, expired upstream, or dropped from a list)
//! counts as not listed, and neither corroborates nor repeats.
//! 1. **base**: the highest confidence among the sightings still listed by
//!    their source (a source's default confidence, or the sighting's own);
//!    if no source lists it any more, the highest of all, halved.
//! 2. **corroboration**: +5 per further distinct source with an unretired
//!    sighting, at most +20.
//! 3. **repetition**: +1 per 5 unretired sightings beyond the first, at most +10.
//! 4. **freshness**: the sum (capped at 100) is multiplied by
//!    `0.25 + 0.75 × max(0, 1 − age / lifetime)`, where age is the time since
//!    the last sighting: a fresh indicator keeps its score, one at the end of
//!    its lifetime keeps a quarter.
//! 5. An allow-listed indicator (a warning-list match) scores 0.
//!
//! What analysts say comes first (see the lookup): a false positive scores
//! 0, an overridden score is the analyst's, and each report of a sighting
//! in the organisation's own network counts as a listed sighting at
//! confidence 90 by a source of its own (so it raises the base, adds
//! corroboration once and repetition per report).
//!
//! Each step is returned as a factor so the UI and API can explain a score.

use std::collections::BTreeMap;
use std::time::Duration;

use rexist_core::{IndicatorType, Sighting};
use serde::Serialize;
use time::OffsetDateTime;

const DAY: u64 = 86_400;

/// Per-type lifetimes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifetimes(BTreeMap<IndicatorType, Duration>);

impl Default for Lifetimes {
    fn default() -> Self {
        let days = |n: u64| Duration::from_secs(n * DAY);
        Self(
            IndicatorType::ALL
                .into_iter()
                .map(|t| {
                    let d = match t {
                        IndicatorType::Ipv4 | IndicatorType::Ipv6 | IndicatorType::Cidr => days(30),
                        IndicatorType::Domain | IndicatorType::Url | IndicatorType::Email => {
                            days(180)
                        }
                        IndicatorType::Cve => days(3650),
                        _ => days(365),
                    };
                    (t, d)
                })
                .collect(),
        )
    }
}

impl Lifetimes {
    /// The defaults with some types overridden.
    #[must_use]
    pub fn with(mut self, overrides: impl IntoIterator<Item = (IndicatorType, Duration)>) -> Self {
        self.0.extend(overrides);
        self
    }

    /// The lifetime of a type.
    pub fn of(&self, kind: IndicatorType) -> Duration {
        self.0
            .get(&kind)
            .copied()
            .unwrap_or(Duration::from_secs(365 * DAY))
    }

    /// Every type with its lifetime.
    pub fn all(&self) -> Vec<(IndicatorType, Duration)> {
        self.0.iter().map(|(k, v)| (*k, *v)).collect()
    }
}

/// One step of a score.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Factor {
    /// `base`, `corroboration`, `repetition`, `freshness`, `allowlisted`,
    /// `false_positive`, `override`, `local`, `relation`, `relations`.
    pub name: &'static str,
    /// Points added, or the multiplier applied.
    pub value: f64,
    /// In words.
    pub reason: String,
}

/// The score of an indicator from its sightings, with the factors behind it.
pub fn score(
    sightings: &[Sighting],
    last_seen: OffsetDateTime,
    now: OffsetDateTime,
    lifetime: Duration,
    allowlisted: bool,
) -> (u8, Vec<Factor>) {
    let mut factors = Vec::new();
    if allowlisted {
        factors.push(Factor {
            name: "allowlisted",
            value: 0.0,
            reason: "matches a warning list or allow-list".to_owned(),
        });
        return (0, factors);
    }
    let listed_max = sightings
        .iter()
        .filter(|s| s.listed && s.retired_at.is_none())
        .map(|s| s.confidence)
        .max();
    let base = if let Some(c) = listed_max {
        factors.push(Factor {
            name: "base",
            value: f64::from(c),
            reason: "highest confidence among listing sources".to_owned(),
        });
        f64::from(c)
    } else {
        {
            let c = sightings.iter().map(|s| s.confidence).max().unwrap_or(0);
            factors.push(Factor {
                name: "base",
                value: f64::from(c) / 2.0,
                reason: "no source lists it any more: half its highest confidence".to_owned(),
            });
            f64::from(c) / 2.0
        }
    };
    let live: Vec<&Sighting> = sightings
        .iter()
        .filter(|s| s.retired_at.is_none())
        .collect();
    let mut sources: Vec<_> = live.iter().map(|s| s.source_id).collect();
    sources.sort_unstable();
    sources.dedup();
    let corroboration = f64::from(
        5 * u32::try_from(sources.len().saturating_sub(1))
            .unwrap_or(4)
            .min(4),
    );
    if corroboration > 0.0 {
        factors.push(Factor {
            name: "corroboration",
            value: corroboration,
            reason: format!("{} sources", sources.len()),
        });
    }
    let repetition = f64::from(
        u32::try_from(live.len().saturating_sub(1) / 5)
            .unwrap_or(10)
            .min(10),
    );
    if repetition > 0.0 {
        factors.push(Factor {
            name: "repetition",
            value: repetition,
            reason: format!("{} sightings", live.len()),
        });
    }
    let age = (now - last_seen).max(time::Duration::ZERO);
    let fresh = 1.0 - (age.as_seconds_f64() / lifetime.as_secs_f64().max(1.0)).min(1.0);
    let multiplier = 0.25 + 0.75 * fresh;
    factors.push(Factor {
        name: "freshness",
        value: (multiplier * 100.0).round() / 100.0,
        reason: format!(
            "last seen {} days ago of a {}-day lifetime",
            age.whole_days(),
            lifetime.as_secs() / DAY
        ),
    });
    let total = ((base + corroboration + repetition).min(100.0) * multiplier).round();
    // `total` is rounded and within 0..=100, so the cast is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let total = total.clamp(0.0, 100.0) as u8;
    (total, factors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rexist_core::{IndicatorId, SightingId, SourceId, Tlp};

    fn s(source: i64, confidence: u8, listed: bool) -> Sighting {
        Sighting {
            id: SightingId::new(1),
            indicator_id: IndicatorId::new(1),
            source_id: SourceId::new(source),
            item_id: None,
            first_seen: OffsetDateTime::UNIX_EPOCH,
            last_seen: OffsetDateTime::UNIX_EPOCH,
            confidence,
            tlp: Tlp::Clear,
            labels: vec![],
            listed,
            retired_at: None,
            retired_reason: None,
            expires_at: None,
            author: None,
        }
    }

    #[test]
    fn fresh_corroborated_indicators_score_high_and_decay() {
        let now = OffsetDateTime::now_utc();
        let life = Duration::from_secs(30 * DAY);
        let one = [s(1, 60, true)];
        assert_eq!(score(&one, now, now, life, false).0, 60);
        let three = [s(1, 60, true), s(2, 40, true), s(3, 80, true)];
        let (fresh, factors) = score(&three, now, now, life, false);
        assert_eq!(fresh, 90, "{factors:?}");
        let half = score(&three, now - time::Duration::days(15), now, life, false).0;
        assert_eq!(half, 56); // 90 × (0.25 + 0.75 × 0.5) = 56.25
        let gone = score(&three, now - time::Duration::days(90), now, life, false).0;
        assert_eq!(gone, 23); // a quarter at the end of the lifetime
        assert!(gone < half && half < fresh);
    }

    #[test]
    fn unlisted_and_allowlisted_indicators_lose_trust() {
        let now = OffsetDateTime::now_utc();
        let life = Duration::from_secs(30 * DAY);
        assert_eq!(score(&[s(1, 80, false)], now, now, life, false).0, 40);
        let (zero, f) = score(&[s(1, 80, true)], now, now, life, true);
        assert_eq!(zero, 0);
        assert_eq!(f[0].name, "allowlisted");
        let many: Vec<_> = (0..60).map(|_| s(1, 50, true)).collect();
        assert_eq!(
            score(&many, now, now, life, false).0,
            60,
            "repetition is capped at +10"
        );
    }

    #[test]
    fn retired_sightings_count_as_unlisted_and_do_not_corroborate() {
        let now = OffsetDateTime::now_utc();
        let life = Duration::from_secs(30 * DAY);
        let retired = |source, confidence| Sighting {
            retired_at: Some(now),
            retired_reason: Some(rexist_core::RetractReason::Revoked),
            // A retired sighting is stored unlisted; the score must not
            // depend on it.
            ..s(source, confidence, true)
        };
        let (alone, f) = score(&[retired(1, 80)], now, now, life, false);
        assert_eq!(alone, 40, "like an unlisted one: {f:?}");
        let (mixed, f) = score(&[s(1, 60, true), retired(2, 90)], now, now, life, false);
        assert_eq!(mixed, 60, "no base or corroboration from it: {f:?}");
        assert!(f.iter().all(|f| f.name != "corroboration"));
    }

    #[test]
    fn default_lifetimes_follow_the_documented_table() {
        let l = Lifetimes::default();
        assert_eq!(l.of(IndicatorType::Ipv4).as_secs(), 30 * DAY);
        assert_eq!(l.of(IndicatorType::Url).as_secs(), 180 * DAY);
        assert_eq!(l.of(IndicatorType::Sha256).as_secs(), 365 * DAY);
        let custom = l.with([(IndicatorType::Ipv4, Duration::from_secs(7 * DAY))]);
        assert_eq!(custom.of(IndicatorType::Ipv4).as_secs(), 7 * DAY);
    }
}
