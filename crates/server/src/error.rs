//! The one JSON error body of the API, and the mapping from neutral error
//! kinds to HTTP statuses. Internal errors are logged, not shown.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rexist_store::{ErrorKind, StoreError};
use serde::Serialize;

/// An API error: a stable code, a message for humans, a status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    /// 400: the request is invalid; the message says which parameter and why.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid",
            message: message.into(),
        }
    }

    /// 409: it conflicts with what is stored or running.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            code: "conflict",
            message: message.into(),
        }
    }

    /// 401: no valid credentials.
    pub fn unauthenticated() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthenticated",
            message: "credentials required: a bearer token, basic auth or a session".to_owned(),
        }
    }

    /// 401: credentials were sent but are unusable.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthenticated",
            message: message.into(),
        }
    }

    /// 403: authenticated, but not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: message.into(),
        }
    }

    /// 401 after too many failed password checks: the credentials are not
    /// even checked until `wait` has passed. (401, not 429: to the client
    /// these credentials are refused, and clients handle 401.)
    pub fn too_many(wait: std::time::Duration) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "too_many_attempts",
            message: format!(
                "too many failed logins; try again in {} s",
                wait.as_secs().max(1)
            ),
        }
    }

    /// The message for humans.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// 404: nothing there.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
        }
    }
}

/// A query string, or the 400 that names what in it is wrong.
pub(crate) fn query<T>(
    q: Result<axum::extract::Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    q.map(|axum::extract::Query(t)| t)
        .map_err(|e| ApiError::invalid(format!("invalid query string: {}", e.body_text())))
}

/// A JSON body, or the 400 that names what in it is wrong.
pub(crate) fn json_body<T>(
    b: Result<Json<T>, axum::extract::rejection::JsonRejection>,
) -> Result<T, ApiError> {
    b.map(|Json(t)| t)
        .map_err(|e| ApiError::invalid(format!("invalid JSON body: {}", e.body_text())))
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let (status, code) = match e.kind() {
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ErrorKind::Invalid => (StatusCode::BAD_REQUEST, "invalid"),
            ErrorKind::Conflict => (StatusCode::CONFLICT, "conflict"),
            ErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let message = match e.kind() {
            ErrorKind::NotFound | ErrorKind::Invalid | ErrorKind::Conflict => e.to_string(),
            ErrorKind::Unavailable | ErrorKind::Internal => {
                tracing::error!(error = %e, "store error");
                "the store failed; see the server log".to_owned()
            }
        };
        Self {
            status,
            code,
            message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}
