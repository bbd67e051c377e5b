-- Lookup: a domain's stored sub-domains and the e-mail addresses at it or
-- below it. `rhost` is the host of a domain or e-mail indicator reversed,
-- with a dot after it (`a.example.com` and `x@a.example.com` both give
-- `moc.elpmaxe.a.`), so everything at or below `example.com` is one range
-- of the index (keys starting with `moc.elpmaxe.`) instead of a scan for
-- `LIKE '%.example.com'`. Other types leave it NULL and stay out of the
-- partial index, so bulk loads of addresses, URLs and hashes pay nothing.
-- rexist fills it on insert; rows stored before are filled here (a
-- canonical e-mail address has exactly one @; a domain has none, so
-- position() is 0 and the whole value is the host).
ALTER TABLE indicators ADD COLUMN rhost TEXT COLLATE "C";
UPDATE indicators SET rhost = reverse(substring(value FROM position('@' IN value) + 1)) || '.'
 WHERE kind IN ('domain', 'email');
CREATE INDEX indicators_by_rhost ON indicators(kind, rhost) WHERE rhost IS NOT NULL;
