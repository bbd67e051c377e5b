//! Context cues: the words around a candidate that decide what syntax alone cannot.
//!
//! `1.0.4.128` is a valid address, `invoice.zip` a valid domain and
//! `713e4b4d04c227243522386f7753aa08` a valid MD5; "firmware", "attachment" and
//! "imphash" say they are not indicators. The look-around is bounded (a few words, one
//! line) so it costs nothing measurable and cannot make the scan super-linear.

/// How far back (bytes) a cue may stand before the candidate.
const LOOK_BACK: usize = 64;

/// Whether `c` glues words into one token (`files-285.info`, `SHA-256`, `1.2.3`).
fn glue(c: u8) -> bool {
    CONTEXT_CLASS[usize::from(c)] & GLUE != 0
}

/// [`CONTEXT_CLASS`] bit: the byte glues words into one token.
const GLUE: u8 = 1;
/// [`CONTEXT_CLASS`] bit: the byte is an ASCII letter or digit.
const ALNUM: u8 = 2;

/// Each byte's [`GLUE`] and [`ALNUM`] bits: one look-up a byte when walking back over
/// the words before a candidate.
#[allow(clippy::cast_possible_truncation)] // i < 256
static CONTEXT_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        if c.is_ascii_alphanumeric() {
            t[i] = GLUE | ALNUM;
        } else if matches!(c, b'.' | b'-' | b'_' | b'@' | b'/' | b'\\') {
            t[i] = GLUE;
        }
        i += 1;
    }
    t
};

/// Up to `max` (at most eight) ASCII words before `pos` on the same line, nearest first. Tokens that are
/// not plain words (`evil.com`, `SHA-256`, `0-23-65281`) are passed over: a cue must be a
/// word of its own, not part of a neighbouring name.
pub(crate) fn prev_words(b: &[u8], pos: usize, max: usize) -> ([&[u8]; 8], usize) {
    let mut out: [&[u8]; 8] = [&[]; 8];
    let mut n = 0;
    let mut p = pos.min(b.len());
    let floor = pos.saturating_sub(LOOK_BACK);
    while n < out.len().min(max) && p > floor {
        // skip separators, but never cross a line break
        while p > floor && !glue(b[p - 1]) {
            if b[p - 1] == b'\n' {
                return (out, n);
            }
            p -= 1;
        }
        let end = p;
        // whether every byte of the token is a letter or digit, found on the way
        let mut all = ALNUM;
        while p > floor {
            let k = CONTEXT_CLASS[usize::from(b[p - 1])];
            if k & GLUE == 0 {
                break;
            }
            all &= k;
            p -= 1;
        }
        if p == end {
            break;
        }
        if all == ALNUM {
            out[n] = &b[p..end];
            n += 1;
        }
    }
    (out, n)
}

/// The ASCII word after `pos` on the same line, skipping spaces and light punctuation;
/// empty when the next token is not a plain word.
pub(crate) fn next_word(b: &[u8], pos: usize) -> &[u8] {
    let mut p = pos;
    let limit = (pos + 4).min(b.len());
    while p < limit && matches!(b[p], b' ' | b'\t' | b')' | b'"' | b'\'' | b',') {
        p += 1;
    }
    let start = p;
    while p < b.len() && p - start < 24 && b[p].is_ascii_alphanumeric() {
        p += 1;
    }
    if b.get(p).is_some_and(|&c| glue(c)) {
        return &[];
    }
    &b[start..p]
}

/// Whether `word` equals one of `set`, ignoring ASCII case.
pub(crate) fn is_one_of(word: &[u8], set: &WordSet) -> bool {
    // most words have a length no member has: one shift and mask, no comparison
    word.len() < 64
        && set.lens >> word.len() & 1 == 1
        && set
            .list
            .iter()
            .any(|s| s.as_bytes().eq_ignore_ascii_case(word))
}

/// A list of lower-case words with the set of their lengths, for [`is_one_of`].
pub(crate) struct WordSet {
    list: &'static [&'static str],
    /// Bit `n` is set when a member is `n` bytes long (members are shorter than 64).
    lens: u64,
}

impl WordSet {
    const fn new(list: &'static [&'static str]) -> Self {
        let mut lens = 0u64;
        let mut i = 0;
        while i < list.len() {
            assert!(!list[i].is_empty() && list[i].len() < 64, "word length");
            lens |= 1 << list[i].len();
            i += 1;
        }
        WordSet { list, lens }
    }
}

/// Words between a version cue and a dotted quad (`version 2 through 1.0.4.128`).
pub(crate) const VERSION_BETWEEN: &WordSet = &WordSet::new(&[
    "to", "is", "from", "of", "no", "number", "v", "through", "thru", "until", "and", "or",
]);

