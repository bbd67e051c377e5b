-- Dashboard: new items and indicators per day (covering, so the 30-day
-- counts read only the index), the most sighted indicators, recent runs.
-- A re-sighting moves only last_seen, so indicator updates stay HOT; only a
-- new sighting (which changes the count) touches indicators_by_sightings.
CREATE INDEX items_by_created ON items(created_at, kind, tlp);
CREATE INDEX indicators_by_added_kind ON indicators(added, kind, tlp);
CREATE INDEX indicators_by_sightings ON indicators(sightings DESC, id);
CREATE INDEX runs_by_started ON runs(started_at);
