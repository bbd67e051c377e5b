//! What the paged-source tests share: a fetcher with short timeouts and no
//! retries, and a JSON answer of the loopback server.

use std::time::Duration;

use rexist_connectors::http::{FetchOptions, Fetcher};
use rexist_testkit::{Answer, response};

/// A fetcher that fails fast: 2 s timeout, no retries.
pub fn fetcher() -> Fetcher {
    Fetcher::new(FetchOptions {
        timeout: Duration::from_secs(2),
        retries: 0,
        backoff: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(1),
        max_bytes: 1 << 20,
        per_host: 2,
        spool_above: 1 << 20,
    })
    .expect("HTTP client")
}

/// A 200 answer with a JSON body.
#[allow(dead_code)] // not every test file answers plain JSON
pub fn json(body: impl AsRef<[u8]>) -> Answer {
    (
        response(
            "200 OK",
            "Content-Type: application/json\r\n",
            body.as_ref(),
        ),
        Duration::ZERO,
    )
}
