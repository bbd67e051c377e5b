//! The search page's actions: bulk actions on the indicators found, their
//! export, and saved searches.
//!
//! - `POST /search/bulk` (analyst; htmx): `action` (`label`,
//!   `false_positive`, `watch`, `group`) on the ticked indicators (`v`,
//!   `type:value` each) or, with `all=1`, on every indicator the search
//!   (`query`, its query string) matches, at most
//!   [`crate::search::MAX_BULK`]; answers with the counts.
//! - `GET /search/export?query=…&format=csv&v=…|all=1`: the ticked
//!   indicators, or every match, as an export file (viewers too: a read).
//! - `POST /search/saved` (`name`, `query`), `POST /search/saved/delete`
//!   (`name`): the caller's saved searches; answer with their list.
//!
//! The work is [`crate::search`]'s, as the API does it: the same checks,
//! clearance and audit.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::context;

use super::Ui;
use super::search::{SearchParams, indicator_params, plan, search_pairs};
use crate::AppState;
use crate::auth::ClientAddr;
use crate::error::ApiError;
use crate::search::{BulkAction, BulkBody, BulkValue, Selection};

fn fields(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn field<'a>(f: &'a [(String, String)], name: &str) -> Option<&'a str> {
    f.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The search a form names by its `query`, and the indicator filters it gives.
fn search_of(query: &str) -> Result<crate::search::FilterParams, ApiError> {
    let map: serde_json::Map<String, serde_json::Value> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
        .collect();
    let p: SearchParams = serde_json::from_value(serde_json::Value::Object(map))
        .map_err(|e| ApiError::invalid(format!("query: {e}")))?;
    let plan = plan(&p);
    if !plan.indicators {
        return Err(ApiError::invalid("query: the search lists no indicators"));
    }
    Ok(indicator_params(&p, plan.prefix))
}

/// The ticked indicators (`v`, each `type:value`).
fn ticked(f: &[(String, String)]) -> Vec<BulkValue> {
    f.iter()
        .filter(|(k, _)| k == "v")
        .filter_map(|(_, v)| v.split_once(':'))
        .map(|(kind, value)| BulkValue {
            kind: Some(kind.to_owned()),
            value: value.to_owned(),
        })
        .collect()
}

/// What the form selects: every match with `all`, else the ticked ones.
fn selection(
    f: &[(String, String)],
) -> Result<(Option<Vec<BulkValue>>, Option<crate::search::FilterParams>), ApiError> {
    if field(f, "all").is_some() {
        let query = field(f, "query").unwrap_or_default();
        return Ok((None, Some(search_of(query)?)));
    }
    let values = ticked(f);
    if values.is_empty() {
        return Err(ApiError::invalid(
            "tick at least one indicator, or all matching",
        ));
    }
    Ok((Some(values), None))
}

fn message(ui: &Ui, e: &ApiError) -> Response {
    let status = e.status();
    let mut r = ui.render(
        "search_bulk.html",
        context! { ok => false, message => e.message().to_owned() },
    );
    *r.status_mut() = if status.is_server_error() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        status
    };
    r
}

/// `POST /search/bulk`
async fn bulk(State(state): State<AppState>, ui: Ui, addr: ClientAddr, body: Bytes) -> Response {
    let f = fields(&body);
    let action = match field(&f, "action") {
        Some("label") => BulkAction::Label,
        Some("false_positive") => BulkAction::FalsePositive,
        Some("watch") => BulkAction::Watch,
        Some("group") => BulkAction::Group,
        other => {
            return message(
                &ui,
                &ApiError::invalid(format!(
                    "action: {:?} is not a bulk action",
                    other.unwrap_or("")
                )),
            );
        }
    };
    let (values, query) = match selection(&f) {
        Ok(s) => s,
        Err(e) => return message(&ui, &e),
    };
    let Ok(item) = field(&f, "item").map(str::parse::<i64>).transpose() else {
        return message(&ui, &ApiError::invalid("item: not an item id"));
    };
    let title = field(&f, "title").map(str::to_owned);
    let b = BulkBody {
        action,
        values,
        query,
        label: field(&f, "bulk_label").map(str::to_owned),
        reason: field(&f, "reason").map(str::to_owned),
        hunt: field(&f, "hunt").map(str::to_owned),
        // A title names a new item; without one, the item id an existing one.
        item: if title.is_some() { None } else { item },
        title,
        tlp: None,
        format: None,
    };
    match crate::search::run_bulk(&state, &ui.principal, &addr, &b).await {
        Ok(a) => ui.render(
            "search_bulk.html",
            context! {
                ok => true,
                action => a.action.as_str(),
                done => a.done,
                selected => a.selected,
                skipped => a.skipped.iter().map(|s| context! { reason => s.reason.clone(), count => s.count }).collect::<Vec<_>>(),
                target => a.target,
            },
        ),
        Err(e) => message(&ui, &e),
    }
}

