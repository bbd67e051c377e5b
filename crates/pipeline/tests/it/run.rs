//! Runs of a source against a loopback upstream serving the shared fixtures:
//! a first run stores the feed, an identical second run stores nothing new
//! (304), a changed feed stores exactly the difference and unlists what left
//! a snapshot, and every failure is a recorded run with a clear reason that
//! keeps the cursor and loses nothing.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rexist_connectors::http::{FetchOptions, Fetcher};
use rexist_connectors::source::{ResolvedSource, SourceConfig, catalogue};
use rexist_core::{IndicatorType, RunOutcome};
use rexist_pipeline::run_source;
use rexist_store::Store;
use rexist_store::sqlite::SqliteStore;
use rexist_testkit::{fixture_bytes, response, serve};

async fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("rexist.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (Arc::new(store), dir)
}

fn fetcher() -> Fetcher {
    Fetcher::new(FetchOptions {
        timeout: Duration::from_secs(2),
        retries: 1,
        backoff: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(1),
        max_bytes: 1 << 20,
        per_host: 2,
        // Tiny, so every run here also parses from a spooled file.
        spool_above: 64,
    })
    .unwrap()
}

fn mirror(kind: &str, url: String) -> ResolvedSource {
    let mut config = SourceConfig::from_catalogue(catalogue(kind).unwrap());
    config.url = Some(url);
    config.resolve().unwrap()
}

