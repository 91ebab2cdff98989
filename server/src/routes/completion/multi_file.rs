//! `POST /api/completion/multi-file-context/update`: the plugin's edits of the project's other files.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use code4me_shared::multi_file::{FileContextChange, apply_updates};
use code4me_shared::redaction::redact_lines;
use code4me_shared::redis_keys::{self as keys};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::extract::ProjectCaller;
use crate::error::{ApiError, OrFail};
use crate::extract::{JsonBody, parse_body};
use crate::messages;
use crate::state::AppState;

/// `UpdateMultiFileContext`.
#[derive(Deserialize)]
struct UpdateMultiFileContext {
    context_updates: BTreeMap<String, Vec<FileContextChange>>,
}

/// Applies the changes with upstream's algorithm (wire contract §8) to the project's context in
/// Redis and returns the whole context. New lines are redacted before they are kept, so the
/// context never holds a secret, whether it is later pasted into a prompt or persisted.
#[utoipa::path(post, path = "/api/completion/multi-file-context/update", tag = "completion",
    request_body(content = crate::openapi::MultiFileUpdateBody),
    responses(
        (status = 200, description = "The project's whole context", body = crate::openapi::Message),
        (status = 401, description = "No live session, or the project is not active in it", body = crate::openapi::Message),
        (status = 422, description = "Validation failed", body = crate::openapi::ValidationError)
    ))]
pub async fn update(State(state): State<AppState>, caller: ProjectCaller, JsonBody(body): JsonBody) -> Result<Json<Value>, ApiError> {
    Ok(Json(apply(&state, caller, body).await?))
}

/// Applies one update body; the response body (REST and WebSocket).
pub async fn apply(state: &AppState, caller: ProjectCaller, body: Value) -> Result<Value, ApiError> {
    let mut request: UpdateMultiFileContext = parse_body(body)?;
    for change in request.context_updates.values_mut().flatten() {
        change.new_lines = redact_lines(&change.new_lines);
    }
    let mut project = state.tokens.project(caller.project_id).await.map_err(ApiError::Unavailable)?.unwrap_or_default();
    apply_updates(&mut project.multi_file_contexts, &mut project.multi_file_context_changes, &request.context_updates);
    state
        .tokens
        .set_json(&keys::key(keys::PROJECT_TOKEN, caller.project_id), &project, None)
        .await
        .or_fail(messages::CONTEXT_UPDATE_FAILED)?;
    Ok(json!({"message": messages::CONTEXT_UPDATED, "data": project.multi_file_contexts}))
}
