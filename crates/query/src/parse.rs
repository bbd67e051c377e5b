//! Recursive-descent parser: query string → [`Query`].

use crate::ast::{Expr, Field, Query, Term};
use crate::error::ParseError;
use crate::normalize::normalize;
use unicode_normalization::UnicodeNormalization;

/// Longest accepted query, in bytes.
pub const MAX_QUERY_LEN: usize = 8 * 1024;
/// Longest accepted `/regex/` source, in bytes.
pub const MAX_REGEX_LEN: usize = 1024;
/// Compiled size limit for one regex, in bytes.
pub(crate) const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Deepest accepted nesting of parentheses.
const MAX_DEPTH: usize = 32;

/// Parse a hunt query. See the [crate docs](crate) for the grammar.
///
/// # Errors
/// A [`ParseError`] with the byte offset of the problem in `query`.
pub fn parse(query: &str) -> Result<Query, ParseError> {
    if query.len() > MAX_QUERY_LEN {
        let at = (0..=MAX_QUERY_LEN)
            .rev()
            .find(|&i| query.is_char_boundary(i))
            .unwrap_or(0);
        return Err(ParseError::new(at, "query too long"));
    }
    let mut p = Parser {
        src: query,
        pos: 0,
        depth: 0,
    };
    let expr = p.or()?;
    p.skip_ws();
    match p.peek() {
        None => Ok(Query { expr }),
        Some(_) => Err(ParseError::new(p.pos, "unmatched ')'")),
    }
}

fn is_or(c: char) -> bool {
    c == ',' || c == '\u{FF0C}'
}

fn is_quote(c: char) -> bool {
    c == '"' || c == '\u{FF02}'
}

