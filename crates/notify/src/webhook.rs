//! Generic JSON webhook: the message as JSON, a delivery id for
//! deduplication and, with a secret, an HMAC-SHA256 signature over
//! `"{timestamp}.{body}"` so that receivers can check origin and freshness
//! (the same scheme as Stripe's and Slack's request signing).

use std::time::Duration;

use hmac::{KeyInit, Mac};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::Message;
use crate::config::Secret;
use crate::endpoint::{self, Endpoint};
use crate::error::SendError;

/// A generic webhook channel.
#[derive(Debug)]
pub(crate) struct Webhook {
    pub(crate) client: rexist_http::Client,
    pub(crate) endpoint: Endpoint,
    pub(crate) secret: Option<Secret>,
}

/// `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`, the value of
/// `X-Rexist-Signature`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret)
        .expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + digest.len() * 2);
    out.push_str("sha256=");
    for byte in &digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl Webhook {
    pub(crate) async fn send(&self, msg: &Message, timeout: Duration) -> Result<(), SendError> {
        let body = serde_json::to_vec(msg)
            .map_err(|e| SendError::permanent(format!("cannot encode the message: {e}")))?;
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("x-rexist-delivery"),
            header_value(&msg.id)?,
        );
        headers.insert(
            HeaderName::from_static("x-rexist-timestamp"),
            HeaderValue::from(timestamp),
        );
        if let Some(secret) = &self.secret {
            let value = signature(secret.expose().as_bytes(), timestamp, &body);
            headers.insert(
                HeaderName::from_static("x-rexist-signature"),
                header_value(&value)?,
            );
        }
        endpoint::post_json(&self.client, &self.endpoint, headers, body, timeout)
            .await?
            .check(&self.endpoint)
            .map(|_| ())
    }
}

fn header_value(text: &str) -> Result<HeaderValue, SendError> {
    HeaderValue::from_str(text)
        .map_err(|_| SendError::permanent("the delivery id is not a valid HTTP header value"))
}

#[cfg(test)]
mod tests {
    use super::signature;

    #[test]
    fn matches_vectors_computed_with_python() {
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"k",b"1.{}",hashlib.sha256).hexdigest())'
        assert_eq!(
            signature(b"k", 1, b"{}"),
            "sha256=3dd49b2593d0f9a349e9e71c4bde3e2b862c2be4003fe9b4ba81332029310158"
        );
        assert_eq!(
            signature(b"s3cret", 1_700_000_000, br#"{"id":"d-1"}"#),
            "sha256=4ffd377f559fbc27150d5f11140c5fd1d53d0b274f8d5abf7aefd1922a08e970"
        );
    }
}
