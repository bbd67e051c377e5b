//! X-Force and social media parsers against their fixtures.

#![allow(clippy::unwrap_used)]

use crate::common::fixture;
use rexist_core::{IndicatorType, ItemKind, Tlp};
use rexist_formats::{FormatError, social, xforce};

#[test]
fn xforce_casefile_listing() {
    let page = xforce::parse_casefiles(&fixture("xforce/casefiles-public.json")).unwrap();
    assert_eq!(page.records.len(), 2);
    assert!(page.rejected.is_empty());
    let first = &page.records[0];
    assert_eq!(first.item.kind, ItemKind::Event);
    assert_eq!(
        first.item.external_id,
        "xforce:casefile:ed1d18bbd84f841057d464384238b857"
    );
    assert_eq!(first.item.title, "Example Panda activity");
    assert_eq!(first.item.body, "Synthetic collection.");
    assert_eq!(first.item.tags, ["example-panda"]);
    assert_eq!(first.item.tlp, Tlp::Clear);
    assert_eq!(first.item.extra["report_count"], 2);
    assert!(first.extract);
    assert_eq!(
        page.records[1].item.title,
        "ExampleLoader IOCs / 日本語タイトル"
    );
    assert_eq!(
        page.max_updated.unwrap(),
        time::macros::datetime!(2025-01-03 00:00:00 UTC)
    );
}

