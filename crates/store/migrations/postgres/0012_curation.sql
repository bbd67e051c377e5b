-- Curation: what analysts say about indicators and items, kept apart from
-- what sources report so that no re-ingest clears it (see the SQLite twin).
-- Nullable columns without a default: adding them rewrites nothing, and
-- none is indexed, so re-sightings stay HOT updates.
ALTER TABLE indicators ADD COLUMN tlp_floor SMALLINT,
    ADD COLUMN score_override SMALLINT;
ALTER TABLE sightings ADD COLUMN author TEXT;

CREATE TABLE curations (
    indicator_id BIGINT NOT NULL,
    fact TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    value TEXT NOT NULL,
    prior_reason TEXT,
    reason TEXT NOT NULL,
    author TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (indicator_id, fact, label)
);

CREATE TABLE notes (
    id BIGSERIAL PRIMARY KEY,
    indicator_id BIGINT,
    item_id BIGINT,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX notes_by_indicator ON notes(indicator_id, id) WHERE indicator_id IS NOT NULL;
CREATE INDEX notes_by_item ON notes(item_id, id) WHERE item_id IS NOT NULL;

CREATE TABLE local_sightings (
    id BIGSERIAL PRIMARY KEY,
    indicator_id BIGINT NOT NULL,
    count INTEGER NOT NULL,
    place TEXT,
    seen_at BIGINT NOT NULL,
    author TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX local_sightings_by_indicator ON local_sightings(indicator_id, seen_at);
