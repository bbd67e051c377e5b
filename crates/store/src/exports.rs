//! Exports defined through the API and the UI (the configuration's
//! `[[export]]` tables are not stored): a name and the table's fields as
//! JSON. The server parses and validates the definition with the same
//! types as the configuration's before it is stored; the store keeps it
//! as given and only checks what it needs itself.

use rexist_core::model::from_unix_micros;
use time::OffsetDateTime;

use crate::{ErrorKind, Result, StoreError};

/// A stored export definition.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredExport {
    /// The unique name, as in `/export/{name}`.
    pub name: String,
    /// The `[[export]]` table's fields as a JSON object (`name` included).
    pub definition: serde_json::Value,
    /// When it was defined, and by whom.
    pub created_at: OffsetDateTime,
    /// Who defined it.
    pub created_by: String,
    /// When it was last changed.
    pub updated_at: OffsetDateTime,
    /// Who changed it last.
    pub updated_by: String,
}

/// Columns read into a [`StoredExportRow`], in order.
pub(crate) const COLUMNS: &str = "name, definition, created_at, created_by, updated_at, updated_by";

/// A `stored_exports` row as the database gives it.
pub(crate) struct StoredExportRow {
    pub name: String,
    pub definition: String,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
}

impl StoredExportRow {
    pub(crate) fn decode(self) -> Result<StoredExport> {
        let definition = serde_json::from_str(&self.definition).map_err(|e| {
            StoreError::internal(format!("stored export {:?}: definition: {e}", self.name))
        })?;
        Ok(StoredExport {
            name: self.name,
            definition,
            created_at: from_unix_micros(self.created_at),
            created_by: self.created_by,
            updated_at: from_unix_micros(self.updated_at),
            updated_by: self.updated_by,
        })
    }
}

/// Checks what the store relies on: a non-empty name without NUL, a JSON
/// object as the definition, an author. Returns the definition's text.
pub(crate) fn check(name: &str, definition: &serde_json::Value, by: &str) -> Result<String> {
    if name.is_empty() || name.contains('\0') || name.len() > 256 {
        return Err(StoreError::invalid(format!(
            "stored export name {name:?}: 1 to 256 characters, no NUL"
        )));
    }
    if !definition.is_object() {
        return Err(StoreError::invalid(format!(
            "stored export {name:?}: the definition must be a JSON object"
        )));
    }
    if by.contains('\0') {
        return Err(StoreError::invalid("stored export author: no NUL"));
    }
    // serde_json escapes NUL inside strings, so the text is always storable.
    Ok(definition.to_string())
}

/// The conflict of a name already taken.
pub(crate) fn taken(name: &str) -> StoreError {
    StoreError::new(
        ErrorKind::Conflict,
        format!("an export named {name:?} is already stored"),
    )
}
