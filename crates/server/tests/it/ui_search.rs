//! The search, item and indicator pages: an indicator typed in the box opens
//! its page, text search highlights escaped snippets and pages, nothing above
//! the caller's TLP clearance shows, the item page links its indicators and
//! defangs on request, the indicator page shows sources, related items and
//! indicators, enrichment loads as a fragment, analysts add to a watchlist
//! (viewers may not), and every page speaks Japanese.

use crate::ui::csrf_of;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use rexist_core::model::now;
use rexist_core::{
    Indicator, IndicatorType, ItemId, ItemKind, Mention, NewItem, NewSighting, RetractReason,
    Retraction, Role, SourceSpec, Tlp,
};
use rexist_server::auth::hash_password;
use rexist_server::{AppState, router};
use rexist_store::sqlite::SqliteStore;
use rexist_store::{ItemChange, Store};
use tower::ServiceExt;

use crate::ui::login;

const BODY_1: &str = "The gang's loader <script>alert(1)</script> calls hxxps://evil-domain[.]com/gate \
                      and evil-domain[.]com from 198.51.100.7 to drop ransomware.";
const BODY_2: &str = "Follow-up: evil-domain.com is still up; no ransomware this time.";
const BODY_RED: &str = "Internal ransomware report: secret-c2.net";

fn item(id: &str, title: &str, body: &str, tlp: Tlp) -> NewItem {
    NewItem {
        kind: ItemKind::News,
        external_id: id.into(),
        title: title.into(),
        body: body.into(),
        url: Some(format!("https://news.example.com/{id}")),
        lang: Some("en".into()),
        published_at: Some(now()),
        tlp,
        tags: vec!["apt".into()],
        extra: serde_json::json!({}),
    }
}

fn mentions(body: &str) -> Vec<Mention> {
    rexist_extract::extract(body)
        .into_iter()
        .map(|m| Mention {
            indicator: Indicator::parse(m.kind, &m.value).unwrap(),
            start: u32::try_from(m.start).unwrap(),
            end: u32::try_from(m.end).unwrap(),
            defanged: m.defanged,
        })
        .collect()
}

struct Fixture {
    app: axum::Router,
    store: Arc<dyn Store>,
    first: ItemId,
    second: ItemId,
    red: ItemId,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("rexist.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    for (name, role) in [("ana", Role::Analyst), ("vic", Role::Viewer)] {
        store
            .create_user(
                name,
                &hash_password(&format!("{name}-password")).unwrap(),
                role,
            )
            .await
            .unwrap();
    }
    let spec = |name: &str, tlp| SourceSpec {
        name: name.into(),
        kind: "rss".into(),
        enabled: true,
        confidence: 70,
        tlp,
        tags: vec![],
    };
    let feed = store
        .upsert_source(&spec("feed-a", Tlp::Clear))
        .await
        .unwrap();
    let secret = store
        .upsert_source(&spec("secret-feed", Tlp::Red))
        .await
        .unwrap();
    let mut items = vec![
        item("n1", "Ransomware loader seen", BODY_1, Tlp::Clear),
        item("n2", "Loader infrastructure update", BODY_2, Tlp::Clear),
    ];
    for i in 0..21 {
        items.push(item(
            &format!("f{i}"),
            &format!("Filler note {i}"),
            "filler",
            Tlp::Clear,
        ));
    }
    let ids: Vec<ItemId> = store
        .upsert_items(feed.id, &items)
        .await
        .unwrap()
        .into_iter()
        .map(|c| match c {
            ItemChange::New(id) => id,
            other => panic!("{other:?}"),
        })
        .collect();
    let (first, second) = (ids[0], ids[1]);
    store
        .record_mentions(&feed, first, &mentions(BODY_1))
        .await
        .unwrap();
    store
        .record_mentions(&feed, second, &mentions(BODY_2))
        .await
        .unwrap();
    let red = match store
        .upsert_items(
            secret.id,
            &[item("r1", "Secret ransomware report", BODY_RED, Tlp::Red)],
        )
        .await
        .unwrap()[0]
    {
        ItemChange::New(id) => id,
        other => panic!("{other:?}"),
    };
    store
        .record_mentions(&secret, red, &mentions(BODY_RED))
        .await
        .unwrap();
    let mut red_sighting = NewSighting::new(
        Indicator::parse(IndicatorType::Domain, "secret-c2.net").unwrap(),
        now(),
    );
    red_sighting.tlp = Some(Tlp::Red);
    store
        .upsert_sightings(&secret, &[red_sighting])
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    Fixture {
        app: router(AppState::new(Arc::clone(&store))),
        store,
        first,
        second,
        red,
        _dir: dir,
    }
}

