//! The one pull loop every paged upstream runs through.
//!
//! An upstream module says only what its protocol is ([`Upstream`]): the
//! first request of a run given its cursor, how an answer becomes a page of
//! records and retractions, and what the next request is. The engine owns
//! everything else, once: sending (through the one [`Fetcher`], with the
//! source's headers), spacing between requests, the bound on requests per
//! run, the trust check of every answer ([`crate::contract`]), the same-origin
//! rule for next links, counting, storing each page through the [`Sink`],
//! checkpointing the cursor, and settling the run.
//!
//! Model: vector's HTTP-client sources over one shared pull loop.

use std::time::Duration;

use async_trait::async_trait;
use rexist_core::{Record, Rejected, Retraction, RunCounts, RunOutcome};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::contract::{self, Expect};
use crate::feed::FeedFormat;
use crate::http::{Body, FetchError, Fetched, Fetcher, Validators, redact};

/// How a request is sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    /// GET, conditional when the request carries validators.
    Get,
    /// POST with a JSON body (MISP `restSearch`).
    PostJson(serde_json::Value),
}

/// One request of a run.
#[derive(Debug, Clone)]
pub struct Request<S> {
    /// The URL, query included.
    pub url: String,
    /// GET or POST.
    pub method: Method,
    /// Headers of this request beyond the source's own (`Accept`, a
    /// per-request signature); the engine adds the source's headers.
    pub headers: Vec<(String, String)>,
    /// Validators of the last good answer, for a 304.
    pub validators: Option<Validators>,
    /// What a trustworthy answer looks like.
    pub expect: Expect,
    /// Where the upstream is in its run (which listing, which window, which page).
    pub step: S,
}

impl<S> Request<S> {
    /// A GET of `url` expecting `expect`, at `step`.
    pub fn get(url: impl Into<String>, expect: Expect, step: S) -> Self {
        Self {
            url: url.into(),
            method: Method::Get,
            headers: Vec::new(),
            validators: None,
            expect,
            step,
        }
    }

    /// The same request with one more header.
    #[must_use]
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

/// What one answer became.
#[derive(Debug)]
pub struct Page<S> {
    /// Records to store.
    pub records: Vec<Record>,
    /// Parts that could not become records, counted by reason.
    pub rejected: Vec<Rejected>,
    /// What the upstream withdrew.
    pub retractions: Vec<Retraction>,
    /// The next request, if the run goes on. It must stay on the server of
    /// the run's first request; the engine refuses it otherwise.
    pub next: Option<Request<S>>,
    /// Whether the working cursor may be saved once this page is stored: the
    /// upstream's order makes everything up to it complete (TAXII's
    /// `added_after`, a MISP feed's events oldest first). Upstreams whose
    /// pages are not in cursor order say `false` until the last page.
    pub checkpoint: bool,
}

impl<S> Page<S> {
    /// A page with no records that only leads on to `next`.
    pub fn lead(next: Request<S>) -> Self {
        Self {
            records: Vec::new(),
            rejected: Vec::new(),
            retractions: Vec::new(),
            next: Some(next),
            checkpoint: false,
        }
    }
}

/// What to do when a request fails.
#[derive(Debug)]
pub enum Refusal<S> {
    /// The run stops here (the default).
    Fail,
    /// The request is skipped, the reason recorded on the run, and the run
    /// goes on with `next` (an endpoint the account's tier does not include).
    Skip {
        /// Recorded on the run.
        note: String,
        /// Where to go on, if anywhere.
        next: Option<Request<S>>,
    },
}

/// Everything a run needs from outside its upstream.
pub struct RunContext<'a> {
    /// The one HTTP client stack.
    pub fetcher: &'a Fetcher,
    /// The source's headers (credentials included; never logged).
    pub headers: &'a [(String, String)],
    /// The cursor of the last good run, as stored.
    pub previous: Option<&'a str>,
    /// Words and phrases of the enabled query hunts (for search upstreams
    /// that collect what analysts watch for).
    pub hunt_terms: &'a [String],
}

/// How a run ended, to be recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// Success, partial, failed or not modified.
    pub outcome: RunOutcome,
    /// What was fetched, parsed, stored and rejected.
    pub counts: RunCounts,
    /// The cursor to store (the previous one when nothing may move).
    pub cursor: Option<String>,
    /// Why it stopped, or what it skipped.
    pub error: Option<String>,
}

impl RunReport {
    /// A run that failed before storing anything: the cursor stays.
    pub fn failed(ctx: &RunContext<'_>, counts: RunCounts, reason: impl Into<String>) -> Self {
        Self {
            outcome: RunOutcome::Failed,
            counts,
            cursor: ctx.previous.map(str::to_owned),
            error: Some(reason.into()),
        }
    }

    /// A run stopped by `reason` after storing what `counts` says: partial
    /// when anything was stored, else failed; the cursor stays.
    pub fn stopped(ctx: &RunContext<'_>, counts: RunCounts, reason: impl Into<String>) -> Self {
        Self {
            outcome: contract::outcome(true, stored(&counts)),
            ..Self::failed(ctx, counts, reason)
        }
    }

