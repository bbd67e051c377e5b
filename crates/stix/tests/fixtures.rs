#![allow(clippy::unwrap_used)]
//! The STIX / TAXII fixtures of /work/shared/fixtures (INTERFACES.md §5).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use rexist_core::{IndicatorType, ItemKind, Record, RetractReason, Tlp};
use rexist_stix::{Parsed, indicators, parse_objects, parse_pattern};
use serde_json::Value;

fn root() -> PathBuf {
    let dir = std::env::var("REXIST_FIXTURES").unwrap_or_else(|_| "/work/shared/fixtures".into());
    PathBuf::from(dir)
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    out.sort();
}

fn parse(rel: &str) -> Parsed {
    let body = fs::read(root().join(rel)).unwrap();
    parse_objects(&body).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every STIX object in the fixtures, as JSON values, with where it came from.
fn all_objects() -> Vec<(String, Value)> {
    let mut paths = Vec::new();
    for d in [
        "stix/cti-python-stix2",
        "stix/cti-stix2-json-schemas/examples",
        "stix/synthetic",
        "taxii/responses",
    ] {
        files(&root().join(d), &mut paths);
    }
    let mut out = Vec::new();
    for p in paths {
        let Ok(v) = serde_json::from_slice::<Value>(&fs::read(&p).unwrap()) else {
            continue; // the deliberately truncated *-bad.json files
        };
        let name = p.display().to_string();
        match &v {
            Value::Object(m) if m.contains_key("objects") => {
                for o in m["objects"].as_array().unwrap() {
                    if o.get("type").is_some() {
                        out.push((name.clone(), o.clone()));
                    }
                }
            }
            Value::Object(m) if m.contains_key("type") && m.contains_key("id") => {
                out.push((name, v.clone()));
            }
            _ => {}
        }
    }
    out
}

#[test]
fn every_fixture_object_is_read_or_rejected_with_a_reason() {
    let objects = all_objects();
    if objects.is_empty() {
        eprintln!("no fixtures under {}", root().display());
        return;
    }
    let mut by_outcome: BTreeMap<String, usize> = BTreeMap::new();
    let mut records = 0;
    for (from, o) in &objects {
        let page = serde_json::to_vec(&Value::Array(vec![o.clone()])).unwrap();
        let p = parse_objects(&page).unwrap();
        let kind = o["type"].as_str().unwrap();
        let used = p.records.len();
        let handled = used + p.rejected.len() + p.ignored.len();
        assert!(handled >= 1, "{from}: {kind} {} vanished", o["id"]);
        for r in p.rejected.iter().chain(&p.ignored) {
            assert!(!r.reason.is_empty(), "{from}: no reason");
            *by_outcome
                .entry(format!("{kind}: {}", r.reason))
                .or_default() += 1;
        }
        if used > 0 {
            *by_outcome.entry(format!("{kind}: records")).or_default() += 1;
        }
        records += used;
        // An indicator is never dropped: it is always an item.
        if kind == "indicator" && o.get("pattern").is_some() {
            assert!(
                matches!(p.records.first(), Some(Record::Item(_))),
                "{from}: {}",
                o["id"]
            );
        }
    }
    eprintln!("{} objects, {records} records", objects.len());
    for (k, n) in &by_outcome {
        eprintln!("{n:5}  {k}");
    }
}

/// Whole pages: relationships meet their ends here.
#[test]
fn every_fixture_page_parses() {
    let mut paths = Vec::new();
    for d in [
        "stix/cti-stix2-json-schemas/examples",
        "stix/synthetic",
        "taxii/responses",
    ] {
        files(&root().join(d), &mut paths);
    }
    let (mut pages, mut records, mut relations, mut rejected, mut ignored) = (0, 0, 0, 0, 0);
    for p in &paths {
        let Ok(parsed) = parse_objects(&fs::read(p).unwrap()) else {
            continue; // truncated *-bad.json, TAXII discovery/collections/status bodies
        };
        pages += 1;
        records += parsed.records.len();
        relations += parsed
            .records
            .iter()
            .filter(|r| matches!(r, Record::Relation(_)))
            .count();
        rejected += parsed.rejected.len();
        ignored += parsed.ignored.len();
    }
    eprintln!(
        "{pages} pages: {records} records ({relations} relations), {rejected} rejected, {ignored} ignored"
    );
}

#[test]
fn every_fixture_pattern_parses_and_round_trips() {
    let mut n = 0;
    let mut complete = 0;
    for (from, o) in all_objects() {
        if o["type"] != "indicator" || o.get("pattern_type").is_some_and(|t| t != "stix") {
            continue;
        }
        let text = o["pattern"].as_str().unwrap();
        let p = parse_pattern(text).unwrap_or_else(|e| panic!("{from}: {text}: {e}"));
        let again = parse_pattern(&p.to_string()).unwrap();
        assert_eq!(p, again, "{from}: {text}");
        n += 1;
        if indicators(&p).complete {
            complete += 1;
        }
    }
    eprintln!("{n} patterns, {complete} completely reducible");
    assert!(n == 0 || complete > 0);
}

fn item<'a>(p: &'a Parsed, id: &str) -> &'a rexist_core::ItemRecord {
    p.records
        .iter()
        .find_map(|r| match r {
            Record::Item(i) if i.item.external_id == id => Some(i),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no item {id}"))
}

#[test]
fn synthetic_bundle() {
    if !root().join("stix/synthetic/bundle-iocs.json").exists() {
        return;
    }
    let p = parse("stix/synthetic/bundle-iocs.json");
    assert!(!p.more);
    assert_eq!(p.next, None);
    assert!(p.rejected.is_empty(), "{:?}", p.rejected);

    // SHA-256 pattern, TLP:GREEN (TLP 2.0 id).
    let sha = item(&p, "indicator--237c13fe-bd94-535c-8f07-d86ead16aea8");
    assert_eq!(sha.item.kind, ItemKind::Event);
    assert_eq!(sha.item.tlp, Tlp::Green);
    assert!(!sha.extract);
    assert_eq!(sha.sightings.len(), 2); // SHA-256 OR MD5
    assert_eq!(sha.sightings[1].indicator.kind(), IndicatorType::Md5);
    let s = &sha.sightings[0];
    assert_eq!(s.indicator.kind(), IndicatorType::Sha256);
    assert_eq!(
        s.indicator.value(),
        "cc7d152477763001037b08490031749b6fc500932089bcc58f4128c0e05484d9"
    );
    assert_eq!(s.tlp, Some(Tlp::Green));
    assert_eq!(sha.item.extra["pattern_complete"], true);

    // CIDR value.
    let cidr = item(&p, "indicator--f0cbb91a-38b7-551c-bb14-4c446fb31e64");
    assert_eq!(cidr.sightings[0].indicator.kind(), IndicatorType::Cidr);

    // AND + MATCHES: the email is a sighting, the pattern stays verbatim; TLP:AMBER.
    let mail = item(&p, "indicator--476262e6-b0d4-570e-96b4-92bd0ce7a846");
    assert_eq!(mail.item.tlp, Tlp::Amber);
    assert_eq!(mail.sightings.len(), 1);
    assert_eq!(mail.sightings[0].indicator.kind(), IndicatorType::Email);
    assert!(mail.item.body.contains("MATCHES"), "{}", mail.item.body);
    assert_eq!(mail.item.extra["pattern_complete"], false);

    // YARA: no sightings, pattern kept.
    let yara = item(&p, "indicator--e87f32bc-d4bb-523d-94f7-bc6fdbd75e64");
    assert!(yara.sightings.is_empty());
    assert!(yara.item.body.contains("rule example_loader"));

    // TLP 1.0 GREEN id; `valid_until` bounds its sightings.
    let old = item(&p, "indicator--c7e7101d-b16e-5666-a2a5-29b8c59e0ba1");
    assert_eq!(old.item.tlp, Tlp::Green);
    assert_eq!(
        old.sightings[0]
            .valid_until
            .map(time::OffsetDateTime::unix_timestamp),
        Some(1_751_241_600),
        "2025-06-30T00:00:00Z"
    );

    // Revoked: the item stays, its indicator is a retraction, not a sighting.
    let revoked = item(&p, "indicator--320521a1-c0da-58cc-8e84-e4ed9b8062f8");
    assert!(revoked.sightings.is_empty());
    assert_eq!(p.retractions.len(), 1, "{:?}", p.retractions);
    assert_eq!(p.retractions[0].indicator.to_string(), "ipv4:192.0.2.99");
    assert_eq!(p.retractions[0].reason, RetractReason::Revoked);

    // indicator → malware relationships are noted on the malware item.
    let malware = item(&p, "malware--a212dbf1-8d4d-57d3-8bf1-4a9947d52cc0");
    let rels = malware.item.extra["relationships"].as_array().unwrap();
    assert_eq!(rels.len(), 6, "{rels:#?}");
    assert!(rels.iter().all(|r| r["relationship_type"] == "indicates"));

    // SCOs are sightings.
    let sightings = p
        .records
        .iter()
        .filter(|r| matches!(r, Record::Sighting(_)))
        .count();
    assert!(sightings >= 4, "{sightings}");
    // Marking definitions and the identity are read, not records.
    assert!(p.ignored.iter().any(|r| r.at.starts_with("identity--")));
}

#[test]
fn taxii_envelopes() {
    if !root().join("taxii/responses/objects-page1.json").exists() {
        return;
    }
    let p1 = parse("taxii/responses/objects-page1.json");
    assert!(p1.more);
    assert_eq!(
        p1.next.as_deref(),
        Some("c0ffee00-0000-4000-8000-000000000001")
    );
    assert!(p1.newest_modified.is_some());
    let p2 = parse("taxii/responses/objects-page2.json");
    assert!(!p2.more);
    assert_eq!(p2.next, None);
    let empty = parse("taxii/responses/objects-empty.json");
    assert!(!empty.more && empty.records.is_empty());
    let m = parse("taxii/responses/manifest-page1.json");
    assert!(m.more);
    assert_eq!(
        m.next.as_deref(),
        Some("c0ffee00-0000-4000-8000-000000000002")
    );
    assert!(m.newest_added.is_some());
    assert!(m.rejected.is_empty());
    for bad in [
        "taxii/responses/objects-bad.json",
        "stix/synthetic/bundle-iocs-bad.json",
    ] {
        let body = fs::read(root().join(bad)).unwrap();
        assert!(parse_objects(&body).is_err(), "{bad}");
    }
    let err = parse_objects(&fs::read(root().join("taxii/responses/discovery.json")).unwrap());
    assert!(err.is_err());
}

#[test]
fn relationship_between_indicators_is_a_relation() {
    let page = br#"{"type":"bundle","id":"bundle--1","objects":[
      {"type":"indicator","spec_version":"2.1","id":"indicator--a","created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z","pattern":"[domain-name:value = 'evil.example']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z","confidence":80,"indicator_types":["malicious-activity"],"object_marking_refs":["marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"]},
      {"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--b","value":"198.51.100.7"},
      {"type":"relationship","spec_version":"2.1","id":"relationship--c","created":"2024-01-02T00:00:00Z","modified":"2024-01-02T00:00:00Z","relationship_type":"resolves-to","source_ref":"indicator--a","target_ref":"ipv4-addr--b"},
      {"type":"relationship","spec_version":"2.1","id":"relationship--d","relationship_type":"uses"},
      {"type":"vulnerability","spec_version":"2.1","id":"vulnerability--e","created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00Z","name":"Bad bug","external_references":[{"source_name":"cve","external_id":"CVE-2024-1234"}]},
      {"type":"indicator","spec_version":"2.1","id":"indicator--f","pattern":"[a:b = ","valid_from":"2024-01-01T00:00:00Z"},
      {"type":"indicator","spec_version":"2.1","id":"indicator--g","valid_from":"2024-01-01T00:00:00Z"},
      {"type":"ipv4-addr","id":"ipv4-addr--h","value":"not an ip"},
      {"type":"malware","id":"indicator--i"},
      42
    ]}"#;
    let p = parse_objects(page).unwrap();
    let rel = p
        .records
        .iter()
        .find_map(|r| match r {
            Record::Relation(r) => Some(r),
            _ => None,
        })
        .unwrap();
    assert_eq!(rel.kind, "resolves-to");
    assert_eq!(rel.from.value(), "evil.example");
    assert_eq!(rel.to.value(), "198.51.100.7");
    let ind = item(&p, "indicator--a");
    assert_eq!(ind.sightings[0].confidence, Some(80));
    assert_eq!(ind.sightings[0].tlp, Some(Tlp::Red));
    assert_eq!(ind.sightings[0].labels, ["malicious-activity"]);
    let vuln = item(&p, "vulnerability--e");
    assert_eq!(vuln.item.kind, ItemKind::Vuln);
    assert_eq!(vuln.sightings[0].indicator.value(), "CVE-2024-1234");
    assert_eq!(vuln.item.tlp, Tlp::default());
    assert_eq!(vuln.item.extra["tlp_marked"], false);
    let broken = item(&p, "indicator--f");
    assert!(broken.item.extra["pattern_error"].is_string());
    assert!(broken.item.body.contains("[a:b = "));
    let rejected: Vec<&str> = p.rejected.iter().map(|r| r.at.as_str()).collect();
    assert_eq!(
        rejected,
        [
            "indicator--g",
            "ipv4-addr--h",
            "indicator--i",
            "object 9",
            "relationship--d",
        ],
        "{:?}",
        p.rejected
    );
}

#[test]
fn shapes() {
    assert!(parse_objects(b"not json").is_err());
    assert!(parse_objects(b"\"x\"").is_err());
    assert!(parse_objects(br#"{"title":"x"}"#).is_err());
    assert!(parse_objects(b"[]").unwrap().records.is_empty());
    let env = parse_objects(br#"{"more":true,"next":"abc","objects":[]}"#).unwrap();
    assert!(env.more);
    assert_eq!(env.next.as_deref(), Some("abc"));
}
