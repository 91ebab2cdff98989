//! `DELETE /api/chat/delete/{chat_id}`: removes a conversation and its turns.

use axum::extract::{Path, State};

use crate::contract::error::ApiError;
use crate::contract::responses::Message;
use crate::http::auth::ProjectCaller;
use crate::http::reply::Reply;
use crate::services::chat;
use crate::services::state::AppState;

/// Deletes the chat (its turns cascade). Only its owner may; anyone else gets the 404 of an id
/// that does not exist (upstream's 403 would tell them it does).
#[utoipa::path(delete, path = "/api/chat/delete/{chat_id}", tag = "chat", security(("session_token" = [], "project_token" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat")),
    responses(
        (status = 200, description = "Deleted", body = Message),
        (status = 401, description = "No live session, or the project is not active in it", body = Message),
        (status = 404, description = "No such chat of the caller's (another user's answers the same)", body = Message)
    ))]
pub async fn delete(State(state): State<AppState>, caller: ProjectCaller, Path(raw): Path<String>) -> Result<Reply<Message>, ApiError> {
    Ok(Reply(chat::delete(&state.db, &caller, &raw).await?))
}
