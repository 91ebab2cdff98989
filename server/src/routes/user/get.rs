//! `GET /api/user/get`: the caller's account and config.

use axum::extract::State;

use crate::contract::error::ApiError;
use crate::http::auth::CurrentUser;
use crate::http::reply::SerializedReply;
use crate::services::accounts;
use crate::services::state::AppState;

/// The user (password masked) and the HOCON config their plugin runs with.
#[utoipa::path(
    get,
    path = "/api/user/get",
    tag = "user", security(("auth_token" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The caller's account", body = crate::contract::responses::UserWithConfig),
        (status = 401, description = "Not authenticated", body = crate::contract::responses::Message),
        (status = 404, description = "User or config gone", body = crate::contract::responses::Message)
    )
)]
pub async fn get(State(state): State<AppState>, caller: CurrentUser) -> Result<SerializedReply, ApiError> {
    Ok(SerializedReply(accounts::profile(&state, caller.user_id).await?))
}
