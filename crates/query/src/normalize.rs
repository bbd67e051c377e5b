//! Text normalisation shared by terms and scanned text.

use unicode_normalization::UnicodeNormalization;

/// NFKC, then Unicode lowercase, then every run of whitespace collapsed to one ASCII space.
///
/// Applied to query terms, field values and item text alike, so full-width and
/// half-width forms compare equal. Match offsets are into this normalised text.
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_space = false;
    for c in s.nfkc().flat_map(char::to_lowercase) {
        if c.is_whitespace() {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    out
}

/// Letters, digits and `_`.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Scripts written without spaces between words: Han, kana, Hangul and friends.
pub(crate) fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{1100}'..='\u{11FF}'   // Hangul Jamo
        | '\u{2E80}'..='\u{2FDF}' // CJK radicals
        | '\u{3000}'..='\u{30FF}' // CJK symbols, Hiragana, Katakana
        | '\u{3100}'..='\u{31FF}' // Bopomofo, Kanbun, Katakana ext
        | '\u{3400}'..='\u{4DBF}' // CJK ext A
        | '\u{4E00}'..='\u{9FFF}' // CJK unified
        | '\u{AC00}'..='\u{D7AF}' // Hangul syllables
        | '\u{F900}'..='\u{FAFF}' // CJK compatibility
        | '\u{FF66}'..='\u{FF9F}' // half-width Katakana
        | '\u{20000}'..='\u{3FFFF}' // CJK ext B and later
    )
}

/// A word character that is not CJK: where a Latin-style term may not continue.
fn is_boundary_blocker(c: char) -> bool {
    is_word(c) && !is_cjk(c)
}

/// Whether a normalised term needs a word boundary before its first / after its last char.
pub(crate) fn boundary_checks(term: &str) -> (bool, bool) {
    let first = term.chars().next().is_some_and(is_boundary_blocker);
    let last = term.chars().next_back().is_some_and(is_boundary_blocker);
    (first, last)
}

/// Whether an occurrence of a term at `start..end` in `text` respects its boundaries.
pub(crate) fn boundary_ok(text: &str, start: usize, end: usize, checks: (bool, bool)) -> bool {
    let before_ok = !checks.0
        || text
            .get(..start)
            .and_then(|s| s.chars().next_back())
            .is_none_or(|c| !is_boundary_blocker(c));
    let after_ok = !checks.1
        || text
            .get(end..)
            .and_then(|s| s.chars().next())
            .is_none_or(|c| !is_boundary_blocker(c));
    before_ok && after_ok
}

/// Whether `term` occurs in `text` with its boundaries respected (naive scan; used when
/// the automaton cannot be built, and as the reference in tests).
pub(crate) fn contains_term(text: &str, term: &str) -> bool {
    if term.is_empty() {
        return false;
    }
    let checks = boundary_checks(term);
    let mut from = 0;
    while let Some(rel) = text.get(from..).and_then(|s| s.find(term)) {
        let start = from + rel;
        if boundary_ok(text, start, start + term.len(), checks) {
            return true;
        }
        // advance by one char
        from = start + text[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}
