//! Password reset: `POST /api/user/reset-password/request?email=` mails a link; the link opens the
//! form `GET /api/user/reset-password/?token=`, which posts to `POST /api/user/reset-password/change`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Html;
use code4me_shared::domain::{Email, Password, parse_token};
use code4me_shared::redis_keys::{self as keys, PasswordResetValue, key};
use code4me_shared::validation::Fields;
use redis::AsyncCommands;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::contract::error::{ApiError, OrFail};
use crate::contract::messages;
use crate::db::users;
use crate::http::extract::{QueryFields, form_urlencoded_pairs};
use crate::http::pages;
use crate::services::accounts;
use crate::services::state::AppState;

/// Mails a reset link to the account with this address.
#[utoipa::path(post, path = "/api/user/reset-password/request", tag = "user",
    params(("email" = String, Query, min_length = 3, max_length = 50, description = "Address of the account")),
    responses(
        (status = 200, description = "Mail sent", body = crate::openapi::Message),
        (status = 404, description = "No such account", body = crate::openapi::Message),
        (status = 422, description = "Not an e-mail address", body = crate::openapi::ValidationError)
    ))]
pub async fn request(State(state): State<AppState>, QueryFields(query): QueryFields) -> Result<Json<Value>, ApiError> {
    let mut f = Fields::at(&query, vec![json!("query")]);
    let email = f.required("email", Email::parse);
    f.finish()?;
    let Some(email) = email else { return Err(ApiError::Validation(Vec::new())) };
    let user = users::by_email(&state.db, &email)
        .await
        .or_fail(messages::RESET_FAILED)?
        .ok_or(ApiError::Message(StatusCode::NOT_FOUND, messages::USER_NOT_FOUND))?;
    accounts::send_password_reset(&state, user.user_id, &user.email, &user.name).await.or_fail(messages::RESET_FAILED)?;
    Ok(Json(json!({"message": messages::RESET_MAIL_SENT})))
}

async fn reset_request(state: &AppState, token: &str) -> Result<Option<(Uuid, PasswordResetValue)>, ApiError> {
    let Some(token) = parse_token(token) else { return Ok(None) };
    let value = state.tokens.get_json::<PasswordResetValue>(&key(keys::PASSWORD_RESET, token)).await.map_err(ApiError::Unavailable)?;
    Ok(value.map(|v| (token, v)))
}

/// The form for choosing a new password (401 page when the link is invalid or expired).
#[utoipa::path(get, path = "/api/user/reset-password", tag = "user",
    params(("token" = String, Query, description = "Token from the reset mail")),
    responses((status = 200, description = "HTML form", content_type = "text/html"), (status = 401, description = "HTML: invalid link", content_type = "text/html")))]
pub async fn form(State(state): State<AppState>, QueryFields(query): QueryFields) -> Result<Html<String>, ApiError> {
    let token = query.get("token").and_then(Value::as_str).unwrap_or_default().to_owned();
    match reset_request(&state, &token).await? {
        Some(_) => Ok(Html(pages::reset_form(&token, None))),
        None => Err(ApiError::Html(StatusCode::UNAUTHORIZED, pages::reset_link_invalid())),
    }
}

/// Sets the new password from the form; the link is used up and every session of the account is
/// signed out (whoever had the old password loses access).
#[utoipa::path(post, path = "/api/user/reset-password/change", tag = "user",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "token, new_password, confirm_password"),
    responses(
        (status = 200, description = "HTML: changed", content_type = "text/html"),
        (status = 401, description = "HTML: invalid link", content_type = "text/html"),
        (status = 422, description = "HTML: password rejected", content_type = "text/html")
    ))]
pub async fn change(State(state): State<AppState>, body: Bytes) -> Result<Html<String>, ApiError> {
    let fields: std::collections::HashMap<String, String> = form_urlencoded_pairs(&String::from_utf8_lossy(&body)).into_iter().collect();
    let token = fields.get("token").cloned().unwrap_or_default();
    let Some((token_id, request)) = reset_request(&state, &token).await? else {
        return Err(ApiError::Html(StatusCode::UNAUTHORIZED, pages::reset_link_invalid()));
    };
    let new_password = fields.get("new_password").map(String::as_str).unwrap_or_default();
    let rejected = |reason: &str| ApiError::Html(StatusCode::UNPROCESSABLE_ENTITY, pages::reset_form(&token, Some(reason)));
    let password = Password::parse(new_password)
        .map_err(|_| rejected("The password needs 8 to 50 characters with an upper-case letter, a lower-case letter and a digit, and no spaces."))?;
    if fields.get("confirm_password").is_some_and(|c| c != new_password) {
        return Err(rejected("The two passwords differ."));
    }
    let failed = |e: anyhow::Error| {
        tracing::error!(error = format!("{e:#}"), "password reset failed");
        ApiError::Html(StatusCode::INTERNAL_SERVER_ERROR, pages::server_error(messages::RESET_FAILED))
    };
    let hash = state.passwords.hash(password.expose()).await.map_err(failed)?;
    if !users::set_password(&state.db, request.user_id, &hash).await.map_err(|e| failed(e.into()))? {
        return Err(ApiError::Html(StatusCode::NOT_FOUND, pages::server_error(messages::USER_NOT_FOUND)));
    }
    state.redis.clone().del::<_, ()>(key(keys::PASSWORD_RESET, token_id)).await.map_err(|e| failed(e.into()))?;
    state.tokens.revoke_user(request.user_id).await.map_err(failed)?;
    tracing::info!(user.id = %request.user_id, "password reset");
    Ok(Html(pages::reset_succeeded()))
}
