//! The project's multi-file context — the plugin's edits of the project's other files, kept in
//! Redis — shared by `POST /api/completion/multi-file-context/update` and the WebSocket's
//! `multi_file_context_update`; changed files are queued for the retrieval index.

use code4me_shared::jobs::index::{FileContents, IndexFilesRecord};
use code4me_shared::multi_file::{ContextLimit, apply_updates};
use code4me_shared::redaction::{redact_keys, redact_lines};
use code4me_shared::redis_keys::{self as keys, ProjectValue};
use serde_json::json;

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::contract::parse::field_issue;
use crate::contract::requests::UpdateMultiFileContext;
use crate::contract::responses::ContextUpdated;
use crate::services::callers::ProjectCaller;
use crate::services::state::AppState;

/// Applies the changes with upstream's algorithm (wire contract §8) to the project's context in
/// Redis and returns the whole context. File names and new lines are redacted before they are
/// kept, so the context never holds a secret, whether it is later pasted into a prompt or persisted.
pub async fn apply(state: &AppState, caller: ProjectCaller, mut request: UpdateMultiFileContext) -> Result<ContextUpdated, ApiError> {
    request.context_updates = redact_keys(std::mem::take(&mut request.context_updates));
    for change in request.context_updates.values_mut().flatten() {
        change.new_lines = redact_lines(&change.new_lines);
    }
    let mut project = state.tokens.project(caller.project_id).await.map_err(ApiError::Unavailable)?.unwrap_or_default();
    apply_updates(&mut project, &request.context_updates).map_err(over_limit)?;
    state.tokens.set_json(&keys::key(keys::PROJECT_TOKEN, caller.project_id), &project, None).await.or_fail(messages::CONTEXT_UPDATE_FAILED)?;
    index_changed_files(state, caller, &project, request.context_updates.keys()).await;
    Ok(ContextUpdated { message: messages::CONTEXT_UPDATED.to_owned(), data: project.multi_file_contexts })
}

/// A 422 naming the file (or the whole update) that would take the context past its bounds.
fn over_limit(limit: ContextLimit) -> ApiError {
    let mut loc = vec!["context_updates"];
    if let Some(file) = limit.file() {
        loc.push(file);
    }
    let file = limit.file().map(str::to_owned);
    // The file name itself may be the oversized part: echo at most its start.
    let input = file.map_or(serde_json::Value::Null, |f| json!(f.chars().take(64).collect::<String>()));
    ApiError::Validation(vec![field_issue(&loc, "too_long", format!("Value error, {limit}"), input)])
}

/// Queues the changed files for the retrieval index when the caller's config uses retrieval. The
/// index is derived data: when queueing fails the update still stands (the plugin must not resend
/// changes that were applied) and the file is re-indexed with its next change.
async fn index_changed_files<'a>(state: &AppState, caller: ProjectCaller, project: &ProjectValue, files: impl Iterator<Item = &'a String>) {
    if state.user_configs.retrieval(&state.db, caller.user_id).await.is_none() {
        return;
    }
    let files = files
        .map(|name| {
            let version = project.change_count(name);
            let lines = project.multi_file_contexts.get(name).cloned().unwrap_or_default();
            (name.clone(), FileContents { version: i64::try_from(version).unwrap_or(i64::MAX), lines })
        })
        .collect();
    let record = IndexFilesRecord { project_id: caller.project_id, files };
    if let Err(error) = state.pipeline.index(record).await {
        tracing::warn!(%error, project_id = %caller.project_id, "could not queue changed files for the retrieval index");
    }
}
