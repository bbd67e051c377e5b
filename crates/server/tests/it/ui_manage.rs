//! The web UI's management pages: dashboard charts, sources, exports, admin.

use crate::ui::{csrf_of, send};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use rexist_core::model::now;
use rexist_core::{
    Indicator, IndicatorType, NewSighting, Role, RunCounts, RunOutcome, SourceSpec, Tlp,
};
use rexist_server::auth::hash_password;
use rexist_server::export::ExportConfig;
use rexist_server::{AppState, router};
use rexist_store::Store;
use rexist_store::sqlite::SqliteStore;

use crate::ui::login;

struct World {
    app: axum::Router,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("rexist.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    for (name, role) in [
        ("ana", Role::Analyst),
        ("root", Role::Admin),
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
    let store: Arc<dyn Store> = Arc::new(store);
    let mut schedules = std::collections::BTreeMap::new();
    for name in ["alpha", "zulu"] {
        let s = store
            .upsert_source(&SourceSpec {
                name: name.to_owned(),
                kind: "file".to_owned(),
                enabled: true,
                confidence: 70,
                tlp: Tlp::Green,
                tags: vec![],
            })
            .await
            .unwrap();
        schedules.insert(name.to_owned(), Duration::from_secs(3600));
        let sightings: Vec<NewSighting> = (1..=3)
            .map(|i| {
                NewSighting::new(
                    Indicator::parse(IndicatorType::Ipv4, &format!("192.0.2.{i}")).unwrap(),
                    now(),
                )
            })
            .collect();
        store.upsert_sightings(&s, &sightings).await.unwrap();
        let run = store.start_run(s.id).await.unwrap();
        let (outcome, error) = if name == "zulu" {
            (RunOutcome::Failed, Some("upstream said 500"))
        } else {
            (RunOutcome::Success, None)
        };
        let counts = RunCounts {
            new: 3,
            ..RunCounts::default()
        };
        store
            .finish_run(run.id, outcome, &counts, None, error)
            .await
            .unwrap();
    }
    let exports = vec![
        ExportConfig {
            description: Some("firewall list".to_owned()),
            ..ExportConfig::new("block-ips", "edl")
        }
        .validate()
        .unwrap(),
    ];
    let app = router(
        AppState::new(Arc::clone(&store))
            .with_origin(Some("http://intel.example:8080"), None)
            .unwrap()
            .with_schedules(schedules)
            .with_exports(exports),
    );
    World {
        app,
        store,
        _dir: dir,
    }
}

async fn session(w: &World, user: &str) -> (String, String) {
    let cookie = login(&w.app, user, &format!("{user}-password")).await;
    let (status, _, page) = send(&w.app, "GET", "/sources", &cookie, None, "").await;
    assert_eq!(status, StatusCode::OK);
    (cookie.clone(), csrf_of(&page))
}

#[tokio::test]
async fn dashboard_draws_charts_and_the_most_sighted() {
    let w = world().await;
    let (cookie, _) = session(&w, "ana").await;
    let (status, _, page) = send(&w.app, "GET", "/", &cookie, None, "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("id=\"charts\""));
    assert!(page.contains("<rect"), "bars are drawn");
    assert!(page.contains("New indicators per day, by type"));
    assert!(
        page.contains("/indicators/ipv4/192.0.2.1"),
        "most sighted link"
    );
    let (_, _, ja) = send(&w.app, "GET", "/?lang=ja", &cookie, None, "").await;
    assert!(ja.contains("タイプ別の新規指標数"));
    assert!(ja.contains("観測回数の多い指標"));
}

