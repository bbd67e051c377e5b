//! The dashboard's numbers on PostgreSQL.

use rexist_core::model::unix_micros;
use rexist_core::{IndicatorRecord, Tlp};
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgPool;

use super::rows::indicator_from_row;
use crate::activity::{DAY_MICROS, day_count, fold_runs};
use crate::decode::INDICATOR_COLUMNS;
use crate::{Activity, DayCount, Result};

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
