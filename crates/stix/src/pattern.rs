//! The STIX 2.1 pattern language (STIX 2.1 §9), parsed into an AST, and its
//! reduction to rexist indicators.
//!
//! Precedence, loosest first: `FOLLOWEDBY`, `OR`, `AND` between observation
//! expressions (each `[ … ]` or `( … )`, with postfix qualifiers `WITHIN n
//! SECONDS`, `REPEATS n TIMES`, `START t'…' STOP t'…'`); inside brackets `OR`
//! then `AND` between comparisons, grouped by `( )`. [`Pattern`]'s `Display`
//! writes a canonical, fully parenthesised form that parses back to the same
//! AST.

use std::fmt;

use rexist_core::{Indicator, IndicatorType};

use crate::error::PatternError;

/// Nesting depth beyond which a pattern is refused (keeps the stack bounded).
const MAX_DEPTH: usize = 64;

/// A parsed pattern: observation expressions.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// `[ comparison ]`.
    Observation(Comparison),
    /// Two observation expressions joined by `AND`, `OR` or `FOLLOWEDBY`.
    Binary {
        /// The operator.
        op: ObservationOp,
        /// Left side.
        left: Box<Pattern>,
        /// Right side.
        right: Box<Pattern>,
    },
    /// An observation expression with a qualifier.
    Qualified {
        /// The qualified expression.
        inner: Box<Pattern>,
        /// The qualifier.
        qualifier: Qualifier,
    },
}

/// Operators between observation expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObservationOp {
    /// `AND`.
    And,
    /// `OR`.
    Or,
    /// `FOLLOWEDBY`.
    FollowedBy,
}

/// Observation expression qualifiers.
#[derive(Debug, Clone, PartialEq)]
pub enum Qualifier {
    /// `WITHIN n SECONDS` (n as written: int or float).
    Within(String),
    /// `REPEATS n TIMES`.
    Repeats(u64),
    /// `START t'…' STOP t'…'` (timestamps as written).
    StartStop(String, String),
}

/// A comparison expression inside brackets.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparison {
    /// `a AND b`.
    And(Box<Comparison>, Box<Comparison>),
    /// `a OR b`.
    Or(Box<Comparison>, Box<Comparison>),
    /// One test.
    Test(Test),
}

/// One property test: `path [NOT] OP value`, or `[NOT] EXISTS path`.
#[derive(Debug, Clone, PartialEq)]
pub struct Test {
    /// The object path.
    pub path: ObjectPath,
    /// Whether `NOT` precedes the operator.
    pub negated: bool,
    /// The operator.
    pub op: Operator,
    /// The right-hand side (`None` for `EXISTS`).
    pub value: Option<Literal>,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `=`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `>`.
    Gt,
    /// `<=`.
    Le,
    /// `>=`.
    Ge,
    /// `IN ( … )`.
    In,
    /// `LIKE`.
    Like,
    /// `MATCHES`.
    Matches,
    /// `ISSUBSET`.
    IsSubset,
    /// `ISSUPERSET`.
    IsSuperset,
    /// `EXISTS` (prefix).
    Exists,
}

impl Operator {
    fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Gt => ">",
            Self::Le => "<=",
            Self::Ge => ">=",
            Self::In => "IN",
            Self::Like => "LIKE",
            Self::Matches => "MATCHES",
            Self::IsSubset => "ISSUBSET",
            Self::IsSuperset => "ISSUPERSET",
            Self::Exists => "EXISTS",
        }
    }
}

/// `object-type:first.step[0].'quoted'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPath {
    /// `file`, `ipv4-addr`, `x-custom`.
    pub object_type: String,
    /// The property path, first property first.
    pub steps: Vec<PathStep>,
}

/// One step of an object path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    /// A property name, written bare.
    Key(String),
    /// A property name written quoted (`'SHA-256'`).
    QuotedKey(String),
    /// A list index; `None` is `[*]`.
    Index(Option<u64>),
}