async fn get(app: &axum::Router, uri: &str, cookie: &str) -> (StatusCode, String, String) {
    let res = app
        .clone()
        .oneshot(
            Request::get(uri)
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = res.status();
    let location = res
        .headers()
        .get(header::LOCATION)
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        location, // Templates write `/` in attributes as `&#x2f;`.
        String::from_utf8(body.to_vec())
            .unwrap()
            .replace("&#x2f;", "/"),
    )
}

async fn post_form(
    app: &axum::Router,
    uri: &str,
    cookie: &str,
    token: &str,
    form: &str,
) -> (StatusCode, String) {
    let res = app
        .clone()
        .oneshot(
            Request::post(uri)
                .header(header::COOKIE, cookie)
                .header("x-csrf-token", token)
                .header("hx-request", "true")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form.to_owned()))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (
        status, // Templates write `/` in attributes as `&#x2f;`.
        String::from_utf8(body.to_vec())
            .unwrap()
            .replace("&#x2f;", "/"),
    )
}

#[tokio::test]
async fn an_indicator_typed_in_the_box_opens_its_page() {
    let f = fixture().await;
    let vic = login(&f.app, "vic", "vic-password").await;
    for (typed, page) in [
        ("198.51.100.7", "/indicators/ipv4/198.51.100.7"),
        (
            "evil-domain%5B.%5Dcom",
            "/indicators/domain/evil-domain.com",
        ),
        (
            "hxxps%3A%2F%2Fevil-domain%5B.%5Dcom%2Fgate",
            "/indicators/url/https%3A//evil-domain.com/gate",
        ),
        ("CVE-2024-3400", "/indicators/cve/CVE-2024-3400"),
    ] {
        let (status, location, _) = get(&f.app, &format!("/search?q={typed}"), &vic).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{typed}");
        assert_eq!(location, page, "{typed}");
    }
    let (status, location, _) = get(&f.app, "/lookup?value=evil-domain%5B.%5Dcom", &vic).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/indicators/domain/evil-domain.com");
    let (status, location, _) = get(&f.app, "/indicators/ip/198.51.100.7", &vic).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "an alias goes to the canonical page"
    );
    assert_eq!(location, "/indicators/ipv4/198.51.100.7");
    let (status, _, page) = get(
        &f.app,
        "/indicators/url/https%3A//evil-domain.com/gate",
        &vic,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("evil-domain[.]com"), "copy as defanged");
}

#[tokio::test]
async fn text_search_highlights_escaped_snippets_filters_and_pages() {
    let f = fixture().await;
    let vic = login(&f.app, "vic", "vic-password").await;
    let (status, _, page) = get(&f.app, "/search?q=ransomware", &vic).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("<mark>Ransomware</mark> loader seen"),
        "{page}"
    );
    assert!(page.contains("<mark>ransomware</mark>"), "{page}");
    let (_, _, escaped) = get(&f.app, "/search?q=alert", &vic).await;
    assert!(
        escaped.contains("&lt;script&gt;<mark>alert</mark>(1)&lt;/script&gt;"),
        "{escaped}"
    );
    assert!(
        !escaped.contains("<script>alert"),
        "item text is never injected"
    );
    assert!(
        !page.contains("Secret ransomware report"),
        "TLP:RED is hidden"
    );
    assert!(
        page.contains("data-result"),
        "results are links for Tab and j/k"
    );
    assert!(
        page.contains("/search?q=ransomware&amp;kind=news"),
        "kind facet"
    );
    assert!(
        page.contains("/search?q=ransomware&amp;source=feed-a"),
        "source facet"
    );

    let (_, _, page) = get(&f.app, "/search?q=ransomware&kind=vuln", &vic).await;
    assert!(!page.contains("Ransomware loader seen"), "filtered by kind");
    let (_, _, page) = get(&f.app, "/search?q=evil-dom", &vic).await;
    assert!(
        page.contains("href=\"/indicators/domain/evil-domain.com\""),
        "indicators by prefix: {page}"
    );

    let (_, _, page) = get(&f.app, "/search?q=filler", &vic).await;
    assert_eq!(page.matches("<mark>Filler</mark> note").count(), 20);
    let start = page
        .find("rel=\"next\"")
        .map(|_| page.find("/search?q=filler&amp;before=").unwrap());
    let start = start.expect("a next page link");
    let href = page[start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let (status, _, rest) = get(&f.app, &href, &vic).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        rest.matches("<mark>Filler</mark> note").count(),
        1,
        "{rest}"
    );
}

