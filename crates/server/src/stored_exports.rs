//! Exports defined through the API and the web UI, beside the
//! configuration's `[[export]]` tables (docs/exports.md).
//!
//! A stored export is an `[[export]]` table's fields as JSON: the body is
//! parsed into the configuration's own [`ExportConfig`] and checked by its
//! `validate`, so both kinds have one definition and one set of rules. It
//! is served at the same URLs (`/export/{name}`, a MISP feed's files) with
//! the same tokens and clearance. The configuration wins a name: creating
//! or renaming to a configured export's name is refused, and one defined in
//! the file after it was stored shadows it (listed as `shadowed`). Writes
//! need the admin role and are audited.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rexist_core::NewAudit;
use rexist_store::{StoreError, StoredExport};

use crate::AppState;
use crate::auth::{ClientAddr, Principal};
use crate::error::{ApiError, ErrorBody, json_body};
use crate::export::{ExportConfig, ExportItem, ExportSpec};

/// Names a stored export may not take: they name pages of the web UI
/// (`/exports/new`, `/exports/preview`).
pub const RESERVED: [&str; 2] = ["new", "preview"];

/// Where an export is defined.
#[derive(Debug, Clone)]
pub enum Origin {
    /// An `[[export]]` table of the configuration file.
    Config,
    /// Stored through the API or the UI.
    Stored(Box<StoredExport>),
}

/// An export found by name, with where it is defined.
#[derive(Debug, Clone)]
pub struct Found {
    /// The checked definition.
    pub spec: ExportSpec,
    /// Where it comes from.
    pub origin: Origin,
}

/// The configuration's fields of a stored export.
pub fn config_of(stored: &StoredExport) -> Result<ExportConfig, String> {
    serde_json::from_value(stored.definition.clone())
        .map_err(|e| format!("export {:?}: {e}", stored.name))
}

/// A stored export checked as a configuration table is.
pub fn spec_of(stored: &StoredExport) -> Result<ExportSpec, String> {
    config_of(stored)?.validate()
}

/// The export `name`: the configuration's, else the stored one.
pub async fn find(state: &AppState, name: &str) -> Result<Option<Found>, StoreError> {
    if let Some(spec) = state.exports.iter().find(|e| e.name == name) {
        return Ok(Some(Found {
            spec: spec.clone(),
            origin: Origin::Config,
        }));
    }
    let Some(stored) = state.store.stored_export(name).await? else {
        return Ok(None);
    };
    // Stored definitions were checked when written; one a later rexist
    // refuses is an operator's problem, logged rather than shown.
    let spec = spec_of(&stored).map_err(StoreError::internal)?;
    Ok(Some(Found {
        spec,
        origin: Origin::Stored(Box::new(stored)),
    }))
}

/// Every export: the configuration's, then the stored ones by name, each
/// with whether a configured export of its name shadows it.
pub async fn all(state: &AppState) -> Result<Vec<(Found, bool)>, StoreError> {
    let mut out: Vec<(Found, bool)> = state
        .exports
        .iter()
        .map(|spec| {
            (
                Found {
                    spec: spec.clone(),
                    origin: Origin::Config,
                },
                false,
            )
        })
        .collect();
    for stored in state.store.list_stored_exports().await? {
        match spec_of(&stored) {
            Ok(spec) => {
                let shadowed = state.exports.iter().any(|e| e.name == stored.name);
                out.push((
                    Found {
                        spec,
                        origin: Origin::Stored(Box::new(stored)),
                    },
                    shadowed,
                ));
            }
            Err(e) => {
                tracing::warn!(export = %stored.name, error = %e, "stored export no longer valid; not served");
            }
        }
    }
    Ok(out)
}

/// Checks a definition to store: the configuration's rules, then the
/// names the configuration and the UI hold.
pub fn check(state: &AppState, config: &ExportConfig) -> Result<ExportSpec, ApiError> {
    let spec = config.validate().map_err(ApiError::invalid)?;
    if state.exports.iter().any(|e| e.name == spec.name) {
        return Err(ApiError::conflict(format!(
            "export {:?} is defined in the configuration ([[export]]); choose another name",
            spec.name
        )));
    }
    if RESERVED.contains(&spec.name.as_str()) {
        return Err(ApiError::invalid(format!(
            "export {:?}: name: names a page of the web UI; choose another",
            spec.name
        )));
    }
    Ok(spec)
}

