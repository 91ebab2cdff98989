//! `HEAD /api/ping`: liveness for load balancers and the docker healthcheck. As upstream, only HEAD
//! is routed, so `GET /api/ping` answers `405 {"detail":"Method Not Allowed"}`.

use axum::Json;
use serde_json::{Value, json};

/// Answers 200; the `{"Status":"Ok"}` body is computed, as upstream, but HEAD never sends it.
#[utoipa::path(head, path = "/api/ping", tag = "ops", responses((status = 200, description = "The server is up")))]
pub async fn ping() -> Json<Value> {
    Json(json!({"Status": "Ok"}))
}
