//! What the API tests share: one request with an optional JSON body.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// Sends `method uri` with `body` as JSON; the status and the JSON answer
/// (`Null` when the answer is not JSON).
pub async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A TLP:CLEAR English news item with an empty body.
pub fn item(id: &str, title: &str) -> rexist_core::NewItem {
    rexist_core::NewItem {
        kind: rexist_core::ItemKind::News,
        external_id: id.into(),
        title: title.into(),
        body: String::new(),
        url: None,
        lang: Some("en".into()),
        published_at: None,
        tlp: rexist_core::Tlp::Clear,
        tags: vec![],
        extra: serde_json::json!({}),
    }
}

/// The TLP:CLEAR RSS source `news` (confidence 50) the hunt tests store items under.
pub async fn news_source(store: &std::sync::Arc<dyn rexist_store::Store>) -> rexist_core::Source {
    store
        .upsert_source(&rexist_core::SourceSpec {
            name: "news".into(),
            kind: "rss".into(),
            enabled: true,
            confidence: 50,
            tlp: rexist_core::Tlp::Clear,
            tags: vec![],
        })
        .await
        .unwrap()
}

/// A migrated SQLite store in `dir`, with the TLP:CLEAR file source `name`
/// (confidence 80) the API and export tests seed.
pub async fn file_store(
    dir: &std::path::Path,
    name: &str,
) -> (rexist_store::sqlite::SqliteStore, rexist_core::Source) {
    use rexist_store::Store as _;
    let store = rexist_store::sqlite::SqliteStore::open(&dir.join("rexist.db"))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let source = store
        .upsert_source(&rexist_core::SourceSpec {
            name: name.into(),
            kind: "file".into(),
            enabled: true,
            confidence: 80,
            tlp: rexist_core::Tlp::Clear,
            tags: vec![],
        })
        .await
        .unwrap();
    (store, source)
}

static SCHEMA_SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A store under test and what cleans it up.
pub struct Backend {
    pub name: &'static str,
    pub store: std::sync::Arc<dyn rexist_store::Store>,
    _dir: Option<tempfile::TempDir>,
    schema: Option<(String, String)>,
}

impl Backend {
    pub async fn cleanup(self) {
        if let Some((url, schema)) = self.schema {
            drop(self.store);
            rexist_store::postgres::drop_schema(&url, &schema)
                .await
                .unwrap();
        }
    }
}

/// A fresh SQLite store, and a fresh PostgreSQL schema when a test server is configured.
pub async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = vec![Backend {
        name: "sqlite",
        store: rexist_store::open(None, dir.path()).await.unwrap(),
        _dir: Some(dir),
        schema: None,
    }];
    match std::env::var("REXIST_TEST_DATABASE_URL") {
        Ok(url) => {
            let schema = format!(
                "rexist_it{}_{}",
                std::process::id(),
                SCHEMA_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            );
            let store = rexist_store::postgres::PgStore::connect(&url, Some(&schema))
                .await
                .unwrap();
            rexist_store::Store::migrate(&store).await.unwrap();
            out.push(Backend {
                name: "postgres",
                store: std::sync::Arc::new(store),
                _dir: None,
                schema: Some((url, schema)),
            });
        }
        Err(_) => eprintln!("REXIST_TEST_DATABASE_URL not set: PostgreSQL half skipped"),
    }
    out
}