/// The JSON stored for a checked definition.
fn definition(config: &ExportConfig) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(config)
        .map_err(|e| ApiError::from(StoreError::internal(format!("export definition: {e}"))))
}

/// A configured export cannot be changed here.
fn configured(name: &str) -> ApiError {
    ApiError::conflict(format!(
        "export {name:?} is defined in the configuration ([[export]]): change it there"
    ))
}

/// No stored export `name`: a configured one cannot be changed here.
fn missing(state: &AppState, name: &str) -> ApiError {
    if state.exports.iter().any(|e| e.name == name) {
        return configured(name);
    }
    ApiError::not_found(format!("no stored export named {name:?}"))
}

/// Records an export write in the audit log, naming the export.
async fn audit(state: &AppState, who: &Principal, addr: &ClientAddr, action: &str, name: &str) {
    crate::auth::audit(
        state,
        NewAudit {
            actor: who.name.clone(),
            action: action.to_owned(),
            target: Some(format!("export {name}")),
            outcome: "ok".to_owned(),
            address: addr.0.clone(),
        },
    )
    .await;
}

/// Stores a new export (the caller checked the role); the MISP feed cache
/// of its name is dropped.
pub async fn create(
    state: &AppState,
    who: &Principal,
    addr: &ClientAddr,
    config: &ExportConfig,
) -> Result<Found, ApiError> {
    let spec = check(state, config)?;
    let stored = state
        .store
        .create_stored_export(&spec.name, &definition(config)?, &who.name)
        .await
        .map_err(|e| match e.kind() {
            rexist_store::ErrorKind::Conflict => ApiError::conflict(format!(
                "an export named {:?} is already stored; change it with PUT or PATCH",
                spec.name
            )),
            _ => e.into(),
        })?;
    crate::export::forget_name(state, &spec.name);
    audit(state, who, addr, "export.create", &spec.name).await;
    Ok(Found {
        spec,
        origin: Origin::Stored(Box::new(stored)),
    })
}

/// Replaces the stored export `name` with `config` (renaming it when the
/// name differs).
pub async fn replace(
    state: &AppState,
    who: &Principal,
    addr: &ClientAddr,
    name: &str,
    config: &ExportConfig,
) -> Result<Found, ApiError> {
    let spec = check(state, config)?;
    let stored = state
        .store
        .update_stored_export(name, &spec.name, &definition(config)?, &who.name)
        .await?
        .ok_or_else(|| missing(state, name))?;
    crate::export::forget_name(state, name);
    crate::export::forget_name(state, &spec.name);
    let action = if spec.name == name {
        "export.update".to_owned()
    } else {
        format!("export.rename to {}", spec.name)
    };
    audit(state, who, addr, &action, name).await;
    Ok(Found {
        spec,
        origin: Origin::Stored(Box::new(stored)),
    })
}

/// Deletes the stored export `name`.
pub async fn remove(
    state: &AppState,
    who: &Principal,
    addr: &ClientAddr,
    name: &str,
) -> Result<(), ApiError> {
    // A stored export the configuration shadows can still be deleted.
    if !state.store.delete_stored_export(name).await? {
        return Err(missing(state, name));
    }
    crate::export::forget_name(state, name);
    audit(state, who, addr, "export.delete", name).await;
    Ok(())
}

fn admin(who: &Principal) -> Result<(), ApiError> {
    if who.role < rexist_core::Role::Admin {
        return Err(ApiError::forbidden(format!(
            "defining exports needs the admin role; {} has {}",
            who.name, who.role
        )));
    }
    Ok(())
}

/// `POST /api/v1/exports`
#[utoipa::path(
    post,
    path = "/api/v1/exports",
    tag = "exports",
    summary = "Define an export (admin)",
    description = "The body is an `[[export]]` table of the configuration as JSON, checked by the same rules. The export is served at `/export/{name}` (a MISP feed at `/export/{name}/manifest.json`) like a configured one. Audited.",
    request_body = ExportConfig,
    responses(
        (status = 201, description = "The stored export, as listed.", body = ExportItem),
        (status = 400, description = "A field is invalid; the message names it.", body = ErrorBody),
        (status = 403, description = "The caller is not an admin.", body = ErrorBody),
        (status = 409, description = "The name is taken by a configured or a stored export.", body = ErrorBody),
    )
)]
pub async fn create_api(
    State(state): State<AppState>,
    who: Principal,
    addr: ClientAddr,
    body: Result<Json<ExportConfig>, JsonRejection>,
) -> Result<Response, ApiError> {
    admin(&who)?;
    let config = json_body(body)?;
    let found = create(&state, &who, &addr, &config).await?;
    Ok((StatusCode::CREATED, Json(ExportItem::of(&found, false))).into_response())
}

