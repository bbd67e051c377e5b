-- Lookup: indicators sighted in the same items ("related by shared items").
-- Feed sightings (item_id 0) are left out, so bulk loads do not pay for it.
CREATE INDEX sightings_by_item ON sightings(item_id, indicator_id) WHERE item_id <> 0;
