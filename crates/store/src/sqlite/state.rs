//! Retro-hunt progress, TAXII status resources and cached enrichment
//! answers on SQLite.

use std::time::Duration;

use rexist_core::model::{now, unix_micros};
use rexist_core::{HuntId, IndicatorType, JobId};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::decode::micros;
use crate::state::{
    CachedEnrichment, ENRICHMENT_COLUMNS, EnrichmentRow, RETRO_COLUMNS, RetroHunt, RetroRow,
    TAXII_STATUS_COLUMNS, TaxiiStatus, TaxiiStatusRow, check_answer, check_status,
    retro_interrupted_reason, stored_count, strip_nul,
};
use crate::{NewJob, Result};

fn conv<T>(r: crate::Result<T>) -> rusqlite::Result<T> {
    r.map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn retro_from_row(r: &Row<'_>) -> rusqlite::Result<RetroHunt> {
    conv(
        RetroRow {
            hunt: r.get(0)?,
            status: r.get(1)?,
            scanned: r.get(2)?,
            hits: r.get(3)?,
            announced: r.get(4)?,
            queued_at: r.get(5)?,
            started_at: r.get(6)?,
            finished_at: r.get(7)?,
            error: r.get(8)?,
        }
        .decode(),
    )
}

pub(super) fn queue_retro_hunt(
    conn: &mut Connection,
    hunt: HuntId,
    job: &NewJob,
) -> Result<Option<JobId>> {
    let stamp = unix_micros(now());
    let tx = conn.transaction()?;
    let exists: Option<i64> = tx
        .query_row(
            "SELECT id FROM hunts WHERE id = ?1",
            params![hunt.get()],
            |r| r.get(0),
        )
        .optional()?;
    if exists.is_none() {
        return Ok(None);
    }
    let Some(id) = super::enqueue(&tx, job, stamp)? else {
        return Ok(None);
    };
    tx.execute(
        "INSERT INTO retro_hunts (hunt_id, status, queued_at) VALUES (?1, 'queued', ?2)
         ON CONFLICT (hunt_id) DO UPDATE SET status = 'queued', scanned = 0, hits = 0,
           announced = 0, queued_at = ?2, started_at = NULL, finished_at = NULL,
           heartbeat_at = NULL, error = NULL",
        params![hunt.get(), stamp],
    )?;
    tx.commit()?;
    Ok(Some(id))
}

pub(super) fn save_retro_hunt(conn: &Connection, r: &RetroHunt) -> Result<()> {
    // The guard keeps a worker that outlived its hunt from writing an orphan row.
    conn.execute(
        "INSERT INTO retro_hunts (hunt_id, status, scanned, hits, announced, queued_at,
           started_at, finished_at, heartbeat_at, error)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 WHERE EXISTS (SELECT 1 FROM hunts WHERE id = ?1)
         ON CONFLICT (hunt_id) DO UPDATE SET status = excluded.status, scanned = excluded.scanned,
           hits = excluded.hits, announced = excluded.announced, queued_at = excluded.queued_at,
           started_at = excluded.started_at, finished_at = excluded.finished_at,
           heartbeat_at = excluded.heartbeat_at, error = excluded.error",
        params![
            r.hunt.get(),
            r.status.as_str(),
            stored_count(r.scanned),
            stored_count(r.hits),
            stored_count(r.announced),
            unix_micros(r.queued_at),
            r.started_at.map(unix_micros),
            r.finished_at.map(unix_micros),
            unix_micros(now()),
            r.error.as_deref().map(strip_nul),
        ],
    )?;
    Ok(())
}

