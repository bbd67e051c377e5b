//! Lookup reads and indicator lifecycle on PostgreSQL.

use sqlx::AssertSqlSafe;
use std::time::Duration;

use rexist_core::model::{now, unix_micros};
use rexist_core::{HitObject, HuntHit, IndicatorId, IndicatorRecord, IndicatorType, Item, ItemId};
use sqlx::Row;
use sqlx::postgres::PgPool;

use super::rows::{indicator_from_row, item_from_row};
use crate::decode::{HIT_COLUMNS, INDICATOR_COLUMNS, ITEM_COLUMNS, micros, qualified};
use crate::{CoOccurrence, Connected, ConnectedQuery, MentionRef, ReportTime, Result};

pub(super) async fn indicators_by_values(
    pool: &PgPool,
    keys: &[(IndicatorType, String)],
) -> Result<Vec<IndicatorRecord>> {
    let kinds: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
    let values: Vec<&str> = keys.iter().map(|(_, v)| v.as_str()).collect();
    let cols = qualified("i", INDICATOR_COLUMNS);
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {cols} FROM unnest($1::TEXT[], $2::TEXT[]) AS k(kind, value)
         JOIN indicators i ON i.value = k.value AND i.kind = k.kind"
    )))
    .bind(kinds)
    .bind(values)
    .fetch_all(pool)
    .await?
    .iter()
    .map(indicator_from_row)
    .collect()
}

pub(super) async fn connected(pool: &PgPool, q: &ConnectedQuery) -> Result<Vec<Connected>> {
    // One round trip: a lookup makes this read for every value, and six
    // sequential ones (values, ids, four prefix ranges, source names) more
    // than doubled a lookup's time. `under` ranges read the partial
    // reversed-host index: `rhost >= lo` implies its `rhost IS NOT NULL`.
    let cols = qualified("i", INDICATOR_COLUMNS);
    let found_cols = qualified("f", INDICATOR_COLUMNS);
    let (kinds, values): (Vec<&str>, Vec<&str>) = q
        .exact
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .unzip();
    let ids: Vec<i64> = q.ids.iter().map(|i| i.get()).collect();
    let prefix_kinds: Vec<&str> = q.prefixes.iter().map(|(k, _)| k.as_str()).collect();
    let lows: Vec<&str> = q.prefixes.iter().map(|(_, p)| p.as_str()).collect();
    let highs: Vec<String> = q
        .prefixes
        .iter()
        .map(|(_, p)| crate::types::prefix_end(p))
        .collect();
    let (under_kinds, under_lows): (Vec<&str>, Vec<String>) = q
        .under
        .iter()
        .filter_map(|(kind, domain)| {
            crate::types::reversed_host(IndicatorType::Domain, domain)
                .map(|key| (kind.as_str(), key))
        })
        .unzip();
    let under_highs: Vec<String> = under_lows
        .iter()
        .map(|k| crate::types::prefix_end(k))
        .collect();
    let rows = sqlx::query(AssertSqlSafe(format!(
        "WITH found AS (
             SELECT {cols} FROM unnest($1::TEXT[], $2::TEXT[]) AS k(kind, value)
             JOIN indicators i ON i.value = k.value AND i.kind = k.kind
             UNION
             SELECT {cols} FROM indicators i WHERE i.id = ANY($3)
             UNION
             SELECT {found_cols} FROM unnest($4::TEXT[], $5::TEXT[], $6::TEXT[]) AS r(kind, lo, hi)
             CROSS JOIN LATERAL (
                 SELECT {cols} FROM indicators i
                 WHERE i.value >= r.lo AND i.value < r.hi AND i.kind = r.kind AND i.tlp <= $7
                 ORDER BY i.value LIMIT $8) f
             UNION
             SELECT {found_cols} FROM unnest($9::TEXT[], $10::TEXT[], $11::TEXT[]) AS u(kind, lo, hi)
             CROSS JOIN LATERAL (
                 SELECT {cols} FROM (
                     SELECT {cols}, i.rhost FROM indicators i
                     WHERE i.kind = u.kind AND i.rhost >= u.lo AND i.rhost < u.hi AND i.tlp <= $7
                     ORDER BY i.rhost LIMIT $12) i
                 ORDER BY length(i.rhost) - length(replace(i.rhost, '.', '')), i.rhost
                 LIMIT $13) f
         )
         SELECT {found_cols},
                ARRAY(SELECT DISTINCT src.name FROM sightings s JOIN sources src ON src.id = s.source_id
                      WHERE s.indicator_id = f.id AND s.tlp <= $7 ORDER BY src.name) AS names
         FROM found f WHERE f.tlp <= $7"
    )))
    .bind(kinds)
    .bind(values)
    .bind(ids)
    .bind(prefix_kinds)
    .bind(lows)
    .bind(highs)
    .bind(q.max_tlp.rank())
    .bind(i64::from(q.per_prefix))
    .bind(under_kinds)
    .bind(under_lows)
    .bind(under_highs)
    .bind(i64::from(q.per_under) * i64::from(crate::types::UNDER_OVERFETCH))
    .bind(i64::from(q.per_under))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Connected {
                record: indicator_from_row(r)?,
                sources: r.try_get("names")?,
            })
        })
        .collect()
}

pub(super) async fn items_by_id(pool: &PgPool, ids: &[ItemId]) -> Result<Vec<Item>> {
    let raw: Vec<i64> = ids.iter().map(|i| i.get()).collect();
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {ITEM_COLUMNS} FROM items WHERE id = ANY($1) ORDER BY id"
    )))
    .bind(raw)
    .fetch_all(pool)
    .await?
    .iter()
    .map(item_from_row)
    .collect()
}

