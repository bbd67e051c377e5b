//! The web UI's foundation: the login page and form, the redirect of a
//! browser without a session, the dashboard in English and Japanese, and
//! the embedded assets.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use rexist_core::Role;
use rexist_server::auth::hash_password;
use rexist_server::{AppState, router};
use rexist_store::Store;
use rexist_store::sqlite::SqliteStore;
use tower::ServiceExt;

async fn app() -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("rexist.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
        .create_user(
            "ana",
            &hash_password("ana-password").unwrap(),
            Role::Analyst,
        )
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    (router(AppState::new(store)), dir)
}

async fn get(
    app: &axum::Router,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::builder().uri(uri);
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
    (status, h, String::from_utf8(body.to_vec()).unwrap())
}

/// Logs in through the form; the session cookie.
pub async fn login(app: &axum::Router, user: &str, password: &str) -> String {
    let res = app
        .clone()
        .oneshot(
            Request::post("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!(
                    "user={user}&password={password}&next=%2Fhunts"
                )))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/hunts");
    res.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_browser_logs_in_and_sees_the_dashboard_in_its_language() {
    let (app, _dir) = app().await;
    let html = [("accept", "text/html,application/xhtml+xml")];
    let (status, headers, _) = get(&app, "/?x=1", &html).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "a browser is sent to log in");
    assert_eq!(headers[header::LOCATION], "/login?next=/%3Fx%3D1");
    let (status, _, _) = get(&app, "/", &[]).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a script is told, not redirected"
    );

    let (status, _, page) = get(&app, "/login", &[("accept-language", "ja,en;q=0.5")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("ユーザー名") && page.contains("<html lang=\"ja\">"),
        "{page}"
    );

    let res = app
        .clone()
        .oneshot(
            Request::post("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("user=ana&password=wrong&next=%2F"))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let cookie = login(&app, "ana", "ana-password").await;
    let (status, headers, page) = get(&app, "/", &[("cookie", &cookie)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_LANGUAGE], "en");
    assert!(
        page.contains("Dashboard") && page.contains("ana (analyst)"),
        "{page}"
    );
    assert!(
        page.contains("X-CSRF-Token"),
        "htmx requests carry the CSRF token"
    );

    let (_, headers, page) = get(&app, "/?lang=ja", &[("cookie", &cookie)]).await;
    assert!(page.contains("ダッシュボード"), "{page}");
    let remembered = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(remembered.starts_with("rexist_lang=ja"), "{remembered}");
    let both = format!("{cookie}; rexist_lang=ja");
    let (_, _, page) = get(&app, "/", &[("cookie", &both)]).await;
    assert!(page.contains("ダッシュボード"), "the choice is remembered");
}

#[tokio::test]
async fn assets_are_served_from_the_binary_without_credentials() {
    let (app, _dir) = app().await;
    for (path, kind) in [
        ("/static/ui/app.css", "text/css"),
        ("/static/ui/app.js", "text/javascript"),
        ("/static/vendor/htmx-2.0.11/htmx.min.js", "text/javascript"),
    ] {
        let (status, headers, body) = get(&app, path, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        assert!(!body.is_empty());
    }
    let (status, _, _) = get(&app, "/static/../Cargo.toml", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Sends `method uri` with a session cookie and a form body; with `csrf`, as
/// htmx does (`HX-Request` and the page's `X-CSRF-Token`). Status, headers,
/// body.
pub async fn send(
    app: &axum::Router,
    method: &str,
    uri: &str,
    cookie: &str,
    csrf: Option<&str>,
    form: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::COOKIE, cookie)
        .header(header::HOST, "intel.example:8080");
    if let Some(token) = csrf {
        req = req
            .header("hx-request", "true")
            .header("x-csrf-token", token)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::from(form.to_owned())).unwrap())
        .await
        .unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

/// The CSRF token base.html puts in `hx-headers`.
pub fn csrf_of(page: &str) -> String {
    let start = page.find("\"X-CSRF-Token\": \"").unwrap() + "\"X-CSRF-Token\": \"".len();
    page[start..].split('"').next().unwrap().to_owned()
}
