//! Curation in the REST API: what analysts add and say, apart from what
//! sources report.
//!
//! - `POST /api/v1/indicators`: a manual indicator, a sighting of the
//!   built-in `manual` source with its author (through the ingest path, so
//!   warning lists and hunts apply).
//! - `POST /api/v1/indicators/{type}/{value}/notes`, `…/false-positive`
//!   (and `DELETE`), `…/sightings` (a local sighting), `…/labels` (and
//!   `DELETE …/labels/{label}`), `…/tlp` and `…/score` (and `DELETE`).
//! - `POST /api/v1/items`: an event item (an incident, a report) that
//!   groups indicators; `POST /api/v1/items/{id}/notes`.
//! - `DELETE /api/v1/notes/{id}`: by its author or an admin.
//!
//! Every write needs the analyst role (the middleware refuses viewers with
//! 403) and is audited with its reason. An indicator or item above the
//! caller's clearance does not exist for them: 404, nothing written.
//!
//! The value of an indicator may contain `/` (URLs), so one wildcard route
//! takes `POST` and `DELETE` under `/indicators/{type}/` and splits the
//! action off the end: `…/http://x/a/notes` is the notes of `http://x/a`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rexist_core::curation::MAX_TEXT;
use rexist_core::model::now;
use rexist_core::{
    Indicator, IndicatorRecord, IndicatorType, ItemKind, LocalSighting, Marked, NewAudit, NewItem,
    NewLocalSighting, NewSighting, Note, NoteTarget, Role, Tlp,
};
use rexist_store::CurationChange;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::AppState;
use crate::api::{IndicatorDetail, ItemDetail, indicator_detail, item_detail, readable_item};
use crate::auth::{ClientAddr, Principal};
use crate::error::ErrorBody;
use crate::error::{ApiError, json_body};

/// Labels one request may add or remove.
const MAX_LABELS: usize = 50;
/// Indicators one event item may group.
pub const MAX_ITEM_INDICATORS: usize = 1000;
/// Longest item title, in bytes.
const MAX_TITLE: usize = 500;
/// Longest item body, in bytes.
const MAX_BODY: usize = 200_000;
/// The TLP of what analysts add when they name none: their organisation's.
pub const DEFAULT_TLP: Tlp = Tlp::Amber;

/// Body of `POST /api/v1/indicators`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIndicatorBody {
    /// The type (`ipv4`, `domain`, `url`, …); detected from the value when absent.
    #[serde(rename = "type")]
    #[schema(value_type = Option<IndicatorType>)]
    pub kind: Option<String>,
    /// The value, canonicalised (defanged forms are read too).
    #[schema(min_length = 1)]
    pub value: String,
    /// TLP of the sighting; default `amber`, at most the caller's clearance.
    pub tlp: Option<Tlp>,
    /// Threat or malware labels of the sighting.
    pub labels: Option<Vec<String>>,
    /// A first note on the indicator.
    pub note: Option<String>,
}

/// Body of `POST …/notes`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    /// What the note says (at most 10,000 bytes).
    #[schema(min_length = 1)]
    pub text: String,
}

/// Body of `POST …/false-positive`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    /// Why it is a false positive.
    #[schema(min_length = 1)]
    pub reason: String,
}

/// Body of `POST …/sightings`: seen in the organisation's own network.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalSightingBody {
    /// How many times it was seen; default 1.
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    pub count: Option<u32>,
    /// Where: a host, a segment, a sensor.
    #[serde(rename = "where")]
    pub place: Option<String>,
    /// When (RFC 3339); default now. Not in the future.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub seen_at: Option<String>,
}

/// Body of `POST …/labels`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelsBody {
    /// Labels to add.
    pub add: Option<Vec<String>>,
    /// Labels to remove, also ones its sources give.
    pub remove: Option<Vec<String>>,
    /// Why; default "by hand".
    pub reason: Option<String>,
}

/// Body of `POST …/tlp`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TlpBody {
    /// The TLP it must have at least: above its current one, at most the caller's clearance.
    pub tlp: Tlp,
    /// Why.
    #[schema(min_length = 1)]
    pub reason: String,
}

/// Body of `POST …/score`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreBody {
    /// The score, 0–100.
    #[schema(minimum = 0, maximum = 100)]
    pub score: u8,
    /// Why.
    #[schema(min_length = 1)]
    pub reason: String,
}

/// An indicator an event item groups.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemIndicator {
    /// The type; detected from the value when absent.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<IndicatorType>)]
    pub kind: Option<String>,
    /// The value.
    #[schema(min_length = 1)]
    pub value: String,
}

/// Body of `POST /api/v1/items`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewItemBody {
    /// `event` (default: an incident, a report) or another item kind.
    pub kind: Option<ItemKind>,
    /// Title.
    #[schema(min_length = 1)]
    pub title: String,
    /// Text.
    pub body: Option<String>,
    /// TLP; default `amber`, at most the caller's clearance. The
    /// indicators it groups are sighted in it at this TLP.
    pub tlp: Option<Tlp>,
    /// Tags.
    pub tags: Option<Vec<String>>,
    /// The indicators it groups (at most 1000).
    pub indicators: Option<Vec<ItemIndicator>>,
}

