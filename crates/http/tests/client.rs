//! The client against a loopback server that misbehaves on purpose, and the
//! secret-file reader against files that are wrong in each way.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::time::{Duration, Instant};

use rexist_http::{
    Call, Client, ClientOptions, FetchError, FileProblem, Limit, RetryPolicy, read_secret_file,
    redact,
};
use rexist_testkit::{response, serve};

fn client() -> Client {
    Client::new(&ClientOptions::default()).unwrap()
}

fn call(shown: &str, limit: Limit, retries: u32) -> Call<'_> {
    Call {
        shown,
        timeout: Duration::from_secs(2),
        limit,
        retry: RetryPolicy {
            retries,
            backoff: Duration::from_millis(10),
            max_retry_after: Duration::from_secs(2),
        },
    }
}

async fn get(
    client: &Client,
    url: &str,
    call: &Call<'_>,
) -> Result<rexist_http::Reply<Vec<u8>>, FetchError> {
    let request = client.get(url);
    client.send(request, call, Vec::new).await
}

#[tokio::test]
async fn a_body_over_the_cap_fails_or_is_cut() {
    let up = serve(|path, _, _| {
        let body = "x".repeat(2048);
        match path {
            // No Content-Length: the cap is found while reading.
            "/chunked" => (
                format!("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{body}").into_bytes(),
                Duration::ZERO,
            ),
            _ => (response("200 OK", "", body.as_bytes()), Duration::ZERO),
        }
    })
    .await;
    let c = client();
    for path in ["/sized", "/chunked"] {
        let err = get(
            &c,
            &format!("{}{path}", up.base),
            &call("up", Limit::Fail(1024), 0),
        )
        .await
        .unwrap_err();
        assert_eq!(
            err,
            FetchError::TooLarge {
                url: "up".into(),
                limit: 1024
            },
            "{path}"
        );
        let reply = get(
            &c,
            &format!("{}{path}", up.base),
            &call("up", Limit::Truncate(1000), 0),
        )
        .await
        .unwrap();
        assert_eq!((reply.body.len(), reply.truncated), (1000, true), "{path}");
    }
    let reply = get(&c, &up.base, &call("up", Limit::Fail(4096), 0))
        .await
        .unwrap();
    assert_eq!((reply.body.len(), reply.truncated), (2048, false));
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let up = serve(|_, n, _| {
        if n < 2 {
            (
                response("503 Service Unavailable", "", b"busy"),
                Duration::ZERO,
            )
        } else {
            (response("200 OK", "", b"ok"), Duration::ZERO)
        }
    })
    .await;
    let reply = get(&client(), &up.base, &call("up", Limit::Fail(100), 3))
        .await
        .unwrap();
    assert_eq!(
        (reply.status.as_u16(), reply.body.as_slice()),
        (200, &b"ok"[..])
    );
    assert_eq!(up.hits(), 3, "two failures, then success");
}

#[tokio::test]
async fn without_retries_the_status_is_the_callers() {
    let up = serve(|_, _, _| {
        (
            response("503 Service Unavailable", "Retry-After: 30\r\n", b"busy"),
            Duration::ZERO,
        )
    })
    .await;
    let c = client();
    let mut once = call("up", Limit::Fail(100), 0);
    once.retry = RetryPolicy::NONE;
    let reply = get(&c, &up.base, &once).await.unwrap();
    assert_eq!(reply.status.as_u16(), 503);
    assert_eq!(reply.body, b"busy", "the error body explains the status");
    assert_eq!(reply.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(up.hits(), 1, "NONE sends once");
    assert_eq!(
        reply.error_for_status("up").unwrap_err(),
        FetchError::Status {
            status: 503,
            url: "up".into()
        }
    );
}

#[tokio::test]
async fn retry_after_is_honoured_and_capped() {
    let up = serve(|path, n, _| match (path, n) {
        ("/soon", 0) => (
            response("429 Too Many Requests", "Retry-After: 1\r\n", b""),
            Duration::ZERO,
        ),
        ("/soon", _) => (response("200 OK", "", b"ok"), Duration::ZERO),
        _ => (
            response("429 Too Many Requests", "Retry-After: 3600\r\n", b""),
            Duration::ZERO,
        ),
    })
    .await;
    let c = client();
    let started = Instant::now();
    let reply = get(
        &c,
        &format!("{}/soon", up.base),
        &call("up", Limit::Fail(100), 3),
    )
    .await
    .unwrap();
    assert_eq!(reply.status.as_u16(), 200);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited as asked"
    );
    assert_eq!(up.hits(), 2);

    let started = Instant::now();
    let err = get(
        &c,
        &format!("{}/later", up.base),
        &call("up", Limit::Fail(100), 3),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        FetchError::RateLimited {
            url: "up".into(),
            seconds: 3600
        }
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "did not wait an hour"
    );
    assert_eq!(up.hits(), 3, "no retry past the cap");
}

