//! The vendor API upstreams (ThreatConnect, NVD) through the engine against
//! a loopback server, their records and retractions caught by a recording
//! sink: what each emits, and where its cursor stands after a run.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use rexist_connectors::engine::{Connector, FeedLoad, Paged, RunContext, RunReport, Sink};
use rexist_connectors::feed::FeedFormat;
use rexist_connectors::http::{FetchOptions, Fetcher};
use rexist_connectors::{nvd, threatconnect};
use rexist_core::{Record, RetractReason, Retraction, RunCounts, RunOutcome};
use rexist_testkit::{Answer, fixture_bytes, response, serve};
use time::OffsetDateTime;

/// Keeps what a run would store.
#[derive(Default)]
struct Recording {
    records: Vec<Record>,
    retractions: Vec<Retraction>,
}

#[async_trait]
impl Sink for Recording {
    async fn store(
        &mut self,
        records: Vec<Record>,
        retractions: Vec<Retraction>,
        counts: &mut RunCounts,
    ) -> Result<(), String> {
        counts.new += records.len() as u64;
        self.records.extend(records);
        self.retractions.extend(retractions);
        Ok(())
    }

    async fn load_feed(
        &mut self,
        _: Box<dyn std::io::Read + Send>,
        _: FeedFormat,
        _: OffsetDateTime,
    ) -> FeedLoad {
        unreachable!("no feed here")
    }

    async fn delist(&mut self, _: OffsetDateTime) -> Result<u64, String> {
        unreachable!("no snapshot here")
    }
}

fn fetcher() -> Fetcher {
    Fetcher::new(FetchOptions {
        timeout: Duration::from_secs(2),
        retries: 0,
        backoff: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(1),
        max_bytes: 1 << 20,
        per_host: 2,
        spool_above: 1 << 20,
    })
    .unwrap()
}

fn json(body: impl AsRef<[u8]>) -> Answer {
    (
        response(
            "200 OK",
            "Content-Type: application/json\r\n",
            body.as_ref(),
        ),
        Duration::ZERO,
    )
}

fn status(line: &str) -> Answer {
    (
        response(line, "Content-Type: application/json\r\n", b"{}"),
        Duration::ZERO,
    )
}

async fn run(
    connector: &dyn Connector,
    headers: &[(String, String)],
    previous: Option<&str>,
) -> (RunReport, Recording) {
    let fetcher = fetcher();
    let ctx = RunContext {
        fetcher: &fetcher,
        headers,
        previous,
        hunt_terms: &[],
    };
    let mut sink = Recording::default();
    let report = connector.run(&ctx, &mut sink).await;
    (report, sink)
}

/// A page with one live, one inactive and one false-positive indicator.
const INDICATORS: &str = r#"{"status":"Success","data":[
    {"id":1,"type":"Address","ip":"192.0.2.10","lastModified":"2025-02-01T00:00:00Z","active":true},
    {"id":2,"type":"Address","ip":"192.0.2.11","lastModified":"2025-02-02T00:00:00Z","active":false},
    {"id":3,"type":"Host","hostName":"fp.example","lastModified":"2025-02-03T00:00:00Z","falsePositiveFlag":true}]}"#;

const PREVIOUS: &str = r#"{"last_modified":"2025-01-01T00:00:00Z"}"#;

fn threatconnect_upstream(
    deleted: fn() -> Answer,
    seen: &Arc<Mutex<Vec<String>>>,
) -> impl Fn(&str, usize, &str) -> Answer + Send + Sync + 'static {
    let seen = Arc::clone(seen);
    move |path: &str, _, _| {
        seen.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(path.to_owned());
        if path.starts_with("/api/v3/indicators/deleted?") {
            deleted()
        } else if path.starts_with("/api/v3/groups?") {
            json(r#"{"status":"Success","data":[]}"#)
        } else {
            json(INDICATORS)
        }
    }
}

fn tc(base: &str) -> Paged<threatconnect::ThreatConnect> {
    Paged(threatconnect::ThreatConnect::new(
        format!("{base}/api"),
        100,
        None,
        None,
    ))
}

