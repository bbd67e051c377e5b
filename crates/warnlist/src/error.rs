//! Errors of building warning lists.

use rexist_core::IndicatorType;

use crate::list::ListKind;

/// The neutral kind of a [`WarnlistError`], for callers that map errors to statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A list or an entry is malformed (configuration or data error).
    Invalid,
    /// A list name is used twice.
    Conflict,
    /// A list name that is not loaded.
    NotFound,
}

/// Why a set of warning lists or allow-lists could not be built.
///
/// Every variant names the list, and where it is about one entry, the entry
/// (truncated to 80 bytes), so a bad `[[allowlist]]` table can be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WarnlistError {
    /// A list name is empty or has characters other than `[A-Za-z0-9_.-]`.
    #[error("invalid list name {name:?}: {reason}")]
    InvalidName {
        /// The name, truncated.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two lists share a name.
    #[error("duplicate list name {name:?}")]
    DuplicateName {
        /// The name used twice.
        name: String,
    },
    /// A name given to enable or disable lists is not a loaded list.
    #[error("unknown warning list {name:?}")]
    UnknownList {
        /// The name, truncated.
        name: String,
    },
    /// An allow-list has no entries.
    #[error("allow-list {list:?} has no entries")]
    EmptyList {
        /// The list.
        list: String,
    },
    /// An entry is not valid for its list's kind.
    #[error("allow-list {list:?}: invalid {kind} entry {entry:?}: {reason}")]
    InvalidEntry {
        /// The list.
        list: String,
        /// The list's kind.
        kind: ListKind,
        /// The entry, truncated.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An allow-list names an indicator type its kind cannot check.
    #[error("allow-list {list:?}: a {kind} list cannot apply to {indicator_type} indicators")]
    IncompatibleType {
        /// The list.
        list: String,
        /// The list's kind.
        kind: ListKind,
        /// The indicator type named in `types`.
        indicator_type: IndicatorType,
    },
}

impl WarnlistError {
    /// The neutral kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::DuplicateName { .. } => ErrorKind::Conflict,
            Self::UnknownList { .. } => ErrorKind::NotFound,
            Self::InvalidName { .. }
            | Self::EmptyList { .. }
            | Self::InvalidEntry { .. }
            | Self::IncompatibleType { .. } => ErrorKind::Invalid,
        }
    }
}
