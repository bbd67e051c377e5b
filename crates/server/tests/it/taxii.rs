//! The TAXII 2.1 server under `/taxii2/` over a temporary SQLite store:
//! resource shapes, media types, paging, filters, writes, TLP, and (when
//! `REXIST_PEERS_PYTHON` names a python with `taxii2-client`) the OASIS
//! client against it over HTTP.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use rexist_core::model::now;
use rexist_core::{Indicator, IndicatorType, NewSighting, Role, SourceSpec, Tlp};
use rexist_server::taxii::{CollectionConfig, TaxiiConfig};
use rexist_server::{AppState, router};
use rexist_store::Store;
use rexist_store::sqlite::SqliteStore;
use serde_json::{Value, json};
use tower::ServiceExt;

const TAXII: &str = "application/taxii+json;version=2.1";
const ALL_ID: &str = "6b0c8bb5-2b5d-4c1b-9a3e-1f5e0a7c2d41";
const INBOX_ID: &str = "0d3b6f7e-3f55-4d0c-8a8e-5a2f8f1f0a01";
const CLEAR_ID: &str = "c1ea4000-0000-4000-8000-000000000001";
const ROOT: &str = "/taxii2/api/collections";

fn collection(id: &str, title: &str, alias: &str) -> CollectionConfig {
    CollectionConfig {
        id: id.into(),
        title: title.into(),
        description: None,
        alias: Some(alias.into()),
        types: vec![],
        source: None,
        tag: None,
        min_score: None,
        tlp: None,
        active_only: true,
        writable: false,
        write_source: None,
    }
}

fn config() -> TaxiiConfig {
    let mut inbox = collection(INBOX_ID, "inbox", "inbox");
    inbox.writable = true;
    let mut clear = collection(CLEAR_ID, "clear only", "clear");
    clear.tlp = Some("clear".into());
    let cfg = TaxiiConfig {
        description: Some("test server".into()),
        max_page: 1000,
        collections: vec![collection(ALL_ID, "everything", "all"), inbox, clear],
        ..TaxiiConfig::default()
    };
    cfg.validate().unwrap();
    cfg
}

/// `domains` domains (TLP:GREEN), `cves` CVEs and one TLP:RED IPv4 address.
async fn seeded(domains: usize, cves: usize) -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("rexist.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let source = store
        .upsert_source(&SourceSpec {
            name: "feed-a".into(),
            kind: "file".into(),
            enabled: true,
            confidence: 80,
            tlp: Tlp::Green,
            tags: vec![],
        })
        .await
        .unwrap();
    let mut sightings: Vec<NewSighting> = (0..domains)
        .map(|n| {
            let d = format!("host{n}.example.com");
            NewSighting::new(Indicator::parse(IndicatorType::Domain, &d).unwrap(), now())
        })
        .chain((0..cves).map(|n| {
            let c = format!("CVE-2024-{}", 10_000 + n);
            NewSighting::new(Indicator::parse(IndicatorType::Cve, &c).unwrap(), now())
        }))
        .collect();
    sightings.push(NewSighting {
        tlp: Some(Tlp::Red),
        ..NewSighting::new(
            Indicator::parse(IndicatorType::Ipv4, "198.51.100.66").unwrap(),
            now(),
        )
    });
    for chunk in sightings.chunks(500) {
        store.upsert_sightings(&source, chunk).await.unwrap();
    }
    (Arc::new(store), dir)
}

/// The installation's STIX ids, as the server draws them.
async fn stix_ids(store: &Arc<dyn Store>) -> rexist_stix::write::StixIds {
    rexist_server::export::stix_ids(store.as_ref())
        .await
        .unwrap()
}

fn app(store: &Arc<dyn Store>, role: Role) -> axum::Router {
    app_with(AppState::new(Arc::clone(store)).with_taxii(config()), role)
}

