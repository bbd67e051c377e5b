//! MISP parsers against the real and synthetic fixtures (INTERFACES.md §1).

#![allow(clippy::unwrap_used)]

use crate::common::fixture;
use rexist_core::{IndicatorType, ItemKind, RetractReason, Tlp};
use rexist_formats::{FormatError, misp};

fn events(rel: &str) -> misp::MispEvents {
    misp::parse_events(&fixture(rel)).unwrap()
}

#[test]
fn restsearch_page1_events_attributes_objects() {
    let page = events("misp/restsearch/events-restsearch-page1.json");
    assert_eq!(page.event_count, 2);
    assert_eq!(page.records.len(), 2);
    assert!(page.rejected.is_empty(), "{:?}", page.rejected);
    assert_eq!(page.max_timestamp, Some(1_735_790_000));
    assert_eq!(page.skipped["deleted"], 1);
    assert_eq!(page.skipped["type link"], 1);

    let first = &page.records[0];
    let item = &first.item;
    assert_eq!(item.kind, ItemKind::Event);
    assert_eq!(item.external_id, "819215fb-5ec8-54bc-8651-fe690356956a");
    assert!(item.title.ends_with("日本組織を狙うフィッシング"));
    assert_eq!(item.tlp, Tlp::Amber);
    assert!(
        item.tags.iter().any(|t| t == "Example Panda"),
        "galaxy cluster value"
    );
    assert_eq!(
        item.published_at.map(time::OffsetDateTime::unix_timestamp),
        Some(1_735_700_500)
    );
    assert_eq!(item.extra["orgc"], "EXAMPLE-ISAC");
    assert_eq!(item.extra["threat_level"], "medium");
    assert_eq!(item.extra["timestamp"], 1_735_700_400);
    assert_eq!(item.extra["attribute_count"], 17);
    assert!(item.body.contains("Creator: EXAMPLE-ISAC"));
    assert!(
        item.body.contains("初期侵入はフィッシングメール"),
        "text attribute in body"
    );
    assert!(!first.extract);

    // 10 top-level indicators (domain|ip gives two; deleted, link, text
    // skipped; the CVE and www.example.com have `to_ids` off: kept as
    // context and also withdrawn) + md5/sha1/sha256 of the file object.
    assert_eq!(first.sightings.len(), 13);
    let values: Vec<String> = first
        .sightings
        .iter()
        .map(|s| s.indicator.to_string())
        .collect();
    for want in [
        "ipv4:192.0.2.10",
        "ipv4:198.51.100.23",
        "domain:update.bad.example.net",
        "ipv4:203.0.113.77",
        "ipv6:2001:db8::dead:beef",
        "md5:fcd4219244279ec49932bbd8e7702911",
    ] {
        assert!(
            values.iter().any(|v| v == want),
            "missing {want} in {values:?}"
        );
    }
    assert!(
        !values.iter().any(|v| v == "ipv4:192.0.2.11"),
        "deleted attribute"
    );
    let ip = &first.sightings[0];
    assert_eq!(ip.confidence, Some(misp::CONFIDENCE_IDS));
    assert_eq!(ip.seen_at.unix_timestamp(), 1_735_700_100);
    assert_eq!(ip.tlp, Some(Tlp::Amber));
    assert_eq!(ip.labels, vec!["Network activity".to_owned()]);
    // `to_ids` off is kept as context of low confidence and withdrawn (a
    // later version of an event turning it off retires the earlier
    // sighting); a deleted attribute is deleted.
    let cve = first
        .sightings
        .iter()
        .find(|s| s.indicator.kind() == IndicatorType::Cve)
        .expect("to_ids false is kept as context");
    assert_eq!(cve.confidence, Some(misp::CONFIDENCE_CONTEXT));
    let withdrawn: Vec<(String, RetractReason)> = page
        .retractions
        .iter()
        .map(|r| (r.indicator.to_string(), r.reason))
        .collect();
    for want in [
        ("cve:CVE-2021-44228", RetractReason::FalsePositive),
        ("domain:www.example.com", RetractReason::FalsePositive),
        ("asn:AS64496", RetractReason::FalsePositive),
        ("ipv4:192.0.2.11", RetractReason::Deleted),
    ] {
        assert!(
            withdrawn.iter().any(|(i, r)| i == want.0 && *r == want.1),
            "{want:?} not in {withdrawn:?}"
        );
    }
    assert_eq!(withdrawn.len(), 4, "{withdrawn:?}");
    let deleted = page
        .retractions
        .iter()
        .find(|r| r.reason == RetractReason::Deleted)
        .unwrap();
    assert_eq!(
        deleted.at.unix_timestamp(),
        1_735_700_200,
        "the attribute's own time"
    );

    // domain|ip → resolves-to; file object → referenced domain attribute.
    assert_eq!(first.relations.len(), 4);
    assert_eq!(first.relations[0].kind, "resolves-to");
    assert!(first.relations.iter().any(|r| r.kind == "communicates-with"
        && r.from.to_string() == "md5:fcd4219244279ec49932bbd8e7702911"
        && r.to.to_string() == "domain:c2.malicious.example"));

    let second = &page.records[1];
    assert_eq!(second.item.tlp, Tlp::Green);
    let kinds: Vec<IndicatorType> = second
        .sightings
        .iter()
        .map(|s| s.indicator.kind())
        .collect();
    assert!(
        kinds.contains(&IndicatorType::Asn),
        "AS with to_ids off, kept as context"
    );
    assert!(kinds.contains(&IndicatorType::Cidr), "ip-src with a prefix");
    assert!(kinds.contains(&IndicatorType::Sha512));
}

