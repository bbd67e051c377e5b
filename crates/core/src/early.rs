//! Early warning, EXIST's first promise: "on social media before JVN
//! publishes it". From when each source first reported an indicator, which
//! class of source ([`SourceClass`]) spoke first, who the authority is, and
//! how long before the authority the first report came.
//!
//! The authority of a CVE is its database entry: the earliest report by an
//! NVD, JVN or KEV source ([`is_cve_authority`](crate::class::is_cve_authority)).
//! The authority of any other indicator is the first blocklist: the earliest
//! report by a feed-class source. docs/lookup.md ("Early warning") is the
//! user's version of this module.

use serde::Serialize;
use time::OffsetDateTime;

use crate::class::SourceClass;
use crate::indicator::IndicatorType;

/// A source's first report of an indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// The source's class.
    pub class: SourceClass,
    /// Source name.
    pub source: String,
    /// Connector kind, as configured (`mastodon`, `nvd`, `urlhaus`, …).
    pub kind: String,
    /// When the source first reported it: the earliest of its sightings'
    /// first times and the publication times of the items they are in.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
}

/// A report with what only the connector catalogue knows about its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    /// The report.
    pub report: Report,
    /// Whether its source is NVD, JVN or KEV (by its generic kind).
    pub cve_authority: bool,
}

/// What the authority is for an indicator's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Authority {
    /// A CVE's: its entry in NVD, JVN or KEV, whichever came first.
    Database,
    /// Every other type's: the first blocklist (feed-class source) to list it.
    Blocklist,
}

impl Authority {
    /// The authority for indicators of `kind`.
    pub fn of(kind: IndicatorType) -> Self {
        if kind == IndicatorType::Cve {
            Self::Database
        } else {
            Self::Blocklist
        }
    }

    /// Whether `r` speaks for this authority.
    fn speaks(self, r: &Reported) -> bool {
        match self {
            Self::Database => r.cve_authority,
            Self::Blocklist => r.report.class == SourceClass::Feed,
        }
    }
}

/// Who reported an indicator first, and how far ahead of the authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EarlyWarning {
    /// The class of the first report.
    pub first_class: SourceClass,
    /// The first report of each class that reported it, earliest first: the
    /// first entry is the first report of all.
    pub by_class: Vec<Report>,
    /// What the authority is for this type: `database` (a CVE's NVD, JVN or
    /// KEV entry) or `blocklist` (the first feed-class source).
    pub authority: Authority,
    /// The authority's first report, if it has reported it.
    pub authority_report: Option<Report>,
    /// How many seconds the first report came before the authority's
    /// (authority time − first time), when someone else was first and the
    /// authority has reported since.
    pub lead_seconds: Option<i64>,
    /// The authority has not reported it yet, and could have: a source that
    /// speaks for it is configured, and, for a CVE, the id is from this year
    /// or the last (an older CVE is long published; rexist's NVD source only
    /// reads what changed since it started, so its absence proves nothing).
    pub awaiting_authority: bool,
}

impl EarlyWarning {
    /// From each source's first report of (`kind`, `value`); `None` when
    /// there is none. `authority_configured` says whether any source could
    /// speak for the authority (an NVD, JVN or KEV source for CVEs, a feed
    /// for the rest); `now` dates the CVE-year rule of
    /// [`EarlyWarning::awaiting_authority`].
    ///
    /// On equal times the authority counts as first: a lead is never
    /// claimed for a report that merely ties it.
    pub fn from_reports(
        kind: IndicatorType,
        value: &str,
        reports: &[Reported],
        authority_configured: bool,
        now: OffsetDateTime,
    ) -> Option<Self> {
        let authority = Authority::of(kind);
        let mut sorted: Vec<&Reported> = reports.iter().collect();
        sorted.sort_by(|a, b| {
            (
                a.report.at,
                !authority.speaks(a),
                a.report.class,
                &a.report.source,
            )
                .cmp(&(
                    b.report.at,
                    !authority.speaks(b),
                    b.report.class,
                    &b.report.source,
                ))
        });
        let first = sorted.first()?;
        let mut by_class: Vec<Report> = Vec::new();
        for r in &sorted {
            if !by_class.iter().any(|c| c.class == r.report.class) {
                by_class.push(r.report.clone());
            }
        }
        let authority_report = sorted
            .iter()
            .find(|r| authority.speaks(r))
            .map(|r| r.report.clone());
        let lead_seconds = authority_report
            .as_ref()
            .map(|a| (a.at - first.report.at).whole_seconds())
            .filter(|s| *s > 0);
        let awaiting_authority = authority_report.is_none()
            && authority_configured
            && (kind != IndicatorType::Cve || cve_may_be_unpublished(value, now));
        Some(Self {
            first_class: first.report.class,
            by_class,
            authority,
            authority_report,
            lead_seconds,
            awaiting_authority,
        })
    }

