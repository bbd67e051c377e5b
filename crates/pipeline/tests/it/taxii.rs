//! A TAXII 2.1 source against a loopback server serving the shared TAXII
//! responses: discovery → API root → collection by title, objects paged with
//! `next`, the `X-TAXII-Date-Added-Last` cursor sent back as `added_after`,
//! the TAXII media type and basic auth on every request.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::common::fetcher;
use rexist_connectors::source::{ResolvedSource, SourceConfig};
use rexist_core::RunOutcome;
use rexist_pipeline::run_source;
use rexist_store::ItemQuery;
use rexist_testkit::{Answer, fixture_bytes, response, serve};

const PASSWORD: &str = "taxii-pass-31c";

fn taxii(name: &str, base: &str, extra_headers: &str) -> Answer {
    let body = String::from_utf8(fixture_bytes(&format!("taxii/responses/{name}")))
        .unwrap()
        .replace("http://127.0.0.1:0", base);
    (
        response(
            "200 OK",
            &format!("Content-Type: application/taxii+json;version=2.1\r\n{extra_headers}"),
            body.as_bytes(),
        ),
        Duration::ZERO,
    )
}

fn source(base: &str, collection: &str, dir: &tempfile::TempDir) -> ResolvedSource {
    source_with(base, collection, dir, "")
}

