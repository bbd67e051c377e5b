//! The one way connectors fetch over HTTP: a size cap on every body, a
//! timeout, retries with exponential backoff that honour `Retry-After`,
//! conditional GET (ETag / If-Modified-Since), per-host concurrency limits,
//! and gzip and zip bodies unpacked within the same cap.
//!
//! Secrets travel only in request headers set by the caller; errors and logs
//! name URLs through [`redact`], which masks credentials in the user info and
//! in query parameters such as `key=` or `token=`.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{ETAG, HeaderMap, HeaderName, HeaderValue, LAST_MODIFIED, RETRY_AFTER};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

/// Limits and retry policy of a [`Fetcher`].
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Whole-request timeout, body included.
    pub timeout: Duration,
    /// Largest body accepted, after decompression.
    pub max_bytes: u64,
    /// Retries after the first attempt, for 429, 5xx, timeouts and broken connections.
    pub retries: u32,
    /// First backoff delay; doubled at each retry.
    pub backoff: Duration,
    /// Longest `Retry-After` waited for; a longer one fails the fetch with its delay.
    pub max_retry_after: Duration,
    /// Requests in flight to one host at once.
    pub per_host: usize,
    /// Bodies larger than this go to an unnamed temporary file instead of memory.
    pub spool_above: u64,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            max_bytes: 256 * 1024 * 1024,
            retries: 3,
            backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(120),
            per_host: 2,
            spool_above: 8 * 1024 * 1024,
        }
    }
}

/// Validators of a previous response, sent to get a 304 when nothing changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    /// `ETag` of the previous response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// `Last-Modified` of the previous response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

/// A fetched body and its validators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// The body, decompressed (gzip) or unpacked (the first file of a zip).
    pub bytes: Vec<u8>,
    /// Validators to send next time.
    pub validators: Validators,
    /// Response headers, names lower-case (paging and cursor headers such as
    /// `X-TAXII-Date-Added-Last` or `Link`).
    pub headers: Vec<(String, String)>,
}

impl Body {
    /// The first value of response header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Outcome of a conditional fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// HTTP 304: unchanged since the validators sent.
    NotModified,
    /// A new body.
    Body(Body),
}

/// A fetched body: in memory, or in an unnamed temporary file (deleted when
/// dropped) once it grew past [`FetchOptions::spool_above`], so a large feed
/// costs disk, not memory.
pub struct Spool {
    inner: SpoolInner,
    len: u64,
}

enum SpoolInner {
    Memory(Vec<u8>),
    File(std::fs::File),
}

impl Spool {
    fn empty() -> Self {
        Self {
            inner: SpoolInner::Memory(Vec::new()),
            len: 0,
        }
    }

    fn push(&mut self, chunk: &[u8], spool_above: u64) -> std::io::Result<()> {
        use std::io::Write;
        if let SpoolInner::Memory(bytes) = &mut self.inner {
            if self.len + chunk.len() as u64 > spool_above {
                let mut file = tempfile::tempfile()?;
                file.write_all(bytes)?;
                self.inner = SpoolInner::File(file);
            }
        }
        match &mut self.inner {
            SpoolInner::Memory(bytes) => bytes.extend_from_slice(chunk),
            SpoolInner::File(file) => file.write_all(chunk)?,
        }
        self.len += chunk.len() as u64;
        Ok(())
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether it was spooled to disk.
    pub fn on_disk(&self) -> bool {
        matches!(self.inner, SpoolInner::File(_))
    }

    /// A reader from the first byte.
    pub fn into_reader(self) -> std::io::Result<Box<dyn Read + Send>> {
        use std::io::Seek;
        Ok(match self.inner {
            SpoolInner::Memory(bytes) => Box::new(std::io::Cursor::new(bytes)),
            SpoolInner::File(mut file) => {
                file.rewind()?;
                Box::new(std::io::BufReader::with_capacity(1 << 16, file))
            }
        })
    }

    /// Its last `n` bytes (fewer when it is shorter): whether a list ends
    /// with a newline, a JSON document with `}` or `]`.
    pub fn tail(&mut self, n: u64) -> std::io::Result<Vec<u8>> {
        use std::io::{Seek, SeekFrom};
        let from = self.len.saturating_sub(n);
        match &mut self.inner {
            SpoolInner::Memory(bytes) => {
                let from = usize::try_from(from)
                    .unwrap_or(bytes.len())
                    .min(bytes.len());
                Ok(bytes[from..].to_vec())
            }
            SpoolInner::File(file) => {
                file.seek(SeekFrom::Start(from))?;
                let mut tail = Vec::new();
                (&mut *file).take(n).read_to_end(&mut tail)?;
                Ok(tail)
            }
        }
    }

    /// The whole body in memory (for formats that need the whole document).
    pub fn into_bytes(self) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0));
        self.into_reader()?.read_to_end(&mut out)?;
        Ok(out)
    }

    /// Its first bytes, for recognising gzip and zip.
    fn head(&mut self) -> std::io::Result<Vec<u8>> {
        use std::io::Seek;
        match &mut self.inner {
            SpoolInner::Memory(bytes) => Ok(bytes.iter().take(4).copied().collect()),
            SpoolInner::File(file) => {
                file.rewind()?;
                let mut head = Vec::new();
                (&mut *file).take(4).read_to_end(&mut head)?;
                Ok(head)
            }
        }
    }
}

