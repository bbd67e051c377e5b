//! An analyst's search in the REST API, beyond the listings of [`crate::api`]:
//! facet counts, saved searches, exports of a result set and bulk actions.
//!
//! - `GET /api/v1/indicators/facets`, `GET /api/v1/items/facets`: counts by
//!   facet of what the listing's filters match (the store reads at most
//!   [`rexist_store::search::FACET_SCAN`] rows per facet).
//! - `GET /api/v1/indicators?…&format=csv`: the listing's matches (every
//!   page, not one) in an export format, streamed through the spool.
//! - `POST /api/v1/indicators/bulk`: one action on listed indicators or on
//!   everything a query matches, at most [`MAX_BULK`], in store
//!   transactions of [`BATCH`].
//! - `GET`/`POST /api/v1/searches`, `DELETE /api/v1/searches/{name}`: the
//!   caller's saved searches.
//!
//! Every read is within the caller's clearance, every write needs the
//! analyst role (the middleware refuses viewers) and is audited.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use rexist_core::model::now;
use rexist_core::{
    HuntKind, HuntSpec, Indicator, IndicatorId, IndicatorRecord, IndicatorStatus, IndicatorType,
    ItemKind, NewItem, NewSighting, Tlp,
};
use rexist_export::{Format, Writer};
use rexist_store::{
    CurationChange, ExportQuery, Facets, IndicatorFilter, IndicatorSearch, IndicatorSort,
    ItemFilter, SavedSearch, StoreError,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{ClientAddr, Principal};
use crate::curation::{audit, mark};
use crate::error::{ApiError, ErrorBody, json_body};

/// Most indicators one bulk action touches.
pub const MAX_BULK: usize = 10_000;
/// Indicators changed per store transaction.
pub const BATCH: usize = 500;
/// Indicators exported per store read.
const EXPORT_IDS: u32 = 1000;

fn invalid(field: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!("parameter {field}: {why}"))
}

/// The filters of an indicator search as given (query string or JSON),
/// before they are checked.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FilterParams {
    /// Types, comma-separated (`ipv4,domain`).
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Only this exact value (canonicalised first).
    #[serde(default)]
    pub value: Option<String>,
    /// Only values starting with this.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Statuses, comma-separated (`active`, `expired`, `allowlisted`, `retired`, `false_positive`).
    #[serde(default)]
    pub status: Option<String>,
    /// Only indicators the source with this name reported.
    #[serde(default)]
    pub source: Option<String>,
    /// Only indicators carrying this label (a source's or an analyst's).
    #[serde(default)]
    pub label: Option<String>,
    /// TLPs, comma-separated (`clear`, `green`, `amber`, `amber+strict`, `red`).
    #[serde(default)]
    pub tlp: Option<String>,
    /// Scores at least this (0–100).
    #[serde(default)]
    #[schema(value_type = Option<u8>)]
    #[param(value_type = Option<u8>)]
    pub min_score: Option<Loose>,
    /// Scores at most this (0–100).
    #[serde(default)]
    #[schema(value_type = Option<u8>)]
    #[param(value_type = Option<u8>)]
    pub max_score: Option<Loose>,
    /// Seen at or after this (RFC 3339, or a date `2024-05-01`: its start, UTC).
    #[serde(default)]
    pub from: Option<String>,
    /// Seen at or before this (RFC 3339, or a date: its end, UTC).
    #[serde(default)]
    pub to: Option<String>,
}

/// A number given as a number (JSON) or as text (a query string).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Loose {
    /// As a number.
    Number(u64),
    /// As text.
    Text(String),
}

impl Loose {
    fn text(&self) -> String {
        match self {
            Self::Number(n) => n.to_string(),
            Self::Text(t) => t.clone(),
        }
    }
}

fn given(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

/// Comma-separated values of `field`, each parsed.
pub(crate) fn list<T: std::str::FromStr>(field: &str, v: Option<&str>) -> Result<Vec<T>, ApiError>
where
    T::Err: std::fmt::Display,
{
    given(v).map_or_else(
        || Ok(Vec::new()),
        |v| {
            v.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| p.parse::<T>().map_err(|e| invalid(field, e)))
                .collect()
        },
    )
}