    /// The upstream said nothing changed: the cursor stays.
    pub fn not_modified(ctx: &RunContext<'_>, counts: RunCounts) -> Self {
        Self {
            outcome: RunOutcome::NotModified,
            counts,
            cursor: ctx.previous.map(str::to_owned),
            error: None,
        }
    }
}

/// What a feed load through the sink did.
#[derive(Debug, Default)]
pub struct FeedLoad {
    /// Values read, stored and rejected (undecodable values among the rejected).
    pub counts: RunCounts,
    /// Why it stopped early, if it did (everything before is stored).
    pub failure: Option<String>,
}

/// Where a run's records go: the pipeline's ingest service. Connectors never
/// see the store.
#[async_trait]
pub trait Sink: Send {
    /// Stores records and applies retractions, counting what was new,
    /// updated and unchanged into `counts`; the error says why storing failed.
    async fn store(
        &mut self,
        records: Vec<Record>,
        retractions: Vec<Retraction>,
        counts: &mut RunCounts,
    ) -> Result<(), String>;

    /// Streams a list, CSV or JSON feed through parse and store in batches.
    async fn load_feed(
        &mut self,
        input: Box<dyn std::io::Read + Send>,
        format: FeedFormat,
        seen_at: OffsetDateTime,
    ) -> FeedLoad;

    /// Retires this source's feed sightings last listed before `before`:
    /// what a complete, trusted snapshot no longer lists.
    async fn delist(&mut self, before: OffsetDateTime) -> Result<u64, String>;
}

/// One configured source's way of running, whatever its upstream.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Runs once: fetches, stores through `sink`, and says how it ended.
    async fn run(&self, ctx: &RunContext<'_>, sink: &mut dyn Sink) -> RunReport;
}

/// What a paged upstream must say; [`pull`] does everything else.
pub trait Upstream: Send + Sync {
    /// Persisted between runs (JSON); `Default` on a first run.
    type Cursor: Serialize + DeserializeOwned + Default + Send + Sync;
    /// Where a request stands in the run.
    type Step: Send + Sync + std::fmt::Debug;

    /// The first request of a run, from the working cursor (the last good
    /// one). An error fails the run before anything is fetched.
    fn first(
        &self,
        ctx: &RunContext<'_>,
        cursor: &mut Self::Cursor,
    ) -> Result<Request<Self::Step>, String>;

    /// One trusted answer to `request` → a page; may move the working cursor.
    /// An error (a body that does not parse) stops the run there.
    fn page(
        &self,
        answer: &Body,
        request: &Request<Self::Step>,
        cursor: &mut Self::Cursor,
    ) -> Result<Page<Self::Step>, String>;

    /// Called just before each request is sent (a per-request signature).
    fn sign(&self, _request: &mut Request<Self::Step>) -> Result<(), String> {
        Ok(())
    }

    /// A request that failed: stop the run (default) or skip it.
    fn refused(&self, _error: &FetchError, _request: &Request<Self::Step>) -> Refusal<Self::Step> {
        Refusal::Fail
    }

    /// Time between two requests of a run (the upstream's rate limit).
    fn spacing(&self, _ctx: &RunContext<'_>) -> Duration {
        Duration::ZERO
    }

    /// Most requests one run sends: bounds a run against a server that never
    /// stops paging. Reaching it ends the run partial, the cursor at the last
    /// checkpoint, and the next run goes on from there.
    fn max_requests(&self) -> u32 {
        10_000
    }
}

/// A paged upstream as a [`Connector`].
pub struct Paged<U>(pub U);

#[async_trait]
impl<U: Upstream> Connector for Paged<U> {
    async fn run(&self, ctx: &RunContext<'_>, sink: &mut dyn Sink) -> RunReport {
        pull(&self.0, ctx, sink).await
    }
}

/// Scheme, host and port of a URL, lower-cased.
fn origin(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    Some((scheme.to_ascii_lowercase(), host.to_ascii_lowercase()))
}

/// Whether `next` points into the same server as `base`: credentials go with
/// every request, so a run never follows a link elsewhere.
pub fn same_origin(base: &str, next: &str) -> bool {
    origin(base).is_some() && origin(base) == origin(next)
}

/// Sends one request with the source's headers.
async fn send<S>(
    fetcher: &Fetcher,
    source_headers: &[(String, String)],
    request: &Request<S>,
) -> Result<Fetched, FetchError> {
    let mut headers = source_headers.to_vec();
    for (k, v) in &request.headers {
        headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
        headers.push((k.clone(), v.clone()));
    }
    match &request.method {
        Method::Get => {
            fetcher
                .get(&request.url, &headers, request.validators.as_ref())
                .await
        }
        Method::PostJson(json) => fetcher
            .post_json(&request.url, &headers, json)
            .await
            .map(Fetched::Body),
    }
}

