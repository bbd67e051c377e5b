//! Many hunts compiled into one automaton, evaluated per item.

use std::collections::HashMap;

use aho_corasick::AhoCorasick;

use crate::ast::{Expr, Field, Query};
use crate::normalize::{boundary_checks, boundary_ok, contains_term, normalize};
use crate::prefilter::regex_gates;

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
    /// Names and aliases of the threat entities the item names, any of
    /// which may satisfy `entity:`.
    pub entities: &'a [String],
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
            entities: &[],
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
    Term {
        pattern: usize,
        label: String,
    },
    Field(Field, String),
    Regex {
        re: Box<regex::Regex>,
        label: String,
        /// Patterns one of which every match starts with; `None`: no prefilter, always run.
        gate: Option<Vec<usize>>,
    },
}

#[derive(Debug, Clone)]
struct Hunt {
    id: u64,
    node: Node,
}

/// Many hunts compiled together: one Aho-Corasick automaton over every hunt's
/// (normalised, deduplicated) literal terms and regex prefix literals.
///
/// [`matches`](Self::matches) normalises the item text once, scans it once, and evaluates
/// the boolean tree only of hunts that had a term or regex-prefix hit or can match without
/// one (filter- or exclusion-only hunts, regexes without a known literal prefix).
#[derive(Debug, Clone)]
pub struct HuntSet {
    /// `None` when there are no patterns or the automaton could not be built
    /// (then patterns are scanned one by one).
    automaton: Option<AhoCorasick>,
    /// Texts of the automaton's patterns: hunt terms and regex gates.
    patterns: Vec<String>,
    /// Per pattern: word-boundary checks at (start, end). A regex gate and a term of the
    /// same text are one pattern only when the term needs no checks either.
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
        let mut table = PatternTable::default();
        let mut compiled = Vec::new();
        for (id, q) in hunts {
            let node = table.compile(q.expr);
            compiled.push(Hunt { id, node });
        }
        let PatternTable {
            texts: patterns,
            checks,
            ..
        } = table;
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
                    hit[p] = if self.checks[p] == (false, false) {
                        text.contains(pat.as_str())
                    } else {
                        contains_term(&text, pat)
                    };
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

