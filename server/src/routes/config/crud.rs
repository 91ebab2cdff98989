//! Listing, reading, creating, replacing and deleting config rows.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::contract::configs::{ConfigDeletedResponse, ConfigListResponse, ConfigRow, parse_config_text};
use crate::contract::error::ApiError;
use crate::http::auth::AdminCaller;
use crate::http::extract::JsonBody;
use crate::services::configs;
use crate::services::state::AppState;

/// Every config row.
#[utoipa::path(get, path = "/api/config", tag = "config", security(("auth_token" = ["admin"]), ("bearer" = ["admin"])),
    responses(
        (status = 200, description = "Every config row", body = ConfigListResponse),
        (status = 401, description = "Not signed in", body = crate::contract::responses::Detail),
        (status = 403, description = "Not an admin", body = crate::contract::responses::Detail)
    ))]
pub async fn list(State(state): State<AppState>, _admin: AdminCaller) -> Result<Json<ConfigListResponse>, ApiError> {
    Ok(Json(configs::list(&state).await?))
}

/// One config row.
#[utoipa::path(get, path = "/api/config/{config_id}", tag = "config", security(("auth_token" = ["admin"]), ("bearer" = ["admin"])),
    params(("config_id" = i64, Path, description = "The config")),
    responses(
        (status = 200, description = "The config row", body = ConfigRow),
        (status = 400, description = "`config_id` is not a 64-bit integer", body = crate::contract::responses::Detail),
        (status = 404, description = "No such config", body = crate::contract::responses::Detail)
    ))]
pub async fn get(State(state): State<AppState>, _admin: AdminCaller, Path(config_id): Path<i64>) -> Result<Json<ConfigRow>, ApiError> {
    Ok(Json(configs::get(&state, config_id).await?))
}

/// Stores a new config row after validating it.
#[utoipa::path(post, path = "/api/config", tag = "config", security(("auth_token" = ["admin"]), ("bearer" = ["admin"])),
    request_body(content = crate::openapi::ConfigBody),
    responses(
        (status = 201, description = "The new config row", body = ConfigRow),
        (status = 400, description = "Not valid HOCON; over 256 KiB or nested over 64 levels; an `include`, a `${...}` substitution or a `+=` (never resolved); or a block the server reads is malformed", body = crate::contract::responses::Detail),
        (status = 422, description = "`config_data` missing or of the wrong type", body = crate::openapi::ValidationError)
    ))]
pub async fn create(State(state): State<AppState>, _admin: AdminCaller, JsonBody(body): JsonBody) -> Result<(StatusCode, Json<ConfigRow>), ApiError> {
    Ok((StatusCode::CREATED, Json(configs::create(&state, parse_config_text(&body)?).await?)))
}

/// Replaces a config row after validating the new text; users on it get it within 30 s.
#[utoipa::path(put, path = "/api/config/{config_id}", tag = "config", security(("auth_token" = ["admin"]), ("bearer" = ["admin"])),
    params(("config_id" = i64, Path, description = "The config")),
    request_body(content = crate::openapi::ConfigBody),
    responses(
        (status = 200, description = "The updated config row", body = ConfigRow),
        (status = 400, description = "Not valid HOCON; over 256 KiB or nested over 64 levels; an `include`, a `${...}` substitution or a `+=` (never resolved); a block the server reads is malformed; or `config_id` is not a 64-bit integer", body = crate::contract::responses::Detail),
        (status = 404, description = "No such config", body = crate::contract::responses::Detail)
    ))]
pub async fn update(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(config_id): Path<i64>,
    JsonBody(body): JsonBody,
) -> Result<Json<ConfigRow>, ApiError> {
    Ok(Json(configs::update(&state, config_id, parse_config_text(&body)?).await?))
}

/// Deletes a config row nobody uses: one that users or studies still refer to is a 409 (upstream
/// answers 500), and a missing one a 404 (upstream: 500).
#[utoipa::path(delete, path = "/api/config/{config_id}", tag = "config", security(("auth_token" = ["admin"]), ("bearer" = ["admin"])),
    params(("config_id" = i64, Path, description = "The config")),
    responses(
        (status = 200, description = "Deleted", body = ConfigDeletedResponse),
        (status = 400, description = "`config_id` is not a 64-bit integer", body = crate::contract::responses::Detail),
        (status = 404, description = "No such config", body = crate::contract::responses::Detail),
        (status = 409, description = "Users or studies still use it", body = crate::contract::responses::Detail)
    ))]
pub async fn delete(State(state): State<AppState>, _admin: AdminCaller, Path(config_id): Path<i64>) -> Result<Json<ConfigDeletedResponse>, ApiError> {
    Ok(Json(configs::delete(&state, config_id).await?))
}
