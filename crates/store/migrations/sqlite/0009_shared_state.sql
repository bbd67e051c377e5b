-- State that several nodes on one database must share and that a restart
-- must keep, once held in each process's memory: retro-hunt progress, TAXII
-- status resources and enrichment answers.

-- The latest retro-hunt of each hunt (a new one replaces the row). A running
-- one renews `heartbeat_at`, so any node's sweep can tell a dead worker's.
CREATE TABLE retro_hunts (
    hunt_id INTEGER PRIMARY KEY REFERENCES hunts(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    scanned INTEGER NOT NULL DEFAULT 0,
    hits INTEGER NOT NULL DEFAULT 0,
    announced INTEGER NOT NULL DEFAULT 0,
    queued_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    heartbeat_at INTEGER,
    error TEXT
);
CREATE INDEX retro_hunts_running ON retro_hunts(heartbeat_at) WHERE status = 'running';

-- TAXII 2.1 status resources of POSTed envelopes; the status details
-- (successes, failures, pendings) are JSON arrays. Pruned by age on write.
CREATE TABLE taxii_statuses (
    id TEXT PRIMARY KEY,
    api_root TEXT NOT NULL,
    status TEXT NOT NULL,
    request_timestamp INTEGER NOT NULL,
    total_count INTEGER NOT NULL,
    success_count INTEGER NOT NULL,
    failure_count INTEGER NOT NULL,
    pending_count INTEGER NOT NULL,
    successes TEXT NOT NULL,
    failures TEXT NOT NULL,
    pendings TEXT NOT NULL
);
CREATE INDEX taxii_statuses_age ON taxii_statuses(request_timestamp);

-- Enrichment answers by (provider, indicator type, value) until they
-- expire; expired rows are pruned. Never holds a provider's credentials.
CREATE TABLE enrichments (
    provider TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    answer TEXT NOT NULL,
    fetched_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (provider, kind, value)
);
CREATE INDEX enrichments_expiry ON enrichments(expires_at);
