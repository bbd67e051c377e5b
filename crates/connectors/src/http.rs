//! The one way connectors fetch over HTTP: a size cap on every body, a
//! timeout, retries with exponential backoff that honour `Retry-After`,
//! conditional GET (ETag / If-Modified-Since), per-host concurrency limits,
//! and gzip and zip bodies unpacked within the same cap.
//!
//! The client, the capped read, the retries and [`redact`] are
//! [`rexist_http`]'s, shared with enrichment and alert delivery; what is
//! the connectors' own is here: conditional GET, spooling large feeds to
//! disk, and unpacking archives.
//!
//! Secrets travel only in request headers set by the caller; errors and logs
//! name URLs through [`redact`], which masks credentials in the user info and
//! in query parameters such as `key=` or `token=`.

use std::io::Read;
use std::time::Duration;

use reqwest::header::{ETAG, HeaderMap, HeaderName, HeaderValue, LAST_MODIFIED};
use rexist_http::{BodySink, Call, Client, ClientOptions, Limit, RetryPolicy};
use serde::{Deserialize, Serialize};

pub use rexist_http::{FetchError, redact};

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
    /// Size past which the body moves to a temporary file.
    to_disk_above: u64,
}

enum SpoolInner {
    Memory(Vec<u8>),
    File(std::fs::File),
}

impl Spool {
    fn new(spool_above: u64) -> Self {
        Self {
            inner: SpoolInner::Memory(Vec::new()),
            len: 0,
            to_disk_above: spool_above,
        }
    }

    fn append(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        if let SpoolInner::Memory(bytes) = &mut self.inner {
            if self.len + chunk.len() as u64 > self.to_disk_above {
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

impl BodySink for Spool {
    fn push(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.append(chunk)
    }

    fn len(&self) -> u64 {
        self.len
    }
}

/// Outcome of a conditional fetch whose body may be spooled to disk.
pub enum Streamed {
    /// HTTP 304: unchanged since the validators sent.
    NotModified,
    /// A new body, its validators and the response headers (names lower-case).
    Body(Spool, Validators, Vec<(String, String)>),
}

/// Fetches over HTTP(S) within the limits of its [`FetchOptions`].
pub struct Fetcher {
    client: Client,
    options: FetchOptions,
}

impl Fetcher {
    /// A fetcher with these limits.
    pub fn new(options: FetchOptions) -> Result<Self, FetchError> {
        let client = Client::new(&ClientOptions {
            connect_timeout: options.timeout.min(Duration::from_secs(30)),
            redirects: 5,
            per_host: options.per_host,
            ..ClientOptions::default()
        })
        .map_err(|e| FetchError::Unreachable {
            url: String::new(),
            detail: e.to_string(),
        })?;
        Ok(Self { client, options })
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
        let request = match json {
            Some(body) => self
                .client
                .post(parsed)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(reqwest::header::ACCEPT, "application/json")
                .body(body.to_vec()),
            None => self.client.get(parsed),
        }
        .headers(header_map);
        let call = Call {
            shown: &shown,
            timeout: self.options.timeout,
            limit: Limit::Fail(self.options.max_bytes),
            retry: RetryPolicy {
                retries: self.options.retries,
                backoff: self.options.backoff,
                max_retry_after: self.options.max_retry_after,
            },
        };
        let spool_above = self.options.spool_above;
        let reply = self
            .client
            .send(request, &call, || Spool::new(spool_above))
            .await?;
        if reply.status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Streamed::NotModified);
        }
        let reply = reply.error_for_status(&shown)?;
        let validators = Validators {
            etag: header_text(&reply.headers, &ETAG),
            last_modified: header_text(&reply.headers, &LAST_MODIFIED),
        };
        let headers: Vec<(String, String)> = reply
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let limit = self.options.max_bytes;
        let spool = unpack(reply.body, limit, spool_above).map_err(|detail| {
            if detail == TOO_LARGE {
                FetchError::TooLarge {
                    url: shown.clone(),
                    limit,
                }
            } else {
                FetchError::Unpack {
                    url: shown.clone(),
                    detail,
                }
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

const TOO_LARGE: &str = "too large";

/// Unpacks a gzip file or the first file of a zip archive (by magic bytes)
/// into a new spool, streaming and within `limit`; other bodies are returned
/// as they are. (HTTP `Content-Encoding: gzip` is already undone by the client.)
fn unpack(mut spool: Spool, limit: u64, spool_above: u64) -> Result<Spool, String> {
    let copy_capped = |mut r: Box<dyn Read + '_>| -> Result<Spool, String> {
        let mut out = Spool::new(spool_above);
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = r.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                return Ok(out);
            }
            if out.len() + n as u64 > limit {
                return Err(TOO_LARGE.to_owned());
            }
            out.append(&buf[..n]).map_err(|e| e.to_string())?;
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

    fn spool_of(bytes: &[u8], spool_above: u64) -> Spool {
        let mut s = Spool::new(spool_above);
        for chunk in bytes.chunks(7) {
            s.append(chunk).unwrap();
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
