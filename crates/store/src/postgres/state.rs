//! Retro-hunt progress, TAXII status resources and cached enrichment
//! answers on PostgreSQL.

use sqlx::AssertSqlSafe;
use std::time::Duration;

use rexist_core::model::{now, unix_micros};
use rexist_core::{HuntId, IndicatorType, JobId};
use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};

use crate::decode::micros;
use crate::state::{
    CachedEnrichment, ENRICHMENT_COLUMNS, EnrichmentRow, RETRO_COLUMNS, RetroHunt, RetroRow,
    TAXII_STATUS_COLUMNS, TaxiiStatus, TaxiiStatusRow, check_answer, check_status,
    retro_interrupted_reason, stored_count, strip_nul,
};
use crate::{NewJob, Result};

fn retro_from_row(r: &PgRow) -> Result<RetroHunt> {
    RetroRow {
        hunt: r.try_get(0)?,
        status: r.try_get(1)?,
        scanned: r.try_get(2)?,
        hits: r.try_get(3)?,
        announced: r.try_get(4)?,
        queued_at: r.try_get(5)?,
        started_at: r.try_get(6)?,
        finished_at: r.try_get(7)?,
        error: r.try_get(8)?,
    }
    .decode()
}

pub(super) async fn queue_retro_hunt(
    pool: &PgPool,
    hunt: HuntId,
    job: &NewJob,
) -> Result<Option<JobId>> {
    let stamp = unix_micros(now());
    let mut tx = pool.begin().await?;
    // Locked so that a concurrent delete waits, and the row written below
    // never outlives its hunt.
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM hunts WHERE id = $1 FOR SHARE")
        .bind(hunt.get())
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_none() {
        return Ok(None);
    }
    let Some(id) = super::enqueue(&mut tx, job, stamp).await? else {
        return Ok(None);
    };
    sqlx::query(
        "INSERT INTO retro_hunts (hunt_id, status, queued_at) VALUES ($1, 'queued', $2)
         ON CONFLICT (hunt_id) DO UPDATE SET status = 'queued', scanned = 0, hits = 0,
           announced = 0, queued_at = $2, started_at = NULL, finished_at = NULL,
           heartbeat_at = NULL, error = NULL",
    )
    .bind(hunt.get())
    .bind(stamp)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(id))
}

pub(super) async fn save_retro_hunt(pool: &PgPool, r: &RetroHunt) -> Result<()> {
    // The guard keeps a worker that outlived its hunt from writing an orphan
    // row (only a delete racing with it leaves the foreign key to refuse it).
    sqlx::query(
        "INSERT INTO retro_hunts (hunt_id, status, scanned, hits, announced, queued_at,
           started_at, finished_at, heartbeat_at, error)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10
         WHERE EXISTS (SELECT 1 FROM hunts WHERE id = $1)
         ON CONFLICT (hunt_id) DO UPDATE SET status = excluded.status, scanned = excluded.scanned,
           hits = excluded.hits, announced = excluded.announced, queued_at = excluded.queued_at,
           started_at = excluded.started_at, finished_at = excluded.finished_at,
           heartbeat_at = excluded.heartbeat_at, error = excluded.error",
    )
    .bind(r.hunt.get())
    .bind(r.status.as_str())
    .bind(stored_count(r.scanned))
    .bind(stored_count(r.hits))
    .bind(stored_count(r.announced))
    .bind(unix_micros(r.queued_at))
    .bind(r.started_at.map(unix_micros))
    .bind(r.finished_at.map(unix_micros))
    .bind(unix_micros(now()))
    .bind(r.error.as_deref().map(strip_nul))
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn retro_hunts(pool: &PgPool, hunt: Option<HuntId>) -> Result<Vec<RetroHunt>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {RETRO_COLUMNS} FROM retro_hunts WHERE ($1::int8 IS NULL OR hunt_id = $1) ORDER BY hunt_id"
    )))
    .bind(hunt.map(HuntId::get))
    .fetch_all(pool)
    .await?
    .iter()
    .map(retro_from_row)
    .collect()
}

pub(super) async fn interrupt_stale_retro_hunts(
    pool: &PgPool,
    stale_after: Duration,
) -> Result<Vec<RetroHunt>> {
    let stamp = unix_micros(now());
    let mut out = sqlx::query(AssertSqlSafe(format!(
        "UPDATE retro_hunts SET status = 'interrupted', finished_at = $1, error = $3
         WHERE status = 'running' AND COALESCE(heartbeat_at, queued_at) < $2
         RETURNING {RETRO_COLUMNS}"
    )))
    .bind(stamp)
    .bind(stamp - micros(stale_after))
    .bind(retro_interrupted_reason(stale_after))
    .fetch_all(pool)
    .await?
    .iter()
    .map(retro_from_row)
    .collect::<Result<Vec<_>>>()?;
    out.sort_by_key(|r| r.hunt);
    Ok(out)
}

