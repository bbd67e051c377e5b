//! REST API v1 for hunts, their hits, the alert outbox and channel health.
//!
//! - `GET /hunts`, `POST /hunts` (`{"name", "query"}` or `{"name", "watch"}`,
//!   optional `channels`, `digest` such as `"1h"`, `enabled`, `tlp`)
//! - `GET|PATCH|DELETE /hunts/{name}`; `POST /hunts/{name}/retro` queues a
//!   retro-hunt over stored history as a job for the scheduler's workers (on
//!   any node); its progress, recorded in the store, `GET /hunts/{name}` shows
//! - `POST /hunts/test` (`{"query", "text"}`): does the text match, which terms
//! - `GET /hits` (`hunt`, `acked`, `cursor`, `limit`), `POST /hits/ack`
//!   (`{"ids": [..]}` or `{"hunt": name}` for all of a hunt's, or `{"all": true}`)
//! - `GET /alerts` (`status`, `channel`, `hunt`, `cursor`, `limit`), `GET /channels`
//!
//! A hunt carries a TLP (AMBER unless its creator says otherwise or is
//! cleared lower): a reader cleared below it is answered as if the hunt did
//! not exist — not listed, 404 by name — and sees none of its hits or alerts.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use rexist_core::{
    Alert, AlertId, AlertStatus, ChannelHealth, HitId, HitTriage, Hunt, HuntHit, HuntId, HuntKind,
    HuntSpec, Tlp, TriageChange, TriageEntry,
};
use rexist_pipeline::hunter::{self, RetroSummary};
use rexist_pipeline::scheduler;
use rexist_store::{AlertQuery, HitQuery, Page, RetroHunt, RetroStatus};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Principal;
use crate::error::ErrorBody;
use crate::error::{ApiError, json_body, query};

type ApiResult<T> = Result<Json<T>, ApiError>;

/// A retro-hunt's progress, as recorded in the store by the worker running
/// it (any node's, so every node answers the same).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RetroState {
    /// `queued` (waiting for a worker), `running`, `done`, `failed` or
    /// `interrupted` (its worker stopped; the job runs again).
    #[schema(value_type = String, pattern = "^(queued|running|done|failed|interrupted)$")]
    pub state: RetroStatus,
    /// Counts so far.
    #[serde(flatten)]
    pub summary: RetroSummary,
    /// Why it failed or was interrupted.
    pub error: Option<String>,
    /// When it was asked for.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub queued_at: OffsetDateTime,
    /// When a worker last started it.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<OffsetDateTime>,
    /// When it ended.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<OffsetDateTime>,
}

impl From<RetroHunt> for RetroState {
    fn from(r: RetroHunt) -> Self {
        Self {
            state: r.status,
            summary: RetroSummary {
                scanned: r.scanned,
                hits: r.hits,
                announced: r.announced,
            },
            error: r.error,
            queued_at: r.queued_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
        }
    }
}

/// A hunt with the progress of its latest retro-hunt.
#[derive(Debug, Serialize, ToSchema)]
pub struct HuntView {
    /// The hunt.
    #[serde(flatten)]
    hunt: Hunt,
    /// The latest retro-hunt started through the API or the CLI, on any node.
    retro: Option<RetroState>,
}

/// Body of `POST /api/v1/hunts` and `PATCH /api/v1/hunts/{name}`.
#[derive(Debug, Deserialize, ToSchema)]
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
    /// Readers cleared below this TLP see neither the hunt nor its hits; at
    /// most the caller's clearance. Default AMBER (or the caller's clearance
    /// if lower).
    tlp: Option<Tlp>,
}

pub(crate) fn digest_secs(value: Option<&str>) -> Result<Option<u64>, ApiError> {
    match value {
        None | Some("off" | "0" | "") => Ok(None),
        Some(v) => rexist_connectors::source::parse_every(v)
            .map(|d| Some(d.as_secs()))
            .ok_or_else(|| {
                ApiError::invalid(format!("digest: {v:?} is not a period such as 30m, 1h, 1d"))
            }),
    }
}