impl PathStep {
    fn key(&self) -> Option<&str> {
        match self {
            Self::Key(k) | Self::QuotedKey(k) => Some(k),
            Self::Index(_) => None,
        }
    }
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `'text'`, unescaped.
    String(String),
    /// An integer.
    Int(i64),
    /// A float, as written.
    Float(String),
    /// `true` / `false`.
    Bool(bool),
    /// `b64'…'` / `b'…'`, as written inside the quotes.
    Binary(String),
    /// `h'…'`.
    Hex(String),
    /// `t'…'`.
    Timestamp(String),
    /// `( lit, lit, … )` for `IN`.
    Set(Vec<Literal>),
}

/// Parse a STIX 2.1 pattern.
pub fn parse_pattern(input: &str) -> Result<Pattern, PatternError> {
    let tokens = lex(input)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
        end: input.len(),
    };
    let pattern = p.observations()?;
    if let Some(t) = p.peek() {
        return Err(PatternError::new(t.at, "unexpected token after pattern"));
    }
    Ok(pattern)
}

// ---------------------------------------------------------------- lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LBracket,
    RBracket,
    LParen,
    RParen,
    Comma,
    Colon,
    Dot,
    Star,
    Op(Operator),
    Word(String),
    Str(String),
    Prefixed(char, String),
    Int(i64),
    Float(String),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    at: usize,
}

fn lex(input: &str) -> Result<Vec<Token>, PatternError> {
    let bytes = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let at = i;
        let simple = match c {
            b'[' => Some(Tok::LBracket),
            b']' => Some(Tok::RBracket),
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            b'.' => Some(Tok::Dot),
            b'*' => Some(Tok::Star),
            b'=' => Some(Tok::Op(Operator::Eq)),
            _ => None,
        };
        if let Some(tok) = simple {
            out.push(Token { tok, at });
            i += 1;
            continue;
        }
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let next = bytes.get(i + 1).copied();
        match c {
            b'!' | b'<' | b'>' => {
                let (op, len) = match (c, next) {
                    (b'!', Some(b'=')) => (Operator::Ne, 2),
                    (b'<', Some(b'=')) => (Operator::Le, 2),
                    (b'>', Some(b'=')) => (Operator::Ge, 2),
                    (b'<', _) => (Operator::Lt, 1),
                    (b'>', _) => (Operator::Gt, 1),
                    _ => return Err(PatternError::new(at, "expected '!='")),
                };
                out.push(Token {
                    tok: Tok::Op(op),
                    at,
                });
                i += len;
            }
            b'\'' => {
                let (s, end) = string_at(input, i)?;
                out.push(Token {
                    tok: Tok::Str(s),
                    at,
                });
                i = end;
            }
            b'-' | b'+' | b'0'..=b'9' => {
                let mut j = i + 1;
                while j < bytes.len() && bytes[j].is_ascii_digit() {
                    j += 1;
                }
                let mut float = false;
                if j < bytes.len()
                    && bytes[j] == b'.'
                    && bytes.get(j + 1).is_some_and(u8::is_ascii_digit)
                {
                    float = true;
                    j += 1;
                    while j < bytes.len() && bytes[j].is_ascii_digit() {
                        j += 1;
                    }
                }
                let text = &input[i..j];
                if !text.bytes().any(|b| b.is_ascii_digit()) {
                    return Err(PatternError::new(at, "expected a number"));
                }
                let tok = if float {
                    Tok::Float(text.to_owned())
                } else {
                    Tok::Int(
                        text.parse()
                            .map_err(|_| PatternError::new(at, "integer out of range"))?,
                    )
                };
                out.push(Token { tok, at });
                i = j;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let mut j = i + 1;
                while j < bytes.len()
                    && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_' || bytes[j] == b'-')
                {
                    j += 1;
                }
                let word = &input[i..j];
                if matches!(word, "b64" | "b" | "h" | "t") && bytes.get(j) == Some(&b'\'') {
                    let (s, end) = string_at(input, j)?;
                    let tag = if word == "b64" { 'b' } else { char::from(c) };
                    out.push(Token {
                        tok: Tok::Prefixed(tag, s),
                        at,
                    });
                    i = end;
                } else {
                    out.push(Token {
                        tok: Tok::Word(word.to_owned()),
                        at,
                    });
                    i = j;
                }
            }
            _ => return Err(PatternError::new(at, "unexpected character")),
        }
    }
    Ok(out)
}

