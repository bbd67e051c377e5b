-- Retractions: a source that withdraws what it reported (revoked, deleted,
-- false positive, inactive, expired, no longer listed) retires its sightings.
-- A retired sighting is kept, not listed, and says when and why; a new
-- report clears both. `expires_at` is the upstream's own end of validity
-- (STIX `valid_until`, OTX `expiration`), past which the sweep retires it.
ALTER TABLE sightings ADD COLUMN retired_at INTEGER;
ALTER TABLE sightings ADD COLUMN retired_reason TEXT;
ALTER TABLE sightings ADD COLUMN expires_at INTEGER;
-- The expiry sweep reads only sightings that carry an expiry and are not retired.
CREATE INDEX sightings_expiring ON sightings(expires_at) WHERE expires_at IS NOT NULL AND retired_at IS NULL;

-- Health: the start of each source's first run, so a source that never
-- succeeded goes stale from when it was first tried.
ALTER TABLE sources ADD COLUMN first_run_at INTEGER;
UPDATE sources SET first_run_at = (SELECT min(started_at) FROM runs WHERE runs.source_id = sources.id);
