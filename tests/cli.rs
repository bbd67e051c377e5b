//! End to end: the `rexist` binary on a temporary data directory, fed the
//! shared fixtures, as a user or a script runs it.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rexist_testkit::fixture;

fn rexist(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rexist"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(args)
        .current_dir(dir)
        .env_remove("REXIST_DATABASE_URL")
        .env_remove("REXIST_DATA_DIR")
        .output()
        .expect("run rexist")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn version_and_help() {
    let dir = tempfile::tempdir().unwrap();
    let out = rexist(dir.path(), &["--version"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).starts_with("rexist "));
    let out = rexist(dir.path(), &["ingest", "file", "--help"]);
    assert!(text(&out.stdout).contains("--column"));
}

#[test]
fn ingest_plain_list_rejects_bad_lines_by_number_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let list = fixture("blocklists/plain-ip-list-bad.txt");
    let out = rexist(
        dir.path(),
        &[
            "ingest",
            "file",
            list.to_str().unwrap(),
            "--source",
            "plain",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    // 192.0.2.130, 198.51.100.131 (padded), 192.0.2.132 (trailing comment),
    // 192.0.2[.]133 (defanged), 2001:db8::134 (no final newline).
    assert!(stdout.contains("stored new: 5 sightings"), "{stdout}");
    assert!(stdout.contains("rejected: 3"), "{stdout}");
    assert!(stdout.contains("1 invalid ipv4"), "{stdout}");
    assert!(stdout.contains("1 invalid UTF-8"), "{stdout}");
    for line in [
        ":5: rejected: invalid ipv4",
        ":6: rejected: unrecognised value",
        ":8: rejected: invalid UTF-8",
    ] {
        assert!(stderr.contains(line), "{line} in {stderr}");
    }
    let again = rexist(
        dir.path(),
        &[
            "ingest",
            "file",
            list.to_str().unwrap(),
            "--source",
            "plain",
        ],
    );
    let stdout = text(&again.stdout);
    assert!(stdout.contains("stored new: 0 sightings"), "{stdout}");
    assert!(stdout.contains("already known: 5"), "{stdout}");
}

#[test]
fn ingest_csv_column_from_a_commented_header() {
    let dir = tempfile::tempdir().unwrap();
    let good = fixture("abusech/urlhaus/csv_recent.csv");
    let bad = fixture("abusech/urlhaus/csv_recent-bad.csv");
    let args = |p: &Path| {
        vec![
            "ingest",
            "file",
            p.to_str().unwrap().to_owned().leak(),
            "--source",
            "urlhaus",
            "--column",
            "url",
            "--type",
            "url",
        ]
    };
    let out = rexist(dir.path(), &args(&good));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("stored new: 5 sightings"),
        "{}",
        text(&out.stdout)
    );

    let out = rexist(dir.path(), &args(&bad));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(stdout.contains("rejected: 3"), "{stdout}");
    assert!(
        stderr.contains(":11: rejected: expected 9 fields, found 4"),
        "{stderr}"
    );
    assert!(stderr.contains(":12: rejected: invalid UTF-8"), "{stderr}");
    assert!(
        stderr.contains(":14: rejected: unterminated quoted field"),
        "{stderr}"
    );

    let out = rexist(
        dir.path(),
        &[
            "ingest",
            "file",
            good.to_str().unwrap(),
            "--source",
            "urlhaus",
            "--column",
            "nope",
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no column named \"nope\""),
        "{}",
        text(&out.stderr)
    );
    // The failed command lost nothing: the same file is still all known.
    let out = rexist(dir.path(), &args(&good));
    assert!(
        text(&out.stdout).contains("already known: 5"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn config_errors_name_the_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "data_dir = \"d\"\n\n[server]\nlistn = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let out = rexist(dir.path(), &["--config", "bad.toml", "config", "check"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("line 4") && stderr.contains("listn"),
        "{stderr}"
    );

    std::fs::write(
        dir.path().join("good.toml"),
        "[server]\nlisten = \"127.0.0.1:9999\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rexist"))
        .args(["--config", "good.toml", "config", "check"])
        .current_dir(dir.path())
        .env(
            "REXIST_DATABASE_URL",
            "postgres://rexist:hunter2@db.example/cti",
        )
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("server.listen = 127.0.0.1:9999"),
        "{stdout}"
    );
    assert!(
        stdout.contains("postgres://rexist:***@db.example/cti"),
        "{stdout}"
    );
    assert!(!stdout.contains("hunter2"));
}