#[tokio::test]
async fn sources_list_failing_first_and_run_now_queues_a_job() {
    let w = world().await;
    let (cookie, token) = session(&w, "ana").await;
    let (_, _, page) = send(&w.app, "GET", "/sources", &cookie, None, "").await;
    let (zulu, alpha) = (
        page.find("data-source=\"zulu\"").unwrap(),
        page.find("data-source=\"alpha\"").unwrap(),
    );
    assert!(zulu < alpha, "the failing source comes first");
    assert!(page.contains("upstream said 500"));
    let (status, _, body) = send(
        &w.app,
        "POST",
        "/sources/alpha/run",
        &cookie,
        Some(&token),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert!(body.contains("Queued"));
    assert_eq!(w.store.stats().await.unwrap().jobs_pending, 1);
    let (status, _, _) = send(
        &w.app,
        "POST",
        "/sources/alpha/run",
        &cookie,
        Some(&token),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "already queued");
    // Without the CSRF header the write is refused.
    let (status, _, _) = send(&w.app, "POST", "/sources/alpha/run", &cookie, None, "").await;
    assert_ne!(status, StatusCode::ACCEPTED);
    // An analyst may not disable a source.
    let (status, _, _) = send(
        &w.app,
        "POST",
        "/sources/alpha/disable",
        &cookie,
        Some(&token),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        w.store
            .source_by_name("alpha")
            .await
            .unwrap()
            .unwrap()
            .enabled
    );
    // An admin may.
    let (cookie, token) = session(&w, "root").await;
    let (status, _, _) = send(
        &w.app,
        "POST",
        "/sources/alpha/disable",
        &cookie,
        Some(&token),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !w.store
            .source_by_name("alpha")
            .await
            .unwrap()
            .unwrap()
            .enabled
    );
    // The history page.
    let (status, _, page) = send(&w.app, "GET", "/sources/zulu?lang=ja", &cookie, None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("実行履歴") && page.contains("data-outcome=\"failed\">失敗"));
    // A run cut short shows as interrupted, in both languages.
    let zulu = w.store.source_by_name("zulu").await.unwrap().unwrap();
    let run = w.store.start_run(zulu.id).await.unwrap();
    w.store
        .finish_run(
            run.id,
            RunOutcome::Interrupted,
            &RunCounts::default(),
            None,
            Some("interrupted: rexist was shutting down"),
        )
        .await
        .unwrap();
    let (_, _, ja) = send(&w.app, "GET", "/sources/zulu?lang=ja", &cookie, None, "").await;
    assert!(ja.contains("data-outcome=\"interrupted\">中断"), "{ja}");
    let (_, _, en) = send(&w.app, "GET", "/sources/zulu?lang=en", &cookie, None, "").await;
    assert!(en.contains("class=\"warn\""), "{en}");
    assert!(en.contains(">interrupted</td>"), "{en}");
}

#[tokio::test]
async fn exports_show_urls_and_a_preview() {
    let w = world().await;
    let (cookie, _) = session(&w, "vic").await;
    let (status, _, page) = send(&w.app, "GET", "/exports", &cookie, None, "").await;
    assert_eq!(status, StatusCode::OK);
    // minijinja escapes `/` in text; a browser shows it as is.
    let page = page.replace("&#x2f;", "/");
    assert!(
        page.contains("http://intel.example:8080/export/block-ips"),
        "{page}"
    );
    assert!(page.contains("firewall list") && page.contains("edl"));
    let (status, _, preview) = send(
        &w.app,
        "GET",
        "/exports/block-ips/preview",
        &cookie,
        None,
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(preview.contains("192.0.2.1"), "{preview}");
    let (_, _, ja) = send(&w.app, "GET", "/exports?lang=ja", &cookie, None, "").await;
    assert!(ja.contains("プレビュー"));
}

#[tokio::test]
async fn admin_manages_users_and_tokens() {
    let w = world().await;
    for user in ["ana", "vic"] {
        let (cookie, token) = session(&w, user).await;
        let (status, _, _) = send(&w.app, "GET", "/admin", &cookie, None, "").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{user}");
        let (status, _, _) = send(
            &w.app,
            "POST",
            "/admin/users",
            &cookie,
            Some(&token),
            "name=x&password=long-enough&role=admin",
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{user}");
    }
    let (cookie, token) = session(&w, "root").await;
    let (status, _, page) = send(&w.app, "GET", "/admin?lang=ja", &cookie, None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("監査ログ") && page.contains("ユーザーを追加"));
    let (status, _, body) = send(
        &w.app,
        "POST",
        "/admin/users",
        &cookie,
        Some(&token),
        "name=newbie&password=short&role=analyst",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _, _) = send(
        &w.app,
        "POST",
        "/admin/users",
        &cookie,
        Some(&token),
        "name=newbie&password=newbie-password&role=analyst",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    login(&w.app, "newbie", "newbie-password").await;
    let (status, _, _) = send(
        &w.app,
        "POST",
        "/admin/users/newbie",
        &cookie,
        Some(&token),
        "disabled=true",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let users = w.store.list_users().await.unwrap();
    assert!(
        users
            .iter()
            .any(|u| u.name == "newbie" && u.disabled && u.role == Role::Analyst)
    );
    let (status, _, _) = send(
        &w.app,
        "POST",
        "/admin/users/newbie",
        &cookie,
        Some(&token),
        "role=viewer",
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, _, body) = send(
        &w.app,
        "POST",
        "/admin/tokens",
        &cookie,
        Some(&token),
        "name=siem&role=viewer&scopes=export&expires_days=30",
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let start = body.find("id=\"secret\">").unwrap() + "id=\"secret\">".len();
    let secret = body[start..].split('<').next().unwrap().to_owned();
    assert!(secret.len() > 40);
    let (_, _, page) = send(&w.app, "GET", "/admin", &cookie, None, "").await;
    assert!(page.contains("siem"));
    assert!(!page.contains(&secret), "the secret is shown once");
    let (status, _, _) = send(
        &w.app,
        "POST",
        "/admin/tokens/siem/revoke",
        &cookie,
        Some(&token),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        w.store
            .list_tokens()
            .await
            .unwrap()
            .iter()
            .any(|t| t.name == "siem" && t.revoked)
    );
    let (status, _, _) = send(
        &w.app,
        "POST",
        "/admin/tokens/siem/revoke",
        &cookie,
        Some(&token),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The writes are in the audit log.
    let (_, _, page) = send(&w.app, "GET", "/admin", &cookie, None, "").await;
    assert!(page.contains("/admin/tokens"), "audited");
}

#[tokio::test]
async fn a_user_changes_their_password_from_the_account_page() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("rexist.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
        .create_user(
            "admin",
            &hash_password("first-password").unwrap(),
            Role::Admin,
        )
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let file = rexist_server::first_admin::password_file(dir.path());
    std::fs::write(&file, "first-password\n").unwrap();
    let app = router(AppState::new(Arc::clone(&store)).with_data_dir(dir.path().to_owned()));

    let cookie = login(&app, "admin", "first-password").await;
    let (status, _, page) = send(&app, "GET", "/account", &cookie, None, "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("id=\"first-password\""), "the notice shows");
    assert!(page.contains("href=\"/account\""), "the header links here");
    let csrf = csrf_of(&page);
    let (_, _, ja) = send(&app, "GET", "/account?lang=ja", &cookie, None, "").await;
    assert!(ja.contains("パスワードの変更"));

    // A wrong current password, different repeats and a short password are
    // refused with a message, and change nothing.
    for (form, says) in [
        (
            "current=nope-nope-nope&password=second-password&repeat=second-password",
            "current password is wrong",
        ),
        (
            "current=first-password&password=second-password&repeat=second-passwort",
            "differ",
        ),
        ("current=first-password&password=short&repeat=short", "8"),
    ] {
        let (status, _, body) = send(
            &app,
            "POST",
            "/account/password",
            &cookie,
            Some(&csrf),
            form,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form}: {body}");
        assert!(body.contains(says), "{form}: {body}");
        assert!(file.exists());
    }
    // Without the CSRF header nothing changes.
    let form = "current=first-password&password=second-password&repeat=second-password";
    let (status, _, _) = send(&app, "POST", "/account/password", &cookie, None, form).await;
    assert_ne!(status, StatusCode::OK);
    assert!(file.exists());

    let (status, headers, body) = send(
        &app,
        "POST",
        "/account/password",
        &cookie,
        Some(&csrf),
        form,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Password changed"), "{body}");
    assert!(!file.exists(), "the first password's file goes with it");
    let fresh = headers[axum::http::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_ne!(fresh, cookie);
    // The old session ended; the fresh one works; the new password logs in.
    let (status, _, _) = send(&app, "GET", "/account", &cookie, None, "").await;
    assert_ne!(status, StatusCode::OK, "the old session is over");
    let (status, _, page) = send(&app, "GET", "/account", &fresh, None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("id=\"first-password\""));
    login(&app, "admin", "second-password").await;
    let audit = store.list_audit(None, 50).await.unwrap();
    assert!(
        audit
            .items
            .iter()
            .any(|a| a.entry.action.contains("/account/password")),
        "the change is audited"
    );
}

#[tokio::test]
async fn admins_define_preview_edit_and_delete_exports_in_the_ui() {
    let w = world().await;
    // Analysts and viewers read; no form, no buttons, no writes.
    for user in ["ana", "vic"] {
        let (cookie, csrf) = session(&w, user).await;
        let (status, _, page) = send(&w.app, "GET", "/exports", &cookie, None, "").await;
        assert_eq!(status, StatusCode::OK);
        assert!(!page.contains("id=\"export-new\""), "{user}");
        let (status, _, _) = send(&w.app, "GET", "/exports/new", &cookie, None, "").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{user}");
        let (status, _, _) = send(
            &w.app,
            "POST",
            "/exports",
            &cookie,
            Some(&csrf),
            "name=sneaky&format=csv",
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{user}");
    }
    assert!(w.store.list_stored_exports().await.unwrap().is_empty());

    let (cookie, csrf) = session(&w, "root").await;
    let (status, _, page) = send(&w.app, "GET", "/exports", &cookie, None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"export-new\""), "{page}");
    assert!(page.contains("data-origin=\"config\""));
    let (status, _, form) = send(&w.app, "GET", "/exports/new?lang=ja", &cookie, None, "").await;
    assert_eq!(status, StatusCode::OK, "{form}");
    assert!(form.contains("新しいエクスポート") && form.contains("name=\"types\""));

    // A draft previews its first rows exactly as the export serves them.
    let draft = "name=&format=edl&types=ipv4&active_only=1";
    let (status, _, preview) = send(
        &w.app,
        "POST",
        "/exports/preview",
        &cookie,
        Some(&csrf),
        draft,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert!(
        preview.contains("192.0.2.1") && preview.contains("(3 "),
        "{preview}"
    );
    // A bad field is named, in the result area.
    let (status, _, bad) = send(
        &w.app,
        "POST",
        "/exports",
        &cookie,
        Some(&csrf),
        "name=ips&format=xml",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        bad.contains("id=\"export-error\"") && bad.contains("format"),
        "{bad}"
    );
    // The configuration's names are its own.
    let (status, _, clash) = send(
        &w.app,
        "POST",
        "/exports",
        &cookie,
        Some(&csrf),
        "name=block-ips&format=csv",
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{clash}");

    let (status, headers, _) = send(
        &w.app,
        "POST",
        "/exports",
        &cookie,
        Some(&csrf),
        "name=ips&format=edl&types=ipv4&description=from+the+ui&active_only=1&min_score=",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["hx-redirect"], "/exports");
    let stored = w.store.stored_export("ips").await.unwrap().unwrap();
    assert_eq!(stored.created_by, "root");
    assert_eq!(stored.definition["types"], serde_json::json!(["ipv4"]));
    let (status, _, served) = send(&w.app, "GET", "/export/ips", &cookie, None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(served.lines().count(), 3, "{served}");
    let (_, _, page) = send(&w.app, "GET", "/exports", &cookie, None, "").await;
    assert!(page.contains("data-origin=\"stored\"") && page.contains("from the ui"));
    assert!(page.contains("href=\"/exports/ips/edit\""), "{page}");
    let (_, _, preview) = send(&w.app, "GET", "/exports/ips/preview", &cookie, None, "").await;
    assert!(preview.contains("192.0.2.3"), "{preview}");

    // Edit: the form holds the stored values; saving replaces them.
    let (status, _, form) = send(&w.app, "GET", "/exports/ips/edit", &cookie, None, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("value=\"from the ui\""), "{form}");
    assert!(form.contains("value=\"ipv4\" checked"), "{form}");
    let (status, _, _) = send(&w.app, "GET", "/exports/block-ips/edit", &cookie, None, "").await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "configured exports are edited in the file"
    );
    let (status, _, _) = send(
        &w.app,
        "PATCH",
        "/exports/ips",
        &cookie,
        Some(&csrf),
        "name=ips&format=csv&types=ipv4",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, served) = send(&w.app, "GET", "/export/ips", &cookie, None, "").await;
    assert!(served.starts_with("type,value,"), "{served}");

    let (status, _, _) = send(&w.app, "DELETE", "/exports/ips", &cookie, Some(&csrf), "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(w.store.stored_export("ips").await.unwrap().is_none());
    let (status, _, _) = send(&w.app, "GET", "/export/ips", &cookie, None, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let audit = w.store.list_audit(None, 100).await.unwrap();
    for action in ["export.create", "export.update", "export.delete"] {
        assert!(
            audit
                .items
                .iter()
                .any(|e| e.entry.action == action && e.entry.actor == "root"),
            "{action}"
        );
    }
}
