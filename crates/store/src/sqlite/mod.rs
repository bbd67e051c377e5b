//! Embedded SQLite backend: one file, WAL mode, FTS5 for full text.
//!
//! SQLite allows one writer at a time, so writes go through one connection
//! behind a mutex (two concurrent writers queue rather than fail with
//! `SQLITE_BUSY`); reads use a small pool of their own connections, which WAL
//! lets run beside the writer. All calls run on tokio's blocking pool.

mod backup;
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

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
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
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};

use crate::decode::{RELATION_COLUMNS, RelationRow, json, micros, relation_ends};
use crate::fts::{TextQuery, index_text};
use crate::types::page_size;
use crate::{
    AlertQuery, Backend, CachedEnrichment, CoOccurrence, ExportQuery, HitQuery, IndicatorQuery,
    ItemChange, ItemQuery, Job, MentionRef, NewJob, Page, Result, RetroHunt, Store, StoreError,
    StoreStats, TaxiiStatus, UserChange, migrate,
};
use rows::{
    INDICATOR_COLUMNS, ITEM_COLUMNS, RUN_COLUMNS, SIGHTING_COLUMNS, SOURCE_COLUMNS, content_hash,
    decode_cursor, encode_cursor, indicator_from_row, item_from_row, run_from_row,
    sighting_from_row, source_from_row,
};

/// Reads at once, and reader connections kept open. A read waits for a slot
/// rather than opening one more connection: under a hundred concurrent
/// lookups, opening and closing connections beyond the pool (schema parse,
/// a cold page cache each) serialised on SQLite's and malloc's locks and
/// dropped throughput to a third of one client's.
const MAX_READERS: usize = 16;

/// Page cache of the writer, KiB: bulk loads rewrite the same index pages
/// many times and gain from keeping them.
const WRITER_CACHE_KIB: i64 = 64 * 1024;

/// Page cache shared out among the readers, KiB. Each reader's cache only
/// grows, so at 64 MiB each the pool alone could hold 1 GiB under sustained
/// lookups; a lookup touches a few dozen pages, and the operating system's
/// file cache holds the rest of the database for all of them at once.
const READERS_CACHE_KIB: i64 = 64 * 1024;

/// Page cache of one reader, KiB.
#[allow(clippy::cast_possible_wrap)] // 16
const READER_CACHE_KIB: i64 = READERS_CACHE_KIB / MAX_READERS as i64;

/// A `LIMIT` written into a statement's text rather than bound: SQLite's
/// planner reads a bound limit, so rebinding one expires the prepared
/// statement and every execution compiled it again — a lookup spent more
/// time compiling its paged reads than running them.
fn sql_limit(n: u32) -> u64 {
    u64::from(n)
}

/// The SQLite store.
pub struct SqliteStore {
    path: PathBuf,
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    read_slots: Arc<tokio::sync::Semaphore>,
    /// `stix_namespace` once read: it never changes.
    stix_namespace: Arc<std::sync::OnceLock<u128>>,
}