#[tokio::test]
async fn threatconnect_inactive_false_positive_and_deleted_are_retractions() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let up = serve(threatconnect_upstream(
        || json(fixture_bytes("threatconnect/indicators-deleted.json")),
        &seen,
    ))
    .await;
    let (report, sink) = run(&tc(&up.base), &[], Some(PREVIOUS)).await;
    assert_eq!(report.outcome, RunOutcome::Success, "{:?}", report.error);

    let paths = seen.lock().unwrap().clone();
    let order: Vec<&str> = paths.iter().map(|p| p.split('?').next().unwrap()).collect();
    assert_eq!(
        order,
        [
            "/api/v3/indicators",
            "/api/v3/groups",
            "/api/v3/indicators/deleted"
        ]
    );
    assert!(
        paths[2].contains("deletedSince=2025-01-01T00%3A00%3A00Z"),
        "the same window as the other listings: {}",
        paths[2]
    );

    assert_eq!(
        sink.records.len(),
        1,
        "only the live indicator is a sighting"
    );
    let retracted: Vec<(String, RetractReason)> = sink
        .retractions
        .iter()
        .map(|r| (r.indicator.value().to_owned(), r.reason))
        .collect();
    assert_eq!(
        retracted,
        [
            ("192.0.2.11".to_owned(), RetractReason::Inactive),
            ("fp.example".to_owned(), RetractReason::FalsePositive),
            ("192.0.2.45".to_owned(), RetractReason::Deleted),
        ]
    );
    assert_eq!(
        sink.retractions[2].at,
        time::macros::datetime!(2025-01-02 09:00 UTC),
        "the upstream's deletedDate"
    );
    let cursor: serde_json::Value =
        serde_json::from_str(report.cursor.as_deref().unwrap()).unwrap();
    assert_eq!(cursor["last_modified"], "2025-02-03T00:00:00Z");
}

#[tokio::test]
async fn threatconnect_cursor_moves_only_when_all_three_listings_are_read() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let up = serve(threatconnect_upstream(
        || status("500 Internal Server Error"),
        &seen,
    ))
    .await;
    let (report, sink) = run(&tc(&up.base), &[], Some(PREVIOUS)).await;
    assert_eq!(report.outcome, RunOutcome::Partial, "{:?}", report.error);
    assert_eq!(report.cursor.as_deref(), Some(PREVIOUS));
    assert_eq!(sink.records.len(), 1, "what was read is kept");
    assert!(report.error.unwrap().contains("HTTP 500"));
}

#[tokio::test]
async fn threatconnect_first_run_reads_no_deletions() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let up = serve(threatconnect_upstream(
        || status("500 Internal Server Error"),
        &seen,
    ))
    .await;
    let (report, _) = run(&tc(&up.base), &[], None).await;
    assert_eq!(report.outcome, RunOutcome::Success, "{:?}", report.error);
    assert_eq!(seen.lock().unwrap().len(), 2, "indicators and groups only");
    assert!(!seen.lock().unwrap()[0].contains("tql="));
}

#[tokio::test]
async fn nvd_windows_are_checkpointed_at_their_end() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&seen);
    let up = serve(move |path, n, _| {
        log.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(path.to_owned());
        // The first window answers; the second fails on its first page.
        if n == 0 {
            json(fixture_bytes("nvd/cves-2.0-both.json"))
        } else {
            status("503 Service Unavailable")
        }
    })
    .await;
    let nvd = Paged(nvd::Nvd {
        url: format!("{}/rest/json/cves/2.0", up.base),
        page_size: 2000,
    });
    let previous = r#"{"last_mod":"2000-01-01T00:00:00Z"}"#;
    let key = [("apiKey".to_owned(), "k".to_owned())];
    let (report, sink) = run(&nvd, &key, Some(previous)).await;
    assert_eq!(report.outcome, RunOutcome::Partial, "{:?}", report.error);
    assert_eq!(sink.records.len(), 2);
    // The first window was stored whole: the next run starts after it, not
    // at the old cursor.
    let cursor: serde_json::Value =
        serde_json::from_str(report.cursor.as_deref().unwrap()).unwrap();
    assert_eq!(cursor["last_mod"], "2000-04-30T00:00:00Z", "120 days on");
    let paths = seen.lock().unwrap().clone();
    assert_eq!(paths.len(), 2);
    assert!(
        paths[0].contains("lastModStartDate=2000-01-01T00:00:00.000%2B00:00")
            && paths[0].contains("lastModEndDate=2000-04-30T00:00:00.000%2B00:00"),
        "{}",
        paths[0]
    );
    assert!(
        paths[1].contains("lastModStartDate=2000-04-30T00:00:00.000%2B00:00")
            && paths[1].contains("startIndex=0"),
        "{}",
        paths[1]
    );
}
