#![allow(clippy::unwrap_used)]

use rexist_query::{Doc, Hit, HuntSet, parse, test};

fn hits(q: &str, text: &str) -> Option<Vec<String>> {
    test(&parse(q).unwrap(), text)
}

fn matches(q: &str, text: &str) -> bool {
    hits(q, text).is_some()
}

#[test]
fn word_boundaries() {
    assert!(matches("apt", "an APT group"));
    assert!(!matches("apt", "capture the flag"));
    assert!(!matches("apt", "apt29"));
    assert!(matches("apt29", "(APT29)"));
    assert!(matches("log4j", "log4j-core 2.14"));
    assert!(!matches("log4j", "log4jx"));
    assert!(matches("evil.com", "see https://www.evil.com/x"));
    assert!(!matches("evil.com", "notevil.com"));
    assert!(matches("evil.com", "evil.com."));
    assert!(matches("c++", "written in c++."));
}

#[test]
fn cjk_without_boundaries() {
    assert!(matches("脆弱性", "製品の脆弱性を悪用する攻撃"));
    assert!(matches("脆弱性 悪用", "製品の脆弱性を悪用する攻撃"));
    assert!(matches("lockbit", "LockBitによる攻撃"));
    assert!(matches("ランサムウェア", "ﾗﾝｻﾑｳｪｱ被害")); // half-width katakana
}

#[test]
fn nfkc_and_case() {
    assert!(matches("lockbit", "ＬｏｃｋＢｉｔ 3.0"));
    assert!(matches("ＬｏｃｋＢｉｔ", "lockbit"));
    assert!(matches("ﬁle", "FILE")); // ligature
    assert!(matches("apt２９", "APT29"));
}

