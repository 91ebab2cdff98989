//! `POST /api/agent/code` (and `POST /code`, the agent design document's path): starts a run and
//! streams its events until the final `success` or `error`.

use axum::extract::State;
use axum::response::Response;

use super::sse;
use crate::contract::agent::AgentCodeRequest;
use crate::contract::error::ApiError;
use crate::http::extract::JsonBody;
use crate::services::agent;
use crate::services::generation::OpenCaller;
use crate::services::state::AppState;

/// Starts a repository agent run and streams its progress as server-sent events.
#[utoipa::path(post, path = "/api/agent/code", tag = "agent", security(("bearer" = []), ("auth_token" = [])),
    request_body = crate::contract::agent::AgentCodeBody,
    responses(
        (status = 200, description = "`text/event-stream`: `id:` the event's `seq`, `event:` its type, `data:` an `AgentEvent`; ends after the `success` or `error` event. The run's id is in `X-Agent-Run-Id`. Closing the stream cancels the run unless a stream reopens within the grace period (`GET /api/agent/runs/{run_id}` with `Last-Event-ID`).",
            content_type = "text/event-stream", body = crate::contract::agent::AgentStreamEvent),
        (status = 401, description = "Not signed in, or an invalid API key", body = crate::contract::responses::Detail),
        (status = 413, description = "The body is larger than allowed", body = crate::contract::responses::Detail),
        (status = 422, description = "A field is missing, of the wrong type or out of range", body = crate::openapi::ValidationError),
        (status = 429, description = "The key's quota (or the address's budget) is spent, or the caller has three runs queued or running (or 16 event streams open)", body = crate::contract::responses::Detail),
        (status = 503, description = "PostgreSQL or Redis is unavailable: nothing was queued", body = crate::contract::responses::Detail)
    ))]
pub async fn code(State(state): State<AppState>, caller: OpenCaller, JsonBody(body): JsonBody) -> Result<Response, ApiError> {
    let request = AgentCodeRequest::parse(&body).map_err(ApiError::Validation)?;
    let run_id = agent::start(&state, caller.user_id, &request).await?;
    match sse::stream(state.clone(), caller, run_id, 0) {
        Ok(stream) => Ok(stream),
        Err(refused) => {
            // Nobody would watch it, so nothing would stop it: it does not start.
            agent::cancel(&state, caller.user_id, run_id).await?;
            Err(refused)
        }
    }
}

/// `POST /code`: the same as `POST /api/agent/code`.
#[utoipa::path(post, path = "/code", tag = "agent", security(("bearer" = []), ("auth_token" = [])),
    request_body = crate::contract::agent::AgentCodeBody,
    responses(
        (status = 200, description = "As `POST /api/agent/code`", content_type = "text/event-stream", body = crate::contract::agent::AgentStreamEvent),
        (status = 401, description = "Not signed in, or an invalid API key", body = crate::contract::responses::Detail),
        (status = 422, description = "A field is missing, of the wrong type or out of range", body = crate::openapi::ValidationError),
        (status = 503, description = "PostgreSQL or Redis is unavailable", body = crate::contract::responses::Detail)
    ))]
pub async fn code_alias(state: State<AppState>, caller: OpenCaller, body: JsonBody) -> Result<Response, ApiError> {
    code(state, caller, body).await
}
