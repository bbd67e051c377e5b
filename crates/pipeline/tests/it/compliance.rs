//! One compliance harness over every source kind: the same behaviours,
//! stamped per kind by [`compliance!`], like the store's `conformance!` over
//! its two backends.
//!
//! A kind is described by one function `fn(base) -> Kind` (below the
//! behaviours): its `[[source]]` table against the loopback base URL, the
//! routes of its upstream (path or query → fixture bytes, absolute next links
//! already rewritten to the base), what a first run must store, how one more
//! record is added to its answers, and — each with its reason — the
//! behaviours that cannot apply to it. Adding a kind is its description
//! function plus one line in `compliance!`.
//!
//! Every test runs `run_source` against a port-0 loopback upstream
//! (`rexist_testkit::serve`) and a fresh SQLite store, and reads the result
//! back through the store. The upstream answers as the test scripts it
//! ([`Mode`]): the fixture (with an `ETag`, honouring `If-None-Match`), an
//! error status, a stall, a body cut short, random bytes, a proxy's HTML
//! page, an empty body, one 429, or 304 to every conditional request.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rexist_connectors::http::{FetchOptions, Fetcher};
use rexist_connectors::source::{ResolvedSource, SourceConfig};
use rexist_core::{Indicator, IndicatorType, Run, RunOutcome, Tlp};
use rexist_pipeline::run_source;
use rexist_store::{IndicatorQuery, ItemQuery, Store};
use rexist_testkit::{Answer, fixture_bytes, response, serve};

// ---------------------------------------------------------------------------
// The stamp
// ---------------------------------------------------------------------------

/// `compliance! { kind, other_kind [behaviour = "why it is ignored"], … }`:
/// for each kind, a module of one test per behaviour, each calling the
/// generic behaviour below with the kind's description function (the
/// function of the same name). A behaviour known to fail for a reason fixed
/// elsewhere is listed in brackets and stamped `#[ignore = "why"]`.
macro_rules! compliance {
    ($($kind:ident $([$($ignored:ident = $why:literal),+ $(,)?])?),* $(,)?) => {
        compliance!(@kinds ($) $($kind [$($($ignored = $why),+)?]),*);
    };
    // `$d` is a `$` token, so each kind's module can define its own `case!`
    // whose arms match the ignored behaviours by name.
    (@kinds ($d:tt) $($kind:ident [$($ignored:ident = $why:literal),*]),*) => {
        $(
            mod $kind {
                macro_rules! case {
                    $( ($ignored, $d($d item:tt)*) => { #[ignore = $why] $d($d item)* }; )*
                    ($d name:ident, $d($d item:tt)*) => { $d($d item)* };
                }
                compliance!(@behaviours case $kind
                    first_run_stores_exactly_the_fixture,
                    pages_to_the_end,
                    second_run_adds_nothing,
                    an_added_record_adds_exactly_that,
                    not_modified,
                    rate_limited_with_retry_after,
                    server_error_then_recovery,
                    timeout,
                    truncated_body,
                    garbage_body,
                    html_with_200,
                    empty_200,
                    source_tlp_on_items_and_sightings,
                    snapshot_shrink_is_refused,
                    retraction_retires,
                );
                // Tracing is captured per thread: this one runs on the test's thread only.
                case!(secrets_never_recorded,
                    #[tokio::test(flavor = "current_thread")]
                    async fn secrets_never_recorded() {
                        super::secrets_never_recorded(super::$kind).await;
                    }
                );
            }
        )*
    };
    (@behaviours $case:ident $kind:ident $($behaviour:ident),* $(,)?) => {
        $(
            $case!($behaviour,
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $behaviour() {
                    super::$behaviour(super::$kind).await;
                }
            );
        )*
    };
}

compliance! {
    urlhaus,
    feodo,
    threatfox,
    sslbl,
    malwarebazaar,
    openphish,
    phishtank,
    cins,
    blocklistde,
    et,
    spamhaus_drop,
    text,
    csv,
    json,
    ndjson,
    rss,
    kev,
    exploitdb,
    otx,
}

// ---------------------------------------------------------------------------
// What a kind's description says
// ---------------------------------------------------------------------------

/// One behaviour of the harness, for [`Kind::skip`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// `not_modified`: needs a kind that sends validators.
    NotModified,
    /// `snapshot_shrink_is_refused`: needs a snapshot list.
    SnapshotShrink,
    /// `retraction_retires`: needs an upstream that can withdraw something.
    Retraction,
}

/// One answer of the upstream: requests whose path and query contain `when`
/// get `body` (the first matching route wins).
#[derive(Debug, Clone)]
pub struct Route {
    /// Substring of the request's path and query.
    pub when: String,
    /// `Content-Type` of the answer.
    pub content_type: &'static str,
    /// The fixture's bytes, next links rewritten to the loopback base.
    pub body: Vec<u8>,
}

/// What one added record is, to look it up afterwards.
#[derive(Debug, Clone)]
pub enum Added {
    /// A list value.
    Indicator(IndicatorType, String),
    /// An item, by external id.
    Item(String),
}

/// Adds the n-th extra record (0, 1, …) to the routes and says what it is.
pub type Grow = Box<dyn Fn(&mut Vec<Route>, usize) -> Added + Send + Sync>;

/// A source kind, as the harness sees it.
pub struct Kind {
    /// Lines of its `[[source]]` table beyond `name` (`kind`, `url`, keys).
    pub table: String,
    /// The upstream's answers.
    pub routes: Vec<Route>,
    /// Records a first run stores: sightings for lists, items for documents.
    pub records: u64,
    /// Values a first run rejects.
    pub rejected: u64,
    /// Indicators a first run must store (type, value as written).
    pub indicators: Vec<(IndicatorType, String)>,
    /// Items a first run must store, by external id.
    pub items: Vec<String>,
    /// One more record.
    pub grow: Grow,
    /// The header that carries its credential.
    pub credential: &'static str,
    /// Behaviours that cannot apply, each with why.
    pub skip: Vec<(Behaviour, &'static str)>,
}

impl Kind {
    /// Whether `b` applies; says why not on stderr when it does not.
    fn applies(&self, b: Behaviour) -> bool {
        match self.skip.iter().find(|(s, _)| *s == b) {
            Some((_, why)) => {
                eprintln!("{b:?} skipped: {why}");
                false
            }
            None => true,
        }
    }

    /// The routes with `n` extra records.
    fn grown(&self, n: usize) -> (Vec<Route>, Vec<Added>) {
        let mut routes = self.routes.clone();
        let added = (0..n).map(|i| (self.grow)(&mut routes, i)).collect();
        (routes, added)
    }
}

// ---------------------------------------------------------------------------
// The loopback upstream and the bench a test runs on
// ---------------------------------------------------------------------------

/// How the upstream answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The routes, with an `ETag`; 304 when `If-None-Match` names it.
    Fixture,
    /// HTTP 500 to everything.
    ServerError,
    /// The fixture, but only after longer than any fetcher timeout here.
    Stall,
    /// Each body cut in half (never right after a newline).
    Truncated,
    /// Random bytes with 200.
    Garbage,
    /// A proxy's HTML error page with 200.
    Html,
    /// 200 with no body.
    Empty,
    /// 429 with `Retry-After: 1` to the first request, then the fixture.
    RateLimitedOnce,
    /// 304 to every conditional request, else the fixture.
    NotModified,
}

struct State {
    mode: Mode,
    routes: Vec<Route>,
    /// Raw text of every request received.
    requests: Vec<String>,
    /// Requests per route.
    hits: Vec<usize>,
    limited: bool,
}

const STALL: Duration = Duration::from_secs(3);

const PROXY_PAGE: &[u8] = b"<!DOCTYPE html><html><head><title>Proxy error</title></head><body><h1>502 Bad Gateway</h1><p>The upstream did not answer.</p></body></html>\n";

/// FNV-1a, for `ETag`s and the garbage body.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// 4 KiB of fixed pseudo-random bytes.
fn garbage() -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[3]
        })
        .collect()
}

