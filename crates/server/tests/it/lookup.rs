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

/// A source of `kind` with default TLP `tlp`.
async fn source_of(
    store: &Arc<dyn rexist_store::Store>,
    name: &str,
    kind: &str,
    tlp: Tlp,
) -> rexist_core::Source {
    store
        .upsert_source(&SourceSpec {
            name: name.into(),
            kind: kind.into(),
            enabled: true,
            confidence: 80,
            tlp,
            tags: vec![],
        })
        .await
        .unwrap()
}

/// Sends `method uri` (JSON body optional); the status, content type, the
/// `x-rexist-skipped` header and the body as JSON.
async fn raw(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<serde_json::Value>,
) -> (StatusCode, String, Option<String>, serde_json::Value) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(body.map_or_else(axum::body::Body::empty, |b| {
            axum::body::Body::from(b.to_string())
        }))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (ct, skipped) = (
        header("content-type").unwrap_or_default(),
        header("x-rexist-skipped"),
    );
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        ct,
        skipped,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

fn of_type<'a>(bundle: &'a serde_json::Value, t: &str) -> Vec<&'a serde_json::Value> {
    bundle["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["type"] == t)
        .collect()
}

fn strict(bundle: &serde_json::Value) {
    if let Some(verdict) = rexist_testkit::stix2_validate_strict(bundle.to_string().as_bytes()) {
        verdict.unwrap_or_else(|e| panic!("stix2-validator --strict rejected {bundle}:\n{e}"));
    } else {
        eprintln!("skipped: stix2-validator (set REXIST_PEERS_PYTHON)");
    }
}

