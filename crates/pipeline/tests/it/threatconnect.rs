//! A ThreatConnect source against a loopback server serving the shared v3
//! pages: `next` followed to the end and every request signed anew (the
//! signature checked here against the signing string), an incremental
//! second run, failures that keep the cursor, secrets kept out of runs.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::common::{fetcher, json};
use rexist_connectors::source::{ResolvedSource, SourceConfig};
use rexist_core::{IndicatorType, RunOutcome};
use rexist_pipeline::run_source;
use rexist_testkit::{fixture_bytes, response, serve};

const ACCESS_ID: &str = "12345678901234567890";
const SECRET: &str = "tc-secret-key-for-tests";

const GROUPS: &str = r#"{"status":"Success","data":[
    {"id":55,"type":"Incident","name":"Phish wave","ownerName":"Example Org",
     "dateAdded":"2025-01-02T00:00:00Z","lastModified":"2025-01-03T00:00:00Z",
     "tags":{"data":[{"name":"phishing"}]},
     "associatedIndicators":{"data":[{"id":1,"type":"Host","hostName":"login.phish.example","rating":4,"confidence":90}]}}]}"#;

fn source(base: &str, dir: &tempfile::TempDir) -> ResolvedSource {
    let secret = dir.path().join("tc.secret");
    std::fs::write(&secret, SECRET).unwrap();
    let table = format!(
        "name = \"tc\"\nkind = \"threatconnect\"\nurl = \"{base}/api\"\npage_size = 3\nowner = \"Example Org\"\naccess_id = \"{ACCESS_ID}\"\nsecret_file = \"{}\"\n",
        secret.display()
    );
    toml::from_str::<SourceConfig>(&table)
        .unwrap()
        .resolve()
        .unwrap()
}

fn page(name: &str, base: &str) -> Vec<u8> {
    String::from_utf8(fixture_bytes(&format!("threatconnect/{name}")))
        .unwrap()
        .replace("https://app.threatconnect.example", base)
        .into_bytes()
}

fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    raw.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indicators_are_paged_signed_and_pulled_incrementally() {
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
        if path.contains("/v3/indicators/deleted") {
            json(fixture_bytes("threatconnect/indicators-deleted.json"))
        } else if path.contains("/v3/groups") {
            json(GROUPS)
        } else if path.contains("resultStart=6") {
            json(page("indicators-page3.json", &base))
        } else if path.contains("resultStart=3") {
            json(page("indicators-page2.json", &base))
        } else if path.contains("tql=") {
            json(fixture_bytes("threatconnect/indicators-empty.json"))
        } else {
            json(page("indicators-page1.json", &base))
        }
    })
    .await;
    *base.lock().unwrap() = up.base.clone();
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
        "three indicator pages, one group page; a first run has no deletions to read"
    );
    let items = store
        .search_items(&rexist_store::ItemQuery {
            limit: 10,
            ..rexist_store::ItemQuery::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].content.title, "Phish wave");
    assert!(run.counts.new > 0, "{:?}", run.counts);
    let host = store
        .indicator(IndicatorType::Domain, "login.phish.example")
        .await
        .unwrap()
        .expect("the Host indicator is stored");
    let sightings = store.sightings_of(host.id).await.unwrap();
    assert!(!sightings[0].labels.is_empty(), "owner and tags as labels");
    let cursor = run.cursor.clone().unwrap();
    assert!(cursor.contains("last_modified"), "{cursor}");

    let requests_now = requests.lock().unwrap().clone();
    for raw in &requests_now {
        let line = raw.lines().next().unwrap();
        let target = line.split(' ').nth(1).unwrap();
        let ts: i64 = header(raw, "Timestamp").unwrap().parse().unwrap();
        let expected =
            rexist_formats::threatconnect::hmac_authorization(ACCESS_ID, SECRET, target, "GET", ts);
        assert_eq!(
            header(raw, "Authorization"),
            Some(expected.as_str()),
            "{line}"
        );
    }
    let first = requests_now[0].lines().next().unwrap();
    assert!(first.contains("/api/v3/indicators?"), "{first}");
    assert!(first.contains("owner=Example%20Org"), "{first}");
    assert!(
        !first.contains("tql="),
        "a first run takes everything: {first}"
    );

    let again = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(again.outcome, RunOutcome::Success, "{:?}", again.error);
    assert_eq!(again.counts.new, 0);
    let all = requests.lock().unwrap().clone();
    let second = &all[requests_now.len()..];
    assert_eq!(second.len(), 3, "indicators, groups, deleted");
    assert!(
        second[0].contains("tql=lastModified%20%3E%20%22"),
        "{}",
        second[0]
    );
    assert!(
        second[2].starts_with("GET /api/v3/indicators/deleted?deletedSince="),
        "{}",
        second[2]
    );
    for raw in second {
        let target = raw.lines().next().unwrap().split(' ').nth(1).unwrap();
        let ts: i64 = header(raw, "Timestamp").unwrap().parse().unwrap();
        let expected =
            rexist_formats::threatconnect::hmac_authorization(ACCESS_ID, SECRET, target, "GET", ts);
        assert_eq!(header(raw, "Authorization"), Some(expected.as_str()));
    }
    for run in store.list_runs(None, None, 10).await.unwrap() {
        assert!(!format!("{run:?}").contains(SECRET));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_recorded_with_the_upstream_message() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    let up = serve(|_, n, _| match n {
        0 => (
            response(
                "401 Unauthorized",
                "Content-Type: application/json\r\n",
                &fixture_bytes("threatconnect/error-401.json"),
            ),
            Duration::ZERO,
        ),
        _ => json(fixture_bytes("threatconnect/indicators-bad.json")),
    })
    .await;
    let src = source(&up.base, &dir);
    let denied = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(denied.outcome, RunOutcome::Failed);
    assert!(
        denied.error.as_deref().unwrap().contains("401"),
        "{:?}",
        denied.error
    );
    let bad = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(bad.outcome, RunOutcome::Failed);
    assert!(
        bad.error.as_deref().unwrap().contains("page 1"),
        "{:?}",
        bad.error
    );
    assert_eq!(bad.cursor, None);

    // a missing secret is a failed run naming the file, not a panic
    let mut missing = src.clone();
    if let rexist_connectors::source::Params::ThreatConnect(p) = &mut missing.params {
        p.secret_env = None;
        p.secret_file = Some(dir.path().join("nope"));
    }
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &missing,
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Failed);
    assert!(
        run.error.as_deref().unwrap().contains("secret_file"),
        "{:?}",
        run.error
    );
}