/// Outcome of a conditional fetch whose body may be spooled to disk.
pub enum Streamed {
    /// HTTP 304: unchanged since the validators sent.
    NotModified,
    /// A new body, its validators and the response headers (names lower-case).
    Body(Spool, Validators, Vec<(String, String)>),
}

/// Why a fetch failed, with the URL redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL does not parse.
    #[error("invalid URL {url}")]
    InvalidUrl {
        /// The redacted URL.
        url: String,
    },
    /// A final non-success status.
    #[error("HTTP {status} from {url}")]
    Status {
        /// The status code.
        status: u16,
        /// The redacted URL.
        url: String,
    },
    /// The upstream asked to come back later than the fetch may wait.
    #[error("rate limited by {url}: retry after {seconds} s")]
    RateLimited {
        /// The redacted URL.
        url: String,
        /// Seconds asked for.
        seconds: u64,
    },
    /// The body exceeds the size cap.
    #[error("response from {url} exceeds the {limit}-byte limit")]
    TooLarge {
        /// The redacted URL.
        url: String,
        /// The cap.
        limit: u64,
    },
    /// The request or body took too long.
    #[error("timed out after {seconds} s fetching {url}")]
    Timeout {
        /// The redacted URL.
        url: String,
        /// The timeout.
        seconds: u64,
    },
    /// The body ended before its announced length, or the connection broke.
    #[error("truncated or broken response from {url}: {detail}")]
    Broken {
        /// The redacted URL.
        url: String,
        /// What the client said.
        detail: String,
    },
    /// The host could not be reached.
    #[error("cannot reach {url}: {detail}")]
    Unreachable {
        /// The redacted URL.
        url: String,
        /// What the client said.
        detail: String,
    },
    /// A gzip or zip body that does not unpack.
    #[error("cannot unpack the body of {url}: {detail}")]
    Unpack {
        /// The redacted URL.
        url: String,
        /// What failed.
        detail: String,
    },
}

impl FetchError {
    /// Whether another attempt may succeed.
    fn retryable(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status == 429 || (500..=599).contains(status),
            Self::Timeout { .. } | Self::Broken { .. } | Self::Unreachable { .. } => true,
            _ => false,
        }
    }
}

/// Query parameters whose values are credentials.
const SECRET_PARAMS: &[&str] = &[
    "key",
    "apikey",
    "api_key",
    "api-key",
    "token",
    "access_token",
    "auth",
    "auth-key",
    "password",
    "secret",
    "sig",
    "signature",
];

