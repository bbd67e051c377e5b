//! UI page: a threat entity (a threat actor, malware, a technique, …).
//!
//! - `GET /items/{id}` of an entity item renders here: what it is, its
//!   names, ATT&CK facts, sources, items and indicators over time, related
//!   entities and the pivoting graph.
//! - `POST /entities/{id}/follow` (analysts): a query hunt `entity:"Name"`
//!   that alerts when new items name it; `POST /entities/{id}/unfollow`
//!   deletes it.
//! - The dashboard's "Followed entities" panel ([`followed`]).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use minijinja::{Value, context};
use rexist_core::entity::{EntityRef, name_key};
use rexist_core::{Hunt, HuntKind, HuntSpec, Item, ItemId, Role, Tlp};
use rexist_store::StoreError;

use super::Ui;
use super::indicator::indicator_href;
use super::pages::rfc3339;
use super::search::{store_failed, tlp_class};
use crate::AppState;

/// This area's words: (key, English, Japanese).
pub const WORDS: &[(&str, &str, &str)] = &[
    ("ent.aliases", "Also known as", "別名"),
    ("ent.attack", "MITRE ATT&CK", "MITRE ATT&CK"),
    ("ent.tactics", "Tactics", "戦術"),
    ("ent.about", "About", "概要"),
    (
        "ent.no_about",
        "No source describes it yet.",
        "説明はまだありません。",
    ),
    ("ent.sources", "Sources", "ソース"),
    ("ent.timeline", "Reports per month", "月別の報告数"),
    ("ent.items", "Reports naming it", "言及しているレポート"),
    ("ent.items_total", "in all", "件(合計)"),
    (
        "ent.no_items",
        "No report names it within your clearance.",
        "閲覧可能な範囲で言及しているレポートはありません。",
    ),
    ("ent.indicators", "Indicators", "指標"),
    ("ent.status", "Status", "状態"),
    ("ent.last_seen", "Last seen", "最終観測"),
    (
        "ent.no_indicators",
        "No indicators in the reports naming it.",
        "言及しているレポートに指標はありません。",
    ),
    ("ent.related", "Related entities", "関連エンティティ"),
    ("ent.shared", "shared reports", "件の共通レポート"),
    (
        "ent.no_related",
        "No other entity is named with it.",
        "一緒に言及されたエンティティはありません。",
    ),
    (
        "ent.graph",
        "Relations (click a node to expand it)",
        "関係(ノードをクリックして展開)",
    ),
    ("ent.follow", "Follow", "フォロー"),
    ("ent.unfollow", "Unfollow", "フォロー解除"),
    ("ent.following", "Followed by hunt", "フォロー中のハント"),
    (
        "ent.follow_hint",
        "Following makes a hunt that alerts when new reports name it.",
        "フォローすると、新しいレポートが言及したときに通知するハントを作成します。",
    ),
    ("ent.entities", "Threat entities", "脅威エンティティ"),
    (
        "ent.followed",
        "Followed entities",
        "フォロー中のエンティティ",
    ),
    (
        "ent.followed_none",
        "No entity is followed. Open an actor, malware or technique and choose Follow.",
        "フォロー中のエンティティはありません。攻撃者、マルウェア、手法のページで「フォロー」を選んでください。",
    ),
    ("ent.latest", "Latest", "最新"),
    ("kind.threat-actor", "threat actor", "攻撃者"),
    ("kind.intrusion-set", "intrusion set", "侵入セット"),
    ("kind.malware", "malware", "マルウェア"),
    ("kind.tool", "tool", "ツール"),
    ("kind.campaign", "campaign", "キャンペーン"),
    ("kind.attack-pattern", "technique", "攻撃手法"),
];

/// This area's templates: (name, source).
pub const TEMPLATES: &[(&str, &str)] =
    &[("entity.html", include_str!("../../templates/entity.html"))];

/// Followed entities shown on the dashboard.
const FOLLOWED_SHOWN: usize = 10;

/// This area's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/entities/{id}/follow", post(follow))
        .route("/entities/{id}/unfollow", post(unfollow))
}

/// The name of the hunt that follows an entity.
fn follow_hunt_name(entity: &Item) -> String {
    format!("follow-{}", name_key(&entity.content.title))
}

