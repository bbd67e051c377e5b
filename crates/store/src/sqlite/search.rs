//! An analyst's search and saved searches on SQLite (statements built in
//! [`crate::search`]).

use rexist_core::model::{from_unix_micros, now, unix_micros};
use rexist_core::{IndicatorRecord, Item};
use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};

use super::rows::{indicator_from_row, item_from_row};
use crate::search::{
    Facets, IndicatorFilter, IndicatorSearch, ItemFilter, ItemSearch, MAX_SAVED_SEARCHES,
    SavedSearch, check_saved, file_facet, indicator_cursor, indicator_facet_sql,
    indicator_page_sql, item_facet_sql, item_page, item_page_sql,
};
use crate::sharing::Bind;
use crate::{ErrorKind, Page, Result, StoreError};

fn values(binds: Vec<Bind>) -> Vec<Value> {
    binds
        .into_iter()
        .map(|b| match b {
            Bind::Int(v) => Value::Integer(v),
            Bind::Text(v) => Value::Text(v),
            // The builder gives SQLite one parameter per element.
            Bind::Ints(_) | Bind::Texts(_) => Value::Null,
        })
        .collect()
}

pub(super) fn search_indicators(
    conn: &Connection,
    q: &IndicatorSearch,
) -> Result<Page<IndicatorRecord>> {
    let (sql, binds) = indicator_page_sql(q, false)?;
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(values(binds)), indicator_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let sort = q.sort;
    Ok(Page::from_overfetch(
        rows,
        crate::types::page_size(q.limit),
        |r| indicator_cursor(sort, r),
    ))
}

fn facet_rows(conn: &Connection, sql: &str, binds: Vec<Bind>) -> Result<Vec<(String, i64)>> {
    Ok(conn
        .prepare_cached(sql)?
        .query_map(params_from_iter(values(binds)), |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn indicator_facets(conn: &Connection, f: &IndicatorFilter) -> Result<Facets> {
    let mut facets = Facets::default();
    for (skip, sql, binds) in indicator_facet_sql(f, false) {
        let rows = facet_rows(conn, &sql, binds)?;
        file_facet(&mut facets, skip.field(), rows);
    }
    Ok(facets)
}

pub(super) fn search_items(conn: &Connection, q: &ItemSearch) -> Result<Page<Item>> {
    let Some((sql, binds)) = item_page_sql(q, false)? else {
        return Ok(Page {
            items: Vec::new(),
            next: None,
        });
    };
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(values(binds)), item_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(item_page(q, rows))
}

pub(super) fn item_facets(conn: &Connection, f: &ItemFilter) -> Result<Facets> {
    let mut facets = Facets::default();
    for (skip, sql, binds) in item_facet_sql(f, false) {
        let rows = facet_rows(conn, &sql, binds)?;
        file_facet(&mut facets, skip.field(), rows);
    }
    Ok(facets)
}

pub(super) fn save_search(
    conn: &mut Connection,
    owner: &str,
    name: &str,
    query: &str,
) -> Result<SavedSearch> {
    check_saved(owner, name, query)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let (count, exists): (i64, bool) = tx.query_row(
        "SELECT count(*), coalesce(max(name = ?2), 0) FROM saved_searches WHERE owner = ?1",
        params![owner, name],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if !exists && u64::try_from(count).unwrap_or(0) >= MAX_SAVED_SEARCHES {
        return Err(StoreError::new(
            ErrorKind::Conflict,
            format!("{owner} has {MAX_SAVED_SEARCHES} saved searches: delete one first"),
        ));
    }
    let at = unix_micros(now());
    tx.execute(
        "INSERT INTO saved_searches (owner, name, query, saved_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (owner, name) DO UPDATE SET query = excluded.query, saved_at = excluded.saved_at",
        params![owner, name, query, at],
    )?;
    tx.commit()?;
    Ok(SavedSearch {
        name: name.to_owned(),
        query: query.to_owned(),
        saved_at: from_unix_micros(at),
    })
}

pub(super) fn saved_searches(conn: &Connection, owner: &str) -> Result<Vec<SavedSearch>> {
    Ok(conn
        .prepare_cached(
            "SELECT name, query, saved_at FROM saved_searches WHERE owner = ?1 ORDER BY name",
        )?
        .query_map(params![owner], |r| {
            Ok(SavedSearch {
                name: r.get(0)?,
                query: r.get(1)?,
                saved_at: from_unix_micros(r.get(2)?),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn delete_search(conn: &Connection, owner: &str, name: &str) -> Result<bool> {
    Ok(conn.execute(
        "DELETE FROM saved_searches WHERE owner = ?1 AND name = ?2",
        params![owner, name],
    )? > 0)
}
