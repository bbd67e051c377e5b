//! The web UI in a real browser: `rexist serve` on a temporary data
//! directory driven by headless chromium through playwright-core
//! (tests/e2e/flow.mjs): log in, search, open an indicator, create a hunt,
//! see its hit on the dashboard after an ingest, read the dashboard in
//! Japanese, and on a 390 px phone open every main page in English and
//! Japanese, none wider than the screen; and a first start
//! (`tests/e2e/first_start.mjs`): `rexist serve` on an empty data
//! directory, `rexist demo`, log in as the first admin and see the demo in
//! English and Japanese. Skipped with a note unless `REXIST_CHROMIUM` and
//! `REXIST_PLAYWRIGHT` are set (`eval "$(bash scripts/browser.sh)"`).
//!
//! Screenshots go to a temporary directory, or to `REXIST_SCREENSHOTS`
//! (`REXIST_SCREENSHOTS=docs/screenshots cargo test --test ui_e2e`
//! refreshes the documentation's).

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rexist_testkit::fixture;

const USER: &str = "e2e";
const PASSWORD: &str = "e2e-correct-horse-battery-staple";

/// The whole browser flow's bound.
const FLOW_LIMIT: Duration = Duration::from_secs(150);

fn rexist(dir: &Path, args: &[&str], stdin: &str) -> Output {
    rexist_testkit::run_with_stdin(env!("CARGO_BIN_EXE_rexist"), dir, args, stdin)
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Kills a child when dropped, so a failing assertion leaves nothing running.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path) -> (Killed, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rexist"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .env_remove("REXIST_DATABASE_URL")
        .env_remove("REXIST_DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = Killed(child);
    let mut stdout = BufReader::new(stdout);
    let mut line = String::new();
    let started = Instant::now();
    while !line.contains("listening on http://") {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "serve exited before listening"
        );
        assert!(started.elapsed() < Duration::from_secs(30));
    }
    // Keep draining what serve prints so it never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let addr = line.trim().rsplit("http://").next().unwrap().to_owned();
    (child, format!("http://{addr}"))
}

/// Runs `tests/e2e/SCRIPT` against `base` as [`USER`] and returns its
/// result line. The scripts bound themselves (120 s) and always end with it.
fn browser_flow(
    script: &str,
    base: &str,
    shots: &Path,
    chromium: &std::ffi::OsStr,
    playwright: &std::ffi::OsStr,
) -> serde_json::Value {
    let out = Command::new("node")
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/e2e")
                .join(script),
        )
        .args([base, USER, PASSWORD])
        .arg(shots)
        .env("REXIST_CHROMIUM", chromium)
        .env("REXIST_PLAYWRIGHT", playwright)
        .env("NODE_PATH", Path::new(playwright).join("node_modules"))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no result from the browser flow {script}: {stdout}"))
}

/// What every browser test starts from.
struct Browser {
    chromium: std::ffi::OsString,
    playwright: std::ffi::OsString,
    /// The data directory.
    dir: tempfile::TempDir,
    /// Where screenshots go: `REXIST_SCREENSHOTS` (below the repository) or the
    /// data directory.
    shots: PathBuf,
}