    /// The first report of all.
    pub fn first(&self) -> Option<&Report> {
        self.by_class.first()
    }
}

/// Whether a CVE may still lack its database entry at `now`: its id's year
/// is this year or the last. An id reserved earlier than that has almost
/// always been published, so a mention without an NVD, JVN or KEV report
/// in rexist means the database source never read it, not that it is
/// missing. A value that is not a CVE id is given the benefit of the doubt.
pub fn cve_may_be_unpublished(value: &str, now: OffsetDateTime) -> bool {
    cve_year(value).is_none_or(|year| year >= now.year() - 1)
}

/// The year of a CVE id (`CVE-2026-1234` → 2026).
pub fn cve_year(value: &str) -> Option<i32> {
    let rest = value
        .get(..4)?
        .eq_ignore_ascii_case("cve-")
        .then(|| &value[4..])?;
    let year = rest.get(..4)?;
    if rest.as_bytes().get(4) != Some(&b'-') || !year.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    year.parse().ok()
}

/// A lead time in words: `3 days 4 h`, `5 h 12 min`, `40 min`, `12 s`.
pub fn lead_words(seconds: i64) -> String {
    let s = seconds.max(0);
    let (days, hours, minutes) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (1, 0, _) => "1 day".to_owned(),
        (1, h, _) => format!("1 day {h} h"),
        (d, 0, _) => format!("{d} days"),
        (d, h, _) => format!("{d} days {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn at(class: SourceClass, source: &str, kind: &str, t: OffsetDateTime) -> Reported {
        Reported {
            report: Report {
                class,
                source: source.to_owned(),
                kind: kind.to_owned(),
                at: t,
            },
            cve_authority: crate::class::is_cve_authority(kind),
        }
    }

    const NOW: OffsetDateTime = datetime!(2026-11-10 00:00 UTC);

    #[test]
    fn cve_first_on_social_leads_the_database() {
        // A hand-made timeline: a post, an article, an exploit, then NVD, then JVN.
        let reports = [
            at(
                SourceClass::Vulndb,
                "jvn",
                "jvn",
                datetime!(2026-11-07 10:00 UTC),
            ),
            at(
                SourceClass::News,
                "bleepingcomputer",
                "bleepingcomputer",
                datetime!(2026-11-03 08:00 UTC),
            ),
            at(
                SourceClass::Social,
                "infosec-exchange",
                "mastodon",
                datetime!(2026-11-02 09:14 UTC),
            ),
            at(
                SourceClass::Vulndb,
                "exploitdb",
                "exploitdb",
                datetime!(2026-11-04 00:00 UTC),
            ),
            at(
                SourceClass::Vulndb,
                "nvd",
                "nvd",
                datetime!(2026-11-05 13:14 UTC),
            ),
        ];
        let ew =
            EarlyWarning::from_reports(IndicatorType::Cve, "CVE-2026-1234", &reports, true, NOW)
                .unwrap();
        assert_eq!(ew.first_class, SourceClass::Social);
        assert_eq!(ew.first().unwrap().source, "infosec-exchange");
        let classes: Vec<_> = ew
            .by_class
            .iter()
            .map(|r| (r.class, r.source.as_str()))
            .collect();
        // One per class, the earliest of each: Exploit-DB is the first vulndb report.
        assert_eq!(
            classes,
            [
                (SourceClass::Social, "infosec-exchange"),
                (SourceClass::News, "bleepingcomputer"),
                (SourceClass::Vulndb, "exploitdb"),
            ]
        );
        assert_eq!(ew.authority, Authority::Database);
        // The authority is NVD (before JVN), not Exploit-DB.
        assert_eq!(ew.authority_report.as_ref().unwrap().source, "nvd");
        assert_eq!(ew.lead_seconds, Some(3 * 86_400 + 4 * 3600));
        assert_eq!(lead_words(ew.lead_seconds.unwrap()), "3 days 4 h");
        assert!(!ew.awaiting_authority);
    }

    #[test]
    fn authority_first_claims_no_lead_and_ties_go_to_the_authority() {
        let t = datetime!(2026-11-05 13:14 UTC);
        for social_at in [t, t + time::Duration::hours(2)] {
            let reports = [
                at(SourceClass::Social, "masto", "mastodon", social_at),
                at(SourceClass::Vulndb, "nvd", "nvd", t),
            ];
            let ew =
                EarlyWarning::from_reports(IndicatorType::Cve, "CVE-2026-1", &reports, true, NOW)
                    .unwrap();
            assert_eq!(ew.first_class, SourceClass::Vulndb, "{social_at}");
            assert_eq!(ew.lead_seconds, None);
            assert!(!ew.awaiting_authority);
        }
    }

    #[test]
    fn a_cve_without_its_database_entry_is_awaiting_only_when_recent_and_watched() {
        let reports = [at(
            SourceClass::Social,
            "masto",
            "mastodon",
            datetime!(2026-11-09 00:00 UTC),
        )];
        let ew = |value: &str, configured| {
            EarlyWarning::from_reports(IndicatorType::Cve, value, &reports, configured, NOW)
                .unwrap()
        };
        let pending = ew("CVE-2026-5555", true);
        assert!(pending.awaiting_authority);
        assert_eq!(pending.authority_report, None);
        assert_eq!(pending.lead_seconds, None);
        assert!(ew("CVE-2025-5555", true).awaiting_authority);
        // Log4Shell is long public: NVD's absence here only means rexist never read it.
        assert!(!ew("CVE-2021-44228", true).awaiting_authority);
        // Without an NVD, JVN or KEV source nothing can be awaited.
        assert!(!ew("CVE-2026-5555", false).awaiting_authority);
    }

    #[test]
    fn other_indicators_measure_against_the_first_blocklist() {
        let reports = [
            at(
                SourceClass::Feed,
                "urlhaus",
                "urlhaus",
                datetime!(2026-11-03 12:00 UTC),
            ),
            at(
                SourceClass::Exchange,
                "otx",
                "otx",
                datetime!(2026-11-03 07:30 UTC),
            ),
            at(
                SourceClass::Feed,
                "partner",
                "csv",
                datetime!(2026-11-04 00:00 UTC),
            ),
        ];
        let ew =
            EarlyWarning::from_reports(IndicatorType::Domain, "evil.example", &reports, true, NOW)
                .unwrap();
        assert_eq!(ew.authority, Authority::Blocklist);
        assert_eq!(ew.first_class, SourceClass::Exchange);
        assert_eq!(ew.authority_report.unwrap().source, "urlhaus");
        assert_eq!(ew.lead_seconds, Some(4 * 3600 + 30 * 60));
        // A domain only an exchange has reported waits for a blocklist.
        let only = EarlyWarning::from_reports(
            IndicatorType::Domain,
            "evil.example",
            &reports[1..2],
            true,
            NOW,
        )
        .unwrap();
        assert!(only.awaiting_authority);
        assert!(
            EarlyWarning::from_reports(IndicatorType::Domain, "x.example", &[], true, NOW)
                .is_none()
        );
    }

    #[test]
    fn cve_years_and_lead_words() {
        assert_eq!(cve_year("CVE-2021-44228"), Some(2021));
        assert_eq!(cve_year("cve-1999-0001"), Some(1999));
        assert_eq!(cve_year("CVE-20x1-1"), None);
        assert_eq!(cve_year("CVE-202"), None);
        assert_eq!(cve_year("evil.example"), None);
        assert!(cve_may_be_unpublished("not-a-cve", NOW));
        assert_eq!(lead_words(12), "12 s");
        assert_eq!(lead_words(40 * 60 + 5), "40 min");
        assert_eq!(lead_words(5 * 3600), "5 h");
        assert_eq!(lead_words(5 * 3600 + 12 * 60), "5 h 12 min");
        assert_eq!(lead_words(86_400 + 59), "1 day");
        assert_eq!(lead_words(86_400 + 2 * 3600), "1 day 2 h");
        assert_eq!(lead_words(9 * 86_400), "9 days");
        assert_eq!(lead_words(-5), "0 s");
    }
}
