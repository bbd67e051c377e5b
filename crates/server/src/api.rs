//! REST API v1: indicators, items, sources and runs, as JSON.
//!
//! Lists are paged with an opaque `cursor` (the `next` of the previous page)
//! and a `limit` (default 50, at most 1000). Every error has one shape:
//! `{"error": {"code": "invalid", "message": "…"}}`.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use rexist_core::{
    Curation, Indicator, IndicatorRecord, IndicatorStatus, IndicatorType, Item, ItemId,
    LocalSightings, Note, NoteTarget, Run, RunId, Sighting, Source, Tlp,
};
use rexist_store::{IndicatorSearch, IndicatorSort, ItemSearch, ItemSort, Page};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Principal;
use crate::error::ErrorBody;
use crate::error::{ApiError, query};

type ApiResult<T> = Result<Json<T>, ApiError>;

fn parse_param<T: std::str::FromStr>(name: &str, value: Option<&str>) -> Result<Option<T>, ApiError>
where
    T::Err: std::fmt::Display,
{
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<T>()
                .map_err(|e| ApiError::invalid(format!("parameter {name}: {e}")))
        })
        .transpose()
}

/// Query parameters of `GET /api/v1/indicators`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct IndicatorParams {
    /// Only this type (`ipv4`, `domain`, …), or several, comma-separated.
    #[serde(rename = "type")]
    kind: Option<String>,
    /// Only this exact value (canonicalised first; the type is detected if not given).
    value: Option<String>,
    /// Only values starting with this.
    prefix: Option<String>,
    /// Only this status (`active`, `expired`, `allowlisted`, `retired`, `false_positive`), or several, comma-separated.
    status: Option<String>,
    /// Only indicators the source with this name has reported (withdrawn ones included) in a sighting the caller may read.
    source: Option<String>,
    /// Only indicators carrying this label (a source's or an analyst's; not one an analyst removed).
    label: Option<String>,
    /// Only these TLPs, comma-separated (`clear`, `green`, `amber`, `amber+strict`, `red`).
    tlp: Option<String>,
    /// Only scores at least this (0–100).
    min_score: Option<String>,
    /// Only scores at most this (0–100).
    max_score: Option<String>,
    /// Only indicators last seen at or after this (RFC 3339, or a date `2024-05-01`: its start, UTC).
    from: Option<String>,
    /// Only indicators first seen at or before this (RFC 3339, or a date: its end, UTC).
    to: Option<String>,
    /// The order: `value` (default), `newest` or `oldest` (last seen), `score` (highest first).
    #[param(pattern = "^(value|newest|oldest|score)?$")]
    sort: Option<String>,
    /// Answer with every match (all pages, not one) in this export format
    /// (`csv`, `stix`, `jsonl`, `edl`, `panos`, `rpz`, `suricata`, `zeek`,
    /// `hosts`) instead of JSON; `cursor` and `limit` are ignored. As in
    /// every export, false positives are left out.
    format: Option<String>,
    /// Cursor from the previous page's `next`.
    cursor: Option<String>,
    /// Page size: 50 when absent or 0, at most 1000 (larger values are capped).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4_294_967_295_u64)]
    limit: Option<u32>,
}

/// `GET /api/v1/indicators`
#[utoipa::path(
    get,
    path = "/api/v1/indicators",
    tag = "indicators",
    summary = "List and search indicators",
    description = "Indicators up to the caller's clearance, filtered, sorted and paged; with `format`, every match as an export file. `GET /api/v1/indicators/facets` counts the same matches by facet.",
    params(IndicatorParams),
    responses(
        (status = 200, description = "A page of indicators (or, with `format`, the export file).", content(
            (Page<IndicatorRecord> = "application/json"),
            (Object = "application/stix+json;version=2.1"),
            (String = "text/csv; charset=utf-8"),
            (String = "application/x-ndjson"),
            (String = "text/dns"),
            (String = "text/plain; charset=utf-8"),
        )),
        (status = 400, description = "A parameter is invalid (also: an unknown source).", body = ErrorBody),
    )
)]
pub async fn indicators(
    State(state): State<AppState>,
    principal: Principal,
    headers: axum::http::HeaderMap,
    params: Result<Query<IndicatorParams>, QueryRejection>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse as _;
    let p = query(params)?;
    let filter = crate::search::FilterParams {
        kind: p.kind,
        value: p.value,
        prefix: p.prefix,
        status: p.status,
        source: p.source,
        label: p.label,
        tlp: p.tlp,
        min_score: p.min_score.map(crate::search::Loose::Text),
        max_score: p.max_score.map(crate::search::Loose::Text),
        from: p.from,
        to: p.to,
    }
    .filter(&state, principal.clearance)
    .await?;
    if let Some(format) = p.format.as_deref().filter(|f| !f.is_empty()) {
        return crate::search::export_selection(
            &state,
            &principal,
            format,
            &headers,
            crate::search::Selection::Matching(filter),
        )
        .await;
    }
    let q = IndicatorSearch {
        filter,
        sort: parse_param::<IndicatorSort>("sort", p.sort.as_deref())?.unwrap_or_default(),
        after: p.cursor.filter(|c| !c.is_empty()),
        limit: p.limit.unwrap_or(0),
    };
    Ok(Json(state.store.search_indicators(&q).await?).into_response())
}

