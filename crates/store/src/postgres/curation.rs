//! Curation on PostgreSQL: analyst facts about indicators, notes, local
//! sightings and who added manual sightings (see the SQLite twin).

use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgPool, Postgres, Row, Transaction};

use rexist_core::model::{now, unix_micros};
use rexist_core::{
    Curation, IndicatorId, IndicatorRecord, IndicatorType, ItemId, LocalSighting, LocalSightings,
    Marked, NewLocalSighting, Note, NoteTarget, SourceId,
};

use super::rows::indicator_from_row;
use crate::Result;
use crate::curation::{
    CURATION_COLUMNS, CurationChange, CurationRow, FALSE_POSITIVE, LABEL, LOCAL_COLUMNS,
    NOTE_COLUMNS, SCORE, TLP, check, check_local, check_text, fold, local, note, target_ids,
    unmarked_status,
};
use crate::decode::INDICATOR_COLUMNS;

fn curation_row(r: &PgRow) -> Result<CurationRow> {
    Ok(CurationRow {
        indicator: r.try_get(0)?,
        fact: r.try_get(1)?,
        label: r.try_get(2)?,
        value: r.try_get(3)?,
        reason: r.try_get(4)?,
        author: r.try_get(5)?,
        at: r.try_get(6)?,
    })
}

/// The facts of `ids` (only their hand labels when `labels_only`).
pub(super) async fn curations(
    pool: &PgPool,
    ids: &[i64],
    labels_only: bool,
) -> Result<Vec<(IndicatorId, Curation)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let only = if labels_only {
        " AND fact = 'label'"
    } else {
        ""
    };
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {CURATION_COLUMNS} FROM curations WHERE indicator_id = ANY($1){only}"
    )))
    .bind(ids)
    .fetch_all(pool)
    .await?;
    fold(rows.iter().map(curation_row).collect::<Result<Vec<_>>>()?)
}

/// Writes one fact row, replacing the one with its key (`value` and
/// `prior_reason` only when `keep_value` is false).
#[allow(clippy::too_many_arguments)] // one row's columns
async fn put(
    tx: &mut Transaction<'_, Postgres>,
    id: i64,
    fact: &str,
    label: &str,
    value: &str,
    prior_reason: Option<&str>,
    mark: &Marked,
    keep_value: bool,
) -> Result<()> {
    let update_value = if keep_value {
        ""
    } else {
        "value = EXCLUDED.value, prior_reason = EXCLUDED.prior_reason,"
    };
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO curations (indicator_id, fact, label, value, prior_reason, reason, author, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (indicator_id, fact, label) DO UPDATE SET {update_value}
           reason = EXCLUDED.reason, author = EXCLUDED.author, at = EXCLUDED.at"
    )))
    .bind(id)
    .bind(fact)
    .bind(label)
    .bind(value)
    .bind(prior_reason)
    .bind(&mark.reason)
    .bind(&mark.by)
    .bind(unix_micros(mark.at))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn forget(
    tx: &mut Transaction<'_, Postgres>,
    id: i64,
    fact: &str,
    label: &str,
) -> Result<()> {
    sqlx::query("DELETE FROM curations WHERE indicator_id = $1 AND fact = $2 AND label = $3")
        .bind(id)
        .bind(fact)
        .bind(label)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(super) async fn curate(
    pool: &PgPool,
    indicator: IndicatorId,
    change: &CurationChange,
) -> Result<Option<IndicatorRecord>> {
    check(change)?;
    let mut tx = pool.begin().await?;
    let record = curate_in(&mut tx, indicator, change).await?;
    tx.commit().await?;
    Ok(record)
}

/// [`curate`] on each of `ids` in one transaction, locking them in id
/// order (as concurrent bulk changes do, so two cannot deadlock): the ones
/// that exist, as they are then.
pub(super) async fn curate_many(
    pool: &PgPool,
    ids: &[IndicatorId],
    change: &CurationChange,
) -> Result<Vec<IndicatorRecord>> {
    check(change)?;
    let mut ids = ids.to_vec();
    ids.sort_unstable_by_key(|i| i.get());
    ids.dedup();
    let mut tx = pool.begin().await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.extend(curate_in(&mut tx, id, change).await?);
    }
    tx.commit().await?;
    Ok(out)
}

