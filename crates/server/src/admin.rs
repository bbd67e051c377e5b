//! Logins, users, tokens and the audit log over the API.
//!
//! `POST /api/v1/login` starts a UI session (cookie plus CSRF token),
//! `POST /api/v1/logout` ends it; users, tokens and the audit log are for
//! admins only (the policy is in [`crate::auth::required_role`]).

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rexist_core::{ApiToken, AuditEntry, NewAudit, NewToken, Role, Scope, User};
use rexist_store::{Page, UserChange};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{
    CSRF_HEADER, Principal, SESSION_COOKIE, SESSION_LIFETIME, TOKEN_PREFIX, audit, check_password,
    cookie, hash_password, new_secret, secret_hash,
};
use crate::error::ErrorBody;
use crate::error::{ApiError, json_body, query};

/// Body of `POST /api/v1/login`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
}

/// Answer of `POST /api/v1/login`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginAnswer {
    /// The user's name.
    pub user: String,
    /// The user's role.
    pub role: Role,
    /// The most restricted TLP the user reads.
    pub clearance: rexist_core::Tlp,
    /// The CSRF token to send as `X-CSRF-Token` on every write of this session.
    pub csrf: String,
}

/// `POST /api/v1/login`: checks a password and starts a session.
#[utoipa::path(
    post,
    path = "/api/v1/login",
    tag = "auth",
    summary = "Start a UI session",
    description = "Checks a user's password; sets the `rexist_session` cookie and answers with the CSRF token for writes. Needs no credentials.",
    request_body = Login,
    security(()),
    responses(
        (status = 200, description = "Logged in.", body = LoginAnswer, headers(
            ("Set-Cookie" = String, description = "The `rexist_session` cookie (HttpOnly, SameSite=Strict)."),
            ("X-CSRF-Token" = String, description = "The session's CSRF token, as in the body."),
        )),
        (status = 400, description = "The body is invalid.", body = ErrorBody),
        (status = 401, description = "Wrong user name or password, or a disabled user.", body = ErrorBody),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    addr: crate::auth::ClientAddr,
    body: Result<Json<Login>, JsonRejection>,
) -> Result<Response, ApiError> {
    let login = json_body(body)?;
    let Some(session) =
        start_session(&state, &login.user, &login.password, addr.0.as_deref()).await?
    else {
        return Err(ApiError::unauthorized("wrong user name or password"));
    };
    let mut response = Json(LoginAnswer {
        user: session.user,
        role: session.principal.role,
        clearance: session.principal.clearance,
        csrf: session.csrf.clone(),
    })
    .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&session.cookie)
            .map_err(|_| ApiError::invalid("unusable session cookie"))?,
    );
    response.headers_mut().insert(
        CSRF_HEADER,
        HeaderValue::from_str(&session.csrf).map_err(|_| ApiError::invalid("csrf"))?,
    );
    Ok(response)
}

/// A started UI session.
#[derive(Debug)]
pub struct Session {
    /// The user's name.
    pub user: String,
    /// Who the session acts as.
    pub principal: Principal,
    /// The `Set-Cookie` value.
    pub cookie: String,
    /// The CSRF token writes must send back.
    pub csrf: String,
}

/// Checks a password and starts a session (audited); `None` for a wrong
/// name or password or a disabled user.
pub async fn start_session(
    state: &AppState,
    user: &str,
    password: &str,
    address: Option<&str>,
) -> Result<Option<Session>, ApiError> {
    let Some((principal, user)) = check_password(state, user, password, address).await? else {
        return Ok(None);
    };
    open_session(state, principal, user, address)
        .await
        .map(Some)
}

/// Starts a session (audited as a login) for a user whose password was
/// just checked.
pub async fn open_session(
    state: &AppState,
    principal: Principal,
    user: User,
    address: Option<&str>,
) -> Result<Session, ApiError> {
    let (secret, csrf) = (new_secret("s_"), new_secret(""));
    let expires = rexist_core::model::now() + SESSION_LIFETIME;
    state
        .store
        .create_token(&NewToken {
            name: user.name.clone(),
            kind: "session".to_owned(),
            role: user.role,
            scopes: Vec::new(),
            user: Some(user.name.clone()),
            hash: secret_hash(&secret),
            prefix: secret.chars().take(8).collect(),
            expires_at: Some(expires),
            csrf: Some(csrf.clone()),
        })
        .await?;
    audit(
        state,
        NewAudit {
            actor: user.name.clone(),
            action: "login".to_owned(),
            target: None,
            outcome: "ok".to_owned(),
            address: address.map(str::to_owned),
        },
    )
    .await;
    let secure = if state.auth.config.insecure_cookies {
        ""
    } else {
        "; Secure"
    };
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        SESSION_LIFETIME.as_secs()
    );
    Ok(Session {
        user: user.name,
        principal: Principal {
            csrf: Some(csrf.clone()),
            ..principal
        },
        cookie,
        csrf,
    })
}

