#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use rexist_query::{ParseError, parse};

fn canon(q: &str) -> String {
    parse(q).unwrap().to_string()
}

fn err(q: &str) -> ParseError {
    parse(q).unwrap_err()
}

#[test]
fn comma_binds_loosest() {
    assert_eq!(
        canon(r#"ransomware lockbit, "blackcat" -test"#),
        r#"(ransomware AND lockbit) OR ("blackcat" AND NOT test)"#
    );
}

#[test]
fn exist_syntax() {
    assert_eq!(canon("a,b,c"), "a OR b OR c");
    assert_eq!(canon("a b c"), "a AND b AND c");
    assert_eq!(canon("  a  "), "a");
    assert_eq!(canon("a ,b"), "a OR b");
    assert_eq!(canon("a，b"), "a OR b");
    assert_eq!(canon("a\u{3000}b"), "a AND b");
}

#[test]
fn upper_case_or_is_the_comma() {
    assert_eq!(canon("log4j OR 脆弱性"), "log4j OR 脆弱性");
    assert_eq!(
        canon(r#"ransomware lockbit OR "blackcat" -test"#),
        r#"(ransomware AND lockbit) OR ("blackcat" AND NOT test)"#
    );
    assert_eq!(canon("a OR(b c)"), "a OR (b AND c)");
    assert_eq!(canon("a OR \"b\""), r#"a OR "b""#);
    // Only the upper-case word alone is an operator.
    assert_eq!(canon("a or b"), "a AND or AND b");
    assert_eq!(canon("ORACLE ORx"), "oracle AND orx");
    assert_eq!(canon(r#"a "OR" b"#), r#"a AND "or" AND b"#);
}

#[test]
fn parentheses() {
    assert_eq!(canon("(a, b) c"), "(a OR b) AND c");
    assert_eq!(canon("-(a, b)"), "NOT (a OR b)");
    assert_eq!(canon("((a))"), "a");
}

#[test]
fn phrases_are_normalised() {
    assert_eq!(canon(r#""Black  Cat""#), r#""black cat""#);
    assert_eq!(canon("＂ＬｏｃｋＢｉｔ＂"), r#""lockbit""#);
    assert_eq!(canon(r#""a"b"#), r#""a" AND b"#);
    assert_eq!(canon(r#"-"x y""#), r#"NOT "x y""#);
}

#[test]
fn words_keep_punctuation() {
    assert_eq!(
        canon("log4j evil.com foo-bar"),
        "log4j AND evil.com AND foo-bar"
    );
    assert_eq!(canon("http://evil.com/x"), "http://evil.com/x");
    assert_eq!(canon("fe80::1"), "fe80::1");
    assert_eq!(canon("ＡＰＴ２９"), "apt29");
}

#[test]
fn fields() {
    assert_eq!(canon("kind:Report"), "kind:report");
    assert_eq!(canon(r#"SOURCE:"The Record""#), "source:the record");
    assert_eq!(
        canon("tag:ransomware lang:ja tlp:amber"),
        "tag:ransomware AND lang:ja AND tlp:amber"
    );
    assert_eq!(canon("-tag:test"), "NOT tag:test");
}

#[test]
fn regex() {
    assert_eq!(canon(r"/lock\w+/"), r"/lock\w+/");
    assert_eq!(canon(r"/a\/b/ c"), r"/a\/b/ AND c");
    assert_eq!(canon(r"-/x+/"), r"NOT /x+/");
}

#[test]
fn error_positions() {
    let e = err(r#"a "unclosed"#);
    assert_eq!((e.position, e.message.as_str()), (2, "unterminated phrase"));
    assert_eq!(e.to_string(), "position 2: unterminated phrase");
    assert_eq!(err(r#"a """#).position, 2);
    assert_eq!(err(r#"a """#).message, "empty phrase");
    assert_eq!(err("").message, "empty query");
    assert_eq!(err("   ").position, 3);
    assert_eq!(err("a,,b").position, 2);
    assert_eq!(err("a,,b").message, "empty term before ',' or OR");
    assert_eq!(err("a OR OR b").position, 5);
    assert_eq!(err("a OR").message, "empty term after ',' or OR");
    assert_eq!(err("a, ").position, 3);
    assert_eq!(err(",a").position, 0);
    assert_eq!(err("a - b").position, 2);
    assert_eq!(err("a - b").message, "empty exclusion");
    assert_eq!(err("a -").position, 2);
    assert_eq!(err("foo:bar").message, "unknown field 'foo'");
    assert_eq!(err("x foo:bar").position, 2);
    assert_eq!(err("kind:").position, 5);
    assert_eq!(err("x /a(/").position, 3);
    assert!(err("x /a(/").message.starts_with("invalid regex"));
    assert_eq!(err("x /abc").position, 2);
    assert_eq!(err("x /abc").message, "unterminated regex");
    assert_eq!(err("//").message, "empty regex");
    assert_eq!(err("(a").position, 0);
    assert_eq!(err("(a").message, "unclosed '('");
    assert_eq!(err("a)").position, 1);
    assert_eq!(err("a ()").message, "empty group");
}

#[test]
fn huge_regex_rejected() {
    let e = err(r"/\w{1000}\w{1000}/");
    assert_eq!(e.position, 1);
    assert!(e.message.starts_with("invalid regex"), "{e}");
    let long = format!("/{}/", "a".repeat(2000));
    assert_eq!(err(&long).message, "regex too long");
}

#[test]
fn limits() {
    assert_eq!(err(&"a ".repeat(5000)).message, "query too long");
    let e = err(&"脆".repeat(3000));
    assert_eq!((e.position, e.message.as_str()), (8190, "query too long"));
    let deep = format!("{}a{}", "(".repeat(40), ")".repeat(40));
    assert_eq!(err(&deep).message, "too deeply nested");
}

proptest! {
    #[test]
    fn parse_never_panics(s in "\\PC{0,64}") {
        if let Err(e) = parse(&s) {
            prop_assert!(s.is_char_boundary(e.position), "{e}");
        }
    }

    #[test]
    fn parse_never_panics_on_syntax_soup(s in "[a-z\"/(),:\\- \\\\ＡＢ脆，＂]{0,40}") {
        if let Err(e) = parse(&s) {
            prop_assert!(s.is_char_boundary(e.position), "{e}");
        }
    }
}
