//! rexist's HTTP server: a minimal HTML home page, `/healthz`, `/metrics`
//! (Prometheus text) and the JSON REST API under `/api/v1`.
//!
//! Handlers only translate HTTP to store calls and back; errors become the
//! one JSON error body in [`error`]. Start with [`router`].

pub mod admin;
pub mod api;
pub mod auth;
pub mod curation;
pub mod entities;
pub mod error;
pub mod exist;
pub mod export;
pub mod first_admin;
pub mod graph;
pub mod hunts;
pub mod lookup;
mod metrics;
pub mod openapi;
pub mod search;
pub mod stored_exports;
pub mod taxii;
pub mod ui;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use rexist_store::Store;

pub use metrics::RequestCounters;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The store, for reads and bookkeeping.
    pub store: Arc<dyn Store>,
    /// The one way writes enter the store (warning lists and hunts on the way).
    pub ingest: Arc<rexist_pipeline::Ingest>,
    /// Counts of answered requests, for `/metrics`.
    pub requests: Arc<RequestCounters>,
    /// Each configured source's schedule, for staleness in the API and `/metrics`.
    pub schedules: Arc<std::collections::BTreeMap<String, std::time::Duration>>,
    /// Names of the configured alert channels.
    pub channels: Arc<Vec<String>>,
    /// Lookups, with the configured warning lists, providers and lifetimes.
    pub lookup: Arc<rexist_lookup::Lookup>,
    /// The TAXII 2.1 server's configuration.
    pub taxii: Arc<taxii::TaxiiConfig>,
    /// Authentication: who may do what.
    pub auth: Arc<auth::Auth>,
    /// Saved exports (`[[export]]`).
    pub exports: Arc<Vec<export::ExportSpec>>,
    /// Slots for exports rendering at once (`export::CONCURRENT_RENDERS`).
    pub renders: Arc<tokio::sync::Semaphore>,
    /// MISP feeds spooled in the last minute (see `export::feed_file`).
    pub feeds: Arc<export::FeedCache>,
    /// Where exports are rendered before they are sent.
    pub spool: Arc<export::Spool>,
    /// The dashboard's store-wide counts, recounted at most once a minute.
    pub dashboard: Arc<ui::pages::DashCache>,
    /// The configured alert channels, for test messages from the UI.
    pub notifiers: Arc<Vec<rexist_notify::Channel>>,
    /// The UI's address, for links in test messages (`[alerts] base_url`).
    pub base_url: Option<String>,
    /// The data directory, where the first admin's password file may lie
    /// (deleted when that password changes; see [`first_admin`]).
    pub data_dir: Option<Arc<std::path::PathBuf>>,
    /// `[server] public_url`, checked, without a trailing slash: the origin
    /// of every absolute URL the server writes (see [`origin`]).
    pub public_url: Option<Arc<str>>,
    /// The address the server listens on, the origin when no public URL is
    /// set and the client's `Host` is not one to trust.
    pub listen: Option<std::net::SocketAddr>,
}

