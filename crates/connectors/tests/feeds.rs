//! The generic feed reader on the shared abuse.ch and blocklist fixtures,
//! read with the formats the catalogue resolves to: every good row loads with
//! its confidence and labels, every broken one is counted with its reason,
//! and the summary tells a cut body from a whole one.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use rexist_connectors::feed::{Entry, FeedError, FeedFormat, FeedSummary, Layout, read_feed};
use rexist_connectors::source::{Params, SourceConfig, catalogue};

/// One entry as the tests compare it.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    Value {
        line: u64,
        value: String,
        confidence: Option<u8>,
        labels: Vec<String>,
    },
    Rejected {
        line: u64,
        reason: String,
    },
}

fn read(fixture: &str, format: &FeedFormat) -> (Vec<Got>, FeedSummary) {
    let bytes = rexist_testkit::fixture_bytes(fixture);
    let mut got = Vec::new();
    let summary = read_feed(&bytes[..], format, |e| {
        got.push(match e {
            Entry::Indicator {
                line,
                indicator,
                confidence,
                labels,
            } => Got::Value {
                line,
                value: indicator.value().to_owned(),
                confidence,
                labels,
            },
            Entry::Rejected { line, reason } => Got::Rejected { line, reason },
        });
        true
    })
    .unwrap_or_else(|e| panic!("{fixture}: {e}"));
    (got, summary)
}

/// The format the catalogue entry `kind` resolves to.
fn catalogue_format(kind: &str) -> FeedFormat {
    let entry = catalogue(kind).unwrap();
    match SourceConfig::from_catalogue(entry)
        .resolve()
        .unwrap()
        .list()
    {
        Some(list) => list.format,
        None => panic!("{kind} is no list"),
    }
}

fn value(line: u64, value: &str, confidence: Option<u8>, labels: &[&str]) -> Got {
    Got::Value {
        line,
        value: value.to_owned(),
        confidence,
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
    }
}

fn rejected(line: u64, reason: &str) -> Got {
    Got::Rejected {
        line,
        reason: reason.to_owned(),
    }
}

fn values(got: &[Got]) -> Vec<&str> {
    got.iter()
        .filter_map(|g| match g {
            Got::Value { value, .. } => Some(value.as_str()),
            Got::Rejected { .. } => None,
        })
        .collect()
}

#[test]
fn threatfox_export_rows_all_load_with_confidence_and_labels() {
    let format = catalogue_format("threatfox");
    assert_eq!(
        format.confidence_column.as_deref(),
        Some("confidence_level")
    );
    let (got, summary) = read("abusech/threatfox/export-csv-recent.csv", &format);
    assert_eq!(
        got,
        [
            value(
                10,
                "192.0.2.70",
                Some(100),
                &["botnet_cc", "cobalt strike", "cobaltstrike", "c2"]
            ),
            value(
                11,
                "c2.malicious.example",
                Some(75),
                &["botnet_cc", "exampleloader"]
            ),
            value(
                12,
                "https://dl.malicious.example/p.exe",
                Some(50),
                &["payload_delivery", "exampleloader", "exe"]
            ),
            value(
                13,
                "b4cc19939275902ce8eaf999135d2a35d319df64cd45c2cfe4a80b4b24577763",
                Some(100),
                &["payload", "exampleloader"]
            ),
            value(
                14,
                "2942069d6781395b26308419953f74ba",
                Some(25),
                &["payload", "unknown malware"]
            ),
        ]
    );
    assert_eq!(
        summary,
        FeedSummary {
            values: 5,
            rejected: 0,
            decode_errors: 0,
            lines: 15,
            terminated: true,
            encoding: "UTF-8",
        }
    );
}

#[test]
fn threatfox_broken_rows_cost_only_themselves() {
    let (got, summary) = read(
        "abusech/threatfox/export-csv-recent-bad.csv",
        &catalogue_format("threatfox"),
    );
    assert_eq!(values(&got), ["192.0.2.70"]);
    assert_eq!(
        got[1..],
        [
            rejected(11, "expected 15 fields, found 3"),
            rejected(12, "invalid UTF-8"),
        ]
    );
    assert_eq!((summary.rejected, summary.decode_errors), (2, 1));
}

#[test]
fn threatfox_dump_without_a_header_reads_by_number() {
    // The full dump as feeds2stix shows it: no header line, 14 columns.
    let fixture = "abusech/feeds2stix/threatfox-csv_full.csv";
    let bytes = rexist_testkit::fixture_bytes(fixture);
    let by_name = read_feed(&bytes[..], &catalogue_format("threatfox"), |_| true);
    assert!(
        matches!(by_name, Err(FeedError::NoColumn { ref name, .. }) if name == "ioc_value"),
        "{by_name:?}"
    );
    let by_number = FeedFormat {
        confidence_column: Some("10".into()),
        label_columns: vec!["5".into(), "8".into(), "12".into()],
        ..FeedFormat::new(Layout::Index(2))
    };
    let (got, summary) = read(fixture, &by_number);
    assert_eq!(
        got,
        [value(
            8,
            "8.223.20.63",
            Some(100),
            &["botnet_cc", "cobalt strike", "cobaltstrike"]
        )]
    );
    assert!(summary.terminated);
}

