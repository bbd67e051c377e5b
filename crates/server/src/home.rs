//! The minimal HTML home page: what is stored, source health, and search
//! forms that lead into the JSON API. The full web UI replaces it later.

use std::fmt::Write;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::{AppState, escape_html};

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2430}\
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{padding:.25rem .75rem;border-bottom:1px solid #dde;text-align:left}\
td.n{text-align:right}.bad{color:#b00020;font-weight:600}form{margin:.5rem 0}input[type=text]{width:22rem;padding:.3rem}";

/// `GET /`
pub async fn page(State(state): State<AppState>) -> Response {
    let (stats, sources) = match tokio::try_join!(state.store.stats(), state.store.list_sources()) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "home page: store failed");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Html("<h1>rexist</h1><p>The store is unavailable; see the server log.</p>"),
            )
                .into_response();
        }
    };
    let mut h = String::with_capacity(4096);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>rexist</title><style>{STYLE}</style></head><body>\
         <h1>rexist</h1><p>Threat intelligence aggregation — {} store, version {}.</p>",
        state.store.backend().as_str(),
        env!("CARGO_PKG_VERSION")
    );
    h.push_str(
        "<form action=\"/api/v1/items\"><label>Search items <input type=\"text\" name=\"q\" placeholder=\"ransomware, 脆弱性, CVE-2024-3094\"></label> <button>Search</button></form>\
         <form action=\"/api/v1/indicators\"><label>Find indicator <input type=\"text\" name=\"value\" placeholder=\"203.0.113.7, evil.com\"></label> <button>Find</button></form>",
    );
    h.push_str("<h2>Indicators</h2><table><tr><th>type</th><th>count</th></tr>");
    for (kind, n) in &stats.indicators_by_type {
        let _ = write!(
            h,
            "<tr><td><a href=\"/api/v1/indicators?type={k}\">{k}</a></td><td class=\"n\">{n}</td></tr>",
            k = escape_html(kind)
        );
    }
    let _ = write!(h, "</table><p>{} sightings.</p>", stats.sightings);
    h.push_str("<h2>Items</h2><table><tr><th>kind</th><th>count</th></tr>");
    for (kind, n) in &stats.items_by_kind {
        let _ = write!(
            h,
            "<tr><td><a href=\"/api/v1/items?kind={k}\">{k}</a></td><td class=\"n\">{n}</td></tr>",
            k = escape_html(kind)
        );
    }
    h.push_str("</table><h2>Sources</h2><table><tr><th>name</th><th>kind</th><th>enabled</th><th>last success</th><th>failures</th></tr>");
    for s in &sources {
        let failing = s.health.consecutive_failures > 0;
        let _ = write!(
            h,
            "<tr><td><a href=\"/api/v1/sources/{name}/runs\">{name}</a></td><td>{kind}</td><td>{enabled}</td><td>{last}</td><td class=\"n{bad}\">{fails}</td></tr>",
            name = escape_html(&s.name),
            kind = escape_html(&s.kind),
            enabled = if s.enabled { "yes" } else { "no" },
            last = s
                .health
                .last_success_at
                .and_then(|t| t
                    .format(&time::format_description::well_known::Rfc3339)
                    .ok())
                .unwrap_or_else(|| "never".to_owned()),
            bad = if failing { " bad" } else { "" },
            fails = s.health.consecutive_failures,
        );
    }
    h.push_str(
        "</table><p><a href=\"/api/v1/indicators\">/api/v1/indicators</a> · <a href=\"/api/v1/items\">/api/v1/items</a> · \
         <a href=\"/api/v1/sources\">/api/v1/sources</a> · <a href=\"/api/v1/runs\">/api/v1/runs</a> · \
         <a href=\"/metrics\">/metrics</a> · <a href=\"/healthz\">/healthz</a></p></body></html>",
    );
    Html(h).into_response()
}
