//! `GET /v1/models`: the models a request may name now.

use axum::Json;
use axum::extract::State;

use crate::contract::openai::{ModelList, OpenAiError, OpenAiErrorBody};
use crate::services::generation::OpenCaller;
use crate::services::openai;
use crate::services::state::AppState;

/// Every model a live worker serves, the embedding model when a worker has it loaded, and the
/// models the configured providers map by name.
#[utoipa::path(get, path = "/v1/models", tag = "openai", security(("bearer" = []), ("auth_token" = [])),
    responses(
        (status = 200, description = "The models", body = ModelList),
        (status = 401, description = "No working API key or auth token", body = OpenAiErrorBody)
    ))]
pub async fn list(State(state): State<AppState>, _caller: OpenCaller) -> Result<Json<ModelList>, OpenAiError> {
    Ok(Json(openai::models(&state).await?))
}