/// Data rows of the Feodo fixture (its header line is not commented).
fn feodo_rows() -> Vec<String> {
    String::from_utf8(fixture_bytes("abusech/feodo/ipblocklist.csv"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn first_run_then_not_modified_then_exactly_the_difference() {
    let rows = feodo_rows();
    let header = rows[0].clone();
    let data: Vec<String> = rows[1..].to_vec();
    assert!(data.len() >= 3, "fixture has rows to drop and keep");
    let version = Arc::new(AtomicUsize::new(1));
    let v = Arc::clone(&version);
    let (first, data_v2) = (data.clone(), {
        let mut d = data[1..].to_vec();
        d.push("\"2025-01-03 09:00:00\",\"198.51.100.250\",\"443\",\"online\",\"2025-01-03\",\"Emotet\"".to_owned());
        d
    });
    let upstream = serve(move |_, _, request| {
        let version = v.load(Ordering::SeqCst);
        let etag = format!("\"v{version}\"");
        if request
            .to_ascii_lowercase()
            .contains(&format!("if-none-match: {}", etag.to_ascii_lowercase()))
        {
            return (response("304 Not Modified", "", b""), Duration::ZERO);
        }
        let body = if version == 1 { &first } else { &data_v2 };
        let text = format!("{header}\n{}\n", body.join("\n"));
        (
            response("200 OK", &format!("ETag: {etag}\r\n"), text.as_bytes()),
            Duration::ZERO,
        )
    })
    .await;
    let (store, _dir) = store().await;
    let source = mirror(
        "feodo",
        format!("{}/downloads/ipblocklist.csv", upstream.base),
    );
    let fetcher = fetcher();

    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher,
        &source,
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);
    let n = data.len() as u64;
    assert_eq!(
        (run.counts.parsed, run.counts.new, run.counts.rejected),
        (n, n, 0)
    );
    assert!(run.cursor.as_deref().unwrap().contains("v1"));

    let again = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher,
        &source,
    )
    .await
    .unwrap();
    assert_eq!(again.outcome, RunOutcome::NotModified);
    assert_eq!(again.counts.new, 0);

    version.store(2, Ordering::SeqCst);
    let changed = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher,
        &source,
    )
    .await
    .unwrap();
    assert_eq!(changed.outcome, RunOutcome::Success);
    assert_eq!(
        (changed.counts.new, changed.counts.unchanged),
        (1, n - 1),
        "only the difference is new"
    );
    assert_eq!(changed.counts.updated, 1, "the dropped address is unlisted");
    let dropped_ip = data[0].split(',').nth(1).unwrap().trim_matches('"');
    let dropped = store
        .indicator(IndicatorType::Ipv4, dropped_ip)
        .await
        .unwrap()
        .expect("kept, not deleted");
    let sightings = store.sightings_of(dropped.id).await.unwrap();
    assert!(!sightings[0].listed, "no longer listed by feodo");
    assert!(
        store
            .indicator(IndicatorType::Ipv4, "198.51.100.250")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn failures_are_recorded_keep_the_cursor_and_lose_nothing() {
    let mode = Arc::new(AtomicUsize::new(0));
    let m = Arc::clone(&mode);
    let list = fixture_bytes("blocklists/cins/ci-badguys.txt");
    let upstream = serve(move |_, _, _| match m.load(Ordering::SeqCst) {
        0 => (
            response("200 OK", "ETag: \"good\"\r\n", &list),
            Duration::ZERO,
        ),
        1 => (
            response("500 Internal Server Error", "", b"oops"),
            Duration::ZERO,
        ),
        2 => (
            response("429 Too Many Requests", "Retry-After: 7200\r\n", b""),
            Duration::ZERO,
        ),
        3 => (
            b"HTTP/1.1 200 OK\r\nContent-Length: 900\r\nConnection: close\r\n\r\n192.0.2.1\n"
                .to_vec(),
            Duration::ZERO,
        ),
        _ => (response("200 OK", "", &vec![b'1'; 2 << 20]), Duration::ZERO),
    })
    .await;
    let (store, _dir) = store().await;
    let source = mirror("cins", format!("{}/list/ci-badguys.txt", upstream.base));
    let fetcher = fetcher();
    let good = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher,
        &source,
    )
    .await
    .unwrap();
    assert_eq!((good.outcome, good.counts.new), (RunOutcome::Success, 3));

    for (m, needle) in [
        (1, "HTTP 500 from"),
        (2, "rate limited"),
        (3, "truncated or broken response"),
        (4, "exceeds the 1048576-byte limit"),
    ] {
        mode.store(m, Ordering::SeqCst);
        let run = run_source(
            &rexist_pipeline::Ingest::new(store.clone(), None),
            &fetcher,
            &source,
        )
        .await
        .unwrap();
        assert_eq!(run.outcome, RunOutcome::Failed, "mode {m}");
        let error = run.error.clone().unwrap();
        assert!(error.contains(needle), "mode {m}: {error}");
        assert!(
            run.cursor.as_deref().unwrap_or_default().contains("good"),
            "cursor kept"
        );
    }
    let stored = store.source_by_name("cins").await.unwrap().unwrap();
    assert_eq!(stored.health.consecutive_failures, 4);
    assert!(
        store
            .indicator(IndicatorType::Ipv4, "192.0.2.100")
            .await
            .unwrap()
            .is_some(),
        "nothing lost"
    );
    let sightings = store
        .sightings_of(
            store
                .indicator(IndicatorType::Ipv4, "192.0.2.100")
                .await
                .unwrap()
                .unwrap()
                .id,
        )
        .await
        .unwrap();
    assert!(sightings[0].listed, "a failed run unlists nothing");
}

#[tokio::test]
async fn bad_rows_are_counted_and_the_rest_stored() {
    let bad = fixture_bytes("abusech/urlhaus/csv_recent-bad.csv");
    let upstream = serve(move |_, _, _| (response("200 OK", "", &bad), Duration::ZERO)).await;
    let (store, _dir) = store().await;
    let source = mirror(
        "urlhaus",
        format!("{}/downloads/csv_recent/", upstream.base),
    );
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &source,
    )
    .await
    .unwrap();
    // The file is cut short and three of five rows are bad: the good rows
    // are stored, the run says why it is not a success.
    assert_eq!(run.outcome, RunOutcome::Partial);
    assert!(
        run.error.as_deref().unwrap().contains("truncated answer"),
        "{:?}",
        run.error
    );
    assert_eq!((run.counts.new, run.counts.rejected), (2, 3));
    assert_eq!(run.counts.rejected_reasons.get("invalid UTF-8"), Some(&1));
}

