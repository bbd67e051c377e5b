//! An X-Force source against a loopback server serving the shared pages:
//! public case files and the vulnerability feed paged by bookmark, basic
//! auth with the API key and password, 402 recorded as "not entitled".

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::common::{fetcher, json};
use rexist_connectors::source::{ResolvedSource, SourceConfig};
use rexist_core::{IndicatorType, ItemKind, RunOutcome};
use rexist_pipeline::run_source;
use rexist_store::ItemQuery;
use rexist_testkit::{fixture_bytes, response, serve};

const PASSWORD: &str = "xf-password-77";

fn source(base: &str, dir: &tempfile::TempDir) -> ResolvedSource {
    let pass = dir.path().join("xf.pass");
    std::fs::write(&pass, PASSWORD).unwrap();
    let table = format!(
        "name = \"xforce\"\nkind = \"xforce\"\nurl = \"{base}\"\nusername = \"xf-key\"\npassword_file = \"{}\"\n",
        pass.display()
    );
    toml::from_str::<SourceConfig>(&table)
        .unwrap()
        .resolve()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_files_and_vulnerabilities_are_stored_and_paged() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&seen);
    let up = serve(move |path, _, raw| {
        log.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(raw.to_owned());
        if path.starts_with("/casefiles/public") {
            json(fixture_bytes("xforce/casefiles-public.json"))
        } else if path.starts_with("/casefiles/shared") {
            json(r#"{"casefiles":[]}"#)
        } else if path.contains("bookmark=") {
            json(fixture_bytes("xforce/vulnerabilities-fulltext-page2.json"))
        } else {
            json(fixture_bytes("xforce/vulnerabilities-fulltext-page1.json"))
        }
    })
    .await;
    let src = source(&up.base, &dir);
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);
    assert_eq!(
        up.hits(),
        4,
        "public and shared case files, then two vulnerability pages"
    );
    let items = store
        .search_items(&ItemQuery {
            limit: 100,
            ..ItemQuery::default()
        })
        .await
        .unwrap()
        .items;
    assert!(
        items
            .iter()
            .any(|i| i.content.title == "Example Panda activity")
    );
    let vulns = items
        .iter()
        .filter(|i| i.content.kind == ItemKind::Vuln)
        .count();
    assert_eq!(vulns, 3, "total_rows 3 over two pages");
    assert!(
        store
            .indicator(IndicatorType::Cve, "CVE-2025-0003")
            .await
            .unwrap()
            .is_some()
    );
    let requests = seen.lock().unwrap().clone();
    // base64("xf-key:xf-password-77")
    assert!(
        requests
            .iter()
            .all(|r| r.contains("Basic eGYta2V5OnhmLXBhc3N3b3JkLTc3"))
    );
    assert!(
        requests[1].contains("GET /casefiles/shared "),
        "{}",
        requests[1]
    );
    assert!(
        requests[2].contains("/vulnerabilities/fulltext?q=%2A&startDate="),
        "{}",
        requests[2]
    );

    // the next run reads from where this window ended; nothing new
    let again = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(again.counts.new, 0);
    let start = run
        .cursor
        .as_deref()
        .unwrap()
        .split('"')
        .nth(3)
        .unwrap()
        .replace(':', "%3A");
    assert!(
        seen.lock().unwrap()[6].contains(&format!("startDate={start}")),
        "{start}"
    );
    for r in store.list_runs(None, None, 10).await.unwrap() {
        assert!(!format!("{r:?}").contains(PASSWORD));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_without_the_tier_is_not_entitled() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    let up = serve(|_, _, _| {
        (
            response(
                "402 Payment Required",
                "Content-Type: application/json\r\n",
                &fixture_bytes("xforce/error-402.json"),
            ),
            Duration::ZERO,
        )
    })
    .await;
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &source(&up.base, &dir),
    )
    .await
    .unwrap();
    // Each endpoint is tried once (402 is not retried, and one endpoint's
    // refusal no longer stops the others); entitled to none, the run fails.
    assert_eq!(run.outcome, RunOutcome::Failed);
    let error = run.error.as_deref().unwrap();
    for said in [
        "public case files: not entitled (HTTP 402)",
        "shared case files: not entitled (HTTP 402)",
        "HTTP 402 from",
    ] {
        assert!(error.contains(said), "{error}");
    }
    assert_eq!(up.hits(), 3);
    assert_eq!(run.cursor, None);
}

/// An X-Force server whose `refused` endpoint answers 402.
async fn refusing(refused: &'static str) -> rexist_testkit::Upstream {
    serve(move |path, _, _| {
        if path.starts_with(refused) {
            (
                response(
                    "402 Payment Required",
                    "Content-Type: application/json\r\n",
                    &fixture_bytes("xforce/error-402.json"),
                ),
                Duration::ZERO,
            )
        } else if path.starts_with("/casefiles/public") {
            json(fixture_bytes("xforce/casefiles-public.json"))
        } else if path.starts_with("/casefiles/shared") {
            json(r#"{"casefiles":[]}"#)
        } else if path.contains("bookmark=") {
            json(fixture_bytes("xforce/vulnerabilities-fulltext-page2.json"))
        } else {
            json(fixture_bytes("xforce/vulnerabilities-fulltext-page1.json"))
        }
    })
    .await
}

async fn vulns(store: &std::sync::Arc<dyn rexist_store::Store>) -> usize {
    store
        .search_items(&ItemQuery {
            limit: 100,
            ..ItemQuery::default()
        })
        .await
        .unwrap()
        .items
        .iter()
        .filter(|i| i.content.kind == ItemKind::Vuln)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_case_files_not_entitled_are_skipped_and_vulnerabilities_still_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    let up = refusing("/casefiles/shared").await;
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &source(&up.base, &dir),
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);
    assert_eq!(
        run.error.as_deref(),
        Some("shared case files: not entitled (HTTP 402)")
    );
    assert_eq!(
        up.hits(),
        4,
        "public, shared (once), two vulnerability pages"
    );
    assert_eq!(vulns(&store).await, 3);
    assert!(
        run.cursor.as_deref().unwrap().contains("vulns_until"),
        "{:?}",
        run.cursor
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vulnerabilities_not_entitled_keep_their_window() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    let up = refusing("/vulnerabilities").await;
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &source(&up.base, &dir),
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);
    assert_eq!(
        run.error.as_deref(),
        Some("vulnerabilities: not entitled (HTTP 402)")
    );
    assert_eq!(vulns(&store).await, 0);
    // Case files stored; the vulnerability window did not move, so a tier
    // that later includes them reads from where it would have.
    let cursor: serde_json::Value = serde_json::from_str(run.cursor.as_deref().unwrap()).unwrap();
    assert!(cursor["vulns_until"].is_null(), "{cursor}");
}
