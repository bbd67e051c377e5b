//! One compliance harness over every source kind: the same behaviours,
//! stamped per kind by [`compliance!`], like the store's `conformance!` over
//! its two backends.
//!
//! A kind is described by one function `fn(base) -> Kind` (below the
//! behaviours): its `[[source]]` table against the loopback base URL, the
//! routes of its upstream (path or query → fixture bytes, absolute next links
//! already rewritten to the base; a POST's route may key on its body), what a
//! first run must store, how one more record is added to its answers, how
//! its upstream withdraws a record (when it is not a snapshot list), and —
//! each with its reason — the behaviours that cannot apply to it. Adding a kind is its description
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
use rexist_core::{Indicator, IndicatorStatus, IndicatorType, RetractReason, Run, RunOutcome, Tlp};
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
                /// What the store must do alike on both backends, on PostgreSQL.
                mod postgres {
                    compliance!(@postgres $kind
                        first_run_stores_exactly_the_fixture,
                        second_run_adds_nothing,
                        an_added_record_adds_exactly_that,
                        truncated_body,
                        html_with_200,
                        source_tlp_on_items_and_sightings,
                        snapshot_shrink_is_refused,
                        retraction_retires,
                    );
                }
            }
        )*
    };
    (@postgres $kind:ident $($behaviour:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $behaviour() {
                super::super::on_postgres(super::super::$behaviour(super::super::$kind)).await;
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
    misp,
    misp_feed,
    taxii,
    threatconnect,
    xforce,
    nvd,
    jvn,
    mastodon,
    bluesky,
    x,
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

/// One answer of the upstream: requests whose path and query (and, after a
/// space, the body of a POST) contain `when` get `body` (the first matching
/// route wins).
#[derive(Debug, Clone)]
pub struct Route {
    /// Substring of the request's path and query, or of `"{path} {body}"`
    /// for a request with a body (MISP's restSearch pages are keyed by the
    /// JSON it posts).
    pub when: String,
    /// `Content-Type` of the answer.
    pub content_type: &'static str,
    /// Headers of the answer beyond `Content-Type` and `ETag`, each ending
    /// in CRLF (TAXII's `X-TAXII-Date-Added-Last`).
    pub headers: &'static str,
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
    /// Routes only later runs ask for (ThreatConnect's deletions since the
    /// last run): served after `routes`, and a first run never asks for them.
    pub later: Vec<Route>,
    /// How the upstream withdraws records, for a kind that is not a snapshot
    /// list (whose withdrawal is leaving the list).
    pub retract: Option<Retract>,
}

/// Changes the routes in place.
pub type Rewrite = Box<dyn Fn(&mut Vec<Route>) + Send + Sync>;

/// How an upstream withdraws what it reported.
pub struct Retract {
    /// Turns the routes (`routes` then `later`) into what the upstream
    /// serves once it withdrew (a newer version of the record).
    pub routes: Rewrite,
    /// Each indicator withdrawn (type, value as written) and the reason its
    /// sighting must be retired with.
    pub retired: Vec<(IndicatorType, String, RetractReason)>,
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

    /// Every route: those of a first run, then those of later runs.
    fn all_routes(&self) -> Vec<Route> {
        self.routes.iter().chain(&self.later).cloned().collect()
    }

    /// The routes with `n` extra records.
    fn grown(&self, n: usize) -> (Vec<Route>, Vec<Added>) {
        let mut routes = self.all_routes();
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
        let target = match raw.split_once("\r\n\r\n") {
            Some((_, body)) if !body.is_empty() => format!("{path} {body}"),
            _ => path.to_owned(),
        };
        let Some(i) = self.routes.iter().position(|r| target.contains(&r.when)) else {
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
                    &format!("ETag: {etag}\r\n{}", route.headers),
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

tokio::task_local! {
    /// The PostgreSQL server and schema a test's store lives in; SQLite when unset.
    static POSTGRES: (String, String);
}

static SCHEMA_SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Runs `test` with its store in a fresh PostgreSQL schema of the server in
/// `REXIST_TEST_DATABASE_URL` (skipped, saying so, when it is unset), and
/// drops the schema after a pass.
async fn on_postgres(test: impl std::future::Future<Output = ()>) {
    let Ok(url) = std::env::var("REXIST_TEST_DATABASE_URL") else {
        eprintln!(
            "REXIST_TEST_DATABASE_URL not set: PostgreSQL half of the compliance harness skipped"
        );
        return;
    };
    let schema = format!(
        "rexist_c{}_{}",
        std::process::id(),
        SCHEMA_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    POSTGRES.scope((url.clone(), schema.clone()), test).await;
    rexist_store::postgres::drop_schema(&url, &schema)
        .await
        .expect("drop test schema");
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
        let store: Arc<dyn Store> = match POSTGRES.try_with(Clone::clone) {
            Ok((url, schema)) => {
                let pg = rexist_store::postgres::PgStore::connect(&url, Some(&schema))
                    .await
                    .expect("connect postgres");
                pg.migrate().await.expect("migrate postgres");
                Arc::new(pg)
            }
            Err(_) => rexist_store::open(None, dir.path()).await.unwrap(),
        };
        let bench = Self {
            kind,
            state,
            store,
            dir,
        };
        bench.serve(bench.kind.all_routes());
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
        self.source("").params.snapshot()
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
    let (first, later) = hits.split_at(b.kind.routes.len());
    assert!(
        first.iter().all(|h| *h == 1),
        "every page requested once: {hits:?}"
    );
    assert!(
        later.iter().all(|h| *h == 0),
        "nothing only later runs ask for: {hits:?}"
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
    let log = crate::common::Capture::default();
    let subscriber = log.subscriber(tracing::Level::TRACE);
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
    let text = log.text();
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
    b.serve(b.kind.all_routes());
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
    if let Some(retract) = &b.kind.retract {
        return withdrawn_upstream(&b, retract).await;
    }
    assert!(
        b.snapshot(),
        "a kind that is not a snapshot says how it retracts"
    );
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

/// An upstream that withdraws records in a later answer: the run that reads
/// it succeeds, and this source's sightings of each withdrawn indicator are
/// kept, no longer listed, with the reason and time; as the only source, the
/// indicator is retired, and reading the same answer again does not bring it
/// back. Nothing else is withdrawn.
async fn withdrawn_upstream(b: &Bench, retract: &Retract) {
    b.good_run().await;
    for (kind, raw, _) in &retract.retired {
        assert!(b.listed(*kind, raw).await, "{raw} listed before");
    }
    let mut routes = b.kind.all_routes();
    (retract.routes)(&mut routes);
    b.serve(routes);
    let run = b.good_run().await;
    // The withdrawn version read again is no new report: it stays retired.
    let again = b.good_run().await;
    assert_eq!(again.counts.new, 0, "{:?}", again.counts);
    for (kind, raw, reason) in &retract.retired {
        let sightings = b.sightings(*kind, raw).await;
        assert!(!sightings.is_empty(), "{raw} kept");
        for s in &sightings {
            assert!(!s.listed, "{raw} no longer listed: {s:?}");
            assert_eq!(s.retired_reason, Some(*reason), "{raw}: {s:?}");
            assert!(s.retired_at.is_some(), "{raw}: {s:?}");
        }
        let canonical = Indicator::parse(*kind, raw).unwrap();
        let record = b
            .store
            .indicator(canonical.kind(), canonical.value())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            record.status,
            IndicatorStatus::Retired,
            "{raw}: {:?} ({:?})",
            record.status,
            run.counts
        );
    }
    for (kind, raw) in &b.kind.indicators {
        if !retract
            .retired
            .iter()
            .any(|(k, r, _)| k == kind && r == raw)
        {
            assert!(b.listed(*kind, raw).await, "{raw} still listed");
        }
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
        .params
        .snapshot();
    Kind {
        table,
        routes: vec![Route {
            when: path.to_owned(),
            content_type,
            headers: "",
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
        later: Vec::new(),
        retract: None,
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
        later: Vec::new(),
        retract: None,
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
            headers: "",
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
            headers: "",
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
            headers: "",
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
                headers: "",
                body: fixture_bytes("otx/pulses-subscribed-page2.json"),
            },
            Route {
                when: "/api/v1/pulses/subscribed?".to_owned(),
                content_type: "application/json",
                headers: "",
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
        ],
        later: Vec::new(),
        // A later version of the first pulse marks 192.0.2.10 inactive.
        retract: Some(Retract {
            routes: Box::new(|routes| {
                edit_json(&mut routes[1].body, |doc| {
                    let pulse = &mut doc["results"][0];
                    pulse["modified"] = "2025-01-06T00:00:00".into();
                    for i in pulse["indicators"].as_array_mut().unwrap() {
                        if i["indicator"] == "192.0.2.10" {
                            i["is_active"] = 0.into();
                        }
                    }
                });
            }),
            retired: vec![(T::Ipv4, "192.0.2.10".to_owned(), RetractReason::Inactive)],
        }),
    }
}

// ---------------------------------------------------------------------------
// Exchanges, vendors, vulnerability feeds and social searches
// ---------------------------------------------------------------------------

const JSON: &str = "application/json";

fn route(when: &str, content_type: &'static str, body: Vec<u8>) -> Route {
    Route {
        when: when.to_owned(),
        content_type,
        headers: "",
        body,
    }
}

impl Route {
    /// The same route answering with more headers.
    fn with_headers(mut self, headers: &'static str) -> Self {
        self.headers = headers;
        self
    }
}

/// Parses `body` as JSON, lets `edit` change it and writes it back.
fn edit_json(body: &mut Vec<u8>, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut doc: serde_json::Value = serde_json::from_slice(body).unwrap();
    edit(&mut doc);
    *body = serde_json::to_vec(&doc).unwrap();
}

/// A shared fixture with `from` (an upstream's own base URL in its links)
/// rewritten to the loopback base.
fn rebased(rel: &str, from: &str, base: &str) -> Vec<u8> {
    String::from_utf8(fixture_bytes(rel))
        .unwrap()
        .replace(from, base)
        .into_bytes()
}

/// The bytes of a fixture kept in the repository beside the connectors
/// (X and Bluesky, see `crates/connectors/tests/fixtures/README.md`).
fn repo_fixture(rel: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../connectors/tests/fixtures")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

fn owned(pairs: &[(IndicatorType, &str)]) -> Vec<(IndicatorType, String)> {
    pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

/// Why a kind paged by time, id or window skips the snapshot check.
const NOT_SNAPSHOT: &str = "not a snapshot: each run reads what changed since the last one, so what an answer leaves out was not withdrawn";

/// `misp`: a MISP server's `POST /events/restSearch`, two events on page 1
/// and one on the short page 2 (`page_size = 2`), routed by the page posted.
fn misp(base: &str) -> Kind {
    let page1 = fixture_bytes("misp/restsearch/events-restsearch-page1.json");
    let page2 = fixture_bytes("misp/restsearch/events-restsearch-page2.json");
    Kind {
        table: format!("kind = \"misp\"\nurl = \"{base}/\"\npage_size = 2"),
        routes: vec![
            route("\"page\":1", JSON, page1),
            route("\"page\":2", JSON, page2),
        ],
        records: 3,
        // The synthetic `btc` of page 2 has no valid bech32 checksum.
        rejected: 1,
        indicators: owned(&[
            (T::Ipv4, "192.0.2.10"),
            (T::Ipv4, "203.0.113.5"),
            (T::Url, "http://login.phish.example/secure/"),
        ]),
        items: vec![
            "819215fb-5ec8-54bc-8651-fe690356956a".to_owned(),
            "bdcb70cb-da47-581b-a130-a386dfdb9f00".to_owned(),
            "9cfad7e0-01d9-564a-a9a1-ffdfcc1b7c8f".to_owned(),
        ],
        // One more event on page 1 (page 2 stays shorter, so paging still ends there).
        grow: Box::new(|routes, n| {
            let uuid = format!("e0000000-0000-4000-8000-{n:012}");
            edit_json(&mut routes[0].body, |doc| {
                doc["response"]
                    .as_array_mut()
                    .unwrap()
                    .push(serde_json::json!({"Event": {
                        "uuid": uuid,
                        "info": format!("Extra event {n}"),
                        "date": "2025-01-05",
                        "timestamp": format!("{}", 1_736_000_000 + n),
                        "Attribute": [{
                            "uuid": format!("e1000000-0000-4000-8000-{n:012}"),
                            "type": "ip-dst",
                            "value": format!("198.18.{n}.1"),
                            "to_ids": true,
                        }],
                    }}));
            });
            Added::Item(uuid)
        }),
        credential: "Authorization",
        skip: vec![
            (
                Behaviour::NotModified,
                "restSearch is a POST and sends no validators: an unchanged window answers the same events, stored as unchanged (second_run_adds_nothing)",
            ),
            (Behaviour::SnapshotShrink, NOT_SNAPSHOT),
        ],
        later: Vec::new(),
        // Newer versions of both page-1 events: 192.0.2.10 with `to_ids`
        // off, 203.0.113.5 deleted.
        retract: Some(Retract {
            routes: Box::new(|routes| {
                edit_json(&mut routes[0].body, |doc| {
                    for (event, value, key, set) in [
                        (0, "192.0.2.10", "to_ids", serde_json::json!("0")),
                        (1, "203.0.113.5", "deleted", serde_json::json!(true)),
                    ] {
                        let event = &mut doc["response"][event]["Event"];
                        event["timestamp"] = "1735900000".into();
                        for a in event["Attribute"].as_array_mut().unwrap() {
                            if a["value"] == value {
                                a[key] = set.clone();
                                a["timestamp"] = "1735900000".into();
                            }
                        }
                    }
                });
            }),
            retired: vec![
                (
                    T::Ipv4,
                    "192.0.2.10".to_owned(),
                    RetractReason::FalsePositive,
                ),
                (T::Ipv4, "203.0.113.5".to_owned(), RetractReason::Deleted),
            ],
        }),
    }
}

/// Sets a MISP feed manifest's entry for the event in `event_bytes` to its
/// timestamp and digest, as a feed publisher does when an event changes.
fn manifest_entry(manifest: &mut Vec<u8>, uuid: &str, timestamp: &str, event_bytes: &[u8]) {
    let digest = rexist_core::indicator::sha256_hex(event_bytes);
    edit_json(manifest, |doc| {
        let entry = doc
            .as_object_mut()
            .unwrap()
            .entry(uuid)
            .or_insert_with(|| serde_json::json!({"info": "extra", "Tag": []}));
        entry["timestamp"] = timestamp.into();
        entry["integrity:sha256"] = digest.into();
    });
}

const FEED_EVENT: &str = "1f2ae2f4-48b3-5c9c-ace1-39ab6548bbed";

/// `misp_feed`: a MISP feed directory, its manifest then each event file
/// (checked against the manifest's digest).
fn misp_feed(base: &str) -> Kind {
    let older = "57c4445b-c548-4654-af0b-4be3950d210f";
    Kind {
        table: format!("kind = \"misp-feed\"\nurl = \"{base}/feed/\""),
        routes: vec![
            route(
                "/feed/manifest.json",
                JSON,
                fixture_bytes("misp/feed/manifest.json"),
            ),
            route(
                &format!("/feed/{older}.json"),
                JSON,
                fixture_bytes(&format!("misp/feed/{older}.json")),
            ),
            route(
                &format!("/feed/{FEED_EVENT}.json"),
                JSON,
                fixture_bytes(&format!("misp/feed/{FEED_EVENT}.json")),
            ),
        ],
        records: 2,
        rejected: 0,
        indicators: owned(&[
            (T::Md5, "0749bae92ca336a02c83d126e04ec628"),
            (T::Domain, "loader.example.net"),
            (T::Url, "https://loader.example.net/p/stage2"),
        ]),
        items: vec![older.to_owned(), FEED_EVENT.to_owned()],
        // One more event file, listed in the manifest with its digest.
        grow: Box::new(|routes, n| {
            let uuid = format!("e2000000-0000-4000-8000-{n:012}");
            let timestamp = format!("{}", 1_736_000_000 + n);
            let event = serde_json::to_vec(&serde_json::json!({"Event": {
                "uuid": uuid,
                "info": format!("Extra feed event {n}"),
                "date": "2025-01-05",
                "timestamp": timestamp,
                "Attribute": [{
                    "uuid": format!("e3000000-0000-4000-8000-{n:012}"),
                    "type": "ip-dst",
                    "value": format!("198.18.{n}.2"),
                    "to_ids": true,
                }],
            }}))
            .unwrap();
            manifest_entry(&mut routes[0].body, &uuid, &timestamp, &event);
            routes.push(route(&format!("/feed/{uuid}.json"), JSON, event));
            Added::Item(uuid)
        }),
        credential: "Authorization",
        skip: vec![
            (
                Behaviour::NotModified,
                "the feed connector sends no validators: a second run reads the manifest and fetches no event older than its cursor (second_run_adds_nothing)",
            ),
            (Behaviour::SnapshotShrink, NOT_SNAPSHOT),
        ],
        later: Vec::new(),
        // A newer version of the synthetic event: its domain deleted, its
        // URL's `to_ids` off; the manifest lists the new timestamp and digest.
        retract: Some(Retract {
            routes: Box::new(|routes| {
                let timestamp = "1736100000";
                edit_json(&mut routes[2].body, |doc| {
                    doc["Event"]["timestamp"] = timestamp.into();
                    for a in doc["Event"]["Attribute"].as_array_mut().unwrap() {
                        match a["type"].as_str().unwrap() {
                            "domain" => a["deleted"] = true.into(),
                            "url" => a["to_ids"] = false.into(),
                            _ => continue,
                        }
                        a["timestamp"] = timestamp.into();
                    }
                });
                let event = routes[2].body.clone();
                manifest_entry(&mut routes[0].body, FEED_EVENT, timestamp, &event);
            }),
            retired: vec![
                (
                    T::Domain,
                    "loader.example.net".to_owned(),
                    RetractReason::Deleted,
                ),
                (
                    T::Url,
                    "https://loader.example.net/p/stage2".to_owned(),
                    RetractReason::FalsePositive,
                ),
            ],
        }),
    }
}

const TAXII_MEDIA: &str = "application/taxii+json;version=2.1";

/// `taxii`: discovery → API root's collections → the collection's objects,
/// two pages joined by `next`.
fn taxii(base: &str) -> Kind {
    let res = |name: &str| {
        rebased(
            &format!("taxii/responses/{name}"),
            "http://127.0.0.1:0",
            base,
        )
    };
    Kind {
        table: format!(
            "kind = \"taxii\"\nurl = \"{base}/taxii2/\"\ncollection = \"High-confidence indicators\"\npage_size = 6"
        ),
        // Most specific first: an objects URL contains its collections URL.
        routes: vec![
            route("next=", TAXII_MEDIA, res("objects-page2.json"))
                .with_headers("X-TAXII-Date-Added-Last: 2025-01-02T12:00:11.001221Z\r\n"),
            // Also the first page after `added_after`: this server does not
            // filter, so a later run reads both pages again, unchanged.
            route("/objects/", TAXII_MEDIA, res("objects-page1.json"))
                .with_headers("X-TAXII-Date-Added-Last: 2025-01-02T12:00:05.000555Z\r\n"),
            route("/api1/collections/", TAXII_MEDIA, res("collections.json")),
            route("/taxii2/", TAXII_MEDIA, res("discovery.json")),
        ],
        // Every object of both pages but the revoked indicator.
        records: 12,
        rejected: 0,
        indicators: owned(&[
            (T::Ipv4, "192.0.2.10"),
            (T::Domain, "c2.malicious.example"),
            (
                T::Sha256,
                "cc7d152477763001037b08490031749b6fc500932089bcc58f4128c0e05484d9",
            ),
        ]),
        items: Vec::new(),
        // One more indicator object on the last page: an item (by its STIX
        // id) with its sighting.
        grow: Box::new(|routes, n| {
            let ip = format!("198.18.{n}.3");
            let id = format!("indicator--e4000000-0000-4000-8000-{n:012}");
            edit_json(&mut routes[0].body, |doc| {
                doc["objects"]
                    .as_array_mut()
                    .unwrap()
                    .push(serde_json::json!({
                        "type": "indicator",
                        "spec_version": "2.1",
                        "id": id,
                        "created": "2025-01-05T00:00:00.000Z",
                        "modified": "2025-01-05T00:00:00.000Z",
                        "name": format!("Extra {n}"),
                        "pattern": format!("[ipv4-addr:value = '{ip}']"),
                        "pattern_type": "stix",
                        "valid_from": "2025-01-05T00:00:00Z",
                    }));
            });
            Added::Item(id)
        }),
        credential: "Authorization",
        skip: vec![
            (
                Behaviour::NotModified,
                "TAXII sends no validators: a run asks for objects `added_after` the last one, and an unchanged collection answers them as unchanged (second_run_adds_nothing)",
            ),
            (Behaviour::SnapshotShrink, NOT_SNAPSHOT),
        ],
        later: Vec::new(),
        // The 192.0.2.10 indicator re-served revoked, with a newer `modified`.
        retract: Some(Retract {
            routes: Box::new(|routes| {
                edit_json(&mut routes[1].body, |doc| {
                    for o in doc["objects"].as_array_mut().unwrap() {
                        if o["id"] == "indicator--45337cca-dc99-5084-8c3f-5a97b3b855a2" {
                            o["revoked"] = true.into();
                            o["modified"] = "2025-01-06T00:00:00.000Z".into();
                        }
                    }
                });
            }),
            retired: vec![(T::Ipv4, "192.0.2.10".to_owned(), RetractReason::Revoked)],
        }),
    }
}

/// ThreatConnect's one group (its associated indicator is none of the
/// listed ones, so a retraction is not undone by the group re-reporting it).
const TC_GROUPS: &str = r#"{"status":"Success","data":[
    {"id":55,"type":"Incident","name":"Phish wave","ownerName":"Example Org",
     "dateAdded":"2025-01-02T00:00:00Z","lastModified":"2025-01-03T00:00:00Z",
     "tags":{"data":[{"name":"phishing"}]},
     "associatedIndicators":{"data":[{"id":901,"type":"Host","hostName":"wave.phish.example","rating":4,"confidence":90}]}}]}"#;

/// `threatconnect`: three indicator pages joined by `next`, the groups, and
/// (from the second run on) the deleted indicators; a `TC-Token` header.
fn threatconnect(base: &str) -> Kind {
    let page = |n: u8| {
        rebased(
            &format!("threatconnect/indicators-page{n}.json"),
            "https://app.threatconnect.example",
            base,
        )
    };
    Kind {
        table: format!("kind = \"threatconnect\"\nurl = \"{base}/api\"\npage_size = 3"),
        routes: vec![
            route("resultStart=6", JSON, page(3)),
            route("resultStart=3", JSON, page(2)),
            route("/v3/indicators?", JSON, page(1)),
            route("/v3/groups?", JSON, TC_GROUPS.as_bytes().to_vec()),
        ],
        // Eight indicators on three pages, and the group with its one.
        records: 10,
        rejected: 0,
        indicators: owned(&[
            (T::Ipv4, "192.0.2.44"),
            (T::Domain, "login.phish.example"),
            (T::Email, "invoice@phish.example.com"),
            (T::Cidr, "198.51.100.0/24"),
        ]),
        items: vec!["threatconnect:group:55".to_owned()],
        // One more indicator on the last page.
        grow: Box::new(|routes, n| {
            let ip = format!("198.18.{n}.4");
            edit_json(&mut routes[0].body, |doc| {
                doc["data"].as_array_mut().unwrap().push(serde_json::json!({
                    "id": 9100 + n,
                    "type": "Address",
                    "ip": ip,
                    "ownerName": "Example Org",
                    "dateAdded": "2025-01-05T00:00:00Z",
                    "lastModified": "2025-01-05T00:00:00Z",
                    "rating": 3,
                    "confidence": 80,
                    "active": true,
                }));
            });
            Added::Indicator(T::Ipv4, ip)
        }),
        credential: "Authorization",
        skip: vec![
            (
                Behaviour::NotModified,
                "ThreatConnect sends no validators: a run asks for what was modified since the last one (TQL), and an unchanged answer stores nothing new (second_run_adds_nothing)",
            ),
            (Behaviour::SnapshotShrink, NOT_SNAPSHOT),
        ],
        later: vec![route(
            "/v3/indicators/deleted?",
            JSON,
            fixture_bytes("threatconnect/indicators-empty.json"),
        )],
        // Page 1 again, newer: 192.0.2.44 inactive, login.phish.example a
        // false positive; and invoice@phish.example.com deleted.
        retract: Some(Retract {
            routes: Box::new(|routes| {
                let mut deleted = None;
                edit_json(&mut routes[1].body, |doc| {
                    deleted = doc["data"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|i| i["type"] == "EmailAddress")
                        .cloned();
                });
                edit_json(&mut routes[2].body, |doc| {
                    for i in doc["data"].as_array_mut().unwrap() {
                        match i["type"].as_str().unwrap() {
                            "Address" => i["active"] = false.into(),
                            "Host" => i["falsePositiveFlag"] = true.into(),
                            _ => continue,
                        }
                        i["lastModified"] = "2025-01-06T00:00:00Z".into();
                    }
                });
                routes[4].body = serde_json::to_vec(&serde_json::json!({
                    "status": "Success",
                    "data": [deleted.unwrap()],
                }))
                .unwrap();
            }),
            retired: vec![
                (T::Ipv4, "192.0.2.44".to_owned(), RetractReason::Inactive),
                (
                    T::Domain,
                    "login.phish.example".to_owned(),
                    RetractReason::FalsePositive,
                ),
                (
                    T::Email,
                    "invoice@phish.example.com".to_owned(),
                    RetractReason::Deleted,
                ),
            ],
        }),
    }
}

/// Why a kind whose upstream has no way to withdraw skips the retraction.
const NO_WITHDRAWAL: &str = "the upstream has no way to withdraw what it published: a record is updated or ages out, never retracted";

/// `xforce`: public and shared case files, then two vulnerability pages
/// joined by `bookmark`.
fn xforce(base: &str) -> Kind {
    Kind {
        table: format!("kind = \"xforce\"\nurl = \"{base}\""),
        routes: vec![
            route(
                "/casefiles/public",
                JSON,
                fixture_bytes("xforce/casefiles-public.json"),
            ),
            route("/casefiles/shared", JSON, br#"{"casefiles":[]}"#.to_vec()),
            route(
                "bookmark=",
                JSON,
                fixture_bytes("xforce/vulnerabilities-fulltext-page2.json"),
            ),
            route(
                "/vulnerabilities/fulltext",
                JSON,
                fixture_bytes("xforce/vulnerabilities-fulltext-page1.json"),
            ),
        ],
        records: 5,
        rejected: 0,
        indicators: owned(&[(T::Cve, "CVE-2025-0003")]),
        items: vec![
            "xforce:casefile:ed1d18bbd84f841057d464384238b857".to_owned(),
            "xforce:casefile:4d8d85ebeba61a998ede57dac56119f8".to_owned(),
            "xforce:vuln:300001".to_owned(),
            "xforce:vuln:300003".to_owned(),
        ],
        // One more public case file.
        grow: Box::new(|routes, n| {
            let id = format!("e5{n:030x}");
            edit_json(&mut routes[0].body, |doc| {
                doc["casefiles"]
                    .as_array_mut()
                    .unwrap()
                    .push(serde_json::json!({
                        "caseFileID": id,
                        "title": format!("Extra case file {n}"),
                        "created": "2025-01-05T00:00:00.000Z",
                        "updated": "2025-01-05T00:00:00.000Z",
                        "owner": {"name": "Example Researcher"},
                        "tags": [],
                        "contents": {"plainText": format!("Seen 198.18.{n}.5.")},
                        "group": {"type": "public"},
                    }));
            });
            Added::Item(format!("xforce:casefile:{id}"))
        }),
        credential: "Authorization",
        skip: vec![
            (
                Behaviour::NotModified,
                "X-Force sends no validators: case files are read whole and stored unchanged when they are, vulnerabilities by date window (second_run_adds_nothing)",
            ),
            (Behaviour::SnapshotShrink, NOT_SNAPSHOT),
            (Behaviour::Retraction, NO_WITHDRAWAL),
        ],
        later: Vec::new(),
        retract: None,
    }
}

/// `nvd`: one `lastMod` window, two pages of one CVE (`page_size = 1`);
/// the `apiKey` header keeps spacing at 0.6 s.
fn nvd(base: &str) -> Kind {
    Kind {
        table: format!("kind = \"nvd\"\nurl = \"{base}/rest/json/cves/2.0\"\npage_size = 1"),
        routes: vec![
            route(
                "startIndex=1",
                JSON,
                fixture_bytes("nvd/cves-2.0-page1.json"),
            ),
            route(
                "/rest/json/cves/2.0?",
                JSON,
                fixture_bytes("nvd/cves-2.0-page0.json"),
            ),
        ],
        records: 2,
        rejected: 0,
        indicators: owned(&[(T::Cve, "CVE-2021-44228")]),
        items: vec!["CVE-2021-44228".to_owned()],
        // One more CVE on the last page (its `startIndex` + `resultsPerPage`
        // still reaches `totalResults`, so paging ends there).
        grow: Box::new(|routes, n| {
            let cve = format!("CVE-2099-{}", 20_000 + n);
            edit_json(&mut routes[0].body, |doc| {
                let list = doc["vulnerabilities"].as_array_mut().unwrap();
                let mut extra = list[0].clone();
                extra["cve"]["id"] = cve.clone().into();
                list.push(extra);
            });
            Added::Item(cve)
        }),
        credential: "apiKey",
        skip: vec![
            (
                Behaviour::NotModified,
                "NVD's API sends no validators: a run asks for the window since the last one (second_run_adds_nothing)",
            ),
            (Behaviour::SnapshotShrink, NOT_SNAPSHOT),
            (Behaviour::Retraction, NO_WITHDRAWAL),
        ],
        later: Vec::new(),
        retract: None,
    }
}

/// `jvn`: MyJVN `getVulnOverviewList`, two pages by `startItem`
/// (`page_size = 2`).
fn jvn(base: &str) -> Kind {
    Kind {
        table: format!("kind = \"jvn\"\nurl = \"{base}/myjvn\"\npage_size = 2"),
        routes: vec![
            route(
                "startItem=3",
                "application/xml",
                fixture_bytes("news/myjvn/getVulnOverviewList-page2.xml"),
            ),
            route(
                "/myjvn?",
                "application/xml",
                fixture_bytes("news/myjvn/getVulnOverviewList-page1.xml"),
            ),
        ],
        records: 3,
        rejected: 0,
        indicators: owned(&[(T::Cve, "CVE-2021-44228")]),
        items: vec![
            "JVNDB-2025-000001".to_owned(),
            "JVNDB-2025-000003".to_owned(),
        ],
        // One more item on the last page (its status still says paging ends).
        grow: Box::new(|routes, n| {
            let id = format!("JVNDB-2099-{:06}", 100 + n);
            let url = format!("https://jvndb.jvn.jp/ja/contents/2099/{id}.html");
            insert_before(
                &mut routes[0].body,
                "<status:Status",
                &format!(
                    "<item rdf:about=\"{url}\">\n<title>追加の脆弱性 {n}</title>\n<link>{url}</link>\n<description>追加。</description>\n<sec:identifier>{id}</sec:identifier>\n<dc:date>2025-01-05T10:00+09:00</dc:date>\n<dcterms:issued>2025-01-05T10:00+09:00</dcterms:issued>\n<dcterms:modified>2025-01-05T10:00+09:00</dcterms:modified>\n</item>\n"
                ),
            );
            Added::Item(id)
        }),
        credential: "Authorization",
        skip: vec![
            (
                Behaviour::NotModified,
                "MyJVN sends no validators: a run asks for what was published since the last one (second_run_adds_nothing)",
            ),
            (Behaviour::SnapshotShrink, NOT_SNAPSHOT),
            (Behaviour::Retraction, NO_WITHDRAWAL),
        ],
        later: Vec::new(),
        retract: None,
    }
}

/// A social search or timeline: one route per page, posts as items.
fn posts(
    table: String,
    routes: Vec<Route>,
    items: Vec<String>,
    indicators: &[(IndicatorType, &str)],
    grow: Grow,
    what: &'static str,
) -> Kind {
    Kind {
        table,
        routes,
        records: items.len() as u64,
        rejected: 0,
        indicators: owned(indicators),
        items,
        grow,
        credential: "Authorization",
        skip: vec![
            (Behaviour::NotModified, what),
            (Behaviour::SnapshotShrink, NOT_SNAPSHOT),
            (
                Behaviour::Retraction,
                "a deleted post is not announced to a search or timeline reader: posts are never retracted",
            ),
        ],
        later: Vec::new(),
        retract: None,
    }
}

/// `mastodon`: a hashtag timeline; a first run takes the newest page only.
fn mastodon(base: &str) -> Kind {
    posts(
        format!("kind = \"mastodon\"\nurl = \"{base}/api/v1/timelines/tag/ioc\""),
        vec![route(
            "/api/v1/timelines/tag/ioc",
            JSON,
            fixture_bytes("mastodon/timelines-tag-ioc-page1.json"),
        )],
        // A post's key is its `url` (one post, reblogged or not, is one item).
        serde_json::from_slice::<serde_json::Value>(&fixture_bytes(
            "mastodon/timelines-tag-ioc-page1.json",
        ))
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("mastodon:{}", p["url"].as_str().unwrap()))
        .collect(),
        &[(
            T::Sha256,
            "cc7d152477763001037b08490031749b6fc500932089bcc58f4128c0e05484d9",
        )],
        // One newer post at the top of the timeline.
        Box::new(|routes, n| {
            let id = format!("1138000000000001{n:02}");
            edit_json(&mut routes[0].body, |doc| {
                let list = doc.as_array_mut().unwrap();
                let mut post = list[0].clone();
                post["id"] = id.clone().into();
                post["uri"] =
                    format!("https://mastodon.example/users/ioc_bot_ex/statuses/{id}").into();
                post["url"] = format!("https://mastodon.example/@ioc_bot_ex/{id}").into();
                post["created_at"] = "2025-01-05T00:00:00.000Z".into();
                post["content"] = format!("<p>Extra #ioc {n}: 198.18.{n}.6</p>").into();
                list.insert(0, post);
            });
            Added::Item(format!(
                "mastodon:https://mastodon.example/@ioc_bot_ex/{id}"
            ))
        }),
        "Mastodon timelines send no validators: a run asks for posts newer than the last one (`min_id`) (second_run_adds_nothing)",
    )
}

/// `bluesky`: `searchPosts`, two pages joined by `cursor`.
fn bluesky(base: &str) -> Kind {
    posts(
        format!("kind = \"bluesky\"\nurl = \"{base}\"\nquery = \"#ioc OR c2\""),
        vec![
            route(
                "&cursor=2",
                JSON,
                repo_fixture("bluesky/searchposts-page2.json"),
            ),
            route(
                "/xrpc/app.bsky.feed.searchPosts?",
                JSON,
                repo_fixture("bluesky/searchposts-page1.json"),
            ),
        ],
        [
            "q6gjnaw2blty4crticxkmujt/app.bsky.feed.post/3lfq4za7rnk2u",
            "q6gjnaw2blty4crticxkmujt/app.bsky.feed.post/3lfq7xk2mas2c",
            "vx3ugr4tmc2kjqzbfw5ynsde/app.bsky.feed.post/3lfq6pb4wuc2k",
            "wk2hd7lpxq5bmunr3ozfcy6e/app.bsky.feed.post/3lfq3ka6yxs2m",
        ]
        .iter()
        .map(|p| format!("bluesky:at://did:plc:{p}"))
        .collect(),
        &[
            (T::Ipv4, "192.0.2.51"),
            (T::Md5, "7e9a1c3b5d7f9e1a3c5b7d9f1e3a5c7b"),
        ],
        // One newer post on page 1.
        Box::new(|routes, n| {
            let uri =
                format!("at://did:plc:q6gjnaw2blty4crticxkmujt/app.bsky.feed.post/3extra{n:04}");
            edit_json(&mut routes[1].body, |doc| {
                let list = doc["posts"].as_array_mut().unwrap();
                let mut post = list[0].clone();
                post["uri"] = uri.clone().into();
                post["record"]["createdAt"] = "2025-01-16T00:00:00.000Z".into();
                post["record"]["text"] = format!("#ioc extra {n}: 198.18.{n}.7").into();
                list.insert(0, post);
            });
            Added::Item(format!("bluesky:{uri}"))
        }),
        "Bluesky's search sends no validators: a run asks for posts `since` the newest it stored (second_run_adds_nothing)",
    )
}

/// `x`: recent search, two pages joined by `next_token`.
fn x(base: &str) -> Kind {
    posts(
        format!("kind = \"x\"\nurl = \"{base}\"\nquery = \"#ioc OR c2\""),
        vec![
            route(
                "next_token=b26v89c19zqg8o3fnsfgltxb7ixnrpf7sa0aqzzm2h13h",
                JSON,
                repo_fixture("x/search-recent-page2.json"),
            ),
            route(
                "/2/tweets/search/recent?",
                JSON,
                repo_fixture("x/search-recent-page1.json"),
            ),
        ],
        (1..=4)
            .map(|n| format!("x:187950000000000000{n}"))
            .collect(),
        &[(T::Ipv4, "192.0.2.44"), (T::Ipv4, "192.0.2.77")],
        // One newer post on page 1.
        Box::new(|routes, n| {
            let id = format!("18795000000000001{n:02}");
            edit_json(&mut routes[1].body, |doc| {
                let list = doc["data"].as_array_mut().unwrap();
                let mut post = list[0].clone();
                post["id"] = id.clone().into();
                post["edit_history_tweet_ids"] = serde_json::json!([id]);
                post["created_at"] = "2025-01-16T00:00:00.000Z".into();
                post["text"] = format!("#ioc extra {n}: 198.18.{n}.8").into();
                list.insert(0, post);
                doc["meta"]["newest_id"] = id.clone().into();
            });
            Added::Item(format!("x:{id}"))
        }),
        "X's recent search sends no validators: a run asks for posts after the newest it stored (`since_id`) (second_run_adds_nothing)",
    )
}
