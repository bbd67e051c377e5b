-- Hunts carry a TLP: a hunt's watched values and hits say what the team is
-- looking for, so a reader cleared below it sees neither. Existing hunts
-- become TLP:AMBER (rank 2), the default for new ones: viewers (cleared to
-- GREEN by default) no longer read them; analysts and admins still do.
ALTER TABLE hunts ADD COLUMN tlp SMALLINT NOT NULL DEFAULT 2;