/// The hunt following `entity`, if any: one whose query has an `entity:`
/// naming it under any of its names.
fn following<'a>(hunts: &'a [Hunt], names: &[String]) -> Option<&'a Hunt> {
    let keys: Vec<String> = names.iter().map(|n| name_key(n)).collect();
    hunts.iter().find(|h| {
        h.spec.kind == HuntKind::Query
            && rexist_query::parse(&h.spec.definition)
                .is_ok_and(|q| q.entities().iter().any(|e| keys.contains(&name_key(e))))
    })
}

/// Renders an entity item's page.
pub async fn entity_page(state: &AppState, ui: Ui, entity: Item) -> Response {
    let clearance = ui.principal.clearance;
    let view = match crate::entities::entity_view(state, &entity, clearance).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let hunts = match state.store.list_hunts().await {
        Ok(h) => h,
        Err(e) => return store_failed(&ui, "entity", &e),
    };
    let followed = following(&hunts, &view.names).map(|h| h.spec.name.clone());
    let peak = view
        .months
        .iter()
        .map(|m| m.count)
        .max()
        .unwrap_or(1)
        .max(1);
    let r = EntityRef::of(&entity);
    ui.render(
        "entity.html",
        context! {
            id => entity.id.to_string(),
            name => r.name,
            kind => entity.content.kind.as_str(),
            about => entity.content.body,
            tlp => entity.content.tlp.as_str(),
            tlp_class => tlp_class(entity.content.tlp),
            aliases => view.aliases,
            attack => view.attack.as_ref().map(|a| context! {
                id => a.id.clone(),
                url => a.url.clone(),
                tactics => a.tactics.clone(),
            }),
            sources => view.sources.iter().map(|s| context! { name => s.name.clone(), count => s.count }).collect::<Vec<_>>(),
            items_total => view.items_total,
            items => view.items.iter().map(|i| context! {
                id => i.id.to_string(),
                title => i.title.clone(),
                kind => i.kind.as_str(),
                published => i.published_at.map(rfc3339),
                tlp => i.tlp.as_str(),
                tlp_class => tlp_class(i.tlp),
            }).collect::<Vec<_>>(),
            indicators => view.indicators.iter().map(|i| context! {
                kind => i.kind.as_str(),
                value => i.value.clone(),
                href => indicator_href(i.kind, &i.value),
                score => i.score,
                status => i.status.as_str(),
                last_seen => rfc3339(i.last_seen),
            }).collect::<Vec<_>>(),
            related => view.related.iter().map(|r| context! {
                id => r.entity.id.to_string(),
                name => r.entity.name.clone(),
                kind => r.entity.kind.as_str(),
                shared => r.shared_items,
            }).collect::<Vec<_>>(),
            months => view.months.iter().map(|m| context! {
                month => m.name.clone(),
                count => m.count,
                width => (m.count * 100 / peak).max(2),
            }).collect::<Vec<_>>(),
            followed => followed.clone(),
            followed_href => followed.map(|n| format!("/hunts/{}", crate::url_encode(&n).replace('/', "%2F"))),
            may_follow => ui.principal.role >= Role::Analyst,
        },
    )
}

/// The entity item `id` if the caller may see it.
async fn readable_entity(state: &AppState, ui: &Ui, id: &str) -> Result<Item, Response> {
    let not_found = || ui.error(StatusCode::NOT_FOUND, "err.no_item");
    let id: ItemId = id.parse().map_err(|_| not_found())?;
    match state.store.item(id).await {
        Ok(Some(item))
            if item.content.kind.is_entity() && item.content.tlp <= ui.principal.clearance =>
        {
            Ok(item)
        }
        Ok(_) => Err(not_found()),
        Err(e) => Err(store_failed(ui, "entity", &e)),
    }
}

/// Answers an htmx write by sending the browser to the entity's page.
fn back_to(entity: &Item) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/items/{}", entity.id)) {
        r.headers_mut().insert("hx-redirect", v);
    }
    r
}