impl AppState {
    /// State over `store` with fresh counters; writes are hunted, with no
    /// warning lists (see [`AppState::with_ingest`]).
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            ingest: rexist_pipeline::Ingest::new(Arc::clone(&store), None),
            requests: Arc::new(RequestCounters::default()),
            schedules: Arc::default(),
            channels: Arc::default(),
            lookup: Arc::new(rexist_lookup::Lookup::new(
                Arc::clone(&store),
                None,
                None,
                rexist_lookup::Lifetimes::default(),
            )),
            taxii: Arc::default(),
            auth: Arc::default(),
            exports: Arc::default(),
            feeds: Arc::default(),
            spool: Arc::new(export::Spool::temp()),
            renders: Arc::new(tokio::sync::Semaphore::new(export::CONCURRENT_RENDERS)),
            dashboard: Arc::default(),
            notifiers: Arc::default(),
            base_url: None,
            data_dir: None,
            public_url: None,
            listen: None,
            store,
        }
    }

    /// The same state, writing absolute URLs with `public_url` (checked by
    /// [`check_public_url`]) or, without one, from `listen`.
    pub fn with_origin(
        mut self,
        public_url: Option<&str>,
        listen: Option<std::net::SocketAddr>,
    ) -> Result<Self, String> {
        self.public_url = public_url.map(check_public_url).transpose()?.map(Arc::from);
        self.listen = listen;
        Ok(self)
    }

    /// The same state, able to send test messages through `channels`.
    #[must_use]
    pub fn with_notifiers(
        mut self,
        channels: Vec<rexist_notify::Channel>,
        base_url: Option<String>,
    ) -> Self {
        self.notifiers = Arc::new(channels);
        self.base_url = base_url;
        self
    }

    /// The same state, deleting the first admin's password file in `dir`
    /// when that password changes.
    #[must_use]
    pub fn with_data_dir(mut self, dir: std::path::PathBuf) -> Self {
        self.data_dir = Some(Arc::new(dir));
        self
    }

    /// The same state, writing through `ingest` (the server's, with the
    /// configured warning lists), which must be over the same store.
    #[must_use]
    pub fn with_ingest(mut self, ingest: Arc<rexist_pipeline::Ingest>) -> Self {
        self.ingest = ingest;
        self
    }

    /// The same state, spooling exports in `spool` (`<data_dir>/spool`).
    #[must_use]
    pub fn with_spool(mut self, spool: export::Spool) -> Self {
        self.spool = Arc::new(spool);
        self
    }

    /// The same state, serving these saved exports.
    #[must_use]
    pub fn with_exports(mut self, exports: Vec<export::ExportSpec>) -> Self {
        self.exports = Arc::new(exports);
        self
    }

    /// The same state, authenticating with `config`.
    #[must_use]
    pub fn with_auth(mut self, config: auth::AuthConfig) -> Self {
        self.auth = Arc::new(auth::Auth::new(config));
        self
    }

    /// The same state, letting requests without credentials act with `role`
    /// (what `[auth] anonymous` opts into; tests use it too).
    #[must_use]
    pub fn with_anonymous(mut self, role: rexist_core::Role) -> Self {
        let mut config = self.auth.config.clone();
        config.anonymous = Some(role);
        self.auth = Arc::new(auth::Auth::new(config));
        self
    }

    /// The same state, serving TAXII 2.1 as `config` says.
    #[must_use]
    pub fn with_taxii(mut self, config: taxii::TaxiiConfig) -> Self {
        self.taxii = Arc::new(config);
        self
    }

    /// The same state, answering lookups with `lookup`.
    #[must_use]
    pub fn with_lookup(mut self, lookup: rexist_lookup::Lookup) -> Self {
        self.lookup = Arc::new(lookup);
        self
    }

    /// The same state, knowing the configured alert channels.
    #[must_use]
    pub fn with_channels(mut self, channels: Vec<String>) -> Self {
        self.channels = Arc::new(channels);
        self
    }

    /// The same state, knowing each source's schedule.
    #[must_use]
    pub fn with_schedules(
        mut self,
        schedules: std::collections::BTreeMap<String, std::time::Duration>,
    ) -> Self {
        self.schedules = Arc::new(schedules);
        self
    }
}

