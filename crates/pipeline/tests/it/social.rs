//! X and Bluesky searches against a loopback server serving the fixture
//! pages kept in the repository (`crates/connectors/tests/fixtures`, see its
//! README): the first run stores exactly the fixture posts and their
//! indicators, following the paging token; a second run asks only for newer
//! posts and stores nothing new; the cursor keeps its stored shape; the query
//! sent is the source's own, joined by ` OR ` with a query hunt's terms.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use crate::common::{fetcher, json};
use rexist_connectors::source::{ResolvedSource, SourceConfig};
use rexist_core::{HuntKind, HuntSpec, RunOutcome};
use rexist_pipeline::run_source;
use rexist_store::{IndicatorQuery, ItemQuery, Store};
use rexist_testkit::{Answer, serve};

const TOKEN: &str = "Bearer social-fixture-token-5d21";

/// The bytes of a fixture kept in the repository beside the connectors.
fn repo_fixture(rel: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../connectors/tests/fixtures")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// A search source on `base` with its own query and the hunts' terms.
fn source(kind: &str, base: &str, dir: &tempfile::TempDir) -> ResolvedSource {
    let token = dir.path().join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let table = format!(
        "name = \"{kind}-fixtures\"\nkind = \"{kind}\"\nurl = \"{base}\"\nquery = \"#ioc OR c2\"\nquery_from_hunts = true\n[headers_file]\n\"Authorization\" = \"{}\"\n",
        token.display()
    );
    toml::from_str::<SourceConfig>(&table)
        .unwrap()
        .resolve()
        .unwrap()
}

/// A store with one enabled query hunt (`qakbot`) and one watch hunt, whose
/// value must not reach the query.
async fn store_with_hunts(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    for (name, kind, definition) in [
        ("qakbot", HuntKind::Query, "qakbot"),
        ("ours", HuntKind::Watch, "192.0.2.0/24"),
    ] {
        store
            .create_hunt(&HuntSpec {
                name: name.into(),
                kind,
                definition: definition.into(),
                enabled: true,
                channels: vec![],
                digest_secs: None,
                tlp: rexist_core::HuntSpec::DEFAULT_TLP,
            })
            .await
            .unwrap();
    }
    store
}

type Log = Arc<Mutex<Vec<String>>>;

/// A server answering `answer(path)` that records each raw request.
async fn recorded(
    answer: impl Fn(&str) -> Answer + Send + Sync + 'static,
) -> (rexist_testkit::Upstream, Log) {
    let log: Log = Arc::default();
    let seen = Arc::clone(&log);
    let up = serve(move |path, _, raw| {
        seen.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(raw.to_owned());
        answer(path)
    })
    .await;
    (up, log)
}

/// External ids of every item stored.
async fn item_ids(store: &Arc<dyn Store>) -> BTreeSet<String> {
    store
        .search_items(&ItemQuery {
            limit: 100,
            ..ItemQuery::default()
        })
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|i| i.content.external_id)
        .collect()
}

/// `type:value` of every indicator stored.
async fn indicators(store: &Arc<dyn Store>) -> BTreeSet<String> {
    store
        .list_indicators(&IndicatorQuery {
            limit: 1000,
            ..IndicatorQuery::default()
        })
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|i| format!("{}:{}", i.kind, i.value))
        .collect()
}

