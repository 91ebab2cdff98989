//! Who may enter the editor's collaboration rooms ([`crate::services::rooms`]): members of the
//! project, with a live session, asking for a sensible file name.

use axum::http::StatusCode;
use code4me_shared::validation::Issue;
use uuid::Uuid;

use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::services::callers::SessionCaller;
use crate::services::rooms::{MAX_FILE_NAME_CHARS, RoomKey};
use crate::services::state::AppState;

/// The room a caller asks for: `file` checked (1–512 characters, no control characters) and the
/// caller a member of the project (403 otherwise: members are who may edit a project's files).
pub async fn admit(state: &AppState, caller: SessionCaller, project_id: Uuid, file: Option<&str>) -> Result<RoomKey, ApiError> {
    let file_name = file.unwrap_or_default();
    let bad = |kind: &str, msg: &str| {
        let input = serde_json::Value::from(file_name.chars().take(64).collect::<String>());
        ApiError::Validation(vec![Issue::new(kind, vec!["query".into(), "file".into()], msg, input, None)])
    };
    if file_name.is_empty() {
        return Err(bad("missing", "Field required"));
    }
    if file_name.chars().count() > MAX_FILE_NAME_CHARS {
        return Err(bad("string_too_long", "String should have at most 512 characters"));
    }
    if file_name.chars().any(char::is_control) {
        return Err(bad("value_error", "Value error, file names cannot hold control characters"));
    }
    let member = crate::db::projects::is_member(&state.db, project_id, caller.user_id).await.map_err(ApiError::database)?;
    if !member {
        return Err(ApiError::Detail(StatusCode::FORBIDDEN, messages::NOT_A_PROJECT_MEMBER.to_owned()));
    }
    Ok(RoomKey { project_id, file_name: file_name.to_owned() })
}

/// Whether the caller's session is still live (checked again when any server announces a
/// revocation); `Err` when Redis cannot tell.
pub async fn session_is_live(state: &AppState, caller: SessionCaller) -> anyhow::Result<bool> {
    Ok(state.tokens.session(caller.session_id).await?.is_some_and(|session| session.user_token == caller.user_id))
}
