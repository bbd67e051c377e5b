//! `GET /api/v1/lookup/{value}` and `POST /api/v1/lookup` (bulk).

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use rexist_lookup::{Answer, Brief, LookupError, MAX_BULK, Options};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::ApiError;

impl From<LookupError> for ApiError {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::Invalid(m) => ApiError::invalid(m),
            LookupError::Store(s) => s.into(),
        }
    }
}

/// Query parameters of `GET /api/v1/lookup/{value}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupParams {
    /// `true` to ask the enrichment providers too.
    enrich: Option<bool>,
    /// Comma-separated provider names (implies `enrich`).
    providers: Option<String>,
}

/// `GET /api/v1/lookup/{value}`: everything known about one value (the
/// value may contain `/`, and may be defanged).
pub async fn one(
    State(state): State<AppState>,
    Path(value): Path<String>,
    params: Result<Query<LookupParams>, QueryRejection>,
) -> Result<Json<Answer>, ApiError> {
    let p = params
        .map(|Query(p)| p)
        .map_err(|e| ApiError::invalid(format!("invalid query string: {}", e.body_text())))?;
    let providers: Option<Vec<String>> = p.providers.filter(|s| !s.is_empty()).map(|s| {
        s.split(',')
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect()
    });
    let options = Options {
        enrich: p.enrich.unwrap_or(false) || providers.is_some(),
        providers,
    };
    Ok(Json(state.lookup.one(&value, &options).await.map_err(
        |e| match e {
            LookupError::Invalid(m) => ApiError::invalid(format!("value {value:?}: {m}")),
            other @ LookupError::Store(_) => other.into(),
        },
    )?))
}

/// Body of `POST /api/v1/lookup`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    /// Values to look up (at most 10,000), raw or defanged.
    values: Vec<String>,
}

/// Answer of `POST /api/v1/lookup`.
#[derive(Debug, Serialize)]
pub struct BulkAnswer {
    /// One verdict per value, in order.
    results: Vec<Brief>,
}

/// `POST /api/v1/lookup`: the local verdict on many values at once.
pub async fn bulk(
    State(state): State<AppState>,
    body: Result<Json<BulkBody>, JsonRejection>,
) -> Result<Json<BulkAnswer>, ApiError> {
    let Json(b) =
        body.map_err(|e| ApiError::invalid(format!("invalid JSON body: {}", e.body_text())))?;
    if b.values.len() > MAX_BULK {
        return Err(ApiError::invalid(format!(
            "values: {} given, at most {MAX_BULK}",
            b.values.len()
        )));
    }
    Ok(Json(BulkAnswer {
        results: state.lookup.bulk(&b.values).await?,
    }))
}