fn score(field: &str, v: Option<&str>) -> Result<Option<u8>, ApiError> {
    given(v)
        .map(|v| match v.parse::<u8>() {
            Ok(n) if n <= 100 => Ok(n),
            _ => Err(invalid(field, format!("{v:?} is not a score within 0–100"))),
        })
        .transpose()
}

/// A time bound: RFC 3339, or a date (its first or last microsecond, UTC).
pub(crate) fn time_bound(
    field: &str,
    v: Option<&str>,
    end_of_day: bool,
) -> Result<Option<time::OffsetDateTime>, ApiError> {
    let Some(v) = given(v) else {
        return Ok(None);
    };
    if let Ok(t) = time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339) {
        return Ok(Some(t));
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = time::Date::parse(v, &format).map_err(|_| {
        invalid(
            field,
            format!("{v:?} is not a date (2024-05-01) or an RFC 3339 time"),
        )
    })?;
    let t = if end_of_day {
        day.with_hms_micro(23, 59, 59, 999_999)
            .map_err(|e| invalid(field, e))?
    } else {
        day.midnight()
    };
    Ok(Some(t.assume_utc()))
}

impl FilterParams {
    /// The checked filter for a reader cleared up to `clearance`; an
    /// unknown source is invalid.
    pub async fn filter(
        &self,
        state: &AppState,
        clearance: Tlp,
    ) -> Result<IndicatorFilter, ApiError> {
        let kinds: Vec<IndicatorType> = list("type", self.kind.as_deref())?;
        let value = match given(self.value.as_deref()) {
            Some(v) => Some(match kinds.as_slice() {
                [k] => Indicator::parse(*k, v)
                    .map_err(|e| invalid("value", e))?
                    .value()
                    .to_owned(),
                _ => Indicator::detect(v).map_or_else(|_| v.to_owned(), |i| i.value().to_owned()),
            }),
            None => None,
        };
        let source = match given(self.source.as_deref()) {
            Some(name) => {
                if state.store.source_by_name(name).await?.is_none() {
                    return Err(invalid("source", format!("no source named {name:?}")));
                }
                Some(name.to_owned())
            }
            None => None,
        };
        let (min, max) = (
            self.min_score.as_ref().map(Loose::text),
            self.max_score.as_ref().map(Loose::text),
        );
        let (min_score, max_score) = (
            score("min_score", min.as_deref())?,
            score("max_score", max.as_deref())?,
        );
        let (from, to) = (
            time_bound("from", self.from.as_deref(), false)?,
            time_bound("to", self.to.as_deref(), true)?,
        );
        Ok(IndicatorFilter {
            kinds,
            value,
            prefix: given(self.prefix.as_deref()).map(str::to_lowercase),
            statuses: list::<IndicatorStatus>("status", self.status.as_deref())?,
            source,
            tlps: list::<Tlp>("tlp", self.tlp.as_deref())?,
            label: given(self.label.as_deref()).map(str::to_owned),
            min_score,
            max_score,
            from,
            to,
            max_tlp: clearance,
        })
    }
}

/// The filters of an item search as given.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemFilterParams {
    /// Full-text query over title and body.
    pub q: Option<String>,
    /// Kinds, comma-separated.
    pub kind: Option<String>,
    /// Only items of the source with this name.
    pub source: Option<String>,
    /// TLPs, comma-separated.
    pub tlp: Option<String>,
    /// Published (or stored) at or after this (RFC 3339 or a date).
    pub from: Option<String>,
    /// … at or before this.
    pub to: Option<String>,
}

