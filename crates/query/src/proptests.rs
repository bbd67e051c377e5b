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

fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(WORDS).prop_map(str::to_owned),
        1 => (proptest::sample::select(WORDS), proptest::sample::select(WORDS))
            .prop_map(|(a, b)| format!("\"{a} {b}\"")),
        1 => Just("/lock.it/".to_owned()),
        1 => proptest::sample::select(&["kind:report", "tag:x", "tlp:amber", "lang:ja"][..])
            .prop_map(str::to_owned),
    ]
}

fn query() -> impl Strategy<Value = String> {
    let item = (any::<bool>(), atom()).prop_map(|(neg, a)| if neg { format!("-{a}") } else { a });
    let and = proptest::collection::vec(item, 1..4).prop_map(|v| v.join(" "));
    proptest::collection::vec(and, 1..4).prop_map(|v| v.join(", "))
}

fn text() -> impl Strategy<Value = String> {
    let sep = proptest::sample::select(&[" ", "", ".", "の", "\n", "-", "a"][..]);
    proptest::collection::vec((proptest::sample::select(WORDS), sep), 0..8)
        .prop_map(|v| v.into_iter().flat_map(|(w, s)| [w, s]).collect())
}

proptest! {
    #[test]
    fn hunt_set_equals_reference(
        queries in proptest::collection::vec(query(), 1..6),
        body in text(),
        title in text(),
        kind in proptest::sample::select(&["report", "news"][..]),
        tagged in any::<bool>(),
    ) {
        let tags = if tagged { vec!["X".to_owned()] } else { Vec::new() };
        let doc = Doc { title: &title, body: &body, kind, source: "s", tags: &tags, lang: Some("ja"), tlp: "amber" };
        let parsed: Vec<Query> = queries.iter().map(|q| parse(q).expect("generated queries parse")).collect();
        let set = HuntSet::new(parsed.iter().cloned().zip(0u64..).map(|(q, id)| (id, q)));
        let expected: Vec<Hit> = parsed
            .iter()
            .zip(0u64..)
            .filter_map(|(q, id)| reference(q, &doc).map(|terms| Hit { hunt: id, terms }))
            .collect();
        prop_assert_eq!(set.matches(&doc), expected);
    }
}
