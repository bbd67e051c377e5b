//! The web UI: server-rendered HTML (minijinja templates embedded in the
//! binary) with htmx for partial updates, in English and Japanese. Every
//! asset is served from the binary under `/static/`; nothing is loaded from
//! the internet.
//!
//! Pages are ordinary routes behind the authentication middleware: a browser
//! without a session is sent to `/login` and back. Pages get a [`Ui`]
//! (language, principal, CSRF token) and render a template with
//! [`Ui::render`]; htmx requests carry the CSRF token in `X-CSRF-Token`
//! (set once on `<body hx-headers>` by the base template).

pub mod bulk;
pub mod curation;
pub mod entity;
pub mod exports;
pub mod graph;
pub mod hunts;
pub mod i18n;
pub mod indicator;
pub mod item;
pub mod manage;
pub mod pages;
pub mod search;
pub mod watch;

use std::sync::OnceLock;

use axum::Router;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::value::Kwargs;
use minijinja::{Environment, State as TplState, Value};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Principal;
pub use i18n::{Lang, Locale};

/// Cookie remembering the language picked with `?lang=`.
pub const LANG_COOKIE: &str = "rexist_lang";

/// The templates, embedded: (name, source).
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("login.html", include_str!("../../templates/login.html")),
    (
        "dashboard.html",
        include_str!("../../templates/dashboard.html"),
    ),
    ("error.html", include_str!("../../templates/error.html")),
];

/// Static files: (path under `/static/`, content type, bytes).
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "ui/app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/ui/app.css"),
    ),
    (
        "ui/app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/ui/app.js"),
    ),
    (
        "vendor/htmx-2.0.11/htmx.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/htmx/htmx.min.js"),
    ),
];

/// Every area's templates.
fn templates() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    TEMPLATES
        .iter()
        .chain(search::TEMPLATES)
        .chain(item::TEMPLATES)
        .chain(indicator::TEMPLATES)
        .chain(manage::TEMPLATES)
        .chain(exports::TEMPLATES)
        .chain(hunts::TEMPLATES)
        .chain(curation::TEMPLATES)
        .chain(entity::TEMPLATES)
}

/// Every area's static files.
fn assets() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static [u8])> {
    ASSETS
        .iter()
        .chain(search::ASSETS)
        .chain(manage::ASSETS)
        .chain(hunts::ASSETS)
        .chain(curation::ASSETS)
        .chain(graph::ASSETS)
}

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in templates() {
            // A broken embedded template is a build defect; tests render every page.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "template does not compile");
            }
        }
        // `t('key')`, or `t('key', n=3)` filling `{n}` (numbers grouped).
        env.add_function("t", |state: &TplState, key: &str, args: Kwargs| {
            let (lang, locale) = reader(state);
            let mut filled: Vec<(&str, String)> = Vec::new();
            for name in args.args() {
                let v: Value = args.get(name)?;
                let text = match i64::try_from(v.clone()) {
                    Ok(n) if v.is_number() => locale.number(n),
                    _ => v.to_string(),
                };
                filled.push((name, text));
            }
            args.assert_all_used()?;
            Ok::<_, minijinja::Error>(i18n::fill(i18n::t(lang, key), &filled))
        });
        // An English sentence from another crate, in the page's language.
        env.add_filter("says", |state: &TplState, text: &str| {
            i18n::sentence(reader(state).0, text)
        });
        // A relation's name in the page's language.
        env.add_filter("relation", |state: &TplState, name: &str| {
            i18n::relation(reader(state).0, name)
        });
        // Every relation's name in the page's language, as JSON (graph.js).
        env.add_function("graph_relations", |state: &TplState| {
            graph::relation_words(reader(state).0)
        });
        env.add_filter("time", time_filter);
        env.add_filter("date", date_filter);
        env.add_filter("num", |state: &TplState, value: &Value| -> String {
            match i64::try_from(value.clone()) {
                Ok(n) => reader(state).1.number(n),
                Err(_) => value.to_string(),
            }
        });
        env.add_filter("defang", |s: &str| rexist_extract::defang(s));
        env.add_filter("urlencode_path", |s: &str| crate::url_encode(s));
        env
    })
}