#[tokio::test]
async fn credentials_stay_out_of_runs() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("abusech.key");
    std::fs::write(&key_file, "s3cret-auth-key\n").unwrap();
    let upstream = serve(|_, _, request| {
        if request
            .to_ascii_lowercase()
            .contains("auth-key: s3cret-auth-key")
        {
            (
                response("403 Forbidden", "", b"not entitled"),
                Duration::ZERO,
            )
        } else {
            (response("401 Unauthorized", "", b""), Duration::ZERO)
        }
    })
    .await;
    let (store, _store_dir) = store().await;
    let mut config = SourceConfig::from_catalogue(catalogue("threatfox").unwrap());
    config.url = Some(format!(
        "{}/export/csv/recent/?key=s3cret-auth-key",
        upstream.base
    ));
    config.headers_file.insert("Auth-Key".into(), key_file);
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &config.resolve().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Failed);
    let recorded = format!("{run:?}");
    assert!(
        recorded.contains("HTTP 403"),
        "the key was sent: {recorded}"
    );
    assert!(!recorded.contains("s3cret"), "{recorded}");
    let missing = {
        let mut c = config.clone();
        c.headers_file.clear();
        c.headers_env
            .insert("Auth-Key".into(), "REXIST_TEST_UNSET_VARIABLE".into());
        c.resolve().unwrap()
    };
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &missing,
    )
    .await
    .unwrap();
    assert!(
        run.error
            .unwrap()
            .contains("REXIST_TEST_UNSET_VARIABLE is not set")
    );
}

fn generic(kind: &str, name: &str, url: impl std::fmt::Display) -> ResolvedSource {
    toml::from_str::<SourceConfig>(&format!(
        "name = \"{name}\"\nkind = \"{kind}\"\nurl = \"{url}\"\n"
    ))
    .unwrap()
    .resolve()
    .unwrap()
}

#[tokio::test]
async fn news_items_are_stored_searchable_with_their_indicators_linked() {
    let upstream = serve(|path, _, _| {
        let rel = if path.starts_with("/ja") {
            "news/jpcert/jpcert.rdf"
        } else {
            "news/rss2/security-news.xml"
        };
        (response("200 OK", "", &fixture_bytes(rel)), Duration::ZERO)
    })
    .await;
    let (store, _dir) = store().await;
    let news = generic("rss", "example-news", format!("{}/feed/", upstream.base));
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &news,
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);
    assert_eq!((run.counts.parsed, run.counts.new), (4, 4));

    // Defanged indicators in the teaser are mentions of the article, refanged.
    // (`c2.malicious[.]example` is not reported: `.example` is no real TLD.)
    let c2 = store
        .indicator(IndicatorType::Ipv4, "192.0.2.10")
        .await
        .unwrap()
        .expect("extracted");
    let sightings = store.sightings_of(c2.id).await.unwrap();
    let item = store
        .item(sightings[0].item_id.expect("linked to the article"))
        .await
        .unwrap()
        .unwrap();
    assert!(item.content.title.starts_with("Example Panda"));
    let digest = "cc7d152477763001037b08490031749b6fc500932089bcc58f4128c0e05484d9";
    assert!(
        store
            .indicator(IndicatorType::Sha256, digest)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .indicator(IndicatorType::Cve, "CVE-2025-0002")
            .await
            .unwrap()
            .is_some(),
        "from a title"
    );
    assert!(
        store
            .indicator(IndicatorType::Email, "invoice@phish.example.com")
            .await
            .unwrap()
            .is_some()
    );

    let again = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &news,
    )
    .await
    .unwrap();
    assert_eq!(
        (again.counts.new, again.counts.unchanged),
        (0, 4),
        "identical articles store nothing new"
    );

    let ja = generic(
        "rss",
        "jpcert-mirror",
        format!("{}/ja/jpcert.rdf", upstream.base),
    );
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &ja,
    )
    .await
    .unwrap();
    assert_eq!(run.counts.new, 3);
    let found = store
        .search_items(&rexist_store::ItemQuery {
            text: Some("脆弱性".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        found
            .items
            .iter()
            .any(|i| i.content.title.contains("Example Router の脆弱性"))
    );
}

#[tokio::test]
async fn kev_and_exploitdb_become_vuln_and_exploit_items_with_cves() {
    let upstream = serve(|path, _, _| {
        let rel = if path.contains("kev") {
            "kev/known_exploited_vulnerabilities.json"
        } else {
            "exploitdb/files_exploits.csv"
        };
        (response("200 OK", "", &fixture_bytes(rel)), Duration::ZERO)
    })
    .await;
    let (store, _dir) = store().await;
    let kev = mirror("kev", format!("{}/kev.json", upstream.base));
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &kev,
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);
    assert_eq!(run.counts.new, 50);
    let vulns = store
        .search_items(&rexist_store::ItemQuery {
            kind: Some(rexist_core::ItemKind::Vuln),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(vulns.items.len(), 50);
    let cves = store
        .list_indicators(&rexist_store::IndicatorQuery {
            kind: Some(IndicatorType::Cve),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        cves.items.len() >= 50,
        "each KEV entry is linked to its cve indicator"
    );
    let again = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &kev,
    )
    .await
    .unwrap();
    assert_eq!((again.counts.new, again.counts.unchanged), (0, 50));

    let edb = mirror("exploitdb", format!("{}/files_exploits.csv", upstream.base));
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &edb,
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);
    assert!(run.counts.new > 0);
}

#[tokio::test]
async fn a_body_that_is_not_the_format_fails_the_run_cleanly() {
    let upstream = serve(|_, _, _| {
        (
            response(
                "200 OK",
                "",
                &fixture_bytes("news/rss2/security-news-bad.xml"),
            ),
            Duration::ZERO,
        )
    })
    .await;
    let (store, _dir) = store().await;
    let news = generic("rss", "broken-news", format!("{}/feed/", upstream.base));
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &news,
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Failed);
    // The fixture is both cut short and malformed: the contract's check
    // comes first and names the truncation.
    assert!(
        run.error.unwrap().contains("truncated answer"),
        "names what is wrong"
    );
}

