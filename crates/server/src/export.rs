//! Exports over HTTP: saved exports from the configuration at stable URLs
//! (`/export/{name}`, a MISP feed under `/export/{name}/manifest.json`), and
//! ad-hoc ones through the API (`/api/v1/exports/{format}?type=…`).
//!
//! Every answer carries an `ETag` computed from the exported data, so a
//! firewall polling with `If-None-Match` gets `304` until something changed,
//! and is gzipped when the client accepts it. The caller's clearance caps the
//! TLP of what is exported, whatever the export asks for.
//!
//! Exports are rendered page by page into the [`Spool`] on disk and
//! streamed from there (gzip as they are sent), so the server's memory stays
//! flat whatever their size: no answer is ever held whole.

use std::io::Write;
use std::time::Duration;

use async_compression::tokio::bufread::GzipEncoder;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rexist_core::{ExportRow, IndicatorType, Tlp};
use rexist_export::misp::MispFeedWriter;
use rexist_export::{Format, Options, Writer};
use rexist_store::{ExportQuery, Store, StoreError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::error::ErrorBody;

/// An `[[export]]` table of the configuration, and the body that defines
/// a stored export (`POST /api/v1/exports`): one definition of an export.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportConfig {
    /// Name, used in the URL `/export/{name}`.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub name: String,
    /// `stix`, `misp`, `csv`, `jsonl`, `edl`, `panos`, `rpz`, `suricata`, `zeek`, `hosts`.
    #[schema(value_type = Format)]
    pub format: String,
    /// What it is for, shown in the API and the UI.
    #[serde(default)]
    pub description: Option<String>,
    /// Indicator types (`ipv4`, `domain`, …); all when empty.
    #[serde(default)]
    #[schema(value_type = Vec<IndicatorType>)]
    pub types: Vec<String>,
    /// Only indicators reported by this source.
    #[serde(default)]
    pub source: Option<String>,
    /// Only indicators with a sighting labelled so.
    #[serde(default)]
    pub tag: Option<String>,
    /// Only indicators scoring at least this (0–100).
    #[serde(default)]
    #[schema(maximum = 100)]
    pub min_score: Option<u8>,
    /// The most restricted TLP exported (the reader's clearance caps it further).
    #[serde(default)]
    #[schema(value_type = Option<Tlp>)]
    pub tlp: Option<String>,
    /// Only active indicators (default); `false` includes expired, allow-listed
    /// and retired (withdrawn by every source) ones, with their status.
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub active_only: bool,
    /// Only indicators seen within this long (`30d`, `12h`).
    #[serde(default)]
    #[schema(pattern = "^[0-9]{1,12}[dhms]?$")]
    pub since: Option<String>,
}

fn yes() -> bool {
    true
}

/// A checked export definition.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExportSpec {
    /// Name.
    pub name: String,
    /// Format.
    #[serde(serialize_with = "as_name")]
    pub format: Format,
    /// What it is for.
    pub description: Option<String>,
    /// Types; all when empty.
    pub types: Vec<IndicatorType>,
    /// Source filter.
    pub source: Option<String>,
    /// Label filter.
    pub tag: Option<String>,
    /// Minimum score.
    pub min_score: Option<u8>,
    /// Most restricted TLP.
    pub tlp: Option<Tlp>,
    /// Active only.
    pub active_only: bool,
    /// Seen within, in seconds.
    #[serde(serialize_with = "as_secs")]
    #[schema(value_type = Option<u64>)]
    pub since: Option<Duration>,
}

// serde's `serialize_with` passes a reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn as_name<S: serde::Serializer>(f: &Format, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(f.as_str())
}

#[allow(clippy::ref_option)]
fn as_secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs()),
        None => s.serialize_none(),
    }
}

