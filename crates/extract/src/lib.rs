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
//! The styles in use are cells of one grammar (brackets of any kind around a dot or at
//! core, escaped dots, prose words; a colon form then a slash form after a scheme),
//! written down in `scan.rs` and tested cell by cell in `src/tests.rs`.
//!
//! Names must end in a public TLD (or one of [`Extractor::with_extra_tlds`]); only
//! [`refang`], which rewrites what a user typed, takes any well-formed TLD after a
//! defang (`intranet[.]local`).
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
mod swar;
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
    Extractor::default().extract(text)
}

/// Extraction with settings: the top-level domains an organisation uses internally
/// (`corp`, `lan`) accepted besides the public ones. [`extract`] is
/// `Extractor::default().extract`.
///
/// ```
/// use rexist_extract::Extractor;
///
/// let text = "beacon to build01.corp and evil.lan";
/// assert!(rexist_extract::extract(text).is_empty());
/// let ex = Extractor::default().with_extra_tlds(["corp"]);
/// let ms = ex.extract(text);
/// assert_eq!(ms.len(), 1);
/// assert_eq!(ms[0].value, "build01.corp");
/// ```
#[derive(Clone, Debug, Default)]
pub struct Extractor {
    /// Extra top-level domains, lower case, without a dot; few, so a linear search.
    extra_tlds: Vec<String>,
    /// Refanging: a defanged name may end in any well-formed TLD (`intranet[.]local`),
    /// since the defang itself says it is a name.
    refang: bool,
}

impl Extractor {
    /// Accepts names under `tlds` too (`"corp"`, `".lan"`, any case). Values that are
    /// not a well-formed TLD (see [`is_tld_label`]) are ignored; configuration
    /// validates them first.
    #[must_use]
    pub fn with_extra_tlds<I, S>(mut self, tlds: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for t in tlds {
            let t = t
                .as_ref()
                .trim()
                .trim_start_matches('.')
                .to_ascii_lowercase();
            if is_tld_label(&t) && !self.extra_tlds.contains(&t) {
                self.extra_tlds.push(t);
            }
        }
        self
    }

    /// The extra top-level domains, lower case.
    pub fn extra_tlds(&self) -> &[String] {
        &self.extra_tlds
    }

    /// Finds the indicators in `text`, as [`extract`] does, with these settings.
    pub fn extract(&self, text: &str) -> Vec<Match> {
        scan::Scanner::new(text, self).run().into_matches()
    }

    /// Finds the indicators in `text` and appends them to `out` as [`write_jsonl`]
    /// does, with `base` added to every offset (`text` being a block of a larger
    /// input). The same lines as `write_jsonl(&self.extract(text), None, out)`
    /// without a `String` per match: this is `rexist extract --jsonl`'s loop.
    pub fn extract_jsonl(&self, text: &str, base: usize, out: &mut Vec<u8>) {
        let found = scan::Scanner::new(text, self).run();
        jsonl::write_hits(&found, base, out);
        found.recycle();
    }

    /// Rewrites the defanged indicators of `text`, as [`refang`] does, with these settings.
    pub fn refang(&self, text: &str) -> String {
        let lenient = Extractor {
            refang: true,
            ..self.clone()
        };
        fang::refang_with(&lenient, text)
    }

    pub(crate) fn is_extra_tld(&self, label: &str) -> bool {
        !self.extra_tlds.is_empty()
            && self
                .extra_tlds
                .iter()
                .any(|t| t.eq_ignore_ascii_case(label))
    }
}

/// Whether `label` is a well-formed top-level domain for `[extract] extra_tlds`: 2–63
/// ASCII letters (`corp`, `lan`, `internal`) or a punycode label, an optional leading
/// dot aside.
pub fn is_tld_label(label: &str) -> bool {
    canon::tld_shaped(label.strip_prefix('.').unwrap_or(label))
}

#[cfg(test)]
mod tests;
