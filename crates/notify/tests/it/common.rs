//! Shared pieces of the integration tests: sample messages, channel
//! configurations and a loopback HTTP receiver that records what it gets.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rexist_notify::{ChannelConfig, HitSummary, Message};

/// A request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

struct Shared {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    seen: Mutex<Vec<Request>>,
}

/// A loopback receiver answering every request the same way.
pub struct Receiver {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    shared: Arc<Shared>,
}

impl Receiver {
    pub fn requests(&self) -> Vec<Request> {
        self.shared.seen.lock().unwrap().clone()
    }

    pub fn only_request(&self) -> Request {
        let seen = self.requests();
        assert_eq!(seen.len(), 1, "expected one request, got {seen:?}");
        seen.into_iter().next().unwrap()
    }
}

async fn record(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.seen.lock().unwrap().push(Request {
        method: method.to_string(),
        path: uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), ToString::to_string),
        headers,
        body: body.to_vec(),
    });
    let mut response = (
        StatusCode::from_u16(shared.status).unwrap(),
        shared.body.clone(),
    )
        .into_response();
    for (name, value) in &shared.headers {
        response.headers_mut().insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    response
}

/// Starts a receiver on 127.0.0.1:0 that answers `status`, `headers`, `body`.
pub async fn receiver(status: u16, headers: &[(&str, &str)], body: &str) -> Receiver {
    let shared = Arc::new(Shared {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.to_owned(),
        seen: Mutex::new(Vec::new()),
    });
    let app = axum::Router::new()
        .fallback(record)
        .with_state(Arc::clone(&shared));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Receiver { base, shared }
}

/// A loopback address where nothing listens.
pub async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr.to_string()
}

/// A configuration with only a name and a kind.
pub fn config(name: &str, kind: &str) -> ChannelConfig {
    ChannelConfig {
        name: name.to_owned(),
        kind: kind.to_owned(),
        ..ChannelConfig::default()
    }
}

/// Writes `content` to `dir/name` and returns the path as a string.
pub fn write_file(dir: &Path, name: &str, content: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path.to_str().unwrap().to_owned()
}

pub fn matched_at() -> time::OffsetDateTime {
    time::macros::datetime!(2024-05-06 07:08:09 UTC)
}

/// One news item hit.
pub fn item_hit() -> HitSummary {
    HitSummary {
        object: "item".to_owned(),
        title: "Lazarus targets <banks>".to_owned(),
        source: Some("Example News".to_owned()),
        url: Some("https://news.example/a?x=1".to_owned()),
        link: Some("http://rexist.local/items/42".to_owned()),
        terms: vec!["lazarus".to_owned(), "192.0.2.1".to_owned()],
        snippet: Some("the Lazarus group\nused 192.0.2.1".to_owned()),
        tlp: Some("clear".to_owned()),
        retro: false,
        matched_at: matched_at(),
    }
}

/// One indicator hit, found by a retro-hunt.
pub fn indicator_hit() -> HitSummary {
    HitSummary {
        object: "indicator".to_owned(),
        title: "ipv4 192.0.2.1".to_owned(),
        source: Some("feodo".to_owned()),
        url: None,
        link: Some("http://rexist.local/indicators/7".to_owned()),
        terms: vec!["192.0.2.1".to_owned()],
        snippet: None,
        tlp: None,
        retro: true,
        matched_at: matched_at(),
    }
}

pub fn single() -> Message {
    Message {
        id: "d-0001".to_owned(),
        hunt: "apt-watch".to_owned(),
        digest: false,
        total_hits: 1,
        hits: vec![item_hit()],
    }
}

pub fn digest() -> Message {
    Message {
        id: "d-0002".to_owned(),
        hunt: "apt-watch".to_owned(),
        digest: true,
        total_hits: 5,
        hits: vec![item_hit(), indicator_hit()],
    }
}
