//! Hunts, hits and the alert outbox on SQLite: synchronous functions the
//! trait methods run on the writer or a reader connection.

use std::collections::HashMap;
use std::time::Duration;

use rexist_core::model::{now, unix_micros};
use rexist_core::{
    Alert, AlertId, ChannelHealth, HitId, Hunt, HuntHit, HuntId, HuntSpec, NewHit, TriageChange,
    TriageEntry,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::decode::{
    ALERT_COLUMNS, AlertRow, AlertSettings, DIGEST_LIST_CAP, HIT_COLUMNS, HUNT_COLUMNS, HitRow,
    HuntRow, announce_now, json, micros,
};
use crate::types::page_size;
use crate::{AlertQuery, ErrorKind, HitQuery, Page, Result, StoreError};

fn conv<T>(r: crate::Result<T>) -> rusqlite::Result<T> {
    r.map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn hunt_from_row(r: &Row<'_>) -> rusqlite::Result<Hunt> {
    conv(
        HuntRow {
            id: r.get(0)?,
            name: r.get(1)?,
            kind: r.get(2)?,
            definition: r.get(3)?,
            enabled: r.get(4)?,
            channels: r.get(5)?,
            digest_secs: r.get(6)?,
            created_at: r.get(7)?,
            updated_at: r.get(8)?,
            last_digest_at: r.get(9)?,
            tlp: r.get(10)?,
        }
        .decode(),
    )
}

pub(super) fn hit_from_row(r: &Row<'_>) -> rusqlite::Result<HuntHit> {
    conv(
        HitRow {
            id: r.get(0)?,
            hunt_id: r.get(1)?,
            object_kind: r.get(2)?,
            object_id: r.get(3)?,
            terms: r.get(4)?,
            retro: r.get(5)?,
            created_at: r.get(6)?,
            acked_at: r.get(7)?,
            acked_by: r.get(8)?,
            triage: r.get(9)?,
            assignee: r.get(10)?,
        }
        .decode(),
    )
}

fn alert_from_row(r: &Row<'_>) -> rusqlite::Result<Alert> {
    conv(
        AlertRow {
            id: r.get(0)?,
            hunt_id: r.get(1)?,
            channel: r.get(2)?,
            hits: r.get(3)?,
            total_hits: r.get(4)?,
            digest: r.get(5)?,
            status: r.get(6)?,
            attempts: r.get(7)?,
            next_attempt_at: r.get(8)?,
            last_error: r.get(9)?,
            created_at: r.get(10)?,
            sent_at: r.get(11)?,
        }
        .decode(),
    )
}

fn digest_param(spec: &HuntSpec) -> Option<i64> {
    spec.digest_secs
        .map(|s| i64::try_from(s).unwrap_or(i64::MAX))
}

pub(super) fn create_hunt(conn: &mut Connection, spec: &HuntSpec) -> Result<Hunt> {
    let tx = conn.transaction()?;
    let exists: Option<i64> = tx
        .query_row(
            "SELECT id FROM hunts WHERE name = ?1",
            params![spec.name],
            |r| r.get(0),
        )
        .optional()?;
    if exists.is_some() {
        return Err(StoreError::new(
            ErrorKind::Conflict,
            format!("a hunt named {:?} already exists", spec.name),
        ));
    }
    let stamp = unix_micros(now());
    let sql = format!(
        "INSERT INTO hunts (name, kind, definition, enabled, channels, digest_secs, created_at, updated_at, tlp)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8) RETURNING {HUNT_COLUMNS}"
    );
    let hunt = tx.query_row(
        &sql,
        params![
            spec.name,
            spec.kind.as_str(),
            spec.definition,
            spec.enabled,
            json(&spec.channels),
            digest_param(spec),
            stamp,
            spec.tlp.rank()
        ],
        hunt_from_row,
    )?;
    tx.execute(
        "UPDATE counters SET value = value + 1 WHERE name = 'hunts'",
        [],
    )?;
    tx.commit()?;
    Ok(hunt)
}

pub(super) fn update_hunt(
    conn: &mut Connection,
    id: HuntId,
    spec: &HuntSpec,
) -> Result<Option<Hunt>> {
    let tx = conn.transaction()?;
    let clash: Option<i64> = tx
        .query_row(
            "SELECT id FROM hunts WHERE name = ?1 AND id <> ?2",
            params![spec.name, id.get()],
            |r| r.get(0),
        )
        .optional()?;
    if clash.is_some() {
        return Err(StoreError::new(
            ErrorKind::Conflict,
            format!("a hunt named {:?} already exists", spec.name),
        ));
    }
    let sql = format!(
        "UPDATE hunts SET name = ?2, kind = ?3, definition = ?4, enabled = ?5, channels = ?6,
           digest_secs = ?7, updated_at = max(?8, updated_at + 1), tlp = ?9
         WHERE id = ?1 RETURNING {HUNT_COLUMNS}"
    );
    let hunt = tx
        .query_row(
            &sql,
            params![
                id.get(),
                spec.name,
                spec.kind.as_str(),
                spec.definition,
                spec.enabled,
                json(&spec.channels),
                digest_param(spec),
                unix_micros(now()),
                spec.tlp.rank()
            ],
            hunt_from_row,
        )
        .optional()?;
    tx.execute(
        "UPDATE counters SET value = value + 1 WHERE name = 'hunts'",
        [],
    )?;
    tx.commit()?;
    Ok(hunt)
}

pub(super) fn delete_hunt(conn: &mut Connection, id: HuntId) -> Result<bool> {
    let tx = conn.transaction()?;
    tx.execute("DELETE FROM alerts WHERE hunt_id = ?1", params![id.get()])?;
    tx.execute(
        "DELETE FROM hunt_hits WHERE hunt_id = ?1",
        params![id.get()],
    )?;
    let n = tx.execute("DELETE FROM hunts WHERE id = ?1", params![id.get()])?;
    tx.execute(
        "UPDATE counters SET value = value + 1 WHERE name = 'hunts'",
        [],
    )?;
    tx.commit()?;
    Ok(n == 1)
}

pub(super) fn hunt_where(
    conn: &Connection,
    clause: &str,
    param: &dyn rusqlite::ToSql,
) -> Result<Option<Hunt>> {
    let sql = format!("SELECT {HUNT_COLUMNS} FROM hunts WHERE {clause}");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([param], hunt_from_row)
        .optional()?)
}

pub(super) fn list_hunts(conn: &Connection) -> Result<Vec<Hunt>> {
    let sql = format!("SELECT {HUNT_COLUMNS} FROM hunts ORDER BY name");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([], hunt_from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn hunts_revision(conn: &Connection) -> Result<String> {
    let n: i64 = conn.query_row("SELECT value FROM counters WHERE name = 'hunts'", [], |r| {
        r.get(0)
    })?;
    Ok(n.to_string())
}

/// Channels and digest setting of each hunt named in `hits`.
fn hunt_settings(conn: &Connection, hits: &[NewHit]) -> Result<HashMap<HuntId, AlertSettings>> {
    let mut out = HashMap::new();
    let mut stmt = conn.prepare_cached("SELECT channels, digest_secs FROM hunts WHERE id = ?1")?;
    for hit in hits {
        if out.contains_key(&hit.hunt) {
            continue;
        }
        let row: Option<(String, Option<i64>)> = stmt
            .query_row(params![hit.hunt.get()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((channels, digest)) = row else {
            return Err(StoreError::new(
                ErrorKind::NotFound,
                format!("hit of unknown hunt {}", hit.hunt),
            ));
        };
        let channels: Vec<String> = serde_json::from_str(&channels)
            .map_err(|e| StoreError::internal(format!("corrupt hunt channels in store: {e}")))?;
        out.insert(
            hit.hunt,
            (channels, digest.and_then(|d| u64::try_from(d).ok())),
        );
    }
    Ok(out)
}

fn insert_alerts(
    conn: &Connection,
    hunt: HuntId,
    channels: &[String],
    hits: &[HitId],
    total: u64,
    digest: bool,
    stamp: i64,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO alerts (hunt_id, channel, hits, total_hits, digest, status, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6)",
    )?;
    for channel in channels {
        stmt.execute(params![
            hunt.get(),
            channel,
            json(&hits),
            i64::try_from(total).unwrap_or(i64::MAX),
            digest,
            stamp
        ])?;
    }
    Ok(())
}

pub(super) fn record_hits(conn: &mut Connection, hits: &[NewHit]) -> Result<Vec<HuntHit>> {
    let tx = conn.transaction()?;
    let settings = hunt_settings(&tx, hits)?;
    let stamp = unix_micros(now());
    let mut out = Vec::new();
    {
        let sql = format!(
            "INSERT INTO hunt_hits (hunt_id, object_kind, object_id, terms, retro, notified, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (hunt_id, object_kind, object_id) DO NOTHING
             RETURNING {HIT_COLUMNS}"
        );
        let mut stmt = tx.prepare_cached(&sql)?;
        for hit in hits {
            let (channels, digest) = &settings[&hit.hunt];
            let announce = announce_now(channels, *digest, hit.retro);
            let inserted = stmt
                .query_row(
                    params![
                        hit.hunt.get(),
                        hit.object.kind(),
                        hit.object.raw_id(),
                        json(&hit.terms),
                        hit.retro,
                        announce != Some(false),
                        stamp
                    ],
                    hit_from_row,
                )
                .optional()?;
            if let Some(h) = inserted {
                if announce == Some(true) {
                    insert_alerts(&tx, h.hunt_id, channels, &[h.id], 1, false, stamp)?;
                }
                out.push(h);
            }
        }
    }
    tx.commit()?;
    Ok(out)
}

pub(super) fn list_hits(conn: &Connection, q: &HitQuery) -> Result<Page<HuntHit>> {
    let limit = page_size(q.limit);
    let sql = format!(
        "SELECT {HIT_COLUMNS} FROM hunt_hits
         WHERE (?1 IS NULL OR hunt_id = ?1)
           AND (?2 IS NULL OR (acked_at IS NOT NULL) = ?2)
           AND (?3 IS NULL OR id < ?3)
           AND (?4 IS NULL OR hunt_id IN (SELECT id FROM hunts WHERE tlp <= ?4))
           AND (?5 IS NULL OR triage = ?5)
           AND (?6 IS NULL OR assignee = ?6)
         ORDER BY id DESC LIMIT {}",
        super::sql_limit(limit) + 1
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![
            q.hunt.map(HuntId::get),
            q.acked,
            q.before.map(HitId::get),
            q.max_tlp.map(rexist_core::Tlp::rank),
            q.triage.map(rexist_core::HitTriage::as_str),
            q.assignee
        ],
        hit_from_row,
    )?;
    let items = rows.collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, limit, |h| h.id.to_string()))
}

pub(super) fn hits_by_id(conn: &Connection, ids: &[HitId]) -> Result<Vec<HuntHit>> {
    let sql = format!("SELECT {HIT_COLUMNS} FROM hunt_hits WHERE id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut out = Vec::with_capacity(ids.len());
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        if let Some(h) = stmt.query_row(params![id.get()], hit_from_row).optional()? {
            out.push(h);
        }
    }
    Ok(out)
}

pub(super) fn ack_hits(
    conn: &mut Connection,
    ids: &[HitId],
    hunt: Option<HuntId>,
    by: &str,
) -> Result<u64> {
    let tx = conn.transaction()?;
    let stamp = unix_micros(now());
    let mut n = 0;
    if ids.is_empty() {
        n += tx.execute(
            "UPDATE hunt_hits SET acked_at = ?1, acked_by = ?2
             WHERE acked_at IS NULL AND (?3 IS NULL OR hunt_id = ?3)",
            params![stamp, by, hunt.map(HuntId::get)],
        )?;
    } else {
        let mut stmt = tx.prepare_cached(
            "UPDATE hunt_hits SET acked_at = ?1, acked_by = ?2
             WHERE id = ?3 AND acked_at IS NULL AND (?4 IS NULL OR hunt_id = ?4)",
        )?;
        for id in ids {
            n += stmt.execute(params![stamp, by, id.get(), hunt.map(HuntId::get)])?;
        }
    }
    tx.commit()?;
    Ok(n as u64)
}

pub(super) fn triage_hits(
    conn: &mut Connection,
    ids: &[HitId],
    change: &TriageChange,
) -> Result<u64> {
    let tx = conn.transaction()?;
    let stamp = unix_micros(now());
    let mut n = 0;
    {
        let mut read = tx.prepare_cached("SELECT triage, assignee FROM hunt_hits WHERE id = ?1")?;
        let mut write = tx.prepare_cached(
            "UPDATE hunt_hits SET triage = ?2, assignee = ?3,
                 acked_at = CASE WHEN ?4 AND acked_at IS NULL THEN ?5 ELSE acked_at END,
                 acked_by = CASE WHEN ?4 AND acked_at IS NULL THEN ?6 ELSE acked_by END
             WHERE id = ?1",
        )?;
        let mut log = tx.prepare_cached(
            "INSERT INTO hit_triage (hit_id, status, assignee, note, author, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for id in ids {
            let Some((status, assignee)) = read
                .query_row(params![id.get()], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
                })
                .optional()?
            else {
                continue;
            };
            let (status, assignee) = crate::types::triaged(&status, assignee, change)?;
            write.execute(params![
                id.get(),
                status.as_str(),
                assignee,
                status.is_done(),
                stamp,
                change.author
            ])?;
            log.execute(params![
                id.get(),
                status.as_str(),
                assignee,
                change.note,
                change.author,
                stamp
            ])?;
            n += 1;
        }
    }
    tx.commit()?;
    Ok(n)
}

pub(super) fn hit_triage_log(conn: &Connection, hit: HitId) -> Result<Vec<TriageEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT status, assignee, note, author, at FROM hit_triage WHERE hit_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![hit.get()], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, i64>(4)?,
        ))
    })?;
    rows.map(|r| {
        let (status, assignee, note, author, at) = r?;
        crate::types::triage_entry(&status, assignee, note, author, at)
    })
    .collect()
}

