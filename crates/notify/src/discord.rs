//! Discord webhooks. Content is capped at 2,000 characters; mentions are
//! disabled because titles come from feeds and an `@everyone` in a news
//! headline must not page a whole server. A 429 body carries `retry_after`
//! in (fractional) seconds, more precise than the header.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::json;

use crate::endpoint::{self, Endpoint};
use crate::error::SendError;

/// Discord refuses content longer than this.
const CONTENT_CHARS: usize = 2000;

/// A Discord channel.
#[derive(Debug)]
pub(crate) struct Discord {
    pub(crate) client: rexist_http::Client,
    pub(crate) endpoint: Endpoint,
    pub(crate) username: String,
}

impl Discord {
    pub(crate) async fn send(&self, text: &str, timeout: Duration) -> Result<(), SendError> {
        let body = json!({
            "content": crate::render::truncate_chars(text, CONTENT_CHARS),
            "username": self.username,
            "allowed_mentions": { "parse": [] },
        });
        let reply = endpoint::post_json(
            &self.client,
            &self.endpoint,
            HeaderMap::new(),
            body.to_string().into_bytes(),
            timeout,
        )
        .await?;
        let body_wait = (reply.status.as_u16() == 429)
            .then(|| serde_json::from_slice::<serde_json::Value>(&reply.body).ok())
            .flatten()
            .and_then(|v| v.get("retry_after").and_then(serde_json::Value::as_f64))
            .and_then(endpoint::seconds_f64);
        reply.check(&self.endpoint).map(|_| ()).map_err(|mut e| {
            // The longer of the header's and the body's wait.
            e.retry_after = e.retry_after.max(body_wait);
            e
        })
    }
}
