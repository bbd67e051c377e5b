//! EXIST's legacy read API (`/api/reputation/`, `/api/twitter/`, …) over a
//! temporary SQLite store: DRF's paging shape, each serializer's fields, the
//! filters, 400s for bad parameters, and nothing above the caller's TLP.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use rexist_core::{
    Indicator, IndicatorType, ItemKind, NewItem, NewSighting, Role, Source, SourceSpec, Tlp,
};
use rexist_server::{AppState, router};
use rexist_store::Store;
use rexist_store::sqlite::SqliteStore;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;
use tower::ServiceExt;

struct Fixture {
    store: Arc<dyn Store>,
    event_id: i64,
    _dir: tempfile::TempDir,
}

async fn source(store: &SqliteStore, name: &str, kind: &str) -> Source {
    store
        .upsert_source(&SourceSpec {
            name: name.into(),
            kind: kind.into(),
            enabled: true,
            confidence: 80,
            tlp: Tlp::Clear,
            tags: vec![],
        })
        .await
        .unwrap()
}

#[allow(clippy::too_many_arguments)]
fn item(
    kind: ItemKind,
    ext: &str,
    title: &str,
    body: &str,
    url: Option<&str>,
    at: OffsetDateTime,
    tlp: Tlp,
    tags: &[&str],
    extra: Value,
) -> NewItem {
    NewItem {
        kind,
        external_id: ext.into(),
        title: title.into(),
        body: body.into(),
        url: url.map(str::to_owned),
        lang: Some("en".into()),
        published_at: Some(at),
        tlp,
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        extra,
    }
}