fn open_connection(path: &Path, cache_kib: i64) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| {
        StoreError::unavailable(format!(
            "cannot open SQLite database {}: {e}",
            path.display()
        ))
    })?;
    // WAL lets readers run beside the writer; NORMAL sync is durable across
    // process crashes, which is what WAL mode guarantees with it. Checkpoints
    // every 32 MiB of WAL rather than 4 MiB: bulk loads rewrite the same
    // index pages many times, and each checkpoint copies them once.
    // 16 KiB pages (for a new database; an existing one keeps its size): the
    // value index of long URLs stays shallow and each WAL frame carries more
    // entries; `rexist bench feed` went from 77k to 123k rows/s with it.
    // Lookups run a dozen statements: parse each once per connection.
    conn.set_prepared_statement_cache_capacity(128);
    conn.execute_batch(
        "PRAGMA page_size = 16384;
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 10000;
         PRAGMA temp_store = MEMORY;
         PRAGMA wal_autocheckpoint = 8192;",
    )
    .and_then(|()| conn.pragma_update(None, "cache_size", -cache_kib))
    .map_err(|e| {
        StoreError::unavailable(format!(
            "cannot use SQLite database {}: {e}",
            path.display()
        ))
    })?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`. Call
    /// [`Store::migrate`] before use (or use [`crate::open`], which does).
    pub async fn open(path: &Path) -> Result<Self> {
        let path = path.to_path_buf();
        let p = path.clone();
        let mut writer = tokio::task::spawn_blocking(move || open_connection(&p, WRITER_CACHE_KIB))
            .await
            .map_err(|e| StoreError::internal(format!("sqlite open task: {e}")))??;
        // Another process may write the same file (`rexist demo` or an ingest run
        // beside `serve`). A deferred transaction that reads before it writes cannot
        // wait for that writer: its snapshot is stale, and SQLite fails it at once
        // with "database is locked". Taking the write lock at BEGIN waits instead
        // (up to busy_timeout); this connection only ever writes, so nothing is lost.
        writer.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        Ok(Self {
            path,
            writer: Arc::new(Mutex::new(writer)),
            readers: Arc::new(Mutex::new(Vec::new())),
            read_slots: Arc::new(tokio::sync::Semaphore::new(MAX_READERS)),
            stix_namespace: Arc::default(),
        })
    }

    /// Runs `f` on the writer connection, on the blocking pool.
    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let writer = Arc::clone(&self.writer);
        tokio::task::spawn_blocking(move || {
            let mut conn = writer
                .lock()
                .map_err(|_| StoreError::internal("sqlite writer lock poisoned"))?;
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::internal(format!("sqlite write task: {e}")))?
    }

    /// Runs `f` on a reader connection, on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let readers = Arc::clone(&self.readers);
        let path = self.path.clone();
        let slot = Arc::clone(&self.read_slots)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::internal("sqlite reader slots closed"))?;
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let idle = readers
                .lock()
                .map_err(|_| StoreError::internal("sqlite reader pool lock poisoned"))?
                .pop();
            let conn = match idle {
                Some(c) => c,
                None => open_connection(&path, READER_CACHE_KIB)?,
            };
            let result = f(&conn);
            give_back(&readers, conn);
            result
        })
        .await
        .map_err(|e| StoreError::internal(format!("sqlite read task: {e}")))?
    }

    /// Runs a bounded read (an index lookup of a few rows) on an idle reader
    /// connection on the calling thread, or as [`Self::read`] when none is
    /// idle. Handing a read of a few dozen pages to the blocking pool costs
    /// more than the read: under load, half of a lookup's server time was
    /// the kernel switching threads. Only for reads whose cost is bounded by
    /// an index and a limit — a scan would stall the async worker.
    async fn read_now<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let Ok(slot) = Arc::clone(&self.read_slots).try_acquire_owned() else {
            return self.read(f).await;
        };
        let idle = self
            .readers
            .lock()
            .map_err(|_| StoreError::internal("sqlite reader pool lock poisoned"))?
            .pop();
        let Some(conn) = idle else {
            // Opening a connection reads the schema: not on this thread.
            drop(slot);
            return self.read(f).await;
        };
        let result = f(&conn);
        give_back(&self.readers, conn);
        drop(slot);
        result
    }
}

/// Returns a reader connection to the idle pool, keeping at most
/// [`MAX_READERS`].
fn give_back(readers: &Mutex<Vec<Connection>>, conn: Connection) {
    if let Ok(mut pool) = readers.lock() {
        if pool.len() < MAX_READERS {
            pool.push(conn);
        }
    }
}

/// Relations from or to `indicator`, most recent first.
fn relations_of(conn: &Connection, indicator: IndicatorId) -> Result<Vec<Relation>> {
    let sql = format!(
        "SELECT {RELATION_COLUMNS} FROM relations WHERE from_id = ?1 OR to_id = ?1
         ORDER BY last_seen DESC, id DESC"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![indicator.get()], |r| {
        Ok(RelationRow {
            from_id: r.get(0)?,
            to_id: r.get(1)?,
            kind: r.get(2)?,
            source_id: r.get(3)?,
            first_seen: r.get(4)?,
            last_seen: r.get(5)?,
        }
        .decode())
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Sightings of `indicator`, most recent first.
fn sightings_of(conn: &Connection, indicator: IndicatorId) -> Result<Vec<Sighting>> {
    let sql = format!(
        "SELECT {SIGHTING_COLUMNS} FROM sightings WHERE indicator_id = ?1 ORDER BY last_seen DESC, id DESC"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![indicator.get()], sighting_from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Queues `job` inside `tx` unless its key is queued or running.
fn enqueue(tx: &Transaction<'_>, job: &NewJob, stamp: i64) -> Result<Option<JobId>> {
    if let Some(key) = &job.dedup_key {
        // A job that failed for good must not block a new one with its key.
        tx.execute(
            "DELETE FROM jobs WHERE dedup_key = ?1 AND status = 'failed'",
            params![key],
        )?;
    }
    let id: Option<i64> = tx
        .query_row(
            "INSERT INTO jobs (kind, payload, dedup_key, status, run_at, created_at)
             VALUES (?1, ?2, ?3, 'queued', ?4, ?5)
             ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
            params![
                job.kind,
                job.payload,
                job.dedup_key,
                stamp + micros(job.delay),
                stamp
            ],
            |r| r.get(0),
        )
        .optional()?;
    Ok(id.map(JobId::new))
}

/// What a migration needs that SQLite's SQL cannot do, in its transaction.
fn after_migration(tx: &Transaction<'_>, version: i64) -> rusqlite::Result<()> {
    if version == 11 {
        fill_reversed_hosts(tx)?;
    }
    Ok(())
}

/// Fills `rhost` of the domain and e-mail rows stored before it existed
/// (migration 11), a page of rows by id at a time.
fn fill_reversed_hosts(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let mut read = tx.prepare(
        "SELECT id, kind, value FROM indicators
         WHERE id > ?1 AND kind IN ('domain', 'email') ORDER BY id LIMIT 10000",
    )?;
    let mut write = tx.prepare("UPDATE indicators SET rhost = ?2 WHERE id = ?1")?;
    let mut after = 0i64;
    loop {
        let rows: Vec<(i64, String, String)> = read
            .query_map(params![after], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.0;
        for (id, kind, value) in &rows {
            let key = kind
                .parse::<IndicatorType>()
                .ok()
                .and_then(|k| crate::types::reversed_host(k, value));
            write.execute(params![id, key])?;
        }
    }
}

/// Outcome of one sighting upsert inside a transaction.
struct OneSighting {
    indicator: IndicatorId,
    new_sighting: bool,
    new_indicator: bool,
}

/// Upserts one sighting; the caller holds the write transaction.
///
/// A point lookup first, then plain statements: a new indicator (the bulk of
/// a first load) costs one index probe and two inserts, with no upsert and no
/// `RETURNING`, both of which make SQLite buffer rows and journal statements.
fn upsert_one(
    tx: &Transaction<'_>,
    source: &Source,
    s: &NewSighting,
    item_id: i64,
) -> Result<OneSighting> {
    let seen = unix_micros(s.seen_at);
    let confidence = s.confidence.unwrap_or(source.confidence);
    let tlp = s.tlp.unwrap_or(source.tlp).rank();
    let kind = s.indicator.kind().as_str();
    let value = s.indicator.value();
    let existing: Option<i64> = tx
        .prepare_cached("SELECT id FROM indicators WHERE value = ?1 AND kind = ?2")?
        .query_row(params![value, kind], |r| r.get(0))
        .optional()?;
    let expires = s.valid_until.map(unix_micros);
    let insert_sighting = |indicator: i64| -> Result<usize> {
        Ok(tx
            .prepare_cached(
                "INSERT INTO sightings (indicator_id, source_id, item_id, first_seen, last_seen, confidence, tlp, labels, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (indicator_id, source_id, item_id) DO NOTHING",
            )?
            .execute(params![indicator, source.id.get(), item_id, seen, confidence, tlp, json(&s.labels), expires])?)
    };
    let Some(indicator) = existing else {
        tx.prepare_cached(
            "INSERT INTO indicators (kind, value, first_seen, last_seen, sightings, score, tlp, status, added, rhost)
             VALUES (?1, ?2, ?3, ?3, 1, ?4, ?5, 'active', ?6, ?7)",
        )?
        .execute(params![
            kind,
            value,
            seen,
            confidence,
            tlp,
            unix_micros(time::OffsetDateTime::now_utc()),
            crate::types::reversed_host(s.indicator.kind(), value)
        ])?;
        let indicator = tx.last_insert_rowid();
        insert_sighting(indicator)?;
        return Ok(OneSighting {
            indicator: IndicatorId::new(indicator),
            new_sighting: true,
            new_indicator: true,
        });
    };
    let inserted = insert_sighting(indicator)? == 1;
    if !inserted {
        tx.prepare_cached(
            // A new report lists it again, ends its retirement and sets its validity.
            "UPDATE sightings SET last_seen = max(last_seen, ?4), listed = 1,
               retired_at = NULL, retired_reason = NULL, expires_at = ?5
             WHERE indicator_id = ?1 AND source_id = ?2 AND item_id = ?3",
        )?
        .execute(params![indicator, source.id.get(), item_id, seen, expires])?;
    }
    // A new sighting revives an expired or retired indicator; every sighting
    // widens its seen range.
    // An analyst's score override holds the score, and a TLP raise is a
    // floor no report lowers it below.
    tx.prepare_cached(
        "UPDATE indicators SET sightings = sightings + ?2, first_seen = min(first_seen, ?3),
           last_seen = max(last_seen, ?3),
           score = CASE WHEN score_override IS NULL THEN max(score, ?4) ELSE score END,
           tlp = max(min(tlp, ?5), coalesce(tlp_floor, 0)),
           status_reason = CASE WHEN status IN ('expired', 'retired') THEN NULL ELSE status_reason END,
           status = CASE WHEN status IN ('expired', 'retired') THEN 'active' ELSE status END
         WHERE id = ?1",
    )?
    .execute(params![
        indicator,
        i64::from(inserted),
        seen,
        confidence,
        tlp
    ])?;
    Ok(OneSighting {
        indicator: IndicatorId::new(indicator),
        new_sighting: inserted,
        new_indicator: false,
    })
}

fn tally(summary: &mut UpsertSummary, one: &OneSighting) {
    if one.new_sighting {
        summary.new += 1;
    } else {
        summary.unchanged += 1;
    }
    if one.new_indicator {
        summary.new_indicators += 1;
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn backup(&self, dest: &Path) -> Result<u64> {
        backup::run(self, dest).await
    }

    async fn migrate(&self) -> Result<usize> {
        self.write(|conn| {
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
            )?;
            let recorded: Vec<i64> = conn
                .prepare("SELECT version FROM schema_migrations")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let pending = migrate::pending(migrate::SQLITE, &recorded)?;
            let mut applied = 0;
            for m in pending {
                let tx = conn.transaction()?;
                tx.execute_batch(m.sql)
                    .and_then(|()| after_migration(&tx, m.version))
                    .map_err(|e| {
                        StoreError::unavailable(format!("migration {} failed: {e}", m.version))
                    })?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                    params![m.version, unix_micros(now())],
                )?;
                tx.commit()?;
                applied += 1;
            }
            Ok(applied)
        })
        .await
    }

    async fn upsert_source(&self, spec: &SourceSpec) -> Result<Source> {
        let spec = spec.clone();
        self.write(move |conn| {
            let sql = format!(
                "INSERT INTO sources (name, kind, enabled, confidence, tlp, tags, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, enabled = excluded.enabled,
                   confidence = excluded.confidence, tlp = excluded.tlp, tags = excluded.tags
                 RETURNING {SOURCE_COLUMNS}"
            );
            let source = conn.query_row(
                &sql,
                params![
                    spec.name,
                    spec.kind,
                    spec.enabled,
                    spec.confidence,
                    spec.tlp.rank(),
                    json(&spec.tags),
                    unix_micros(now())
                ],
                source_from_row,
            )?;
            Ok(source)
        })
        .await
    }

    async fn source_by_name(&self, name: &str) -> Result<Option<Source>> {
        let name = name.to_owned();
        self.read(move |conn| {
            let sql = format!("SELECT {SOURCE_COLUMNS} FROM sources WHERE name = ?1");
            Ok(conn
                .prepare_cached(&sql)?
                .query_row(params![name], source_from_row)
                .optional()?)
        })
        .await
    }

    async fn source(&self, id: SourceId) -> Result<Option<Source>> {
        self.read(move |conn| {
            let sql = format!("SELECT {SOURCE_COLUMNS} FROM sources WHERE id = ?1");
            Ok(conn
                .prepare_cached(&sql)?
                .query_row(params![id.get()], source_from_row)
                .optional()?)
        })
        .await
    }

    async fn list_sources(&self) -> Result<Vec<Source>> {
        self.read_now(|conn| {
            let sql = format!("SELECT {SOURCE_COLUMNS} FROM sources ORDER BY name");
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([], source_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn set_source_enabled(&self, name: &str, enabled: bool) -> Result<bool> {
        let name = name.to_owned();
        self.write(move |conn| {
            let n = conn.execute(
                "UPDATE sources SET enabled = ?2 WHERE name = ?1",
                params![name, enabled],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn delete_source(&self, source: SourceId) -> Result<u64> {
        self.write(move |conn| delete::delete_source(conn, source.get()))
            .await
    }

    async fn start_run(&self, source: SourceId) -> Result<Run> {
        self.write(move |conn| {
            let started = unix_micros(now());
            let tx = conn.transaction()?;
            let sql = format!(
                "INSERT INTO runs (source_id, started_at, outcome, counts, heartbeat_at)
                 VALUES (?1, ?2, 'running', ?3, ?2)
                 RETURNING {RUN_COLUMNS}"
            );
            let run = tx.query_row(
                &sql,
                params![source.get(), started, json(&RunCounts::default())],
                run_from_row,
            )?;
            tx.execute(
                "UPDATE sources SET last_run_at = ?2, first_run_at = coalesce(first_run_at, ?2) WHERE id = ?1",
                params![source.get(), started],
            )?;
            tx.commit()?;
            Ok(run)
        })
        .await
    }

    async fn finish_run(
        &self,
        run: RunId,
        outcome: RunOutcome,
        counts: &RunCounts,
        cursor: Option<&str>,
        error: Option<&str>,
    ) -> Result<Run> {
        let counts = json(counts);
        let cursor = cursor.map(str::to_owned);
        let error = error.map(str::to_owned);
        self.write(move |conn| {
            let finished = unix_micros(now());
            let tx = conn.transaction()?;
            let sql = format!(
                "UPDATE runs SET finished_at = ?2, outcome = ?3, counts = ?4, cursor = ?5, error = ?6
                 WHERE id = ?1 RETURNING {RUN_COLUMNS}"
            );
            let updated = tx
                .query_row(
                    &sql,
                    params![run.get(), finished, outcome.as_str(), counts, cursor, error],
                    run_from_row,
                )
                .optional()?
                .ok_or_else(|| {
                    StoreError::new(crate::ErrorKind::NotFound, format!("no run {run}"))
                })?;
            if outcome.is_success() {
                tx.execute(
                    "UPDATE sources SET last_success_at = ?2, consecutive_failures = 0, last_error = NULL WHERE id = ?1",
                    params![updated.source_id.get(), finished],
                )?;
            } else if !matches!(outcome, RunOutcome::Running | RunOutcome::Interrupted) {
                tx.execute(
                    "UPDATE sources SET consecutive_failures = consecutive_failures + 1, last_error = ?2 WHERE id = ?1",
                    params![updated.source_id.get(), updated.error],
                )?;
            }
            tx.commit()?;
            Ok(updated)
        })
        .await
    }

    async fn heartbeat_run(&self, run: RunId, counts: &RunCounts) -> Result<bool> {
        let counts = json(counts);
        self.write(move |conn| {
            let n = conn.execute(
                "UPDATE runs SET heartbeat_at = ?2, counts = ?3 WHERE id = ?1 AND outcome = 'running'",
                params![run.get(), unix_micros(now()), counts],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn interrupt_stale_runs(&self, stale_after: Duration) -> Result<Vec<Run>> {
        self.write(move |conn| {
            let stamp = unix_micros(now());
            let sql = format!(
                "UPDATE runs SET outcome = 'interrupted', finished_at = ?1, error = ?3
                 WHERE outcome = 'running' AND coalesce(heartbeat_at, started_at) < ?2
                 RETURNING {RUN_COLUMNS}"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                params![
                    stamp,
                    stamp - micros(stale_after),
                    crate::types::interrupted_reason(stale_after)
                ],
                run_from_row,
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn list_runs(
        &self,
        source: Option<SourceId>,
        before: Option<RunId>,
        limit: u32,
    ) -> Result<Vec<Run>> {
        let limit = page_size(limit);
        self.read(move |conn| {
            let sql = format!(
                "SELECT {RUN_COLUMNS} FROM runs
                 WHERE (?1 IS NULL OR source_id = ?1) AND (?2 IS NULL OR id < ?2)
                 ORDER BY id DESC LIMIT {}",
                sql_limit(limit)
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                params![source.map(SourceId::get), before.map(RunId::get)],
                run_from_row,
            )?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn last_cursor(&self, source: SourceId) -> Result<Option<String>> {
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT cursor FROM runs WHERE source_id = ?1 AND cursor IS NOT NULL
                     AND outcome IN ('success', 'not_modified', 'partial')
                     ORDER BY id DESC LIMIT 1",
                    params![source.get()],
                    |r| r.get(0),
                )
                .optional()?)
        })
        .await
    }

    async fn upsert_items(&self, source: SourceId, items: &[NewItem]) -> Result<Vec<ItemChange>> {
        let items = items.to_vec();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let mut out = Vec::with_capacity(items.len());
            let stamp = unix_micros(now());
            for item in &items {
                let hash = content_hash(item);
                let existing: Option<(i64, String)> = tx
                    .prepare_cached(
                        "SELECT id, content_hash FROM items WHERE source_id = ?1 AND external_id = ?2",
                    )?
                    .query_row(params![source.get(), item.external_id], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()?;
                if let Some((id, old)) = &existing {
                    if *old == hash {
                        out.push(ItemChange::Unchanged(ItemId::new(*id)));
                        continue;
                    }
                }
                // One statement inserts a new item or rewrites a changed one;
                // created_at is kept on update.
                let id: i64 = tx
                    .prepare_cached(
                        "INSERT INTO items (source_id, kind, external_id, title, body, url, lang,
                           published_at, tlp, tags, extra, content_hash, created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)
                         ON CONFLICT (source_id, external_id) DO UPDATE SET kind = excluded.kind,
                           title = excluded.title, body = excluded.body, url = excluded.url,
                           lang = excluded.lang, published_at = excluded.published_at, tlp = excluded.tlp,
                           tags = excluded.tags, extra = excluded.extra,
                           content_hash = excluded.content_hash, updated_at = excluded.updated_at
                         RETURNING id",
                    )?
                    .query_row(
                        params![
                            source.get(),
                            item.kind.as_str(),
                            item.external_id,
                            item.title,
                            item.body,
                            item.url,
                            item.lang,
                            item.published_at.map(unix_micros),
                            item.tlp.rank(),
                            json(&item.tags),
                            json(&item.extra),
                            hash,
                            stamp
                        ],
                        |r| r.get(0),
                    )?;
                if existing.is_some() {
                    tx.prepare_cached("DELETE FROM items_fts WHERE rowid = ?1")?
                        .execute(params![id])?;
                }
                tx.prepare_cached("INSERT INTO items_fts (rowid, tokens) VALUES (?1, ?2)")?
                    .execute(params![id, index_text(&[&item.title, &item.body])])?;
                out.push(if existing.is_some() {
                    ItemChange::Updated(ItemId::new(id))
                } else {
                    ItemChange::New(ItemId::new(id))
                });
            }
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    async fn item(&self, id: ItemId) -> Result<Option<Item>> {
        self.read(move |conn| {
            let sql = format!("SELECT {ITEM_COLUMNS} FROM items WHERE id = ?1");
            Ok(conn
                .prepare_cached(&sql)?
                .query_row(params![id.get()], item_from_row)
                .optional()?)
        })
        .await
    }

    async fn search_items(&self, query: &ItemQuery) -> Result<Page<Item>> {
        let q = query.clone();
        let limit = page_size(q.limit);
        let text = match q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => match TextQuery::parse(t) {
                Some(tq) => Some(tq.to_fts5()),
                // Only punctuation: nothing can match.
                None => {
                    return Ok(Page {
                        items: Vec::new(),
                        next: None,
                    });
                }
            },
            None => None,
        };
        self.read(move |conn| {
            let fts_clause = if text.is_some() {
                "AND id IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ?1)"
            } else {
                "AND ?1 IS NULL"
            };
            let sql = format!(
                "SELECT {ITEM_COLUMNS} FROM items
                 WHERE (?2 IS NULL OR kind = ?2) AND (?3 IS NULL OR source_id = ?3)
                   AND (?4 IS NULL OR tlp <= ?4) AND (?5 IS NULL OR id < ?5) {fts_clause}
                 ORDER BY id DESC LIMIT {}",
                sql_limit(limit) + 1
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                params![
                    text,
                    q.kind.map(rexist_core::ItemKind::as_str),
                    q.source.map(SourceId::get),
                    q.max_tlp.map(rexist_core::Tlp::rank),
                    q.before.map(ItemId::get),
                ],
                item_from_row,
            )?;
            let items = rows.collect::<Result<Vec<_>, _>>()?;
            Ok(Page::from_overfetch(items, limit, |i| i.id.to_string()))
        })
        .await
    }

    async fn upsert_sightings(
        &self,
        source: &Source,
        sightings: &[NewSighting],
    ) -> Result<UpsertSummary> {
        let source = source.clone();
        let mut sightings = sightings.to_vec();
        crate::retire::latest_validity(sightings.iter_mut());
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut summary = UpsertSummary::default();
            // In key order: consecutive inserts land on neighbouring, already
            // cached pages of the value index instead of a random page each.
            let mut order: Vec<&NewSighting> = sightings.iter().collect();
            order.sort_unstable_by(|a, b| {
                (a.indicator.value(), a.indicator.kind())
                    .cmp(&(b.indicator.value(), b.indicator.kind()))
            });
            for s in order {
                let item = s.item_id.map_or(0, ItemId::get);
                let one = upsert_one(&tx, &source, s, item)?;
                tally(&mut summary, &one);
            }
            tx.commit()?;
            Ok(summary)
        })
        .await
    }

    async fn record_mentions(
        &self,
        source: &Source,
        item: ItemId,
        mentions: &[Mention],
    ) -> Result<UpsertSummary> {
        let source = source.clone();
        let mentions = mentions.to_vec();
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut summary = UpsertSummary::default();
            let seen_at = now();
            for m in &mentions {
                let sighting = NewSighting {
                    item_id: Some(item),
                    ..NewSighting::new(m.indicator.clone(), seen_at)
                };
                let one = upsert_one(&tx, &source, &sighting, item.get())?;
                tally(&mut summary, &one);
                tx.prepare_cached(
                    "INSERT INTO mentions (item_id, indicator_id, start_offset, end_offset, defanged)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                )?
                .execute(params![item.get(), one.indicator.get(), m.start, m.end, m.defanged])?;
            }
            tx.commit()?;
            Ok(summary)
        })
        .await
    }

    async fn mark_unlisted(&self, source: SourceId, before: time::OffsetDateTime) -> Result<u64> {
        self.write(move |conn| retire::mark_unlisted(conn, source, before))
            .await
    }

    async fn retire_sightings(&self, source: &Source, retractions: &[Retraction]) -> Result<u64> {
        if retractions.is_empty() {
            return Ok(0);
        }
        let source = source.clone();
        let retractions = retractions.to_vec();
        self.write(move |conn| retire::retire_sightings(conn, &source, &retractions))
            .await
    }

    async fn retire_item_sightings(
        &self,
        source: &Source,
        item: ItemId,
        keep: &[Indicator],
        reason: RetractReason,
        at: time::OffsetDateTime,
    ) -> Result<u64> {
        let source = source.clone();
        let keep = keep.to_vec();
        self.write(move |conn| {
            retire::retire_item_sightings(conn, &source, item, &keep, reason, at)
        })
        .await
    }

    async fn retire_expired(&self, at: time::OffsetDateTime) -> Result<u64> {
        self.write(move |conn| retire::retire_expired(conn, at))
            .await
    }

    async fn add_relations(&self, source: &Source, relations: &[NewRelation]) -> Result<u64> {
        let source = source.clone();
        let relations = relations.to_vec();
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let ids = relation_ends(&relations)
                .iter()
                .map(|s| upsert_one(&tx, &source, s, 0).map(|o| o.indicator.get()))
                .collect::<Result<Vec<i64>>>()?;
            let mut new = 0;
            for (r, pair) in relations.iter().zip(ids.chunks(2)) {
                let args = params![pair[0], pair[1], r.kind, source.id.get(), unix_micros(r.seen_at)];
                let inserted = tx
                    .prepare_cached(
                        "INSERT INTO relations (from_id, to_id, kind, source_id, first_seen, last_seen)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT DO NOTHING",
                    )?
                    .execute(args)?;
                if inserted == 1 {
                    new += 1;
                } else {
                    tx.prepare_cached(
                        "UPDATE relations SET first_seen = min(first_seen, ?5), last_seen = max(last_seen, ?5)
                         WHERE from_id = ?1 AND to_id = ?2 AND kind = ?3 AND source_id = ?4",
                    )?
                    .execute(args)?;
                }
            }
            tx.commit()?;
            Ok(new)
        })
        .await
    }

    async fn relations_of(&self, indicator: IndicatorId) -> Result<Vec<Relation>> {
        self.read(move |conn| relations_of(conn, indicator)).await
    }

    async fn indicator(&self, kind: IndicatorType, value: &str) -> Result<Option<IndicatorRecord>> {
        let value = value.to_owned();
        self.read_now(move |conn| {
            let sql = format!(
                "SELECT {INDICATOR_COLUMNS} FROM indicators WHERE value = ?1 AND kind = ?2"
            );
            Ok(conn
                .prepare_cached(&sql)?
                .query_row(params![value, kind.as_str()], indicator_from_row)
                .optional()?)
        })
        .await
    }

    async fn list_indicators(&self, query: &IndicatorQuery) -> Result<Page<IndicatorRecord>> {
        let q = query.clone();
        let limit = page_size(q.limit);
        let after = q.after.as_deref().map(decode_cursor).transpose()?;
        self.read(move |conn| {
            // Prefix as a range on the (value, kind) index: [prefix, prefix + U+10FFFF).
            let upper = q.prefix.as_deref().map(crate::types::prefix_end);
            let sql = format!(
                "SELECT {INDICATOR_COLUMNS} FROM indicators
                 WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR value = ?2)
                   AND (?3 IS NULL OR (value >= ?3 AND value < ?4))
                   AND (?5 IS NULL OR status = ?5) AND (?6 IS NULL OR tlp <= ?6)
                   AND (?7 IS NULL OR value > ?7 OR (value = ?7 AND kind > ?8))
                   AND (?9 IS NULL OR EXISTS (SELECT 1 FROM sightings s JOIN sources src ON src.id = s.source_id
                                               WHERE s.indicator_id = indicators.id AND src.name = ?9))
                 ORDER BY value, kind LIMIT {}",
                sql_limit(limit) + 1
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let (after_value, after_kind) = after.unzip();
            let rows = stmt.query_map(
                params![
                    q.kind.map(IndicatorType::as_str),
                    q.value,
                    q.prefix,
                    upper,
                    q.status.map(rexist_core::IndicatorStatus::as_str),
                    q.max_tlp.map(rexist_core::Tlp::rank),
                    after_value,
                    after_kind,
                    q.source
                ],
                indicator_from_row,
            )?;
            let items = rows.collect::<Result<Vec<_>, _>>()?;
            Ok(Page::from_overfetch(items, limit, |i| {
                encode_cursor(&i.value, i.kind)
            }))
        })
        .await
    }

    async fn indicators_at_or_below(
        &self,
        query: &crate::DomainQuery,
    ) -> Result<Page<IndicatorRecord>> {
        let q = query.clone();
        self.read(move |conn| watch::indicators_at_or_below(conn, &q))
            .await
    }

    async fn sightings_of(&self, indicator: IndicatorId) -> Result<Vec<Sighting>> {
        self.read(move |conn| sightings_of(conn, indicator)).await
    }

    async fn report_times(
        &self,
        indicator: IndicatorId,
        max_tlp: rexist_core::Tlp,
    ) -> Result<Vec<crate::ReportTime>> {
        self.read(move |conn| lookup::report_times(conn, indicator, max_tlp))
            .await
    }

    async fn recent_indicators(
        &self,
        query: &crate::RecentQuery,
    ) -> Result<crate::Counted<IndicatorRecord>> {
        let q = query.clone();
        // A filter may scan the table: on the blocking pool.
        self.read(move |conn| listing::recent_indicators(conn, &q))
            .await
    }

    async fn item_sightings(
        &self,
        query: &crate::ItemSightingQuery,
    ) -> Result<crate::Counted<(Sighting, IndicatorRecord)>> {
        let q = query.clone();
        self.read(move |conn| listing::item_sightings(conn, &q))
            .await
    }

    async fn indicator_by_id(&self, id: IndicatorId) -> Result<Option<IndicatorRecord>> {
        self.read_now(move |conn| {
            let sql = format!("SELECT {INDICATOR_COLUMNS} FROM indicators WHERE id = ?1");
            Ok(conn
                .prepare_cached(&sql)?
                .query_row(params![id.get()], indicator_from_row)
                .optional()?)
        })
        .await
    }

    async fn indicators_by_values(
        &self,
        keys: &[(IndicatorType, String)],
    ) -> Result<Vec<IndicatorRecord>> {
        let keys = keys.to_vec();
        self.read(move |conn| lookup::indicators_by_values(conn, &keys))
            .await
    }

    async fn items_by_id(&self, ids: &[ItemId]) -> Result<Vec<Item>> {
        let ids = ids.to_vec();
        // Callers ask for a page of items at most.
        self.read_now(move |conn| lookup::items_by_id(conn, &ids))
            .await
    }

    async fn connected(&self, query: &crate::ConnectedQuery) -> Result<Vec<crate::Connected>> {
        let q = query.clone();
        // Bounded: index probes and per-prefix limits.
        self.read_now(move |conn| lookup::connected(conn, &q)).await
    }

    async fn mentions_of(&self, indicator: IndicatorId, limit: u32) -> Result<Vec<MentionRef>> {
        self.read(move |conn| lookup::mentions_of(conn, indicator, limit))
            .await
    }

    async fn co_occurring(
        &self,
        indicator: IndicatorId,
        limit: u32,
        max_tlp: rexist_core::Tlp,
    ) -> Result<Vec<CoOccurrence>> {
        self.read(move |conn| lookup::co_occurring(conn, indicator, limit, max_tlp))
            .await
    }

    async fn hits_of(&self, object: HitObject) -> Result<Vec<HuntHit>> {
        self.read(move |conn| lookup::hits_of(conn, object)).await
    }

    async fn indicator_context(
        &self,
        indicator: IndicatorId,
        items: u32,
        related: u32,
        max_tlp: rexist_core::Tlp,
    ) -> Result<crate::IndicatorContext> {
        self.read_now(move |conn| {
            Ok(crate::IndicatorContext {
                sightings: sightings_of(conn, indicator)?,
                mentions: lookup::mentions_of(conn, indicator, items)?,
                co_occurring: lookup::co_occurring(conn, indicator, related, max_tlp)?,
                relations: relations_of(conn, indicator)?,
                hits: lookup::hits_of(conn, HitObject::Indicator(indicator))?,
            })
        })
        .await
    }

    async fn expire_indicators(&self, lifetimes: &[(IndicatorType, Duration)]) -> Result<u64> {
        let lifetimes = lifetimes.to_vec();
        self.write(move |conn| lookup::expire_indicators(conn, &lifetimes))
            .await
    }

    async fn flag_indicators(&self, flags: &[(IndicatorType, String, String)]) -> Result<u64> {
        if flags.is_empty() {
            return Ok(0);
        }
        let flags = flags.to_vec();
        self.write(move |conn| lookup::flag_indicators(conn, &flags))
            .await
    }

    async fn create_hunt(&self, spec: &HuntSpec) -> Result<Hunt> {
        let spec = spec.clone();
        self.write(move |conn| hunts::create_hunt(conn, &spec))
            .await
    }

    async fn update_hunt(&self, id: HuntId, spec: &HuntSpec) -> Result<Option<Hunt>> {
        let spec = spec.clone();
        self.write(move |conn| hunts::update_hunt(conn, id, &spec))
            .await
    }

    async fn delete_hunt(&self, id: HuntId) -> Result<bool> {
        self.write(move |conn| hunts::delete_hunt(conn, id)).await
    }

    async fn hunt(&self, id: HuntId) -> Result<Option<Hunt>> {
        self.read(move |conn| hunts::hunt_where(conn, "id = ?1", &id.get()))
            .await
    }

    async fn hunt_by_name(&self, name: &str) -> Result<Option<Hunt>> {
        let name = name.to_owned();
        self.read(move |conn| hunts::hunt_where(conn, "name = ?1", &name))
            .await
    }

    async fn list_hunts(&self) -> Result<Vec<Hunt>> {
        self.read(hunts::list_hunts).await
    }

    async fn hunts_revision(&self) -> Result<String> {
        self.read(hunts::hunts_revision).await
    }

    async fn record_hits(&self, hits: &[NewHit]) -> Result<Vec<HuntHit>> {
        if hits.is_empty() {
            return Ok(Vec::new());
        }
        let hits = hits.to_vec();
        self.write(move |conn| hunts::record_hits(conn, &hits))
            .await
    }

    async fn list_hits(&self, query: &HitQuery) -> Result<Page<HuntHit>> {
        let q = query.clone();
        self.read(move |conn| hunts::list_hits(conn, &q)).await
    }

    async fn hits_by_id(&self, ids: &[HitId]) -> Result<Vec<HuntHit>> {
        let ids = ids.to_vec();
        self.read(move |conn| hunts::hits_by_id(conn, &ids)).await
    }

    async fn ack_hits(&self, ids: &[HitId], hunt: Option<HuntId>, by: &str) -> Result<u64> {
        let ids = ids.to_vec();
        let by = by.to_owned();
        self.write(move |conn| hunts::ack_hits(conn, &ids, hunt, &by))
            .await
    }

    async fn triage_hits(&self, ids: &[HitId], change: &rexist_core::TriageChange) -> Result<u64> {
        let (ids, change) = (ids.to_vec(), change.clone());
        self.write(move |conn| hunts::triage_hits(conn, &ids, &change))
            .await
    }

    async fn hit_triage_log(&self, hit: HitId) -> Result<Vec<rexist_core::TriageEntry>> {
        self.read_now(move |conn| hunts::hit_triage_log(conn, hit))
            .await
    }

    async fn queue_digest(&self, hunt: HuntId, retro: bool) -> Result<u64> {
        self.write(move |conn| hunts::queue_digest(conn, hunt, retro))
            .await
    }

    async fn lease_alert(
        &self,
        worker: &str,
        channels: &[&str],
        lease: Duration,
    ) -> Result<Option<Alert>> {
        let worker = worker.to_owned();
        let channels: Vec<String> = channels.iter().map(|c| (*c).to_owned()).collect();
        self.write(move |conn| {
            let refs: Vec<&str> = channels.iter().map(String::as_str).collect();
            hunts::lease_alert(conn, &worker, &refs, lease)
        })
        .await
    }

    async fn complete_alert(&self, id: AlertId, worker: &str) -> Result<bool> {
        let worker = worker.to_owned();
        self.write(move |conn| hunts::complete_alert(conn, id, &worker))
            .await
    }

    async fn fail_alert(
        &self,
        id: AlertId,
        worker: &str,
        error: &str,
        retry_in: Option<Duration>,
    ) -> Result<bool> {
        let worker = worker.to_owned();
        let error = error.to_owned();
        self.write(move |conn| hunts::fail_alert(conn, id, &worker, &error, retry_in))
            .await
    }

    async fn list_alerts(&self, query: &AlertQuery) -> Result<Page<Alert>> {
        let q = query.clone();
        self.read(move |conn| hunts::list_alerts(conn, &q)).await
    }

    async fn channel_health(&self) -> Result<Vec<ChannelHealth>> {
        self.read(hunts::channel_health).await
    }

    async fn export_indicators(&self, query: &ExportQuery) -> Result<Vec<ExportRow>> {
        let query = query.clone();
        self.read(move |conn| sharing::export_indicators(conn, &query))
            .await
    }

    async fn create_user(&self, name: &str, password_hash: &str, role: Role) -> Result<User> {
        let (name, hash) = (name.to_owned(), password_hash.to_owned());
        self.write(move |conn| sharing::create_user(conn, &name, &hash, role))
            .await
    }

    async fn user_credentials(&self, name: &str) -> Result<Option<(User, String)>> {
        let name = name.to_owned();
        self.read(move |conn| sharing::user_credentials(conn, &name))
            .await
    }

    async fn update_user(&self, name: &str, change: &UserChange) -> Result<Option<User>> {
        let (name, change) = (name.to_owned(), change.clone());
        self.write(move |conn| sharing::update_user(conn, &name, &change))
            .await
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        self.read(sharing::list_users).await
    }

    async fn create_token(&self, token: &NewToken) -> Result<ApiToken> {
        let token = token.clone();
        self.write(move |conn| sharing::create_token(conn, &token))
            .await
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>> {
        let hash = hash.to_owned();
        self.read_now(move |conn| sharing::token_by_hash(conn, &hash))
            .await
    }

    async fn touch_token(&self, id: i64) -> Result<()> {
        self.write(move |conn| sharing::touch_token(conn, id)).await
    }

    async fn list_tokens(&self) -> Result<Vec<ApiToken>> {
        self.read(sharing::list_tokens).await
    }

    async fn revoke_token(&self, kind: &str, name: &str) -> Result<u64> {
        let (kind, name) = (kind.to_owned(), name.to_owned());
        self.write(move |conn| sharing::revoke_token(conn, &kind, &name))
            .await
    }

    async fn end_session(&self, hash: &str) -> Result<bool> {
        let hash = hash.to_owned();
        self.write(move |conn| sharing::end_session(conn, &hash))
            .await
    }

    async fn record_audit(&self, entry: &NewAudit) -> Result<()> {
        let entry = entry.clone();
        self.write(move |conn| sharing::record_audit(conn, &entry))
            .await
    }

    async fn prune_audit(&self, before: time::OffsetDateTime) -> Result<u64> {
        self.write(move |conn| {
            Ok(conn.execute(
                "DELETE FROM audit WHERE at < ?1",
                params![unix_micros(before)],
            )? as u64)
        })
        .await
    }

    async fn list_audit(&self, before: Option<i64>, limit: u32) -> Result<Page<AuditEntry>> {
        self.read(move |conn| sharing::list_audit(conn, before, limit))
            .await
    }

    async fn activity(
        &self,
        since: time::OffsetDateTime,
        max_tlp: rexist_core::Tlp,
    ) -> Result<crate::Activity> {
        self.read(move |conn| dashboard::activity(conn, since, max_tlp))
            .await
    }

    async fn top_indicators(
        &self,
        limit: u32,
        max_tlp: rexist_core::Tlp,
    ) -> Result<Vec<IndicatorRecord>> {
        self.read(move |conn| dashboard::top_indicators(conn, limit, max_tlp))
            .await
    }

    async fn early_cves(&self, query: &crate::EarlyCveQuery) -> Result<Vec<crate::EarlyCve>> {
        let query = query.clone();
        self.read(move |conn| dashboard::early_cves(conn, &query))
            .await
    }

    async fn stats(&self) -> Result<StoreStats> {
        self.read(|conn| {
            let grouped = |sql: &str| -> Result<Vec<(String, u64)>> {
                let mut stmt = conn.prepare_cached(sql)?;
                let rows = stmt.query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                    ))
                })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            };
            let count = |sql: &str| -> Result<u64> {
                let n: i64 = conn.query_row(sql, [], |r| r.get(0))?;
                Ok(u64::try_from(n).unwrap_or(0))
            };
            Ok(StoreStats {
                indicators_by_type: grouped(
                    "SELECT kind, count(*) FROM indicators GROUP BY kind ORDER BY kind",
                )?,
                items_by_kind: grouped(
                    "SELECT kind, count(*) FROM items GROUP BY kind ORDER BY kind",
                )?,
                sightings: count("SELECT count(*) FROM sightings")?,
                sources: count("SELECT count(*) FROM sources")?,
                jobs_pending: count(
                    "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')",
                )?,
            })
        })
        .await
    }

    async fn enqueue_job(&self, job: &NewJob) -> Result<Option<JobId>> {
        let job = job.clone();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let id = enqueue(&tx, &job, unix_micros(now()))?;
            tx.commit()?;
            Ok(id)
        })
        .await
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
        let worker = worker.to_owned();
        let kinds: Vec<String> = kinds.iter().map(|k| (*k).to_owned()).collect();
        self.write(move |conn| {
            let stamp = unix_micros(now());
            let placeholders = (0..kinds.len()).map(|i| format!("?{}", i + 4)).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "UPDATE jobs SET status = 'running', leased_by = ?1, lease_until = ?2, heartbeat_at = ?3,
                   attempts = attempts + 1
                 WHERE id = (SELECT id FROM jobs WHERE kind IN ({placeholders})
                   AND ((status = 'queued' AND run_at <= ?3) OR (status = 'running' AND lease_until < ?3))
                   ORDER BY run_at, id LIMIT 1)
                 RETURNING id, kind, payload, attempts"
            );
            let mut values: Vec<rusqlite::types::Value> = vec![
                worker.into(),
                (stamp + micros(lease)).into(),
                stamp.into(),
            ];
            values.extend(kinds.into_iter().map(rusqlite::types::Value::from));
            let job = conn
                .query_row(&sql, rusqlite::params_from_iter(values), |r| {
                    Ok(Job {
                        id: JobId::new(r.get(0)?),
                        kind: r.get(1)?,
                        payload: r.get(2)?,
                        attempts: u32::try_from(r.get::<_, i64>(3)?).unwrap_or(u32::MAX),
                    })
                })
                .optional()?;
            Ok(job)
        })
        .await
    }

    async fn renew_job(&self, id: JobId, worker: &str, lease: Duration) -> Result<bool> {
        let worker = worker.to_owned();
        self.write(move |conn| {
            let stamp = unix_micros(now());
            let n = conn.execute(
                "UPDATE jobs SET lease_until = ?3, heartbeat_at = ?4
                 WHERE id = ?1 AND leased_by = ?2 AND status = 'running'",
                params![id.get(), worker, stamp + micros(lease), stamp],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn release_job(&self, id: JobId, worker: &str) -> Result<bool> {
        let worker = worker.to_owned();
        self.write(move |conn| {
            let n = conn.execute(
                "UPDATE jobs SET status = 'queued', run_at = ?3, leased_by = NULL, lease_until = NULL,
                   attempts = max(attempts - 1, 0)
                 WHERE id = ?1 AND leased_by = ?2 AND status = 'running'",
                params![id.get(), worker, unix_micros(now())],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn complete_job(&self, id: JobId, worker: &str) -> Result<bool> {
        let worker = worker.to_owned();
        self.write(move |conn| {
            let n = conn.execute(
                "DELETE FROM jobs WHERE id = ?1 AND leased_by = ?2 AND status = 'running'",
                params![id.get(), worker],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn fail_job(
        &self,
        id: JobId,
        worker: &str,
        error: &str,
        retry_in: Option<Duration>,
    ) -> Result<bool> {
        let worker = worker.to_owned();
        let error = error.to_owned();
        self.write(move |conn| {
            let stamp = unix_micros(now());
            let n = match retry_in {
                Some(delay) => conn.execute(
                    "UPDATE jobs SET status = 'queued', run_at = ?3, leased_by = NULL, lease_until = NULL, last_error = ?4
                     WHERE id = ?1 AND leased_by = ?2 AND status = 'running'",
                    params![id.get(), worker, stamp + micros(delay), error],
                )?,
                None => conn.execute(
                    "UPDATE jobs SET status = 'failed', leased_by = NULL, lease_until = NULL, last_error = ?3
                     WHERE id = ?1 AND leased_by = ?2 AND status = 'running'",
                    params![id.get(), worker, error],
                )?,
            };
            Ok(n == 1)
        })
        .await
    }

    async fn queue_retro_hunt(&self, hunt: HuntId, job: &NewJob) -> Result<Option<JobId>> {
        let job = job.clone();
        self.write(move |conn| state::queue_retro_hunt(conn, hunt, &job))
            .await
    }

    async fn save_retro_hunt(&self, retro: &RetroHunt) -> Result<()> {
        let retro = retro.clone();
        self.write(move |conn| state::save_retro_hunt(conn, &retro))
            .await
    }

    async fn retro_hunts(&self, hunt: Option<HuntId>) -> Result<Vec<RetroHunt>> {
        self.read(move |conn| state::retro_hunts(conn, hunt)).await
    }

    async fn interrupt_stale_retro_hunts(&self, stale_after: Duration) -> Result<Vec<RetroHunt>> {
        self.write(move |conn| state::interrupt_stale_retro_hunts(conn, stale_after))
            .await
    }

    async fn save_taxii_status(&self, status: &TaxiiStatus, keep: Duration) -> Result<()> {
        let status = status.clone();
        self.write(move |conn| state::save_taxii_status(conn, &status, keep))
            .await
    }

    async fn taxii_status(&self, api_root: &str, id: &str) -> Result<Option<TaxiiStatus>> {
        let (api_root, id) = (api_root.to_owned(), id.to_owned());
        self.read(move |conn| state::taxii_status(conn, &api_root, &id))
            .await
    }

    async fn list_stored_exports(&self) -> Result<Vec<crate::StoredExport>> {
        self.read(exports::list).await
    }

    async fn stored_export(&self, name: &str) -> Result<Option<crate::StoredExport>> {
        let name = name.to_owned();
        self.read(move |conn| exports::get(conn, &name)).await
    }

    async fn create_stored_export(
        &self,
        name: &str,
        definition: &serde_json::Value,
        by: &str,
    ) -> Result<crate::StoredExport> {
        let (name, definition, by) = (name.to_owned(), definition.clone(), by.to_owned());
        self.write(move |conn| exports::create(conn, &name, &definition, &by))
            .await
    }

    async fn update_stored_export(
        &self,
        name: &str,
        new_name: &str,
        definition: &serde_json::Value,
        by: &str,
    ) -> Result<Option<crate::StoredExport>> {
        let (name, new_name) = (name.to_owned(), new_name.to_owned());
        let (definition, by) = (definition.clone(), by.to_owned());
        self.write(move |conn| exports::update(conn, &name, &new_name, &definition, &by))
            .await
    }

    async fn delete_stored_export(&self, name: &str) -> Result<bool> {
        let name = name.to_owned();
        self.write(move |conn| exports::delete(conn, &name)).await
    }

    async fn cached_enrichment(
        &self,
        provider: &str,
        kind: IndicatorType,
        value: &str,
        at: time::OffsetDateTime,
    ) -> Result<Option<CachedEnrichment>> {
        let (provider, value) = (provider.to_owned(), value.to_owned());
        self.read(move |conn| state::cached_enrichment(conn, &provider, kind, &value, at))
            .await
    }

    async fn cache_enrichment(&self, entry: &CachedEnrichment) -> Result<()> {
        let entry = entry.clone();
        self.write(move |conn| state::cache_enrichment(conn, &entry))
            .await
    }

    async fn prune_enrichments(&self, at: time::OffsetDateTime) -> Result<u64> {
        self.write(move |conn| state::prune_enrichments(conn, at))
            .await
    }

    async fn entity_named(&self, class: &str, keys: &[String]) -> Result<Option<ItemId>> {
        let (class, keys) = (class.to_owned(), keys.to_vec());
        self.read_now(move |conn| entities::entity_named(conn, &class, &keys))
            .await
    }

    async fn add_entity_names(
        &self,
        entity: ItemId,
        class: &str,
        names: &[(String, String)],
    ) -> Result<u64> {
        let (class, names) = (class.to_owned(), names.to_vec());
        self.write(move |conn| entities::add_entity_names(conn, entity, &class, &names))
            .await
    }

    async fn link_entities(&self, links: &[crate::EntityLink]) -> Result<u64> {
        if links.is_empty() {
            return Ok(0);
        }
        let links = links.to_vec();
        self.write(move |conn| entities::link_entities(conn, &links))
            .await
    }

    async fn entities_of_items(
        &self,
        items: &[ItemId],
        max_tlp: rexist_core::Tlp,
    ) -> Result<Vec<(ItemId, Item)>> {
        let items = items.to_vec();
        self.read(move |conn| entities::entities_of_items(conn, &items, max_tlp))
            .await
    }

    async fn indicator_entities(
        &self,
        indicator: IndicatorId,
        max_tlp: rexist_core::Tlp,
    ) -> Result<Vec<Item>> {
        self.read(move |conn| entities::indicator_entities(conn, indicator.get(), max_tlp))
            .await
    }

    async fn entity_facts(
        &self,
        entity: ItemId,
        max_tlp: rexist_core::Tlp,
        limit: u32,
    ) -> Result<crate::EntityFacts> {
        self.read(move |conn| entities::entity_facts(conn, entity, max_tlp, limit))
            .await
    }

    async fn curations(
        &self,
        ids: &[IndicatorId],
    ) -> Result<Vec<(IndicatorId, rexist_core::Curation)>> {
        let ids = ids.to_vec();
        self.read(move |conn| curation::curations(conn, &ids)).await
    }

    async fn curate(
        &self,
        indicator: IndicatorId,
        change: &crate::CurationChange,
    ) -> Result<Option<IndicatorRecord>> {
        let change = change.clone();
        self.write(move |conn| curation::curate(conn, indicator, &change))
            .await
    }

    async fn curate_many(
        &self,
        ids: &[IndicatorId],
        change: &crate::CurationChange,
    ) -> Result<Vec<IndicatorRecord>> {
        let (ids, change) = (ids.to_vec(), change.clone());
        self.write(move |conn| curation::curate_many(conn, &ids, &change))
            .await
    }

    async fn search_indicators(
        &self,
        query: &crate::IndicatorSearch,
    ) -> Result<Page<IndicatorRecord>> {
        let q = query.clone();
        self.read(move |conn| search::search_indicators(conn, &q))
            .await
    }

    async fn indicator_facets(&self, filter: &crate::IndicatorFilter) -> Result<crate::Facets> {
        let f = filter.clone();
        self.read(move |conn| search::indicator_facets(conn, &f))
            .await
    }

    async fn search_items_by(&self, query: &crate::ItemSearch) -> Result<Page<Item>> {
        let q = query.clone();
        self.read(move |conn| search::search_items(conn, &q)).await
    }

    async fn item_facets(&self, filter: &crate::ItemFilter) -> Result<crate::Facets> {
        let f = filter.clone();
        self.read(move |conn| search::item_facets(conn, &f)).await
    }

    async fn save_search(
        &self,
        owner: &str,
        name: &str,
        query: &str,
    ) -> Result<crate::SavedSearch> {
        let (owner, name, query) = (owner.to_owned(), name.to_owned(), query.to_owned());
        self.write(move |conn| search::save_search(conn, &owner, &name, &query))
            .await
    }

    async fn saved_searches(&self, owner: &str) -> Result<Vec<crate::SavedSearch>> {
        let owner = owner.to_owned();
        self.read(move |conn| search::saved_searches(conn, &owner))
            .await
    }

    async fn delete_search(&self, owner: &str, name: &str) -> Result<bool> {
        let (owner, name) = (owner.to_owned(), name.to_owned());
        self.write(move |conn| search::delete_search(conn, &owner, &name))
            .await
    }

    async fn add_note(
        &self,
        target: rexist_core::NoteTarget,
        author: &str,
        text: &str,
    ) -> Result<rexist_core::Note> {
        let (author, text) = (author.to_owned(), text.to_owned());
        self.write(move |conn| curation::add_note(conn, target, &author, &text))
            .await
    }

    async fn notes(
        &self,
        target: rexist_core::NoteTarget,
        limit: u32,
    ) -> Result<Vec<rexist_core::Note>> {
        self.read(move |conn| curation::notes(conn, target, limit))
            .await
    }

    async fn note(&self, id: i64) -> Result<Option<(rexist_core::NoteTarget, rexist_core::Note)>> {
        self.read(move |conn| curation::one_note(conn, id)).await
    }

    async fn delete_note(&self, id: i64) -> Result<bool> {
        self.write(move |conn| {
            Ok(conn.execute("DELETE FROM notes WHERE id = ?1", params![id])? == 1)
        })
        .await
    }

    async fn add_local_sighting(
        &self,
        indicator: IndicatorId,
        sighting: &rexist_core::NewLocalSighting,
    ) -> Result<rexist_core::LocalSighting> {
        let sighting = sighting.clone();
        self.write(move |conn| curation::add_local_sighting(conn, indicator, &sighting))
            .await
    }

    async fn local_sightings(
        &self,
        indicator: IndicatorId,
        recent: u32,
    ) -> Result<rexist_core::LocalSightings> {
        self.read(move |conn| curation::local_sightings(conn, indicator, recent))
            .await
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
        let (indicators, author) = (indicators.to_vec(), author.to_owned());
        self.write(move |conn| {
            curation::attribute_sightings(conn, source, item, &indicators, &author)
        })
        .await
    }

    async fn stix_namespace(&self) -> Result<u128> {
        if let Some(ns) = self.stix_namespace.get() {
            return Ok(*ns);
        }
        let hex = self
            .read_now(|conn| {
                Ok(conn
                    .query_row(
                        "SELECT value FROM instance WHERE key = 'stix_namespace'",
                        [],
                        |r| r.get::<_, String>(0),
                    )
                    .optional()?)
            })
            .await?;
        let ns = crate::parse_stix_namespace(hex)?;
        Ok(*self.stix_namespace.get_or_init(|| ns))
    }
}
