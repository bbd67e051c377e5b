//! Where the chat and webhook kinds post, and what their answers mean.
//! Webhook URLs are credentials (Slack's `/services/T…/B…/…`, Discord's
//! `/api/webhooks/…/token`), so endpoints are only ever shown as scheme,
//! host and port ([`rexist_http::origin`]). Sending, the capped read of the
//! answer and `Retry-After` are [`rexist_http`]'s.
//!
//! A delivery is sent once ([`RetryPolicy::NONE`]): a POST that timed out
//! may still have posted, and a retry here would post the message twice
//! under a new timestamp. Retrying is the outbox's, which keeps the delivery
//! id stable so receivers can drop duplicates.

use std::fmt;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{StatusCode, Url};
use rexist_http::{Call, FetchError, Limit, RetryPolicy, Secret};

use crate::error::SendError;

/// Largest part of an answer read: enough for any error body.
const BODY_CAP: u64 = 64 * 1024;
/// Longest wait a receiver may ask for.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// Longest excerpt of an answer quoted in an error.
const EXCERPT_CHARS: usize = 200;

/// Where a channel posts.
#[derive(Clone)]
pub(crate) struct Endpoint {
    url: Url,
    /// `scheme://host[:port]`, the only form ever printed.
    shown: String,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl Endpoint {
    /// Parses an http(s) URL; the error never repeats it.
    pub(crate) fn parse(raw: &Secret) -> Result<Self, String> {
        let url = Url::parse(raw.expose()).map_err(|_| "not a valid URL".to_owned())?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("not an http or https URL".to_owned());
        }
        if url.host_str().is_none() {
            return Err("URL has no host".to_owned());
        }
        let shown = rexist_http::origin(&url);
        Ok(Self { url, shown })
    }

    /// The URL with `path` appended to its path (Slack's API methods).
    pub(crate) fn join(&self, path: &str) -> Self {
        let mut url = self.url.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}/{path}"));
        Self {
            url,
            shown: self.shown.clone(),
        }
    }

    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }

    /// Text that must never appear in messages: the URL and its secret parts.
    pub(crate) fn secrets(&self) -> Vec<String> {
        let mut out = vec![self.url.to_string()];
        let mut tail = self.url.path().to_owned();
        if let Some(query) = self.url.query() {
            tail.push('?');
            tail.push_str(query);
        }
        if tail.len() > 1 {
            out.push(tail);
        }
        if let Some(password) = self.url.password() {
            out.push(password.to_owned());
        }
        if !self.url.username().is_empty() {
            out.push(self.url.username().to_owned());
        }
        out
    }
}

/// A channel's client: no redirects, since a POST must not turn into a
/// GET elsewhere.
pub(crate) fn client(timeout: Duration) -> Result<rexist_http::Client, String> {
    rexist_http::Client::new(&rexist_http::ClientOptions {
        connect_timeout: timeout,
        redirects: 0,
        per_host: 4,
        ..rexist_http::ClientOptions::default()
    })
    .map_err(|e| e.to_string())
}

/// An answer, read up to the cap.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    /// Up to 200 characters of the body on one line, for errors.
    pub(crate) fn excerpt(&self) -> String {
        excerpt(&self.body)
    }

    /// `Ok` for 2xx, else the error the status calls for.
    pub(crate) fn check(self, endpoint: &Endpoint) -> Result<Self, SendError> {
        if self.status.is_success() {
            return Ok(self);
        }
        Err(status_error(
            self.status.as_u16(),
            endpoint,
            &self.excerpt(),
            self.retry_after,
        ))
    }
}

/// The error for a non-2xx status.
pub(crate) fn status_error(
    status: u16,
    endpoint: &Endpoint,
    excerpt: &str,
    retry_after: Option<Duration>,
) -> SendError {
    let mut message = format!("HTTP {status} from {}", endpoint.shown());
    if (300..400).contains(&status) {
        message.push_str(" (redirects are not followed)");
    }
    if !excerpt.is_empty() {
        message.push_str(": ");
        message.push_str(excerpt);
    }
    if rexist_http::retryable_status(status) {
        SendError::retryable(message).after(retry_after)
    } else {
        SendError::permanent(message)
    }
}

