//! OTX and ThreatConnect parsers against their fixtures.

#![allow(clippy::unwrap_used)]

use crate::common::fixture;
use rexist_core::{IndicatorType, ItemKind, Record, RetractReason, Tlp};
use rexist_formats::{FormatError, otx, threatconnect};

#[test]
fn otx_first_page_of_pulses() {
    let page = otx::parse_pulses(&fixture("otx/pulses-subscribed-page1.json")).unwrap();
    assert_eq!(page.count, Some(3));
    assert_eq!(page.result_count, 2);
    assert!(page.next.as_deref().unwrap().ends_with("&page=2"));
    assert_eq!(page.records.len(), 2);
    // The BitcoinAddress is not a valid address: rejected, pulse kept.
    assert_eq!(page.rejected.len(), 1, "{:?}", page.rejected);
    assert_eq!(
        page.rejected[0].at,
        "pulse 55ae4c31964bed1912b69b0f indicator 4100000026"
    );
    assert!(
        page.rejected[0]
            .reason
            .starts_with("invalid BitcoinAddress")
    );
    assert_eq!(
        page.max_modified.unwrap().unix_timestamp(),
        time::macros::datetime!(2025-01-03 06:30:00 UTC).unix_timestamp()
    );

    let first = &page.records[0];
    let item = &first.item;
    assert_eq!(item.kind, ItemKind::Event);
    assert_eq!(item.external_id, "otx:caf2a359e7d71577cdde81e5");
    assert_eq!(item.title, "Example Panda phishing infrastructure");
    assert_eq!(
        item.url.as_deref(),
        Some("https://blog.example.org/2025/01/example-panda")
    );
    assert_eq!(item.tlp, Tlp::Green);
    assert_eq!(item.tags, ["phishing", "japan", "example-panda"]);
    assert_eq!(item.extra["adversary"], "Example Panda");
    assert_eq!(item.extra["id"], "caf2a359e7d71577cdde81e5");
    assert_eq!(item.extra["attack_ids"][1], "T1071.001");
    // 11 indicators, the CIDR is inactive.
    assert_eq!(first.sightings.len(), 10);
    assert_eq!(
        item.extra["inactive_indicators"][0]["indicator"],
        "198.51.100.0/24"
    );
    let kinds: Vec<_> = first.sightings.iter().map(|s| s.indicator.kind()).collect();
    assert_eq!(
        kinds,
        [
            IndicatorType::Ipv4,
            IndicatorType::Ipv6,
            IndicatorType::Domain,
            IndicatorType::Domain,
            IndicatorType::Url,
            IndicatorType::Md5,
            IndicatorType::Sha1,
            IndicatorType::Sha256,
            IndicatorType::Email,
            IndicatorType::Cve,
        ]
    );
    let labels = &first.sightings[0].labels;
    assert!(labels.contains(&"ExampleLoader".to_owned()));
    assert!(labels.contains(&"C2".to_owned()));

    let second = &page.records[1];
    assert_eq!(second.item.tlp, Tlp::Clear);
    assert_eq!(
        second.item.url.as_deref(),
        Some("https://otx.alienvault.com/pulse/55ae4c31964bed1912b69b0f")
    );
    assert_eq!(second.item.extra["malware_families"][0], "ExampleLoader");
    assert_eq!(second.item.extra["attack_ids"][0], "T1071");
    assert_eq!(second.sightings.len(), 3);
    let other = second.item.extra["other_indicators"].as_array().unwrap();
    let other_types: Vec<_> = other.iter().map(|o| o["type"].as_str().unwrap()).collect();
    assert_eq!(other_types, ["Mutex", "FilePath", "JA3"]);
    assert!(second.sightings[0].labels.contains(&"botnet".to_owned()));
}

