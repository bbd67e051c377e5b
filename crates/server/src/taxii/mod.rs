//! A TAXII 2.1 server under `/taxii2/` (docs/taxii.md): one API root,
//! `/taxii2/api/`, whose collections are filtered views of the stored
//! indicators ([`CollectionConfig`]), served as STIX 2.1 by
//! `rexist_stix::write`.
//!
//! - Every response is `application/taxii+json;version=2.1`; errors are the
//!   TAXII error body ([`wire::TaxiiError`]).
//! - Objects are read page by page with `Store::export_indicators` in
//!   `(added, id)` order; each row yields its objects (indicator, SCO,
//!   observed-data and `based-on` relationship, or a vulnerability), all
//!   with the row's
//!   `date_added`. A page ends after whole rows, so `limit` is an upper bound
//!   except when one row alone exceeds it. `next` is the cursor after the
//!   page's last row.
//! - rexist's identity and the TLP marking definitions up to the collection's
//!   TLP open every collection with `date_added` 1970-01-01T00:00:00Z.
//! - A writable collection takes envelopes by POST and stores them as the
//!   TAXII client pull does; their status resources are kept in the store
//!   for [`STATUS_RETENTION`], so every node sharing it answers their GET
//!   and a restart keeps them.

mod config;
mod index;
mod lookup;
pub mod wire;

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Extension, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use rexist_core::{IndicatorType, Role, RunCounts, Scope, SourceSpec, Tlp};
use rexist_stix::write::{RowObjects, StixIds};
use rexist_store::{ExportQuery, MAX_EXPORT_PAGE, Store};
use serde_json::{Value, json};
use time::OffsetDateTime;

pub use config::{CollectionConfig, MAX_PAGE_CAP, TaxiiConfig};
use index::IdIndex;
use wire::{Cursor, TaxiiError};

use crate::AppState;
use crate::auth::Principal;

/// The API root's path under the server (the router is nested at `/taxii2`).
const API_ROOT_PATH: &str = "/taxii2/api/";

/// The API root's name, which keys its status resources in the store.
const API_ROOT: &str = "api";

/// How long a status resource is kept: older ones are deleted when the next
/// envelope is posted, so the table stays as small as a week of POSTs.
pub const STATUS_RETENTION: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

/// Rows one request reads at most while looking for objects that pass its
/// filters (`match[type]`, `match[version]`); past it the page ends with
/// `more` and a `next` token. `match[id]` and single-object requests scan
/// the whole collection.
const SCAN_CAP: usize = 200_000;

/// Rows per store call while scanning for ids.
const SCAN_BATCH: u32 = 5_000;

/// The TAXII routes, relative to `/taxii2`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(discovery).fallback(not_allowed))
        .route("/api/", get(api_root).fallback(not_allowed))
        .route("/api/collections/", get(collections).fallback(not_allowed))
        .route(
            "/api/collections/{id}/",
            get(collection).fallback(not_allowed),
        )
        .route(
            "/api/collections/{id}/manifest/",
            get(manifest).fallback(not_allowed),
        )
        .route(
            "/api/collections/{id}/objects/",
            get(objects)
                .post(add_objects)
                .fallback(not_allowed)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/api/collections/{id}/objects/{object_id}/",
            get(object).delete(delete_object).fallback(not_allowed),
        )
        .route(
            "/api/collections/{id}/objects/{object_id}/versions/",
            get(versions).fallback(not_allowed),
        )
        .route(
            "/api/status/{status_id}/",
            get(status).fallback(not_allowed),
        )
        .fallback(not_found)
        .layer(Extension(Arc::new(IdIndex::default())))
        .layer(middleware::from_fn(check_accept))
}

/// `GET /taxii2/` (with the slash, which a router nested at `/taxii2`
/// cannot route): the discovery resource, for `.route("/taxii2/", …)`.
pub fn discovery_route() -> MethodRouter<AppState> {
    get(discovery)
        .fallback(not_allowed)
        .layer(middleware::from_fn(check_accept))
}

/// 406 unless the request accepts TAXII 2.1 JSON.
async fn check_accept(req: Request, next: Next) -> Response {
    if wire::accepts_taxii(req.headers()) {
        next.run(req).await
    } else {
        TaxiiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "Not Acceptable",
            format!("send Accept: {}", wire::TAXII_MEDIA),
        )
        .into_response()
    }
}

async fn not_found(uri: Uri) -> TaxiiError {
    TaxiiError::not_found(format!("no TAXII resource at {}", uri.path()))
}