fn invalid(field: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!("{field}: {why}"))
}

/// A type and value as an indicator: typed when the type is given,
/// detected (and refanged) when not. `field` names the value in errors.
pub(crate) fn read_indicator(
    kind: Option<&str>,
    value: &str,
    field: &str,
) -> Result<Indicator, ApiError> {
    match kind.map(str::trim).filter(|k| !k.is_empty()) {
        Some(k) => {
            let kind: IndicatorType = k.parse().map_err(|e| invalid(&format!("{field}type"), e))?;
            Indicator::parse(kind, &rexist_extract::refang(value.trim()))
                .map_err(|e| invalid(&format!("{field}value"), e))
        }
        None => rexist_lookup::parse_input(value).map_err(|e| invalid(&format!("{field}value"), e)),
    }
}

pub(crate) fn check_text(field: &str, text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if text.len() > MAX_TEXT {
        return Err(invalid(
            field,
            format!("{} bytes, at most {MAX_TEXT}", text.len()),
        ));
    }
    Ok(())
}

pub(crate) fn check_labels(field: &str, labels: &[String]) -> Result<(), ApiError> {
    if labels.len() > MAX_LABELS {
        return Err(invalid(field, format!("at most {MAX_LABELS} labels")));
    }
    for l in labels {
        if l.trim().is_empty() || l.len() > 128 || l.chars().any(char::is_control) {
            return Err(invalid(
                field,
                format!("{l:?}: 1 to 128 characters, no control characters"),
            ));
        }
    }
    Ok(())
}

/// Refuses a TLP above the caller's clearance: they could not read what
/// they wrote.
fn check_tlp(principal: &Principal, tlp: Tlp) -> Result<(), ApiError> {
    crate::hunts::check_tlp(principal, tlp)
}

/// An analyst's mark: the reason, who, now.
pub(crate) fn mark(principal: &Principal, reason: &str) -> Marked {
    Marked {
        reason: reason.trim().to_owned(),
        by: principal.name.clone(),
        at: now(),
    }
}

/// Records what an analyst did, with the reason, in the audit log.
pub(crate) async fn audit(
    state: &AppState,
    principal: &Principal,
    addr: &ClientAddr,
    action: &str,
    target: String,
) {
    crate::auth::audit(
        state,
        NewAudit {
            actor: principal.name.clone(),
            action: action.to_owned(),
            target: Some(target),
            outcome: "ok".to_owned(),
            address: addr.0.clone(),
        },
    )
    .await;
}

fn describe(record: &IndicatorRecord) -> String {
    format!("{} {}", record.kind, record.value)
}

