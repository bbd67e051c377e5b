-- Exports defined through the API and the UI, beside the configuration's
-- [[export]] tables: `definition` is such a table's fields as JSON, checked
-- by the server (the same parser and validation) before it is stored.
CREATE TABLE stored_exports (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL
);
