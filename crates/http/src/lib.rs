//! The one way rexist talks HTTP to the outside: connectors, enrichment
//! providers and alert channels all send through a [`Client`].
//!
//! What it does, once for everyone:
//! - builds the `reqwest` client (rustls provider, user agent, connect
//!   timeout, redirect policy) in [`Client::new`];
//! - reads every body within a cap ([`Limit`]), into memory or any
//!   [`BodySink`] (the connectors spool large feeds to disk);
//! - retries 408, 425, 429, 5xx, timeouts and broken connections with
//!   exponential backoff, waiting as long as `Retry-After` asks unless that
//!   is longer than the [`RetryPolicy`] allows, which fails with the delay
//!   ([`FetchError::RateLimited`]);
//! - limits the requests in flight to one host;
//! - names targets only through [`redact`] (or a caller's own label), never
//!   with reqwest's messages, which repeat the URL and its credentials.
//!
//! Secrets have their own small corner: [`Secret`] redacts itself in `Debug`
//! and `Display`, and [`read_secret_file`] is the one capped reader for every
//! `*_file` key; its errors name the path, never the content.
//!
//! What it refuses: an uncapped body read (`Response::bytes`, `text`, `json`
//! and `std::fs::read_to_string` are listed in `clippy.toml`
//! `disallowed-methods`, pointing here), and retrying on its own what the
//! caller did not ask to retry — a caller whose request must not be repeated
//! (an alert delivery, a quota-counted lookup) passes [`RetryPolicy::NONE`].
//!
//! Start at [`Client::send`].

mod client;
mod error;
mod file;
mod redact;
mod retry;

pub use client::{BodySink, BuildError, Call, Client, ClientOptions, Limit, Reply};
pub use error::FetchError;
pub use file::{FileError, FileProblem, SECRET_FILE_CAP, Secret, read_secret_file, read_text_file};
pub use redact::{origin, redact, root_cause};
pub use retry::{RetryPolicy, parse_retry_after, retry_after, retryable_status};

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("rexist/", env!("CARGO_PKG_VERSION"));