/// `GET /search/export`
async fn export(
    State(state): State<AppState>,
    ui: Ui,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let f = fields(raw.unwrap_or_default().as_bytes());
    let format = field(&f, "format").unwrap_or("csv").to_owned();
    let result = async {
        let selection = match selection(&f)? {
            (_, Some(query)) => {
                Selection::Matching(query.filter(&state, ui.principal.clearance).await?)
            }
            (Some(values), None) => {
                let (records, _, _) =
                    crate::search::select(&state, &ui.principal, Some(&values), None).await?;
                Selection::Ids(records.iter().map(|r| r.id).collect())
            }
            (None, None) => return Err(ApiError::invalid("nothing selected")),
        };
        crate::search::export_selection(&state, &ui.principal, &format, &headers, selection).await
    }
    .await;
    match result {
        Ok(r) => r,
        Err(e) if e.status() == StatusCode::BAD_REQUEST => {
            ui.error_detail(StatusCode::BAD_REQUEST, "err.bad_request", e.message())
        }
        Err(e) => e.into_response(),
    }
}

async fn saved_list(state: &AppState, ui: &Ui, note: Option<(bool, String)>) -> Response {
    let saved = match state.store.saved_searches(&ui.principal.name).await {
        Ok(s) => s,
        Err(e) => return super::search::store_failed(ui, "saved searches", &e),
    };
    let list: Vec<minijinja::Value> = saved
        .iter()
        .map(|s| context! { name => s.name.clone(), href => format!("/search?{}", s.query) })
        .collect();
    let (error, text) = note.unzip();
    ui.render(
        "search_saved.html",
        context! {
            saved => list,
            searched => false,
            saved_message => text,
            saved_error => error.unwrap_or(false),
        },
    )
}

/// `POST /search/saved`
async fn save(State(state): State<AppState>, ui: Ui, addr: ClientAddr, body: Bytes) -> Response {
    let f = fields(&body);
    let name = field(&f, "name").unwrap_or_default().to_owned();
    let query = field(&f, "query").unwrap_or_default();
    // Only the search's own parameters are kept, in their order.
    let query = match search_query(query) {
        Ok(q) => q,
        Err(e) => return saved_list(&state, &ui, Some((true, e.message().to_owned()))).await,
    };
    match state
        .store
        .save_search(&ui.principal.name, &name, &query)
        .await
    {
        Ok(s) => {
            crate::auth::audit(
                &state,
                rexist_core::NewAudit {
                    actor: ui.principal.name.clone(),
                    action: "saved_search.save".to_owned(),
                    target: Some(s.name.clone()),
                    outcome: "ok".to_owned(),
                    address: addr.0.clone(),
                },
            )
            .await;
            let note = super::i18n::t(ui.lang, "search.saved_ok").to_owned();
            saved_list(&state, &ui, Some((false, format!("{note} {}", s.name)))).await
        }
        Err(e) => saved_list(&state, &ui, Some((true, e.to_string()))).await,
    }
}

/// The search page's parameters of `query`, checked and in a stable order.
fn search_query(query: &str) -> Result<String, ApiError> {
    // Cursors and other parameters are not the search's: dropped.
    let map: serde_json::Map<String, serde_json::Value> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
        .collect();
    let p: SearchParams = serde_json::from_value(serde_json::Value::Object(map))
        .map_err(|e| ApiError::invalid(format!("query: {e}")))?;
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in search_pairs(&p) {
        s.append_pair(k, &v);
    }
    Ok(s.finish())
}

/// `POST /search/saved/delete`
async fn delete(State(state): State<AppState>, ui: Ui, addr: ClientAddr, body: Bytes) -> Response {
    let f = fields(&body);
    let name = field(&f, "name").unwrap_or_default().to_owned();
    match state.store.delete_search(&ui.principal.name, &name).await {
        Ok(true) => {
            crate::auth::audit(
                &state,
                rexist_core::NewAudit {
                    actor: ui.principal.name.clone(),
                    action: "saved_search.delete".to_owned(),
                    target: Some(name),
                    outcome: "ok".to_owned(),
                    address: addr.0.clone(),
                },
            )
            .await;
            saved_list(&state, &ui, None).await
        }
        Ok(false) => saved_list(&state, &ui, None).await,
        Err(e) => super::search::store_failed(&ui, "saved searches", &e),
    }
}

/// This area's routes.
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/search/bulk", post(bulk))
        .route("/search/export", get(export))
        .route("/search/saved", post(save))
        .route("/search/saved/delete", post(delete))
}
