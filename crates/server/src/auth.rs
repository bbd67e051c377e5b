//! Who is asking, and may they: the authentication middleware and the
//! access policy.
//!
//! Credentials, in the order they are tried: `Authorization: Bearer TOKEN`;
//! `Authorization: Basic` with a user's name and password, or any name and a
//! token as the password (what firewalls and TAXII clients can send); the UI's
//! session cookie (with an `X-CSRF-Token` header on every write); and, for
//! export files under `/export/` only, `?token=TOKEN` in the URL.
//!
//! `/metrics` counts everything stored, whatever its TLP: it is read by
//! admins and by tokens with the `metrics` scope (a Prometheus scraper's),
//! nobody else. Tokens and sessions are stored as
//! SHA-256 digests only, passwords as argon2id hashes.
//!
//! The policy ([`required_role`]) is one function over method and path, so
//! every route is covered and tested in one place. Writes and logins go to
//! the audit log.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use rexist_core::{ApiToken, NewAudit, Role, Scope, Tlp};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;

/// Name of the UI session cookie.
pub const SESSION_COOKIE: &str = "rexist_session";
/// Header carrying a session's CSRF token on writes.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Prefix of every API token, so a leaked one is recognisable in code scanners.
pub const TOKEN_PREFIX: &str = "rexist_";
/// How long a UI session lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// A user name, `token:NAME`, or `anonymous`.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The most restricted TLP it may read.
    pub clearance: Tlp,
    /// Where a token may be used (empty: everywhere).
    pub scopes: Vec<Scope>,
    /// A UI session's CSRF token, which its pages send back on writes.
    pub csrf: Option<String>,
}

impl Principal {
    /// Whether the caller may read data marked `tlp`.
    pub fn may_read(&self, tlp: Tlp) -> bool {
        tlp <= self.clearance
    }

    /// Refuses with 403 unless the caller has at least `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs the {role} role; {} has {}",
                self.name, self.role
            )))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(ApiError::unauthenticated)
    }
}

/// Who may do what: the `[auth]` table of the configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Role of requests without credentials; none (the default) means
    /// everything but `/healthz` needs credentials.
    pub anonymous: Option<Role>,
    /// The most restricted TLP each role reads, overriding the defaults
    /// (viewer `green`, analyst `amber+strict`, admin `red`).
    #[serde(default)]
    pub clearance: BTreeMap<Role, Tlp>,
    /// Send the session cookie over plain HTTP too (off: `Secure` is set,
    /// which browsers honour on `localhost` and over HTTPS).
    #[serde(default)]
    pub insecure_cookies: bool,
    /// Days the audit log keeps an entry (default 365; 0 keeps them forever).
    #[serde(default)]
    pub audit_days: Option<u32>,
}

impl AuthConfig {
    /// How long audit entries are kept; `None` keeps them forever.
    pub fn audit_retention(&self) -> Option<std::time::Duration> {
        match self.audit_days.unwrap_or(365) {
            0 => None,
            d => Some(std::time::Duration::from_secs(u64::from(d) * 86_400)),
        }
    }

    /// The clearance of a role under this configuration.
    pub fn clearance(&self, role: Role) -> Tlp {
        self.clearance
            .get(&role)
            .copied()
            .unwrap_or_else(|| role.default_clearance())
    }
}

/// Failed password checks allowed per user name or client address before
/// further attempts wait.
const FREE_FAILURES: u32 = 5;
/// How long a successful basic-auth check is trusted without argon2.
const CHECK_CACHE: Duration = Duration::from_secs(300);

/// Run-time authentication state shared by requests.
#[derive(Debug)]
pub struct Auth {
    /// The configuration.
    pub config: AuthConfig,
    /// When each token was last noted as used, to write that at most once a minute.
    touched: Mutex<HashMap<i64, Instant>>,
    /// Password hashing in flight: at most two at once.
    hashing: tokio::sync::Semaphore,
    /// Recent failures per `user:NAME` and `ip:ADDR`: count and last time.
    failures: Mutex<HashMap<String, (u32, Instant)>>,
    /// Recently verified (user, password) digests, with the stored hash they
    /// matched: a firewall polling with basic auth pays argon2 once, and a
    /// changed password (another hash) misses.
    verified: Mutex<HashMap<[u8; 32], (String, Instant)>>,
    /// Random key of the digests above, so they mean nothing outside this process.
    cache_salt: [u8; 32],
}

