//! Bluesky and X post searches against a loopback server: pages followed to
//! the end, the next run asks only for newer posts, indicators come out of
//! the text, and the token never reaches a run record. (There are no shared
//! fixtures for these APIs; the pages follow their documented shapes.)

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::common::{fetcher, json};
use rexist_connectors::source::{ResolvedSource, SourceConfig};
use rexist_core::{IndicatorType, RunOutcome};
use rexist_pipeline::run_source;
use rexist_testkit::{Answer, response, serve};

const TOKEN: &str = "Bearer x-test-token-9a7c";

fn source(kind: &str, base: &str, dir: &tempfile::TempDir) -> ResolvedSource {
    let token = dir.path().join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let table = format!(
        "name = \"{kind}-ioc\"\nkind = \"{kind}\"\nurl = \"{base}\"\nquery = \"#ioc OR c2\"\n[headers_file]\n\"Authorization\" = \"{}\"\n",
        token.display()
    );
    toml::from_str::<SourceConfig>(&table)
        .unwrap()
        .resolve()
        .unwrap()
}

type Log = Arc<Mutex<Vec<String>>>;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_recent_search_pages_and_resumes_with_since_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    let (up, log) = recorded(|path| {
        if path.contains("since_id=") {
            json(r#"{"meta":{"result_count":0}}"#)
        } else if path.contains("next_token=tok2") {
            json(r#"{"data":[{"id":"1870000000000000001","text":"older: 198.51.100.9","author_id":"42","created_at":"2025-01-03T09:00:00.000Z","lang":"en"}],
                "includes":{"users":[{"id":"42","username":"threatintel"}]},
                "meta":{"newest_id":"1870000000000000001","oldest_id":"1870000000000000001","result_count":1}}"#)
        } else {
            json(r#"{"data":[{"id":"1870000000000000002","text":"IOC: hxxp://bad[.]example[.]com/x","author_id":"42","created_at":"2025-01-03T10:00:00.000Z","lang":"en"}],
                "includes":{"users":[{"id":"42","username":"threatintel"}]},
                "meta":{"newest_id":"1870000000000000002","oldest_id":"1870000000000000002","result_count":1,"next_token":"tok2"}}"#)
        }
    })
    .await;
    let src = source("x", &up.base, &dir);
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);
    assert_eq!(run.counts.new, 2);
    assert!(
        run.cursor
            .as_deref()
            .unwrap()
            .contains("1870000000000000002")
    );
    let url = store
        .indicator(IndicatorType::Url, "http://bad.example.com/x")
        .await
        .unwrap();
    assert!(url.is_some(), "the defanged URL in the post is extracted");
    let again = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!((again.outcome, again.counts.new), (RunOutcome::Success, 0));
    assert_eq!(again.cursor, run.cursor);
    let requests = log.lock().unwrap().clone();
    assert!(
        requests[0].contains("GET /2/tweets/search/recent?query=%23ioc%20OR%20c2&max_results=100"),
        "{}",
        requests[0]
    );
    assert!(requests[0].contains(TOKEN));
    assert!(requests[1].contains("next_token=tok2"));
    assert!(
        requests[2].contains("since_id=1870000000000000002"),
        "{}",
        requests[2]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bluesky_search_pages_and_resumes_with_since() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    let post = |rkey: &str, text: &str, at: &str| {
        format!(
            r#"{{"uri":"at://did:plc:abc/app.bsky.feed.post/{rkey}","cid":"c","author":{{"did":"did:plc:abc","handle":"analyst.bsky.social"}},"record":{{"text":"{text}","createdAt":"{at}","langs":["en"]}},"indexedAt":"{at}"}}"#
        )
    };
    let newer = post("3k2", "C2 at 91.92.93.94 now", "2025-01-03T10:00:00.000Z");
    let older = post(
        "3k1",
        "phish at login[.]bad-example[.]com",
        "2025-01-02T10:00:00.000Z",
    );
    let (up, log) = recorded(move |path| {
        if path.contains("since=") {
            json(r#"{"posts":[]}"#)
        } else if path.contains("cursor=25") {
            json(format!(r#"{{"posts":[{older}]}}"#))
        } else {
            json(format!(r#"{{"cursor":"25","posts":[{newer}]}}"#))
        }
    })
    .await;
    let src = source("bluesky", &up.base, &dir);
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);
    assert_eq!(run.counts.new, 2);
    assert!(
        store
            .indicator(IndicatorType::Ipv4, "91.92.93.94")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .indicator(IndicatorType::Domain, "login.bad-example.com")
            .await
            .unwrap()
            .is_some()
    );
    let again = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(again.counts.new, 0);
    let requests = log.lock().unwrap().clone();
    assert!(
        requests[0].contains(
            "GET /xrpc/app.bsky.feed.searchPosts?q=%23ioc%20OR%20c2&sort=latest&limit=100"
        ),
        "{}",
        requests[0]
    );
    assert!(
        requests[2].contains("since=2025-01-03T10%3A00%3A00Z"),
        "{}",
        requests[2]
    );

    // a 401 is a recorded failed run that keeps the cursor and hides the token
    let (bad, _) = recorded(|_| {
        (
            response(
                "401 Unauthorized",
                "Content-Type: application/json\r\n",
                br#"{"error":"AuthMissing"}"#,
            ),
            Duration::ZERO,
        )
    })
    .await;
    let denied = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &source("bluesky", &bad.base, &dir),
    )
    .await
    .unwrap();
    assert_eq!(denied.outcome, RunOutcome::Failed);
    assert!(
        denied.error.as_deref().unwrap().contains("401"),
        "{:?}",
        denied.error
    );
    assert!(!format!("{denied:?}").contains("x-test-token"));
}

#[test]
fn a_search_source_needs_a_query() {
    let table = "name = \"b\"\nkind = \"bluesky\"\n";
    let err = toml::from_str::<SourceConfig>(table)
        .unwrap()
        .resolve()
        .unwrap_err();
    assert!(err.to_string().contains("needs query"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_can_take_its_terms_from_the_hunts() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    let (up, log) = recorded(|_| json(r#"{"meta":{"result_count":0}}"#)).await;
    let token = dir.path().join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let table = format!(
        "name = \"x-hunts\"\nkind = \"x\"\nurl = \"{}\"\nquery_from_hunts = true\n[headers_file]\n\"Authorization\" = \"{}\"\n",
        up.base,
        token.display()
    );
    let src = toml::from_str::<SourceConfig>(&table)
        .unwrap()
        .resolve()
        .unwrap();

    let none = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(none.outcome, RunOutcome::Failed);
    assert!(
        none.error.as_deref().unwrap().contains("no search terms"),
        "{:?}",
        none.error
    );

    for (name, kind, def) in [
        (
            "ransom",
            rexist_core::HuntKind::Query,
            "lockbit ransomware, \"black basta\" -test",
        ),
        ("ours", rexist_core::HuntKind::Watch, "192.0.2.0/24"),
    ] {
        store
            .create_hunt(&rexist_core::HuntSpec {
                name: name.into(),
                kind,
                definition: def.into(),
                enabled: true,
                channels: vec![],
                digest_secs: None,
                tlp: rexist_core::HuntSpec::DEFAULT_TLP,
            })
            .await
            .unwrap();
    }
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);
    let last = log.lock().unwrap().last().unwrap().clone();
    assert!(
        last.contains("query=lockbit%20OR%20ransomware%20OR%20%22black%20basta%22&"),
        "{last}"
    );
}
