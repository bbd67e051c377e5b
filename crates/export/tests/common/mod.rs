//! Shared rows for the export tests.

#![allow(dead_code, clippy::unwrap_used)]

use rexist_core::{ExportRow, IndicatorId, IndicatorRecord, IndicatorStatus, IndicatorType, Tlp};
use time::macros::datetime;

pub fn row(kind: IndicatorType, value: &str) -> ExportRow {
    ExportRow {
        record: IndicatorRecord {
            id: IndicatorId::new(1),
            kind,
            value: value.to_owned(),
            first_seen: datetime!(2024-03-01 10:00:00.123 UTC),
            last_seen: datetime!(2024-03-05 12:30:00 UTC),
            sightings: 3,
            score: 70,
            tlp: Tlp::Green,
            status: IndicatorStatus::Active,
            status_reason: None,
        },
        added: datetime!(2024-03-01 10:00:01 UTC),
        sources: vec!["abuse.ch".into(), "otx".into()],
        labels: vec!["emotet".into()],
    }
}

pub const SAMPLES: [(IndicatorType, &str); 15] = [
    (IndicatorType::Ipv4, "1.2.3.4"),
    (IndicatorType::Ipv6, "2001:db8::1"),
    (IndicatorType::Cidr, "10.0.0.0/8"),
    (IndicatorType::Cidr, "2001:db8::/32"),
    (IndicatorType::Domain, "evil.example.com"),
    (IndicatorType::Url, "http://evil.example.com/a/b?x=1"),
    (IndicatorType::Url, "https://secure.example.net/login"),
    (IndicatorType::Email, "bad@example.com"),
    (IndicatorType::Md5, "d41d8cd98f00b204e9800998ecf8427e"),
    (
        IndicatorType::Sha1,
        "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    ),
    (
        IndicatorType::Sha256,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ),
    (
        IndicatorType::Sha512,
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
    ),
    (IndicatorType::Cve, "CVE-2021-44228"),
    (IndicatorType::Asn, "AS15169"),
    (IndicatorType::Btc, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
];

pub fn samples() -> Vec<ExportRow> {
    SAMPLES
        .iter()
        .enumerate()
        .map(|(i, (k, v))| {
            let mut r = row(*k, v);
            r.record.id = IndicatorId::new(i64::try_from(i).unwrap());
            r.record.tlp = Tlp::ALL[i % Tlp::ALL.len()];
            if i % 3 == 1 {
                r.sources = vec!["otx".into()];
            } else if i % 3 == 2 {
                r.sources.clear();
            }
            r
        })
        .collect()
}
