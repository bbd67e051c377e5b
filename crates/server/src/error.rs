//! The one JSON error body of the API, and the mapping from neutral error
//! kinds to HTTP statuses. Internal errors are logged, not shown.
//!
//! Handlers answer with [`ApiError`]; what answers before a handler runs —
//! axum's routing (404, 405), its extractors (a path segment that is not
//! UTF-8, a body over the limit) — is put in the same shape by
//! [`one_error_shape`], so an API client never parses plain text.

use axum::Json;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rexist_store::{ErrorKind, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

/// An API error: a stable code, a message for humans, a status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

/// The one error body of the API, as served and as the OpenAPI document
/// describes it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": {"code": "not_found", "message": "no hunt named \"x\""}}))]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable code: `invalid` (400), `unauthenticated` (401), `forbidden`
    /// (403), `not_found` (404), `method_not_allowed` (405), `conflict`
    /// (409), `payload_too_large` (413), `internal` (500), `unavailable`
    /// (503). Every refusal under `/api` has this body, the router's and
    /// the request parser's included.
    #[schema(pattern = "^[a-z_]+$")]
    pub code: String,
    /// For humans; for 400 it names the parameter or field and why.
    pub message: String,
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

    /// 413: the request body is larger than this endpoint takes.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "payload_too_large",
            message: message.into(),
        }
    }

    /// An error with `status` and the stable code for it; a 5xx message is
    /// replaced (its cause is logged by whoever produced it).
    pub fn from_status(status: StatusCode, message: impl Into<String>) -> Self {
        let code = match status {
            StatusCode::UNAUTHORIZED => "unauthenticated",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::NOT_ACCEPTABLE => "not_acceptable",
            StatusCode::CONFLICT => "conflict",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            s if s.is_server_error() => "internal",
            _ => "invalid",
        };
        let message = if status.is_server_error() {
            "the server failed to answer; see its log".to_owned()
        } else {
            message.into()
        };
        Self {
            status,
            code,
            message,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

/// A query string, or the 400 that names what in it is wrong.
pub(crate) fn query<T>(
    q: Result<axum::extract::Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    q.map(|axum::extract::Query(t)| t)
        .map_err(|e| ApiError::invalid(format!("invalid query string: {}", e.body_text())))
}

/// A JSON body, or the error that names what in it is wrong: 413 for a body
/// over the endpoint's limit, 400 for anything else.
pub(crate) fn json_body<T>(
    b: Result<Json<T>, axum::extract::rejection::JsonRejection>,
) -> Result<T, ApiError> {
    b.map(|Json(t)| t).map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(format!("the request body is too large: {}", e.body_text()))
        } else {
            ApiError::invalid(format!("invalid JSON body: {}", e.body_text()))
        }
    })
}

/// Which error body a path's clients read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorArea {
    /// The REST API and EXIST's API: [`ApiError`]'s body.
    Api,
    /// TAXII 2.1: TAXII's own error body.
    Taxii,
    /// The UI, exports, `/metrics`: left as they are.
    Other,
}

impl ErrorArea {
    fn of(path: &str) -> Self {
        if path == "/taxii2" || path.starts_with("/taxii2/") {
            Self::Taxii
        } else if path == "/api" || path.starts_with("/api/") {
            Self::Api
        } else {
            Self::Other
        }
    }
}

/// Longest plain-text refusal carried over into the JSON message.
const MESSAGE_CAP: usize = 1024;

/// Whether a response already has a JSON body (the API's or TAXII's).
fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"))
}

/// Middleware: every error answer under `/api` is the API's JSON error
/// body and every one under `/taxii2` TAXII's, whoever produced it — axum's
/// router (404, 405 with its `Allow` header kept) or an extractor's
/// rejection (a path segment that is not UTF-8, a body over the limit: 413).
pub async fn one_error_shape(req: Request, next: Next) -> Response {
    let area = ErrorArea::of(req.uri().path());
    let response = next.run(req).await;
    let status = response.status();
    if area == ErrorArea::Other
        || !(status.is_client_error() || status.is_server_error())
        || is_json(&response)
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    // Rejections are one short line; a longer body is not worth echoing.
    let text = match axum::body::to_bytes(body, MESSAGE_CAP).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("refused")
            .to_ascii_lowercase()
    } else {
        text
    };
    let mut fresh = match area {
        ErrorArea::Taxii => crate::taxii::wire::TaxiiError::new(
            status,
            status.canonical_reason().unwrap_or("Error"),
            message,
        )
        .into_response(),
        ErrorArea::Api | ErrorArea::Other => ApiError::from_status(status, message).into_response(),
    };
    // `Allow`, `WWW-Authenticate`, `Retry-After` and the like still hold;
    // the type and length are the new body's.
    let mut headers = parts.headers;
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::CONTENT_TYPE);
    for (name, value) in fresh.headers() {
        if !headers.contains_key(name) {
            headers.insert(name.clone(), value.clone());
        }
    }
    *fresh.headers_mut() = headers;
    fresh
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
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}
