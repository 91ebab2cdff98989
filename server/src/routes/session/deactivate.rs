//! `PUT /api/session/deactivate/`: log out.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use code4me_shared::redis_keys::{self as keys, UserTokenValue, key};
use serde_json::{Value, json};

use crate::auth::extract::CurrentUser;
use crate::error::{ApiError, OrFail};
use crate::state::AppState;
use crate::{cookies, messages};

/// Ends the caller's session (closing its row and releasing its projects), revokes the auth token
/// used, and clears both cookies.
#[utoipa::path(put, path = "/api/session/deactivate", tag = "session", security(("auth_token" = []), ("bearer" = [])), responses(
    (status = 200, description = "Logged out; cookies cleared", body = crate::openapi::Message),
    (status = 401, description = "Not authenticated, or no session", body = crate::openapi::Message),
    (status = 404, description = "Session already gone", body = crate::openapi::Message)
))]
pub async fn deactivate(State(state): State<AppState>, caller: CurrentUser) -> Result<(HeaderMap, Json<Value>), ApiError> {
    let pointer: Option<UserTokenValue> =
        state.tokens.get_json(&key(keys::USER_TOKEN, caller.user_id)).await.map_err(ApiError::Unavailable)?;
    let Some(UserTokenValue { session_token }) = pointer else {
        return Err(ApiError::Message(StatusCode::UNAUTHORIZED, messages::INVALID_SESSION_TOKEN));
    };
    if state.tokens.session(session_token).await.map_err(ApiError::Unavailable)?.is_none() {
        return Err(ApiError::Message(StatusCode::NOT_FOUND, messages::SESSION_GONE));
    }
    state.tokens.end_session(session_token).await.or_fail(messages::SESSION_DEACTIVATE_FAILED)?;
    state.tokens.revoke_auth_token(caller.auth_token).await.or_fail(messages::SESSION_DEACTIVATE_FAILED)?;
    let secure = state.settings.cookie_secure;
    let mut headers = HeaderMap::new();
    headers.append(header::SET_COOKIE, cookies::clear(cookies::AUTH_TOKEN, secure));
    headers.append(header::SET_COOKIE, cookies::clear(cookies::SESSION_TOKEN, secure));
    Ok((headers, Json(json!({"message": messages::SESSION_DEACTIVATED}))))
}