fn app_with(state: AppState, role: Role) -> axum::Router {
    router(state.with_anonymous(role))
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

async fn send(
    app: &axum::Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Answer {
    let mut req = Request::builder().method(method).uri(uri);
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("accept"))
    {
        req = req.header("accept", TAXII);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some(TAXII),
        "{method} {uri} answered {status} without the TAXII media type"
    );
    Answer {
        status,
        headers,
        body,
    }
}

async fn get(app: &axum::Router, uri: &str) -> Answer {
    send(app, "GET", uri, &[], None).await
}

fn header(a: &Answer, name: &str) -> Option<String> {
    a.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn objects(a: &Answer) -> Vec<Value> {
    a.body["objects"].as_array().cloned().unwrap_or_default()
}

fn ids_of(objs: &[Value]) -> Vec<String> {
    objs.iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every object of `uri` (a collection's objects or manifest), page by page.
async fn pull_all(app: &axum::Router, uri: &str, limit: usize) -> (Vec<Value>, usize) {
    let sep = if uri.contains('?') { '&' } else { '?' };
    let mut all = Vec::new();
    let mut pages = 0;
    let mut next: Option<String> = None;
    loop {
        let url = match &next {
            Some(n) => format!("{uri}{sep}limit={limit}&next={n}"),
            None => format!("{uri}{sep}limit={limit}"),
        };
        let a = get(app, &url).await;
        assert_eq!(a.status, StatusCode::OK, "{url}: {}", a.body);
        let objs = objects(&a);
        assert!(objs.len() <= limit, "page of {} > {limit}", objs.len());
        if let Some(first) = objs.first() {
            let last = objs.last().unwrap();
            if let (Some(f), Some(l)) = (first.get("date_added"), last.get("date_added")) {
                assert_eq!(
                    header(&a, "x-taxii-date-added-first").as_deref(),
                    f.as_str()
                );
                assert_eq!(header(&a, "x-taxii-date-added-last").as_deref(), l.as_str());
            }
            assert!(header(&a, "x-taxii-date-added-last").is_some());
        }
        pages += 1;
        all.extend(objs);
        if a.body["more"] == json!(true) {
            next = Some(a.body["next"].as_str().unwrap().to_owned());
        } else {
            assert!(a.body.get("next").is_none());
            break;
        }
    }
    (all, pages)
}

#[tokio::test]
async fn discovery_root_and_collections() {
    let (store, _dir) = seeded(3, 1).await;
    let app = app(&store, Role::Admin);

    // A hostile Host is not reflected into api_roots: without a public URL
    // only loopback names are trusted here (no listen address is known).
    let a = send(
        &app,
        "GET",
        "/taxii2/",
        &[("host", "evil.example:8080")],
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["title"], "rexist");
    assert_eq!(a.body["description"], "test server");
    assert_eq!(a.body["api_roots"], json!(["http://localhost/taxii2/api/"]));
    assert_eq!(a.body["default"], "http://localhost/taxii2/api/");
    let a = send(
        &app,
        "GET",
        "/taxii2/",
        &[("host", "localhost:8080"), ("x-forwarded-proto", "https")],
        None,
    )
    .await;
    assert_eq!(
        a.body["api_roots"],
        json!(["https://localhost:8080/taxii2/api/"])
    );
    // With `[server] public_url`, every Host gets the public URL.
    let public = app_with(
        AppState::new(Arc::clone(&store))
            .with_taxii(config())
            .with_origin(Some("https://ti.example.org/cti/"), None)
            .unwrap(),
        Role::Admin,
    );
    for host in ["evil.example", "localhost:8080", "ti.example.org"] {
        let a = send(&public, "GET", "/taxii2/", &[("host", host)], None).await;
        assert_eq!(
            a.body["api_roots"],
            json!(["https://ti.example.org/cti/taxii2/api/"]),
            "Host: {host}"
        );
    }
    // Listening on every address, a forged Host falls back to localhost
    // and the port; the listen address itself is trusted when specific.
    for (listen, host, root) in [
        ("0.0.0.0:8443", "evil.example:8443", "http://localhost:8443"),
        ("0.0.0.0:8443", "203.0.113.66:8443", "http://localhost:8443"),
        ("192.0.2.7:8443", "192.0.2.7:8443", "http://192.0.2.7:8443"),
        ("192.0.2.7:8443", "evil.example", "http://192.0.2.7:8443"),
    ] {
        let listening = app_with(
            AppState::new(Arc::clone(&store))
                .with_taxii(config())
                .with_origin(None, Some(listen.parse().unwrap()))
                .unwrap(),
            Role::Admin,
        );
        let a = send(&listening, "GET", "/taxii2/", &[("host", host)], None).await;
        assert_eq!(
            a.body["api_roots"],
            json!([format!("{root}/taxii2/api/")]),
            "listen {listen}, Host: {host}"
        );
    }

    let a = get(&app, "/taxii2/api/").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["versions"], json!([TAXII]));
    assert!(a.body["max_content_length"].as_u64().unwrap() > 1_000_000);

    let a = get(&app, "/taxii2/api/collections/").await;
    let list = a.body["collections"].as_array().unwrap();
    assert_eq!(
        list.len(),
        4,
        "the configured three and the lookup collection"
    );
    assert_eq!(list[3]["alias"], "lookup");
    assert_eq!(list[3]["can_write"], false);
    assert_eq!(list[0]["id"], ALL_ID);
    assert_eq!(list[0]["can_read"], true);
    assert_eq!(list[0]["can_write"], false);
    assert_eq!(list[1]["can_write"], true);
    assert_eq!(
        list[0]["media_types"],
        json!(["application/stix+json;version=2.1"])
    );

    for id in [INBOX_ID, "inbox"] {
        let a = get(&app, &format!("{ROOT}/{id}/")).await;
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.body["id"], INBOX_ID);
        assert_eq!(a.body["alias"], "inbox");
    }
    let a = get(&app, &format!("{ROOT}/nope/")).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.body["http_status"], "404");
    assert!(a.body["title"].is_string());
    let a = get(&app, "/taxii2/elsewhere/").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);

    // A viewer may read but not write.
    let viewer = self::app(&store, Role::Viewer);
    let a = get(&viewer, "/taxii2/api/collections/").await;
    assert_eq!(a.body["collections"][1]["can_write"], false);

    // Without a configured collection the default one is served.
    let plain = app_with(AppState::new(Arc::clone(&store)), Role::Admin);
    let a = get(&plain, "/taxii2/api/collections/").await;
    assert_eq!(a.body["collections"][0]["id"], ALL_ID);
    assert_eq!(a.body["collections"][0]["can_write"], false);
}

