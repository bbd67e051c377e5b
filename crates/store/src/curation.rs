//! What both backends share about curation: the change type, the checks
//! on what an analyst writes, and decoding `curations` rows into facts.

use rexist_core::curation::MAX_TEXT;
use rexist_core::model::from_unix_micros;
use rexist_core::{
    Curation, HandLabel, IndicatorStatus, LocalSighting, Marked, Note, ScoreOverride, Tlp, TlpRaise,
};

use crate::{Result, StoreError};

/// One change to the analyst facts about an indicator ([`crate::Store::curate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CurationChange {
    /// Marks it a false positive: its status becomes `false_positive` with
    /// the mark's reason, so it leaves exports and hunts, and stays so
    /// whatever sources report until the mark is taken back; its `added`
    /// time moves to now, so TAXII readers see its revoked version. Marking
    /// a marked indicator again replaces the reason, author and time.
    MarkFalsePositive(Marked),
    /// Takes the mark back: an indicator allow-listed before the mark is
    /// allow-listed again; any other is active when a source still lists it
    /// (the expiry sweep judges its age), else retired.
    UnmarkFalsePositive,
    /// Raises its TLP to at least `tlp`, a floor no source's report lowers
    /// it below.
    RaiseTlp(Tlp, Marked),
    /// Takes the raise back: its TLP is its sightings' lowest again.
    ClearTlp,
    /// Holds its score at this value (0–100) whatever sources report.
    OverrideScore(u8, Marked),
    /// Takes the override back: the score is its sightings' highest confidence again.
    ClearScore,
    /// Adds a label by hand (`removed: false`), or removes one its sources
    /// give (`removed: true`); a later change to the same label replaces it.
    Label {
        /// The label.
        label: String,
        /// Whether it is removed rather than added.
        removed: bool,
        /// Who, when and why.
        mark: Marked,
    },
    /// Forgets the hand change to a label: its sources' word stands again.
    ForgetLabel(String),
}

/// The `fact` column of each kind of fact.
pub(crate) const FALSE_POSITIVE: &str = "false_positive";
pub(crate) const TLP: &str = "tlp";
pub(crate) const SCORE: &str = "score";
pub(crate) const LABEL: &str = "label";

/// The `status_reason` of an indicator whose false-positive mark was taken
/// back while no source lists it any more.
pub(crate) const UNLISTED: &str = "no source lists it";

/// Refuses empty, over-long or control-character text an analyst wrote.
pub(crate) fn check_text(what: &str, text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(StoreError::invalid(format!("{what}: must not be empty")));
    }
    if text.len() > MAX_TEXT {
        return Err(StoreError::invalid(format!(
            "{what}: {} bytes, at most {MAX_TEXT}",
            text.len()
        )));
    }
    Ok(())
}

/// Checks a change before it is applied.
pub(crate) fn check(change: &CurationChange) -> Result<()> {
    let mark = match change {
        CurationChange::MarkFalsePositive(m)
        | CurationChange::RaiseTlp(_, m)
        | CurationChange::OverrideScore(_, m) => m,
        CurationChange::Label { label, mark, .. } => {
            check_label(label)?;
            mark
        }
        CurationChange::ForgetLabel(label) => return check_label(label),
        CurationChange::UnmarkFalsePositive
        | CurationChange::ClearTlp
        | CurationChange::ClearScore => return Ok(()),
    };
    if let CurationChange::OverrideScore(score, _) = change
        && *score > 100
    {
        return Err(StoreError::invalid(format!(
            "score: {score} is not within 0–100"
        )));
    }
    check_text("reason", &mark.reason)?;
    check_text("by", &mark.by)
}

/// A label: 1–128 bytes, no control characters, not blank.
pub(crate) fn check_label(label: &str) -> Result<()> {
    if label.trim().is_empty() || label.len() > 128 || label.chars().any(char::is_control) {
        return Err(StoreError::invalid(format!(
            "label {label:?}: 1 to 128 characters, no control characters"
        )));
    }
    Ok(())
}

/// The status an unmarked indicator returns to: allow-listed again when
/// it was before the mark (`prior`, with its reason), else active when a
/// source still lists it, else retired (with its old reason if it was
/// retired already).
pub(crate) fn unmarked_status(
    prior: Option<(&str, Option<String>)>,
    listed: bool,
) -> (IndicatorStatus, Option<String>) {
    match prior {
        Some(("allowlisted", reason)) => (IndicatorStatus::Allowlisted, reason),
        _ if listed => (IndicatorStatus::Active, None),
        Some(("retired", Some(reason))) => (IndicatorStatus::Retired, Some(reason)),
        _ => (IndicatorStatus::Retired, Some(UNLISTED.to_owned())),
    }
}

/// A `curations` row as read: `indicator_id, fact, label, value, reason, author, at`.
pub(crate) struct CurationRow {
    pub indicator: i64,
    pub fact: String,
    pub label: String,
    pub value: String,
    pub reason: String,
    pub author: String,
    pub at: i64,
}

