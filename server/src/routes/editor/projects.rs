//! `GET /api/editor/projects`: the projects the caller is a member of, for the editor's project
//! picker (the plugin's projects included; creating one stays `POST /api/project/create`).

use axum::Json;
use axum::extract::State;

use crate::contract::editor::EditorProjects;
use crate::contract::error::ApiError;
use crate::http::auth::CurrentUser;
use crate::services::editor;
use crate::services::state::AppState;

/// The caller's projects, newest first.
#[utoipa::path(get, path = "/api/editor/projects", tag = "editor", security(("auth_token" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The caller's projects, newest first", body = EditorProjects),
        (status = 401, description = "Not signed in", body = crate::contract::responses::Message)
    ))]
pub async fn list(State(state): State<AppState>, user: CurrentUser) -> Result<Json<EditorProjects>, ApiError> {
    Ok(Json(editor::projects(&state, user.user_id).await?))
}
