//! `DELETE /api/chat/delete/{chat_id}`: removes a conversation and its turns.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::http::auth::ProjectCaller;
use crate::services::state::AppState;

/// Deletes the chat (its turns cascade). Only its owner may; anyone else gets the 404 of an id
/// that does not exist (upstream's 403 would tell them it does).
#[utoipa::path(delete, path = "/api/chat/delete/{chat_id}", tag = "chat", security(("session_token" = [], "project_token" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat")),
    responses(
        (status = 200, description = "Deleted", body = crate::openapi::Message),
        (status = 401, description = "No live session, or the project is not active in it", body = crate::openapi::Message),
        (status = 404, description = "No such chat of the caller's (another user's answers the same)", body = crate::openapi::Message)
    ))]
pub async fn delete(State(state): State<AppState>, caller: ProjectCaller, Path(raw): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(delete_chat(&state, caller, &raw).await?))
}

/// Deletes the chat named by `raw` if the caller owns it; the response body (REST and WebSocket).
pub async fn delete_chat(state: &AppState, caller: ProjectCaller, raw: &str) -> Result<Value, ApiError> {
    let not_found = ApiError::Message(StatusCode::NOT_FOUND, messages::QUERY_NOT_FOUND);
    let Ok(chat_id) = Uuid::parse_str(raw.trim()) else { return Err(not_found) };
    let owner: Option<Option<Uuid>> = sqlx::query_scalar("SELECT user_id FROM chat WHERE chat_id = $1")
        .bind(chat_id)
        .fetch_optional(&state.db)
        .await
        .or_fail(messages::CHAT_DELETE_FAILED)?;
    if owner != Some(Some(caller.user_id)) {
        return Err(not_found);
    }
    // The turns' meta_query rows go with the chat: chat_query cascades from chat, meta_query does not.
    let mut tx = state.db.begin().await.or_fail(messages::CHAT_DELETE_FAILED)?;
    sqlx::query("DELETE FROM meta_query WHERE meta_query_id IN (SELECT meta_query_id FROM chat_query WHERE chat_id = $1)")
        .bind(chat_id)
        .execute(&mut *tx)
        .await
        .or_fail(messages::CHAT_DELETE_FAILED)?;
    sqlx::query("DELETE FROM chat WHERE chat_id = $1").bind(chat_id).execute(&mut *tx).await.or_fail(messages::CHAT_DELETE_FAILED)?;
    tx.commit().await.or_fail(messages::CHAT_DELETE_FAILED)?;
    Ok(json!({"message": messages::CHAT_DELETED}))
}
