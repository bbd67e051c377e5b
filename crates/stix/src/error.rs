//! Errors of the STIX reader.

use thiserror::Error;

/// A STIX pattern that does not follow the STIX 2.1 grammar (§9).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid stix pattern at byte {position}: {message}")]
pub struct PatternError {
    /// Byte offset in the pattern where the problem was found.
    pub position: usize,
    /// What was wrong, short and lowercase.
    pub message: String,
}

impl PatternError {
    pub(crate) fn new(position: usize, message: impl Into<String>) -> Self {
        Self {
            position,
            message: message.into(),
        }
    }
}

/// A page that cannot be read at all (bad objects are rejected one by one).
#[derive(Debug, Error)]
pub enum StixError {
    /// The body is not JSON.
    #[error("invalid json: {0}")]
    Json(#[from] serde_json::Error),
    /// The JSON is not a bundle, a TAXII envelope or an array of objects.
    #[error("not a stix bundle, taxii envelope or array of objects: {0}")]
    Shape(String),
}
