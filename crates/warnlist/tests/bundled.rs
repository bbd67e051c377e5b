#![allow(clippy::unwrap_used)]
//! The bundled MISP warning lists, checked with real entries of real lists.

use std::collections::BTreeSet;
use std::path::Path;

use rexist_core::{Indicator, IndicatorType as T};
use rexist_warnlist::{ListKind, ListSelection, RawList, WarningLists, WarnlistError};

fn lists() -> &'static WarningLists {
    WarningLists::bundled()
}

/// Names of the lists matching `value`, parsed as `kind` first so the test
/// uses canonical values as the pipeline does.
fn hits(kind: T, raw: &str) -> Vec<String> {
    let indicator = Indicator::parse(kind, raw).unwrap();
    let matches = lists().check(kind, indicator.value());
    assert_eq!(
        lists().is_listed(kind, indicator.value()),
        !matches.is_empty(),
        "is_listed disagrees with check for {raw}"
    );
    matches.into_iter().map(|m| m.list).collect()
}

fn hits_list(kind: T, raw: &str, list: &str) -> bool {
    hits(kind, raw).iter().any(|l| l == list)
}

/// The entry of `list` that matched `raw`, if any.
fn entry(kind: T, raw: &str, list: &str) -> Option<String> {
    let indicator = Indicator::parse(kind, raw).unwrap();
    lists()
        .check(kind, indicator.value())
        .into_iter()
        .find(|m| m.list == list)
        .map(|m| m.entry)
}

fn data_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/misp-warninglists/lists")
}

#[test]
fn every_bundled_list_loads() {
    let dirs: BTreeSet<String> = std::fs::read_dir(data_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let loaded: BTreeSet<String> = lists().lists().iter().map(|l| l.name.clone()).collect();
    assert_eq!(dirs.len(), 125);
    assert_eq!(loaded, dirs, "a list directory did not load");
    assert_eq!(lists().lists().len(), dirs.len());

    // No list is dropped as a whole.
    let whole: Vec<_> = lists()
        .skipped()
        .iter()
        .filter(|s| s.entry.is_none())
        .collect();
    assert!(whole.is_empty(), "lists left out: {whole:?}");

    // Every entry is either in effect or reported as skipped.
    for list in lists().lists() {
        #[allow(
            clippy::disallowed_methods,
            reason = "a file of this repository, in a test"
        )]
        let text = std::fs::read_to_string(data_dir().join(&list.name).join("list.json")).unwrap();
        let raw: RawList = serde_json::from_str(&text).unwrap();
        let skipped = lists()
            .skipped()
            .iter()
            .filter(|s| s.list == list.name)
            .count();
        assert_eq!(list.entries + skipped, raw.list.len(), "{}", list.name);
        assert_eq!(list.title, raw.name);
        assert_eq!(list.kind, raw.kind);
        assert_eq!(list.version, raw.version);
    }

    // Kind counts as documented in data/README.md.
    let count = |k: ListKind| lists().lists().iter().filter(|l| l.kind == k).count();
    assert_eq!(count(ListKind::Cidr), 80);
    assert_eq!(count(ListKind::String), 24);
    assert_eq!(count(ListKind::Hostname), 16);
    assert_eq!(count(ListKind::Substring), 3);
    assert_eq!(count(ListKind::Regex), 2);
}

/// Prints what was left out (visible with `--nocapture`) and pins it: only
/// regex patterns the `regex` crate cannot compile may be skipped.
#[test]
fn skipped_entries_are_named() {
    for s in lists().skipped() {
        println!(
            "skipped {}: {:?}: {}",
            s.list,
            s.entry.as_deref().unwrap_or("<whole list>"),
            s.reason
        );
    }
    for s in lists().skipped() {
        let kind = lists().list(&s.list).unwrap().kind;
        assert_eq!(kind, ListKind::Regex, "unexpected skip: {s:?}");
        assert!(s.reason.starts_with("pattern not supported"), "{s:?}");
    }
}

#[test]
fn cidr_ipv4_rfc5735() {
    assert!(hits_list(T::Ipv4, "192.0.2.1", "rfc5735"));
    assert_eq!(
        entry(T::Ipv4, "203.0.113.77", "rfc5735").as_deref(),
        Some("203.0.113.0/24")
    );
    assert!(!hits_list(T::Ipv4, "8.8.8.8", "rfc5735"));
    assert!(!hits_list(T::Ipv4, "192.0.3.1", "rfc5735"));
    // 8.8.8.8 is, however, a public resolver.
    assert!(hits_list(T::Ipv4, "8.8.8.8", "public-dns-v4"));
    assert!(hits_list(T::Ipv4, "10.200.3.4", "rfc1918"));
    assert!(!hits_list(T::Ipv4, "11.0.0.1", "rfc1918"));
}

