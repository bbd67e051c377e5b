//! Literal prefilter for `/regex/` hunts: the prefixes every match must start with.
//!
//! A regex whose matches all begin with one of a few literals need only run on items where
//! the shared automaton found one of them; [`regex_gates`] works those literals out.

use regex_syntax::ParserBuilder;
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{ClassUnicode, ClassUnicodeRange};

use crate::normalize::normalize;

/// Most gates one regex gets; more are cut to shorter common prefixes.
const MAX_GATES: usize = 16;

/// Literals (in normalised, lower-case form) at least one of which starts every match of
/// `re` in normalised text; `None` when no such finite set of non-empty literals is known,
/// and the regex must run on every item.
///
/// The source is parsed case-sensitively (a case-insensitive parse would expand `lockbit`
/// into 2⁷ spellings and hit the extractor's limits) and each literal is lower-cased
/// afterwards. That is sound because the scanned text is lower-case: a case-insensitive
/// match of literal `l` is, char by char, in the simple case-fold class of `l`, and the
/// only member of that class that can occur in normalised text is `lower(l)` — except for
/// a few characters such as `σ`, whose class also holds `ς`. A literal is cut before the
/// first such character (a prefix of a prefix is still a prefix).
pub(crate) fn regex_gates(re: &regex::Regex) -> Option<Vec<String>> {
    let hir = ParserBuilder::new().build().parse(re.as_str()).ok()?;
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(&hir);
    let literals = seq.literals()?;
    if literals.is_empty() {
        return None;
    }
    let mut gates = Vec::with_capacity(literals.len());
    for lit in literals {
        let bytes = lit.as_bytes();
        // The extractor cuts long literals by bytes, possibly inside a character.
        let text = match std::str::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).ok()?,
        };
        let safe_len = text
            .char_indices()
            .find(|&(_, c)| !fold_safe(c))
            .map_or(text.len(), |(i, _)| i);
        let gate = text[..safe_len].to_lowercase();
        if gate.is_empty() {
            return None;
        }
        gates.push(gate);
    }
    let mut gates = minimal(gates);
    // `x\d\d` as 100 patterns would cost more automaton matches than it saves; shorter
    // prefixes are prefixes still.
    while gates.len() > MAX_GATES {
        let Some(longest) = gates.iter().map(|g| g.chars().count()).max() else {
            break;
        };
        if longest <= 1 {
            break;
        }
        for g in &mut gates {
            if let Some((cut, _)) = g.char_indices().nth(longest - 1) {
                g.truncate(cut);
            }
        }
        gates = minimal(gates);
    }
    Some(gates)
}

/// Sorted, without duplicates, and without a gate that has another as prefix: where `ab`
/// is found, so is `a`.
fn minimal(mut gates: Vec<String>) -> Vec<String> {
    gates.sort_unstable();
    gates.dedup();
    let mut out: Vec<String> = Vec::with_capacity(gates.len());
    for g in gates {
        // Sorted order puts a prefix right before the strings it starts.
        if !out.last().is_some_and(|m| g.starts_with(m.as_str())) {
            out.push(g);
        }
    }
    out
}

/// Whether every character of normalised text that a case-insensitive regex matches for
/// `c` is `c` lower-cased.
fn fold_safe(c: char) -> bool {
    let mut lower = c.to_lowercase();
    let single = match (lower.next(), lower.next()) {
        (Some(l), None) => Some(l),
        _ => None,
    };
    let mut class = ClassUnicode::new([ClassUnicodeRange::new(c, c)]);
    class.case_fold_simple();
    class
        .iter()
        .flat_map(|r| r.start()..=r.end())
        .all(|x| Some(x) == single || !in_normalized_text(x))
}

/// Whether `x` can occur in the output of [`normalize`]: exactly when it is a fixed point
/// of it (checked over every `char` by `normalized_chars_are_fixed_points`).
fn in_normalized_text(x: char) -> bool {
    let mut buf = [0; 4];
    let s: &str = x.encode_utf8(&mut buf);
    normalize(s) == s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gates(src: &str) -> Option<Vec<String>> {
        let re = regex::RegexBuilder::new(src)
            .case_insensitive(true)
            .build()
            .expect("test regex compiles");
        regex_gates(&re)
    }

    fn owned(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|&x| x.to_owned()).collect()
    }

    #[test]
    fn extracts_lowercased_prefixes() {
        let digits: Vec<String> = (0..10).map(|d| format!("lockbit{d}")).collect();
        assert_eq!(gates("LockBit[0-9]"), Some(digits));
        let two_digits: Vec<String> = (0..10).map(|d| format!("x{d}")).collect();
        assert_eq!(gates("x[0-9][0-9]"), Some(two_digits));
        assert_eq!(gates("a*b"), Some(owned(&["a", "b"])));
        assert_eq!(gates("(ab|abc)d?"), Some(owned(&["ab"])));
        assert_eq!(gates("ab+c"), Some(owned(&["ab"])));
        assert_eq!(gates("(foo|BAR)baz"), Some(owned(&["barbaz", "foobaz"])));
        assert_eq!(gates(r"\bCVE-\d{4}"), Some(owned(&["cve-"])));
        assert_eq!(gates("(?i)ab"), Some(owned(&["ab"])));
        assert_eq!(gates("脆弱性"), Some(owned(&["脆弱性"])));
    }

    #[test]
    fn gives_up_without_a_finite_non_empty_prefix() {
        assert_eq!(gates(r"\w+ing"), None);
        assert_eq!(gates(".?x"), None);
        assert_eq!(gates("x|"), None);
        assert_eq!(gates("^"), None);
        assert_eq!(gates(r"[^\s\S]"), None);
    }

    #[test]
    fn cuts_before_ambiguous_case_folds() {
        // `(?i)σ` also matches `ς`, which normalised text keeps as is.
        assert_eq!(gates("σx"), None);
        assert_eq!(gates("aσx"), Some(owned(&["a"])));
        // `ſ` and the Kelvin sign fold with `s`/`k` but never survive NFKC.
        assert_eq!(gates("sk"), Some(owned(&["sk"])));
    }

    #[test]
    fn normalized_chars_are_fixed_points() {
        let mut buf = [0; 4];
        for c in (0..=0x10_FFFF).filter_map(char::from_u32) {
            for x in normalize(c.encode_utf8(&mut buf)).chars() {
                assert!(in_normalized_text(x), "{c:?} normalises to {x:?}");
            }
        }
    }
}
