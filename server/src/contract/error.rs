//! The one error type services and handlers return: every failure as the contract renders it
//! (status and body), for HTTP responses ([`crate::http::error`]) and WebSocket result frames alike.
//! It lives with the contract rather than in `http/` because the WebSocket answers with the same
//! statuses and bodies inside its frames.
//!
//! Policy: every failure a client can cause is a variant with a 4xx status and the contract's body —
//! `{"message": ...}` on the Code4me endpoints, `{"detail": ...}` where upstream (FastAPI) answers
//! with `detail` (404, 405, 422 validation lists, analytics, config), HTML on the pages linked from
//! mails. Anything unexpected is `Failed`/`Internal`: logged once with its whole cause chain, answered
//! with the endpoint's contract 500 message (or an opaque one). A 500 is a bug to fix.

use axum::http::StatusCode;
use code4me_shared::validation::Issue;
use serde_json::Value;

use crate::contract::messages;
use crate::contract::responses::{Detail, Message, to_body};

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
        let (status, body) = match self {
            Self::NotFound => (StatusCode::NOT_FOUND, detail(messages::NOT_FOUND)),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, detail(messages::METHOD_NOT_ALLOWED)),
            Self::Message(status, text) => (status, message(text)),
            Self::Detail(status, text) => (status, detail(text)),
            Self::Validation(issues) => (StatusCode::UNPROCESSABLE_ENTITY, to_body(&Detail { detail: to_body(&issues) })),
            Self::Html(status, page) => (status, detail(page)),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, detail(messages::PAYLOAD_TOO_LARGE)),
            Self::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, detail(messages::REQUEST_TIMEOUT)),
            Self::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, message(messages::TOO_MANY_REQUESTS)),
            Self::Failed { message: text, source } => {
                tracing::error!(error = format!("{source:#}"), "{text}");
                (StatusCode::INTERNAL_SERVER_ERROR, message(text))
            }
            Self::Unavailable(error) => {
                tracing::error!(error = format!("{error:#}"), "dependency unavailable");
                (StatusCode::SERVICE_UNAVAILABLE, detail(messages::UNAVAILABLE))
            }
            Self::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "unexpected error");
                (StatusCode::INTERNAL_SERVER_ERROR, detail(messages::INTERNAL_ERROR))
            }
        };
        (status, body)
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

/// `{"message": text}`.
fn message(text: &str) -> Value {
    to_body(&Message::new(text))
}

/// `{"detail": text}`.
fn detail(text: impl Into<String>) -> Value {
    to_body(&Detail { detail: Value::String(text.into()) })
}
