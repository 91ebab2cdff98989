//! Listing, reading, creating, replacing and deleting config rows.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use code4me_shared::validation::{Fields, Rejection};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::db::{configs, users};
use crate::http::auth::AdminCaller;
use crate::http::extract::JsonBody;
use crate::services::state::AppState;
use crate::services::user_config;

fn not_found() -> ApiError {
    ApiError::Detail(StatusCode::NOT_FOUND, messages::CONFIG_ROW_NOT_FOUND.into())
}

/// A config row.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigRow {
    /// The config.
    pub config_id: i64,
    /// Its text parsed when it is JSON (an object, as the website stores it), otherwise the raw
    /// text (HOCON), as upstream does.
    pub config_data: Value,
}

impl ConfigRow {
    fn new(config_id: i64, config_data: &str) -> Self {
        let config_data = serde_json::from_str(config_data).unwrap_or_else(|_| Value::String(config_data.to_owned()));
        Self { config_id, config_data }
    }
}

/// `GET /api/config`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigListResponse {
    /// Every config row, by id.
    pub configs: Vec<ConfigRow>,
}

/// `DELETE /api/config/{config_id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigDeletedResponse {
    /// Always `true`.
    pub deleted: bool,
    /// The deleted config.
    pub config_id: i64,
}

/// The text to store from a `{"config_data": object | string}` body: an object is stored as JSON
/// (which is HOCON), a string as it is. Either must pass [`user_config::validate`] (400 otherwise,
/// with the reason: too large or deep, an include or substitution, or the parser's message).
async fn config_text(body: &Value) -> Result<String, ApiError> {
    let mut fields = Fields::body(body);
    let text = match fields.raw("config_data") {
        Some(Value::Object(object)) => Some(serde_json::to_string(object).expect("a JSON object serialises")),
        Some(Value::String(text)) => Some(text.clone()),
        Some(other) => {
            let other = other.clone();
            fields.reject("config_data", Rejection::value_error("Input should be an object or a HOCON string", "wrong type"), other);
            None
        }
        None => fields.required("config_data", |s| Ok(s.to_owned())),
    };
    fields.finish()?;
    let text = text.expect("present when no issue was found");
    user_config::validate(text.clone()).await.map_err(|error| ApiError::Detail(StatusCode::BAD_REQUEST, messages::invalid_config(error)))?;
    Ok(text)
}

/// Every config row.
#[utoipa::path(get, path = "/api/config", tag = "config", security(("auth_token" = ["admin"]), ("bearer" = ["admin"])),
    responses(
        (status = 200, description = "Every config row", body = ConfigListResponse),
        (status = 401, description = "Not signed in", body = crate::contract::responses::Detail),
        (status = 403, description = "Not an admin", body = crate::contract::responses::Detail)
    ))]
pub async fn list(State(state): State<AppState>, _admin: AdminCaller) -> Result<Json<ConfigListResponse>, ApiError> {
    let rows = configs::all(&state.db).await.map_err(ApiError::database)?;
    Ok(Json(ConfigListResponse { configs: rows.iter().map(|row| ConfigRow::new(row.config_id, &row.config_data)).collect() }))
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
    let data = users::config_data(&state.db, config_id).await.map_err(ApiError::database)?;
    Ok(Json(ConfigRow::new(config_id, &data.ok_or_else(not_found)?)))
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
    let text = config_text(&body).await?;
    let config_id = configs::insert(&state.db, &text).await.map_err(ApiError::database)?;
    Ok((StatusCode::CREATED, Json(ConfigRow::new(config_id, &text))))
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
    let text = config_text(&body).await?;
    if !configs::update(&state.db, config_id, &text).await.map_err(ApiError::database)? {
        return Err(not_found());
    }
    Ok(Json(ConfigRow::new(config_id, &text)))
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
    let configs::ConfigUse { users, studies } = configs::uses(&state.db, config_id).await.map_err(ApiError::database)?;
    if users + studies > 0 {
        return Err(ApiError::Detail(StatusCode::CONFLICT, messages::config_in_use(config_id, users, studies)));
    }
    match configs::delete(&state.db, config_id).await {
        Ok(configs::Deleted::NotFound) => Err(not_found()),
        Ok(configs::Deleted::Deleted) => Ok(Json(ConfigDeletedResponse { deleted: true, config_id })),
        // Someone took it into use between the check and the delete.
        Ok(configs::Deleted::InUse) => Err(ApiError::Detail(StatusCode::CONFLICT, messages::config_taken_into_use(config_id))),
        Err(error) => Err(ApiError::database(error)),
    }
}