fn sighting(kind: IndicatorType, value: &str, at: OffsetDateTime) -> NewSighting {
    NewSighting::new(Indicator::parse(kind, value).unwrap(), at)
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("rexist.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();

    let social = source(&store, "mastodon-infosec", "mastodon").await;
    store
        .upsert_items(
            social.id,
            &[
                item(
                    ItemKind::Post,
                    "mastodon:1",
                    "Emotet is back",
                    "Emotet is back, C2 at evil.com",
                    Some("https://infosec.exchange/@alice/1"),
                    datetime!(2024-01-01 10:00 UTC),
                    Tlp::Clear,
                    &[],
                    json!({"platform": "mastodon", "author": "alice@infosec.exchange"}),
                ),
                item(
                    ItemKind::Post,
                    "mastodon:2",
                    "Patch Tuesday",
                    "Patch Tuesday notes",
                    None,
                    datetime!(2024-01-02 10:00 UTC),
                    Tlp::Clear,
                    &[],
                    json!({"platform": "mastodon", "author": "bob@infosec.exchange"}),
                ),
                item(
                    ItemKind::Post,
                    "mastodon:3",
                    "Secret",
                    "Secret red post about emotet",
                    None,
                    datetime!(2024-01-03 10:00 UTC),
                    Tlp::Red,
                    &[],
                    json!({"platform": "mastodon", "author": "carol@infosec.exchange"}),
                ),
            ],
        )
        .await
        .unwrap();

    let rss = source(&store, "news-feed", "rss").await;
    let news: Vec<NewItem> = (1..=5)
        .map(|n| {
            item(
                ItemKind::News,
                &format!("n{n}"),
                &format!("News {n}"),
                &format!("Article number {n}"),
                Some(&format!("https://news.example/{n}")),
                datetime!(2024-02-01 00:00 UTC) + time::Duration::days(n),
                Tlp::Clear,
                &[],
                json!({"feed_title": "Security News"}),
            )
        })
        .collect();
    store.upsert_items(rss.id, &news).await.unwrap();

    let edb = source(&store, "exploitdb", "exploitdb").await;
    store
        .upsert_items(
            edb.id,
            &[item(
                ItemKind::Exploit,
                "edb:1",
                "Foo 1.0 - RCE",
                "",
                Some("https://www.exploit-db.com/exploits/1"),
                datetime!(2024-03-01 00:00 UTC),
                Tlp::Clear,
                &["remote"],
                json!({"type": "remote", "platform": "linux", "author": "mallory"}),
            )],
        )
        .await
        .unwrap();

    let nvd = source(&store, "nvd", "nvd").await;
    store
        .upsert_items(
            nvd.id,
            &[
                item(
                    ItemKind::Vuln,
                    "CVE-2024-0001",
                    "CVE-2024-0001",
                    "Buffer overflow in Foo",
                    Some("https://nvd.nist.gov/vuln/detail/CVE-2024-0001"),
                    datetime!(2024-04-01 00:00 UTC),
                    Tlp::Clear,
                    &["critical", "kev"],
                    json!({
                        "base_score": 9.8,
                        "cwes": ["CWE-787"],
                        "last_modified": "2024-04-05T00:00:00.000",
                        "references": [{"url": "https://foo.example/advisory", "source": "vendor", "tags": []}],
                    }),
                ),
                item(
                    ItemKind::Vuln,
                    "CVE-2024-0002",
                    "CVE-2024-0002",
                    "Cross-site scripting in Bar",
                    None,
                    datetime!(2024-04-02 00:00 UTC),
                    Tlp::Clear,
                    &["medium"],
                    json!({}),
                ),
            ],
        )
        .await
        .unwrap();

    let misp = source(&store, "misp-main", "misp").await;
    let changes = store
        .upsert_items(
            misp.id,
            &[item(
                ItemKind::Event,
                "5f1e-uuid",
                "Emotet campaign",
                "Emotet campaign summary",
                None,
                datetime!(2024-05-01 00:00 UTC),
                Tlp::Clear,
                &["tlp:clear", "malware:emotet"],
                json!({
                    "misp_id": "42", "org": "CIRCL", "orgc": "NICT", "date": "2024-05-01",
                    "threat_level_id": "1", "threat_level": "high",
                    "analysis_id": "2", "analysis": "complete", "published": true,
                    "timestamp": "1714600000", "publish_timestamp": "1714550400",
                    "attribute_count": "2",
                }),
            )],
        )
        .await
        .unwrap();
    let event_id = changes[0].id();
    let mut attr = sighting(
        IndicatorType::Ipv4,
        "5.6.7.8",
        datetime!(2024-05-01 01:00 UTC),
    );
    attr.item_id = Some(event_id);
    attr.labels = vec!["Network activity".into(), "malware:emotet".into()];
    let mut red_attr = sighting(
        IndicatorType::Domain,
        "red.example",
        datetime!(2024-05-01 02:00 UTC),
    );
    red_attr.item_id = Some(event_id);
    red_attr.tlp = Some(Tlp::Red);
    red_attr.labels = vec!["Network activity".into()];
    store
        .upsert_sightings(&misp, &[attr, red_attr])
        .await
        .unwrap();

    // An OTX pulse is an event too, but not one of EXIST's MISP events.
    let otx = source(&store, "otx", "otx").await;
    store
        .upsert_items(
            otx.id,
            &[item(
                ItemKind::Event,
                "pulse-1",
                "OTX pulse",
                "pulse",
                None,
                datetime!(2024-05-02 00:00 UTC),
                Tlp::Clear,
                &[],
                json!({}),
            )],
        )
        .await
        .unwrap();

    let feed = source(&store, "phish-feed", "file").await;
    let mut phish = sighting(
        IndicatorType::Url,
        "http://evil.com/login",
        datetime!(2024-06-01 00:00 UTC),
    );
    phish.labels = vec!["phishing".into()];
    let mut red = sighting(
        IndicatorType::Domain,
        "secret.example",
        datetime!(2024-06-02 00:00 UTC),
    );
    red.tlp = Some(Tlp::Red);
    store
        .upsert_sightings(
            &feed,
            &[
                phish,
                sighting(
                    IndicatorType::Ipv4,
                    "1.2.3.4",
                    datetime!(2024-06-03 00:00 UTC),
                ),
                sighting(
                    IndicatorType::Domain,
                    "evil.com",
                    datetime!(2024-06-04 00:00 UTC),
                ),
                red,
            ],
        )
        .await
        .unwrap();
    let other = source(&store, "cins", "file").await;
    store
        .upsert_sightings(
            &other,
            &[sighting(
                IndicatorType::Ipv4,
                "1.2.3.4",
                datetime!(2024-06-05 00:00 UTC),
            )],
        )
        .await
        .unwrap();

    Fixture {
        store: Arc::new(store),
        event_id: event_id.get(),
        _dir: dir,
    }
}

fn app(f: &Fixture, role: Role) -> axum::Router {
    router(
        AppState::new(Arc::clone(&f.store))
            .with_origin(Some("http://rexist.test/"), None)
            .unwrap()
            .with_anonymous(role),
    )
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, Value) {
    let res = app
        .clone()
        .oneshot(
            Request::builder()
                .uri(uri)
                .header("host", "rexist.test")
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

async fn ok(app: &axum::Router, uri: &str) -> Value {
    let (status, body) = get(app, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

fn sorted(mut k: Vec<&str>) -> Vec<&str> {
    k.sort_unstable();
    k
}

fn results(v: &Value) -> &Vec<Value> {
    v["results"].as_array().unwrap()
}

#[tokio::test]
async fn every_endpoint_answers_with_and_without_trailing_slash() {
    let f = fixture().await;
    let app = app(&f, Role::Admin);
    for name in [
        "reputation",
        "twitter",
        "exploit",
        "news",
        "vuln",
        "threatEvent",
        "threatAttribute",
    ] {
        for uri in [format!("/api/{name}/"), format!("/api/{name}")] {
            let body = ok(&app, &uri).await;
            assert_eq!(
                keys(&body),
                ["count", "next", "previous", "results"],
                "{uri}"
            );
            assert!(body["count"].as_u64().unwrap() > 0, "{uri}: {body}");
        }
    }
}

#[tokio::test]
async fn twitter_has_the_tweet_fields_and_filters() {
    let f = fixture().await;
    let app = app(&f, Role::Admin);
    let body = ok(&app, "/api/twitter/").await;
    assert_eq!(body["count"], 3);
    let first = &results(&body)[0];
    assert_eq!(
        keys(first),
        sorted(vec!["id", "datetime", "user", "screen_name", "text"])
    );
    // Newest first.
    assert_eq!(first["text"], "Secret red post about emotet");
    assert_eq!(first["datetime"], "2024-01-03T10:00:00Z");
    assert_eq!(first["screen_name"], "carol@infosec.exchange");
    assert!(first["id"].is_i64());

    let body = ok(&app, "/api/twitter/?search=emotet").await;
    assert_eq!(body["count"], 2);
    let body = ok(&app, "/api/twitter/?search=EMOTET%20c2").await;
    assert_eq!(body["count"], 1);
    let body = ok(&app, "/api/twitter/?search=bob").await;
    assert_eq!(body["count"], 1, "user and screen_name are searched");

    let body = ok(
        &app,
        "/api/twitter/?datetime_after=2024-01-02&datetime_before=2024-01-02T23:59:59Z",
    )
    .await;
    assert_eq!(body["count"], 1);
    assert_eq!(results(&body)[0]["text"], "Patch Tuesday notes");
    // django-filter 1.x names; a date without offset is EXIST's Asia/Tokyo time.
    let body = ok(&app, "/api/twitter/?datetime_0=2024-01-02%2019:00:01").await;
    assert_eq!(body["count"], 1, "{body}");

    let (status, body) = get(&app, "/api/twitter/?datetime_after=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("datetime_after")
    );
    // Unknown filters are ignored, as DRF does.
    let body = ok(&app, "/api/twitter/?format=json&nonsense=1").await;
    assert_eq!(body["count"], 3);
}

#[tokio::test]
async fn limit_offset_paging_like_drf() {
    let f = fixture().await;
    let app = app(&f, Role::Admin);
    let body = ok(&app, "/api/news/?limit=2").await;
    assert_eq!(body["count"], 5);
    assert_eq!(results(&body).len(), 2);
    assert_eq!(results(&body)[0]["title"], "News 5");
    assert_eq!(body["previous"], Value::Null);
    assert_eq!(
        body["next"],
        "http://rexist.test/api/news/?limit=2&offset=2"
    );

    let body = ok(&app, "/api/news/?search=article&limit=2&offset=2").await;
    assert_eq!(body["count"], 5);
    assert_eq!(results(&body)[0]["title"], "News 3");
    assert_eq!(
        body["next"],
        "http://rexist.test/api/news/?search=article&limit=2&offset=4"
    );
    assert_eq!(
        body["previous"],
        "http://rexist.test/api/news/?search=article&limit=2"
    );

    let body = ok(&app, "/api/news?limit=2&offset=4").await;
    assert_eq!(results(&body).len(), 1);
    assert_eq!(body["next"], Value::Null);
    assert_eq!(
        body["previous"],
        "http://rexist.test/api/news?limit=2&offset=2"
    );

    // Without a public URL a forged Host is not echoed into the links: the
    // listen address stands in for it.
    let bare = router(
        AppState::new(Arc::clone(&f.store))
            .with_origin(None, Some("192.0.2.10:8080".parse().unwrap()))
            .unwrap()
            .with_anonymous(Role::Admin),
    );
    for (host, origin) in [
        ("evil.example", "http://192.0.2.10:8080"),
        ("192.0.2.10:8080", "http://192.0.2.10:8080"),
        ("localhost:8080", "http://localhost:8080"),
        ("localhost:9999", "http://192.0.2.10:8080"),
    ] {
        let res = bare
            .clone()
            .oneshot(
                Request::builder()
                    .uri("/api/news/?limit=2")
                    .header("host", host)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            body["next"],
            format!("{origin}/api/news/?limit=2&offset=2"),
            "Host: {host}"
        );
    }

    // Default page size is EXIST's 50; an offset past the end is an empty page.
    let body = ok(&app, "/api/news/").await;
    assert_eq!(results(&body).len(), 5);
    let body = ok(&app, "/api/news/?offset=10").await;
    assert_eq!(results(&body).len(), 0);
    assert_eq!(body["count"], 5);
    // A limit above the maximum is cut to it.
    assert_eq!(ok(&app, "/api/news/?limit=5000").await["count"], 5);

    for (uri, param) in [
        ("/api/news/?limit=ten", "limit"),
        ("/api/news/?limit=-1", "limit"),
        ("/api/news/?offset=x", "offset"),
        ("/api/news/?offset=-5", "offset"),
        ("/api/news/?offset=9999&limit=50", "offset"),
        ("/api/threatEvent/?id=abc", "id"),
        ("/api/threatEvent/?threat_level_id=high", "threat_level_id"),
        ("/api/threatAttribute/?event__id=x", "event__id"),
    ] {
        let (status, body) = get(&app, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(body["error"]["code"], "invalid", "{uri}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(param),
            "{uri}: {body}"
        );
    }
}

#[tokio::test]
async fn news_exploit_and_vuln_fields() {
    let f = fixture().await;
    let app = app(&f, Role::Admin);
    let news = ok(&app, "/api/news/?limit=1").await;
    let n = &results(&news)[0];
    assert_eq!(
        keys(n),
        sorted(vec![
            "id",
            "title",
            "datetime",
            "referrer",
            "content",
            "source_title",
            "source_url"
        ])
    );
    assert_eq!(n["referrer"], "https://news.example/5");
    assert_eq!(n["content"], "Article number 5");
    assert_eq!(n["source_title"], "Security News");
    assert_eq!(n["datetime"], "2024-02-06T00:00:00Z");
    assert!(n["id"].is_string());
    assert_eq!(
        ok(&app, "/api/news/?datetime_after=2024-02-05T00:00:00Z").await["count"],
        2
    );

    let ex = ok(&app, "/api/exploit/").await;
    let e = &results(&ex)[0];
    assert_eq!(
        keys(e),
        sorted(vec![
            "id",
            "title",
            "description",
            "datetime",
            "referrer",
            "text",
            "source"
        ])
    );
    assert_eq!(e["title"], "Foo 1.0 - RCE");
    assert_eq!(e["source"], "exploitdb");
    assert_eq!(e["referrer"], "https://www.exploit-db.com/exploits/1");
    assert_eq!(e["description"], "remote, linux, mallory");
    assert_eq!(ok(&app, "/api/exploit/?search=rce").await["count"], 1);
    assert_eq!(ok(&app, "/api/exploit/?search=windows").await["count"], 0);

    let vu = ok(&app, "/api/vuln/").await;
    assert_eq!(vu["count"], 2);
    let v = results(&vu)
        .iter()
        .find(|v| v["title"] == "CVE-2024-0001")
        .unwrap();
    assert_eq!(
        keys(v),
        sorted(vec![
            "id",
            "title",
            "description",
            "t_description",
            "vulndb_published_date",
            "vulndb_last_modified",
            "products",
            "vendors",
            "references",
            "tags",
            "solution",
            "nvds",
            "cvsses",
            "source"
        ])
    );
    assert_eq!(v["description"], "Buffer overflow in Foo");
    assert_eq!(v["vulndb_published_date"], "2024-04-01T00:00:00Z");
    assert_eq!(v["vulndb_last_modified"], "2024-04-05T00:00:00Z");
    assert_eq!(v["source"], "nvd");
    assert_eq!(
        v["references"][0],
        json!({"id": "1", "reftype": "vendor", "value": "https://foo.example/advisory"})
    );
    assert_eq!(v["tags"][0]["name"], "critical");
    assert_eq!(
        keys(&v["tags"][0]),
        ["description", "id", "longname", "name"]
    );
    assert_eq!(
        v["nvds"][0],
        json!({"id": "CVE-2024-0001", "cwe_id": "787", "cvss_score": 9.8, "summary": "Buffer overflow in Foo"})
    );
    assert_eq!(ok(&app, "/api/vuln/?cve=cve-2024-0001").await["count"], 1);
    assert_eq!(
        ok(&app, "/api/vuln/?tag=critical&tag=kev").await["count"],
        1
    );
    assert_eq!(
        ok(&app, "/api/vuln/?tag=critical&tag=medium").await["count"],
        0
    );
    assert_eq!(ok(&app, "/api/vuln/?search=scripting").await["count"], 1);
    assert_eq!(
        ok(
            &app,
            "/api/vuln/?vulndb_published_date_after=2024-04-02T00:00:00Z"
        )
        .await["count"],
        1
    );
}

#[tokio::test]
async fn threat_events_are_misp_events() {
    let f = fixture().await;
    let app = app(&f, Role::Admin);
    let body = ok(&app, "/api/threatEvent/").await;
    assert_eq!(
        body["count"], 1,
        "the OTX pulse is not a MISP event: {body}"
    );
    let e = &results(&body)[0];
    assert_eq!(
        keys(e),
        sorted(vec![
            "id",
            "info",
            "org",
            "orgc",
            "threat_level",
            "tags",
            "date",
            "analysis",
            "published",
            "publish_timestamp",
            "timestamp",
            "attribute_count",
            "relatedevents"
        ])
    );
    assert_eq!(e["id"], f.event_id);
    assert_eq!(e["info"], "Emotet campaign");
    assert_eq!(e["org"], "CIRCL");
    assert_eq!(e["orgc"], "NICT");
    assert_eq!(e["threat_level"], "High");
    assert_eq!(e["analysis"], "Complete");
    assert_eq!(e["published"], true);
    assert_eq!(e["date"], "2024-05-01");
    assert_eq!(e["publish_timestamp"], "2024-05-01T08:00:00Z");
    assert_eq!(e["timestamp"], "2024-05-01T21:46:40Z");
    assert_eq!(e["attribute_count"], 2);
    assert_eq!(e["tags"], json!(["tlp:clear", "malware:emotet"]));
    assert_eq!(e["relatedevents"], json!([]));

    let id = f.event_id;
    assert_eq!(
        ok(&app, &format!("/api/threatEvent/?id={id}")).await["count"],
        1
    );
    assert_eq!(ok(&app, "/api/threatEvent/?id=999999").await["count"], 0);
    assert_eq!(
        ok(&app, "/api/threatEvent/?threat_level_id=1").await["count"],
        1
    );
    assert_eq!(
        ok(&app, "/api/threatEvent/?threat_level_id=3").await["count"],
        0
    );
    assert_eq!(ok(&app, "/api/threatEvent/?attr=5.6.7.8").await["count"], 1);
    assert_eq!(ok(&app, "/api/threatEvent/?attr=9.9.9.9").await["count"], 0);
    assert_eq!(
        ok(&app, "/api/threatEvent/?search=campaign").await["count"],
        1
    );
    assert_eq!(
        ok(&app, "/api/threatEvent/?publish_timestamp_after=2024-05-02").await["count"],
        0
    );
}

#[tokio::test]
async fn threat_attributes_are_indicators_sighted_in_misp_events() {
    let f = fixture().await;
    let app = app(&f, Role::Admin);
    let body = ok(&app, "/api/threatAttribute/").await;
    assert_eq!(body["count"], 2, "{body}");
    let a = results(&body)
        .iter()
        .find(|a| a["value"] == "5.6.7.8")
        .unwrap();
    assert_eq!(
        keys(a),
        sorted(vec![
            "id",
            "type",
            "category",
            "timestamp",
            "comment",
            "object_relation",
            "value",
            "Event",
            "Object",
            "tags"
        ])
    );
    assert_eq!(a["type"], "ip-dst");
    assert_eq!(a["category"], "Network activity");
    assert_eq!(a["tags"], json!(["malware:emotet"]));
    assert_eq!(a["timestamp"], "2024-05-01T01:00:00Z");
    assert_eq!(a["Object"], Value::Null);
    assert_eq!(
        a["Event"],
        json!({"id": f.event_id, "info": "Emotet campaign", "orgc": "NICT", "date": "2024-05-01"})
    );

    assert_eq!(
        ok(&app, "/api/threatAttribute/?value=5.6.7.8").await["count"],
        1
    );
    assert_eq!(
        ok(&app, "/api/threatAttribute/?value=1.2.3.4").await["count"],
        0
    );
    assert_eq!(
        ok(&app, "/api/threatAttribute/?type=domain").await["count"],
        1
    );
    assert_eq!(
        ok(&app, "/api/threatAttribute/?search=5.6").await["count"],
        1
    );
    let id = f.event_id;
    assert_eq!(
        ok(&app, &format!("/api/threatAttribute/?event__id={id}")).await["count"],
        2
    );
    assert_eq!(
        ok(&app, "/api/threatAttribute/?event__id=999999").await["count"],
        0
    );
}

#[tokio::test]
async fn reputation_lists_addresses_domains_and_urls_with_their_sources() {
    let f = fixture().await;
    let app = app(&f, Role::Admin);
    let body = ok(&app, "/api/reputation/").await;
    // evil.com, 1.2.3.4, http://evil.com/login, secret.example, and the MISP 5.6.7.8 and red.example.
    assert_eq!(body["count"], 6, "{body}");
    let first = &results(&body)[0];
    assert_eq!(
        keys(first),
        sorted(vec![
            "id",
            "ip",
            "domain",
            "url",
            "source",
            "description",
            "referrer",
            "countrycode",
            "datetime"
        ])
    );
    // Most recently seen first: 1.2.3.4, listed by two sources.
    assert_eq!(first["ip"], "1.2.3.4");
    assert_eq!(first["domain"], "");
    assert_eq!(first["url"], "");
    assert_eq!(first["source"], "cins, phish-feed");
    assert_eq!(first["datetime"], "2024-06-05T00:00:00Z");
    assert!(first["id"].is_string());

    let body = ok(&app, "/api/reputation/?url=http://evil.com/login").await;
    assert_eq!(body["count"], 1);
    let u = &results(&body)[0];
    assert_eq!(u["ip"], Value::Null);
    assert_eq!(u["url"], "http://evil.com/login");
    assert_eq!(u["source"], "phish-feed");
    assert_eq!(u["description"], "phishing");

    assert_eq!(ok(&app, "/api/reputation/?ip=1.2.3.4").await["count"], 1);
    assert_eq!(
        ok(&app, "/api/reputation/?domain=EVIL.com").await["count"],
        1
    );
    assert_eq!(
        ok(&app, "/api/reputation/?domain=nothing.example").await["count"],
        0
    );
    assert_eq!(ok(&app, "/api/reputation/?source=cins").await["count"], 1);
    assert_eq!(
        ok(&app, "/api/reputation/?source=phish-feed").await["count"],
        4
    );
    assert_eq!(
        ok(&app, "/api/reputation/?source=unknown").await["count"],
        0
    );
    assert_eq!(ok(&app, "/api/reputation/?search=evil").await["count"], 2);

    let sources = ok(&app, "/api/reputation/sources").await;
    assert!(
        sources
            .as_object()
            .unwrap()
            .values()
            .any(|v| v == "phish-feed")
    );
}

#[tokio::test]
async fn nothing_above_the_callers_clearance() {
    let f = fixture().await;
    let app = app(&f, Role::Viewer);

    let body = ok(&app, "/api/twitter/").await;
    assert_eq!(body["count"], 2);
    assert!(
        results(&body)
            .iter()
            .all(|t| t["text"] != "Secret red post about emotet")
    );
    assert_eq!(ok(&app, "/api/twitter/?search=secret").await["count"], 0);

    let body = ok(&app, "/api/reputation/").await;
    assert_eq!(body["count"], 4, "{body}");
    let text = body.to_string();
    assert!(!text.contains("secret.example"));
    assert!(!text.contains("red.example"));
    assert_eq!(
        ok(&app, "/api/reputation/?domain=secret.example").await["count"],
        0
    );

    let body = ok(&app, "/api/threatAttribute/").await;
    assert_eq!(body["count"], 1, "{body}");
    assert_eq!(results(&body)[0]["value"], "5.6.7.8");
    assert_eq!(
        ok(&app, "/api/threatAttribute/?value=red.example").await["count"],
        0
    );
    assert_eq!(
        ok(&app, "/api/threatEvent/?attr=red.example").await["count"],
        0
    );
}