impl ExportConfig {
    /// An export of every active indicator in `format`, as a table with only
    /// `name` and `format` would be read.
    pub fn new(name: impl Into<String>, format: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            format: format.into(),
            description: None,
            types: Vec::new(),
            source: None,
            tag: None,
            min_score: None,
            tlp: None,
            active_only: yes(),
            since: None,
        }
    }

    /// Checks every field; the error names the export and the field.
    pub fn validate(&self) -> Result<ExportSpec, String> {
        let at = |field: &str, e: &dyn std::fmt::Display| {
            format!("export {:?}: {field}: {e}", self.name)
        };
        let ok_name = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok_name {
            return Err(format!(
                "export {:?}: name: 1 to 64 letters, digits, '-', '_' or '.'",
                self.name
            ));
        }
        Ok(ExportSpec {
            name: self.name.clone(),
            format: self.format.parse().map_err(|e| at("format", &e))?,
            description: self.description.clone(),
            types: self
                .types
                .iter()
                .map(|t| t.parse::<IndicatorType>())
                .collect::<Result<_, _>>()
                .map_err(|e| at("types", &e))?,
            source: self.source.clone().filter(|s| !s.is_empty()),
            tag: self.tag.clone().filter(|s| !s.is_empty()),
            min_score: match self.min_score {
                Some(s) if s > 100 => return Err(at("min_score", &"at most 100")),
                s => s,
            },
            tlp: self
                .tlp
                .as_deref()
                .map(str::parse::<Tlp>)
                .transpose()
                .map_err(|e| at("tlp", &e))?,
            active_only: self.active_only,
            since: self
                .since
                .as_deref()
                .map(parse_age)
                .transpose()
                .map_err(|e| at("since", &e))?,
        })
    }
}

/// Parses an age such as `30d`, `12h`, `90m` or `3600s`.
pub fn parse_age(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not an age like 30d, 12h, 90m or 3600s"))?;
    let secs = match unit {
        "d" => n.saturating_mul(86_400),
        "h" => n.saturating_mul(3600),
        "m" => n.saturating_mul(60),
        "s" | "" => n,
        _ => return Err(format!("{s:?}: unit must be d, h, m or s")),
    };
    Ok(Duration::from_secs(secs))
}

/// How many exports render at once: each reads every matching row and
/// writes it to the spool, and a burst of requests must not load the store
/// and the disk many times over. Sending a spooled answer takes no slot.
pub const CONCURRENT_RENDERS: usize = 2;

/// Where the server spools exports before sending them: a one-file export
/// is rendered into an unnamed file (gone when its answer is sent or
/// dropped, even after a crash), a MISP feed into a directory of its own
/// (see [`FeedSpool`]). Memory stays flat whatever the export's size.
#[derive(Debug)]
pub struct Spool {
    /// The directory; `<data_dir>/spool` for `serve`.
    dir: std::path::PathBuf,
}

impl Spool {
    /// The spool in `dir`, created, and emptied of what a crashed run left
    /// there (feed directories).
    pub fn open(dir: std::path::PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                std::fs::remove_dir_all(entry.path())?;
            } else {
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(Self { dir })
    }

