//! The hunts pages: create and edit through htmx with a live preview over
//! stored data (within the caller's TLP clearance), parse errors with their
//! position, hits and their acknowledgement, channel health, roles and
//! Japanese words.

use crate::ui::{csrf_of, send};
use std::sync::Arc;

use axum::http::{StatusCode, header};
use rexist_core::{NewItem, Role, Tlp};
use rexist_server::auth::hash_password;
use rexist_server::{AppState, router};
use rexist_store::Store;

fn item(id: &str, title: &str, tlp: Tlp) -> NewItem {
    NewItem {
        tlp,
        ..crate::common::item(id, title)
    }
}

async fn app() -> (axum::Router, Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
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
    let src = crate::common::news_source(&store).await;
    store
        .upsert_items(
            src.id,
            &[
                item("1", "LockBit strikes a hospital", Tlp::Clear),
                item("2", "Weather report", Tlp::Clear),
                item("3", "LockBit secret affiliate list", Tlp::Red),
            ],
        )
        .await
        .unwrap();
    let app = router(AppState::new(Arc::clone(&store)).with_channels(vec!["soc".into()]));
    (app, store, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analyst_writes_a_hunt_with_a_live_preview_and_acknowledges_its_hits() {
    let (app, store, _dir) = app().await;
    let cookie = crate::ui::login(&app, "ana", "ana-password").await;
    let (s, _, page) = send(&app, "GET", "/hunts/new", &cookie, None, "").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        page.contains("hx-trigger=\"keyup changed delay:400ms"),
        "{page}"
    );
    assert!(
        page.contains("value=\"soc\""),
        "the configured channel is offered"
    );
    // TLP: AMBER by default, choices up to the analyst's clearance only.
    assert!(page.contains("name=\"tlp\""), "{page}");
    assert!(page.contains("<option value=\"amber\" selected>"), "{page}");
    assert!(page.contains("<option value=\"amber+strict\""), "{page}");
    assert!(!page.contains("<option value=\"red\""), "{page}");
    let csrf = csrf_of(&page);

    // preview: matches among stored items, within the analyst's clearance
    let (s, _, frag) = send(
        &app,
        "POST",
        "/hunts/preview",
        &cookie,
        Some(&csrf),
        "kind=query&definition=lockbit+-weather",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(frag.contains("LockBit strikes a hospital"), "{frag}");
    assert!(
        !frag.contains("secret affiliate"),
        "TLP:RED stays hidden: {frag}"
    );
    assert!(frag.contains("data-count=\"1\""), "{frag}");
    // a query that does not parse: where
    let (_, _, frag) = send(
        &app,
        "POST",
        "/hunts/preview",
        &cookie,
        Some(&csrf),
        "kind=query&definition=foo+%28bar",
    )
    .await;
    assert!(frag.contains("data-position=\"4\""), "{frag}");
    assert!(frag.contains("<mark>"), "{frag}");
    // watchlists preview over indicators
    let (_, _, frag) = send(
        &app,
        "POST",
        "/hunts/preview",
        &cookie,
        Some(&csrf),
        "kind=watch&definition=not+an+indicator+at+all",
    )
    .await;
    assert!(frag.contains("parse-error"), "{frag}");

    // create: validation is the API's
    let (s, h, frag) = send(
        &app,
        "POST",
        "/hunts",
        &cookie,
        Some(&csrf),
        "name=ransom&kind=query&definition=lockbit&channels=nope&digest=off&enabled=1",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        frag.contains("hunt-error") && frag.contains("nope"),
        "{frag}"
    );
    assert!(!h.contains_key("hx-redirect"));
    let (_, h, _) = send(
        &app,
        "POST",
        "/hunts",
        &cookie,
        Some(&csrf),
        "name=ransom&kind=query&definition=lockbit&channels=soc&digest=1h&enabled=1",
    )
    .await;
    assert_eq!(h["hx-redirect"], "/hunts/ransom");
    assert_eq!(
        store
            .hunt_by_name("ransom")
            .await
            .unwrap()
            .unwrap()
            .spec
            .tlp,
        Tlp::Amber
    );
    // a TLP above the analyst's clearance is refused
    let (_, h, frag) = send(
        &app,
        "POST",
        "/hunts",
        &cookie,
        Some(&csrf),
        "name=redhunt&kind=query&definition=lockbit&digest=off&tlp=red",
    )
    .await;
    assert!(
        frag.contains("hunt-error") && frag.contains("clearance"),
        "{frag}"
    );
    assert!(!h.contains_key("hx-redirect"));
    assert!(store.hunt_by_name("redhunt").await.unwrap().is_none());
    let (_, _, frag) = send(
        &app,
        "POST",
        "/hunts",
        &cookie,
        Some(&csrf),
        "name=ransom&kind=query&definition=lockbit&digest=off",
    )
    .await;
    assert!(
        frag.contains("hunt-error"),
        "a second hunt of the name conflicts: {frag}"
    );
    let (_, _, frag) = send(
        &app,
        "POST",
        "/hunts",
        &cookie,
        Some(&csrf),
        "name=new&kind=query&definition=lockbit&digest=off",
    )
    .await;
    assert!(frag.contains("names a page"), "{frag}");
    let (_, h, _) = send(
        &app,
        "POST",
        "/hunts",
        &cookie,
        Some(&csrf),
        "name=a%2Fb&kind=watch&definition=192.0.2.1&digest=off",
    )
    .await;
    assert_eq!(h["hx-redirect"], "/hunts/a%2Fb");
    let (s, _, page) = send(&app, "GET", "/hunts/a%2Fb", &cookie, None, "").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("hx-patch=\"/hunts/a%2Fb\""), "{page}");
    let hunt = store.hunt_by_name("ransom").await.unwrap().unwrap();
    assert_eq!(hunt.spec.channels, ["soc"]);
    assert_eq!(hunt.spec.digest_secs, Some(3600));

    // edit
    let (s, _, frag) = send(
        &app,
        "PATCH",
        "/hunts/ransom",
        &cookie,
        Some(&csrf),
        "name=ransom&kind=query&definition=lockbit%2C+blackcat&digest=off&enabled=1",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(frag.contains("hunt-saved"), "{frag}");
    let hunt = store.hunt_by_name("ransom").await.unwrap().unwrap();
    assert_eq!(hunt.spec.definition, "lockbit, blackcat");
    assert!(hunt.spec.channels.is_empty());
    assert_eq!(hunt.spec.digest_secs, None);

    // hits: the new one is listed, acknowledged one by one or all at once
    let src = store.list_sources().await.unwrap()[0].id;
    rexist_pipeline::Ingest::new(Arc::clone(&store), None)
        .items(
            src,
            &[
                item("4", "BlackCat leaks", Tlp::Clear),
                item("5", "LockBit again", Tlp::Clear),
            ],
        )
        .await
        .unwrap();
    let (_, _, list) = send(&app, "GET", "/hunts", &cookie, None, "").await;
    assert!(
        list.contains(">ransom</a>") && list.contains("<td class=\"n\">2</td>"),
        "{list}"
    );
    assert!(
        list.contains("id=\"channels\"") && list.contains("<td>soc</td>"),
        "{list}"
    );
    let (_, _, page) = send(&app, "GET", "/hunts/ransom", &cookie, None, "").await;
    assert!(
        page.contains("BlackCat leaks") && page.contains("id=\"ack-all\""),
        "{page}"
    );
    assert!(
        page.contains("data-count=\"3\""),
        "the saved query previews: {page}"
    );
    let hits = store
        .list_hits(&rexist_store::HitQuery {
            hunt: Some(hunt.id),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(hits.len(), 2);
    let one = hits[0].id.get();
    let (s, _, frag) = send(
        &app,
        "POST",
        "/hunts/ransom/ack",
        &cookie,
        Some(&csrf),
        &format!("id={one}"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(frag.contains("Acknowledged (ana)"), "{frag}");
    assert_eq!(frag.matches("class=\"link ack\"").count(), 1, "{frag}");
    let (_, _, frag) = send(&app, "POST", "/hunts/ransom/ack", &cookie, Some(&csrf), "").await;
    assert_eq!(frag.matches("class=\"link ack\"").count(), 0, "{frag}");
    assert_eq!(frag.matches("Acknowledged (ana)").count(), 2, "{frag}");

    // without the CSRF token a write is refused
    let (s, _, _) = send(&app, "POST", "/hunts/ransom/ack", &cookie, None, "").await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // triage a hit from the table, then filter the table by state
    let two = hits[1].id.get();
    let (s, _, frag) = send(
        &app,
        "POST",
        "/hunts/ransom/triage",
        &cookie,
        Some(&csrf),
        &format!("id={two}&status=false_positive&assignee=dave&note=scanner"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{frag}");
    assert!(frag.contains("value=\"false_positive\" selected"), "{frag}");
    assert!(frag.contains("value=\"dave\""), "{frag}");
    let log = store.hit_triage_log(hits[1].id).await.unwrap();
    assert_eq!(
        (log[0].note.as_deref(), log[0].author.as_str()),
        (Some("scanner"), "ana")
    );
    let (_, _, frag) = send(
        &app,
        "POST",
        "/hunts/ransom/hits",
        &cookie,
        Some(&csrf),
        "triage=false_positive",
    )
    .await;
    assert_eq!(
        frag.matches("<form class=\"inline triage\"").count(),
        1,
        "{frag}"
    );
    let (s, _, _) = send(
        &app,
        "POST",
        "/hunts/ransom/triage",
        &cookie,
        Some(&csrf),
        &format!("id={two}&status=done"),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // delete
    let (_, h, _) = send(&app, "DELETE", "/hunts/ransom", &cookie, Some(&csrf), "").await;
    assert_eq!(h["hx-redirect"], "/hunts");
    assert!(store.hunt_by_name("ransom").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_reads_hunts_in_japanese_but_may_not_write() {
    let (app, store, _dir) = app().await;
    store
        .create_hunt(&rexist_core::HuntSpec {
            name: "watch-ips".into(),
            kind: rexist_core::HuntKind::Watch,
            definition: "192.0.2.0/24".into(),
            enabled: true,
            channels: vec![],
            digest_secs: None,
            tlp: Tlp::Green,
        })
        .await
        .unwrap();
    // An AMBER hunt is above a viewer's clearance (GREEN by default).
    store
        .create_hunt(&rexist_core::HuntSpec {
            name: "amber-watch".into(),
            kind: rexist_core::HuntKind::Watch,
            definition: "198.51.100.77".into(),
            enabled: true,
            channels: vec![],
            digest_secs: None,
            tlp: Tlp::Amber,
        })
        .await
        .unwrap();
    let cookie = crate::ui::login(&app, "vic", "vic-password").await;
    let (s, h, page) = send(&app, "GET", "/hunts?lang=ja", &cookie, None, "").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[header::CONTENT_LANGUAGE], "ja");
    assert!(
        page.contains("通知チャネルの状態") && page.contains("指標のウォッチリスト"),
        "{page}"
    );
    assert!(
        !page.contains("id=\"new-hunt\""),
        "no create button for a viewer"
    );
    assert!(page.contains(">watch-ips</a>"), "{page}");
    assert!(
        !page.contains("amber-watch") && !page.contains("198.51.100.77"),
        "an AMBER hunt is not listed to a viewer: {page}"
    );
    let (s, _, page) = send(&app, "GET", "/hunts/amber-watch", &cookie, None, "").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(!page.contains("198.51.100.77"), "{page}");
    let (s, _, page) = send(&app, "GET", "/hunts/watch-ips?lang=ja", &cookie, None, "").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        page.contains("プレビュー") && page.contains("ヒットはありません"),
        "{page}"
    );
    let csrf = csrf_of(&page);
    for (method, uri, form) in [
        ("POST", "/hunts", "name=x&kind=query&definition=a"),
        (
            "PATCH",
            "/hunts/watch-ips",
            "name=x&kind=watch&definition=192.0.2.1",
        ),
        ("DELETE", "/hunts/watch-ips", ""),
        ("POST", "/hunts/watch-ips/ack", ""),
    ] {
        let (s, _, _) = send(&app, method, uri, &cookie, Some(&csrf), form).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{method} {uri}");
    }
    let (s, _, _) = send(&app, "GET", "/hunts/nope", &cookie, None, "").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_channel_test_message_reaches_the_receiver_or_says_why_not() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    store
        .create_user(
            "ana",
            &hash_password("ana-password").unwrap(),
            Role::Analyst,
        )
        .await
        .unwrap();
    // A Slack-style receiver on loopback that counts what it gets.
    let received = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&received);
    let receiver = rexist_testkit::serve(move |path, _, request| {
        if path == "/hook" && request.contains("rexist test message") {
            seen.fetch_add(1, Ordering::SeqCst);
        }
        (
            rexist_testkit::response("200 OK", "", b"ok"),
            std::time::Duration::ZERO,
        )
    })
    .await;
    let channel = |name: &str, url: String| {
        let file = dir.path().join(format!("{name}.url"));
        std::fs::write(&file, url).unwrap();
        rexist_notify::Channel::from_config(&rexist_notify::ChannelConfig {
            name: name.to_owned(),
            kind: "slack".to_owned(),
            url_file: Some(file.to_str().unwrap().to_owned()),
            ..rexist_notify::ChannelConfig::default()
        })
        .unwrap()
    };
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        format!("http://127.0.0.1:{port}/hook")
    };
    let app = router(
        AppState::new(store)
            .with_channels(vec!["soc".into(), "down".into()])
            .with_notifiers(
                vec![
                    channel("soc", format!("{}/hook", receiver.base)),
                    channel("down", closed),
                ],
                None,
            ),
    );
    let cookie = crate::ui::login(&app, "ana", "ana-password").await;
    let (_, _, page) = send(&app, "GET", "/hunts", &cookie, None, "").await;
    assert!(
        page.replace("&#x2f;", "/")
            .contains("hx-post=\"/channels/soc/test\""),
        "the page offers a test message: {page}"
    );
    let token = csrf_of(&page);
    let (status, _, body) = send(
        &app,
        "POST",
        "/channels/soc/test",
        &cookie,
        Some(&token),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Test message sent through"), "{body}");
    assert_eq!(received.load(Ordering::SeqCst), 1, "the receiver got it");
    let (_, _, body) = send(
        &app,
        "POST",
        "/channels/down/test",
        &cookie,
        Some(&token),
        "",
    )
    .await;
    assert!(body.contains("failed on"), "{body}");
    let (status, _, _) = send(
        &app,
        "POST",
        "/channels/nope/test",
        &cookie,
        Some(&token),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
