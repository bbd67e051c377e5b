//! The REST API's own OpenAPI 3.1 document (`GET /api/openapi.json`) and a
//! rendered reference page over it (`GET /api/docs`).
//!
//! The document is generated from the handlers' `#[utoipa::path]`
//! annotations and the request and response types' `ToSchema` derives, so it
//! cannot drift from the code unnoticed: the tests compare its paths with the
//! router's, and schemathesis checks the server against it. What every
//! operation shares (the security schemes, 401, 403 and 503) is added by
//! [`Policy`], after the annotations, so no route can forget it.
//!
//! The page uses `RapiDoc`, vendored under `assets/vendor/rapidoc` and served
//! from the binary at [`RAPIDOC_PATH`]; nothing is loaded from the internet.

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::error::{ErrorBody, ErrorDetail};
use crate::{admin, api, curation, export, graph, hunts, lookup, search, stored_exports};

/// Where the vendored `RapiDoc` script is served.
/// The version is in the path, so the script can be cached for good.
pub const RAPIDOC_PATH: &str = "/static/vendor/rapidoc-9.3.8/rapidoc-min.js";

/// The schema of an optional query filter of type `T` that may also be
/// sent empty, which means absent (as HTML forms send it). utoipa drops the
/// doc comment of a parameter with its own schema: [`Policy`] describes
/// these parameters instead.
pub fn or_empty<T: ToSchema>() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, Type};
    match T::schema() {
        // A string enum: the same with "" added, which viewers show best.
        RefOr::T(Schema::Object(mut o)) if o.enum_values.is_some() => {
            o.enum_values.get_or_insert_with(Vec::new).push("".into());
            Schema::Object(o)
        }
        _ => Schema::AnyOf(
            AnyOfBuilder::new()
                .item(Ref::from_schema_name(T::name()))
                .item(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some([""])),
                )
                .build(),
        ),
    }
}

/// The responses every authenticated operation can give, by name in
/// `components/responses`.
const SHARED: [(&str, &str, &str); 3] = [
    (
        "401",
        "Unauthenticated",
        "No usable credentials: none sent, an unknown, expired or revoked token or session, or a wrong password.",
    ),
    (
        "403",
        "Forbidden",
        "Authenticated, but the role is too small for this route (see `required_role`), the token's scopes exclude the API, or a session's write lacks its X-CSRF-Token.",
    ),
    ("503", "Unavailable", "The store could not be reached."),
];

/// Adds the security schemes, each operation's security requirement and the
/// shared error responses.
pub struct Policy;

impl Modify for Policy {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("rexist_…")
                    .description(Some(
                        "An API token: `Authorization: Bearer rexist_…` (see `POST /api/v1/tokens`).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "A user's name and password, or any name and an API token as the password.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "The UI session cookie set by `POST /api/v1/login`; writes also need the \
                 `X-CSRF-Token` header with the login's `csrf`.",
            ))),
        );
        let error = || {
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build()
        };
        for (_, name, description) in SHARED {
            components.responses.insert(
                name.to_owned(),
                RefOr::T(
                    ResponseBuilder::new()
                        .description(description)
                        .content("application/json", error())
                        .build(),
                ),
            );
        }
        let schemes = ["bearer", "basic", "session"]
            .map(|s| SecurityRequirement::new(s, Vec::<String>::new()))
            .to_vec();
        for item in doc.paths.paths.values_mut() {
            for op in operations(item) {
                // An operation that declares its own security (login: none) keeps it.
                let open = op.security.is_some();
                if !open {
                    op.security = Some(schemes.clone());
                }
                for p in op.parameters.iter_mut().flatten() {
                    if p.description.is_none() {
                        p.description = Some(format!("Only this {} (empty: any).", p.name));
                    }
                }
                for (status, name, _) in SHARED {
                    if open && status == "403" {
                        continue;
                    }
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
                }
            }
        }
    }
}

