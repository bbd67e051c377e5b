//! Threat entities on SQLite: names, links and what an entity page reads.

use rexist_core::model::unix_micros;
use rexist_core::{IndicatorRecord, Item, ItemId, Tlp};
use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{INDICATOR_COLUMNS, ITEM_COLUMNS, indicator_from_row, item_from_row};
use crate::decode::qualified;
use crate::entities::{EntityFacts, EntityLink, MAX_INDICATOR_ENTITIES, RECENT_LINKS};
use crate::{Result, StoreError};

pub(super) fn entity_named(
    conn: &Connection,
    class: &str,
    keys: &[String],
) -> Result<Option<ItemId>> {
    let mut stmt = conn
        .prepare_cached("SELECT entity_id FROM entity_names WHERE class = ?1 AND name_key = ?2")?;
    for key in keys {
        if let Some(id) = stmt
            .query_row(params![class, key], |r| r.get::<_, i64>(0))
            .optional()?
        {
            return Ok(Some(ItemId::new(id)));
        }
    }
    Ok(None)
}

pub(super) fn add_entity_names(
    conn: &mut Connection,
    entity: ItemId,
    class: &str,
    names: &[(String, String)],
) -> Result<u64> {
    let tx = conn.transaction()?;
    let mut new = 0;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO entity_names (class, name_key, entity_id, name) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (class, name_key) DO NOTHING",
        )?;
        for (key, name) in names.iter().filter(|(k, _)| !k.is_empty()) {
            new += stmt.execute(params![class, key, entity.get(), name])? as u64;
        }
    }
    tx.commit()?;
    Ok(new)
}

pub(super) fn link_entities(conn: &mut Connection, links: &[EntityLink]) -> Result<u64> {
    let tx = conn.transaction()?;
    let mut new = 0;
    {
        let mut exists =
            tx.prepare_cached("SELECT 1 FROM entity_links WHERE entity_id = ?1 AND item_id = ?2")?;
        let mut put = tx.prepare_cached(
            "INSERT INTO entity_links (entity_id, item_id, source_id, is_item, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (entity_id, item_id) DO UPDATE SET
               last_seen = max(last_seen, excluded.last_seen),
               is_item = max(is_item, excluded.is_item)",
        )?;
        for l in links {
            let known = exists
                .query_row(params![l.entity.get(), l.item.get()], |_| Ok(()))
                .optional()?
                .is_some();
            put.execute(params![
                l.entity.get(),
                l.item.get(),
                l.source.get(),
                l.is_item,
                unix_micros(l.seen_at)
            ])?;
            new += u64::from(!known);
        }
    }
    tx.commit()?;
    Ok(new)
}

