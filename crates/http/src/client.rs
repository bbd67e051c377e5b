//! The client: built once, every body read within a cap, retries in one loop.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use tokio::sync::Semaphore;

use crate::{FetchError, RetryPolicy, root_cause};

/// The largest part of a non-success body read: enough for any error
/// message, and a 503 page is not worth a feed's cap.
const ERROR_BODY_CAP: u64 = 64 * 1024;

/// How a [`Client`] is built. Timeouts of whole requests are per call
/// ([`Call::timeout`]); everything here is fixed for the client's life.
#[derive(Clone)]
pub struct ClientOptions {
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
    /// Redirects followed; 0 follows none and returns the 3xx as it is
    /// (a POST must not turn into a GET elsewhere).
    pub redirects: usize,
    /// Requests in flight to one host at once, across all callers of the client.
    pub per_host: usize,
    /// Name resolution instead of the system's (URL inspection filters out
    /// internal addresses there).
    pub resolver: Option<Arc<dyn reqwest::dns::Resolve>>,
    /// Whether the proxy from the environment is used; off where a proxy
    /// would resolve names out of the resolver's sight.
    pub proxy: bool,
    /// Whether `Content-Encoding: gzip` is undone; off to see bytes as served.
    pub decompress: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(30),
            redirects: 5,
            per_host: 2,
            resolver: None,
            proxy: true,
            decompress: true,
        }
    }
}

/// The HTTP client could not be built (no TLS roots, a bad setting).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct BuildError(pub String);

/// How much of a body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// A body larger than this many bytes fails with [`FetchError::TooLarge`].
    Fail(u64),
    /// Reading stops after this many bytes; [`Reply::truncated`] says so.
    Truncate(u64),
}

/// Where a body goes as it arrives: memory (`Vec<u8>`) or, in the
/// connectors, a spool that moves to a temporary file when large.
pub trait BodySink: Send {
    /// Appends a chunk.
    fn push(&mut self, chunk: &[u8]) -> std::io::Result<()>;
    /// Bytes held so far.
    fn len(&self) -> u64;
    /// Whether nothing is held yet.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl BodySink for Vec<u8> {
    fn push(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.extend_from_slice(chunk);
        Ok(())
    }

    fn len(&self) -> u64 {
        self.len() as u64
    }
}

/// One request's limits and how it is named.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The target as errors and logs show it: a URL through
    /// [`crate::redact`], a bare host, or `scheme://host` when the URL is
    /// itself a secret.
    pub shown: &'a str,
    /// Whole-request timeout, body included.
    pub timeout: Duration,
    /// How much of a body is read. Under [`Limit::Fail`], a non-2xx body is
    /// read up to 64 KiB (or the limit, if lower) and never fails: it only
    /// explains a status. A broken non-2xx body keeps what arrived.
    pub limit: Limit,
    /// Whether and how failures are retried.
    pub retry: RetryPolicy,
}

/// A response and its body, read within the call's limit.
#[derive(Debug)]
pub struct Reply<B> {
    /// The final status (after redirects and retries).
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// The address answered from, when known.
    pub remote_addr: Option<SocketAddr>,
    /// The body, as far as read.
    pub body: B,
    /// Whether reading stopped at [`Limit::Truncate`] (or at the error-body
    /// cap) before the end.
    pub truncated: bool,
}

impl<B> Reply<B> {
    /// The `Retry-After` the server asked for, uncapped.
    pub fn retry_after(&self) -> Option<Duration> {
        crate::retry_after(&self.headers)
    }

    /// `Ok` for 2xx (and 304, which a conditional request asked for);
    /// [`FetchError::RateLimited`] for a 429 naming its wait; else
    /// [`FetchError::Status`].
    pub fn error_for_status(self, shown: &str) -> Result<Self, FetchError> {
        if self.status.is_success() || self.status == StatusCode::NOT_MODIFIED {
            return Ok(self);
        }
        match (self.status.as_u16(), self.retry_after()) {
            (429, Some(after)) => Err(FetchError::RateLimited {
                url: shown.to_owned(),
                seconds: after.as_secs(),
            }),
            (status, _) => Err(FetchError::Status {
                status,
                url: shown.to_owned(),
            }),
        }
    }
}

