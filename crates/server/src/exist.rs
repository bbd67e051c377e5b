//! EXIST's legacy read API (`/api/reputation`, `/api/twitter`,
//! `/api/exploit`, `/api/threatEvent`, `/api/threatAttribute`, `/api/news`,
//! `/api/vuln`), so scripts written against NICT's EXIST keep working.
//!
//! EXIST served these with Django REST framework: `LimitOffsetPagination`
//! (`PAGE_SIZE` 50), answers shaped `{"count", "next", "previous",
//! "results"}`, `?search=` over a few fields and the filters of each view.
//! Each handler maps rexist's items and indicators onto EXIST's serializer
//! fields; what differs is listed in `docs/exist-api.md`.
//!
//! Paging walks the store's cursor pages: `offset + limit` may not exceed
//! [`MAX_WINDOW`], and `count` is capped there too. Nothing above the
//! caller's TLP clearance is ever returned.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{NestedPath, Query, State};
use axum::http::{HeaderMap, Uri};
use axum::routing::get;
use rexist_core::{
    Indicator, IndicatorId, IndicatorRecord, IndicatorType, Item, ItemId, ItemKind, Sighting,
    Source, SourceId,
};
use rexist_store::{IndicatorQuery, ItemQuery};
use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;

/// EXIST's `REST_FRAMEWORK["PAGE_SIZE"]`.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest `limit` honoured; larger ones are cut to it, as DRF's `max_limit` does.
pub const MAX_LIMIT: usize = 1000;
/// Largest `offset + limit`; beyond it the answer is 400. `count` is capped here.
pub const MAX_WINDOW: usize = 10_000;
/// Most items read from the store for one answer (filters are applied while reading).
const ITEM_SCAN: usize = 50_000;
/// Most indicator records read from the store for one answer.
const INDICATOR_SCAN: usize = 50_000;
/// Most indicators whose sightings are read for one answer (source filter, attributes).
const SIGHTING_SCAN: usize = 5_000;
/// A store page.
const STORE_PAGE: u32 = 1000;

/// EXIST's `TIME_ZONE` (`Asia/Tokyo`): a filter date without an offset is read in it.
const EXIST_OFFSET_HOURS: i8 = 9;

/// The legacy routes, relative to `/api`; each with and without a trailing slash.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/reputation", get(reputation))
        .route("/reputation/", get(reputation))
        .route("/reputation/sources", get(reputation_sources))
        .route("/reputation/sources/", get(reputation_sources))
        .route("/twitter", get(twitter))
        .route("/twitter/", get(twitter))
        .route("/exploit", get(exploit))
        .route("/exploit/", get(exploit))
        .route("/news", get(news))
        .route("/news/", get(news))
        .route("/vuln", get(vuln))
        .route("/vuln/", get(vuln))
        .route("/threatEvent", get(threat_event))
        .route("/threatEvent/", get(threat_event))
        .route("/threatAttribute", get(threat_attribute))
        .route("/threatAttribute/", get(threat_attribute))
}

/// DRF's `LimitOffsetPagination` answer.
#[derive(Debug, Serialize)]
pub struct Listing<T> {
    /// How many match (capped at [`MAX_WINDOW`]).
    pub count: usize,
    /// URL of the next page.
    pub next: Option<String>,
    /// URL of the previous page.
    pub previous: Option<String>,
    /// This page.
    pub results: Vec<T>,
}

type ExistResult<T> = Result<Json<Listing<T>>, ApiError>;

/// What every legacy handler reads from the request.
struct Request {
    params: Vec<(String, String)>,
    /// `http://host/api/twitter/`, for `next` and `previous`.
    base: String,
    limit: usize,
    offset: usize,
}