/// Chromium and playwright-core as `scripts/browser.sh` sets them up, a data
/// directory and where screenshots go; `None`, with a note, when the browser
/// is not set up.
fn browser() -> Option<Browser> {
    let (Some(chromium), Some(playwright)) = (
        std::env::var_os("REXIST_CHROMIUM"),
        std::env::var_os("REXIST_PLAYWRIGHT"),
    ) else {
        eprintln!(
            "note: browser test skipped; set REXIST_CHROMIUM and REXIST_PLAYWRIGHT \
             (eval \"$(bash scripts/browser.sh)\")"
        );
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let shots: PathBuf = std::env::var_os("REXIST_SCREENSHOTS").map_or_else(
        || dir.path().join("screenshots"),
        |d| Path::new(env!("CARGO_MANIFEST_DIR")).join(d),
    );
    Some(Browser {
        chromium,
        playwright,
        dir,
        shots,
    })
}

#[test]
fn the_ui_works_in_a_real_browser() {
    let Some(Browser {
        chromium,
        playwright,
        dir,
        shots,
    }) = browser()
    else {
        return;
    };

    ok(&rexist(
        dir.path(),
        &["user", "add", USER, "--role", "admin"],
        &format!("{PASSWORD}\n"),
    ));
    let feed = fixture("blocklists/openphish/feed.txt");
    ok(&rexist(
        dir.path(),
        &[
            "ingest",
            "file",
            feed.to_str().unwrap(),
            "--source",
            "openphish",
        ],
        "",
    ));
    let (_serve, base) = serve(dir.path());

    let mut node = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/flow.mjs"))
        .args([base.as_str(), USER, PASSWORD])
        .arg(&shots)
        .env("REXIST_CHROMIUM", &chromium)
        .env("REXIST_PLAYWRIGHT", &playwright)
        .env("NODE_PATH", Path::new(&playwright).join("node_modules"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run node");
    let mut to_node = node.stdin.take().unwrap();
    let from_node = BufReader::new(node.stdout.take().unwrap());
    let node = Killed(node);
    let (lines, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in from_node.lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });

    let started = Instant::now();
    let mut result = None;
    while result.is_none() {
        let left = FLOW_LIMIT.saturating_sub(started.elapsed());
        let line = match lines_rx.recv_timeout(left) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("the browser flow took over {FLOW_LIMIT:?}")
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("the browser flow ended without a result")
            }
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            eprintln!("flow: {line}");
            continue;
        };
        if v["step"] == "hunt-created" {
            // A second list, naming the watched address: the hunt hits.
            let list = fixture("blocklists/cins/ci-badguys.txt");
            ok(&rexist(
                dir.path(),
                &["ingest", "file", list.to_str().unwrap(), "--source", "cins"],
                "",
            ));
            writeln!(to_node, "ingested").unwrap();
        } else if v.get("ok").is_some() {
            result = Some(v);
        }
    }
    drop(node);
    let result = result.unwrap();
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["hit_seen"], true, "{result}");
    assert_eq!(result["triaged"], true, "{result}");
    assert_eq!(result["japanese"], true, "{result}");
    assert_eq!(result["narrow"], true, "{result}");
    assert_eq!(result["indicator_ja"], true, "{result}");
    assert!(
        result["local_time"].as_str().unwrap().ends_with("GMT+9"),
        "{result}"
    );
    assert!(
        result["indicator_url"]
            .as_str()
            .unwrap()
            .starts_with("/indicators/url/"),
        "{result}"
    );
    for png in [
        "login.png",
        "dashboard.png",
        "search.png",
        "indicator.png",
        "hunt-new.png",
        "hunts.png",
        "hunt.png",
        "dashboard-ja.png",
        "dashboard-phone.png",
        "indicator-phone-ja.png",
    ] {
        let bytes = std::fs::read(shots.join(png)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{png}");
    }
}

/// A new user's first ten minutes (`tests/e2e/first_start.mjs`): `rexist
/// serve` on an empty data directory creates `admin` and its password file,
/// `rexist demo` loads the sample while it serves, and the browser logs in
/// with that password, sees the demo on the dashboard in English and in
/// Japanese, finds a Japanese demo item by searching ランサムウェア, and
/// pivots through a demo domain's relation graph (a click and Enter expand
/// nodes, unticking a relation hides its edges, it fits a 390 px phone).
#[test]
fn a_first_start_with_the_demo_works_in_a_real_browser() {
    let Some(Browser {
        chromium,
        playwright,
        dir,
        shots,
    }) = browser()
    else {
        return;
    };

    // No user beforehand: serve creates the first admin.
    let (_serve, base) = serve(dir.path());
    ok(&rexist(dir.path(), &["demo"], ""));
    let file = dir.path().join("data").join("initial-admin-password");
    let password = String::from_utf8(std::fs::read(&file).unwrap()).unwrap();
    let password = password.trim_end();
    assert!(password.len() >= 20, "{}", file.display());

    let mut node = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/first_start.mjs"))
        .args([base.as_str(), "admin", password])
        .arg(&shots)
        .env("REXIST_CHROMIUM", &chromium)
        .env("REXIST_PLAYWRIGHT", &playwright)
        .env("NODE_PATH", Path::new(&playwright).join("node_modules"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run node");
    let from_node = BufReader::new(node.stdout.take().unwrap());
    let node = Killed(node);
    let (lines, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in from_node.lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });

    let started = Instant::now();
    let result = loop {
        let left = FLOW_LIMIT.saturating_sub(started.elapsed());
        let line = match lines_rx.recv_timeout(left) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("the browser flow took over {FLOW_LIMIT:?}")
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("the browser flow ended without a result")
            }
        };
        match serde_json::from_str::<serde_json::Value>(&line) {
            Ok(v) if v.get("ok").is_some() => break v,
            _ => eprintln!("flow: {line}"),
        }
    };
    drop(node);
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["english"], true, "{result}");
    assert_eq!(result["japanese"], true, "{result}");
    assert!(
        result["search_ja"]
            .as_str()
            .unwrap()
            .contains("ランサムウェア"),
        "{result}"
    );
    let graph = result["graph_nodes"].as_array().unwrap();
    assert!(
        graph[1].as_u64().unwrap() > graph[0].as_u64().unwrap(),
        "expanding a node adds nodes: {result}"
    );
    assert!(result["graph_hidden"].as_u64().unwrap() > 0, "{result}");
    assert!(
        result["graph_phone_width"].as_u64().unwrap() <= 390,
        "{result}"
    );
    for png in [
        "first-login.png",
        "first-dashboard.png",
        "first-dashboard-ja.png",
        "first-search-ja.png",
        "graph.png",
        "graph-phone.png",
    ] {
        let bytes = std::fs::read(shots.join(png)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{png}");
    }
}

