//! The reference tables a config points into: languages, and models with the workers that have
//! them loaded (from the workers' `worker_models:<id>` announcements, so nothing here goes online).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Query, State};
use code4me_shared::redis_keys::{WORKER_MODELS, WorkerModelsValue};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::contract::error::ApiError;
use crate::db::models::{self, ModelRow};
use crate::http::auth::AdminCaller;
use crate::services::state::AppState;

/// `GET /api/config/languages`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LanguagesResponse {
    /// Every language row, by id.
    pub languages: Vec<ProgrammingLanguage>,
    /// Language name → id, as the plugin's config uses it.
    pub mapping: BTreeMap<String, i64>,
}

/// A `programming_language` row.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgrammingLanguage {
    /// The language.
    pub language_id: i64,
    /// Its name, e.g. `Python`.
    pub language_name: String,
}

/// `programming_language` rows and the name → id mapping the plugin's config uses.
#[utoipa::path(get, path = "/api/config/languages", tag = "config", security(("auth_token" = ["admin"]), ("bearer" = ["admin"])),
    responses(
        (status = 200, description = "The languages", body = LanguagesResponse),
        (status = 403, description = "Not an admin", body = crate::contract::responses::Detail)
    ))]
pub async fn languages(State(state): State<AppState>, _admin: AdminCaller) -> Result<Json<LanguagesResponse>, ApiError> {
    let rows = models::languages(&state.db).await.map_err(ApiError::database)?;
    let languages: Vec<ProgrammingLanguage> =
        rows.into_iter().map(|row| ProgrammingLanguage { language_id: row.language_id, language_name: row.language_name }).collect();
    let mapping = languages.iter().map(|l| (l.language_name.clone(), l.language_id)).collect();
    Ok(Json(LanguagesResponse { languages, mapping }))
}

/// `GET /api/config/models`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelsResponse {
    /// Every model row, by id.
    pub models: Vec<ModelAvailability>,
}

/// A model row with the live workers that serve it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelAvailability {
    /// The model.
    pub model_id: i64,
    /// Its name, e.g. `HuggingFaceTB/SmolLM2-135M-Instruct`.
    pub model_name: String,
    /// Whether it is instruction-tuned.
    pub is_instruction_tuned: bool,
    /// Whether some live worker has it loaded.
    pub available: bool,
    /// The live workers that have it loaded, by worker id.
    pub loaded_by: Vec<String>,
    /// Worker id → why that worker cannot serve it.
    pub unavailable: BTreeMap<String, String>,
}

/// Every model row, with the workers serving it now and why the others cannot.
#[utoipa::path(get, path = "/api/config/models", tag = "config", security(("auth_token" = ["admin"]), ("bearer" = ["admin"])),
    responses(
        (status = 200, description = "The models", body = ModelsResponse),
        (status = 403, description = "Not an admin", body = crate::contract::responses::Detail)
    ))]
pub async fn models(State(state): State<AppState>, _admin: AdminCaller) -> Result<Json<ModelsResponse>, ApiError> {
    let rows = model_rows(&state).await?;
    let workers = announcements(&state).await?;
    Ok(Json(ModelsResponse { models: rows.into_iter().map(|row| ModelAvailability::new(row, &workers)).collect() }))
}

/// `?name=`.
#[derive(Deserialize)]
pub struct ValidateParams {
    name: Option<String>,
}

/// `GET /api/config/models/validate`: a known model's row and workers, or why it is unknown.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ModelValidation {
    /// A model row has this name.
    Known(KnownModel),
    /// No model row has this name.
    Unknown(UnknownModel),
}

/// A model name that a model row has.
#[derive(Debug, Serialize, ToSchema)]
pub struct KnownModel {
    /// The name asked about.
    pub name: String,
    /// Always `true`.
    pub exists: bool,
    /// The row with its workers.
    #[serde(flatten)]
    pub model: ModelAvailability,
}

/// A model name that no model row has.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnknownModel {
    /// The name asked about.
    pub name: String,
    /// Always `false`.
    pub exists: bool,
    /// Always `false`.
    pub available: bool,
    /// `no model row has this name`.
    pub error: &'static str,
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
    let Some(name) = params.name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()) else {
        return Err(ApiError::Validation(vec![code4me_shared::validation::Issue::new(
            "missing",
            vec![json!("query"), json!("name")],
            "Field required",
            Value::Null,
            None,
        )]));
    };
    let rows = model_rows(&state).await?;
    let Some(row) = rows.into_iter().find(|row| row.model_name == name) else {
        return Ok(Json(ModelValidation::Unknown(UnknownModel { name, exists: false, available: false, error: "no model row has this name" })));
    };
    let workers = announcements(&state).await?;
    Ok(Json(ModelValidation::Known(KnownModel { name, exists: true, model: ModelAvailability::new(row, &workers) })))
}

async fn model_rows(state: &AppState) -> Result<Vec<ModelRow>, ApiError> {
    models::all(&state.db).await.map_err(ApiError::database)
}

impl ModelAvailability {
    fn new(ModelRow { model_id, model_name, is_instruction_tuned }: ModelRow, workers: &[WorkerModelsValue]) -> Self {
        let loaded_by: Vec<String> = workers.iter().filter(|w| w.loaded.contains(&model_id)).map(|w| w.worker_id.clone()).collect();
        let unavailable = workers.iter().filter_map(|w| w.unavailable.get(&model_id).map(|reason| (w.worker_id.clone(), reason.clone()))).collect();
        Self { model_id, model_name, is_instruction_tuned, available: !loaded_by.is_empty(), loaded_by, unavailable }
    }
}

/// The live workers' announcements (each key expires 30 s after its worker stops refreshing it).
async fn announcements(state: &AppState) -> Result<Vec<WorkerModelsValue>, ApiError> {
    let mut redis = state.redis.clone();
    let mut keys: Vec<String> = Vec::new();
    let mut cursor = 0_u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{WORKER_MODELS}*"))
            .arg("COUNT")
            .arg(500)
            .query_async(&mut redis)
            .await
            .map_err(|e| ApiError::Unavailable(e.into()))?;
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let values: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query_async(&mut redis).await.map_err(|e| ApiError::Unavailable(e.into()))?;
    let mut workers: Vec<WorkerModelsValue> = values.into_iter().flatten().filter_map(|raw| serde_json::from_str(&raw).ok()).collect();
    workers.sort_by(|a, b| a.worker_id.cmp(&b.worker_id));
    Ok(workers)
}