    /// A spool in the system's temporary directory, which is shared: left
    /// as found (for a server without a data directory, as in tests).
    pub fn temp() -> Self {
        Self {
            dir: std::env::temp_dir(),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// A new unnamed file, removed when it is closed.
    pub(crate) fn file(&self) -> Result<std::fs::File, StoreError> {
        std::fs::create_dir_all(&self.dir)
            .and_then(|()| tempfile::tempfile_in(&self.dir))
            .map_err(|e| StoreError::internal(format!("export spool: {e}")))
    }

    /// A new directory, removed with its files when dropped.
    fn feed_dir(&self) -> Result<tempfile::TempDir, StoreError> {
        std::fs::create_dir_all(&self.dir)
            .and_then(|()| {
                tempfile::Builder::new()
                    .prefix("rexist-feed-")
                    .tempdir_in(&self.dir)
            })
            .map_err(|e| StoreError::internal(format!("export spool: {e}")))
    }
}

/// What a streamed render wrote.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Strong validator over the exported data and the export's definition.
    pub etag: String,
    /// Indicators written.
    pub written: u64,
    /// Indicators the format cannot express, left out.
    pub skipped: u64,
}

/// Rows read and written at a time. Each page is held twice at its peak
/// (the database's rows, then the export's) and every thread that touches
/// one keeps a malloc arena of that size: 10,000 rows keep `serve` under
/// 200 MiB through a 3M-indicator export where 50,000 took 270 MiB; more,
/// smaller keyset pages cost little, each starting where the last ended.
const EXPORT_PAGE: u32 = 10_000;

/// The first page's query, the validator seeded with the definition, and
/// the writer's options of `spec` for a reader cleared up to `clearance`.
fn plan(spec: &ExportSpec, clearance: Tlp) -> (ExportQuery, Sha256, Options) {
    let max_tlp = spec.tlp.map_or(clearance, |t| t.min(clearance));
    let context = !matches!(
        spec.format,
        Format::Edl | Format::Panos | Format::Rpz | Format::Hosts
    );
    let query = ExportQuery {
        kinds: spec.types.clone(),
        source: spec.source.clone(),
        tag: spec.tag.clone(),
        min_score: spec.min_score,
        max_tlp: Some(max_tlp),
        active_only: spec.active_only,
        // An export feeds blocking: a retracted indicator is left out.
        with_retired: false,
        // An age reaching before 1970 covers everything (and subtracting
        // it could overflow the date).
        since: spec.since.map(|d| {
            time::Duration::try_from(d)
                .ok()
                .and_then(|d| rexist_core::model::now().checked_sub(d))
                .map_or(time::OffsetDateTime::UNIX_EPOCH, |t| {
                    t.max(time::OffsetDateTime::UNIX_EPOCH)
                })
        }),
        with_context: context,
        limit: EXPORT_PAGE,
        ..ExportQuery::default()
    };
    let mut digest = Sha256::new();
    digest.update(format!("{}\0{:?}\0{}\0", spec.format, spec, max_tlp.as_str()).as_bytes());
    let options = Options {
        name: spec.name.clone(),
        ..Options::default()
    };
    (query, digest, options)
}

/// What a render writes its pages into.
trait Sink: Send + 'static {
    fn write_rows(&mut self, rows: &[ExportRow]) -> std::io::Result<()>;
}

impl<W: Write + Send + 'static> Sink for Writer<W> {
    fn write_rows(&mut self, rows: &[ExportRow]) -> std::io::Result<()> {
        Writer::write_rows(self, rows)
    }
}

impl Sink for MispFeedWriter {
    fn write_rows(&mut self, rows: &[ExportRow]) -> std::io::Result<()> {
        MispFeedWriter::write_rows(self, rows)
    }
}

/// Runs `f` (formatting, compressing, writing files) on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::internal(format!("export {what}: {e}")))?
        .map_err(|e| StoreError::internal(format!("export {what}: {e}")))
}

/// Reads every matching row page by page, handing each page to `sink` on
/// the blocking pool after it is fingerprinted: only one page is ever held.
async fn each_page<S: Sink>(
    store: &dyn Store,
    mut query: ExportQuery,
    digest: &mut Sha256,
    what: &str,
    mut sink: S,
) -> Result<S, StoreError> {
    loop {
        let page = store.export_indicators(&query).await?;
        fingerprint(digest, &page);
        let next = match page.last() {
            Some(row) if page.len() == EXPORT_PAGE as usize => Some(ExportQuery::cursor(row)),
            _ => None,
        };
        sink = blocking(what, move || sink.write_rows(&page).map(|()| sink)).await?;
        match next {
            Some(after) => query.after = Some(after),
            None => return Ok(sink),
        }
    }
}

/// The installation's STIX ids (see `rexist_stix::write::StixIds`).
pub async fn stix_ids(store: &dyn Store) -> Result<rexist_stix::write::StixIds, StoreError> {
    Ok(rexist_stix::write::StixIds::new(
        store.stix_namespace().await?,
    ))
}

/// Streams a one-file export of `spec` into `out`, a page of rows at a
/// time, so memory stays flat whatever the store holds. A MISP feed is a
/// directory: see [`render_feed_dir`].
pub async fn render_to<W: Write + Send + 'static>(
    store: &dyn Store,
    spec: &ExportSpec,
    clearance: Tlp,
    out: W,
) -> Result<(W, Summary), StoreError> {
    let (query, mut digest, mut options) = plan(spec, clearance);
    if spec.format == Format::Stix {
        options.stix_ids = Some(stix_ids(store).await?);
    }
    let io = |e: std::io::Error| StoreError::internal(format!("export {}: {e}", spec.name));
    let writer = Writer::new(spec.format, out, &options).map_err(io)?;
    let writer = each_page(store, query, &mut digest, &spec.name, writer).await?;
    let (written, skipped) = (writer.written(), writer.skipped());
    let out = blocking(&spec.name, move || writer.finish()).await?;
    Ok((
        out,
        Summary {
            etag: etag(digest),
            written,
            skipped,
        },
    ))
}

