//! IDE projects within a session: creating one and activating an existing one, each then active
//! in the caller's live session (the project endpoints need one: 401 otherwise, as upstream).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use code4me_shared::domain::ProjectName;
use code4me_shared::redis_keys::{ProjectValue, SessionValue};
use uuid::Uuid;

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::db;
use crate::services::state::AppState;

/// The user's live session.
async fn live_session(state: &AppState, user_id: Uuid) -> Result<(Uuid, SessionValue), ApiError> {
    state
        .tokens
        .current_session(user_id)
        .await
        .map_err(ApiError::Unavailable)?
        .ok_or(ApiError::Message(StatusCode::UNAUTHORIZED, messages::INVALID_SESSION_TOKEN))
}

/// Creates the project (owned by the caller) and activates it in their session; returns its id
/// (its token).
pub async fn create(state: &AppState, user_id: Uuid, name: &ProjectName) -> Result<Uuid, ApiError> {
    let (session_token, session) = live_session(state, user_id).await?;
    let project_id = Uuid::new_v4();
    db::projects::create(&state.db, project_id, name.as_str(), user_id, session_token).await.or_fail(messages::PROJECT_CREATE_FAILED)?;
    state.tokens.attach_project(session_token, session, project_id, ProjectValue::default()).await.or_fail(messages::PROJECT_CREATE_FAILED)?;
    tracing::info!(user.id = %user_id, project.id = %project_id, "project created");
    Ok(project_id)
}

/// Activates the project: from Redis when another session has it active, else from the database
/// (restoring its stored multi-file context). Only members may activate a project — upstream lets
/// anyone holding the id in; a non-member is answered exactly like an unknown project.
pub async fn activate(state: &AppState, user_id: Uuid, project_id: Uuid) -> Result<(), ApiError> {
    let (session_token, session) = live_session(state, user_id).await?;
    let unknown = ApiError::Message(StatusCode::UNAUTHORIZED, messages::INVALID_PROJECT_TOKEN);
    let live = state.tokens.project(project_id).await.map_err(ApiError::Unavailable)?;
    let stored = db::projects::stored_context(&state.db, project_id).await.or_fail(messages::PROJECT_ACTIVATE_FAILED)?;
    let project = match (live, stored) {
        (Some(_), None) => return Err(ApiError::Message(StatusCode::NOT_FOUND, messages::PROJECT_GONE)),
        (None, None) => return Err(unknown),
        (Some(live), Some(_)) => live,
        (None, Some(stored)) => ProjectValue {
            session_tokens: Vec::new(),
            multi_file_contexts: parse_or_empty(stored.multi_file_contexts.as_deref()),
            multi_file_context_changes: parse_or_empty(stored.multi_file_context_changes.as_deref()),
            ..ProjectValue::default()
        },
    };
    if !db::projects::is_member(&state.db, project_id, user_id).await.or_fail(messages::PROJECT_ACTIVATE_FAILED)? {
        return Err(unknown);
    }
    state.tokens.attach_project(session_token, session, project_id, project).await.or_fail(messages::PROJECT_ACTIVATE_FAILED)
}

/// A stored JSON map, or empty when the column is empty or unreadable (a damaged context must not
/// lock the user out of their project).
fn parse_or_empty<T: serde::de::DeserializeOwned>(text: Option<&str>) -> BTreeMap<String, T> {
    text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default()
}
