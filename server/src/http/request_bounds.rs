//! Request middleware refusing what no handler could use: a URL holding an encoded U+0000 (422, as
//! in a body: PostgreSQL text cannot store it, so it must never reach a query parameter that is
//! bound into SQL), and bounding what one request body may cost: an announced `Content-Length` over
//! `MAX_REQUEST_BODY_BYTES` is answered 413 before a byte of the body is read (a client announcing
//! 1 GB and sending nothing must not hold the connection), and the whole body must arrive within
//! `HTTP_BODY_TIMEOUT_SECONDS` (a body trickled a byte at a time is answered 408). Bodies without a
//! length are still cut at the limit while they are read (`DefaultBodyLimit` in the router).
//!
//! Why not tower-http's `RequestBodyLimitLayer` / `RequestBodyDeadlineLayer`: both change the body
//! type the router receives, and the limit layer answers with its own plain-text 413 instead of
//! the contract's JSON; these two functions wrap the same `DeadlineBody` and keep `Body` and our
//! error bodies.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::timeout::DeadlineBody;

use code4me_shared::validation::Issue;
use serde_json::Value;

use crate::contract::error::ApiError;
use crate::services::state::AppState;

/// 413 for a request whose `Content-Length` exceeds the body limit; the rest pass on.
pub async fn refuse_oversize_length(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let announced = request.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|length| length > state.settings.max_body_bytes as u64) {
        return ApiError::PayloadTooLarge.into_response();
    }
    next.run(request).await
}

/// Gives the request body a deadline, counted from now: reading it afterwards fails, and
/// [`crate::http::extract::JsonBody`] answers 408.
pub async fn body_deadline(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let timeout = state.settings.connections.body_timeout;
    next.run(request.map(|body| Body::new(DeadlineBody::new(timeout, body)))).await
}

/// 422 `string_nul` for a path or query string holding `%00`, for every route at once (a raw NUL
/// cannot be in a URL at all: hyper refuses it).
pub async fn refuse_nul_in_url(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let place = if has_encoded_nul(uri.path()) {
        Some("path")
    } else if uri.query().is_some_and(has_encoded_nul) {
        Some("query")
    } else {
        None
    };
    if let Some(place) = place {
        let issue = Issue::new("string_nul", vec![Value::from(place)], "String should not contain NUL (U+0000) characters", Value::Null, None);
        return ApiError::Validation(vec![issue]).into_response();
    }
    next.run(request).await
}

/// Whether percent-decoding `raw` would give U+0000.
fn has_encoded_nul(raw: &str) -> bool {
    raw.as_bytes().windows(3).any(|w| w == b"%00")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_encoded_nul_counts() {
        assert!(has_encoded_nul("language=py%00") && has_encoded_nul("/api/x%00y"));
        assert!(!has_encoded_nul("a=%2500") && !has_encoded_nul("a=100%25") && !has_encoded_nul("a=%20"));
    }
}
