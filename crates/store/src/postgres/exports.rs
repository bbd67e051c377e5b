//! Stored export definitions on PostgreSQL (see `crate::exports` and the
//! SQLite twin).

use rexist_core::model::{now, unix_micros};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgPool, Postgres, Row, Transaction};

use crate::Result;
use crate::exports::{COLUMNS, StoredExport, StoredExportRow, check, taken};

fn row(r: &PgRow) -> Result<StoredExport> {
    StoredExportRow {
        name: r.try_get(0)?,
        definition: r.try_get(1)?,
        created_at: r.try_get(2)?,
        created_by: r.try_get(3)?,
        updated_at: r.try_get(4)?,
        updated_by: r.try_get(5)?,
    }
    .decode()
}

async fn by_name(tx: &mut Transaction<'_, Postgres>, name: &str) -> Result<Option<StoredExport>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM stored_exports WHERE name = $1"
    )))
    .bind(name)
    .fetch_optional(&mut **tx)
    .await?
    .as_ref()
    .map(row)
    .transpose()
}

pub(super) async fn list(pool: &PgPool) -> Result<Vec<StoredExport>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM stored_exports ORDER BY name COLLATE \"C\""
    )))
    .fetch_all(pool)
    .await?
    .iter()
    .map(row)
    .collect()
}

pub(super) async fn get(pool: &PgPool, name: &str) -> Result<Option<StoredExport>> {
    if name.contains('\0') {
        return Ok(None);
    }
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM stored_exports WHERE name = $1"
    )))
    .bind(name)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(row)
    .transpose()
}

pub(super) async fn create(
    pool: &PgPool,
    name: &str,
    definition: &serde_json::Value,
    by: &str,
) -> Result<StoredExport> {
    let text = check(name, definition, by)?;
    let at = unix_micros(now());
    let mut tx = pool.begin().await?;
    let added = sqlx::query(
        "INSERT INTO stored_exports (name, definition, created_at, created_by, updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $3, $4) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(&text)
    .bind(at)
    .bind(by)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if added == 0 {
        return Err(taken(name));
    }
    let stored = by_name(&mut tx, name).await?.ok_or_else(|| taken(name))?;
    tx.commit().await?;
    Ok(stored)
}

pub(super) async fn update(
    pool: &PgPool,
    name: &str,
    new_name: &str,
    definition: &serde_json::Value,
    by: &str,
) -> Result<Option<StoredExport>> {
    let text = check(new_name, definition, by)?;
    if name.contains('\0') {
        return Ok(None);
    }
    let mut tx = pool.begin().await?;
    if new_name != name && by_name(&mut tx, new_name).await?.is_some() {
        return Err(taken(new_name));
    }
    let changed = sqlx::query(
        "UPDATE stored_exports SET name = $2, definition = $3, updated_at = $4, updated_by = $5
         WHERE name = $1",
    )
    .bind(name)
    .bind(new_name)
    .bind(&text)
    .bind(unix_micros(now()))
    .bind(by)
    .execute(&mut *tx)
    .await
    // A rename racing another writer to the same name.
    .map_err(|e| match crate::StoreError::from(e) {
        e if e.kind() == crate::ErrorKind::Conflict => taken(new_name),
        e => e,
    })?
    .rows_affected();
    if changed == 0 {
        return Ok(None);
    }
    let stored = by_name(&mut tx, new_name).await?;
    tx.commit().await?;
    Ok(stored)
}

pub(super) async fn delete(pool: &PgPool, name: &str) -> Result<bool> {
    if name.contains('\0') {
        return Ok(false);
    }
    Ok(sqlx::query("DELETE FROM stored_exports WHERE name = $1")
        .bind(name)
        .execute(pool)
        .await?
        .rows_affected()
        > 0)
}
