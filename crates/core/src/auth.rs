//! Users, roles, API tokens and the audit log.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::Tlp;
use crate::error::UnknownName;

/// What a user or token may do; each role includes the ones before it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads what its clearance allows.
    Viewer,
    /// Also writes: hunts, acknowledgements, source runs, lookups with enrichment.
    Analyst,
    /// Also manages users, tokens and sources, and reads the audit log.
    Admin,
}

impl Role {
    /// Every role, least privileged first.
    pub const ALL: [Role; 3] = [Self::Viewer, Self::Analyst, Self::Admin];

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Analyst => "analyst",
            Self::Admin => "admin",
        }
    }

    /// The most restricted TLP the role reads unless the config says otherwise:
    /// viewers GREEN, analysts AMBER+STRICT, admins RED.
    pub fn default_clearance(self) -> Tlp {
        match self {
            Self::Viewer => Tlp::Green,
            Self::Analyst => Tlp::AmberStrict,
            Self::Admin => Tlp::Red,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownName {
                field: "role",
                value: crate::indicator::truncate(s, 40),
                expected: "viewer, analyst, admin",
            })
    }
}

/// Where a token may be used; a token without scopes may be used everywhere.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The REST API (`/api/…`), EXIST's legacy API included.
    Api,
    /// The TAXII 2.1 server (`/taxii2/…`).
    Taxii,
    /// Exports (`/export/…`), where a token may also travel in the URL.
    Export,
    /// `/metrics`, for a Prometheus scraper: its store-wide counts cover
    /// every TLP, so besides admins only a token with this scope reads them.
    Metrics,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 4] = [Self::Api, Self::Taxii, Self::Export, Self::Metrics];

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Taxii => "taxii",
            Self::Export => "export",
            Self::Metrics => "metrics",
        }
    }
}

impl FromStr for Scope {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownName {
                field: "scope",
                value: crate::indicator::truncate(s, 40),
                expected: "api, taxii, export, metrics",
            })
    }
}

/// A user account (never with its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Disabled users cannot log in and their sessions and tokens stop working.
    pub disabled: bool,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// An API token or a UI session as stored: only the SHA-256 of the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ApiToken {
    /// Row id.
    pub id: i64,
    /// Name given at creation (unique among tokens; sessions are named after their user).
    pub name: String,
    /// `token` or `session`.
    pub kind: String,
    /// Role the token acts with (a session acts with its user's current role).
    pub role: Role,
    /// Where it may be used; empty means everywhere.
    pub scopes: Vec<Scope>,
    /// The user it belongs to, if any.
    pub user: Option<String>,
    /// The first characters of the secret, to tell tokens apart in lists.
    pub prefix: String,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// When it stops working, if ever.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
    /// Last time it was used (updated at most once a minute).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<OffsetDateTime>,
    /// Revoked tokens are kept for the audit trail but never accepted.
    pub revoked: bool,
    /// A session's CSRF token (never serialised).
    #[serde(skip)]
    pub csrf: Option<String>,
}

/// A token or session to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// Name.
    pub name: String,
    /// `token` or `session`.
    pub kind: String,
    /// Role.
    pub role: Role,
    /// Scopes (empty: everywhere).
    pub scopes: Vec<Scope>,
    /// Owner, by user name.
    pub user: Option<String>,
    /// SHA-256 of the secret, hex.
    pub hash: String,
    /// First characters of the secret.
    pub prefix: String,
    /// Expiry.
    pub expires_at: Option<OffsetDateTime>,
    /// A session's CSRF token.
    pub csrf: Option<String>,
}

/// One audit-log entry to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct NewAudit {
    /// Who: a user name, `token:NAME`, `cli` or `anonymous`.
    pub actor: String,
    /// What: `login`, `login.failed`, `POST /api/v1/hunts`, `user.add`, …
    pub action: String,
    /// On what, if anything in particular.
    pub target: Option<String>,
    /// The outcome: an HTTP status or `ok`.
    pub outcome: String,
    /// The client's address, when known.
    pub address: Option<String>,
}

/// A recorded audit-log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Row id, increasing.
    pub id: i64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    /// The entry.
    #[serde(flatten)]
    pub entry: NewAudit,
}
