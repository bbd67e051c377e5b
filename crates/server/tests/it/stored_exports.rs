//! Exports defined through the API: the configuration's checks, served at
//! the same URLs as configured ones with the same tokens, admin only,
//! audited, configured names refused; on both backends.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use rexist_core::model::now;
use rexist_core::{Indicator, IndicatorType, NewSighting, Role, Scope, SourceSpec, Tlp};
use rexist_server::admin::{TokenRequest, issue_token};
use rexist_server::export::ExportConfig;
use rexist_server::{AppState, router};
use rexist_store::Store;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::common::backends;

async fn token(store: &Arc<dyn Store>, name: &str, role: Role, scopes: Vec<Scope>) -> String {
    issue_token(
        store.as_ref(),
        &TokenRequest {
            name: name.into(),
            role,
            scopes,
            expires_days: None,
        },
    )
    .await
    .unwrap()
    .1
}

/// Sends `method uri` with `token`; the status and the body as text.
async fn send(
    app: &axum::Router,
    token: &str,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, String) {
    let mut req = Request::builder().method(method).uri(uri);
    if !token.is_empty() {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    let req = req
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn message(text: &str) -> String {
    json_of(text)["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_define_exports_served_like_configured_ones_on_both_backends() {
    for backend in backends().await {
        define_and_serve(backend.name, &backend.store).await;
        backend.cleanup().await;
    }
}

async fn define_and_serve(backend: &str, store: &Arc<dyn Store>) {
    let source = store
        .upsert_source(&SourceSpec {
            name: "intel".into(),
            kind: "file".into(),
            enabled: true,
            confidence: 80,
            tlp: Tlp::Clear,
            tags: vec![],
        })
        .await
        .unwrap();
    let mut sightings: Vec<NewSighting> = (0..5)
        .map(|i| {
            NewSighting::new(
                Indicator::parse(IndicatorType::Domain, &format!("host-{i}.example")).unwrap(),
                now(),
            )
        })
        .collect();
    sightings.push(NewSighting::new(
        Indicator::parse(IndicatorType::Ipv4, "192.0.2.7").unwrap(),
        now(),
    ));
    store.upsert_sightings(&source, &sightings).await.unwrap();

    let admin = token(store, "root", Role::Admin, vec![]).await;
    let analyst = token(store, "alice", Role::Analyst, vec![]).await;
    let viewer = token(store, "vic", Role::Viewer, vec![]).await;
    let firewall = token(store, "fw", Role::Viewer, vec![Scope::Export]).await;
    let configured = vec![ExportConfig::new("cfg-csv", "csv").validate().unwrap()];
    let app = router(AppState::new(Arc::clone(store)).with_exports(configured));

    let fw = json!({"name": "fw", "format": "edl", "types": ["domain"],
                    "description": "firewall"});
    for who in [&analyst, &viewer] {
        let (status, body) = send(&app, who, "POST", "/api/v1/exports", Some(fw.clone())).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{backend}: {body}");
    }
    let (status, body) = send(&app, &admin, "POST", "/api/v1/exports", Some(fw.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{backend}: {body}");
    let created = json_of(&body);
    assert_eq!(created["name"], "fw");
    assert_eq!(created["origin"], "stored");
    assert_eq!(created["created_by"], "token:root");
    assert_eq!(created["url"], "/export/fw");
    assert_eq!(created["types"], json!(["domain"]));
    assert_eq!(created["active_only"], true, "the table's default");

    // Served like a configured export: the same bytes as the same ad-hoc
    // export, to a reader, and to an export-scoped token in the URL.
    let (status, served) = send(&app, &viewer, "GET", "/export/fw", None).await;
    assert_eq!(status, StatusCode::OK, "{backend}: {served}");
    let (_, adhoc) = send(
        &app,
        &viewer,
        "GET",
        "/api/v1/exports/edl?type=domain",
        None,
    )
    .await;
    assert_eq!(served, adhoc, "{backend}");
    assert_eq!(served.lines().count(), 5, "{backend}: {served}");
    assert!(!served.contains("192.0.2.7"));
    let (status, by_url) = send(
        &app,
        "",
        "GET",
        &format!("/export/fw?token={firewall}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{backend}: {by_url}");
    assert_eq!(by_url, served);

    // Refusals name what is wrong.
    let (status, body) = send(&app, &admin, "POST", "/api/v1/exports", Some(fw.clone())).await;
    assert_eq!(status, StatusCode::CONFLICT, "{backend}: {body}");
    assert!(message(&body).contains("already stored"), "{body}");
    let (status, body) = send(
        &app,
        &admin,
        "POST",
        "/api/v1/exports",
        Some(json!({"name": "cfg-csv", "format": "csv"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{backend}: {body}");
    assert!(message(&body).contains("configuration"), "{body}");
    for (bad, field) in [
        (json!({"name": "x", "format": "xml"}), "format"),
        (
            json!({"name": "x", "format": "csv", "types": ["ipv5"]}),
            "types",
        ),
        (
            json!({"name": "x", "format": "csv", "min_score": 101}),
            "min_score",
        ),
        (
            json!({"name": "x", "format": "csv", "since": "1y"}),
            "since",
        ),
        (json!({"name": "x y", "format": "csv"}), "name"),
        (
            json!({"name": "x", "format": "csv", "colour": "red"}),
            "colour",
        ),
        (json!({"name": "new", "format": "csv"}), "web UI"),
    ] {
        let (status, body) = send(&app, &admin, "POST", "/api/v1/exports", Some(bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{backend} {field}: {body}");
        assert!(message(&body).contains(field), "{field}: {body}");
    }

    // Listed with the configured one, each with where it comes from.
    let (status, body) = send(&app, &viewer, "GET", "/api/v1/exports", None).await;
    assert_eq!(status, StatusCode::OK);
    let list = json_of(&body);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{body}");
    assert_eq!(
        (items[0]["name"].as_str(), items[0]["origin"].as_str()),
        (Some("cfg-csv"), Some("config"))
    );
    assert_eq!(items[0]["created_by"], Value::Null);
    assert_eq!(
        (items[1]["name"].as_str(), items[1]["origin"].as_str()),
        (Some("fw"), Some("stored"))
    );

    // PATCH changes fields and is checked as a whole; a bad one changes nothing.
    let (status, body) = send(
        &app,
        &admin,
        "PATCH",
        "/api/v1/exports/fw",
        Some(json!({"types": ["ipv4"], "description": null})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{backend}: {body}");
    assert_eq!(json_of(&body)["description"], Value::Null);
    let (_, served) = send(&app, &viewer, "GET", "/export/fw", None).await;
    assert_eq!(served.trim(), "192.0.2.7", "{backend}");
    let (status, body) = send(
        &app,
        &admin,
        "PATCH",
        "/api/v1/exports/fw",
        Some(json!({"min_score": 200})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{backend}: {body}");
    let (_, served) = send(&app, &viewer, "GET", "/export/fw", None).await;
    assert_eq!(served.trim(), "192.0.2.7", "unchanged");
    let (status, _) = send(
        &app,
        &analyst,
        "PATCH",
        "/api/v1/exports/fw",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // PUT replaces it whole; another name renames it.
    let (status, body) = send(
        &app,
        &admin,
        "PUT",
        "/api/v1/exports/fw",
        Some(json!({"name": "fw2", "format": "csv", "active_only": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{backend}: {body}");
    assert_eq!(json_of(&body)["types"], json!([]));
    let (status, _) = send(&app, &viewer, "GET", "/export/fw", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, csv) = send(&app, &viewer, "GET", "/export/fw2", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(csv.starts_with("type,value,"), "{csv}");
    assert_eq!(csv.lines().count(), 7, "header and six rows: {csv}");

    // Configured exports are changed in the file, not here.
    for method in ["PUT", "PATCH", "DELETE"] {
        let body = (method != "DELETE").then(|| json!({"name": "cfg-csv", "format": "csv"}));
        let (status, text) = send(&app, &admin, method, "/api/v1/exports/cfg-csv", body).await;
        assert_eq!(status, StatusCode::CONFLICT, "{backend} {method}: {text}");
        assert!(message(&text).contains("configuration"), "{text}");
    }
    let (status, _) = send(&app, &admin, "DELETE", "/api/v1/exports/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A stored MISP feed serves its files.
    let (status, body) = send(
        &app,
        &admin,
        "POST",
        "/api/v1/exports",
        Some(json!({"name": "feed", "format": "misp"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{backend}: {body}");
    assert_eq!(json_of(&body)["url"], "/export/feed/manifest.json");
    let (status, manifest) = send(&app, &viewer, "GET", "/export/feed/manifest.json", None).await;
    assert_eq!(status, StatusCode::OK, "{backend}: {manifest}");
    assert!(json_of(&manifest).is_object(), "{manifest}");

    // Deleted: gone from its URL and the list.
    let (status, _) = send(&app, &admin, "DELETE", "/api/v1/exports/fw2", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(&app, &admin, "DELETE", "/api/v1/exports/fw2", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(&app, &viewer, "GET", "/export/fw2", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Every write is in the audit log, naming the export.
    let audit = store.list_audit(None, 200).await.unwrap();
    let actions: Vec<(String, Option<String>)> = audit
        .items
        .iter()
        .filter(|e| e.entry.action.starts_with("export."))
        .map(|e| (e.entry.action.clone(), e.entry.target.clone()))
        .collect();
    for (action, target) in [
        ("export.create", "export fw"),
        ("export.update", "export fw"),
        ("export.rename to fw2", "export fw"),
        ("export.create", "export feed"),
        ("export.delete", "export fw2"),
    ] {
        assert!(
            actions.contains(&(action.to_owned(), Some(target.to_owned()))),
            "{backend}: {action} {target} in {actions:?}"
        );
    }
    assert!(
        audit
            .items
            .iter()
            .all(|e| !e.entry.action.starts_with("export.") || e.entry.actor == "token:root"),
        "only the admin wrote"
    );
}

/// A stored export the configuration later defines is shadowed: the file's
/// is served, the stored one listed as such.
#[tokio::test]
async fn the_configuration_shadows_a_stored_export_of_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let (store, source) = crate::common::file_store(dir.path(), "intel").await;
    store
        .upsert_sightings(
            &source,
            &[NewSighting::new(
                Indicator::parse(IndicatorType::Domain, "a.example").unwrap(),
                now(),
            )],
        )
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    store
        .create_stored_export("same", &json!({"name": "same", "format": "csv"}), "root")
        .await
        .unwrap();
    let admin = token(&store, "root", Role::Admin, vec![]).await;
    let configured = vec![ExportConfig::new("same", "edl").validate().unwrap()];
    let app = router(AppState::new(Arc::clone(&store)).with_exports(configured));
    let (_, served) = send(&app, &admin, "GET", "/export/same", None).await;
    assert_eq!(served.trim(), "a.example", "the configured edl");
    let (_, body) = send(&app, &admin, "GET", "/api/v1/exports", None).await;
    let list = json_of(&body);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{body}");
    assert_eq!(items[0]["shadowed"], false);
    assert_eq!(items[1]["origin"], "stored");
    assert_eq!(items[1]["shadowed"], true);
}
