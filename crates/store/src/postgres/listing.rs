//! Offset-paged, counted listings on PostgreSQL, every filter in the
//! statement (EXIST's legacy views page by offset and report a total).
//!
//! Optional filters are written `($n IS NULL OR …)` and list filters
//! `(cardinality($n) = 0 OR … = ANY($n))`, so each listing is one
//! statement text whatever filters a request sets.

use rexist_core::model::unix_micros;
use rexist_core::{IndicatorRecord, Sighting};
use sqlx::postgres::{PgArguments, PgPool};
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, Postgres, Row};

use super::rows::{indicator_from_row, sighting_from_row};
use crate::decode::{INDICATOR_COLUMNS, SIGHTING_COLUMNS, qualified};
use crate::types::{contains_terms, page_size};
use crate::{Counted, ItemSightingQuery, RecentQuery, Result};

type PgQuery = Query<'static, Postgres, PgArguments>;

const RECENT_FROM: &str = "FROM indicators i
     WHERE i.tlp <= $1 AND i.status <> 'false_positive'
       AND (cardinality($2::text[]) = 0 OR i.kind = ANY($2))
       AND ($3::text IS NULL OR i.value = $3)
       AND NOT EXISTS (SELECT 1 FROM unnest($4::text[]) AS t(term)
                       WHERE strpos(lower(i.value), t.term) = 0)
       AND (cardinality($5::int8[]) = 0
            OR EXISTS (SELECT 1 FROM sightings s WHERE s.indicator_id = i.id
                       AND s.source_id = ANY($5) AND s.tlp <= $1))";

fn bind_recent(query: PgQuery, q: &RecentQuery) -> PgQuery {
    let kinds: Vec<&str> = q.kinds.iter().map(|k| k.as_str()).collect();
    let sources: Vec<i64> = q.sources.iter().map(|s| s.get()).collect();
    query
        .bind(q.max_tlp.rank())
        .bind(kinds)
        .bind(q.value.clone())
        .bind(contains_terms(&q.contains))
        .bind(sources)
}

/// The total of a listing, read up to `up_to + 1` rows: the count and
/// whether it passed `up_to`.
async fn count(pool: &PgPool, query: PgQuery, up_to: u32) -> Result<(u64, bool)> {
    let n: i64 = query.fetch_one(pool).await?.try_get(0)?;
    let n = u64::try_from(n).unwrap_or(0);
    Ok((n.min(u64::from(up_to)), n > u64::from(up_to)))
}

pub(super) async fn recent_indicators(
    pool: &PgPool,
    q: &RecentQuery,
) -> Result<Counted<IndicatorRecord>> {
    let counted = bind_recent(
        sqlx::query(AssertSqlSafe(format!(
            "SELECT count(*) FROM (SELECT 1 {RECENT_FROM} LIMIT $6) c"
        ))),
        q,
    )
    .bind(i64::from(q.count_up_to) + 1);
    let (total, capped) = count(pool, counted, q.count_up_to).await?;
    let cols = qualified("i", INDICATOR_COLUMNS);
    let items = bind_recent(
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {cols} {RECENT_FROM} ORDER BY i.last_seen DESC, i.id DESC LIMIT $6 OFFSET $7"
        ))),
        q,
    )
    .bind(i64::from(page_size(q.limit)))
    .bind(i64::from(q.offset))
    .fetch_all(pool)
    .await?
    .iter()
    .map(indicator_from_row)
    .collect::<Result<Vec<_>>>()?;
    Ok(Counted {
        items,
        total,
        capped,
    })
}

const SIGHTINGS_FROM: &str = "FROM sightings s
     JOIN items it ON it.id = s.item_id
     JOIN indicators i ON i.id = s.indicator_id
     WHERE s.item_id <> 0 AND it.tlp <= $1 AND s.tlp <= $1 AND i.tlp <= $1
       AND i.status <> 'false_positive'
       AND ($2::text IS NULL OR it.kind = $2)
       AND (cardinality($3::int8[]) = 0 OR (it.source_id = ANY($3) AND s.source_id = ANY($3)))
       AND ($4::int8 IS NULL OR s.item_id = $4)
       AND ($5::int8 IS NULL OR s.id = $5)
       AND (cardinality($6::text[]) = 0 OR i.kind = ANY($6))
       AND ($7::text IS NULL OR i.value = $7)
       AND NOT EXISTS (SELECT 1 FROM unnest($8::text[]) AS t(term)
                       WHERE strpos(lower(i.value), t.term) = 0)
       AND ($9::int8 IS NULL OR s.last_seen >= $9)
       AND ($10::int8 IS NULL OR s.last_seen <= $10)";

fn bind_sightings(query: PgQuery, q: &ItemSightingQuery) -> PgQuery {
    let kinds: Vec<&str> = q.kinds.iter().map(|k| k.as_str()).collect();
    let sources: Vec<i64> = q.sources.iter().map(|s| s.get()).collect();
    query
        .bind(q.max_tlp.rank())
        .bind(q.item_kind.map(rexist_core::ItemKind::as_str))
        .bind(sources)
        .bind(q.item.map(rexist_core::ItemId::get))
        .bind(q.sighting.map(rexist_core::SightingId::get))
        .bind(kinds)
        .bind(q.value.clone())
        .bind(contains_terms(&q.contains))
        .bind(q.seen_after.map(unix_micros))
        .bind(q.seen_before.map(unix_micros))
}

pub(super) async fn item_sightings(
    pool: &PgPool,
    q: &ItemSightingQuery,
) -> Result<Counted<(Sighting, IndicatorRecord)>> {
    let counted = bind_sightings(
        sqlx::query(AssertSqlSafe(format!(
            "SELECT count(*) FROM (SELECT 1 {SIGHTINGS_FROM} LIMIT $11) c"
        ))),
        q,
    )
    .bind(i64::from(q.count_up_to) + 1);
    let (total, capped) = count(pool, counted, q.count_up_to).await?;
    let cols = qualified("s", SIGHTING_COLUMNS);
    let sightings = bind_sightings(
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {cols} {SIGHTINGS_FROM} ORDER BY s.last_seen DESC, s.id DESC LIMIT $11 OFFSET $12"
        ))),
        q,
    )
    .bind(i64::from(page_size(q.limit)))
    .bind(i64::from(q.offset))
    .fetch_all(pool)
    .await?
    .iter()
    .map(sighting_from_row)
    .collect::<Result<Vec<_>>>()?;
    let ids: Vec<i64> = sightings.iter().map(|s| s.indicator_id.get()).collect();
    let records: std::collections::HashMap<i64, IndicatorRecord> = sqlx::query(AssertSqlSafe(
        format!("SELECT {INDICATOR_COLUMNS} FROM indicators WHERE id = ANY($1)"),
    ))
    .bind(ids)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| indicator_from_row(r).map(|rec| (rec.id.get(), rec)))
    .collect::<Result<_>>()?;
    let items = sightings
        .into_iter()
        .filter_map(|s| {
            let rec = records.get(&s.indicator_id.get())?.clone();
            Some((s, rec))
        })
        .collect();
    Ok(Counted {
        items,
        total,
        capped,
    })
}