/// The first half of `body`, never ending right after a newline (a cut on a
/// line boundary is only a shorter list, which is `max_shrink`'s business).
fn half(body: &[u8]) -> Vec<u8> {
    let mut cut = body.len() / 2;
    while cut > 1 && body[cut - 1] == b'\n' {
        cut -= 1;
    }
    body[..cut].to_vec()
}

fn ok(content_type: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    response(
        "200 OK",
        &format!("Content-Type: {content_type}\r\n{extra}"),
        body,
    )
}

impl State {
    fn answer(&mut self, path: &str, raw: &str) -> Answer {
        self.requests.push(raw.to_owned());
        let lower = raw.to_ascii_lowercase();
        let conditional =
            lower.contains("\r\nif-none-match:") || lower.contains("\r\nif-modified-since:");
        let now = |bytes| (bytes, Duration::ZERO);
        let Some(i) = self.routes.iter().position(|r| path.contains(&r.when)) else {
            return now(response("404 Not Found", "", b"no such route"));
        };
        self.hits[i] += 1;
        let route = &self.routes[i];
        let etag = format!("\"h{:016x}\"", fnv(&route.body));
        let fixture = || {
            if lower.contains(&format!("\r\nif-none-match: {etag}")) {
                response("304 Not Modified", &format!("ETag: {etag}\r\n"), b"")
            } else {
                ok(
                    route.content_type,
                    &format!("ETag: {etag}\r\n"),
                    &route.body,
                )
            }
        };
        match self.mode {
            Mode::ServerError => now(response("500 Internal Server Error", "", b"oops")),
            Mode::Stall => (fixture(), STALL),
            Mode::Truncated => now(ok(route.content_type, "", &half(&route.body))),
            Mode::Garbage => now(ok(route.content_type, "", &garbage())),
            Mode::Html => now(ok("text/html; charset=utf-8", "", PROXY_PAGE)),
            Mode::Empty => now(ok(route.content_type, "", b"")),
            Mode::RateLimitedOnce if !self.limited => {
                self.limited = true;
                now(response("429 Too Many Requests", "Retry-After: 1\r\n", b""))
            }
            Mode::NotModified if conditional => now(response("304 Not Modified", "", b"")),
            Mode::Fixture | Mode::RateLimitedOnce | Mode::NotModified => now(fixture()),
        }
    }
}

/// The credential every kind is configured with; it must never be recorded.
const SECRET: &str = "rexist-compliance-secret-7Hq2xV";

/// One test's upstream, store and source.
struct Bench {
    kind: Kind,
    state: Arc<Mutex<State>>,
    store: Arc<dyn Store>,
    dir: tempfile::TempDir,
}

/// A fetcher that fails fast: no retries, 2 s timeout.
fn fetcher() -> Fetcher {
    fetcher_with(Duration::from_secs(2), 0)
}

fn fetcher_with(timeout: Duration, retries: u32) -> Fetcher {
    Fetcher::new(FetchOptions {
        timeout,
        retries,
        backoff: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(1),
        max_bytes: 1 << 20,
        per_host: 2,
        spool_above: 1 << 20,
    })
    .expect("HTTP client")
}

impl Bench {
    async fn start(describe: fn(&str) -> Kind) -> Self {
        let state = Arc::new(Mutex::new(State {
            mode: Mode::Fixture,
            routes: Vec::new(),
            requests: Vec::new(),
            hits: Vec::new(),
            limited: false,
        }));
        let s = Arc::clone(&state);
        let up = serve(move |path, _, raw| {
            s.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .answer(path, raw)
        })
        .await;
        let kind = describe(&up.base);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("credential"), SECRET).unwrap();
        let store = rexist_store::open(None, dir.path()).await.unwrap();
        let bench = Self {
            kind,
            state,
            store,
            dir,
        };
        bench.serve(bench.kind.routes.clone());
        bench
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn serve(&self, routes: Vec<Route>) {
        let mut state = self.lock();
        state.hits = vec![0; routes.len()];
        state.routes = routes;
    }

    fn mode(&self, mode: Mode) {
        self.lock().mode = mode;
    }

    /// The kind's source, with `extra` lines added to its table.
    fn source(&self, extra: &str) -> ResolvedSource {
        let table = format!(
            "name = \"compliance\"\n{}\n{extra}\nheaders_file = {{ \"{}\" = \"{}\" }}\n",
            self.kind.table,
            self.kind.credential,
            self.dir.path().join("credential").display()
        );
        toml::from_str::<SourceConfig>(&table)
            .unwrap_or_else(|e| panic!("{table}: {e}"))
            .resolve()
            .unwrap_or_else(|e| panic!("{table}: {e}"))
    }

