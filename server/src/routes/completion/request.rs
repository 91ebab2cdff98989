//! `POST /api/completion/request`: a completion from each requested model.

use axum::extract::State;
use uuid::Uuid;

use crate::contract::error::ApiError;
use crate::contract::requests::RequestCompletion;
use crate::contract::responses::{CompletionsResponse, Message};
use crate::http::auth::ProjectCaller;
use crate::http::extract::JsonBody;
use crate::http::reply::Reply;
use crate::services::completion;
use crate::services::state::AppState;

/// Runs every requested model in parallel through the `llm` queue and waits for them (at most
/// `COMPLETION_TIMEOUT_MS`); a model that is unknown, unavailable or silent gets the contract's
/// error item while the others still answer. The query's telemetry is queued before answering.
#[utoipa::path(post, path = "/api/completion/request", tag = "completion", security(("session_token" = [], "project_token" = [])),
    request_body(content = crate::openapi::RequestCompletionBody),
    responses(
        (status = 200, description = "One item per model", body = CompletionsResponse),
        (status = 401, description = "No live session, or the project is not active in it", body = Message),
        (status = 422, description = "Validation failed", body = crate::openapi::ValidationError),
        (status = 503, description = "Redis unreachable; nothing was recorded")
    ))]
pub async fn request(State(state): State<AppState>, caller: ProjectCaller, JsonBody(body): JsonBody) -> Result<Reply<CompletionsResponse>, ApiError> {
    let request = RequestCompletion::parse(body)?;
    Ok(Reply(completion::complete(&state, caller, request, Uuid::new_v4(), None).await?))
}
