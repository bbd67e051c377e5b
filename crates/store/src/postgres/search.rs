//! An analyst's search and saved searches on PostgreSQL (statements built
//! in [`crate::search`]).

use rexist_core::model::{from_unix_micros, now, unix_micros};
use rexist_core::{IndicatorRecord, Item};
use sqlx::postgres::{PgArguments, PgPool};
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, Postgres, Row};

use super::rows::{indicator_from_row, item_from_row};
use crate::search::{
    Facets, IndicatorFilter, IndicatorSearch, ItemFilter, ItemSearch, MAX_SAVED_SEARCHES,
    SavedSearch, check_saved, file_facet, indicator_cursor, indicator_facet_sql,
    indicator_page_sql, item_facet_sql, item_page, item_page_sql,
};
use crate::sharing::Bind;
use crate::{ErrorKind, Page, Result, StoreError};

fn bound(sql: String, binds: Vec<Bind>) -> Query<'static, Postgres, PgArguments> {
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for b in binds {
        query = match b {
            Bind::Int(v) => query.bind(v),
            Bind::Text(v) => query.bind(v),
            Bind::Ints(v) => query.bind(v),
            Bind::Texts(v) => query.bind(v),
        };
    }
    query
}

pub(super) async fn search_indicators(
    pool: &PgPool,
    q: &IndicatorSearch,
) -> Result<Page<IndicatorRecord>> {
    let (sql, binds) = indicator_page_sql(q, true)?;
    let rows = bound(sql, binds)
        .fetch_all(pool)
        .await?
        .iter()
        .map(indicator_from_row)
        .collect::<Result<Vec<_>>>()?;
    let sort = q.sort;
    Ok(Page::from_overfetch(
        rows,
        crate::types::page_size(q.limit),
        |r| indicator_cursor(sort, r),
    ))
}

async fn facet_rows(pool: &PgPool, sql: String, binds: Vec<Bind>) -> Result<Vec<(String, i64)>> {
    bound(sql, binds)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
        .collect()
}

pub(super) async fn indicator_facets(pool: &PgPool, f: &IndicatorFilter) -> Result<Facets> {
    let mut facets = Facets::default();
    for (skip, sql, binds) in indicator_facet_sql(f, true) {
        let rows = facet_rows(pool, sql, binds).await?;
        file_facet(&mut facets, skip.field(), rows);
    }
    Ok(facets)
}

pub(super) async fn search_items(pool: &PgPool, q: &ItemSearch) -> Result<Page<Item>> {
    let Some((sql, binds)) = item_page_sql(q, true)? else {
        return Ok(Page {
            items: Vec::new(),
            next: None,
        });
    };
    let rows = bound(sql, binds)
        .fetch_all(pool)
        .await?
        .iter()
        .map(item_from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok(item_page(q, rows))
}

pub(super) async fn item_facets(pool: &PgPool, f: &ItemFilter) -> Result<Facets> {
    let mut facets = Facets::default();
    for (skip, sql, binds) in item_facet_sql(f, true) {
        let rows = facet_rows(pool, sql, binds).await?;
        file_facet(&mut facets, skip.field(), rows);
    }
    Ok(facets)
}

pub(super) async fn save_search(
    pool: &PgPool,
    owner: &str,
    name: &str,
    query: &str,
) -> Result<SavedSearch> {
    check_saved(owner, name, query)?;
    let mut tx = pool.begin().await?;
    // One owner's saves in turn, so the cap holds under concurrent saves.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('saved_searches:' || $1))")
        .bind(owner)
        .execute(&mut *tx)
        .await?;
    let (count, exists): (i64, bool) = sqlx::query_as(
        "SELECT count(*), coalesce(bool_or(name = $2), false) FROM saved_searches WHERE owner = $1",
    )
    .bind(owner)
    .bind(name)
    .fetch_one(&mut *tx)
    .await?;
    if !exists && u64::try_from(count).unwrap_or(0) >= MAX_SAVED_SEARCHES {
        return Err(StoreError::new(
            ErrorKind::Conflict,
            format!("{owner} has {MAX_SAVED_SEARCHES} saved searches: delete one first"),
        ));
    }
    let at = unix_micros(now());
    sqlx::query(
        "INSERT INTO saved_searches (owner, name, query, saved_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (owner, name) DO UPDATE SET query = excluded.query, saved_at = excluded.saved_at",
    )
    .bind(owner)
    .bind(name)
    .bind(query)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(SavedSearch {
        name: name.to_owned(),
        query: query.to_owned(),
        saved_at: from_unix_micros(at),
    })
}

pub(super) async fn saved_searches(pool: &PgPool, owner: &str) -> Result<Vec<SavedSearch>> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT name, query, saved_at FROM saved_searches WHERE owner = $1 ORDER BY name",
    )
    .bind(owner)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, query, at)| SavedSearch {
            name,
            query,
            saved_at: from_unix_micros(at),
        })
        .collect())
}

pub(super) async fn delete_search(pool: &PgPool, owner: &str, name: &str) -> Result<bool> {
    Ok(
        sqlx::query("DELETE FROM saved_searches WHERE owner = $1 AND name = $2")
            .bind(owner)
            .bind(name)
            .execute(pool)
            .await?
            .rows_affected()
            > 0,
    )
}
