//! Exports, users, tokens and the audit log on SQLite.

use rexist_core::model::{from_unix_micros, now, unix_micros};
use rexist_core::{ApiToken, AuditEntry, ExportRow, NewAudit, NewToken, Role, User};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::rows::indicator_from_row;
use crate::retire::Context;
use crate::sharing::{
    AUDIT_COLUMNS, AuditRow, Bind, TOKEN_COLUMNS, TokenRow, USER_COLUMNS, UserRow, check_name,
    export_sql, scopes_json,
};
use crate::types::page_size;
use crate::{ErrorKind, ExportQuery, Page, Result, StoreError, UserChange};

fn conv<T>(r: crate::Result<T>) -> rusqlite::Result<T> {
    r.map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn user_from_row(r: &Row<'_>) -> rusqlite::Result<User> {
    conv(
        UserRow {
            id: r.get(0)?,
            name: r.get(1)?,
            role: r.get(2)?,
            disabled: r.get(3)?,
            created_at: r.get(4)?,
        }
        .decode(),
    )
}

fn token_from_row(r: &Row<'_>) -> rusqlite::Result<ApiToken> {
    conv(
        TokenRow {
            id: r.get(0)?,
            name: r.get(1)?,
            kind: r.get(2)?,
            role: r.get(3)?,
            scopes: r.get(4)?,
            user: r.get(5)?,
            prefix: r.get(6)?,
            created_at: r.get(7)?,
            expires_at: r.get(8)?,
            last_used_at: r.get(9)?,
            revoked: r.get(10)?,
            csrf: r.get(11)?,
        }
        .decode(),
    )
}

pub(super) fn export_indicators(conn: &Connection, q: &ExportQuery) -> Result<Vec<ExportRow>> {
    let Some((sql, binds)) = export_sql(q, false) else {
        return Ok(Vec::new());
    };
    let args: Vec<Value> = binds
        .into_iter()
        .map(|b| match b {
            Bind::Int(v) => Value::Integer(v),
            Bind::Text(v) => Value::Text(v),
            Bind::Ints(_) | Bind::Texts(_) => Value::Null,
        })
        .collect();
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| {
        Ok(ExportRow {
            record: indicator_from_row(r)?,
            added: from_unix_micros(r.get(10)?),
            sources: Vec::new(),
            labels: Vec::new(),
        })
    })?;
    let mut out = rows.collect::<Result<Vec<_>, _>>()?;
    if q.with_context {
        // Only sightings the reader may see name their source and labels.
        let mut ctx = conn.prepare_cached(
            "SELECT src.name, s.labels, s.retired_at IS NOT NULL FROM sightings s
             JOIN sources src ON src.id = s.source_id
             WHERE s.indicator_id = ?1 AND s.tlp <= ?2",
        )?;
        let max_tlp = q.max_tlp.unwrap_or(rexist_core::Tlp::Red).rank();
        let hand = super::curation::any_hand_labels(conn)?;
        for row in &mut out {
            let mut context = Context::default();
            let rows = ctx.query_map(params![row.record.id.get(), max_tlp], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, bool>(2)?,
                ))
            })?;
            for one in rows {
                let (source, labels, retired) = one?;
                context.add(source, &labels, retired);
            }
            (row.sources, row.labels) = context.finish();
            if hand {
                row.labels = super::curation::hand_labels(conn, row.record.id.get())?
                    .apply_labels(&row.labels);
            }
        }
    }
    Ok(out)
}

pub(super) fn create_user(
    conn: &mut Connection,
    name: &str,
    password_hash: &str,
    role: Role,
) -> Result<User> {
    check_name("user", name)?;
    let tx = conn.transaction()?;
    let taken: Option<i64> = tx
        .query_row("SELECT id FROM users WHERE name = ?1", params![name], |r| {
            r.get(0)
        })
        .optional()?;
    if taken.is_some() {
        return Err(StoreError::new(
            ErrorKind::Conflict,
            format!("user {name:?} exists"),
        ));
    }
    tx.execute(
        "INSERT INTO users (name, password_hash, role, disabled, created_at) VALUES (?1, ?2, ?3, 0, ?4)",
        params![name, password_hash, role.as_str(), unix_micros(now())],
    )?;
    let user = tx.query_row(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
        params![tx.last_insert_rowid()],
        user_from_row,
    )?;
    tx.commit()?;
    Ok(user)
}

pub(super) fn user_credentials(conn: &Connection, name: &str) -> Result<Option<(User, String)>> {
    Ok(conn
        .query_row(
            &format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE name = ?1"),
            params![name],
            |r| Ok((user_from_row(r)?, r.get(5)?)),
        )
        .optional()?)
}