/// `POST /api/v1/indicators`
#[utoipa::path(
    post,
    path = "/api/v1/indicators",
    tag = "curation",
    summary = "Add an indicator by hand (analyst)",
    description = "Records a sighting of the value by the built-in `manual` source, naming the \
caller as its author, through the same path as every source (warning lists and hunts apply); \
the indicator is created if it is new. With `note`, a first note is written on it.",
    request_body = NewIndicatorBody,
    responses(
        (status = 201, description = "The indicator as it is now.", body = IndicatorDetail),
        (status = 400, description = "A field is invalid: the type, a value that is no such indicator, a label, the note.", body = ErrorBody),
        (status = 403, description = "`tlp` is above the caller's clearance, or the stored indicator is.", body = ErrorBody),
    )
)]
pub async fn add_indicator(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    b: Result<Json<NewIndicatorBody>, JsonRejection>,
) -> Result<(StatusCode, Json<IndicatorDetail>), ApiError> {
    let b = json_body(b)?;
    let indicator = read_indicator(b.kind.as_deref(), &b.value, "")?;
    let tlp = b.tlp.unwrap_or(DEFAULT_TLP);
    check_tlp(&principal, tlp)?;
    let labels = b.labels.unwrap_or_default();
    check_labels("labels", &labels)?;
    if let Some(n) = &b.note {
        check_text("note", n)?;
    }
    let (kind, value) = (indicator.kind(), indicator.value().to_owned());
    if let Some(stored) = state.store.indicator(kind, &value).await?
        && !principal.may_read(stored.tlp)
    {
        return Err(ApiError::forbidden(format!(
            "{kind} {value} is stored above the clearance of {} ({})",
            principal.name, principal.clearance
        )));
    }
    let sighting = NewSighting {
        tlp: Some(tlp),
        labels: labels.iter().map(|l| l.trim().to_owned()).collect(),
        ..NewSighting::new(indicator, now())
    };
    state
        .ingest
        .manual_sightings(&principal.name, &[sighting])
        .await?;
    let record = state
        .store
        .indicator(kind, &value)
        .await?
        .ok_or_else(|| ApiError::from_status(StatusCode::INTERNAL_SERVER_ERROR, ""))?;
    if let Some(n) = &b.note {
        state
            .store
            .add_note(NoteTarget::Indicator(record.id), &principal.name, n.trim())
            .await?;
    }
    audit(
        &state,
        &principal,
        &addr,
        "indicator.add",
        describe(&record),
    )
    .await;
    if !principal.may_read(record.tlp) {
        // An analyst's TLP raise above the caller's clearance hides it.
        return Err(ApiError::forbidden(format!(
            "{kind} {value}: its TLP was raised above the clearance of {}",
            principal.name
        )));
    }
    let detail = indicator_detail(&state, &principal, record).await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

/// What a `POST` or `DELETE` under `/api/v1/indicators/{type}/` asks for.
enum Action {
    Notes,
    FalsePositive,
    Sightings,
    Labels,
    Label(String),
    Tlp,
    Score,
}

/// Splits `{value}/{action}` (the value may hold `/`).
fn split_action(rest: &str, delete: bool) -> Option<(&str, Action)> {
    if delete
        && let Some((value, label)) = rest.rsplit_once("/labels/")
        && !label.is_empty()
        && !label.contains('/')
    {
        return Some((value, Action::Label(label.to_owned())));
    }
    let (value, action) = rest.rsplit_once('/')?;
    let action = match (action, delete) {
        ("notes", false) => Action::Notes,
        ("false-positive", _) => Action::FalsePositive,
        ("sightings", false) => Action::Sightings,
        ("labels", false) => Action::Labels,
        ("tlp", _) => Action::Tlp,
        ("score", _) => Action::Score,
        _ => return None,
    };
    (!value.is_empty()).then_some((value, action))
}

/// The stored indicator at `kind`/`value` the caller may read, else 404.
pub(crate) async fn readable(
    state: &AppState,
    principal: &Principal,
    kind: &str,
    value: &str,
) -> Result<IndicatorRecord, ApiError> {
    let kind: IndicatorType = kind
        .parse()
        .map_err(|e| ApiError::invalid(format!("path type: {e}")))?;
    let parsed =
        Indicator::parse(kind, value).map_err(|e| ApiError::invalid(format!("path value: {e}")))?;
    state
        .store
        .indicator(kind, parsed.value())
        .await?
        .filter(|r| principal.may_read(r.tlp))
        .ok_or_else(|| ApiError::not_found(format!("no {kind} {}", parsed.value())))
}

fn no_endpoint() -> ApiError {
    ApiError::not_found("no such API endpoint")
}

/// `POST /api/v1/indicators/{type}/{*value_and_action}`: one of the
/// documented actions below, by the path's last segment.
pub async fn post_action(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    Path((kind, rest)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Some((value, action)) = split_action(&rest, false) else {
        return no_endpoint().into_response();
    };
    let record = match readable(&state, &principal, &kind, value).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let who = Who {
        state: &state,
        principal: &principal,
        addr: &addr,
    };
    let answer = match action {
        Action::Notes => add_note(&who, record, parse(&body)).await,
        Action::FalsePositive => mark_false_positive(&who, record, parse(&body)).await,
        Action::Sightings => add_local_sighting(&who, record, parse(&body)).await,
        Action::Labels => change_labels(&who, record, parse(&body)).await,
        Action::Tlp => raise_tlp(&who, record, parse(&body)).await,
        Action::Score => override_score(&who, record, parse(&body)).await,
        Action::Label(_) => Err(no_endpoint()),
    };
    answer.unwrap_or_else(IntoResponse::into_response)
}

/// `DELETE /api/v1/indicators/{type}/{*value_and_action}`.
pub async fn delete_action(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    Path((kind, rest)): Path<(String, String)>,
) -> Response {
    let Some((value, action)) = split_action(&rest, true) else {
        return no_endpoint().into_response();
    };
    let record = match readable(&state, &principal, &kind, value).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let who = Who {
        state: &state,
        principal: &principal,
        addr: &addr,
    };
    let answer = match action {
        Action::FalsePositive => unmark_false_positive(&who, record).await,
        Action::Label(label) => forget_label(&who, record, label).await,
        Action::Tlp => clear_tlp(&who, record).await,
        Action::Score => clear_score(&who, record).await,
        _ => Err(no_endpoint()),
    };
    answer.unwrap_or_else(IntoResponse::into_response)
}

/// Any other method under `/api/v1/indicators/{type}/`: 405 with the
/// methods the path's resource takes — `POST` (and `DELETE`) for an
/// action, `DELETE` for a hand label, `GET` for the indicator itself.
pub async fn other_method(Path((_, rest)): Path<(String, String)>) -> Response {
    not_allowed(action_methods(&rest).unwrap_or("GET,HEAD"))
}

/// The methods an action path takes, when `rest` ends with an action.
pub(crate) fn action_methods(rest: &str) -> Option<&'static str> {
    match (split_action(rest, false), split_action(rest, true)) {
        (_, Some((_, Action::Label(_)))) => Some("DELETE"),
        (Some(_), Some(_)) => Some("POST,DELETE"),
        (Some(_), None) => Some("POST"),
        (None, _) => None,
    }
}

/// 405 with `allow` in the `Allow` header.
pub(crate) fn not_allowed(allow: &'static str) -> Response {
    let mut r =
        ApiError::from_status(StatusCode::METHOD_NOT_ALLOWED, "method not allowed").into_response();
    r.headers_mut().insert(
        axum::http::header::ALLOW,
        axum::http::HeaderValue::from_static(allow),
    );
    r
}

/// A JSON body, or the 400 that names what in it is wrong.
fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    json_body(Json::<T>::from_bytes(body))
}

