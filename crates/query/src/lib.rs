//! Hunt query language for rexist: parse → AST → a matcher evaluating many hunts at once.
//!
//! No I/O, no async.
//!
//! # Grammar
//!
//! ```text
//! query  = or
//! or     = and { ("," | "，") and }           (* comma: OR, binds loosest *)
//! and    = unary { WS unary }                 (* whitespace: AND *)
//! unary  = [ "-" ] atom                       (* "-": exclusion (NOT) *)
//! atom   = "(" or ")"
//!        | '"' chars '"'                      (* phrase; full-width ＂ also accepted *)
//!        | "/" regex "/"                      (* "\/" inside for a slash *)
//!        | field ":" ( value | '"' chars '"' )
//!        | word                               (* up to whitespace , " ( ) *)
//! field  = "kind" | "source" | "tag" | "lang" | "tlp"   (* case-insensitive *)
//! ```
//!
//! `ransomware lockbit, "blackcat" -test` is
//! `(ransomware AND lockbit) OR ("blackcat" AND NOT test)`.
//!
//! A `name:value` word is a field filter when `name` is ASCII letters and `value` does not
//! start with `/` or `:` (so `http://x` and `fe80::1` stay plain terms); any other `name`
//! is an error (`unknown field`). An unparsable query yields a [`ParseError`] with the byte
//! offset of the problem. Queries are capped at [`MAX_QUERY_LEN`] bytes, regexes at
//! [`MAX_REGEX_LEN`] bytes and a compiled size limit, parentheses at 32 levels.
//!
//! # Matching
//!
//! - Terms, phrases, field values and item text are normalised by [`normalize`]: NFKC, then
//!   Unicode lowercase, whitespace runs collapsed to one space. `ＬｏｃｋＢｉｔ` matches
//!   `lockbit`. Offsets (and regex matches) are into this normalised text.
//! - Word boundaries: at each end of a term whose end character is a non-CJK letter, digit
//!   or `_`, the neighbouring text character must not be one. So `apt` does not match
//!   `capture`; `log4j` matches `log4j-core` and `log4j:` but not `log4jx`; `evil.com`
//!   matches in `www.evil.com/x` (the `.` before `evil` is a boundary) but not in
//!   `notevil.com`. Terms are substrings with boundary checks only at their two ends, so
//!   punctuation inside a term matches literally. CJK ends (Han, kana, Hangul) are not
//!   checked: `脆弱性` matches inside `…の脆弱性を悪用…`, and Latin terms match next to CJK
//!   (`lockbitによる`).
//! - Phrases match their normalised words separated by any whitespace in the text.
//! - `/regex/` runs case-insensitively (regex crate) on the normalised title and body; its
//!   source is NFKC-normalised too (not lowercased, so `\W`, `\D` keep their meaning).
//! - Field filters compare normalised values for equality: `kind:` item kind, `source:`
//!   source name, `tag:` any tag, `lang:` language (never matches an item without one),
//!   `tlp:X` items whose TLP *equals* X (not "at most X"; `tlp:amber` and `tlp:tlp:amber`
//!   are the same; `amber+strict` is a distinct value).
//! - Title and body are scanned together, separated by a newline (a phrase does not span
//!   them).
//! - An exclusion-only query such as `-test` matches every item without `test`.
//!
//! # Example
//!
//! ```
//! use rexist_query::{parse, test, Doc, HuntSet};
//!
//! let q = parse(r#"ransomware lockbit, "blackcat" -test"#).unwrap();
//! assert_eq!(test(&q, "LockBit ransomware strikes"), Some(vec!["ransomware".into(), "lockbit".into()]));
//! assert_eq!(test(&q, "blackcat test build"), None);
//!
//! let set = HuntSet::new([(1, q), (2, parse("脆弱性 tag:jvn").unwrap())]);
//! let tags = ["JVN".to_owned()];
//! let doc = Doc { title: "製品の脆弱性", body: "", kind: "advisory", source: "jvn",
//!                 tags: &tags, lang: Some("ja"), tlp: "clear" };
//! let hits = set.matches(&doc);
//! assert_eq!(hits.len(), 1);
//! assert_eq!(hits[0].hunt, 2);
//! ```

mod ast;
mod error;
mod matcher;
mod normalize;
mod parse;
#[cfg(test)]
mod proptests;

pub use ast::Query;
pub use error::ParseError;
pub use matcher::{Doc, Hit, HuntSet, test};
pub use normalize::normalize;
pub use parse::{MAX_QUERY_LEN, MAX_REGEX_LEN, parse};
