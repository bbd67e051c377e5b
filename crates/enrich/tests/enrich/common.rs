//! Shared helpers: secrets in files, tables pointing at loopback servers,
//! scripted upstreams that record what they were sent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rexist_core::IndicatorType;
use rexist_enrich::{Answer, EnrichConfig, Enricher};
use rexist_testkit::{Upstream, response, serve};

/// The API key every test uses; it must never show in an answer.
pub const KEY: &str = "sekrit-KEY-0123456789abcdef";
/// The X-Force password every test uses.
pub const PASSWORD: &str = "pw-SECRET-987654321";

pub const JSON: &str = "Content-Type: application/json\r\n";

/// Key and password files in a temporary directory (the tests never set
/// environment variables).
pub struct Secrets {
    _dir: tempfile::TempDir,
    pub key: String,
    pub password: String,
}

pub fn secrets() -> Secrets {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.txt");
    let password = dir.path().join("password.txt");
    std::fs::write(&key, format!("{KEY}\n")).unwrap();
    std::fs::write(&password, format!("{PASSWORD}\n")).unwrap();
    Secrets {
        key: key.display().to_string(),
        password: password.display().to_string(),
        _dir: dir,
    }
}

/// A fixture of this crate (`tests/fixtures`), for upstreams `shared/` has no sample of.
pub fn local(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A table of `kind` named `p` pointing at `base`, with the test key (and
/// password for X-Force), no rate limit, no quota and a short timeout.
pub fn table(kind: &str, base: &str, s: &Secrets) -> EnrichConfig {
    let keyless = matches!(kind, "dns" | "rdap" | "geoip" | "inspect");
    EnrichConfig {
        name: "p".to_owned(),
        kind: kind.to_owned(),
        base_url: Some(base.to_owned()),
        key_file: (!keyless).then(|| s.key.clone()),
        password_file: (kind == "xforce").then(|| s.password.clone()),
        rate_limit: Some("none".to_owned()),
        daily_quota: Some(0),
        timeout: Some("3s".to_owned()),
        ..EnrichConfig::default()
    }
}

/// A loopback upstream and the raw requests it received.
pub struct Scripted {
    pub up: Upstream,
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl Scripted {
    pub fn hits(&self) -> usize {
        self.up.hits()
    }

    /// The `n`th request, lower-cased (header names are case-insensitive).
    pub fn request(&self, n: usize) -> String {
        self.requests.lock().unwrap()[n].to_ascii_lowercase()
    }
}

/// A server answering `respond(path)` to every request, after `delay`.
pub async fn scripted<F>(respond: F, delay: Duration) -> Scripted
where
    F: Fn(&str) -> Vec<u8> + Send + Sync + 'static,
{
    let requests = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&requests);
    let up = serve(move |path, _, raw| {
        log.lock().unwrap().push(raw.to_owned());
        (respond(path), delay)
    })
    .await;
    Scripted { up, requests }
}

/// A server answering every request with the same status, headers and body.
pub async fn always(status: &str, headers: &str, body: Vec<u8>) -> Scripted {
    always_after(status, headers, body, Duration::ZERO).await
}

pub async fn always_after(status: &str, headers: &str, body: Vec<u8>, delay: Duration) -> Scripted {
    let bytes = response(status, headers, &body);
    scripted(move |_| bytes.clone(), delay).await
}

/// The only answer of an enricher with one provider.
pub async fn one(e: &Enricher, kind: IndicatorType, value: &str) -> Answer {
    let mut answers = e.enrich(kind, value, None).await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    answers.pop().unwrap()
}

/// Neither the key nor the password shows in any answer, however printed.
pub fn assert_no_secret(answers: &[Answer]) {
    for a in answers {
        let shown = [
            format!("{a:?}"),
            serde_json::to_string(a).unwrap(),
            a.error.clone().unwrap_or_default(),
        ];
        for text in shown {
            assert!(!text.contains(KEY), "key leaked: {text}");
            assert!(!text.contains(PASSWORD), "password leaked: {text}");
        }
    }
}
