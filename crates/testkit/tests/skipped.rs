//! One line at the end of `cargo test --workspace` that says which halves of
//! the suite did not run and why, so a green run cannot hide a skipped half:
//! `skipped: PostgreSQL halves (REXIST_TEST_DATABASE_URL not set), …` or
//! `skipped: nothing`.
//!
//! Each skipped test says so itself, but libtest captures that note unless
//! `--nocapture` is given. This target has no libtest harness (see
//! `Cargo.toml`), so what it prints is shown as is. It checks the same
//! variables the tests do: `REXIST_TEST_DATABASE_URL` (store conformance,
//! pipeline compliance), `REXIST_PEERS_PYTHON` (TAXII, STIX and MISP interop
//! peers, from `scripts/peers.sh`), `REXIST_CHROMIUM` and
//! `REXIST_PLAYWRIGHT` (the browser test, from `scripts/browser.sh`).

use std::io::Write;

/// The halves of the suite whose prerequisite is missing, with the reason.
fn skipped(var: impl Fn(&str) -> bool) -> Vec<&'static str> {
    let mut skipped = Vec::new();
    if !var("REXIST_TEST_DATABASE_URL") {
        skipped.push("PostgreSQL halves (REXIST_TEST_DATABASE_URL not set)");
    }
    if !var("REXIST_PEERS_PYTHON") {
        skipped
            .push("interop peers (REXIST_PEERS_PYTHON not set: eval \"$(bash scripts/peers.sh)\")");
    }
    if !var("REXIST_CHROMIUM") || !var("REXIST_PLAYWRIGHT") {
        skipped.push(
            "browser test (REXIST_CHROMIUM or REXIST_PLAYWRIGHT not set: eval \"$(bash scripts/browser.sh)\")",
        );
    }
    skipped
}

fn line(skipped: &[&str]) -> String {
    if skipped.is_empty() {
        "skipped: nothing".to_owned()
    } else {
        format!("skipped: {}", skipped.join(", "))
    }
}

fn main() {
    // Listing tests (IDEs, `cargo test -- --list`) or running a filtered
    // subset: a summary of the whole suite would mislead.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list" || !a.starts_with('-')) {
        return;
    }
    assert_eq!(
        line(&skipped(|_| true)),
        "skipped: nothing",
        "everything set, nothing skipped"
    );
    assert!(line(&skipped(|_| false)).starts_with("skipped: PostgreSQL halves"));
    let present = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let mut out = std::io::stdout().lock();
    // A closed stdout is no reason to fail the suite.
    let _ = writeln!(out, "\n{}\n", line(&skipped(present)));
}