#[tokio::test]
async fn misp_feed_pulls_events_newer_than_the_cursor_and_checks_integrity() {
    let tamper = Arc::new(AtomicUsize::new(0));
    let t = Arc::clone(&tamper);
    let upstream = serve(move |path, _, _| {
        let name = path.rsplit('/').next().unwrap_or_default().to_owned();
        let mut body = fixture_bytes(&format!("misp/feed/{name}"));
        if t.load(Ordering::SeqCst) == 1 && name.starts_with("1f2ae2f4") {
            body.extend_from_slice(b"\n"); // the file no longer matches its manifest digest
        }
        (response("200 OK", "", &body), Duration::ZERO)
    })
    .await;
    let (store, _dir) = store().await;
    let feed = generic(
        "misp-feed",
        "circl-osint",
        format!("{}/feed/", upstream.base),
    );

    tamper.store(1, Ordering::SeqCst);
    let bad = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &feed,
    )
    .await
    .unwrap();
    assert_eq!(
        bad.outcome,
        RunOutcome::Partial,
        "the older event is stored, the tampered one is not"
    );
    assert!(
        bad.error
            .as_deref()
            .unwrap()
            .contains("does not match the manifest"),
        "{:?}",
        bad.error
    );
    assert_eq!(bad.counts.new, 1);

    tamper.store(0, Ordering::SeqCst);
    let hits = upstream.hits();
    let good = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &feed,
    )
    .await
    .unwrap();
    assert_eq!(good.outcome, RunOutcome::Success, "{:?}", good.error);
    assert_eq!(
        good.counts.new, 1,
        "resumes after the stored event, no duplicate"
    );
    assert_eq!(
        upstream.hits() - hits,
        2,
        "the manifest and the one event not yet stored"
    );
    assert!(good.cursor.as_deref().unwrap().contains("1735707200"));
    let events = store
        .search_items(&rexist_store::ItemQuery {
            kind: Some(rexist_core::ItemKind::Event),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.items.len(), 2);
    assert!(
        events
            .items
            .iter()
            .any(|i| i.content.title == "Ransomware - Xorist")
    );

    let hits = upstream.hits();
    let again = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &feed,
    )
    .await
    .unwrap();
    assert_eq!((again.outcome, again.counts.new), (RunOutcome::Success, 0));
    assert_eq!(upstream.hits() - hits, 1, "only the manifest");
}