#[test]
fn xforce_single_casefile_and_rejections() {
    let one = xforce::parse_casefiles(
        br#"{"caseFileID":"abc","title":"t","contents":{"wiki":"<p>C2 <b>192.0.2.1</b></p>"},"group":{"type":"shared"}}"#,
    )
    .unwrap();
    assert_eq!(one.records.len(), 1);
    assert_eq!(one.records[0].item.tlp, Tlp::Amber);
    assert!(one.records[0].item.body.contains("192.0.2.1"));
    let list = xforce::parse_casefiles(br#"{"casefiles":[{"title":"no id"},{"caseFileID":"x"}]}"#)
        .unwrap();
    assert_eq!(list.records.len(), 1);
    assert_eq!(list.rejected[0].at, "casefile 1");
    assert_eq!(list.rejected[0].reason, "missing caseFileID");
}

#[test]
fn xforce_vulnerability_pages() {
    let p1 = xforce::parse_vulnerabilities(&fixture("xforce/vulnerabilities-fulltext-page1.json"))
        .unwrap();
    assert_eq!(p1.total_rows, Some(3));
    assert!(p1.bookmark.is_some());
    assert_eq!(p1.records.len(), 2);
    let v = &p1.records[0];
    assert_eq!(v.item.kind, ItemKind::Vuln);
    assert_eq!(v.item.external_id, "xforce:vuln:300001");
    assert_eq!(v.item.title, "Example CMS SQL injection");
    assert_eq!(v.sightings.len(), 1, "BID is not a CVE");
    assert_eq!(v.sightings[0].indicator.kind(), IndicatorType::Cve);
    assert_eq!(v.sightings[0].indicator.value(), "CVE-2025-0001");
    assert_eq!(v.item.extra["risk_level"], 8.8);

    let p2 = xforce::parse_vulnerabilities(&fixture("xforce/vulnerabilities-fulltext-page2.json"))
        .unwrap();
    assert_eq!(p2.records.len(), 1);

    let s = xforce::parse_vulnerabilities(&fixture(
        "xforce/vulnerabilities-search-CVE-2021-44228.json",
    ))
    .unwrap();
    assert!(!s.records.is_empty());
    assert!(
        s.records[0]
            .sightings
            .iter()
            .any(|x| x.indicator.value() == "CVE-2021-44228")
    );
}

#[test]
fn xforce_bad_vulnerability_kept_apart() {
    let body = br#"{"rows":[{"xfdbid":1,"title":"a","stdcode":["CVE-20X-1"]},{"title":"no id"},{"xfdbid":2,"title":"b","stdcode":["CVE-2024-1234"]}],"total_rows":3,"bookmark":"b"}"#;
    let page = xforce::parse_vulnerabilities(body).unwrap();
    assert_eq!(page.records.len(), 1);
    assert_eq!(page.rejected.len(), 2);
    assert!(page.rejected[0].reason.starts_with("invalid cve"));
    assert_eq!(page.rejected[1].reason, "missing xfdbid");
}

#[test]
fn xforce_errors() {
    assert_eq!(
        xforce::entitlement_error(&fixture("xforce/error-402.json")).as_deref(),
        Some("Payment Required")
    );
    assert_eq!(
        xforce::entitlement_error(&fixture("xforce/error-404.json")),
        None
    );
    assert_eq!(
        xforce::entitlement_error(br#"{"error":"Forbidden"}"#).as_deref(),
        Some("Forbidden")
    );
    assert_eq!(xforce::entitlement_error(b"not json"), None);
    let err = xforce::parse_vulnerabilities(&fixture("xforce/error-402.json")).unwrap_err();
    assert!(matches!(err, FormatError::Upstream { .. }), "{err}");
    let err = xforce::parse_casefiles(b"{\"casefiles\": [").unwrap_err();
    assert!(matches!(err, FormatError::Json { .. }), "{err}");
}

#[test]
fn mastodon_pages() {
    let p1 = social::parse_mastodon(&fixture("mastodon/timelines-tag-ioc-page1.json")).unwrap();
    assert_eq!(p1.records.len(), 3);
    assert!(p1.rejected.is_empty());
    assert_eq!(p1.newest_id.as_deref(), Some("113800000000000005"));
    assert_eq!(p1.oldest_id.as_deref(), Some("113800000000000003"));
    let first = &p1.records[0];
    assert_eq!(first.item.kind, ItemKind::Post);
    assert!(first.extract);
    assert_eq!(
        first.item.external_id,
        "mastodon:https://mastodon.example/@ioc_bot_ex/113800000000000005"
    );
    assert!(
        first.item.body.contains("192.0.2[.]10:443"),
        "{}",
        first.item.body
    );
    assert!(!first.item.body.contains('<'));
    assert_eq!(first.item.extra["author"], "ioc_bot_ex");
    assert_eq!(p1.records[1].item.lang.as_deref(), Some("ja"));
    assert!(p1.records[2].item.body.starts_with("CW: exploit details"));
    assert!(p1.records[0].item.published_at.is_some());

    let p2 = social::parse_mastodon(&fixture("mastodon/timelines-tag-ioc-page2.json")).unwrap();
    assert_eq!(p2.records.len(), 2);
    assert!(
        p2.records[0]
            .item
            .body
            .contains("203.0.113.5 & bot.c2.example.net <port 443>"),
        "{}",
        p2.records[0].item.body
    );
    assert_eq!(
        p2.records[1].item.extra["media"].as_array().unwrap().len(),
        1
    );

    let empty = social::parse_mastodon(&fixture("mastodon/timelines-tag-ioc-empty.json")).unwrap();
    assert!(empty.records.is_empty() && empty.newest_id.is_none());
    let err = social::parse_mastodon(&fixture("mastodon/timelines-tag-ioc-bad.json")).unwrap_err();
    assert!(matches!(err, FormatError::Json { .. }), "{err}");
    let err = social::parse_mastodon(&fixture("mastodon/error-401.json")).unwrap_err();
    assert!(err.to_string().contains("authenticated user"), "{err}");

    let bad = social::parse_mastodon(
        br#"[{"content":"no id"},{"id":"7","content":"<p>x</p>","url":"https://m.example/@a/7"}]"#,
    )
    .unwrap();
    assert_eq!(bad.records.len(), 1);
    assert_eq!(bad.rejected[0].reason, "missing id");
}

#[test]
fn mastodon_link_header() {
    let raw = String::from_utf8(fixture("mastodon/timelines-tag-ioc-page1.headers")).unwrap();
    let link = raw.lines().find_map(|l| l.strip_prefix("Link: ")).unwrap();
    let paging = social::parse_link_header(link);
    assert_eq!(paging.max_id.as_deref(), Some("113800000000000003"));
    assert_eq!(paging.min_id.as_deref(), Some("113800000000000005"));
    assert!(paging.next.unwrap().ends_with("max_id=113800000000000003"));
    assert_eq!(social::parse_link_header(""), social::LinkPaging::default());
}

#[test]
fn bluesky_search_page() {
    let body = br#"{"cursor":"25","posts":[
        {"uri":"at://did:plc:abc/app.bsky.feed.post/3kxyz","cid":"bafy","author":{"did":"did:plc:abc","handle":"analyst.bsky.social"},
         "record":{"$type":"app.bsky.feed.post","text":"C2 at 192.0.2[.]10","createdAt":"2025-01-03T10:00:00.000Z","langs":["en"]},
         "indexedAt":"2025-01-03T10:00:01.000Z"},
        {"author":{"handle":"x"}}]}"#;
    let page = social::parse_bluesky(body).unwrap();
    assert_eq!(page.cursor.as_deref(), Some("25"));
    assert_eq!(page.records.len(), 1);
    let item = &page.records[0].item;
    assert_eq!(
        item.url.as_deref(),
        Some("https://bsky.app/profile/analyst.bsky.social/post/3kxyz")
    );
    assert_eq!(
        item.external_id,
        "bluesky:at://did:plc:abc/app.bsky.feed.post/3kxyz"
    );
    assert_eq!(item.body, "C2 at 192.0.2[.]10");
    assert_eq!(item.lang.as_deref(), Some("en"));
    assert_eq!(page.rejected[0].reason, "missing uri");
    assert!(social::parse_bluesky(b"{\"posts\":").is_err());
    let err =
        social::parse_bluesky(br#"{"error":"BadQueryString","message":"q missing"}"#).unwrap_err();
    assert!(matches!(err, FormatError::Upstream { .. }), "{err}");
}

#[test]
fn x_recent_search_page() {
    let body = br#"{"data":[{"id":"1870000000000000002","text":"IOC: hxxp://bad[.]example/x","author_id":"42","created_at":"2025-01-03T10:00:00.000Z","lang":"en"},
        {"text":"no id"}],
        "includes":{"users":[{"id":"42","username":"threatintel","name":"TI"}]},
        "meta":{"newest_id":"1870000000000000002","oldest_id":"1870000000000000002","result_count":2,"next_token":"b26v89c19zqg8o3f"}}"#;
    let page = social::parse_x(body).unwrap();
    assert_eq!(page.newest_id.as_deref(), Some("1870000000000000002"));
    assert_eq!(page.cursor.as_deref(), Some("b26v89c19zqg8o3f"));
    assert_eq!(page.records.len(), 1);
    let item = &page.records[0].item;
    assert_eq!(
        item.url.as_deref(),
        Some("https://x.com/threatintel/status/1870000000000000002")
    );
    assert_eq!(item.extra["author"], "threatintel");
    assert_eq!(page.rejected.len(), 1);
    let empty = social::parse_x(br#"{"meta":{"result_count":0}}"#).unwrap();
    assert!(empty.records.is_empty());
    let err = social::parse_x(br#"{"title":"Unauthorized","status":401,"detail":"Unauthorized"}"#)
        .unwrap_err();
    assert!(matches!(err, FormatError::Upstream { .. }), "{err}");
}
