-- Curation: what analysts say about indicators and items, kept apart from
-- what sources report so that no re-ingest clears it.
--
-- On the indicator row every upsert already writes: a TLP raise is a floor
-- the indicator's TLP never drops below whatever a source reports, and a
-- score override holds the score in place (the row's `score` is the
-- override while it is set). NULL when there is none: nothing is rewritten.
ALTER TABLE indicators ADD COLUMN tlp_floor INTEGER;
ALTER TABLE indicators ADD COLUMN score_override INTEGER;
-- Who added a sighting by hand (the built-in `manual` source); NULL for every source's.
ALTER TABLE sightings ADD COLUMN author TEXT;

-- The facts themselves, with who set each, when and why: one row per
-- indicator and fact (`false_positive`, `tlp`, `score`, or `label` per
-- label). `value` is the raised TLP's name, the score, `added` or `removed`
-- for a label, and for a false positive the status it had before the mark
-- (with its reason in `prior_reason`), which taking the mark back restores.
CREATE TABLE curations (
    indicator_id INTEGER NOT NULL,
    fact TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    value TEXT NOT NULL,
    prior_reason TEXT,
    reason TEXT NOT NULL,
    author TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (indicator_id, fact, label)
) WITHOUT ROWID;

-- Notes on an indicator or an item (exactly one of the two ids is set).
CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    indicator_id INTEGER,
    item_id INTEGER,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX notes_by_indicator ON notes(indicator_id, id) WHERE indicator_id IS NOT NULL;
CREATE INDEX notes_by_item ON notes(item_id, id) WHERE item_id IS NOT NULL;

-- Sightings in the organisation's own network ("seen in our network"),
-- one row per report.
CREATE TABLE local_sightings (
    id INTEGER PRIMARY KEY,
    indicator_id INTEGER NOT NULL,
    count INTEGER NOT NULL,
    place TEXT,
    seen_at INTEGER NOT NULL,
    author TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX local_sightings_by_indicator ON local_sightings(indicator_id, seen_at);