    async fn run(&self) -> Run {
        self.run_with(&self.source(""), &fetcher()).await
    }

    async fn run_with(&self, source: &ResolvedSource, fetcher: &Fetcher) -> Run {
        run_source(
            &rexist_pipeline::Ingest::new(Arc::clone(&self.store), None),
            fetcher,
            source,
        )
        .await
        .unwrap()
    }

    /// A first run of the fixture, which must succeed.
    async fn good_run(&self) -> Run {
        let run = self.run().await;
        assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);
        run
    }

    async fn census(&self) -> Census {
        let mut census = Census::default();
        let mut after = None;
        loop {
            let page = self
                .store
                .list_indicators(&IndicatorQuery {
                    after: after.take(),
                    limit: 1000,
                    ..IndicatorQuery::default()
                })
                .await
                .unwrap();
            for indicator in &page.items {
                census.indicators += 1;
                for s in self.store.sightings_of(indicator.id).await.unwrap() {
                    census.sightings += 1;
                    census.tlps.push(s.tlp);
                    if s.listed {
                        census.listed.insert(s.id.to_string());
                    }
                }
            }
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        let items = self
            .store
            .search_items(&ItemQuery {
                limit: 1000,
                ..ItemQuery::default()
            })
            .await
            .unwrap();
        assert!(items.next.is_none(), "fixtures hold fewer than 1000 items");
        census.items = items.items.len() as u64;
        census.item_tlps = items.items.iter().map(|i| i.content.tlp).collect();
        census.item_ids = items
            .items
            .into_iter()
            .map(|i| i.content.external_id)
            .collect();
        census
    }

    /// The sighting of `indicator` (as written), if stored.
    async fn sightings(&self, kind: IndicatorType, raw: &str) -> Vec<rexist_core::Sighting> {
        let canonical = Indicator::parse(kind, raw)
            .unwrap_or_else(|e| panic!("{raw} is not a valid {kind:?}: {e:?}"));
        match self
            .store
            .indicator(canonical.kind(), canonical.value())
            .await
            .unwrap()
        {
            Some(i) => self.store.sightings_of(i.id).await.unwrap(),
            None => Vec::new(),
        }
    }

    /// Every stored indicator, as `type:value` (for failure messages).
    async fn stored(&self) -> Vec<String> {
        let page = self
            .store
            .list_indicators(&IndicatorQuery {
                limit: 1000,
                ..IndicatorQuery::default()
            })
            .await
            .unwrap();
        page.items
            .iter()
            .map(|i| format!("{:?}:{}", i.kind, i.value))
            .collect()
    }

    async fn holds(&self, added: &Added) -> bool {
        match added {
            Added::Indicator(kind, raw) => !self.sightings(*kind, raw).await.is_empty(),
            Added::Item(id) => self.census().await.item_ids.contains(id),
        }
    }

    async fn listed(&self, kind: IndicatorType, raw: &str) -> bool {
        let sightings = self.sightings(kind, raw).await;
        assert!(!sightings.is_empty(), "{raw} was stored");
        sightings.iter().all(|s| s.listed)
    }

    /// Whether the source's configuration makes it a snapshot list.
    fn snapshot(&self) -> bool {
        self.source("").snapshot
    }
}

/// What the store holds.
#[derive(Debug, Default, PartialEq)]
struct Census {
    indicators: u64,
    sightings: u64,
    items: u64,
    /// Ids of listed sightings.
    listed: BTreeSet<String>,
    tlps: Vec<Tlp>,
    item_tlps: Vec<Tlp>,
    item_ids: BTreeSet<String>,
}

impl Census {
    /// Asserts that `later` stored nothing new and delisted nothing of `self`.
    fn unharmed_by(&self, later: &Census, what: &str) {
        assert!(
            self.listed.is_subset(&later.listed),
            "{what} delisted {:?}",
            self.listed.difference(&later.listed).collect::<Vec<_>>()
        );
        assert_eq!(
            (later.indicators, later.sightings, later.items),
            (self.indicators, self.sightings, self.items),
            "{what} stored something new"
        );
    }
}

// ---------------------------------------------------------------------------
// The behaviours
// ---------------------------------------------------------------------------

async fn first_run_stores_exactly_the_fixture(describe: fn(&str) -> Kind) {
    let b = Bench::start(describe).await;
    let run = b.good_run().await;
    assert_eq!(
        (run.counts.new, run.counts.rejected),
        (b.kind.records, b.kind.rejected),
        "{:?}",
        run.counts
    );
    let census = b.census().await;
    for (kind, raw) in &b.kind.indicators {
        assert!(
            !b.sightings(*kind, raw).await.is_empty(),
            "{kind:?} {raw} is stored; the store holds {:?}",
            b.stored().await
        );
    }
    for id in &b.kind.items {
        assert!(census.item_ids.contains(id), "item {id} is stored");
    }
}

async fn pages_to_the_end(describe: fn(&str) -> Kind) {
    let b = Bench::start(describe).await;
    b.good_run().await;
    let hits = b.lock().hits.clone();
    assert!(
        hits.iter().all(|h| *h == 1),
        "every page requested once: {hits:?}"
    );
}

async fn second_run_adds_nothing(describe: fn(&str) -> Kind) {
    let b = Bench::start(describe).await;
    b.good_run().await;
    let before = b.census().await;
    let again = b.run().await;
    assert!(
        matches!(again.outcome, RunOutcome::Success | RunOutcome::NotModified),
        "{:?}: {:?}",
        again.outcome,
        again.error
    );
    assert_eq!(again.counts.new, 0, "{:?}", again.counts);
    before.unharmed_by(&b.census().await, "an identical second run");
}

async fn an_added_record_adds_exactly_that(describe: fn(&str) -> Kind) {
    let b = Bench::start(describe).await;
    b.good_run().await;
    let before = b.census().await;
    let (routes, added) = b.kind.grown(1);
    b.serve(routes);
    let run = b.good_run().await;
    assert_eq!(run.counts.new, 1, "{:?}", run.counts);
    assert!(b.holds(&added[0]).await, "{:?} is stored", added[0]);
    let after = b.census().await;
    match &added[0] {
        Added::Indicator(..) => assert_eq!(
            (after.sightings, after.items),
            (before.sightings + 1, before.items)
        ),
        Added::Item(_) => assert_eq!(after.items, before.items + 1),
    }
    assert!(before.listed.is_subset(&after.listed), "nothing delisted");
}

