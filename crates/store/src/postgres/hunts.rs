//! Hunts, hits and the alert outbox on PostgreSQL.

use sqlx::AssertSqlSafe;
use std::collections::HashMap;
use std::time::Duration;

use rexist_core::model::{now, unix_micros};
use rexist_core::{
    Alert, AlertId, AlertStatus, ChannelHealth, HitId, Hunt, HuntHit, HuntId, HuntSpec, NewHit,
};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{Postgres, Row, Transaction};

use crate::decode::{
    ALERT_COLUMNS, AlertRow, AlertSettings, DIGEST_LIST_CAP, HIT_COLUMNS, HUNT_COLUMNS, HitRow,
    HuntRow, announce_now, json, micros,
};
use crate::types::page_size;
use crate::{AlertQuery, ErrorKind, HitQuery, Page, Result, StoreError};

fn hunt_from_row(r: &PgRow) -> Result<Hunt> {
    HuntRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        kind: r.try_get(2)?,
        definition: r.try_get(3)?,
        enabled: r.try_get(4)?,
        channels: r.try_get(5)?,
        digest_secs: r.try_get(6)?,
        created_at: r.try_get(7)?,
        updated_at: r.try_get(8)?,
        last_digest_at: r.try_get(9)?,
        tlp: i64::from(r.try_get::<i16, _>(10)?),
    }
    .decode()
}

pub(super) fn hit_from_row(r: &PgRow) -> Result<HuntHit> {
    HitRow {
        id: r.try_get(0)?,
        hunt_id: r.try_get(1)?,
        object_kind: r.try_get(2)?,
        object_id: r.try_get(3)?,
        terms: r.try_get(4)?,
        retro: r.try_get(5)?,
        created_at: r.try_get(6)?,
        acked_at: r.try_get(7)?,
        acked_by: r.try_get(8)?,
        triage: r.try_get(9)?,
        assignee: r.try_get(10)?,
    }
    .decode()
}

fn alert_from_row(r: &PgRow) -> Result<Alert> {
    AlertRow {
        id: r.try_get(0)?,
        hunt_id: r.try_get(1)?,
        channel: r.try_get(2)?,
        hits: r.try_get(3)?,
        total_hits: r.try_get(4)?,
        digest: r.try_get(5)?,
        status: r.try_get(6)?,
        attempts: i64::from(r.try_get::<i32, _>(7)?),
        next_attempt_at: r.try_get(8)?,
        last_error: r.try_get(9)?,
        created_at: r.try_get(10)?,
        sent_at: r.try_get(11)?,
    }
    .decode()
}

fn digest_param(spec: &HuntSpec) -> Option<i64> {
    spec.digest_secs
        .map(|s| i64::try_from(s).unwrap_or(i64::MAX))
}

fn name_taken(name: &str) -> StoreError {
    StoreError::new(
        ErrorKind::Conflict,
        format!("a hunt named {name:?} already exists"),
    )
}

fn channels_of(json_text: &str) -> Result<Vec<String>> {
    serde_json::from_str(json_text)
        .map_err(|e| StoreError::internal(format!("corrupt hunt channels in store: {e}")))
}

pub(super) async fn create_hunt(pool: &PgPool, spec: &HuntSpec) -> Result<Hunt> {
    let stamp = unix_micros(now());
    let mut tx = pool.begin().await?;
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO hunts (name, kind, definition, enabled, channels, digest_secs, created_at, updated_at, tlp)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)
         ON CONFLICT (name) DO NOTHING RETURNING {HUNT_COLUMNS}"
    )))
    .bind(&spec.name)
    .bind(spec.kind.as_str())
    .bind(&spec.definition)
    .bind(spec.enabled)
    .bind(json(&spec.channels))
    .bind(digest_param(spec))
    .bind(stamp)
    .bind(spec.tlp.rank())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Err(name_taken(&spec.name));
    };
    bump_revision(&mut tx).await?;
    tx.commit().await?;
    hunt_from_row(&row)
}