/// The caller of an action.
pub(crate) struct Who<'a> {
    pub(crate) state: &'a AppState,
    pub(crate) principal: &'a Principal,
    pub(crate) addr: &'a ClientAddr,
}

pub(crate) type ActionResult = Result<Response, ApiError>;

/// Applies `change`, audits it and answers with the indicator as it is then.
async fn curate(
    who: &Who<'_>,
    record: &IndicatorRecord,
    change: CurationChange,
    action: &str,
    why: Option<&str>,
) -> ActionResult {
    let after = who
        .state
        .store
        .curate(record.id, &change)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no {}", describe(record))))?;
    let target = match why {
        Some(w) => format!("{}: {w}", describe(record)),
        None => describe(record),
    };
    audit(who.state, who.principal, who.addr, action, target).await;
    let detail = indicator_detail(who.state, who.principal, after).await?;
    Ok(Json(detail).into_response())
}

/// `POST /api/v1/indicators/{type}/{value}/notes`
#[utoipa::path(
    post,
    path = "/api/v1/indicators/{type}/{value}/notes",
    tag = "curation",
    summary = "Write a note on an indicator (analyst)",
    params(
        ("type" = IndicatorType, Path, description = "The indicator type."),
        ("value" = String, Path, description = "The value (may contain `/`).", min_length = 1),
    ),
    request_body = NoteBody,
    responses(
        (status = 201, description = "The note, with its author and time.", body = Note),
        (status = 400, description = "The body is invalid: an empty or over-long text.", body = ErrorBody),
        (status = 404, description = "No such indicator within the caller's clearance.", body = ErrorBody),
    )
)]
pub(crate) async fn add_note(
    who: &Who<'_>,
    record: IndicatorRecord,
    body: Result<NoteBody, ApiError>,
) -> ActionResult {
    let b = body?;
    check_text("text", &b.text)?;
    let note = who
        .state
        .store
        .add_note(
            NoteTarget::Indicator(record.id),
            &who.principal.name,
            b.text.trim(),
        )
        .await?;
    audit(
        who.state,
        who.principal,
        who.addr,
        "indicator.note",
        describe(&record),
    )
    .await;
    Ok((StatusCode::CREATED, Json(note)).into_response())
}

/// `POST /api/v1/indicators/{type}/{value}/false-positive`
#[utoipa::path(
    post,
    path = "/api/v1/indicators/{type}/{value}/false-positive",
    tag = "curation",
    summary = "Mark an indicator a false positive (analyst)",
    description = "Its status becomes `false_positive` with the reason: it leaves every export \
and hunt (TAXII serves its revoked version), and a lookup answers `false_positive` with the \
reason and who marked it. No source's report clears the mark; `DELETE` on the same path does.",
    params(
        ("type" = IndicatorType, Path, description = "The indicator type."),
        ("value" = String, Path, description = "The value (may contain `/`).", min_length = 1),
    ),
    request_body = ReasonBody,
    responses(
        (status = 200, description = "The indicator as it is now.", body = IndicatorDetail),
        (status = 400, description = "The body is invalid: no reason.", body = ErrorBody),
        (status = 404, description = "No such indicator within the caller's clearance.", body = ErrorBody),
    )
)]
pub(crate) async fn mark_false_positive(
    who: &Who<'_>,
    record: IndicatorRecord,
    body: Result<ReasonBody, ApiError>,
) -> ActionResult {
    let b = body?;
    check_text("reason", &b.reason)?;
    let m = mark(who.principal, &b.reason);
    curate(
        who,
        &record,
        CurationChange::MarkFalsePositive(m),
        "indicator.false_positive",
        Some(b.reason.trim()),
    )
    .await
}