/// Check IOC in STIX: a lookup answered as a bundle, single and bulk,
/// strict-valid, with the same indicator object an export serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_answers_in_stix() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    let url = Indicator::parse(IndicatorType::Url, "http://bad.host.com/x/y.sh").unwrap();
    for (name, kind, tlp) in [
        ("urlhaus", "urlhaus", Tlp::Clear),
        ("otx-a", "otx", Tlp::Amber),
    ] {
        let src = source_of(&store, name, kind, tlp).await;
        let mut s = NewSighting::new(url.clone(), now());
        s.labels = vec![format!("{name}-label")];
        store.upsert_sightings(&src, &[s]).await.unwrap();
    }
    let feed = source_of(&store, "blocklist", "text", Tlp::Clear).await;
    let nvd = source_of(&store, "nvd", "nvd", Tlp::Clear).await;
    store
        .upsert_sightings(
            &feed,
            &[NewSighting::new(
                Indicator::parse(IndicatorType::Cidr, "45.0.0.0/16").unwrap(),
                now(),
            )],
        )
        .await
        .unwrap();
    store
        .upsert_sightings(
            &nvd,
            &[NewSighting::new(
                Indicator::parse(IndicatorType::Cve, "CVE-2021-44228").unwrap(),
                now(),
            )],
        )
        .await
        .unwrap();
    let app = router(AppState::new(Arc::clone(&store)).with_anonymous(rexist_core::Role::Admin));
    let ids = rexist_server::export::stix_ids(store.as_ref())
        .await
        .unwrap();

    let (s, ct, _, b) = raw(
        &app,
        "GET",
        "/api/v1/lookup/hxxp://bad[.]host[.]com/x/y.sh?format=stix",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(ct, "application/stix+json;version=2.1");
    assert_eq!(b["type"], "bundle");
    let ind = of_type(&b, "indicator");
    assert_eq!(ind.len(), 1, "{b}");
    assert_eq!(
        ind[0]["id"],
        ids.indicator(IndicatorType::Url, "http://bad.host.com/x/y.sh")
    );
    assert_eq!(
        ind[0]["pattern"],
        "[url:value = 'http://bad.host.com/x/y.sh']"
    );
    let sightings = of_type(&b, "sighting");
    assert_eq!(sightings.len(), 2, "one per source: {b}");
    let identities = of_type(&b, "identity");
    for s in &sightings {
        assert_eq!(s["sighting_of_ref"], ind[0]["id"]);
        assert_eq!(s["count"], 1);
        let by = &s["where_sighted_refs"][0];
        let who = identities.iter().find(|i| i["id"] == *by).unwrap();
        assert!(["urlhaus", "otx-a"].contains(&who["name"].as_str().unwrap()));
    }
    let amber = rexist_stix::write::tlp_marking_id(Tlp::Amber);
    assert!(
        sightings
            .iter()
            .any(|s| s["object_marking_refs"][0] == amber && s["labels"][0] == "otx-a-label"),
        "the OTX sighting keeps its TLP and labels: {b}"
    );
    assert!(
        of_type(&b, "marking-definition")
            .iter()
            .any(|m| m["id"] == amber)
    );
    let notes = of_type(&b, "note");
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0]["abstract"]
            .as_str()
            .unwrap()
            .starts_with("rexist verdict: active, score"),
        "{b}"
    );
    assert_eq!(notes[0]["object_refs"][0], ind[0]["id"]);
    strict(&b);

    // The same indicator object, version for version, as an export's.
    let (s, _, _, export) = raw(&app, "GET", "/api/v1/exports/stix", None).await;
    assert_eq!(s, StatusCode::OK);
    let exported = of_type(&export, "indicator")
        .into_iter()
        .find(|o| o["id"] == ind[0]["id"])
        .cloned()
        .unwrap();
    assert_eq!(&exported, ind[0]);
    strict(&export);

    // Not stored, but inside a stored network: its observable, the
    // network's, and why they are related.
    let (s, _, _, b) = raw(&app, "GET", "/api/v1/lookup/45.0.7.7?format=stix", None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(of_type(&b, "indicator").is_empty());
    let addrs = of_type(&b, "ipv4-addr");
    let values: Vec<&str> = addrs.iter().map(|a| a["value"].as_str().unwrap()).collect();
    assert_eq!(values, ["45.0.7.7", "45.0.0.0/16"]);
    let rels = of_type(&b, "relationship");
    assert_eq!(rels.len(), 1);
    assert_eq!(rels[0]["relationship_type"], "related-to");
    assert_eq!(rels[0]["source_ref"], addrs[0]["id"]);
    assert_eq!(rels[0]["target_ref"], addrs[1]["id"]);
    assert!(
        rels[0]["description"]
            .as_str()
            .unwrap()
            .starts_with("contained-in: "),
        "{b}"
    );
    assert!(
        of_type(&b, "note")[0]["abstract"]
            .as_str()
            .unwrap()
            .starts_with("rexist verdict: unknown")
    );
    strict(&b);

    // Bulk: one bundle; what is not an indicator is counted, not fatal.
    let (s, ct, skipped, b) = raw(
        &app,
        "POST",
        "/api/v1/lookup?format=stix",
        Some(json!({"values": [
            "http://bad.host.com/x/y.sh", "junk junk", "45.0.7.7", "CVE-2021-44228"
        ]})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(ct, "application/stix+json;version=2.1");
    assert_eq!(skipped.as_deref(), Some("1"));
    assert_eq!(of_type(&b, "indicator").len(), 1);
    assert_eq!(of_type(&b, "vulnerability").len(), 1);
    assert_eq!(
        of_type(&b, "sighting").len(),
        3,
        "two for the URL, nvd's for the CVE"
    );
    assert_eq!(of_type(&b, "note").len(), 3);
    assert_eq!(
        of_type(&b, "identity")
            .iter()
            .filter(|i| i["name"] == "rexist")
            .count(),
        1
    );
    strict(&b);

    // STIX bulk has its own, lower cap, named in the error.
    let over = vec!["45.0.7.7"; rexist_lookup::MAX_STIX_BULK + 1];
    let (s, _, _, e) = raw(
        &app,
        "POST",
        "/api/v1/lookup?format=stix",
        Some(json!({ "values": over })),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 1000"),
        "{e}"
    );
    let (s, _, _, b) = raw(
        &app,
        "POST",
        "/api/v1/lookup",
        Some(json!({ "values": over })),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "JSON bulk takes more: {b}");

    let (s, _, _, e) = raw(&app, "GET", "/api/v1/lookup/1.2.3.4?format=xml", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
}