/// Streams the MISP feed of `spec` into the existing directory `dir`
/// (`manifest.json`, `hashes.csv`, `<uuid>.json` per source), keeping no
/// row; also returns the names of the files written.
pub async fn render_feed_dir(
    store: &dyn Store,
    spec: &ExportSpec,
    clearance: Tlp,
    dir: &std::path::Path,
) -> Result<(Summary, Vec<String>), StoreError> {
    let (query, mut digest, options) = plan(spec, clearance);
    let feed = MispFeedWriter::new(dir, &options);
    let feed = each_page(store, query, &mut digest, &spec.name, feed).await?;
    let written = feed.written();
    let events = blocking(&spec.name, move || feed.finish()).await?;
    let mut files = vec!["manifest.json".to_owned(), "hashes.csv".to_owned()];
    files.extend(
        events
            .into_iter()
            .map(|(uuid, _, _)| format!("{uuid}.json")),
    );
    Ok((
        Summary {
            etag: etag(digest),
            written,
            skipped: 0,
        },
        files,
    ))
}

/// Feeds what an export shows of each row into the validator.
pub(crate) fn fingerprint(digest: &mut Sha256, rows: &[ExportRow]) {
    for r in rows {
        let rec = &r.record;
        digest.update(rec.id.get().to_le_bytes());
        digest.update(rec.last_seen.unix_timestamp().to_le_bytes());
        digest.update([rec.score, rec.tlp.rank().to_le_bytes()[0]]);
        digest.update(rec.status.as_str().as_bytes());
        for s in r.sources.iter().chain(&r.labels) {
            digest.update(s.as_bytes());
            digest.update([0]);
        }
    }
}

/// A weak validator: the same data gives the same tag, though the bytes
/// differ in their generation time (comments, the RPZ serial, the bundle id).
pub(crate) fn etag(digest: Sha256) -> String {
    format!("W/\"{}\"", &hex::encode(digest.finalize())[..32])
}

/// How much of a spooled file is read and sent at a time.
const CHUNK: usize = 128 * 1024;

/// Answers with the spooled `file` (read from its start), honouring
/// `If-None-Match` and `Accept-Encoding: gzip` (compressed as it is sent).
pub(crate) async fn respond(
    headers: &HeaderMap,
    etag: &str,
    content_type: &str,
    mut file: tokio::fs::File,
    name: &str,
) -> Result<Response, StoreError> {
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let weak = |t: &str| t.trim().trim_start_matches("W/").to_owned();
            v.split(',')
                .any(|t| t.trim() == "*" || weak(t) == weak(etag))
        });
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let gzip = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
        let io = |e: std::io::Error| StoreError::internal(format!("export spool: {e}"));
        file.seek(std::io::SeekFrom::Start(0)).await.map_err(io)?;
        let mut r = if gzip {
            let gz = GzipEncoder::with_quality(
                tokio::io::BufReader::with_capacity(CHUNK, file),
                async_compression::Level::Fastest,
            );
            let mut r = Body::from_stream(ReaderStream::with_capacity(gz, CHUNK)).into_response();
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            r
        } else {
            let len = file.metadata().await.map_err(io)?.len();
            let mut r = Body::from_stream(ReaderStream::with_capacity(file, CHUNK)).into_response();
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            r
        };
        if let Ok(v) = HeaderValue::from_str(content_type) {
            r.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{name}\"")) {
            r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
        r
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept-Encoding, Authorization"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    Ok(response)
}

/// Waits for one of the server's [`CONCURRENT_RENDERS`] slots.
pub(crate) async fn slot(state: &AppState) -> Result<tokio::sync::SemaphorePermit<'_>, StoreError> {
    state
        .renders
        .acquire()
        .await
        .map_err(|_| StoreError::internal("export slots closed"))
}

