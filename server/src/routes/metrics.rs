//! `GET /metrics`: Prometheus text exposition of the process's metrics.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::services::state::AppState;

/// Renders every metric recorded in this process.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
}
