//! The parsed form of a query.

use std::fmt;

/// Item metadata a field filter compares against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Kind,
    Source,
    Tag,
    Lang,
    Tlp,
    Entity,
}

impl Field {
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "kind" => Some(Self::Kind),
            "source" => Some(Self::Source),
            "tag" => Some(Self::Tag),
            "lang" => Some(Self::Lang),
            "tlp" => Some(Self::Tlp),
            "entity" => Some(Self::Entity),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Kind => "kind",
            Self::Source => "source",
            Self::Tag => "tag",
            Self::Lang => "lang",
            Self::Tlp => "tlp",
            Self::Entity => "entity",
        }
    }
}

/// A literal term, already normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Term {
    pub(crate) text: String,
    pub(crate) phrase: bool,
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.phrase {
            write!(f, "\"{}\"", self.text)
        } else {
            f.write_str(&self.text)
        }
    }
}

/// Boolean tree of a query.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Term(Term),
    /// Field and its normalised value.
    Field(Field, String),
    /// Compiled case-insensitive regex and its source.
    Regex(Box<regex::Regex>),
}

/// A parsed hunt query; build one with [`parse`](crate::parse).
///
/// `Display` prints a canonical, fully parenthesised form with normalised terms,
/// e.g. `ransomware lockbit, "blackcat" -test` prints as
/// `(ransomware AND lockbit) OR ("blackcat" AND NOT test)`.
#[derive(Debug, Clone)]
pub struct Query {
    pub(crate) expr: Expr,
}

impl Query {
    /// The literal words and phrases the query looks for (not those it
    /// excludes), normalised, phrases in double quotes, in query order without
    /// repeats: what a search API should be asked for so that what the hunt
    /// watches for is collected.
    pub fn terms(&self) -> Vec<String> {
        fn walk(e: &Expr, out: &mut Vec<String>) {
            match e {
                Expr::Or(xs) | Expr::And(xs) => xs.iter().for_each(|x| walk(x, out)),
                Expr::Term(t) => {
                    let text = t.to_string();
                    if !out.contains(&text) {
                        out.push(text);
                    }
                }
                Expr::Not(_) | Expr::Field(..) | Expr::Regex(_) => {}
            }
        }
        let mut out = Vec::new();
        walk(&self.expr, &mut out);
        out
    }

    /// The threat entities the query follows (`entity:` values outside
    /// exclusions), normalised, in query order without repeats.
    pub fn entities(&self) -> Vec<String> {
        fn walk(e: &Expr, out: &mut Vec<String>) {
            match e {
                Expr::Or(xs) | Expr::And(xs) => xs.iter().for_each(|x| walk(x, out)),
                Expr::Field(Field::Entity, v) if !out.contains(v) => out.push(v.clone()),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(&self.expr, &mut out);
        out
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_expr(f, &self.expr, true)
    }
}

fn write_expr(f: &mut fmt::Formatter<'_>, e: &Expr, top: bool) -> fmt::Result {
    match e {
        Expr::Or(xs) | Expr::And(xs) => {
            let sep = if matches!(e, Expr::Or(_)) {
                " OR "
            } else {
                " AND "
            };
            if !top {
                f.write_str("(")?;
            }
            for (i, x) in xs.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                write_expr(f, x, false)?;
            }
            if !top {
                f.write_str(")")?;
            }
            Ok(())
        }
        Expr::Not(x) => {
            f.write_str("NOT ")?;
            write_expr(f, x, false)
        }
        Expr::Term(t) => write!(f, "{t}"),
        Expr::Field(field, v) => write!(f, "{}:{v}", field.name()),
        Expr::Regex(r) => write!(f, "/{}/", r.as_str()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn terms_are_the_positive_words_and_phrases() {
        let q = crate::parse(
            r#"LockBit ransomware, "Black Basta" -test source:jvn /cve-\d+/, lockbit"#,
        )
        .unwrap();
        assert_eq!(q.terms(), ["lockbit", "ransomware", "\"black basta\""]);
        assert!(crate::parse("-only").unwrap().terms().is_empty());
    }
}
