//! UI page: cross search.
//!
//! - `GET /search?q=&kind=&source=&before=`: an indicator typed in the box
//!   (defanged or not) goes straight to its page (303); anything else searches
//!   items by full text with highlighted snippets, and indicators by prefix.
//! - `GET /lookup?value=`: 303 to the indicator page.
//!
//! Also the helpers the search, item ([`super::item`]) and indicator
//! ([`super::indicator`]) pages share, and their static files.
//!
//! Every read is limited to the caller's TLP clearance.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use minijinja::Value;
use minijinja::context;
use rexist_core::{Item, ItemId, ItemKind, Tlp};
use rexist_store::{ErrorKind, IndicatorQuery, ItemQuery, StoreError};
use serde::Deserialize;

use super::Ui;
use super::indicator::indicator_href;
use super::pages::rfc3339;
use crate::AppState;
use crate::escape_html;

/// This area's words: (key, English, Japanese).
pub const WORDS: &[(&str, &str, &str)] = &[
    ("search.title", "Search", "検索"),
    (
        "search.hint",
        "Type an IP, domain, URL, hash, e-mail or CVE to open it, or words to search the items: all words must match, a comma or OR separates alternatives (log4j OR 脆弱性), \"quotes\" keep a phrase. Press / to focus the box, j and k to move through results.",
        "IP、ドメイン、URL、ハッシュ、メールアドレス、CVE を入力するとその指標を開きます。語句を入力するとアイテムを全文検索します(語はすべて一致、カンマまたは OR で「いずれか」(log4j OR 脆弱性)、\"引用符\" で語句)。/ キーで検索欄へ、j と k で結果を移動できます。",
    ),
    ("search.items", "Items", "アイテム"),
    ("search.indicators", "Matching indicators", "一致する指標"),
    (
        "search.no_items",
        "No items match.",
        "一致するアイテムはありません。",
    ),
    ("search.filters", "Filters", "絞り込み"),
    ("search.kind", "Kind", "種別"),
    ("search.source", "Source", "ソース"),
    ("search.any", "Any", "すべて"),
    ("search.next", "Next page", "次のページ"),
    ("search.first", "First page", "最初のページ"),
];

/// This area's templates: (name, source).
pub const TEMPLATES: &[(&str, &str)] =
    &[("search.html", include_str!("../../templates/search.html"))];

/// This area's static files: (path under `/static/`, content type, bytes).
pub const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "ui/search.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/ui/search.css"),
    ),
    (
        "ui/search.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/ui/search.js"),
    ),
];

/// This area's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/search", get(search))
        .route("/lookup", get(lookup))
}

/// Results per search page.
const PAGE: u32 = 20;
/// Characters shown before the first match of a snippet.
const SNIPPET_BEFORE: usize = 80;
/// Bytes a snippet spans.
const SNIPPET_LEN: usize = 300;
/// Bytes of a body scanned for a snippet.
const SCAN_LIMIT: usize = 64 * 1024;

/// The page for a store failure: 400 for a refused request, 503 otherwise.
pub(super) fn store_failed(ui: &Ui, page: &str, e: &StoreError) -> Response {
    if e.kind() == ErrorKind::Invalid {
        return ui.error_detail(StatusCode::BAD_REQUEST, "err.bad_request", &e.to_string());
    }
    tracing::warn!(page, error = %e, "store failed");
    ui.error(StatusCode::SERVICE_UNAVAILABLE, "err.unavailable")
}

/// Whether a query flag is set (`1`, `true`, `on`, `yes`).
pub(super) fn flag(v: Option<&str>) -> bool {
    matches!(v, Some("1" | "true" | "on" | "yes"))
}

/// Query of `/search`.
#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    q: Option<String>,
    kind: Option<String>,
    source: Option<String>,
    before: Option<String>,
}

/// A `/search` link keeping the given filters.
pub(super) fn search_href(
    q: &str,
    kind: Option<&str>,
    source: Option<&str>,
    before: Option<&str>,
) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    s.append_pair("q", q);
    for (k, v) in [("kind", kind), ("source", source), ("before", before)] {
        if let Some(v) = v {
            s.append_pair(k, v);
        }
    }
    format!("/search?{}", s.finish())
}

/// The words of a full-text query worth highlighting, longest first.
fn query_words(q: &str) -> Vec<String> {
    let mut words: Vec<String> = q
        .split_whitespace()
        .filter(|w| !w.starts_with('-') && !matches!(*w, "AND" | "OR" | "NOT"))
        .map(|w| w.trim_matches(|c: char| matches!(c, '"' | '(' | ')' | '*')))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    words.dedup();
    words
}

/// The byte offset of `needle` in `hay` at or after `from`, ignoring ASCII case.
fn find_ci(hay: &str, needle: &str, from: usize) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return None;
    }
    let last = h.len().checked_sub(n.len())?;
    (from..=last).find(|&i| {
        hay.is_char_boundary(i)
            && h.get(i..i + n.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(n))
    })
}