#[tokio::test]
async fn nothing_above_the_callers_clearance_shows() {
    let f = fixture().await;
    let vic = login(&f.app, "vic", "vic-password").await;
    let (status, _, _) = get(&f.app, &format!("/items/{}", f.red), &vic).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, page) = get(&f.app, "/indicators/domain/secret-c2.net", &vic).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!page.contains("secret-feed") && !page.contains("Secret ransomware"));
    let (_, _, page) = get(&f.app, "/search?q=secret", &vic).await;
    assert!(
        !page.contains("secret-c2") && !page.contains("Secret ransomware"),
        "{page}"
    );
    let (status, _, _) = get(&f.app, "/indicators/999999", &vic).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Unknown values look the same as hidden ones.
    let (status, _, page) = get(&f.app, "/indicators/domain/never-seen.org", &vic).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("id=\"unknown\""), "{page}");
}

#[tokio::test]
async fn the_item_page_links_its_indicators_and_defangs_on_request() {
    let f = fixture().await;
    let vic = login(&f.app, "vic", "vic-password").await;
    let (status, _, page) = get(&f.app, &format!("/items/{}", f.first), &vic).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Ransomware loader seen"));
    assert!(
        page.contains("href=\"/indicators/domain/evil-domain.com\""),
        "{page}"
    );
    assert!(page.contains("href=\"/indicators/ipv4/198.51.100.7\""));
    assert!(page.contains(">198.51.100.7</a>"), "as written");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.contains("<script>alert"));
    assert!(page.contains("feed-a") && page.contains("apt"), "metadata");
    assert!(
        page.contains("Loader infrastructure update"),
        "related item"
    );
    assert!(page.contains(&format!("/items/{}", f.second)));
    assert!(
        page.contains(&format!("/items/{}?defang=1", f.first)),
        "toggle"
    );

    let (_, _, page) = get(&f.app, &format!("/items/{}?defang=1", f.first), &vic).await;
    assert!(!page.contains(">198.51.100.7</a>"), "{page}");
    assert!(page.contains("[.]7</a>"), "{page}");
    assert!(
        page.contains("news[.]example[.]com") || page.contains("hxxps"),
        "{page}"
    );
    let (status, _, _) = get(&f.app, "/items/nope", &vic).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_indicator_page_shows_sources_items_related_and_enrichment() {
    let f = fixture().await;
    let vic = login(&f.app, "vic", "vic-password").await;
    let (status, _, page) = get(&f.app, "/indicators/domain/evil-domain.com", &vic).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("id=\"sources\"") && page.contains("feed-a"),
        "{page}"
    );
    assert!(page.contains("class=\"timeline\""), "timeline");
    assert!(
        page.contains("Ransomware loader seen"),
        "items mentioning it"
    );
    assert!(page.contains("<mark>"), "snippet highlights the value");
    assert!(
        page.contains("href=\"/indicators/ipv4/198.51.100.7\""),
        "related indicator: {page}"
    );
    assert!(page.contains("class=\"graph\""), "graph");
    assert!(page.contains("data-copy=\"evil-domain[.]com\""));
    assert!(page.contains("hx-get=\"/enrich/domain/evil-domain.com\""));
    assert!(
        !page.contains("hx-post=\"/watchlist\""),
        "viewers cannot watch"
    );
    assert!(
        !page.contains("id=\"warnings\""),
        "no warning list configured"
    );

    let (status, _, fragment) = get(&f.app, "/enrich/domain/evil-domain.com", &vic).await;
    assert_eq!(status, StatusCode::OK);
    assert!(fragment.contains("id=\"no-providers\""), "{fragment}");
    assert!(!fragment.contains("<html"), "a fragment");
    let (status, _, _) = get(&f.app, "/enrich/domain/evil-domain.com?provider=dns", &vic).await;
    assert_eq!(status, StatusCode::OK);

    let (_, _, page) = get(&f.app, "/indicators/domain/evil-domain.com?defang=1", &vic).await;
    assert!(
        page.contains("id=\"indicator-value\">evil-domain[.]com<"),
        "{page}"
    );
}

