//! PostgreSQL backend, for one database shared by several rexist nodes.
//!
//! Bulk writes are multi-row statements over `unnest` arrays. Rows are
//! deduplicated and sorted before each statement, so every writer locks
//! indicator and sighting rows in the same order and two concurrent writers
//! wait for each other instead of deadlocking. The job queue leases with
//! `FOR UPDATE SKIP LOCKED`.

mod yardstick;
pub use yardstick::copy_upsert_yardstick;
mod curation;
mod dashboard;
mod delete;
mod entities;
mod exports;
mod hunts;
mod listing;
mod lookup;
mod retire;
mod rows;
mod search;
mod sharing;
mod state;
mod watch;

use sqlx::AssertSqlSafe;
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use rexist_core::model::{now, unix_micros};
use rexist_core::{
    Alert, AlertId, ApiToken, AuditEntry, ChannelHealth, ExportRow, HitId, HitObject, Hunt,
    HuntHit, HuntId, HuntSpec, Indicator, IndicatorId, IndicatorRecord, IndicatorType, Item,
    ItemId, JobId, Mention, NewAudit, NewHit, NewItem, NewRelation, NewSighting, NewToken,
    Relation, RetractReason, Retraction, Role, Run, RunCounts, RunId, RunOutcome, Sighting, Source,
    SourceId, SourceSpec, UpsertSummary, User,
};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, Executor, Postgres, Row, Transaction};

use crate::decode::{
    INDICATOR_COLUMNS, ITEM_COLUMNS, RELATION_COLUMNS, RUN_COLUMNS, RelationRow, SIGHTING_COLUMNS,
    SOURCE_COLUMNS, content_hash, decode_cursor, encode_cursor, json, micros, relation_ends,
};
use crate::error::redact_url;
use crate::fts::{TextQuery, index_text};
use crate::types::page_size;
use crate::{
    AlertQuery, Backend, CachedEnrichment, CoOccurrence, ErrorKind, ExportQuery, HitQuery,
    IndicatorQuery, ItemChange, ItemQuery, Job, MentionRef, NewJob, Page, Result, RetroHunt, Store,
    StoreError, StoreStats, TaxiiStatus, UserChange, migrate,
};
use rows::{indicator_from_row, item_from_row, run_from_row, sighting_from_row, source_from_row};

/// Rows per multi-row statement: large enough to amortise round trips,
/// small enough to keep each statement's memory modest.
const CHUNK: usize = 5000;

/// Advisory lock key held while migrating, so nodes starting together do not race.
const MIGRATION_LOCK: i64 = 0x7265_7869_7374; // "rexist"

/// Queues `job` inside `tx` unless its key is queued or running.
async fn enqueue(
    tx: &mut Transaction<'_, Postgres>,
    job: &NewJob,
    stamp: i64,
) -> Result<Option<JobId>> {
    if let Some(key) = &job.dedup_key {
        // A job that failed for good must not block a new one with its key.
        sqlx::query("DELETE FROM jobs WHERE dedup_key = $1 AND status = 'failed'")
            .bind(key)
            .execute(&mut **tx)
            .await?;
    }
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO jobs (kind, payload, dedup_key, status, run_at, created_at)
         VALUES ($1, $2, $3, 'queued', $4, $5)
         ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
    )
    .bind(&job.kind)
    .bind(&job.payload)
    .bind(&job.dedup_key)
    .bind(stamp + micros(job.delay))
    .bind(stamp)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(id.map(JobId::new))
}

/// The PostgreSQL store.
pub struct PgStore {
    pool: PgPool,
    /// Where lookups, search, TAXII and exports read: the primary's pool,
    /// or a streaming replica's (`database_read_url`).
    read: PgPool,
    /// `stix_namespace` once read: it never changes.
    stix_namespace: std::sync::Arc<std::sync::OnceLock<u128>>,
}

