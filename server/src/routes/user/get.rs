//! `GET /api/user/get`: the caller's account and config.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::db::users;
use crate::http::auth::CurrentUser;
use crate::services::state::AppState;

/// The user (password masked) and the HOCON config their plugin runs with.
#[utoipa::path(
    get,
    path = "/api/user/get",
    tag = "user", security(("auth_token" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The caller's account", body = crate::openapi::UserWithConfig),
        (status = 401, description = "Not authenticated", body = crate::openapi::Message),
        (status = 404, description = "User or config gone", body = crate::openapi::Message)
    )
)]
pub async fn get(State(state): State<AppState>, caller: CurrentUser) -> Result<Json<Value>, ApiError> {
    let user = super::existing_user(&state, caller.user_id, messages::USER_GET_FAILED).await?;
    let config = users::config_data(&state.db, user.config_id)
        .await
        .or_fail(messages::USER_GET_FAILED)?
        .ok_or(ApiError::Message(StatusCode::NOT_FOUND, messages::CONFIG_NOT_FOUND))?;
    Ok(Json(json!({"message": messages::USER_RETRIEVED, "user": user.to_response(None), "config": config})))
}
