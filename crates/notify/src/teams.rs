//! Microsoft Teams, through an incoming webhook or a Power Automate
//! "Workflows" URL, both of which take an Adaptive Card in a message
//! envelope. Legacy Office 365 connectors answer HTTP 200 with the text
//! "Microsoft Teams endpoint returned HTTP error 429…" when they refuse a
//! card, so a 2xx body of that shape is read as the status it names.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::endpoint::{self, Endpoint};
use crate::error::SendError;

/// Teams refuses cards over about 28 KB; text stays well below.
const TEXT_CHARS: usize = 20_000;

/// A Teams channel.
#[derive(Debug)]
pub(crate) struct Teams {
    pub(crate) client: rexist_http::Client,
    pub(crate) endpoint: Endpoint,
}

/// The envelope Teams expects: the first line as a bold heading, each
/// other line as its own text block, since a text block folds single
/// newlines.
pub(crate) fn card(text: &str) -> Value {
    let text = crate::render::truncate_chars(text, TEXT_CHARS);
    let mut body = Vec::new();
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        if i == 0 {
            body.push(json!({
                "type": "TextBlock",
                "text": line,
                "weight": "Bolder",
                "size": "Medium",
                "wrap": true,
            }));
        } else {
            body.push(json!({ "type": "TextBlock", "text": line, "wrap": true }));
        }
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
            },
        }],
    })
}

impl Teams {
    pub(crate) async fn send(&self, text: &str, timeout: Duration) -> Result<(), SendError> {
        let reply = endpoint::post_json(
            &self.client,
            &self.endpoint,
            HeaderMap::new(),
            card(text).to_string().into_bytes(),
            timeout,
        )
        .await?
        .check(&self.endpoint)?;
        if let Some(status) = embedded_status(&reply.body) {
            return Err(endpoint::status_error(
                status,
                &self.endpoint,
                &reply.excerpt(),
                reply.retry_after,
            ));
        }
        Ok(())
    }
}

/// The status in "… returned HTTP error 429 …", when a 2xx body says so.
fn embedded_status(body: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(body);
    let rest = text.split("returned HTTP error ").nth(1)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|s| (400..600).contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_hidden_in_a_200() {
        assert_eq!(
            embedded_status(b"Microsoft Teams endpoint returned HTTP error 429 with ContextId x"),
            Some(429)
        );
        assert_eq!(embedded_status(b"1"), None);
    }
}
