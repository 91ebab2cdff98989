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
    /// A PostgreSQL failure where the endpoint has no contract 500 of its own: a 503 when the
    /// database is unreachable, overloaded or restarting (clients retry), and a 500 for everything
    /// else — a query the data broke (overflow, constraint, decode) is a bug to fix, and reporting
    /// it as an outage would hide it.
    pub fn database(error: sqlx::Error) -> Self {
        if is_unavailability(&error) { Self::Unavailable(error.into()) } else { Self::Internal(error.into()) }
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

/// Whether a PostgreSQL error means the database cannot serve right now (connection lost, pool
/// exhausted, shutting down, out of resources, statement timeout) rather than that this query is
/// wrong. SQLSTATE classes 08 (connection exception) and 53 (insufficient resources); 57P01–57P03
/// (shutdown, cannot connect now) and 57014 (query cancelled: a statement timeout); 40001/40P01
/// (serialization failure, deadlock: transient, safe to retry).
fn is_unavailability(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("53") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "57014" | "40001" | "40P01")
        }),
        _ => false,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_a_503_and_a_broken_query_a_500() {
        for down in [sqlx::Error::PoolTimedOut, sqlx::Error::PoolClosed, sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into())] {
            assert_eq!(ApiError::database(down).status_and_body().0, StatusCode::SERVICE_UNAVAILABLE);
        }
        for bug in [sqlx::Error::RowNotFound, sqlx::Error::ColumnNotFound("typing_speed".into()), sqlx::Error::Protocol("unexpected".into())] {
            let (status, body) = ApiError::database(bug).status_and_body();
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(body, serde_json::json!({"detail": messages::INTERNAL_ERROR}), "the cause is logged, not sent");
        }
    }
}
