//! Every page of the UI with more than one page of every list it shows
//! (following each list's next-page link), in English and Japanese: the
//! admin page past its first page of audit entries, a source's older runs,
//! a hunt's older hits, search's second page. And what a page holds up to:
//! the watch preview over a store larger than any window, an expired
//! session under htmx, unknown addresses, the favicon, dashboard hits by
//! value, read-only hunts for viewers, Japanese for every sentence another
//! crate writes, and dates and numbers in the reader's locale.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use rexist_core::model::now;
use rexist_core::{
    HitObject, HuntKind, HuntSpec, Indicator, IndicatorType, ItemKind, NewAudit, NewHit, NewItem,
    NewRelation, NewSighting, RetractReason, Retraction, Role, RunCounts, RunOutcome, SourceSpec,
    Tlp,
};
use rexist_server::auth::hash_password;
use rexist_server::export::ExportConfig;
use rexist_server::{AppState, router};
use rexist_store::Store;
use time::OffsetDateTime;
use tower::ServiceExt;

use crate::ui::{csrf_of, login};

/// A fixed time, so pages can be checked for how they write it.
fn known_time() -> OffsetDateTime {
    time::macros::datetime!(2025-01-05 15:04:09 UTC)
}

fn sighting(kind: IndicatorType, value: &str, at: OffsetDateTime) -> NewSighting {
    NewSighting::new(Indicator::parse(kind, value).unwrap(), at)
}

fn news(id: usize, title: &str) -> NewItem {
    NewItem {
        kind: ItemKind::News,
        external_id: format!("n{id}"),
        title: title.to_owned(),
        body: format!("{title}: 198.51.100.7 and evil.example were seen again."),
        url: None,
        lang: Some("en".into()),
        published_at: Some(known_time()),
        tlp: Tlp::Clear,
        tags: vec![],
        extra: serde_json::json!({}),
    }
}

