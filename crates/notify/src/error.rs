//! Errors of building and of using a channel. Neither ever holds a secret:
//! configuration errors name the key and the variable or file, never the
//! value; delivery errors name endpoints as scheme and host, and go through
//! the channel's redaction before they leave [`crate::Channel::send`].

use std::time::Duration;

/// A `[[channel]]` table that cannot be used: which channel, which key, why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("channel \"{channel}\": {key}: {reason}")]
pub struct ConfigError {
    /// The channel's `name`.
    pub channel: String,
    /// The key at fault.
    pub key: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(channel: &str, key: &str, reason: impl Into<String>) -> Self {
        Self {
            channel: channel.to_owned(),
            key: key.to_owned(),
            reason: reason.into(),
        }
    }
}

/// A failed delivery, and whether trying again later may succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// True for failures that may pass later: 408, 425, 429, 5xx, timeouts,
    /// refused or broken connections, SMTP 4xx.
    pub retryable: bool,
    /// How long the receiver asked to wait (capped at one hour).
    pub retry_after: Option<Duration>,
    /// What failed, naming the channel; free of secrets.
    pub message: String,
}

impl SendError {
    pub(crate) fn retryable(message: impl Into<String>) -> Self {
        Self {
            retryable: true,
            retry_after: None,
            message: message.into(),
        }
    }

    pub(crate) fn permanent(message: impl Into<String>) -> Self {
        Self {
            retryable: false,
            retry_after: None,
            message: message.into(),
        }
    }

    pub(crate) fn after(mut self, wait: Option<Duration>) -> Self {
        self.retry_after = wait;
        self
    }
}

/// An error and its causes on one line.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    dedup_chain(parts)
}
/// Joins causes, skipping those already contained in the previous one
/// (hyper and lettre repeat their source in their own text).
fn dedup_chain(parts: Vec<String>) -> String {
    let mut out: Vec<String> = Vec::new();
    for part in parts {
        match out.last_mut() {
            Some(last) if last.contains(&part) => {}
            Some(last) if part.contains(last.as_str()) => *last = part,
            _ => out.push(part),
        }
    }
    crate::render::truncate_chars(&out.join(": "), 300)
}