    /// Number of hunts evaluated on every item, whatever its text.
    #[cfg(test)]
    pub(crate) fn always_len(&self) -> usize {
        self.always.len()
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

/// The shared pattern table, filled while compiling hunts.
#[derive(Default)]
struct PatternTable {
    /// (text, boundary checks) → pattern index.
    index: HashMap<(String, (bool, bool)), usize>,
    texts: Vec<String>,
    checks: Vec<(bool, bool)>,
}

impl PatternTable {
    fn intern(&mut self, text: String, checks: (bool, bool)) -> usize {
        let next = self.texts.len();
        *self
            .index
            .entry((text, checks))
            .or_insert_with_key(|(text, _)| {
                self.texts.push(text.clone());
                self.checks.push(checks);
                next
            })
    }

    fn compile(&mut self, e: Expr) -> Node {
        match e {
            Expr::Or(xs) => Node::Or(xs.into_iter().map(|x| self.compile(x)).collect()),
            Expr::And(xs) => Node::And(xs.into_iter().map(|x| self.compile(x)).collect()),
            Expr::Not(x) => Node::Not(Box::new(self.compile(*x))),
            Expr::Term(t) => {
                let label = t.to_string();
                let checks = boundary_checks(&t.text);
                let pattern = self.intern(t.text, checks);
                Node::Term { pattern, label }
            }
            Expr::Field(f, v) => Node::Field(f, v),
            Expr::Regex(re) => {
                // A gate only needs to be present, wherever: no boundary checks.
                let gate = regex_gates(&re).map(|gates| {
                    gates
                        .into_iter()
                        .map(|g| self.intern(g, (false, false)))
                        .collect()
                });
                let label = format!("/{}/", re.as_str());
                Node::Regex { re, label, gate }
            }
        }
    }
}

/// True when the node can only be true if one of its literal terms or regex gates hit.
fn requires_term(n: &Node) -> bool {
    match n {
        Node::Term { .. } | Node::Regex { gate: Some(_), .. } => true,
        Node::Field(..) | Node::Regex { gate: None, .. } | Node::Not(_) => false,
        Node::And(xs) => xs.iter().any(requires_term),
        Node::Or(xs) => xs.iter().all(requires_term),
    }
}

fn collect_patterns(n: &Node, out: &mut Vec<usize>) {
    match n {
        Node::Term { pattern, .. } => out.push(*pattern),
        Node::Or(xs) | Node::And(xs) => xs.iter().for_each(|x| collect_patterns(x, out)),
        Node::Not(x) => collect_patterns(x, out),
        Node::Regex { gate, .. } => out.extend(gate.iter().flatten()),
        Node::Field(..) => {}
    }
}

/// Normalised item metadata.
pub(crate) struct Meta {
    kind: String,
    source: String,
    tags: Vec<String>,
    lang: Option<String>,
    tlp: String,
    entities: Vec<String>,
}

impl Meta {
    pub(crate) fn new(doc: &Doc) -> Self {
        Self {
            kind: normalize(doc.kind),
            source: normalize(doc.source),
            tags: doc.tags.iter().map(|t| normalize(t)).collect(),
            lang: doc.lang.map(normalize),
            tlp: strip_tlp(&normalize(doc.tlp)).to_owned(),
            entities: doc.entities.iter().map(|e| entity_key(e)).collect(),
        }
    }

    pub(crate) fn field(&self, f: Field, v: &str) -> bool {
        match f {
            Field::Kind => self.kind == v,
            Field::Source => self.source == v,
            Field::Tag => self.tags.iter().any(|t| t == v),
            Field::Lang => self.lang.as_deref() == Some(v),
            Field::Tlp => !self.tlp.is_empty() && self.tlp == strip_tlp(v),
            Field::Entity => {
                let v = entity_key(v);
                !v.is_empty() && self.entities.contains(&v)
            }
        }
    }
}

/// Entity names compare as rexist resolves them: normalised, without
/// spaces, hyphens, underscores or dots (`APT 28` is `apt28`).
fn entity_key(v: &str) -> String {
    normalize(v)
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '_' | '.'))
        .collect()
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
            Node::Regex { re, gate, .. } => {
                self.gate_open(gate.as_deref()) && re.is_match(self.text)
            }
        }
    }

    /// Whether a regex with this gate may match: no gate, or one of its literals was found.
    fn gate_open(&self, gate: Option<&[usize]>) -> bool {
        gate.is_none_or(|g| g.iter().any(|&p| self.hit[p]))
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
            Node::Regex { re, label, gate } => {
                if !negated
                    && !out.contains(label)
                    && self.gate_open(gate.as_deref())
                    && re.is_match(self.text)
                {
                    out.push(label.clone());
                }
            }
            Node::Field(..) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn set(queries: &[&str]) -> HuntSet {
        HuntSet::new(
            queries
                .iter()
                .zip(0u64..)
                .map(|(q, id)| (id, parse(q).expect("test query parses"))),
        )
    }

    fn hunts(set: &HuntSet, text: &str) -> Vec<u64> {
        set.matches(&Doc::body(text))
            .into_iter()
            .map(|h| h.hunt)
            .collect()
    }

    #[test]
    fn regex_with_literal_prefix_is_gated() {
        let s = set(&["/lockbit[0-9]/", "/(foo|bar)baz/, apt29", "/ab+c/ -test"]);
        assert_eq!(s.always_len(), 0);
        assert_eq!(hunts(&s, "LockBit3 and FOOBAZ"), [0, 1]);
        assert_eq!(hunts(&s, "abbbc"), [2]);
        assert_eq!(hunts(&s, "abbbc test"), Vec::<u64>::new());
        assert_eq!(hunts(&s, "lockbit apt29"), [1]);
    }

    #[test]
    fn regex_without_literal_prefix_runs_always() {
        let s = set(&[r"/\w+ing/", "/lockbit/, -x", "/.?b/"]);
        assert_eq!(s.always_len(), 3);
        assert_eq!(hunts(&s, "phishing"), [0, 1]);
        assert!(hunts(&s, "x").is_empty());
    }

    #[test]
    fn gate_and_term_of_same_text_keep_their_boundary_rules() {
        // `ab` the term needs word boundaries; `ab` the gate of /ab+c/ does not.
        let s = set(&["ab", "/ab+c/", "/ab/"]);
        assert_eq!(hunts(&s, "xabbc"), [1, 2]);
        assert_eq!(hunts(&s, "an ab here"), [0, 2]);
        let hits = s.matches(&Doc::body("xabc ab"));
        assert_eq!(hits.len(), 3);
        assert_eq!(hits[1].terms, ["/ab+c/"]);
    }

    #[test]
    fn excluded_gated_regex_is_still_negated() {
        let s = set(&["apt -/lock.it/", "-/foo/"]);
        assert_eq!(s.always_len(), 1);
        assert_eq!(hunts(&s, "apt"), [0, 1]);
        assert_eq!(hunts(&s, "apt lockbit foo"), Vec::<u64>::new());
    }
}
