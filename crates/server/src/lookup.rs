//! `GET /api/v1/lookup/{value}` and `POST /api/v1/lookup` (bulk).

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rexist_lookup::{Answer, Brief, LookupError, MAX_BULK, MAX_STIX_BULK, Options};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Principal;
use crate::error::ErrorBody;
use crate::error::{ApiError, json_body, query};

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
    /// `json` (the default) or `stix`: a STIX 2.1 bundle (Check IOC in
    /// STIX) with the indicator, a sighting per source, notes and related
    /// objects.
    format: Option<AnswerFormat>,
}

/// How a lookup answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AnswerFormat {
    /// rexist's JSON.
    #[default]
    Json,
    /// A STIX 2.1 bundle (`application/stix+json;version=2.1`).
    Stix,
}

/// The media type of a STIX 2.1 bundle.
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";

/// A STIX bundle as a response.
fn stix_response(bundle: &serde_json::Value) -> Response {
    (
        [(header::CONTENT_TYPE, STIX_MEDIA_TYPE)],
        serde_json::to_vec(bundle).unwrap_or_default(),
    )
        .into_response()
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
        (status = 200, description = "What the store, the warning lists and (if asked) the providers know; with `format=stix`, a STIX 2.1 bundle (`application/stix+json;version=2.1`): the indicator (or, for a value not stored, its observable), one `sighting` per source, `note`s with the verdict and each provider's answer, and the related observables with `related-to` relationships.", content(
            (Answer = "application/json"),
            (Object = "application/stix+json;version=2.1"),
        )),
        (status = 400, description = "The value is not a recognisable indicator, or a parameter is invalid.", body = ErrorBody),
    )
)]
pub async fn one(
    State(state): State<AppState>,
    principal: Principal,
    Path(value): Path<String>,
    params: Result<Query<LookupParams>, QueryRejection>,
) -> Result<Response, ApiError> {
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
    let answer = state
        .lookup
        .one(&value, &options)
        .await
        .map_err(|e| match e {
            LookupError::Invalid(m) => ApiError::invalid(format!("value {value:?}: {m}")),
            other @ LookupError::Store(_) => other.into(),
        })?;
    if p.format.unwrap_or_default() == AnswerFormat::Json {
        return Ok(Json(answer).into_response());
    }
    let ids = crate::export::stix_ids(state.store.as_ref()).await?;
    let objects = state
        .lookup
        .stix_objects(&answer, &ids, options.max_tlp, rexist_core::model::now())
        .await?;
    Ok(stix_response(&rexist_lookup::stix::bundle(&ids, objects)))
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

/// Query parameters of `POST /api/v1/lookup`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BulkParams {
    /// `json` (the default) or `stix`: one STIX 2.1 bundle with every
    /// value's objects, as the single lookup's (no enrichment), for at most
    /// 1,000 values; values that are not indicators are left out and
    /// counted in `X-Rexist-Skipped`.
    format: Option<AnswerFormat>,
}

/// `POST /api/v1/lookup`: the local verdict on many values at once.
#[utoipa::path(
    post,
    path = "/api/v1/lookup",
    tag = "lookup",
    summary = "The local verdict on many values at once",
    request_body = BulkBody,
    params(BulkParams),
    responses(
        (status = 200, description = "One verdict per value, in order; unrecognisable values get an `error`. With `format=stix`, one STIX 2.1 bundle (`application/stix+json;version=2.1`) of every value's objects.", headers(
            ("X-Rexist-Skipped" = Option<u64>, description = "With `format=stix`: values left out because they are not indicators."),
        ), content(
            (BulkAnswer = "application/json"),
            (Object = "application/stix+json;version=2.1"),
        )),
        (status = 400, description = "The body is invalid or has more than 10,000 values (1,000 with `format=stix`).", body = ErrorBody),
    )
)]
pub async fn bulk(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<BulkParams>, QueryRejection>,
    body: Result<Json<BulkBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let p = query(params)?;
    let b = json_body(body)?;
    if b.values.len() > MAX_BULK {
        return Err(ApiError::invalid(format!(
            "values: {} given, at most {MAX_BULK}",
            b.values.len()
        )));
    }
    if p.format.unwrap_or_default() == AnswerFormat::Json {
        return Ok(Json(BulkAnswer {
            results: state
                .lookup
                .bulk(&b.values, Some(principal.clearance))
                .await?,
        })
        .into_response());
    }
    if b.values.len() > MAX_STIX_BULK {
        return Err(ApiError::invalid(format!(
            "values: {} given; format=stix answers at most {MAX_STIX_BULK} values at once \
             (format=json takes up to {MAX_BULK})",
            b.values.len()
        )));
    }
    let ids = crate::export::stix_ids(state.store.as_ref()).await?;
    let options = Options {
        max_tlp: Some(principal.clearance),
        ..Options::default()
    };
    let now = rexist_core::model::now();
    let (mut objects, mut skipped) = (Vec::new(), 0usize);
    for value in &b.values {
        match state.lookup.one(value, &options).await {
            Ok(answer) => objects.extend(
                state
                    .lookup
                    .stix_objects(&answer, &ids, options.max_tlp, now)
                    .await?,
            ),
            Err(LookupError::Invalid(_)) => skipped += 1,
            Err(e) => return Err(e.into()),
        }
    }
    let mut response = stix_response(&rexist_lookup::stix::bundle(&ids, objects));
    response
        .headers_mut()
        .insert("x-rexist-skipped", skipped.into());
    Ok(response)
}