/// A browser's GET: status, headers, body (with minijinja's `&#x2f;` read
/// back as `/`).
async fn get(
    app: &axum::Router,
    uri: &str,
    cookie: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::builder()
        .uri(uri)
        .header(header::ACCEPT, "text/html,application/xhtml+xml")
        .header(header::HOST, "intel.example:8080");
    if !cookie.is_empty() {
        req = req.header(header::COOKIE, cookie);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (status, h) = (res.status(), res.headers().clone());
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8_lossy(&body).replace("&#x2f;", "/");
    (status, h, body)
}

/// The first `href` of a link with `rel="next"` or the given id.
fn next_link(page: &str, marker: &str) -> Option<String> {
    let at = page.find(marker)?;
    let start = page[..at].rfind("href=\"")? + 6;
    let end = start + page[start..].find('"')?;
    Some(page[start..end].replace("&amp;", "&"))
}

struct World {
    app: axum::Router,
    _dir: tempfile::TempDir,
}

/// Users of each role; a scheduled source with 60 runs; 60 audit entries;
/// 25 items on ransomware; 1,200 indicators; an indicator stated, related,
/// sighted by three sources and withdrawn by one; a watch hunt with 130
/// hits; a saved export with every filter.
async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    for (name, role) in [
        ("root", Role::Admin),
        ("ana", Role::Analyst),
        ("vic", Role::Viewer),
    ] {
        store
            .create_user(
                name,
                &hash_password(&format!("{name}-password")).unwrap(),
                role,
            )
            .await
            .unwrap();
    }
    let spec = |name: &str| SourceSpec {
        name: name.to_owned(),
        kind: "misp".to_owned(),
        enabled: true,
        confidence: 80,
        tlp: Tlp::Clear,
        tags: vec![],
    };
    let feed = store.upsert_source(&spec("feed-a")).await.unwrap();
    let other = store.upsert_source(&spec("feed-b")).await.unwrap();
    let third = store.upsert_source(&spec("feed-c")).await.unwrap();
    for i in 0..60u64 {
        let run = store.start_run(feed.id).await.unwrap();
        let counts = RunCounts {
            fetched: 1000 + i,
            new: 3,
            ..RunCounts::default()
        };
        let outcome = if i % 2 == 0 {
            RunOutcome::Success
        } else {
            RunOutcome::Partial
        };
        store
            .finish_run(run.id, outcome, &counts, None, None)
            .await
            .unwrap();
    }
    for i in 0..60 {
        store
            .record_audit(&NewAudit {
                actor: "root".into(),
                action: format!("POST /admin/users/{i}"),
                target: Some(format!("user-{i}")),
                outcome: "200".into(),
                address: Some("192.0.2.10".into()),
            })
            .await
            .unwrap();
    }
    let items: Vec<NewItem> = (0..25)
        .map(|i| news(i, &format!("Ransomware wave {i}")))
        .collect();
    let changes = store.upsert_items(feed.id, &items).await.unwrap();
    let first_item = match changes[0] {
        rexist_store::ItemChange::New(id) => id,
        ref other => panic!("{other:?}"),
    };
    let mut batch: Vec<NewSighting> = (0..1200u32)
        .map(|i| {
            sighting(
                IndicatorType::Ipv4,
                &format!("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255),
                known_time(),
            )
        })
        .collect();
    batch.push(NewSighting {
        item_id: Some(first_item),
        ..sighting(IndicatorType::Ipv4, "198.51.100.7", known_time())
    });
    batch.push(NewSighting {
        item_id: Some(first_item),
        ..sighting(IndicatorType::Domain, "evil.example", known_time())
    });
    batch.push(sighting(
        IndicatorType::Cidr,
        "198.51.100.0/24",
        known_time(),
    ));
    store.upsert_sightings(&feed, &batch).await.unwrap();
    store
        .upsert_sightings(
            &other,
            &[sighting(IndicatorType::Ipv4, "198.51.100.7", known_time())],
        )
        .await
        .unwrap();
    store
        .add_relations(
            &other,
            &[NewRelation {
                from: Indicator::parse(IndicatorType::Domain, "evil.example").unwrap(),
                to: Indicator::parse(IndicatorType::Ipv4, "198.51.100.7").unwrap(),
                kind: "resolves-to".into(),
                seen_at: known_time(),
            }],
        )
        .await
        .unwrap();
    // Withdrawn by its only source: retired, with a reason.
    store
        .upsert_sightings(
            &third,
            &[sighting(
                IndicatorType::Domain,
                "gone.example",
                known_time(),
            )],
        )
        .await
        .unwrap();
    store
        .retire_sightings(
            &third,
            &[Retraction {
                indicator: Indicator::parse(IndicatorType::Domain, "gone.example").unwrap(),
                reason: RetractReason::Revoked,
                at: known_time(),
            }],
        )
        .await
        .unwrap();
    let hunt = store
        .create_hunt(&HuntSpec {
            name: "tens".into(),
            kind: HuntKind::Watch,
            definition: "10.0.0.0/16".into(),
            enabled: true,
            channels: vec![],
            digest_secs: None,
            tlp: Tlp::Green,
        })
        .await
        .unwrap();
    let tens = store
        .list_indicators(&rexist_store::IndicatorQuery {
            prefix: Some("10.0.".into()),
            limit: 130,
            ..rexist_store::IndicatorQuery::default()
        })
        .await
        .unwrap();
    let hits: Vec<NewHit> = tens
        .items
        .iter()
        .map(|r| NewHit {
            hunt: hunt.id,
            object: HitObject::Indicator(r.id),
            terms: vec!["cidr:10.0.0.0/16".into()],
            retro: false,
        })
        .collect();
    assert_eq!(store.record_hits(&hits).await.unwrap().len(), 130);
    let mut schedules = BTreeMap::new();
    schedules.insert("feed-a".to_owned(), Duration::from_secs(3600));
    let exports = vec![
        ExportConfig {
            types: vec!["ipv4".into(), "domain".into()],
            source: Some("feed-a".into()),
            tag: Some("c2".into()),
            min_score: Some(40),
            tlp: Some("amber".into()),
            active_only: true,
            since: Some("30d".into()),
            ..ExportConfig::new("firewall", "edl")
        }
        .validate()
        .unwrap(),
    ];
    let app = router(
        AppState::new(Arc::clone(&store))
            .with_schedules(schedules)
            .with_exports(exports),
    );
    World { app, _dir: dir }
}

/// Each main page, with the lists on it.
const PAGES: &[&str] = &[
    "/",
    "/search?q=ransomware",
    "/indicators/ipv4/198.51.100.7",
    "/indicators/domain/evil.example",
    "/indicators/domain/gone.example",
    "/hunts",
    "/hunts/new",
    "/hunts/tens",
    "/sources",
    "/sources/feed-a",
    "/exports",
    "/exports/firewall/preview",
    "/admin",
    "/account",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_with_more_than_one_page_of_every_list() {
    let w = world().await;
    let cookie = login(&w.app, "root", "root-password").await;
    for lang in ["en", "ja"] {
        let cookie = format!("{cookie}; rexist_lang={lang}");
        for path in PAGES {
            let (status, _, page) = get(&w.app, path, &cookie, &[]).await;
            assert_eq!(status, StatusCode::OK, "{lang} {path}: {page}");
            assert!(
                !page.contains("error.title") && !page.contains("エラーが発生しました"),
                "{lang} {path}"
            );
        }
        let (_, _, item) = get(&w.app, "/search?q=ransomware", &cookie, &[]).await;
        let first = item.find("/items/").unwrap();
        let id: String = item[first + 7..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let (status, _, _) = get(&w.app, &format!("/items/{id}"), &cookie, &[]).await;
        assert_eq!(status, StatusCode::OK, "{lang} item");
        // Each list's next page renders too, and shows what the first did not.
        for (path, marker, row) in [
            ("/admin", "adm-older", "POST /admin/users/1"),
            ("/sources/feed-a", "src-older", "data-outcome"),
            ("/hunts/tens", "older-hits", "id=\"hit-"),
            ("/search?q=ransomware", "rel=\"next\"", "data-result"),
        ] {
            let (_, _, page) = get(&w.app, path, &cookie, &[]).await;
            let next = next_link(&page, marker)
                .unwrap_or_else(|| panic!("{lang} {path}: no next page ({marker})"));
            let (status, _, more) = get(&w.app, &next, &cookie, &[]).await;
            assert_eq!(status, StatusCode::OK, "{lang} {next}: {more}");
            assert!(more.contains(row), "{lang} {next} lists nothing");
            assert_ne!(page, more, "{lang} {next} repeats the first page");
        }
    }
}

/// A store of `n` addresses that all sort before what the watchlist names,
/// with what it names (and look-alikes) after them.
async fn big_store(store: &Arc<dyn Store>, n: u32) {
    let src = store
        .upsert_source(&SourceSpec {
            name: "bulk".into(),
            kind: "file".into(),
            enabled: true,
            confidence: 60,
            tlp: Tlp::Clear,
            tags: vec![],
        })
        .await
        .unwrap();
    let at = now();
    let mut batch: Vec<NewSighting> = (0..n)
        .map(|i| {
            sighting(
                IndicatorType::Ipv4,
                &format!("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255),
                at,
            )
        })
        .collect();
    for (kind, value) in [
        (IndicatorType::Ipv4, "203.0.113.9"),
        (IndicatorType::Cidr, "203.0.113.128/25"),
        (IndicatorType::Url, "http://203.0.113.9/gate"),
        (IndicatorType::Ipv4, "198.51.100.7"),
        (IndicatorType::Domain, "evil.example"),
        (IndicatorType::Domain, "cdn.evil.example"),
        (IndicatorType::Email, "boss@evil.example"),
        (IndicatorType::Url, "https://cdn.evil.example/x.js"),
        // Look-alikes: none of them match.
        (IndicatorType::Domain, "notevil.example"),
        (IndicatorType::Url, "https://other.example/evil.example"),
        (IndicatorType::Ipv4, "203.0.114.1"),
    ] {
        batch.push(sighting(kind, value, at));
    }
    batch.push(NewSighting {
        tlp: Some(Tlp::Red),
        ..sighting(IndicatorType::Ipv4, "203.0.113.66", at)
    });
    store.upsert_sightings(&src, &batch).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watch_preview_finds_matches_however_many_indicators_are_stored() {
    for b in crate::common::backends().await {
        let (backend, store) = (b.name, Arc::clone(&b.store));
        store
            .create_user(
                "ana",
                &hash_password("ana-password").unwrap(),
                Role::Analyst,
            )
            .await
            .unwrap();
        // More than the 20,000 the preview used to read.
        big_store(&store, 25_000).await;
        let app = router(AppState::new(Arc::clone(&store)));
        let cookie = login(&app, "ana", "ana-password").await;
        let (_, _, page) = get(&app, "/hunts/new", &cookie, &[]).await;
        let csrf = csrf_of(&page);
        let definition = "203.0.113.0/24, domain:evil.example, 198.51.100.7";
        let form = format!(
            "kind=watch&definition={}",
            form_urlencoded::byte_serialize(definition.as_bytes()).collect::<String>()
        );
        let (status, _, frag) =
            crate::ui::send(&app, "POST", "/hunts/preview", &cookie, Some(&csrf), &form).await;
        let frag = frag.replace("&#x2f;", "/");
        assert_eq!(status, StatusCode::OK, "{backend}");
        assert!(frag.contains("data-count=\"8\""), "{backend}: {frag}");
        for shown in [
            "ipv4/203.0.113.9\"",
            "cidr/203.0.113.128/25\"",
            "url/http%3A//203.0.113.9/gate\"",
            "ipv4/198.51.100.7\"",
            "domain/evil.example\"",
            "domain/cdn.evil.example\"",
            "email/boss%40evil.example\"",
            "url/https%3A//cdn.evil.example/x.js\"",
        ] {
            let href = format!("href=\"/indicators/{shown}");
            assert!(frag.contains(&href), "{backend}: {href} in {frag}");
        }
        for absent in ["notevil", "other.example", "203.0.114", "203.0.113.66"] {
            assert!(!frag.contains(absent), "{backend}: {absent} in {frag}");
        }
        // The saved hunt's page says the same.
        store
            .create_hunt(&HuntSpec {
                name: "big".into(),
                kind: HuntKind::Watch,
                definition: definition.into(),
                enabled: true,
                channels: vec![],
                digest_secs: None,
                tlp: Tlp::Green,
            })
            .await
            .unwrap();
        let (_, _, page) = get(&app, "/hunts/big", &cookie, &[]).await;
        assert!(page.contains("data-count=\"8\""), "{backend}: {page}");
        // A network wider than the limit counts to the limit and says so.
        let form = "kind=watch&definition=cidr%3A10.0.0.0%2F8";
        let (_, _, frag) =
            crate::ui::send(&app, "POST", "/hunts/preview", &cookie, Some(&csrf), form).await;
        assert!(
            frag.contains(&format!(
                "data-count=\"{}\"",
                rexist_server::ui::watch::LIMIT
            )) && frag.contains("data-capped"),
            "{backend}: {frag}"
        );
        drop((app, store));
        b.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_session_sends_pages_and_htmx_to_the_login_with_a_message() {
    let w = world().await;
    let cookie = login(&w.app, "ana", "ana-password").await;
    let (_, _, page) = get(&w.app, "/hunts/new", &cookie, &[]).await;
    let csrf = csrf_of(&page);
    let (status, _, _) = crate::ui::send(&w.app, "POST", "/logout", &cookie, Some(&csrf), "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // An htmx request: 401 with HX-Redirect to the login page, which says why.
    let req = Request::post("/hunts/preview")
        .header(header::COOKIE, &cookie)
        .header("hx-request", "true")
        .header("hx-current-url", "http://intel.example:8080/hunts/new?x=1")
        .header("x-csrf-token", &csrf)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("kind=watch&definition=192.0.2.1"))
        .unwrap();
    let res = w.app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let target = res.headers()["hx-redirect"].to_str().unwrap().to_owned();
    assert_eq!(target, "/login?next=/hunts/new%3Fx%3D1&expired=1");
    for (lang, says) in [
        ("en", "Your session has ended"),
        ("ja", "セッションが終了しました"),
    ] {
        let (status, _, login_page) = get(&w.app, &target, "", &[("accept-language", lang)]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(login_page.contains(says), "{lang}: {login_page}");
    }
    // A page: to the login page with the same message.
    let (status, headers, _) = get(&w.app, "/hunts", &cookie, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/login?next=/hunts&expired=1");
    // Never logged in: to the login page, with nothing about an end.
    let (_, headers, _) = get(&w.app, "/hunts", "", &[]).await;
    assert_eq!(headers[header::LOCATION], "/login?next=/hunts");
    let (_, _, fresh) = get(&w.app, "/login?next=/hunts", "", &[]).await;
    assert!(!fresh.contains("session has ended"));
}

#[tokio::test]
async fn unknown_addresses_get_a_page_and_the_favicon_needs_no_login() {
    let w = world().await;
    let cookie = login(&w.app, "ana", "ana-password").await;
    for (lang, says) in [
        ("en", "There is no page at this address."),
        ("ja", "このアドレスのページはありません。"),
    ] {
        let (status, headers, page) = get(
            &w.app,
            "/no/such/page",
            &format!("{cookie}; rexist_lang={lang}"),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(page.contains(says), "{page}");
        assert!(
            page.contains("href=\"/hunts\""),
            "in the UI's frame: {page}"
        );
    }
    // The API's and TAXII's stay JSON.
    let (status, headers, body) = get(&w.app, "/api/v1/nothing", &cookie, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("json"),
        "{body}"
    );
    let (status, headers, _) = get(&w.app, "/favicon.ico", "", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/x-icon");
}

#[tokio::test]
async fn dashboard_hits_name_values_and_viewers_read_hunts_without_forms() {
    let w = world().await;
    let cookie = login(&w.app, "vic", "vic-password").await;
    let (_, _, page) = get(&w.app, "/", &cookie, &[]).await;
    let hits = &page[page.find("id=\"hits\"").unwrap()..];
    assert!(hits.contains("ipv4:10.0.0[.]"), "{hits}");
    assert!(!hits.contains("indicator 1"), "{hits}");
    let (status, _, page) = get(&w.app, "/hunts/tens", &cookie, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"read-only\""), "{page}");
    for form in [
        "id=\"hunt-form\"",
        "<textarea",
        "hx-patch",
        "hx-delete",
        "id=\"ack-all\"",
    ] {
        assert!(!page.contains(form), "a viewer gets {form}: {page}");
    }
    assert!(page.contains("cidr:10.0.0.0/16"), "{page}");
    let (status, _, page) = get(&w.app, "/hunts/new", &cookie, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        page.contains("This page needs the analyst role; you have the viewer role."),
        "{page}"
    );
    let (_, _, page) = get(&w.app, "/hunts", &cookie, &[]).await;
    assert!(!page.contains("id=\"new-hunt\""), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn japanese_pages_say_what_other_crates_write_in_japanese() {
    let w = world().await;
    let cookie = format!(
        "{}; rexist_lang=ja",
        login(&w.app, "root", "root-password").await
    );
    let english = [
        " lies in ",
        " sightings",
        " sources<",
        "stated by",
        "highest confidence",
        "last seen ",
        "revoked by",
        "types:",
        "active only",
        "no such",
        "aria-label=\"timeline\"",
        "aria-label=\"graph\"",
        "(analyst)",
        "(admin)",
    ];
    let mut seen = String::new();
    for path in [
        "/indicators/ipv4/198.51.100.7",
        "/indicators/domain/evil.example",
        "/indicators/domain/gone.example",
        "/exports",
        "/items/999999",
        "/sources/feed-a",
        "/admin",
        "/api/docs",
    ] {
        let (_, _, page) = get(&w.app, path, &cookie, &[]).await;
        for e in english {
            assert!(!page.contains(e), "{path} says {e:?} in Japanese: {page}");
        }
        seen.push_str(&page);
    }
    for ja in [
        "裏付け",
        "報告元 2 件",
        "名前解決先",
        "feed-b による",
        "feed-c により失効",
        "種類: ipv4, domain",
        "有効なもののみ",
        "そのアイテムはありません",
        "rexist API リファレンス",
        "一部のみ",
        "管理者",
    ] {
        assert!(seen.contains(ja), "no {ja:?} on the Japanese pages");
    }
}

#[tokio::test]
async fn dates_and_numbers_follow_the_readers_locale() {
    let w = world().await;
    let cookie = login(&w.app, "root", "root-password").await;
    for (accept, lang, time) in [
        ("en-US,en;q=0.9", "en", "Jan 5, 2025, 3:04 PM UTC"),
        ("en-GB,en;q=0.9", "en", "5 Jan 2025, 15:04 UTC"),
        ("ja", "ja", "2025年1月5日 15:04 UTC"),
    ] {
        let cookie = format!("{cookie}; rexist_lang={lang}");
        let (_, _, page) = get(
            &w.app,
            "/indicators/ipv4/198.51.100.7",
            &cookie,
            &[("accept-language", accept)],
        )
        .await;
        assert!(page.contains(time), "{accept}: {page}");
        let (_, _, page) = get(&w.app, "/", &cookie, &[("accept-language", accept)]).await;
        assert!(
            page.contains(">1,204<") || page.contains(">1,205<"),
            "{accept}: indicators counted with grouping: {page}"
        );
    }
}
