//! An OTX source against a loopback server serving the shared OTX pages:
//! paging followed to the end, a second run stores nothing new, failures
//! keep the cursor, and the API key stays out of run records.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::common::{fetcher, json};
use rexist_connectors::source::{ResolvedSource, SourceConfig};
use rexist_core::{IndicatorType, RunOutcome};
use rexist_pipeline::run_source;
use rexist_store::ItemQuery;
use rexist_testkit::{fixture_bytes, response, serve};

const KEY: &str = "otx-test-key-5f1e";

fn otx(base: &str, dir: &tempfile::TempDir) -> ResolvedSource {
    let key = dir.path().join("otx.key");
    std::fs::write(&key, KEY).unwrap();
    let table = format!(
        "name = \"otx\"\nkind = \"otx\"\nurl = \"{base}\"\npage_size = 2\n[headers_file]\n\"X-OTX-API-KEY\" = \"{}\"\n",
        key.display()
    );
    let config: SourceConfig = toml::from_str(&table).unwrap();
    config.resolve().unwrap()
}

/// Page 1 with its `next` rewritten to the loopback server.
fn page1(base: &str) -> Vec<u8> {
    String::from_utf8(fixture_bytes("otx/pulses-subscribed-page1.json"))
        .unwrap()
        .replace("https://otx.alienvault.com", base)
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulses_are_paged_stored_once_and_resumed_from_the_cursor() {
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
        if path.contains("page=2") {
            json(fixture_bytes("otx/pulses-subscribed-page2.json"))
        } else {
            json(page1(&base))
        }
    })
    .await;
    *base.lock().unwrap() = up.base.clone();
    let source = otx(&up.base, &dir);

    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &source,
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);
    assert_eq!(up.hits(), 2, "both pages fetched");
    // Pulses are events; the actors and malware they name are items too.
    let items = store
        .search_items(&ItemQuery {
            kind: Some(rexist_core::ItemKind::Event),
            limit: 100,
            ..ItemQuery::default()
        })
        .await
        .unwrap();
    let pulses = items.items.len();
    assert!(pulses >= 2, "{pulses} pulses");
    assert_eq!(run.counts.new, pulses as u64);
    let c2 = store
        .indicator(IndicatorType::Ipv4, "192.0.2.10")
        .await
        .unwrap()
        .expect("the pulse's indicator is stored");
    let sightings = store.sightings_of(c2.id).await.unwrap();
    assert!(
        sightings[0].labels.iter().any(|l| l == "phishing"),
        "{sightings:?}"
    );
    assert!(
        run.cursor
            .as_deref()
            .unwrap()
            .contains("2025-01-04T12:00:00"),
        "{:?}",
        run.cursor
    );
    let first = requests.lock().unwrap()[0].clone();
    assert!(
        first.contains("GET /api/v1/pulses/subscribed?limit=2 "),
        "{first}"
    );
    assert!(
        first
            .to_ascii_lowercase()
            .contains(&format!("x-otx-api-key: {KEY}"))
    );

    // again: modified_since the cursor less the overlap, nothing new
    let again = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &source,
    )
    .await
    .unwrap();
    assert_eq!(again.outcome, RunOutcome::Success);
    assert_eq!(again.counts.new, 0);
    let third = requests.lock().unwrap()[2].clone();
    assert!(
        third.contains("modified_since=2025-01-04T11:50:00Z"),
        "{third}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_keep_the_cursor_and_never_show_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    // 401, then a page whose next link leaves the server, then a truncated page
    let up = serve(|_, n, _| match n {
        0 => (
            response(
                "403 Forbidden",
                "Content-Type: application/json\r\n",
                &fixture_bytes("otx/error-403.json"),
            ),
            Duration::ZERO,
        ),
        1 => json(page1("https://elsewhere.example")),
        _ => json(fixture_bytes("otx/pulses-subscribed-bad.json")),
    })
    .await;
    let source = otx(&up.base, &dir);
    let denied = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &source,
    )
    .await
    .unwrap();
    assert_eq!(denied.outcome, RunOutcome::Failed);
    let reason = denied.error.clone().unwrap();
    assert!(reason.contains("403"), "{reason}");
    assert_eq!(denied.cursor, None);

    let leaving = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &source,
    )
    .await
    .unwrap();
    assert_eq!(
        leaving.outcome,
        RunOutcome::Partial,
        "page 1 stored, next refused"
    );
    assert!(
        leaving.error.as_deref().unwrap().contains("not followed"),
        "{:?}",
        leaving.error
    );
    assert_eq!(
        leaving.cursor, None,
        "the cursor moves only when every page is stored"
    );
    assert!(leaving.counts.new > 0);

    let bad = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &source,
    )
    .await
    .unwrap();
    assert_eq!(bad.outcome, RunOutcome::Failed);
    assert!(
        bad.error.as_deref().unwrap().contains("page 1"),
        "{:?}",
        bad.error
    );
    for run in store.list_runs(None, None, 10).await.unwrap() {
        let text = format!("{run:?}");
        assert!(!text.contains(KEY), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulses_of_chosen_users_are_pulled_too() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    let paths: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&paths);
    let up = serve(move |path, _, _| {
        log.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(path.to_owned());
        if path.starts_with("/api/v1/pulses/user/") {
            json(fixture_bytes("otx/pulses-subscribed-page2.json"))
        } else {
            json(fixture_bytes("otx/pulses-subscribed-empty.json"))
        }
    })
    .await;
    let key = dir.path().join("otx.key");
    std::fs::write(&key, KEY).unwrap();
    let table = format!(
        "name = \"otx\"\nkind = \"otx\"\nurl = \"{}\"\notx_users = [\"AlienVault\", \"a b\"]\n[headers_file]\n\"X-OTX-API-KEY\" = \"{}\"\n",
        up.base,
        key.display()
    );
    let source = toml::from_str::<SourceConfig>(&table)
        .unwrap()
        .resolve()
        .unwrap();
    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &source,
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);
    assert!(run.counts.new > 0, "{:?}", run.counts);
    let seen = paths.lock().unwrap().clone();
    assert!(
        seen[0].starts_with("/api/v1/pulses/subscribed?"),
        "{seen:?}"
    );
    assert!(
        seen[1].starts_with("/api/v1/pulses/user/AlienVault?limit=100"),
        "{seen:?}"
    );
    assert!(
        seen[2].starts_with("/api/v1/pulses/user/a%20b?"),
        "{seen:?}"
    );
}