/// An indicator with its sightings.
///
/// The record's fields, except that its count of sightings is
/// `sighting_count`: flattening the record put two `sightings` keys in one
/// object (the count, then the list).
#[derive(Debug, Serialize, ToSchema)]
pub struct IndicatorDetail {
    /// Row id.
    #[schema(value_type = i64)]
    id: rexist_core::IndicatorId,
    /// Type.
    #[serde(rename = "type")]
    kind: IndicatorType,
    /// Canonical value.
    value: String,
    /// Earliest sighting.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    first_seen: time::OffsetDateTime,
    /// Latest sighting.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    last_seen: time::OffsetDateTime,
    /// Number of distinct sightings (also those above the caller's clearance).
    sighting_count: u64,
    /// Score 0–100.
    score: u8,
    /// Least restrictive TLP among its sightings.
    tlp: rexist_core::Tlp,
    /// Lifecycle state.
    status: IndicatorStatus,
    /// Why it is allow-listed, expired, retired or a false positive.
    status_reason: Option<String>,
    /// Labels of the sightings the caller may read, with those analysts
    /// added by hand and without those they removed.
    labels: Vec<String>,
    /// Who saw it, where and when (what the caller's clearance allows);
    /// a sighting an analyst added names its `author`.
    sightings: Vec<Sighting>,
    /// What analysts said of it: a false-positive mark, a TLP raise, a
    /// score override and hand labels, each with who, when and why.
    curation: Curation,
    /// Analysts' notes, newest first (at most 100).
    notes: Vec<Note>,
    /// Sightings in the organisation's own network.
    local_sightings: LocalSightings,
}

/// Notes shown with an indicator or an item.
pub(crate) const NOTES: u32 = 100;
/// Local sighting reports shown with an indicator.
pub(crate) const LOCAL_REPORTS: u32 = 20;

/// `record` with what the caller may read of its sightings, its analyst
/// facts, notes and local sightings.
pub(crate) async fn indicator_detail(
    state: &AppState,
    principal: &Principal,
    r: IndicatorRecord,
) -> Result<IndicatorDetail, ApiError> {
    let ids = [r.id];
    let (mut sightings, curation, notes, local_sightings) = tokio::try_join!(
        state.store.sightings_of(r.id),
        state.store.curations(&ids),
        state.store.notes(NoteTarget::Indicator(r.id), NOTES),
        state.store.local_sightings(r.id, LOCAL_REPORTS),
    )?;
    sightings.retain(|s| principal.may_read(s.tlp));
    let curation = curation.into_iter().next().map(|c| c.1).unwrap_or_default();
    let reported: Vec<String> = sightings
        .iter()
        .filter(|s| s.retired_at.is_none())
        .flat_map(|s| s.labels.iter().cloned())
        .collect();
    Ok(IndicatorDetail {
        id: r.id,
        kind: r.kind,
        value: r.value,
        first_seen: r.first_seen,
        last_seen: r.last_seen,
        sighting_count: r.sightings,
        score: r.score,
        tlp: r.tlp,
        status: r.status,
        status_reason: r.status_reason,
        labels: curation.apply_labels(&reported),
        sightings,
        curation,
        notes,
        local_sightings,
    })
}

