//! UI page: an item.
//!
//! - `GET /items/{id}` (`?defang=1`): an item with its indicators linked.
//!
//! An item above the caller's TLP clearance answers 404.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use minijinja::Value;
use minijinja::context;
use rexist_core::{IndicatorType, Item, ItemId, Tlp};
use rexist_extract::Match;
use rexist_store::{ItemQuery, StoreError};

use super::Ui;
use super::indicator::indicator_href;
use super::pages::rfc3339;
use super::search::{ViewParams, flag, search_href, store_failed, tlp_class, view_params};
use crate::AppState;
use crate::escape_html;

/// This area's words: (key, English, Japanese).
pub const WORDS: &[(&str, &str, &str)] = &[
    ("item.meta", "Details", "詳細"),
    ("item.source", "Source", "ソース"),
    ("item.published", "Published", "公開日時"),
    ("item.collected", "Collected", "収集日時"),
    ("item.tags", "Tags", "タグ"),
    ("item.original", "Original", "元の記事"),
    ("item.body", "Text", "本文"),
    ("item.indicators", "Indicators in the text", "本文中の指標"),
    (
        "item.no_indicators",
        "No indicators found in the text.",
        "本文に指標は見つかりませんでした。",
    ),
    ("item.related", "Related items", "関連アイテム"),
    (
        "item.related_none",
        "No related items.",
        "関連アイテムはありません。",
    ),
    ("item.shared", "shared indicators", "件の共通指標"),
    ("item.defang", "Show defanged", "無害化して表示"),
    ("item.refang", "Show as written", "元の表記で表示"),
];

/// This area's templates: (name, source).
pub const TEMPLATES: &[(&str, &str)] = &[("item.html", include_str!("../../templates/item.html"))];

/// This area's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/items/{id}", get(item_page))
}

/// Indicators listed on an item page.
const ITEM_INDICATORS: usize = 500;
/// Indicators of an item used to find related items.
const RELATED_BY: usize = 10;
/// Related items shown.
const RELATED_ITEMS: usize = 10;

/// The item's body, HTML-escaped, with each indicator linked to its page.
fn linked_body(body: &str, matches: &[Match], defang: bool) -> String {
    let mut out = String::with_capacity(body.len() + body.len() / 4);
    let mut at = 0;
    for m in matches {
        if m.start < at {
            continue;
        }
        let (Some(gap), Some(written)) = (body.get(at..m.start), body.get(m.start..m.end)) else {
            continue;
        };
        let shown = if defang {
            rexist_extract::defang(&m.value)
        } else {
            written.to_owned()
        };
        let _ = write!(
            out,
            "{}<a class=\"ioc\" href=\"{}\" title=\"{}\">{}</a>",
            escape_html(gap),
            escape_html(&indicator_href(m.kind, &m.value)),
            m.kind.as_str(),
            escape_html(&shown)
        );
        at = m.end;
    }
    out.push_str(&escape_html(body.get(at..).unwrap_or_default()));
    out
}