pub(super) fn entities_of_items(
    conn: &Connection,
    items: &[ItemId],
    max_tlp: Tlp,
) -> Result<Vec<(ItemId, Item)>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let list = crate::decode::json(&items.iter().map(|i| i.get()).collect::<Vec<_>>());
    let sql = format!(
        "SELECT {}, l.item_id FROM entity_links l JOIN items e ON e.id = l.entity_id
         WHERE l.item_id IN (SELECT value FROM json_each(?1)) AND e.tlp <= ?2
         ORDER BY l.item_id, e.title",
        qualified("e", ITEM_COLUMNS)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params![list, max_tlp.rank()], |r| {
            Ok((ItemId::new(r.get(14)?), item_from_row(r)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(super) fn indicator_entities(
    conn: &Connection,
    indicator: i64,
    max_tlp: Tlp,
) -> Result<Vec<Item>> {
    let sql = format!(
        "SELECT {ITEM_COLUMNS} FROM items WHERE tlp <= ?2 AND id IN (
           SELECT l.entity_id FROM entity_links l JOIN items i ON i.id = l.item_id
           WHERE i.tlp <= ?2 AND l.item_id IN (
             SELECT item_id FROM sightings WHERE indicator_id = ?1 AND item_id <> 0))
         ORDER BY updated_at DESC, id DESC LIMIT {MAX_INDICATOR_ENTITIES}"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params![indicator, max_tlp.rank()], item_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(super) fn entity_facts(
    conn: &Connection,
    entity: ItemId,
    max_tlp: Tlp,
    limit: u32,
) -> Result<EntityFacts> {
    let (e, tlp, limit) = (entity.get(), max_tlp.rank(), i64::from(limit));
    let names = conn
        .prepare_cached("SELECT name FROM entity_names WHERE entity_id = ?1 ORDER BY name")?
        .query_map(params![e], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let sources = conn
        .prepare_cached(
            "SELECT s.name, count(*) FROM entity_links l
               JOIN items i ON i.id = l.item_id JOIN sources s ON s.id = l.source_id
             WHERE l.entity_id = ?1 AND i.tlp <= ?2
             GROUP BY s.name ORDER BY count(*) DESC, s.name",
        )?
        .query_map(params![e, tlp], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?)))?
        .map(|r| r.map(|(n, c)| (n, u64::try_from(c).unwrap_or(0))))
        .collect::<rusqlite::Result<Vec<(String, u64)>>>()?;
    let items = conn
        .prepare_cached(&format!(
            "SELECT {} FROM entity_links l JOIN items i ON i.id = l.item_id
             WHERE l.entity_id = ?1 AND i.tlp <= ?2
             ORDER BY l.last_seen DESC, i.id DESC LIMIT ?3",
            qualified("i", ITEM_COLUMNS)
        ))?
        .query_map(params![e, tlp, limit], item_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let items_total: i64 = conn.query_row(
        "SELECT count(*) FROM entity_links l JOIN items i ON i.id = l.item_id
         WHERE l.entity_id = ?1 AND i.tlp <= ?2",
        params![e, tlp],
        |r| r.get(0),
    )?;
    let recent = format!(
        "SELECT l.item_id FROM entity_links l JOIN items i ON i.id = l.item_id
         WHERE l.entity_id = ?1 AND i.tlp <= ?2
         ORDER BY l.last_seen DESC LIMIT {RECENT_LINKS}"
    );
    let indicators: Vec<IndicatorRecord> = conn
        .prepare_cached(&format!(
            "SELECT {INDICATOR_COLUMNS} FROM indicators WHERE tlp <= ?2 AND id IN (
               SELECT indicator_id FROM sightings WHERE item_id IN ({recent}))
             ORDER BY last_seen DESC, id DESC LIMIT ?3"
        ))?
        .query_map(params![e, tlp, limit], indicator_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let related = conn
        .prepare_cached(&format!(
            "SELECT {}, count(*) FROM entity_links b JOIN items x ON x.id = b.entity_id
             WHERE b.item_id IN ({recent}) AND b.entity_id <> ?1 AND x.tlp <= ?2
             GROUP BY b.entity_id ORDER BY count(*) DESC, x.title LIMIT ?3",
            qualified("x", ITEM_COLUMNS)
        ))?
        .query_map(params![e, tlp, limit], |r| {
            Ok((item_from_row(r)?, r.get::<_, i64>(14)?))
        })?
        .map(|r| r.map(|(i, c)| (i, u64::try_from(c).unwrap_or(0))))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let months = conn
        .prepare_cached(
            "SELECT strftime('%Y-%m', coalesce(i.published_at, i.created_at) / 1000000, 'unixepoch') AS m,
                    count(*)
             FROM entity_links l JOIN items i ON i.id = l.item_id
             WHERE l.entity_id = ?1 AND i.tlp <= ?2
             GROUP BY m ORDER BY m",
        )?
        .query_map(params![e, tlp], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?)))?
        .map(|r| r.map(|(m, c)| (m, u64::try_from(c).unwrap_or(0))))
        .collect::<rusqlite::Result<Vec<(String, u64)>>>()?;
    Ok(EntityFacts {
        names,
        sources,
        items,
        items_total: u64::try_from(items_total)
            .map_err(|_| StoreError::internal("negative count"))?,
        indicators,
        related,
        months,
    })
}