/// The earliest match of any of `words` at or after `from`: (start, end).
fn next_match(text: &str, words: &[String], from: usize) -> Option<(usize, usize)> {
    words
        .iter()
        .filter_map(|w| find_ci(text, w, from).map(|s| (s, s + w.len())))
        .min_by_key(|&(s, e)| (s, std::cmp::Reverse(e)))
}

/// `text` HTML-escaped with `<mark>` around each of `words`.
pub fn highlight(text: &str, words: &[String]) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut at = 0;
    while let Some((s, e)) = next_match(text, words, at) {
        let (Some(gap), Some(hit)) = (text.get(at..s), text.get(s..e)) else {
            break;
        };
        let _ = write!(out, "{}<mark>{}</mark>", escape_html(gap), escape_html(hit));
        at = e;
    }
    out.push_str(&escape_html(text.get(at..).unwrap_or_default()));
    out
}

/// The largest char boundary of `s` at or below `i`.
fn floor_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A highlighted window of `body` around the first of `words` (or its start).
pub fn snippet(body: &str, words: &[String]) -> String {
    let scan = body.get(..floor_boundary(body, SCAN_LIMIT)).unwrap_or(body);
    let first = next_match(scan, words, 0).map_or(0, |(s, _)| s);
    let start = floor_boundary(body, first.saturating_sub(SNIPPET_BEFORE));
    let end = floor_boundary(body, start + SNIPPET_LEN);
    let window = body.get(start..end).unwrap_or_default();
    let window = window.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.push_str(&highlight(&window, words));
    if end < body.len() {
        out.push('…');
    }
    out
}

/// The CSS class of a TLP marking.
pub(super) fn tlp_class(tlp: Tlp) -> String {
    tlp.as_str().replace('+', "-")
}

