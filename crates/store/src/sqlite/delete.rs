//! Deleting a source with what it stored (`rexist demo --remove`).

use rusqlite::{Connection, params};

use crate::Result;

/// The source's items, as a subquery on `?1`.
const ITEMS: &str = "(SELECT id FROM items WHERE source_id = ?1)";

/// Touched indicators (`?1`, a JSON array) that no sighting is left for.
const ORPHANS: &str = "(SELECT t.value FROM json_each(?1) t
    WHERE NOT EXISTS (SELECT 1 FROM sightings s WHERE s.indicator_id = t.value))";

/// See [`crate::Store::delete_source`].
pub(super) fn delete_source(conn: &mut Connection, source: i64) -> Result<u64> {
    let tx = conn.transaction()?;
    // The indicators it touched, as a JSON array: some may go, the rest are recounted.
    let touched: String = tx.query_row(
        "SELECT coalesce(json_group_array(id), '[]') FROM (
           SELECT indicator_id AS id FROM sightings WHERE source_id = ?1
           UNION SELECT from_id FROM relations WHERE source_id = ?1
           UNION SELECT to_id FROM relations WHERE source_id = ?1)",
        params![source],
        |r| r.get(0),
    )?;
    for sql in [
        format!("DELETE FROM entity_links WHERE item_id IN {ITEMS} OR entity_id IN {ITEMS}"),
        format!("DELETE FROM entity_names WHERE entity_id IN {ITEMS}"),
        format!("DELETE FROM notes WHERE item_id IN {ITEMS}"),
        format!("DELETE FROM mentions WHERE item_id IN {ITEMS}"),
        format!("DELETE FROM items_fts WHERE rowid IN {ITEMS}"),
        format!("DELETE FROM hunt_hits WHERE object_kind = 'item' AND object_id IN {ITEMS}"),
        format!("DELETE FROM sightings WHERE source_id = ?1 OR item_id IN {ITEMS}"),
        "DELETE FROM relations WHERE source_id = ?1".to_owned(),
        "DELETE FROM items WHERE source_id = ?1".to_owned(),
        "DELETE FROM runs WHERE source_id = ?1".to_owned(),
        "DELETE FROM sources WHERE id = ?1".to_owned(),
    ] {
        tx.execute(&sql, params![source])?;
    }
    // Indicators no one else reported go, with what points at them.
    for sql in [
        format!("DELETE FROM mentions WHERE indicator_id IN {ORPHANS}"),
        format!("DELETE FROM relations WHERE from_id IN {ORPHANS} OR to_id IN {ORPHANS}"),
        format!("DELETE FROM hunt_hits WHERE object_kind = 'indicator' AND object_id IN {ORPHANS}"),
        format!("DELETE FROM curations WHERE indicator_id IN {ORPHANS}"),
        format!("DELETE FROM notes WHERE indicator_id IN {ORPHANS}"),
        format!("DELETE FROM local_sightings WHERE indicator_id IN {ORPHANS}"),
    ] {
        tx.execute(&sql, params![touched])?;
    }
    let gone = tx.execute(
        &format!("DELETE FROM indicators WHERE id IN {ORPHANS}"),
        params![touched],
    )?;
    // The rest are recounted from the sightings left: the TLP is the lowest
    // remaining report's again, so a removed CLEAR sighting cannot leave an
    // AMBER indicator marked CLEAR; an analyst's raise and override hold.
    tx.execute(
        "UPDATE indicators SET
           sightings = (SELECT count(*) FROM sightings s WHERE s.indicator_id = indicators.id),
           first_seen = (SELECT min(first_seen) FROM sightings s WHERE s.indicator_id = indicators.id),
           last_seen = (SELECT max(last_seen) FROM sightings s WHERE s.indicator_id = indicators.id),
           score = coalesce(score_override,
             (SELECT max(confidence) FROM sightings s WHERE s.indicator_id = indicators.id)),
           tlp = max((SELECT min(tlp) FROM sightings s WHERE s.indicator_id = indicators.id),
             coalesce(tlp_floor, 0))
         WHERE id IN (SELECT value FROM json_each(?1))",
        params![touched],
    )?;
    tx.commit()?;
    Ok(gone as u64)
}