async fn not_modified(describe: fn(&str) -> Kind) {
    let b = Bench::start(describe).await;
    if !b.kind.applies(Behaviour::NotModified) {
        return;
    }
    let first = b.good_run().await;
    let before = b.census().await;
    b.mode(Mode::NotModified);
    let sent = b.lock().requests.len();
    let run = b.run().await;
    let conditional = b.lock().requests[sent].to_ascii_lowercase();
    assert!(
        conditional.contains("if-none-match:"),
        "the request carries the validator: {conditional}"
    );
    assert_eq!(run.outcome, RunOutcome::NotModified, "{:?}", run.error);
    assert_eq!(run.cursor, first.cursor, "cursor unchanged");
    before.unharmed_by(&b.census().await, "a 304");
}

async fn rate_limited_with_retry_after(describe: fn(&str) -> Kind) {
    let b = Bench::start(describe).await;
    b.mode(Mode::RateLimitedOnce);
    let started = Instant::now();
    let run = b
        .run_with(&b.source(""), &fetcher_with(Duration::from_secs(2), 1))
        .await;
    assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited for Retry-After"
    );
    // Every record read after the retry (exact counts are the first run's test).
    assert_eq!(
        run.counts.new + run.counts.rejected,
        b.kind.records + b.kind.rejected,
        "{:?}",
        run.counts
    );
}

async fn server_error_then_recovery(describe: fn(&str) -> Kind) {
    let b = Bench::start(describe).await;
    let good = b.good_run().await;
    let before = b.census().await;
    b.mode(Mode::ServerError);
    let failed = b.run().await;
    assert_eq!(failed.outcome, RunOutcome::Failed);
    assert!(
        failed.error.as_deref().unwrap_or_default().contains("500"),
        "{:?}",
        failed.error
    );
    assert_eq!(failed.cursor, good.cursor, "cursor kept");
    before.unharmed_by(&b.census().await, "a 500");
    b.mode(Mode::Fixture);
    let (routes, added) = b.kind.grown(1);
    b.serve(routes);
    let recovered = b.good_run().await;
    assert_eq!(recovered.counts.new, 1, "{:?}", recovered.counts);
    assert!(b.holds(&added[0]).await);
}

async fn timeout(describe: fn(&str) -> Kind) {
    let b = Bench::start(describe).await;
    b.good_run().await;
    let before = b.census().await;
    b.mode(Mode::Stall);
    let started = Instant::now();
    let run = b
        .run_with(&b.source(""), &fetcher_with(Duration::from_secs(1), 0))
        .await;
    assert!(
        started.elapsed() < STALL,
        "gave up before the upstream answered"
    );
    assert_eq!(run.outcome, RunOutcome::Failed);
    let reason = run.error.unwrap_or_default();
    assert!(reason.contains("timed out"), "{reason}");
    before.unharmed_by(&b.census().await, "a timeout");
}

/// A first good run, then one answered in `mode`: never success, nothing
/// delisted, nothing new stored; the reason is returned.
async fn untrusted(describe: fn(&str) -> Kind, mode: Mode) -> (Run, String) {
    let b = Bench::start(describe).await;
    let good = b.good_run().await;
    let before = b.census().await;
    b.mode(mode);
    let run = b.run().await;
    assert_ne!(
        run.outcome,
        RunOutcome::Success,
        "{mode:?} is never success"
    );
    assert_ne!(run.outcome, RunOutcome::NotModified, "{mode:?}");
    assert_eq!(run.cursor, good.cursor, "{mode:?} keeps the cursor");
    before.unharmed_by(&b.census().await, &format!("{mode:?}"));
    let reason = run.error.clone().unwrap_or_default();
    assert!(!reason.is_empty(), "{mode:?} gives a reason");
    (run, reason)
}

async fn truncated_body(describe: fn(&str) -> Kind) {
    untrusted(describe, Mode::Truncated).await;
}

async fn garbage_body(describe: fn(&str) -> Kind) {
    untrusted(describe, Mode::Garbage).await;
}

async fn html_with_200(describe: fn(&str) -> Kind) {
    let (run, reason) = untrusted(describe, Mode::Html).await;
    assert_eq!(run.outcome, RunOutcome::Failed);
    assert!(reason.contains("HTML"), "{reason}");
}

async fn empty_200(describe: fn(&str) -> Kind) {
    let (run, reason) = untrusted(describe, Mode::Empty).await;
    assert_eq!(run.outcome, RunOutcome::Failed, "{reason}");
}

async fn secrets_never_recorded(describe: fn(&str) -> Kind) {
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    let log = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(log.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let b = Bench::start(describe).await;
    b.good_run().await;
    b.mode(Mode::ServerError);
    let failed = b.run().await;
    assert_eq!(failed.outcome, RunOutcome::Failed);
    b.mode(Mode::Html);
    b.run().await;
    drop(guard);

    let requests = b.lock().requests.join("\n");
    assert!(
        requests.contains(SECRET),
        "the credential is sent in {}",
        b.kind.credential
    );
    for run in b.store.list_runs(None, None, 100).await.unwrap() {
        let record = format!("{run:?}");
        assert!(!record.contains(SECRET), "run record: {record}");
    }
    let text = String::from_utf8_lossy(&log.0.lock().unwrap()).into_owned();
    assert!(text.contains("run"), "the log was captured: {text}");
    assert!(!text.contains(SECRET), "log: {text}");
}

async fn source_tlp_on_items_and_sightings(describe: fn(&str) -> Kind) {
    let b = Bench::start(describe).await;
    let run = b.run_with(&b.source("tlp = \"red\""), &fetcher()).await;
    assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);
    let census = b.census().await;
    assert!(census.sightings + census.items > 0, "something stored");
    assert!(
        census.tlps.iter().all(|t| *t == Tlp::Red),
        "sightings: {:?}",
        census.tlps
    );
    assert!(
        census.item_tlps.iter().all(|t| *t == Tlp::Red),
        "items: {:?}",
        census.item_tlps
    );
}