/// `POST /entities/{id}/follow`
async fn follow(State(state): State<AppState>, ui: Ui, Path(id): Path<String>) -> Response {
    if ui.principal.role < Role::Analyst {
        return ui.error(StatusCode::FORBIDDEN, "err.analyst_only");
    }
    let entity = match readable_entity(&state, &ui, &id).await {
        Ok(e) => e,
        Err(page) => return page,
    };
    let quoted = entity.content.title.replace('"', " ");
    let spec = HuntSpec {
        name: follow_hunt_name(&entity),
        kind: HuntKind::Query,
        definition: format!("entity:\"{}\"", quoted.trim()),
        enabled: true,
        channels: Vec::new(),
        digest_secs: None,
        // The hunt sees what the entity's follower may see.
        tlp: HuntSpec::default_tlp(ui.principal.clearance).max(entity.content.tlp),
    };
    match state.ingest.create_hunt(&spec).await {
        Ok(_) => back_to(&entity),
        // Already followed: the page shows it.
        Err(e) if e.kind() == rexist_store::ErrorKind::Conflict => back_to(&entity),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

/// `POST /entities/{id}/unfollow`
async fn unfollow(State(state): State<AppState>, ui: Ui, Path(id): Path<String>) -> Response {
    if ui.principal.role < Role::Analyst {
        return ui.error(StatusCode::FORBIDDEN, "err.analyst_only");
    }
    let entity = match readable_entity(&state, &ui, &id).await {
        Ok(e) => e,
        Err(page) => return page,
    };
    let hunts = match state.store.list_hunts().await {
        Ok(h) => h,
        Err(e) => return store_failed(&ui, "entity", &e),
    };
    let names = crate::entities::entity_view(&state, &entity, Tlp::Red)
        .await
        .map(|v| v.names)
        .unwrap_or_default();
    if let Some(h) = following(&hunts, &names)
        && let Err(e) = state.ingest.delete_hunt(h.id).await
    {
        return crate::error::ApiError::from(e).into_response();
    }
    back_to(&entity)
}

/// The dashboard's panel: each followed entity (a query hunt with
/// `entity:`) the reader may see, with how many reports name it and the
/// latest one.
pub async fn followed(state: &AppState, clearance: Tlp) -> Result<Vec<Value>, StoreError> {
    let hunts = state.store.list_hunts().await?;
    let mut out = Vec::new();
    for name in hunts
        .iter()
        .filter(|h| h.spec.enabled && h.spec.kind == HuntKind::Query)
        .filter_map(|h| rexist_query::parse(&h.spec.definition).ok())
        .flat_map(|q| q.entities())
    {
        if out.len() >= FOLLOWED_SHOWN {
            break;
        }
        let key = vec![name_key(&name)];
        let mut found = None;
        for class in ["actor", "software", "campaign", "attack-pattern"] {
            if let Some(id) = state.store.entity_named(class, &key).await? {
                found = Some(id);
                break;
            }
        }
        let Some(entity) = found else { continue };
        let Some(item) = state
            .store
            .item(entity)
            .await?
            .filter(|i| i.content.tlp <= clearance)
        else {
            continue;
        };
        if out
            .iter()
            .any(|v: &Value| v.get_attr("id").ok() == Some(Value::from(item.id.to_string())))
        {
            continue;
        }
        let facts = state.store.entity_facts(entity, clearance, 1).await?;
        let latest = facts.items.first();
        out.push(context! {
            id => item.id.to_string(),
            name => item.content.title,
            kind => item.content.kind.as_str(),
            total => facts.items_total,
            latest_id => latest.map(|i| i.id.to_string()),
            latest_title => latest.map(|i| i.content.title.clone()),
            latest_at => latest.map(|i| rfc3339(i.content.published_at.unwrap_or(i.created_at))),
        });
    }
    Ok(out)
}

/// The entities an item names, for its page.
pub async fn named_by(state: &AppState, item: ItemId, clearance: Tlp) -> Vec<Value> {
    match crate::entities::named_by(state, item, clearance).await {
        Ok(list) => list
            .into_iter()
            .map(|e| {
                context! {
                    id => e.id.to_string(),
                    name => e.name,
                    kind => e.kind.as_str(),
                    attack_id => e.attack_id,
                }
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}
