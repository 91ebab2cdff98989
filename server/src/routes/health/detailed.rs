//! `GET /api/health/detailed`: the operators' picture of this instance and what it depends on, for
//! an admin or a monitor holding `HEALTH_TOKEN`.

use axum::Json;
use axum::extract::State;

use crate::contract::health::DetailedHealth;
use crate::http::operator::Operator;
use crate::services::health;
use crate::services::state::AppState;

/// Always 200 for an allowed caller, whatever the state of the dependencies: `status` and
/// `problems` say what is wrong.
#[utoipa::path(
    get,
    path = "/api/health/detailed",
    tag = "ops",
    security(("auth_token" = ["admin"]), ("bearer" = ["admin"]), ("health_token" = [])),
    responses(
        (status = 200, description = "The report; `status` is `degraded` when `problems` lists anything", body = DetailedHealth),
        (status = 401, description = "Neither an admin's token nor `HEALTH_TOKEN`", body = crate::contract::responses::Detail),
        (status = 403, description = "Signed in, but not an admin", body = crate::contract::responses::Detail)
    )
)]
pub async fn detailed(_operator: Operator, State(state): State<AppState>) -> Json<DetailedHealth> {
    Json(health::detailed(&state).await)
}
