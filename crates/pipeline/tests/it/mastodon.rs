//! A Mastodon timeline source against a loopback server serving the shared
//! pages: the first run takes the newest page, later runs page forward with
//! `min_id` without gaps or duplicates, indicators come out of the posts'
//! text, and failures keep the cursor.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::common::{fetcher, json};
use rexist_connectors::source::{ResolvedSource, SourceConfig};
use rexist_core::{IndicatorType, ItemKind, RunOutcome};
use rexist_pipeline::run_source;
use rexist_store::ItemQuery;
use rexist_testkit::{fixture_bytes, response, serve};

fn source(url: &str) -> ResolvedSource {
    let table = format!("name = \"infosec\"\nkind = \"mastodon\"\nurl = \"{url}\"\n");
    toml::from_str::<SourceConfig>(&table)
        .unwrap()
        .resolve()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timelines_page_forward_from_the_newest_post() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&seen);
    let up = serve(move |path, _, _| {
        log.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(path.to_owned());
        if path.contains("min_id=113800000000000002") {
            json(fixture_bytes("mastodon/timelines-tag-ioc-page1.json"))
        } else if path.contains("min_id=") {
            json(b"[]")
        } else {
            // the first run sees only the older posts: they are the newest yet
            json(fixture_bytes("mastodon/timelines-tag-ioc-page2.json"))
        }
    })
    .await;
    let src = source(&format!("{}/api/v1/timelines/tag/ioc", up.base));

    let first = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(first.outcome, RunOutcome::Success, "{:?}", first.error);
    assert!(
        first
            .cursor
            .as_deref()
            .unwrap()
            .contains("113800000000000002")
    );
    let c2 = store
        .indicator(IndicatorType::Domain, "bot.c2.example.net")
        .await
        .unwrap();
    assert!(c2.is_some(), "indicators are extracted from the post text");

    let second = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(second.outcome, RunOutcome::Success, "{:?}", second.error);
    assert!(
        second
            .cursor
            .as_deref()
            .unwrap()
            .contains("113800000000000005")
    );
    assert!(second.counts.new >= 3, "{:?}", second.counts);
    let md5 = store
        .indicator(IndicatorType::Md5, "fcd4219244279ec49932bbd8e7702911")
        .await
        .unwrap();
    assert!(md5.is_some());

    let third = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(third.counts.new, 0);
    assert_eq!(third.cursor, second.cursor);
    let paths = seen.lock().unwrap().clone();
    assert_eq!(paths[0], "/api/v1/timelines/tag/ioc?limit=40", "{paths:?}");
    assert!(paths[1].ends_with("min_id=113800000000000002"), "{paths:?}");
    assert!(paths[2].ends_with("min_id=113800000000000005"), "{paths:?}");

    let posts = store
        .search_items(&ItemQuery {
            limit: 100,
            ..ItemQuery::default()
        })
        .await
        .unwrap()
        .items;
    assert!(posts.iter().all(|p| p.content.kind == ItemKind::Post));
    let mut ids: Vec<&str> = posts
        .iter()
        .map(|p| p.content.external_id.as_str())
        .collect();
    let before = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), before, "no post stored twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_recorded_runs_that_keep_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    let up = serve(|_, n, _| match n {
        0 => json(fixture_bytes("mastodon/timelines-tag-ioc-page2.json")),
        1 => (
            response(
                "401 Unauthorized",
                "Content-Type: application/json\r\n",
                &fixture_bytes("mastodon/error-401.json"),
            ),
            Duration::ZERO,
        ),
        2 => (
            response(
                "429 Too Many Requests",
                "Retry-After: 1\r\n",
                &fixture_bytes("mastodon/error-429.json"),
            ),
            Duration::ZERO,
        ),
        _ => json(fixture_bytes("mastodon/timelines-tag-ioc-bad.json")),
    })
    .await;
    let src = source(&format!("{}/api/v1/timelines/tag/ioc", up.base));
    let ok = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(ok.outcome, RunOutcome::Success);
    for expected in ["401", "rate limited", "page 1"] {
        let run = run_source(
            &rexist_pipeline::Ingest::new(store.clone(), None),
            &fetcher(),
            &src,
        )
        .await
        .unwrap();
        assert_eq!(
            run.outcome,
            RunOutcome::Failed,
            "{expected}: {:?}",
            run.error
        );
        assert!(
            run.error.as_deref().unwrap().contains(expected),
            "{:?}",
            run.error
        );
        assert_eq!(
            store.last_cursor(run.source_id).await.unwrap(),
            ok.cursor,
            "cursor kept"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_after_a_stored_page_keeps_that_page() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&seen);
    let up = serve(move |path, _, _| {
        log.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(path.to_owned());
        if path.contains("min_id=113800000000000002") {
            json(fixture_bytes("mastodon/timelines-tag-ioc-page1.json"))
        } else if path.contains("min_id=") {
            (
                response("503 Service Unavailable", "", b"busy"),
                Duration::ZERO,
            )
        } else {
            json(fixture_bytes("mastodon/timelines-tag-ioc-page2.json"))
        }
    })
    .await;
    let src = source(&format!("{}/api/v1/timelines/tag/ioc", up.base));
    let first = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(first.outcome, RunOutcome::Success, "{:?}", first.error);

    // min_id pages come in cursor order: each stored page is a checkpoint,
    // so the next run goes on after it rather than asking for it again.
    let second = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(second.outcome, RunOutcome::Partial, "{:?}", second.error);
    assert!(
        second.error.as_deref().unwrap().contains("page 2"),
        "{:?}",
        second.error
    );
    assert_eq!(
        second.cursor.as_deref(),
        Some(r#"{"newest_id":"113800000000000005"}"#)
    );
    let _ = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    let paths = seen.lock().unwrap().clone();
    assert!(paths[3].ends_with("min_id=113800000000000005"), "{paths:?}");
}