#[test]
fn otx_last_and_empty_pages() {
    let page = otx::parse_pulses(&fixture("otx/pulses-subscribed-page2.json")).unwrap();
    assert_eq!(page.next, None);
    assert_eq!(page.records.len(), 1);
    let rec = &page.records[0];
    assert_eq!(rec.item.tlp, Tlp::Amber);
    assert_eq!(rec.sightings.len(), 1);
    let other = rec.item.extra["other_indicators"].as_array().unwrap();
    assert_eq!(other.len(), 2, "bare URI path and YARA kept: {other:?}");
    assert_eq!(other[0]["type"], "URI");

    let empty = otx::parse_pulses(&fixture("otx/pulses-subscribed-empty.json")).unwrap();
    assert!(empty.records.is_empty() && empty.rejected.is_empty());
    assert_eq!(
        (empty.next, empty.max_modified, empty.count),
        (None, None, Some(0))
    );
}

#[test]
fn otx_bad_bodies() {
    let err = otx::parse_pulses(&fixture("otx/pulses-subscribed-bad.json")).unwrap_err();
    assert!(matches!(err, FormatError::Json { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("otx pulses: invalid json at line")
    );
    let err = otx::parse_pulses(&fixture("otx/error-403.json")).unwrap_err();
    assert!(err.to_string().contains("Authentication required"), "{err}");
    let err = otx::parse_pulses(b"{\"results\": 3}").unwrap_err();
    assert!(matches!(err, FormatError::Shape { .. }), "{err}");
}

#[test]
fn otx_pulse_without_id_and_bad_indicator() {
    let body = br#"{"results":[
        {"name":"no id","indicators":[]},
        {"id":"abc","name":"ok","indicators":[
            {"id":1,"indicator":"999.1.1.1","type":"IPv4"},
            {"id":2,"indicator":"198.51.100.7","type":"IPv4"},
            {"id":3,"indicator":"x","type":"osquery"}]}],
        "next":null}"#;
    let page = otx::parse_pulses(body).unwrap();
    assert_eq!(page.records.len(), 1);
    assert_eq!(page.records[0].sightings.len(), 1);
    assert_eq!(page.rejected.len(), 2);
    assert_eq!(page.rejected[0].at, "pulse 1");
    assert_eq!(page.rejected[0].reason, "missing id");
    assert_eq!(page.rejected[1].at, "pulse abc indicator 1");
    assert!(page.rejected[1].reason.starts_with("invalid IPv4"));
}

#[test]
fn otx_indicator_export_pages() {
    let p1 = otx::parse_indicator_export(&fixture("otx/indicators-export-page1.json")).unwrap();
    assert_eq!(p1.count, Some(18));
    assert!(p1.next.is_some());
    assert_eq!(p1.records.len(), 10);
    assert!(p1.rejected.is_empty());
    assert!(matches!(&p1.records[0], Record::Sighting(s) if s.indicator.value() == "192.0.2.10"));
    let p2 = otx::parse_indicator_export(&fixture("otx/indicators-export-page2.json")).unwrap();
    assert_eq!(p2.next, None);
    assert_eq!(p2.records.len() + p2.rejected.len() + p2.other.len(), 8);
}

#[test]
fn otx_type_map() {
    assert_eq!(otx::map_type("hostname"), Some(IndicatorType::Domain));
    assert_eq!(
        otx::map_type("FileHash-SHA512"),
        Some(IndicatorType::Sha512)
    );
    assert_eq!(otx::map_type("YARA"), None);
    assert_eq!(otx::map_type("FileHash-IMPHASH"), None);
}

fn sightings(page: &threatconnect::TcIndicators) -> Vec<&rexist_core::NewSighting> {
    page.records
        .iter()
        .map(|r| match r {
            Record::Sighting(s) => s,
            other => panic!("not a sighting: {other:?}"),
        })
        .collect()
}