/// `PUT /api/v1/exports/{name}`
#[utoipa::path(
    put,
    path = "/api/v1/exports/{name}",
    tag = "exports",
    summary = "Replace a stored export (admin)",
    description = "The whole definition, as for `POST /api/v1/exports`; a different `name` renames it. Configured exports are changed in the configuration file. Audited.",
    params(("name" = String, Path, description = "The stored export.")),
    request_body = ExportConfig,
    responses(
        (status = 200, description = "The export as it is now.", body = ExportItem),
        (status = 400, description = "A field is invalid; the message names it.", body = ErrorBody),
        (status = 403, description = "The caller is not an admin.", body = ErrorBody),
        (status = 404, description = "No stored export of that name.", body = ErrorBody),
        (status = 409, description = "The export is configured, or the new name is taken.", body = ErrorBody),
    )
)]
pub async fn replace_api(
    State(state): State<AppState>,
    who: Principal,
    addr: ClientAddr,
    Path(name): Path<String>,
    body: Result<Json<ExportConfig>, JsonRejection>,
) -> Result<Response, ApiError> {
    admin(&who)?;
    let config = json_body(body)?;
    let found = replace(&state, &who, &addr, &name, &config).await?;
    Ok(Json(ExportItem::of(&found, false)).into_response())
}

/// `PATCH /api/v1/exports/{name}`
#[utoipa::path(
    patch,
    path = "/api/v1/exports/{name}",
    tag = "exports",
    summary = "Change fields of a stored export (admin)",
    description = "A JSON object of the fields to change (those of `POST /api/v1/exports`); `null` puts a field back to its default. The result is checked as a whole. Audited.",
    params(("name" = String, Path, description = "The stored export.")),
    request_body(content = Object, description = "Fields to change."),
    responses(
        (status = 200, description = "The export as it is now.", body = ExportItem),
        (status = 400, description = "A field is invalid or unknown; the message names it.", body = ErrorBody),
        (status = 403, description = "The caller is not an admin.", body = ErrorBody),
        (status = 404, description = "No stored export of that name.", body = ErrorBody),
        (status = 409, description = "The export is configured, or the new name is taken.", body = ErrorBody),
    )
)]
pub async fn patch_api(
    State(state): State<AppState>,
    who: Principal,
    addr: ClientAddr,
    Path(name): Path<String>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> Result<Response, ApiError> {
    admin(&who)?;
    let change = json_body(body)?;
    let serde_json::Value::Object(change) = change else {
        return Err(ApiError::invalid(
            "the body must be a JSON object of the fields to change",
        ));
    };
    let stored = state
        .store
        .stored_export(&name)
        .await?
        .ok_or_else(|| missing(&state, &name))?;
    let mut merged = match stored.definition {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    for (k, v) in change {
        if v.is_null() {
            merged.remove(&k);
        } else {
            merged.insert(k, v);
        }
    }
    let config: ExportConfig = serde_json::from_value(serde_json::Value::Object(merged))
        .map_err(|e| ApiError::invalid(format!("export {name:?}: {e}")))?;
    let found = replace(&state, &who, &addr, &name, &config).await?;
    Ok(Json(ExportItem::of(&found, false)).into_response())
}

/// `DELETE /api/v1/exports/{name}`
#[utoipa::path(
    delete,
    path = "/api/v1/exports/{name}",
    tag = "exports",
    summary = "Delete a stored export (admin)",
    description = "Its URLs answer 404 from then on. Audited.",
    params(("name" = String, Path, description = "The stored export.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 403, description = "The caller is not an admin.", body = ErrorBody),
        (status = 404, description = "No stored export of that name.", body = ErrorBody),
        (status = 409, description = "The export is configured: remove it from the configuration.", body = ErrorBody),
    )
)]
pub async fn delete_api(
    State(state): State<AppState>,
    who: Principal,
    addr: ClientAddr,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    admin(&who)?;
    remove(&state, &who, &addr, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