impl Request {
    fn new(
        state: &AppState,
        params: Result<Query<Vec<(String, String)>>, QueryRejection>,
        nested: &NestedPath,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<Self, ApiError> {
        let Query(params) = params
            .map_err(|e| ApiError::invalid(format!("invalid query string: {}", e.body_text())))?;
        let path = format!("{}{}", nested.as_str().trim_end_matches('/'), uri.path());
        // `next` and `previous` are absolute, as DRF writes them, under the
        // public URL or a trusted host (see `crate::origin`).
        let base = crate::origin(state, headers, uri) + &path;
        let mut r = Self {
            params,
            base,
            limit: DEFAULT_LIMIT,
            offset: 0,
        };
        // DRF: a limit of 0 or less than 1 falls back to the default; an offset must be >= 0.
        if let Some(v) = r.get("limit") {
            let n: i64 = v.trim().parse().map_err(|_| {
                ApiError::invalid(format!("parameter limit: {v:?} is not an integer"))
            })?;
            if n < 0 {
                return Err(ApiError::invalid(format!(
                    "parameter limit: {n} is negative"
                )));
            }
            if n > 0 {
                r.limit = usize::try_from(n).unwrap_or(MAX_LIMIT).min(MAX_LIMIT);
            }
        }
        if let Some(v) = r.get("offset") {
            let n: i64 = v.trim().parse().map_err(|_| {
                ApiError::invalid(format!("parameter offset: {v:?} is not an integer"))
            })?;
            r.offset = usize::try_from(n)
                .map_err(|_| ApiError::invalid(format!("parameter offset: {n} is negative")))?;
        }
        if r.offset.saturating_add(r.limit) > MAX_WINDOW {
            return Err(ApiError::invalid(format!(
                "parameters offset and limit: offset + limit may not exceed {MAX_WINDOW} \
                 (got {} + {}); narrow the query with filters instead",
                r.offset, r.limit
            )));
        }
        Ok(r)
    }

    /// The first non-empty value of a parameter (DRF ignores empty filters).
    fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every non-empty value of a parameter.
    fn all(&self, name: &str) -> Vec<&str> {
        self.params
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// An integer filter; a non-integer is a 400 naming the parameter.
    fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    ApiError::invalid(format!("parameter {name}: {v:?} is not an integer"))
                })
            })
            .transpose()
    }

    /// `?search=`: terms split on white space and commas, each to be found
    /// (case-insensitively) in one of the searched fields.
    fn search_terms(&self) -> Vec<String> {
        self.get("search")
            .map(|s| {
                s.split(|c: char| c == ',' || c.is_whitespace())
                    .map(|t| t.trim_matches('"').to_lowercase())
                    .filter(|t| !t.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// django-filter's `DateTimeFromToRangeFilter` on `field`: `field_after`
    /// / `field_before` (django-filter 2) or `field_0` / `field_1` (1.x).
    fn range(&self, field: &str) -> Result<Range, ApiError> {
        let one = |suffixes: [&str; 2]| -> Result<Option<OffsetDateTime>, ApiError> {
            for suffix in suffixes {
                let name = format!("{field}_{suffix}");
                if let Some(v) = self.get(&name) {
                    return parse_datetime(v).map(Some).ok_or_else(|| {
                        ApiError::invalid(format!(
                            "parameter {name}: {v:?} is not a date or date and time \
                                 (YYYY-MM-DD[ HH:MM[:SS]][±HH:MM|Z])"
                        ))
                    });
                }
            }
            Ok(None)
        };
        Ok(Range {
            after: one(["after", "0"])?,
            before: one(["before", "1"])?,
        })
    }

    /// The answer for `matches` (all of them, already ordered).
    fn page<T, U>(&self, matches: &[T], render: impl FnMut(&T) -> U) -> Listing<U> {
        let count = matches.len().min(MAX_WINDOW);
        let results = matches
            .iter()
            .skip(self.offset)
            .take(self.limit)
            .map(render)
            .collect();
        self.listing(count, results)
    }

    fn listing<U>(&self, count: usize, results: Vec<U>) -> Listing<U> {
        let next =
            (self.offset + self.limit < count).then(|| self.link(Some(self.offset + self.limit)));
        let previous = (self.offset > 0).then(|| {
            if self.offset <= self.limit {
                self.link(None)
            } else {
                self.link(Some(self.offset - self.limit))
            }
        });
        Listing {
            count,
            next,
            previous,
            results,
        }
    }

    /// This request's URL with `limit` and `offset` replaced (no `offset` for the first page).
    fn link(&self, offset: Option<usize>) -> String {
        let mut query = String::new();
        for (k, v) in &self.params {
            if k == "limit" || k == "offset" {
                continue;
            }
            let _ = write!(query, "{}={}&", encode(k), encode(v));
        }
        let _ = write!(query, "limit={}", self.limit);
        if let Some(o) = offset {
            let _ = write!(query, "&offset={o}");
        }
        format!("{}?{query}", self.base)
    }
}

/// Percent-encodes a query component.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// An inclusive time range; open where `None`.
#[derive(Debug, Clone, Copy, Default)]
struct Range {
    after: Option<OffsetDateTime>,
    before: Option<OffsetDateTime>,
}

impl Range {
    fn contains(self, t: OffsetDateTime) -> bool {
        self.after.is_none_or(|a| t >= a) && self.before.is_none_or(|b| t <= b)
    }
}

/// Reads `YYYY-MM-DD`, optionally followed by ` ` or `T` and `HH:MM[:SS[.frac]]`
/// and an offset (`Z`, `±HH:MM`, `±HHMM`); without an offset the time is
/// EXIST's local time (Asia/Tokyo).
fn parse_datetime(raw: &str) -> Option<OffsetDateTime> {
    let text = raw.trim();
    if let Ok(parsed) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(parsed);
    }
    // Byte 10 may fall inside a character of hostile or non-ASCII input.
    let (date, rest) = text.split_at_checked(text.len().min(10))?;
    let mut fields = date.split('-');
    let year: i32 = fields.next()?.parse().ok()?;
    let month: u8 = fields.next()?.parse().ok()?;
    let day: u8 = fields.next()?.parse().ok()?;
    if fields.next().is_some() {
        return None;
    }
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    let rest = rest.trim_start_matches([' ', 'T']);
    let (clock, offset) = split_offset(rest)?;
    let clock_time = if clock.is_empty() {
        time::Time::MIDNIGHT
    } else {
        let clock = clock.split('.').next().unwrap_or(clock);
        let mut parts = clock.split(':');
        let hour: u8 = parts.next()?.parse().ok()?;
        let minute: u8 = parts.next()?.parse().ok()?;
        let second: u8 = parts.next().map_or(Some(0), |v| v.parse().ok())?;
        if parts.next().is_some() {
            return None;
        }
        time::Time::from_hms(hour, minute, second).ok()?
    };
    Some(date.with_time(clock_time).assume_offset(offset))
}

/// Splits a trailing UTC offset off a clock time.
fn split_offset(rest: &str) -> Option<(&str, time::UtcOffset)> {
    if let Some(clock) = rest.strip_suffix(['Z', 'z']) {
        return Some((clock, time::UtcOffset::UTC));
    }
    if let Some(i) = rest.rfind(['+', '-']) {
        let (clock, off) = rest.split_at(i);
        let sign: i8 = if off.starts_with('-') { -1 } else { 1 };
        let digits: String = off[1..].chars().filter(char::is_ascii_digit).collect();
        if digits.len() != 4 && digits.len() != 2 {
            return None;
        }
        let h: i8 = digits[..2].parse().ok()?;
        let m: i8 = digits.get(2..4).map_or(Some(0), |v| v.parse().ok())?;
        let off = time::UtcOffset::from_hms(sign * h, sign * m, 0).ok()?;
        return Some((clock.trim_end(), off));
    }
    let local = time::UtcOffset::from_hms(EXIST_OFFSET_HOURS, 0, 0).ok()?;
    Some((rest, local))
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn ymd(t: OffsetDateTime) -> String {
    let d = t.date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Whether every term occurs in one of `fields` (lower-cased by the caller).
fn search_matches(terms: &[String], fields: &[&str]) -> bool {
    terms
        .iter()
        .all(|t| fields.iter().any(|f| f.to_lowercase().contains(t.as_str())))
}

/// The sources, by id.
async fn source_map(state: &AppState) -> Result<HashMap<SourceId, Source>, ApiError> {
    Ok(state
        .store
        .list_sources()
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect())
}

fn source_name(sources: &HashMap<SourceId, Source>, id: SourceId) -> String {
    sources
        .get(&id)
        .map_or_else(|| id.to_string(), |s| s.name.clone())
}

/// Items of `kind` the caller may read that satisfy `keep`, newest stored
/// first, reading at most [`ITEM_SCAN`] and keeping at most [`MAX_WINDOW`].
async fn scan_items(
    state: &AppState,
    principal: &Principal,
    kind: ItemKind,
    mut keep: impl FnMut(&Item) -> bool,
) -> Result<Vec<Item>, ApiError> {
    let mut out = Vec::new();
    let mut before: Option<ItemId> = None;
    let mut scanned = 0usize;
    loop {
        let page = state
            .store
            .search_items(&ItemQuery {
                text: None,
                kind: Some(kind),
                source: None,
                max_tlp: Some(principal.clearance),
                before,
                limit: STORE_PAGE,
            })
            .await?;
        scanned += page.items.len();
        before = page.items.last().map(|i| i.id);
        for item in page.items {
            // The store filters by TLP already; this keeps it so if it does not.
            if item.content.kind == kind && principal.may_read(item.content.tlp) && keep(&item) {
                out.push(item);
                if out.len() >= MAX_WINDOW {
                    return Ok(out);
                }
            }
        }
        if page.next.is_none() || before.is_none() || scanned >= ITEM_SCAN {
            return Ok(out);
        }
    }
}

/// Newest first by `when`, ties by id (newest stored first).
fn order_items(items: &mut [Item], when: impl Fn(&Item) -> OffsetDateTime) {
    items.sort_by(|a, b| when(b).cmp(&when(a)).then(b.id.cmp(&a.id)));
}

/// When upstream published an item, else when rexist stored it.
fn published(item: &Item) -> OffsetDateTime {
    item.content.published_at.unwrap_or(item.created_at)
}

fn extra_str<'a>(item: &'a Item, key: &str) -> Option<&'a str> {
    item.content
        .extra
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// An integer in `extra`, written as a number or a string (MISP does both).
fn extra_int(item: &Item, key: &str) -> Option<i64> {
    match item.content.extra.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

// ---------------------------------------------------------------- twitter

/// EXIST's `twSerializer` (model `tweet`).
#[derive(Debug, Serialize)]
pub struct Tweet {
    id: i64,
    datetime: String,
    user: String,
    screen_name: String,
    text: String,
}

fn author(item: &Item) -> String {
    extra_str(item, "author").unwrap_or_default().to_owned()
}

/// `GET /api/twitter/`: social posts. Filters: `datetime_after`,
/// `datetime_before`; `search` over text, user and screen name.
pub async fn twitter(
    State(state): State<AppState>,
    principal: Principal,
    nested: NestedPath,
    uri: Uri,
    headers: HeaderMap,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ExistResult<Tweet> {
    let r = Request::new(&state, params, &nested, &uri, &headers)?;
    let range = r.range("datetime")?;
    let terms = r.search_terms();
    let mut items = scan_items(&state, &principal, ItemKind::Post, |i| {
        let who = author(i);
        range.contains(published(i))
            && search_matches(&terms, &[&i.content.body, &who, &i.content.title])
    })
    .await?;
    order_items(&mut items, published);
    Ok(Json(r.page(&items, |i| {
        let who = author(i);
        Tweet {
            id: i.id.get(),
            datetime: rfc3339(published(i)),
            user: who.clone(),
            screen_name: who,
            text: i.content.body.clone(),
        }
    })))
}

// ---------------------------------------------------------------- exploit

/// EXIST's `exSerializer` (model `Exploit`).
#[derive(Debug, Serialize)]
pub struct Exploit {
    id: String,
    title: String,
    description: Option<String>,
    datetime: String,
    referrer: Option<String>,
    text: String,
    source: String,
}

fn exploit_description(i: &Item) -> Option<String> {
    let parts: Vec<&str> = ["type", "platform", "author"]
        .iter()
        .filter_map(|k| extra_str(i, k))
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// `GET /api/exploit/`: exploits. Filters: `datetime_after`,
/// `datetime_before`; `search` over title, description and text.
pub async fn exploit(
    State(state): State<AppState>,
    principal: Principal,
    nested: NestedPath,
    uri: Uri,
    headers: HeaderMap,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ExistResult<Exploit> {
    let r = Request::new(&state, params, &nested, &uri, &headers)?;
    let range = r.range("datetime")?;
    let terms = r.search_terms();
    let sources = source_map(&state).await?;
    let mut items = scan_items(&state, &principal, ItemKind::Exploit, |i| {
        let desc = exploit_description(i).unwrap_or_default();
        range.contains(published(i))
            && search_matches(&terms, &[&i.content.title, &desc, &i.content.body])
    })
    .await?;
    order_items(&mut items, published);
    Ok(Json(r.page(&items, |i| Exploit {
        id: i.id.to_string(),
        title: i.content.title.clone(),
        description: exploit_description(i),
        datetime: rfc3339(published(i)),
        referrer: i.content.url.clone(),
        text: i.content.body.clone(),
        source: source_name(&sources, i.source_id),
    })))
}

// ---------------------------------------------------------------- news

/// EXIST's `nwSerializer` (model `News`).
#[derive(Debug, Serialize)]
pub struct News {
    id: String,
    title: String,
    datetime: String,
    referrer: Option<String>,
    content: Option<String>,
    source_title: String,
    source_url: Option<String>,
}

/// `GET /api/news/`: news articles. Filters: `datetime_after`,
/// `datetime_before`; `search` over title and content.
pub async fn news(
    State(state): State<AppState>,
    principal: Principal,
    nested: NestedPath,
    uri: Uri,
    headers: HeaderMap,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ExistResult<News> {
    let r = Request::new(&state, params, &nested, &uri, &headers)?;
    let range = r.range("datetime")?;
    let terms = r.search_terms();
    let sources = source_map(&state).await?;
    let mut items = scan_items(&state, &principal, ItemKind::News, |i| {
        range.contains(published(i)) && search_matches(&terms, &[&i.content.title, &i.content.body])
    })
    .await?;
    order_items(&mut items, published);
    Ok(Json(r.page(&items, |i| {
        News {
            id: i.id.to_string(),
            title: i.content.title.clone(),
            datetime: rfc3339(published(i)),
            referrer: i.content.url.clone(),
            content: Some(i.content.body.clone()).filter(|b| !b.is_empty()),
            source_title: extra_str(i, "feed_title")
                .map_or_else(|| source_name(&sources, i.source_id), str::to_owned),
            source_url: None,
        }
    })))
}

// ---------------------------------------------------------------- vuln

/// EXIST's `vulnSerializer` (model `Vuln`).
#[derive(Debug, Serialize)]
pub struct Vuln {
    id: String,
    title: String,
    description: Option<String>,
    t_description: Option<String>,
    vulndb_published_date: String,
    vulndb_last_modified: Option<String>,
    products: Vec<Value>,
    vendors: Vec<String>,
    references: Vec<Value>,
    tags: Vec<Value>,
    solution: Option<String>,
    nvds: Vec<Value>,
    cvsses: Vec<Value>,
    source: String,
}

/// When a vulnerability record last changed upstream, else in rexist.
fn last_modified(i: &Item) -> OffsetDateTime {
    extra_int(i, "last_modified_at")
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .or_else(|| {
            ["last_modified", "modified"]
                .iter()
                .filter_map(|k| extra_str(i, k))
                .find_map(parse_datetime_utc)
        })
        .unwrap_or(i.updated_at)
}

/// Upstream times without an offset are UTC (NVD's `lastModified`).
fn parse_datetime_utc(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    let has_offset = s.ends_with(['Z', 'z'])
        || s.get(10..)
            .is_some_and(|t| t.contains('+') || t.contains('-'));
    if has_offset {
        parse_datetime(s)
    } else {
        parse_datetime(&format!("{s}Z"))
    }
}

fn cves_of(i: &Item) -> Vec<String> {
    let mut out = Vec::new();
    let ext = i.content.external_id.to_ascii_uppercase();
    if ext.starts_with("CVE-") {
        out.push(ext);
    }
    for word in i
        .content
        .title
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
    {
        let w = word.to_ascii_uppercase();
        if w.starts_with("CVE-") && !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

fn vuln_view(i: &Item, sources: &HashMap<SourceId, Source>) -> Vuln {
    let extra = &i.content.extra;
    let references: Vec<Value> = extra
        .get("references")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .enumerate()
                .filter_map(|(n, r)| {
                    let value = r
                        .as_str()
                        .or_else(|| r.get("url").and_then(Value::as_str))?;
                    let reftype = r.get("source").and_then(Value::as_str).unwrap_or("url");
                    Some(json!({"id": (n + 1).to_string(), "reftype": reftype, "value": value}))
                })
                .collect()
        })
        .unwrap_or_default();
    let tags = i
        .content
        .tags
        .iter()
        .enumerate()
        .map(|(n, t)| json!({"id": n + 1, "name": t, "description": null, "longname": null}))
        .collect();
    let cwe = extra
        .get("cwes")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .and_then(Value::as_str)
        .map(|c| c.trim_start_matches("CWE-").to_owned());
    let score = extra.get("base_score").and_then(Value::as_f64);
    let nvds = cves_of(i)
        .into_iter()
        .map(
            |cve| json!({"id": cve, "cwe_id": cwe, "cvss_score": score, "summary": i.content.body}),
        )
        .collect();
    Vuln {
        id: i.id.to_string(),
        title: i.content.title.clone(),
        description: Some(i.content.body.clone()).filter(|b| !b.is_empty()),
        t_description: None,
        vulndb_published_date: rfc3339(published(i)),
        vulndb_last_modified: Some(rfc3339(last_modified(i))),
        products: Vec::new(),
        vendors: Vec::new(),
        references,
        tags,
        solution: extra_str(i, "cisa_required_action").map(str::to_owned),
        nvds,
        cvsses: Vec::new(),
        source: source_name(sources, i.source_id),
    }
}

/// `GET /api/vuln/`: vulnerabilities. Filters: `vulndb_published_date_*`,
/// `vulndb_last_modified_*` ranges, `cve`, `tag` (repeatable, all must
/// match); `search` over title and description.
pub async fn vuln(
    State(state): State<AppState>,
    principal: Principal,
    nested: NestedPath,
    uri: Uri,
    headers: HeaderMap,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ExistResult<Vuln> {
    let r = Request::new(&state, params, &nested, &uri, &headers)?;
    let published_range = r.range("vulndb_published_date")?;
    let modified_range = r.range("vulndb_last_modified")?;
    let cve = r.get("cve").map(|c| c.trim().to_ascii_uppercase());
    let tags: Vec<String> = r.all("tag").iter().map(|t| t.to_lowercase()).collect();
    let terms = r.search_terms();
    let sources = source_map(&state).await?;
    let mut items = scan_items(&state, &principal, ItemKind::Vuln, |i| {
        published_range.contains(published(i))
            && modified_range.contains(last_modified(i))
            && cve.as_ref().is_none_or(|c| cves_of(i).contains(c))
            && tags
                .iter()
                .all(|t| i.content.tags.iter().any(|have| have.to_lowercase() == *t))
            && search_matches(&terms, &[&i.content.title, &i.content.body])
    })
    .await?;
    order_items(&mut items, last_modified);
    Ok(Json(r.page(&items, |i| vuln_view(i, &sources))))
}

// ---------------------------------------------------------------- threat

/// Source kinds whose events are EXIST's MISP events.
fn is_misp(source: Option<&Source>) -> bool {
    source.is_some_and(|s| s.kind == "misp" || s.kind == "misp-feed")
}

/// EXIST's `EventSerializer`.
#[derive(Debug, Serialize)]
pub struct ThreatEvent {
    id: i64,
    info: String,
    org: String,
    orgc: String,
    threat_level: String,
    tags: Vec<String>,
    date: String,
    analysis: String,
    published: bool,
    publish_timestamp: String,
    timestamp: String,
    attribute_count: i64,
    relatedevents: Vec<i64>,
}

fn epoch(i: &Item, key: &str) -> Option<OffsetDateTime> {
    extra_int(i, key).and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
}

fn publish_timestamp(i: &Item) -> OffsetDateTime {
    epoch(i, "publish_timestamp")
        .filter(|t| t.unix_timestamp() > 0)
        .unwrap_or_else(|| published(i))
}

fn event_date(i: &Item) -> String {
    extra_str(i, "date").map_or_else(|| ymd(published(i)), str::to_owned)
}

fn orgc(i: &Item) -> String {
    extra_str(i, "orgc").unwrap_or_default().to_owned()
}

/// A MISP level as EXIST writes it (MISP's names, capitalised): `High`,
/// `Medium`, `Low`, `Undefined`; `Initial`, `Ongoing`, `Complete`. Items
/// store them lower-case.
fn exist_case(level: &str) -> String {
    let mut c = level.chars();
    c.next().map_or_else(String::new, |f| {
        f.to_uppercase()
            .chain(c.flat_map(char::to_lowercase))
            .collect()
    })
}

fn threat_event_view(i: &Item) -> ThreatEvent {
    ThreatEvent {
        id: i.id.get(),
        info: i.content.title.clone(),
        org: extra_str(i, "org").unwrap_or_default().to_owned(),
        orgc: orgc(i),
        threat_level: exist_case(extra_str(i, "threat_level").unwrap_or("undefined")),
        tags: i.content.tags.clone(),
        date: event_date(i),
        analysis: exist_case(extra_str(i, "analysis").unwrap_or("initial")),
        published: i
            .content
            .extra
            .get("published")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        publish_timestamp: rfc3339(publish_timestamp(i)),
        timestamp: rfc3339(epoch(i, "timestamp").unwrap_or(i.updated_at)),
        attribute_count: extra_int(i, "attribute_count").unwrap_or(0),
        relatedevents: Vec::new(),
    }
}

/// The indicator named by an attribute value, if it is one.
fn indicator_of(value: &str) -> Option<Indicator> {
    Indicator::detect(value.trim()).ok()
}

/// The caller's sightings of an indicator: those it may read.
async fn visible_sightings(
    state: &AppState,
    principal: &Principal,
    id: IndicatorId,
) -> Result<Vec<Sighting>, ApiError> {
    Ok(state
        .store
        .sightings_of(id)
        .await?
        .into_iter()
        .filter(|s| principal.may_read(s.tlp))
        .collect())
}

/// `GET /api/threatEvent/`: MISP events. Filters: `id`, `threat_level_id`,
/// `publish_timestamp_*` range, `attr` (events with an attribute of this
/// value); `search` over info.
pub async fn threat_event(
    State(state): State<AppState>,
    principal: Principal,
    nested: NestedPath,
    uri: Uri,
    headers: HeaderMap,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ExistResult<ThreatEvent> {
    let r = Request::new(&state, params, &nested, &uri, &headers)?;
    let id = r.int("id")?;
    let level = r.int("threat_level_id")?;
    let range = r.range("publish_timestamp")?;
    let terms = r.search_terms();
    let sources = source_map(&state).await?;
    // `attr`: the events in which the caller may see that indicator.
    let with_attr: Option<HashSet<ItemId>> = match r.get("attr") {
        None => None,
        Some(v) => {
            let mut ids = HashSet::new();
            if let Some(ind) = indicator_of(v) {
                if let Some(rec) = state.store.indicator(ind.kind(), ind.value()).await? {
                    if principal.may_read(rec.tlp) {
                        ids.extend(
                            visible_sightings(&state, &principal, rec.id)
                                .await?
                                .into_iter()
                                .filter_map(|s| s.item_id),
                        );
                    }
                }
            }
            Some(ids)
        }
    };
    let mut items = scan_items(&state, &principal, ItemKind::Event, |i| {
        is_misp(sources.get(&i.source_id))
            && id.is_none_or(|id| i.id.get() == id)
            && level.is_none_or(|l| extra_int(i, "threat_level_id").unwrap_or(4) == l)
            && range.contains(publish_timestamp(i))
            && with_attr.as_ref().is_none_or(|ids| ids.contains(&i.id))
            && search_matches(&terms, &[&i.content.title])
    })
    .await?;
    order_items(&mut items, publish_timestamp);
    Ok(Json(r.page(&items, threat_event_view)))
}

/// EXIST's `AttributeSerializer`.
#[derive(Debug, Serialize)]
pub struct ThreatAttribute {
    id: i64,
    #[serde(rename = "type")]
    kind: String,
    category: String,
    timestamp: String,
    comment: String,
    object_relation: Option<String>,
    value: String,
    #[serde(rename = "Event")]
    event: EventSummary,
    #[serde(rename = "Object")]
    object: Option<Value>,
    tags: Vec<String>,
}

/// EXIST's `EventSummarySerializer`.
#[derive(Debug, Serialize)]
pub struct EventSummary {
    id: i64,
    info: String,
    orgc: String,
    date: String,
}

/// The MISP attribute type an indicator most likely came from.
fn misp_type(kind: IndicatorType) -> &'static str {
    match kind {
        IndicatorType::Ipv4 | IndicatorType::Ipv6 | IndicatorType::Cidr => "ip-dst",
        IndicatorType::Domain => "domain",
        IndicatorType::Url => "url",
        IndicatorType::Email => "email-src",
        IndicatorType::Md5 => "md5",
        IndicatorType::Sha1 => "sha1",
        IndicatorType::Sha256 => "sha256",
        IndicatorType::Sha512 => "sha512",
        IndicatorType::Cve => "vulnerability",
        IndicatorType::Asn => "AS",
        IndicatorType::Btc => "btc",
    }
}

/// Indicator records the caller may read, most recently seen first, at most
/// [`INDICATOR_SCAN`] read, of `kinds` (all when empty).
async fn scan_indicators(
    state: &AppState,
    principal: &Principal,
    kinds: &[IndicatorType],
) -> Result<Vec<IndicatorRecord>, ApiError> {
    let mut out = Vec::new();
    let kinds: Vec<Option<IndicatorType>> = if kinds.is_empty() {
        vec![None]
    } else {
        kinds.iter().copied().map(Some).collect()
    };
    'kinds: for kind in kinds {
        let mut after = None;
        loop {
            let page = state
                .store
                .list_indicators(&IndicatorQuery {
                    kind,
                    max_tlp: Some(principal.clearance),
                    after: after.take(),
                    limit: STORE_PAGE,
                    ..IndicatorQuery::default()
                })
                .await?;
            out.extend(
                page.items
                    .into_iter()
                    .filter(|rec| principal.may_read(rec.tlp)),
            );
            if out.len() >= INDICATOR_SCAN {
                break 'kinds;
            }
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
    }
    out.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(b.id.cmp(&a.id)));
    Ok(out)
}

/// `GET /api/threatAttribute/`: indicators sighted in MISP events. Filters:
/// `id`, `value` (exact, case-insensitive), `type`, `event__id`,
/// `timestamp_*` range; `search` over value.
pub async fn threat_attribute(
    State(state): State<AppState>,
    principal: Principal,
    nested: NestedPath,
    uri: Uri,
    headers: HeaderMap,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ExistResult<ThreatAttribute> {
    let r = Request::new(&state, params, &nested, &uri, &headers)?;
    let id = r.int("id")?;
    let event_id = r.int("event__id")?;
    let kind = r.get("type").map(str::trim);
    let range = r.range("timestamp")?;
    let terms = r.search_terms();
    let sources = source_map(&state).await?;
    // The MISP events the caller may read.
    let events: HashMap<ItemId, Item> = scan_items(&state, &principal, ItemKind::Event, |i| {
        is_misp(sources.get(&i.source_id)) && event_id.is_none_or(|e| i.id.get() == e)
    })
    .await?
    .into_iter()
    .map(|i| (i.id, i))
    .collect();
    let candidates: Vec<IndicatorRecord> = if events.is_empty() {
        Vec::new()
    } else if let Some(v) = r.get("value") {
        match indicator_of(v) {
            Some(ind) => state
                .store
                .indicator(ind.kind(), ind.value())
                .await?
                .filter(|rec| principal.may_read(rec.tlp))
                .into_iter()
                .collect(),
            None => Vec::new(),
        }
    } else {
        scan_indicators(&state, &principal, &[]).await?
    };
    let mut rows: Vec<(Sighting, IndicatorRecord)> = Vec::new();
    for rec in candidates.into_iter().take(SIGHTING_SCAN) {
        if kind.is_some_and(|k| !misp_type(rec.kind).eq_ignore_ascii_case(k))
            || !search_matches(&terms, &[&rec.value])
        {
            continue;
        }
        for s in visible_sightings(&state, &principal, rec.id).await? {
            let in_event = s.item_id.is_some_and(|item| events.contains_key(&item));
            if in_event
                && is_misp(sources.get(&s.source_id))
                && id.is_none_or(|id| s.id.get() == id)
                && range.contains(s.last_seen)
            {
                rows.push((s, rec.clone()));
            }
        }
        if rows.len() >= MAX_WINDOW {
            break;
        }
    }
    rows.sort_by(|a, b| b.0.last_seen.cmp(&a.0.last_seen).then(b.0.id.cmp(&a.0.id)));
    Ok(Json(r.page(&rows, |(s, rec)| {
        let event = s.item_id.and_then(|id| events.get(&id));
        let mut labels = s.labels.iter();
        // MISP ingest puts the attribute's category first, then its tags.
        let category = labels.next().cloned().unwrap_or_default();
        ThreatAttribute {
            id: s.id.get(),
            kind: misp_type(rec.kind).to_owned(),
            category,
            timestamp: rfc3339(s.last_seen),
            comment: String::new(),
            object_relation: None,
            value: rec.value.clone(),
            event: EventSummary {
                id: event.map_or(0, |e| e.id.get()),
                info: event.map(|e| e.content.title.clone()).unwrap_or_default(),
                orgc: event.map(orgc).unwrap_or_default(),
                date: event.map(event_date).unwrap_or_default(),
            },
            object: None,
            tags: labels.cloned().collect(),
        }
    })))
}

// ---------------------------------------------------------------- reputation

/// EXIST's `blSerializer` (model `blacklist`).
#[derive(Debug, Serialize)]
pub struct Blacklist {
    id: String,
    ip: Option<String>,
    domain: String,
    url: String,
    source: String,
    description: Option<String>,
    referrer: Option<String>,
    countrycode: String,
    datetime: String,
}

const REPUTATION_KINDS: [IndicatorType; 4] = [
    IndicatorType::Ipv4,
    IndicatorType::Ipv6,
    IndicatorType::Domain,
    IndicatorType::Url,
];

/// The indicator named by a reputation filter (`ip`, `domain`, `url`).
fn reputation_filter(name: &str, value: &str) -> Option<Indicator> {
    let kinds: &[IndicatorType] = match name {
        "ip" => &[IndicatorType::Ipv4, IndicatorType::Ipv6],
        "domain" => &[IndicatorType::Domain],
        _ => &[IndicatorType::Url],
    };
    kinds.iter().find_map(|k| Indicator::parse(*k, value).ok())
}

fn blacklist_view(
    rec: &IndicatorRecord,
    sightings: &[Sighting],
    sources: &HashMap<SourceId, Source>,
) -> Blacklist {
    let mut names: Vec<String> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    for s in sightings {
        let name = source_name(sources, s.source_id);
        if !names.contains(&name) {
            names.push(name);
        }
        for l in &s.labels {
            if !labels.contains(l) {
                labels.push(l.clone());
            }
        }
    }
    let is = |k: IndicatorType| (rec.kind == k).then(|| rec.value.clone());
    Blacklist {
        id: rec.id.to_string(),
        ip: is(IndicatorType::Ipv4).or_else(|| is(IndicatorType::Ipv6)),
        domain: is(IndicatorType::Domain).unwrap_or_default(),
        url: is(IndicatorType::Url).unwrap_or_default(),
        source: names.join(", "),
        description: (!labels.is_empty()).then(|| labels.join(", ")),
        referrer: None,
        countrycode: String::new(),
        datetime: rfc3339(rec.last_seen),
    }
}

/// `GET /api/reputation/`: IP addresses, domains and URLs with the sources
/// that list them. Filters: `ip`, `domain`, `url` (exact), `source` (a
/// source name); `search` over ip, domain and url.
pub async fn reputation(
    State(state): State<AppState>,
    principal: Principal,
    nested: NestedPath,
    uri: Uri,
    headers: HeaderMap,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ExistResult<Blacklist> {
    let r = Request::new(&state, params, &nested, &uri, &headers)?;
    let terms = r.search_terms();
    let sources = source_map(&state).await?;
    let exact: Vec<(&str, &str)> = ["ip", "domain", "url"]
        .into_iter()
        .filter_map(|name| r.get(name).map(|v| (name, v)))
        .collect();
    let mut records: Vec<IndicatorRecord> = match exact.as_slice() {
        [] => scan_indicators(&state, &principal, &REPUTATION_KINDS).await?,
        [(name, value)] => match reputation_filter(name, value) {
            Some(ind) => state
                .store
                .indicator(ind.kind(), ind.value())
                .await?
                .filter(|rec| principal.may_read(rec.tlp))
                .into_iter()
                .collect(),
            None => Vec::new(),
        },
        // One entry is an ip, a domain or a url, never two of them.
        _ => Vec::new(),
    };
    records.retain(|rec| search_matches(&terms, &[&rec.value]));
    // With `source`, only indicators that source lists; their sightings are read while filtering.
    let mut known: HashMap<IndicatorId, Vec<Sighting>> = HashMap::new();
    if let Some(name) = r.get("source") {
        let wanted: HashSet<SourceId> = sources
            .values()
            .filter(|s| s.name.eq_ignore_ascii_case(name.trim()) || s.id.to_string() == name.trim())
            .map(|s| s.id)
            .collect();
        let mut kept = Vec::new();
        if !wanted.is_empty() {
            for rec in records.into_iter().take(SIGHTING_SCAN) {
                let sightings = visible_sightings(&state, &principal, rec.id).await?;
                if sightings.iter().any(|s| wanted.contains(&s.source_id)) {
                    known.insert(rec.id, sightings);
                    kept.push(rec);
                    if kept.len() >= MAX_WINDOW {
                        break;
                    }
                }
            }
        }
        records = kept;
    }
    let count = records.len().min(MAX_WINDOW);
    let mut results = Vec::new();
    for rec in records.iter().skip(r.offset).take(r.limit) {
        let sightings = match known.remove(&rec.id) {
            Some(s) => s,
            None => visible_sightings(&state, &principal, rec.id).await?,
        };
        results.push(blacklist_view(rec, &sightings, &sources));
    }
    Ok(Json(r.listing(count, results)))
}

/// `GET /api/reputation/sources`: EXIST answered its source table
/// (`{"201": "MalwareDomainList", …}`); rexist answers its sources by id.
pub async fn reputation_sources(
    State(state): State<AppState>,
    _principal: Principal,
) -> Result<Json<std::collections::BTreeMap<String, String>>, ApiError> {
    let sources = state.store.list_sources().await?;
    Ok(Json(
        sources
            .into_iter()
            .map(|s| (s.id.to_string(), s.name))
            .collect(),
    ))
}