fn source_with(
    base: &str,
    collection: &str,
    dir: &tempfile::TempDir,
    extra: &str,
) -> ResolvedSource {
    let pass = dir.path().join("taxii.pass");
    std::fs::write(&pass, PASSWORD).unwrap();
    let table = format!(
        "name = \"partner-taxii\"\nkind = \"taxii\"\nurl = \"{base}/taxii2/\"\ncollection = \"{collection}\"\nusername = \"rexist\"\npassword_file = \"{}\"\npage_size = 5\n{extra}",
        pass.display()
    );
    toml::from_str::<SourceConfig>(&table)
        .unwrap()
        .resolve()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collection_is_pulled_through_paging_and_then_incrementally() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    let requests: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&requests);
    let base: Arc<Mutex<String>> = Arc::default();
    let b = Arc::clone(&base);
    let up = serve(move |path, _, raw| {
        log.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(raw.to_owned());
        let base = b.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let last = |v: &str| format!("X-TAXII-Date-Added-Last: {v}\r\n");
        if path.starts_with("/taxii2/") {
            taxii("discovery.json", &base, "")
        } else if path.ends_with("/collections/") {
            taxii("collections.json", &base, "")
        } else if path.contains("added_after=") {
            taxii("objects-empty.json", &base, "")
        } else if path.contains("next=") {
            taxii(
                "objects-page2.json",
                &base,
                &last("2025-01-02T12:00:11.001221Z"),
            )
        } else if path.contains("/objects/") {
            taxii(
                "objects-page1.json",
                &base,
                &last("2025-01-02T12:00:05.000555Z"),
            )
        } else {
            taxii("api-root.json", &base, "")
        }
    })
    .await;
    *base.lock().unwrap() = up.base.clone();
    let src = source(&up.base, "High-confidence indicators", &dir);

    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);
    assert!(run.counts.new > 0, "{:?}", run.counts);
    assert!(
        run.cursor
            .as_deref()
            .unwrap()
            .contains("2025-01-02T12:00:11.001221Z")
    );
    let items = store
        .search_items(&ItemQuery {
            limit: 100,
            ..ItemQuery::default()
        })
        .await
        .unwrap()
        .items;
    assert!(!items.is_empty(), "STIX objects become items");

    let seen = requests.lock().unwrap().clone();
    let lines: Vec<&str> = seen.iter().map(|r| r.lines().next().unwrap()).collect();
    assert!(lines[0].starts_with("GET /taxii2/ "), "{lines:?}");
    assert!(lines[1].contains("/api1/collections/"), "{lines:?}");
    assert!(
        lines[2].contains("/collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116/objects/?limit=5"),
        "{lines:?}"
    );
    assert!(
        lines[3].contains("next=c0ffee00-0000-4000-8000-000000000001"),
        "{lines:?}"
    );
    let basic = "Basic cmV4aXN0OnRheGlpLXBhc3MtMzFj"; // base64("rexist:taxii-pass-31c")
    for raw in &seen {
        let lower = raw.to_ascii_lowercase();
        assert!(
            lower.contains("accept: application/taxii+json;version=2.1"),
            "{raw}"
        );
        assert!(raw.contains(basic), "{raw}");
    }

    let again = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!((again.outcome, again.counts.new), (RunOutcome::Success, 0));
    let last = requests.lock().unwrap().last().unwrap().clone();
    assert!(
        last.contains("added_after=2025-01-02T12%3A00%3A11.001221Z"),
        "{last}"
    );
    for run in store.list_runs(None, None, 10).await.unwrap() {
        assert!(!format!("{run:?}").contains(PASSWORD));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_collections_and_bad_pages_are_clear_failures() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    let base: Arc<Mutex<String>> = Arc::default();
    let b = Arc::clone(&base);
    let up = serve(move |path, _, _| {
        let base = b.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if path.starts_with("/taxii2/") {
            taxii("discovery.json", &base, "")
        } else if path.ends_with("/collections/") {
            taxii("collections.json", &base, "")
        } else {
            taxii("objects-bad.json", &base, "")
        }
    })
    .await;
    *base.lock().unwrap() = up.base.clone();
    let missing = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &source(&up.base, "nope", &dir),
    )
    .await
    .unwrap();
    assert_eq!(missing.outcome, RunOutcome::Failed);
    let reason = missing.error.unwrap();
    assert!(
        reason.contains("no collection \"nope\"") && reason.contains("High-confidence indicators"),
        "{reason}"
    );
    let unreadable = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &source(&up.base, "Write-only drop box", &dir),
    )
    .await
    .unwrap();
    assert!(unreadable.error.unwrap().contains("cannot be read"));
    let bad = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &source(&up.base, "91a7b528-80eb-42ed-a74d-c6fbd5a26116", &dir),
    )
    .await
    .unwrap();
    assert_eq!(bad.outcome, RunOutcome::Failed);
    // The run contract checks every answer before it is parsed: the cut
    // envelope is named as truncated, at the request that fetched it
    // (discovery and collections come first).
    let reason = bad.error.unwrap();
    assert!(
        reason.contains("page 3") && reason.contains("/objects/") && reason.contains("truncated"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_types_are_asked_for_with_match_type() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    let requests: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&requests);
    let base: Arc<Mutex<String>> = Arc::default();
    let b = Arc::clone(&base);
    let up = serve(move |path, _, _| {
        log.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(path.to_owned());
        let base = b.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if path.starts_with("/taxii2/") {
            taxii("discovery.json", &base, "")
        } else if path.ends_with("/collections/") {
            taxii("collections.json", &base, "")
        } else {
            taxii("objects-empty.json", &base, "")
        }
    })
    .await;
    *base.lock().unwrap() = up.base.clone();
    let src = source_with(
        &up.base,
        "High-confidence indicators",
        &dir,
        "stix_types = [\"indicator\", \"report\"]\n",
    );
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);
    let last = requests.lock().unwrap().last().unwrap().clone();
    assert!(
        last.ends_with("&match%5Btype%5D=indicator%2Creport"),
        "{last}"
    );
}

