//! The reference tables a config points into: languages, and models with the workers that have
//! them loaded (from the workers' `worker_models:<id>` announcements, so nothing here goes online).

use code4me_shared::redis_keys::WorkerModelsValue;

use crate::contract::configs::{
    KnownModel, LanguagesResponse, ModelAvailability, ModelValidation, ModelsResponse, ProgrammingLanguage, UnknownModel,
};
use crate::contract::error::ApiError;
use crate::db::models::{self, ModelRow};
use crate::services::model_directory;
use crate::services::state::AppState;

/// `programming_language` rows and the name → id mapping the plugin's config uses.
pub async fn languages(state: &AppState) -> Result<LanguagesResponse, ApiError> {
    let rows = models::languages(&state.db).await.map_err(ApiError::database)?;
    let languages: Vec<ProgrammingLanguage> =
        rows.into_iter().map(|row| ProgrammingLanguage { language_id: row.language_id, language_name: row.language_name }).collect();
    let mapping = languages.iter().map(|l| (l.language_name.clone(), l.language_id)).collect();
    Ok(LanguagesResponse { languages, mapping })
}

/// Every model row, with the workers serving it now and why the others cannot.
pub async fn all(state: &AppState) -> Result<ModelsResponse, ApiError> {
    let rows = models::all(&state.db).await.map_err(ApiError::database)?;
    let workers = announcements(state).await?;
    Ok(ModelsResponse { models: rows.into_iter().map(|row| availability(row, &workers)).collect() })
}

/// Whether a model can be used, answered offline (upstream asks huggingface.co): `exists` when a
/// model row has this name, `available` when some live worker has its weights loaded.
pub async fn validate(state: &AppState, name: String) -> Result<ModelValidation, ApiError> {
    let rows = models::all(&state.db).await.map_err(ApiError::database)?;
    let Some(row) = rows.into_iter().find(|row| row.model_name == name) else {
        return Ok(ModelValidation::Unknown(UnknownModel { name, exists: false, available: false, error: "no model row has this name" }));
    };
    let workers = announcements(state).await?;
    Ok(ModelValidation::Known(KnownModel { name, exists: true, model: availability(row, &workers) }))
}

/// A model row with the live workers that serve it.
fn availability(ModelRow { model_id, model_name, is_instruction_tuned }: ModelRow, workers: &[WorkerModelsValue]) -> ModelAvailability {
    let loaded_by: Vec<String> = workers.iter().filter(|w| w.loaded.contains(&model_id)).map(|w| w.worker_id.clone()).collect();
    let unavailable = workers.iter().filter_map(|w| w.unavailable.get(&model_id).map(|reason| (w.worker_id.clone(), reason.clone()))).collect();
    ModelAvailability { model_id, model_name, is_instruction_tuned, available: !loaded_by.is_empty(), loaded_by, unavailable }
}

/// The live workers' announcements (each key expires 30 s after its worker stops refreshing it,
/// and a worker that stops gracefully deletes its own), by worker id.
pub async fn announcements(state: &AppState) -> Result<Vec<WorkerModelsValue>, ApiError> {
    let mut workers = model_directory::announcements(&mut state.redis.clone()).await.map_err(|e| ApiError::Unavailable(e.into()))?;
    workers.sort_by(|a, b| a.worker_id.cmp(&b.worker_id));
    Ok(workers)
}
