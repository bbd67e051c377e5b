//! The single-pass scanner.
//!
//! The text is walked once. Bytes that cannot begin an indicator (spaces, most
//! punctuation) are skipped with one table look-up each. At the start of each word — a
//! run of label characters (`[A-Za-z0-9_-]` and non-ASCII letters) — the byte right
//! after the run decides what to try:
//!
//! * `:` `[` `(` `{` `+` `__` after a scheme-like word: a URL with an explicit scheme,
//!   defanged or not (`hxxps[:]//`, `https[://]`, `http:\\`, `http__`, Cisco ESA);
//! * a dot form (`.`, `[.]`, `(dot)`, `\.`, ` [.] `, `．`, …) or an at form (`@`, `[at]`,
//!   …): a host, scanned label by label; it becomes an e-mail address, an IPv4 address,
//!   a CIDR, a scheme-less URL or a domain, or nothing;
//! * `:` after up to four hex digits: an IPv6 address;
//! * otherwise the word itself: hash, bitcoin address, CVE id, AS number.
//!
//! Defanging is recognised per candidate, in the separators between labels and after the
//! scheme, never by rewriting the text first: offsets stay those of the original text,
//! prose brackets are never mistaken for defangs, and one pass suffices.
//!
//! # The defang grammar
//!
//! The field's conventions (ioc-fanger's and iocextract's pattern lists, ioc-finder's
//! grammar, `CyberChef`'s "Defang URL") are cells of one grammar, so each is recognised
//! by the same few rules rather than by a list of spellings:
//!
//! ```text
//! dot-sep   = "." | "．" | esc+ "." | " "{1,3} esc "." " "{0,3}            \.  ^.  \\\\.
//!           | side core side                          [.] (.) {.} <.> [.[ ].] [[.]] \(.\)
//!           | " "{1,3} side core side " "{0,3}        ` [.] `, ` ( dot ) `
//!           | " "{1,3} ("dot" | "DOT") " "{1,3}       prose: needs a name-like label and a usual TLD
//!           | core-word side                          glued: fooDOT]com, foopunto)com
//!           | "-dot-" | "DOT"                         inside a word: foo-dot-com, fooDOTcom (not MDOT)
//! at-sep    = "@" | "＠" | side at-core side | " "{1,3} side at-core side " "{0,3}
//!           | " "{0,3} "@" " "{0,3} | " "{1,3} ("at" | "AT") " "{1,3}   prose: needs evidence
//!           | at-word side                            glued: fooat]bar.com
//! side      = up to 8 bytes of brackets [](){}<>, backslashes and spaces
//! core      = "." | "," | "dot" | "punto" | "punkt"    (any case)
//! at-core   = "@" | "at" | "arroba" | "et"             (any case)
//! scheme    = word | "[" word "]" | word "]"           hxxp hXXps fxp ftx xxxx xxxxx
//! sep       = colon slashes | "[://]" | "(://)" | "{://}"
//! colon     = ":" | "[:]" | "(:)" | "{:}" | "：" | " :" | ""     (the last two: web schemes)
//! slashes   = "/"{2,} | "\/\/" | "\\" | "\" | "__" | "/" (after a bracketed colon)
//! path-sep  = "/" | "[/]" | "(/)" | "{/}" | "／" | "\/"
//! ```
//!
//! Words and spaces inside brackets need brackets on both sides; a lone symbol may
//! stand with a half bracket that opens before it or closes after it (`evil[.com`).
//! Prose forms need evidence: ` at ` joins an address only before a domain spelled with
//! ` dot ` or a bracketed word, and not after a prose word ("look at"); ` AT ` only after
//! a local part that is not itself upper case. A defang never lifts the public-TLD rule
//! in extraction; [`crate::refang`] takes any well-formed TLD after a tight defang
//! (`intranet[.]local`), since a typed value is a name by intent.
//!
//! Every attempt either emits and jumps past what it consumed, or jumps past the whole
//! run it inspected; look-ahead windows that are not consumed (IPv6, context words) are
//! bounded by a constant. So the scan is linear in the input, also on adversarial
//! input like a megabyte of `a.a.a.…`.

use std::borrow::Cow;
use std::net::Ipv6Addr;

use crate::canon;
use crate::context::{
    self, AND_OR, AT_PROSE, CODE_RECEIVERS, FILE_AFTER, FILE_BEFORE, FILE_EXT_TLDS, FILE_EXTS,
    HASH_NAMES, NOT_DOMAINS, NOT_FILE_HASH, PACKAGE_ROOTS, VERSION_AFTER, VERSION_BETWEEN,
    VERSION_CUES, WORD_DOT_STOP, WORD_DOT_TLDS,
};
use crate::swar;
use crate::tld;
use crate::token;
use crate::{Extractor, IocType, Match};

// ---------------------------------------------------------------- byte classes

const DIGIT: u8 = 1;
const HEX: u8 = 2;
const ALPHA: u8 = 4;
const LABEL: u8 = 8;
const HYPHEN: u8 = 16;
const START: u8 = 32;
const URL: u8 = 64;
const UPPER: u8 = 128;

#[allow(clippy::cast_possible_truncation)] // i < 256
const fn build_classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let mut k = 0;
        if c.is_ascii_digit() {
            k |= DIGIT | HEX | LABEL | START;
        }
        if c.is_ascii_alphabetic() {
            k |= ALPHA | LABEL | START;
        }
        if c.is_ascii_uppercase() {
            k |= UPPER;
        }
        if matches!(c, b'a'..=b'f' | b'A'..=b'F') {
            k |= HEX;
        }
        if c == b'-' {
            k |= LABEL | HYPHEN;
        }
        if c == b'_' {
            k |= LABEL | START;
        }
        // `:` may begin `::1`; bytes >= 0xC0 begin non-ASCII characters
        if c == b':' || c >= 0xC0 {
            k |= START;
        }
        // characters a URL path may hold unescaped in running text
        if c >= 0x21
            && c <= 0x7e
            && !matches!(
                c,
                b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}' | b'\''
            )
        {
            k |= URL;
        }
        t[i] = k;
        i += 1;
    }
    t
}

static CLASS: [u8; 256] = build_classes();

fn class(c: u8) -> u8 {
    CLASS[usize::from(c)]
}

/// How a character takes part in host labels.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum UClass {
    /// Not part of a label: space, punctuation, symbols, emoji.
    None,
    /// ASCII label characters and letters of alphabetic scripts (Cyrillic, Greek, Latin).
    Narrow,
    /// CJK ideographs, kana, hangul, full-width forms. A label never mixes these with
    /// ASCII: `example.comへ通信` ends at `m`, `通信example.com` starts at `e`.
    Wide,
}

fn uclass(c: char) -> UClass {
    let cp = u32::from(c);
    if cp < 0x80 {
        return if class(cp.to_le_bytes()[0]) & LABEL != 0 {
            UClass::Narrow
        } else {
            UClass::None
        };
    }
    if cp == 0x30fb {
        return UClass::None; // katakana middle dot: punctuation
    }
    if (0x3040..=0x30ff).contains(&cp)
        || (0x3400..=0x9fff).contains(&cp)
        || (0xac00..=0xd7af).contains(&cp)
    {
        return UClass::Wide;
    }
    if c.is_alphanumeric() {
        return if cp >= 0x2e80 {
            UClass::Wide
        } else {
            UClass::Narrow
        };
    }
    // combining marks that live inside words of many scripts (IDN labels need them)
    if (0x0300..=0x036f).contains(&cp)
        || (0x0483..=0x0489).contains(&cp)
        || (0x0591..=0x05c7).contains(&cp)
        || (0x0610..=0x061a).contains(&cp)
        || (0x064b..=0x065f).contains(&cp)
        || (0x0900..=0x0dff).contains(&cp)
        || (0x0e00..=0x0eff).contains(&cp)
        || (0x1000..=0x109f).contains(&cp)
    {
        return UClass::Narrow;
    }
    UClass::None
}

// ---------------------------------------------------------------- scan state

/// Labels stored per host scan; longer runs are scanned to their end but never a name.
const MAX_LABELS: usize = 128;
/// Longest IPv6 text considered (`ffff:…:255.255.255.255` is 45 bytes).
const MAX_IPV6: usize = 64;

/// A run of label characters.
#[derive(Clone, Copy, Debug)]
struct Run {
    end: usize,
    non_ascii: bool,
    /// Holds a defanged hyphen `[-]`.
    defanged: bool,
}

/// A separator between two host labels.
#[derive(Clone, Copy, Debug)]
struct Sep {
    len: usize,
    defanged: bool,
    /// The prose form ` dot `, which needs extra evidence.
    word: bool,
}

/// An at form between an e-mail address's local part and its domain.
#[derive(Clone, Copy, Debug)]
struct AtForm {
    len: usize,
    defanged: bool,
    /// The prose forms ` at `, ` AT `, ` @ `, which need extra evidence.
    word: bool,
}

/// What a bracketed separator stands for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Core {
    /// `.` `,` `dot` `punto` `punkt`
    Dot,
    /// `@` `at` `arroba` `et`
    At,
}

impl Core {
    /// The length of this core at `q`, and whether it needs brackets on both sides:
    /// words and `,` do (`[dot]`, `(at)`, `[,]`), a lone symbol does not (`evil[.com`).
    fn len_at(self, s: &Scanner<'_>, q: usize) -> Option<(usize, bool)> {
        let (symbols, words): (&[u8], &[&[u8]]) = match self {
            Core::Dot => (b".,", &[b"dot", b"punto", b"punkt"]),
            Core::At => (b"@", &[b"at", b"arroba", b"et"]),
        };
        let c = s.at(q);
        if symbols.contains(&c) {
            return Some((1, c == b','));
        }
        words
            .iter()
            .find(|w| s.starts_ci(q, w) && !s.at(q + w.len()).is_ascii_alphanumeric())
            .map(|w| (w.len(), true))
    }
}

/// Whether `c` is a one-byte core of `core`: `.` `,` or `@`.
fn symbol_core(c: u8, core: Core) -> bool {
    match core {
        Core::Dot => c == b'.' || c == b',',
        Core::At => c == b'@',
    }
}