/// The page's language and locale (English, American, when unset).
fn reader(state: &TplState) -> (Lang, Locale) {
    let lang = state
        .lookup("lang")
        .and_then(|l| l.as_str().and_then(Lang::from_tag))
        .unwrap_or(Lang::En);
    let locale = match state.lookup("locale").as_ref().and_then(Value::as_str) {
        Some("en-GB") => Locale::EnGb,
        Some("ja") => Locale::Ja,
        _ if lang == Lang::Ja => Locale::Ja,
        _ => Locale::EnUs,
    };
    (lang, locale)
}

/// `<time>` with the time written for the reader's locale, in UTC with the
/// zone said; app.js rewrites it in the browser's own zone, the same way.
/// The one way a page shows a time.
fn time_filter(state: &TplState, value: &Value) -> Value {
    let text = value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned);
    let shown = time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
        .map_or_else(|_| text.clone(), |t| reader(state).1.time(t));
    Value::from_safe_string(format!(
        "<time datetime=\"{}\">{}</time>",
        crate::escape_html(&text),
        crate::escape_html(&shown)
    ))
}

/// A date (`2025-01-05`, or a time's date) written for the reader's locale.
fn date_filter(state: &TplState, value: &Value) -> String {
    let text = value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned);
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text.get(..10).unwrap_or(&text), &format);
    date.map_or(text, |d| reader(state).1.date(d))
}

/// What a page knows about the request: language, caller, CSRF token.
#[derive(Debug, Clone)]
pub struct Ui {
    /// The language to render in.
    pub lang: Lang,
    /// How dates and numbers are written.
    pub locale: Locale,
    /// The caller.
    pub principal: Principal,
    /// The session's CSRF token (empty when the caller used a token or basic auth).
    pub csrf: String,
    /// Set when `?lang=` asked to switch: remember it in a cookie.
    pub remember_lang: bool,
    /// The request path and query, for the language switch link.
    pub here: String,
}

/// The language of a request: `?lang=`, the cookie, then `Accept-Language`.
pub fn language(parts: &Parts) -> (Lang, bool) {
    let from_query = parts.uri.query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "lang")
            .and_then(|(_, v)| Lang::from_tag(v))
    });
    if let Some(l) = from_query {
        return (l, true);
    }
    let from_cookie =
        crate::auth::cookie(&parts.headers, LANG_COOKIE).and_then(|v| Lang::from_tag(&v));
    let from_header = parts
        .headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Lang::from_accept);
    (from_cookie.or(from_header).unwrap_or(Lang::En), false)
}

/// The locale of a request in `lang` (see [`Locale::pick`]).
pub fn locale(lang: Lang, parts: &Parts) -> Locale {
    let accept = parts
        .headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Locale::pick(lang, accept)
}

impl FromRequestParts<AppState> for Ui {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let principal = Principal::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let (lang, remember_lang) = language(parts);
        let locale = locale(lang, parts);
        let here = parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        Ok(Self {
            lang,
            locale,
            csrf: principal.csrf.clone().unwrap_or_default(),
            principal,
            remember_lang,
            here,
        })
    }
}

impl Ui {
    /// The context every template gets, merged with `page`.
    fn context(&self, page: Value) -> Value {
        let other = match self.lang {
            Lang::En => "ja",
            Lang::Ja => "en",
        };
        let base = self.here.split('?').next().unwrap_or("/");
        let switch = format!("{base}?lang={other}");
        let common = minijinja::context! {
            lang => self.lang.tag(),
            locale => self.locale.tag(),
            user => self.principal.name.clone(),
            role => self.principal.role.as_str(),
            is_analyst => self.principal.role >= rexist_core::Role::Analyst,
            is_admin => self.principal.role >= rexist_core::Role::Admin,
            csrf => self.csrf.clone(),
            switch_lang => switch,
            here => self.here.clone(),
            version => env!("CARGO_PKG_VERSION"),
        };
        minijinja::context! { ..page, ..common }
    }

