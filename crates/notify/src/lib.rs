//! Delivery of hunt alerts to the places analysts watch: Slack (incoming
//! webhook or bot token), Microsoft Teams, Mattermost, Discord, a generic
//! signed JSON webhook, e-mail over SMTP and syslog (RFC 5424).
//!
//! Start at [`Channel::from_config`]: it turns one `[[channel]]` table
//! ([`ChannelConfig`]) into a ready [`Channel`], resolving secrets from
//! environment variables or files and compiling the text template, so that
//! every configuration mistake surfaces before the first alert. Then
//! [`Channel::send`] delivers one [`Message`] and classifies a failure as
//! retryable or permanent ([`SendError`]); retrying, pacing
//! ([`RateLimiter`]) and deduplication belong to the caller, which keeps
//! [`Message::id`] stable across attempts.
//!
//! What it refuses: secrets written inline in the configuration, and any
//! secret (webhook URL path, token, password) in an error, a log line or a
//! `Debug` output — endpoints are shown as scheme and host only.

mod channel;
mod config;
mod discord;
mod email;
mod endpoint;
mod error;
mod mattermost;
mod rate;
mod render;
mod slack;
mod syslog;
mod teams;
mod webhook;

use serde::Serialize;

pub use channel::Channel;
pub use config::ChannelConfig;
pub use error::{ConfigError, SendError};
pub use rate::{ParseRateLimitError, RateLimit, RateLimiter};
pub use webhook::signature as webhook_signature;

/// The accepted values of a channel's `kind`.
pub const KINDS: &[&str] = &[
    "slack",
    "slack-bot",
    "teams",
    "mattermost",
    "discord",
    "webhook",
    "email",
    "syslog",
];

/// One alert: a hit, or a digest of several hits of one hunt.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    /// Delivery id, the same across retries, so receivers can drop duplicates.
    pub id: String,
    /// Name of the hunt that matched.
    pub hunt: String,
    /// True when the message summarises several hits.
    pub digest: bool,
    /// Hits in total; larger than `hits.len()` when the list was capped.
    pub total_hits: u64,
    /// The hits shown.
    pub hits: Vec<HitSummary>,
}

impl Message {
    /// A test message that says the channel works (`rexist hunt notify-test`,
    /// the hunts page); `link` points at rexist's UI when known.
    pub fn test(link: Option<String>) -> Self {
        let now = time::OffsetDateTime::now_utc();
        Self {
            id: format!("rexist-test-{}", now.unix_timestamp_nanos() / 1000),
            hunt: "test".to_owned(),
            digest: false,
            total_hits: 1,
            hits: vec![HitSummary {
                object: "item".to_owned(),
                title: "rexist test message: this channel works".to_owned(),
                source: Some("rexist".to_owned()),
                url: None,
                link,
                terms: vec!["test".to_owned()],
                snippet: None,
                tlp: Some("clear".to_owned()),
                retro: false,
                matched_at: now,
            }],
        }
    }
}

/// What a hit shows of the object that matched.
#[derive(Debug, Clone, Serialize)]
pub struct HitSummary {
    /// `item` or `indicator`.
    pub object: String,
    /// Item title, or an indicator such as `ipv4 192.0.2.1`.
    pub title: String,
    /// Name of the source the object came from.
    pub source: Option<String>,
    /// URL of the original (news article, advisory…).
    pub url: Option<String>,
    /// Link to the object in rexist's web UI.
    pub link: Option<String>,
    /// The terms that matched.
    pub terms: Vec<String>,
    /// Text around the match.
    pub snippet: Option<String>,
    /// Traffic Light Protocol marking of the object.
    pub tlp: Option<String>,
    /// True when found by a retro-hunt over stored objects rather than on arrival.
    pub retro: bool,
    /// When the hunt matched.
    #[serde(with = "time::serde::rfc3339")]
    pub matched_at: time::OffsetDateTime,
}
