//! Curation through the REST API on SQLite and, when
//! `REXIST_TEST_DATABASE_URL` is set, on PostgreSQL: manual indicators and
//! event items, notes, false positives (out of lookups' good books, the EDL
//! export, TAXII and hunts), local sightings, hand labels, TLP raises and
//! score overrides — each audited, refused to viewers, and invisible above
//! the caller's clearance.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use rexist_core::model::now;
use rexist_core::{Indicator, IndicatorType, NewSighting, Role, SourceSpec, Tlp};
use rexist_server::admin::{TokenRequest, issue_token};
use rexist_server::{AppState, router};
use rexist_store::Store;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::common::backends;

/// Tokens of an analyst, a second analyst, a viewer and an admin.
struct Callers {
    analyst: String,
    other: String,
    viewer: String,
    admin: String,
}

async fn callers(store: &Arc<dyn Store>) -> Callers {
    let token = |name: &'static str, role| {
        let store = Arc::clone(store);
        async move {
            issue_token(
                store.as_ref(),
                &TokenRequest {
                    name: name.into(),
                    role,
                    scopes: vec![],
                    expires_days: None,
                },
            )
            .await
            .unwrap()
            .1
        }
    };
    Callers {
        analyst: token("alice", Role::Analyst).await,
        other: token("bob", Role::Analyst).await,
        viewer: token("vic", Role::Viewer).await,
        admin: token("root", Role::Admin).await,
    }
}

