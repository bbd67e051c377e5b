//! Errors of the query parser.

/// A query that does not parse: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("position {position}: {message}")]
pub struct ParseError {
    /// Byte offset into the original query string.
    pub position: usize,
    /// Short, lowercase description of the problem.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(position: usize, message: impl Into<String>) -> Self {
        Self {
            position,
            message: message.into(),
        }
    }
}
