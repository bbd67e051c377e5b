//! Exports over HTTP are spooled to disk and streamed: gzip and plain carry
//! the same bytes, `If-None-Match` gives 304, a MISP feed serves only the
//! files it wrote and survives its spool being cleaned, and nothing is left
//! in the spool once the answers are sent.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use rexist_core::model::now;
use rexist_core::{Indicator, IndicatorType, NewSighting, Role};
use rexist_server::export::{ExportConfig, Spool};
use rexist_server::{AppState, router};
use rexist_store::Store;
use tower::ServiceExt;

struct World {
    app: axum::Router,
    store: Arc<dyn Store>,
    source: rexist_core::Source,
    spool: PathBuf,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let (store, source) = crate::common::file_store(dir.path(), "intel").await;
    let sightings: Vec<NewSighting> = (0..300)
        .map(|i| {
            NewSighting::new(
                Indicator::parse(IndicatorType::Domain, &format!("host-{i}.example")).unwrap(),
                now(),
            )
        })
        .collect();
    store.upsert_sightings(&source, &sightings).await.unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let exports = ["csv", "stix", "misp"]
        .iter()
        .map(|f| {
            ExportConfig::new(format!("all-{f}"), *f)
                .validate()
                .unwrap()
        })
        .collect();
    let spool = dir.path().join("spool");
    let app = router(
        AppState::new(Arc::clone(&store))
            .with_anonymous(Role::Viewer)
            .with_exports(exports)
            .with_spool(Spool::open(spool.clone()).unwrap()),
    );
    World {
        app,
        store,
        source,
        spool,
        _dir: dir,
    }
}