/// Ends a bare word.
fn is_delim(c: char) -> bool {
    c.is_whitespace() || is_or(c) || is_quote(c) || c == '(' || c == ')'
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        self.src.get(self.pos..).unwrap_or("")
    }

    /// Whether an alternative separator starts here: a comma, or the word
    /// `OR` (upper case, followed by a space, a group, a phrase or the end).
    fn at_or(&self) -> bool {
        let rest = self.rest();
        rest.chars().next().is_some_and(is_or)
            || rest.strip_prefix("OR").is_some_and(|after| {
                after
                    .chars()
                    .next()
                    .is_none_or(|c| c.is_whitespace() || c == '(' || is_quote(c))
            })
    }

    /// Steps over the separator [`Parser::at_or`] found.
    fn bump_or(&mut self) {
        if self.rest().starts_with("OR") {
            self.pos += 2;
        } else {
            self.bump();
        }
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += c.len_utf8();
        }
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// `or = and { "," and }`
    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut branches = Vec::new();
        loop {
            let Some(and) = self.and()? else {
                let msg = match self.peek() {
                    Some(_) if self.at_or() => "empty term before ',' or OR",
                    None if branches.is_empty() && self.depth == 0 => "empty query",
                    Some(')') if branches.is_empty() => "empty group",
                    _ => "empty term after ',' or OR",
                };
                return Err(ParseError::new(self.pos, msg));
            };
            branches.push(and);
            if self.at_or() {
                self.bump_or();
            } else {
                break;
            }
        }
        Ok(if branches.len() == 1 {
            branches.pop().expect("one branch")
        } else {
            Expr::Or(branches)
        })
    }

    /// `and = unary { unary }`; `None` when there is nothing before `,` / `)` / end.
    fn and(&mut self) -> Result<Option<Expr>, ParseError> {
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                None | Some(')') => break,
                Some(_) if self.at_or() => break,
                Some(_) => items.push(self.unary()?),
            }
        }
        Ok(match items.len() {
            0 => None,
            1 => items.pop(),
            _ => Some(Expr::And(items)),
        })
    }

    /// `unary = [ "-" ] atom`
    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.peek() == Some('-') {
            let at = self.pos;
            self.bump();
            if self
                .peek()
                .is_none_or(|c| c.is_whitespace() || is_or(c) || c == ')')
            {
                return Err(ParseError::new(at, "empty exclusion"));
            }
            return Ok(Expr::Not(Box::new(self.atom()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, ParseError> {
        let start = self.pos;
        match self.peek() {
            Some('(') => {
                if self.depth >= MAX_DEPTH {
                    return Err(ParseError::new(start, "too deeply nested"));
                }
                self.bump();
                self.depth += 1;
                let e = self.or()?;
                self.depth -= 1;
                self.skip_ws();
                if self.peek() == Some(')') {
                    self.bump();
                    Ok(e)
                } else {
                    Err(ParseError::new(start, "unclosed '('"))
                }
            }
            Some(c) if is_quote(c) => {
                let text = self.quoted()?;
                Ok(Expr::Term(Term { text, phrase: true }))
            }
            Some('/') => self.regex(),
            _ => self.word(),
        }
    }

    /// A `"…"` string starting at the current position, normalised and trimmed.
    fn quoted(&mut self) -> Result<String, ParseError> {
        let open = self.pos;
        self.bump();
        let body_start = self.pos;
        let Some(len) = self.rest().find(is_quote) else {
            return Err(ParseError::new(open, "unterminated phrase"));
        };
        let raw = &self.src[body_start..body_start + len];
        self.pos = body_start + len;
        self.bump();
        let text = normalize(raw).trim().to_owned();
        if text.is_empty() {
            return Err(ParseError::new(open, "empty phrase"));
        }
        Ok(text)
    }

    fn regex(&mut self) -> Result<Expr, ParseError> {
        let open = self.pos;
        self.bump();
        let body_start = self.pos;
        let mut end = None;
        let mut escaped = false;
        for (i, c) in self.rest().char_indices() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '/' {
                end = Some(body_start + i);
                break;
            }
        }
        let Some(end) = end else {
            return Err(ParseError::new(open, "unterminated regex"));
        };
        let pattern = &self.src[body_start..end];
        self.pos = end + 1;
        if pattern.is_empty() {
            return Err(ParseError::new(open, "empty regex"));
        }
        if pattern.len() > MAX_REGEX_LEN {
            return Err(ParseError::new(open, "regex too long"));
        }
        // NFKC like the scanned text (no lowercasing: it would change `\W`, `\D`…).
        let pattern: String = pattern.nfkc().collect();
        let re = regex::RegexBuilder::new(&pattern)
            .case_insensitive(true)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_SIZE_LIMIT)
            .nest_limit(64)
            .build()
            .map_err(|e| ParseError::new(body_start, regex_message(&e)))?;
        Ok(Expr::Regex(Box::new(re)))
    }

    fn word(&mut self) -> Result<Expr, ParseError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| !is_delim(c)) {
            self.bump();
        }
        let word = &self.src[start..self.pos];
        if let Some((name, value)) = word.split_once(':') {
            let looks_like_field = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphabetic())
                && !value.starts_with(['/', ':']);
            if looks_like_field {
                let Some(field) = Field::from_name(name) else {
                    return Err(ParseError::new(start, format!("unknown field '{name}'")));
                };
                let value = if value.is_empty() && self.peek().is_some_and(is_quote) {
                    self.quoted()?
                } else {
                    normalize(value)
                };
                if value.is_empty() {
                    return Err(ParseError::new(
                        start + name.len() + 1,
                        format!("empty value for field '{name}'"),
                    ));
                }
                return Ok(Expr::Field(field, value));
            }
        }
        let text = normalize(word).trim().to_owned();
        if text.is_empty() {
            return Err(ParseError::new(start, "empty term"));
        }
        Ok(Expr::Term(Term {
            text,
            phrase: false,
        }))
    }
}

/// One short line from a regex error.
pub(crate) fn regex_message(e: &regex::Error) -> String {
    let detail = match e {
        regex::Error::CompiledTooBig(_) => "too large".to_owned(),
        other => other
            .to_string()
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("invalid")
            .trim()
            .trim_start_matches("error: ")
            .chars()
            .take(120)
            .collect(),
    };
    format!("invalid regex: {detail}")
}
