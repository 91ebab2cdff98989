//! Who may enter the editor's collaboration rooms ([`crate::services::rooms`]): members of the
//! project, with a live session, asking for a sensible file name.

use axum::http::StatusCode;
use code4me_shared::validation::Issue;
use uuid::Uuid;

use crate::contract::editor::{AddMemberRequest, ProjectMember, ProjectMembers};
use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::db;
use crate::db::projects::MemberRow;
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
    if !db::projects::is_member(&state.db, project_id, caller.user_id).await.map_err(ApiError::database)? {
        return Err(not_a_member());
    }
    Ok(RoomKey { project_id, file_name: file_name.to_owned() })
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
