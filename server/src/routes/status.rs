//! `GET /api/status`: the task API's service status — version, uptime, the provider chain and
//! whether the default chat model is served now.

use axum::Json;
use axum::extract::State;

use crate::contract::tasks::ServiceStatus;
use crate::services::ai_status;
use crate::services::state::AppState;

/// Version, uptime, providers and the default model.
#[utoipa::path(get, path = "/api/status", tag = "tasks",
    responses(
        (status = 200, description = "The service's status", body = ServiceStatus),
        (status = 422, description = "The URL holds an encoded U+0000", body = crate::contract::tasks::TaskError),
        (status = 429, description = "Too many requests from this address", body = crate::contract::tasks::TaskError,
            headers(("Retry-After" = u64, description = "Seconds until the spent budget resets"))),
        (status = 503, description = "The service cannot answer now", body = crate::contract::tasks::TaskError)
    ))]
pub async fn status(State(state): State<AppState>) -> Json<ServiceStatus> {
    Json(ai_status::status(&state).await)
}
