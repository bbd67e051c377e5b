//! Security: every route refuses a request without credentials or with too
//! small a role; TLP:RED data never reaches a viewer through any interface;
//! tokens and passwords cannot be recovered from the database; sessions need
//! their CSRF token; token scopes hold; logins and writes are audited.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use http_body_util::BodyExt;
use rexist_core::model::now;
use rexist_core::{
    Indicator, IndicatorType, ItemKind, NewItem, NewSighting, Role, Scope, SourceSpec, Tlp,
};
use rexist_server::admin::{TokenRequest, issue_token};
use rexist_server::auth::hash_password;
use rexist_server::export::ExportConfig;
use rexist_server::{AppState, router};
use rexist_store::Store;
use rexist_store::sqlite::SqliteStore;
use tower::ServiceExt;

const RED_DOMAIN: &str = "red-secret.example";
const RED_TITLE: &str = "Eyes only: red operation";

struct World {
    app: axum::Router,
    store: Arc<dyn Store>,
    dir: tempfile::TempDir,
    viewer: String,
    analyst: String,
    admin: String,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("rexist.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let source = store
        .upsert_source(&SourceSpec {
            name: "intel".into(),
            kind: "file".into(),
            enabled: true,
            confidence: 80,
            tlp: Tlp::Green,
            tags: vec![],
        })
        .await
        .unwrap();
    let mut red = NewSighting::new(
        Indicator::parse(IndicatorType::Domain, RED_DOMAIN).unwrap(),
        now(),
    );
    red.tlp = Some(Tlp::Red);
    let green = NewSighting::new(
        Indicator::parse(IndicatorType::Domain, "green-public.example").unwrap(),
        now(),
    );
    store
        .upsert_sightings(&source, &[red, green])
        .await
        .unwrap();
    let item = |id: &str, title: &str, tlp| NewItem {
        kind: ItemKind::News,
        external_id: id.into(),
        title: title.into(),
        body: format!("{title}: details inside"),
        url: None,
        lang: Some("en".into()),
        published_at: None,
        tlp,
        tags: vec![],
        extra: serde_json::json!({}),
    };
    store
        .upsert_items(
            source.id,
            &[
                item("r", RED_TITLE, Tlp::Red),
                item("g", "Public note", Tlp::Green),
            ],
        )
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let mut tokens = Vec::new();
    for role in Role::ALL {
        let (_, secret) = issue_token(
            store.as_ref(),
            &TokenRequest {
                name: format!("t-{role}"),
                role,
                scopes: vec![],
                expires_days: None,
            },
        )
        .await
        .unwrap();
        tokens.push(secret);
    }
    let exports = ["edl", "stix", "csv", "rpz", "misp"]
        .iter()
        .map(|f| {
            ExportConfig::new(format!("all-{f}"), *f)
                .validate()
                .unwrap()
        })
        .collect();
    let app = router(AppState::new(Arc::clone(&store)).with_exports(exports));
    World {
        app,
        store,
        dir,
        viewer: tokens[0].clone(),
        analyst: tokens[1].clone(),
        admin: tokens[2].clone(),
    }
}

async fn send(
    app: &axum::Router,
    method: &str,
    uri: &str,
    auth: Option<&str>,
    body: Option<serde_json::Value>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .header("accept", "application/taxii+json;version=2.1");
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    let req = req
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

/// Every route, with the least role it needs (`None`: open).
fn routes() -> Vec<(&'static str, String, Option<Role>)> {
    let v = Some(Role::Viewer);
    let an = Some(Role::Analyst);
    let ad = Some(Role::Admin);
    let mut r: Vec<(&str, &str, Option<Role>)> = vec![
        ("GET", "/healthz", None),
        ("GET", "/", v),
        ("GET", "/metrics", ad),
        ("GET", "/api/v1/indicators", v),
        ("GET", "/api/v1/indicators/domain/green-public.example", v),
        ("GET", "/api/v1/items", v),
        ("GET", "/api/v1/items/1", v),
        ("GET", "/api/v1/sources", v),
        ("GET", "/api/v1/sources/intel", v),
        ("GET", "/api/v1/sources/intel/runs", v),
        ("POST", "/api/v1/sources/intel/run", an),
        ("POST", "/api/v1/sources/intel/enable", ad),
        ("POST", "/api/v1/sources/intel/disable", ad),
        ("GET", "/api/v1/runs", v),
        ("GET", "/api/v1/hunts", v),
        ("POST", "/api/v1/hunts", an),
        ("POST", "/api/v1/hunts/test", v),
        ("GET", "/api/v1/hunts/h", v),
        ("PATCH", "/api/v1/hunts/h", an),
        ("DELETE", "/api/v1/hunts/h", an),
        ("POST", "/api/v1/hunts/h/retro", an),
        ("POST", "/api/v1/lookup", v),
        ("GET", "/api/v1/lookup/green-public.example", v),
        ("GET", "/api/v1/hits", v),
        ("POST", "/api/v1/hits/ack", an),
        ("POST", "/api/v1/hits/triage", an),
        ("GET", "/api/v1/hits/1/triage", v),
        ("GET", "/api/v1/alerts", v),
        ("GET", "/api/v1/channels", v),
        ("GET", "/api/v1/me", v),
        ("GET", "/api/v1/users", ad),
        ("POST", "/api/v1/users", ad),
        ("PATCH", "/api/v1/users/nobody", ad),
        ("GET", "/api/v1/tokens", ad),
        ("POST", "/api/v1/tokens", ad),
        ("DELETE", "/api/v1/tokens/nothing", ad),
        ("GET", "/api/v1/audit", ad),
        ("GET", "/api/v1/exports", v),
        ("GET", "/api/v1/exports/edl", v),
        ("POST", "/api/v1/exports", ad),
        ("PUT", "/api/v1/exports/nothing", ad),
        ("PATCH", "/api/v1/exports/nothing", ad),
        ("DELETE", "/api/v1/exports/nothing", ad),
        ("GET", "/export/all-edl", v),
        ("GET", "/export/all-misp/manifest.json", v),
        ("GET", "/api/reputation", v),
        ("GET", "/api/twitter/", v),
        ("GET", "/api/exploit", v),
        ("GET", "/api/threatEvent", v),
        ("GET", "/api/threatAttribute", v),
        ("GET", "/api/news", v),
        ("GET", "/api/vuln", v),
        ("GET", "/taxii2/", v),
        ("GET", "/taxii2/api/", v),
        ("GET", "/taxii2/api/collections/", v),
        ("GET", "/login", None),
        ("GET", "/static/ui/app.css", None),
        ("GET", "/search?q=public", v),
        ("GET", "/lookup?value=green-public.example", v),
        ("GET", "/items/2", v),
        ("GET", "/indicators/domain/green-public.example", v),
        ("GET", "/enrich/domain/green-public.example", v),
        ("POST", "/watchlist", an),
        ("GET", "/hunts", v),
        ("GET", "/hunts/new", an),
        ("POST", "/hunts/preview", v),
        ("POST", "/hunts", an),
        ("GET", "/sources", v),
        ("GET", "/sources/intel", v),
        ("POST", "/sources/intel/run", an),
        ("POST", "/sources/intel/enable", ad),
        ("POST", "/sources/intel/disable", ad),
        ("GET", "/exports", v),
        ("GET", "/exports/all-edl/preview", v),
        ("GET", "/exports/new", ad),
        ("GET", "/exports/nothing/edit", ad),
        ("POST", "/exports", ad),
        ("POST", "/exports/preview", ad),
        ("PATCH", "/exports/nothing", ad),
        ("DELETE", "/exports/nothing", ad),
        ("GET", "/admin", ad),
        ("POST", "/admin/users", ad),
        ("POST", "/admin/tokens", ad),
        ("POST", "/admin/tokens/nothing/revoke", ad),
        ("POST", "/logout", v),
        ("POST", "/channels/soc/test", an),
    ];
    r.sort_by_key(|(_, p, _)| *p);
    r.into_iter()
        .map(|(m, p, role)| (m, p.to_owned(), role))
        .collect()
}

#[tokio::test]
async fn every_route_refuses_missing_credentials_and_small_roles() {
    let w = world().await;
    for (method, path, needed) in routes() {
        let (status, headers, body) = send(&w.app, method, &path, None, None).await;
        if needed.is_none() {
            assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path} is open");
        } else {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
            // Only where clients that cannot log in go: a browser caching basic
            // credentials would send them on cross-site requests.
            let asks = path.starts_with("/taxii2") || path.starts_with("/export/");
            assert_eq!(
                headers.contains_key(header::WWW_AUTHENTICATE),
                asks,
                "{method} {path}: WWW-Authenticate"
            );
        }
        let Some(needed) = needed else { continue };
        for (role, token) in [
            (Role::Viewer, &w.viewer),
            (Role::Analyst, &w.analyst),
            (Role::Admin, &w.admin),
        ] {
            let (status, _, body) = send(&w.app, method, &path, Some(&bearer(token)), None).await;
            if role < needed {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{method} {path} as {role}: {body}"
                );
            } else {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{method} {path} as {role} got {status}: {body}"
                );
            }
        }
    }
    // Bad credentials are refused, not treated as anonymous.
    for auth in ["Bearer rexist_0000", "Basic !!!", "Digest x", "Bearer "] {
        let (status, _, _) = send(&w.app, "GET", "/api/v1/items", Some(auth), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth}");
    }
}

