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
use rexist_core::{Item, Tlp};
use rexist_store::{ErrorKind, IndicatorSearch, IndicatorSort, ItemSearch, ItemSort, StoreError};
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
    ("search.type", "Indicator type", "指標の種類"),
    ("search.status", "Status", "状態"),
    ("search.label", "Label", "ラベル"),
    ("search.min_score", "Score from", "スコア下限"),
    ("search.max_score", "Score to", "スコア上限"),
    ("search.from", "From", "開始日"),
    ("search.to", "To", "終了日"),
    ("search.sort", "Sort", "並び順"),
    ("search.sort.relevance", "Relevance", "関連度"),
    ("search.sort.newest", "Newest", "新しい順"),
    ("search.sort.oldest", "Oldest", "古い順"),
    ("search.sort.score", "Score", "スコア順"),
    ("search.apply", "Apply", "適用"),
    ("search.remove", "Remove this filter", "この条件を外す"),
    ("search.ind_source", "Indicator source", "指標のソース"),
    ("search.item_tlp", "Item TLP", "アイテムの TLP"),
    (
        "search.capped",
        "Counts read at most 100,000 matches per facet: they are lower bounds.",
        "件数はファセットごとに最大 100,000 件までを数えた下限値です。",
    ),
    (
        "search.no_indicators",
        "No indicators match.",
        "一致する指標はありません。",
    ),
    ("search.saved", "Saved searches", "保存した検索"),
    (
        "search.no_saved",
        "None saved yet.",
        "保存した検索はありません。",
    ),
    ("search.save", "Save search", "検索を保存"),
    ("search.save_name", "Name", "名前"),
    ("search.saved_ok", "Saved:", "保存しました:"),
    (
        "search.delete_saved",
        "Delete saved search",
        "保存した検索を削除",
    ),
    ("bulk.select", "Select", "選択"),
    (
        "bulk.select_page",
        "Select all on this page",
        "このページをすべて選択",
    ),
    ("bulk.all_matching", "All matching", "一致するものすべて"),
    ("bulk.action", "Bulk action", "一括操作"),
    ("bulk.label", "Add label", "ラベルを追加"),
    (
        "bulk.false_positive",
        "Mark false positive",
        "誤検知としてマーク",
    ),
    ("bulk.watch", "Add to watch hunt", "ウォッチハントに追加"),
    ("bulk.group", "Group into an event", "イベントにまとめる"),
    ("bulk.label_ph", "Label", "ラベル"),
    ("bulk.reason", "Reason", "理由"),
    ("bulk.hunt", "Watch hunt", "ウォッチハント"),
    ("bulk.title", "New event title", "新しいイベントの題名"),
    ("bulk.item", "or item id", "またはアイテム ID"),
    ("bulk.apply", "Apply to selected", "選択したものに適用"),
    ("bulk.format", "Export format", "エクスポート形式"),
    (
        "bulk.export",
        "Export selected",
        "選択したものをエクスポート",
    ),
    (
        "bulk.export_all",
        "Export all matching as CSV",
        "一致するものすべてを CSV でエクスポート",
    ),
    ("bulk.done.label", "Labelled:", "ラベルを付けました:"),
    (
        "bulk.done.false_positive",
        "Marked false positive:",
        "誤検知としてマークしました:",
    ),
    (
        "bulk.done.watch",
        "Added to the watch hunt:",
        "ウォッチハントに追加しました:",
    ),
    (
        "bulk.done.group",
        "Grouped into the event:",
        "イベントにまとめました:",
    ),
    ("bulk.item_link", "item", "アイテム"),
    ("bulk.skipped", "skipped", "対象外"),
    ("bulk.failed", "Not done:", "実行できませんでした:"),
    (
        "bulk.triage_selected",
        "Triage selected",
        "選択したものをトリアージ",
    ),
];