/// `GET /search`
async fn search(
    State(state): State<AppState>,
    ui: Ui,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Response {
    let Ok(Query(p)) = params else {
        return ui.error(StatusCode::BAD_REQUEST, "err.bad_query");
    };
    let q = p.q.as_deref().map(str::trim).unwrap_or_default().to_owned();
    let nonempty = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    let (kind_name, source_name, before_text) =
        (nonempty(p.kind), nonempty(p.source), nonempty(p.before));
    let kind = match kind_name.as_deref().map(str::parse::<ItemKind>) {
        None => None,
        Some(Ok(k)) => Some(k),
        Some(Err(e)) => {
            return ui.error_detail(StatusCode::BAD_REQUEST, "err.bad_query", &e.to_string());
        }
    };
    let before = match before_text.as_deref().map(str::parse::<ItemId>) {
        None => None,
        Some(Ok(b)) => Some(b),
        Some(Err(_)) => return ui.error(StatusCode::BAD_REQUEST, "err.bad_cursor"),
    };
    let filtered = kind.is_some() || source_name.is_some() || before.is_some();
    if !q.is_empty()
        && !filtered
        && !q.contains(char::is_whitespace)
        && let Ok(indicator) = rexist_lookup::parse_input(&q)
    {
        return Redirect::to(&indicator_href(indicator.kind(), indicator.value())).into_response();
    }
    let clearance = ui.principal.clearance;
    let sources = match state.store.list_sources().await {
        Ok(s) => s,
        Err(e) => return store_failed(&ui, "search", &e),
    };
    let source_id = match source_name.as_deref() {
        None => None,
        Some(name) => match sources.iter().find(|s| s.name == name) {
            Some(s) => Some(s.id),
            None => return ui.error(StatusCode::BAD_REQUEST, "err.no_source"),
        },
    };
    let items = if q.is_empty() && !filtered {
        None
    } else {
        let query = ItemQuery {
            text: (!q.is_empty()).then(|| q.clone()),
            kind,
            source: source_id,
            max_tlp: Some(clearance),
            before,
            limit: PAGE,
        };
        match state.store.search_items(&query).await {
            Ok(page) => Some(page),
            Err(e) => return store_failed(&ui, "search", &e),
        }
    };
    let indicators = if q.chars().count() >= 3 && before.is_none() && !q.contains(' ') {
        let refanged = rexist_extract::refang(&q);
        let prefix = if refanged.to_ascii_lowercase().starts_with("cve-") {
            refanged.to_ascii_uppercase()
        } else {
            refanged.to_ascii_lowercase()
        };
        let query = IndicatorQuery {
            prefix: Some(prefix),
            max_tlp: Some(clearance),
            limit: PAGE,
            ..IndicatorQuery::default()
        };
        match state.store.list_indicators(&query).await {
            Ok(page) => page.items,
            Err(e) => return store_failed(&ui, "search", &e),
        }
    } else {
        Vec::new()
    };
    let names: HashMap<_, _> = sources.iter().map(|s| (s.id, s.name.as_str())).collect();
    let words = query_words(&q);
    let (rows, next) = match items {
        Some(page) => (
            page.items
                .iter()
                .filter(|i| i.content.tlp <= clearance)
                .map(|i| item_row(i, &names, &words))
                .collect(),
            page.next,
        ),
        None => (Vec::new(), None),
    };
    let found: Vec<Value> = indicators
        .iter()
        .filter(|r| r.tlp <= clearance)
        .map(|r| {
            context! {
                kind => r.kind.as_str(),
                value => r.value.clone(),
                href => indicator_href(r.kind, &r.value),
                html => Value::from_safe_string(highlight(&r.value, &words)),
                score => r.score,
                last_seen => rfc3339(r.last_seen),
            }
        })
        .collect();
    let kinds: Vec<Value> = ItemKind::ALL
        .iter()
        .map(|k| {
            context! {
                name => k.as_str(),
                active => kind == Some(*k),
                href => search_href(&q, Some(k.as_str()), source_name.as_deref(), None),
            }
        })
        .collect();
    let source_facets: Vec<Value> = sources
        .iter()
        .map(|s| {
            context! {
                name => s.name.clone(),
                active => source_name.as_deref() == Some(s.name.as_str()),
                href => search_href(&q, kind_name.as_deref(), Some(&s.name), None),
            }
        })
        .collect();
    ui.render(
        "search.html",
        context! {
            q => q.clone(),
            searched => !q.is_empty() || filtered,
            items => rows,
            indicators => found,
            kinds => kinds,
            sources => source_facets,
            kind => kind_name.clone(),
            source => source_name.clone(),
            any_kind_href => search_href(&q, None, source_name.as_deref(), None),
            any_source_href => search_href(&q, kind_name.as_deref(), None, None),
            next_href => next.map(|n| search_href(&q, kind_name.as_deref(), source_name.as_deref(), Some(&n))),
            first_href => before.map(|_| search_href(&q, kind_name.as_deref(), source_name.as_deref(), None)),
        },
    )
}

fn item_row(item: &Item, names: &HashMap<rexist_core::SourceId, &str>, words: &[String]) -> Value {
    context! {
        id => item.id.to_string(),
        title => Value::from_safe_string(highlight(&item.content.title, words)),
        snippet => Value::from_safe_string(snippet(&item.content.body, words)),
        kind => item.content.kind.as_str(),
        source => names.get(&item.source_id).copied().unwrap_or_default(),
        published => item.content.published_at.map(rfc3339),
        tlp => item.content.tlp.as_str(),
        tlp_class => tlp_class(item.content.tlp),
    }
}

/// Query of `/lookup`.
#[derive(Debug, Deserialize)]
pub struct LookupParams {
    value: Option<String>,
}

/// `GET /lookup?value=`: the indicator page.
async fn lookup(ui: Ui, params: Result<Query<LookupParams>, QueryRejection>) -> Response {
    let value = params.ok().and_then(|Query(p)| p.value).unwrap_or_default();
    match rexist_lookup::parse_input(&value) {
        Ok(i) => Redirect::to(&indicator_href(i.kind(), i.value())).into_response(),
        Err(e) => ui.error_detail(StatusCode::BAD_REQUEST, "err.not_lookup", &e),
    }
}

/// `?defang=1` on the item and indicator pages.
#[derive(Debug, Default, Deserialize)]
pub struct ViewParams {
    pub(super) defang: Option<String>,
    pub(super) provider: Option<String>,
}

/// The view parameters, or none when the query string does not parse.
pub(super) fn view_params(params: Result<Query<ViewParams>, QueryRejection>) -> ViewParams {
    params.map(|Query(p)| p).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlighting_escapes_first_and_marks_words() {
        let words = query_words("ransomware -noise \"lock\"");
        assert_eq!(words, vec!["ransomware".to_owned(), "lock".to_owned()]);
        let html = highlight("<script>Ransomware</script> LOCKbit", &words);
        assert_eq!(
            html,
            "&lt;script&gt;<mark>Ransomware</mark>&lt;/script&gt; <mark>LOCK</mark>bit"
        );
    }

    #[test]
    fn snippets_start_near_the_match_on_char_boundaries() {
        let body = format!("{}脆弱性 exploit here", "あ".repeat(100));
        let s = snippet(&body, &["exploit".to_owned()]);
        assert!(
            s.starts_with('…') && s.contains("<mark>exploit</mark>"),
            "{s}"
        );
        assert!(snippet("", &[]).is_empty());
    }

    #[test]
    fn search_links_keep_filters() {
        assert_eq!(
            search_href("a b&c", Some("news"), None, Some("12")),
            "/search?q=a+b%26c&kind=news&before=12"
        );
    }
}