/// `GET /api/v1/indicators/{type}/{*value}` (the value may contain slashes).
#[utoipa::path(
    get,
    path = "/api/v1/indicators/{type}/{value}",
    tag = "indicators",
    summary = "One indicator with its sightings, analyst facts and notes",
    params(
        ("type" = IndicatorType, Path, description = "The indicator type."),
        ("value" = String, Path, description = "The value (canonicalised first; may contain `/`).", min_length = 1),
    ),
    responses(
        (status = 200, description = "The indicator, the sightings the caller may read, what analysts said of it and their notes.", body = IndicatorDetail),
        (status = 400, description = "The type or value is invalid.", body = ErrorBody),
        (status = 404, description = "No such indicator within the caller's clearance.", body = ErrorBody),
    )
)]
pub async fn indicator(
    State(state): State<AppState>,
    principal: Principal,
    Path((kind, value)): Path<(String, String)>,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    match indicator_answer(&state, &principal, &kind, &value).await {
        Ok(detail) => Json(detail).into_response(),
        // A path no indicator has that ends with a curation action is that
        // action's resource, which takes no GET.
        Err(e) if e.status() == StatusCode::BAD_REQUEST => {
            match crate::curation::action_methods(&value) {
                Some(allow) => crate::curation::not_allowed(allow),
                None => e.into_response(),
            }
        }
        Err(e) => e.into_response(),
    }
}

async fn indicator_answer(
    state: &AppState,
    principal: &Principal,
    kind: &str,
    value: &str,
) -> Result<IndicatorDetail, ApiError> {
    let kind: IndicatorType = kind
        .parse()
        .map_err(|e| ApiError::invalid(format!("path type: {e}")))?;
    let parsed =
        Indicator::parse(kind, value).map_err(|e| ApiError::invalid(format!("path value: {e}")))?;
    let record = state
        .store
        .indicator(kind, parsed.value())
        .await?
        // Above the caller's clearance it does not exist for them.
        .filter(|r| principal.may_read(r.tlp))
        .ok_or_else(|| ApiError::not_found(format!("no {kind} {}", parsed.value())))?;
    indicator_detail(state, principal, record).await
}

/// Query parameters of `GET /api/v1/items`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ItemParams {
    /// Full-text query over title and body: words are `ANDed`, `"phrases"`, `prefix*`, a comma or `OR` between alternatives.
    q: Option<String>,
    /// Only this kind (`news`, `post`, `event`, `vuln`, `exploit`), or several, comma-separated.
    kind: Option<String>,
    /// Only items of the source with this name.
    source: Option<String>,
    /// Only these TLPs, comma-separated.
    tlp: Option<String>,
    /// Only items published (or, without a publication time, stored) at or after this (RFC 3339 or a date `2024-05-01`).
    from: Option<String>,
    /// … at or before this (RFC 3339, or a date: its end, UTC).
    to: Option<String>,
    /// The order: `newest` (default) or `oldest` stored, or `relevance` (best match first, with `q`; pages at most 10,000 deep).
    #[param(pattern = "^(newest|oldest|relevance)?$")]
    sort: Option<String>,
    /// Cursor from the previous page's `next`.
    #[param(pattern = "^[0-9]{0,18}$")]
    cursor: Option<String>,
    /// Page size: 50 when absent or 0, at most 1000 (larger values are capped).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4_294_967_295_u64)]
    limit: Option<u32>,
}

/// `GET /api/v1/items`
#[utoipa::path(
    get,
    path = "/api/v1/items",
    tag = "items",
    summary = "Search items",
    description = "Items up to the caller's clearance, newest first, optionally by full-text query, filtered and sorted. `GET /api/v1/items/facets` counts the same matches by facet.",
    params(ItemParams),
    responses(
        (status = 200, description = "A page of items.", body = Page<Item>),
        (status = 400, description = "A parameter is invalid (also: an unknown source).", body = ErrorBody),
    )
)]
pub async fn items(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<ItemParams>, QueryRejection>,
) -> ApiResult<Page<Item>> {
    let p = query(params)?;
    let filter = crate::search::ItemFilterParams {
        q: p.q,
        kind: p.kind,
        source: p.source,
        tlp: p.tlp,
        from: p.from,
        to: p.to,
    }
    .filter(&state, principal.clearance)
    .await?;
    // The cursor is an item id (or, sorted by relevance, an offset).
    parse_param::<u64>("cursor", p.cursor.as_deref())?;
    let q = ItemSearch {
        filter,
        sort: parse_param::<ItemSort>("sort", p.sort.as_deref())?.unwrap_or_default(),
        after: p.cursor.filter(|c| !c.is_empty()),
        limit: p.limit.unwrap_or(0),
    };
    Ok(Json(state.store.search_items_by(&q).await?))
}

/// An item with analysts' notes on it, the threat entities it names, and,
/// for an entity item (a threat actor, malware, …), what is known of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemDetail {
    /// The item.
    #[serde(flatten)]
    item: Item,
    /// Analysts' notes, newest first (at most 100).
    notes: Vec<Note>,
    /// Threat entities the item names (none for an entity item).
    entities: Vec<rexist_core::entity::EntityRef>,
    /// What is known of the entity, when the item is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    entity: Option<crate::entities::EntityView>,
}