pub(super) async fn save_taxii_status(
    pool: &PgPool,
    s: &TaxiiStatus,
    keep: Duration,
) -> Result<()> {
    check_status(s)?;
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO taxii_statuses (id, api_root, status, request_timestamp, total_count,
           success_count, failure_count, pending_count, successes, failures, pendings)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (id) DO UPDATE SET api_root = excluded.api_root, status = excluded.status,
           request_timestamp = excluded.request_timestamp, total_count = excluded.total_count,
           success_count = excluded.success_count, failure_count = excluded.failure_count,
           pending_count = excluded.pending_count, successes = excluded.successes,
           failures = excluded.failures, pendings = excluded.pendings",
    )
    .bind(&s.id)
    .bind(&s.api_root)
    .bind(&s.status)
    .bind(unix_micros(s.request_timestamp))
    .bind(stored_count(s.total_count))
    .bind(stored_count(s.success_count))
    .bind(stored_count(s.failure_count))
    .bind(stored_count(s.pending_count))
    // serde_json escapes NUL inside strings, so JSON text is always storable.
    .bind(s.successes.to_string())
    .bind(s.failures.to_string())
    .bind(s.pendings.to_string())
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM taxii_statuses WHERE request_timestamp < $1")
        .bind(unix_micros(now()) - micros(keep))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn taxii_status(
    pool: &PgPool,
    api_root: &str,
    id: &str,
) -> Result<Option<TaxiiStatus>> {
    if id.contains('\0') || api_root.contains('\0') {
        return Ok(None);
    }
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {TAXII_STATUS_COLUMNS} FROM taxii_statuses WHERE id = $1 AND api_root = $2"
    )))
    .bind(id)
    .bind(api_root)
    .fetch_optional(pool)
    .await?;
    row.map(|r| -> Result<TaxiiStatus> {
        TaxiiStatusRow {
            id: r.try_get(0)?,
            api_root: r.try_get(1)?,
            status: r.try_get(2)?,
            request_timestamp: r.try_get(3)?,
            total_count: r.try_get(4)?,
            success_count: r.try_get(5)?,
            failure_count: r.try_get(6)?,
            pending_count: r.try_get(7)?,
            successes: r.try_get(8)?,
            failures: r.try_get(9)?,
            pendings: r.try_get(10)?,
        }
        .decode()
    })
    .transpose()
}

pub(super) async fn cached_enrichment(
    pool: &PgPool,
    provider: &str,
    kind: IndicatorType,
    value: &str,
    at: time::OffsetDateTime,
) -> Result<Option<CachedEnrichment>> {
    if provider.contains('\0') || value.contains('\0') {
        return Ok(None);
    }
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {ENRICHMENT_COLUMNS} FROM enrichments
         WHERE provider = $1 AND kind = $2 AND value = $3 AND expires_at > $4"
    )))
    .bind(provider)
    .bind(kind.as_str())
    .bind(value)
    .bind(unix_micros(at))
    .fetch_optional(pool)
    .await?;
    row.map(|r| -> Result<CachedEnrichment> {
        EnrichmentRow {
            provider: r.try_get(0)?,
            kind: r.try_get(1)?,
            value: r.try_get(2)?,
            answer: r.try_get(3)?,
            fetched_at: r.try_get(4)?,
            expires_at: r.try_get(5)?,
        }
        .decode()
    })
    .transpose()
}

pub(super) async fn cache_enrichment(pool: &PgPool, e: &CachedEnrichment) -> Result<()> {
    check_answer(e)?;
    sqlx::query(
        "INSERT INTO enrichments (provider, kind, value, answer, fetched_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (provider, kind, value) DO UPDATE SET answer = excluded.answer,
           fetched_at = excluded.fetched_at, expires_at = excluded.expires_at",
    )
    .bind(&e.provider)
    .bind(e.kind.as_str())
    .bind(&e.value)
    .bind(&e.answer)
    .bind(unix_micros(e.fetched_at))
    .bind(unix_micros(e.expires_at))
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn prune_enrichments(pool: &PgPool, at: time::OffsetDateTime) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM enrichments WHERE expires_at <= $1")
            .bind(unix_micros(at))
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
