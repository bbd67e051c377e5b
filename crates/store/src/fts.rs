//! Tokenisation for full-text search, shared by both backends.
//!
//! SQLite's FTS5 and PostgreSQL's text search split words differently, and
//! neither splits unspaced Japanese or Chinese. So rexist tokenises in Rust:
//! runs of letters and digits become lower-case tokens, and runs of CJK
//! characters become overlapping bigrams (`脆弱性` → `脆弱 弱性`). The token
//! string is what both engines index; a query is tokenised the same way and
//! each query word becomes a phrase of its tokens. Both backends therefore find
//! exactly the same items, and `脆弱性` is found inside `…の脆弱性を悪用…`.

/// Whether `c` belongs to a script written without spaces between words.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x31F0..=0x31FF    // Katakana phonetic extensions
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0xFF66..=0xFF9F    // half-width Katakana
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0x20000..=0x2FA1F) // CJK extensions B..
}

/// Largest number of tokens indexed per item; bounds index size for huge bodies.
const MAX_TOKENS: usize = 100_000;

/// Splits `text` into search tokens, calling `emit` for each.
fn tokens(text: &str, mut emit: impl FnMut(&str)) {
    let mut word = String::new();
    let mut cjk: Vec<char> = Vec::new();
    let mut count = 0usize;
    let flush_word = |word: &mut String, count: &mut usize, emit: &mut dyn FnMut(&str)| {
        if !word.is_empty() {
            emit(word);
            *count += 1;
            word.clear();
        }
    };
    let flush_cjk = |cjk: &mut Vec<char>, count: &mut usize, emit: &mut dyn FnMut(&str)| {
        let mut buf = String::new();
        if cjk.len() == 1 {
            buf.push(cjk[0]);
            emit(&buf);
            *count += 1;
        } else {
            for pair in cjk.windows(2) {
                buf.clear();
                buf.extend(pair);
                emit(&buf);
                *count += 1;
            }
        }
        cjk.clear();
    };
    for c in text.chars() {
        if count >= MAX_TOKENS {
            return;
        }
        if is_cjk(c) {
            flush_word(&mut word, &mut count, &mut emit);
            cjk.push(c);
        } else if c.is_alphanumeric() {
            if !cjk.is_empty() {
                flush_cjk(&mut cjk, &mut count, &mut emit);
            }
            word.extend(c.to_lowercase());
        } else {
            flush_word(&mut word, &mut count, &mut emit);
            if !cjk.is_empty() {
                flush_cjk(&mut cjk, &mut count, &mut emit);
            }
        }
    }
    flush_word(&mut word, &mut count, &mut emit);
    if !cjk.is_empty() {
        flush_cjk(&mut cjk, &mut count, &mut emit);
    }
}

/// The token string indexed for a document: tokens separated by spaces.
pub fn index_text(parts: &[&str]) -> String {
    let mut out = String::new();
    for part in parts {
        tokens(part, |t| {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(t);
        });
    }
    out
}

/// A parsed search query: any group matches when every term of it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextQuery {
    /// Alternatives (`a b, c` and `a b OR c` are `(a AND b) OR c`), each a
    /// list of terms that must all match.
    pub groups: Vec<Vec<QueryTerm>>,
}

/// One query word or quoted phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryTerm {
    /// Tokens that must appear in this order, adjacent.
    pub tokens: Vec<String>,
    /// Whether the last token matches as a prefix (`word*`).
    pub prefix: bool,
}

