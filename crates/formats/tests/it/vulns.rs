//! NVD, CISA KEV and Exploit-DB parsers against their fixtures.

#![allow(clippy::unwrap_used)]

use crate::common::fixture;
use rexist_core::{IndicatorType, ItemKind};
use rexist_formats::{FormatError, exploitdb, kev, nvd};

#[test]
fn nvd_page_with_two_cves() {
    let page = nvd::parse_page(&fixture("nvd/cves-2.0-both.json")).unwrap();
    assert_eq!(
        (page.total_results, page.start_index, page.results_per_page),
        (2, 0, 2)
    );
    assert_eq!(page.next_start(), None);
    assert_eq!(page.records.len(), 2);
    assert!(page.rejected.is_empty());

    let log4shell = &page.records[1];
    let item = &log4shell.item;
    assert_eq!(item.kind, ItemKind::Vuln);
    assert_eq!(item.external_id, "CVE-2021-44228");
    assert!(
        item.title
            .starts_with("CVE-2021-44228: Apache Log4j2 2.0-beta9")
    );
    assert!(
        item.body
            .starts_with("Apache Log4j2 2.0-beta9 through 2.15.0"),
        "English description"
    );
    assert_eq!(item.lang.as_deref(), Some("en"));
    assert_eq!(item.published_at.unwrap().unix_timestamp(), 1_639_131_309);
    assert_eq!(item.tags, ["critical", "kev"]);
    assert_eq!(item.extra["kev"], true);
    assert_eq!(item.extra["cisa_exploit_add"], "2021-12-10");
    assert_eq!(item.extra["cvss_v31"]["base_score"], 10.0);
    assert_eq!(
        item.extra["cvss_v31"]["vector"],
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"
    );
    assert_eq!(item.extra["cvss_v2"]["severity"], "HIGH");
    assert_eq!(
        item.extra["cwes"],
        serde_json::json!(["CWE-20", "CWE-400", "CWE-502", "CWE-917"])
    );
    assert_eq!(item.extra["references"].as_array().unwrap().len(), 15);
    assert_eq!(log4shell.sightings.len(), 1);
    assert_eq!(log4shell.sightings[0].indicator.kind(), IndicatorType::Cve);

    let xss = &page.records[0].item;
    assert_eq!(xss.extra["kev"], false);
    assert_eq!(xss.extra["severity"], "MEDIUM");
    assert_eq!(
        xss.extra["cvss_v2"]["severity"], "LOW",
        "v2 severity sits outside cvssData"
    );
}

#[test]
fn nvd_paging_and_empty() {
    let p0 = nvd::parse_page(&fixture("nvd/cves-2.0-page0.json")).unwrap();
    assert_eq!(p0.next_start(), Some(1));
    assert_eq!(p0.records[0].item.external_id, "CVE-2021-44200");
    let p1 = nvd::parse_page(&fixture("nvd/cves-2.0-page1.json")).unwrap();
    assert_eq!(p1.next_start(), None);
    assert_eq!(p1.records[0].item.external_id, "CVE-2021-44228");
    let empty = nvd::parse_page(&fixture("nvd/cves-2.0-empty.json")).unwrap();
    assert_eq!((empty.total_results, empty.records.len()), (0, 0));
    assert_eq!(empty.next_start(), None);
}

#[test]
fn nvd_bad_page_and_bad_cve() {
    let err = nvd::parse_page(&fixture("nvd/cves-2.0-bad.json")).unwrap_err();
    assert!(
        matches!(err, FormatError::Json { line: 315, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "nvd cves: invalid json at line 315 column 4: EOF while parsing a value"
    );
    let page = nvd::parse_page(
        br#"{"totalResults":3,"startIndex":0,"resultsPerPage":3,"vulnerabilities":[
            {"cve":{"id":"not-a-cve"}},{"nope":1},{"cve":{"id":"CVE-2025-0001"}}]}"#,
    )
    .unwrap();
    assert_eq!(page.records.len(), 1);
    let places: Vec<&str> = page.rejected.iter().map(|r| r.at.as_str()).collect();
    assert_eq!(places, ["vulnerability 1", "vulnerability 2"]);
    assert!(page.rejected[0].reason.starts_with("invalid cve"));
}

