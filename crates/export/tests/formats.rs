//! Each format's output for a fixed set of rows, and injection resistance.

#![allow(clippy::unwrap_used)]

mod common;

use common::{row, samples};
use rexist_core::IndicatorType;
use rexist_export::{Format, Options, Writer, applies};
use time::macros::datetime;

fn options() -> Options {
    Options {
        name: "test".into(),
        generated: datetime!(2024-03-06 00:00:00 UTC),
        suricata_sid_base: 5_000_000,
        stix_ids: Some(rexist_stix::write::StixIds::new(0x42)),
        ..Options::default()
    }
}

fn export(format: Format, rows: &[rexist_core::ExportRow]) -> (String, u64) {
    let mut w = Writer::new(format, Vec::new(), &options()).unwrap();
    // Two batches, to exercise the streaming path.
    let (a, b) = rows.split_at(rows.len() / 2);
    w.write_rows(a).unwrap();
    w.write_rows(b).unwrap();
    let skipped = w.skipped();
    (String::from_utf8(w.finish().unwrap()).unwrap(), skipped)
}

fn count_applicable(format: Format) -> u64 {
    let rows = samples();
    u64::try_from(
        rows.iter()
            .filter(|r| !applies(format, r.record.kind))
            .count(),
    )
    .unwrap()
}

#[test]
fn edl() {
    let (out, skipped) = export(Format::Edl, &samples());
    assert_eq!(
        out,
        "1.2.3.4\n2001:db8::1\n10.0.0.0/8\n2001:db8::/32\nevil.example.com\n\
         http://evil.example.com/a/b?x=1\nhttps://secure.example.net/login\n"
    );
    assert_eq!(skipped, count_applicable(Format::Edl));
}

#[test]
fn panos_strips_url_schemes() {
    let (out, _) = export(Format::Panos, &samples());
    assert!(
        out.contains("\nevil.example.com/a/b?x=1\nsecure.example.net/login\n"),
        "{out}"
    );
    assert!(!out.contains("://"));
}

#[test]
fn hosts() {
    let (out, skipped) = export(Format::Hosts, &samples());
    assert_eq!(
        out,
        "# rexist export test, generated 2024-03-06T00:00:00.000Z\n0.0.0.0 evil.example.com\n"
    );
    assert_eq!(skipped, 14);
}

#[test]
fn rpz() {
    let (out, _) = export(Format::Rpz, &samples());
    let want = "; rexist export test, generated 2024-03-06T00:00:00.000Z\n\
                $TTL 300\n\
                @ IN SOA localhost. hostmaster.localhost. ( 1709683200 3600 600 604800 300 )\n\
                @ IN NS localhost.\n\
                32.4.3.2.1.rpz-ip CNAME .\n\
                128.1.zz.db8.2001.rpz-ip CNAME .\n\
                8.0.0.0.10.rpz-ip CNAME .\n\
                32.zz.db8.2001.rpz-ip CNAME .\n\
                evil.example.com CNAME .\n\
                *.evil.example.com CNAME .\n";
    assert_eq!(out, want);
}

#[test]
fn csv() {
    let mut r = row(IndicatorType::Url, "http://a.example/x,\"y\"");
    r.labels = vec!["a".into(), "b".into()];
    let (out, _) = export(Format::Csv, &[r]);
    assert_eq!(
        out,
        "type,value,score,tlp,status,first_seen,last_seen,sightings,sources,labels\n\
         url,\"http://a.example/x,\"\"y\"\"\",70,green,active,2024-03-01T10:00:00.123Z,\
         2024-03-05T12:30:00.000Z,3,abuse.ch;otx,a;b\n"
    );
    let (out, skipped) = export(Format::Csv, &samples());
    assert_eq!(out.lines().count(), 16);
    assert_eq!(skipped, 0);
}

#[test]
fn jsonl_round_trips() {
    let rows = samples();
    let (out, _) = export(Format::Jsonl, &rows);
    let back: Vec<rexist_core::ExportRow> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(back, rows);
}

