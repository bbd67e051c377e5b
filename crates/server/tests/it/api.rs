//! The router over a temporary SQLite store: home page, health, metrics and
//! the REST API answer as documented, and bad requests get the one error body.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use rexist_core::model::now;
use rexist_core::{Indicator, IndicatorType, ItemKind, NewItem, NewSighting, SourceSpec, Tlp};
use rexist_server::{AppState, router};
use rexist_store::Store;
use rexist_store::sqlite::SqliteStore;
use serde_json::Value;
use tower::ServiceExt;

async fn seeded() -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (store, source) = crate::common::file_store(dir.path(), "feed-a").await;
    let sightings: Vec<NewSighting> = ["evil.com", "evil.org", "good.net"]
        .iter()
        .map(|d| NewSighting::new(Indicator::parse(IndicatorType::Domain, d).unwrap(), now()))
        .chain(std::iter::once(NewSighting::new(
            Indicator::parse(IndicatorType::Cidr, "10.0.0.0/8").unwrap(),
            now(),
        )))
        .collect();
    store.upsert_sightings(&source, &sightings).await.unwrap();
    store
        .upsert_items(
            source.id,
            &[NewItem {
                kind: ItemKind::News,
                external_id: "n1".into(),
                title: "Emotet returns".into(),
                body: "Emotet <script> spam resumes".into(),
                url: None,
                lang: Some("en".into()),
                published_at: None,
                tlp: Tlp::Clear,
                tags: vec![],
                extra: serde_json::json!({}),
            }],
        )
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    (
        router(AppState::new(store).with_anonymous(rexist_core::Role::Admin)),
        dir,
    )
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String) {
    let res = app
        .clone()
        .oneshot(Request::builder().uri(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn get_json(app: &axum::Router, uri: &str) -> (StatusCode, Value) {
    let (status, body) = get(app, uri).await;
    (
        status,
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{uri}: {e}: {body}")),
    )
}

#[tokio::test]
async fn home_health_and_metrics() {
    let (app, _dir) = seeded().await;
    let (status, html) = get(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("<h1>Dashboard</h1>"),
        "the dashboard is the home page"
    );
    assert!(html.contains("feed-a"));
    let (status, health) = get_json(&app, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    let (status, metrics) = get(&app, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        metrics.contains("rexist_indicators{type=\"domain\"} 3"),
        "{metrics}"
    );
    assert!(metrics.contains("rexist_source_consecutive_failures{source=\"feed-a\"} 0"));
    assert!(metrics.contains("# TYPE rexist_http_responses_total counter"));
}

#[tokio::test]
async fn indicators_filter_and_page() {
    let (app, _dir) = seeded().await;
    let (_, all) = get_json(&app, "/api/v1/indicators?type=domain&limit=2").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let next = all["next"].as_str().unwrap();
    let (_, rest) = get_json(
        &app,
        &format!("/api/v1/indicators?type=domain&limit=2&cursor={next}"),
    )
    .await;
    assert_eq!(rest["items"][0]["value"], "good.net");
    assert!(rest["next"].is_null());

    let (_, exact) = get_json(&app, "/api/v1/indicators?value=EVIL.COM").await;
    assert_eq!(
        exact["items"][0]["value"], "evil.com",
        "value is canonicalised"
    );
    assert_eq!(exact["items"][0]["type"], "domain");
    let (_, prefix) = get_json(&app, "/api/v1/indicators?prefix=evil.").await;
    assert_eq!(prefix["items"].as_array().unwrap().len(), 2);

    let (status, detail) = get_json(&app, "/api/v1/indicators/cidr/10.0.0.0/8").await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["sightings"].as_array().unwrap().len(), 1);
    let (status, _) = get_json(&app, "/api/v1/indicators/domain/absent.example").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn items_sources_and_runs() {
    let (app, _dir) = seeded().await;
    let (_, found) = get_json(&app, "/api/v1/items?q=emotet").await;
    assert_eq!(found["items"][0]["title"], "Emotet returns");
    let id = found["items"][0]["id"].as_i64().unwrap();
    let (status, item) = get_json(&app, &format!("/api/v1/items/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(item["external_id"], "n1");
    let (_, none) = get_json(&app, "/api/v1/items?q=qakbot").await;
    assert!(none["items"].as_array().unwrap().is_empty());
    let (_, sources) = get_json(&app, "/api/v1/sources").await;
    assert_eq!(sources["items"][0]["name"], "feed-a");
    let (status, runs) = get_json(&app, "/api/v1/sources/feed-a/runs").await;
    assert_eq!(status, StatusCode::OK);
    assert!(runs["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn bad_requests_get_the_error_body() {
    let (app, _dir) = seeded().await;
    for (uri, status, needle) in [
        (
            "/api/v1/indicators?type=bogus",
            StatusCode::BAD_REQUEST,
            "parameter type",
        ),
        (
            "/api/v1/indicators?limit=ten",
            StatusCode::BAD_REQUEST,
            "invalid query string",
        ),
        (
            "/api/v1/indicators?colour=red",
            StatusCode::BAD_REQUEST,
            "unknown field",
        ),
        (
            "/api/v1/indicators?cursor=zzz",
            StatusCode::BAD_REQUEST,
            "invalid page cursor",
        ),
        (
            "/api/v1/indicators?type=ipv4&value=999.1.1.1",
            StatusCode::BAD_REQUEST,
            "parameter value",
        ),
        (
            "/api/v1/items?kind=tweet",
            StatusCode::BAD_REQUEST,
            "parameter kind",
        ),
        (
            "/api/v1/items?source=nope",
            StatusCode::BAD_REQUEST,
            "no source named",
        ),
        (
            "/api/v1/items/abc",
            StatusCode::BAD_REQUEST,
            "not an item id",
        ),
        ("/api/v1/items/999", StatusCode::NOT_FOUND, "no item 999"),
        ("/api/v1/sources/nope", StatusCode::NOT_FOUND, "no source"),
        (
            "/api/v1/nothing-here",
            StatusCode::NOT_FOUND,
            "no such API endpoint",
        ),
    ] {
        let (got, body) = get_json(&app, uri).await;
        assert_eq!(got, status, "{uri}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{uri}: {message}");
        assert!(body["error"]["code"].is_string());
    }
}

#[tokio::test]
async fn stale_sources_show_in_the_api_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("rexist.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    // Both have only failed. "hourly" failed a moment ago: not stale yet.
    // "every-second" has failed for over twice its schedule since its first run.
    for name in ["every-second", "hourly"] {
        let source = store
            .upsert_source(&SourceSpec {
                name: name.into(),
                kind: "csv".into(),
                enabled: true,
                confidence: 50,
                tlp: Tlp::Clear,
                tags: vec![],
            })
            .await
            .unwrap();
        let run = store.start_run(source.id).await.unwrap();
        store
            .finish_run(
                run.id,
                rexist_core::RunOutcome::Failed,
                &rexist_core::RunCounts::default(),
                None,
                Some("HTTP 500"),
            )
            .await
            .unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let store: Arc<dyn Store> = Arc::new(store);
    let schedules = [
        ("every-second".to_owned(), std::time::Duration::from_secs(1)),
        ("hourly".to_owned(), std::time::Duration::from_secs(3600)),
    ]
    .into_iter()
    .collect();
    let app = router(
        AppState::new(store)
            .with_anonymous(rexist_core::Role::Admin)
            .with_schedules(schedules),
    );
    let (_, sources) = get_json(&app, "/api/v1/sources").await;
    assert_eq!(sources["items"][0]["name"], "every-second");
    assert_eq!(sources["items"][0]["stale"], true);
    assert_eq!(sources["items"][0]["every_seconds"], 1);
    assert_eq!(sources["items"][0]["health"]["last_error"], "HTTP 500");
    assert!(sources["items"][0]["health"]["first_run_at"].is_string());
    assert_eq!(sources["items"][1]["stale"], false, "{sources}");
    assert_eq!(sources["items"][1]["every_seconds"], 3600);
    let (_, metrics) = get(&app, "/metrics").await;
    assert!(
        metrics.contains("rexist_source_stale{source=\"every-second\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rexist_source_stale{source=\"hourly\"} 0"),
        "{metrics}"
    );
}

async fn post(app: &axum::Router, uri: &str) -> (StatusCode, Value) {
    let res = app
        .clone()
        .oneshot(
            Request::builder()
                .method("POST")
                .uri(uri)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn configured_sources_can_be_run_and_toggled() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("rexist.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
        .upsert_source(&SourceSpec {
            name: "feodo".into(),
            kind: "feodo".into(),
            enabled: true,
            confidence: 90,
            tlp: Tlp::Clear,
            tags: vec![],
        })
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let schedules = [("feodo".to_owned(), std::time::Duration::from_secs(3600))]
        .into_iter()
        .collect();
    let app = router(
        AppState::new(Arc::clone(&store))
            .with_anonymous(rexist_core::Role::Admin)
            .with_schedules(schedules),
    );

    let (status, body) = post(&app, "/api/v1/sources/feodo/run").await;
    assert_eq!(
        (status, body["queued"].as_bool()),
        (StatusCode::ACCEPTED, Some(true))
    );
    let (_, again) = post(&app, "/api/v1/sources/feodo/run").await;
    assert_eq!(again["queued"], false, "one run per source at a time");
    assert_eq!(store.stats().await.unwrap().jobs_pending, 1);

    let (status, body) = post(&app, "/api/v1/sources/feodo/disable").await;
    assert_eq!(
        (status, body["enabled"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    assert!(
        !store
            .source_by_name("feodo")
            .await
            .unwrap()
            .unwrap()
            .enabled
    );
    let (_, body) = post(&app, "/api/v1/sources/feodo/enable").await;
    assert_eq!(body["enabled"], true);

    let (status, body) = post(&app, "/api/v1/sources/nope/run").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no configured source")
    );
}
