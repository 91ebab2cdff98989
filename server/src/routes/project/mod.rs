//! `/api/project/...`: IDE projects within a session.

pub mod activate;
pub mod create;

use code4me_shared::redis_keys::SessionValue;
use uuid::Uuid;

use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::http::auth::CurrentUser;
use crate::services::state::AppState;

/// The caller's live session (project endpoints need one: 401 otherwise, as upstream).
pub async fn live_session(state: &AppState, caller: &CurrentUser) -> Result<(Uuid, SessionValue), ApiError> {
    state
        .tokens
        .current_session(caller.user_id)
        .await
        .map_err(ApiError::Unavailable)?
        .ok_or(ApiError::Message(axum::http::StatusCode::UNAUTHORIZED, messages::INVALID_SESSION_TOKEN))
}