async fn not_allowed() -> TaxiiError {
    TaxiiError::method_not_allowed("this resource does not support that method")
}

/// The authenticated caller, refused with a TAXII error body: 401 without
/// credentials, 403 for a token scoped away from TAXII.
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = TaxiiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let principal = Principal::from_request_parts(parts, state)
            .await
            .map_err(|_| {
                TaxiiError::new(
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized",
                    "credentials are required",
                )
            })?;
        if !principal.scopes.is_empty() && !principal.scopes.contains(&Scope::Taxii) {
            return Err(TaxiiError::forbidden(
                "this token may not be used for TAXII",
            ));
        }
        Ok(Self(principal))
    }
}

/// The configured collections, or the default one.
fn effective(cfg: &TaxiiConfig) -> Cow<'_, [CollectionConfig]> {
    if cfg.collections.is_empty() {
        Cow::Owned(TaxiiConfig::default_collections())
    } else {
        Cow::Borrowed(&cfg.collections)
    }
}

/// The collection with this id or alias.
fn find(cfg: &TaxiiConfig, id: &str) -> Result<CollectionConfig, TaxiiError> {
    effective(cfg)
        .iter()
        .find(|c| c.id.eq_ignore_ascii_case(id) || c.alias.as_deref() == Some(id))
        .cloned()
        .ok_or_else(|| TaxiiError::not_found(format!("no collection {id:?}")))
}

/// The API root's absolute URL: under `[server] public_url`, else under a
/// trusted `Host` or the listen address (see [`crate::origin`]).
fn api_root_url(state: &AppState, headers: &HeaderMap, uri: &Uri) -> String {
    format!("{}{API_ROOT_PATH}", crate::origin(state, headers, uri))
}

/// `GET /taxii2/`: the discovery resource.
async fn discovery(
    State(state): State<AppState>,
    Caller(_): Caller,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let cfg = &state.taxii;
    let root = api_root_url(&state, &headers, &uri);
    let mut body = json!({ "title": cfg.title, "default": root, "api_roots": [root] });
    if let Some(d) = &cfg.description {
        body["description"] = json!(d);
    }
    if let Some(c) = &cfg.contact {
        body["contact"] = json!(c);
    }
    wire::json_response(&body)
}

/// `GET /taxii2/api/`: the API root resource.
async fn api_root(State(state): State<AppState>, Caller(_): Caller) -> Response {
    let cfg = &state.taxii;
    let mut body = json!({
        "title": cfg.title,
        "versions": [wire::TAXII_MEDIA],
        "max_content_length": wire::MAX_CONTENT_LENGTH,
    });
    if let Some(d) = &cfg.description {
        body["description"] = json!(d);
    }
    wire::json_response(&body)
}

/// A collection resource as `who` sees it.
fn collection_json(c: &CollectionConfig, who: &Principal) -> Value {
    let mut v = json!({
        "id": c.id,
        "title": c.title,
        "can_read": true,
        "can_write": c.writable && who.role >= Role::Analyst,
        "media_types": [wire::STIX_MEDIA],
    });
    if let Some(d) = &c.description {
        v["description"] = json!(d);
    }
    if let Some(a) = &c.alias {
        v["alias"] = json!(a);
    }
    v
}

/// `GET /taxii2/api/collections/`.
async fn collections(State(state): State<AppState>, Caller(who): Caller) -> Response {
    let list: Vec<Value> = effective(&state.taxii)
        .iter()
        .map(|c| collection_json(c, &who))
        .chain(std::iter::once(lookup::collection_json()))
        .collect();
    wire::json_response(&json!({ "collections": list }))
}

/// `GET /taxii2/api/collections/{id}/`.
async fn collection(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<Response, TaxiiError> {
    match find(&state.taxii, &id) {
        Err(_) if lookup::is_lookup(&id) => Ok(wire::json_response(&lookup::collection_json())),
        c => Ok(wire::json_response(&collection_json(&c?, &who))),
    }
}

/// `match[version]`: every object has one version, so `first`, `last` and
/// `all` all select it; timestamps select it when equal.
#[derive(Debug, Clone, PartialEq)]
enum Versions {
    Any,
    At(Vec<OffsetDateTime>),
}

/// The query parameters of manifest, objects and versions requests.
#[derive(Debug, Clone)]
struct Params {
    added_after: Option<OffsetDateTime>,
    limit: Option<u32>,
    next: Option<Cursor>,
    ids: Option<HashSet<String>>,
    types: Option<HashSet<String>>,
    versions: Versions,
    /// `match[spec_version]` names 2.1 (or is absent).
    spec_ok: bool,
}

/// A comma-separated list, trimmed, without empty entries.
fn list(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty())
}

