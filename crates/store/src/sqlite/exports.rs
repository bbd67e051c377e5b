//! Stored export definitions on SQLite (see `crate::exports`).

use rexist_core::model::{now, unix_micros};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::Result;
use crate::exports::{COLUMNS, StoredExport, StoredExportRow, check, taken};

fn row(r: &Row<'_>) -> rusqlite::Result<StoredExportRow> {
    Ok(StoredExportRow {
        name: r.get(0)?,
        definition: r.get(1)?,
        created_at: r.get(2)?,
        created_by: r.get(3)?,
        updated_at: r.get(4)?,
        updated_by: r.get(5)?,
    })
}

fn by_name(conn: &Connection, name: &str) -> Result<Option<StoredExport>> {
    let sql = format!("SELECT {COLUMNS} FROM stored_exports WHERE name = ?1");
    conn.query_row(&sql, params![name], row)
        .optional()?
        .map(StoredExportRow::decode)
        .transpose()
}

pub(super) fn list(conn: &Connection) -> Result<Vec<StoredExport>> {
    let sql = format!("SELECT {COLUMNS} FROM stored_exports ORDER BY name");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], row)?;
    rows.map(|r| r.map_err(Into::into).and_then(StoredExportRow::decode))
        .collect()
}

pub(super) fn get(conn: &Connection, name: &str) -> Result<Option<StoredExport>> {
    by_name(conn, name)
}

pub(super) fn create(
    conn: &mut Connection,
    name: &str,
    definition: &serde_json::Value,
    by: &str,
) -> Result<StoredExport> {
    let text = check(name, definition, by)?;
    let at = unix_micros(now());
    let tx = conn.transaction()?;
    let added = tx.execute(
        "INSERT INTO stored_exports (name, definition, created_at, created_by, updated_at, updated_by)
         VALUES (?1, ?2, ?3, ?4, ?3, ?4) ON CONFLICT (name) DO NOTHING",
        params![name, text, at, by],
    )?;
    if added == 0 {
        return Err(taken(name));
    }
    let stored = by_name(&tx, name)?.ok_or_else(|| taken(name))?;
    tx.commit()?;
    Ok(stored)
}

pub(super) fn update(
    conn: &mut Connection,
    name: &str,
    new_name: &str,
    definition: &serde_json::Value,
    by: &str,
) -> Result<Option<StoredExport>> {
    let text = check(new_name, definition, by)?;
    let tx = conn.transaction()?;
    if new_name != name && by_name(&tx, new_name)?.is_some() {
        return Err(taken(new_name));
    }
    let changed = tx.execute(
        "UPDATE stored_exports SET name = ?2, definition = ?3, updated_at = ?4, updated_by = ?5
         WHERE name = ?1",
        params![name, new_name, text, unix_micros(now()), by],
    )?;
    if changed == 0 {
        return Ok(None);
    }
    let stored = by_name(&tx, new_name)?;
    tx.commit()?;
    Ok(stored)
}

pub(super) fn delete(conn: &mut Connection, name: &str) -> Result<bool> {
    Ok(conn.execute("DELETE FROM stored_exports WHERE name = ?1", params![name])? > 0)
}
