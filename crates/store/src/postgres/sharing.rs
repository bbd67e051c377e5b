//! Exports, users, tokens and the audit log on PostgreSQL.

use sqlx::AssertSqlSafe;
use std::collections::HashMap;

use rexist_core::model::{from_unix_micros, now, unix_micros};
use rexist_core::{ApiToken, AuditEntry, ExportRow, NewAudit, NewToken, Role, User};
use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};

use super::rows::indicator_from_row;
use crate::retire::Context;
use crate::sharing::{
    AUDIT_COLUMNS, AuditRow, Bind, TOKEN_COLUMNS, TokenRow, USER_COLUMNS, UserRow, check_name,
    export_sql, scopes_json,
};
use crate::types::page_size;
use crate::{ErrorKind, ExportQuery, Page, Result, StoreError, UserChange};

fn user_from_row(r: &PgRow) -> Result<User> {
    UserRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        role: r.try_get(2)?,
        disabled: r.try_get(3)?,
        created_at: r.try_get(4)?,
    }
    .decode()
}

fn token_from_row(r: &PgRow) -> Result<ApiToken> {
    TokenRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        kind: r.try_get(2)?,
        role: r.try_get(3)?,
        scopes: r.try_get(4)?,
        user: r.try_get(5)?,
        prefix: r.try_get(6)?,
        created_at: r.try_get(7)?,
        expires_at: r.try_get(8)?,
        last_used_at: r.try_get(9)?,
        revoked: r.try_get(10)?,
        csrf: r.try_get(11)?,
    }
    .decode()
}

pub(super) async fn export_indicators(pool: &PgPool, q: &ExportQuery) -> Result<Vec<ExportRow>> {
    let Some((sql, binds)) = export_sql(q, true) else {
        return Ok(Vec::new());
    };
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for b in binds {
        query = match b {
            Bind::Int(v) => query.bind(v),
            Bind::Text(v) => query.bind(v),
            Bind::Ints(v) => query.bind(v),
            Bind::Texts(v) => query.bind(v),
        };
    }
    let rows = query.fetch_all(pool).await?;
    let mut out = rows
        .iter()
        .map(|r| {
            Ok(ExportRow {
                record: indicator_from_row(r)?,
                added: from_unix_micros(r.try_get(10)?),
                sources: Vec::new(),
                labels: Vec::new(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if q.with_context && !out.is_empty() {
        let ids: Vec<i64> = out.iter().map(|r| r.record.id.get()).collect();
        let rows: Vec<(i64, String, String, bool)> = sqlx::query_as(AssertSqlSafe(
            // Only sightings the reader may see name their source and labels.
            "SELECT s.indicator_id, src.name, s.labels, s.retired_at IS NOT NULL FROM sightings s
             JOIN sources src ON src.id = s.source_id
             WHERE s.indicator_id = ANY($1) AND s.tlp <= $2",
        ))
        .bind(&ids)
        .bind(q.max_tlp.unwrap_or(rexist_core::Tlp::Red).rank())
        .fetch_all(pool)
        .await?;
        let mut ctx: HashMap<i64, Context> = HashMap::new();
        for (id, source, labels, retired) in rows {
            ctx.entry(id).or_default().add(source, &labels, retired);
        }
        for row in &mut out {
            if let Some(context) = ctx.remove(&row.record.id.get()) {
                (row.sources, row.labels) = context.finish();
            }
        }
        // Labels analysts added or removed by hand join or leave.
        for (id, hand) in super::curation::curations(pool, &ids, true).await? {
            if let Some(row) = out.iter_mut().find(|r| r.record.id == id) {
                row.labels = hand.apply_labels(&row.labels);
            }
        }
    }
    Ok(out)
}

pub(super) async fn create_user(
    pool: &PgPool,
    name: &str,
    password_hash: &str,
    role: Role,
) -> Result<User> {
    check_name("user", name)?;
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO users (name, password_hash, role, disabled, created_at)
         VALUES ($1, $2, $3, FALSE, $4) ON CONFLICT (name) DO NOTHING RETURNING {USER_COLUMNS}"
    )))
    .bind(name)
    .bind(password_hash)
    .bind(role.as_str())
    .bind(unix_micros(now()))
    .fetch_optional(pool)
    .await?;
    match row {
        Some(r) => user_from_row(&r),
        None => Err(StoreError::new(
            ErrorKind::Conflict,
            format!("user {name:?} exists"),
        )),
    }
}

pub(super) async fn user_credentials(pool: &PgPool, name: &str) -> Result<Option<(User, String)>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS}, password_hash FROM users WHERE name = $1"
    )))
    .bind(name)
    .fetch_optional(pool)
    .await?;
    row.map(|r| Ok((user_from_row(&r)?, r.try_get(5)?)))
        .transpose()
}

