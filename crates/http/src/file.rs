//! Secrets, and the capped readers for files rexist did not write: the
//! `*_file` keys of sources, providers and channels, CA bundles, lists
//! named on the command line.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest secret file read: a secret is a line, so anything larger is the
/// wrong file (a log, a database) and reading it whole would be the mistake.
pub const SECRET_FILE_CAP: u64 = 64 * 1024;

/// A secret value (token, password, webhook URL); `Debug` and `Display`
/// never show it, [`Secret::expose`] is the one way to it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A file that could not be used: which key named it, where it is, what
/// is wrong. Never holds any of its content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {}", self.reason())]
pub struct FileError {
    /// What the file is for, usually the key naming it (`password_file`).
    pub what: String,
    /// The path given.
    pub path: PathBuf,
    /// What is wrong.
    pub problem: FileProblem,
}

impl FileError {
    /// The message without [`FileError::what`]: `cannot read PATH: …` or
    /// `file PATH is empty`, for callers that name the key themselves.
    pub fn reason(&self) -> String {
        let path = self.path.display();
        match &self.problem {
            FileProblem::Unreadable(detail) => format!("cannot read {path}: {detail}"),
            problem => format!("file {path} is {problem}"),
        }
    }
}

/// What is wrong with a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileProblem {
    /// It cannot be opened or read; what the system said.
    Unreadable(String),
    /// Larger than the cap, in bytes.
    TooLarge {
        /// The cap.
        cap: u64,
    },
    /// Not UTF-8 text.
    NotText,
    /// Empty, or only whitespace.
    Empty,
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable(detail) => f.write_str(detail),
            Self::TooLarge { cap } if cap % 1024 == 0 => {
                write!(f, "larger than {} KiB", cap / 1024)
            }
            Self::TooLarge { cap } => write!(f, "larger than {cap} bytes"),
            Self::NotText => f.write_str("not UTF-8 text"),
            Self::Empty => f.write_str("empty"),
        }
    }
}

/// Reads a secret from a file, trimmed, refusing one larger than
/// [`SECRET_FILE_CAP`], not UTF-8 or empty. `what` names the file in errors
/// (the key that gave it: `token_file`); no error ever quotes the content.
pub fn read_secret_file(path: impl AsRef<Path>, what: &str) -> Result<Secret, FileError> {
    let path = path.as_ref();
    let text = read_text_file(path, SECRET_FILE_CAP, what)?;
    let value = text.trim();
    if value.is_empty() {
        return Err(FileError {
            what: what.to_owned(),
            path: path.to_owned(),
            problem: FileProblem::Empty,
        });
    }
    Ok(Secret::new(value))
}

/// Reads a text file rexist did not write, refusing one larger than `cap`
/// bytes (found before reading past it) or not UTF-8.
pub fn read_text_file(path: impl AsRef<Path>, cap: u64, what: &str) -> Result<String, FileError> {
    let path = path.as_ref();
    let error = |problem| FileError {
        what: what.to_owned(),
        path: path.to_owned(),
        problem,
    };
    let file =
        std::fs::File::open(path).map_err(|e| error(FileProblem::Unreadable(e.to_string())))?;
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| error(FileProblem::Unreadable(e.to_string())))?;
    if bytes.len() as u64 > cap {
        return Err(error(FileProblem::TooLarge { cap }));
    }
    String::from_utf8(bytes).map_err(|_| error(FileProblem::NotText))
}
