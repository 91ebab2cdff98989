//! `POST /api/completion/multi-file-context/update`: the plugin's edits of the project's other files.

use axum::extract::State;

use crate::contract::error::ApiError;
use crate::contract::requests::UpdateMultiFileContext;
use crate::contract::responses::{ContextUpdated, Message};
use crate::http::auth::ProjectCaller;
use crate::http::extract::JsonBody;
use crate::http::reply::Reply;
use crate::services::multi_file;
use crate::services::state::AppState;

/// Applies the changes with upstream's algorithm (wire contract §8) to the project's context in
/// Redis and returns the whole context. File names and new lines are redacted before they are
/// kept, so the context never holds a secret, whether it is later pasted into a prompt or persisted.
#[utoipa::path(post, path = "/api/completion/multi-file-context/update", tag = "completion", security(("session_token" = [], "project_token" = [])),
    request_body(content = crate::openapi::MultiFileUpdateBody),
    responses(
        (status = 200, description = "The project's whole context", body = Message),
        (status = 401, description = "No live session, or the project is not active in it", body = Message),
        (status = 422, description = "Validation failed", body = crate::openapi::ValidationError)
    ))]
pub async fn update(State(state): State<AppState>, caller: ProjectCaller, JsonBody(body): JsonBody) -> Result<Reply<ContextUpdated>, ApiError> {
    Ok(Reply(multi_file::apply(&state, caller, UpdateMultiFileContext::parse(body)?).await?))
}
