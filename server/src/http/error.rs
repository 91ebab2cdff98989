//! How an [`ApiError`] becomes an HTTP response, and the middleware that gives axum's own bodiless
//! or plain-text rejections the contract's JSON body.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::contract::error::ApiError;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Html(status, page) = self {
            return (status, Html(page)).into_response();
        }
        let (status, body) = self.status_and_body();
        (status, Json(body)).into_response()
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
