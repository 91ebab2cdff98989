//! `GET /api/health/live`: the process serves HTTP. Checks nothing else, so an orchestrator restarts
//! the process only when it is truly stuck, never because PostgreSQL or Redis blinked.

use axum::Json;

use crate::contract::health::Liveness;

/// Always 200 while the server answers at all.
#[utoipa::path(
    get,
    path = "/api/health/live",
    tag = "ops",
    responses((status = 200, description = "The process serves", body = Liveness))
)]
pub async fn live() -> Json<Liveness> {
    Json(Liveness { status: "ok" })
}
