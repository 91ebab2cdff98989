//! `PUT /api/session/deactivate/`: log out.
//!
//! Upstream answers 401 (no session pointer) or 404 (session expired) *before* revoking anything,
//! so a signed-in user without a live session — the website's case: it never acquires one — stays
//! signed in after "Logout". Here logging out always revokes the auth token used and clears both
//! cookies; only a missing or invalid auth token itself is a 401 (the extractor's).

use axum::extract::State;
use axum::http::{HeaderMap, header};

use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::contract::responses::Message;
use crate::http::auth::CurrentUser;
use crate::http::cookies;
use crate::http::reply::Reply;
use crate::services::sessions;
use crate::services::state::AppState;

/// Ends the caller's session when they have one (closing its row and releasing its projects),
/// revokes the auth token used, and clears both cookies — with or without a session, the answer is
/// `200 {"message": "Session deactivated successfully."}`.
#[utoipa::path(put, path = "/api/session/deactivate", tag = "session", security(("auth_token" = []), ("bearer" = [])), responses(
    (status = 200, description = "Logged out: the auth token is revoked and both cookies cleared, and the session (if any) ended. \
        Also when there was no session or it had expired (upstream: 401 or 404, leaving the user signed in)", body = crate::contract::responses::Message),
    (status = 401, description = "No auth token, or one that is invalid or expired", body = crate::contract::responses::Message)
))]
pub async fn deactivate(State(state): State<AppState>, caller: CurrentUser) -> Result<(HeaderMap, Reply<Message>), ApiError> {
    sessions::log_out(&state, caller).await?;
    let secure = state.settings.cookie_secure;
    let mut headers = HeaderMap::new();
    headers.append(header::SET_COOKIE, cookies::clear(cookies::AUTH_TOKEN, secure));
    headers.append(header::SET_COOKIE, cookies::clear(cookies::SESSION_TOKEN, secure));
    Ok((headers, Reply(Message::new(messages::SESSION_DEACTIVATED))))
}