/// `DELETE /api/v1/indicators/{type}/{value}/false-positive`
#[utoipa::path(
    delete,
    path = "/api/v1/indicators/{type}/{value}/false-positive",
    tag = "curation",
    summary = "Take a false-positive mark back (analyst)",
    description = "An indicator allow-listed before the mark is so again; any other is active \
when a source still lists it, else retired. Nothing changes when it is not marked.",
    params(
        ("type" = IndicatorType, Path, description = "The indicator type."),
        ("value" = String, Path, description = "The value (may contain `/`).", min_length = 1),
    ),
    responses(
        (status = 200, description = "The indicator as it is now.", body = IndicatorDetail),
        (status = 400, description = "The type or value is invalid.", body = ErrorBody),
        (status = 404, description = "No such indicator within the caller's clearance.", body = ErrorBody),
    )
)]
pub(crate) async fn unmark_false_positive(who: &Who<'_>, record: IndicatorRecord) -> ActionResult {
    curate(
        who,
        &record,
        CurationChange::UnmarkFalsePositive,
        "indicator.false_positive.remove",
        None,
    )
    .await
}

/// `POST /api/v1/indicators/{type}/{value}/sightings`
#[utoipa::path(
    post,
    path = "/api/v1/indicators/{type}/{value}/sightings",
    tag = "curation",
    summary = "Record a sighting in our own network (analyst)",
    description = "A local sighting, as MISP's sightings: it is listed apart in the indicator \
and its lookup (`local_sightings`) and counts in the lookup's score as a listing source at \
confidence 90. It is also a sighting of the `manual` source at its time, so the indicator's \
last sighting moves and an expired or retired one is active again.",
    params(
        ("type" = IndicatorType, Path, description = "The indicator type."),
        ("value" = String, Path, description = "The value (may contain `/`).", min_length = 1),
    ),
    request_body = LocalSightingBody,
    responses(
        (status = 201, description = "The recorded sighting.", body = LocalSighting),
        (status = 400, description = "The body is invalid: a count of 0, a time that is not RFC 3339 or is in the future, an empty or over-long place.", body = ErrorBody),
        (status = 404, description = "No such indicator within the caller's clearance.", body = ErrorBody),
    )
)]
pub(crate) async fn add_local_sighting(
    who: &Who<'_>,
    record: IndicatorRecord,
    body: Result<LocalSightingBody, ApiError>,
) -> ActionResult {
    let b = body?;
    let count = b.count.unwrap_or(1);
    if count == 0 {
        return Err(invalid("count", "must be at least 1"));
    }
    let seen_at = match b.seen_at.as_deref().map(str::trim) {
        None | Some("") => now(),
        Some(t) => OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .map_err(|e| invalid("seen_at", format!("{t:?} is not an RFC 3339 time: {e}")))?,
    };
    if seen_at > now() + time::Duration::minutes(5) {
        return Err(invalid("seen_at", "is in the future"));
    }
    let place = b.place.map(|p| p.trim().to_owned());
    if let Some(p) = &place {
        check_text("where", p)?;
    }
    let indicator = Indicator::parse(record.kind, &record.value)
        .map_err(|e| ApiError::invalid(format!("path value: {e}")))?;
    // Sighted at the indicator's own TLP, so recording it lowers nothing.
    let sighting = NewSighting {
        confidence: Some(rexist_lookup::LOCAL_CONFIDENCE),
        tlp: Some(record.tlp),
        ..NewSighting::new(indicator, seen_at)
    };
    who.state
        .ingest
        .manual_sightings(&who.principal.name, &[sighting])
        .await?;
    let local = who
        .state
        .store
        .add_local_sighting(
            record.id,
            &NewLocalSighting {
                count,
                place,
                seen_at,
                author: who.principal.name.clone(),
            },
        )
        .await?;
    audit(
        who.state,
        who.principal,
        who.addr,
        "indicator.local_sighting",
        format!("{} ×{count}", describe(&record)),
    )
    .await;
    Ok((StatusCode::CREATED, Json(local)).into_response())
}

/// `POST /api/v1/indicators/{type}/{value}/labels`
#[utoipa::path(
    post,
    path = "/api/v1/indicators/{type}/{value}/labels",
    tag = "curation",
    summary = "Add or remove labels by hand (analyst)",
    description = "An added label joins the indicator's labels (and its exports' labels and tag \
filter); a removed one leaves them even when sources give it. A later change to the same label \
replaces the earlier one; `DELETE …/labels/{label}` forgets it.",
    params(
        ("type" = IndicatorType, Path, description = "The indicator type."),
        ("value" = String, Path, description = "The value (may contain `/`).", min_length = 1),
    ),
    request_body = LabelsBody,
    responses(
        (status = 200, description = "The indicator as it is now.", body = IndicatorDetail),
        (status = 400, description = "The body is invalid: no label to add or remove, an empty or over-long label, one both added and removed.", body = ErrorBody),
        (status = 404, description = "No such indicator within the caller's clearance.", body = ErrorBody),
    )
)]
pub(crate) async fn change_labels(
    who: &Who<'_>,
    record: IndicatorRecord,
    body: Result<LabelsBody, ApiError>,
) -> ActionResult {
    let b = body?;
    let (add, remove) = (b.add.unwrap_or_default(), b.remove.unwrap_or_default());
    check_labels("add", &add)?;
    check_labels("remove", &remove)?;
    if add.is_empty() && remove.is_empty() {
        return Err(invalid("add", "give a label to add or to remove"));
    }
    if let Some(both) = add.iter().find(|l| remove.contains(l)) {
        return Err(invalid("remove", format!("{both:?} is also added")));
    }
    let reason = b.reason.unwrap_or_else(|| "by hand".to_owned());
    check_text("reason", &reason)?;
    let mut last = None;
    for (label, removed) in add
        .iter()
        .map(|l| (l, false))
        .chain(remove.iter().map(|l| (l, true)))
    {
        let change = CurationChange::Label {
            label: label.trim().to_owned(),
            removed,
            mark: mark(who.principal, &reason),
        };
        let action = if removed {
            "indicator.label.remove"
        } else {
            "indicator.label.add"
        };
        last = Some(
            curate(
                who,
                &record,
                change,
                action,
                Some(&format!("{label} ({reason})")),
            )
            .await?,
        );
    }
    last.ok_or_else(|| invalid("add", "give a label to add or to remove"))
}