pub(super) fn queue_digest(conn: &mut Connection, hunt: HuntId, retro: bool) -> Result<u64> {
    let tx = conn.transaction()?;
    let stamp = unix_micros(now());
    let channels: Option<String> = tx
        .query_row(
            "SELECT channels FROM hunts WHERE id = ?1",
            params![hunt.get()],
            |r| r.get(0),
        )
        .optional()?;
    let Some(channels) = channels else {
        return Ok(0);
    };
    let channels: Vec<String> = serde_json::from_str(&channels)
        .map_err(|e| StoreError::internal(format!("corrupt hunt channels in store: {e}")))?;
    let ids: Vec<HitId> = {
        let mut stmt = tx.prepare_cached(
            "SELECT id FROM hunt_hits WHERE hunt_id = ?1 AND retro = ?2 AND notified = 0 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![hunt.get(), retro], |r| r.get::<_, i64>(0))?;
        rows.map(|r| r.map(HitId::new))
            .collect::<Result<Vec<_>, _>>()?
    };
    tx.execute(
        "UPDATE hunts SET last_digest_at = ?2 WHERE id = ?1",
        params![hunt.get(), stamp],
    )?;
    if ids.is_empty() {
        tx.commit()?;
        return Ok(0);
    }
    tx.execute(
        "UPDATE hunt_hits SET notified = 1 WHERE hunt_id = ?1 AND retro = ?2 AND notified = 0",
        params![hunt.get(), retro],
    )?;
    let total = ids.len() as u64;
    let listed = &ids[..ids.len().min(DIGEST_LIST_CAP)];
    insert_alerts(&tx, hunt, &channels, listed, total, true, stamp)?;
    tx.commit()?;
    Ok(total)
}

pub(super) fn lease_alert(
    conn: &mut Connection,
    worker: &str,
    channels: &[&str],
    lease: Duration,
) -> Result<Option<Alert>> {
    if channels.is_empty() {
        return Ok(None);
    }
    let stamp = unix_micros(now());
    let list = json(&channels);
    let sql = format!(
        "UPDATE alerts SET status = 'sending', leased_by = ?1, lease_until = ?2, attempts = attempts + 1
         WHERE id = (SELECT id FROM alerts WHERE channel IN (SELECT value FROM json_each(?4))
           AND ((status = 'pending' AND next_attempt_at <= ?3) OR (status = 'sending' AND lease_until < ?3))
           ORDER BY next_attempt_at, id LIMIT 1)
         RETURNING {ALERT_COLUMNS}"
    );
    Ok(conn
        .query_row(
            &sql,
            params![worker, stamp + micros(lease), stamp, list],
            alert_from_row,
        )
        .optional()?)
}

pub(super) fn complete_alert(conn: &Connection, id: AlertId, worker: &str) -> Result<bool> {
    let n = conn.execute(
        "UPDATE alerts SET status = 'sent', sent_at = ?3, leased_by = NULL, lease_until = NULL
         WHERE id = ?1 AND leased_by = ?2 AND status = 'sending'",
        params![id.get(), worker, unix_micros(now())],
    )?;
    Ok(n == 1)
}

pub(super) fn fail_alert(
    conn: &Connection,
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
    let n = conn.execute(
        "UPDATE alerts SET status = ?3, next_attempt_at = ?4, leased_by = NULL, lease_until = NULL,
           last_error = ?5, last_error_at = ?6
         WHERE id = ?1 AND leased_by = ?2 AND status = 'sending'",
        params![id.get(), worker, status, due, error, stamp],
    )?;
    Ok(n == 1)
}

pub(super) fn list_alerts(conn: &Connection, q: &AlertQuery) -> Result<Page<Alert>> {
    let limit = page_size(q.limit);
    // `sending` is pending under a lease.
    let status = q.status.map(|s| match s {
        rexist_core::AlertStatus::Pending => "pending,sending",
        rexist_core::AlertStatus::Sent => "sent",
        rexist_core::AlertStatus::Failed => "failed",
    });
    let sql = format!(
        "SELECT {ALERT_COLUMNS} FROM alerts
         WHERE (?1 IS NULL OR hunt_id = ?1) AND (?2 IS NULL OR channel = ?2)
           AND (?3 IS NULL OR instr(',' || ?3 || ',', ',' || status || ',') > 0)
           AND (?4 IS NULL OR id < ?4)
           AND (?5 IS NULL OR hunt_id IN (SELECT id FROM hunts WHERE tlp <= ?5))
         ORDER BY id DESC LIMIT {}",
        super::sql_limit(limit) + 1
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![
            q.hunt.map(HuntId::get),
            q.channel,
            status,
            q.before.map(AlertId::get),
            q.max_tlp.map(rexist_core::Tlp::rank)
        ],
        alert_from_row,
    )?;
    let items = rows.collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, limit, |a| a.id.to_string()))
}