#[test]
fn zeek() {
    let (out, skipped) = export(Format::Zeek, &samples());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url"
    );
    assert_eq!(
        lines[1],
        "1.2.3.4\tIntel::ADDR\tabuse.ch,otx\trexist test: score 70, tlp clear, labels emotet\t-"
    );
    assert!(lines.contains(
        &"10.0.0.0/8\tIntel::SUBNET\trexist\trexist test: score 70, tlp amber, labels emotet\t-"
    ));
    assert!(out.contains("evil.example.com/a/b?x=1\tIntel::URL\t"));
    assert!(out.contains("bad@example.com\tIntel::EMAIL\t"));
    assert_eq!(out.matches("Intel::FILE_HASH").count(), 4);
    assert_eq!(skipped, 3);
    for l in &lines[1..] {
        assert_eq!(l.split('\t').count(), 5, "{l}");
    }
}

#[test]
fn suricata() {
    let (out, skipped) = export(Format::Suricata, &samples());
    let rules: Vec<&str> = out.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(rules.len(), 7);
    assert_eq!(skipped, 8);
    assert_eq!(
        rules[0],
        "alert ip any any <> [1.2.3.4] any (msg:\"rexist test: ipv4 1.2.3.4\"; \
         metadata:rexist_score 70, rexist_tlp clear, rexist_source abuse.ch, rexist_source otx; \
         classtype:trojan-activity; sid:5000000; rev:1;)"
    );
    assert!(rules[4].starts_with(
        "alert dns any any -> any any (msg:\"rexist test: domain evil.example.com\"; \
         dns.query; dotprefix; content:\".evil.example.com\"; nocase; endswith;"
    ));
    assert!(rules[5].contains(
        "http.host; content:\"evil.example.com\"; bsize:16; http.uri.raw; content:\"/a/b?x=1\"; startswith;"
    ));
    assert!(rules[6].starts_with("alert tls "));
    assert!(rules[6].contains("tls.sni; content:\"secure.example.net\"; bsize:18;"));
    for (i, r) in rules.iter().enumerate() {
        assert!(r.contains(&format!("sid:{};", 5_000_000 + i)), "{r}");
    }
}

#[test]
fn stix_bundle() {
    let (out, skipped) = export(Format::Stix, &samples());
    assert_eq!(skipped, 0);
    let parsed = rexist_stix::parse_objects(out.as_bytes()).unwrap();
    assert!(parsed.rejected.is_empty());
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["type"], "bundle");
}

#[test]
fn stix_needs_the_installation_ids() {
    let o = Options {
        stix_ids: None,
        ..options()
    };
    let err = Writer::new(Format::Stix, Vec::new(), &o).err().unwrap();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("STIX id namespace"), "{err}");
}