impl Default for Auth {
    fn default() -> Self {
        Self::new(AuthConfig::default())
    }
}

impl Auth {
    /// State for `config`.
    pub fn new(config: AuthConfig) -> Self {
        let mut cache_salt = [0u8; 32];
        random_bytes(&mut cache_salt);
        Self {
            config,
            touched: Mutex::default(),
            hashing: tokio::sync::Semaphore::new(2),
            failures: Mutex::default(),
            verified: Mutex::default(),
            cache_salt,
        }
    }

    fn cache_key(&self, user: &str, password: &str) -> [u8; 32] {
        let mut d = Sha256::new();
        d.update(self.cache_salt);
        d.update(user.as_bytes());
        d.update([0]);
        d.update(password.as_bytes());
        d.finalize().into()
    }

    fn cached(&self, key: &[u8; 32], stored_hash: &str) -> bool {
        let verified = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        verified
            .get(key)
            .is_some_and(|(h, at)| h == stored_hash && at.elapsed() < CHECK_CACHE)
    }

    /// How long the caller must wait before another password check, if at all.
    fn throttled(&self, user: &str, address: Option<&str>) -> Option<Duration> {
        let failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let keys = [
            Some(format!("user:{user}")),
            address.map(|a| format!("ip:{a}")),
        ];
        keys.iter()
            .flatten()
            .filter_map(|k| failures.get(k))
            .filter_map(|(n, last)| {
                let over = n.checked_sub(FREE_FAILURES)?;
                // 1 s, 2 s, 4 s … at most 15 minutes after the last failure.
                let wait = Duration::from_secs(1u64 << over.min(10)).min(Duration::from_secs(900));
                wait.checked_sub(last.elapsed())
            })
            .max()
    }

    fn failed(&self, user: &str, address: Option<&str>) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if failures.len() > 100_000 {
            failures.retain(|_, (_, at)| at.elapsed() < Duration::from_secs(900));
        }
        for key in [
            Some(format!("user:{user}")),
            address.map(|a| format!("ip:{a}")),
        ]
        .into_iter()
        .flatten()
        {
            let e = failures.entry(key).or_insert((0, Instant::now()));
            // Failures long ago are forgiven.
            if e.1.elapsed() > Duration::from_secs(900) {
                e.0 = 0;
            }
            e.0 = e.0.saturating_add(1);
            e.1 = Instant::now();
        }
    }

    fn succeeded(&self, user: &str, address: Option<&str>, key: [u8; 32], hash: String) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        failures.remove(&format!("user:{user}"));
        if let Some(a) = address {
            failures.remove(&format!("ip:{a}"));
        }
        drop(failures);
        let mut verified = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if verified.len() > 10_000 {
            verified.clear();
        }
        verified.insert(key, (hash, Instant::now()));
    }

    fn principal(&self, name: String, role: Role, scopes: Vec<Scope>) -> Principal {
        Principal {
            name,
            role,
            clearance: self.config.clearance(role),
            scopes,
            csrf: None,
        }
    }

    fn should_touch(&self, id: i64) -> bool {
        let mut touched = self
            .touched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        match touched.get(&id) {
            Some(t) if now.duration_since(*t) < Duration::from_secs(60) => false,
            _ => {
                if touched.len() > 10_000 {
                    touched.clear();
                }
                touched.insert(id, now);
                true
            }
        }
    }
}

/// Fills `buf` from the operating system's random source.
pub fn random_bytes(buf: &mut [u8]) {
    // Without the OS generator there is no safe secret to make: stop here
    // rather than hand out a predictable one.
    getrandom::fill(buf).expect("the operating system's random source is unavailable");
}

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("hashing the password failed: {e}"))
}