#[tokio::test]
async fn transport_failures_are_named_without_the_url() {
    let up = serve(|path, _, _| match path.split('?').next() {
        Some("/truncated") => (
            b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\nConnection: close\r\n\r\nshort".to_vec(),
            Duration::ZERO,
        ),
        _ => (response("200 OK", "", b"late"), Duration::from_secs(5)),
    })
    .await;
    let c = client();
    let mut quick = call("up", Limit::Fail(1000), 0);
    quick.timeout = Duration::from_millis(300);
    let err = get(&c, &format!("{}/truncated?key=s3cret", up.base), &quick)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Broken { .. }), "{err}");
    let err = get(&c, &format!("{}/slow?key=s3cret", up.base), &quick)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Timeout { .. }), "{err}");
    assert!(!format!("{err} {err:?}").contains("s3cret"));

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let err = get(&c, &format!("http://{addr}/?token=s3cret"), &quick)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Unreachable { .. }), "{err}");
    assert!(err.retryable());
    assert!(!format!("{err} {err:?}").contains("s3cret"));
}

#[test]
fn redaction_masks_user_info_and_secret_parameters() {
    assert_eq!(
        redact("https://user:pw@feed.example/list.csv?key=s3cret&days=1&API_KEY=x&token=t"),
        "https://user:***@feed.example/list.csv?key=***&days=1&API_KEY=***&token=***"
    );
    assert_eq!(redact("https://feed.example/a"), "https://feed.example/a");
    assert_eq!(redact("not a url"), "<invalid URL>");
}

#[test]
fn secret_files_are_capped_trimmed_and_never_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);

    std::fs::write(path("ok"), "  s3cret-token\n").unwrap();
    let secret = read_secret_file(path("ok"), "token_file").unwrap();
    assert_eq!(secret.expose(), "s3cret-token");
    assert_eq!(format!("{secret:?} {secret}"), "Secret(***) ***");

    std::fs::write(path("big"), "s3cret".repeat(20_000)).unwrap();
    let err = read_secret_file(path("big"), "token_file").unwrap_err();
    assert_eq!(err.problem, FileProblem::TooLarge { cap: 64 * 1024 });
    assert_eq!(
        err.to_string(),
        format!(
            "token_file: file {} is larger than 64 KiB",
            path("big").display()
        )
    );

    std::fs::write(path("empty"), " \n\t\n").unwrap();
    let err = read_secret_file(path("empty"), "password_file").unwrap_err();
    assert_eq!(err.problem, FileProblem::Empty);
    assert!(err.to_string().ends_with("is empty"), "{err}");

    let err = read_secret_file(path("missing"), "secret_file").unwrap_err();
    assert!(matches!(err.problem, FileProblem::Unreadable(_)), "{err}");
    assert!(
        err.to_string().starts_with(&format!(
            "secret_file: cannot read {}",
            path("missing").display()
        )),
        "{err}"
    );

    std::fs::write(path("binary"), b"s3cret\xff\xfe").unwrap();
    let err = read_secret_file(path("binary"), "key_file").unwrap_err();
    assert_eq!(err.problem, FileProblem::NotText);

    for err in [
        read_secret_file(path("big"), "k"),
        read_secret_file(path("binary"), "k"),
    ] {
        let err = err.unwrap_err();
        let shown = format!("{err} {err:?} {}", err.reason());
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