impl ItemDetail {
    /// The item's id.
    pub fn id(&self) -> ItemId {
        self.item.id
    }
}

/// The item `id` if the caller may read it; one above the caller's
/// clearance is not found, so its existence is not revealed either.
pub(crate) async fn readable_item(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<Item, ApiError> {
    let id: ItemId = id
        .parse()
        .map_err(|_| ApiError::invalid(format!("path id: {id:?} is not an item id")))?;
    state
        .store
        .item(id)
        .await?
        .filter(|i| principal.may_read(i.content.tlp))
        .ok_or_else(|| ApiError::not_found(format!("no item {id}")))
}

/// `item` with its notes and entities, as a reader cleared to `clearance` sees it.
pub(crate) async fn item_detail(
    state: &AppState,
    item: Item,
    clearance: Tlp,
) -> Result<ItemDetail, ApiError> {
    let notes = state.store.notes(NoteTarget::Item(item.id), NOTES).await?;
    let (entities, entity) = if item.content.kind.is_entity() {
        let view = crate::entities::entity_view(state, &item, clearance).await?;
        (Vec::new(), Some(view))
    } else {
        let named = crate::entities::named_by(state, item.id, clearance).await?;
        (named, None)
    };
    Ok(ItemDetail {
        item,
        notes,
        entities,
        entity,
    })
}

/// `GET /api/v1/items/{id}`
#[utoipa::path(
    get,
    path = "/api/v1/items/{id}",
    tag = "items",
    summary = "One item with its notes",
    params(("id" = i64, Path, description = "The item's id.")),
    responses(
        (status = 200, description = "The item and analysts' notes on it.", body = ItemDetail),
        (status = 400, description = "The id is not a number.", body = ErrorBody),
        (status = 404, description = "No such item within the caller's clearance.", body = ErrorBody),
    )
)]
pub async fn item(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<ItemDetail> {
    let item = readable_item(&state, &principal, &id).await?;
    Ok(Json(item_detail(&state, item, principal.clearance).await?))
}

/// A list without paging.
#[derive(Debug, Serialize, ToSchema)]
pub struct List<T> {
    /// The entries.
    items: Vec<T>,
}

/// A source with its schedule and whether it went stale.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceView {
    /// The source and its health.
    #[serde(flatten)]
    source: Source,
    /// Its schedule in seconds, when configured.
    every_seconds: Option<u64>,
    /// Whether it has run but not succeeded within twice its schedule.
    stale: Option<bool>,
}

fn view(state: &AppState, source: Source) -> SourceView {
    let every = state.schedules.get(&source.name).copied();
    let stale =
        every.map(|e| source.enabled && source.health.is_stale(e, rexist_core::model::now()));
    SourceView {
        source,
        every_seconds: every.map(|e| e.as_secs()),
        stale,
    }
}

/// `GET /api/v1/sources`
#[utoipa::path(
    get,
    path = "/api/v1/sources",
    tag = "sources",
    summary = "List sources",
    responses((status = 200, description = "Every source with its health.", body = List<SourceView>))
)]
pub async fn sources(State(state): State<AppState>) -> ApiResult<List<SourceView>> {
    let sources = state.store.list_sources().await?;
    Ok(Json(List {
        items: sources.into_iter().map(|s| view(&state, s)).collect(),
    }))
}

/// `GET /api/v1/sources/{name}`
#[utoipa::path(
    get,
    path = "/api/v1/sources/{name}",
    tag = "sources",
    summary = "One source",
    params(("name" = String, Path, description = "The source's name.")),
    responses(
        (status = 200, description = "The source with its health.", body = SourceView),
        (status = 404, description = "No source of that name.", body = ErrorBody),
    )
)]
pub async fn source(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<SourceView> {
    let source = state
        .store
        .source_by_name(&name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no source named {name:?}")))?;
    Ok(Json(view(&state, source)))
}

/// Answer of `POST /api/v1/sources/{name}/run`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Queued {
    /// Whether a run was queued; false when one is already queued or running.
    queued: bool,
}

/// The configured source named `name`, or 404: only sources the running
/// server knows how to run can be run or toggled through the API.
async fn configured(state: &AppState, name: &str) -> Result<Source, ApiError> {
    let stored = state.store.source_by_name(name).await?;
    match stored {
        Some(s) if state.schedules.contains_key(name) => Ok(s),
        _ => Err(ApiError::not_found(format!(
            "no configured source named {name:?}"
        ))),
    }
}

/// `POST /api/v1/sources/{name}/run`: queue a run now (the scheduler's workers run it).
#[utoipa::path(
    post,
    path = "/api/v1/sources/{name}/run",
    tag = "sources",
    summary = "Queue a run of a source now (analyst)",
    params(("name" = String, Path, description = "The source's name.")),
    responses(
        (status = 202, description = "Queued, or already queued or running.", body = Queued),
        (status = 404, description = "No configured source of that name.", body = ErrorBody),
    )
)]
pub async fn run_source(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    configured(&state, &name).await?;
    let queued = rexist_pipeline::scheduler::enqueue_run(&state.store, &name).await?;
    Ok((StatusCode::ACCEPTED, Json(Queued { queued })))
}