pub(super) fn retro_hunts(conn: &Connection, hunt: Option<HuntId>) -> Result<Vec<RetroHunt>> {
    let sql = format!(
        "SELECT {RETRO_COLUMNS} FROM retro_hunts WHERE (?1 IS NULL OR hunt_id = ?1) ORDER BY hunt_id"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params![hunt.map(HuntId::get)], retro_from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn interrupt_stale_retro_hunts(
    conn: &Connection,
    stale_after: Duration,
) -> Result<Vec<RetroHunt>> {
    let stamp = unix_micros(now());
    let sql = format!(
        "UPDATE retro_hunts SET status = 'interrupted', finished_at = ?1, error = ?3
         WHERE status = 'running' AND coalesce(heartbeat_at, queued_at) < ?2
         RETURNING {RETRO_COLUMNS}"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(
        params![
            stamp,
            stamp - micros(stale_after),
            retro_interrupted_reason(stale_after)
        ],
        retro_from_row,
    )?;
    let mut out = rows.collect::<Result<Vec<_>, _>>()?;
    out.sort_by_key(|r| r.hunt);
    Ok(out)
}

fn details(v: &serde_json::Value) -> String {
    v.to_string()
}

pub(super) fn save_taxii_status(
    conn: &mut Connection,
    s: &TaxiiStatus,
    keep: Duration,
) -> Result<()> {
    check_status(s)?;
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO taxii_statuses (id, api_root, status, request_timestamp, total_count,
           success_count, failure_count, pending_count, successes, failures, pendings)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (id) DO UPDATE SET api_root = excluded.api_root, status = excluded.status,
           request_timestamp = excluded.request_timestamp, total_count = excluded.total_count,
           success_count = excluded.success_count, failure_count = excluded.failure_count,
           pending_count = excluded.pending_count, successes = excluded.successes,
           failures = excluded.failures, pendings = excluded.pendings",
        params![
            s.id,
            s.api_root,
            s.status,
            unix_micros(s.request_timestamp),
            stored_count(s.total_count),
            stored_count(s.success_count),
            stored_count(s.failure_count),
            stored_count(s.pending_count),
            details(&s.successes),
            details(&s.failures),
            details(&s.pendings),
        ],
    )?;
    tx.execute(
        "DELETE FROM taxii_statuses WHERE request_timestamp < ?1",
        params![unix_micros(now()) - micros(keep)],
    )?;
    tx.commit()?;
    Ok(())
}

pub(super) fn taxii_status(
    conn: &Connection,
    api_root: &str,
    id: &str,
) -> Result<Option<TaxiiStatus>> {
    let sql = format!(
        "SELECT {TAXII_STATUS_COLUMNS} FROM taxii_statuses WHERE id = ?1 AND api_root = ?2"
    );
    let row = conn
        .query_row(&sql, params![id, api_root], |r| {
            Ok(TaxiiStatusRow {
                id: r.get(0)?,
                api_root: r.get(1)?,
                status: r.get(2)?,
                request_timestamp: r.get(3)?,
                total_count: r.get(4)?,
                success_count: r.get(5)?,
                failure_count: r.get(6)?,
                pending_count: r.get(7)?,
                successes: r.get(8)?,
                failures: r.get(9)?,
                pendings: r.get(10)?,
            })
        })
        .optional()?;
    row.map(TaxiiStatusRow::decode).transpose()
}

pub(super) fn cached_enrichment(
    conn: &Connection,
    provider: &str,
    kind: IndicatorType,
    value: &str,
    at: time::OffsetDateTime,
) -> Result<Option<CachedEnrichment>> {
    let sql = format!(
        "SELECT {ENRICHMENT_COLUMNS} FROM enrichments
         WHERE provider = ?1 AND kind = ?2 AND value = ?3 AND expires_at > ?4"
    );
    let row = conn
        .query_row(
            &sql,
            params![provider, kind.as_str(), value, unix_micros(at)],
            |r| {
                Ok(EnrichmentRow {
                    provider: r.get(0)?,
                    kind: r.get(1)?,
                    value: r.get(2)?,
                    answer: r.get(3)?,
                    fetched_at: r.get(4)?,
                    expires_at: r.get(5)?,
                })
            },
        )
        .optional()?;
    row.map(EnrichmentRow::decode).transpose()
}

pub(super) fn cache_enrichment(conn: &Connection, e: &CachedEnrichment) -> Result<()> {
    check_answer(e)?;
    conn.execute(
        "INSERT INTO enrichments (provider, kind, value, answer, fetched_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (provider, kind, value) DO UPDATE SET answer = excluded.answer,
           fetched_at = excluded.fetched_at, expires_at = excluded.expires_at",
        params![
            e.provider,
            e.kind.as_str(),
            e.value,
            e.answer,
            unix_micros(e.fetched_at),
            unix_micros(e.expires_at),
        ],
    )?;
    Ok(())
}

pub(super) fn prune_enrichments(conn: &Connection, at: time::OffsetDateTime) -> Result<u64> {
    let n = conn.execute(
        "DELETE FROM enrichments WHERE expires_at <= ?1",
        params![unix_micros(at)],
    )?;
    Ok(n as u64)
}
