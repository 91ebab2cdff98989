//! `HEAD /api/ping`: liveness for load balancers and the docker healthcheck. As upstream, only HEAD
//! is routed, so `GET /api/ping` answers `405 {"detail":"Method Not Allowed"}`.

use crate::contract::responses::Pong;
use crate::http::reply::Reply;

/// Answers 200; the `{"Status":"Ok"}` body is computed, as upstream, but HEAD never sends it.
#[utoipa::path(head, path = "/api/ping", tag = "ops", responses((status = 200, description = "The server is up")))]
pub async fn ping() -> Reply<Pong> {
    Reply(Pong { status: "Ok" })
}
