//! What the API providers share once a request is answered: one mapping
//! from HTTP outcomes to [`Status`], and the small URL helpers. The
//! sending itself (client, capped read, transport errors) is
//! [`rexist_http`]'s; providers name the upstream by host only, since
//! Shodan's URL carries the key.

use std::fmt::Write as _;
use std::time::Duration;

use rexist_http::{Call, FetchError, Limit, Reply, RetryPolicy};
use serde_json::Value;

use crate::answer::{Failure, Status};

/// How long a 429 without `Retry-After` keeps a provider quiet.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);
/// The longest hold honoured; a larger `Retry-After` is a daily quota in disguise.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The client shared by the API providers: RDAP registries redirect
/// between each other; APIs do not need more.
pub(crate) fn api_client() -> Result<rexist_http::Client, String> {
    rexist_http::Client::new(&rexist_http::ClientOptions {
        connect_timeout: Duration::from_secs(10),
        redirects: 5,
        // Lookups are interactive and rate-limited per provider already.
        per_host: 8,
        ..rexist_http::ClientOptions::default()
    })
    .map_err(|e| e.0)
}

/// Sends a request and reads its body up to `max_bytes`; `host` names the
/// upstream in errors. Never retried here: every call counts against the
/// provider's rate limit and daily quota, and a 429 becomes a hold
/// ([`classify`]) rather than a wait.
pub(crate) async fn send(
    client: &rexist_http::Client,
    request: reqwest::RequestBuilder,
    max_bytes: u64,
    timeout: Duration,
    host: &str,
) -> Result<Reply<Vec<u8>>, Failure> {
    let call = Call {
        shown: host,
        timeout,
        limit: Limit::Fail(max_bytes),
        retry: RetryPolicy::NONE,
    };
    client
        .send(request, &call, Vec::new)
        .await
        .map_err(|e| failure(&e, host))
}

/// A transport failure as the providers' answers put it, without the URL.
pub(crate) fn failure(e: &FetchError, host: &str) -> Failure {
    let detail = |d: &str| truncate(d, 120);
    match e {
        FetchError::Timeout { .. } => {
            Failure::new(Status::Timeout, format!("{host} did not answer in time"))
        }
        FetchError::Unreachable { detail: d, .. } => {
            Failure::error(format!("cannot connect to {host}: {}", detail(d)))
        }
        FetchError::Broken { detail: d, .. } => {
            Failure::error(format!("broken response from {host}: {}", detail(d)))
        }
        FetchError::Redirects { .. } => Failure::error(format!("too many redirects from {host}")),
        FetchError::TooLarge { limit, .. } => {
            Failure::error(format!("response from {host} is larger than {limit} bytes"))
        }
        FetchError::RateLimited { seconds, .. } => Failure {
            status: Status::RateLimited,
            reason: format!("{host} rate limited us; retry after {seconds} s"),
            retry_after: Some(Duration::from_secs(*seconds)),
        },
        FetchError::InvalidUrl { .. } => Failure::error(format!("invalid request to {host}")),
        FetchError::Status { .. } | FetchError::Unpack { .. } => Failure::error(e.to_string()),
    }
}

/// What a response says, once its status is read.
#[derive(Debug)]
pub(crate) enum Said {
    /// A 2xx JSON document.
    Found(Value),
    /// 404: the body, if it was JSON.
    NotFound(Option<Value>),
}

/// Maps a response to found / not found / a failure with its status.
pub(crate) fn classify(fetched: &Reply<Vec<u8>>, host: &str) -> Result<Said, Failure> {
    let status = fetched.status.as_u16();
    match status {
        200..=299 => parse_json(&fetched.body, host).map(Said::Found),
        404 => Ok(Said::NotFound(serde_json::from_slice(&fetched.body).ok())),
        401 | 403 => Err(Failure::new(
            Status::Unauthorized,
            format!("{host} refused the credentials (HTTP {status})"),
        )),
        402 => Err(Failure::new(
            Status::QuotaExceeded,
            format!("not entitled: {host} answered HTTP 402 (payment required)"),
        )),
        429 => {
            let wait = fetched
                .retry_after()
                .map_or(DEFAULT_RETRY_AFTER, |w| w.min(MAX_RETRY_AFTER));
            Err(Failure {
                status: Status::RateLimited,
                reason: format!("{host} rate limited us; retry after {} s", wait.as_secs()),
                retry_after: Some(wait),
            })
        }
        500..=599 => Err(Failure::error(format!("{host} failed (HTTP {status})"))),
        _ => {
            let detail = error_detail(&fetched.body)
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            Err(Failure::error(format!("HTTP {status} from {host}{detail}")))
        }
    }
}

