-- Saved searches: a user's named searches (the search page's query
-- string), listed on the search page and run again with one click.
CREATE TABLE saved_searches (
    id INTEGER PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    saved_at INTEGER NOT NULL,
    UNIQUE (owner, name)
);