/// This area's templates: (name, source).
pub const TEMPLATES: &[(&str, &str)] = &[
    ("search.html", include_str!("../../templates/search.html")),
    (
        "search_saved.html",
        include_str!("../../templates/search_saved.html"),
    ),
    (
        "search_bulk.html",
        include_str!("../../templates/search_bulk.html"),
    ),
];

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
        .merge(super::bulk::routes())
}

/// Every indicator status, for the filter form.
const STATUSES: [&str; 5] = [
    "active",
    "expired",
    "allowlisted",
    "retired",
    "false_positive",
];

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

/// Query of `/search`: the text, the filters, the order and the two cursors.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct SearchParams {
    pub(super) q: Option<String>,
    #[serde(rename = "type")]
    pub(super) kind_filter: Option<String>,
    pub(super) kind: Option<String>,
    pub(super) source: Option<String>,
    pub(super) tlp: Option<String>,
    pub(super) status: Option<String>,
    pub(super) label: Option<String>,
    pub(super) min_score: Option<String>,
    pub(super) max_score: Option<String>,
    pub(super) from: Option<String>,
    pub(super) to: Option<String>,
    pub(super) sort: Option<String>,
    before: Option<String>,
    after: Option<String>,
}

/// The search's parameters as a saved search and links keep them (no
/// cursor), in a stable order.
pub(super) fn search_pairs(p: &SearchParams) -> Vec<(&'static str, String)> {
    let fields: [(&'static str, &Option<String>); 13] = [
        ("q", &p.q),
        ("type", &p.kind_filter),
        ("kind", &p.kind),
        ("source", &p.source),
        ("tlp", &p.tlp),
        ("status", &p.status),
        ("label", &p.label),
        ("min_score", &p.min_score),
        ("max_score", &p.max_score),
        ("from", &p.from),
        ("to", &p.to),
        ("sort", &p.sort),
        ("value", &None),
    ];
    fields
        .into_iter()
        .filter_map(|(k, v)| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| (k, v.to_owned()))
        })
        .collect()
}

