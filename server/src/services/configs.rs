//! Config rows (the HOCON documents users and studies point at), validated before they are
//! stored; users on a changed config get it within 30 s ([`crate::services::user_config`]).

use axum::http::StatusCode;

use crate::contract::configs::{ConfigDeletedResponse, ConfigListResponse, ConfigRow};
use crate::contract::error::ApiError;
use crate::contract::messages;
use crate::db::configs::{self, ConfigUse, Deleted};
use crate::db::users;
use crate::services::state::AppState;
use crate::services::user_config;

fn not_found() -> ApiError {
    ApiError::Detail(StatusCode::NOT_FOUND, messages::CONFIG_ROW_NOT_FOUND.into())
}

/// Checks a config text with [`user_config::validate`] (400 otherwise, with the reason: too large
/// or deep, an include or substitution, or the parser's message).
async fn validated(text: String) -> Result<String, ApiError> {
    user_config::validate(text.clone()).await.map_err(|error| ApiError::Detail(StatusCode::BAD_REQUEST, messages::invalid_config(error)))?;
    Ok(text)
}

/// Every config row.
pub async fn list(state: &AppState) -> Result<ConfigListResponse, ApiError> {
    let rows = configs::all(&state.db).await.map_err(ApiError::database)?;
    Ok(ConfigListResponse { configs: rows.iter().map(|row| ConfigRow::new(row.config_id, &row.config_data)).collect() })
}

/// One config row.
pub async fn get(state: &AppState, config_id: i64) -> Result<ConfigRow, ApiError> {
    let data = users::config_data(&state.db, config_id).await.map_err(ApiError::database)?;
    Ok(ConfigRow::new(config_id, &data.ok_or_else(not_found)?))
}

/// Stores a new config row after validating it.
pub async fn create(state: &AppState, text: String) -> Result<ConfigRow, ApiError> {
    let text = validated(text).await?;
    let config_id = configs::insert(&state.db, &text).await.map_err(ApiError::database)?;
    Ok(ConfigRow::new(config_id, &text))
}

/// Replaces a config row after validating the new text.
pub async fn update(state: &AppState, config_id: i64, text: String) -> Result<ConfigRow, ApiError> {
    let text = validated(text).await?;
    let updated = configs::update(&state.db, config_id, &text).await.map_err(ApiError::database)?;
    state.profiles.changed();
    if !updated {
        return Err(not_found());
    }
    Ok(ConfigRow::new(config_id, &text))
}

/// Deletes a config row nobody uses: one that users or studies still refer to is a 409 (upstream
/// answers 500), and a missing one a 404 (upstream: 500).
pub async fn delete(state: &AppState, config_id: i64) -> Result<ConfigDeletedResponse, ApiError> {
    let ConfigUse { users, studies } = configs::uses(&state.db, config_id).await.map_err(ApiError::database)?;
    if users + studies > 0 {
        return Err(ApiError::Detail(StatusCode::CONFLICT, messages::config_in_use(config_id, users, studies)));
    }
    match configs::delete(&state.db, config_id).await {
        Ok(Deleted::NotFound) => Err(not_found()),
        Ok(Deleted::Deleted) => Ok(ConfigDeletedResponse { deleted: true, config_id }),
        // Someone took it into use between the check and the delete.
        Ok(Deleted::InUse) => Err(ApiError::Detail(StatusCode::CONFLICT, messages::config_taken_into_use(config_id))),
        Err(error) => Err(ApiError::database(error)),
    }
}