#[tokio::test]
async fn misp_pull_pages_restsearch_then_asks_only_for_newer_events() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("misp.key");
    std::fs::write(&key, "misp-automation-key\n").unwrap();
    let bodies = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&bodies);
    let upstream = serve(move |path, _, request| {
        assert_eq!(path, "/events/restSearch");
        let lower = request.to_ascii_lowercase();
        if !lower.contains("authorization: misp-automation-key") {
            return (
                response(
                    "403 Forbidden",
                    "",
                    &fixture_bytes("misp/restsearch/error-403.json"),
                ),
                Duration::ZERO,
            );
        }
        let body = request
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        seen.lock().unwrap().push(body.clone());
        let rel = if body.contains("\"timestamp\"") {
            "misp/restsearch/events-restsearch-empty.json"
        } else if body.contains("\"page\":1") {
            "misp/restsearch/events-restsearch-page1.json"
        } else if body.contains("\"page\":2") {
            "misp/restsearch/events-restsearch-page2.json"
        } else {
            "misp/restsearch/events-restsearch-empty.json"
        };
        (
            response(
                "200 OK",
                "Content-Type: application/json\r\n",
                &fixture_bytes(rel),
            ),
            Duration::ZERO,
        )
    })
    .await;
    let (store, _store_dir) = store().await;
    let mut config: SourceConfig = toml::from_str(&format!(
        "name = \"misp-local\"\nkind = \"misp\"\nurl = \"{}/\"\npage_size = 2\n",
        upstream.base
    ))
    .unwrap();
    config.headers_file.insert("Authorization".into(), key);
    let misp = config.resolve().unwrap();

    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &misp,
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);
    assert_eq!(
        run.counts.new, 3,
        "two events on page 1, one on the short page 2"
    );
    assert_eq!(bodies.lock().unwrap().len(), 2, "stops at the short page");
    let cursor = run.cursor.clone().unwrap();
    assert!(cursor.contains("timestamp"), "{cursor}");

    let again = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &misp,
    )
    .await
    .unwrap();
    assert_eq!((again.outcome, again.counts.new), (RunOutcome::Success, 0));
    let last = bodies.lock().unwrap().last().cloned().unwrap();
    let ts: i64 = serde_json::from_str::<serde_json::Value>(&cursor).unwrap()["timestamp"]
        .as_i64()
        .unwrap();
    assert!(
        last.contains(&format!("\"timestamp\":{}", ts + 1)),
        "asks only for newer events: {last}"
    );

    let mut wrong = config.clone();
    wrong.headers_file.clear();
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &wrong.resolve().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Failed);
    assert!(run.error.unwrap().contains("HTTP 403"));
}

