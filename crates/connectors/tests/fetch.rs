//! The fetcher against a loopback server that misbehaves on purpose: 304s,
//! 5xx then recovery, 429 with `Retry-After`, oversized, truncated and stalled
//! bodies. Every failure is a clear error; credentials never show in one.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::sync::atomic::Ordering;
use std::time::Duration;

use rexist_connectors::http::{FetchError, FetchOptions, Fetched, Fetcher};

async fn serve<F>(respond: F) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>)
where
    F: Fn(&str, usize, &str) -> (Vec<u8>, Duration) + Send + Sync + 'static,
{
    let upstream = rexist_testkit::serve(respond).await;
    (upstream.base, upstream.hits)
}

fn response(status: &str, headers: &str, body: &str) -> Vec<u8> {
    rexist_testkit::response(status, headers, body.as_bytes())
}

fn fast() -> FetchOptions {
    FetchOptions {
        timeout: Duration::from_secs(2),
        max_bytes: 1024,
        retries: 3,
        backoff: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(2),
        per_host: 2,
        // Tiny, so bodies in these tests also take the on-disk path.
        spool_above: 64,
    }
}

#[tokio::test]
async fn conditional_get_gives_not_modified() {
    let (base, _) = serve(|_, _, request| {
        if request.contains("If-None-Match: \"v1\"") || request.contains("if-none-match: \"v1\"") {
            (response("304 Not Modified", "", ""), Duration::ZERO)
        } else {
            (
                response(
                    "200 OK",
                    "ETag: \"v1\"\r\nLast-Modified: Tue, 24 Nov 2026 10:00:00 GMT\r\n",
                    "192.0.2.1\n",
                ),
                Duration::ZERO,
            )
        }
    })
    .await;
    let fetcher = Fetcher::new(fast()).unwrap();
    let Fetched::Body(body) = fetcher
        .get(&format!("{base}/list.txt"), &[], None)
        .await
        .unwrap()
    else {
        panic!("first fetch has a body");
    };
    assert_eq!(body.bytes, b"192.0.2.1\n");
    assert_eq!(body.validators.etag.as_deref(), Some("\"v1\""));
    let again = fetcher
        .get(&format!("{base}/list.txt"), &[], Some(&body.validators))
        .await
        .unwrap();
    assert_eq!(again, Fetched::NotModified);
}

#[tokio::test]
async fn server_errors_are_retried_until_recovery() {
    let (base, hits) = serve(|_, n, _| {
        if n < 3 {
            (
                response("503 Service Unavailable", "", "busy"),
                Duration::ZERO,
            )
        } else {
            (response("200 OK", "", "ok"), Duration::ZERO)
        }
    })
    .await;
    let fetched = Fetcher::new(fast())
        .unwrap()
        .get(&format!("{base}/a"), &[], None)
        .await
        .unwrap();
    assert!(matches!(fetched, Fetched::Body(b) if b.bytes == b"ok"));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        4,
        "three failures, then success"
    );
}

#[tokio::test]
async fn persistent_failure_ends_with_the_status() {
    let (base, hits) = serve(|_, _, _| {
        (
            response("500 Internal Server Error", "", "no"),
            Duration::ZERO,
        )
    })
    .await;
    let err = Fetcher::new(fast())
        .unwrap()
        .get(&format!("{base}/a?key=s3cret"), &[], None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Status { status: 500, .. }),
        "{err}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 4, "one try and three retries");
    let shown = err.to_string();
    assert!(
        !shown.contains("s3cret") && shown.contains("key=***"),
        "{shown}"
    );
    let (base, hits) = serve(|_, _, _| (response("404 Not Found", "", ""), Duration::ZERO)).await;
    let err = Fetcher::new(fast())
        .unwrap()
        .get(&format!("{base}/gone"), &[], None)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Status { status: 404, .. }));
    assert_eq!(hits.load(Ordering::SeqCst), 1, "a 404 is not retried");
}

#[tokio::test]
async fn retry_after_is_honoured_or_reported() {
    let (base, hits) = serve(|path, n, _| match (path, n) {
        ("/soon", 0) => (
            response("429 Too Many Requests", "Retry-After: 1\r\n", ""),
            Duration::ZERO,
        ),
        ("/soon", _) => (response("200 OK", "", "ok"), Duration::ZERO),
        _ => (
            response("429 Too Many Requests", "Retry-After: 3600\r\n", ""),
            Duration::ZERO,
        ),
    })
    .await;
    let fetcher = Fetcher::new(fast()).unwrap();
    let started = std::time::Instant::now();
    assert!(matches!(
        fetcher
            .get(&format!("{base}/soon"), &[], None)
            .await
            .unwrap(),
        Fetched::Body(_)
    ));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited as asked"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    let err = fetcher
        .get(&format!("{base}/later"), &[], None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        FetchError::RateLimited {
            url: format!("{base}/later"),
            seconds: 3600
        }
    );
}

#[tokio::test]
async fn oversized_truncated_and_stalled_bodies_fail_clearly() {
    let (base, _) = serve(|path, _, _| match path {
        "/big" => (response("200 OK", "", &"x".repeat(2048)), Duration::ZERO),
        "/truncated" => (
            b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\nConnection: close\r\n\r\n192.0.2.1\n"
                .to_vec(),
            Duration::ZERO,
        ),
        _ => (response("200 OK", "", "late"), Duration::from_secs(5)),
    })
    .await;
    let fetcher = Fetcher::new(FetchOptions {
        retries: 0,
        timeout: Duration::from_millis(500),
        ..fast()
    })
    .unwrap();
    let err = fetcher
        .get(&format!("{base}/big"), &[], None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, FetchError::TooLarge { limit: 1024, .. }),
        "{err}"
    );
    let err = fetcher
        .get(&format!("{base}/truncated"), &[], None)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Broken { .. }), "{err}");
    let err = fetcher
        .get(&format!("{base}/slow"), &[], None)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn credentials_travel_in_headers_only() {
    let (base, _) = serve(|_, _, request| {
        let ok = request
            .to_ascii_lowercase()
            .contains("auth-key: s3cret-key");
        (
            response(if ok { "200 OK" } else { "401 Unauthorized" }, "", "ok"),
            Duration::ZERO,
        )
    })
    .await;
    let fetcher = Fetcher::new(fast()).unwrap();
    let headers = vec![("Auth-Key".to_owned(), "s3cret-key".to_owned())];
    assert!(
        fetcher
            .get(&format!("{base}/api"), &headers, None)
            .await
            .is_ok()
    );
    let err = fetcher
        .get(&format!("{base}/api"), &[], None)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Status { status: 401, .. }));
    assert!(!format!("{err:?}").contains("s3cret"));
}