/// Extra records beyond the fixture for the shrink test: enough that the
/// list is judged (at least 20 values) and the fixture alone is under half.
const GROWN: usize = 30;

async fn snapshot_shrink_is_refused(describe: fn(&str) -> Kind) {
    let b = Bench::start(describe).await;
    if !b.kind.applies(Behaviour::SnapshotShrink) {
        return;
    }
    assert!(b.snapshot(), "a snapshot list cannot skip this");
    let (routes, extras) = b.kind.grown(GROWN);
    b.serve(routes);
    b.good_run().await;
    b.serve(b.kind.routes.clone());
    let shrunk = b.run().await;
    assert_eq!(shrunk.outcome, RunOutcome::Partial, "{:?}", shrunk.error);
    let reason = shrunk.error.unwrap_or_default();
    assert!(reason.contains("max_shrink"), "{reason}");
    for e in &extras {
        let Added::Indicator(kind, raw) = e else {
            panic!("a list grows by values")
        };
        assert!(b.listed(*kind, raw).await, "{raw} still listed");
    }
    let trusting = b.source("max_shrink = 1.0");
    let delisting = b.run_with(&trusting, &fetcher()).await;
    assert_eq!(
        delisting.outcome,
        RunOutcome::Success,
        "{:?}",
        delisting.error
    );
    for e in &extras {
        let Added::Indicator(kind, raw) = e else {
            panic!("a list grows by values")
        };
        assert!(!b.listed(*kind, raw).await, "{raw} delisted");
    }
}

async fn retraction_retires(describe: fn(&str) -> Kind) {
    let b = Bench::start(describe).await;
    if !b.kind.applies(Behaviour::Retraction) {
        return;
    }
    assert!(b.snapshot(), "only snapshot lists retract here");
    let (routes, extras) = b.kind.grown(5);
    b.serve(routes);
    b.good_run().await;
    let (routes, _) = b.kind.grown(4);
    b.serve(routes);
    let run = b.good_run().await;
    assert_eq!(run.counts.updated, 1, "one delisted: {:?}", run.counts);
    for (i, e) in extras.iter().enumerate() {
        let Added::Indicator(kind, raw) = e else {
            panic!("a list grows by values")
        };
        assert_eq!(b.listed(*kind, raw).await, i < 4, "{raw}");
    }
    for (kind, raw) in &b.kind.indicators {
        assert!(b.listed(*kind, raw).await, "{raw} still listed");
    }
}

// ---------------------------------------------------------------------------
// The kinds
// ---------------------------------------------------------------------------

/// Why a list that is not a snapshot skips the snapshot behaviours.
const APPEND_LIST: &str = "an append list: each answer holds recent additions, not the whole list, so nothing leaves it and nothing is delisted";

/// Why a document kind skips the snapshot behaviours.
const DOCUMENT: &str = "a document of items: an entry that leaves the document has aged out, not been withdrawn, and items are never delisted";

/// A list kind: one route serving `fixture`, grown by `extra(n)` → (line, type, value).
fn list(
    table: String,
    path: &str,
    fixture: &str,
    content_type: &'static str,
    expect: &[(IndicatorType, &str)],
    extra: fn(usize) -> (String, IndicatorType, String),
) -> Kind {
    let snapshot = toml::from_str::<SourceConfig>(&format!("name = \"probe\"\n{table}"))
        .unwrap()
        .resolve()
        .unwrap()
        .snapshot;
    Kind {
        table,
        routes: vec![Route {
            when: path.to_owned(),
            content_type,
            body: fixture_bytes(fixture),
        }],
        records: expect.len() as u64,
        rejected: 0,
        indicators: expect.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        items: Vec::new(),
        grow: Box::new(move |routes, n| {
            let (line, kind, value) = extra(n);
            let body = &mut routes[0].body;
            if body.last() != Some(&b'\n') {
                body.push(b'\n');
            }
            body.extend_from_slice(line.as_bytes());
            body.push(b'\n');
            Added::Indicator(kind, value)
        }),
        credential: "Auth-Key",
        skip: if snapshot {
            Vec::new()
        } else {
            vec![
                (Behaviour::SnapshotShrink, APPEND_LIST),
                (Behaviour::Retraction, APPEND_LIST),
            ]
        },
    }
}

fn catalogue_table(kind: &str, base: &str, path: &str) -> String {
    format!("kind = \"{kind}\"\nurl = \"{base}{path}\"")
}

use IndicatorType as T;

fn urlhaus(base: &str) -> Kind {
    let path = "/downloads/csv_recent/";
    list(
        catalogue_table("urlhaus", base, path),
        path,
        "abusech/urlhaus/csv_recent.csv",
        "text/csv",
        &[
            (T::Url, "http://192.0.2.50:58801/i"),
            (T::Url, "https://files.bad.example.net/Zoom%20Setup.exe"),
            (T::Url, "http://[2001:db8::50]:8080/bin.sh"),
            (
                T::Url,
                "http://dl.malicious.example/download.php?file=a.exe&ref=\"x\"",
            ),
            (T::Url, "http://198.51.100.77/ダウンロード/請求書.zip"),
        ],
        |n| {
            let url = format!("http://extra{n}.malicious.example/x.exe");
            (
                format!(
                    "\"39100{n:02}\",\"2025-01-04 00:00:00\",\"{url}\",\"online\",\"\",\"malware_download\",\"None\",\"https://urlhaus.abuse.ch/url/39100{n:02}/\",\"reporter_ex\""
                ),
                T::Url,
                url,
            )
        },
    )
}

fn feodo(base: &str) -> Kind {
    let path = "/downloads/ipblocklist.csv";
    list(
        catalogue_table("feodo", base, path),
        path,
        "abusech/feodo/ipblocklist.csv",
        "text/csv",
        &[
            (T::Ipv4, "192.0.2.60"),
            (T::Ipv4, "198.51.100.61"),
            (T::Ipv4, "203.0.113.62"),
            (T::Ipv4, "192.0.2.63"),
        ],
        |n| {
            let ip = format!("198.51.100.{}", 200 + n);
            (
                format!(
                    "\"2025-01-04 00:00:00\",\"{ip}\",\"443\",\"online\",\"2025-01-04\",\"Emotet\""
                ),
                T::Ipv4,
                ip,
            )
        },
    )
}

