//! What watchlist entries match, read in the store (SQLite).

use rexist_core::IndicatorRecord;
use rusqlite::{Connection, params};

use super::rows::{INDICATOR_COLUMNS, indicator_from_row};
use crate::decode::{decode_cursor, encode_cursor};
use crate::types::{domain_patterns, page_size};
use crate::{DomainQuery, Page, Result};

/// [`crate::Store::indicators_at_or_below`]: one statement over the three
/// types. The suffix patterns cannot use the value index, so this reads
/// every domain, e-mail and URL row once per page; a page stops at its
/// limit of matching rows.
pub(super) fn indicators_at_or_below(
    conn: &Connection,
    q: &DomainQuery,
) -> Result<Page<IndicatorRecord>> {
    let limit = page_size(q.limit);
    let after = q.after.as_deref().map(decode_cursor).transpose()?;
    let (after_value, after_kind) = after.unzip();
    let [sub, at, at_sub, url] = domain_patterns(&q.domain);
    let sql = format!(
        "SELECT {INDICATOR_COLUMNS} FROM indicators
         WHERE ((kind = 'domain' AND (value = ?1 OR value LIKE ?2))
             OR (kind = 'email' AND (value LIKE ?3 OR value LIKE ?4))
             OR (kind = 'url' AND value LIKE ?5))
           AND (?6 IS NULL OR tlp <= ?6)
           AND (?7 IS NULL OR value > ?7 OR (value = ?7 AND kind > ?8))
         ORDER BY value, kind LIMIT {}",
        super::sql_limit(limit) + 1
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![
            q.domain,
            sub,
            at,
            at_sub,
            url,
            q.max_tlp.map(rexist_core::Tlp::rank),
            after_value,
            after_kind
        ],
        indicator_from_row,
    )?;
    let items = rows.collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, limit, |i| {
        encode_cursor(&i.value, i.kind)
    }))
}