pub(super) async fn update_hunt(
    pool: &PgPool,
    id: HuntId,
    spec: &HuntSpec,
) -> Result<Option<Hunt>> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query(AssertSqlSafe(format!(
        "UPDATE hunts SET name = $2, kind = $3, definition = $4, enabled = $5, channels = $6,
           digest_secs = $7, updated_at = greatest($8, updated_at + 1), tlp = $9
         WHERE id = $1 RETURNING {HUNT_COLUMNS}"
    )))
    .bind(id.get())
    .bind(&spec.name)
    .bind(spec.kind.as_str())
    .bind(&spec.definition)
    .bind(spec.enabled)
    .bind(json(&spec.channels))
    .bind(digest_param(spec))
    .bind(unix_micros(now()))
    .bind(spec.tlp.rank())
    .fetch_optional(&mut *tx)
    .await;
    let row = match row {
        Ok(r) => r,
        Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
            return Err(name_taken(&spec.name));
        }
        Err(e) => return Err(e.into()),
    };
    bump_revision(&mut tx).await?;
    tx.commit().await?;
    row.as_ref().map(hunt_from_row).transpose()
}

pub(super) async fn delete_hunt(pool: &PgPool, id: HuntId) -> Result<bool> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM alerts WHERE hunt_id = $1")
        .bind(id.get())
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM hunt_hits WHERE hunt_id = $1")
        .bind(id.get())
        .execute(&mut *tx)
        .await?;
    let n = sqlx::query("DELETE FROM hunts WHERE id = $1")
        .bind(id.get())
        .execute(&mut *tx)
        .await?;
    bump_revision(&mut tx).await?;
    tx.commit().await?;
    Ok(n.rows_affected() == 1)
}

pub(super) async fn hunt_by_id(pool: &PgPool, id: HuntId) -> Result<Option<Hunt>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {HUNT_COLUMNS} FROM hunts WHERE id = $1"
    )))
    .bind(id.get())
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(hunt_from_row)
    .transpose()
}

pub(super) async fn hunt_by_name(pool: &PgPool, name: &str) -> Result<Option<Hunt>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {HUNT_COLUMNS} FROM hunts WHERE name = $1"
    )))
    .bind(name)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(hunt_from_row)
    .transpose()
}

pub(super) async fn list_hunts(pool: &PgPool) -> Result<Vec<Hunt>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {HUNT_COLUMNS} FROM hunts ORDER BY name"
    )))
    .fetch_all(pool)
    .await?
    .iter()
    .map(hunt_from_row)
    .collect()
}

pub(super) async fn hunts_revision(pool: &PgPool) -> Result<String> {
    let n: i64 = sqlx::query_scalar("SELECT value FROM counters WHERE name = 'hunts'")
        .fetch_one(pool)
        .await?;
    Ok(n.to_string())
}

async fn bump_revision(tx: &mut Transaction<'_, Postgres>) -> Result<()> {
    sqlx::query("UPDATE counters SET value = value + 1 WHERE name = 'hunts'")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn insert_alerts(
    tx: &mut Transaction<'_, Postgres>,
    hunt: HuntId,
    channels: &[String],
    hits: &[HitId],
    total: u64,
    digest: bool,
    stamp: i64,
) -> Result<()> {
    for channel in channels {
        sqlx::query(
            "INSERT INTO alerts (hunt_id, channel, hits, total_hits, digest, status, next_attempt_at, created_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6)",
        )
        .bind(hunt.get())
        .bind(channel)
        .bind(json(&hits))
        .bind(i64::try_from(total).unwrap_or(i64::MAX))
        .bind(digest)
        .bind(stamp)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

pub(super) async fn record_hits(pool: &PgPool, hits: &[NewHit]) -> Result<Vec<HuntHit>> {
    // One order for every writer, so concurrent batches never deadlock on
    // the (hunt, object) unique index.
    let mut hits = hits.to_vec();
    hits.sort_by_key(|h| (h.hunt, h.object.kind(), h.object.raw_id()));
    let mut tx = pool.begin().await?;
    let mut settings: HashMap<HuntId, AlertSettings> = HashMap::new();
    for hit in &hits {
        if settings.contains_key(&hit.hunt) {
            continue;
        }
        let row = sqlx::query("SELECT channels, digest_secs FROM hunts WHERE id = $1")
            .bind(hit.hunt.get())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| {
                StoreError::new(
                    ErrorKind::NotFound,
                    format!("hit of unknown hunt {}", hit.hunt),
                )
            })?;
        let channels = channels_of(&row.try_get::<String, _>(0)?)?;
        let digest: Option<i64> = row.try_get(1)?;
        settings.insert(
            hit.hunt,
            (channels, digest.and_then(|d| u64::try_from(d).ok())),
        );
    }
    let stamp = unix_micros(now());
    let mut out = Vec::new();
    for hit in &hits {
        let (channels, digest) = &settings[&hit.hunt];
        let announce = announce_now(channels, *digest, hit.retro);
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO hunt_hits (hunt_id, object_kind, object_id, terms, retro, notified, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (hunt_id, object_kind, object_id) DO NOTHING
             RETURNING {HIT_COLUMNS}"
        )))
        .bind(hit.hunt.get())
        .bind(hit.object.kind())
        .bind(hit.object.raw_id())
        .bind(json(&hit.terms))
        .bind(hit.retro)
        .bind(announce != Some(false))
        .bind(stamp)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = row {
            let h = hit_from_row(&row)?;
            if announce == Some(true) {
                insert_alerts(&mut tx, h.hunt_id, channels, &[h.id], 1, false, stamp).await?;
            }
            out.push(h);
        }
    }
    tx.commit().await?;
    out.sort_by_key(|h| h.id);
    Ok(out)
}

