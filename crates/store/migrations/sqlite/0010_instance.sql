-- Facts about this installation that every node on the database shares and
-- that never change once made. `stix_namespace`: the random 128-bit
-- namespace (32 hex digits) its STIX object ids are drawn from, so they are
-- UUIDv4-shaped, stable across exports, and unlike any other installation's.
CREATE TABLE instance (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO instance (key, value) VALUES ('stix_namespace', lower(hex(randomblob(16))));