#[test]
fn phrases() {
    assert!(matches(r#""black cat""#, "the Black\n  Cat gang"));
    assert!(!matches(r#""black cat""#, "black dog cat"));
}

#[test]
fn or_keyword_matches_either() {
    // The issue's case: it matched nothing when OR was a term.
    assert!(matches("log4j OR 脆弱性", "Apacheの脆弱性が公開された"));
    assert!(matches("log4j OR 脆弱性", "log4j exploited again"));
    assert!(!matches("log4j OR 脆弱性", "nothing to see"));
}

#[test]
fn precedence_and_exclusions() {
    let q = r#"ransomware lockbit, "blackcat" -test"#;
    assert_eq!(
        hits(q, "LockBit ransomware"),
        Some(vec!["ransomware".to_owned(), "lockbit".to_owned()])
    );
    assert!(!matches(q, "ransomware only"));
    assert_eq!(
        hits(q, "BlackCat returns"),
        Some(vec![r#""blackcat""#.to_owned()])
    );
    assert!(!matches(q, "blackcat test"));
    // exclusion only: everything without it
    assert!(matches("-test", "hello"));
    assert!(!matches("-test", "a test"));
    assert_eq!(hits("-test", "hello"), Some(vec![]));
}

#[test]
fn regex_terms() {
    assert_eq!(
        hits(r"/cve-\d{4}-\d+/", "see CVE-2021-44228"),
        Some(vec![r"/cve-\d{4}-\d+/".to_owned()])
    );
    assert!(!matches(r"/cve-\d{4}-\d+/", "no id"));
    // the regex source is NFKC-normalised like the text, and case-insensitive
    assert!(matches(r"/ｃｖｅ-\d+/", "CVE-1"));
    assert!(matches(r"/CVE-\d+/", "ｃｖｅ-１"));
}

fn doc<'a>(tags: &'a [String], lang: Option<&'a str>) -> Doc<'a> {
    Doc {
        title: "LockBit leak site",
        body: "new victims posted",
        kind: "Report",
        source: "The Record",
        tags,
        lang,
        tlp: "TLP:AMBER",
        entities: &[],
    }
}

#[test]
fn field_filters() {
    let tags = vec!["Ransomware".to_owned(), "leak".to_owned()];
    let d = doc(&tags, Some("en"));
    let one = |q: &str| {
        !HuntSet::new([(1, parse(q).unwrap())])
            .matches(&d)
            .is_empty()
    };
    assert!(one("kind:report"));
    assert!(!one("kind:news"));
    assert!(one(r#"source:"the record" lockbit"#));
    assert!(one("tag:ransomware"));
    assert!(!one("tag:apt"));
    assert!(one("lang:EN"));
    assert!(one("tlp:amber"));
    assert!(one("tlp:TLP:AMBER"));
    assert!(!one("tlp:red"));
    assert!(!one("tlp:green"));
    assert!(!one("-kind:report"));
    assert!(one("victims kind:report, kind:news"));
    let no_lang = doc(&tags, None);
    assert!(
        HuntSet::new([(1, parse("lang:en").unwrap())])
            .matches(&no_lang)
            .is_empty()
    );
}

#[test]
fn title_and_body_both_scanned() {
    let tags = Vec::new();
    let d = doc(&tags, None);
    let set = HuntSet::new([
        (1, parse("lockbit victims").unwrap()),
        (2, parse(r#""site new""#).unwrap()),
    ]);
    assert_eq!(
        set.matches(&d).iter().map(|h| h.hunt).collect::<Vec<_>>(),
        vec![1]
    );
}

#[test]
fn many_hunts_match_like_each_alone() {
    let queries = [
        "apt",
        "lockbit ransomware",
        r#""black cat", blackcat"#,
        "脆弱性 -悪用",
        "-test",
        r"/cve-\d+-\d+/",
        "kind:report",
        "log4j, evil.com",
        "apt lockbit, 脆弱性",
    ];
    let texts = [
        "APT28 uses log4j",
        "the apt lockbit ransomware group",
        "製品の脆弱性を悪用",
        "製品の脆弱性",
        "CVE-2021-44228 test of evil.com",
        "Black Cat and ＬｏｃｋＢｉｔ",
        "",
    ];
    let set = HuntSet::new(
        queries
            .iter()
            .zip(0u64..)
            .map(|(q, id)| (id, parse(q).unwrap())),
    );
    assert_eq!(set.len(), queries.len());
    for text in texts {
        let d = Doc::body(text);
        let all = set.matches(&d);
        let expected: Vec<Hit> = queries
            .iter()
            .zip(0u64..)
            .filter_map(|(q, id)| hits(q, text).map(|terms| Hit { hunt: id, terms }))
            .collect();
        assert_eq!(all, expected, "text {text:?}");
    }
}

#[test]
fn empty_set() {
    let set = HuntSet::new([]);
    assert!(set.is_empty());
    let d = Doc {
        title: "x",
        body: "y",
        kind: "",
        source: "",
        tags: &[],
        lang: None,
        tlp: "",
        entities: &[],
    };
    assert!(set.matches(&d).is_empty());
}

#[test]
fn entity_field_matches_any_name_of_the_entities() {
    let names = vec!["APT28".to_owned(), "Fancy Bear".to_owned()];
    let d = Doc {
        title: "Pulse",
        body: "nothing about bears",
        kind: "event",
        source: "otx",
        tags: &[],
        lang: None,
        tlp: "clear",
        entities: &names,
    };
    for q in [
        "entity:apt28",
        "entity:\"APT 28\"",
        "entity:\"fancy-bear\"",
        "entity:ＡＰＴ２８",
    ] {
        let set = HuntSet::new([(1, parse(q).unwrap())]);
        assert_eq!(set.matches(&d).len(), 1, "{q}");
    }
    for q in [
        "entity:apt29",
        "entity:bear",
        "-entity:apt28",
        "entity:\"\"",
    ] {
        let Ok(query) = parse(q) else { continue };
        let set = HuntSet::new([(1, query)]);
        assert!(set.matches(&d).is_empty(), "{q}");
    }
    // Without entities, `entity:` never matches.
    let plain = Doc { entities: &[], ..d };
    let set = HuntSet::new([(1, parse("entity:apt28").unwrap())]);
    assert!(set.matches(&plain).is_empty());
    assert_eq!(
        parse("entity:\"Example Panda\" OR entity:x -entity:y")
            .unwrap()
            .entities(),
        vec!["example panda", "x"]
    );
}