#[tokio::test]
async fn nvd_pulls_lastmod_windows_page_by_page_then_from_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("nvd.key");
    std::fs::write(&key, "nvd-api-key\n").unwrap();
    let queries = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&queries);
    let upstream = serve(move |path, _, request| {
        assert!(
            request.to_ascii_lowercase().contains("apikey: nvd-api-key"),
            "key in a header"
        );
        seen.lock().unwrap().push(path.to_owned());
        let rel = if path.contains("startIndex=1") {
            "nvd/cves-2.0-page1.json"
        } else {
            "nvd/cves-2.0-page0.json"
        };
        (response("200 OK", "", &fixture_bytes(rel)), Duration::ZERO)
    })
    .await;
    let (store, _store_dir) = store().await;
    let mut config = SourceConfig::from_catalogue(catalogue("nvd").unwrap());
    config.url = Some(format!("{}/rest/json/cves/2.0", upstream.base));
    config.params = rexist_connectors::source::Params::Nvd(rexist_connectors::source::Paging {
        page_size: Some(1),
    });
    config.headers_file.insert("apiKey".into(), key);
    let nvd = config.resolve().unwrap();

    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &nvd,
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);
    assert_eq!(run.counts.new, 2, "two pages, one CVE each");
    {
        let q = queries.lock().unwrap();
        assert_eq!(q.len(), 2);
        assert!(
            q[0].contains("lastModStartDate=")
                && q[0].contains("lastModEndDate=")
                && q[0].contains("startIndex=0")
        );
        assert!(q[1].contains("startIndex=1"));
    }
    let cursor: serde_json::Value = serde_json::from_str(run.cursor.as_deref().unwrap()).unwrap();
    let last_mod = cursor["last_mod"].as_str().unwrap().to_owned();

    let again = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &nvd,
    )
    .await
    .unwrap();
    assert_eq!(
        (again.outcome, again.counts.new, again.counts.unchanged),
        (RunOutcome::Success, 0, 2)
    );
    let third = queries.lock().unwrap()[2].clone();
    // The next window starts where the last one ended.
    let start = &third.split("lastModStartDate=").nth(1).unwrap()[..19];
    assert_eq!(start, &last_mod[..19], "{third}");
    let cves = store
        .list_indicators(&rexist_store::IndicatorQuery {
            kind: Some(IndicatorType::Cve),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(cves.items.len(), 2, "each CVE is linked to its indicator");
}

#[tokio::test]
async fn myjvn_pages_by_start_item_and_reports_upstream_errors() {
    let fail = Arc::new(AtomicUsize::new(0));
    let f = Arc::clone(&fail);
    let upstream = serve(move |path, _, _| {
        let rel = if f.load(Ordering::SeqCst) == 1 {
            "news/myjvn/getVulnOverviewList-error.xml"
        } else if path.contains("startItem=3") {
            "news/myjvn/getVulnOverviewList-page2.xml"
        } else {
            "news/myjvn/getVulnOverviewList-page1.xml"
        };
        assert!(
            path.contains("method=getVulnOverviewList") && path.contains("datePublishedStartY="),
            "{path}"
        );
        (response("200 OK", "", &fixture_bytes(rel)), Duration::ZERO)
    })
    .await;
    let (store, _dir) = store().await;
    let mut config = SourceConfig::from_catalogue(catalogue("jvn").unwrap());
    config.url = Some(format!("{}/myjvn", upstream.base));
    config.params = rexist_connectors::source::Params::Jvn(rexist_connectors::source::Paging {
        page_size: Some(2),
    });
    let jvn = config.resolve().unwrap();
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &jvn,
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);
    assert_eq!(run.counts.new, 3, "two pages");
    assert_eq!(upstream.hits(), 2);
    assert!(
        store
            .indicator(IndicatorType::Cve, "CVE-2025-0001")
            .await
            .unwrap()
            .is_some()
    );
    let found = store
        .search_items(&rexist_store::ItemQuery {
            text: Some("インジェクション".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        !found.items.is_empty(),
        "Japanese vulnerability text is searchable"
    );

    fail.store(1, Ordering::SeqCst);
    let failed = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &jvn,
    )
    .await
    .unwrap();
    assert_eq!(failed.outcome, RunOutcome::Failed);
    assert!(
        failed
            .error
            .as_deref()
            .unwrap()
            .contains("upstream error 1001"),
        "{:?}",
        failed.error
    );
    assert_eq!(failed.cursor, run.cursor, "the cursor stays");
}

/// A list in `Shift_JIS` whose server declares its charset loads whole; the
/// same bytes undeclared are mostly undecodable, so the run is not a success
/// and delists nothing.
#[tokio::test]
async fn a_declared_charset_is_decoded_and_an_undeclared_one_is_not_trusted() {
    let mut body = "# 悪性ホスト一覧（テスト）\n".to_owned();
    for i in 1..=30 {
        use std::fmt::Write as _;
        let _ = writeln!(body, "ホスト{i}.example");
    }
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(&body);
    let sjis = sjis.into_owned();
    let declared = Arc::new(AtomicUsize::new(1));
    let d = Arc::clone(&declared);
    let upstream = serve(move |_, _, _| {
        let ct = if d.load(Ordering::SeqCst) == 1 {
            "Content-Type: text/plain; charset=Shift_JIS\r\n"
        } else {
            "Content-Type: text/plain\r\n"
        };
        (response("200 OK", ct, &sjis), Duration::ZERO)
    })
    .await;
    let (store, _dir) = store().await;
    let table = format!(
        "name = \"jp-hosts\"\nkind = \"text\"\nurl = \"{}/hosts.txt\"\ntype = \"domain\"\nsnapshot = true\n",
        upstream.base
    );
    let source: SourceConfig = toml::from_str(&table).unwrap();
    let source = source.resolve().unwrap();
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &source,
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);
    assert_eq!((run.counts.new, run.counts.rejected), (30, 0));

    declared.store(2, Ordering::SeqCst);
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &source,
    )
    .await
    .unwrap();
    assert_ne!(run.outcome, RunOutcome::Success);
    assert!(
        run.error.as_deref().unwrap().contains("rejected"),
        "{:?}",
        run.error
    );
    assert_eq!(run.counts.updated, 0, "nothing delisted");
}

