-- Hunts, their hits, and the alert outbox.

CREATE TABLE hunts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    definition TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    channels TEXT NOT NULL,
    digest_secs INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_digest_at INTEGER
);

-- One row per hunt × object. `notified` says whether an alert covers it:
-- immediate hunts alert at insert; digests and retro-hunts collect later.
CREATE TABLE hunt_hits (
    id INTEGER PRIMARY KEY,
    hunt_id INTEGER NOT NULL REFERENCES hunts(id) ON DELETE CASCADE,
    object_kind TEXT NOT NULL,
    object_id INTEGER NOT NULL,
    terms TEXT NOT NULL,
    retro INTEGER NOT NULL,
    notified INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    acked_at INTEGER,
    acked_by TEXT,
    UNIQUE (hunt_id, object_kind, object_id)
);
CREATE INDEX hunt_hits_unnotified ON hunt_hits(hunt_id, retro) WHERE notified = 0;
CREATE INDEX hunt_hits_object ON hunt_hits(object_kind, object_id);

-- The outbox: an alert is stored in the transaction that stores its hits,
-- before anything is sent. `status` is pending, sending (under a lease),
-- sent or failed.
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    hunt_id INTEGER NOT NULL REFERENCES hunts(id) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    hits TEXT NOT NULL,
    total_hits INTEGER NOT NULL,
    digest INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    leased_by TEXT,
    lease_until INTEGER,
    last_error TEXT,
    last_error_at INTEGER,
    created_at INTEGER NOT NULL,
    sent_at INTEGER
);
CREATE INDEX alerts_due ON alerts(status, next_attempt_at);
CREATE INDEX alerts_channel ON alerts(channel, status);

-- Bumped on every change to hunts, so evaluators notice edits made by
-- another process (the CLI beside a running server) with one cheap read.
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('hunts', 0);
