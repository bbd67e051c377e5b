-- Hit triage: where an analyst's handling of each hit stands (`new`,
-- `in_progress`, `closed`, `false_positive`) and who has it, with every
-- change kept, its author and note, as the hit's history.
ALTER TABLE hunt_hits ADD COLUMN triage TEXT NOT NULL DEFAULT 'new';
ALTER TABLE hunt_hits ADD COLUMN assignee TEXT;
CREATE INDEX hunt_hits_triage ON hunt_hits(triage, id);
CREATE INDEX hunt_hits_assignee ON hunt_hits(assignee, id) WHERE assignee IS NOT NULL;

CREATE TABLE hit_triage (
    id INTEGER PRIMARY KEY,
    hit_id INTEGER NOT NULL REFERENCES hunt_hits(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    assignee TEXT,
    note TEXT,
    author TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX hit_triage_by_hit ON hit_triage(hit_id, id);
