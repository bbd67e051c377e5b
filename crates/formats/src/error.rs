//! Errors for bodies that are not the expected format at all.

/// A body could not be read as the expected format; what failed and where.
///
/// Record-level problems are not errors: they come back as
/// [`rexist_core::Rejected`] values beside the good records.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The body is not valid JSON (truncated, wrong syntax).
    #[error("{format}: invalid json at line {line} column {column}: {message}")]
    Json {
        /// Which format was expected (`misp events`, `nvd cves`).
        format: &'static str,
        /// 1-based line of the failure.
        line: usize,
        /// 1-based column of the failure.
        column: usize,
        /// What the JSON parser said.
        message: String,
    },
    /// The JSON is well-formed but its shape is not the format.
    #[error("{format}: unexpected shape: {what}")]
    Shape {
        /// Which format was expected.
        format: &'static str,
        /// What was missing or of the wrong type.
        what: String,
    },
    /// The body is not well-formed XML.
    #[error("{format}: invalid xml at byte {offset}: {message}")]
    Xml {
        /// Which format was expected.
        format: &'static str,
        /// Byte offset (in the decoded UTF-8 text) where the parser stopped.
        offset: u64,
        /// What the XML parser said.
        message: String,
    },
    /// The bytes are not in the encoding the document declares (or UTF-8).
    #[error("{format}: bytes are not valid {encoding} at byte {offset}")]
    Encoding {
        /// Which format was expected.
        format: &'static str,
        /// The declared (or assumed) encoding.
        encoding: String,
        /// Byte offset of the first invalid sequence, in the raw body.
        offset: usize,
    },
    /// The document declares an encoding rexist does not know.
    #[error("{format}: unknown encoding {encoding:?}")]
    UnknownEncoding {
        /// Which format was expected.
        format: &'static str,
        /// The declared label, truncated.
        encoding: String,
    },
    /// The CSV header is missing or lacks a required column.
    #[error("{format}: bad csv header: {what}")]
    CsvHeader {
        /// Which format was expected.
        format: &'static str,
        /// What is wrong with it.
        what: String,
    },
    /// The upstream answered with an error document instead of data.
    #[error("{format}: upstream error {code}: {message}")]
    Upstream {
        /// Which format was expected.
        format: &'static str,
        /// The upstream's error code.
        code: String,
        /// The upstream's message, truncated.
        message: String,
    },
}

impl FormatError {
    /// Wraps a `serde_json` error with its line and column.
    pub(crate) fn json(format: &'static str, e: &serde_json::Error) -> Self {
        let full = e.to_string();
        // serde_json repeats the place at the end of its message.
        let message = full
            .rsplit_once(" at line ")
            .map_or(full.as_str(), |(m, _)| m);
        Self::Json {
            format,
            line: e.line(),
            column: e.column(),
            message: truncate(message, 200),
        }
    }
}

pub(crate) use rexist_core::indicator::truncate;