/// Curation in the browser (`tests/e2e/curation.mjs`): an analyst pastes
/// text, picks and adds the indicators found, writes a note on one, marks
/// it a false positive, and it leaves the EDL export while the other stays;
/// then it labels the search results in bulk and the indicator page shows
/// the label, and the search page fits a 390 px phone.
#[test]
fn analysts_curate_in_a_real_browser() {
    let Some(Browser {
        chromium,
        playwright,
        dir,
        shots,
    }) = browser()
    else {
        return;
    };
    ok(&rexist(
        dir.path(),
        &["user", "add", USER, "--role", "analyst"],
        &format!("{PASSWORD}\n"),
    ));
    let (_serve, base) = serve(dir.path());
    let result = browser_flow("curation.mjs", &base, &shots, &chromium, &playwright);
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["added"], 2, "{result}");
    assert_eq!(result["noted"], true, "{result}");
    assert_eq!(result["gone_from_edl"], true, "{result}");
    assert_eq!(result["verdict_says_fp"], true, "{result}");
    assert_eq!(result["bulk_listed"], 2, "{result}");
    assert!(
        result["bulk_done"]
            .as_str()
            .unwrap_or_default()
            .contains("2 / 2"),
        "{result}"
    );
    assert_eq!(result["bulk_label_shown"], true, "{result}");
    assert!(
        result["search_phone_width"].as_u64().unwrap_or(u64::MAX) <= 390,
        "{result}"
    );
    for png in ["paste.png", "curation.png", "search-bulk.png"] {
        let bytes = std::fs::read(shots.join(png)).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{png}");
    }
}

/// Threat entities in the browser (`tests/e2e/entities.mjs`): an OTX source
/// runs against a loopback server serving the shared pulses; the analyst
/// opens the pulse, follows the link to the actor it names, sees the
/// pulse's indicators and the pulse on the actor's page, follows the actor
/// and sees it on the dashboard; the page fits a 390 px phone and reads in
/// Japanese.
#[test]
fn an_otx_actor_page_lists_its_indicators_in_a_real_browser() {
    let Some(Browser {
        chromium,
        playwright,
        dir,
        shots,
    }) = browser()
    else {
        return;
    };
    // The shared OTX pages, page 1's `next` pointing back at the loopback server.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let base_url: std::sync::Arc<std::sync::Mutex<String>> = std::sync::Arc::default();
    let b = std::sync::Arc::clone(&base_url);
    let up = rt.block_on(rexist_testkit::serve(move |path, _, _| {
        let base = b.lock().map(|g| g.clone()).unwrap_or_default();
        let body = if path.contains("page=2") {
            rexist_testkit::fixture_bytes("otx/pulses-subscribed-page2.json")
        } else {
            String::from_utf8(rexist_testkit::fixture_bytes(
                "otx/pulses-subscribed-page1.json",
            ))
            .unwrap()
            .replace("https://otx.alienvault.com", &base)
            .into_bytes()
        };
        (
            rexist_testkit::response("200 OK", "Content-Type: application/json\r\n", &body),
            Duration::ZERO,
        )
    }));
    *base_url.lock().unwrap() = up.base.clone();
    std::fs::write(dir.path().join("otx.key"), "e2e-otx-key").unwrap();
    std::fs::write(
        dir.path().join("rexist.toml"),
        format!(
            "default_sources = false\n[[source]]\nname = \"otx\"\nkind = \"otx\"\nurl = \"{}\"\n\
             [source.headers_file]\n\"X-OTX-API-KEY\" = \"otx.key\"\n",
            up.base
        ),
    )
    .unwrap();
    ok(&rexist(dir.path(), &["source", "run", "otx"], ""));
    ok(&rexist(
        dir.path(),
        &["user", "add", USER, "--role", "analyst"],
        &format!("{PASSWORD}\n"),
    ));
    let (_serve, base) = serve(dir.path());
    let result = browser_flow("entities.mjs", &base, &shots, &chromium, &playwright);
    assert_eq!(result["ok"], true, "{result}");
    assert!(
        result["pulse_entities"].as_u64().unwrap_or(0) >= 3,
        "{result}"
    );
    assert_eq!(result["actor_lists_c2"], true, "{result}");
    assert_eq!(result["actor_lists_pulse"], true, "{result}");
    assert!(result["graph_nodes"].as_u64().unwrap_or(0) >= 3, "{result}");
    assert_eq!(result["graph_expanded"], true, "{result}");
    assert!(
        result["follow_hunt"]
            .as_str()
            .unwrap_or_default()
            .contains("follow-examplepanda"),
        "{result}"
    );
    assert_eq!(result["dashboard_follows"], true, "{result}");
    assert!(
        result["entity_phone_width"].as_u64().unwrap_or(u64::MAX) <= 390,
        "{result}"
    );
    assert_eq!(result["japanese_kind"], true, "{result}");
    let bytes = std::fs::read(shots.join("entity.png")).unwrap();
    assert!(bytes.starts_with(b"\x89PNG"));
    drop(rt);
}
