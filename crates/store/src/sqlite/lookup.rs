//! Lookup reads and indicator lifecycle on SQLite.

use std::fmt::Write as _;
use std::time::Duration;

use rexist_core::model::{now, unix_micros};
use rexist_core::{HitObject, HuntHit, IndicatorId, IndicatorRecord, IndicatorType, Item, ItemId};
use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{INDICATOR_COLUMNS, ITEM_COLUMNS, indicator_from_row, item_from_row};
use crate::decode::{HIT_COLUMNS, micros};
use crate::{CoOccurrence, Connected, ConnectedQuery, MentionRef, ReportTime, Result};

pub(super) fn indicators_by_values(
    conn: &Connection,
    keys: &[(IndicatorType, String)],
) -> Result<Vec<IndicatorRecord>> {
    // An `IN` list of values per statement: a bulk lookup asks for its
    // values and every network they lie in, tens of thousands of keys.
    let none = ConnectedQuery::default();
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(IN_LIST) {
        out.extend(exact_and_prefixed(conn, chunk, &none)?);
    }
    Ok(out)
}

/// Values asked per `IN` list; shorter lists repeat their last value, so
/// one cached statement serves every list of a shape.
const IN_LIST: usize = 32;

/// Reads the exact values (at most [`IN_LIST`]) and every prefix range in
/// one statement: a lookup asks for thirty networks and four URL ranges,
/// and each statement costs about as much as the index probes it makes.
fn exact_and_prefixed(
    conn: &Connection,
    exact: &[(IndicatorType, String)],
    q: &ConnectedQuery,
) -> Result<Vec<IndicatorRecord>> {
    use rusqlite::types::Value;
    let mut sql = String::new();
    let mut args: Vec<Value> = Vec::new();
    if let Some(last) = exact.last() {
        let marks = vec!["?"; IN_LIST].join(", ");
        sql = format!("SELECT {INDICATOR_COLUMNS} FROM indicators WHERE value IN ({marks})");
        args.extend(
            exact
                .iter()
                .map(|(_, v)| v)
                .chain(std::iter::repeat(&last.1))
                .take(IN_LIST)
                .map(|v| Value::Text(v.clone())),
        );
    }
    for (kind, prefix) in &q.prefixes {
        if !sql.is_empty() {
            sql.push_str(" UNION ALL ");
        }
        let _ = write!(
            sql,
            "SELECT * FROM (SELECT {INDICATOR_COLUMNS} FROM indicators
             WHERE value >= ? AND value < ? AND kind = ? AND tlp <= ?
             ORDER BY value LIMIT {})",
            super::sql_limit(q.per_prefix)
        );
        args.push(Value::Text(prefix.clone()));
        args.push(Value::Text(crate::types::prefix_end(prefix)));
        args.push(Value::Text(kind.as_str().to_owned()));
        args.push(Value::Integer(i64::from(q.max_tlp.rank())));
    }
    // At or below a domain: a range of the reversed-host index, the
    // nearest (fewest labels) among the first few in key order.
    let under: Vec<(IndicatorType, String)> = q
        .under
        .iter()
        .filter_map(|(kind, domain)| {
            crate::types::reversed_host(IndicatorType::Domain, domain).map(|key| (*kind, key))
        })
        .collect();
    for (kind, key) in &under {
        if !sql.is_empty() {
            sql.push_str(" UNION ALL ");
        }
        let _ = write!(
            sql,
            "SELECT * FROM (SELECT {INDICATOR_COLUMNS} FROM (
                 SELECT {INDICATOR_COLUMNS}, rhost FROM indicators
                 WHERE kind = ? AND rhost >= ? AND rhost < ? AND tlp <= ?
                 ORDER BY rhost LIMIT {})
             ORDER BY length(rhost) - length(replace(rhost, '.', '')), rhost LIMIT {})",
            super::sql_limit(q.per_under) * u64::from(crate::types::UNDER_OVERFETCH),
            super::sql_limit(q.per_under)
        );
        args.push(Value::Text(kind.as_str().to_owned()));
        args.push(Value::Text(key.clone()));
        args.push(Value::Text(crate::types::prefix_end(key)));
        args.push(Value::Integer(i64::from(q.max_tlp.rank())));
    }
    if sql.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: std::collections::HashSet<(IndicatorType, &str)> =
        exact.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let prefixed = |r: &IndicatorRecord| {
        q.prefixes
            .iter()
            .any(|(k, p)| r.kind == *k && r.value.starts_with(p.as_str()))
            || under.iter().any(|(k, key)| {
                r.kind == *k
                    && crate::types::reversed_host(r.kind, &r.value)
                        .is_some_and(|h| h.starts_with(key.as_str()))
            })
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), indicator_from_row)?;
    let mut out = Vec::new();
    for r in rows {
        let r = r?;
        // The IN list matches a value of any type.
        if wanted.contains(&(r.kind, r.value.as_str())) || prefixed(&r) {
            out.push(r);
        }
    }
    Ok(out)
}

