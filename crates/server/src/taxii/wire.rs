//! TAXII 2.1 on the wire: media types, the error body, timestamps, paging
//! tokens and the identifiers of status resources.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rexist_core::IndicatorId;
use time::OffsetDateTime;

/// The TAXII 2.1 media type, on every response.
pub const TAXII_MEDIA: &str = "application/taxii+json;version=2.1";
/// The STIX 2.1 media type, in collections and manifests.
pub const STIX_MEDIA: &str = "application/stix+json;version=2.1";
/// Largest POST body accepted (advertised as the API root's `max_content_length`).
pub const MAX_CONTENT_LENGTH: usize = 16 << 20;

/// A TAXII error: `{title, description, http_status}` (TAXII 2.1 §3.6.1;
/// `http_status` is a string there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxiiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// Short, stable title.
    pub title: &'static str,
    /// What went wrong, for people.
    pub description: String,
}

impl TaxiiError {
    /// An error with `status`, `title` and `description`.
    pub fn new(status: StatusCode, title: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            title,
            description: description.into(),
        }
    }

    /// 400.
    pub fn bad_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Bad Request", description)
    }

    /// 403.
    pub fn forbidden(description: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden", description)
    }

    /// 404.
    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found", description)
    }

    /// 405.
    pub fn method_not_allowed(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method Not Allowed",
            description,
        )
    }

    /// 500, with the cause logged rather than shown.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "taxii request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            "the server failed to answer; see its log",
        )
    }
}

impl IntoResponse for TaxiiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "title": self.title,
            "description": self.description,
            "http_status": self.status.as_u16().to_string(),
        });
        let mut res = (self.status, body.to_string()).into_response();
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(TAXII_MEDIA));
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"rexist\""),
            );
        }
        res
    }
}

/// A `200` (or `status`) TAXII response with a ready JSON body.
pub fn taxii_response(status: StatusCode, body: Vec<u8>, headers: HeaderMap) -> Response {
    let mut res = (status, body).into_response();
    res.headers_mut().extend(headers);
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(TAXII_MEDIA));
    res
}

/// A TAXII response with `value` as its body.
pub fn json_response(value: &serde_json::Value) -> Response {
    taxii_response(
        StatusCode::OK,
        value.to_string().into_bytes(),
        HeaderMap::new(),
    )
}

/// Parameters of a media range (`type/subtype;a=b;c=d`), lower-cased.
fn media_parts(range: &str) -> (String, Vec<(String, String)>) {
    let mut parts = range.split(';');
    let mime = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let params = parts
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_ascii_lowercase(),
            ))
        })
        .collect();
    (mime, params)
}

/// Whether one media range names TAXII 2.1: `application/taxii+json` with
/// `version=2.1` or no version.
fn is_taxii_21(range: &str) -> bool {
    let (mime, params) = media_parts(range);
    mime == "application/taxii+json"
        && params
            .iter()
            .filter(|(k, _)| k == "version")
            .all(|(_, v)| v == "2.1")
}

/// Whether a request's `Accept` lets us answer with TAXII 2.1 JSON:
/// `application/taxii+json;version=2.1`, `application/taxii+json` (the
/// latest version), `*/*`, `application/*` or no `Accept` at all (HTTP:
/// anything). `application/json` and other versions are refused with 406.
pub fn accepts_taxii(headers: &HeaderMap) -> bool {
    let mut any = false;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else {
            continue;
        };
        for range in value.split(',').filter(|r| !r.trim().is_empty()) {
            any = true;
            let (mime, params) = media_parts(range);
            let q_zero = params
                .iter()
                .any(|(k, v)| k == "q" && v.parse::<f32>() == Ok(0.0));
            if q_zero {
                continue;
            }
            if is_taxii_21(range) || mime == "*/*" || mime == "application/*" {
                return true;
            }
        }
    }
    !any
}

/// Whether a POST's `Content-Type` is TAXII 2.1 JSON.
pub fn is_taxii_content(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_taxii_21)
}

