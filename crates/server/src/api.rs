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
    Indicator, IndicatorRecord, IndicatorStatus, IndicatorType, Item, ItemId, ItemKind, Run, RunId,
    Sighting, Source,
};
use rexist_store::{IndicatorQuery, ItemQuery, Page};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;

type ApiResult<T> = Result<Json<T>, ApiError>;

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::invalid(format!("invalid query string: {}", e.body_text())))
}

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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicatorParams {
    /// Only this type (`ipv4`, `domain`, …).
    #[serde(rename = "type")]
    kind: Option<String>,
    /// Only this exact value (canonicalised first; the type is detected if not given).
    value: Option<String>,
    /// Only values starting with this.
    prefix: Option<String>,
    /// Only this status (`active`, `expired`, `allowlisted`).
    status: Option<String>,
    /// Cursor from the previous page's `next`.
    cursor: Option<String>,
    /// Page size.
    limit: Option<u32>,
}

/// `GET /api/v1/indicators`
pub async fn indicators(
    State(state): State<AppState>,
    params: Result<Query<IndicatorParams>, QueryRejection>,
) -> ApiResult<Page<IndicatorRecord>> {
    let p = query(params)?;
    let kind: Option<IndicatorType> = parse_param("type", p.kind.as_deref())?;
    let value = match (p.value.as_deref().filter(|v| !v.is_empty()), kind) {
        (Some(v), Some(k)) => Some(
            Indicator::parse(k, v)
                .map_err(|e| ApiError::invalid(format!("parameter value: {e}")))?
                .value()
                .to_owned(),
        ),
        (Some(v), None) => Some(
            Indicator::detect(v).map_or_else(|_| v.trim().to_owned(), |i| i.value().to_owned()),
        ),
        (None, _) => None,
    };
    let q = IndicatorQuery {
        kind,
        value,
        prefix: p.prefix.filter(|v| !v.is_empty()).map(|v| v.to_lowercase()),
        status: parse_param::<IndicatorStatus>("status", p.status.as_deref())?,
        max_tlp: None,
        after: p.cursor.filter(|c| !c.is_empty()),
        limit: p.limit.unwrap_or(0),
    };
    Ok(Json(state.store.list_indicators(&q).await?))
}

/// An indicator with its sightings.
#[derive(Debug, Serialize)]
pub struct IndicatorDetail {
    /// The indicator.
    #[serde(flatten)]
    indicator: IndicatorRecord,
    /// Who saw it, where and when.
    sightings: Vec<Sighting>,
}

/// `GET /api/v1/indicators/{type}/{*value}` (the value may contain slashes).
pub async fn indicator(
    State(state): State<AppState>,
    Path((kind, value)): Path<(String, String)>,
) -> ApiResult<IndicatorDetail> {
    let kind: IndicatorType = kind
        .parse()
        .map_err(|e| ApiError::invalid(format!("path type: {e}")))?;
    let parsed = Indicator::parse(kind, &value)
        .map_err(|e| ApiError::invalid(format!("path value: {e}")))?;
    let record = state
        .store
        .indicator(kind, parsed.value())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no {kind} {}", parsed.value())))?;
    let sightings = state.store.sightings_of(record.id).await?;
    Ok(Json(IndicatorDetail {
        indicator: record,
        sightings,
    }))
}

/// Query parameters of `GET /api/v1/items`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemParams {
    /// Full-text query over title and body: words are `ANDed`, `"phrases"`, `prefix*`.
    q: Option<String>,
    /// Only this kind (`news`, `post`, `event`, `vuln`, `exploit`).
    kind: Option<String>,
    /// Only items of the source with this name.
    source: Option<String>,
    /// Cursor from the previous page's `next`.
    cursor: Option<String>,
    /// Page size.
    limit: Option<u32>,
}

/// `GET /api/v1/items`
pub async fn items(
    State(state): State<AppState>,
    params: Result<Query<ItemParams>, QueryRejection>,
) -> ApiResult<Page<Item>> {
    let p = query(params)?;
    let source = match p.source.as_deref().filter(|s| !s.is_empty()) {
        Some(name) => Some(
            state
                .store
                .source_by_name(name)
                .await?
                .ok_or_else(|| {
                    ApiError::invalid(format!("parameter source: no source named {name:?}"))
                })?
                .id,
        ),
        None => None,
    };
    let q = ItemQuery {
        text: p.q,
        kind: parse_param::<ItemKind>("kind", p.kind.as_deref())?,
        source,
        max_tlp: None,
        before: parse_param::<ItemId>("cursor", p.cursor.as_deref())?,
        limit: p.limit.unwrap_or(0),
    };
    Ok(Json(state.store.search_items(&q).await?))
}

/// `GET /api/v1/items/{id}`
pub async fn item(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Item> {
    let id: ItemId = id
        .parse()
        .map_err(|_| ApiError::invalid(format!("path id: {id:?} is not an item id")))?;
    let item = state
        .store
        .item(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no item {id}")))?;
    Ok(Json(item))
}

/// A list without paging.
#[derive(Debug, Serialize)]
pub struct List<T> {
    /// The entries.
    items: Vec<T>,
}

/// A source with its schedule and whether it went stale.
#[derive(Debug, Serialize)]
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
pub async fn sources(State(state): State<AppState>) -> ApiResult<List<SourceView>> {
    let sources = state.store.list_sources().await?;
    Ok(Json(List {
        items: sources.into_iter().map(|s| view(&state, s)).collect(),
    }))
}

/// `GET /api/v1/sources/{name}`
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
#[derive(Debug, Serialize)]
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
pub async fn enable_source(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<SourceView> {
    toggle(&state, &name, true).await
}

/// `POST /api/v1/sources/{name}/disable`: the scheduler stops running it; what it stored stays.
pub async fn disable_source(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<SourceView> {
    toggle(&state, &name, false).await
}

/// Query parameters of the run listings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunParams {
    /// Cursor from the previous page's `next`.
    cursor: Option<String>,
    /// Page size.
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