impl Params {
    fn parse(uri: &Uri) -> Result<Self, TaxiiError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map_err(|e| TaxiiError::bad_request(format!("bad query string: {e}")))?;
        let mut p = Self {
            added_after: None,
            limit: None,
            next: None,
            ids: None,
            types: None,
            versions: Versions::Any,
            spec_ok: true,
        };
        let mut version_values: Vec<String> = Vec::new();
        for (k, v) in &pairs {
            match k.as_str() {
                "added_after" => {
                    p.added_after = Some(wire::parse_timestamp(v).ok_or_else(|| {
                        TaxiiError::bad_request(format!("added_after {v:?} is not a timestamp"))
                    })?);
                }
                "limit" => {
                    p.limit = Some(v.trim().parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        TaxiiError::bad_request(format!("limit {v:?} is not a positive integer"))
                    })?);
                }
                "next" => {
                    p.next = Some(Cursor::parse(v).ok_or_else(|| {
                        TaxiiError::bad_request(format!(
                            "next {v:?} is not a token this server gave"
                        ))
                    })?);
                }
                "match[id]" => p
                    .ids
                    .get_or_insert_with(HashSet::new)
                    .extend(list(v).map(str::to_owned)),
                "match[type]" => p
                    .types
                    .get_or_insert_with(HashSet::new)
                    .extend(list(v).map(str::to_owned)),
                "match[version]" => version_values.extend(list(v).map(str::to_owned)),
                "match[spec_version]" => {
                    p.spec_ok = p.spec_ok && list(v).any(|s| s == "2.1");
                }
                other if other.starts_with("match[") => {
                    return Err(TaxiiError::bad_request(format!(
                        "unsupported filter {other}; this server supports match[id], \
                         match[type], match[version] and match[spec_version]"
                    )));
                }
                _ => {}
            }
        }
        if !version_values.is_empty()
            && !version_values
                .iter()
                .any(|v| matches!(v.as_str(), "first" | "last" | "all"))
        {
            let at = version_values
                .iter()
                .map(|v| {
                    wire::parse_timestamp(v).ok_or_else(|| {
                        TaxiiError::bad_request(format!(
                            "match[version] {v:?} is not first, last, all or a timestamp"
                        ))
                    })
                })
                .collect::<Result<_, _>>()?;
            p.versions = Versions::At(at);
        }
        Ok(p)
    }

    /// Whether an object of STIX type `kind` passes `match[id]`,
    /// `match[type]` and `match[version]`.
    fn keep(&self, kind: &str, id: &str, version: &str) -> bool {
        if let Some(types) = &self.types
            && !types.contains(kind)
        {
            return false;
        }
        if let Some(ids) = &self.ids
            && !ids.contains(id)
        {
            return false;
        }
        match &self.versions {
            Versions::Any => true,
            Versions::At(at) => wire::parse_timestamp(version).is_some_and(|v| at.contains(&v)),
        }
    }
}

/// STIX types a non-CVE row can yield (CVE rows yield `vulnerability`).
const ROW_TYPES: [&str; 11] = [
    "indicator",
    "observed-data",
    "relationship",
    "ipv4-addr",
    "ipv6-addr",
    "domain-name",
    "url",
    "email-addr",
    "file",
    "autonomous-system",
    "cryptocurrency-wallet",
];

/// How long a new row waits before TAXII serves it from PostgreSQL.
const POSTGRES_VISIBILITY_LAG: time::Duration = time::Duration::seconds(5);

/// The store query for a collection as `who` reads it, or `None` when no
/// row can pass (`match[type]` names no row type, `match[spec_version]`
/// excludes 2.1). `match[type]` narrows the indicator types read.
fn export_query(
    c: &CollectionConfig,
    who: &Principal,
    p: &Params,
) -> Result<Option<ExportQuery>, TaxiiError> {
    let mut kinds = c.kinds().map_err(TaxiiError::internal)?;
    if kinds.is_empty() {
        kinds = IndicatorType::ALL.to_vec();
    }
    if let Some(types) = &p.types {
        let vulns = types.contains("vulnerability");
        let others = ROW_TYPES.iter().any(|t| types.contains(*t));
        kinds.retain(|k| {
            if *k == IndicatorType::Cve {
                vulns
            } else {
                others
            }
        });
    }
    if kinds.is_empty() || !p.spec_ok {
        return Ok(None);
    }
    if kinds.len() == IndicatorType::ALL.len() {
        kinds.clear();
    }
    let tlp = c.max_tlp().map_err(TaxiiError::internal)?;
    Ok(Some(ExportQuery {
        kinds,
        source: c.source.clone(),
        tag: c.tag.clone(),
        min_score: c.min_score,
        max_tlp: Some(tlp.map_or(who.clearance, |t| t.min(who.clearance))),
        active_only: c.active_only,
        // A consumer that has an indicator learns of its retraction, or of
        // an analyst's false-positive mark, from the revoked version.
        with_retired: true,
        since: None,
        added_after: p.added_after,
        added_before: None,
        ids: None,
        after: None,
        with_context: true,
        limit: 0,
    }))
}