    /// Renders `template` with `page` values; a rendering failure is a 500
    /// page that names nothing internal (the log has the details).
    pub fn render(&self, template: &str, page: Value) -> Response {
        let ctx = self.context(page);
        let html = env().get_template(template).and_then(|t| t.render(&ctx));
        let mut response = match html {
            Ok(html) => Html(html).into_response(),
            Err(e) => {
                tracing::error!(template, error = %format!("{e:#}"), "page did not render");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html(error_html(self.lang)),
                )
                    .into_response()
            }
        };
        self.finish(response.headers_mut());
        response
    }

    /// An error page: `status`, and the message under catalogue key `key`.
    pub fn error(&self, status: StatusCode, key: &str) -> Response {
        self.error_page(status, key, None)
    }

    /// An error page whose message (key `key`) is followed by what a lower
    /// layer said (a parser's or the API's validation message, in English).
    pub fn error_detail(&self, status: StatusCode, key: &str, detail: &str) -> Response {
        self.error_page(status, key, Some(detail))
    }

    /// An error page with a message already in the reader's language.
    pub fn error_text(&self, status: StatusCode, text: &str) -> Response {
        let mut r = self.render(
            "error.html",
            minijinja::context! { title => status_title(status), text => text },
        );
        *r.status_mut() = status;
        r
    }

    fn error_page(&self, status: StatusCode, key: &str, detail: Option<&str>) -> Response {
        let mut r = self.render(
            "error.html",
            minijinja::context! { title => status_title(status), message => key, detail => detail },
        );
        *r.status_mut() = status;
        r
    }

    fn finish(&self, headers: &mut HeaderMap) {
        headers.insert(
            header::CONTENT_LANGUAGE,
            HeaderValue::from_static(self.lang.tag()),
        );
        // Pages change with the data; never serve them from a cache.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.remember_lang
            && let Ok(v) = HeaderValue::from_str(&format!(
                "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
                self.lang.tag()
            ))
        {
            headers.append(header::SET_COOKIE, v);
        }
    }
}

/// The heading of an error page with `status`.
fn status_title(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "err.not_found",
        StatusCode::FORBIDDEN => "err.forbidden",
        StatusCode::BAD_REQUEST => "err.bad_request",
        _ => "error.title",
    }
}