async fn curate_in(
    tx: &mut Transaction<'_, Postgres>,
    indicator: IndicatorId,
    change: &CurationChange,
) -> Result<Option<IndicatorRecord>> {
    let id = indicator.get();
    // Locked first, as every writer locks an indicator before its sightings.
    let current: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT status, status_reason FROM indicators WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    let Some((status, status_reason)) = current else {
        return Ok(None);
    };
    match change {
        CurationChange::MarkFalsePositive(mark) => {
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
            )
            .await?;
            sqlx::query(
                "UPDATE indicators SET status = 'false_positive', status_reason = $2,
                   added = GREATEST(added, $3) WHERE id = $1",
            )
            .bind(id)
            .bind(&mark.reason)
            .bind(unix_micros(now()))
            .execute(&mut **tx)
            .await?;
        }
        CurationChange::UnmarkFalsePositive => {
            let prior: Option<(String, Option<String>)> = sqlx::query_as(
                "SELECT value, prior_reason FROM curations
                 WHERE indicator_id = $1 AND fact = 'false_positive' AND label = ''",
            )
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
            forget(tx, id, FALSE_POSITIVE, "").await?;
            if status == FALSE_POSITIVE {
                let listed: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM sightings
                       WHERE indicator_id = $1 AND listed AND retired_at IS NULL)",
                )
                .bind(id)
                .fetch_one(&mut **tx)
                .await?;
                let (to, reason) =
                    unmarked_status(prior.as_ref().map(|(s, r)| (s.as_str(), r.clone())), listed);
                sqlx::query("UPDATE indicators SET status = $2, status_reason = $3 WHERE id = $1")
                    .bind(id)
                    .bind(to.as_str())
                    .bind(reason)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        CurationChange::RaiseTlp(tlp, mark) => {
            put(tx, id, TLP, "", tlp.as_str(), None, mark, false).await?;
            sqlx::query(
                "UPDATE indicators SET tlp_floor = $2,
                   tlp = GREATEST(coalesce((SELECT min(tlp) FROM sightings WHERE indicator_id = $1), tlp), $2)
                 WHERE id = $1",
            )
            .bind(id)
            .bind(tlp.rank())
            .execute(&mut **tx)
            .await?;
        }
        CurationChange::ClearTlp => {
            forget(tx, id, TLP, "").await?;
            sqlx::query(
                "UPDATE indicators SET tlp_floor = NULL,
                   tlp = coalesce((SELECT min(tlp) FROM sightings WHERE indicator_id = $1), tlp)
                 WHERE id = $1",
            )
            .bind(id)
            .execute(&mut **tx)
            .await?;
        }
        CurationChange::OverrideScore(score, mark) => {
            put(tx, id, SCORE, "", &score.to_string(), None, mark, false).await?;
            sqlx::query("UPDATE indicators SET score_override = $2, score = $2 WHERE id = $1")
                .bind(id)
                .bind(i16::from(*score))
                .execute(&mut **tx)
                .await?;
        }
        CurationChange::ClearScore => {
            forget(tx, id, SCORE, "").await?;
            sqlx::query(
                "UPDATE indicators SET score_override = NULL,
                   score = coalesce((SELECT max(confidence) FROM sightings WHERE indicator_id = $1), score)
                 WHERE id = $1",
            )
            .bind(id)
            .execute(&mut **tx)
            .await?;
        }
        CurationChange::Label {
            label,
            removed,
            mark,
        } => {
            let value = if *removed { "removed" } else { "added" };
            put(tx, id, LABEL, label, value, None, mark, false).await?;
        }
        CurationChange::ForgetLabel(label) => forget(tx, id, LABEL, label).await?,
    }
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {INDICATOR_COLUMNS} FROM indicators WHERE id = $1"
    )))
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    let record = indicator_from_row(&row)?;
    Ok(Some(record))
}

fn note_row(r: &PgRow) -> Result<(NoteTarget, Note)> {
    note(
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
        r.try_get(5)?,
    )
}

pub(super) async fn add_note(
    pool: &PgPool,
    target: NoteTarget,
    author: &str,
    text: &str,
) -> Result<Note> {
    check_text("text", text)?;
    check_text("author", author)?;
    let (indicator, item) = target_ids(target);
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO notes (indicator_id, item_id, author, text, created_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING {NOTE_COLUMNS}"
    )))
    .bind(indicator)
    .bind(item)
    .bind(author)
    .bind(text)
    .bind(unix_micros(now()))
    .fetch_one(pool)
    .await?;
    Ok(note_row(&row)?.1)
}

