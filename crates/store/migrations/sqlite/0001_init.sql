-- rexist schema v1 (SQLite). Applied files never change; add a new file instead.
-- Times are microseconds since the Unix epoch; TLP is its rank (0 clear .. 4 red);
-- tags and labels are JSON arrays.

CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    confidence INTEGER NOT NULL,
    tlp INTEGER NOT NULL,
    tags TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_run_at INTEGER,
    last_success_at INTEGER,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);

CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id),
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    outcome TEXT NOT NULL,
    counts TEXT NOT NULL,
    cursor TEXT,
    error TEXT
);
CREATE INDEX runs_by_source ON runs(source_id, id);

CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id),
    kind TEXT NOT NULL,
    external_id TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    url TEXT,
    lang TEXT,
    published_at INTEGER,
    tlp INTEGER NOT NULL,
    tags TEXT NOT NULL,
    extra TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (source_id, external_id)
);
CREATE INDEX items_by_kind ON items(kind, id);

-- Full text over pre-tokenised title and body (see fts.rs): the same tokens
-- feed PostgreSQL, so both backends find the same items.
CREATE VIRTUAL TABLE items_fts USING fts5(
    tokens, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 0'
);

CREATE TABLE indicators (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    sightings INTEGER NOT NULL,
    score INTEGER NOT NULL,
    tlp INTEGER NOT NULL,
    status TEXT NOT NULL,
    status_reason TEXT
);
-- (value, kind) serves exact lookups with or without a type and value prefixes.
CREATE UNIQUE INDEX indicators_by_value ON indicators(value, kind);


-- No foreign keys on the two high-volume tables: only the store writes them,
-- with ids from the same transaction, and indicators are never deleted; a
-- per-row constraint trigger would halve bulk-ingest throughput.
CREATE TABLE sightings (
    id INTEGER PRIMARY KEY,
    indicator_id INTEGER NOT NULL,
    source_id INTEGER NOT NULL,
    -- 0 when the sighting is not in an item, so the unique key works (NULLs are distinct).
    item_id INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    confidence INTEGER NOT NULL,
    tlp INTEGER NOT NULL,
    labels TEXT NOT NULL,
    listed INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX sightings_key ON sightings(indicator_id, source_id, item_id);

CREATE TABLE mentions (
    item_id INTEGER NOT NULL,
    indicator_id INTEGER NOT NULL,
    start_offset INTEGER NOT NULL,
    end_offset INTEGER NOT NULL,
    defanged INTEGER NOT NULL,
    PRIMARY KEY (item_id, indicator_id, start_offset)
) WITHOUT ROWID;
CREATE INDEX mentions_by_indicator ON mentions(indicator_id, item_id);

-- Explicit indicator-to-indicator relations (MISP object references, STIX
-- relationships, resolutions), directed, one row per (from, to, kind, source).
CREATE TABLE relations (
    id INTEGER PRIMARY KEY,
    from_id INTEGER NOT NULL,
    to_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    source_id INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
);
CREATE UNIQUE INDEX relations_key ON relations(from_id, to_id, kind, source_id);
CREATE INDEX relations_to ON relations(to_id);

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    -- at most one queued or running job per key (e.g. one run per source)
    dedup_key TEXT UNIQUE,
    status TEXT NOT NULL,
    run_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    leased_by TEXT,
    lease_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs(status, run_at);