/// Whether `password` matches a stored argon2 hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A fresh random secret with `prefix` (32 random bytes, hex).
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    random_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// The stored form of a token or session secret: its SHA-256, hex.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The minimum role for a request, or `None` when it needs no credentials.
pub fn required_role(method: &Method, path: &str) -> Option<Role> {
    if path == "/healthz"
        || path == "/login"
        || path == "/api/v1/login"
        || path == "/favicon.ico"
        || path.starts_with("/static/")
    {
        return None;
    }
    let admin_area = ["/api/v1/users", "/api/v1/tokens", "/api/v1/audit"]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")));
    if admin_area {
        return Some(Role::Admin);
    }
    let source_admin = path.starts_with("/api/v1/sources/")
        && (path.ends_with("/enable") || path.ends_with("/disable"));
    if source_admin {
        return Some(Role::Admin);
    }
    // Defining exports, through the API or the UI (its form pages too).
    let export_write = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        && ["/api/v1/exports", "/exports"]
            .iter()
            .any(|p| path == *p || path.starts_with(&format!("{p}/")));
    if export_write
        || path == "/exports/new"
        || path.starts_with("/exports/") && path.ends_with("/edit")
    {
        return Some(Role::Admin);
    }
    // The form for a new hunt: a viewer could not save it.
    if path == "/hunts/new" {
        return Some(Role::Analyst);
    }
    let read = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    // Reads sent as POST because of their size or shape.
    let read_by_post = *method == Method::POST
        && matches!(
            path,
            "/api/v1/lookup"
                | "/api/v1/hunts/test"
                | "/api/v1/logout"
                | "/logout"
                | "/hunts/preview"
        );
    if read || read_by_post {
        Some(Role::Viewer)
    } else {
        Some(Role::Analyst)
    }
}

/// Which token scope a path belongs to. Export files live under
/// `/export/`; the UI's `/exports` pages are not theirs (a firewall's
/// token, or one in a URL, must not open them).
pub fn scope_of(path: &str) -> Option<Scope> {
    if path == "/metrics" {
        Some(Scope::Metrics)
    } else if path.starts_with("/taxii2") {
        Some(Scope::Taxii)
    } else if path.starts_with("/export/")
        || path.starts_with("/api/v1/exports/") && path.contains("/download")
    {
        Some(Scope::Export)
    } else if path.starts_with("/api") {
        Some(Scope::Api)
    } else {
        None
    }
}

/// How the caller presented itself.
enum Presented {
    Token(String),
    /// A token in the URL (exports only): it ends up in logs and histories,
    /// so only a token scoped to exports alone is accepted there.
    UrlToken(String),
    Password(String, String),
    Session(String),
    Nothing,
    Malformed(&'static str),
}

fn presented(headers: &HeaderMap, path: &str, query: Option<&str>) -> Presented {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let Ok(value) = value.to_str() else {
            return Presented::Malformed("the Authorization header is not text");
        };
        let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
        return if scheme.eq_ignore_ascii_case("bearer") {
            Presented::Token(rest.trim().to_owned())
        } else if scheme.eq_ignore_ascii_case("basic") {
            let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest.trim()) else {
                return Presented::Malformed("basic credentials are not base64");
            };
            let Ok(decoded) = String::from_utf8(decoded) else {
                return Presented::Malformed("basic credentials are not UTF-8");
            };
            match decoded.split_once(':') {
                Some((_, secret)) if secret.starts_with(TOKEN_PREFIX) => {
                    Presented::Token(secret.to_owned())
                }
                // `curl -u TOKEN:` puts it in the user name.
                Some((user, "")) if user.starts_with(TOKEN_PREFIX) => {
                    Presented::Token(user.to_owned())
                }
                Some((user, password)) => Presented::Password(user.to_owned(), password.to_owned()),
                None => Presented::Malformed("basic credentials lack a ':'"),
            }
        } else {
            Presented::Malformed("unsupported Authorization scheme (use Bearer or Basic)")
        };
    }
    if let Some(session) = cookie(headers, SESSION_COOKIE) {
        return Presented::Session(session);
    }
    if url_token_allowed(path)
        && let Some(token) = query.and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "token")
                .map(|(_, v)| v.to_owned())
        })
    {
        return Presented::UrlToken(token);
    }
    Presented::Nothing
}