fn operations(item: &mut utoipa::openapi::path::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// The API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "rexist REST API",
        description = "Threat intelligence: indicators, items, sources and runs, hunts, hits and \
alerts, lookups, analysts' curation, users and tokens, the audit log and exports.\n\n\
Lists are paged: pass the `next` of a page as `cursor` to get the following one; `limit` is \
the page size (default 50, at most 1000). Every error has one shape: \
`{\"error\": {\"code\": \"invalid\", \"message\": \"…\"}}`.\n\n\
Every route but `POST /api/v1/login` needs credentials: a bearer token, HTTP basic, or the \
session cookie. Reads need the `viewer` role, writes `analyst`, and users, tokens, the audit \
log and enabling or disabling sources `admin`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        api::indicators,
        api::indicator,
        api::items,
        api::item,
        api::sources,
        api::source,
        api::source_runs,
        api::run_source,
        api::enable_source,
        api::disable_source,
        api::runs,
        graph::graph,
        hunts::list,
        hunts::create,
        hunts::test,
        hunts::get,
        hunts::update,
        hunts::delete,
        hunts::retro,
        hunts::hits,
        hunts::ack,
        hunts::triage,
        hunts::triage_history,
        hunts::alerts,
        hunts::channels,
        lookup::one,
        lookup::bulk,
        admin::login,
        admin::logout,
        admin::me,
        admin::users,
        admin::create_user,
        admin::update_user,
        admin::tokens,
        admin::create_token,
        admin::revoke_token,
        admin::audit_log,
        export::list,
        export::adhoc,
        stored_exports::create_api,
        stored_exports::replace_api,
        stored_exports::patch_api,
        stored_exports::delete_api,
        curation::add_indicator,
        curation::add_note,
        curation::mark_false_positive,
        curation::unmark_false_positive,
        curation::add_local_sighting,
        curation::change_labels,
        curation::forget_label,
        curation::raise_tlp,
        curation::clear_tlp,
        curation::override_score,
        curation::clear_score,
        curation::add_item,
        curation::add_item_note,
        curation::delete_note,
        search::indicator_facets,
        search::item_facets,
        search::bulk,
        search::searches,
        search::save_search,
        search::delete_search,
    ),
    components(schemas(ErrorBody, ErrorDetail, lookup::AnswerFormat)),
    modifiers(&Policy),
    tags(
        (name = "indicators", description = "Indicators and their sightings."),
        (name = "items", description = "News, posts, events, vulnerabilities and exploits."),
        (name = "sources", description = "Sources, their health and their runs."),
        (name = "hunts", description = "Saved hunts, their hits, the alert outbox and channels."),
        (name = "lookup", description = "Everything known about a value."),
        (name = "graph", description = "The relation graph between indicators, threat entities and items, one node's neighbours at a time."),
        (name = "auth", description = "Sessions and the caller."),
        (name = "admin", description = "Users, tokens and the audit log (admin only)."),
        (name = "exports", description = "Saved and ad-hoc exports."),
        (name = "search", description = "Saved searches; facet counts and bulk actions live under indicators, items and curation."),
        (name = "curation", description = "What analysts add and say: manual indicators and event items, notes, false positives, local sightings, hand labels, TLP raises and score overrides."),
    ),
)]
pub struct ApiDoc;

/// The document as JSON, built once.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        ApiDoc::openapi().to_pretty_json().unwrap_or_else(|e| {
            format!("{{\"error\":{{\"code\":\"internal\",\"message\":\"{e}\"}}}}")
        })
    })
}

/// `GET /api/openapi.json`
pub async fn json() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        document(),
    )
        .into_response()
}