impl ItemFilterParams {
    /// The checked filter; an unknown source is invalid.
    pub async fn filter(&self, state: &AppState, clearance: Tlp) -> Result<ItemFilter, ApiError> {
        let sources = match given(self.source.as_deref()) {
            Some(name) => vec![
                state
                    .store
                    .source_by_name(name)
                    .await?
                    .ok_or_else(|| invalid("source", format!("no source named {name:?}")))?
                    .id,
            ],
            None => Vec::new(),
        };
        Ok(ItemFilter {
            text: given(self.q.as_deref()).map(str::to_owned),
            kinds: list::<ItemKind>("kind", self.kind.as_deref())?,
            sources,
            tlps: list::<Tlp>("tlp", self.tlp.as_deref())?,
            from: time_bound("from", self.from.as_deref(), false)?,
            to: time_bound("to", self.to.as_deref(), true)?,
            max_tlp: clearance,
        })
    }
}

/// `GET /api/v1/indicators/facets`
#[utoipa::path(
    get,
    path = "/api/v1/indicators/facets",
    tag = "indicators",
    summary = "Facet counts of an indicator search",
    description = "How many indicators within the caller's clearance match the filters, by type, \
status, TLP and source; each facet counts the matches of the other filters. At most 100,000 \
matches are read per facet: past that `capped` is true and the counts are lower bounds.",
    params(FilterParams),
    responses(
        (status = 200, description = "The counts, largest first.", body = Facets),
        (status = 400, description = "A parameter is invalid (also: an unknown source).", body = ErrorBody),
    )
)]
pub async fn indicator_facets(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<FilterParams>, QueryRejection>,
) -> Result<Json<Facets>, ApiError> {
    let p = crate::error::query(params)?;
    let filter = p.filter(&state, principal.clearance).await?;
    Ok(Json(state.store.indicator_facets(&filter).await?))
}

/// `GET /api/v1/items/facets`
#[utoipa::path(
    get,
    path = "/api/v1/items/facets",
    tag = "items",
    summary = "Facet counts of an item search",
    description = "How many items within the caller's clearance match, by kind, source and TLP; \
each facet counts the matches of the other filters, at most 100,000 read per facet (`capped`).",
    params(ItemFilterParams),
    responses(
        (status = 200, description = "The counts, largest first.", body = Facets),
        (status = 400, description = "A parameter is invalid (also: an unknown source).", body = ErrorBody),
    )
)]
pub async fn item_facets(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<ItemFilterParams>, QueryRejection>,
) -> Result<Json<Facets>, ApiError> {
    let p = crate::error::query(params)?;
    let filter = p.filter(&state, principal.clearance).await?;
    Ok(Json(state.store.item_facets(&filter).await?))
}

/// Which indicators an export or a bulk action takes.
#[derive(Debug, Clone)]
pub enum Selection {
    /// Every indicator the filter matches.
    Matching(IndicatorFilter),
    /// These (already read within the clearance).
    Ids(Vec<IndicatorId>),
}

/// The ids of the next export page of `selection` after `after`.
async fn next_ids(
    state: &AppState,
    selection: &Selection,
    cursor: &mut Option<String>,
    done: &mut usize,
) -> Result<Option<Vec<IndicatorId>>, StoreError> {
    match selection {
        Selection::Ids(ids) => {
            let chunk: Vec<IndicatorId> = ids
                .iter()
                .skip(*done)
                .take(EXPORT_IDS as usize)
                .copied()
                .collect();
            *done += chunk.len();
            Ok((!chunk.is_empty()).then_some(chunk))
        }
        Selection::Matching(filter) => {
            if *done > 0 && cursor.is_none() {
                return Ok(None);
            }
            let page = state
                .store
                .search_indicators(&IndicatorSearch {
                    filter: filter.clone(),
                    sort: IndicatorSort::Value,
                    after: cursor.clone(),
                    limit: EXPORT_IDS,
                })
                .await?;
            *done += 1;
            *cursor = page.next;
            let ids: Vec<IndicatorId> = page.items.iter().map(|r| r.id).collect();
            Ok((!ids.is_empty()).then_some(ids))
        }
    }
}

