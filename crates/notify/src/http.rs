//! The HTTP side shared by the chat and webhook kinds: one client per
//! channel, a capped read of the answer, and one classification of
//! failures. Webhook URLs are credentials (Slack's `/services/T…/B…/…`,
//! Discord's `/api/webhooks/…/token`), so endpoints are only ever shown as
//! scheme, host and port, and reqwest errors are stripped of their URL.

use std::fmt;
use std::time::{Duration, SystemTime};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use crate::config::Secret;
use crate::error::SendError;

/// Largest part of an answer read: enough for any error body.
const BODY_CAP: usize = 64 * 1024;
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
        let Some(host) = url.host_str() else {
            return Err("URL has no host".to_owned());
        };
        let shown = match url.port() {
            Some(port) => format!("{}://{host}:{port}", url.scheme()),
            None => format!("{}://{host}", url.scheme()),
        };
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

/// The shared client: no redirects, since a POST must not turn into a GET
/// elsewhere, and a whole-request timeout.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    // rustls needs one process-wide crypto provider; ring is the one the
    // rest of rexist links. Installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("rexist/", env!("CARGO_PKG_VERSION")))
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {}", chain(&e.without_url())))
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
    if retryable_status(status) {
        SendError::retryable(message).after(retry_after)
    } else {
        SendError::permanent(message)
    }
}

/// 408, 425, 429 and 5xx may pass later; other statuses will not.
pub(crate) fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 425 | 429 | 500..=599)
}

/// POSTs `body` as JSON with the extra headers.
pub(crate) async fn post_json(
    client: &reqwest::Client,
    endpoint: &Endpoint,
    mut headers: HeaderMap,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Reply, SendError> {
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    let sent = client
        .post(endpoint.url.clone())
        .headers(headers)
        .body(body)
        .send()
        .await;
    let mut response = sent.map_err(|e| transport_error(e, endpoint, timeout))?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    let mut body = Vec::new();
    while body.len() < BODY_CAP {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            // The status is known; a broken body only costs the excerpt,
            // except for a 2xx whose body the kind may need to read.
            Err(e) if status.is_success() => return Err(transport_error(e, endpoint, timeout)),
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(BODY_CAP);
    Ok(Reply {
        status,
        retry_after,
        body,
    })
}

fn transport_error(e: reqwest::Error, endpoint: &Endpoint, timeout: Duration) -> SendError {
    if e.is_timeout() {
        return SendError::retryable(format!(
            "timed out after {} ms posting to {}",
            timeout.as_millis(),
            endpoint.shown()
        ));
    }
    let what = if e.is_connect() {
        "cannot connect to"
    } else {
        "request failed to"
    };
    let permanent = e.is_builder();
    let message = format!("{what} {}: {}", endpoint.shown(), chain(&e.without_url()));
    if permanent {
        SendError::permanent(message)
    } else {
        SendError::retryable(message)
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

/// `Retry-After` as seconds or as an HTTP date, capped at one hour.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let date = httpdate::parse_http_date(value).ok()?;
        date.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
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
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("99999", now), Some(MAX_RETRY_AFTER));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(120));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(120))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(120));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(seconds_f64(1.5), Some(Duration::from_millis(1500)));
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