/// A pulse whose next version no longer lists an indicator has withdrawn it
/// from that pulse: that sighting is retired as deleted, the others stay,
/// and the same indicator in another pulse of the source stays listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_indicator_dropped_from_a_pulse_is_retired_in_that_pulse_only() {
    fn pulse(id: &str, modified: &str, values: &[&str]) -> serde_json::Value {
        let indicators: Vec<serde_json::Value> = values
            .iter()
            .enumerate()
            .map(|(n, v)| {
                serde_json::json!({"id": n, "indicator": v, "type": "IPv4",
                    "created": "2025-01-04T00:00:00", "is_active": 1})
            })
            .collect();
        serde_json::json!({"id": id, "name": format!("pulse {id}"), "modified": modified,
            "created": "2025-01-04T00:00:00", "tlp": "white", "tags": [], "references": [],
            "malware_families": [], "indicators": indicators})
    }
    let version = Arc::new(Mutex::new(1));
    let v = Arc::clone(&version);
    let up = serve(move |_, _, _| {
        let results = if *v.lock().unwrap_or_else(PoisonError::into_inner) == 1 {
            vec![
                pulse("aaa", "2025-01-04T10:00:00", &["192.0.2.1", "192.0.2.2"]),
                pulse("bbb", "2025-01-04T10:00:00", &["192.0.2.2"]),
            ]
        } else {
            vec![pulse("aaa", "2025-01-05T10:00:00", &["192.0.2.1"])]
        };
        json(
            serde_json::json!({"count": results.len(), "next": null, "results": results})
                .to_string(),
        )
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    let source = otx(&up.base, &dir);
    let ingest = rexist_pipeline::Ingest::new(store.clone(), None);
    let first = run_source(&ingest, &fetcher(), &source).await.unwrap();
    assert_eq!(first.outcome, RunOutcome::Success, "{:?}", first.error);
    *version.lock().unwrap_or_else(PoisonError::into_inner) = 2;
    let second = run_source(&ingest, &fetcher(), &source).await.unwrap();
    assert_eq!(second.outcome, RunOutcome::Success, "{:?}", second.error);

    let sightings = |value: &'static str| {
        let store = store.clone();
        async move {
            let rec = store
                .indicator(IndicatorType::Ipv4, value)
                .await
                .unwrap()
                .unwrap();
            (rec.status, store.sightings_of(rec.id).await.unwrap())
        }
    };
    let (_, two) = sightings("192.0.2.2").await;
    assert_eq!(two.len(), 2, "one in each pulse: {two:?}");
    let retired: Vec<_> = two.iter().filter(|s| !s.listed).collect();
    assert_eq!(retired.len(), 1, "only the sighting in pulse aaa: {two:?}");
    assert_eq!(
        retired[0].retired_reason,
        Some(rexist_core::RetractReason::Deleted)
    );
    let (status, one) = sightings("192.0.2.1").await;
    assert!(one.iter().all(|s| s.listed), "{one:?}");
    assert_eq!(status, rexist_core::IndicatorStatus::Active);
}