pub(crate) fn check(state: &AppState, spec: &HuntSpec) -> Result<(), ApiError> {
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

/// The hunt named `name` if `principal` may see it; one above its
/// clearance is not found, so its existence is not revealed either.
pub(crate) async fn by_name(
    state: &AppState,
    principal: &Principal,
    name: &str,
) -> Result<Hunt, ApiError> {
    state
        .store
        .hunt_by_name(name)
        .await?
        .filter(|h| principal.may_read(h.spec.tlp))
        .ok_or_else(|| ApiError::not_found(format!("no hunt named {name:?}")))
}

/// Refuses a hunt TLP above the caller's clearance: they could not see
/// the hunt they saved.
pub(crate) fn check_tlp(principal: &Principal, tlp: Tlp) -> Result<(), ApiError> {
    if principal.may_read(tlp) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "tlp: {tlp} is above the clearance of {} ({})",
            principal.name, principal.clearance
        )))
    }
}

async fn view(state: &AppState, hunt: Hunt) -> Result<HuntView, ApiError> {
    let retro = state.store.retro_hunts(Some(hunt.id)).await?;
    Ok(HuntView {
        retro: retro.into_iter().next().map(RetroState::from),
        hunt,
    })
}

/// `GET /api/v1/hunts`
#[utoipa::path(
    get,
    path = "/api/v1/hunts",
    tag = "hunts",
    summary = "List hunts",
    responses((status = 200, description = "Every hunt with its retro-hunt progress.", body = Vec<HuntView>))
)]
pub async fn list(State(state): State<AppState>, principal: Principal) -> ApiResult<Vec<HuntView>> {
    let hunts = state.store.list_hunts().await?;
    // One read for every hunt's retro-hunt rather than one per hunt.
    let mut retros: HashMap<HuntId, RetroHunt> = state
        .store
        .retro_hunts(None)
        .await?
        .into_iter()
        .map(|r| (r.hunt, r))
        .collect();
    Ok(Json(
        hunts
            .into_iter()
            .filter(|h| principal.may_read(h.spec.tlp))
            .map(|h| HuntView {
                retro: retros.remove(&h.id).map(RetroState::from),
                hunt: h,
            })
            .collect(),
    ))
}

/// `POST /api/v1/hunts`
#[utoipa::path(
    post,
    path = "/api/v1/hunts",
    tag = "hunts",
    summary = "Create a hunt (analyst)",
    description = "Give `name` and exactly one of `query` (over items) or `watch` (a watchlist over indicators).",
    request_body = HuntBody,
    responses(
        (status = 201, description = "Created.", body = HuntView),
        (status = 400, description = "The body is invalid: a missing name, both or neither of query and watch, a query that does not parse, an unknown channel.", body = ErrorBody),
        (status = 403, description = "`tlp` is above the caller's clearance.", body = ErrorBody),
        (status = 409, description = "A hunt of that name exists.", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    b: Result<Json<HuntBody>, JsonRejection>,
) -> Result<(StatusCode, Json<HuntView>), ApiError> {
    let b = json_body(b)?;
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
        tlp: b
            .tlp
            .unwrap_or_else(|| HuntSpec::default_tlp(principal.clearance)),
    };
    check(&state, &spec)?;
    check_tlp(&principal, spec.tlp)?;
    let hunt = state.ingest.create_hunt(&spec).await?;
    Ok((StatusCode::CREATED, Json(view(&state, hunt).await?)))
}

