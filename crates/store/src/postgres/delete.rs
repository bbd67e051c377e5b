//! Deleting a source with what it stored (`rexist demo --remove`).

use sqlx::AssertSqlSafe;
use sqlx::PgPool;

use crate::Result;

/// The source's items, as a subquery on `$1`.
const ITEMS: &str = "(SELECT id FROM items WHERE source_id = $1)";

/// Touched indicators (`$1`, an array) that no sighting is left for.
const ORPHANS: &str = "(SELECT t FROM unnest($1::bigint[]) t
    WHERE NOT EXISTS (SELECT 1 FROM sightings s WHERE s.indicator_id = t))";

/// See [`crate::Store::delete_source`].
pub(super) async fn delete_source(pool: &PgPool, source: i64) -> Result<u64> {
    let mut tx = pool.begin().await?;
    // The indicators it touched: some may go, the rest are recounted.
    let touched: Vec<i64> = sqlx::query_scalar(
        "SELECT indicator_id FROM sightings WHERE source_id = $1
         UNION SELECT from_id FROM relations WHERE source_id = $1
         UNION SELECT to_id FROM relations WHERE source_id = $1
         ORDER BY 1",
    )
    .bind(source)
    .fetch_all(&mut *tx)
    .await?;
    for sql in [
        format!("DELETE FROM entity_links WHERE item_id IN {ITEMS} OR entity_id IN {ITEMS}"),
        format!("DELETE FROM entity_names WHERE entity_id IN {ITEMS}"),
        format!("DELETE FROM notes WHERE item_id IN {ITEMS}"),
        format!("DELETE FROM mentions WHERE item_id IN {ITEMS}"),
        format!("DELETE FROM hunt_hits WHERE object_kind = 'item' AND object_id IN {ITEMS}"),
        format!("DELETE FROM sightings WHERE source_id = $1 OR item_id IN {ITEMS}"),
        "DELETE FROM relations WHERE source_id = $1".to_owned(),
        "DELETE FROM items WHERE source_id = $1".to_owned(),
        "DELETE FROM runs WHERE source_id = $1".to_owned(),
        "DELETE FROM sources WHERE id = $1".to_owned(),
    ] {
        sqlx::query(AssertSqlSafe(sql))
            .bind(source)
            .execute(&mut *tx)
            .await?;
    }
    for sql in [
        format!("DELETE FROM mentions WHERE indicator_id IN {ORPHANS}"),
        format!("DELETE FROM relations WHERE from_id IN {ORPHANS} OR to_id IN {ORPHANS}"),
        format!("DELETE FROM hunt_hits WHERE object_kind = 'indicator' AND object_id IN {ORPHANS}"),
        format!("DELETE FROM curations WHERE indicator_id IN {ORPHANS}"),
        format!("DELETE FROM notes WHERE indicator_id IN {ORPHANS}"),
        format!("DELETE FROM local_sightings WHERE indicator_id IN {ORPHANS}"),
    ] {
        sqlx::query(AssertSqlSafe(sql))
            .bind(&touched)
            .execute(&mut *tx)
            .await?;
    }
    let gone = sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM indicators WHERE id IN {ORPHANS}"
    )))
    .bind(&touched)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // The rest are recounted from the sightings left (see the SQLite twin).
    sqlx::query(
        "UPDATE indicators i SET sightings = a.n, first_seen = a.f, last_seen = a.l,
           score = coalesce(i.score_override, a.score),
           tlp = GREATEST(a.tlp, coalesce(i.tlp_floor, 0))
         FROM (SELECT indicator_id, count(*) AS n, min(first_seen) AS f, max(last_seen) AS l,
                      max(confidence) AS score, min(tlp) AS tlp
               FROM sightings WHERE indicator_id = ANY($1) GROUP BY indicator_id) a
         WHERE i.id = a.indicator_id",
    )
    .bind(&touched)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(gone)
}
