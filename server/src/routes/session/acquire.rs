//! `GET /api/session/acquire`: the caller's session, reused while it lives.

use axum::extract::State;
use axum::http::{HeaderMap, header};

use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::contract::responses::SessionAcquired;
use crate::http::auth::CurrentUser;
use crate::http::cookies;
use crate::http::reply::Reply;
use crate::services::sessions;
use crate::services::state::AppState;

/// Reuses the user's live session or starts one (cookie `session_token`); its lifetime restarts.
#[utoipa::path(get, path = "/api/session/acquire", tag = "session", security(("auth_token" = []), ("bearer" = [])), responses(
    (status = 200, description = "Session token; Set-Cookie session_token", body = crate::contract::responses::SessionAcquired),
    (status = 401, description = "Not authenticated", body = crate::contract::responses::Message),
    (status = 404, description = "User gone", body = crate::contract::responses::Message)
))]
pub async fn acquire(State(state): State<AppState>, caller: CurrentUser) -> Result<(HeaderMap, Reply<SessionAcquired>), ApiError> {
    let token = sessions::acquire(&state, caller.user_id).await?;
    let mut headers = HeaderMap::new();
    let cookie =
        cookies::set(cookies::SESSION_TOKEN, &token.to_string(), Some(state.settings.tokens.session_token_ttl), state.settings.cookie_secure);
    headers.insert(header::SET_COOKIE, cookie);
    Ok((headers, Reply(SessionAcquired { message: messages::SESSION_ACQUIRED.to_owned(), session_token: token })))
}