/// `DELETE /api/v1/indicators/{type}/{value}/labels/{label}`
#[utoipa::path(
    delete,
    path = "/api/v1/indicators/{type}/{value}/labels/{label}",
    tag = "curation",
    summary = "Forget a hand change to a label (analyst)",
    description = "The sources' word on the label stands again. Nothing changes when no analyst changed it.",
    params(
        ("type" = IndicatorType, Path, description = "The indicator type."),
        ("value" = String, Path, description = "The value (may contain `/`).", min_length = 1),
        ("label" = String, Path, description = "The label.", min_length = 1),
    ),
    responses(
        (status = 200, description = "The indicator as it is now.", body = IndicatorDetail),
        (status = 400, description = "The type, value or label is invalid.", body = ErrorBody),
        (status = 404, description = "No such indicator within the caller's clearance.", body = ErrorBody),
    )
)]
pub(crate) async fn forget_label(
    who: &Who<'_>,
    record: IndicatorRecord,
    label: String,
) -> ActionResult {
    check_labels("label", std::slice::from_ref(&label))?;
    curate(
        who,
        &record,
        CurationChange::ForgetLabel(label.clone()),
        "indicator.label.forget",
        Some(&label),
    )
    .await
}

/// `POST /api/v1/indicators/{type}/{value}/tlp`
#[utoipa::path(
    post,
    path = "/api/v1/indicators/{type}/{value}/tlp",
    tag = "curation",
    summary = "Raise an indicator's TLP (analyst)",
    description = "The indicator's TLP becomes at least `tlp` and no source's report lowers it; \
readers below it no longer see it, exports and TAXII included. `DELETE` takes the raise back.",
    params(
        ("type" = IndicatorType, Path, description = "The indicator type."),
        ("value" = String, Path, description = "The value (may contain `/`).", min_length = 1),
    ),
    request_body = TlpBody,
    responses(
        (status = 200, description = "The indicator as it is now.", body = IndicatorDetail),
        (status = 400, description = "The body is invalid: no reason, or a TLP not above the indicator's.", body = ErrorBody),
        (status = 403, description = "`tlp` is above the caller's clearance.", body = ErrorBody),
        (status = 404, description = "No such indicator within the caller's clearance.", body = ErrorBody),
    )
)]
pub(crate) async fn raise_tlp(
    who: &Who<'_>,
    record: IndicatorRecord,
    body: Result<TlpBody, ApiError>,
) -> ActionResult {
    let b = body?;
    check_text("reason", &b.reason)?;
    check_tlp(who.principal, b.tlp)?;
    let raised = who
        .state
        .store
        .curations(&[record.id])
        .await?
        .first()
        .is_some_and(|(_, c)| c.tlp.is_some());
    // A raise already set may be moved either way; a first one only up.
    if !raised && b.tlp <= record.tlp {
        return Err(invalid(
            "tlp",
            format!("{} is not above the indicator's TLP {}", b.tlp, record.tlp),
        ));
    }
    let m = mark(who.principal, &b.reason);
    let why = format!("{} ({})", b.tlp, b.reason.trim());
    curate(
        who,
        &record,
        CurationChange::RaiseTlp(b.tlp, m),
        "indicator.tlp",
        Some(&why),
    )
    .await
}

/// `DELETE /api/v1/indicators/{type}/{value}/tlp`
#[utoipa::path(
    delete,
    path = "/api/v1/indicators/{type}/{value}/tlp",
    tag = "curation",
    summary = "Take a TLP raise back (analyst)",
    params(
        ("type" = IndicatorType, Path, description = "The indicator type."),
        ("value" = String, Path, description = "The value (may contain `/`).", min_length = 1),
    ),
    responses(
        (status = 200, description = "The indicator as it is now: its TLP its sightings' lowest.", body = IndicatorDetail),
        (status = 400, description = "The type or value is invalid.", body = ErrorBody),
        (status = 404, description = "No such indicator within the caller's clearance.", body = ErrorBody),
    )
)]
pub(crate) async fn clear_tlp(who: &Who<'_>, record: IndicatorRecord) -> ActionResult {
    curate(
        who,
        &record,
        CurationChange::ClearTlp,
        "indicator.tlp.remove",
        None,
    )
    .await
}

