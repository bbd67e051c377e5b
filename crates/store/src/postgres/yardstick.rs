//! The yardstick PostgreSQL ingest is measured against: the plainest fast
//! way to load the same rows, on the same server, in the same run.
//!
//! Measured beside it (`rexist bench ingest --database-url …`, 1,000,000
//! rows), rexist's own path — `unnest` arrays in chunks of 5,000, rows
//! locked in one global order — ran at 0.90–0.91 of it; staging each batch
//! through `COPY` and two set-based statements instead ran no faster
//! (0.90), so the simpler path stays.

use std::fmt::Write as _;

use rexist_core::model::unix_micros;
use sqlx::{Connection as _, Executor};

use crate::Result;

/// The yardstick `rexist bench ingest` measures PostgreSQL ingest against:
/// the same `rows` (`row(i)` is the i-th kind and canonical value) as new
/// sightings of `source` in the schema `schema`, loaded the plainest fast
/// way — one `COPY` into a temporary table, then one set-based
/// `INSERT … ON CONFLICT` into `indicators` and one into `sightings`, in one
/// transaction, with none of rexist's bookkeeping (no folding of repeats,
/// no revival, no per-batch counts).
pub async fn copy_upsert_yardstick(
    url: &str,
    schema: &str,
    source: rexist_core::SourceId,
    rows: u64,
    row: impl Fn(u64) -> (rexist_core::IndicatorType, String),
) -> Result<()> {
    use std::str::FromStr as _;
    let options = sqlx::postgres::PgConnectOptions::from_str(url)
        .map_err(|e| crate::StoreError::invalid(format!("invalid PostgreSQL URL: {e}")))?
        .options([("search_path", schema), ("jit", "off")]);
    let mut conn = sqlx::PgConnection::connect_with(&options).await?;
    let seen = unix_micros(rexist_core::model::now());
    let mut tx = conn.begin().await?;
    (&mut *tx)
        .execute("CREATE TEMP TABLE yard (k text, v text, f int8) ON COMMIT DROP")
        .await?;
    let mut copy = tx.copy_in_raw("COPY yard (k, v, f) FROM STDIN").await?;
    let mut data = String::with_capacity(4 << 20);
    for i in 0..rows {
        let (kind, value) = row(i);
        text(&mut data, kind.as_str());
        data.push('\t');
        text(&mut data, &value);
        let _ = writeln!(data, "\t{seen}");
        if data.len() >= 4 << 20 {
            copy.send(data.as_bytes()).await?;
            data.clear();
        }
    }
    copy.send(data.as_bytes()).await?;
    copy.finish().await?;
    (&mut *tx)
        .execute(
            "INSERT INTO indicators (kind, value, first_seen, last_seen, sightings, score, tlp, status)
             SELECT k, v, f, f, 1, 50, 0, 'active' FROM yard
             ON CONFLICT (value, kind) DO UPDATE SET
               last_seen = GREATEST(indicators.last_seen, EXCLUDED.last_seen)",
        )
        .await?;
    sqlx::query(
        "INSERT INTO sightings (indicator_id, source_id, item_id, first_seen, last_seen, confidence, tlp, labels)
         SELECT i.id, $1, 0, y.f, y.f, 50, 0, '[]' FROM yard y
         JOIN indicators i ON i.value = y.v AND i.kind = y.k
         ON CONFLICT (indicator_id, source_id, item_id) DO UPDATE SET
           last_seen = GREATEST(sightings.last_seen, EXCLUDED.last_seen)",
    )
    .bind(source.get())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    conn.close().await?;
    Ok(())
}

/// Appends `v` escaped for `COPY` text format: backslash, tab, line breaks.
fn text(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_would_split_a_field_or_a_row() {
        let mut out = String::new();
        text(&mut out, "a\\b\tc\nd\re");
        assert_eq!(out, "a\\\\b\\tc\\nd\\re");
    }
}