#[test]
fn cidr_ipv6_rfc3849_upper_case_entry() {
    // The entry is written `2001:DB8::/32`.
    assert_eq!(
        entry(T::Ipv6, "2001:db8::1", "rfc3849").as_deref(),
        Some("2001:DB8::/32")
    );
    assert!(hits_list(T::Ipv6, "2001:DB8:ffff::abcd", "rfc3849"));
    assert!(!hits_list(T::Ipv6, "2001:db9::1", "rfc3849"));
    assert!(!hits_list(T::Ipv6, "2001:4860:4860::8888", "rfc3849"));
    assert!(hits_list(T::Ipv6, "fe80::1", "ipv6-linklocal"));
}

#[test]
fn cidr_networks_must_lie_inside() {
    assert!(hits_list(T::Cidr, "192.0.2.0/25", "rfc5735"));
    assert!(hits_list(T::Cidr, "192.0.2.128/32", "rfc5735"));
    assert!(hits_list(T::Cidr, "10.0.0.0/8", "rfc1918"));
    // Wider than every entry: overlaps, but is not inside.
    assert!(!hits_list(T::Cidr, "192.0.0.0/16", "rfc5735"));
    assert!(!hits_list(T::Cidr, "10.0.0.0/7", "rfc1918"));
    assert!(hits_list(T::Cidr, "2001:db8:1::/48", "rfc3849"));
    assert!(!hits_list(T::Cidr, "2001::/16", "rfc3849"));
}

#[test]
fn cidr_lists_check_ip_literal_url_hosts() {
    assert!(hits_list(T::Url, "http://10.1.2.3:8080/admin", "rfc1918"));
    assert!(hits_list(T::Url, "https://[2001:db8::5]/x", "rfc3849"));
    assert!(!hits_list(T::Url, "http://11.1.2.3/admin", "rfc1918"));
    // A host name is not resolved, nor read as an address.
    assert!(!hits_list(T::Url, "http://10.example.com/", "rfc1918"));
}

#[test]
fn hostname_sub_domains_on_label_boundaries() {
    assert_eq!(
        entry(T::Domain, "bit.ly", "url-shortener").as_deref(),
        Some("bit.ly")
    );
    assert!(hits_list(T::Domain, "www.bit.ly", "url-shortener"));
    assert!(hits_list(T::Domain, "a.b.bit.ly", "url-shortener"));
    assert!(!hits_list(T::Domain, "notbit.ly", "url-shortener"));
    assert!(!hits_list(T::Domain, "bit.ly.evil.com", "url-shortener"));
    // url-shortener names `url`: the URL's host is checked.
    assert!(hits_list(T::Url, "https://bit.ly/3xYz", "url-shortener"));
    assert!(hits_list(
        T::Url,
        "https://user@www.bit.ly:443/3xYz",
        "url-shortener"
    ));
    assert!(!hits_list(
        T::Url,
        "https://evil.com/bit.ly",
        "url-shortener"
    ));
}

#[test]
fn hostname_entries_with_leading_dot_case_and_idn() {
    // dynamic-dns writes `.duckdns.org`: the domain itself and its sub-domains.
    assert_eq!(
        entry(T::Domain, "myhost.duckdns.org", "dynamic-dns").as_deref(),
        Some("duckdns.org")
    );
    assert!(hits_list(T::Domain, "duckdns.org", "dynamic-dns"));
    assert!(!hits_list(T::Domain, "notduckdns.org", "dynamic-dns"));
    // bank-website writes `.EihBank.com` and `.vakıfbank.com`.
    assert!(hits_list(T::Domain, "www.eihbank.com", "bank-website"));
    assert!(hits_list(T::Domain, "www.vakıfbank.com", "bank-website"));
    // public-dns-hostname has upper-case entries such as `0526EE93.dsl.pool.telekom.hu`.
    assert!(hits_list(
        T::Domain,
        "0526ee93.dsl.pool.telekom.hu",
        "public-dns-hostname"
    ));
}