/// The shared OTX pages name an adversary, a malware family in two pulses
/// (as a string and as an object), and ATT&CK techniques: each becomes one
/// entity item, linked to its pulses, with ATT&CK's names; a hunt following
/// the adversary by another spelling hits its pulse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulses_name_threat_entities_once_across_pulses() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    store
        .create_hunt(&rexist_core::HuntSpec {
            name: "follow-panda".to_owned(),
            kind: rexist_core::HuntKind::Query,
            definition: "entity:\"example-PANDA\"".to_owned(),
            enabled: true,
            channels: Vec::new(),
            digest_secs: None,
            tlp: rexist_core::HuntSpec::DEFAULT_TLP,
        })
        .await
        .unwrap();
    let base: Arc<Mutex<String>> = Arc::default();
    let b = Arc::clone(&base);
    let up = serve(move |path, _, _| {
        let base = b.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if path.contains("page=2") {
            json(fixture_bytes("otx/pulses-subscribed-page2.json"))
        } else {
            json(page1(&base))
        }
    })
    .await;
    *base.lock().unwrap() = up.base.clone();
    let source = otx(&up.base, &dir);
    let ingest = rexist_pipeline::Ingest::new(store.clone(), None);
    let run = run_source(&ingest, &fetcher(), &source).await.unwrap();
    assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);

    let of_kind = |kind| {
        let store = store.clone();
        async move {
            store
                .search_items(&ItemQuery {
                    kind: Some(kind),
                    limit: 100,
                    ..ItemQuery::default()
                })
                .await
                .unwrap()
                .items
        }
    };
    let actors = of_kind(rexist_core::ItemKind::ThreatActor).await;
    assert_eq!(actors.len(), 1, "{actors:?}");
    assert_eq!(actors[0].content.title, "Example Panda");
    let malware = of_kind(rexist_core::ItemKind::Malware).await;
    assert_eq!(
        malware.len(),
        1,
        "one ExampleLoader for two pulses: {malware:?}"
    );
    let techniques = of_kind(rexist_core::ItemKind::AttackPattern).await;
    let titles: Vec<&str> = techniques
        .iter()
        .map(|t| t.content.title.as_str())
        .collect();
    assert!(
        titles.contains(&"Phishing: Spearphishing Attachment"),
        "{titles:?}"
    );
    assert!(titles.contains(&"Application Layer Protocol"), "{titles:?}");

    let loader = store
        .entity_facts(malware[0].id, rexist_core::Tlp::Red, 50)
        .await
        .unwrap();
    assert_eq!(loader.items_total, 2, "both pulses name it");
    let panda = store
        .entity_facts(actors[0].id, rexist_core::Tlp::Red, 50)
        .await
        .unwrap();
    assert_eq!(panda.items_total, 1);
    assert!(
        panda.indicators.iter().any(|i| i.value == "192.0.2.10"),
        "the pulse's indicators are the actor's: {:?}",
        panda.indicators
    );
    assert!(panda.related.iter().any(|(e, _)| e.id == malware[0].id));

    let c2 = store
        .indicator(IndicatorType::Ipv4, "192.0.2.10")
        .await
        .unwrap()
        .unwrap();
    let named = store
        .indicator_entities(c2.id, rexist_core::Tlp::Red)
        .await
        .unwrap();
    assert!(named.iter().any(|e| e.content.title == "Example Panda"));

    let hits = store
        .list_hits(&rexist_store::HitQuery::default())
        .await
        .unwrap();
    assert_eq!(hits.items.len(), 1, "{hits:?}");
    assert_eq!(
        hits.items[0].object,
        rexist_core::HitObject::Item(panda.items[0].id)
    );

    // A second run changes nothing and makes no second entity.
    let again = run_source(&ingest, &fetcher(), &source).await.unwrap();
    assert_eq!(again.outcome, RunOutcome::Success, "{:?}", again.error);
    assert_eq!(of_kind(rexist_core::ItemKind::ThreatActor).await.len(), 1);

    // Linking every stored item again (after an upgrade) finds the same two
    // pulses and makes nothing new.
    let (scanned, linked) = rexist_pipeline::entities::link_stored(store.as_ref())
        .await
        .unwrap();
    assert!(scanned >= 3, "{scanned}");
    assert_eq!(linked, 2);
    assert_eq!(of_kind(rexist_core::ItemKind::ThreatActor).await.len(), 1);
    assert_eq!(
        store
            .entity_facts(malware[0].id, rexist_core::Tlp::Red, 50)
            .await
            .unwrap()
            .items_total,
        2
    );
}
