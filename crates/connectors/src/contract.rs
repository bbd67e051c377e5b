//! The run contract, in one place: what makes an upstream's answer
//! trustworthy, and how a run ends.
//!
//! A run ends in one of three ways (plus `not_modified`, an upstream's own
//! word that nothing changed):
//!
//! - **success**: every request answered, every page stored; the cursor moves
//!   to where the run ended, and a snapshot list replaces the listed set.
//! - **partial**: some pages or rows were stored, then something went wrong;
//!   the cursor moves only past what was stored (the last checkpoint), and a
//!   snapshot list delists nothing.
//! - **failed**: nothing was stored and nothing changed.
//!
//! An answer is not trusted when it is empty, when it is an HTML page where a
//! list, CSV, JSON or XML document was expected (a proxy's or a login page
//! served with HTTP 200), when it was cut short (no final newline, an
//! unterminated JSON document), when too many of its lines would not decode
//! or parse, or, for a snapshot list, when it shrank by more than `max_shrink`
//! against the last good run. Each of these is a reason on the run, never a
//! silent `success`.

use rexist_core::RunOutcome;

/// What a trustworthy answer to a request looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A JSON document (an API page).
    Json,
    /// An XML document (RSS, RDF, Atom, MyJVN).
    Xml,
    /// A text list or CSV file.
    Text,
    /// Anything but an empty body (a body checked by its own parser).
    Any,
}

impl Expect {
    /// The name used in reasons.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "JSON",
            Self::Xml => "XML",
            Self::Text => "a list or CSV file",
            Self::Any => "a body",
        }
    }
}

/// Why an answer is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Untrusted {
    /// HTTP 200 with no body.
    #[error("empty answer (HTTP 200 with no body)")]
    Empty,
    /// An HTML page where something else was expected.
    #[error("an HTML page where {expected} was expected{}", title.as_ref().map(|t| format!(" (title {t:?})")).unwrap_or_default())]
    Html {
        /// What was expected.
        expected: &'static str,
        /// The page's `<title>`, shortened, when it has one: what the proxy or login page said.
        title: Option<String>,
    },
    /// A body cut short.
    #[error("truncated answer: {0}")]
    Truncated(String),
    /// Too many rows that would not decode or parse.
    #[error("{bad} of {total} values rejected or undecodable (more than {limit_percent} %)")]
    TooManyRejected {
        /// Rows rejected or undecodable.
        bad: u64,
        /// Rows read.
        total: u64,
        /// The configured limit.
        limit_percent: u32,
    },
    /// A snapshot list that shrank too much against the last good run.
    #[error(
        "list shrank from {previous} to {now} values (more than max_shrink {limit_percent} %); nothing delisted"
    )]
    Shrank {
        /// Values listed by the last good run.
        previous: u64,
        /// Values listed now.
        now: u64,
        /// The configured limit.
        limit_percent: u32,
    },
}

impl Untrusted {
    /// A list or CSV whose last line has no newline.
    pub fn cut_line() -> Self {
        Self::Truncated("the last line has no newline: the download was cut short".to_owned())
    }
}

/// Bytes of a body's start that [`sniff`] looks at.
pub const SNIFF_BYTES: usize = 1024;

/// Checks the start of an answer (`head`, at most [`SNIFF_BYTES`]) and its
/// `Content-Type` against what was `expected`: an empty body, or an HTML page
/// where no HTML was expected, is not trusted. `total` is the body's length.
pub fn sniff(
    head: &[u8],
    total: u64,
    content_type: Option<&str>,
    expected: Expect,
) -> Result<(), Untrusted> {
    let text = strip_bom(head).trim_ascii_start();
    if total == 0 || (text.is_empty() && total <= head.len() as u64) {
        return Err(Untrusted::Empty);
    }
    if looks_like_html(text, content_type) {
        return Err(Untrusted::Html {
            expected: expected.as_str(),
            title: html_title(head),
        });
    }
    Ok(())
}

/// Whether a whole in-memory JSON body is complete: parsers report broken
/// JSON themselves, but say "EOF while parsing" for a body cut short, which
/// is a truncation, not a format change.
pub fn json_truncated(body: &[u8]) -> bool {
    let t = body.trim_ascii_end();
    !(t.ends_with(b"}") || t.ends_with(b"]"))
}