fn threatfox(base: &str) -> Kind {
    let path = "/export/csv/recent/";
    list(
        catalogue_table("threatfox", base, path),
        path,
        "abusech/threatfox/export-csv-recent.csv",
        "text/csv",
        &[
            (T::Ipv4, "192.0.2.70"),
            (T::Domain, "c2.malicious.example"),
            (T::Url, "https://dl.malicious.example/p.exe"),
            (
                T::Sha256,
                "b4cc19939275902ce8eaf999135d2a35d319df64cd45c2cfe4a80b4b24577763",
            ),
            (T::Md5, "2942069d6781395b26308419953f74ba"),
        ],
        |n| {
            let domain = format!("extra{n}.malicious.example");
            (
                format!(
                    "\"2025-01-04 00:00:00\", \"14100{n:02}\", \"{domain}\", \"domain\", \"botnet_cc\", \"win.exampleloader\", \"None\", \"ExampleLoader\", \"\", \"50\", \"False\", \"\", \"None\", \"0\", \"reporter_ex\""
                ),
                T::Domain,
                domain,
            )
        },
    )
}

fn sslbl(base: &str) -> Kind {
    let path = "/blacklist/sslblacklist.csv";
    list(
        catalogue_table("sslbl", base, path),
        path,
        "abusech/sslbl/sslblacklist.csv",
        "text/csv",
        &[
            (T::Sha1, "5b90ee51f3677b5cb31571e34637b54c820bbd4f"),
            (T::Sha1, "2a77f523f98cab94d72b4483ea99d756efb8fd11"),
            (T::Sha1, "4ef681d869342a1d67c64a175db4e2e754c4514e"),
        ],
        |n| {
            let sha1 = format!("ab{n:038x}");
            (
                format!("2025-01-04 00:00:00,{sha1},Extra C&C"),
                T::Sha1,
                sha1,
            )
        },
    )
}

fn malwarebazaar(base: &str) -> Kind {
    // No `abusech/malwarebazaar/*.csv`: the CSV export's fixture is the
    // feeds2stix extract (the others there are API bodies, not this kind).
    let path = "/export/csv/recent/";
    list(
        catalogue_table("malwarebazaar", base, path),
        path,
        "abusech/feeds2stix/malwarebazaar-csv_full.csv",
        "text/csv",
        &[
            (
                T::Sha256,
                "2e376f05023790d577a4d2e110640410c9d65c145d2d02e207ff07c3271ea095",
            ),
            (
                T::Sha256,
                "36ec708af0e23aa5e6cfa50dbb4327cad9c5bf25740ab5b38c7a89cf2d6617b8",
            ),
            (
                T::Sha256,
                "1a295933a80907bda689b231e5295eae86bd19b21964ee8669ceb5598c9d714d",
            ),
            (
                T::Sha256,
                "f54bcd9b8d1f71019f83f0116ec50209aed422590555f228450da3492df76005",
            ),
            (
                T::Sha256,
                "1ccf2435674e5a774cbb63f1177f3ae6c592ccf152bb50986cb80e6a76c24857",
            ),
        ],
        |n| {
            let sha256 = format!("cd{n:062x}");
            (
                format!(
                    "\"2025-01-04 00:00:00\", \"{sha256}\", \"{md5}\", \"{sha1}\", \"reporter_ex\", \"extra{n}.exe\", \"exe\", \"application/x-dosexec\", \"n/a\", \"n/a\", \"10.00\", \"n/a\", \"n/a\", \"n/a\"",
                    md5 = format_args!("{n:032x}"),
                    sha1 = format_args!("{n:040x}"),
                ),
                T::Sha256,
                sha256,
            )
        },
    )
}

fn openphish(base: &str) -> Kind {
    let path = "/feed.txt";
    list(
        catalogue_table("openphish", base, path),
        path,
        "blocklists/openphish/feed.txt",
        "text/plain",
        &[
            (T::Url, "https://login.phish.example/secure/"),
            (
                T::Url,
                "http://paypal-verify.phish.test/login.php?session=abc123",
            ),
            (T::Url, "https://xn--pple-43d.example/signin"),
            (
                T::Url,
                "https://www.bank.example.com.verify.phish.test/ja/ログイン",
            ),
            (
                T::Url,
                "http://192.0.2.80/wp-admin/includes/office365/index.html",
            ),
        ],
        |n| {
            let url = format!("https://extra{n}.phish.example/login");
            (url.clone(), T::Url, url)
        },
    )
}

fn phishtank(base: &str) -> Kind {
    let path = "/data/online-valid.csv";
    list(
        catalogue_table("phishtank", base, path),
        path,
        "blocklists/phishtank/online-valid.csv",
        "text/csv",
        &[
            (T::Url, "https://login.phish.example/secure/"),
            (T::Url, "http://paypal-verify.phish.test/login.php?a=1,b=2"),
        ],
        |n| {
            let url = format!("https://extra{n}.phish.example/");
            (
                format!(
                    "91000{n:02},{url},http://www.phishtank.com/phish_detail.php?phish_id=91000{n:02},2025-01-04T00:00:00+00:00,yes,2025-01-04T00:05:00+00:00,yes,Other"
                ),
                T::Url,
                url,
            )
        },
    )
}

fn ip_line(prefix: &'static str) -> impl Fn(usize) -> (String, IndicatorType, String) {
    move |n| {
        let ip = format!("{prefix}.{}", 200 + n);
        (ip.clone(), T::Ipv4, ip)
    }
}

fn cins(base: &str) -> Kind {
    let path = "/list/ci-badguys.txt";
    list(
        catalogue_table("cins", base, path),
        path,
        "blocklists/cins/ci-badguys.txt",
        "text/plain",
        &[
            (T::Ipv4, "192.0.2.100"),
            (T::Ipv4, "198.51.100.101"),
            (T::Ipv4, "203.0.113.102"),
        ],
        |n| ip_line("203.0.113")(n),
    )
}

fn blocklistde(base: &str) -> Kind {
    let path = "/lists/all.txt";
    list(
        catalogue_table("blocklistde", base, path),
        path,
        "blocklists/blocklistde/all.txt",
        "text/plain",
        &[
            (T::Ipv4, "192.0.2.110"),
            (T::Ipv4, "198.51.100.111"),
            (T::Ipv6, "2001:db8::112"),
            (T::Ipv4, "203.0.113.113"),
        ],
        |n| ip_line("198.51.100")(n),
    )
}