/// Whether a token may travel in this path's query string: only export
/// files, which firewalls fetch by URL alone. Anywhere else it would end up
/// in browser histories and proxy logs for no need.
pub fn url_token_allowed(path: &str) -> bool {
    path.starts_with("/export/")
}

/// Whether `principal` may read `/metrics`: store-wide counts cover every
/// TLP, so an admin or a token given the `metrics` scope on purpose.
pub fn may_read_metrics(principal: &Principal) -> bool {
    principal.role == Role::Admin || principal.scopes.contains(&Scope::Metrics)
}

/// The client's address, as the middleware saw it (none without connect info).
#[derive(Debug, Clone, Default)]
pub struct ClientAddr(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientAddr>()
            .cloned()
            .unwrap_or_default())
    }
}

/// Whether a browser says another site made the request: `Sec-Fetch-Site:
/// cross-site`, or an `Origin` whose host is not the one asked.
fn cross_site(headers: &HeaderMap) -> bool {
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if fetch_site.eq_ignore_ascii_case("cross-site") {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
    origin != "null" && !origin_host.eq_ignore_ascii_case(host)
}

/// Whether the client is a browser asking for a page.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// The value of a cookie.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Whether a path is a page of the web UI (not the API, TAXII, exports or metrics).
pub fn is_ui_page(path: &str) -> bool {
    ![
        "/api", "/taxii2", "/export/", "/metrics", "/healthz", "/static/",
    ]
    .iter()
    .any(|p| path.starts_with(p))
}

fn refuse(path: &str, status: StatusCode, error: ApiError) -> Response {
    let mut response = if path.starts_with("/taxii2") {
        // TAXII clients read TAXII's error body, not the API's.
        let title = if status == StatusCode::UNAUTHORIZED {
            "Unauthorized"
        } else {
            "Forbidden"
        };
        crate::taxii::wire::TaxiiError::new(status, title, error.message().to_owned())
            .into_response()
    } else {
        error.into_response()
    };
    *response.status_mut() = status;
    // Firewalls and TAXII clients only send basic credentials when asked.
    // Only where clients that cannot log in (TAXII clients, firewalls) go: a
    // browser that cached basic credentials would send them cross-site.
    if status == StatusCode::UNAUTHORIZED
        && (path.starts_with("/taxii2") || path.starts_with("/export/"))
    {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"rexist\""),
        );
    }
    response
}

/// Resolves a token or session secret to a principal, noting its use.
async fn from_token(
    state: &AppState,
    secret: &str,
    session: bool,
) -> Result<Option<(Principal, ApiToken)>, ApiError> {
    let Some(token) = state.store.token_by_hash(&secret_hash(secret)).await? else {
        return Ok(None);
    };
    if session != (token.kind == "session") {
        return Ok(None);
    }
    if state.auth.should_touch(token.id)
        && let Err(e) = state.store.touch_token(token.id).await
    {
        tracing::warn!(error = %e, "could not note a token's use");
    }
    let name = match (&token.user, session) {
        (Some(user), true) => user.clone(),
        _ => format!("token:{}", token.name),
    };
    let principal = state.auth.principal(name, token.role, token.scopes.clone());
    Ok(Some((principal, token)))
}

/// The client's address, when the server was started with connect info.
fn address(req: &Request) -> Option<String> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// Records an audit entry; a failure to record is logged, not fatal. Long
/// fields are cut: a 64 KB URL must not become a 64 KB row.
pub async fn audit(state: &AppState, mut entry: NewAudit) {
    let cut = |s: &mut String| {
        if s.len() > 256 {
            let end = (0..=256)
                .rev()
                .find(|i| s.is_char_boundary(*i))
                .unwrap_or(0);
            s.truncate(end);
        }
    };
    cut(&mut entry.action);
    cut(&mut entry.actor);
    if let Some(t) = entry.target.as_mut() {
        cut(t);
    }
    if let Err(e) = state.store.record_audit(&entry).await {
        tracing::error!(error = %e, action = %entry.action, "could not write the audit log");
    }
}