/// A URL safe to log: password in the user info and credential query values masked.
pub fn redact(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return "<invalid URL>".to_owned();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let secret = SECRET_PARAMS.iter().any(|s| k.eq_ignore_ascii_case(s));
                (
                    k.into_owned(),
                    if secret {
                        "***".to_owned()
                    } else {
                        v.into_owned()
                    },
                )
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// Fetches over HTTP(S) within the limits of its [`FetchOptions`].
pub struct Fetcher {
    client: reqwest::Client,
    options: FetchOptions,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Fetcher {
    /// A fetcher with these limits.
    pub fn new(options: FetchOptions) -> Result<Self, FetchError> {
        // rustls needs one process-wide crypto provider; ring is the one the
        // rest of rexist (sqlx) already links. Installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(concat!("rexist/", env!("CARGO_PKG_VERSION")))
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(30)))
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|e| FetchError::Unreachable {
                url: String::new(),
                detail: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Self {
            client,
            options,
            hosts: Mutex::new(HashMap::new()),
        })
    }

    fn host_slot(&self, url: &reqwest::Url) -> Arc<Semaphore> {
        let host = url.host_str().unwrap_or_default().to_owned();
        let mut hosts = self
            .hosts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(
            hosts
                .entry(host)
                .or_insert_with(|| Arc::new(Semaphore::new(self.options.per_host.max(1)))),
        )
    }

    /// GETs `url` with `headers` (credentials included: never logged) and,
    /// when given, the validators of the previous response.
    pub async fn get(
        &self,
        url: &str,
        headers: &[(String, String)],
        validators: Option<&Validators>,
    ) -> Result<Fetched, FetchError> {
        match self.fetch(url, headers, validators, None).await? {
            Streamed::NotModified => Ok(Fetched::NotModified),
            Streamed::Body(spool, validators, headers) => Ok(Fetched::Body(Body {
                bytes: in_memory(url, spool)?,
                validators,
                headers,
            })),
        }
    }

    /// As [`Fetcher::get`], but the body stays spooled: read it with
    /// [`Spool::into_reader`] to parse a large feed in bounded memory.
    pub async fn get_spooled(
        &self,
        url: &str,
        headers: &[(String, String)],
        validators: Option<&Validators>,
    ) -> Result<Streamed, FetchError> {
        self.fetch(url, headers, validators, None).await
    }

    /// POSTs a JSON body and returns the response body: for read APIs that
    /// take their query in the body (MISP `restSearch`), retried like a GET.
    pub async fn post_json(
        &self,
        url: &str,
        headers: &[(String, String)],
        json: &serde_json::Value,
    ) -> Result<Body, FetchError> {
        let body = serde_json::to_vec(json).map_err(|e| FetchError::InvalidUrl {
            url: format!("{} (body: {e})", redact(url)),
        })?;
        match self.fetch(url, headers, None, Some(&body)).await? {
            Streamed::Body(spool, validators, headers) => Ok(Body {
                bytes: in_memory(url, spool)?,
                validators,
                headers,
            }),
            Streamed::NotModified => Ok(Body {
                bytes: Vec::new(),
                validators: Validators::default(),
                headers: Vec::new(),
            }),
        }
    }

    async fn fetch(
        &self,
        url: &str,
        headers: &[(String, String)],
        validators: Option<&Validators>,
        json: Option<&[u8]>,
    ) -> Result<Streamed, FetchError> {
        let shown = redact(url);
        let parsed =
            reqwest::Url::parse(url).map_err(|_| FetchError::InvalidUrl { url: shown.clone() })?;
        let mut header_map = HeaderMap::new();
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| FetchError::InvalidUrl { url: shown.clone() })?;
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| FetchError::InvalidUrl { url: shown.clone() })?;
            value.set_sensitive(true);
            header_map.insert(name, value);
        }
        if let Some(v) = validators {
            if let Some(etag) = v
                .etag
                .as_deref()
                .and_then(|e| HeaderValue::from_str(e).ok())
            {
                header_map.insert(reqwest::header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = v
                .last_modified
                .as_deref()
                .and_then(|e| HeaderValue::from_str(e).ok())
            {
                header_map.insert(reqwest::header::IF_MODIFIED_SINCE, lm);
            }
        }
        let slot = self.host_slot(&parsed);
        let mut attempt = 0;
        loop {
            let result = {
                let _permit = slot.acquire().await.map_err(|_| FetchError::Unreachable {
                    url: shown.clone(),
                    detail: "fetcher closed".to_owned(),
                })?;
                self.once(&parsed, &shown, header_map.clone(), json).await
            };
            let (error, retry_after) = match result {
                Ok(fetched) => return Ok(fetched),
                Err(e) => e,
            };
            if !error.retryable() || attempt >= self.options.retries {
                return Err(match (error, retry_after) {
                    (FetchError::Status { status: 429, url }, Some(after)) => {
                        FetchError::RateLimited {
                            url,
                            seconds: after.as_secs(),
                        }
                    }
                    (e, _) => e,
                });
            }
            let delay = match retry_after {
                Some(after) if after > self.options.max_retry_after => {
                    return Err(FetchError::RateLimited {
                        url: shown,
                        seconds: after.as_secs(),
                    });
                }
                Some(after) => after,
                None => {
                    self.options.backoff.saturating_mul(1 << attempt.min(16))
                        + jitter(self.options.backoff)
                }
            };
            tracing::info!(url = %shown, error = %error, attempt = attempt + 1, delay_ms = delay.as_millis(), "retrying fetch");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One attempt; on failure also the `Retry-After` delay the server asked for.
    async fn once(
        &self,
        url: &reqwest::Url,
        shown: &str,
        headers: HeaderMap,
        json: Option<&[u8]>,
    ) -> Result<Streamed, (FetchError, Option<Duration>)> {
        let classify = |e: &reqwest::Error| -> FetchError {
            if e.is_timeout() {
                FetchError::Timeout {
                    url: shown.to_owned(),
                    seconds: self.options.timeout.as_secs(),
                }
            } else if e.is_connect() {
                FetchError::Unreachable {
                    url: shown.to_owned(),
                    detail: root_cause(e),
                }
            } else {
                FetchError::Broken {
                    url: shown.to_owned(),
                    detail: root_cause(e),
                }
            }
        };
        let request = match json {
            Some(body) => self
                .client
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(reqwest::header::ACCEPT, "application/json")
                .body(body.to_vec()),
            None => self.client.get(url.clone()),
        };
        let mut response = request
            .headers(headers)
            .send()
            .await
            .map_err(|e| (classify(&e), None))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Streamed::NotModified);
        }
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Err((
                FetchError::Status {
                    status: status.as_u16(),
                    url: shown.to_owned(),
                },
                retry_after,
            ));
        }
        let validators = Validators {
            etag: header_text(response.headers(), &ETAG),
            last_modified: header_text(response.headers(), &LAST_MODIFIED),
        };
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let limit = self.options.max_bytes;
        let too_large = || FetchError::TooLarge {
            url: shown.to_owned(),
            limit,
        };
        if response.content_length().is_some_and(|n| n > limit) {
            return Err((too_large(), None));
        }
        let spool_error = |e: std::io::Error| FetchError::Broken {
            url: shown.to_owned(),
            detail: format!("cannot spool the body to a temporary file: {e}"),
        };
        let mut spool = Spool::empty();
        while let Some(chunk) = response.chunk().await.map_err(|e| (classify(&e), None))? {
            if spool.len() + chunk.len() as u64 > limit {
                return Err((too_large(), None));
            }
            spool
                .push(&chunk, self.options.spool_above)
                .map_err(|e| (spool_error(e), None))?;
        }
        let spool = unpack(spool, limit, self.options.spool_above).map_err(|detail| {
            if detail == TOO_LARGE {
                (too_large(), None)
            } else {
                (
                    FetchError::Unpack {
                        url: shown.to_owned(),
                        detail,
                    },
                    None,
                )
            }
        })?;
        Ok(Streamed::Body(spool, validators, headers))
    }
}

