//! Retractions on PostgreSQL: retiring sightings and the indicators left
//! with none listed.
//!
//! Every function locks the indicator rows it may change first, in
//! `(value, kind)` order, before touching their sightings: the order the
//! sighting upsert locks them in, so a retirement and a concurrent ingest of
//! the same indicators wait for each other instead of deadlocking.

use sqlx::AssertSqlSafe;
use std::collections::BTreeMap;

use rexist_core::model::unix_micros;
use rexist_core::{Indicator, ItemId, RetractReason, Retraction, Source, SourceId};
use sqlx::postgres::PgPool;
use sqlx::{Postgres, Transaction};

use crate::Result;
use crate::retire::{ordered, status_reason};

/// Locks these indicator rows, in the upsert's lock order.
async fn lock_indicators(tx: &mut Transaction<'_, Postgres>, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT id FROM indicators WHERE id = ANY($1) ORDER BY value, kind FOR UPDATE")
        .bind(ids)
        .fetch_all(&mut **tx)
        .await?;
    Ok(())
}

/// Makes each indicator (id → reason) that has no listed, unretired
/// sighting left `retired`, unless it is allow-listed or retired already.
/// Its `added` time moves to the statement's clock, as a new indicator's
/// does, so TAXII readers paging by it (with their visibility lag) see it.
async fn settle(
    tx: &mut Transaction<'_, Postgres>,
    indicators: BTreeMap<i64, String>,
) -> Result<()> {
    if indicators.is_empty() {
        return Ok(());
    }
    let (ids, reasons): (Vec<i64>, Vec<String>) = indicators.into_iter().unzip();
    sqlx::query(
        "UPDATE indicators SET status = 'retired', status_reason = d.reason,
           added = GREATEST(indicators.added, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)
         FROM unnest($1::int8[], $2::text[]) AS d(id, reason)
         WHERE indicators.id = d.id AND indicators.status IN ('active', 'expired')
           AND NOT EXISTS (SELECT 1 FROM sightings s
                           WHERE s.indicator_id = d.id AND s.listed AND s.retired_at IS NULL)",
    )
    .bind(&ids)
    .bind(&reasons)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn retire_sightings(
    pool: &PgPool,
    source: &Source,
    retractions: &[Retraction],
) -> Result<u64> {
    let order = ordered(retractions);
    let kinds: Vec<&str> = order.iter().map(|r| r.indicator.kind().as_str()).collect();
    let values: Vec<&str> = order.iter().map(|r| r.indicator.value()).collect();
    let mut tx = pool.begin().await?;
    // Known indicators, locked in (value, kind) order; unknown ones drop out.
    let found: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT i.id, u.ord FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(k, v, ord)
         JOIN indicators i ON i.value = u.v AND i.kind = u.k
         ORDER BY i.value, i.kind FOR UPDATE OF i",
    )
    .bind(&kinds)
    .bind(&values)
    .fetch_all(&mut *tx)
    .await?;
    let mut ids = Vec::with_capacity(found.len());
    let mut ats = Vec::with_capacity(found.len());
    let mut reasons = Vec::with_capacity(found.len());
    let mut why: BTreeMap<i64, RetractReason> = BTreeMap::new();
    for (id, ord) in found {
        let Some(r) = usize::try_from(ord - 1).ok().and_then(|i| order.get(i)) else {
            continue;
        };
        ids.push(id);
        ats.push(unix_micros(r.at));
        reasons.push(r.reason.as_str());
        why.insert(id, r.reason);
    }
    let retired: Vec<i64> = sqlx::query_scalar(
        "UPDATE sightings s SET listed = FALSE, retired_at = d.at, retired_reason = d.reason
         FROM unnest($2::int8[], $3::int8[], $4::text[]) AS d(id, at, reason)
         WHERE s.indicator_id = d.id AND s.source_id = $1 AND s.retired_at IS NULL
         RETURNING s.indicator_id",
    )
    .bind(source.id.get())
    .bind(&ids)
    .bind(&ats)
    .bind(&reasons)
    .fetch_all(&mut *tx)
    .await?;
    let touched: BTreeMap<i64, String> = retired
        .iter()
        .filter_map(|id| why.get(id).map(|r| (*id, status_reason(*r, &source.name))))
        .collect();
    settle(&mut tx, touched).await?;
    tx.commit().await?;
    Ok(retired.len() as u64)
}

/// The unretired sightings `s` of source `$2` stated in item `$1` whose
/// indicator is not one of `$3`: those of indicators the item's text
/// mentions are (also) extracted ones, which a new version's list does not
/// withdraw.
const STATED_DROPPED: &str = "s.item_id = $1 AND s.source_id = $2 AND s.retired_at IS NULL
    AND s.indicator_id <> ALL($3)
    AND NOT EXISTS (SELECT 1 FROM mentions m
                    WHERE m.item_id = $1 AND m.indicator_id = s.indicator_id)";

