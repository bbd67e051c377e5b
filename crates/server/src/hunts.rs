//! REST API v1 for hunts, their hits, the alert outbox and channel health.
//!
//! - `GET /hunts`, `POST /hunts` (`{"name", "query"}` or `{"name", "watch"}`,
//!   optional `channels`, `digest` such as `"1h"`, `enabled`)
//! - `GET|PATCH|DELETE /hunts/{name}`; `POST /hunts/{name}/retro` starts a
//!   retro-hunt over stored history, whose progress `GET /hunts/{name}` shows
//! - `POST /hunts/test` (`{"query", "text"}`): does the text match, which terms
//! - `GET /hits` (`hunt`, `acked`, `cursor`, `limit`), `POST /hits/ack`
//!   (`{"ids": [..]}` or `{"hunt": name}` for all of a hunt's, or `{"all": true}`)
//! - `GET /alerts` (`status`, `channel`, `hunt`, `cursor`, `limit`), `GET /channels`

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use rexist_core::{
    Alert, AlertId, AlertStatus, ChannelHealth, HitId, Hunt, HuntHit, HuntId, HuntKind, HuntSpec,
};
use rexist_pipeline::hunter::{self, RetroSummary};
use rexist_store::{AlertQuery, HitQuery, Page};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;

type ApiResult<T> = Result<Json<T>, ApiError>;

/// Progress of retro-hunts started through the API, by hunt.
#[derive(Debug, Default)]
pub struct Retros(Mutex<HashMap<HuntId, RetroState>>);

/// A retro-hunt's progress.
#[derive(Debug, Clone, Serialize)]
pub struct RetroState {
    /// `running`, `done` or `failed`.
    pub state: &'static str,
    /// Counts so far.
    #[serde(flatten)]
    pub summary: RetroSummary,
    /// Why it failed.
    pub error: Option<String>,
}

impl Retros {
    fn set(&self, id: HuntId, state: RetroState) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(id, state);
        }
    }

    fn get(&self, id: HuntId) -> Option<RetroState> {
        self.0.lock().ok().and_then(|m| m.get(&id).cloned())
    }
}

fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    b.map(|Json(t)| t)
        .map_err(|e| ApiError::invalid(format!("invalid JSON body: {}", e.body_text())))
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::invalid(format!("invalid query string: {}", e.body_text())))
}

/// A hunt with its retro-hunt progress, if one was started here.
#[derive(Debug, Serialize)]
pub struct HuntView {
    /// The hunt.
    #[serde(flatten)]
    hunt: Hunt,
    /// The latest retro-hunt started through this server.
    retro: Option<RetroState>,
}

/// Body of `POST /api/v1/hunts` and `PATCH /api/v1/hunts/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HuntBody {
    /// Unique name (required to create; renames when patched).
    name: Option<String>,
    /// Query over items.
    query: Option<String>,
    /// Watchlist over indicators.
    watch: Option<String>,
    /// Channel names.
    channels: Option<Vec<String>>,
    /// Digest period (`30m`, `1h`, `1d`), or `off` for an alert per hit.
    digest: Option<String>,
    /// Whether it is evaluated.
    enabled: Option<bool>,
}

fn digest_secs(value: Option<&str>) -> Result<Option<u64>, ApiError> {
    match value {
        None | Some("off" | "0" | "") => Ok(None),
        Some(v) => rexist_connectors::source::parse_every(v)
            .map(|d| Some(d.as_secs()))
            .ok_or_else(|| {
                ApiError::invalid(format!("digest: {v:?} is not a period such as 30m, 1h, 1d"))
            }),
    }
}

fn check(state: &AppState, spec: &HuntSpec) -> Result<(), ApiError> {
    if spec.name.trim().is_empty() {
        return Err(ApiError::invalid("name: must not be empty"));
    }
    hunter::validate(spec.kind, &spec.definition).map_err(|e| {
        let field = match spec.kind {
            HuntKind::Query => "query",
            HuntKind::Watch => "watch",
        };
        ApiError::invalid(format!("{field}: {e}"))
    })?;
    for c in &spec.channels {
        if !state.channels.iter().any(|k| k == c) {
            return Err(ApiError::invalid(format!(
                "channels: no channel named {c:?} is configured (channels: {})",
                state.channels.join(", ")
            )));
        }
    }
    Ok(())
}