/// `POST /api/v1/indicators/{type}/{value}/score`
#[utoipa::path(
    post,
    path = "/api/v1/indicators/{type}/{value}/score",
    tag = "curation",
    summary = "Override an indicator's score (analyst)",
    description = "The score stays at this value whatever sources report, in lookups (single and \
bulk) and exports; `DELETE` takes the override back.",
    params(
        ("type" = IndicatorType, Path, description = "The indicator type."),
        ("value" = String, Path, description = "The value (may contain `/`).", min_length = 1),
    ),
    request_body = ScoreBody,
    responses(
        (status = 200, description = "The indicator as it is now.", body = IndicatorDetail),
        (status = 400, description = "The body is invalid: a score above 100, no reason.", body = ErrorBody),
        (status = 404, description = "No such indicator within the caller's clearance.", body = ErrorBody),
    )
)]
pub(crate) async fn override_score(
    who: &Who<'_>,
    record: IndicatorRecord,
    body: Result<ScoreBody, ApiError>,
) -> ActionResult {
    let b = body?;
    if b.score > 100 {
        return Err(invalid("score", format!("{} is not within 0–100", b.score)));
    }
    check_text("reason", &b.reason)?;
    let m = mark(who.principal, &b.reason);
    let why = format!("{} ({})", b.score, b.reason.trim());
    curate(
        who,
        &record,
        CurationChange::OverrideScore(b.score, m),
        "indicator.score",
        Some(&why),
    )
    .await
}

/// `DELETE /api/v1/indicators/{type}/{value}/score`
#[utoipa::path(
    delete,
    path = "/api/v1/indicators/{type}/{value}/score",
    tag = "curation",
    summary = "Take a score override back (analyst)",
    params(
        ("type" = IndicatorType, Path, description = "The indicator type."),
        ("value" = String, Path, description = "The value (may contain `/`).", min_length = 1),
    ),
    responses(
        (status = 200, description = "The indicator as it is now.", body = IndicatorDetail),
        (status = 400, description = "The type or value is invalid.", body = ErrorBody),
        (status = 404, description = "No such indicator within the caller's clearance.", body = ErrorBody),
    )
)]
pub(crate) async fn clear_score(who: &Who<'_>, record: IndicatorRecord) -> ActionResult {
    curate(
        who,
        &record,
        CurationChange::ClearScore,
        "indicator.score.remove",
        None,
    )
    .await
}

/// A fresh external id for an analyst's item.
fn item_external_id() -> String {
    let mut bytes = [0u8; 12];
    crate::auth::random_bytes(&mut bytes);
    format!("manual-{}", hex::encode(bytes))
}

/// `POST /api/v1/items`
#[utoipa::path(
    post,
    path = "/api/v1/items",
    tag = "curation",
    summary = "Write an event item that groups indicators (analyst)",
    description = "An incident or a report of the analyst's own, stored as an item of the \
built-in `manual` source (its `extra` names the author and the indicators); each indicator is \
sighted in it at its TLP, so its lookup lists the item.",
    request_body = NewItemBody,
    responses(
        (status = 201, description = "The item.", body = ItemDetail),
        (status = 400, description = "A field is invalid: an empty or over-long title or body, an indicator that does not parse (named by its index), too many indicators, a tag.", body = ErrorBody),
        (status = 403, description = "`tlp` is above the caller's clearance.", body = ErrorBody),
    )
)]
pub async fn add_item(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    b: Result<Json<NewItemBody>, JsonRejection>,
) -> Result<(StatusCode, Json<ItemDetail>), ApiError> {
    let b = json_body(b)?;
    let title = b.title.trim().to_owned();
    if title.is_empty() {
        return Err(invalid("title", "must not be empty"));
    }
    if title.len() > MAX_TITLE {
        return Err(invalid("title", format!("at most {MAX_TITLE} bytes")));
    }
    let body = b.body.unwrap_or_default();
    if body.len() > MAX_BODY {
        return Err(invalid("body", format!("at most {MAX_BODY} bytes")));
    }
    let tlp = b.tlp.unwrap_or(DEFAULT_TLP);
    check_tlp(&principal, tlp)?;
    let tags = b.tags.unwrap_or_default();
    check_labels("tags", &tags)?;
    let given = b.indicators.unwrap_or_default();
    if given.len() > MAX_ITEM_INDICATORS {
        return Err(invalid(
            "indicators",
            format!("at most {MAX_ITEM_INDICATORS}"),
        ));
    }
    let mut indicators: Vec<Indicator> = Vec::with_capacity(given.len());
    for (n, i) in given.iter().enumerate() {
        let one = read_indicator(i.kind.as_deref(), &i.value, &format!("indicators[{n}]."))?;
        if !indicators.contains(&one) {
            indicators.push(one);
        }
    }
    let listed: Vec<ItemIndicator> = indicators
        .iter()
        .map(|i| ItemIndicator {
            kind: Some(i.kind().as_str().to_owned()),
            value: i.value().to_owned(),
        })
        .collect();
    let item = NewItem {
        kind: b.kind.unwrap_or(ItemKind::Event),
        external_id: item_external_id(),
        title,
        body,
        url: None,
        lang: None,
        published_at: Some(now()),
        tlp,
        tags: tags.iter().map(|t| t.trim().to_owned()).collect(),
        extra: serde_json::json!({"author": principal.name, "indicators": listed}),
    };
    let id = state
        .ingest
        .manual_item(&principal.name, &item, &indicators)
        .await?;
    let stored = state
        .store
        .item(id)
        .await?
        .ok_or_else(|| ApiError::from_status(StatusCode::INTERNAL_SERVER_ERROR, ""))?;
    audit(
        &state,
        &principal,
        &addr,
        "item.add",
        format!("item {id}: {}", stored.content.title),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(item_detail(&state, stored, principal.clearance).await?),
    ))
}