pub(super) async fn retire_item_sightings(
    pool: &PgPool,
    source: &Source,
    item: ItemId,
    keep: &[Indicator],
    reason: RetractReason,
    at: time::OffsetDateTime,
) -> Result<u64> {
    let kinds: Vec<&str> = keep.iter().map(|k| k.kind().as_str()).collect();
    let values: Vec<&str> = keep.iter().map(Indicator::value).collect();
    let mut tx = pool.begin().await?;
    let keep: Vec<i64> = sqlx::query_scalar(
        "SELECT i.id FROM unnest($1::text[], $2::text[]) AS u(k, v)
         JOIN indicators i ON i.value = u.v AND i.kind = u.k",
    )
    .bind(&kinds)
    .bind(&values)
    .fetch_all(&mut *tx)
    .await?;
    // Candidates first, then checked again once their indicators are locked.
    let candidates: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT s.indicator_id FROM sightings s WHERE {STATED_DROPPED}"
    )))
    .bind(item.get())
    .bind(source.id.get())
    .bind(&keep)
    .fetch_all(&mut *tx)
    .await?;
    if candidates.is_empty() {
        return Ok(0);
    }
    lock_indicators(&mut tx, &candidates).await?;
    let retired: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
        "UPDATE sightings s SET listed = FALSE, retired_at = $5, retired_reason = $6
         WHERE {STATED_DROPPED} AND s.indicator_id = ANY($4)
         RETURNING s.indicator_id"
    )))
    .bind(item.get())
    .bind(source.id.get())
    .bind(&keep)
    .bind(&candidates)
    .bind(unix_micros(at))
    .bind(reason.as_str())
    .fetch_all(&mut *tx)
    .await?;
    let why = status_reason(reason, &source.name);
    let touched: BTreeMap<i64, String> = retired.iter().map(|id| (*id, why.clone())).collect();
    settle(&mut tx, touched).await?;
    tx.commit().await?;
    Ok(retired.len() as u64)
}

pub(super) async fn mark_unlisted(
    pool: &PgPool,
    source: SourceId,
    before: time::OffsetDateTime,
) -> Result<u64> {
    let mut tx = pool.begin().await?;
    let name: Option<String> = sqlx::query_scalar("SELECT name FROM sources WHERE id = $1")
        .bind(source.get())
        .fetch_optional(&mut *tx)
        .await?;
    let Some(name) = name else {
        return Ok(0);
    };
    let before = unix_micros(before);
    let candidates: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT indicator_id FROM sightings
         WHERE source_id = $1 AND item_id = 0 AND listed AND retired_at IS NULL AND last_seen < $2",
    )
    .bind(source.get())
    .bind(before)
    .fetch_all(&mut *tx)
    .await?;
    lock_indicators(&mut tx, &candidates).await?;
    let ids: Vec<i64> = sqlx::query_scalar(
        "UPDATE sightings SET listed = FALSE, retired_at = $2, retired_reason = $3
         WHERE source_id = $1 AND item_id = 0 AND listed AND retired_at IS NULL AND last_seen < $2
           AND indicator_id = ANY($4)
         RETURNING indicator_id",
    )
    .bind(source.get())
    .bind(before)
    .bind(RetractReason::Delisted.as_str())
    .bind(&candidates)
    .fetch_all(&mut *tx)
    .await?;
    let reason = status_reason(RetractReason::Delisted, &name);
    let touched: BTreeMap<i64, String> = ids.iter().map(|id| (*id, reason.clone())).collect();
    settle(&mut tx, touched).await?;
    tx.commit().await?;
    Ok(ids.len() as u64)
}

pub(super) async fn retire_expired(pool: &PgPool, at: time::OffsetDateTime) -> Result<u64> {
    let at = unix_micros(at);
    let mut tx = pool.begin().await?;
    let candidates: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT indicator_id FROM sightings WHERE expires_at <= $1 AND retired_at IS NULL",
    )
    .bind(at)
    .fetch_all(&mut *tx)
    .await?;
    if candidates.is_empty() {
        return Ok(0);
    }
    lock_indicators(&mut tx, &candidates).await?;
    let pairs: Vec<(i64, String)> = sqlx::query_as(
        "WITH done AS (
           UPDATE sightings SET listed = FALSE, retired_at = expires_at, retired_reason = $2
           WHERE expires_at <= $1 AND retired_at IS NULL AND indicator_id = ANY($3)
           RETURNING indicator_id, source_id)
         SELECT done.indicator_id, COALESCE(src.name, 'an unknown source')
         FROM done LEFT JOIN sources src ON src.id = done.source_id",
    )
    .bind(at)
    .bind(RetractReason::Expired.as_str())
    .bind(&candidates)
    .fetch_all(&mut *tx)
    .await?;
    // An indicator whose sightings of several sources expired together
    // names the first of them by name.
    let mut first: BTreeMap<i64, &str> = BTreeMap::new();
    for (indicator, name) in &pairs {
        first
            .entry(*indicator)
            .and_modify(|n| *n = (*n).min(name.as_str()))
            .or_insert(name.as_str());
    }
    let touched: BTreeMap<i64, String> = first
        .into_iter()
        .map(|(id, name)| (id, status_reason(RetractReason::Expired, name)))
        .collect();
    settle(&mut tx, touched).await?;
    tx.commit().await?;
    Ok(pairs.len() as u64)
}