pub(super) async fn update_user(
    pool: &PgPool,
    name: &str,
    change: &UserChange,
) -> Result<Option<User>> {
    let mut tx = pool.begin().await?;
    let row = sqlx::query(AssertSqlSafe(format!(
        "UPDATE users SET password_hash = COALESCE($2, password_hash), role = COALESCE($3, role),
                disabled = COALESCE($4, disabled)
         WHERE name = $1 RETURNING {USER_COLUMNS}"
    )))
    .bind(name)
    .bind(change.password_hash.as_deref())
    .bind(change.role.map(Role::as_str))
    .bind(change.disabled)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let user = user_from_row(&row)?;
    // A new password or a disabled account ends the user's sessions.
    if change.password_hash.is_some() || change.disabled == Some(true) {
        sqlx::query("UPDATE tokens SET revoked = TRUE WHERE kind = 'session' AND user_id = $1")
            .bind(user.id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Some(user))
}

pub(super) async fn list_users(pool: &PgPool) -> Result<Vec<User>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM users ORDER BY name"
    )))
    .fetch_all(pool)
    .await?
    .iter()
    .map(user_from_row)
    .collect()
}

pub(super) async fn create_token(pool: &PgPool, t: &NewToken) -> Result<ApiToken> {
    check_name("token", &t.name)?;
    let user_id: Option<i64> = match &t.user {
        Some(user) => Some(
            sqlx::query_scalar("SELECT id FROM users WHERE name = $1")
                .bind(user)
                .fetch_optional(pool)
                .await?
                .ok_or_else(|| StoreError::new(ErrorKind::NotFound, format!("no user {user:?}")))?,
        ),
        None => None,
    };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO tokens (name, kind, role, scopes, user_id, hash, prefix, csrf, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(&t.name)
    .bind(&t.kind)
    .bind(t.role.as_str())
    .bind(scopes_json(&t.scopes))
    .bind(user_id)
    .bind(&t.hash)
    .bind(&t.prefix)
    .bind(t.csrf.as_deref())
    .bind(unix_micros(now()))
    .bind(t.expires_at.map(unix_micros))
    .fetch_one(pool)
    .await
    .map_err(|e| match StoreError::from(e) {
        c if c.kind() == ErrorKind::Conflict => StoreError::new(
            ErrorKind::Conflict,
            format!("a token named {:?} exists; revoke it first", t.name),
        ),
        other => other,
    })?;
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens t LEFT JOIN users u ON u.id = t.user_id WHERE t.id = $1"
    )))
    .bind(id)
    .fetch_one(pool)
    .await?;
    token_from_row(&row)
}

pub(super) async fn token_by_hash(pool: &PgPool, hash: &str) -> Result<Option<ApiToken>> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens t LEFT JOIN users u ON u.id = t.user_id
         WHERE t.hash = $1 AND NOT t.revoked
           AND (t.expires_at IS NULL OR t.expires_at > $2)
           AND (t.user_id IS NULL OR NOT u.disabled)"
    )))
    .bind(hash)
    .bind(unix_micros(now()))
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(token_from_row).transpose()
}

pub(super) async fn touch_token(pool: &PgPool, id: i64) -> Result<()> {
    sqlx::query("UPDATE tokens SET last_used_at = $2 WHERE id = $1")
        .bind(id)
        .bind(unix_micros(now()))
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn list_tokens(pool: &PgPool) -> Result<Vec<ApiToken>> {
    sqlx::query(AssertSqlSafe(format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens t LEFT JOIN users u ON u.id = t.user_id
         WHERE t.kind = 'token' ORDER BY t.id DESC"
    )))
    .fetch_all(pool)
    .await?
    .iter()
    .map(token_from_row)
    .collect()
}

pub(super) async fn revoke_token(pool: &PgPool, kind: &str, name: &str) -> Result<u64> {
    let sql = if kind == "session" {
        "UPDATE tokens SET revoked = TRUE WHERE kind = 'session' AND NOT revoked
         AND user_id = (SELECT id FROM users WHERE name = $1)"
    } else {
        "UPDATE tokens SET revoked = TRUE WHERE kind = 'token' AND NOT revoked AND name = $1"
    };
    Ok(sqlx::query(AssertSqlSafe(sql))
        .bind(name)
        .execute(pool)
        .await?
        .rows_affected())
}

pub(super) async fn end_session(pool: &PgPool, hash: &str) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE tokens SET revoked = TRUE WHERE kind = 'session' AND NOT revoked AND hash = $1",
    )
    .bind(hash)
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

pub(super) async fn record_audit(pool: &PgPool, e: &NewAudit) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit (at, actor, action, target, outcome, address) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(unix_micros(now()))
    .bind(&e.actor)
    .bind(&e.action)
    .bind(e.target.as_deref())
    .bind(&e.outcome)
    .bind(e.address.as_deref())
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn list_audit(
    pool: &PgPool,
    before: Option<i64>,
    limit: u32,
) -> Result<Page<AuditEntry>> {
    let limit = page_size(limit);
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {AUDIT_COLUMNS} FROM audit WHERE id < $1 ORDER BY id DESC LIMIT $2"
    )))
    .bind(before.unwrap_or(i64::MAX))
    .bind(i64::from(limit) + 1)
    .fetch_all(pool)
    .await?;
    let rows = rows
        .iter()
        .map(|r| {
            Ok(AuditRow {
                id: r.try_get(0)?,
                at: r.try_get(1)?,
                actor: r.try_get(2)?,
                action: r.try_get(3)?,
                target: r.try_get(4)?,
                outcome: r.try_get(5)?,
                address: r.try_get(6)?,
            }
            .decode())
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_overfetch(rows, limit, |e| e.id.to_string()))
}