/// The application's routes.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/indicators",
            get(api::indicators).post(curation::add_indicator),
        )
        .route("/indicators/facets", get(search::indicator_facets))
        .route("/indicators/bulk", post(search::bulk))
        .route("/items/facets", get(search::item_facets))
        .route("/searches", get(search::searches).post(search::save_search))
        .route(
            "/searches/{name}",
            axum::routing::delete(search::delete_search),
        )
        // The value may hold `/`: writes name their action at the end.
        .route(
            "/indicators/{type}/{*value}",
            get(api::indicator)
                .post(curation::post_action)
                .delete(curation::delete_action)
                .fallback(curation::other_method),
        )
        .route("/items", get(api::items).post(curation::add_item))
        .route("/items/{id}", get(api::item))
        .route("/graph", get(graph::graph))
        .route("/items/{id}/notes", post(curation::add_item_note))
        .route("/notes/{id}", axum::routing::delete(curation::delete_note))
        .route("/sources", get(api::sources))
        .route("/sources/{name}", get(api::source))
        .route("/sources/{name}/runs", get(api::source_runs))
        .route("/sources/{name}/run", post(api::run_source))
        .route("/sources/{name}/enable", post(api::enable_source))
        .route("/sources/{name}/disable", post(api::disable_source))
        .route("/runs", get(api::runs))
        .route("/hunts", get(hunts::list).post(hunts::create))
        .route("/hunts/test", post(hunts::test))
        .route(
            "/hunts/{name}",
            get(hunts::get).patch(hunts::update).delete(hunts::delete),
        )
        .route("/hunts/{name}/retro", post(hunts::retro))
        // 10,000 long URLs exceed axum's 2 MB default.
        .route(
            "/lookup",
            post(lookup::bulk).layer(axum::extract::DefaultBodyLimit::max(16 << 20)),
        )
        .route("/lookup/{*value}", get(lookup::one))
        .route("/hits", get(hunts::hits))
        .route("/hits/ack", post(hunts::ack))
        .route("/hits/triage", post(hunts::triage))
        .route("/hits/{id}/triage", get(hunts::triage_history))
        .route("/alerts", get(hunts::alerts))
        .route("/channels", get(hunts::channels))
        .route("/login", post(admin::login))
        .route("/logout", post(admin::logout))
        .route("/me", get(admin::me))
        .route("/users", get(admin::users).post(admin::create_user))
        .route("/users/{name}", axum::routing::patch(admin::update_user))
        .route("/tokens", get(admin::tokens).post(admin::create_token))
        .route("/tokens/{name}", axum::routing::delete(admin::revoke_token))
        .route("/audit", get(admin::audit_log))
        .route(
            "/exports",
            get(export::list).post(stored_exports::create_api),
        )
        .route(
            "/exports/{name}",
            get(export::adhoc)
                .put(stored_exports::replace_api)
                .patch(stored_exports::patch_api)
                .delete(stored_exports::delete_api),
        )
        .fallback(api::not_found);
    let routes = Router::new()
        .route("/healthz", get(metrics::healthz))
        .route("/metrics", get(metrics::metrics))
        .merge(ui::routes())
        .nest("/api/v1", api)
        .route("/export/{name}", get(export::download))
        .route("/export/{name}/{file}", get(export::feed_file))
        .route("/api/openapi.json", get(openapi::json))
        .route("/api/docs", get(openapi::docs))
        .route(openapi::RAPIDOC_PATH, get(openapi::rapidoc))
        .nest("/api", exist::routes())
        .nest("/taxii2", taxii::routes())
        .route("/taxii2/", taxii::discovery_route())
        .fallback(fallback);
    layered(routes, state)
}

/// The routes of a `serve --role worker` node: `/healthz` for the load
/// balancer or container and `/metrics` for Prometheus; everything else
/// is a JSON 404 that names the role, since the UI, API, TAXII and exports
/// are the web nodes' work.
pub fn worker_router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/healthz", get(metrics::healthz))
        .route("/metrics", get(metrics::metrics))
        .fallback(worker_elsewhere);
    layered(routes, state)
}

/// Paths no route takes: the UI's 404 page for the UI's paths; elsewhere a
/// bare 404, which [`error::one_error_shape`] puts in the API's or TAXII's
/// JSON.
async fn fallback(
    uri: axum::http::Uri,
    ui: Result<ui::Ui, axum::response::Response>,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    match ui {
        Ok(ui) if auth::is_ui_page(uri.path()) => ui::not_found(&ui),
        _ => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

async fn worker_elsewhere() -> error::ApiError {
    error::ApiError::not_found(
        "this rexist node runs with --role worker: the UI, API, TAXII and exports are on the web nodes",
    )
}

/// Authentication, the one error shape and request counting around `routes`.
fn layered(routes: Router<AppState>, state: AppState) -> Router {
    routes
        // After every route, so it covers them all; `required_role` says
        // which need no credentials.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        // Around authentication: its refusals of a browser's pages become pages.
        .layer(axum::middleware::from_fn(ui::role_refusals))
        // Outside authentication, so its refusals pass through too (they
        // are already JSON and left alone).
        .layer(axum::middleware::from_fn(error::one_error_shape))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::count_requests,
        ))
        .with_state(state)
}

