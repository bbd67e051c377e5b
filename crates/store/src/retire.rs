//! What both backends share about retractions: the reason an indicator is
//! retired with, the order retractions are applied in, and which sightings
//! name an exported indicator's sources and labels.

use std::collections::{BTreeSet, HashMap, HashSet};

use rexist_core::model::unix_micros;
use rexist_core::{IndicatorType, NewSighting, RetractReason, Retraction};

/// The `status_reason` of an indicator retired because `source` withdrew it
/// for `reason`: `revoked by taxii-partner`, `delisted by feodo`.
pub(crate) fn status_reason(reason: RetractReason, source: &str) -> String {
    format!("{} by {source}", reason.as_str())
}

/// The retractions to apply, one per indicator (the first given wins, as
/// if applied one after another), in `(value, type)` order: the order both
/// backends lock indicator rows in.
pub(crate) fn ordered(retractions: &[Retraction]) -> Vec<&Retraction> {
    let mut seen = HashSet::new();
    let mut out: Vec<&Retraction> = retractions
        .iter()
        .filter(|r| seen.insert((r.indicator.kind(), r.indicator.value())))
        .collect();
    out.sort_by(|a, b| {
        (a.indicator.value(), a.indicator.kind().as_str())
            .cmp(&(b.indicator.value(), b.indicator.kind().as_str()))
    });
    out
}

/// Gives every repeat of an (indicator, item) pair in a batch the latest
/// `valid_until` among them, so the stored expiry does not depend on the
/// order a backend happens to write the repeats in.
pub(crate) fn latest_validity<'a>(batch: impl Iterator<Item = &'a mut NewSighting>) {
    let mut batch: Vec<&mut NewSighting> = batch.collect();
    if batch.iter().all(|s| s.valid_until.is_none()) {
        return;
    }
    let mut latest: HashMap<(IndicatorType, String, i64), i64> = HashMap::new();
    let key = |s: &NewSighting| {
        (
            s.indicator.kind(),
            s.indicator.value().to_owned(),
            s.item_id.map_or(0, rexist_core::ItemId::get),
        )
    };
    for s in &batch {
        if let Some(t) = s.valid_until {
            let t = unix_micros(t);
            latest
                .entry(key(s))
                .and_modify(|l| *l = (*l).max(t))
                .or_insert(t);
        }
    }
    for s in &mut batch {
        if let Some(t) = latest.get(&key(s)) {
            s.valid_until = Some(rexist_core::model::from_unix_micros(*t));
        }
    }
}

/// The sources and labels an exported indicator names, from its sightings
/// the reader may see: only unretired ones, so an indicator still reported
/// by one source does not name the source that withdrew it; when every one
/// is retired (the indicator's revoked version), all of them, so the
/// revoked object still says who reported it.
#[derive(Debug, Default)]
pub(crate) struct Context {
    live: (BTreeSet<String>, BTreeSet<String>),
    retired: (BTreeSet<String>, BTreeSet<String>),
}

impl Context {
    /// Adds one sighting: its source's name, its labels (JSON array) and
    /// whether it is retired.
    pub(crate) fn add(&mut self, source: String, labels_json: &str, retired: bool) {
        let side = if retired {
            &mut self.retired
        } else {
            &mut self.live
        };
        side.0.insert(source);
        // Labels are written by the store as a JSON array; an unreadable one
        // names no label rather than failing the export.
        side.1
            .extend(serde_json::from_str::<Vec<String>>(labels_json).unwrap_or_default());
    }

    /// Sorted sources and labels.
    pub(crate) fn finish(self) -> (Vec<String>, Vec<String>) {
        let (sources, labels) = if self.live.0.is_empty() {
            self.retired
        } else {
            self.live
        };
        (sources.into_iter().collect(), labels.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use rexist_core::model::now;
    use rexist_core::{Indicator, IndicatorType};

    #[test]
    fn first_retraction_per_indicator_in_lock_order() {
        let r = |v: &str, reason| Retraction {
            indicator: Indicator::parse(IndicatorType::Domain, v).unwrap(),
            reason,
            at: now(),
        };
        let list = [
            r("b.example", RetractReason::Revoked),
            r("a.example", RetractReason::Deleted),
            r("b.example", RetractReason::Inactive),
        ];
        let got: Vec<_> = ordered(&list)
            .into_iter()
            .map(|r| (r.indicator.value().to_owned(), r.reason))
            .collect();
        assert_eq!(
            got,
            [
                ("a.example".to_owned(), RetractReason::Deleted),
                ("b.example".to_owned(), RetractReason::Revoked)
            ]
        );
    }

    #[test]
    fn context_names_live_sightings_else_all() {
        let mut c = Context::default();
        c.add("gone".into(), r#"["old"]"#, true);
        c.add("here".into(), r#"["emotet"]"#, false);
        assert_eq!(c.finish(), (vec!["here".into()], vec!["emotet".into()]));
        let mut c = Context::default();
        c.add("gone".into(), r#"["old"]"#, true);
        assert_eq!(c.finish(), (vec!["gone".into()], vec!["old".into()]));
        assert_eq!(
            status_reason(RetractReason::FalsePositive, "tc"),
            "false_positive by tc"
        );
    }
}
