//! The `geoip` provider on MaxMind DB files written here: the maxminddb
//! crate ships no test databases, and real ones may not be redistributed.
//! The writer follows the MaxMind DB format spec 2.0: a binary search tree
//! of 24-bit records, 16 zero bytes, the data section, then the metadata
//! after `\xAB\xCD\xEFMaxMind.com`.

use std::net::Ipv4Addr;

use rexist_core::IndicatorType;
use rexist_enrich::{ConfigError, EnrichConfig, Enricher, Status};
use serde_json::json;

use crate::common::one;

/// A value of the MaxMind DB data section.
enum Data {
    Str(&'static str),
    F64(f64),
    U16(u16),
    U32(u32),
    U64(u64),
    Map(Vec<(&'static str, Data)>),
    Array(Vec<Data>),
}

/// Control byte(s) for a type and a payload size (spec "Data Field Format").
fn control(kind: u8, size: usize, out: &mut Vec<u8>) {
    let (bits, extra): (u8, Vec<u8>) = if size < 29 {
        (u8::try_from(size).unwrap(), Vec::new())
    } else if size < 285 {
        (29, vec![u8::try_from(size - 29).unwrap()])
    } else {
        (
            30,
            u16::try_from(size - 285).unwrap().to_be_bytes().to_vec(),
        )
    };
    if kind <= 7 {
        out.push((kind << 5) | bits);
    } else {
        out.push(bits);
        out.push(kind - 7);
    }
    out.extend(extra);
}

fn uint(kind: u8, bytes: &[u8], out: &mut Vec<u8>) {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    control(kind, trimmed.len(), out);
    out.extend(trimmed);
}

fn encode(d: &Data, out: &mut Vec<u8>) {
    match d {
        Data::Str(s) => {
            control(2, s.len(), out);
            out.extend(s.as_bytes());
        }
        Data::F64(f) => {
            control(3, 8, out);
            out.extend(f.to_be_bytes());
        }
        Data::U16(n) => uint(5, &n.to_be_bytes(), out),
        Data::U32(n) => uint(6, &n.to_be_bytes(), out),
        Data::U64(n) => uint(9, &n.to_be_bytes(), out),
        Data::Map(pairs) => {
            control(7, pairs.len(), out);
            for (k, v) in pairs {
                encode(&Data::Str(k), out);
                encode(v, out);
            }
        }
        Data::Array(items) => {
            control(11, items.len(), out);
            for item in items {
                encode(item, out);
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Rec {
    Empty,
    Node(usize),
    Data(usize),
}

/// An IPv4-only database mapping each network to a record.
fn mmdb(database_type: &'static str, networks: Vec<(Ipv4Addr, u8, Data)>) -> Vec<u8> {
    let mut data = Vec::new();
    let mut nodes: Vec<[Rec; 2]> = vec![[Rec::Empty; 2]];
    for (net, len, record) in networks {
        let offset = data.len();
        encode(&record, &mut data);
        let bits = u32::from(net);
        let mut node = 0;
        for i in 0..len {
            let bit = usize::from((bits >> (31 - i)) & 1 == 1);
            if i == len - 1 {
                nodes[node][bit] = Rec::Data(offset);
            } else if let Rec::Node(next) = nodes[node][bit] {
                node = next;
            } else {
                nodes.push([Rec::Empty; 2]);
                let next = nodes.len() - 1;
                nodes[node][bit] = Rec::Node(next);
                node = next;
            }
        }
    }
    let count = nodes.len();
    let value = |r: Rec| match r {
        Rec::Empty => count,
        Rec::Node(n) => n,
        Rec::Data(off) => count + 16 + off,
    };
    let mut out = Vec::new();
    for [left, right] in nodes {
        for r in [left, right] {
            out.extend(&u32::try_from(value(r)).unwrap().to_be_bytes()[1..]);
        }
    }
    out.extend([0u8; 16]);
    out.extend(data);
    out.extend(b"\xAB\xCD\xEFMaxMind.com");
    encode(
        &Data::Map(vec![
            ("node_count", Data::U32(u32::try_from(count).unwrap())),
            ("record_size", Data::U16(24)),
            ("ip_version", Data::U16(4)),
            ("database_type", Data::Str(database_type)),
            ("languages", Data::Array(vec![Data::Str("en")])),
            ("binary_format_major_version", Data::U16(2)),
            ("binary_format_minor_version", Data::U16(0)),
            ("build_epoch", Data::U64(1_735_689_600)),
            (
                "description",
                Data::Map(vec![("en", Data::Str("rexist test database"))]),
            ),
        ]),
        &mut out,
    );
    out
}

fn city_db() -> Vec<u8> {
    mmdb(
        "GeoIP2-City",
        vec![(
            Ipv4Addr::new(192, 0, 2, 0),
            24,
            Data::Map(vec![
                (
                    "city",
                    Data::Map(vec![(
                        "names",
                        Data::Map(vec![("en", Data::Str("Example City"))]),
                    )]),
                ),
                (
                    "country",
                    Data::Map(vec![
                        ("iso_code", Data::Str("ZZ")),
                        ("names", Data::Map(vec![("en", Data::Str("Example Land"))])),
                    ]),
                ),
                (
                    "location",
                    Data::Map(vec![
                        ("accuracy_radius", Data::U16(50)),
                        ("latitude", Data::F64(35.6895)),
                        ("longitude", Data::F64(139.6917)),
                        ("time_zone", Data::Str("Asia/Tokyo")),
                    ]),
                ),
            ]),
        )],
    )
}

fn asn_db() -> Vec<u8> {
    mmdb(
        "GeoLite2-ASN",
        vec![
            (
                Ipv4Addr::new(192, 0, 2, 0),
                24,
                Data::Map(vec![
                    ("autonomous_system_number", Data::U32(64496)),
                    ("autonomous_system_organization", Data::Str("EXAMPLE-NET")),
                ]),
            ),
            (
                Ipv4Addr::new(203, 0, 113, 0),
                24,
                Data::Map(vec![
                    ("autonomous_system_number", Data::U32(64511)),
                    ("autonomous_system_organization", Data::Str("OTHER-NET")),
                ]),
            ),
        ],
    )
}

fn geoip_table(city: Option<String>, asn: Option<String>) -> EnrichConfig {
    EnrichConfig {
        name: "geoip".to_owned(),
        kind: "geoip".to_owned(),
        city_db: city,
        asn_db: asn,
        ..EnrichConfig::default()
    }
}

#[tokio::test]
async fn city_and_asn() {
    let dir = tempfile::tempdir().unwrap();
    let city = dir.path().join("city.mmdb");
    let asn = dir.path().join("asn.mmdb");
    std::fs::write(&city, city_db()).unwrap();
    std::fs::write(&asn, asn_db()).unwrap();
    let e = Enricher::new(&[geoip_table(
        Some(city.display().to_string()),
        Some(asn.display().to_string()),
    )])
    .unwrap();

    let a = one(&e, IndicatorType::Ipv4, "192.0.2.10").await;
    assert_eq!(a.status, Status::Ok, "{a:?}");
    let s = &a.summary;
    assert_eq!(s["country"], "ZZ");
    assert_eq!(s["country_name"], "Example Land");
    assert_eq!(s["city"], "Example City");
    assert_eq!(s["latitude"], 35.6895);
    assert_eq!(s["longitude"], 139.6917);
    assert_eq!(s["accuracy_radius"], 50);
    assert_eq!(s["time_zone"], "Asia/Tokyo");
    assert_eq!(s["asn"], 64496);
    assert_eq!(s["as_org"], "EXAMPLE-NET");
    assert_eq!(s["network"], "192.0.2.0/24");

    // Only in the ASN database.
    let a = one(&e, IndicatorType::Ipv4, "203.0.113.5").await;
    assert_eq!(a.status, Status::Ok, "{a:?}");
    assert_eq!(a.summary["as_org"], "OTHER-NET");
    assert_eq!(a.summary["city"], json!(null));

    // In neither; IPv6 in IPv4-only databases.
    let a = one(&e, IndicatorType::Ipv4, "198.51.100.1").await;
    assert_eq!(a.status, Status::NotFound, "{a:?}");
    let a = one(&e, IndicatorType::Ipv6, "2001:db8::1").await;
    assert_eq!(a.status, Status::NotFound, "{a:?}");
}

#[test]
fn unreadable_databases_are_configuration_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.mmdb").display().to_string();
    let e = Enricher::new(&[geoip_table(Some(missing.clone()), None)]).unwrap_err();
    assert!(
        matches!(&e, ConfigError::File { key: "city_db", path, .. } if *path == missing),
        "{e}"
    );

    let junk = dir.path().join("junk.mmdb");
    std::fs::write(&junk, b"not a database").unwrap();
    let e = Enricher::new(&[geoip_table(None, Some(junk.display().to_string()))]).unwrap_err();
    assert!(matches!(e, ConfigError::File { key: "asn_db", .. }), "{e}");

    let e = Enricher::new(&[geoip_table(None, None)]).unwrap_err();
    assert!(matches!(e, ConfigError::Missing { .. }), "{e}");
}