/// A quoted string starting at `start` (the quote): its value and the byte after it.
fn string_at(input: &str, start: usize) -> Result<(String, usize), PatternError> {
    let mut out = String::new();
    let mut chars = input[start + 1..].char_indices();
    while let Some((off, ch)) = chars.next() {
        match ch {
            '\'' => return Ok((out, start + 1 + off + 1)),
            '\\' => match chars.next() {
                Some((_, e @ ('\'' | '\\'))) => out.push(e),
                Some((o, _)) => {
                    return Err(PatternError::new(start + 1 + o, "invalid escape"));
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err(PatternError::new(start, "unterminated string"))
}

// ---------------------------------------------------------------- parser

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn here(&self) -> usize {
        self.peek().map_or(self.end, |t| t.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Token { tok: Tok::Word(x), .. }) if x == w)
    }

    fn eat_word(&mut self, w: &str) -> bool {
        let hit = self.is_word(w);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect(&mut self, tok: &Tok, what: &str) -> Result<(), PatternError> {
        match self.peek() {
            Some(t) if &t.tok == tok => {
                self.pos += 1;
                Ok(())
            }
            _ => Err(PatternError::new(self.here(), format!("expected {what}"))),
        }
    }

    fn enter(&mut self) -> Result<(), PatternError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(PatternError::new(self.here(), "nested too deeply"));
        }
        Ok(())
    }

    fn observations(&mut self) -> Result<Pattern, PatternError> {
        self.enter()?;
        let mut left = self.obs_or()?;
        while self.eat_word("FOLLOWEDBY") {
            let right = self.obs_or()?;
            left = binary(ObservationOp::FollowedBy, left, right);
        }
        self.depth -= 1;
        Ok(left)
    }

    fn obs_or(&mut self) -> Result<Pattern, PatternError> {
        let mut left = self.obs_and()?;
        while self.eat_word("OR") {
            let right = self.obs_and()?;
            left = binary(ObservationOp::Or, left, right);
        }
        Ok(left)
    }

    fn obs_and(&mut self) -> Result<Pattern, PatternError> {
        let mut left = self.obs_qualified()?;
        while self.eat_word("AND") {
            let right = self.obs_qualified()?;
            left = binary(ObservationOp::And, left, right);
        }
        Ok(left)
    }

    fn obs_qualified(&mut self) -> Result<Pattern, PatternError> {
        let mut inner = self.obs_primary()?;
        loop {
            let qualifier = if self.eat_word("WITHIN") {
                let at = self.here();
                let n = match self.next().map(|t| t.tok) {
                    Some(Tok::Int(n)) if n > 0 => n.to_string(),
                    Some(Tok::Float(f)) if !f.starts_with('-') => f,
                    _ => return Err(PatternError::new(at, "expected a positive number")),
                };
                if !self.eat_word("SECONDS") {
                    return Err(PatternError::new(self.here(), "expected SECONDS"));
                }
                Qualifier::Within(n)
            } else if self.eat_word("REPEATS") {
                let at = self.here();
                let n = match self.next().map(|t| t.tok) {
                    Some(Tok::Int(n)) if n > 0 => u64::try_from(n)
                        .map_err(|_| PatternError::new(at, "expected a positive integer"))?,
                    _ => return Err(PatternError::new(at, "expected a positive integer")),
                };
                if !self.eat_word("TIMES") {
                    return Err(PatternError::new(self.here(), "expected TIMES"));
                }
                Qualifier::Repeats(n)
            } else if self.eat_word("START") {
                let start = self.timestamp()?;
                if !self.eat_word("STOP") {
                    return Err(PatternError::new(self.here(), "expected STOP"));
                }
                Qualifier::StartStop(start, self.timestamp()?)
            } else {
                return Ok(inner);
            };
            inner = Pattern::Qualified {
                inner: Box::new(inner),
                qualifier,
            };
        }
    }

    fn timestamp(&mut self) -> Result<String, PatternError> {
        let at = self.here();
        match self.next().map(|t| t.tok) {
            Some(Tok::Prefixed('t', s)) => Ok(s),
            _ => Err(PatternError::new(at, "expected a timestamp t'…'")),
        }
    }

    fn obs_primary(&mut self) -> Result<Pattern, PatternError> {
        let at = self.here();
        match self.next().map(|t| t.tok) {
            Some(Tok::LBracket) => {
                let c = self.comparisons()?;
                self.expect(&Tok::RBracket, "']'")?;
                Ok(Pattern::Observation(c))
            }
            Some(Tok::LParen) => {
                let p = self.observations()?;
                self.expect(&Tok::RParen, "')'")?;
                Ok(p)
            }
            _ => Err(PatternError::new(at, "expected '[' or '('")),
        }
    }

    fn comparisons(&mut self) -> Result<Comparison, PatternError> {
        self.enter()?;
        let mut left = self.cmp_and()?;
        while self.eat_word("OR") {
            let right = self.cmp_and()?;
            left = Comparison::Or(Box::new(left), Box::new(right));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn cmp_and(&mut self) -> Result<Comparison, PatternError> {
        let mut left = self.cmp_primary()?;
        while self.eat_word("AND") {
            let right = self.cmp_primary()?;
            left = Comparison::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn cmp_primary(&mut self) -> Result<Comparison, PatternError> {
        if matches!(
            self.peek(),
            Some(Token {
                tok: Tok::LParen,
                ..
            })
        ) {
            self.pos += 1;
            let c = self.comparisons()?;
            self.expect(&Tok::RParen, "')'")?;
            return Ok(c);
        }
        // `[NOT] EXISTS path`
        let save = self.pos;
        let negated_exists = self.eat_word("NOT");
        if self.eat_word("EXISTS") {
            let path = self.path()?;
            return Ok(Comparison::Test(Test {
                path,
                negated: negated_exists,
                op: Operator::Exists,
                value: None,
            }));
        }
        self.pos = save;
        let path = self.path()?;
        let negated = self.eat_word("NOT");
        let at = self.here();
        let op = match self.next().map(|t| t.tok) {
            Some(Tok::Op(op)) => op,
            Some(Tok::Word(w)) => match w.as_str() {
                "IN" => Operator::In,
                "LIKE" => Operator::Like,
                "MATCHES" => Operator::Matches,
                "ISSUBSET" => Operator::IsSubset,
                "ISSUPERSET" => Operator::IsSuperset,
                _ => return Err(PatternError::new(at, "expected a comparison operator")),
            },
            _ => return Err(PatternError::new(at, "expected a comparison operator")),
        };
        let value = if op == Operator::In {
            self.set()?
        } else {
            self.literal()?
        };
        let ok = match (op, &value) {
            (
                Operator::Like | Operator::Matches | Operator::IsSubset | Operator::IsSuperset,
                Literal::String(_),
            )
            | (Operator::Eq | Operator::Ne | Operator::In, _) => true,
            (Operator::Lt | Operator::Gt | Operator::Le | Operator::Ge, l) => {
                !matches!(l, Literal::Bool(_) | Literal::Set(_))
            }
            _ => false,
        };
        if !ok {
            return Err(PatternError::new(at, "operator does not take this literal"));
        }
        Ok(Comparison::Test(Test {
            path,
            negated,
            op,
            value: Some(value),
        }))
    }

    fn path(&mut self) -> Result<ObjectPath, PatternError> {
        let at = self.here();
        let object_type = match self.next().map(|t| t.tok) {
            Some(Tok::Word(w))
                if w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
            {
                w
            }
            _ => return Err(PatternError::new(at, "expected an object type")),
        };
        self.expect(&Tok::Colon, "':'")?;
        let mut steps = vec![self.key()?];
        loop {
            match self.peek().map(|t| &t.tok) {
                Some(Tok::Dot) => {
                    self.pos += 1;
                    steps.push(self.key()?);
                }
                Some(Tok::LBracket) => {
                    self.pos += 1;
                    let at = self.here();
                    let step = match self.next().map(|t| t.tok) {
                        Some(Tok::Star) => PathStep::Index(None),
                        Some(Tok::Int(n)) => PathStep::Index(Some(
                            u64::try_from(n)
                                .map_err(|_| PatternError::new(at, "negative list index"))?,
                        )),
                        _ => return Err(PatternError::new(at, "expected a list index or '*'")),
                    };
                    self.expect(&Tok::RBracket, "']'")?;
                    steps.push(step);
                }
                _ => return Ok(ObjectPath { object_type, steps }),
            }
        }
    }

    fn key(&mut self) -> Result<PathStep, PatternError> {
        let at = self.here();
        match self.next().map(|t| t.tok) {
            Some(Tok::Word(w)) if !is_keyword(&w) => Ok(PathStep::Key(w)),
            Some(Tok::Str(s)) => Ok(PathStep::QuotedKey(s)),
            _ => Err(PatternError::new(at, "expected a property name")),
        }
    }

    fn set(&mut self) -> Result<Literal, PatternError> {
        self.expect(&Tok::LParen, "'(' after IN")?;
        let mut items = vec![self.literal()?];
        while matches!(
            self.peek(),
            Some(Token {
                tok: Tok::Comma,
                ..
            })
        ) {
            self.pos += 1;
            items.push(self.literal()?);
        }
        self.expect(&Tok::RParen, "')'")?;
        Ok(Literal::Set(items))
    }

    fn literal(&mut self) -> Result<Literal, PatternError> {
        let at = self.here();
        Ok(match self.next().map(|t| t.tok) {
            Some(Tok::Str(s)) => Literal::String(s),
            Some(Tok::Int(n)) => Literal::Int(n),
            Some(Tok::Float(f)) => Literal::Float(f),
            Some(Tok::Word(w)) if w == "true" => Literal::Bool(true),
            Some(Tok::Word(w)) if w == "false" => Literal::Bool(false),
            Some(Tok::Prefixed('b', s)) => Literal::Binary(s),
            Some(Tok::Prefixed('h', s)) => {
                if s.len() % 2 != 0 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(PatternError::new(at, "invalid hex literal"));
                }
                Literal::Hex(s)
            }
            Some(Tok::Prefixed(_, s)) => Literal::Timestamp(s),
            _ => return Err(PatternError::new(at, "expected a literal")),
        })
    }
}

fn is_keyword(w: &str) -> bool {
    matches!(
        w,
        "AND"
            | "OR"
            | "NOT"
            | "FOLLOWEDBY"
            | "LIKE"
            | "MATCHES"
            | "ISSUBSET"
            | "ISSUPERSET"
            | "IN"
            | "EXISTS"
            | "WITHIN"
            | "SECONDS"
            | "REPEATS"
            | "TIMES"
            | "START"
            | "STOP"
    )
}

fn binary(op: ObservationOp, left: Pattern, right: Pattern) -> Pattern {
    Pattern::Binary {
        op,
        left: Box::new(left),
        right: Box::new(right),
    }
}

// ---------------------------------------------------------------- display

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Observation(c) => write!(f, "[{c}]"),
            Self::Binary { op, left, right } => {
                let op = match op {
                    ObservationOp::And => "AND",
                    ObservationOp::Or => "OR",
                    ObservationOp::FollowedBy => "FOLLOWEDBY",
                };
                write!(f, "({left} {op} {right})")
            }
            Self::Qualified { inner, qualifier } => match qualifier {
                Qualifier::Within(n) => write!(f, "{inner} WITHIN {n} SECONDS"),
                Qualifier::Repeats(n) => write!(f, "{inner} REPEATS {n} TIMES"),
                Qualifier::StartStop(a, b) => {
                    write!(f, "{inner} START t{} STOP t{}", quote(a), quote(b))
                }
            },
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::And(a, b) => write!(f, "({a} AND {b})"),
            Self::Or(a, b) => write!(f, "({a} OR {b})"),
            Self::Test(t) => write!(f, "{t}"),
        }
    }
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let not = if self.negated { "NOT " } else { "" };
        match &self.value {
            None => write!(f, "{not}EXISTS {}", self.path),
            Some(v) => write!(f, "{} {not}{} {v}", self.path, self.op.as_str()),
        }
    }
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.object_type)?;
        for (i, step) in self.steps.iter().enumerate() {
            let dot = if i == 0 { "" } else { "." };
            match step {
                PathStep::Key(k) => write!(f, "{dot}{k}")?,
                PathStep::QuotedKey(k) => write!(f, "{dot}{}", quote(k))?,
                PathStep::Index(None) => write!(f, "[*]")?,
                PathStep::Index(Some(n)) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(s) => write!(f, "{}", quote(s)),
            Self::Int(n) => write!(f, "{n}"),
            Self::Float(x) => write!(f, "{x}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Binary(s) => write!(f, "b64{}", quote(s)),
            Self::Hex(s) => write!(f, "h{}", quote(s)),
            Self::Timestamp(s) => write!(f, "t{}", quote(s)),
            Self::Set(items) => {
                write!(f, "(")?;
                for (i, l) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{l}")?;
                }
                write!(f, ")")
            }
        }
    }
}

