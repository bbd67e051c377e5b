//! Slack, through an incoming webhook or a bot token. The Web API answers
//! HTTP 200 even when it refuses a message, with `{"ok":false,"error":…}`,
//! so the bot reads the body; incoming webhooks use statuses.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde::Deserialize;

use crate::config::Secret;
use crate::endpoint::{self, Endpoint};
use crate::error::SendError;

/// Slack's limit on `text` is 40,000 characters; stay well below.
const TEXT_CHARS: usize = 39_000;

/// An incoming-webhook channel.
#[derive(Debug)]
pub(crate) struct Webhook {
    pub(crate) client: rexist_http::Client,
    pub(crate) endpoint: Endpoint,
}

impl Webhook {
    pub(crate) async fn send(&self, text: &str, timeout: Duration) -> Result<(), SendError> {
        let body = serde_json::json!({ "text": crate::render::truncate_chars(text, TEXT_CHARS) });
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

/// A bot-token channel posting with `chat.postMessage`.
#[derive(Debug)]
pub(crate) struct Bot {
    pub(crate) client: rexist_http::Client,
    /// `{api_url}/chat.postMessage`.
    pub(crate) endpoint: Endpoint,
    pub(crate) token: Secret,
    pub(crate) channel: String,
}

#[derive(Deserialize)]
struct ApiReply {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
}

/// Web API errors that may pass later; every other error needs a person
/// (a revoked token, a bot not invited to the channel…).
const RETRYABLE_API_ERRORS: &[&str] = &[
    "ratelimited",
    "rate_limited",
    "fatal_error",
    "internal_error",
    "service_unavailable",
    "request_timeout",
];

impl Bot {
    pub(crate) async fn send(&self, text: &str, timeout: Duration) -> Result<(), SendError> {
        let body = serde_json::json!({
            "channel": self.channel,
            "text": crate::render::truncate_chars(text, TEXT_CHARS),
        });
        let mut headers = HeaderMap::new();
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", self.token.expose()))
            .map_err(|_| SendError::permanent("the token is not a valid HTTP header value"))?;
        auth.set_sensitive(true);
        headers.insert(AUTHORIZATION, auth);
        let reply = endpoint::post_json(
            &self.client,
            &self.endpoint,
            headers,
            body.to_string().into_bytes(),
            timeout,
        )
        .await?
        .check(&self.endpoint)?;
        let Ok(api) = serde_json::from_slice::<ApiReply>(&reply.body) else {
            return Err(SendError::permanent(format!(
                "unexpected answer from {}: {}",
                self.endpoint.shown(),
                reply.excerpt()
            )));
        };
        if api.ok {
            return Ok(());
        }
        let error = api.error.unwrap_or_else(|| "unknown_error".to_owned());
        let error = crate::render::truncate_chars(&crate::endpoint::excerpt(error.as_bytes()), 100);
        let message = format!("Slack API error {error} from {}", self.endpoint.shown());
        if RETRYABLE_API_ERRORS.contains(&error.as_str()) {
            Err(SendError::retryable(message).after(reply.retry_after))
        } else {
            Err(SendError::permanent(message))
        }
    }
}
