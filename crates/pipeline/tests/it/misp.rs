//! MISP through the connectors engine: restSearch paging against a server
//! that caps pages below `page_size`, and what deleted attributes and
//! attributes with `to_ids` off become (retractions, not sightings) on a
//! server and in a feed, rewriting the shared fixtures' bytes in the test.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::common::{Recorder, fetcher, json};
use rexist_connectors::source::{ResolvedSource, SourceConfig};
use rexist_core::{RetractReason, RunOutcome};
use rexist_pipeline::run_source;
use rexist_testkit::{fixture_bytes, response, serve};
use serde_json::{Value, json as j};

fn source(kind: &str, url: &str, page_size: u32) -> ResolvedSource {
    // A MISP feed is not paged: its table takes no page_size.
    let paging = if kind == "misp" {
        format!("page_size = {page_size}\n")
    } else {
        String::new()
    };
    let table = format!("name = \"misp-test\"\nkind = \"{kind}\"\nurl = \"{url}\"\n{paging}");
    toml::from_str::<SourceConfig>(&table)
        .unwrap()
        .resolve()
        .unwrap()
}

/// The JSON body of a raw request.
fn body(raw: &str) -> Value {
    serde_json::from_str(raw.split("\r\n\r\n").nth(1).unwrap_or("{}")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restsearch_keeps_paging_when_the_server_caps_pages_below_page_size() {
    // Five events; the server answers at most two a page whatever `limit` says.
    let events: Vec<Value> = (1..=5)
        .map(|n| {
            j!({"Event": {
                "uuid": format!("00000000-0000-4000-8000-00000000000{n}"),
                "info": format!("event {n}"),
                "timestamp": format!("{}", 1_735_700_000 + n),
                "Attribute": [{"uuid": format!("10000000-0000-4000-8000-00000000000{n}"),
                               "type": "ip-dst", "value": format!("192.0.2.{n}"), "to_ids": true}]
            }})
        })
        .collect();
    let asked: Arc<Mutex<Vec<Value>>> = Arc::default();
    let log = Arc::clone(&asked);
    let up = serve(move |_, _, raw| {
        let query = body(raw);
        log.lock().unwrap().push(query.clone());
        let page = usize::try_from(query["page"].as_u64().unwrap()).unwrap();
        let start = (page - 1) * 2;
        let slice: Vec<Value> = events.iter().skip(start).take(2).cloned().collect();
        json(j!({ "response": slice }).to_string())
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    let src = source("misp", &format!("{}/", up.base), 5);
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &src,
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);
    assert_eq!(run.counts.new, 5, "every event, not only page 1's two");
    let asked = asked.lock().unwrap().clone();
    let pages: Vec<u64> = asked.iter().map(|q| q["page"].as_u64().unwrap()).collect();
    assert_eq!(pages, [1, 2, 3], "ends at the page shorter than page 1");
    assert!(asked.iter().all(|q| q["limit"] == 5), "{asked:?}");
    assert!(run.cursor.unwrap().contains("1735700005"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restsearch_ends_at_an_empty_page_when_page_1_was_short_and_complete() {
    let up = serve(move |_, _, raw| {
        let rel = if body(raw)["page"] == 1 {
            "misp/restsearch/events-restsearch-page2.json"
        } else {
            "misp/restsearch/events-restsearch-empty.json"
        };
        json(fixture_bytes(rel))
    })
    .await;
    let (recorded, report) = Recorder::run(&source("misp", &up.base, 5), None).await;
    assert_eq!(report.outcome, RunOutcome::Success, "{:?}", report.error);
    assert_eq!(recorded.records.len(), 1);
    assert_eq!(up.hits(), 2, "one short page, then an empty one");
}

/// Restsearch page 1 as a later version of its first event would be served:
/// 192.0.2.10 with `to_ids` turned off.
fn page1_ids_off() -> Vec<u8> {
    let mut page: Value = serde_json::from_slice(&fixture_bytes(
        "misp/restsearch/events-restsearch-page1.json",
    ))
    .unwrap();
    let event = &mut page["response"][0]["Event"];
    event["timestamp"] = j!("1735900000");
    for a in event["Attribute"].as_array_mut().unwrap() {
        if a["value"] == "192.0.2.10" {
            a["to_ids"] = j!("0");
            a["timestamp"] = j!("1735900000");
        }
    }
    page["response"].as_array_mut().unwrap().truncate(1);
    page.to_string().into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restsearch_deleted_and_non_ids_attributes_are_retractions() {
    let up = serve(move |_, _, raw| {
        let query = body(raw);
        if query.get("timestamp").is_some() {
            return if query["page"] == 1 {
                json(page1_ids_off())
            } else {
                json(fixture_bytes(
                    "misp/restsearch/events-restsearch-empty.json",
                ))
            };
        }
        let rel = match query["page"].as_u64() {
            Some(1) => "misp/restsearch/events-restsearch-page1.json",
            Some(2) => "misp/restsearch/events-restsearch-page2.json",
            _ => "misp/restsearch/events-restsearch-empty.json",
        };
        json(fixture_bytes(rel))
    })
    .await;
    let src = source("misp", &up.base, 2);
    let (first, report) = Recorder::run(&src, None).await;
    assert_eq!(report.outcome, RunOutcome::Success, "{:?}", report.error);
    let withdrawn = first.withdrawn();
    for want in [
        ("ipv4:192.0.2.11", RetractReason::Deleted),
        ("cve:CVE-2021-44228", RetractReason::FalsePositive),
        ("domain:www.example.com", RetractReason::FalsePositive),
    ] {
        assert!(
            withdrawn.iter().any(|(i, r)| i == want.0 && *r == want.1),
            "{want:?} not in {withdrawn:?}"
        );
    }
    let active: Vec<String> = first
        .sightings()
        .iter()
        .map(|s| s.indicator.to_string())
        .collect();
    assert!(active.contains(&"ipv4:192.0.2.10".to_owned()));
    // Deleted attributes are no sightings; `to_ids` off ones are kept as
    // context (and withdrawn, so they are stored retired).
    assert!(!active.iter().any(|a| {
        withdrawn
            .iter()
            .any(|(w, r)| w == a && *r == RetractReason::Deleted)
    }));
    assert!(active.contains(&"cve:CVE-2021-44228".to_owned()));

    // The next version of the event turns to_ids off: the sighting is withdrawn.
    let cursor = report.cursor.unwrap();
    let (later, report) = Recorder::run(&src, Some(&cursor)).await;
    assert_eq!(report.outcome, RunOutcome::Success, "{:?}", report.error);
    assert!(
        later
            .withdrawn()
            .contains(&("ipv4:192.0.2.10".to_owned(), RetractReason::FalsePositive)),
        "{:?}",
        later.withdrawn()
    );
    assert!(
        later
            .sightings()
            .iter()
            .any(|s| s.indicator.to_string() == "ipv4:192.0.2.10"
                && s.confidence == Some(rexist_formats::misp::CONFIDENCE_CONTEXT)),
        "kept as context, of low confidence"
    );
    let cursor = report.cursor.unwrap();
    assert!(cursor.contains("1735900000"), "{cursor}");
}

const FEED_EVENT: &str = "1f2ae2f4-48b3-5c9c-ace1-39ab6548bbed";

/// The synthetic feed event with its domain attribute deleted and its URL's
/// `to_ids` off, and the manifest whose digest matches it.
fn rewritten_feed() -> (Vec<u8>, Vec<u8>) {
    let mut event: Value =
        serde_json::from_slice(&fixture_bytes(&format!("misp/feed/{FEED_EVENT}.json"))).unwrap();
    for a in event["Event"]["Attribute"].as_array_mut().unwrap() {
        match a["type"].as_str().unwrap() {
            "domain" => a["deleted"] = j!(true),
            "url" => a["to_ids"] = j!(false),
            _ => {}
        }
    }
    let event = event.to_string().into_bytes();
    let mut manifest: Value =
        serde_json::from_slice(&fixture_bytes("misp/feed/manifest.json")).unwrap();
    manifest[FEED_EVENT]["integrity:sha256"] = j!(rexist_core::indicator::sha256_hex(&event));
    (event, manifest.to_string().into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_deleted_and_non_ids_attributes_are_retractions_oldest_event_first() {
    let (event, manifest) = rewritten_feed();
    let paths: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&paths);
    let fail_newest = Arc::new(AtomicUsize::new(0));
    let fail = Arc::clone(&fail_newest);
    let up = serve(move |path, _, _| {
        log.lock().unwrap().push(path.to_owned());
        let name = path.rsplit('/').next().unwrap_or_default();
        if name == "manifest.json" {
            return json(manifest.clone());
        }
        if name == format!("{FEED_EVENT}.json") {
            if fail.load(Ordering::SeqCst) == 1 {
                return (
                    response("503 Service Unavailable", "", b""),
                    std::time::Duration::ZERO,
                );
            }
            return json(event.clone());
        }
        json(fixture_bytes(&format!("misp/feed/{name}")))
    })
    .await;
    let src = source("misp-feed", &format!("{}/feed/", up.base), 100);

    let (recorded, report) = Recorder::run(&src, None).await;
    assert_eq!(report.outcome, RunOutcome::Success, "{:?}", report.error);
    let seen = paths.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            "/feed/manifest.json",
            "/feed/57c4445b-c548-4654-af0b-4be3950d210f.json",
            &format!("/feed/{FEED_EVENT}.json"),
        ],
        "the manifest, then events oldest first"
    );
    let mut withdrawn = recorded.withdrawn();
    withdrawn.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        withdrawn,
        [
            (
                "domain:loader.example.net".to_owned(),
                RetractReason::Deleted
            ),
            (
                "url:https://loader.example.net/p/stage2".to_owned(),
                RetractReason::FalsePositive
            ),
        ]
    );
    assert!(report.cursor.unwrap().contains("1735707200"));

    // The newer event fails: the older one is a checkpoint.
    fail_newest.store(1, Ordering::SeqCst);
    let (_, report) = Recorder::run(&src, None).await;
    assert_eq!(report.outcome, RunOutcome::Partial, "{:?}", report.error);
    assert_eq!(
        report.cursor.as_deref(),
        Some(r#"{"timestamp":1472541011}"#)
    );
}
