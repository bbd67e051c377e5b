//! `HuntSet` against a naive, hunt-by-hunt reference evaluator.

use proptest::prelude::*;

use crate::ast::{Expr, Query};
use crate::matcher::Meta;
use crate::normalize::{contains_term, normalize};
use crate::{Doc, Hit, HuntSet, parse};

/// Reference: each term searched for separately, no automaton.
fn reference(q: &Query, doc: &Doc) -> Option<Vec<String>> {
    fn eval(e: &Expr, text: &str, meta: &Meta) -> bool {
        match e {
            Expr::Or(xs) => xs.iter().any(|x| eval(x, text, meta)),
            Expr::And(xs) => xs.iter().all(|x| eval(x, text, meta)),
            Expr::Not(x) => !eval(x, text, meta),
            Expr::Term(t) => contains_term(text, &t.text),
            Expr::Field(f, v) => meta.field(*f, v),
            Expr::Regex(r) => r.is_match(text),
        }
    }
    fn terms(e: &Expr, text: &str, neg: bool, out: &mut Vec<String>) {
        let label = match e {
            Expr::Or(xs) | Expr::And(xs) => {
                for x in xs {
                    terms(x, text, neg, out);
                }
                return;
            }
            Expr::Not(x) => return terms(x, text, !neg, out),
            Expr::Term(t) if contains_term(text, &t.text) => t.to_string(),
            Expr::Regex(r) if r.is_match(text) => format!("/{}/", r.as_str()),
            Expr::Field(..) | Expr::Term(_) | Expr::Regex(_) => return,
        };
        if !neg && !out.contains(&label) {
            out.push(label);
        }
    }
    let text = format!("{}\n{}", normalize(doc.title), normalize(doc.body));
    let meta = Meta::new(doc);
    eval(&q.expr, &text, &meta).then(|| {
        let mut out = Vec::new();
        terms(&q.expr, &text, false, &mut out);
        out
    })
}

const WORDS: &[&str] = &[
    "apt",
    "capture",
    "lockbit",
    "ＬｏｃｋＢｉｔ",
    "log4j",
    "evil.com",
    "脆弱性",
    "悪用",
    "x",
    "aa",
];

/// Regexes with and without an extractable literal prefix, including one whose prefix
/// has an ambiguous case fold (`σ` also matches `ς`).
const REGEXES: &[&str] = &[
    "/lock.it/",
    "/ab+c/",
    "/x[0-9]{2}/",
    "/(foo|bar)baz/",
    r"/\w+ing/",
    "/σa/",
    "/aσ/",
    "/^ab/",
    r"/\bab/",
    "/脆弱/",
];

/// Text pieces around [`REGEXES`]: hits, near misses, case and width variants.
const REGEX_WORDS: &[&str] = &[
    "ab",
    "abbbc",
    "ABC",
    "x12",
    "X1",
    "ｘ９９",
    "foobaz",
    "BARBAZ",
    "fooba",
    "sing",
    "ςa",
    "Σa",
    "aς",
    "lockbit",
    "脆弱性",
];

fn atom(words: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(words).prop_map(str::to_owned),
        1 => (proptest::sample::select(words), proptest::sample::select(words))
            .prop_map(|(a, b)| format!("\"{a} {b}\"")),
        2 => proptest::sample::select(REGEXES).prop_map(str::to_owned),
        1 => proptest::sample::select(&["kind:report", "tag:x", "tlp:amber", "lang:ja"][..])
            .prop_map(str::to_owned),
    ]
}

fn query(words: &'static [&'static str]) -> impl Strategy<Value = String> {
    let item =
        (any::<bool>(), atom(words)).prop_map(|(neg, a)| if neg { format!("-{a}") } else { a });
    let and = proptest::collection::vec(item, 1..4).prop_map(|v| v.join(" "));
    proptest::collection::vec(and, 1..4).prop_map(|v| v.join(", "))
}

fn text(words: &'static [&'static str]) -> impl Strategy<Value = String> {
    let sep = proptest::sample::select(&[" ", "", ".", "の", "\n", "-", "a"][..]);
    proptest::collection::vec((proptest::sample::select(words), sep), 0..8)
        .prop_map(|v| v.into_iter().flat_map(|(w, s)| [w, s]).collect())
}

/// The set's hits must be those of each hunt evaluated alone by [`reference`].
fn check(queries: &[String], doc: &Doc) -> Result<(), TestCaseError> {
    let parsed: Vec<Query> = queries
        .iter()
        .map(|q| parse(q).expect("generated queries parse"))
        .collect();
    let set = HuntSet::new(parsed.iter().cloned().zip(0u64..).map(|(q, id)| (id, q)));
    let expected: Vec<Hit> = parsed
        .iter()
        .zip(0u64..)
        .filter_map(|(q, id)| reference(q, doc).map(|terms| Hit { hunt: id, terms }))
        .collect();
    prop_assert_eq!(set.matches(doc), expected);
    Ok(())
}

proptest! {
    #[test]
    fn hunt_set_equals_reference(
        queries in proptest::collection::vec(query(WORDS), 1..6),
        body in text(WORDS),
        title in text(WORDS),
        kind in proptest::sample::select(&["report", "news"][..]),
        tagged in any::<bool>(),
    ) {
        let tags = if tagged { vec!["X".to_owned()] } else { Vec::new() };
        let doc = Doc { title: &title, body: &body, kind, source: "s", tags: &tags, lang: Some("ja"), tlp: "amber", entities: &[] };
        check(&queries, &doc)?;
    }

    #[test]
    fn regex_prefilter_never_changes_results(
        queries in proptest::collection::vec(query(REGEX_WORDS), 1..8),
        body in text(REGEX_WORDS),
        title in text(REGEX_WORDS),
    ) {
        let doc = Doc { title: &title, body: &body, kind: "report", source: "s", tags: &[], lang: None, tlp: "", entities: &[] };
        check(&queries, &doc)?;
    }
}
