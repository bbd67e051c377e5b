//! Curation on SQLite: analyst facts about indicators, notes, local
//! sightings and who added manual sightings.

use rexist_core::model::{now, unix_micros};
use rexist_core::{
    Curation, IndicatorId, IndicatorRecord, IndicatorType, ItemId, LocalSighting, LocalSightings,
    NewLocalSighting, Note, NoteTarget, SourceId,
};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::rows::{INDICATOR_COLUMNS, indicator_from_row};
use crate::Result;
use crate::curation::{
    CURATION_COLUMNS, CurationChange, CurationRow, FALSE_POSITIVE, LABEL, LOCAL_COLUMNS,
    NOTE_COLUMNS, SCORE, TLP, check, check_local, check_text, fold, local, note, target_ids,
    unmarked_status,
};

pub(super) fn curations(
    conn: &Connection,
    ids: &[IndicatorId],
) -> Result<Vec<(IndicatorId, Curation)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = crate::decode::json(&ids.iter().map(|i| i.get()).collect::<Vec<_>>());
    let sql = format!(
        "SELECT {CURATION_COLUMNS} FROM curations
         WHERE indicator_id IN (SELECT value FROM json_each(?1))"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params![list], |r| {
            Ok(CurationRow {
                indicator: r.get(0)?,
                fact: r.get(1)?,
                label: r.get(2)?,
                value: r.get(3)?,
                reason: r.get(4)?,
                author: r.get(5)?,
                at: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    fold(rows)
}

/// Writes one fact row, replacing the one with its key (`value` and
/// `prior_reason` only when `keep_value` is false).
#[allow(clippy::too_many_arguments)] // one row's columns
fn put(
    tx: &Transaction<'_>,
    id: i64,
    fact: &str,
    label: &str,
    value: &str,
    prior_reason: Option<&str>,
    mark: &rexist_core::Marked,
    keep_value: bool,
) -> Result<()> {
    let update_value = if keep_value {
        ""
    } else {
        "value = excluded.value, prior_reason = excluded.prior_reason,"
    };
    let sql = format!(
        "INSERT INTO curations (indicator_id, fact, label, value, prior_reason, reason, author, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (indicator_id, fact, label) DO UPDATE SET {update_value}
           reason = excluded.reason, author = excluded.author, at = excluded.at"
    );
    tx.prepare_cached(&sql)?.execute(params![
        id,
        fact,
        label,
        value,
        prior_reason,
        mark.reason,
        mark.by,
        unix_micros(mark.at)
    ])?;
    Ok(())
}

fn forget(tx: &Transaction<'_>, id: i64, fact: &str, label: &str) -> Result<()> {
    tx.prepare_cached(
        "DELETE FROM curations WHERE indicator_id = ?1 AND fact = ?2 AND label = ?3",
    )?
    .execute(params![id, fact, label])?;
    Ok(())
}

pub(super) fn curate(
    conn: &mut Connection,
    indicator: IndicatorId,
    change: &CurationChange,
) -> Result<Option<IndicatorRecord>> {
    check(change)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let record = curate_in(&tx, indicator, change)?;
    tx.commit()?;
    Ok(record)
}

/// [`curate`] on each of `ids` in one transaction: the ones that exist, as they are then.
pub(super) fn curate_many(
    conn: &mut Connection,
    ids: &[IndicatorId],
    change: &CurationChange,
) -> Result<Vec<IndicatorRecord>> {
    check(change)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.extend(curate_in(&tx, *id, change)?);
    }
    tx.commit()?;
    Ok(out)
}

fn curate_in(
    tx: &Transaction<'_>,
    indicator: IndicatorId,
    change: &CurationChange,
) -> Result<Option<IndicatorRecord>> {
    let id = indicator.get();
    let current: Option<(String, Option<String>)> = tx
        .query_row(
            "SELECT status, status_reason FROM indicators WHERE id = ?1",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((status, status_reason)) = current else {
        return Ok(None);
    };
    match change {
        CurationChange::MarkFalsePositive(mark) => {
            // The status before the first mark is what taking it back restores.
            let marked = status == FALSE_POSITIVE;
            put(
                tx,
                id,
                FALSE_POSITIVE,
                "",
                if marked { "active" } else { &status },
                status_reason.as_deref(),
                mark,
                marked,
            )?;
            tx.execute(
                "UPDATE indicators SET status = 'false_positive', status_reason = ?2,
                   added = max(added, ?3) WHERE id = ?1",
                params![id, mark.reason, unix_micros(now())],
            )?;
        }
        CurationChange::UnmarkFalsePositive => {
            let prior: Option<(String, Option<String>)> = tx
                .query_row(
                    "SELECT value, prior_reason FROM curations
                     WHERE indicator_id = ?1 AND fact = 'false_positive' AND label = ''",
                    params![id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            forget(tx, id, FALSE_POSITIVE, "")?;
            if status == FALSE_POSITIVE {
                let listed: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM sightings
                       WHERE indicator_id = ?1 AND listed = 1 AND retired_at IS NULL)",
                    params![id],
                    |r| r.get(0),
                )?;
                let (to, reason) =
                    unmarked_status(prior.as_ref().map(|(s, r)| (s.as_str(), r.clone())), listed);
                tx.execute(
                    "UPDATE indicators SET status = ?2, status_reason = ?3 WHERE id = ?1",
                    params![id, to.as_str(), reason],
                )?;
            }
        }
        CurationChange::RaiseTlp(tlp, mark) => {
            put(tx, id, TLP, "", tlp.as_str(), None, mark, false)?;
            tx.execute(
                "UPDATE indicators SET tlp_floor = ?2,
                   tlp = max(coalesce((SELECT min(tlp) FROM sightings WHERE indicator_id = ?1), tlp), ?2)
                 WHERE id = ?1",
                params![id, tlp.rank()],
            )?;
        }
        CurationChange::ClearTlp => {
            forget(tx, id, TLP, "")?;
            tx.execute(
                "UPDATE indicators SET tlp_floor = NULL,
                   tlp = coalesce((SELECT min(tlp) FROM sightings WHERE indicator_id = ?1), tlp)
                 WHERE id = ?1",
                params![id],
            )?;
        }
        CurationChange::OverrideScore(score, mark) => {
            put(tx, id, SCORE, "", &score.to_string(), None, mark, false)?;
            tx.execute(
                "UPDATE indicators SET score_override = ?2, score = ?2 WHERE id = ?1",
                params![id, score],
            )?;
        }
        CurationChange::ClearScore => {
            forget(tx, id, SCORE, "")?;
            tx.execute(
                "UPDATE indicators SET score_override = NULL,
                   score = coalesce((SELECT max(confidence) FROM sightings WHERE indicator_id = ?1), score)
                 WHERE id = ?1",
                params![id],
            )?;
        }
        CurationChange::Label {
            label,
            removed,
            mark,
        } => {
            let value = if *removed { "removed" } else { "added" };
            put(tx, id, LABEL, label, value, None, mark, false)?;
        }
        CurationChange::ForgetLabel(label) => forget(tx, id, LABEL, label)?,
    }
    let sql = format!("SELECT {INDICATOR_COLUMNS} FROM indicators WHERE id = ?1");
    let record = tx.query_row(&sql, params![id], indicator_from_row)?;
    Ok(Some(record))
}

pub(super) fn add_note(
    conn: &mut Connection,
    target: NoteTarget,
    author: &str,
    text: &str,
) -> Result<Note> {
    check_text("text", text)?;
    check_text("author", author)?;
    let (indicator, item) = target_ids(target);
    let sql = format!(
        "INSERT INTO notes (indicator_id, item_id, author, text, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {NOTE_COLUMNS}"
    );
    let row = conn.query_row(
        &sql,
        params![indicator, item, author, text, unix_micros(now())],
        note_row,
    )?;
    Ok(note(row.0, row.1, row.2, row.3, row.4, row.5)?.1)
}

type NoteRow = (i64, String, String, i64, Option<i64>, Option<i64>);

fn note_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NoteRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

pub(super) fn notes(conn: &Connection, target: NoteTarget, limit: u32) -> Result<Vec<Note>> {
    let column = match target {
        NoteTarget::Indicator(_) => "indicator_id",
        NoteTarget::Item(_) => "item_id",
    };
    let id = match target {
        NoteTarget::Indicator(i) => i.get(),
        NoteTarget::Item(i) => i.get(),
    };
    let sql = format!(
        "SELECT {NOTE_COLUMNS} FROM notes WHERE {column} = ?1 ORDER BY id DESC LIMIT {}",
        crate::types::page_size(limit)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params![id], note_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|r| note(r.0, r.1, r.2, r.3, r.4, r.5).map(|(_, n)| n))
        .collect()
}

pub(super) fn one_note(conn: &Connection, id: i64) -> Result<Option<(NoteTarget, Note)>> {
    let sql = format!("SELECT {NOTE_COLUMNS} FROM notes WHERE id = ?1");
    let row = conn
        .prepare_cached(&sql)?
        .query_row(params![id], note_row)
        .optional()?;
    row.map(|r| note(r.0, r.1, r.2, r.3, r.4, r.5)).transpose()
}

pub(super) fn add_local_sighting(
    conn: &mut Connection,
    indicator: IndicatorId,
    s: &NewLocalSighting,
) -> Result<LocalSighting> {
    check_local(s)?;
    let sql = format!(
        "INSERT INTO local_sightings (indicator_id, count, place, seen_at, author, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING {LOCAL_COLUMNS}"
    );
    Ok(conn.query_row(
        &sql,
        params![
            indicator.get(),
            s.count,
            s.place,
            unix_micros(s.seen_at),
            s.author,
            unix_micros(now())
        ],
        local_row,
    )?)
}

fn local_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LocalSighting> {
    Ok(local(
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

pub(super) fn local_sightings(
    conn: &Connection,
    indicator: IndicatorId,
    recent: u32,
) -> Result<LocalSightings> {
    let (count, reports, last): (i64, i64, Option<i64>) = conn
        .prepare_cached(
            "SELECT coalesce(sum(count), 0), count(*), max(seen_at) FROM local_sightings
             WHERE indicator_id = ?1",
        )?
        .query_row(params![indicator.get()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    if reports == 0 {
        return Ok(LocalSightings::default());
    }
    let sql = format!(
        "SELECT {LOCAL_COLUMNS} FROM local_sightings WHERE indicator_id = ?1
         ORDER BY seen_at DESC, id DESC LIMIT {}",
        crate::types::page_size(recent)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params![indicator.get()], local_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(LocalSightings {
        count: u64::try_from(count).unwrap_or(0),
        reports: u64::try_from(reports).unwrap_or(0),
        last_seen: last.map(rexist_core::model::from_unix_micros),
        recent: rows,
    })
}

pub(super) fn attribute_sightings(
    conn: &mut Connection,
    source: SourceId,
    item: Option<ItemId>,
    indicators: &[(IndicatorType, String)],
    author: &str,
) -> Result<u64> {
    check_text("author", author)?;
    let tx = conn.transaction()?;
    let mut n = 0;
    {
        let mut stmt = tx.prepare_cached(
            "UPDATE sightings SET author = ?5
             WHERE indicator_id = (SELECT id FROM indicators WHERE value = ?1 AND kind = ?2)
               AND source_id = ?3 AND item_id = ?4 AND author IS NULL",
        )?;
        for (kind, value) in indicators {
            n += stmt.execute(params![
                value,
                kind.as_str(),
                source.get(),
                item.map_or(0, ItemId::get),
                author
            ])?;
        }
    }
    tx.commit()?;
    Ok(n as u64)
}

/// Whether any indicator has hand labels: exports skip reading them per
/// row when none has.
pub(super) fn any_hand_labels(conn: &Connection) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM curations WHERE fact = 'label')")?
        .query_row([], |r| r.get(0))?)
}

/// The hand labels of one indicator.
pub(super) fn hand_labels(conn: &Connection, indicator: i64) -> Result<Curation> {
    let sql = format!(
        "SELECT {CURATION_COLUMNS} FROM curations WHERE indicator_id = ?1 AND fact = 'label'"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params![indicator], |r| {
            Ok(CurationRow {
                indicator: r.get(0)?,
                fact: r.get(1)?,
                label: r.get(2)?,
                value: r.get(3)?,
                reason: r.get(4)?,
                author: r.get(5)?,
                at: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(fold(rows)?.pop().map(|(_, c)| c).unwrap_or_default())
}
