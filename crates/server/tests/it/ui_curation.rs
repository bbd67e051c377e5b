//! Curation in the UI: the indicator and item pages load a panel through
//! which analysts mark false positives, write notes, record local
//! sightings, change labels, raise the TLP and override the score; the
//! paste box finds indicators in text and adds the picked ones, or groups
//! them in an event item; viewers see the panel without its forms and may
//! not write; every word is in Japanese too.

use std::sync::Arc;

use axum::http::StatusCode;
use rexist_core::model::now;
use rexist_core::{Indicator, IndicatorStatus, IndicatorType, NewSighting, Role, SourceSpec, Tlp};
use rexist_server::auth::hash_password;
use rexist_server::ui::i18n::{Lang, sentence};
use rexist_server::{AppState, router};
use rexist_store::Store;

use crate::ui::{csrf_of, login, send};

struct Fixture {
    app: axum::Router,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
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
    let feed = store
        .upsert_source(&SourceSpec {
            name: "feed".into(),
            kind: "file".into(),
            enabled: true,
            confidence: 70,
            tlp: Tlp::Clear,
            tags: vec![],
        })
        .await
        .unwrap();
    store
        .upsert_sightings(
            &feed,
            &[NewSighting {
                labels: vec!["phishing".into()],
                ..NewSighting::new(
                    Indicator::parse(IndicatorType::Domain, "evil-domain.com").unwrap(),
                    now(),
                )
            }],
        )
        .await
        .unwrap();
    let app = router(AppState::new(Arc::clone(&store)));
    Fixture {
        app,
        store,
        _dir: dir,
    }
}

/// A session's cookie and CSRF token.
async fn session(app: &axum::Router, user: &str) -> (String, String) {
    let cookie = login(app, user, &format!("{user}-password")).await;
    let (_, _, page) = send(app, "GET", "/", &cookie, None, "").await;
    let csrf = csrf_of(&page);
    (cookie, csrf)
}

const PANEL: &str = "/curation/indicators/domain/evil-domain.com";

/// A page's text with the slashes its attributes escape put back.
fn unescape(page: &str) -> String {
    page.replace("&#x2f;", "/")
}