/// Whether a whole XML body lacks the closing tag of its root element (a
/// cut download does; an empty root `<rss/>` is complete).
pub fn xml_truncated(body: &[u8]) -> bool {
    let mut rest = strip_bom(body).trim_ascii_start();
    // Skip the declaration, processing instructions, comments and a doctype.
    while rest.starts_with(b"<?") || rest.starts_with(b"<!") {
        let close: &[u8] = if rest.starts_with(b"<!--") {
            b"-->"
        } else {
            b">"
        };
        match rest.windows(close.len()).position(|w| w == close) {
            Some(i) => rest = rest[i + close.len()..].trim_ascii_start(),
            None => return true,
        }
    }
    let Some(tag) = rest.strip_prefix(b"<") else {
        return true;
    };
    let name_len = tag
        .iter()
        .position(|b| b.is_ascii_whitespace() || *b == b'>' || *b == b'/')
        .unwrap_or(tag.len());
    let name = &tag[..name_len];
    let end = body.trim_ascii_end();
    if name.is_empty() {
        return true;
    }
    // `<rss/>` alone: an empty root is complete.
    let self_closed = tag
        .iter()
        .position(|b| *b == b'>')
        .is_some_and(|i| i > 0 && tag[i - 1] == b'/' && tag[i + 1..].trim_ascii().is_empty());
    if self_closed {
        return false;
    }
    let Some(open) = end.iter().rposition(|b| *b == b'<') else {
        return true;
    };
    let closing = &end[open..];
    !(closing.starts_with(b"</")
        && closing[2..]
            .strip_prefix(name)
            .is_some_and(|r| r.trim_ascii() == b">"))
}

/// Whether a whole text list or CSV body lacks its final newline: every
/// list and CSV export ends its last line, so a body that does not was cut
/// short (and its last line may be a value cut in two).
pub fn text_truncated(body: &[u8]) -> bool {
    body.last() != Some(&b'\n')
}

/// Checks a whole in-memory answer: [`sniff`], then truncation for JSON,
/// XML and text.
pub fn check_body(
    body: &[u8],
    content_type: Option<&str>,
    expected: Expect,
) -> Result<(), Untrusted> {
    let head = &body[..body.len().min(SNIFF_BYTES)];
    sniff(head, body.len() as u64, content_type, expected)?;
    let body = strip_bom(body);
    match expected {
        Expect::Json if json_truncated(body) => Err(Untrusted::Truncated(
            "the JSON document does not end with } or ]".to_owned(),
        )),
        Expect::Xml if xml_truncated(body) => Err(Untrusted::Truncated(
            "the XML document does not end with a closing tag".to_owned(),
        )),
        Expect::Text if text_truncated(body) => Err(Untrusted::cut_line()),
        _ => Ok(()),
    }
}

fn strip_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b)
}

/// An HTML page: it opens with a doctype or an `<html>`, `<head>` or `<body>`
/// tag, or it is served as `text/html` and opens with a tag. A list, CSV or
/// JSON body never opens with `<`; an XML feed opens with `<?xml` or its own
/// root element, neither of which is HTML's.
fn looks_like_html(text: &[u8], content_type: Option<&str>) -> bool {
    let start: Vec<u8> = text.iter().take(15).map(u8::to_ascii_lowercase).collect();
    let tagged = ["<!doctype html", "<html", "<head", "<body"]
        .iter()
        .any(|p| start.starts_with(p.as_bytes()));
    let served_as_html = content_type.is_some_and(|c| {
        c.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/html"))
    });
    tagged || (served_as_html && text.first() == Some(&b'<') && !start.starts_with(b"<?xml"))
}

/// The `<title>` of an HTML page's start, shortened: it names the proxy or
/// login page that answered instead of the feed.
fn html_title(head: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower[start..].find("</title>")?;
    let title: String = text
        .get(start..end)?
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (!title.is_empty()).then(|| title.chars().take(80).collect())
}

/// Limits of a snapshot list's contract.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SnapshotLimits {
    /// Largest share (0–1) the list may shrink by against the last good run
    /// before the run delists nothing (`max_shrink`, default 0.5).
    pub max_shrink: f64,
    /// Largest share (0–1) of values that may be rejected or undecodable
    /// before the answer is not trusted (`max_rejected`, default 0.5).
    pub max_rejected: f64,
}

impl Default for SnapshotLimits {
    fn default() -> Self {
        Self {
            max_shrink: 0.5,
            max_rejected: 0.5,
        }
    }
}

/// Lists shorter than this are not judged for shrinking: a list of three
/// that loses two is not a broken answer.
const SHRINK_FLOOR: u64 = 20;

fn percent(share: f64) -> u32 {
    // A share is 0–1 after validation; the cast only rounds it.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let p = (share * 100.0).round().clamp(0.0, 100.0) as u32;
    p
}

/// Whether too many of `total` values were rejected or undecodable.
pub fn check_rejected(bad: u64, total: u64, limits: &SnapshotLimits) -> Result<(), Untrusted> {
    if total == 0 {
        return Ok(());
    }
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let share = bad as f64 / total as f64;
    if share > limits.max_rejected {
        return Err(Untrusted::TooManyRejected {
            bad,
            total,
            limit_percent: percent(limits.max_rejected),
        });
    }
    Ok(())
}

