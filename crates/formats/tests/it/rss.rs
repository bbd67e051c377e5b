//! News feed parser against the RSS 2.0, RDF and Atom fixtures.

#![allow(clippy::unwrap_used)]

use crate::common::fixture;
use rexist_core::ItemKind;
use rexist_formats::{FormatError, rss};

fn feed(rel: &str) -> rss::Feed {
    rss::parse(&fixture(rel)).unwrap()
}

#[test]
fn rss2_wordpress_like() {
    let f = feed("news/rss2/security-news.xml");
    assert_eq!(f.kind, rss::FeedKind::Rss2);
    assert_eq!(f.lang.as_deref(), Some("en"));
    assert_eq!(f.records.len(), 4);
    assert!(f.rejected.is_empty());
    let first = &f.records[0];
    assert!(first.extract);
    assert_eq!(first.item.kind, ItemKind::News);
    assert_eq!(first.item.external_id, "https://news.example.com/?p=10001");
    assert_eq!(first.item.tags, ["Threat Intel", "Phishing"]);
    assert_eq!(
        first.item.body,
        "Researchers saw C2 at 192.0.2[.]10 and hxxps://c2.malicious[.]example/gate.php …\n\n\
         The loader (SHA-256 cc7d152477763001037b08490031749b6fc500932089bcc58f4128c0e05484d9) \
         talks to c2.malicious.example.\n\nCVE-2021-44228 is also abused."
    );
    assert_eq!(first.item.extra["author"], "Jane Doe");
    assert_eq!(
        first.item.published_at.unwrap().unix_timestamp(),
        1_735_902_000
    );
    let second = &f.records[1];
    assert_eq!(
        second.item.title,
        "Patch now: Example Router bug CVE-2025-0002 exploited & <unauthenticated>"
    );
    assert_eq!(
        second.item.published_at.unwrap().unix_timestamp(),
        1_735_808_700,
        "GMT"
    );
    let japanese = &f.records[2];
    assert_eq!(
        japanese.item.lang.as_deref(),
        Some("ja"),
        "kana beats the channel language"
    );
    assert_eq!(
        japanese.item.published_at.unwrap().unix_timestamp(),
        1_735_689_600,
        "+0900"
    );
    let bare = &f.records[3];
    assert!(
        bare.item
            .external_id
            .starts_with("title:Item without link or guid")
    );
    assert_eq!(bare.item.url, None);
}

#[test]
fn atom_text_html_and_xhtml() {
    let f = feed("news/atom/security-blog.atom");
    assert_eq!(f.kind, rss::FeedKind::Atom);
    assert_eq!(f.records.len(), 2);
    let first = &f.records[0].item;
    assert_eq!(first.external_id, "tag:blog.example.org,2025:post-1");
    assert_eq!(first.title, "Example Panda <campaign> analysis");
    assert_eq!(
        first.body,
        "Full write-up with IOCs: 203.0.113.77, CVE-2021-44228"
    );
    assert_eq!(
        first.url.as_deref(),
        Some("https://blog.example.org/2025/01/example-panda")
    );
    assert_eq!(first.tags, ["threat-intel"]);
    assert_eq!(first.published_at.unwrap().unix_timestamp(), 1_735_866_000);
    let second = &f.records[1].item;
    assert_eq!(
        second.external_id,
        "urn:uuid:0f3a11f6-e37d-5ade-9d8d-29b21c63120a"
    );
    assert_eq!(second.body, "Example CMS の脆弱性 CVE-2025-0001");
    assert_eq!(
        second.published_at.unwrap().unix_timestamp(),
        1_735_743_600,
        "updated"
    );
}

#[test]
fn rdf_japanese_utf8_and_shift_jis_agree() {
    let utf8 = feed("news/jpcert/jpcert.rdf");
    let sjis = feed("news/jpcert/jpcert-sjis.rdf");
    assert_eq!(utf8.kind, rss::FeedKind::Rdf);
    assert_eq!(utf8.records.len(), 3);
    assert_eq!(utf8.records, sjis.records);
    let first = &utf8.records[0].item;
    assert_eq!(
        first.title,
        "Example Router の脆弱性 (CVE-2025-0002) に関する注意喚起"
    );
    assert_eq!(first.lang.as_deref(), Some("ja"));
    assert_eq!(first.published_at.unwrap().unix_timestamp(), 1_735_867_800);
    assert_eq!(
        utf8.records[2].item.title,
        "Example CMS の更新版が公開 & 早急なアップデートを推奨"
    );
}

#[test]
fn jvn_rdf_as_news() {
    let f = feed("news/jvn/jvn.rdf");
    assert_eq!(f.records.len(), 3);
    assert!(
        f.records[2].item.body.contains("<更新>"),
        "&lt; decoded, kept as text"
    );
}

#[test]
fn exploitdb_rss() {
    let f = feed("exploitdb/rss.xml");
    assert_eq!(f.records.len(), 2);
    assert_eq!(
        f.records[0].item.url.as_deref(),
        Some("https://www.exploit-db.com/exploits/99003")
    );
    assert!(
        f.records[0]
            .item
            .title
            .starts_with("[remote] Example Router")
    );
}

#[test]
fn rust_syndication_samples() {
    let cases = [
        ("rss1.xml", rss::FeedKind::Rdf, 2),
        ("rss090.xml", rss::FeedKind::Rdf, 5),
        ("rss091.xml", rss::FeedKind::Rss2, 6),
        ("rss092.xml", rss::FeedKind::Rss2, 22),
        ("rss2sample.xml", rss::FeedKind::Rss2, 4),
        ("rss2_with_atom.xml", rss::FeedKind::Rss2, 3),
        ("dublincore.xml", rss::FeedKind::Rss2, 1),
        ("dublincore_altprefix.xml", rss::FeedKind::Rss2, 1),
        ("syndication.xml", rss::FeedKind::Rdf, 1),
    ];
    for (name, kind, n) in cases {
        let f = feed(&format!("news/rust-syndication-rss/{name}"));
        assert_eq!((f.kind, f.records.len()), (kind, n), "{name}");
        assert!(f.rejected.is_empty(), "{name}");
    }
    let dc = feed("news/rust-syndication-rss/dublincore_altprefix.xml");
    assert_eq!(
        dc.records[0].item.title, "Title",
        "dc: under another prefix"
    );
    assert_eq!(dc.records[0].item.external_id, "Identifier");
}

#[test]
fn broken_feeds_are_errors_naming_where() {
    let cases = [
        ("news/rss2/security-news-bad.xml", "undefined entity &nbsp;"),
        (
            "news/atom/security-blog-bad.atom",
            "unexpected end of document inside <content>",
        ),
        ("news/jvn/jvn-bad.rdf", "not found before end of input"),
    ];
    for (rel, want) in cases {
        let err = rss::parse(&fixture(rel)).unwrap_err();
        assert!(matches!(err, FormatError::Xml { .. }), "{rel}: {err:?}");
        assert!(err.to_string().contains(want), "{rel}: {err}");
        assert!(err.to_string().contains("at byte "), "{rel}: {err}");
    }
    // Shift_JIS bytes under a UTF-8 declaration: refused, never mojibake.
    let err = rss::parse(&fixture("news/jpcert/jpcert-sjis-mislabelled-bad.rdf")).unwrap_err();
    assert!(
        matches!(err, FormatError::Encoding { offset: 342, ref encoding, .. } if encoding == "UTF-8"),
        "{err:?}"
    );
    // Well-formed XML that is not a feed.
    let err = rss::parse(b"<html><body/></html>").unwrap_err();
    assert!(matches!(err, FormatError::Shape { .. }), "{err:?}");
}
