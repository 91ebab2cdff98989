//! `GET /api/status`: the task API's service status — version, uptime, the provider chain and
//! whether the default chat model is served now.

use axum::Json;
use axum::extract::State;

use crate::contract::tasks::ServiceStatus;
use crate::services::ai_status;
use crate::services::state::AppState;

/// Version, uptime, providers and the default model.
#[utoipa::path(get, path = "/api/status", tag = "tasks",
    responses((status = 200, description = "The service's status", body = ServiceStatus)))]
pub async fn status(State(state): State<AppState>) -> Json<ServiceStatus> {
    Json(ai_status::status(&state).await)
}