pub(super) async fn list_hits(pool: &PgPool, q: &HitQuery) -> Result<Page<HuntHit>> {
    let limit = page_size(q.limit);
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {HIT_COLUMNS} FROM hunt_hits
         WHERE ($1::BIGINT IS NULL OR hunt_id = $1)
           AND ($2::BOOLEAN IS NULL OR (acked_at IS NOT NULL) = $2)
           AND ($3::BIGINT IS NULL OR id < $3)
           AND ($5::SMALLINT IS NULL OR hunt_id IN (SELECT id FROM hunts WHERE tlp <= $5))
           AND ($6::TEXT IS NULL OR triage = $6)
           AND ($7::TEXT IS NULL OR assignee = $7)
         ORDER BY id DESC LIMIT $4"
    )))
    .bind(q.hunt.map(HuntId::get))
    .bind(q.acked)
    .bind(q.before.map(HitId::get))
    .bind(i64::from(limit) + 1)
    .bind(q.max_tlp.map(rexist_core::Tlp::rank))
    .bind(q.triage.map(rexist_core::HitTriage::as_str))
    .bind(q.assignee.as_deref())
    .fetch_all(pool)
    .await?;
    let items = rows.iter().map(hit_from_row).collect::<Result<Vec<_>>>()?;
    Ok(Page::from_overfetch(items, limit, |h| h.id.to_string()))
}

pub(super) async fn hits_by_id(pool: &PgPool, ids: &[HitId]) -> Result<Vec<HuntHit>> {
    let raw: Vec<i64> = ids.iter().map(|i| i.get()).collect();
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {HIT_COLUMNS} FROM hunt_hits WHERE id = ANY($1) ORDER BY id"
    )))
    .bind(raw)
    .fetch_all(pool)
    .await?
    .iter()
    .map(hit_from_row)
    .collect()
}

pub(super) async fn triage_hits(
    pool: &PgPool,
    ids: &[HitId],
    change: &rexist_core::TriageChange,
) -> Result<u64> {
    let stamp = unix_micros(now());
    let mut tx = pool.begin().await?;
    let mut n = 0;
    for id in ids {
        let row: Option<(String, Option<String>)> =
            sqlx::query_as("SELECT triage, assignee FROM hunt_hits WHERE id = $1 FOR UPDATE")
                .bind(id.get())
                .fetch_optional(&mut *tx)
                .await?;
        let Some((status, assignee)) = row else {
            continue;
        };
        let (status, assignee) = crate::types::triaged(&status, assignee, change)?;
        sqlx::query(
            "UPDATE hunt_hits SET triage = $2, assignee = $3,
                 acked_at = CASE WHEN $4 AND acked_at IS NULL THEN $5 ELSE acked_at END,
                 acked_by = CASE WHEN $4 AND acked_at IS NULL THEN $6 ELSE acked_by END
             WHERE id = $1",
        )
        .bind(id.get())
        .bind(status.as_str())
        .bind(assignee.as_deref())
        .bind(status.is_done())
        .bind(stamp)
        .bind(&change.author)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO hit_triage (hit_id, status, assignee, note, author, at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.get())
        .bind(status.as_str())
        .bind(assignee.as_deref())
        .bind(change.note.as_deref())
        .bind(&change.author)
        .bind(stamp)
        .execute(&mut *tx)
        .await?;
        n += 1;
    }
    tx.commit().await?;
    Ok(n)
}

