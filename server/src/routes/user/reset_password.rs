//! Password reset: `POST /api/user/reset-password/request?email=` mails a link; the link opens the
//! form `GET /api/user/reset-password/?token=`, which posts to `POST /api/user/reset-password/change`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Html;
use serde_json::Value;

use crate::contract::accounts::parse_reset_email;
use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::contract::responses::Message;
use crate::http::extract::{QueryFields, form_urlencoded_pairs};
use crate::http::pages;
use crate::http::reply::Reply;
use crate::services::password_reset::{self, ChangeRefused};
use crate::services::state::AppState;

/// Mails a reset link to the account with this address.
#[utoipa::path(post, path = "/api/user/reset-password/request", tag = "user",
    params(("email" = String, Query, min_length = 3, max_length = 50, description = "Address of the account")),
    responses(
        (status = 200, description = "Mail sent", body = crate::contract::responses::Message),
        (status = 404, description = "No such account", body = crate::contract::responses::Message),
        (status = 422, description = "Not an e-mail address", body = crate::openapi::ValidationError)
    ))]
pub async fn request(State(state): State<AppState>, QueryFields(query): QueryFields) -> Result<Reply<Message>, ApiError> {
    password_reset::request(&state, &parse_reset_email(&query)?).await?;
    Ok(Reply(Message::new(messages::RESET_MAIL_SENT)))
}

/// The form for choosing a new password (401 page when the link is invalid or expired).
#[utoipa::path(get, path = "/api/user/reset-password", tag = "user",
    params(("token" = String, Query, description = "Token from the reset mail")),
    responses((status = 200, description = "HTML form", content_type = "text/html"), (status = 401, description = "HTML: invalid link", content_type = "text/html")))]
pub async fn form(State(state): State<AppState>, QueryFields(query): QueryFields) -> Result<Html<String>, ApiError> {
    let token = query.get("token").and_then(Value::as_str).unwrap_or_default().to_owned();
    match password_reset::pending(&state, &token).await? {
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
    let new_password = fields.get("new_password").map(String::as_str).unwrap_or_default();
    match password_reset::change(&state, &token, new_password, fields.get("confirm_password").map(String::as_str)).await {
        Ok(()) => Ok(Html(pages::reset_succeeded())),
        Err(ChangeRefused::InvalidLink) => Err(ApiError::Html(StatusCode::UNAUTHORIZED, pages::reset_link_invalid())),
        Err(ChangeRefused::Rejected(reason)) => Err(ApiError::Html(StatusCode::UNPROCESSABLE_ENTITY, pages::reset_form(&token, Some(reason)))),
        Err(ChangeRefused::UserGone) => Err(ApiError::Html(StatusCode::NOT_FOUND, pages::server_error(messages::USER_NOT_FOUND))),
        Err(ChangeRefused::Failed) => Err(ApiError::Html(StatusCode::INTERNAL_SERVER_ERROR, pages::server_error(messages::RESET_FAILED))),
        Err(ChangeRefused::Unchecked(error)) => Err(error),
    }
}
