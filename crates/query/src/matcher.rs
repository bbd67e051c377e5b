//! Many hunts compiled into one automaton, evaluated per item.

use std::collections::HashMap;

use aho_corasick::AhoCorasick;

use crate::ast::{Expr, Field, Query};
use crate::normalize::{boundary_checks, boundary_ok, contains_term, normalize};

/// The parts of an item a hunt looks at. Text fields are normalised by the matcher.
#[derive(Debug, Clone, Copy)]
pub struct Doc<'a> {
    /// Item title; scanned together with `body`.
    pub title: &'a str,
    /// Item body text.
    pub body: &'a str,
    /// Item kind, compared by `kind:`.
    pub kind: &'a str,
    /// Source name, compared by `source:`.
    pub source: &'a str,
    /// Tags, any of which may satisfy `tag:`.
    pub tags: &'a [String],
    /// Language code, compared by `lang:`; `None` never matches a `lang:` filter.
    pub lang: Option<&'a str>,
    /// TLP marking (`amber`, `TLP:AMBER`…), compared by `tlp:`.
    pub tlp: &'a str,
}

impl<'a> Doc<'a> {
    /// A text alone, as the body of an item with empty metadata (so field
    /// filters never match): what `rexist hunt test` and tests evaluate.
    pub fn body(text: &'a str) -> Self {
        Self {
            title: "",
            body: text,
            kind: "",
            source: "",
            tags: &[],
            lang: None,
            tlp: "",
        }
    }
}

/// A hunt that matched an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Id the hunt was registered with.
    pub hunt: u64,
    /// Terms and regexes (outside exclusions) found in the item, in query order,
    /// normalised and printed as in the query (`word`, `"phrase"`, `/regex/`).
    pub terms: Vec<String>,
}

/// A compiled expression: literal terms point into the shared pattern table.
#[derive(Debug, Clone)]
enum Node {
    Or(Vec<Node>),
    And(Vec<Node>),
    Not(Box<Node>),
    Term { pattern: usize, label: String },
    Field(Field, String),
    Regex(Box<regex::Regex>),
}

#[derive(Debug, Clone)]
struct Hunt {
    id: u64,
    node: Node,
}

/// Many hunts compiled together: one Aho-Corasick automaton over every hunt's
/// (normalised, deduplicated) literal terms.
///
/// [`matches`](Self::matches) normalises the item text once, scans it once, and evaluates
/// the boolean tree only of hunts that had a term hit or can match without one
/// (regex-, filter- or exclusion-only hunts).
#[derive(Debug, Clone)]
pub struct HuntSet {
    /// `None` when there are no patterns or the automaton could not be built
    /// (then patterns are scanned one by one).
    automaton: Option<AhoCorasick>,
    patterns: Vec<String>,
    /// Per pattern: word-boundary checks at (start, end).
    checks: Vec<(bool, bool)>,
    hunts: Vec<Hunt>,
    /// pattern index → hunts using it.
    by_pattern: Vec<Vec<usize>>,
    /// hunts evaluated on every item.
    always: Vec<usize>,
}

impl HuntSet {
    /// Compile hunts, each with its id.
    pub fn new(hunts: impl IntoIterator<Item = (u64, Query)>) -> Self {
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut patterns = Vec::new();
        let mut compiled = Vec::new();
        for (id, q) in hunts {
            let node = compile(q.expr, &mut index, &mut patterns);
            compiled.push(Hunt { id, node });
        }
        let mut by_pattern = vec![Vec::new(); patterns.len()];
        let mut always = Vec::new();
        for (h, hunt) in compiled.iter().enumerate() {
            if requires_term(&hunt.node) {
                let mut used = Vec::new();
                collect_patterns(&hunt.node, &mut used);
                used.sort_unstable();
                used.dedup();
                for p in used {
                    by_pattern[p].push(h);
                }
            } else {
                always.push(h);
            }
        }
        let automaton = if patterns.is_empty() {
            None
        } else {
            AhoCorasick::new(&patterns).ok()
        };
        let checks = patterns.iter().map(|p| boundary_checks(p)).collect();
        Self {
            automaton,
            patterns,
            checks,
            hunts: compiled,
            by_pattern,
            always,
        }
    }

    /// Number of hunts in the set.
    pub fn len(&self) -> usize {
        self.hunts.len()
    }

    /// Whether the set has no hunts.
    pub fn is_empty(&self) -> bool {
        self.hunts.is_empty()
    }

    /// Hunts matching `doc`, in registration order, each with the terms that hit.
    pub fn matches(&self, doc: &Doc) -> Vec<Hit> {
        let text = format!("{}\n{}", normalize(doc.title), normalize(doc.body));
        let mut hit = vec![false; self.patterns.len()];
        match &self.automaton {
            Some(ac) => {
                for m in ac.find_overlapping_iter(&text) {
                    let p = m.pattern().as_usize();
                    if !hit[p] && boundary_ok(&text, m.start(), m.end(), self.checks[p]) {
                        hit[p] = true;
                    }
                }
            }
            None => {
                for (p, pat) in self.patterns.iter().enumerate() {
                    hit[p] = contains_term(&text, pat);
                }
            }
        }
        let mut candidate = vec![false; self.hunts.len()];
        for &h in &self.always {
            candidate[h] = true;
        }
        for (p, &was_hit) in hit.iter().enumerate() {
            if was_hit {
                for &h in &self.by_pattern[p] {
                    candidate[h] = true;
                }
            }
        }
        let meta = Meta::new(doc);
        let ctx = Ctx {
            text: &text,
            hit: &hit,
            meta: &meta,
        };
        self.hunts
            .iter()
            .zip(candidate)
            .filter(|(hunt, cand)| *cand && ctx.eval(&hunt.node))
            .map(|(hunt, _)| {
                let mut terms = Vec::new();
                ctx.collect_hits(&hunt.node, false, &mut terms);
                Hit {
                    hunt: hunt.id,
                    terms,
                }
            })
            .collect()
    }
}

