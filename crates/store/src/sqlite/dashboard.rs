//! The dashboard's numbers on SQLite.

use rexist_core::model::{from_unix_micros, unix_micros};
use rexist_core::{IndicatorId, IndicatorRecord, SourceId, Tlp};
use rusqlite::{Connection, params};

use super::rows::{INDICATOR_COLUMNS, indicator_from_row};
use crate::activity::{DAY_MICROS, day_count, fold_runs};
use crate::{Activity, DayCount, EarlyCve, EarlyCveQuery, MAX_EARLY_CVES, Result};

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

/// A source id list as a JSON array, for `json_each`: one cached statement
/// whatever the number of sources.
fn id_list(ids: &[SourceId]) -> String {
    serde_json::to_string(&ids.iter().map(|i| i.get()).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".to_owned())
}

pub(super) fn early_cves(conn: &Connection, q: &EarlyCveQuery) -> Result<Vec<EarlyCve>> {
    // CVEs added since `since` (the added index), that a discussion source
    // sighted; then per CVE and source the first report, from the
    // sightings key (indicator first) and the item's publication time.
    let sql = format!(
        "WITH disc AS (SELECT value AS id FROM json_each(?3)),
              auth AS (SELECT value AS id FROM json_each(?4)),
         cand AS (
            SELECT c.id, c.value FROM indicators c
            WHERE c.added >= ?1 AND c.kind = 'cve' AND c.tlp <= ?2
              AND EXISTS (SELECT 1 FROM sightings d WHERE d.indicator_id = c.id
                          AND d.tlp <= ?2 AND d.source_id IN (SELECT id FROM disc))),
         rep AS (
            SELECT s.indicator_id AS ind, s.source_id AS src,
                   MIN(CASE WHEN i.published_at IS NOT NULL AND i.tlp <= ?2
                                 AND i.published_at < s.first_seen
                            THEN i.published_at ELSE s.first_seen END) AS t
            FROM cand JOIN sightings s ON s.indicator_id = cand.id
            LEFT JOIN items i ON i.id = s.item_id
            WHERE s.tlp <= ?2
              AND (s.source_id IN (SELECT id FROM disc) OR s.source_id IN (SELECT id FROM auth))
            GROUP BY s.indicator_id, s.source_id),
         firsts AS (
            SELECT ind, src, t, ROW_NUMBER() OVER (PARTITION BY ind ORDER BY t, src) AS n
            FROM rep WHERE src IN (SELECT id FROM disc)),
         auths AS (
            SELECT ind, src, t, ROW_NUMBER() OVER (PARTITION BY ind ORDER BY t, src) AS n
            FROM rep WHERE src IN (SELECT id FROM auth))
         SELECT c.id, c.value, f.src, f.t, a.src, a.t
         FROM cand c
         JOIN firsts f ON f.ind = c.id AND f.n = 1
         LEFT JOIN auths a ON a.ind = c.id AND a.n = 1
         WHERE f.t < a.t OR (a.t IS NULL AND ?5 AND c.value >= ?6)
         ORDER BY COALESCE(a.t, ?7) - f.t DESC, c.id
         LIMIT {}",
        super::sql_limit(q.limit.min(MAX_EARLY_CVES))
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(
            params![
                unix_micros(q.since),
                q.max_tlp.rank(),
                id_list(&q.discussion),
                id_list(&q.authority),
                !q.authority.is_empty(),
                format!("CVE-{:04}-", q.pending_from_year.max(0)),
                unix_micros(q.now),
            ],
            |r| {
                Ok(EarlyCve {
                    indicator: IndicatorId::new(r.get(0)?),
                    value: r.get(1)?,
                    first_source: SourceId::new(r.get(2)?),
                    first_at: from_unix_micros(r.get(3)?),
                    authority_source: r.get::<_, Option<i64>>(4)?.map(SourceId::new),
                    authority_at: r.get::<_, Option<i64>>(5)?.map(from_unix_micros),
                })
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}
