//! Why an `[[enrichment]]` table was refused. Messages name the table and
//! the key, never a secret's value.

/// An `[[enrichment]]` table that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `name` is empty.
    #[error("enrichment #{index}: name is empty")]
    MissingName {
        /// Position of the table in the file, from 1.
        index: usize,
    },
    /// Two tables share a name.
    #[error("enrichment {name:?}: name used twice")]
    DuplicateName {
        /// The repeated name.
        name: String,
    },
    /// `kind` is not a provider rexist knows.
    #[error("enrichment {table:?}: unknown kind {kind:?} (known: {known})")]
    UnknownKind {
        /// The table's name.
        table: String,
        /// The kind given.
        kind: String,
        /// The kinds rexist knows, comma-separated.
        known: String,
    },
    /// A key the kind needs is absent.
    #[error("enrichment {table:?}: {key} is required for kind {kind}")]
    Missing {
        /// The table's name.
        table: String,
        /// The missing key.
        key: &'static str,
        /// The table's kind.
        kind: String,
    },
    /// A key this kind does not use was given, which is most likely a mistake.
    #[error("enrichment {table:?}: {key} does not apply to kind {kind}")]
    NotForKind {
        /// The table's name.
        table: String,
        /// The key given.
        key: &'static str,
        /// The table's kind.
        kind: String,
    },
    /// A value that does not parse or is out of range.
    #[error("enrichment {table:?}: {key}: {reason}")]
    Invalid {
        /// The table's name.
        table: String,
        /// The key whose value is wrong.
        key: &'static str,
        /// What is wrong with it (the value is quoted only when it is not a secret).
        reason: String,
    },
    /// The environment variable named by `*_env` is not set or not UTF-8.
    #[error("enrichment {table:?}: {key}: environment variable {var} is not set")]
    MissingEnv {
        /// The table's name.
        table: String,
        /// `key_env` or `password_env`.
        key: &'static str,
        /// The variable's name.
        var: String,
    },
    /// The file named by `*_file` or a database path cannot be read.
    #[error("enrichment {table:?}: {key}: cannot read {path}: {reason}")]
    File {
        /// The table's name.
        table: String,
        /// The key that names the file.
        key: &'static str,
        /// The path.
        path: String,
        /// What failed.
        reason: String,
    },
    /// The HTTP client or DNS resolver cannot be built.
    #[error("enrichment {table:?}: cannot set up the client: {reason}")]
    Client {
        /// The table's name.
        table: String,
        /// What failed.
        reason: String,
    },
}