async fn by_name(state: &AppState, name: &str) -> Result<Hunt, ApiError> {
    state
        .store
        .hunt_by_name(name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no hunt named {name:?}")))
}

fn view(state: &AppState, hunt: Hunt) -> HuntView {
    HuntView {
        retro: state.retros.get(hunt.id),
        hunt,
    }
}

/// `GET /api/v1/hunts`
pub async fn list(State(state): State<AppState>) -> ApiResult<Vec<HuntView>> {
    let hunts = state.store.list_hunts().await?;
    Ok(Json(hunts.into_iter().map(|h| view(&state, h)).collect()))
}

/// `POST /api/v1/hunts`
pub async fn create(
    State(state): State<AppState>,
    b: Result<Json<HuntBody>, JsonRejection>,
) -> Result<(StatusCode, Json<HuntView>), ApiError> {
    let b = body(b)?;
    let (kind, definition) = match (b.query, b.watch) {
        (Some(q), None) => (HuntKind::Query, q),
        (None, Some(w)) => (HuntKind::Watch, w),
        _ => return Err(ApiError::invalid("give exactly one of query or watch")),
    };
    let spec = HuntSpec {
        name: b.name.ok_or_else(|| ApiError::invalid("name: required"))?,
        kind,
        definition,
        enabled: b.enabled.unwrap_or(true),
        channels: b.channels.unwrap_or_default(),
        digest_secs: digest_secs(b.digest.as_deref())?,
    };
    check(&state, &spec)?;
    let hunt = state.store.create_hunt(&spec).await?;
    Ok((StatusCode::CREATED, Json(view(&state, hunt))))
}

/// `GET /api/v1/hunts/{name}`
pub async fn get(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<HuntView> {
    let hunt = by_name(&state, &name).await?;
    Ok(Json(view(&state, hunt)))
}

/// `PATCH /api/v1/hunts/{name}`: the fields given replace the hunt's.
pub async fn update(
    State(state): State<AppState>,
    Path(name): Path<String>,
    b: Result<Json<HuntBody>, JsonRejection>,
) -> ApiResult<HuntView> {
    let b = body(b)?;
    let hunt = by_name(&state, &name).await?;
    let mut spec = hunt.spec.clone();
    match (b.query, b.watch, spec.kind) {
        (Some(q), None, HuntKind::Query) => spec.definition = q,
        (None, Some(w), HuntKind::Watch) => spec.definition = w,
        (None, None, _) => {}
        (Some(_), None, HuntKind::Watch) => {
            return Err(ApiError::invalid("query: this is a watch hunt; give watch"));
        }
        (None, Some(_), HuntKind::Query) => {
            return Err(ApiError::invalid("watch: this is a query hunt; give query"));
        }
        (Some(_), Some(_), _) => return Err(ApiError::invalid("give query or watch, not both")),
    }
    if let Some(n) = b.name {
        spec.name = n;
    }
    if let Some(c) = b.channels {
        spec.channels = c;
    }
    if let Some(d) = b.digest {
        spec.digest_secs = digest_secs(Some(&d))?;
    }
    if let Some(e) = b.enabled {
        spec.enabled = e;
    }
    check(&state, &spec)?;
    let updated = state
        .store
        .update_hunt(hunt.id, &spec)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no hunt named {name:?}")))?;
    Ok(Json(view(&state, updated)))
}

/// `DELETE /api/v1/hunts/{name}`: the hunt, its hits and its pending alerts.
pub async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let hunt = by_name(&state, &name).await?;
    state.store.delete_hunt(hunt.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/hunts/{name}/retro`: starts a retro-hunt; 202 with its state.
pub async fn retro(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<HuntView>), ApiError> {
    let hunt = by_name(&state, &name).await?;
    if state
        .retros
        .get(hunt.id)
        .is_some_and(|r| r.state == "running")
    {
        return Err(ApiError::conflict(format!(
            "a retro-hunt of {name:?} is already running"
        )));
    }
    let running = |summary| RetroState {
        state: "running",
        summary,
        error: None,
    };
    state.retros.set(hunt.id, running(RetroSummary::default()));
    let (store, retros, h) = (
        Arc::clone(&state.store),
        Arc::clone(&state.retros),
        hunt.clone(),
    );
    tokio::spawn(async move {
        let progress = Arc::clone(&retros);
        let result = hunter::retro(&store, &h, |s| progress.set(h.id, running(s))).await;
        let done = match result {
            Ok(summary) => RetroState {
                state: "done",
                summary,
                error: None,
            },
            Err(e) => {
                tracing::warn!(hunt = %h.spec.name, error = %e, "retro-hunt failed");
                RetroState {
                    state: "failed",
                    summary: retros.get(h.id).map(|r| r.summary).unwrap_or_default(),
                    error: Some(e.to_string()),
                }
            }
        };
        retros.set(h.id, done);
    });
    Ok((StatusCode::ACCEPTED, Json(view(&state, hunt))))
}

/// Body of `POST /api/v1/hunts/test`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestBody {
    /// The query.
    query: String,
    /// The text.
    text: String,
}

/// Answer of `POST /api/v1/hunts/test`.
#[derive(Debug, Serialize)]
pub struct TestResult {
    /// Whether the text matches.
    #[serde(rename = "match")]
    matched: bool,
    /// The terms that hit.
    terms: Vec<String>,
}

/// `POST /api/v1/hunts/test`
pub async fn test(b: Result<Json<TestBody>, JsonRejection>) -> ApiResult<TestResult> {
    let b = body(b)?;
    let q = rexist_query::parse(&b.query).map_err(|e| ApiError::invalid(format!("query: {e}")))?;
    let terms = rexist_query::test(&q, &b.text);
    Ok(Json(TestResult {
        matched: terms.is_some(),
        terms: terms.unwrap_or_default(),
    }))
}

/// Query parameters of `GET /api/v1/hits`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HitParams {
    /// Only hits of the hunt with this name.
    hunt: Option<String>,
    /// `true` or `false`: only (un)acknowledged hits.
    acked: Option<bool>,
    /// Cursor from the previous page's `next`.
    cursor: Option<String>,
    /// Page size.
    limit: Option<u32>,
}

fn cursor<T: std::str::FromStr>(c: Option<&str>) -> Result<Option<T>, ApiError> {
    c.filter(|c| !c.is_empty())
        .map(|c| {
            c.parse().map_err(|_| {
                ApiError::invalid(format!("cursor: {c:?} is not a cursor of this listing"))
            })
        })
        .transpose()
}

/// `GET /api/v1/hits`
pub async fn hits(
    State(state): State<AppState>,
    params: Result<Query<HitParams>, QueryRejection>,
) -> ApiResult<Page<HuntHit>> {
    let p = query(params)?;
    let hunt = match p.hunt.as_deref().filter(|h| !h.is_empty()) {
        Some(name) => Some(by_name(&state, name).await?.id),
        None => None,
    };
    let q = HitQuery {
        hunt,
        acked: p.acked,
        before: cursor::<HitId>(p.cursor.as_deref())?,
        limit: p.limit.unwrap_or(0),
    };
    Ok(Json(state.store.list_hits(&q).await?))
}

/// Body of `POST /api/v1/hits/ack`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    /// Hit ids.
    #[serde(default)]
    ids: Vec<i64>,
    /// All unacknowledged hits of this hunt (with no ids), or only ids of it.
    hunt: Option<String>,
    /// Every unacknowledged hit of every hunt (with no ids and no hunt).
    #[serde(default)]
    all: bool,
    /// Who acknowledges, for the record.
    by: Option<String>,
}

/// Answer of `POST /api/v1/hits/ack`.
#[derive(Debug, Serialize)]
pub struct Acked {
    /// How many hits changed.
    acked: u64,
}

/// `POST /api/v1/hits/ack`
pub async fn ack(
    State(state): State<AppState>,
    b: Result<Json<AckBody>, JsonRejection>,
) -> ApiResult<Acked> {
    let b = body(b)?;
    let hunt = match b.hunt.as_deref() {
        Some(name) => Some(by_name(&state, name).await?.id),
        None => None,
    };
    if b.ids.is_empty() && hunt.is_none() && !b.all {
        return Err(ApiError::invalid(
            "give ids, a hunt, or all: true to acknowledge every hit",
        ));
    }
    let ids: Vec<HitId> = b.ids.into_iter().map(HitId::new).collect();
    let by = b.by.unwrap_or_else(|| "api".to_owned());
    let acked = state.store.ack_hits(&ids, hunt, &by).await?;
    Ok(Json(Acked { acked }))
}

/// Query parameters of `GET /api/v1/alerts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertParams {
    /// `pending`, `sent` or `failed`.
    status: Option<String>,
    /// Only alerts to this channel.
    channel: Option<String>,
    /// Only alerts of the hunt with this name.
    hunt: Option<String>,
    /// Cursor from the previous page's `next`.
    cursor: Option<String>,
    /// Page size.
    limit: Option<u32>,
}

/// `GET /api/v1/alerts`
pub async fn alerts(
    State(state): State<AppState>,
    params: Result<Query<AlertParams>, QueryRejection>,
) -> ApiResult<Page<Alert>> {
    let p = query(params)?;
    let status = p
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(str::parse::<AlertStatus>)
        .transpose()
        .map_err(|e| ApiError::invalid(format!("parameter status: {e}")))?;
    let hunt = match p.hunt.as_deref().filter(|h| !h.is_empty()) {
        Some(name) => Some(by_name(&state, name).await?.id),
        None => None,
    };
    let q = AlertQuery {
        hunt,
        channel: p.channel.filter(|c| !c.is_empty()),
        status,
        before: cursor::<AlertId>(p.cursor.as_deref())?,
        limit: p.limit.unwrap_or(0),
    };
    Ok(Json(state.store.list_alerts(&q).await?))
}

/// A channel and its delivery health.
#[derive(Debug, Serialize)]
pub struct ChannelView {
    /// Whether a `[[channel]]` table defines it (alerts to an undefined one wait).
    configured: bool,
    /// Delivery counts and the last error.
    #[serde(flatten)]
    health: ChannelHealth,
}

/// `GET /api/v1/channels`
pub async fn channels(State(state): State<AppState>) -> ApiResult<Vec<ChannelView>> {
    let health = state.store.channel_health().await?;
    let mut out: Vec<ChannelView> = state
        .channels
        .iter()
        .map(|name| ChannelView {
            configured: true,
            health: health
                .iter()
                .find(|h| &h.channel == name)
                .cloned()
                .unwrap_or_else(|| ChannelHealth {
                    channel: name.clone(),
                    ..ChannelHealth::default()
                }),
        })
        .collect();
    for h in health {
        if !state.channels.contains(&h.channel) {
            out.push(ChannelView {
                configured: false,
                health: h,
            });
        }
    }
    Ok(Json(out))
}
