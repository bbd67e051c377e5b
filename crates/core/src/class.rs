//! Source classes: what kind of voice a source is — social media, news, a
//! threat exchange, a vulnerability database or a feed — whatever connector
//! it runs on. Early warning ([`crate::early`]) compares them: who spoke
//! first, and how long before the authority.
//!
//! A class is a function of a source's *generic* kind (`mastodon`, `rss`,
//! `csv`, …). A catalogue entry (`urlhaus`, `jvn-news`) is resolved to its
//! generic kind by `rexist_connectors::source::base_kind`, which owns the
//! catalogue; this crate only maps generic kinds, so the store, the lookup
//! and the hunter can share the mapping without depending on connectors.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::UnknownName;

/// What kind of voice a source is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum SourceClass {
    /// Posts on social media: Mastodon, Bluesky, X.
    Social,
    /// Security news and advisories read as RSS or Atom.
    News,
    /// Threat-sharing platforms and exchanges: MISP (server and feed), OTX,
    /// ThreatConnect, TAXII, X-Force.
    Exchange,
    /// Vulnerability and exploit databases: NVD, JVN, KEV, Exploit-DB.
    Vulndb,
    /// Blocklists and indicator feeds (text, CSV, JSON, NDJSON lists and the
    /// catalogue's blocklists), and files loaded with `rexist ingest file`.
    Feed,
    /// A kind rexist does not know (hand-made sources, the demo data set).
    Other,
}

impl SourceClass {
    /// Every class, in the order tables list them.
    pub const ALL: [Self; 6] = [
        Self::Social,
        Self::News,
        Self::Exchange,
        Self::Vulndb,
        Self::Feed,
        Self::Other,
    ];

    /// The class of a generic connector kind (see the module docs for
    /// catalogue entries). `file`, the kind `rexist ingest file` gives the
    /// sources it creates, is a feed: a local list of indicators is a
    /// blocklist someone keeps by hand.
    pub fn of_base(base: &str) -> Self {
        match base {
            "mastodon" | "bluesky" | "x" => Self::Social,
            "rss" => Self::News,
            "misp" | "misp-feed" | "otx" | "threatconnect" | "taxii" | "xforce" => Self::Exchange,
            "nvd" | "jvn" | "kev" | "exploitdb" => Self::Vulndb,
            "text" | "csv" | "json" | "ndjson" | "file" => Self::Feed,
            _ => Self::Other,
        }
    }

    /// The lower-case name (`social`, `news`, `exchange`, `vulndb`, `feed`, `other`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Social => "social",
            Self::News => "news",
            Self::Exchange => "exchange",
            Self::Vulndb => "vulndb",
            Self::Feed => "feed",
            Self::Other => "other",
        }
    }

    /// Whether a report from this class is discussion that can run ahead of
    /// a database entry: social, news or exchange.
    pub fn is_discussion(self) -> bool {
        matches!(self, Self::Social | Self::News | Self::Exchange)
    }
}

/// Whether a generic kind is one of the databases whose entry makes a CVE
/// public — NVD, JVN, KEV — and so the authority early warning measures a
/// CVE's lead against. Exploit-DB is a vulnerability database too, but an
/// exploit is not the advisory.
pub fn is_cve_authority(base: &str) -> bool {
    matches!(base, "nvd" | "jvn" | "kev")
}

impl fmt::Display for SourceClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SourceClass {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == lower)
            .ok_or_else(|| {
                crate::model::unknown(
                    "source class",
                    s,
                    "social, news, exchange, vulndb, feed, other",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generic_kind_has_its_class() {
        for (kinds, class) in [
            (&["mastodon", "bluesky", "x"][..], SourceClass::Social),
            (&["rss"][..], SourceClass::News),
            (
                &[
                    "misp",
                    "misp-feed",
                    "otx",
                    "threatconnect",
                    "taxii",
                    "xforce",
                ][..],
                SourceClass::Exchange,
            ),
            (&["nvd", "jvn", "kev", "exploitdb"][..], SourceClass::Vulndb),
            (
                &["text", "csv", "json", "ndjson", "file"][..],
                SourceClass::Feed,
            ),
            (
                &["demo: OTX pulses", "test", "", "RSS"][..],
                SourceClass::Other,
            ),
        ] {
            for kind in kinds {
                assert_eq!(SourceClass::of_base(kind), class, "{kind:?}");
            }
        }
    }

    #[test]
    fn only_advisory_databases_are_cve_authorities() {
        for kind in ["nvd", "jvn", "kev"] {
            assert!(is_cve_authority(kind), "{kind}");
        }
        for kind in ["exploitdb", "rss", "mastodon", "csv", "jvn-news", "misp"] {
            assert!(!is_cve_authority(kind), "{kind}");
        }
    }

    #[test]
    fn names_round_trip_and_unknown_ones_are_named() {
        for c in SourceClass::ALL {
            assert_eq!(c.as_str().parse::<SourceClass>(), Ok(c));
            assert_eq!(
                serde_json::to_value(c).unwrap_or_default(),
                serde_json::json!(c.as_str())
            );
        }
        assert_eq!(" Social ".parse::<SourceClass>(), Ok(SourceClass::Social));
        let err = "blog".parse::<SourceClass>().unwrap_err().to_string();
        assert!(err.contains("blog") && err.contains("exchange"), "{err}");
        assert!(SourceClass::News.is_discussion());
        assert!(!SourceClass::Vulndb.is_discussion());
        assert!(!SourceClass::Feed.is_discussion());
    }
}
