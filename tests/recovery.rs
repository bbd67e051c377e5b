//! Crash and shutdown recovery, end to end: `rexist` processes killed with
//! SIGKILL mid-way (during `ingest file`, during a source run under `serve`,
//! during alert delivery) and stopped with SIGTERM, on SQLite and, when
//! `REXIST_TEST_DATABASE_URL` is set, on PostgreSQL in a schema of their own.
//!
//! What must hold: nothing committed is lost; the run cut short ends
//! `interrupted` (marked by a sweep at the next start on SQLite, or by a
//! live node), with the counts of its last heartbeat and a finish time; a
//! re-run completes and adds exactly what is missing; an alert is delivered
//! once, except the one in flight at the kill, delivered again with the
//! same delivery id. The processes beat every second (the hidden
//! `REXIST_HEARTBEAT_MS`), so a dead run is stale after 4.5 s and a lease
//! lasts 6 s; every wait is bounded.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose
#![cfg(unix)] // signals

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rexist_core::{AlertStatus, Run, RunOutcome};
use rexist_store::{AlertQuery, Store};

/// Heartbeat interval of the processes under test: stale after 4.5 s,
/// leases of 6 s, sweeps every 1.5 s.
const HEARTBEAT_MS: &str = "1000";
/// When a dead run's heartbeat is surely stale (4.5 s, plus a margin).
const STALE: Duration = Duration::from_millis(5500);
/// Longest any one wait may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(150);
/// Rows of the large feeds: enough that a run takes several heartbeats.
const ROWS: u64 = 300_000;

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A data directory, the store behind it (SQLite there, or a fresh
/// PostgreSQL schema), and a runtime for the loopback servers.
struct Env {
    dir: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
    store: Arc<dyn Store>,
    /// The PostgreSQL URL for child processes, the base URL and the schema to drop.
    pg: Option<(String, String, String)>,
}

impl Env {
    fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime();
        let store = rt
            .block_on(rexist_store::open(None, &dir.path().join("data")))
            .unwrap();
        Self {
            dir,
            rt,
            store,
            pg: None,
        }
    }

    fn postgres(test: &str) -> Option<Self> {
        let Ok(url) = std::env::var("REXIST_TEST_DATABASE_URL") else {
            eprintln!("REXIST_TEST_DATABASE_URL not set: {test} on PostgreSQL skipped");
            return None;
        };
        let schema = format!(
            "rexist_rec_{}_{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let rt = runtime();
        let store = rt
            .block_on(rexist_store::postgres::PgStore::connect(
                &url,
                Some(&schema),
            ))
            .unwrap();
        rt.block_on(store.migrate()).unwrap();
        let sep = if url.contains('?') { '&' } else { '?' };
        let child = format!("{url}{sep}options=-csearch_path%3D{schema}");
        Some(Self {
            dir: tempfile::tempdir().unwrap(),
            rt,
            store: Arc::new(store),
            pg: Some((child, url, schema)),
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `rexist ARGS` on this environment, its stderr appended to `log`.
    fn command(&self, args: &[&str], log: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rexist"));
        cmd.arg("--data-dir")
            .arg(self.path("data"))
            .args(args)
            .current_dir(self.dir.path())
            .env("REXIST_HEARTBEAT_MS", HEARTBEAT_MS)
            .env_remove("REXIST_DATA_DIR")
            .env_remove("REXIST_SHUTDOWN_GRACE_MS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(append(&self.path(log)));
        match &self.pg {
            Some((url, _, _)) => cmd.env("REXIST_DATABASE_URL", url),
            None => cmd.env_remove("REXIST_DATABASE_URL"),
        };
        cmd
    }

    /// Runs `rexist ARGS` to its end; its stdout, or a failure with both outputs.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.command(args, "cli.log").output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{args:?}: {stdout}\n{}",
            self.log("cli.log")
        );
        stdout
    }

    fn log(&self, name: &str) -> String {
        std::fs::read(self.path(name))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Runs of `source`, newest first.
    fn runs(&self, source: &str) -> Vec<Run> {
        self.rt.block_on(async {
            let Some(s) = self.store.source_by_name(source).await.unwrap() else {
                return Vec::new();
            };
            self.store.list_runs(Some(s.id), None, 100).await.unwrap()
        })
    }

    fn run(&self, source: &str, id: rexist_core::RunId) -> Run {
        self.runs(source).into_iter().find(|r| r.id == id).unwrap()
    }

    /// Sightings stored, all sources together.
    fn sightings(&self) -> u64 {
        self.rt.block_on(self.store.stats()).unwrap().sightings
    }

    fn jobs_pending(&self) -> u64 {
        self.rt.block_on(self.store.stats()).unwrap().jobs_pending
    }

    /// Polls `check` every 100 ms until it gives a value; fails after [`PATIENCE`].
    fn wait_for<T>(&self, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            if let Some(v) = check() {
                return v;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "gave up waiting for {what}; logs:\n{}",
                self.all_logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn all_logs(&self) -> String {
        let mut out = String::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if Path::new(&name).extension().is_some_and(|e| e == "log") {
                let _ = write!(out, "--- {name}\n{}\n", self.log(&name));
            }
        }
        out
    }

    /// Starts `rexist serve` on a free port; returns it and its address.
    fn serve(&self, log: &str, extra: &[(&str, &str)]) -> Served {
        let mut cmd = self.command(&["serve", "--listen", "127.0.0.1:0"], log);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut served = Served {
            child: cmd.spawn().unwrap(),
            addr: String::new(),
        };
        let mut stdout = BufReader::new(served.child.stdout.take().unwrap());
        let started = Instant::now();
        loop {
            let mut line = String::new();
            assert!(
                stdout.read_line(&mut line).unwrap() > 0,
                "serve exited before listening: {}",
                self.log(log)
            );
            assert!(started.elapsed() < PATIENCE);
            if let Some((_, addr)) = line.trim().rsplit_once("listening on http://") {
                // Keep reading so a full pipe never blocks it.
                std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
                addr.clone_into(&mut served.addr);
                return served;
            }
        }
    }

    fn write_config(&self, extra: &str) {
        // Warning lists off: flagging 300,000 private addresses only slows the test.
        std::fs::write(
            self.path("rexist.toml"),
            format!("default_sources = false\n\n[lookup]\nwarninglists = false\n\n{extra}"),
        )
        .unwrap();
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some((_, url, schema)) = &self.pg {
            let _ = self
                .rt
                .block_on(rexist_store::postgres::drop_schema(url, schema));
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn append(path: &Path) -> File {
    File::options()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

/// A running `rexist serve`, killed (SIGKILL) when dropped so a failing test
/// leaves nothing behind.
struct Served {
    child: Child,
    addr: String,
}

impl Served {
    /// SIGKILL: no chance to record anything.
    fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `count` distinct private IPv4 addresses from `first` on, one per line.
fn ip_lines(first: u64, count: u64) -> String {
    let mut out = String::with_capacity(usize::try_from(count * 14).unwrap());
    for i in first..first + count {
        let _ = writeln!(out, "10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    }
    out
}

/// One HTTP request with a bearer token; the status and body.
fn http(addr: &str, method: &str, path: &str, token: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The newest run of `source` while it is still running with committed
/// counts saved by a heartbeat: the moment to cut it short.
fn running_with_commits(env: &Env, source: &str) -> Run {
    env.wait_for("a running run with committed counts", || {
        let run = env.runs(source).into_iter().next()?;
        assert!(
            run.outcome == RunOutcome::Running,
            "the run ended before it could be cut short ({:?}): raise ROWS",
            run.outcome
        );
        (run.counts.new > 0).then_some(run)
    })
}

/// Checks the run a kill cut short, once a sweep marked it.
fn assert_interrupted(run: &Run, committed: u64) {
    assert_eq!(run.outcome, RunOutcome::Interrupted, "{run:?}");
    assert!(run.finished_at.is_some(), "{run:?}");
    assert!(run.cursor.is_none(), "{run:?}");
    assert!(
        run.counts.new > 0 && run.counts.new <= committed,
        "counts of its last heartbeat, never more than was stored ({committed}): {:?}",
        run.counts
    );
}

/// A feed of [`ROWS`] addresses on a loopback server, and the configuration
/// of a source reading it.
fn bulk_feed(env: &Env) -> rexist_testkit::Upstream {
    let body = ip_lines(0, ROWS).into_bytes();
    let upstream = env.rt.block_on(rexist_testkit::serve(move |_, _, _| {
        (
            rexist_testkit::response("200 OK", "Content-Type: text/plain\r\n", &body),
            Duration::ZERO,
        )
    }));
    env.write_config(&format!(
        "[[source]]\nname = \"bulk-feed\"\nkind = \"et\"\nurl = \"{}/feed.txt\"\n",
        upstream.base
    ));
    upstream
}

// --- SIGKILL during `ingest file` -------------------------------------

#[test]
fn sigkill_during_ingest_file_on_sqlite() {
    sigkill_during_ingest_file(&Env::sqlite());
}

#[test]
fn sigkill_during_ingest_file_on_postgres() {
    if let Some(env) = Env::postgres("sigkill during ingest file") {
        sigkill_during_ingest_file(&env);
    }
}

fn sigkill_during_ingest_file(env: &Env) {
    env.write_config("");
    let list = env.path("bulk.txt");
    std::fs::write(&list, ip_lines(0, ROWS)).unwrap();
    let list = list.to_str().unwrap();
    let args = ["ingest", "file", list, "--source", "bulk"];
    let mut ingest = env.command(&args, "ingest.log").spawn().unwrap();
    let cut = running_with_commits(env, "bulk");
    ingest.kill().unwrap();
    ingest.wait().unwrap();
    let committed = env.sightings();
    assert!(
        committed >= cut.counts.new && committed < ROWS,
        "{committed} stored"
    );
    // Nothing has looked at it yet: it still says running.
    assert_eq!(env.run("bulk", cut.id).outcome, RunOutcome::Running);

    if env.pg.is_some() {
        // A live node's sweep marks it.
        let mut node = env.serve("serve.log", &[]);
        let swept = env.wait_for("the sweep of a live node", || {
            let run = env.run("bulk", cut.id);
            (run.outcome != RunOutcome::Running).then_some(run)
        });
        assert_interrupted(&swept, committed);
        node.kill9();
    } else {
        // On SQLite the next start marks it (once its heartbeat is stale).
        std::thread::sleep(STALE);
        env.ok(&["source", "list"]);
        assert_interrupted(&env.run("bulk", cut.id), committed);
    }

    // The re-run adds exactly what is missing.
    let out = env.ok(&args);
    assert!(
        out.contains(&format!("stored new: {} sightings", ROWS - committed)),
        "{out}"
    );
    assert!(
        out.contains(&format!("already known: {committed}")),
        "{out}"
    );
    assert_eq!(env.sightings(), ROWS);
    let runs = env.runs("bulk");
    assert_eq!(runs[0].outcome, RunOutcome::Success);
    assert_eq!(runs[0].counts.new, ROWS - committed);
    assert_eq!(runs.len(), 2);
}

#[test]
fn ctrl_c_during_ingest_file_records_the_run_interrupted() {
    let env = Env::sqlite();
    env.write_config("");
    std::fs::write(env.path("bulk.txt"), ip_lines(0, ROWS)).unwrap();
    let args = ["ingest", "file", "bulk.txt", "--source", "bulk"];
    let mut ingest = env.command(&args, "ingest.log").spawn().unwrap();
    let cut = running_with_commits(&env, "bulk");
    let status = Command::new("kill")
        .args(["-INT", &ingest.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = ingest.wait().unwrap();
    assert_eq!(exit.code(), Some(1), "{}", env.log("ingest.log"));
    assert!(
        env.log("ingest.log")
            .contains("run it again to load the rest"),
        "{}",
        env.log("ingest.log")
    );
    // Recorded at once, no sweep needed.
    let run = env.run("bulk", cut.id);
    assert_eq!(run.outcome, RunOutcome::Interrupted, "{run:?}");
    assert!(run.finished_at.is_some());
    let committed = env.sightings();
    assert!(run.counts.new > 0 && run.counts.new <= committed);
    let out = env.ok(&args);
    assert!(
        out.contains(&format!("stored new: {} sightings", ROWS - committed)),
        "{out}"
    );
    assert_eq!(env.sightings(), ROWS);
}

// --- SIGKILL during a source run under `serve` --------------------------

#[test]
fn sigkill_during_a_scheduled_run_on_sqlite() {
    sigkill_during_a_scheduled_run(&Env::sqlite());
}

#[test]
fn sigkill_during_a_scheduled_run_on_postgres() {
    if let Some(env) = Env::postgres("sigkill during a scheduled run") {
        sigkill_during_a_scheduled_run(&env);
    }
}

fn sigkill_during_a_scheduled_run(env: &Env) {
    let upstream = bulk_feed(env);
    let token = env.ok(&["token", "create", "--name", "ci", "--role", "admin"]);
    let token = token.trim();

    let mut first = env.serve("serve-1.log", &[]);
    let cut = running_with_commits(env, "bulk-feed");
    first.kill9();
    let committed = env.sightings();
    assert!(committed >= cut.counts.new && committed < ROWS);
    assert_eq!(env.jobs_pending(), 1, "its job is still leased");

    let second = env.serve("serve-2.log", &[]);
    let killed_at = Instant::now();
    // The dead node's lease still holds the job: asking again queues nothing twice.
    let (status, body) = http(&second.addr, "POST", "/api/v1/sources/bulk-feed/run", token);
    assert_eq!(status, 202, "{body}");
    assert!(body.contains("\"queued\":false"), "{body}");

    let swept = env.wait_for("the dead run marked interrupted", || {
        let run = env.run("bulk-feed", cut.id);
        (run.outcome != RunOutcome::Running).then_some(run)
    });
    assert_interrupted(&swept, committed);
    eprintln!(
        "dead run marked interrupted {:.1} s after the new node started",
        killed_at.elapsed().as_secs_f64()
    );

    // Its lease runs out and the job runs again: exactly the rest is new.
    let rerun = env.wait_for("the job to run again", || {
        let run = env.runs("bulk-feed").into_iter().next()?;
        (run.id != cut.id && run.outcome != RunOutcome::Running).then_some(run)
    });
    eprintln!(
        "job ran again and finished {:.1} s after the new node started",
        killed_at.elapsed().as_secs_f64()
    );
    assert_eq!(rerun.outcome, RunOutcome::Success, "{rerun:?}");
    assert_eq!(rerun.counts.new, ROWS - committed, "{:?}", rerun.counts);
    assert_eq!(rerun.counts.unchanged, committed);
    assert_eq!(env.sightings(), ROWS);
    assert_eq!(upstream.hits(), 2);
    assert_eq!(env.runs("bulk-feed").len(), 2, "no overlapping run");
    // The job is done: a run can be asked for again.
    let (_, body) = http(&second.addr, "POST", "/api/v1/sources/bulk-feed/run", token);
    assert!(body.contains("\"queued\":true"), "{body}");
    let (_, runs) = http(&second.addr, "GET", "/api/v1/sources/bulk-feed/runs", token);
    assert!(runs.contains("\"outcome\":\"interrupted\""), "{runs}");
}

// --- SIGKILL during alert delivery ---------------------------------------

/// A webhook receiver recording each delivery id; slow to answer while
/// `slow` is set, so a kill lands while a delivery is in flight.
struct Receiver {
    url: String,
    ids: Arc<Mutex<Vec<String>>>,
    slow: Arc<AtomicBool>,
}

fn receiver() -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let ids = Arc::new(Mutex::new(Vec::new()));
    let slow = Arc::new(AtomicBool::new(true));
    let (seen, wait) = (Arc::clone(&ids), Arc::clone(&slow));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let mut reader = BufReader::new(stream);
            let (mut id, mut length) = (None, 0usize);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("x-rexist-delivery:") {
                    id = Some(v.trim().to_owned());
                } else if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            if let Some(id) = id {
                seen.lock().unwrap().push(id);
            }
            if wait.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_secs(2));
            }
            let _ = reader
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    Receiver { url, ids, slow }
}

/// A hunt named `watched` on 198.51.100.0/24 alerting the channel `hook`.
fn watch_documentation_net(env: &Env) {
    env.ok(&[
        "hunt",
        "add",
        "watched",
        "--watch",
        "198.51.100.0/24",
        "--channel",
        "hook",
    ]);
}

#[test]
fn sigkill_during_alert_delivery_on_sqlite() {
    sigkill_during_alert_delivery(&Env::sqlite());
}

#[test]
fn sigkill_during_alert_delivery_on_postgres() {
    if let Some(env) = Env::postgres("sigkill during alert delivery") {
        sigkill_during_alert_delivery(&env);
    }
}

fn sigkill_during_alert_delivery(env: &Env) {
    const HITS: usize = 5;
    let hook = receiver();
    env.write_config(&format!(
        "[[channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\n",
        hook.url
    ));
    watch_documentation_net(env);
    let mut lines = String::new();
    for i in 1..=HITS {
        let _ = writeln!(lines, "198.51.100.{i}");
    }
    lines.push_str(&ip_lines(0, 100));
    std::fs::write(env.path("hits.txt"), lines).unwrap();
    let mut ingest = env
        .command(
            &["ingest", "file", "hits.txt", "--source", "mixed"],
            "ingest.log",
        )
        .spawn()
        .unwrap();
    // The first alert is answered; the kill lands while the second is in flight.
    env.wait_for("a second delivery", || {
        (hook.ids.lock().unwrap().len() >= 2).then_some(())
    });
    ingest.kill().unwrap();
    ingest.wait().unwrap();
    let in_flight = hook.ids.lock().unwrap()[1].clone();

    // Nothing committed is lost: the run had ended, every hit has its alert.
    let runs = env.runs("mixed");
    assert_eq!(runs[0].outcome, RunOutcome::Success);
    assert_eq!(env.sightings(), 100 + u64::try_from(HITS).unwrap());
    let alerts = |status: AlertStatus| {
        env.rt
            .block_on(env.store.list_alerts(&AlertQuery {
                status: Some(status),
                limit: 100,
                ..AlertQuery::default()
            }))
            .unwrap()
            .items
            .len()
    };
    assert_eq!(alerts(AlertStatus::Sent), 1);
    assert_eq!(alerts(AlertStatus::Pending), HITS - 1);

    // A restarted node sends the rest; the one in flight again once its lease ran out.
    hook.slow.store(false, Ordering::SeqCst);
    let _node = env.serve("serve.log", &[]);
    env.wait_for("every alert sent", || {
        (alerts(AlertStatus::Sent) == HITS).then_some(())
    });
    let ids = hook.ids.lock().unwrap().clone();
    let mut times: BTreeMap<&str, usize> = BTreeMap::new();
    for id in &ids {
        *times.entry(id.as_str()).or_default() += 1;
    }
    assert_eq!(times.len(), HITS, "every alert delivered: {ids:?}");
    for (id, n) in &times {
        let expected = if *id == in_flight { 2 } else { 1 };
        assert_eq!(*n, expected, "{id} delivered {n} times: {ids:?}");
    }
}

// --- SIGTERM during a source run under `serve` ---------------------------

#[test]
fn sigterm_stops_serve_within_its_grace_on_sqlite() {
    sigterm_stops_serve_within_its_grace(&Env::sqlite());
}

#[test]
fn sigterm_stops_serve_within_its_grace_on_postgres() {
    if let Some(env) = Env::postgres("sigterm during a scheduled run") {
        sigterm_stops_serve_within_its_grace(&env);
    }
}

fn sigterm_stops_serve_within_its_grace(env: &Env) {
    let upstream = bulk_feed(env);
    // A grace shorter than the run, so the run is cut short.
    let grace = Duration::from_secs(1);
    let mut node = env.serve("serve-1.log", &[("REXIST_SHUTDOWN_GRACE_MS", "1000")]);
    let cut = running_with_commits(env, "bulk-feed");
    let signalled = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &node.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // Bound: the grace, 5 s for cut runs to record themselves, and slack.
    let bound = grace + Duration::from_secs(5) + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = node.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            signalled.elapsed() < bound,
            "serve still running {bound:?} after SIGTERM: {}",
            env.log("serve-1.log")
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!(
        "serve exited {:.2} s after SIGTERM",
        signalled.elapsed().as_secs_f64()
    );
    assert_eq!(exit.code(), Some(0), "{}", env.log("serve-1.log"));
    let ended = env.run("bulk-feed", cut.id);
    assert!(
        matches!(ended.outcome, RunOutcome::Success | RunOutcome::Interrupted),
        "never left running: {ended:?}"
    );
    assert!(ended.finished_at.is_some());
    eprintln!("run after SIGTERM: {}", ended.outcome.as_str());
    let committed = env.sightings();
    if ended.outcome == RunOutcome::Interrupted {
        assert!(ended.counts.new <= committed, "{:?}", ended.counts);
        assert!(
            ended
                .error
                .as_deref()
                .unwrap_or_default()
                .contains("shutting down"),
            "{ended:?}"
        );
        // Its job was handed back, queued: the next start runs it at once.
        assert_eq!(env.jobs_pending(), 1);
        let _next = env.serve("serve-2.log", &[]);
        let rerun = env.wait_for("the handed-back job to run", || {
            let run = env.runs("bulk-feed").into_iter().next()?;
            (run.id != cut.id && run.outcome != RunOutcome::Running).then_some(run)
        });
        assert_eq!(rerun.outcome, RunOutcome::Success, "{rerun:?}");
        assert_eq!(rerun.counts.new, ROWS - committed);
        assert_eq!(env.sightings(), ROWS);
        assert_eq!(upstream.hits(), 2);
    }
}

// --- Several nodes on one PostgreSQL ------------------------------------

/// Three workers (one of them `all`) and a web node on one PostgreSQL, a
/// source due every 10 s and a hunt alerting a webhook; the worker running
/// the first run is killed (SIGKILL) mid-run. Runs never overlap, each slot runs
/// once, the dead node's run ends interrupted and its slot runs again on
/// another node, and every alert is delivered exactly once.
#[test]
fn nodes_share_one_postgres_through_a_kill() {
    let every = time::Duration::seconds(10);
    let Some(env) = Env::postgres("several nodes on one PostgreSQL") else {
        return;
    };
    let hook = receiver();
    hook.slow.store(false, Ordering::SeqCst);
    // Each fetch lists three new watched addresses; the first one answers
    // slowly, so the run it belongs to is still going when its node dies.
    let served = Arc::new(AtomicU32::new(0));
    let count = Arc::clone(&served);
    let upstream = env.rt.block_on(rexist_testkit::serve(move |_, _, _| {
        let n = count.fetch_add(1, Ordering::SeqCst);
        let mut body = String::new();
        for i in 1..=3 {
            let _ = writeln!(body, "198.51.100.{}", n * 3 + i);
        }
        let delay = if n == 0 {
            Duration::from_secs(8)
        } else {
            Duration::from_millis(300)
        };
        (
            rexist_testkit::response("200 OK", "Content-Type: text/plain\r\n", body.as_bytes()),
            delay,
        )
    }));
    env.write_config(&format!(
        "[[source]]\nname = \"pulse\"\nkind = \"et\"\nurl = \"{}/feed.txt\"\nschedule = \"10s\"\n\n\
         [[channel]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\n",
        upstream.base, hook.url
    ));
    watch_documentation_net(&env);
    let token = env.ok(&["token", "create", "--name", "ci", "--role", "admin"]);
    let token = token.trim();
    let grace = ("REXIST_SHUTDOWN_GRACE_MS", "5000");

    let mut doomed = env.serve("worker-a.log", &[("REXIST_ROLE", "worker"), grace]);
    let first = env.wait_for("the first run to start", || {
        env.runs("pulse")
            .into_iter()
            .find(|r| r.outcome == RunOutcome::Running)
    });
    let mut nodes = vec![
        env.serve("worker-b.log", &[("REXIST_ROLE", "worker"), grace]),
        env.serve("all-c.log", &[("REXIST_ROLE", "all"), grace]),
    ];
    let web = env.serve("web-d.log", &[("REXIST_ROLE", "web"), grace]);
    assert_eq!(env.run("pulse", first.id).outcome, RunOutcome::Running);
    doomed.kill9();
    let killed_at = time::OffsetDateTime::now_utc();

    // The slot the dead node held runs again elsewhere, then three more slots.
    env.wait_for("the dead run marked and four runs after it", || {
        let runs = env.runs("pulse");
        let done = runs
            .iter()
            .filter(|r| r.outcome == RunOutcome::Success)
            .count();
        (env.run("pulse", first.id).outcome == RunOutcome::Interrupted && done >= 4).then_some(())
    });

    // The web node answers the API; a worker only its health.
    let (status, runs) = http(&web.addr, "GET", "/api/v1/sources/pulse/runs", token);
    assert_eq!(status, 200, "{runs}");
    assert!(runs.contains("\"outcome\":\"interrupted\""), "{runs}");
    let (status, body) = http(&nodes[0].addr, "GET", "/api/v1/sources", token);
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("--role worker"), "{body}");
    assert_eq!(http(&nodes[0].addr, "GET", "/healthz", token).0, 200);

    // No more slots: the runs in progress end and every alert they raised
    // is delivered before the nodes stop (an alert still pending at a stop
    // is delivered at the next start, which this test does not wait for).
    let (status, body) = http(&web.addr, "POST", "/api/v1/sources/pulse/disable", token);
    assert!((200..300).contains(&status), "{status} {body}");
    let all_alerts = || {
        env.rt
            .block_on(env.store.list_alerts(&AlertQuery {
                limit: 1000,
                ..AlertQuery::default()
            }))
            .unwrap()
            .items
    };
    env.wait_for("the last runs to end and their alerts to be sent", || {
        let idle = env.jobs_pending() == 0;
        let unsent = all_alerts()
            .iter()
            .filter(|a| a.status != AlertStatus::Sent)
            .count();
        (idle && unsent == 0).then_some(())
    });

    // Stopped gracefully, so no delivery is in flight when it is counted.
    for node in &mut nodes {
        let status = Command::new("kill")
            .args(["-TERM", &node.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
    for node in &mut nodes {
        let exit = node.child.wait().unwrap();
        assert_eq!(exit.code(), Some(0), "{}", env.all_logs());
    }

    let mut runs = env.runs("pulse");
    runs.sort_by_key(|r| r.started_at);
    assert_eq!(
        upstream.hits(),
        runs.len(),
        "each run fetched once: {runs:?}"
    );
    for pair in runs.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.id == first.id {
            assert_eq!(a.outcome, RunOutcome::Interrupted, "{a:?}");
            assert!(a.finished_at.is_some());
            // Its node died at the kill: the next run started after it.
            assert!(b.started_at >= killed_at, "overlapping runs: {a:?} {b:?}");
            continue;
        }
        assert!(
            matches!(a.outcome, RunOutcome::Success | RunOutcome::Interrupted),
            "{a:?}"
        );
        let end = a.finished_at.unwrap();
        assert!(end <= b.started_at, "overlapping runs: {a:?} {b:?}");
        // One run per slot: the next one only when this one's slot is over.
        assert!(
            b.started_at - a.started_at >= every - time::Duration::milliseconds(10),
            "two runs in one slot: {a:?} {b:?}"
        );
    }

    let alerts = all_alerts();
    assert!(!alerts.is_empty());
    for alert in &alerts {
        assert_eq!(alert.status, AlertStatus::Sent, "{alert:?}");
    }
    let ids = hook.ids.lock().unwrap().clone();
    let mut times: BTreeMap<&str, usize> = BTreeMap::new();
    for id in &ids {
        *times.entry(id.as_str()).or_default() += 1;
    }
    assert_eq!(times.len(), alerts.len(), "every alert delivered: {ids:?}");
    assert!(
        times.values().all(|n| *n == 1),
        "an alert delivered twice: {ids:?}"
    );
    // Only workers ran sources.
    assert!(!env.log("web-d.log").contains("source run finished"));
    let by_workers = ["worker-b.log", "all-c.log"]
        .iter()
        .map(|l| env.log(l).matches("source run finished").count())
        .sum::<usize>();
    assert_eq!(by_workers, runs.len() - 1, "{}", env.all_logs());
    drop(web);
}
