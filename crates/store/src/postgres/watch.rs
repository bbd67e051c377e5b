//! What watchlist entries match, read in the store (PostgreSQL).

use rexist_core::IndicatorRecord;
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgPool;

use super::rows::indicator_from_row;
use crate::decode::{INDICATOR_COLUMNS, decode_cursor, encode_cursor};
use crate::types::{domain_patterns, page_size};
use crate::{DomainQuery, Page, Result};

/// [`crate::Store::indicators_at_or_below`]: one statement over the three
/// types (a scan of their rows: suffix patterns use no index).
pub(super) async fn indicators_at_or_below(
    pool: &PgPool,
    q: &DomainQuery,
) -> Result<Page<IndicatorRecord>> {
    let limit = page_size(q.limit);
    let after = q.after.as_deref().map(decode_cursor).transpose()?;
    let (after_value, after_kind) = after.unzip();
    let [sub, at, at_sub, url] = domain_patterns(&q.domain);
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {INDICATOR_COLUMNS} FROM indicators
         WHERE ((kind = 'domain' AND (value = $1 OR value LIKE $2))
             OR (kind = 'email' AND (value LIKE $3 OR value LIKE $4))
             OR (kind = 'url' AND value LIKE $5))
           AND ($6::int2 IS NULL OR tlp <= $6)
           AND ($7::text IS NULL OR value > $7 OR (value = $7 AND kind > $8))
         ORDER BY value, kind LIMIT $9"
    )))
    .bind(&q.domain)
    .bind(sub)
    .bind(at)
    .bind(at_sub)
    .bind(url)
    .bind(q.max_tlp.map(rexist_core::Tlp::rank))
    .bind(after_value)
    .bind(after_kind)
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let items = rows
        .iter()
        .map(indicator_from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_overfetch(items, limit, |i| {
        encode_cursor(&i.value, i.kind)
    }))
}
