//! `GET /health`: the suggestion API's health at the design document's path, for the load
//! balancers and editor plugins that probe it (no credentials: it tells nothing about anyone).

use axum::Json;
use axum::extract::State;

use crate::contract::suggestions::ServiceHealth;
use crate::services::state::AppState;
use crate::services::suggestions;

/// Whether suggestions can be served: the models live workers serve, and the cache.
#[utoipa::path(get, path = "/health", tag = "suggestions",
    responses((status = 200, description = "`ok`, or `degraded` when no model is served or the cache is unreachable", body = ServiceHealth)))]
pub async fn health(State(state): State<AppState>) -> Json<ServiceHealth> {
    Json(suggestions::health(&state).await)
}