/// Page 1 of the objects as a later version would serve it: indicator
/// 192.0.2.10 revoked.
fn page1_revoked() -> Answer {
    let mut page: serde_json::Value =
        serde_json::from_slice(&fixture_bytes("taxii/responses/objects-page1.json")).unwrap();
    for o in page["objects"].as_array_mut().unwrap() {
        if o["id"] == "indicator--45337cca-dc99-5084-8c3f-5a97b3b855a2" {
            o["revoked"] = serde_json::Value::Bool(true);
            o["modified"] = serde_json::json!("2025-01-03T08:00:00.000Z");
        }
    }
    page["more"] = serde_json::Value::Bool(false);
    page.as_object_mut().unwrap().remove("next");
    (
        response(
            "200 OK",
            "Content-Type: application/taxii+json;version=2.1\r\nX-TAXII-Date-Added-Last: 2025-01-03T08:00:00.000000Z\r\n",
            page.to_string().as_bytes(),
        ),
        Duration::ZERO,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_indicators_are_retractions_and_each_page_is_a_checkpoint() {
    use rexist_core::RetractReason;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let base: Arc<Mutex<String>> = Arc::default();
    let b = Arc::clone(&base);
    let broken = Arc::new(AtomicBool::new(false));
    let fail = Arc::clone(&broken);
    let up = serve(move |path, _, _| {
        let base = b.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let last = |v: &str| format!("X-TAXII-Date-Added-Last: {v}\r\n");
        if path.starts_with("/taxii2/") {
            taxii("discovery.json", &base, "")
        } else if path.ends_with("/collections/") {
            taxii("collections.json", &base, "")
        } else if path.contains("added_after=") {
            page1_revoked()
        } else if path.contains("next=") && fail.load(Ordering::SeqCst) {
            (
                response("500 Internal Server Error", "", b"{}"),
                Duration::ZERO,
            )
        } else if path.contains("next=") {
            taxii(
                "objects-page2.json",
                &base,
                &last("2025-01-02T12:00:11.001221Z"),
            )
        } else {
            taxii(
                "objects-page1.json",
                &base,
                &last("2025-01-02T12:00:05.000555Z"),
            )
        }
    })
    .await;
    *base.lock().unwrap() = up.base.clone();
    let src = source(&up.base, "High-confidence indicators", &dir);

    // Page 2 holds a revoked indicator and one with valid_until.
    let (first, report) = crate::common::Recorder::run(&src, None).await;
    assert_eq!(report.outcome, RunOutcome::Success, "{:?}", report.error);
    assert_eq!(
        first.withdrawn(),
        [("ipv4:192.0.2.99".to_owned(), RetractReason::Revoked)]
    );
    let sightings = first.sightings();
    assert!(
        !sightings
            .iter()
            .any(|s| s.indicator.to_string() == "ipv4:192.0.2.99"),
        "a revoked indicator is no sighting"
    );
    let expiring = sightings
        .iter()
        .find(|s| s.indicator.to_string() == "domain:old.bad.example.net")
        .unwrap();
    assert_eq!(
        expiring
            .valid_until
            .map(time::OffsetDateTime::unix_timestamp),
        Some(1_751_241_600),
        "valid_until 2025-06-30T00:00:00Z"
    );
    let cursor = report.cursor.unwrap();
    assert!(cursor.contains("2025-01-02T12:00:11.001221Z"), "{cursor}");

    // A later version revokes an indicator reported before.
    let (later, report) = crate::common::Recorder::run(&src, Some(&cursor)).await;
    assert_eq!(report.outcome, RunOutcome::Success, "{:?}", report.error);
    assert_eq!(
        later.withdrawn(),
        [("ipv4:192.0.2.10".to_owned(), RetractReason::Revoked)]
    );
    assert!(
        report
            .cursor
            .unwrap()
            .contains("2025-01-03T08:00:00.000000Z")
    );

    // Page 2 fails: page 1 is stored and its added_after kept.
    broken.store(true, Ordering::SeqCst);
    let (_, report) = crate::common::Recorder::run(&src, None).await;
    assert_eq!(report.outcome, RunOutcome::Partial, "{:?}", report.error);
    let kept = report.cursor.unwrap();
    assert!(kept.contains("2025-01-02T12:00:05.000555Z"), "{kept}");
}