#[tokio::test]
async fn red_data_never_reaches_a_viewer() {
    let w = world().await;
    // The admin sees it, so the checks below are not vacuous.
    let (_, _, body) = send(
        &w.app,
        "GET",
        "/api/v1/indicators",
        Some(&bearer(&w.admin)),
        None,
    )
    .await;
    assert!(body.contains(RED_DOMAIN));
    let (_, _, taxii) = send(
        &w.app,
        "GET",
        "/taxii2/api/collections/",
        Some(&bearer(&w.viewer)),
        None,
    )
    .await;
    let collections: serde_json::Value = serde_json::from_str(&taxii).unwrap();
    let mut uris: Vec<(String, Option<serde_json::Value>)> = [
        "/api/v1/indicators",
        "/api/v1/indicators?prefix=red",
        "/api/v1/indicators/domain/red-secret.example",
        "/api/v1/items",
        "/api/v1/items?q=red",
        "/api/v1/items/1",
        "/api/v1/items/2",
        "/api/v1/lookup/red-secret.example",
        "/api/v1/exports/stix",
        "/api/v1/exports/csv",
        "/api/v1/exports/jsonl",
        "/api/v1/exports/edl?active=false",
        "/export/all-edl",
        "/export/all-stix",
        "/export/all-csv",
        "/export/all-rpz",
        "/export/all-misp/manifest.json",
        "/export/all-misp/hashes.csv",
        "/api/reputation",
        "/api/reputation?search=red",
        "/api/news",
        "/api/news?search=Eyes",
        "/",
        "/search?q=Eyes",
        "/search?q=red",
        "/items/1",
        "/indicators/domain/red-secret.example",
        "/exports/all-csv/preview",
        "/hunts/new",
    ]
    .iter()
    .map(|u| ((*u).to_owned(), None))
    .collect();
    uris.push((
        "/api/v1/lookup".to_owned(),
        Some(serde_json::json!({"values": [RED_DOMAIN]})),
    ));
    for c in collections["collections"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        uris.push((format!("/taxii2/api/collections/{id}/objects/"), None));
        uris.push((format!("/taxii2/api/collections/{id}/manifest/"), None));
    }
    for (uri, body) in uris {
        let method = if body.is_some() { "POST" } else { "GET" };
        let (status, _, text) = send(&w.app, method, &uri, Some(&bearer(&w.viewer)), body).await;
        assert!(status.as_u16() < 500, "{uri}: {status}");
        // A value the caller sent comes back as the question, never with an answer.
        let asked = uri.contains("red-secret") || uri == "/api/v1/lookup";
        if uri.starts_with("/api/v1/indicators/domain/") || uri.starts_with("/indicators/") {
            assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {text}");
            assert!(!text.contains("intel"), "{uri} names the source: {text}");
        } else if asked {
            assert!(text.contains("\"known\":false"), "{uri}: {text}");
            assert!(!text.contains("intel"), "{uri} names the source: {text}");
        } else {
            assert!(
                !text.contains(RED_DOMAIN),
                "{uri} leaked the red indicator: {text}"
            );
        }
        assert!(
            !text.contains(RED_TITLE),
            "{uri} leaked the red item: {text}"
        );
        if uri.starts_with("/api/v1/lookup") {
            assert!(!text.contains("\"known\":true"), "{uri}: {text}");
        }
    }
    // MISP event files of the feed are covered by the manifest's uuids.
    let (_, _, manifest) = send(
        &w.app,
        "GET",
        "/export/all-misp/manifest.json",
        Some(&bearer(&w.viewer)),
        None,
    )
    .await;
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    for uuid in manifest.as_object().unwrap().keys() {
        let (_, _, event) = send(
            &w.app,
            "GET",
            &format!("/export/all-misp/{uuid}.json"),
            Some(&bearer(&w.viewer)),
            None,
        )
        .await;
        assert!(event.contains("green-public.example"));
        assert!(!event.contains(RED_DOMAIN));
    }
}