pub(super) async fn notes(pool: &PgPool, target: NoteTarget, limit: u32) -> Result<Vec<Note>> {
    let (column, id) = match target {
        NoteTarget::Indicator(i) => ("indicator_id", i.get()),
        NoteTarget::Item(i) => ("item_id", i.get()),
    };
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {NOTE_COLUMNS} FROM notes WHERE {column} = $1 ORDER BY id DESC LIMIT $2"
    )))
    .bind(id)
    .bind(i64::from(crate::types::page_size(limit)))
    .fetch_all(pool)
    .await?;
    rows.iter().map(|r| note_row(r).map(|(_, n)| n)).collect()
}

pub(super) async fn one_note(pool: &PgPool, id: i64) -> Result<Option<(NoteTarget, Note)>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {NOTE_COLUMNS} FROM notes WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(note_row)
    .transpose()
}

pub(super) async fn delete_note(pool: &PgPool, id: i64) -> Result<bool> {
    let done = sqlx::query("DELETE FROM notes WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

fn local_row(r: &PgRow) -> Result<LocalSighting> {
    Ok(local(
        r.try_get(0)?,
        i64::from(r.try_get::<i32, _>(1)?),
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
        r.try_get(5)?,
    ))
}

pub(super) async fn add_local_sighting(
    pool: &PgPool,
    indicator: IndicatorId,
    s: &NewLocalSighting,
) -> Result<LocalSighting> {
    check_local(s)?;
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO local_sightings (indicator_id, count, place, seen_at, author, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {LOCAL_COLUMNS}"
    )))
    .bind(indicator.get())
    .bind(i32::try_from(s.count).unwrap_or(i32::MAX))
    .bind(&s.place)
    .bind(unix_micros(s.seen_at))
    .bind(&s.author)
    .bind(unix_micros(now()))
    .fetch_one(pool)
    .await?;
    local_row(&row)
}

pub(super) async fn local_sightings(
    pool: &PgPool,
    indicator: IndicatorId,
    recent: u32,
) -> Result<LocalSightings> {
    let (count, reports, last): (i64, i64, Option<i64>) = sqlx::query_as(
        "SELECT coalesce(sum(count), 0)::int8, count(*), max(seen_at) FROM local_sightings
         WHERE indicator_id = $1",
    )
    .bind(indicator.get())
    .fetch_one(pool)
    .await?;
    if reports == 0 {
        return Ok(LocalSightings::default());
    }
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {LOCAL_COLUMNS} FROM local_sightings WHERE indicator_id = $1
         ORDER BY seen_at DESC, id DESC LIMIT $2"
    )))
    .bind(indicator.get())
    .bind(i64::from(crate::types::page_size(recent)))
    .fetch_all(pool)
    .await?;
    Ok(LocalSightings {
        count: u64::try_from(count).unwrap_or(0),
        reports: u64::try_from(reports).unwrap_or(0),
        last_seen: last.map(rexist_core::model::from_unix_micros),
        recent: rows.iter().map(local_row).collect::<Result<Vec<_>>>()?,
    })
}

pub(super) async fn attribute_sightings(
    pool: &PgPool,
    source: SourceId,
    item: Option<ItemId>,
    indicators: &[(IndicatorType, String)],
    author: &str,
) -> Result<u64> {
    check_text("author", author)?;
    let kinds: Vec<&str> = indicators.iter().map(|(k, _)| k.as_str()).collect();
    let values: Vec<&str> = indicators.iter().map(|(_, v)| v.as_str()).collect();
    let done = sqlx::query(
        "UPDATE sightings s SET author = $4
         FROM indicators i, unnest($1::TEXT[], $2::TEXT[]) AS k(kind, value)
         WHERE i.value = k.value AND i.kind = k.kind AND s.indicator_id = i.id
           AND s.source_id = $3 AND s.item_id = $5 AND s.author IS NULL",
    )
    .bind(kinds)
    .bind(values)
    .bind(source.get())
    .bind(author)
    .bind(item.map_or(0, ItemId::get))
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