#[test]
fn string_exact_matches() {
    // The MD5, SHA-1 and SHA-256 of the empty string.
    assert!(hits_list(
        T::Md5,
        "d41d8cd98f00b204e9800998ecf8427e",
        "empty-hashes"
    ));
    assert!(hits_list(
        T::Sha1,
        "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709",
        "empty-hashes"
    ));
    assert!(hits_list(
        T::Sha256,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "empty-hashes"
    ));
    // MD5("a").
    assert!(!hits_list(
        T::Md5,
        "0cc175b9c0f1b6a831c399e269772661",
        "empty-hashes"
    ));
    // rfc6761 is a string list: exact names only, no sub-domains.
    assert!(hits_list(T::Domain, "example.com", "rfc6761"));
    assert!(hits_list(T::Domain, "EXAMPLE.org", "rfc6761"));
    assert!(!hits_list(T::Domain, "www.example.com", "rfc6761"));
    assert!(!hits_list(T::Domain, "example.co", "rfc6761"));
    // second-level-tlds compares case-insensitively with the whole value.
    assert!(hits_list(T::Domain, "co.uk", "second-level-tlds"));
    assert!(!hits_list(T::Domain, "bbc.co.uk", "second-level-tlds"));
}

#[test]
fn substring_matches_anywhere() {
    assert_eq!(
        entry(
            T::Url,
            "https://app.any.run/tasks/1234",
            "automated-malware-analysis"
        )
        .as_deref(),
        Some("app.any.run")
    );
    assert!(hits_list(
        T::Domain,
        "www.virustotal.com",
        "automated-malware-analysis"
    ));
    assert!(!hits_list(
        T::Domain,
        "any.run",
        "automated-malware-analysis"
    ));
    assert!(hits_list(
        T::Email,
        "someone@mailinator.com",
        "disposable-email"
    ));
    assert!(!hits_list(
        T::Email,
        "someone@corp.invalid.org",
        "disposable-email"
    ));
}

#[test]
fn regex_delimited_pcre_pattern() {
    // common-contact-emails: `/^(security|noc|soc|abuse)\@.*\..*$/i`.
    assert!(hits_list(
        T::Email,
        "abuse@provider.net",
        "common-contact-emails"
    ));
    assert!(hits_list(
        T::Email,
        "Security@Example.ORG",
        "common-contact-emails"
    ));
    assert!(!hits_list(
        T::Email,
        "alice@provider.net",
        "common-contact-emails"
    ));
    assert!(!hits_list(
        T::Email,
        "notabuse@provider.net",
        "common-contact-emails"
    ));
    // Its flag `/i` also matches a value that was not lower-cased.
    assert!(
        lists()
            .check(T::Email, "ABUSE@provider.net")
            .iter()
            .any(|m| m.list == "common-contact-emails")
    );
}

#[test]
fn matching_attributes_are_respected() {
    // A hash list does not flag other types with the same text (empty-hashes
    // names md5, sha1, sha256 and sha512, so those would be checked).
    let md5 = "d41d8cd98f00b204e9800998ecf8427e";
    for kind in [T::Domain, T::Url, T::Email, T::Cve, T::Btc] {
        assert!(
            !lists()
                .check(kind, md5)
                .iter()
                .any(|m| m.list == "empty-hashes"),
            "{kind}"
        );
    }
    // An address list does not flag a domain, a hash or an e-mail with that text.
    for kind in [T::Domain, T::Md5, T::Email] {
        assert!(lists().check(kind, "192.0.2.1").is_empty(), "{kind}");
    }
    // disposable-email names e-mail and domain types, not `url`.
    assert!(hits_list(T::Domain, "mailinator.com", "disposable-email"));
    assert!(!hits_list(
        T::Url,
        "http://mailinator.com/x",
        "disposable-email"
    ));
    // dynamic-dns names no `url`, so the host of a URL is not checked against it.
    assert!(!hits_list(
        T::Url,
        "http://myhost.duckdns.org/x",
        "dynamic-dns"
    ));
    // common-contact-emails applies to e-mail addresses only.
    assert!(
        !lists()
            .check(T::Url, "http://abuse@provider.net/")
            .iter()
            .any(|m| m.list == "common-contact-emails")
    );
    // phone_numbers names only attribute types rexist does not model.
    let phones = lists().list("phone_numbers").unwrap();
    assert!(phones.types.is_empty());
    assert_eq!(
        lists().list("rfc1918").unwrap().types,
        [T::Ipv4, T::Ipv6, T::Cidr, T::Url]
    );
}