/// A spooled body read back into memory (bounded by the fetch's size cap).
fn in_memory(url: &str, spool: Spool) -> Result<Vec<u8>, FetchError> {
    spool.into_bytes().map_err(|e| FetchError::Broken {
        url: redact(url),
        detail: format!("cannot read the spooled body: {e}"),
    })
}

fn header_text(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The innermost error message: what actually went wrong, without reqwest's
/// wrapping (which repeats the full URL, credentials included).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// A few hundred milliseconds of jitter derived from the clock, so sources
/// that failed together do not retry in lockstep.
fn jitter(base: Duration) -> Duration {
    let nanos = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos()),
    );
    let max = u64::try_from(base.as_millis() / 4).unwrap_or(0).max(1);
    Duration::from_millis(nanos % max)
}

const TOO_LARGE: &str = "too large";

/// Unpacks a gzip file or the first file of a zip archive (by magic bytes)
/// into a new spool, streaming and within `limit`; other bodies are returned
/// as they are. (HTTP `Content-Encoding: gzip` is already undone by the client.)
fn unpack(mut spool: Spool, limit: u64, spool_above: u64) -> Result<Spool, String> {
    let copy_capped = |mut r: Box<dyn Read + '_>| -> Result<Spool, String> {
        let mut out = Spool::empty();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = r.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                return Ok(out);
            }
            if out.len() + n as u64 > limit {
                return Err(TOO_LARGE.to_owned());
            }
            out.push(&buf[..n], spool_above)
                .map_err(|e| e.to_string())?;
        }
    };
    let head = spool.head().map_err(|e| e.to_string())?;
    if head.starts_with(&[0x1f, 0x8b]) {
        let reader = spool.into_reader().map_err(|e| e.to_string())?;
        return copy_capped(Box::new(flate2::read::MultiGzDecoder::new(reader)));
    }
    if head.starts_with(b"PK\x03\x04") {
        // Zip needs to seek: the archive reads from the spool's file or bytes.
        let source: Box<dyn ReadSeek> = match spool.inner {
            SpoolInner::Memory(bytes) => Box::new(std::io::Cursor::new(bytes)),
            SpoolInner::File(file) => Box::new(file),
        };
        let mut archive = zip::ZipArchive::new(source).map_err(|e| e.to_string())?;
        let file = archive.by_index(0).map_err(|e| e.to_string())?;
        return copy_capped(Box::new(file));
    }
    Ok(spool)
}

