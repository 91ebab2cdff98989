//! `POST /api/user/create`: sign up with e-mail and password, or with a Google ID token.

use axum::extract::State;
use axum::http::StatusCode;

use crate::contract::accounts::SignUp;
use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::contract::responses::UserCreated;
use crate::http::extract::JsonBody;
use crate::http::reply::Reply;
use crate::services::accounts;
use crate::services::state::AppState;

/// Creates the account; answers 201 with the new `user_id` and mails a verification link.
#[utoipa::path(
    post,
    path = "/api/user/create",
    tag = "user",
    request_body(content = crate::openapi::CreateUserBody, description = "The plugin sends all six fields; provider \"google\" with a token signs up with Google"),
    responses(
        (status = 201, description = "User created", body = crate::contract::responses::UserCreated),
        (status = 401, description = "Google token invalid or for another address", body = crate::contract::responses::Message),
        (status = 404, description = "config_id does not exist", body = crate::contract::responses::Message),
        (status = 409, description = "Address taken", body = crate::contract::responses::Message),
        (status = 422, description = "Validation failed", body = crate::openapi::ValidationError)
    )
)]
pub async fn create(State(state): State<AppState>, JsonBody(body): JsonBody) -> Result<(StatusCode, Reply<UserCreated>), ApiError> {
    let user_id = accounts::sign_up(&state, SignUp::parse(&body)?).await?;
    Ok((StatusCode::CREATED, Reply(UserCreated { message: messages::USER_CREATED.to_owned(), user_id })))
}