/// `GET /items/{id}`
async fn item_page(
    State(state): State<AppState>,
    ui: Ui,
    Path(id): Path<String>,
    params: Result<Query<ViewParams>, QueryRejection>,
) -> Response {
    let defang = flag(view_params(params).defang.as_deref());
    let Ok(id) = id.parse::<ItemId>() else {
        return ui.error(StatusCode::NOT_FOUND, "err.no_item");
    };
    let clearance = ui.principal.clearance;
    let item = match state.store.item(id).await {
        Ok(Some(item)) if item.content.tlp <= clearance => item,
        Ok(_) => return ui.error(StatusCode::NOT_FOUND, "err.no_item"),
        Err(e) => return store_failed(&ui, "item", &e),
    };
    if item.content.kind.is_entity() {
        return super::entity::entity_page(&state, ui, item).await;
    }
    let entities = super::entity::named_by(&state, item.id, clearance).await;
    let body = item.content.body.clone();
    let extractor = state.ingest.extractor().clone();
    let matches = tokio::task::spawn_blocking(move || extractor.extract(&body))
        .await
        .unwrap_or_default();
    let source = match state.store.source(item.source_id).await {
        Ok(s) => s.map(|s| s.name).unwrap_or_default(),
        Err(e) => return store_failed(&ui, "item", &e),
    };
    let mut seen = HashSet::new();
    let unique: Vec<&Match> = matches
        .iter()
        .filter(|m| seen.insert((m.kind, m.value.as_str())))
        .take(ITEM_INDICATORS)
        .collect();
    let related = match related_items(&state, &item, &unique, clearance).await {
        Ok(r) => r,
        Err(e) => return store_failed(&ui, "item", &e),
    };
    let indicators: Vec<Value> = unique
        .iter()
        .map(|m| {
            context! {
                kind => m.kind.as_str(),
                value => if defang { rexist_extract::defang(&m.value) } else { m.value.clone() },
                href => indicator_href(m.kind, &m.value),
            }
        })
        .collect();
    let url = item
        .content
        .url
        .clone()
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    let here = format!("/items/{}", item.id);
    ui.render(
        "item.html",
        context! {
            id => item.id.to_string(),
            title => item.content.title,
            kind => item.content.kind.as_str(),
            source => source.clone(),
            source_href => search_href("", None, Some(&source), None),
            published => item.content.published_at.map(rfc3339),
            collected => rfc3339(item.created_at),
            tlp => item.content.tlp.as_str(),
            tlp_class => tlp_class(item.content.tlp),
            tags => item.content.tags,
            url => url.as_deref().map(|u| if defang { rexist_extract::defang(u) } else { u.to_owned() }),
            url_href => url,
            body => Value::from_safe_string(linked_body(&item.content.body, &matches, defang)),
            indicators => indicators,
            entities => entities,
            related => related,
            defang => defang,
            toggle_href => if defang { here } else { format!("{here}?defang=1") },
        },
    )
}

/// Items sharing indicators with `item`, most shared first; items of the
/// same source when it has none.
async fn related_items(
    state: &AppState,
    item: &Item,
    unique: &[&Match],
    clearance: Tlp,
) -> Result<Vec<Value>, StoreError> {
    let keys: Vec<(IndicatorType, String)> = unique
        .iter()
        .take(RELATED_BY * 2)
        .map(|m| (m.kind, m.value.clone()))
        .collect();
    let records = if keys.is_empty() {
        Vec::new()
    } else {
        state.store.indicators_by_values(&keys).await?
    };
    let mut shared: HashMap<ItemId, u32> = HashMap::new();
    for r in records
        .iter()
        .filter(|r| r.tlp <= clearance)
        .take(RELATED_BY)
    {
        let mentions = state.store.mentions_of(r.id, 20).await?;
        let ids: HashSet<ItemId> = mentions.into_iter().map(|m| m.item).collect();
        for id in ids.into_iter().filter(|id| *id != item.id) {
            *shared.entry(id).or_default() += 1;
        }
    }
    let mut ranked: Vec<(ItemId, u32)> = shared.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    ranked.truncate(RELATED_ITEMS * 2);
    let items = if ranked.is_empty() {
        let query = ItemQuery {
            source: Some(item.source_id),
            max_tlp: Some(clearance),
            limit: u32::try_from(RELATED_ITEMS).unwrap_or(10) + 1,
            ..ItemQuery::default()
        };
        state.store.search_items(&query).await?.items
    } else {
        let ids: Vec<ItemId> = ranked.iter().map(|(id, _)| *id).collect();
        let mut items = state.store.items_by_id(&ids).await?;
        items.sort_by_key(|i| ranked.iter().position(|(id, _)| *id == i.id));
        items
    };
    let count = |id: ItemId| ranked.iter().find(|(i, _)| *i == id).map(|(_, n)| *n);
    Ok(items
        .into_iter()
        .filter(|i| i.id != item.id && i.content.tlp <= clearance)
        .take(RELATED_ITEMS)
        .map(|i| {
            context! {
                id => i.id.to_string(),
                title => i.content.title,
                kind => i.content.kind.as_str(),
                published => i.content.published_at.map(rfc3339),
                shared => count(i.id),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_links_indicators_and_escapes_the_rest() {
        let body = "<b>C2</b> at evil[.]example.com and 198.51.100.7";
        let ms = rexist_extract::extract(body);
        let html = linked_body(body, &ms, false);
        assert!(html.starts_with("&lt;b&gt;C2&lt;/b&gt;"), "{html}");
        assert!(
            html.contains("href=\"/indicators/domain/evil.example.com\""),
            "{html}"
        );
        assert!(html.contains(">evil[.]example.com</a>"), "{html}");
        let defanged = linked_body(body, &ms, true);
        assert!(defanged.contains("[.]7</a>"), "{defanged}");
    }
}