/// Words that join two versions (`1.0.4.128 and 1.0.4.130`).
pub(crate) const AND_OR: &WordSet = &WordSet::new(&["and", "or"]);

/// Words after which a dotted quad is a version, not an address (`firmware 1.0.4.128`).
pub(crate) const VERSION_CUES: &WordSet = &WordSet::new(&[
    "version",
    "versions",
    "ver",
    "v",
    "vers",
    "firmware",
    "fw",
    "build",
    "builds",
    "release",
    "releases",
    "rel",
    "patch",
    "patched",
    "patches",
    "update",
    "updated",
    "upgrade",
    "upgraded",
    "fixed",
    "kernel",
    "oid",
    "snmp",
    "revision",
    "rev",
    "driver",
    "bios",
    "agent",
    "client",
    "sdk",
    "api",
    "library",
    "package",
    "plugin",
    "section",
    "chapter",
    "figure",
    "fig",
    "table",
    "step",
    "rule",
    "clause",
    "paragraph",
    "appendix",
    "annex",
]);

/// Words after a dotted quad that make it a version (`7.2.0.1 and earlier`).
pub(crate) const VERSION_AFTER: &WordSet = &WordSet::new(&[
    "earlier", "later", "above", "below", "prior", "through", "thru",
]);

/// Words before a hex string that say it is not a file hash.
pub(crate) const NOT_FILE_HASH: &WordSet = &WordSet::new(&[
    "commit",
    "commits",
    "committed",
    "imphash",
    // `import hash`, `Import Hash:`: an imphash spelled out
    "import",
    "imports",
    "authentihash",
    "sdhash",
    "mmh3",
    "favicon",
    "ja3",
    "ja3s",
    "ja4",
    "ja4s",
    "jarm",
    "hassh",
    "transaction",
    "transactions",
    "txid",
    "tx",
    "txn",
    "tlsh",
    "session",
    "token",
    "nonce",
    "uuid",
    "guid",
    "revision",
    "rev",
    "changeset",
    "blockhash",
    "serial",
    "secret",
    "cookie",
    "pehash",
    "vhash",
    "telfhash",
    "richhash",
    "fuzzyhash",
    "ssdeep",
    "key",
    "apikey",
    "password",
]);

/// Words that name a file hash; seen first when looking back, they end the look-back.
pub(crate) const HASH_NAMES: &WordSet = &WordSet::new(&[
    "md5",
    "sha1",
    "sha256",
    "sha512",
    "sha",
    "md5sum",
    "sha256sum",
    "sha1sum",
    "sha512sum",
]);

/// Words just before a name that make it a file name (`attachment invoice.zip`).
pub(crate) const FILE_BEFORE: &WordSet = &WordSet::new(&[
    "file",
    "files",
    "filename",
    "named",
    "called",
    "attachment",
    "attachments",
    "attached",
    "archive",
    "script",
    "executable",
    "binary",
    "document",
    "bundle",
    "package",
    "library",
    "module",
    "dll",
    "run",
    "runs",
    "execute",
    "executes",
    "executed",
    "launch",
    "launches",
    "launched",
    "drop",
    "drops",
    "dropped",
    "write",
    "writes",
    "wrote",
    "written",
    "save",
    "saves",
    "saved",
    "rename",
    "renamed",
    "extract",
    "extracts",
    "extracted",
    "unzip",
    "unzipped",
    "edit",
    "edited",
    "compile",
    "compiled",
    "import",
    "imports",
    "plugin",
]);

/// Words just after a name that make it a file name (`sample.app bundle`).
pub(crate) const FILE_AFTER: &WordSet = &WordSet::new(&[
    "file",
    "files",
    "bundle",
    "archive",
    "attachment",
    "script",
    "package",
    "executable",
    "binary",
    "document",
    "module",
    "library",
    "extension",
    "installer",
    "plugin",
    "macro",
]);

/// TLDs that are also common file extensions. A two-label name ending in one of them,
/// written plainly (not defanged, not followed by a path), is taken as a file name:
/// `install.sh`, `bot.py`, `invoice.zip`, `readme.md`, `notes.one`, `clip.mov`.
pub(crate) const FILE_EXT_TLDS: &WordSet = &WordSet::new(&[
    "zip", "mov", "sh", "py", "md", "rs", "pl", "one", "so", "ps", "pm", "mk", "cab", "tf", "mo",
]);

