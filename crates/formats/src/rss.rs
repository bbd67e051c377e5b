//! News feeds: RSS 2.0 (and 0.91/0.92), RSS 1.0/RDF (and 0.90) and Atom 1.0
//! (INTERFACES.md §6.12b, §6.16).
//!
//! Each entry becomes an [`ItemRecord::text`] of kind `News`: the pipeline
//! extracts indicators from its title and body. Bodies are HTML turned into
//! plain text ([`crate::html::to_text`]). Encodings come from the BOM or the
//! XML declaration (JPCERT's older `Shift_JIS` feeds); bytes that do not match
//! it are an error, not mojibake.

use rexist_core::{ItemKind, ItemRecord, NewItem, Rejected};
use serde_json::json;
use time::OffsetDateTime;

use crate::dates;
use crate::error::{FormatError, truncate};
use crate::html;
use crate::xml::{self, Element, ns};

const FORMAT: &str = "news feed";

/// RSS 0.90's namespaces (RDF-based like 1.0); both spellings are in use.
const RSS090: [&str; 2] = [
    "http://my.netscape.com/rdf/simple/0.9/",
    "http://channel.netscape.com/rdf/simple/0.9/",
];

/// Which syndication format a document was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    /// RSS 0.91, 0.92 or 2.0 (`<rss>`).
    Rss2,
    /// RSS 0.90 or 1.0 (`<rdf:RDF>`).
    Rdf,
    /// Atom 1.0 (`<feed>`).
    Atom,
}

/// A parsed news feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    /// The syndication format.
    pub kind: FeedKind,
    /// The feed's own title.
    pub title: Option<String>,
    /// The feed-level language, lower-case primary subtag (`en`, `ja`).
    pub lang: Option<String>,
    /// One item per usable entry, in document order.
    pub records: Vec<ItemRecord>,
    /// Entries that could not be used (`at` = `item 3`).
    pub rejected: Vec<Rejected>,
}

/// Parses an RSS 2.0, RSS 1.0/RDF or Atom document.
pub fn parse(body: &[u8]) -> Result<Feed, FormatError> {
    let root = xml::parse(FORMAT, body)?;
    let root_lang = attr_lang(&root);
    if root.is(None, "rss") {
        let channel = root
            .first(None, "channel")
            .ok_or_else(|| FormatError::Shape {
                format: FORMAT,
                what: "<rss> without <channel>".into(),
            })?;
        let lang = channel
            .child_text(None, "language")
            .or_else(|| channel.child_text(Some(ns::DC), "language"))
            .map(|l| normalise_lang(&l))
            .or(root_lang);
        let title = channel.child_text(None, "title");
        let entries: Vec<&Element> = channel.all(None, "item").collect();
        Ok(build(FeedKind::Rss2, title, lang, &entries, |e| {
            rss_entry(e, None)
        }))
    } else if root.is(Some(ns::RDF), "RDF") {
        // RSS 1.0 items are siblings of <channel>, in the 1.0 (or 0.90) namespace.
        let item_ns = RSS090
            .into_iter()
            .find(|n| {
                root.first(Some(n), "channel").is_some() || root.first(Some(n), "item").is_some()
            })
            .unwrap_or(ns::RSS1);
        let channel = root.first(Some(item_ns), "channel");
        let title = channel.and_then(|c| c.child_text(Some(item_ns), "title"));
        let lang = channel
            .and_then(|c| c.child_text(Some(ns::DC), "language"))
            .map(|l| normalise_lang(&l))
            .or(root_lang);
        let entries: Vec<&Element> = root.all(Some(item_ns), "item").collect();
        Ok(build(FeedKind::Rdf, title, lang, &entries, |e| {
            rss_entry(e, Some(item_ns))
        }))
    } else if root.is(Some(ns::ATOM), "feed") {
        let title = root.first(Some(ns::ATOM), "title").map(atom_text);
        let entries: Vec<&Element> = root.all(Some(ns::ATOM), "entry").collect();
        Ok(build(
            FeedKind::Atom,
            title,
            root_lang,
            &entries,
            atom_entry,
        ))
    } else {
        Err(FormatError::Shape {
            format: FORMAT,
            what: format!(
                "root element <{}> is not rss, rdf:RDF or atom feed",
                truncate(&root.name, 40)
            ),
        })
    }
}

/// What every format's entry reader yields before it becomes an item.
struct Entry {
    id: Option<String>,
    title: String,
    body: String,
    url: Option<String>,
    lang: Option<String>,
    published_at: Option<OffsetDateTime>,
    updated_at: Option<OffsetDateTime>,
    tags: Vec<String>,
    author: Option<String>,
}

fn build(
    kind: FeedKind,
    title: Option<String>,
    lang: Option<String>,
    entries: &[&Element],
    read: impl Fn(&Element) -> Entry,
) -> Feed {
    let mut feed = Feed {
        kind,
        title,
        lang,
        records: Vec::with_capacity(entries.len()),
        rejected: Vec::new(),
    };
    for (n, element) in entries.iter().enumerate() {
        let entry = read(element);
        // Some feeds omit link and guid: dedupe on title + date instead
        // (security-news.xml, last item), or on the text itself (RSS 0.92
        // items may be a bare description).
        let id = entry.id.clone().or_else(|| {
            if !entry.title.is_empty() {
                let when = entry
                    .published_at
                    .map_or(String::new(), |t| t.unix_timestamp().to_string());
                Some(format!("title:{}|{when}", entry.title))
            } else if !entry.body.is_empty() {
                Some(format!("text:{:016x}", fnv1a(entry.body.as_bytes())))
            } else {
                None
            }
        });
        let Some(external_id) = id else {
            feed.rejected.push(Rejected::new(
                format!("item {}", n + 1),
                "no id, link or title",
            ));
            continue;
        };
        let lang = entry
            .lang
            .or_else(|| japanese(&entry.title, &entry.body))
            .or_else(|| feed.lang.clone());
        let extra = json!({
            "feed_title": feed.title,
            "author": entry.author,
            "updated_at": entry.updated_at.map(OffsetDateTime::unix_timestamp),
        });
        feed.records.push(ItemRecord::text(NewItem {
            kind: ItemKind::News,
            external_id,
            title: entry.title,
            body: entry.body,
            url: entry.url,
            lang,
            published_at: entry.published_at.or(entry.updated_at),
            tlp: rexist_core::Tlp::Clear,
            tags: entry.tags,
            extra,
        }));
    }
    feed
}