/// Records stored so far (what makes a stopped run partial, not failed).
pub fn stored(counts: &RunCounts) -> u64 {
    counts.new + counts.updated + counts.unchanged
}

/// Runs a paged upstream to its end (see the module docs).
pub async fn pull<U: Upstream>(
    upstream: &U,
    ctx: &RunContext<'_>,
    sink: &mut dyn Sink,
) -> RunReport {
    let mut working: U::Cursor = ctx
        .previous
        .and_then(|c| serde_json::from_str(c).ok())
        .unwrap_or_default();
    let mut checkpoint = ctx.previous.map(str::to_owned);
    let mut counts = RunCounts::default();
    let mut request = match upstream.first(ctx, &mut working) {
        Ok(r) => r,
        Err(e) => return RunReport::failed(ctx, counts, e),
    };
    let base = request.url.clone();
    let spacing = upstream.spacing(ctx);
    let mut notes: Vec<String> = Vec::new();
    let mut failure: Option<String> = None;
    let mut sent = 0u32;
    let mut not_modified = false;
    loop {
        if sent >= upstream.max_requests() {
            failure = Some(format!(
                "stopped after {sent} requests (the most one run sends); the next run goes on"
            ));
            break;
        }
        if sent > 0 && !spacing.is_zero() {
            tokio::time::sleep(spacing).await;
        }
        sent += 1;
        if let Err(e) = upstream.sign(&mut request) {
            failure = Some(e);
            break;
        }
        let answer = match send(ctx.fetcher, ctx.headers, &request).await {
            Ok(Fetched::Body(b)) => b,
            Ok(Fetched::NotModified) => {
                not_modified = sent == 1;
                break;
            }
            Err(e) => match upstream.refused(&e, &request) {
                Refusal::Fail => {
                    failure = Some(format!("page {sent}: {e}"));
                    break;
                }
                Refusal::Skip { note, next } => {
                    tracing::info!(note = %note, "skipped");
                    notes.push(note);
                    match next {
                        Some(n) => {
                            request = n;
                            continue;
                        }
                        None => break,
                    }
                }
            },
        };
        counts.fetched += answer.bytes.len() as u64;
        if let Err(e) =
            contract::check_body(&answer.bytes, answer.header("content-type"), request.expect)
        {
            failure = Some(format!("page {sent} ({}): {e}", redact(&request.url)));
            break;
        }
        let page = match upstream.page(&answer, &request, &mut working) {
            Ok(p) => p,
            Err(e) => {
                failure = Some(format!("page {sent}: {e}"));
                break;
            }
        };
        for r in page.rejected {
            counts.reject(r.reason);
        }
        counts.parsed += page.records.len() as u64;
        if let Err(e) = sink
            .store(page.records, page.retractions, &mut counts)
            .await
        {
            failure = Some(e);
            break;
        }
        if page.checkpoint {
            checkpoint = serde_json::to_string(&working).ok();
        }
        match page.next {
            None => break,
            Some(next) if same_origin(&base, &next.url) => request = next,
            Some(next) => {
                failure = Some(format!(
                    "next link {} is not on {}; not followed",
                    redact(&next.url),
                    redact(&base)
                ));
                break;
            }
        }
    }
    settle(
        ctx,
        counts,
        failure,
        notes,
        not_modified,
        serde_json::to_string(&working).ok(),
        checkpoint,
    )
}

/// The end of a run by the contract: success moves the cursor to `done`;
/// a failure keeps it at `checkpoint` and is partial when anything was stored.
fn settle(
    ctx: &RunContext<'_>,
    counts: RunCounts,
    failure: Option<String>,
    notes: Vec<String>,
    not_modified: bool,
    done: Option<String>,
    checkpoint: Option<String>,
) -> RunReport {
    if not_modified && failure.is_none() && notes.is_empty() {
        return RunReport::not_modified(ctx, counts);
    }
    let outcome = contract::outcome(failure.is_some(), stored(&counts));
    let cursor = if failure.is_some() { checkpoint } else { done };
    let mut error: Vec<String> = failure.into_iter().collect();
    error.extend(notes);
    RunReport {
        outcome,
        counts,
        cursor,
        error: (!error.is_empty()).then(|| error.join("; ")),
    }
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters kept).
pub fn encode_query(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

/// An RFC 3339 time, as upstream query strings want it.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert!(same_origin(
            "https://otx.example/api/v1/pulses/subscribed",
            "https://OTX.example/api/v1/pulses/subscribed?page=2"
        ));
        assert!(!same_origin(
            "https://otx.example/a",
            "https://evil.example/a"
        ));
        assert!(!same_origin(
            "https://otx.example/a",
            "http://otx.example/a"
        ));
        assert!(!same_origin(
            "https://otx.example:443/a",
            "https://otx.example:8443/a"
        ));
        assert!(!same_origin("not a url", "not a url"));
    }

    #[test]
    fn query_encoding() {
        assert_eq!(encode_query("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