fn et(base: &str) -> Kind {
    let path = "/blockrules/compromised-ips.txt";
    list(
        catalogue_table("et", base, path),
        path,
        "blocklists/et/compromised-ips.txt",
        "text/plain",
        &[
            (T::Ipv4, "192.0.2.90"),
            (T::Ipv4, "192.0.2.91"),
            (T::Ipv4, "198.51.100.92"),
            (T::Ipv4, "203.0.113.93"),
        ],
        |n| ip_line("192.0.2")(n),
    )
}

fn spamhaus_drop(base: &str) -> Kind {
    let path = "/drop/drop_v4.json";
    list(
        catalogue_table("spamhaus-drop", base, path),
        path,
        "blocklists/spamhaus/drop_v4.json",
        "application/json",
        &[
            (T::Cidr, "192.0.2.0/25"),
            (T::Cidr, "198.51.100.0/24"),
            (T::Cidr, "203.0.113.128/25"),
        ],
        |n| {
            let cidr = format!("198.18.{n}.0/24");
            (
                format!("{{\"cidr\":\"{cidr}\",\"sblid\":\"SBL9{n:05}\",\"rir\":\"arin\"}}"),
                T::Cidr,
                cidr,
            )
        },
    )
}

/// The generic `text` kind, as a snapshot: Spamhaus' legacy `drop.txt`
/// (`;` comments, `CIDR ; SBLnnn`).
fn text(base: &str) -> Kind {
    list(
        format!("kind = \"text\"\nurl = \"{base}/drop.txt\"\ntype = \"cidr\"\nsnapshot = true"),
        "/drop.txt",
        "blocklists/spamhaus/drop.txt",
        "text/plain",
        &[
            (T::Cidr, "192.0.2.0/25"),
            (T::Cidr, "198.51.100.0/24"),
            (T::Cidr, "203.0.113.128/25"),
        ],
        |n| {
            let cidr = format!("198.18.{n}.0/24");
            (format!("{cidr} ; SBL9{n:05}"), T::Cidr, cidr)
        },
    )
}

/// The generic `csv` kind, an append list: dataplane.org's `|`-separated
/// list, the value by column number.
fn csv(base: &str) -> Kind {
    list(
        format!(
            "kind = \"csv\"\nurl = \"{base}/sshpwauth.txt\"\ncolumn = \"3\"\ndelimiter = \"|\"\ntype = \"ipv4\""
        ),
        "/sshpwauth.txt",
        "blocklists/dataplane/sshpwauth.txt",
        "text/plain",
        &[
            (T::Ipv4, "192.0.2.120"),
            (T::Ipv4, "198.51.100.121"),
            (T::Ipv4, "203.0.113.122"),
        ],
        |n| {
            let ip = format!("198.51.100.{}", 200 + n);
            (
                format!(
                    "64499   |  EXAMPLE-AS-9, ZZ     |  {ip}  |  2025-01-04 00:00:00  |  sshpwauth"
                ),
                T::Ipv4,
                ip,
            )
        },
    )
}

/// The generic `json` kind, as a snapshot: Feodo's JSON blocklist, one
/// field of each element of the top-level array.
fn json(base: &str) -> Kind {
    let mut kind = list(
        format!(
            "kind = \"json\"\nurl = \"{base}/ipblocklist.json\"\nfield = \"ip_address\"\nsnapshot = true"
        ),
        "/ipblocklist.json",
        "abusech/feodo/ipblocklist.json",
        "application/json",
        &[
            (T::Ipv4, "192.0.2.60"),
            (T::Ipv4, "198.51.100.61"),
            (T::Ipv4, "203.0.113.62"),
            (T::Ipv4, "192.0.2.63"),
        ],
        |_| unreachable!("grown below"),
    );
    // One more element of the document's array, not one more line.
    kind.grow = Box::new(|routes, n| {
        let ip = format!("198.51.100.{}", 200 + n);
        let mut doc: serde_json::Value = serde_json::from_slice(&routes[0].body).unwrap();
        doc.as_array_mut()
            .unwrap()
            .push(serde_json::json!({ "ip_address": ip, "port": 443, "malware": "Emotet" }));
        routes[0].body = serde_json::to_vec_pretty(&doc).unwrap();
        routes[0].body.push(b'\n');
        Added::Indicator(T::Ipv4, ip)
    });
    kind
}

/// The generic `ndjson` kind, an append list: Spamhaus' IPv6 DROP.
fn ndjson(base: &str) -> Kind {
    list(
        format!("kind = \"ndjson\"\nurl = \"{base}/drop_v6.json\"\nfield = \"cidr\""),
        "/drop_v6.json",
        "blocklists/spamhaus/drop_v6.json",
        "application/x-ndjson",
        &[
            (T::Cidr, "2001:db8:100::/40"),
            (T::Cidr, "2001:db8:ff00::/40"),
        ],
        |n| {
            let cidr = format!("2001:db8:{:x}::/48", 0x200 + n);
            (format!("{{\"cidr\":\"{cidr}\"}}"), T::Cidr, cidr)
        },
    )
}

/// A document kind: one route, its items, no snapshot behaviours.
fn document(
    table: String,
    route: Route,
    items: Vec<String>,
    indicators: &[(IndicatorType, &str)],
    grow: Grow,
) -> Kind {
    Kind {
        table,
        routes: vec![route],
        records: items.len() as u64,
        rejected: 0,
        indicators: indicators
            .iter()
            .map(|(k, v)| (*k, (*v).to_owned()))
            .collect(),
        items,
        grow,
        credential: "Authorization",
        skip: vec![
            (Behaviour::SnapshotShrink, DOCUMENT),
            (Behaviour::Retraction, DOCUMENT),
        ],
    }
}

/// Inserts `insert` before the last occurrence of `before` in `body`.
fn insert_before(body: &mut Vec<u8>, before: &str, insert: &str) {
    let at = body
        .windows(before.len())
        .rposition(|w| w == before.as_bytes())
        .unwrap_or_else(|| panic!("no {before} in the fixture"));
    body.splice(at..at, insert.bytes());
}