/// The one HTTP client: cheap to clone, clones share connections and
/// per-host limits.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    per_host: usize,
    /// One semaphore per host name, created on first use.
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("per_host", &self.per_host)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Builds the client.
    pub fn new(options: &ClientOptions) -> Result<Self, BuildError> {
        // rustls needs one process-wide crypto provider; ring is the one the
        // rest of rexist (sqlx, lettre) links. Installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let redirect = if options.redirects == 0 {
            reqwest::redirect::Policy::none()
        } else {
            reqwest::redirect::Policy::limited(options.redirects)
        };
        let mut builder = reqwest::Client::builder()
            .user_agent(crate::USER_AGENT)
            .connect_timeout(options.connect_timeout)
            .redirect(redirect);
        if !options.proxy {
            builder = builder.no_proxy();
        }
        if !options.decompress {
            builder = builder.no_gzip();
        }
        if let Some(resolver) = &options.resolver {
            builder = builder.dns_resolver(Arc::clone(resolver));
        }
        let http = builder
            .build()
            .map_err(|e| BuildError(root_cause(&e.without_url())))?;
        Ok(Self {
            http,
            per_host: options.per_host.max(1),
            hosts: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// A request to build (method, headers, body), then to pass to
    /// [`Client::send`]; a URL that does not parse fails there, as
    /// [`FetchError::InvalidUrl`].
    pub fn request(
        &self,
        method: reqwest::Method,
        url: impl reqwest::IntoUrl,
    ) -> reqwest::RequestBuilder {
        self.http.request(method, url)
    }

    /// A GET to build.
    pub fn get(&self, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::GET, url)
    }

    /// A POST to build.
    pub fn post(&self, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::POST, url)
    }

    fn host_slot(&self, url: &reqwest::Url) -> Arc<Semaphore> {
        let host = url.host_str().unwrap_or_default().to_owned();
        let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            hosts
                .entry(host)
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host))),
        )
    }

    /// Sends a request built with [`Client::request`] and reads its body
    /// into a fresh `sink()` per attempt, within `call`'s limits, retrying
    /// as `call.retry` allows.
    ///
    /// Any final status is a [`Reply`] (see [`Reply::error_for_status`]);
    /// an error is a transport failure, a body over [`Limit::Fail`], or a
    /// `Retry-After` longer than the policy waits for.
    pub async fn send<S: BodySink>(
        &self,
        request: reqwest::RequestBuilder,
        call: &Call<'_>,
        mut sink: impl FnMut() -> S + Send,
    ) -> Result<Reply<S>, FetchError> {
        let mut request = request.build().map_err(|_| FetchError::InvalidUrl {
            url: call.shown.to_owned(),
        })?;
        *request.timeout_mut() = Some(call.timeout);
        let slot = self.host_slot(request.url());
        let mut pending = Some(request);
        let mut attempt = 0;
        loop {
            // A body that cannot be cloned (a stream) is sent once.
            let copy = pending
                .as_ref()
                .filter(|_| attempt < call.retry.retries)
                .and_then(reqwest::Request::try_clone);
            let last = copy.is_none();
            let Some(this) = copy.or_else(|| pending.take()) else {
                unreachable!("the request is kept until its last attempt");
            };
            let result = {
                let _permit = slot.acquire().await.map_err(|_| FetchError::Unreachable {
                    url: call.shown.to_owned(),
                    detail: "client closed".to_owned(),
                })?;
                self.once(this, call, sink()).await
            };
            let (error, retry_after) = match result {
                Ok(reply) if last || !crate::retryable_status(reply.status.as_u16()) => {
                    return Ok(reply);
                }
                Ok(reply) => {
                    let status = reply.status.as_u16();
                    (
                        FetchError::Status {
                            status,
                            url: call.shown.to_owned(),
                        },
                        reply.retry_after(),
                    )
                }
                Err(e) if last || !e.retryable() => return Err(e),
                Err(e) => (e, None),
            };
            let delay = match retry_after {
                Some(after) if after > call.retry.max_retry_after => {
                    return Err(FetchError::RateLimited {
                        url: call.shown.to_owned(),
                        seconds: after.as_secs(),
                    });
                }
                Some(after) => after,
                None => call.retry.backoff(attempt),
            };
            tracing::info!(url = %call.shown, error = %error, attempt = attempt + 1,
                delay_ms = delay.as_millis(), "retrying request");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One attempt.
    async fn once<S: BodySink>(
        &self,
        request: reqwest::Request,
        call: &Call<'_>,
        mut body: S,
    ) -> Result<Reply<S>, FetchError> {
        let mut response = self
            .http
            .execute(request)
            .await
            .map_err(|e| classify(e, call))?;
        let status = response.status();
        let headers = response.headers().clone();
        let remote_addr = response.remote_addr();
        let (cap, fail) = match call.limit {
            Limit::Fail(n) if status.is_success() => (n, true),
            Limit::Fail(n) => (n.min(ERROR_BODY_CAP), false),
            Limit::Truncate(n) => (n, false),
        };
        let too_large = || FetchError::TooLarge {
            url: call.shown.to_owned(),
            limit: cap,
        };
        if fail && response.content_length().is_some_and(|n| n > cap) {
            return Err(too_large());
        }
        let mut truncated = false;
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Err(e) if status.is_success() => return Err(classify(e, call)),
                // The end, or a broken error body: the status is known, a
                // broken error body only costs its text.
                Ok(None) | Err(_) => break,
            };
            let room = cap.saturating_sub(body.len());
            let take = if chunk.len() as u64 > room {
                if fail {
                    return Err(too_large());
                }
                truncated = true;
                usize::try_from(room).unwrap_or(0)
            } else {
                chunk.len()
            };
            body.push(&chunk[..take]).map_err(|e| FetchError::Broken {
                url: call.shown.to_owned(),
                detail: format!("cannot store the body: {e}"),
            })?;
            if truncated {
                break;
            }
        }
        Ok(Reply {
            status,
            headers,
            remote_addr,
            body,
            truncated,
        })
    }
}

/// A transport failure, named without reqwest's message (which repeats the URL).
fn classify(e: reqwest::Error, call: &Call<'_>) -> FetchError {
    let url = call.shown.to_owned();
    // Without its URL, in case reqwest's own error is the innermost.
    let e = e.without_url();
    if e.is_timeout() {
        FetchError::Timeout {
            url,
            seconds: call.timeout.as_secs(),
        }
    } else if e.is_redirect() {
        FetchError::Redirects { url }
    } else if e.is_builder() {
        FetchError::InvalidUrl { url }
    } else if e.is_connect() {
        FetchError::Unreachable {
            url,
            detail: root_cause(&e),
        }
    } else {
        FetchError::Broken {
            url,
            detail: root_cause(&e),
        }
    }
}