async fn get(
    app: &axum::Router,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = Request::builder().uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes().to_vec();
    (parts.status, parts.headers, bytes)
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Names in the spool directory (unnamed spool files are not listed).
fn spooled(spool: &Path) -> Vec<String> {
    std::fs::read_dir(spool)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test]
async fn a_gzip_answer_decodes_to_the_plain_bytes() {
    let w = world().await;
    for uri in ["/export/all-csv", "/api/v1/exports/csv?type=domain"] {
        let (status, plain_headers, plain) = get(&w.app, uri, &[]).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(String::from_utf8_lossy(&plain).contains("host-299.example"));
        assert_eq!(
            plain_headers[header::CONTENT_LENGTH],
            plain.len().to_string().as_str(),
            "{uri}"
        );
        assert!(plain_headers.get(header::CONTENT_ENCODING).is_none());
        let (status, headers, gz) =
            get(&w.app, uri, &[("accept-encoding", "br, gzip;q=0.8")]).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
        assert_eq!(headers[header::ETAG], plain_headers[header::ETAG]);
        assert!(gz.len() < plain.len());
        assert_eq!(gunzip(&gz), plain, "{uri}");
    }
    // A STIX bundle differs by its id and times only: the same objects.
    let (_, _, plain) = get(&w.app, "/export/all-stix", &[]).await;
    let (_, _, gz) = get(&w.app, "/export/all-stix", &[("accept-encoding", "gzip")]).await;
    let count = |b: &[u8]| {
        let v: serde_json::Value = serde_json::from_slice(b).unwrap();
        v["objects"].as_array().unwrap().len()
    };
    assert_eq!(count(&gunzip(&gz)), count(&plain));
    // A feed file too.
    let (_, _, plain) = get(&w.app, "/export/all-misp/hashes.csv", &[]).await;
    let (_, headers, gz) = get(
        &w.app,
        "/export/all-misp/hashes.csv",
        &[("accept-encoding", "gzip")],
    )
    .await;
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(gunzip(&gz), plain);
    assert_eq!(String::from_utf8_lossy(&plain).lines().count(), 300);
}

#[tokio::test]
async fn a_matching_etag_gives_304_without_a_body() {
    let w = world().await;
    for uri in [
        "/export/all-csv",
        "/export/all-stix",
        "/api/v1/exports/csv",
        "/export/all-misp/manifest.json",
    ] {
        let (_, headers, _) = get(&w.app, uri, &[]).await;
        let tag = headers[header::ETAG].to_str().unwrap().to_owned();
        for sent in [tag.as_str(), tag.trim_start_matches("W/"), "\"other\", *"] {
            let (status, headers, body) = get(
                &w.app,
                uri,
                &[("if-none-match", sent), ("accept-encoding", "gzip")],
            )
            .await;
            assert_eq!(status, StatusCode::NOT_MODIFIED, "{uri} {sent}");
            assert!(body.is_empty(), "{uri}");
            assert_eq!(headers[header::ETAG], tag.as_str());
            assert!(headers.get(header::CONTENT_ENCODING).is_none());
        }
        let (status, _, _) = get(&w.app, uri, &[("if-none-match", "W/\"other\"")]).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
    }
    // New data, a new tag (the one-file exports render every time).
    let (_, before, _) = get(&w.app, "/export/all-csv", &[]).await;
    let more = NewSighting::new(
        Indicator::parse(IndicatorType::Domain, "late.example").unwrap(),
        now(),
    );
    w.store.upsert_sightings(&w.source, &[more]).await.unwrap();
    let (status, after, body) = get(
        &w.app,
        "/export/all-csv",
        &[("if-none-match", before[header::ETAG].to_str().unwrap())],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(after[header::ETAG], before[header::ETAG]);
    assert!(String::from_utf8_lossy(&body).contains("late.example"));
}

#[tokio::test]
async fn a_feed_file_is_served_after_its_spool_is_cleaned() {
    let w = world().await;
    let (status, headers, manifest) = get(&w.app, "/export/all-misp/manifest.json", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let uuid = manifest.as_object().unwrap().keys().next().unwrap().clone();
    let feeds = spooled(&w.spool);
    assert_eq!(feeds.len(), 1, "one directory per feed: {feeds:?}");
    // Something (an operator, a cleaner) empties the spool under the cache.
    std::fs::remove_dir_all(&w.spool).unwrap();
    let (status, _, event) = get(&w.app, &format!("/export/all-misp/{uuid}.json"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    let event: serde_json::Value = serde_json::from_slice(&event).unwrap();
    assert_eq!(event["Event"]["uuid"], uuid.as_str());
    assert_eq!(event["Event"]["Attribute"].as_array().unwrap().len(), 300);
    let (status, again, _) = get(&w.app, "/export/all-misp/manifest.json", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        again[header::ETAG],
        headers[header::ETAG],
        "same data, same tag"
    );
    assert_eq!(spooled(&w.spool).len(), 1);
}

#[tokio::test]
async fn only_files_the_feed_wrote_are_served() {
    let w = world().await;
    let (status, _, _) = get(&w.app, "/export/all-misp/manifest.json", &[]).await;
    assert_eq!(status, StatusCode::OK);
    // A file lying in the feed's spool directory, not written by the feed.
    let feed_dir = w.spool.join(&spooled(&w.spool)[0]);
    std::fs::write(feed_dir.join("planted.json"), b"{}").unwrap();
    std::fs::write(w.spool.join("x.json"), b"{}").unwrap();
    for file in [
        "planted.json",
        "..%2Fx.json",
        "%2E%2E%2Fx.json",
        "..",
        "%2Fetc%2Fpasswd",
        "MANIFEST.JSON",
        "manifest.json%00",
    ] {
        let uri = format!("/export/all-misp/{file}");
        let (status, headers, body) = get(&w.app, &uri, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{uri}"
        );
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{uri}");
        assert!(
            !body.to_string().contains(&*w.spool.to_string_lossy()),
            "the spool's path is not shown: {body}"
        );
    }
}

#[tokio::test]
async fn the_spool_is_empty_once_answers_are_sent() {
    let w = world().await;
    for (uri, headers) in [
        ("/export/all-csv", vec![]),
        ("/export/all-stix", vec![("accept-encoding", "gzip")]),
        ("/api/v1/exports/stix", vec![]),
        ("/export/all-csv", vec![("if-none-match", "*")]),
    ] {
        let (status, _, _) = get(&w.app, uri, &headers).await;
        assert!(status.is_success() || status == StatusCode::NOT_MODIFIED);
        assert_eq!(spooled(&w.spool), Vec::<String>::new(), "{uri}");
    }
    // An answer dropped before it is read leaves nothing either.
    let res = w
        .app
        .clone()
        .oneshot(
            Request::builder()
                .uri("/export/all-csv")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    drop(res);
    assert_eq!(spooled(&w.spool), Vec::<String>::new());
    // A MISP feed keeps its one directory while it is reused.
    get(&w.app, "/export/all-misp/manifest.json", &[]).await;
    get(&w.app, "/export/all-misp/hashes.csv", &[]).await;
    assert_eq!(spooled(&w.spool).len(), 1);
}

#[test]
fn opening_the_spool_removes_what_a_crash_left() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    std::fs::create_dir_all(spool.join("rexist-feed-old")).unwrap();
    std::fs::write(spool.join("rexist-feed-old/manifest.json"), b"{}").unwrap();
    std::fs::write(spool.join("stray"), b"x").unwrap();
    let opened = Spool::open(spool.clone()).unwrap();
    assert_eq!(opened.dir(), spool);
    assert_eq!(spooled(&spool), Vec::<String>::new());
}
