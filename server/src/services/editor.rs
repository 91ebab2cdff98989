//! Who may enter the editor's collaboration rooms ([`crate::services::rooms`]): members of the
//! project, with a live session, asking for a file the project has. Also the project side of the
//! editor: the caller's projects and each project's members.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::contract::editor::{AddMemberRequest, EditorProject, EditorProjects, ProjectMember, ProjectMembers};
use crate::contract::editor_files::file_in_query;
use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::db;
use crate::db::projects::MemberRow;
use crate::services::callers::SessionCaller;
use crate::services::rooms::{Room, RoomKey};
use crate::services::state::AppState;

/// Opens the room a caller asks for: `file` a valid file name (422, [`FileName`]'s rule), the
/// caller a member of the project (403 otherwise: members are who may edit a project's files),
/// then the file one the project has (404; after membership, so outsiders learn nothing).
///
/// The file is checked again once the room is registered: a delete committed after the first
/// check closed the rooms registered before it, and this check sees it for one registered after.
pub async fn enter(state: &AppState, caller: SessionCaller, project_id: Uuid, query: &Value) -> Result<Arc<Room>, ApiError> {
    let file_name = file_in_query(query, "file")?;
    require_member(state, caller.user_id, project_id).await?;
    require_file(state, project_id, file_name.as_str()).await?;
    let room = state.rooms.join(RoomKey { project_id, file_name: file_name.into_string() }).await.map_err(ApiError::database)?;
    require_file(state, project_id, &room.key().file_name).await?;
    Ok(room)
}

/// The account's name: what the rooms show as this editor's presence, whatever its browser says.
pub async fn account_name(state: &AppState, user_id: Uuid) -> Result<String, ApiError> {
    let user = db::users::by_id(&state.db, user_id).await.map_err(ApiError::database)?;
    user.map(|user| user.name).ok_or_else(not_a_member)
}

/// 403 unless `user_id` is a member of the project (whether or not it exists).
pub async fn require_member(state: &AppState, user_id: Uuid, project_id: Uuid) -> Result<(), ApiError> {
    if db::projects::is_member(&state.db, project_id, user_id).await.map_err(ApiError::database)? { Ok(()) } else { Err(not_a_member()) }
}

/// 404 unless the project has the file.
async fn require_file(state: &AppState, project_id: Uuid, file_name: &str) -> Result<(), ApiError> {
    if db::editor_files::exists(&state.db, project_id, file_name).await.map_err(ApiError::database)? { Ok(()) } else { Err(no_such_file()) }
}

/// `404 {"detail": NO_SUCH_FILE}`.
pub fn no_such_file() -> ApiError {
    ApiError::Detail(StatusCode::NOT_FOUND, messages::NO_SUCH_FILE.to_owned())
}

/// The projects the caller is a member of, newest first (the editor's project picker).
pub async fn projects(state: &AppState, user_id: Uuid) -> Result<EditorProjects, ApiError> {
    let rows = db::projects::of_member(&state.db, user_id).await.map_err(ApiError::database)?;
    let projects = rows
        .into_iter()
        .map(|row| EditorProject { project_id: row.project_id, project_name: row.project_name, is_owner: row.is_owner, created_at: row.created_at })
        .collect();
    Ok(EditorProjects { projects })
}

/// Whether the caller's session is still live (checked again when any server announces a
/// revocation); `Err` when Redis cannot tell.
pub async fn session_is_live(state: &AppState, caller: SessionCaller) -> anyhow::Result<bool> {
    Ok(state.tokens.session(caller.session_id).await?.is_some_and(|session| session.user_token == caller.user_id))
}

/// A project id from a path: one that is not a UUID names no project the caller is a member of.
pub fn project_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| not_a_member())
}

fn not_a_member() -> ApiError {
    ApiError::Detail(StatusCode::FORBIDDEN, messages::NOT_A_PROJECT_MEMBER.to_owned())
}

fn member_view(row: MemberRow, owner: Uuid) -> ProjectMember {
    ProjectMember { is_owner: row.user_id == owner, user_id: row.user_id, name: row.name, email: row.email, joined_at: row.joined_at }
}

/// The members of a project, owner (its creator, the earliest member) first; 403 for anyone who
/// is not one (whether or not the project exists).
pub async fn members(state: &AppState, user_id: Uuid, project_id: Uuid) -> Result<ProjectMembers, ApiError> {
    let rows = db::projects::members(&state.db, project_id).await.map_err(ApiError::database)?;
    if !rows.iter().any(|row| row.user_id == user_id) {
        return Err(not_a_member());
    }
    let owner = rows[0].user_id;
    Ok(ProjectMembers { members: rows.into_iter().map(|row| member_view(row, owner)).collect() })
}

/// Adds the account registered with the request's e-mail to the project. Only the owner may:
/// 403 for other members and for strangers, 404 when no account has that address. Returns
/// whether they were added (false: already a member) and the member.
pub async fn add_member(state: &AppState, user_id: Uuid, project_id: Uuid, request: AddMemberRequest) -> Result<(bool, ProjectMember), ApiError> {
    let rows = db::projects::members(&state.db, project_id).await.map_err(ApiError::database)?;
    let Some(owner) = rows.first().map(|row| row.user_id) else { return Err(not_a_member()) };
    if owner != user_id {
        let status =
            if rows.iter().any(|row| row.user_id == user_id) { messages::ONLY_THE_OWNER_ADDS_MEMBERS } else { messages::NOT_A_PROJECT_MEMBER };
        return Err(ApiError::Detail(StatusCode::FORBIDDEN, status.to_owned()));
    }
    let account = db::users::by_email(&state.db, &request.email).await.map_err(ApiError::database)?;
    let Some(account) = account else {
        return Err(ApiError::Detail(StatusCode::NOT_FOUND, messages::NO_ACCOUNT_WITH_THIS_EMAIL.to_owned()));
    };
    let (added, joined_at) = db::projects::add_member(&state.db, project_id, account.user_id).await.map_err(ApiError::database)?;
    let member = MemberRow { user_id: account.user_id, name: account.name, email: account.email, joined_at };
    Ok((added, member_view(member, owner)))
}
