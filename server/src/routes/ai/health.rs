//! `GET /api/ai/health`: the provider chain — each provider's circuit and models, and whether any
//! can serve (200 while one can, degraded or not; 503 when none can, so a load balancer or a
//! client's fallback logic can act on the status alone).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::services::ai_status;
use crate::services::state::AppState;

/// The provider chain's health.
#[utoipa::path(get, path = "/api/ai/health", tag = "tasks",
    responses(
        (status = 200, description = "Some provider can serve (`ok` or `degraded`)", body = crate::contract::tasks::AiHealth),
        (status = 422, description = "The URL holds an encoded U+0000", body = crate::contract::tasks::TaskError),
        (status = 429, description = "Too many requests from this address", body = crate::contract::tasks::TaskError,
            headers(("Retry-After" = u64, description = "Seconds until the spent budget resets"))),
        (status = 503, description = "No provider can serve (`unavailable`)", body = crate::contract::tasks::AiHealth)
    ))]
pub async fn health(State(state): State<AppState>) -> Response {
    let health = ai_status::health(&state).await;
    let status = if health.status == "unavailable" { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    (status, Json(health)).into_response()
}