#[test]
fn restsearch_page2_refangs_and_rejects_bad_values() {
    let page = events("misp/restsearch/events-restsearch-page2.json");
    assert_eq!(page.event_count, 1, "fewer than limit 2: last page");
    let rec = &page.records[0];
    assert_eq!(rec.item.tlp, Tlp::Clear);
    let values: Vec<String> = rec
        .sightings
        .iter()
        .map(|s| s.indicator.to_string())
        .collect();
    assert!(
        values.contains(&"url:http://paypal-verify.phish.test/login".to_owned()),
        "{values:?}"
    );
    // The placeholder bitcoin address fails its checksum: rejected, counted, placed.
    assert_eq!(page.rejected.len(), 1);
    assert!(page.rejected[0].reason.starts_with("invalid btc"));
    assert!(
        page.rejected[0]
            .at
            .contains("9cfad7e0-01d9-564a-a9a1-ffdfcc1b7c8f")
    );
    assert_eq!(page.skipped["type email-subject"], 1);
}

#[test]
fn numeric_fields_read_like_strings() {
    let strings = events("misp/restsearch/events-restsearch-page1.json");
    let numbers = events("misp/restsearch/events-restsearch-numeric.json");
    assert_eq!(numbers.records.len(), 1);
    assert_eq!(numbers.max_timestamp, Some(1_735_790_000));
    assert_eq!(numbers.records[0].sightings, strings.records[1].sightings);
    assert_eq!(numbers.records[0].item.extra["threat_level_id"], 1);
    assert_eq!(numbers.records[0].item.extra, strings.records[1].item.extra);
}

#[test]
fn empty_page() {
    let page = events("misp/restsearch/events-restsearch-empty.json");
    assert_eq!(page.event_count, 0);
    assert!(page.records.is_empty());
    assert_eq!(page.max_timestamp, None);
}

