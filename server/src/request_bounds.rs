//! Request middleware bounding what one request body may cost: an announced `Content-Length` over
//! `MAX_REQUEST_BODY_BYTES` is answered 413 before a byte of the body is read (a client announcing
//! 1 GB and sending nothing must not hold the connection), and the whole body must arrive within
//! `HTTP_BODY_TIMEOUT_SECONDS` (a body trickled a byte at a time is answered 408). Bodies without a
//! length are still cut at the limit while they are read (`DefaultBodyLimit` in the router).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::timeout::DeadlineBody;

use crate::error::ApiError;
use crate::state::AppState;

/// 413 for a request whose `Content-Length` exceeds the body limit; the rest pass on.
pub async fn refuse_oversize_length(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let announced = request.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|length| length > state.settings.max_body_bytes as u64) {
        return ApiError::PayloadTooLarge.into_response();
    }
    next.run(request).await
}

/// Gives the request body a deadline, counted from now: reading it afterwards fails, and
/// [`crate::extract::JsonBody`] answers 408.
pub async fn body_deadline(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let timeout = state.settings.connections.body_timeout;
    next.run(request.map(|body| Body::new(DeadlineBody::new(timeout, body)))).await
}
