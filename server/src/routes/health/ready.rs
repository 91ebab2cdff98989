//! `GET /api/health/ready`: whether this instance should get traffic — PostgreSQL and Redis answer
//! and a live worker serves the default completion model.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::contract::health::{Readiness, ReadyStatus};
use crate::services::health;
use crate::services::state::AppState;

/// 200 when every check passes, 503 with each check's outcome otherwise.
#[utoipa::path(
    get,
    path = "/api/health/ready",
    tag = "ops",
    responses(
        (status = 200, description = "PostgreSQL, Redis and a worker serving the default completion model are there", body = Readiness),
        (status = 503, description = "At least one check failed; each says why", body = Readiness)
    )
)]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let readiness = health::readiness(&state).await;
    let code = if readiness.status == ReadyStatus::Ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(readiness))
}
