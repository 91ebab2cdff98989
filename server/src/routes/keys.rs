//! `POST /api/keys`, `GET /api/keys`, `DELETE /api/keys/{key_id}`: the caller's API keys. Signed-in
//! users only (the `auth_token` cookie or bearer token): a key never manages keys.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::contract::api_keys::{ApiKeyCreated, ApiKeyList, NewApiKeyRequest};
use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::contract::responses::Message;
use crate::http::auth::CurrentUser;
use crate::http::extract::JsonBody;
use crate::services::api_keys;
use crate::services::state::AppState;

/// Creates a key; the response is the only time its text is shown.
#[utoipa::path(post, path = "/api/keys", tag = "keys", security(("auth_token" = []), ("bearer" = [])),
    request_body(content = crate::openapi::NewApiKeyBody),
    responses(
        (status = 201, description = "The new key (shown only now)", body = ApiKeyCreated),
        (status = 401, description = "Not signed in", body = Message),
        (status = 403, description = "Presented an API key: keys cannot manage keys", body = crate::contract::responses::Detail),
        (status = 404, description = "`project_id` is not one of the caller's projects", body = crate::contract::responses::Detail),
        (status = 422, description = "A field is missing or out of range", body = crate::openapi::ValidationError)
    ))]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<ApiKeyCreated>), ApiError> {
    let request = NewApiKeyRequest::parse(&body)?;
    Ok((StatusCode::CREATED, Json(api_keys::create(&state, user.user_id, request).await?)))
}

/// The caller's keys that still work (never the keys themselves).
#[utoipa::path(get, path = "/api/keys", tag = "keys", security(("auth_token" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The keys, newest first", body = ApiKeyList),
        (status = 401, description = "Not signed in", body = Message)
    ))]
pub async fn list(State(state): State<AppState>, user: CurrentUser) -> Result<Json<ApiKeyList>, ApiError> {
    Ok(Json(api_keys::list(&state, user.user_id).await?))
}

/// Revokes a key at once: the next request with it is a 401, on every server.
#[utoipa::path(delete, path = "/api/keys/{key_id}", tag = "keys", security(("auth_token" = []), ("bearer" = [])),
    params(("key_id" = String, Path, description = "The key's id")),
    responses(
        (status = 200, description = "Revoked", body = Message),
        (status = 401, description = "Not signed in", body = Message),
        (status = 404, description = "Not one of the caller's live keys", body = crate::contract::responses::Detail)
    ))]
pub async fn revoke(State(state): State<AppState>, user: CurrentUser, Path(key_id): Path<String>) -> Result<Json<Message>, ApiError> {
    api_keys::revoke(&state, user.user_id, &key_id).await?;
    Ok(Json(Message::new(messages::API_KEY_REVOKED)))
}