pub(super) fn connected(conn: &Connection, q: &ConnectedQuery) -> Result<Vec<Connected>> {
    let mut chunks = q.exact.chunks(IN_LIST);
    let mut records = exact_and_prefixed(conn, chunks.next().unwrap_or(&[]), q)?;
    for chunk in chunks {
        records.extend(exact_and_prefixed(conn, chunk, &ConnectedQuery::default())?);
    }
    let by_id = format!("SELECT {INDICATOR_COLUMNS} FROM indicators WHERE id = ?1");
    let mut stmt = conn.prepare_cached(&by_id)?;
    for id in &q.ids {
        if let Some(r) = stmt
            .query_row(params![id.get()], indicator_from_row)
            .optional()?
        {
            records.push(r);
        }
    }
    records.retain(|r| r.tlp <= q.max_tlp);
    let mut seen = std::collections::HashSet::new();
    records.retain(|r| seen.insert(r.id));
    let mut names = conn.prepare_cached(
        "SELECT DISTINCT src.name FROM sightings s JOIN sources src ON src.id = s.source_id
         WHERE s.indicator_id = ?1 AND s.tlp <= ?2 ORDER BY src.name",
    )?;
    records
        .into_iter()
        .map(|record| {
            let sources = names
                .query_map(params![record.id.get(), q.max_tlp.rank()], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(Connected { record, sources })
        })
        .collect()
}

pub(super) fn items_by_id(conn: &Connection, ids: &[ItemId]) -> Result<Vec<Item>> {
    let sql = format!("SELECT {ITEM_COLUMNS} FROM items WHERE id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(i) = stmt
            .query_row(params![id.get()], item_from_row)
            .optional()?
        {
            out.push(i);
        }
    }
    Ok(out)
}

pub(super) fn mentions_of(
    conn: &Connection,
    indicator: IndicatorId,
    limit: u32,
) -> Result<Vec<MentionRef>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT item_id, start_offset, end_offset, defanged FROM mentions
         WHERE indicator_id = ?1 ORDER BY item_id DESC, start_offset LIMIT {}",
        super::sql_limit(limit)
    ))?;
    let rows = stmt.query_map(params![indicator.get()], |r| {
        Ok(MentionRef {
            item: ItemId::new(r.get(0)?),
            start: u32::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            end: u32::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
            defanged: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn co_occurring(
    conn: &Connection,
    indicator: IndicatorId,
    limit: u32,
    max_tlp: rexist_core::Tlp,
) -> Result<Vec<CoOccurrence>> {
    let cols = INDICATOR_COLUMNS
        .split(", ")
        .map(|c| format!("i.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    // The items of this indicator are capped, so a value seen in thousands
    // of items (a popular domain) still answers in bounded time.
    let sql = format!(
        // Only items and indicators the reader may see count.
        "WITH mine AS (SELECT DISTINCT s.item_id FROM sightings s JOIN items it ON it.id = s.item_id
                       WHERE s.indicator_id = ?1 AND s.item_id <> 0 AND it.tlp <= ?2
                       ORDER BY s.item_id DESC LIMIT 500),
              shared AS (SELECT s.indicator_id, count(DISTINCT s.item_id) AS n
                         FROM mine JOIN sightings s ON s.item_id = mine.item_id
                         WHERE s.item_id <> 0 AND s.indicator_id <> ?1 GROUP BY s.indicator_id)
         SELECT {cols}, shared.n FROM shared JOIN indicators i ON i.id = shared.indicator_id
         WHERE i.tlp <= ?2 ORDER BY shared.n DESC, i.id LIMIT {}",
        super::sql_limit(limit)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![indicator.get(), max_tlp.rank()], |r| {
        Ok(CoOccurrence {
            indicator: indicator_from_row(r)?,
            shared_items: u64::try_from(r.get::<_, i64>(10)?).unwrap_or(0),
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn hits_of(conn: &Connection, object: HitObject) -> Result<Vec<HuntHit>> {
    let sql = format!(
        "SELECT {HIT_COLUMNS} FROM hunt_hits WHERE object_kind = ?1 AND object_id = ?2 ORDER BY id DESC"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![object.kind(), object.raw_id()],
        super::hunts::hit_from_row,
    )?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn expire_indicators(
    conn: &mut Connection,
    lifetimes: &[(IndicatorType, Duration)],
) -> Result<u64> {
    let tx = conn.transaction()?;
    let stamp = unix_micros(now());
    let mut n = 0;
    for (kind, lifetime) in lifetimes {
        n += tx.execute(
            "UPDATE indicators SET status = 'expired', status_reason = ?3
             WHERE kind = ?1 AND status = 'active' AND last_seen < ?2",
            params![
                kind.as_str(),
                stamp - micros(*lifetime),
                format!("not sighted for {} days", lifetime.as_secs() / 86_400)
            ],
        )?;
    }
    tx.commit()?;
    Ok(n as u64)
}

pub(super) fn flag_indicators(
    conn: &mut Connection,
    flags: &[(IndicatorType, String, String)],
) -> Result<u64> {
    let tx = conn.transaction()?;
    let mut n = 0;
    {
        let mut stmt = tx.prepare_cached(
            "UPDATE indicators SET status = 'allowlisted', status_reason = ?3
             WHERE value = ?2 AND kind = ?1 AND (status <> 'allowlisted' OR status_reason IS NOT ?3)",
        )?;
        for (kind, value, reason) in flags {
            n += stmt.execute(params![kind.as_str(), value, reason])?;
        }
    }
    tx.commit()?;
    Ok(n as u64)
}

pub(super) fn report_times(
    conn: &Connection,
    indicator: IndicatorId,
    max_tlp: rexist_core::Tlp,
) -> Result<Vec<ReportTime>> {
    // The sightings key leads with the indicator; each item by its id.
    let mut stmt = conn.prepare_cached(
        "SELECT s.source_id,
                MIN(CASE WHEN i.published_at IS NOT NULL AND i.tlp <= ?2
                              AND i.published_at < s.first_seen
                         THEN i.published_at ELSE s.first_seen END) AS t
         FROM sightings s LEFT JOIN items i ON i.id = s.item_id
         WHERE s.indicator_id = ?1 AND s.tlp <= ?2
         GROUP BY s.source_id
         ORDER BY t, s.source_id",
    )?;
    let rows = stmt
        .query_map(params![indicator.get(), max_tlp.rank()], |r| {
            Ok(ReportTime {
                source: rexist_core::SourceId::new(r.get(0)?),
                at: rexist_core::model::from_unix_micros(r.get(1)?),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}