impl TextQuery {
    /// Parses user input: words are all required, `"quoted phrases"` kept
    /// together, a trailing `*` makes a prefix, and a comma or the word `OR`
    /// (upper case, unquoted) separates alternatives, as in hunt queries.
    /// Returns `None` if nothing searchable remains.
    pub fn parse(input: &str) -> Option<TextQuery> {
        let mut groups = Vec::new();
        let mut terms = Vec::new();
        let mut rest = input.trim();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix([',', '\u{FF0C}']) {
                groups.push(std::mem::take(&mut terms));
                rest = after.trim_start();
                continue;
            }
            let (chunk, tail) = if let Some(after) = rest.strip_prefix('"') {
                match after.find('"') {
                    Some(end) => (&after[..end], &after[end + 1..]),
                    None => (after, ""),
                }
            } else {
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == ',' || c == '\u{FF0C}')
                    .unwrap_or(rest.len());
                if &rest[..end] == "OR" {
                    groups.push(std::mem::take(&mut terms));
                    rest = rest[end..].trim_start();
                    continue;
                }
                (&rest[..end], &rest[end..])
            };
            let mut toks = Vec::new();
            tokens(chunk, |t| toks.push(t.to_owned()));
            // A lone CJK character is indexed only inside bigrams: match it as their prefix.
            let lone_cjk =
                toks.len() == 1 && toks[0].chars().count() == 1 && toks[0].chars().all(is_cjk);
            let prefix = chunk.ends_with('*') || lone_cjk;
            if !toks.is_empty() {
                terms.push(QueryTerm {
                    tokens: toks,
                    prefix,
                });
            }
            rest = tail.trim_start();
        }
        groups.push(terms);
        groups.retain(|g| !g.is_empty());
        (!groups.is_empty()).then_some(TextQuery { groups })
    }

    /// The query in FTS5 syntax. Tokens hold only letters and digits, so
    /// quoting them is enough to keep FTS5 operators out.
    pub fn to_fts5(&self) -> String {
        let group = |terms: &[QueryTerm]| {
            terms
                .iter()
                .map(|t| {
                    let mut s = format!("\"{}\"", t.tokens.join(" "));
                    if t.prefix {
                        s.push('*');
                    }
                    s
                })
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        if let [only] = self.groups.as_slice() {
            return group(only);
        }
        self.groups
            .iter()
            .map(|g| format!("({})", group(g)))
            .collect::<Vec<_>>()
            .join(" OR ")
    }

    /// The query in PostgreSQL `to_tsquery('simple', …)` syntax.
    pub fn to_tsquery(&self) -> String {
        let group = |terms: &[QueryTerm]| {
            terms
                .iter()
                .map(|t| {
                    let last = t.tokens.len() - 1;
                    let words: Vec<String> = t
                        .tokens
                        .iter()
                        .enumerate()
                        .map(|(i, tok)| {
                            if t.prefix && i == last {
                                format!("'{tok}':*")
                            } else {
                                format!("'{tok}'")
                            }
                        })
                        .collect();
                    format!("({})", words.join(" <-> "))
                })
                .collect::<Vec<_>>()
                .join(" & ")
        };
        if let [only] = self.groups.as_slice() {
            return group(only);
        }
        self.groups
            .iter()
            .map(|g| format!("({})", group(g)))
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_words_are_lowercased_and_split_on_punctuation() {
        assert_eq!(
            index_text(&["Apache Log4j CVE-2021-44228"]),
            "apache log4j cve 2021 44228"
        );
    }

    #[test]
    fn cjk_runs_become_bigrams() {
        assert_eq!(index_text(&["の脆弱性を"]), "の脆 脆弱 弱性 性を");
        assert_eq!(index_text(&["Apacheの脆弱性"]), "apache の脆 脆弱 弱性");
        assert_eq!(index_text(&["日"]), "日");
    }

    #[test]
    fn queries_become_phrases() {
        let q = TextQuery::parse("脆弱性 evil.com log*").unwrap();
        assert_eq!(q.to_fts5(), "\"脆弱 弱性\" AND \"evil com\" AND \"log\"*");
        assert_eq!(
            q.to_tsquery(),
            "('脆弱' <-> '弱性') & ('evil' <-> 'com') & ('log':*)"
        );
        assert_eq!(TextQuery::parse(" ... "), None);
        let quoted = TextQuery::parse("\"remote code\" x").unwrap();
        assert_eq!(quoted.groups[0][0].tokens, vec!["remote", "code"]);
    }

    #[test]
    fn comma_and_upper_case_or_are_alternatives() {
        let q = TextQuery::parse("log4j rce OR 脆弱性, \"a, b\" or").unwrap();
        assert_eq!(
            q.to_fts5(),
            "(\"log4j\" AND \"rce\") OR (\"脆弱 弱性\") OR (\"a b\" AND \"or\")"
        );
        assert_eq!(
            q.to_tsquery(),
            "(('log4j') & ('rce')) | (('脆弱' <-> '弱性')) | (('a' <-> 'b') & ('or'))"
        );
        // Empty alternatives vanish; `ORACLE` is a word.
        assert_eq!(
            TextQuery::parse("OR x,, ORACLE OR").unwrap().to_fts5(),
            "(\"x\") OR (\"oracle\")"
        );
        assert_eq!(TextQuery::parse(", OR ,"), None);
    }

    #[test]
    fn operators_cannot_be_injected() {
        let q = TextQuery::parse("a\" OR \"b NEAR( ' & |").unwrap();
        for t in q.groups.iter().flatten() {
            for tok in &t.tokens {
                assert!(tok.chars().all(char::is_alphanumeric), "{tok}");
            }
        }
    }
}
