//! `GET /api/v1/lookup/{value}` and `POST /api/v1/lookup` (bulk).

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use rexist_lookup::{Answer, Brief, LookupError, MAX_BULK, Options};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, json_body, query};
use crate::openapi::ErrorBody;

impl From<LookupError> for ApiError {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::Invalid(m) => ApiError::invalid(m),
            LookupError::Store(s) => s.into(),
        }
    }
}

/// Query parameters of `GET /api/v1/lookup/{value}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LookupParams {
    /// `true` to ask the enrichment providers too.
    enrich: Option<bool>,
    /// Comma-separated provider names (implies `enrich`).
    providers: Option<String>,
}

/// `GET /api/v1/lookup/{value}`: everything known about one value (the
/// value may contain `/`, and may be defanged).
#[utoipa::path(
    get,
    path = "/api/v1/lookup/{value}",
    tag = "lookup",
    summary = "Everything known about one value",
    description = "The value is detected (IP, domain, URL, hash, CVE, …), may be defanged (`hxxp://`, `[.]`) and may contain `/`. Enrichment providers are only asked with `enrich` or `providers`.",
    params(
        ("value" = String, Path, description = "The value to look up.", min_length = 1),
        LookupParams,
    ),
    responses(
        (status = 200, description = "What the store, the warning lists and (if asked) the providers know.", body = Answer),
        (status = 400, description = "The value is not a recognisable indicator, or a parameter is invalid.", body = ErrorBody),
    )
)]
pub async fn one(
    State(state): State<AppState>,
    principal: Principal,
    Path(value): Path<String>,
    params: Result<Query<LookupParams>, QueryRejection>,
) -> Result<Json<Answer>, ApiError> {
    let p = query(params)?;
    let providers: Option<Vec<String>> = p.providers.filter(|s| !s.is_empty()).map(|s| {
        s.split(',')
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect()
    });
    let options = Options {
        enrich: p.enrich.unwrap_or(false) || providers.is_some(),
        providers,
        max_tlp: Some(principal.clearance),
    };
    Ok(Json(state.lookup.one(&value, &options).await.map_err(
        |e| match e {
            LookupError::Invalid(m) => ApiError::invalid(format!("value {value:?}: {m}")),
            other @ LookupError::Store(_) => other.into(),
        },
    )?))
}

/// Body of `POST /api/v1/lookup`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    /// Values to look up (at most 10,000), raw or defanged.
    #[schema(max_items = 10000)]
    values: Vec<String>,
}

/// Answer of `POST /api/v1/lookup`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkAnswer {
    /// One verdict per value, in order.
    results: Vec<Brief>,
}

/// `POST /api/v1/lookup`: the local verdict on many values at once.
#[utoipa::path(
    post,
    path = "/api/v1/lookup",
    tag = "lookup",
    summary = "The local verdict on many values at once",
    request_body = BulkBody,
    responses(
        (status = 200, description = "One verdict per value, in order; unrecognisable values get an `error`.", body = BulkAnswer),
        (status = 400, description = "The body is invalid or has more than 10,000 values.", body = ErrorBody),
    )
)]
pub async fn bulk(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Json<BulkBody>, JsonRejection>,
) -> Result<Json<BulkAnswer>, ApiError> {
    let b = json_body(body)?;
    if b.values.len() > MAX_BULK {
        return Err(ApiError::invalid(format!(
            "values: {} given, at most {MAX_BULK}",
            b.values.len()
        )));
    }
    Ok(Json(BulkAnswer {
        results: state
            .lookup
            .bulk(&b.values, Some(principal.clearance))
            .await?,
    }))
}
