//! Retractions on SQLite: retiring sightings and the indicators left with
//! none listed.

use std::collections::{BTreeMap, HashMap, HashSet};

use rexist_core::model::unix_micros;
use rexist_core::{Indicator, ItemId, RetractReason, Retraction, Source, SourceId};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::Result;
use crate::retire::{ordered, status_reason};

/// Makes each indicator (id → reason) that has no listed, unretired
/// sighting left `retired`, unless it is allow-listed or retired already;
/// its `added` time moves to now, so readers paging by it see the change.
fn settle(tx: &Transaction<'_>, indicators: &BTreeMap<i64, String>) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "UPDATE indicators SET status = 'retired', status_reason = ?2, added = max(added, ?3)
         WHERE id = ?1 AND status IN ('active', 'expired')
           AND NOT EXISTS (SELECT 1 FROM sightings s
                           WHERE s.indicator_id = ?1 AND s.listed = 1 AND s.retired_at IS NULL)",
    )?;
    for (id, reason) in indicators {
        let stamp = unix_micros(time::OffsetDateTime::now_utc());
        stmt.execute(params![id, reason, stamp])?;
    }
    Ok(())
}

pub(super) fn retire_sightings(
    conn: &mut Connection,
    source: &Source,
    retractions: &[Retraction],
) -> Result<u64> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut retired = 0u64;
    let mut touched = BTreeMap::new();
    {
        let mut find =
            tx.prepare_cached("SELECT id FROM indicators WHERE value = ?1 AND kind = ?2")?;
        let mut retire = tx.prepare_cached(
            "UPDATE sightings SET listed = 0, retired_at = ?3, retired_reason = ?4
             WHERE indicator_id = ?1 AND source_id = ?2 AND retired_at IS NULL",
        )?;
        for r in ordered(retractions) {
            let Some(id): Option<i64> = find
                .query_row(
                    params![r.indicator.value(), r.indicator.kind().as_str()],
                    |row| row.get(0),
                )
                .optional()?
            else {
                continue;
            };
            let n = retire.execute(params![
                id,
                source.id.get(),
                unix_micros(r.at),
                r.reason.as_str()
            ])?;
            if n > 0 {
                retired += n as u64;
                touched.insert(id, status_reason(r.reason, &source.name));
            }
        }
    }
    settle(&tx, &touched)?;
    tx.commit()?;
    Ok(retired)
}

pub(super) fn retire_item_sightings(
    conn: &mut Connection,
    source: &Source,
    item: ItemId,
    keep: &[Indicator],
    reason: RetractReason,
    at: time::OffsetDateTime,
) -> Result<u64> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let keep: HashSet<i64> = {
        let mut find =
            tx.prepare_cached("SELECT id FROM indicators WHERE value = ?1 AND kind = ?2")?;
        let mut ids = HashSet::with_capacity(keep.len());
        for k in keep {
            let id: Option<i64> = find
                .query_row(params![k.value(), k.kind().as_str()], |row| row.get(0))
                .optional()?;
            ids.extend(id);
        }
        ids
    };
    // The item's stated sightings: those of indicators its text mentions
    // are (also) extracted ones, which a new version's list does not withdraw.
    let stated: Vec<i64> = {
        let mut stmt = tx.prepare_cached(
            "SELECT s.indicator_id FROM sightings s
             WHERE s.item_id = ?1 AND s.source_id = ?2 AND s.retired_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM mentions m
                               WHERE m.item_id = ?1 AND m.indicator_id = s.indicator_id)",
        )?;
        let rows = stmt.query_map(params![item.get(), source.id.get()], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut touched = BTreeMap::new();
    {
        let mut retire = tx.prepare_cached(
            "UPDATE sightings SET listed = 0, retired_at = ?4, retired_reason = ?5
             WHERE indicator_id = ?1 AND source_id = ?2 AND item_id = ?3 AND retired_at IS NULL",
        )?;
        let why = status_reason(reason, &source.name);
        for id in stated.into_iter().filter(|id| !keep.contains(id)) {
            let n = retire.execute(params![
                id,
                source.id.get(),
                item.get(),
                unix_micros(at),
                reason.as_str()
            ])?;
            if n > 0 {
                touched.insert(id, why.clone());
            }
        }
    }
    let retired = touched.len() as u64;
    settle(&tx, &touched)?;
    tx.commit()?;
    Ok(retired)
}

pub(super) fn mark_unlisted(
    conn: &mut Connection,
    source: SourceId,
    before: time::OffsetDateTime,
) -> Result<u64> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let name: Option<String> = tx
        .query_row(
            "SELECT name FROM sources WHERE id = ?1",
            params![source.get()],
            |r| r.get(0),
        )
        .optional()?;
    let Some(name) = name else {
        return Ok(0);
    };
    let ids = {
        let mut stmt = tx.prepare_cached(
            "UPDATE sightings SET listed = 0, retired_at = ?2, retired_reason = ?3
             WHERE source_id = ?1 AND item_id = 0 AND listed = 1 AND retired_at IS NULL
               AND last_seen < ?2
             RETURNING indicator_id",
        )?;
        let rows = stmt.query_map(
            params![
                source.get(),
                unix_micros(before),
                RetractReason::Delisted.as_str()
            ],
            |r| r.get::<_, i64>(0),
        )?;
        rows.collect::<Result<Vec<_>, _>>()?
    };
    let reason = status_reason(RetractReason::Delisted, &name);
    let touched: BTreeMap<i64, String> = ids.iter().map(|id| (*id, reason.clone())).collect();
    settle(&tx, &touched)?;
    tx.commit()?;
    Ok(ids.len() as u64)
}

pub(super) fn retire_expired(conn: &mut Connection, at: time::OffsetDateTime) -> Result<u64> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let pairs = {
        let mut stmt = tx.prepare_cached(
            "UPDATE sightings SET listed = 0, retired_at = expires_at, retired_reason = ?2
             WHERE expires_at <= ?1 AND retired_at IS NULL
             RETURNING indicator_id, source_id",
        )?;
        let rows = stmt.query_map(
            params![unix_micros(at), RetractReason::Expired.as_str()],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
        )?;
        rows.collect::<Result<Vec<_>, _>>()?
    };
    if pairs.is_empty() {
        return Ok(0);
    }
    let names: HashMap<i64, String> = {
        let mut stmt = tx.prepare_cached("SELECT id, name FROM sources")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    // An indicator whose sightings of several sources expired together
    // names the first of them by name.
    let mut first: BTreeMap<i64, &str> = BTreeMap::new();
    for (indicator, source) in &pairs {
        let name = names
            .get(source)
            .map_or("an unknown source", String::as_str);
        first
            .entry(*indicator)
            .and_modify(|n| *n = (*n).min(name))
            .or_insert(name);
    }
    let touched: BTreeMap<i64, String> = first
        .into_iter()
        .map(|(id, name)| (id, status_reason(RetractReason::Expired, name)))
        .collect();
    settle(&tx, &touched)?;
    tx.commit()?;
    Ok(pairs.len() as u64)
}