/// `GET /api/docs`: the reference page (`RapiDoc` over `/api/openapi.json`;
/// the browser sends the session cookie with the document's request). Its
/// title and link back are in the reader's language; the reference itself
/// is the document's English.
pub async fn docs(parts: axum::http::request::Parts) -> Html<String> {
    let (lang, _) = crate::ui::language(&parts);
    let word = |key| crate::escape_html(crate::ui::i18n::t(lang, key));
    Html(format!(
        r#"<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="/favicon.ico">
<script type="module" src="{RAPIDOC_PATH}"></script>
</head>
<body style="margin:0">
<p style="margin:0;padding:.5rem 1rem;font-family:system-ui,sans-serif;background:#f6f8fb;border-bottom:1px solid #dde1e8"><a href="/" style="color:#0b5cad">{back}</a></p>
<rapi-doc spec-url="/api/openapi.json" load-fonts="false" allow-try="false"
  allow-server-selection="false" allow-authentication="false" render-style="read"
  show-header="false" regular-font="system-ui, sans-serif" mono-font="ui-monospace, monospace">
</rapi-doc>
</body>
</html>
"#,
        lang = lang.tag(),
        title = word("api.title"),
        back = word("api.back"),
    ))
}

/// `GET /static/vendor/rapidoc-9.3.8/rapidoc-min.js`: the vendored viewer.
pub async fn rapidoc() -> Response {
    static JS: &[u8] = include_bytes!("../assets/vendor/rapidoc/rapidoc-min.js");
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        JS,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;

    /// Every operation of the router under `/api/v1` (see `router()`), in
    /// OpenAPI's path syntax; a route added there must be added here and
    /// documented.
    const V1_ROUTES: &[&str] = &[
        "GET /api/v1/indicators/facets",
        "GET /api/v1/items/facets",
        "POST /api/v1/indicators/bulk",
        "GET /api/v1/searches",
        "POST /api/v1/searches",
        "DELETE /api/v1/searches/{name}",
        "GET /api/v1/indicators",
        "GET /api/v1/indicators/{type}/{value}",
        "GET /api/v1/items",
        "GET /api/v1/items/{id}",
        "GET /api/v1/sources",
        "GET /api/v1/sources/{name}",
        "GET /api/v1/sources/{name}/runs",
        "POST /api/v1/sources/{name}/run",
        "POST /api/v1/sources/{name}/enable",
        "POST /api/v1/sources/{name}/disable",
        "GET /api/v1/runs",
        "GET /api/v1/graph",
        "GET /api/v1/hunts",
        "POST /api/v1/hunts",
        "POST /api/v1/hunts/test",
        "GET /api/v1/hunts/{name}",
        "PATCH /api/v1/hunts/{name}",
        "DELETE /api/v1/hunts/{name}",
        "POST /api/v1/hunts/{name}/retro",
        "POST /api/v1/lookup",
        "GET /api/v1/lookup/{value}",
        "GET /api/v1/hits",
        "POST /api/v1/hits/ack",
        "POST /api/v1/hits/triage",
        "GET /api/v1/hits/{id}/triage",
        "GET /api/v1/alerts",
        "GET /api/v1/channels",
        "POST /api/v1/login",
        "POST /api/v1/logout",
        "GET /api/v1/me",
        "GET /api/v1/users",
        "POST /api/v1/users",
        "PATCH /api/v1/users/{name}",
        "GET /api/v1/tokens",
        "POST /api/v1/tokens",
        "DELETE /api/v1/tokens/{name}",
        "GET /api/v1/audit",
        "GET /api/v1/exports",
        "GET /api/v1/exports/{name}",
        "POST /api/v1/exports",
        "PUT /api/v1/exports/{name}",
        "PATCH /api/v1/exports/{name}",
        "DELETE /api/v1/exports/{name}",
        "POST /api/v1/indicators",
        "POST /api/v1/indicators/{type}/{value}/notes",
        "POST /api/v1/indicators/{type}/{value}/false-positive",
        "DELETE /api/v1/indicators/{type}/{value}/false-positive",
        "POST /api/v1/indicators/{type}/{value}/sightings",
        "POST /api/v1/indicators/{type}/{value}/labels",
        "DELETE /api/v1/indicators/{type}/{value}/labels/{label}",
        "POST /api/v1/indicators/{type}/{value}/tlp",
        "DELETE /api/v1/indicators/{type}/{value}/tlp",
        "POST /api/v1/indicators/{type}/{value}/score",
        "DELETE /api/v1/indicators/{type}/{value}/score",
        "POST /api/v1/items",
        "POST /api/v1/items/{id}/notes",
        "DELETE /api/v1/notes/{id}",
        "GET /api/v1/indicators/facets",
        "GET /api/v1/items/facets",
        "POST /api/v1/indicators/bulk",
        "GET /api/v1/searches",
        "POST /api/v1/searches",
        "DELETE /api/v1/searches/{name}",
    ];

    fn doc() -> Value {
        serde_json::from_str(document()).unwrap()
    }

    fn operations(doc: &Value) -> Vec<(String, &Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                out.push((format!("{} {path}", method.to_uppercase()), op));
            }
        }
        out
    }

    #[test]
    fn is_openapi_3_1() {
        let doc = doc();
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3.1"),
            "{}",
            doc["openapi"]
        );
        assert!(doc["info"]["title"].is_string());
        let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
        assert_eq!(schemes["bearer"]["scheme"], "bearer");
        assert_eq!(schemes["basic"]["scheme"], "basic");
        assert_eq!(schemes["session"]["in"], "cookie");
        assert_eq!(schemes["session"]["name"], crate::auth::SESSION_COOKIE);
        // Every reference resolves.
        let text = document();
        for part in text.split("\"$ref\": \"#/components/").skip(1) {
            let target = &part[..part.find('"').unwrap()];
            let (kind, name) = target.split_once('/').unwrap();
            assert!(
                doc["components"][kind].get(name).is_some(),
                "dangling reference {target}"
            );
        }
    }

    #[test]
    fn run_outcomes_are_all_documented() {
        let doc = doc();
        let listed: BTreeSet<String> = doc["components"]["schemas"]["RunOutcome"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        let all: BTreeSet<String> = rexist_core::RunOutcome::ALL
            .iter()
            .map(|o| o.as_str().to_owned())
            .collect();
        assert_eq!(listed, all);
        assert!(listed.contains("interrupted"));
    }

    #[test]
    fn documents_exactly_the_v1_routes() {
        let doc = doc();
        let documented: BTreeSet<String> = operations(&doc).into_iter().map(|(k, _)| k).collect();
        let expected: BTreeSet<String> = V1_ROUTES.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(documented, expected);
    }

    #[test]
    fn every_operation_declares_security_and_its_errors() {
        let doc = doc();
        for (key, op) in operations(&doc) {
            let security = op["security"].as_array();
            assert!(security.is_some(), "{key}: no security");
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("401"), "{key}: no 401");
            assert!(responses.contains_key("503"), "{key}: no 503");
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{key}: no success response"
            );
            assert!(op["summary"].is_string(), "{key}: no summary");
            if key == "POST /api/v1/login" {
                assert_eq!(
                    op["security"],
                    serde_json::json!([{}]),
                    "login needs no credentials"
                );
                continue;
            }
            assert!(responses.contains_key("403"), "{key}: no 403");
            let names: BTreeSet<&str> = security
                .unwrap()
                .iter()
                .flat_map(|r| r.as_object().unwrap().keys().map(String::as_str))
                .collect();
            assert_eq!(
                names,
                BTreeSet::from(["basic", "bearer", "session"]),
                "{key}"
            );
            // The policy agrees: every documented route needs credentials.
            let (method, path) = key.split_once(' ').unwrap();
            let method: axum::http::Method = method.parse().unwrap();
            assert!(crate::auth::required_role(&method, path).is_some(), "{key}");
        }
    }
}