/// `rss`, over the RSS 2.0 news fixture (CDATA, entities, defanged IOCs, an
/// item without link or guid).
fn rss(base: &str) -> Kind {
    document(
        format!("kind = \"rss\"\nurl = \"{base}/feed/\""),
        Route {
            when: "/feed/".to_owned(),
            content_type: "application/rss+xml; charset=UTF-8",
            body: fixture_bytes("news/rss2/security-news.xml"),
        },
        vec![
            "https://news.example.com/?p=10001".to_owned(),
            "https://news.example.com/2025/01/02/example-router/".to_owned(),
        ],
        // Found in the items' text (the extractor skips `.example` hosts).
        &[
            (T::Ipv4, "192.0.2.10"),
            (T::Ipv4, "198.51.100.23"),
            (T::Cve, "CVE-2025-0002"),
            (
                T::Sha256,
                "cc7d152477763001037b08490031749b6fc500932089bcc58f4128c0e05484d9",
            ),
        ],
        Box::new(|routes, n| {
            let guid = format!("https://news.example.com/extra/{n}/");
            insert_before(
                &mut routes[0].body,
                "</channel>",
                &format!(
                    "<item>\n<title>Extra item {n}: 203.0.113.{} seen</title>\n<link>{guid}</link>\n<guid>{guid}</guid>\n<pubDate>Sat, 04 Jan 2025 00:00:00 +0000</pubDate>\n<description>More.</description>\n</item>\n",
                    200 + n
                ),
            );
            Added::Item(guid)
        }),
    )
    .with_records(4)
}

impl Kind {
    /// The same kind whose first run stores `n` records (when the items it
    /// must store are only a few of them).
    fn with_records(mut self, n: u64) -> Self {
        self.records = n;
        self
    }
}

/// `kev`, over the trimmed 50-entry JSON catalogue.
fn kev(base: &str) -> Kind {
    let body = fixture_bytes("kev/known_exploited_vulnerabilities.json");
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let items: Vec<String> = doc["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| format!("kev:{}", v["cveID"].as_str().unwrap()))
        .collect();
    document(
        format!("kind = \"kev\"\nurl = \"{base}/feeds/known_exploited_vulnerabilities.json\""),
        Route {
            when: "/feeds/known_exploited_vulnerabilities.json".to_owned(),
            content_type: "application/json",
            body,
        },
        items,
        &[(T::Cve, "CVE-2021-44228")],
        Box::new(|routes, n| {
            let mut doc: serde_json::Value = serde_json::from_slice(&routes[0].body).unwrap();
            let list = doc["vulnerabilities"].as_array_mut().unwrap();
            let mut extra = list[0].clone();
            let cve = format!("CVE-2099-{}", 10_000 + n);
            extra["cveID"] = cve.clone().into();
            extra["vulnerabilityName"] = format!("Extra vulnerability {n}").into();
            list.push(extra);
            routes[0].body = serde_json::to_vec_pretty(&doc).unwrap();
            Added::Item(format!("kev:{cve}"))
        }),
    )
}

/// `exploitdb`, over `files_exploits.csv`.
fn exploitdb(base: &str) -> Kind {
    document(
        format!("kind = \"exploitdb\"\nurl = \"{base}/files_exploits.csv\""),
        Route {
            when: "/files_exploits.csv".to_owned(),
            content_type: "text/csv",
            body: fixture_bytes("exploitdb/files_exploits.csv"),
        },
        (99001..=99005).map(|id| format!("edb:{id}")).collect(),
        &[(T::Cve, "CVE-2021-44228")],
        Box::new(|routes, n| {
            let id = 99_100 + n;
            routes[0].body.extend_from_slice(
                format!(
                    "{id},exploits/linux/remote/{id}.py,\"Extra exploit {n}\",2025-01-04,\"extra\",remote,linux,,2025-01-04,2025-01-04,0,,,,,,\n"
                )
                .as_bytes(),
            );
            Added::Item(format!("edb:{id}"))
        }),
    )
}

/// `otx`: two pages of subscribed pulses, page 1's `next` rewritten to the
/// loopback server.
fn otx(base: &str) -> Kind {
    let page1 = String::from_utf8(fixture_bytes("otx/pulses-subscribed-page1.json"))
        .unwrap()
        .replace("https://otx.alienvault.com", base)
        .into_bytes();
    Kind {
        table: format!("kind = \"otx\"\nurl = \"{base}\"\npage_size = 2"),
        routes: vec![
            // page 2 first: its path also starts with page 1's
            Route {
                when: "page=2".to_owned(),
                content_type: "application/json",
                body: fixture_bytes("otx/pulses-subscribed-page2.json"),
            },
            Route {
                when: "/api/v1/pulses/subscribed?".to_owned(),
                content_type: "application/json",
                body: page1,
            },
        ],
        records: 3,
        // The synthetic BitcoinAddress of page 1 has no valid bech32 checksum.
        rejected: 1,
        indicators: vec![
            (T::Ipv4, "192.0.2.10".to_owned()),
            (T::Url, "http://login.phish.example/secure/".to_owned()),
        ],
        items: vec![
            "otx:caf2a359e7d71577cdde81e5".to_owned(),
            "otx:55ae4c31964bed1912b69b0f".to_owned(),
            "otx:e88b3f2639eae8f813dd8ed8".to_owned(),
        ],
        grow: Box::new(|routes, n| {
            let mut doc: serde_json::Value = serde_json::from_slice(&routes[0].body).unwrap();
            let results = doc["results"].as_array_mut().unwrap();
            let mut pulse = results[0].clone();
            let id = format!("{:024x}", 0xe0_0000 + n);
            pulse["id"] = id.clone().into();
            pulse["name"] = format!("Extra pulse {n}").into();
            pulse["modified"] = "2025-01-05T00:00:00".into();
            results.push(pulse);
            routes[0].body = serde_json::to_vec(&doc).unwrap();
            Added::Item(format!("otx:{id}"))
        }),
        credential: "X-OTX-API-KEY",
        skip: vec![
            (
                Behaviour::NotModified,
                "OTX sends no validators: every run is answered, and an unchanged one stores nothing new (second_run_adds_nothing)",
            ),
            (
                Behaviour::SnapshotShrink,
                "OTX is paged by modified time, not a snapshot",
            ),
            (
                Behaviour::Retraction,
                "OTX retracts by is_active/expiration inside a pulse; its retraction line is its porter's to add",
            ),
        ],
    }
}
