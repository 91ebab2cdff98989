//! `POST /api/chat/request`: one chat turn, answered by each requested model.

use axum::extract::State;
use uuid::Uuid;

use crate::contract::error::ApiError;
use crate::contract::requests::RequestChatCompletion;
use crate::contract::responses::{ChatHistory, Message};
use crate::http::auth::ProjectCaller;
use crate::http::extract::JsonBody;
use crate::http::reply::Reply;
use crate::services::chat;
use crate::services::state::AppState;

/// Answers the conversation with every requested model (at most `CHAT_TIMEOUT_MS`); the body is
/// the contract's `ChatHistoryResponse` for this turn, whose user message is what the user wrote
/// (upstream shows the editor prefix there).
#[utoipa::path(post, path = "/api/chat/request", tag = "chat", security(("session_token" = [], "project_token" = [])),
    request_body(content = crate::openapi::RequestChatBody),
    responses(
        (status = 200, description = "This turn", body = ChatHistory),
        (status = 401, description = "No live session, or the project is not active in it", body = Message),
        (status = 404, description = "The chat id belongs to another user or project (answered as for a chat that does not exist)", body = Message),
        (status = 422, description = "Validation failed", body = crate::openapi::ValidationError),
        (status = 503, description = "Redis unreachable; nothing was recorded")
    ))]
pub async fn request(State(state): State<AppState>, caller: ProjectCaller, JsonBody(body): JsonBody) -> Result<Reply<ChatHistory>, ApiError> {
    let request = RequestChatCompletion::parse(body)?;
    Ok(Reply(chat::chat(&state, caller, request, Uuid::new_v4(), None).await?))
}