#[tokio::test]
async fn secrets_cannot_be_recovered_from_the_database() {
    let w = world().await;
    let password = "correct horse battery staple";
    w.store
        .create_user("alice", &hash_password(password).unwrap(), Role::Analyst)
        .await
        .unwrap();
    // A login leaves a session secret in a cookie; that must not be stored either.
    let (status, headers, _) = send(
        &w.app,
        "POST",
        "/api/v1/login",
        None,
        Some(serde_json::json!({"user": "alice", "password": password})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let cookie = headers[header::SET_COOKIE].to_str().unwrap().to_owned();
    let session = cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    drop(w.app);
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(w.dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let text = String::from_utf8_lossy(&bytes);
    for secret in [&w.viewer, &w.analyst, &w.admin, &session] {
        let tail = &secret[secret.len() - 40..];
        assert!(!text.contains(tail), "a token's secret is in the database");
    }
    assert!(!text.contains(password), "a password is in the database");
    assert!(text.contains("$argon2id$"), "passwords are argon2id hashes");
}

#[tokio::test]
async fn sessions_need_csrf_and_end_on_logout() {
    let w = world().await;
    w.store
        .create_user(
            "bob",
            &hash_password("bob-password-1").unwrap(),
            Role::Analyst,
        )
        .await
        .unwrap();
    let (status, _, _) = send(
        &w.app,
        "POST",
        "/api/v1/login",
        None,
        Some(serde_json::json!({"user": "bob", "password": "wrong-password"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, headers, body) = send(
        &w.app,
        "POST",
        "/api/v1/login",
        None,
        Some(serde_json::json!({"user": "bob", "password": "bob-password-1"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let set = headers[header::SET_COOKIE].to_str().unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(set.contains(attr), "cookie lacks {attr}: {set}");
    }
    let cookie = set.split(';').next().unwrap().to_owned();
    let csrf = serde_json::from_str::<serde_json::Value>(&body).unwrap()["csrf"]
        .as_str()
        .unwrap()
        .to_owned();
    let with_cookie = |method: &str, uri: &str, csrf: Option<&str>| {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .header(header::COOKIE, &cookie);
        if let Some(c) = csrf {
            req = req.header("x-csrf-token", c);
        }
        req.body(Body::from(
            serde_json::json!({"name": "h1", "query": "emotet"}).to_string(),
        ))
        .unwrap()
    };
    let res = w
        .app
        .clone()
        .oneshot(with_cookie("GET", "/api/v1/me", None))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = w
        .app
        .clone()
        .oneshot(with_cookie("POST", "/api/v1/hunts", None))
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "a write without CSRF token"
    );
    let res = w
        .app
        .clone()
        .oneshot(with_cookie("POST", "/api/v1/hunts", Some("forged")))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = w
        .app
        .clone()
        .oneshot(with_cookie("POST", "/api/v1/hunts", Some(&csrf)))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = w
        .app
        .clone()
        .oneshot(with_cookie("POST", "/api/v1/logout", Some(&csrf)))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = w
        .app
        .clone()
        .oneshot(with_cookie("GET", "/api/v1/me", None))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "the session ended");

    // Basic auth with a password; a disabled user is refused everywhere.
    let basic = |user: &str, password: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    };
    let (status, _, body) = send(
        &w.app,
        "GET",
        "/api/v1/me",
        Some(&basic("bob", "bob-password-1")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("\"analyst\""));
    w.store
        .update_user(
            "bob",
            &rexist_store::UserChange {
                disabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (status, _, _) = send(
        &w.app,
        "GET",
        "/api/v1/me",
        Some(&basic("bob", "bob-password-1")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The audit log has the logins, the failure and the write, with actors.
    let (_, _, audit) = send(
        &w.app,
        "GET",
        "/api/v1/audit?limit=100",
        Some(&bearer(&w.admin)),
        None,
    )
    .await;
    let audit: serde_json::Value = serde_json::from_str(&audit).unwrap();
    let actions: Vec<(String, String, String)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("bob", "login.failed", "401"),
        ("bob", "login", "ok"),
        ("bob", "POST /api/v1/hunts", "201"),
    ] {
        assert!(
            actions
                .iter()
                .any(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()) == expected),
            "{expected:?} not in {actions:?}"
        );
    }
}

#[tokio::test]
async fn token_scopes_and_tokens_in_urls() {
    let w = world().await;
    let (_, export_only) = issue_token(
        w.store.as_ref(),
        &TokenRequest {
            name: "firewall".into(),
            role: Role::Viewer,
            scopes: vec![Scope::Export],
            expires_days: None,
        },
    )
    .await
    .unwrap();
    let (status, _, body) = send(
        &w.app,
        "GET",
        "/export/all-edl",
        Some(&bearer(&export_only)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("green-public.example"));
    let (status, _, _) = send(
        &w.app,
        "GET",
        "/api/v1/items",
        Some(&bearer(&export_only)),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an export token is not an API token"
    );
    let (status, _, _) = send(
        &w.app,
        "GET",
        "/taxii2/api/",
        Some(&bearer(&export_only)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Firewalls put the token in the URL or in basic auth's password.
    let (status, _, _) = send(
        &w.app,
        "GET",
        &format!("/export/all-edl?token={export_only}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("fw:{export_only}"))
    );
    let (status, _, _) = send(&w.app, "GET", "/export/all-edl", Some(&basic), None).await;
    assert_eq!(status, StatusCode::OK);
    // A token in the URL works for exports only.
    let (status, _, _) = send(
        &w.app,
        "GET",
        &format!("/api/v1/items?token={}", w.admin),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The exports *pages* of the UI are not export files: neither an
    // export-scoped token nor a token in the URL opens them.
    for path in [
        "/exports",
        "/exportsx",
        "/exports/all-edl",
        "/",
        "/api/v1/exports",
        "/api/v1/exports/edl",
        "/api/v1/indicators",
        "/metrics",
    ] {
        let (status, _, _) = send(&w.app, "GET", path, Some(&bearer(&export_only)), None).await;
        assert!(
            matches!(status, StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED),
            "{path} with an export token: {status}"
        );
        let (status, _, _) = send(
            &w.app,
            "GET",
            &format!("{path}?token={export_only}"),
            None,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}?token=");
    }
    // Revoked tokens stop at once.
    w.store.revoke_token("token", "firewall").await.unwrap();
    let (status, _, _) = send(
        &w.app,
        "GET",
        "/export/all-edl",
        Some(&bearer(&export_only)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn guessing_is_throttled_and_cross_site_writes_refused() {
    let w = world().await;
    w.store
        .create_user(
            "carol",
            &hash_password("carol-password").unwrap(),
            Role::Analyst,
        )
        .await
        .unwrap();
    let basic = |user: &str, password: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    };
    for _ in 0..5 {
        let (status, _, _) = send(
            &w.app,
            "GET",
            "/api/v1/me",
            Some(&basic("carol", "guess")),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _, body) = send(
        &w.app,
        "GET",
        "/api/v1/me",
        Some(&basic("carol", "guess")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("too many failed logins; try again"), "{body}");
    // Even the right password waits until the back-off has passed.
    let (status, _, body) = send(
        &w.app,
        "GET",
        "/api/v1/me",
        Some(&basic("carol", "carol-password")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("too many failed logins"), "{body}");

    // A write another site makes is refused whatever the credentials.
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/sources/intel/run")
        .header(header::AUTHORIZATION, bearer(&w.admin))
        .header(header::ORIGIN, "https://evil.example")
        .header(header::HOST, "rexist.example")
        .body(Body::empty())
        .unwrap();
    let res = w.app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/sources/intel/run")
        .header(header::AUTHORIZATION, bearer(&w.admin))
        .header(header::ORIGIN, "http://rexist.example")
        .header(header::HOST, "rexist.example")
        .body(Body::empty())
        .unwrap();
    let res = w.app.clone().oneshot(req).await.unwrap();
    assert_ne!(
        res.status(),
        StatusCode::FORBIDDEN,
        "same-origin writes pass"
    );

    // A token pasted as the user name works and never reaches the audit log.
    let (status, _, _) = send(
        &w.app,
        "GET",
        "/api/v1/me",
        Some(&basic(&w.viewer, "")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // A full-power token in a URL is refused; an export-only one is fine.
    let (status, _, _) = send(
        &w.app,
        "GET",
        &format!("/export/all-edl?token={}", w.admin),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A scoped token cannot read pages outside its scope.
    let (_, export_only) = issue_token(
        w.store.as_ref(),
        &TokenRequest {
            name: "fw2".into(),
            role: Role::Admin,
            scopes: vec![Scope::Export],
            expires_days: None,
        },
    )
    .await
    .unwrap();
    for path in ["/", "/metrics"] {
        let (status, _, _) = send(&w.app, "GET", path, Some(&bearer(&export_only)), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    // Hostile input where a date is expected is a 400, not a dropped connection.
    let (status, _, _) = send(
        &w.app,
        "GET",
        "/api/news/?datetime_after=2024-01-0%E3%81%82",
        Some(&bearer(&w.viewer)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn exports_name_only_the_sources_a_reader_may_see() {
    let w = world().await;
    let partner = w
        .store
        .upsert_source(&SourceSpec {
            name: "red-partner".into(),
            kind: "file".into(),
            enabled: true,
            confidence: 90,
            tlp: Tlp::Red,
            tags: vec![],
        })
        .await
        .unwrap();
    let mut s = NewSighting::new(
        Indicator::parse(IndicatorType::Domain, "green-public.example").unwrap(),
        now(),
    );
    s.labels = vec!["victim:bank-x".into()];
    w.store.upsert_sightings(&partner, &[s]).await.unwrap();
    for uri in [
        "/export/all-csv",
        "/export/all-stix",
        "/export/all-misp/manifest.json",
    ] {
        let (_, _, viewer) = send(&w.app, "GET", uri, Some(&bearer(&w.viewer)), None).await;
        assert!(
            viewer.contains("green-public.example") || uri.contains("misp"),
            "{uri}: {viewer}"
        );
        assert!(
            !viewer.contains("red-partner") && !viewer.contains("bank-x"),
            "{uri}: {viewer}"
        );
    }
    let (_, _, admin) = send(
        &w.app,
        "GET",
        "/export/all-csv",
        Some(&bearer(&w.admin)),
        None,
    )
    .await;
    assert!(
        admin.contains("red-partner") && admin.contains("victim:bank-x"),
        "{admin}"
    );
}

#[tokio::test]
async fn exports_leave_out_what_every_source_withdrew() {
    let w = world().await;
    let spec = |name: &str| SourceSpec {
        name: name.into(),
        kind: "file".into(),
        enabled: true,
        confidence: 80,
        tlp: Tlp::Clear,
        tags: vec![],
    };
    let quitter = w.store.upsert_source(&spec("quitter")).await.unwrap();
    let stayer = w.store.upsert_source(&spec("stayer")).await.unwrap();
    let domain = |v: &str, label: &str| {
        let mut s = NewSighting::new(Indicator::parse(IndicatorType::Domain, v).unwrap(), now());
        s.labels = vec![label.into()];
        s
    };
    w.store
        .upsert_sightings(
            &quitter,
            &[
                domain("withdrawn.example", "q-label"),
                domain("kept.example", "q-label"),
            ],
        )
        .await
        .unwrap();
    w.store
        .upsert_sightings(&stayer, &[domain("kept.example", "s-label")])
        .await
        .unwrap();
    let retract = |v: &str| rexist_core::Retraction {
        indicator: Indicator::parse(IndicatorType::Domain, v).unwrap(),
        reason: rexist_core::RetractReason::Revoked,
        at: now(),
    };
    w.store
        .retire_sightings(
            &quitter,
            &[retract("withdrawn.example"), retract("kept.example")],
        )
        .await
        .unwrap();
    for uri in [
        "/export/all-csv",
        "/export/all-stix",
        "/export/all-edl",
        "/export/all-rpz",
        "/export/all-misp/manifest.json",
    ] {
        let (status, _, body) = send(&w.app, "GET", uri, Some(&bearer(&w.admin)), None).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(!body.contains("withdrawn.example"), "{uri}: {body}");
        assert!(
            !body.contains("quitter") && !body.contains("q-label"),
            "{uri} names only unretired sightings: {body}"
        );
    }
    let (_, _, csv) = send(
        &w.app,
        "GET",
        "/export/all-csv",
        Some(&bearer(&w.admin)),
        None,
    )
    .await;
    let line = csv
        .lines()
        .find(|l| l.contains("kept.example"))
        .unwrap_or_else(|| panic!("still active through another source: {csv}"));
    assert!(
        line.contains("stayer") && line.contains("s-label"),
        "{line}"
    );
}

#[tokio::test]
async fn hits_on_red_objects_are_not_listed_to_a_viewer() {
    use rexist_core::{HitObject, HuntKind, HuntSpec, NewHit};
    let w = world().await;
    let hunt = w
        .store
        .create_hunt(&HuntSpec {
            name: "eyes".into(),
            kind: HuntKind::Query,
            definition: "eyes".into(),
            enabled: true,
            channels: vec![],
            digest_secs: None,
            tlp: rexist_core::HuntSpec::DEFAULT_TLP,
        })
        .await
        .unwrap();
    let red = w
        .store
        .search_items(&rexist_store::ItemQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|i| i.content.tlp == Tlp::Red)
        .unwrap();
    w.store
        .record_hits(&[NewHit {
            hunt: hunt.id,
            object: HitObject::Item(red.id),
            terms: vec!["eyes".into()],
            retro: false,
        }])
        .await
        .unwrap();
    let count = |body: &str| {
        serde_json::from_str::<serde_json::Value>(body).unwrap()["items"]
            .as_array()
            .unwrap()
            .len()
    };
    let (_, _, admin) = send(&w.app, "GET", "/api/v1/hits", Some(&bearer(&w.admin)), None).await;
    assert_eq!(count(&admin), 1);
    let (_, _, viewer) = send(
        &w.app,
        "GET",
        "/api/v1/hits",
        Some(&bearer(&w.viewer)),
        None,
    )
    .await;
    assert_eq!(count(&viewer), 0, "{viewer}");
    let (_, _, page) = send(&w.app, "GET", "/hunts/eyes", Some(&bearer(&w.viewer)), None).await;
    assert!(!page.contains(&format!("item {}", red.id)), "{page}");
    let (_, _, page) = send(&w.app, "GET", "/", Some(&bearer(&w.viewer)), None).await;
    assert!(
        !page.contains("id=\"hits\""),
        "the dashboard lists no hit: {page}"
    );
}

#[tokio::test]
async fn metrics_need_the_metrics_scope_or_admin() {
    let w = world().await;
    let (_, scraper) = issue_token(
        w.store.as_ref(),
        &TokenRequest {
            name: "prometheus".into(),
            role: Role::Viewer,
            scopes: vec![Scope::Metrics],
            expires_days: None,
        },
    )
    .await
    .unwrap();
    // Store-wide counts cover TLP:RED: a viewer's or analyst's token is refused.
    for token in [&w.viewer, &w.analyst] {
        let (status, _, body) = send(&w.app, "GET", "/metrics", Some(&bearer(token)), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let error: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["error"]["code"], "forbidden");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("metrics scope"),
            "{body}"
        );
    }
    for token in [&w.admin, &scraper] {
        let (status, _, body) = send(&w.app, "GET", "/metrics", Some(&bearer(token)), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // Totals only: the count includes the RED domain, nothing names it.
        assert!(
            body.contains("rexist_indicators{type=\"domain\"} 2"),
            "{body}"
        );
        assert!(
            !body.contains(RED_DOMAIN) && !body.contains("tlp"),
            "{body}"
        );
    }
    // The scraper's token opens /metrics and nothing else.
    for path in ["/api/v1/items", "/", "/taxii2/", "/export/all-edl"] {
        let (status, _, _) = send(&w.app, "GET", path, Some(&bearer(&scraper)), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    // Not in a URL: only export files take a token there.
    let (status, _, _) = send(
        &w.app,
        "GET",
        &format!("/metrics?token={scraper}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn hunts_above_a_clearance_are_invisible_with_their_hits() {
    use rexist_core::{HitObject, NewHit};
    let w = world().await;
    let app = router(AppState::new(Arc::clone(&w.store)).with_channels(vec!["soc".into()]));
    let json = |body: &str| serde_json::from_str::<serde_json::Value>(body).unwrap();
    // An analyst (cleared to AMBER+STRICT) cannot mark a hunt RED …
    let (status, _, body) = send(
        &app,
        "POST",
        "/api/v1/hunts",
        Some(&bearer(&w.analyst)),
        Some(serde_json::json!({"name": "too-high", "query": "eyes", "tlp": "red"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(json(&body)["error"]["code"], "forbidden");
    // … and gets AMBER by default.
    let (status, _, body) = send(
        &app,
        "POST",
        "/api/v1/hunts",
        Some(&bearer(&w.analyst)),
        Some(serde_json::json!({"name": "amber-hunt", "query": "public"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(json(&body)["tlp"], "amber");
    // An admin's RED hunt watches a GREEN indicator, and alerts.
    let (status, _, body) = send(
        &app,
        "POST",
        "/api/v1/hunts",
        Some(&bearer(&w.admin)),
        Some(serde_json::json!({
            "name": "red-watch", "watch": "domain:green-public.example",
            "channels": ["soc"], "tlp": "red"
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(json(&body)["tlp"], "red");
    let amber = w.store.hunt_by_name("amber-hunt").await.unwrap().unwrap();
    let red = w.store.hunt_by_name("red-watch").await.unwrap().unwrap();
    assert_eq!(red.spec.tlp, Tlp::Red);
    let green_item = w
        .store
        .search_items(&rexist_store::ItemQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|i| i.content.tlp == Tlp::Green)
        .unwrap();
    let green_ind = w
        .store
        .indicator(IndicatorType::Domain, "green-public.example")
        .await
        .unwrap()
        .unwrap();
    w.store
        .record_hits(&[
            NewHit {
                hunt: amber.id,
                object: HitObject::Item(green_item.id),
                terms: vec!["public".into()],
                retro: false,
            },
            NewHit {
                hunt: red.id,
                object: HitObject::Indicator(green_ind.id),
                terms: vec!["domain:green-public.example".into()],
                retro: false,
            },
        ])
        .await
        .unwrap();
    let names = |body: &str| -> Vec<String> {
        json(body)
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let count = |body: &str| json(body)["items"].as_array().unwrap().len();
    for (who, token, hunts, hits, alerts) in [
        ("viewer", &w.viewer, vec![], 0, 0),
        ("analyst", &w.analyst, vec!["amber-hunt"], 1, 0),
        ("admin", &w.admin, vec!["amber-hunt", "red-watch"], 2, 1),
    ] {
        let auth = Some(bearer(token));
        let (_, _, body) = send(&app, "GET", "/api/v1/hunts", auth.as_deref(), None).await;
        assert_eq!(names(&body), hunts, "{who}: hunts");
        let (_, _, body) = send(&app, "GET", "/api/v1/hits", auth.as_deref(), None).await;
        assert_eq!(count(&body), hits, "{who}: hits {body}");
        let (_, _, body) = send(&app, "GET", "/api/v1/alerts", auth.as_deref(), None).await;
        assert_eq!(count(&body), alerts, "{who}: alerts {body}");
        for name in ["amber-hunt", "red-watch"] {
            let seen = hunts.contains(&name);
            let (status, _, body) = send(
                &app,
                "GET",
                &format!("/api/v1/hunts/{name}"),
                auth.as_deref(),
                None,
            )
            .await;
            let want = if seen {
                StatusCode::OK
            } else {
                StatusCode::NOT_FOUND
            };
            assert_eq!(status, want, "{who}: GET {name}: {body}");
            let (status, _, _) = send(
                &app,
                "GET",
                &format!("/api/v1/hits?hunt={name}"),
                auth.as_deref(),
                None,
            )
            .await;
            assert_eq!(status, want, "{who}: hits of {name}");
            let (_, _, page) = send(&app, "GET", "/hunts", auth.as_deref(), None).await;
            assert_eq!(page.contains(name), seen, "{who}: /hunts lists {name}");
        }
        // The lookup names the hunts that matched only when the reader sees them.
        let (_, _, body) = send(
            &app,
            "GET",
            "/api/v1/lookup/green-public.example",
            auth.as_deref(),
            None,
        )
        .await;
        let matched = json(&body)["hunts"].as_array().unwrap().len();
        assert_eq!(matched, usize::from(who == "admin"), "{who}: lookup {body}");
    }
    // The analyst may not touch the RED hunt, nor acknowledge its hits.
    let (status, _, _) = send(
        &app,
        "PATCH",
        "/api/v1/hunts/red-watch",
        Some(&bearer(&w.analyst)),
        Some(serde_json::json!({"enabled": false})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let red_hit = w
        .store
        .list_hits(&rexist_store::HitQuery {
            hunt: Some(red.id),
            ..Default::default()
        })
        .await
        .unwrap()
        .items[0]
        .id;
    let (status, _, body) = send(
        &app,
        "POST",
        "/api/v1/hits/ack",
        Some(&bearer(&w.analyst)),
        Some(serde_json::json!({"ids": [red_hit.get()]})),
    )
    .await;
    assert_eq!(
        (status, json(&body)["acked"].as_u64()),
        (StatusCode::OK, Some(0))
    );
    let (_, _, body) = send(
        &app,
        "POST",
        "/api/v1/hits/ack",
        Some(&bearer(&w.analyst)),
        Some(serde_json::json!({"all": true})),
    )
    .await;
    assert_eq!(json(&body)["acked"], 1, "only the AMBER hunt's hit: {body}");
    let unacked = w
        .store
        .list_hits(&rexist_store::HitQuery {
            acked: Some(false),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(unacked.len(), 1);
    assert_eq!(unacked[0].hunt_id, red.id);
}
