//! E-mail verification: `GET /api/user/verify/check`, `POST /api/user/verify/resend`, and the link
//! target `GET /api/user/verify/?token=` (an HTML page).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Html;
use code4me_shared::domain::parse_token;
use code4me_shared::redis_keys::{self as keys, EmailVerificationValue, key};
use code4me_shared::validation::Fields;
use redis::AsyncCommands;
use serde_json::{Value, json};

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::db::users;
use crate::http::auth::CurrentUser;
use crate::http::extract::QueryFields;
use crate::http::pages;
use crate::services::accounts;
use crate::services::state::AppState;

/// Whether the caller's address is verified.
#[utoipa::path(get, path = "/api/user/verify/check", tag = "user", security(("auth_token" = []), ("bearer" = [])), responses(
    (status = 200, description = "`user_is_verified` tells", body = crate::openapi::VerificationStatus),
    (status = 401, description = "Not authenticated", body = crate::openapi::Message),
    (status = 404, description = "User gone", body = crate::openapi::Message)
))]
pub async fn check(State(state): State<AppState>, caller: CurrentUser) -> Result<Json<Value>, ApiError> {
    let user = super::existing_user(&state, caller.user_id, messages::VERIFICATION_STATUS_FAILED).await?;
    Ok(Json(json!({"message": messages::VERIFICATION_STATUS, "user_is_verified": user.verified.unwrap_or(false)})))
}

/// Mails a new verification link.
#[utoipa::path(post, path = "/api/user/verify/resend", tag = "user", security(("auth_token" = []), ("bearer" = [])), responses(
    (status = 200, description = "Sent", body = crate::openapi::Message),
    (status = 401, description = "Not authenticated", body = crate::openapi::Message),
    (status = 404, description = "User gone", body = crate::openapi::Message)
))]
pub async fn resend(State(state): State<AppState>, caller: CurrentUser) -> Result<Json<Value>, ApiError> {
    let user = super::existing_user(&state, caller.user_id, messages::VERIFICATION_SEND_FAILED).await?;
    accounts::send_verification(&state, user.user_id, &user.email, &user.name).await.or_fail(messages::VERIFICATION_SEND_FAILED)?;
    Ok(Json(json!({"message": messages::VERIFICATION_SENT})))
}

/// The link from the mail: marks the address verified and shows a page. The token is single-use
/// (upstream keeps it valid until it expires).
#[utoipa::path(get, path = "/api/user/verify", tag = "user",
    params(("token" = String, Query, description = "Token from the verification mail")),
    responses(
        (status = 200, description = "HTML: verified", content_type = "text/html"),
        (status = 401, description = "Invalid or expired token", body = crate::openapi::Message),
        (status = 404, description = "User gone", body = crate::openapi::Message),
        (status = 422, description = "`token` missing", body = crate::openapi::ValidationError)
    ))]
pub async fn confirm(State(state): State<AppState>, QueryFields(query): QueryFields) -> Result<Html<String>, ApiError> {
    let mut f = Fields::at(&query, vec![json!("query")]);
    let token = f.required("token", |s| Ok(s.to_owned()));
    f.finish()?;
    let invalid = ApiError::Message(StatusCode::UNAUTHORIZED, messages::INVALID_VERIFICATION_TOKEN);
    let Some(token) = token.and_then(|t| parse_token(&t)) else { return Err(invalid) };
    let redis_key = key(keys::EMAIL_VERIFICATION, token);
    let value: Option<EmailVerificationValue> = state.tokens.get_json(&redis_key).await.map_err(ApiError::Unavailable)?;
    let Some(EmailVerificationValue { user_id }) = value else { return Err(invalid) };
    if !users::set_verified(&state.db, user_id).await.or_fail(messages::VERIFY_FAILED)? {
        return Err(ApiError::Message(StatusCode::NOT_FOUND, messages::USER_NOT_FOUND));
    }
    state.redis.clone().del::<_, ()>(&redis_key).await.map_err(|e| ApiError::Unavailable(e.into()))?;
    tracing::info!(user.id = %user_id, "e-mail verified");
    Ok(Html(pages::verification_succeeded()))
}