/// Renders a one-file export into a spool file, once a render slot is free.
async fn spool_one(
    state: &AppState,
    spec: &ExportSpec,
    clearance: Tlp,
) -> Result<(tokio::fs::File, Summary), StoreError> {
    let _slot = slot(state).await?;
    let file = state.spool.file()?;
    let (file, summary) = render_to(state.store.as_ref(), spec, clearance, file).await?;
    Ok((tokio::fs::File::from_std(file), summary))
}

/// A saved export, configured or stored.
async fn saved(state: &AppState, name: &str) -> Result<ExportSpec, ApiError> {
    crate::stored_exports::find(state, name)
        .await?
        .map(|f| f.spec)
        .ok_or_else(|| ApiError::not_found(format!("no export named {name:?}")))
}

/// `GET /export/{name}`: a saved export.
pub async fn download(
    State(state): State<AppState>,
    principal: Principal,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let spec = saved(&state, &name).await?;
    if spec.format == Format::Misp {
        return Err(ApiError::not_found(format!(
            "export {name:?} is a MISP feed: its files are /export/{name}/manifest.json, \
             /export/{name}/hashes.csv and /export/{name}/<uuid>.json"
        )));
    }
    answer(&state, &spec, principal.clearance, &headers, &name).await
}

/// Renders a one-file export and answers with it as `stem.<extension>`.
async fn answer(
    state: &AppState,
    spec: &ExportSpec,
    clearance: Tlp,
    headers: &HeaderMap,
    stem: &str,
) -> Result<Response, ApiError> {
    let (file, summary) = spool_one(state, spec, clearance).await?;
    let name = format!("{stem}.{}", spec.format.file_extension());
    Ok(respond(
        headers,
        &summary.etag,
        spec.format.content_type(),
        file,
        &name,
    )
    .await?)
}

/// How long a rendered MISP feed is reused: a client syncing a feed asks for
/// the manifest and then each event file, which must not each render it all.
const FEED_REUSE: std::time::Duration = std::time::Duration::from_secs(60);

/// A MISP feed rendered into a spool directory of its own.
#[derive(Debug)]
pub struct FeedSpool {
    /// The directory, removed when the last holder lets go: the cache once
    /// a newer render replaced it, and each answer once it opened its file.
    dir: tempfile::TempDir,
    /// The files the feed wrote: the only names served from `dir`.
    files: std::collections::BTreeSet<String>,
    /// Its validator and counts.
    summary: Summary,
}

/// Spooled MISP feeds by (export, clearance), with when they were rendered.
pub type FeedCache = std::sync::Mutex<Feeds>;

/// What [`FeedCache`] guards.
pub type Feeds =
    std::collections::HashMap<(String, Tlp), (std::time::Instant, std::sync::Arc<FeedSpool>)>;

fn feeds(state: &AppState) -> std::sync::MutexGuard<'_, Feeds> {
    state
        .feeds
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn cached(state: &AppState, key: &(String, Tlp)) -> Option<std::sync::Arc<FeedSpool>> {
    feeds(state)
        .get(key)
        .filter(|(at, _)| at.elapsed() < FEED_REUSE)
        .map(|(_, feed)| std::sync::Arc::clone(feed))
}

/// The spooled MISP feed of `spec` for `clearance`: the one rendered in
/// the last [`FEED_REUSE`], or a new one replacing it.
async fn feed_spool(
    state: &AppState,
    spec: &ExportSpec,
    clearance: Tlp,
) -> Result<std::sync::Arc<FeedSpool>, StoreError> {
    let key = (spec.name.clone(), clearance);
    if let Some(feed) = cached(state, &key) {
        return Ok(feed);
    }
    let _slot = slot(state).await?;
    // Requests that waited for the slot find the feed the first rendered.
    if let Some(feed) = cached(state, &key) {
        return Ok(feed);
    }
    let dir = state.spool.feed_dir()?;
    let (summary, files) =
        render_feed_dir(state.store.as_ref(), spec, clearance, dir.path()).await?;
    let feed = std::sync::Arc::new(FeedSpool {
        dir,
        files: files.into_iter().collect(),
        summary,
    });
    let old = feeds(state).insert(
        key,
        (std::time::Instant::now(), std::sync::Arc::clone(&feed)),
    );
    // The replaced feed's directory goes here, outside the lock, unless an
    // answer still holds it.
    drop(old);
    Ok(feed)
}