/// One of the objects that open every collection, written once.
struct Fixed {
    kind: String,
    id: String,
    version: String,
    json: Vec<u8>,
}

/// The objects that open every collection: rexist's identity and the TLP
/// marking definitions up to `max_tlp`, with `date_added` at the epoch.
fn fixed_objects(stix: &StixIds, max_tlp: Tlp) -> Result<Vec<Fixed>, TaxiiError> {
    std::iter::once(stix.identity())
        .chain(
            Tlp::ALL
                .into_iter()
                .filter(|t| *t <= max_tlp)
                .map(rexist_stix::write::tlp_marking),
        )
        .map(|obj| {
            let text = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            Ok(Fixed {
                kind: text("type"),
                id: text("id"),
                version: own_version(&obj).unwrap_or("").to_owned(),
                json: serde_json::to_vec(&obj).map_err(TaxiiError::internal)?,
            })
        })
        .collect()
}

/// An object's version: its `modified`, else `created`.
fn own_version(obj: &Value) -> Option<&str> {
    obj.get("modified")
        .or_else(|| obj.get("created"))
        .and_then(Value::as_str)
}

/// What a page lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Whole objects.
    Objects,
    /// Manifest entries.
    Manifest,
    /// Versions (of one object).
    Versions,
}

/// One page, its entries already written as JSON (comma-separated).
struct Page {
    body: Vec<u8>,
    count: usize,
    first: Option<OffsetDateTime>,
    last: Option<OffsetDateTime>,
    more: bool,
    next: Option<Cursor>,
}

impl Page {
    /// Adds an object (`json` its whole text), or its manifest entry or
    /// version.
    fn push_entry(
        &mut self,
        mode: Mode,
        id: &str,
        json: &[u8],
        added: OffsetDateTime,
        added_text: &[u8],
        version: &str,
    ) -> Result<(), TaxiiError> {
        if self.count > 0 {
            self.body.push(b',');
        }
        match mode {
            Mode::Objects => self.body.extend_from_slice(json),
            Mode::Manifest => {
                self.body.extend_from_slice(b"{\"id\":");
                serde_json::to_writer(&mut self.body, id).map_err(TaxiiError::internal)?;
                self.body.extend_from_slice(b",\"date_added\":\"");
                self.body.extend_from_slice(added_text);
                self.body.extend_from_slice(b"\",\"version\":");
                serde_json::to_writer(&mut self.body, version).map_err(TaxiiError::internal)?;
                self.body.extend_from_slice(b",\"media_type\":\"");
                self.body.extend_from_slice(wire::STIX_MEDIA.as_bytes());
                self.body.extend_from_slice(b"\"}");
            }
            Mode::Versions => {
                serde_json::to_writer(&mut self.body, version).map_err(TaxiiError::internal)?;
            }
        }
        self.count += 1;
        self.first.get_or_insert(added);
        self.last = Some(added);
        Ok(())
    }

    /// The response: `{"objects"|"versions":[…],"more":…,"next":…}` with the
    /// date-added headers.
    fn into_response(mut self, mode: Mode) -> Response {
        let mut body = Vec::with_capacity(self.body.len() + 96);
        body.extend_from_slice(match mode {
            Mode::Versions => b"{\"versions\":[",
            _ => b"{\"objects\":[",
        });
        body.append(&mut self.body);
        body.extend_from_slice(b"],\"more\":");
        body.extend_from_slice(if self.more { b"true" } else { b"false" });
        if let (true, Some(next)) = (self.more, self.next) {
            body.extend_from_slice(b",\"next\":\"");
            body.extend_from_slice(next.token().as_bytes());
            body.push(b'"');
        }
        body.push(b'}');
        let mut headers = HeaderMap::new();
        for (name, t) in [
            ("x-taxii-date-added-first", self.first),
            ("x-taxii-date-added-last", self.last),
        ] {
            if let Some(v) = t.and_then(|t| HeaderValue::from_str(&wire::timestamp(t)).ok()) {
                headers.insert(name, v);
            }
        }
        wire::taxii_response(StatusCode::OK, body, headers)
    }
}

