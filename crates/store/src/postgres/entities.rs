//! Threat entities on PostgreSQL (see the SQLite twin).

use rexist_core::model::unix_micros;
use rexist_core::{IndicatorRecord, Item, ItemId, Tlp};
use sqlx::{AssertSqlSafe, PgPool, Row};

use super::rows::{indicator_from_row, item_from_row};
use crate::decode::{INDICATOR_COLUMNS, ITEM_COLUMNS, qualified};
use crate::entities::{EntityFacts, EntityLink, MAX_INDICATOR_ENTITIES, RECENT_LINKS};
use crate::{Result, StoreError};

pub(super) async fn entity_named(
    pool: &PgPool,
    class: &str,
    keys: &[String],
) -> Result<Option<ItemId>> {
    for key in keys {
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT entity_id FROM entity_names WHERE class = $1 AND name_key = $2",
        )
        .bind(class)
        .bind(key)
        .fetch_optional(pool)
        .await?;
        if let Some(id) = id {
            return Ok(Some(ItemId::new(id)));
        }
    }
    Ok(None)
}

pub(super) async fn add_entity_names(
    pool: &PgPool,
    entity: ItemId,
    class: &str,
    names: &[(String, String)],
) -> Result<u64> {
    let (keys, names): (Vec<&str>, Vec<&str>) = names
        .iter()
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, n)| (k.as_str(), n.as_str()))
        .unzip();
    let done = sqlx::query(
        "INSERT INTO entity_names (class, name_key, entity_id, name)
         SELECT $1, k, $2, n FROM unnest($3::text[], $4::text[]) AS t(k, n)
         ON CONFLICT (class, name_key) DO NOTHING",
    )
    .bind(class)
    .bind(entity.get())
    .bind(&keys)
    .bind(&names)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

pub(super) async fn link_entities(pool: &PgPool, links: &[EntityLink]) -> Result<u64> {
    let mut tx = pool.begin().await?;
    let mut new = 0;
    for l in links {
        // `xmax = 0` only on a row this statement inserted.
        let inserted: bool = sqlx::query_scalar(
            "INSERT INTO entity_links (entity_id, item_id, source_id, is_item, first_seen, last_seen)
             VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (entity_id, item_id) DO UPDATE SET
               last_seen = greatest(entity_links.last_seen, excluded.last_seen),
               is_item = entity_links.is_item OR excluded.is_item
             RETURNING (xmax = 0)",
        )
        .bind(l.entity.get())
        .bind(l.item.get())
        .bind(l.source.get())
        .bind(l.is_item)
        .bind(unix_micros(l.seen_at))
        .fetch_one(&mut *tx)
        .await?;
        new += u64::from(inserted);
    }
    tx.commit().await?;
    Ok(new)
}

pub(super) async fn entities_of_items(
    pool: &PgPool,
    items: &[ItemId],
    max_tlp: Tlp,
) -> Result<Vec<(ItemId, Item)>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = items.iter().map(|i| i.get()).collect();
    let sql = format!(
        "SELECT {}, l.item_id FROM entity_links l JOIN items e ON e.id = l.entity_id
         WHERE l.item_id = ANY($1) AND e.tlp <= $2
         ORDER BY l.item_id, e.title",
        qualified("e", ITEM_COLUMNS)
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(&ids)
        .bind(max_tlp.rank())
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| Ok((ItemId::new(r.try_get(14)?), item_from_row(r)?)))
        .collect()
}