/// `POST /api/v1/items/{id}/notes`
#[utoipa::path(
    post,
    path = "/api/v1/items/{id}/notes",
    tag = "curation",
    summary = "Write a note on an item (analyst)",
    params(("id" = i64, Path, description = "The item's id.")),
    request_body = NoteBody,
    responses(
        (status = 201, description = "The note, with its author and time.", body = Note),
        (status = 400, description = "The id is not a number, or the text is empty or over-long.", body = ErrorBody),
        (status = 404, description = "No such item within the caller's clearance.", body = ErrorBody),
    )
)]
pub async fn add_item_note(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    Path(id): Path<String>,
    b: Result<Json<NoteBody>, JsonRejection>,
) -> Result<(StatusCode, Json<Note>), ApiError> {
    let item = readable_item(&state, &principal, &id).await?;
    let b = json_body(b)?;
    check_text("text", &b.text)?;
    let note = state
        .store
        .add_note(NoteTarget::Item(item.id), &principal.name, b.text.trim())
        .await?;
    audit(
        &state,
        &principal,
        &addr,
        "item.note",
        format!("item {}", item.id),
    )
    .await;
    Ok((StatusCode::CREATED, Json(note)))
}

/// `DELETE /api/v1/notes/{id}`
#[utoipa::path(
    delete,
    path = "/api/v1/notes/{id}",
    tag = "curation",
    summary = "Delete a note (its author or an admin)",
    params(("id" = i64, Path, description = "The note's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "The id is not a number.", body = ErrorBody),
        (status = 403, description = "The caller neither wrote it nor is an admin.", body = ErrorBody),
        (status = 404, description = "No such note on anything within the caller's clearance.", body = ErrorBody),
    )
)]
pub async fn delete_note(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::invalid(format!("path id: {id:?} is not a note id")))?;
    delete_note_as(&state, &principal, &addr, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes note `id` for `principal`: 404 when it is on nothing the
/// caller may read, 403 unless the caller wrote it or is an admin.
pub(crate) async fn delete_note_as(
    state: &AppState,
    principal: &Principal,
    addr: &ClientAddr,
    id: i64,
) -> Result<(), ApiError> {
    let missing = || ApiError::not_found(format!("no note {id}"));
    let (target, note) = state.store.note(id).await?.ok_or_else(missing)?;
    let visible = match target {
        NoteTarget::Indicator(i) => state
            .store
            .indicator_by_id(i)
            .await?
            .is_some_and(|r| principal.may_read(r.tlp)),
        NoteTarget::Item(i) => state
            .store
            .item(i)
            .await?
            .is_some_and(|i| principal.may_read(i.content.tlp)),
    };
    if !visible {
        return Err(missing());
    }
    if note.author != principal.name && principal.role < Role::Admin {
        return Err(ApiError::forbidden(format!(
            "note {id} was written by {}; only its author or an admin may delete it",
            note.author
        )));
    }
    state.store.delete_note(id).await?;
    audit(state, principal, addr, "note.delete", format!("note {id}")).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_split_off_values_with_slashes() {
        let (v, a) = split_action("http://evil.example/a/notes", false).unwrap();
        assert_eq!(v, "http://evil.example/a");
        assert!(matches!(a, Action::Notes));
        let (v, a) = split_action("http://x/labels/y/labels/emotet", true).unwrap();
        assert_eq!(v, "http://x/labels/y");
        assert!(matches!(a, Action::Label(l) if l == "emotet"));
        assert!(matches!(
            split_action("evil.example/false-positive", true),
            Some(("evil.example", Action::FalsePositive))
        ));
        assert!(
            split_action("evil.example/notes", true).is_none(),
            "no DELETE of notes"
        );
        assert!(split_action("evil.example", false).is_none());
        assert!(split_action("/notes", false).is_none());
        assert!(split_action("evil.example/whatever", false).is_none());
    }
}