/// The columns of `curations` a [`CurationRow`] takes, in its order.
pub(crate) const CURATION_COLUMNS: &str = "indicator_id, fact, label, value, reason, author, at";

/// Folds rows (in any order) into one [`Curation`] per indicator, labels
/// sorted.
pub(crate) fn fold(rows: Vec<CurationRow>) -> Result<Vec<(rexist_core::IndicatorId, Curation)>> {
    let mut out: std::collections::BTreeMap<i64, Curation> = std::collections::BTreeMap::new();
    for r in rows {
        let c = out.entry(r.indicator).or_default();
        let mark = Marked {
            reason: r.reason,
            by: r.author,
            at: from_unix_micros(r.at),
        };
        match r.fact.as_str() {
            FALSE_POSITIVE => c.false_positive = Some(mark),
            TLP => {
                let tlp = r.value.parse::<Tlp>().map_err(|e| {
                    StoreError::internal(format!("corrupt TLP raise in store: {e}"))
                })?;
                c.tlp = Some(TlpRaise { tlp, mark });
            }
            SCORE => {
                let score = r.value.parse::<u8>().map_err(|e| {
                    StoreError::internal(format!("corrupt score override in store: {e}"))
                })?;
                c.score = Some(ScoreOverride { score, mark });
            }
            LABEL => c.labels.push(HandLabel {
                label: r.label,
                removed: r.value == "removed",
                mark,
            }),
            other => {
                return Err(StoreError::internal(format!(
                    "corrupt curation in store: unknown fact {other:?}"
                )));
            }
        }
    }
    Ok(out
        .into_iter()
        .map(|(id, mut c)| {
            c.labels.sort_by(|a, b| a.label.cmp(&b.label));
            (rexist_core::IndicatorId::new(id), c)
        })
        .collect())
}

/// Columns of `notes` a note is read from, in [`note`]'s order.
pub(crate) const NOTE_COLUMNS: &str = "id, author, text, created_at, indicator_id, item_id";

/// A note and what it is on, from its columns.
pub(crate) fn note(
    id: i64,
    author: String,
    text: String,
    created_at: i64,
    indicator: Option<i64>,
    item: Option<i64>,
) -> Result<(rexist_core::NoteTarget, Note)> {
    let target = match (indicator, item) {
        (Some(i), None) => rexist_core::NoteTarget::Indicator(rexist_core::IndicatorId::new(i)),
        (None, Some(i)) => rexist_core::NoteTarget::Item(rexist_core::ItemId::new(i)),
        _ => {
            return Err(StoreError::internal(format!(
                "corrupt note {id} in store: on no indicator or item, or on both"
            )));
        }
    };
    Ok((
        target,
        Note {
            id,
            author,
            text,
            created_at: from_unix_micros(created_at),
        },
    ))
}

/// The ids a note target is stored under: (indicator, item).
pub(crate) fn target_ids(target: rexist_core::NoteTarget) -> (Option<i64>, Option<i64>) {
    match target {
        rexist_core::NoteTarget::Indicator(i) => (Some(i.get()), None),
        rexist_core::NoteTarget::Item(i) => (None, Some(i.get())),
    }
}

/// Columns of `local_sightings`, in [`local`]'s order.
pub(crate) const LOCAL_COLUMNS: &str = "id, count, place, seen_at, author, created_at";

/// A local sighting from its columns.
pub(crate) fn local(
    id: i64,
    count: i64,
    place: Option<String>,
    seen_at: i64,
    author: String,
    created_at: i64,
) -> LocalSighting {
    LocalSighting {
        id,
        count: u32::try_from(count.max(0)).unwrap_or(u32::MAX),
        place,
        seen_at: from_unix_micros(seen_at),
        author,
        created_at: from_unix_micros(created_at),
    }
}

/// Checks a local sighting before it is stored.
pub(crate) fn check_local(s: &rexist_core::NewLocalSighting) -> Result<()> {
    if s.count == 0 {
        return Err(StoreError::invalid("count: must be at least 1"));
    }
    if let Some(place) = &s.place {
        check_text("where", place)?;
    }
    check_text("author", &s.author)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmarking_restores_what_holds_now() {
        let allow = Some(("allowlisted", Some("on warning list x".to_owned())));
        assert_eq!(
            unmarked_status(allow, true),
            (
                IndicatorStatus::Allowlisted,
                Some("on warning list x".into())
            )
        );
        assert_eq!(
            unmarked_status(Some(("retired", Some("revoked by p".into()))), true),
            (IndicatorStatus::Active, None)
        );
        assert_eq!(
            unmarked_status(Some(("retired", Some("revoked by p".into()))), false),
            (IndicatorStatus::Retired, Some("revoked by p".into()))
        );
        assert_eq!(
            unmarked_status(Some(("active", None)), false),
            (IndicatorStatus::Retired, Some(UNLISTED.into()))
        );
    }

    #[test]
    fn bad_text_is_named() {
        let e = check_text("reason", "  ").unwrap_err().to_string();
        assert!(e.contains("reason: must not be empty"), "{e}");
        assert!(check_label("a\nb").is_err());
        assert!(check_label("emotet").is_ok());
    }
}