pub(super) async fn indicator_entities(
    pool: &PgPool,
    indicator: i64,
    max_tlp: Tlp,
) -> Result<Vec<Item>> {
    let sql = format!(
        "SELECT {ITEM_COLUMNS} FROM items WHERE tlp <= $2 AND id IN (
           SELECT l.entity_id FROM entity_links l JOIN items i ON i.id = l.item_id
           WHERE i.tlp <= $2 AND l.item_id IN (
             SELECT item_id FROM sightings WHERE indicator_id = $1 AND item_id <> 0))
         ORDER BY updated_at DESC, id DESC LIMIT {MAX_INDICATOR_ENTITIES}"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(indicator)
        .bind(max_tlp.rank())
        .fetch_all(pool)
        .await?;
    rows.iter().map(item_from_row).collect()
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

pub(super) async fn entity_facts(
    pool: &PgPool,
    entity: ItemId,
    max_tlp: Tlp,
    limit: u32,
) -> Result<EntityFacts> {
    let (e, tlp, limit) = (entity.get(), max_tlp.rank(), i64::from(limit));
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM entity_names WHERE entity_id = $1 ORDER BY name")
            .bind(e)
            .fetch_all(pool)
            .await?;
    let sources = sqlx::query(
        "SELECT s.name, count(*) FROM entity_links l
           JOIN items i ON i.id = l.item_id JOIN sources s ON s.id = l.source_id
         WHERE l.entity_id = $1 AND i.tlp <= $2
         GROUP BY s.name ORDER BY count(*) DESC, s.name",
    )
    .bind(e)
    .bind(tlp)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| Ok((r.try_get(0)?, count(r.try_get(1)?))))
    .collect::<Result<Vec<(String, u64)>>>()?;
    let items = sqlx::query(AssertSqlSafe(format!(
        "SELECT {} FROM entity_links l JOIN items i ON i.id = l.item_id
         WHERE l.entity_id = $1 AND i.tlp <= $2
         ORDER BY l.last_seen DESC, i.id DESC LIMIT $3",
        qualified("i", ITEM_COLUMNS)
    )))
    .bind(e)
    .bind(tlp)
    .bind(limit)
    .fetch_all(pool)
    .await?
    .iter()
    .map(item_from_row)
    .collect::<Result<Vec<_>>>()?;
    let items_total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM entity_links l JOIN items i ON i.id = l.item_id
         WHERE l.entity_id = $1 AND i.tlp <= $2",
    )
    .bind(e)
    .bind(tlp)
    .fetch_one(pool)
    .await?;
    let recent = format!(
        "SELECT l.item_id FROM entity_links l JOIN items i ON i.id = l.item_id
         WHERE l.entity_id = $1 AND i.tlp <= $2
         ORDER BY l.last_seen DESC LIMIT {RECENT_LINKS}"
    );
    let indicators: Vec<IndicatorRecord> = sqlx::query(AssertSqlSafe(format!(
        "SELECT {INDICATOR_COLUMNS} FROM indicators WHERE tlp <= $2 AND id IN (
           SELECT indicator_id FROM sightings WHERE item_id IN ({recent}))
         ORDER BY last_seen DESC, id DESC LIMIT $3"
    )))
    .bind(e)
    .bind(tlp)
    .bind(limit)
    .fetch_all(pool)
    .await?
    .iter()
    .map(indicator_from_row)
    .collect::<Result<Vec<_>>>()?;
    let related = sqlx::query(AssertSqlSafe(format!(
        "SELECT {}, count(*) FROM entity_links b JOIN items x ON x.id = b.entity_id
         WHERE b.item_id IN ({recent}) AND b.entity_id <> $1 AND x.tlp <= $2
         GROUP BY x.id ORDER BY count(*) DESC, x.title LIMIT $3",
        qualified("x", ITEM_COLUMNS)
    )))
    .bind(e)
    .bind(tlp)
    .bind(limit)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| Ok((item_from_row(r)?, count(r.try_get(14)?))))
    .collect::<Result<Vec<_>>>()?;
    let months = sqlx::query(
        "SELECT to_char(to_timestamp(coalesce(i.published_at, i.created_at) / 1000000.0)
                        AT TIME ZONE 'UTC', 'YYYY-MM') AS m, count(*)
         FROM entity_links l JOIN items i ON i.id = l.item_id
         WHERE l.entity_id = $1 AND i.tlp <= $2
         GROUP BY m ORDER BY m",
    )
    .bind(e)
    .bind(tlp)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| Ok((r.try_get(0)?, count(r.try_get(1)?))))
    .collect::<Result<Vec<(String, u64)>>>()?;
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
