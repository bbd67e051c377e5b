//! An analyst's search through the REST API on SQLite and, when
//! `REXIST_TEST_DATABASE_URL` is set, on PostgreSQL: the listings' new
//! filters and sorts (the old parameters answering as before), facet
//! counts within the caller's clearance, exports of a result set, bulk
//! actions (counted, capped, audited, refused to viewers) and saved
//! searches.

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

async fn token(store: &Arc<dyn Store>, name: &str, role: Role) -> String {
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

/// The status, the content type and the answer (JSON, else text).
async fn send(
    app: &axum::Router,
    token: &str,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, String, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let kind = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, kind, value)
}

fn values(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["value"].as_str().unwrap().to_owned())
        .collect()
}

fn facet(v: &Value, name: &str) -> Vec<(String, u64)> {
    v[name]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    (
                        c["value"].as_str().unwrap().to_owned(),
                        c["count"].as_u64().unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_facets_exports_bulk_and_saved_searches_on_both_backends() {
    for backend in backends().await {
        search_through_the_api(backend.name, &backend.store).await;
        backend.cleanup().await;
    }
}

async fn seed(store: &Arc<dyn Store>) {
    let source = store
        .upsert_source(&SourceSpec {
            name: "feed".into(),
            kind: "file".into(),
            enabled: true,
            confidence: 50,
            tlp: Tlp::Clear,
            tags: vec![],
        })
        .await
        .unwrap();
    let t = now();
    let one = |kind, value: &str, conf: u8, tlp: Tlp, days: i64| NewSighting {
        confidence: Some(conf),
        tlp: Some(tlp),
        ..NewSighting::new(
            Indicator::parse(kind, value).unwrap(),
            t - time::Duration::days(days),
        )
    };
    let mut batch = vec![
        one(IndicatorType::Ipv4, "203.0.113.1", 90, Tlp::Green, 1),
        one(IndicatorType::Ipv4, "203.0.113.2", 40, Tlp::Clear, 2),
        one(IndicatorType::Ipv4, "203.0.113.3", 70, Tlp::Amber, 3),
        one(IndicatorType::Domain, "red.example", 99, Tlp::Red, 0),
    ];
    for n in 0..30 {
        batch.push(one(
            IndicatorType::Domain,
            &format!("bulk{n}.example"),
            60,
            Tlp::Clear,
            10,
        ));
    }
    store.upsert_sightings(&source, &batch).await.unwrap();
}

async fn search_through_the_api(backend: &str, store: &Arc<dyn Store>) {
    seed(store).await;
    let analyst = token(store, "alice", Role::Analyst).await;
    let viewer = token(store, "vic", Role::Viewer).await;
    let app = router(AppState::new(Arc::clone(store)));
    let (a, v) = (analyst.as_str(), viewer.as_str());

    // The old parameters answer as before: value order, cursors that page.
    let (status, _, page) =
        send(&app, a, "GET", "/api/v1/indicators?type=ipv4&limit=2", None).await;
    assert_eq!(status, StatusCode::OK, "{backend}: {page}");
    assert_eq!(values(&page), ["203.0.113.1", "203.0.113.2"]);
    let next = page["next"].as_str().unwrap().to_owned();
    let (_, _, rest) = send(
        &app,
        a,
        "GET",
        &format!("/api/v1/indicators?type=ipv4&limit=2&cursor={next}"),
        None,
    )
    .await;
    assert_eq!(values(&rest), ["203.0.113.3"]);
    // New filters and sorts; the viewer (TLP:GREEN) sees no amber one.
    let q = "/api/v1/indicators?type=ipv4&min_score=50&sort=score";
    let (_, _, page) = send(&app, a, "GET", q, None).await;
    assert_eq!(values(&page), ["203.0.113.1", "203.0.113.3"], "{backend}");
    let (_, _, page) = send(&app, v, "GET", q, None).await;
    assert_eq!(values(&page), ["203.0.113.1"]);
    let (_, _, page) = send(
        &app,
        a,
        "GET",
        "/api/v1/indicators?type=ipv4,domain&tlp=clear,green&max_score=50&sort=newest",
        None,
    )
    .await;
    assert_eq!(values(&page), ["203.0.113.2"]);
    let since = (now() - time::Duration::hours(36)).date();
    let (_, _, page) = send(
        &app,
        a,
        "GET",
        &format!("/api/v1/indicators?type=ipv4&from={since}"),
        None,
    )
    .await;
    assert_eq!(values(&page), ["203.0.113.1"]);
    for bad in [
        "sort=random",
        "min_score=101",
        "from=yesterday",
        "tlp=purple",
        "type=ipv4,nope",
        "source=nobody",
        "format=docx",
    ] {
        let (status, _, body) =
            send(&app, a, "GET", &format!("/api/v1/indicators?{bad}"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        let field = bad.split('=').next().unwrap();
        assert!(
            body["error"]["message"].as_str().unwrap().contains(field),
            "{bad}: {body}"
        );
    }

    // Facets: counted in the store, within the clearance.
    let (status, _, f) = send(&app, a, "GET", "/api/v1/indicators/facets?type=ipv4", None).await;
    assert_eq!(status, StatusCode::OK, "{f}");
    assert_eq!(
        facet(&f, "types"),
        [("domain".to_owned(), 30), ("ipv4".to_owned(), 3)],
        "{backend}: the red domain is above an analyst's clearance"
    );
    assert_eq!(facet(&f, "sources"), [("feed".to_owned(), 3)]);
    let (_, _, f) = send(&app, v, "GET", "/api/v1/indicators/facets", None).await;
    assert!(
        facet(&f, "tlps")
            .iter()
            .all(|(t, _)| t == "clear" || t == "green"),
        "{f}"
    );
    let (status, _, f) = send(&app, a, "GET", "/api/v1/items/facets?q=anything", None).await;
    assert_eq!(status, StatusCode::OK, "{f}");
    assert_eq!(f["capped"], false);

    // An export of the result set, every page of it.
    let (status, kind, csv) = send(
        &app,
        v,
        "GET",
        "/api/v1/indicators?prefix=bulk&format=csv&limit=5",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert!(kind.starts_with("text/csv"), "{kind}");
    let csv = csv.as_str().unwrap();
    assert_eq!(csv.matches(".example").count(), 30, "{csv}");

    // Bulk: label everything a query matches; the viewer may not.
    let body = json!({"action": "label", "label": "wave-7", "query": {"prefix": "bulk"}});
    let (status, _, _) = send(
        &app,
        v,
        "POST",
        "/api/v1/indicators/bulk",
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, done) = send(&app, a, "POST", "/api/v1/indicators/bulk", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{backend}: {done}");
    assert_eq!(done["selected"], 30);
    assert_eq!(done["done"], 30);
    let (_, _, one) = send(
        &app,
        a,
        "GET",
        "/api/v1/indicators/domain/bulk7.example",
        None,
    )
    .await;
    assert!(
        one["labels"].as_array().unwrap().contains(&json!("wave-7")),
        "{one}"
    );
    let (_, _, page) = send(
        &app,
        a,
        "GET",
        "/api/v1/indicators?label=wave-7&limit=100",
        None,
    )
    .await;
    assert_eq!(values(&page).len(), 30);
    // Listed values: unknown ones are skipped and counted; bad ones named.
    let (status, _, done) = send(
        &app,
        a,
        "POST",
        "/api/v1/indicators/bulk",
        Some(json!({"action": "false_positive", "reason": "sinkhole",
                    "values": [{"type": "ipv4", "value": "203.0.113.1"},
                               {"value": "unknown.example"},
                               {"type": "domain", "value": "red.example"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["done"], 1);
    assert_eq!(
        done["skipped"],
        json!([{"reason": "not stored", "count": 2}])
    );
    let (status, _, body) = send(
        &app,
        a,
        "POST",
        "/api/v1/indicators/bulk",
        Some(json!({"action": "false_positive", "values": [{"type": "ipv4", "value": "203.0.113.1"}]})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a reason is required: {body}"
    );
    let (status, _, body) = send(
        &app,
        a,
        "POST",
        "/api/v1/indicators/bulk",
        Some(json!({"action": "label", "label": "x", "values": [{"type": "ipv4", "value": "999.1"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("values[0]"),
        "{body}"
    );
    let too_many: Vec<Value> = (0..10_001)
        .map(|n| json!({"type": "ipv4", "value": format!("10.{}.{}.{}", n >> 16, (n >> 8) & 255, n & 255)}))
        .collect();
    let (status, _, body) = send(
        &app,
        a,
        "POST",
        "/api/v1/indicators/bulk",
        Some(json!({"action": "label", "label": "x", "values": too_many})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("10000"),
        "{body}"
    );
    // Watch, then group; exports answer with the file.
    let (status, _, done) = send(
        &app,
        a,
        "POST",
        "/api/v1/indicators/bulk",
        Some(json!({"action": "watch", "hunt": "wave-7", "query": {"label": "wave-7", "max_score": 60}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(
        (done["done"].as_u64(), done["target"].as_str()),
        (Some(30), Some("wave-7"))
    );
    let (_, _, again) = send(
        &app,
        a,
        "POST",
        "/api/v1/indicators/bulk",
        Some(json!({"action": "watch", "hunt": "wave-7", "values": [{"type": "domain", "value": "bulk1.example"}]})),
    )
    .await;
    assert_eq!(
        again["skipped"],
        json!([{"reason": "already watched", "count": 1}])
    );
    let (status, _, done) = send(
        &app,
        a,
        "POST",
        "/api/v1/indicators/bulk",
        Some(json!({"action": "group", "title": "Wave 7", "query": {"label": "wave-7"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let item = done["target"].as_str().unwrap().to_owned();
    let (_, _, lookup) = send(
        &app,
        a,
        "GET",
        "/api/v1/indicators/domain/bulk3.example",
        None,
    )
    .await;
    assert!(
        lookup["sightings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["item_id"].to_string().trim_matches('"') == item),
        "{lookup}"
    );
    let (status, kind, file) = send(
        &app,
        a,
        "POST",
        "/api/v1/indicators/bulk",
        Some(json!({"action": "export", "format": "edl",
                    "values": [{"type": "domain", "value": "bulk1.example"}, {"type": "ipv4", "value": "203.0.113.1"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{file}");
    assert!(kind.starts_with("text/plain"), "{kind}");
    assert_eq!(
        file.as_str()
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect::<Vec<_>>(),
        ["bulk1.example"],
        "the false positive is left out"
    );
    let (_, _, audit) = send(
        &app,
        &token(store, "root", Role::Admin).await,
        "GET",
        "/api/v1/audit?limit=100",
        None,
    )
    .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for a in [
        "indicator.bulk.label",
        "indicator.bulk.false_positive",
        "hunt.bulk.watch",
        "item.bulk.group",
        "indicator.bulk.export",
    ] {
        assert!(actions.contains(&a), "{a}: {actions:?}");
    }

    // Saved searches: per caller.
    let (status, _, saved) = send(
        &app,
        a,
        "POST",
        "/api/v1/searches",
        Some(json!({"name": "wave", "query": "label=wave-7&sort=newest"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    let (status, _, _) = send(
        &app,
        a,
        "POST",
        "/api/v1/searches",
        Some(json!({"name": "bad", "query": "limit=5"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, _, list) = send(&app, a, "GET", "/api/v1/searches", None).await;
    assert_eq!(list["items"][0]["query"], "label=wave-7&sort=newest");
    let (_, _, theirs) = send(&app, v, "GET", "/api/v1/searches", None).await;
    assert_eq!(theirs["items"], json!([]));
    let (status, _, _) = send(
        &app,
        v,
        "POST",
        "/api/v1/searches",
        Some(json!({"name": "x", "query": ""})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = send(&app, a, "DELETE", "/api/v1/searches/wave", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = send(&app, a, "DELETE", "/api/v1/searches/wave", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Items: new filters beside the old ones.
    let (status, _, page) =
        send(&app, a, "GET", "/api/v1/items?kind=event&sort=oldest", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"][0]["title"], "Wave 7");
    let (status, _, _) = send(&app, a, "GET", "/api/v1/items?sort=best", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
