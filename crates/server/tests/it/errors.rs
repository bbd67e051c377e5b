//! Every refusal under `/api` has the API's one JSON error body with the
//! right status, and every one under `/taxii2` TAXII's: the router's 404 and
//! 405, the extractors' rejections (a path segment that is not UTF-8, a
//! query that does not parse, a body over the limit), and authentication's.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use rexist_core::Role;
use rexist_server::{AppState, router};
use rexist_store::Store;
use serde_json::Value;
use tower::ServiceExt;

async fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    (store, dir)
}

async fn send(
    app: &axum::Router,
    method: &str,
    uri: &str,
    accept: &str,
    body: Vec<u8>,
) -> (StatusCode, HeaderMap, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, accept)
        .body(Body::from(body))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        panic!(
            "{method} {uri}: {status} is not JSON: {:?}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, headers, json)
}

/// Asserts the API's error body: `{"error": {"code", "message"}}`, nothing else.
fn api_error(what: &str, body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "{what}: a message for people: {body}"
    );
    assert_eq!(
        body.as_object().map(serde_json::Map::len),
        Some(1),
        "{what}: {body}"
    );
}

const JSON: &str = "application/json";

#[tokio::test]
async fn every_api_refusal_has_the_one_json_body_and_its_status() {
    let (store, _dir) = store().await;
    let app = router(AppState::new(store).with_anonymous(Role::Admin));
    let big = {
        let mut b = br#"{"name": "x", "query": ""#.to_vec();
        b.extend(std::iter::repeat_n(b'a', 3 << 20));
        b.extend(br#""}"#);
        b
    };
    for (method, uri, body, status, code) in [
        // a path segment that is not UTF-8
        (
            "GET",
            "/api/v1/hunts/%FF",
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid",
        ),
        (
            "GET",
            "/api/v1/items/%FF%FE",
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid",
        ),
        // a path parameter of the wrong type
        (
            "GET",
            "/api/v1/items/abc",
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid",
        ),
        // a query string that does not parse
        (
            "GET",
            "/api/v1/hits?acked=maybe",
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid",
        ),
        // unknown routes, in v1 and in EXIST's API beside it
        (
            "GET",
            "/api/v1/nothing-here",
            vec![],
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "GET",
            "/api/nothing-here",
            vec![],
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        // a method the route does not take
        (
            "DELETE",
            "/api/v1/indicators",
            vec![],
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            "PUT",
            "/api/reputation/",
            vec![],
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        // JSON that does not parse, and a body over the limit
        (
            "POST",
            "/api/v1/hunts",
            b"{".to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid",
        ),
        (
            "POST",
            "/api/v1/hunts",
            big.clone(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "POST",
            "/api/v1/hunts/test",
            big,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ] {
        let what = format!("{method} {uri}");
        let (got, headers, body) = send(&app, method, uri, JSON, body).await;
        assert_eq!(got, status, "{what}: {body}");
        api_error(&what, &body, code);
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{what}"
        );
        if status == StatusCode::METHOD_NOT_ALLOWED {
            assert!(headers.contains_key(header::ALLOW), "{what}: Allow is kept");
        }
    }
}

#[tokio::test]
async fn authentication_refusals_have_the_one_json_body() {
    let (store, _dir) = store().await;
    let app = router(AppState::new(store));
    for uri in [
        "/api/v1/items",
        "/api/v1/hunts/%FF",
        "/api/v1/nothing-here",
        "/api/news/",
    ] {
        let (status, _, body) = send(&app, "GET", uri, JSON, vec![]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}: {body}");
        api_error(uri, &body, "unauthenticated");
    }
    let (status, _, body) = send(&app, "GET", "/metrics", JSON, vec![]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    api_error("/metrics", &body, "unauthenticated");
}

#[tokio::test]
async fn taxii_refusals_have_the_taxii_error_body() {
    let (store, _dir) = store().await;
    let app = router(AppState::new(store).with_anonymous(Role::Admin));
    let taxii = "application/taxii+json;version=2.1";
    for (method, uri, status) in [
        (
            "GET",
            "/taxii2/api/collections/%FF/",
            StatusCode::BAD_REQUEST,
        ),
        ("GET", "/taxii2/nothing-here/", StatusCode::NOT_FOUND),
        ("PUT", "/taxii2/", StatusCode::METHOD_NOT_ALLOWED),
        (
            "DELETE",
            "/taxii2/api/collections/",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ] {
        let (got, headers, body) = send(&app, method, uri, taxii, vec![]).await;
        assert_eq!(got, status, "{method} {uri}: {body}");
        assert_eq!(
            body["http_status"],
            status.as_u16().to_string(),
            "{method} {uri}: {body}"
        );
        assert!(
            body["title"].is_string() && body["description"].is_string(),
            "{body}"
        );
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/taxii+json"),
            "{method} {uri}"
        );
    }
    // Unauthenticated: TAXII's body too, with the challenge TAXII clients need.
    let (store, _dir) = self::store().await;
    let closed = router(AppState::new(store));
    let (status, headers, body) = send(
        &closed,
        "GET",
        "/taxii2/api/collections/%FF/",
        taxii,
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["http_status"], "401");
    assert!(headers.contains_key(header::WWW_AUTHENTICATE));
}
