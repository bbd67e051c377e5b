//! What analysts say about indicators and items, apart from what sources
//! report: false-positive marks, TLP raises, score overrides, labels added
//! or removed by hand, notes, and sightings in the organisation's own
//! network. Each carries who said it and when (and, for the marks, why),
//! survives every re-ingest, and can be taken back.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{IndicatorId, ItemId};
use crate::tlp::Tlp;

/// Longest note, reason or place an analyst may write, in bytes.
pub const MAX_TEXT: usize = 10_000;

/// Who set an analyst fact, when, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Marked {
    /// Why, in the analyst's words.
    pub reason: String,
    /// Who: a user name or `token:NAME`.
    pub by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
}

/// An analyst's raise of an indicator's TLP: it never drops below `tlp`,
/// whatever a source reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TlpRaise {
    /// The lowest TLP the indicator may have.
    pub tlp: Tlp,
    /// Who raised it, when and why.
    #[serde(flatten)]
    pub mark: Marked,
}

/// An analyst's score for an indicator, in place of the computed one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScoreOverride {
    /// The score, 0–100.
    pub score: u8,
    /// Who set it, when and why.
    #[serde(flatten)]
    pub mark: Marked,
}

/// A label an analyst added to an indicator, or removed from what its
/// sources say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HandLabel {
    /// The label.
    pub label: String,
    /// True when it was removed (sources' sightings carry it, the analyst
    /// says they are wrong); false when it was added.
    pub removed: bool,
    /// Who, when and why.
    #[serde(flatten)]
    pub mark: Marked,
}

/// Every analyst fact about one indicator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Curation {
    /// Set when it is marked a false positive.
    pub false_positive: Option<Marked>,
    /// Set when its TLP was raised by hand.
    pub tlp: Option<TlpRaise>,
    /// Set when its score was overridden.
    pub score: Option<ScoreOverride>,
    /// Labels added or removed by hand, by label.
    pub labels: Vec<HandLabel>,
}

impl Curation {
    /// Whether it says nothing.
    pub fn is_empty(&self) -> bool {
        self.false_positive.is_none()
            && self.tlp.is_none()
            && self.score.is_none()
            && self.labels.is_empty()
    }

    /// `labels` (what the sources say) with the hand-added labels joined
    /// and the hand-removed ones left out, sorted and de-duplicated.
    pub fn apply_labels(&self, labels: &[String]) -> Vec<String> {
        let mut out: std::collections::BTreeSet<String> = labels.iter().cloned().collect();
        for l in &self.labels {
            if l.removed {
                out.remove(&l.label);
            } else {
                out.insert(l.label.clone());
            }
        }
        out.into_iter().collect()
    }
}

/// What a note is written on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoteTarget {
    /// An indicator.
    Indicator(IndicatorId),
    /// An item.
    Item(ItemId),
}

/// An analyst's note on an indicator or an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Note {
    /// Row id.
    pub id: i64,
    /// Who wrote it.
    pub author: String,
    /// What it says.
    pub text: String,
    /// When it was written.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// A local sighting to record: the indicator seen in the organisation's
/// own network (MISP's sightings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLocalSighting {
    /// How many times it was seen (at least 1).
    pub count: u32,
    /// Where: a host, a segment, a sensor (free text).
    pub place: Option<String>,
    /// When it was seen.
    pub seen_at: OffsetDateTime,
    /// Who reported it.
    pub author: String,
}

/// A recorded local sighting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LocalSighting {
    /// Row id.
    pub id: i64,
    /// How many times it was seen.
    pub count: u32,
    /// Where it was seen.
    #[serde(rename = "where")]
    pub place: Option<String>,
    /// When it was seen.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub seen_at: OffsetDateTime,
    /// Who reported it.
    pub author: String,
    /// When it was recorded.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// The local sightings of one indicator, summed up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LocalSightings {
    /// Times seen, over every report (the sum of their counts).
    pub count: u64,
    /// Reports recorded.
    pub reports: u64,
    /// The latest time it was seen.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_seen: Option<OffsetDateTime>,
    /// The latest reports, most recently seen first.
    pub recent: Vec<LocalSighting>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::now;

    fn mark() -> Marked {
        Marked {
            reason: "why".into(),
            by: "alice".into(),
            at: now(),
        }
    }

    #[test]
    fn hand_labels_join_and_leave() {
        let c = Curation {
            labels: vec![
                HandLabel {
                    label: "emotet".into(),
                    removed: false,
                    mark: mark(),
                },
                HandLabel {
                    label: "phishing".into(),
                    removed: true,
                    mark: mark(),
                },
            ],
            ..Curation::default()
        };
        assert!(!c.is_empty());
        assert_eq!(
            c.apply_labels(&["phishing".into(), "botnet".into()]),
            ["botnet", "emotet"]
        );
        assert!(Curation::default().is_empty());
    }

    #[test]
    fn raises_and_overrides_carry_their_mark_flat() {
        let raise = TlpRaise {
            tlp: Tlp::Red,
            mark: mark(),
        };
        let json = serde_json::to_value(&raise).unwrap_or_default();
        assert_eq!(json["tlp"], "red");
        assert_eq!(json["by"], "alice");
        assert_eq!(json["reason"], "why");
    }
}