/// `GET /api/v1/hunts/{name}`
#[utoipa::path(
    get,
    path = "/api/v1/hunts/{name}",
    tag = "hunts",
    summary = "One hunt",
    params(("name" = String, Path, description = "The hunt's name.")),
    responses(
        (status = 200, description = "The hunt with its retro-hunt progress.", body = HuntView),
        (status = 404, description = "No hunt of that name.", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> ApiResult<HuntView> {
    let hunt = by_name(&state, &principal, &name).await?;
    Ok(Json(view(&state, hunt).await?))
}

/// `PATCH /api/v1/hunts/{name}`: the fields given replace the hunt's.
#[utoipa::path(
    patch,
    path = "/api/v1/hunts/{name}",
    tag = "hunts",
    summary = "Change a hunt (analyst)",
    description = "The fields given replace the hunt's; a query hunt takes `query`, a watch hunt `watch`.",
    params(("name" = String, Path, description = "The hunt's name.")),
    request_body = HuntBody,
    responses(
        (status = 200, description = "The hunt as it is now.", body = HuntView),
        (status = 400, description = "The body is invalid.", body = ErrorBody),
        (status = 403, description = "`tlp` is above the caller's clearance.", body = ErrorBody),
        (status = 404, description = "No hunt of that name.", body = ErrorBody),
        (status = 409, description = "Renamed to the name of another hunt.", body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    b: Result<Json<HuntBody>, JsonRejection>,
) -> ApiResult<HuntView> {
    let b = json_body(b)?;
    let hunt = by_name(&state, &principal, &name).await?;
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
    if let Some(t) = b.tlp {
        check_tlp(&principal, t)?;
        spec.tlp = t;
    }
    check(&state, &spec)?;
    let updated = state
        .ingest
        .update_hunt(hunt.id, &spec)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no hunt named {name:?}")))?;
    Ok(Json(view(&state, updated).await?))
}

/// `DELETE /api/v1/hunts/{name}`: the hunt, its hits and its pending alerts.
#[utoipa::path(
    delete,
    path = "/api/v1/hunts/{name}",
    tag = "hunts",
    summary = "Delete a hunt with its hits and pending alerts (analyst)",
    params(("name" = String, Path, description = "The hunt's name.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No hunt of that name.", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let hunt = by_name(&state, &principal, &name).await?;
    state.ingest.delete_hunt(hunt.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/hunts/{name}/retro`: queues a retro-hunt for the
/// scheduler's workers; 202 with its state.
#[utoipa::path(
    post,
    path = "/api/v1/hunts/{name}/retro",
    tag = "hunts",
    summary = "Start a retro-hunt over stored history (analyst)",
    params(("name" = String, Path, description = "The hunt's name.")),
    responses(
        (status = 202, description = "Queued for a worker; `GET /api/v1/hunts/{name}` shows its progress.", body = HuntView),
        (status = 404, description = "No hunt of that name.", body = ErrorBody),
        (status = 409, description = "A retro-hunt of this hunt is already queued or running.", body = ErrorBody),
    )
)]
pub async fn retro(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<HuntView>), ApiError> {
    let hunt = by_name(&state, &principal, &name).await?;
    // Queued in the store for any node's workers; its key refuses a second
    // one while the first is queued or running.
    if !scheduler::enqueue_retro(&state.store, hunt.id).await? {
        return Err(ApiError::conflict(format!(
            "a retro-hunt of {name:?} is already queued or running"
        )));
    }
    Ok((StatusCode::ACCEPTED, Json(view(&state, hunt).await?)))
}

/// Body of `POST /api/v1/hunts/test`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestBody {
    /// The query.
    query: String,
    /// The text.
    text: String,
}

/// Answer of `POST /api/v1/hunts/test`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    /// Whether the text matches.
    #[serde(rename = "match")]
    matched: bool,
    /// The terms that hit.
    terms: Vec<String>,
}

/// `POST /api/v1/hunts/test`
#[utoipa::path(
    post,
    path = "/api/v1/hunts/test",
    tag = "hunts",
    summary = "Test a query against a text",
    request_body = TestBody,
    responses(
        (status = 200, description = "Whether the text matches and which terms hit.", body = TestResult),
        (status = 400, description = "The body is invalid or the query does not parse.", body = ErrorBody),
    )
)]
pub async fn test(b: Result<Json<TestBody>, JsonRejection>) -> ApiResult<TestResult> {
    let b = json_body(b)?;
    let q = rexist_query::parse(&b.query).map_err(|e| ApiError::invalid(format!("query: {e}")))?;
    let terms = rexist_query::test(&q, &b.text);
    Ok(Json(TestResult {
        matched: terms.is_some(),
        terms: terms.unwrap_or_default(),
    }))
}

/// Query parameters of `GET /api/v1/hits`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HitParams {
    /// Only hits of the hunt with this name.
    hunt: Option<String>,
    /// `true` or `false`: only (un)acknowledged hits.
    acked: Option<bool>,
    /// Only hits in this triage state: `new`, `in_progress`, `closed`, `false_positive`.
    #[param(schema_with = crate::openapi::or_empty::<HitTriage>)]
    triage: Option<String>,
    /// Only hits assigned to this user.
    assignee: Option<String>,
    /// Cursor from the previous page's `next`.
    #[param(pattern = "^[0-9]{0,18}$")]
    cursor: Option<String>,
    /// Page size: 50 when absent or 0, at most 1000 (larger values are capped).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4_294_967_295_u64)]
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
#[utoipa::path(
    get,
    path = "/api/v1/hits",
    tag = "hunts",
    summary = "List hits, newest first",
    params(HitParams),
    responses(
        (status = 200, description = "A page of hits.", body = Page<HuntHit>),
        (status = 400, description = "A parameter is invalid.", body = ErrorBody),
        (status = 404, description = "No hunt of the name given as `hunt`.", body = ErrorBody),
    )
)]
pub async fn hits(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<HitParams>, QueryRejection>,
) -> ApiResult<Page<HuntHit>> {
    let p = query(params)?;
    let hunt = match p.hunt.as_deref().filter(|h| !h.is_empty()) {
        Some(name) => Some(by_name(&state, &principal, name).await?.id),
        None => None,
    };
    let triage = p
        .triage
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<HitTriage>()
                .map_err(|e| ApiError::invalid(format!("triage: {e}")))
        })
        .transpose()?;
    let q = HitQuery {
        hunt,
        acked: p.acked,
        before: cursor::<HitId>(p.cursor.as_deref())?,
        limit: p.limit.unwrap_or(0),
        max_tlp: Some(principal.clearance),
        triage,
        assignee: p.assignee.filter(|a| !a.is_empty()),
    };
    let mut page = state.store.list_hits(&q).await?;
    page.items = visible_hits(state.store.as_ref(), page.items, principal.clearance).await?;
    Ok(Json(page))
}

/// The hits on objects a reader cleared to `clearance` may see: a hit on a
/// TLP:RED item would tell a viewer that the item exists and what it matched.
pub async fn visible_hits(
    store: &dyn rexist_store::Store,
    hits: Vec<HuntHit>,
    clearance: rexist_core::Tlp,
) -> Result<Vec<HuntHit>, rexist_store::StoreError> {
    if clearance == rexist_core::Tlp::Red || hits.is_empty() {
        return Ok(hits);
    }
    let item_ids: Vec<rexist_core::ItemId> = hits
        .iter()
        .filter_map(|h| match h.object {
            rexist_core::HitObject::Item(id) => Some(id),
            rexist_core::HitObject::Indicator(_) => None,
        })
        .collect();
    let readable_items: std::collections::HashSet<rexist_core::ItemId> = store
        .items_by_id(&item_ids)
        .await?
        .into_iter()
        .filter(|i| i.content.tlp <= clearance)
        .map(|i| i.id)
        .collect();
    let mut out = Vec::with_capacity(hits.len());
    for h in hits {
        let readable = match h.object {
            rexist_core::HitObject::Item(id) => readable_items.contains(&id),
            rexist_core::HitObject::Indicator(id) => store
                .indicator_by_id(id)
                .await?
                .is_some_and(|r| r.tlp <= clearance),
        };
        if readable {
            out.push(h);
        }
    }
    Ok(out)
}

/// Body of `POST /api/v1/hits/ack`.
#[derive(Debug, Deserialize, ToSchema)]
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
    /// Ignored, kept for older clients: the record names the authenticated caller.
    #[allow(dead_code)]
    by: Option<String>,
}

/// Answer of `POST /api/v1/hits/ack`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Acked {
    /// How many hits changed.
    acked: u64,
}

/// `POST /api/v1/hits/ack`
#[utoipa::path(
    post,
    path = "/api/v1/hits/ack",
    tag = "hunts",
    summary = "Acknowledge hits (analyst)",
    description = "Give `ids`, a `hunt` (all of its unacknowledged hits, or only `ids` of it), or `all: true`.",
    request_body = AckBody,
    responses(
        (status = 200, description = "How many hits changed.", body = Acked),
        (status = 400, description = "The body is invalid or selects nothing.", body = ErrorBody),
        (status = 404, description = "No hunt of the name given as `hunt`.", body = ErrorBody),
    )
)]
pub async fn ack(
    State(state): State<AppState>,
    principal: Principal,
    b: Result<Json<AckBody>, JsonRejection>,
) -> ApiResult<Acked> {
    let b = json_body(b)?;
    let hunt = match b.hunt.as_deref() {
        Some(name) => Some(by_name(&state, &principal, name).await?.id),
        None => None,
    };
    if b.ids.is_empty() && hunt.is_none() && !b.all {
        return Err(ApiError::invalid(
            "give ids, a hunt, or all: true to acknowledge every hit",
        ));
    }
    // Who acknowledged is who authenticated, not what the body claims.
    let by = principal.name.clone();
    // Only hits of hunts the caller sees: acknowledging hides a hit from
    // the hunt's readers, and must not reach hunts above the clearance.
    let visible = visible_hunts(&state, &principal).await?;
    let acked = if b.ids.is_empty() {
        // One hunt, or each the caller sees ("all" must not reach the others).
        let hunts: Vec<HuntId> =
            hunt.map_or_else(|| visible.iter().copied().collect(), |h| vec![h]);
        let mut n = 0;
        for h in hunts {
            n += state.store.ack_hits(&[], Some(h), &by).await?;
        }
        n
    } else {
        let asked: Vec<HitId> = b.ids.into_iter().map(HitId::new).collect();
        let ids: Vec<HitId> = state
            .store
            .hits_by_id(&asked)
            .await?
            .into_iter()
            .filter(|h| visible.contains(&h.hunt_id))
            .map(|h| h.id)
            .collect();
        if ids.is_empty() {
            0
        } else {
            state.store.ack_hits(&ids, hunt, &by).await?
        }
    };
    Ok(Json(Acked { acked }))
}

/// The hunts `principal` may read.
async fn visible_hunts(
    state: &AppState,
    principal: &Principal,
) -> Result<std::collections::HashSet<HuntId>, ApiError> {
    Ok(state
        .store
        .list_hunts()
        .await?
        .into_iter()
        .filter(|h| principal.may_read(h.spec.tlp))
        .map(|h| h.id)
        .collect())
}

/// The hits of `ids` that `principal` may see: of hunts it reads, on
/// objects within its clearance.
async fn readable_hits(
    state: &AppState,
    principal: &Principal,
    ids: &[HitId],
) -> Result<Vec<HuntHit>, ApiError> {
    let hunts = visible_hunts(state, principal).await?;
    let hits: Vec<HuntHit> = state
        .store
        .hits_by_id(ids)
        .await?
        .into_iter()
        .filter(|h| hunts.contains(&h.hunt_id))
        .collect();
    Ok(visible_hits(state.store.as_ref(), hits, principal.clearance).await?)
}

/// Most hits one triage request may change.
pub const MAX_TRIAGE: usize = 10_000;
/// Longest triage note, in characters.
pub const MAX_NOTE: usize = 10_000;

/// Whether `assignee` (trimmed) may name who works on a hit: at most 200
/// characters, none a control character. The API and the hunt page share it.
pub fn assignee_ok(assignee: &str) -> bool {
    assignee.chars().count() <= 200 && !assignee.chars().any(char::is_control)
}

/// Body of `POST /api/v1/hits/triage`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriageBody {
    /// The hits (at most 10,000).
    #[schema(max_items = 10000)]
    ids: Vec<i64>,
    /// The new state; absent: unchanged.
    status: Option<HitTriage>,
    /// Who works on them; `""` unassigns; absent: unchanged.
    assignee: Option<String>,
    /// A note kept in each hit's history.
    #[schema(max_length = 10000)]
    note: Option<String>,
}

/// Answer of `POST /api/v1/hits/triage`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Triaged {
    /// How many hits changed.
    triaged: u64,
}

/// `POST /api/v1/hits/triage`
#[utoipa::path(
    post,
    path = "/api/v1/hits/triage",
    tag = "hunts",
    summary = "Triage hits (analyst)",
    description = "Sets the triage state (`new`, `in_progress`, `closed`, `false_positive`), the assignee and/or a note on each hit of `ids` the caller may see; each change is kept in the hit's history with its author. `closed` and `false_positive` acknowledge the hit too.",
    request_body = TriageBody,
    responses(
        (status = 200, description = "How many hits changed.", body = Triaged),
        (status = 400, description = "The body is invalid, changes nothing, or names too many hits.", body = ErrorBody),
    )
)]
pub async fn triage(
    State(state): State<AppState>,
    principal: Principal,
    b: Result<Json<TriageBody>, JsonRejection>,
) -> ApiResult<Triaged> {
    let b = json_body(b)?;
    if b.ids.is_empty() {
        return Err(ApiError::invalid("ids: give at least one hit id"));
    }
    if b.ids.len() > MAX_TRIAGE {
        return Err(ApiError::invalid(format!(
            "ids: {} given, at most {MAX_TRIAGE}",
            b.ids.len()
        )));
    }
    let note = b
        .note
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
        return Err(ApiError::invalid(format!(
            "note: longer than {MAX_NOTE} characters"
        )));
    }
    let assignee = match b.assignee.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(a) if !assignee_ok(a) => {
            return Err(ApiError::invalid(
                "assignee: at most 200 characters, no control characters",
            ));
        }
        Some(a) => Some(Some(a.to_owned())),
    };
    if b.status.is_none() && assignee.is_none() && note.is_none() {
        return Err(ApiError::invalid(
            "give a status, an assignee or a note to change",
        ));
    }
    let asked: Vec<HitId> = b.ids.into_iter().map(HitId::new).collect();
    let ids: Vec<HitId> = readable_hits(&state, &principal, &asked)
        .await?
        .into_iter()
        .map(|h| h.id)
        .collect();
    let change = TriageChange {
        status: b.status,
        assignee,
        note,
        author: principal.name.clone(),
    };
    let triaged = if ids.is_empty() {
        0
    } else {
        state.store.triage_hits(&ids, &change).await?
    };
    Ok(Json(Triaged { triaged }))
}

/// Answer of `GET /api/v1/hits/{id}/triage`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TriageHistory {
    /// The hit as it stands.
    hit: HuntHit,
    /// Every triage change, oldest first.
    history: Vec<TriageEntry>,
}

/// `GET /api/v1/hits/{id}/triage`
#[utoipa::path(
    get,
    path = "/api/v1/hits/{id}/triage",
    tag = "hunts",
    summary = "A hit with its triage history",
    params(("id" = i64, Path, description = "The hit id.")),
    responses(
        (status = 200, description = "The hit and its triage history.", body = TriageHistory),
        (status = 400, description = "The id is not a number.", body = ErrorBody),
        (status = 404, description = "No hit of that id the caller may see.", body = ErrorBody),
    )
)]
pub async fn triage_history(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<TriageHistory> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::invalid(format!("hit id {id:?} is not a number")))?;
    let hit = readable_hits(&state, &principal, &[HitId::new(id)])
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found(format!("no hit {id}")))?;
    let history = state.store.hit_triage_log(hit.id).await?;
    Ok(Json(TriageHistory { hit, history }))
}

/// Query parameters of `GET /api/v1/alerts`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AlertParams {
    /// `pending`, `sent` or `failed`.
    #[param(schema_with = crate::openapi::or_empty::<AlertStatus>)]
    status: Option<String>,
    /// Only alerts to this channel.
    channel: Option<String>,
    /// Only alerts of the hunt with this name.
    hunt: Option<String>,
    /// Cursor from the previous page's `next`.
    #[param(pattern = "^[0-9]{0,18}$")]
    cursor: Option<String>,
    /// Page size: 50 when absent or 0, at most 1000 (larger values are capped).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4_294_967_295_u64)]
    limit: Option<u32>,
}

/// `GET /api/v1/alerts`
#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "hunts",
    summary = "List the alert outbox, newest first",
    params(AlertParams),
    responses(
        (status = 200, description = "A page of alerts.", body = Page<Alert>),
        (status = 400, description = "A parameter is invalid.", body = ErrorBody),
        (status = 404, description = "No hunt of the name given as `hunt`.", body = ErrorBody),
    )
)]
pub async fn alerts(
    State(state): State<AppState>,
    principal: Principal,
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
        Some(name) => Some(by_name(&state, &principal, name).await?.id),
        None => None,
    };
    let q = AlertQuery {
        hunt,
        channel: p.channel.filter(|c| !c.is_empty()),
        status,
        before: cursor::<AlertId>(p.cursor.as_deref())?,
        limit: p.limit.unwrap_or(0),
        max_tlp: Some(principal.clearance),
    };
    Ok(Json(state.store.list_alerts(&q).await?))
}

/// A channel and its delivery health.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    /// Whether a `[[channel]]` table defines it (alerts to an undefined one wait).
    configured: bool,
    /// Delivery counts and the last error.
    #[serde(flatten)]
    health: ChannelHealth,
}

/// `GET /api/v1/channels`
#[utoipa::path(
    get,
    path = "/api/v1/channels",
    tag = "hunts",
    summary = "Alert channels and their delivery health",
    responses((status = 200, description = "Configured channels, then unconfigured ones that have alerts.", body = Vec<ChannelView>))
)]
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