#[test]
fn truncated_page_is_an_error_with_its_place() {
    let err =
        misp::parse_events(&fixture("misp/restsearch/events-restsearch-bad.json")).unwrap_err();
    let FormatError::Json { line, column, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(line, 416);
    assert!(column > 0);
    assert!(
        err_string(&fixture("misp/restsearch/events-restsearch-bad.json")).contains("line 416")
    );
    // The attributes controller answers another shape: a clear error, not events.
    assert!(matches!(
        misp::parse_events(&fixture("misp/restsearch/attributes-restsearch-page1.json")),
        Err(FormatError::Shape { .. })
    ));
}

fn err_string(body: &[u8]) -> String {
    misp::parse_events(body).unwrap_err().to_string()
}

#[test]
fn feed_event_files() {
    let synthetic = events("misp/feed/1f2ae2f4-48b3-5c9c-ace1-39ab6548bbed.json");
    let rec = &synthetic.records[0];
    assert_eq!(rec.item.external_id, "1f2ae2f4-48b3-5c9c-ace1-39ab6548bbed");
    assert_eq!(rec.sightings.len(), 6);
    let url = rec
        .sightings
        .iter()
        .find(|s| s.indicator.kind() == IndicatorType::Url)
        .unwrap();
    assert!(
        url.labels.contains(&"kill-chain:Delivery".to_owned()),
        "attribute tag label"
    );
    assert_eq!(rec.relations.len(), 1);
    assert_eq!(rec.relations[0].to.to_string(), "ipv6:2001:db8:1::53");

    let real = events("misp/feed/57c4445b-c548-4654-af0b-4be3950d210f.json");
    let rec = &real.records[0];
    assert_eq!(rec.item.title, "Ransomware - Xorist");
    assert_eq!(rec.item.tlp, Tlp::Clear, "tlp:white");
    assert_eq!(rec.sightings.len(), 3, "md5, sha1, sha256");
    assert_eq!(real.skipped["type regkey|value"], 1);
    assert_eq!(
        rec.item.extra["attribute_count"], 9,
        "a feed event carries no count: its attributes are counted"
    );
    assert!(
        rec.item.body.contains("Encryption rounds:8,\nSta"),
        "\\r\\n normalised"
    );
}

#[test]
fn bare_pymisp_event_with_objects_and_galaxies() {
    let page = events("misp/pymisp/mispevent_testfiles/existing_event.json");
    assert_eq!(page.records.len(), 1);
    let rec = &page.records[0];
    assert_eq!(rec.item.external_id, "5a3c2fcd-8328-42bb-a95e-4f4402de0b81");
    assert_eq!(page.max_timestamp, Some(1_513_948_642));
    // publish_timestamp is 0 (never published): the date stands in.
    assert_eq!(
        rec.item
            .published_at
            .map(time::OffsetDateTime::unix_timestamp),
        Some(1_513_814_400)
    );
    assert!(rec.item.tags.iter().any(|t| t == "Sofacy"));
    // Duplicated indicators (servicecdp.com sits in two objects) count once.
    let mut seen: Vec<String> = rec
        .sightings
        .iter()
        .map(|s| s.indicator.to_string())
        .collect();
    let n = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), n);
    assert!(rec.relations.iter().any(|r| r.kind == "resolves-to"
        && r.from.to_string() == "domain:servicecdp.com"
        && r.to.to_string() == "ipv4:87.236.211.182"));
    assert!(
        rec.relations
            .iter()
            .filter(|r| r.kind == "communicates-with")
            .count()
            >= 20
    );
    assert_eq!(page.skipped["type filename"], 15);
}

#[test]
fn japanese_and_galaxy_events() {
    for rel in [
        "misp/pymisp/reportlab_testfiles/japanese_test.json",
        "misp/pymisp/reportlab_testfiles/galaxy_1.json",
    ] {
        let page = events(rel);
        assert_eq!(page.records.len(), 1, "{rel}");
        assert!(page.rejected.is_empty(), "{rel}: {:?}", page.rejected);
    }
}

#[test]
fn small_pymisp_fragments_never_panic() {
    for name in [
        "attribute",
        "event",
        "event_obj_attr_tag",
        "event_tags",
        "galaxy",
        "malware_exist",
        "proposals",
        "shadow",
        "sighting",
    ] {
        let body = fixture(&format!("misp/pymisp/mispevent_testfiles/{name}.json"));
        let _ = misp::parse_events(&body);
    }
}

#[test]
fn manifest() {
    let m = misp::parse_manifest(&fixture("misp/feed/manifest.json")).unwrap();
    assert_eq!(m.entries.len(), 2);
    assert!(m.rejected.is_empty());
    let xorist = m
        .entries
        .iter()
        .find(|e| e.uuid == "57c4445b-c548-4654-af0b-4be3950d210f")
        .unwrap();
    assert_eq!(xorist.timestamp, 1_472_541_011);
    assert_eq!(xorist.info, "Ransomware - Xorist");
    assert_eq!(xorist.orgc.as_deref(), Some("CIRCL"));
    assert_eq!(
        xorist.sha256.as_deref(),
        Some("f6f3a9b4027cb2f65c5921871bf96fbc42a60cc5a975fd207ed400cc2bb49d19")
    );
    assert_eq!(m.max_timestamp(), Some(1_735_707_200));
    let newer: Vec<_> = m
        .changed_since(1_472_541_011)
        .map(|e| e.uuid.as_str())
        .collect();
    assert_eq!(newer, ["1f2ae2f4-48b3-5c9c-ace1-39ab6548bbed"]);
}

