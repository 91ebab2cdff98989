//! The plugin's working session: acquiring it (reused while it lives) and logging out.

use axum::http::StatusCode;
use code4me_shared::redis_keys::{self as keys, UserTokenValue, key};
use uuid::Uuid;

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::db;
use crate::services::callers::CurrentUser;
use crate::services::state::AppState;

/// Reuses the user's live session or starts one; its lifetime restarts. Returns its token.
pub async fn acquire(state: &AppState, user_id: Uuid) -> Result<Uuid, ApiError> {
    if db::users::by_id(&state.db, user_id).await.or_fail(messages::SESSION_ACQUIRE_FAILED)?.is_none() {
        return Err(ApiError::Message(StatusCode::NOT_FOUND, messages::USER_NOT_FOUND));
    }
    state.tokens.acquire_session(user_id).await.or_fail(messages::SESSION_ACQUIRE_FAILED)
}

/// Ends the caller's session when they have one (closing its row and releasing its projects; an
/// expired session still gets its row closed and its pointer dropped) and revokes the auth token
/// used.
pub async fn log_out(state: &AppState, caller: CurrentUser) -> Result<(), ApiError> {
    let pointer: Option<UserTokenValue> = state.tokens.get_json(&key(keys::USER_TOKEN, caller.user_id)).await.map_err(ApiError::Unavailable)?;
    if let Some(UserTokenValue { session_token }) = pointer {
        state.tokens.end_session(session_token).await.or_fail(messages::SESSION_DEACTIVATE_FAILED)?;
    }
    state.tokens.revoke_auth_token(caller.auth_token).await.or_fail(messages::SESSION_DEACTIVATE_FAILED)
}
