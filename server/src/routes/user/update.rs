//! `PUT /api/user/update`: change name, e-mail, password or preferences.

use axum::extract::State;
use axum::http::StatusCode;

use crate::contract::accounts::UserUpdate;
use crate::contract::error::ApiError;
use crate::contract::responses::UserUpdated;
use crate::http::auth::CurrentUser;
use crate::http::extract::JsonBody;
use crate::http::reply::Reply;
use crate::services::accounts;
use crate::services::state::AppState;

/// Applies the changes and returns the updated user (201, as upstream).
#[utoipa::path(
    put,
    path = "/api/user/update",
    tag = "user", security(("auth_token" = []), ("bearer" = [])),
    request_body(content = crate::openapi::UpdateUserBody),
    responses(
        (status = 201, description = "Updated", body = crate::contract::responses::UserUpdated),
        (status = 401, description = "Not authenticated, or previous_password wrong", body = crate::contract::responses::Message),
        (status = 404, description = "User gone", body = crate::contract::responses::Message),
        (status = 409, description = "New e-mail taken", body = crate::contract::responses::Message),
        (status = 422, description = "Validation failed", body = crate::openapi::ValidationError)
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: CurrentUser,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Reply<UserUpdated>), ApiError> {
    Ok((StatusCode::CREATED, Reply(accounts::update(&state, caller.user_id, UserUpdate::parse(&body)?).await?)))
}
