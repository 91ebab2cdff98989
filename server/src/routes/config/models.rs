//! `GET /api/config/languages`, `GET /api/config/models`, `GET /api/config/models/validate`: the
//! reference tables a config points into ([`crate::services::models`]).

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;

use crate::contract::configs::{LanguagesResponse, ModelValidation, ModelsResponse, parse_model_name};
use crate::contract::error::ApiError;
use crate::http::auth::AdminCaller;
use crate::services::models;
use crate::services::state::AppState;

/// `programming_language` rows and the name → id mapping the plugin's config uses.
#[utoipa::path(get, path = "/api/config/languages", tag = "config", security(("auth_token" = ["admin"]), ("bearer" = ["admin"])),
    responses(
        (status = 200, description = "The languages", body = LanguagesResponse),
        (status = 403, description = "Not an admin", body = crate::contract::responses::Detail)
    ))]
pub async fn languages(State(state): State<AppState>, _admin: AdminCaller) -> Result<Json<LanguagesResponse>, ApiError> {
    Ok(Json(models::languages(&state).await?))
}

/// Every model row, with the workers serving it now and why the others cannot.
#[utoipa::path(get, path = "/api/config/models", tag = "config", security(("auth_token" = ["admin"]), ("bearer" = ["admin"])),
    responses(
        (status = 200, description = "The models", body = ModelsResponse),
        (status = 403, description = "Not an admin", body = crate::contract::responses::Detail)
    ))]
pub async fn models(State(state): State<AppState>, _admin: AdminCaller) -> Result<Json<ModelsResponse>, ApiError> {
    Ok(Json(models::all(&state).await?))
}

/// `?name=`.
#[derive(Deserialize)]
pub struct ValidateParams {
    name: Option<String>,
}

/// Whether a model can be used, answered offline (upstream asks huggingface.co): `exists` when a
/// model row has this name, `available` when some live worker has its weights loaded.
#[utoipa::path(get, path = "/api/config/models/validate", tag = "config", security(("auth_token" = ["admin"]), ("bearer" = ["admin"])),
    params(("name" = String, Query, pattern = "\\S", description = "A model name, e.g. `HuggingFaceTB/SmolLM2-135M-Instruct`")),
    responses(
        (status = 200, description = "Whether the model exists and is served", body = ModelValidation),
        (status = 400, description = "A parameter given twice", body = crate::contract::responses::Detail),
        (status = 422, description = "`name` missing", body = crate::openapi::ValidationError)
    ))]
pub async fn validate(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Query(params): Query<ValidateParams>,
) -> Result<Json<ModelValidation>, ApiError> {
    Ok(Json(models::validate(&state, parse_model_name(params.name)?).await?))
}
