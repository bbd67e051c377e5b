//! Rows of the sharing tables (users, tokens, audit) and the export query,
//! decoded the same way for both backends.

use std::fmt::Write as _;

use rexist_core::IndicatorStatus;
use rexist_core::model::{from_unix_micros, unix_micros};
use rexist_core::{ApiToken, AuditEntry, NewAudit, Role, Scope, User};

use crate::{ExportQuery, Result, StoreError};

/// Columns of `users`, in the order [`UserRow`] takes them.
pub(crate) const USER_COLUMNS: &str = "id, name, role, disabled, created_at";

/// Columns of `tokens t LEFT JOIN users u`, in the order [`TokenRow`] takes them.
/// A session acts with its user's current role, a token with its own.
pub(crate) const TOKEN_COLUMNS: &str = "t.id, t.name, t.kind, \
     CASE WHEN t.kind = 'session' THEN u.role ELSE t.role END, t.scopes, u.name, t.prefix, \
     t.created_at, t.expires_at, t.last_used_at, t.revoked, t.csrf";

/// Columns of `audit`, in the order [`AuditRow`] takes them.
pub(crate) const AUDIT_COLUMNS: &str = "id, at, actor, action, target, outcome, address";

/// A `users` row as read.
pub(crate) struct UserRow {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub disabled: bool,
    pub created_at: i64,
}

impl UserRow {
    pub fn decode(self) -> Result<User> {
        Ok(User {
            id: self.id,
            role: role(&self.role)?,
            name: self.name,
            disabled: self.disabled,
            created_at: from_unix_micros(self.created_at),
        })
    }
}

/// A `tokens` row as read.
pub(crate) struct TokenRow {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub role: Option<String>,
    pub scopes: String,
    pub user: Option<String>,
    pub prefix: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked: bool,
    pub csrf: Option<String>,
}

impl TokenRow {
    pub fn decode(self) -> Result<ApiToken> {
        let scopes: Vec<String> = serde_json::from_str(&self.scopes)
            .map_err(|e| StoreError::internal(format!("token {}: scopes: {e}", self.id)))?;
        Ok(ApiToken {
            id: self.id,
            role: role(self.role.as_deref().unwrap_or("viewer"))?,
            scopes: scopes
                .iter()
                .map(|s| s.parse::<Scope>())
                .collect::<Result<_, _>>()
                .map_err(|e| StoreError::internal(format!("token {}: {e}", self.id)))?,
            name: self.name,
            kind: self.kind,
            user: self.user,
            prefix: self.prefix,
            created_at: from_unix_micros(self.created_at),
            expires_at: self.expires_at.map(from_unix_micros),
            last_used_at: self.last_used_at.map(from_unix_micros),
            revoked: self.revoked,
            csrf: self.csrf,
        })
    }
}

/// An `audit` row as read.
pub(crate) struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub address: Option<String>,
}

impl AuditRow {
    pub fn decode(self) -> AuditEntry {
        AuditEntry {
            id: self.id,
            at: from_unix_micros(self.at),
            entry: NewAudit {
                actor: self.actor,
                action: self.action,
                target: self.target,
                outcome: self.outcome,
                address: self.address,
            },
        }
    }
}

fn role(s: &str) -> Result<Role> {
    s.parse()
        .map_err(|e| StoreError::internal(format!("stored role: {e}")))
}

/// Scope names as stored: a JSON array.
pub(crate) fn scopes_json(scopes: &[Scope]) -> String {
    crate::decode::json(&scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>())
}

/// Checks a token or user name: 1–64 printable characters without spaces.
pub(crate) fn check_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 64
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(StoreError::invalid(format!(
            "{what} name {name:?}: 1 to 64 characters, no spaces or control characters"
        )));
    }
    Ok(())
}

