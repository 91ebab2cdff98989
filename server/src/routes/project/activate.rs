//! `PUT /api/project/activate`: make an existing project active in the caller's session.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use code4me_shared::domain::parse_uuid;
use code4me_shared::redis_keys::ProjectValue;
use code4me_shared::validation::Fields;
use serde_json::{Value, json};

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::db::projects;
use crate::http::auth::CurrentUser;
use crate::http::cookies;
use crate::http::extract::JsonBody;
use crate::services::state::AppState;

/// Activates the project: from Redis when another session has it active, else from the database
/// (restoring its stored multi-file context). Only members may activate a project — upstream lets
/// anyone holding the id in; we answer a non-member exactly like an unknown project.
#[utoipa::path(put, path = "/api/project/activate", tag = "project", security(("auth_token" = []), ("bearer" = [])),
    request_body(content = crate::openapi::ActivateProjectBody),
    responses(
        (status = 200, description = "Activated; Set-Cookie project_token", body = crate::openapi::Message),
        (status = 401, description = "Not authenticated, no session, or unknown project", body = crate::openapi::Message),
        (status = 404, description = "Project active in Redis but deleted from the database", body = crate::openapi::Message),
        (status = 422, description = "Validation failed", body = crate::openapi::ValidationError)
    ))]
pub async fn activate(State(state): State<AppState>, caller: CurrentUser, JsonBody(body): JsonBody) -> Result<(HeaderMap, Json<Value>), ApiError> {
    let mut f = Fields::body(&body);
    let project_id = f.required("project_id", parse_uuid);
    f.finish()?;
    let Some(project_id) = project_id else { return Err(ApiError::Validation(Vec::new())) };
    let (session_token, session) = super::live_session(&state, &caller).await?;
    let unknown = ApiError::Message(StatusCode::UNAUTHORIZED, messages::INVALID_PROJECT_TOKEN);
    let live = state.tokens.project(project_id).await.map_err(ApiError::Unavailable)?;
    let stored = projects::stored_context(&state.db, project_id).await.or_fail(messages::PROJECT_ACTIVATE_FAILED)?;
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
    if !projects::is_member(&state.db, project_id, caller.user_id).await.or_fail(messages::PROJECT_ACTIVATE_FAILED)? {
        return Err(unknown);
    }
    state.tokens.attach_project(session_token, session, project_id, project).await.or_fail(messages::PROJECT_ACTIVATE_FAILED)?;
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, cookies::set(cookies::PROJECT_TOKEN, &project_id.to_string(), None, state.settings.cookie_secure));
    Ok((headers, Json(json!({"message": messages::PROJECT_ACTIVATED}))))
}

/// A stored JSON map, or empty when the column is empty or unreadable (a damaged context must not
/// lock the user out of their project).
fn parse_or_empty<T: serde::de::DeserializeOwned>(text: Option<&str>) -> BTreeMap<String, T> {
    text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default()
}