// ---------------------------------------------------------------- reduction

/// The indicators a pattern names.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reduction {
    /// Distinct indicators from equality (and `IN`) tests on known paths.
    pub indicators: Vec<Indicator>,
    /// Whether the pattern is exactly "any of these indicators": false when
    /// it holds anything else (`AND`, `LIKE`, `MATCHES`, `!=`, qualifiers,
    /// unknown paths, values that are not valid indicators); the caller then
    /// keeps the pattern verbatim.
    pub complete: bool,
}

/// Reduce a pattern to rexist indicators.
pub fn indicators(pattern: &Pattern) -> Reduction {
    let mut r = Reduction {
        indicators: Vec::new(),
        complete: true,
    };
    walk_pattern(pattern, &mut r);
    r
}

fn walk_pattern(p: &Pattern, r: &mut Reduction) {
    match p {
        Pattern::Observation(c) => walk_cmp(c, r),
        Pattern::Binary { op, left, right } => {
            if *op != ObservationOp::Or {
                r.complete = false;
            }
            walk_pattern(left, r);
            walk_pattern(right, r);
        }
        Pattern::Qualified { inner, .. } => {
            r.complete = false;
            walk_pattern(inner, r);
        }
    }
}

fn walk_cmp(c: &Comparison, r: &mut Reduction) {
    match c {
        Comparison::And(a, b) => {
            r.complete = false;
            walk_cmp(a, r);
            walk_cmp(b, r);
        }
        Comparison::Or(a, b) => {
            walk_cmp(a, r);
            walk_cmp(b, r);
        }
        Comparison::Test(t) => {
            let values: Vec<&Literal> = match (&t.op, &t.value) {
                (Operator::Eq, Some(v)) if !t.negated => vec![v],
                (Operator::In, Some(Literal::Set(items))) if !t.negated => items.iter().collect(),
                _ => {
                    r.complete = false;
                    return;
                }
            };
            for v in values {
                match indicator_of(&t.path, v) {
                    Some(i) => {
                        if !r.indicators.contains(&i) {
                            r.indicators.push(i);
                        }
                    }
                    None => r.complete = false,
                }
            }
        }
    }
}

