//! `GET /api/chat/get/{page_number}`: the history, ten chats a page.

use axum::Json;
use axum::extract::{Path, State};
use code4me_shared::validation::Issue;
use serde_json::{Value, json};

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::http::auth::ProjectCaller;
use crate::services::chat;
use crate::services::state::AppState;

/// Page `page_number` (from 1) of the caller's chats in the active project, newest first. Page 0
/// or a non-number is a 422 (upstream answers page 0 with a 500).
#[utoipa::path(get, path = "/api/chat/get/{page_number}", tag = "chat", security(("session_token" = [], "project_token" = [])),
    params(("page_number" = i64, Path, minimum = 1, maximum = 1000000, description = "Page, from 1")),
    responses(
        (status = 200, description = "A page of chats", body = crate::openapi::ChatPage),
        (status = 401, description = "No live session, or the project is not active in it", body = crate::openapi::Message),
        (status = 422, description = "Not a page number", body = crate::openapi::ValidationError)
    ))]
pub async fn get(State(state): State<AppState>, caller: ProjectCaller, Path(raw): Path<String>) -> Result<Json<Value>, ApiError> {
    let page = parse_page(&raw, json!("path"))?;
    Ok(Json(chat::history_page(&state.db, &caller, page).await.or_fail(messages::CHAT_GET_FAILED)?))
}

/// A page number from 1 to a million, or the 422 pydantic would give at `[place, "page_number"]`.
pub fn parse_page(raw: &str, place: Value) -> Result<i64, ApiError> {
    let loc = vec![place, json!("page_number")];
    let page: i64 = raw.trim().parse().map_err(|_| {
        ApiError::Validation(vec![Issue::new(
            "int_parsing",
            loc.clone(),
            "Input should be a valid integer, unable to parse string as an integer",
            json!(raw),
            None,
        )])
    })?;
    if !(1..=1_000_000).contains(&page) {
        let issue = if page < 1 {
            Issue::new("greater_than_equal", loc, "Input should be greater than or equal to 1", json!(page), Some(json!({"ge": 1})))
        } else {
            Issue::new("less_than_equal", loc, "Input should be less than or equal to 1000000", json!(page), Some(json!({"le": 1_000_000})))
        };
        return Err(ApiError::Validation(vec![issue]));
    }
    Ok(page)
}
