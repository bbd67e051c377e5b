-- Sharing: when each indicator was first stored (TAXII's date_added, the
-- order exports page in), users, API tokens and UI sessions, the audit log.
-- Existing indicators count as added when they were first seen.
ALTER TABLE indicators ADD COLUMN added INTEGER NOT NULL DEFAULT 0;
UPDATE indicators SET added = first_seen;
CREATE INDEX indicators_by_added ON indicators(added, id);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    -- argon2id PHC string; never leaves the store except to check a login.
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

-- API tokens and UI sessions: only the SHA-256 of the secret is kept.
CREATE TABLE tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    role TEXT NOT NULL,
    scopes TEXT NOT NULL,
    user_id INTEGER REFERENCES users(id),
    hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    csrf TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    last_used_at INTEGER,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX tokens_by_name ON tokens(name) WHERE kind = 'token' AND revoked = 0;

CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    outcome TEXT NOT NULL,
    address TEXT
);