/// A `hit_triage` row: status, assignee, note, author, time.
type TriageRow = (String, Option<String>, Option<String>, String, i64);

pub(super) async fn hit_triage_log(
    pool: &PgPool,
    hit: HitId,
) -> Result<Vec<rexist_core::TriageEntry>> {
    let rows: Vec<TriageRow> = sqlx::query_as(
        "SELECT status, assignee, note, author, at FROM hit_triage WHERE hit_id = $1 ORDER BY id",
    )
    .bind(hit.get())
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(status, assignee, note, author, at)| {
            crate::types::triage_entry(&status, assignee, note, author, at)
        })
        .collect()
}

pub(super) async fn ack_hits(
    pool: &PgPool,
    ids: &[HitId],
    hunt: Option<HuntId>,
    by: &str,
) -> Result<u64> {
    let stamp = unix_micros(now());
    let done = if ids.is_empty() {
        sqlx::query(
            "UPDATE hunt_hits SET acked_at = $1, acked_by = $2
             WHERE acked_at IS NULL AND ($3::BIGINT IS NULL OR hunt_id = $3)",
        )
        .bind(stamp)
        .bind(by)
        .bind(hunt.map(HuntId::get))
        .execute(pool)
        .await?
    } else {
        let raw: Vec<i64> = ids.iter().map(|i| i.get()).collect();
        sqlx::query(
            "UPDATE hunt_hits SET acked_at = $1, acked_by = $2
             WHERE id = ANY($3) AND acked_at IS NULL AND ($4::BIGINT IS NULL OR hunt_id = $4)",
        )
        .bind(stamp)
        .bind(by)
        .bind(raw)
        .bind(hunt.map(HuntId::get))
        .execute(pool)
        .await?
    };
    Ok(done.rows_affected())
}

pub(super) async fn queue_digest(pool: &PgPool, hunt: HuntId, retro: bool) -> Result<u64> {
    let stamp = unix_micros(now());
    let mut tx = pool.begin().await?;
    // The hunt row lock serialises digests of one hunt.
    let row = sqlx::query("SELECT channels FROM hunts WHERE id = $1 FOR UPDATE")
        .bind(hunt.get())
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else {
        return Ok(0);
    };
    let channels = channels_of(&row.try_get::<String, _>(0)?)?;
    let ids: Vec<HitId> = sqlx::query(
        "UPDATE hunt_hits SET notified = TRUE
         WHERE hunt_id = $1 AND retro = $2 AND NOT notified RETURNING id",
    )
    .bind(hunt.get())
    .bind(retro)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| r.try_get::<i64, _>(0).map(HitId::new))
    .collect::<Result<Vec<_>, _>>()?;
    sqlx::query("UPDATE hunts SET last_digest_at = $2 WHERE id = $1")
        .bind(hunt.get())
        .bind(stamp)
        .execute(&mut *tx)
        .await?;
    let mut ids = ids;
    ids.sort_unstable();
    let total = ids.len() as u64;
    if total > 0 {
        let listed = &ids[..ids.len().min(DIGEST_LIST_CAP)];
        insert_alerts(&mut tx, hunt, &channels, listed, total, true, stamp).await?;
    }
    tx.commit().await?;
    Ok(total)
}

