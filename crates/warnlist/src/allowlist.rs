//! Local allow-lists from rexist's configuration (`[[allowlist]]` tables).

use rexist_core::IndicatorType;
use serde::{Deserialize, Serialize};

use crate::entry;
use crate::error::WarnlistError;
use crate::list::ListKind;

/// One `[[allowlist]]` table: a list the operator keeps, checked like a
/// bundled warning list.
///
/// ```toml
/// [[allowlist]]
/// name = "corp-networks"
/// kind = "cidr"
/// entries = ["10.20.0.0/16", "2001:db8:42::/48"]
///
/// [[allowlist]]
/// name = "corp-domains"
/// kind = "hostname"
/// entries = ["corp.example", ".intranet.example"]
/// types = ["domain", "url"]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowListConfig {
    /// Name shown in matches and used to disable the list: letters, digits,
    /// `_`, `.`, `-`; unique among all loaded lists (bundled ones included).
    pub name: String,
    /// How entries are compared: `string` (exact, case-insensitive),
    /// `substring`, `hostname` (the host or a sub-domain of it), `cidr`
    /// (address inside the network), `regex` (`regex` crate syntax, or a
    /// delimited PCRE-style `/pattern/i`).
    pub kind: ListKind,
    /// The entries; at least one. `cidr` entries are `address` or
    /// `address/prefix` without host bits; `hostname` entries may start with `.`.
    pub entries: Vec<String>,
    /// Indicator types the list applies to (`ipv4`, `domain`, `url`, …);
    /// absent or empty = every type its kind can check.
    #[serde(default)]
    pub types: Vec<IndicatorType>,
}

impl AllowListConfig {
    /// Checks the name, the types and every entry, without I/O. Errors name
    /// the list and, for a bad entry, the entry.
    pub fn validate(&self) -> Result<(), WarnlistError> {
        check_name(&self.name)?;
        self.checked_types()?;
        if self.entries.is_empty() {
            return Err(WarnlistError::EmptyList {
                list: self.name.clone(),
            });
        }
        for raw in &self.entries {
            entry::parse(self.kind, raw, true).map_err(|e| self.invalid_entry(raw, e.0))?;
        }
        Ok(())
    }

    /// The types the list checks: `types`, or all its kind can check.
    pub(crate) fn checked_types(&self) -> Result<Vec<IndicatorType>, WarnlistError> {
        let compatible = self.kind.compatible_types();
        if self.types.is_empty() {
            return Ok(compatible.to_vec());
        }
        if let Some(bad) = self.types.iter().find(|t| !compatible.contains(t)) {
            return Err(WarnlistError::IncompatibleType {
                list: self.name.clone(),
                kind: self.kind,
                indicator_type: *bad,
            });
        }
        Ok(compatible
            .iter()
            .copied()
            .filter(|t| self.types.contains(t))
            .collect())
    }

    pub(crate) fn invalid_entry(&self, raw: &str, reason: String) -> WarnlistError {
        WarnlistError::InvalidEntry {
            list: self.name.clone(),
            kind: self.kind,
            entry: rexist_core::indicator::truncate(raw.trim(), 80),
            reason,
        }
    }
}

/// Names are how configuration enables and disables lists; keep them plain.
pub(crate) fn check_name(name: &str) -> Result<(), WarnlistError> {
    let reason = if name.is_empty() {
        Some("empty")
    } else if name.len() > 100 {
        Some("longer than 100 bytes")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        Some("only letters, digits, '_', '.' and '-' are allowed")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(WarnlistError::InvalidName {
            name: rexist_core::indicator::truncate(name, 80),
            reason,
        }),
        None => Ok(()),
    }
}