/// An RSS 2.0 item (`ns` = `None`) or an RSS 1.0/0.90 item (`ns` = its namespace).
/// The article's text, preceded by the teaser when the article does not contain it.
fn article_and_teaser(article: Option<String>, teaser: Option<String>) -> String {
    match (article, teaser) {
        (Some(a), Some(t))
            if !t.trim().is_empty() && !a.contains(t.trim_end_matches(['…', '.', ' '])) =>
        {
            format!("{}\n\n{a}", t.trim())
        }
        (Some(a), _) => a,
        (None, Some(t)) => t,
        (None, None) => String::new(),
    }
}

fn rss_entry(e: &Element, ns: Option<&str>) -> Entry {
    let guid = e.child_text(ns, "guid");
    let link = e.child_text(ns, "link");
    let about = e.attr(Some(ns::RDF), "about").map(str::to_owned);
    let content = e.child_text(Some(ns::CONTENT), "encoded");
    let description = e.child_text(ns, "description");
    let mut tags: Vec<String> = e
        .all(ns, "category")
        .chain(e.all(Some(ns::DC), "subject"))
        .map(|c| c.text().trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    tags.dedup();
    let date =
        |name: &str, in_ns: Option<&str>| e.child_text(in_ns, name).and_then(|t| dates::any(&t));
    Entry {
        id: guid
            .or_else(|| link.clone())
            .or(about)
            .or_else(|| e.child_text(Some(ns::DC), "identifier")),
        title: e
            .child_text(ns, "title")
            .or_else(|| e.child_text(Some(ns::DC), "title"))
            .unwrap_or_default(),
        // `content:encoded` is the full article, `description` often a teaser;
        // a teaser can name indicators the article does not, so both are kept
        // when the teaser is not already part of the article.
        body: article_and_teaser(
            content.as_deref().map(html::to_text),
            description
                .or_else(|| e.child_text(Some(ns::DC), "description"))
                .as_deref()
                .map(html::to_text),
        ),
        url: link.or_else(|| e.attr(Some(ns::RDF), "about").map(str::to_owned)),
        lang: attr_lang(e).or_else(|| {
            e.child_text(Some(ns::DC), "language")
                .map(|l| normalise_lang(&l))
        }),
        published_at: date("pubDate", ns)
            .or_else(|| date("date", Some(ns::DC)))
            .or_else(|| date("issued", Some(ns::DCTERMS))),
        updated_at: date("modified", Some(ns::DCTERMS)),
        tags,
        author: e
            .child_text(Some(ns::DC), "creator")
            .or_else(|| e.child_text(ns, "author")),
    }
}

fn atom_entry(e: &Element) -> Entry {
    let a = Some(ns::ATOM);
    let url = e
        .all(a, "link")
        .find(|l| matches!(l.attr(None, "rel"), None | Some("alternate")))
        .and_then(|l| l.attr(None, "href"))
        .map(str::to_owned);
    let body = e
        .first(a, "content")
        .or_else(|| e.first(a, "summary"))
        .map(atom_text)
        .unwrap_or_default();
    let tags = e
        .all(a, "category")
        .filter_map(|c| c.attr(None, "term").or_else(|| c.attr(None, "label")))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    let date = |name: &str| e.child_text(a, name).and_then(|t| dates::any(&t));
    Entry {
        id: e.child_text(a, "id").or_else(|| url.clone()),
        title: e.first(a, "title").map(atom_text).unwrap_or_default(),
        body,
        url,
        lang: attr_lang(e),
        published_at: date("published"),
        updated_at: date("updated"),
        tags,
        author: e.first(a, "author").and_then(|au| au.child_text(a, "name")),
    }
}

/// An Atom text construct: `text` as is, `html` escaped markup, `xhtml`
/// inline markup (RFC 4287 §3.1).
fn atom_text(e: &Element) -> String {
    match e.attr(None, "type") {
        Some("html") => html::to_text(&e.text()),
        Some("xhtml") => html::to_text(&e.inner_markup()),
        _ => collapse(&e.text()),
    }
}

/// Plain text with its white space runs collapsed.
fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn attr_lang(e: &Element) -> Option<String> {
    e.attr(Some(ns::XML), "lang")
        .filter(|l| !l.trim().is_empty())
        .map(normalise_lang)
}

/// `ja` for text written in kana, whatever the feed-level language says:
/// English-language feeds carry Japanese items (security-news.xml), and
/// Japanese analysts filter on it. Kanji alone could be Chinese, so only
/// hiragana and katakana count.
fn japanese(title: &str, body: &str) -> Option<String> {
    let kana = |c: char| matches!(c, '\u{3040}'..='\u{30ff}');
    (title.chars().any(kana) || body.chars().any(kana)).then(|| "ja".to_owned())
}

/// FNV-1a, 64 bits: a stable id for entries that have nothing else.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// `en-US` → `en`: items are searched and shown by language, not region.
fn normalise_lang(l: &str) -> String {
    l.trim()
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}