#[tokio::test]
async fn myjvn_html_page_with_200_fails_the_run() {
    let upstream = serve(|_, _, _| {
        (
            response(
                "200 OK",
                "Content-Type: text/html; charset=utf-8\r\n",
                b"<!DOCTYPE html>\n<html><head><title>MyJVN maintenance</title></head><body>...</body></html>\n",
            ),
            Duration::ZERO,
        )
    })
    .await;
    let (store, _dir) = store().await;
    let mut config = SourceConfig::from_catalogue(catalogue("jvn").unwrap());
    config.url = Some(format!("{}/myjvn", upstream.base));
    let jvn = config.resolve().unwrap();
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &jvn,
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Failed);
    let error = run.error.unwrap();
    assert!(
        error.contains("an HTML page where XML was expected")
            && error.contains("MyJVN maintenance"),
        "{error}"
    );
    assert_eq!(run.cursor, None, "nothing moves");
    assert_eq!(upstream.hits(), 1);
}

/// Two runs at once on one thread: each run's log lines carry its own span
/// and never the other's (a span entered across an await once nested them).
#[test]
fn concurrent_runs_log_under_their_own_span_only() {
    let log = crate::common::Capture::default();
    let subscriber = log.subscriber(tracing::Level::INFO);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            // Slow answers, so both runs are in flight at once.
            let upstream = serve(|_, _, _| {
                (
                    response("500 Internal Server Error", "", b"down"),
                    Duration::from_millis(200),
                )
            })
            .await;
            let (store, _dir) = store().await;
            let ingest = rexist_pipeline::Ingest::new(store.clone(), None);
            let alpha = generic("text", "alpha", format!("{}/a.txt", upstream.base));
            let beta = generic("text", "beta", format!("{}/b.txt", upstream.base));
            let fetcher = fetcher();
            let (a, b) = tokio::join!(
                run_source(&ingest, &fetcher, &alpha),
                run_source(&ingest, &fetcher, &beta)
            );
            assert_eq!(a.unwrap().outcome, RunOutcome::Failed);
            assert_eq!(b.unwrap().outcome, RunOutcome::Failed);
        });
    });
    let text = log.text();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("run did not complete"))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    for line in lines {
        let (a, b) = (line.contains("source=alpha"), line.contains("source=beta"));
        assert!(a ^ b, "one run's span, not both: {line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cut_short_is_interrupted_with_what_it_committed() {
    let (store, _dir) = store().await;
    // An upstream that answers only after the cut.
    let upstream = serve(|_, _, _| {
        (
            response("200 OK", "", b"192.0.2.1\n"),
            Duration::from_secs(30),
        )
    })
    .await;
    let source = mirror("et", format!("{}/ips.txt", upstream.base));
    let ingest = rexist_pipeline::Ingest::new(Arc::clone(&store), None);
    let (cut, cancel) = tokio::sync::watch::channel(false);
    let options = rexist_pipeline::RunOptions {
        heartbeat: Duration::from_millis(100),
        cancel: Some(cancel),
    };
    let fetcher = Fetcher::new(FetchOptions::default()).unwrap();
    let running = tokio::spawn({
        let ingest = Arc::clone(&ingest);
        async move { rexist_pipeline::run_source_with(&ingest, &fetcher, &source, &options).await }
    });
    // Heartbeats keep it fresh while it waits: a sweep leaves it alone,
    // though it started longer ago than the staleness limit.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        store
            .interrupt_stale_runs(Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty(),
        "a live run is not swept"
    );
    cut.send(true).unwrap();
    let run = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the cut run stops at once")
        .unwrap()
        .unwrap();
    assert_eq!(run.outcome, RunOutcome::Interrupted);
    assert!(run.finished_at.is_some());
    assert!(run.cursor.is_none());
    assert!(
        run.error
            .as_deref()
            .unwrap_or_default()
            .contains("shutting down"),
        "{:?}",
        run.error
    );
    let health = store.source(run.source_id).await.unwrap().unwrap().health;
    assert_eq!(health.consecutive_failures, 0);
    assert_eq!(store.stats().await.unwrap().sightings, 0);
}
