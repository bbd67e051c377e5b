//! Offset-paged, counted listings on SQLite, every filter in the statement
//! (EXIST's legacy views page by offset and report a total).

use rexist_core::{IndicatorRecord, Sighting};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::rows::{INDICATOR_COLUMNS, SIGHTING_COLUMNS, indicator_from_row, sighting_from_row};
use crate::decode::qualified;
use crate::types::{contains_terms, page_size};
use crate::{Counted, ItemSightingQuery, RecentQuery, Result};

/// A `WHERE` clause being built and the values its `?` marks bind, in order.
#[derive(Default)]
struct Filter {
    clauses: Vec<String>,
    args: Vec<Value>,
}

impl Filter {
    fn push(&mut self, clause: impl Into<String>, args: impl IntoIterator<Item = Value>) {
        self.clauses.push(clause.into());
        self.args.extend(args);
    }

    /// `column IN (?, …)` over `values`; nothing when there are none.
    fn any_of(&mut self, column: &str, values: Vec<Value>) {
        if values.is_empty() {
            return;
        }
        let marks = vec!["?"; values.len()].join(", ");
        self.push(format!("{column} IN ({marks})"), values);
    }

    fn sql(&self) -> String {
        self.clauses.join(" AND ")
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// How many rows `from_where` (`FROM … WHERE …`) matches, read up to
/// `up_to + 1` of them: the total and whether it passed `up_to`.
fn count(conn: &Connection, from_where: &str, args: &[Value], up_to: u32) -> Result<(u64, bool)> {
    let sql = format!(
        "SELECT count(*) FROM (SELECT 1 {from_where} LIMIT {})",
        u64::from(up_to) + 1
    );
    let n: i64 = conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(args), |r| r.get(0))?;
    let n = u64::try_from(n).unwrap_or(0);
    Ok((n.min(u64::from(up_to)), n > u64::from(up_to)))
}

pub(super) fn recent_indicators(
    conn: &Connection,
    q: &RecentQuery,
) -> Result<Counted<IndicatorRecord>> {
    let tlp = Value::Integer(i64::from(q.max_tlp.rank()));
    let mut f = Filter::default();
    f.push("tlp <= ?", [tlp.clone()]);
    // Analysts' false positives are not reputation (as in every export).
    f.push("status <> 'false_positive'", []);
    f.any_of("kind", q.kinds.iter().map(|k| text(k.as_str())).collect());
    if let Some(v) = &q.value {
        f.push("value = ?", [text(v)]);
    }
    for term in contains_terms(&q.contains) {
        f.push("instr(lower(value), ?) > 0", [Value::Text(term)]);
    }
    if !q.sources.is_empty() {
        let marks = vec!["?"; q.sources.len()].join(", ");
        // The sighting key starts (indicator_id, source_id): one probe per row.
        f.push(
            format!(
                "EXISTS (SELECT 1 FROM sightings s WHERE s.indicator_id = indicators.id
                         AND s.source_id IN ({marks}) AND s.tlp <= ?)"
            ),
            q.sources
                .iter()
                .map(|s| Value::Integer(s.get()))
                .chain([tlp]),
        );
    }
    let from_where = format!("FROM indicators WHERE {}", f.sql());
    let (total, capped) = count(conn, &from_where, &f.args, q.count_up_to)?;
    let sql = format!(
        "SELECT {INDICATOR_COLUMNS} {from_where} ORDER BY last_seen DESC, id DESC LIMIT {} OFFSET {}",
        page_size(q.limit),
        q.offset
    );
    let items = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(&f.args), indicator_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Counted {
        items,
        total,
        capped,
    })
}

pub(super) fn item_sightings(
    conn: &Connection,
    q: &ItemSightingQuery,
) -> Result<Counted<(Sighting, IndicatorRecord)>> {
    let tlp = Value::Integer(i64::from(q.max_tlp.rank()));
    let mut f = Filter::default();
    // `item_id <> 0` lets the partial index of item sightings serve the join.
    f.push(
        "s.item_id <> 0 AND it.tlp <= ? AND s.tlp <= ? AND i.tlp <= ?
         AND i.status <> 'false_positive'",
        [tlp.clone(), tlp.clone(), tlp],
    );
    if let Some(kind) = q.item_kind {
        f.push("it.kind = ?", [text(kind.as_str())]);
    }
    let sources: Vec<Value> = q.sources.iter().map(|s| Value::Integer(s.get())).collect();
    f.any_of("it.source_id", sources.clone());
    f.any_of("s.source_id", sources);
    if let Some(item) = q.item {
        f.push("s.item_id = ?", [Value::Integer(item.get())]);
    }
    if let Some(id) = q.sighting {
        f.push("s.id = ?", [Value::Integer(id.get())]);
    }
    f.any_of("i.kind", q.kinds.iter().map(|k| text(k.as_str())).collect());
    if let Some(v) = &q.value {
        f.push("i.value = ?", [text(v)]);
    }
    for term in contains_terms(&q.contains) {
        f.push("instr(lower(i.value), ?) > 0", [Value::Text(term)]);
    }
    if let Some(t) = q.seen_after {
        f.push(
            "s.last_seen >= ?",
            [Value::Integer(rexist_core::model::unix_micros(t))],
        );
    }
    if let Some(t) = q.seen_before {
        f.push(
            "s.last_seen <= ?",
            [Value::Integer(rexist_core::model::unix_micros(t))],
        );
    }
    let from_where = format!(
        "FROM sightings s JOIN items it ON it.id = s.item_id
         JOIN indicators i ON i.id = s.indicator_id WHERE {}",
        f.sql()
    );
    let (total, capped) = count(conn, &from_where, &f.args, q.count_up_to)?;
    let sql = format!(
        "SELECT {} {from_where} ORDER BY s.last_seen DESC, s.id DESC LIMIT {} OFFSET {}",
        qualified("s", SIGHTING_COLUMNS),
        page_size(q.limit),
        q.offset
    );
    let sightings = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(&f.args), sighting_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let by_id = format!("SELECT {INDICATOR_COLUMNS} FROM indicators WHERE id = ?1");
    let mut stmt = conn.prepare_cached(&by_id)?;
    let mut items = Vec::with_capacity(sightings.len());
    for s in sightings {
        // Indicators are never deleted while their sightings stay.
        if let Some(rec) = stmt
            .query_row(params![s.indicator_id.get()], indicator_from_row)
            .optional()?
        {
            items.push((s, rec));
        }
    }
    Ok(Counted {
        items,
        total,
        capped,
    })
}