#[test]
fn tc_indicator_pages() {
    let p1 =
        threatconnect::parse_indicators(&fixture("threatconnect/indicators-page1.json")).unwrap();
    assert!(p1.next.as_deref().unwrap().contains("resultStart=3"));
    assert_eq!(p1.result_count, 3);
    assert!(p1.rejected.is_empty());
    let s = sightings(&p1);
    assert_eq!(s.len(), 3);
    assert_eq!(s[0].indicator.value(), "192.0.2.44");
    assert_eq!(s[0].labels, ["Example Org", "C2", "Example Panda"]);
    // rating 3 (60) and confidence 80 → 70.
    assert_eq!(s[0].confidence, Some(70));
    assert_eq!(s[1].indicator.kind(), IndicatorType::Domain);
    assert_eq!(s[1].confidence, Some(88));
    assert_eq!(s[2].indicator.kind(), IndicatorType::Url);
    assert!(p1.max_last_modified.is_some());

    let p2 =
        threatconnect::parse_indicators(&fixture("threatconnect/indicators-page2.json")).unwrap();
    let s = sightings(&p2);
    let kinds: Vec<_> = s.iter().map(|s| s.indicator.kind()).collect();
    assert_eq!(
        kinds,
        [
            IndicatorType::Md5,
            IndicatorType::Sha1,
            IndicatorType::Sha256,
            IndicatorType::Email,
            IndicatorType::Cidr,
        ]
    );
    assert_eq!(s[0].indicator.value(), "a649c321d905ef7535458fd18be4d8ee");
    assert_eq!(s[0].confidence, Some(100));
    assert_eq!(s[4].confidence, None, "unrated");

    let p3 =
        threatconnect::parse_indicators(&fixture("threatconnect/indicators-page3.json")).unwrap();
    assert_eq!(p3.next, None);
    let s = sightings(&p3);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].indicator.value(), "AS64496");
    assert_eq!(p3.skipped.get("type Mutex"), Some(&1));
}

#[test]
fn tc_deleted_empty_and_errors() {
    let d =
        threatconnect::parse_indicators(&fixture("threatconnect/indicators-deleted.json")).unwrap();
    assert!(d.records.is_empty());
    assert_eq!(d.retractions.len(), 1);
    assert_eq!(d.retractions[0].indicator.value(), "192.0.2.45");
    assert_eq!(d.retractions[0].reason, RetractReason::Deleted);
    assert_eq!(
        d.retractions[0].at,
        time::macros::datetime!(2025-01-02 09:00 UTC),
        "deletedDate"
    );
    assert_eq!(d.skipped.get("deleted"), Some(&1));

    let e =
        threatconnect::parse_indicators(&fixture("threatconnect/indicators-empty.json")).unwrap();
    assert!(e.records.is_empty() && e.next.is_none() && e.rejected.is_empty());

    let err =
        threatconnect::parse_indicators(&fixture("threatconnect/indicators-bad.json")).unwrap_err();
    assert!(matches!(err, FormatError::Json { .. }), "{err}");
    for f in [
        "threatconnect/error-400-tql.json",
        "threatconnect/error-401.json",
    ] {
        let err = threatconnect::parse_indicators(&fixture(f)).unwrap_err();
        assert!(matches!(err, FormatError::Upstream { .. }), "{err}");
    }
    let err =
        threatconnect::parse_indicators(&fixture("threatconnect/error-400-tql.json")).unwrap_err();
    assert!(err.to_string().contains("lastModifiedd"));
}

#[test]
fn tc_bad_inactive_and_false_positive() {
    let body = br#"{"status":"Success","data":[
        {"id":1,"type":"Address","ip":"300.1.2.3","rating":3,"confidence":50},
        {"id":2,"type":"Address","ip":"192.0.2.1","active":false},
        {"id":3,"type":"Host","hostName":"fp.example","falsePositiveFlag":true},
        {"id":4,"type":"Host","hostName":"ok.example","rating":5,"confidence":0}]}"#;
    let page = threatconnect::parse_indicators(body).unwrap();
    assert_eq!(page.records.len(), 1);
    assert_eq!(page.rejected.len(), 1);
    assert_eq!(page.rejected[0].at, "indicator 1");
    assert!(
        page.rejected[0].reason.starts_with("invalid ipv4"),
        "{:?}",
        page.rejected
    );
    assert_eq!(page.skipped.get("inactive"), Some(&1));
    assert_eq!(page.skipped.get("false positive"), Some(&1));
    let withdrawn: Vec<_> = page
        .retractions
        .iter()
        .map(|r| (r.indicator.value(), r.reason))
        .collect();
    assert_eq!(
        withdrawn,
        [
            ("192.0.2.1", RetractReason::Inactive),
            ("fp.example", RetractReason::FalsePositive)
        ]
    );
    assert!(matches!(&page.records[0], Record::Sighting(s) if s.confidence == Some(100)));
}

