//! Indicator-of-compromise (IOC) extraction for rexist: text in, matches out.
//!
//! Every article, post, MISP comment and report rexist ingests passes through
//! [`extract`], which finds IPv4 and IPv6 addresses, CIDR networks, domains, URLs, e-mail
//! addresses, MD5/SHA-1/SHA-256/SHA-512 digests, CVE ids, AS numbers and bitcoin
//! addresses, defanged or not, and returns each with its canonical refanged value, its
//! byte offsets in the original text and whether it was defanged. [`refang`] and
//! [`defang`] rewrite the indicators of a text in place; [`canonicalize`] validates one
//! value of a known type; [`write_jsonl`] prints matches as the JSON lines the CLI emits.
//! The crate does no I/O and holds no state.
//!
//! # Design
//!
//! One hand-written pass over the bytes (see `scan.rs`). Cheap byte classes skip text
//! that cannot start an indicator; at each word the byte after it decides what to try (a
//! scheme separator, a dot or at form, a colon, or nothing), and each candidate is then
//! validated on its own: real TLD, octet ranges, RFC 5952 form, checksums of bitcoin
//! addresses, lengths and case of digests. There is no regular expression and no
//! allocation unless a candidate is found, which is what keeps it well above 100 MB/s.
//!
//! Defanging (`evil[.]com`, `hxxps[:]//`, `a[at]b(dot)org`, `http:// host .com /p`, `．`)
//! is recognised per candidate, in the separators between labels and after the scheme,
//! never by refanging the whole text first: offsets stay true to the original, brackets
//! in prose stay prose, and a defang is accepted only where an indicator really is.
//!
//! # What it refuses
//!
//! Precision matters as much as recall: analysts read every match. So it reports
//! nothing for file names, also when the extension is a TLD (`invoice.zip`, `bot.py`),
//! code identifiers (`System.Net`, `com.android.x`, `user.name`), product names
//! (`ASP.NET`), version numbers and OIDs (`firmware 1.0.4.128`, `1.3.6.1.2.1`), clock
//! times and MAC addresses, GUIDs, git commits, transaction ids, imphash and JA3 values,
//! `name@localhost`, `git@host:repo`, npm `@scope/pkg@1.2.3`, CSS `@media` and prose
//! "at". Context words decide where syntax cannot (see `context.rs`). Only the outermost
//! indicator is reported: a URL's host or an e-mail's domain is not repeated on its own.
//!
//! Start with [`extract`] and [`Match`].

mod canon;
mod context;
mod fang;
mod jsonl;
mod scan;
mod tld;
mod token;
mod types;

pub use canon::canonicalize;
pub use fang::{defang, refang};
pub use jsonl::write_jsonl;
pub use types::{IocType, Match};

/// Finds the indicators in `text`, in order of `start`.
///
/// Values are canonical and refanged (see [`canonicalize`]); offsets are byte offsets
/// into `text` on character boundaries, covering the written form. Never panics, and
/// runs in time linear in `text.len()`.
///
/// ```
/// use rexist_extract::{extract, IocType};
///
/// let text = "C2 hxxps://evil[.]com/gate.php, fallback 193.42.33[.]7; see CVE-2024-3400";
/// let ms = extract(text);
/// assert_eq!(ms[0].kind, IocType::Url);
/// assert_eq!(ms[0].value, "https://evil.com/gate.php");
/// assert_eq!(&text[ms[0].start..ms[0].end], "hxxps://evil[.]com/gate.php");
/// assert!(ms[0].defanged);
/// assert_eq!(ms[1].value, "193.42.33.7");
/// assert_eq!(ms[2].value, "CVE-2024-3400");
/// ```
pub fn extract(text: &str) -> Vec<Match> {
    scan::Scanner::new(text).run()
}

#[cfg(test)]
mod tests;