#[test]
fn one_match_per_list_in_list_order() {
    let matches = lists().check(T::Domain, "www.google.com");
    let names: Vec<&str> = matches.iter().map(|m| m.list.as_str()).collect();
    let mut unique = names.clone();
    unique.dedup();
    assert_eq!(names, unique, "a list reported twice");
    let order: Vec<usize> = names
        .iter()
        .map(|n| lists().lists().iter().position(|l| l.name == *n).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{names:?}");
    let m = matches.iter().find(|m| m.list == "tranco10k").unwrap();
    assert_eq!(m.kind, ListKind::Hostname);
    assert_eq!(m.title, lists().list("tranco10k").unwrap().title);
}

#[test]
fn unlisted_values_match_nothing() {
    for (kind, value) in [
        (T::Domain, "rexist-test-unlisted-7f3a.com"),
        (T::Url, "https://rexist-test-unlisted-7f3a.com/a/b?c=d"),
        (
            T::Sha256,
            "9e20b1283c543da5a5a263048aed4ac704f76e158278370113d8b18c0b688550",
        ),
        (T::Cve, "CVE-2021-44228"),
        (T::Asn, "AS64512"),
        (T::Email, "alice@rexist-test-unlisted-7f3a.com"),
    ] {
        assert_eq!(lists().check(kind, value), [], "{kind} {value}");
    }
}

#[test]
fn with_only_without_and_select() {
    let only = lists().with_only(&["rfc1918", "rfc5735"]).unwrap();
    assert_eq!(only.lists().len(), 2);
    assert!(only.check(T::Ipv4, "8.8.8.8").is_empty());
    let m = only.check(T::Ipv4, "10.0.0.1");
    assert_eq!(
        m.iter().map(|m| m.list.as_str()).collect::<Vec<_>>(),
        ["rfc1918", "rfc5735"]
    );

    let without = lists().without(&["rfc5735"]).unwrap();
    assert_eq!(without.lists().len(), 124);
    assert!(without.list("rfc5735").is_none());
    assert!(
        !without
            .check(T::Ipv4, "192.0.2.1")
            .iter()
            .any(|m| m.list == "rfc5735")
    );
    // Narrowing an already narrowed set only sees what is left.
    assert!(matches!(
        only.without(&["public-dns-v4"]),
        Err(WarnlistError::UnknownList { .. })
    ));

    let err = lists().with_only(&["rfc1918", "rfc-typo"]).unwrap_err();
    assert_eq!(err.to_string(), "unknown warning list \"rfc-typo\"");

    let selection: ListSelection =
        toml::from_str("only = [\"rfc1918\", \"rfc3849\"]\ndisable = [\"rfc3849\"]").unwrap();
    let selected = lists().select(&selection).unwrap();
    assert_eq!(selected.lists().len(), 1);
    assert_eq!(selected.lists()[0].name, "rfc1918");
    assert!(toml::from_str::<ListSelection>("enable = [\"x\"]").is_err());
    assert_eq!(
        lists()
            .select(&ListSelection::default())
            .unwrap()
            .lists()
            .len(),
        125
    );
    assert!(WarningLists::empty().check(T::Ipv4, "10.0.0.1").is_empty());
}

#[test]
fn from_lists_misp_format_and_bad_entries() {
    let raw: RawList = serde_json::from_str(
        r#"{"name": "Local", "version": 3, "description": "d", "type": "cidr",
            "list": ["198.51.100.0/24", "not-a-network", "2001:DB8:1::/48"],
            "matching_attributes": ["ip-dst"], "future_field": 1}"#,
    )
    .unwrap();
    let set = WarningLists::from_lists(vec![("local".into(), raw.clone())]).unwrap();
    assert_eq!(set.lists()[0].entries, 2);
    assert_eq!(set.skipped().len(), 1);
    assert_eq!(set.skipped()[0].entry.as_deref(), Some("not-a-network"));
    assert_eq!(set.check(T::Ipv4, "198.51.100.9").len(), 1);
    assert_eq!(set.check(T::Ipv6, "2001:db8:1::9").len(), 1);

    // A PCRE-only pattern (look-behind) is skipped and named, not a panic.
    let regex: RawList = serde_json::from_str(
        r#"{"name": "R", "version": 1, "description": "d", "type": "regex",
            "list": ["/(?<=token=)[a-f0-9]+/", "/^abuse@/i"]}"#,
    )
    .unwrap();
    let set = WarningLists::from_lists(vec![("r".into(), regex)]).unwrap();
    assert_eq!(set.lists()[0].entries, 1);
    assert_eq!(set.skipped().len(), 1);
    assert_eq!(
        set.skipped()[0].entry.as_deref(),
        Some("/(?<=token=)[a-f0-9]+/")
    );
    assert!(
        set.skipped()[0].reason.contains("look-around"),
        "{:?}",
        set.skipped()[0]
    );
    assert_eq!(set.check(T::Email, "abuse@example.org").len(), 1);

    let dup = WarningLists::from_lists(vec![("a".into(), raw.clone()), ("a".into(), raw.clone())]);
    assert!(matches!(dup, Err(WarnlistError::DuplicateName { .. })));
    let bad_name = WarningLists::from_lists(vec![("a b".into(), raw)]);
    assert!(matches!(bad_name, Err(WarnlistError::InvalidName { .. })));
}
