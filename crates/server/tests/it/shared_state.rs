//! State several nodes share through one store, and a restart keeps:
//! retro-hunts queued on one node's API run on a worker and report back to
//! any node, a TAXII status posted to one node is read on another, and an
//! enrichment answer one node fetched is served by another without asking
//! the provider again. Each test runs on SQLite and, when
//! `REXIST_TEST_DATABASE_URL` is set, on PostgreSQL (a schema of its own).

use crate::common::item;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use rexist_core::model::now;
use rexist_core::{IndicatorType, NewItem, Role};
use rexist_pipeline::liveness::Liveness;
use rexist_pipeline::scheduler::{self, SchedulerOptions, Stop};
use rexist_server::taxii::{CollectionConfig, TaxiiConfig};
use rexist_server::{AppState, router};
use rexist_store::Store;
use serde_json::{Value, json};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::common::{backends, call};

/// One node's scheduler with no sources, beating fast: its workers run the
/// jobs other nodes queue.
pub struct Worker {
    drain: watch::Sender<bool>,
    cut: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Worker {
    /// Starts the workers of node `node` over `store`.
    pub fn start(store: &Arc<dyn Store>, node: &str) -> Self {
        let (drain, drain_rx) = watch::channel(false);
        let (cut, cut_rx) = watch::channel(false);
        let options = SchedulerOptions {
            tick: Duration::from_millis(50),
            liveness: Liveness::from_heartbeat(Duration::from_millis(100)),
            workers: 1,
            node: node.to_owned(),
        };
        let fetcher =
            rexist_connectors::http::Fetcher::new(rexist_connectors::http::FetchOptions::default())
                .unwrap();
        let task = tokio::spawn(scheduler::run(
            rexist_pipeline::Ingest::new(Arc::clone(store), None),
            Arc::new(fetcher),
            Vec::new(),
            options,
            Stop {
                drain: drain_rx,
                cut: cut_rx,
            },
        ));
        Self { drain, cut, task }
    }

    /// Stops the workers, cutting what they run short.
    pub async fn stop(self) {
        let _ = self.drain.send(true);
        let _ = self.cut.send(true);
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the scheduler stops")
            .unwrap();
    }
}

/// Polls `GET /api/v1/hunts/{name}` on `app` until its retro-hunt is `want`.
pub async fn retro_state(app: &axum::Router, name: &str, want: &str) -> Value {
    let mut retro = Value::Null;
    for _ in 0..300 {
        let (_, b) = call(app, "GET", &format!("/api/v1/hunts/{name}"), None).await;
        retro = b["retro"].clone();
        if retro["state"] == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    retro
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retro_hunt_queued_on_one_node_runs_on_a_worker_and_reports_on_another() {
    for b in backends().await {
        let store = &b.store;
        // Two web nodes over one store; neither runs the retro-hunt itself.
        let node_a = router(AppState::new(Arc::clone(store)).with_anonymous(Role::Admin));
        let node_b = router(AppState::new(Arc::clone(store)).with_anonymous(Role::Admin));
        let source = crate::common::news_source(store).await;
        let items: Vec<NewItem> = (0..25)
            .map(|n| {
                let title = if n % 10 == 0 {
                    format!("ransomware wave {n}")
                } else {
                    format!("quiet day {n}")
                };
                item(&format!("i{n}"), &title)
            })
            .collect();
        store.upsert_items(source.id, &items).await.unwrap();
        let (s, body) = call(
            &node_a,
            "POST",
            "/api/v1/hunts",
            Some(json!({"name": "ransom", "query": "ransomware"})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{}: {body}", b.name);
        assert!(body["retro"].is_null(), "{body}");

        let (s, body) = call(&node_a, "POST", "/api/v1/hunts/ransom/retro", None).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{}: {body}", b.name);
        assert_eq!(body["retro"]["state"], "queued", "{body}");
        assert_eq!(body["retro"]["scanned"], 0);
        assert!(body["retro"]["queued_at"].is_string(), "{body}");
        assert!(body["retro"]["started_at"].is_null(), "{body}");
        // Queued is queued on every node, and a second start is refused.
        let (s, body) = call(&node_b, "POST", "/api/v1/hunts/ransom/retro", None).await;
        assert_eq!(s, StatusCode::CONFLICT, "{}: {body}", b.name);
        let (_, listed) = call(&node_b, "GET", "/api/v1/hunts", None).await;
        assert_eq!(listed[0]["retro"]["state"], "queued", "{listed}");

        // A worker (a third node) takes the job; node B sees the end.
        let worker = Worker::start(store, "worker");
        let retro = retro_state(&node_b, "ransom", "done").await;
        assert_eq!(retro["state"], "done", "{}: {retro}", b.name);
        assert_eq!(retro["scanned"], 25, "{retro}");
        assert_eq!(retro["hits"], 3, "{retro}");
        assert!(retro["error"].is_null(), "{retro}");
        assert!(retro["started_at"].is_string() && retro["finished_at"].is_string());
        let (_, hits) = call(&node_a, "GET", "/api/v1/hits?hunt=ransom", None).await;
        assert_eq!(hits["items"].as_array().unwrap().len(), 3, "{hits}");
        assert_eq!(hits["items"][0]["retro"], true);

        // Finished, it may start again; a new run finds no new hits.
        let (s, body) = call(&node_b, "POST", "/api/v1/hunts/ransom/retro", None).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{}: {body}", b.name);
        let retro = retro_state(&node_a, "ransom", "done").await;
        assert_eq!(
            (retro["scanned"].as_u64(), retro["hits"].as_u64()),
            (Some(25), Some(0)),
            "{retro}"
        );
        worker.stop().await;

        // Bad input: an unknown hunt is 404, never a queued job.
        let (s, _) = call(&node_a, "POST", "/api/v1/hunts/nope/retro", None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(store.stats().await.unwrap().jobs_pending, 0);
        b.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retro_hunt_of_a_dead_worker_is_marked_interrupted_and_run_again() {
    for b in backends().await {
        let store = &b.store;
        let node = router(AppState::new(Arc::clone(store)).with_anonymous(Role::Admin));
        let (s, _) = call(
            &node,
            "POST",
            "/api/v1/hunts",
            Some(json!({"name": "watch", "watch": "192.0.2.1"})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _) = call(&node, "POST", "/api/v1/hunts/watch/retro", None).await;
        assert_eq!(s, StatusCode::ACCEPTED);
        // A worker that leased the job, said it was running, then died.
        // Its lease outlasts the staleness margin, as a real one does, so
        // the interrupted state is seen before the job is run again.
        let job = store
            .lease_job("dead", &[scheduler::HUNT_RETRO], Duration::from_secs(2))
            .await
            .unwrap()
            .expect("the queued job");
        let hunt = store.hunt_by_name("watch").await.unwrap().unwrap();
        let mut running = store.retro_hunts(Some(hunt.id)).await.unwrap().remove(0);
        running.status = rexist_store::RetroStatus::Running;
        running.started_at = Some(now());
        store.save_retro_hunt(&running).await.unwrap();
        let (_, body) = call(&node, "GET", "/api/v1/hunts/watch", None).await;
        assert_eq!(body["retro"]["state"], "running", "{body}");

        // Any live node's sweep marks it interrupted; once the job's lease
        // runs out a live worker runs it again to the end.
        let worker = Worker::start(store, "alive");
        let retro = retro_state(&node, "watch", "interrupted").await;
        assert_eq!(retro["state"], "interrupted", "{}: {retro}", b.name);
        assert!(
            retro["error"]
                .as_str()
                .unwrap_or_default()
                .contains("heartbeat"),
            "{retro}"
        );
        let retro = retro_state(&node, "watch", "done").await;
        assert_eq!(retro["state"], "done", "{}: {retro}", b.name);
        assert!(
            !store.complete_job(job.id, "dead").await.unwrap(),
            "the dead worker's lease is gone"
        );
        worker.stop().await;
        b.cleanup().await;
    }
}

const TAXII: &str = "application/taxii+json;version=2.1";
const INBOX_ID: &str = "0d3b6f7e-3f55-4d0c-8a8e-5a2f8f1f0a01";

fn taxii_node(store: &Arc<dyn Store>) -> axum::Router {
    let config = TaxiiConfig {
        collections: vec![CollectionConfig {
            id: INBOX_ID.into(),
            title: "inbox".into(),
            description: None,
            alias: Some("inbox".into()),
            types: vec![],
            source: None,
            tag: None,
            min_score: None,
            tlp: None,
            active_only: true,
            writable: true,
            write_source: None,
        }],
        ..TaxiiConfig::default()
    };
    router(
        AppState::new(Arc::clone(store))
            .with_taxii(config)
            .with_anonymous(Role::Admin),
    )
}

async fn taxii(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("accept", TAXII);
    if body.is_some() {
        req = req.header("content-type", TAXII);
    }
    let req = req
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taxii_status_posted_to_one_node_is_read_on_another() {
    for b in backends().await {
        let node_a = taxii_node(&b.store);
        let envelope = json!({"objects": [
            {"type": "indicator", "spec_version": "2.1",
             "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
             "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-02T00:00:00.000Z",
             "name": "bad host", "pattern": "[ipv4-addr:value = '203.0.113.7']",
             "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"},
            {"type": "indicator", "spec_version": "2.1", "id": "indicator--0b0b0b0b-0000-4000-8000-000000000000"}
        ]});
        let (s, status) = taxii(
            &node_a,
            "POST",
            "/taxii2/api/collections/inbox/objects/",
            Some(&envelope),
        )
        .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{}: {status}", b.name);
        assert_eq!(
            (
                status["total_count"].as_u64(),
                status["success_count"].as_u64(),
                status["failure_count"].as_u64()
            ),
            (Some(2), Some(1), Some(1)),
            "{status}"
        );
        let id = status["id"].as_str().unwrap().to_owned();

        // Another node over the same store — or this one after a restart,
        // which is the same thing: nothing in memory — answers it.
        let node_b = taxii_node(&b.store);
        let (s, read) = taxii(&node_b, "GET", &format!("/taxii2/api/status/{id}/"), None).await;
        assert_eq!(s, StatusCode::OK, "{}: {read}", b.name);
        assert_eq!(read, status);

        // Unknown and malformed ids are 404 with a TAXII error, never a 500.
        for bad in ["nope", "%00", "a%27%20OR%201=1", &"f".repeat(300)] {
            let (s, err) = taxii(&node_b, "GET", &format!("/taxii2/api/status/{bad}/"), None).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{bad}: {err}");
            assert_eq!(err["http_status"], "404", "{err}");
        }
        b.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrichment_answer_fetched_by_one_node_is_served_by_another() {
    for b in backends().await {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("otx.key");
        std::fs::write(&key, "otx-test-key").unwrap();
        // The stub echoes the key back, as a careless upstream might: the
        // stored answer must not keep it.
        let mut reply: Value = serde_json::from_slice(&rexist_testkit::fixture_bytes(
            "otx/indicator-IPv4-192.0.2.10-general.json",
        ))
        .unwrap();
        reply["echo"] = json!("otx-test-key");
        let reply = reply.to_string().into_bytes();
        let upstream = rexist_testkit::serve(move |_, _, _| {
            (
                rexist_testkit::response("200 OK", "Content-Type: application/json\r\n", &reply),
                Duration::ZERO,
            )
        })
        .await;
        let node = |store: &Arc<dyn Store>| {
            let enricher = rexist_enrich::Enricher::new(&[rexist_enrich::EnrichConfig {
                name: "otx".into(),
                kind: "otx".into(),
                base_url: Some(upstream.base.clone()),
                key_file: Some(key.display().to_string()),
                ..rexist_enrich::EnrichConfig::default()
            }])
            .unwrap()
            .with_shared_cache(Arc::new(rexist_lookup::StoreCache::new(Arc::clone(store))));
            let lookup = rexist_lookup::Lookup::new(
                Arc::clone(store),
                None,
                Some(Arc::new(enricher)),
                rexist_lookup::Lifetimes::default(),
            );
            router(
                AppState::new(Arc::clone(store))
                    .with_lookup(lookup)
                    .with_anonymous(Role::Analyst),
            )
        };
        let (node_a, node_b) = (node(&b.store), node(&b.store));
        let uri = "/api/v1/lookup/192.0.2.10?enrich=true";
        let (s, first) = call(&node_a, "GET", uri, None).await;
        assert_eq!(s, StatusCode::OK, "{}: {first}", b.name);
        assert_eq!(first["enrichment"][0]["status"], "ok", "{first}");
        assert_eq!(first["enrichment"][0]["cached"], false);
        let asked = upstream.hits();
        assert!(asked >= 1);

        let (s, second) = call(&node_b, "GET", uri, None).await;
        assert_eq!(s, StatusCode::OK, "{second}");
        assert_eq!(
            upstream.hits(),
            asked,
            "{}: node B did not ask the provider again",
            b.name
        );
        let (x, y) = (&first["enrichment"][0], &second["enrichment"][0]);
        assert_eq!(y["cached"], true, "{second}");
        assert_eq!(
            (&y["status"], &y["summary"], &y["fetched_at"]),
            (&x["status"], &x["summary"], &x["fetched_at"])
        );

        let kept = b
            .store
            .cached_enrichment("otx", IndicatorType::Ipv4, "192.0.2.10", now())
            .await
            .unwrap()
            .expect("the answer is in the store");
        assert!(!kept.answer.contains("otx-test-key"), "{}", kept.answer);
        assert!(kept.expires_at > now());
        b.cleanup().await;
    }
}