pub(super) fn channel_health(conn: &Connection) -> Result<Vec<ChannelHealth>> {
    let mut stmt = conn.prepare_cached(
        "SELECT channel,
                sum(CASE WHEN status IN ('pending', 'sending') THEN 1 ELSE 0 END),
                sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END),
                sum(CASE WHEN status = 'sent' THEN 1 ELSE 0 END),
                max(sent_at), max(last_error_at)
         FROM alerts GROUP BY channel ORDER BY channel",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, Option<i64>>(4)?,
            r.get::<_, Option<i64>>(5)?,
        ))
    })?;
    let mut last_error = conn.prepare_cached(
        "SELECT last_error FROM alerts WHERE channel = ?1 AND last_error_at = ?2 LIMIT 1",
    )?;
    let mut out = Vec::new();
    for row in rows {
        let (channel, pending, failed, sent, last_sent, last_err_at) = row?;
        let error = match last_err_at {
            Some(at) if last_sent.is_none_or(|s| at > s) => last_error
                .query_row(params![channel, at], |r| r.get::<_, Option<String>>(0))
                .optional()?
                .flatten(),
            _ => None,
        };
        out.push(crate::decode::channel_health(
            channel, pending, failed, sent, last_sent, error,
        ));
    }
    Ok(out)
}
