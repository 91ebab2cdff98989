//! `GET /api/chat/get/{page_number}`: the history, ten chats a page.

use axum::extract::{Path, State};

use crate::contract::error::ApiError;
use crate::contract::requests::{PageNumberIn, parse_page};
use crate::contract::responses::{ChatPage, Message};
use crate::http::auth::ProjectCaller;
use crate::http::reply::Reply;
use crate::services::chat;
use crate::services::state::AppState;

/// Page `page_number` (from 1) of the caller's chats in the active project, newest first. Page 0
/// or a non-number is a 422 (upstream answers page 0 with a 500).
#[utoipa::path(get, path = "/api/chat/get/{page_number}", tag = "chat", security(("session_token" = [], "project_token" = [])),
    params(("page_number" = i64, Path, minimum = 1, maximum = 1000000, description = "Page, from 1")),
    responses(
        (status = 200, description = "A page of chats", body = ChatPage),
        (status = 401, description = "No live session, or the project is not active in it", body = Message),
        (status = 422, description = "Not a page number", body = crate::openapi::ValidationError)
    ))]
pub async fn get(State(state): State<AppState>, caller: ProjectCaller, Path(raw): Path<String>) -> Result<Reply<ChatPage>, ApiError> {
    let page = parse_page(&raw, PageNumberIn::Path)?;
    Ok(Reply(chat::history_page(&state.db, &caller, page).await?))
}