/// The indicator type a path holds, if rexist models it.
fn kind_of(path: &ObjectPath) -> Option<IndicatorType> {
    let keys: Option<Vec<&str>> = path.steps.iter().map(PathStep::key).collect();
    let keys = keys?;
    let t = path.object_type.as_str();
    Some(match (t, keys.as_slice()) {
        ("ipv4-addr", ["value"]) | ("network-traffic", ["src_ref" | "dst_ref", "value"]) => {
            IndicatorType::Ipv4
        }
        ("ipv6-addr", ["value"]) => IndicatorType::Ipv6,
        ("domain-name", ["value"]) => IndicatorType::Domain,
        ("url", ["value"]) => IndicatorType::Url,
        ("email-addr", ["value"]) | ("email-message", ["from_ref" | "sender_ref", "value"]) => {
            IndicatorType::Email
        }
        ("autonomous-system", ["number"]) => IndicatorType::Asn,
        ("file" | "artifact", ["hashes", alg]) => hash_kind(alg)?,
        _ => return None,
    })
}

/// `MD5`, `SHA-1`, `sha256`, … to the digest type.
pub(crate) fn hash_kind(alg: &str) -> Option<IndicatorType> {
    let norm: String = alg
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .collect::<String>()
        .to_ascii_uppercase();
    match norm.as_str() {
        "MD5" => Some(IndicatorType::Md5),
        "SHA1" => Some(IndicatorType::Sha1),
        "SHA256" => Some(IndicatorType::Sha256),
        "SHA512" => Some(IndicatorType::Sha512),
        _ => None,
    }
}