/// Sends `method uri` as the holder of `token`, with `body` as JSON; the
/// status and the answer (JSON, else text as a string).
async fn send(
    app: &axum::Router,
    token: &str,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

fn message(v: &Value) -> &str {
    v["error"]["message"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analysts_curate_through_the_api_on_both_backends() {
    for backend in backends().await {
        curate_through_the_api(backend.name, &backend.store).await;
        backend.cleanup().await;
    }
}

async fn curate_through_the_api(backend: &str, store: &Arc<dyn Store>) {
    let who = callers(store).await;
    let app = router(AppState::new(Arc::clone(store)));
    let a = who.analyst.as_str();
    let ind = "/api/v1/indicators/domain/evil.example";

    // A manual indicator: defanged input, its author, labels and a note.
    let (status, body) = send(
        &app,
        a,
        "POST",
        "/api/v1/indicators",
        Some(
            json!({"type": "domain", "value": "evil[.]example", "tlp": "green",
                    "labels": ["phishing"], "note": "from a user report"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{backend}: {body}");
    assert_eq!(body["value"], "evil.example");
    assert_eq!(body["tlp"], "green");
    assert_eq!(body["sightings"][0]["author"], "token:alice");
    assert_eq!(body["labels"], json!(["phishing"]));
    assert_eq!(body["notes"][0]["text"], "from a user report");
    assert_eq!(body["notes"][0]["author"], "token:alice");
    let (_, manual) = send(&app, a, "GET", "/api/v1/sources/manual", None).await;
    assert_eq!(manual["kind"], "manual", "{backend}: {manual}");
    assert_eq!(manual["enabled"], false);
    let (status, _) = send(
        &app,
        &who.admin,
        "POST",
        "/api/v1/sources/manual/disable",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not a configured source");
    // The type is detected when absent.
    let (status, body) = send(
        &app,
        a,
        "POST",
        "/api/v1/indicators",
        Some(json!({"value": "hxxp://evil[.]example/a/notes", "tlp": "green"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (body["type"].as_str(), body["value"].as_str()),
        (Some("url"), Some("http://evil.example/a/notes"))
    );

    // Bad input names the field; a TLP above the clearance is refused.
    for (bad, field) in [
        (json!({"type": "ipv4", "value": "nope"}), "value"),
        (json!({"type": "colour", "value": "x"}), "type"),
        (json!({"value": "evil.example", "labels": [""]}), "labels"),
        (json!({"value": "evil.example", "note": " "}), "note"),
        (json!({"value": "evil.example", "what": 1}), "what"),
    ] {
        let (status, body) = send(&app, a, "POST", "/api/v1/indicators", Some(bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(message(&body).contains(field), "{field}: {body}");
    }
    let (status, body) = send(
        &app,
        a,
        "POST",
        "/api/v1/indicators",
        Some(json!({"value": "evil.example", "tlp": "red"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // Viewers write nothing.
    for (method, uri, body) in [
        (
            "POST",
            "/api/v1/indicators".to_owned(),
            json!({"value": "x.example"}),
        ),
        ("POST", format!("{ind}/notes"), json!({"text": "x"})),
        (
            "POST",
            format!("{ind}/false-positive"),
            json!({"reason": "x"}),
        ),
        ("DELETE", format!("{ind}/false-positive"), json!({})),
        ("POST", format!("{ind}/sightings"), json!({})),
        ("POST", format!("{ind}/labels"), json!({"add": ["x"]})),
        ("DELETE", format!("{ind}/labels/x"), json!({})),
        (
            "POST",
            format!("{ind}/tlp"),
            json!({"tlp": "amber", "reason": "x"}),
        ),
        ("DELETE", format!("{ind}/tlp"), json!({})),
        (
            "POST",
            format!("{ind}/score"),
            json!({"score": 1, "reason": "x"}),
        ),
        ("DELETE", format!("{ind}/score"), json!({})),
        ("POST", "/api/v1/items".to_owned(), json!({"title": "x"})),
        (
            "POST",
            "/api/v1/items/1/notes".to_owned(),
            json!({"text": "x"}),
        ),
        ("DELETE", "/api/v1/notes/1".to_owned(), json!({})),
    ] {
        let (status, _) = send(&app, &who.viewer, method, &uri, Some(body)).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{backend}: viewer {method} {uri}"
        );
    }

    // Notes: newest first, with author and time; a URL value keeps its slashes.
    let (status, note) = send(
        &app,
        a,
        "POST",
        &format!("{ind}/notes"),
        Some(json!({"text": "seen again"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    assert_eq!(note["author"], "token:alice");
    assert!(note["created_at"].is_string());
    let (status, body) = send(
        &app,
        a,
        "POST",
        &format!("{ind}/notes"),
        Some(json!({"text": "  "})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("text"), "{body}");
    let (status, _) = send(
        &app,
        a,
        "POST",
        "/api/v1/indicators/url/http://evil.example/a/notes/notes",
        Some(json!({"text": "on the URL"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, url) = send(
        &app,
        a,
        "GET",
        "/api/v1/indicators/url/http://evil.example/a/notes",
        None,
    )
    .await;
    assert_eq!(url["notes"][0]["text"], "on the URL", "{url}");
    let (_, detail) = send(&app, a, "GET", ind, None).await;
    let texts: Vec<&str> = detail["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["seen again", "from a user report"]);
    let (status, _) = send(
        &app,
        a,
        "POST",
        "/api/v1/indicators/domain/unknown.example/notes",
        Some(json!({"text": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(&app, a, "POST", &format!("{ind}/nonsense"), Some(json!({}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Another method names what each resource takes.
    for (path, allow) in [
        (format!("{ind}/notes"), "POST"),
        (format!("{ind}/false-positive"), "POST,DELETE"),
        (format!("{ind}/labels/x"), "DELETE"),
        (ind.to_owned(), "GET,HEAD"),
    ] {
        let res = app
            .clone()
            .oneshot(
                Request::builder()
                    .method("PUT")
                    .uri(&path)
                    .header("authorization", format!("Bearer {a}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(res.headers()["allow"], allow, "{path}");
    }

    // A false positive, and taking it back.
    let (status, body) = send(
        &app,
        a,
        "POST",
        &format!("{ind}/false-positive"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("reason"), "{body}");
    let (status, body) = send(
        &app,
        a,
        "POST",
        &format!("{ind}/false-positive"),
        Some(json!({"reason": "our CDN"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "false_positive");
    assert_eq!(body["curation"]["false_positive"]["by"], "token:alice");
    let (_, lookup) = send(&app, a, "GET", "/api/v1/lookup/evil.example", None).await;
    assert_eq!(lookup["status"], "false_positive", "{lookup}");
    assert_eq!(lookup["status_reason"], "our CDN");
    assert_eq!(lookup["false_positive"]["by"], "token:alice");
    assert_eq!(lookup["false_positive"]["reason"], "our CDN");
    assert_eq!(lookup["score"], 0);
    let (_, bulk) = send(
        &app,
        a,
        "POST",
        "/api/v1/lookup",
        Some(json!({"values": ["evil.example"]})),
    )
    .await;
    assert_eq!(bulk["results"][0]["status"], "false_positive", "{bulk}");
    let (_, listed) = send(
        &app,
        a,
        "GET",
        "/api/v1/indicators?status=false_positive",
        None,
    )
    .await;
    assert_eq!(listed["items"][0]["value"], "evil.example", "{listed}");
    let (status, body) = send(&app, a, "DELETE", &format!("{ind}/false-positive"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "active");
    assert!(body["curation"]["false_positive"].is_null());

    // Local sightings.
    let at = "2025-01-02T03:04:05Z";
    let (status, seen) = send(
        &app,
        a,
        "POST",
        &format!("{ind}/sightings"),
        Some(json!({"count": 3, "where": "proxy-1", "seen_at": at})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{seen}");
    assert_eq!(
        (seen["count"].as_u64(), seen["where"].as_str()),
        (Some(3), Some("proxy-1"))
    );
    assert_eq!(seen["seen_at"], at);
    let (status, _) = send(
        &app,
        a,
        "POST",
        &format!("{ind}/sightings"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "count and time have defaults");
    for (bad, field) in [
        (json!({"count": 0}), "count"),
        (json!({"seen_at": "yesterday"}), "seen_at"),
        (json!({"seen_at": "2999-01-01T00:00:00Z"}), "seen_at"),
        (json!({"where": ""}), "where"),
    ] {
        let (status, body) = send(&app, a, "POST", &format!("{ind}/sightings"), Some(bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(message(&body).contains(field), "{field}: {body}");
    }
    let (_, detail) = send(&app, a, "GET", ind, None).await;
    assert_eq!(detail["local_sightings"]["count"], 4, "{detail}");
    assert_eq!(detail["local_sightings"]["reports"], 2);
    let (_, lookup) = send(&app, a, "GET", "/api/v1/lookup/evil.example", None).await;
    assert_eq!(lookup["local_sightings"]["count"], 4, "{lookup}");
    let factors: Vec<&str> = lookup["score_factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(factors.contains(&"local"), "{factors:?}");
    assert!(lookup["score"].as_u64().unwrap() >= 90, "{lookup}");

    // Hand labels.
    let (status, body) = send(
        &app,
        a,
        "POST",
        &format!("{ind}/labels"),
        Some(json!({"add": ["emotet"], "remove": ["phishing"], "reason": "triage"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["labels"], json!(["emotet"]));
    assert_eq!(body["curation"]["labels"][1]["removed"], true);
    let (status, body) = send(&app, a, "POST", &format!("{ind}/labels"), Some(json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = send(&app, a, "DELETE", &format!("{ind}/labels/phishing"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["labels"], json!(["emotet", "phishing"]));

    // A TLP raise hides it from readers below it; it must be a raise.
    let (status, body) = send(
        &app,
        a,
        "POST",
        &format!("{ind}/tlp"),
        Some(json!({"tlp": "clear", "reason": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(message(&body).contains("tlp"), "{body}");
    let (status, _) = send(
        &app,
        a,
        "POST",
        &format!("{ind}/tlp"),
        Some(json!({"tlp": "red", "reason": "x"})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "above the analyst's clearance"
    );
    let (status, body) = send(
        &app,
        a,
        "POST",
        &format!("{ind}/tlp"),
        Some(json!({"tlp": "amber", "reason": "customer data"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tlp"], "amber");
    assert_eq!(body["curation"]["tlp"]["reason"], "customer data");
    let (status, _) = send(&app, &who.viewer, "GET", ind, None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "above a viewer's GREEN clearance"
    );
    // Nobody below its TLP writes or reads its notes.
    let (status, _) = send(
        &app,
        a,
        "POST",
        &format!("{ind}/sightings"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = send(&app, a, "DELETE", &format!("{ind}/tlp"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["tlp"], "green",
        "a local sighting lowered nothing: {body}"
    );

    // A score override stands in lookups.
    let (status, body) = send(
        &app,
        a,
        "POST",
        &format!("{ind}/score"),
        Some(json!({"score": 101, "reason": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = send(
        &app,
        a,
        "POST",
        &format!("{ind}/score"),
        Some(json!({"score": 7, "reason": "sinkholed"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["score"], 7);
    let (_, lookup) = send(&app, a, "GET", "/api/v1/lookup/evil.example", None).await;
    assert_eq!(lookup["score"], 7, "{lookup}");
    let (_, body) = send(&app, a, "DELETE", &format!("{ind}/score"), None).await;
    assert_eq!(
        body["score"], 80,
        "the sightings' highest confidence: {body}"
    );

    // An event item grouping indicators, with notes.
    let (status, body) = send(&app, a, "POST", "/api/v1/items",
        Some(json!({"title": "Incident 42", "body": "Phishing wave", "tlp": "green",
                    "indicators": [{"type": "domain", "value": "evil.example"}, {"value": "198.51.100.7"}]}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["kind"], "event");
    assert_eq!(body["extra"]["author"], "token:alice");
    assert_eq!(body["extra"]["indicators"][1]["type"], "ipv4");
    let item = body["id"].as_i64().unwrap();
    let (_, lookup) = send(&app, a, "GET", "/api/v1/lookup/198.51.100.7", None).await;
    assert_eq!(lookup["items"][0]["id"], item, "{lookup}");
    assert_eq!(lookup["items"][0]["tlp"], "green");
    let (status, body) = send(&app, a, "POST", "/api/v1/items",
        Some(json!({"title": "x", "indicators": [{"value": "evil.example"}, {"type": "ipv4", "value": "bad"}]}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("indicators[1].value"), "{body}");
    let (status, body) = send(
        &app,
        a,
        "POST",
        "/api/v1/items",
        Some(json!({"title": " "})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("title"), "{body}");
    let (status, note) = send(
        &app,
        a,
        "POST",
        &format!("/api/v1/items/{item}/notes"),
        Some(json!({"text": "contained"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    let (_, detail) = send(&app, a, "GET", &format!("/api/v1/items/{item}"), None).await;
    assert_eq!(detail["notes"][0]["text"], "contained", "{detail}");
    assert_eq!(detail["title"], "Incident 42");

    // Only its author or an admin deletes a note.
    let id = note["id"].as_i64().unwrap();
    let (status, _) = send(
        &app,
        &who.other,
        "DELETE",
        &format!("/api/v1/notes/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = send(&app, a, "DELETE", &format!("/api/v1/notes/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(&app, a, "DELETE", &format!("/api/v1/notes/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Audited, with the reason.
    let (_, audit) = send(&app, &who.admin, "GET", "/api/v1/audit?limit=200", None).await;
    let entries = audit["items"].as_array().unwrap();
    let fp = entries
        .iter()
        .find(|e| e["action"] == "indicator.false_positive")
        .unwrap_or_else(|| panic!("{audit}"));
    assert_eq!(fp["actor"], "token:alice");
    assert_eq!(fp["target"], "domain evil.example: our CDN");
    for action in [
        "indicator.add",
        "indicator.note",
        "indicator.false_positive.remove",
        "indicator.local_sighting",
        "indicator.label.add",
        "indicator.tlp",
        "indicator.score",
        "item.add",
        "item.note",
        "note.delete",
    ] {
        assert!(
            entries.iter().any(|e| e["action"] == action),
            "{backend}: {action} audited"
        );
    }
}

/// A false positive leaves the EDL export and the TAXII collection (as a
/// revoked version) and is no hunt hit, however often a feed re-reports it;
/// taking the mark back brings it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_false_positive_leaves_exports_taxii_and_hunts() {
    for backend in backends().await {
        false_positive_leaves(backend.name, &backend.store).await;
        backend.cleanup().await;
    }
}

async fn false_positive_leaves(backend: &str, store: &Arc<dyn Store>) {
    use rexist_server::taxii::{CollectionConfig, TaxiiConfig};
    let who = callers(store).await;
    let taxii = TaxiiConfig {
        collections: vec![CollectionConfig {
            id: "6b0c8bb5-2b5d-4c1b-9a3e-1f5e0a7c2d41".into(),
            title: "everything".into(),
            description: None,
            alias: Some("all".into()),
            types: vec![],
            source: None,
            tag: None,
            min_score: None,
            tlp: None,
            active_only: true,
            writable: false,
            write_source: None,
        }],
        ..TaxiiConfig::default()
    };
    let state = AppState::new(Arc::clone(store)).with_taxii(taxii);
    let ingest = Arc::clone(&state.ingest);
    let app = router(state);
    let a = who.analyst.as_str();
    let feed = store
        .upsert_source(&SourceSpec {
            name: "feed".into(),
            kind: "file".into(),
            enabled: true,
            confidence: 80,
            tlp: Tlp::Clear,
            tags: vec![],
        })
        .await
        .unwrap();
    let report = |values: &[&str]| -> Vec<NewSighting> {
        values
            .iter()
            .map(|v| NewSighting::new(Indicator::parse(IndicatorType::Domain, v).unwrap(), now()))
            .collect()
    };
    ingest
        .sightings(&feed, &report(&["fp.example", "bad.example"]))
        .await
        .unwrap();
    let (status, _) = send(
        &app,
        a,
        "POST",
        "/api/v1/indicators/domain/fp.example/false-positive",
        Some(json!({"reason": "our mail relay"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, hunt) = send(
        &app,
        a,
        "POST",
        "/api/v1/hunts",
        Some(json!({"name": "watch-both", "watch": "fp.example, bad.example"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{hunt}");

    // The feed reports both again: the mark stands, only one hit.
    ingest
        .sightings(&feed, &report(&["fp.example", "bad.example"]))
        .await
        .unwrap();
    let (_, detail) = send(&app, a, "GET", "/api/v1/indicators/domain/fp.example", None).await;
    assert_eq!(detail["status"], "false_positive", "{backend}: {detail}");
    let hits = store
        .list_hits(&rexist_store::HitQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    let bad_id = store
        .indicator(IndicatorType::Domain, "bad.example")
        .await
        .unwrap()
        .unwrap()
        .id;
    let objects: Vec<_> = hits.iter().map(|h| h.object).collect();
    assert_eq!(
        objects,
        [rexist_core::HitObject::Indicator(bad_id)],
        "{backend}: only bad.example hit"
    );
    // A retro-hunt skips it too.
    let (status, _) = send(
        &app,
        a,
        "POST",
        "/api/v1/hunts",
        Some(json!({"name": "watch-fp", "watch": "fp.example", "enabled": false})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let hunt = store.hunt_by_name("watch-fp").await.unwrap().unwrap();
    let retro = rexist_pipeline::hunter::retro(store, &hunt, |_| {})
        .await
        .unwrap();
    assert_eq!((retro.scanned, retro.hits), (2, 0), "{backend}");

    // Out of the EDL; in TAXII only as a revoked version.
    let admin = who.admin.clone();
    let edl = |app: axum::Router| {
        let admin = admin.clone();
        async move {
            let (status, text) = send(&app, &admin, "GET", "/api/v1/exports/edl", None).await;
            assert_eq!(status, StatusCode::OK, "{text}");
            text.as_str().unwrap_or_default().to_owned()
        }
    };
    let list = edl(app.clone()).await;
    assert!(list.lines().any(|l| l == "bad.example"), "{list}");
    assert!(!list.contains("fp.example"), "{backend}: {list}");
    if backend == "postgres" {
        // TAXII on PostgreSQL shows rows once every writer that could have
        // taken an earlier `added` time has committed: 5 s.
        tokio::time::sleep(std::time::Duration::from_millis(5200)).await;
    }
    let taxii_req = Request::builder()
        .uri("/taxii2/api/collections/all/objects/")
        .header("accept", "application/taxii+json;version=2.1")
        .header("authorization", format!("Bearer {}", who.admin))
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(taxii_req).await.unwrap();
    let envelope: Value =
        serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let objects = envelope["objects"].as_array().unwrap();
    let fp_objects: Vec<&Value> = objects
        .iter()
        .filter(|o| {
            o["type"] == "indicator"
                && o["pattern"]
                    .as_str()
                    .is_some_and(|p| p.contains("'fp.example'"))
        })
        .collect();
    assert_eq!(fp_objects.len(), 1, "{backend}: {envelope}");
    assert_eq!(fp_objects[0]["revoked"], true);
    let live = objects
        .iter()
        .find(|o| {
            o["type"] == "indicator"
                && o["pattern"]
                    .as_str()
                    .is_some_and(|p| p.contains("'bad.example'"))
        })
        .unwrap();
    assert!(live.get("revoked").is_none());

    // Taken back: exported again.
    let (status, _) = send(
        &app,
        a,
        "DELETE",
        "/api/v1/indicators/domain/fp.example/false-positive",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let list = edl(app.clone()).await;
    assert!(list.lines().any(|l| l == "fp.example"), "{backend}: {list}");
}