/// Drops every spooled MISP feed of the export `name`: its definition
/// changed or went.
pub fn forget_name(state: &AppState, name: &str) {
    let old: Vec<_> = {
        let mut cache = feeds(state);
        let keys: Vec<_> = cache.keys().filter(|k| k.0 == name).cloned().collect();
        keys.iter().filter_map(|k| cache.remove(k)).collect()
    };
    // Directories go here, outside the lock.
    drop(old);
}

/// Drops `feed` from the cache (if it is still there), so the next request
/// renders anew.
fn forget(state: &AppState, key: &(String, Tlp), feed: &std::sync::Arc<FeedSpool>) {
    let mut cache = feeds(state);
    if cache
        .get(key)
        .is_some_and(|(_, f)| std::sync::Arc::ptr_eq(f, feed))
    {
        let old = cache.remove(key);
        drop(cache);
        drop(old);
    }
}

/// `GET /export/{name}/{file}`: a file of a saved MISP feed.
pub async fn feed_file(
    State(state): State<AppState>,
    principal: Principal,
    Path((name, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let spec = saved(&state, &name).await?;
    if spec.format != Format::Misp {
        return Err(ApiError::not_found(format!(
            "export {name:?} is one file: /export/{name}"
        )));
    }
    let key = (spec.name.clone(), principal.clearance);
    let mut rendered_again = false;
    let (feed, opened) = loop {
        let feed = feed_spool(&state, &spec, principal.clearance).await?;
        // Only a name the feed wrote, never a path made of the request.
        let Some(known) = feed.files.get(file.as_str()) else {
            return Err(ApiError::not_found(format!(
                "export {name:?} has no file {file:?}"
            )));
        };
        match tokio::fs::File::open(feed.dir.path().join(known)).await {
            Ok(opened) => break (feed, opened),
            // The spool was cleaned under the cached feed: render it again.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !rendered_again => {
                tracing::warn!(export = %name, "spooled MISP feed gone; rendering it again");
                forget(&state, &key, &feed);
                rendered_again = true;
            }
            Err(e) => return Err(StoreError::internal(format!("export spool: {e}")).into()),
        }
    };
    // The feed's own file names, lower-case.
    #[allow(clippy::case_sensitive_file_extension_comparisons)]
    let content_type = if file.ends_with(".csv") {
        "text/csv; charset=utf-8"
    } else {
        "application/json"
    };
    // Each file is validated by the feed's data as a whole.
    let tag = format!(
        "W/\"{}-{}\"",
        feed.summary.etag.trim_start_matches("W/").trim_matches('"'),
        short(&file)
    );
    // The open file keeps its data should the directory go meanwhile.
    drop(feed);
    Ok(respond(&headers, &tag, content_type, opened, &file).await?)
}

fn short(s: &str) -> String {
    hex::encode(&Sha256::digest(s.as_bytes())[..4])
}

/// The first bytes of an export, for the UI's preview.
#[derive(Debug)]
pub struct Preview {
    /// Up to [`PREVIEW_BYTES`] of the export (of a MISP feed: its manifest).
    pub head: Vec<u8>,
    /// Whether the export goes on past `head`.
    pub cut: bool,
    /// Indicators written.
    pub written: u64,
}

/// How much of an export a preview keeps.
pub const PREVIEW_BYTES: usize = 64 * 1024;

/// Keeps the first [`PREVIEW_BYTES`] written, dropping the rest.
#[derive(Default)]
struct Head {
    kept: Vec<u8>,
    cut: bool,
}

impl Write for Head {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = PREVIEW_BYTES.saturating_sub(self.kept.len());
        let take = room.min(buf.len());
        self.kept
            .extend_from_slice(buf.get(..take).unwrap_or_default());
        self.cut |= take < buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The head of `spec` as rendered for a reader cleared up to `clearance`
/// (a MISP feed is spooled and reused as when it is downloaded).
pub async fn preview(
    state: &AppState,
    spec: &ExportSpec,
    clearance: Tlp,
) -> Result<Preview, StoreError> {
    if spec.format == Format::Misp {
        let feed = feed_spool(state, spec, clearance).await?;
        let path = feed.dir.path().join("manifest.json");
        let mut head = Vec::new();
        let io = |e: std::io::Error| StoreError::internal(format!("export spool: {e}"));
        let file = tokio::fs::File::open(path).await.map_err(io)?;
        let cap = u64::try_from(PREVIEW_BYTES).unwrap_or(u64::MAX);
        file.take(cap + 1)
            .read_to_end(&mut head)
            .await
            .map_err(io)?;
        let cut = head.len() > PREVIEW_BYTES;
        head.truncate(PREVIEW_BYTES);
        return Ok(Preview {
            head,
            cut,
            written: feed.summary.written,
        });
    }
    let _slot = slot(state).await?;
    let (head, summary) = render_to(state.store.as_ref(), spec, clearance, Head::default()).await?;
    Ok(Preview {
        head: head.kept,
        cut: head.cut,
        written: summary.written,
    })
}

/// The first `rows` indicators of `spec` exactly as its URL would serve
/// them to a reader cleared up to `clearance`: the header, those rows and
/// the footer (of a MISP feed: the manifest of a feed of those rows). For
/// a definition not saved yet, so it reads one page and no more.
pub async fn preview_rows(
    state: &AppState,
    spec: &ExportSpec,
    clearance: Tlp,
    rows: u32,
) -> Result<Preview, StoreError> {
    let (mut query, _, mut options) = plan(spec, clearance);
    query.limit = rows;
    let page = state.store.export_indicators(&query).await?;
    let io = |e: std::io::Error| StoreError::internal(format!("export preview: {e}"));
    if spec.format == Format::Misp {
        let dir = state.spool.feed_dir()?;
        let path = dir.path().to_owned();
        let written = blocking(&spec.name, move || {
            let mut feed = MispFeedWriter::new(&path, &options);
            feed.write_rows(&page)?;
            let written = feed.written();
            feed.finish()?;
            Ok(written)
        })
        .await?;
        let mut head = tokio::fs::read(dir.path().join("manifest.json"))
            .await
            .map_err(io)?;
        let cut = head.len() > PREVIEW_BYTES;
        head.truncate(PREVIEW_BYTES);
        return Ok(Preview { head, cut, written });
    }
    if spec.format == Format::Stix {
        options.stix_ids = Some(stix_ids(state.store.as_ref()).await?);
    }
    let format = spec.format;
    blocking(&spec.name, move || {
        let mut writer = Writer::new(format, Head::default(), &options)?;
        writer.write_rows(&page)?;
        let written = writer.written();
        let head = writer.finish()?;
        Ok(Preview {
            head: head.kept,
            cut: head.cut,
            written,
        })
    })
    .await
}

/// A saved export as listed by the API.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportItem {
    /// The definition.
    #[serde(flatten)]
    pub spec: ExportSpec,
    /// Where to fetch it (relative to the server).
    pub url: String,
    /// Where it is defined: `config` (an `[[export]]` table) or `stored`
    /// (through the API or the UI).
    pub origin: &'static str,
    /// Stored exports: who defined it.
    pub created_by: Option<String>,
    /// Stored exports: when.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub created_at: Option<time::OffsetDateTime>,
    /// Stored exports: who changed it last.
    pub updated_by: Option<String>,
    /// Stored exports: when.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub updated_at: Option<time::OffsetDateTime>,
    /// A stored export a configured one of its name hides (not served).
    pub shadowed: bool,
}

impl ExportItem {
    /// The listing of `found`.
    pub fn of(found: &crate::stored_exports::Found, shadowed: bool) -> Self {
        let spec = found.spec.clone();
        let name = crate::url_encode(&spec.name);
        let url = if spec.format == Format::Misp {
            format!("/export/{name}/manifest.json")
        } else {
            format!("/export/{name}")
        };
        let stored = match &found.origin {
            crate::stored_exports::Origin::Config => None,
            crate::stored_exports::Origin::Stored(s) => Some(s),
        };
        Self {
            spec,
            url,
            origin: if stored.is_some() { "stored" } else { "config" },
            created_by: stored.map(|s| s.created_by.clone()),
            created_at: stored.map(|s| s.created_at),
            updated_by: stored.map(|s| s.updated_by.clone()),
            updated_at: stored.map(|s| s.updated_at),
            shadowed,
        }
    }
}

/// Answer of `GET /api/v1/exports`.
#[derive(Serialize, ToSchema)]
struct ExportList {
    /// The saved exports.
    items: Vec<ExportItem>,
}

/// `GET /api/v1/exports`: the saved exports and their URLs.
#[utoipa::path(
    get,
    path = "/api/v1/exports",
    tag = "exports",
    summary = "The saved exports and their URLs",
    responses((status = 200, description = "Every `[[export]]` of the configuration, then the exports stored through the API and the UI, by name, each with where it is defined.", body = ExportList))
)]
pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let items = crate::stored_exports::all(&state)
        .await?
        .iter()
        .map(|(found, shadowed)| ExportItem::of(found, *shadowed))
        .collect();
    Ok(axum::Json(ExportList { items }).into_response())
}