/// Appends `t` as a STIX/TAXII timestamp, UTC with microseconds:
/// `2026-01-02T03:04:05.123456Z`.
pub fn push_timestamp(out: &mut Vec<u8>, t: OffsetDateTime) {
    let t = t.to_offset(time::UtcOffset::UTC);
    let (y, m, d) = (t.year(), u8::from(t.month()), t.day());
    let (hh, mm, ss, us) = (t.hour(), t.minute(), t.second(), t.microsecond());
    push_num(out, u32::try_from(y).unwrap_or(0), 4);
    out.push(b'-');
    push_num(out, u32::from(m), 2);
    out.push(b'-');
    push_num(out, u32::from(d), 2);
    out.push(b'T');
    push_num(out, u32::from(hh), 2);
    out.push(b':');
    push_num(out, u32::from(mm), 2);
    out.push(b':');
    push_num(out, u32::from(ss), 2);
    out.push(b'.');
    push_num(out, us, 6);
    out.push(b'Z');
}

/// Appends `v` zero-padded to `width` (at most 6) digits.
fn push_num(out: &mut Vec<u8>, mut v: u32, width: usize) {
    let mut digits = [b'0'; 6];
    for slot in digits[..width].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&digits[..width]);
}

/// `t` as a STIX/TAXII timestamp string.
pub fn timestamp(t: OffsetDateTime) -> String {
    let mut out = Vec::with_capacity(27);
    push_timestamp(&mut out, t);
    String::from_utf8(out).unwrap_or_default()
}

/// Parses an RFC 3339 timestamp (`added_after`, `match[version]`).
pub fn parse_timestamp(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339).ok()
}

/// Where a page starts: an opaque `next` token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// After the fixed objects (identity, markings), before any row.
    AfterFixed,
    /// After this row: `(added, id)`.
    After(OffsetDateTime, IndicatorId),
}

impl Cursor {
    /// The token: `v1.f`, or `v1.<unix nanoseconds>.<row id>`.
    pub fn token(self) -> String {
        match self {
            Self::AfterFixed => "v1.f".to_owned(),
            Self::After(t, id) => format!("v1.{}.{}", t.unix_timestamp_nanos(), id.get()),
        }
    }

    /// The cursor a token stands for.
    pub fn parse(token: &str) -> Option<Self> {
        let rest = token.strip_prefix("v1.")?;
        if rest == "f" {
            return Some(Self::AfterFixed);
        }
        let (nanos, id) = rest.split_once('.')?;
        let t = OffsetDateTime::from_unix_timestamp_nanos(nanos.parse().ok()?).ok()?;
        Some(Self::After(t, IndicatorId::new(id.parse().ok()?)))
    }
}

/// A random UUID (version 4 layout) for status resources.
pub fn random_uuid() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let half = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_i128(OffsetDateTime::now_utc().unix_timestamp_nanos());
        h.finish()
    };
    let (a, b) = (half(), half());
    let a = (a & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_tokens_round_trip() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_764_000_000_123_456_789).unwrap();
        let s = timestamp(t);
        assert_eq!(s, "2025-11-24T16:00:00.123456Z");
        assert_eq!(
            parse_timestamp(&s).unwrap(),
            OffsetDateTime::from_unix_timestamp_nanos(1_764_000_000_123_456_000).unwrap()
        );
        let c = Cursor::After(t, IndicatorId::new(42));
        assert_eq!(Cursor::parse(&c.token()), Some(c));
        assert_eq!(Cursor::parse("v1.f"), Some(Cursor::AfterFixed));
        assert_eq!(Cursor::parse("nope"), None);
        assert!(crate::taxii::config::is_uuid(&random_uuid()));
        assert_ne!(random_uuid(), random_uuid());
    }

    #[test]
    fn media_types() {
        let mut h = HeaderMap::new();
        assert!(accepts_taxii(&h));
        for (accept, ok) in [
            ("application/taxii+json;version=2.1", true),
            ("application/taxii+json; version=2.1", true),
            ("application/taxii+json", true),
            ("*/*", true),
            ("application/json", false),
            ("application/taxii+json;version=2.0", false),
            ("application/json, application/taxii+json;version=2.1", true),
        ] {
            h.insert(header::ACCEPT, HeaderValue::from_static(accept));
            assert_eq!(accepts_taxii(&h), ok, "{accept}");
        }
    }
}