#[test]
fn truncated_manifest_is_an_error_with_its_place() {
    let err = misp::parse_manifest(&fixture("misp/feed/manifest-bad.json")).unwrap_err();
    assert!(matches!(err, FormatError::Json { line: 29, .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("misp manifest: invalid json at line 29")
    );
}

#[test]
fn hashes_csv() {
    let h = misp::parse_hashes(&fixture("misp/feed/hashes.csv"));
    assert_eq!(h.hashes.len(), 18);
    assert!(h.rejected.is_empty());
    assert_eq!(h.hashes[0].value_md5, "ac454eff7482836b3f7c4bf42e709644");
    assert_eq!(
        h.hashes[0].event_uuid,
        "57c4445b-c548-4654-af0b-4be3950d210f"
    );
    let bad = misp::parse_hashes(b"zz,uuid\n\xff\xfe,x\nac454eff7482836b3f7c4bf42e709644,e1\n");
    assert_eq!(bad.hashes.len(), 1);
    let places: Vec<&str> = bad.rejected.iter().map(|r| r.at.as_str()).collect();
    assert_eq!(places, ["line 1", "line 2"]);
}

#[test]
fn bad_events_inside_a_good_body_are_rejected_not_fatal() {
    let body = br#"{"response":[
        {"Event":{"info":"no uuid","timestamp":"5"}},
        42,
        {"Event":{"uuid":"u1","info":"ok","timestamp":"7","Attribute":[
            {"uuid":"a1","type":"ip-dst","value":"999.1.1.1","to_ids":"1","timestamp":"6"},
            {"uuid":"a2","type":"ip-dst","value":"192.0.2.1","to_ids":1},
            "not an attribute"
        ]}}
    ]}"#;
    let page = misp::parse_events(body).unwrap();
    assert_eq!(page.event_count, 3);
    assert_eq!(page.records.len(), 1);
    assert_eq!(page.max_timestamp, Some(7));
    let rejected: Vec<(&str, &str)> = page
        .rejected
        .iter()
        .map(|r| (r.at.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(rejected[0], ("event 1", "missing uuid"));
    assert_eq!(rejected[1], ("event 2", "event is not an object"));
    assert_eq!(rejected[2].0, "event u1 attribute a1");
    assert_eq!(page.records[0].sightings.len(), 1);
    // An attribute without its own timestamp takes the event's.
    assert_eq!(page.records[0].sightings[0].seen_at.unix_timestamp(), 7);
}

#[test]
fn withdrawn_attributes_objects_and_events_are_retractions() {
    let body = br#"{"response":[
      {"Event":{"uuid":"e1","info":"live","timestamp":"100","Attribute":[
        {"uuid":"a1","type":"ip-dst","value":"192.0.2.1","to_ids":"1"},
        {"uuid":"a2","type":"ip-dst","value":"192.0.2.2","to_ids":"0"},
        {"uuid":"a3","type":"ip-dst","value":"192.0.2.3"},
        {"uuid":"a4","type":"ip-dst","value":"192.0.2.1","to_ids":false},
        {"uuid":"a5","type":"ip-dst","value":"not an ip","deleted":true}],
       "Object":[{"uuid":"o1","name":"domain-ip","deleted":"1","Attribute":[
        {"uuid":"a6","type":"domain","value":"gone.example","to_ids":true}]}]}},
      {"Event":{"uuid":"e2","info":"deleted","timestamp":"200","deleted":true,"Attribute":[
        {"uuid":"b1","type":"domain","value":"old.example","to_ids":true}]}}
    ]}"#;
    let page = misp::parse_events(body).unwrap();
    assert_eq!(page.event_count, 2);
    assert_eq!(page.records.len(), 1, "a deleted event is no item");
    assert_eq!(page.skipped["deleted event"], 1);
    assert!(page.rejected.is_empty(), "{:?}", page.rejected);
    let live: Vec<String> = page.records[0]
        .sightings
        .iter()
        .map(|s| s.indicator.to_string())
        .collect();
    // `to_ids` off (a2) is kept as context and withdrawn below; no `to_ids`
    // at all (a3) is an ordinary sighting; both of low confidence.
    assert_eq!(live, ["ipv4:192.0.2.1", "ipv4:192.0.2.2", "ipv4:192.0.2.3"]);
    assert_eq!(
        page.records[0].sightings[1].confidence,
        Some(misp::CONFIDENCE_CONTEXT)
    );
    let mut withdrawn: Vec<(String, RetractReason)> = page
        .retractions
        .iter()
        .map(|r| (r.indicator.to_string(), r.reason))
        .collect();
    withdrawn.sort_by(|a, b| a.0.cmp(&b.0));
    // 192.0.2.1 is reported active by a1: a4's `to_ids` off does not retract it.
    assert_eq!(
        withdrawn,
        [
            ("domain:gone.example".to_owned(), RetractReason::Deleted),
            ("domain:old.example".to_owned(), RetractReason::Deleted),
            ("ipv4:192.0.2.2".to_owned(), RetractReason::FalsePositive),
        ]
    );
}