/// `POST /api/v1/logout`: ends the session of the cookie sent.
#[utoipa::path(
    post,
    path = "/api/v1/logout",
    tag = "auth",
    summary = "End the session of the cookie sent",
    responses((status = 204, description = "Logged out; the cookie is cleared.", headers(
        ("Set-Cookie" = String, description = "Clears `rexist_session`."),
    )))
)]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(secret) = cookie(&headers, SESSION_COOKIE) {
        state.store.end_session(&secret_hash(&secret)).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("rexist_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(response)
}

/// Answer of `GET /api/v1/me`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// A user name, `token:NAME`, or `anonymous`.
    pub name: String,
    /// What the caller may do.
    pub role: Role,
    /// The most restricted TLP the caller reads.
    pub clearance: rexist_core::Tlp,
    /// Where a token may be used (empty: everywhere).
    pub scopes: Vec<Scope>,
}

/// `GET /api/v1/me`: who the caller is.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "auth",
    summary = "Who the caller is",
    responses((status = 200, description = "The caller.", body = Me))
)]
pub async fn me(principal: Principal) -> Json<Me> {
    Json(Me {
        name: principal.name,
        role: principal.role,
        clearance: principal.clearance,
        scopes: principal.scopes,
    })
}

/// Body of `POST /api/v1/users`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Login name (1 to 64 characters, no spaces or control characters).
    #[schema(min_length = 1, max_length = 64, pattern = r"^\S+$")]
    pub name: String,
    /// Initial password (at least 8 characters).
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
    /// Role.
    pub role: Role,
}

/// Checks a new password's length.
pub fn check_password_strength(password: &str) -> Result<(), String> {
    if password.chars().count() < 8 {
        return Err("the password must have at least 8 characters".to_owned());
    }
    if password.len() > 1024 {
        return Err("the password is longer than 1024 bytes".to_owned());
    }
    Ok(())
}

/// `GET /api/v1/users`
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "admin",
    summary = "List users (admin)",
    responses((status = 200, description = "Every user.", body = Vec<User>))
)]
pub async fn users(State(state): State<AppState>) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(state.store.list_users().await?))
}

/// `POST /api/v1/users`
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "admin",
    summary = "Create a user (admin)",
    request_body = NewUser,
    responses(
        (status = 201, description = "Created.", body = User),
        (status = 400, description = "The body is invalid or the password too short.", body = ErrorBody),
        (status = 409, description = "A user of that name exists.", body = ErrorBody),
    )
)]
pub async fn create_user(
    State(state): State<AppState>,
    body: Result<Json<NewUser>, JsonRejection>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let u = json_body(body)?;
    check_password_strength(&u.password).map_err(ApiError::invalid)?;
    let hash = hash_password(&u.password).map_err(ApiError::invalid)?;
    let user = state.store.create_user(&u.name, &hash, u.role).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Body of `PATCH /api/v1/users/{name}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// New password (at least 8 characters).
    #[schema(min_length = 8, max_length = 1024)]
    pub password: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// Disable or enable.
    pub disabled: Option<bool>,
}

/// `PATCH /api/v1/users/{name}`
#[utoipa::path(
    patch,
    path = "/api/v1/users/{name}",
    tag = "admin",
    summary = "Change a user's password, role or state (admin)",
    params(("name" = String, Path, description = "The user's login name.")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "The user as it is now.", body = User),
        (status = 400, description = "The body is invalid or the password too short.", body = ErrorBody),
        (status = 404, description = "No user of that name.", body = ErrorBody),
    )
)]
pub async fn update_user(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<Json<UserPatch>, JsonRejection>,
) -> Result<Json<User>, ApiError> {
    let patch = json_body(body)?;
    let password_hash = match &patch.password {
        Some(p) => {
            check_password_strength(p).map_err(ApiError::invalid)?;
            Some(hash_password(p).map_err(ApiError::invalid)?)
        }
        None => None,
    };
    let change = UserChange {
        password_hash,
        role: patch.role,
        disabled: patch.disabled,
    };
    let user = state
        .store
        .update_user(&name, &change)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no user {name:?}")))?;
    if let (Some(_), Some(dir)) = (&change.password_hash, &state.data_dir) {
        crate::first_admin::password_changed(dir, &name);
    }
    Ok(Json(user))
}

/// Body of `POST /api/v1/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Name (unique among live tokens; 1 to 64 characters, no spaces or control characters).
    #[schema(min_length = 1, max_length = 64, pattern = r"^\S+$")]
    pub name: String,
    /// Role it acts with.
    pub role: Role,
    /// Where it may be used (`api`, `taxii`, `export`); everywhere when empty.
    #[serde(default)]
    pub scopes: Vec<Scope>,
    /// Lifetime in days (at most 36,500); forever when absent.
    #[schema(maximum = 36500)]
    pub expires_days: Option<u32>,
}

