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
//! `reputation` and `threatAttribute` are store queries with every filter
//! in the statement, paged by offset. The item views read the store's
//! pages of their kind, newest stored first, and filter them here, at most
//! [`ITEM_SCAN`] items. `offset + limit` may not exceed [`MAX_WINDOW`], and
//! `count` is capped there too; an answer cut short by either bound says so
//! in [`CAPPED_HEADER`], its JSON left as EXIST's scripts expect it.
//! Nothing above the caller's TLP clearance is ever returned.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{NestedPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rexist_core::{
    Indicator, IndicatorId, IndicatorRecord, IndicatorType, Item, ItemId, ItemKind, Sighting,
    SightingId, Source, SourceId,
};
use rexist_store::{ItemQuery, ItemSightingQuery, RecentQuery};
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
/// Most items an item view reads from the store for one answer (its
/// filters are applied while reading).
pub const ITEM_SCAN: usize = 50_000;
/// A store page.
const STORE_PAGE: u32 = 1000;
/// The response header naming what cut an answer short, comma-separated:
/// `window=10000` (more than [`MAX_WINDOW`] match; `count` says
/// [`MAX_WINDOW`]) and `scan=50000` (an item view stopped reading after
/// [`ITEM_SCAN`] items, so older ones were neither listed nor counted).
/// Absent when the answer is complete.
pub const CAPPED_HEADER: &str = "x-rexist-capped";

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

/// What cut an answer short (see [`CAPPED_HEADER`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Capped {
    /// More than [`MAX_WINDOW`] match.
    window: bool,
    /// The item scan stopped at [`ITEM_SCAN`] with items left unread.
    scan: bool,
}

impl Capped {
    fn header(self) -> Option<String> {
        let mut parts = Vec::new();
        if self.window {
            parts.push(format!("window={MAX_WINDOW}"));
        }
        if self.scan {
            parts.push(format!("scan={ITEM_SCAN}"));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// A legacy answer: DRF's JSON, and [`CAPPED_HEADER`] when it is cut short.
pub struct Answer<T> {
    listing: Listing<T>,
    capped: Capped,
}

impl<T: Serialize> IntoResponse for Answer<T> {
    fn into_response(self) -> Response {
        let mut response = Json(self.listing).into_response();
        if let Some(value) = self
            .capped
            .header()
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            response.headers_mut().insert(CAPPED_HEADER, value);
        }
        response
    }
}

type ExistResult<T> = Result<Answer<T>, ApiError>;

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

    /// The answer for a scan's matches (already ordered; more than
    /// [`MAX_WINDOW`] of them when the window was passed).
    fn page<T, U>(&self, scan: &Scan<T>, render: impl FnMut(&T) -> U) -> Answer<U> {
        let results = scan
            .matches
            .iter()
            .skip(self.offset)
            .take(self.limit)
            .map(render)
            .collect();
        let capped = Capped {
            window: scan.matches.len() > MAX_WINDOW,
            scan: scan.cut,
        };
        self.answer(scan.matches.len().min(MAX_WINDOW), capped, results)
    }

    /// The answer with `count` matches in all and `results` on this page.
    fn answer<U>(&self, count: usize, capped: Capped, results: Vec<U>) -> Answer<U> {
        Answer {
            listing: self.listing(count, results),
            capped,
        }
    }

    /// The answer when a filter rules everything out.
    fn nothing<U>(&self) -> Answer<U> {
        self.answer(0, Capped::default(), Vec::new())
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

/// What an item view read: its matches, and whether the scan stopped at
/// [`ITEM_SCAN`] with items left unread.
struct Scan<T> {
    matches: Vec<T>,
    cut: bool,
}

/// Items of `kind` the caller may read that satisfy `keep`, newest stored
/// first, reading at most [`ITEM_SCAN`] and keeping one more than
/// [`MAX_WINDOW`] (which says the window was passed).
async fn scan_items(
    state: &AppState,
    principal: &Principal,
    kind: ItemKind,
    mut keep: impl FnMut(&Item) -> bool,
) -> Result<Scan<Item>, ApiError> {
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
                if out.len() > MAX_WINDOW {
                    return Ok(Scan {
                        matches: out,
                        cut: false,
                    });
                }
            }
        }
        if page.next.is_none() || before.is_none() {
            return Ok(Scan {
                matches: out,
                cut: false,
            });
        }
        if scanned >= ITEM_SCAN {
            return Ok(Scan {
                matches: out,
                cut: true,
            });
        }
    }
}