/// Middleware: a browser's page request the authentication middleware
/// refused for its role (a viewer opening `/hunts/new`) gets a page in the
/// UI's frame saying which role it needs, not the API's JSON.
pub async fn role_refusals(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let wanted = req.method() == axum::http::Method::GET
        && crate::auth::is_ui_page(req.uri().path())
        && crate::auth::wants_html(req.headers());
    if !wanted {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let response = next
        .run(axum::extract::Request::from_parts(parts.clone(), body))
        .await;
    let principal = response.extensions().get::<Principal>().cloned();
    let (StatusCode::FORBIDDEN, Some(principal)) = (response.status(), principal) else {
        return response;
    };
    let needed = crate::auth::required_role(&parts.method, parts.uri.path())
        .unwrap_or(rexist_core::Role::Viewer);
    let (lang, _) = language(&parts);
    let ui = Ui {
        lang,
        locale: locale(lang, &parts),
        csrf: principal.csrf.clone().unwrap_or_default(),
        remember_lang: false,
        here: parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        principal,
    };
    let text = i18n::fill(
        i18n::t(lang, "err.role"),
        &[
            (
                "needed",
                i18n::t(lang, &format!("role.{needed}")).to_owned(),
            ),
            (
                "role",
                i18n::t(lang, &format!("role.{}", ui.principal.role)).to_owned(),
            ),
        ],
    );
    ui.error_text(StatusCode::FORBIDDEN, &text)
}

fn error_html(lang: Lang) -> String {
    format!(
        "<!doctype html><html lang=\"{}\"><meta charset=\"utf-8\"><title>rexist</title><h1>{}</h1>",
        lang.tag(),
        i18n::t(lang, "error.title")
    )
}

/// `GET /static/{*path}`: an embedded asset.
async fn asset(axum::extract::Path(path): axum::extract::Path<String>) -> Response {
    match assets().find(|(p, _, _)| *p == path) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                // Versioned vendor paths may be cached for long; our own files briefly.
                (
                    header::CACHE_CONTROL,
                    if path.starts_with("vendor/") {
                        "public, max-age=31536000, immutable"
                    } else {
                        "public, max-age=300"
                    },
                ),
            ],
            *bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /favicon.ico`: the icon browsers ask for on their own (no
/// credentials needed, like the other static files).
async fn favicon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/x-icon"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        FAVICON,
    )
        .into_response()
}

/// The icon: rexist's "r" on its blue.
const FAVICON: &[u8] = include_bytes!("../../assets/ui/favicon.ico");

/// Any other path: a 404 page in the reader's language, in the UI's frame
/// (the API and TAXII answer their own JSON 404s; see `error.rs`).
pub fn not_found(ui: &Ui) -> Response {
    ui.error(StatusCode::NOT_FOUND, "err.no_page")
}

/// Query of the login page.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    /// Where to go after logging in.
    next: Option<String>,
    /// Set when a session ended under the reader (see `auth::authenticate`).
    expired: Option<String>,
}

/// Only same-site paths are followed after a login.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/",
    }
}

fn login_page(lang: Lang, next: &str, failed: bool, expired: bool, status: StatusCode) -> Response {
    let ctx = minijinja::context! {
        lang => lang.tag(),
        next => next,
        failed => failed,
        expired => expired,
        version => env!("CARGO_PKG_VERSION"),
    };
    let html = env().get_template("login.html").and_then(|t| t.render(ctx));
    match html {
        Ok(h) => (status, Html(h)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "login page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, Html(error_html(lang))).into_response()
        }
    }
}

/// `GET /login`
async fn login_form(parts: Parts, Query(q): Query<LoginQuery>) -> Response {
    let (lang, _) = language(&parts);
    let expired = q.expired.is_some();
    login_page(
        lang,
        safe_next(q.next.as_deref()),
        false,
        expired,
        StatusCode::OK,
    )
}

/// The login form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    user: String,
    password: String,
    next: Option<String>,
}

/// Reads an `application/x-www-form-urlencoded` body.
fn serde_urlencoded_form<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let map: serde_json::Map<String, serde_json::Value> = pairs
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    serde_json::from_value(serde_json::Value::Object(map)).ok()
}

/// `POST /login`: checks the password, starts a session, goes on.
async fn login_submit(
    axum::extract::State(state): axum::extract::State<AppState>,
    addr: crate::auth::ClientAddr,
    parts: Parts,
    body: axum::body::Bytes,
) -> Response {
    let Some(form) = serde_urlencoded_form::<LoginForm>(&body) else {
        let (lang, _) = language(&parts);
        return login_page(lang, "/", true, false, StatusCode::BAD_REQUEST);
    };
    let (lang, _) = language(&parts);
    let next = safe_next(form.next.as_deref()).to_owned();
    match crate::admin::start_session(&state, &form.user, &form.password, addr.0.as_deref()).await {
        Ok(Some(session)) => {
            let mut r = Redirect::to(&next).into_response();
            if let Ok(v) = HeaderValue::from_str(&session.cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Ok(None) => login_page(lang, &next, true, false, StatusCode::UNAUTHORIZED),
        Err(e) => e.into_response(),
    }
}

/// `POST /logout`: ends the session, back to the login page.
async fn logout(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: HeaderMap,
) -> Response {
    if let Some(secret) = crate::auth::cookie(&headers, crate::auth::SESSION_COOKIE)
        && let Err(e) = state
            .store
            .end_session(&crate::auth::secret_hash(&secret))
            .await
    {
        tracing::warn!(error = %e, "logout: session not ended");
    }
    // htmx follows a redirect inside the page; HX-Redirect makes it a navigation.
    let mut r = if headers.contains_key("hx-request") {
        let mut r = StatusCode::NO_CONTENT.into_response();
        r.headers_mut()
            .insert("hx-redirect", HeaderValue::from_static("/login"));
        r
    } else {
        Redirect::to("/login").into_response()
    };
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("rexist_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

/// The UI's routes (pages at the top level; the API stays under `/api`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::dashboard))
        .route("/login", get(login_form).post(login_submit))
        .route("/logout", post(logout))
        .route("/static/{*path}", get(asset))
        .route("/favicon.ico", get(favicon))
        .merge(search::routes())
        .merge(item::routes())
        .merge(indicator::routes())
        .merge(manage::routes())
        .merge(exports::routes())
        .merge(hunts::routes())
        .merge(curation::routes())
        .merge(entity::routes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        for (name, _) in templates() {
            assert!(env().get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/hunts?x=1")), "/hunts?x=1");
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil.example",
            "evil",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
    }
}