#[test]
fn threatfox_api_json_carries_the_same_metadata() {
    let format = FeedFormat {
        confidence_column: Some("confidence_level".into()),
        label_columns: vec![
            "threat_type".into(),
            "malware_printable".into(),
            "tags".into(),
        ],
        ..FeedFormat::new(Layout::Json {
            array: "data".into(),
            field: "ioc".into(),
        })
    };
    let (got, summary) = read("abusech/threatfox/api-get_iocs.json", &format);
    assert_eq!(
        got.first(),
        Some(&value(
            1,
            "192.0.2.70",
            Some(100),
            &["botnet_cc", "cobalt strike", "cobaltstrike", "c2"]
        ))
    );
    assert_eq!(summary.rejected, 0, "{got:?}");
    assert!(summary.terminated);
    let bytes = rexist_testkit::fixture_bytes("abusech/threatfox/api-get_iocs-bad.json");
    let cut = read_feed(&bytes[..], &format, |_| true);
    assert!(matches!(cut, Err(FeedError::Json(_))), "{cut:?}");
}

#[test]
fn urlhaus_rows_load_exactly_with_threat_and_tags() {
    let format = catalogue_format("urlhaus");
    assert_eq!(format.label_columns, ["threat", "tags"]);
    let (got, summary) = read("abusech/urlhaus/csv_recent.csv", &format);
    let text = String::from_utf8(rexist_testkit::fixture_bytes(
        "abusech/urlhaus/csv_recent.csv",
    ))
    .unwrap();
    let japanese = text
        .lines()
        .find(|l| l.starts_with("\"3900001\""))
        .and_then(|l| l.split("\",\"").nth(2))
        .unwrap();
    assert!(!japanese.is_ascii());
    assert_eq!(
        got,
        [
            value(
                10,
                "http://192.0.2.50:58801/i",
                None,
                &["malware_download", "32-bit", "elf", "mips", "mozi"]
            ),
            value(
                11,
                "https://files.bad.example.net/Zoom%20Setup.exe",
                None,
                &["malware_download"]
            ),
            value(
                12,
                "http://[2001:db8::50]:8080/bin.sh",
                None,
                &["malware_download", "32-bit", "elf"]
            ),
            value(
                13,
                r#"http://dl.malicious.example/download.php?file=a.exe&ref="x""#,
                None,
                &["malware_download", "exe", "exampleloader"]
            ),
            value(14, japanese, None, &["malware_download", "zip"]),
        ]
    );
    assert_eq!((summary.values, summary.rejected), (5, 0));
    assert!(summary.terminated);

    let (got, _) = read(
        "abusech/feeds2stix/urlhaus-csv_recent.csv",
        &catalogue_format("urlhaus"),
    );
    assert_eq!(values(&got).len(), 10, "{got:?}");
}

#[test]
fn urlhaus_broken_body_keeps_the_good_rows_and_says_it_was_cut() {
    let (got, summary) = read(
        "abusech/urlhaus/csv_recent-bad.csv",
        &catalogue_format("urlhaus"),
    );
    assert_eq!(
        values(&got),
        [
            "http://192.0.2.50:58801/i",
            "https://files.bad.example.net/Zoom%20Setup.exe"
        ]
    );
    let rejections: Vec<&Got> = got
        .iter()
        .filter(|g| matches!(g, Got::Rejected { .. }))
        .collect();
    assert_eq!(
        rejections,
        [
            &rejected(11, "expected 9 fields, found 4"),
            &rejected(12, "invalid UTF-8"),
            &rejected(14, "unterminated quoted field"),
        ]
    );
    assert_eq!(
        (
            summary.values,
            summary.rejected,
            summary.decode_errors,
            summary.lines
        ),
        (5, 3, 1, 14)
    );
    assert!(!summary.terminated, "the last line is cut");
}

