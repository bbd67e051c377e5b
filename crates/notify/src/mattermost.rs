//! Mattermost incoming webhooks (Slack-compatible JSON, Markdown text).

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::json;

use crate::endpoint::{self, Endpoint};
use crate::error::SendError;

/// Mattermost posts hold at most 16,383 characters.
const TEXT_CHARS: usize = 16_000;

/// A Mattermost channel.
#[derive(Debug)]
pub(crate) struct Mattermost {
    pub(crate) client: rexist_http::Client,
    pub(crate) endpoint: Endpoint,
    pub(crate) username: String,
    pub(crate) channel: Option<String>,
}

impl Mattermost {
    pub(crate) async fn send(&self, text: &str, timeout: Duration) -> Result<(), SendError> {
        let mut body = json!({
            "text": crate::render::truncate_chars(text, TEXT_CHARS),
            "username": self.username,
        });
        if let Some(channel) = &self.channel {
            body["channel"] = json!(channel);
        }
        endpoint::post_json(
            &self.client,
            &self.endpoint,
            HeaderMap::new(),
            body.to_string().into_bytes(),
            timeout,
        )
        .await?
        .check(&self.endpoint)
        .map(|_| ())
    }
}
