//! The dashboard's numbers on SQLite.

use rexist_core::model::unix_micros;
use rexist_core::{IndicatorRecord, Tlp};
use rusqlite::{Connection, params};

use super::rows::{INDICATOR_COLUMNS, indicator_from_row};
use crate::activity::{DAY_MICROS, day_count, fold_runs};
use crate::{Activity, DayCount, Result};

fn per_day(conn: &Connection, sql: &str, since: i64, max_tlp: Tlp) -> Result<Vec<DayCount>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt
        .query_map(params![since, max_tlp.rank(), DAY_MICROS], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(day_count).collect()
}

pub(super) fn activity(
    conn: &Connection,
    since: time::OffsetDateTime,
    max_tlp: Tlp,
) -> Result<Activity> {
    let since = unix_micros(since).max(0);
    let items = per_day(
        conn,
        "SELECT created_at / ?3 AS d, kind, count(*) FROM items
         WHERE created_at >= ?1 AND tlp <= ?2 GROUP BY d, kind ORDER BY d, kind",
        since,
        max_tlp,
    )?;
    let indicators = per_day(
        conn,
        "SELECT added / ?3 AS d, kind, count(*) FROM indicators
         WHERE added >= ?1 AND tlp <= ?2 GROUP BY d, kind ORDER BY d, kind",
        since,
        max_tlp,
    )?;
    let mut stmt = conn.prepare_cached(
        "SELECT s.name, r.started_at, r.counts FROM runs r JOIN sources s ON s.id = r.source_id
         WHERE r.started_at >= ?1",
    )?;
    let runs = stmt
        .query_map(params![since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Activity {
        items,
        indicators,
        sources: fold_runs(runs)?,
    })
}

pub(super) fn top_indicators(
    conn: &Connection,
    limit: u32,
    max_tlp: Tlp,
) -> Result<Vec<IndicatorRecord>> {
    let sql = format!(
        "SELECT {INDICATOR_COLUMNS} FROM indicators INDEXED BY indicators_by_sightings
         WHERE tlp <= ?1 ORDER BY sightings DESC, id LIMIT {}",
        super::sql_limit(limit)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params![max_tlp.rank()], indicator_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}