#[test]
fn tc_groups_with_associated_indicators() {
    let body = br#"{"status":"Success","data":[
        {"id":55,"type":"Incident","name":"Phish wave","ownerName":"Example Org",
         "dateAdded":"2025-01-02T00:00:00Z","lastModified":"2025-01-03T00:00:00Z",
         "webLink":"https://tc.example/auth/incident/incident.xhtml?incident=55",
         "tags":{"data":[{"name":"phishing"}]},
         "associatedIndicators":{"data":[
            {"id":1,"type":"Host","hostName":"login.phish.example","rating":4,"confidence":90},
            {"id":2,"type":"Address","ip":"not-an-ip"},
            {"id":3,"type":"Mutex","Mutex":"m"}]}},
        {"type":"Report","name":"no id"}]}"#;
    let page = threatconnect::parse_groups(body).unwrap();
    assert_eq!(page.records.len(), 1);
    let rec = &page.records[0];
    assert_eq!(rec.item.kind, ItemKind::Event);
    assert_eq!(rec.item.external_id, "threatconnect:group:55");
    assert_eq!(rec.item.title, "Phish wave");
    assert_eq!(rec.item.tags, ["phishing"]);
    assert_eq!(rec.sightings.len(), 1);
    assert_eq!(rec.sightings[0].confidence, Some(85));
    assert_eq!(
        rec.sightings[0].labels,
        ["Incident", "Example Org", "phishing"]
    );
    assert_eq!(page.rejected.len(), 2);
    assert_eq!(page.skipped.get("type Mutex"), Some(&1));
}

#[test]
fn tc_confidence_formula() {
    assert_eq!(threatconnect::confidence(None, None), None);
    assert_eq!(threatconnect::confidence(Some(0.0), Some(0.0)), None);
    assert_eq!(threatconnect::confidence(Some(2.5), None), Some(50));
    assert_eq!(threatconnect::confidence(None, Some(33.0)), Some(33));
    assert_eq!(threatconnect::confidence(Some(9.0), Some(400.0)), Some(100));
}

#[test]
fn tc_hmac_matches_python_vectors() {
    // python3: base64.b64encode(hmac.new(secret, msg, hashlib.sha256).digest())
    assert_eq!(
        threatconnect::hmac_authorization(
            "12345678901234567890",
            "secret",
            "/api/v3/indicators?tql=typeName%20in%20%28%22Address%22%29&resultStart=0",
            "GET",
            1_700_000_000,
        ),
        "TC 12345678901234567890:QQRjge7SWugDGk0fZzTeCzdGEdeAfHJzlIMarU1gguM="
    );
    assert_eq!(
        threatconnect::hmac_authorization(
            "id",
            "abc123",
            "/api/v2/indicators/hosts/example.com?Owner=Common%20Community",
            "get",
            1_513_703_787,
        ),
        "TC id:FA2LgDjmPmL9Zm2xnZjCfOhh6lWU52yI/RumMxcKVJ8="
    );
}

#[test]
fn tc_security_labels_set_tlp() {
    let body = br#"{"status":"Success","data":[
        {"id":1,"type":"Address","ip":"192.0.2.9","securityLabels":{"data":[{"name":"TLP:RED"}]}},
        {"id":2,"type":"Address","ip":"192.0.2.8"}]}"#;
    let page = threatconnect::parse_indicators(body).unwrap();
    let s = sightings(&page);
    assert_eq!((s[0].tlp, s[1].tlp), (Some(Tlp::Red), None));
    let groups = threatconnect::parse_groups(
        br#"{"status":"Success","data":[{"id":9,"type":"Report","name":"r","securityLabels":{"data":[{"name":"TLP:GREEN"}]}}]}"#,
    )
    .unwrap();
    assert_eq!(groups.records[0].item.tlp, Tlp::Green);
}