/// POSTs `body` as JSON with the extra headers, once.
pub(crate) async fn post_json(
    client: &rexist_http::Client,
    endpoint: &Endpoint,
    mut headers: HeaderMap,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Reply, SendError> {
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    let request = client
        .post(endpoint.url.clone())
        .headers(headers)
        .body(body);
    let call = Call {
        shown: endpoint.shown(),
        timeout,
        limit: Limit::Truncate(BODY_CAP),
        retry: RetryPolicy::NONE,
    };
    let reply = client
        .send(request, &call, Vec::new)
        .await
        .map_err(|e| transport_error(&e, endpoint, timeout))?;
    Ok(Reply {
        status: reply.status,
        retry_after: reply.retry_after().map(|w| w.min(MAX_RETRY_AFTER)),
        body: reply.body,
    })
}

/// A failure before any status: timeouts and broken connections may pass
/// later, a request that cannot be built will not.
fn transport_error(e: &FetchError, endpoint: &Endpoint, timeout: Duration) -> SendError {
    let shown = endpoint.shown();
    match e {
        FetchError::Timeout { .. } => SendError::retryable(format!(
            "timed out after {} ms posting to {shown}",
            timeout.as_millis()
        )),
        FetchError::Unreachable { detail, .. } => {
            SendError::retryable(format!("cannot connect to {shown}: {detail}"))
        }
        FetchError::Broken { detail, .. } => {
            SendError::retryable(format!("request failed to {shown}: {detail}"))
        }
        FetchError::RateLimited { seconds, .. } => {
            SendError::retryable(format!("rate limited by {shown}"))
                .after(Some(Duration::from_secs(*seconds).min(MAX_RETRY_AFTER)))
        }
        FetchError::InvalidUrl { .. } => SendError::permanent(format!(
            "request failed to {shown}: cannot build the request"
        )),
        FetchError::Status { .. }
        | FetchError::TooLarge { .. }
        | FetchError::Redirects { .. }
        | FetchError::Unpack { .. } => SendError::permanent(e.to_string()),
    }
}

/// Seconds as a float (Discord's `retry_after`), capped at one hour.
pub(crate) fn seconds_f64(seconds: f64) -> Option<Duration> {
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(
        seconds.min(MAX_RETRY_AFTER.as_secs_f64()),
    ))
}

/// Up to 200 characters of a body on one line.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    crate::render::truncate_chars(&crate::render::one_line(&text), EXCERPT_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_seconds() {
        assert_eq!(seconds_f64(1.5), Some(Duration::from_millis(1500)));
        assert_eq!(seconds_f64(99_999.0), Some(MAX_RETRY_AFTER));
        assert_eq!(seconds_f64(f64::NAN), None);
    }

    #[test]
    fn endpoint_shows_scheme_and_host_only() {
        let secret = Secret::new("https://hooks.slack.com/services/T000/B000/XXXX?x=1");
        let endpoint = Endpoint::parse(&secret).unwrap();
        assert_eq!(endpoint.shown(), "https://hooks.slack.com");
        assert_eq!(format!("{endpoint:?}"), "https://hooks.slack.com");
        assert!(
            endpoint
                .secrets()
                .contains(&"/services/T000/B000/XXXX?x=1".to_owned())
        );
        let local = Endpoint::parse(&Secret::new("http://127.0.0.1:8080/a")).unwrap();
        assert_eq!(local.shown(), "http://127.0.0.1:8080");
        assert!(Endpoint::parse(&Secret::new("ftp://x/")).is_err());
        assert_eq!(
            local.join("chat.postMessage").url.as_str(),
            "http://127.0.0.1:8080/a/chat.postMessage"
        );
    }

    #[test]
    fn excerpt_is_short_and_flat() {
        let long = "x".repeat(500);
        assert_eq!(excerpt(long.as_bytes()).chars().count(), 200);
        assert_eq!(excerpt(b"a\r\n\tb"), "a b");
    }
}