/// Answers with `selection` in `format`, rendered page by page into the
/// spool and streamed from there: memory stays flat however many match.
/// As in every export, an analyst's false positive is left out.
pub async fn export_selection(
    state: &AppState,
    principal: &Principal,
    format: &str,
    headers: &HeaderMap,
    selection: Selection,
) -> Result<Response, ApiError> {
    let format: Format = format.parse().map_err(|e| invalid("format", e))?;
    if format == Format::Misp {
        return Err(invalid(
            "format",
            "misp is a directory of files: choose another format, or define an [[export]]",
        ));
    }
    let clearance = principal.clearance;
    let context = !matches!(
        format,
        Format::Edl | Format::Panos | Format::Rpz | Format::Hosts
    );
    let mut options = rexist_export::Options {
        name: "search".to_owned(),
        ..rexist_export::Options::default()
    };
    if format == Format::Stix {
        options.stix_ids = Some(crate::export::stix_ids(state.store.as_ref()).await?);
    }
    let _slot = crate::export::slot(state).await?;
    let file = state.spool.file()?;
    let io = |e: std::io::Error| StoreError::internal(format!("search export: {e}"));
    let mut writer = Writer::new(format, file, &options).map_err(io)?;
    let mut digest = Sha256::new();
    digest.update(format!("search\0{format}\0{}\0", clearance.as_str()).as_bytes());
    let (mut cursor, mut done) = (None, 0usize);
    while let Some(ids) = next_ids(state, &selection, &mut cursor, &mut done).await? {
        let query = ExportQuery {
            ids: Some(ids),
            max_tlp: Some(clearance),
            active_only: false,
            with_retired: false,
            with_context: context,
            limit: EXPORT_IDS,
            ..ExportQuery::default()
        };
        let rows = state.store.export_indicators(&query).await?;
        crate::export::fingerprint(&mut digest, &rows);
        writer =
            crate::export::blocking("search", move || writer.write_rows(&rows).map(|()| writer))
                .await?;
    }
    let file = crate::export::blocking("search", move || writer.finish()).await?;
    let etag = crate::export::etag(digest);
    let name = format!("rexist-search.{}", format.file_extension());
    Ok(crate::export::respond(
        headers,
        &etag,
        format.content_type(),
        tokio::fs::File::from_std(file),
        &name,
    )
    .await?)
}

/// What a bulk action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    /// Adds `label` by hand.
    Label,
    /// Marks each a false positive with `reason`.
    FalsePositive,
    /// Adds each to the watch hunt `hunt` (made if it does not exist).
    Watch,
    /// Groups them into an event item: a new one titled `title`, or the
    /// analysts' item `item`.
    Group,
    /// Answers with them in `format` (a file, not JSON).
    Export,
}

impl BulkAction {
    /// Its name in requests.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Label => "label",
            Self::FalsePositive => "false_positive",
            Self::Watch => "watch",
            Self::Group => "group",
            Self::Export => "export",
        }
    }
}

/// One indicator named in a bulk action.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkValue {
    /// The type; detected from the value when absent.
    #[serde(rename = "type", default)]
    #[schema(value_type = Option<IndicatorType>)]
    pub kind: Option<String>,
    /// The value.
    pub value: String,
}

/// Body of `POST /api/v1/indicators/bulk`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    /// What to do.
    pub action: BulkAction,
    /// The indicators (at most 10,000); or give `query`.
    pub values: Option<Vec<BulkValue>>,
    /// Every indicator these filters match (as `GET /api/v1/indicators`
    /// takes them), at most 10,000: more is refused, narrow the filters.
    pub query: Option<FilterParams>,
    /// `label`: the label.
    pub label: Option<String>,
    /// `label`, `false_positive`: why (required for a false positive).
    pub reason: Option<String>,
    /// `watch`: the watch hunt's name (default `watchlist`).
    pub hunt: Option<String>,
    /// `group`: the id of an analysts' item to add them to.
    pub item: Option<i64>,
    /// `group`: the title of a new event item.
    pub title: Option<String>,
    /// `group`: the new item's TLP (default `amber`, at most the caller's clearance).
    pub tlp: Option<Tlp>,
    /// `export`: the format (`csv`, `stix`, `jsonl`, `edl`, …).
    pub format: Option<String>,
}

/// Indicators left alone, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Skipped {
    /// Why (`not stored`, `already a false positive`, `already watched`, `already in the item`).
    pub reason: String,
    /// How many.
    pub count: u64,
}