/// Whether a snapshot of `now` values may replace one of `previous` values.
pub fn check_shrink(
    previous: Option<u64>,
    now: u64,
    limits: &SnapshotLimits,
) -> Result<(), Untrusted> {
    let Some(previous) = previous.filter(|p| *p >= SHRINK_FLOOR) else {
        return Ok(());
    };
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let kept = now as f64 / previous as f64;
    if now < previous && 1.0 - kept > limits.max_shrink {
        return Err(Untrusted::Shrank {
            previous,
            now,
            limit_percent: percent(limits.max_shrink),
        });
    }
    Ok(())
}

/// How a run that stopped, or not, ends: success without a failure; with one,
/// partial when anything was stored, else failed.
pub fn outcome(failure: bool, stored: u64) -> RunOutcome {
    match (failure, stored) {
        (false, _) => RunOutcome::Success,
        (true, 0) => RunOutcome::Failed,
        (true, _) => RunOutcome::Partial,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_pages_are_refused_whatever_was_expected() {
        let proxy = b"<!DOCTYPE html><html><head><title>Access   Denied</title></head><body>..";
        for expected in [Expect::Json, Expect::Xml, Expect::Text, Expect::Any] {
            let e = check_body(proxy, Some("text/html"), expected).unwrap_err();
            assert_eq!(
                e,
                Untrusted::Html {
                    expected: expected.as_str(),
                    title: Some("Access Denied".to_owned())
                }
            );
        }
        assert!(
            check_body(
                b"\xEF\xBB\xBF  <HTML><body>x</body></HTML>\n",
                None,
                Expect::Text
            )
            .is_err()
        );
        // Served as text/html but a plain list: the body decides.
        assert!(
            check_body(
                b"192.0.2.1\n",
                Some("text/html; charset=utf-8"),
                Expect::Text
            )
            .is_ok()
        );
        // RSS served as text/html is still XML.
        assert!(
            check_body(
                b"<?xml version=\"1.0\"?><rss></rss>",
                Some("text/html"),
                Expect::Xml
            )
            .is_ok()
        );
        assert!(check_body(b"<rdf:RDF></rdf:RDF>", None, Expect::Xml).is_ok());
    }

    #[test]
    fn empty_and_truncated_bodies() {
        assert_eq!(check_body(b"", None, Expect::Text), Err(Untrusted::Empty));
        assert_eq!(
            check_body(b" \n\r\n", None, Expect::Json),
            Err(Untrusted::Empty)
        );
        assert!(matches!(
            check_body(b"{\"results\": [1, 2", None, Expect::Json),
            Err(Untrusted::Truncated(_))
        ));
        assert!(check_body(b"{\"results\": []}\n", None, Expect::Json).is_ok());
        assert!(matches!(
            check_body(b"<rss><channel><item>", None, Expect::Xml),
            Err(Untrusted::Truncated(_))
        ));
        let whole = b"\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<!-- c -->\n<rdf:RDF x=\"1\"><item/></rdf:RDF >\n";
        assert!(check_body(whole, None, Expect::Xml).is_ok());
        assert!(check_body(b"<rss/>", None, Expect::Xml).is_ok());
        assert!(check_body(b"<rss></channel>", None, Expect::Xml).is_err());
        assert!(matches!(
            check_body(b"id,file\n1,exploits/a.py\n2,expl", None, Expect::Text),
            Err(Untrusted::Truncated(_))
        ));
        assert!(check_body(b"id,file\n1,exploits/a.py\n", None, Expect::Text).is_ok());
    }

    #[test]
    fn rejection_and_shrink_limits() {
        let l = SnapshotLimits::default();
        assert!(check_rejected(5, 10, &l).is_ok());
        assert!(check_rejected(6, 10, &l).is_err());
        assert!(check_rejected(0, 0, &l).is_ok());
        assert!(check_shrink(None, 0, &l).is_ok(), "no previous good run");
        assert!(
            check_shrink(Some(5), 0, &l).is_ok(),
            "tiny lists are not judged"
        );
        assert!(check_shrink(Some(1000), 500, &l).is_ok(), "exactly half");
        let e = check_shrink(Some(1000), 499, &l).unwrap_err().to_string();
        assert!(e.contains("1000 to 499") && e.contains("50 %"), "{e}");
        assert!(check_shrink(Some(1000), 5000, &l).is_ok(), "growth");
        let strict = SnapshotLimits {
            max_shrink: 0.1,
            ..l
        };
        assert!(check_shrink(Some(100), 89, &strict).is_err());
    }

    #[test]
    fn outcomes() {
        assert_eq!(outcome(false, 0), RunOutcome::Success);
        assert_eq!(outcome(true, 0), RunOutcome::Failed);
        assert_eq!(outcome(true, 3), RunOutcome::Partial);
    }
}