impl PgStore {
    /// Connects to `url`. With `schema`, every connection works in that schema
    /// (created if missing): tests use one schema per run to stay isolated.
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<Self> {
        let unreachable = |e: sqlx::Error| {
            StoreError::unavailable(format!(
                "cannot connect to PostgreSQL at {}: {e}",
                redact_url(url)
            ))
        };
        let mut options = PgConnectOptions::from_str(url).map_err(|e| {
            StoreError::invalid(format!("invalid PostgreSQL URL {}: {e}", redact_url(url)))
        })?;
        // One direct connection first: it fails fast with the real cause
        // (refused, unknown host, bad password) where a pool would only time out.
        let mut conn = tokio::time::timeout(
            Duration::from_secs(10),
            sqlx::PgConnection::connect_with(&options),
        )
        .await
        .map_err(|_| {
            StoreError::unavailable(format!(
                "cannot connect to PostgreSQL at {}: no answer within 10 s",
                redact_url(url)
            ))
        })?
        .map_err(unreachable)?;
        if let Some(schema) = schema {
            if !schema
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return Err(StoreError::invalid(format!(
                    "invalid schema name {schema:?}"
                )));
            }
            (&mut conn)
                .execute(AssertSqlSafe(format!(
                    "CREATE SCHEMA IF NOT EXISTS {schema}"
                )))
                .await?;
            options = options.options([("search_path", schema)]);
        }
        conn.close().await?;
        // Lookups are many small indexed queries; right after a bulk load,
        // stale statistics inflate their cost estimates past JIT's threshold
        // and compiling costs 7–25 ms per query for nothing.
        options = options.options([("jit", "off")]);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(unreachable)?;
        Ok(Self {
            read: pool.clone(),
            pool,
            stix_namespace: std::sync::Arc::default(),
        })
    }

    /// Reads lookups, search, indicator and item pages, TAXII objects,
    /// exports, retro-hunt scans and dashboard counts through `url` (a
    /// read-only streaming replica; `schema` as in [`PgStore::connect`]).
    /// Writes, and the reads a writer acts on (single indicators and items
    /// by key, sources, runs, jobs, hunts, alerts, users, sessions), stay on
    /// the primary, so they never act on a replica's lag.
    pub async fn with_replica(mut self, url: &str, schema: Option<&str>) -> Result<Self> {
        self.read = Self::connect(url, schema).await?.pool;
        Ok(self)
    }

    /// Upserts sightings inside `tx`, in chunks; returns the summary and the
    /// indicator id of every input row, in input order.
    ///
    /// Rows are processed in one global `(value, kind)` order whatever order
    /// they come in, so every writer locks indicator rows in the same order
    /// across all its chunks (and sighting rows only after their indicator):
    /// concurrent writers wait for each other and never deadlock.
    async fn upsert_rows(
        tx: &mut Transaction<'_, Postgres>,
        source: &Source,
        mut rows: Vec<(NewSighting, i64)>,
    ) -> Result<(UpsertSummary, Vec<i64>)> {
        crate::retire::latest_validity(rows.iter_mut().map(|(s, _)| s));
        let mut indexed: Vec<(usize, (NewSighting, i64))> = rows.into_iter().enumerate().collect();
        indexed.sort_by(|(_, (a, _)), (_, (b, _))| {
            (a.indicator.value(), a.indicator.kind().as_str())
                .cmp(&(b.indicator.value(), b.indicator.kind().as_str()))
        });
        let (positions, sorted): (Vec<usize>, Vec<(NewSighting, i64)>) =
            indexed.into_iter().unzip();
        let mut summary = UpsertSummary::default();
        let mut ids = vec![0i64; sorted.len()];
        let mut done = 0;
        for chunk in sorted.chunks(CHUNK) {
            let (s, chunk_ids) = Self::upsert_chunk(tx, source, chunk).await?;
            summary.add(s);
            for (k, id) in chunk_ids.into_iter().enumerate() {
                ids[positions[done + k]] = id;
            }
            done += chunk.len();
        }
        Ok((summary, ids))
    }

    /// Upserts one chunk of sightings inside `tx`; returns the summary and the
    /// indicator id of every input row, in order.
    async fn upsert_chunk(
        tx: &mut Transaction<'_, Postgres>,
        source: &Source,
        chunk: &[(NewSighting, i64)],
    ) -> Result<(UpsertSummary, Vec<i64>)> {
        // 1. Indicators, deduplicated and sorted by (value, kind): the lock order.
        struct SAgg<'a> {
            first: i64,
            last: i64,
            confidence: i16,
            tlp: i16,
            labels: &'a [String],
            until: Option<i64>,
        }
        struct Agg {
            kind: IndicatorType,
            first: i64,
            last: i64,
            score: i16,
            tlp: i16,
        }
        let mut indicators: BTreeMap<(&str, &str), Agg> = BTreeMap::new();
        // Distinct items per indicator in this chunk: the sightings a new
        // indicator starts with, so it is written once, not inserted then updated.
        let mut pairs: std::collections::BTreeSet<(&str, &str, i64)> =
            std::collections::BTreeSet::new();
        for (s, item) in chunk {
            pairs.insert((s.indicator.value(), s.indicator.kind().as_str(), *item));
        }
        for (s, _) in chunk {
            let seen = unix_micros(s.seen_at);
            let score = i16::from(s.confidence.unwrap_or(source.confidence));
            let tlp = s.tlp.unwrap_or(source.tlp).rank();
            indicators
                .entry((s.indicator.value(), s.indicator.kind().as_str()))
                .and_modify(|a| {
                    a.first = a.first.min(seen);
                    a.last = a.last.max(seen);
                    a.score = a.score.max(score);
                    a.tlp = a.tlp.min(tlp);
                })
                .or_insert(Agg {
                    kind: s.indicator.kind(),
                    first: seen,
                    last: seen,
                    score,
                    tlp,
                });
        }
        let mut kinds = Vec::with_capacity(indicators.len());
        let mut values = Vec::with_capacity(indicators.len());
        let mut firsts = Vec::with_capacity(indicators.len());
        let mut lasts = Vec::with_capacity(indicators.len());
        let mut scores = Vec::with_capacity(indicators.len());
        let mut tlps = Vec::with_capacity(indicators.len());
        let mut starts = Vec::with_capacity(indicators.len());
        let mut hosts = Vec::with_capacity(indicators.len());
        for ((value, kind), a) in &indicators {
            let n = pairs
                .range((*value, *kind, i64::MIN)..=(*value, *kind, i64::MAX))
                .count();
            starts.push(i64::try_from(n).unwrap_or(i64::MAX));
            kinds.push(*kind);
            values.push(*value);
            firsts.push(a.first);
            lasts.push(a.last);
            scores.push(a.score);
            tlps.push(a.tlp);
            hosts.push(crate::types::reversed_host(a.kind, value));
        }
        let rows = sqlx::query(
            "INSERT INTO indicators (kind, value, first_seen, last_seen, sightings, score, tlp, status, rhost)
             SELECT k, v, f, l, n, s, t, 'active', h
             FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[], $5::int2[], $6::int2[], $7::int8[], $8::text[])
               AS u(k, v, f, l, s, t, n, h)
             ORDER BY v, k
             ON CONFLICT (value, kind) DO UPDATE SET
               first_seen = LEAST(indicators.first_seen, EXCLUDED.first_seen),
               last_seen = GREATEST(indicators.last_seen, EXCLUDED.last_seen),
               score = CASE WHEN indicators.score_override IS NULL
                 THEN GREATEST(indicators.score, EXCLUDED.score) ELSE indicators.score END,
               tlp = GREATEST(LEAST(indicators.tlp, EXCLUDED.tlp), coalesce(indicators.tlp_floor, 0)),
               status_reason = CASE WHEN indicators.status IN ('expired', 'retired') THEN NULL
                 ELSE indicators.status_reason END,
               status = CASE WHEN indicators.status IN ('expired', 'retired') THEN 'active'
                 ELSE indicators.status END
             RETURNING id, kind, value, (xmax = 0) AS inserted",
        )
        .bind(&kinds)
        .bind(&values)
        .bind(&firsts)
        .bind(&lasts)
        .bind(&scores)
        .bind(&tlps)
        .bind(&starts)
        .bind(&hosts)
        .fetch_all(&mut **tx)
        .await?;
        let mut summary = UpsertSummary::default();
        let mut ids: BTreeMap<(String, String), i64> = BTreeMap::new();
        let mut fresh: std::collections::HashSet<i64> = std::collections::HashSet::new();
        for row in rows {
            let id: i64 = row.try_get(0)?;
            let kind: String = row.try_get(1)?;
            let value: String = row.try_get(2)?;
            if row.try_get::<bool, _>(3)? {
                summary.new_indicators += 1;
                fresh.insert(id);
            }
            ids.insert((value, kind), id);
        }
        let mut row_ids = Vec::with_capacity(chunk.len());
        for (s, _) in chunk {
            let key = (
                s.indicator.value().to_owned(),
                s.indicator.kind().as_str().to_owned(),
            );
            let id = ids
                .get(&key)
                .copied()
                .ok_or_else(|| StoreError::internal("indicator upsert returned no id"))?;
            row_ids.push(id);
        }

        // 2. Sightings, deduplicated and sorted by (indicator, item).
        let mut sightings: BTreeMap<(i64, i64), SAgg<'_>> = BTreeMap::new();
        for ((s, item), id) in chunk.iter().zip(&row_ids) {
            let seen = unix_micros(s.seen_at);
            sightings
                .entry((*id, *item))
                .and_modify(|a| {
                    a.first = a.first.min(seen);
                    a.last = a.last.max(seen);
                })
                .or_insert(SAgg {
                    first: seen,
                    last: seen,
                    confidence: i16::from(s.confidence.unwrap_or(source.confidence)),
                    tlp: s.tlp.unwrap_or(source.tlp).rank(),
                    labels: &s.labels,
                    until: s.valid_until.map(unix_micros),
                });
        }
        let n = sightings.len();
        let (mut ind, mut items, mut firsts, mut lasts) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut confs, mut tlps, mut labels, mut untils) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for ((indicator, item), a) in &sightings {
            ind.push(*indicator);
            items.push(*item);
            firsts.push(a.first);
            lasts.push(a.last);
            confs.push(a.confidence);
            tlps.push(a.tlp);
            labels.push(json(&a.labels));
            untils.push(a.until);
        }
        let rows = sqlx::query(
            "INSERT INTO sightings (indicator_id, source_id, item_id, first_seen, last_seen, confidence, tlp, labels, expires_at)
             SELECT i, $1, it, f, l, c, t, lb, x
             FROM unnest($2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::int2[], $7::int2[], $8::text[], $9::int8[])
               AS u(i, it, f, l, c, t, lb, x)
             ORDER BY i, it
             ON CONFLICT (indicator_id, source_id, item_id) DO UPDATE SET
               last_seen = GREATEST(sightings.last_seen, EXCLUDED.last_seen), listed = TRUE,
               retired_at = NULL, retired_reason = NULL, expires_at = EXCLUDED.expires_at
             RETURNING indicator_id, (xmax = 0) AS inserted",
        )
        .bind(source.id.get())
        .bind(&ind)
        .bind(&items)
        .bind(&firsts)
        .bind(&lasts)
        .bind(&confs)
        .bind(&tlps)
        .bind(&labels)
        .bind(&untils)
        .fetch_all(&mut **tx)
        .await?;
        let mut increments: BTreeMap<i64, i64> = BTreeMap::new();
        for row in rows {
            if row.try_get::<bool, _>(1)? {
                let indicator: i64 = row.try_get(0)?;
                // A fresh indicator was inserted with its count already.
                if !fresh.contains(&indicator) {
                    *increments.entry(indicator).or_insert(0) += 1;
                }
                summary.new += 1;
            }
        }
        summary.unchanged = chunk.len() as u64 - summary.new;

        // 3. Sighting counts of the indicators that gained sightings (rows already locked above).
        if !increments.is_empty() {
            let (ids, counts): (Vec<i64>, Vec<i64>) = increments.into_iter().unzip();
            sqlx::query(
                "UPDATE indicators SET sightings = indicators.sightings + d.n
                 FROM unnest($1::int8[], $2::int8[]) AS d(id, n) WHERE indicators.id = d.id",
            )
            .bind(&ids)
            .bind(&counts)
            .execute(&mut **tx)
            .await?;
        }
        Ok((summary, row_ids))
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn migrate(&self) -> Result<usize> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
        (&mut *tx)
            .execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
            )
            .await?;
        let recorded: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
            .fetch_all(&mut *tx)
            .await?;
        // Collected first: a closure held across `.await` trips the Send checker.
        let pending = migrate::pending(migrate::POSTGRES, &recorded)?;
        let mut applied = 0;
        for m in pending {
            (&mut *tx).execute(m.sql).await.map_err(|e| {
                StoreError::unavailable(format!("migration {} failed: {e}", m.version))
            })?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(m.version)
                .bind(unix_micros(now()))
                .execute(&mut *tx)
                .await?;
            applied += 1;
        }
        tx.commit().await?;
        Ok(applied)
    }

    async fn upsert_source(&self, spec: &SourceSpec) -> Result<Source> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO sources (name, kind, enabled, confidence, tlp, tags, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, enabled = EXCLUDED.enabled,
               confidence = EXCLUDED.confidence, tlp = EXCLUDED.tlp, tags = EXCLUDED.tags
             RETURNING {SOURCE_COLUMNS}"
        )))
        .bind(&spec.name)
        .bind(&spec.kind)
        .bind(spec.enabled)
        .bind(i16::from(spec.confidence))
        .bind(spec.tlp.rank())
        .bind(json(&spec.tags))
        .bind(unix_micros(now()))
        .fetch_one(&self.pool)
        .await?;
        source_from_row(&row)
    }

    async fn source_by_name(&self, name: &str) -> Result<Option<Source>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {SOURCE_COLUMNS} FROM sources WHERE name = $1"
        )))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(source_from_row)
        .transpose()
    }

    async fn source(&self, id: SourceId) -> Result<Option<Source>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {SOURCE_COLUMNS} FROM sources WHERE id = $1"
        )))
        .bind(id.get())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(source_from_row)
        .transpose()
    }

    async fn list_sources(&self) -> Result<Vec<Source>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {SOURCE_COLUMNS} FROM sources ORDER BY name"
        )))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(source_from_row)
        .collect()
    }

    async fn set_source_enabled(&self, name: &str, enabled: bool) -> Result<bool> {
        let done = sqlx::query("UPDATE sources SET enabled = $2 WHERE name = $1")
            .bind(name)
            .bind(enabled)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_source(&self, source: SourceId) -> Result<u64> {
        delete::delete_source(&self.pool, source.get()).await
    }

    async fn start_run(&self, source: SourceId) -> Result<Run> {
        let started = unix_micros(now());
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO runs (source_id, started_at, outcome, counts, heartbeat_at)
             VALUES ($1, $2, 'running', $3, $2)
             RETURNING {RUN_COLUMNS}"
        )))
        .bind(source.get())
        .bind(started)
        .bind(json(&RunCounts::default()))
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE sources SET last_run_at = $2, first_run_at = COALESCE(first_run_at, $2) WHERE id = $1",
        )
            .bind(source.get())
            .bind(started)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        run_from_row(&row)
    }

    async fn finish_run(
        &self,
        run: RunId,
        outcome: RunOutcome,
        counts: &RunCounts,
        cursor: Option<&str>,
        error: Option<&str>,
    ) -> Result<Run> {
        let finished = unix_micros(now());
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE runs SET finished_at = $2, outcome = $3, counts = $4, cursor = $5, error = $6
             WHERE id = $1 RETURNING {RUN_COLUMNS}"
        )))
        .bind(run.get())
        .bind(finished)
        .bind(outcome.as_str())
        .bind(json(counts))
        .bind(cursor)
        .bind(error)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::new(ErrorKind::NotFound, format!("no run {run}")))?;
        let updated = run_from_row(&row)?;
        if outcome.is_success() {
            sqlx::query(
                "UPDATE sources SET last_success_at = $2, consecutive_failures = 0, last_error = NULL WHERE id = $1",
            )
            .bind(updated.source_id.get())
            .bind(finished)
            .execute(&mut *tx)
            .await?;
        } else if !matches!(outcome, RunOutcome::Running | RunOutcome::Interrupted) {
            sqlx::query(
                "UPDATE sources SET consecutive_failures = consecutive_failures + 1, last_error = $2 WHERE id = $1",
            )
            .bind(updated.source_id.get())
            .bind(&updated.error)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(updated)
    }

    async fn heartbeat_run(&self, run: RunId, counts: &RunCounts) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE runs SET heartbeat_at = $2, counts = $3 WHERE id = $1 AND outcome = 'running'",
        )
        .bind(run.get())
        .bind(unix_micros(now()))
        .bind(json(counts))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn interrupt_stale_runs(&self, stale_after: Duration) -> Result<Vec<Run>> {
        let stamp = unix_micros(now());
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE runs SET outcome = 'interrupted', finished_at = $1, error = $3
             WHERE outcome = 'running' AND COALESCE(heartbeat_at, started_at) < $2
             RETURNING {RUN_COLUMNS}"
        )))
        .bind(stamp)
        .bind(stamp - micros(stale_after))
        .bind(crate::types::interrupted_reason(stale_after))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(run_from_row)
        .collect()
    }

    async fn list_runs(
        &self,
        source: Option<SourceId>,
        before: Option<RunId>,
        limit: u32,
    ) -> Result<Vec<Run>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {RUN_COLUMNS} FROM runs
             WHERE ($1::int8 IS NULL OR source_id = $1) AND ($2::int8 IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3"
        )))
        .bind(source.map(SourceId::get))
        .bind(before.map(RunId::get))
        .bind(i64::from(page_size(limit)))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(run_from_row)
        .collect()
    }

    async fn last_cursor(&self, source: SourceId) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT cursor FROM runs WHERE source_id = $1 AND cursor IS NOT NULL
             AND outcome IN ('success', 'not_modified', 'partial')
             ORDER BY id DESC LIMIT 1",
        )
        .bind(source.get())
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn upsert_items(&self, source: SourceId, items: &[NewItem]) -> Result<Vec<ItemChange>> {
        let mut tx = self.pool.begin().await?;
        let stamp = unix_micros(now());
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let hash = content_hash(item);
            let existing: Option<(i64, String)> = sqlx::query_as(
                "SELECT id, content_hash FROM items WHERE source_id = $1 AND external_id = $2 FOR UPDATE",
            )
            .bind(source.get())
            .bind(&item.external_id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((id, old)) = &existing {
                if *old == hash {
                    out.push(ItemChange::Unchanged(ItemId::new(*id)));
                    continue;
                }
            }
            // One statement inserts a new item or rewrites a changed one;
            // created_at is kept on update.
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO items (source_id, kind, external_id, title, body, url, lang, published_at,
                   tlp, tags, extra, content_hash, created_at, updated_at, fts)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, to_tsvector('simple', $14))
                 ON CONFLICT (source_id, external_id) DO UPDATE SET kind = EXCLUDED.kind,
                   title = EXCLUDED.title, body = EXCLUDED.body, url = EXCLUDED.url, lang = EXCLUDED.lang,
                   published_at = EXCLUDED.published_at, tlp = EXCLUDED.tlp, tags = EXCLUDED.tags,
                   extra = EXCLUDED.extra, content_hash = EXCLUDED.content_hash,
                   updated_at = EXCLUDED.updated_at, fts = EXCLUDED.fts
                 RETURNING id",
            )
            .bind(source.get())
            .bind(item.kind.as_str())
            .bind(&item.external_id)
            .bind(&item.title)
            .bind(&item.body)
            .bind(&item.url)
            .bind(&item.lang)
            .bind(item.published_at.map(unix_micros))
            .bind(item.tlp.rank())
            .bind(json(&item.tags))
            .bind(json(&item.extra))
            .bind(&hash)
            .bind(stamp)
            .bind(index_text(&[&item.title, &item.body]))
            .fetch_one(&mut *tx)
            .await?;
            out.push(if existing.is_some() {
                ItemChange::Updated(ItemId::new(id))
            } else {
                ItemChange::New(ItemId::new(id))
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn item(&self, id: ItemId) -> Result<Option<Item>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE id = $1"
        )))
        .bind(id.get())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(item_from_row)
        .transpose()
    }

    async fn search_items(&self, query: &ItemQuery) -> Result<Page<Item>> {
        let limit = page_size(query.limit);
        let text = match query
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            Some(t) => match TextQuery::parse(t) {
                Some(tq) => Some(tq.to_tsquery()),
                None => {
                    return Ok(Page {
                        items: Vec::new(),
                        next: None,
                    });
                }
            },
            None => None,
        };
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ITEM_COLUMNS} FROM items
             WHERE ($1::text IS NULL OR fts @@ to_tsquery('simple', $1))
               AND ($2::text IS NULL OR kind = $2) AND ($3::int8 IS NULL OR source_id = $3)
               AND ($4::int2 IS NULL OR tlp <= $4) AND ($5::int8 IS NULL OR id < $5)
             ORDER BY id DESC LIMIT $6"
        )))
        .bind(text)
        .bind(query.kind.map(rexist_core::ItemKind::as_str))
        .bind(query.source.map(SourceId::get))
        .bind(query.max_tlp.map(rexist_core::Tlp::rank))
        .bind(query.before.map(ItemId::get))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.read)
        .await?;
        let items = rows.iter().map(item_from_row).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, limit, |i| i.id.to_string()))
    }

    async fn upsert_sightings(
        &self,
        source: &Source,
        sightings: &[NewSighting],
    ) -> Result<UpsertSummary> {
        let rows: Vec<(NewSighting, i64)> = sightings
            .iter()
            .map(|s| (s.clone(), s.item_id.map_or(0, ItemId::get)))
            .collect();
        let mut tx = self.pool.begin().await?;
        let (summary, _) = Self::upsert_rows(&mut tx, source, rows).await?;
        tx.commit().await?;
        Ok(summary)
    }

    async fn record_mentions(
        &self,
        source: &Source,
        item: ItemId,
        mentions: &[Mention],
    ) -> Result<UpsertSummary> {
        let seen_at = now();
        let rows: Vec<(NewSighting, i64)> = mentions
            .iter()
            .map(|m| {
                let s = NewSighting {
                    item_id: Some(item),
                    ..NewSighting::new(m.indicator.clone(), seen_at)
                };
                (s, item.get())
            })
            .collect();
        let mut tx = self.pool.begin().await?;
        let (summary, ids) = Self::upsert_rows(&mut tx, source, rows).await?;
        let starts: Vec<i32> = mentions
            .iter()
            .map(|m| i32::try_from(m.start).unwrap_or(i32::MAX))
            .collect();
        let ends: Vec<i32> = mentions
            .iter()
            .map(|m| i32::try_from(m.end).unwrap_or(i32::MAX))
            .collect();
        let defanged: Vec<bool> = mentions.iter().map(|m| m.defanged).collect();
        sqlx::query(
            "INSERT INTO mentions (item_id, indicator_id, start_offset, end_offset, defanged)
             SELECT $1, i, s, e, d FROM unnest($2::int8[], $3::int4[], $4::int4[], $5::bool[]) AS u(i, s, e, d)
             ORDER BY i, s
             ON CONFLICT DO NOTHING",
        )
        .bind(item.get())
        .bind(&ids)
        .bind(&starts)
        .bind(&ends)
        .bind(&defanged)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(summary)
    }

    async fn mark_unlisted(&self, source: SourceId, before: time::OffsetDateTime) -> Result<u64> {
        retire::mark_unlisted(&self.pool, source, before).await
    }

    async fn retire_sightings(&self, source: &Source, retractions: &[Retraction]) -> Result<u64> {
        if retractions.is_empty() {
            return Ok(0);
        }
        retire::retire_sightings(&self.pool, source, retractions).await
    }

    async fn retire_item_sightings(
        &self,
        source: &Source,
        item: ItemId,
        keep: &[Indicator],
        reason: RetractReason,
        at: time::OffsetDateTime,
    ) -> Result<u64> {
        retire::retire_item_sightings(&self.pool, source, item, keep, reason, at).await
    }

    async fn retire_expired(&self, at: time::OffsetDateTime) -> Result<u64> {
        retire::retire_expired(&self.pool, at).await
    }

    async fn add_relations(&self, source: &Source, relations: &[NewRelation]) -> Result<u64> {
        let ends: Vec<(NewSighting, i64)> = relation_ends(relations)
            .into_iter()
            .map(|s| (s, 0))
            .collect();
        let mut tx = self.pool.begin().await?;
        let (_, ids) = Self::upsert_rows(&mut tx, source, ends).await?;
        // Deduplicated and sorted: one row per key per statement, and the lock order.
        let mut rows: BTreeMap<(i64, i64, &str), (i64, i64)> = BTreeMap::new();
        for (r, pair) in relations.iter().zip(ids.chunks(2)) {
            let seen = unix_micros(r.seen_at);
            rows.entry((pair[0], pair[1], r.kind.as_str()))
                .and_modify(|(first, last)| {
                    *first = (*first).min(seen);
                    *last = (*last).max(seen);
                })
                .or_insert((seen, seen));
        }
        let (mut from, mut to, mut kinds, mut firsts, mut lasts) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for ((f, t, k), (first, last)) in &rows {
            from.push(*f);
            to.push(*t);
            kinds.push(*k);
            firsts.push(*first);
            lasts.push(*last);
        }
        let inserted: Vec<bool> = sqlx::query_scalar(
            "INSERT INTO relations (from_id, to_id, kind, source_id, first_seen, last_seen)
             SELECT f, t, k, $1, fs, ls
             FROM unnest($2::int8[], $3::int8[], $4::text[], $5::int8[], $6::int8[]) AS u(f, t, k, fs, ls)
             ORDER BY f, t, k
             ON CONFLICT (from_id, to_id, kind, source_id) DO UPDATE SET
               first_seen = LEAST(relations.first_seen, EXCLUDED.first_seen),
               last_seen = GREATEST(relations.last_seen, EXCLUDED.last_seen)
             RETURNING (xmax = 0)",
        )
        .bind(source.id.get())
        .bind(&from)
        .bind(&to)
        .bind(&kinds)
        .bind(&firsts)
        .bind(&lasts)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(inserted.into_iter().filter(|&b| b).count() as u64)
    }

    async fn relations_of(&self, indicator: IndicatorId) -> Result<Vec<Relation>> {
        let rows: Vec<(i64, i64, String, i64, i64, i64)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {RELATION_COLUMNS} FROM relations WHERE from_id = $1 OR to_id = $1
             ORDER BY last_seen DESC, id DESC"
        )))
        .bind(indicator.get())
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(from_id, to_id, kind, source_id, first_seen, last_seen)| {
                RelationRow {
                    from_id,
                    to_id,
                    kind,
                    source_id,
                    first_seen,
                    last_seen,
                }
                .decode()
            })
            .collect())
    }

    async fn indicator(&self, kind: IndicatorType, value: &str) -> Result<Option<IndicatorRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {INDICATOR_COLUMNS} FROM indicators WHERE value = $1 AND kind = $2"
        )))
        .bind(value)
        .bind(kind.as_str())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(indicator_from_row)
        .transpose()
    }

    async fn list_indicators(&self, query: &IndicatorQuery) -> Result<Page<IndicatorRecord>> {
        let limit = page_size(query.limit);
        let after = query.after.as_deref().map(decode_cursor).transpose()?;
        let (after_value, after_kind) = after.unzip();
        let upper = query.prefix.as_deref().map(crate::types::prefix_end);
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {INDICATOR_COLUMNS} FROM indicators
             WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR value = $2)
               AND ($3::text IS NULL OR (value >= $3 AND value < $4))
               AND ($5::text IS NULL OR status = $5) AND ($6::int2 IS NULL OR tlp <= $6)
               AND ($7::text IS NULL OR value > $7 OR (value = $7 AND kind > $8))
               AND ($10::text IS NULL OR EXISTS (SELECT 1 FROM sightings s JOIN sources src ON src.id = s.source_id
                                                 WHERE s.indicator_id = indicators.id AND src.name = $10))
             ORDER BY value, kind LIMIT $9"
        )))
        .bind(query.kind.map(IndicatorType::as_str))
        .bind(&query.value)
        .bind(&query.prefix)
        .bind(upper)
        .bind(query.status.map(rexist_core::IndicatorStatus::as_str))
        .bind(query.max_tlp.map(rexist_core::Tlp::rank))
        .bind(after_value)
        .bind(after_kind)
        .bind(i64::from(limit) + 1)
        .bind(&query.source)
        .fetch_all(&self.read)
        .await?;
        let items = rows
            .iter()
            .map(indicator_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_overfetch(items, limit, |i| {
            encode_cursor(&i.value, i.kind)
        }))
    }

    async fn indicators_at_or_below(
        &self,
        query: &crate::DomainQuery,
    ) -> Result<Page<IndicatorRecord>> {
        watch::indicators_at_or_below(&self.read, query).await
    }

    async fn sightings_of(&self, indicator: IndicatorId) -> Result<Vec<Sighting>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {SIGHTING_COLUMNS} FROM sightings WHERE indicator_id = $1 ORDER BY last_seen DESC, id DESC"
        )))
        .bind(indicator.get())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(sighting_from_row)
        .collect()
    }

    async fn report_times(
        &self,
        indicator: IndicatorId,
        max_tlp: rexist_core::Tlp,
    ) -> Result<Vec<crate::ReportTime>> {
        lookup::report_times(&self.read, indicator, max_tlp).await
    }

    async fn recent_indicators(
        &self,
        query: &crate::RecentQuery,
    ) -> Result<crate::Counted<IndicatorRecord>> {
        listing::recent_indicators(&self.read, query).await
    }

    async fn item_sightings(
        &self,
        query: &crate::ItemSightingQuery,
    ) -> Result<crate::Counted<(Sighting, IndicatorRecord)>> {
        listing::item_sightings(&self.read, query).await
    }

    async fn indicator_by_id(&self, id: IndicatorId) -> Result<Option<IndicatorRecord>> {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT {INDICATOR_COLUMNS} FROM indicators WHERE id = $1"
        )))
        .bind(id.get())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(indicator_from_row)
        .transpose()
    }

    async fn connected(&self, query: &crate::ConnectedQuery) -> Result<Vec<crate::Connected>> {
        lookup::connected(&self.read, query).await
    }

    async fn indicators_by_values(
        &self,
        keys: &[(IndicatorType, String)],
    ) -> Result<Vec<IndicatorRecord>> {
        lookup::indicators_by_values(&self.read, keys).await
    }

    async fn items_by_id(&self, ids: &[ItemId]) -> Result<Vec<Item>> {
        lookup::items_by_id(&self.read, ids).await
    }

    async fn mentions_of(&self, indicator: IndicatorId, limit: u32) -> Result<Vec<MentionRef>> {
        lookup::mentions_of(&self.read, indicator, limit).await
    }

    async fn co_occurring(
        &self,
        indicator: IndicatorId,
        limit: u32,
        max_tlp: rexist_core::Tlp,
    ) -> Result<Vec<CoOccurrence>> {
        lookup::co_occurring(&self.read, indicator, limit, max_tlp).await
    }

    async fn hits_of(&self, object: HitObject) -> Result<Vec<HuntHit>> {
        lookup::hits_of(&self.pool, object).await
    }

    async fn expire_indicators(&self, lifetimes: &[(IndicatorType, Duration)]) -> Result<u64> {
        lookup::expire_indicators(&self.pool, lifetimes).await
    }

    async fn flag_indicators(&self, flags: &[(IndicatorType, String, String)]) -> Result<u64> {
        if flags.is_empty() {
            return Ok(0);
        }
        lookup::flag_indicators(&self.pool, flags).await
    }

    async fn create_hunt(&self, spec: &HuntSpec) -> Result<Hunt> {
        hunts::create_hunt(&self.pool, spec).await
    }

    async fn update_hunt(&self, id: HuntId, spec: &HuntSpec) -> Result<Option<Hunt>> {
        hunts::update_hunt(&self.pool, id, spec).await
    }

    async fn delete_hunt(&self, id: HuntId) -> Result<bool> {
        hunts::delete_hunt(&self.pool, id).await
    }

    async fn hunt(&self, id: HuntId) -> Result<Option<Hunt>> {
        hunts::hunt_by_id(&self.pool, id).await
    }

    async fn hunt_by_name(&self, name: &str) -> Result<Option<Hunt>> {
        hunts::hunt_by_name(&self.pool, name).await
    }

    async fn list_hunts(&self) -> Result<Vec<Hunt>> {
        hunts::list_hunts(&self.pool).await
    }

    async fn hunts_revision(&self) -> Result<String> {
        hunts::hunts_revision(&self.pool).await
    }

    async fn record_hits(&self, hits: &[NewHit]) -> Result<Vec<HuntHit>> {
        if hits.is_empty() {
            return Ok(Vec::new());
        }
        hunts::record_hits(&self.pool, hits).await
    }

    async fn list_hits(&self, query: &HitQuery) -> Result<Page<HuntHit>> {
        hunts::list_hits(&self.pool, query).await
    }

    async fn hits_by_id(&self, ids: &[HitId]) -> Result<Vec<HuntHit>> {
        hunts::hits_by_id(&self.pool, ids).await
    }

    async fn ack_hits(&self, ids: &[HitId], hunt: Option<HuntId>, by: &str) -> Result<u64> {
        hunts::ack_hits(&self.pool, ids, hunt, by).await
    }

    async fn triage_hits(&self, ids: &[HitId], change: &rexist_core::TriageChange) -> Result<u64> {
        hunts::triage_hits(&self.pool, ids, change).await
    }

    async fn hit_triage_log(&self, hit: HitId) -> Result<Vec<rexist_core::TriageEntry>> {
        hunts::hit_triage_log(&self.pool, hit).await
    }

    async fn queue_digest(&self, hunt: HuntId, retro: bool) -> Result<u64> {
        hunts::queue_digest(&self.pool, hunt, retro).await
    }

    async fn lease_alert(
        &self,
        worker: &str,
        channels: &[&str],
        lease: Duration,
    ) -> Result<Option<Alert>> {
        hunts::lease_alert(&self.pool, worker, channels, lease).await
    }

    async fn complete_alert(&self, id: AlertId, worker: &str) -> Result<bool> {
        hunts::complete_alert(&self.pool, id, worker).await
    }

    async fn fail_alert(
        &self,
        id: AlertId,
        worker: &str,
        error: &str,
        retry_in: Option<Duration>,
    ) -> Result<bool> {
        hunts::fail_alert(&self.pool, id, worker, error, retry_in).await
    }

    async fn list_alerts(&self, query: &AlertQuery) -> Result<Page<Alert>> {
        hunts::list_alerts(&self.pool, query).await
    }

    async fn channel_health(&self) -> Result<Vec<ChannelHealth>> {
        hunts::channel_health(&self.pool).await
    }

    async fn export_indicators(&self, query: &ExportQuery) -> Result<Vec<ExportRow>> {
        sharing::export_indicators(&self.read, query).await
    }

    async fn create_user(&self, name: &str, password_hash: &str, role: Role) -> Result<User> {
        sharing::create_user(&self.pool, name, password_hash, role).await
    }

    async fn user_credentials(&self, name: &str) -> Result<Option<(User, String)>> {
        sharing::user_credentials(&self.pool, name).await
    }

    async fn update_user(&self, name: &str, change: &UserChange) -> Result<Option<User>> {
        sharing::update_user(&self.pool, name, change).await
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        sharing::list_users(&self.pool).await
    }

    async fn create_token(&self, token: &NewToken) -> Result<ApiToken> {
        sharing::create_token(&self.pool, token).await
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>> {
        sharing::token_by_hash(&self.pool, hash).await
    }

    async fn touch_token(&self, id: i64) -> Result<()> {
        sharing::touch_token(&self.pool, id).await
    }

    async fn list_tokens(&self) -> Result<Vec<ApiToken>> {
        sharing::list_tokens(&self.pool).await
    }

    async fn revoke_token(&self, kind: &str, name: &str) -> Result<u64> {
        sharing::revoke_token(&self.pool, kind, name).await
    }

    async fn end_session(&self, hash: &str) -> Result<bool> {
        sharing::end_session(&self.pool, hash).await
    }

    async fn record_audit(&self, entry: &NewAudit) -> Result<()> {
        sharing::record_audit(&self.pool, entry).await
    }

    async fn prune_audit(&self, before: time::OffsetDateTime) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM audit WHERE at < $1")
            .bind(unix_micros(before))
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    async fn list_audit(&self, before: Option<i64>, limit: u32) -> Result<Page<AuditEntry>> {
        sharing::list_audit(&self.pool, before, limit).await
    }

    async fn activity(
        &self,
        since: time::OffsetDateTime,
        max_tlp: rexist_core::Tlp,
    ) -> Result<crate::Activity> {
        dashboard::activity(&self.read, since, max_tlp).await
    }

    async fn top_indicators(
        &self,
        limit: u32,
        max_tlp: rexist_core::Tlp,
    ) -> Result<Vec<IndicatorRecord>> {
        dashboard::top_indicators(&self.read, limit, max_tlp).await
    }

    async fn early_cves(&self, query: &crate::EarlyCveQuery) -> Result<Vec<crate::EarlyCve>> {
        dashboard::early_cves(&self.read, query).await
    }

    async fn stats(&self) -> Result<StoreStats> {
        let grouped = |sql: &'static str| async move {
            let rows: Vec<(String, i64)> = sqlx::query_as(AssertSqlSafe(sql))
                .fetch_all(&self.pool)
                .await?;
            Ok::<_, StoreError>(
                rows.into_iter()
                    .map(|(k, n)| (k, u64::try_from(n).unwrap_or(0)))
                    .collect::<Vec<_>>(),
            )
        };
        let count = |sql: &'static str| async move {
            let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
                .fetch_one(&self.pool)
                .await?;
            Ok::<_, StoreError>(u64::try_from(n).unwrap_or(0))
        };
        Ok(StoreStats {
            indicators_by_type: grouped(
                "SELECT kind, count(*) FROM indicators GROUP BY kind ORDER BY kind COLLATE \"C\"",
            )
            .await?,
            items_by_kind: grouped(
                "SELECT kind, count(*) FROM items GROUP BY kind ORDER BY kind COLLATE \"C\"",
            )
            .await?,
            sightings: count("SELECT count(*) FROM sightings").await?,
            sources: count("SELECT count(*) FROM sources").await?,
            jobs_pending: count("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')")
                .await?,
        })
    }

    async fn enqueue_job(&self, job: &NewJob) -> Result<Option<JobId>> {
        let mut tx = self.pool.begin().await?;
        let id = enqueue(&mut tx, job, unix_micros(now())).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn lease_job(
        &self,
        worker: &str,
        kinds: &[&str],
        lease: Duration,
    ) -> Result<Option<Job>> {
        if kinds.is_empty() {
            return Ok(None);
        }
        let stamp = unix_micros(now());
        let row = sqlx::query(
            "UPDATE jobs SET status = 'running', leased_by = $1, lease_until = $2, heartbeat_at = $3,
               attempts = attempts + 1
             WHERE id = (SELECT id FROM jobs WHERE kind = ANY($4)
               AND ((status = 'queued' AND run_at <= $3) OR (status = 'running' AND lease_until < $3))
               ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING id, kind, payload, attempts",
        )
        .bind(worker)
        .bind(stamp + micros(lease))
        .bind(stamp)
        .bind(kinds)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Job {
                id: JobId::new(r.try_get(0)?),
                kind: r.try_get(1)?,
                payload: r.try_get(2)?,
                attempts: u32::try_from(r.try_get::<i32, _>(3)?).unwrap_or(u32::MAX),
            })
        })
        .transpose()
    }

    async fn renew_job(&self, id: JobId, worker: &str, lease: Duration) -> Result<bool> {
        let stamp = unix_micros(now());
        let done = sqlx::query(
            "UPDATE jobs SET lease_until = $3, heartbeat_at = $4
             WHERE id = $1 AND leased_by = $2 AND status = 'running'",
        )
        .bind(id.get())
        .bind(worker)
        .bind(stamp + micros(lease))
        .bind(stamp)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_job(&self, id: JobId, worker: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'queued', run_at = $3, leased_by = NULL, lease_until = NULL,
               attempts = GREATEST(attempts - 1, 0)
             WHERE id = $1 AND leased_by = $2 AND status = 'running'",
        )
        .bind(id.get())
        .bind(worker)
        .bind(unix_micros(now()))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn complete_job(&self, id: JobId, worker: &str) -> Result<bool> {
        let done =
            sqlx::query("DELETE FROM jobs WHERE id = $1 AND leased_by = $2 AND status = 'running'")
                .bind(id.get())
                .bind(worker)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn fail_job(
        &self,
        id: JobId,
        worker: &str,
        error: &str,
        retry_in: Option<Duration>,
    ) -> Result<bool> {
        let done = match retry_in {
            Some(delay) => {
                sqlx::query(
                    "UPDATE jobs SET status = 'queued', run_at = $3, leased_by = NULL, lease_until = NULL, last_error = $4
                     WHERE id = $1 AND leased_by = $2 AND status = 'running'",
                )
                .bind(id.get())
                .bind(worker)
                .bind(unix_micros(now()) + micros(delay))
                .bind(error)
                .execute(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "UPDATE jobs SET status = 'failed', leased_by = NULL, lease_until = NULL, last_error = $3
                     WHERE id = $1 AND leased_by = $2 AND status = 'running'",
                )
                .bind(id.get())
                .bind(worker)
                .bind(error)
                .execute(&self.pool)
                .await?
            }
        };
        Ok(done.rows_affected() == 1)
    }

    async fn queue_retro_hunt(&self, hunt: HuntId, job: &NewJob) -> Result<Option<JobId>> {
        state::queue_retro_hunt(&self.pool, hunt, job).await
    }

    async fn save_retro_hunt(&self, retro: &RetroHunt) -> Result<()> {
        state::save_retro_hunt(&self.pool, retro).await
    }

    async fn retro_hunts(&self, hunt: Option<HuntId>) -> Result<Vec<RetroHunt>> {
        state::retro_hunts(&self.pool, hunt).await
    }

    async fn interrupt_stale_retro_hunts(&self, stale_after: Duration) -> Result<Vec<RetroHunt>> {
        state::interrupt_stale_retro_hunts(&self.pool, stale_after).await
    }

    async fn save_taxii_status(&self, status: &TaxiiStatus, keep: Duration) -> Result<()> {
        state::save_taxii_status(&self.pool, status, keep).await
    }

    async fn taxii_status(&self, api_root: &str, id: &str) -> Result<Option<TaxiiStatus>> {
        state::taxii_status(&self.pool, api_root, id).await
    }

    async fn list_stored_exports(&self) -> Result<Vec<crate::StoredExport>> {
        exports::list(&self.pool).await
    }

    async fn stored_export(&self, name: &str) -> Result<Option<crate::StoredExport>> {
        exports::get(&self.pool, name).await
    }

    async fn create_stored_export(
        &self,
        name: &str,
        definition: &serde_json::Value,
        by: &str,
    ) -> Result<crate::StoredExport> {
        exports::create(&self.pool, name, definition, by).await
    }

    async fn update_stored_export(
        &self,
        name: &str,
        new_name: &str,
        definition: &serde_json::Value,
        by: &str,
    ) -> Result<Option<crate::StoredExport>> {
        exports::update(&self.pool, name, new_name, definition, by).await
    }

    async fn delete_stored_export(&self, name: &str) -> Result<bool> {
        exports::delete(&self.pool, name).await
    }

    async fn cached_enrichment(
        &self,
        provider: &str,
        kind: IndicatorType,
        value: &str,
        at: time::OffsetDateTime,
    ) -> Result<Option<CachedEnrichment>> {
        state::cached_enrichment(&self.pool, provider, kind, value, at).await
    }

    async fn cache_enrichment(&self, entry: &CachedEnrichment) -> Result<()> {
        state::cache_enrichment(&self.pool, entry).await
    }

    async fn prune_enrichments(&self, at: time::OffsetDateTime) -> Result<u64> {
        state::prune_enrichments(&self.pool, at).await
    }

    async fn entity_named(&self, class: &str, keys: &[String]) -> Result<Option<ItemId>> {
        // The writer's pool: a name just added must resolve at once.
        entities::entity_named(&self.pool, class, keys).await
    }

    async fn add_entity_names(
        &self,
        entity: ItemId,
        class: &str,
        names: &[(String, String)],
    ) -> Result<u64> {
        entities::add_entity_names(&self.pool, entity, class, names).await
    }

    async fn link_entities(&self, links: &[crate::EntityLink]) -> Result<u64> {
        if links.is_empty() {
            return Ok(0);
        }
        entities::link_entities(&self.pool, links).await
    }

    async fn entities_of_items(
        &self,
        items: &[ItemId],
        max_tlp: rexist_core::Tlp,
    ) -> Result<Vec<(ItemId, Item)>> {
        entities::entities_of_items(&self.pool, items, max_tlp).await
    }

    async fn indicator_entities(
        &self,
        indicator: IndicatorId,
        max_tlp: rexist_core::Tlp,
    ) -> Result<Vec<Item>> {
        entities::indicator_entities(&self.read, indicator.get(), max_tlp).await
    }

    async fn entity_facts(
        &self,
        entity: ItemId,
        max_tlp: rexist_core::Tlp,
        limit: u32,
    ) -> Result<crate::EntityFacts> {
        entities::entity_facts(&self.read, entity, max_tlp, limit).await
    }

    async fn curations(
        &self,
        ids: &[IndicatorId],
    ) -> Result<Vec<(IndicatorId, rexist_core::Curation)>> {
        let ids: Vec<i64> = ids.iter().map(|i| i.get()).collect();
        curation::curations(&self.read, &ids, false).await
    }

    async fn curate(
        &self,
        indicator: IndicatorId,
        change: &crate::CurationChange,
    ) -> Result<Option<IndicatorRecord>> {
        curation::curate(&self.pool, indicator, change).await
    }

    async fn curate_many(
        &self,
        ids: &[IndicatorId],
        change: &crate::CurationChange,
    ) -> Result<Vec<IndicatorRecord>> {
        curation::curate_many(&self.pool, ids, change).await
    }

    async fn search_indicators(
        &self,
        query: &crate::IndicatorSearch,
    ) -> Result<Page<IndicatorRecord>> {
        search::search_indicators(&self.read, query).await
    }

    async fn indicator_facets(&self, filter: &crate::IndicatorFilter) -> Result<crate::Facets> {
        search::indicator_facets(&self.read, filter).await
    }

    async fn search_items_by(&self, query: &crate::ItemSearch) -> Result<Page<Item>> {
        search::search_items(&self.read, query).await
    }

    async fn item_facets(&self, filter: &crate::ItemFilter) -> Result<crate::Facets> {
        search::item_facets(&self.read, filter).await
    }

    async fn save_search(
        &self,
        owner: &str,
        name: &str,
        query: &str,
    ) -> Result<crate::SavedSearch> {
        search::save_search(&self.pool, owner, name, query).await
    }

    async fn saved_searches(&self, owner: &str) -> Result<Vec<crate::SavedSearch>> {
        search::saved_searches(&self.pool, owner).await
    }

    async fn delete_search(&self, owner: &str, name: &str) -> Result<bool> {
        search::delete_search(&self.pool, owner, name).await
    }

    async fn add_note(
        &self,
        target: rexist_core::NoteTarget,
        author: &str,
        text: &str,
    ) -> Result<rexist_core::Note> {
        curation::add_note(&self.pool, target, author, text).await
    }

    async fn notes(
        &self,
        target: rexist_core::NoteTarget,
        limit: u32,
    ) -> Result<Vec<rexist_core::Note>> {
        curation::notes(&self.read, target, limit).await
    }

    async fn note(&self, id: i64) -> Result<Option<(rexist_core::NoteTarget, rexist_core::Note)>> {
        curation::one_note(&self.pool, id).await
    }

    async fn delete_note(&self, id: i64) -> Result<bool> {
        curation::delete_note(&self.pool, id).await
    }

    async fn add_local_sighting(
        &self,
        indicator: IndicatorId,
        sighting: &rexist_core::NewLocalSighting,
    ) -> Result<rexist_core::LocalSighting> {
        curation::add_local_sighting(&self.pool, indicator, sighting).await
    }

    async fn local_sightings(
        &self,
        indicator: IndicatorId,
        recent: u32,
    ) -> Result<rexist_core::LocalSightings> {
        curation::local_sightings(&self.read, indicator, recent).await
    }

    async fn attribute_sightings(
        &self,
        source: SourceId,
        item: Option<ItemId>,
        indicators: &[(IndicatorType, String)],
        author: &str,
    ) -> Result<u64> {
        if indicators.is_empty() {
            return Ok(0);
        }
        curation::attribute_sightings(&self.pool, source, item, indicators, author).await
    }

    async fn stix_namespace(&self) -> Result<u128> {
        if let Some(ns) = self.stix_namespace.get() {
            return Ok(*ns);
        }
        let hex: Option<String> =
            sqlx::query_scalar("SELECT value FROM instance WHERE key = 'stix_namespace'")
                .fetch_optional(&self.pool)
                .await?;
        let ns = crate::parse_stix_namespace(hex)?;
        Ok(*self.stix_namespace.get_or_init(|| ns))
    }
}

/// Drops a schema made by [`PgStore::connect`] with `schema` (benchmarks and
/// tests clean up after themselves).
pub async fn drop_schema(url: &str, schema: &str) -> Result<()> {
    if !schema
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(StoreError::invalid(format!(
            "invalid schema name {schema:?}"
        )));
    }
    let options = PgConnectOptions::from_str(url).map_err(|e| {
        StoreError::invalid(format!("invalid PostgreSQL URL {}: {e}", redact_url(url)))
    })?;
    let mut conn = sqlx::PgConnection::connect_with(&options).await?;
    (&mut conn)
        .execute(AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE"
        )))
        .await?;
    conn.close().await?;
    Ok(())
}
