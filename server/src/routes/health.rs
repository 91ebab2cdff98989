//! `GET|HEAD /api/health`: whether the server can reach PostgreSQL and Redis right now (newer
//! upstream's contract, unchanged). The operators' endpoints are beside it: `live`, `ready`, `detailed`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::services::state::AppState;

/// Outcome of one dependency probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// The dependency answered in time.
    Ok,
    /// It failed or did not answer within `HEALTH_CHECK_TIMEOUT_MS`.
    Error,
}

/// Overall status: `ok` when every check passes, else `degraded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OverallStatus {
    /// Everything is reachable.
    Ok,
    /// At least one dependency is not.
    Degraded,
}

/// Per-dependency results.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthChecks {
    /// PostgreSQL answered `SELECT 1`.
    pub database: CheckStatus,
    /// Redis answered `PING`.
    pub redis: CheckStatus,
}

/// Body of `/api/health` (the shape of newer upstream's endpoint).
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthReport {
    /// `ok` or `degraded`.
    pub status: OverallStatus,
    /// Per-dependency results.
    pub checks: HealthChecks,
}

/// Probes both dependencies concurrently, each bounded by the health-check timeout, so the endpoint
/// answers promptly even while a dependency hangs.
#[utoipa::path(
    get,
    path = "/api/health",
    tag = "ops",
    responses(
        (status = 200, description = "PostgreSQL and Redis are reachable", body = HealthReport),
        (status = 503, description = "At least one dependency is unreachable", body = HealthReport)
    )
)]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<HealthReport>) {
    let timeout = state.settings.health_check_timeout;
    let database = async {
        let probe = crate::db::ping(&state.db);
        matches!(tokio::time::timeout(timeout, probe).await, Ok(Ok(_)))
    };
    let mut redis = state.redis.clone();
    let redis = async move {
        let probe = async { redis::cmd("PING").query_async::<String>(&mut redis).await };
        matches!(tokio::time::timeout(timeout, probe).await, Ok(Ok(_)))
    };
    let (database_ok, redis_ok) = tokio::join!(database, redis);
    let as_status = |ok: bool| if ok { CheckStatus::Ok } else { CheckStatus::Error };
    let healthy = database_ok && redis_ok;
    if !healthy {
        tracing::warn!(database.ok = database_ok, redis.ok = redis_ok, "health check degraded");
    }
    let report = HealthReport {
        status: if healthy { OverallStatus::Ok } else { OverallStatus::Degraded },
        checks: HealthChecks { database: as_status(database_ok), redis: as_status(redis_ok) },
    };
    let code = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(report))
}

pub mod detailed;
pub mod live;
pub mod ready;
