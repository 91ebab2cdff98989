//! The web editor's files: which files a project has, created, renamed and deleted by any of its
//! members. A file's content is its collaboration room's document ([`crate::services::rooms`]);
//! renaming or deleting a file moves or removes it in the same statement (the foreign key's
//! cascades) and then closes the rooms of the old name on every server.

use axum::http::StatusCode;
use code4me_shared::domain::FileName;
use uuid::Uuid;

use crate::contract::editor_files::{EditorFile, EditorFiles};
use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::db;
use crate::db::editor_files::{Created, Renamed};
use crate::services::editor::{no_such_file, require_member};
use crate::services::state::AppState;

/// The most files a project may have: bounds what a listing returns and what a member can store.
pub const MAX_FILES_PER_PROJECT: i64 = 500;

/// The project's files, sorted by name; 403 for anyone who is not a member.
pub async fn list(state: &AppState, user_id: Uuid, project_id: Uuid) -> Result<EditorFiles, ApiError> {
    require_member(state, user_id, project_id).await?;
    let rows = db::editor_files::list(&state.db, project_id).await.map_err(ApiError::database)?;
    Ok(EditorFiles { files: rows.into_iter().map(|row| EditorFile { name: row.file_name, created_at: row.created_at }).collect() })
}

/// Creates an empty file: 409 when the name is taken or the project is full.
pub async fn create(state: &AppState, user_id: Uuid, project_id: Uuid, name: FileName) -> Result<EditorFile, ApiError> {
    require_member(state, user_id, project_id).await?;
    match db::editor_files::create(&state.db, project_id, name.as_str(), MAX_FILES_PER_PROJECT).await.map_err(ApiError::database)? {
        Created::Created(created_at) => Ok(EditorFile { name: name.into_string(), created_at }),
        Created::Exists => Err(conflict(messages::FILE_ALREADY_EXISTS)),
        Created::Full => Err(conflict(messages::TOO_MANY_FILES)),
        // Deleted between the membership check and the insert: as for any project one is not in.
        Created::NoProject => Err(ApiError::Detail(StatusCode::FORBIDDEN, messages::NOT_A_PROJECT_MEMBER.to_owned())),
    }
}

/// Renames a file, content and all: 404 when `from` does not exist, 409 when `to` does. Renaming
/// a file to its own name changes nothing (and closes no room).
pub async fn rename(state: &AppState, user_id: Uuid, project_id: Uuid, from: FileName, to: FileName) -> Result<EditorFile, ApiError> {
    require_member(state, user_id, project_id).await?;
    if from == to {
        let row = db::editor_files::get(&state.db, project_id, from.as_str()).await.map_err(ApiError::database)?.ok_or_else(no_such_file)?;
        return Ok(EditorFile { name: row.file_name, created_at: row.created_at });
    }
    match db::editor_files::rename(&state.db, project_id, from.as_str(), to.as_str()).await.map_err(ApiError::database)? {
        Renamed::Renamed(created_at) => {
            state.rooms.close_file(project_id, from.as_str()).await;
            Ok(EditorFile { name: to.into_string(), created_at })
        }
        Renamed::NoSuchFile => Err(no_such_file()),
        Renamed::Exists => Err(conflict(messages::FILE_ALREADY_EXISTS)),
    }
}

/// Deletes a file and its document: 404 when there is none.
pub async fn delete(state: &AppState, user_id: Uuid, project_id: Uuid, name: FileName) -> Result<(), ApiError> {
    require_member(state, user_id, project_id).await?;
    if !db::editor_files::delete(&state.db, project_id, name.as_str()).await.map_err(ApiError::database)? {
        return Err(no_such_file());
    }
    state.rooms.close_file(project_id, name.as_str()).await;
    Ok(())
}

fn conflict(message: &str) -> ApiError {
    ApiError::Detail(StatusCode::CONFLICT, message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_full_projects_message_names_the_limit() {
        assert!(messages::TOO_MANY_FILES.contains(&MAX_FILES_PER_PROJECT.to_string()));
    }
}