#[test]
fn misp_is_not_a_stream() {
    let err = Writer::new(Format::Misp, Vec::new(), &options())
        .err()
        .unwrap();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

/// Values a hostile feed could smuggle in: none may add a line, a rule or
/// a field to any line-based format.
#[test]
fn no_injection() {
    let evil = [
        (IndicatorType::Domain, "evil.example\n0.0.0.0 google.com"),
        (IndicatorType::Domain, "evil.example\r\n*.bank CNAME ."),
        (
            IndicatorType::Url,
            "http://x.example/\nhttp://bank.example/",
        ),
        (
            IndicatorType::Url,
            "http://x.example/\"; sid:1; rev:1;)\nalert ip any any -> any any (msg:\"pwn",
        ),
        (IndicatorType::Url, "http://x.example/a\tIntel::ADDR\tb"),
        (IndicatorType::Ipv4, "1.2.3.4\n5.6.7.8"),
        (IndicatorType::Email, "a@b.example\tIntel::ADDR\n8.8.8.8"),
        (IndicatorType::Md5, "d41d8cd98f00b204e9800998ecf8427e\u{0}x"),
    ];
    let rows: Vec<_> = evil.iter().map(|(k, v)| row(*k, v)).collect();
    for format in Format::ALL {
        if format == Format::Misp {
            continue;
        }
        let (out, skipped) = export(format, &rows);
        let mut opts_name = options();
        opts_name.name = "x\ny".into();
        let header_lines = match format {
            Format::Rpz => 4,
            Format::Csv | Format::Zeek | Format::Suricata | Format::Hosts => 1,
            _ => 0,
        };
        let body_lines = out.lines().count() - header_lines;
        let written = u64::try_from(rows.len()).unwrap() - skipped;
        match format {
            // One line per written row (RPZ domains take two).
            Format::Edl
            | Format::Panos
            | Format::Hosts
            | Format::Zeek
            | Format::Suricata
            | Format::Csv
            | Format::Jsonl => {
                assert_eq!(
                    u64::try_from(body_lines).unwrap(),
                    written,
                    "{format}:\n{out}"
                );
            }
            Format::Rpz => assert_eq!(body_lines, 0, "{out}"),
            Format::Stix => {
                serde_json::from_str::<serde_json::Value>(&out).unwrap();
            }
            Format::Misp => unreachable!(),
        }
        assert!(!out.contains('\0'), "{format}");
        assert!(!out.contains("\n0.0.0.0 google.com"), "{format}");
        assert!(!out.contains("\nhttp://bank.example/"), "{format}");
        assert!(
            !out.contains("\nalert ip any any -> any any (msg:\"pwn"),
            "{format}"
        );
        assert!(!out.contains("\n*.bank CNAME ."), "{format}");
        assert!(!out.contains("\n5.6.7.8"), "{format}");
        if format == Format::Suricata {
            // Every rule line is exactly one well-formed rule: with escaped
            // `;` and `"` removed, one `sid` option is left.
            for l in out.lines().filter(|l| !l.starts_with('#')) {
                let bare = l.replace("\\;", "").replace("\\\"", "");
                assert_eq!(bare.matches("; sid:").count(), 1, "{l}");
                assert_eq!(bare.matches('"').count() % 2, 0, "{l}");
                assert!(l.ends_with("rev:1;)"), "{l}");
            }
        }
        if format == Format::Zeek {
            for l in out.lines().skip(1) {
                assert_eq!(l.split('\t').count(), 5, "{l}");
            }
        }
        // A name with a line break stays in its comment line.
        let w = Writer::new(format, Vec::new(), &opts_name).unwrap();
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        assert!(
            !out.lines().any(|l| l == "y" || l.starts_with("y,")),
            "{format}: {out}"
        );
    }
}

#[test]
fn sid_overflow_is_an_error() {
    let mut o = options();
    o.suricata_sid_base = u32::MAX;
    let mut w = Writer::new(Format::Suricata, Vec::new(), &o).unwrap();
    w.write_rows(&[row(IndicatorType::Ipv4, "1.2.3.4")])
        .unwrap();
    assert!(
        w.write_rows(&[row(IndicatorType::Ipv4, "1.2.3.5")])
            .is_err()
    );
}

#[test]
#[ignore = "timing; run with --release --ignored"]
fn edl_million_rows() {
    let rows: Vec<_> = (0..1_000_000u32)
        .map(|i| {
            let [a, b, c, d] = i.to_be_bytes();
            row(IndicatorType::Ipv4, &format!("{}.{b}.{c}.{d}", a + 1))
        })
        .collect();
    let start = std::time::Instant::now();
    let mut w = Writer::new(Format::Edl, std::io::sink(), &options()).unwrap();
    for chunk in rows.chunks(10_000) {
        w.write_rows(chunk).unwrap();
    }
    w.finish().unwrap();
    let took = start.elapsed();
    eprintln!("edl: 1,000,000 rows in {took:?}");
    assert!(took < std::time::Duration::from_secs(1));
}

#[test]
fn firewall_and_ids_formats_percent_encode_urls_stix_keeps_them() {
    let rows = [row(
        IndicatorType::Url,
        "http://evil.example/päth/ファイル?q=ü",
    )];
    let wire = "evil.example/p%C3%A4th/%E3%83%95%E3%82%A1%E3%82%A4%E3%83%AB?q=%C3%BC";
    assert_eq!(export(Format::Edl, &rows).0, format!("http://{wire}\n"));
    assert_eq!(export(Format::Panos, &rows).0, format!("{wire}\n"));
    let zeek = export(Format::Zeek, &rows).0;
    assert!(zeek.contains(&format!("\n{wire}\tIntel::URL")), "{zeek}");
    let suricata = export(Format::Suricata, &rows).0;
    assert!(
        suricata.contains("http.uri.raw; content:\"/p%C3%A4th/"),
        "{suricata}"
    );
    let stix = export(Format::Stix, &rows).0;
    assert!(stix.contains("päth/ファイル"), "raw in STIX");
}