/// Reads one page of a collection: the fixed objects (first page only),
/// then whole rows until `limit` entries, skipping objects the filters drop.
/// `scan_cap` bounds the rows read.
#[allow(clippy::too_many_arguments)]
async fn read_page(
    store: &Arc<dyn Store>,
    stix: &StixIds,
    query: Option<ExportQuery>,
    fixed: &[Fixed],
    p: &Params,
    limit: usize,
    mode: Mode,
    scan_cap: usize,
) -> Result<Page, TaxiiError> {
    let mut page = Page {
        body: Vec::with_capacity(limit.min(2_000) * if mode == Mode::Objects { 600 } else { 160 }),
        count: 0,
        first: None,
        last: None,
        more: false,
        next: p.next,
    };
    let epoch = OffsetDateTime::UNIX_EPOCH;
    // Under `match[id]`, the ids served so far: once all are, the page ends.
    let mut found: HashSet<String> = HashSet::new();
    let mut all_found = false;
    if p.next.is_none() && p.spec_ok && p.added_after.is_none_or(|a| a < epoch) {
        let text = wire::timestamp(epoch);
        for obj in fixed {
            if p.keep(&obj.kind, &obj.id, &obj.version) {
                page.push_entry(
                    mode,
                    &obj.id,
                    &obj.json,
                    epoch,
                    text.as_bytes(),
                    &obj.version,
                )?;
                if let Some(ids) = &p.ids {
                    found.insert(obj.id.clone());
                    all_found = found.len() >= ids.len();
                }
            }
        }
        page.next = Some(Cursor::AfterFixed);
    }
    let Some(mut q) = query.filter(|_| !all_found) else {
        return Ok(page);
    };
    if let Some(Cursor::After(t, id)) = p.next {
        q.after = Some((t, id));
    }
    let sparse = p.ids.is_some();
    // Objects per row seen so far, to size the next store call.
    let (mut rows_kept, mut objects_kept) = (0usize, 0usize);
    let mut scanned = 0usize;
    let mut added_text = Vec::with_capacity(32);
    // Each row's objects are written straight to bytes into buffers reused
    // from row to row: no JSON map per object (see `RowObjects`).
    let mut objs = RowObjects::new(*stix);
    loop {
        let want = if sparse {
            SCAN_BATCH
        } else {
            let per_row = if rows_kept == 0 {
                if p.types.is_some() { 1 } else { 4 }
            } else {
                objects_kept.div_ceil(rows_kept).max(1)
            };
            let left = limit.saturating_sub(page.count);
            u32::try_from(left / per_row + 1)
                .unwrap_or(MAX_EXPORT_PAGE)
                .min(MAX_EXPORT_PAGE)
        };
        q.limit = want;
        let rows = store
            .export_indicators(&q)
            .await
            .map_err(TaxiiError::internal)?;
        let got = rows.len();
        for row in &rows {
            objs.write_row(row);
            let version = objs.version();
            let keep = objs
                .iter()
                .filter(|o| p.keep(o.kind, o.id, version))
                .count();
            scanned += 1;
            if keep > 0 {
                if page.count > 0 && page.count + keep > limit {
                    page.more = true;
                    return Ok(page);
                }
                added_text.clear();
                wire::push_timestamp(&mut added_text, row.added);
                for obj in objs.iter().filter(|o| p.keep(o.kind, o.id, version)) {
                    page.push_entry(mode, obj.id, obj.json, row.added, &added_text, version)?;
                    if let Some(ids) = &p.ids {
                        found.insert(obj.id.to_owned());
                        all_found = found.len() >= ids.len();
                    }
                }
                rows_kept += 1;
                objects_kept += keep;
            }
            let (t, id) = ExportQuery::cursor(row);
            page.next = Some(Cursor::After(t, id));
            q.after = Some((t, id));
            if all_found {
                // Ids are unique: nothing further can match.
                page.more = false;
                return Ok(page);
            }
            if scanned >= scan_cap {
                page.more = true;
                return Ok(page);
            }
        }
        if got < want as usize {
            return Ok(page);
        }
    }
}