/// Answer of `POST /api/v1/indicators/bulk`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkAnswer {
    /// The action.
    pub action: BulkAction,
    /// How many indicators it was asked for (listed, or matching the query).
    pub selected: u64,
    /// How many it changed.
    pub done: u64,
    /// How many it left alone, by reason.
    pub skipped: Vec<Skipped>,
    /// `watch`: the hunt; `group`: the item's id.
    pub target: Option<String>,
}

impl BulkAnswer {
    fn skip(&mut self, reason: &str, count: u64) {
        if count > 0 {
            self.skipped.push(Skipped {
                reason: reason.to_owned(),
                count,
            });
        }
    }
}

/// The stored indicators a bulk action takes, within the clearance, and
/// how many were named but are not stored (or are above it).
pub(crate) async fn select(
    state: &AppState,
    principal: &Principal,
    values: Option<&[BulkValue]>,
    query: Option<&FilterParams>,
) -> Result<(Vec<IndicatorRecord>, u64, u64), ApiError> {
    match (values, query) {
        (Some(values), None) => {
            if values.len() > MAX_BULK {
                return Err(ApiError::invalid(format!(
                    "values: {} given, at most {MAX_BULK}",
                    values.len()
                )));
            }
            let mut keys: Vec<(IndicatorType, String)> = Vec::with_capacity(values.len());
            for (n, v) in values.iter().enumerate() {
                let i = crate::curation::read_indicator(
                    v.kind.as_deref(),
                    &v.value,
                    &format!("values[{n}]."),
                )?;
                let key = (i.kind(), i.value().to_owned());
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            let mut found = Vec::with_capacity(keys.len());
            for chunk in keys.chunks(BATCH) {
                found.extend(state.store.indicators_by_values(chunk).await?);
            }
            found.retain(|r| principal.may_read(r.tlp));
            found.sort_by_key(|r| r.id.get());
            let missing = (keys.len() - found.len()) as u64;
            Ok((found, keys.len() as u64, missing))
        }
        (None, Some(q)) => {
            let filter = q.filter(state, principal.clearance).await?;
            let mut out = Vec::new();
            let mut after = None;
            loop {
                let page = state
                    .store
                    .search_indicators(&IndicatorSearch {
                        filter: filter.clone(),
                        sort: IndicatorSort::Value,
                        after,
                        limit: 1000,
                    })
                    .await?;
                out.extend(page.items);
                if out.len() > MAX_BULK {
                    return Err(ApiError::invalid(format!(
                        "query: matches more than {MAX_BULK} indicators; narrow the filters"
                    )));
                }
                match page.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            let n = out.len() as u64;
            Ok((out, n, 0))
        }
        _ => Err(ApiError::invalid(
            "give either values (the indicators) or query (filters), not both",
        )),
    }
}

/// Runs a bulk action other than an export.
pub async fn run_bulk(
    state: &AppState,
    principal: &Principal,
    addr: &ClientAddr,
    b: &BulkBody,
) -> Result<BulkAnswer, ApiError> {
    let (records, selected, missing) =
        select(state, principal, b.values.as_deref(), b.query.as_ref()).await?;
    let mut answer = BulkAnswer {
        action: b.action,
        selected,
        done: 0,
        skipped: Vec::new(),
        target: None,
    };
    answer.skip("not stored", missing);
    match b.action {
        BulkAction::Label => {
            let label = b.label.as_deref().map(str::trim).unwrap_or_default();
            crate::curation::check_labels("label", &[label.to_owned()])?;
            let reason = b.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
            let reason = reason.unwrap_or("bulk");
            crate::curation::check_text("reason", reason)?;
            let change = CurationChange::Label {
                label: label.to_owned(),
                removed: false,
                mark: mark(principal, reason),
            };
            answer.done = curate(state, &records, &change).await?;
            audit(
                state,
                principal,
                addr,
                "indicator.bulk.label",
                format!("{} indicators: {label} ({reason})", answer.done),
            )
            .await;
        }
        BulkAction::FalsePositive => {
            let reason = b.reason.as_deref().unwrap_or_default();
            crate::curation::check_text("reason", reason)?;
            let (marked, todo): (Vec<_>, Vec<_>) = records
                .into_iter()
                .partition(|r| r.status == IndicatorStatus::FalsePositive);
            answer.skip("already a false positive", marked.len() as u64);
            let change = CurationChange::MarkFalsePositive(mark(principal, reason));
            answer.done = curate(state, &todo, &change).await?;
            audit(
                state,
                principal,
                addr,
                "indicator.bulk.false_positive",
                format!("{} indicators ({})", answer.done, reason.trim()),
            )
            .await;
        }
        BulkAction::Watch => {
            let name = b
                .hunt
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .unwrap_or("watchlist")
                .to_owned();
            let (added, already) = watch(state, principal, &name, &records).await?;
            answer.done = added;
            answer.skip("already watched", already);
            answer.target = Some(name.clone());
            audit(
                state,
                principal,
                addr,
                "hunt.bulk.watch",
                format!("{name}: {added} indicators"),
            )
            .await;
        }
        BulkAction::Group => {
            let (id, added) = group(state, principal, b, &records).await?;
            answer.done = added;
            answer.target = Some(id.to_string());
            audit(
                state,
                principal,
                addr,
                "item.bulk.group",
                format!("item {id}: {added} indicators"),
            )
            .await;
        }
        BulkAction::Export => {
            return Err(ApiError::invalid("action export answers with a file"));
        }
    }
    Ok(answer)
}

/// Applies `change` in transactions of [`BATCH`]; how many changed.
async fn curate(
    state: &AppState,
    records: &[IndicatorRecord],
    change: &CurationChange,
) -> Result<u64, ApiError> {
    let mut done = 0u64;
    for chunk in records.chunks(BATCH) {
        let ids: Vec<IndicatorId> = chunk.iter().map(|r| r.id).collect();
        done += state.store.curate_many(&ids, change).await?.len() as u64;
    }
    Ok(done)
}

/// Adds `records` to the watch hunt `name`, made if it does not exist:
/// (added, already on it).
async fn watch(
    state: &AppState,
    principal: &Principal,
    name: &str,
    records: &[IndicatorRecord],
) -> Result<(u64, u64), ApiError> {
    let entries: Vec<String> = records
        .iter()
        .map(|r| format!("{}:{}", r.kind.as_str(), r.value))
        .collect();
    let canonical = |text: &str| -> Vec<String> {
        rexist_query::parse_watchlist(text)
            .map(|es| es.iter().map(ToString::to_string).collect())
            .unwrap_or_default()
    };
    let existing = state.store.hunt_by_name(name).await?;
    let Some(hunt) = existing else {
        if entries.is_empty() {
            return Ok((0, 0));
        }
        let spec = HuntSpec {
            name: name.to_owned(),
            kind: HuntKind::Watch,
            definition: entries.join("\n"),
            enabled: true,
            channels: Vec::new(),
            digest_secs: None,
            tlp: HuntSpec::default_tlp(principal.clearance),
        };
        rexist_pipeline::hunter::validate(spec.kind, &spec.definition)
            .map_err(|e| ApiError::invalid(format!("hunt: {e}")))?;
        state.ingest.create_hunt(&spec).await?;
        return Ok((entries.len() as u64, 0));
    };
    // A hunt above the caller's clearance is not theirs to read or change.
    if !principal.may_read(hunt.spec.tlp) {
        return Err(ApiError::conflict(format!(
            "hunt {name:?} exists and is not the caller's to change"
        )));
    }
    if hunt.spec.kind != HuntKind::Watch {
        return Err(ApiError::conflict(format!(
            "hunt {name:?} is a query over items, not a watchlist"
        )));
    }
    let have: std::collections::HashSet<String> =
        canonical(&hunt.spec.definition).into_iter().collect();
    let mut new = Vec::new();
    let mut already = 0u64;
    for e in entries {
        let key = canonical(&e);
        if !key.is_empty() && key.iter().all(|k| have.contains(k)) {
            already += 1;
        } else {
            new.push(e);
        }
    }
    if new.is_empty() {
        return Ok((0, already));
    }
    let mut spec = hunt.spec.clone();
    spec.definition = format!("{}\n{}", spec.definition.trim_end(), new.join("\n"));
    rexist_pipeline::hunter::validate(spec.kind, &spec.definition)
        .map_err(|e| ApiError::invalid(format!("hunt: {e}")))?;
    state.ingest.update_hunt(hunt.id, &spec).await?;
    Ok((new.len() as u64, already))
}

/// Sights `records` in an analysts' event item: `b.item`, or a new one
/// titled `b.title`. Returns the item's id and how many were sighted.
async fn group(
    state: &AppState,
    principal: &Principal,
    b: &BulkBody,
    records: &[IndicatorRecord],
) -> Result<(rexist_core::ItemId, u64), ApiError> {
    let manual = state.ingest.manual_source().await?;
    let (id, tlp) = match (b.item, b.title.as_deref().map(str::trim)) {
        (Some(id), None) => {
            let item = crate::api::readable_item(state, principal, &id.to_string()).await?;
            if item.source_id != manual.id {
                return Err(ApiError::invalid(format!(
                    "item: item {id} is a source's, not one analysts wrote"
                )));
            }
            (item.id, item.content.tlp)
        }
        (None, Some(title)) if !title.is_empty() && title.len() <= 500 => {
            let tlp = b.tlp.unwrap_or(crate::curation::DEFAULT_TLP);
            crate::hunts::check_tlp(principal, tlp)?;
            let item = NewItem {
                kind: ItemKind::Event,
                external_id: format!("manual-bulk-{}", now().unix_timestamp_nanos()),
                title: title.to_owned(),
                body: String::new(),
                url: None,
                lang: None,
                published_at: Some(now()),
                tlp,
                tags: Vec::new(),
                extra: serde_json::json!({"author": principal.name}),
            };
            let id = state
                .ingest
                .manual_item(&principal.name, &item, &[])
                .await?;
            (id, tlp)
        }
        (None, Some(_)) => return Err(ApiError::invalid("title: 1 to 500 bytes")),
        _ => {
            return Err(ApiError::invalid(
                "group needs item (an analysts' item id) or title (a new event item), not both",
            ));
        }
    };
    let seen_at = now();
    let mut added = 0u64;
    for chunk in records.chunks(BATCH) {
        let sightings: Vec<NewSighting> = chunk
            .iter()
            .filter_map(|r| Indicator::parse(r.kind, &r.value).ok())
            .map(|i| NewSighting {
                item_id: Some(id),
                tlp: Some(tlp),
                ..NewSighting::new(i, seen_at)
            })
            .collect();
        added += sightings.len() as u64;
        state
            .ingest
            .manual_sightings(&principal.name, &sightings)
            .await?;
    }
    Ok((id, added))
}

/// `POST /api/v1/indicators/bulk`
#[utoipa::path(
    post,
    path = "/api/v1/indicators/bulk",
    tag = "curation",
    summary = "One action on many indicators (analyst)",
    description = "Labels, marks as false positives, watches, groups into an event item or exports \
the indicators listed in `values` or matching `query` (the filters of `GET /api/v1/indicators`), \
at most 10,000: a query matching more is refused. Changes are made in store transactions of 500 \
and audited once per request. Indicators not stored, or above the caller's clearance, are skipped \
and counted. `export` answers with the file instead of JSON.",
    request_body = BulkBody,
    responses(
        (status = 200, description = "What was done and what was skipped, and why; for `export`, the file.", content(
            (BulkAnswer = "application/json"),
            (Object = "application/stix+json;version=2.1"),
            (String = "text/csv; charset=utf-8"),
            (String = "application/x-ndjson"),
            (String = "text/dns"),
            (String = "text/plain; charset=utf-8"),
        )),
        (status = 400, description = "The body is invalid: an action's field missing, a value that does not parse (named by its index), too many indicators.", body = ErrorBody),
        (status = 403, description = "A viewer, or `tlp` above the caller's clearance.", body = ErrorBody),
        (status = 404, description = "`item` is no item within the caller's clearance.", body = ErrorBody),
        (status = 409, description = "`hunt` is a query hunt, or not the caller's to change.", body = ErrorBody),
    )
)]
pub async fn bulk(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    headers: HeaderMap,
    b: Result<Json<BulkBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let b = json_body(b)?;
    if b.action == BulkAction::Export {
        let (records, _, _) =
            select(&state, &principal, b.values.as_deref(), b.query.as_ref()).await?;
        let format = b.format.as_deref().unwrap_or("csv");
        audit(
            &state,
            &principal,
            &addr,
            "indicator.bulk.export",
            format!("{} indicators as {format}", records.len()),
        )
        .await;
        let ids = records.iter().map(|r| r.id).collect();
        return export_selection(&state, &principal, format, &headers, Selection::Ids(ids)).await;
    }
    let answer = run_bulk(&state, &principal, &addr, &b).await?;
    Ok(Json(answer).into_response())
}