/// A query string of `pairs` with `key` set to `value` (or removed), and a cursor.
fn query_with(
    pairs: &[(&'static str, String)],
    key: Option<(&str, Option<&str>)>,
    cursor: Option<(&str, &str)>,
) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    let mut set = false;
    for (k, v) in pairs {
        match key {
            Some((name, value)) if name == *k => {
                if let Some(value) = value {
                    s.append_pair(k, value);
                }
                set = true;
            }
            _ => {
                s.append_pair(k, v);
            }
        }
    }
    if let Some((name, Some(value))) = key
        && !set
    {
        s.append_pair(name, value);
    }
    if let Some((k, v)) = cursor {
        s.append_pair(k, v);
    }
    s.finish()
}

/// A `/search` link with these filters.
pub(super) fn search_href(
    q: &str,
    kind: Option<&str>,
    source: Option<&str>,
    before: Option<&str>,
) -> String {
    let mut pairs: Vec<(&'static str, String)> = vec![("q", q.to_owned())];
    pairs.extend(kind.map(|k| ("kind", k.to_owned())));
    pairs.extend(source.map(|s| ("source", s.to_owned())));
    search_link(&pairs, None, before.map(|b| ("before", b)))
}

/// A `/search` link keeping the filters of `pairs`, with `key` changed.
pub(super) fn search_link(
    pairs: &[(&'static str, String)],
    key: Option<(&str, Option<&str>)>,
    cursor: Option<(&str, &str)>,
) -> String {
    format!("/search?{}", query_with(pairs, key, cursor))
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

/// The indicator filter the search page's parameters give.
pub(super) fn indicator_params(
    p: &SearchParams,
    prefix: Option<String>,
) -> crate::search::FilterParams {
    crate::search::FilterParams {
        kind: p.kind_filter.clone(),
        value: None,
        prefix,
        status: p.status.clone(),
        source: p.source.clone(),
        label: p.label.clone(),
        tlp: p.tlp.clone(),
        min_score: p.min_score.clone().map(crate::search::Loose::Text),
        max_score: p.max_score.clone().map(crate::search::Loose::Text),
        from: p.from.clone(),
        to: p.to.clone(),
    }
}

/// What the search page shows for `p`: whether it lists indicators (and
/// with what value prefix) and whether it lists items.
pub(super) struct Plan {
    pub(super) indicators: bool,
    pub(super) prefix: Option<String>,
    pub(super) items: bool,
}

pub(super) fn plan(p: &SearchParams) -> Plan {
    let set = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.trim().is_empty());
    let q = p.q.as_deref().map(str::trim).unwrap_or_default();
    let token = q.chars().count() >= 3 && !q.contains(char::is_whitespace);
    let indicator_only = [
        &p.kind_filter,
        &p.status,
        &p.label,
        &p.min_score,
        &p.max_score,
    ]
    .into_iter()
    .any(set);
    let common = [&p.source, &p.tlp, &p.from, &p.to].into_iter().any(set);
    let prefix = token.then(|| {
        let refanged = rexist_extract::refang(q);
        if refanged.to_ascii_lowercase().starts_with("cve-") {
            refanged.to_ascii_uppercase()
        } else {
            refanged.to_ascii_lowercase()
        }
    });
    Plan {
        indicators: token || (q.is_empty() && (indicator_only || common)),
        prefix,
        items: !q.is_empty() || set(&p.kind) || (!indicator_only && common),
    }
}

/// The item sort and indicator sort of the page's one `sort`.
fn sorts(sort: Option<&str>, text: bool) -> Result<(ItemSort, IndicatorSort), String> {
    Ok(match sort.map(str::trim).unwrap_or_default() {
        "" | "relevance" => (
            if text {
                ItemSort::Relevance
            } else {
                ItemSort::Newest
            },
            IndicatorSort::Value,
        ),
        "newest" => (ItemSort::Newest, IndicatorSort::Newest),
        "oldest" => (ItemSort::Oldest, IndicatorSort::Oldest),
        "score" => (
            if text {
                ItemSort::Relevance
            } else {
                ItemSort::Newest
            },
            IndicatorSort::Score,
        ),
        other => {
            return Err(format!(
                "unknown sort {other:?} (expected relevance, newest, oldest or score)"
            ));
        }
    })
}

/// Facet links of one facet: (value, count, link, active).
fn facet_links(
    pairs: &[(&'static str, String)],
    key: &str,
    counts: &[rexist_store::FacetCount],
) -> Vec<Value> {
    let current = pairs
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.as_str());
    counts
        .iter()
        .map(|c| {
            let active = current == Some(c.value.as_str());
            context! {
                value => c.value.clone(),
                count => c.count,
                active => active,
                href => search_link(pairs, Some((key, (!active).then_some(c.value.as_str()))), None),
            }
        })
        .collect()
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
    let pairs = search_pairs(&p);
    let filtered = pairs.iter().any(|(k, _)| *k != "q" && *k != "sort")
        || p.before.is_some()
        || p.after.is_some();
    if !q.is_empty()
        && !filtered
        && !q.contains(char::is_whitespace)
        && let Ok(indicator) = rexist_lookup::parse_input(&q)
    {
        return Redirect::to(&indicator_href(indicator.kind(), indicator.value())).into_response();
    }
    let clearance = ui.principal.clearance;
    let plan = plan(&p);
    let (item_sort, indicator_sort) = match sorts(p.sort.as_deref(), !q.is_empty()) {
        Ok(s) => s,
        Err(e) => return ui.error_detail(StatusCode::BAD_REQUEST, "err.bad_query", &e),
    };
    let bad = |e: crate::error::ApiError| {
        if e.status() == StatusCode::BAD_REQUEST {
            ui.error_detail(StatusCode::BAD_REQUEST, "err.bad_query", e.message())
        } else {
            tracing::warn!(error = %e.message(), "search failed");
            ui.error(StatusCode::SERVICE_UNAVAILABLE, "err.unavailable")
        }
    };
    let sources = match state.store.list_sources().await {
        Ok(s) => s,
        Err(e) => return store_failed(&ui, "search", &e),
    };
    let item_filter = crate::search::ItemFilterParams {
        q: (!q.is_empty()).then(|| q.clone()),
        kind: p.kind.clone(),
        source: p.source.clone(),
        tlp: p.tlp.clone(),
        from: p.from.clone(),
        to: p.to.clone(),
    };
    let (items, item_facets) = if plan.items {
        let filter = match item_filter.filter(&state, clearance).await {
            Ok(f) => f,
            Err(e) => return bad(e),
        };
        let query = ItemSearch {
            filter: filter.clone(),
            sort: item_sort,
            after: p.before.clone().filter(|b| !b.is_empty()),
            limit: PAGE,
        };
        match tokio::try_join!(
            state.store.search_items_by(&query),
            state.store.item_facets(&filter)
        ) {
            Ok((page, facets)) => (Some(page), Some(facets)),
            Err(e) => return store_failed(&ui, "search", &e),
        }
    } else {
        (None, None)
    };
    let (indicators, indicator_facets) = if plan.indicators {
        let filter = match indicator_params(&p, plan.prefix.clone())
            .filter(&state, clearance)
            .await
        {
            Ok(f) => f,
            Err(e) => return bad(e),
        };
        let query = IndicatorSearch {
            filter: filter.clone(),
            sort: indicator_sort,
            after: p.after.clone().filter(|a| !a.is_empty()),
            limit: PAGE,
        };
        match tokio::try_join!(
            state.store.search_indicators(&query),
            state.store.indicator_facets(&filter)
        ) {
            Ok((page, facets)) => (Some(page), Some(facets)),
            Err(e) => return store_failed(&ui, "search", &e),
        }
    } else {
        (None, None)
    };
    let saved = match state.store.saved_searches(&ui.principal.name).await {
        Ok(s) => s,
        Err(e) => return store_failed(&ui, "search", &e),
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
    let (found, indicator_next): (Vec<Value>, Option<String>) = match indicators {
        Some(page) => (
            page.items
                .iter()
                .filter(|r| r.tlp <= clearance)
                .map(|r| {
                    context! {
                        kind => r.kind.as_str(),
                        value => r.value.clone(),
                        pick => format!("{}:{}", r.kind.as_str(), r.value),
                        href => indicator_href(r.kind, &r.value),
                        html => Value::from_safe_string(highlight(&r.value, &words)),
                        score => r.score,
                        status => r.status.as_str(),
                        tlp => r.tlp.as_str(),
                        tlp_class => tlp_class(r.tlp),
                        last_seen => rfc3339(r.last_seen),
                    }
                })
                .collect(),
            page.next,
        ),
        None => (Vec::new(), None),
    };
    let matching: u64 = indicator_facets
        .as_ref()
        .map_or(0, |f| f.types.iter().map(|c| c.count).sum());
    let facet = |key: &str, counts: Option<&Vec<rexist_store::FacetCount>>| {
        counts.map_or_else(Vec::new, |c| facet_links(&pairs, key, c))
    };
    let cleared: Vec<Value> = pairs
        .iter()
        .filter(|(k, _)| *k != "q" && *k != "sort")
        .map(|(k, v)| {
            context! {
                key => *k,
                value => v.clone(),
                href => search_link(&pairs, Some((k, None)), None),
            }
        })
        .collect();
    let query_string = query_with(&pairs, None, None);
    let api_query = query_with(
        &pairs
            .iter()
            .filter(|(k, _)| !matches!(*k, "q" | "kind" | "sort"))
            .cloned()
            .chain(plan.prefix.clone().map(|p| ("prefix", p)))
            .collect::<Vec<_>>(),
        None,
        None,
    );
    let saved: Vec<Value> = saved
        .iter()
        .map(|s| context! { name => s.name.clone(), href => format!("/search?{}", s.query) })
        .collect();
    let value = |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    ui.render(
        "search.html",
        context! {
            q => q.clone(),
            searched => plan.items || plan.indicators,
            show_items => plan.items,
            show_indicators => plan.indicators,
            items => rows,
            indicators => found,
            matching => matching,
            matching_capped => indicator_facets.as_ref().is_some_and(|f| f.capped),
            item_kinds => facet("kind", item_facets.as_ref().map(|f| &f.kinds)),
            item_sources => facet("source", item_facets.as_ref().map(|f| &f.sources)),
            item_tlps => facet("tlp", item_facets.as_ref().map(|f| &f.tlps)),
            ind_types => facet("type", indicator_facets.as_ref().map(|f| &f.types)),
            ind_statuses => facet("status", indicator_facets.as_ref().map(|f| &f.statuses)),
            ind_sources => facet("source", indicator_facets.as_ref().map(|f| &f.sources)),
            ind_tlps => facet("tlp", indicator_facets.as_ref().map(|f| &f.tlps)),
            facets_capped => item_facets.as_ref().is_some_and(|f| f.capped) || indicator_facets.as_ref().is_some_and(|f| f.capped),
            cleared => cleared,
            query => query_string.clone(),
            export_all => format!("/api/v1/indicators?{api_query}"),
            formats => rexist_export::Format::ALL.iter().filter(|f| **f != rexist_export::Format::Misp).map(|f| f.as_str()).collect::<Vec<_>>(),
            types => rexist_core::IndicatorType::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            statuses => STATUSES,
            tlps => rexist_core::Tlp::ALL.iter().filter(|t| **t <= clearance).map(|t| t.as_str()).collect::<Vec<_>>(),
            f_type => value("type"), f_status => value("status"), f_tlp => value("tlp"),
            f_label => value("label"), f_min => value("min_score"), f_max => value("max_score"),
            f_from => value("from"), f_to => value("to"), f_sort => value("sort"),
            f_kind => value("kind"), f_source => value("source"),
            saved => saved,
            next_href => next.map(|n| search_link(&pairs, None, Some(("before", &n)))),
            first_href => p.before.as_ref().map(|_| search_link(&pairs, None, None)),
            ind_next_href => indicator_next.map(|n| search_link(&pairs, None, Some(("after", &n)))),
            ind_first_href => p.after.as_ref().map(|_| search_link(&pairs, None, None)),
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
        let pairs = vec![("q", "a b&c".to_owned()), ("kind", "news".to_owned())];
        assert_eq!(
            search_link(&pairs, None, Some(("before", "12"))),
            "/search?q=a+b%26c&kind=news&before=12"
        );
        assert_eq!(
            search_link(&pairs, Some(("kind", None)), None),
            "/search?q=a+b%26c"
        );
        assert_eq!(
            search_link(&pairs, Some(("type", Some("ipv4"))), None),
            "/search?q=a+b%26c&kind=news&type=ipv4"
        );
    }

    #[test]
    fn the_plan_follows_the_filters() {
        let p = |q: &str, f: &str| SearchParams {
            q: Some(q.to_owned()),
            kind_filter: (!f.is_empty()).then(|| f.to_owned()),
            ..SearchParams::default()
        };
        let words = plan(&p("log4j rce", ""));
        assert!(words.items && !words.indicators);
        let token = plan(&p("evil", ""));
        assert!(token.items && token.indicators);
        assert_eq!(token.prefix.as_deref(), Some("evil"));
        let typed = plan(&p("", "ipv4"));
        assert!(typed.indicators && !typed.items && typed.prefix.is_none());
    }
}