async fn toggle(state: &AppState, name: &str, enabled: bool) -> ApiResult<SourceView> {
    configured(state, name).await?;
    state.store.set_source_enabled(name, enabled).await?;
    let source = configured(state, name).await?;
    Ok(Json(view(state, source)))
}

/// `POST /api/v1/sources/{name}/enable`
#[utoipa::path(
    post,
    path = "/api/v1/sources/{name}/enable",
    tag = "sources",
    summary = "Enable a source (admin)",
    params(("name" = String, Path, description = "The source's name.")),
    responses(
        (status = 200, description = "The source as it is now.", body = SourceView),
        (status = 404, description = "No configured source of that name.", body = ErrorBody),
    )
)]
pub async fn enable_source(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<SourceView> {
    toggle(&state, &name, true).await
}

/// `POST /api/v1/sources/{name}/disable`: the scheduler stops running it; what it stored stays.
#[utoipa::path(
    post,
    path = "/api/v1/sources/{name}/disable",
    tag = "sources",
    summary = "Disable a source (admin)",
    params(("name" = String, Path, description = "The source's name.")),
    responses(
        (status = 200, description = "The source as it is now.", body = SourceView),
        (status = 404, description = "No configured source of that name.", body = ErrorBody),
    )
)]
pub async fn disable_source(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<SourceView> {
    toggle(&state, &name, false).await
}

/// Query parameters of the run listings.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RunParams {
    /// Cursor from the previous page's `next`.
    #[param(pattern = "^[0-9]{0,18}$")]
    cursor: Option<String>,
    /// Page size: 50 when absent or 0, at most 1000 (larger values are capped).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4_294_967_295_u64)]
    limit: Option<u32>,
}

async fn run_page(
    state: &AppState,
    source: Option<&Source>,
    p: RunParams,
) -> Result<Page<Run>, ApiError> {
    let limit = match p.limit {
        Some(0) | None => 50,
        // One more than the page is fetched to know whether another follows.
        Some(n) => n.min(999),
    };
    let before = parse_param::<RunId>("cursor", p.cursor.as_deref())?;
    let runs = state
        .store
        .list_runs(source.map(|s| s.id), before, limit + 1)
        .await?;
    Ok(Page::from_overfetch(runs, limit, |r| r.id.to_string()))
}

/// `GET /api/v1/sources/{name}/runs`
#[utoipa::path(
    get,
    path = "/api/v1/sources/{name}/runs",
    tag = "sources",
    summary = "Runs of one source, newest first",
    params(("name" = String, Path, description = "The source's name."), RunParams),
    responses(
        (status = 200, description = "A page of runs.", body = Page<Run>),
        (status = 400, description = "A parameter is invalid.", body = ErrorBody),
        (status = 404, description = "No source of that name.", body = ErrorBody),
    )
)]
pub async fn source_runs(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Result<Query<RunParams>, QueryRejection>,
) -> ApiResult<Page<Run>> {
    let p = query(params)?;
    let source = state
        .store
        .source_by_name(&name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no source named {name:?}")))?;
    Ok(Json(run_page(&state, Some(&source), p).await?))
}

/// `GET /api/v1/runs`
#[utoipa::path(
    get,
    path = "/api/v1/runs",
    tag = "sources",
    summary = "Runs of every source, newest first",
    params(RunParams),
    responses(
        (status = 200, description = "A page of runs.", body = Page<Run>),
        (status = 400, description = "A parameter is invalid.", body = ErrorBody),
    )
)]
pub async fn runs(
    State(state): State<AppState>,
    params: Result<Query<RunParams>, QueryRejection>,
) -> ApiResult<Page<Run>> {
    let p = query(params)?;
    Ok(Json(run_page(&state, None, p).await?))
}

/// Fallback for unknown API paths.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such API endpoint")
}