/// The items with these ids that are of `kind`, that the caller may read
/// and that satisfy `keep`: a filter that names its items (`id`, `attr`)
/// reads them, not the newest [`ITEM_SCAN`].
async fn named_items(
    state: &AppState,
    principal: &Principal,
    kind: ItemKind,
    ids: &[ItemId],
    mut keep: impl FnMut(&Item) -> bool,
) -> Result<Scan<Item>, ApiError> {
    let mut matches = Vec::new();
    for chunk in ids.chunks(STORE_PAGE as usize) {
        matches.extend(
            state
                .store
                .items_by_id(chunk)
                .await?
                .into_iter()
                .filter(|i| i.content.kind == kind && principal.may_read(i.content.tlp) && keep(i)),
        );
    }
    Ok(Scan {
        matches,
        cut: false,
    })
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
    let mut scan = scan_items(&state, &principal, ItemKind::Post, |i| {
        let who = author(i);
        range.contains(published(i))
            && search_matches(&terms, &[&i.content.body, &who, &i.content.title])
    })
    .await?;
    order_items(&mut scan.matches, published);
    Ok(r.page(&scan, |i| {
        let who = author(i);
        Tweet {
            id: i.id.get(),
            datetime: rfc3339(published(i)),
            user: who.clone(),
            screen_name: who,
            text: i.content.body.clone(),
        }
    }))
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
    let mut scan = scan_items(&state, &principal, ItemKind::Exploit, |i| {
        let desc = exploit_description(i).unwrap_or_default();
        range.contains(published(i))
            && search_matches(&terms, &[&i.content.title, &desc, &i.content.body])
    })
    .await?;
    order_items(&mut scan.matches, published);
    Ok(r.page(&scan, |i| Exploit {
        id: i.id.to_string(),
        title: i.content.title.clone(),
        description: exploit_description(i),
        datetime: rfc3339(published(i)),
        referrer: i.content.url.clone(),
        text: i.content.body.clone(),
        source: source_name(&sources, i.source_id),
    }))
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
    let mut scan = scan_items(&state, &principal, ItemKind::News, |i| {
        range.contains(published(i)) && search_matches(&terms, &[&i.content.title, &i.content.body])
    })
    .await?;
    order_items(&mut scan.matches, published);
    Ok(r.page(&scan, |i| News {
        id: i.id.to_string(),
        title: i.content.title.clone(),
        datetime: rfc3339(published(i)),
        referrer: i.content.url.clone(),
        content: Some(i.content.body.clone()).filter(|b| !b.is_empty()),
        source_title: extra_str(i, "feed_title")
            .map_or_else(|| source_name(&sources, i.source_id), str::to_owned),
        source_url: None,
    }))
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
    let mut scan = scan_items(&state, &principal, ItemKind::Vuln, |i| {
        published_range.contains(published(i))
            && modified_range.contains(last_modified(i))
            && cve.as_ref().is_none_or(|c| cves_of(i).contains(c))
            && tags
                .iter()
                .all(|t| i.content.tags.iter().any(|have| have.to_lowercase() == *t))
            && search_matches(&terms, &[&i.content.title, &i.content.body])
    })
    .await?;
    order_items(&mut scan.matches, last_modified);
    Ok(r.page(&scan, |i| vuln_view(i, &sources)))
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
    let keep = |i: &Item| {
        is_misp(sources.get(&i.source_id))
            && id.is_none_or(|id| i.id.get() == id)
            && level.is_none_or(|l| extra_int(i, "threat_level_id").unwrap_or(4) == l)
            && range.contains(publish_timestamp(i))
            && with_attr.as_ref().is_none_or(|ids| ids.contains(&i.id))
            && search_matches(&terms, &[&i.content.title])
    };
    // `id` and `attr` name their events: read those, however old.
    let named: Option<Vec<ItemId>> = match (id, &with_attr) {
        (Some(id), _) => Some(vec![ItemId::new(id)]),
        (None, Some(ids)) => {
            let mut ids: Vec<ItemId> = ids.iter().copied().collect();
            ids.sort_unstable();
            Some(ids)
        }
        (None, None) => None,
    };
    let mut scan = match named {
        Some(ids) => named_items(&state, &principal, ItemKind::Event, &ids, keep).await?,
        None => scan_items(&state, &principal, ItemKind::Event, keep).await?,
    };
    order_items(&mut scan.matches, publish_timestamp);
    Ok(r.page(&scan, threat_event_view))
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

/// The sources whose events are EXIST's MISP events.
fn misp_sources(sources: &HashMap<SourceId, Source>) -> Vec<SourceId> {
    let mut ids: Vec<SourceId> = sources
        .values()
        .filter(|s| is_misp(Some(s)))
        .map(|s| s.id)
        .collect();
    ids.sort_unstable();
    ids
}

/// The indicator types whose derived MISP type is `name` (case-insensitive).
fn kinds_of_misp_type(name: &str) -> Vec<IndicatorType> {
    IndicatorType::ALL
        .iter()
        .copied()
        .filter(|k| misp_type(*k).eq_ignore_ascii_case(name))
        .collect()
}

/// A window-sized count as the answer's `count`.
fn window_count(total: u64) -> usize {
    usize::try_from(total).unwrap_or(MAX_WINDOW).min(MAX_WINDOW)
}

/// The store's `u32` for a request's offset or limit (both at most [`MAX_WINDOW`]).
fn store_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
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
    let misp = misp_sources(&sources);
    // The types asked for: by `type`, narrowed to the `value`'s; all when neither.
    let mut kinds: Option<Vec<IndicatorType>> = kind.map(kinds_of_misp_type);
    let mut value = None;
    if let Some(v) = r.get("value") {
        let Some(ind) = indicator_of(v) else {
            return Ok(r.nothing());
        };
        let only = kinds.get_or_insert_with(|| vec![ind.kind()]);
        only.retain(|k| *k == ind.kind());
        value = Some(ind.value().to_owned());
    }
    if misp.is_empty() || kinds.as_ref().is_some_and(Vec::is_empty) {
        return Ok(r.nothing());
    }
    let found = state
        .store
        .item_sightings(&ItemSightingQuery {
            item_kind: Some(ItemKind::Event),
            sources: misp,
            item: event_id.map(ItemId::new),
            sighting: id.map(SightingId::new),
            kinds: kinds.unwrap_or_default(),
            value,
            contains: terms,
            seen_after: range.after,
            seen_before: range.before,
            max_tlp: principal.clearance,
            offset: store_u32(r.offset),
            limit: store_u32(r.limit),
            count_up_to: store_u32(MAX_WINDOW),
        })
        .await?;
    let mut event_ids: Vec<ItemId> = found.items.iter().filter_map(|(s, _)| s.item_id).collect();
    event_ids.sort_unstable();
    event_ids.dedup();
    let events: HashMap<ItemId, Item> = state
        .store
        .items_by_id(&event_ids)
        .await?
        .into_iter()
        .map(|i| (i.id, i))
        .collect();
    let capped = Capped {
        window: found.capped,
        scan: false,
    };
    let results = found
        .items
        .iter()
        .map(|(s, rec)| {
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
        })
        .collect();
    Ok(r.answer(window_count(found.total), capped, results))
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
    let (kinds, value) = match exact.as_slice() {
        [] => (REPUTATION_KINDS.to_vec(), None),
        [(name, value)] => match reputation_filter(name, value) {
            Some(ind) => (vec![ind.kind()], Some(ind.value().to_owned())),
            None => return Ok(r.nothing()),
        },
        // One entry is an ip, a domain or a url, never two of them.
        _ => return Ok(r.nothing()),
    };
    // With `source`, only indicators that source lists in a sighting the caller may see.
    let mut wanted: Vec<SourceId> = Vec::new();
    if let Some(name) = r.get("source") {
        let name = name.trim();
        wanted = sources
            .values()
            .filter(|s| s.name.eq_ignore_ascii_case(name) || s.id.to_string() == name)
            .map(|s| s.id)
            .collect();
        if wanted.is_empty() {
            return Ok(r.nothing());
        }
        wanted.sort_unstable();
    }
    let found = state
        .store
        .recent_indicators(&RecentQuery {
            kinds,
            value,
            sources: wanted,
            contains: terms,
            max_tlp: principal.clearance,
            offset: store_u32(r.offset),
            limit: store_u32(r.limit),
            count_up_to: store_u32(MAX_WINDOW),
        })
        .await?;
    let mut results = Vec::with_capacity(found.items.len());
    for rec in &found.items {
        let sightings = visible_sightings(&state, &principal, rec.id).await?;
        results.push(blacklist_view(rec, &sightings, &sources));
    }
    let capped = Capped {
        window: found.capped,
        scan: false,
    };
    Ok(r.answer(window_count(found.total), capped, results))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_answer_names_each_bound_that_cut_it() {
        assert_eq!(Capped::default().header(), None);
        let window = Capped {
            window: true,
            scan: false,
        };
        assert_eq!(window.header().as_deref(), Some("window=10000"));
        let both = Capped {
            window: true,
            scan: true,
        };
        assert_eq!(both.header().as_deref(), Some("window=10000, scan=50000"));
        let response = Answer {
            listing: Listing::<u8> {
                count: 0,
                next: None,
                previous: None,
                results: Vec::new(),
            },
            capped: Capped {
                window: false,
                scan: true,
            },
        }
        .into_response();
        assert_eq!(response.headers()[CAPPED_HEADER], "scan=50000");
    }

    #[test]
    fn misp_types_name_their_indicator_types() {
        assert_eq!(
            kinds_of_misp_type("IP-DST"),
            [
                IndicatorType::Ipv4,
                IndicatorType::Ipv6,
                IndicatorType::Cidr
            ]
        );
        assert_eq!(kinds_of_misp_type("domain"), [IndicatorType::Domain]);
        assert!(kinds_of_misp_type("ip-src").is_empty());
    }
}