/// Parses a JSON body, or says briefly why not.
pub(crate) fn parse_json(body: &[u8], host: &str) -> Result<Value, Failure> {
    serde_json::from_slice(body).map_err(|e| {
        Failure::error(format!(
            "malformed JSON from {host} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

/// The upstream's own error message, short, from the usual JSON shapes.
fn error_detail(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let text = [
        "/error/message",
        "/error",
        "/message",
        "/detail",
        "/errors/0/detail",
        "/description",
    ]
    .iter()
    .find_map(|p| v.pointer(p).and_then(Value::as_str))?;
    Some(truncate(text, 160))
}

/// At most `max` characters, marked when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so that a
/// URL or an IPv6 address fits in one path segment.
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `base` with a path appended, keeping any path the base already has
/// (`https://proxy/xforce` + `ipr/1.2.3.4`).
pub(crate) fn join(base: &reqwest::Url, path: &str) -> String {
    let b = base.as_str().trim_end_matches('/');
    format!("{b}/{}", path.trim_start_matches('/'))
}

/// The host of a base URL, for messages.
pub(crate) fn host_of(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => "upstream".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    fn fetched(status: u16, body: &str) -> Reply<Vec<u8>> {
        with_headers(status, HeaderMap::new(), body)
    }

    fn with_headers(status: u16, headers: HeaderMap, body: &str) -> Reply<Vec<u8>> {
        Reply {
            status: reqwest::StatusCode::from_u16(status).expect("a status"),
            headers,
            remote_addr: None,
            body: body.as_bytes().to_vec(),
            truncated: false,
        }
    }

    #[test]
    fn statuses_map() {
        assert!(matches!(
            classify(&fetched(200, "{}"), "h"),
            Ok(Said::Found(_))
        ));
        assert!(matches!(
            classify(&fetched(404, "nope"), "h"),
            Ok(Said::NotFound(None))
        ));
        let s = |code, body| {
            classify(&fetched(code, body), "h")
                .expect_err("failure")
                .status
        };
        assert_eq!(s(401, ""), Status::Unauthorized);
        assert_eq!(s(403, ""), Status::Unauthorized);
        assert_eq!(s(402, ""), Status::QuotaExceeded);
        assert_eq!(s(429, ""), Status::RateLimited);
        assert_eq!(s(503, ""), Status::Error);
        assert_eq!(s(200, "{not json"), Status::Error);
        let e = classify(&fetched(422, r#"{"errors":[{"detail":"bad ip"}]}"#), "h")
            .expect_err("failure");
        assert_eq!(e.reason, "HTTP 422 from h: bad ip");
    }

    #[test]
    fn rate_limits_hold_for_retry_after_capped_at_a_day() {
        let hold = |value: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(RETRY_AFTER, HeaderValue::from_static(value));
            classify(&with_headers(429, h, ""), "h")
                .expect_err("failure")
                .retry_after
        };
        assert_eq!(hold("120"), Some(Duration::from_secs(120)));
        assert_eq!(hold("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(hold("99999999"), Some(MAX_RETRY_AFTER));
        let none = classify(&fetched(429, ""), "h").expect_err("failure");
        assert_eq!(none.retry_after, Some(DEFAULT_RETRY_AFTER));
    }

    #[test]
    fn segments_and_joins() {
        assert_eq!(
            encode_segment("https://a.example/x?y=1"),
            "https%3A%2F%2Fa.example%2Fx%3Fy%3D1"
        );
        assert_eq!(encode_segment("2001:db8::1"), "2001%3Adb8%3A%3A1");
        let base = reqwest::Url::parse("http://127.0.0.1:9/api/").expect("url");
        assert_eq!(
            join(&base, "/ipr/1.2.3.4"),
            "http://127.0.0.1:9/api/ipr/1.2.3.4"
        );
        assert_eq!(host_of(&base), "127.0.0.1:9");
    }
}