/// The authentication middleware: sets the [`Principal`] or refuses.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let addr = address(&req);
    req.extensions_mut().insert(ClientAddr(addr.clone()));
    if !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) && cross_site(req.headers())
    {
        // Browsers send credentials they cached (basic auth, cookies) on
        // requests another site makes; no write may come from one.
        return refuse(
            &path,
            StatusCode::FORBIDDEN,
            ApiError::forbidden("cross-site request refused"),
        );
    }
    let Some(needed) = required_role(&method, &path) else {
        return next.run(req).await;
    };
    let presented = presented(req.headers(), &path, req.uri().query());
    let had_session = matches!(presented, Presented::Session(_));
    let resolved = match presented {
        Presented::Token(secret) => from_token(&state, &secret, false)
            .await
            .map(|p| p.map(|p| p.0)),
        Presented::UrlToken(secret) => match from_token(&state, &secret, false).await {
            Ok(Some((p, _))) if p.scopes != [Scope::Export] => {
                return refuse(
                    &path,
                    StatusCode::FORBIDDEN,
                    ApiError::forbidden(
                        "a token in a URL must be scoped to exports alone (--scope export)",
                    ),
                );
            }
            other => other.map(|p| p.map(|p| p.0)),
        },
        Presented::Session(secret) => match from_token(&state, &secret, true).await {
            Ok(Some((principal, token))) => {
                let unsafe_method = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
                let sent = req
                    .headers()
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                let expected = token.csrf.unwrap_or_default();
                if unsafe_method && (expected.is_empty() || !constant_eq(sent, &expected)) {
                    return refuse(
                        &path,
                        StatusCode::FORBIDDEN,
                        ApiError::forbidden("missing or wrong CSRF token (send X-CSRF-Token)"),
                    );
                }
                Ok(Some(Principal {
                    csrf: Some(expected),
                    ..principal
                }))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        },
        Presented::Password(user, password) => {
            check_password(&state, &user, &password, addr.as_deref())
                .await
                .map(|p| p.map(|(p, _)| p))
        }
        Presented::Malformed(why) => {
            return refuse(&path, StatusCode::UNAUTHORIZED, ApiError::unauthorized(why));
        }
        Presented::Nothing => Ok(state.auth.config.anonymous.map(|role| {
            state
                .auth
                .principal("anonymous".to_owned(), role, Vec::new())
        })),
    };
    let principal = match resolved {
        Ok(Some(p)) => p,
        Ok(None) if is_ui_page(&path) && req.headers().contains_key("hx-request") => {
            // An htmx request of a page whose session ended: answered with
            // JSON it would swap nothing in and say nothing; HX-Redirect
            // makes htmx load the login page, which says why, and come
            // back to the page after.
            let back = req
                .headers()
                .get("hx-current-url")
                .and_then(|v| v.to_str().ok())
                .and_then(local_part)
                .unwrap_or("/");
            let target = login_target(back, had_session);
            let mut r = refuse(&path, StatusCode::UNAUTHORIZED, ApiError::unauthenticated());
            if let Ok(v) = HeaderValue::from_str(&target) {
                r.headers_mut().insert("hx-redirect", v);
            }
            return r;
        }
        Ok(None) if method == Method::GET && is_ui_page(&path) && wants_html(req.headers()) => {
            // A browser without a session goes to the login page, and back after.
            let back = req.uri().path_and_query().map_or("/", |p| p.as_str());
            return axum::response::Redirect::to(&login_target(back, had_session)).into_response();
        }
        Ok(None) => {
            // Not audited one by one: anyone can send these, and each would be
            // a write. /metrics counts them (responses by status class).
            return refuse(&path, StatusCode::UNAUTHORIZED, ApiError::unauthenticated());
        }
        Err(e) => return e.into_response(),
    };
    if !principal.scopes.is_empty()
        && scope_of(&path).is_none_or(|scope| !principal.scopes.contains(&scope))
    {
        return refuse(
            &path,
            StatusCode::FORBIDDEN,
            ApiError::forbidden(format!(
                "this token is only valid for {}",
                principal
                    .scopes
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        );
    }
    if path == "/metrics" && !may_read_metrics(&principal) {
        return refuse(
            &path,
            StatusCode::FORBIDDEN,
            ApiError::forbidden(
                "/metrics needs the admin role or a token with the metrics scope \
                 (rexist token create --scope metrics)",
            ),
        );
    }
    if principal.role < needed {
        let mut r = refuse(
            &path,
            StatusCode::FORBIDDEN,
            ApiError::forbidden(format!(
                "{method} {path} needs the {needed} role; {} has {}",
                principal.name, principal.role
            )),
        );
        // Who was refused, for the UI to answer a browser with a page.
        r.extensions_mut().insert(principal);
        return r;
    }
    let write =
        !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) && needed > Role::Viewer;
    let actor = principal.name.clone();
    req.extensions_mut().insert(principal);
    let response = next.run(req).await;
    if write {
        audit(
            &state,
            NewAudit {
                actor,
                action: format!("{method} {path}"),
                target: None,
                outcome: response.status().as_u16().to_string(),
                address: addr,
            },
        )
        .await;
    }
    response
}

/// The login page's address, coming back to `back` after; `expired` makes
/// it say that the session ended (a session cookie came, but no session).
fn login_target(back: &str, expired: bool) -> String {
    let expired = if expired { "&expired=1" } else { "" };
    format!("/login?next={}{expired}", crate::url_encode(back))
}

/// The path and query of an absolute URL of this site (`HX-Current-URL`).
fn local_part(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let local = &rest[rest.find('/')?..];
    (!local.starts_with("//")).then_some(local)
}

/// Checks a user's password; `None` for a wrong name or password or a
/// disabled user. Failures are audited.
pub async fn check_password(
    state: &AppState,
    user: &str,
    password: &str,
    address: Option<&str>,
) -> Result<Option<(Principal, rexist_core::User)>, ApiError> {
    if let Some(wait) = state.auth.throttled(user, address) {
        return Err(ApiError::too_many(wait));
    }
    let found = state.store.user_credentials(user).await?;
    let key = state.auth.cache_key(user, password);
    let cached = found
        .as_ref()
        .is_some_and(|(_, hash)| state.auth.cached(&key, hash));
    let ok = if cached {
        true
    } else {
        // argon2 costs tens of milliseconds and 19 MiB: off the async
        // workers, and only a few at once, so guessing cannot stall the server.
        let hash = found
            .as_ref()
            .map_or_else(|| DUMMY_HASH.to_owned(), |(_, h)| h.clone());
        let password = password.to_owned();
        let _permit = state.auth.hashing.acquire().await;
        // Unknown users cost the same check, so names cannot be probed.
        let verified = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .unwrap_or(false);
        verified && found.is_some()
    };
    match found {
        Some((u, hash)) if ok && !u.disabled => {
            state.auth.succeeded(user, address, key, hash);
            Ok(Some((
                state.auth.principal(u.name.clone(), u.role, Vec::new()),
                u,
            )))
        }
        _ => {
            state.auth.failed(user, address);
            // A token pasted as a user name must not land in the log.
            let actor = if user.starts_with(TOKEN_PREFIX) {
                "(a token)".to_owned()
            } else {
                user.chars().take(64).collect()
            };
            audit(
                state,
                NewAudit {
                    actor,
                    action: "login.failed".to_owned(),
                    target: None,
                    outcome: "401".to_owned(),
                    address: address.map(str::to_owned),
                },
            )
            .await;
            Ok(None)
        }
    }
}

/// An argon2id hash of a random password, checked when the user does not exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Xy8H9qf0nJq3WZb7m2y3c1X0w1m4r0dJk3q8y2c3v0s";

/// Compares two strings in time independent of where they differ.
fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
