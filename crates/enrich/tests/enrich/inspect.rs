//! The `inspect` provider: refusal of internal targets, the redirect chain
//! checked and recorded hop by hop, rexist's own address, the size cap,
//! and the optional screenshot (with a stand-in for Chromium).

use std::time::Duration;

use rexist_core::IndicatorType;
use rexist_enrich::{EnrichConfig, Enricher, Status};
use rexist_testkit::response;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::common::{one, scripted};

const PAGE: &str = "<!doctype html><html><head><title>\n  Example &amp; Co \u{2014} login </title></head><body>hi</body></html>";

fn inspect_table(allow_private: bool) -> EnrichConfig {
    EnrichConfig {
        name: "inspect".to_owned(),
        kind: "inspect".to_owned(),
        allow_private: Some(allow_private),
        timeout: Some("5s".to_owned()),
        ..EnrichConfig::default()
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        write!(s, "{b:02x}").unwrap();
        s
    })
}

#[tokio::test]
async fn internal_targets_are_refused_without_a_request() {
    let up = scripted(|_| response("200 OK", "", b"secret"), Duration::ZERO).await;
    let e = Enricher::new(&[inspect_table(false)]).unwrap();
    for url in [
        format!("{}/admin", up.up.base),
        format!(
            "http://localhost:{}/admin",
            up.up.base.rsplit(':').next().unwrap()
        ),
        "http://[::1]:9/".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://10.0.0.1/".to_owned(),
        "ftp://192.0.2.10/file".to_owned(),
    ] {
        let a = one(&e, IndicatorType::Url, &url).await;
        assert_eq!(a.status, Status::Error, "{url}: {a:?}");
        assert!(
            a.error.as_deref().unwrap().starts_with("refused: "),
            "{url}: {a:?}"
        );
    }
    assert_eq!(up.hits(), 0);
    // Not a URL type: nothing to inspect.
    assert!(
        e.enrich(IndicatorType::Domain, "example.com", None)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn redirect_chain_is_followed_and_recorded() {
    let up = scripted(
        |path| match path {
            "/start" => response("302 Found", "Location: /middle?x=1\r\n", b""),
            "/middle?x=1" => response("301 Moved Permanently", "Location: final\r\n", b"moved"),
            "/final" => response(
                "200 OK",
                "Content-Type: text/html; charset=utf-8\r\nX-Test: yes\r\n",
                PAGE.as_bytes(),
            ),
            _ => response("404 Not Found", "", b""),
        },
        Duration::ZERO,
    )
    .await;
    let base = up.up.base.clone();
    let e = Enricher::new(&[inspect_table(true)]).unwrap();
    let a = one(&e, IndicatorType::Url, &format!("{base}/start")).await;
    assert_eq!(a.status, Status::Ok, "{a:?}");
    let s = &a.summary;
    assert_eq!(
        s["redirects"],
        json!([
            {"url": format!("{base}/start"), "status": 302, "location": format!("{base}/middle?x=1")},
            {"url": format!("{base}/middle?x=1"), "status": 301, "location": format!("{base}/final")},
        ])
    );
    assert_eq!(s["final_url"], format!("{base}/final"));
    assert_eq!(s["status"], 200);
    assert_eq!(s["title"], "Example & Co \u{2014} login");
    assert_eq!(s["content_type"], "text/html; charset=utf-8");
    assert_eq!(s["size"], PAGE.len());
    assert_eq!(s["truncated"], false);
    assert_eq!(s["sha256"], hex(&Sha256::digest(PAGE.as_bytes())));
    assert_eq!(s["headers"]["x-test"], "yes");
    assert!(s.get("screenshot").is_none(), "no chromium configured");
    assert_eq!(up.hits(), 3);

    // Every request looks the same: fixed User-Agent, no cookies.
    let first = up.request(0);
    assert!(
        first.contains("user-agent: mozilla/5.0 (compatible; rexist-inspect/"),
        "{first}"
    );
    assert!(!first.contains("cookie"), "{first}");
}

#[tokio::test]
async fn every_hop_is_checked_against_rexists_own_address() {
    let own = scripted(|_| response("200 OK", "", b"rexist API"), Duration::ZERO).await;
    let target = format!("{}/api/v1/admin", own.up.base);
    let first = scripted(
        move |_| response("302 Found", &format!("Location: {target}\r\n"), b""),
        Duration::ZERO,
    )
    .await;
    let e = Enricher::new(&[inspect_table(true)]).unwrap();
    let listen: std::net::SocketAddr = own.up.base.trim_start_matches("http://").parse().unwrap();
    e.set_own_addresses(&[listen]);
    let a = one(&e, IndicatorType::Url, &format!("{}/go", first.up.base)).await;
    assert_eq!(a.status, Status::Error, "{a:?}");
    let error = a.error.unwrap();
    assert!(error.starts_with("refused redirect 1 to "), "{error}");
    assert!(error.contains("rexist's own address"), "{error}");
    assert_eq!((first.hits(), own.hits()), (1, 0));
}

#[tokio::test]
async fn redirect_loops_stop() {
    let up = scripted(
        |_| response("302 Found", "Location: /again\r\n", b""),
        Duration::ZERO,
    )
    .await;
    let mut config = inspect_table(true);
    config.max_redirects = Some(2);
    let e = Enricher::new(&[config]).unwrap();
    let a = one(&e, IndicatorType::Url, &format!("{}/loop", up.up.base)).await;
    assert_eq!(a.status, Status::Error, "{a:?}");
    assert!(a.error.unwrap().contains("more than 2 redirects"));
    assert_eq!(up.hits(), 3);
}

#[tokio::test]
async fn large_bodies_are_cut_at_the_cap() {
    let up = scripted(
        |_| {
            response(
                "200 OK",
                "Content-Type: application/octet-stream\r\n",
                &vec![b'x'; 50_000],
            )
        },
        Duration::ZERO,
    )
    .await;
    let mut config = inspect_table(true);
    config.max_bytes = Some(1000);
    let e = Enricher::new(&[config]).unwrap();
    let a = one(&e, IndicatorType::Url, &format!("{}/big.bin", up.up.base)).await;
    assert_eq!(a.status, Status::Ok, "{a:?}");
    assert_eq!(a.summary["size"], 1000);
    assert_eq!(a.summary["truncated"], true);
    assert_eq!(a.summary["sha256"], json!(null));
    assert_eq!(a.summary["title"], json!(null));
}

#[tokio::test]
async fn missing_chromium_is_reported_not_fatal() {
    let up = scripted(
        |_| response("200 OK", "Content-Type: text/html\r\n", PAGE.as_bytes()),
        Duration::ZERO,
    )
    .await;
    let mut config = inspect_table(true);
    config.chromium = Some("/nonexistent/rexist/chromium".to_owned());
    let e = Enricher::new(&[config]).unwrap();
    let a = one(&e, IndicatorType::Url, &format!("{}/", up.up.base)).await;
    assert_eq!(a.status, Status::Ok, "{a:?}");
    assert_eq!(a.summary["screenshot"], json!(null));
    assert!(
        a.summary["screenshot_error"]
            .as_str()
            .unwrap()
            .contains("chromium not found"),
        "{a:?}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn screenshot_from_chromium() {
    use base64::Engine;
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let args = dir.path().join("args.txt");
    let fake = dir.path().join("chromium");
    // Stands in for Chromium: records its arguments and writes a "PNG"
    // where --screenshot= says.
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\nfor a in \"$@\"; do case \"$a\" in --screenshot=*) printf 'PNGDATA' > \"${{a#--screenshot=}}\";; esac; done\n",
            args.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();

    let up = scripted(
        |_| response("200 OK", "Content-Type: text/html\r\n", PAGE.as_bytes()),
        Duration::ZERO,
    )
    .await;
    let mut config = inspect_table(true);
    config.chromium = Some(fake.display().to_string());
    config.cache_ttl = Some("0s".to_owned());
    let e = Enricher::new(&[config]).unwrap();
    let url = format!("{}/page", up.up.base);
    // Spawning a just-written script can fail with "text file busy" while
    // another test forks; that is the test's race, not the provider's.
    let mut a = one(&e, IndicatorType::Url, &url).await;
    for _ in 0..3 {
        if a.summary["screenshot"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        a = one(&e, IndicatorType::Url, &url).await;
    }
    assert_eq!(a.status, Status::Ok, "{a:?}");
    assert_eq!(
        a.summary["screenshot"],
        base64::engine::general_purpose::STANDARD.encode("PNGDATA"),
        "{a:?}"
    );
    assert_eq!(a.summary["screenshot_error"], json!(null));
    #[allow(
        clippy::disallowed_methods,
        reason = "a file of this repository, in a test"
    )]
    let args = std::fs::read_to_string(args).unwrap();
    let args: Vec<&str> = args.lines().collect();
    for flag in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,800",
    ] {
        assert!(args.contains(&flag), "{flag} missing: {args:?}");
    }
    assert!(args.iter().any(|a| a.starts_with("--user-data-dir=")));
    assert_eq!(args.last().copied(), Some(url.as_str()));
}
