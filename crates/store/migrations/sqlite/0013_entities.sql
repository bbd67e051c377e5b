-- Threat entities (threat actors, malware, techniques, …) are items of the
-- built-in `entities` source, one per entity across sources. Every name a
-- source gave one resolves to it, by a key that ignores case, spaces and
-- hyphens, within a class (threat actors and intrusion sets share one);
-- items that name an entity (an OTX pulse's adversary, a MISP galaxy, a
-- STIX threat-actor object) are linked to it.
CREATE TABLE entity_names (
    class TEXT NOT NULL,
    name_key TEXT NOT NULL,
    entity_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (class, name_key)
);
CREATE INDEX entity_names_by_entity ON entity_names(entity_id);

CREATE TABLE entity_links (
    entity_id INTEGER NOT NULL,
    item_id INTEGER NOT NULL,
    source_id INTEGER NOT NULL,
    -- the item is the source's record of the entity itself
    is_item INTEGER NOT NULL DEFAULT 0,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (entity_id, item_id)
);
CREATE INDEX entity_links_by_item ON entity_links(item_id);
CREATE INDEX entity_links_recent ON entity_links(entity_id, last_seen);