/// A collection page for `mode` as `who` reads it.
async fn serve_page(
    state: &AppState,
    index: &IdIndex,
    who: &Principal,
    id: &str,
    uri: &Uri,
    mode: Mode,
    object_id: Option<&str>,
) -> Result<Response, TaxiiError> {
    let c = match find(&state.taxii, id) {
        Err(_) if lookup::is_lookup(id) => {
            return Err(TaxiiError::bad_request(
                "the lookup collection answers only objects/?match[value]=<value>",
            ));
        }
        c => c?,
    };
    let mut p = Params::parse(uri)?;
    let max_page = state.taxii.max_page.clamp(1, MAX_PAGE_CAP) as usize;
    let mut limit = p.limit.map_or(max_page, |l| (l as usize).min(max_page));
    let mut scan_cap = SCAN_CAP;
    if let Some(oid) = object_id {
        p.ids = Some(HashSet::from([oid.to_owned()]));
        scan_cap = usize::MAX;
        limit = usize::MAX;
    }
    let mut query = export_query(&c, who, &p)?;
    let stix = crate::export::stix_ids(state.store.as_ref())
        .await
        .map_err(TaxiiError::internal)?;
    if let Some(q) = query.as_mut()
        && state.store.backend() == rexist_store::Backend::Postgres
    {
        // On PostgreSQL several writers commit in any order, so a row may
        // appear with an `added` time a client's cursor has passed. Rows
        // show once every transaction that could have taken an earlier time
        // has committed (ingest transactions take well under this).
        q.added_before = Some(rexist_core::model::now() - POSTGRES_VISIBILITY_LAG);
    }
    if let (Some(q), Some(ids)) = (query.as_mut(), &p.ids) {
        let rows = index
            .rows_for(&state.store, &stix, ids)
            .await
            .map_err(TaxiiError::internal)?;
        if rows.is_empty() {
            query = None;
        } else {
            q.ids = Some(rows);
        }
    }
    let max_tlp = query.as_ref().and_then(|q| q.max_tlp).unwrap_or_else(|| {
        c.max_tlp()
            .ok()
            .flatten()
            .unwrap_or(who.clearance)
            .min(who.clearance)
    });
    let fixed = fixed_objects(&stix, max_tlp)?;
    let page = read_page(
        &state.store,
        &stix,
        query,
        &fixed,
        &p,
        limit,
        mode,
        scan_cap,
    )
    .await?;
    if object_id.is_some() && page.count == 0 {
        return Err(TaxiiError::not_found(format!(
            "no object {:?} in collection {id:?}",
            object_id.unwrap_or_default()
        )));
    }
    Ok(page.into_response(mode))
}