/// A label as it appears inside a sighting's JSON label array, for a
/// substring filter (`"emotet"` matches the element, not a longer label).
pub(crate) fn label_pattern(tag: &str) -> String {
    let quoted = crate::decode::json(&tag);
    let escaped = quoted
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// The page size of an export query.
pub(crate) fn export_page(q: &ExportQuery) -> u32 {
    match q.limit {
        0 => 1000,
        n => n.min(crate::MAX_EXPORT_PAGE),
    }
}

/// A bind parameter of the export query.
pub(crate) enum Bind {
    Int(i64),
    Text(String),
    /// PostgreSQL only (SQLite gets one parameter per element).
    Ints(Vec<i64>),
    /// PostgreSQL only.
    Texts(Vec<String>),
}

/// The SQL of one export page and its parameters, `?N` placeholders for
/// SQLite or `$N` and arrays for PostgreSQL; `None` when it cannot match
/// anything (an empty id list).
pub(crate) fn export_sql(q: &ExportQuery, postgres: bool) -> Option<(String, Vec<Bind>)> {
    let mut sql = format!(
        "SELECT {}, added FROM indicators i WHERE 1 = 1",
        crate::decode::INDICATOR_COLUMNS
    );
    let mut args: Vec<Bind> = Vec::new();
    let mut arg = |v: Bind| {
        args.push(v);
        if postgres {
            format!("${}", args.len())
        } else {
            format!("?{}", args.len())
        }
    };
    let mut list = |ints: Option<Vec<i64>>, texts: Option<Vec<String>>| -> String {
        if postgres {
            match (ints, texts) {
                (Some(v), _) => format!("= ANY({})", arg(Bind::Ints(v))),
                (_, Some(v)) => format!("= ANY({})", arg(Bind::Texts(v))),
                _ => String::new(),
            }
        } else {
            let marks: Vec<String> = match (ints, texts) {
                (Some(v), _) => v.into_iter().map(|i| arg(Bind::Int(i))).collect(),
                (_, Some(v)) => v.into_iter().map(|t| arg(Bind::Text(t))).collect(),
                _ => Vec::new(),
            };
            format!("IN ({})", marks.join(", "))
        }
    };
    if !q.kinds.is_empty() {
        let kinds = q.kinds.iter().map(|k| k.as_str().to_owned()).collect();
        let _ = write!(sql, " AND kind {}", list(None, Some(kinds)));
    }
    if let Some(ids) = &q.ids {
        if ids.is_empty() {
            return None;
        }
        let ids = ids.iter().map(|i| i.get()).collect();
        let _ = write!(sql, " AND id {}", list(Some(ids), None));
    }
    if let Some((added, id)) = q.after {
        let (a, b) = (arg(Bind::Int(unix_micros(added))), arg(Bind::Int(id.get())));
        let _ = write!(sql, " AND (added, id) > ({a}, {b})");
    }
    if let Some(min) = q.min_score {
        let _ = write!(sql, " AND score >= {}", arg(Bind::Int(i64::from(min))));
    }
    if let Some(tlp) = q.max_tlp {
        let _ = write!(sql, " AND tlp <= {}", arg(Bind::Int(i64::from(tlp.rank()))));
    }
    if q.active_only {
        let a = arg(Bind::Text(IndicatorStatus::Active.as_str().to_owned()));
        if q.with_retired {
            let r = arg(Bind::Text(IndicatorStatus::Retired.as_str().to_owned()));
            let f = arg(Bind::Text(
                IndicatorStatus::FalsePositive.as_str().to_owned(),
            ));
            let _ = write!(sql, " AND status IN ({a}, {r}, {f})");
        } else {
            let _ = write!(sql, " AND status = {a}");
        }
    } else if !q.with_retired {
        // An analyst's false positive is never exported, whatever the filter.
        let f = arg(Bind::Text(
            IndicatorStatus::FalsePositive.as_str().to_owned(),
        ));
        let _ = write!(sql, " AND status <> {f}");
    }
    if let Some(since) = q.since {
        let _ = write!(
            sql,
            " AND last_seen >= {}",
            arg(Bind::Int(unix_micros(since)))
        );
    }
    if let Some(after) = q.added_after {
        let _ = write!(sql, " AND added > {}", arg(Bind::Int(unix_micros(after))));
    }
    if let Some(before) = q.added_before {
        let _ = write!(sql, " AND added < {}", arg(Bind::Int(unix_micros(before))));
    }
    if let Some(source) = &q.source {
        let a = arg(Bind::Text(source.clone()));
        // A source that withdrew an indicator others still report no longer
        // names it; a retired indicator stays with the sources that had it.
        let r = arg(Bind::Text(IndicatorStatus::Retired.as_str().to_owned()));
        let _ = write!(
            sql,
            " AND EXISTS (SELECT 1 FROM sightings s JOIN sources src ON src.id = s.source_id \
             WHERE s.indicator_id = i.id AND src.name = {a} \
             AND (s.retired_at IS NULL OR i.status = {r}))"
        );
    }
    if let Some(tag) = &q.tag {
        let a = arg(Bind::Text(label_pattern(tag)));
        let r = arg(Bind::Text(IndicatorStatus::Retired.as_str().to_owned()));
        let l = arg(Bind::Text(tag.clone()));
        // A label an analyst added counts; one an analyst removed does not,
        // whatever the sightings say.
        let _ = write!(
            sql,
            " AND ((EXISTS (SELECT 1 FROM sightings s WHERE s.indicator_id = i.id \
             AND s.labels LIKE {a} ESCAPE '\\' AND (s.retired_at IS NULL OR i.status = {r})) \
             AND NOT EXISTS (SELECT 1 FROM curations c WHERE c.indicator_id = i.id \
             AND c.fact = 'label' AND c.label = {l} AND c.value = 'removed')) \
             OR EXISTS (SELECT 1 FROM curations c WHERE c.indicator_id = i.id \
             AND c.fact = 'label' AND c.label = {l} AND c.value = 'added'))"
        );
    }
    // SQLite re-prepares a statement whose bound LIMIT is rebound (see
    // `sqlite::sql_limit`): there the page size is written into the text.
    let limit = if postgres {
        arg(Bind::Int(i64::from(export_page(q))))
    } else {
        export_page(q).to_string()
    };
    let _ = write!(sql, " ORDER BY added, id LIMIT {limit}");
    Some((sql, args))
}
