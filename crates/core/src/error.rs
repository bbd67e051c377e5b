//! Errors of the domain model.

use crate::indicator::IndicatorType;

/// Why a value is not a valid indicator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidIndicator {
    /// The value was empty or only white space.
    #[error("empty value")]
    Empty,
    /// The value exceeds [`crate::indicator::MAX_VALUE_LEN`].
    #[error("{kind} value too long ({len} bytes)")]
    TooLong {
        /// Type the value was parsed as.
        kind: IndicatorType,
        /// Its length in bytes.
        len: usize,
    },
    /// The value is not a valid `kind`.
    #[error("invalid {kind} {value:?}: {reason}")]
    Invalid {
        /// Type the value was parsed as.
        kind: IndicatorType,
        /// The value, truncated.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No indicator type fits the value.
    #[error("{0:?} is not a recognised indicator")]
    Undetected(String),
    /// The type name is not one rexist knows.
    #[error("unknown indicator type {0:?}")]
    UnknownType(String),
}

impl InvalidIndicator {
    /// A short, stable reason for counting rejections by kind.
    pub fn reason(&self) -> String {
        match self {
            Self::Empty => "empty value".into(),
            Self::TooLong { kind, .. } => format!("{kind} too long"),
            Self::Invalid { kind, reason, .. } => format!("invalid {kind}: {reason}"),
            Self::Undetected(_) => "unrecognised value".into(),
            Self::UnknownType(_) => "unknown type".into(),
        }
    }
}

/// A value of an enumerated field that is not one of its names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {field} {value:?} (expected one of: {expected})")]
pub struct UnknownName {
    /// Which field.
    pub field: &'static str,
    /// The value given, truncated.
    pub value: String,
    /// The accepted names.
    pub expected: &'static str,
}
