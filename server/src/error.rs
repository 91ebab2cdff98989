//! The one error type handlers return, rendered the way the contract says.
//!
//! Policy: every failure a client can cause is a variant with a 4xx status and the contract's body —
//! `{"message": ...}` on the Code4me endpoints, `{"detail": ...}` where upstream (FastAPI) answers
//! with `detail` (404, 405, analytics, config). Anything unexpected is `Internal`: it is logged once
//! with its whole cause chain and answers an opaque 500. A 500 is a bug to fix, not a response to design.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error a handler returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No route matches the path (`404 {"detail":"Not Found"}`, as FastAPI).
    #[error("not found")]
    NotFound,
    /// The path exists but not for this method (`405 {"detail":"Method Not Allowed"}`).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A bug or an unexpected dependency failure.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::NotFound => (StatusCode::NOT_FOUND, Json(json!({"detail": "Not Found"}))).into_response(),
            Self::MethodNotAllowed => {
                (StatusCode::METHOD_NOT_ALLOWED, Json(json!({"detail": "Method Not Allowed"}))).into_response()
            }
            Self::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "unexpected error");
                (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"detail": "Internal Server Error"}))).into_response()
            }
        }
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
