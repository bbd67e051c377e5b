//! Errors of the export crate.

/// An export format name that is not one of [`crate::Format::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown export format {0:?}: expected one of {expected}", expected = crate::Format::names())]
pub struct UnknownFormat(pub String);
