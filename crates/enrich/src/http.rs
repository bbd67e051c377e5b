//! The HTTP side shared by the API providers: one client, a size cap on
//! every body, and one mapping from HTTP outcomes to [`Status`].
//!
//! Errors are written here rather than taken from `reqwest`, whose messages
//! carry the URL — and Shodan's URL carries the key.

use std::fmt::Write as _;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::Value;

use crate::answer::{Failure, Status};

/// How long a 429 without `Retry-After` keeps a provider quiet.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);
/// The longest hold honoured; a larger `Retry-After` is a daily quota in disguise.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The client shared by the API providers.
pub(crate) fn api_client() -> Result<reqwest::Client, String> {
    // rustls needs one process-wide crypto provider; ring is the one the
    // rest of rexist links. Installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("rexist/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        // RDAP registries redirect between each other; APIs do not need more.
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .map_err(|e| e.without_url().to_string())
}

/// A response read within the cap.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

/// Sends a request and reads its body up to `max_bytes`; `host` names the
/// upstream in errors.
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
    max_bytes: u64,
    host: &str,
) -> Result<Fetched, Failure> {
    let mut response = request.send().await.map_err(|e| transport(&e, host))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = read_capped(&mut response, max_bytes, host).await?;
    Ok(Fetched {
        status,
        headers,
        body,
    })
}

/// Reads a body, failing once it passes `max_bytes`.
pub(crate) async fn read_capped(
    response: &mut reqwest::Response,
    max_bytes: u64,
    host: &str,
) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(&e, host))? {
        if body.len() as u64 + chunk.len() as u64 > max_bytes {
            return Err(Failure::error(format!(
                "response from {host} is larger than {max_bytes} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A transport failure, described without the URL.
pub(crate) fn transport(e: &reqwest::Error, host: &str) -> Failure {
    if e.is_timeout() {
        Failure::new(Status::Timeout, format!("{host} did not answer in time"))
    } else if e.is_connect() {
        Failure::error(format!("cannot connect to {host}{}", cause(e)))
    } else if e.is_body() || e.is_decode() {
        Failure::error(format!("broken response body from {host}{}", cause(e)))
    } else if e.is_redirect() {
        Failure::error(format!("too many redirects from {host}"))
    } else {
        Failure::error(format!("request to {host} failed{}", cause(e)))
    }
}

/// The innermost error's message (a refused connection, a bad certificate),
/// which, unlike reqwest's own message, carries no URL.
fn cause(e: &reqwest::Error) -> String {
    let mut inner: &dyn std::error::Error = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    if std::ptr::addr_eq(inner, e as &dyn std::error::Error) {
        String::new()
    } else {
        format!(": {}", truncate(&inner.to_string(), 120))
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
pub(crate) fn classify(fetched: &Fetched, host: &str) -> Result<Said, Failure> {
    let status = fetched.status;
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
            let wait = retry_after(&fetched.headers).unwrap_or(DEFAULT_RETRY_AFTER);
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

/// `Retry-After` as seconds or an HTTP date, capped at a day.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = if let Ok(secs) = raw.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let when = time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc2822)
            .ok()?;
        let secs = (when - time::OffsetDateTime::now_utc()).whole_seconds();
        Duration::from_secs(u64::try_from(secs).unwrap_or(0))
    };
    Some(wait.min(MAX_RETRY_AFTER))
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
    use reqwest::header::HeaderValue;

    fn fetched(status: u16, body: &str) -> Fetched {
        Fetched {
            status,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
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
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(120)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("99999999"));
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
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
