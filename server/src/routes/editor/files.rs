//! `/api/editor/projects/{project_id}/files`: which files a project has. Any member may list,
//! create, rename and delete them; a file's content is edited in its collaboration room
//! (`/api/editor/rooms/{project_id}?file=NAME`), which exists only while the file does.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::contract::editor_files::{CreateFileRequest, DeleteFileQuery, EditorFile, EditorFiles, RenameFileRequest};
use crate::contract::error::ApiError;
use crate::http::auth::CurrentUser;
use crate::http::extract::{JsonBody, QueryFields};
use crate::services::state::AppState;
use crate::services::{editor, editor_files};

/// A project's files, sorted by name.
#[utoipa::path(get, path = "/api/editor/projects/{project_id}/files", tag = "editor", security(("auth_token" = []), ("bearer" = [])),
    params(("project_id" = String, Path, description = "The project's id")),
    responses(
        (status = 200, description = "The files, sorted by name", body = EditorFiles),
        (status = 401, description = "Not signed in", body = crate::contract::responses::Message),
        (status = 403, description = "Not a member of this project", body = crate::contract::responses::Detail)
    ))]
pub async fn list(State(state): State<AppState>, user: CurrentUser, Path(project_id): Path<String>) -> Result<Json<EditorFiles>, ApiError> {
    Ok(Json(editor_files::list(&state, user.user_id, editor::project_id(&project_id)?).await?))
}

/// Creates an empty file (its room may then be joined).
#[utoipa::path(post, path = "/api/editor/projects/{project_id}/files", tag = "editor", security(("auth_token" = []), ("bearer" = [])),
    params(("project_id" = String, Path, description = "The project's id")),
    request_body(content = crate::openapi::NewFileBody),
    responses(
        (status = 201, description = "Created", body = EditorFile),
        (status = 401, description = "Not signed in", body = crate::contract::responses::Message),
        (status = 403, description = "Not a member of this project", body = crate::contract::responses::Detail),
        (status = 409, description = "A file with this name exists, or the project has 500 files already", body = crate::contract::responses::Detail),
        (status = 422, description = "`name` is missing or not a valid file name", body = crate::openapi::ValidationError)
    ))]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(project_id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<EditorFile>), ApiError> {
    let project_id = editor::project_id(&project_id)?;
    let request = CreateFileRequest::parse(&body)?;
    Ok((StatusCode::CREATED, Json(editor_files::create(&state, user.user_id, project_id, request.name).await?)))
}

/// Renames a file; its content moves with it, and its open rooms close (4404).
#[utoipa::path(post, path = "/api/editor/projects/{project_id}/files/rename", tag = "editor", security(("auth_token" = []), ("bearer" = [])),
    params(("project_id" = String, Path, description = "The project's id")),
    request_body(content = crate::openapi::RenameFileBody),
    responses(
        (status = 200, description = "Renamed: the file under its new name", body = EditorFile),
        (status = 401, description = "Not signed in", body = crate::contract::responses::Message),
        (status = 403, description = "Not a member of this project", body = crate::contract::responses::Detail),
        (status = 404, description = "No file named `from` in this project", body = crate::contract::responses::Detail),
        (status = 409, description = "A file named `to` exists", body = crate::contract::responses::Detail),
        (status = 422, description = "`from` or `to` is missing or not a valid file name", body = crate::openapi::ValidationError)
    ))]
pub async fn rename(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(project_id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<EditorFile>, ApiError> {
    let project_id = editor::project_id(&project_id)?;
    let request = RenameFileRequest::parse(&body)?;
    Ok(Json(editor_files::rename(&state, user.user_id, project_id, request.from, request.to).await?))
}

/// Deletes a file and its content; its open rooms close (4404).
#[utoipa::path(delete, path = "/api/editor/projects/{project_id}/files", tag = "editor", security(("auth_token" = []), ("bearer" = [])),
    params(
        ("project_id" = String, Path, description = "The project's id"),
        ("name" = String, Query, description = "The file's name")
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = crate::contract::responses::Message),
        (status = 403, description = "Not a member of this project", body = crate::contract::responses::Detail),
        (status = 404, description = "No such file in this project", body = crate::contract::responses::Detail),
        (status = 422, description = "`name` is missing or not a valid file name", body = crate::openapi::ValidationError)
    ))]
pub async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(project_id): Path<String>,
    QueryFields(query): QueryFields,
) -> Result<StatusCode, ApiError> {
    let project_id = editor::project_id(&project_id)?;
    let request = DeleteFileQuery::parse(&query)?;
    editor_files::delete(&state, user.user_id, project_id, request.name).await?;
    Ok(StatusCode::NO_CONTENT)
}
