//! What watchlist entries match, read in the store (PostgreSQL).

use rexist_core::IndicatorRecord;
use sqlx::AssertSqlSafe;
use sqlx::postgres::PgPool;

use super::rows::indicator_from_row;
use crate::decode::{INDICATOR_COLUMNS, decode_cursor, encode_cursor};
use crate::types::{domain_reads, page_size};
use crate::{DomainQuery, Page, Result};

/// [`crate::Store::indicators_at_or_below`]: one statement, domains and
/// e-mail addresses as a range of the reversed-host index each, URLs by a
/// pattern (a scan of the URL rows: no index holds a URL's host).
pub(super) async fn indicators_at_or_below(
    pool: &PgPool,
    q: &DomainQuery,
) -> Result<Page<IndicatorRecord>> {
    let limit = page_size(q.limit);
    let after = q.after.as_deref().map(decode_cursor).transpose()?;
    let (after_value, after_kind) = after.unzip();
    let (key, end, url) = domain_reads(&q.domain);
    let part = |kind: &str, which: &str| {
        format!(
            "SELECT {INDICATOR_COLUMNS} FROM indicators WHERE kind = '{kind}' AND {which}
               AND ($4::int2 IS NULL OR tlp <= $4)
               AND ($5::text IS NULL OR value > $5 OR (value = $5 AND kind > $6))"
        )
    };
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT * FROM ({} UNION ALL {} UNION ALL {}) AS found ORDER BY value, kind LIMIT $7",
        part("domain", "rhost >= $1 AND rhost < $2"),
        part("email", "rhost >= $1 AND rhost < $2"),
        part("url", "value LIKE $3"),
    )))
    .bind(key)
    .bind(end)
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