/// A bracket a defanged separator may be wrapped in.
fn is_bracket(c: u8) -> bool {
    matches!(c, b'[' | b']' | b'(' | b')' | b'{' | b'}' | b'<' | b'>')
}

/// Full-width colon U+FF1A and solidus U+FF0F, as Japanese and Chinese text writes them.
const FW_COLON: &[u8] = "\u{ff1a}".as_bytes();
const FW_SLASH: &[u8] = "\u{ff0f}".as_bytes();

/// How a URL writes its slashes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Slashes {
    Plain,
    /// `http:\\host\path`: backslashes stand for slashes.
    Backslash,
    /// `https:\/\/host\/path`: JSON-escaped slashes.
    Json,
}

/// What a host scan found; the labels themselves are in `Scanner::labels`.
#[allow(clippy::struct_excessive_bools)] // independent facts about one scan, not a state machine
#[derive(Clone, Copy, Debug, Default)]
struct HostScan {
    start: usize,
    /// End of the last label.
    end: usize,
    /// Number of labels (may exceed the stored ones).
    n: usize,
    all_numeric: bool,
    defanged: bool,
    word_dot: bool,
    /// A separator held spaces (` [.] `, `( dot )`): prose-like, so refanging does not
    /// take it for a name under a non-public TLD.
    spaced: bool,
    non_ascii: bool,
}

impl HostScan {
    fn overflow(&self) -> bool {
        self.n > MAX_LABELS
    }
}

/// Whether an ASCII word may begin a token that is not followed by a dot or at form:
/// `CVE …`, `ASN …`, `AS…`.
fn token_prefix(w: &[u8]) -> bool {
    (w.len() >= 2 && w[0] == b'A' && w[1] == b'S')
        || (w.len() >= 3
            && (w[..3].eq_ignore_ascii_case(b"cve")
                || w[..3].eq_ignore_ascii_case(b"asn")
                || (w[..2].eq_ignore_ascii_case(b"as") && w[2].is_ascii_digit())))
}

/// Whether the byte at `j`, after a word, rules out every indicator starting at that word
/// (besides tokens, checked apart): end of text, a line break, a space not followed by a
/// bracketed or spelled-out defang, a sentence dot, closing punctuation.
fn boring_after(b: &[u8], j: usize) -> bool {
    let Some(&next) = b.get(j) else { return true };
    let at = |k: usize| b.get(j + k).copied().unwrap_or(0);
    match next {
        b' ' => boring_after_space(b, j),
        b'.' => !(at(1).is_ascii_alphanumeric() || at(1) >= 0x80 || at(1) == b'_'),
        // `].]`, `).(`, `[http]://`, `fooDOT]com`
        b')' | b']' | b'}' => {
            !(matches!(at(1), b'.' | b':' | b'[' | b']' | b'(' | b')' | b'{' | b'}')
                || at(1).is_ascii_alphanumeric())
        }
        // `http//host`
        b'/' => at(1) != b'/',
        // `<.>`
        b'<' => at(1) != b'.',
        b',' | b';' | b'!' | b'?' | b'"' | b'\'' | b'\n' | b'\r' | b'\t' | b'=' | b'>' | b'|'
        | b'*' | b'&' | b'#' | b'$' | b'~' | b'`' | b'%' => true,
        _ => false,
    }
}

/// [`boring_after`] for the space at `j`: no ` [.] `, ` dot `, ` at `, ` AT `, ` @ `,
/// ` ://` (`http ://`) after up to three spaces. Apart because prose words end in a
/// space far more often than in anything else.
#[inline]
fn boring_after_space(b: &[u8], j: usize) -> bool {
    let at = |k: usize| b.get(j + k).copied().unwrap_or(0);
    // nearly always a letter that begins no defang: one look-up, not the `match` below
    // (a jump table, mispredicted at each word)
    if QUIET_AFTER_SPACE[usize::from(at(1))] {
        return true;
    }
    let mut k = 1;
    while at(k) == b' ' && k < 3 {
        k += 1;
    }
    match at(k) {
        b'[' | b'(' | b'{' | b'<' | b'@' | b':' | b'\\' => false,
        b'd' | b'D' => !(at(k + 1) | 0x20 == b'o' && at(k + 2) | 0x20 == b't' && at(k + 3) == b' '),
        b'a' | b'A' => !(at(k + 1) | 0x20 == b't' && at(k + 2) == b' '),
        _ => true,
    }
}

/// Bytes that, right after a space, settle [`boring_after_space`] as true: all but more
/// spaces and the first bytes of ` [.] `, ` dot `, ` at `, ` @ `, ` ://`, ` \. `.
static QUIET_AFTER_SPACE: [bool; 256] = {
    let mut t = [true; 256];
    let loud = b" [({<@:\\dDaA";
    let mut i = 0;
    while i < loud.len() {
        t[loud[i] as usize] = false;
        i += 1;
    }
    t
};

/// ASCII letters that, right after a space, settle [`boring_after_space`] as true.
#[allow(clippy::cast_possible_truncation)] // i < 256
static QUIET_LETTER: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u8).is_ascii_alphabetic() && QUIET_AFTER_SPACE[i];
        i += 1;
    }
    t
};

/// First bytes of the words [`token_prefix`] may accept: `A`, `a`, `C`, `c`.
static TOKEN_FIRST: [bool; 256] = {
    let mut t = [false; 256];
    t[b'A' as usize] = true;
    t[b'a' as usize] = true;
    t[b'C' as usize] = true;
    t[b'c' as usize] = true;
    t
};

/// Bytes 1 to 8 of a 16-byte window.
fn window8(w: &[u8; 16]) -> &[u8; 8] {
    w[1..].first_chunk::<8>().unwrap_or(&[0; 8])
}

/// A match whose value lies in [`Found::values`]: the scan allocates nothing per match.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hit {
    pub(crate) kind: IocType,
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) defanged: bool,
    /// The value's range in [`Found::values`].
    value: (usize, usize),
}

/// What a scan found: hits in order of `start`, their values in one buffer.
pub(crate) struct Found {
    pub(crate) hits: Vec<Hit>,
    values: String,
}

impl Found {
    /// The canonical value of `hit`.
    pub(crate) fn value(&self, hit: &Hit) -> &str {
        self.values
            .get(hit.value.0..hit.value.1)
            .unwrap_or_default()
    }

    /// The hits as matches, each value its own `String`.
    pub(crate) fn into_matches(self) -> Vec<Match> {
        let matches = self
            .hits
            .iter()
            .map(|h| Match {
                kind: h.kind,
                value: self.value(h).to_owned(),
                start: h.start,
                end: h.end,
                defanged: h.defanged,
            })
            .collect();
        self.recycle();
        matches
    }

    /// Keeps the buffers for the thread's next scan. Blocks of a large input come one
    /// after another: buffers freed and allocated afresh for each cost a page fault per
    /// 4 KiB touched, more than a tenth of the scan.
    pub(crate) fn recycle(self) {
        if self.values.capacity() <= KEEP_VALUES && self.hits.capacity() <= KEEP_HITS {
            SPARE.with(|s| *s.borrow_mut() = Some((self.hits, self.values)));
        }
    }
}

/// Largest value buffer kept between scans: enough for the CLI's 256 KiB blocks, and
/// at most a few hundred KiB per thread (ingest runs on many threads).
const KEEP_VALUES: usize = 256 << 10;
/// Largest hit list kept between scans.
const KEEP_HITS: usize = 8 << 10;

thread_local! {
    /// Buffers of the thread's last scan, cleared, for the next one.
    static SPARE: std::cell::RefCell<Option<(Vec<Hit>, String)>> =
        const { std::cell::RefCell::new(None) };
}

