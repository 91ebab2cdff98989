//! The one error type handlers return, rendered the way the contract says.
//!
//! Policy: every failure a client can cause is a variant with a 4xx status and the contract's body —
//! `{"message": ...}` on the Code4me endpoints, `{"detail": ...}` where upstream (FastAPI) answers
//! with `detail` (404, 405, 422 validation lists, analytics, config), HTML on the pages linked from
//! mails. Anything unexpected is `Failed`/`Internal`: logged once with its whole cause chain, answered
//! with the endpoint's contract 500 message (or an opaque one). A 500 is a bug to fix.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use code4me_shared::validation::Issue;
use serde_json::{Value, json};

use crate::contract::messages;

/// An error a handler returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No route matches the path (`404 {"detail":"Not Found"}`, as FastAPI).
    #[error("not found")]
    NotFound,
    /// The path exists but not for this method (`405 {"detail":"Method Not Allowed"}`).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A contract outcome: `status {"message": text}`.
    #[error("{1}")]
    Message(StatusCode, &'static str),
    /// `status {"detail": text}`.
    #[error("{1}")]
    Detail(StatusCode, String),
    /// `422 {"detail": [issue, ...]}` in pydantic's shape.
    #[error("invalid request: {0:?}")]
    Validation(Vec<Issue>),
    /// An HTML page with this status (links followed from mails land on pages, not JSON).
    #[error("html page {0}")]
    Html(StatusCode, String),
    /// The body exceeded `MAX_REQUEST_BODY_BYTES`.
    #[error("request body too large")]
    PayloadTooLarge,
    /// The client sent its body too slowly (`HTTP_BODY_TIMEOUT_SECONDS`).
    #[error("request body timeout")]
    RequestTimeout,
    /// The client exceeded its hourly request budget for this path.
    #[error("too many requests")]
    TooManyRequests,
    /// Unexpected failure inside an endpoint whose contract names its own 500 message.
    #[error("{message}: {source:#}")]
    Failed {
        /// The contract's 500 message for this endpoint.
        message: &'static str,
        /// What went wrong (logged, never sent).
        source: anyhow::Error,
    },
    /// A dependency (Redis, PostgreSQL) is down: `503`, so clients retry instead of giving up.
    #[error("dependency unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    /// Unexpected failure anywhere else.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A PostgreSQL failure where the endpoint has no contract 500 of its own: a 503, so clients
    /// retry.
    pub fn database(error: sqlx::Error) -> Self {
        Self::Unavailable(error.into())
    }

    /// `401 {"message": INVALID_AUTH_TOKEN}`.
    pub fn unauthenticated() -> Self {
        Self::Message(StatusCode::UNAUTHORIZED, messages::INVALID_AUTH_TOKEN)
    }
}

impl ApiError {
    /// The status and JSON body this error answers with (logging unexpected causes once), for
    /// HTTP responses and WebSocket result frames alike. HTML pages come back as `{"detail": page}`.
    pub fn status_and_body(self) -> (StatusCode, Value) {
        match self {
            Self::NotFound => (StatusCode::NOT_FOUND, json!({"detail": "Not Found"})),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, json!({"detail": "Method Not Allowed"})),
            Self::Message(status, message) => (status, json!({"message": message})),
            Self::Detail(status, detail) => (status, json!({"detail": detail})),
            Self::Validation(issues) => (StatusCode::UNPROCESSABLE_ENTITY, json!({"detail": issues})),
            Self::Html(status, page) => (status, json!({"detail": page})),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, json!({"detail": "Request body too large"})),
            Self::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, json!({"detail": "Request body not received in time"})),
            Self::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, json!({"message": messages::TOO_MANY_REQUESTS})),
            Self::Failed { message, source } => {
                tracing::error!(error = format!("{source:#}"), "{message}");
                (StatusCode::INTERNAL_SERVER_ERROR, json!({"message": message}))
            }
            Self::Unavailable(error) => {
                tracing::error!(error = format!("{error:#}"), "dependency unavailable");
                (StatusCode::SERVICE_UNAVAILABLE, json!({"detail": "Service temporarily unavailable; try again shortly."}))
            }
            Self::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "unexpected error");
                (StatusCode::INTERNAL_SERVER_ERROR, json!({"detail": "Internal Server Error"}))
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Html(status, page) = self {
            return (status, Html(page)).into_response();
        }
        let (status, body) = self.status_and_body();
        (status, Json(body)).into_response()
    }
}

impl From<Vec<Issue>> for ApiError {
    fn from(issues: Vec<Issue>) -> Self {
        Self::Validation(issues)
    }
}

/// Attaches an endpoint's contract 500 message to an unexpected error.
pub trait OrFail<T> {
    /// Maps `Err(e)` to [`ApiError::Failed`] with `message`.
    fn or_fail(self, message: &'static str) -> Result<T, ApiError>;
}

impl<T, E: Into<anyhow::Error>> OrFail<T> for Result<T, E> {
    fn or_fail(self, message: &'static str) -> Result<T, ApiError> {
        self.map_err(|e| ApiError::Failed { message, source: e.into() })
    }
}

/// Gives axum's bodiless 405s (a known path, another method) the contract's JSON body.
pub async fn method_not_allowed_body(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let response = next.run(request).await;
    if response.status() == StatusCode::METHOD_NOT_ALLOWED {
        let allow = response.headers().get(axum::http::header::ALLOW).cloned();
        let mut rendered = ApiError::MethodNotAllowed.into_response();
        if let Some(allow) = allow {
            rendered.headers_mut().insert(axum::http::header::ALLOW, allow);
        }
        return rendered;
    }
    response
}

/// Gives axum's own plain-text rejections on API paths (a path segment that is not the declared
/// integer, a query string its deserializer refuses, a body over the limit read as raw bytes) the
/// contract's `{"detail": ...}` body, so every 4xx of the API is JSON, as the OpenAPI document says.
pub async fn plain_rejection_body(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    let plain = response.headers().get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/plain"));
    if !(api && plain && response.status().is_client_error()) {
        return response;
    }
    let status = response.status();
    // axum's rejection texts are one short line; anything longer is cut, never buffered whole.
    let text = axum::body::to_bytes(response.into_body(), 4096).await.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    ApiError::Detail(status, text).into_response()
}
