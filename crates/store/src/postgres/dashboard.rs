//! The dashboard's numbers on PostgreSQL.

use rexist_core::model::{from_unix_micros, unix_micros};
use rexist_core::{IndicatorId, IndicatorRecord, SourceId, Tlp};
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgPool;

use super::rows::indicator_from_row;
use crate::activity::{DAY_MICROS, day_count, fold_runs};
use crate::decode::INDICATOR_COLUMNS;
use crate::{Activity, DayCount, EarlyCve, EarlyCveQuery, MAX_EARLY_CVES, Result};

async fn per_day(pool: &PgPool, sql: &str, since: i64, max_tlp: Tlp) -> Result<Vec<DayCount>> {
    let rows: Vec<(i64, String, i64)> = sqlx::query_as(AssertSqlSafe(sql))
        .bind(since)
        .bind(max_tlp.rank())
        .bind(DAY_MICROS)
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(day_count).collect()
}

pub(super) async fn activity(
    pool: &PgPool,
    since: time::OffsetDateTime,
    max_tlp: Tlp,
) -> Result<Activity> {
    let since = unix_micros(since).max(0);
    let items = per_day(
        pool,
        "SELECT created_at / $3 AS d, kind, count(*) FROM items
         WHERE created_at >= $1 AND tlp <= $2 GROUP BY d, kind ORDER BY d, kind",
        since,
        max_tlp,
    )
    .await?;
    let indicators = per_day(
        pool,
        "SELECT added / $3 AS d, kind, count(*) FROM indicators
         WHERE added >= $1 AND tlp <= $2 GROUP BY d, kind ORDER BY d, kind",
        since,
        max_tlp,
    )
    .await?;
    let runs: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT s.name, r.started_at, r.counts FROM runs r JOIN sources s ON s.id = r.source_id
         WHERE r.started_at >= $1",
    )
    .bind(since)
    .fetch_all(pool)
    .await?;
    Ok(Activity {
        items,
        indicators,
        sources: fold_runs(runs)?,
    })
}

pub(super) async fn top_indicators(
    pool: &PgPool,
    limit: u32,
    max_tlp: Tlp,
) -> Result<Vec<IndicatorRecord>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {INDICATOR_COLUMNS} FROM indicators
         WHERE tlp <= $1 ORDER BY sightings DESC, id LIMIT $2"
    )))
    .bind(max_tlp.rank())
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?
    .iter()
    .map(indicator_from_row)
    .collect()
}

/// A row of [`early_cves`]: the CVE's id and value, the first discussion
/// source and time, the first authority source and time if any.
type EarlyRow = (i64, String, i64, i64, Option<i64>, Option<i64>);

pub(super) async fn early_cves(pool: &PgPool, q: &EarlyCveQuery) -> Result<Vec<EarlyCve>> {
    // CVEs added since `since` (the added index), that a discussion source
    // sighted; then per CVE and source the first report, from the
    // sightings key (indicator first) and the item's publication time.
    let ids = |ids: &[SourceId]| ids.iter().map(|i| i.get()).collect::<Vec<i64>>();
    let rows: Vec<EarlyRow> = sqlx::query_as(
        "WITH cand AS (
            SELECT c.id, c.value FROM indicators c
            WHERE c.added >= $1 AND c.kind = 'cve' AND c.tlp <= $2
              AND EXISTS (SELECT 1 FROM sightings d WHERE d.indicator_id = c.id
                          AND d.tlp <= $2 AND d.source_id = ANY($3))),
         rep AS (
            SELECT s.indicator_id AS ind, s.source_id AS src,
                   MIN(CASE WHEN i.published_at IS NOT NULL AND i.tlp <= $2
                                 AND i.published_at < s.first_seen
                            THEN i.published_at ELSE s.first_seen END) AS t
            FROM cand JOIN sightings s ON s.indicator_id = cand.id
            LEFT JOIN items i ON i.id = s.item_id
            WHERE s.tlp <= $2 AND (s.source_id = ANY($3) OR s.source_id = ANY($4))
            GROUP BY s.indicator_id, s.source_id),
         firsts AS (
            SELECT ind, src, t, ROW_NUMBER() OVER (PARTITION BY ind ORDER BY t, src) AS n
            FROM rep WHERE src = ANY($3)),
         auths AS (
            SELECT ind, src, t, ROW_NUMBER() OVER (PARTITION BY ind ORDER BY t, src) AS n
            FROM rep WHERE src = ANY($4))
         SELECT c.id, c.value, f.src, f.t, a.src, a.t
         FROM cand c
         JOIN firsts f ON f.ind = c.id AND f.n = 1
         LEFT JOIN auths a ON a.ind = c.id AND a.n = 1
         WHERE f.t < a.t OR (a.t IS NULL AND $5 AND c.value >= $6)
         ORDER BY COALESCE(a.t, $7) - f.t DESC, c.id
         LIMIT $8",
    )
    .bind(unix_micros(q.since))
    .bind(q.max_tlp.rank())
    .bind(ids(&q.discussion))
    .bind(ids(&q.authority))
    .bind(!q.authority.is_empty())
    .bind(format!("CVE-{:04}-", q.pending_from_year.max(0)))
    .bind(unix_micros(q.now))
    .bind(i64::from(q.limit.min(MAX_EARLY_CVES)))
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, value, first, first_at, auth, auth_at)| EarlyCve {
            indicator: IndicatorId::new(id),
            value,
            first_source: SourceId::new(first),
            first_at: from_unix_micros(first_at),
            authority_source: auth.map(SourceId::new),
            authority_at: auth_at.map(from_unix_micros),
        })
        .collect())
}