pub(super) async fn lease_alert(
    pool: &PgPool,
    worker: &str,
    channels: &[&str],
    lease: Duration,
) -> Result<Option<Alert>> {
    if channels.is_empty() {
        return Ok(None);
    }
    let stamp = unix_micros(now());
    sqlx::query(AssertSqlSafe(format!(
        "UPDATE alerts SET status = 'sending', leased_by = $1, lease_until = $2, attempts = attempts + 1
         WHERE id = (SELECT id FROM alerts WHERE channel = ANY($4)
           AND ((status = 'pending' AND next_attempt_at <= $3) OR (status = 'sending' AND lease_until < $3))
           ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING {ALERT_COLUMNS}"
    )))
    .bind(worker)
    .bind(stamp + micros(lease))
    .bind(stamp)
    .bind(channels)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(alert_from_row)
    .transpose()
}

pub(super) async fn complete_alert(pool: &PgPool, id: AlertId, worker: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE alerts SET status = 'sent', sent_at = $3, leased_by = NULL, lease_until = NULL
         WHERE id = $1 AND leased_by = $2 AND status = 'sending'",
    )
    .bind(id.get())
    .bind(worker)
    .bind(unix_micros(now()))
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn fail_alert(
    pool: &PgPool,
    id: AlertId,
    worker: &str,
    error: &str,
    retry_in: Option<Duration>,
) -> Result<bool> {
    let stamp = unix_micros(now());
    let (status, due) = match retry_in {
        Some(d) => ("pending", stamp + micros(d)),
        None => ("failed", stamp),
    };
    let done = sqlx::query(
        "UPDATE alerts SET status = $3, next_attempt_at = $4, leased_by = NULL, lease_until = NULL,
           last_error = $5, last_error_at = $6
         WHERE id = $1 AND leased_by = $2 AND status = 'sending'",
    )
    .bind(id.get())
    .bind(worker)
    .bind(status)
    .bind(due)
    .bind(error)
    .bind(stamp)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn list_alerts(pool: &PgPool, q: &AlertQuery) -> Result<Page<Alert>> {
    let limit = page_size(q.limit);
    // `sending` is pending under a lease.
    let statuses: Option<Vec<&str>> = q.status.map(|s| match s {
        AlertStatus::Pending => vec!["pending", "sending"],
        AlertStatus::Sent => vec!["sent"],
        AlertStatus::Failed => vec!["failed"],
    });
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {ALERT_COLUMNS} FROM alerts
         WHERE ($1::BIGINT IS NULL OR hunt_id = $1) AND ($2::TEXT IS NULL OR channel = $2)
           AND ($3::TEXT[] IS NULL OR status = ANY($3))
           AND ($4::BIGINT IS NULL OR id < $4)
           AND ($6::SMALLINT IS NULL OR hunt_id IN (SELECT id FROM hunts WHERE tlp <= $6))
         ORDER BY id DESC LIMIT $5"
    )))
    .bind(q.hunt.map(HuntId::get))
    .bind(q.channel.as_deref())
    .bind(statuses)
    .bind(q.before.map(AlertId::get))
    .bind(i64::from(limit) + 1)
    .bind(q.max_tlp.map(rexist_core::Tlp::rank))
    .fetch_all(pool)
    .await?;
    let items = rows
        .iter()
        .map(alert_from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_overfetch(items, limit, |a| a.id.to_string()))
}

pub(super) async fn channel_health(pool: &PgPool) -> Result<Vec<ChannelHealth>> {
    let rows = sqlx::query(
        "SELECT channel,
                count(*) FILTER (WHERE status IN ('pending', 'sending')),
                count(*) FILTER (WHERE status = 'failed'),
                count(*) FILTER (WHERE status = 'sent'),
                max(sent_at),
                (SELECT a2.last_error FROM alerts a2 WHERE a2.channel = a.channel
                   AND a2.last_error_at IS NOT NULL ORDER BY a2.last_error_at DESC LIMIT 1),
                max(last_error_at)
         FROM alerts a GROUP BY channel ORDER BY channel",
    )
    .fetch_all(pool)
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let last_sent: Option<i64> = r.try_get(4)?;
        let last_err_at: Option<i64> = r.try_get(6)?;
        let error = match last_err_at {
            Some(at) if last_sent.is_none_or(|s| at > s) => r.try_get(5)?,
            _ => None,
        };
        out.push(crate::decode::channel_health(
            r.try_get(0)?,
            r.try_get(1)?,
            r.try_get(2)?,
            r.try_get(3)?,
            last_sent,
            error,
        ));
    }
    Ok(out)
}