fn set(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

/// The request line of a raw request.
fn line(raw: &str) -> &str {
    raw.lines().next().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_fixture_pages_are_stored_once_and_resumed_with_since_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_hunts(&dir).await;
    let (up, log) = recorded(|path| {
        if path.contains("since_id=") {
            json(repo_fixture("x/search-recent-empty.json"))
        } else if path.contains("&next_token=b26v89c19zqg8o3fnsfgltxb7ixnrpf7sa0aqzzm2h13h") {
            json(repo_fixture("x/search-recent-page2.json"))
        } else {
            json(repo_fixture("x/search-recent-page1.json"))
        }
    })
    .await;
    let src = source("x", &up.base, &dir);

    let first = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(first.outcome, RunOutcome::Success, "{:?}", first.error);
    assert_eq!((first.counts.parsed, first.counts.new), (4, 4));
    assert_eq!(
        first.cursor.as_deref(),
        Some(r#"{"newest":"1879500000000000004"}"#),
        "the newest id of the run, in the cursor shape earlier releases stored"
    );
    assert_eq!(
        item_ids(&store).await,
        set(&[
            "x:1879500000000000001",
            "x:1879500000000000002",
            "x:1879500000000000003",
            "x:1879500000000000004",
        ])
    );
    // `login-portal[.]example` is under a reserved name, never an indicator;
    // a URL's host is not a domain indicator of its own.
    assert_eq!(
        indicators(&store).await,
        set(&[
            "domain:invoice-cdn.example.com",
            "ipv4:192.0.2.44",
            "ipv4:192.0.2.77",
            "md5:0f3e5a7c9b1d2f4e6a8c0b2d4f6e8a1c",
            "sha256:5b2f9c7e4d1a0386e9f4b7c2a1d0e5f3c8b6a4d2e0f9c7b5a3e1d8f6c4b2a093",
            "url:https://update.qakbot-c2.example.net/gate.php",
        ])
    );

    let second = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(second.outcome, RunOutcome::Success, "{:?}", second.error);
    assert_eq!(second.counts.new, 0, "{:?}", second.counts);
    assert_eq!(second.cursor, first.cursor);
    assert_eq!(item_ids(&store).await.len(), 4);

    let requests = log.lock().unwrap().clone();
    assert_eq!(requests.len(), 3, "two pages, then one empty answer");
    let query = "query=%23ioc%20OR%20c2%20OR%20qakbot&";
    assert_eq!(
        line(&requests[0]),
        format!(
            "GET /2/tweets/search/recent?{query}max_results=100&expansions=author_id&tweet.fields=created_at,lang&user.fields=username HTTP/1.1"
        )
    );
    assert!(requests[0].contains(TOKEN), "the app token is sent");
    assert!(
        line(&requests[1]).contains(query)
            && line(&requests[1])
                .contains("&next_token=b26v89c19zqg8o3fnsfgltxb7ixnrpf7sa0aqzzm2h13h"),
        "{}",
        requests[1]
    );
    assert!(
        line(&requests[2]).contains(query)
            && line(&requests[2]).contains("&since_id=1879500000000000004")
            && !line(&requests[2]).contains("next_token"),
        "{}",
        requests[2]
    );
    assert!(!format!("{first:?}{second:?}").contains("social-fixture-token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bluesky_fixture_pages_are_stored_once_and_resumed_with_since() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_hunts(&dir).await;
    // `since` is inclusive and the server may well answer the same posts
    // again: the second run gets both pages once more.
    let (up, log) = recorded(|path| {
        if path.contains("&cursor=2") {
            json(repo_fixture("bluesky/searchposts-page2.json"))
        } else {
            json(repo_fixture("bluesky/searchposts-page1.json"))
        }
    })
    .await;
    let src = source("bluesky", &up.base, &dir);

    let first = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(first.outcome, RunOutcome::Success, "{:?}", first.error);
    assert_eq!((first.counts.parsed, first.counts.new), (4, 4));
    assert_eq!(
        first.cursor.as_deref(),
        Some(r#"{"newest":"2025-01-15T10:04:00.5Z"}"#),
        "the newest post time of the run, in the cursor shape earlier releases stored"
    );
    assert_eq!(
        item_ids(&store).await,
        set(&[
            "bluesky:at://did:plc:q6gjnaw2blty4crticxkmujt/app.bsky.feed.post/3lfq4za7rnk2u",
            "bluesky:at://did:plc:q6gjnaw2blty4crticxkmujt/app.bsky.feed.post/3lfq7xk2mas2c",
            "bluesky:at://did:plc:vx3ugr4tmc2kjqzbfw5ynsde/app.bsky.feed.post/3lfq6pb4wuc2k",
            "bluesky:at://did:plc:wk2hd7lpxq5bmunr3ozfcy6e/app.bsky.feed.post/3lfq3ka6yxs2m",
        ])
    );
    assert_eq!(
        indicators(&store).await,
        set(&[
            "domain:beacon.loader-ops.example.net",
            "domain:login.bank-secure.example.com",
            "ipv4:192.0.2.51",
            "ipv4:192.0.2.90",
            "md5:7e9a1c3b5d7f9e1a3c5b7d9f1e3a5c7b",
            "sha1:3c1e5a7b9d0f2e4c6a8b0d2f4e6c8a0b2d4f6e8a",
            "url:http://cdn-update.example.org/x.bin",
        ])
    );

    let second = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(second.outcome, RunOutcome::Success, "{:?}", second.error);
    assert_eq!(
        (second.counts.new, second.counts.unchanged),
        (0, 4),
        "{:?}",
        second.counts
    );
    assert_eq!(second.cursor, first.cursor);
    assert_eq!(item_ids(&store).await.len(), 4);

    let requests = log.lock().unwrap().clone();
    assert_eq!(requests.len(), 4, "two pages a run");
    let query = "q=%23ioc%20OR%20c2%20OR%20qakbot&";
    assert_eq!(
        line(&requests[0]),
        format!("GET /xrpc/app.bsky.feed.searchPosts?{query}sort=latest&limit=100 HTTP/1.1")
    );
    assert!(requests[0].contains(TOKEN));
    assert!(
        line(&requests[1]).ends_with("limit=100&cursor=2 HTTP/1.1"),
        "{}",
        requests[1]
    );
    assert!(
        line(&requests[2]).contains(query)
            && line(&requests[2]).ends_with("&since=2025-01-15T10%3A04%3A00.5Z HTTP/1.1"),
        "{}",
        requests[2]
    );
    assert!(
        line(&requests[3]).ends_with("&since=2025-01-15T10%3A04%3A00.5Z&cursor=2 HTTP/1.1"),
        "{}",
        requests[3]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_with_no_terms_fails_before_asking() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    let (up, log) = recorded(|_| json(repo_fixture("bluesky/searchposts-empty.json"))).await;
    let table = format!(
        "name = \"b\"\nkind = \"bluesky\"\nurl = \"{}\"\nquery_from_hunts = true\n",
        up.base
    );
    let src = toml::from_str::<SourceConfig>(&table)
        .unwrap()
        .resolve()
        .unwrap();
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Failed);
    assert!(
        run.error.as_deref().unwrap().contains("no search terms"),
        "{:?}",
        run.error
    );
    assert!(log.lock().unwrap().is_empty(), "nothing was asked");
}
