//! Lookup over the REST API.

#![allow(clippy::unwrap_used, clippy::many_single_char_names)]

use std::sync::Arc;

use crate::common::call;
use axum::http::StatusCode;
use rexist_core::model::now;
use rexist_core::{Indicator, IndicatorType, NewSighting, SourceSpec, Tlp};
use rexist_server::{AppState, router};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_and_bulk_lookups() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    let src = store
        .upsert_source(&SourceSpec {
            name: "urlhaus".into(),
            kind: "urlhaus".into(),
            enabled: true,
            confidence: 90,
            tlp: Tlp::Clear,
            tags: vec![],
        })
        .await
        .unwrap();
    store
        .upsert_sightings(
            &src,
            &[NewSighting::new(
                Indicator::parse(IndicatorType::Url, "http://bad.host.com/x/y.sh").unwrap(),
                now(),
            )],
        )
        .await
        .unwrap();
    let app = router(AppState::new(Arc::clone(&store)).with_anonymous(rexist_core::Role::Admin));

    let (s, a) = call(
        &app,
        "GET",
        "/api/v1/lookup/hxxp://bad[.]host[.]com/x/y.sh",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a["type"], "url");
    assert_eq!(a["value"], "http://bad.host.com/x/y.sh");
    assert_eq!(a["known"], true);
    assert_eq!(a["sources"][0]["source"], "urlhaus");
    assert_eq!(a["score"], 90);
    assert!(a.get("enrichment").is_none(), "no providers asked");

    let (s, e) = call(&app, "GET", "/api/v1/lookup/not%20an%20indicator", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not an indicator"),
        "{e}"
    );
    let (s, _) = call(&app, "GET", "/api/v1/lookup/1.2.3.4?bogus=1", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let (s, b) = call(
        &app,
        "POST",
        "/api/v1/lookup",
        Some(json!({"values": ["http://bad.host.com/x/y.sh", "junk junk", "9.9.9.9"]})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let r = b["results"].as_array().unwrap();
    assert_eq!(r.len(), 3);
    assert_eq!(r[0]["known"], true);
    assert!(r[1]["error"].is_string());
    assert_eq!(r[2]["known"], false);
    assert_eq!(r[2]["status"], "unknown", "the same vocabulary as single");
    assert!(r[1]["status"].is_null(), "not an indicator: no status");

    // An unknown URL on the known URL's host: connected, in both forms.
    let (s, a) = call(
        &app,
        "GET",
        "/api/v1/lookup/http://bad.host.com/other",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a["known"], false);
    assert_eq!(a["status"], "unknown");
    let (s, d) = call(&app, "GET", "/api/v1/lookup/bad.host.com", None).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(d["status"], "unknown");
    assert_eq!(d["related"][0]["relation"], "url-on", "{d}");
    assert_eq!(d["related"][0]["value"], "http://bad.host.com/x/y.sh");
    assert_eq!(d["related"][0]["sources"], json!(["urlhaus"]));
    assert_eq!(d["related"][0]["score"], 90);
    assert_eq!(d["score"], 27, "0.3 × 90: {d}");

    let many: Vec<String> = (0..10_001)
        .map(|i| format!("10.0.{}.{}", i / 256 % 256, i % 256))
        .collect();
    let (s, e) = call(
        &app,
        "POST",
        "/api/v1/lookup",
        Some(json!({ "values": many })),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        e["error"]["message"].as_str().unwrap().contains("10000"),
        "{e}"
    );
    let (s, _) = call(&app, "POST", "/api/v1/lookup", Some(json!({"value": "x"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}