pub(crate) struct Scanner<'a> {
    text: &'a str,
    b: &'a [u8],
    out: Vec<Hit>,
    values: String,
    /// Label spans of the current host scan, reused to avoid an allocation per candidate.
    labels: Vec<(usize, usize)>,
    /// End of the last emitted match: an e-mail local part is never extended over it.
    last_end: usize,
    /// Labels of the current host scan written with `[-]`: (label index, range in
    /// `scratch`) of their refanged text. Empty for nearly every host.
    fixed: Vec<(usize, usize, usize)>,
    scratch: String,
    /// Top-level domains accepted beyond the public ones, and whether refanging.
    opts: &'a Extractor,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(text: &'a str, opts: &'a Extractor) -> Self {
        let (mut out, mut values) = SPARE.with(|s| s.borrow_mut().take()).unwrap_or_default();
        out.clear();
        values.clear();
        // about one match per 150 bytes of threat-intel text, of about 40 bytes of
        // value each: saves regrowing
        out.reserve(text.len() / 256);
        values.reserve(text.len() / 6);
        Scanner {
            text,
            b: text.as_bytes(),
            out,
            values,
            labels: Vec::with_capacity(16),
            last_end: 0,
            fixed: Vec::new(),
            scratch: String::new(),
            opts,
        }
    }

    /// Scans the whole text; matches come out in order of `start`.
    #[allow(clippy::many_single_char_names)] // i, j, n, c, b: the usual names of a byte loop
    pub(crate) fn run(mut self) -> Found {
        let n = self.b.len();
        let mut i = 0;
        while i < n {
            let c = self.b[i];
            if class(c) & START == 0 {
                i += 1;
                continue;
            }
            if c.is_ascii_alphabetic() {
                let p = self.skip_prose(i);
                if p > i {
                    i = p;
                    continue;
                }
            }
            // where the ASCII label bytes from `i` end, once known
            let mut ascii_end = i;
            if class(c) & LABEL != 0 {
                // Inline fast path: an ASCII word followed by a byte that starts nothing
                // (most words of prose) is skipped without the full dispatch.
                let b = self.b;
                let mut j = i + 1;
                // which classes the word holds: a hyphen or a capital may hide a
                // spelled-out dot inside it (`foo-dot-com`, `fooDOTcom`)
                let mut seen = 0;
                while j < n {
                    let k = class(b[j]);
                    if k & LABEL == 0 {
                        break;
                    }
                    seen |= k;
                    j += 1;
                }
                if j - i < 26
                    && !token_prefix(&b[i..j])
                    && boring_after(b, j)
                    && (seen & (HYPHEN | UPPER) == 0
                        || j - i < 5
                        || self.inner_core(i, j).is_none())
                {
                    i = j;
                    continue;
                }
                ascii_end = j;
            }
            let next = if c == b':' {
                self.colon(i)
            } else if c >= 0x80 {
                match self.char_at(i) {
                    Some((ch, len)) if uclass(ch) == UClass::None => i + len,
                    Some(_) => self.word(i),
                    None => i + 1,
                }
            } else {
                self.word_from(i, ascii_end)
            };
            i = next.max(i + 1);
        }
        // e-mail local parts extend leftwards; keep the promised order anyway
        self.out.sort_by_key(|m| m.start);
        Found {
            hits: self.out,
            values: self.values,
        }
    }

    /// The prose fast path, taken at an ASCII letter: skips words of lower-case letters
    /// (a capital may lead) that the general fast path below would skip too, and the
    /// bytes between them that start nothing; returns where scanning resumes (`i` when
    /// the word at `i` needs the general path). Most of a threat report is such words,
    /// and finding their ends eight bytes a step, with the common space after them
    /// decided by one table look-up instead of `boring_after`'s jump table, takes about
    /// a sixth off the instructions prose costs.
    ///
    /// Exactly the general path's decision: a word `[A-Za-z][a-z]*` ended by a byte that
    /// is no label byte holds no hyphen and no capital past its first byte, so it can
    /// hide no spelled-out dot (`inner_core`); length, `token_prefix` and `boring_after`
    /// are checked as there.
    #[inline]
    fn skip_prose(&self, mut i: usize) -> usize {
        let b = self.b;
        let start = i;
        loop {
            // Nearly every word ends within eight bytes: then the word, the byte after
            // it and the one after that come from one 16-byte window, with no further
            // bounds check; the general case reads them one by one.
            let window = b.get(i..).and_then(<[u8]>::first_chunk::<16>);
            let (first, j, next, after) = if let Some(win) = window {
                match swar::non_lower_mask(u64::from_le_bytes(*window8(win))) {
                    0 => {
                        let j = swar::lower_run_end(b, i + 9);
                        (win[0], j, b.get(j).copied(), b.get(j + 1).copied())
                    }
                    mask => {
                        let k = (mask.trailing_zeros() / 8) as usize & 7;
                        (win[0], i + 1 + k, Some(win[1 + k]), Some(win[2 + k]))
                    }
                }
            } else {
                let j = swar::lower_run_end(b, i + 1);
                let at = |p: usize| b.get(p).copied();
                (at(i).unwrap_or(0), j, at(j), at(j + 1))
            };
            let Some(next) = next else {
                return i;
            };
            if j - i >= 26 || (TOKEN_FIRST[usize::from(first)] && token_prefix(&b[i..j])) {
                return i;
            }
            if next == b' ' {
                // the usual case: one space, then the next word's first letter, which
                // begins no spelled-out defang
                if after.is_some_and(|c| QUIET_LETTER[usize::from(c)]) {
                    i = j + 1;
                    continue;
                }
                if !boring_after_space(b, j) {
                    return i;
                }
            } else if class(next) & LABEL != 0 || !boring_after(b, j) {
                return i;
            }
            i = j + 1;
            while b.get(i).is_some_and(|&c| class(c) & START == 0) {
                i += 1;
            }
            if !b.get(i).is_some_and(u8::is_ascii_alphabetic) {
                debug_assert!(i > start);
                return i;
            }
        }
    }

    // ------------------------------------------------------------ primitives

    /// The byte at `p`, or 0 past either end.
    fn at(&self, p: usize) -> u8 {
        self.b.get(p).copied().unwrap_or(0)
    }

    fn starts(&self, p: usize, pat: &[u8]) -> bool {
        self.b.get(p..p + pat.len()).is_some_and(|s| s == pat)
    }

    fn starts_ci(&self, p: usize, pat: &[u8]) -> bool {
        self.b
            .get(p..p + pat.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(pat))
    }

    /// The character starting at byte `p`, if `p` is a character boundary.
    fn char_at(&self, p: usize) -> Option<(char, usize)> {
        let c = self.text.get(p..)?.chars().next()?;
        Some((c, c.len_utf8()))
    }

    fn emit(&mut self, kind: IocType, value: &str, start: usize, end: usize, defanged: bool) {
        self.emit_parts(kind, [value], start, end, defanged);
    }

    /// [`Self::emit`] of a value written in pieces, joined without an allocation.
    fn emit_parts<'p>(
        &mut self,
        kind: IocType,
        parts: impl IntoIterator<Item = &'p str>,
        start: usize,
        end: usize,
        def: bool,
    ) {
        let from = self.values.len();
        for p in parts {
            self.values.push_str(p);
        }
        self.last_end = self.last_end.max(end);
        self.out.push(Hit {
            kind,
            start,
            end,
            defanged: def,
            value: (from, self.values.len()),
        });
    }

    /// Lower-cases the value last emitted (hex digests), in place.
    fn lower_last_value(&mut self) {
        if let Some(h) = self.out.last() {
            if let Some(v) = self.values.get_mut(h.value.0..h.value.1) {
                v.make_ascii_lowercase();
            }
        }
    }

    /// The run of label characters starting at `p`; it ends at a non-label character or
    /// where ASCII meets a wide script.
    fn label_run(&self, p: usize) -> Run {
        self.label_run_from(p, p)
    }

    /// [`Self::label_run`] when `p..q` are known to be ASCII label bytes.
    fn label_run_from(&self, p: usize, q: usize) -> Run {
        let b = self.b;
        let n = b.len();
        let mut q = q;
        let mut non_ascii = false;
        let mut wide = false;
        let mut defanged = false;
        loop {
            if !wide {
                // the hot loop: ASCII label bytes
                while q < n && class(b[q]) & LABEL != 0 {
                    q += 1;
                }
            }
            // `micro[-]soft`: a defanged hyphen inside an ASCII label
            if q + 3 < n
                && b[q] == b'['
                && b[q + 1] == b'-'
                && b[q + 2] == b']'
                && q > p
                && !wide
                && b[q + 3].is_ascii_alphanumeric()
            {
                defanged = true;
                q += 3;
                continue;
            }
            if q >= n || b[q] < 0x80 {
                break;
            }
            let Some((ch, len)) = self.char_at(q) else {
                break;
            };
            match uclass(ch) {
                UClass::None => break,
                UClass::Wide => {
                    if q > p && !wide {
                        break;
                    }
                    wide = true;
                }
                UClass::Narrow => {
                    if wide {
                        break;
                    }
                }
            }
            non_ascii = true;
            q += len;
        }
        Run {
            end: q,
            non_ascii,
            defanged,
        }
    }

    /// How many spaces start at `p`, at most `max`.
    fn spaces(&self, p: usize, max: usize) -> usize {
        let mut q = p;
        while self.at(q) == b' ' && q - p < max {
            q += 1;
        }
        q - p
    }

    /// A word core glued to the end of the label `start..end` and closed by brackets:
    /// `fooDOT]com`, `foopunto)com`, `fooat]bar.com`. Returns the core's length and the
    /// separator's (core and brackets); a label must remain before it and start after.
    #[inline]
    fn glued_core(&self, start: usize, end: usize, core: Core) -> Option<(usize, usize)> {
        if !matches!(self.at(end), b']' | b')' | b'}') {
            return None;
        }
        let words: &[&[u8]] = match core {
            Core::Dot => &[b"dot", b"punto", b"punkt"],
            Core::At => &[b"at", b"arroba", b"et"],
        };
        let w = words.iter().find(|w| {
            end > start + w.len()
                && self.b[end - w.len()..end].eq_ignore_ascii_case(w)
                && self.b[end - w.len() - 1].is_ascii_alphanumeric()
        })?;
        let mut q = end + 1;
        if matches!(self.at(q), b']' | b')' | b'}') {
            q += 1;
        }
        self.label_start(q)
            .then_some((w.len(), q - (end - w.len())))
    }

    /// A dot spelled out inside the ASCII run `start..end`, between label characters:
    /// `-dot-` (any case, hyphens both sides) or a capital `DOT` between characters that
    /// are not capitals (`fooDOTcom`, not `MDOT`). Its position and length.
    #[inline]
    fn inner_core(&self, start: usize, end: usize) -> Option<(usize, usize)> {
        if end < start + 5 {
            return None;
        }
        let w = self.b.get(start..end)?;
        // positions 1..len-3 that hold `-` or `D`; most words have neither, and
        // digests are long: rule that out eight bytes a step first
        if !swar::contains2(w.get(1..w.len() - 3)?, b'-', b'D') {
            return None;
        }
        let mut k = 0;
        loop {
            k += 1 + w
                .get(k + 1..w.len() - 3)?
                .iter()
                .position(|&c| c == b'-' || c == b'D')?;
            let c = w[k];
            if c == b'-'
                && k + 5 < w.len()
                && w[k + 1..k + 4].eq_ignore_ascii_case(b"dot")
                && w[k + 4] == b'-'
            {
                return Some((start + k, 5));
            }
            if c == b'D'
                && &w[k..k + 3] == b"DOT"
                && k + 3 < w.len()
                && (w[k - 1].is_ascii_lowercase() || w[k - 1].is_ascii_digit())
                && (w[k + 3].is_ascii_lowercase() || w[k + 3].is_ascii_digit())
            {
                return Some((start + k, 3));
            }
        }
    }

    /// Whether every byte of `start..end` has all the class bits `k`.
    fn all_class(&self, start: usize, end: usize, k: u8) -> bool {
        self.b
            .get(start..end)
            .is_some_and(|s| s.iter().all(|&c| class(c) & k == k))
    }

    /// Whether a label can start at `p`.
    fn label_start(&self, p: usize) -> bool {
        let c = self.at(p);
        if c < 0x80 {
            // `_jabber._tcp.example.com`: DNS service labels begin with `_`
            c.is_ascii_alphanumeric() || (c == b'_' && self.at(p + 1).is_ascii_alphanumeric())
        } else {
            self.char_at(p)
                .is_some_and(|(ch, _)| uclass(ch) != UClass::None)
        }
    }

    // ------------------------------------------------------------ dispatch

    /// Handles the word starting at `start`; returns where scanning resumes.
    fn word(&mut self, start: usize) -> usize {
        self.word_from(start, start)
    }

    /// [`Self::word`] when `start..ascii_end` are known to be ASCII label bytes.
    #[inline(never)]
    fn word_from(&mut self, start: usize, ascii_end: usize) -> usize {
        // `%2Fevil.com`, `url=https%3A%2F%2Fevil.com`: a percent escape separates words
        if self.at(start.wrapping_sub(1)) == b'%'
            && self.at(start).is_ascii_hexdigit()
            && self.at(start + 1).is_ascii_hexdigit()
            && self.label_start(start + 2)
        {
            return self.word(start + 2).max(start + 2);
        }
        let run = self.label_run_from(start, ascii_end);
        let j = run.end;
        if j == start {
            return start + 1;
        }
        let next = self.at(j);
        if !run.non_ascii
            && (matches!(next, b':' | b'[' | b'(' | b'{' | b'+' | 0xef)
                || (matches!(next, b']' | b')' | b'}' | b' ') && self.at(j + 1) == b':')
                || (next == b'/' && self.at(j + 1) == b'/')
                || self.http_underscore(start, j))
        {
            if let Some(r) = self.try_scheme_url(start) {
                return r;
            }
        }
        // most words end in a space or punctuation that starts nothing: decide on the
        // next byte (and for a space, the one after it) before any real work
        let maybe_host = match next {
            b'.' | b'[' | b'(' | b'{' | b'<' | b']' | b')' | b'}' | b'\\' | b'^' | b'@' | 0xef => {
                true
            }
            b' ' => matches!(
                self.at(j + self.spaces(j, 3)),
                b'[' | b'(' | b'{' | b'<' | b'd' | b'D' | b'a' | b'A' | b'@' | b'\\'
            ),
            _ => false,
        };
        let sep = if maybe_host {
            self.dot_sep(j, false)
        } else {
            None
        };
        if maybe_host
            && (sep.is_some_and(|s| self.label_start(j + s.len))
                || self.at_form(j).is_some()
                || (!run.non_ascii
                    && (self.glued_core(start, j, Core::Dot).is_some()
                        || self.glued_core(start, j, Core::At).is_some())))
            || (!run.non_ascii && self.inner_core(start, j).is_some())
        {
            // a spaced form `maybe_host` passes over (`foo ][.] bar`) still counts
            // inside the host
            let sep = if maybe_host {
                sep
            } else {
                self.dot_sep(j, false)
            };
            return match self.try_host(start, (run, sep)) {
                Ok(r) | Err(r) => r.max(j),
            };
        }
        if run.non_ascii {
            return j;
        }
        if next == b':'
            && j - start <= 4
            && self.all_class(start, j, HEX)
            && !matches!(self.at(start.wrapping_sub(1)), b':' | b'.')
        {
            if let Some(r) = self.try_ipv6(start) {
                return r;
            }
        }
        let w = &self.b[start..j];
        if w.len() >= 26 || token_prefix(w) {
            if let Some(r) = self.try_token(start, j) {
                return r;
            }
        }
        j
    }

    /// `http__host`: a run holding a scheme and the `__` defang.
    fn http_underscore(&self, start: usize, end: usize) -> bool {
        let w = &self.b[start..end];
        w.len() > 6
            && matches!(w[0] | 0x20, b'h' | b'f')
            && w.windows(2).take(8).any(|p| p == b"__")
    }

    /// A `:` not inside a word: only `::…` IPv6 addresses start here.
    fn colon(&mut self, i: usize) -> usize {
        let prev = self.at(i.wrapping_sub(1));
        if self.at(i + 1) == b':' && !prev.is_ascii_alphanumeric() && prev != b':' {
            if let Some(r) = self.try_ipv6(i) {
                return r;
            }
        }
        i + 1
    }

    // ------------------------------------------------------------ separators

    /// A dot form at `p` between two labels (the grammar is in the module docs).
    fn dot_sep(&self, p: usize, esa: bool) -> Option<Sep> {
        let def = |len| {
            Some(Sep {
                len,
                defanged: true,
                word: false,
            })
        };
        match self.at(p) {
            b'.' => Some(Sep {
                len: 1,
                defanged: false,
                word: false,
            }),
            // `[.]` before a label, the usual defang: what `bracketed` would find
            b'[' if self.starts(p, b"[.]") && self.at(p + 3).is_ascii_alphanumeric() => def(3),
            b'[' | b'(' | b'{' | b'<' | b']' | b')' | b'}' => {
                self.bracketed(p, Core::Dot, false).and_then(def)
            }
            // escaped dots: `\.`, `^.`, `\\\\.`; an escaped bracket `\(.\)`
            b'^' if self.at(p + 1) == b'.' => def(2),
            b'\\' => {
                let mut q = p;
                while self.at(q) == b'\\' && q - p < 8 {
                    q += 1;
                }
                if self.at(q) == b'.' {
                    def(q + 1 - p)
                } else {
                    self.bracketed(p, Core::Dot, false).and_then(def)
                }
            }
            b' ' => {
                if esa && self.at(p + 1) == b'.' {
                    return def(2);
                }
                let q = p + self.spaces(p, 3);
                if let Some(len) = self.bracketed(q, Core::Dot, true) {
                    return def(q - p + len);
                }
                // ` \. `: a spaced escaped dot
                if self.at(q) == b'\\' && self.at(q + 1) == b'.' {
                    let after = self.spaces(q + 2, 3);
                    return def(q + 2 + after - p);
                }
                // the prose form ` dot `, ` DOT `
                if self.starts(q, b"dot") || self.starts(q, b"DOT") {
                    let after = self.spaces(q + 3, 3);
                    if after > 0 {
                        return Some(Sep {
                            len: q + 3 + after - p,
                            defanged: true,
                            word: true,
                        });
                    }
                }
                None
            }
            // full-width full stop U+FF0E; only next to ASCII or full-width letters, so
            // that CJK prose punctuated with it is not read as a host
            0xef if self.starts(p, "\u{ff0e}".as_bytes()) => {
                let before = self.at(p.wrapping_sub(1));
                let after = self.at(p + 3);
                let fw = |q: usize| {
                    self.char_at(q)
                        .is_some_and(|(c, _)| ('\u{ff10}'..='\u{ff5a}').contains(&c))
                };
                let prev_fw = p >= 3 && self.text.is_char_boundary(p - 3) && fw(p - 3);
                if before.is_ascii_alphanumeric()
                    || after.is_ascii_alphanumeric()
                    || prev_fw
                    || fw(p + 3)
                {
                    def(3)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// A bracketed separator at `p`: brackets (any of `[](){}<>`, in any orientation,
    /// possibly escaped with `\\` or repeated, up to eight bytes a side) around a core
    /// symbol or word, with spaces inside only when both sides are bracketed. `[.]`,
    /// `( . )`, `{dot}`, `[.[`, `].]`, `<.>`, `[[.]]`, `\\(.\\)`, `[punto]`, `[at]`,
    /// `(arroba)`, and the half forms `[.` `[[[.` (a bracket opens before the core or
    /// closes after it). After a form bracketed on both sides up to three spaces are
    /// taken too; with `spaced`, `p` follows a space and both sides must be bracketed.
    /// Returns the length.
    fn bracketed(&self, p: usize, core: Core, spaced: bool) -> Option<usize> {
        const SIDE: usize = 8;
        let first = self.at(p);
        // most calls come after a word and a space: decide on one byte
        if !(is_bracket(first) || first == b'\\' || symbol_core(first, core)) {
            return None;
        }
        let mut q = p;
        let (mut left, mut left_opens, mut inner_space) = (0, false, false);
        while q - p < SIDE {
            match self.at(q) {
                c if is_bracket(c) && c != b'>' => {
                    left += 1;
                    left_opens = matches!(c, b'[' | b'(' | b'{' | b'<');
                }
                b'\\' if left > 0 || is_bracket(self.at(q + 1)) => {}
                b' ' if left > 0 => inner_space = true,
                _ => break,
            }
            q += 1;
        }
        let (core_len, needs_both) = core.len_at(self, q)?;
        q += core_len;
        let (mut right, mut right_closes, mut end) = (0, false, q);
        let mut r = q;
        while r - q < SIDE {
            match self.at(r) {
                c if is_bracket(c) && c != b'<' => {
                    if right == 0 {
                        right_closes = matches!(c, b']' | b')' | b'}' | b'>');
                    }
                    right += 1;
                    end = r + 1;
                }
                b'\\' if is_bracket(self.at(r + 1)) => {}
                b' ' => {}
                _ => break,
            }
            r += 1;
        }
        inner_space |= right > 0 && self.b[q..end].contains(&b' ');
        let both = left > 0 && right > 0;
        let half = (left > 0 && left_opens) || (right > 0 && right_closes);
        // a single-symbol core may stand alone with a half bracket (`evil[.com`); words
        // and spaces need brackets on both sides, and so do forms after a space
        let ok = if spaced || inner_space || needs_both {
            both
        } else {
            both || half
        };
        if !ok {
            return None;
        }
        let mut q = end;
        if both {
            q += self.spaces(q, 3);
        }
        Some(q - p)
    }

    /// An at form at `p`: `@`, `[@]`, `(@)`, `{at}`, `[AT]`, ` [at] `, `(arroba)`, `＠`,
    /// and the prose forms ` at `, ` AT `, ` @ ` (word forms: `try_host` asks for
    /// evidence before taking them).
    fn at_form(&self, p: usize) -> Option<AtForm> {
        let form = |len, defanged, word| {
            Some(AtForm {
                len,
                defanged,
                word,
            })
        };
        match self.at(p) {
            // `myuser@ example.com`: spaces after the sign only
            b'@' if self.at(p + 1) == b' ' => {
                let after = self.spaces(p + 1, 3);
                form(1 + after, false, true)
            }
            b'@' => form(1, false, false),
            b'[' | b'(' | b'{' | b'<' => self
                .bracketed(p, Core::At, false)
                .and_then(|l| form(l, true, false)),
            b' ' => {
                let q = p + self.spaces(p, 3);
                if let Some(l) = self.bracketed(q, Core::At, true) {
                    return form(q - p + l, true, false);
                }
                let (core, defanged) = match (self.at(q), self.at(q + 1)) {
                    (b'a', b't') | (b'A', b'T') => (2, true),
                    (b'@', _) => (1, false),
                    _ => return None,
                };
                let after = self.spaces(q + core, 3);
                // ` @example.com`: a space before the sign only will do
                (after > 0 || core == 1).then_some(AtForm {
                    len: q + core + after - p,
                    defanged,
                    word: true,
                })
            }
            0xef if self.starts(p, "\u{ff20}".as_bytes()) => form(3, true, false),
            _ => None,
        }
    }

    // ------------------------------------------------------------ hosts

    /// Scans labels joined by dot forms from `start`, filling `self.labels`.
    fn scan_host(&mut self, start: usize, esa: bool) -> HostScan {
        let first = self.label_run(start);
        let sep = self.dot_sep(first.end, esa);
        self.scan_host_from(start, esa, (first, sep))
    }

    /// [`Self::scan_host`] with the first label's run and the dot form after it
    /// (`dot_sep(run.end, esa)`) already known.
    fn scan_host_from(&mut self, start: usize, esa: bool, first: (Run, Option<Sep>)) -> HostScan {
        self.labels.clear();
        self.fixed.clear();
        self.scratch.clear();
        let mut hs = HostScan {
            start,
            end: start,
            all_numeric: true,
            ..HostScan::default()
        };
        let mut p = start;
        let mut known = Some(first);
        loop {
            let (mut run, mut sep) = known.take().unwrap_or_else(|| {
                let run = self.label_run(p);
                (run, self.dot_sep(run.end, esa))
            });
            if run.end == p {
                break;
            }
            if sep.is_none() && !run.non_ascii {
                // `foo-dot-com`, `fooDOTcom`: a spelled dot inside the last run splits it
                if let Some((c, len)) = self.inner_core(p, run.end) {
                    run.end = c;
                    sep = Some(Sep {
                        len,
                        defanged: true,
                        word: false,
                    });
                }
            }
            if sep.is_none() && !run.non_ascii {
                // `fooDOT]com`: the core glued to the label, one bracket after it
                if let Some((core, len)) = self.glued_core(p, run.end, Core::Dot) {
                    run.end -= core;
                    sep = Some(Sep {
                        len,
                        defanged: true,
                        word: false,
                    });
                }
            }
            hs.n += 1;
            if self.labels.len() < MAX_LABELS {
                if run.defanged {
                    let a = self.scratch.len();
                    self.scratch
                        .push_str(&self.text[p..run.end].replace("[-]", "-"));
                    self.fixed.push((self.labels.len(), a, self.scratch.len()));
                }
                self.labels.push((p, run.end));
            }
            hs.defanged |= run.defanged;
            hs.all_numeric &= !run.non_ascii && self.all_class(p, run.end, DIGIT);
            hs.non_ascii |= run.non_ascii;
            hs.end = run.end;
            let Some(sep) = sep else {
                break;
            };
            let next = run.end + sep.len;
            if !self.label_start(next) {
                break;
            }
            hs.defanged |= sep.defanged;
            hs.word_dot |= sep.word;
            hs.spaced |= sep.len > 1 && self.b[run.end..next].contains(&b' ');
            p = next;
        }
        hs
    }

    /// The text of label `k`, refanged.
    #[inline]
    fn label_text(&self, k: usize) -> &str {
        if !self.fixed.is_empty() {
            if let Some(&(_, a, e)) = self.fixed.iter().find(|f| f.0 == k) {
                return &self.scratch[a..e];
            }
        }
        self.labels.get(k).map_or("", |&(a, e)| &self.text[a..e])
    }

    /// Whether `label` may end a name: a public TLD, one of the configured extra ones,
    /// or, when refanging a defanged name (`intranet[.]local`), any well-formed one.
    fn tld_ok(&self, label: &str, lenient: bool) -> bool {
        tld::is_tld(label) || self.opts.is_extra_tld(label) || (lenient && canon::tld_shaped(label))
    }

    /// The canonical domain of the scanned labels, its label count and end; drops a
    /// Title-case last label glued on by a missing space (`evil.com.The`).
    fn domain_value(&self, hs: &HostScan) -> Option<(String, usize, usize)> {
        if hs.overflow() || hs.n < 2 {
            return None;
        }
        let lenient = self.opts.refang && hs.defanged && !hs.word_dot && !hs.spaced;
        let mut n = self.labels.len();
        if !hs.non_ascii && !self.tld_ok(self.label_text(n - 1), lenient) {
            let last = self.label_text(n - 1).as_bytes();
            let title = last.len() > 1
                && last[0].is_ascii_uppercase()
                && last[1..].iter().all(u8::is_ascii_lowercase);
            if n >= 3 && title && self.tld_ok(self.label_text(n - 2), lenient) {
                n -= 1;
            } else {
                return None;
            }
        }
        let mut s = String::with_capacity(hs.end - hs.start);
        for k in 0..n {
            if k > 0 {
                s.push('.');
            }
            s.push_str(self.label_text(k));
        }
        let v = if hs.non_ascii {
            let v = canon::canonical_name(&s)?;
            let tld = v.rsplit('.').next().unwrap_or_default();
            if !self.tld_ok(tld, lenient) {
                return None;
            }
            v
        } else {
            s.make_ascii_lowercase();
            if !canon::valid_ascii_name(&s) {
                return None;
            }
            s
        };
        Some((v, n, self.labels[n - 1].1))
    }

    /// Handles a run followed by a dot or at form: e-mail, IPv4, CIDR, URL, domain.
    /// `Ok` after an emission, `Err` with the end of what was inspected otherwise.
    fn try_host(&mut self, start: usize, first: (Run, Option<Sep>)) -> Result<usize, usize> {
        let mut hs = self.scan_host_from(start, false, first);
        let at = self.at_form(hs.end);
        // `fooat]bar.com`: an at core glued to the local part
        if at.is_none() && !hs.overflow() && !hs.non_ascii {
            if let Some(&(a, e)) = self.labels.last() {
                if let Some((core, len)) = self.glued_core(a, e, Core::At) {
                    let at = AtForm {
                        len,
                        defanged: true,
                        word: false,
                    };
                    if let Some(last) = self.labels.last_mut() {
                        last.1 -= core;
                    }
                    hs.end -= core;
                    return self.try_email(&hs, at.len, at.defanged);
                }
            }
        }
        if let Some(at) = at {
            if !at.word || self.spelled_address(&hs, at) {
                return self.try_email(&hs, at.len, at.defanged);
            }
        }
        if hs.n < 2 || hs.overflow() {
            self.tokens_in_labels();
            return Err(hs.end);
        }
        if hs.all_numeric {
            // four numbers: an address (or a version, decided by context); other counts
            // are versions, decimals and OIDs, never addresses
            return if hs.n == 4 {
                self.try_ipv4(&hs, hs.end)
            } else {
                Err(hs.end)
            };
        }
        if let Some(r) = self.try_domain(&hs) {
            return Ok(r);
        }
        // address range `1.2.3.4-1.2.3.9`: the fourth label is `4-1`
        if hs.n >= 4 {
            let numeric = |k: usize| self.label_text(k).bytes().all(|c| c.is_ascii_digit());
            let fourth = self.label_text(3).as_bytes();
            let digits = fourth.iter().take_while(|c| c.is_ascii_digit()).count();
            if numeric(0)
                && numeric(1)
                && numeric(2)
                && digits > 0
                && fourth.get(digits) == Some(&b'-')
            {
                let ip_end = self.labels[3].0 + digits;
                return self.try_ipv4(&hs, ip_end);
            }
        }
        self.tokens_in_labels();
        Err(hs.end)
    }

    /// After a failed host: hashes and ids written with a dot after them
    /// (`<sha256>.exe`, `CVE-2021-44228.`).
    fn tokens_in_labels(&mut self) {
        for k in 0..self.labels.len() {
            let (a, e) = self.labels[k];
            if self.b[a..e].is_ascii() {
                let _ = self.try_token(a, e);
            }
        }
    }

    fn try_domain(&mut self, hs: &HostScan) -> Option<usize> {
        let (value, n, dom_end) = self.domain_value(hs)?;
        let port_end = self.port_at(dom_end);
        let after = port_end.unwrap_or(dom_end);
        let path = self.path_start(after, None, false);
        if !self.plausible_domain(hs, &value, n, dom_end, path.is_some()) {
            return None;
        }
        if let Some(ps) = path {
            let (pend, tail, pdef) = self.scan_path(ps, self.schemeless_slashes(ps));
            let (port, pfw) = port_end
                .map(|pe| self.port_text(dom_end, pe))
                .unwrap_or_default();
            self.emit_parts(
                IocType::Url,
                ["http://", &value, &port, &tail],
                hs.start,
                pend,
                hs.defanged || pdef || pfw,
            );
            return Some(pend);
        }
        self.emit(IocType::Domain, &value, hs.start, dom_end, hs.defanged);
        Some(after)
    }

    /// Precision rules for a name that passed syntax: file names, code identifiers,
    /// product names. A defanged name is always meant as an indicator.
    fn plausible_domain(
        &self,
        hs: &HostScan,
        value: &str,
        n: usize,
        end: usize,
        has_path: bool,
    ) -> bool {
        let first = self.label_text(0);
        let tld_raw = self.label_text(n - 1);
        if hs.word_dot {
            // `evil dot com`: only with the usual TLDs and a name-like first label
            let f = first.as_bytes();
            let name_like = f.len() >= 4 || f.iter().any(|c| c.is_ascii_digit() || *c == b'-');
            let t = tld_raw.as_bytes();
            let one_case =
                t.iter().all(u8::is_ascii_lowercase) || t.iter().all(u8::is_ascii_uppercase);
            return name_like
                && n <= 4
                && one_case
                && !context::is_one_of(f, WORD_DOT_STOP)
                && context::is_one_of(t, WORD_DOT_TLDS);
        }
        if hs.defanged {
            return true;
        }
        // `\\host\share`: a UNC path names a host
        let unc = self.at(hs.start.wrapping_sub(1)) == b'\\'
            && self.at(hs.start.wrapping_sub(2)) == b'\\'
            && !matches!(self.at(hs.start.wrapping_sub(3)), b'\\' | b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b':');
        // a path component (`/tmp/x.sh`, `C:\dir\msedge.dll`) or `%TEMP%.x`
        if !unc
            && matches!(
                self.at(hs.start.wrapping_sub(1)),
                b'/' | b'\\' | b'%' | b'$'
            )
        {
            return false;
        }
        // a call or a path: `foo.bar(`, `dir.name\`
        if !has_path && (self.at(end) == b'(' || (!unc && self.at(end) == b'\\')) {
            return false;
        }
        // code and prose: `System.Net`, `site.Now`; domains are written in one case
        let t = tld_raw.as_bytes();
        if t.iter().any(u8::is_ascii_uppercase) && t.iter().any(u8::is_ascii_lowercase) {
            return false;
        }
        if NOT_DOMAINS.contains(&value) {
            return false;
        }
        if n >= 3
            && context::is_one_of(first.as_bytes(), PACKAGE_ROOTS)
            && first.bytes().all(|c| c.is_ascii_lowercase())
        {
            return false;
        }
        if !has_path && n >= 3 && context::is_one_of(self.label_text(n - 2).as_bytes(), FILE_EXTS) {
            // a double extension: `setup.exe.zip`, `invoice.pdf.one`
            return false;
        }
        if n == 2
            && !has_path
            && (context::is_one_of(t, FILE_EXT_TLDS)
                || context::is_one_of(first.as_bytes(), CODE_RECEIVERS))
        {
            return false;
        }
        if !has_path && n <= 3 {
            let (w, k) = context::prev_words(self.b, hs.start, 2);
            if k > 0
                && (context::is_one_of(w[0], FILE_BEFORE)
                    || (k > 1
                        && w[0].eq_ignore_ascii_case(b"as")
                        && context::is_one_of(w[1], FILE_BEFORE)))
            {
                return false;
            }
            if context::is_one_of(context::next_word(self.b, end), FILE_AFTER) {
                return false;
            }
        }
        true
    }

    /// `:port` (or full-width `：port`) at `p`: its end.
    fn port_at(&self, p: usize) -> Option<usize> {
        let s = if self.at(p) == b':' {
            p + 1
        } else if self.starts(p, FW_COLON) {
            p + FW_COLON.len()
        } else {
            return None;
        };
        let mut q = s;
        while self.at(q).is_ascii_digit() && q - s < 6 {
            q += 1;
        }
        if q == s || q - s > 5 || self.at(q).is_ascii_alphanumeric() {
            return None;
        }
        let port: u32 = self.text.get(s..q)?.parse().ok()?;
        (port <= 65535).then_some(q)
    }

    /// The canonical `:digits` of a port found by `port_at(p)` ending at `end`, and
    /// whether it was written with a full-width colon.
    fn port_text(&self, p: usize, end: usize) -> (String, bool) {
        let fullwidth = self.at(p) != b':';
        let digits = if fullwidth { p + FW_COLON.len() } else { p + 1 };
        (
            format!(":{}", self.text.get(digits..end).unwrap_or_default()),
            fullwidth,
        )
    }

    /// Where a path begins at `p`, if one does: `/`, `[/]`, and for URLs with a scheme
    /// `?`, `#`; `\` after `http:\\`; ` /` in Cisco ESA spacing.
    /// `scheme` is `None` for scheme-less hosts.
    fn path_start(&self, p: usize, scheme: impl Into<Option<Slashes>>, esa: bool) -> Option<usize> {
        let scheme = scheme.into();
        match self.at(p) {
            b'/' => Some(p),
            // `[/]`, `(/)`, `{/}`: the closing bracket must match, as the path refang
            // rewrites only these
            b'[' if self.starts(p, b"[/]") => Some(p),
            b'(' if self.starts(p, b"(/)") => Some(p),
            b'{' if self.starts(p, b"{/}") => Some(p),
            0xef if self.starts(p, FW_SLASH) => Some(p),
            b'?' | b'#' if scheme.is_some() => Some(p),
            b'\\' if scheme == Some(Slashes::Backslash) && self.at(p + 1) != b'.' => Some(p),
            b'\\' if scheme != Some(Slashes::Backslash) && self.at(p + 1) == b'/' => Some(p),
            b' ' if esa && self.at(p + 1) == b'/' => Some(p + 1),
            _ => None,
        }
    }

    /// How a scheme-less URL's path at `ps` writes slashes: `host\/path` is JSON-escaped.
    fn schemeless_slashes(&self, ps: usize) -> Slashes {
        if self.at(ps) == b'\\' {
            Slashes::Json
        } else {
            Slashes::Plain
        }
    }

    fn try_ipv4(&mut self, hs: &HostScan, ip_end: usize) -> Result<usize, usize> {
        // the four numbers as written: checked in place, and joined only when emitted
        let text = self.text;
        let mut o = [""; 4];
        for (k, &(a, e)) in self.labels.iter().take(4).enumerate() {
            o[k] = text.get(a..e.min(ip_end)).unwrap_or_default();
            if !canon::is_octet(o[k].as_bytes()) {
                return Err(hs.end);
            }
        }
        let ip = [o[0], ".", o[1], ".", o[2], ".", o[3]];
        let start = hs.start;
        if self.at(ip_end) == b'/' {
            if let Some((len, e)) = self.prefix_len(ip_end + 1, 32) {
                let mut n = itoa::Buffer::new();
                self.emit_parts(
                    IocType::Cidr,
                    ip.into_iter().chain(["/", n.format(len)]),
                    start,
                    e,
                    hs.defanged,
                );
                return Ok(e);
            }
        }
        let port_end = self.port_at(ip_end);
        let after = port_end.unwrap_or(ip_end);
        if let Some(ps) = self.path_start(after, None, false) {
            let (pend, tail, pdef) = self.scan_path(ps, self.schemeless_slashes(ps));
            let (port, pfw) = port_end
                .map(|pe| self.port_text(ip_end, pe))
                .unwrap_or_default();
            self.emit_parts(
                IocType::Url,
                ["http://"].into_iter().chain(ip).chain([&*port, &*tail]),
                start,
                pend,
                hs.defanged || pdef || pfw,
            );
            return Ok(pend);
        }
        // `Firefox/115.0.2.1`: a product version in a user agent
        let product_slash = self.at(start.wrapping_sub(1)) == b'/'
            && self.at(start.wrapping_sub(2)).is_ascii_alphanumeric();
        if !hs.defanged
            && port_end.is_none()
            && (product_slash || self.looks_like_version(start, ip_end))
        {
            return Err(hs.end);
        }
        self.emit_parts(IocType::Ipv4, ip, start, ip_end, hs.defanged);
        Ok(after)
    }

    /// `firmware 1.0.4.128`, `version: 10.2.0.1`, `7.2.0.1 and earlier`.
    fn looks_like_version(&self, start: usize, end: usize) -> bool {
        let (w, k) = context::prev_words(self.b, start, 2);
        if k > 0 && context::is_one_of(w[0], VERSION_CUES) {
            return true;
        }
        if k > 1
            && context::is_one_of(w[0], VERSION_BETWEEN)
            && context::is_one_of(w[1], VERSION_CUES)
        {
            return true;
        }
        let n1 = context::next_word(self.b, end);
        if context::is_one_of(n1, VERSION_AFTER) {
            return true;
        }
        if context::is_one_of(n1, AND_OR) {
            let p = (n1.as_ptr() as usize).wrapping_sub(self.b.as_ptr() as usize) + n1.len();
            return context::is_one_of(context::next_word(self.b, p), VERSION_AFTER);
        }
        false
    }

    /// A prefix length at `p` (`/24` after the slash), at most `max`.
    fn prefix_len(&self, p: usize, max: u32) -> Option<(u32, usize)> {
        let mut q = p;
        while self.at(q).is_ascii_digit() && q - p < 4 {
            q += 1;
        }
        if q == p || q - p > 3 {
            return None;
        }
        let next = self.at(q);
        if next.is_ascii_alphanumeric()
            || next == b'/'
            || (next == b'.' && self.at(q + 1).is_ascii_digit())
        {
            return None;
        }
        let len: u32 = self.text.get(p..q)?.parse().ok()?;
        (len <= max && !(q - p > 1 && self.at(p) == b'0')).then_some((len, q))
    }

    // ------------------------------------------------------------ e-mail

    /// Whether a prose at form joins an address rather than words: ` AT ` after a local
    /// part that is not itself upper case (`darkops AT mail-safe DOT net`), ` at ` only
    /// before a domain spelled out with ` dot ` (`billing at invoice-desk dot com`), and
    /// ` @ ` before a name. "look at evil[.]com" stays a domain.
    fn spelled_address(&self, local: &HostScan, at: AtForm) -> bool {
        let p = local.end + self.spaces(local.end, 3);
        let dom = local.end + at.len;
        match self.at(p) {
            b'A' => self.b[local.start..local.end]
                .iter()
                .any(u8::is_ascii_lowercase),
            b'a' => {
                // ` dot `, or a bracketed word (`[dot]`) after a local part that is no
                // prose word ("look at example[dot]com" names a site)
                let run = self.label_run(dom);
                let local_word = &self.b[local.start..local.end];
                run.end > dom
                    && self.dot_sep(run.end, false).is_some_and(|s| {
                        s.word
                            || (s.len > 1
                                && self.b[run.end..run.end + s.len]
                                    .iter()
                                    .any(u8::is_ascii_alphabetic)
                                && !context::is_one_of(local_word, AT_PROSE))
                    })
            }
            _ => self.label_start(dom),
        }
    }

    fn try_email(&mut self, local: &HostScan, at_len: usize, at_def: bool) -> Result<usize, usize> {
        let dom_start = local.end + at_len;
        if local.non_ascii || local.word_dot || local.overflow() || !self.label_start(dom_start) {
            return Err(dom_start);
        }
        let mut local_s = String::with_capacity(local.end - local.start + 8);
        // `first+tag@…`: the word scan stopped at `+`; take the rest of the local part
        let mut ls = local.start;
        if matches!(self.at(ls.wrapping_sub(1)), b'+' | b'%' | b'_' | b'-') {
            let floor = self.last_end.max(local.start.saturating_sub(64));
            while ls > floor {
                let c = self.at(ls - 1);
                if c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-') {
                    ls -= 1;
                } else {
                    break;
                }
            }
            while self.at(ls) == b'.' && ls < local.start {
                ls += 1;
            }
            local_s.push_str(&self.text[ls..local.start]);
        }
        for k in 0..self.labels.len() {
            if k > 0 {
                local_s.push('.');
            }
            local_s.push_str(self.label_text(k));
        }
        // `@scope/pkg@1.2.3`, `x@y@z`: not an address
        if self.at(ls.wrapping_sub(1)) == b'@' {
            return Err(dom_start);
        }
        let dhs = self.scan_host(dom_start, false);
        if dhs.all_numeric {
            // `ssh root@203.0.113.9`: no address, but the IP is an indicator
            return if dhs.n == 4 {
                self.try_ipv4(&dhs, dhs.end)
            } else {
                Err(dhs.end)
            };
        }
        let Some((domain, _, dom_end)) = self.domain_value(&dhs) else {
            return Err(dhs.end);
        };
        // `git@github.com:org/repo`: an scp-style remote, not an address
        if self.at(dom_end) == b':'
            && !matches!(self.at(dom_end + 1), b' ' | b'\t' | b'\r' | b'\n' | 0)
        {
            return Err(dhs.end);
        }
        if !canon::valid_local_part(&local_s) {
            return Err(dhs.end);
        }
        local_s.make_ascii_lowercase();
        local_s.push('@');
        local_s.push_str(&domain);
        let defanged = local.defanged || at_def || dhs.defanged;
        self.emit(IocType::Email, &local_s, ls, dom_end, defanged);
        Ok(dom_end)
    }

    // ------------------------------------------------------------ URLs with a scheme

    /// The separator after a scheme at `p`: its length, whether defanged, and how the
    /// URL writes slashes. The grammar: a colon form (`:`, `[:]`, `(:)`, `{:}`, `：`, and
    /// for web schemes ` :` or none at all) then a slash form (`//` and more slashes,
    /// `\/\/`, `\\`, `\`, for web schemes `__`, after a bracketed colon a single `/`);
    /// or the bracketed whole `[://]`, `(://)`, `{://}`.
    fn scheme_sep(&self, p: usize, scheme: &str) -> Option<(usize, bool, Slashes)> {
        let web = matches!(scheme, "http" | "https" | "ftp" | "ftps");
        for pat in [b"[://]", b"(://)", b"{://}"] {
            if self.starts(p, pat) {
                return Some((5, true, Slashes::Plain));
            }
        }
        let (q, mut def) = match self.at(p) {
            b':' => (p + 1, false),
            b'[' | b'(' | b'{' if self.at(p + 1) == b':' && is_bracket(self.at(p + 2)) => {
                (p + 3, true)
            }
            b' ' if web && self.at(p + 1) == b':' => (p + 2, true),
            b'/' | b'_' if web => (p, true),
            0xef if self.starts(p, FW_COLON) => (p + FW_COLON.len(), true),
            _ => return None,
        };
        if self.starts(q, b"//") {
            let mut e = q + 2;
            while self.at(e) == b'/' && e - q < 8 {
                e += 1;
                def = true;
            }
            return Some((e - p, def, Slashes::Plain));
        }
        if q == p + 1 && self.starts(q, b"\\/\\/") {
            return Some((5, false, Slashes::Json));
        }
        if self.starts(q, b"\\\\") {
            return Some((q + 2 - p, true, Slashes::Backslash));
        }
        if self.at(q) == b'\\' {
            return Some((q + 1 - p, true, Slashes::Backslash));
        }
        if web && self.starts(q, b"__") {
            return Some((q + 2 - p, true, Slashes::Plain));
        }
        if def && q > p && self.at(q) == b'/' {
            return Some((q + 1 - p, true, Slashes::Plain));
        }
        None
    }

    fn try_scheme_url(&mut self, start: usize) -> Option<usize> {
        let mut p = start;
        while p - start < 16 {
            let c = self.at(p);
            if c.is_ascii_alphanumeric() || matches!(c, b'+' | b'.' | b'-') {
                p += 1;
            } else {
                break;
            }
        }
        let scheme_end = p;
        // `[http]://`, `(https)://`: the scheme itself in brackets
        let mut begin = start;
        let mut wrapped = false;
        if matches!(self.at(p), b']' | b')' | b'}') && self.at(p + 1) == b':' {
            // `[http]://` or only closed, `http]://`
            if matches!(self.at(start.wrapping_sub(1)), b'[' | b'(' | b'{') {
                begin = start - 1;
            }
            p += 1;
            wrapped = true;
        }
        // cheap look at the separator before the scheme itself
        let sep_possible = match self.at(p) {
            b':' => matches!(self.at(p + 1), b'/' | b'\\' | b'_'),
            b'[' | b'(' | b'{' | b' ' => self.at(p + 1) == b':',
            b'_' => self.at(p + 1) == b'_',
            b'/' => self.at(p + 1) == b'/',
            0xef => true,
            _ => false,
        };
        if !sep_possible {
            return None;
        }
        let (scheme, scheme_def) = canon::map_scheme(&self.text[start..scheme_end])?;
        let (sep_len, sep_def, slashes) = self.scheme_sep(p, scheme)?;
        let mut defanged = scheme_def || sep_def || wrapped;
        let start = begin;
        let mut q = p + sep_len;
        // a space after the separator (`https// host`); Cisco ESA rewrites
        // `http://host.com/p` as `http:// host .com /p`, spaces before dots and path too
        let spaced = self.at(q) == b' ' && self.at(q + 1) != b' ';
        let esa = spaced && sep_len == 3 && !sep_def;
        if spaced {
            q += 1;
            defanged = true;
        }
        let (userinfo, host_start) = self.userinfo(q);
        let (host, host_end, host_def) = self.url_host(host_start, esa, defanged)?;
        defanged |= host_def;
        let mut e = host_end;
        let mut url = String::with_capacity(64);
        url.push_str(scheme);
        url.push_str("://");
        if !userinfo.is_empty() {
            url.push_str(userinfo);
            url.push('@');
        }
        url.push_str(&host);
        if let Some(pe) = self.port_at(e) {
            let (port, fullwidth) = self.port_text(e, pe);
            url.push_str(&port);
            defanged |= fullwidth;
            e = pe;
        }
        if let Some(ps) = self.path_start(e, slashes, esa) {
            // `https://host\/path`: JSON-escaped path slashes after a plain scheme
            let slashes = if slashes == Slashes::Plain {
                self.schemeless_slashes(ps)
            } else {
                slashes
            };
            let (pend, tail, pdef) = self.scan_path(ps, slashes);
            url.push_str(&tail);
            defanged |= pdef;
            e = pend;
        }
        self.emit(IocType::Url, &url, start, e, defanged);
        Some(e)
    }

    /// `user:pass@` right after the scheme separator.
    fn userinfo(&self, q: usize) -> (&'a str, usize) {
        let mut r = q;
        while r - q < 128 {
            let c = self.at(r);
            if c.is_ascii_alphanumeric() || b"._~%!$&*+,;=:-".contains(&c) {
                r += 1;
            } else {
                break;
            }
        }
        let text: &'a str = self.text;
        if r > q && self.at(r) == b'@' && (self.label_start(r + 1) || self.at(r + 1) == b'[') {
            (&text[q..r], r + 1)
        } else {
            ("", q)
        }
    }

    /// The host of a URL: `[v6]`, a dotted quad, `localhost` or a domain under a real TLD.
    /// `defanged`: the scheme was, which lets a refang take any well-formed name.
    fn url_host(&mut self, p: usize, esa: bool, defanged: bool) -> Option<(String, usize, bool)> {
        if self.at(p) == b'[' {
            let window = self.b.get(p + 1..(p + 1 + MAX_IPV6).min(self.b.len()))?;
            let close = p + 1 + window.iter().position(|&c| c == b']')?;
            let inner = self.text.get(p + 1..close)?;
            let inner = inner.split('%').next().unwrap_or(inner);
            let a = canon::canonical_ipv6(inner)?;
            return Some((format!("[{a}]"), close + 1, false));
        }
        if !self.label_start(p) {
            return None;
        }
        let mut hs = self.scan_host(p, esa);
        let host_def = hs.defanged;
        if hs.all_numeric {
            if hs.n != 4 {
                return None;
            }
            let v = self.text.get(hs.start..hs.end)?;
            // the labels may be joined by defanged dots: rebuild
            let mut s = String::with_capacity(15);
            for k in 0..4 {
                if k > 0 {
                    s.push('.');
                }
                s.push_str(self.label_text(k));
            }
            let _ = v;
            canon::parse_ipv4(&s)?;
            return Some((s, hs.end, hs.defanged));
        }
        if hs.n == 1 && self.label_text(0).eq_ignore_ascii_case("localhost") {
            return Some(("localhost".to_owned(), hs.end, false));
        }
        hs.defanged |= defanged;
        let (d, _, end) = self.domain_value(&hs)?;
        Some((d, end, host_def))
    }

    /// Scans a URL path (with query and fragment) from `ps`: its end, refanged text and
    /// whether it held defangs (`[.]`, `[/]`). Ends at whitespace, quotes, angle
    /// brackets, backticks, pipes, non-letter Unicode (`”`, `…`, `」`) and where ASCII meets
    /// CJK; trailing sentence punctuation and unbalanced closing brackets are left out.
    fn scan_path(&self, ps: usize, slashes: Slashes) -> (usize, Cow<'a, str>, bool) {
        let n = self.b.len();
        let mut q = ps;
        let mut prev_alnum = false;
        while q < n {
            let c = self.b[q];
            if c < 0x80 {
                let escaped_slash = c == b'\\'
                    && match slashes {
                        Slashes::Plain => false,
                        Slashes::Backslash => true,
                        Slashes::Json => self.at(q + 1) == b'/',
                    };
                if class(c) & URL != 0 || escaped_slash {
                    if c == b'&' && self.html_entity_at(q) {
                        break;
                    }
                    // `[url](url)`: a Markdown link's text ends before its target
                    if c == b']' && self.at(q + 1) == b'(' {
                        break;
                    }
                    prev_alnum = c.is_ascii_alphanumeric();
                    q += 1;
                } else if c == b'{' && self.starts(q, b"{.}") {
                    prev_alnum = false;
                    q += 3;
                } else {
                    break;
                }
                continue;
            }
            let Some((ch, len)) = self.char_at(q) else {
                break;
            };
            match uclass(ch) {
                _ if ch == '\u{ff0f}' => {}
                UClass::None => break,
                UClass::Wide if prev_alnum => break,
                _ => {}
            }
            prev_alnum = false;
            q += len;
        }
        // trailing punctuation; bracket counts kept incrementally so this stays linear
        let raw = &self.b[ps..q];
        #[allow(clippy::naive_bytecount)] // paths are short; not worth a dependency
        let count = |c: u8| raw.iter().filter(|&&x| x == c).count();
        let (mut open_p, mut close_p) = (count(b'('), count(b')'));
        let (mut open_b, mut close_b) = (count(b'['), count(b']'));
        let mut end = q;
        while end > ps + 1 {
            match self.b[end - 1] {
                b'.' | b',' | b';' | b':' | b'!' | b'?' | b'*' => end -= 1,
                b')' if close_p > open_p => {
                    close_p -= 1;
                    end -= 1;
                }
                b']' if close_b > open_b
                    && !self.b[..end].ends_with(b"[.]")
                    && !self.b[..end].ends_with(b"[/]") =>
                {
                    close_b -= 1;
                    end -= 1;
                }
                b'(' => {
                    open_p -= 1;
                    end -= 1;
                }
                b'[' => {
                    open_b -= 1;
                    end -= 1;
                }
                _ => break,
            }
        }
        let text: &'a str = self.text;
        let raw = &text[ps..end];
        if !raw
            .bytes()
            .any(|c| matches!(c, b'[' | b'(' | b'{' | b'\\' | 0xef))
        {
            // nearly every path: borrowed, copied once into the URL
            return (end, Cow::Borrowed(raw), false);
        }
        // refang `[.]`, `(.)`, `{.}`, `[dot]`, `[/]`, `[:]` and `\` after `http:\\`
        let rb = raw.as_bytes();
        let mut out = String::with_capacity(raw.len());
        let mut defanged = false;
        let mut copied = 0;
        let mut i = 0;
        while i < rb.len() {
            let rest = &rb[i..];
            let rep: Option<(usize, char)> = match rb[i] {
                b'[' | b'(' | b'{' => {
                    let close = match rb[i] {
                        b'[' => b']',
                        b'(' => b')',
                        _ => b'}',
                    };
                    if rest.len() >= 3 && rest[1] == b'.' && rest[2] == close {
                        Some((3, '.'))
                    } else if rest.len() >= 5
                        && rest[1..4].eq_ignore_ascii_case(b"dot")
                        && rest[4] == close
                    {
                        Some((5, '.'))
                    } else if rest.len() >= 3 && rest[1] == b'/' && rest[2] == close {
                        Some((3, '/'))
                    } else if rb[i] == b'[' && rest.starts_with(b"[:]") {
                        Some((3, ':'))
                    } else if rest.len() >= 3 && rest[1] == b'@' && rest[2] == close {
                        Some((3, '@'))
                    } else {
                        None
                    }
                }
                b'\\' if slashes == Slashes::Backslash => Some((1, '/')),
                0xef if rest.starts_with(FW_SLASH) => Some((FW_SLASH.len(), '/')),
                b'\\' if slashes == Slashes::Json && rest.get(1) == Some(&b'/') => Some((2, '/')),
                _ => None,
            };
            if let Some((len, ch)) = rep {
                out.push_str(&raw[copied..i]);
                out.push(ch);
                // JSON escaping is no defang
                defanged |= rb[i] != b'\\' || slashes != Slashes::Json;
                i += len;
                copied = i;
            } else {
                i += 1;
            }
        }
        out.push_str(&raw[copied..]);
        (end, Cow::Owned(out), defanged)
    }

    /// An HTML entity that ends a URL in escaped markup (`&quot;`, `&gt;`, …).
    fn html_entity_at(&self, q: usize) -> bool {
        [
            &b"&quot;"[..],
            b"&gt;",
            b"&lt;",
            b"&#39;",
            b"&#34;",
            b"&apos;",
            b"&#x27;",
            b"&#x22;",
        ]
        .iter()
        .any(|e| self.starts_ci(q, e))
    }

    // ------------------------------------------------------------ IPv6

    fn try_ipv6(&mut self, start: usize) -> Option<usize> {
        let b = self.b;
        let mut q = start;
        while q < b.len() && (b[q].is_ascii_hexdigit() || b[q] == b':' || b[q] == b'.') {
            q += 1;
            if q - start > MAX_IPV6 {
                // hex dumps and colon art: nothing; skip only the first word
                return None;
            }
        }
        // `2001:db8::1g`, `fe80::1_x`: part of a longer token
        if self.at(q).is_ascii_alphanumeric() || self.at(q) == b'_' {
            return None;
        }
        let mut e = q;
        while e > start && b[e - 1] == b'.' {
            e -= 1;
        }
        if e >= start + 2 && b[e - 1] == b':' && b[e - 2] != b':' {
            e -= 1;
        }
        let cand = self.text.get(start..e)?;
        let addr: Ipv6Addr = cand.parse().ok()?;
        let compressed = cand.contains("::");
        // MAC addresses and EUI-64 (`00:1a:2b:…`), clock-like runs
        if !compressed && cand.split(':').all(|g| g.len() <= 2) {
            return None;
        }
        let hex_digits = cand.bytes().filter(u8::is_ascii_hexdigit).count();
        if hex_digits < 4 && cand != "::1" {
            return None;
        }
        // `Add::Bad`, `dead::beef`: identifiers, not addresses
        if compressed && !cand.bytes().any(|c| c.is_ascii_digit()) {
            return None;
        }
        if self.at(e) == b'/' {
            if let Some((len, ce)) = self.prefix_len(e + 1, 128) {
                let (v, mut num) = (canon::ipv6_text(addr), itoa::Buffer::new());
                self.emit_parts(IocType::Cidr, [&*v, "/", num.format(len)], start, ce, false);
                return Some(ce);
            }
        }
        self.emit(IocType::Ipv6, &canon::ipv6_text(addr), start, e, false);
        Some(e)
    }

    // ------------------------------------------------------------ tokens

    /// Hash, bitcoin address, CVE id or AS number in the ASCII run `start..end`.
    fn try_token(&mut self, start: usize, end: usize) -> Option<usize> {
        let first = self.at(start);
        if first | 0x20 == b'c' {
            if let Some((v, e)) = token::parse_cve(self.text, start) {
                self.emit(IocType::Cve, &v, start, e, false);
                return Some(e);
            }
        }
        if first | 0x20 == b'a' {
            if let Some((v, e)) = token::parse_asn(self.b, start) {
                self.emit(IocType::Asn, &v, start, e, false);
                return Some(e);
            }
        }
        let len = end - start;
        if len < 26 {
            return None;
        }
        if self.try_hashes(start, end) {
            return Some(end);
        }
        let s = &self.b[start..end];
        let base58 = (first == b'1' || first == b'3') && len <= 35;
        let bech32 = len >= 42 && s[..3].eq_ignore_ascii_case(b"bc1");
        // Checksums are verified by core's canonical form, which the store applies too.
        if base58 || bech32 {
            if let Ok(value) = rexist_core::canonicalize(IocType::Btc, &self.text[start..end]) {
                self.emit(IocType::Btc, &value, start, end, false);
                return Some(end);
            }
        }
        None
    }

    /// Hex digests in the run, also as parts of `-`/`_`-joined names (`sample_<md5>`).
    fn try_hashes(&mut self, start: usize, end: usize) -> bool {
        let mut found = false;
        let mut p = start;
        // the piece before, in a joined name: `authentihash-3f1b…` names its value
        let mut prev_piece: &[u8] = &[];
        while p < end {
            let q = swar::position2(&self.b[p..end], b'-', b'_').map_or(end, |k| p + k);
            if let Some(kind) = token::hash_kind(q - p) {
                let s = &self.b[p..q];
                if token::plausible_digest(s)
                    && !context::is_one_of(prev_piece, NOT_FILE_HASH)
                    && !self.not_a_file_hash(start)
                {
                    self.emit(kind, &self.text[p..q], p, q, false);
                    self.lower_last_value();
                    found = true;
                }
            }
            prev_piece = &self.b[p..q];
            p = q + 1;
        }
        found
    }

    /// `commit 2424756…`, `imphash 713e…`, `transaction 286e…`: hex that is no file hash.
    fn not_a_file_hash(&self, start: usize) -> bool {
        let (mut w, mut k) = context::prev_words(self.b, start, 8);
        if k == 0 {
            // a value alone on its line is named at the end of the line before
            // (`imphash:\n713e…`)
            // (bounded look-back: the scan stays linear)
            let floor = start.saturating_sub(16);
            let mut nl = start;
            while nl > floor && matches!(self.b[nl - 1], b' ' | b'\t') {
                nl -= 1;
            }
            if nl > 0 && self.b[nl - 1] == b'\n' {
                let mut end = nl - 1;
                if end > 0 && self.b[end - 1] == b'\r' {
                    end -= 1;
                }
                (w, k) = context::prev_words(self.b, end, 2);
            }
        }
        let mut seen = 0;
        for word in &w[..k] {
            // numbers between cue and value (`JA3 771,4865-4866,0 hash <md5>`) do not count
            if word.iter().all(u8::is_ascii_digit) {
                continue;
            }
            seen += 1;
            if seen > 4 {
                break;
            }
            if context::is_one_of(word, HASH_NAMES) {
                return false;
            }
            if context::is_one_of(word, NOT_FILE_HASH) {
                return true;
            }
        }
        false
    }
}