/// Body of `POST /api/v1/searches`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveSearchBody {
    /// Its name (1–100 bytes); saving under a name in use replaces that search.
    pub name: String,
    /// The search page's query string (`q=log4j&type=url&sort=newest`), without `?`.
    pub query: String,
}

/// The caller's saved searches.
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedSearches {
    /// By name.
    pub items: Vec<SavedSearch>,
}

/// Checks a saved search's query string: only the search page's parameters.
pub fn check_query(query: &str) -> Result<String, ApiError> {
    let query = query.trim().trim_start_matches('?');
    let known = [
        "q",
        "type",
        "kind",
        "source",
        "status",
        "tlp",
        "label",
        "min_score",
        "max_score",
        "from",
        "to",
        "sort",
        "value",
        "prefix",
    ];
    let pairs: BTreeMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if let Some(k) = pairs.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ApiError::invalid(format!(
            "query: unknown parameter {k:?} (known: {})",
            known.join(", ")
        )));
    }
    Ok(query.to_owned())
}

/// `GET /api/v1/searches`
#[utoipa::path(
    get,
    path = "/api/v1/searches",
    tag = "search",
    summary = "The caller's saved searches",
    responses((status = 200, description = "By name.", body = SavedSearches))
)]
pub async fn searches(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<SavedSearches>, ApiError> {
    Ok(Json(SavedSearches {
        items: state.store.saved_searches(&principal.name).await?,
    }))
}

/// `POST /api/v1/searches`
#[utoipa::path(
    post,
    path = "/api/v1/searches",
    tag = "search",
    summary = "Save a search (analyst)",
    request_body = SaveSearchBody,
    responses(
        (status = 201, description = "Saved (replacing one of that name).", body = SavedSearch),
        (status = 400, description = "The name or query is invalid.", body = ErrorBody),
        (status = 409, description = "The caller has 200 saved searches.", body = ErrorBody),
    )
)]
pub async fn save_search(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    b: Result<Json<SaveSearchBody>, JsonRejection>,
) -> Result<(StatusCode, Json<SavedSearch>), ApiError> {
    let b = json_body(b)?;
    let query = check_query(&b.query)?;
    let saved = state
        .store
        .save_search(&principal.name, b.name.trim(), &query)
        .await?;
    audit(
        &state,
        &principal,
        &addr,
        "saved_search.save",
        saved.name.clone(),
    )
    .await;
    Ok((StatusCode::CREATED, Json(saved)))
}

/// `DELETE /api/v1/searches/{name}`
#[utoipa::path(
    delete,
    path = "/api/v1/searches/{name}",
    tag = "search",
    summary = "Delete a saved search (analyst)",
    params(("name" = String, Path, description = "Its name.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "The caller has no saved search of that name.", body = ErrorBody),
    )
)]
pub async fn delete_search(
    State(state): State<AppState>,
    principal: Principal,
    addr: ClientAddr,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state.store.delete_search(&principal.name, &name).await? {
        return Err(ApiError::not_found(format!(
            "no saved search named {name:?}"
        )));
    }
    audit(&state, &principal, &addr, "saved_search.delete", name).await;
    Ok(StatusCode::NO_CONTENT)
}
