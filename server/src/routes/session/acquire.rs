//! `GET /api/session/acquire`: the caller's session, reused while it lives.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::db::users;
use crate::http::auth::CurrentUser;
use crate::http::cookies;
use crate::services::state::AppState;

/// Reuses the user's live session or starts one (cookie `session_token`); its lifetime restarts.
#[utoipa::path(get, path = "/api/session/acquire", tag = "session", security(("auth_token" = []), ("bearer" = [])), responses(
    (status = 200, description = "Session token; Set-Cookie session_token", body = crate::openapi::SessionAcquired),
    (status = 401, description = "Not authenticated", body = crate::openapi::Message),
    (status = 404, description = "User gone", body = crate::openapi::Message)
))]
pub async fn acquire(State(state): State<AppState>, caller: CurrentUser) -> Result<(HeaderMap, Json<Value>), ApiError> {
    if users::by_id(&state.db, caller.user_id).await.or_fail(messages::SESSION_ACQUIRE_FAILED)?.is_none() {
        return Err(ApiError::Message(StatusCode::NOT_FOUND, messages::USER_NOT_FOUND));
    }
    let token = state.tokens.acquire_session(caller.user_id).await.or_fail(messages::SESSION_ACQUIRE_FAILED)?;
    let mut headers = HeaderMap::new();
    let cookie =
        cookies::set(cookies::SESSION_TOKEN, &token.to_string(), Some(state.settings.tokens.session_token_ttl), state.settings.cookie_secure);
    headers.insert(header::SET_COOKIE, cookie);
    Ok((headers, Json(json!({"message": messages::SESSION_ACQUIRED, "session_token": token}))))
}
