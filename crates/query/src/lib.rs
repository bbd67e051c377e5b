//! Hunt query language for rexist: parse → AST → a matcher evaluating many hunts at once;
//! and watchlists, hunts over indicators (our domains, our address ranges).
//!
//! No I/O, no async. Start with [`parse`] and [`HuntSet`], or [`parse_watchlist`] and
//! [`WatchSet`].
//!
//! # Grammar
//!
//! ```text
//! query  = or
//! or     = and { ("," | "，" | "OR") and }    (* comma or the word OR: binds loosest *)
//! and    = unary { WS unary }                 (* whitespace: AND *)
//! unary  = [ "-" ] atom                       (* "-": exclusion (NOT) *)
//! atom   = "(" or ")"
//!        | '"' chars '"'                      (* phrase; full-width ＂ also accepted *)
//!        | "/" regex "/"                      (* "\/" inside for a slash *)
//!        | field ":" ( value | '"' chars '"' )
//!        | word                               (* up to whitespace , " ( ) *)
//! field  = "kind" | "source" | "tag" | "lang" | "tlp" | "entity"   (* case-insensitive *)
//! ```
//!
//! `ransomware lockbit, "blackcat" -test` (or `ransomware lockbit OR "blackcat" -test`)
//! is `(ransomware AND lockbit) OR ("blackcat" AND NOT test)`. `OR` is an operator only
//! in upper case and standing alone (`or`, `ORACLE` and `"OR"` are terms).
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
//!   Prefilter: when every match of a regex must start with one of a few literals
//!   (`/lockbit[0-9]/`, `/(foo|bar)baz/`; not `/\w+ing/`), those literals join the shared
//!   automaton without boundary checks, and the regex runs only on items containing one.
//!   Results are the same as without the prefilter.
//! - Field filters compare normalised values for equality: `kind:` item kind, `source:`
//!   source name, `tag:` any tag, `lang:` language (never matches an item without one),
//!   `tlp:X` items whose TLP *equals* X (not "at most X"; `tlp:amber` and `tlp:tlp:amber`
//!   are the same; `amber+strict` is a distinct value); `entity:"Example Panda"` items
//!   that name the threat entity under any of its names or aliases, compared without case,
//!   spaces, hyphens, underscores or dots (`entity:apt28` is `entity:"APT 28"`).
//! - Title and body are scanned together, separated by a newline (a phrase does not span
//!   them).
//! - An exclusion-only query such as `-test` matches every item without `test`.
//!
//! # Watchlists
//!
//! Hunts over indicators instead of text: [`parse_watchlist`] reads a list of entries,
//! [`WatchSet`] compiles many lists and tells, for one indicator (type and canonical
//! value, as [`rexist_core::Indicator`] holds them), which watches it falls under.
//!
//! ```text
//! # our estate                        # comment: at the start of an entry or after white space
//! example.com, *.example.co.jp        # bare domain: the domain and its sub-domains
//! 192.0.2.0/24                        # bare network; 2001:db8::/48 too
//! 198.51.100.7                        # bare IP: that address only
//! AS64500                             # bare AS number
//! hxxps://evil[.]example/x            # defanged input is accepted
//! domain:example.net, cidr:10.0.0.0/8, asn:64501, ip:2001:db8::1   # prefixed forms
//! url:/\/wp-login\.php/               # URL regex, case-insensitive; `\/` for a slash
//! url:https://example.com/login       # exact URL
//! email:bob@example.com, cve:CVE-2024-3094   # exact values: also sha256:, md5:, btc:…
//! early-warning:cve                   # a CVE discussed before NVD, JVN or KEV has it
//! early-warning:social                # … discussed on social media (also news, exchange)
//! ```
//!
//! Entries are separated by newlines or commas (a `url:/regex/` may contain both `,` and
//! `#`; an exact URL cannot contain a comma); blanks are skipped. A type prefix is any
//! [`IndicatorType`](rexist_core::IndicatorType) name or alias, plus `ip:`. A bare entry
//! has its type detected; one that is no indicator is an error. Errors carry the byte
//! offset of the bad entry. Entries print (`Display`) in a canonical form that parses back
//! to the same entry: `domain:example.co.jp`, `cidr:192.0.2.0/24`, `asn:AS64500`,
//! `ipv4:192.0.2.1`, `url:/…/`, `sha256:…`.
//!
//! Matching, per entry:
//! - exact value: the same type and canonical value.
//! - network: an `ipv4`/`ipv6` inside it; a `cidr` lying inside it (`192.0.2.128/25` is in
//!   `192.0.2.0/24`, `192.0.0.0/16` is not); a URL whose host is such an address. A network
//!   written with host bits set is taken as its network (`192.0.2.7/24` is `192.0.2.0/24`).
//!   A bare IP matches only that IP indicator; list it as `cidr:…/32` to catch URLs too.
//! - domain: a domain equal to it or ending in `.` + it (`example.com` catches
//!   `www.example.com`, not `notexample.com`), the host of a URL, the domain of an e-mail
//!   address. Domains are compared in canonical form (lower-case, punycode).
//! - AS number: the same `asn` indicator.
//! - URL regex: a `url` indicator it matches, case-insensitively.
//! - early warning: not a value but a condition on what the store holds — a CVE sighted by
//!   a social, news or exchange source (`early-warning:cve`; `early-warning:social`,
//!   `:news`, `:exchange` for one class) while no NVD, JVN or KEV source has reported it.
//!   [`WatchSet::matches`] never reports it; [`WatchSet::early_warnings`] says which
//!   watches ask for it, and the hunter (`rexist-pipeline`) checks the store.
//!
//! A hit lists, in [`Hit::terms`], the canonical text of each entry that matched.
//! Matching costs hash look-ups (one per CIDR prefix length in use, one per host label)
//! and one regex-set run per URL, however many watches there are.
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
//!                 tags: &tags, lang: Some("ja"), tlp: "clear", entities: &[] };
//! let hits = set.matches(&doc);
//! assert_eq!(hits.len(), 1);
//! assert_eq!(hits[0].hunt, 2);
//!
//! use rexist_core::IndicatorType;
//! use rexist_query::{WatchSet, parse_watchlist};
//!
//! let ours = parse_watchlist("example.com, 192.0.2.0/24 # lab").unwrap();
//! let watches = WatchSet::new([(7, ours)]);
//! let hits = watches.matches(IndicatorType::Url, "https://vpn.example.com/login");
//! assert_eq!(hits[0].hunt, 7);
//! assert_eq!(hits[0].terms, ["domain:example.com"]);
//! assert!(watches.matches(IndicatorType::Domain, "notexample.com").is_empty());
//! ```

mod ast;
mod error;
mod matcher;
mod normalize;
mod parse;
mod prefilter;
#[cfg(test)]
mod proptests;
mod watch;

pub use ast::Query;
pub use error::ParseError;
pub use matcher::{Doc, Hit, HuntSet, test};
pub use normalize::normalize;
pub use parse::{MAX_QUERY_LEN, MAX_REGEX_LEN, parse};
pub use watch::{EARLY_WARNING, MAX_WATCHLIST_LEN, Network, WatchEntry, WatchSet, parse_watchlist};