#[tokio::test]
async fn media_types() {
    let (store, _dir) = seeded(3, 0).await;
    let app = app(&store, Role::Admin);
    for accept in [
        "application/json",
        "application/taxii+json;version=2.0",
        "text/html",
    ] {
        let a = send(&app, "GET", "/taxii2/", &[("accept", accept)], None).await;
        assert_eq!(a.status, StatusCode::NOT_ACCEPTABLE, "{accept}");
        assert_eq!(a.body["http_status"], "406");
        let a = send(
            &app,
            "GET",
            &format!("{ROOT}/all/objects/"),
            &[("accept", accept)],
            None,
        )
        .await;
        assert_eq!(a.status, StatusCode::NOT_ACCEPTABLE, "{accept}");
    }
    for accept in ["application/taxii+json", "*/*", TAXII] {
        let a = send(&app, "GET", "/taxii2/api/", &[("accept", accept)], None).await;
        assert_eq!(a.status, StatusCode::OK, "{accept}");
    }
    let envelope = json!({"objects": []});
    for ct in [
        "application/json",
        "application/stix+json;version=2.1",
        "text/plain",
    ] {
        let a = send(
            &app,
            "POST",
            &format!("{ROOT}/inbox/objects/"),
            &[("content-type", ct)],
            Some(envelope.clone()),
        )
        .await;
        assert_eq!(a.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}");
        assert_eq!(a.body["http_status"], "415");
    }
    let big = "x".repeat(17 << 20);
    let req = Request::builder()
        .method("POST")
        .uri(format!("{ROOT}/inbox/objects/"))
        .header("accept", TAXII)
        .header("content-type", TAXII)
        .body(Body::from(big))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let a = send(
        &app,
        "GET",
        "/taxii2/api/collections/all/objects/?limit=0",
        &[],
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = send(
        &app,
        "GET",
        &format!("{ROOT}/all/objects/?next=garbage"),
        &[],
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = send(
        &app,
        "GET",
        &format!("{ROOT}/all/objects/?match%5Bfoo%5D=1"),
        &[],
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn pages_cover_every_object_once() {
    let (store, _dir) = seeded(2_000, 500).await;
    let app = app(&store, Role::Admin);
    let (objs, pages) = pull_all(&app, &format!("{ROOT}/all/objects/"), 100).await;
    let ids = ids_of(&objs);
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an object was served twice");
    // identity + 5 TLP markings, 2,001 indicators with an SCO, an
    // observed-data and a relationship each, 500 vulnerabilities.
    assert_eq!(ids.len(), 6 + 2_001 * 4 + 500);
    assert!(pages >= ids.len() / 100, "{pages} pages");
    let count = |t: &str| objs.iter().filter(|o| o["type"] == t).count();
    assert_eq!(count("indicator"), 2_001);
    assert_eq!(count("domain-name"), 2_000);
    assert_eq!(count("relationship"), 2_001);
    assert_eq!(count("observed-data"), 2_001);
    assert_eq!(count("vulnerability"), 500);
    assert_eq!(count("marking-definition"), 5);
    assert_eq!(count("identity"), 1);
    let want = stix_ids(&store)
        .await
        .indicator(IndicatorType::Domain, "host1234.example.com");
    assert!(unique.contains(&want));

    // The manifest lists the same objects, in the same order.
    let (manifest, _) = pull_all(&app, &format!("{ROOT}/all/manifest/"), 1000).await;
    assert_eq!(ids_of(&manifest), ids);
    for (entry, obj) in manifest.iter().zip(&objs) {
        assert_eq!(entry["media_type"], "application/stix+json;version=2.1");
        let version = obj.get("modified").or_else(|| obj.get("created"));
        if let Some(v) = version {
            assert_eq!(&entry["version"], v);
        }
    }
    // date_added only grows.
    let added: Vec<&str> = manifest
        .iter()
        .map(|e| e["date_added"].as_str().unwrap())
        .collect();
    assert!(added.windows(2).all(|w| w[0] <= w[1]));

    // added_after is strict: everything after the 3,000th entry's date_added.
    let cut = added[3_000];
    let (after, _) = pull_all(
        &app,
        &format!("{ROOT}/all/manifest/?added_after={cut}"),
        1000,
    )
    .await;
    let expected: Vec<&Value> = manifest
        .iter()
        .filter(|e| e["date_added"].as_str().unwrap() > cut)
        .collect();
    assert!(
        after
            .iter()
            .all(|e| e["date_added"].as_str().unwrap() > cut)
    );
    assert_eq!(after.len(), expected.len());

    // A page never splits a row: every indicator comes with its SCO,
    // observed-data and relationship, so limit=2 pages hold one row each (or
    // the fixed objects).
    let a = get(
        &app,
        &format!("{ROOT}/all/objects/?limit=2&added_after={cut}"),
    )
    .await;
    let page = objects(&a);
    assert!(!page.is_empty() && page.len() <= 4, "{}", page.len());
}

#[tokio::test]
async fn filters_and_single_objects() {
    let (store, _dir) = seeded(50, 10).await;
    let app = app(&store, Role::Admin);

    // Everything served, as one bundle, passes the OASIS validator's
    // strict mode (UUIDv4 SDO/SRO ids, suggested relationship types).
    let (all, _) = pull_all(&app, &format!("{ROOT}/all/objects/"), 1000).await;
    let bundle = json!({"type": "bundle", "id": "bundle--1f2e3d4c-5b6a-4978-8a6b-5c4d3e2f1a0b", "objects": all});
    match rexist_testkit::stix2_validate_strict(bundle.to_string().as_bytes()) {
        Some(verdict) => verdict.unwrap(),
        None => eprintln!("skipped: stix2-validator (set REXIST_PEERS_PYTHON)"),
    }

    let (vulns, _) = pull_all(
        &app,
        &format!("{ROOT}/all/objects/?match%5Btype%5D=vulnerability"),
        4,
    )
    .await;
    assert_eq!(vulns.len(), 10);
    assert!(vulns.iter().all(|o| o["type"] == "vulnerability"));
    let (observed, _) = pull_all(
        &app,
        &format!("{ROOT}/all/objects/?match%5Btype%5D=observed-data"),
        1000,
    )
    .await;
    assert_eq!(observed.len(), 51, "one per indicator");

    let (some, _) = pull_all(
        &app,
        &format!("{ROOT}/all/objects/?match[type]=indicator,identity"),
        1000,
    )
    .await;
    assert_eq!(some.len(), 51 + 1);

    let ind = stix_ids(&store)
        .await
        .indicator(IndicatorType::Domain, "host7.example.com");
    let sco = rexist_stix::write::sco_id(IndicatorType::Domain, "host7.example.com").unwrap();
    let a = get(
        &app,
        &format!("{ROOT}/all/objects/?match%5Bid%5D={ind},{sco}"),
    )
    .await;
    let mut got = ids_of(&objects(&a));
    got.sort();
    let mut want = vec![ind.clone(), sco.clone()];
    want.sort();
    assert_eq!(got, want);

    let a = get(&app, &format!("{ROOT}/all/objects/{ind}/")).await;
    assert_eq!(a.status, StatusCode::OK);
    let objs = objects(&a);
    assert_eq!(objs.len(), 1);
    assert_eq!(
        objs[0]["pattern"],
        "[domain-name:value = 'host7.example.com']"
    );
    let modified = objs[0]["modified"].clone();
    assert!(header(&a, "x-taxii-date-added-first").is_some());

    let a = get(&app, &format!("{ROOT}/all/objects/{ind}/versions/")).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["versions"], json!([modified]));
    assert_eq!(a.body["more"], false);

    for v in ["last", "first", "all"] {
        let a = get(
            &app,
            &format!("{ROOT}/all/objects/{ind}/?match%5Bversion%5D={v}"),
        )
        .await;
        assert_eq!(objects(&a).len(), 1, "{v}");
    }
    let m = modified.as_str().unwrap();
    let a = get(
        &app,
        &format!("{ROOT}/all/objects/?match%5Bid%5D={ind}&match%5Bversion%5D={m}"),
    )
    .await;
    assert_eq!(objects(&a).len(), 1);
    let a = get(
        &app,
        &format!("{ROOT}/all/objects/?match%5Bid%5D={ind}&match%5Bversion%5D=2001-01-01T00:00:00Z"),
    )
    .await;
    assert_eq!(objects(&a).len(), 0);
    let a = get(
        &app,
        &format!("{ROOT}/all/objects/?match%5Bspec_version%5D=2.0"),
    )
    .await;
    assert_eq!(objects(&a).len(), 0);

    let identity = stix_ids(&store).await.identity()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = get(&app, &format!("{ROOT}/all/objects/{identity}/")).await;
    assert_eq!(objects(&a)[0]["type"], "identity");

    let a = get(
        &app,
        &format!("{ROOT}/all/objects/indicator--00000000-0000-4000-8000-000000000000/"),
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.body["http_status"], "404");
}

#[tokio::test]
async fn tlp_limits_what_is_served() {
    let (store, _dir) = seeded(5, 0).await;
    let red = stix_ids(&store)
        .await
        .indicator(IndicatorType::Ipv4, "198.51.100.66");
    let red_marking = rexist_stix::write::tlp_marking_id(Tlp::Red);

    let admin = app(&store, Role::Admin);
    let (objs, _) = pull_all(&admin, &format!("{ROOT}/all/objects/"), 1000).await;
    let ids = ids_of(&objs);
    assert!(ids.contains(&red));
    assert!(ids.iter().any(|i| i == red_marking));
    // The TLP:CLEAR collection holds neither the GREEN feed nor the RED one.
    let (clear, _) = pull_all(&admin, &format!("{ROOT}/clear/objects/"), 1000).await;
    assert!(
        clear
            .iter()
            .all(|o| o["type"] == "identity" || o["type"] == "marking-definition")
    );

    let viewer = app(&store, Role::Viewer);
    let (objs, _) = pull_all(&viewer, &format!("{ROOT}/all/objects/"), 1000).await;
    let ids = ids_of(&objs);
    assert!(!ids.contains(&red));
    assert!(!ids.iter().any(|i| i == red_marking));
    assert_eq!(objs.iter().filter(|o| o["type"] == "indicator").count(), 5);
    let a = get(&viewer, &format!("{ROOT}/all/objects/{red}/")).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

/// Check IOC through TAXII: the lookup collection answers values (and
/// stored objects' ids) with their lookup objects, within the reader's TLP.
#[tokio::test]
async fn lookup_collection_checks_iocs() {
    let (store, _dir) = seeded(5, 0).await;
    let ids = stix_ids(&store).await;
    let viewer = app(&store, Role::Viewer);
    let lookup = format!("{ROOT}/lookup/objects/");

    let a = get(
        &viewer,
        &format!("{lookup}?match[value]=host1.example.com,hxxp://new[.]example/x"),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["more"], false);
    let objs = objects(&a);
    let of = |t: &str| objs.iter().filter(|o| o["type"] == t).collect::<Vec<_>>();
    assert_eq!(of("indicator").len(), 1);
    assert_eq!(
        of("indicator")[0]["id"],
        ids.indicator(IndicatorType::Domain, "host1.example.com")
    );
    assert_eq!(of("sighting").len(), 1);
    assert_eq!(
        of("url")[0]["value"],
        "http://new.example/x",
        "unknown: its observable"
    );
    assert_eq!(of("note").len(), 2, "a verdict for each");
    assert!(header(&a, "x-taxii-date-added-first").is_some());

    // By a stored object's id: the SCO id any client can compute.
    let sco = rexist_stix::write::sco_id(IndicatorType::Domain, "host2.example.com").unwrap();
    let a = get(&viewer, &format!("{lookup}?match[id]={sco}")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    let objs = objects(&a);
    assert!(
        objs.iter()
            .any(|o| o["pattern"] == "[domain-name:value = 'host2.example.com']")
    );

    // Above the reader's clearance: neither by value nor by id.
    let red = ids.indicator(IndicatorType::Ipv4, "198.51.100.66");
    for q in [
        "match[value]=198.51.100.66".to_owned(),
        format!("match[id]={red}"),
    ] {
        let a = get(&viewer, &format!("{lookup}?{q}")).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        let objs = objects(&a);
        assert!(
            objs.iter().all(|o| o["type"] != "indicator"),
            "{q}: {objs:?}"
        );
        assert!(
            objs.iter().all(
                |o| o["object_marking_refs"][0] != rexist_stix::write::tlp_marking_id(Tlp::Red)
            ),
            "{q}"
        );
    }
    let admin = app(&store, Role::Admin);
    let a = get(&admin, &format!("{lookup}?match[value]=198.51.100.66")).await;
    assert_eq!(objects(&a).iter().filter(|o| o["id"] == red).count(), 1);

    // What it cannot answer, it says.
    for (q, want) in [
        (String::new(), "match[value]"),
        ("?match[value]=junk%20junk".to_owned(), "junk junk"),
        (
            format!(
                "?match[value]={}",
                (0..101)
                    .map(|i| format!("10.0.0.{i}"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            "at most 100",
        ),
    ] {
        let a = get(&viewer, &format!("{lookup}{q}")).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{q}");
        assert!(
            a.body["description"].as_str().unwrap().contains(want),
            "{q}: {}",
            a.body
        );
    }
    let a = get(&viewer, &format!("{ROOT}/lookup/manifest/")).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = get(&viewer, &format!("{ROOT}/lookup/")).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["title"], "Check IOC");
}

#[tokio::test]
async fn writes() {
    let (store, _dir) = seeded(1, 0).await;
    let admin = app(&store, Role::Admin);
    let envelope = json!({"objects": [
        {"type": "indicator", "spec_version": "2.1",
         "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
         "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-02T00:00:00.000Z",
         "name": "bad host", "pattern": "[ipv4-addr:value = '203.0.113.7']",
         "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"},
        {"type": "domain-name", "spec_version": "2.1",
         "id": "domain-name--dd3bd9a4-3c8b-5b7b-9b5c-6e8f0b0b0b0b", "value": "push.example.net"},
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--0b0b0b0b-0000-4000-8000-000000000000"}
    ]});
    let a = send(
        &admin,
        "POST",
        &format!("{ROOT}/inbox/objects/"),
        &[("content-type", TAXII)],
        Some(envelope.clone()),
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    let status = a.body.clone();
    assert_eq!(status["status"], "complete");
    assert_eq!(status["total_count"], 3);
    assert_eq!(status["pending_count"], 0);
    assert_eq!(
        status["success_count"].as_u64().unwrap() + status["failure_count"].as_u64().unwrap(),
        3
    );
    assert_eq!(status["failure_count"], 1, "{status}");
    assert_eq!(
        status["failures"][0]["id"],
        "indicator--0b0b0b0b-0000-4000-8000-000000000000"
    );

    let ip = store
        .indicator(IndicatorType::Ipv4, "203.0.113.7")
        .await
        .unwrap()
        .expect("the pushed indicator is stored");
    assert!(ip.sightings >= 1);
    store
        .indicator(IndicatorType::Domain, "push.example.net")
        .await
        .unwrap()
        .expect("the pushed SCO is stored");
    let source = store.source_by_name("taxii:inbox").await.unwrap().unwrap();
    assert_eq!(source.name, "taxii:inbox");

    let sid = status["id"].as_str().unwrap();
    let a = get(&admin, &format!("/taxii2/api/status/{sid}/")).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body, status);
    let a = get(&admin, "/taxii2/api/status/nope/").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);

    // The pushed indicator is served by the read collection.
    let want = stix_ids(&store)
        .await
        .indicator(IndicatorType::Ipv4, "203.0.113.7");
    let a = get(&admin, &format!("{ROOT}/all/objects/{want}/")).await;
    assert_eq!(a.status, StatusCode::OK);

    // Read-only collections and viewers may not write; nothing is deleted.
    let post = |app: axum::Router, c: &'static str| {
        let envelope = envelope.clone();
        async move {
            send(
                &app,
                "POST",
                &format!("{ROOT}/{c}/objects/"),
                &[("content-type", TAXII)],
                Some(envelope),
            )
            .await
        }
    };
    let a = post(admin.clone(), "all").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.body["http_status"], "403");
    // (The authentication layer may refuse a viewer's POST before the TAXII
    // handler does, with its own error body.)
    let viewer = app(&store, Role::Viewer);
    let req = Request::builder()
        .method("POST")
        .uri(format!("{ROOT}/inbox/objects/"))
        .header("accept", TAXII)
        .header("content-type", TAXII)
        .body(Body::from(envelope.to_string()))
        .unwrap();
    let res = viewer.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let obj = format!("{ROOT}/all/objects/{want}/");
    assert_eq!(
        send(&admin, "DELETE", &obj, &[], None).await.status,
        StatusCode::FORBIDDEN
    );
    let obj = format!("{ROOT}/inbox/objects/{want}/");
    assert_eq!(
        send(&admin, "DELETE", &obj, &[], None).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    let a = send(&admin, "PUT", &format!("{ROOT}/all/objects/"), &[], None).await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(a.body["http_status"], "405");
}

/// The OASIS `taxii2-client` against the server over HTTP. Runs only when
/// `REXIST_PEERS_PYTHON` names a python with `taxii2-client` installed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taxii2_client_interop() {
    let Ok(python) = std::env::var("REXIST_PEERS_PYTHON") else {
        eprintln!("skipped: set REXIST_PEERS_PYTHON to a python with taxii2-client");
        return;
    };
    let (store, _dir) = seeded(450, 50).await;
    let app = app(&store, Role::Admin);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let script = r#"
import json, sys
from taxii2client.v21 import Server, as_pages
server = Server(sys.argv[1])
out = {"title": server.title, "roots": []}
for root in server.api_roots:
    r = {"title": root.title, "versions": root.versions, "collections": {}}
    for c in root.collections:
        if c.alias == "lookup":
            envelope = c.get_objects(value="host1.example.com")
            types = sorted({o["type"] for o in envelope.get("objects", [])})
            r["collections"]["lookup"] = {"types": types}
            continue
        ids, pages = [], 0
        for envelope in as_pages(c.get_objects, per_request=100):
            pages += 1
            ids.extend(o["id"] for o in envelope.get("objects", []))
        manifest = c.get_manifest()
        info = {"can_write": c.can_write, "objects": len(ids), "unique": len(set(ids)),
                "pages": pages, "manifest": len(manifest.get("objects", []))}
        if c.can_write:
            bundle = {"objects": [{"type": "indicator", "spec_version": "2.1",
                "id": "indicator--6c7b3a3c-4c5a-4c1e-9b0e-2f0d3f3c9a11",
                "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
                "pattern": "[domain-name:value = 'client.example.org']",
                "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"}]}
            status = c.add_objects(json.dumps(bundle))
            info["status"] = status.status
            info["success_count"] = status.success_count
        r["collections"][c.alias or c.id] = info
    out["roots"].append(r)
print(json.dumps(out))
"#;
    let url = format!("http://{addr}/taxii2/");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg("-c")
            .arg(script)
            .arg(url)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    server.abort();
    assert!(
        output.status.success(),
        "taxii2-client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: Value = serde_json::from_slice(&output.stdout).unwrap();
    eprintln!("taxii2-client saw {out}");
    assert_eq!(out["title"], "rexist");
    let root = &out["roots"][0];
    assert_eq!(root["versions"], json!([TAXII]));
    let all = &root["collections"]["all"];
    // identity + 5 markings + 451 indicators × 4 + 50 vulnerabilities.
    let total = 6 + 451 * 4 + 50;
    assert_eq!(all["objects"], total);
    assert_eq!(all["unique"], total);
    assert!(all["pages"].as_u64().unwrap() >= 15);
    // One manifest page: at most max_page (1000) entries, whole rows.
    let manifest = all["manifest"].as_u64().unwrap();
    assert!((997..=1000).contains(&manifest), "{manifest}");
    assert_eq!(
        root["collections"]["lookup"]["types"],
        json!([
            "domain-name",
            "identity",
            "indicator",
            "marking-definition",
            "note",
            "observed-data",
            "relationship",
            "sighting"
        ])
    );
    let inbox = &root["collections"]["inbox"];
    assert_eq!(inbox["status"], "complete");
    assert_eq!(inbox["success_count"], 1);
    assert!(
        store
            .indicator(IndicatorType::Domain, "client.example.org")
            .await
            .unwrap()
            .is_some()
    );
}

/// One HTTP/1.1 GET on a kept-alive connection: the body.
async fn http_get(conn: &mut tokio::io::BufStream<tokio::net::TcpStream>, path: &str) -> Vec<u8> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let req = format!("GET {path} HTTP/1.1\r\nhost: bench\r\naccept: {TAXII}\r\n\r\n");
    conn.write_all(req.as_bytes()).await.unwrap();
    conn.flush().await.unwrap();
    let mut length = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        conn.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    conn.read_exact(&mut body).await.unwrap();
    body
}

/// Throughput of a full pull over HTTP (run in release:
/// `cargo test -p rexist-server --release -- --ignored taxii_full_pull`);
/// `REXIST_TAXII_BENCH_N` indicators (default 100,000), `limit=1000`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark; run in release"]
async fn taxii_full_pull_throughput() {
    let n: usize = std::env::var("REXIST_TAXII_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let started = std::time::Instant::now();
    let (store, _dir) = seeded(n, 0).await;
    eprintln!("seeded {n} indicators in {:?}", started.elapsed());
    let app = app(&store, Role::Admin);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut conn = tokio::io::BufStream::new(stream);
    let started = std::time::Instant::now();
    let (mut objects, mut pages, mut bytes) = (0usize, 0usize, 0usize);
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            Some(t) => format!("{ROOT}/all/objects/?limit=1000&next={t}"),
            None => format!("{ROOT}/all/objects/?limit=1000"),
        };
        let body = http_get(&mut conn, &path).await;
        bytes += body.len();
        let page: Value = serde_json::from_slice(&body).unwrap();
        objects += page["objects"].as_array().unwrap().len();
        pages += 1;
        match page["next"].as_str() {
            Some(t) if page["more"] == true => next = Some(t.to_owned()),
            _ => break,
        }
    }
    let took = started.elapsed();
    // One object by id scans the collection (STIX ids are hashes).
    let last = format!("host{}.example.com", n - 1);
    let id = stix_ids(&store)
        .await
        .indicator(IndicatorType::Domain, &last);
    let started = std::time::Instant::now();
    let body = http_get(&mut conn, &format!("{ROOT}/all/objects/{id}/")).await;
    let one: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(one["objects"][0]["id"], id.as_str());
    eprintln!(
        "one object by id in {:?} (first: builds the id index)",
        started.elapsed()
    );
    let started = std::time::Instant::now();
    let body = http_get(&mut conn, &format!("{ROOT}/all/objects/{id}/")).await;
    let one: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(one["objects"][0]["id"], id.as_str());
    eprintln!("one object by id in {:?} (again)", started.elapsed());
    server.abort();
    eprintln!(
        "pulled {objects} objects ({} MB) in {pages} pages in {took:?}: {:.0} objects/s",
        bytes >> 20,
        f64::from(u32::try_from(objects).unwrap()) / took.as_secs_f64()
    );
    assert_eq!(objects, 6 + (n + 1) * 3);
}

#[tokio::test]
async fn a_retired_indicator_comes_again_as_a_revoked_version() {
    let (store, _dir) = seeded(3, 0).await;
    let app = app(&store, Role::Viewer);
    let first = get(&app, &format!("{ROOT}/all/objects/")).await;
    assert_eq!(first.status, StatusCode::OK);
    let cut = header(&first, "x-taxii-date-added-last").unwrap();
    let nothing = get(&app, &format!("{ROOT}/all/objects/?added_after={cut}")).await;
    assert!(objects(&nothing).is_empty(), "{}", nothing.body);

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let feed = store.source_by_name("feed-a").await.unwrap().unwrap();
    let retired = store
        .retire_sightings(
            &feed,
            &[rexist_core::Retraction {
                indicator: Indicator::parse(IndicatorType::Domain, "host1.example.com").unwrap(),
                reason: rexist_core::RetractReason::Revoked,
                at: now(),
            }],
        )
        .await
        .unwrap();
    assert_eq!(retired, 1);

    let again = get(&app, &format!("{ROOT}/all/objects/?added_after={cut}")).await;
    assert_eq!(again.status, StatusCode::OK);
    let objs = objects(&again);
    let id = stix_ids(&store)
        .await
        .indicator(IndicatorType::Domain, "host1.example.com");
    let ind = objs
        .iter()
        .find(|o| o["id"] == id.as_str())
        .unwrap_or_else(|| panic!("the revoked indicator: {}", again.body));
    assert_eq!(ind["revoked"], true);
    assert!(
        ind["description"]
            .as_str()
            .unwrap()
            .starts_with("retired (revoked by feed-a)"),
        "{ind}"
    );
    let old = objects(&first)
        .into_iter()
        .find(|o| o["id"] == id.as_str())
        .unwrap();
    assert!(
        ind["modified"].as_str().unwrap() > old["modified"].as_str().unwrap(),
        "a newer version: {} after {}",
        ind["modified"],
        old["modified"]
    );
    let rel = objs
        .iter()
        .find(|o| o["type"] == "relationship")
        .expect("its relationship");
    assert_eq!(rel["revoked"], true);
    assert_eq!(
        objs.iter().filter(|o| o["type"] == "indicator").count(),
        1,
        "only the retired one pages again"
    );

    // The object and its versions answer with the revoked version too.
    let one = get(&app, &format!("{ROOT}/all/objects/{id}/")).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(objects(&one)[0]["revoked"], true);
    let versions = get(&app, &format!("{ROOT}/all/objects/{id}/versions/")).await;
    assert_eq!(versions.body["versions"], json!([ind["modified"]]));
}

/// rexist to rexist: a second installation pulls this TAXII server with a
/// `taxii` source, and when the first retires an indicator, the second's
/// next run receives the revoked version and retires its own sighting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retraction_travels_from_rexist_to_rexist() {
    use rexist_connectors::source::{Params, SourceConfig};
    let (upstream, _dir) = seeded(3, 0).await;
    let app = app(&upstream, Role::Viewer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let downstream: Arc<dyn Store> = rexist_store::open(None, dir.path()).await.unwrap();
    let ingest = rexist_pipeline::Ingest::new(Arc::clone(&downstream), None);
    let mut config = SourceConfig::from_catalogue(
        rexist_connectors::source::catalogue("kev").expect("a catalogue entry"),
    );
    "upstream-rexist".clone_into(&mut config.name);
    "taxii".clone_into(&mut config.kind);
    config.url = Some(format!("http://{addr}/taxii2/"));
    config.params = Params::Taxii(rexist_connectors::taxii::Params {
        collection: Some("everything".into()),
        ..rexist_connectors::taxii::Params::default()
    });
    let source = config.resolve().unwrap();
    let fetcher =
        rexist_connectors::http::Fetcher::new(rexist_connectors::http::FetchOptions::default())
            .unwrap();
    let first = rexist_pipeline::run_source(&ingest, &fetcher, &source)
        .await
        .unwrap();
    assert_eq!(
        first.outcome,
        rexist_core::RunOutcome::Success,
        "{:?}",
        first.error
    );
    let pulled = downstream
        .indicator(IndicatorType::Domain, "host1.example.com")
        .await
        .unwrap()
        .expect("pulled from the first installation");
    assert_eq!(pulled.status, rexist_core::IndicatorStatus::Active);

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let feed = upstream.source_by_name("feed-a").await.unwrap().unwrap();
    upstream
        .retire_sightings(
            &feed,
            &[rexist_core::Retraction {
                indicator: Indicator::parse(IndicatorType::Domain, "host1.example.com").unwrap(),
                reason: rexist_core::RetractReason::Revoked,
                at: now(),
            }],
        )
        .await
        .unwrap();

    let second = rexist_pipeline::run_source(&ingest, &fetcher, &source)
        .await
        .unwrap();
    assert_eq!(
        second.outcome,
        rexist_core::RunOutcome::Success,
        "{:?}",
        second.error
    );
    let after = downstream
        .indicator(IndicatorType::Domain, "host1.example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, rexist_core::IndicatorStatus::Retired);
    let sightings = downstream.sightings_of(after.id).await.unwrap();
    assert!(
        sightings
            .iter()
            .all(|s| !s.listed && s.retired_reason == Some(rexist_core::RetractReason::Revoked)),
        "{sightings:?}"
    );
    let other = downstream
        .indicator(IndicatorType::Domain, "host2.example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(other.status, rexist_core::IndicatorStatus::Active);
    server.abort();
}
