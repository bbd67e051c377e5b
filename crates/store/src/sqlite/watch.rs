//! What watchlist entries match, read in the store (SQLite).

use rexist_core::IndicatorRecord;
use rusqlite::{Connection, params};

use super::rows::{INDICATOR_COLUMNS, indicator_from_row};
use crate::decode::{decode_cursor, encode_cursor};
use crate::types::{domain_reads, page_size};
use crate::{DomainQuery, Page, Result};

/// [`crate::Store::indicators_at_or_below`]: one statement, domains and
/// e-mail addresses as a range of the reversed-host index each, URLs by a
/// pattern (a scan of the URL rows: no index holds a URL's host).
pub(super) fn indicators_at_or_below(
    conn: &Connection,
    q: &DomainQuery,
) -> Result<Page<IndicatorRecord>> {
    let limit = page_size(q.limit);
    let after = q.after.as_deref().map(decode_cursor).transpose()?;
    let (after_value, after_kind) = after.unzip();
    let (key, end, url) = domain_reads(&q.domain);
    let part = |kind: &str, which: &str| {
        format!(
            "SELECT {INDICATOR_COLUMNS} FROM indicators WHERE kind = '{kind}' AND {which}
               AND (?4 IS NULL OR tlp <= ?4)
               AND (?5 IS NULL OR value > ?5 OR (value = ?5 AND kind > ?6))"
        )
    };
    let sql = format!(
        "SELECT * FROM ({} UNION ALL {} UNION ALL {}) ORDER BY value, kind LIMIT {}",
        part("domain", "rhost >= ?1 AND rhost < ?2"),
        part("email", "rhost >= ?1 AND rhost < ?2"),
        part("url", "value LIKE ?3"),
        super::sql_limit(limit) + 1
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![
            key,
            end,
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