/// Common file extensions that are not TLDs; before a TLD-like last label they make a
/// double extension (`setup.exe.zip`).
pub(crate) const FILE_EXTS: &WordSet = &WordSet::new(&[
    "exe", "dll", "pdf", "doc", "docx", "docm", "xls", "xlsx", "xlsm", "ppt", "pptx", "rtf", "jpg",
    "jpeg", "png", "gif", "txt", "js", "vbs", "ps1", "bat", "cmd", "scr", "lnk", "iso", "img",
    "rar", "7z", "tar", "gz", "html", "htm", "php", "hta", "msi", "jar", "apk", "bin", "dat",
    "csv", "json", "xml", "svg", "mp4", "mp3", "avi", "tmp", "log", "cfg", "ini",
]);

/// First labels of reverse-DNS code identifiers (`com.android.system.update`).
pub(crate) const PACKAGE_ROOTS: &WordSet = &WordSet::new(&[
    "com", "org", "net", "io", "edu", "gov", "java", "javax", "android", "androidx", "kotlin",
    "sun", "jdk",
]);

/// Receivers in code (`user.name`, `self.id`, `window.open`): a two-label name whose
/// first label is one of these is a member access, not a domain.
pub(crate) const CODE_RECEIVERS: &WordSet = &WordSet::new(&[
    "this", "self", "obj", "args", "req", "res", "os", "sys", "window", "document", "console",
    "process", "math", "json", "module", "exports", "util", "props", "state", "env", "params",
    "opts", "ctx", "user", "item", "node", "el", "element", "event", "err", "error", "response",
    "request", "result", "config", "settings", "options", "string", "object", "array",
]);

/// Names that are product or framework names although they parse as domains.
pub(crate) const NOT_DOMAINS: &[&str] = &["asp.net", "vb.net", "ado.net"];

/// TLDs accepted after the prose form `evil dot com`; the word form is common in
/// English, so only the usual TLDs count.
pub(crate) const WORD_DOT_TLDS: &WordSet = &WordSet::new(&[
    "com", "net", "org", "info", "biz", "io", "co", "ru", "cn", "su", "xyz", "top", "me", "tk",
    "pw", "cc", "uk", "de", "fr", "jp", "kr", "br", "us", "eu", "in", "online", "site", "live",
    "club", "shop", "store", "app", "dev", "tech", "ml", "ga", "cf", "gq",
]);

/// Words before a prose ` at ` that make it prose, not an address: "look at
/// example[dot]com" names a site.
pub(crate) const AT_PROSE: &WordSet = &WordSet::new(&[
    "look",
    "looks",
    "looking",
    "looked",
    "found",
    "hosted",
    "located",
    "available",
    "live",
    "seen",
    "aimed",
    "targeted",
    "directed",
    "pointed",
    "pointing",
    "points",
    "go",
    "going",
    "went",
    "arrived",
    "is",
    "are",
    "was",
    "were",
    "be",
    "it",
    "them",
    "this",
    "that",
    "us",
    "me",
    "him",
    "her",
    "traffic",
    "data",
    "site",
    "page",
    "phishing",
    "stop",
    "stops",
]);

/// Words that never are the first label of `evil dot com`.
pub(crate) const WORD_DOT_STOP: &WordSet = &WordSet::new(&[
    "the", "a", "an", "this", "that", "of", "to", "in", "on", "at", "is", "it", "by", "for", "and",
    "or", "with", "red", "blue", "green", "black", "white", "small", "single", "little", "polka",
    "first", "last", "one", "two", "each", "every", "big", "tiny", "same",
]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prev_words_stop_at_line_break() {
        let t = b"firmware version: 1.0.4.128";
        let (w, n) = prev_words(t, 18, 8);
        assert_eq!(n, 2);
        assert_eq!(w[0], b"version");
        assert_eq!(w[1], b"firmware");
        let t = b"firmware\n1.2.3.4";
        assert_eq!(prev_words(t, 9, 8).1, 0);
    }

    #[test]
    fn next_word_skips_punctuation() {
        assert_eq!(next_word(b"x.app bundle", 5), b"bundle");
        assert_eq!(next_word(b"x.app) file", 5), b"file");
        assert_eq!(next_word(b"x.app", 5), b"");
        assert_eq!(next_word(b"a.site files-285.info", 6), b"");
    }

    #[test]
    fn prev_words_pass_over_names() {
        let t = b"JA3 771,4865-4866,0-23-65281 hash ";
        let (w, n) = prev_words(t, t.len(), 8);
        assert_eq!(&w[..n], &[&b"hash"[..], b"771", b"JA3"]);
    }

    #[test]
    fn one_of_ignores_case() {
        assert!(is_one_of(b"Firmware", VERSION_CUES));
        assert!(!is_one_of(b"", VERSION_CUES));
    }
}