#[test]
fn feodo_sslbl_and_malwarebazaar_exports_load() {
    let (got, s) = read("abusech/feodo/ipblocklist.csv", &catalogue_format("feodo"));
    assert_eq!(
        values(&got),
        ["192.0.2.60", "198.51.100.61", "203.0.113.62", "192.0.2.63"]
    );
    assert_eq!((s.rejected, s.terminated), (0, true));
    let (got, _) = read(
        "abusech/feodo/ipblocklist-bad.csv",
        &catalogue_format("feodo"),
    );
    assert_eq!(
        got,
        [
            value(10, "192.0.2.60", None, &[]),
            rejected(11, "expected 6 fields, found 5"),
            rejected(12, "expected 6 fields, found 7"),
        ]
    );

    let (got, s) = read("abusech/sslbl/sslblacklist.csv", &catalogue_format("sslbl"));
    assert_eq!((values(&got).len(), s.rejected), (3, 0));
    let (got, s) = read(
        "abusech/feeds2stix/sslbl-sslblacklist.csv",
        &catalogue_format("sslbl"),
    );
    assert_eq!((values(&got).len(), s.rejected), (7, 0));
    let (got, s) = read(
        "abusech/sslbl/sslblacklist-bad.csv",
        &catalogue_format("sslbl"),
    );
    assert_eq!(values(&got), ["5b90ee51f3677b5cb31571e34637b54c820bbd4f"]);
    assert_eq!(s.rejected, 2, "{got:?}");

    // `", "` separators, tabs in the banner, `n/a`, a `# Number of entries` trailer.
    let bazaar = FeedFormat {
        label_columns: vec!["signature".into(), "file_type_guess".into()],
        ..catalogue_format("malwarebazaar")
    };
    let (got, s) = read("abusech/feeds2stix/malwarebazaar-csv_full.csv", &bazaar);
    assert_eq!((values(&got).len(), s.rejected, s.lines), (5, 0, 15));
    assert_eq!(
        got[2],
        value(
            12,
            "1a295933a80907bda689b231e5295eae86bd19b21964ee8669ceb5598c9d714d",
            None,
            &["loki", "exe"]
        )
    );
    assert_eq!(
        got[0],
        value(
            10,
            "2e376f05023790d577a4d2e110640410c9d65c145d2d02e207ff07c3271ea095",
            None,
            &["exe"]
        ),
        "n/a is no label"
    );
}

#[test]
fn plain_lists_and_ndjson_load() {
    let (got, s) = read(
        "blocklists/plain-ip-list-bad.txt",
        &FeedFormat::new(Layout::Lines),
    );
    assert_eq!(
        values(&got),
        [
            "192.0.2.130",
            "198.51.100.131",
            "192.0.2.132",
            "192.0.2.133",
            "2001:db8::134"
        ]
    );
    assert_eq!(
        (s.values, s.rejected, s.decode_errors, s.lines, s.terminated),
        (8, 3, 1, 10, false)
    );
    for (fixture, kind) in [
        ("blocklists/openphish/feed.txt", "openphish"),
        ("blocklists/cins/ci-badguys.txt", "cins"),
        ("blocklists/blocklistde/all.txt", "blocklistde"),
        ("blocklists/et/compromised-ips.txt", "et"),
        ("blocklists/phishtank/online-valid.csv", "phishtank"),
        ("blocklists/spamhaus/drop_v4.json", "spamhaus-drop"),
    ] {
        let (got, s) = read(fixture, &catalogue_format(kind));
        assert!(s.values > 0, "{fixture}");
        assert_eq!((s.rejected, s.decode_errors), (0, 0), "{fixture}: {got:?}");
        assert!(s.terminated, "{fixture}");
    }
    let (_, s) = read(
        "blocklists/spamhaus/drop_v4-bad.json",
        &catalogue_format("spamhaus-drop"),
    );
    assert_eq!(s.rejected, 2);
}

#[test]
fn source_keys_reach_the_format() {
    let mut config = SourceConfig::from_catalogue(catalogue("urlhaus").unwrap());
    let keys = |config: &mut SourceConfig| match &mut config.params {
        Params::Csv(p) => p.clone(),
        other => panic!("urlhaus is a csv list: {other:?}"),
    };
    let mut p = keys(&mut config);
    p.encoding = Some("Shift_JIS".into());
    p.label_columns = Some(Vec::new());
    p.confidence_column = Some("2".into());
    config.params = Params::Csv(p.clone());
    let format = config.resolve().unwrap().list().unwrap().format;
    assert_eq!(format.encoding.as_deref(), Some("Shift_JIS"));
    assert!(
        format.label_columns.is_empty(),
        "[] turns the catalogue's off"
    );
    assert_eq!(format.confidence_column.as_deref(), Some("2"));
    p.encoding = Some("klingon".into());
    config.params = Params::Csv(p.clone());
    let err = config.resolve().unwrap_err().to_string();
    assert!(err.contains("encoding \"klingon\""), "{err}");
    p.encoding = None;
    p.confidence_column = Some("0".into());
    config.params = Params::Csv(p);
    let err = config.resolve().unwrap_err().to_string();
    assert!(err.contains("count from 1"), "{err}");
}