#[test]
fn a_corrupt_database_stops_with_one_message_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let garbage = b"this is not a database, but it is someone's file".repeat(200);
    std::fs::write(data.join("rexist.db"), &garbage).unwrap();
    let out = rexist(dir.path(), &["migrate"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("rexist: cannot open the store"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        std::fs::read(data.join("rexist.db")).unwrap(),
        garbage,
        "file untouched"
    );
}

#[test]
fn an_unreachable_postgres_is_one_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rexist"))
        .arg("migrate")
        .current_dir(dir.path())
        .env(
            "REXIST_DATABASE_URL",
            "postgres://rexist:hunter2@127.0.0.1:9/cti",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot connect to PostgreSQL at postgres://rexist:***@127.0.0.1:9/cti"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

fn http_get(addr: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
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

#[test]
fn serve_answers_health_metrics_home_and_api_and_runs_sources_on_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let list = fixture("blocklists/cins/ci-badguys.txt");
    let out = rexist(
        dir.path(),
        &["ingest", "file", list.to_str().unwrap(), "--source", "cins"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = rexist(
        dir.path(),
        &["token", "create", "--name", "ci", "--role", "viewer"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_owned();
    let token = token.as_str();
    // What a Prometheus scraper holds: a token for /metrics alone.
    let out = rexist(
        dir.path(),
        &[
            "token", "create", "--name", "prom", "--role", "viewer", "--scope", "metrics",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let scraper = text(&out.stdout).trim().to_owned();

    // A loopback upstream for one configured source; the catalogue stays off,
    // so nothing reaches beyond this machine.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let et = std::fs::read(fixture("blocklists/et/compromised-ips.txt")).unwrap();
    let upstream = runtime.block_on(rexist_testkit::serve(move |_, _, _| {
        (rexist_testkit::response("200 OK", "", &et), Duration::ZERO)
    }));
    std::fs::write(
        dir.path().join("rexist.toml"),
        format!(
            "default_sources = false\n\n[[source]]\nname = \"loopback-et\"\nkind = \"et\"\nurl = \"{}/blockrules/compromised-ips.txt\"\n",
            upstream.base
        ),
    )
    .unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_rexist"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env_remove("REXIST_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
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
    let addr = line.trim().rsplit("http://").next().unwrap().to_owned();

    let (status, health) = http_get(&addr, "/healthz", None);
    assert_eq!(status, 200, "{health}");
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    let (status, _) = http_get(&addr, "/api/v1/indicators", None);
    assert_eq!(status, 401, "only /healthz answers without credentials");
    let (_, home) = http_get(&addr, "/", Some(token));
    assert!(home.contains("cins"), "{home}");
    let (status, indicators) = http_get(&addr, "/api/v1/indicators?type=ipv4", Some(token));
    assert_eq!(status, 200);
    assert!(
        indicators.contains("\"value\":\"192.0.2.100\""),
        "{indicators}"
    );
    let (status, runs) = http_get(&addr, "/api/v1/sources/cins/runs", Some(token));
    assert_eq!(status, 200);
    assert!(runs.contains("\"outcome\":\"success\""), "{runs}");
    let (status, _) = http_get(&addr, "/api/v1/indicators?type=nope", Some(token));
    assert_eq!(status, 400);

    // The scheduler runs the configured source by itself.
    let mut scheduled = String::new();
    while !scheduled.contains("\"outcome\":\"success\"") {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no scheduled run: {scheduled}"
        );
        std::thread::sleep(Duration::from_millis(250));
        scheduled = http_get(&addr, "/api/v1/sources/loopback-et/runs", Some(token)).1;
    }
    assert!(scheduled.contains("\"new\":4"), "{scheduled}");
    assert_eq!(upstream.hits(), 1, "one run, not a loop");
    let (status, _) = http_get(&addr, "/metrics", Some(token));
    assert_eq!(status, 403, "a viewer without the metrics scope");
    let (status, _) = http_get(&addr, "/api/v1/indicators", Some(&scraper));
    assert_eq!(status, 403, "a metrics token is for /metrics alone");
    let (status, metrics) = http_get(&addr, "/metrics", Some(&scraper));
    assert_eq!(status, 200, "{metrics}");
    assert!(
        metrics.contains("rexist_indicators{type=\"ipv4\"} 7"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rexist_source_consecutive_failures{source=\"loopback-et\"} 0"),
        "{metrics}"
    );

    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn hunt_test_says_match_or_no_match_and_points_at_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = rexist(
        dir.path(),
        &[
            "hunt",
            "test",
            "ransomware lockbit, \"black cat\" -test",
            "--text",
            "ＬｏｃｋＢｉｔ ransomware hit a hospital",
        ],
    );
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "match\n  ransomware\n  lockbit\n");
    let out = rexist(
        dir.path(),
        &[
            "hunt",
            "test",
            "ransomware lockbit",
            "--text",
            "a test of lockbit ransomware",
        ],
    );
    assert!(out.status.success());
    assert!(text(&out.stdout).starts_with("match"));
    let out = rexist(
        dir.path(),
        &[
            "hunt",
            "test",
            "lockbit -test",
            "--text",
            "a test of lockbit",
        ],
    );
    assert!(out.status.success(), "exit 0 either way");
    assert_eq!(text(&out.stdout), "no match\n");
    let out = rexist(
        dir.path(),
        &[
            "hunt",
            "test",
            "脆弱性",
            "--text",
            "攻撃者は製品の脆弱性を悪用した",
        ],
    );
    assert_eq!(text(&out.stdout), "match\n  脆弱性\n");
    let out = rexist(
        dir.path(),
        &["hunt", "test", "lockbit \"unterminated", "--text", "x"],
    );
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("position 8") && stderr.contains("          ^"),
        "{stderr}"
    );
}

#[test]
fn hunts_from_the_command_line_see_what_ingest_stores() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rexist.toml"), "default_sources = false\n").unwrap();
    let ok = |args: &[&str]| {
        let out = rexist(dir.path(), args);
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    };
    assert!(
        ok(&[
            "hunt",
            "add",
            "ours",
            "--watch",
            "192.0.2.128/25, example[.]co.jp"
        ])
        .contains("added watch hunt ours")
    );
    // bad definitions and unknown channels are refused, naming the problem
    let out = rexist(dir.path(), &["hunt", "add", "q", "lockbit (x"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("position 8"),
        "{}",
        text(&out.stderr)
    );
    let out = rexist(
        dir.path(),
        &["hunt", "add", "w", "--watch", "not-an-indicator!"],
    );
    assert!(
        text(&out.stderr).contains("invalid watchlist"),
        "{}",
        text(&out.stderr)
    );
    let out = rexist(
        dir.path(),
        &["hunt", "add", "q", "lockbit", "--channel", "slack"],
    );
    assert!(
        text(&out.stderr).contains("--channel slack"),
        "{}",
        text(&out.stderr)
    );
    let out = rexist(dir.path(), &["hunt", "add", "ours", "other"]);
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        text(&out.stderr)
    );

    // the plain list holds 192.0.2.130, .132 and (defanged) .133 inside the watched /25
    let list = fixture("blocklists/plain-ip-list-bad.txt");
    ok(&[
        "ingest",
        "file",
        list.to_str().unwrap(),
        "--source",
        "plain",
    ]);
    let hits = ok(&["hunt", "hits"]);
    assert!(hits.contains("ipv4 192.0.2.130"), "{hits}");
    assert!(hits.contains("ipv4 192.0.2.132"), "{hits}");
    assert!(hits.contains("cidr:192.0.2.128/25"), "{hits}");
    assert!(!hits.contains("198.51.100"), "{hits}");
    // ingesting again adds no hit
    ok(&[
        "ingest",
        "file",
        list.to_str().unwrap(),
        "--source",
        "plain",
    ]);
    let json = ok(&["hunt", "hits", "--json"]);
    assert_eq!(json.lines().count(), 3, "{json}");
    let listed = ok(&["hunt", "list"]);
    assert!(
        listed.contains("ours") && listed.contains("watch"),
        "{listed}"
    );

    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    let id = first["id"].to_string();
    assert!(ok(&["hunt", "ack", &id]).contains("acknowledged 1 hit"));
    assert_eq!(ok(&["hunt", "hits", "--json"]).lines().count(), 2);
    assert!(ok(&["hunt", "ack", "--all"]).contains("acknowledged 2 hit"));
    assert!(ok(&["hunt", "hits"]).contains("no hits"));
    assert_eq!(ok(&["hunt", "hits", "--all", "--json"]).lines().count(), 3);

    // a query hunt added later finds stored history only by a retro-hunt
    ok(&["hunt", "add", "docs", "192.0.2.130"]);
    let retro = ok(&["hunt", "retro", "ours"]);
    assert!(retro.contains("0 new hit(s)"), "{retro}");
    ok(&["hunt", "edit", "ours", "--disable"]);
    assert!(ok(&["hunt", "list"]).contains("disabled"));
    ok(&["hunt", "rm", "ours"]);
    let out = rexist(dir.path(), &["hunt", "rm", "ours"]);
    assert!(
        text(&out.stderr).contains("no hunt named \"ours\""),
        "{}",
        text(&out.stderr)
    );
}

/// `rexist` with `input` on standard input.
fn rexist_stdin(dir: &Path, args: &[&str], input: &str) -> Output {
    rexist_testkit::run_with_stdin(env!("CARGO_BIN_EXE_rexist"), dir, args, input)
}

#[test]
fn typed_names_under_any_tld_are_refanged_looked_up_and_ingested() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rexist.toml"), "default_sources = false\n").unwrap();

    let out = rexist_stdin(
        dir.path(),
        &["refang"],
        "hxxp://evil[.]example/x and intranet[.]local\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "http://evil.example/x and intranet.local\n"
    );

    for (typed, value) in [
        ("login[.]phish[.]example", "login.phish.example"),
        ("hxxps://host[.]corp/x", "https://host.corp/x"),
        ("intranet[.]local", "intranet.local"),
    ] {
        let out = rexist(dir.path(), &["lookup", typed, "--json"]);
        assert!(out.status.success(), "{typed}: {}", text(&out.stderr));
        let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(a["value"], value, "{a}");
    }

    std::fs::write(
        dir.path().join("typed.txt"),
        "build01[.]corp\nhxxp://wiki[.]lan/x\n",
    )
    .unwrap();
    let out = rexist(
        dir.path(),
        &["ingest", "file", "typed.txt", "--source", "typed"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("rejected: 0"),
        "{}",
        text(&out.stdout)
    );
    let out = rexist(dir.path(), &["lookup", "build01.corp", "--json"]);
    let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(a["known"], true, "{a}");
}

#[test]
fn lookup_answers_from_the_store_with_warning_lists() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rexist.toml"), "default_sources = false\n").unwrap();
    let list = fixture("blocklists/plain-ip-list-bad.txt");
    let out = rexist(
        dir.path(),
        &[
            "ingest",
            "file",
            list.to_str().unwrap(),
            "--source",
            "plain",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = rexist(dir.path(), &["lookup", "192.0.2[.]130", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(a["value"], "192.0.2.130");
    assert_eq!(a["known"], true);
    assert_eq!(a["status"], "allowlisted", "documentation range: {a}");
    assert_eq!(a["warnings"][0]["list"], "rfc5735");
    assert_eq!(a["sources"][0]["source"], "plain");
    assert_eq!(a["early_warning"]["first_class"], "feed", "{a}");
    assert_eq!(a["early_warning"]["authority"], "blocklist");
    assert_eq!(a["early_warning"]["authority_report"]["source"], "plain");
    assert!(a["early_warning"]["lead_seconds"].is_null());

    // As STIX: the revoked (allow-listed) indicator and its source's
    // sighting, the same as the API's `?format=stix`.
    let out = rexist(dir.path(), &["lookup", "192.0.2.130", "--stix"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let b: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(b["type"], "bundle");
    let objs = b["objects"].as_array().unwrap();
    let ind = objs.iter().find(|o| o["type"] == "indicator").unwrap();
    assert_eq!(ind["revoked"], true);
    assert_eq!(ind["pattern"], "[ipv4-addr:value = '192.0.2.130']");
    let sighting = objs.iter().find(|o| o["type"] == "sighting").unwrap();
    assert_eq!(sighting["sighting_of_ref"], ind["id"]);

    let out = rexist(dir.path(), &["lookup", "192.0.2.130"]);
    let human = text(&out.stdout);
    assert!(human.contains("status: allowlisted"), "{human}");
    assert!(human.contains("warning list: rfc5735"), "{human}");
    // A file loaded by hand is a blocklist: it is its own authority.
    assert!(
        human.contains("early warning: first reported by plain (feed) "),
        "{human}"
    );

    let out = rexist(dir.path(), &["lookup", "what is this"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("what is this"),
        "{}",
        text(&out.stderr)
    );

    std::fs::write(
        dir.path().join("values.txt"),
        "192.0.2.130\n# comment\nnope nope\n91.92.93.94\n",
    )
    .unwrap();
    let out = rexist(dir.path(), &["lookup", "--file", "values.txt"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["known"], true);
    assert!(lines[1]["error"].is_string());
    assert_eq!(lines[2]["known"], false);
}

/// A loopback server answering every request with `status` and `body`,
/// for as many requests as `count`; stops by itself.
fn answering(status: &'static str, body: &'static str, count: usize) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(count) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 8192];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}")
}

#[test]
fn credentials_never_reach_the_logs_of_a_failing_run() {
    let dir = tempfile::tempdir().unwrap();
    let key = "otx-key-never-logged-4d2";
    let password = "taxii-password-never-logged-8e1";
    std::fs::write(dir.path().join("otx.key"), key).unwrap();
    std::fs::write(dir.path().join("taxii.pass"), password).unwrap();
    let otx = answering(
        "403 Forbidden",
        r#"{"detail":"Authentication required"}"#,
        4,
    );
    let taxii = answering("401 Unauthorized", r#"{"title":"Unauthorized"}"#, 4);
    std::fs::write(
        dir.path().join("rexist.toml"),
        format!(
            "default_sources = false\n\
             [[source]]\nname = \"otx\"\nkind = \"otx\"\nurl = \"{otx}\"\n\
             [source.headers_file]\n\"X-OTX-API-KEY\" = \"otx.key\"\n\
             [[source]]\nname = \"partner\"\nkind = \"taxii\"\nurl = \"{taxii}/taxii2/\"\ncollection = \"c\"\n\
             username = \"rexist\"\npassword_file = \"taxii.pass\"\n"
        ),
    )
    .unwrap();
    for name in ["otx", "partner"] {
        let out = Command::new(env!("CARGO_BIN_EXE_rexist"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["source", "run", name])
            .current_dir(dir.path())
            .env("REXIST_LOG", "trace")
            .env_remove("REXIST_DATABASE_URL")
            .output()
            .unwrap();
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!out.status.success(), "{all}");
        assert!(all.contains("40"), "the reason names the status: {all}");
        assert!(!all.contains(key), "{name}: key in the output: {all}");
        assert!(
            !all.contains(password),
            "{name}: password in the output: {all}"
        );
        assert!(
            !all.contains("cmV4aXN0OnRheGlpLXBhc3N3b3JkLW5ldmVyLWxvZ2dlZC04ZTE="),
            "{name}: basic credentials in the output"
        );
        assert!(all.lines().count() > 3, "trace logging was on: {all}");
    }
}

#[test]
fn users_tokens_and_exports_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let add = |name: &str, password: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rexist"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["user", "add", name, "--role", "analyst"])
            .current_dir(dir.path())
            .env_remove("REXIST_DATABASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = add("alice", "alice-password");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "added alice (analyst)");
    let out = add("alice", "another-password");
    assert!(!out.status.success(), "a taken name is refused");
    assert!(
        text(&out.stderr).contains("exists"),
        "{}",
        text(&out.stderr)
    );
    let out = add("bob", "short");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("at least 8"),
        "{}",
        text(&out.stderr)
    );

    let out = rexist(dir.path(), &["user", "disable", "alice"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = rexist(dir.path(), &["user", "list"]);
    assert_eq!(text(&out.stdout), "alice\tanalyst\tdisabled\n");

    // The token is the only line on stdout, so scripts can capture it.
    let out = rexist(
        dir.path(),
        &[
            "token", "create", "--name", "fw", "--role", "viewer", "--scope", "export",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let token = stdout.trim();
    assert!(token.starts_with("rexist_") && token.len() == 71, "{token}");
    let out = rexist(dir.path(), &["token", "list"]);
    let listed = text(&out.stdout);
    assert!(
        listed.starts_with("fw\tviewer\texport\trexist_"),
        "{listed}"
    );
    assert!(
        !listed.contains(&token[10..]),
        "list never shows the secret"
    );
    let out = rexist(dir.path(), &["token", "revoke", "fw"]);
    assert!(out.status.success());
    let out = rexist(dir.path(), &["token", "revoke", "fw"]);
    assert!(!out.status.success(), "revoking twice is an error");
    let out = rexist(
        dir.path(),
        &["token", "create", "--name", "x", "--role", "root"],
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("root"), "{}", text(&out.stderr));

    // Exports: ad hoc and saved, to a file and to stdout.
    let list = fixture("blocklists/cins/ci-badguys.txt");
    let out = rexist(
        dir.path(),
        &["ingest", "file", list.to_str().unwrap(), "--source", "cins"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The fixture's addresses are documentation ranges, allow-listed by the
    // warning lists: only `--all` exports them.
    let out = rexist(dir.path(), &["export", "--format", "edl", "--type", "ipv4"]);
    assert_eq!(text(&out.stdout), "");
    let out = rexist(
        dir.path(),
        &["export", "--format", "edl", "--type", "ipv4", "--all"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let edl = text(&out.stdout);
    assert!(edl.lines().any(|l| l == "192.0.2.100"), "{edl}");
    assert!(
        edl.lines().all(|l| l.parse::<std::net::Ipv4Addr>().is_ok()),
        "{edl}"
    );
    std::fs::write(
        dir.path().join("rexist.toml"),
        "[[export]]\nname = \"feed\"\nformat = \"misp\"\nactive_only = false\n\n[[export]]\nname = \"zeek\"\nformat = \"zeek\"\n",
    )
    .unwrap();
    let feed = dir.path().join("feed");
    let out = rexist(
        dir.path(),
        &["export", "feed", "--out", feed.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(feed.join("manifest.json")).unwrap()).unwrap();
    let uuid = manifest.as_object().unwrap().keys().next().unwrap().clone();
    assert!(feed.join(format!("{uuid}.json")).exists());
    assert!(feed.join("hashes.csv").exists());
    let out = rexist(dir.path(), &["export", "zeek"]);
    assert!(text(&out.stdout).starts_with("#fields\tindicator\tindicator_type"));
    let out = rexist(dir.path(), &["export", "nope"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no export named \"nope\""),
        "{}",
        text(&out.stderr)
    );
    // An export defined in the UI or the API (stored) is written by name too.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = rexist_store::open(None, &dir.path().join("data"))
            .await
            .unwrap();
        store
            .create_stored_export(
                "fw-edl",
                &serde_json::json!({"name": "fw-edl", "format": "edl", "types": ["ipv4"], "active_only": false}),
                "admin",
            )
            .await
            .unwrap();
    });
    let out = rexist(dir.path(), &["export", "fw-edl"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).lines().any(|l| l == "192.0.2.100"),
        "{}",
        text(&out.stdout)
    );
    let out = rexist(dir.path(), &["export", "--format", "pdf"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("pdf"), "{}", text(&out.stderr));
}

#[test]
fn a_misp_feed_exported_by_rexist_is_ingested_back_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let list = fixture("blocklists/cins/ci-badguys.txt");
    let out = rexist(
        dir.path(),
        &["ingest", "file", list.to_str().unwrap(), "--source", "cins"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let urls = fixture("blocklists/openphish/feed.txt");
    let out = rexist(
        dir.path(),
        &[
            "ingest",
            "file",
            urls.to_str().unwrap(),
            "--source",
            "openphish",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let feed = dir.path().join("feed");
    let out = rexist(
        dir.path(),
        &[
            "export",
            "--format",
            "misp",
            "--all",
            "--out",
            feed.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let exported = rexist(dir.path(), &["export", "--format", "edl", "--all"]);
    let mut before: Vec<String> = text(&exported.stdout).lines().map(str::to_owned).collect();
    before.sort();
    assert!(before.len() > 5, "{before:?}");

    // A second installation pulls the feed from a loopback web server.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let served = feed.clone();
    let upstream = runtime.block_on(rexist_testkit::serve(
        move |path, _, _| match std::fs::read(served.join(path.trim_start_matches('/'))) {
            Ok(body) => (
                rexist_testkit::response("200 OK", "Content-Type: application/json\r\n", &body),
                Duration::ZERO,
            ),
            Err(_) => (
                rexist_testkit::response("404 Not Found", "", b""),
                Duration::ZERO,
            ),
        },
    ));
    let other = tempfile::tempdir().unwrap();
    std::fs::write(
        other.path().join("rexist.toml"),
        format!(
            "default_sources = false\n\n[[source]]\nname = \"peer\"\nkind = \"misp-feed\"\nurl = \"{}\"\n",
            upstream.base
        ),
    )
    .unwrap();
    let out = rexist(other.path(), &["source", "run", "peer"]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let again = rexist(other.path(), &["export", "--format", "edl", "--all"]);
    let mut after: Vec<String> = text(&again.stdout).lines().map(str::to_owned).collect();
    after.sort();
    assert_eq!(
        before,
        after,
        "the round trip keeps every indicator: {}",
        text(&out.stdout)
    );
}

/// Items whose text matches `text`, straight from the store of `dir` (or `db`).
fn search_titles(dir: &Path, db: Option<&str>, text: &str) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = rexist_store::open(db, &dir.join("data")).await.unwrap();
        store
            .search_items(&rexist_store::ItemQuery {
                text: Some(text.to_owned()),
                ..rexist_store::ItemQuery::default()
            })
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|i| i.content.title)
            .collect()
    })
}

#[test]
fn demo_loads_sample_data_once_and_removes_only_it_on_sqlite() {
    demo_round_trip(None);
}

/// The same on PostgreSQL, in a fresh schema, when `REXIST_TEST_DATABASE_URL` is set.
#[test]
fn demo_loads_sample_data_once_and_removes_only_it_on_postgres() {
    let Ok(url) = std::env::var("REXIST_TEST_DATABASE_URL") else {
        eprintln!("REXIST_TEST_DATABASE_URL not set: demo on PostgreSQL skipped");
        return;
    };
    let schema = format!("rexist_demo_{}", std::process::id());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(rexist_store::postgres::PgStore::connect(
        &url,
        Some(&schema),
    ))
    .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    demo_round_trip(Some(&format!("{url}{sep}options=-csearch_path%3D{schema}")));
    rt.block_on(rexist_store::postgres::drop_schema(&url, &schema))
        .unwrap();
}

/// `rexist demo`: loads, lookups, search (Japanese) and hunts see it, a
/// second load adds nothing, `--remove` leaves a user's own indicators.
fn demo_round_trip(db: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rexist.toml"), "default_sources = false\n").unwrap();
    let ok = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rexist"));
        cmd.arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(args)
            .current_dir(dir.path())
            .env_remove("REXIST_DATABASE_URL")
            .env_remove("REXIST_DATA_DIR");
        if let Some(url) = db {
            cmd.env("REXIST_DATABASE_URL", url);
        }
        let out = cmd.output().expect("run rexist");
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    };
    // A real indicator, also in the sample (the Log4Shell scanner), and one it lacks.
    std::fs::write(dir.path().join("mine.txt"), "198.51.100.7\n192.0.2.250\n").unwrap();
    ok(&["ingest", "file", "mine.txt", "--source", "mine"]);

    let json = |args: &[&str]| -> serde_json::Value { serde_json::from_str(&ok(args)).unwrap() };
    let first = json(&["demo", "--json"]);
    assert_eq!(first["action"], "loaded");
    assert!(first["indicators"].as_u64().unwrap() >= 200, "{first}");
    assert!(first["items"].as_u64().unwrap() >= 8, "{first}");
    assert_eq!(first["hunts"], 2);
    let hits = first["hits"].as_u64().unwrap();
    assert!(hits > 0, "{first}");
    let line = ok(&["demo"]);
    assert!(
        line.starts_with("demo: loaded 0 indicators, 0 items, 0 hunts")
            && line.contains(&format!("({hits} hits)"))
            && line.contains("nothing new"),
        "a second load adds nothing: {line}"
    );

    let a = json(&["lookup", "203.0.113.100", "--json"]);
    assert_eq!(a["known"], true, "{a}");
    assert!(
        a["sources"][0]["source"]
            .as_str()
            .unwrap()
            .starts_with("demo-"),
        "{a}"
    );
    let ja = search_titles(dir.path(), db, "ランサムウェア");
    assert!(
        ja.iter().any(|t| t.contains("製造業を狙うランサムウェア")),
        "{ja:?}"
    );
    let listed = ok(&["hunt", "hits", "demo-ransomware"]);
    assert!(listed.contains("ランサムウェア"), "{listed}");
    assert!(ok(&["hunt", "hits", "demo-watch"]).contains("cidr:203.0.113.0/24"));

    let removed = json(&["demo", "--remove", "--json"]);
    assert_eq!(removed["action"], "removed");
    assert_eq!(removed["hunts"], 2);
    assert_eq!(removed["items"], first["items"]);
    assert!(ok(&["hunt", "list"]).contains("no hunts"));
    assert!(search_titles(dir.path(), db, "sample").is_empty());
    let gone = json(&["lookup", "203.0.113.100", "--json"]);
    assert_eq!(gone["known"], false, "{gone}");
    for mine in ["198.51.100.7", "192.0.2.250"] {
        let kept = json(&["lookup", mine, "--json"]);
        assert_eq!(kept["known"], true, "{kept}");
        let sources = kept["sources"].as_array().unwrap();
        assert_eq!(sources.len(), 1, "{kept}");
        assert_eq!(sources[0]["source"], "mine");
    }
    let again = json(&["demo", "--remove", "--json"]);
    assert_eq!(
        (again["indicators"].as_u64(), again["items"].as_u64()),
        (Some(0), Some(0))
    );
}

/// A file these tests wrote, as text.
fn read_text(path: &Path) -> String {
    String::from_utf8(std::fs::read(path).unwrap()).unwrap()
}

/// A running `rexist serve`, killed when dropped, so a failing assertion
/// leaves nothing running.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `rexist serve` on `dir`'s data directory with the catalogue off;
/// returns it, its address, and the lines it printed before listening.
fn start_serve(dir: &Path) -> (Served, String, Vec<String>) {
    std::fs::write(dir.join("rexist.toml"), "default_sources = false\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rexist"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .env_remove("REXIST_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let child = Served(child);
    let started = Instant::now();
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "serve exited before listening"
        );
        assert!(started.elapsed() < Duration::from_secs(30));
        if let Some(addr) = line.trim().rsplit_once("listening on http://") {
            return (child, addr.1.to_owned(), lines);
        }
        lines.push(line);
    }
}

/// One request with basic auth; the status and body.
fn http_basic(
    addr: &str,
    method: &str,
    path: &str,
    user: &str,
    password: &str,
    body: &str,
) -> (u16, String) {
    use base64::Engine as _;
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {credentials}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
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

#[test]
fn the_first_start_creates_an_admin_whose_file_goes_when_the_password_changes_over_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let (child, addr, said) = start_serve(dir.path());
    let file = dir.path().join("data").join("initial-admin-password");
    let said = said.concat();
    assert!(
        said.contains("created user admin") && said.contains(&file.display().to_string()),
        "{said}"
    );
    let password = read_text(&file);
    let password = password.trim_end();
    assert!(password.len() >= 20);
    assert!(!said.contains(password), "the password is never printed");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Logging in with it works at once.
    let (status, body) = http_basic(&addr, "GET", "/api/v1/users", "admin", password, "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"admin\""), "{body}");
    // Changing another property keeps the file; changing the password deletes it.
    let (status, body) = http_basic(
        &addr,
        "PATCH",
        "/api/v1/users/admin",
        "admin",
        password,
        r#"{"disabled":false}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert!(file.exists());
    let (status, body) = http_basic(
        &addr,
        "PATCH",
        "/api/v1/users/admin",
        "admin",
        password,
        r#"{"password":"a new admin password"}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert!(!file.exists(), "the file goes with the password it held");
    let (status, _) = http_basic(
        &addr,
        "GET",
        "/api/v1/users",
        "admin",
        "a new admin password",
        "",
    );
    assert_eq!(status, 200);
    drop(child);

    // A store with users gets no new admin and no file.
    let (child, _, said) = start_serve(dir.path());
    assert!(said.concat().is_empty(), "{said:?}");
    assert!(!file.exists());
    drop(child);
}

#[test]
fn the_first_admin_file_goes_when_the_cli_changes_its_password_and_never_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let (child, _, _) = start_serve(dir.path());
    drop(child);
    let file = dir.path().join("data").join("initial-admin-password");
    let first = read_text(&file);

    // A second start leaves the file and the user as they are.
    let (child, _, said) = start_serve(dir.path());
    drop(child);
    assert!(said.concat().is_empty(), "{said:?}");
    assert_eq!(read_text(&file), first);
    let out = rexist(dir.path(), &["user", "list"]);
    assert_eq!(text(&out.stdout), "admin\tadmin\tenabled\n");

    // Another user's password change leaves it; the admin's removes it.
    let secret = dir.path().join("pw");
    std::fs::write(&secret, "alice-password\n").unwrap();
    let pw = secret.to_str().unwrap();
    let out = rexist(dir.path(), &["user", "add", "alice", "--password-file", pw]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = rexist(
        dir.path(),
        &["user", "passwd", "alice", "--password-file", pw],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(file.exists());
    let out = rexist(
        dir.path(),
        &["user", "passwd", "admin", "--password-file", pw],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!file.exists());

    let (child, _, said) = start_serve(dir.path());
    drop(child);
    assert!(said.concat().is_empty(), "{said:?}");
    assert!(!file.exists());
}

#[test]
fn backup_copies_a_running_store_and_healthcheck_asks_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let (child, addr, _) = start_serve(dir.path());
    let demo = rexist(dir.path(), &["demo"]);
    assert!(demo.status.success(), "{}", text(&demo.stderr));

    // While serve runs, the copy is written, checked and named in one line.
    let copy = dir.path().join("copy").join("rexist.db");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    let out = rexist(dir.path(), &["backup", copy.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.starts_with("backup written: ") && said.contains("checked"),
        "{said}"
    );
    assert!(!copy.with_file_name("rexist.db.partial").exists());

    // The copy is a whole store: the same export as the original.
    let export = |data: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_rexist"))
            .arg("--data-dir")
            .arg(data)
            .args(["export", "--format", "csv", "--all"])
            .current_dir(dir.path())
            .env_remove("REXIST_DATABASE_URL")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let original = export(&dir.path().join("data"));
    assert!(original.lines().count() > 100, "{original}");
    assert_eq!(export(copy.parent().unwrap()), original);

    // An existing file is never overwritten.
    let again = rexist(dir.path(), &["backup", copy.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("never overwrites"),
        "{}",
        text(&again.stderr)
    );

    // healthcheck asks the configured listen address.
    let health = |listen: &str| {
        Command::new(env!("CARGO_BIN_EXE_rexist"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("healthcheck")
            .current_dir(dir.path())
            .env("REXIST_LISTEN", listen)
            .output()
            .unwrap()
    };
    let ok = health(&addr);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("answered 200"));
    drop(child);
    let down = health(&addr);
    assert!(!down.status.success(), "nothing listens any more");
    assert!(text(&down.stderr).contains(&addr), "{}", text(&down.stderr));
}

/// `rexist extract` finds internal names under the configuration's
/// `[extract] extra_tlds` and `--extra-tld`, as ingest does, and refuses a
/// malformed TLD by name.
#[test]
fn extract_honours_extra_tlds() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_rexist");
    let input = "beacon to build01.corp and nas.lan, then evil.example.com\n";
    let values = |out: &Output| -> Vec<String> {
        assert!(out.status.success(), "{}", text(&out.stderr));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["value"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let out = rexist_testkit::run_with_stdin(bin, dir.path(), &["extract"], input);
    assert_eq!(
        values(&out),
        ["evil.example.com"],
        "public TLDs only by default"
    );

    std::fs::write(
        dir.path().join("rexist.toml"),
        "[extract]\nextra_tlds = [\"corp\"]\n",
    )
    .unwrap();
    let out = rexist_testkit::run_with_stdin(bin, dir.path(), &["extract"], input);
    assert_eq!(values(&out), ["build01.corp", "evil.example.com"]);
    let out =
        rexist_testkit::run_with_stdin(bin, dir.path(), &["extract", "--extra-tld", "lan"], input);
    assert_eq!(
        values(&out),
        ["build01.corp", "nas.lan", "evil.example.com"]
    );

    let out = rexist_testkit::run_with_stdin(
        bin,
        dir.path(),
        &["extract", "--extra-tld", "not a tld"],
        input,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("\"not a tld\""),
        "{}",
        text(&out.stderr)
    );
}

/// `rexist export | head -1`: a reader that stops early is not an error.
#[test]
fn export_to_a_reader_that_stops_early_succeeds() {
    use std::fmt::Write as _;
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rexist.toml"), "default_sources = false\n").unwrap();
    let mut list = String::new();
    for i in 0..40_000u32 {
        let _ = writeln!(list, "45.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
    }
    std::fs::write(dir.path().join("list.txt"), list).unwrap();
    let out = rexist(
        dir.path(),
        &["ingest", "file", "list.txt", "--source", "big"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let mut child = Command::new(env!("CARGO_BIN_EXE_rexist"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["export", "--format", "edl"])
        .current_dir(dir.path())
        .env_remove("REXIST_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is gone: the rest of the export meets a broken pipe.
    let out = child.wait_with_output().unwrap();
    assert!(!first.is_empty());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("Broken pipe"),
        "{}",
        text(&out.stderr)
    );
}