/// The longest lifetime a token can be given, in days (100 years).
pub const MAX_TOKEN_DAYS: u32 = 36_500;

/// Creates a token; returns the stored record and the secret, shown once.
pub async fn issue_token(
    store: &dyn rexist_store::Store,
    req: &TokenRequest,
) -> Result<(ApiToken, String), rexist_store::StoreError> {
    let expires_at = match req.expires_days {
        // Far beyond any real use, and far from the end of time, where
        // adding to the date would overflow.
        Some(d) if d > MAX_TOKEN_DAYS => {
            return Err(rexist_store::StoreError::invalid(format!(
                "expires_days: {d} is more than {MAX_TOKEN_DAYS}"
            )));
        }
        Some(d) => Some(rexist_core::model::now() + time::Duration::days(i64::from(d))),
        None => None,
    };
    let secret = new_secret(TOKEN_PREFIX);
    let token = store
        .create_token(&NewToken {
            name: req.name.clone(),
            kind: "token".to_owned(),
            role: req.role,
            scopes: req.scopes.clone(),
            user: None,
            hash: secret_hash(&secret),
            prefix: secret.chars().take(TOKEN_PREFIX.len() + 6).collect(),
            expires_at,
            csrf: None,
        })
        .await?;
    Ok((token, secret))
}

/// `GET /api/v1/tokens`
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    tag = "admin",
    summary = "List tokens and sessions (admin)",
    responses((status = 200, description = "Every token and session, without secrets.", body = Vec<ApiToken>))
)]
pub async fn tokens(State(state): State<AppState>) -> Result<Json<Vec<ApiToken>>, ApiError> {
    Ok(Json(state.store.list_tokens().await?))
}

/// Answer of `POST /api/v1/tokens`.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewTokenAnswer {
    /// The stored token.
    pub token: ApiToken,
    /// The secret (`rexist_…`), shown this once.
    pub secret: String,
}

/// `POST /api/v1/tokens`: the answer carries the secret, which is never shown again.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "admin",
    summary = "Create an API token (admin)",
    request_body = TokenRequest,
    responses(
        (status = 201, description = "Created; the secret is never shown again.", body = NewTokenAnswer),
        (status = 400, description = "The body is invalid.", body = ErrorBody),
        (status = 409, description = "A live token of that name exists.", body = ErrorBody),
    )
)]
pub async fn create_token(
    State(state): State<AppState>,
    body: Result<Json<TokenRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<NewTokenAnswer>), ApiError> {
    let req = json_body(body)?;
    let (token, secret) = issue_token(state.store.as_ref(), &req).await?;
    Ok((StatusCode::CREATED, Json(NewTokenAnswer { token, secret })))
}

/// `DELETE /api/v1/tokens/{name}`
#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{name}",
    tag = "admin",
    summary = "Revoke a token (admin)",
    params(("name" = String, Path, description = "The token's name.")),
    responses(
        (status = 204, description = "Revoked."),
        (status = 404, description = "No live token of that name.", body = ErrorBody),
    )
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    match state.store.revoke_token("token", &name).await? {
        0 => Err(ApiError::not_found(format!("no live token {name:?}"))),
        _ => Ok(StatusCode::NO_CONTENT),
    }
}

/// Query of `GET /api/v1/audit`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// Cursor from the previous page's `next`.
    #[param(pattern = "^[0-9]{0,18}$")]
    pub cursor: Option<String>,
    /// Page size: 50 when absent or 0, at most 1000 (larger values are capped).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 4_294_967_295_u64)]
    pub limit: Option<u32>,
}

/// `GET /api/v1/audit`: newest first.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "admin",
    summary = "The audit log, newest first (admin)",
    params(AuditParams),
    responses(
        (status = 200, description = "A page of audit entries.", body = Page<AuditEntry>),
        (status = 400, description = "A parameter is invalid.", body = ErrorBody),
    )
)]
pub async fn audit_log(
    State(state): State<AppState>,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Json<Page<AuditEntry>>, ApiError> {
    let p = query(params)?;
    let before = p
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| ApiError::invalid("parameter cursor: not a cursor from this list"))
        })
        .transpose()?;
    Ok(Json(
        state
            .store
            .list_audit(before, p.limit.unwrap_or(50))
            .await?,
    ))
}
