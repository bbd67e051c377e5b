-- Sharing: when each indicator was first stored (TAXII's date_added, the
-- order exports page in), users, API tokens and UI sessions, the audit log.
-- New rows take the insert time from the default; re-sightings never touch
-- the column, so they stay HOT updates. Existing indicators count as added
-- when they were first seen.
ALTER TABLE indicators ADD COLUMN added BIGINT;
UPDATE indicators SET added = first_seen;
ALTER TABLE indicators ALTER COLUMN added SET DEFAULT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
ALTER TABLE indicators ALTER COLUMN added SET NOT NULL;
CREATE INDEX indicators_by_added ON indicators(added, id);

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    -- argon2id PHC string; never leaves the store except to check a login.
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);

-- API tokens and UI sessions: only the SHA-256 of the secret is kept.
CREATE TABLE tokens (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    role TEXT NOT NULL,
    scopes TEXT NOT NULL,
    user_id BIGINT REFERENCES users(id),
    hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    csrf TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    revoked BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX tokens_by_name ON tokens(name) WHERE kind = 'token' AND NOT revoked;

CREATE TABLE audit (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    outcome TEXT NOT NULL,
    address TEXT
);