#[tokio::test]
async fn analysts_curate_an_indicator_from_its_page() {
    let f = fixture().await;
    let (cookie, csrf) = session(&f.app, "ana").await;
    let (status, _, page) = send(
        &f.app,
        "GET",
        "/indicators/domain/evil-domain.com",
        &cookie,
        None,
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        unescape(&page).contains(&format!("hx-get=\"{PANEL}\"")),
        "the page loads the panel"
    );
    let (status, _, panel) = send(&f.app, "GET", PANEL, &cookie, None, "").await;
    assert_eq!(status, StatusCode::OK);
    for id in [
        "fp-mark",
        "note-add",
        "local-add",
        "label-add",
        "tlp-raise",
        "score-set",
    ] {
        assert!(panel.contains(&format!("id=\"{id}\"")), "{id}: {panel}");
    }

    let post = |form: &'static str| {
        let (app, cookie, csrf) = (f.app.clone(), cookie.clone(), csrf.clone());
        async move { send(&app, "POST", PANEL, &cookie, Some(&csrf), form).await }
    };
    let (status, _, panel) = post("do=note&text=seen+in+the+proxy+%3Cb%3Elogs%3C%2Fb%3E").await;
    assert_eq!(status, StatusCode::OK, "{panel}");
    assert!(
        unescape(&panel).contains("seen in the proxy &lt;b&gt;logs&lt;/b&gt;"),
        "escaped: {panel}"
    );
    assert!(panel.contains("ana"));
    let (status, _, panel) = post("do=fp&reason=").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{panel}");
    assert!(panel.contains("reason"), "{panel}");
    let (status, _, panel) = post("do=fp&reason=our+CDN").await;
    assert_eq!(status, StatusCode::OK, "{panel}");
    assert!(
        panel.contains("id=\"fp-banner\"") && panel.contains("our CDN"),
        "{panel}"
    );
    assert!(panel.contains("id=\"fp-unmark\""));
    let r = f
        .store
        .indicator(IndicatorType::Domain, "evil-domain.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, IndicatorStatus::FalsePositive);
    let (_, _, page) = send(
        &f.app,
        "GET",
        "/indicators/domain/evil-domain.com",
        &cookie,
        None,
        "",
    )
    .await;
    assert!(
        page.contains("status-false_positive") && page.contains("false positive"),
        "the verdict says so"
    );

    let (status, _, panel) = post("do=sighting&count=2&where=proxy-1").await;
    assert_eq!(status, StatusCode::OK, "{panel}");
    assert!(
        panel.contains("id=\"local-summary\"") && panel.contains("proxy-1"),
        "{panel}"
    );
    let (status, _, panel) = post("do=sighting&count=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(panel.contains("count"), "{panel}");
    let (status, _, panel) = post("do=label_add&label=emotet&reason=triage").await;
    assert_eq!(status, StatusCode::OK, "{panel}");
    assert!(panel.contains("id=\"hand-labels\"") && panel.contains("emotet"));
    let (status, _, panel) = post("do=tlp&tlp=amber&reason=customer").await;
    assert_eq!(status, StatusCode::OK, "{panel}");
    assert!(
        panel.contains("TLP:AMBER") && panel.contains("id=\"tlp-clear\""),
        "{panel}"
    );
    let (status, _, panel) = post("do=score&score=9&reason=sinkholed").await;
    assert_eq!(status, StatusCode::OK, "{panel}");
    assert!(panel.contains("<strong>9</strong>/100"), "{panel}");
    let (status, _, panel) = post("do=unfp").await;
    assert_eq!(status, StatusCode::OK, "{panel}");
    assert!(panel.contains("id=\"fp-mark\""));
    let (status, _, _) = post("do=bogus").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A value rexist does not hold: one button adds it.
    let unknown = "/curation/indicators/domain/new-domain.com";
    let (_, _, panel) = send(&f.app, "GET", unknown, &cookie, None, "").await;
    assert!(panel.contains("id=\"cur-add\""), "{panel}");
    let (status, _, panel) = send(
        &f.app,
        "POST",
        unknown,
        &cookie,
        Some(&csrf),
        "do=add&tlp=green",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{panel}");
    assert!(
        panel.contains("id=\"fp-mark\""),
        "now it is stored: {panel}"
    );
    let added = f
        .store
        .indicator(IndicatorType::Domain, "new-domain.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(added.tlp, Tlp::Green);
}

#[tokio::test]
async fn viewers_read_the_panel_and_write_nothing() {
    let f = fixture().await;
    let (ana, ana_csrf) = session(&f.app, "ana").await;
    send(
        &f.app,
        "POST",
        PANEL,
        &ana,
        Some(&ana_csrf),
        "do=note&text=for+everyone",
    )
    .await;
    let (vic, vic_csrf) = session(&f.app, "vic").await;
    let (status, _, panel) = send(&f.app, "GET", PANEL, &vic, None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(panel.contains("for everyone"), "{panel}");
    for id in [
        "fp-mark",
        "note-add",
        "local-add",
        "label-add",
        "tlp-raise",
        "score-set",
    ] {
        assert!(!panel.contains(&format!("id=\"{id}\"")), "{id}");
    }
    let (status, _, _) = send(
        &f.app,
        "POST",
        PANEL,
        &vic,
        Some(&vic_csrf),
        "do=fp&reason=x",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = send(
        &f.app,
        "POST",
        "/curation/paste",
        &vic,
        Some(&vic_csrf),
        "text=x",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Above the clearance, the panel knows nothing of it.
    let (_, _, _) = send(
        &f.app,
        "POST",
        PANEL,
        &ana,
        Some(&ana_csrf),
        "do=tlp&tlp=amber&reason=x",
    )
    .await;
    let (status, _, panel) = send(&f.app, "GET", PANEL, &vic, None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!panel.contains("for everyone"), "{panel}");
}

#[tokio::test]
async fn the_paste_box_adds_picked_indicators_and_groups_events() {
    let f = fixture().await;
    let (cookie, csrf) = session(&f.app, "ana").await;
    let (status, _, page) = send(&f.app, "GET", "/curation/paste", &cookie, None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("id=\"paste-text\"") && page.contains("id=\"nav-add\""),
        "{page}"
    );
    let text =
        "Report: C2 at hxxp://bad-paste[.]com/gate and 203.0.113.9\nintranet.example\nnothing here";
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("text", text)
        .finish();
    let (status, _, found) = send(
        &f.app,
        "POST",
        "/curation/paste",
        &cookie,
        Some(&csrf),
        &form,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    for value in [
        "http://bad-paste.com/gate",
        "203.0.113.9",
        "intranet.example",
    ] {
        assert!(unescape(&found).contains(value), "{value}: {found}");
    }
    let (_, _, none) = send(
        &f.app,
        "POST",
        "/curation/paste",
        &cookie,
        Some(&csrf),
        "text=hello+world",
    )
    .await;
    assert!(none.contains("id=\"paste-none\""), "{none}");

    let pick = form_urlencoded::Serializer::new(String::new())
        .append_pair("pick", "url|http://bad-paste.com/gate")
        .append_pair("pick", "domain|intranet.example")
        .append_pair("tlp", "green")
        .append_pair("labels", "c2, loader")
        .append_pair("note", "from the report")
        .finish();
    let (status, _, added) = send(
        &f.app,
        "POST",
        "/curation/paste/add",
        &cookie,
        Some(&csrf),
        &pick,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{added}");
    assert!(
        added.contains("id=\"paste-added\"") && added.contains("intranet.example"),
        "{added}"
    );
    let url = f
        .store
        .indicator(IndicatorType::Url, "http://bad-paste.com/gate")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(url.tlp, Tlp::Green);
    let sightings = f.store.sightings_of(url.id).await.unwrap();
    assert_eq!(sightings[0].author.as_deref(), Some("ana"));
    assert_eq!(sightings[0].labels, ["c2", "loader"]);
    let notes = f
        .store
        .notes(rexist_core::NoteTarget::Indicator(url.id), 10)
        .await
        .unwrap();
    assert_eq!(notes[0].text, "from the report");
    assert!(
        f.store
            .indicator(IndicatorType::Ipv4, "203.0.113.9")
            .await
            .unwrap()
            .is_none(),
        "not picked, not added"
    );
    let (status, _, _) = send(
        &f.app,
        "POST",
        "/curation/paste/add",
        &cookie,
        Some(&csrf),
        "tlp=green",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "nothing picked");

    // The same picks as an event item, which opens.
    let event = form_urlencoded::Serializer::new(String::new())
        .append_pair("pick", "ipv4|203.0.113.9")
        .append_pair("title", "Incident 7")
        .append_pair("text", text)
        .append_pair("tlp", "green")
        .finish();
    let (status, headers, body) = send(
        &f.app,
        "POST",
        "/curation/paste/event",
        &cookie,
        Some(&csrf),
        &event,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let href = headers["hx-redirect"].to_str().unwrap().to_owned();
    assert!(href.starts_with("/items/"), "{href}");
    let (status, _, page) = send(&f.app, "GET", &href, &cookie, None, "").await;
    assert_eq!(status, StatusCode::OK);
    let id = href.trim_start_matches("/items/");
    assert!(
        unescape(&page).contains(&format!("hx-get=\"/curation/items/{id}\"")),
        "{page}"
    );
    let item_panel = format!("/curation/items/{id}");
    let (_, _, panel) = send(&f.app, "GET", &item_panel, &cookie, None, "").await;
    assert!(
        panel.contains("id=\"event-indicators\"") && panel.contains("203.0.113.9"),
        "{panel}"
    );
    let (status, _, panel) = send(
        &f.app,
        "POST",
        &item_panel,
        &cookie,
        Some(&csrf),
        "do=note&text=contained",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{panel}");
    assert!(panel.contains("contained"));
    let (status, _, body) = send(
        &f.app,
        "POST",
        "/curation/paste/event",
        &cookie,
        Some(&csrf),
        "pick=ipv4%7C203.0.113.9",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("title"), "{body}");
}

#[tokio::test]
async fn curation_speaks_japanese() {
    let f = fixture().await;
    let (cookie, _) = session(&f.app, "ana").await;
    let (_, _, panel) = send(
        &f.app,
        "GET",
        &format!("{PANEL}?lang=ja"),
        &cookie,
        None,
        "",
    )
    .await;
    assert!(
        panel.contains("誤検知としてマーク") && panel.contains("メモを追加"),
        "{panel}"
    );
    let (_, _, page) = send(&f.app, "GET", "/curation/paste?lang=ja", &cookie, None, "").await;
    assert!(page.contains("指標を抽出"), "{page}");
    // The lookup's sentences about analysts' verdicts read in Japanese too.
    for en in [
        "marked a false positive by ana: our CDN",
        "set by ana: sinkholed",
        "seen 4 times in our own network (2 reports), counted as a source at confidence 90",
        "no source lists it",
    ] {
        assert_ne!(sentence(Lang::Ja, en), en, "{en}");
    }
    for (key, en, ja) in rexist_server::ui::curation::WORDS {
        assert!(!en.is_empty() && !ja.is_empty(), "{key}");
        assert_ne!(en, ja, "{key} is translated");
    }
}
