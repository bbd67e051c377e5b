//! Test helpers, for dev-dependencies only: the shared fixtures and a
//! loopback HTTP server that answers as a test scripts it, misbehaving on
//! purpose where asked (wrong lengths, stalls, error statuses). It binds
//! 127.0.0.1:0 and never reaches anything else.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Path of a file under `../shared/fixtures`, which must sit beside the repository.
///
/// # Panics
/// When the fixture is missing, naming it.
pub fn fixture(rel: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures")
        .join(rel);
    assert!(
        path.exists(),
        "fixture {} missing: shared/ must sit beside the repository",
        path.display()
    );
    path
}

/// The bytes of a fixture.
///
/// # Panics
/// When the fixture cannot be read.
pub fn fixture_bytes(rel: &str) -> Vec<u8> {
    std::fs::read(fixture(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

/// A raw HTTP/1.1 response with a correct `Content-Length`.
pub fn response(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// What a scripted server answers: the raw response bytes and a delay before them.
pub type Answer = (Vec<u8>, Duration);

/// A loopback server; `hits` counts the requests it received.
pub struct Upstream {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// Requests received so far.
    pub hits: Arc<AtomicUsize>,
}

impl Upstream {
    /// Requests received so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Starts a server that answers each request with
/// `respond(path, index of the request, raw request text)`.
///
/// # Panics
/// When no loopback port can be bound.
pub async fn serve<F>(respond: F) -> Upstream
where
    F: Fn(&str, usize, &str) -> Answer + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local address");
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let respond = Arc::new(respond);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let respond = Arc::clone(&respond);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let len = sock.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..len]).into_owned();
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let (bytes, delay) = respond(&path, n, &request);
                tokio::time::sleep(delay).await;
                let _ = sock.write_all(&bytes).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Upstream {
        base: format!("http://{addr}"),
        hits,
    }
}

/// Runs the rexist binary `bin` in `dir` with its data directory
/// `dir/data`, `args` and `stdin` on standard input, with the store
/// environment variables of the calling shell removed.
pub fn run_with_stdin(
    bin: &str,
    dir: &std::path::Path,
    args: &[&str],
    stdin: &str,
) -> std::process::Output {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new(bin)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(args)
        .current_dir(dir)
        .env_remove("REXIST_DATABASE_URL")
        .env_remove("REXIST_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rexist");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait for rexist")
}

/// Checks a STIX 2.1 bundle with the OASIS `stix2-validator` in strict mode
/// (its `SHOULD`s fail too: version-4 UUIDs as ids on SDOs and SROs, suggested
/// relationship types only, …). `None` when `REXIST_PEERS_PYTHON` names no
/// python with the validator (the peers are not installed); otherwise the
/// validator's report as the error when it rejects the bundle.
pub fn stix2_validate_strict(bundle: &[u8]) -> Option<Result<(), String>> {
    const SCRIPT: &str = "import sys, stix2validator\n\
o = stix2validator.ValidationOptions(strict=True, version='2.1')\n\
r = stix2validator.validate_file(sys.argv[1], o)\n\
stix2validator.print_results(r)\n\
sys.exit(0 if r.is_valid else 1)\n";
    let python = std::env::var("REXIST_PEERS_PYTHON").ok()?;
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("bundle.json");
    std::fs::write(&path, bundle).expect("write the bundle");
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(&path)
        .output()
        .expect("run stix2-validator");
    if out.status.success() {
        Some(Ok(()))
    } else {
        Some(Err(format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}