pub(super) async fn mentions_of(
    pool: &PgPool,
    indicator: IndicatorId,
    limit: u32,
) -> Result<Vec<MentionRef>> {
    let rows = sqlx::query(
        "SELECT item_id, start_offset, end_offset, defanged FROM mentions
         WHERE indicator_id = $1 ORDER BY item_id DESC, start_offset LIMIT $2",
    )
    .bind(indicator.get())
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MentionRef {
                item: ItemId::new(r.try_get(0)?),
                start: u32::try_from(r.try_get::<i32, _>(1)?).unwrap_or(0),
                end: u32::try_from(r.try_get::<i32, _>(2)?).unwrap_or(0),
                defanged: r.try_get(3)?,
            })
        })
        .collect()
}

pub(super) async fn co_occurring(
    pool: &PgPool,
    indicator: IndicatorId,
    limit: u32,
    max_tlp: rexist_core::Tlp,
) -> Result<Vec<CoOccurrence>> {
    let cols = qualified("i", INDICATOR_COLUMNS);
    let rows = sqlx::query(AssertSqlSafe(format!(
        // LATERAL with OFFSET 0 (which keeps it from being flattened into a
        // join) probes the partial item index once per item; with the stale
        // statistics of a fresh bulk load the planner otherwise hashes every
        // item sighting (8 ms at 1M rows instead of 0.1 ms).
        // Only items and indicators the reader may see count.
        "WITH mine AS (SELECT DISTINCT s.item_id FROM sightings s JOIN items it ON it.id = s.item_id
                       WHERE s.indicator_id = $1 AND s.item_id <> 0 AND it.tlp <= $3
                       ORDER BY s.item_id DESC LIMIT 500),
              shared AS (SELECT s.indicator_id, count(DISTINCT s.item_id) AS n
                         FROM mine CROSS JOIN LATERAL (
                           SELECT x.indicator_id, x.item_id FROM sightings x
                           WHERE x.item_id = mine.item_id AND x.item_id <> 0 OFFSET 0) s
                         WHERE s.indicator_id <> $1 GROUP BY s.indicator_id)
         SELECT {cols}, shared.n FROM shared JOIN indicators i ON i.id = shared.indicator_id
         WHERE i.tlp <= $3 ORDER BY shared.n DESC, i.id LIMIT $2"
    )))
    .bind(indicator.get())
    .bind(i64::from(limit))
    .bind(max_tlp.rank())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CoOccurrence {
                indicator: indicator_from_row(r)?,
                shared_items: u64::try_from(r.try_get::<i64, _>(10)?).unwrap_or(0),
            })
        })
        .collect()
}

pub(super) async fn hits_of(pool: &PgPool, object: HitObject) -> Result<Vec<HuntHit>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {HIT_COLUMNS} FROM hunt_hits WHERE object_kind = $1 AND object_id = $2 ORDER BY id DESC"
    )))
    .bind(object.kind())
    .bind(object.raw_id())
    .fetch_all(pool)
    .await?
    .iter()
    .map(super::hunts::hit_from_row)
    .collect()
}

pub(super) async fn expire_indicators(
    pool: &PgPool,
    lifetimes: &[(IndicatorType, Duration)],
) -> Result<u64> {
    let stamp = unix_micros(now());
    let mut tx = pool.begin().await?;
    let mut n = 0;
    for (kind, lifetime) in lifetimes {
        n += sqlx::query(
            "UPDATE indicators SET status = 'expired', status_reason = $3
             WHERE kind = $1 AND status = 'active' AND last_seen < $2",
        )
        .bind(kind.as_str())
        .bind(stamp - micros(*lifetime))
        .bind(format!(
            "not sighted for {} days",
            lifetime.as_secs() / 86_400
        ))
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    tx.commit().await?;
    Ok(n)
}

pub(super) async fn flag_indicators(
    pool: &PgPool,
    flags: &[(IndicatorType, String, String)],
) -> Result<u64> {
    let kinds: Vec<&str> = flags.iter().map(|(k, _, _)| k.as_str()).collect();
    let values: Vec<&str> = flags.iter().map(|(_, v, _)| v.as_str()).collect();
    let reasons: Vec<&str> = flags.iter().map(|(_, _, r)| r.as_str()).collect();
    let done = sqlx::query(
        "UPDATE indicators i SET status = 'allowlisted', status_reason = f.reason
         FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[]) AS f(kind, value, reason)
         WHERE i.value = f.value AND i.kind = f.kind
           AND (i.status <> 'allowlisted' OR i.status_reason IS DISTINCT FROM f.reason)",
    )
    .bind(kinds)
    .bind(values)
    .bind(reasons)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

pub(super) async fn report_times(
    pool: &PgPool,
    indicator: IndicatorId,
    max_tlp: rexist_core::Tlp,
) -> Result<Vec<ReportTime>> {
    // The sightings key leads with the indicator; each item by its id.
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT s.source_id,
                MIN(CASE WHEN i.published_at IS NOT NULL AND i.tlp <= $2
                              AND i.published_at < s.first_seen
                         THEN i.published_at ELSE s.first_seen END) AS t
         FROM sightings s LEFT JOIN items i ON i.id = s.item_id
         WHERE s.indicator_id = $1 AND s.tlp <= $2
         GROUP BY s.source_id
         ORDER BY t, s.source_id",
    )
    .bind(indicator.get())
    .bind(max_tlp.rank())
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(source, at)| ReportTime {
            source: rexist_core::SourceId::new(source),
            at: rexist_core::model::from_unix_micros(at),
        })
        .collect())
}