pub(super) fn update_user(
    conn: &mut Connection,
    name: &str,
    change: &UserChange,
) -> Result<Option<User>> {
    let tx = conn.transaction()?;
    let n = tx.execute(
        "UPDATE users SET password_hash = COALESCE(?2, password_hash), role = COALESCE(?3, role),
                disabled = COALESCE(?4, disabled)
         WHERE name = ?1",
        params![
            name,
            change.password_hash,
            change.role.map(Role::as_str),
            change.disabled
        ],
    )?;
    if n == 0 {
        return Ok(None);
    }
    // A new password or a disabled account ends the user's sessions.
    if change.password_hash.is_some() || change.disabled == Some(true) {
        tx.execute(
            "UPDATE tokens SET revoked = 1 WHERE kind = 'session'
             AND user_id = (SELECT id FROM users WHERE name = ?1)",
            params![name],
        )?;
    }
    let user = tx.query_row(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE name = ?1"),
        params![name],
        user_from_row,
    )?;
    tx.commit()?;
    Ok(Some(user))
}

pub(super) fn list_users(conn: &Connection) -> Result<Vec<User>> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"))?;
    let rows = stmt.query_map([], user_from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn create_token(conn: &mut Connection, t: &NewToken) -> Result<ApiToken> {
    check_name("token", &t.name)?;
    let tx = conn.transaction()?;
    let user_id: Option<i64> = match &t.user {
        Some(user) => Some(
            tx.query_row("SELECT id FROM users WHERE name = ?1", params![user], |r| {
                r.get(0)
            })
            .optional()?
            .ok_or_else(|| StoreError::new(ErrorKind::NotFound, format!("no user {user:?}")))?,
        ),
        None => None,
    };
    if t.kind == "token" {
        let taken: Option<i64> = tx
            .query_row(
                "SELECT id FROM tokens WHERE kind = 'token' AND revoked = 0 AND name = ?1",
                params![t.name],
                |r| r.get(0),
            )
            .optional()?;
        if taken.is_some() {
            return Err(StoreError::new(
                ErrorKind::Conflict,
                format!("a token named {:?} exists; revoke it first", t.name),
            ));
        }
    }
    tx.execute(
        "INSERT INTO tokens (name, kind, role, scopes, user_id, hash, prefix, csrf, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            t.name,
            t.kind,
            t.role.as_str(),
            scopes_json(&t.scopes),
            user_id,
            t.hash,
            t.prefix,
            t.csrf,
            unix_micros(now()),
            t.expires_at.map(unix_micros)
        ],
    )?;
    let token = tx.query_row(
        &format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens t LEFT JOIN users u ON u.id = t.user_id WHERE t.id = ?1"
        ),
        params![tx.last_insert_rowid()],
        token_from_row,
    )?;
    tx.commit()?;
    Ok(token)
}

pub(super) fn token_by_hash(conn: &Connection, hash: &str) -> Result<Option<ApiToken>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens t LEFT JOIN users u ON u.id = t.user_id
             WHERE t.hash = ?1 AND t.revoked = 0
               AND (t.expires_at IS NULL OR t.expires_at > ?2)
               AND (t.user_id IS NULL OR u.disabled = 0)"
        ))?
        .query_row(params![hash, unix_micros(now())], token_from_row)
        .optional()?)
}

pub(super) fn touch_token(conn: &mut Connection, id: i64) -> Result<()> {
    conn.execute(
        "UPDATE tokens SET last_used_at = ?2 WHERE id = ?1",
        params![id, unix_micros(now())],
    )?;
    Ok(())
}

pub(super) fn list_tokens(conn: &Connection) -> Result<Vec<ApiToken>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens t LEFT JOIN users u ON u.id = t.user_id
         WHERE t.kind = 'token' ORDER BY t.id DESC"
    ))?;
    let rows = stmt.query_map([], token_from_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn revoke_token(conn: &mut Connection, kind: &str, name: &str) -> Result<u64> {
    let n = if kind == "session" {
        conn.execute(
            "UPDATE tokens SET revoked = 1 WHERE kind = 'session' AND revoked = 0
             AND user_id = (SELECT id FROM users WHERE name = ?1)",
            params![name],
        )?
    } else {
        conn.execute(
            "UPDATE tokens SET revoked = 1 WHERE kind = 'token' AND revoked = 0 AND name = ?1",
            params![name],
        )?
    };
    Ok(n as u64)
}

pub(super) fn end_session(conn: &mut Connection, hash: &str) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE tokens SET revoked = 1 WHERE kind = 'session' AND revoked = 0 AND hash = ?1",
        params![hash],
    )? == 1)
}

pub(super) fn record_audit(conn: &mut Connection, e: &NewAudit) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO audit (at, actor, action, target, outcome, address) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        unix_micros(now()),
        e.actor,
        e.action,
        e.target,
        e.outcome,
        e.address
    ])?;
    Ok(())
}

pub(super) fn list_audit(
    conn: &Connection,
    before: Option<i64>,
    limit: u32,
) -> Result<Page<AuditEntry>> {
    let limit = page_size(limit);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {AUDIT_COLUMNS} FROM audit WHERE id < ?1 ORDER BY id DESC LIMIT {}",
        super::sql_limit(limit) + 1
    ))?;
    let rows = stmt.query_map(params![before.unwrap_or(i64::MAX)], |r| {
        Ok(AuditRow {
            id: r.get(0)?,
            at: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            target: r.get(4)?,
            outcome: r.get(5)?,
            address: r.get(6)?,
        }
        .decode())
    })?;
    let rows = rows.collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(rows, limit, |e| e.id.to_string()))
}