/// What a zip archive reads from.
trait ReadSeek: Read + std::io::Seek {}
impl<T: Read + std::io::Seek> ReadSeek for T {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_shown() {
        assert_eq!(
            redact("https://user:pw@feed.example/list.csv?key=s3cret&days=1"),
            "https://user:***@feed.example/list.csv?key=***&days=1"
        );
        assert_eq!(redact("https://feed.example/a"), "https://feed.example/a");
        assert_eq!(redact("not a url"), "<invalid URL>");
    }

    fn spool_of(bytes: &[u8], spool_above: u64) -> Spool {
        let mut s = Spool::empty();
        for chunk in bytes.chunks(7) {
            s.push(chunk, spool_above).unwrap();
        }
        s
    }

    fn unpacked(bytes: &[u8], limit: u64, spool_above: u64) -> Result<Vec<u8>, String> {
        unpack(spool_of(bytes, spool_above), limit, spool_above).map(|s| s.into_bytes().unwrap())
    }

    #[test]
    fn gzip_and_zip_bodies_unpack_within_the_cap() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"192.0.2.1\n").unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(unpacked(&gz, 100, 1 << 20).unwrap(), b"192.0.2.1\n");
        assert_eq!(
            unpacked(&gz, 100, 4).unwrap(),
            b"192.0.2.1\n",
            "from a spooled file"
        );
        assert_eq!(unpacked(&gz, 5, 1 << 20).unwrap_err(), TOO_LARGE);
        let mut zipped = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zipped
            .start_file("list.csv", zip::write::SimpleFileOptions::default())
            .unwrap();
        zipped.write_all(b"a,b\n").unwrap();
        let zipped = zipped.finish().unwrap().into_inner();
        assert_eq!(unpacked(&zipped, 100, 1 << 20).unwrap(), b"a,b\n");
        assert_eq!(
            unpacked(&zipped, 100, 8).unwrap(),
            b"a,b\n",
            "from a spooled file"
        );
        assert!(unpacked(b"PK\x03\x04garbage", 100, 1 << 20).is_err());
        assert_eq!(unpacked(b"plain", 100, 1 << 20).unwrap(), b"plain");
    }

    #[test]
    fn large_bodies_go_to_disk_and_read_back_whole() {
        let body: Vec<u8> = (0..10_000u32).flat_map(u32::to_le_bytes).collect();
        let spooled = spool_of(&body, 1000);
        assert!(spooled.on_disk());
        assert_eq!(spooled.len(), body.len() as u64);
        assert_eq!(spooled.into_bytes().unwrap(), body);
        let small = spool_of(b"tiny", 1000);
        assert!(!small.on_disk());
    }
}
