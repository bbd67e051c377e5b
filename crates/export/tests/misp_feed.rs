//! MISP feed export read back by rexist's own MISP reader, and (when
//! `REXIST_PEERS_PYTHON` names a python with `pymisp`) by `PyMISP`.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::samples;
use rexist_export::Options;
use rexist_export::misp::{MispFeed, MispFeedWriter, NO_SOURCE, event_uuid};
use time::macros::datetime;

fn feed() -> MispFeed {
    let options = Options {
        name: "daily".into(),
        generated: datetime!(2024-03-06 00:00:00 UTC),
        ..Options::default()
    };
    MispFeed::new(&samples(), &options)
}

#[test]
fn groups_rows_by_source_with_deterministic_uuids() {
    let f = feed();
    let sources: BTreeSet<&str> = f.events().map(|e| e.source.as_str()).collect();
    assert_eq!(sources, BTreeSet::from(["abuse.ch", "otx", NO_SOURCE]));
    let rows = samples();
    for e in f.events() {
        assert_eq!(e.uuid, event_uuid("daily", &e.source).to_string());
        let want = rows
            .iter()
            .filter(|r| {
                r.sources.contains(&e.source) || (r.sources.is_empty() && e.source == NO_SOURCE)
            })
            .count();
        assert_eq!(e.attributes, want, "{}", e.source);
        assert_eq!(
            e.document["Event"]["info"],
            format!("rexist export daily: {}", e.source)
        );
    }
    assert_eq!(feed(), f);
    let manifest = f.manifest();
    for e in f.events() {
        let m = &manifest[&e.uuid];
        for key in [
            "info",
            "Orgc",
            "timestamp",
            "date",
            "analysis",
            "threat_level_id",
            "Tag",
        ] {
            assert!(!m[key].is_null(), "{key}");
        }
        assert_eq!(m["timestamp"], "1709641800");
        assert_eq!(m["Orgc"]["name"], "rexist");
    }
    let hashes = f.hashes_csv();
    let total: usize = f.events().map(|e| e.attributes).sum();
    assert_eq!(hashes.lines().count(), total);
    // md5("1.2.3.4")
    assert!(hashes.contains("6465ec74397c9126916786bbcd6d7601,"));
}

#[test]
fn rexist_misp_reader_reads_it_back() {
    let f = feed();
    let dir = tempfile::tempdir().unwrap();
    f.write_dir(dir.path()).unwrap();

    let manifest = rexist_formats::misp::parse_manifest(
        &std::fs::read(dir.path().join("manifest.json")).unwrap(),
    )
    .unwrap();
    assert!(manifest.rejected.is_empty());
    assert_eq!(manifest.entries.len(), 3);
    let hashes =
        rexist_formats::misp::parse_hashes(&std::fs::read(dir.path().join("hashes.csv")).unwrap());
    assert!(hashes.rejected.is_empty());

    let mut seen = BTreeSet::new();
    for entry in &manifest.entries {
        assert_eq!(entry.orgc.as_deref(), Some("rexist"));
        let body = std::fs::read(dir.path().join(format!("{}.json", entry.uuid))).unwrap();
        assert_eq!(Some(body.clone()), f.event_json(&entry.uuid));
        let events = rexist_formats::misp::parse_events(&body).unwrap();
        assert!(events.rejected.is_empty(), "{:?}", events.rejected);
        assert!(events.skipped.is_empty(), "{:?}", events.skipped);
        assert_eq!(events.records.len(), 1);
        for s in &events.records[0].sightings {
            seen.insert((s.indicator.kind(), s.indicator.value().to_owned()));
        }
    }
    let want: BTreeSet<_> = samples()
        .into_iter()
        .map(|r| (r.record.kind, r.record.value))
        .collect();
    assert_eq!(seen, want);
}

const SCRIPT: &str = r#"
import json, os, sys
from pymisp import MISPEvent
d = sys.argv[1]
manifest = json.load(open(os.path.join(d, "manifest.json")))
out = {}
for uuid in manifest:
    e = MISPEvent()
    e.load_file(os.path.join(d, uuid + ".json"))
    assert e.uuid == uuid, (e.uuid, uuid)
    assert e.info == manifest[uuid]["info"]
    out[uuid] = sorted(a.type for a in e.attributes)
print(json.dumps(out, sort_keys=True))
"#;

#[test]
fn pymisp_loads_every_event() {
    let Ok(python) = std::env::var("REXIST_PEERS_PYTHON") else {
        eprintln!("skipped: set REXIST_PEERS_PYTHON to a python with pymisp");
        return;
    };
    let f = feed();
    let dir = tempfile::tempdir().unwrap();
    f.write_dir(dir.path()).unwrap();
    let out = Command::new(&python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "pymisp failed:\n{stdout}\n{stderr}");
    let got: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    for e in f.events() {
        let mut want: Vec<String> = e.document["Event"]["Attribute"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["type"].as_str().unwrap().to_owned())
            .collect();
        want.sort();
        assert_eq!(got[&e.uuid], serde_json::json!(want), "{}", e.source);
    }
}

#[test]
fn streamed_feed_is_the_same_files() {
    let options = Options {
        name: "daily".into(),
        generated: datetime!(2024-03-06 00:00:00 UTC),
        ..Options::default()
    };
    let rows = samples();
    let whole = MispFeed::new(&rows, &options);
    let dir = tempfile::tempdir().unwrap();
    let mut w = MispFeedWriter::new(dir.path(), &options);
    // In two batches, as pages come from the store.
    let (a, b) = rows.split_at(rows.len() / 2);
    w.write_rows(a).unwrap();
    w.write_rows(b).unwrap();
    assert_eq!(w.written(), rows.len() as u64);
    let events = w.finish().unwrap();
    assert_eq!(events.len(), whole.events().count());
    for e in whole.events() {
        let file = std::fs::read(dir.path().join(format!("{}.json", e.uuid))).unwrap();
        assert_eq!(file, whole.event_json(&e.uuid).unwrap(), "{}", e.source);
        assert!(events.contains(&(e.uuid.clone(), e.source.clone(), e.attributes)));
    }
    assert_eq!(
        std::fs::read(dir.path().join("manifest.json")).unwrap(),
        serde_json::to_vec(&whole.manifest()).unwrap()
    );
    assert_eq!(
        std::fs::read(dir.path().join("hashes.csv")).unwrap(),
        whole.hashes_csv().into_bytes()
    );
    let files = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(files, events.len() + 2, "no file but the feed's");
}