/// Checks a `[server] public_url` and returns it without a trailing slash:
/// `http` or `https`, a host, an optional port and path prefix; no user
/// name, password, query or fragment.
pub fn check_public_url(url: &str) -> Result<String, String> {
    let trimmed = url.trim().trim_end_matches('/');
    // Before any message quotes the URL: a password must not be echoed.
    if trimmed.contains('@') {
        return Err("no user name or password in a public URL".to_owned());
    }
    let Some((scheme, rest)) = trimmed.split_once("://") else {
        return Err(format!(
            "{url:?} is not an absolute URL (such as https://cti.example.org)"
        ));
    };
    if !matches!(scheme, "http" | "https") {
        return Err(format!("{url:?}: the scheme must be http or https"));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    if rest.contains(['?', '#']) {
        return Err(format!("{url:?}: no query or fragment in a public URL"));
    }
    if !plausible_host(authority) || rest.chars().any(|c| c.is_whitespace() || c == '"') {
        return Err(format!("{url:?}: the host has characters no host name has"));
    }
    Ok(trimmed.to_owned())
}

/// Whether `host` (with an optional port) holds only characters host names,
/// IP literals and ports have.
fn plausible_host(host: &str) -> bool {
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

/// Splits `host[:port]` (`[v6]:port` too) into the host and the port.
fn split_port(authority: &str) -> (&str, Option<u16>) {
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && (!host.contains(':') || host.ends_with(']')) => {
            (host, port.parse().ok())
        }
        _ => (authority, None),
    }
}

/// Whether a `Host` a client sent names this server by a name that cannot
/// point anywhere else: a loopback name, or the address it listens on.
/// Anything else could come from an attacker (DNS rebinding, a hostile
/// proxy, cache poisoning) and must not end up in links others follow.
fn trusted_host(authority: &str, listen: Option<std::net::SocketAddr>) -> bool {
    let (host, port) = split_port(authority);
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let Some(listen) = listen else {
        // Not serving on a socket of its own (tests, embedding): loopback only.
        return loopback;
    };
    let port_ok = port.unwrap_or(80) == listen.port();
    let is_listen_ip = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip == listen.ip() && !ip.is_unspecified());
    port_ok && (loopback || is_listen_ip)
}

/// The server's own origin for absolute URLs (`http://host:port`, or the
/// public URL with its path prefix): `[server] public_url` when set.
/// Otherwise the `Host` the client sent, only when it is a loopback name or
/// the listen address (`https` when the first `X-Forwarded-Proto` says so),
/// and else the listen address itself (`localhost` for an unspecified one):
/// a hostile `Host` header is never echoed back.
pub(crate) fn origin(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    uri: &axum::http::Uri,
) -> String {
    if let Some(public) = &state.public_url {
        return public.to_string();
    }
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    let scheme = if https { "https" } else { "http" };
    let sent = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(ToString::to_string))
        .filter(|h| plausible_host(h) && trusted_host(h, state.listen));
    if let Some(host) = sent {
        return format!("{scheme}://{host}");
    }
    match state.listen {
        Some(addr) if addr.ip().is_unspecified() => format!("http://localhost:{}", addr.port()),
        Some(addr) => format!("http://{addr}"),
        None => "http://localhost".to_owned(),
    }
}

/// Percent-encodes everything but unreserved characters and `/`: a value
/// as one or more path segments, or as a query value.
pub fn url_encode(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