/// Query of `GET /api/v1/exports/{format}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AdHoc {
    /// Comma-separated indicator types.
    #[serde(rename = "type")]
    #[param(
        pattern = "^(ipv4|ipv6|cidr|domain|url|email|md5|sha1|sha256|sha512|cve|asn|btc)?(,(ipv4|ipv6|cidr|domain|url|email|md5|sha1|sha256|sha512|cve|asn|btc))*$"
    )]
    pub kind: Option<String>,
    /// Source name.
    pub source: Option<String>,
    /// Label.
    pub tag: Option<String>,
    /// Minimum score (0–100).
    #[param(maximum = 100)]
    pub min_score: Option<u8>,
    /// Most restricted TLP.
    #[param(value_type = Option<rexist_core::Tlp>)]
    pub tlp: Option<String>,
    /// `false` to include expired and allow-listed indicators.
    pub active: Option<bool>,
    /// Seen within (`30d`, `12h`, `90m`, `3600s`).
    #[param(pattern = "^[0-9]{1,12}[dhms]?$")]
    pub since: Option<String>,
}

/// `GET /api/v1/exports/{format}`: an ad-hoc export with filters.
#[utoipa::path(
    get,
    path = "/api/v1/exports/{name}",
    tag = "exports",
    summary = "An ad-hoc export with filters",
    description = "The indicators up to the caller's clearance in one of the export formats (`misp` is a directory of files: define it as an `[[export]]`). Answers carry an `ETag`; `If-None-Match` gives 304 while nothing changed; `Accept-Encoding: gzip` compresses.",
    params(
        ("name" = Format, Path, description = "The format (the path is shared with the stored exports' writes, which take an export's name)."),
        AdHoc,
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of a previous answer."),
    ),
    responses(
        (status = 200, description = "The export.", headers(
            ("ETag" = String, description = "Validator over the exported data."),
        ), content(
            (Object = "application/stix+json;version=2.1"),
            (String = "text/csv; charset=utf-8"),
            (String = "application/x-ndjson"),
            (String = "text/dns"),
            (String = "text/plain; charset=utf-8"),
        )),
        (status = 304, description = "Unchanged since the `ETag` sent in `If-None-Match`."),
        (status = 400, description = "A parameter is invalid, or the format is `misp` or unknown.", body = ErrorBody),
    )
)]
pub async fn adhoc(
    State(state): State<AppState>,
    principal: Principal,
    Path(format): Path<String>,
    params: Result<Query<AdHoc>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let p = crate::error::query(params)?;
    let config = ExportConfig {
        name: "adhoc".to_owned(),
        format: format.clone(),
        description: None,
        types: p
            .kind
            .as_deref()
            .map(|t| {
                t.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        source: p.source,
        tag: p.tag,
        min_score: p.min_score,
        tlp: p.tlp,
        active_only: p.active.unwrap_or(true),
        since: p.since,
    };
    let spec = config
        .validate()
        .map_err(|e| ApiError::invalid(e.replace("export \"adhoc\": ", "parameter ")))?;
    if spec.format == Format::Misp {
        return Err(ApiError::invalid(
            "format misp is a directory of files: define it as an [[export]] and fetch /export/NAME/manifest.json",
        ));
    }
    answer(&state, &spec, principal.clearance, &headers, "rexist").await
}