#[tokio::test]
async fn analysts_add_to_a_watchlist_and_viewers_may_not() {
    let f = fixture().await;
    let ana = login(&f.app, "ana", "ana-password").await;
    let (_, _, page) = get(&f.app, "/indicators/domain/evil-domain.com", &ana).await;
    assert!(page.contains("hx-post=\"/watchlist\""), "{page}");
    let token = csrf_of(&page);
    let (status, body) = post_form(
        &f.app,
        "/watchlist",
        &ana,
        &token,
        "type=domain&value=evil-domain.com&hunt=ours",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body.contains("/hunts/ours"), "{body}");
    let hunt = f.store.hunt_by_name("ours").await.unwrap().unwrap();
    assert_eq!(hunt.spec.kind, rexist_core::HuntKind::Watch);
    assert!(hunt.spec.definition.contains("evil-domain.com"));

    let (status, _) = post_form(
        &f.app,
        "/watchlist",
        &ana,
        &token,
        "type=ipv4&value=198.51.100.7&hunt=ours",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let hunt = f.store.hunt_by_name("ours").await.unwrap().unwrap();
    assert!(hunt.spec.definition.contains("198.51.100.7"), "extended");
    let (status, body) = post_form(
        &f.app,
        "/watchlist",
        &ana,
        &token,
        "type=domain&value=evil-domain.com&hunt=ours",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Already"), "{body}");
    let (status, _) = post_form(
        &f.app,
        "/watchlist",
        &ana,
        &token,
        "type=domain&value=not%20a%20domain",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let vic = login(&f.app, "vic", "vic-password").await;
    let (_, _, page) = get(&f.app, "/search", &vic).await;
    let (status, _) = post_form(
        &f.app,
        "/watchlist",
        &vic,
        &csrf_of(&page),
        "type=domain&value=evil-domain.com&hunt=theirs",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(f.store.hunt_by_name("theirs").await.unwrap().is_none());
}

#[tokio::test]
async fn the_pages_speak_japanese() {
    let f = fixture().await;
    let vic = login(&f.app, "vic", "vic-password").await;
    for (uri, words) in [
        ("/search?lang=ja", &["検索", "語句を入力すると"][..]),
        (
            "/search?q=ransomware&lang=ja",
            &["アイテム", "絞り込み", "すべて"][..],
        ),
        (
            &format!("/items/{}?lang=ja", f.first) as &str,
            &["本文中の指標", "関連アイテム", "無害化して表示"][..],
        ),
        (
            "/indicators/domain/evil-domain.com?lang=ja",
            &[
                "報告元",
                "観測のタイムライン",
                "無害化してコピー",
                "関連する指標",
            ][..],
        ),
        (
            "/enrich/domain/evil-domain.com?lang=ja",
            &["エンリッチメントのプロバイダー"][..],
        ),
    ] {
        let (status, _, page) = get(&f.app, uri, &vic).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        for w in words {
            assert!(page.contains(w), "{uri}: {w}");
        }
    }
}

#[tokio::test]
async fn each_enrichment_provider_gets_its_own_live_panel() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    store
        .create_user(
            "ana",
            &rexist_server::auth::hash_password("ana-password").unwrap(),
            rexist_core::Role::Analyst,
        )
        .await
        .unwrap();
    let body = rexist_testkit::fixture_bytes("otx/indicator-IPv4-192.0.2.10-general.json");
    let upstream = rexist_testkit::serve(move |_, _, _| {
        (
            rexist_testkit::response("200 OK", "Content-Type: application/json\r\n", &body),
            std::time::Duration::ZERO,
        )
    })
    .await;
    let key = dir.path().join("otx.key");
    std::fs::write(&key, "otx-test-key").unwrap();
    let enricher = rexist_enrich::Enricher::new(&[rexist_enrich::EnrichConfig {
        name: "otx".into(),
        kind: "otx".into(),
        base_url: Some(upstream.base.clone()),
        key_file: Some(key.display().to_string()),
        ..rexist_enrich::EnrichConfig::default()
    }])
    .unwrap();
    let lookup = rexist_lookup::Lookup::new(
        Arc::clone(&store),
        None,
        Some(Arc::new(enricher)),
        rexist_lookup::Lifetimes::default(),
    );
    let app = rexist_server::router(rexist_server::AppState::new(store).with_lookup(lookup));
    let cookie = crate::ui::login(&app, "ana", "ana-password").await;
    let (_, _, page) = crate::ui::send(
        &app,
        "GET",
        "/indicators/ipv4/192.0.2.10",
        &cookie,
        None,
        "",
    )
    .await;
    let page = page.replace("&#x2f;", "/");
    assert!(page.contains("data-provider=\"otx\""), "{page}");
    assert!(
        page.contains("hx-get=\"/enrich/ipv4/192.0.2.10?provider=otx\""),
        "{page}"
    );
    assert_eq!(
        upstream.hits(),
        0,
        "panels load after the page, not with it"
    );
    let (status, _, panel) = crate::ui::send(
        &app,
        "GET",
        "/enrich/ipv4/192.0.2.10?provider=otx",
        &cookie,
        None,
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{panel}");
    assert!(panel.contains("otx"), "{panel}");
    assert_eq!(upstream.hits(), 1, "the panel asked its provider");
}

#[tokio::test]
async fn the_indicator_page_shows_who_withdrew_it_why_and_when() {
    let f = fixture().await;
    let feed = f.store.source_by_name("feed-a").await.unwrap().unwrap();
    let at = rexist_core::model::from_unix_micros(1_714_979_289_000_000); // 2024-05-06T07:08:09Z
    let retired = f
        .store
        .retire_sightings(
            &feed,
            &[Retraction {
                indicator: Indicator::parse(IndicatorType::Domain, "evil-domain.com").unwrap(),
                reason: RetractReason::FalsePositive,
                at,
            }],
        )
        .await
        .unwrap();
    assert!(retired > 0);
    let vic = login(&f.app, "vic", "vic-password").await;
    let (status, _, page) = get(&f.app, "/indicators/domain/evil-domain.com", &vic).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("status-retired"), "{page}");
    assert!(
        page.contains("false_positive by feed-a"),
        "the indicator's reason"
    );
    assert!(page.contains("Withdrawn</span> false positive"), "{page}");
    assert!(
        page.contains("datetime=\"2024-05-06T07:08:09Z\""),
        "when: {page}"
    );
    let (_, _, ja) = get(&f.app, "/indicators/domain/evil-domain.com?lang=ja", &vic).await;
    for w in ["取り下げ済み", "取り下げ</span> 誤検知"] {
        assert!(ja.contains(w), "{w}: {ja}");
    }
    // Another indicator of the same source is untouched.
    let (_, _, other) = get(&f.app, "/indicators/ipv4/198.51.100.7", &vic).await;
    assert!(!other.contains("Withdrawn</span>"), "{other}");
}

#[tokio::test]
async fn the_search_page_filters_counts_facets_saves_and_acts_in_bulk() {
    let f = fixture().await;
    let ana = login(&f.app, "ana", "ana-password").await;
    let vic = login(&f.app, "vic", "vic-password").await;

    // Items: facets with counts, nothing above the clearance counted.
    let (status, _, page) = get(&f.app, "/search?q=ransomware", &ana).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"facet-kind\""), "{page}");
    assert!(
        page.contains(">news</a> <span class=\"count\">2</span>"),
        "{page}"
    );
    assert!(!page.contains("secret-feed"), "{page}");
    // Indicators by filter alone, with their facets and the bulk form.
    let (status, _, page) = get(&f.app, "/search?type=domain&sort=newest", &ana).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"facet-type\""), "{page}");
    assert!(page.contains("evil-domain.com"), "{page}");
    assert!(
        !page.contains("secret-c2.net"),
        "above the clearance: {page}"
    );
    assert!(page.contains("id=\"bulk-apply\""), "{page}");
    assert!(page.contains("id=\"select-matching\""), "{page}");
    let (status, _, bad) = get(&f.app, "/search?type=domain&min_score=300", &ana).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    // A viewer reads and exports, but has no action form.
    let (_, _, page) = get(&f.app, "/search?type=domain", &vic).await;
    assert!(!page.contains("id=\"bulk-apply\""), "{page}");
    assert!(page.contains("id=\"bulk-export\""), "{page}");
    assert!(!page.contains("id=\"save-search\""), "{page}");
    let (status, _, edl) = get(
        &f.app,
        "/search/export?query=type%3Ddomain&all=1&format=edl",
        &vic,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{edl}");
    assert!(edl.contains("evil-domain.com"), "{edl}");
    assert!(!edl.contains("secret-c2.net"), "{edl}");
    let (status, _, csv) = get(
        &f.app,
        "/search/export?query=type%3Ddomain&v=domain%3Aevil-domain.com&format=csv",
        &vic,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert!(csv.contains("evil-domain.com"), "{csv}");

    // Bulk label of every match, then the indicator page shows it.
    let (_, _, page) = get(&f.app, "/search?type=domain", &ana).await;
    let token = csrf_of(&page);
    let vic_page = get(&f.app, "/search", &vic).await.2;
    let (status, _) = post_form(
        &f.app,
        "/search/bulk",
        &vic,
        &csrf_of(&vic_page),
        "action=label&bulk_label=x&all=1&query=type%3Ddomain",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, done) = post_form(
        &f.app,
        "/search/bulk",
        &ana,
        &token,
        "action=label&bulk_label=wave-7&all=1&query=type%3Ddomain",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(done.contains("id=\"bulk-done\""), "{done}");
    // The indicator page's curation panel lists it.
    let (_, _, panel) = get(&f.app, "/curation/indicators/domain/evil-domain.com", &ana).await;
    assert!(
        panel.contains("<span class=\"tag\">wave-7</span>"),
        "{panel}"
    );
    let (status, nothing) = post_form(
        &f.app,
        "/search/bulk",
        &ana,
        &token,
        "action=label&bulk_label=x",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(nothing.contains("id=\"bulk-error\""), "{nothing}");
    // Japanese words on the page.
    let (_, _, ja) = get(&f.app, "/search?type=domain&lang=ja", &ana).await;
    assert!(ja.contains("一致するものすべて"), "{ja}");

    // Saved searches: save, list, run, delete.
    let (status, list) = post_form(
        &f.app,
        "/search/saved",
        &ana,
        &token,
        "name=domains&query=type%3Ddomain%26sort%3Dnewest%26after%3Dx",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert!(
        list.contains("href=\"/search?type=domain&amp;sort=newest\""),
        "the cursor is not kept: {list}"
    );
    let (_, _, page) = get(&f.app, "/search", &ana).await;
    assert!(page.contains(">domains</a>"), "{page}");
    let (_, _, theirs) = get(&f.app, "/search", &vic).await;
    assert!(!theirs.contains(">domains</a>"), "per user: {theirs}");
    let (status, list) =
        post_form(&f.app, "/search/saved/delete", &ana, &token, "name=domains").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!list.contains(">domains</a>"), "{list}");
}