fn indicator_of(path: &ObjectPath, value: &Literal) -> Option<Indicator> {
    let mut kind = kind_of(path)?;
    let raw = match value {
        Literal::String(s) => s.clone(),
        Literal::Int(n) if kind == IndicatorType::Asn => format!("AS{n}"),
        _ => return None,
    };
    if raw.contains('/') && matches!(kind, IndicatorType::Ipv4 | IndicatorType::Ipv6) {
        kind = IndicatorType::Cidr;
    } else if path.object_type == "network-traffic" && raw.contains(':') {
        kind = IndicatorType::Ipv6;
    }
    Indicator::parse(kind, &raw).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reduce(p: &str) -> Reduction {
        indicators(&parse_pattern(p).expect("valid pattern"))
    }

    #[test]
    fn parses_the_grammar() {
        for p in [
            "[file:hashes.'SHA-256' = 'aa' OR file:hashes.MD5 = 'bb']",
            "[a:b = 1] AND [c:d != 2.5] FOLLOWEDBY ([e:f < t'2020-01-01T00:00:00Z'] OR [g:h >= -3])",
            "[network-traffic:dst_ref.value IN ('1.2.3.4', '5.6.7.8')] WITHIN 300 SECONDS",
            "[x:y MATCHES '^a\\'b\\\\c$'] REPEATS 5 TIMES START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'",
            "[email-message:body_multipart[*].body_raw_ref.name NOT LIKE 'x%']",
            "[(a:b = true AND NOT EXISTS a:c) OR a:d ISSUBSET '10.0.0.0/8']",
            "[artifact:payload_bin = b64'AAAA' AND artifact:x = h'ff00']",
            "[x509-certificate:hashes.'SHA-1' = 'ab' AND x:list[0] = 1]",
        ] {
            let parsed = parse_pattern(p).unwrap_or_else(|e| panic!("{p}: {e}"));
            let again = parse_pattern(&parsed.to_string()).expect("display parses");
            assert_eq!(parsed, again, "{p}");
        }
    }

    #[test]
    fn rejects_with_position() {
        for (p, at) in [
            ("", 0),
            ("[a:b = ]", 7),
            ("[a:b = 'x'", 10),
            ("[a:b = 'x] AND", 7),
            ("[a:b LIKE 1]", 5),
            ("[a:b = 1] WITHIN SECONDS", 17),
            ("[a:b = h'f']", 7),
            ("[a:b = 1] [c:d = 2]", 10),
        ] {
            let e = parse_pattern(p).expect_err(p);
            assert_eq!(e.position, at, "{p}: {e}");
        }
        let deep = format!("{}[a:b = 1]{}", "(".repeat(500), ")".repeat(500));
        assert!(parse_pattern(&deep).is_err());
    }

    #[test]
    fn reduces_known_paths() {
        let r = reduce(
            "[file:hashes.'SHA-256' = 'CC7D152477763001037B08490031749B6FC500932089BCC58F4128C0E05484D9' OR file:hashes.md5 = 'fcd4219244279ec49932bbd8e7702911' OR ipv4-addr:value = '10.0.0.0/8' OR autonomous-system:number = 15169 OR email-message:from_ref.value = 'a@example.com' OR network-traffic:dst_ref.value = '198.51.100.1']",
        );
        assert!(r.complete);
        let kinds: Vec<_> = r.indicators.iter().map(Indicator::kind).collect();
        assert_eq!(
            kinds,
            [
                IndicatorType::Sha256,
                IndicatorType::Md5,
                IndicatorType::Cidr,
                IndicatorType::Asn,
                IndicatorType::Email,
                IndicatorType::Ipv4
            ]
        );
        let r =
            reduce("[domain-name:value = 'evil.example' AND email-message:subject MATCHES 'x']");
        assert!(!r.complete);
        assert_eq!(r.indicators.len(), 1);
        assert!(!reduce("[ipv4-addr:value != '1.2.3.4']").complete);
        assert!(!reduce("[file:name = 'x.exe']").complete);
        assert!(!reduce("[url:value = 'http://a.example/'] WITHIN 5 SECONDS").complete);
        let r = reduce("[url:value IN ('http://a.example/x', 'http://b.example/y')]");
        assert!(r.complete);
        assert_eq!(r.indicators.len(), 2);
    }
}