/// `GET .../collections/{id}/manifest/`.
async fn manifest(
    State(state): State<AppState>,
    Caller(who): Caller,
    Extension(index): Extension<Arc<IdIndex>>,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, TaxiiError> {
    serve_page(&state, &index, &who, &id, &uri, Mode::Manifest, None).await
}

/// `GET .../collections/{id}/objects/`.
async fn objects(
    State(state): State<AppState>,
    Caller(who): Caller,
    Extension(index): Extension<Arc<IdIndex>>,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, TaxiiError> {
    if find(&state.taxii, &id).is_err() && lookup::is_lookup(&id) {
        return lookup::objects(&state, &index, &who, &uri).await;
    }
    serve_page(&state, &index, &who, &id, &uri, Mode::Objects, None).await
}

/// `GET .../collections/{id}/objects/{object_id}/`.
async fn object(
    State(state): State<AppState>,
    Caller(who): Caller,
    Extension(index): Extension<Arc<IdIndex>>,
    Path((id, object_id)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response, TaxiiError> {
    serve_page(
        &state,
        &index,
        &who,
        &id,
        &uri,
        Mode::Objects,
        Some(&object_id),
    )
    .await
}

/// `GET .../collections/{id}/objects/{object_id}/versions/`.
async fn versions(
    State(state): State<AppState>,
    Caller(who): Caller,
    Extension(index): Extension<Arc<IdIndex>>,
    Path((id, object_id)): Path<(String, String)>,
    uri: Uri,
) -> Result<Response, TaxiiError> {
    serve_page(
        &state,
        &index,
        &who,
        &id,
        &uri,
        Mode::Versions,
        Some(&object_id),
    )
    .await
}

/// `DELETE .../objects/{object_id}/`: 403 without write access, else 405
/// (objects are derived from the store and cannot be deleted one by one).
async fn delete_object(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path((id, _)): Path<(String, String)>,
) -> Result<Response, TaxiiError> {
    let c = find(&state.taxii, &id)?;
    if !(c.writable && who.role >= Role::Analyst) {
        return Err(TaxiiError::forbidden(format!(
            "collection {id:?} is not writable by {}",
            who.name
        )));
    }
    Err(TaxiiError::method_not_allowed(
        "objects cannot be deleted through TAXII; allow-list the indicator instead",
    ))
}

/// `GET /taxii2/api/status/{status_id}/`.
async fn status(
    State(state): State<AppState>,
    Caller(_): Caller,
    Path(id): Path<String>,
) -> Result<Response, TaxiiError> {
    let not_found = || {
        TaxiiError::not_found(format!(
            "no status {id:?} (statuses are kept for {} days)",
            STATUS_RETENTION.as_secs() / 86_400
        ))
    };
    // Ours are UUIDs; anything else is not worth a query.
    if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(not_found());
    }
    state
        .store
        .taxii_status(API_ROOT, &id)
        .await
        .map_err(TaxiiError::internal)?
        .map(|s| wire::json_response(&status_body(&s)))
        .ok_or_else(not_found)
}

/// The status resource as TAXII 2.1 §4.3.1 writes it.
fn status_body(s: &rexist_store::TaxiiStatus) -> Value {
    json!({
        "id": s.id,
        "status": s.status,
        "request_timestamp": wire::timestamp(s.request_timestamp),
        "total_count": s.total_count,
        "success_count": s.success_count,
        "successes": s.successes,
        "failure_count": s.failure_count,
        "failures": s.failures,
        "pending_count": s.pending_count,
        "pendings": s.pendings,
    })
}

/// `POST .../collections/{id}/objects/`: stores the envelope's objects
/// (as the TAXII client pull does) under the collection's write source and
/// answers 202 with a complete status resource.
async fn add_objects(
    State(state): State<AppState>,
    Caller(who): Caller,
    Path(id): Path<String>,
    req: Request,
) -> Result<Response, TaxiiError> {
    let c = find(&state.taxii, &id)?;
    if !c.writable {
        return Err(TaxiiError::forbidden(format!(
            "collection {id:?} is read-only"
        )));
    }
    if who.role < Role::Analyst {
        return Err(TaxiiError::forbidden(format!(
            "adding objects needs the analyst role; {} has {}",
            who.name, who.role
        )));
    }
    if !wire::is_taxii_content(req.headers()) {
        return Err(TaxiiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type",
            format!("send Content-Type: {}", wire::TAXII_MEDIA),
        ));
    }
    let too_large = || {
        TaxiiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Payload Too Large",
            format!(
                "the body exceeds max_content_length ({} bytes)",
                wire::MAX_CONTENT_LENGTH
            ),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > wire::MAX_CONTENT_LENGTH as u64) {
        return Err(too_large());
    }
    // Whole microseconds, as the store keeps them, so a GET answers the same.
    let request_timestamp = rexist_core::model::now();
    let bytes = axum::body::to_bytes(req.into_body(), wire::MAX_CONTENT_LENGTH)
        .await
        .map_err(|_| too_large())?;
    let raw: Value = serde_json::from_slice(&bytes)
        .map_err(|e| TaxiiError::bad_request(format!("the body is not JSON: {e}")))?;
    let listed = match &raw {
        Value::Object(m) => m.get("objects").and_then(Value::as_array),
        Value::Array(a) => Some(a),
        _ => None,
    }
    .ok_or_else(|| TaxiiError::bad_request("the body is not an envelope {\"objects\": [...]}"))?;
    let parsed = rexist_stix::parse_objects(&bytes)
        .map_err(|e| TaxiiError::bad_request(format!("not a STIX envelope: {e}")))?;

    let store = &state.store;
    let name = c.write_source_name();
    let source = match store
        .source_by_name(&name)
        .await
        .map_err(TaxiiError::internal)?
    {
        Some(s) => s,
        None => store
            .upsert_source(&SourceSpec {
                name: name.clone(),
                kind: "taxii".to_owned(),
                enabled: false,
                confidence: 50,
                tlp: c
                    .max_tlp()
                    .map_err(TaxiiError::internal)?
                    .unwrap_or(Tlp::Amber),
                tags: Vec::new(),
            })
            .await
            .map_err(TaxiiError::internal)?,
    };
    // Posted objects go the way a source run's do: the collection's TLP is
    // the floor, revoked indicators retire what this source reported, and
    // hunts see what is new.
    let mut counts = RunCounts::default();
    let mut sink = rexist_pipeline::SourceSink::new(&state.ingest, &source, &[]);
    rexist_connectors::engine::Sink::store(
        &mut sink,
        parsed.records,
        parsed.retractions,
        &mut counts,
    )
    .await
    .map_err(TaxiiError::internal)?;
    tracing::info!(
        collection = %c.id, source = %name, by = %who.name, objects = listed.len(),
        rejected = parsed.rejected.len(), "taxii objects added"
    );

    let rejected: std::collections::HashMap<&str, &str> = parsed
        .rejected
        .iter()
        .map(|r| (r.at.as_str(), r.reason.as_str()))
        .collect();
    let (mut successes, mut failures) = (Vec::new(), Vec::new());
    for (n, obj) in listed.iter().enumerate() {
        let oid = obj
            .get("id")
            .and_then(Value::as_str)
            .map_or_else(|| format!("object {n}"), str::to_owned);
        let version = own_version(obj).unwrap_or("").to_owned();
        let why = rejected
            .get(oid.as_str())
            .or_else(|| rejected.get(format!("object {n}").as_str()));
        match why {
            Some(reason) => {
                failures.push(json!({ "id": oid, "version": version, "message": reason }));
            }
            None => successes.push(json!({ "id": oid, "version": version })),
        }
    }
    let status = rexist_store::TaxiiStatus {
        id: wire::random_uuid(),
        api_root: API_ROOT.to_owned(),
        status: "complete".to_owned(),
        request_timestamp,
        total_count: listed.len() as u64,
        success_count: successes.len() as u64,
        failure_count: failures.len() as u64,
        pending_count: 0,
        successes: Value::Array(successes),
        failures: Value::Array(failures),
        pendings: Value::Array(Vec::new()),
    };
    // The objects are stored already: a status that cannot be kept is
    // logged, and the client still gets it in this answer.
    if let Err(e) = store.save_taxii_status(&status, STATUS_RETENTION).await {
        tracing::warn!(status = %status.id, error = %e, "taxii status not stored");
    }
    let body = status_body(&status);
    let mut res = wire::json_response(&body);
    *res.status_mut() = StatusCode::ACCEPTED;
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation() {
        let mut cfg = TaxiiConfig::default();
        assert_eq!(cfg.validate(), Ok(()));
        cfg.collections = TaxiiConfig::default_collections();
        assert_eq!(cfg.validate(), Ok(()));
        cfg.collections[0].id = "not-a-uuid".into();
        assert!(cfg.validate().is_err());
        cfg.collections = TaxiiConfig::default_collections();
        cfg.collections[0].types = vec!["nope".into()];
        assert!(cfg.validate().is_err());
        cfg.collections[0].types = vec!["ipv4".into()];
        cfg.collections[0].tlp = Some("purple".into());
        assert!(cfg.validate().is_err());
        cfg.collections[0].tlp = Some("clear".into());
        cfg.max_page = 10_001;
        assert!(cfg.validate().is_err());
    }

    #[test]
    fn config_defaults_and_names() {
        let cfg: TaxiiConfig = serde_json::from_value(json!({
            "collection": [{"id": "0d3b6f7e-3f55-4d0c-8a8e-5a2f8f1f0a01", "title": "inbox",
                            "writable": true}]
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.title, "rexist");
        assert_eq!(cfg.max_page, 1000);
        let c = &cfg.collections[0];
        assert!(c.active_only && c.writable && c.types.is_empty());
        assert_eq!(
            c.write_source_name(),
            "taxii:0d3b6f7e-3f55-4d0c-8a8e-5a2f8f1f0a01"
        );
        assert_eq!(cfg.validate(), Ok(()));
        let unknown = serde_json::from_value::<TaxiiConfig>(json!({"titel": "x"}));
        assert!(unknown.is_err());
    }

    #[test]
    fn params() {
        let uri: Uri = "/x?match%5Btype%5D=indicator,url&limit=5&match[version]=last&added_after=2026-01-01T00:00:00Z"
            .parse()
            .unwrap_or_default();
        let p = Params::parse(&uri)
            .map_err(|e| e.description)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.limit, Some(5));
        assert_eq!(p.versions, Versions::Any);
        assert!(
            p.types
                .as_ref()
                .is_some_and(|t| t.contains("url") && t.len() == 2)
        );
        assert!(p.added_after.is_some());
        let bad: Uri = "/x?match%5Bfoo%5D=1".parse().unwrap_or_default();
        assert!(Params::parse(&bad).is_err());
    }
}