/// Whether `text` matches `query` (as the body of an item with empty metadata, so field
/// filters never match); on a match, the terms that hit. Backs `rexist hunt test`.
pub fn test(query: &Query, text: &str) -> Option<Vec<String>> {
    let set = HuntSet::new([(0, query.clone())]);
    set.matches(&Doc::body(text))
        .into_iter()
        .next()
        .map(|h| h.terms)
}

fn compile(e: Expr, index: &mut HashMap<String, usize>, patterns: &mut Vec<String>) -> Node {
    match e {
        Expr::Or(xs) => Node::Or(
            xs.into_iter()
                .map(|x| compile(x, index, patterns))
                .collect(),
        ),
        Expr::And(xs) => Node::And(
            xs.into_iter()
                .map(|x| compile(x, index, patterns))
                .collect(),
        ),
        Expr::Not(x) => Node::Not(Box::new(compile(*x, index, patterns))),
        Expr::Term(t) => {
            let label = t.to_string();
            let pattern = *index.entry(t.text.clone()).or_insert_with(|| {
                patterns.push(t.text);
                patterns.len() - 1
            });
            Node::Term { pattern, label }
        }
        Expr::Field(f, v) => Node::Field(f, v),
        Expr::Regex(r) => Node::Regex(r),
    }
}

/// True when the node can only be true if one of its literal terms hit.
fn requires_term(n: &Node) -> bool {
    match n {
        Node::Term { .. } => true,
        Node::Field(..) | Node::Regex(_) | Node::Not(_) => false,
        Node::And(xs) => xs.iter().any(requires_term),
        Node::Or(xs) => xs.iter().all(requires_term),
    }
}

fn collect_patterns(n: &Node, out: &mut Vec<usize>) {
    match n {
        Node::Term { pattern, .. } => out.push(*pattern),
        Node::Or(xs) | Node::And(xs) => xs.iter().for_each(|x| collect_patterns(x, out)),
        Node::Not(x) => collect_patterns(x, out),
        Node::Field(..) | Node::Regex(_) => {}
    }
}

/// Normalised item metadata.
pub(crate) struct Meta {
    kind: String,
    source: String,
    tags: Vec<String>,
    lang: Option<String>,
    tlp: String,
}

impl Meta {
    pub(crate) fn new(doc: &Doc) -> Self {
        Self {
            kind: normalize(doc.kind),
            source: normalize(doc.source),
            tags: doc.tags.iter().map(|t| normalize(t)).collect(),
            lang: doc.lang.map(normalize),
            tlp: strip_tlp(&normalize(doc.tlp)).to_owned(),
        }
    }

    pub(crate) fn field(&self, f: Field, v: &str) -> bool {
        match f {
            Field::Kind => self.kind == v,
            Field::Source => self.source == v,
            Field::Tag => self.tags.iter().any(|t| t == v),
            Field::Lang => self.lang.as_deref() == Some(v),
            Field::Tlp => !self.tlp.is_empty() && self.tlp == strip_tlp(v),
        }
    }
}

/// `tlp:amber` and `amber` are the same marking.
fn strip_tlp(v: &str) -> &str {
    v.strip_prefix("tlp:").unwrap_or(v).trim()
}

struct Ctx<'a> {
    text: &'a str,
    hit: &'a [bool],
    meta: &'a Meta,
}

impl Ctx<'_> {
    fn eval(&self, n: &Node) -> bool {
        match n {
            Node::Or(xs) => xs.iter().any(|x| self.eval(x)),
            Node::And(xs) => xs.iter().all(|x| self.eval(x)),
            Node::Not(x) => !self.eval(x),
            Node::Term { pattern, .. } => self.hit[*pattern],
            Node::Field(f, v) => self.meta.field(*f, v),
            Node::Regex(r) => r.is_match(self.text),
        }
    }

    fn collect_hits(&self, n: &Node, negated: bool, out: &mut Vec<String>) {
        match n {
            Node::Or(xs) | Node::And(xs) => {
                for x in xs {
                    self.collect_hits(x, negated, out);
                }
            }
            Node::Not(x) => self.collect_hits(x, !negated, out),
            Node::Term { pattern, label } => {
                if !negated && self.hit[*pattern] && !out.contains(label) {
                    out.push(label.clone());
                }
            }
            Node::Regex(r) => {
                let label = format!("/{}/", r.as_str());
                if !negated && !out.contains(&label) && r.is_match(self.text) {
                    out.push(label);
                }
            }
            Node::Field(..) => {}
        }
    }
}
