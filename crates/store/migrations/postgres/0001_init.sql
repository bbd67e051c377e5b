-- rexist schema v1 (PostgreSQL). Applied files never change; add a new file instead.
-- Same shape as the SQLite schema: times are microseconds since the Unix epoch,
-- TLP is its rank, tags and labels are JSON arrays in text, so both backends
-- store and return identical values.

CREATE TABLE sources (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    confidence SMALLINT NOT NULL,
    tlp SMALLINT NOT NULL,
    tags TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_run_at BIGINT,
    last_success_at BIGINT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);

CREATE TABLE runs (
    id BIGSERIAL PRIMARY KEY,
    source_id BIGINT NOT NULL REFERENCES sources(id),
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    outcome TEXT NOT NULL,
    counts TEXT NOT NULL,
    cursor TEXT,
    error TEXT
);
CREATE INDEX runs_by_source ON runs(source_id, id);

CREATE TABLE items (
    id BIGSERIAL PRIMARY KEY,
    source_id BIGINT NOT NULL REFERENCES sources(id),
    kind TEXT NOT NULL,
    external_id TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    url TEXT,
    lang TEXT,
    published_at BIGINT,
    tlp SMALLINT NOT NULL,
    tags TEXT NOT NULL,
    extra TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- pre-tokenised title and body (see fts.rs), the same tokens SQLite indexes
    fts TSVECTOR NOT NULL,
    UNIQUE (source_id, external_id)
);
CREATE INDEX items_by_kind ON items(kind, id);
CREATE INDEX items_fts ON items USING GIN (fts);

CREATE TABLE indicators (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    -- COLLATE "C": byte order, as in SQLite, so prefix ranges and pages agree.
    value TEXT COLLATE "C" NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    sightings BIGINT NOT NULL,
    score SMALLINT NOT NULL,
    tlp SMALLINT NOT NULL,
    status TEXT NOT NULL,
    status_reason TEXT
-- Room on each page so re-sightings (last_seen, counts: no indexed column)
-- are HOT updates that touch no index.
) WITH (fillfactor = 85);
CREATE UNIQUE INDEX indicators_by_value ON indicators(value, kind);


-- No foreign keys on the two high-volume tables: only the store writes them,
-- with ids from the same transaction, and indicators are never deleted; a
-- per-row constraint trigger would halve bulk-ingest throughput.
CREATE TABLE sightings (
    -- A row number for ordering, not a key: the natural key below is the
    -- primary key, so each insert maintains one index, not two.
    id BIGSERIAL NOT NULL,
    indicator_id BIGINT NOT NULL,
    source_id BIGINT NOT NULL,
    item_id BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    confidence SMALLINT NOT NULL,
    tlp SMALLINT NOT NULL,
    labels TEXT NOT NULL,
    listed BOOLEAN NOT NULL DEFAULT TRUE
) WITH (fillfactor = 85);
ALTER TABLE sightings ADD CONSTRAINT sightings_key PRIMARY KEY (indicator_id, source_id, item_id);

CREATE TABLE mentions (
    item_id BIGINT NOT NULL,
    indicator_id BIGINT NOT NULL,
    start_offset INTEGER NOT NULL,
    end_offset INTEGER NOT NULL,
    defanged BOOLEAN NOT NULL,
    PRIMARY KEY (item_id, indicator_id, start_offset)
);
CREATE INDEX mentions_by_indicator ON mentions(indicator_id, item_id);

-- Explicit indicator-to-indicator relations (MISP object references, STIX
-- relationships, resolutions), directed, one row per (from, to, kind, source).
CREATE TABLE relations (
    id BIGSERIAL PRIMARY KEY,
    from_id BIGINT NOT NULL,
    to_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    source_id BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
);
CREATE UNIQUE INDEX relations_key ON relations(from_id, to_id, kind, source_id);
CREATE INDEX relations_to ON relations(to_id);

CREATE TABLE jobs (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    dedup_key TEXT UNIQUE,
    status TEXT NOT NULL,
    run_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    leased_by TEXT,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs(status, run_at);