#[test]
fn kev_json_catalogue() {
    let cat = kev::parse_json(&fixture("kev/known_exploited_vulnerabilities.json")).unwrap();
    assert_eq!(cat.catalog_version.as_deref(), Some("2025.08.25"));
    assert_eq!(cat.count, Some(50));
    assert_eq!(cat.records.len(), 50);
    assert!(cat.rejected.is_empty());
    let first = &cat.records[0];
    assert_eq!(first.item.external_id, "kev:CVE-2025-48384");
    assert_eq!(
        first.item.title,
        "Git / Git / Git Link Following Vulnerability"
    );
    assert!(
        first.item.body.contains("Git’s inconsistent handling"),
        "\\u2019 decoded"
    );
    assert!(
        first
            .item
            .body
            .contains("\n\nRequired action: Apply mitigations")
    );
    assert_eq!(first.item.extra["due_date"], "2025-09-15");
    assert_eq!(first.item.extra["kev"], true);
    assert_eq!(
        first.item.extra["cwes"],
        serde_json::json!(["CWE-59", "CWE-436"])
    );
    assert_eq!(first.sightings[0].indicator.value(), "CVE-2025-48384");
    assert!(
        cat.records
            .iter()
            .any(|r| r.item.tags.contains(&"ransomware".to_owned()))
    );
    assert!(
        cat.records
            .iter()
            .any(|r| r.item.external_id == "kev:CVE-2021-44228")
    );
}

#[test]
fn kev_csv_matches_json() {
    let json = kev::parse_json(&fixture("kev/known_exploited_vulnerabilities.json")).unwrap();
    let csv = kev::parse_csv(&fixture("kev/known_exploited_vulnerabilities.csv")).unwrap();
    assert_eq!(csv.catalog_version, None, "the CSV carries no version");
    assert_eq!(csv.records.len(), 50);
    assert!(csv.rejected.is_empty());
    for (a, b) in json.records.iter().zip(&csv.records) {
        assert_eq!(a.item.external_id, b.item.external_id);
        assert_eq!(a.item.title, b.item.title);
        assert_eq!(a.item.body, b.item.body);
        assert_eq!(a.item.extra["cwes"], b.item.extra["cwes"]);
    }
}

#[test]
fn kev_bad_files() {
    let err =
        kev::parse_json(&fixture("kev/known_exploited_vulnerabilities-bad.json")).unwrap_err();
    assert!(
        matches!(err, FormatError::Json { line: 340, .. }),
        "{err:?}"
    );
    // The unterminated quote on line 4 runs to the end of the file and takes
    // the short Latin-1 row of line 5 with it: one rejected record, placed.
    let cat = kev::parse_csv(&fixture("kev/known_exploited_vulnerabilities-bad.csv")).unwrap();
    assert_eq!(cat.records.len(), 2);
    assert_eq!(cat.rejected.len(), 1);
    assert_eq!(cat.rejected[0].at, "line 4");
    assert_eq!(cat.rejected[0].reason, "expected 11 fields, got 4");
    assert!(matches!(
        kev::parse_csv(b"a,b\n1,2\n"),
        Err(FormatError::CsvHeader { .. })
    ));
}

#[test]
fn exploitdb_csv() {
    let e = exploitdb::parse_csv(&fixture("exploitdb/files_exploits.csv")).unwrap();
    assert_eq!(e.records.len(), 5);
    assert!(e.rejected.is_empty());
    assert_eq!(e.max_id, Some(99_005));
    let first = &e.records[0];
    assert_eq!(first.item.kind, ItemKind::Exploit);
    assert_eq!(first.item.external_id, "edb:99001");
    assert_eq!(
        first.item.url.as_deref(),
        Some("https://www.exploit-db.com/exploits/99001")
    );
    assert_eq!(first.item.extra["verified"], true);
    assert_eq!(first.item.extra["platform"], "java");
    assert_eq!(first.item.extra["author"], "example-author");
    assert_eq!(
        first.item.extra["codes"],
        serde_json::json!(["CVE-2021-44228", "OSVDB-0000"])
    );
    assert_eq!(first.sightings.len(), 1, "OSVDB is not an indicator");
    assert_eq!(e.records[2].sightings.len(), 2);
    assert_eq!(e.records[2].item.extra["port"], 8443);
    assert_eq!(
        e.records[3].item.title,
        "Example Driver - Local Privilege Escalation \"LPE\""
    );
    assert!(e.records[3].sightings.is_empty());
    assert_eq!(
        e.records[4].item.title,
        "例のサーバ 2.0 - Denial of Service (PoC)"
    );
}

#[test]
fn exploitdb_bad_rows_are_rejected_with_their_line() {
    let e = exploitdb::parse_csv(&fixture("exploitdb/files_exploits-bad.csv")).unwrap();
    assert_eq!(e.records.len(), 1);
    let rejected: Vec<(&str, &str)> = e
        .rejected
        .iter()
        .map(|r| (r.at.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(
        rejected,
        [
            ("line 3", "expected 17 fields, got 4"),
            ("line 4", "field 3 is not utf-8")
        ]
    );
}
